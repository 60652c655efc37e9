"""What the screens may use of the app, as a Protocol: screens never import the app module (which
imports them), so the screen modules and the app form no import cycle."""

from __future__ import annotations

from typing import Protocol

from textual.worker import Worker

from pos_app.terminal.alerts import Alert
from pos_app.terminal.till import Till
from pos_app.tui.collector import Collector


class TillApp(Protocol):
    """The till's app as its screens see it (``PosApp`` in pos_app.tui.app)."""

    till: Till
    sandbox: bool
    #: The managers' web console the embedded default started (F2 shows it); None: not started here.
    console_url: str | None
    engine_online: bool | None
    wedge_max_gap_s: float
    poll_interval_s: float
    collector: Collector
    #: The money alerts no cashier has acknowledged yet.
    alerts: list[Alert]

    def worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A screen's worker changed state: a failure is said once, for every screen alike."""

    def journal_written(self) -> None:
        """A screen wrote to the journal: the outbox upload wakes up."""

    def alerts_changed(self) -> None:
        """An alert was acknowledged (or raised): the open alerts are read again."""

    def after_login(self) -> None:
        """The cashier signed in: settle what is open, then the checkout."""

    def logout(self) -> None:
        """Back to the sign-in screen."""

    def next_sale(self) -> None:
        """The sale is over: back to a clean checkout for the next customer."""
