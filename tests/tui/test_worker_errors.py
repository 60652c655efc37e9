"""A screen's or a modal's failed worker is said to the cashier and handed back to that screen
(Textual's Worker.StateChanged does not bubble: before, the app's handler never heard of it)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Static

from pos_app.domain.errors import PaymentDeclined
from pos_app.tui.modals.pin import ManagerPinModal
from pos_app.tui.screens.base import TillScreen
from tests.tui.support import wait_until
from tests.tui.test_flows import SIZE, app_for


class FailingScreen(TillScreen):
    def __init__(self) -> None:
        super().__init__()
        self.failed: list[BaseException] = []

    def body(self) -> ComposeResult:
        yield Static("working")

    def on_mount(self) -> None:
        self.run_worker(self.work(), exit_on_error=False)

    async def work(self) -> None:
        raise PaymentDeclined("Insufficient balance — ask the customer to switch card or pay another way")

    def worker_failed(self, error: BaseException) -> None:
        self.failed.append(error)


def _broken_check(pin: str) -> str:
    raise RuntimeError("the journal file vanished")


async def test_a_screen_worker_failure_is_told_and_handed_to_its_screen(settings, journal_engine, offline_client):  # type: ignore[no-untyped-def]
    app = app_for(settings, journal_engine, offline_client)
    async with app.run_test(size=SIZE) as pilot:
        screen = FailingScreen()
        await app.push_screen(screen)
        await wait_until(pilot, lambda: bool(screen.failed), what="the screen told of its worker's failure")
        assert isinstance(screen.failed[0], PaymentDeclined)
        await wait_until(pilot, lambda: bool(list(app._notifications)), what="the toast")
        assert [n.message for n in app._notifications] == [
            "Insufficient balance — ask the customer to switch card or pay another way"
        ]


async def test_a_modal_worker_failure_reaches_the_modal_not_the_screen_below(settings, journal_engine, offline_client):  # type: ignore[no-untyped-def]
    app = app_for(settings, journal_engine, offline_client)
    async with app.run_test(size=SIZE) as pilot:
        below = FailingScreen()
        await app.push_screen(below)
        await wait_until(pilot, lambda: bool(below.failed), what="the screen's own failure")
        modal = ManagerPinModal("void ¥1.00", _broken_check)
        await app.push_screen(modal)
        await pilot.press(*"9999", "enter")
        await wait_until(pilot, lambda: "Could not check" in str(modal.query_one("#pin-error").render()), what="modal")
        assert len(below.failed) == 1  # the modal's failure went to the modal
