"""Distinguishing search: a concrete scenario from init on which a driver's
observable trace differs from the spec's.

A scenario is built one work cycle at a time. Each cycle gets an *input*:
the host's target for it, what the host and the allocator do during it (a
LOCK refused, an UNLOCK failing, a GET_TARGET error, failing allocations of
either kind, a PFN beyond 32 bits...), scoped to that cycle's step, and what
happens before it (a host reset, a module reload, a change of totalram).
The menu of inputs is computed from the state the prefix reached on both
sides: targets at, one below and one above the sizes and rates the spec and
the C hold (``size + rate_alloc``, ``size - rate_free``...), allocation
failures at the rate's index, the boundaries of the C types, and the numbers
of a failing segment's Z3 model when there is one.

Every prefix is run by the spec (model/predict.py) and by the interpreted C
of the driver (csource), followed by a *probe* (a debugfs read and module
exit, which show the rates, counters and both page lists); the first one
whose traces differ is the witness. The interpreted C is cheap (thousands of
scenarios a minute), so the search is explicit-state:

* **state merging**: a prefix that reaches a joint state (spec state, C
  globals, host and kernel) already reached by another is dropped: both
  have the same futures under the same inputs;
* **novelty first**: the first layer (every input from init) is tried in
  order; after that, prefixes whose joint state shows a value not seen
  before (a new rate, a new number of slow cycles, a reset flag...) form the
  corpus, and a seeded generator extends corpus entries, the newest most
  often, so chains of cycles that each move the state somewhere new are
  followed as deep as needed (up to ``MAX_CYCLES``).

The witness is shrunk (cycle inputs and before-steps dropped while the
traces still differ), written as a ``balloonspec-vector/1`` vector and
replayed on the compiled build with the userspace backend: only a replayed
divergence decides "differs". Same driver, guide, seed and budget: same
scenarios in the same order.
"""
from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from balloonspec.conformance.compare import first_divergence
from balloonspec.conformance.vectors import Vector, write
from balloonspec.csource.compile import load
from balloonspec.csource.errors import CFrontError
from balloonspec.csource.run import CDriver
from balloonspec.model import constants as C
from balloonspec.model import monitors
from balloonspec.model.predict import predict
from balloonspec.model.scenario import AllocRule, HostRule, Scenario, Step, SysInfo

MAX_CYCLES = 16
MAX_EVENTS = 400_000  # a prefix that runs away is cut here on both sides (and compared as cut)
ALL = 10**6  # a rule's count that covers every call of the cycle
U32 = (1 << 32) - 1
TOTALRAM = 1 << 20
GUIDE_LEAVES = ("target", "size", "goal", "rate", "rate_alloc", "rate_free", "i")
# what may happen before a cycle: nothing, a host reset, a module reload, totalram beyond 32 bits and back
BEFORE = ((), ("host_reset",), ("exit", "init"), (("set_totalram", 1 << 32),), (("set_totalram", TOTALRAM),))
PROBE = (Step("debugfs"), Step("exit"))
HOT_LAYER, HOT_NEW, HOT_DIFFER = 3, 12, 60  # extensions a new state of note gets first (one whose sides disagree: more)


@dataclass(frozen=True)
class CycleInput:
    """What the environment does in one work cycle (host rules and alloc
    rules are scoped to the cycle's step). ``kind`` names how the target was
    chosen (``s+ra+1``...), so a chain can repeat a move from a new state."""

    target: int
    behaviour: str
    host: tuple = ()  # (cmd, status, nth, count)
    alloc: tuple = ()  # (gfp, nth, count, fail, pfn)
    before: tuple = ()  # step kinds, or (kind, arg)
    kind: str = ""

    def label(self) -> str:
        pre = "".join(f"{b if isinstance(b, str) else b[0]}+" for b in self.before)
        return f"{pre}{self.behaviour}@{self.target}"

    def without_before(self) -> "CycleInput":
        return CycleInput(self.target, self.behaviour, self.host, self.alloc, (), self.kind)


