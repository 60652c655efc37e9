"""The engine's console routes (/console/v1): signed by the console key, scoped to the acting user's
stores, reusing the tills' refund approval and the terminal registry. Real engine + sandbox apps."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from datetime import datetime

import httpx
import pytest
from api_support import ENGINE_URL, STORE, TERMINAL, Stack

from pos_app.api import auth
from pos_app.api.client import EngineClient
from pos_app.api.console_link import (
    CONSOLE_ID,
    HEADER_CONSOLE,
    Acting,
    ConsoleActivationCode,
    ConsoleRefund,
    ConsoleTerminalDisable,
)
from pos_app.api.schemas import CreatePayment
from pos_app.console.engine_key import make_engine_key
from pos_app.console.engine_link import EngineLink, EngineRefused
from pos_app.domain.ids import IdKind, make_trade_no
from pos_app.domain.routing import PaymentMode
from pos_app.domain.states import PaymentState, RefundState

OTHER_STORE = "S00002"
MANAGER_A = Acting(user="mgr-a", stores=[STORE])
MANAGER_B = Acting(user="mgr-b", stores=[OTHER_STORE])
_seq = itertools.count(1)
OWNER = Acting(user="owner", stores=None)


def uid(kind: str) -> str:
    return kind + secrets.token_hex(12)


def link(stack: Stack) -> EngineLink:
    settings = stack.settings
    return EngineLink(
        ENGINE_URL,
        settings.path(settings.console.engine_key_file),
        transport=httpx.ASGITransport(stack.engine),
    )


@pytest.fixture
def keyed(stack: Stack) -> Stack:
    make_engine_key(stack.settings.path(stack.settings.console.engine_key_file))
    return stack


async def paid(stack: Stack, client: EngineClient, amount_fen: int = 2000) -> str:
    code = await stack.auth_code("wechat")
    number = make_trade_no(IdKind.PAYMENT, store=STORE, terminal=TERMINAL, seq=next(_seq), at=datetime.now())
    request = CreatePayment(
        out_trade_no=number, amount_fen=amount_fen,
        mode=PaymentMode.MICROPAY, auth_code=code, subject="Tea", operator="alice",
    )  # fmt: skip
    assert (await client.create_payment(request)).state is PaymentState.PAID
    return request.out_trade_no


def refund_of(out_trade_no: str, acting: Acting, *, pin: str = "9999", amount_fen: int = 500) -> ConsoleRefund:
    return ConsoleRefund(
        acting=acting, out_trade_no=out_trade_no, out_refund_no=uid('R'),
        amount_fen=amount_fen, reason="broken cup", approver="Demo Manager", approver_pin=pin,
    )  # fmt: skip


async def test_a_manager_refunds_a_payment_of_their_store_with_the_engine_approval(
    keyed: Stack, client: EngineClient
) -> None:
    out_trade_no = await paid(keyed, client)
    with pytest.raises(EngineRefused, match="did not accept Demo Manager's approval") as wrong:
        await link(keyed).refund(refund_of(out_trade_no, MANAGER_A, pin="1111"))
    assert wrong.value.status == 403
    refund = await link(keyed).refund(refund_of(out_trade_no, MANAGER_A))
    assert refund.out_trade_no == out_trade_no and refund.amount_fen == 500
    deadline = time.monotonic() + 30
    view = await client.get_refund(out_trade_no, refund.out_refund_no)  # the till may read it: its payment
    while view.state is not RefundState.SUCCESS and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        view = await client.get_refund(out_trade_no, refund.out_refund_no)
    assert view.state is RefundState.SUCCESS
    assert (await client.get_payment(out_trade_no)).refunded_fen == 500


async def test_a_manager_of_another_store_cannot_refund_nor_learn_the_payment(
    keyed: Stack, client: EngineClient
) -> None:
    out_trade_no = await paid(keyed, client)
    with pytest.raises(EngineRefused) as refused:
        await link(keyed).refund(refund_of(out_trade_no, MANAGER_B))
    assert refused.value.status == 404
    with pytest.raises(EngineRefused) as unknown:
        await link(keyed).refund(refund_of("P" + "9" * 20, MANAGER_B))
    assert unknown.value.status == 404 and unknown.value.message == refused.value.message
    assert (await client.get_payment(out_trade_no)).refunded_fen == 0


async def test_terminals_are_disabled_and_codes_made_only_in_the_acting_stores(
    keyed: Stack, client: EngineClient
) -> None:
    with pytest.raises(EngineRefused) as refused:
        await link(keyed).disable_terminal(ConsoleTerminalDisable(acting=MANAGER_B, terminal_id=TERMINAL))
    assert refused.value.status == 404
    assert keyed.registry.terminal_key(TERMINAL) is not None
    with pytest.raises(EngineRefused) as no_code:
        await link(keyed).activation_code(ConsoleActivationCode(acting=MANAGER_B, store_id=STORE))
    assert no_code.value.status == 404
    made = await link(keyed).activation_code(
        ConsoleActivationCode(acting=OWNER, store_id=OTHER_STORE, terminal_id="U009")
    )
    async with keyed.client("U009") as till:
        await till.activate(made.code, OTHER_STORE, "U009", "Till 9")
    assert keyed.registry.terminal_key("U009") is not None
    done = await link(keyed).disable_terminal(ConsoleTerminalDisable(acting=MANAGER_A, terminal_id=TERMINAL))
    assert (done.terminal_id, done.store_id) == (TERMINAL, STORE)
    row = keyed.registry.terminal(TERMINAL)
    assert row is not None and row.disabled


async def test_unsigned_forged_and_replayed_requests_are_refused(keyed: Stack, client: EngineClient) -> None:
    settings = keyed.settings
    key = auth.decode_key(settings.path(settings.console.engine_key_file).read_text("ascii"))
    body = ConsoleTerminalDisable(acting=OWNER, terminal_id=TERMINAL).model_dump_json().encode()
    path = "/console/v1/terminals/disable"

    def signed(with_key: bytes, nonce: str) -> dict[str, str]:
        ts = str(int(time.time()))
        return {
            HEADER_CONSOLE: CONSOLE_ID, auth.HEADER_TIMESTAMP: ts, auth.HEADER_NONCE: nonce,
            auth.HEADER_SIGNATURE: auth.sign(with_key, "POST", path, ts, nonce, body),
            "Content-Type": "application/json",
        }  # fmt: skip

    async with httpx.AsyncClient(transport=httpx.ASGITransport(keyed.engine), base_url=ENGINE_URL) as raw:
        assert (await raw.post(path, content=body, headers={"Content-Type": "application/json"})).status_code == 401
        forged = await raw.post(path, content=body, headers=signed(b"k" * 32, "nonce-forged-1"))
        assert forged.status_code == 401 and forged.json()["code"] == "bad_signature"
        # A terminal's own key is not the console's key.
        terminal_key = keyed.registry.terminal_key(TERMINAL)
        assert terminal_key is not None
        as_till = await raw.post(path, content=body, headers=signed(terminal_key[1], "nonce-till-01"))
        assert as_till.status_code == 401
        assert keyed.registry.terminal_key(TERMINAL) is not None  # nothing was disabled
        headers = signed(key, "nonce-real-001")
        assert (await raw.post(path, content=body, headers=headers)).status_code == 200
        replayed = await raw.post(path, content=body, headers=headers)
        assert replayed.status_code == 401 and replayed.json()["code"] == "replayed"


async def test_an_engine_without_the_console_key_says_how_to_link(stack: Stack, client: EngineClient) -> None:
    with pytest.raises(EngineRefused, match="pos console engine-key"):
        await link(stack).disable_terminal(ConsoleTerminalDisable(acting=OWNER, terminal_id=TERMINAL))
    assert stack.registry.terminal_key(TERMINAL) is not None
