"""`balloonspec bench`: backdoor call rates, all measured in one run.

- floor_calls_per_s: the trap mechanism alone (SIGSEGV, decode, emulate, step
  over) with an empty host and no trace, timed inside the harness;
- trace_calls_per_s: the same workload with full trace capture;
- conform_calls_per_s: end to end: the model's prediction, the driver run (a
  new process, trace decoding included), the comparison and the monitors;
- with --kernel (driver/kernel_backend.bench_kernel, REPEATS boots): boot_seconds
  (QEMU start to /init), kernel_calls_per_s (backdoor calls through the
  in-kernel backend's interception), kernel_inflate_16385_s (one full-rate
  inflate cycle in the guest);
- prove_seconds: the cold wall time of `balloonspec prove` (the whole catalogue,
  a fresh process, all CPUs; prove_jobs says how many), and prove_cpu_seconds;
- mutants_per_minute: a mutation campaign on a seeded sample of the seed's mutants;
- refine_seed_seconds: `balloonspec refine` deciding the seed (equivalent: every
  segment proved); refine_search_median_s: the distinguishing search's time to a
  witness on a seeded sample of the seed's first-order mutants (refine_found of
  refine_sample found within REFINE_BUDGET_S; the rest are equivalent or missed).
Each rate is the best of REPEATS, so that a busy moment does not decide it
(prove_seconds and the mutation sample are one run each: they take tens of seconds).
"""
from __future__ import annotations

import json
import re
import resource
import sys
import time
from pathlib import Path

from balloonspec import SEED_DRIVER
from balloonspec.model import monitors
from balloonspec.conformance.compare import first_divergence
from balloonspec.driver.build import build_driver
from balloonspec.model.trace import Kind
from balloonspec.driver.userspace import Launch, run_scenario
from balloonspec.model.predict import predict
from balloonspec.model import constants as C
from balloonspec.model.scenario import Scenario, SysInfo, steps

REPEATS = 3
_RATE = re.compile(r"balloonspec-bench: mode=(\w+) calls=(\d+) seconds=([\d.]+)")


def workload() -> Scenario:
    """Three full-rate inflate cycles, then deflate to zero: ~100k backdoor calls."""
    return Scenario(id="bench-inflate-deflate", target=49155,
                    steps=steps("init", ("cycle", 3), ("set_target", 0), ("cycle", 4), "debugfs", "exit"))


def _harness_rate(binary: Path, script: str, mode: str) -> float:
    run = run_scenario(binary, script, env={"BALLOONSPEC_BENCH": mode}, scenario_id=f"bench-{mode}")
    m = _RATE.search(run.stderr_tail)
    if run.verdict != "ok" or not m:
        raise RuntimeError(f"bench run ({mode}) failed: {run.verdict}: {run.stderr_tail[-500:]}")
    return int(m.group(2)) / float(m.group(3))


def _conform_rate(binary: Path, scenario: Scenario) -> tuple[float, int]:
    t0 = time.perf_counter()
    launch = Launch(binary, scenario.to_script(), scenario_id=scenario.id)
    expected = predict(scenario).events  # while the driver runs
    run = launch.collect()
    div = first_divergence(expected, run.events)
    if div is not None:  # an identical trace has the prediction's monitor verdicts
        monitors.check(run.events, totalram=scenario.sysinfo.totalram)
    secs = time.perf_counter() - t0
    if run.verdict != "ok" or div is not None:
        raise RuntimeError(f"bench workload does not conform on the seed: {run.verdict} {div}")
    calls = sum(1 for e in run.events if e[0] == Kind.BACKDOOR)
    return calls / secs, calls


SCALE_PAGES = 4_194_304  # 16 GiB of 4 KiB pages


