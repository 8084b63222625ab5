"""The `balloonspec conform` command: exit codes, reports, errors carrying the vector id."""
import json
import shutil
import subprocess
import sys
from xml.etree import ElementTree as ET

import pytest

from balloonspec import SEED_DRIVER
from balloonspec.conformance.commands import SHIPPED_VECTORS

from mutants import MUTANTS


def balloonspec(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "balloonspec.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=900)


@pytest.fixture
def few_vectors(tmp_path):
    d = tmp_path / "vectors"
    d.mkdir()
    for name in ("init-exit-idle", "inflate-small", "deflate-partial", "lock-refused-ppn_pinned"):
        shutil.copy(SHIPPED_VECTORS / f"{name}.json", d)
    return d


def test_seed_conforms_with_json_and_junit(tmp_path, few_vectors):
    r = balloonspec("conform", "--vectors", few_vectors, "--json", tmp_path / "r.json", "--junit", tmp_path / "r.xml")
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["verdict"] == "pass"
    assert report["totals"] == {"vectors": 4, "run": 4, "passed": 4, "failed": 0, "errors": 0, "not_run": 0}
    assert {x["id"] for x in report["results"]} == {p.stem for p in few_vectors.glob("*.json")}
    suite = ET.parse(tmp_path / "r.xml").getroot()
    assert suite.get("tests") == "4" and suite.get("failures") == "0"


def test_a_mutant_fails_with_its_first_divergence(tmp_path, few_vectors):
    mutant = next(m for m in MUTANTS if m.id == "cmp-deflate-goal").write(SEED_DRIVER, tmp_path)
    r = balloonspec("conform", "--driver", mutant, "--vectors", few_vectors, "--json", tmp_path / "r.json",
                    "--junit", tmp_path / "r.xml")
    assert r.returncode == 1
    report = json.loads((tmp_path / "r.json").read_text())
    failed = [x for x in report["results"] if x["status"] == "fail"]
    assert [x["id"] for x in failed] == ["deflate-partial"]
    div = failed[0]["divergence"]
    assert "UNLOCK" in div["expected"] + div["observed"] and div["cycle"] >= 2
    assert "model_state" in failed[0] and failed[0]["reason"]["text"]
    assert "first divergence" in r.stderr
    assert ET.parse(tmp_path / "r.xml").getroot().get("failures") == "1"


def test_driver_that_does_not_compile_is_an_error(tmp_path, few_vectors):
    bad = tmp_path / "bad.c"
    bad.write_text(SEED_DRIVER.read_text().replace("static void vmballoon_pop", "static void vmballoon_pop(", 1))
    r = balloonspec("conform", "--driver", bad, "--vectors", few_vectors, "--json", tmp_path / "r.json")
    assert r.returncode == 2
    assert "does not compile" in r.stderr and "error" in r.stderr
    assert "Traceback" not in r.stderr
    assert "build_error" in json.loads((tmp_path / "r.json").read_text())


def test_malformed_vector_is_an_error_and_the_run_goes_on(tmp_path, few_vectors):
    (few_vectors / "broken.json").write_text('{"format": "balloonspec-vector/1", "id": "broken"}')
    r = balloonspec("conform", "--vectors", few_vectors, "--json", tmp_path / "r.json")
    assert r.returncode == 2
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["totals"]["errors"] == 1 and report["totals"]["passed"] == 4
    assert next(x for x in report["results"] if x["id"] == "broken")["status"] == "error"


def test_missing_driver_is_a_usage_error(tmp_path):
    r = balloonspec("conform", "--driver", tmp_path / "nope.c")
    assert r.returncode == 2 and "not found" in r.stderr and "Traceback" not in r.stderr
