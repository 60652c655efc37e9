"""Alipay OpenAPI RSA2 canonical strings, signing and verification (spec specs/alipay-f2f.md §1, §2, §4).

One named function per canonical string, golden-tested against vectors/signing.json:
- :func:`request_sign_content` — request params minus ``sign`` and empties, ``sign_type`` kept;
- :func:`notification_sign_content` — notification params minus ``sign`` **and** ``sign_type``;
- :func:`response_sign_content` — the raw text of the ``<method>_response`` value, as received.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from cryptography.hazmat.primitives.asymmetric import rsa

from pos_app.domain.errors import PosError
from pos_app.engine.crypto.rsa import SignatureInvalid, sign_sha256_rsa, verify_sha256_rsa


class EnvelopeError(PosError):
    """The response text is not a JSON object whose members can be located unambiguously."""


def _join_sorted(params: Mapping[str, str], drop: frozenset[str]) -> str:
    kept = sorted((k, v) for k, v in params.items() if k not in drop and v is not None and v != "")
    return "&".join(f"{k}={v}" for k, v in kept)


def request_sign_content(params: Mapping[str, str]) -> str:
    """Sorted ``k=v`` joined by ``&`` (raw values, no URL-encoding); ``sign`` and empties dropped."""
    return _join_sorted(params, frozenset({"sign"}))


def notification_sign_content(params: Mapping[str, str]) -> str:
    """As the request string, but ``sign_type`` is dropped too (rsaCheckV1)."""
    return _join_sorted(params, frozenset({"sign", "sign_type"}))


def sign_request(params: Mapping[str, str], private_key: rsa.RSAPrivateKey, *, charset: str = "utf-8") -> str:
    """The RSA2 ``sign`` of ``params`` (which are not modified)."""
    return sign_sha256_rsa(private_key, request_sign_content(params).encode(charset))


def verify_notification(params: Mapping[str, str], public_key: rsa.RSAPublicKey, *, charset: str = "utf-8") -> None:
    """Raise SignatureInvalid unless ``params['sign']`` signs the notification string."""
    verify_sha256_rsa(public_key, notification_sign_content(params).encode(charset), params.get("sign", ""))


def response_key(method: str) -> str:
    """``alipay.trade.pay`` → ``alipay_trade_pay_response``."""
    return method.replace(".", "_") + "_response"


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def _string_end(text: str, i: int) -> int:
    """``text[i]`` is an opening quote; return the index just past the closing quote."""
    i += 1
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            return i + 1
        i += 1
    raise EnvelopeError("unterminated string")


def _value_end(text: str, i: int) -> int:
    """Index just past the JSON value starting at ``text[i]`` (quote/escape-aware brace scan)."""
    if i >= len(text):
        raise EnvelopeError("missing value")
    if text[i] == '"':
        return _string_end(text, i)
    if text[i] in "{[":
        depth = 0
        while i < len(text):
            ch = text[i]
            if ch == '"':
                i = _string_end(text, i)
                continue
            if ch in "{[":
                depth += 1
            elif ch in "}]":
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
        raise EnvelopeError("unbalanced braces")
    while i < len(text) and text[i] not in ",}] \t\r\n":
        i += 1
    return i


def top_level_members(text: str) -> dict[str, str]:
    """Each top-level member's raw value text, exactly as received. Duplicate keys are refused."""
    i = _skip_ws(text, 0)
    if i >= len(text) or text[i] != "{":
        raise EnvelopeError("not a JSON object")
    members: dict[str, str] = {}
    i = _skip_ws(text, i + 1)
    if i < len(text) and text[i] == "}":
        return members
    while True:
        if i >= len(text) or text[i] != '"':
            raise EnvelopeError("expected a member name")
        key_end = _string_end(text, i)
        try:
            key = json.loads(text[i:key_end])
        except ValueError as exc:
            raise EnvelopeError("bad member name") from exc
        i = _skip_ws(text, key_end)
        if i >= len(text) or text[i] != ":":
            raise EnvelopeError("expected ':'")
        start = _skip_ws(text, i + 1)
        end = _value_end(text, start)
        if key in members:
            raise EnvelopeError(f"duplicate member {key[:40]!r}")
        members[key] = text[start:end]
        i = _skip_ws(text, end)
        if i < len(text) and text[i] == ",":
            i = _skip_ws(text, i + 1)
            continue
        if i < len(text) and text[i] == "}":
            return members
        raise EnvelopeError("expected ',' or '}'")


def response_sign_content(raw_text: str, method: str) -> str:
    """The signed bytes of a response: the raw ``<method>_response`` (or ``error_response``) value,
    from its ``{`` to the matching ``}``, with ``\\/`` and spacing kept as received."""
    members = top_level_members(raw_text)
    for key in (response_key(method), "error_response"):
        value = members.get(key)
        if value is not None:
            if not value.startswith("{"):
                raise EnvelopeError(f"{key} is not an object")
            return value
    raise EnvelopeError(f"no {response_key(method)} in the answer")


def verify_response(raw_text: str, method: str, public_key: rsa.RSAPublicKey, *, charset: str = "utf-8") -> str:
    """Verify a synchronous answer; return the signed response text. Raises EnvelopeError or
    SignatureInvalid (also when ``sign`` is absent)."""
    members = top_level_members(raw_text)
    content = response_sign_content(raw_text, method)
    sign_raw = members.get("sign")
    if sign_raw is None:
        raise SignatureInvalid("the answer carries no sign")
    try:
        sign = json.loads(sign_raw)
    except ValueError as exc:
        raise EnvelopeError("bad sign member") from exc
    if not isinstance(sign, str):
        raise EnvelopeError("bad sign member")
    verify_sha256_rsa(public_key, content.encode(charset), sign)
    return content
