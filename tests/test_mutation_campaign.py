"""The mutation campaign: the kill matrix (CLI and JSON), verdicts of killing runs,
triage by object code, proofs before runs, survivors reported and never presumed."""
import json
import shutil
import subprocess
import sys

import pytest

from balloonspec import SEED_DRIVER
from balloonspec.conformance.commands import SHIPPED_VECTORS
from balloonspec.conformance.mutation.campaign import Campaign
from balloonspec.conformance.mutation.operators import generate

FIELDS = {"id", "operator", "c_line", "status", "killed_by"}


@pytest.fixture(scope="module")
def by_id():
    return {m.id: m for m in generate(SEED_DRIVER)}


def _vectors(tmp_path, *names):
    d = tmp_path / "vectors"
    d.mkdir(exist_ok=True)
    for n in names:
        shutil.copy(SHIPPED_VECTORS / f"{n}.json", d)
    return d


def balloonspec(*args):
    return subprocess.run([sys.executable, "-m", "balloonspec.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=900)


def test_seeded_sample_against_the_shipped_set(tmp_path):
    """What CI runs: a seeded sample, the kill matrix in JSON, progress lines, exit 0 when
    nothing survives (1 otherwise)."""
    out = tmp_path / "kill.json"
    r = balloonspec("mutate", "--sample", 5, "--seed", 7, "--json", out)
    report = json.loads(out.read_text())
    t = report["totals"]
    assert set(t) == {"mutants", "compile_errors", "equivalent_tce", "equivalent_proved", "killed", "survived"}
    assert t["mutants"] == 5 == sum(v for k, v in t.items() if k != "mutants") == len(report["mutants"])
    live = t["mutants"] - t["compile_errors"] - t["equivalent_tce"] - t["equivalent_proved"]
    assert report["score"] == (round(t["killed"] / live, 4) if live else None)
    assert r.returncode == (0 if t["survived"] == 0 else 1), r.stderr
    shipped = {p.stem for p in SHIPPED_VECTORS.glob("*.json")}
    for m in report["mutants"]:
        assert FIELDS <= set(m)
        if m["status"] == "killed":
            assert m["killed_by"] and set(m["killed_by"]) <= shipped and m["verdict"]
    assert r.stderr.count("[") >= 5 and "/5]" in r.stderr  # one progress line per mutant
    assert "score" in r.stdout
    # the same sample is the same mutants
    from balloonspec.conformance.mutation.campaign import select

    assert [m.id for m in select(generate(SEED_DRIVER), 5, 7)] == [m["id"] for m in report["mutants"]]


def test_survivors_are_reported_undecided_and_exit_1(tmp_path):
    """Against a single vector that never reaches a work cycle, mutants of the cycle survive."""
    vectors = _vectors(tmp_path, "init-not-vmware")
    r = balloonspec("mutate", "--vectors", vectors, "--sample", 4, "--seed", 3, "--json", tmp_path / "k.json")
    report = json.loads((tmp_path / "k.json").read_text())
    assert report["totals"]["survived"] >= 1
    assert r.returncode == 1
    assert "survived (undecided)" in r.stdout
    for m in report["mutants"]:
        if m["status"] == "survived":
            assert m["killed_by"] is None


def test_hangs_runaways_and_crashes_are_kills_with_their_verdict(tmp_path, by_id):
    vectors = _vectors(tmp_path, "path-inflate-attempt-TTTTFFFF", "path-inflate-attempt-FFFTFFFFFF")
    mutants = [by_id["vmballoon_send_lock_page:325:12:ror.ne.ge"],  # allocates without end
               by_id["vmballoon_reserve_page:425:7:cnd.neg"]]  # locks a NULL page
    report = Campaign(SEED_DRIVER, mutants, vectors, jobs=2).run()
    verdicts = {m["id"]: (m["status"], m["verdict"]) for m in report["mutants"]}
    assert verdicts == {mutants[0].id: ("killed", "runaway"), mutants[1].id: ("killed", "crash")}


def test_object_code_triage(tmp_path, by_id):
    """A mutant with the seed's object code is equivalent (TCE) and runs nothing; of two with the
    same object code, the second is a duplicate and shares the first's verdict."""
    vectors = _vectors(tmp_path, "init-exit-idle", "lock-refused-ppn_pinned")
    # status < VMW_BALLOON_SUCCESS on an unsigned long is if (0): the same object code
    mutants = [by_id[i] for i in ("vmballoon_send_start:231:6:cnd.false", "vmballoon_send_start:231:13:ror.eq.lt",
                                  "vmballoon_work:665:28:asr.post.pre", "vmballoon_send_guest_id:273:2:sdl.return")]
    report = Campaign(SEED_DRIVER, mutants, vectors, jobs=2).run()
    res = {m["id"]: m for m in report["mutants"]}
    assert res[mutants[2].id]["status"] == "equivalent_tce"
    assert res[mutants[3].id]["status"] == "compile_error" and "non-void" in res[mutants[3].id]["message"]
    assert res[mutants[1].id]["duplicate_of"] == mutants[0].id
    assert res[mutants[1].id]["status"] == res[mutants[0].id]["status"]
    assert report["duplicates"] == 1


def test_a_proved_mutant_runs_no_vector_and_the_shipped_set_does_not_kill_it(tmp_path, by_id):
    m = by_id["vmballoon_pop:380:15:ror.ge.eq"]
    report = Campaign(SEED_DRIVER, [m], _vectors(tmp_path, "init-exit-idle"), jobs=1).run()
    (res,) = report["mutants"]
    assert res["status"] == "equivalent_proved" and "pop-count" in res["killed_by"]
    assert res.get("vectors_run", 0) == 0
    # the proof is not contradicted: the whole shipped set leaves it alive
    plain = Campaign(SEED_DRIVER, [m], SHIPPED_VECTORS, jobs=2, argument_deciders=[], deciders=[]).run()
    assert plain["mutants"][0]["status"] == "survived"
