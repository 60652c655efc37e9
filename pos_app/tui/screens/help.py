"""Every key of every screen. The whole till works without a mouse."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "Everywhere",
        [
            ("F1", "this help"),
            ("F2", "manager dashboard (manager PIN)"),
            ("F3", "open / close the shift (blind count)"),
            ("F4", "attention: money alerts to deal with"),
            ("F5", "background processes (a crash, its log)"),
            ("Ctrl+Q", "quit the till"),
            ("Esc", "back / cancel"),
        ],
    ),
    ("Sign in", [("name ⏎ PIN ⏎", "sign in (or just the PIN)"), ("F6", "a manager unlocks a locked-out person")]),
    (
        "Checkout",
        [
            ("0–9 . Backspace", "type the amount"),
            ("i / d", "add an item line / remove the last one"),
            ("t", "payment subject"),
            ("w / a", "WeChat Pay / Alipay QR for the customer"),
            ("s", "scan the customer's payment code"),
            ("(scanner)", "a code scanned here pays at once"),
            ("c", "cash"),
            ("h", "today's sales (history)"),
            ("Esc", "clear the sale"),
            ("Ctrl+L", "sign out"),
        ],
    ),
    ("QR", [("Esc", "cancel: closes the order"), ("Enter", "back when the payment is over")]),
    (
        "Scan",
        [
            ("digits + Enter", "the payment code (scanner or typed)"),
            ("(next code)", "after a refusal: a new order, same amount"),
            ("f", "read the code from a picture file"),
            ("r", "retry the SAME order after a network error"),
            ("Esc", "back"),
        ],
    ),
    ("Cash", [("digits, Enter", "cash tendered (empty = exact), shows the change")]),
    ("Result", [("Enter / n", "next sale"), ("h", "history")]),
    (
        "Dashboard",
        [("[ / ]", "previous / next day"), ("t", "today"), ("x", "X report"), ("z", "Z report: close the day")],
    ),
    ("History", [("type", "search: amount, time, channel, order no, cashier:name"), ("↑↓ Enter", "open a sale")]),
    (
        "Sale",
        [
            ("r", "refund part or all (manager PIN)"),
            ("v", "void: a reason, then the manager PIN"),
            ("p", "receipt on screen; p again reprints"),
        ],
    ),
    ("Open payments", [("r", "retry settling"), ("Enter", "continue"), ("Esc", "continue, cash only")]),
    (
        "Attention",
        [("↑↓", "choose an alert"), ("Enter", "goods handed over / dealt with"), ("r", "refund it (manager PIN)")],
    ),
]


def help_text() -> str:
    lines: list[str] = []
    for section, keys in KEYS:
        lines.append(f"[b]{section}[/b]")
        lines += [f"  {key:<18} {what}" for key, what in keys]
        lines.append("")
    return "\n".join(lines).rstrip()


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "close", "Close"), Binding("f1", "close", "Close"), Binding("q", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="modal", id="help"):
            yield Static("[b]Keys[/b]  (Esc closes)\n")
            yield Static(help_text())

    def action_close(self) -> None:
        self.dismiss(None)
