"""The figures of a business day read from the terminal journal: sales, refunds, voids and net by
channel, cashier and hour, what is still unsettled, and the cash of the day's shifts.

What the figures mean (the tests recompute each one independently from the event log):

- a **sale** counts on its ``business_day`` when the customer's money came in: state PAID,
  PARTIALLY_REFUNDED or REFUNDED (a later refund does not undo the sale, it is a refund);
- a **void** is a sale given back the same day (state REVERSED) whose money had come in: every
  REVERSED cash sale, and a REVERSED wallet sale that carries the gateway's transaction id. Voids
  are not sales;
- a **refund** is a SUCCESS refund of kind "refund" created within the business day's hours (its
  local hours, begun early when the day before was closed before midnight, see
  :func:`pos_app.journal.days.business_window`), counted on the channel of its sale and under the
  cashier who made it. A wallet void carried out as a refund (kind "void") is not a refund: its sale
  is REVERSED and counts as a void;
- **net** = sales − refunds; **by hour** uses the local hour of the sale's time;
- **first/last receipt**: the earliest/latest sale or void of the day;
- **cash**: the shifts opened that day, expected (float + drawer movements) vs counted.

A **closed** day (Z report) is read from its Z: every function here gives exactly the Z's figures for
it, whatever happened after the close; the payments of that day that settled after the close are
listed apart (:mod:`pos_app.journal.late`).

Every query reads the covering indexes of migration 0002 (nothing is cached, nothing can go stale).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from pos_app.domain.day_figures import DayTotals, Figures
from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState, RefundState
from pos_app.journal.clock import aware
from pos_app.journal.days import as_day, business_window, closed_days
from pos_app.journal.events import EVENT_COUNTER
from pos_app.journal.models import Counter, Sale
from pos_app.journal.refunds import OPEN_REFUND_STATES
from pos_app.journal.sales import UNSETTLED_STATES
from pos_app.journal.shifts import SOLD_STATES
from pos_app.journal.z_store import stored_z


def local_offset_minutes(day: date | None = None) -> int:
    """The machine's UTC offset (minutes) at noon of ``day``: the store's local time."""
    when = datetime.combine(day or date.today(), time(12)).astimezone()
    offset = when.utcoffset()
    return 0 if offset is None else int(offset.total_seconds() // 60)


# The report queries are plain SQL on the session's connection: they run often (dashboard refresh,
# day close) and SQLAlchemy's statement building would cost more than SQLite answering them.
# Enum columns hold the member *names* (``WECHAT``, ``PAID``), as SQLAlchemy's Enum type stores them.
_SOLD_SQL = ", ".join(f"'{state.name}'" for state in SOLD_STATES)
_UNSETTLED_SQL = ", ".join(f"'{state.name}'" for state in UNSETTLED_STATES)
_OPEN_REFUNDS_SQL = ", ".join(f"'{state.name}'" for state in OPEN_REFUND_STATES)
_TERMINAL_FILTER = " AND s.terminal_id = :terminal"

# One pass over the day's range of ix_sales_day_report, grouped in the index's own order (no sort):
# voids need a transaction id (wallet). The first/last receipt come from the two ends of ix_sales_day_time.
_DAY_SLICES_SQL = """
SELECT s.channel, s.state, s.cashier, count(*), sum(s.amount_fen),
       count(s.transaction_id), sum(CASE WHEN s.transaction_id IS NOT NULL THEN s.amount_fen ELSE 0 END)
FROM sales AS s
WHERE s.business_day = :day {terminal}
GROUP BY s.channel, s.state, s.cashier
"""
# The local hour from the UTC text 'YYYY-MM-DD HH:MM:SS.ffffff' with integer arithmetic (cheaper than strftime).
_DAY_HOURS_SQL = f"""
SELECT ((CAST(substr(s.created_at, 12, 2) AS INTEGER) * 60 + CAST(substr(s.created_at, 15, 2) AS INTEGER)
         + :offset + 1440) / 60) % 24 AS hour, count(*), sum(s.amount_fen)
