"""Run vectors against one driver build and judge each one.

A vector passes when the driver ran to the end (no crash, hang or sanitizer
report), its observed trace equals the expected one (level `full`), and the
protocol monitors report nothing beyond the violation the vector documents
(conformance/findings.py `excuse`).

The expectation a build is judged against is the installed spec's: each
vector is re-predicted (model/predict.py) while its driver run is in flight,
and a vector whose stored expectation no longer matches the prediction is
`stale`: an error, not judged, so that no build is judged against an old spec.

Driver runs happen in parallel processes, each with a time limit derived from
the vector's predicted work (`time_limit`); judging happens here, in the order
the vectors were given, and each result is handed to `on_result` as soon as it
is known, so a report can be written incrementally. `max_failures` stops
starting new runs once that many vectors failed.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable, Iterable

from balloonspec.conformance import findings as F
from balloonspec.conformance.compare import first_divergence
from balloonspec.conformance.vectors import Vector
from balloonspec.driver.userspace import Launch
from balloonspec.model import monitors
from balloonspec.model.predict import predict
from balloonspec.model.trace import Kind

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


@dataclass
class VectorResult:
    id: str
    status: str  # pass | fail | error
    reason: dict
    seconds: float = 0.0
    verdict: str = "ok"  # the backend's verdict on the run (ok, crash, hang, sanitizer, ...)
    divergence: dict | None = None
    violations: list[dict] = field(default_factory=list)  # monitor violations no documentation excuses
    documented: list[str] = field(default_factory=list)  # documented violations that showed
    excused: list[dict] = field(default_factory=list)  # why each documented violation was excused
    model_state: dict | None = None
    message: str = ""
    backdoor_calls: int = 0
    time_limit: float | None = None
    stale: bool = False  # the stored expectation no longer matches the installed spec
    witness: dict | None = None  # for a finding's witness vector: does the trace show the finding?

    @property
    def failure_kind(self) -> str | None:
        """What made it fail: the run's verdict (hang, crash, ...), a divergence or a monitor."""
        if self.status == "pass":
            return None
        if self.status == "error":
            return "stale" if self.stale else "error"
        if self.verdict != "ok":
            return self.verdict
        return "divergence" if self.divergence else "monitor"

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None and v is not False and v != [] and v != ""}


def cycles_of(events: list[tuple]) -> int:
    return sum(1 for e in events if e[0] == Kind.WORK_RUN)


def judge(vector: Vector, run, level: str, expected: list[tuple] | None = None,
          documented: list | None = None) -> VectorResult:
    """Compare one finished run with the expectation (default: the vector's stored one);
    `documented`: the expectation's own monitor violations, if already known."""
    expected = vector.expected if expected is None else expected
    res = VectorResult(id=vector.id, status="pass", reason=vector.reason, verdict=run.verdict)
    res.backdoor_calls = sum(1 for e in run.events if e[0] == Kind.BACKDOOR)
    res.witness = F.witness_check(vector.id, run.events, finished=run.verdict == "ok")
    if run.verdict != "ok":
        res.status = "fail"
        res.message = f"driver run ended with verdict {run.verdict}: {run.stderr_tail[-2000:]}"
    if level == "full":
        div = first_divergence(expected, run.events)
        if div is not None:
            res.status = "fail"
            res.divergence = div.to_json()
            res.model_state = _model_state_at(vector, div.index)
    totalram = vector.scenario.sysinfo.totalram
    if documented is None:
        documented = monitors.check(expected, totalram=totalram)
    # A trace identical to the expectation has exactly the expectation's violations.
    if level == "full" and res.divergence is None and run.verdict == "ok":
        res.documented = [v.monitor for v in documented]
        return res
    for v in monitors.check(run.events, totalram=totalram):
        why = F.excuse(v, run.events, documented, expected, totalram)
        if why:
            res.documented.append(v.monitor)
            res.excused.append({"monitor": v.monitor, "index": v.index, "why": why})
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


def stale_difference(vector: Vector, predicted: list[tuple], documented: list) -> str | None:
    """How the stored expectation differs from the installed spec's prediction
    (and the monitor violations it shows, `documented`), or None."""
    if predicted == vector.expected:
        findings = sorted({v.monitor for v in documented})
        if findings != sorted(vector.expected_findings):
            return f"expected_findings {sorted(vector.expected_findings)}, the spec now shows {findings}"
        return None
    div = first_divergence(vector.expected, predicted)
    return (f"the installed spec predicts another trace: first difference at event {div.index} "
            f"(stored: {div.to_json()['expected']}; spec now: {div.to_json()['observed']})")


def run_vectors(
    binary_for: Callable[[Vector], "object"],
    vectors: Iterable[Vector],
    *,
    level: str = "full",
    jobs: int = 2,
    on_result: Callable[[VectorResult], None] = lambda r: None,
    timeout: float | None = None,
    max_failures: int | None = None,
) -> tuple[list[VectorResult], list[str]]:
    """binary_for(vector) gives the driver build for that vector's config.

    Returns (results in vector order, ids of the vectors not run because
    max_failures was reached)."""
    vectors = list(vectors)
    stop = threading.Event()

    def run_one(v: Vector):
        t0 = time.perf_counter()
        limit = timeout or time_limit(len(v.expected), cycles_of(v.expected))
        try:
            launch = Launch(binary_for(v), v.scenario.to_script(), timeout_s=limit, scenario_id=v.id)
            predicted = predict(v.scenario, debugfs=v.debugfs).events  # while the driver runs
            documented = monitors.check(predicted, totalram=v.scenario.sysinfo.totalram)
            run = launch.collect()
        except Exception as e:  # a backend failure is this vector's error, not the run's end
            return VectorResult(id=v.id, status="error", reason=v.reason, verdict="error",
                                message=f"{type(e).__name__}: {e}", seconds=round(time.perf_counter() - t0, 4))
        stale = stale_difference(v, predicted, documented)
        if stale:
            res = VectorResult(id=v.id, status="error", reason=v.reason, verdict=run.verdict, stale=True,
                               message=f"stale vector: {stale}; regenerate the vectors (`balloonspec vectors`)")
        else:
            res = judge(v, run, level, expected=predicted, documented=documented)
        res.seconds = round(time.perf_counter() - t0, 4)
        res.time_limit = limit
        return res

    results: dict[int, VectorResult] = {}
    failures = 0
    next_to_report = 0
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        pending = {}
        it = iter(enumerate(vectors))
        for i, v in it:  # keep the pool busy, but no more than that, so a stop takes effect soon
            pending[pool.submit(run_one, v)] = i
            if len(pending) >= max(1, jobs):
                break
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                results[pending.pop(fut)] = fut.result()
            while next_to_report in results:  # report in vector order
                res = results[next_to_report]
                failures += res.status != "pass"
                on_result(res)
                next_to_report += 1
            if max_failures and failures >= max_failures:
                stop.set()
            while not stop.is_set() and len(pending) < max(1, jobs):
                nxt = next(it, None)
                if nxt is None:
                    break
                pending[pool.submit(run_one, nxt[1])] = nxt[0]
    ordered = [results[i] for i in sorted(results)]
    ran = {r.id for r in ordered}
    return ordered, [v.id for v in vectors if v.id not in ran]
