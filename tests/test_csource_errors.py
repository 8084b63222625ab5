"""Outside the supported C subset the front end says so, naming the construct
and its line (never a wrong answer); a driver that would crash when compiled
is a DriverFault at the faulting line; the CLI turns both into a message and
exit code 2. The dependencies point one way: model/ never imports csource/."""
import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from balloonspec import REPO, SEED_DRIVER
from balloonspec.conformance.commands import SHIPPED_VECTORS
from balloonspec.conformance.vectors import load_dir
from balloonspec.csource.compile import load
from balloonspec.csource.errors import DriverFault, Unsupported
from balloonspec.csource.run import predict_c
from balloonspec.driver.build import build_driver
from balloonspec.driver.userspace import run_scenario
from balloonspec.model.scenario import Scenario, steps

SEED = SEED_DRIVER.read_text()
VECTORS = {v.id: v for v in load_dir(SHIPPED_VECTORS)[0]}


def _variant(tmp_path: Path, find: str, replace: str, name: str = "variant.c") -> Path:
    assert SEED.count(find) == 1, find
    path = tmp_path / name
    path.write_text(SEED.replace(find, replace))
    return path


def _line(path: Path, text: str) -> int:
    (n,) = [i for i, ln in enumerate(path.read_text().split("\n"), 1) if text in ln]
    return n


UNSUPPORTED = [  # (find, replace, the construct named, the offending line's text)
    ("\tb->size++;", "\tb->size += (unsigned int)(1.5 * 2);", "floating point", "1.5 * 2"),
    ("\tb->size++;", "\tb->size = b->size + (unsigned int)(-7 / (int)b->size);", "signed division", "-7 /"),
    ("\tb->size++;", "\t__asm__ __volatile__(\"nop\");\n\tb->size++;", "inline asm 'nop'", "nop"),
    ("\tb->size++;", "\tmsleep(10);\n\tb->size++;", "undeclared function msleep", "msleep"),
    ("\tb->size++;", "\tb->size++;\n\tb->pages.next = NULL;", "list_head's pointers", "pages.next"),
    ("\tb->size++;", "\t{ unsigned int arr[2] = { 0, 1 }; b->size += arr[1]; }", "local array arr", "arr[2]"),
    ("\tb->size++;", "\tb->size = b->size + (unsigned int)(unsigned long)&b->pages;",
     "conversion of a struct list_head * to unsigned long", "(unsigned long)&b->pages"),
]


@pytest.mark.parametrize("find,replace,construct,marker", UNSUPPORTED, ids=[u[2] for u in UNSUPPORTED])
def test_unsupported_constructs_are_named_with_their_line(find, replace, construct, marker, tmp_path):
    path = _variant(tmp_path, find, replace)
    with pytest.raises(Unsupported) as e:
        load(path)
    assert construct in str(e.value)
    assert e.value.line == _line(path, marker), str(e.value)
    assert str(e.value).startswith(f"{path}:{e.value.line}")


def test_null_dereference_is_a_driver_fault_at_its_line(tmp_path):
    path = _variant(tmp_path, "struct vmballoon *b = container_of(dwork, struct vmballoon, dwork);",
                    "struct vmballoon *b = NULL;")
    scenario = Scenario(id="null", steps=steps("init", "cycle"))
    with pytest.raises(DriverFault) as e:
        predict_c(path, scenario)
    assert "NULL pointer dereference" in str(e.value)
    assert e.value.line == _line(path, "STATS_INC(b->stats.timer);")
    run = run_scenario(build_driver(path), scenario.to_script())
    assert run.verdict == "crash"  # the compiled build agrees


def test_a_corrupted_list_is_a_driver_fault(tmp_path):
    """list_del twice: the kernel follows LIST_POISON and crashes (gcc refuses to build it)."""
    path = _variant(tmp_path, "\t\tlist_del(&page->lru);\n\t\t__free_page(page);\n\t\tSTATS_INC(b->stats.free);\n\t\tb->size--;",
                    "\t\tlist_del(&page->lru);\n\t\tlist_del(&page->lru);\n\t\t__free_page(page);\n"
                    "\t\tSTATS_INC(b->stats.free);\n\t\tb->size--;")
    scenario = VECTORS["exit-with-balloon"].scenario
    with pytest.raises(DriverFault) as e:
        predict_c(path, scenario)
    assert "deleted list entry" in str(e.value)
    pop = load(path).functions["vmballoon_pop"]
    assert pop.line < e.value.line < pop.line + 20  # the second list_del, in vmballoon_pop


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "balloonspec.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_cli_interpret_prints_the_trace_and_exits_2_on_unsupported_c(tmp_path):
    vector = tmp_path / "v.json"
    vector.write_text((SHIPPED_VECTORS / "inflate-small.json").read_text())
    ok = _cli("interpret", str(vector))
    assert ok.returncode == 0, ok.stderr
    lines = ok.stdout.splitlines()
    assert "STEP" in lines[0] and "ACCOUNT" in lines[-2] and lines[-1] == "verdict: ok"
    assert sum("cmd=LOCK" in ln for ln in lines) == sum(1 for e in VECTORS["inflate-small"].expected
                                                        if e[0] == 1 and e[2] == 2)
    bad = _variant(tmp_path, "\tb->size++;", "\t__asm__ __volatile__(\"nop\");\n\tb->size++;", "bad.c")
    err = _cli("interpret", str(vector), "--driver", str(bad))
    assert err.returncode == 2
    assert f"bad.c:{_line(bad, 'nop')}" in err.stderr and "unsupported construct: inline asm" in err.stderr
    assert "Traceback" not in err.stderr


def test_cli_crosscheck_reports_times_and_rate(tmp_path):
    vectors = tmp_path / "vectors"
    vectors.mkdir()
    for vid in ("inflate-nosleep-cap+1", "no-debugfs-config"):
        (vectors / f"{vid}.json").write_text((SHIPPED_VECTORS / f"{vid}.json").read_text())
    out = tmp_path / "cc.json"
    r = _cli("crosscheck", "--vectors", str(vectors), "--json", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "crosscheck same: 2/2 vectors identical" in r.stdout and "backdoor calls/s on inflate-nosleep-cap+1" in r.stdout
    j = json.loads(out.read_text())
    assert j["busiest"]["backdoor_calls"] == 16389 and j["busiest"]["interpret_calls_per_s"] > 0
    bad = _variant(tmp_path, "\tb->size++;", "\tb->size += 2;", "differs.c")
    r = _cli("crosscheck", "--vectors", str(vectors), "--driver", str(bad))
    assert r.returncode == 0  # a different driver, still interpreted exactly as it compiles


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(("." * node.level) + node.module)
        elif isinstance(node, ast.Import):
            names += [a.name for a in node.names]
    return names


def test_dependencies_point_from_csource_to_model():
    for path in sorted((REPO / "model").rglob("*.py")):
        assert not [n for n in _imports(path) if "csource" in n], path
    tools = {"crosscheck.py", "commands.py"}  # compare with the compiled build: may use driver/ and conformance/
    for path in sorted((REPO / "csource").glob("*.py")):
        if path.name not in tools:
            bad = [n for n in _imports(path) if n.startswith(("balloonspec.driver", "balloonspec.conformance"))]
            assert not bad, (path.name, bad)
