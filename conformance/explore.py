"""Hypothesis-driven exploration: long random scenarios against a driver build.

Each scenario is a sequence of work cycles with target changes, host resets
and memory-size changes interleaved, plus host faults (error statuses on
chosen calls) and allocator faults (failures, PFNs above 2^32). A scenario
whose observed trace differs from the model's prediction (level `full`), or
that breaks a protocol monitor beyond what the prediction documents (the same
excuse rule as for vectors, conformance/findings.py), or whose run crashes or
hangs, is shrunk by Hypothesis to a minimal one and saved as a regression
vector in `save_dir` (the CLI's --save-regressions, default
./balloonspec-regressions). Seeded: the same seed explores the same scenarios.
"""
from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from balloonspec.model import monitors
from balloonspec.conformance.compare import first_divergence
from balloonspec.conformance.findings import excuse
from balloonspec.conformance.runner import cycles_of, time_limit
from balloonspec.conformance.vectors import Vector, write
from balloonspec.driver.userspace import Launch
from balloonspec.model import constants as C
from balloonspec.model.predict import predict
from balloonspec.model.scenario import AllocRule, HostRule, Scenario, Step, SysInfo

# Values near the driver's constants are where off-by-one defects live.
_EDGES = sorted({c + d for c in (C.VMW_BALLOON_NOSLEEP_ALLOC_MAX, C.VMW_BALLOON_RATE_ALLOC_MAX,
                                 C.VMW_BALLOON_RATE_ALLOC_MIN, C.VMW_BALLOON_YIELD_THRESHOLD,
                                 C.VMW_BALLOON_MAX_REFUSED) for d in (-1, 0, 1)} | {0, 1})
targets = st.one_of(st.sampled_from(_EDGES), st.integers(0, 40000))
statuses = st.sampled_from([1, 2, 3, 4, 5, 6, 7, 8])
commands = st.sampled_from([C.VMW_BALLOON_CMD_START, C.VMW_BALLOON_CMD_GET_TARGET, C.VMW_BALLOON_CMD_LOCK, C.VMW_BALLOON_CMD_UNLOCK, C.VMW_BALLOON_CMD_GUEST_ID])


@st.composite
def scenarios(draw, max_cycles: int = 12) -> Scenario:
    body: list[Step] = [Step("init")]
    for _ in range(draw(st.integers(1, max_cycles))):
        action = draw(st.sampled_from(["cycle"] * 6 + ["set_target"] * 3 + ["host_reset", "set_totalram", "debugfs"]))
        if action == "set_target":
            body.append(Step("set_target", draw(targets)))
        elif action == "set_totalram":
            body.append(Step("set_totalram", draw(st.sampled_from([65536, 262144, (1 << 32) - 1, 1 << 32]))))
        else:
            body.append(Step(action))
        if action != "cycle":
            body.append(Step("cycle"))
    if draw(st.booleans()):
        body.append(Step("debugfs"))
    if draw(st.booleans()):
        body.append(Step("exit"))
    n = len(body)
    scope = st.one_of(st.just(-1), st.integers(0, n - 1))
    host_rules = draw(st.lists(st.builds(HostRule, cmd=commands, status=statuses, nth=st.integers(1, 3000),
                                         count=st.integers(1, 40), scope=scope), max_size=3))
    alloc_rules = draw(st.lists(st.one_of(
        st.builds(AllocRule, gfp=st.sampled_from([0, C.VMW_PAGE_ALLOC_NOSLEEP, C.VMW_PAGE_ALLOC_CANSLEEP]), nth=st.integers(1, 3000),
                  count=st.integers(1, 3000), scope=scope),
        st.builds(AllocRule, gfp=st.just(0), nth=st.integers(1, 3000), scope=scope, fail=st.just(False),
                  pfn=st.sampled_from([(1 << 32) - 1, 1 << 32, (1 << 40) + 7])),
    ), max_size=2))
    return Scenario(id="explore", steps=tuple(body), target=draw(targets), host_rules=tuple(host_rules),
                    alloc_rules=tuple(alloc_rules), sysinfo=SysInfo(totalram=draw(st.sampled_from([262144, 1 << 20]))))


def problem_with(binary: Path, scenario: Scenario, level: str, timeout: float | None = None) -> str | None:
    """What is wrong with the driver on this scenario, or None."""
    launch = Launch(binary, scenario.to_script(), scenario_id=scenario.id, timeout_s=timeout or 600.0)
    prediction = predict(scenario)  # while the driver runs
    expected = prediction.events
    if not timeout:  # now that the work is known: the same limit as a vector's
        launch.deadline = launch.started + time_limit(len(expected), cycles_of(expected))
    run = launch.collect()
    if run.verdict != "ok" and not prediction.hung:
        return f"driver run: {run.verdict}: {run.stderr_tail[-500:]}"
    if level == "full":
        div = first_divergence(expected, run.events)
        if div is not None:
            return str(div)
    totalram = scenario.sysinfo.totalram
    documented = monitors.check(expected, totalram=totalram)
    new = [v for v in monitors.check(run.events, totalram=totalram)
           if not excuse(v, run.events, documented, expected, totalram)]
    return f"monitor {new[0].monitor} at event {new[0].index}: {new[0].message}" if new else None


def explore_driver(binary: Path, driver: Path, *, n: int, seed: int, level: str = "full",
                   save_dir: Path | None = None, timeout: float | None = None) -> dict:
    """Run n scenarios; shrink the first divergence found and save it as a
    regression vector in save_dir. `explored` counts the scenarios run before
    the first failure (or all n), not Hypothesis's shrinking replays."""
    last_failure: list = []
    explored = [0]

    @settings(max_examples=n, database=None, deadline=None, phases=[Phase.generate, Phase.shrink],
              suppress_health_check=list(HealthCheck), print_blob=False)
    @hypothesis_seed(seed)
    @given(scenarios())
    def conforms(scenario: Scenario) -> None:
        if not last_failure:
            explored[0] += 1
        problem = problem_with(binary, scenario, level, timeout)
        if problem:
            last_failure[:] = [scenario, problem]
            raise AssertionError(problem)

    out = {"scenarios": n, "explored": 0, "seed": seed, "level": level, "driver": str(driver),
           "save_dir": str(save_dir) if save_dir is not None else None, "divergences": []}
    try:
        conforms()
    except AssertionError:
        scenario, problem = last_failure  # Hypothesis replays the minimal example last
        vid = f"regression-{driver.stem}-seed{seed}"
        entry = {"id": vid, "problem": problem, "scenario": scenario.with_(id=vid).to_json()}
        if save_dir is not None:
            sc = scenario.with_(id=vid)
            expected = predict(sc).events
            vec = Vector(id=vid, reason={"kind": "regression", "goal": "exploration",
                                         "text": f"shrunk divergence of {driver.name}, seed {seed}: {problem.splitlines()[0]}"},
                         scenario=sc, expected=expected,
                         expected_findings=sorted({v.monitor for v in monitors.check(
                             expected, totalram=sc.sysinfo.totalram)}))
            entry["saved"] = str(write(vec, save_dir))
        out["divergences"].append(entry)
    out["explored"] = explored[0]
    return out
