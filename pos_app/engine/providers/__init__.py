"""Gateway clients (DESIGN.md §3): wechatpay/ and alipay/ implement base.PaymentProvider.

``build_providers(settings, transport=..., clock=..., retry=...)`` is how the engine, the server and
the tests get them.
"""

from pos_app.engine.providers.common import Clock, RetryPolicy
from pos_app.engine.providers.factory import build_alipay, build_providers, build_wechatpay

__all__ = ["Clock", "RetryPolicy", "build_alipay", "build_providers", "build_wechatpay"]
