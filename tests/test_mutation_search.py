"""Distinguishing scenarios: the differential search finds and shrinks one for a mutant whose
effect shows only across a module reload, confirms it on the compiled mutant, finds none for an
equivalent mutant; every stored scenario of the shipped set still kills its mutant."""
import pytest

from balloonspec import SEED_DRIVER
from balloonspec.conformance.commands import SHIPPED_VECTORS
from balloonspec.conformance.mutation.campaign import run_guarded
from balloonspec.conformance.mutation.operators import generate
from balloonspec.conformance.mutation.search import distinguish, load_killers, vector_id
from balloonspec.conformance.runner import judge
from balloonspec.conformance.vectors import load_dir
from balloonspec.driver.build import build_driver

SEED_TEXT = SEED_DRIVER.read_text()


@pytest.fixture(scope="module")
def by_id():
    return {m.id: m for m in generate(SEED_DRIVER)}


def test_search_finds_a_defect_that_shows_after_a_reload(by_id):
    """balloon.rate_alloc += MAX at init: the same as = on zeroed statics, but in the userspace
    harness statics survive a module reload, so a second init doubles the rate."""
    find = distinguish(by_id["vmballoon_init:797:21:asr.assign.add"], SEED_TEXT, examples=120, seed=0)
    assert find is not None and find.confirmed, find
    kinds = [s.kind for s in find.scenario.steps]
    assert kinds.count("init") >= 2 and "exit" in kinds
    assert len(kinds) <= 12  # shrunk


def test_search_finds_nothing_for_an_equivalent_mutant(by_id):
    assert distinguish(by_id["vmballoon_inflate:602:17:swp.and"], SEED_TEXT, examples=25, seed=0) is None


def test_each_stored_scenario_is_a_shipped_vector_that_kills_its_mutant(by_id, tmp_path):
    killers = load_killers()
    assert killers
    shipped = {v.id: v for v in load_dir(SHIPPED_VECTORS)[0]}
    for entry in killers:
        mid = entry["reason"]["goal"]
        assert entry["id"] == vector_id(mid) and entry["reason"]["kind"] == "mutation"
        vec = shipped[entry["id"]]
        assert vec.reason["goal"] == mid
        src = tmp_path / f"{entry['id']}.c"
        src.write_text(by_id[mid].apply(SEED_TEXT))
        runaway, run = run_guarded(build_driver(src, debugfs=vec.debugfs), vec)
        assert runaway or judge(vec, run, "full").status == "fail", f"{mid} passes {vec.id}"
