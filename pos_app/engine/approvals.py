"""The checks money going back must pass before any gateway call: a manager's approval, daily limits.

A refund or a void names a manager of the payment's store and carries their PIN (in the signed
body); the engine checks the PIN itself (scrypt, constant time) and locks that manager's approvals
for a growing time after repeated wrong PINs. Refunds are also held to per-till and per-store daily
limits (``[engine] refund_limit_terminal_fen`` / ``refund_limit_store_fen``).
"""

from __future__ import annotations

import asyncio
import logging

from pydantic import SecretStr
from sqlmodel import Session

from pos_app.domain.errors import AuthorisationError
from pos_app.domain.money import format_fen
from pos_app.engine.context import EngineContext
from pos_app.engine.store import managers
from pos_app.engine.store.models import Payment
from pos_app.engine.store.refund_totals import lock_store_refunds, refunded_today_fen

log = logging.getLogger(__name__)


class ApprovalRefused(AuthorisationError):
    """No approval, or one the engine does not accept: nothing was sent to the gateway."""


class RefundLimitExceeded(AuthorisationError):
    """The refund would take the till or the store over today's refund limit."""


class Approvals:
    """Checks a manager's approval for a refund or void of one store's payment."""

    def __init__(self, ctx: EngineContext) -> None:
        self._ctx = ctx

    async def check(self, store_id: str, approver: str | None, pin: SecretStr | None, *, action: str) -> str:
        """The approving manager's name, or :class:`ApprovalRefused` saying what to do.

        ``action`` names what is approved, as the cashier reads it ("Refund", "Void").
        """
        ctx = self._ctx
        if not approver or pin is None:
            raise ApprovalRefused(f"{action} needs a manager's approval — ask a manager to enter their PIN.")
        now = ctx.now()
        manager = await ctx.tx.read(managers.find_manager, store_id, approver)
        if manager is not None and manager.locked_until is not None and now < manager.locked_until:
            until = manager.locked_until.astimezone(ctx.business_tz)
            raise ApprovalRefused(
                f"Too many wrong PINs for {approver}: their approvals are locked until {until:%H:%M:%S} — "
                "try again then, or ask head office."
            )
        usable = manager is not None and not manager.disabled
        # Scrypt runs even for an unknown or disabled manager, so the answer's timing tells nothing.
        stored = manager.pin_hash if manager is not None and usable else None
        matches = await asyncio.to_thread(managers.pin_matches, pin.get_secret_value(), stored)
        if manager is not None and manager.id is not None:
            await ctx.tx.write(managers.record_pin_check, manager.id, ok=matches and usable, now=now)
        if not (matches and usable):
            log.warning("%s of store %s: approval by %r refused", action, store_id, approver)
            raise ApprovalRefused(
                f"The engine did not accept {approver}'s approval (not a manager of store {store_id} on the "
                f"engine, or another PIN) — the {action.lower()} was not made. Check the PIN; head office "
                "manages the engine's managers."
            )
        return manager.name if manager is not None else approver


def check_refund_limits(ctx: EngineContext, session: Session, payment: Payment, amount_fen: int) -> None:
    """Inside the refund's reserving transaction: refuse a refund over today's till or store limit."""
    engine = ctx.settings.engine
    day = ctx.business_day(ctx.now())
    lock_store_refunds(session, payment.store_id)
    till = refunded_today_fen(session, day, terminal_id=payment.terminal_id)
    if till + amount_fen > engine.refund_limit_terminal_fen:
        raise RefundLimitExceeded(
            f"Today's refund limit for this till ({format_fen(engine.refund_limit_terminal_fen)}) would be "
            "exceeded — ask head office."
        )
    store = refunded_today_fen(session, day, store_id=payment.store_id)
    if store + amount_fen > engine.refund_limit_store_fen:
        raise RefundLimitExceeded(
            f"Today's refund limit for this store ({format_fen(engine.refund_limit_store_fen)}) would be "
            "exceeded — ask head office."
        )
