"""The three-way matcher of one channel: provider bill ↔ engine ledger ↔ synced terminal journals.

Built for a million rows a side: the bill is held as Arrow columns, the bulk of the ledger (PAID
payments of the day) comes as Arrow arrays, and those are joined by Arrow kernels (a hash join in
C, see :mod:`join`). Only what is left — payments that differ or are not plain PAID, bill rows no
payment took — is walked in Python, with a dict from ``out_trade_no`` to a row index, and only rows
that differ become objects (:class:`OpenItem`).

What the bill proves is settled here (a payment the engine still had as unknown that the bill shows
paid, or reversed); everything else that differs becomes an open item for the manager, with the
action to take.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow.compute as pc

from pos_app.domain.money import format_fen
from pos_app.engine.reconcile.bill import PAID, PAYMENT, Bill, gc_paused, reversal_mask
from pos_app.engine.reconcile.classify import Classifier
from pos_app.engine.reconcile.duplicates import index_payment_rows
from pos_app.engine.reconcile.inputs import (
    JournalSale,
    LedgerPayment,
    LedgerRefund,
    LedgerRow,
    PaidBatch,
    PaymentLookup,
    RefundLookup,
    TerminalLookup,
)
from pos_app.engine.reconcile.join import join_paid
from pos_app.engine.reconcile.journal_compare import JournalComparison
from pos_app.engine.reconcile.refunds import match_refunds
from pos_app.engine.reconcile.results import ACT_MISSING_LOCALLY, ChannelMatch, Difference, OpenItem
from pos_app.engine.reconcile.state_groups import MONEY_IN, PAID_STATE, SETTLED


@gc_paused
def match_channel(
    bill: Bill,
    ledger: Iterable[LedgerRow],
    refunds: Iterable[LedgerRefund] = (),
    journal: dict[str, JournalSale] | None = None,
    *,
    paid: Iterable[PaidBatch] = (),
    lookup_payments: PaymentLookup | None = None,
    lookup_refunds: RefundLookup | None = None,
    lookup_terminals: TerminalLookup | None = None,
) -> ChannelMatch:
    """Match one channel's bill against the engine's payments and refunds (and terminal journals).

    The engine's payments come in two parts, each read once. ``paid``, read first, is the bulk of
    a day: the payments the engine has as PAID and paid within the bill day, in batches of two
    columns (out_trade_nos, amounts: Python sequences or Arrow arrays); most of them equal their
    bill line and are matched in Arrow, all at once (see :func:`join.join_paid`). ``ledger`` holds
    every other payment of the day's window as full rows. A payment must be in one part only; all
    of them may be in ``ledger`` (the result is the same). ``lookup_terminals`` names the
    terminals of the few ``paid`` payments that become items. ``journal`` is None when journals
    are not compared; otherwise it maps out_trade_no to what the terminals synced.
    """
    channel = bill.channel
    result = ChannelMatch(channel)
    items = result.items

    # 1. The non-payment rows: reversals (by order) and refunds (matched in step 5), found in Arrow.
    is_payment = pc.equal(bill.kind.arrow, PAYMENT)
    reversal = reversal_mask(bill)
    # orders whose bill shows the payment and its reversal (money back)
    reversals: set[str] = set(pc.filter(bill.out_trade_no.arrow, reversal).to_pylist())
    refund_rows: list[int] = pc.indices_nonzero(pc.and_not(pc.invert(is_payment), reversal)).to_pylist()
    journals = JournalComparison.of(channel, journal, items) if journal is not None else None
    classifier = Classifier(bill, reversals, items, result.settled)

    # 2. The bulk of PAID payments against the bill's payment rows, in Arrow; what is left of the
    # bill (rows no plain payment took) is indexed by out_trade_no for the walk.
    joined = join_paid(bill, paid, is_payment, reversals, journals)
    index = index_payment_rows(bill, *joined.take_left(), items)
    odd = joined.odd + [otn for otn, _amount in joined.differ]
    terminals = lookup_terminals(odd) if odd and lookup_terminals is not None else {}
    matched = joined.matched
    for otn, amount in joined.differ:
        # Exactly what the walk below does with a PAID, due payment that is not plainly matched.
        payment = LedgerPayment(otn, PAID_STATE, amount, terminals.get(otn, ""), True)
        matched += classifier.classify(payment, index.pop(otn, -1))
        if journals is not None:
            journals.compare(payment, journals.take(otn))
    if journals is not None:
        for otn, amount, sale in joined.journal_odd:
            journals.compare(LedgerPayment(otn, PAID_STATE, amount, terminals.get(otn, ""), True), sale)

    # 3. Walk the other payments once; pop each key so what is left is missing locally.
    walked, paid_count, paid_fen = _walk(ledger, index, classifier, journals)
    matched += walked
    result.ledger_paid, result.ledger_paid_fen = joined.count + paid_count, joined.fen + paid_fen

    # 4. Bill payments the day's window did not hold: ask the ledger about other days, else missing.
    if index:
        matched += _other_days(index, lookup_payments, classifier)

    # 5. Refunds, then the journaled sales the engine's day does not hold.
    result.matched = matched + match_refunds(bill, refund_rows, refunds, lookup_refunds, items)
    if journals is not None and journals.pending:
        journals.report_unknown()
    return result


def _walk(
    ledger: Iterable[LedgerRow], index: dict[str, int], classifier: Classifier, journals: JournalComparison | None
) -> tuple[int, int, int]:
    """Walk the payments the join did not take, popping each from ``index``. Returns how many
    matched, and the count and amount of the money-in payments due in this bill among them."""
    b_status, b_amount = classifier.bill.status, classifier.bill.amount_fen
    reversals, settled = classifier.reversals, classifier.settled
    pop = index.pop
    matched = paid_count = paid_fen = 0
    for otn, state, amount, terminal, due in ledger:
        j = pop(otn, -1)
        if due and state in MONEY_IN:
            paid_count += 1
            paid_fen += amount
        if (
            j >= 0
            and b_status[j] == PAID
            and state in MONEY_IN
            and b_amount[j] == amount
            and (not reversals or otn not in reversals)
        ):
            matched += 1  # the common case: both say paid, same amount
        elif j < 0 and (not due or (state in SETTLED and state not in MONEY_IN)):
            matched += 1  # nothing collected (or collected another day) and not in the bill: consistent
        else:
            before = len(settled)
            matched += classifier.classify(LedgerPayment(otn, state, amount, terminal, bool(due)), j)
            if len(settled) > before:  # the bill proved its outcome: the journal is compared with that
                state = settled[-1].target.value
        if journals is not None:
            journals.compare(LedgerPayment(otn, state, amount, terminal, bool(due)), journals.take(otn))
    return matched, paid_count, paid_fen


def _other_days(index: dict[str, int], lookup: PaymentLookup | None, classifier: Classifier) -> int:
    """The bill payments no payment of the day took (``index``): classified against the ledger's
    payments of other days (never due in this bill; popped from ``index`` when found), the rest
    reported missing locally. Returns how many matched."""
    bill = classifier.bill
    matched = 0
    for otn, state, amount, terminal, _due in lookup(list(index)) if lookup is not None else ():
        j = index.pop(otn, -1)
        if j >= 0:
            matched += classifier.classify(LedgerPayment(otn, state, amount, terminal, False), j)
    for otn, j in index.items():
        status, amount = bill.status[j], bill.amount_fen[j]
        classifier.items.append(
            OpenItem(
                Difference.MISSING_LOCALLY,
                bill.channel,
                otn,
                f"The provider's bill has a payment of {format_fen(amount)} ({status}) the engine has no record of.",
                ACT_MISSING_LOCALLY if status == PAID else "Nothing was collected (reversed); note it.",
                missing_from="ledger",
                bill_fen=amount,
                bill_status=status,
                bill_line=bill.line_no[j],
            )
        )
    return matched
