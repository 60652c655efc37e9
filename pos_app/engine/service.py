"""The payment engine's use cases: create, poll, cancel, void, refund, notifications, the resolver.

The server (HTTP routes) calls :class:`PaymentService`; the service owns every transaction and every
gateway call. Rules it keeps (DESIGN.md §5, specs/):

- Every state change goes through the domain state machine and is applied with a compare-and-set on
  the payment row (``store.repo``), in the same transaction as the status event the terminals'
  event stream reads. With several engine processes on one PostgreSQL exactly one applies each change.
- The customer's payment code is sent once, held in memory only for that call, and never stored or
  logged (only its last 4 digits).
- Unknown outcomes are settled by query, then close (native) / reverse-cancel (micropay), repeated
  until definite. The resolver finds every unsettled payment in the ledger — after a restart, from
  any process — and a payment that cannot be settled is flagged ``needs_attention``, never dropped.

Database work is synchronous SQLAlchemy run in worker threads (``asyncio.to_thread``) so a busy
database never blocks the event loop; gateway calls are async.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo
from types import SimpleNamespace
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Engine, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col

from pos_app.api.schemas import (
    CancelPayment,
    ChannelTotals,
    CreatePayment,
    CreateRefund,
    DailyReport,
    PaymentEvent,
    PaymentView,
    RefundView,
)
from pos_app.config import Settings
from pos_app.domain.china_time import CHINA_TZ
from pos_app.domain.errors import AuthCodeError, InputError, OutcomeUnknown, PosError
from pos_app.domain.ids import check_gateway_safe
from pos_app.domain.money import format_fen
from pos_app.domain.routing import Channel, PaymentMode, mask_code, route_auth_code
from pos_app.domain.states import (
    MONEY_IN_STATES,
    REFUND_TRANSITIONS,
    SETTLED_STATES,
    PaymentState,
    RefundState,
    can_transition,
)
from pos_app.engine import notify
from pos_app.engine.providers.base import (
    ConfigurationError,
    DefiniteFailure,
    Notification,
    NotificationAck,
    OrderNotFound,
    PaymentProvider,
    RefundResult,
    ReverseResult,
    TradeResult,
)
from pos_app.engine.store import repo
from pos_app.engine.store.db import SQLITE_BUSY_TIMEOUT_MS, is_sqlite, reader
from pos_app.engine.store.hotpath import HotPath, dbapi_cursor, hot_path
from pos_app.engine.store.models import Payment, Refund

log = logging.getLogger(__name__)

T = TypeVar("T")
Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]

#: Business days (daily report, same-day voids) follow China Standard Time, the gateways' zone.
#: How long a native QR code may be paid before the engine closes the order.
QR_LIFETIME = timedelta(minutes=5)
#: Micropay USER_PAYING / UNKNOWN: query this often...
POLL_INTERVAL_S = 5.0
#: ...until this long after the submit, then reverse (WeChat) / cancel (Alipay).
MICROPAY_DEADLINES: Mapping[Channel, timedelta] = {
    Channel.WECHAT: timedelta(seconds=45),
    Channel.ALIPAY: timedelta(seconds=60),
}
#: Pauses between repeated reverse/cancel calls (retry_flag=Y or no answer) inside one settle run.
REVERSE_BACKOFF_S = (2.0, 4.0, 8.0, 15.0, 30.0)
#: Unanswered gateway calls for one payment before it is flagged for a person to look at.
ATTENTION_AFTER = 10
#: A process settling a payment holds it this long; another process takes over after that. The
#: holder renews it every LEASE_RENEW_S while it lives, so a dead process's payments are taken over
#: by another process's resolver within LEASE (+ one resolver interval).
LEASE = timedelta(seconds=10)
LEASE_RENEW_S = 3.0
#: Notifications written in one transaction at most (group commit on SQLite).
NOTIFY_BATCH = 128
#: A refund still PROCESSING is polled this often by its background task, this many times.
REFUND_POLLS = 12


class PaymentNotFound(PosError):
    default_message = "No such payment on this terminal — check the order number."


class RefundNotFound(PosError):
    default_message = "No such refund for this payment — check the refund number."


class IdempotencyConflict(PosError):
    """The same out_trade_no / out_refund_no was used before with different details."""

    default_message = "That order number was already used for a different sale — start a new sale."


class PaymentStateError(PosError):
    """The action is not possible in the payment's current state."""


class RefundAmountError(InputError):
    """A refund over what is left to refund."""


class ChannelUnavailable(PosError):
    default_message = "That payment method is not set up on this engine — use another one."


