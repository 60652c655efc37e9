"""Field checks of WeChat request bodies: each refusal is the gateway's 400 ``PARAM_ERROR`` (spec §4).

Also the request fingerprint: a retried create must repeat the first request exactly.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pos_app.sandbox.context import SandboxContext
from pos_app.sandbox.wechat.protocol import WechatApiError, param_error

OUT_TRADE_NO = re.compile(r"[0-9A-Za-z_\-|*]{6,32}")
OUT_REFUND_NO = re.compile(r"[0-9A-Za-z_\-|*@]{1,64}")


@dataclass(frozen=True, slots=True)
class OrderFields:
    """The checked fields every order create carries (native, JSAPI and codepay)."""

    out_trade_no: str
    description: str
    attach: str | None
    total: int
    currency: str
    device_id: str | None


def text(
    data: dict[str, Any], name: str, *, max_len: int | None = None, required: bool = True, where: str = ""
) -> str | None:
    """A string field; ``None`` only when it is optional and absent. ``where`` prefixes nested names."""
    value = data.get(name)
    field = f"{where}{name}"
    if value is None:
        if required:
            raise param_error(field, "is required")
        return None
    if not isinstance(value, str):
        raise param_error(field, "must be a string", value=value)
    if required and not value:
        raise param_error(field, "must not be empty")
    if max_len is not None and len(value) > max_len:
        raise param_error(field, f"longer than {max_len} characters")
    return value


def required_text(data: dict[str, Any], name: str, *, max_len: int | None = None, where: str = "") -> str:
    value = text(data, name, max_len=max_len, where=where)
    assert value is not None  # text() raises for a missing required field
    return value


def obj(data: dict[str, Any], name: str, *, required: bool = True, where: str = "") -> dict[str, Any] | None:
    value = data.get(name)
    if value is None:
        if required:
            raise param_error(f"{where}{name}", "is required")
        return None
    if not isinstance(value, dict):
        raise param_error(f"{where}{name}", "must be an object")
    return value


def required_obj(data: dict[str, Any], name: str, *, where: str = "") -> dict[str, Any]:
    value = obj(data, name, where=where)
    assert value is not None  # obj() raises for a missing required field
    return value


def fen(data: dict[str, Any], name: str, *, where: str = "", minimum: int = 1) -> int:
    """An integer amount of fen (a JSON boolean is not a number here)."""
    value = data.get(name)
    field = f"{where}{name}"
    if value is None:
        raise param_error(field, "is required")
    if not isinstance(value, int) or isinstance(value, bool):
        raise param_error(field, "must be an integer number of fen", value=value)
    if value < minimum:
        raise param_error(field, f"must be at least {minimum}", value=value)
    return value


def currency(amount: dict[str, Any], *, required: bool = False) -> str:
    value = text(amount, "currency", required=required, where="amount.") or "CNY"
    if value != "CNY":
        raise param_error("amount.currency", "only CNY is supported", value=value)
    return value


def check_merchant(ctx: SandboxContext, data: dict[str, Any], auth_mchid: str, *, appid: bool = True) -> None:
    """The body's mchid is the signer's; its appid (when asked) is the merchant's."""
    mchid = text(data, "mchid")
    if mchid != auth_mchid:
        raise param_error("mchid", "does not match the merchant of the request signature", value=mchid)
    if appid:
        value = text(data, "appid")
        if value != ctx.keys.wechat.appid:
            raise WechatApiError(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")


def check_out_trade_no(value: str | None, field: str = "out_trade_no") -> str:
    if value is None or not OUT_TRADE_NO.fullmatch(value):
        raise param_error(field, "must be 6-32 characters of [0-9A-Za-z_-|*]", value=value)
    return value


def check_out_refund_no(value: str | None) -> str:
    if value is None or not OUT_REFUND_NO.fullmatch(value):
        raise param_error("out_refund_no", "must be 1-64 characters of [0-9A-Za-z_-|*@]", value=value)
    return value


def check_notify_url(value: str | None, field: str) -> None:
    if value is None:
        return
    if not value.startswith(("https://", "http://")) or "?" in value:
        raise param_error(field, "must be an http(s) URL without a query string", value=value)


def parse_time(value: str, field: str) -> float:
    """An RFC 3339 time with its UTC offset, as Unix seconds."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise param_error(field, "must be RFC 3339, e.g. 2024-01-01T12:00:00+08:00", value=value) from None
    if parsed.tzinfo is None:
        raise param_error(field, "must carry a UTC offset", value=value)
    return parsed.timestamp()


def order_fields(ctx: SandboxContext, data: dict[str, Any], auth_mchid: str) -> OrderFields:
    """Check the merchant and the fields common to every order create."""
    check_merchant(ctx, data, auth_mchid)
    description = required_text(data, "description", max_len=127)
    out_trade_no = check_out_trade_no(text(data, "out_trade_no"))
    attach = text(data, "attach", max_len=128, required=False)
    amount = required_obj(data, "amount")
    total = fen(amount, "total", where="amount.")
    amount_currency = currency(amount)
    scene = obj(data, "scene_info", required=False) or {}
    device_id = scene.get("device_id") if isinstance(scene.get("device_id"), str) else None
    return OrderFields(
        out_trade_no=out_trade_no,
        description=description,
        attach=attach,
        total=total,
        currency=amount_currency,
        device_id=device_id,
    )


def fingerprint(operation: str, data: dict[str, Any]) -> str:
    """What identifies a request body: a retry with another fingerprint is refused (RID_PARAMS_DIFFER)."""
    return operation + ":" + json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
