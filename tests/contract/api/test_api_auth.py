"""Activation with one-time codes, and the HMAC guard on every /v1 route (DESIGN.md §7)."""

from __future__ import annotations

import secrets
import time
from datetime import timedelta

import httpx
import pytest
from api_support import ENGINE_URL, STORE, TERMINAL, Stack

from pos_app.api import auth as terminal_auth
from pos_app.api.client import EngineClient, TerminalNotAuthorised, TerminalSigner
from pos_app.domain.errors import AuthorisationError


def _signed_headers(key: bytes, method: str, path: str, body: bytes, *, ts: int | None = None, nonce: str = ""):
    timestamp = str(int(time.time()) if ts is None else ts)
    nonce = nonce or secrets.token_hex(12)
    return {
        terminal_auth.HEADER_TERMINAL: TERMINAL,
        terminal_auth.HEADER_TIMESTAMP: timestamp,
        terminal_auth.HEADER_NONCE: nonce,
        terminal_auth.HEADER_SIGNATURE: terminal_auth.sign(key, method, path, timestamp, nonce, body),
        "Content-Type": "application/json",
    }


async def _raw(stack: Stack) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(stack.engine), base_url=ENGINE_URL)


async def test_activation_gives_a_working_key_and_the_code_is_single_use(stack: Stack) -> None:
    code = stack.new_code()
    async with stack.client() as client:
        assert not client.activated
        result = await client.activate(code, STORE, TERMINAL, "Till 1")
        assert (result.terminal_id, result.store_id) == (TERMINAL, STORE)
        key = terminal_auth.decode_key(result.terminal_key)
        assert len(key) == 32
        assert (await client.sync_batch([])).acked_seq == 0  # a signed call succeeds
    stored = stack.registry.terminal(TERMINAL)
    assert stored is not None and stored.name == "Till 1" and stored.store_id == STORE
    async with stack.client("T002") as other:
        with pytest.raises(TerminalNotAuthorised, match="not valid"):
            await other.activate(code, STORE, "T002", "Till 2")


async def test_a_stored_code_is_only_its_hash(stack: Stack) -> None:
    from sqlmodel import Session, select

    from pos_app.engine.store.terminals import ActivationCode

    code = stack.new_code()
    with Session(stack.registry.engine) as session:
        hashes = [row.code_hash for row in session.exec(select(ActivationCode)).all()]
    normalised = code.replace("-", "")
    assert hashes and all(normalised not in h for h in hashes)


async def test_expired_and_foreign_codes_are_refused(stack: Stack) -> None:
    expired = stack.registry.new_activation_code(ttl=timedelta(seconds=-1))
    bound = stack.new_code(store_id=STORE, terminal_id="T009")
    async with stack.client() as client:
        with pytest.raises(TerminalNotAuthorised, match="expired"):
            await client.activate(expired, STORE, TERMINAL)
        with pytest.raises(TerminalNotAuthorised, match="another store or terminal"):
            await client.activate(bound, STORE, TERMINAL)
        with pytest.raises(TerminalNotAuthorised):
            await client.activate("NOPE-NOPE-NOPE", STORE, TERMINAL)
        assert not client.activated
        # The bound code still works for its own terminal: refusals did not use it up.
        async with stack.client("T009") as right:
            await right.activate(bound, STORE, "T009")


async def test_reactivation_replaces_the_key(stack: Stack, client: EngineClient) -> None:
    old_signer = client._auth()
    async with stack.client() as again:
        await again.activate(stack.new_code(), STORE, TERMINAL, "Till 1 (new disk)")
        assert (await again.sync_batch([])).acked_seq == 0
    async with httpx.AsyncClient(transport=httpx.ASGITransport(stack.engine), base_url=ENGINE_URL) as raw:
        response = await raw.post("/v1/sync/batches", json={"events": []}, auth=old_signer)
    assert response.status_code == 401
    assert response.json()["code"] == "bad_signature"


