"""When Python's cyclic garbage collector does its expensive work: while the till is idle, never
between the cashier's key and the QR.

Why the till needs this: a full (generation 2) collection walks every object the process holds, and
the till holds many once it is up, so a full collection stops the screen for long enough that one
landing between the key and the QR alone breaks the sale's 100 ms target (``tests/bench/NOTES.md``
has the figures). Reference counting frees almost everything a sale allocates; what
needs the collector is the few thousand objects of a sale that sit in reference cycles (widgets and
their parents, messages, workers), and collecting those can just as well wait until the sale is over.

So:

1. What start-up built (modules, classes, the stylesheet, the app) is frozen once the sign-in screen
   is drawn, and again once the cashier is signed in (``gc.freeze``): it lives as long as the
   process and is never walked again. Until the sign-in screen is drawn, `pos` runs with automatic
   collection off (``pos_app.process_gc.pause_during_start``).
2. Automatic full collections are pushed far out (``FULL_EVERY``), left only as a safety net.
3. :meth:`Collector.idle` runs a full collection when a sale has ended (the receipt on screen,
   seconds before the next customer's key) and, as a fallback, when none ran for ``IDLE_EVERY_S``.

The young generations keep their automatic collections: they walk only what is new, and stay cheap.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

from pos_app.process_gc import freeze_startup, paused

log = logging.getLogger(__name__)

#: Generation-1 collections between automatic full collections (CPython's default is 10; one sale
#: runs about 4 of them here, so 1000 is a few hundred sales).
FULL_EVERY = 1000
#: A full collection at least this often when sales (which collect as they end) are rare.
IDLE_EVERY_S = 60.0


def _clear_textual_caches() -> None:
    """Drop a Textual cache that keeps dead widgets' rendered lines alive.

    ``StylesCache.get_inner_outer`` is an ``lru_cache(1024)`` on an instance method, so its keys hold
    the ``StylesCache`` of every widget it ever served, and with it that widget's cached strips, long
    after the widget was removed — thousands of objects more per sale, up to 1024 widgets' worth.
    Clearing it costs one recomputation of two styles per widget on its next paint.
    """
    try:
        from textual._styles_cache import StylesCache
    except ImportError:  # a Textual without this module: nothing to clear
        return
    cache_clear: Callable[[], None] | None = getattr(StylesCache.get_inner_outer, "cache_clear", None)
    if cache_clear is not None:
        cache_clear()


class Collector:
    """The till's garbage-collection pacing (one per process; see the module docstring)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.frozen = False
        self.last_full = clock()
        self.full_runs = 0
        #: The full-collection threshold before :meth:`start` (restored by :meth:`stop`).
        self._full_threshold: int | None = None

    def start(self) -> None:
        """Push automatic full collections out (the young generations keep their thresholds)."""
        young, middle, full = gc.get_threshold()
        if self._full_threshold is None:
            self._full_threshold = full
        gc.set_threshold(young, middle, FULL_EVERY)

    def stop(self) -> None:
        """Back to how the process was (an app that ends inside a longer-lived process, e.g. tests)."""
        if self._full_threshold is not None:
            young, middle, _ = gc.get_threshold()
            gc.set_threshold(young, middle, self._full_threshold)
            self._full_threshold = None
        if self.frozen:
            gc.unfreeze()
            self.frozen = False

    def sign_in_drawn(self) -> None:
        """The start is over: end the entry point's pause of the collector (``process_gc``), after
        one collection and a freeze of what the start built. Nothing if nothing paused it (tests)."""
        if paused():
            freeze_startup()

    def signed_in(self) -> None:
        """Freeze what is alive now, once: collect first, so only live objects are frozen."""
        if self.frozen:
            return
        _clear_textual_caches()
        freeze_startup()
        self.last_full = self.clock()
        self.frozen = True

    def idle(self) -> float:
        """A full collection now (the till has nothing the cashier is waiting for); its seconds."""
        _clear_textual_caches()
        start = time.perf_counter()
        gc.collect()
        took = time.perf_counter() - start
        self.last_full = self.clock()
        self.full_runs += 1
        log.debug("full garbage collection in %.1f ms", took * 1000)
        return took

    def overdue(self) -> bool:
        return self.clock() - self.last_full >= IDLE_EVERY_S
