"""The gateway side of Alipay RSA2 (spec alipay-f2f.md §1, §2, §4), written from the spec alone.

Three canonical strings, one function each:

- :func:`request_sign_content` — what the app signed: every request param except ``sign`` and empty
  values, ``sign_type`` included, sorted by key, ``k=v`` joined with ``&``, raw (URL-decoded) values;
- :func:`notify_sign_content` — what the gateway signs on a notification: the same, minus
  ``sign_type`` too;
- :func:`response_text` — the ``…_response`` object serialised **once**, with ``/`` escaped as ``\\/``
  as Alipay does; that exact text is signed and spliced verbatim into the envelope.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from pos_app.engine.crypto.rsa import SignatureInvalid, sign_sha256_rsa, verify_sha256_rsa

#: Charsets the simulated gateway accepts (the signed bytes use the request's charset).
CHARSETS = {"utf-8": "utf-8", "utf8": "utf-8", "gbk": "gbk", "gb2312": "gbk"}


def _sign_content(params: Mapping[str, str], exclude: frozenset[str]) -> str:
    items = sorted((k, v) for k, v in params.items() if k not in exclude and v != "")
    return "&".join(f"{k}={v}" for k, v in items)


def request_sign_content(params: Mapping[str, str]) -> str:
    """The string an app signs for a gateway request (``sign_type`` kept, ``sign`` and empties dropped)."""
    return _sign_content(params, frozenset({"sign"}))


def notify_sign_content(params: Mapping[str, str]) -> str:
    """The string the gateway signs for a trade notification (``sign`` and ``sign_type`` dropped)."""
    return _sign_content(params, frozenset({"sign", "sign_type"}))


def python_charset(charset: str) -> str | None:
    """The Python codec for a request's ``charset`` param, or None when the gateway refuses it."""
    return CHARSETS.get(charset.strip().lower())


def verify_request(public_key: rsa.RSAPublicKey, params: Mapping[str, str], charset: str) -> str:
    """Return the string that was checked; raise SignatureInvalid if ``sign`` does not match it."""
    content = request_sign_content(params)
    codec = python_charset(charset) or "utf-8"
    try:
        message = content.encode(codec)
    except UnicodeEncodeError as exc:
        raise SignatureInvalid("request does not encode in its charset") from exc
    verify_sha256_rsa(public_key, message, params.get("sign", ""))
    return content


def response_text(obj: Mapping[str, Any]) -> str:
    """Compact JSON, raw UTF-8 characters, ``/`` written ``\\/`` — the exact text that gets signed.

    Every ``/`` in JSON text sits inside a string, where ``\\/`` is a valid escape for it; a
    backslash in a value is already written ``\\\\`` so the replacement cannot form other escapes.
    """
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).replace("/", "\\/")


def response_key(method: str) -> str:
    """``alipay.trade.pay`` → ``alipay_trade_pay_response``."""
    return method.replace(".", "_") + "_response"


def envelope(key: str, obj: Mapping[str, Any], private_key: rsa.RSAPrivateKey | None, charset: str = "utf-8") -> str:
    """``{"<key>":<text>,"sign":"…"}`` with ``<text>`` signed as is (its bytes in ``charset``).

    No ``sign`` when no key is given (some Alipay error answers come unsigned).
    """
    text = response_text(obj)
    if private_key is None:
        return f'{{"{key}":{text}}}'
    sign = sign_sha256_rsa(private_key, text.encode(python_charset(charset) or "utf-8", errors="replace"))
    return f'{{"{key}":{text},"sign":"{sign}"}}'


def sign_notification(private_key: rsa.RSAPrivateKey, params: Mapping[str, str], charset: str = "utf-8") -> str:
    """The ``sign`` value of a notification carrying ``params``."""
    return sign_sha256_rsa(private_key, notify_sign_content(params).encode(python_charset(charset) or "utf-8"))


__all__ = [
    "SignatureInvalid",
    "envelope",
    "notify_sign_content",
    "python_charset",
    "request_sign_content",
    "response_key",
    "response_text",
    "sign_notification",
    "verify_request",
]
