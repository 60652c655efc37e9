"""Alipay RSA2: request string and signature KAT, response extraction/verification, notifications."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from provider_test_helpers import FixedClock, rsa_sign

from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState, RefundState
from pos_app.engine.crypto.keys import parse_private_key, private_pem_pkcs1, private_pem_pkcs8
from pos_app.engine.crypto.rsa import SignatureInvalid
from pos_app.engine.providers.alipay.client import AlipayClient
from pos_app.engine.providers.alipay.signing import (
    EnvelopeError,
    notification_sign_content,
    request_sign_content,
    response_sign_content,
    sign_request,
    verify_response,
)
from pos_app.engine.providers.base import NotificationInvalid


def test_string_to_sign_matches_vector(vectors: dict[str, Any]) -> None:
    v = vectors["alipay_request_signature"]
    assert request_sign_content(v["params"]) == v["string_to_sign"]


@pytest.mark.parametrize("form", ["pem", "pkcs8", "bare_pkcs1", "bare_pkcs8"])
def test_signature_reproduces_vector_with_pkcs1_and_pkcs8(vectors: dict[str, Any], form: str) -> None:
    v = vectors["alipay_request_signature"]
    original = parse_private_key(v["private_key_pem"])
    pem = {
        "pem": v["private_key_pem"],
        "pkcs8": private_pem_pkcs8(original).decode(),
        "bare_pkcs1": "".join(private_pem_pkcs1(original).decode().splitlines()[1:-1]),
        "bare_pkcs8": "".join(private_pem_pkcs8(original).decode().splitlines()[1:-1]),
    }[form]
    params = dict(v["params"])
    before = dict(params)
    assert sign_request(params, parse_private_key(pem)) == v["signature"]
    assert params == before  # inputs are never mutated


def test_sign_and_empty_values_are_dropped_sign_type_kept() -> None:
    params = {"b": "2", "a": "1", "sign": "x", "empty": "", "sign_type": "RSA2", "biz_content": '{"k":"v w"}'}
    assert request_sign_content(params) == 'a=1&b=2&biz_content={"k":"v w"}&sign_type=RSA2'
    assert notification_sign_content(params) == 'a=1&b=2&biz_content={"k":"v w"}'


def test_sorting_is_by_byte_order() -> None:
    assert request_sign_content({"a_b": "1", "aB": "2", "A": "3"}) == "A=3&aB=2&a_b=1"


# ------------------------------------------------------------------ responses

INNER = (
    '{"code":"10000","msg":"Success","out_trade_no":"6823789339978248",'
    '"qr_code":"https:\\/\\/qr.alipay.com\\/bavh4wjlxf12tper3a","note":"a \\"quoted\\" {brace} ,\\\\"}'
)


def _envelope(inner: str, sign: str, *, key: str = "alipay_trade_precreate_response", spaces: bool = False) -> str:
    sep = ", " if spaces else ","
    return f'{{"{key}":{inner}{sep}"sign":"{sign}"}}'


def test_response_text_is_extracted_raw(rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    raw = _envelope(INNER, "c2lnbg==", spaces=True)
    assert response_sign_content(raw, "alipay.trade.precreate") == INNER
    assert "\\/" in response_sign_content(raw, "alipay.trade.precreate")  # escapes kept as received


def test_sign_first_and_error_response_are_found() -> None:
    raw = '{"sign":"abc","error_response":{"code":"40002","msg":"Invalid Arguments"}}'
    assert response_sign_content(raw, "alipay.trade.pay") == '{"code":"40002","msg":"Invalid Arguments"}'


def test_response_verifies_and_changed_byte_fails(rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    gateway = rsa_keys[1]
    raw = _envelope(INNER, rsa_sign(gateway, INNER.encode()))
    assert verify_response(raw, "alipay.trade.precreate", gateway.public_key()) == INNER
    tampered = raw.replace("bavh4wjlxf12tper3a", "bavh4wjlxf12tper3b")
    with pytest.raises(SignatureInvalid):
        verify_response(tampered, "alipay.trade.precreate", gateway.public_key())
    unescaped = raw.replace("\\/", "/")  # a re-serialised body no longer verifies
    with pytest.raises(SignatureInvalid):
        verify_response(unescaped, "alipay.trade.precreate", gateway.public_key())
    with pytest.raises(SignatureInvalid):
        verify_response(
            _envelope(INNER, rsa_sign(rsa_keys[3], INNER.encode())), "alipay.trade.precreate", gateway.public_key()
        )


def test_unsigned_duplicate_or_missing_answers_refused(rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    with pytest.raises(SignatureInvalid):
        verify_response(f'{{"alipay_trade_pay_response":{INNER}}}', "alipay.trade.pay", rsa_keys[1].public_key())
    with pytest.raises(EnvelopeError, match="duplicate"):
        response_sign_content(
            f'{{"alipay_trade_pay_response":{INNER},"alipay_trade_pay_response":{{}}}}', "alipay.trade.pay"
        )
    with pytest.raises(EnvelopeError):
        response_sign_content('{"other_response":{}}', "alipay.trade.pay")
    with pytest.raises(EnvelopeError):
        response_sign_content('{"alipay_trade_pay_response":{"a":"}', "alipay.trade.pay")


# ------------------------------------------------------------------ notifications


@pytest.fixture
def ali_client(rsa_keys: list[rsa.RSAPrivateKey], clock: FixedClock) -> AlipayClient:
    return AlipayClient(
        app_id="2021000000000001",
        app_private_key=rsa_keys[0],
        alipay_public_key=rsa_keys[1].public_key(),
        gateway="http://alipay.invalid/gateway.do",
        seller_id="2088000000000001",
        clock=clock,
    )


def _notify(key: rsa.RSAPrivateKey, **overrides: str) -> dict[str, str]:
    params = {
        "notify_time": "2026-11-22 20:00:06",
        "notify_type": "trade_status_sync",
        "notify_id": "ac05099524730693a8b330c5ecf72da9786",
        "app_id": "2021000000000001",
        "charset": "utf-8",
        "version": "1.0",
        "sign_type": "RSA2",
        "trade_no": "2026112222001404000000000001",
        "out_trade_no": "S00001T0012611220002",
        "buyer_id": "2088102122524333",
        "seller_id": "2088000000000001",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "12.30",
        "receipt_amount": "12.30",
        "subject": "Demo Store 商品",
        "gmt_create": "2026-11-22 20:00:01",
        "gmt_payment": "2026-11-22 20:00:05",
        "fund_bill_list": '[{"amount":"12.30","fundChannel":"ALIPAYACCOUNT"}]',
        "passback_params": "",
    }
    params.update(overrides)
    signable = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if v and k not in ("sign", "sign_type"))
    params["sign"] = rsa_sign(key, signable.encode("utf-8"))
    return params


def test_payment_notification(ali_client: AlipayClient, rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    body = urlencode(_notify(rsa_keys[1])).encode("ascii")
    note = ali_client.parse_notification({}, body)
    assert (note.channel, note.kind, note.event_type) == (Channel.ALIPAY, "payment", "TRADE_SUCCESS")
    assert note.event_id == "ac05099524730693a8b330c5ecf72da9786"
    assert note.trade is not None
    assert (note.trade.state, note.trade.amount_fen) == (PaymentState.PAID, 1230)
    assert note.trade.transaction_id == "2026112222001404000000000001"


def test_refund_notification(ali_client: AlipayClient, rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    params = _notify(rsa_keys[1], out_biz_no="R0001", refund_fee="2.30", gmt_refund="2026-11-22 21:00:00.123")
    note = ali_client.parse_notification({}, urlencode(params).encode("ascii"))
    assert note.kind == "refund" and note.refund is not None and note.trade is not None
    assert (note.refund.out_refund_no, note.refund.state, note.refund.refunded_total_fen) == (
        "R0001",
        RefundState.SUCCESS,
        230,
    )
    assert note.trade.state is PaymentState.PARTIALLY_REFUNDED


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("TRADE_FINISHED", PaymentState.PAID),
        ("TRADE_CLOSED", PaymentState.CLOSED),
        ("WAIT_BUYER_PAY", PaymentState.AWAITING_SCAN),
    ],
)
def test_trade_status_mapping(
    ali_client: AlipayClient, rsa_keys: list[rsa.RSAPrivateKey], status: str, state: PaymentState
) -> None:
    note = ali_client.parse_notification({}, urlencode(_notify(rsa_keys[1], trade_status=status)).encode())
    assert note.trade is not None and note.trade.state is state


def test_notification_refusals(ali_client: AlipayClient, rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    good = _notify(rsa_keys[1])
    cases = {
        "tampered": urlencode(dict(good, total_amount="0.01")),
        "forged": urlencode(_notify(rsa_keys[3])),
        "duplicate": urlencode(good) + "&trade_status=TRADE_SUCCESS",
        "no sign": urlencode({k: v for k, v in good.items() if k != "sign"}),
    }
    for name, body in cases.items():
        with pytest.raises(NotificationInvalid):
            ali_client.parse_notification({}, body.encode("ascii"))
        assert name


def test_signed_notifications_about_another_merchant_or_without_an_amount_carry_problems(
    ali_client: AlipayClient, rsa_keys: list[rsa.RSAPrivateKey]
) -> None:
    """Signed by Alipay, so kept (and acknowledged), but never applied: the engine flags them."""
    cases = {
        "other app": (_notify(rsa_keys[1], app_id="2021999999999999"), "app_id '2021999999999999'"),
        "other seller": (_notify(rsa_keys[1], seller_id="2088999999999999"), "seller_id '2088999999999999'"),
        # Empty fields are left out of what Alipay signs, so these are validly signed.
        "no seller": (_notify(rsa_keys[1], seller_id=""), "seller_id ''"),
        "no amount": (_notify(rsa_keys[1], total_amount=""), "without a valid total_amount"),
    }  # fmt: skip
    for name, (params, problem) in cases.items():
        note = ali_client.parse_notification({}, urlencode(params).encode("ascii"))
        assert len(note.problems) == 1 and problem in note.problems[0], (name, note.problems)
    assert ali_client.parse_notification({}, urlencode(_notify(rsa_keys[1])).encode("ascii")).problems == ()


def test_plus_in_sign_survives_form_decoding(ali_client: AlipayClient, rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    # urlencode writes '+' in the Base64 sign as %2B and spaces as '+': both must decode right.
    for _ in range(8):
        params = _notify(rsa_keys[1], subject="a b+c")
        note = ali_client.parse_notification({}, urlencode(params).encode("ascii"))
        assert note.raw["subject"] == "a b+c"


def test_ack_bodies(ali_client: AlipayClient) -> None:
    assert ali_client.ack(True).body == b"success"
    assert ali_client.ack(False).body == b"fail"