FROM sales AS s
WHERE s.business_day = :day {{terminal}} AND s.state IN ({_SOLD_SQL})
GROUP BY 1
"""
_RECEIPT_SQL = f"""
SELECT s.out_trade_no FROM sales AS s INDEXED BY ix_sales_day_time
WHERE s.business_day = :day {{terminal}}
  AND (s.state IN ({_SOLD_SQL}) OR (s.state = 'REVERSED' AND (s.channel = 'CASH' OR s.transaction_id IS NOT NULL)))
ORDER BY s.created_at {{direction}}, s.out_trade_no {{direction}} LIMIT 1
"""
_DAY_REFUNDS_SQL = """
SELECT s.channel, r.cashier, count(*), sum(r.amount_fen)
FROM refunds AS r JOIN sales AS s ON s.id = r.sale_id
WHERE r.created_at >= :start AND r.created_at < :end AND r.state = 'SUCCESS' AND r.kind = 'refund' {terminal}
GROUP BY 1, 2
"""
_UNSETTLED_PAYMENTS_SQL = f"""
SELECT s.out_trade_no, s.channel, s.state, s.amount_fen, s.cashier FROM sales AS s INDEXED BY ix_sales_state
WHERE s.business_day = :day {{terminal}} AND s.state IN ({_UNSETTLED_SQL})
ORDER BY s.out_trade_no
"""
_OPEN_REFUNDS_QUERY = f"""
SELECT r.out_refund_no, r.out_trade_no, r.state, r.amount_fen
FROM refunds AS r JOIN sales AS s ON s.id = r.sale_id
WHERE r.state IN ({_OPEN_REFUNDS_SQL}) {{terminal}}
ORDER BY r.out_refund_no
"""
_SHIFTS_SQL = """
SELECT sh.id, sh.cashier, sh.opening_float_fen, sh.closed_at, sh.expected_cash_fen, sh.counted_cash_fen,
       (SELECT coalesce(sum(m.amount_fen), 0) FROM cash_movements AS m WHERE m.shift_id = sh.id),
       (SELECT c.signed_off_by FROM shift_closes AS c WHERE c.shift_id = sh.id)
FROM shifts AS sh
WHERE sh.opened_at >= :start AND sh.opened_at < :end {terminal}
ORDER BY sh.id
"""


def _db_time(moment: datetime) -> str:
    """A UTC instant in the text form the journal's DateTime columns hold (comparable as text)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _query(session: Session, sql: str, params: dict[str, Any], *, filter_sql: str = "", **parts: str) -> list[Any]:
    terminal = filter_sql if params.get("terminal") is not None else ""
    statement = sql.format(terminal=terminal, **parts)
    return list(session.connection().exec_driver_sql(statement, params).all())


def journal_terminals(session: Session) -> list[str]:
    """Every terminal that has written to this journal (each has its own event counter)."""
    statement = select(Counter.terminal_id).where(Counter.name == EVENT_COUNTER).order_by(col(Counter.terminal_id))
    return list(session.exec(statement).all())


def daily_totals(
    session: Session,
    day: date | str,
    *,
    terminal_id: str | None = None,
    offset_minutes: int | None = None,
) -> DayTotals:
    """Sales, refunds, voids and net of one business day by channel, cashier and local hour.

    A day closed on the terminal gives exactly its Z report's figures (and offset). Without a
    terminal, the sum of every terminal's figures when any of them closed the day.
    """
    the_day = as_day(day)
    offset = local_offset_minutes(the_day) if offset_minutes is None else offset_minutes
    if terminal_id is None and the_day.isoformat() in closed_days(session, None, the_day, the_day):
        return _all_terminals(session, the_day, offset)
    stored = stored_z(session, the_day, terminal_id)
    if stored is not None:
        return DayTotals.from_report(stored)
    return _live_totals(session, the_day, terminal_id, offset)


