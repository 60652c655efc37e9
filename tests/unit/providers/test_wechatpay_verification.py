"""WeChat Pay response/callback verification, platform certificates, combined mode, notifications."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from provider_test_helpers import (
    FixedClock,
    certificate_list,
    platform_certificate,
    wechat_headers,
    wechat_notification,
)

from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState, RefundState
from pos_app.engine.providers.base import NotificationInvalid
from pos_app.engine.providers.wechatpay.client import WechatPayClient
from pos_app.engine.providers.wechatpay.signing import SignatureRejected, verify_signed_message
from pos_app.engine.providers.wechatpay.verifier import CertificateError, WechatPayVerifier

APIV3 = b"0123456789abcdefABCDEF0123456789"
PUB_ID = "PUB_KEY_ID_0119000000000000000000000000000001"
BODY = b'{"code_url":"weixin:\\/\\/wxpay\\/bizpayurl?pr=abc","note":"\xe4\xb8\xad"}'


def _ts(clock: FixedClock) -> int:
    return int(clock().timestamp())


def test_valid_response_verifies(rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock) -> None:
    headers = wechat_headers(rsa_keys[1], PUB_ID, BODY, timestamp=_ts(clock))
    signed = verify_signed_message(headers, BODY, {PUB_ID: rsa_keys[1].public_key()}, clock=clock)
    assert signed.serial == PUB_ID


def test_headers_are_case_insensitive_and_not_mutated(rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock) -> None:
    headers = {k.lower(): v for k, v in wechat_headers(rsa_keys[1], PUB_ID, BODY, timestamp=_ts(clock)).items()}
    before = dict(headers)
    verify_signed_message(headers, BODY, {PUB_ID: rsa_keys[1].public_key()}, clock=clock)
    assert headers == before


@pytest.mark.parametrize("index", [0, 10, len(BODY) - 1])
def test_any_changed_byte_fails(rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock, index: int) -> None:
    headers = wechat_headers(rsa_keys[1], PUB_ID, BODY, timestamp=_ts(clock))
    changed = bytearray(BODY)
    changed[index] ^= 0x01
    with pytest.raises(SignatureRejected):
        verify_signed_message(headers, bytes(changed), {PUB_ID: rsa_keys[1].public_key()}, clock=clock)


@pytest.mark.parametrize(("offset", "ok"), [(299, True), (-299, True), (300, False), (-300, False), (3600, False)])
def test_timestamp_window(rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock, offset: int, ok: bool) -> None:
    headers = wechat_headers(rsa_keys[1], PUB_ID, BODY, timestamp=_ts(clock) + offset)
    keys = {PUB_ID: rsa_keys[1].public_key()}
    if ok:
        verify_signed_message(headers, BODY, keys, clock=clock)
    else:
        with pytest.raises(SignatureRejected, match="300 s"):
            verify_signed_message(headers, BODY, keys, clock=clock)


def test_signtest_probe_refused(rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock) -> None:
    headers = wechat_headers(rsa_keys[1], PUB_ID, BODY, timestamp=_ts(clock))
    headers["Wechatpay-Signature"] = "WECHATPAY/SIGNTEST/" + headers["Wechatpay-Signature"]
    with pytest.raises(SignatureRejected, match="SIGNTEST"):
        verify_signed_message(headers, BODY, {PUB_ID: rsa_keys[1].public_key()}, clock=clock)


def test_serial_must_name_the_public_key(rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock) -> None:
    headers = wechat_headers(rsa_keys[1], "PUB_KEY_ID_OTHER", BODY, timestamp=_ts(clock))
    with pytest.raises(SignatureRejected) as info:
        verify_signed_message(headers, BODY, {PUB_ID: rsa_keys[1].public_key()}, clock=clock)
    assert info.value.unknown_serial


def test_wrong_key_and_wrong_type_and_missing_headers(rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock) -> None:
    keys = {PUB_ID: rsa_keys[1].public_key()}
    forged = wechat_headers(rsa_keys[3], PUB_ID, BODY, timestamp=_ts(clock))
    with pytest.raises(SignatureRejected):
        verify_signed_message(forged, BODY, keys, clock=clock)
    typed = wechat_headers(rsa_keys[1], PUB_ID, BODY, timestamp=_ts(clock))
    typed["Wechatpay-Signature-Type"] = "WECHATPAY2-SM2-WITH-SM3"
    with pytest.raises(SignatureRejected, match="type"):
        verify_signed_message(typed, BODY, keys, clock=clock)
    partial = wechat_headers(rsa_keys[1], PUB_ID, BODY, timestamp=_ts(clock))
    del partial["Wechatpay-Nonce"]
    with pytest.raises(SignatureRejected, match="missing"):
        verify_signed_message(partial, BODY, keys, clock=clock)


# ------------------------------------------------------------------ platform certificates


def _cert_verifier(clock: FixedClock, **kwargs: Any) -> WechatPayVerifier:
    return WechatPayVerifier(apiv3_key=APIV3, use_platform_certificates=True, clock=clock, **kwargs)


def test_certificate_list_bootstraps_and_selects_by_serial(
    rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock
) -> None:
    old, new = rsa_keys[1], rsa_keys[2]
    certs = [(0x1A2B, platform_certificate(old, 0x1A2B, clock())), (0x3C4D, platform_certificate(new, 0x3C4D, clock()))]
    body = certificate_list(APIV3, certs)
    verifier = _cert_verifier(clock)
    serials = verifier.install_certificates(wechat_headers(new, "3C4D", body, timestamp=_ts(clock)), body)
    assert serials == {"1A2B", "3C4D"}
    for key, serial in ((old, "1A2B"), (new, "3C4D")):
        verifier.verify(wechat_headers(key, serial, BODY, timestamp=_ts(clock)), BODY)
    with pytest.raises(SignatureRejected):  # the right key under the wrong serial
        verifier.verify(wechat_headers(old, "3C4D", BODY, timestamp=_ts(clock)), BODY)


def test_certificate_list_with_wrong_apiv3_key_fails(rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock) -> None:
    body = certificate_list(b"X" * 32, [(0x1A2B, platform_certificate(rsa_keys[1], 0x1A2B, clock()))])
    verifier = _cert_verifier(clock)
    with pytest.raises(CertificateError, match="APIv3"):
        verifier.install_certificates(wechat_headers(rsa_keys[1], "1A2B", body, timestamp=_ts(clock)), body)
    assert verifier.certificate_serials == frozenset()


def test_certificate_list_signed_by_a_stranger_fails(rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock) -> None:
    body = certificate_list(APIV3, [(0x1A2B, platform_certificate(rsa_keys[1], 0x1A2B, clock()))])
    verifier = _cert_verifier(clock)
    with pytest.raises(CertificateError, match="verification"):
        verifier.install_certificates(wechat_headers(rsa_keys[3], "1A2B", body, timestamp=_ts(clock)), body)
    assert verifier.certificate_serials == frozenset()


def test_expired_certificate_is_ignored(rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock) -> None:
    expired = platform_certificate(rsa_keys[2], 0x99, clock() - timedelta(days=400), days=10)
    body = certificate_list(APIV3, [(0x1A2B, platform_certificate(rsa_keys[1], 0x1A2B, clock())), (0x99, expired)])
    verifier = _cert_verifier(clock)
    assert verifier.install_certificates(wechat_headers(rsa_keys[1], "1A2B", body, timestamp=_ts(clock)), body) == {
        "1A2B"
    }


def test_combined_verifier_accepts_public_key_and_certificates(
    rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock
) -> None:
    verifier = _cert_verifier(clock, public_key_id=PUB_ID, public_key=rsa_keys[2].public_key())
    body = certificate_list(APIV3, [(0x1A2B, platform_certificate(rsa_keys[1], 0x1A2B, clock()))])
    verifier.install_certificates(wechat_headers(rsa_keys[1], "1A2B", body, timestamp=_ts(clock)), body)
    verifier.verify(wechat_headers(rsa_keys[1], "1A2B", BODY, timestamp=_ts(clock)), BODY)
    verifier.verify(wechat_headers(rsa_keys[2], PUB_ID, BODY, timestamp=_ts(clock)), BODY)
    with pytest.raises(SignatureRejected):
        verifier.verify(wechat_headers(rsa_keys[1], PUB_ID, BODY, timestamp=_ts(clock)), BODY)


# ------------------------------------------------------------------ notifications


@pytest.fixture
def wx_client(rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock) -> WechatPayClient:
    verifier = WechatPayVerifier(
        apiv3_key=APIV3, public_key_id=PUB_ID, public_key=rsa_keys[1].public_key(), clock=clock
    )
    return WechatPayClient(
        mchid="1900000109",
        appid="wxd930ea5d5a258f4f",
        merchant_serial_no="ABC",
        merchant_private_key=rsa_keys[0],
        apiv3_key=APIV3,
        verifier=verifier,
        base_url="http://wechat.invalid",
        clock=clock,
    )


TRANSACTION = {
    "appid": "wxd930ea5d5a258f4f",
    "mchid": "1900000109",
    "out_trade_no": "S00001T0012611220001",
    "transaction_id": "4200000000202611220000000001",
    "trade_type": "NATIVE",
    "trade_state": "SUCCESS",
    "trade_state_desc": "支付成功",
    "bank_type": "OTHERS",
    "success_time": "2026-11-22T20:00:05+08:00",
    "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
    "amount": {"total": 1230, "payer_total": 1230, "currency": "CNY", "payer_currency": "CNY"},
}


def test_transaction_notification(
    wx_client: WechatPayClient, rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock
) -> None:
    body = wechat_notification(APIV3, "TRANSACTION.SUCCESS", TRANSACTION, event_id="EV-7", original_type="transaction")
    note = wx_client.parse_notification(wechat_headers(rsa_keys[1], PUB_ID, body, timestamp=_ts(clock)), body)
    assert (note.channel, note.kind, note.event_id, note.event_type) == (
        Channel.WECHAT,
        "payment",
        "EV-7",
        "TRANSACTION.SUCCESS",
    )
    assert note.out_trade_no == "S00001T0012611220001"
    assert note.trade is not None
    assert note.trade.state is PaymentState.PAID
    assert note.trade.amount_fen == 1230
    assert note.trade.transaction_id == "4200000000202611220000000001"
    assert note.trade.paid_at is not None and note.trade.paid_at.utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize(
    ("event", "status", "state"),
    [
        ("REFUND.SUCCESS", "SUCCESS", RefundState.SUCCESS),
        ("REFUND.ABNORMAL", "ABNORMAL", RefundState.FAILED),
        ("REFUND.CLOSED", "CLOSED", RefundState.FAILED),
    ],
)
def test_refund_notifications(
    wx_client: WechatPayClient,
    rsa_keys: list[rsa.RSAPrivateKey],
    clock: FixedClock,
    event: str,
    status: str,
    state: RefundState,
) -> None:
    resource = {
        "mchid": "1900000109",
        "out_trade_no": "S1",
        "transaction_id": "42",
        "out_refund_no": "R1",
        "refund_id": "50000",
        "refund_status": status,
        "amount": {"total": 1230, "refund": 230, "payer_total": 1230, "payer_refund": 230},
    }
    body = wechat_notification(APIV3, event, resource, original_type="refund")
    note = wx_client.parse_notification(wechat_headers(rsa_keys[1], PUB_ID, body, timestamp=_ts(clock)), body)
    assert note.kind == "refund" and note.refund is not None
    assert (note.refund.out_refund_no, note.refund.state, note.refund.amount_fen) == ("R1", state, 230)


def test_notification_refusals(
    wx_client: WechatPayClient, rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock
) -> None:
    body = wechat_notification(APIV3, "TRANSACTION.SUCCESS", TRANSACTION, original_type="transaction")
    good = wechat_headers(rsa_keys[1], PUB_ID, body, timestamp=_ts(clock))
    probe = dict(good, **{"Wechatpay-Signature": "WECHATPAY/SIGNTEST/abc"})
    stale = wechat_headers(rsa_keys[1], PUB_ID, body, timestamp=_ts(clock) - 301)
    for headers, payload in ((probe, body), (stale, body), (good, body[:-2] + b" }")):
        with pytest.raises(NotificationInvalid) as info:
            wx_client.parse_notification(headers, payload)
        assert 400 <= info.value.status_code < 600
    wrong_key = wechat_notification(b"Y" * 32, "TRANSACTION.SUCCESS", TRANSACTION, original_type="transaction")
    with pytest.raises(NotificationInvalid, match="decrypt"):
        wx_client.parse_notification(wechat_headers(rsa_keys[1], PUB_ID, wrong_key, timestamp=_ts(clock)), wrong_key)


def test_signed_notifications_that_contradict_themselves_carry_problems(
    wx_client: WechatPayClient, rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock
) -> None:
    """Signed by WeChat Pay, so kept (and acknowledged), but never applied: the engine flags them."""

    def problems(event_type: str, resource: dict[str, object], original: str = "transaction") -> tuple[str, ...]:
        body = wechat_notification(APIV3, event_type, resource, original_type=original)
        return wx_client.parse_notification(
            wechat_headers(rsa_keys[1], PUB_ID, body, timestamp=_ts(clock)), body
        ).problems

    no_mchid = {k: v for k, v in TRANSACTION.items() if k != "mchid"}
    no_amount = {k: v for k, v in TRANSACTION.items() if k != "amount"}
    assert problems("TRANSACTION.SUCCESS", TRANSACTION) == ()
    assert problems("TRANSACTION.SUCCESS", dict(TRANSACTION, mchid="1")) == ("mchid '1' is not this merchant's",)
    assert problems("TRANSACTION.SUCCESS", no_mchid) == ("mchid 'None' is not this merchant's",)
    assert problems("TRANSACTION.SUCCESS", dict(TRANSACTION, appid="wx0000000000000000")) == (
        "appid 'wx0000000000000000' is not this merchant's",
    )
    assert problems("TRANSACTION.SUCCESS", no_amount) == ("TRANSACTION.SUCCESS without amount.total",)
    assert problems("TRANSACTION.SUCCESS", dict(TRANSACTION, trade_state="REVOKED")) == (
        "TRANSACTION.SUCCESS whose trade_state is 'REVOKED'",
    )


def test_ack(wx_client: WechatPayClient) -> None:
    ok, fail = wx_client.ack(True), wx_client.ack(False)
    assert ok.status_code in (200, 204)
    assert fail.status_code >= 400
    assert fail.body.decode("utf-8") == '{"code":"FAIL","message":"失败"}'