class _StaleRow(Exception):
    """Another process changed the row between our read and our compare-and-set: read again."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _commit_batch(session: Session, began: Connection | None) -> None:
    """(Worker thread.) Commit a notification batch: the session's own transaction, or the one
    :meth:`PaymentService._begin_if_free` began on ``began`` (after flushing the session's ORM work)."""
    if began is None:
        session.commit()
    else:
        session.flush()
        began.commit()


def _notify_path(channel: Channel) -> str:
    return {Channel.WECHAT: "/notify/wechatpay", Channel.ALIPAY: "/notify/alipay"}[channel]


def _result(result: str | Exception) -> str:
    if isinstance(result, Exception):
        raise result
    return result


def _short(exc: BaseException) -> str:
    """An exception as an attempt detail: the gateway code and class, never request data."""
    code = getattr(exc, "code", None)
    return f"{type(exc).__name__}{f' {code}' if code else ''}"


class PaymentService:
    """The engine's use cases. One instance per engine process; all state lives in the ledger."""

    def __init__(
        self,
        ledger: Engine,
        providers: Mapping[Channel, PaymentProvider],
        settings: Settings,
        *,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        business_tz: tzinfo = CHINA_TZ,
        qr_lifetime: timedelta = QR_LIFETIME,
        poll_interval_s: float = POLL_INTERVAL_S,
        micropay_deadlines: Mapping[Channel, timedelta] = MICROPAY_DEADLINES,
        attention_after: int = ATTENTION_AFTER,
    ) -> None:
        self._engine = ledger
        self._reader = reader(ledger)
        self._providers = dict(providers)
        self._settings = settings
        self._clock: Clock = clock or _utcnow
        self._sleep: Sleep = sleep or asyncio.sleep
        self._tz = business_tz
        self._qr_lifetime = qr_lifetime
        self._poll_interval_s = poll_interval_s
        self._deadlines = dict(micropay_deadlines)
        self._attention_after = attention_after
        self._tasks: set[asyncio.Task[None]] = set()
        self._driving: set[str] = set()  # payments/refunds a task of this process is settling
        self._wakeup = asyncio.Event()
        #: Names this process on the leases it holds (renewed while it lives).
        self._owner = f"{os.getpid()}-{secrets.token_hex(8)}"
        # Group commit: notifications waiting for the writer task, which commits them together.
        self._group_commit = is_sqlite(ledger)
        self._notify_queue: list[tuple[Notification, bytes, asyncio.Future[str]]] = []
        self._notify_writer: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ plumbing

    def _now(self) -> datetime:
        return self._clock()

    def business_day(self, at: datetime) -> str:
        return at.astimezone(self._tz).date().isoformat()

    def _tx(self, engine: Engine, fn: Callable[..., T], *args: Any) -> T:
        with Session(engine, expire_on_commit=False) as session:
            result = fn(session, *args)
            session.commit()
            return result

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(session, *args)`` in one (writing) transaction in a worker thread."""
        return await asyncio.to_thread(self._tx, self._engine, fn, *args)

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        """Like :meth:`_db` for work that only reads (no write lock on SQLite)."""
        return await asyncio.to_thread(self._tx, self._reader, fn, *args)

    async def _mutate(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a read-decide-compare-and-set transaction, again if another process won the race."""
        for _ in range(8):
            try:
                result = await self._db(fn, *args)
            except _StaleRow:
                continue
            self._wake()
            return result
        raise PosError("The ledger is too busy — try again.")

    def _wake(self) -> None:
        waiting, self._wakeup = self._wakeup, asyncio.Event()
        waiting.set()

    def _spawn(self, key: str, work: Callable[[], Awaitable[None]]) -> None:
        async def run() -> None:
            try:
                await work()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background settling of %s failed; the resolver will retry", key)
            finally:
                self._driving.discard(key)

        self._driving.add(key)
        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait_idle(self) -> None:
        """Wait until every background settling task of this process has finished (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Stop background tasks (their payments stay in the ledger for the resolver)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        writer = self._notify_writer
        if writer is not None and not writer.done() and writer.get_loop() is asyncio.get_running_loop():
            await asyncio.gather(writer, return_exceptions=True)  # lets queued notifications commit

    # ------------------------------------------------------------------ settling leases

    async def _renew_lease(self, out_trade_no: str) -> bool:
        until = self._now() + LEASE

        def renew(session: Session) -> bool:
            return repo.renew_lease(session, out_trade_no, self._owner, until)

        return await self._db(renew)

    @contextlib.asynccontextmanager
    async def _leased(self, out_trade_no: str) -> AsyncIterator[None]:
        """While the block runs, renew this process's lease on the payment every LEASE_RENEW_S (real
        time: a long gateway call must not let the lease lapse while this process is alive)."""

        async def keep() -> None:
            while True:
                await asyncio.sleep(LEASE_RENEW_S)
                try:
                    if not await self._renew_lease(out_trade_no):
                        return  # released, settled, or taken over
                except Exception:
                    log.warning("could not renew the lease on %s", out_trade_no, exc_info=True)

        keeper = asyncio.get_running_loop().create_task(keep())
        try:
            yield
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)

    def _provider(self, channel: Channel) -> PaymentProvider:
        provider = self._providers.get(channel)
        if provider is None:
            raise ChannelUnavailable(f"{channel.label} is not set up on this engine — use another payment method.")
        return provider

    def _notify_url(self, channel: Channel) -> str:
        return self._settings.engine.public_url.rstrip("/") + _notify_path(channel)

    async def _attempt(
        self, out_trade_no: str, op: str, outcome: str, detail: str | None = None, out_refund_no: str | None = None
    ) -> None:
        def write(session: Session) -> None:
            repo.record_attempt(
                session, out_trade_no, op, outcome, self._now(), detail=detail, out_refund_no=out_refund_no
            )

        await self._db(write)

    async def _load(self, out_trade_no: str) -> Payment:
        def read(session: Session) -> Payment | None:
            return repo.get_payment(session, out_trade_no)

        payment = await self._read(read)
        if payment is None:
            raise PaymentNotFound()
        return payment

    async def _load_for_terminal(self, terminal_id: str, out_trade_no: str) -> Payment:
        payment = await self._load(out_trade_no)
        if payment.terminal_id != terminal_id:
            raise PaymentNotFound()
        return payment

    # ------------------------------------------------------------------ create

    async def create_payment(self, terminal_id: str, store_id: str, req: CreatePayment) -> PaymentView:
        """Start a payment, or return the existing one for a repeated request (never sending a code twice)."""
        check_gateway_safe(req.out_trade_no)
        auth_code: str | None = None
        if req.mode == PaymentMode.CASH:
            raise InputError("Cash sales are recorded by the terminal, not sent to the payment engine.")
        if req.mode == PaymentMode.MICROPAY:
            if not req.auth_code:
                raise AuthCodeError("Scan the customer's payment code first.")
            routed = route_auth_code(req.auth_code)  # refuses a bad code before any network call
            if req.channel is not None and req.channel != routed.channel:
                raise AuthCodeError(
                    f"That is a {routed.channel.label} payment code, not {req.channel.label} — check and scan again."
                )
            channel, auth_code = routed.channel, routed.auth_code
        else:
            if req.auth_code:
                raise InputError("A QR payment takes no payment code — choose scan-to-pay instead.")
            if req.channel not in (Channel.WECHAT, Channel.ALIPAY):
                raise InputError("Choose WeChat Pay or Alipay for a QR payment.")
            channel = req.channel
        provider = self._provider(channel)
        now = self._now()
        row = Payment(
            out_trade_no=req.out_trade_no,
            terminal_id=terminal_id,
            store_id=store_id,
            channel=channel.value,
            mode=req.mode.value,
            amount_fen=req.amount_fen,
            subject=req.subject,
            operator=req.operator,
            state=(PaymentState.SUBMITTED if auth_code is not None else PaymentState.CREATED).value,
            business_day=self.business_day(now),
            created_at=now,
            updated_at=now,
        )
        if auth_code is not None:
            deadline = now + self._deadlines[channel]
            row.masked_auth_code = mask_code(auth_code)
            row.deadline_at = deadline
            row.lease_until = now + LEASE  # this process settles it (renewing); others wait for the lease
            row.lease_owner = self._owner
        else:
            row.expires_at = now + self._qr_lifetime
        existing, created = await self._insert_payment(row)
        if not created:
            self._check_same_request(existing, row)
            if (
                existing.mode == PaymentMode.NATIVE.value
                and existing.code_url is None
                and existing.state in (PaymentState.CREATED.value, PaymentState.UNKNOWN.value)
                and existing.expires_at is not None
                and now < existing.expires_at
            ):
                # Creating a native order again with identical parameters is allowed by both gateways.
                return await self._submit_native(existing, provider)
            return repo.payment_view(existing)
        self._wake()
        if auth_code is not None:
            return await self._submit_micropay(existing, provider, auth_code)
        return await self._submit_native(existing, provider)

    async def _insert_payment(self, row: Payment) -> tuple[Payment, bool]:
        def insert(session: Session) -> tuple[Payment, bool]:
            session.add(row)
            session.flush()
            repo.append_event(session, repo.payment_view(row), row.created_at)
            return row, True

        try:
            return await self._db(insert)
        except IntegrityError:
            # The out_trade_no is taken: a repeated request (or another process got there first).
            # Inserting first and reading only then spares every new payment a lookup.
            return await self._load(row.out_trade_no), False

    @staticmethod
    def _check_same_request(existing: Payment, new: Payment) -> None:
        fields = ("terminal_id", "store_id", "channel", "mode", "amount_fen", "subject", "masked_auth_code")
        differing = [f for f in fields if getattr(existing, f) != getattr(new, f)]
        if differing:
            log.warning("out_trade_no %s reused with different %s", existing.out_trade_no, ", ".join(differing))
            raise IdempotencyConflict(
                f"Order number {existing.out_trade_no} was already used with a different "
                f"{', '.join(d.replace('_', ' ') for d in differing)} — start a new sale."
            )

    async def _submit_native(self, payment: Payment, provider: PaymentProvider) -> PaymentView:
        otn = payment.out_trade_no
        assert payment.expires_at is not None
        try:
            order = await provider.create_native(
                out_trade_no=otn,
                amount_fen=payment.amount_fen,
                subject=payment.subject,
                notify_url=self._notify_url(provider.channel),
                expires_at=payment.expires_at,
            )
        except (DefiniteFailure, ConfigurationError) as exc:
            await self._attempt(otn, "create_native", "failed", _short(exc))
            if isinstance(exc, ConfigurationError):
                log.error("native order %s refused by %s: %s", otn, provider.channel.value, exc.reason)
            result = TradeResult(otn, PaymentState.FAILED, reason=exc.reason, gateway_code=exc.code)
            return repo.payment_view(await self._apply_trade(otn, result, "create_native"))
        except Exception as exc:
            log.warning("native order %s: outcome unknown (%s)", otn, _short(exc))
            await self._attempt(otn, "create_native", "unknown", _short(exc))
            await self._note_unresolved(otn)
            result = TradeResult(otn, PaymentState.UNKNOWN)
            return repo.payment_view(await self._apply_trade(otn, result, "create_native"))

        def store(session: Session) -> Payment:
            # The attempt's record and the code in one transaction (one commit on the cashier's path).
            repo.record_attempt(session, otn, "create_native", "ok", self._now())
            p = repo.get_payment(session, otn, lock=True)
            assert p is not None
            if p.state not in (PaymentState.CREATED.value, PaymentState.UNKNOWN.value):
                return p  # a notification or a close got there first
            changes: dict[str, Any] = {
                "state": PaymentState.AWAITING_SCAN.value,
                "code_url": order.code_url,
                "expires_at": order.expires_at,
            }
            if not repo.cas_update_payment(session, p, changes, self._now()):
                raise _StaleRow()
            repo.append_event(session, repo.payment_view(p), self._now())
            return p

        return repo.payment_view(await self._mutate(store))

    async def _submit_micropay(self, payment: Payment, provider: PaymentProvider, auth_code: str) -> PaymentView:
        otn = payment.out_trade_no
        log.info(
            "micropay %s %s %s code %s",
            otn,
            provider.channel.value,
            format_fen(payment.amount_fen),
            payment.masked_auth_code,
            extra={
                "out_trade_no": otn,
                "channel": provider.channel.value,
                "amount_fen": payment.amount_fen,
                "auth_code": payment.masked_auth_code,
            },
        )
        try:
            result = await provider.micropay(
                out_trade_no=otn,
                amount_fen=payment.amount_fen,
                subject=payment.subject,
                auth_code=auth_code,
                store_id=payment.store_id,
                device_id=payment.terminal_id,
            )
            outcome = result.state.value.lower()
        except (DefiniteFailure, ConfigurationError) as exc:
            if isinstance(exc, ConfigurationError):
                log.error("micropay %s refused by %s: %s", otn, provider.channel.value, exc.reason)
            result = TradeResult(otn, PaymentState.FAILED, reason=exc.reason, gateway_code=exc.code)
            outcome = "failed"
        except Exception as exc:
            log.warning("micropay %s: outcome unknown (%s)", otn, _short(exc))
            result = TradeResult(otn, PaymentState.UNKNOWN)
            outcome = "unknown"
        del auth_code  # the code is never needed again: it is never sent twice
        await self._attempt(otn, "micropay", outcome, result.gateway_code)
        if result.state == PaymentState.AWAITING_SCAN:
            result = TradeResult(otn, PaymentState.USER_PAYING, raw=result.raw)
        updated = await self._apply_trade(otn, result, "micropay")
        if PaymentState(updated.state) not in SETTLED_STATES:
            self._spawn(otn, lambda: self._drive_micropay(otn))
        else:
            await self._release(otn)
        return repo.payment_view(updated)

    # ------------------------------------------------------------------ apply gateway answers

    def _trade_changes(self, p: Payment, r: TradeResult) -> dict[str, Any] | None:
        """What a gateway answer changes on the payment row (None: nothing — a repeat or a stale answer)."""
        current = PaymentState(p.state)
        target = r.state
        if target in (PaymentState.PARTIALLY_REFUNDED, PaymentState.REFUNDED):
            target = PaymentState.PAID  # refunds are tracked by the refunds table
        if target == PaymentState.AWAITING_SCAN and p.mode == PaymentMode.MICROPAY.value:
            target = PaymentState.USER_PAYING
        if target == PaymentState.UNKNOWN and current not in (PaymentState.CREATED, PaymentState.SUBMITTED):
            return None  # "don't know" adds nothing to what we know
        if target == PaymentState.PAID and r.amount_fen is not None and r.amount_fen != p.amount_fen:
            log.error(
                "payment %s: gateway says %s paid, ledger expects %s — flagged",
                p.out_trade_no,
                format_fen(r.amount_fen),
                format_fen(p.amount_fen),
            )
            if p.needs_attention:
                return None
            return {"needs_attention": True, "failure_reason": "The gateway reports a different amount — check it."}
        if current == target:
            fill: dict[str, Any] = {}
            if r.transaction_id and not p.transaction_id:
                fill["transaction_id"] = r.transaction_id
            if target == PaymentState.PAID and r.paid_at and not p.paid_at:
                fill["paid_at"] = r.paid_at
            return fill or None
        if can_transition(current, target):
            changes: dict[str, Any] = {"state": target.value}
            if r.transaction_id:
                changes["transaction_id"] = r.transaction_id
            if r.gateway_code:
                changes["gateway_code"] = r.gateway_code[:64]
            if target == PaymentState.PAID:
                changes["paid_at"] = r.paid_at or self._now()
                changes["failure_reason"] = None
            elif target == PaymentState.FAILED:
                changes["failure_reason"] = (r.reason or "The payment failed — ask for another payment method.")[:255]
            elif target == PaymentState.CLOSED:
                changes["failure_reason"] = (r.reason or "The order was closed unpaid.")[:255]
            elif target == PaymentState.REVERSED:
                changes["failure_reason"] = (r.reason or "Cancelled — no money was taken.")[:255]
            if target in SETTLED_STATES and current not in SETTLED_STATES:
                changes["needs_attention"] = False
                changes["lease_until"] = None
            return changes
        if target == PaymentState.PAID and current in (PaymentState.CLOSED, PaymentState.FAILED):
            # The gateway took money for an order we consider over: a person must refund it.
            log.error("payment %s is %s in the ledger but PAID at the gateway — flagged", p.out_trade_no, current)
            if p.needs_attention:
                return None
            changes = {"needs_attention": True, "failure_reason": "Paid after it was closed — refund the customer."}
            if r.transaction_id:
                changes["transaction_id"] = r.transaction_id
            return changes
        log.info("payment %s: ignoring stale %s (ledger %s)", p.out_trade_no, target.value, current.value)
        return None

    async def _apply_trade(self, out_trade_no: str, result: TradeResult, source: str) -> Payment:
        def apply(session: Session) -> Payment:
            p = repo.get_payment(session, out_trade_no, lock=True)
            if p is None:
                raise PaymentNotFound()
            before = p.state
            changes = self._trade_changes(p, result)
            if not changes:
                return p
            now = self._now()
            if not repo.cas_update_payment(session, p, changes, now):
                raise _StaleRow()
            repo.append_event(session, repo.payment_view(p), now)
            if p.state != before:
                log.info(
                    "payment %s %s -> %s (%s)",
                    out_trade_no,
                    before,
                    p.state,
                    source,
                    extra={"out_trade_no": out_trade_no, "from_state": before, "to_state": p.state, "source": source},
                )
            return p

        return await self._mutate(apply)

    async def _note_unresolved(self, out_trade_no: str) -> None:
        """Count a call that ended without a definite answer; flag the payment after ATTENTION_AFTER."""

        def bump(session: Session) -> Payment | None:
            session.exec(
                update(Payment)
                .where(col(Payment.out_trade_no) == out_trade_no)
                .values(failed_checks=Payment.failed_checks + 1)
            )
            p = repo.get_payment(session, out_trade_no, lock=True)
            if p is None or p.needs_attention or p.failed_checks < self._attention_after:
                return None
            if PaymentState(p.state) in SETTLED_STATES:
                return None
            now = self._now()
            if not repo.cas_update_payment(session, p, {"needs_attention": True}, now):
                raise _StaleRow()
            repo.append_event(session, repo.payment_view(p), now)
            return p

        flagged = await self._mutate(bump)
        if flagged is not None:
            log.warning(
                "payment %s still %s after %d unanswered checks: needs attention",
                out_trade_no,
                flagged.state,
                flagged.failed_checks,
                extra={"out_trade_no": out_trade_no, "needs_attention": True, "state": flagged.state},
            )

    async def _release(self, out_trade_no: str) -> None:
        def release(session: Session) -> None:
            repo.release_payment(session, out_trade_no, owner=self._owner)

        await self._db(release)

    # ------------------------------------------------------------------ gateway operations

    async def _query(self, p: Payment) -> Payment:
        provider = self._provider(Channel(p.channel))
        try:
            result = await provider.query(p.out_trade_no)
        except OrderNotFound:
            await self._attempt(p.out_trade_no, "query", "not_found")
            return await self._load(p.out_trade_no)
        except Exception as exc:
            await self._attempt(p.out_trade_no, "query", "unknown", _short(exc))
            await self._note_unresolved(p.out_trade_no)
            return await self._load(p.out_trade_no)
        await self._attempt(p.out_trade_no, "query", result.state.value.lower(), result.gateway_code)
        return await self._apply_trade(p.out_trade_no, result, "query")

    async def _close(self, p: Payment) -> Payment:
        """Close an unpaid native order; "already paid" means PAID."""
        provider = self._provider(Channel(p.channel))
        otn = p.out_trade_no
        try:
            result = await provider.close(otn)
        except OrderNotFound:
            # Alipay: a QR nobody scanned has no trade to close. Nothing can be paid on it any more
            # once we stop showing it, and a late payment would be flagged (PAID after CLOSED).
            await self._attempt(otn, "close", "not_found")
            result = TradeResult(otn, PaymentState.CLOSED, reason="The QR code expired unpaid.")
        except DefiniteFailure as exc:
            await self._attempt(otn, "close", "failed", _short(exc))
            return await self._query(p)  # e.g. paid meanwhile: the query tells
        except Exception as exc:
            await self._attempt(otn, "close", "unknown", _short(exc))
            await self._note_unresolved(otn)
            return await self._load(otn)
        else:
            await self._attempt(otn, "close", result.state.value.lower(), result.gateway_code)
        return await self._apply_trade(otn, result, "close")

    async def _reverse(self, p: Payment) -> tuple[Payment, bool]:
        """One reverse (WeChat) / cancel (Alipay) call. Returns (payment, definite)."""
        provider = self._provider(Channel(p.channel))
        otn = p.out_trade_no
        try:
            rr: ReverseResult = await provider.reverse(otn)
        except OrderNotFound:
            await self._attempt(otn, "reverse", "not_found")
            after = await self._query(p)
            if PaymentState(after.state) in SETTLED_STATES:
                return after, True
            # The gateway has never seen this order: the code never arrived, nothing was charged.
            result = TradeResult(
                otn, PaymentState.FAILED, reason="The payment never reached the gateway — no money moved."
            )
            return await self._apply_trade(otn, result, "reverse"), True
        except DefiniteFailure as exc:
            # e.g. "user is paying, cannot reverse yet": learn the state, try again later.
            await self._attempt(otn, "reverse", "failed", _short(exc))
            await self._note_unresolved(otn)
            after = await self._query(p)
            return after, PaymentState(after.state) in SETTLED_STATES
        except Exception as exc:
            await self._attempt(otn, "reverse", "unknown", _short(exc))
            await self._note_unresolved(otn)
            return await self._load(otn), False
        if not rr.done or rr.retry:
            await self._attempt(otn, "reverse", "retry")
            await self._note_unresolved(otn)
            return await self._load(otn), False
        await self._attempt(otn, "reverse", "done", "money returned" if rr.money_returned else None)
        reason = "Cancelled — the money was returned to the customer." if rr.money_returned else None
        result = TradeResult(otn, PaymentState.REVERSED, reason=reason)
        return await self._apply_trade(otn, result, "reverse"), True

    async def _settle_pass(self, p: Payment) -> Payment:
        """One settling step for an unsettled payment: query, then close/reverse when it is time."""
        p = await self._query(p)
        if PaymentState(p.state) in SETTLED_STATES:
            return p
        now = self._now()
        if p.mode == PaymentMode.MICROPAY.value:
            if p.cancel_requested or p.deadline_at is None or now >= p.deadline_at:
                p, _definite = await self._reverse(p)
            return p
        expired = p.expires_at is None or now >= p.expires_at
        if p.cancel_requested or expired:
            p = await self._close(p)
        return p

    async def _drive_micropay(self, out_trade_no: str) -> None:
        """Poll a USER_PAYING/UNKNOWN micropay every 5 s to its deadline, then reverse until definite.

        The lease taken when the payment was created is renewed while this runs (and at each poll,
        in the service's own clock), so another process's resolver leaves the payment alone while
        this process lives and takes it over within LEASE after it died.
        """
        async with self._leased(out_trade_no):
            await self._drive_micropay_leased(out_trade_no)

    async def _drive_micropay_leased(self, out_trade_no: str) -> None:
        reverse_runs = 0
        while True:
            await self._renew_lease(out_trade_no)
            p = await self._load(out_trade_no)
            if PaymentState(p.state) in SETTLED_STATES:
                return
            now = self._now()
            if not p.cancel_requested and p.deadline_at is not None and now < p.deadline_at:
                await self._sleep(min(self._poll_interval_s, (p.deadline_at - now).total_seconds()))
                p = await self._load(out_trade_no)
                if PaymentState(p.state) not in SETTLED_STATES:
                    await self._query(p)
                continue
            p = await self._settle_pass(p)
            if PaymentState(p.state) in SETTLED_STATES:
                return
            if reverse_runs >= len(REVERSE_BACKOFF_S):
                log.warning("micropay %s still %s: handed to the resolver", out_trade_no, p.state)
                await self._release(out_trade_no)
                return
            await self._sleep(REVERSE_BACKOFF_S[reverse_runs])
            reverse_runs += 1

    # ------------------------------------------------------------------ read

    async def get_payment(self, terminal_id: str, out_trade_no: str) -> PaymentView:
        return repo.payment_view(await self._load_for_terminal(terminal_id, out_trade_no))

    async def find_payment(self, out_trade_no: str) -> PaymentView:
        """Any terminal's payment (manager tools, reconciliation)."""
        return repo.payment_view(await self._load(out_trade_no))

    # ------------------------------------------------------------------ cancel / void

    async def cancel_payment(self, terminal_id: str, out_trade_no: str, req: CancelPayment) -> PaymentView:
        """Cancel a payment in flight (close / reverse), or void a same-day PAID one (money returned)."""
        p = await self._load_for_terminal(terminal_id, out_trade_no)
        state = PaymentState(p.state)
        log.info("cancel %s (state %s) by %s: %s", out_trade_no, state, req.operator, req.reason or "-")
        if state in (PaymentState.CLOSED, PaymentState.FAILED, PaymentState.REVERSED):
            return repo.payment_view(p)
        if state in (PaymentState.PARTIALLY_REFUNDED, PaymentState.REFUNDED):
            raise PaymentStateError("This payment was already refunded — it cannot be voided; refund the rest instead.")
        if state == PaymentState.PAID:
            return await self._void(p)
        await self._request_cancel(out_trade_no)
        p = await self._load(out_trade_no)
        if p.mode == PaymentMode.NATIVE.value:
            p = await self._close(p)
            if PaymentState(p.state) not in SETTLED_STATES:
                p = await self._settle_pass(p)
            return repo.payment_view(p)
        for pause in (0.0, *REVERSE_BACKOFF_S[:2]):
            if pause:
                await self._sleep(pause)
            p = await self._load(out_trade_no)
            if PaymentState(p.state) in SETTLED_STATES:
                break
            p, definite = await self._reverse(p)
            if definite:
                break
        return repo.payment_view(p)

    async def _request_cancel(self, out_trade_no: str) -> None:
        def mark(session: Session) -> None:
            session.exec(update(Payment).where(col(Payment.out_trade_no) == out_trade_no).values(cancel_requested=True))

        await self._db(mark)

    async def _void(self, p: Payment) -> PaymentView:
        """Same business day void of a PAID wallet payment: reverse/cancel returns the money."""
        now = self._now()
        paid_at = p.paid_at or p.created_at
        if self.business_day(paid_at) != self.business_day(now):
            raise PaymentStateError("Only payments of today can be voided — use a refund instead.")

        def no_refunds(session: Session) -> int:
            return repo.reserved_refund_fen(session, p.out_trade_no)

        if await self._read(no_refunds):
            raise PaymentStateError("This payment has refunds — refund the rest instead of voiding it.")
        provider = self._provider(Channel(p.channel))
        for pause in (0.0, *REVERSE_BACKOFF_S[:3]):
            if pause:
                await self._sleep(pause)
            try:
                rr = await provider.reverse(p.out_trade_no)
            except (DefiniteFailure, OrderNotFound) as exc:
                await self._attempt(p.out_trade_no, "reverse", "failed", _short(exc))
                raise PaymentStateError(f"The void was refused ({exc.reason}) — use a refund instead.") from None
            except Exception as exc:
                await self._attempt(p.out_trade_no, "reverse", "unknown", _short(exc))
                continue
            if rr.done and not rr.retry:
                await self._attempt(p.out_trade_no, "reverse", "done", "void")
                result = TradeResult(
                    p.out_trade_no, PaymentState.REVERSED, reason="Voided — the money was returned to the customer."
                )
                return repo.payment_view(await self._apply_trade(p.out_trade_no, result, "void"))
            await self._attempt(p.out_trade_no, "reverse", "retry", "void")
        raise OutcomeUnknown("The void did not get a definite answer yet — try the void again.")

    # ------------------------------------------------------------------ refunds

    async def create_refund(self, terminal_id: str, out_trade_no: str, req: CreateRefund) -> RefundView:
        """Refund part or all of a PAID payment. The same out_refund_no again is the same refund."""
        check_gateway_safe(req.out_refund_no)
        await self._load_for_terminal(terminal_id, out_trade_no)
        now = self._now()

        def reserve(session: Session) -> tuple[Refund, Payment, bool]:
            p = repo.get_payment(session, out_trade_no, lock=True)
            assert p is not None
            existing = repo.get_refund(session, req.out_refund_no, lock=True)
            if existing is not None:
                if existing.out_trade_no != out_trade_no or existing.amount_fen != req.amount_fen:
                    raise IdempotencyConflict(
                        f"Refund number {req.out_refund_no} was already used for a different refund — use a new one."
                    )
                return existing, p, False
            if PaymentState(p.state) not in MONEY_IN_STATES:
                raise PaymentStateError(f"Only paid payments can be refunded (this one is {p.state}).")
            left = p.amount_fen - repo.reserved_refund_fen(session, out_trade_no)
            if req.amount_fen > left:
                raise RefundAmountError(
                    f"{format_fen(req.amount_fen)} is more than the {format_fen(max(left, 0))} left to refund."
                )
            refund = Refund(
                out_refund_no=req.out_refund_no,
                out_trade_no=out_trade_no,
                terminal_id=p.terminal_id,
                amount_fen=req.amount_fen,
                reason=req.reason,
                operator=req.operator,
                state=RefundState.PENDING.value,
                business_day=self.business_day(now),
                created_at=now,
                updated_at=now,
            )
            session.add(refund)
            session.flush()
            repo.append_event(session, repo.payment_view(p), now, refund=repo.refund_view(refund))
            return refund, p, True

        try:
            refund, payment, created = await self._mutate(reserve)
        except IntegrityError:
            existing = await self._load_refund(req.out_refund_no)
            if existing.out_trade_no != out_trade_no or existing.amount_fen != req.amount_fen:
                raise IdempotencyConflict(
                    f"Refund number {req.out_refund_no} was already used for a different refund — use a new one."
                ) from None
            return repo.refund_view(existing)
        log.info(
            "refund %s of %s: %s by %s%s",
            refund.out_refund_no,
            out_trade_no,
            format_fen(refund.amount_fen),
            req.operator,
            "" if created else " (repeat)",
        )
        if refund.state in (RefundState.PENDING.value, RefundState.UNKNOWN.value):
            # Sending again with the same out_refund_no is safe: the gateway keeps one refund per number.
            refund = await self._send_refund(refund, payment)
        orn = refund.out_refund_no
        if refund.state in (RefundState.PROCESSING.value, RefundState.UNKNOWN.value) and orn not in self._driving:
            self._spawn(refund.out_refund_no, lambda: self._drive_refund(orn))
        return repo.refund_view(refund)

    async def _load_refund(self, out_refund_no: str) -> Refund:
        def read(session: Session) -> Refund | None:
            return repo.get_refund(session, out_refund_no)

        refund = await self._read(read)
        if refund is None:
            raise RefundNotFound()
        return refund

    async def _send_refund(self, refund: Refund, payment: Payment) -> Refund:
        provider = self._provider(Channel(payment.channel))
        otn, orn = refund.out_trade_no, refund.out_refund_no
        try:
            result = await provider.refund(
                out_trade_no=otn,
                out_refund_no=orn,
                amount_fen=refund.amount_fen,
                total_fen=payment.amount_fen,
                reason=refund.reason,
                notify_url=self._notify_url(provider.channel),
            )
        except (DefiniteFailure, ConfigurationError, OrderNotFound) as exc:
            await self._attempt(otn, "refund", "failed", _short(exc), out_refund_no=orn)
            result = RefundResult(otn, orn, RefundState.FAILED, refund.amount_fen, reason=exc.reason)
        except Exception as exc:
            await self._attempt(otn, "refund", "unknown", _short(exc), out_refund_no=orn)
            await self._note_refund_unresolved(orn)
            result = RefundResult(otn, orn, RefundState.UNKNOWN, refund.amount_fen)
        else:
            await self._attempt(otn, "refund", result.state.value.lower(), out_refund_no=orn)
        return await self._apply_refund(result, "refund") or refund

    async def _apply_refund(self, result: RefundResult, source: str) -> Refund | None:
        """Apply a gateway refund answer. SUCCESS adds the amount to the payment exactly once."""

        def apply(session: Session) -> Refund | None:
            return self._apply_refund_tx(session, result, source)

        return await self._mutate(apply)

    def _apply_refund_tx(self, session: Session, result: RefundResult, source: str) -> Refund | None:
        """:meth:`_apply_refund` inside the caller's transaction (raises _StaleRow on a lost race)."""
        found = repo.get_refund(session, result.out_refund_no)
        if found is None:
            return None
        # Lock order everywhere: payment, then refund.
        p = repo.get_payment(session, found.out_trade_no, lock=True)
        r = repo.get_refund(session, result.out_refund_no, lock=True)
        assert p is not None and r is not None
        current, target = RefundState(r.state), result.state
        if result.amount_fen and result.amount_fen != r.amount_fen:
            log.error("refund %s: gateway amount differs from the ledger — ignored", r.out_refund_no)
            return r
        if current == target or target not in REFUND_TRANSITIONS[current]:
            if (
                result.refund_id
                and not r.refund_id
                and not repo.cas_update_refund(session, r, {"refund_id": result.refund_id}, self._now())
            ):
                raise _StaleRow()
            return r
        if target == RefundState.UNKNOWN and current == RefundState.PROCESSING:
            return r
        now = self._now()
        changes: dict[str, Any] = {"state": target.value}
        if result.refund_id:
            changes["refund_id"] = result.refund_id
        if target == RefundState.FAILED:
            changes["failure_reason"] = (result.reason or "The refund was refused by the gateway.")[:255]
        if target == RefundState.SUCCESS:
            changes["succeeded_at"] = now
        if not repo.cas_update_refund(session, r, changes, now):
            raise _StaleRow()
        # The refund that held the payment's flag is settled: nothing is left for a person to chase.
        clear_flag = (
            target in (RefundState.SUCCESS, RefundState.FAILED)
            and p.needs_attention
            and PaymentState(p.state) in SETTLED_STATES
            and not repo.open_refunds_of(session, p.out_trade_no)
        )
        if clear_flag and not repo.cas_update_payment(session, p, {"needs_attention": False}, now):
            raise _StaleRow()
        if target == RefundState.SUCCESS:
            refunded = p.refunded_fen + r.amount_fen
            new_state = PaymentState.REFUNDED if refunded >= p.amount_fen else PaymentState.PARTIALLY_REFUNDED
            if can_transition(PaymentState(p.state), new_state):
                if not repo.cas_update_payment(session, p, {"refunded_fen": refunded, "state": new_state.value}, now):
                    raise _StaleRow()
            else:
                log.error("refund %s succeeded but payment %s is %s", r.out_refund_no, p.out_trade_no, p.state)
                if not repo.cas_update_payment(session, p, {"needs_attention": True}, now):
                    raise _StaleRow()
        repo.append_event(session, repo.payment_view(p), now, refund=repo.refund_view(r))
        log.info(
            "refund %s %s -> %s (%s)",
            r.out_refund_no,
            current,
            target,
            source,
            extra={"out_refund_no": r.out_refund_no, "from_state": current, "to_state": target, "source": source},
        )
        return r

    async def _settle_refund(self, refund: Refund) -> Refund:
        payment = await self._load(refund.out_trade_no)
        provider = self._provider(Channel(payment.channel))
        otn, orn = refund.out_trade_no, refund.out_refund_no
        try:
            result = await provider.refund_query(out_trade_no=otn, out_refund_no=orn)
        except OrderNotFound:
            await self._attempt(otn, "refund_query", "not_found", out_refund_no=orn)
            if refund.state in (RefundState.PENDING.value, RefundState.UNKNOWN.value):
                return await self._send_refund(refund, payment)  # it never arrived: send it (same number)
            return refund
        except Exception as exc:
            await self._attempt(otn, "refund_query", "unknown", _short(exc), out_refund_no=orn)
            await self._note_refund_unresolved(orn)
            return refund
        await self._attempt(otn, "refund_query", result.state.value.lower(), out_refund_no=orn)
        return await self._apply_refund(result, "refund_query") or refund

    async def _note_refund_unresolved(self, out_refund_no: str) -> None:
        """Count an unanswered refund call; after ATTENTION_AFTER flag its payment for a person."""

        def bump(session: Session) -> Payment | None:
            session.exec(
                update(Refund)
                .where(col(Refund.out_refund_no) == out_refund_no)
                .values(failed_checks=Refund.failed_checks + 1)
            )
            r = repo.get_refund(session, out_refund_no)
            if r is None or r.failed_checks < self._attention_after:
                return None
            p = repo.get_payment(session, r.out_trade_no, lock=True)
            if p is None or p.needs_attention:
                return None
            now = self._now()
            if not repo.cas_update_payment(session, p, {"needs_attention": True}, now):
                raise _StaleRow()
            repo.append_event(session, repo.payment_view(p), now, refund=repo.refund_view(r))
            return p

        flagged = await self._mutate(bump)
        if flagged is not None:
            log.warning("refund %s of %s still unconfirmed: needs attention", out_refund_no, flagged.out_trade_no)

    async def _drive_refund(self, out_refund_no: str) -> None:
        for _ in range(REFUND_POLLS):
            await self._sleep(self._poll_interval_s)
            refund = await self._load_refund(out_refund_no)
            if refund.state not in repo.OPEN_REFUND_STATES:
                return
            refund = await self._settle_refund(refund)
            if refund.state not in repo.OPEN_REFUND_STATES:
                return

    async def get_refund(self, terminal_id: str, out_trade_no: str, out_refund_no: str) -> RefundView:
        refund = await self._load_refund(out_refund_no)
        if refund.terminal_id != terminal_id or refund.out_trade_no != out_trade_no:
            raise RefundNotFound()
        return repo.refund_view(refund)

    # ------------------------------------------------------------------ notifications

    async def handle_notification(self, channel: Channel, headers: Mapping[str, str], body: bytes) -> NotificationAck:
        """POST /notify/<channel>: verify, then record + apply in one committed transaction, then the
        exact answer the gateway expects."""
        return await notify.process(
            channel=channel,
            provider=self._providers.get(channel),
            headers=headers,
            body=body,
            max_body_bytes=self._settings.engine.max_notify_body_bytes,
            db=self._db,
            apply=self._apply_notification,
            now=self._now,
            store=self._store_notification,
        )

    async def _store_notification(self, n: Notification, body: bytes) -> str:
        """Record, apply and mark a verified notification in ONE transaction; returns once committed.

        On SQLite (one writer, one fsync per commit) the notifications arriving while a commit is in
        progress are queued and written together in the next transaction (group commit): each caller
        awaits its batch's commit before its notification is acknowledged. On PostgreSQL each
        notification is its own transaction (the server commits concurrent transactions in parallel).
        """
        if not self._group_commit:
            results = await asyncio.to_thread(self._write_notifications, [(n, body)])
            self._wake()
            return _result(results[0])
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        self._notify_queue.append((n, body, future))
        writer = self._notify_writer
        if writer is None or writer.done() or writer.get_loop() is not loop:
            self._notify_writer = loop.create_task(self._notification_writer(), name="pos-notify-writer")
        return await future

    async def _notification_writer(self) -> None:
        """Commit queued notifications batch by batch until the queue is empty."""
        while self._notify_queue:
            batch = self._notify_queue[:NOTIFY_BATCH]
            del self._notify_queue[:NOTIFY_BATCH]

            try:
                results = await self._write_batch([(n, b) for n, b, _ in batch])
            except Exception as exc:  # nobody in this batch is acknowledged; the gateway sends again
                results = [exc] * len(batch)
            except BaseException:  # cancelled (shutdown): nobody waiting is acknowledged
                stopped = PosError("The engine is stopping.")
                for _, _, future in batch + self._notify_queue:
                    if not future.done():
                        future.set_exception(stopped)
                self._notify_queue.clear()
                raise
            finally:
                self._wake()
            for (_, _, future), result in zip(batch, results, strict=True):
                if future.done():  # the request went away meanwhile
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    async def _write_batch(self, items: list[tuple[Notification, bytes]]) -> list[str | Exception]:
        """One SQLite transaction for the batch: BEGIN IMMEDIATE (which may wait for another writer)
        and COMMIT (the fsync) in a worker thread, the statements in between on the event loop (they
        cannot wait: this transaction holds the write lock). Running them in a worker thread instead
        made them queue for the GIL behind the requests being parsed, several times their CPU time.
        If anything fails, each notification is written on its own in a worker thread.

        When no other writer holds SQLite's write lock, the BEGIN IMMEDIATE runs right here instead
        (:meth:`_begin_if_free`, which never waits): the batches follow one another, and each hop to a
        worker thread costs milliseconds under load (the thread waits for the GIL and then for the
        loop to take its answer), so two hops per batch, not the CPU, capped the notifications per
        second. The COMMIT (the fsync) always runs in a worker thread."""
        began = self._begin_if_free()
        session = Session(began if began is not None else self._engine, expire_on_commit=False)
        try:
            conn = began if began is not None else await asyncio.to_thread(session.connection)
            outcomes: list[str | Exception] = list(self._notification_statements(session, conn, items))
            await asyncio.to_thread(_commit_batch, session, began)
            return outcomes
        except Exception:
            log.warning("a batch of %d notifications failed; writing them one by one", len(items), exc_info=True)
        finally:
            session.close()  # the connection back to the pool (no transaction left open: instant)
            if began is not None:
                began.close()
        return await asyncio.to_thread(lambda: [self._write_one_notification(n, body) for n, body in items])

    def _begin_if_free(self) -> Connection | None:
        """A connection in a BEGIN IMMEDIATE transaction if SQLite's write lock is free right now;
        None (nothing begun) if another connection or process holds it. Never waits: the busy
        timeout is 0 for that one statement, so this may run on the event loop."""
        conn = self._engine.connect()
        try:
            dbapi = conn.connection.dbapi_connection
            assert dbapi is not None
            dbapi.execute("PRAGMA busy_timeout=0")
            try:
                conn.begin()
            finally:
                dbapi.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        except OperationalError:  # "database is locked": the caller begins in a thread, waiting there
            conn.close()
            return None
        except BaseException:
            conn.close()
            raise
        return conn

    def _write_notifications(self, items: list[tuple[Notification, bytes]]) -> list[str | Exception]:
        """(Worker thread.) One transaction for the whole batch; if it fails, each item on its own."""
        if len(items) > 1:
            try:
                return list(self._notifications_tx(items))
            except Exception:
                log.warning("a batch of %d notifications failed; writing them one by one", len(items), exc_info=True)
        return [self._write_one_notification(n, body) for n, body in items]

    def _write_one_notification(self, n: Notification, body: bytes) -> str | Exception:
        error: Exception | None = None
        for _ in range(8):
            try:
                return self._notifications_tx([(n, body)])[0]
            except (_StaleRow, IntegrityError, OperationalError) as exc:  # lost a race / deadlock: again
                error = exc
            except Exception as exc:
                error = exc
                break
        # The apply failed: keep the verified notification in the inbox, un-applied, for the resolver.
        try:
            with Session(self._engine) as session:
                notify.insert_inbox(session.connection(), n, body, self._now())
                session.commit()
        except Exception:
            log.warning("notification %s could not be recorded either", n.event_id, exc_info=True)
        assert error is not None
        return error

    def _notifications_tx(self, items: list[tuple[Notification, bytes]]) -> list[str]:
        """The items' statements (:meth:`_notification_statements`) in one transaction, then ONE commit."""
        with Session(self._engine, expire_on_commit=False) as session:
            conn = session.connection()  # BEGIN IMMEDIATE on SQLite: one writer from here to commit
            outcomes = self._notification_statements(session, conn, items)
            session.commit()
        return outcomes

    def _notification_statements(
        self, session: Session, conn: Connection, items: list[tuple[Notification, bytes]]
    ) -> list[str]:
        """Insert inbox row + apply transition + status event + mark applied, for each item, inside the
        caller's transaction. Plain SQL (``store.hotpath``) for payment notifications; refunds go
        through the ORM."""
        outcomes: list[str] = []
        sql = hot_path(conn)
        cursor = dbapi_cursor(conn)
        try:
            if not sql.postgres and all(n.kind == "payment" and n.trade is not None for n, _ in items):
                return self._payment_notifications_batch(sql, cursor, items)
            for n, body in items:
                now = self._now()
                values = notify.inbox_values(n, body, now)
                inbox_id = sql.insert_inbox(cursor, values)
                if inbox_id is None:
                    found = sql.find_inbox(cursor, values["channel"], values["event_id"])
                    assert found is not None
                    inbox_id, applied = found
                    if applied:
                        outcomes.append(notify.DUPLICATE)
                        continue
                outcome = self._apply_notification_tx(session, cursor, n)
                sql.mark_inbox_applied(cursor, inbox_id, outcome, now)
                outcomes.append(outcome)
        finally:
            cursor.close()
        return outcomes

    def _payment_notifications_batch(
        self, sql: HotPath, cursor: Any, items: list[tuple[Notification, bytes]]
    ) -> list[str]:
        """:meth:`_notification_statements` for a batch of payment notifications on SQLite, with a
        few statements per batch instead of five per notification.

        Why: at hundreds of notifications a second, issuing and binding five statements each cost
        more CPU than verifying them. The transaction holds SQLite's only write lock (BEGIN
        IMMEDIATE), so the inbox rows and payment rows of the whole batch are read once, every
        notification is decided in memory in arrival order (dedupe on (channel, event id), the state
        machine through ``_trade_changes``, one status event per change), and each table is written
        with one executemany: each changed payment once, compare-and-set on the version read. The
        rows end up exactly as the one-by-one path leaves them. (PostgreSQL keeps that path: there
        another process may insert the same event between a read and a write.)"""
        now = self._now()
        stamp = sql.bind_datetime(now)
        keys = [(n.channel.value, n.event_id[:128]) for n, _ in items]
        recorded = sql.find_inbox_many(cursor, keys)
        rows = sql.payments_many(cursor, [n.trade.out_trade_no for n, _ in items if n.trade], lock=True)
        read_as: dict[str, tuple[int, int]] = {}  # changed payments: out_trade_no -> (row id, version read)
        changed: dict[str, dict[str, Any]] = {}
        events: list[dict[str, Any]] = []
        new_inbox: list[dict[str, Any]] = []
        marks: list[tuple[int, str]] = []
        outcomes: list[str] = []
        for (n, body), key in zip(items, keys, strict=True):
            seen = recorded.get(key)
            if seen is not None and seen[1]:
                outcomes.append(notify.DUPLICATE)
                continue
            assert n.trade is not None
            otn = n.trade.out_trade_no
            row = rows.get(otn)
            if row is None:
                log.warning("%s notification %s for unknown order %s", n.channel.value, n.event_id, n.out_trade_no)
                outcome = "unknown-order"
            else:
                changes = self._trade_changes(cast(Payment, row), n.trade)
                if changes:
                    after = SimpleNamespace(**{**vars(row), **changes, "version": row.version + 1, "updated_at": now})
                    read_as.setdefault(otn, (row.id, row.version))
                    changed.setdefault(otn, {}).update(changes)
                    event = repo.event_values(repo.payment_view(cast(Payment, after)), now)
                    events.append({**event, "created_at": stamp})
                    self._log_transition(otn, str(row.state), str(after.state), f"notify {n.event_type}".strip())
                    rows[otn] = row = after
                outcome = str(row.state)
            if seen is None:
                values = notify.inbox_values(n, body, now)
                values.update(
                    parsed=sql.bind_parsed(values["parsed"]), received_at=stamp, applied_at=stamp, outcome=outcome[:64]
                )
                new_inbox.append(values)
            else:
                marks.append((seen[0], outcome))
            recorded[key] = (seen[0] if seen else 0, True)  # a repeat later in this batch is a duplicate
            outcomes.append(outcome)
        updates = [(ident, version, changed[otn], rows[otn].version) for otn, (ident, version) in read_as.items()]
        if not sql.update_payments(cursor, updates, stamp):
            raise _StaleRow()
        sql.insert_events_many(cursor, events)
        sql.insert_inbox_applied(cursor, new_inbox)
        sql.mark_inbox_applied_many(cursor, marks, stamp)
        return outcomes

    @staticmethod
    def _log_transition(out_trade_no: str, before: str, after: str, source: str) -> None:
        if after != before:
            log.info(
                "payment %s %s -> %s (%s)",
                out_trade_no,
                before,
                after,
                source,
                extra={"out_trade_no": out_trade_no, "from_state": before, "to_state": after, "source": source},
            )

    def _apply_notification_tx(self, session: Session, cursor: Any, n: Notification) -> str:
        source = f"notify {n.event_type}".strip()
        if n.kind == "payment" and n.trade is not None:
            state = self._apply_trade_row(hot_path(session.connection()), cursor, n.trade.out_trade_no, n.trade, source)
            if state is None:
                log.warning("%s notification %s for unknown order %s", n.channel.value, n.event_id, n.out_trade_no)
                return "unknown-order"
            return state
        if n.kind == "refund" and n.refund is not None:
            r = self._apply_refund_tx(session, n.refund, source)
            if r is None:
                log.warning("%s refund notification %s for unknown refund", n.channel.value, n.event_id)
                return "unknown-refund"
            session.flush()
            return f"refund {r.state}"
        log.info("%s notification %s (%s) acknowledged, nothing to apply", n.channel.value, n.event_id, n.event_type)
        return "ignored"

    def _apply_trade_row(
        self, sql: HotPath, cursor: Any, out_trade_no: str, result: TradeResult, source: str
    ) -> str | None:
        """:meth:`_apply_trade` in plain SQL inside the caller's transaction: the same state machine
        (``_trade_changes``), compare-and-set on version and status event. Returns the payment's state
        afterwards (None: no such payment)."""
        row = sql.payment(cursor, out_trade_no, lock=True)
        if row is None:
            return None
        changes = self._trade_changes(cast(Payment, row), result)
        if not changes:
            return str(row.state)
        now = self._now()
        if not sql.cas_update_payment(cursor, row.id, row.version, changes, now):
            raise _StaleRow()
        after = SimpleNamespace(**{**vars(row), **changes, "version": row.version + 1, "updated_at": now})
        sql.insert_event(cursor, repo.event_values(repo.payment_view(cast(Payment, after)), now))
        self._log_transition(out_trade_no, str(row.state), str(after.state), source)
        return str(after.state)

    async def _apply_notification(self, n: Notification) -> str:
        """(The older path, used by ``notify.process`` without ``store``.)"""
        if n.kind == "payment" and n.trade is not None:
            try:
                p = await self._apply_trade(n.trade.out_trade_no, n.trade, f"notify {n.event_type}".strip())
            except PaymentNotFound:
                log.warning("%s notification %s for unknown order %s", n.channel.value, n.event_id, n.out_trade_no)
                return "unknown-order"
            return p.state
        if n.kind == "refund" and n.refund is not None:
            r = await self._apply_refund(n.refund, f"notify {n.event_type}".strip())
            if r is None:
                log.warning("%s refund notification %s for unknown refund", n.channel.value, n.event_id)
                return "unknown-refund"
            return f"refund {r.state}"
        log.info("%s notification %s (%s) acknowledged, nothing to apply", n.channel.value, n.event_id, n.event_type)
        return "ignored"

    # ------------------------------------------------------------------ status events (SSE)

    async def events_since(self, terminal_id: str, last_event_id: int, limit: int = 100) -> list[PaymentEvent]:
        def read(session: Session) -> list[PaymentEvent]:
            return repo.events_since(session, terminal_id, last_event_id, limit)

        return await self._read(read)

    async def wait_for_events(
        self, terminal_id: str, last_event_id: int, timeout: float, *, limit: int = 100
    ) -> list[PaymentEvent]:
        """Events after ``last_event_id``, waiting up to ``timeout`` s for one (empty list on timeout).

        Woken at once by changes made in this process; changes made by other engine processes are
        seen by re-reading the table every second.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            signal = self._wakeup  # taken before reading so that no change slips in between
            events = await self.events_since(terminal_id, last_event_id, limit)
            remaining = deadline - loop.time()
            if events or remaining <= 0:
                return events
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(signal.wait(), timeout=min(remaining, 1.0))

    # ------------------------------------------------------------------ reports

    async def daily_report(self, day: date, terminal_id: str | None = None) -> DailyReport:
        def read(session: Session) -> list[Payment]:
            return list(repo.payments_of_day(session, day.isoformat(), terminal_id))

        payments = await self._read(read)
        totals: dict[Channel, ChannelTotals] = {
            channel: ChannelTotals(channel=channel, count=0, amount_fen=0, refunded_fen=0)
            for channel in (Channel.WECHAT, Channel.ALIPAY)
            if channel in self._providers
        }
        money_states = {s.value for s in MONEY_IN_STATES} | {PaymentState.REFUNDED.value}
        for p in payments:
            channel = Channel(p.channel)
            line = totals.setdefault(channel, ChannelTotals(channel=channel, count=0, amount_fen=0, refunded_fen=0))
            if p.state in money_states:
                line.count += 1
                line.amount_fen += p.amount_fen
                line.refunded_fen += p.refunded_fen
        unsettled = [
            repo.payment_view(p) for p in payments if PaymentState(p.state) not in SETTLED_STATES or p.needs_attention
        ]
        return DailyReport(
            date=day.isoformat(), terminal_id=terminal_id, totals=list(totals.values()), unsettled=unsettled
        )

    async def unsettled(self) -> list[PaymentView]:
        """Every payment not settled yet, and every one flagged for a person to look at."""

        def read(session: Session) -> list[PaymentView]:
            return [repo.payment_view(p) for p in repo.attention_payments(session)]

        return await self._read(read)

    # ------------------------------------------------------------------ resolver

    async def resolve_once(self) -> int:
        """Settle what can be settled now, whoever started it. Returns how many payments/refunds settled."""
        now = self._now()
        settled = 0

        def inbox(session: Session) -> list[Any]:
            return notify.pending(session, now - notify.RECHECK_INBOX_AFTER)

        for row in await self._read(inbox):
            # Applied and marked in one transaction (the row exists: only the apply part runs).
            try:
                await self._store_notification(notify.notification_from_record(row), row.body.encode())
            except Exception:
                log.exception("resolver: applying notification %s failed", row.event_id)

        def candidates(session: Session) -> list[Payment]:
            return list(repo.unsettled_payments(session))

        for p in await self._read(candidates):
            if p.out_trade_no in self._driving:
                continue
            claimed = await self._claim(p.out_trade_no)
            if claimed is None:
                continue  # another process is settling it, or already has
            try:
                async with self._leased(p.out_trade_no):
                    after = await self._settle_pass(claimed)
            except Exception:
                log.exception("resolver: settling %s failed", p.out_trade_no)
                continue
            finally:
                await self._release(p.out_trade_no)
            if PaymentState(after.state) in SETTLED_STATES:
                settled += 1

        def refunds(session: Session) -> list[Refund]:
            return list(repo.open_refunds(session))

        for r in await self._read(refunds):
            if r.out_refund_no in self._driving:
                continue
            try:
                after_refund = await self._settle_refund(r)
            except Exception:
                log.exception("resolver: settling refund %s failed", r.out_refund_no)
                continue
            if after_refund.state not in repo.OPEN_REFUND_STATES:
                settled += 1
        return settled

    async def _claim(self, out_trade_no: str) -> Payment | None:
        """Take the payment's settling lease; None if another process holds it or it is settled now."""
        now = self._now()

        def claim(session: Session) -> Payment | None:
            if not repo.claim_payment(session, out_trade_no, now, now + LEASE, owner=self._owner):
                return None
            p = repo.get_payment(session, out_trade_no)
            if p is None or PaymentState(p.state) in SETTLED_STATES:
                repo.release_payment(session, out_trade_no, owner=self._owner)
                return None
            return p

        return await self._db(claim)

    async def run_resolver(self, stop_event: asyncio.Event) -> None:
        """Run :meth:`resolve_once` every ``engine.resolver_interval_s`` until ``stop_event`` is set."""
        interval = self._settings.engine.resolver_interval_s
        while not stop_event.is_set():
            try:
                count = await self.resolve_once()
                if count:
                    log.info("resolver settled %d", count)
            except Exception:
                log.exception("resolver pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_event.wait(), timeout=interval)