def build(inputs: tuple[CycleInput, ...], sid: str, probe: bool = True) -> Scenario:
    steps: list[Step] = [Step("init")]
    hosts, allocs = [], []
    for ci in inputs:
        steps += [Step(b) if isinstance(b, str) else Step(*b) for b in ci.before]
        steps.append(Step("set_target", ci.target))
        scope = len(steps)
        steps.append(Step("cycle"))
        hosts += [HostRule(cmd=c, status=s, nth=n, count=k, scope=scope) for c, s, n, k in ci.host]
        allocs += [AllocRule(gfp=g, nth=n, count=k, scope=scope, fail=f, pfn=p) for g, n, k, f, p in ci.alloc]
    if probe:
        steps += PROBE
    return Scenario(id=sid, steps=tuple(steps), target=0, host_rules=tuple(hosts), alloc_rules=tuple(allocs),
                    sysinfo=SysInfo(totalram=TOTALRAM))


# -- the menu of cycle inputs, from the state a prefix reached ------------------------------------
def _numbers(state: dict, leaf: str, default: int) -> list[int]:
    """The values both sides hold for a field (the spec's first)."""
    vals = [v for k, v in state.items() if k.split(".")[-1] == leaf and isinstance(v, int)
            and not isinstance(v, bool)]
    return list(dict.fromkeys(vals)) or [default]


# How a cycle's target is chosen, cheapest first: at, above and below the
# size, by the rates either side holds, and the bounds of the C types.
TARGET_KINDS = (
    ("s", lambda s, ra, rf: s), ("s+1", lambda s, ra, rf: s + 1), ("s-1", lambda s, ra, rf: s - 1),
    ("s+2", lambda s, ra, rf: s + 2), ("0", lambda s, ra, rf: 0),
    ("s+refused+1", lambda s, ra, rf: s + C.VMW_BALLOON_MAX_REFUSED + 1),
    ("s-rf-1", lambda s, ra, rf: s - rf - 1), ("s-rf", lambda s, ra, rf: s - rf),
    ("s-rf+1", lambda s, ra, rf: s - rf + 1),
    ("s+ra-1", lambda s, ra, rf: s + ra - 1), ("s+ra", lambda s, ra, rf: s + ra),
    ("s+ra+1", lambda s, ra, rf: s + ra + 1), ("s+yield+2", lambda s, ra, rf: s + C.VMW_BALLOON_YIELD_THRESHOLD + 2),
    ("s+2ra+1", lambda s, ra, rf: s + 2 * ra + 1),
    ("s+nosleep+1", lambda s, ra, rf: s + C.VMW_BALLOON_NOSLEEP_ALLOC_MAX + 1),
    ("2^31", lambda s, ra, rf: 1 << 31), ("2^32-1", lambda s, ra, rf: U32),
)


# targets a cycle can only approach at the full NOSLEEP rate (~16k LOCKs a cycle): in the first
# layer only with the plain behaviour, later as the chains pick them
FULL_RATE_KINDS = ("s+nosleep+1", "2^31", "2^32-1")


def target_values(kind: str, state: dict) -> list[int]:
    if kind.startswith("g:"):
        return [int(kind[2:])]
    f = dict(TARGET_KINDS)[kind]
    sizes = _numbers(state, "size", 0)
    allocs = _numbers(state, "rate_alloc", C.VMW_BALLOON_RATE_ALLOC_MAX)
    frees = _numbers(state, "rate_free", C.VMW_BALLOON_RATE_FREE_MAX)
    vals = [f(s, ra, rf) for s in sizes for ra in allocs for rf in frees]
    return [t for t in dict.fromkeys(vals) if 0 <= t <= U32]


