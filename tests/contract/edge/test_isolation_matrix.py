"""Every /v1 route × every kind of caller: what each may see and do (issue 16, finding 1).

Callers: the terminal that owns the data (T001 of S00001), another terminal of the same store
(T002), a terminal of another store (T101 of S00002), a terminal the engine never activated, and a
disabled one (T003). The data: T001 has a paid payment with a refund, a QR order awaiting its scan
and one synced journal event; T002 a QR order; T101 a paid payment and a QR order of its own.
Amounts differ per store, so a leak shows in the totals.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from pos_app.api.client import EngineClient
from pos_app.api.schemas import CreateRefund, JournalEvent, PaymentEvent, PaymentView, RefundView
from pos_app.domain.chain import GENESIS_HASH, event_hash, utc_text
from pos_app.domain.ids import IdKind
from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from tests.contract.api.api_support import Stack, serve_on_loopback

from .edge_support import Till, activate, raw_client, stranger

OWN, SAME_STORE, OTHER_STORE, UNKNOWN, DISABLED = "own", "same_store", "other_store", "unknown", "disabled"
PEERS = (SAME_STORE, OTHER_STORE)
LOCKED_OUT = (UNKNOWN, DISABLED)
STORE, OTHER = "S00001", "S00002"
OWN_PAID_FEN, OTHER_PAID_FEN = 880, 77_700
#: The sandbox profile's demo manager of S00001: a peer's refund is refused for its scope, not for this.
APPROVAL = {"approver": "Demo Manager", "approver_pin": "9999"}

#: Every signed /v1 route (method, template). A route added without a row here fails the coverage test.
SIGNED_ROUTES = {
    ("POST", "/v1/payments"),
    ("GET", "/v1/payments/{out_trade_no}"),
    ("POST", "/v1/payments/{out_trade_no}/cancel"),
    ("POST", "/v1/payments/{out_trade_no}/refunds"),
    ("GET", "/v1/payments/{out_trade_no}/refunds/{out_refund_no}"),
    ("GET", "/v1/events"),
    ("POST", "/v1/sync/batches"),
    ("GET", "/v1/reports/daily"),
    ("GET", "/v1/reports/terminals"),
    ("GET", "/v1/channels"),
    ("POST", "/v1/store-code"),
    ("GET", "/v1/payments"),  # ?mode=store_qr&since=…: the caller's own store-QR payments
}
UNSIGNED_ROUTES = {("POST", "/v1/terminals/activate")}


@dataclass
class World:
    stack: Stack
    tills: dict[str, Till]
    paid: PaymentView  # T001's, PAID
    refund: RefundView  # of ``paid``
    awaiting: PaymentView  # T001's QR order, AWAITING_SCAN
    same_awaiting: PaymentView  # T002's QR order
    other_paid: PaymentView  # T101's, PAID
    other_awaiting: PaymentView  # T101's QR order

    async def send(self, who: str, method: str, path: str, json: Any = None) -> httpx.Response:
        async with raw_client(self.stack) as raw:
            return await raw.request(method, path, json=json, auth=self.tills[who].signer())

    async def owner_view(self, out_trade_no: str) -> PaymentView:
        async with self.tills[OWN].client(self.stack) as client:
            return await client.get_payment(out_trade_no)


def _journal_event() -> JournalEvent:
    at = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    payload: dict[str, object] = {"sale": 1, "amount_fen": 100}
    digest = event_hash(seq=1, kind="sale", payload=payload, at=utc_text(at), prev_hash=GENESIS_HASH)
    return JournalEvent(seq=1, kind="sale", payload=payload, at=at, prev_hash=GENESIS_HASH, hash=digest)


async def _paid(stack: Stack, client: EngineClient, till: Till, channel: Channel, amount_fen: int) -> PaymentView:
    view = await client.create_payment(till.micropay(await stack.auth_code(channel.value), amount_fen))
    for _ in range(200):
        if view.state is PaymentState.PAID:
            return view
        await asyncio.sleep(0.05)
        view = await client.get_payment(view.out_trade_no)
    raise AssertionError(f"{view.out_trade_no} is {view.state}, not PAID")


@pytest.fixture
async def world(stack: Stack) -> World:
    tills = {
        OWN: await activate(stack, "T001", STORE),
        SAME_STORE: await activate(stack, "T002", STORE),
        OTHER_STORE: await activate(stack, "T101", OTHER),
        DISABLED: await activate(stack, "T003", STORE),
        UNKNOWN: stranger("T999", STORE),
    }
    assert stack.registry.disable("T003")
    own, same, other = tills[OWN], tills[SAME_STORE], tills[OTHER_STORE]
    async with own.client(stack) as c:
        paid = await _paid(stack, c, own, Channel.ALIPAY, OWN_PAID_FEN)
        refund = await c.create_refund(
            paid.out_trade_no,
            CreateRefund(out_refund_no=own.trade_no(IdKind.REFUND), amount_fen=80, operator="bob", **APPROVAL),
        )
        awaiting = await c.create_payment(own.native(Channel.ALIPAY, 1111))
        assert (await c.sync_batch([_journal_event()])).acked_seq == 1
    async with same.client(stack) as c:
        same_awaiting = await c.create_payment(same.native(Channel.WECHAT, 2222))
    async with other.client(stack) as c:
        other_paid = await _paid(stack, c, other, Channel.WECHAT, OTHER_PAID_FEN)
        other_awaiting = await c.create_payment(other.native(Channel.ALIPAY, 33_333))
    assert {awaiting.state, same_awaiting.state, other_awaiting.state} == {PaymentState.AWAITING_SCAN}
    return World(stack, tills, paid, refund, awaiting, same_awaiting, other_paid, other_awaiting)


def _concrete(world: World, template: str) -> str:
    return template.format(out_trade_no=world.paid.out_trade_no, out_refund_no=world.refund.out_refund_no)


async def test_the_matrix_covers_every_v1_route(stack: Stack) -> None:
    served = {
        (method, route.path)
        for route in stack.engine.routes
        if isinstance(route, APIRoute) and route.path.startswith("/v1/")
        for method in route.methods
    }
    assert served == SIGNED_ROUTES | UNSIGNED_ROUTES


async def test_unknown_and_disabled_terminals_are_refused_on_every_signed_route(world: World) -> None:
    for method, template in sorted(SIGNED_ROUTES):
        body = {} if method == "POST" else None
        for who, code in ((UNKNOWN, "unknown_terminal"), (DISABLED, "terminal_disabled")):
            response = await world.send(who, method, _concrete(world, template), body)
            assert response.status_code == 401, (who, method, template, response.text)
            assert response.json()["code"] == code
    disabled = (await world.send(DISABLED, "GET", f"/v1/payments/{world.paid.out_trade_no}")).json()
    assert "disabled" in disabled["message"] and "re-activate" in disabled["message"]


async def test_each_till_has_its_own_store_code_and_lists_only_its_own_store_payments(world: World) -> None:
    urls = {}
    for who in (OWN, *PEERS):
        first = await world.send(who, "POST", "/v1/store-code", {})
        again = await world.send(who, "POST", "/v1/store-code", {})
        assert first.status_code == again.status_code == 200
        assert (
            first.json()["url"] == again.json()["url"] and first.json()["terminal_id"] == world.tills[who].terminal_id
        )
        urls[who] = first.json()["url"]
        listed = await world.send(who, "GET", "/v1/payments?mode=store_qr&since=2000-01-01T00:00:00Z")
        assert listed.status_code == 200 and listed.json() == {"payments": []}  # never another till's sales
    assert len(set(urls.values())) == len(urls)


async def test_a_payment_is_read_only_by_its_own_terminal(world: World) -> None:
    path = f"/v1/payments/{world.paid.out_trade_no}"
    own = await world.send(OWN, "GET", path)
    assert own.status_code == 200 and own.json()["out_trade_no"] == world.paid.out_trade_no
    for who in PEERS:
        response = await world.send(who, "GET", path)
        assert response.status_code == 404 and response.json()["code"] == "not_found", who


async def test_another_terminal_cannot_take_over_an_order_number(world: World) -> None:
    replay = world.tills[OWN].micropay("134567890123456789", OWN_PAID_FEN).model_dump(mode="json")
    taken_no = replay["out_trade_no"] = world.paid.out_trade_no
    unused_no = world.tills[OWN].trade_no()  # the owner's number that no order holds (yet)
    for who in PEERS:
        taken = await world.send(who, "POST", "/v1/payments", replay)
        assert taken.status_code == 422 and taken.json()["code"] == "id_error", (who, taken.text)
        assert "not made by this terminal" in taken.json()["message"], who
        # Refused for what the number says, before any lookup: the answer for a number no order holds
        # is the same, so a peer cannot learn whether another terminal's order exists.
        unused = await world.send(who, "POST", "/v1/payments", {**replay, "out_trade_no": unused_no})
        assert unused.status_code == taken.status_code and unused.json()["code"] == taken.json()["code"], who
        assert unused.json()["message"].replace(unused_no, "N") == taken.json()["message"].replace(taken_no, "N")
    assert (await world.send(OWN, "GET", f"/v1/payments/{unused_no}")).status_code == 404  # nothing was made
    after = await world.owner_view(world.paid.out_trade_no)
    assert (after.terminal_id, after.amount_fen) == ("T001", OWN_PAID_FEN)
    assert after.state in {PaymentState.PAID, PaymentState.PARTIALLY_REFUNDED}  # its own refund may land
    again = world.tills[OWN].native(Channel.ALIPAY, 1111).model_dump(mode="json")
    again["out_trade_no"] = world.awaiting.out_trade_no
    own = await world.send(OWN, "POST", "/v1/payments", again)  # the owner's retry is the same order
    assert own.status_code == 200 and own.json()["out_trade_no"] == world.awaiting.out_trade_no


async def test_only_the_owner_can_cancel(world: World) -> None:
    path = f"/v1/payments/{world.awaiting.out_trade_no}/cancel"
    for who in PEERS:
        response = await world.send(who, "POST", path, {"operator": "mallory", **APPROVAL})
        assert response.status_code == 404, who
    assert (await world.owner_view(world.awaiting.out_trade_no)).state is PaymentState.AWAITING_SCAN
    own = await world.send(OWN, "POST", path, {"operator": "alice"})
    assert own.status_code == 200 and own.json()["state"] in {"CLOSED", "AWAITING_SCAN", "UNKNOWN"}


async def test_only_the_owner_can_refund_or_read_a_refund(world: World) -> None:
    paid = world.paid.out_trade_no
    for who in PEERS:
        refund_no = world.tills[who].trade_no(IdKind.REFUND)
        response = await world.send(
            who,
            "POST",
            f"/v1/payments/{paid}/refunds",
            {"out_refund_no": refund_no, "amount_fen": 1, "operator": "m", **APPROVAL},
        )
        assert response.status_code == 404, who
        read = await world.send(who, "GET", f"/v1/payments/{paid}/refunds/{world.refund.out_refund_no}")
        assert read.status_code == 404, who
        assert (await world.send(OWN, "GET", f"/v1/payments/{paid}/refunds/{refund_no}")).status_code == 404
    own = await world.send(OWN, "GET", f"/v1/payments/{paid}/refunds/{world.refund.out_refund_no}")
    assert own.status_code == 200 and own.json()["amount_fen"] == 80


async def test_sync_acknowledges_only_the_callers_own_journal(world: World) -> None:
    expected = {OWN: 1, SAME_STORE: 0, OTHER_STORE: 0}
    for who, acked in expected.items():
        response = await world.send(who, "POST", "/v1/sync/batches", {"events": []})
        assert response.status_code == 200 and response.json() == {"acked_seq": acked}, who


async def test_the_daily_report_never_crosses_a_store(world: World) -> None:
    """Finding 1: ``scope=store`` used to return every store's totals and unsettled payments."""
    own_store_unsettled = {world.awaiting.out_trade_no, world.same_awaiting.out_trade_no}
    expected: dict[tuple[str, str], tuple[dict[str, int], set[str]]] = {
        (OWN, "terminal"): ({"alipay": OWN_PAID_FEN, "wechat": 0}, {world.awaiting.out_trade_no}),
        (OWN, "store"): ({"alipay": OWN_PAID_FEN, "wechat": 0}, own_store_unsettled),
        (SAME_STORE, "terminal"): ({"alipay": 0, "wechat": 0}, {world.same_awaiting.out_trade_no}),
        (SAME_STORE, "store"): ({"alipay": OWN_PAID_FEN, "wechat": 0}, own_store_unsettled),
        (OTHER_STORE, "terminal"): ({"alipay": 0, "wechat": OTHER_PAID_FEN}, {world.other_awaiting.out_trade_no}),
        (OTHER_STORE, "store"): ({"alipay": 0, "wechat": OTHER_PAID_FEN}, {world.other_awaiting.out_trade_no}),
    }
    for (who, scope), (amounts, unsettled) in expected.items():
        response = await world.send(who, "GET", f"/v1/reports/daily?scope={scope}")
        assert response.status_code == 200, (who, scope, response.text)
        report = response.json()
        assert {t["channel"]: t["amount_fen"] for t in report["totals"]} == amounts, (who, scope)
        assert {p["out_trade_no"] for p in report["unsettled"]} == unsettled, (who, scope)
        assert report["terminal_id"] == (world.tills[who].terminal_id if scope == "terminal" else None)


