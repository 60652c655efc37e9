"""Day reports from the terminal journal: X (any time, changes nothing) and Z (day close: numbered,
immutable, one per terminal and business day, refused while a payment or refund is unsettled).

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

import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from pos_app.cells import cut, pad, width
from pos_app.domain.chain import canonical_json
from pos_app.domain.money import fen_to_yuan, format_fen
from pos_app.domain.routing import Channel
from pos_app.domain.staff import Action
from pos_app.domain.states import PaymentState, RefundState
from pos_app.i18n import _
from pos_app.journal.clock import aware
from pos_app.journal.days import as_day, business_window, closed_days, get_z_report
from pos_app.journal.errors import JournalError
from pos_app.journal.events import EVENT_COUNTER, append_event, next_seq
from pos_app.journal.late import late_settlements
from pos_app.journal.models import Counter, Sale, Staff, ZReport
from pos_app.journal.payloads import load_payload
from pos_app.journal.refunds import OPEN_REFUND_STATES
from pos_app.journal.sales import UNSETTLED_STATES
from pos_app.journal.shifts import SOLD_STATES, authorise
from pos_app.journal.snapshots import Z_REPORT, z_report_snapshot

CHANNELS: tuple[Channel, ...] = (Channel.WECHAT, Channel.ALIPAY, Channel.CASH)


class DayClosedError(JournalError):
    """A second Z report for a day that is already closed."""


class UnsettledError(JournalError):
    """The day cannot be closed while a payment or a refund has no final outcome."""


def local_offset_minutes(day: date | None = None) -> int:
    """The machine's UTC offset (minutes) at noon of ``day``: the store's local time."""
    when = datetime.combine(day or date.today(), time(12)).astimezone()
    offset = when.utcoffset()
    return 0 if offset is None else int(offset.total_seconds() // 60)


@dataclass(slots=True)
class Figures:
    """Counts and amounts (fen) of one slice of a day."""

    sales_count: int = 0
    sales_fen: int = 0
    refunds_count: int = 0
    refunds_fen: int = 0
    voids_count: int = 0
    voids_fen: int = 0

    @property
    def net_fen(self) -> int:
        return self.sales_fen - self.refunds_fen

    @classmethod
    def from_dict(cls, stored: dict[str, int]) -> Figures:
        return cls(**{f.name: int(stored.get(f.name, 0)) for f in fields(cls)})

    def add(self, other: Figures) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        return {
            "sales_count": self.sales_count,
            "sales_fen": self.sales_fen,
            "refunds_count": self.refunds_count,
            "refunds_fen": self.refunds_fen,
            "voids_count": self.voids_count,
            "voids_fen": self.voids_fen,
            "net_fen": self.net_fen,
        }


@dataclass(slots=True)
class DayTotals:
    """The money figures of one business day (the part of X/Z shared with `pos report daily`)."""

    business_day: str
    terminal_id: str | None
    offset_minutes: int
    total: Figures = field(default_factory=Figures)
    channels: dict[str, Figures] = field(default_factory=lambda: {c.value: Figures() for c in CHANNELS})
    cashiers: dict[str, Figures] = field(default_factory=dict)
    #: local hour "00".."23" -> (sales count, sales fen)
    hours: dict[str, tuple[int, int]] = field(default_factory=dict)
    first_receipt: str | None = None
    last_receipt: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "business_day": self.business_day,
            "terminal_id": self.terminal_id,
            "utc_offset_minutes": self.offset_minutes,
            "total": self.total.as_dict(),
            "channels": {name: figures.as_dict() for name, figures in self.channels.items()},
            "cashiers": {name: self.cashiers[name].as_dict() for name in sorted(self.cashiers)},
            "hours": {hour: {"sales_count": c, "sales_fen": a} for hour, (c, a) in sorted(self.hours.items())},
            "first_receipt": self.first_receipt,
            "last_receipt": self.last_receipt,
        }

    @classmethod
    def from_report(cls, content: dict[str, Any]) -> DayTotals:
        """The figures an X or Z report's content holds (a Z's are its day's figures for good)."""
        return cls(
            business_day=content["business_day"],
            terminal_id=content["terminal_id"],
            offset_minutes=int(content["utc_offset_minutes"]),
            total=Figures.from_dict(content["total"]),
            channels={name: Figures.from_dict(figures) for name, figures in content["channels"].items()},
            cashiers={name: Figures.from_dict(figures) for name, figures in content["cashiers"].items()},
            hours={hour: (int(f["sales_count"]), int(f["sales_fen"])) for hour, f in content["hours"].items()},
            first_receipt=content["first_receipt"],
            last_receipt=content["last_receipt"],
        )


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


