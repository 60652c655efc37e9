"""`pos reconcile` as a person runs it: a real process, the sandbox on a real loopback socket."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import uvicorn

from pos_app.config import Settings
from pos_app.domain.china_time import CHINA_TZ
from pos_app.domain.routing import Channel
from pos_app.engine.providers import build_providers
from pos_app.engine.store import open_ledger
from pos_app.sandbox.app import create_app

ROOT = Path(__file__).resolve().parents[3]


def _pos(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pos_app", "reconcile", "--config", str(settings.home / "pos.toml"), *args],
        capture_output=True, text=True, timeout=240, cwd=ROOT,
    )  # fmt: skip


@pytest.fixture
def sandbox(engine_settings: Settings) -> Iterator[str]:
    host, port = engine_settings.sandbox.listen.rsplit(":", 1)
    server = uvicorn.Server(uvicorn.Config(create_app(engine_settings), host=host, port=int(port), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://{engine_settings.sandbox.listen}"
    for _ in range(200):
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    yield url
    server.should_exit = True
    thread.join(timeout=10)


async def test_pos_reconcile_prints_the_day_and_exits_zero(engine_settings: Settings, sandbox: str) -> None:
    open_ledger(engine_settings.database_url).dispose()  # an engine that has taken no payment yet
    code = httpx.post(f"{sandbox}/sandbox/authcodes", json={"channel": "wechat"}).json()["auth_code"]
    providers = build_providers(engine_settings)
    out_trade_no = f"P{int(time.time() * 1000)}CLI"
    try:
        result = await providers[Channel.WECHAT].micropay(
            out_trade_no=out_trade_no, amount_fen=1888, subject="Tea", auth_code=code, store_id="S00001",
            device_id="T001",
        )  # fmt: skip
    finally:
        for provider in providers.values():
            await provider.aclose()
    assert result.state.value == "PAID"
    day = datetime.now(CHINA_TZ).date().isoformat()

    done = _pos(engine_settings, "--date", day, "--format", "json", "--no-upload")

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    wechat = next(c for c in report["channels"] if c["channel"] == "wechat")
    assert (wechat["payments"], wechat["payments_fen"], wechat["ledger_payments"]) == (1, 1888, 0)
    assert [(i["kind"], i["out_trade_no"], i["bill_fen"]) for i in report["open_items"]] == [
        ("missing_locally", out_trade_no, 1888)
    ]
    alipay = next(c for c in report["channels"] if c["channel"] == "alipay")
    assert alipay["status"] == "ok" and alipay["payments"] == 0  # no Alipay bill: nothing was sold
    table = _pos(engine_settings, "--date", day, "--no-upload")
    assert table.returncode == 0 and "Open items (1):" in table.stdout and out_trade_no in table.stdout
    assert (engine_settings.home / "bills" / day / "wechatpay-tradebill-ALL.csv.gz").exists()


def test_pos_reconcile_fails_with_one_line_when_the_gateway_is_unreachable(engine_settings: Settings) -> None:
    done = _pos(engine_settings, "--date", "2026-01-05", "--format", "csv", "--no-upload")
    assert done.returncode == 1
    assert done.stdout.startswith("date,channel,status")
    last = done.stderr.strip().splitlines()
    assert len(last) == 1 and "incomplete" in last[0] and "Traceback" not in done.stderr


def test_pos_reconcile_refuses_a_bad_date(engine_settings: Settings) -> None:
    done = _pos(engine_settings, "--date", "21/11/2026")
    assert done.returncode == 2 and "YYYY-MM-DD" in done.stderr