def _all_terminals(session: Session, day: date, offset: int) -> DayTotals:
    """The figures of every terminal of the journal added up (each closed one as its Z has them)."""
    totals = DayTotals(day.isoformat(), None, offset)
    receipts: list[tuple[datetime, str]] = []
    for terminal in journal_terminals(session):
        part = daily_totals(session, day, terminal_id=terminal, offset_minutes=offset)
        totals.total.add(part.total)
        for name, figures in part.channels.items():
            totals.channels[name].add(figures)
        for name, figures in part.cashiers.items():
            totals.cashiers.setdefault(name, Figures()).add(figures)
        for hour, (count, amount) in part.hours.items():
            have = totals.hours.get(hour, (0, 0))
            totals.hours[hour] = (have[0] + count, have[1] + amount)
        for number in (part.first_receipt, part.last_receipt):
            sale = None if number is None else session.exec(select(Sale).where(Sale.out_trade_no == number)).first()
            if sale is not None:
                receipts.append((aware(sale.created_at), sale.out_trade_no))
    if receipts:
        receipts.sort()
        totals.first_receipt, totals.last_receipt = receipts[0][1], receipts[-1][1]
    return totals


def _live_totals(session: Session, the_day: date, terminal_id: str | None, offset: int) -> DayTotals:
    """The figures of a day still open, from the journal's rows as they are now."""
    totals = DayTotals(the_day.isoformat(), terminal_id, offset)
    start, end = business_window(session, the_day, offset, terminal_id=terminal_id)
    params: dict[str, Any] = {
        "day": totals.business_day,
        "terminal": terminal_id,
        "offset": offset,
        "start": _db_time(start),
        "end": _db_time(end),
    }
    slices = _query(session, _DAY_SLICES_SQL, params, filter_sql=_TERMINAL_FILTER)
    for channel_name, state_name, cashier, count, amount, txn_count, txn_amount in slices:
        channel, state = Channel[channel_name], PaymentState[state_name]
        if state in SOLD_STATES:
            sold = (int(count), int(amount))
            voided = (0, 0)
        elif state == PaymentState.REVERSED:
            sold = (0, 0)
            voided = (int(count), int(amount)) if channel == Channel.CASH else (int(txn_count), int(txn_amount))
        else:
            continue
        if sold == (0, 0) and voided == (0, 0):
            continue
        for figures in (totals.total, totals.channels[channel.value], totals.cashiers.setdefault(cashier, Figures())):
            figures.sales_count += sold[0]
            figures.sales_fen += sold[1]
            figures.voids_count += voided[0]
            figures.voids_fen += voided[1]

    for hour, count, amount in _query(session, _DAY_HOURS_SQL, params, filter_sql=_TERMINAL_FILTER):
        totals.hours[f"{int(hour):02d}"] = (int(count), int(amount))

    for channel_name, cashier, count, amount in _query(session, _DAY_REFUNDS_SQL, params, filter_sql=_TERMINAL_FILTER):
        channel_figures = totals.channels[Channel[channel_name].value]
        for figures in (totals.total, channel_figures, totals.cashiers.setdefault(cashier, Figures())):
            figures.refunds_count += int(count)
            figures.refunds_fen += int(amount)

    first = _query(session, _RECEIPT_SQL, params, filter_sql=_TERMINAL_FILTER, direction="ASC")
    last = _query(session, _RECEIPT_SQL, params, filter_sql=_TERMINAL_FILTER, direction="DESC")
    totals.first_receipt = first[0][0] if first else None
    totals.last_receipt = last[0][0] if last else None
    return totals


def unsettled_payments(session: Session, day: date | str, *, terminal_id: str | None = None) -> list[dict[str, Any]]:
    """Payments of the day with no final outcome yet (the engine has not settled them)."""
    params = {"day": as_day(day).isoformat(), "terminal": terminal_id}
    return [
        {
            "out_trade_no": number,
            "channel": Channel[channel].value,
            "state": PaymentState[state].value,
            "amount_fen": int(amount),
            "cashier": cashier,
        }
        for number, channel, state, amount, cashier in _query(
            session, _UNSETTLED_PAYMENTS_SQL, params, filter_sql=_TERMINAL_FILTER
        )
    ]