def behaviours(state: dict) -> dict:
    """name -> (host rules, alloc rules) of one cycle."""
    lock, unlock, get = C.VMW_BALLOON_CMD_LOCK, C.VMW_BALLOON_CMD_UNLOCK, C.VMW_BALLOON_CMD_GET_TARGET
    busy, reset = C.VMW_BALLOON_ERROR_BUSY, C.VMW_BALLOON_ERROR_RESET
    nosleep, cansleep = C.VMW_PAGE_ALLOC_NOSLEEP, C.VMW_PAGE_ALLOC_CANSLEEP
    ra = _numbers(state, "rate_alloc", C.VMW_BALLOON_RATE_ALLOC_MAX)[0]
    out = {
        "plain": ((), ()),
        "lock-pinned": (((lock, C.VMW_BALLOON_ERROR_PPN_PINNED, 1, ALL),), ()),
        "lock-pinned-once": (((lock, C.VMW_BALLOON_ERROR_PPN_PINNED, 2, 1),), ()),
        "lock-notneeded": (((lock, C.VMW_BALLOON_ERROR_PPN_NOTNEEDED, 2, 1),), ()),
        "lock-reset": (((lock, reset, 2, 1),), ()),
        "lock-busy": (((lock, busy, 2, 1),), ()),
        "unlock-fail": (((unlock, busy, 1, 1),), ()),
        "unlock-fail-2nd": (((unlock, busy, 2, 1),), ()),
        "unlock-fail-all": (((unlock, busy, 1, ALL),), ()),
        "target-fail": (((get, busy, 1, 1),), ()),
        "target-reset": (((get, reset, 1, 1),), ()),
        # a reset in the cycle sends START and GUEST_ID: either may be refused
        "start-fail": (((C.VMW_BALLOON_CMD_START, C.VMW_BALLOON_ERROR_CMD_INVALID, 1, 1),), ()),
        "guest-id-fail": (((C.VMW_BALLOON_CMD_GUEST_ID, C.VMW_BALLOON_ERROR_CMD_INVALID, 1, 1),), ()),
        "nosleep-fail-all": ((), ((nosleep, 1, ALL, True, 0),)),
        "sleep-fail": ((), ((nosleep, 1, ALL, True, 0), (cansleep, 1, ALL, True, 0))),
        "sleep-fail-2nd": ((), ((nosleep, 1, ALL, True, 0), (cansleep, 2, 1, True, 0))),
        "high-pfn": ((), ((0, 2, 1, False, 1 << 32),)),
    }
    for name, n in (("1", 1), ("2", 2), ("ra", ra), ("ra+1", ra + 1), ("ra+2", ra + 2)):
        out[f"nosleep-fail@{name}"] = ((), ((nosleep, n, 1, True, 0),))
    return out


def make_input(kind: str, behaviour: str, state: dict, before: tuple = (), which: int = 0) -> CycleInput | None:
    """The input, or None when its behaviour cannot act in that cycle (the
    same run as the plain one: not worth a run)."""
    vals = target_values(kind, state)
    if not vals:
        return None
    target = vals[which % len(vals)]
    host, alloc = behaviours(state)[behaviour]
    if not _can_act(host, alloc, target - _numbers(state, "size", 0)[0]):
        return None
    return CycleInput(target, behaviour, host, alloc, before, kind)


def _can_act(host: tuple, alloc: tuple, grow: int) -> bool:
    """Whether a cycle that moves the balloon by ``grow`` pages (target - size,
    the spec's) reaches the calls the rules change: LOCKs and allocations
    only when it inflates (the n-th allocation only if it may allocate n
    pages), UNLOCKs only when it deflates."""
    for cmd, _status, _nth, _count in host:
        if cmd == C.VMW_BALLOON_CMD_LOCK and grow <= 0 or cmd == C.VMW_BALLOON_CMD_UNLOCK and grow >= 0:
            return False
    return all(grow >= (nth if count == 1 else 1) for _gfp, nth, count, _fail, _pfn in alloc)


def kinds(guide: list[int]) -> list[str]:
    return [k for k, _ in TARGET_KINDS] + [f"g:{g}" for g in guide]


# -- running a prefix on both sides ----------------------------------------------------------------
@dataclass
class Run:
    inputs: tuple[CycleInput, ...]
    divergence: str | None
    key: tuple = ()
    state: dict = field(default_factory=dict)  # spec and C state after the prefix (keys "spec.*", "c.*")
    cost: int = 0  # events of the spec's trace: what running it again costs


