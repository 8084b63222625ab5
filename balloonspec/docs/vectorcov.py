"""Which lines and branch arcs of the driver each vector reaches: the gcov
coverage build that `balloonspec conform --coverage` uses
(driver/build.py, conformance/coverage.py), run once per vector.

Each run writes its counts to its own directory (GCOV_PREFIX), so runs go in
parallel. Results are cached by content: the coverage build's key (driver
source, shims, flags, compiler) and the vector's scenario script, under
$BALLOONSPEC_CACHE/vector-coverage/ (default ~/.cache/balloonspec/). A docs
build after the first reruns nothing unless a vector or the driver changed.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from balloonspec.driver.build import DRIVER_NAME, build_driver, cache_root
from balloonspec.driver.userspace import run_scenario

RUN_TIMEOUT_S = 120.0
FORMAT = b"vector-coverage/1"  # part of the cache key: bump when what is recorded changes


@dataclass
class VectorCoverage:
    """Counts of one vector's run. lines: line -> count; arcs: line -> [(count, fallthrough)]
    in gcov's order (the branch arcs of the code on that line)."""

    vector: str
    lines: dict[int, int]
    arcs: dict[int, list[tuple[int, bool]]]
    error: str = ""

    def to_json(self) -> dict:
        return {"vector": self.vector, "lines": self.lines, "arcs": self.arcs, "error": self.error}

    @classmethod
    def from_json(cls, d: dict) -> "VectorCoverage":
        return cls(d["vector"], {int(k): v for k, v in d["lines"].items()},
                   {int(k): [tuple(a) for a in v] for k, v in d["arcs"].items()}, d.get("error", ""))


def _cache_dir() -> Path:
    return cache_root().parent / "vector-coverage"


def _gcov(run_dir: Path, build_dir: Path) -> tuple[dict, dict]:
    shutil.copy(build_dir / f"{DRIVER_NAME}.gcno", run_dir / f"{DRIVER_NAME}.gcno")
    r = subprocess.run(["gcov", "--json-format", "--stdout", "--branch-probabilities", f"{DRIVER_NAME}.gcda"], cwd=run_dir,
                       capture_output=True, text=True, check=True)
    data = json.loads(next(chunk for chunk in r.stdout.splitlines() if chunk.strip()))
    lines: dict[int, int] = {}
    arcs: dict[int, list] = {}
    for f in data["files"]:
        if Path(f["file"]).name != f"{DRIVER_NAME}.c":
            continue
        for ln in f["lines"]:
            n = ln["line_number"]
            lines[n] = lines.get(n, 0) + ln["count"]
            if ln.get("branches"):
                arcs.setdefault(n, []).extend((b["count"], b["fallthrough"]) for b in ln["branches"])
    return lines, arcs


def measure_one(vector, binary: Path) -> VectorCoverage:
    """Run one vector on the coverage build; its own counts."""
    build_dir = binary.parent
    with tempfile.TemporaryDirectory(prefix="balloonspec-cov-") as tmp:
        env = {"GCOV_PREFIX": tmp, "GCOV_PREFIX_STRIP": str(len(build_dir.parts) - 1)}
        run = run_scenario(binary, vector.scenario.to_script(), timeout_s=RUN_TIMEOUT_S, scenario_id=vector.id,
                           env=env, decode_events=False)
        if not (Path(tmp) / f"{DRIVER_NAME}.gcda").exists():
            return VectorCoverage(vector.id, {}, {}, f"no coverage data (run verdict {run.verdict})")
        lines, arcs = _gcov(Path(tmp), build_dir)
        return VectorCoverage(vector.id, lines, arcs, "" if run.verdict == "ok" else f"run verdict {run.verdict}")


def measure(vectors, driver: Path, *, jobs: int = 0,
            progress: Callable[[str], None] = lambda msg: None) -> dict[str, VectorCoverage]:
    """Per-vector coverage of `driver`, from the cache where it is there."""
    builds = {d: build_driver(driver, debugfs=d, coverage=True) for d in {v.debugfs for v in vectors}}
    cache = _cache_dir()
    cache.mkdir(parents=True, exist_ok=True)

    def key(v) -> Path:
        h = hashlib.sha256(FORMAT + b"\0" + builds[v.debugfs].parent.name.encode() + b"\0"
                           + v.scenario.to_script().encode())
        return cache / f"{h.hexdigest()[:32]}.json"

    out: dict[str, VectorCoverage] = {}
    todo = []
    for v in vectors:
        path = key(v)
        if path.exists():
            cov = VectorCoverage.from_json(json.loads(path.read_text()))
            cov.vector = v.id
            out[v.id] = cov
        else:
            todo.append(v)
    if todo:
        progress(f"measuring the coverage of {len(todo)} vector(s) (cached afterwards)")

    def one(v):
        cov = measure_one(v, builds[v.debugfs])
        if not cov.error:  # written whole or not at all, also with parallel writers
            fd, tmp = tempfile.mkstemp(dir=cache, suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(cov.to_json()))
            os.replace(tmp, key(v))
        return cov

    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
        for cov in pool.map(one, todo):
            out[cov.vector] = cov
    return {v.id: out[v.id] for v in vectors}
