"""Exploration: seeded Hypothesis scenarios against driver builds.

The seed conforms on every explored scenario (split over seeds so that
pytest-xdist spreads them); a mutant is caught, shrunk to a small scenario and
saved as a regression vector that replays the divergence."""
import json
from pathlib import Path

import pytest

from balloonspec import SEED_DRIVER
from balloonspec.conformance.explore import explore_driver
from balloonspec.conformance.runner import judge
from balloonspec.conformance.vectors import Vector
from balloonspec.driver.build import build_driver
from balloonspec.driver.userspace import run_scenario

from mutants import MUTANTS



def test_driver_conforms_on_explored_scenarios(explore_chunk, request):
    """A campaign: `pytest -n 8 tests/test_explore.py -k conforms --explore-scenarios 5000
    [--explore-driver SRC.c]` spreads 25-scenario seeds over the workers."""
    seed, n = explore_chunk
    driver = Path(request.config.getoption("--explore-driver") or SEED_DRIVER)
    out = explore_driver(build_driver(driver), driver, n=n, seed=seed)
    assert out["divergences"] == [], json.dumps(out["divergences"], indent=1)[:3000]


def test_exploration_is_deterministic(seed_binary, tmp_path):
    mutant = next(m for m in MUTANTS if m.id == "cmp-deflate-goal").write(SEED_DRIVER, tmp_path)
    binary = build_driver(mutant)
    a = explore_driver(binary, mutant, n=40, seed=7)
    b = explore_driver(binary, mutant, n=40, seed=7)
    assert a == b


def test_mutant_divergence_is_shrunk_and_saved(tmp_path):
    mutant = next(m for m in MUTANTS if m.id == "cmp-deflate-goal").write(SEED_DRIVER, tmp_path)
    binary = build_driver(mutant)
    out = explore_driver(binary, mutant, n=60, seed=3, save_dir=tmp_path / "regressions")
    assert len(out["divergences"]) == 1
    saved = out["divergences"][0]["saved"]
    vector = Vector.from_json(json.loads(open(saved).read()))
    assert vector.reason["kind"] == "regression"
    # shrunk: a handful of steps, not a long random walk
    assert len(vector.scenario.steps) <= 8, vector.scenario.steps
    # the saved vector replays: the mutant fails it, the seed passes it
    assert judge(vector, run_scenario(binary, vector.scenario.to_script()), "full").status == "fail"
    seed_run = run_scenario(build_driver(SEED_DRIVER), vector.scenario.to_script())
    assert judge(vector, seed_run, "full").status == "pass"
