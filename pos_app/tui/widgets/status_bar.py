"""The bottom line: SANDBOX badge, engine online/offline (or starting), the other background processes
while they start, unsent journal events, a sync refusal (only while the engine refuses the chain), a
background process's problem, cashier, clock.

It reads the app's state twice a second (the app owns the truth; every screen shows the same bar).
It is one line that is never cut: when the parts do not fit, the clock, then the cashier, then the
unsent count make room, so a warning always shows whole (its detail is one key away).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text
from textual.widgets import Static

from pos_app.i18n import _
from pos_app.terminal.background import STARTING_WORDS


class StatusBar(Static):
    _shown: Text | None = None

    def on_mount(self) -> None:
        self.refresh_status()
        self.set_interval(0.5, self.refresh_status)

    def refresh_status(self) -> None:
        text = self.status_text(self.app, self.content_size.width or None)
        if text == self._shown:
            return
        self._shown = text
        # One line, always: no layout pass for the screen (this runs twice a second on every screen).
        self.update(text, layout=False)

    @staticmethod
    def status_text(app: Any, width: int | None = None) -> Text:
        """The line for ``app``, fitted to ``width`` cells (None: every part)."""
        # (text, style, rank): parts of rank > 0 are left out, highest rank first, until the line fits.
        parts: list[tuple[str, str, int]] = []
        if getattr(app, "sandbox", False):
            parts.append((" SANDBOX ", "bold black on yellow", 0))
            parts.append((" ", "", 0))
        online = getattr(app, "engine_online", None)
        starting = getattr(app, "starting", None)
        engine_starting = getattr(app, "engine_starting", None)
        if callable(engine_starting) and engine_starting() and not online:
            parts.append((_(STARTING_WORDS["engine"]), "yellow", 0))
        elif online is None:
            parts.append((_("◌ engine…"), "dim", 0))
        elif online:
            parts.append((_("● engine online"), "bold green", 0))
        else:
            parts.append((_("● engine OFFLINE — cash only"), "bold red", 0))
        for words, still in starting.parts() if starting is not None else ():
            parts.append(("  " + words, "yellow" if still else "green", 0 if still else 3))
        unsent = int(getattr(app, "unsent", 0))
        parts.append(("  " + _("unsent {n}").format(n=unsent), "yellow" if unsent else "dim", 3))
        drain = getattr(app, "drain", None)
        refused = getattr(getattr(drain, "status", None), "error", None)
        if refused:
            parts.append(("  ⚠ " + _("sync refused: {reason}").format(reason=refused), "bold red", 0))
        problem = getattr(app, "problem", None)
        if problem is not None:
            parts.append((f"  ⚠ {problem.short()}", "bold red", 0))
        cashier = getattr(app, "cashier_name", "")
        if cashier:
            parts.append((f"  {cashier}", "", 2))
        till = getattr(app, "till", None)
        now = till.clock().astimezone() if till is not None else datetime.now()
        parts.append((f"  {now:%H:%M:%S}", "dim", 1))
        if width is not None:
            for rank in (1, 2, 3):
                if sum(Text(part).cell_len for part, _style, _rank in parts) <= width:
                    break
                parts = [p for p in parts if p[2] != rank]
        text = Text(no_wrap=True, overflow="ellipsis")
        for part, style, _rank in parts:
            text.append(part, style=style)
        return text
