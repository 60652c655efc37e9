"""The sales history: the search done in SQL, by free text (a channel's or state's name matches that
column only), by field-qualified terms (``cashier:ann``) and by structured filters."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from journal_kit import STORE, TERMINAL, cash_sale, settle, wallet_sale
from sqlalchemy import Engine, event
from sqlmodel import Session

from pos_app.domain.errors import AmountError
from pos_app.domain.money import parse_amount
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState
from pos_app.journal import Sale, list_sales, record_cash_sale, session_scope, start_sale

S = PaymentState


def test_list_sales_search(journal: Engine) -> None:
    morning = datetime(2026, 11, 22, 9, 15, tzinfo=UTC).astimezone()
    a = wallet_sale(journal, 1230, at=morning)
    b = wallet_sale(journal, 990, channel=Channel.ALIPAY, mode=PaymentMode.NATIVE, at=morning + timedelta(hours=2))
    c = cash_sale(journal, 1230, at=morning + timedelta(hours=3))
    settle(journal, a.out_trade_no, S.PAID, transaction_id="4200000777")
    other_day = wallet_sale(journal, 1230, at=morning + timedelta(days=1))
    day = morning.date()

    def found(query: str = "", when: object = day) -> list[str]:
        with Session(journal) as session:
            return [s.out_trade_no for s in list_sales(session, when, query)]  # type: ignore[arg-type]

    assert found() == [c.out_trade_no, b.out_trade_no, a.out_trade_no]  # newest first
    assert found("12.30") == [c.out_trade_no, a.out_trade_no]
    assert found("¥9.9") == [b.out_trade_no]
    assert found("alipay") == [b.out_trade_no]
    assert found("Cash 12.3") == [c.out_trade_no]
    assert found(a.out_trade_no[-6:]) == [a.out_trade_no]
    assert found("0777") == [a.out_trade_no]
    assert found(morning.strftime("%H:%M")) == [a.out_trade_no]
    assert found("paid wechat") == [a.out_trade_no]
    assert found("nothing-like-this") == []
    assert found(when=day.isoformat()) == found()
    assert len(found(when=None)) == 4 and other_day.out_trade_no in found(when=None)


def matches(sale: Sale, word: str) -> bool:
    """The search's rule for one word, written out in Python: the oracle the SQL must agree with."""
    lowered = word.lower()
    local = sale.created_at.astimezone()
    channel = Channel(sale.channel)
    field, colon, value = lowered.partition(":")
    if colon and value and field in ("cashier", "channel", "amount", "order", "state"):
        return {
            "cashier": lambda: value in sale.cashier.lower(),
            "channel": lambda: value in (channel.value, channel.label.lower()),
            "state": lambda: value == PaymentState(sale.state).value.lower(),
            "order": lambda: sale.out_trade_no.lower().startswith(value),
            "amount": lambda: _amount(value) == sale.amount_fen,
        }[field]()
    names_channel = any(lowered in (c.value, c.label.lower()) for c in Channel)
    names_state = any(lowered == s.value.lower() for s in PaymentState)
    if names_channel or names_state:  # a channel's or state's name matches that column only
        return lowered in (channel.value, channel.label.lower()) or lowered == PaymentState(sale.state).value.lower()
    if lowered in sale.out_trade_no.lower() or lowered in (sale.transaction_id or "").lower():
        return True
    if lowered in sale.cashier.lower() or lowered in sale.subject.lower():
        return True
    if ":" in word and local.strftime("%H:%M:%S").startswith(word):
        return True
    return _amount(word) == sale.amount_fen


def _amount(word: str) -> int | None:
    try:
        return parse_amount(word, max_fen=10**12)
    except AmountError:
        return None


def sell(
    engine: Engine,
    number: str,
    at: datetime,
    *,
    amount_fen: int = 1000,
    cashier: str = "Alice",
    subject: str = "Coffee",
    channel: Channel = Channel.WECHAT,
    terminal_id: str = TERMINAL,
) -> None:
    with session_scope(engine) as session:
        start_sale(
            session,
            terminal_id=terminal_id,
            store_id=STORE,
            cashier=cashier,
            out_trade_no=number,
            channel=channel,
            mode=PaymentMode.NATIVE,
            subject=subject,
            amount_fen=amount_fen,
            at=at,
        )


#: 01:15 UTC on 22 November 2026: 09:15 in Beijing.
EARLY = datetime(2026, 11, 22, 1, 15, tzinfo=UTC)


