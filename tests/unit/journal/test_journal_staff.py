"""Staff PINs: salted scrypt hashes, never the PIN itself; roles decide who may approve; wrong PINs
make the till wait and lock a person out until a manager unlocks them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from journal_kit import TERMINAL
from sqlalchemy import Engine
from sqlmodel import Session, select

from pos_app.domain.errors import AuthorisationError, InputError
from pos_app.domain.pin_guard import wait_after
from pos_app.journal import (
    JournalEvent,
    Staff,
    add_staff,
    check_pin,
    hash_pin,
    list_staff,
    locked_out,
    pin_matches,
    pin_status,
    require_manager,
    session_scope,
    unlock_staff,
    verify_chain,
)
from pos_app.journal.staff import ANYONE


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


T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _try(engine: Engine, pin: str, at: datetime, **options: object) -> str | None:
    """One sign-in as the till makes it (its own transaction); the name, None, or the refusal text."""
    try:
        with session_scope(engine) as session:
            staff = check_pin(session, pin, at=at, **options)  # type: ignore[arg-type]
            return None if staff is None else staff.name
    except AuthorisationError as exc:
        return f"refused: {exc.message}"


def test_wrong_pins_make_the_till_wait_longer_and_longer(staffed: Engine) -> None:
    at = T0
    for _ in range(3):
        assert _try(staffed, "0000", at) is None  # three free tries
    assert _try(staffed, "0000", at) is None  # the 4th: the next try waits 1 s
    assert _try(staffed, "2468", at) == "refused: Too many wrong PINs — wait 1 s, then try again."
    at += timedelta(seconds=1)
    assert _try(staffed, "0000", at) is None  # the 5th: 2 s
    assert (
        _try(staffed, "2468", at + timedelta(seconds=1)) == "refused: Too many wrong PINs — wait 1 s, then try again."
    )
    assert _try(staffed, "2468", at + timedelta(seconds=2)) == "Alice"  # a right PIN clears the count
    assert _try(staffed, "0000", at + timedelta(seconds=2)) is None
    with Session(staffed) as session:
        assert pin_status(session, ANYONE).failures == 1 and not pin_status(session, ANYONE).locked


def test_ten_wrong_pins_lock_a_person_out_until_a_manager_unlocks(staffed: Engine) -> None:
    at = T0
    for attempt in range(1, 11):
        assert _try(staffed, "1111", at, name="Alice") is None, attempt
        at += timedelta(seconds=wait_after(attempt))
    # Locked: even her right PIN is refused, with what to do; PIN-only sign-in refuses her too.
    assert _try(staffed, "2468", at + timedelta(hours=1), name="Alice") == (
        "refused: Alice is locked out after 10 wrong PINs — a manager must unlock them."
    )
    assert _try(staffed, "2468", at + timedelta(hours=1)) == (
        "refused: Alice is locked out after 10 wrong PINs — a manager must unlock them."
    )
    # Someone else is not affected.
    assert _try(staffed, "13579", at, name="Mia") == "Mia"
    with session_scope(staffed) as session:
        assert [s.who for s in locked_out(session)] == ["Alice"]
        alice = session.exec(select(Staff).where(Staff.name == "Alice")).one()
        with pytest.raises(AuthorisationError, match="may not unlock"):
            unlock_staff(session, "Alice", manager=alice, terminal_id=TERMINAL, at=at)
        mia = require_manager(session, "13579")
        unlock_staff(session, "Alice", manager=mia, terminal_id=TERMINAL, at=at)
    with pytest.raises(InputError, match="not locked out"), session_scope(staffed) as session:
        unlock_staff(session, "Alice", manager=mia, terminal_id=TERMINAL, at=at)
    assert _try(staffed, "2468", at + timedelta(seconds=1), name="Alice") == "Alice"
    with Session(staffed) as session:
        [event] = session.exec(select(JournalEvent).where(JournalEvent.kind == "staff.unlocked")).all()
    assert event.payload == {"cashier": "Mia", "staff_name": "Alice", "failures": 10, "was_locked": True}
    assert verify_chain(staffed).ok


def test_another_persons_pin_is_a_wrong_pin_for_this_person(staffed: Engine) -> None:
    assert _try(staffed, "13579", T0, name="Alice") is None
    with Session(staffed) as session:
        assert pin_status(session, "Alice").failures == 1
    assert _try(staffed, "2468", T0, name="Alice") == "Alice"
    with Session(staffed) as session:
        assert pin_status(session, "Alice").failures == 0
