"""The payment search form's fields, read from the query string into a typed query, or a message
saying which field is wrong (nothing is searched then)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from pos_app.console.search import PaymentQuery
from pos_app.domain.china_time import CHINA_TZ
from pos_app.domain.errors import AmountError
from pos_app.domain.money import parse_amount
from pos_app.domain.states import PaymentState
from pos_app.i18n import N_

#: Any amount one payment could have; the per-sale limit of a till is not the console's business.
_MAX_SEARCH_FEN = 10**12
_CODE = re.compile(r"[0-9A-Za-z]{1,64}")
STATES = tuple(s.value for s in PaymentState)


@dataclass(frozen=True)
class SearchForm:
    query: PaymentQuery
    fields: dict[str, str]  # what was typed, to show it again
    store: str | None
    error: str | None = None


def _moment(text: str) -> datetime:
    """A ``datetime-local`` value (``2026-12-06T14:30``) in China time — the stores' clock."""
    return datetime.fromisoformat(text).replace(tzinfo=CHINA_TZ)


def read_search(params: Mapping[str, str]) -> SearchForm:
    names = ("order", "txn", "amount", "since", "until", "state", "till", "store", "before")
    fields = {name: params.get(name, "").strip() for name in names}
    store = fields["store"] or None
    try:
        amount = parse_amount(fields["amount"], max_fen=_MAX_SEARCH_FEN) if fields["amount"] else None
    except AmountError:
        return SearchForm(PaymentQuery(), fields, store, N_("Type the amount in yuan, e.g. 12.30."))
    for name in ("order", "txn", "till", "store"):
        if fields[name] and not _CODE.fullmatch(fields[name]):
            return SearchForm(
                PaymentQuery(),
                fields,
                store,
                N_("Order numbers, transaction ids, tills and stores are letters and digits."),
            )
    if fields["state"] and fields["state"] not in STATES:
        return SearchForm(PaymentQuery(), fields, store, N_("Choose a state from the list."))
    try:
        since = _moment(fields["since"]) if fields["since"] else None
        until = _moment(fields["until"]) if fields["until"] else None
    except ValueError:
        return SearchForm(PaymentQuery(), fields, store, N_("Type times as YYYY-MM-DD HH:MM."))
    before = int(fields["before"]) if fields["before"].isdigit() else None
    query = PaymentQuery(
        order=fields["order"] or None,
        transaction_id=fields["txn"] or None,
        amount_fen=amount,
        since=since,
        until=until,
        state=fields["state"] or None,
        terminal_id=fields["till"] or None,
        before_id=before,
    )
    return SearchForm(query, fields, store)
