"""Circuit breakers per gateway against the sandbox: every WeChat call fails for a while, Alipay works."""

from __future__ import annotations

import httpx

from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.engine.breakers import BreakerPolicy
from pos_app.engine.server import create_engine_app
from tests.contract.api.api_support import ENGINE_URL, STORE, TERMINAL, Stack, _LateTransport, make_sandbox_app, running

from .conftest import Rig, assert_matches_truth, attempts, native_req

POLICY = BreakerPolicy(failures=3, open_s=5.0, max_open_s=20.0)
REFUSED = "WeChat Pay is not answering — use Alipay or cash."


async def test_wechat_failing_opens_its_breaker_alipay_works_and_nothing_is_lost(rig: Rig) -> None:
    engine = rig.new_engine(breaker=POLICY)
    rig.receiver.notifications = engine.notifications
    shown = await engine.payments.create_payment(TERMINAL, STORE, native_req(Channel.WECHAT))
    assert shown.state is PaymentState.AWAITING_SCAN

    await rig.fault(kind="server_error", gateway="wechat", status=500)
    unknown: list[str] = []
    while True:  # each create, and each repeated prepay to get its code back, is a failed call
        view = await engine.payments.create_payment(TERMINAL, STORE, native_req(Channel.WECHAT))
        if view.state is PaymentState.FAILED:
            refused = view
            break
        assert view.state is PaymentState.UNKNOWN and len(unknown) < POLICY.failures
        unknown.append(view.out_trade_no)
    await engine.wait_idle()  # the repeated prepays give up while the breaker refuses calls
    assert unknown and engine.context.channel_states() == {"wechat": "open", "alipay": "closed"}
    breaker = engine.context.guards[Channel.WECHAT].breaker

    # New WeChat payments fail fast, without calling the gateway, and say what to do instead.
    assert refused.failure_reason == REFUSED
    assert [(a.outcome, a.detail) for a in attempts(rig, refused.out_trade_no)] == [
        ("failed", "CircuitOpen CIRCUIT_OPEN")
    ]
    wechat = {s.channel: s for s in engine.context.channel_status()}[Channel.WECHAT]
    assert (wechat.state, wechat.available, wechat.message) == ("open", False, REFUSED)
    assert wechat.retry_after_s is not None and wechat.retry_after_s > 0

    # Alipay is not held up.
    ali = await engine.payments.create_payment(TERMINAL, STORE, native_req(Channel.ALIPAY))
    assert ali.state is PaymentState.AWAITING_SCAN
    await rig.pay_qr(ali.code_url or "")
    await rig.step()
    assert (await engine.payments.find_payment(ali.out_trade_no)).state is PaymentState.PAID

    # The customer pays the QR shown before: its notification is applied while the breaker is open.
    await rig.pay_qr(shown.code_url or "")
    await rig.step()
    assert (await engine.payments.find_payment(shown.out_trade_no)).state is PaymentState.PAID

    # While open, the resolver leaves WeChat alone (no calls, nothing counted against the payments).
    calls = sum(len(attempts(rig, otn)) for otn in unknown)
    await engine.resolver.resolve_once()
    assert sum(len(attempts(rig, otn)) for otn in unknown) == calls
    # The probe finds WeChat still failing: the breaker waits twice as long (up to its longest wait;
    # on a loaded machine the background prepays may have probed and doubled it already).
    waited = breaker.retry_after_s()
    await rig.step(waited)
    await engine.resolver.resolve_once()
    assert engine.context.channel_states()["wechat"] == "open"
    assert breaker.retry_after_s() >= min(2 * waited, POLICY.max_open_s)

    await rig.clear_faults()
    await rig.step(breaker.retry_after_s())
    await engine.resolver.resolve_once()  # the probe is answered: closed, every payment settles by query
    assert engine.context.channel_states() == {"wechat": "closed", "alipay": "closed"}
    for otn in unknown:  # and each unanswered create got its QR back (the same prepay again)
        recovered = await engine.payments.find_payment(otn)
        assert recovered.state is PaymentState.AWAITING_SCAN and recovered.code_url
    again = await engine.payments.create_payment(TERMINAL, STORE, native_req(Channel.WECHAT))
    assert again.state is PaymentState.AWAITING_SCAN and again.code_url
    await rig.step(engine.context.timings.qr_lifetime.total_seconds() + 1)
    await engine.resolver.resolve_once()
    for otn in [*unknown, refused.out_trade_no, shown.out_trade_no, ali.out_trade_no, again.out_trade_no]:
        channel = Channel((await engine.payments.find_payment(otn)).channel)
        await assert_matches_truth(rig, channel, otn)
    assert await engine.reports.unsettled() == []
    await engine.aclose()


async def test_channels_and_breaker_states_through_the_engine_app(demo_settings: object) -> None:
    """GET /v1/channels (signed) and /metrics of the real engine app, WeChat failing every call."""
    from pos_app.config import Settings

    assert isinstance(demo_settings, Settings)
    late = _LateTransport()
    sandbox = make_sandbox_app(demo_settings, late)
    app = create_engine_app(demo_settings, provider_transport=httpx.ASGITransport(sandbox))
    late.target = httpx.ASGITransport(app)
    async with running(sandbox), running(app):
        stack = Stack(demo_settings, sandbox, app, httpx.AsyncClient())
        sandbox_http = httpx.AsyncClient(transport=httpx.ASGITransport(sandbox), base_url="http://sandbox.test")
        async with stack.client() as client, sandbox_http:
            await client.activate(stack.new_code(), STORE, TERMINAL, "Till 1")
            assert [(c.channel, c.state, c.available) for c in (await client.channels()).channels] == [
                (Channel.WECHAT, "closed", True),
                (Channel.ALIPAY, "closed", True),
            ]
            (
                await sandbox_http.post("/sandbox/faults", json={"kind": "server_error", "gateway": "wechat"})
            ).raise_for_status()
            for _ in range(BreakerPolicy().failures):
                await client.create_payment(native_req(Channel.WECHAT))
            channels = {c.channel: c for c in (await client.channels()).channels}
            assert (channels[Channel.WECHAT].state, channels[Channel.WECHAT].message) == ("open", REFUSED)
            assert channels[Channel.ALIPAY].available
            refused = await client.create_payment(native_req(Channel.WECHAT))
            assert (refused.state, refused.failure_reason) == (PaymentState.FAILED, REFUSED)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=ENGINE_URL) as raw:
                metrics = (await raw.get("/metrics")).text
                unsigned = await raw.get("/v1/channels")
        await stack.sandbox_http.aclose()
    assert 'pos_engine_breaker_state{channel="wechat"} 2.0' in metrics
    assert 'pos_engine_breaker_state{channel="alipay"} 0.0' in metrics
    assert unsigned.status_code == 401
