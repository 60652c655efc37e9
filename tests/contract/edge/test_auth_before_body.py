"""Authenticate first, then read (issue 16, findings 2 and 5): the body of a caller whose headers do
not hold up is never pulled from the ASGI receive channel; every body is bounded, by its declared
length and while it is read; malformed signature headers are a 401, never a 500."""

from __future__ import annotations

import asyncio
import json

import pytest

from pos_app.api import auth as terminal_auth
from tests.contract.api.api_support import Stack

from .edge_support import AsgiCall, Till, activate, junk_chunks, raw_client, signed_headers, stranger

BIG = 32 * 1024 * 1024


@pytest.fixture
async def till(stack: Stack) -> Till:
    return await activate(stack, "T001", "S00001")


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_an_unsigned_32_mb_body_is_refused_401_without_being_read(stack: Stack, declared: bool) -> None:
    headers = {"content-type": "application/json", **({"content-length": str(BIG)} if declared else {})}
    call = await AsgiCall("POST", "/v1/payments", headers, junk_chunks(BIG)).run(stack.engine)
    assert call.status == 401 and json.loads(call.body)["code"] == "unsigned"
    assert call.receive_calls == 0 and call.bytes_pulled == 0


@pytest.mark.parametrize(
    ("header", "value"),
    [
        (terminal_auth.HEADER_TIMESTAMP, "²"),  # isdigit() is true, int() refuses it: was a 500
        (terminal_auth.HEADER_TIMESTAMP, "１７００００００００"),  # full-width digits: int() would take them
        (terminal_auth.HEADER_TIMESTAMP, "-1"),
        (terminal_auth.HEADER_TIMESTAMP, "1e9"),
        (terminal_auth.HEADER_TIMESTAMP, "9" * 40),
        (terminal_auth.HEADER_NONCE, "short"),
        (terminal_auth.HEADER_NONCE, "has spaces in it"),
        (terminal_auth.HEADER_SIGNATURE, "not base64!"),
        (terminal_auth.HEADER_TERMINAL, "T\x7f01"),
    ],
)
async def test_malformed_signature_headers_are_401_before_the_body(
    stack: Stack, till: Till, header: str, value: str
) -> None:
    body = b'{"events":[]}'
    headers = signed_headers(till, "POST", "/v1/sync/batches", body, **{header: value})
    call = await AsgiCall("POST", "/v1/sync/batches", headers, lambda: iter([body])).run(stack.engine)
    assert call.status == 401, call.body
    assert json.loads(call.body)["code"] in {"bad_signature", "clock_skew"}
    assert call.bytes_pulled == 0


async def test_a_signed_body_over_the_declared_limit_is_413_unread(stack: Stack, till: Till) -> None:
    limit = stack.settings.engine.max_body_bytes
    headers = signed_headers(till, "POST", "/v1/sync/batches", b"", **{"content-length": str(limit + 1)})
    call = await AsgiCall("POST", "/v1/sync/batches", headers, junk_chunks(limit + 1)).run(stack.engine)
    assert call.status == 413 and json.loads(call.body)["code"] == "too_large"
    assert call.bytes_pulled == 0


async def test_a_chunked_body_is_cut_off_once_it_passes_the_limit(stack: Stack, till: Till) -> None:
    limit = stack.settings.engine.max_body_bytes
    headers = signed_headers(till, "POST", "/v1/sync/batches", b"")
    call = await AsgiCall("POST", "/v1/sync/batches", headers, junk_chunks(BIG)).run(stack.engine)
    assert call.status == 413 and json.loads(call.body)["code"] == "too_large"
    assert limit < call.bytes_pulled <= limit + 64 * 1024  # stopped at the first chunk past the limit


async def test_unsigned_routes_have_a_small_limit(stack: Stack) -> None:
    limit = stack.settings.engine.max_unsigned_body_bytes
    async with raw_client(stack) as raw:
        response = await raw.post("/v1/terminals/activate", content=b"x" * (limit + 1))
    assert response.status_code == 413 and response.json()["code"] == "too_large"
    call = await AsgiCall("POST", "/v1/terminals/activate", {}, junk_chunks(BIG)).run(stack.engine)
    assert call.status == 413 and call.bytes_pulled <= limit + 64 * 1024


async def test_a_wrong_key_or_a_changed_body_is_still_401_after_reading(stack: Stack, till: Till) -> None:
    body = b'{"events":[]}'
    async with raw_client(stack) as raw:
        forged = await raw.post(
            "/v1/sync/batches", content=body, headers=signed_headers(stranger("T001"), "POST", "/v1/sync/batches", body)
        )
        assert forged.status_code == 401 and forged.json()["code"] == "bad_signature"
        changed = await raw.post(
            "/v1/sync/batches",
            content=b'{"events": []}',
            headers=signed_headers(till, "POST", "/v1/sync/batches", body),
        )
        assert changed.status_code == 401 and changed.json()["code"] == "bad_signature"
        good = await raw.post(
            "/v1/sync/batches", content=body, headers=signed_headers(till, "POST", "/v1/sync/batches", body)
        )
        assert good.status_code == 200


async def test_refusals_are_counted_by_reason(stack: Stack) -> None:
    await AsgiCall("POST", "/v1/payments", {}, junk_chunks(10)).run(stack.engine)
    async with raw_client(stack) as raw:
        text = (await raw.get("/metrics")).text
    assert 'pos_engine_refused_requests_total{reason="unsigned"} 1.0' in text


@pytest.mark.parametrize("path", ["/notify/wechatpay", "/notify/alipay"])
async def test_a_callback_with_a_unicode_digit_length_or_timestamp_is_not_a_500(stack: Stack, path: str) -> None:
    headers = {"content-length": "²", "wechatpay-timestamp": "²", "content-type": "application/json"}
    call = await AsgiCall("POST", path, headers, junk_chunks(100)).run(stack.engine)
    assert call.status is not None and 400 <= call.status < 500


async def test_a_unicode_digit_last_event_id_is_ignored_not_a_500(stack: Stack, till: Till) -> None:
    headers = {**signed_headers(till, "GET", "/v1/events", b""), "last-event-id": "²"}
    call = AsgiCall("GET", "/v1/events", headers, junk_chunks(0))

    async def until_the_stream_starts() -> None:
        while call.status is None:
            await asyncio.sleep(0.01)

    call.stay = until_the_stream_starts  # then the client hangs up
    await asyncio.wait_for(call.run(stack.engine), timeout=10)
    assert call.status == 200
