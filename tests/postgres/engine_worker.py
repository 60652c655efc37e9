"""One engine process for the two-engines PostgreSQL test (run as ``python -m tests.postgres.engine_worker``).

It builds the real wiring — providers against the sandbox (whose state is the profile's SQLite file,
shared with the other processes), the ledger on PostgreSQL, the engine's use cases — waits for the common
start time, then handles every notification in the requests file at once and runs the resolver.
It prints one JSON line: the acknowledgement statuses and what the resolver settled.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import time
from pathlib import Path

import httpx

from pos_app.config import load_settings
from pos_app.domain.routing import Channel
from pos_app.engine.providers import build_providers
from pos_app.engine.store import open_ledger
from pos_app.engine.wiring import build_use_cases
from pos_app.sandbox.app import create_app


async def run(home: Path, database_url: str, requests_file: Path, start_at: float) -> dict[str, object]:
    settings = load_settings(home / "pos.toml")
    sandbox = create_app(settings)
    providers = build_providers(settings, transport=httpx.ASGITransport(app=sandbox))
    ledger = open_ledger(database_url)
    service = build_use_cases(ledger, providers, settings)
    requests = json.loads(requests_file.read_text())
    await asyncio.sleep(max(0.0, start_at - time.time()))
    acks = await asyncio.gather(
        *(
            service.notifications.handle_notification(Channel(r["channel"]), r["headers"], base64.b64decode(r["body"]))
            for r in requests
        )
    )
    settled = await service.resolver.resolve_once()
    await service.aclose()
    for provider in providers.values():
        await provider.aclose()
    ledger.dispose()
    return {"acks": [a.status_code for a in acks], "settled": settled}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--requests", type=Path, required=True)
    parser.add_argument("--start-at", type=float, required=True)
    args = parser.parse_args()
    result = asyncio.run(run(args.home, args.database_url, args.requests, args.start_at))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
