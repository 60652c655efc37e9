"""The events of a fault run, drawn up front from one seed: which faults, when, and which terminal runs.

Every random choice of a run comes from one ``random.Random(seed)``: the sandbox faults of each round
(and the seed of each fault's draws in the sandbox, so which requests a probabilistic fault hits
repeats too),
whether the terminal is cut off, how many operations it runs and the seed of each terminal process
(which draws its channels and amounts), and the disruptions with their moments and durations. Drawing
them before anything runs keeps the sequence independent of timing (a terminal that finished early
does not shift the later draws), so one seed always yields the same events.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

SANDBOX_FAULTS: tuple[dict[str, object], ...] = (
    {"kind": "reply_lost", "probability": 0.3, "times": 3},
    {"kind": "reply_lost", "probability": 0.5, "operation": "codepay", "times": 2},
    {"kind": "reply_lost", "probability": 0.5, "operation": "alipay.trade.pay", "times": 2},
    {"kind": "server_error", "probability": 0.3, "status": 503, "times": 3},
    {"kind": "latency", "probability": 0.3, "seconds": 1.0, "times": 4},
    {"kind": "notify_duplicate", "probability": 0.7},
    {"kind": "notify_delay", "probability": 0.5, "seconds": 2.0},
    {"kind": "notify_reorder", "probability": 0.5, "seconds": 2.0},
    {"kind": "notify_drop", "probability": 0.3},
)
#: Operations of a terminal started again after it was killed mid-round.
RESTART_OPS = 3


class Disruption(StrEnum):
    KILL_TERMINAL = "kill terminal"
    KILL_ENGINE = "kill engine"  # SIGKILL, restarted after ``down_s``
    ENGINE_AWAY = "engine away"  # the link is cut for ``down_s``; the terminal keeps working


@dataclass(frozen=True, slots=True)
class DisruptionEvent:
    kind: Disruption
    after_s: float  # wait before it happens
    down_s: float  # how long the engine stays down (0 for a terminal kill)
    restart_seed: int  # the seed of the terminal started again after a kill (unused otherwise)


@dataclass(frozen=True, slots=True)
class RoundPlan:
    faults: tuple[dict[str, object], ...]
    #: The seed of each fault's probability draws in the sandbox (same order as ``faults``).
    fault_seeds: tuple[int, ...]
    offline: bool  # the terminal talks to a dead port for the whole round
    ops: int
    terminal_seed: int
    disruptions: tuple[DisruptionEvent, ...]

    def describe(self) -> str:
        faults = ", ".join(str(spec["kind"]) for spec in self.faults)
        events = ", ".join(f"{d.kind} after {d.after_s:.1f} s" for d in self.disruptions)
        offline = " offline" if self.offline else ""
        return f"{self.ops} ops{offline} (terminal seed {self.terminal_seed}); faults: {faults}; {events}"


def _disruption(rng: random.Random, kind: Disruption) -> DisruptionEvent:
    after_s = rng.uniform(0.3, 3.0)
    if kind is Disruption.KILL_TERMINAL:
        return DisruptionEvent(kind, after_s, 0.0, rng.randrange(2**31))
    down_s = rng.uniform(0.1, 1.0) if kind is Disruption.KILL_ENGINE else rng.uniform(2.0, 4.0)
    return DisruptionEvent(kind, after_s, down_s, 0)


def plan_round(rng: random.Random) -> RoundPlan:
    faults = tuple(rng.sample(SANDBOX_FAULTS, k=rng.randint(1, 3)))
    offline = rng.random() < 0.25
    ops = rng.randint(4, 7)
    terminal_seed = rng.randrange(2**31)
    kinds = rng.sample(list(Disruption), k=rng.randint(1, 2))
    disruptions = tuple(_disruption(rng, kind) for kind in kinds)
    fault_seeds = tuple(rng.randrange(2**31) for _ in faults)
    return RoundPlan(faults, fault_seeds, offline, ops, terminal_seed, disruptions)


def plan_run(seed: int, rounds: int) -> list[RoundPlan]:
    """The whole run's events for ``seed``."""
    rng = random.Random(seed)
    return [plan_round(rng) for _ in range(rounds)]
