"""WechatPayClient against the sandbox's WeChat Pay v3 gateway (every call, real signing both ways)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from provider_contract_rig import Rig, close_rig, make_settings, notify_url, open_rig

from pos_app.config import Settings
from pos_app.domain.china_time import CHINA_TZ
from pos_app.domain.states import PaymentState, RefundState
from pos_app.engine.providers.base import DefiniteFailure, OrderNotFound, OutcomeUnknownError, TradeResult


async def _native(rig: Rig, otn: str, fen: int = 1230) -> str:
    order = await rig.wechat.create_native(
        out_trade_no=otn,
        amount_fen=fen,
        subject="Demo 商品",
        notify_url=notify_url(rig, "wechatpay"),
        expires_at=rig.now() + timedelta(minutes=10),
    )
    assert order.out_trade_no == otn
    assert order.code_url.startswith("weixin://wxpay/bizpayurl?pr=")
    return order.code_url


async def _pay(rig: Rig, otn: str, code: str, fen: int = 500) -> TradeResult:
    return await rig.wechat.micropay(
        out_trade_no=otn, amount_fen=fen, subject="Demo", auth_code=code, store_id="S00001", device_id="T001"
    )


async def _native_flow(rig: Rig, otn: str) -> None:
    qr = await _native(rig, otn)
    assert (await rig.wechat.query(otn)).state is PaymentState.AWAITING_SCAN
    assert (await rig.pay_qr(qr))["ok"]
    result = await rig.wechat.query(otn)
    assert (result.state, result.amount_fen) == (PaymentState.PAID, 1230)
    assert result.transaction_id and result.paid_at is not None
    await rig.step(1)
    assert rig.refused == []
    paid = [n for n in rig.received if n.event_type == "TRANSACTION.SUCCESS" and n.out_trade_no == otn]
    assert len(paid) == 1 and paid[0].trade is not None
    assert (paid[0].trade.state, paid[0].trade.amount_fen) == (PaymentState.PAID, 1230)


async def test_native_prepay_scan_pay_notify_query(rig: Rig) -> None:
    await _native_flow(rig, "S00001T001W0001")


async def test_native_prepay_replay_with_same_number(rig: Rig) -> None:
    first = await _native(rig, "S00001T001W0002")
    assert await _native(rig, "S00001T001W0002") == first  # identical parameters: the same order (spec §4)


async def test_query_by_transaction_id_and_unknown_order(rig: Rig) -> None:
    result = await _pay(rig, "S00001T001W0003", await rig.auth_code("wechat"))
    assert result.transaction_id
    by_id = await rig.wechat.query_by_transaction_id(result.transaction_id)
    assert (by_id.out_trade_no, by_id.state) == ("S00001T001W0003", PaymentState.PAID)
    with pytest.raises(OrderNotFound):
        await rig.wechat.query("S00001T001W9999")


async def test_codepay_password_free(rig: Rig) -> None:
    result = await _pay(rig, "S00001T001W0004", await rig.auth_code("wechat"))
    assert (result.state, result.amount_fen) == (PaymentState.PAID, 500)


async def test_codepay_user_paying_then_paid(rig: Rig) -> None:
    code = await rig.auth_code("wechat", password_seconds=20)
    assert (await _pay(rig, "S00001T001W0005", code)).state is PaymentState.USER_PAYING
    assert (await rig.wechat.query("S00001T001W0005")).state is PaymentState.USER_PAYING
    await rig.step(21)
    assert (await rig.wechat.query("S00001T001W0005")).state is PaymentState.PAID


async def test_codepay_user_paying_then_reverse(rig: Rig) -> None:
    code = await rig.auth_code("wechat", password_seconds=600)
    assert (await _pay(rig, "S00001T001W0006", code)).state is PaymentState.USER_PAYING
    with pytest.raises(DefiniteFailure) as info:  # codepay orders are reversed, not closed
        await rig.wechat.close("S00001T001W0006")
    assert info.value.code == "CLOSE_NEEDS_REVERSE"
    early = await rig.wechat.reverse("S00001T001W0006")  # USERPAYING: "call again later"
    assert (early.done, early.retry) == (False, True)
    rig.clock.advance(16)  # not sooner than ~15 s after the pay call (spec §4)
    result = await rig.wechat.reverse("S00001T001W0006")
    assert result.done
    assert (await rig.wechat.query("S00001T001W0006")).state is PaymentState.REVERSED


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"balance_fen": 100}, "Insufficient balance — ask the customer to switch card or pay another way"),
        ({"expired": True}, "Payment code expired — ask the customer to refresh it"),
    ],
)
async def test_codepay_definite_failures(rig: Rig, options: dict[str, Any], reason: str) -> None:
    code = await rig.auth_code("wechat", **options)
    with pytest.raises(DefiniteFailure) as info:
        await _pay(rig, "S00001T001W0007", code)
    assert info.value.reason == reason
    assert code[-4:] not in str(info.value)


async def test_system_error_is_unknown(rig: Rig) -> None:
    await rig.fault(kind="server_error", gateway="wechat", operation="codepay", status=500)
    with pytest.raises(OutcomeUnknownError):
        await _pay(rig, "S00001T001W0008", await rig.auth_code("wechat"))


async def test_lost_reply_on_codepay_is_unknown_then_query_settles(rig: Rig) -> None:
    await rig.fault(kind="reply_lost", gateway="wechat", operation="codepay", times=1)
    with pytest.raises(OutcomeUnknownError):
        await _pay(rig, "S00001T001W0009", await rig.auth_code("wechat"))
    assert (await rig.wechat.query("S00001T001W0009")).state is PaymentState.PAID


async def test_lost_replies_on_query_are_retried(rig: Rig) -> None:
    await _pay(rig, "S00001T001W0010", await rig.auth_code("wechat"))
    await rig.fault(kind="reply_lost", gateway="wechat", operation="query", times=2)
    assert (await rig.wechat.query("S00001T001W0010")).state is PaymentState.PAID


async def test_close_unpaid_and_already_paid(rig: Rig) -> None:
    await _native(rig, "S00001T001W0011")
    assert (await rig.wechat.close("S00001T001W0011")).state is PaymentState.CLOSED
    assert (await rig.wechat.query("S00001T001W0011")).state is PaymentState.CLOSED
    assert (await rig.wechat.close("S00001T001W0011")).state is PaymentState.CLOSED  # re-entrant
    qr = await _native(rig, "S00001T001W0012")
    await rig.pay_qr(qr)
    closed = await rig.wechat.close("S00001T001W0012")
    assert (closed.state, closed.amount_fen) == (PaymentState.PAID, 1230)
    assert closed.transaction_id


async def test_refund_replay_query_and_notification(rig: Rig) -> None:
    await _pay(rig, "S00001T001W0013", await rig.auth_code("wechat"), fen=1000)
    args: dict[str, Any] = {
        "out_trade_no": "S00001T001W0013",
        "out_refund_no": "RW1",
        "amount_fen": 300,
        "total_fen": 1000,
        "reason": "return",
        "notify_url": notify_url(rig, "wechatpay"),
    }
    first = await rig.wechat.refund(**args)
    assert first.state is RefundState.PROCESSING  # the sandbox settles a refund REFUND_SETTLE_S later
    assert (first.amount_fen, first.out_refund_no) == (300, "RW1") and first.refund_id
    replay = await rig.wechat.refund(**args)
    assert replay.refund_id == first.refund_id  # the same refund, not a second one
    await rig.step(600)
    await rig.step(1)
    queried = await rig.wechat.refund_query(out_trade_no="S00001T001W0013", out_refund_no="RW1")
    assert (queried.state, queried.amount_fen) == (RefundState.SUCCESS, 300)
    refunds = [n for n in rig.received if n.kind == "refund"]
    assert [n.refund.out_refund_no for n in refunds if n.refund] == ["RW1"]
    with pytest.raises(OrderNotFound):
        await rig.wechat.refund_query(out_trade_no="S00001T001W0013", out_refund_no="RW404")


async def test_refund_over_total_is_refused(rig: Rig) -> None:
    await _pay(rig, "S00001T001W0014", await rig.auth_code("wechat"), fen=1000)
    with pytest.raises(DefiniteFailure):
        await rig.wechat.refund(
            out_trade_no="S00001T001W0014",
            out_refund_no="RW2",
            amount_fen=1001,
            total_fen=1000,
            reason="",
            notify_url=None,
        )


@pytest.mark.parametrize("compressed", [True, False])
async def test_trade_bill(rig: Rig, compressed: bool) -> None:
    await _pay(rig, "S00001T001W0015", await rig.auth_code("wechat"))
    day = rig.now().astimezone(CHINA_TZ).date()
    await rig.step(86400)
    data = await rig.wechat.download_bill(day, compressed=compressed)
    text = data.decode("utf-8")
    assert text.startswith("交易时间,")
    assert "`S00001T001W0015" in text


# ------------------------------------------------------------------ platform certificates


async def test_platform_certificate_mode_with_rotation(provider_settings: Settings) -> None:
    settings = make_settings(
        provider_settings,
        wechat={"verify_mode": "platform_cert", "platform_public_key_id": ""},
        sandbox={"wechat_mode": "platform_cert"},
    )
    rig = await open_rig(settings)
    try:
        assert rig.wechat.verifier.public_key_id is None
        await _native_flow(rig, "S00001T001W0016")
        first = rig.wechat.verifier.certificate_serials
        assert len(first) == 1
        answer = await rig.control.post("/sandbox/platform-certs")
        assert answer.status_code == 201
        # The next answer is signed by a certificate the client has never seen: it re-downloads.
        assert (await rig.wechat.query("S00001T001W0016")).state is PaymentState.PAID
        assert len(rig.wechat.verifier.certificate_serials) == 2
        assert first < rig.wechat.verifier.certificate_serials
        # Rotate again between the prepay and the payment: the callback names an unknown serial,
        # is answered 5xx, the client re-downloads meanwhile, and the re-sent callback is accepted.
        qr = await _native(rig, "S00001T001W0018")
        assert (await rig.control.post("/sandbox/platform-certs")).status_code == 201
        await rig.pay_qr(qr)
        await rig.step(1)
        assert [status for _, status in rig.refused] == [503]
        for _ in range(100):
            if len(rig.wechat.verifier.certificate_serials) == 3:
                break
            await asyncio.sleep(0.01)
        await rig.step(16)
        assert [n.out_trade_no for n in rig.received if n.out_trade_no == "S00001T001W0018"] == ["S00001T001W0018"]
    finally:
        await close_rig(rig)


async def test_combined_mode_during_migration(provider_settings: Settings) -> None:
    settings = make_settings(
        provider_settings, wechat={"verify_mode": "platform_cert"}, sandbox={"wechat_mode": "platform_cert"}
    )
    rig = await open_rig(settings)
    try:
        assert rig.wechat.verifier.public_key_id == settings.wechatpay.platform_public_key_id
        await _native_flow(rig, "S00001T001W0017")  # answers by public key, notifications by either
        await rig.wechat.refresh_certificates()
        assert rig.wechat.verifier.certificate_serials
    finally:
        await close_rig(rig)
