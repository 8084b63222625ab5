"""Conformance on the in-kernel backend (driver/kernel_backend.py).

The kernel backend observes every event kind of specs/trace.md, so a run is
judged exactly as in userspace (conformance/runner: a stale vector is an
error, not judged; `judge`: the full trace at level full, the protocol
monitors at both levels with precise excuses; the findings the build shows
from the witness vectors), after three adjustments
that say what a real kernel is:
- PFNs are the guest's: each real PFN is renamed to the model's PFN of the
  page handed out at the same position of the expected trace (the rename
  holds while the page is held; the kernel may hand the PFN out again after
  a free). Vectors that need a PFN at or above 2^32, or one PFN on two
  pages at once, cannot run in a small guest and are skipped with that reason.
- A module reloaded by a scenario (a second init) starts with zeroed
  statics, as insmod gives it; the expectation is predicted that way.
- An allocation that the guest's memory failed, not the scenario (the host's
  low-memory guard or the kernel's allocator: a guest too small for the
  scenario), is inferred: the prediction is redone with that allocation
  failing, and the report lists every inferred outcome.
The printk prefix is the module's name (KBUILD_MODNAME), which follows the
source's file name in the kernel; userspace builds always say vmw_balloon,
so a run of my_balloon.c has its "my_balloon: " read as "vmw_balloon: ".
"""
from __future__ import annotations

import itertools
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from balloonspec import SEED_DRIVER
from balloonspec.conformance.compare import first_divergence
from balloonspec.conformance.runner import VectorResult, installed_expectation, judge, stale_result
from balloonspec.model import constants as C
from balloonspec.model.predict import predict
from balloonspec.model.scenario import AllocRule
from balloonspec.model.trace import Kind

PFN_LIMIT = 1 << 32
FRESH_PFN = 0xF000_0000      # names for pages the expectation does not name
PAGE_COMMANDS = (C.VMW_BALLOON_CMD_LOCK, C.VMW_BALLOON_CMD_UNLOCK)
MAX_INFERRED_FAILURES = 32
# guest RAM beyond the balloon's peak: ~80 MiB the kernel, /init and the
# host module use, 32 MiB of the host's low-memory guard, and slack
GUEST_BASE_MIB = 160
MIN_GUEST_MIB = 512
SEED_MODULE_NAME = "vmw_balloon"
# a scenario without its end marker this long after its start is a hang
# (`conform --timeout S` overrides it)
SCENARIO_TIMEOUT_S = 120.0
# verdict of a driver the kernel cannot build for want of an API (exit code)
EXIT_KERNEL_UNSUPPORTED = 3


def _allocated(events):
    """(index, PFN) of each successful allocation."""
    return [(i, e[3]) for i, e in enumerate(events) if e[0] == Kind.ALLOC and e[2]]


def unsupported(vector, binary: bool = False) -> str | None:
    """Why the kernel backend cannot replay this vector, or None."""
    sc = vector.scenario
    if not vector.debugfs and binary:
        return "needs a build without CONFIG_DEBUG_FS; a binary module cannot be rebuilt"
    if sc.pfn_base >= PFN_LIMIT or any(not r.fail and r.pfn >= PFN_LIMIT for r in sc.alloc_rules) \
            or any(p >= PFN_LIMIT for _, p in _allocated(vector.expected)):
        return "needs a page with a PFN >= 2^32, which a small guest does not have"
    held: set[int] = set()
    for e in vector.expected:
        if e[0] == Kind.ALLOC and e[2]:
            if e[3] in held:
                return "needs two pages with one PFN at once, which a real allocator never hands out"
            held.add(e[3])
        elif e[0] == Kind.FREE and e[2] == 0:
            held.discard(e[1])
    return None


