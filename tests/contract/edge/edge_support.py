"""Helpers of the edge tests: activated tills of any store, raw signed requests, bare ASGI calls."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from pos_app.api import auth as terminal_auth
from pos_app.api.client import EngineClient, TerminalSigner
from pos_app.api.schemas import CreatePayment
from pos_app.domain.ids import IdKind, make_trade_no
from pos_app.domain.routing import Channel, PaymentMode
from tests.contract.api.api_support import ENGINE_URL, Stack

_seq = itertools.count(1)


@dataclass(frozen=True)
class Till:
    """A terminal as the engine sees it: its id, its store and the key it signs with."""

    terminal_id: str
    store_id: str
    key: bytes

    def signer(self) -> TerminalSigner:
        return TerminalSigner(self.terminal_id, self.key)

    def client(self, stack: Stack) -> EngineClient:
        return stack.client(self.terminal_id, self.key)

    def trade_no(self, kind: IdKind = IdKind.PAYMENT) -> str:
        return make_trade_no(kind, store=self.store_id, terminal=self.terminal_id, seq=next(_seq), at=datetime.now())

    def native(self, channel: Channel = Channel.ALIPAY, amount_fen: int = 1230) -> CreatePayment:
        return CreatePayment(
            out_trade_no=self.trade_no(), amount_fen=amount_fen, mode=PaymentMode.NATIVE, channel=channel,
            subject="Coffee", operator="alice",
        )  # fmt: skip

    def micropay(self, auth_code: str, amount_fen: int) -> CreatePayment:
        return CreatePayment(
            out_trade_no=self.trade_no(), amount_fen=amount_fen, mode=PaymentMode.MICROPAY, auth_code=auth_code,
            subject="Tea", operator="alice",
        )  # fmt: skip


async def activate(stack: Stack, terminal_id: str, store_id: str) -> Till:
    async with stack.client(terminal_id) as client:
        answer = await client.activate(stack.new_code(), store_id, terminal_id, f"Till {terminal_id}")
    return Till(terminal_id, store_id, terminal_auth.decode_key(answer.terminal_key))


def stranger(terminal_id: str = "T999", store_id: str = "S00001") -> Till:
    """A terminal the engine never activated, with a key of its own making."""
    return Till(terminal_id, store_id, secrets.token_bytes(32))


def raw_client(stack: Stack) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(stack.engine), base_url=ENGINE_URL)


def signed_headers(till: Till, method: str, path: str, body: bytes, **overrides: str) -> dict[str, str]:
    """The X-Pos-* headers signing ``body`` for ``path``, with any header replaced by ``overrides``."""
    timestamp, nonce = str(int(datetime.now().timestamp())), secrets.token_urlsafe(18)
    headers = {
        terminal_auth.HEADER_TERMINAL: till.terminal_id,
        terminal_auth.HEADER_TIMESTAMP: timestamp,
        terminal_auth.HEADER_NONCE: nonce,
        terminal_auth.HEADER_SIGNATURE: terminal_auth.sign(till.key, method, path, timestamp, nonce, body),
        "content-type": "application/json",
    }
    return {**headers, **overrides}


@dataclass
class AsgiCall:
    """One request sent straight into the ASGI app, counting how much of its body the app pulled."""

    method: str
    path: str
    headers: dict[str, str]
    chunks: Callable[[], Any]  # an iterator of body chunks, pulled one per receive()
    receive_calls: int = 0
    bytes_pulled: int = 0
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    hold: Callable[[], Awaitable[None]] | None = None  # awaited before each chunk (keeps the request in flight)
    #: After the whole body: awaited, then the client disconnects (default: at once).
    stay: Callable[[], Awaitable[None]] | None = None

    async def run(self, app: Any) -> AsgiCall:
        chunks = self.chunks()
        body_done = False

        async def receive() -> dict[str, Any]:
            nonlocal body_done
            self.receive_calls += 1
            if body_done:
                if self.stay is not None:
                    await self.stay()
                return {"type": "http.disconnect"}
            if self.hold is not None:
                await self.hold()
            chunk = next(chunks, None)
            if chunk is None:
                body_done = True
                return {"type": "http.request", "body": b"", "more_body": False}
            self.bytes_pulled += len(chunk)
            return {"type": "http.request", "body": chunk, "more_body": True}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
                self.response_headers = {k.decode(): v.decode() for k, v in message["headers"]}
            elif message["type"] == "http.response.body":
                self.body += message.get("body", b"")

        path, _, query = self.path.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": self.method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(k.lower().encode("latin-1"), _wire(v)) for k, v in self.headers.items()],
            "client": ("127.0.0.1", 50000),
            "server": ("engine.test", 80),
        }
        await app(scope, receive, send)
        return self


def _wire(value: str) -> bytes:
    """A header value's bytes as a client sends them: Latin-1 where it can ("²" is one byte), else UTF-8."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def junk_chunks(total: int, size: int = 64 * 1024) -> Callable[[], Any]:
    """A body of ``total`` bytes in ``size`` chunks, made only as the app asks for them."""

    def chunks() -> Any:
        sent = 0
        while sent < total:
            n = min(size, total - sent)
            sent += n
            yield b"x" * n

    return chunks
