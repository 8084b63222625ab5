"""The refinement checker (refine/): the seed proves every segment of the
product with the spec from the inferred coupling; a build that differs
is found differing; an equivalent mutant is proved; unsupported C is a clear
error with exit code 2."""
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from balloonspec import SEED_DRIVER
from balloonspec.csource.compile import load
from balloonspec.refine.search import emit_and_replay, search
from balloonspec.refine.segments import infer_and_check

from mutants import MUTANTS

BY_ID = {m.id: m for m in MUTANTS}


def _mutant(mid: str, tmp_path: Path) -> Path:
    return BY_ID[mid].write(Path(SEED_DRIVER), tmp_path)


@pytest.fixture(scope="module")
def seed_result():
    return infer_and_check(load(SEED_DRIVER))


@pytest.mark.xdist_group("refine-seed")  # one worker computes the seed's proof once
def test_the_seed_proves_every_segment(seed_result):
    segs, coupling = seed_result
    assert {s.status for s in segs} == {"proved"}, [(s.id, s.status, s.detail) for s in segs]
    ids = {s.id for s in segs}
    # init, the work item, exit and an iteration of each loop (inflate's for and
    # reserve_page's do/while, the refused walk, deflate, pop in work and in exit)
    assert {"init", "work", "exit"} <= ids and len(ids) >= 9
    assert any("vmballoon_reserve_page" in i for i in ids) and any("exit:pop" in i for i in ids)


@pytest.mark.xdist_group("refine-seed")
def test_the_inferred_coupling_relates_the_balloon_field_for_field(seed_result):
    _, coupling = seed_result
    top = coupling.summary()["TOP ~ TOP"]
    for f in ("size", "target", "rate_alloc", "rate_free", "n_refused_pages", "slow_allocation_cycles"):
        assert f"C balloon.{f} == spec b.{f}" in top
    assert "C list balloon.pages == spec list b.pages" in top
    inflate = next(v for k, v in coupling.summary().items() if "vmballoon_reserve_page" in k)
    assert "C 2.vmballoon_inflate.i == spec lv.i" in inflate
    # a candidate that is not inductive was dropped
    assert not any("stats.timer" in c and "stats.free" in c for c in top)


def test_the_search_finds_a_multi_cycle_witness_and_the_compiled_mutant_diverges_on_it(tmp_path):
    # the slowdown's length is not printed anywhere: only later cycles' allocations show it
    path = _mutant("const-slow-cycles", tmp_path)
    w = search(path, budget_s=1800, max_runs=3000)
    assert w is not None, "no distinguishing scenario found"
    assert w.divergence and w.scenario.steps[0].kind == "init"
    assert sum(1 for s in w.scenario.steps if s.kind == "cycle") >= 2
    emit_and_replay(w, path, tmp_path / "vectors")
    assert w.vector is not None and w.vector.is_file()
    assert '"balloonspec-vector/1"' in w.vector.read_text()
    assert w.replayed, w.replay_text


def test_the_seed_has_no_distinguishing_scenario_among_the_first_ones():
    assert search(Path(SEED_DRIVER), budget_s=20) is None


NON_EQUIVALENT = sorted(m.id for m in MUTANTS if not m.equivalent)


@pytest.mark.parametrize("mid", random.Random(2026).sample(NON_EQUIVALENT, 3))
def test_a_seeded_sample_of_the_mutants_is_decided_differs_by_the_search_itself(mid, tmp_path):
    """decide() on a mutant: the search (not the shipped vectors) finds a scenario,
    the compiled mutant diverges on it, and that alone decides the verdict."""
    from balloonspec.refine.commands import decide

    out = decide(_mutant(mid, tmp_path), save_dir=tmp_path / "witness", search_budget_s=300)
    assert out["verdict"] == "differs", out
    assert out["decided_by"].startswith("distinguishing search")
    w = out["witness"]
    assert w["replayed"] is True and Path(w["vector"]).is_file()
    assert Path(w["vector"]).parent == tmp_path / "witness"  # written by the search, not taken from the shipped set


