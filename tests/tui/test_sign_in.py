"""Issue 15, item 7 through the real app and a real journal file: sign-in by name and PIN, so the
journal's per-person guard applies. Wrong PINs make the next try wait longer each time ("wait 8 s"),
then lock the person out ("locked — a manager must unlock"), also for their right PIN typed without
a name; a manager unlocks them with F6 and their PIN (journaled), then they sign in. The till's clock
is shifted past each wait, so the test does not sit out the seconds."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from pos_app.domain.pin_guard import LOCKOUT_AFTER
from pos_app.journal import JournalEvent, session_scope
from tests.tui.support import ShiftedClock, screen_text, wait_until
from tests.tui.test_flows import SIZE, app_for, screen_name


def login_message(app) -> str:
    return str(app.screen.query_one("#login-error").render().plain)


async def type_name(pilot, name: str) -> None:
    await pilot.press(*("space" if char == " " else char for char in name), "enter")


async def test_waits_grow_then_lockout_then_a_manager_unlocks(settings, journal_engine, offline_client):
    clock = ShiftedClock()
    app = app_for(settings, journal_engine, offline_client, clock=clock)
    seen: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        await type_name(pilot, "demo c")  # the one name it starts, any case
        for _try in range(LOCKOUT_AFTER):
            await pilot.press(*"0000", "enter")
            await wait_until(
                pilot, lambda: "Checking" not in login_message(app) and login_message(app), what="the answer"
            )
            seen.append(login_message(app))
            if "wait" in login_message(app):
                # A PIN typed during the wait is not checked, and never lands in the name field.
                await pilot.press(*"1234", "enter")
                await pilot.pause(0.3)
                assert screen_name(app) == "LoginScreen" and "wait" in login_message(app)
                assert app.screen.query_one("#name").value == "demo c"
                clock.offset += timedelta(seconds=31)  # past any wait (at most 30 s)
                await wait_until(pilot, lambda: "Try your PIN again" in login_message(app), what="wait over")
        assert seen[:3] == ["Wrong PIN — try again."] * 3
        assert "Wrong PIN — wait 1 s, then try again." in seen and "Wrong PIN — wait 8 s, then try again." in seen
        assert seen[-1] == "Demo Cashier is locked — a manager must unlock (F6)."
        # Locked: the right PIN does not sign them in, with their name or without it.
        await pilot.press(*"1234", "enter")
        await wait_until(pilot, lambda: "locked" in login_message(app), what="locked, own PIN")
        await pilot.press("shift+tab", "ctrl+u")  # back to the name, emptied: sign in by PIN alone
        await pilot.press(*"1234", "enter")
        await wait_until(pilot, lambda: "locked" in login_message(app), what="locked, PIN alone")
        assert screen_name(app) == "LoginScreen"
        # A manager unlocks them with F6 and their PIN.
        await pilot.press("f6")
        await wait_until(pilot, lambda: screen_name(app) == "LockedStaffModal", what="locked list")
        locked = app.screen.query_one("#locked-staff")
        assert [str(locked.get_option_at_index(i).prompt) for i in range(locked.option_count)] == ["Demo Cashier"]
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen_name(app) == "ManagerPinModal", what="manager PIN")
        await pilot.press(*"1234", "enter")  # the cashier's own PIN unlocks nobody
        await wait_until(pilot, lambda: "Wrong PIN" in screen_text(app), what="refused")
        await pilot.press(*"9999", "enter")
        await wait_until(pilot, lambda: "unlocked by Demo Manager" in login_message(app), what="unlocked")
        await pilot.press("shift+tab")
        await type_name(pilot, "Demo Cashier")
        await pilot.press(*"1234", "enter")
        await wait_until(pilot, lambda: screen_name(app) == "CheckoutScreen", what="signed in")
        assert app.till.cashier == "Demo Cashier"
    with session_scope(journal_engine) as session:
        [unlocked] = session.exec(select(JournalEvent).where(JournalEvent.kind == "staff.unlocked")).all()
    assert unlocked.payload["staff_name"] == "Demo Cashier" and unlocked.payload["cashier"] == "Demo Manager"