def guest_mem(vector) -> str:
    """Guest RAM for the vector: the balloon's peak (from the expected
    trace) plus what the guest itself needs, at least 512M (one boot for
    the shipped set)."""
    held = peak = 0
    for e in vector.expected:
        if e[0] == Kind.ALLOC and e[2]:
            held += 1
            peak = max(peak, held)
        elif e[0] == Kind.FREE and e[2] == 0:
            held -= 1
    mib = peak * 4096 // 2**20 + GUEST_BASE_MIB
    return f"{max(MIN_GUEST_MIB, -(-mib // 64) * 64)}M"


def rename_pfns(expected: list[tuple], observed: list[tuple], module: str = SEED_MODULE_NAME) -> list[tuple]:
    """observed with the guest's PFNs in the expectation's names (and the
    printk prefix of a module named otherwise read as the seed's).

    The page handed out by observed event i is named after the page of
    expected event i when that is an allocation too (and its name is not
    held by another page); otherwise it gets a fresh name. LOCK/UNLOCK
    arguments and FREEs use the name of the page they refer to; a PFN the
    driver never held gets a fresh name of its own."""
    used = {p for _, p in _allocated(expected)}
    fresh = (n for n in itertools.count(FRESH_PFN) if n not in used)
    live: dict[int, int] = {}       # observed PFN -> name, while held
    named: dict[int, int] = {}      # the last name of any observed PFN
    owner: dict[int, int] = {}      # name -> observed PFN, while held

    def name_of(pfn: int) -> int:
        if pfn in live:
            return live[pfn]
        if pfn not in named:
            named[pfn] = next(fresh)
        return named[pfn]

    prefix = f"{module}: "
    out = []
    for i, o in enumerate(observed):
        k = o[0]
        if k == Kind.ALLOC and o[2]:
            e = expected[i] if i < len(expected) else None
            name = e[3] if e and e[0] == Kind.ALLOC and e[2] and e[3] not in owner else next(fresh)
            live[o[3]], named[o[3]], owner[name] = name, name, o[3]
            o = o[:3] + (name,) + o[4:]
        elif k == Kind.FREE and o[2] != 2:
            name = name_of(o[1])
            if o[2] == 0 and o[1] in live:
                del live[o[1]]
                owner.pop(name, None)
            o = (k, name) + o[2:]
        elif k == Kind.BACKDOOR and o[2] in PAGE_COMMANDS:
            o = o[:3] + (name_of(o[3]),) + o[4:]
        elif k == Kind.PRINTK and module != SEED_MODULE_NAME:
            text = o[1]
            level = text[:2] if text.startswith("\x01") else ""
            if text[len(level):].startswith(prefix):
                o = (k, level + f"{SEED_MODULE_NAME}: " + text[len(level) + len(prefix):]) + o[2:]
        out.append(o)
    return out


def _kernel_expectation(vector):
    """The vector as the kernel should show it: a module loaded a second
    time starts with zeroed statics (a fresh insmod)."""
    if sum(s.kind == "init" for s in vector.scenario.steps) < 2:
        return vector
    return replace(vector, expected=predict(vector.scenario, debugfs=vector.debugfs,
                                            statics_survive_reload=False).events)


def _inferred_rule(observed: list[tuple], index: int) -> AllocRule:
    """The allocation at observed[index], as a rule that fails it."""
    step, nth = -1, 0
    gfp = observed[index][1]
    for e in observed[:index + 1]:
        if e[0] == Kind.STEP:
            step, nth = e[1], 0
        elif e[0] == Kind.ALLOC and e[1] == gfp:
            nth += 1
    return AllocRule(gfp=gfp, scope=step, nth=nth)


class _Run:
    """A kernel Result seen as the runner's judge expects a run."""

    def __init__(self, result, events):
        self.verdict = result.verdict
        self.events = events
        self.stderr_tail = ""


