"""The engine's HTTP edge, in front of every route: shed, authenticate, bound the body, rate-limit.

A pure ASGI middleware, so that it runs before the framework reads or parses anything. For each
request, in this order:

1. load shedding (``shedding``): an overloaded engine refuses reports first (503 + Retry-After);
2. a signed route (every ``/v1`` route but activation): the signature headers are checked on their
   own — unsigned, malformed, stale, unknown or disabled callers get 401 with the body unread (a
   path no route serves goes on to the framework's 404 or 405, which reads no body either);
3. the body is bounded: by its declared Content-Length, then while it is read (413);
4. the signature is checked over the body, the terminal's rate limit is counted (429 +
   Retry-After), the nonce is recorded (a replay is 401);
5. the route runs with the body replayed and the :class:`~pos_app.engine.scope.Caller` in the
   ASGI scope under :data:`CALLER_KEY`: the one place a route learns who calls.

The gateways' callbacks never get here (``callbacks.EngineApp`` answers them with their own limit).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pos_app.engine.edge_auth import TerminalAuthenticator
from pos_app.engine.header_values import header_int
from pos_app.engine.http_errors import ApiError, json_error
from pos_app.engine.metrics import EngineMetrics
from pos_app.engine.rate_limits import TerminalRateLimits
from pos_app.engine.scope import Caller
from pos_app.engine.shedding import LoadShedder

#: Where the authenticated caller is kept in the ASGI scope for the routes.
CALLER_KEY = "pos.caller"
#: The one /v1 route a terminal calls before it has a key.
UNSIGNED_V1_PATHS = frozenset({"/v1/terminals/activate"})


def needs_signature(scope: Scope, routes: Sequence[BaseRoute]) -> bool:
    """Whether this request goes to a route only a signed terminal may call."""
    path: str = scope["path"]
    if not path.startswith("/v1/") or path in UNSIGNED_V1_PATHS:
        return False
    return any(route.matches(scope)[0] is Match.FULL for route in routes)


@dataclass(frozen=True, slots=True)
class EdgeLimits:
    """Body limits and the Retry-After of shed requests (from ``[engine]``)."""

    signed_body_bytes: int
    unsigned_body_bytes: int
    retry_after_s: int


class _ClientGone(Exception):
    """The client disconnected before sending its whole body: there is nobody to answer."""


class EdgeGuard:
    """See the module docstring. Refusals are ErrorBody JSON, counted in ``pos_engine_refused_requests``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Callable[[], Sequence[BaseRoute]],
        authenticator: TerminalAuthenticator,
        rate_limits: TerminalRateLimits,
        shedder: LoadShedder,
        limits: EdgeLimits,
        metrics: EngineMetrics,
    ) -> None:
        self.app = app
        self._routes = routes
        self._auth = authenticator
        self._rate_limits = rate_limits
        self._shedder = shedder
        self._limits = limits
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if not self._shedder.admits(path):
            retry = str(self._limits.retry_after_s)
            busy = f"The engine is busy — reports and sync wait; try again in {retry} s. Payments go on."
            await self._refuse(ApiError(503, "overloaded", busy, {"Retry-After": retry}), scope, receive, send)
            return
        with self._shedder.track(path):
            try:
                guarded, replay = await self._admit(scope, receive)
            except _ClientGone:
                return
            except ApiError as refusal:
                await self._refuse(refusal, scope, receive, send)
                return
            await self.app(guarded, replay, send)

    async def _refuse(self, refusal: ApiError, scope: Scope, receive: Receive, send: Send) -> None:
        self._metrics.refused.labels(refusal.code).inc()
        response = json_error(refusal.status_code, refusal.code, refusal.message, refusal.headers)
        await response(scope, receive, send)

    async def _admit(self, scope: Scope, receive: Receive) -> tuple[Scope, Receive]:
        """The scope (with the caller added) and the receive channel the route gets; raises ApiError to refuse."""
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in reversed(scope["headers"])}
        if not needs_signature(scope, self._routes()):
            body = await _read_body(receive, headers, self._limits.unsigned_body_bytes)
            return scope, _replay(body, receive)
        claim = await self._auth.claim(headers)  # before a single byte of the body is read
        body = await _read_body(receive, headers, self._limits.signed_body_bytes)
        caller: Caller = self._auth.signed(claim, scope["method"], _path_and_query(scope), body)
        verdict = self._rate_limits.hit(caller.terminal_id)
        if not verdict.allowed:
            raise ApiError(
                429,
                "rate_limited",
                f"This till sent too many requests — wait {verdict.retry_after_s} s, then try again.",
                {"Retry-After": str(verdict.retry_after_s)},
            )
        await self._auth.first_use(claim)
        # In place, as the router adds its match: the middleware outside reads the route from this scope.
        scope[CALLER_KEY] = caller
        return scope, _replay(body, receive)


async def _read_body(receive: Receive, headers: dict[str, str], limit: int) -> bytes:
    """The whole body, refused (413) as soon as its declared or received length passes ``limit``."""
    declared = headers.get("content-length")
    if declared is not None:
        length = header_int(declared)
        if length is None:
            raise ApiError(400, "bad_request", "The Content-Length header is not a number — update the software.")
        if length > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "too_large",
        f"The request body is larger than this engine takes ({limit} bytes) — send less at once.",
    )


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that gives the already-read body once, then the client's own messages
    (so that a route still hears the client disconnect)."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def _path_and_query(scope: Scope) -> str:
    """The path and query exactly as sent (what the terminal signed)."""
    raw = scope.get("raw_path")
    path = raw.split(b"?", 1)[0].decode("latin-1") if raw else scope["path"]
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


def caller_of(scope: Scope) -> Caller | None:
    """The caller the guard proved for this request (None on a route it did not guard)."""
    caller = scope.get(CALLER_KEY)
    return caller if isinstance(caller, Caller) else None


__all__ = ["CALLER_KEY", "EdgeGuard", "EdgeLimits", "caller_of", "needs_signature"]
