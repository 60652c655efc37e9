"""One POST /notify/<channel>: size limit → verify + decrypt → store → the gateway's exact answer."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping

from pos_app.domain.routing import Channel
from pos_app.engine.notify.records import DUPLICATE
from pos_app.engine.providers.base import Notification, NotificationAck, NotificationInvalid, PaymentProvider

log = logging.getLogger(__name__)

#: Record + apply + mark applied in one committed transaction; returns the outcome (or DUPLICATE).
Store = Callable[[Notification, bytes], Awaitable[str]]


def _refusal(provider: PaymentProvider, status_code: int) -> NotificationAck:
    return dataclasses.replace(provider.ack(False), status_code=status_code)


async def process(
    *,
    channel: Channel,
    provider: PaymentProvider | None,
    headers: Mapping[str, str],
    body: bytes,
    max_body_bytes: int,
    store: Store,
) -> NotificationAck:
    """The whole pipeline for one notification. Never raises: always an answer for the gateway."""
    if provider is None:
        log.warning("notification for %s, which is not configured: refused", channel.value)
        return NotificationAck(404, b"", "text/plain")
    if len(body) > max_body_bytes:
        log.warning("%s notification of %d bytes refused (limit %d)", channel.value, len(body), max_body_bytes)
        return _refusal(provider, 413)
    try:
        notification = provider.parse_notification(headers, body)
    except NotificationInvalid as exc:
        # The reason names what failed (signature, window, decryption), never key material.
        log.warning("%s notification refused: %s", channel.value, exc.reason)
        return _refusal(provider, exc.status_code)
    except Exception:
        log.exception("%s notification could not be parsed", channel.value)
        return _refusal(provider, 400)
    try:
        outcome = await store(notification, body)
    except Exception:
        # Not acknowledged: the gateway sends it again (and the resolver applies a recorded row).
        log.exception("%s notification %s could not be stored", channel.value, notification.event_id)
        return _refusal(provider, 500)
    if outcome == DUPLICATE:
        log.info("%s notification %s is a duplicate: nothing to do", channel.value, notification.event_id)
    return provider.ack(True)
