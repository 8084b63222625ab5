"""specs/history.md: the published versions against the seed, generated from a
committed result (specs/history.json) that `balloonspec docs --check` holds to
its inputs (balloonspec/docs/history.py)."""
import json
import shutil

import pytest

from balloonspec import SEED_DRIVER, docs
from balloonspec.conformance.commands import SHIPPED_VECTORS
from balloonspec.docs import history as H
from balloonspec.model import docs as MD

from patches import DOES_NOT_COMPILE, FIX_HIGH_PFN


def test_the_committed_result_covers_every_version_and_the_page_shows_each():
    result = H.load(docs.SPECS)
    assert result is not None and result["format"] == H.FORMAT
    files = [r["file"] for r in result["builds"]]
    assert files == ["driver/vmw_balloon.c"] + [f"driver/versions/{p.name}" for p in H.version_sources()]
    page = (docs.SPECS / "history.md").read_text()
    parts = MD.part_names(page)
    for r in result["builds"][1:]:
        assert f"history-diff:{r['module_version']}" in parts
        assert r["provenance"] == H.provenance()[r["file"].rsplit("/", 1)[1]]
    assert "history.md" in [name for name, _ in docs.PAGES]


def test_a_changed_version_makes_the_result_stale(tmp_path, monkeypatch):
    versions = tmp_path / "versions"
    shutil.copytree(H.VERSIONS, versions)
    result = H.load(docs.SPECS)
    assert H.stale_inputs(result, versions=versions) == []
    src = versions / "1.2.2.0-k.c"
    src.write_text(src.read_text() + "/* a vendor's note */\n")
    assert H.stale_inputs(result, versions=versions) == ["version 1.2.2.0-k.c"]
    # and so does `balloonspec docs --check`, on a copy of specs/
    specs = tmp_path / "specs"
    shutil.copytree(docs.SPECS, specs)
    monkeypatch.setattr(H, "VERSIONS", versions)
    assert docs.stale(specs) == [H.RESULT]


def test_a_new_version_or_changed_vectors_make_it_stale(tmp_path):
    versions = tmp_path / "versions"
    shutil.copytree(H.VERSIONS, versions)
    vectors = tmp_path / "vectors"
    shutil.copytree(SHIPPED_VECTORS, vectors)
    result = H.load(docs.SPECS)
    assert H.stale_inputs(result, versions=versions, vectors=vectors) == []
    shutil.copy(SEED_DRIVER, versions / "1.2.1.3-k.c")
    (vectors / "init-exit-idle.json").unlink()
    assert H.stale_inputs(result, versions=versions, vectors=vectors) == ["vectors", "version 1.2.1.3-k.c"]
    assert H.stale_inputs(None) == sorted(H.inputs())


@pytest.fixture(scope="module")
def small_history(tmp_path_factory):
    """The history of a small corpus: a fix of the seed and a source that does not compile."""
    tmp = tmp_path_factory.mktemp("history")
    versions = tmp / "versions"
    versions.mkdir()
    FIX_HIGH_PFN.write(SEED_DRIVER, versions)
    DOES_NOT_COMPILE.write(SEED_DRIVER, versions)
    (versions / "README.md").write_text(
        "| file | MODULE_VERSION | git blob | where it comes from | what changed |\n|---|---|---|---|---|\n"
        "| fix-high-pfn.c | 1.2.1.3-k | 0000 | tests/patches.py | the F-HIGH-PFN fix |\n")
    vectors = tmp / "vectors"
    vectors.mkdir()
    for name in ("init-exit-idle", "pfn-at-2pow32", "wit-high-pfn-leak", "wit-high-pfn-unbounded",
                 "lock-refused-busy"):
        shutil.copy(SHIPPED_VECTORS / f"{name}.json", vectors)
    return [H.compute(versions=versions, vectors=vectors) for _ in range(2)]


def test_history_of_a_small_corpus(small_history):
    result = small_history[0]
    rows = {r["file"].rsplit("/", 1)[1]: r for r in result["builds"]}
    assert list(rows) == ["vmw_balloon.c", "does-not-compile.c", "fix-high-pfn.c"]
    seed = rows["vmw_balloon.c"]
    assert seed["seed"] and seed["verdicts"] == {"full": "pass", "protocol": "pass"}
    assert seed["differs_from_seed"] == []  # the seed against itself: deterministic
    broken = rows["does-not-compile.c"]
    assert broken["userspace"]["builds"] is False and "error" in broken["userspace"]["message"]
    assert "verdicts" not in broken and broken["provenance"] is None
    fix = rows["fix-high-pfn.c"]
    assert fix["provenance"]["source"] == "tests/patches.py"
    assert fix["verdicts"]["full"] == "fail" and fix["findings"]["F-HIGH-PFN"] == "gone"
    high_pfn = ["pfn-at-2pow32", "wit-high-pfn-leak", "wit-high-pfn-unbounded"]
    assert sorted(d["id"] for d in fix["differs_from_seed"]) == high_pfn
    assert sorted(fix["failed"]["full"]) == high_pfn
    assert all(d["beyond_workqueue"] is not None for d in fix["differs_from_seed"])  # same workqueue
    # the page's parts, from this result
    table = H.versions_table(result)
    assert "| no: `" in table and "| fail (3) |" in table
    assert "`wit-high-pfn-leak`: event" in H.differences(result, "fix-high-pfn")


def test_the_result_is_deterministic(small_history):
    assert H.dumps(small_history[0]) == H.dumps(small_history[1])
    assert "seconds" not in H.dumps(small_history[0])


def test_a_debugfs_difference_is_cut_to_its_first_differing_line():
    a = "DEBUGFS_READ text='target:     5 pages\\nrateSleepAlloc:   1024 pages/sec\\ntimer: 1\\n'"
    b = "DEBUGFS_READ text='target:     5 pages\\nrateSleepAlloc:   1040 pages/sec\\ntimer: 1\\n'"
    assert H.short_difference(a, b) == ("DEBUGFS_READ …rateSleepAlloc: 1024 pages/sec…",
                                        "DEBUGFS_READ …rateSleepAlloc: 1040 pages/sec…")


def test_the_workqueue_view_forgets_only_which_freezable_workqueue():
    from balloonspec.model.trace import Kind

    ev = [(int(Kind.QUEUE_WORK), 0, 3, 0, 0, 0, 0), (int(Kind.QUEUE_WORK), 0, 2, 0, 0, 0, 0),
          (int(Kind.FREE), 3, 0, 0, 0, 0, 0)]
    assert H.any_freezable_workqueue(ev) == [(int(Kind.QUEUE_WORK), 0, 1, 0, 0, 0, 0), ev[1], ev[2]]
    assert json.dumps(H.any_freezable_workqueue([])) == "[]"
