"""The open money alerts as the till shows them: re-read when the till raises one, rung and said once.

A part of :class:`~pos_app.tui.app.PosApp` (a Textual app mixin); the banner and F4 list them. The
app sets the state up in ``PosApp.__init__``.
"""

from __future__ import annotations

from textual.app import App

from pos_app.i18n import _
from pos_app.terminal.alerts import Alert
from pos_app.terminal.till import Till


class AlertsView(App[None]):
    till: Till
    #: The money alerts no cashier has acknowledged yet (re-read when the till raises one).
    alerts: list[Alert]
    #: ``till.alerts_raised`` when the alerts were last read.
    alerts_read: int

    def show_attention_if_any(self) -> None:
        from pos_app.tui.screens.attention import AttentionScreen

        self.check_alerts()
        if self.alerts and not isinstance(self.screen, AttentionScreen):
            self.push_screen(AttentionScreen())

    def check_alerts(self) -> None:
        """Re-read the open alerts when the till raised one (or a cashier acknowledged one)."""
        if self.alerts_read == self.till.alerts_raised:
            return
        before = {alert.id for alert in self.alerts}
        self.alerts_read = self.till.alerts_raised
        self.alerts = self.till.open_alerts()
        for alert in self.alerts:
            if alert.id not in before:
                self.bell()
                self.notify(
                    f"{alert.headline()}\n{alert.action()}", title=_("Money alert — F4"), severity="error", timeout=30
                )

    def alerts_changed(self) -> None:
        """A screen acknowledged an alert: read them again."""
        self.alerts_read = -1
        self.check_alerts()
