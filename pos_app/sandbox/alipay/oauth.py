"""Alipay web authorization, silent (``auth_base``): the authorize page and ``alipay.system.oauth.token``
(spec alipay-jsapi.md §2, §6).

- :func:`authorize` — app_id, scope (``auth_base``/``auth_user``, comma-separated), redirect_uri on the
  app's callback host (the host of ``[engine] public_url``); then the redirect with a 32-character
  ``auth_code`` bound to (app_id, simulated user), single use, living ``[sandbox] alipay_auth_code_ttl_s``.
- :func:`exchange` — the token call (its signature is checked by the gateway route first): ``grant_type``
  and ``code`` are top-level parameters. Success carries the buyer id(s) of the id mode
  (``[sandbox] alipay_id_mode``): the user's ``user_id`` (2088 + 12 digits, the same in every app) and/or
  an ``open_id`` that differs per (app, user). A bad, used, expired or foreign code: ``error_response``
  40002 ``isv.code-invalid`` with an empty sign.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from pos_app.sandbox.alipay.model import fmt_time
from pos_app.sandbox.context import SandboxContext
from pos_app.sandbox.webauth import add_query, engine_host, same_host, stable_digits, stable_token

GATEWAY = "alipay"
SCOPES = frozenset({"auth_base", "auth_user"})
TOKEN_TTL_S = 3600

ALIPAY_WEB_DDL = """
CREATE TABLE IF NOT EXISTS alipay_oauth_codes (
    code TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    user TEXT NOT NULL,
    scope TEXT NOT NULL,
    created_at REAL NOT NULL,
    used_at REAL
);
CREATE TABLE IF NOT EXISTS alipay_open_ids (
    open_id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    user TEXT NOT NULL,
    UNIQUE (app_id, user)
);
"""


class AuthorizeRefused(Exception):
    """Alipay's own error page (no redirect)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Buyer:
    """Who a buyer id names, as the gateway resolves it."""

    user: str
    user_id: str
    open_id: str


@dataclass(frozen=True, slots=True)
class TokenError:
    sub_code: str
    sub_msg: str


def user_id_for(ctx: SandboxContext, user: str) -> str:
    """The user's internal id: ``2088`` + 12 digits, the same for every app."""
    return "2088" + stable_digits(ctx, 12, "alipay-user-id", user)


def open_id_for(ctx: SandboxContext, app_id: str, user: str) -> str:
    """The user's open_id in ``app_id``: 46 characters, not numeric, stable (and recorded)."""
    token = stable_token(ctx, "alipay-open-id", app_id, user).replace("-", "x").replace("_", "y")
    open_id = "0" + stable_digits(ctx, 2, "alipay-open-id-head", app_id, user) + token
    with ctx.store.transaction() as conn:
        conn.execute(
            "INSERT OR IGNORE INTO alipay_open_ids (open_id, app_id, user) VALUES (?, ?, ?)", (open_id, app_id, user)
        )
    return open_id


def open_id_owner(ctx: SandboxContext, open_id: str) -> tuple[str, str] | None:
    """(app_id, user) of an open_id this sandbox issued; None when it never did."""
    row = ctx.store.query_one("SELECT app_id, user FROM alipay_open_ids WHERE open_id = ?", (open_id,))
    return None if row is None else (str(row["app_id"]), str(row["user"]))


def authorize(ctx: SandboxContext, raw_query: str, user: str) -> str:
    """The redirect back to the merchant page, or AuthorizeRefused."""
    params = dict(parse_qsl(raw_query, keep_blank_values=True))
    app_id = params.get("app_id", "")
    if app_id != ctx.keys.alipay.app_id:
        raise AuthorizeRefused("isv.invalid-app-id", "无效的AppID参数")
    scopes = [s for s in params.get("scope", "").split(",") if s]
    if not scopes or not set(scopes) <= SCOPES:
        raise AuthorizeRefused("isv.invalid-scope", "scope 参数无效 (auth_base / auth_user)")
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri:
        raise AuthorizeRefused("isv.missing-redirect-uri", "缺少 redirect_uri 参数")
    if not same_host(redirect_uri, engine_host(ctx)):
        raise AuthorizeRefused("isv.invalid-redirect-uri", "redirect_uri 与应用的授权回调地址不一致")
    code = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    with ctx.store.transaction() as conn:
        conn.execute(
            "INSERT INTO alipay_oauth_codes (code, app_id, user, scope, created_at) VALUES (?, ?, ?, ?, ?)",
            (code, app_id, user, ",".join(scopes), ctx.now(GATEWAY)),
        )
    back = {"app_id": app_id, "source": "alipay_wallet", "scope": ",".join(scopes), "auth_code": code}
    if "state" in params:
        back["state"] = params["state"]
    return add_query(redirect_uri, back)


