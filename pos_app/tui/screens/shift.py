"""Open or close the shift with the drawer counted by denomination (F3).

Closing is *blind*: the screen asks only for the count; the expected figures appear after the count
is saved, and the difference is then signed off with a manager's PIN.
"""

from __future__ import annotations

import asyncio

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.widgets import Input, Label, Static

from pos_app.cells import pad
from pos_app.domain.cash import DENOMINATIONS_FEN, count_total
from pos_app.domain.errors import PosError
from pos_app.domain.money import format_fen
from pos_app.domain.shift_close import ShiftCloseResult
from pos_app.i18n import N_, _
from pos_app.terminal.error_words import cashier_text
from pos_app.terminal.text import channel_name
from pos_app.tui.modals.pin import ManagerPinModal
from pos_app.tui.screens.base import TillScreen


def denomination_label(fen: int) -> str:
    return f"¥{fen // 100}" if fen >= 100 else f"{fen // 10}角"


def result_lines(result: ShiftCloseResult) -> list[str]:
    lines = [pad("", 10) + pad(_("expected"), 12, right=True) + pad(_("counted"), 12, right=True)]
    lines[0] += pad(_("difference"), 12, right=True)
    for figures in result.methods:
        lines.append(
            pad(channel_name(figures.method), 10)
            + pad(format_fen(figures.expected_fen), 12, right=True)
            + pad(format_fen(figures.counted_fen), 12, right=True)
            + pad(format_fen(figures.difference_fen), 12, right=True)
        )
    return lines


class ShiftScreen(TillScreen):
    CSS_PATH = "../styles/ops.tcss"
    KEYS = N_("pieces of each note/coin · Enter next · Ctrl+S save the count · Esc back")
    BINDINGS = [Binding("escape", "back", N_("Back")), Binding("ctrl+s", "save", N_("Save count"))]

    def __init__(self) -> None:
        super().__init__()
        self.closing = False
        #: Set once it is known whether a shift is open (open or close: a save waits for it).
        self.ready = asyncio.Event()
        self.saving = False
        self.result: ShiftCloseResult | None = None

    def body(self) -> ComposeResult:
        yield Static("", id="shift-intro")
        with Grid(id="shift-counts"):
            for fen in DENOMINATIONS_FEN:
                yield Label(denomination_label(fen))
                yield Input(value="0", id=f"count-{fen}", type="integer", max_length=5, select_on_focus=True)
        yield Static("", id="shift-total")
        yield Static("", id="shift-result", markup=False)

    def on_mount(self) -> None:
        self.query_one(f"#count-{DENOMINATIONS_FEN[0]}", Input).focus()
        self.update_total()
        self.find_shift()

    @work(exclusive=True, group="shift-state", exit_on_error=False)
    async def find_shift(self) -> None:
        """Open or close: whether a shift is open is read off the event loop."""
        self.closing = await asyncio.to_thread(self.till.shift_open)
        self.HEADING = _("Close shift (blind count)") if self.closing else _("Open shift")
        self.query_one("#title", Static).update(self.title_text())
        intro = (
            _("Count the drawer. The expected amount is shown only after you save the count.")
            if self.closing
            else _("Count the opening float in the drawer.")
        )
        self.query_one("#shift-intro", Static).update(intro)
        self.ready.set()

    def counts(self) -> dict[int, int]:
        result: dict[int, int] = {}
        for fen in DENOMINATIONS_FEN:
            text = self.query_one(f"#count-{fen}", Input).value.strip() or "0"
            result[fen] = int(text) if text.lstrip("-").isdigit() else 0
        return result

    def update_total(self) -> None:
        try:
            total = format_fen(count_total(self.counts()))
        except PosError as exc:
            total = cashier_text(exc)
        self.query_one("#shift-total", Static).update(_("Counted: {amount}").format(amount=total))

    @on(Input.Changed)
    def count_changed(self) -> None:
        self.update_total()

    @on(Input.Submitted)
    def next_field(self, event: Input.Submitted) -> None:
        ids = [f"count-{fen}" for fen in DENOMINATIONS_FEN]
        index = ids.index(event.input.id or ids[0])
        if index + 1 < len(ids):
            self.query_one(f"#{ids[index + 1]}", Input).focus()
        else:
            self.action_save()

    def action_save(self) -> None:
        if self.result is not None or self.saving:
            return
        if not self.till.cashier:
            self.notify(_("Sign in first."), severity="warning")
            return
        self.saving = True
        self.save(self.counts())

    @work(exclusive=True, group="shift", exit_on_error=False)
    async def save(self, counts: dict[int, int]) -> None:
        await self.ready.wait()
        try:
            if self.closing:
                self.result = await asyncio.to_thread(self.till.close_shift, counts)
            else:
                float_fen = await asyncio.to_thread(self.till.open_shift, counts)
        except PosError as exc:
            self.notify(cashier_text(exc), title=_("Not saved"), severity="error", timeout=8)
            return
        finally:
            self.saving = False
        if not self.closing:
            self.notify(_("Shift open with a float of {amount}.").format(amount=format_fen(float_fen)))
            self.app.pop_screen()
            return
        assert self.result is not None
        for field in self.query(Input):
            field.disabled = True
        self.show_result(_("A manager signs off the count (PIN)."))
        self.ask_sign_off()

    def show_result(self, note: str) -> None:
        assert self.result is not None
        self.query_one("#shift-result", Static).update("\n".join([*result_lines(self.result), "", note]))

    def ask_sign_off(self) -> None:
        result = self.result
        assert result is not None

        def approved(manager: str | None) -> None:
            if manager is None:
                self.show_result(_("Not signed off yet — it waits on the manager dashboard."))
            else:
                self.sign_off(result.shift_id, manager)

        difference = format_fen(result.difference_fen)
        self.app.push_screen(
            ManagerPinModal(
                _("sign off the count (difference {amount})").format(amount=difference), self.till.check_manager
            ),
            approved,
        )

    @work(exclusive=True, group="shift", exit_on_error=False)
    async def sign_off(self, shift_id: int, manager: str) -> None:
        try:
            await asyncio.to_thread(self.till.sign_off_close, shift_id, manager)
        except PosError as exc:
            self.notify(cashier_text(exc), severity="error")
            return
        self.show_result(_("Signed off by {name}. Esc to go back.").format(name=manager))

    def action_back(self) -> None:
        self.app.pop_screen()