async def test_unsigned_unknown_and_badly_signed_requests_are_401(stack: Stack, client: EngineClient) -> None:
    key = client._key
    assert key is not None
    path, body = "/v1/sync/batches", b'{"events":[]}'
    async with await _raw(stack) as raw:
        unsigned = await raw.post(path, content=body, headers={"Content-Type": "application/json"})
        assert unsigned.status_code == 401 and unsigned.json()["code"] == "unsigned"

        headers = _signed_headers(key, "POST", path, body)
        headers[terminal_auth.HEADER_TERMINAL] = "T999"
        unknown = await raw.post(path, content=body, headers=headers)
        assert unknown.status_code == 401 and unknown.json()["code"] == "unknown_terminal"
        assert "activate" in unknown.json()["message"]

        tampered = _signed_headers(key, "POST", path, body)
        response = await raw.post(path, content=b'{"events": []}', headers=tampered)
        assert response.status_code == 401 and response.json()["code"] == "bad_signature"

        wrong_key = _signed_headers(secrets.token_bytes(32), "POST", path, body)
        response = await raw.post(path, content=body, headers=wrong_key)
        assert response.status_code == 401 and response.json()["code"] == "bad_signature"

        other_path = _signed_headers(key, "POST", "/v1/payments", body)
        response = await raw.post(path, content=body, headers=other_path)
        assert response.status_code == 401

        good = await raw.post(path, content=body, headers=_signed_headers(key, "POST", path, body))
        assert good.status_code == 200 and good.json() == {"acked_seq": 0}


async def test_query_string_is_signed(stack: Stack, client: EngineClient) -> None:
    key = client._key
    assert key is not None
    async with await _raw(stack) as raw:
        headers = _signed_headers(key, "GET", "/v1/reports/daily?scope=terminal", b"")
        response = await raw.get("/v1/reports/daily?scope=store", headers=headers)
    assert response.status_code == 401 and response.json()["code"] == "bad_signature"


async def test_clock_skew_over_300_s_is_refused(stack: Stack, client: EngineClient) -> None:
    key = client._key
    assert key is not None
    for offset, ok in ((-301, False), (301, False), (-290, True), (290, True)):
        async with stack.client(key=key, clock=lambda o=offset: time.time() + o) as skewed:
            if ok:
                assert (await skewed.sync_batch([])).acked_seq == 0
            else:
                with pytest.raises(TerminalNotAuthorised, match="clock is off"):
                    await skewed.sync_batch([])


async def test_a_replayed_request_is_refused(stack: Stack, client: EngineClient) -> None:
    key = client._key
    assert key is not None
    path, body = "/v1/sync/batches", b'{"events":[]}'
    headers = _signed_headers(key, "POST", path, body, nonce="replay-me-0001")
    async with await _raw(stack) as raw:
        first = await raw.post(path, content=body, headers=headers)
        second = await raw.post(path, content=body, headers=headers)
    assert first.status_code == 200
    assert second.status_code == 401 and second.json()["code"] == "replayed"


async def test_client_errors_are_domain_errors(stack: Stack) -> None:
    async with EngineClient(
        ENGINE_URL, "T777", secrets.token_bytes(32), transport=httpx.ASGITransport(stack.engine)
    ) as c:
        with pytest.raises(AuthorisationError) as info:
            await c.sync_batch([])
    assert "not activated" in info.value.message


def test_signer_is_an_httpx_auth() -> None:
    assert issubclass(TerminalSigner, httpx.Auth)


async def test_nonces_are_kept_until_they_expire_then_purged(stack: Stack) -> None:
    from datetime import UTC, datetime

    from sqlmodel import Session

    from pos_app.engine.store.terminals import SeenNonce

    registry = stack.registry
    past = datetime.now(UTC) - timedelta(seconds=5)
    assert registry.remember_nonce("T001", "old-nonce-1", keep_until=past)
    assert not registry.remember_nonce("T001", "old-nonce-1", keep_until=past)  # still held: a replay
    assert registry.remember_nonce("T002", "old-nonce-1", keep_until=past)  # nonces are per terminal
    with Session(registry.engine) as session:
        row = session.get(SeenNonce, ("T001", "old-nonce-1"))
        assert row is not None and row.expires_at == past  # the raw insert reads back exactly
    registry._purge_after = datetime.min.replace(tzinfo=UTC)
    assert registry.remember_nonce("T001", "fresh-nonce", keep_until=datetime.now(UTC) + timedelta(seconds=300))
    assert registry.remember_nonce("T001", "old-nonce-1", keep_until=past)  # purged, so accepted again
    assert not registry.remember_nonce("T001", "fresh-nonce", keep_until=past)
