"""Native QR payments (the customer scans the till's QR) against the sandbox, with its faults."""

from __future__ import annotations

import pytest

from pos_app.api.schemas import CancelPayment
from pos_app.domain.errors import IdError, InputError
from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.engine.errors import IdempotencyConflict

from .conftest import (
    CHANNELS,
    STORE,
    TERMINAL,
    Rig,
    assert_matches_truth,
    attempts,
    event_states,
    native_req,
)

CANCEL = CancelPayment(operator="alice", reason="customer left")


def op_name(channel: Channel, wechat: str, alipay: str) -> str:
    return wechat if channel == Channel.WECHAT else alipay


@pytest.mark.parametrize("channel", CHANNELS)
async def test_qr_paid_by_the_customer_arrives_by_notification(rig: Rig, channel: Channel) -> None:
    view = await rig.engine.payments.create_payment(TERMINAL, STORE, native_req(channel, 2500))
    assert view.state == PaymentState.AWAITING_SCAN
    assert view.code_url and view.expires_at
    assert (view.expires_at - view.created_at).total_seconds() == pytest.approx(300, abs=1)
    await rig.pay_qr(view.code_url)
    await rig.step()
    paid = await rig.engine.payments.get_payment(TERMINAL, view.out_trade_no)
    assert paid.state == PaymentState.PAID
    assert [path for path, status in rig.receiver.answers if 200 <= status < 300]
    assert not attempts(rig, view.out_trade_no, "query")  # the notification alone settled it
    await assert_matches_truth(rig, channel, view.out_trade_no)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_lost_notification_is_made_up_by_the_resolver_query(rig: Rig, channel: Channel) -> None:
    await rig.fault(kind="notify_drop", gateway=channel.value)
    view = await rig.engine.payments.create_payment(TERMINAL, STORE, native_req(channel))
    await rig.pay_qr(view.code_url or "")
    await rig.step()
    assert (await rig.engine.payments.get_payment(TERMINAL, view.out_trade_no)).state == PaymentState.AWAITING_SCAN
    assert await rig.engine.resolver.resolve_once() == 1
    assert (await rig.engine.payments.get_payment(TERMINAL, view.out_trade_no)).state == PaymentState.PAID
    await assert_matches_truth(rig, channel, view.out_trade_no)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_unpaid_qr_is_closed_at_expiry(rig: Rig, channel: Channel) -> None:
    view = await rig.engine.payments.create_payment(TERMINAL, STORE, native_req(channel))
    await rig.engine.resolver.resolve_once()
    assert (await rig.engine.payments.get_payment(TERMINAL, view.out_trade_no)).state == PaymentState.AWAITING_SCAN
    await rig.step(301)
    await rig.engine.resolver.resolve_once()
    final = await rig.engine.payments.get_payment(TERMINAL, view.out_trade_no)
    assert final.state == PaymentState.CLOSED
    await assert_matches_truth(rig, channel, view.out_trade_no)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_cashier_cancels_an_unpaid_qr(rig: Rig, channel: Channel) -> None:
    view = await rig.engine.payments.create_payment(TERMINAL, STORE, native_req(channel))
    cancelled = await rig.engine.payments.cancel_payment(TERMINAL, view.out_trade_no, CANCEL)
    assert cancelled.state == PaymentState.CLOSED
    again = await rig.engine.payments.cancel_payment(TERMINAL, view.out_trade_no, CANCEL)
    assert again.state == PaymentState.CLOSED
    await assert_matches_truth(rig, channel, view.out_trade_no)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_paid_while_closing_means_paid(rig: Rig, channel: Channel) -> None:
    """The customer pays as the cashier cancels; the paid notification is still on its way."""
    await rig.fault(kind="notify_delay", gateway=channel.value, seconds=120)
    view = await rig.engine.payments.create_payment(TERMINAL, STORE, native_req(channel))
    await rig.pay_qr(view.code_url or "")
    cancelled = await rig.engine.payments.cancel_payment(TERMINAL, view.out_trade_no, CANCEL)
    assert cancelled.state == PaymentState.PAID
    await rig.step(121)  # the late notification changes nothing
    final = await rig.engine.payments.get_payment(TERMINAL, view.out_trade_no)
    assert final.state == PaymentState.PAID
    assert event_states(rig, view.out_trade_no).count("PAID") == 1
    await assert_matches_truth(rig, channel, view.out_trade_no)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_duplicated_notifications_change_nothing(rig: Rig, channel: Channel) -> None:
    await rig.fault(kind="notify_duplicate", gateway=channel.value)
    view = await rig.engine.payments.create_payment(TERMINAL, STORE, native_req(channel))
    await rig.pay_qr(view.code_url or "")
    await rig.step()
    await rig.step()
    delivered = [n for n in rig.notifications(view.out_trade_no) if n.state == "delivered"]
    assert len(delivered) >= 2
    assert event_states(rig, view.out_trade_no) == ["CREATED", "AWAITING_SCAN", "PAID"]
    await assert_matches_truth(rig, channel, view.out_trade_no)


