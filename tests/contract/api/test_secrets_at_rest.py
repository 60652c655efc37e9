"""Issue 16 finding 3, another user's view: a copy of the engine's database alone must not let anyone
sign as a till (the terminal keys in it are sealed under the ledger key file, which is not in it)."""

from __future__ import annotations

import base64
import binascii
import contextlib
import shutil
import sqlite3
from pathlib import Path

import httpx
from api_support import ENGINE_URL, STORE, TERMINAL, Stack

from pos_app.api import auth as terminal_auth
from pos_app.api.client import TerminalSigner


def _copy_of_the_ledger(stack: Stack, into: Path) -> Path:
    """What another local user (or a stolen backup) gets: the database file and its WAL, as they are."""
    database = Path(stack.settings.database_url.removeprefix("sqlite:///"))
    for file in database.parent.glob(database.name + "*"):
        shutil.copyfile(file, into / file.name)
    return into / database.name


def _keys_an_attacker_can_derive(copy: Path) -> list[bytes]:
    """Every value of the copied terminals table, as bytes and base64-decoded (each tried as the key)."""
    with sqlite3.connect(copy) as db:
        rows = db.execute("SELECT * FROM terminals WHERE terminal_id = ?", (TERMINAL,)).fetchall()
    candidates: list[bytes] = []
    for value in (v for row in rows for v in row if isinstance(v, str) and v):
        candidates.append(value.encode())
        for text in (value, value.split(".", 1)[-1]):
            with contextlib.suppress(binascii.Error, ValueError):
                candidates.append(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    return candidates


async def test_a_copy_of_the_ledger_alone_cannot_sign_as_a_till(stack: Stack, tmp_path: Path) -> None:
    async with stack.client() as client:
        activated = await client.activate(stack.new_code(), STORE, TERMINAL, "Till 1")
    key = terminal_auth.decode_key(activated.terminal_key)
    loot = tmp_path / "loot"
    loot.mkdir()
    copy = _copy_of_the_ledger(stack, loot)
    stolen = b"".join(path.read_bytes() for path in loot.iterdir())
    assert key not in stolen
    assert activated.terminal_key.encode() not in stolen
    assert base64.urlsafe_b64encode(key) not in stolen
    candidates = _keys_an_attacker_can_derive(copy)
    assert candidates  # the row is there: only its key is unusable
    async with httpx.AsyncClient(transport=httpx.ASGITransport(stack.engine), base_url=ENGINE_URL) as http:
        for candidate in candidates:
            forged = await http.get("/v1/reports/daily", auth=TerminalSigner(TERMINAL, candidate))
            assert forged.status_code == 401, candidate
        genuine = await http.get("/v1/reports/daily", auth=TerminalSigner(TERMINAL, key))
        assert genuine.status_code == 200
