"""How the console shows values: money in yuan, instants in China time (the stores' time)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from pos_app.domain.china_time import in_china
from pos_app.domain.money import format_fen
from pos_app.i18n import N_

DIFFERENCES = {
    "terminal_only": N_("Only in the till's journal"),
    "engine_only": N_("Only in the ledger"),
    "state": N_("Paid on one side only"),
    "amount": N_("Amounts differ"),
    "refunded": N_("Refunds differ"),
}
NO_CHANNEL = N_("No wallet yet")
CHANNELS = {"wechat": N_("WeChat Pay"), "alipay": N_("Alipay"), "cash": N_("Cash")}


def money(fen: int) -> str:
    return format_fen(fen)


def moment(at: datetime | None) -> str:
    """China time; a naive datetime from the ledger is UTC (its convention: engine.store.utc_columns)."""
    if at is None:
        return "—"
    return in_china(at if at.tzinfo is not None else at.replace(tzinfo=UTC)).strftime("%Y-%m-%d %H:%M:%S")


def labelled(rows: Iterable[tuple[Any, Any]]) -> list[tuple[str, Any]]:
    """Table rows keyed by a value or a tuple of values (store, till) → a readable label ("S00001 · T001")."""
    return [(" · ".join(map(str, key)) if isinstance(key, tuple) else str(key), value) for key, value in rows]


def channel(code: str | None) -> str:
    """The English name of a channel code (the template translates it); a one-QR payment no wallet
    opened yet has none."""
    if not code:
        return NO_CHANNEL
    return CHANNELS.get(code, code)


def channel_rows(rows: Iterable[tuple[str | None, Any]], translate: Callable[[str], str]) -> list[tuple[str, Any]]:
    return [(translate(channel(code)), value) for code, value in rows]


def difference(kind: str) -> str:
    """The English name of a journal-versus-ledger difference (the template translates it)."""
    return DIFFERENCES.get(kind, kind)
