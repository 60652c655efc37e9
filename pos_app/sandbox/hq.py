"""A stand-in for head office: receives the engine's daily reconciliation uploads.

``POST /hq/uploads`` stores the raw body under its batch id, taken from the ``X-Batch-Id`` header
(``Idempotency-Key`` is accepted too). The same batch id again is acknowledged (200,
``"duplicate": true``) and the first body is kept; a new one is stored (201). When the profile has
``[upload] hmac_key_file``, the ``X-Signature: sha256=<hex HMAC-SHA256(key, body)>`` header must match
(401 otherwise). ``GET /hq/uploads`` lists what arrived; ``GET /hq/uploads/{batch_id}`` returns a body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse

from pos_app.sandbox.context import SandboxContext, get_ctx

router = APIRouter()
Ctx = Annotated[SandboxContext, Depends(get_ctx)]

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def _hmac_key(ctx: SandboxContext) -> bytes | None:
    key_file = ctx.settings.upload.hmac_key_file
    if key_file is None:
        return None
    path = ctx.settings.path(key_file)
    return path.read_bytes().strip() if path.exists() else None


@router.post("/hq/uploads")
async def receive_upload(request: Request, ctx: Ctx) -> Response:
    batch_id = request.headers.get("x-batch-id") or request.headers.get("idempotency-key")
    if not batch_id or len(batch_id) > 128:
        raise HTTPException(400, "X-Batch-Id header (1-128 chars) is required")
    body = await request.body()
    if len(body) > MAX_UPLOAD_BYTES:
        raise HTTPException(413, "upload too large")
    key = _hmac_key(ctx)
    if key is not None:
        expected = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("x-signature", "")):
            raise HTTPException(401, "bad or missing X-Signature")
    kept = {k: v for k, v in request.headers.items() if k.lower().startswith("x-") or k.lower() == "content-type"}
    with ctx.store.transaction() as conn:
        existing = conn.execute("SELECT id FROM hq_uploads WHERE batch_id = ?", (batch_id,)).fetchone()
        if existing is not None:
            return JSONResponse({"batch_id": batch_id, "duplicate": True, "id": existing["id"]}, status_code=200)
        cursor = conn.execute(
            "INSERT INTO hq_uploads (batch_id, received_at, content_type, headers, body) VALUES (?, ?, ?, ?, ?)",
            (batch_id, ctx.clock.now(), request.headers.get("content-type", ""), json.dumps(kept), body),
        )
    return JSONResponse({"batch_id": batch_id, "duplicate": False, "id": cursor.lastrowid}, status_code=201)


@router.get("/hq/uploads")
def list_uploads(ctx: Ctx) -> list[dict[str, Any]]:
    rows = ctx.store.query(
        "SELECT id, batch_id, received_at, content_type, length(body) AS size FROM hq_uploads ORDER BY id"
    )
    return [dict(r) for r in rows]


@router.get("/hq/uploads/{batch_id}")
def get_upload(batch_id: str, ctx: Ctx) -> Response:
    row = ctx.store.query_one("SELECT content_type, body FROM hq_uploads WHERE batch_id = ?", (batch_id,))
    if row is None:
        raise HTTPException(404, "no such batch")
    return Response(bytes(row["body"]), media_type=row["content_type"] or "application/octet-stream")