def stored_z(session: Session, day: date, terminal_id: str | None) -> dict[str, Any] | None:
    """The content of the Z report that closed ``day`` on this terminal, or None while it is open."""
    if terminal_id is None:
        return None
    report = get_z_report(session, terminal_id, day)
    return None if report is None else z_content(report)


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


def build_report(
    session: Session,
    day: date | str,
    *,
    kind: str,
    terminal_id: str,
    at: datetime,
    by: str,
    offset_minutes: int | None = None,
) -> dict[str, Any]:
    """The full content of an X or Z report (JSON values only). An X report of a closed day has the
    Z's figures, the Z's number as ``closed_by_z`` and the payments settled after the close as
    ``late_settlements``."""
    the_day = as_day(day)
    offset = local_offset_minutes(the_day) if offset_minutes is None else offset_minutes
    totals = daily_totals(session, the_day, terminal_id=terminal_id, offset_minutes=offset)
    content: dict[str, Any] = {
        "report": kind,
        "number": None,
        "generated_at": aware(at).astimezone(UTC).isoformat(timespec="seconds"),
        "generated_by": by,
        **totals.as_dict(),
        "unsettled_payments": unsettled_payments(session, the_day, terminal_id=terminal_id),
        "unsettled_refunds": open_refunds(session, terminal_id=terminal_id),
        "cash": cash_summary(session, the_day, terminal_id=terminal_id, offset_minutes=offset),
    }
    content.update(closed_day_notes(session, the_day, terminal_id=terminal_id))
    return content


def closed_day_notes(session: Session, day: date | str, *, terminal_id: str | None) -> dict[str, Any]:
    """For a closed day: ``{"closed_by_z": number, "late_settlements": [...]}`` (see
    :func:`pos_app.journal.late.late_settlements`); for an open day, nothing."""
    the_day = as_day(day)
    reports = closed_days(session, terminal_id, the_day, the_day).get(the_day.isoformat(), [])
    if not reports:
        return {}
    return {
        "closed_by_z": [report.number for report in reports] if terminal_id is None else reports[0].number,
        "late_settlements": [row for report in reports for row in late_settlements(session, report)],
    }


def x_report(
    session: Session,
    day: date | str,
    *,
    terminal_id: str,
    by: Staff,
    at: datetime,
    offset_minutes: int | None = None,
) -> dict[str, Any]:
    """The X report: the day so far. Reads only — writes nothing, numbers nothing."""
    authorise(by, Action.X_REPORT)
    return build_report(
        session, day, kind="X", terminal_id=terminal_id, at=at, by=by.name, offset_minutes=offset_minutes
    )


def content_hash(content_json: str) -> str:
    return hashlib.sha256(content_json.encode("utf-8")).hexdigest()


