"""The till's one handler of failed workers: worded for the cashier (never a traceback), then handed
to the screen that started the worker.

A part of :class:`~pos_app.tui.app.PosApp` (a Textual app mixin).
"""

from __future__ import annotations

import logging

from textual.app import App
from textual.worker import Worker, WorkerState

from pos_app.terminal.error_words import describe

log = logging.getLogger(__name__)


class WorkerErrors(App[None]):
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        self.worker_state_changed(event)

    def worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Every worker's failure, the app's own and (forwarded, since ``Worker.StateChanged`` does not
        bubble) each screen's: worded for the cashier, then handed to the screen's ``worker_failed``."""
        if event.state != WorkerState.ERROR or event.worker.error is None:
            return
        error = event.worker.error
        if event.worker.group in {"health", "events"}:
            log.warning("background worker %s failed: %r", event.worker.group, error)
        message = describe(error)
        if message.unexpected:
            log.exception("worker %s failed", event.worker.name, exc_info=error)
        self.notify(message.text, title=message.title, severity=message.severity, timeout=10)  # type: ignore[arg-type]
        # The screen (or modal) that started the worker hears of it, not whichever is on top now.
        origin = event.worker.node
        handler = getattr(origin if origin is not self else self.screen, "worker_failed", None)
        if callable(handler):
            handler(error)