@pytest.fixture
def shop(journal: Engine) -> Engine:
    """A day of varied sales (numbers, amounts, channels, states, cashiers, subjects) and one the day after."""
    sell(journal, "WX2201AB0001", EARLY, amount_fen=1230)
    sell(journal, "WX2201AB0002", EARLY + timedelta(minutes=5), amount_fen=12300, cashier="ÉLISE", subject="CAFÉ")
    sell(journal, "AL2201AB0010", EARLY + timedelta(hours=1), amount_fen=990, channel=Channel.ALIPAY, cashier="王芳")
    sell(journal, "QT2201XY0011", EARLY + timedelta(hours=2), amount_fen=123, subject="Tea 12.30", terminal_id="T002")
    settle(journal, "WX2201AB0001", S.PAID, transaction_id="4200000777")
    settle(journal, "AL2201AB0010", S.CLOSED)
    cash_sale(journal, 1230, at=EARLY + timedelta(hours=3))
    sell(journal, "WX2301AB0020", EARLY + timedelta(days=1), amount_fen=1230)
    return journal


def numbers(engine: Engine, query: str = "", day: date | str | None = "2026-11-22", **options: Any) -> list[str]:
    with Session(engine) as session:
        return [sale.out_trade_no for sale in list_sales(session, day, query, **options)]


def test_order_numbers_match_by_prefix_or_substring_in_any_case(shop: Engine) -> None:
    assert numbers(shop, "wx22") == ["WX2201AB0002", "WX2201AB0001"]
    assert numbers(shop, "2201ab") == ["AL2201AB0010", "WX2201AB0002", "WX2201AB0001"]
    assert numbers(shop, "ab001") == ["AL2201AB0010"]
    assert numbers(shop, "xy00") == ["QT2201XY0011"]
    assert numbers(shop, "0777") == ["WX2201AB0001"]  # the transaction id
    assert numbers(shop, "AB0099") == []


def test_amounts_match_exactly_in_any_typed_form(shop: Engine) -> None:
    cash = numbers(shop, "cash")
    assert len(cash) == 1
    assert numbers(shop, "12.30") == [*cash, "QT2201XY0011", "WX2201AB0001"]  # the tea's subject says 12.30
    assert numbers(shop, "¥12.3") == [*cash, "WX2201AB0001"]
    assert numbers(shop, "１２.３") == numbers(shop, "¥12.3")  # full-width digits
    assert numbers(shop, "¥123") == ["WX2201AB0002"]  # ¥123.00, not the ¥1.23 sale
    assert numbers(shop, "1.23") == ["QT2201XY0011"]
    assert numbers(shop, "12.31") == []


def test_channels_and_states_match_whole_names_only(shop: Engine) -> None:
    assert numbers(shop, "ALIPAY") == ["AL2201AB0010"]
    assert numbers(shop, "alipa") == []
    assert numbers(shop, "wechat") == ["QT2201XY0011", "WX2201AB0002", "WX2201AB0001"]
    assert numbers(shop, "closed") == ["AL2201AB0010"]
    assert numbers(shop, "paid wechat") == ["WX2201AB0001"]


def test_cashiers_and_subjects_match_in_any_case_beyond_ascii(shop: Engine) -> None:
    assert numbers(shop, "élise") == ["WX2201AB0002"] == numbers(shop, "café")
    assert numbers(shop, "王") == ["AL2201AB0010"]
    assert numbers(shop, "ALICE coffee") == ["WX2201AB0001"]
    assert numbers(shop, "tea") == ["QT2201XY0011"]
    assert numbers(shop, "bob") == numbers(shop, "cash")


def test_times_match_the_local_clock(beijing_machine: None, shop: Engine) -> None:
    assert numbers(shop, "09:15") == ["WX2201AB0001"]
    assert numbers(shop, "09:") == ["WX2201AB0002", "WX2201AB0001"]
    assert numbers(shop, "01:15") == []  # the UTC time is not what the cashier's clock showed


def test_terminal_day_and_limit(shop: Engine) -> None:
    everything = numbers(shop, day=None)
    assert everything[0] == "WX2301AB0020" and len(everything) == 6
    assert numbers(shop, "ab00", day=None, limit=2) == ["WX2301AB0020", "AL2201AB0010"]
    assert numbers(shop, terminal_id="T002") == ["QT2201XY0011"]
    assert numbers(shop, day=date(2026, 11, 23)) == ["WX2301AB0020"]
    with pytest.raises(ValueError, match="limit"):
        numbers(shop, limit=0)


