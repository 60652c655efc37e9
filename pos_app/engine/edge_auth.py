"""Who signed a terminal request: first what the headers alone decide, then the HMAC over the body.

The split lets the edge refuse an unsigned, malformed, stale, unknown or disabled caller before a
single byte of its body is read (DESIGN.md §7, issue 16 finding 2); only a caller whose headers
hold up gets its (size-limited) body read and checked against the signature.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from starlette.concurrency import run_in_threadpool

from pos_app.api import auth as terminal_auth
from pos_app.engine.header_values import header_int
from pos_app.engine.http_errors import ApiError
from pos_app.engine.scope import Caller
from pos_app.engine.store.seen import version_of
from pos_app.engine.store.terminals import TerminalRegistry

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

_NONCE = re.compile(r"[\x21-\x7e]{8,64}")  # printable ASCII, no spaces
_SIGNATURE = re.compile(r"[A-Za-z0-9+/=]{1,128}")
_TERMINAL_MAX_LEN = 16
_UNAUTH = {"WWW-Authenticate": "X-Pos-Signature"}


def refused(code: str, message: str) -> ApiError:
    """A 401 telling the till what went wrong and what to do."""
    return ApiError(401, code, message, _UNAUTH)


@dataclass(frozen=True, slots=True)
class Claim:
    """What a request's headers claim, checked as far as headers allow (well-formed, fresh, active key)."""

    terminal_id: str
    store_id: str
    key: bytes
    timestamp: str
    sent_at: int
    nonce: str
    signature: str
    version: str | None = None  # the till software version its User-Agent names (console: Terminals)


class TerminalAuthenticator:
    """Checks terminal signatures against the registry's keys and records each nonce once."""

    def __init__(self, registry: Callable[[], TerminalRegistry], clock: Clock) -> None:
        self._registry = registry  # built by the app's lifespan, after this object
        self._clock = clock
        self._writing: set[asyncio.Task[None]] = set()  # "last seen" writes under way (kept referenced)

    async def claim(self, headers: Mapping[str, str]) -> Claim:
        """Everything the headers decide; raises a 401 :class:`ApiError` otherwise. Reads no body."""
        terminal_id = headers.get(terminal_auth.HEADER_TERMINAL.lower(), "")
        timestamp = headers.get(terminal_auth.HEADER_TIMESTAMP.lower(), "")
        nonce = headers.get(terminal_auth.HEADER_NONCE.lower(), "")
        signature = headers.get(terminal_auth.HEADER_SIGNATURE.lower(), "")
        if not (terminal_id and timestamp and nonce and signature):
            raise refused("unsigned", "This request is not signed — activate the terminal first.")
        sent_at = header_int(timestamp, max_digits=12)
        if (
            sent_at is None
            or len(terminal_id) > _TERMINAL_MAX_LEN
            or not terminal_id.isprintable()
            or not _NONCE.fullmatch(nonce)
            or not _SIGNATURE.fullmatch(signature)
        ):
            raise refused(
                "bad_signature", "The request signature headers are malformed — update the terminal software."
            )
        skew = abs(self._clock().timestamp() - sent_at)
        if skew > terminal_auth.MAX_SKEW_S:
            raise refused(
                "clock_skew",
                f"This till's clock is off by {int(skew)} s — correct its date and time, then try again.",
            )
        registry = self._registry()
        known = await run_in_threadpool(registry.terminal_key, terminal_id)
        if known is None:
            row = await run_in_threadpool(registry.terminal, terminal_id)
            if row is not None and row.disabled:
                raise refused(
                    "terminal_disabled",
                    f"Terminal {terminal_id} is disabled on this engine — ask head office to re-activate it "
                    "with a new code.",
                )
            raise refused(
                "unknown_terminal",
                f"Terminal {terminal_id[:8]} is not activated on this engine — activate it with a new code.",
            )
        store_id, key = known
        version = version_of(headers.get("user-agent"))
        return Claim(terminal_id, store_id, key, timestamp, sent_at, nonce, signature, version)

    def signed(self, claim: Claim, method: str, path_and_query: str, body: bytes) -> Caller:
        """The caller, if ``claim``'s signature covers this exact request; raises a 401 otherwise."""
        if not terminal_auth.verify(
            claim.key, method, path_and_query, claim.timestamp, claim.nonce, body, claim.signature
        ):
            raise refused(
                "bad_signature",
                "The request signature is wrong — this terminal's key does not match; re-activate it.",
            )
        return Caller(terminal_id=claim.terminal_id, store_id=claim.store_id)

    async def first_use(self, claim: Claim) -> None:
        """Record the nonce; a nonce this terminal used before is a replayed request (401)."""
        now = self._clock()
        keep_until = datetime.fromtimestamp(max(claim.sent_at, int(now.timestamp())), UTC) + timedelta(
            seconds=terminal_auth.MAX_SKEW_S + 1
        )
        registry = self._registry()
        fresh = await run_in_threadpool(registry.remember_nonce, claim.terminal_id, claim.nonce, keep_until=keep_until)
        if not fresh:
            raise refused("replayed", "This request was already received once (replayed nonce) — it was not run again.")
        self._note_seen(registry, claim)

    def _note_seen(self, registry: TerminalRegistry, claim: Claim) -> None:
        """Note the request in memory; when the row is due (every ~30 s), write it beside the request,
        never in its way: a failed "last seen" write must not fail a payment."""
        if not registry.seen.note(claim.terminal_id, claim.version):
            return
        task = asyncio.get_running_loop().create_task(self._write_seen(registry, claim.terminal_id))
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)

    @staticmethod
    async def _write_seen(registry: TerminalRegistry, terminal_id: str) -> None:
        try:
            await run_in_threadpool(registry.seen.flush, terminal_id)
        except Exception:
            log.exception("could not record when terminal %s was last seen", terminal_id)
