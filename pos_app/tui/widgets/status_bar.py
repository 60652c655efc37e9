"""The bottom line: SANDBOX badge, engine online/offline, unsent journal events, a sync refusal (only
while the engine refuses the chain), problems, cashier, clock.

It reads the app's state twice a second (the app owns the truth; every screen shows the same bar).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text
from textual.widgets import Static


class StatusBar(Static):
    _shown: Text | None = None

    def on_mount(self) -> None:
        self.refresh_status()
        self.set_interval(0.5, self.refresh_status)

    def refresh_status(self) -> None:
        text = self.status_text(self.app)
        if text == self._shown:
            return
        self._shown = text
        # One line, always: no layout pass for the screen (this runs twice a second on every screen).
        self.update(text, layout=False)

    @staticmethod
    def status_text(app: Any) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        if getattr(app, "sandbox", False):
            text.append(" SANDBOX ", style="bold black on yellow")
            text.append(" ")
        online = getattr(app, "engine_online", None)
        if online is None:
            text.append("◌ engine…", style="dim")
        elif online:
            text.append("● engine online", style="bold green")
        else:
            text.append("● engine OFFLINE — cash only", style="bold red")
        unsent = int(getattr(app, "unsent", 0))
        text.append(f"  unsent {unsent}", style="yellow" if unsent else "dim")
        drain = getattr(app, "drain", None)
        refused = getattr(getattr(drain, "status", None), "error", None)
        if refused:
            text.append(f"  ⚠ sync refused: {refused}", style="bold red")
        problem = getattr(app, "problem", "")
        if problem:
            text.append(f"  ⚠ {problem}", style="bold red")
        cashier = getattr(app, "cashier_name", "")
        if cashier:
            text.append(f"  {cashier}")
        till = getattr(app, "till", None)
        now = till.clock().astimezone() if till is not None else datetime.now()
        text.append(f"  {now:%H:%M:%S}", style="dim")
        return text
