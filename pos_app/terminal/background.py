"""What the till says about the background processes of the embedded default (the engine and the
sandbox gateways): their progress while they start (the till is usable meanwhile), and one that did
not start or crashed — a short status-bar line and the full detail with the log and what to do."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pos_app.i18n import N_, _

#: The children's names as the cashier reads them (the supervisor knows them as "engine", "sandbox").
CHILD_WORDS = {"engine": N_("engine"), "sandbox": N_("sandbox gateways"), "console": N_("manager console")}


class ChildState(StrEnum):
    #: Crashed; started again (or about to be) and not answering its health check yet.
    RESTARTING = "restarting"
    #: Crashed too often in a short time: no more restarts.
    GAVE_UP = "gave_up"
    #: Stopped, or did not answer in time, while starting: not restarted (it would fail again).
    NOT_STARTED = "not_started"


class StartState(StrEnum):
    STARTING = "starting"
    READY = "ready"
    FAILED = "failed"


#: The status bar's words for a child still starting, and for one ready while another still starts.
STARTING_WORDS = {
    "engine": N_("◌ Starting the payment engine…"),
    "sandbox": N_("◌ Starting the sandbox gateways…"),
    "console": N_("◌ Starting the manager console…"),
}
READY_WORDS = {"sandbox": N_("✓ Sandbox ready"), "console": N_("✓ Console ready")}


@dataclass(frozen=True, slots=True)
class StartProgress:
    """Each launched child's start, in launch order (a failed one is also a BackgroundProblem)."""

    states: tuple[tuple[str, StartState], ...] = ()

    def state(self, child: str) -> StartState | None:
        return dict(self.states).get(child)

    @property
    def done(self) -> bool:
        """No child is starting any more (each answered, or failed)."""
        return all(state is not StartState.STARTING for _child, state in self.states)

    def parts(self) -> list[tuple[str, bool]]:
        """The status bar's words while a start is under way: (text, still starting) per child other
        than the engine, whose line (starting / online) is the status bar's own. Empty once done."""
        if self.done:
            return []
        words = []
        for child, state in self.states:
            if child == "engine" or state is StartState.FAILED:
                continue  # a failed child is shown as a problem
            if state is StartState.STARTING:
                words.append((_(STARTING_WORDS.get(child, child)), True))
            else:
                words.append((_(READY_WORDS.get(child, child)), False))
        return words


@dataclass(frozen=True, slots=True)
class BackgroundProblem:
    """One child process that is not healthy, as the supervisor reports it."""

    child: str
    state: ChildState
    #: Crashes counted in the supervisor's window (the restart under way is number ``restarts``).
    restarts: int
    #: The exit status of its last crash (negative: killed by that signal).
    exit_code: int | None
    log_path: str
    #: NOT_STARTED: the last lines of its log (the program's own words, not translated).
    reason: str = ""

    def name(self) -> str:
        return _(CHILD_WORDS.get(self.child, self.child))

    def short(self) -> str:
        """At most about 30 cells (the status bar holds it at 80 columns); F5 opens :meth:`detail`."""
        if self.state is ChildState.NOT_STARTED:
            return _("{name} did not start — F5").format(name=self.name())
        if self.state is ChildState.GAVE_UP:
            return _("{name} keeps crashing — F5").format(name=self.name())
        return _("{name} restarting ({n}) — F5").format(name=self.name(), n=self.restarts)

    def affects_payments(self) -> bool:
        """The manager console only serves browsers: the till's payments do not need it."""
        return self.child != "console"

    def _effect(self, while_restarting: bool = False) -> list[str]:
        if not self.affects_payments():
            return [_("• Payments are not affected: only the managers' browser console is away.")]
        if while_restarting:
            return [
                _("• Wallet payments wait for it; cash sales still work."),
                _("• Do not hand over goods for a payment that has not shown PAID."),
            ]
        return [_("• Wallet payments (QR and scan) are off; cash sales still work.")]

    def notice(self) -> str:
        """The one-time notice when the problem appears (the status bar keeps :meth:`short`)."""
        if not self.affects_payments() and self.state is not ChildState.RESTARTING:
            return _("The {name} is not running; payments are not affected — F5 for what to do.").format(
                name=self.name()
            )
        if self.state is ChildState.NOT_STARTED:
            return _("The {name} did not start. Cash sales still work — F5 for what to do.").format(name=self.name())
        if self.state is ChildState.GAVE_UP:
            return _(
                "The {name} keeps crashing: restarts have stopped. Cash sales still work — F5 for what to do."
            ).format(name=self.name())
        return _("{name} stopped (exit {code}) — restarting it ({n}).").format(
            name=self.name(), code=self.exit_code, n=self.restarts
        )

    def detail(self) -> str:
        """Everything the cashier (or whoever they call) needs: what happened, the log, what to do."""
        if self.state is ChildState.NOT_STARTED:
            return self._not_started_detail()
        lines = [
            _("The {name} stopped (exit status {code}).").format(name=self.name(), code=self.exit_code),
        ]
        if self.state is ChildState.GAVE_UP:
            lines += [
                _("It crashed {n} times in a short time, so the till stopped restarting it.").format(n=self.restarts),
                "",
                _("What to do:"),
                *self._effect(),
                _("• Quit the till (Ctrl+Q) and start it again."),
                _("• If it happens again, run `pos doctor` and send the log below to your support."),
            ]
        else:
            lines += [
                _("The till is starting it again (restart {n}); this line clears when it answers.").format(
                    n=self.restarts
                ),
                "",
                _("Meanwhile:"),
                *self._effect(while_restarting=True),
            ]
        lines += ["", _("Log file:"), self.log_path]
        return "\n".join(lines)

    def _not_started_detail(self) -> str:
        if self.exit_code is None:
            what = _("The {name} did not answer while starting, so the till stopped it.").format(name=self.name())
        else:
            what = _("The {name} stopped while starting (exit status {code}).").format(
                name=self.name(), code=self.exit_code
            )
        lines = [what]
        if self.reason:
            lines += [_("The last lines of its log:"), self.reason]
        lines += [
            "",
            _("What to do:"),
            *self._effect(),
            _("• Quit the till (Ctrl+Q) and start it again: another till may have held its port."),
            _("• If it still does not start, run `pos doctor` and send the log below to your support."),
            "",
            _("Log file:"),
            self.log_path,
        ]
        return "\n".join(lines)
