"""The journal's hash chain, pure: the one canonical scheme both the terminal and the engine use.

An event's hash is ``sha256(canonical_json({"seq", "kind", "payload", "at", "prev_hash"}))`` as
lowercase hex, where *canonical* JSON is ``json.dumps(sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`` encoded as UTF-8, ``at`` is the ISO-8601 text of the event time in UTC with
microseconds (``2026-11-22T10:49:07.000000+00:00``) and the first event's ``prev_hash`` is
``GENESIS_HASH`` (64 zeros). The terminal journal writes events with it; the engine recomputes it
for every uploaded event, so an event edited in transit or in the journal is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def utc_text(at: datetime) -> str:
    """The canonical text of an aware event time: UTC, microseconds, ``+00:00``."""
    if at.utcoffset() is None:
        raise ValueError("an event time must carry its UTC offset")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(*, seq: int, kind: str, payload: dict[str, Any], at: str, prev_hash: str) -> str:
    """The hash of one event from its content (``at`` already in its canonical text form)."""
    body = {"seq": seq, "kind": kind, "payload": payload, "at": at, "prev_hash": prev_hash}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainLink:
    """One event as far as the chain is concerned."""

    seq: int
    kind: str
    payload: dict[str, Any]
    at: str
    prev_hash: str
    hash: str

    def computed_hash(self) -> str:
        return event_hash(seq=self.seq, kind=self.kind, payload=self.payload, at=self.at, prev_hash=self.prev_hash)


def first_break(links: Iterable[ChainLink], *, prev_hash: str = GENESIS_HASH, first_seq: int = 1) -> str | None:
    """Why ``links`` (in order) are not a valid chain continuing ``prev_hash`` at ``first_seq``, or None."""
    expected_seq, previous = first_seq, prev_hash
    for link in links:
        if link.seq != expected_seq:
            return f"event {link.seq} where {expected_seq} was expected"
        if link.prev_hash != previous:
            return f"event {link.seq} does not follow event {link.seq - 1}"
        if link.computed_hash() != link.hash:
            return f"event {link.seq} does not match its hash"
        expected_seq, previous = link.seq + 1, link.hash
    return None


__all__ = ["GENESIS_HASH", "ChainLink", "canonical_json", "event_hash", "first_break", "utc_text"]
