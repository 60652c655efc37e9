"""A day's reconciliation as ``pos reconcile`` (or the engine's daily run) left it: the files under the
profile's ``reconcile/YYYY-MM-DD/`` (``report.json``, ``report.csv``, ``state.json`` with the upload
status). The console reads them when it runs on the engine's profile (the embedded default and one
machine); a console on another machine sees "no report" until those files are shared with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

REPORTS_DIR = "reconcile"  # beside the engine's profile file, like pos_app.engine.reconcile.runner.Paths


def day_dir(home: Path, day: date) -> Path:
    return home / REPORTS_DIR / day.isoformat()


@dataclass(frozen=True)
class ChannelRow:
    channel: str
    status: str
    problem: str | None
    payments: int
    payments_fen: int
    refunds: int
    refunds_fen: int
    fee_fen: int
    net_fen: int
    ledger_payments: int
    ledger_payments_fen: int
    matched: int
    auto_settled: int
    open_items: int


@dataclass(frozen=True)
class ItemRow:
    kind: str
    channel: str
    out_trade_no: str
    out_refund_no: str | None
    bill_fen: int | None
    ledger_fen: int | None
    terminal_id: str | None
    detail: str
    action: str
    open: bool


@dataclass
class DayReconciliation:
    day: str
    generated_at: str
    complete: bool
    upload_status: str
    channels: list[ChannelRow]
    items: list[ItemRow]  # open items first, then what the bills settled
    kinds: dict[str, int] = field(default_factory=dict)  # open items by kind


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _item(raw: dict[str, Any], is_open: bool) -> ItemRow:
    return ItemRow(
        kind=_str(raw.get("kind")), channel=_str(raw.get("channel")), out_trade_no=_str(raw.get("out_trade_no")),
        out_refund_no=raw.get("out_refund_no") or None, bill_fen=_opt_int(raw.get("bill_fen")),
        ledger_fen=_opt_int(raw.get("ledger_fen")), terminal_id=raw.get("terminal_id") or None,
        detail=_str(raw.get("detail")), action=_str(raw.get("action")), open=is_open,
    )  # fmt: skip


def load_day(home: Path, day: date) -> DayReconciliation | None:
    """The day's report, or None when no reconciliation of that day is on this machine."""
    folder = day_dir(home, day)
    try:
        report = json.loads((folder / "report.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    try:
        state = json.loads((folder / "state.json").read_text("utf-8"))
    except (OSError, ValueError):
        state = {}
    upload = state.get("upload") if isinstance(state, dict) else None
    channels = [
        ChannelRow(
            channel=_str(c.get("channel")),
            status=_str(c.get("status")),
            problem=c.get("problem") or None,
            payments=_int(c.get("payments")),
            payments_fen=_int(c.get("payments_fen")),
            refunds=_int(c.get("refunds")),
            refunds_fen=_int(c.get("refunds_fen")),
            fee_fen=_int(c.get("fee_fen")),
            net_fen=_int(c.get("net_fen")),
            ledger_payments=_int(c.get("ledger_payments")),
            ledger_payments_fen=_int(c.get("ledger_payments_fen")),
            matched=_int(c.get("matched")),
            auto_settled=_int(c.get("auto_settled")),
            open_items=_int(c.get("open_items")),
        )  # fmt: skip
        for c in report.get("channels", [])
        if isinstance(c, dict)
    ]
    items = [_item(i, True) for i in report.get("open_items", []) if isinstance(i, dict)]
    items += [_item(i, False) for i in report.get("settled", []) if isinstance(i, dict)]
    kinds: dict[str, int] = {}
    for item in items:
        if item.open:
            kinds[item.kind] = kinds.get(item.kind, 0) + 1
    return DayReconciliation(
        day=_str(report.get("date")) or day.isoformat(),
        generated_at=_str(report.get("generated_at")),
        complete=bool(report.get("complete")),
        upload_status=_str(upload.get("status")) if isinstance(upload, dict) else "unknown",
        channels=channels,
        items=items,
        kinds=kinds,
    )


def report_csv(home: Path, day: date) -> bytes | None:
    try:
        return (day_dir(home, day) / "report.csv").read_bytes()
    except OSError:
        return None
