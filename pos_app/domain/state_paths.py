"""The shortest forward walk between two payment states through the one transition table."""

from __future__ import annotations

from pos_app.domain.states import TRANSITIONS, PaymentState


def state_path(
    current: PaymentState, target: PaymentState, prefer: PaymentState | None = None
) -> list[PaymentState] | None:
    """The steps after ``current`` that reach ``target``, shortest first, or None when ``target``
    cannot be reached (a stale view).

    ``prefer`` is the intermediate state of the payment's mode (SUBMITTED for micropay, AWAITING_SCAN
    for native); UNKNOWN is never chosen as a step it was not told about.
    """
    if current == target:
        return []
    frontier: list[list[PaymentState]] = [[current]]
    seen = {current}
    while frontier:
        next_frontier: list[list[PaymentState]] = []
        for walk in frontier:
            steps = sorted(TRANSITIONS[walk[-1]], key=lambda st: (st != prefer, st == PaymentState.UNKNOWN, st))
            for step in steps:
                if step == target:
                    return walk[1:] + [step]
                if step not in seen:
                    seen.add(step)
                    next_frontier.append(walk + [step])
        frontier = next_frontier
    return None
