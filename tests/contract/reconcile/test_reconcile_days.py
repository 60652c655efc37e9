"""Days built in the sandbox, reconciled end to end: real SQLite ledger, the real use cases, the
sandbox's own bills (WeChat CSV behind SHA1, Alipay GBK ZIP) over httpx.ASGITransport, the HQ
receiver for the upload. Every kind of difference is injected; each must be classified as what it
is, and nothing else may be flagged.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import secrets
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from pos_app.api.schemas import CreateRefund
from pos_app.config import Settings
from pos_app.domain.chain import GENESIS_HASH, event_hash
from pos_app.domain.china_time import CHINA_TZ
from pos_app.domain.routing import Channel
from pos_app.domain.states import PaymentState
from pos_app.engine.crypto.sealing import LEDGER_KEY_BYTES, KeySealer
from pos_app.engine.reconcile import DownloadPolicy, UploadError, UploadPolicy, reconcile_day, upload_report
from pos_app.engine.reconcile.download import archive_path
from pos_app.engine.reconcile.runner import Paths, read_state, run_scheduler
from pos_app.engine.store import repo
from pos_app.engine.store.synced_journal import IncomingEvent
from pos_app.engine.store.terminals import TerminalRegistry
from tests.contract.engine.conftest import APPROVAL, Rig, make_rig, micropay_req, native_req, new_trade_no

TERMINAL, STORE = "T001", "S00001"


@pytest.fixture
async def day_rig(engine_settings: Settings) -> AsyncIterator[Rig]:
    r = make_rig(engine_settings)
    # Noon, Beijing time, yesterday: the day's trading happens well inside one bill day, and the
    # reconciliation runs the next morning (Alipay offers a day's bill once the day is over).
    yesterday = datetime.now(CHINA_TZ).date() - timedelta(days=1)
    r.time.t = datetime.combine(yesterday, time(12, 0), CHINA_TZ).timestamp()
    yield r
    await r.engine.aclose()
    await r.sandbox.aclose()
    for provider in r.providers.values():
        await provider.aclose()
    r.ledger.dispose()


def _today(rig: Rig) -> date:
    return rig.time().astimezone(CHINA_TZ).date()


async def _next_morning(rig: Rig, day: date) -> None:
    """10:30 the next day, when the bills are ready."""
    target = datetime.combine(day + timedelta(days=1), time(10, 30), CHINA_TZ).timestamp()
    if rig.time.t < target:
        await rig.step(target - rig.time.t)


async def _micropay(rig: Rig, channel: Channel, amount: int) -> str:
    code = await rig.authcode(channel.value)
    view = await rig.engine.payments.create_payment(TERMINAL, STORE, micropay_req(code, amount))
    assert view.state is PaymentState.PAID, view
    return view.out_trade_no


async def _native_paid(rig: Rig, channel: Channel, amount: int) -> str:
    view = await rig.engine.payments.create_payment(TERMINAL, STORE, native_req(channel, amount))
    assert view.code_url
    await rig.pay_qr(view.code_url)
    await rig.step(1)
    assert (await rig.engine.payments.find_payment(view.out_trade_no)).state is PaymentState.PAID
    return view.out_trade_no


async def _refund(rig: Rig, out_trade_no: str, amount: int) -> str:
    number = new_trade_no("R")
    req = CreateRefund(out_refund_no=number, amount_fen=amount, reason="", operator="manager", **APPROVAL)
    await rig.engine.refunds.create_refund(TERMINAL, out_trade_no, req)
    for _ in range(20):
        await rig.step(30)
        with Session(rig.ledger) as session:
            refund = repo.get_refund(session, number)
            assert refund is not None
            if refund.state == "SUCCESS":
                return number
        await rig.engine.resolver.resolve_once()
    raise AssertionError("refund did not succeed")


def _sync_journal(rig: Rig, day: date, numbers: list[str], *, skip: set[str] = frozenset()) -> None:  # type: ignore[assignment]
    """What terminal T001 syncs: one hash-chained event per payment, with its sale snapshot."""
    events: list[IncomingEvent] = []
    prev = GENESIS_HASH
    with Session(rig.ledger) as session:
        payments = [repo.get_payment(session, n) for n in numbers if n not in skip]
    for seq, payment in enumerate(payments, start=1):
        assert payment is not None
        payload: dict[str, Any] = {
            "cashier": "alice",
            "out_trade_no": payment.out_trade_no,
            "sale": {
                "out_trade_no": payment.out_trade_no,
                "terminal_id": payment.terminal_id,
                "channel": payment.channel,
                "amount_fen": payment.amount_fen,
                "state": payment.state,
                "business_day": day.isoformat(),
            },
        }
        at = rig.time()
        at_text = at.isoformat(timespec="microseconds")
        digest = event_hash(seq=seq, kind="payment.state", payload=payload, at=at_text, prev_hash=prev)
        events.append(IncomingEvent(seq, "payment.state", payload, at, prev, digest))
        prev = digest
    registry = TerminalRegistry(rig.ledger, KeySealer(secrets.token_bytes(LEDGER_KEY_BYTES)), clock=rig.time)
    registry.create_tables()
    assert registry.store_journal_events(TERMINAL, events) == len(events)


def _duplicate_wechat_line(path: Any, out_trade_no: str) -> None:
    """Repeat one detail line of the archived WeChat bill, with the summary kept consistent."""
    lines = gzip.decompress(path.read_bytes()).decode("utf-8").split("\r\n")
    row = next(line for line in lines if f",`{out_trade_no}," in line and ",`SUCCESS," in line)
    fields = row[1:].split(",`")
    lines.insert(lines.index(row) + 1, row)
    summary = lines[-2][1:].split(",`")
    cents = lambda s: int(s.replace(".", "").replace("-", "")) * (-1 if s.startswith("-") else 1)  # noqa: E731
    yuan = lambda v: f"{'-' if v < 0 else ''}{abs(v) // 100}.{abs(v) % 100:02d}"  # noqa: E731
    summary[0] = str(int(summary[0]) + 1)
    summary[1] = yuan(cents(summary[1]) + cents(fields[12]))
    fee = int(summary[4].replace(".", "")) + int(fields[22].replace(".", ""))
    summary[4] = f"{fee // 100000}.{fee % 100000:05d}"
    summary[5] = yuan(cents(summary[5]) + cents(fields[24]))
    lines[-2] = "`" + ",`".join(summary)
    data = "\r\n".join(lines).encode("utf-8")
    path.write_bytes(gzip.compress(data))
    path.with_name(path.name + ".sha1").write_text(hashlib.sha1(data).hexdigest() + "\n")


def _sandbox_transport(rig: Rig) -> httpx.AsyncBaseTransport:
    """The sandbox app's in-process transport (the HQ receiver lives there too)."""
    transport: httpx.AsyncBaseTransport = rig.sandbox._transport  # noqa: SLF001
    return transport


