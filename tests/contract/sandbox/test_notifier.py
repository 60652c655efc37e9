"""The generic notifier: real retry schedules divided by time_scale, per-gateway acknowledgement,
persistence across restarts."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from pos_app.sandbox.clock import ManualClock
from pos_app.sandbox.faults import FaultRegistry
from pos_app.sandbox.notifier import ALIPAY_RETRY_S, WECHAT_RETRY_S, Notifier, is_acknowledged
from pos_app.sandbox.store import SandboxStore
from tests.contract.sandbox.conftest import Receiver

T0 = 1_800_000_000.0


def test_the_documented_schedules() -> None:
    minute, hour = 60, 3600
    wechat = (
        15,
        15,
        30,
        3 * minute,
        10 * minute,
        20 * minute,
        30 * minute,
        30 * minute,
        30 * minute,
        hour,
        3 * hour,
        3 * hour,
        3 * hour,
        6 * hour,
        6 * hour,
    )
    alipay = (4 * minute, 10 * minute, 10 * minute, hour, 2 * hour, 6 * hour, 15 * hour)
    assert (wechat, alipay) == (WECHAT_RETRY_S, ALIPAY_RETRY_S)


def test_acknowledgement_rules() -> None:
    assert is_acknowledged("wechat", 200, b"") and is_acknowledged("wechat", 204, b"")
    assert not is_acknowledged("wechat", 202, b"") and not is_acknowledged("wechat", 500, b"")
    assert is_acknowledged("alipay", 200, b"success")
    for body in (b"SUCCESS", b"success\n", b" success", b"fail", b""):
        assert not is_acknowledged("alipay", 200, body)
    assert not is_acknowledged("alipay", 500, b"success")


def _notifier(tmp_path: Path, receiver: Receiver, clock: ManualClock, scale: float) -> Notifier:
    store = SandboxStore(tmp_path / "state.sqlite3")
    return Notifier(store, clock, FaultRegistry(), time_scale=scale, transport=httpx.ASGITransport(receiver.app()))


async def _run_to_the_end(notifier: Notifier, clock: ManualClock) -> list[float]:
    """Jump from due time to due time until nothing is pending; returns the attempt times."""
    times = []
    while (due := notifier.next_due_at()) is not None:
        clock.set(max(due, clock.now()))
        times.append(clock.now())
        assert await notifier.deliver_due() == 1
    return times


@pytest.mark.parametrize(("gateway", "schedule"), [("wechat", WECHAT_RETRY_S), ("alipay", ALIPAY_RETRY_S)])
async def test_full_schedule_scaled(tmp_path: Path, gateway: str, schedule: tuple[int, ...]) -> None:
    receiver, clock = Receiver(default=500), ManualClock(T0)
    notifier = _notifier(tmp_path, receiver, clock, scale=3600)
    [nid] = notifier.enqueue(gateway=gateway, url=f"http://merchant.test/notify/{gateway}", body=b"{}")
    times = await _run_to_the_end(notifier, clock)
    gaps = [round(b - a, 6) for a, b in zip(times, times[1:], strict=False)]
    assert gaps == [round(s / 3600, 6) for s in schedule]
    assert len(receiver.received) == len(schedule) + 1
    [record] = notifier.list()
    assert (record.id, record.state, record.attempts, record.last_status) == (nid, "failed", len(schedule) + 1, 500)
    attempts = notifier.attempts(nid)
    assert len(attempts) == len(schedule) + 1 and not any(a.acknowledged for a in attempts)


async def test_alipay_needs_the_exact_body(tmp_path: Path) -> None:
    receiver, clock = Receiver(), ManualClock(T0)
    receiver.alipay_bodies = [b"SUCCESS", b"ok"]  # then b"success"
    notifier = _notifier(tmp_path, receiver, clock, scale=1)
    notifier.enqueue(
        gateway="alipay",
        url="http://merchant.test/notify/alipay",
        body=b"trade_status=TRADE_SUCCESS",
        content_type="application/x-www-form-urlencoded; charset=utf-8",
        event="TRADE_SUCCESS",
    )
    times = await _run_to_the_end(notifier, clock)
    assert [t - T0 for t in times] == [0, 240, 840]
    assert notifier.list()[0].state == "delivered"
    headers, body = receiver.received[0]
    assert body == b"trade_status=TRADE_SUCCESS"
    assert headers["content-type"] == "application/x-www-form-urlencoded; charset=utf-8"


async def test_preparer_makes_each_attempt(tmp_path: Path) -> None:
    receiver, clock = Receiver(answers=[500]), ManualClock(T0)
    notifier = _notifier(tmp_path, receiver, clock, scale=1)
    notifier.register_preparer("wechat", lambda rec, now: (rec.body + b"!", {"X-Attempt-Time": str(int(now))}))
    notifier.enqueue(gateway="wechat", url="http://merchant.test/notify/wechat", body=b"{}")
    await _run_to_the_end(notifier, clock)
    assert [(h["x-attempt-time"], b) for h, b in receiver.received] == [
        (str(int(T0)), b"{}!"),
        (str(int(T0) + 15), b"{}!"),
    ]


async def test_pending_notifications_survive_a_restart(tmp_path: Path) -> None:
    receiver, clock = Receiver(answers=[503]), ManualClock(T0)
    first = _notifier(tmp_path, receiver, clock, scale=1)
    first.enqueue(gateway="wechat", url="http://merchant.test/notify/wechat", body=b'{"n":1}')
    await first.deliver_due()
    # A crash in the middle of a delivery leaves a row 'sending'; it must be sent again.
    first.enqueue(gateway="wechat", url="http://merchant.test/notify/wechat", body=b'{"n":2}')
    first.store.execute("UPDATE notifications SET state = 'sending' WHERE body = ?", (b'{"n":2}',))
    first.store.close()

    second = _notifier(tmp_path, receiver, clock, scale=1)
    assert {r.state for r in second.list()} == {"pending"}
    clock.advance(15)
    assert await second.deliver_due() == 2
    assert [r.state for r in second.list()] == ["delivered", "delivered"]
    # In due order: the interrupted one (due since T0) before the retry (due at T0+15).
    assert [b for _, b in receiver.received] == [b'{"n":1}', b'{"n":2}', b'{"n":1}']


async def test_unreachable_receiver_counts_as_a_failure(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    store = SandboxStore(tmp_path / "state.sqlite3")

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    notifier = Notifier(store, clock, FaultRegistry(), transport=httpx.MockTransport(refuse))
    [nid] = notifier.enqueue(gateway="wechat", url="http://merchant.test/notify/wechat", body=b"{}")
    await notifier.deliver_due()
    [record] = notifier.list()
    assert record.state == "pending" and record.next_at == T0 + 15
    assert record.last_error is not None and "ConnectError" in record.last_error
    assert notifier.attempts(nid)[0].status is None