class Runner:
    """Runs prefixes (plus the probe) on the spec and on the interpreted C."""

    def __init__(self, driver: Path) -> None:
        self.program = load(driver)
        self.runs = 0

    def run(self, inputs: tuple[CycleInput, ...]) -> Run:
        self.runs += 1
        sc = build(inputs, "refine-search")
        want = predict(sc, max_events=MAX_EVENTS)
        try:
            got = predict(sc, max_events=MAX_EVENTS, driver=CDriver(self.program))
        except CFrontError as e:
            return Run(inputs, f"the interpreted C fails: {e}")
        div = first_divergence(want.events, got.events)
        if div is not None:
            return Run(inputs, str(div))
        at = len(sc.steps) - len(PROBE)  # the state after the prefix: the probe's first snapshot
        a, b = _snap(want, at), _snap(got, at)
        if a is None or b is None:  # cut short (runaway on both sides alike): nothing to extend
            return Run(inputs, None)
        state = {**{f"spec.{k}": v for k, v in _flat(a.balloon).items()},
                 **{f"c.{k}": v for k, v in b.balloon.items()}}
        key = (tuple(sorted(state.items())), tuple(sorted(a.kernel.items())), tuple(sorted(a.host.items())),
               tuple(sorted(b.kernel.items())), tuple(sorted(b.host.items())))
        return Run(inputs, None, key, state, len(want.events))


def _snap(pred, step_index: int):
    for s in pred.snapshots:
        if s.step_index == step_index:
            return s
    return None


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


def _bucket(v):
    """Small numbers as they are, larger ones by their order of magnitude, so
    a rate creeping up by its increment is not new every cycle."""
    return v if not isinstance(v, int) or isinstance(v, bool) or v < 64 else ("2^", v.bit_length())


def features(state: dict) -> set:
    """The values novelty is judged on: every scalar but counters and the
    size/target pair (which every cycle moves), how size compares to target,
    where the two sides disagree, and pairs of the spec's modes."""
    out = set()
    for k, v in state.items():
        leaf = k.split(".")[-1]
        if ".stats." in k or ".sysinfo." in k or leaf in ("size", "target", "pages"):
            continue
        out.add((k, _bucket(v)))
    spec = {k[len("spec."):]: v for k, v in state.items() if k.startswith("spec.") and "." not in k[5:]}
    for k, v in state.items():  # the fields both sides name alike: agreeing, or how they differ
        leaf = k.split(".")[-1]
        if k.startswith("c.") and ".stats." not in k and leaf in spec:
            out.add(("agree", leaf) if v == spec[leaf] else ("differ", leaf, _bucket(spec[leaf]), _bucket(v)))
    # the spec's modes two at a time (slowed down *and* reset pending...): a
    # combination the driver's code treats specially can be new when neither value is
    modes = sorted((k, _bucket(v)) for k, v in spec.items() if k not in ("size", "target", "pages", "lost", "refused"))
    out.update(("both", a, b) for i, a in enumerate(modes) for b in modes[i + 1:])
    for side in ("spec", "c"):
        s, t = state.get(f"{side}.size", state.get(f"{side}.balloon.size")), \
            state.get(f"{side}.target", state.get(f"{side}.balloon.target"))
        if isinstance(s, int) and isinstance(t, int):
            out.add((side, "size-vs-target", (s > t) - (s < t)))
    return out


# -- the search --------------------------------------------------------------------------------------
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