def judge_kernel(vector, run, level: str = "full") -> tuple[VectorResult, list[dict]]:
    """One vector's verdict from its kernel run, and the allocation outcomes
    inferred from the guest's memory. As in userspace, a vector whose stored
    expectation is not the installed spec's is a stale error, not judged,
    and documented violations are excused only precisely (runner.judge)."""
    predicted, documented = installed_expectation(vector)
    stale = stale_result(vector, predicted, documented, run.verdict)
    if stale:
        return stale, []
    kernel_vector = _kernel_expectation(vector)
    if kernel_vector is not vector:
        vector, documented = kernel_vector, None
    module = run.stats.get("module", SEED_MODULE_NAME)
    env_failed = {f["event"]: f for f in run.stats.get("env_failures", [])}
    inferred: list[dict] = []
    observed = rename_pfns(vector.expected, run.events, module)
    for _ in range(MAX_INFERRED_FAILURES):
        div = first_divergence(vector.expected, observed) if run.verdict == "ok" else None
        if div is None or div.index not in env_failed or div.expected is None \
                or div.expected[0] != Kind.ALLOC or div.observed[:3] != div.expected[:2] + (0,):
            break
        # the guest's memory failed an allocation the scenario let succeed
        rule = _inferred_rule(observed, div.index)
        inferred.append({"step": rule.scope, "gfp": hex(rule.gfp), "nth": rule.nth, "outcome": "fail",
                         "cause": env_failed[div.index]["cause"]})
        sc = vector.scenario.with_(alloc_rules=vector.scenario.alloc_rules + (rule,))
        documented = None
        vector = replace(vector, scenario=sc, expected=predict(
            sc, debugfs=vector.debugfs,
            statics_survive_reload=sum(s.kind == "init" for s in sc.steps) < 2).events)
        observed = rename_pfns(vector.expected, run.events, module)
    if run.stats.get("guest_totalram") and not any(e[0] == Kind.SI_MEMINFO for e in run.events):
        # the driver never asked si_meminfo (a later revision reads the
        # kernel's totalram itself): its guest is the real one
        sc = vector.scenario
        vector = replace(vector, scenario=sc.with_(sysinfo=replace(
            sc.sysinfo, totalram=run.stats["guest_totalram"])))
        documented = None
    res = judge(vector, _Run(run, observed), level, documented=documented)
    if run.verdict != "ok":
        res.message = _failure_message(run)
    if res.status != "pass":
        res.console = run.console_tail    # printed after the verdict
    if run.stats.get("console_file"):
        res.console_file = run.stats["console_file"]
    return res, inferred


def _failure_message(run) -> str:
    msg = f"kernel run ended with {run.verdict}"
    if run.verdict in ("build_failed", "kernel_api_missing", "unsupported", "script_error"):
        msg += ":\n" + run.console_tail[-3000:]

    return msg


def _print_failure(res) -> None:
    from balloonspec.conformance.report import describe_result

    print(describe_result(res), file=sys.stderr)
    lines = getattr(res, "console", "").splitlines()
    shown = f"{len(lines)} kernel lines" + (", the last 40:" if len(lines) > 40 else ":") \
        if lines else "no kernel messages"
    print(f"  console of this scenario: {shown}", file=sys.stderr)
    for line in lines[-40:]:
        print(f"    {line}", file=sys.stderr)
    print(f"  full console: {getattr(res, 'console_file', 'not saved')}", file=sys.stderr)


def _kernel_unsupported(args, module: Path, run) -> int:
    """The kernel lacks an API the driver uses: a verdict of its own."""
    names = ", ".join(run.stats.get("missing_api", []))
    msg = (f"{module} cannot be built for kernel {run.stats.get('kernel', '?')}: it uses "
           f"{names}, which this kernel does not provide (an API removed or renamed since the "
           f"driver was written; not a defect of the driver)")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "verdict": "kernel_unsupported", "driver": str(module), "backend": "kernel",
            "missing_api": run.stats.get("missing_api", []), "message": msg,
            "build_log_tail": run.console_tail[-3000:],
            "totals": {"vectors": 0, "passed": 0, "failed": 0, "errors": 0}, "results": []}, indent=1) + "\n")
    print(f"conform (kernel) kernel_unsupported: {msg}")
    print(run.console_tail[-2000:], file=sys.stderr)
    return EXIT_KERNEL_UNSUPPORTED


