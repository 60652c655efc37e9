"""WeChat Pay's notifications (spec §3): signature and time window, AEAD decryption, and the
checks that the resource belongs to this merchant before it may change a payment.

The checks' findings travel with the notification (``problems``) and the engine keeps such a
notification for attention instead of applying it (``engine.notify.checks``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pos_app.domain.routing import Channel
from pos_app.engine.crypto.aead import DecryptionFailed, decrypt_resource
from pos_app.engine.providers.base import Notification, NotificationInvalid, OutcomeUnknownError
from pos_app.engine.providers.wechatpay.results import as_mapping, int_or_none, refund_result, trade_result
from pos_app.engine.providers.wechatpay.signing import SignatureRejected
from pos_app.engine.providers.wechatpay.verifier import WechatPayVerifier


class UnknownSigningKey(NotificationInvalid):
    """Signed by a platform certificate not known yet (a rotation): answered 5xx so WeChat sends it
    again, while the client refreshes its certificate list."""


class NotificationParser:
    """Verifies, decrypts and checks one merchant's WeChat Pay notifications."""

    channel = Channel.WECHAT

    def __init__(self, *, mchid: str, appid: str, apiv3_key: bytes, verifier: WechatPayVerifier) -> None:
        self.mchid = mchid
        self.appid = appid
        self._apiv3_key = apiv3_key
        self.verifier = verifier

    def parse(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """Raw bytes + headers → verified, decrypted Notification, or NotificationInvalid (4xx/5xx;
        :class:`UnknownSigningKey` when the signing key is not known yet)."""
        try:
            self.verifier.verify(headers, body)
        except SignatureRejected as exc:
            if exc.unknown_serial and self.verifier.use_platform_certificates:
                reason = f"notification signed by an unknown key: {exc.reason}"
                raise UnknownSigningKey(reason, status_code=503) from None
            raise NotificationInvalid(f"notification signature refused: {exc.reason}", status_code=401) from None
        try:
            envelope = json.loads(body)
            resource = envelope["resource"]
            event_id = str(envelope["id"])
            event_type = str(envelope["event_type"])
            if resource.get("algorithm") != "AEAD_AES_256_GCM":
                raise NotificationInvalid("unsupported resource algorithm")
            plain = decrypt_resource(
                self._apiv3_key, resource["nonce"], resource.get("associated_data") or "", resource["ciphertext"]
            )
            data = json.loads(plain)
        except NotificationInvalid:
            raise
        except DecryptionFailed:
            raise NotificationInvalid("notification resource did not decrypt (check the APIv3 key)") from None
        except (ValueError, KeyError, TypeError, AttributeError):
            raise NotificationInvalid("notification body is not the expected JSON") from None
        if not isinstance(data, dict):
            raise NotificationInvalid("notification resource is not a JSON object")
        out_trade_no = data.get("out_trade_no")
        try:
            if event_type == "TRANSACTION.SUCCESS":
                return Notification(
                    channel=self.channel,
                    event_id=event_id,
                    kind="payment",
                    out_trade_no=out_trade_no,
                    trade=trade_result(data),
                    event_type=event_type,
                    raw=data,
                    problems=self._payment_problems(data),
                )
            if event_type.startswith("REFUND."):
                return Notification(
                    channel=self.channel,
                    event_id=event_id,
                    kind="refund",
                    out_trade_no=out_trade_no,
                    refund=refund_result(data),
                    event_type=event_type,
                    raw=data,
                    problems=self._refund_problems(event_type, data),
                )
        except OutcomeUnknownError as exc:
            raise NotificationInvalid(f"notification resource not understood: {exc.code}") from None
        return Notification(
            channel=self.channel,
            event_id=event_id,
            kind="other",
            out_trade_no=out_trade_no,
            event_type=event_type,
            raw=data,
        )

    def _merchant_problems(self, data: Mapping[str, Any], *, appid: bool) -> list[str]:
        problems = []
        if data.get("mchid") != self.mchid:
            problems.append(f"mchid {str(data.get('mchid'))[:16]!r} is not this merchant's")
        if appid and data.get("appid") != self.appid:
            problems.append(f"appid {str(data.get('appid'))[:20]!r} is not this merchant's")
        return problems

    def _payment_problems(self, data: Mapping[str, Any]) -> tuple[str, ...]:
        """TRANSACTION.SUCCESS: our merchant and app, a paid resource, and an amount to check."""
        problems = self._merchant_problems(data, appid=True)
        if data.get("trade_state") != "SUCCESS":
            problems.append(f"TRANSACTION.SUCCESS whose trade_state is {str(data.get('trade_state'))[:16]!r}")
        if int_or_none(as_mapping(data.get("amount")).get("total")) is None:
            problems.append("TRANSACTION.SUCCESS without amount.total")
        return tuple(problems)

    def _refund_problems(self, event_type: str, data: Mapping[str, Any]) -> tuple[str, ...]:
        """REFUND.*: our merchant (refund resources carry no appid), the status the event names, an amount."""
        problems = self._merchant_problems(data, appid=False)
        status = str(data.get("refund_status") or data.get("status") or "")
        if event_type.removeprefix("REFUND.") != status:
            problems.append(f"{event_type[:24]} whose refund_status is {status[:16]!r}")
        if int_or_none(as_mapping(data.get("amount")).get("refund")) is None:
            problems.append(f"{event_type[:24]} without amount.refund")
        return tuple(problems)
