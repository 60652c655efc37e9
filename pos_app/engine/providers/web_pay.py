"""The clients the one-QR and store-QR pages need, built from Settings: the one place the official
account's AppSecret is read (``[wechatpay] oauth_secret_file``, owner-only like every key file).

``problem`` says, for the cashier, why the pages cannot be served (no AppSecret file, a public URL
the phones cannot open, a channel not configured); the engine then answers one_qr payments 409
``one_qr_unavailable`` and the till shows the per-channel codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from pos_app.config import Settings
from pos_app.domain.routing import Channel
from pos_app.engine.providers.alipay.client import AlipayClient
from pos_app.engine.providers.base import PaymentProvider
from pos_app.engine.providers.wechatpay.client import WechatPayClient
from pos_app.engine.providers.wechatpay.oauth import WechatOAuth
from pos_app.secret_files import KeyFileError, load_secret_bytes


@dataclass(frozen=True, eq=False)
class WebPayClients:
    wechat: WechatPayClient | None = None
    wechat_oauth: WechatOAuth | None = None
    alipay: AlipayClient | None = None
    alipay_oauth_url: str = ""
    #: Why the pages cannot be served (cashier-readable), or None when they can.
    problem: str | None = "One code for every wallet is not set up on this engine."

    async def aclose(self) -> None:
        if self.wechat_oauth is not None:
            await self.wechat_oauth.aclose()


def public_url_problem(public_url: str) -> str | None:
    """Why phones cannot open pages under ``public_url`` (None: they can)."""
    parts = urlsplit(public_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "The engine's public URL is not set up for phones — show a WeChat or Alipay code."
    if parts.query or parts.fragment:
        return "The engine's public URL carries a query — fix [engine] public_url."
    return None


def build_web_pay(
    settings: Settings,
    providers: Mapping[Channel, PaymentProvider],
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> WebPayClients:
    """The page clients over the already-built providers (sharing their connections and keys)."""
    wechat = providers.get(Channel.WECHAT)
    alipay = providers.get(Channel.ALIPAY)
    if not isinstance(wechat, WechatPayClient) or not isinstance(alipay, AlipayClient):
        return WebPayClients(problem="One code for every wallet needs both WeChat Pay and Alipay set up.")
    problem = public_url_problem(settings.engine.public_url)
    if problem is not None:
        return WebPayClients(problem=problem)
    wx = settings.wechatpay
    if wx.oauth_secret_file is None:
        return WebPayClients(problem="The WeChat official account's AppSecret is not set up — use the WeChat code.")
    try:
        secret = load_secret_bytes(settings.path(wx.oauth_secret_file)).decode("ascii").strip()
    except (KeyFileError, UnicodeDecodeError):
        # The reason names the file, never its content; the operator's fix is in `pos doctor`.
        return WebPayClients(problem="The WeChat official account's AppSecret file is missing or unreadable.")
    if not secret:
        return WebPayClients(problem="The WeChat official account's AppSecret file is empty.")
    oauth = WechatOAuth(
        appid=wx.appid,
        secret=secret,
        oauth_url=wx.oauth_url,
        sns_url=wx.sns_url,
        transport=transport,
        timeout_s=settings.engine.request_timeout_s,
    )
    return WebPayClients(
        wechat=wechat, wechat_oauth=oauth, alipay=alipay, alipay_oauth_url=settings.alipay.oauth_url, problem=None
    )
