"""A closed shift's count against what the drawer and the wallets should hold, per payment method."""

from __future__ import annotations

from dataclasses import dataclass

from pos_app.domain.routing import Channel


@dataclass(frozen=True, slots=True)
class MethodFigures:
    method: Channel
    expected_fen: int
    counted_fen: int

    @property
    def difference_fen(self) -> int:
        """Counted minus expected: negative is a shortage, positive an overage."""
        return self.counted_fen - self.expected_fen


@dataclass(frozen=True, slots=True)
class ShiftCloseResult:
    shift_id: int
    terminal_id: str
    counted_by: str
    counts: dict[int, int]
    methods: tuple[MethodFigures, ...]
    signed_off_by: str | None = None

    def method(self, channel: Channel | str) -> MethodFigures:
        wanted = Channel(channel)
        return next(figures for figures in self.methods if figures.method == wanted)

    @property
    def difference_fen(self) -> int:
        return sum(figures.difference_fen for figures in self.methods)

    @property
    def balanced(self) -> bool:
        return all(figures.difference_fen == 0 for figures in self.methods)
