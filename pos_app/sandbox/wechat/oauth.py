"""WeChat web OAuth, silent (``snsapi_base``): the authorize page and the code exchange (spec jsapi §2, §6).

- :func:`authorize` — checks the link as WeChat does (parameter order, appid, response_type, scope,
  redirect_uri host = the OAuth domain) and issues a code bound to (appid, simulated user). Errors are
  shown on WeChat's own page and never reach the engine (:class:`AuthorizeRefused`).
- :func:`exchange_code` — ``/sns/oauth2/access_token``: appid and AppSecret (40013/40125), the code
  (unused, < 5 min, of this appid, else 40029), then the JSON of §2 with an openid that is stable per
  (appid, user). A code can carry a scripted failure (40029, 40163 or -1) from the phone.

The AppSecret is the file ``[wechatpay] oauth_secret_file`` — the same file the engine reads (``pos demo
init`` writes it). When the file is absent the sandbox invents nothing: every exchange answers 40125.
Sandbox choices where the spec is silent: the parameter-order, response_type and unknown-appid pages
use errcode -1 / 10010 / 40013; a wrong grant_type answers 40002.
"""

from __future__ import annotations

import hmac
import secrets
import string
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from pos_app.sandbox.context import SandboxContext
from pos_app.sandbox.webauth import add_query, engine_host, same_host, stable_token
from pos_app.sandbox.wechat import web_store

GATEWAY = "wechat"
CODE_TTL_S = 5 * 60
ACCESS_TOKEN_TTL_S = 7200
AUTHORIZE_ORDER = ("appid", "redirect_uri", "response_type", "scope", "state")
SCOPES = ("snsapi_base", "snsapi_userinfo")
FORCIBLE_ERRORS = (40029, 40163, -1)
STATE_CHARS = frozenset(string.ascii_letters + string.digits)
MAX_STATE_BYTES = 128

_ERRMSG = {
    40029: "invalid code",
    40163: "code been used",
    40125: "invalid appsecret",
    40013: "invalid appid",
    40002: "invalid grant_type",
    41008: "missing code",
    -1: "system error",
}


class AuthorizeRefused(Exception):
    """The authorize link is refused on WeChat's own page (no redirect)."""

    def __init__(self, errcode: str, message: str) -> None:
        super().__init__(f"{errcode} {message}")
        self.errcode = errcode
        self.message = message


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    raw_query: str  # as received: WeChat matches the link's parameter order strictly
    user: str
    forced_error: int | None


def openid_for(ctx: SandboxContext, appid: str, user: str) -> str:
    """The user's openid under ``appid``: 28 characters, ``o`` + 27, the same every time (and recorded)."""
    openid = "o" + stable_token(ctx, "wechat-openid", appid, user)[:27]
    with ctx.store.transaction() as conn:
        web_store.record_openid(conn, openid=openid, appid=appid, user=user)
    return openid


def known_appids(ctx: SandboxContext) -> set[str]:
    """The official accounts this sandbox plays: the merchant's bound appid."""
    return {ctx.keys.wechat.appid}


def authorize(ctx: SandboxContext, request: AuthorizeRequest) -> str:
    """The URL WeChat redirects the phone to (``redirect_uri?code=…&state=…``), or AuthorizeRefused."""
    pairs = parse_qsl(request.raw_query, keep_blank_values=True)
    params = dict(pairs)
    for name, errcode in (("appid", "10012"), ("redirect_uri", "10011"), ("scope", "10010"), ("state", "10013")):
        if not params.get(name):
            raise AuthorizeRefused(errcode, f"{name} 不能为空")
    names = [name for name, _ in pairs if name in AUTHORIZE_ORDER]
    if tuple(names) != AUTHORIZE_ORDER:
        raise AuthorizeRefused("-1", "链接参数顺序不正确，请按 appid、redirect_uri、response_type、scope、state 的顺序")
    appid = params["appid"]
    if appid not in known_appids(ctx):
        raise AuthorizeRefused("40013", "invalid appid (不是本沙箱的服务号 AppID)")
    if params.get("response_type") != "code":
        raise AuthorizeRefused("10010", "response_type 必须为 code")
    if params["scope"] not in SCOPES:
        raise AuthorizeRefused("10005", "此公众号并没有这些scope的权限")
    state = params["state"]
    if len(state.encode()) > MAX_STATE_BYTES or not set(state) <= STATE_CHARS:
        raise AuthorizeRefused("10013", "state 只能是 a-zA-Z0-9，最长 128 字节")
    redirect_uri = params["redirect_uri"]
    if not same_host(redirect_uri, engine_host(ctx)):
        raise AuthorizeRefused("10003", "redirect_uri域名与后台配置不一致")
    code = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    with ctx.store.transaction() as conn:
        web_store.insert_code(
            conn,
            web_store.OauthCode(
                code=code,
                appid=appid,
                user=request.user,
                scope=params["scope"],
                forced_error=request.forced_error,
                created_at=ctx.now(GATEWAY),
                used_at=None,
            ),
        )
    return add_query(redirect_uri.partition("#")[0], {"code": code, "state": state})


def _error(errcode: int) -> dict[str, Any]:
    # errmsg carries a request id as WeChat's does, so clients must branch on errcode alone.
    return {"errcode": errcode, "errmsg": f"{_ERRMSG.get(errcode, 'error')}, rid: {secrets.token_hex(12)}"}


def read_app_secret(ctx: SandboxContext) -> str | None:
    """The official account's AppSecret from ``[wechatpay] oauth_secret_file``; None when there is none."""
    configured = ctx.settings.wechatpay.oauth_secret_file
    if configured is None:
        return None
    try:
        value = ctx.settings.path(configured).read_text("utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return value or None


def exchange_code(ctx: SandboxContext, params: dict[str, str]) -> dict[str, Any]:
    """The answer of ``/sns/oauth2/access_token`` (always JSON; errors as errcode/errmsg)."""
    appid = params.get("appid", "")
    if appid not in known_appids(ctx):
        return _error(40013)
    secret = read_app_secret(ctx)
    if secret is None or not hmac.compare_digest(params.get("secret", "").encode(), secret.encode()):
        return _error(40125)
    if params.get("grant_type") != "authorization_code":
        return _error(40002)
    value = params.get("code", "")
    if not value:
        return _error(41008)
    now = ctx.now(GATEWAY)
    with ctx.store.transaction() as conn:
        code = web_store.load_code(conn, value)
        if code is None or code.appid != appid:
            return _error(40029)
        if code.used_at is not None or now - code.created_at > CODE_TTL_S:
            return _error(40029)
        web_store.use_code(conn, value, now)
    if code.forced_error is not None:
        return _error(code.forced_error)
    return {
        "access_token": stable_token(ctx, "wechat-web-token", value) + secrets.token_urlsafe(24),
        "expires_in": ACCESS_TOKEN_TTL_S,
        "refresh_token": secrets.token_urlsafe(48),
        "openid": openid_for(ctx, appid, code.user),
        "scope": code.scope,
    }
