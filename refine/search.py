"""Distinguishing search: a concrete scenario from init on which the driver's
observable trace differs from the spec's.

Scenarios are enumerated in a fixed order (deterministic), shortest first,
across up to four work cycles: target sequences (the numbers the failing
segment's Z3 model holds for targets, sizes, goals and rates first, then
the values next to the driver's constants), each under a set of host and
allocator behaviours (refused LOCKs, failing allocations of either kind,
high PFNs, a host reset between cycles, failing UNLOCKs, a debugfs read and
exit at the end). Each scenario is run by the spec (model/predict.py) and
by the interpreted C of the driver (csource), which is cheap; the first one
whose traces differ is written as a ``balloonspec-vector/1`` vector and
replayed on the compiled build with the userspace backend.

What is not done: the search is concrete (enumerated), not the symbolic
search from init with merged states the design asks for; it is guided by
the failing segment only through the numbers of its model.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path

from balloonspec.conformance.compare import first_divergence
from balloonspec.conformance.vectors import Vector, write
from balloonspec.csource.errors import CFrontError
from balloonspec.csource.run import predict_c
from balloonspec.model import constants as C
from balloonspec.model import monitors
from balloonspec.model.predict import predict
from balloonspec.model.scenario import AllocRule, HostRule, Scenario, Step, SysInfo

EDGE_TARGETS = (1, 2, 3, C.VMW_BALLOON_MAX_REFUSED + 1, C.VMW_BALLOON_RATE_ALLOC_MIN + 1,
                C.VMW_BALLOON_YIELD_THRESHOLD + 2, C.VMW_BALLOON_RATE_FREE_MIN * 3,
                C.VMW_BALLOON_NOSLEEP_ALLOC_MAX + 1)
GUIDE_LEAVES = ("target", "size", "goal", "rate", "rate_alloc", "rate_free", "i")


@dataclass
class Witness:
    scenario: Scenario
    divergence: str
    tried: int
    seconds: float
    vector: Path | None = None
    replayed: bool = False
    replay_text: str = ""

    def as_json(self) -> dict:
        return {"vector": str(self.vector) if self.vector else None, "replayed": self.replayed,
                "divergence": self.replay_text or self.divergence, "interpreted_divergence": self.divergence,
                "scenarios_tried": self.tried, "search_seconds": round(self.seconds, 3)}


def _behaviours():
    """(name, host rules, alloc rules, extra steps) in a fixed order."""
    ppn_pinned = C.VMW_BALLOON_ERROR_PPN_PINNED
    yield "plain", (), (), ()
    yield "refused", (HostRule(cmd=C.VMW_BALLOON_CMD_LOCK, status=ppn_pinned, nth=1, count=20),), (), ()
    yield "nosleep-fail", (), (AllocRule(gfp=C.VMW_PAGE_ALLOC_NOSLEEP, nth=2, count=3),), ()
    yield "sleep-fail", (), (AllocRule(gfp=C.VMW_PAGE_ALLOC_NOSLEEP, nth=1, count=10**6),
                             AllocRule(gfp=C.VMW_PAGE_ALLOC_CANSLEEP, nth=2, count=1)), ()
    yield "unlock-fail", (HostRule(cmd=C.VMW_BALLOON_CMD_UNLOCK, status=1, nth=2, count=1),), (), ()
    yield "reset", (), (), ("host_reset",)
    yield "notneeded", (HostRule(cmd=C.VMW_BALLOON_CMD_LOCK, status=C.VMW_BALLOON_ERROR_PPN_NOTNEEDED,
                                 nth=2, count=1),), (), ()
    yield "high-pfn", (), (AllocRule(gfp=0, nth=2, count=1, fail=False, pfn=1 << 32),), ()
    yield "refused-reset", (HostRule(cmd=C.VMW_BALLOON_CMD_LOCK, status=ppn_pinned, nth=1, count=3),), (), ("host_reset",)


def _targets(guide: list[int]):
    """Target sequences over one to four cycles, guided values first."""
    singles = list(dict.fromkeys([g for g in guide if 0 < g <= 40000] + list(EDGE_TARGETS)))
    for t in singles:
        yield (t, t)
    for t in singles:
        yield (t, 0, t)
    for t in singles:
        yield (t, t + 1, max(t // 2, 1), 0)


def scenarios(guide: list[int]):
    for targets, (name, hosts, allocs, extra) in itertools.product(_targets(guide), list(_behaviours())):
        steps = [Step("init")]
        for k, t in enumerate(targets):
            if k:
                steps.append(Step("set_target", t))
            if extra and k == len(targets) - 1:
                steps += [Step(e) for e in extra]
            steps.append(Step("cycle"))
            steps.append(Step("cycle"))
        steps += [Step("debugfs"), Step("exit")]
        sid = f"refine-{name}-" + "-".join(map(str, targets))
        yield Scenario(id=sid, steps=tuple(steps), target=targets[0], host_rules=hosts, alloc_rules=allocs,
                       sysinfo=SysInfo(totalram=1 << 20))


def guide_numbers(model: dict) -> list[int]:
    """The numbers of a failing segment's model worth trying as targets."""
    out = []
    for k, v in model.items():
        if k.split(".")[-1] in GUIDE_LEAVES:
            try:
                out.append(int(v))
            except ValueError:
                pass
    return sorted(set(out))


def search(driver: Path, guide: list[int] = (), *, budget_s: float = 120.0, progress=None) -> Witness | None:
    """The first enumerated scenario whose interpreted-C trace differs from the spec's."""
    t0 = time.perf_counter()
    for n, sc in enumerate(scenarios(list(guide)), 1):
        if time.perf_counter() - t0 > budget_s:
            return None
        want = predict(sc).events
        try:
            got = predict_c(driver, sc).events
        except CFrontError as e:
            return Witness(sc, f"the interpreted C fails: {e}", n, time.perf_counter() - t0)
        div = first_divergence(want, got)
        if div is not None:
            return Witness(sc, str(div), n, time.perf_counter() - t0)
        if progress and n % 20 == 0:
            progress(f"search: {n} scenarios, no difference yet")
    return None


def emit_and_replay(w: Witness, driver: Path, save_dir: Path) -> None:
    """Write the witness as a vector and replay it on the compiled build."""
    from balloonspec.conformance.explore import problem_with
    from balloonspec.driver.build import BuildError, build_driver

    expected = predict(w.scenario).events
    vec = Vector(id=w.scenario.id, reason={"kind": "refinement", "goal": "distinguishing search",
                                            "text": f"{driver.name}: {w.divergence.splitlines()[0]}"},
                 scenario=w.scenario, expected=expected,
                 expected_findings=sorted({v.monitor for v in monitors.check(expected, totalram=w.scenario.sysinfo.totalram)}))
    save_dir.mkdir(parents=True, exist_ok=True)
    w.vector = write(vec, save_dir)
    try:
        binary = build_driver(driver, debugfs=True)
    except BuildError as e:
        w.replay_text = f"the build fails: {e}"
        return
    problem = problem_with(binary, w.scenario, "full")
    w.replayed = problem is not None
    w.replay_text = problem or "the compiled build does not diverge on this vector"
