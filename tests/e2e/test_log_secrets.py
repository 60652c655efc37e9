"""A full sandbox day through real processes, then every log line is searched for secrets.

Secrets: any private key's material, the APIv3 key, the terminal's HMAC key and the signatures it
sent, RSA signatures (long Base64 runs), and full customer payment codes (only the last 4 digits may
appear). Logs: the engine's JSON log file (debug level) and both processes' console output.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from pos_app.api.client import EngineClient
from pos_app.api.schemas import CreatePayment, CreateRefund, PaymentView
from pos_app.config import load_settings
from pos_app.domain.ids import IdKind, make_trade_no
from pos_app.domain.routing import Channel, PaymentMode
from pos_app.domain.states import PaymentState
from pos_app.sandbox.demo import init_demo_profile

pytestmark = pytest.mark.slow
POS = [sys.executable, "-m", "pos_app"]
LONG_BASE64 = re.compile(r"[A-Za-z0-9+/]{120,}={0,2}")
#: A PIN no amount, time or id of the day contains, so that finding it in a log means the PIN leaked.
MANAGER_PIN = "73910582"


class RecordingTransport(httpx.AsyncHTTPTransport):
    """Keeps every X-Pos-Signature the terminal sent, to look for them in the logs afterwards."""

    def __init__(self) -> None:
        super().__init__()
        self.signatures: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if "x-pos-signature" in request.headers:
            self.signatures.append(request.headers["x-pos-signature"])
        return await super().handle_async_request(request)


def _start(home: Path, env: dict[str, str], name: str, args: list[str], health: str) -> subprocess.Popen[bytes]:
    log = open(home / f"{name}.console.log", "ab")  # noqa: SIM115 - closed when the process ends
    process = subprocess.Popen([*POS, *args], env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, (home / f"{name}.console.log").read_text()[-2000:]
        try:
            if httpx.get(health, timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{name} did not start")


def _key_material(home: Path) -> list[str]:
    """Slices of every private key's Base64 body and every symmetric key file."""
    secrets: list[str] = []
    for path in [*home.glob("keys/*"), *home.glob("sandbox-keys/*")]:
        text = path.read_text("ascii", errors="ignore")
        if "PRIVATE KEY" in text:
            body = "".join(line for line in text.splitlines() if not line.startswith("-----"))
            secrets += [body[i : i + 24] for i in range(0, len(body) - 24, 24)]
        elif path.suffix == ".key":
            secrets.append(text.strip())
    return secrets


async def _settle(client: EngineClient, out_trade_no: str, timeout: float = 60) -> PaymentView:
    deadline = time.monotonic() + timeout
    while True:
        view = await client.get_payment(out_trade_no)
        if (
            view.state
            not in {
                PaymentState.CREATED,
                PaymentState.SUBMITTED,
                PaymentState.USER_PAYING,
                PaymentState.UNKNOWN,
                PaymentState.AWAITING_SCAN,
            }
            or time.monotonic() > deadline
        ):
            return view
        await asyncio.sleep(0.3)


