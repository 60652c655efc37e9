"""What the till says about a background process of the embedded default (the engine or the sandbox
gateways) that crashed: a short status-bar line and the full detail with the log and what to do."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pos_app.i18n import N_, _

#: The children's names as the cashier reads them (the supervisor knows them as "engine", "sandbox").
CHILD_WORDS = {"engine": N_("engine"), "sandbox": N_("sandbox gateways")}


class ChildState(StrEnum):
    #: Crashed; started again (or about to be) and not answering its health check yet.
    RESTARTING = "restarting"
    #: Crashed too often in a short time: no more restarts.
    GAVE_UP = "gave_up"


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

    def name(self) -> str:
        return _(CHILD_WORDS.get(self.child, self.child))

    def short(self) -> str:
        """At most about 30 cells (the status bar holds it at 80 columns); F5 opens :meth:`detail`."""
        if self.state is ChildState.GAVE_UP:
            return _("{name} keeps crashing — F5").format(name=self.name())
        return _("{name} restarting ({n}) — F5").format(name=self.name(), n=self.restarts)

    def notice(self) -> str:
        """The one-time notice when the problem appears (the status bar keeps :meth:`short`)."""
        if self.state is ChildState.GAVE_UP:
            return _(
                "The {name} keeps crashing: restarts have stopped. Cash sales still work — F5 for what to do."
            ).format(name=self.name())
        return _("{name} stopped (exit {code}) — restarting it ({n}).").format(
            name=self.name(), code=self.exit_code, n=self.restarts
        )

    def detail(self) -> str:
        """Everything the cashier (or whoever they call) needs: what happened, the log, what to do."""
        lines = [
            _("The {name} stopped (exit status {code}).").format(name=self.name(), code=self.exit_code),
        ]
        if self.state is ChildState.GAVE_UP:
            lines += [
                _("It crashed {n} times in a short time, so the till stopped restarting it.").format(n=self.restarts),
                "",
                _("What to do:"),
                _("• Wallet payments (QR and scan) are off; cash sales still work."),
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
                _("• Wallet payments wait for it; cash sales still work."),
                _("• Do not hand over goods for a payment that has not shown PAID."),
            ]
        lines += ["", _("Log file:"), self.log_path]
        return "\n".join(lines)
