"""The pure hash chain (pos_app.domain.chain): the journal writes with it, the engine re-checks with it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pos_app import journal
from pos_app.domain.chain import GENESIS_HASH, ChainLink, canonical_json, event_hash, first_break, utc_text
from pos_app.journal import events as journal_events

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
payloads = st.dictionaries(st.text(min_size=1, max_size=8), json_values, max_size=6)


def build(payload_list: list[dict[str, object]]) -> list[ChainLink]:
    links, prev = [], GENESIS_HASH
    start = datetime(2026, 11, 22, 1, 2, 3, tzinfo=UTC)
    for seq, payload in enumerate(payload_list, start=1):
        at = utc_text(start + timedelta(seconds=seq))
        digest = event_hash(seq=seq, kind="k", payload=payload, at=at, prev_hash=prev)
        links.append(ChainLink(seq, "k", payload, at, prev, digest))
        prev = digest
    return links


def test_known_answer() -> None:
    # Written out by hand so a change of the scheme (key order, separators, escaping) fails here.
    at = "2026-11-22T10:49:07.000000+00:00"
    payload = {"cashier": "王", "amount_fen": 1230}
    text = (
        '{"at":"2026-11-22T10:49:07.000000+00:00","kind":"sale.cash","payload":{"amount_fen":1230,"cashier":"王"},'
        '"prev_hash":"' + "0" * 64 + '","seq":1}'
    )
    assert event_hash(seq=1, kind="sale.cash", payload=payload, at=at, prev_hash=GENESIS_HASH) == (
        hashlib.sha256(text.encode("utf-8")).hexdigest()
    )
    assert GENESIS_HASH == "0" * 64


def test_canonical_json_sorts_keys_without_spaces_and_keeps_unicode() -> None:
    assert canonical_json({"b": 1, "a": [1, "é"]}) == '{"a":[1,"é"],"b":1}'


def test_utc_text_normalises_offsets_and_refuses_naive_times() -> None:
    beijing = timezone(timedelta(hours=8))
    assert utc_text(datetime(2026, 11, 22, 18, 0, tzinfo=beijing)) == "2026-11-22T10:00:00.000000+00:00"
    with pytest.raises(ValueError):
        utc_text(datetime(2026, 11, 22, 18, 0))


def test_the_journal_uses_the_same_scheme() -> None:
    assert journal_events.event_hash is event_hash
    assert journal.canonical_json is canonical_json
    assert journal.GENESIS_HASH == GENESIS_HASH
    moment = datetime(2026, 11, 22, 18, 0, 0, 5, tzinfo=timezone(timedelta(hours=8)))
    assert journal.at_text(moment) == utc_text(moment)


@given(st.lists(payloads, min_size=1, max_size=8))
def test_a_built_chain_verifies(payload_list: list[dict[str, object]]) -> None:
    assert first_break(build(payload_list)) is None


@given(st.lists(payloads, min_size=2, max_size=8), st.data())
def test_any_edit_deletion_or_reorder_is_found(payload_list: list[dict[str, object]], data: st.DataObject) -> None:
    links = build(payload_list)
    index = data.draw(st.integers(0, len(links) - 1))
    victim = links[index]
    edit = data.draw(st.sampled_from(["payload", "kind", "at", "seq", "delete", "swap"]))
    if edit == "payload":
        # The key is longer than any the strategy draws, so this is always a change.
        links[index] = replace(victim, payload={**victim.payload, "edited-by-test": True})
    elif edit == "kind":
        links[index] = replace(victim, kind=victim.kind + "x")
    elif edit == "at":
        links[index] = replace(victim, at=victim.at.replace(".000000", ".000001"))
    elif edit == "seq":
        links[index] = replace(victim, seq=victim.seq + 100)
    elif edit == "delete":
        del links[index]
        if index == len(links):  # deleting the last event leaves a valid (shorter) chain
            return
    else:
        other = (index + 1) % len(links)
        links[index], links[other] = links[other], links[index]
    assert first_break(links) is not None


def test_a_rehashed_edit_is_still_found_by_the_next_link() -> None:
    links = build([{"n": 1}, {"n": 2}, {"n": 3}])
    second = links[1]
    payload = {"n": 200}
    forged = ChainLink(2, second.kind, payload, second.at, second.prev_hash, "")
    forged = ChainLink(2, second.kind, payload, second.at, second.prev_hash, forged.computed_hash())
    assert first_break([links[0], forged, links[2]]) == "event 3 does not follow event 2"
    assert first_break(links[1:], prev_hash=links[0].hash, first_seq=2) is None
    assert first_break(links[1:]) == "event 2 where 1 was expected"
    assert json.loads(canonical_json(links[0].payload)) == {"n": 1}
