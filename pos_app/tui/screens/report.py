"""An X or Z report on screen: the same text `pos report` prints."""

from __future__ import annotations

from datetime import date
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from pos_app.i18n import N_, _, format_day
from pos_app.terminal.report_text import render_text
from pos_app.tui.screens.base import TillScreen


class ReportScreen(TillScreen):
    CSS_PATH = "../styles/ops.tcss"
    KEYS = N_("↑↓ scroll · Esc back")
    BINDINGS = [Binding("escape", "back", N_("Back"))]

    def __init__(self, content: dict[str, Any]) -> None:
        self.content = content
        day = format_day(date.fromisoformat(str(content["business_day"])))
        if content.get("number"):
            heading = _("{kind} report #{number} · {day}").format(
                kind=content.get("report", ""), number=content["number"], day=day
            )
        else:
            heading = _("{kind} report · {day}").format(kind=content.get("report", ""), day=day)
        self.HEADING = heading
        super().__init__()

    def body(self) -> ComposeResult:
        with VerticalScroll(id="report-scroll"):
            yield Static(render_text(self.content), id="report-text", markup=False)

    def on_mount(self) -> None:
        self.query_one("#report-scroll", VerticalScroll).focus()

    def action_back(self) -> None:
        self.app.pop_screen()
