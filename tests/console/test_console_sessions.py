"""Sessions: a sign-in lasts [console] session_hours and no longer; the cookie's token is stored only
hashed; a new sign-in from the same browser ends its old session; the key file is private."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

from sqlmodel import Session, select

from pos_app.console import accounts
from pos_app.console.secret_key import load_or_create_key
from pos_app.engine.store import open_ledger
from pos_app.engine.store.console_accounts import ConsoleSession, Role, token_hash
from tests.console.support import write_profile


def test_a_session_ends_with_its_lifetime_and_is_stored_hashed(tmp_path: Path) -> None:
    settings = write_profile(tmp_path / "p")
    ledger = open_ledger(settings.database_url)
    accounts.add_user(ledger, name="boss", role=Role.OWNER, store_id=None, password="a long password", by="t")

    def sign_in(lifetime: timedelta, replaces: str | None = None) -> str:
        outcome = accounts.sign_in(ledger, name="boss", password="a long password", client="t",
                                   lifetime=lifetime, replaces=replaces)  # fmt: skip
        assert isinstance(outcome, accounts.SignedIn)
        return outcome.token

    expired = sign_in(timedelta(0))
    assert accounts.viewer_of(ledger, expired) is None
    live = sign_in(timedelta(hours=1))
    viewer = accounts.viewer_of(ledger, live)
    assert viewer is not None and viewer.name == "boss" and viewer.is_owner and viewer.stores() is None
    with Session(ledger) as session:
        stored = {row.token_hash for row in session.exec(select(ConsoleSession))}
    assert token_hash(live) in stored and live not in stored
    again = sign_in(timedelta(hours=1), replaces=live)
    assert accounts.viewer_of(ledger, live) is None and accounts.viewer_of(ledger, again) is not None
    ledger.dispose()


def test_the_key_file_is_made_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "console.key"
    key = load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_or_create_key(path) == key and len(key) == 44