def close_day(
    session: Session,
    day: date | str,
    *,
    terminal_id: str,
    by: Staff,
    at: datetime,
    offset_minutes: int | None = None,
) -> ZReport:
    """The Z report: closes the business day for this terminal (manager only), numbered 1, 2, 3...

    Refused when the day is already closed or while one of its payments (or any refund) has no final
    outcome. Stored with its full content and its SHA-256, and journaled as ``day.close``.
    """
    authorise(by, Action.Z_REPORT)
    the_day = as_day(day)
    existing = get_z_report(session, terminal_id, the_day)
    if existing is not None:
        raise DayClosedError(f"{the_day} is already closed on this terminal (Z report #{existing.number}).")
    content = build_report(
        session, the_day, kind="Z", terminal_id=terminal_id, at=at, by=by.name, offset_minutes=offset_minutes
    )
    waiting = len(content["unsettled_payments"]) + len(content["unsettled_refunds"])
    if waiting:
        raise UnsettledError(
            f"{waiting} payment(s) or refund(s) have no final outcome yet — settle them (Pending) before the day close."
        )
    number = next_seq(session, terminal_id, "z_report")
    content["number"] = number
    text = canonical_json(content)
    report = ZReport(
        terminal_id=terminal_id,
        number=number,
        business_day=the_day.isoformat(),
        content_json=text,
        content_hash=content_hash(text),
        closed_by=by.name,
        closed_at=aware(at),
    )
    session.add(report)
    session.flush()
    payload: dict[str, Any] = {
        "cashier": by.name,
        "business_day": report.business_day,
        "number": number,
        "net_fen": content["total"]["net_fen"],
        Z_REPORT: z_report_snapshot(report),
    }
    append_event(session, terminal_id, "day.close", payload, at)
    return report


def z_content(report: ZReport) -> dict[str, Any]:
    """The stored content of a Z report, refused if it no longer matches its hash (edited by hand)."""
    if content_hash(report.content_json) != report.content_hash:
        raise JournalError(
            f"Z report #{report.number} ({report.business_day}) does not match its hash — it was edited;"
            " run `pos journal verify`."
        )
    return load_payload(report.content_json)


def list_z_reports(session: Session, terminal_id: str | None = None) -> list[ZReport]:
    statement = select(ZReport)
    if terminal_id is not None:
        statement = statement.where(ZReport.terminal_id == terminal_id)
    return list(session.exec(statement.order_by(col(ZReport.terminal_id), col(ZReport.number))).all())


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