async def _reconcile(rig: Rig, day: date, **kwargs: Any) -> Any:
    await _next_morning(rig, day)
    return await reconcile_day(
        rig.settings,
        day,
        engine=rig.ledger,
        providers=rig.providers,
        transport=_sandbox_transport(rig),
        download_policy=DownloadPolicy.instant(),
        upload_policy=UploadPolicy.instant(),
        now=rig.time(),
        **kwargs,
    )


def _found(report: Any) -> list[tuple[str, str, str]]:
    return sorted((i.channel.value, i.kind.value, i.out_refund_no or i.out_trade_no) for i in report.items)


async def test_a_clean_day_flags_nothing(day_rig: Rig) -> None:
    rig, day = day_rig, _today(day_rig)
    numbers = [
        await _micropay(rig, Channel.WECHAT, 1230),
        await _native_paid(rig, Channel.WECHAT, 2500),
        await _micropay(rig, Channel.ALIPAY, 800),
        await _native_paid(rig, Channel.ALIPAY, 4200),
    ]
    await _refund(rig, numbers[0], 230)
    await _refund(rig, numbers[2], 800)
    _sync_journal(rig, day, numbers)

    report = await _reconcile(rig, day, upload=False)

    assert report.complete, [(c.channel, c.status, c.problem) for c in report.channels]
    assert report.journals_compared
    assert report.items == []
    by_channel = {c.channel: c for c in report.channels}
    wechat, alipay = by_channel[Channel.WECHAT], by_channel[Channel.ALIPAY]
    assert (wechat.payments, wechat.payments_fen, wechat.refunds, wechat.refunds_fen) == (2, 3730, 1, 230)
    assert (alipay.payments, alipay.payments_fen, alipay.refunds, alipay.refunds_fen) == (2, 5000, 1, 800)
    assert wechat.ledger_payments_fen == 3730 and alipay.ledger_payments_fen == 5000
    # WeChat's fee is 0.60 % rounded per row (sandbox): 7 + 15 - 1 fen.
    assert wechat.fee_fen == 21 and wechat.net_fen == 3730 - 230 - 21
    # The raw files are archived under the engine home.
    assert archive_path(Paths.of(rig.settings).bills, day, Channel.WECHAT).exists()
    assert archive_path(Paths.of(rig.settings).bills, day, Channel.ALIPAY).exists()
    stored = json.loads((Paths.of(rig.settings).day_dir(day) / "report.json").read_text("utf-8"))
    assert stored["open_items"] == [] and stored["complete"] is True


