"""Every kind of gateway answer → result or error, and the retry policy, over httpx.MockTransport.

The transport plays the gateway from the specs (signed 2xx answers, error bodies, dropped
connections); the clients under test are the real ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from provider_test_helpers import FixedClock, rsa_sign, wechat_headers

from pos_app.domain.states import PaymentState
from pos_app.engine.providers.alipay.client import AlipayClient
from pos_app.engine.providers.base import (
    ConfigurationError,
    DefiniteFailure,
    GatewayError,
    OrderNotFound,
    OutcomeUnknownError,
    ResponseVerificationError,
)
from pos_app.engine.providers.common import RetryPolicy
from pos_app.engine.providers.wechatpay.client import WechatPayClient
from pos_app.engine.providers.wechatpay.verifier import WechatPayVerifier

APIV3 = b"0123456789abcdefABCDEF0123456789"
PUB_ID = "PUB_KEY_ID_0119000000000000000000000000000001"
CODE = "134567890123456789"
Handler = Callable[[httpx.Request], httpx.Response]


def _wx(rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock, handler: Handler) -> WechatPayClient:
    verifier = WechatPayVerifier(
        apiv3_key=APIV3, public_key_id=PUB_ID, public_key=rsa_keys[1].public_key(), clock=clock
    )
    return WechatPayClient(
        mchid="1900000109",
        appid="wxapp",
        merchant_serial_no="ABC",
        merchant_private_key=rsa_keys[0],
        apiv3_key=APIV3,
        verifier=verifier,
        base_url="http://wechat.test",
        transport=httpx.MockTransport(handler),
        clock=clock,
        retry=RetryPolicy.instant(3),
    )


def _wx_answer(
    rsa_keys: list[rsa.RSAPrivateKey],
    clock: FixedClock,
    status: int,
    body: dict[str, Any] | None,
    *,
    signed: bool = True,
) -> httpx.Response:
    raw = json.dumps(body).encode() if body is not None else b""
    headers = wechat_headers(rsa_keys[1], PUB_ID, raw, timestamp=int(clock().timestamp())) if signed else {}
    return httpx.Response(status, content=raw, headers=headers)


async def _micropay_wx(client: WechatPayClient) -> Any:
    return await client.micropay(
        out_trade_no="S1", amount_fen=100, subject="x", auth_code=CODE, store_id="S00001", device_id="T001"
    )


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            200,
            {"trade_state": "SUCCESS", "out_trade_no": "S1", "transaction_id": "42", "amount": {"total": 100}},
            PaymentState.PAID,
        ),
        (202, {"trade_state": "USERPAYING"}, PaymentState.USER_PAYING),
        (200, {"trade_state": "USERPAYING"}, PaymentState.USER_PAYING),
        (400, {"code": "USERPAYING", "message": "需要用户输入支付密码"}, PaymentState.USER_PAYING),
        (403, {"code": "AUTHCODEEXPIRE", "message": "..."}, "Payment code expired — ask the customer to refresh it"),
        (
            403,
            {"code": "NOTENOUGH", "message": "..."},
            "Insufficient balance — ask the customer to switch card or pay another way",
        ),
        (403, {"code": "SOMETHING_NEW", "message": "..."}, DefiniteFailure),
        (500, {"code": "SYSTEM_ERROR", "message": "系统繁忙"}, OutcomeUnknownError),
        (400, {"code": "SYSTEM_ERROR", "message": "系统繁忙"}, OutcomeUnknownError),
        (403, {"code": "BANK_ERROR", "message": "..."}, OutcomeUnknownError),
        (503, None, OutcomeUnknownError),
        (429, {"code": "RATELIMIT_EXCEEDED", "message": "..."}, OutcomeUnknownError),
        (401, {"code": "SIGN_ERROR", "message": "签名错误"}, ConfigurationError),
        (400, {"code": "APPID_MCHID_NOT_MATCH", "message": "..."}, ConfigurationError),
    ],
)
async def test_wechat_codepay_answers(
    rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock, status: int, body: Any, expected: Any
) -> None:
    client = _wx(rsa_keys, clock, lambda _r: _wx_answer(rsa_keys, clock, status, body, signed=status < 300))
    try:
        if isinstance(expected, PaymentState):
            assert (await _micropay_wx(client)).state is expected
        elif isinstance(expected, str):
            with pytest.raises(DefiniteFailure) as info:
                await _micropay_wx(client)
            assert info.value.reason == expected
            assert CODE not in str(info.value) and CODE[-4:] not in str(info.value)
        else:
            with pytest.raises(expected):
                await _micropay_wx(client)
    finally:
        await client.aclose()


async def test_wechat_unverifiable_success_is_unknown(rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock) -> None:
    body = {"trade_state": "SUCCESS", "out_trade_no": "S1"}

    def forged(_r: httpx.Request) -> httpx.Response:
        raw = json.dumps(body).encode()
        return httpx.Response(
            200, content=raw, headers=wechat_headers(rsa_keys[3], PUB_ID, raw, timestamp=int(clock().timestamp()))
        )

    def stale(_r: httpx.Request) -> httpx.Response:
        raw = json.dumps(body).encode()
        ts = int((clock() - timedelta(minutes=10)).timestamp())
        return httpx.Response(200, content=raw, headers=wechat_headers(rsa_keys[1], PUB_ID, raw, timestamp=ts))

    for handler in (forged, stale, lambda _r: _wx_answer(rsa_keys, clock, 200, body, signed=False)):
        client = _wx(rsa_keys, clock, handler)
        with pytest.raises(ResponseVerificationError):
            await client.query("S1")
        with pytest.raises(OutcomeUnknownError):  # the same thing, seen by the service
            await client.query("S1")
        await client.aclose()


async def test_wechat_close_already_paid_becomes_paid(rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock) -> None:
    def gateway(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/close"):
            return _wx_answer(rsa_keys, clock, 400, {"code": "ORDERPAID", "message": "订单已支付"}, signed=False)
        return _wx_answer(
            rsa_keys,
            clock,
            200,
            {"trade_state": "SUCCESS", "out_trade_no": "S1", "transaction_id": "4200", "amount": {"total": 5}},
        )

    client = _wx(rsa_keys, clock, gateway)
    result = await client.close("S1")
    assert (result.state, result.transaction_id, result.amount_fen) == (PaymentState.PAID, "4200", 5)
    await client.aclose()


async def test_wechat_query_not_found_and_mismatch(rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock) -> None:
    client = _wx(
        rsa_keys, clock, lambda _r: _wx_answer(rsa_keys, clock, 404, {"code": "ORDER_NOT_EXIST"}, signed=False)
    )
    with pytest.raises(OrderNotFound):
        await client.query("S1")
    await client.aclose()
    client = _wx(
        rsa_keys,
        clock,
        lambda _r: _wx_answer(rsa_keys, clock, 200, {"trade_state": "SUCCESS", "out_trade_no": "OTHER"}),
    )
    with pytest.raises(ResponseVerificationError):
        await client.query("S1")
    await client.aclose()


async def test_retries_idempotent_calls_only(rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock) -> None:
    calls: list[str] = []

    def down(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        raise httpx.ConnectError("connection refused", request=request)

    client = _wx(rsa_keys, clock, down)
    with pytest.raises(OutcomeUnknownError) as info:
        await client.query("S1")
    assert info.value.code == "NETWORK" and len(calls) == 3
    calls.clear()
    with pytest.raises(OutcomeUnknownError):
        await _micropay_wx(client)
    assert len(calls) == 1  # a payment-code charge is never replayed
    await client.aclose()


async def test_retry_then_success_and_timeout(rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock) -> None:
    calls: list[int] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) < 3:
            raise httpx.ReadTimeout("slow", request=request)
        return _wx_answer(rsa_keys, clock, 200, {"trade_state": "NOTPAY", "out_trade_no": "S1"})

    client = _wx(rsa_keys, clock, flaky)
    assert (await client.query("S1")).state is PaymentState.AWAITING_SCAN
    assert len(calls) == 3
    await client.aclose()

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    client = _wx(rsa_keys, clock, slow)
    with pytest.raises(OutcomeUnknownError) as info:
        await client.refund(
            out_trade_no="S1", out_refund_no="R1", amount_fen=1, total_fen=5, reason="", notify_url=None
        )
    assert info.value.code == "TIMEOUT"
    await client.aclose()


def test_retry_policy_backoff_is_capped() -> None:
    policy = RetryPolicy(attempts=5, initial_s=0.5, max_s=2.0, jitter_s=0.0)
    retrying = policy.retrying()
    waits = []
    for n in range(1, 6):
        state: Any = type("S", (), {"attempt_number": n, "outcome": None, "idle_for": 0})()
        waits.append(retrying.wait(state))
    assert waits == [0.5, 1.0, 2.0, 2.0, 2.0]


# ------------------------------------------------------------------ Alipay


def _ali(rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock, handler: Handler) -> AlipayClient:
    return AlipayClient(
        app_id="2021000000000001",
        app_private_key=rsa_keys[0],
        alipay_public_key=rsa_keys[1].public_key(),
        gateway="http://alipay.test/gateway.do",
        transport=httpx.MockTransport(handler),
        clock=clock,
        retry=RetryPolicy.instant(3),
    )


def _ali_answer(rsa_keys: list[rsa.RSAPrivateKey], method: str, inner: dict[str, Any]) -> httpx.Response:
    text = json.dumps(inner, ensure_ascii=False).replace("/", "\\/")
    sign = rsa_sign(rsa_keys[1], text.encode())
    return httpx.Response(200, text=f'{{"{method.replace(".", "_")}_response":{text},"sign":"{sign}"}}')


@pytest.mark.parametrize(
    ("inner", "expected"),
    [
        (
            {
                "code": "10000",
                "msg": "Success",
                "trade_no": "2026",
                "out_trade_no": "S1",
                "total_amount": "1.00",
                "gmt_payment": "2026-11-22 20:00:05",
            },
            PaymentState.PAID,
        ),
        ({"code": "10003", "msg": "order success pay inprocess", "out_trade_no": "S1"}, PaymentState.USER_PAYING),
        (
            {"code": "20000", "msg": "Service Currently Unavailable", "sub_code": "isp.unknow-error"},
            OutcomeUnknownError,
        ),
        ({"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.SYSTEM_ERROR"}, OutcomeUnknownError),
        (
            {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.BUYER_BALANCE_NOT_ENOUGH"},
            "Insufficient balance — ask the customer to switch card or pay another way",
        ),
        (
            {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.PAYMENT_AUTH_CODE_INVALID"},
            "Payment code expired or invalid — ask the customer to refresh it",
        ),
        ({"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature"}, ConfigurationError),
    ],
)
async def test_alipay_pay_answers(
    rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock, inner: dict[str, Any], expected: Any
) -> None:
    seen: list[dict[str, str]] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        seen.append(dict(httpx.QueryParams(request.content.decode())))
        return _ali_answer(rsa_keys, "alipay.trade.pay", inner)

    client = _ali(rsa_keys, clock, gateway)
    try:
        if isinstance(expected, PaymentState):
            result = await client.micropay(
                out_trade_no="S1", amount_fen=100, subject="x", auth_code=CODE, store_id="S00001", device_id="T001"
            )
            assert result.state is expected
        else:
            with pytest.raises(DefiniteFailure if isinstance(expected, str) else expected) as info:
                await client.micropay(
                    out_trade_no="S1", amount_fen=100, subject="x", auth_code=CODE, store_id="S00001", device_id="T001"
                )
            if isinstance(expected, str):
                assert isinstance(info.value, GatewayError) and info.value.reason == expected
    finally:
        await client.aclose()
    biz = json.loads(seen[0]["biz_content"])
    assert (biz["scene"], biz["total_amount"], seen[0]["sign_type"]) == ("bar_code", "1.00", "RSA2")


async def test_alipay_query_not_exist_and_cancel(rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock) -> None:
    def gateway(request: httpx.Request) -> httpx.Response:
        method = httpx.QueryParams(request.content.decode())["method"]
        if method == "alipay.trade.query":
            return _ali_answer(
                rsa_keys,
                method,
                {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST", "sub_msg": "交易不存在"},
            )
        return _ali_answer(
            rsa_keys,
            method,
            {"code": "10000", "msg": "Success", "out_trade_no": "S1", "retry_flag": "N", "action": "refund"},
        )

    client = _ali(rsa_keys, clock, gateway)
    with pytest.raises(OrderNotFound):
        await client.query("S1")
    result = await client.reverse("S1")
    assert (result.done, result.retry, result.money_returned) == (True, False, True)
    await client.aclose()


async def test_alipay_unsigned_or_garbled_answer_is_unknown(
    rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock
) -> None:
    for answer in (
        httpx.Response(200, text='{"alipay_trade_query_response":{"code":"10000"}}'),
        httpx.Response(200, text="<html>proxy error</html>"),
        httpx.Response(502, text="bad gateway"),
    ):
        client = _ali(rsa_keys, clock, lambda _r, a=answer: a)
        with pytest.raises(OutcomeUnknownError):
            await client.query("S1")
        await client.aclose()


@pytest.mark.parametrize(("compressed", "tamper"), [(True, False), (True, True), (False, False), (False, True)])
async def test_wechat_bill_sha1_checked_on_uncompressed_bytes(
    rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock, compressed: bool, tamper: bool
) -> None:
    import gzip
    import hashlib

    csv = "交易时间,公众账号ID\n`2026-11-22 10:00:00,`wxapp\n".encode()
    seen: list[str] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        assert request.headers["Authorization"].startswith("WECHATPAY2-SHA256-RSA2048 ")
        if request.url.path == "/v3/bill/tradebill":
            digest = hashlib.sha1(csv + (b"x" if tamper else b"")).hexdigest()
            url = "http://wechat.test/v3/billdownload/file?token=abc" + ("&tartype=gzip" if compressed else "")
            return _wx_answer(rsa_keys, clock, 200, {"hash_type": "SHA1", "hash_value": digest, "download_url": url})
        return httpx.Response(200, content=gzip.compress(csv) if compressed else csv)  # unsigned, as WeChat does

    client = _wx(rsa_keys, clock, gateway)
    try:
        if tamper:
            with pytest.raises(ResponseVerificationError, match="SHA1"):
                await client.download_bill(clock().date(), compressed=compressed)
        else:
            assert await client.download_bill(clock().date(), compressed=compressed) == csv
    finally:
        await client.aclose()
    assert seen[0] == "/v3/bill/tradebill?bill_date=2026-11-22&bill_type=ALL" + ("&tar_type=GZIP" if compressed else "")
