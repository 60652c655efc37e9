"""Fault injection: the bad days of a real gateway, on demand.

A :class:`Fault` names a :class:`FaultKind` and a scope: a share of requests (``probability``,
drawn from the fault's own RNG, seeded by its ``seed`` (a fault plan passes its own) or else by the
sandbox's seed, so runs repeat), optionally one ``out_trade_no``, one ``gateway``
(``"wechat"``/``"alipay"``) and one ``operation`` (the gateway's own name for the call, e.g.
``"codepay"``, ``"query"``, ``"alipay.trade.pay"``), and optionally a number of ``times`` after which
it is used up.

How a gateway route applies request faults (H3: the same three lines in Alipay routes)::

    fault = await ctx.faults.before_request(gateway="alipay", operation=method, out_trade_no=otn)
    if fault is not None:            # SERVER_ERROR: answer the gateway's own "system error", do nothing
        return render_system_error(fault.status)
    ... process and commit ...
    ctx.faults.after_commit(gateway="alipay", operation=method, out_trade_no=otn)  # may raise ReplyLost

:class:`ReplyLost` is raised *after* the gateway committed: :class:`ReplyLostMiddleware` turns it into
a dropped connection (uvicorn closes the socket mid-response; over ``httpx.ASGITransport`` the client
sees the exception itself, an ``httpx.RemoteProtocolError``, i.e. a transport error).

Notification faults are consulted by the notifier (:meth:`FaultRegistry.match` with kinds
NOTIFY_*); the clock skew by ``SandboxContext.now(gateway)``.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from enum import StrEnum
from typing import Any

import httpx
from pydantic import BaseModel, Field

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class FaultKind(StrEnum):
    LATENCY = "latency"  # sleep `seconds` before processing the request
    REPLY_LOST = "reply_lost"  # process and commit, then drop the connection instead of answering
    SERVER_ERROR = "server_error"  # answer `status` (5xx or 429) with the gateway's system error; no change
    NOTIFY_DUPLICATE = "notify_duplicate"  # deliver the notification twice
    NOTIFY_REORDER = "notify_reorder"  # hold it back until the next notification has gone first
    NOTIFY_DELAY = "notify_delay"  # first delivery `seconds` late
    NOTIFY_DROP = "notify_drop"  # never send it
    CLOCK_SKEW = "clock_skew"  # the gateway's clock is `seconds` off (timestamps it writes and checks)


REQUEST_KINDS = frozenset({FaultKind.LATENCY, FaultKind.REPLY_LOST, FaultKind.SERVER_ERROR})
NOTIFY_KINDS = frozenset(
    {FaultKind.NOTIFY_DUPLICATE, FaultKind.NOTIFY_REORDER, FaultKind.NOTIFY_DELAY, FaultKind.NOTIFY_DROP}
)


class FaultSpec(BaseModel):
    """What a client asks for (``POST /sandbox/faults`` body, ``pos sandbox fault add`` options)."""

    kind: FaultKind
    probability: float = Field(1.0, ge=0.0, le=1.0, description="Share of matching requests affected.")
    out_trade_no: str | None = Field(None, description="Only this order.")
    gateway: str | None = Field(None, description="Only 'wechat' or 'alipay'.")
    operation: str | None = Field(None, description="Only this operation, e.g. 'codepay' or 'alipay.trade.pay'.")
    seconds: float = Field(0.0, description="Latency, notification delay/hold, or clock skew (may be negative).")
    status: int = Field(500, ge=400, le=599, description="HTTP status for server_error (500, 502, 503, 429).")
    times: int | None = Field(None, ge=1, description="Used up after this many hits (default: forever).")
    seed: int | None = Field(
        None, description="Seeds this fault's probability draws (default: the sandbox's seed and the fault's id)."
    )


class Fault(FaultSpec):
    id: int
    hits: int = 0


class ReplyLost(httpx.RemoteProtocolError):
    """The gateway committed the change but the reply never reaches the caller."""

    def __init__(self) -> None:
        super().__init__("sandbox fault: reply lost after the gateway committed (connection dropped)")


class FaultRegistry:
    """The active faults of one sandbox process. Thread-safe; the RNG is seeded for repeatable runs."""

    def __init__(self, seed: int = 0) -> None:
        self._faults: dict[int, Fault] = {}
        self._ids = itertools.count(1)
        self._seed = seed
        # One RNG per fault: a fault's draws depend only on its seed and the requests it matches, not
        # on which other faults were active before it (a plan's faults repeat whatever ran earlier).
        self._rngs: dict[int, random.Random] = {}
        self._lock = threading.Lock()

    def add(self, spec: FaultSpec) -> Fault:
        with self._lock:
            fault = Fault(id=next(self._ids), **spec.model_dump())
            seed = fault.seed if fault.seed is not None else f"{self._seed}/{fault.id}"
            self._rngs[fault.id] = random.Random(seed)
            self._faults[fault.id] = fault
            return fault

    def list(self) -> list[Fault]:
        with self._lock:
            return [f.model_copy() for f in self._faults.values()]

    def remove(self, fault_id: int) -> bool:
        with self._lock:
            self._rngs.pop(fault_id, None)
            return self._faults.pop(fault_id, None) is not None

    def clear(self) -> int:
        with self._lock:
            count = len(self._faults)
            self._faults.clear()
            self._rngs.clear()
            return count

    def match(
        self,
        kind: FaultKind,
        *,
        gateway: str | None = None,
        operation: str | None = None,
        out_trade_no: str | None = None,
    ) -> Fault | None:
        """The fault of ``kind`` that applies to this request/notification, if any (counts a hit).

        A fault scoped to a gateway/operation/order applies only when the caller names the same one.
        """
        with self._lock:
            for fault in list(self._faults.values()):
                if fault.kind != kind:
                    continue
                if fault.gateway is not None and fault.gateway != gateway:
                    continue
                if fault.operation is not None and fault.operation != operation:
                    continue
                if fault.out_trade_no is not None and fault.out_trade_no != out_trade_no:
                    continue
                if fault.probability < 1.0 and self._rngs[fault.id].random() >= fault.probability:
                    continue
                fault.hits += 1
                if fault.times is not None and fault.hits >= fault.times:
                    del self._faults[fault.id]
                    del self._rngs[fault.id]
                return fault.model_copy()
            return None

    def skew_seconds(self, gateway: str | None = None) -> float:
        """The clock offset currently applied to ``gateway`` (sum of matching CLOCK_SKEW faults; no hit)."""
        with self._lock:
            return sum(
                f.seconds
                for f in self._faults.values()
                if f.kind == FaultKind.CLOCK_SKEW and (f.gateway is None or f.gateway == gateway)
            )

    async def before_request(self, *, gateway: str, operation: str, out_trade_no: str | None = None) -> Fault | None:
        """Apply LATENCY (sleeps), then return a SERVER_ERROR fault the caller must answer with, if any."""
        latency = self.match(FaultKind.LATENCY, gateway=gateway, operation=operation, out_trade_no=out_trade_no)
        if latency is not None and latency.seconds > 0:
            await asyncio.sleep(latency.seconds)
        return self.match(FaultKind.SERVER_ERROR, gateway=gateway, operation=operation, out_trade_no=out_trade_no)

    def after_commit(self, *, gateway: str, operation: str, out_trade_no: str | None = None) -> None:
        """Raise :class:`ReplyLost` if a REPLY_LOST fault applies (call only after committing)."""
        if self.match(FaultKind.REPLY_LOST, gateway=gateway, operation=operation, out_trade_no=out_trade_no):
            raise ReplyLost()


class ReplyLostMiddleware:
    """Turns :class:`ReplyLost` into a dropped connection.

    Starlette's outer error middleware would answer 500 to an exception raised before the response
    started; so we start a response (promising a body) and then re-raise. uvicorn then closes the
    socket ("response started but not complete"), and the client gets a protocol error, not an answer.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ReplyLost:
            if not started:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
                    }
                )
            raise
