"""The terminal's journal: SQLite (WAL, synchronous=FULL) holding sales, payments, refunds, shifts,
cash, staff and an append-only, hash-chained event log with its upload outbox.

One module per aggregate: :mod:`.sales`, :mod:`.cash`, :mod:`.refunds`, :mod:`.shifts` (over the
drawer's ledger, :mod:`.drawer`), :mod:`.staff`, :mod:`.outbox`, and :mod:`.history` (search in SQL);
:mod:`.events` writes the chain, :mod:`.verify` checks it; :mod:`.figures` reads a day's figures,
:mod:`.reports` builds the X and Z reports, :mod:`.z_store` reads a stored Z back against its hash,
:mod:`.sales_export` lists sales for an export, :mod:`.days` says which business day is open and
which are closed (Z), :mod:`.late` lists what settled after a close.

Import the public API from here::

    from pos_app.journal import open_journal, session_scope, start_sale, record_attempt_state, ...

Its functions never commit; wrap one use case in ``with session_scope(engine) as session:``.
Imports ``pos_app.domain`` only (import-linter), never the configuration.
"""

from pos_app.domain.chain import GENESIS_HASH, canonical_json, event_hash
from pos_app.domain.staff import Role
from pos_app.journal.cash import record_cash_movement, record_cash_sale, void_cash_sale
from pos_app.journal.days import DayStatus, day_status, open_business_day
from pos_app.journal.db import open_journal, session_scope
from pos_app.journal.drawer import current_shift
from pos_app.journal.errors import JournalError
from pos_app.journal.events import append_event, at_text, next_seq
from pos_app.journal.history import list_sales, sale_events
from pos_app.journal.models import (
    CashMovement,
    Counter,
    JournalEvent,
    OutboxEntry,
    PaymentAttempt,
    Refund,
    Sale,
    SaleLine,
    Shift,
    Staff,
)
from pos_app.journal.outbox import mark_sent, pending_outbox, unsent_count
from pos_app.journal.refunds import (
    get_refund,
    new_out_refund_no,
    record_refund,
    record_refund_state,
    record_wallet_void,
    refundable_fen,
    sale_refunds,
    unsettled_refunds,
)
from pos_app.journal.sales import (
    LineIn,
    get_attempt,
    get_sale,
    new_out_trade_no,
    non_final_attempts,
    record_attempt_state,
    sale_lines,
    start_sale,
)
from pos_app.journal.shifts import close_shift, expected_cash_fen, open_shift
from pos_app.journal.staff import (
    PinStatus,
    add_staff,
    check_pin,
    hash_pin,
    list_staff,
    locked_out,
    pin_matches,
    pin_status,
    require_manager,
    unlock_staff,
)
from pos_app.journal.verify import VerifyResult, verify_chain

__all__ = [
    "CashMovement",
    "Counter",
    "GENESIS_HASH",
    "DayStatus",
    "JournalError",
    "JournalEvent",
    "LineIn",
    "OutboxEntry",
    "PaymentAttempt",
    "PinStatus",
    "Refund",
    "Role",
    "Sale",
    "SaleLine",
    "Shift",
    "Staff",
    "VerifyResult",
    "add_staff",
    "append_event",
    "at_text",
    "canonical_json",
    "check_pin",
    "close_shift",
    "current_shift",
    "day_status",
    "event_hash",
    "expected_cash_fen",
    "get_attempt",
    "get_refund",
    "get_sale",
    "hash_pin",
    "list_sales",
    "list_staff",
    "locked_out",
    "mark_sent",
    "new_out_refund_no",
    "new_out_trade_no",
    "next_seq",
    "non_final_attempts",
    "open_business_day",
    "open_journal",
    "open_shift",
    "pending_outbox",
    "pin_matches",
    "pin_status",
    "record_attempt_state",
    "record_cash_movement",
    "record_cash_sale",
    "record_refund",
    "record_refund_state",
    "record_wallet_void",
    "refundable_fen",
    "require_manager",
    "sale_events",
    "sale_lines",
    "sale_refunds",
    "session_scope",
    "start_sale",
    "unlock_staff",
    "unsent_count",
    "unsettled_refunds",
    "verify_chain",
    "void_cash_sale",
]
