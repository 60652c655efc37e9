"""The till's garbage-collection pacing (pos_app.tui.collector): what it changes in the process."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from textual._styles_cache import StylesCache
from textual.color import Color

from pos_app.tui.collector import FULL_EVERY, IDLE_EVERY_S, Collector


class Cycle:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def collector() -> Iterator[Collector]:
    before = gc.get_threshold()
    now = [1000.0]
    pacer = Collector(clock=lambda: now[0])
    pacer.now = now  # type: ignore[attr-defined]
    yield pacer
    pacer.stop()
    gc.set_threshold(*before)
    gc.unfreeze()


def test_start_pushes_only_full_collections_out_and_stop_restores_them(collector: Collector) -> None:
    young, middle, _ = gc.get_threshold()
    collector.start()
    assert gc.get_threshold() == (young, middle, FULL_EVERY)
    collector.stop()
    assert gc.get_threshold() == (young, middle, 10)


def test_signed_in_freezes_live_objects_once_and_not_garbage(collector: Collector) -> None:
    gc.unfreeze()
    garbage = Cycle()
    dead = weakref.ref(garbage)
    del garbage
    collector.signed_in()
    frozen = gc.get_freeze_count()
    assert frozen > 1000  # everything start-up built (modules, classes) is out of the collector's way
    assert dead() is None  # collected before freezing: garbage is never frozen (kept forever)
    collector.signed_in()
    assert gc.get_freeze_count() == frozen  # once per process
    collector.stop()
    assert gc.get_freeze_count() == 0


def test_idle_collects_cycles_and_drops_textuals_widget_cache(collector: Collector) -> None:
    was = gc.isenabled()
    gc.disable()  # no automatic collection may free the cycle first
    try:
        garbage = Cycle()
        dead = weakref.ref(garbage)
        del garbage
        # A removed widget's StylesCache stays a key of this class-wide lru_cache until cleared.
        styles = StylesCache()
        styles.get_inner_outer(Color(0, 0, 0), Color(255, 255, 255))
        assert StylesCache.get_inner_outer.cache_info().currsize >= 1
        kept = weakref.ref(styles)
        del styles
        assert kept() is not None
        took = collector.idle()
        assert dead() is None
        assert kept() is None
        assert StylesCache.get_inner_outer.cache_info().currsize == 0
        assert took >= 0 and collector.full_runs == 1
    finally:
        if was:
            gc.enable()


def test_overdue_after_the_idle_interval(collector: Collector) -> None:
    now: list[float] = collector.now  # type: ignore[attr-defined]
    collector.idle()
    assert not collector.overdue()
    now[0] += IDLE_EVERY_S - 1
    assert not collector.overdue()
    now[0] += 1
    assert collector.overdue()
    collector.idle()
    assert not collector.overdue()
