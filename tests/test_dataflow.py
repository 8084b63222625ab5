"""Data-flow goals: definition-use pairs of the driver's state across work cycles (and of loop
locals across iterations), derived from the C, measured on the interpreted C; the shipped set
reaches every goal or the goal is justified unreachable."""
import pytest

from balloonspec import SEED_DRIVER
from balloonspec.conformance import dataflow as D
from balloonspec.conformance.commands import SHIPPED_VECTORS
from balloonspec.conformance.vectors import load_dir
from balloonspec.model.scenario import AllocRule, HostRule, Scenario, steps
from balloonspec.model import constants as C


@pytest.fixture(scope="module")
def goals():
    return D.goals(SEED_DRIVER)


@pytest.fixture(scope="module")
def ids(goals):
    return {p.id for p in goals.pairs}


def test_goals_come_from_the_c(goals, ids):
    assert {"cycle", "iteration"} == {p.kind for p in goals.pairs}
    # the refused count is reset at the end of each inflate and used by the next cycle's refusals
    assert "cycle n_refused_pages: vmballoon_release_refused_pages:500 -> vmballoon_reserve_page:450" in ids
    # ... so its increment never reaches a later cycle: the reset always comes between
    assert "cycle n_refused_pages: vmballoon_reserve_page:450 -> vmballoon_reserve_page:450" not in ids
    # a rate raised in one cycle decides the next cycle's pace
    assert "cycle rate_alloc: vmballoon_inflate:605 -> vmballoon_inflate:584" in ids
    # the debugfs file's dentry, created by init, removed by exit
    assert "cycle dbg_entry: vmballoon_debugfs_init:753 -> vmballoon_debugfs_exit:766" in ids
    # a stats counter read by debugfs through the `stats` pointer
    assert "cycle stats.lock: vmballoon_send_lock_page:328 -> vmballoon_debug_show:709" in ids
    # loop locals carried across iterations
    assert "iteration vmballoon_inflate.allocations: vmballoon_inflate:589 -> vmballoon_inflate:587" in ids
    assert "iteration vmballoon_pop.count: vmballoon_pop:381 -> vmballoon_pop:380" in ids
    # a value used in the iteration that defines it is no goal
    assert not any(i.startswith("iteration vmballoon_inflate.error: vmballoon_inflate:547 -> vmballoon_inflate:548")
                   for i in ids)
    # static storage reaches only init-time uses: work runs after a successful init, which sets the rates
    assert "cycle rate_alloc: <static>:218 -> vmballoon_inflate:539" not in ids


def _covered(goals, scenario, debugfs=True):
    return {p.id for p in D.covered(goals, scenario, debugfs)}


def test_a_multi_cycle_run_covers_cross_cycle_pairs(goals):
    one = Scenario("one", steps("init", ("cycle", 1), "debugfs"), target=100)
    two = Scenario("two", steps("init", ("cycle", 2), "debugfs"), target=20000)
    pair = "cycle size: vmballoon_reserve_page:459 -> vmballoon_reserve_page:459"
    assert pair not in _covered(goals, one)
    assert pair in _covered(goals, two)


def test_refusals_in_two_cycles_cover_the_reset_count(goals):
    sc = Scenario("refusals", steps("init", ("cycle", 1), ("set_target", 200), ("cycle", 1)), target=100,
                  host_rules=(HostRule(C.VMW_BALLOON_CMD_LOCK, 5, nth=2, count=3),  # cycle 1
                              HostRule(C.VMW_BALLOON_CMD_LOCK, 5, nth=120, count=2)))  # cycle 2
    got = _covered(goals, sc)
    assert "cycle n_refused_pages: vmballoon_release_refused_pages:500 -> vmballoon_reserve_page:450" in got


def test_iteration_pairs(goals):
    sc = Scenario("yield", steps("init", ("cycle", 1)), target=C.VMW_BALLOON_YIELD_THRESHOLD + 3,
                  alloc_rules=(AllocRule(C.VMW_PAGE_ALLOC_NOSLEEP, nth=700),))
    got = _covered(goals, sc)
    assert "iteration vmballoon_inflate.allocations: vmballoon_inflate:587 -> vmballoon_inflate:587" in got
    assert "iteration vmballoon_inflate.alloc_can_sleep: vmballoon_inflate:582 -> vmballoon_inflate:547" in got


def test_unreachable_reasons_are_goals_and_never_reached(ids):
    assert set(D.UNREACHABLE) <= ids


def test_shipped_set_reaches_every_goal_or_it_is_justified():
    vecs, bad = load_dir(SHIPPED_VECTORS)
    assert bad == []
    r = D.report(SEED_DRIVER, vecs)
    assert r["covered_unreachable"] == [], "a goal listed as unreachable was reached: its reason is wrong"
    assert r["uncovered_pairs"] == []
    assert r["covered"] + r["unreachable"] == r["goals"]


def test_search_reaches_a_missing_pair_with_a_shrunk_scenario():
    pair = "cycle stats.timer: <static>:218 -> vmballoon_debug_show:709"  # a debugfs read before any cycle
    found = D.search(SEED_DRIVER, {pair}, examples=60, seed=0)
    assert pair in found
    scenario, debugfs = found[pair]
    assert debugfs and [s.kind for s in scenario.steps] == ["init", "debugfs"]
    (entry,) = D.vector_entries(found)
    assert entry["reason"] == {"kind": "dataflow", "goal": pair, "text": entry["reason"]["text"]} and pair in \
        entry["reason"]["text"]
