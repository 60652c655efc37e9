"""Benchmark: WeChat Pay notification throughput over real HTTP on loopback.

Two servers get the same load (N signed, encrypted TRANSACTION.SUCCESS notifications for existing
native orders plus 10 % duplicates, C concurrent senders):

- the engine (`pos engine serve`): /notify/wechatpay verifies the signature over the raw bytes and
  the time window, decrypts, records the event in the durable inbox (deduplicated), applies it to
  the payment through the state machine, then acknowledges;
- a reference handler on Starlette built from the public `wechatpayv3` SDK (`WeChatPay.callback`
  verifies and decrypts), deduplicating with INSERT OR IGNORE and updating the order row in one
  SQLite transaction (WAL, synchronous=FULL, like the engine) before answering 204.

The load generator is a minimal keep-alive HTTP/1.1 client on asyncio streams (requests pre-built),
the same for both servers, so that the client's own CPU does not cap the figures. After each run
every acknowledged notification is checked in the server's database (all orders PAID, one inbox row
per distinct event, all applied). Prints notifications/s, p50/p99 latency, the server process's CPU
time per notification (all threads, from /proc) and the throughput ratio. The machine may be shared:
compare the two servers of the same run, and run it several times.

    .venv/bin/python tests/bench/bench_notify.py [--n 2000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pos_app.config import Settings, load_settings  # noqa: E402
from pos_app.domain.china_time import CHINA_TZ  # noqa: E402
from pos_app.engine.crypto.aead import encrypt_resource  # noqa: E402
from pos_app.engine.crypto.keys import load_private_key  # noqa: E402
from pos_app.engine.crypto.rsa import sign_sha256_rsa  # noqa: E402
from pos_app.sandbox.demo import free_loopback_port, init_demo_profile  # noqa: E402

# --- the reference server (run in its own process: `bench_notify.py --reference ...`) -----------


def reference_app(profile: Path, db_path: Path) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route
    from wechatpayv3 import WeChatPay, WeChatPayType

    settings = load_settings(profile / "pos.toml")
    wx = settings.wechatpay
    pay = WeChatPay(
        wechatpay_type=WeChatPayType.NATIVE,
        mchid=wx.mchid,
        private_key=settings.path(wx.merchant_private_key).read_text(),
        cert_serial_no=wx.merchant_serial_no,
        appid=wx.appid,
        apiv3_key=settings.path(wx.apiv3_key_file).read_text().strip(),
        notify_url=settings.engine.public_url + "/notify/wechatpay",
        public_key=settings.path(wx.platform_public_key or Path("x")).read_text(),
        public_key_id=wx.platform_public_key_id,
    )
    db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    lock = __import__("threading").Lock()

    def store(event_id: str, resource: dict[str, Any], body: bytes) -> None:
        with lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                inserted = db.execute(
                    "INSERT OR IGNORE INTO inbox (event_id, out_trade_no, body) VALUES (?, ?, ?)",
                    (event_id, resource["out_trade_no"], body),
                ).rowcount
                if inserted:
                    db.execute(
                        "UPDATE orders SET state = 'PAID', transaction_id = ? WHERE out_trade_no = ? "
                        "AND state != 'PAID'",
                        (resource.get("transaction_id"), resource["out_trade_no"]),
                    )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    async def notify(request: Request) -> Response:
        body = await request.body()
        try:
            result = pay.callback(dict(request.headers), body)
        except Exception:
            result = None
        if not result or not isinstance(result.get("resource"), dict):
            return JSONResponse({"code": "FAIL", "message": "失败"}, status_code=400)
        await asyncio.to_thread(store, result["id"], result["resource"], body)
        return Response(status_code=204)

    return Starlette(routes=[Route("/notify/wechatpay", notify, methods=["POST"])])


def reference_db(path: Path, orders: list[str]) -> None:
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE orders (out_trade_no TEXT PRIMARY KEY, state TEXT, transaction_id TEXT)")
        db.execute("CREATE TABLE inbox (event_id TEXT PRIMARY KEY, out_trade_no TEXT, body BLOB)")
        db.executemany("INSERT INTO orders VALUES (?, 'NOTPAY', NULL)", [(o,) for o in orders])


# --- load --------------------------------------------------------------------------------------


@dataclass
class Notification:
    event_id: str
    out_trade_no: str
    headers: dict[str, str]
    body: bytes


def make_notifications(settings: Settings, orders: list[str], amount_fen: int) -> list[Notification]:
    """Signed and encrypted exactly as the gateway does (spec §2/§3), with the sandbox's keys."""
    wx = settings.wechatpay
    signer = load_private_key(settings.path(settings.sandbox.keys_dir) / "wechat_pay_private.pem")
    apiv3 = settings.path(wx.apiv3_key_file).read_bytes().strip()
    now = datetime.now(CHINA_TZ)
    out: list[Notification] = []
    for i, otn in enumerate(orders):
        transaction = {
            "appid": wx.appid, "mchid": wx.mchid, "out_trade_no": otn,
            "transaction_id": f"4200{i:024d}", "trade_type": "NATIVE", "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功", "bank_type": "OTHERS", "attach": "",
            "success_time": now.isoformat(timespec="seconds"), "payer": {"openid": "oBench" + secrets.token_hex(8)},
            "amount": {"total": amount_fen, "payer_total": amount_fen, "currency": "CNY", "payer_currency": "CNY"},
        }  # fmt: skip
        nonce = secrets.token_hex(6)
        envelope = {
            "id": f"EV-{secrets.token_hex(12)}", "create_time": now.isoformat(timespec="seconds"),
            "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
            "resource": {
                "original_type": "transaction", "algorithm": "AEAD_AES_256_GCM", "associated_data": "transaction",
                "nonce": nonce,
                "ciphertext": encrypt_resource(apiv3, nonce, "transaction", json.dumps(transaction).encode()),
            },
        }  # fmt: skip
        body = json.dumps(envelope, ensure_ascii=False).encode()
        ts, header_nonce = str(int(time.time())), secrets.token_hex(16)
        signature = sign_sha256_rsa(signer, f"{ts}\n{header_nonce}\n".encode() + body + b"\n")
        headers = {
            "Content-Type": "application/json", "Wechatpay-Timestamp": ts, "Wechatpay-Nonce": header_nonce,
            "Wechatpay-Signature": signature, "Wechatpay-Serial": wx.platform_public_key_id,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048", "Request-ID": secrets.token_hex(8),
        }  # fmt: skip
        out.append(Notification(envelope["id"], otn, headers, body))  # type: ignore[arg-type]
    return out


