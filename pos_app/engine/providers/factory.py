"""Build the configured providers from Settings: the one place keys are loaded (0600 enforced)."""

from __future__ import annotations

import httpx

from pos_app.config import Settings
from pos_app.domain.routing import Channel
from pos_app.engine.crypto.aead import APIV3_KEY_LEN
from pos_app.engine.crypto.keys import load_private_key, load_public_key
from pos_app.engine.providers.alipay.client import AlipayClient
from pos_app.engine.providers.base import ConfigurationError, PaymentProvider
from pos_app.engine.providers.common import Clock, RetryPolicy, system_clock
from pos_app.engine.providers.wechatpay.client import WechatPayClient
from pos_app.engine.providers.wechatpay.verifier import WechatPayVerifier
from pos_app.secret_files import KeyFileError, load_secret_bytes


def build_wechatpay(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
    retry: RetryPolicy | None = None,
) -> WechatPayClient:
    wx = settings.wechatpay
    now = clock or system_clock
    apiv3_key = load_secret_bytes(settings.path(wx.apiv3_key_file), length=APIV3_KEY_LEN)
    public_key = None
    public_key_id = None
    if wx.platform_public_key is not None and wx.platform_public_key_id:
        public_key = load_public_key(settings.path(wx.platform_public_key))
        public_key_id = wx.platform_public_key_id
    elif wx.verify_mode == "public_key":
        raise KeyFileError("[wechatpay] verify_mode = public_key needs platform_public_key and platform_public_key_id.")
    # platform_cert mode with a public key configured too = the migration's combined verifier.
    verifier = WechatPayVerifier(
        apiv3_key=apiv3_key,
        public_key_id=public_key_id,
        public_key=public_key,
        use_platform_certificates=wx.verify_mode == "platform_cert",
        clock=now,
    )
    return WechatPayClient(
        mchid=wx.mchid,
        appid=wx.appid,
        merchant_serial_no=wx.merchant_serial_no,
        merchant_private_key=load_private_key(settings.path(wx.merchant_private_key)),
        apiv3_key=apiv3_key,
        verifier=verifier,
        base_url=wx.base_url,
        transport=transport,
        timeout_s=settings.engine.request_timeout_s,
        clock=now,
        retry=retry,
    )


def build_alipay(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
    retry: RetryPolicy | None = None,
) -> AlipayClient:
    ali = settings.alipay
    return AlipayClient(
        app_id=ali.app_id,
        app_private_key=load_private_key(settings.path(ali.app_private_key)),
        alipay_public_key=load_public_key(settings.path(ali.alipay_public_key)),
        gateway=ali.gateway,
        seller_id=ali.seller_id,
        transport=transport,
        timeout_s=settings.engine.request_timeout_s,
        clock=clock or system_clock,
        retry=retry,
    )


def build_providers(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
    retry: RetryPolicy | None = None,
) -> dict[Channel, PaymentProvider]:
    """The enabled providers, keyed by channel. Raises ConfigurationError naming the problem
    (a missing/too-open key file, missing ids), never the key material."""
    providers: dict[Channel, PaymentProvider] = {}
    try:
        if settings.wechatpay.enabled:
            _require(settings.wechatpay.mchid, "[wechatpay] mchid")
            _require(settings.wechatpay.appid, "[wechatpay] appid")
            _require(settings.wechatpay.merchant_serial_no, "[wechatpay] merchant_serial_no")
            providers[Channel.WECHAT] = build_wechatpay(settings, transport=transport, clock=clock, retry=retry)
        if settings.alipay.enabled:
            _require(settings.alipay.app_id, "[alipay] app_id")
            providers[Channel.ALIPAY] = build_alipay(settings, transport=transport, clock=clock, retry=retry)
    except KeyFileError as exc:
        raise ConfigurationError(str(exc), code="KEY_FILE") from None
    return providers


def _require(value: str, name: str) -> None:
    if not value:
        raise ConfigurationError(f"{name} is not set in the configuration.", code="MISSING_SETTING")
