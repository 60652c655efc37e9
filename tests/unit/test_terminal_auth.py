"""Terminal -> engine HMAC signing: golden vectors (computed with `openssl dgst -hmac`), tamper checks,
and the client's httpx.Auth producing exactly what the server verifies."""

from __future__ import annotations

import base64

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos_app.api import auth as terminal_auth
from pos_app.api.client import TerminalSigner

KEY = bytes(range(32))

# printf 'POST\n/v1/payments?x=1\n1700000000\nn0nce-0001\n<sha256hex(body)>\n' |
#   openssl dgst -sha256 -mac HMAC -macopt hexkey:000102…1f -binary | base64
GOLDEN = [
    ("POST", "/v1/payments?x=1", "1700000000", "n0nce-0001", b'{"amount_fen":1230}',
     "JaMLMee7NwWNaoRVm4WV1Drlv2uVdgpWnTzvNxUs3zQ="),
    ("GET", "/v1/events", "1700000000", "abcdefgh", b"", "QFxHKO6rqwRX46Qq8cQ+67OVpJq5FUJi+fcsnlwtVwk="),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "ts", "nonce", "body", "expected"), GOLDEN)
def test_sign_matches_openssl(method: str, path: str, ts: str, nonce: str, body: bytes, expected: str) -> None:
    assert terminal_auth.sign(KEY, method, path, ts, nonce, body) == expected
    assert terminal_auth.verify(KEY, method, path, ts, nonce, body, expected)


def test_canonical_string_layout() -> None:
    text = terminal_auth.canonical_string("post", "/v1/x?a=1", "1", "n", b"")
    assert text == (b"POST\n/v1/x?a=1\n1\nn\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n")


@pytest.mark.parametrize(
    "change",
    [
        {"method": "PUT"},
        {"path": "/v1/payments?x=2"},
        {"ts": "1700000001"},
        {"nonce": "n0nce-0002"},
        {"body": b'{"amount_fen":1231}'},
        {"key": bytes(31) + b"\x01"},
    ],
)
def test_any_change_breaks_the_signature(change: dict[str, object]) -> None:
    method, path, ts, nonce, body, signature = GOLDEN[0]
    args: dict[str, object] = {"key": KEY, "method": method, "path": path, "ts": ts, "nonce": nonce, "body": body}
    args.update(change)
    assert not terminal_auth.verify(
        args["key"],
        args["method"],
        args["path"],
        args["ts"],
        args["nonce"],
        args["body"],
        signature,  # type: ignore[arg-type]
    )


def test_garbage_signature_is_refused_not_raised() -> None:
    method, path, ts, nonce, body, _ = GOLDEN[0]
    assert not terminal_auth.verify(KEY, method, path, ts, nonce, body, "WECHATPAY/SIGNTEST/不是")
    assert not terminal_auth.verify(KEY, method, path, ts, nonce, body, "")


@given(st.binary(min_size=1, max_size=64))
def test_decode_key_accepts_unpadded_base64url(key: bytes) -> None:
    text = base64.urlsafe_b64encode(key).decode().rstrip("=")
    assert terminal_auth.decode_key(text) == key


def test_client_signer_signs_path_query_and_body() -> None:
    signer = TerminalSigner("T001", KEY, clock=lambda: 1_700_000_000.9)
    request = httpx.Request("POST", "http://engine/v1/payments?x=1", content=b'{"amount_fen":1230}')
    signed = next(signer.auth_flow(request))
    headers = signed.headers
    assert headers["X-Pos-Terminal"] == "T001"
    assert headers["X-Pos-Timestamp"] == "1700000000"
    nonce = headers["X-Pos-Nonce"]
    assert len(nonce) >= 16
    assert terminal_auth.verify(
        KEY, "POST", "/v1/payments?x=1", "1700000000", nonce, b'{"amount_fen":1230}', headers["X-Pos-Signature"]
    )
    again = next(signer.auth_flow(httpx.Request("GET", "http://engine/v1/events")))
    assert again.headers["X-Pos-Nonce"] != nonce
