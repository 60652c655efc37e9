"""EngineClient.create_payment(sent=...): the event is set once the request is written to the
engine's socket — before any answer — which is what the QR screen waits for (a real socket here)."""

from __future__ import annotations

import asyncio

import pytest

from pos_app.api.client import EngineClient
from pos_app.api.schemas import CreatePayment
from pos_app.domain.errors import PosError
from pos_app.domain.routing import Channel, PaymentMode

REQUEST = CreatePayment(
    out_trade_no="P2611230000S00001T00100000001",
    amount_fen=1250,
    mode=PaymentMode.NATIVE,
    channel=Channel.WECHAT,
    subject="Coffee",
    operator="Demo Cashier",
)


async def test_sent_is_set_when_the_request_is_on_the_wire_not_when_answered() -> None:
    received = asyncio.Event()
    answer = asyncio.Event()

    async def engine(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
        body = await reader.readexactly(length)
        assert b'"amount_fen":1250' in body
        received.set()
        await answer.wait()  # the engine is still creating the order
        payload = b'{"error": "busy", "message": "The ledger is too busy - try again."}'
        writer.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n")
        writer.write(b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(payload), payload))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(engine, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = EngineClient(f"http://127.0.0.1:{port}", "T001", b"k" * 32)
    sent = asyncio.Event()
    try:
        call = asyncio.ensure_future(client.create_payment(REQUEST, sent=sent))
        await asyncio.wait_for(sent.wait(), 5)
        await asyncio.wait_for(received.wait(), 5)
        assert not call.done()  # on the wire, still waiting for the engine's answer
        answer.set()
        with pytest.raises(PosError):
            await asyncio.wait_for(call, 5)
    finally:
        answer.set()
        await client.aclose()
        server.close()
        await server.wait_closed()


async def test_sent_is_set_when_the_engine_cannot_be_reached() -> None:
    client = EngineClient("http://127.0.0.1:9", "T001", b"k" * 32)  # nothing listens on the discard port
    sent = asyncio.Event()
    try:
        with pytest.raises(PosError):
            await client.create_payment(REQUEST, sent=sent)
        assert sent.is_set()  # a waiting screen is never left hanging
    finally:
        await client.aclose()
