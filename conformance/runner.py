"""Run vectors against one driver build and judge each one.

A vector passes when the driver ran to the end (no crash, hang or sanitizer
report), its observed trace equals the expected one (level `full`), and the
protocol monitors report nothing beyond the vector's documented findings.
Driver runs happen in parallel processes; judging happens here, in the order
the vectors were given, and each result is handed to `on_result` as soon as
it is known, so a report can be written incrementally.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable

from balloonspec.model import monitors
from balloonspec.conformance.compare import first_divergence
from balloonspec.conformance.vectors import Vector
from balloonspec.driver.userspace import run_scenario
from balloonspec.model.trace import Kind

RUN_TIMEOUT_S = 60.0

# Time limit of one run: a floor that covers process start and harness set-up
# on a loaded machine, plus a generous margin on the predicted work. Measured
# (`balloonspec bench`, conform_calls_per_s): about 2.5 us per event end to end
# on the 2-core machine class; the margin is 10x that.
FLOOR_S = 3.0
PER_EVENT_S = 25e-6
PER_CYCLE_S = 0.01


def time_limit(events: int, cycles: int) -> float:
    """Seconds a conforming build may take for a run of this predicted size."""
    return round(FLOOR_S + PER_EVENT_S * events + PER_CYCLE_S * cycles, 2)


def cycles_of(events: list[tuple]) -> int:
    return sum(1 for e in events if e[0] == Kind.WORK_RUN)


@dataclass
class VectorResult:
    id: str
    status: str  # pass | fail | error
    reason: dict
    seconds: float = 0.0
    verdict: str = "ok"  # the backend's verdict on the run (ok, crash, hang, sanitizer, ...)
    divergence: dict | None = None
    violations: list[dict] = field(default_factory=list)  # undocumented monitor violations
    documented: list[str] = field(default_factory=list)  # documented findings that showed
    model_state: dict | None = None
    message: str = ""
    backdoor_calls: int = 0

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [], "")}


def judge(vector: Vector, run, level: str) -> VectorResult:
    """Compare one finished run with the vector's expectation."""
    res = VectorResult(id=vector.id, status="pass", reason=vector.reason, verdict=run.verdict)
    res.backdoor_calls = sum(1 for e in run.events if e[0] == 1)
    if run.verdict != "ok":
        res.status = "fail"
        res.message = f"driver run ended with verdict {run.verdict}: {run.stderr_tail[-2000:]}"
    if level == "full":
        div = first_divergence(vector.expected, run.events)
        if div is not None:
            res.status = "fail"
            res.divergence = div.to_json()
            res.model_state = _model_state_at(vector, div.index)
    # A trace identical to the expectation has the expectation's monitor verdicts:
    # exactly the vector's documented findings. Only other traces need the monitors.
    same = level == "full" and res.divergence is None and run.verdict == "ok"
    found = [] if same else monitors.check(run.events, totalram=vector.scenario.sysinfo.totalram)
    if same:
        res.documented = list(vector.expected_findings)
    for v in found:
        if v.monitor in vector.expected_findings:
            res.documented.append(v.monitor)
        else:
            res.status = "fail"
            res.violations.append(v.to_json())
    return res


def _model_state_at(vector: Vector, index: int) -> dict | None:
    """The model's driver state just before event `index` (recomputed only for failures)."""
    from balloonspec.model.predict import state_at

    try:
        p = state_at(vector.scenario, index, debugfs=vector.debugfs)
        host = p.env.host
        return {"driver": p.balloon.summary(), "kernel": p.env.kernel.summary(),
                "host": {"target": host.target, "reset_pending": host.reset_pending, "locked": len(host.locked)}}
    except Exception as e:  # diagnostics must not turn a divergence into a crash
        return {"unavailable": repr(e)}


def run_vectors(
    binary_for: Callable[[Vector], "object"],
    vectors: Iterable[Vector],
    *,
    level: str = "full",
    jobs: int = 2,
    on_result: Callable[[VectorResult], None] = lambda r: None,
) -> list[VectorResult]:
    """binary_for(vector) gives the driver build for that vector's config."""
    vectors = list(vectors)

    def run_one(v: Vector):
        t0 = time.perf_counter()
        try:
            run = run_scenario(binary_for(v), v.scenario.to_script(), timeout_s=RUN_TIMEOUT_S, scenario_id=v.id)
        except Exception as e:  # a backend failure is this vector's error, not the run's end
            return v, None, f"{type(e).__name__}: {e}", time.perf_counter() - t0
        return v, run, "", time.perf_counter() - t0

    results = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for v, run, err, secs in pool.map(run_one, vectors):
            if run is None:
                res = VectorResult(id=v.id, status="error", reason=v.reason, verdict="error", message=err)
            else:
                res = judge(v, run, level)
            res.seconds = round(secs, 4)
            results.append(res)
            on_result(res)
    return results
