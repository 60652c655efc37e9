"""The till's side of the one code for every wallet and of the printed store QR, on a real journal file
(no engine needed: its views are applied as the event stream would deliver them).

A one_qr sale learns its wallet when the engine says a phone opened it; a store-QR payment is
journaled once PAID, as a sale of the open shift, never twice, and it counts in the day's figures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from pos_app.api.client import EngineClient
from pos_app.api.schemas import ChannelStatus, ChannelsView, PaymentView
from pos_app.config import Settings
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState
from pos_app.journal import JournalEvent, Sale, add_staff, open_journal, session_scope, verify_chain
from pos_app.terminal.cart import SaleDraft
from pos_app.terminal.channels import ChannelBoard, board_from
from pos_app.terminal.till import Till


@pytest.fixture
def till(demo_settings: Settings) -> Iterator[Till]:
    journal = open_journal(demo_settings.path(demo_settings.terminal.journal_path))
    client = EngineClient("http://127.0.0.1:9", demo_settings.terminal.terminal_id, b"k" * 32)
    with session_scope(journal) as session:
        add_staff(session, "Demo Cashier", "1234", "cashier", terminal_id=demo_settings.terminal.terminal_id)
    till = Till(demo_settings, journal, client)
    till.cashier = "Demo Cashier"
    yield till
    journal.dispose()


def engine_view(
    till: Till,
    out_trade_no: str,
    *,
    mode: PaymentMode,
    state: PaymentState,
    channel: Channel | None,
    amount_fen: int = 2300,
    operator: str = "Demo Cashier",
) -> PaymentView:
    now = datetime.now(UTC)
    return PaymentView(
        out_trade_no=out_trade_no,
        terminal_id=till.terminal_id,
        channel=channel,
        mode=mode,
        amount_fen=amount_fen,
        subject="Store QR",
        operator=operator,
        state=state,
        transaction_id="4200000099" if state is PaymentState.PAID else None,
        created_at=now,
        updated_at=now,
        paid_at=now if state is PaymentState.PAID else None,
    )


def store_view(till: Till, number: str, state: PaymentState = PaymentState.PAID, fen: int = 2300) -> PaymentView:
    return engine_view(
        till,
        number,
        mode=PaymentMode.STORE_QR,
        state=state,
        channel=Channel.WECHAT,
        amount_fen=fen,
        operator="store-qr",
    )


async def test_one_qr_sale_takes_the_wallet_that_opened_it_then_is_paid(till: Till) -> None:
    attempt = await till.open_one_qr(SaleDraft(1850, "Goods"))
    assert attempt.channel is None and attempt.mode is PaymentMode.ONE_QR
    number = attempt.out_trade_no
    awaiting = engine_view(till, number, mode=PaymentMode.ONE_QR, state=PaymentState.AWAITING_SCAN, channel=None)
    assert till.apply_view(awaiting)
    opened = engine_view(
        till, number, mode=PaymentMode.ONE_QR, state=PaymentState.AWAITING_SCAN, channel=Channel.ALIPAY
    )
    assert till.apply_view(opened)
    assert not till.apply_view(opened)  # the same news twice writes nothing
    paid = engine_view(till, number, mode=PaymentMode.ONE_QR, state=PaymentState.PAID, channel=Channel.ALIPAY)
    assert till.apply_view(paid)
    with session_scope(till.journal) as session:
        sale = session.exec(select(Sale).where(Sale.out_trade_no == number)).one()
        assert (sale.channel, sale.mode, sale.state) == (Channel.ALIPAY, PaymentMode.ONE_QR, PaymentState.PAID)
        kinds = [e.kind for e in session.exec(select(JournalEvent).where(JournalEvent.ref == number))]
        assert kinds.count("payment.wallet") == 1
        assert verify_chain(session).ok
    channels = till.day_view(till.today()).totals.channels
    assert channels["alipay"].sales_fen == 1850 and channels["wechat"].sales_count == 0


async def test_store_qr_payment_is_journaled_once_in_the_open_shift_and_counted(till: Till) -> None:
    till.open_shift({1000: 2})
    assert till.record_store_view(store_view(till, "SQ0000000001", PaymentState.AWAITING_SCAN)) is None
    first = till.record_store_view(store_view(till, "SQ0000000001"))
    assert first is not None and not first.no_shift
    assert first.words().startswith("¥23.00 received — WeChat Pay — ") and first.words().endswith(" — Till 1")
    assert till.record_store_view(store_view(till, "SQ0000000001")) is None  # a duplicate event
    second = till.record_store_view(store_view(till, "SQ0000000002", fen=1500))
    assert second is not None
    with session_scope(till.journal) as session:
        sales = session.exec(select(Sale).where(Sale.mode == PaymentMode.STORE_QR)).all()
        assert sorted(s.amount_fen for s in sales) == [1500, 2300]
        assert all(s.shift_id is not None and s.state is PaymentState.PAID and s.cashier == "store-qr" for s in sales)
        assert verify_chain(session).ok
    totals = till.day_view(till.today()).totals
    assert (totals.channels["wechat"].sales_count, totals.channels["wechat"].sales_fen) == (2, 3800)
    assert totals.cashiers["store-qr"].sales_fen == 3800
    assert till.pending() == []  # a store payment is never an open sale of this till


def test_store_qr_payment_with_no_shift_open_is_journaled_and_said(till: Till) -> None:
    payment = till.record_store_view(store_view(till, "SQ0000000003"))
    assert payment is not None and payment.no_shift
    with session_scope(till.journal) as session:
        [sale] = session.exec(select(Sale)).all()
        assert sale.shift_id is None and sale.amount_fen == 2300


def test_a_store_payment_of_another_till_is_not_journaled_here(till: Till) -> None:
    other = store_view(till, "SQ0000000004").model_copy(update={"terminal_id": "T999"})
    assert till.record_store_view(other) is None


def test_the_board_offers_the_one_code_until_the_engine_says_it_cannot() -> None:
    assert ChannelBoard().one_qr_refusal() is None
    statuses = [ChannelStatus(channel=Channel.WECHAT, state="closed", available=True)]
    board = board_from(statuses, ChannelsView(channels=statuses, one_qr=False, one_qr_message="No public URL."))
    refusal = board.one_qr_refusal()
    assert refusal == "One code unavailable — press W for WeChat, A for Alipay. No public URL."
    assert board.offers(Channel.WECHAT)
    assert ChannelBoard(engine_away=True).one_qr_refusal() == "Engine unreachable — cash only until it is back."


async def test_history_names_the_wallet_of_a_paid_one_code_sale_and_one_qr_otherwise(till: Till) -> None:
    unpaid = await till.open_one_qr(SaleDraft(500, "Goods"))
    closed = engine_view(till, unpaid.out_trade_no, mode=PaymentMode.ONE_QR, state=PaymentState.CLOSED, channel=None)
    assert till.apply_view(closed)
    paid = await till.open_one_qr(SaleDraft(700, "Goods"))
    number = paid.out_trade_no
    till.apply_view(engine_view(till, number, mode=PaymentMode.ONE_QR, state=PaymentState.PAID, channel=Channel.WECHAT))
    unpaid_row, paid_row = till.sale(unpaid.out_trade_no), till.sale(number)
    assert unpaid_row is not None and unpaid_row.channel_words == "One QR"
    assert paid_row is not None and paid_row.channel_words == "WeChat Pay"
    with session_scope(till.journal) as session:  # the wallet is journaled even when it is the placeholder's
        kinds = [e.kind for e in session.exec(select(JournalEvent).where(JournalEvent.ref == number))]
        assert kinds.count("payment.wallet") == 1
