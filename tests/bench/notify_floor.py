"""What a WeChat Pay notification costs at the least, measured stage by stage in this process.

``bench_notify.py`` prints these beside its wrk figures, to say what the target ratio allows. A
durable handler must at least: receive the request and answer it on the server stack (the
``ceiling`` run of ``bench_notify.py``: an ASGI app that reads the body and answers 204, on the same
uvicorn), verify the RSA-2048 signature, decrypt the AES-256-GCM resource and parse both JSON
layers, and run the ledger's statements and commit. The statements here are **the engine's own**,
recorded while ``apply_notifications`` wrote a batch, then replayed on an identical ledger with no
Python decision in between: only SQLite's and the driver's time. Commit CPU is counted (its fsync
wait is not: it does not use the CPU).

Each figure is the median of several passes, in microseconds of CPU per notification.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

from pos_app.config import Settings
from pos_app.engine.crypto.aead import decrypt_resource
from pos_app.engine.crypto.keys import load_public_key
from pos_app.engine.crypto.rsa import verify_sha256_rsa
from pos_app.engine.notify import apply
from pos_app.engine.providers.factory import build_wechatpay
from pos_app.engine.providers.wechatpay.signing import response_signature_message
from pos_app.engine.store.db import open_ledger
from tests.wechat_notifications import SignedNotification, WechatNotifier, seed_native_orders

BATCH = 64
#: The name ``apply`` takes its DBAPI cursor through: swapped for a recording one while recording.
_CURSOR = "dbapi_cursor"


@dataclass
class Floor:
    rsa_us: float
    aes_json_us: float
    sql_us: float
    whole_parse_us: float  # the engine's own parse_notification (verify + decrypt + objects), for comparison
    whole_apply_us: float  # the engine's own apply_notifications, for comparison

    @property
    def crypto_sql_us(self) -> float:
        return self.rsa_us + self.aes_json_us + self.sql_us


def _median_us(passes: int, count: int, work: Callable[[], None]) -> float:
    times = []
    for _ in range(passes):
        started = time.process_time()
        work()
        times.append((time.process_time() - started) / count * 1e6)
    return statistics.median(times)


class _Recording:
    """A DBAPI cursor that runs and records every statement (for the replay)."""

    def __init__(self, cursor: Any, log: list[tuple[str, str, Any]]) -> None:
        self._cursor = cursor
        self._log = log

    def execute(self, sql: str, params: Any = ()) -> Any:
        self._log.append(("execute", sql, params))
        return self._cursor.execute(sql, params)

    def executemany(self, sql: str, rows: Any) -> Any:
        rows = list(rows)
        self._log.append(("executemany", sql, rows))
        return self._cursor.executemany(sql, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


def measure(settings: Settings, count: int = 2048, passes: int = 5) -> Floor:
    notifier = WechatNotifier(settings)
    stamp = datetime.now().strftime("%y%m%d%H%M%S")
    orders = [f"P{stamp}S00001T999{i:08d}" for i in range(count)]
    items: list[SignedNotification] = [notifier.paid(otn, 1234) for otn in orders]
    wx = settings.wechatpay
    assert wx.platform_public_key is not None
    key = load_public_key(settings.path(wx.platform_public_key))
    apiv3 = settings.path(wx.apiv3_key_file).read_bytes().strip()
    signed = [
        (
            response_signature_message(n.headers["Wechatpay-Timestamp"], n.headers["Wechatpay-Nonce"], n.body),
            n.headers["Wechatpay-Signature"],
        )
        for n in items
    ]

    def rsa() -> None:
        for message, signature in signed:
            verify_sha256_rsa(key, message, signature)

    def aes_json() -> None:
        for n in items:
            resource = json.loads(n.body)["resource"]
            json.loads(decrypt_resource(apiv3, resource["nonce"], resource["associated_data"], resource["ciphertext"]))

    client = build_wechatpay(settings)
    headers = [{k.lower(): v for k, v in n.headers.items()} for n in items]

    def parse() -> None:
        for h, n in zip(headers, items, strict=True):
            client.parse_notification(h, n.body)

    parsed = [client.parse_notification(h, n.body) for h, n in zip(headers, items, strict=True)]
    work = Path(tempfile.mkdtemp(prefix="pos-bench-floor-"))
    try:
        sql_us, apply_us = _statements(work, orders, [(p, n.body) for p, n in zip(parsed, items, strict=True)])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Floor(
        rsa_us=_median_us(passes, count, rsa),
        aes_json_us=_median_us(passes, count, aes_json),
        sql_us=sql_us,
        whole_parse_us=_median_us(passes, count, parse),
        whole_apply_us=apply_us,
    )


def _statements(work: Path, orders: Sequence[str], batch_items: Sequence[apply.Item]) -> tuple[float, float]:
    """(replayed statements + commit, the engine's whole apply) in µs per notification, batches of 64."""
    recorded = work / "recorded.sqlite3"
    ledger = open_ledger(f"sqlite:///{recorded}")
    seed_native_orders(ledger, orders, 1234)
    ledger.dispose()
    replay_file = work / "replay.sqlite3"
    shutil.copy(recorded, replay_file)
    ledger = open_ledger(f"sqlite:///{recorded}")
    statements: list[list[tuple[str, str, Any]]] = []
    real_cursor: Callable[[Any], Any] = getattr(apply, _CURSOR)
    apply_cpu = 0.0
    try:
        for start in range(0, len(batch_items), BATCH):
            log: list[tuple[str, str, Any]] = []
            setattr(apply, _CURSOR, lambda conn, log=log: _Recording(real_cursor(conn), log))
            with ledger.connect() as conn:
                conn.begin()
                session = Session(conn)
                started = time.process_time()
                apply.apply_notifications(session, conn, batch_items[start : start + BATCH], lambda: datetime.now(UTC))
                apply_cpu += time.process_time() - started
                session.flush()
                conn.commit()
            statements.append(log)
    finally:
        setattr(apply, _CURSOR, real_cursor)
        ledger.dispose()
    db = sqlite3.connect(replay_file, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    cursor = db.cursor()
    started = time.process_time()
    for log in statements:
        cursor.execute("BEGIN IMMEDIATE")
        for kind, sql, params in log:
            if kind == "execute":
                cursor.execute(sql, params)
                cursor.fetchall()
            else:
                cursor.executemany(sql, params)
        cursor.execute("COMMIT")
    replay_cpu = time.process_time() - started
    db.close()
    count = len(batch_items)
    return replay_cpu / count * 1e6, apply_cpu / count * 1e6
