"""WeChat Pay request signing: canonical strings and the official known-answer vector, byte for byte."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx

from pos_app.engine.crypto.keys import parse_private_key
from pos_app.engine.crypto.rsa import sign_sha256_rsa
from pos_app.engine.providers.wechatpay.signing import (
    WechatPayAuth,
    authorization_header,
    canonical_url,
    request_signature_message,
    response_signature_message,
)


def test_request_message_matches_vector(vectors: dict[str, Any]) -> None:
    v = vectors["wechatpay_request_signature"]
    message = request_signature_message(
        v["method"], v["canonical_url"], v["timestamp"], v["nonce"], v["body"].encode("utf-8")
    )
    assert message == v["message"].encode("utf-8")


def test_signature_reproduces_vector_byte_for_byte(vectors: dict[str, Any]) -> None:
    v = vectors["wechatpay_request_signature"]
    key = parse_private_key(v["private_key_pem"])
    assert sign_sha256_rsa(key, v["message"].encode("utf-8")) == v["signature"]


def test_auth_signs_the_request_as_sent(vectors: dict[str, Any]) -> None:
    """The httpx.Auth reproduces the vector from a real httpx.Request (method, raw target, raw body)."""
    v = vectors["wechatpay_request_signature"]
    auth = WechatPayAuth(
        mchid=v["mchid"],
        serial_no=v["serial_no"],
        private_key=parse_private_key(v["private_key_pem"]),
        clock=lambda: datetime.fromtimestamp(int(v["timestamp"]), UTC),
        nonce_factory=lambda: v["nonce"],
    )
    request = httpx.Request(
        "POST", "https://api.mch.weixin.qq.com" + v["canonical_url"], content=v["body"].encode("utf-8")
    )
    flow = auth.sync_auth_flow(request)
    signed = next(flow)
    header = signed.headers["Authorization"]
    assert header == (
        f'WECHATPAY2-SHA256-RSA2048 mchid="{v["mchid"]}",nonce_str="{v["nonce"]}",'
        f'signature="{v["signature"]}",timestamp="{v["timestamp"]}",serial_no="{v["serial_no"]}"'
    )
    assert signed.headers["Accept"] == "application/json"
    assert signed.headers["Content-Type"] == "application/json"
    assert signed.headers["User-Agent"]


def test_get_message_has_empty_body_line() -> None:
    assert request_signature_message("get", "/v3/x?a=1", "1", "N", b"") == b"GET\n/v3/x?a=1\n1\nN\n\n"


def test_canonical_url_keeps_the_encoded_query_exactly_as_sent() -> None:
    request = httpx.Request("GET", "https://h/v3/bill/tradebill", params={"bill_date": "2026-11-21", "note": "中 文/x"})
    target = canonical_url(request)
    assert target == request.url.raw_path.decode("ascii")
    assert target.startswith("/v3/bill/tradebill?bill_date=2026-11-21&note=")
    assert "%E4%B8%AD" in target  # percent-encoded bytes are what is signed


def test_auth_header_fields_and_public_key_serial(rsa_keys: list[Any]) -> None:
    auth = WechatPayAuth(
        mchid="1900000109",
        serial_no="ABC123",
        private_key=rsa_keys[0],
        clock=lambda: datetime(2026, 1, 1, tzinfo=UTC),
        wechatpay_serial="PUB_KEY_ID_0119",
    )
    request = next(auth.sync_auth_flow(httpx.Request("GET", "https://h/v3/pay/transactions/id/42?mchid=1")))
    header = request.headers["Authorization"]
    fields = dict(re.findall(r'(\w+)="([^"]*)"', header))
    assert header.startswith("WECHATPAY2-SHA256-RSA2048 ")
    assert set(fields) == {"mchid", "nonce_str", "signature", "timestamp", "serial_no"}
    assert fields["timestamp"] == str(int(datetime(2026, 1, 1, tzinfo=UTC).timestamp()))
    assert re.fullmatch(r"[0-9A-Za-z]{32}", fields["nonce_str"])
    assert request.headers["Wechatpay-Serial"] == "PUB_KEY_ID_0119"


def test_authorization_header_function() -> None:
    assert authorization_header(mchid="1", nonce="n", signature="s", timestamp="2", serial_no="S") == (
        'WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="n",signature="s",timestamp="2",serial_no="S"'
    )


def test_response_message() -> None:
    assert response_signature_message("1554209980", "c5ac7061fccab6bf3e254dcf98995b8c", b'{"a":1}') == (
        b'1554209980\nc5ac7061fccab6bf3e254dcf98995b8c\n{"a":1}\n'
    )
