"""build_providers: keys loaded from the profile (PKCS#1 and PKCS#8), 0600 enforced, no secrets in errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pos_app.config import Settings, load_settings
from pos_app.domain.routing import Channel
from pos_app.engine.providers import build_providers
from pos_app.engine.providers.alipay.client import AlipayClient
from pos_app.engine.providers.base import ConfigurationError
from pos_app.engine.providers.wechatpay.client import WechatPayClient
from pos_app.sandbox.demo import DemoProfile


async def test_builds_both_providers_from_the_demo_profile(demo_settings: Settings) -> None:
    assert "RSA PRIVATE KEY" in demo_settings.path(demo_settings.alipay.app_private_key).read_text()  # PKCS#1
    assert "BEGIN PRIVATE KEY" in demo_settings.path(demo_settings.wechatpay.merchant_private_key).read_text()
    providers = build_providers(demo_settings)
    try:
        assert set(providers) == {Channel.WECHAT, Channel.ALIPAY}
        assert isinstance(providers[Channel.WECHAT], WechatPayClient)
        assert isinstance(providers[Channel.ALIPAY], AlipayClient)
        assert providers[Channel.WECHAT].channel is Channel.WECHAT
        wechat = providers[Channel.WECHAT]
        assert isinstance(wechat, WechatPayClient)
        assert wechat.verifier.public_key_id == demo_settings.wechatpay.platform_public_key_id
        assert not wechat.verifier.use_platform_certificates
    finally:
        for provider in providers.values():
            await provider.aclose()


def test_key_readable_by_others_is_refused(demo_profile: DemoProfile) -> None:
    settings = load_settings(demo_profile.config)
    key_file: Path = settings.path(settings.wechatpay.merchant_private_key)
    secret = key_file.read_text()
    key_file.chmod(0o644)
    with pytest.raises(ConfigurationError) as info:
        build_providers(settings)
    assert str(key_file) in info.value.reason and "chmod 600" in info.value.reason
    body_line = secret.splitlines()[1]
    assert body_line not in str(info.value)


def test_disabled_channels_are_left_out_and_missing_ids_named(demo_settings: Settings) -> None:
    only_alipay = demo_settings.model_copy(
        update={"wechatpay": demo_settings.wechatpay.model_copy(update={"enabled": False})}
    )
    assert set(build_providers(only_alipay)) == {Channel.ALIPAY}
    no_app = demo_settings.model_copy(update={"alipay": demo_settings.alipay.model_copy(update={"app_id": ""})})
    with pytest.raises(ConfigurationError, match=r"\[alipay\] app_id"):
        build_providers(no_app)