async def test_reordered_wait_buyer_pay_after_success_is_ignored(rig: Rig) -> None:
    """Alipay sends WAIT_BUYER_PAY at scan and TRADE_SUCCESS at payment; they arrive the other way round."""
    rig.ctx.settings.sandbox.alipay_notify_wait_buyer_pay = True
    view = await rig.engine.payments.create_payment(TERMINAL, STORE, native_req(Channel.ALIPAY))
    await rig.fault(kind="notify_reorder", gateway="alipay", times=1, seconds=60)
    await rig.pay_qr(view.code_url or "", after_s=10)  # scanned now (WAIT_BUYER_PAY), paid in 10 s
    await rig.step(11)
    states = {n.event: n.state for n in rig.notifications(view.out_trade_no)}
    assert states == {"TRADE_SUCCESS": "delivered", "WAIT_BUYER_PAY": "pending"}
    assert (await rig.engine.payments.get_payment(TERMINAL, view.out_trade_no)).state == PaymentState.PAID
    await rig.step(61)
    states = {n.event: n.state for n in rig.notifications(view.out_trade_no)}
    assert states == {"TRADE_SUCCESS": "delivered", "WAIT_BUYER_PAY": "delivered"}
    final = await rig.engine.payments.get_payment(TERMINAL, view.out_trade_no)
    assert final.state == PaymentState.PAID
    assert event_states(rig, view.out_trade_no)[-1] == "PAID"
    await assert_matches_truth(rig, Channel.ALIPAY, view.out_trade_no)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_server_error_on_create_then_the_same_request_again(rig: Rig, channel: Channel) -> None:
    op = op_name(channel, "native", "alipay.trade.precreate")
    await rig.fault(kind="server_error", gateway=channel.value, operation=op, status=500, times=1)
    req = native_req(channel)
    first = await rig.engine.payments.create_payment(TERMINAL, STORE, req)
    assert first.state == PaymentState.UNKNOWN and first.code_url is None
    second = await rig.engine.payments.create_payment(TERMINAL, STORE, req)
    assert second.state == PaymentState.AWAITING_SCAN and second.code_url
    await rig.pay_qr(second.code_url or "")
    await rig.step()
    assert (await rig.engine.payments.get_payment(TERMINAL, req.out_trade_no)).state == PaymentState.PAID
    await assert_matches_truth(rig, channel, req.out_trade_no)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_reply_lost_on_create_is_replayed_safely(rig: Rig, channel: Channel) -> None:
    op = op_name(channel, "native", "alipay.trade.precreate")
    await rig.fault(kind="reply_lost", gateway=channel.value, operation=op, times=1)
    view = await rig.engine.payments.create_payment(TERMINAL, STORE, native_req(channel))
    assert view.state == PaymentState.AWAITING_SCAN  # the provider client replayed the create itself
    retried = await rig.engine.payments.create_payment(TERMINAL, STORE, native_req(channel, otn=view.out_trade_no))
    assert (retried.state, retried.code_url) == (PaymentState.AWAITING_SCAN, view.code_url)  # the terminal's retry
    await rig.pay_qr(view.code_url or "")
    await rig.step()
    assert (await rig.engine.payments.get_payment(TERMINAL, view.out_trade_no)).state == PaymentState.PAID


async def test_native_needs_a_wallet_channel_and_no_code(rig: Rig) -> None:
    with pytest.raises(InputError):
        await rig.engine.payments.create_payment(TERMINAL, STORE, native_req(Channel.CASH))
    with pytest.raises(InputError):
        await rig.engine.payments.create_payment(
            TERMINAL, STORE, native_req(Channel.ALIPAY, auth_code="280000000000000000")
        )


async def test_same_number_different_amount_is_a_conflict(rig: Rig) -> None:
    req = native_req(Channel.ALIPAY, 1000)
    await rig.engine.payments.create_payment(TERMINAL, STORE, req)
    with pytest.raises(IdempotencyConflict):
        await rig.engine.payments.create_payment(
            TERMINAL, STORE, native_req(Channel.ALIPAY, 1001, otn=req.out_trade_no)
        )
    # Another terminal's number is refused for what it says, before the ledger is asked (no conflict
    # that would tell it the order exists): the same refusal as for one nobody used.
    with pytest.raises(IdError, match="not made by this terminal"):
        await rig.engine.payments.create_payment("T002", STORE, req)
    with pytest.raises(IdError, match="not made by this terminal"):
        await rig.engine.payments.create_payment("T002", STORE, native_req(Channel.ALIPAY, 1000))
