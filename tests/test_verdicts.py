"""One verdict everywhere: for every kind of outcome, the summary line, the
JSON report (`verdict`, `exit_code`, `summary`, `totals`) and the exit code of
`balloonspec conform` agree. Each test runs the CLI as a user would, on a
small vector set, with a driver that produces that outcome."""
import json
import re
import shutil
import subprocess
import sys

import pytest

from balloonspec import SEED_DRIVER
from balloonspec.conformance.commands import SHIPPED_VECTORS
from balloonspec.conformance.runner import FLOOR_S, time_limit

from mutants import MUTANTS
from patches import DOES_NOT_COMPILE, HANG_IN_WORK, UNKNOWN_API

EXIT = {"pass": 0, "fail": 1, "error": 2}


def balloonspec(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "balloonspec.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=900)


def vectors(tmp_path, *names):
    d = tmp_path / "vectors"
    d.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(SHIPPED_VECTORS / f"{name}.json", d)
    return d


def one_verdict(r, report_path) -> dict:
    """The JSON report, after checking that it, the summary line and the exit code agree."""
    report = json.loads(report_path.read_text())
    summary = r.stdout.strip().splitlines()[-1]
    assert summary.startswith(f"conform {report['verdict']}: "), (summary, report["verdict"])
    assert r.returncode == report["exit_code"] == EXIT[report["verdict"]], (r.returncode, report["verdict"])
    # the printed line and the JSON's differ only in the elapsed time
    strip_time = lambda s: re.sub(r" \([0-9.]+s\)$", "", s)  # noqa: E731
    assert strip_time(summary) == strip_time(report["summary"])
    assert "Traceback" not in r.stderr
    t = report["totals"]
    assert t["run"] == t["passed"] + t["failed"] + t["errors"] == len(report["results"])
    assert t["vectors"] == t["run"] + t["not_run"]
    return report


def test_pass(tmp_path):
    d = vectors(tmp_path, "init-exit-idle", "inflate-small", "wit-exit-start-fails")
    r = balloonspec("conform", "--vectors", d, "--json", tmp_path / "r.json")
    report = one_verdict(r, tmp_path / "r.json")
    assert report["verdict"] == "pass"
    assert report["totals"]["passed"] == 3 and "3/3 vectors passed" in report["summary"]


def test_fail_divergence(tmp_path):
    mutant = next(m for m in MUTANTS if m.id == "cmp-deflate-goal").write(SEED_DRIVER, tmp_path)
    d = vectors(tmp_path, "init-exit-idle", "deflate-partial")
    r = balloonspec("conform", "--driver", mutant, "--vectors", d, "--json", tmp_path / "r.json")
    report = one_verdict(r, tmp_path / "r.json")
    assert report["verdict"] == "fail"
    assert report["totals"]["by_kind"] == {"divergence": 1} and "1 failed (1 divergence)" in report["summary"]


def test_fail_crash(tmp_path):
    src = tmp_path / "crash.c"
    src.write_text(SEED_DRIVER.read_text().replace(
        "\tSTATS_INC(b->stats.timer);\n", "\tSTATS_INC(b->stats.timer);\n\t*(volatile int *)0 = 0;\n", 1))
    d = vectors(tmp_path, "init-not-vmware", "inflate-small")
    r = balloonspec("conform", "--driver", src, "--vectors", d, "--json", tmp_path / "r.json")
    report = one_verdict(r, tmp_path / "r.json")
    assert report["verdict"] == "fail" and report["totals"]["by_kind"] == {"crash": 1}
    assert "driver run: crash" in r.stderr


def test_fail_hang_with_a_short_limit(tmp_path):
    src = HANG_IN_WORK.write(SEED_DRIVER, tmp_path)
    d = vectors(tmp_path, "init-not-vmware", "inflate-small", "deflate-partial")
    r = balloonspec("conform", "--driver", src, "--vectors", d, "--timeout", "1", "--json", tmp_path / "r.json")
    report = one_verdict(r, tmp_path / "r.json")
    assert report["verdict"] == "fail"
    assert report["totals"]["by_kind"] == {"hang": 2} and "2 failed (2 hang)" in report["summary"]
    hung = [x for x in report["results"] if x["verdict"] == "hang"]
    assert {x["id"] for x in hung} == {"inflate-small", "deflate-partial"}
    assert all(x["time_limit"] == 1 and x["seconds"] < 10 for x in hung)


def test_max_failures_stops_the_run_early(tmp_path):
    src = HANG_IN_WORK.write(SEED_DRIVER, tmp_path)
    d = vectors(tmp_path, "inflate-small", "deflate-partial", "inflate-rate-alloc+0", "target-zero", "init-exit-idle")
    r = balloonspec("conform", "--driver", src, "--vectors", d, "--timeout", "1", "--max-failures", "2",
                    "--jobs", "1", "--json", tmp_path / "r.json")
    report = one_verdict(r, tmp_path / "r.json")
    assert report["verdict"] == "fail"
    assert report["totals"]["failed"] == 2 and report["totals"]["not_run"] == 3
    assert report["stopped_early"] == {"max_failures": 2, "not_run": ["inflate-small", "init-exit-idle",
                                                                      "target-zero"]}
    assert "stopped after 2 failures (--max-failures 2)" in report["summary"]


def test_error_driver_does_not_compile(tmp_path):
    src = DOES_NOT_COMPILE.write(SEED_DRIVER, tmp_path)
    d = vectors(tmp_path, "init-exit-idle", "inflate-small")
    r = balloonspec("conform", "--driver", src, "--vectors", d, "--json", tmp_path / "r.json",
                    "--junit", tmp_path / "r.xml")
    report = one_verdict(r, tmp_path / "r.json")
    assert report["verdict"] == "error" and report["error"] == "driver does not compile"
    assert "error: driver does not compile" in r.stderr
    assert f"{src}:" in r.stderr  # the compiler's first error lines, naming the user's file
    assert report["build_error"]["first_errors"][0].startswith(f"{src}:")
    assert "pass" not in report["summary"] and "0/0" not in report["summary"]
    assert report["totals"]["run"] == 0 and report["totals"]["not_run"] == 2


def test_error_missing_kernel_api_is_named(tmp_path):
    src = UNKNOWN_API.write(SEED_DRIVER, tmp_path)
    d = vectors(tmp_path, "init-exit-idle")
    r = balloonspec("conform", "--driver", src, "--vectors", d, "--json", tmp_path / "r.json")
    report = one_verdict(r, tmp_path / "r.json")
    assert report["verdict"] == "error"
    line = next(i for i, l in enumerate(src.read_text().splitlines(), 1) if "list_park_refused" in l)
    sentence = f"driver uses list_park_refused, which the userspace shims do not provide ({src}:{line})"
    assert report["build_error"]["missing_apis"] == [sentence]
    assert sentence in r.stderr


def test_error_malformed_vector_and_the_rest_run(tmp_path):
    d = vectors(tmp_path, "init-exit-idle", "inflate-small")
    (d / "broken.json").write_text('{"format": "balloonspec-vector/1", "id": "broken"}')
    r = balloonspec("conform", "--vectors", d, "--json", tmp_path / "r.json")
    report = one_verdict(r, tmp_path / "r.json")
    assert report["verdict"] == "error"
    assert report["totals"]["errors"] == 1 and report["totals"]["passed"] == 2


def test_fail_found_only_by_exploration(tmp_path):
    """The mutant passes the vectors given; exploration finds it, shrinks it and
    saves it where --save-regressions says; summary, JSON and exit say fail."""
    mutant = next(m for m in MUTANTS if m.id == "cmp-deflate-goal").write(SEED_DRIVER, tmp_path)
    d = vectors(tmp_path, "init-exit-idle", "inflate-small")
    saved = tmp_path / "found"
    r = balloonspec("conform", "--driver", mutant, "--vectors", d, "--explore", "60", "--seed", "3",
                    "--save-regressions", saved, "--json", tmp_path / "r.json")
    report = one_verdict(r, tmp_path / "r.json")
    assert report["totals"]["passed"] == 2 and report["totals"]["failed"] == 0
    assert report["verdict"] == "fail"
    assert report["totals"]["explored_failed"] == 1 and 1 <= report["totals"]["explored"] <= 60
    files = list(saved.glob("*.json"))
    assert [str(f) for f in files] == [report["explore"]["divergences"][0]["saved"]]
    assert f"1 failed, saved to {files[0]}" in report["summary"]
    # printed with its shrunk scenario and first divergence
    assert "explored scenario regression-cmp-deflate-goal-seed3: fail" in r.stderr
    assert "step init" in r.stderr and "first divergence at event" in r.stderr


def test_regressions_default_to_the_working_directory(tmp_path):
    mutant = next(m for m in MUTANTS if m.id == "cmp-deflate-goal").write(SEED_DRIVER, tmp_path)
    d = vectors(tmp_path, "init-exit-idle")
    work = tmp_path / "work"
    work.mkdir()
    r = balloonspec("conform", "--driver", mutant, "--vectors", d, "--explore", "60", "--seed", "3", cwd=work)
    assert r.returncode == 1
    assert [p.name for p in (work / "balloonspec-regressions").glob("*.json")] == ["regression-cmp-deflate-goal-seed3.json"]
    help_text = re.sub(r"\s+", "", balloonspec("conform", "--help").stdout)  # argparse wraps lines
    assert "--save-regressionsDIR" in help_text and "(default:./balloonspec-regressions)" in help_text


def test_time_limit_grows_with_the_predicted_work():
    assert time_limit(0, 0) == FLOOR_S
    small, big = time_limit(200, 2), time_limit(160_000, 12)
    assert FLOOR_S < small < big and big < 60


@pytest.mark.parametrize("level", ["full", "protocol"])
def test_vector_time_limits_come_from_their_expectations(tmp_path, level):
    d = vectors(tmp_path, "init-exit-idle", "deflate-rate-limited")
    r = balloonspec("conform", "--vectors", d, "--level", level, "--json", tmp_path / "r.json")
    report = one_verdict(r, tmp_path / "r.json")
    limits = {x["id"]: x["time_limit"] for x in report["results"]}
    assert FLOOR_S <= limits["init-exit-idle"] < limits["deflate-rate-limited"]
