"""One seed, one run: the fault rounds' events are a function of the seed alone."""

from __future__ import annotations

from tests.faults.plan import SANDBOX_FAULTS, Disruption, plan_run


def test_the_same_seed_draws_the_same_events() -> None:
    assert plan_run(20261122, 6) == plan_run(20261122, 6)
    assert plan_run(20261122, 6) != plan_run(20261123, 6)
    seeds = [plan.fault_seeds for plan in plan_run(20261122, 6)]
    assert seeds == [plan.fault_seeds for plan in plan_run(20261122, 6)]
    assert seeds != [plan.fault_seeds for plan in plan_run(20261123, 6)]


def test_a_plan_stays_within_its_ranges() -> None:
    for plan in plan_run(7, 50):
        assert 1 <= len(plan.faults) <= 3 and all(spec in SANDBOX_FAULTS for spec in plan.faults)
        assert len(plan.fault_seeds) == len(plan.faults)
        assert 4 <= plan.ops <= 7
        assert 1 <= len(plan.disruptions) <= 2
        assert len({event.kind for event in plan.disruptions}) == len(plan.disruptions)
        for event in plan.disruptions:
            assert 0.3 <= event.after_s <= 3.0
            if event.kind is Disruption.KILL_TERMINAL:
                assert event.down_s == 0.0
            elif event.kind is Disruption.KILL_ENGINE:
                assert 0.1 <= event.down_s <= 1.0
            else:
                assert 2.0 <= event.down_s <= 4.0