def search(driver: Path, guide: list[int] = (), *, budget_s: float = 60.0, seed: int = 0,
           progress=None, stop=None, max_runs: int | None = None) -> Witness | None:
    """The first prefix (plus probe) whose interpreted-C trace differs from the
    spec's, shrunk; None when the budget runs out first (or ``stop()`` says
    so). ``max_runs`` bounds the scenarios tried instead of the time: the
    outcome is then the same on any machine, however loaded."""
    t0 = time.perf_counter()
    target_kinds = kinds([g for g in guide if 0 <= g <= U32])
    names = list(behaviours({}))
    runner = Runner(driver)
    rng = random.Random(seed)
    seen_keys: set = set()
    seen_features: set = set()
    corpus: list[Run] = []
    hot: list[list] = []  # [run, energy]: the newest states of note, extended first

    def visit(inputs) -> Run | None:
        r = runner.run(inputs)
        if r.divergence is not None:
            return r
        if r.key and r.key not in seen_keys:  # a joint state reached before: merged (same futures)
            seen_keys.add(r.key)
            feats = features(r.state)
            new = feats - seen_features
            if new or not corpus:
                seen_features.update(new)
                corpus.append(r)
                # states where the two sides already disagree get the most extensions:
                # their difference is waiting to become observable
                hot.append([r, HOT_DIFFER if any(f[0] == "differ" for f in feats) else HOT_NEW])
        if progress and runner.runs % 250 == 0:
            progress(f"search: {runner.runs} scenarios, {len(seen_keys)} joint states, "
                     f"{len(corpus)} of note, deepest {max(len(c.inputs) for c in corpus)} cycles")
        return None

    def pick() -> Run:
        if hot and rng.random() < 0.75:
            entry = hot[-1]
            entry[1] -= 1
            if entry[1] <= 0:
                hot.pop()
            return entry[0]
        a, b = rng.choice(corpus), rng.choice(corpus[-8:])  # the cheaper of two
        return a if a.cost <= b.cost else b

    def out_of_time() -> bool:
        if max_runs is not None and runner.runs >= max_runs:
            return True
        return time.perf_counter() - t0 > budget_s or (stop is not None and runner.runs % 10 == 0 and stop())

    def found(r: Run) -> Witness:
        inputs = _shrink(runner, r.inputs, deadline=time.perf_counter() + 30)
        sc = build(inputs, _scenario_id(inputs))
        return Witness(sc, runner.run(inputs).divergence or r.divergence, runner.runs, time.perf_counter() - t0)

    hit = visit(())
    if hit is not None:
        return found(hit)
    init_state = corpus[0].state if corpus else {}
    for kind in target_kinds:  # every input from init, cheapest targets first
        for name in (("plain",) if kind in FULL_RATE_KINDS else names):
            ci = make_input(kind, name, init_state)
            if out_of_time():
                return None
            if ci is not None and (hit := visit((ci,))) is not None:
                return found(hit)
    # then every state of note from that layer is extended a little, the cheapest first
    hot[:] = [[r, HOT_LAYER] for r in sorted(corpus, key=lambda r: r.cost, reverse=True)]
    while not out_of_time() and corpus:
        base = pick()
        if len(base.inputs) >= MAX_CYCLES:
            continue
        if base.inputs and rng.random() < 0.4:  # repeat the move that led here, from the new state
            last = base.inputs[-1]
            ci = make_input(last.kind, last.behaviour, base.state)
        else:
            before = BEFORE[0] if rng.random() < 0.7 else rng.choice(BEFORE[1:])
            for _ in range(20):  # draw until the behaviour can act in the cycle
                ci = make_input(rng.choice(target_kinds), rng.choice(names), base.state, before, rng.randrange(4))
                if ci is not None:
                    break
        if ci is not None and (hit := visit(base.inputs + (ci,))) is not None:
            return found(hit)
    return None


def _scenario_id(inputs: tuple) -> str:
    text = "_".join(ci.label() for ci in inputs) or "init"
    return "refine-" + re.sub(r"[^A-Za-z0-9.@+_-]", "-", text)[:150]


def _shrink(runner: Runner, inputs: tuple, deadline: float) -> tuple:
    """Drop cycle inputs (and their before-steps) while the traces still differ."""
    i = 0
    while i < len(inputs) and time.perf_counter() < deadline:
        fewer = inputs[:i] + inputs[i + 1:]
        if runner.run(fewer).divergence is not None:
            inputs = fewer
            continue
        if inputs[i].before:
            plain = inputs[:i] + (inputs[i].without_before(),) + inputs[i + 1:]
            if runner.run(plain).divergence is not None:
                inputs = plain
        i += 1
    return inputs


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
