"""The sales history: searching sales in SQL, and the event trail of one sale."""

from __future__ import annotations

from datetime import date

from sqlalchemy import ColumnElement, and_, func, or_
from sqlalchemy.orm import Mapped
from sqlmodel import Session, col, select

from pos_app.domain.errors import AmountError
from pos_app.domain.money import parse_amount
from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.journal.db import UNICODE_LOWER
from pos_app.journal.models import JournalEvent, Sale

#: The largest amount a search word is read as (far above any sale, so no typed amount is refused).
_MAX_SEARCH_FEN = 10**12


def _contains(column: Mapped[str] | Mapped[str | None], lowered: str) -> ColumnElement[bool]:
    # Folded with Python's str.lower (registered on every journal connection), not SQLite's lower(),
    # which folds ASCII letters only: "CAFÉ" must still match "café".
    return func.instr(getattr(func, UNICODE_LOWER)(column), lowered) > 0


def _word_condition(word: str) -> ColumnElement[bool]:
    """What one search word matches: the out_trade_no, transaction id, cashier or subject containing
    it (any case); the channel's name or label, or the state's name, equal to it (any case); a local
    time starting with it (``14:``, ``14:05``); or an amount equal to it (``12.30``, ``¥12.3``)."""
    lowered = word.lower()
    # Equalities first: SQLite stops at the first true term, before the case-folding calls.
    matches: list[ColumnElement[bool]] = []
    amount = _amount_fen(word)
    if amount is not None:
        matches.append(col(Sale.amount_fen) == amount)
    channels = [channel for channel in Channel if lowered in (channel.value, channel.label.lower())]
    if channels:
        matches.append(col(Sale.channel).in_(channels))
    states = [state for state in PaymentState if lowered == state.value.lower()]
    if states:
        matches.append(col(Sale.state).in_(states))
    if ":" in word:
        # SQLite's 'localtime' reads the same C library zone as Python's astimezone(): the till's.
        local_time = func.strftime("%H:%M:%S", col(Sale.created_at), "localtime")
        matches.append(func.substr(local_time, 1, len(word)) == word)
    matches += [
        _contains(col(Sale.out_trade_no), lowered),
        _contains(col(Sale.transaction_id), lowered),
        _contains(col(Sale.cashier), lowered),
        _contains(col(Sale.subject), lowered),
    ]
    return or_(*matches)


def _amount_fen(word: str) -> int | None:
    try:
        return parse_amount(word, max_fen=_MAX_SEARCH_FEN)
    except AmountError:
        return None


def list_sales(
    session: Session,
    day: date | str | None = None,
    query: str = "",
    *,
    terminal_id: str | None = None,
    limit: int = 500,
) -> list[Sale]:
    """Sales of one business day (all days if None), newest first, at most ``limit``. ``query`` words
    must all match one of: out_trade_no or transaction id (substring), channel, state, cashier,
    subject, an amount (``12.30`` / ``¥12.3``) or a local time prefix (``14:`` / ``14:05``).
    """
    if limit < 1:
        raise ValueError("list_sales needs a limit of at least 1")
    statement = select(Sale)
    if day is not None:
        statement = statement.where(Sale.business_day == (day if isinstance(day, str) else day.isoformat()))
    if terminal_id is not None:
        statement = statement.where(Sale.terminal_id == terminal_id)
    words = query.split()
    if words:
        statement = statement.where(and_(*(_word_condition(word) for word in words)))
    statement = statement.order_by(col(Sale.created_at).desc(), col(Sale.id).desc()).limit(limit)
    return list(session.exec(statement).all())


def sale_events(session: Session, out_trade_no: str) -> list[JournalEvent]:
    """The full event trail of one sale (its payment and refunds), oldest first."""
    statement = select(JournalEvent).where(JournalEvent.ref == out_trade_no).order_by(col(JournalEvent.seq))
    return list(session.exec(statement).all())
