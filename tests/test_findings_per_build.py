"""Findings per build and precise excuses.

A build is told which documented findings (specs/findings.md) it still shows,
judged by each finding's own witness predicates on the build's observed
traces; a patch that fixes one finding shows exactly that one gone and passes
--level protocol. At --level protocol a vector's documentation excuses only the
violation it documents: another violation of the same monitor fails."""
import json
import shutil

import pytest

from balloonspec import SEED_DRIVER
from balloonspec.conformance.commands import SHIPPED_VECTORS, conform
from balloonspec.conformance.findings import FINDINGS
from balloonspec.conformance.vectors import Vector

from mutants import MUTANTS
from patches import EXIT_WITHOUT_POP, FIXES, LEAK_AFTER_INFLATE

ALL = {f.id for f in FINDINGS}


def statuses(report) -> dict:
    return {f["id"]: f["status"] for f in report.findings}


def test_the_seed_shows_every_documented_finding():
    report, code = conform(SEED_DRIVER, vectors_dir=SHIPPED_VECTORS, level="protocol", jobs=2, quiet=True)
    assert code == 0
    assert statuses(report) == {f: "present" for f in ALL}
    # the evidence is the witness predicate's own sentence on the observed trace
    nosleep = next(f for f in report.findings if f["id"] == "F-NOSLEEP-PLUS-ONE")
    assert nosleep["evidence"].startswith("wit-nosleep-plus-one: one work cycle locked 16385 pages")


@pytest.mark.parametrize("patch", FIXES, ids=[p.id for p in FIXES])
def test_a_patch_that_fixes_one_finding_shows_exactly_that_one_gone(patch, tmp_path):
    source = patch.write(SEED_DRIVER, tmp_path)
    report, code = conform(source, vectors_dir=SHIPPED_VECTORS, level="protocol", jobs=2, quiet=True,
                           json_path=tmp_path / "r.json")
    assert code == 0, report.summary()
    assert statuses(report) == {f: ("gone" if f == patch.fixes else "present") for f in ALL}
    written = json.loads((tmp_path / "r.json").read_text())["findings"]
    assert {f["id"]: f["status"] for f in written} == statuses(report)


def test_the_unlock_fix_builds_with_a_list_helper_the_seed_does_not_use():
    fix = next(p for p in FIXES if p.fixes == "F-UNLOCK-HEAD")
    assert "list_move_tail" not in SEED_DRIVER.read_text()
    assert "list_move_tail(&page->lru, &b->pages);" in fix.apply(SEED_DRIVER.read_text())


def one_vector(tmp_path, name):
    d = tmp_path / "vectors"
    d.mkdir()
    shutil.copy(SHIPPED_VECTORS / f"{name}.json", d)
    return d


# (build, vector, why the violation differs from the documented one)
DIFFERENT_VIOLATIONS = [
    (EXIT_WITHOUT_POP, "wit-high-pfn-leak", "same monitor and event, but low pages stay held too: "
                                            "F-HIGH-PFN's scope (PFN >= 2^32) does not explain it"),
    (next(m for m in MUTANTS if m.id == "drop-reset-flag"), "wit-reset-start-fails",
     "LOCK without a restart, but in another step than the documented one"),
    (next(m for m in MUTANTS if m.id == "drop-exit-start"), "wit-exit-start-fails",
     "frees locked pages at exit, but without the failed START the finding is about"),
    (LEAK_AFTER_INFLATE, "path-work-FTTFT",
     "the spec's leak is of pages the host forgot after a reset; this one also never locked a page"),
]


@pytest.mark.parametrize("build,vector,why", DIFFERENT_VIOLATIONS, ids=[v for _, v, _ in DIFFERENT_VIOLATIONS])
def test_a_different_violation_of_a_documented_monitor_fails_at_protocol_level(build, vector, why, tmp_path):
    d = one_vector(tmp_path, vector)
    documented = Vector.from_json(json.loads((d / f"{vector}.json").read_text())).expected_findings
    seed, code = conform(SEED_DRIVER, vectors_dir=d, level="protocol", jobs=1, quiet=True)
    assert code == 0 and seed.results[0].excused  # the documented violation itself is excused
    report, code = conform(build.write(SEED_DRIVER, tmp_path), vectors_dir=d, level="protocol", jobs=1, quiet=True)
    assert code == 1, why
    violated = {v["monitor"] for v in report.results[0].violations}
    assert violated & set(documented), (violated, documented)  # a monitor the vector documents


def test_the_same_violation_with_another_page_count_is_excused(tmp_path):
    """Inflating one page more is a divergence (full level), not a protocol
    violation: at the end of path-work-FTTFT the host has forgotten every locked
    page after a reset, 100 of them instead of the spec's 99."""
    d = one_vector(tmp_path, "path-work-FTTFT")
    mutant = next(m for m in MUTANTS if m.id == "arith-inflate-goal").write(SEED_DRIVER, tmp_path)
    report, code = conform(mutant, vectors_dir=d, level="protocol", jobs=1, quiet=True)
    assert code == 0 and [e["monitor"] for e in report.results[0].excused] == ["MEM-NO-LEAK"]
    full, code = conform(mutant, vectors_dir=d, level="full", jobs=1, quiet=True)
    assert code == 1 and full.results[0].divergence


# -- the published versions (driver/versions/) -------------------------------------------------

VERSIONS = sorted((SEED_DRIVER.parent / "versions").glob("*.c"))


@pytest.fixture(scope="module")
def version_reports():
    out = {}
    for src in VERSIONS:
        out[src.name] = {level: conform(src, vectors_dir=SHIPPED_VECTORS, level=level, jobs=2, quiet=True)[0]
                         for level in ("protocol", "full")}
    return out


def test_published_versions_build_unmodified_and_pass_the_protocol_level(version_reports):
    assert [p.name for p in VERSIONS] == ["1.2.1.1-k.c", "1.2.2.0-k.c", "1.3.0.0-k.c"]
    for name, reports in version_reports.items():
        assert not reports["protocol"].build_error, name
        assert reports["protocol"].verdict == "pass", (name, reports["protocol"].summary())


def test_versions_with_identical_v2_behaviour_fail_the_same_vectors(version_reports):
    """1.3.0.0-k differs from 1.2.2.0-k only in START's argument: the capability
    word BASIC_CMDS = 1 << 1 = 2, which is the v2 protocol version the seed sends."""
    failing = {name: [r.id for r in reports["full"].results if r.status != "pass"]
               for name, reports in version_reports.items()}
    assert failing["1.3.0.0-k.c"] == failing["1.2.2.0-k.c"] != []


def test_a_private_freezable_workqueue_shows_in_the_trace(version_reports):
    """1.2.1.1-k queues its work on a workqueue it created with
    create_freezeable_workqueue: QUEUE_WORK wq=3, where the seed has
    system_freezable_wq (wq=1); it is the first divergence of every vector
    whose init succeeds."""
    full = version_reports["1.2.1.1-k.c"]["full"]
    for r in full.results:
        if r.status != "pass":
            assert r.divergence["expected"].endswith("wq=1") and r.divergence["observed"].endswith("wq=3"), r.id
    assert any(r.status != "pass" for r in full.results)
