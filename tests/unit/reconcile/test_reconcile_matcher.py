"""The matcher over parsed bills and ledger/journal columns: every kind of difference, and nothing else."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.engine.reconcile.bill import Bill
from pos_app.engine.reconcile.inputs import JournalSale, LedgerPayments, LedgerRefund
from pos_app.engine.reconcile.matcher import match_channel
from pos_app.engine.reconcile.results import Difference
from pos_app.engine.reconcile.wechat_bill import parse_wechat_bill_bytes
from tests.unit.reconcile.reconcile_kit import wechat_bill, wechat_row

A, B, C, D = (f"P261121100000S00001T001{n:08d}" for n in (1, 2, 3, 4))
R1 = "R261121120000S00001T00100000009"


def _bill(*rows: tuple[str, int, int, int]) -> Bill:
    return parse_wechat_bill_bytes(wechat_bill(list(rows)).encode())


def _ledger(*rows: tuple[str, str, int]) -> LedgerPayments:
    ledger = LedgerPayments()
    for otn, state, amount in rows:
        ledger.append(otn, state, amount, "T001", True)
    return ledger


def _kinds(result: object) -> list[tuple[str, str]]:
    return sorted((i.kind.value, i.out_trade_no) for i in result.items)  # type: ignore[attr-defined]


def test_everything_equal_flags_nothing() -> None:
    bill = _bill(wechat_row(A, 1230), wechat_row(B, 800), wechat_row(A, 0, out_refund_no=R1, refund_fen=300))
    ledger = _ledger((A, "PARTIALLY_REFUNDED", 1230), (B, "PAID", 800), (C, "CLOSED", 500), (D, "FAILED", 100))
    result = match_channel(bill, ledger, [LedgerRefund(R1, A, 300, "SUCCESS")])
    assert result.items == [] and result.settled == []
    assert result.matched == 5


def test_unknown_payment_the_bill_shows_paid_is_settled() -> None:
    bill = _bill(wechat_row(A, 1230, at="2026-11-21 09:15:02", txid="4200000001202611219999999999"))
    result = match_channel(bill, _ledger((A, "UNKNOWN", 1230)), [])
    assert [(s.out_trade_no, s.target, s.transaction_id, s.at_s) for s in result.settled] == [
        (A, PaymentState.PAID, "4200000001202611219999999999", 33302)
    ]
    assert _kinds(result) == [("settled_from_bill", A)]
    assert result.open_items == []


def test_reversed_in_bill_settles_an_unknown_and_matches_a_reversed() -> None:
    bill = _bill(wechat_row(A, 600, state="REVOKED"), wechat_row(B, 700, state="REVOKED"))
    result = match_channel(bill, _ledger((A, "USER_PAYING", 600), (B, "REVERSED", 700)), [])
    assert [(s.out_trade_no, s.target) for s in result.settled] == [(A, PaymentState.REVERSED)]
    assert result.open_items == []


def test_missing_at_provider_and_missing_locally() -> None:
    bill = _bill(wechat_row(A, 1230), wechat_row(C, 999))
    result = match_channel(bill, _ledger((A, "PAID", 1230), (B, "PAID", 800)), [])
    assert _kinds(result) == [("missing_at_provider", B), ("missing_locally", C)]
    missing = {i.kind: i for i in result.items}
    assert missing[Difference.MISSING_LOCALLY].bill_fen == 999
    assert missing[Difference.MISSING_LOCALLY].bill_line == 3
    assert missing[Difference.MISSING_AT_PROVIDER].missing_from == "provider"


def test_bill_row_of_another_day_is_found_through_the_lookup() -> None:
    bill = _bill(wechat_row(A, 1230))
    asked: list[list[str]] = []

    def lookup(numbers: list[str]) -> LedgerPayments:
        asked.append(numbers)
        return _ledger((A, "PAID", 1230))

    result = match_channel(bill, _ledger(), [], lookup_payments=lookup)
    assert asked == [[A]] and result.items == [] and result.matched == 1


def test_amount_and_status_differences() -> None:
    bill = _bill(wechat_row(A, 1231), wechat_row(B, 800), wechat_row(C, 500, state="REVOKED"))
    result = match_channel(bill, _ledger((A, "PAID", 1230), (B, "CLOSED", 800), (C, "PAID", 500)), [])
    assert _kinds(result) == [("amount_differs", A), ("status_differs", B), ("status_differs", C)]
    amount = next(i for i in result.items if i.kind is Difference.AMOUNT_DIFFERS)
    assert (amount.bill_fen, amount.ledger_fen) == (1231, 1230)
    assert result.settled == []


def test_refund_differences() -> None:
    r2, r3 = "R261121120000S00001T00100000010", "R261121120000S00001T00100000011"
    bill = _bill(
        wechat_row(A, 1230),
        wechat_row(A, 0, out_refund_no=R1, refund_fen=300),
        wechat_row(A, 0, out_refund_no=r2, refund_fen=200),
    )
    refunds = [LedgerRefund(R1, A, 301, "SUCCESS"), LedgerRefund(r3, A, 100, "SUCCESS")]
    result = match_channel(bill, _ledger((A, "PARTIALLY_REFUNDED", 1230)), refunds)
    by_refund = {i.out_refund_no: i for i in result.items}
    assert set(by_refund) == {R1, r2, r3}
    assert all(i.kind is Difference.REFUND_DIFFERS for i in result.items)
    assert by_refund[r2].missing_from == "ledger"  # made outside this system
    assert by_refund[r3].missing_from == "provider"
    assert (by_refund[R1].bill_fen, by_refund[R1].ledger_fen) == (300, 301)


def test_duplicated_bill_line_is_reported_once_and_nothing_else() -> None:
    row = wechat_row(A, 1230)
    bill = _bill(row, wechat_row(B, 800), row)
    result = match_channel(bill, _ledger((A, "PAID", 1230), (B, "PAID", 800)), [])
    assert _kinds(result) == [("duplicate_in_bill", A)]
    assert result.items[0].bill_line == 4 and "repeats line 2" in result.items[0].detail


def test_journal_third_way() -> None:
    bill = _bill(wechat_row(A, 1230), wechat_row(B, 800), wechat_row(C, 500))
    ledger = _ledger((A, "PAID", 1230), (B, "PAID", 800), (C, "PAID", 500))
    journal = {
        A: JournalSale(A, "T001", Channel.WECHAT, 1230, "PAID"),
        C: JournalSale(C, "T001", Channel.WECHAT, 500, "FAILED"),
        D: JournalSale(D, "T002", Channel.WECHAT, 700, "PAID"),
        "P261121100000S00001T00200000001": JournalSale(
            "P261121100000S00001T00200000001", "T002", Channel.CASH, 1000, "PAID"
        ),  # fmt: skip
    }
    result = match_channel(bill, ledger, [], journal)
    assert _kinds(result) == [("missing_locally", B), ("missing_locally", D), ("status_differs", C)]
    by_otn = {i.out_trade_no: i for i in result.items}
    assert by_otn[B].missing_from == "journal" and by_otn[D].missing_from == "ledger"


def test_settled_payment_is_compared_with_the_journal_after_settling() -> None:
    bill = _bill(wechat_row(A, 1230))
    journal = {A: JournalSale(A, "T001", Channel.WECHAT, 1230, "UNKNOWN")}
    result = match_channel(bill, _ledger((A, "UNKNOWN", 1230)), [], journal)
    assert result.open_items == [] and len(result.settled) == 1


def test_payment_paid_another_day_is_not_missing_and_unknown_not_in_bill_is_open() -> None:
    ledger = LedgerPayments()
    ledger.append(A, "PAID", 1230, "T001", False)  # paid after midnight: in tomorrow's bill
    ledger.append(B, "UNKNOWN", 800, "T001", True)
    result = match_channel(_bill(), ledger, [])
    assert _kinds(result) == [("status_differs", B)]


# --- The bulk pass (``paid`` batches) must decide exactly what the row-by-row walk decides. ---

_STATES = ["PAID", "PAID", "PAID", "UNKNOWN", "CLOSED", "REVERSED", "PARTIALLY_REFUNDED", "USER_PAYING"]
_BILL = [
    "same",
    "same",
    "same",
    "amount",
    "absent",
    "revoked",
    "twice",
    "twice_changed",
    "paid_then_revoked",
    "reversal",
    "refund_first",
]
_JOURNAL = ["same", "same", "absent", "amount", "failed"]


def _case(
    draws: list[tuple[str, str, str, bool]],
) -> tuple[Bill, LedgerPayments, dict[str, JournalSale], dict[str, str]]:
    rows: list[tuple[str, int, int, int]] = []
    ledger = LedgerPayments()
    journal: dict[str, JournalSale] = {}
    terminals: dict[str, str] = {}
    for n, (state, in_bill, in_journal, due) in enumerate(draws):
        otn, amount, terminal = f"P261121100000S00001T001{n:08d}", 100 + n, f"T{n % 3:03d}"
        terminals[otn] = terminal
        if state != "NONE":
            ledger.append(otn, state, amount, terminal, due)
        if in_bill == "amount":
            rows.append(wechat_row(otn, amount + 1))
        elif in_bill == "revoked":
            rows.append(wechat_row(otn, amount, state="REVOKED"))
        elif in_bill == "twice":
            rows += [wechat_row(otn, amount)] * 2
        elif in_bill == "twice_changed":
            rows += [wechat_row(otn, amount), wechat_row(otn, amount, at="2026-11-21 11:00:00")]
        elif in_bill == "paid_then_revoked":
            rows += [wechat_row(otn, amount), wechat_row(otn, amount, state="REVOKED")]
        elif in_bill == "reversal":  # a refund-shaped line numbered like the order: reversed
            rows += [wechat_row(otn, amount), wechat_row(otn, 0, out_refund_no=otn, refund_fen=amount)]
        elif in_bill == "refund_first":  # a refund line listed before its payment's line
            refund_no = f"R261121100000S00001T001{n:08d}"
            rows += [wechat_row(otn, 0, out_refund_no=refund_no, refund_fen=1), wechat_row(otn, amount)]
        elif in_bill == "same":
            rows.append(wechat_row(otn, amount))
        if in_journal != "absent":
            sale_fen = amount + 1 if in_journal == "amount" else amount
            sale_state = "FAILED" if in_journal == "failed" else state if state != "NONE" else "PAID"
            journal[otn] = JournalSale(otn, terminal, Channel.WECHAT, sale_fen, sale_state)
    return _bill(*rows), ledger, journal, terminals


def _outcome(result: object) -> tuple[object, ...]:
    r = result  # a ChannelMatch
    return (
        r.matched,  # type: ignore[attr-defined]
        r.ledger_paid,  # type: ignore[attr-defined]
        r.ledger_paid_fen,  # type: ignore[attr-defined]
        sorted(repr(s) for s in r.settled),  # type: ignore[attr-defined]
        sorted(repr(i) for i in r.items),  # type: ignore[attr-defined]
    )


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([*_STATES, "NONE"]),
            st.sampled_from(_BILL),
            st.sampled_from(_JOURNAL),
            st.booleans(),
        ),
        max_size=30,
    ),
    st.integers(min_value=1, max_value=7),
    st.booleans(),
    st.booleans(),
)
def test_bulk_paid_batches_match_exactly_like_the_row_walk(
    draws: list[tuple[str, str, str, bool]], batch: int, with_journal: bool, as_arrow: bool
) -> None:
    bill, ledger, journal, terminals = _case(draws)
    compare = journal if with_journal else None
    walked = match_channel(bill, ledger, [], dict(compare) if compare is not None else None)

    bulk = [(otn, amount) for otn, state, amount, _t, due in ledger if state == "PAID" and due]
    others = [row for row in ledger if not (row[1] == "PAID" and row[4])]
    batches = [
        ([otn for otn, _ in bulk[i : i + batch]], [amount for _, amount in bulk[i : i + batch]])
        for i in range(0, len(bulk), batch)
    ]
    if as_arrow:  # as the SQLite ledger reader hands them over
        batches = [(pa.array(otns, pa.string()), pa.array(amounts, pa.int64())) for otns, amounts in batches]
    asked: list[list[str]] = []

    def lookup_terminals(numbers: list[str]) -> dict[str, str]:
        asked.append(numbers)
        return {otn: terminals[otn] for otn in numbers}

    split = match_channel(
        bill,
        others,
        [],
        dict(compare) if compare is not None else None,
        paid=batches,
        lookup_terminals=lookup_terminals,
    )
    assert _outcome(split) == _outcome(walked)
    assert all(n for n in asked)  # asked only when some bulk payment became an item


def test_bulk_paid_against_an_empty_bill_is_missing_at_provider() -> None:
    result = match_channel(
        _bill(), [], [], paid=[([A, B], [1230, 800])], lookup_terminals=lambda numbers: dict.fromkeys(numbers, "T009")
    )
    assert _kinds(result) == [("missing_at_provider", A), ("missing_at_provider", B)]
    assert {i.terminal_id for i in result.items} == {"T009"}
    assert (result.ledger_paid, result.ledger_paid_fen) == (2, 2030)
