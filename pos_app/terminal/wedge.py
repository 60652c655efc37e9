"""Telling a USB barcode scanner (keyboard wedge) from a person typing, by key timing.

A scanner in keyboard-wedge mode "types" the whole code in a burst — a few milliseconds between
keys — and ends it with Enter. A person types at 100–300 ms a key. We collect keys with their
arrival time; at Enter the line is a *scan* when it is long enough to be a payment code and every
gap between its keys was short, otherwise it is *typed*.

Pure: times are passed in (seconds, monotonic), so the classifier is tested without a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

#: Scanners send a key every 1–20 ms; the fastest typists rarely go under 60 ms between keys.
DEFAULT_MAX_GAP_S = 0.035
#: Payment codes are 16–24 digits; amounts and PINs are far shorter.
DEFAULT_MIN_LENGTH = 12


@dataclass(frozen=True, slots=True)
class Line:
    """One finished line (ended by Enter)."""

    text: str
    source: Literal["scanner", "typed"]
    #: Length of the longest run of fast keys at the end of the line (what a scanner appended).
    burst_length: int


@dataclass(slots=True)
class WedgeClassifier:
    max_gap_s: float = DEFAULT_MAX_GAP_S
    min_length: int = DEFAULT_MIN_LENGTH
    _chars: list[str] = field(default_factory=list)
    _times: list[float] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self._chars)

    def reset(self) -> None:
        self._chars.clear()
        self._times.clear()

    def key(self, char: str, at: float) -> None:
        """A printable character arrived at time ``at``."""
        self._chars.append(char)
        self._times.append(at)

    def backspace(self) -> None:
        if self._chars:
            self._chars.pop()
            self._times.pop()

    def burst_length(self, at: float | None = None) -> int:
        """How many trailing keys arrived as one fast burst (``at``: when Enter came, if known)."""
        if not self._times:
            return 0
        if at is not None and at - self._times[-1] > self.max_gap_s:
            return 0
        length = 1
        for earlier, later in zip(reversed(self._times[:-1]), reversed(self._times[1:]), strict=True):
            if later - earlier > self.max_gap_s:
                break
            length += 1
        return length

    def enter(self, at: float) -> Line:
        """Enter arrived: classify and return the line, and start a new one."""
        burst = self.burst_length(at)
        text = self.text
        source: Literal["scanner", "typed"] = "scanner" if burst >= self.min_length and burst == len(text) else "typed"
        self.reset()
        return Line(text, source, burst)

    def split_burst(self, at: float) -> tuple[str, str] | None:
        """If the line ends in a scanner burst typed into other input, return (typed part, scanned part).

        Used on the checkout screen: a cashier may have typed an amount and then the scanner fires a
        payment code into the same field. None when the end of the line is not a long fast burst.
        """
        burst = self.burst_length(at)
        if burst < self.min_length:
            return None
        text = self.text
        return text[: len(text) - burst], text[len(text) - burst :]