async def _day(home: Path, env: dict[str, str], recorder: RecordingTransport) -> tuple[list[str], bytes]:
    settings = load_settings(home / "pos.toml")
    code = subprocess.run([*POS, "engine", "activation-code"], env=env, capture_output=True, text=True, check=True)
    activation = code.stdout.strip().split()[-1]
    subprocess.run(
        [*POS, "engine", "manager", "add", "--store", "S00001", "--name", "Log Check", "--pin-stdin"],
        input=MANAGER_PIN + "\n",
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    sandbox = f"http://{settings.sandbox.listen}"
    auth_codes: list[str] = []
    seq = 0

    def number() -> str:
        nonlocal seq
        seq += 1
        return make_trade_no(IdKind.PAYMENT, store="S00001", terminal="T001", seq=seq, at=datetime.now())

    async with (
        EngineClient(settings.terminal.engine_url, "T001", None, transport=recorder) as client,
        httpx.AsyncClient(base_url=sandbox) as wallet,
    ):
        activated = await client.activate(activation, "S00001", "T001", "Till 1")
        for channel in (Channel.WECHAT, Channel.ALIPAY):
            native = await client.create_payment(
                CreatePayment(
                    out_trade_no=number(),
                    amount_fen=2350,
                    mode=PaymentMode.NATIVE,
                    channel=channel,
                    subject="Coffee",
                    operator="Ann",
                )
            )
            assert native.code_url
            (await wallet.post("/sandbox/pay", json={"qr": native.code_url})).raise_for_status()
            assert (await _settle(client, native.out_trade_no)).state == PaymentState.PAID
            for extra in ({}, {"password_seconds": 2}, {"balance_fen": 100}):
                issued = await wallet.post("/sandbox/authcodes", json={"channel": channel.value, **extra})
                issued.raise_for_status()
                auth_code = str(issued.json()["auth_code"])
                auth_codes.append(auth_code)
                otn = number()
                try:
                    await client.create_payment(
                        CreatePayment(
                            out_trade_no=otn,
                            amount_fen=1200,
                            mode=PaymentMode.MICROPAY,
                            auth_code=auth_code,
                            subject="Tea",
                            operator="Ann",
                        )
                    )
                except Exception as exc:  # a declined payment is part of the day
                    assert "balance" in str(exc).lower() or "enough" in str(exc).lower(), exc
                final = await _settle(client, otn)
                if not extra.get("balance_fen"):
                    assert final.state == PaymentState.PAID, final
                    refund_no = make_trade_no(
                        IdKind.REFUND, store="S00001", terminal="T001", seq=seq, at=datetime.now()
                    )
                    refund = CreateRefund(
                        out_refund_no=refund_no,
                        amount_fen=200,
                        reason="spilt",
                        operator="Ann",
                        approver="Log Check",
                        approver_pin=MANAGER_PIN,
                    )
                    await client.create_refund(otn, refund)
    return auth_codes, base64.urlsafe_b64decode(activated.terminal_key + "=" * (-len(activated.terminal_key) % 4))


def test_a_sandbox_day_leaves_no_secret_in_any_log(tmp_path: Path) -> None:
    home = init_demo_profile(tmp_path / "profile").home
    env = {
        **os.environ,
        "POS_HOME": str(home),
        "POS_ENGINE__LOG_FILE": "logs/engine.jsonl",
        "POS_ENGINE__RESOLVER_INTERVAL_S": "0.5",
        "PYTHONUNBUFFERED": "1",
    }
    settings = load_settings(home / "pos.toml")
    processes = [
        _start(home, env, "sandbox", ["sandbox", "serve"], f"http://{settings.sandbox.listen}/healthz"),
        _start(
            home, env, "engine", ["engine", "serve", "--log-level", "debug"], f"{settings.terminal.engine_url}/healthz"
        ),
    ]
    recorder = RecordingTransport()
    try:
        auth_codes, terminal_key = asyncio.run(_day(home, env, recorder))
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)

    json_log = home / "logs" / "engine.jsonl"
    assert json_log.exists()
    records = [json.loads(line) for line in json_log.read_text().splitlines()]
    assert len(records) > 10  # the day was logged, at debug level
    logs = {path.name: path.read_text(errors="replace") for path in [json_log, *home.glob("*.console.log")]}
    assert any("****" in text for text in logs.values()), "masked payment codes are expected in the logs"

    secrets = {
        **{f"key material {s[:6]}…": s for s in _key_material(home)},
        **{f"payment code …{c[-4:]}": c for c in auth_codes},
        **{f"request signature {s[:6]}…": s for s in recorder.signatures},
        "terminal key": base64.b64encode(terminal_key).decode(),
        "terminal key (url-safe)": base64.urlsafe_b64encode(terminal_key).decode().rstrip("="),
        "the approving manager's PIN": MANAGER_PIN,
    }
    assert len(auth_codes) == 6 and recorder.signatures
    for name, text in logs.items():
        for what, secret in secrets.items():
            assert secret not in text, f"{what} found in {name}"
        match = LONG_BASE64.search(text)
        assert match is None, f"a long Base64 run (a signature or key?) in {name}: {match.group()[:20]}…"
