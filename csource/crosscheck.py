"""The interpreted C against the compiled C: the same driver source, two
independent executions (csource's interpreter; the userspace backend's gcc
build), compared event for event on each vector's scenario and build
configuration (CONFIG_DEBUG_FS as the vector says).

``crosscheck(source, vectors)`` runs each vector both ways (the compiled run
in its own process while the interpreter runs) and reports, per vector, the
first divergence (if any) and the time of each side; ``summary`` adds the
totals, the slowest vector, and the interpreter's rate in backdoor calls
per second on the vector with the most calls.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from balloonspec.conformance.compare import first_divergence
from balloonspec.conformance.vectors import Vector
from balloonspec.driver.build import build_driver
from balloonspec.driver.userspace import Launch
from balloonspec.model.trace import Kind

from .errors import CFrontError
from .run import predict_c


@dataclass
class Check:
    id: str
    debugfs: bool
    status: str  # same | differs | error
    interpret_s: float = 0.0
    wall_s: float = 0.0  # both sides, run in parallel
    backdoor_calls: int = 0
    events: int = 0
    matches_vector: bool = True  # the traces equal the vector's expectation (the spec's, for the seed)
    divergence: str = ""
    message: str = ""

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v != ""}


@dataclass
class Summary:
    source: str
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def verdict(self) -> str:
        if any(c.status == "error" for c in self.checks):
            return "error"
        return "differs" if any(c.status == "differs" for c in self.checks) else "same"

    def to_json(self) -> dict:
        busiest = max(self.checks, key=lambda c: c.backdoor_calls, default=None)
        slowest = max(self.checks, key=lambda c: c.interpret_s, default=None)
        return {
            "source": self.source,
            "verdict": self.verdict,
            "vectors": len(self.checks),
            "same": sum(c.status == "same" for c in self.checks),
            "seconds": round(self.seconds, 3),
            "interpret_seconds": round(sum(c.interpret_s for c in self.checks), 3),
            "slowest": {"id": slowest.id, "interpret_s": round(slowest.interpret_s, 3)} if slowest else None,
            "busiest": {"id": busiest.id, "backdoor_calls": busiest.backdoor_calls,
                        "interpret_calls_per_s": round(busiest.backdoor_calls / max(busiest.interpret_s, 1e-9))}
            if busiest else None,
            "checks": [c.to_json() for c in self.checks],
        }


def check_one(source: Path, vector: Vector, binary: Path, debugfs: bool | None = None) -> Check:
    """One vector's scenario, interpreted and run on ``binary`` (built with
    ``debugfs``: the vector's configuration unless given)."""
    debugfs = vector.debugfs if debugfs is None else debugfs
    res = Check(vector.id, debugfs, "same")
    t0 = time.perf_counter()
    launch = Launch(binary, vector.scenario.to_script(), scenario_id=vector.id)
    try:
        t1 = time.perf_counter()
        try:
            pred = predict_c(source, vector.scenario, debugfs=debugfs)
            res.interpret_s = time.perf_counter() - t1
        except CFrontError as e:
            res.interpret_s = time.perf_counter() - t1
            res.status, res.message = "error", f"interpreter: {e}"
            return res
    finally:
        run = launch.collect()
        res.wall_s = time.perf_counter() - t0
    if run.verdict != "ok":
        res.status, res.message = "error", f"compiled run: verdict {run.verdict}: {run.stderr_tail[-500:]}"
        return res
    res.events = len(pred.events)
    res.backdoor_calls = sum(1 for e in pred.events if e[0] == Kind.BACKDOOR)
    res.matches_vector = pred.events == vector.expected
    div = first_divergence(run.events, pred.events)
    if div is not None:
        res.status = "differs"
        res.divergence = str(div).replace("expected", "compiled").replace("observed", "interpreted")
    return res


def crosscheck(source: str | Path, vectors: Iterable[Vector], *,
               on_check: Callable[[Check], None] = lambda c: None) -> Summary:
    source = Path(source)
    summary = Summary(str(source))
    t0 = time.perf_counter()
    binaries: dict[bool, Path] = {}
    for v in vectors:
        if v.debugfs not in binaries:
            binaries[v.debugfs] = build_driver(source, debugfs=v.debugfs)
        c = check_one(source, v, binaries[v.debugfs])
        summary.checks.append(c)
        on_check(c)
    summary.seconds = time.perf_counter() - t0
    return summary
