"""Conformance on the in-kernel backend (driver/kernel_backend.py).

In a real kernel the host sees everything the driver says, but the page
allocator, si_meminfo and the workqueue are the kernel's own. So:
- only the kernel-observable events are compared (BACKDOOR, STEP, WORK_RUN,
  DEBUGFS_READ, INIT, EXIT), exactly, except that PFNs are matched up to a
  consistent renaming (the kernel picks them; a renaming pair ends when the
  model frees the page, since the kernel may hand the PFN out again);
- GET_TARGET's argument is the guest's real totalram, read off the trace and
  put into the scenario before predicting;
- allocation outcomes are unknowns: when the driver skips a LOCK the model
  expected right after an allocation, that allocation is inferred to have
  failed and the prediction is redone with that failure, up to a limit; the
  report lists every inferred outcome.
Vectors that need control the kernel does not give (allocator rules, sysinfo
values, debugfs errors, builds without debugfs) are skipped with the reason.
"""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from balloonspec import SEED_DRIVER
from balloonspec.model import monitors
from balloonspec.conformance.compare import position
from balloonspec.conformance.runner import VectorResult
from balloonspec.model.trace import Kind, format_event
from balloonspec.model import constants as C
from balloonspec.model.predict import predict
from balloonspec.model.scenario import AllocRule, SysInfo

OBSERVABLE = {Kind.BACKDOOR, Kind.STEP, Kind.WORK_RUN, Kind.DEBUGFS_READ, Kind.INIT, Kind.EXIT}
PAGE_COMMANDS = (C.VMW_BALLOON_CMD_LOCK, C.VMW_BALLOON_CMD_UNLOCK)
MAX_INFERRED_FAILURES = 32


def unsupported(vector) -> str | None:
    """Why the kernel backend cannot replay this vector, or None."""
    sc = vector.scenario
    if not vector.debugfs:
        return "needs a build without CONFIG_DEBUG_FS (the kernel's module has it)"
    if sc.alloc_rules:
        return "needs allocator control (alloc_rule): PFNs and failures are the kernel's"
    if sc.debugfs_error:
        return "needs debugfs_create_file to fail"
    if any(s.kind == "set_totalram" for s in sc.steps):
        return "needs control of si_meminfo (set_totalram)"
    if replace(sc.sysinfo, totalram=SysInfo().totalram) != SysInfo() or sc.sysinfo.totalram != SysInfo().totalram:
        return "needs control of si_meminfo (sysinfo)"
    return None


def _observed_totalram(events) -> int | None:
    for e in events:
        if e[0] == Kind.BACKDOOR and e[2] == C.VMW_BALLOON_CMD_GET_TARGET:
            return e[3]
    return None


def compare_renamed(model: list[tuple], observed: list[tuple]):
    """First divergence as (model index, expected, observed), or None.

    Observed events are already restricted to OBSERVABLE kinds."""
    m2o: dict[int, int] = {}
    o2m: dict[int, int] = {}
    j = 0
    for i, e in enumerate(model):
        kind = e[0]
        if kind == Kind.FREE:  # the page is back in the kernel: its PFN may be reused
            o = m2o.pop(e[1], None)
            o2m.pop(o, None)
            continue
        if kind not in OBSERVABLE:
            continue
        o = observed[j] if j < len(observed) else None
        j += 1
        if o is None:
            return i, e, None
        if kind == Kind.BACKDOOR and e[2] in PAGE_COMMANDS and o[0] == kind and o[2] == e[2]:
            want = m2o.get(e[3])
            if want is None and o[3] not in o2m:
                m2o[e[3]], o2m[o[3]] = o[3], e[3]
            elif want != o[3]:
                return i, e, o
            if e[:3] + e[4:] != o[:3] + o[4:]:
                return i, e, o
        elif e != o:
            return i, e, o
    if j < len(observed):
        return len(model), None, observed[j]
    return None


def _failed_allocation(model: list[tuple], index: int, scenario):
    """The allocation just before model event `index`, as a failing AllocRule."""
    step, per_gfp = -1, {}
    target = None
    for e in model[:index]:
        if e[0] == Kind.STEP:
            step, per_gfp = e[1], {}
        elif e[0] == Kind.ALLOC:
            per_gfp[e[1]] = per_gfp.get(e[1], 0) + 1
            target = (e[1], step, per_gfp[e[1]])
    if target is None:
        return None
    gfp, scope, nth = target
    return AllocRule(gfp=gfp, scope=scope, nth=nth)


