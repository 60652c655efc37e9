"""The money-alert banner above the keys: shown on every screen while an alert is open (F4 lists
them), hidden otherwise. It reads the app's open alerts twice a second, as the status bar does."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from pos_app.i18n import _, ngettext


class AlertBanner(Static):
    _shown: Text | None = None

    def on_mount(self) -> None:
        self.display = False
        self.refresh_banner()
        self.set_interval(0.5, self.refresh_banner)

    def refresh_banner(self) -> None:
        text = self.banner_text(self.app)
        if text == self._shown:
            return
        self._shown = text
        self.display = text is not None
        if text is not None:
            self.update(text)

    @staticmethod
    def banner_text(app: Any) -> Text | None:
        alerts = getattr(app, "alerts", [])
        if not alerts:
            return None
        # The key comes first: a narrow screen cuts the end of the line, never what to press.
        count = ngettext("{n} money alert", "{n} money alerts", len(alerts)).format(n=len(alerts))
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" ⚠ " + _("F4") + " ", style="bold")
        text.append(f"{count}: {alerts[0].headline()}")
        return text
