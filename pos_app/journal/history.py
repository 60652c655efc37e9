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


#: The fields a search term can name (``cashier:ann``, ``channel:cash``, ``amount:12.30``,
#: ``order:P2611``, ``state:paid``).
FIELDS = ("cashier", "channel", "amount", "order", "state")


def _channels(lowered: str) -> list[Channel]:
    return [channel for channel in Channel if lowered in (channel.value, channel.label.lower())]


def _states(lowered: str) -> list[PaymentState]:
    return [state for state in PaymentState if lowered == state.value.lower()]


def _field_condition(name: str, value: str) -> ColumnElement[bool]:
    """What a field-qualified term matches: that column only."""
    lowered = value.lower()
    if name == "cashier":
        return _contains(col(Sale.cashier), lowered)
    if name == "channel":
        return col(Sale.channel).in_(_channels(lowered))
    if name == "state":
        return col(Sale.state).in_(_states(lowered))
    if name == "order":
        return func.substr(getattr(func, UNICODE_LOWER)(col(Sale.out_trade_no)), 1, len(lowered)) == lowered
    amount = _amount_fen(value)
    return col(Sale.amount_fen) == (-1 if amount is None else amount)


def _word_condition(word: str) -> ColumnElement[bool]:
    """What one search word matches.

    - ``field:value`` with a field of :data:`FIELDS`: that column only (``order:`` by prefix).
    - A word that names a channel (``cash``, ``alipay``) or a state (``paid``): that column only, so
      "cash" finds cash sales and not every sale of a cashier called "Demo Cashier".
    - Any other word: the out_trade_no, transaction id, cashier or subject containing it (any case);
      a local time starting with it (``14:``, ``14:05``); or an amount equal to it (``12.30``).
    """
    name, colon, value = word.partition(":")
    if colon and value and name.lower() in FIELDS:
        return _field_condition(name.lower(), value)
    lowered = word.lower()
    channels, states = _channels(lowered), _states(lowered)
    if channels or states:
        return or_(col(Sale.channel).in_(channels), col(Sale.state).in_(states))
    # Equalities first: SQLite stops at the first true term, before the case-folding calls.
    matches: list[ColumnElement[bool]] = []
    amount = _amount_fen(word)
    if amount is not None:
        matches.append(col(Sale.amount_fen) == amount)
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
    channel: Channel | str | None = None,
    cashier: str | None = None,
    amount_fen: int | None = None,
    order: str | None = None,
    state: PaymentState | str | None = None,
) -> list[Sale]:
    """Sales of one business day (all days if None), newest first, at most ``limit``.

    Every ``query`` word must match (see :func:`_word_condition` for the rule of one word), and so
    must each filter given: ``channel`` and ``state`` equal, ``cashier`` contained (any case),
    ``amount_fen`` equal, ``order`` a prefix of the out_trade_no (any case).
    """
    if limit < 1:
        raise ValueError("list_sales needs a limit of at least 1")
    statement = select(Sale)
    if day is not None:
        statement = statement.where(Sale.business_day == (day if isinstance(day, str) else day.isoformat()))
    if terminal_id is not None:
        statement = statement.where(Sale.terminal_id == terminal_id)
    conditions = [_word_condition(word) for word in query.split()]
    if channel is not None:
        conditions.append(col(Sale.channel) == Channel(channel))
    if state is not None:
        conditions.append(col(Sale.state) == PaymentState(state))
    if cashier is not None:
        conditions.append(_field_condition("cashier", cashier))
    if amount_fen is not None:
        conditions.append(col(Sale.amount_fen) == amount_fen)
    if order is not None:
        conditions.append(_field_condition("order", order))
    if conditions:
        statement = statement.where(and_(*conditions))
    statement = statement.order_by(col(Sale.created_at).desc(), col(Sale.id).desc()).limit(limit)
    return list(session.exec(statement).all())


def sale_events(session: Session, out_trade_no: str) -> list[JournalEvent]:
    """The full event trail of one sale (its payment and refunds), oldest first."""
    statement = select(JournalEvent).where(JournalEvent.ref == out_trade_no).order_by(col(JournalEvent.seq))
    return list(session.exec(statement).all())