def judge_kernel(vector, run) -> tuple[VectorResult, list[dict]]:
    res = VectorResult(id=vector.id, status="pass", reason=vector.reason, verdict=run.verdict)
    observed = [e for e in run.events if e[0] in OBSERVABLE]
    res.backdoor_calls = sum(1 for e in observed if e[0] == Kind.BACKDOOR)
    if run.verdict != "ok":
        res.status, res.message = "fail", f"kernel run ended with {run.verdict}:\n{run.console_tail[-3000:]}"
        return res, []
    scenario = vector.scenario
    totalram = _observed_totalram(observed)
    if totalram is not None:
        scenario = scenario.with_(sysinfo=replace(scenario.sysinfo, totalram=totalram))
    inferred: list[dict] = []
    for _ in range(MAX_INFERRED_FAILURES + 1):
        model = predict(scenario).events
        div = compare_renamed(model, observed)
        if div is None:
            break
        i, exp, obs = div
        # The driver skipped an expected LOCK right after an allocation: that allocation failed.
        if exp is not None and exp[0] == Kind.BACKDOOR and exp[2] == C.VMW_BALLOON_CMD_LOCK \
                and model[i - 1][0] == Kind.ALLOC and not (obs and obs[0] == Kind.BACKDOOR and obs[2] == exp[2]):
            rule = _failed_allocation(model, i, scenario)
            inferred.append({"step": rule.scope, "gfp": hex(rule.gfp), "nth": rule.nth, "outcome": "fail"})
            scenario = scenario.with_(alloc_rules=scenario.alloc_rules + (rule,))
            continue
        res.status = "fail"
        step, cycle = position(model, i)
        res.divergence = {"index": i, "step": step, "cycle": cycle,
                          "expected": format_event(exp) if exp else "end of trace",
                          "observed": format_event(obs) if obs else "end of trace",
                          "before": [format_event(e) for e in model[max(0, i - 6):i]
                                     if e[0] in OBSERVABLE][-3:]}
        break
    documented = {v.monitor for v in monitors.check(predict(scenario).events, memory=False)}
    for v in monitors.check(observed, memory=False):
        if v.monitor not in documented:
            res.status = "fail"
            res.violations.append(v.to_json())
    return res, inferred


def cmd_conform_kernel(args) -> int:
    from balloonspec.conformance import vectors as V
    from balloonspec.conformance.commands import SHIPPED_VECTORS
    from balloonspec.conformance.report import Report, describe_result
    from balloonspec.driver.kernel_backend import run_scenarios_kernel

    module = Path(args.module) if args.module else Path(args.driver) if args.driver else SEED_DRIVER
    if not module.is_file():
        print(f"balloonspec: not found: {module}", file=sys.stderr)
        return 2
    level = "protocol" if args.module else args.level
    vecs, bad = V.load_dir(Path(args.vectors) if args.vectors else SHIPPED_VECTORS)
    if not vecs and not bad:
        print("balloonspec: no vectors to run", file=sys.stderr)
        return 2
    runnable, skipped = [], []
    for v in vecs:
        why = unsupported(v)
        (skipped.append({"id": v.id, "reason": why}) if why else runnable.append(v))
    report = Report(total=len(runnable) + len(bad), json_path=args.json,
                    meta={"driver": str(module), "backend": "kernel", "level": level, "skipped": skipped})
    for e in bad:
        report.add(VectorResult(id=e.vector_id, status="error", reason={}, verdict="error", message=str(e)))
    print(f"kernel backend: {len(runnable)} vectors, {len(skipped)} skipped (need userspace-only control)",
          file=sys.stderr)
    runs = run_scenarios_kernel(module, [(v.id, v.scenario.to_script()) for v in runnable],
                                timeout_s=120.0)
    inferred_all = {}
    for v, run in zip(runnable, runs):
        if level == "full":
            res, inferred = judge_kernel(v, run)
            if inferred:
                inferred_all[v.id] = inferred
        else:
            res = VectorResult(id=v.id, status="pass", reason=v.reason, verdict=run.verdict)
            if run.verdict != "ok":
                res.status, res.message = "fail", f"kernel run ended with {run.verdict}:\n{run.console_tail[-3000:]}"
            for viol in monitors.check([e for e in run.events if e[0] in OBSERVABLE], memory=False):
                res.status = "fail"
                res.violations.append(viol.to_json())
            if res.status == "fail" and not res.message:
                res.message = f"console (this scenario):\n{run.console_tail[-1500:]}"
        report.add(res)
    report.extra["inferred_allocation_outcomes"] = inferred_all
    report.extra["boot"] = runs[0].stats if runs else {}
    report.write_json()
    if args.junit:
        report.write_junit(args.junit)
    for r in report.results:
        if r.status != "pass":
            print(describe_result(r), file=sys.stderr)
    t = report.totals
    print(f"conform (kernel, {level}) {report.verdict}: {t['passed']}/{t['vectors']} vectors passed, "
          f"{t['failed']} failed, {t['errors']} errors; {len(skipped)} skipped")
    return {"pass": 0, "fail": 1, "error": 2}[report.verdict]
