"""The circuit breaker and the guarded provider, with an injected clock and a scripted gateway."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.engine.breakers import BreakerPolicy, BreakerState, CircuitBreaker, CircuitOpen, GuardedProvider
from pos_app.engine.breakers.bulkhead import ChannelBusy
from pos_app.engine.providers.base import DefiniteFailure, OutcomeUnknownError, PaymentProvider, TradeResult

POLICY = BreakerPolicy(failures=3, open_s=10.0, max_open_s=40.0, call_timeout_s=5.0, max_in_flight=2, busy_wait_s=0.05)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_opens_after_repeated_unanswered_calls_and_fails_fast() -> None:
    clock = Clock()
    breaker = CircuitBreaker(Channel.WECHAT, POLICY, clock)
    for _ in range(2):
        breaker.failed(probe=breaker.admit("no"))
    assert breaker.state is BreakerState.CLOSED
    breaker.succeeded(probe=breaker.admit("no"))  # an answer resets the count
    for _ in range(3):
        breaker.failed(probe=breaker.admit("no"))
    assert breaker.state is BreakerState.OPEN and not breaker.admits()
    with pytest.raises(CircuitOpen, match="WeChat Pay is not answering") as refused:
        breaker.admit("WeChat Pay is not answering — use Alipay or cash.")
    assert refused.value.retry_after_s == 10.0 and refused.value.code == "CIRCUIT_OPEN"


def test_one_probe_at_a_time_closes_it_or_backs_off() -> None:
    clock = Clock()
    breaker = CircuitBreaker(Channel.ALIPAY, POLICY, clock)
    for _ in range(3):
        breaker.failed(probe=breaker.admit("no"))
    clock.t += 10
    assert breaker.state is BreakerState.HALF_OPEN and breaker.admits()
    assert breaker.admit("no") is True  # the probe
    with pytest.raises(CircuitOpen):
        breaker.admit("no")  # only one probe at a time
    breaker.failed(probe=True)  # the probe failed: wait twice as long
    assert breaker.state is BreakerState.OPEN and breaker.retry_after_s() == 20.0
    clock.t += 20
    breaker.failed(probe=breaker.admit("no"))
    assert breaker.retry_after_s() == 40.0
    clock.t += 40
    breaker.failed(probe=breaker.admit("no"))
    assert breaker.retry_after_s() == 40.0  # capped at max_open_s
    clock.t += 40
    breaker.succeeded(probe=breaker.admit("no"))
    assert breaker.state is BreakerState.CLOSED
    for _ in range(3):  # closed again with the first wait
        breaker.failed(probe=breaker.admit("no"))
    assert breaker.retry_after_s() == 10.0


def test_an_abandoned_probe_frees_the_probe_slot() -> None:
    clock = Clock()
    breaker = CircuitBreaker(Channel.WECHAT, POLICY, clock)
    for _ in range(3):
        breaker.failed(probe=False)
    clock.t += 10
    breaker.abandoned(probe=breaker.admit("no"))
    assert breaker.admit("no") is True


class Gateway:
    """A provider double: each query answers what the test scripted."""

    channel = Channel.WECHAT

    def __init__(self) -> None:
        self.answers: list[Any] = []
        self.calls = 0
        self.hold = asyncio.Event()
        self.hold.set()

    async def query(self, out_trade_no: str) -> TradeResult:
        self.calls += 1
        await self.hold.wait()
        answer = self.answers.pop(0) if self.answers else TradeResult(out_trade_no, PaymentState.AWAITING_SCAN)
        if isinstance(answer, BaseException):
            raise answer
        assert isinstance(answer, TradeResult)
        return answer

    async def micropay(self, **_: Any) -> TradeResult:
        return await self.query("X")


def guarded(gateway: Gateway, clock: Clock, policy: BreakerPolicy = POLICY) -> GuardedProvider:
    provider: PaymentProvider = gateway  # type: ignore[assignment]
    return GuardedProvider(provider, CircuitBreaker(Channel.WECHAT, policy, clock), policy, "Alipay or cash")


async def test_declines_keep_it_closed_and_unanswered_calls_open_it() -> None:
    clock, gateway = Clock(), Gateway()
    guard = guarded(gateway, clock)
    gateway.answers = [DefiniteFailure("no money", code="NOTENOUGH")] * 5
    for _ in range(5):
        with pytest.raises(DefiniteFailure):
            await guard.query("P1")
    assert guard.breaker.state is BreakerState.CLOSED
    gateway.answers = [OutcomeUnknownError("500", code="SYSTEM_ERROR")] * 3
    for _ in range(3):
        with pytest.raises(OutcomeUnknownError):
            await guard.query("P1")
    assert guard.breaker.state is BreakerState.OPEN
    calls = gateway.calls
    with pytest.raises(CircuitOpen, match="WeChat Pay is not answering — use Alipay or cash."):
        await guard.micropay(out_trade_no="P2", amount_fen=1, subject="s", auth_code="1", store_id="S", device_id="T")
    assert gateway.calls == calls  # failed fast: the gateway was not called


async def test_a_call_past_its_deadline_is_an_unknown_outcome_that_counts() -> None:
    clock, gateway = Clock(), Gateway()
    guard = guarded(gateway, clock, BreakerPolicy(failures=1, call_timeout_s=0.01))
    gateway.hold.clear()
    with pytest.raises(OutcomeUnknownError, match="did not answer in time") as unknown:
        await guard.query("P1")
    assert unknown.value.code == "TIMEOUT" and guard.breaker.state is BreakerState.OPEN


async def test_the_bulkhead_caps_calls_in_flight_and_new_payments_fail_fast_when_full() -> None:
    clock, gateway = Clock(), Gateway()
    guard = guarded(gateway, clock)
    gateway.hold.clear()
    held = [asyncio.create_task(guard.query(f"P{i}")) for i in range(2)]
    await asyncio.sleep(0)
    assert guard.in_flight == 2
    with pytest.raises(ChannelBusy, match="WeChat Pay is busy"):
        await guard.micropay(out_trade_no="P9", amount_fen=1, subject="s", auth_code="1", store_id="S", device_id="T")
    waiting = asyncio.create_task(guard.query("P3"))  # settling waits its turn
    await asyncio.sleep(0.01)
    assert gateway.calls == 2 and not waiting.done()
    gateway.hold.set()
    await asyncio.gather(*held, waiting)
    assert gateway.calls == 3 and guard.in_flight == 0
    assert guard.breaker.state is BreakerState.CLOSED
