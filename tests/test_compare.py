"""How two builds differ (`balloonspec compare`, conformance/build_diff.py) and
a folder of builds (`balloonspec conform --driver DIR`, conformance/folder.py)."""
import json
import shutil
import subprocess
import sys

import pytest

from balloonspec import SEED_DRIVER
from balloonspec.conformance import vectors as V
from balloonspec.conformance.build_diff import diff_builds
from balloonspec.conformance.commands import SHIPPED_VECTORS
from balloonspec.model.proofs.witnesses import PFN_4G

from patches import DOES_NOT_COMPILE, FIX_HIGH_PFN


def balloonspec(*args):
    return subprocess.run([sys.executable, "-m", "balloonspec.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=900)


def allocates_a_high_pfn(v) -> bool:
    """The scenario hands the driver a page whose PFN does not fit 32 bits."""
    return v.scenario.pfn_base >= PFN_4G or any(not r.fail and r.pfn >= PFN_4G for r in v.scenario.alloc_rules)


def test_a_build_against_itself_differs_nowhere(tmp_path):
    r = balloonspec("compare", SEED_DRIVER, SEED_DRIVER, "--json", tmp_path / "c.json")
    report = json.loads((tmp_path / "c.json").read_text())
    assert r.returncode == 0 == report["exit_code"], r.stdout[-2000:] + r.stderr[-2000:]
    assert report["verdict"] == "same" and report["differences"] == []
    n = len(V.load_dir(SHIPPED_VECTORS)[0])
    assert report["vectors"] == n and f"0/{n} vectors differ" in r.stdout.splitlines()[-1]
    assert report["findings"]["a"] == report["findings"]["b"]
    assert all(f["status"] == "present" for f in report["findings"]["a"])  # the seed shows every finding
    assert "Traceback" not in r.stderr


def test_a_patch_differs_on_the_vectors_it_changes(tmp_path):
    """The F-HIGH-PFN fix changes what happens to a page with a PFN >= 2^32 only:
    every vector that differs hands the driver such a page, each shows its first
    divergence on both sides, the finding is gone in B only, and the differing
    vectors are exactly those on which B fails against the spec (the seed passes all)."""
    patched = FIX_HIGH_PFN.write(SEED_DRIVER, tmp_path)
    r = balloonspec("compare", SEED_DRIVER, patched, "--json", tmp_path / "c.json")
    report = json.loads((tmp_path / "c.json").read_text())
    assert r.returncode == 1 == report["exit_code"] and report["verdict"] == "differ"
    vecs = {v.id: v for v in V.load_dir(SHIPPED_VECTORS)[0]}
    differing = [d["id"] for d in report["differences"]]
    assert {"wit-high-pfn-leak", "wit-high-pfn-unbounded"} <= set(differing)
    assert all(allocates_a_high_pfn(vecs[i]) for i in differing), differing
    assert sorted(differing) == sorted(report["conform"]["b"]["failed"])
    assert report["conform"]["a"]["verdict"] == "pass"
    for d in report["differences"]:
        assert d["a"] != d["b"] and d["index"] >= 0
        assert f"  {d['id']}: first divergence at event {d['index']}" in r.stdout
    status = {side: {f["id"]: f["status"] for f in report["findings"][side]} for side in "ab"}
    assert status["a"]["F-HIGH-PFN"] == "present" and status["b"]["F-HIGH-PFN"] == "gone"
    assert {k for k in status["a"] if status["a"][k] != status["b"][k]} == {"F-HIGH-PFN"}


def test_a_build_that_does_not_compile_is_named(tmp_path):
    broken = DOES_NOT_COMPILE.write(SEED_DRIVER, tmp_path)
    r = balloonspec("compare", SEED_DRIVER, broken, "--json", tmp_path / "c.json")
    report = json.loads((tmp_path / "c.json").read_text())
    assert r.returncode == 2 == report["exit_code"] and report["verdict"] == "error"
    assert list(report["build_errors"]) == ["b"]
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("compare error: driver does not compile: B ") and str(broken) in last
    assert "Traceback" not in r.stderr


def test_a_malformed_vector_is_an_error_and_the_rest_are_compared(tmp_path):
    d = vectors_dir(tmp_path, "init-exit-idle")
    (d / "broken.json").write_text('{"format": "balloonspec-vector/1", "id": "broken"}')
    r = balloonspec("compare", SEED_DRIVER, SEED_DRIVER, "--vectors", d, "--json", tmp_path / "c.json")
    report = json.loads((tmp_path / "c.json").read_text())
    assert r.returncode == 2 == report["exit_code"] and report["verdict"] == "error"
    assert [e["id"] for e in report["errors"]] == ["broken"]
    assert report["conform"]["a"]["verdict"] == "pass"  # init-exit-idle ran on both
    assert "1 not compared (errors)" in r.stdout.splitlines()[-1] and "Traceback" not in r.stderr


def test_extra_scenarios_join_the_comparison(tmp_path):
    """The hook a distinguishing search uses: scenarios outside the vector set are
    run on both builds and compared like vectors."""
    patched = FIX_HIGH_PFN.write(SEED_DRIVER, tmp_path)
    vecs = {v.id: v for v in V.load_dir(SHIPPED_VECTORS)[0]}
    base = [vecs["init-exit-idle"]]  # no high PFN: the builds agree on it
    extra = vecs["wit-high-pfn-leak"].scenario.with_(id="found-by-search")
    d = diff_builds(SEED_DRIVER, patched, base, extra_scenarios=[extra], extra_kind="search")
    assert d.vectors == 2 and d.extra == 1
    assert [x.id for x in d.differences] == ["found-by-search"]
    same = diff_builds(SEED_DRIVER, patched, base)
    assert same.differences == [] and same.exit_code == 0


def test_explored_scenarios_are_seeded(tmp_path):
    patched = FIX_HIGH_PFN.write(SEED_DRIVER, tmp_path)
    d = vectors_dir(tmp_path, "init-exit-idle")
    out = []
    for k in range(2):
        r = balloonspec("compare", SEED_DRIVER, patched, "--vectors", d, "--explore", 6, "--seed", 3,
                        "--json", tmp_path / f"c{k}.json")
        assert r.returncode in (0, 1), r.stderr[-2000:]
        out.append(json.loads((tmp_path / f"c{k}.json").read_text()))
    assert out[0]["vectors"] == 7 and out[0]["extra"] == 6
    assert out[0]["differences"] == out[1]["differences"]


def vectors_dir(tmp_path, *names):
    d = tmp_path / "vectors"
    d.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(SHIPPED_VECTORS / f"{name}.json", d)
    return d


# -- a folder of builds ---------------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path):
    builds = tmp_path / "builds"
    builds.mkdir()
    shutil.copy(SEED_DRIVER, builds / "a-seed.c")
    FIX_HIGH_PFN.write(SEED_DRIVER, builds)
    DOES_NOT_COMPILE.write(SEED_DRIVER, builds)
    (builds / "notes.txt").write_text("not a driver")
    return builds


def test_folder_conform_gives_one_row_per_build(tmp_path, folder):
    wit = sorted(p.stem for p in SHIPPED_VECTORS.glob("wit-*.json"))
    d = vectors_dir(tmp_path, "init-exit-idle", "pfn-at-2pow32", *wit)
    r = balloonspec("conform", "--driver", folder, "--vectors", d, "--json", tmp_path / "f.json")
    report = json.loads((tmp_path / "f.json").read_text())
    rows = {p["driver"].rsplit("/", 1)[1]: p for p in report["builds"]}
    assert sorted(rows) == ["a-seed.c", "does-not-compile.c", "fix-high-pfn.c"]
    assert rows["a-seed.c"]["verdicts"] == {"full": "pass"}
    assert rows["fix-high-pfn.c"]["verdicts"] == {"full": "fail"}
    assert rows["does-not-compile.c"]["verdicts"] == {"full": "error"} and rows["does-not-compile.c"]["build_error"]
    assert rows["a-seed.c"]["findings"]["F-HIGH-PFN"] == "present"
    assert rows["fix-high-pfn.c"]["findings"]["F-HIGH-PFN"] == "gone"
    assert r.returncode == 2 == report["exit_code"] and report["verdict"] == "error"
    # the matrix: a header with the finding ids, one line per build, in name order
    lines = r.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("build "))
    assert "F-HIGH-PFN" in lines[header]
    assert [line.split()[0] for line in lines[header + 1:header + 4]] == sorted(rows)
    assert lines[header + 2].split()[1] == "error"
    assert "does-not-compile.c: driver does not compile" in r.stdout
    assert r.stdout.strip().splitlines()[-1].startswith("conform error: 3 builds")
    # progress per build, on stderr
    assert all(f"{name}: " in r.stderr for name in rows)
    assert "Traceback" not in r.stderr


def test_folder_of_builds_that_all_pass(tmp_path):
    builds = tmp_path / "builds"
    builds.mkdir()
    shutil.copy(SEED_DRIVER, builds / "one.c")
    shutil.copy(SEED_DRIVER, builds / "two.c")
    d = vectors_dir(tmp_path, "init-exit-idle", "inflate-small")
    r = balloonspec("conform", "--driver", builds, "--vectors", d, "--level", "protocol")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().splitlines()[-1].startswith("conform pass: 2 builds")
