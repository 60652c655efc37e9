"""The terminal's typed client for the engine HTTP API (DESIGN.md §4).

Imported by the TUI process: it must never import textual, providers, crypto, the server, the
store or the sandbox. Every request except activation is signed by :class:`TerminalSigner` (an
``httpx.Auth``). Errors come out as the domain error tree:

- the engine cannot be reached (connect error, timeout, 502/503/504 from a proxy) ->
  :class:`EngineUnavailable` ("Engine unreachable — cash only until it is back");
- the engine refused the request -> a :class:`PosError` subclass carrying the engine's message,
  which is written for the cashier (AmountError, AuthCodeError, PaymentDeclined, PaymentNotFound, …).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Sequence
from datetime import date, datetime
from importlib import metadata
from types import TracebackType
from typing import Any, Literal, TypeVar
from urllib.parse import urlencode

import httpx
from httpx_sse import SSEError, aconnect_sse
from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_result, stop_after_attempt

from pos_app.api import auth as terminal_auth
from pos_app.api.schemas import (
    ActivateRequest,
    ActivateResponse,
    CancelPayment,
    ChannelsView,
    CreatePayment,
    CreateRefund,
    DailyReport,
    ErrorBody,
    JournalEvent,
    PaymentEvent,
    PaymentList,
    PaymentView,
    RefundView,
    StoreCode,
    StoreCodeRequest,
    SyncAck,
    SyncBatch,
)
from pos_app.domain import errors as domain_errors
from pos_app.domain.routing import PaymentMode


def _package_version() -> str:
    """The installed package's version (the engine shows it on the console's Terminals page)."""
    try:
        return metadata.version("pos-app")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        from pos_app import __version__

        return __version__


_VERSION = _package_version()

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=3.0)
#: A 429 asking to wait this long or less is waited out and the request sent again (a burst, e.g.
#: settling many open payments at sign-in); a longer wait is the cashier's to see.
RATE_LIMIT_WAIT_CAP_S = 2.0
RATE_LIMIT_TRIES = 4
#: The engine pings every 15 s; three missed pings mean the stream is dead.
EVENTS_READ_TIMEOUT_S = 45.0
UNREACHABLE = "Engine unreachable — cash only until it is back."

ModelT = TypeVar("ModelT", bound=BaseModel)


def _retry_after_s(response: httpx.Response) -> float | None:
    """The seconds a 429 asks to wait, if it says (whole seconds, per RFC 9110)."""
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isascii() and value.isdigit() else None


def _briefly_rate_limited(response: httpx.Response) -> bool:
    if response.status_code != 429:
        return False
    wait = _retry_after_s(response)
    return wait is not None and wait <= RATE_LIMIT_WAIT_CAP_S


def _retry_after(state: RetryCallState) -> float:
    assert state.outcome is not None
    return _retry_after_s(state.outcome.result()) or 0.0


def _last_response(state: RetryCallState) -> httpx.Response:
    """Out of tries: the last 429 itself, for the caller to word."""
    assert state.outcome is not None
    response: httpx.Response = state.outcome.result()
    return response


class EngineError(domain_errors.PosError):
    """The engine refused a request. ``code`` is the engine's stable error code."""

    def __init__(self, message: str, *, status_code: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code


class PaymentNotFound(EngineError):
    """The engine has no such payment or refund for this terminal."""


class EngineConflict(EngineError):
    """The request conflicts with what the engine holds (e.g. a state that cannot change any more)."""


class SyncRejected(EngineConflict):
    """A journal batch was refused: a gap (send from the seq the message names) or a fork."""


class TerminalNotAuthorised(domain_errors.AuthorisationError):
    """401: not activated, wrong key, clock skew or a replayed request."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


_BY_CODE: dict[str, type[domain_errors.PosError]] = {
    "amount_error": domain_errors.AmountError,
    "auth_code_error": domain_errors.AuthCodeError,
    "id_error": domain_errors.IdError,
    "input_error": domain_errors.InputError,
    "invalid_request": domain_errors.InputError,
    "declined": domain_errors.PaymentDeclined,
    "outcome_unknown": domain_errors.OutcomeUnknown,
    "forbidden": domain_errors.AuthorisationError,
}


def error_from_response(status_code: int, content: bytes) -> domain_errors.PosError:
    """The domain error for an engine error response (an ErrorBody, or a proxy's page)."""
    try:
        body = ErrorBody.model_validate_json(content)
    except ValidationError:
        if status_code in (502, 503, 504):
            return domain_errors.EngineUnavailable(UNREACHABLE)
        return EngineError(
            f"The engine answered {status_code} unexpectedly — try again.", status_code=status_code, code="http_error"
        )
    if status_code == 401:
        return TerminalNotAuthorised(body.message, code=body.code)
    if body.code == "sync_conflict":
        return SyncRejected(body.message, status_code=status_code, code=body.code)
    if status_code == 404 or body.code == "not_found":
        return PaymentNotFound(body.message, status_code=status_code, code=body.code)
    if status_code == 409:
        return EngineConflict(body.message, status_code=status_code, code=body.code)
    mapped = _BY_CODE.get(body.code)
    if mapped is not None:
        return mapped(body.message)
    if status_code >= 500 and body.code in ("internal", "engine_misconfigured", "gateway_misconfigured"):
        return EngineError(body.message, status_code=status_code, code=body.code)
    if status_code >= 500:
        return domain_errors.EngineUnavailable(body.message or UNREACHABLE)
    return EngineError(body.message, status_code=status_code, code=body.code)


class TerminalSigner(httpx.Auth):
    """Signs each request with the terminal key (see ``terminal_auth`` for the canonical string)."""

    requires_request_body = True

    def __init__(self, terminal_id: str, key: bytes, *, clock: Callable[[], float] = time.time) -> None:
        self.terminal_id = terminal_id
        self._key = key
        self._clock = clock

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        timestamp = str(int(self._clock()))
        nonce = secrets.token_urlsafe(18)
        path_and_query = request.url.raw_path.decode("ascii")
        signature = terminal_auth.sign(self._key, request.method, path_and_query, timestamp, nonce, request.content)
        request.headers[terminal_auth.HEADER_TERMINAL] = self.terminal_id
        request.headers[terminal_auth.HEADER_TIMESTAMP] = timestamp
        request.headers[terminal_auth.HEADER_NONCE] = nonce
        request.headers[terminal_auth.HEADER_SIGNATURE] = signature
        yield request


def _on_the_wire(sent: asyncio.Event) -> Callable[[str, dict[str, Any]], Awaitable[None]]:
    """An httpcore trace hook that sets ``sent`` once the request's body is written to the socket.

    Why: the terminal builds its QR screen (tens of milliseconds on the event loop) while the engine
    creates the order, and must not start before the order has left; counting loop turns was not
    enough on a loaded machine (the request could be written after the screen was built).
    """

    async def trace(event: str, info: dict[str, Any]) -> None:
        if event.endswith("send_request_body.complete"):
            sent.set()

    return trace


class EngineClient:
    """Typed async client of one terminal. Use as ``async with EngineClient(...) as engine:``."""

    def __init__(
        self,
        base_url: str,
        terminal_id: str,
        terminal_key: bytes | None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.terminal_id = terminal_id
        self._key = terminal_key
        self._clock = clock
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            timeout=timeout,
            headers={"User-Agent": f"pos_app-terminal/{_VERSION}", "Accept": "application/json"},
        )

    # --- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> EngineClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def activated(self) -> bool:
        return self._key is not None

    def _auth(self) -> TerminalSigner:
        if self._key is None:
            raise TerminalNotAuthorised("This terminal is not activated yet — enter an activation code first.")
        return TerminalSigner(self.terminal_id, self._key, clock=self._clock)

    # --- plumbing ---------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        body: BaseModel | None = None,
        params: dict[str, str] | None = None,
        signed: bool = True,
        sent: asyncio.Event | None = None,
    ) -> httpx.Response:
        """One request; ``sent`` (if given) is set once the request is on the wire, or the call ended."""
        content = body.model_dump_json().encode("utf-8") if body is not None else b""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        auth = self._auth() if signed else None
        extensions = {} if sent is None else {"trace": _on_the_wire(sent)}
        try:
            # Every request of ours is idempotent (order and refund numbers; each sending is signed
            # afresh with a new nonce), so one refused for this till's rate is sent again once the
            # engine's Retry-After has passed.
            retrying = AsyncRetrying(
                retry=retry_if_result(_briefly_rate_limited),
                wait=_retry_after,
                stop=stop_after_attempt(RATE_LIMIT_TRIES),
                retry_error_callback=_last_response,
            )
            response: httpx.Response = await retrying(
                self._http.request,
                method,
                path,
                content=content,
                params=params,
                headers=headers,
                auth=auth or httpx.USE_CLIENT_DEFAULT,
                extensions=extensions,
            )
        except (httpx.TransportError, httpx.TimeoutException):
            raise domain_errors.EngineUnavailable(UNREACHABLE) from None
        finally:
            if sent is not None:
                sent.set()
        if response.status_code >= 400:
            raise error_from_response(response.status_code, response.content)
        return response

    @staticmethod
    def _parse(model: type[ModelT], response: httpx.Response) -> ModelT:
        try:
            return model.model_validate_json(response.content)
        except ValidationError:
            raise EngineError(
                "The engine answered in a format this terminal does not understand — update the terminal software.",
                status_code=response.status_code,
                code="bad_response",
            ) from None

    # --- API --------------------------------------------------------------------------------

    async def activate(self, code: str, store_id: str, terminal_id: str, name: str = "") -> ActivateResponse:
        """Trade a one-time code for this terminal's key; the client uses the key from then on.

        The caller must store ``terminal_key`` (``terminal_auth.decode_key``) in the 0600 key file.
        """
        request = ActivateRequest(activation_code=code, store_id=store_id, terminal_id=terminal_id, name=name)
        response = await self._send("POST", "/v1/terminals/activate", body=request, signed=False)
        result = self._parse(ActivateResponse, response)
        self.terminal_id = result.terminal_id
        self._key = terminal_auth.decode_key(result.terminal_key)
        return result

    async def create_payment(self, request: CreatePayment, *, sent: asyncio.Event | None = None) -> PaymentView:
        """``sent``: set once the request is written to the engine's socket (see :meth:`_send`)."""
        return self._parse(PaymentView, await self._send("POST", "/v1/payments", body=request, sent=sent))

    async def get_payment(self, out_trade_no: str) -> PaymentView:
        return self._parse(PaymentView, await self._send("GET", f"/v1/payments/{out_trade_no}"))

    async def cancel_payment(self, out_trade_no: str, request: CancelPayment) -> PaymentView:
        response = await self._send("POST", f"/v1/payments/{out_trade_no}/cancel", body=request)
        return self._parse(PaymentView, response)

    async def create_refund(self, out_trade_no: str, request: CreateRefund) -> RefundView:
        response = await self._send("POST", f"/v1/payments/{out_trade_no}/refunds", body=request)
        return self._parse(RefundView, response)

    async def get_refund(self, out_trade_no: str, out_refund_no: str) -> RefundView:
        response = await self._send("GET", f"/v1/payments/{out_trade_no}/refunds/{out_refund_no}")
        return self._parse(RefundView, response)

    async def daily_report(
        self, day: date | None = None, *, scope: Literal["terminal", "store"] = "terminal"
    ) -> DailyReport:
        params: dict[str, str] = {"scope": scope}
        if day is not None:
            params["date"] = day.isoformat()
        return self._parse(DailyReport, await self._send("GET", "/v1/reports/daily", params=params))

    async def sync_batch(self, events: Sequence[JournalEvent], *, head_seq: int | None = None) -> SyncAck:
        """Upload journal events; an empty list just asks for the highest contiguous seq held.
        ``head_seq``: this till's newest journal seq (the console shows how many are still unsent)."""
        batch = SyncBatch(events=list(events), head_seq=head_seq)
        response = await self._send("POST", "/v1/sync/batches", body=batch)
        return self._parse(SyncAck, response)

    async def channels(self) -> ChannelsView:
        """Which wallet channels take new payments now; a degraded one says why and what to do instead."""
        return self._parse(ChannelsView, await self._send("GET", "/v1/channels"))

    async def store_code(self, *, rotate: bool = False) -> StoreCode:
        """This till's printed store QR (the same one every time unless ``rotate``)."""
        response = await self._send("POST", "/v1/store-code", body=StoreCodeRequest(rotate=rotate))
        return self._parse(StoreCode, response)

    async def store_payments(self, since: datetime) -> list[PaymentView]:
        """Payments customers made on this till's store QR since ``since`` (any state), oldest first:
        what the event stream may have missed while the till was away."""
        path = "/v1/payments?" + urlencode({"mode": PaymentMode.STORE_QR.value, "since": since.isoformat()})
        return self._parse(PaymentList, await self._send("GET", path)).payments

    async def healthz(self) -> bool:
        """True when the engine answers its health check; never raises."""
        try:
            response = await self._http.get("/healthz", timeout=3.0)
        except (httpx.TransportError, httpx.TimeoutException):
            return False
        return response.status_code == 200

    async def events(
        self,
        last_event_id: int = 0,
        *,
        reconnect_delay_s: float = 0.5,
        max_reconnect_delay_s: float = 10.0,
    ) -> AsyncIterator[PaymentEvent]:
        """This terminal's payment/refund changes, forever, in order, each once.

        Reconnects on its own (backoff capped at ``max_reconnect_delay_s``) and resumes after the
        last event it yielded (``Last-Event-ID``). A refusal (401, 4xx) is raised, not retried.
        """
        last = last_event_id
        delay = reconnect_delay_s
        timeout = httpx.Timeout(EVENTS_READ_TIMEOUT_S, connect=3.0)
        while True:
            headers = {"Last-Event-ID": str(last), "Accept": "text/event-stream"}
            try:
                async with aconnect_sse(
                    self._http, "GET", "/v1/events", headers=headers, auth=self._auth(), timeout=timeout
                ) as source:
                    response = source.response
                    if response.status_code >= 400:
                        await response.aread()
                        error = error_from_response(response.status_code, response.content)
                        if not isinstance(error, domain_errors.EngineUnavailable):
                            raise error
                    else:
                        delay = reconnect_delay_s
                        async for sse in source.aiter_sse():
                            if sse.event not in ("payment", "refund") or not sse.data:
                                continue
                            item = PaymentEvent.model_validate_json(sse.data)
                            if item.event_id <= last:
                                continue
                            last = item.event_id
                            yield item
            except (httpx.TransportError, httpx.TimeoutException, SSEError):
                pass
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_reconnect_delay_s)


__all__ = [
    "EngineClient",
    "EngineConflict",
    "EngineError",
    "PaymentNotFound",
    "SyncRejected",
    "TerminalNotAuthorised",
    "TerminalSigner",
    "error_from_response",
]
