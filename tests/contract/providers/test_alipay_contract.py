"""AlipayClient against the sandbox's Alipay gateway (every call, real signing both ways)."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
from provider_contract_rig import Rig, notify_url

from pos_app.domain.china_time import CHINA_TZ
from pos_app.domain.states import PaymentState, RefundState
from pos_app.engine.providers.base import DefiniteFailure, OrderNotFound, OutcomeUnknownError


async def _native(rig: Rig, otn: str, fen: int = 1230) -> str:
    order = await rig.alipay.create_native(
        out_trade_no=otn,
        amount_fen=fen,
        subject="Demo 商品",
        notify_url=notify_url(rig, "alipay"),
        expires_at=rig.now() + timedelta(minutes=10),
    )
    assert order.out_trade_no == otn
    assert order.code_url.startswith("https://qr.alipay.com/")
    return order.code_url


async def _pay(rig: Rig, otn: str, code: str, fen: int = 500):  # type: ignore[no-untyped-def]
    return await rig.alipay.micropay(
        out_trade_no=otn, amount_fen=fen, subject="Demo", auth_code=code, store_id="S00001", device_id="T001"
    )


async def test_precreate_scan_pay_notify_query(rig: Rig) -> None:
    qr = await _native(rig, "S00001T001A0001")
    with pytest.raises(OrderNotFound):  # never scanned: no Alipay trade yet (spec §3.1)
        await rig.alipay.query("S00001T001A0001")
    outcome = await rig.pay_qr(qr)
    assert outcome["ok"], outcome
    result = await rig.alipay.query("S00001T001A0001")
    assert (result.state, result.amount_fen) == (PaymentState.PAID, 1230)
    assert result.transaction_id
    await rig.step(1)
    paid = [n for n in rig.received if n.trade is not None and n.trade.state is PaymentState.PAID]
    assert rig.refused == []
    assert [n.out_trade_no for n in paid] == ["S00001T001A0001"]
    assert paid[0].trade is not None and paid[0].trade.amount_fen == 1230


async def test_precreate_replay_is_the_same_order(rig: Rig) -> None:
    first = await _native(rig, "S00001T001A0002")
    assert await _native(rig, "S00001T001A0002") == first


async def test_barcode_pay_password_free(rig: Rig) -> None:
    result = await _pay(rig, "S00001T001A0003", await rig.auth_code("alipay"))
    assert (result.state, result.amount_fen) == (PaymentState.PAID, 500)
    assert result.transaction_id and result.paid_at is not None


async def test_barcode_pay_user_paying_then_paid(rig: Rig) -> None:
    code = await rig.auth_code("alipay", password_seconds=20)
    assert (await _pay(rig, "S00001T001A0004", code)).state is PaymentState.USER_PAYING
    pending = await rig.alipay.query("S00001T001A0004")
    assert pending.state is PaymentState.AWAITING_SCAN  # WAIT_BUYER_PAY; the service reads it as still paying
    await rig.step(21)
    assert (await rig.alipay.query("S00001T001A0004")).state is PaymentState.PAID


async def test_barcode_pay_user_paying_then_cancel(rig: Rig) -> None:
    code = await rig.auth_code("alipay", password_seconds=600)
    assert (await _pay(rig, "S00001T001A0005", code)).state is PaymentState.USER_PAYING
    reversed_ = await rig.alipay.reverse("S00001T001A0005")
    assert reversed_.done and not reversed_.money_returned
    assert (await rig.alipay.query("S00001T001A0005")).state is PaymentState.CLOSED


async def test_cancel_paid_trade_returns_money(rig: Rig) -> None:
    await _pay(rig, "S00001T001A0006", await rig.auth_code("alipay"))
    reversed_ = await rig.alipay.reverse("S00001T001A0006")
    assert reversed_.done and reversed_.money_returned


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"balance_fen": 100}, "Insufficient balance — ask the customer to switch card or pay another way"),
        ({"expired": True}, "Payment code expired or invalid — ask the customer to refresh it"),
    ],
)
async def test_barcode_pay_definite_failures(rig: Rig, options: dict[str, object], reason: str) -> None:
    code = await rig.auth_code("alipay", **options)
    with pytest.raises(DefiniteFailure) as info:
        await _pay(rig, "S00001T001A0007", code)
    assert info.value.reason == reason
    assert code[-4:] not in str(info.value)


async def test_gateway_system_error_is_unknown(rig: Rig) -> None:
    await rig.fault(kind="server_error", gateway="alipay", operation="alipay.trade.pay", status=500)
    with pytest.raises(OutcomeUnknownError):
        await _pay(rig, "S00001T001A0008", await rig.auth_code("alipay"))


async def test_lost_reply_on_query_is_retried(rig: Rig) -> None:
    await _pay(rig, "S00001T001A0009", await rig.auth_code("alipay"))
    await rig.fault(kind="reply_lost", gateway="alipay", operation="alipay.trade.query", times=2)
    assert (await rig.alipay.query("S00001T001A0009")).state is PaymentState.PAID


async def test_lost_reply_on_pay_is_unknown_not_replayed(rig: Rig) -> None:
    await rig.fault(kind="reply_lost", gateway="alipay", operation="alipay.trade.pay", times=1)
    with pytest.raises(OutcomeUnknownError):
        await _pay(rig, "S00001T001A0010", await rig.auth_code("alipay"))
    # The charge happened although the answer was lost: the query settles it.
    assert (await rig.alipay.query("S00001T001A0010")).state is PaymentState.PAID


async def test_close_scanned_unpaid_and_never_scanned_and_paid(rig: Rig) -> None:
    qr = await _native(rig, "S00001T001A0011")
    await rig.pay_qr(qr, after_s=600)  # scanned, customer still confirming: WAIT_BUYER_PAY
    assert (await rig.alipay.close("S00001T001A0011")).state is PaymentState.CLOSED
    await _native(rig, "S00001T001A0012")
    assert (await rig.alipay.close("S00001T001A0012")).state is PaymentState.CLOSED  # via cancel
    qr = await _native(rig, "S00001T001A0013")
    await rig.pay_qr(qr)
    closed = await rig.alipay.close("S00001T001A0013")
    assert closed.state is PaymentState.PAID and closed.amount_fen == 1230


async def test_refunds_partial_replayed_and_queried(rig: Rig) -> None:
    await _pay(rig, "S00001T001A0014", await rig.auth_code("alipay"), fen=1000)
    first = await rig.alipay.refund(
        out_trade_no="S00001T001A0014",
        out_refund_no="R1",
        amount_fen=300,
        total_fen=1000,
        reason="return",
        notify_url=None,
    )
    assert (first.state, first.amount_fen, first.refunded_total_fen) == (RefundState.SUCCESS, 300, 300)
    replay = await rig.alipay.refund(
        out_trade_no="S00001T001A0014",
        out_refund_no="R1",
        amount_fen=300,
        total_fen=1000,
        reason="return",
        notify_url=None,
    )
    assert replay.refunded_total_fen == 300  # the same refund, not a second one
    queried = await rig.alipay.refund_query(out_trade_no="S00001T001A0014", out_refund_no="R1")
    assert (queried.state, queried.amount_fen) == (RefundState.SUCCESS, 300)
    with pytest.raises(OrderNotFound):
        await rig.alipay.refund_query(out_trade_no="S00001T001A0014", out_refund_no="R9")
    with pytest.raises(DefiniteFailure):
        await rig.alipay.refund(
            out_trade_no="S00001T001A0014",
            out_refund_no="R2",
            amount_fen=800,
            total_fen=1000,
            reason="",
            notify_url=None,
        )


async def test_bill_download_is_a_zip_with_the_trade(rig: Rig) -> None:
    await _pay(rig, "S00001T001A0015", await rig.auth_code("alipay"))
    day = rig.now().astimezone(CHINA_TZ).date()
    await rig.step(86400)
    data = await rig.alipay.download_bill(day)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        text = "".join(archive.read(name).decode("gbk") for name in archive.namelist())
    assert "S00001T001A0015" in text
