"""Delivering a day's reconciliation to the ``[upload]`` destination: a directory or an HTTP endpoint.

HTTP: ``POST url`` with the report JSON as body, ``X-Batch-Id`` (idempotent: the same report content
always gets the same id, so a retry or a re-run can never be counted twice) and, when
``[upload] hmac_key_file`` is set, ``X-Signature: sha256=<hex HMAC-SHA256(key, body)>``. Retried with
capped exponential backoff until the receiver acknowledges (2xx); a refusal (4xx other than 408/429)
stops at once. Directory: ``DIR/<batch id>.json`` and ``.csv``, written atomically.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from pos_app.config import Settings
from pos_app.engine.reconcile.errors import UploadError
from pos_app.engine.reconcile.report import ReconcileReport

SIGNATURE_HEADER = "X-Signature"
BATCH_HEADER = "X-Batch-Id"


@dataclass(frozen=True, slots=True)
class UploadPolicy:
    attempts: int = 6
    initial_s: float = 1.0
    max_s: float = 60.0
    timeout_s: float = 15.0

    @classmethod
    def instant(cls, attempts: int = 6) -> UploadPolicy:
        return cls(attempts=attempts, initial_s=0.0, max_s=0.0, timeout_s=5.0)


@dataclass(frozen=True, slots=True)
class UploadResult:
    destination: str
    batch_id: str
    duplicate: bool  # the receiver already had this batch
    attempts: int


class _Retryable(Exception):
    pass


def batch_id(report: ReconcileReport, store_id: str) -> str:
    """Stable for the same reconciliation content (the generation time is left out)."""
    content = report.to_dict()
    content.pop("generated_at", None)
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()
    return f"recon-{store_id}-{report.day.isoformat()}-{digest[:16]}"


def signature(key: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def _hmac_key(settings: Settings) -> bytes | None:
    key_file = settings.upload.hmac_key_file
    if key_file is None:
        return None
    path = settings.path(key_file)
    try:
        return path.read_bytes().strip()
    except OSError:
        raise UploadError(f"The upload key file {path} cannot be read — check [upload] hmac_key_file.") from None


def destination(settings: Settings) -> str | None:
    if settings.upload.url:
        return settings.upload.url
    if settings.upload.dir is not None:
        return str(settings.path(settings.upload.dir))
    return None


async def upload_report(
    settings: Settings,
    report: ReconcileReport,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    policy: UploadPolicy | None = None,
) -> UploadResult:
    """Deliver ``report``; raises UploadError when it was not acknowledged after the retries."""
    policy = policy or UploadPolicy()
    ident = batch_id(report, settings.terminal.store_id)
    body = report.to_json().encode("utf-8")
    if settings.upload.url:
        return await _post(settings.upload.url, ident, body, _hmac_key(settings), transport, policy)
    if settings.upload.dir is not None:
        return _to_dir(settings.path(settings.upload.dir), ident, body, report.to_csv().encode("utf-8"))
    raise UploadError("No upload destination: set [upload] url or dir.")


def _to_dir(directory: Path, ident: str, body: bytes, csv_body: bytes) -> UploadResult:
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{ident}.json"
    if target.exists():
        return UploadResult(str(directory), ident, True, 1)
    for path, data in ((directory / f"{ident}.csv", csv_body), (target, body)):
        tmp = path.with_name(path.name + ".part")
        with open(tmp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    return UploadResult(str(directory), ident, False, 1)


async def _post(
    url: str,
    ident: str,
    body: bytes,
    key: bytes | None,
    transport: httpx.AsyncBaseTransport | None,
    policy: UploadPolicy,
) -> UploadResult:
    headers = {"Content-Type": "application/json; charset=utf-8", BATCH_HEADER: ident}
    if key is not None:
        headers[SIGNATURE_HEADER] = signature(key, body)
    attempts = 0
    retrying = AsyncRetrying(
        stop=stop_after_attempt(max(1, policy.attempts)),
        wait=wait_exponential(multiplier=policy.initial_s, max=policy.max_s),
        retry=retry_if_exception_type(_Retryable),
        reraise=True,
    )
    async with httpx.AsyncClient(transport=transport, timeout=policy.timeout_s) as client:
        try:
            async for attempt in retrying:
                with attempt:
                    attempts += 1
                    try:
                        response = await client.post(url, content=body, headers=headers)
                    except httpx.HTTPError as exc:
                        raise _Retryable(f"{exc.__class__.__name__}") from None
                    if response.status_code >= 500 or response.status_code in (408, 429):
                        raise _Retryable(f"HTTP {response.status_code}")
                    if response.status_code >= 400:
                        raise UploadError(
                            f"The upload receiver refused batch {ident} (HTTP {response.status_code}) — "
                            "check [upload] url and hmac_key_file."
                        )
                    duplicate = False
                    try:
                        answer = response.json()
                        duplicate = bool(isinstance(answer, dict) and answer.get("duplicate"))
                    except ValueError:
                        pass
                    return UploadResult(url, ident, duplicate, attempts)
        except _Retryable as exc:
            raise UploadError(
                f"The upload of batch {ident} was not acknowledged after {attempts} tries ({exc}) — it will be retried."
            ) from None
    raise UploadError(f"The upload of batch {ident} was not acknowledged.")