async def test_every_injected_difference_is_classified_and_nothing_else(day_rig: Rig) -> None:
    rig, day = day_rig, _today(day_rig)
    clean = [await _micropay(rig, Channel.WECHAT, 1000), await _micropay(rig, Channel.ALIPAY, 1100)]

    # 1. A lost notification: the customer paid the QR, the gateway's notification never came.
    lost = {}
    for channel in (Channel.WECHAT, Channel.ALIPAY):
        view = await rig.engine.payments.create_payment(TERMINAL, STORE, native_req(channel, 3300))
        await rig.fault(kind="notify_drop", out_trade_no=view.out_trade_no)
        assert view.code_url
        await rig.pay_qr(view.code_url)
        await rig.step(1)
        assert (await rig.engine.payments.find_payment(view.out_trade_no)).state is PaymentState.AWAITING_SCAN
        lost[channel] = view.out_trade_no

    # 2. A payment the terminal never synced.
    unsynced = await _micropay(rig, Channel.ALIPAY, 700)

    # 3. A refund made outside the store (straight at the gateway, e.g. the merchant platform).
    outside_trade = await _micropay(rig, Channel.WECHAT, 5000)
    outside_refund = new_trade_no("R")
    await rig.providers[Channel.WECHAT].refund(
        out_trade_no=outside_trade, out_refund_no=outside_refund, amount_fen=1000, total_fen=5000,
        reason="platform", notify_url=None,
    )  # fmt: skip
    await rig.step(120)

    # 4. An amount altered in the bill (the gateway's record says 1 fen more).
    altered = await _micropay(rig, Channel.ALIPAY, 2000)
    rig.ctx.store.execute("UPDATE alipay_trades SET total_fen = total_fen + 1 WHERE out_trade_no = ?", (altered,))

    # 5. A duplicated bill line.
    duplicated = await _micropay(rig, Channel.WECHAT, 600)

    all_numbers = [*clean, *lost.values(), unsynced, outside_trade, altered, duplicated]
    _sync_journal(rig, day, all_numbers, skip={unsynced})
    # Download first, then duplicate a line of the archived WeChat bill.
    await _reconcile(rig, day, apply=False, upload=False)
    path = archive_path(Paths.of(rig.settings).bills, day, Channel.WECHAT)
    _duplicate_wechat_line(path, duplicated)

    report = await _reconcile(rig, day, upload=False)

    assert _found(report) == sorted(
        [
            ("wechat", "settled_from_bill", lost[Channel.WECHAT]),
            ("alipay", "settled_from_bill", lost[Channel.ALIPAY]),
            ("alipay", "missing_locally", unsynced),
            ("wechat", "refund_differs", outside_refund),
            ("alipay", "amount_differs", altered),
            ("wechat", "duplicate_in_bill", duplicated),
        ]
    )
    items = {(i.kind.value, i.out_refund_no or i.out_trade_no): i for i in report.items}
    assert items[("missing_locally", unsynced)].missing_from == "journal"
    assert items[("refund_differs", outside_refund)].missing_from == "ledger"
    amount = items[("amount_differs", altered)]
    assert (amount.bill_fen, amount.ledger_fen) == (2001, 2000)
    # What the bill proved is now in the ledger, with a status event for the terminal.
    for number in lost.values():
        view = await rig.engine.payments.find_payment(number)
        assert view.state is PaymentState.PAID and view.paid_at is not None
        assert view.paid_at.astimezone(CHINA_TZ).date() == day
    assert len(report.open_items) == 4

    # Reconciling again: the settled payments now simply match; the open items stay.
    again = await _reconcile(rig, day, upload=False)
    assert [i for i in again.items if not i.is_open] == []
    assert sorted((i.kind.value, i.out_refund_no or i.out_trade_no) for i in again.open_items) == sorted(
        (i.kind.value, i.out_refund_no or i.out_trade_no) for i in report.open_items
    )


async def test_a_malformed_bill_is_rejected_whole_and_downloaded_again(day_rig: Rig) -> None:
    rig, day = day_rig, _today(day_rig)
    await _micropay(rig, Channel.WECHAT, 1000)
    await _micropay(rig, Channel.ALIPAY, 1000)
    await _reconcile(rig, day, apply=False, upload=False)
    path = archive_path(Paths.of(rig.settings).bills, day, Channel.WECHAT)
    text = gzip.decompress(path.read_bytes()).decode("utf-8").replace("`10.00,", "`10.0x,", 1)
    path.write_bytes(gzip.compress(text.encode("utf-8")))

    report = await _reconcile(rig, day, upload=False)

    wechat = next(c for c in report.channels if c.channel is Channel.WECHAT)
    assert wechat.status == "failed" and wechat.problem and "line 2" in wechat.problem
    assert not report.complete and report.items == []
    assert list(path.parent.glob("*.rejected-*"))
    # The next run downloads a fresh copy and completes.
    assert (await _reconcile(rig, day, upload=False)).complete


