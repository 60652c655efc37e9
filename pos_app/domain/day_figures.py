"""The figures of a business day: counts and amounts (fen) of sales, refunds and voids by channel,
cashier and local hour, as X/Z reports, the dashboard and `pos report daily` show them."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from pos_app.domain.routing import Channel

#: The channels every day's table lists, in this order (a channel with no business shows zeros).
CHANNELS: tuple[Channel, ...] = (Channel.WECHAT, Channel.ALIPAY, Channel.CASH)


@dataclass(slots=True)
class Figures:
    """Counts and amounts (fen) of one slice of a day."""

    sales_count: int = 0
    sales_fen: int = 0
    refunds_count: int = 0
    refunds_fen: int = 0
    voids_count: int = 0
    voids_fen: int = 0

    @property
    def net_fen(self) -> int:
        return self.sales_fen - self.refunds_fen

    @classmethod
    def from_dict(cls, stored: dict[str, int]) -> Figures:
        return cls(**{f.name: int(stored.get(f.name, 0)) for f in fields(cls)})

    def add(self, other: Figures) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        return {
            "sales_count": self.sales_count,
            "sales_fen": self.sales_fen,
            "refunds_count": self.refunds_count,
            "refunds_fen": self.refunds_fen,
            "voids_count": self.voids_count,
            "voids_fen": self.voids_fen,
            "net_fen": self.net_fen,
        }


@dataclass(slots=True)
class DayTotals:
    """The money figures of one business day (the part of X/Z shared with `pos report daily`)."""

    business_day: str
    terminal_id: str | None
    offset_minutes: int
    total: Figures = field(default_factory=Figures)
    channels: dict[str, Figures] = field(default_factory=lambda: {c.value: Figures() for c in CHANNELS})
    cashiers: dict[str, Figures] = field(default_factory=dict)
    #: local hour "00".."23" -> (sales count, sales fen)
    hours: dict[str, tuple[int, int]] = field(default_factory=dict)
    first_receipt: str | None = None
    last_receipt: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "business_day": self.business_day,
            "terminal_id": self.terminal_id,
            "utc_offset_minutes": self.offset_minutes,
            "total": self.total.as_dict(),
            "channels": {name: figures.as_dict() for name, figures in self.channels.items()},
            "cashiers": {name: self.cashiers[name].as_dict() for name in sorted(self.cashiers)},
            "hours": {hour: {"sales_count": c, "sales_fen": a} for hour, (c, a) in sorted(self.hours.items())},
            "first_receipt": self.first_receipt,
            "last_receipt": self.last_receipt,
        }

    @classmethod
    def from_report(cls, content: dict[str, Any]) -> DayTotals:
        """The figures an X or Z report's content holds (a Z's are its day's figures for good)."""
        return cls(
            business_day=content["business_day"],
            terminal_id=content["terminal_id"],
            offset_minutes=int(content["utc_offset_minutes"]),
            total=Figures.from_dict(content["total"]),
            channels={name: Figures.from_dict(figures) for name, figures in content["channels"].items()},
            cashiers={name: Figures.from_dict(figures) for name, figures in content["cashiers"].items()},
            hours={hour: (int(f["sales_count"]), int(f["sales_fen"])) for hour, f in content["hours"].items()},
            first_receipt=content["first_receipt"],
            last_receipt=content["last_receipt"],
        )
