"""How two driver builds differ: the same vectors on both, their observed traces side by side.

`diff_builds(a, b, vectors, extra_scenarios=...)` runs every vector (the
shipped set, plus any extra scenarios: seeded exploration today, a refinement
checker's distinguishing scenarios later) on both builds in the userspace
backend, through the conformance runner, and lists the vectors on which the
two observed traces differ, each with its first divergence (the same
comparison conform uses, with build A in the place of the expectation). It
also judges each build against the spec (level full) and lists the documented
findings each build shows (conformance/findings.py), since that is what a
reviewer asks next.

A caller may also ask for views: functions of a trace that forget a
difference it already knows about (say, which freezable workqueue the work
item is queued on); each differing vector then also carries its first
divergence under each view, or None when the view makes the traces equal.

Two runs that both hang are alike whatever point each reached before its time
limit (where a hang is cut off depends on the machine's load); otherwise two
runs are alike when they end with the same verdict and the same trace.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from balloonspec.conformance.compare import first_divergence, position
from balloonspec.conformance.findings import findings_of_build
from balloonspec.conformance.generate import vector_for
from balloonspec.conformance.report import describe_build_error
from balloonspec.conformance.runner import VectorResult, run_vectors
from balloonspec.conformance.vectors import Vector
from balloonspec.driver.build import BuildError, build_configs
from balloonspec.model.scenario import Scenario

SIDES = ("a", "b")


@dataclass
class Difference:
    """One vector on which the builds behave differently."""
    id: str
    index: int  # event index of the first difference
    step: int
    cycle: int
    a: str  # build A's event there (or "end of trace"), or its run's verdict
    b: str
    verdicts: tuple[str, str]  # each run's verdict (ok, crash, hang, ...)
    before: list[str] = field(default_factory=list)
    views: dict[str, dict | None] = field(default_factory=dict)  # view name -> first divergence under it

    def to_json(self) -> dict:
        return dataclasses.asdict(self) | {"verdicts": list(self.verdicts)}


@dataclass
class BuildDiff:
    a: Path
    b: Path
    vectors: int = 0  # vectors run (shipped and extra)
    extra: int = 0  # of which extra scenarios
    differences: list[Difference] = field(default_factory=list)
    build_errors: dict[str, dict] = field(default_factory=dict)  # side -> BuildError.to_json()
    errors: list[dict] = field(default_factory=list)  # vectors that could not be compared
    conform: dict[str, dict] = field(default_factory=dict)  # side -> {"verdict", "failed": [ids]} (level full)
    findings: dict[str, list[dict]] = field(default_factory=dict)  # side -> findings_of_build
    seconds: float = 0.0

    @property
    def verdict(self) -> str:
        if self.build_errors or self.errors:
            return "error"
        return "differ" if self.differences else "same"

    @property
    def exit_code(self) -> int:
        return {"same": 0, "differ": 1, "error": 2}[self.verdict]

    def summary(self) -> str:
        head = f"compare {self.verdict}: "
        if self.build_errors:
            names = "; ".join(f"{side.upper()} {e['source']}" for side, e in self.build_errors.items())
            return head + f"driver does not compile: {names}; no vector was run"
        parts = [f"{len(self.differences)}/{self.vectors} vectors differ"
                 + (f" ({self.extra} explored)" if self.extra else "")]
        if self.errors:
            parts.append(f"{len(self.errors)} not compared (errors)")
        return head + ", ".join(parts) + f" ({self.seconds:.1f}s)"

    def to_json(self) -> dict:
        return {"verdict": self.verdict, "exit_code": self.exit_code, "summary": self.summary(),
                "a": str(self.a), "b": str(self.b), "vectors": self.vectors, "extra": self.extra,
                "differences": [d.to_json() for d in self.differences], "build_errors": self.build_errors,
                "errors": self.errors, "conform": self.conform, "findings": self.findings,
                "seconds": round(self.seconds, 3)}


def scenario_vectors(scenarios: Sequence[Scenario], kind: str, text: str) -> list[Vector]:
    """Scenarios as vectors with the installed spec's prediction (so each build
    is also judged against the spec on them)."""
    return [vector_for(s.id, s, {"kind": kind, "goal": kind, "text": text}) for s in scenarios]


def difference(vid: str, ra: VectorResult, rb: VectorResult) -> Difference | None:
    """How two runs of one vector differ, or None (see the module docstring)."""
    if ra.verdict == rb.verdict == "hang":
        return None
    div = first_divergence(ra.observed, rb.observed)
    if div is None and ra.verdict == rb.verdict:
        return None
    if div is None:  # the same events, another ending
        n = len(ra.observed)
        return Difference(vid, n, *position(ra.observed, n), a=f"run {ra.verdict}", b=f"run {rb.verdict}",
                          verdicts=(ra.verdict, rb.verdict))
    j = div.to_json()
    return Difference(vid, div.index, div.step, div.cycle, a=j["expected"], b=j["observed"],
                      verdicts=(ra.verdict, rb.verdict), before=j["before"])


View = Callable[[list[tuple]], list[tuple]]


def under_view(view: View, ea: list[tuple], eb: list[tuple]) -> dict | None:
    div = first_divergence(view(ea), view(eb))
    if div is None:
        return None
    j = div.to_json()
    return {"index": div.index, "cycle": div.cycle, "a": j["expected"], "b": j["observed"]}


def diff_builds(a: Path, b: Path, vectors: Sequence[Vector], *, extra_scenarios: Sequence[Scenario] = (),
                extra_kind: str = "extra", views: dict[str, View] | None = None,
                malformed: Sequence[dict] = (), jobs: int = 2,
                timeout: float | None = None,
                progress: Callable[[str], None] = lambda msg: None,
                on_update: Callable[[BuildDiff], None] = lambda d: None) -> BuildDiff:
    """Run `vectors` and `extra_scenarios` on builds A and B; see the module docstring.

    Each vector runs on A and B next to each other (the pool runs them in
    parallel), and the pair's traces are compared and dropped as soon as both
    are in, so memory stays that of a few traces whatever the set's size.
    `malformed`: vectors that could not be loaded ({"id", "a", "b"}: why),
    errors from the start. `on_update(diff)` after each pair (and at the end): a caller can write
    its report incrementally."""
    t0 = time.perf_counter()
    extra = scenario_vectors(extra_scenarios, extra_kind,
                             f"{extra_kind} scenario run on both builds") if extra_scenarios else []
    vectors = list(vectors) + extra
    out = BuildDiff(Path(a), Path(b), vectors=len(vectors), extra=len(extra), errors=list(malformed))
    builds = {}
    configs = {v.debugfs for v in vectors}
    for side, src in zip(SIDES, (a, b)):
        try:
            builds[side] = build_configs(src, configs)
        except BuildError as e:
            out.build_errors[side] = {**e.to_json(), "config": e.config}
    if out.build_errors:
        out.seconds = time.perf_counter() - t0
        on_update(out)
        return out

    # One list with each vector twice (A's copy, then B's); the copies are
    # told apart by identity, so the runner needs no notion of sides.
    side_of: dict[int, str] = {}
    paired: list[Vector] = []
    for v in vectors:
        for side in SIDES:
            copy = dataclasses.replace(v)
            side_of[id(copy)] = side
            paired.append(copy)
    results: dict[str, list[VectorResult]] = {side: [] for side in SIDES}
    pending: dict[str, VectorResult] = {}

    def on_result(r: VectorResult) -> None:
        side = SIDES[len(results["a"]) + len(results["b"]) & 1]  # results arrive in list order
        results[side].append(r)
        if side == "a":
            pending[r.id] = r
            return
        ra, rb = pending.pop(r.id), r
        if ra.status == "error" or rb.status == "error":
            out.errors.append({"id": r.id, "a": ra.message if ra.status == "error" else "",
                               "b": rb.message if rb.status == "error" else ""})
        else:
            d = difference(r.id, ra, rb)
            if d is not None:
                d.views = {name: under_view(view, ra.observed, rb.observed) for name, view in (views or {}).items()}
                out.differences.append(d)
        ra.observed = rb.observed = None
        progress(f"[{len(results['b'])}/{len(vectors)}] {r.id}"
                 + (" differs" if out.differences and out.differences[-1].id == r.id else ""))
        out.seconds = time.perf_counter() - t0
        on_update(out)

    run_vectors(lambda v: builds[side_of[id(v)]][v.debugfs], paired, level="full", jobs=jobs,
                on_result=on_result, timeout=timeout, keep_observed=True)
    for side in SIDES:
        failed = [r.id for r in results[side] if r.status != "pass"]
        out.conform[side] = {"level": "full", "verdict": "fail" if failed else "pass", "failed": failed}
        out.findings[side] = findings_of_build(results[side])
    out.seconds = time.perf_counter() - t0
    on_update(out)
    return out


# -- text ---------------------------------------------------------------------------------------


def describe(d: BuildDiff) -> str:
    """The human-readable account: the two builds, each differing vector, the findings."""
    lines = [f"A: {d.a}", f"B: {d.b}"]
    for side, e in d.build_errors.items():
        lines.append(f"build {side.upper()}: " + describe_build_error(e))
    if d.build_errors:
        return "\n".join(lines)
    for side in SIDES:
        c = d.conform[side]
        lines.append(f"{side.upper()} against the spec (level full): {c['verdict']}"
                     + (f", {len(c['failed'])} vector(s) diverge" if c["failed"] else ""))
    if d.differences:
        lines.append(f"vectors on which A and B differ ({len(d.differences)}):")
    for x in d.differences:
        lines.append(f"  {x.id}: first divergence at event {x.index} (step {x.step}, work cycle {x.cycle})")
        lines += [f"        {e}" for e in x.before]
        lines.append(f"      A: {x.a}")
        lines.append(f"      B: {x.b}")
    for e in d.errors:
        lines.append(f"  {e['id']}: not compared: " + "; ".join(f"{s.upper()} {e[s]}" for s in SIDES if e[s]))
    if d.findings:
        width = max(len(f["id"]) for f in d.findings["a"])
        lines.append("documented findings (specs/findings.md):")
        lines.append(f"  {'':<{width}}  {'A':<8} B")
        for fa, fb in zip(d.findings["a"], d.findings["b"]):
            mark = "  <- differs" if fa["status"] != fb["status"] else ""
            lines.append(f"  {fa['id']:<{width}}  {fa['status']:<8} {fb['status']}{mark}")
    return "\n".join(lines)
