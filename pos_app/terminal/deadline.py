"""Every engine call the cashier waits on ends: one bound on the wait, and the words when it is hit."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from pos_app.domain.errors import EngineUnavailable
from pos_app.i18n import _

T = TypeVar("T")

#: The longest a screen waits for one answer of the engine (a wallet create can take seconds at the
#: gateway; longer than this and the cashier is better told, with the order left to be settled).
ANSWER_TIMEOUT_S = 15.0


async def engine_answer(call: Awaitable[T], timeout_s: float = ANSWER_TIMEOUT_S) -> T:
    """``call``'s result, or EngineUnavailable (saying what happens next) after ``timeout_s``."""
    try:
        return await asyncio.wait_for(call, timeout_s)
    except TimeoutError:
        raise EngineUnavailable(
            _("The engine did not answer within {n} s — the payment will be checked when it does.").format(
                n=round(timeout_s)
            )
        ) from None
