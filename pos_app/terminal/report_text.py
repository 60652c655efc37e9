"""The text of an X or Z report (or of `pos report daily`): a fixed-width table in the till's
language, its columns counted in terminal cells so that it holds double-width characters."""

from __future__ import annotations

import io
from typing import Any

from pos_app.cells import cut, pad, width, wrap
from pos_app.domain.money import format_fen
from pos_app.domain.routing import Channel
from pos_app.i18n import _
from pos_app.terminal.alerts import Alert

#: Cells of the widest line: fits an 80-column terminal with a scrollbar.
REPORT_WIDTH = 74


def render_text(content: dict[str, Any]) -> str:
    """A fixed-width text table of a daily figures dict (``DayTotals.as_dict()`` or an X/Z report), in
    the language of the process (``pos_app.i18n``); columns are counted in terminal cells."""
    out = io.StringIO()
    title = _("Day {day}").format(day=content["business_day"])
    if isinstance(content.get("closed_by_z"), int):
        title += " " + _("(closed, Z #{number})").format(number=content["closed_by_z"])
    if content.get("report"):
        kind = content["report"]
        report = (
            _("{kind} report #{number}").format(kind=kind, number=content["number"])
            if content.get("number")
            else _("{kind} report").format(kind=kind)
        )
        title = f"{report} · {title}"
    if content.get("terminal_id"):
        title += " · " + _("terminal {id}").format(id=content["terminal_id"])
    out.write(title + "\n\n")
    widths = (11, 5, 12, 8, 10, 6, 10, 12)
    titles = ("", _("sales"), _("amount"), _("refunds"), _("amount"), _("voids"), _("amount"), _("net"))
    header = pad(titles[0], widths[0]) + "".join(
        pad(t, w, right=True) for t, w in zip(titles[1:], widths[1:], strict=True)
    )

    def row(label: str, figures: dict[str, int]) -> str:
        values = (
            str(figures["sales_count"]),
            format_fen(figures["sales_fen"]),
            str(figures["refunds_count"]),
            format_fen(figures["refunds_fen"]),
            str(figures["voids_count"]),
            format_fen(figures["voids_fen"]),
            format_fen(figures["net_fen"]),
        )
        line = pad(cut(label, widths[0] - 1), widths[0])
        return (
            line
            + "".join(pad(value, cells, right=True) for value, cells in zip(values, widths[1:], strict=True))
            + "\n"
        )

    out.write(_("By channel") + "\n" + header + "\n")
    for name, figures in content["channels"].items():
        # Channel labels are marked for the catalog in pos_app.terminal.text (CHANNEL_NAMES).
        out.write(row(_(Channel(name).label) if name in set(Channel) else name, figures))
    out.write(row(_("TOTAL"), content["total"]))
    out.write("\n" + _("By cashier") + "\n" + header + "\n")
    for name, figures in content["cashiers"].items():
        out.write(row(name, figures))
    out.write("\n" + _("By hour") + "\n")
    for hour, figures in content["hours"].items():
        out.write(f"  {hour}:00  {figures['sales_count']:>6}  {format_fen(figures['sales_fen']):>14}\n")
    receipts = (_("First receipt:"), _("Last receipt:"))
    column = max(width(label) for label in receipts) + 1
    out.write("\n" + pad(receipts[0], column) + (content["first_receipt"] or "-") + "\n")
    out.write(pad(receipts[1], column) + (content["last_receipt"] or "-") + "\n")
    cash = content.get("cash")
    if cash:
        line = _("Cash: expected {expected} · counted {counted} · difference {difference}").format(
            expected=format_fen(cash["expected_fen"]),
            counted=format_fen(cash["counted_fen"]),
            difference=format_fen(cash["difference_fen"]),
        )
        if cash["open_shifts"]:
            line += " · " + _("{count} shift(s) still open").format(count=cash["open_shifts"])
        out.write("\n" + line + "\n")
    waiting = len(content.get("unsettled_payments", [])) + len(content.get("unsettled_refunds", []))
    if waiting:
        out.write("\n" + _("{count} payment(s)/refund(s) still unsettled.").format(count=waiting) + "\n")
    alerts = content.get("open_alerts")
    if alerts:
        out.write(
            "\n"
            + _("{count} open alert(s): money that ended differently from what the cashier saw").format(
                count=len(alerts)
            )
            + "\n"
        )
        for stored in alerts:
            alert = Alert.from_stored(stored)
            lines = [*wrap(alert.headline(), REPORT_WIDTH - 4), *wrap(alert.remedy(), REPORT_WIDTH - 4)]
            out.write("".join(("  ! " if number == 0 else "    ") + line + "\n" for number, line in enumerate(lines)))
    late = content.get("late_settlements")
    if late:
        out.write("\n" + _("Late settlements after close (not in the figures above)") + "\n")
        for payment in late:
            out.write(
                f"  {payment['out_trade_no']}  {payment['channel']:<7}{format_fen(payment['amount_fen']):>11}"
                f"  {payment['state_at_close']} -> {payment['state']}  {payment['at'][:19].replace('T', ' ')} UTC\n"
            )
    return out.getvalue()