def cmd_conform_kernel(args) -> int:
    from balloonspec.conformance import vectors as V
    from balloonspec.conformance.commands import SHIPPED_VECTORS
    from balloonspec.conformance.findings import findings_of_build
    from balloonspec.conformance.report import Report, describe_findings
    from balloonspec.driver.kernel_backend import Options, run_scenarios_kernel

    t0 = time.perf_counter()
    module = Path(args.module) if args.module else Path(args.driver) if args.driver else SEED_DRIVER
    if not module.is_file():
        print(f"balloonspec: not found: {module}", file=sys.stderr)
        return 2
    binary = bool(args.module) or module.suffix != ".c"
    level = "protocol" if args.module else args.level
    vecs, bad = V.load_dir(Path(args.vectors) if args.vectors else SHIPPED_VECTORS)
    if not vecs and not bad:
        print("balloonspec: no vectors to run", file=sys.stderr)
        return 2
    runnable, skipped = [], []
    for v in vecs:
        why = unsupported(v, binary)
        (skipped.append({"id": v.id, "reason": why}) if why else runnable.append(v))
    console_dir = Path(args.json).with_suffix(".consoles") if args.json else None
    report = Report(total=len(runnable) + len(bad), json_path=args.json,
                    meta={"driver": str(module), "backend": "kernel", "level": level, "skipped": skipped})
    for e in bad:
        report.add(VectorResult(id=e.vector_id, status="error", reason={}, verdict="error", message=str(e)))
    print(f"kernel backend: {len(runnable)} vectors, {len(skipped)} skipped (a real kernel cannot "
          f"express them; the reasons are in the report)", file=sys.stderr)
    inferred_all: dict = {}
    report.extra["inferred_allocation_outcomes"] = inferred_all

    timeout = args.timeout or SCENARIO_TIMEOUT_S

    def judged(index, run):            # as each scenario ends: progress, JSON
        if run.verdict in ("kernel_api_missing", "build_failed"):
            return                     # the whole run's verdict, below
        res, inferred = judge_kernel(runnable[index], run, level)
        res.seconds = round(run.stats.get("seconds", 0.0), 3)
        res.time_limit = timeout
        if inferred:
            inferred_all[res.id] = inferred
        report.add(res)

    runs = run_scenarios_kernel(
        module, [(v.id, v.scenario.to_script(), Options(mem=guest_mem(v), debugfs=v.debugfs))
                 for v in runnable], timeout_s=timeout, console_dir=console_dir, on_result=judged)
    if runs and runs[0].verdict == "kernel_api_missing":
        return _kernel_unsupported(args, module, runs[0])
    if runs and runs[0].verdict == "build_failed":
        return _build_failed(args, report, module, runs[0])
    report.extra["boot"] = {k: v for k, v in (runs[0].stats if runs else {}).items()
                            if k in ("boot_to_init_s", "guest_mem", "console_file", "interception_errors")}
    report.extra["wall_s"] = round(time.perf_counter() - t0, 1)
    report.findings = findings_of_build(report.results)
    report.write_json()
    if args.junit:
        report.write_junit(args.junit)
    for r in report.results:
        if r.status != "pass":
            _print_failure(r)
    if report.findings:
        print(describe_findings(report.findings))
    print(report.summary(f"conform (kernel, {level})"))
    return report.exit_code


def _build_failed(args, report, module: Path, run) -> int:
    """The source does not compile for the kernel: the run's error, as in userspace."""
    from balloonspec.conformance.report import describe_build_error
    from balloonspec.driver.build import first_errors

    report.build_error = {"source": str(module), "missing_apis": [],
                          "first_errors": first_errors(run.console_tail),
                          "compiler_output": run.console_tail[-3000:]}
    report.write_json()
    if args.junit:
        report.write_junit(args.junit)
    print(describe_build_error(report.build_error), file=sys.stderr)
    print(report.summary("conform (kernel)"))
    return report.exit_code