async def test_no_bill_is_an_empty_day_only_when_the_ledger_agrees(day_rig: Rig) -> None:
    rig = day_rig
    # Three days ago nothing happened anywhere: "no bill" is an empty day, reconciled.
    quiet = await _reconcile(rig, _today(rig) - timedelta(days=3), upload=False)
    assert quiet.complete and {c.status for c in quiet.channels} == {"ok"} and quiet.items == []
    # Today the engine took an Alipay payment, and Alipay has no bill for today yet: not ready.
    await rig.step(86400)
    today = _today(rig)
    await _micropay(rig, Channel.ALIPAY, 1000)
    report = await reconcile_day(
        rig.settings, today, engine=rig.ledger, providers=rig.providers, download_policy=DownloadPolicy.instant(),
        upload=False, now=rig.time(),
    )  # fmt: skip
    alipay = next(c for c in report.channels if c.channel is Channel.ALIPAY)
    assert alipay.status == "not_ready" and not report.complete
    assert read_state(rig.settings, today)["complete"] is False


async def test_upload_to_hq_is_signed_idempotent_and_recorded(day_rig: Rig) -> None:
    rig, day = day_rig, _today(day_rig)
    key_file = rig.settings.home / "keys" / "hq_upload.key"
    key_file.write_bytes(b"hq-demo-upload-key")
    rig.settings.upload.hmac_key_file = key_file
    await _micropay(rig, Channel.WECHAT, 1000)
    await _micropay(rig, Channel.ALIPAY, 1000)

    report = await _reconcile(rig, day)

    assert report.complete
    state = read_state(rig.settings, day)
    assert state["upload"]["status"] == "delivered" and state["upload"]["duplicate"] is False
    batch = state["upload"]["batch_id"]
    received = (await rig.sandbox.get(f"/hq/uploads/{batch}")).json()
    assert received["date"] == day.isoformat() and received["complete"] is True
    # The same content again is the same batch: HQ acknowledges it as a duplicate.
    await _reconcile(rig, day)
    again = read_state(rig.settings, day)
    assert again["upload"]["batch_id"] == batch and again["upload"]["duplicate"] is True
    assert again["runs"] == 2
    listed = (await rig.sandbox.get("/hq/uploads")).json()
    assert [u["batch_id"] for u in listed] == [batch]
    # An engine signing with another key: HQ refuses (401), not retried, reported.
    other = rig.settings.home / "keys" / "other.key"
    other.write_bytes(b"not-the-hq-key")
    wrong = rig.settings.model_copy(deep=True)
    wrong.upload.hmac_key_file = other
    report.channels[0].matched += 1  # other content, so a new batch id
    with pytest.raises(UploadError, match="refused"):
        await upload_report(wrong, report, transport=_sandbox_transport(rig), policy=UploadPolicy.instant())


async def test_upload_to_a_directory(day_rig: Rig, tmp_path: Any) -> None:
    rig, day = day_rig, _today(day_rig)
    rig.settings.upload.url = None
    rig.settings.upload.dir = tmp_path / "hq"
    await _micropay(rig, Channel.WECHAT, 1000)
    await _micropay(rig, Channel.ALIPAY, 1000)
    await _reconcile(rig, day)
    state = read_state(rig.settings, day)
    assert state["upload"]["status"] == "delivered"
    batch = state["upload"]["batch_id"]
    assert json.loads((tmp_path / "hq" / f"{batch}.json").read_text("utf-8"))["date"] == day.isoformat()
    assert (tmp_path / "hq" / f"{batch}.csv").read_text("utf-8").startswith("date,channel,status")


async def test_scheduler_runs_yesterday_after_ten_and_stops(day_rig: Rig) -> None:
    import asyncio

    rig = day_rig
    calls: list[date] = []
    stop = asyncio.Event()
    now = datetime.combine(_today(rig), time(10, 30), CHINA_TZ)

    async def fake_reconcile(settings: Settings, day: date) -> Any:
        calls.append(day)
        stop.set()
        return await _reconcile(rig, day, upload=False)

    await asyncio.wait_for(
        run_scheduler(rig.settings, stop=stop, clock=lambda: now, reconcile=fake_reconcile), timeout=30
    )
    assert calls == [_today(rig) - timedelta(days=1)]
    assert read_state(rig.settings, calls[0])["runs"] == 1
