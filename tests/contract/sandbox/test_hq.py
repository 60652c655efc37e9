"""The HQ receiver for reconciliation uploads: stored once per batch id, listed, optionally HMAC-checked."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from tests.contract.sandbox.conftest import Sandbox


async def test_uploads_are_stored_once_per_batch(sandbox: Sandbox) -> None:
    body = b'{"date":"2026-11-20","matched":3}'
    first = await sandbox.http.post(
        "/hq/uploads", content=body, headers={"X-Batch-Id": "S00001-2026-11-20", "Content-Type": "application/json"}
    )
    assert first.status_code == 201 and first.json()["duplicate"] is False
    again = await sandbox.http.post("/hq/uploads", content=b"changed", headers={"X-Batch-Id": "S00001-2026-11-20"})
    assert again.status_code == 200 and again.json() == {
        "batch_id": "S00001-2026-11-20",
        "duplicate": True,
        "id": first.json()["id"],
    }
    other = await sandbox.http.post("/hq/uploads", content=b"x", headers={"Idempotency-Key": "S00001-2026-11-21"})
    assert other.status_code == 201
    listing = (await sandbox.http.get("/hq/uploads")).json()
    assert [(u["batch_id"], u["size"]) for u in listing] == [("S00001-2026-11-20", len(body)), ("S00001-2026-11-21", 1)]
    stored = await sandbox.http.get("/hq/uploads/S00001-2026-11-20")
    assert stored.content == body and stored.headers["content-type"].startswith("application/json")
    assert (await sandbox.http.get("/hq/uploads/none")).status_code == 404
    assert (await sandbox.http.post("/hq/uploads", content=b"x")).status_code == 400


async def test_uploads_are_checked_when_a_key_is_configured(make_sandbox: Any, demo_settings: Any) -> None:
    settings = demo_settings.model_copy(deep=True)
    key_file = settings.home / "hq.key"
    key_file.write_bytes(b"hq-secret-key\n")
    settings.upload.hmac_key_file = key_file
    box: Sandbox = await make_sandbox(settings)
    body = b"report"
    good = "sha256=" + hmac.new(b"hq-secret-key", body, hashlib.sha256).hexdigest()
    assert (await box.http.post("/hq/uploads", content=body, headers={"X-Batch-Id": "b1"})).status_code == 401
    bad = await box.http.post("/hq/uploads", content=body + b"!", headers={"X-Batch-Id": "b1", "X-Signature": good})
    assert bad.status_code == 401
    ok = await box.http.post("/hq/uploads", content=body, headers={"X-Batch-Id": "b1", "X-Signature": good})
    assert ok.status_code == 201