async def test_the_terminal_comparison_never_crosses_a_store(world: World) -> None:
    expected = {
        (OWN, "terminal"): {"T001"},
        (OWN, "store"): {"T001", "T002", "T003"},
        (SAME_STORE, "store"): {"T001", "T002", "T003"},
        (OTHER_STORE, "terminal"): {"T101"},
        (OTHER_STORE, "store"): {"T101"},
    }
    for (who, scope), terminals in expected.items():
        response = await world.send(who, "GET", f"/v1/reports/terminals?scope={scope}")
        assert response.status_code == 200, (who, scope, response.text)
        assert {row["terminal_id"] for row in response.json()} == terminals, (who, scope)


async def test_channel_states_are_engine_wide_and_name_no_store(world: World) -> None:
    """``/v1/channels`` is the engine's own view of its gateways: the same for every caller, no order data."""
    answers = []
    for who in (OWN, SAME_STORE, OTHER_STORE):
        response = await world.send(who, "GET", "/v1/channels")
        assert response.status_code == 200, (who, response.text)
        answers.append(response.json())
    assert answers[0] == answers[1] == answers[2]
    assert {c["channel"] for c in answers[0]["channels"]} == {"wechat", "alipay"}
    assert all(c["state"] == "closed" and c["available"] for c in answers[0]["channels"])
    text = str(answers[0])
    assert world.paid.out_trade_no not in text and STORE not in text and OTHER not in text


async def test_each_event_stream_carries_only_its_own_terminals_events(world: World) -> None:
    mine = {
        OWN: {world.paid.out_trade_no, world.awaiting.out_trade_no},
        SAME_STORE: {world.same_awaiting.out_trade_no},
        OTHER_STORE: {world.other_paid.out_trade_no, world.other_awaiting.out_trade_no},
    }
    async with serve_on_loopback(world.stack.engine) as (url, _server):
        for who, expected in mine.items():
            till = world.tills[who]
            seen: list[PaymentEvent] = []

            async def collect(client: EngineClient, into: list[PaymentEvent]) -> None:
                async for event in client.events(0, reconnect_delay_s=0.05):
                    into.append(event)

            async with EngineClient(url, till.terminal_id, till.key) as client:
                task = asyncio.create_task(collect(client, seen))
                try:
                    for _ in range(200):
                        if {e.payment.out_trade_no for e in seen} >= expected:
                            break
                        await asyncio.sleep(0.05)
                    await asyncio.sleep(0.3)  # anything else would arrive by now
                finally:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            assert {e.payment.out_trade_no for e in seen} == expected, who
            assert {e.payment.terminal_id for e in seen} == {till.terminal_id}, who