def test_the_search_is_deterministic(tmp_path):
    path = _mutant("const-rate-alloc-min", tmp_path)
    a, b = search(path, budget_s=300), search(path, budget_s=300)
    assert a is not None and b is not None
    assert a.scenario == b.scenario and a.tried == b.tried


def test_refine_on_a_folder_decides_every_source_and_keeps_going_after_an_error(tmp_path):
    folder = tmp_path / "builds"
    folder.mkdir()
    for mid in ("const-nosleep-max", "const-guest-id"):  # their difference shows at init
        _mutant(mid, folder)
    (folder / "zz-bad.c").write_text(Path(SEED_DRIVER).read_text().replace(
        "\tb->size++;", "\t__asm__ __volatile__(\"nop\");\n\tb->size++;", 1))
    out = tmp_path / "refine.json"
    r = subprocess.run([sys.executable, "-m", "balloonspec.cli", "refine", "--driver", str(folder), "--json", str(out),
                        "--save-dir", str(tmp_path / "w")], capture_output=True, text=True)
    assert r.returncode == 2, r.stdout + r.stderr  # the worst verdict: unknown (the unsupported source)
    rows = {b["driver"]: b for b in json.loads(out.read_text())["builds"]}
    assert rows["const-nosleep-max.c"]["verdict"] == rows["const-guest-id.c"]["verdict"] == "differs"
    assert rows["const-guest-id.c"]["replayed"] is True
    assert rows["zz-bad.c"]["verdict"] == "unknown" and "inline asm" in rows["zz-bad.c"]["error"]
    assert "3 builds" in r.stdout and "Traceback" not in r.stderr


def test_the_equivalent_mutant_is_proved(tmp_path):
    # size == target runs inflate with goal 0 in the C only: the proof needs
    # what the C's state keeps that the spec never reads there (rate_alloc
    # never 0, no refused page) at the loop heads too, not only at TOP
    segs, coupling = infer_and_check(load(_mutant("cmp-work-inflate", tmp_path)))
    assert {s.status for s in segs} == {"proved"}, [(s.id, s.status, s.detail) for s in segs]
    assert len(segs) >= 9
    pop = next(v for k, v in coupling.summary().items() if "vmballoon_reset/vmballoon_pop" in k)
    assert "C balloon.rate_alloc != 0" in pop and "C list balloon.refused_pages is empty" in pop


def test_cli_refine_exits_2_naming_an_unsupported_construct(tmp_path):
    bad = tmp_path / "bad.c"
    bad.write_text(Path(SEED_DRIVER).read_text().replace("\tb->size++;", "\t__asm__ __volatile__(\"nop\");\n\tb->size++;", 1))
    r = subprocess.run([sys.executable, "-m", "balloonspec.cli", "refine", "--driver", str(bad), "--quiet"],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "unsupported construct: inline asm" in r.stderr and "bad.c:" in r.stderr
    assert "Traceback" not in r.stderr


def test_check_fails_a_build_that_passes_every_vector_when_refine_shows_it_differs(tmp_path):
    """check's refinement row: a defect every shipped vector passes (its effect
    needs a slowdown, then a reset, then an inflate) fails check on refine's
    replayed witness alone."""
    from refine_defects import DEFECTS

    defect = next(d for d in DEFECTS if d.id == "reset-forgets-slowdown")
    source = defect.write(Path(SEED_DRIVER), tmp_path)
    out = tmp_path / "check.json"
    r = subprocess.run([sys.executable, "-m", "balloonspec.cli", "check", "--driver", str(source), "--json", str(out)],
                       capture_output=True, text=True, cwd=tmp_path)
    report = json.loads(out.read_text())
    assert report["conform"]["verdict"] == "pass", report["conform"]["summary"]  # every vector passes
    assert report["refine"]["verdict"] == "differs" and report["refine"]["witness"]["replayed"] is True
    assert r.returncode == 1 and report["verdict"] == "fail"
    row = next(line for line in r.stdout.splitlines() if line.strip().startswith("refinement"))
    assert "differs (segments not checked" in row and "replayed: True" in row
    assert "refine differs" in r.stdout.splitlines()[-1]