def _request_bytes(host: str, path: str, item: Notification) -> bytes:
    head = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(item.body)}"]
    head += [f"{k}: {v}" for k, v in item.headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + item.body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
        elif name.strip().lower() == "transfer-encoding":
            raise RuntimeError("chunked responses are not expected here")
    body = await reader.readexactly(length) if length else b""
    return status, body


async def fire(url: str, items: list[Notification], concurrency: int) -> tuple[float, list[float], int]:
    """Send everything with ``concurrency`` keep-alive connections; returns (seconds, latencies, acked).

    A minimal HTTP/1.1 client on asyncio streams (requests pre-built): the load generator shares the
    machine with the server under test, so it must cost as little CPU as possible (httpx spent more
    CPU per request than the servers did, and capped both at the same rate).
    """
    parsed = httpx.URL(url)
    host, port, path = parsed.host, parsed.port or 80, parsed.raw_path.decode()
    requests = [_request_bytes(f"{host}:{port}", path, item) for item in items]
    next_index = 0
    latencies: list[float] = []
    acked = 0

    async def worker() -> None:
        nonlocal acked, next_index
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while next_index < len(requests):
                request = requests[next_index]
                next_index += 1
                started = time.perf_counter()
                writer.write(request)
                status, body = await _read_response(reader)
                latencies.append(time.perf_counter() - started)
                if status in (200, 204):
                    acked += 1
                else:
                    raise RuntimeError(f"{url}: {status} {body[:200]!r}")
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, acked


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(log.read_text()[-3000:])
        try:
            httpx.post(url, content=b"{}", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def seed_engine_orders(settings: Settings, orders: list[str], amount_fen: int) -> None:
    """Native orders awaiting a scan, written straight into the ledger (as the engine would have)."""
    from sqlmodel import Session

    from pos_app.engine.store.db import make_engine
    from pos_app.engine.store.models import Payment

    now = datetime.now(UTC)
    engine = make_engine(settings.database_url)
    with Session(engine) as session:
        for otn in orders:
            session.add(
                Payment(
                    out_trade_no=otn, terminal_id="T001", store_id="S00001", channel="wechat", mode="native",
                    amount_fen=amount_fen, subject="Bench", operator="bench", state="AWAITING_SCAN",
                    business_day=now.astimezone(CHINA_TZ).date().isoformat(), code_url="weixin://wxpay/bizpayurl?pr=x",
                    expires_at=now + timedelta(hours=2), created_at=now, updated_at=now,
                )
            )  # fmt: skip
        session.commit()
    engine.dispose()


def check_engine(settings: Settings, orders: list[str], distinct_events: int) -> None:
    with sqlite3.connect(settings.database_url.removeprefix("sqlite:///")) as db:
        paid = db.execute("SELECT COUNT(*) FROM payments WHERE state = 'PAID'").fetchone()[0]
        inbox = db.execute("SELECT COUNT(*), COUNT(applied_at) FROM notification_inbox").fetchone()
    assert paid == len(orders), f"engine: {paid} of {len(orders)} orders PAID"
    assert inbox == (distinct_events, distinct_events), f"engine inbox rows (total, applied) = {inbox}"


def check_reference(path: Path, orders: list[str], distinct_events: int) -> None:
    with sqlite3.connect(path) as db:
        paid = db.execute("SELECT COUNT(*) FROM orders WHERE state = 'PAID'").fetchone()[0]
        inbox = db.execute("SELECT COUNT(*) FROM inbox").fetchone()[0]
    assert paid == len(orders) and inbox == distinct_events, (paid, inbox)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all threads) so far; 0 where /proc is not available."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_load(url: str, load: list[Notification], concurrency: int, pid: int) -> tuple[float, list[float], int, float]:
    before = cpu_seconds(pid)
    seconds, latencies, acked = asyncio.run(fire(url, load, concurrency))
    return seconds, latencies, acked, cpu_seconds(pid) - before


def summary(name: str, seconds: float, latencies: list[float], acked: int, cpu: float) -> dict[str, float]:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    rate = acked / seconds
    print(
        f"{name:<10} {acked:6d} acked in {seconds:6.2f} s  {rate:8.1f} notif/s  p50 {p50:7.1f} ms  "
        f"p99 {p99:7.1f} ms  server CPU {1000 * cpu / max(acked, 1):5.2f} ms/notif"
    )
    return {"rate": rate, "p50": p50, "p99": p99}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="distinct notifications (plus 10 %% duplicates)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--reference", nargs=3, metavar=("PROFILE", "DB", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.reference:
        import uvicorn

        profile, db, port = args.reference
        uvicorn.run(reference_app(Path(profile), Path(db)), host="127.0.0.1", port=int(port), log_level="warning")
        return

    work = Path(tempfile.mkdtemp(prefix="pos-bench-notify-"))
    profile = init_demo_profile(work / "home")
    settings = load_settings(profile.config)
    orders = [f"P{datetime.now():%y%m%d%H%M%S}S00001T001{i:08d}" for i in range(1, args.n + 1)]
    amount = 1234
    env = {
        **os.environ,
        "POS_HOME": str(profile.home),
        "POS_ENGINE__RESOLVER_INTERVAL_S": "3600",  # no resolver pass during the run
    }
    results: dict[str, dict[str, float]] = {}

    # The engine.
    port = int(settings.engine.listen.rsplit(":", 1)[1])
    log = work / "engine.log"
    engine = subprocess.Popen(
        [sys.executable, "-m", "pos_app", "engine", "serve", "--log-level", "warning"],
        env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/notify/wechatpay"
        wait_healthy(url, engine, log)
        seed_engine_orders(settings, orders, amount)
        items = make_notifications(settings, orders, amount)
        load = items + random.Random(1).sample(items, len(items) // 10)
        random.Random(2).shuffle(load)
        seconds, latencies, acked, cpu = run_load(url, load, args.concurrency, engine.pid)
        results["engine"] = summary("engine", seconds, latencies, acked, cpu)
        check_engine(settings, orders, len(items))
    finally:
        engine.terminate()
        engine.wait(timeout=20)

    # The reference.
    ref_db, ref_port, ref_log = work / "reference.sqlite3", free_loopback_port(), work / "reference.log"
    reference_db(ref_db, orders)
    reference = subprocess.Popen(
        [sys.executable, __file__, "--reference", str(profile.home), str(ref_db), str(ref_port)],
        env=env, stdout=ref_log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{ref_port}/notify/wechatpay"
        wait_healthy(url, reference, ref_log)
        items = make_notifications(settings, orders, amount)
        load = items + random.Random(1).sample(items, len(items) // 10)
        random.Random(2).shuffle(load)
        seconds, latencies, acked, cpu = run_load(url, load, args.concurrency, reference.pid)
        results["reference"] = summary("reference", seconds, latencies, acked, cpu)
        check_reference(ref_db, orders, len(items))
    finally:
        reference.terminate()
        reference.wait(timeout=20)

    ratio = results["engine"]["rate"] / results["reference"]["rate"]
    print(f"ratio engine/reference throughput: {ratio:.2f}x (target >= 1.5x)  [work dir {work}]")


if __name__ == "__main__":
    main()