def open_refunds(session: Session, *, terminal_id: str | None = None) -> list[dict[str, Any]]:
    """Refunds (of any day) whose outcome is not known yet."""
    rows = _query(session, _OPEN_REFUNDS_QUERY, {"terminal": terminal_id}, filter_sql=_TERMINAL_FILTER)
    return [
        {"out_refund_no": number, "out_trade_no": trade, "state": RefundState[state].value, "amount_fen": int(amount)}
        for number, trade, state, amount in rows
    ]


def cash_summary(
    session: Session, day: date | str, *, terminal_id: str | None = None, offset_minutes: int | None = None
) -> dict[str, Any]:
    """The shifts opened during the business day: expected (float + drawer movements) vs counted
    cash. A closed day gives its Z report's figures."""
    the_day = as_day(day)
    stored = stored_z(session, the_day, terminal_id)
    if stored is not None:
        cash: dict[str, Any] = stored["cash"]
        return cash
    offset = local_offset_minutes(the_day) if offset_minutes is None else offset_minutes
    start, end = business_window(session, the_day, offset, terminal_id=terminal_id)
    params = {"start": _db_time(start), "end": _db_time(end), "terminal": terminal_id}
    rows: list[dict[str, Any]] = []
    for shift_id, cashier, float_fen, closed_at, expected_closed, counted, drawer, signed in _query(
        session, _SHIFTS_SQL, params, filter_sql=" AND sh.terminal_id = :terminal"
    ):
        is_open = closed_at is None
        expected = int(drawer) if is_open or expected_closed is None else int(expected_closed)
        rows.append(
            {
                "shift_id": int(shift_id),
                "cashier": cashier,
                "open": is_open,
                "opening_float_fen": int(float_fen),
                "expected_fen": expected,
                "counted_fen": None if counted is None else int(counted),
                "difference_fen": None if counted is None else int(counted) - expected,
                "signed_off_by": signed,
            }
        )
    closed = [row for row in rows if not row["open"]]
    counted_total = sum(int(row["counted_fen"]) for row in closed)
    return {
        "shifts": rows,
        "expected_fen": sum(int(row["expected_fen"]) for row in rows),
        "counted_fen": counted_total,
        "difference_fen": counted_total - sum(int(row["expected_fen"]) for row in closed),
        "open_shifts": len(rows) - len(closed),
    }


def net_by_day(
    session: Session, first: date, last: date, *, terminal_id: str | None = None
) -> dict[str, tuple[int, int]]:
    """Sales (count, fen) per business day in [first, last], every day present (0 when none); a
    closed day as its Z report has them."""
    statement = (
        select(Sale.business_day, func.count(), func.sum(Sale.amount_fen))
        .where(
            Sale.business_day >= first.isoformat(),
            Sale.business_day <= last.isoformat(),
            col(Sale.state).in_(SOLD_STATES),
        )
        .group_by(Sale.business_day)
    )
    if terminal_id is not None:
        statement = statement.where(Sale.terminal_id == terminal_id)
    found = {str(day): (int(count), int(amount)) for day, count, amount in session.exec(statement).all()}
    for day in closed_days(session, terminal_id, first, last):
        closed = daily_totals(session, day, terminal_id=terminal_id).total
        found[day] = (closed.sales_count, closed.sales_fen)
    result: dict[str, tuple[int, int]] = {}
    current = first
    while current <= last:
        result[current.isoformat()] = found.get(current.isoformat(), (0, 0))
        current += timedelta(days=1)
    return result


def day_has_sales(session: Session, day: date | str, *, terminal_id: str) -> bool:
    """Whether any sale (in any state) has been booked to the business day on this terminal."""
    statement = select(Sale.id).where(Sale.business_day == as_day(day).isoformat(), Sale.terminal_id == terminal_id)
    return session.exec(statement.limit(1)).first() is not None
