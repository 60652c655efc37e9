"""Staff PINs: salted scrypt hashes, never the PIN itself; roles decide who may approve."""

from __future__ import annotations

from pathlib import Path

import pytest
from journal_kit import TERMINAL
from sqlalchemy import Engine
from sqlmodel import Session

from pos_app.domain.errors import AuthorisationError, InputError
from pos_app.journal import add_staff, check_pin, hash_pin, list_staff, pin_matches, require_manager, session_scope


@pytest.fixture
def staffed(journal: Engine) -> Engine:
    with session_scope(journal) as session:
        add_staff(session, "Alice", "2468", "cashier", terminal_id=TERMINAL)
        add_staff(session, "Mia", "13579", "manager", terminal_id=TERMINAL, added_by="owner")
    return journal


def test_pins_are_salted_scrypt_and_never_stored(staffed: Engine, journal_path: Path) -> None:
    with Session(staffed) as session:
        records = {s.name: s.pin_hash for s in list_staff(session)}
    assert all(record.startswith("scrypt$16384$8$1$") for record in records.values())
    with session_scope(staffed) as session:
        # An 8-digit PIN: a 4-digit one turns up by chance in a file full of random salts and hashes.
        add_staff(session, "Kai", "80614297", "cashier", terminal_id=TERMINAL)
    raw = b"".join(p.read_bytes() for p in journal_path.parent.glob("journal.sqlite3*"))
    assert b"Kai" in raw  # the file really holds the staff rows searched
    assert b"80614297" not in raw
    assert hash_pin("2468") != hash_pin("2468")  # a fresh salt each time
    assert pin_matches("2468", records["Alice"]) and not pin_matches("2469", records["Alice"])
    assert not pin_matches("2468", "md5$whatever") and not pin_matches("2468", "scrypt$bad")


def test_check_pin_and_roles(staffed: Engine) -> None:
    with Session(staffed) as session:
        alice = check_pin(session, "2468")
        assert alice is not None and alice.name == "Alice" and alice.role == "cashier"
        assert check_pin(session, "0000") is None
        assert check_pin(session, "2468", role="manager") is None
        assert require_manager(session, "13579").name == "Mia"
        with pytest.raises(AuthorisationError, match="ask a manager"):
            require_manager(session, "2468")


@pytest.mark.parametrize(
    ("name", "pin", "role", "error"),
    [
        ("Bob", "12", "cashier", "4–8 digits"),
        ("Bob", "12ab", "cashier", "4–8 digits"),
        ("Bob", "１２３４", "cashier", "4–8 digits"),
        ("Bob", "123456789", "cashier", "4–8 digits"),
        ("", "1234", "cashier", "name"),
        ("Alice", "1111", "cashier", "already a staff member"),
        ("Bob", "2468", "cashier", "already in use"),
    ],
)
def test_add_staff_refusals(staffed: Engine, name: str, pin: str, role: str, error: str) -> None:
    with pytest.raises(InputError, match=error), session_scope(staffed) as session:
        add_staff(session, name, pin, role, terminal_id=TERMINAL)


def test_unknown_role_is_refused(journal: Engine) -> None:
    with pytest.raises(ValueError), session_scope(journal) as session:
        add_staff(session, "Bob", "1234", "owner", terminal_id=TERMINAL)
