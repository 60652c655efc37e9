"""The till's client waits out a brief per-terminal rate limit and sends again; a long one is worded."""

from __future__ import annotations

import time

from pos_app.api.client import EngineError
from pos_app.config import Settings
from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from tests.contract.api.api_support import open_stack
from tests.contract.edge.edge_support import activate


async def test_a_burst_over_the_rate_is_waited_out_not_failed(demo_settings: Settings) -> None:
    demo_settings.engine.rate_limit = "4/second"
    async with open_stack(demo_settings) as stack:
        till = await activate(stack, "T001", "S00001")
        async with till.client(stack) as client:
            created = await client.create_payment(till.native(Channel.ALIPAY, 1230))
            started = time.monotonic()
            views = [await client.get_payment(created.out_trade_no) for _ in range(10)]
            took = time.monotonic() - started
    # Eleven requests at 4 a second: the client waited for the engine's Retry-After instead of failing.
    assert [v.state for v in views] == [PaymentState.AWAITING_SCAN] * 10
    assert took >= 1.0


async def test_a_long_rate_limit_reaches_the_caller_worded(demo_settings: Settings) -> None:
    demo_settings.engine.rate_limit = "2/minute"
    async with open_stack(demo_settings) as stack:
        till = await activate(stack, "T001", "S00001")
        async with till.client(stack) as client:
            created = await client.create_payment(till.native(Channel.ALIPAY, 1230))
            await client.get_payment(created.out_trade_no)
            started = time.monotonic()
            try:
                await client.get_payment(created.out_trade_no)
            except EngineError as exc:
                refused = exc
            else:
                raise AssertionError("the third request in a minute was not refused")
            took = time.monotonic() - started
    assert refused.status_code == 429 and refused.code == "rate_limited"
    assert "wait" in refused.message
    assert took < 1.0  # a wait of up to a minute is not sat out in the client
