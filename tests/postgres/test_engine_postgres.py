"""The engine ledger on PostgreSQL: migrations, and several engine processes on one database.

Two (three) real engine processes receive the same notifications at the same moment and run their
resolvers at the same time: every payment makes each transition exactly once, every notification is
recorded once, and every process answers the gateway with an acknowledgement.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect, text
from sqlmodel import Session, func, select

from pos_app.api.schemas import CreatePayment
from pos_app.config import Settings, load_settings
from pos_app.domain.ids import IdKind, make_trade_no
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState
from pos_app.engine.providers import build_providers
from pos_app.engine.store import make_engine, open_ledger
from pos_app.engine.store.models import InboxNotification, Payment, StatusEvent
from pos_app.engine.wiring import build_use_cases
from pos_app.sandbox.app import create_app
from pos_app.sandbox.demo import init_demo_profile

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[2]
ENGINES = 3


def test_open_ledger_migrates_once_even_when_processes_start_together(pg_database: str) -> None:
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            open_ledger(pg_database).dispose()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    engine = make_engine(pg_database)
    tables = set(inspect(engine).get_table_names())
    assert {"payments", "attempts", "refunds", "notification_inbox", "status_events", "terminals"} <= tables
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    engine.dispose()


class Capture:
    """Stands in for the engine's notify endpoint while the test prepares: keeps the raw requests."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        channel = "wechat" if scope["path"].endswith("wechatpay") else "alipay"
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        self.requests.append({"channel": channel, "headers": headers, "body": base64.b64encode(body).decode()})
        await send({"type": "http.response.start", "status": 500, "headers": []})  # not acked: retried later
        await send({"type": "http.response.body", "body": b""})


async def prepare(settings: Settings, database_url: str) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """Create QR payments, pay them at the sandbox; keep their notifications undelivered to the ledger.

    Returns (payments paid with a notification, payments paid whose notification is dropped, requests).
    """
    capture = Capture()
    sandbox = create_app(settings, notify_transport=httpx.ASGITransport(app=capture))
    ctx = sandbox.state.ctx
    transport = httpx.ASGITransport(app=sandbox)
    providers = build_providers(settings, transport=transport)
    ledger = open_ledger(database_url)
    service = build_use_cases(ledger, providers, settings)
    notified: list[str] = []
    silent: list[str] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as customer:
        for i in range(12):
            channel = (Channel.WECHAT, Channel.ALIPAY)[i % 2]
            drop = i >= 8
            req = CreatePayment(
                out_trade_no=make_trade_no(
                    IdKind.PAYMENT, store="S00001", terminal="T001", seq=i + 1, at=datetime.now()
                ),
                amount_fen=100 + i,
                mode=PaymentMode.NATIVE,
                channel=channel,
                subject="pg test",
                operator="alice",
            )
            if drop:
                fault = {"kind": "notify_drop", "out_trade_no": req.out_trade_no}
                (await customer.post("/sandbox/faults", json=fault)).raise_for_status()
            view = await service.payments.create_payment("T001", "S00001", req)
            assert view.state == PaymentState.AWAITING_SCAN
            (await customer.post("/sandbox/pay", json={"qr": view.code_url})).raise_for_status()
            (silent if drop else notified).append(view.out_trade_no)
    await ctx.step()
    await service.aclose()
    for provider in providers.values():
        await provider.aclose()
    ledger.dispose()
    ctx.store.close()
    return notified, silent, capture.requests


def test_several_engine_processes_apply_each_transition_exactly_once(pg_database: str, tmp_path: Path) -> None:
    profile = init_demo_profile(tmp_path / "profile")
    settings = load_settings(profile.config)
    notified, silent, requests = asyncio.run(prepare(settings, pg_database))
    assert len(requests) == len(notified)
    requests_file = tmp_path / "requests.json"
    requests_file.write_text(json.dumps(requests + requests))  # and each delivered twice to every process

    start_at = time.time() + 8.0  # after every process has loaded its keys and opened its pool
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.postgres.engine_worker",
                "--home",
                str(profile.home),
                "--database-url",
                pg_database,
                "--requests",
                str(requests_file),
                "--start-at",
                str(start_at),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(ENGINES)
    ]
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))

    for result in results:
        assert all(200 <= status < 300 for status in result["acks"]), result
    # The silent ones were settled by the resolvers' queries, by exactly one process each.
    assert sum(r["settled"] for r in results) == len(silent)

    engine = make_engine(pg_database)
    with Session(engine) as session:
        payments = {p.out_trade_no: p for p in session.exec(select(Payment)).all()}
        assert {otn: payments[otn].state for otn in notified + silent} == {
            otn: PaymentState.PAID.value for otn in notified + silent
        }
        transitions = Counter(
            (e.out_trade_no, json.loads(e.payload)["payment"]["state"]) for e in session.exec(select(StatusEvent)).all()
        )
        for otn in notified + silent:
            assert transitions[(otn, "PAID")] == 1, otn
            assert transitions[(otn, "AWAITING_SCAN")] == 1, otn
            assert payments[otn].version == 3  # created, awaiting scan, paid: nothing applied twice
        inbox_rows = session.exec(select(func.count()).select_from(InboxNotification)).one()
        distinct = session.exec(
            select(func.count(func.distinct(InboxNotification.channel + ":" + InboxNotification.event_id)))
        ).one()
        assert inbox_rows == distinct == len(notified)
        ids = [e.id for e in session.exec(select(StatusEvent).order_by(StatusEvent.id)).all()]
        assert ids == sorted(set(ids))
    engine.dispose()