def render_text(content: dict[str, Any]) -> str:
    """A fixed-width text table of a daily figures dict (``DayTotals.as_dict()`` or an X/Z report), in
    the language of the process (``pos_app.i18n``); columns are counted in terminal cells."""
    out = io.StringIO()
    title = _("Day {day}").format(day=content["business_day"])
    if isinstance(content.get("closed_by_z"), int):
        title += " " + _("(closed, Z #{number})").format(number=content["closed_by_z"])
    if content.get("report"):
        kind = content["report"]
        report = (
            _("{kind} report #{number}").format(kind=kind, number=content["number"])
            if content.get("number")
            else _("{kind} report").format(kind=kind)
        )
        title = f"{report} · {title}"
    if content.get("terminal_id"):
        title += " · " + _("terminal {id}").format(id=content["terminal_id"])
    out.write(title + "\n\n")
    # 74 columns: fits an 80-column terminal with a scrollbar.
    widths = (11, 5, 12, 8, 10, 6, 10, 12)
    titles = ("", _("sales"), _("amount"), _("refunds"), _("amount"), _("voids"), _("amount"), _("net"))
    header = pad(titles[0], widths[0]) + "".join(
        pad(t, w, right=True) for t, w in zip(titles[1:], widths[1:], strict=True)
    )

    def row(label: str, figures: dict[str, int]) -> str:
        values = (
            str(figures["sales_count"]),
            format_fen(figures["sales_fen"]),
            str(figures["refunds_count"]),
            format_fen(figures["refunds_fen"]),
            str(figures["voids_count"]),
            format_fen(figures["voids_fen"]),
            format_fen(figures["net_fen"]),
        )
        line = pad(cut(label, widths[0] - 1), widths[0])
        return (
            line
            + "".join(pad(value, cells, right=True) for value, cells in zip(values, widths[1:], strict=True))
            + "\n"
        )

    out.write(_("By channel") + "\n" + header + "\n")
    for name, figures in content["channels"].items():
        # Channel labels are marked for the catalog in pos_app.terminal.text (CHANNEL_NAMES).
        out.write(row(_(Channel(name).label) if name in set(Channel) else name, figures))
    out.write(row(_("TOTAL"), content["total"]))
    out.write("\n" + _("By cashier") + "\n" + header + "\n")
    for name, figures in content["cashiers"].items():
        out.write(row(name, figures))
    out.write("\n" + _("By hour") + "\n")
    for hour, figures in content["hours"].items():
        out.write(f"  {hour}:00  {figures['sales_count']:>6}  {format_fen(figures['sales_fen']):>14}\n")
    receipts = (_("First receipt:"), _("Last receipt:"))
    column = max(width(label) for label in receipts) + 1
    out.write("\n" + pad(receipts[0], column) + (content["first_receipt"] or "-") + "\n")
    out.write(pad(receipts[1], column) + (content["last_receipt"] or "-") + "\n")
    cash = content.get("cash")
    if cash:
        line = _("Cash: expected {expected} · counted {counted} · difference {difference}").format(
            expected=format_fen(cash["expected_fen"]),
            counted=format_fen(cash["counted_fen"]),
            difference=format_fen(cash["difference_fen"]),
        )
        if cash["open_shifts"]:
            line += " · " + _("{count} shift(s) still open").format(count=cash["open_shifts"])
        out.write("\n" + line + "\n")
    waiting = len(content.get("unsettled_payments", [])) + len(content.get("unsettled_refunds", []))
    if waiting:
        out.write("\n" + _("{count} payment(s)/refund(s) still unsettled.").format(count=waiting) + "\n")
    late = content.get("late_settlements")
    if late:
        out.write("\n" + _("Late settlements after close (not in the figures above)") + "\n")
        for payment in late:
            out.write(
                f"  {payment['out_trade_no']}  {payment['channel']:<7}{format_fen(payment['amount_fen']):>11}"
                f"  {payment['state_at_close']} -> {payment['state']}  {payment['at'][:19].replace('T', ' ')} UTC\n"
            )
    return out.getvalue()


#: The columns of a sales export, in order.
EXPORT_COLUMNS: tuple[str, ...] = (
    "business_day",
    "time",
    "out_trade_no",
    "terminal_id",
    "cashier",
    "channel",
    "mode",
    "state",
    "amount_fen",
    "refunded_fen",
    "amount",
    "refunded",
    "transaction_id",
    "subject",
)


def export_rows(
    session: Session, first: date | str, last: date | str, *, terminal_id: str | None = None
) -> Iterator[tuple[str | int, ...]]:
    """Every sale of the business days [first, last] (all states), oldest first, as EXPORT_COLUMNS.
    ``amount``/``refunded`` are the same figures as yuan text (``"12.30"``), never floats."""
    statement = select(Sale).where(
        Sale.business_day >= as_day(first).isoformat(), Sale.business_day <= as_day(last).isoformat()
    )
    if terminal_id is not None:
        statement = statement.where(Sale.terminal_id == terminal_id)
    for sale in session.exec(statement.order_by(col(Sale.created_at), col(Sale.id))):
        yield (
            sale.business_day,
            sale.created_at.astimezone().strftime("%H:%M:%S"),
            sale.out_trade_no,
            sale.terminal_id,
            sale.cashier,
            Channel(sale.channel).value,
            str(sale.mode.value if hasattr(sale.mode, "value") else sale.mode),
            PaymentState(sale.state).value,
            sale.amount_fen,
            sale.refunded_fen,
            fen_to_yuan(sale.amount_fen),
            fen_to_yuan(sale.refunded_fen),
            sale.transaction_id or "",
            sale.subject,
        )