def exchange(ctx: SandboxContext, params: dict[str, str], now: datetime) -> dict[str, Any] | TokenError:
    """``alipay_system_oauth_token_response`` fields, or the error of a bad grant."""
    if params.get("grant_type") != "authorization_code":
        return TokenError("isv.invalid-parameter", "参数无效: grant_type (沙箱只支持 authorization_code)")
    value = params.get("code", "")
    if not value:
        return TokenError("isv.code-invalid", "授权码code无效")
    app_id = params.get("app_id", "")
    ttl = ctx.settings.sandbox.alipay_auth_code_ttl_s
    with ctx.store.transaction() as conn:
        row = conn.execute("SELECT * FROM alipay_oauth_codes WHERE code = ?", (value,)).fetchone()
        if row is None or row["app_id"] != app_id or row["used_at"] is not None:
            return TokenError("isv.code-invalid", "授权码code无效")
        if now.timestamp() - row["created_at"] > ttl:
            return TokenError("isv.code-invalid", "授权码code无效")
        conn.execute("UPDATE alipay_oauth_codes SET used_at = ? WHERE code = ?", (now.timestamp(), value))
    user = str(row["user"])
    mode = ctx.settings.sandbox.alipay_id_mode
    fields: dict[str, Any] = {}
    if mode in ("user_id", "both"):
        fields["user_id"] = user_id_for(ctx, user)
    if mode in ("open_id", "both"):
        fields["open_id"] = open_id_for(ctx, app_id, user)
    fields.update(
        {
            "access_token": "authbseB" + secrets.token_hex(16),
            "expires_in": TOKEN_TTL_S,
            "refresh_token": "authbseB" + secrets.token_hex(16),
            "re_expires_in": TOKEN_TTL_S,
            "auth_start": fmt_time(now),
        }
    )
    return fields


def buyer_of(ctx: SandboxContext, app_id: str, user: str) -> Buyer:
    """The user as a trade of ``app_id`` records them: the ids of the configured id mode."""
    mode = ctx.settings.sandbox.alipay_id_mode
    return Buyer(
        user=user,
        user_id=user_id_for(ctx, user) if mode in ("user_id", "both") else "",
        open_id=open_id_for(ctx, app_id, user) if mode in ("open_id", "both") else "",
    )


def resolve_buyer(ctx: SandboxContext, app_id: str, *, buyer_id: str, buyer_open_id: str) -> Buyer | str:
    """The buyer a trade.create names, or the reason it is refused (sub_msg of ACQ.INVALID_PARAMETER)."""
    if buyer_open_id:
        owner = open_id_owner(ctx, buyer_open_id)
        if owner is None:
            return "参数无效: buyer_open_id 不存在"
        if owner[0] != app_id:
            return "参数无效: buyer_open_id 不属于当前应用"
        if buyer_id and buyer_id != user_id_for(ctx, owner[1]):
            return "参数无效: buyer_id 与 buyer_open_id 不是同一买家"
        return buyer_of(ctx, app_id, owner[1])
    # user_ids are derived, not stored: the buyer is one of the users who authorized this app.
    for candidate in _authorized_users(ctx, app_id):
        if user_id_for(ctx, candidate) == buyer_id:
            return buyer_of(ctx, app_id, candidate)
    return "参数无效: buyer_id 不存在"


def _authorized_users(ctx: SandboxContext, app_id: str) -> list[str]:
    rows = ctx.store.query("SELECT DISTINCT user FROM alipay_oauth_codes WHERE app_id = ?", (app_id,))
    return [str(r["user"]) for r in rows]