QUERIES = [
    "", "wx22", "P2611", "AB00", "0777", "12.30", "¥12.3", "123", "1.23", "12.31", "alipay", "WeChat", "cash", "pay",
    "paid", "closed", "created", "ÉLISE", "élise", "café", "王", "alice", "tea", "09:", "09:1", "10:15:00",
    "11:", "paid 12.30", "cash 12.3", "coffee alice", "nothing-like-this", "%", "_", "a%b",
    "cashier:alice", "CASHIER:élise", "channel:alipay", "channel:WeChat", "channel:nope", "amount:12.30",
    "amount:¥9.9", "amount:x", "order:wx22", "order:2201", "state:closed", "state:PAID wechat", "cashier:", "tea:",
]  # fmt: skip


@pytest.mark.parametrize("day", ["2026-11-22", None])
def test_the_sql_search_agrees_with_the_rule(beijing_machine: None, shop: Engine, day: str | None) -> None:
    with Session(shop) as session:
        every = list_sales(session, day)
        for query in QUERIES:
            expected = [s.out_trade_no for s in every if all(matches(s, word) for word in query.split())]
            assert [s.out_trade_no for s in list_sales(session, day, query)] == expected, query


@pytest.fixture
def query_plans(journal: Engine) -> Iterator[list[str]]:
    """The query plan of every statement on the sales table run while the test runs."""
    plans: list[str] = []

    def explain(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if "FROM sales" in statement:
            rows = cursor.connection.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
            plans.append(" / ".join(row[-1] for row in rows))

    event.listen(journal, "before_cursor_execute", explain)
    yield plans
    event.remove(journal, "before_cursor_execute", explain)


def test_a_day_search_reads_the_days_index_in_time_order(journal: Engine, query_plans: list[str]) -> None:
    for hour in range(3):
        sell(journal, f"WX2201AB00{hour:02d}", EARLY + timedelta(hours=hour))
    query_plans.clear()
    numbers(journal, "alice 10.00")
    numbers(journal, day=None, terminal_id=TERMINAL)
    day_plan, terminal_plan = query_plans
    assert day_plan.startswith("SEARCH sales USING INDEX ix_sales_day_time (business_day=?)")
    assert "RIGHT PART OF ORDER BY" in day_plan  # only sales of the same instant are sorted
    assert terminal_plan.startswith("SEARCH sales USING INDEX ix_sales_terminal_id (terminal_id=?)")


def test_cash_finds_cash_sales_not_every_sale_of_a_cashier_called_demo_cashier(journal: Engine) -> None:
    sell(journal, "WX2201AB0001", EARLY, cashier="Demo Cashier", subject="Cashew nuts")
    with session_scope(journal) as session:
        cash = record_cash_sale(
            session, terminal_id=TERMINAL, store_id=STORE, cashier="Demo Cashier", subject="Tea",
            at=EARLY + timedelta(minutes=1), amount_fen=500,
        )  # fmt: skip
    assert numbers(journal, "cash") == [cash.out_trade_no]
    assert numbers(journal, "Cash") == numbers(journal, "channel:cash") == [cash.out_trade_no]
    assert numbers(journal, "cashier:demo") == [cash.out_trade_no, "WX2201AB0001"]
    assert numbers(journal, "cashew") == ["WX2201AB0001"]  # not a channel's name: free text as before
    assert numbers(journal, "paid") == [cash.out_trade_no]  # the WeChat sale is still CREATED


def test_structured_filters(shop: Engine) -> None:
    assert numbers(shop, channel=Channel.WECHAT) == ["QT2201XY0011", "WX2201AB0002", "WX2201AB0001"]
    assert numbers(shop, channel="alipay") == ["AL2201AB0010"]
    assert numbers(shop, cashier="élise") == ["WX2201AB0002"]
    assert numbers(shop, amount_fen=1230, channel="wechat") == ["WX2201AB0001"]
    assert numbers(shop, order="wx2201") == ["WX2201AB0002", "WX2201AB0001"]
    assert numbers(shop, order="0001") == []  # a prefix, not a substring
    assert numbers(shop, state=S.CLOSED) == ["AL2201AB0010"]
    assert numbers(shop, "coffee", cashier="alice", state="PAID") == ["WX2201AB0001"]
