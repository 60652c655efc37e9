"""What both wallets' web authorization (OAuth) simulators share: the simulated user, stable ids, the
allowed-domain checks and the wallets' own error page.

**The simulated user.** A real wallet knows who is logged in; the sandbox learns it from a header that
only the simulated phone sends, and only to the wallets' own authorize pages (never to the engine):
see :mod:`pos_app.sandbox.simulated_user`. A scripted OAuth failure travels the same way and is bound
to the code that the authorize page issues.

**Where pages may live.** The OAuth domain (WeChat 网页授权域名), the pay directory (支付授权目录) and
the Alipay callback address are configured by hand at the real gateways; here they default to the host
of ``[engine] public_url`` — the pages the engine serves. The domain rule compares host names only: the
real settings accept no port, and a demo engine listens on a loopback port.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
from urllib.parse import urlencode, urlsplit

from fastapi.responses import HTMLResponse

from pos_app.sandbox.context import SandboxContext

#: The bridge-check endpoints answer pages of any origin: a headless browser running the engine's page
#: calls them from the page (see pos_app.sandbox.phone.bridge_js). Sandbox-only endpoints, no secrets.
BRIDGE_CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Max-Age": "600",
}


def _identity_key(ctx: SandboxContext) -> bytes:
    # Derived from a sandbox-only secret so ids are stable across restarts yet unguessable outside.
    return hashlib.sha256(b"pos-sandbox-identities\0" + ctx.keys.wechat.apiv3_key).digest()


def stable_token(ctx: SandboxContext, *parts: str) -> str:
    """A URL-safe Base64 digest of ``parts`` (43 characters), the same every time for the same parts."""
    digest = hmac.new(_identity_key(ctx), "\0".join(parts).encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def stable_digits(ctx: SandboxContext, n: int, *parts: str) -> str:
    digest = hmac.new(_identity_key(ctx), "\0".join(parts).encode("utf-8"), hashlib.sha256).digest()
    return str(int.from_bytes(digest, "big"))[-n:].rjust(n, "0")


def engine_host(ctx: SandboxContext) -> str:
    """The host name of ``[engine] public_url``: the configured OAuth domain / callback host."""
    return (urlsplit(ctx.settings.engine.public_url).hostname or "").lower()


def pay_directory(ctx: SandboxContext) -> str:
    """The configured 支付授权目录: the engine's scheme and host (domain-only form, ends in ``/``)."""
    parts = urlsplit(ctx.settings.engine.public_url)
    return f"{parts.scheme}://{parts.netloc}/"


def same_host(url: str, host: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(host) and (parts.hostname or "").lower() == host


def add_query(url: str, params: dict[str, str]) -> str:
    """``url`` with ``params`` appended (``&`` when it already has a query), keeping any fragment last."""
    base, hash_mark, fragment = url.partition("#")
    joined = base + ("&" if "?" in base else "?") + urlencode(params)
    return joined + hash_mark + fragment


def wallet_error_page(wallet: str, code: str, message: str, *, status: int = 200) -> HTMLResponse:
    """The wallet's own error page (no redirect). ``data-errcode`` lets the phone report the code."""
    title = "微信" if wallet == "wechat" else "支付宝"
    body = (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{title}</title></head><body>"
        f"<div id='wallet-error' data-wallet='{html.escape(wallet)}' data-errcode='{html.escape(code)}'>"
        f"<h1>{title}</h1><p>{html.escape(message)}</p><p>错误码: {html.escape(code)}</p></div></body></html>"
    )
    return HTMLResponse(body, status_code=status)
