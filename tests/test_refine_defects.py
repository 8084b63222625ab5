"""Defects whose effect needs two or more work cycles (tests/refine_defects.py).

Each defect is new (no mutant of tests/mutants.py writes the same driver),
builds, and its compiled build diverges from the spec on its hand-written
witness in the work cycle its `why` names, where the seed conforms; no
scenario with a single work cycle tells it from the seed (the shipped
vectors cut after their first cycle, and seeded random single-cycle
scenarios); and the refinement search finds a distinguishing vector that
diverges when replayed on the compiled build."""
import re
from functools import cache

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

from balloonspec import SEED_DRIVER
from balloonspec.conformance.commands import SHIPPED_VECTORS
from balloonspec.conformance.explore import problem_with, scenarios
from balloonspec.conformance.vectors import load_dir
from balloonspec.driver.build import build_driver
from balloonspec.model.scenario import Scenario, Step
from balloonspec.refine.search import emit_and_replay, search

from mutants import MUTANTS
from refine_defects import DEFECTS, FIRST_CYCLE, WITNESS

IDS = [d.id for d in DEFECTS]
SEARCH_RUNS = 3000  # scenarios, not seconds: the same outcome on a loaded machine


def _build(patch, tmp_path):
    source = patch.write(SEED_DRIVER, tmp_path)
    return source, build_driver(source, debugfs=True)


def test_there_are_ten_new_defects():
    assert len(DEFECTS) >= 10 and len(set(IDS)) == len(IDS)
    assert set(WITNESS) == set(FIRST_CYCLE) == set(IDS)
    seed = SEED_DRIVER.read_text()
    texts = {d.id: d.apply(seed) for d in DEFECTS}
    assert all(t != seed for t in texts.values())
    assert len(set(texts.values())) == len(texts)  # no two defects write the same driver
    mutants = {m.apply(seed) for m in MUTANTS}
    assert not mutants & set(texts.values())
    assert all(FIRST_CYCLE[i] >= 2 for i in IDS)


def _cycle_of(problem: str) -> int:
    m = re.search(r"work cycle (\d+)", problem)
    assert m, problem
    return int(m.group(1))


@pytest.mark.parametrize("patch", DEFECTS, ids=IDS)
def test_the_compiled_defect_diverges_on_its_witness_where_the_seed_conforms(patch, tmp_path, seed_binary):
    _, binary = _build(patch, tmp_path)
    witness = WITNESS[patch.id]
    assert problem_with(seed_binary, witness, "full") is None
    problem = problem_with(binary, witness, "full")
    assert problem is not None, f"{patch.id}: the compiled defect conforms on its witness"
    assert _cycle_of(problem) == FIRST_CYCLE[patch.id], problem


def _one_cycle(sc: Scenario) -> Scenario | None:
    """The scenario cut after its first work cycle, then debugfs and exit."""
    kinds = [s.kind for s in sc.steps]
    if "cycle" not in kinds:
        return None
    cut = list(sc.steps[:kinds.index("cycle") + 1])
    if "exit" not in kinds[:len(cut)]:
        cut += [Step("debugfs"), Step("exit")]
    n = len(cut)
    return sc.with_(steps=tuple(cut), host_rules=tuple(r for r in sc.host_rules if r.scope < n),
                    alloc_rules=tuple(r for r in sc.alloc_rules if r.scope < n))


@cache
def single_cycle_scenarios() -> tuple[Scenario, ...]:
    vectors, errors = load_dir(SHIPPED_VECTORS)
    assert not errors
    drawn: list[Scenario] = []

    @settings(max_examples=150, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @hypothesis_seed(8)
    @given(scenarios(max_cycles=1))
    def collect(sc):
        drawn.append(sc)

    collect()
    out = tuple(c for c in (_one_cycle(v.scenario) for v in vectors) if c) + tuple(drawn)
    assert all(sum(s.kind == "cycle" for s in sc.steps) == 1 for sc in out)
    return out


def _single_cycle_divergences(binary) -> list[str]:
    return [f"{sc.id}: {p.splitlines()[0]}" for sc in single_cycle_scenarios()
            if (p := problem_with(binary, sc, "full"))]


def test_the_seed_conforms_on_the_single_cycle_scenarios(seed_binary):
    assert len(single_cycle_scenarios()) > 200
    assert _single_cycle_divergences(seed_binary) == []


def test_the_single_cycle_scenarios_catch_a_defect_that_shows_in_one_cycle(tmp_path):
    one_more_page = next(m for m in MUTANTS if m.id == "cmp-inflate-rate")
    binary = build_driver(one_more_page.write(SEED_DRIVER, tmp_path), debugfs=True)
    assert _single_cycle_divergences(binary)


@pytest.mark.parametrize("patch", DEFECTS, ids=IDS)
def test_no_single_cycle_scenario_tells_the_defect_from_the_seed(patch, tmp_path):
    _, binary = _build(patch, tmp_path)
    assert _single_cycle_divergences(binary) == []


@pytest.mark.slow
@pytest.mark.parametrize("patch", DEFECTS, ids=IDS)
def test_the_refinement_search_finds_a_witness_that_replays(patch, tmp_path):
    source = patch.write(SEED_DRIVER, tmp_path)
    w = search(source, [], budget_s=1800, max_runs=SEARCH_RUNS)
    assert w is not None, f"{patch.id}: the search found no distinguishing scenario in {SEARCH_RUNS} scenarios"
    emit_and_replay(w, source, tmp_path / "witness")
    assert w.vector is not None and w.vector.exists()
    assert w.replayed, w.replay_text
