"""A build is never judged against an old spec: every vector is re-predicted
by the installed spec while its driver runs, and a vector whose stored
expectation differs is reported stale (exit 2, with its id), not judged."""
import json
import shutil

from balloonspec.cli import main
from balloonspec.conformance.commands import SHIPPED_VECTORS
from balloonspec.model import constants as C


def vectors(tmp_path, *names):
    d = tmp_path / "vectors"
    d.mkdir()
    for name in names:
        shutil.copy(SHIPPED_VECTORS / f"{name}.json", d)
    return d


def test_the_shipped_vectors_match_the_installed_spec(tmp_path, capsys):
    d = vectors(tmp_path, "init-not-vmware", "inflate-small", "deflate-partial")
    assert main(["conform", "--vectors", str(d), "--json", str(tmp_path / "r.json")]) == 0
    assert "stale_vectors" not in json.loads((tmp_path / "r.json").read_text())


def test_a_spec_edit_makes_the_vectors_it_changes_stale(tmp_path, monkeypatch, capsys):
    d = vectors(tmp_path, "init-not-vmware", "inflate-small", "deflate-partial")
    # A spec edit: the work cycle is re-queued every 2 s instead of every 1 s. The
    # vectors whose driver runs a cycle now expect another QUEUE_WORK delay; the
    # one whose init fails before queueing anything is unchanged.
    monkeypatch.setattr(C, "HZ", 2 * C.HZ)
    code = main(["conform", "--vectors", str(d), "--json", str(tmp_path / "r.json")])
    report = json.loads((tmp_path / "r.json").read_text())
    assert code == 2 == report["exit_code"] and report["verdict"] == "error"
    assert report["stale_vectors"] == ["deflate-partial", "inflate-small"]
    results = {r["id"]: r for r in report["results"]}
    assert results["init-not-vmware"]["status"] == "pass"
    stale = results["inflate-small"]
    assert stale["status"] == "error" and stale["stale"] and "divergence" not in stale  # not judged
    assert "QUEUE_WORK delay=250" in stale["message"] and "QUEUE_WORK delay=500" in stale["message"]
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert summary.startswith("conform error: 2 stale vector(s), not judged")
    assert "deflate-partial, inflate-small" in summary
