"""Background delivery of gateway notifications, with each gateway's real retry schedule.

Generic over gateways: a gateway enqueues the raw body it wants POSTed and registers a *preparer*
that produces the body and headers of each attempt (WeChat re-signs every attempt with a fresh
timestamp; Alipay can return the body unchanged). Rows live in the sandbox store, so a restarted
sandbox keeps delivering::

    notifier.register_preparer("alipay", lambda rec, now: (rec.body, {}))
    ids = notifier.enqueue(gateway="alipay", url=notify_url, body=form_bytes,
                           content_type="application/x-www-form-urlencoded; charset=utf-8",
                           event="TRADE_SUCCESS", out_trade_no=otn)
    await notifier.deliver_due()   # one pass (tests); the app runs `run()` in the background

Delays are the real schedules divided by ``time_scale``. Success is per gateway
(:func:`is_acknowledged`): WeChat 200/204, Alipay a body of exactly ``success``. Notification faults
(drop, delay, duplicate, reorder) are applied at enqueue time.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
import logging
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from pos_app.sandbox.clock import Clock
from pos_app.sandbox.faults import FaultKind, FaultRegistry
from pos_app.sandbox.store import SandboxStore

log = logging.getLogger(__name__)

# Retry delays after each failed attempt, in seconds (spec: WeChat §3, Alipay §4).
WECHAT_RETRY_S: tuple[int, ...] = (
    15,
    15,
    30,
    180,
    600,
    1200,
    1800,
    1800,
    1800,
    3600,
    10800,
    10800,
    10800,
    21600,
    21600,
)
ALIPAY_RETRY_S: tuple[int, ...] = (240, 600, 600, 3600, 7200, 21600, 54000)
RETRY_SCHEDULES: dict[str, tuple[int, ...]] = {"wechat": WECHAT_RETRY_S, "alipay": ALIPAY_RETRY_S}

#: How long a REORDER fault holds a notification when no later one comes to overtake it.
DEFAULT_REORDER_HOLD_S = 30.0

Preparer = Callable[["NotificationRecord", float], tuple[bytes, dict[str, str]]]


def is_acknowledged(gateway: str, status: int, body: bytes) -> bool:
    """Did the merchant acknowledge? WeChat: HTTP 200/204. Alipay: HTTP 200 and body exactly ``success``."""
    if gateway == "alipay":
        return status == 200 and body == b"success"
    return status in (200, 204)


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    id: int
    gateway: str
    url: str
    event: str
    out_trade_no: str
    body: bytes
    content_type: str
    headers: dict[str, str]
    probe: bool
    state: str  # pending | sending | delivered | failed | dropped | probe_sent
    attempts: int
    created_at: float
    next_at: float
    last_status: int | None
    last_error: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> NotificationRecord:
        return cls(
            id=int(row["id"]),
            gateway=str(row["gateway"]),
            url=str(row["url"]),
            event=str(row["event"]),
            out_trade_no=str(row["out_trade_no"]),
            body=bytes(row["body"]),
            content_type=str(row["content_type"]),
            headers=json.loads(str(row["headers"])),
            probe=bool(row["probe"]),
            state=str(row["state"]),
            attempts=int(row["attempts"]),
            created_at=float(row["created_at"]),
            next_at=float(row["next_at"]),
            last_status=None if row["last_status"] is None else int(row["last_status"]),
            last_error=None if row["last_error"] is None else str(row["last_error"]),
        )


@dataclass(frozen=True, slots=True)
class Attempt:
    notification_id: int
    at: float
    status: int | None
    error: str | None
    acknowledged: bool


class Notifier:
    """Persistent, retrying notification sender. ``transport`` lets tests deliver to an ASGI app."""

    def __init__(
        self,
        store: SandboxStore,
        clock: Clock,
        faults: FaultRegistry,
        *,
        time_scale: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        self.store = store
        self.clock = clock
        self.faults = faults
        self.time_scale = time_scale
        self.transport = transport
        self.timeout_s = timeout_s
        self._preparers: dict[str, Preparer] = {}
        # A crash mid-delivery leaves rows 'sending': they were never acknowledged, send again.
        store.execute("UPDATE notifications SET state = 'pending' WHERE state = 'sending'")

    def register_preparer(self, gateway: str, preparer: Preparer) -> None:
        self._preparers[gateway] = preparer

    def retry_delay(self, gateway: str, failed_attempts: int) -> float | None:
        """Seconds (scaled) before the next try after ``failed_attempts`` failures; None: give up."""
        schedule = RETRY_SCHEDULES.get(gateway, WECHAT_RETRY_S)
        if failed_attempts < 1 or failed_attempts > len(schedule):
            return None
        return schedule[failed_attempts - 1] / self.time_scale

    def enqueue(
        self,
        *,
        gateway: str,
        url: str,
        body: bytes,
        content_type: str = "application/json",
        event: str = "",
        out_trade_no: str = "",
        headers: Mapping[str, str] | None = None,
        probe: bool = False,
    ) -> list[int]:
        """Queue a notification for delivery now (subject to faults). Returns the row ids (none if dropped)."""
        now = self.clock.now()
        scope = {"gateway": gateway, "operation": "notify", "out_trade_no": out_trade_no or None}
        dropped = not probe and self.faults.match(FaultKind.NOTIFY_DROP, **scope) is not None
        delay = None if probe else self.faults.match(FaultKind.NOTIFY_DELAY, **scope)
        reorder = None if probe else self.faults.match(FaultKind.NOTIFY_REORDER, **scope)
        duplicate = None if probe else self.faults.match(FaultKind.NOTIFY_DUPLICATE, **scope)
        next_at = now + (delay.seconds if delay is not None else 0.0)
        held = reorder is not None
        if held:
            assert reorder is not None
            next_at = now + (reorder.seconds or DEFAULT_REORDER_HOLD_S)
        state = "dropped" if dropped else "pending"
        ids: list[int] = []
        with self.store.transaction() as conn:
            if not held and not dropped:
                # Anything held for reordering goes right after this one.
                conn.execute(
                    "UPDATE notifications SET held = 0, next_at = ? WHERE held = 1 AND gateway = ?"
                    " AND state = 'pending'",
                    (next_at + 0.001, gateway),
                )
            for _ in range(2 if duplicate is not None and not dropped else 1):
                cursor = conn.execute(
                    "INSERT INTO notifications (gateway, url, event, out_trade_no, body, content_type, headers,"
                    " probe, state, created_at, next_at, held) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        gateway,
                        url,
                        event,
                        out_trade_no,
                        body,
                        content_type,
                        json.dumps(dict(headers or {})),
                        int(probe),
                        state,
                        now,
                        next_at,
                        int(held),
                    ),
                )
                ids.append(int(cursor.lastrowid or 0))
        if dropped:
            log.info("notification fault: dropped %s %s for %s", gateway, event, out_trade_no)
            return []
        return ids

    def list(self, *, gateway: str | None = None, out_trade_no: str | None = None) -> builtins.list[NotificationRecord]:
        sql, params = "SELECT * FROM notifications WHERE 1=1", builtins.list[str]()
        if gateway is not None:
            sql, params = sql + " AND gateway = ?", [*params, gateway]
        if out_trade_no is not None:
            sql, params = sql + " AND out_trade_no = ?", [*params, out_trade_no]
        return [NotificationRecord.from_row(r) for r in self.store.query(sql + " ORDER BY id", params)]

    def attempts(self, notification_id: int) -> builtins.list[Attempt]:
        rows = self.store.query(
            "SELECT * FROM notification_attempts WHERE notification_id = ? ORDER BY id", (notification_id,)
        )
        return [Attempt(r["notification_id"], r["at"], r["status"], r["error"], bool(r["acknowledged"])) for r in rows]

    def next_due_at(self) -> float | None:
        row = self.store.query_one("SELECT MIN(next_at) AS t FROM notifications WHERE state = 'pending'")
        return None if row is None or row["t"] is None else float(row["t"])

    def _claim_due(self, now: float) -> builtins.list[NotificationRecord]:
        with self.store.transaction() as conn:
            rows = conn.execute(
                "SELECT * FROM notifications WHERE state = 'pending' AND next_at <= ? ORDER BY next_at, id", (now,)
            ).fetchall()
            for row in rows:
                conn.execute("UPDATE notifications SET state = 'sending' WHERE id = ?", (row["id"],))
        return [NotificationRecord.from_row(r) for r in rows]

    async def deliver_due(self) -> int:
        """Attempt every notification due now, in due order. Returns how many attempts were made."""
        due = self._claim_due(self.clock.now())
        if not due:
            return 0
        async with httpx.AsyncClient(transport=self.transport, timeout=self.timeout_s) as client:
            for record in due:
                await self._attempt(client, record)
        return len(due)

    async def _attempt(self, client: httpx.AsyncClient, record: NotificationRecord) -> None:
        preparer = self._preparers.get(record.gateway)
        now = self.clock.now()
        gateway_now = now + self.faults.skew_seconds(record.gateway)
        body, extra = preparer(record, gateway_now) if preparer else (record.body, {})
        headers = {"Content-Type": record.content_type, **record.headers, **extra}
        status: int | None = None
        error: str | None = None
        acknowledged = False
        try:
            response = await client.post(record.url, content=body, headers=headers)
            status = response.status_code
            acknowledged = is_acknowledged(record.gateway, status, response.content)
            if not acknowledged:
                error = f"not acknowledged (HTTP {status})"
        except httpx.HTTPError as exc:
            error = f"{exc.__class__.__name__}: {exc}"[:300]
        attempts = record.attempts + 1
        if record.probe:
            state, next_at = "probe_sent", record.next_at
        elif acknowledged:
            state, next_at = "delivered", record.next_at
        else:
            delay = self.retry_delay(record.gateway, attempts)
            state, next_at = ("failed", record.next_at) if delay is None else ("pending", now + delay)
        with self.store.transaction() as conn:
            conn.execute(
                "UPDATE notifications SET state = ?, attempts = ?, next_at = ?, last_status = ?, last_error = ?,"
                " held = 0 WHERE id = ?",
                (state, attempts, next_at, status, error, record.id),
            )
            conn.execute(
                "INSERT INTO notification_attempts (notification_id, at, status, error, acknowledged)"
                " VALUES (?, ?, ?, ?, ?)",
                (record.id, now, status, error, int(acknowledged)),
            )

    async def run(self, stop: asyncio.Event, *, interval_s: float = 0.05) -> None:
        """Deliver until ``stop`` is set (the app's lifespan runs this)."""
        while not stop.is_set():
            try:
                await self.deliver_due()
            except Exception:  # keep delivering whatever one bad row did
                log.exception("notification delivery pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
