"""Every key of every screen. The whole till works without a mouse."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from pos_app.cells import pad
from pos_app.i18n import N_, _

#: Section, then (key, what it does): English, marked with N_ and translated when shown (key names
#: are the keys' own labels and stay as they are; _() of a text not in the catalog returns it).
KEYS: list[tuple[str, list[tuple[str, str]]]] = [
    (
        N_("Everywhere"),
        [
            ("F1", N_("this help")),
            ("F2", N_("manager dashboard (manager PIN)")),
            ("F3", N_("open / close the shift (blind count)")),
            ("F4", N_("attention: money alerts to deal with")),
            ("F5", N_("background processes (a crash, its log)")),
            ("Ctrl+Q", N_("quit the till")),
            ("Esc", N_("back / cancel")),
        ],
    ),
    (
        N_("Sign in"),
        [
            (N_("name ⏎ PIN ⏎"), N_("sign in (or just the PIN)")),
            ("F6", N_("a manager unlocks a locked-out person")),
        ],
    ),
    (
        N_("Checkout"),
        [
            ("0–9 . Backspace", N_("type the amount")),
            ("i / d", N_("add an item line / remove the last one")),
            ("t", N_("payment subject")),
            ("q", N_("one QR: the customer scans it with WeChat or Alipay")),
            ("w / a", N_("WeChat Pay / Alipay QR for the customer")),
            ("s", N_("scan the customer's payment code")),
            (N_("(scanner)"), N_("a code scanned here pays at once")),
            ("c", N_("cash")),
            ("h", N_("today's sales (history)")),
            ("Esc", N_("clear the sale")),
            ("Ctrl+L", N_("sign out")),
        ],
    ),
    (N_("QR"), [("Esc", N_("cancel: closes the order")), ("Enter", N_("back when the payment is over"))]),
    (
        N_("Scan"),
        [
            (N_("digits + Enter"), N_("the payment code (scanner or typed)")),
            (N_("(next code)"), N_("after a refusal: a new order, same amount")),
            ("f", N_("read the code from a picture file")),
            ("r", N_("retry the SAME order after a network error")),
            ("Esc", N_("back")),
        ],
    ),
    (N_("Cash"), [(N_("digits, Enter"), N_("cash tendered (empty = exact), shows the change"))]),
    (N_("Result"), [("Enter / n", N_("next sale")), ("h", N_("history"))]),
    (
        N_("Dashboard"),
        [
            ("[ / ]", N_("previous / next day")),
            ("t", N_("today")),
            ("x", N_("X report")),
            ("z", N_("Z report: close the day")),
        ],
    ),
    (
        N_("History"),
        [
            (N_("type"), N_("search: amount, time, channel, order no, cashier:name")),
            ("↑↓ Enter", N_("open a sale")),
        ],
    ),
    (
        N_("Sale"),
        [
            ("r", N_("refund part or all (manager PIN)")),
            ("v", N_("void: a reason, then the manager PIN")),
            ("p", N_("receipt on screen; p again reprints")),
        ],
    ),
    (
        N_("Open payments"),
        [("r", N_("retry settling")), ("Enter", N_("continue")), ("Esc", N_("continue, cash only"))],
    ),
    (
        N_("Attention"),
        [
            ("↑↓", N_("choose an alert")),
            ("Enter", N_("goods handed over / dealt with")),
            ("r", N_("refund it (manager PIN)")),
        ],
    ),
]


def help_text() -> str:
    lines: list[str] = []
    for section, keys in KEYS:
        lines.append(f"[b]{_(section)}[/b]")
        lines += [f"  {pad(_(key), 18)} {_(what)}" for key, what in keys]
        lines.append("")
    return "\n".join(lines).rstrip()


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "close", "Close"), Binding("f1", "close", "Close"), Binding("q", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="modal", id="help"):
            yield Static(_("[b]Keys[/b]  (Esc closes)") + "\n")
            yield Static(help_text())

    def action_close(self) -> None:
        self.dismiss(None)
