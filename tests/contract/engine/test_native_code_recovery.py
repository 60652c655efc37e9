"""No QR is lost (issue 15 item 5): a native create whose answer is lost or refused by a 5xx gets its
code back by the same prepay again; a QR order is AWAITING_SCAN only with its code."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, col, select

from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.engine.breakers import BreakerPolicy
from pos_app.engine.store.models import StatusEvent

from .conftest import CHANNELS, STORE, TERMINAL, Rig, assert_matches_truth, attempts, native_req

# These tests are about the code, not the breaker: it must not open on the faults they inject.
QUIET = BreakerPolicy(failures=1000)


def op_name(channel: Channel) -> str:
    return "native" if channel == Channel.WECHAT else "alipay.trade.precreate"


def awaiting_scan_events_without_code(rig: Rig, out_trade_no: str) -> int:
    with Session(rig.ledger) as session:
        rows = session.exec(
            select(StatusEvent).where(StatusEvent.out_trade_no == out_trade_no).order_by(col(StatusEvent.id))
        ).all()
    views = [json.loads(r.payload)["payment"] for r in rows]
    return sum(1 for v in views if v["state"] == "AWAITING_SCAN" and not v["code_url"])


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("kind", ["server_error", "reply_lost"])
async def test_a_create_without_an_answer_gets_its_qr_back_within_seconds(
    rig: Rig, channel: Channel, kind: str
) -> None:
    engine = rig.new_engine(breaker=QUIET)
    rig.receiver.notifications = engine.notifications
    # reply_lost: the gateway keeps the order, the answer never arrives (the client's own replays too).
    await rig.fault(kind=kind, gateway=channel.value, operation=op_name(channel), times=3)
    first = await engine.payments.create_payment(TERMINAL, STORE, native_req(channel))
    assert (first.state, first.code_url) == (PaymentState.UNKNOWN, None)
    await engine.wait_idle()  # the engine prepays again by itself, without the till asking
    shown = await engine.payments.find_payment(first.out_trade_no)
    assert shown.state is PaymentState.AWAITING_SCAN and shown.code_url
    outcomes = [a.outcome for a in attempts(rig, first.out_trade_no, "create_native")]
    assert outcomes[0] == "unknown" and outcomes[-1] == "ok" and outcomes.count("ok") == 1
    await rig.pay_qr(shown.code_url)
    await rig.step()
    assert (await engine.payments.find_payment(first.out_trade_no)).state is PaymentState.PAID
    assert awaiting_scan_events_without_code(rig, first.out_trade_no) == 0
    await assert_matches_truth(rig, channel, first.out_trade_no)
    await engine.aclose()


@pytest.mark.parametrize("channel", CHANNELS)
async def test_the_resolver_gets_the_qr_back_when_the_gateway_says_it_is_unpaid(rig: Rig, channel: Channel) -> None:
    """The gateway keeps failing past the engine's own quick retries; later the resolver learns the
    order is unpaid (WeChat NOTPAY) and prepays again instead of showing AWAITING_SCAN with no code."""
    engine = rig.new_engine(breaker=QUIET)
    rig.receiver.notifications = engine.notifications
    await rig.fault(kind="reply_lost", gateway=channel.value, operation=op_name(channel))
    first = await engine.payments.create_payment(TERMINAL, STORE, native_req(channel))
    await engine.wait_idle()
    assert (await engine.payments.find_payment(first.out_trade_no)).code_url is None
    await rig.clear_faults()
    await engine.resolver.resolve_once()
    shown = await engine.payments.find_payment(first.out_trade_no)
    assert shown.state is PaymentState.AWAITING_SCAN and shown.code_url
    assert awaiting_scan_events_without_code(rig, first.out_trade_no) == 0
    await rig.pay_qr(shown.code_url)
    await rig.step()
    assert (await engine.payments.find_payment(first.out_trade_no)).state is PaymentState.PAID
    await assert_matches_truth(rig, channel, first.out_trade_no)
    await engine.aclose()
