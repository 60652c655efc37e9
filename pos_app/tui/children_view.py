"""The start and the health of the embedded default's children (engine, sandbox) as the till shows them.

A part of :class:`~pos_app.tui.app.PosApp` (a Textual app mixin): the status bar follows the
children's start, the engine counts as online the moment it answers, and a child that crashed (or
came back) is said once. The app sets the state up in ``PosApp.__init__``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.app import App
from textual.timer import Timer

from pos_app.i18n import _
from pos_app.terminal.background import BackgroundProblem, StartProgress, StartState
from pos_app.tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from textual.worker import Worker

#: Returns the problem of a process outside the app (a crashed child of the embedded default), or None.
Watchdog = Callable[[], BackgroundProblem | None]
#: Returns where the embedded default's children are in their start (read until every one is done).
Progress = Callable[[], StartProgress]
#: How often the start of the children is looked at (the engine goes online at the next look).
PROGRESS_INTERVAL_S = 0.05


class ChildrenView(App[None]):
    watchdog: Watchdog | None
    progress: Progress | None
    #: The children's start while it is under way (None: nothing starting, or done).
    starting: StartProgress | None
    #: Follows the children's start (set on mount when there is a start to follow).
    progress_timer: Timer
    problem: BackgroundProblem | None
    #: Owned by the engine link (pos_app.tui.engine_link), which a ready engine sets going at once.
    events_connected: bool

    if TYPE_CHECKING:  # the app's other parts, which the end of a start drives

        def health_loop(self) -> Worker[None]: ...

        def events_loop(self) -> Worker[None]: ...

        def import_later_screens(self) -> Worker[None]: ...

    def engine_starting(self) -> bool:
        """The embedded default's engine is still starting (not away: the status bar says so)."""
        return self.starting is not None and self.starting.state("engine") is StartState.STARTING

    def check_progress(self) -> None:
        """Follow the children's start: the engine counts as online the moment it answers."""
        if self.progress is None or self.starting is None:
            return
        before, now = self.starting, self.progress()
        if now == before:
            return
        self.starting = None if now.done else now
        if before.state("engine") is StartState.STARTING and now.state("engine") is StartState.READY:
            self.health_loop()  # exclusive: a look now, not after the loop's sleep
            if not self.events_connected:
                self.events_loop()  # the stream failed while the engine started: follow it now
        if now.done:
            self.progress_timer.stop()
            self.check_watchdog()  # a child that did not start is said at once
            self.import_later_screens()  # not before: the children's start has the CPU first
        self.status_changed()

    def status_changed(self) -> None:
        """Redraw the status bar now rather than at its next half-second look."""
        if not self.screen_stack:  # starting or ending: no screen to redraw
            return
        for bar in self.screen.query(StatusBar):
            bar.refresh_status()

    def check_watchdog(self) -> None:
        if self.watchdog is None:
            return
        problem = self.watchdog()
        if problem is not None and problem != self.problem:
            self.notify(problem.notice(), title=_("Background process"), severity="error", timeout=30)
        elif problem is None and self.problem is not None:
            self.notify(
                _("The {name} is running again.").format(name=self.problem.name()), title=_("Background process")
            )
        self.problem = problem