def scale_scenario() -> Scenario:
    """Inflate to 16 GiB (256 full-rate cycles) and deflate back, in a guest of 64 GiB."""
    cycles = -(-SCALE_PAGES // (C.VMW_BALLOON_NOSLEEP_ALLOC_MAX + 1)) + 1
    return Scenario(id="scale-16GiB", sysinfo=SysInfo(totalram=4 * SCALE_PAGES),
                    steps=steps("init", ("set_target", SCALE_PAGES), ("cycle", cycles), ("set_target", 0),
                                ("cycle", cycles + 1), "exit"))


def measure_scale() -> dict:
    """Wall time and the harness's peak RSS for the 16 GiB scenario (trace kept, not decoded)."""
    binary = build_driver(SEED_DRIVER)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    run = run_scenario(binary, scale_scenario().to_script(), timeout_s=600, decode_events=False)
    wall = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    account = run.records[-1].tolist() if len(run.records) else []
    if run.verdict != "ok" or account[1:3] != [SCALE_PAGES, SCALE_PAGES]:
        raise RuntimeError(f"scale run failed: {run.verdict} {account} {run.stderr_tail[-500:]}")
    return {
        "scale_pages": SCALE_PAGES,
        "scale_backdoor_calls": int((run.records[:, 0] == Kind.BACKDOOR).sum()),
        "scale_wall_s": round(wall, 2),
        "scale_peak_rss_mb": round(max(peak_kb, before) / 1024, 1),
        "scale_trace_mb": round(run.records.nbytes / 2**20, 1),
    }


def measure_prove() -> dict:
    """`balloonspec prove` in a fresh process: cold wall time, CPU time, verdict."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "prove.json"
        t = time.perf_counter()
        p = subprocess.run([sys.executable, "-m", "balloonspec.model.proofs.run", "--json", str(out)],
                           capture_output=True, text=True)
        wall = time.perf_counter() - t
        report = json.loads(out.read_text()) if out.exists() else {}
    return {"prove_seconds": round(wall, 2), "prove_jobs": report.get("jobs"),
            "prove_cpu_seconds": round(report.get("cpu_seconds", 0) + report.get("cpu_seconds_workers", 0), 2),
            "prove_verdict": report.get("verdict", f"error (exit {p.returncode})")}


MUTATION_SAMPLE = 60  # a seeded sample of the seed's mutants (the full campaign: `balloonspec mutate`)


def measure_mutation(sample: int = MUTATION_SAMPLE, seed: int = 0) -> dict:
    """A mutation campaign on a seeded sample of the seed's mutants, all cores: the rate
    includes the campaign's fixed costs (the unmutated driver's baseline run, the harness
    build), so it is a lower bound of the full campaign's rate."""
    from balloonspec.conformance.commands import SHIPPED_VECTORS
    from balloonspec.conformance.mutation.campaign import Campaign, select
    from balloonspec.conformance.mutation.operators import generate

    mutants = select(generate(SEED_DRIVER), sample, seed)
    t0 = time.perf_counter()
    report = Campaign(SEED_DRIVER, mutants, SHIPPED_VECTORS).run()
    wall = time.perf_counter() - t0
    if report["totals"]["survived"]:
        raise RuntimeError(f"mutation sample: {report['totals']['survived']} mutants survive the shipped set")
    return {"mutation_sample": len(mutants), "mutation_seconds": round(wall, 1),
            "mutants_per_minute": round(len(mutants) / wall * 60, 1)}


REFINE_SAMPLE, REFINE_BUDGET_S = 8, 60.0


def measure_refine(sample: int = REFINE_SAMPLE, seed: int = 0) -> dict:
    import statistics
    import tempfile

    from balloonspec.conformance.mutation.campaign import select
    from balloonspec.conformance.mutation.operators import generate
    from balloonspec.csource.errors import CFrontError
    from balloonspec.refine.commands import decide
    from balloonspec.refine.search import search

    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        seed_verdict = decide(SEED_DRIVER, save_dir=Path(d) / "w")["verdict"]
        seed_s = time.perf_counter() - t0
        times = []
        mutants = select(generate(SEED_DRIVER), sample, seed)
        for m in mutants:
            path = Path(d) / f"{m.id.replace(':', '-')}.c"
            path.write_text(m.apply(SEED_DRIVER.read_text()))
            t0 = time.perf_counter()
            try:
                w = search(path, budget_s=REFINE_BUDGET_S)
            except CFrontError:  # a mutant that does not compile
                continue
            if w is not None:
                times.append(time.perf_counter() - t0)
    return {"refine_seed_seconds": round(seed_s, 1), "refine_seed_verdict": seed_verdict,
            "refine_sample": len(mutants), "refine_found": len(times),
            "refine_search_median_s": round(statistics.median(times), 1) if times else None}


def measure(kernel: bool = False, scale: bool = False) -> dict:
    binary = build_driver(SEED_DRIVER)
    scenario = workload()
    script = scenario.to_script()
    floor = max(_harness_rate(binary, script, "floor") for _ in range(REPEATS))
    trace = max(_harness_rate(binary, script, "trace") for _ in range(REPEATS))
    conform, calls = max(_conform_rate(binary, scenario) for _ in range(REPEATS))
    out = {
        "workload": scenario.id,
        "backdoor_calls": calls,
        "floor_calls_per_s": round(floor),
        "trace_calls_per_s": round(trace),
        "conform_calls_per_s": round(conform),
        "trace_over_floor": round(trace / floor, 3),
        "conform_over_floor": round(conform / floor, 3),
    }
    out.update(measure_prove())
    out.update(measure_mutation())
    out.update(measure_refine())
    if scale:
        out.update(measure_scale())
    if kernel:
        from balloonspec.driver.kernel_backend import bench_kernel

        out.update(bench_kernel(boots=REPEATS))
    return out


def cmd_bench(args) -> int:
    try:
        result = measure(kernel=args.kernel, scale=args.scale)
    except Exception as e:
        print(f"balloonspec: bench failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    for k, v in result.items():
        print(f"{k:22} {v}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0
