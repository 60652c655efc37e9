"""What every full screen shares: the title line, the money-alert banner, a line of keys, the status bar."""

from __future__ import annotations

from typing import cast

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker

from pos_app.i18n import _
from pos_app.terminal.till import Till
from pos_app.tui.context import TillApp
from pos_app.tui.widgets.alert_banner import AlertBanner
from pos_app.tui.widgets.status_bar import StatusBar


class TillScreen(Screen[None]):
    #: Shown in the title line after the store name (English, marked with N_: translated when shown).
    HEADING = ""
    #: The keys line at the bottom (the help screen lists every key with more words); as HEADING.
    KEYS = ""

    @property
    def pos(self) -> TillApp:
        return cast(TillApp, self.app)

    @property
    def till(self) -> Till:
        return self.pos.till

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Worker.StateChanged does not bubble: the app's one error handler hears it from here.
        self.pos.worker_state_changed(event)

    def title_text(self) -> Text:
        terminal = self.till.settings.terminal
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.pos.sandbox:
            text.append(" SANDBOX ", style="bold black on yellow")
            text.append(" ")
        text.append(terminal.store_name, style="bold")
        text.append(f" · {terminal.name}")
        if self.HEADING:
            text.append(f" · {_(self.HEADING)}", style="bold")
        return text

    def compose(self) -> ComposeResult:
        yield Static(self.title_text(), id="title")
        yield from self.body()
        with Vertical(id="footer"):
            yield AlertBanner(id="alert-banner")
            yield Static(_(self.KEYS) if self.KEYS else "", classes="keys", id="keys")
            yield StatusBar()

    def body(self) -> ComposeResult:
        yield from ()
