"""Solver-chosen coverage goals: every feasible path of the model's step functions.

``feasible_paths()`` runs each tracked function of model/algorithm.py on the
symbolic engine (model/symbolic/) from a state the proofs guarantee: a state
between two work cycles satisfying the cycle invariant
(model/proofs/cycle.py), or, for a loop's step function, any state at the
head of its loop satisfying the loop invariant registered for it
(model/proofs/loops.py, put there by the engine's ``head_state``). So a path
that only an impossible state could take is not a goal. The loops the
runners meet are summarised by the same invariants (the engine's
``Summarise`` policy), exactly as in the proofs. ``covered_paths(vectors)``
runs the same functions *interpreted* (``predict(..., interpreted=True)``)
over the vectors' scenarios and records, for every call of a tracked
function, the outcomes of its decisions. ``report()`` compares the two.

What a path is
--------------
A *decision* is one ``ops.cond`` (an ``if``/loop test of the C) or one
selection of ``ops.ite``/``umin``/``umax`` (a ``?:``/``min()``/``max()`` of the
C: the clamps of the rate rules), evaluated while the function runs. A
function's path is the tuple of the outcomes of every decision it evaluated, in
order, including those of the functions it calls (``check_status`` is covered
through its callers), except the calls in ``OPAQUE`` (``inflate``, ``deflate``,
``pop``, ``reset``: loops or sub-steps with their own goals): their decisions
are not the caller's, and the symbolic runs in which they took different
paths are one goal of the caller (its condition the disjunction). Both runs
record *every* decision, including one the solver finds forced on a path
(symbolically a condition that simplifies to a constant is no branch; it is
recorded here all the same), so the outcome tuple of a path identifies it
both ways.

Environment assumptions (specs/invariants.md, host "any", allocator "any"):
the host answers in 32-bit registers (status and result < 2^32); PFNs and
totalram are any 64-bit values; a page the allocator returns is on none of
the driver's lists.
"""
from __future__ import annotations

import inspect
import linecache
import re
import sys
import time
import types
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable

import z3

from balloonspec.model import algorithm as A
from balloonspec.model import constants as C
from balloonspec.model import predict as P
from balloonspec.model.ops import ConcreteOps
from balloonspec.model.proofs import cycle as CY
from balloonspec.model.proofs import loops as LOOPS
from balloonspec.model.state import Balloon, DeflateLoop, InflateLoop, PopLoop
from balloonspec.model.symbolic import (Ghost, Policy, RecordingOps, SymbolicEnv, explore, frame, head_state,
                                        merged_call)
from balloonspec.model.symbolic.concretise import solve as _solve, value
from balloonspec.model.symbolic.loops import assume_list_facts

OPAQUE = ("inflate", "deflate", "pop", "reset")  # callees whose decisions are not the caller's

# Paths feasible from an invariant-constrained state that no run from init
# takes, by path name, with the reason. Empty on the seed: every feasible path
# has a scenario. (Without the invariants, 3 more paths would be feasible: an
# UNLOCK skipped for a PFN >= 2^32, in send_unlock_page and, twice, in
# deflate_release; PAGES-PFN-32 rules them out, cf. coverage.UNREACHABLE.)
UNREACHABLE_PATHS: dict[str, str] = {}


# -- recording ops --------------------------------------------------------------------------
class _Frames:
    """The decision logs of the tracked calls in progress. A decision goes to
    every log above the innermost OPAQUE barrier (a None on the stack)."""

    def __init__(self) -> None:
        self.stack: list = []

    def record(self, outcome: bool) -> None:
        for fr in reversed(self.stack):
            if fr is None:
                return
            fr.append(outcome)


def _recording_concrete(frames: _Frames) -> ConcreteOps:
    ops = ConcreteOps()
    d, rec = ops.__dict__, frames.record

    def cond(c):
        rec(bool(c))
        return c

    def ite(c, a, b):
        rec(bool(c))
        return a if c else b

    def umin(a, b):  # kernel min(): a < b ? a : b
        c = a < b
        rec(c)
        return a if c else b

    def umax(a, b):  # kernel max(): a > b ? a : b
        c = a > b
        rec(c)
        return a if c else b

    d.update(cond=cond, ite=ite, umin=umin, umax=umax)
    return ops


# -- the algorithm, cloned with wrappers or stubs ----------------------------------------------
def _functions() -> dict[str, types.FunctionType]:
    """The functions of model/algorithm.py as the module holds them now
    (a test may have replaced one)."""
    return {n: f for n, f in vars(A).items() if isinstance(f, types.FunctionType)}


def _clone(wrap: Callable[[str, types.FunctionType], Callable]) -> types.SimpleNamespace:
    """The algorithm's functions re-bound to a globals dict in which every
    function name resolves to ``wrap(name, clone)``."""
    g = dict(vars(A))
    out = {}
    for n, f in _functions().items():
        c = types.FunctionType(f.__code__, g, f.__name__, f.__defaults__, f.__closure__)
        c.__kwdefaults__ = f.__kwdefaults__
        out[n] = wrap(n, c)
    g.update(out)
    return types.SimpleNamespace(**out)


# -- symbolic harnesses -----------------------------------------------------------------------
class _Call:
    """A tracked call in progress (symbolic): its decision log, the state its
    arguments had on entry (leaf path -> term), the env calls before it."""

    __slots__ = ("name", "log", "ctx", "env", "calls0", "point", "calls")

    def __init__(self, name, ctx, env) -> None:
        self.name, self.log, self.ctx, self.env = name, [], ctx, env
        self.calls0 = len(env.calls) if env is not None else 0
        self.point, self.calls = None, []


class _SymFrames:
    """The symbolic counterpart of _Frames: logs of the tracked calls in
    progress; finished calls in ``done``."""

    def __init__(self) -> None:
        self.stack: list = []
        self.done: list[_Call] = []

    def active(self) -> bool:
        return bool(self.stack) and self.stack[-1] is not None

    def record(self, site, outcome, cond) -> None:
        for fr in reversed(self.stack):
            if fr is None:
                return
            fr.log.append((site, outcome, cond))


def _symbolic_clone(frames: _SymFrames, tracked) -> types.SimpleNamespace:
    def wrap(name, c):
        opaque, is_tracked = name in OPAQUE, name in tracked
        if not (opaque or is_tracked):
            return c
        params = list(inspect.signature(c).parameters)[1:]
        stack = frames.stack

        def w(ops, *args, **kw):
            if opaque and not is_tracked:  # its paths are one step of the caller's
                return merged_call(ops, c, *args, **kw)
            depth = len(stack)
            fr = None
            if is_tracked:
                roots = {p: a for p, a in zip(params, args) if frame.is_state(a)}
                env = next((a for a in args if isinstance(a, SymbolicEnv)), None)
                fr = _Call(name, frame.leaf_values(roots), env)
                stack.append(fr)
            try:
                r = c(ops, *args, **kw)
            except BaseException:
                del stack[depth:]
                raise
            del stack[depth:]
            if fr is not None:
                fr.point = ops.oracle.point()
                fr.calls = list(fr.env.calls[fr.calls0:]) if fr.env is not None else []
                frames.done.append(fr)
            return r

        w.__name__, w.__wrapped__ = name, c  # inspect.signature sees the spec's parameters
        return w

    return _clone(wrap)


def _env(ops, b, ghost=None) -> SymbolicEnv:
    return SymbolicEnv(ops, b=b, policy=Policy(), ghost=ghost or Ghost.fresh("host."))


def _cycle_state(ops):
    """A symbolic struct vmballoon between two work cycles: the cycle invariant
    (model/proofs/cycle.py; host "any"), what holds of any list."""
    b = Balloon.symbolic(ops)
    env = _env(ops, b)
    for label, f in CY.start_hypotheses(b, env.ghost, env.policy):
        ops.assume(f, label)
    assume_list_facts(ops.oracle, {"b": b})
    return b, env


def _h_init(ops, F, pol):
    b = Balloon(ops)  # the static is zeroed at the first load
    F.init(ops, b, _env(ops, b))


def _h_runner(name: str, size_vs_target=None):
    def h(ops, F, pol):
        b, env = _cycle_state(ops)
        if size_vs_target == "below":
            ops.assume(z3.ULT(b.size, b.target), "inflate runs below the target")
        elif size_vs_target == "above":
            ops.assume(z3.UGT(b.size, b.target), "deflate runs above the target")
        fn = getattr(F, name)
        # a runner run for the sake of a step function inside it: the runner
        # itself, not merged (a tracked function keeps its recording wrapper)
        (inspect.unwrap(fn) if size_vs_target else fn)(ops, b, env)
    return h


def _h_send(name: str, pfn: bool = False):
    def h(ops, F, pol):
        b, env = _cycle_state(ops)
        args = ()
        if pfn:
            p = ops.var64("pfn")
            ops.assume(z3.ULT(p, 1 << 32), "only listed pages are unlocked (PAGES-PFN-32)")
            args = (p,)
        getattr(F, name)(ops, b, env, *args)
    return h


def _h_begin(name: str, size_vs_target: str):
    def h(ops, F, pol):
        b, env = _cycle_state(ops)
        if size_vs_target == "below":
            ops.assume(z3.ULT(b.size, b.target), "inflate runs below the target")
        else:
            ops.assume(z3.UGT(b.size, b.target), "deflate runs above the target")
        getattr(F, name)(ops, b)
    return h


# loop name -> (test, step, the loop's locals)
LOOP_STEPS = {
    "inflate": ("inflate_continues", "inflate_attempt", lambda ops: InflateLoop.symbolic(ops, "e.lv.")),
    "release_refused": ("refused_continues", "release_refused_one", None),
    "deflate": ("deflate_continues", "deflate_release", lambda ops: DeflateLoop.symbolic(ops, "e.dl.")),
    "pop": ("pop_continues", "pop_one", lambda ops: PopLoop.symbolic(ops, "e.pl.")),
}


def _h_step(loop: str):
    """One iteration of a loop's step function from any state at the loop's
    head satisfying its registered invariant (entry leaves ``e.*``, the
    state the loop writes named as the spec names it: ``b.size``, ``lv.i``...)."""
    test_name, step_name, make_locals = LOOP_STEPS[loop]

    def h(ops, F, pol):
        b = Balloon.symbolic(ops, "e.b.")
        env = _env(ops, b, Ghost.fresh("e.env.ghost."))
        args = (b, make_locals(ops), env) if make_locals else (b, env)
        assume_list_facts(ops.oracle, {"b": b})
        test, step = getattr(F, test_name), getattr(F, step_name)
        ws, names = pol.write_set(test, inspect.unwrap(step), args)  # the spec's step, not the recording
        head_state(ops.oracle, loop, pol.invariant(loop), args, ws, names, prefix="")
        if ops.cond(test(ops, *args)):
            step(ops, *args)
    return h


# tracked function -> harness; the order is the report's
HARNESSES: dict[str, Callable] = {
    "init": _h_init,
    "exit": _h_runner("exit"),
    "work": _h_runner("work"),
    "reset": _h_runner("reset"),
    "send_start": _h_send("send_start"),
    "send_guest_id": _h_send("send_guest_id"),
    "send_get_target": _h_send("send_get_target"),
    "send_unlock_page": _h_send("send_unlock_page", pfn=True),
    "inflate_begin": _h_begin("inflate_begin", "below"),
    "inflate_attempt": _h_step("inflate"),
    "inflate_end": _h_runner("inflate", "below"),
    "release_refused_one": _h_step("release_refused"),
    "deflate_begin": _h_begin("deflate_begin", "above"),
    "deflate_release": _h_step("deflate"),
    "deflate_end": _h_runner("deflate", "above"),
    "pop_one": _h_step("pop"),
}


# -- naming -----------------------------------------------------------------------------------
# decision text (as written in algorithm.py) -> (when true, when false)
LABELS = {
    "env.x86_hyper_is_vmware()": ("VMware", "not VMware"),
    "ops.eq(status, ops.k.SUCCESS_64)": ("status SUCCESS", "status not SUCCESS"),
    "ops.eq(status, ops.k.ERROR_RESET_64)": ("status RESET", "status not RESET"),
    "ops.fits32(limit)": ("totalram < 2^32", "totalram >= 2^32"),
    "ops.fits32(pfn)": ("PFN < 2^32", "PFN >= 2^32"),
    "can_sleep": ("CANSLEEP", "NOSLEEP"),
    "ok": ("page allocated", "alloc_page NULL"),
    "ops.or_(ops.eq(hv_status, ops.k.ERROR_RESET), ops.eq(hv_status, ops.k.ERROR_PPN_NOTNEEDED))":
        ("LOCK refused RESET/NOTNEEDED (page freed)", "LOCK refused (status not RESET/NOTNEEDED)"),
    "ops.uge(b.n_refused_pages, ops.k.MAX_REFUSED)": ("n_refused reaches MAX_REFUSED", "n_refused < MAX_REFUSED"),
    "ops.ne(error, ops.k.ERR_OK)": ("error", "no error"),
    "ops.ne(error, ops.k.ERR_ENOMEM)": ("error not -ENOMEM", "-ENOMEM"),
    "ops.uge(lv.i, b.rate_alloc)": ("i >= rate_alloc", "i < rate_alloc"),
    "ops.ugt(lv.allocations, ops.k.YIELD_THRESHOLD)": ("allocations > YIELD_THRESHOLD (cond_resched)",
                                                       "allocations <= YIELD_THRESHOLD"),
    "ops.uge(lv.i, lv.rate)": ("i >= rate (break)", "i < rate"),
    "ops.ult(lv.i, lv.goal)": ("i+1 < goal (go on)", "i+1 >= goal (loop ends)"),
    "ops.and_(ops.eq(lv.error, ops.k.ERR_OK), ops.uge(lv.i, b.rate_alloc))":
        ("error == 0 && i >= rate_alloc (rate_alloc rises)", "no rate_alloc increase"),
    "ops.uge(dl.i, dl.goal)": ("++i >= goal (walk ends)", "++i < goal"),
    "ops.uge(pl.count, b.rate_free)": ("++count >= rate_free (cond_resched)", "++count < rate_free"),
    "b.reset_required": ("reset_required", "no reset required"),
    "ops.ugt(b.slow_allocation_cycles, ops.k.ZERO)": ("slow cycles > 0", "slow cycles == 0"),
    "ops.ult(b.size, target)": ("size < target (inflate)", "size >= target"),
    "ops.ugt(b.size, target)": ("size > target (deflate)", "size == target"),
    "inflate_continues(ops, lv)": ("i < goal", "goal 0"),
    # selections: ite / min() / max()
    "ops.ite(ops.ne(b.slow_allocation_cycles, ops.k.ZERO)": ("rate = rate_alloc (slow)", "rate = NOSLEEP_ALLOC_MAX"),
    "ops.umax(ops.udiv(b.rate_alloc, ops.k.TWO), ops.k.RATE_ALLOC_MIN)":
        ("rate_alloc halves", "rate_alloc clamped at RATE_ALLOC_MIN"),
    "ops.umin(ops.add(b.rate_alloc, ops.mul(mult, ops.k.RATE_ALLOC_INC)), ops.k.RATE_ALLOC_MAX)":
        ("rate_alloc grows below RATE_ALLOC_MAX", "rate_alloc clamped at RATE_ALLOC_MAX"),
    "ops.umin(ops.sub(b.size, b.target), b.rate_free)": ("goal = size - target", "goal = rate_free"),
    "ops.umax(ops.udiv(b.rate_free, ops.k.TWO), ops.k.RATE_FREE_MIN)":
        ("rate_free halves", "rate_free clamped at RATE_FREE_MIN"),
    "ops.umin(ops.add(b.rate_free, ops.k.RATE_FREE_INC), ops.k.RATE_FREE_MAX)":
        ("rate_free grows below RATE_FREE_MAX", "rate_free clamped at RATE_FREE_MAX"),
    "dl.returned": ("deflate returned early (no rate_free increase)", "deflate completed"),
}


def _call_text(line: str, start: int) -> str:
    depth = 0
    for j in range(start, len(line)):
        depth += line[j] == "("
        depth -= line[j] == ")"
        if depth == 0 and line[j] == ")":
            return line[start:j + 1]
    return line[start:].strip()


def decision_text(site: tuple[str, str, int]) -> str:
    """The decision's expression as written in the source (model/algorithm.py)."""
    text = linecache.getline(site[0], site[2]) or "?"
    m = re.search(r"ops\.cond\(", text)
    if m:
        return _call_text(text, m.end() - 1)[1:-1]
    m = re.search(r"ops\.(umin|umax)\(", text)
    if m:
        return _call_text(text, m.start())
    m = re.search(r"ops\.ite\(", text)
    if m:
        inner = _call_text(text, m.end() - 1)[1:]
        return "ops.ite(" + _call_text(inner, inner.index("(")) if "(" in inner else text.strip()
    return text.strip()


def decision_label(site, outcome: bool) -> str:
    t = decision_text(site)
    if t in LABELS:
        return LABELS[t][0 if outcome else 1]
    if t.startswith("ops.ite(") and t + ")" in LABELS:
        return LABELS[t + ")"][0 if outcome else 1]
    for k, v in LABELS.items():
        if t.startswith(k):
            return v[0 if outcome else 1]
    return f"{t}={'T' if outcome else 'F'}"


@dataclass(frozen=True)
class PathGoal:
    function: str
    outcomes: tuple  # bools, one per decision evaluated (the path's identity)
    sites: tuple  # (file, function, line) of each decision
    condition: Any  # z3 path condition (invariants included)
    decisions: tuple  # (z3 condition, outcome) of its decisions that the solver decided (not constant)
    free: tuple  # per decision: another feasible path takes the other outcome here (else forced)
    # one symbolic run of the path (the first): its condition, the state at the
    # call (leaf path -> term), the environment calls the call made
    witness: Any = field(default=None, compare=False, hash=False)

    @property
    def key(self) -> tuple:
        return (self.function, self.outcomes)

    @property
    def name(self) -> str:
        if not self.outcomes:
            return f"{self.function}: (no decision)"
        # the free decisions name the path (a forced one follows from those before it)
        labels = [decision_label(s, o) for s, o, f in zip(self.sites, self.outcomes, self.free) if f]
        return f"{self.function}: " + (", ".join(labels) if labels else "(single path)")

    @property
    def steps(self) -> list[tuple[str, str]]:
        """(branch condition text, T/F) in order."""
        return [(decision_text(s), "T" if o else "F") for s, o in zip(self.sites, self.outcomes)]


# -- feasible paths ---------------------------------------------------------------------------
_CACHE: dict = {}


def _fingerprint() -> tuple:
    return tuple(sorted(_functions().items()))


@dataclass
class Witness:
    """One run of a goal: its condition, the tracked call's entry state and calls."""

    condition: Any
    ctx: dict
    calls: list


def explore_function(name: str, pol=None) -> list[PathGoal]:
    """Every feasible path of one tracked function (no cache)."""
    pol = pol or LOOPS.policy()
    harness = HARNESSES[name]
    occ: dict[tuple, list] = {}
    frames = _SymFrames()
    F = _symbolic_clone(frames, {name})  # once: merged callees are memoised per function

    def run(ops):
        frames.stack.clear()
        frames.done = []
        rec = RecordingOps(ops, split=lambda site: frames.active(), sink=frames.record)
        harness(rec, F, pol)
        ops.oracle.data["frames"] = list(frames.done)
        return None

    def on_path(p):
        for fr in p.data["frames"]:
            if fr.name != name:
                continue
            outcomes = tuple(o for _, o, _ in fr.log)
            cond = z3.And(*p.literals[:fr.point.lits]) if fr.point.lits else z3.BoolVal(True)
            occ.setdefault(outcomes, []).append((fr, cond))

    explore(run, loops=pol, on_path=on_path)
    prefixes = {o[:k + 1] for o in occ for k in range(len(o))}
    out = []
    for outcomes in sorted(occ, key=lambda o: tuple(not x for x in o)):
        fr, cond = occ[outcomes][0]
        sites = tuple(s for s, _, _ in fr.log)
        free = tuple(outcomes[:k] + (not outcomes[k],) in prefixes for k in range(len(outcomes)))
        decisions = tuple((c, o) for _, o, c in fr.log if c is not None)
        condition = z3.Or(*[c for _, c in occ[outcomes]]) if len(occ[outcomes]) > 1 else cond
        out.append(PathGoal(name, outcomes, sites, condition, decisions, free, Witness(cond, fr.ctx, fr.calls)))
    return out


def feasible_paths(functions=None) -> dict[str, list[PathGoal]]:
    """function name -> its feasible paths (cached per version of the algorithm)."""
    fp = _fingerprint()
    out = {}
    pol = None
    for name in functions or HARNESSES:
        key = (name, fp)
        if key not in _CACHE:
            pol = pol or LOOPS.policy()  # one loop policy: write sets and loop bodies explored once
            _CACHE[key] = explore_function(name, pol)
        out[name] = _CACHE[key]
    return out


def all_paths() -> dict[str, PathGoal]:
    return {g.name: g for paths in feasible_paths().values() for g in paths}


# -- covered paths ----------------------------------------------------------------------------
@contextmanager
def recording():
    """Within: predict(..., interpreted=True) records the paths of the tracked
    functions into the yielded set of (function, outcomes)."""
    frames = _Frames()
    rops = _recording_concrete(frames)
    seen: set = set()
    tracked = set(HARNESSES)

    def wrap(name, c):
        opaque = name in OPAQUE
        if name not in tracked and not opaque:
            return c
        is_tracked = name in tracked
        stack = frames.stack

        def w(ops, *args, **kw):
            depth = len(stack)
            if opaque:
                stack.append(None)
            fr = None
            if is_tracked:
                fr = []
                stack.append(fr)
            try:
                return c(rops, *args, **kw)
            finally:
                del stack[depth:]
                if fr is not None:
                    seen.add((name, tuple(fr)))
        w.__name__ = name
        return w

    F = _clone(wrap)
    saved = P._interpreted
    P._interpreted = F
    try:
        yield seen
    finally:
        P._interpreted = saved


def covered_paths(vectors) -> set[tuple[str, tuple]]:
    """(function, outcomes) of every tracked call when the interpreted model
    runs the vectors' scenarios (a Vector, or a (scenario, debugfs) pair)."""
    with recording() as seen:
        for v in vectors:
            sc, dbg = (v.scenario, v.debugfs) if hasattr(v, "scenario") else v
            P.predict(sc, debugfs=dbg, interpreted=True)
    return set(seen)


def shipped_vectors():
    from balloonspec.conformance.commands import SHIPPED_VECTORS
    from balloonspec.conformance.vectors import load_dir

    vecs, bad = load_dir(SHIPPED_VECTORS)
    if bad:
        raise ValueError(f"bad shipped vectors: {bad}")
    return vecs


def report(vectors=None) -> dict:
    t0 = time.monotonic()
    paths = feasible_paths()
    t1 = time.monotonic()
    cov = covered_paths(shipped_vectors() if vectors is None else vectors)
    t2 = time.monotonic()
    goals = [g for ps in paths.values() for g in ps]
    covered = [g.name for g in goals if g.key in cov]
    unreachable = {g.name: UNREACHABLE_PATHS[g.name] for g in goals
                   if g.key not in cov and g.name in UNREACHABLE_PATHS}
    uncovered = [g.name for g in goals if g.key not in cov and g.name not in UNREACHABLE_PATHS]
    reachable = len(goals) - len(unreachable)
    feasible = {g.key for g in goals}
    return {
        "goals": len(goals),
        "per_function": {n: {"paths": len(ps), "covered": sum(g.key in cov for g in ps)} for n, ps in paths.items()},
        "covered": covered,
        "uncovered": uncovered,
        "unreachable": unreachable,
        "covered_pct": round(100.0 * len(covered) / max(1, reachable), 2),
        # reached concretely but not a feasible path: an invariant assumed here is wrong
        "unexpected": sorted(f"{f}: {o}" for f, o in cov - feasible if f in paths),
        "seconds": {"explore": round(t1 - t0, 2), "cover": round(t2 - t1, 2)},
    }


# -- scenarios for uncovered paths --------------------------------------------------------------
M32 = (1 << 32) - 1
GET_TARGET, LOCK, UNLOCK = C.VMW_BALLOON_CMD_GET_TARGET, C.VMW_BALLOON_CMD_LOCK, C.VMW_BALLOON_CMD_UNLOCK
START, GUEST_ID = C.VMW_BALLOON_CMD_START, C.VMW_BALLOON_CMD_GUEST_ID
NOSLEEP, CANSLEEP = C.VMW_PAGE_ALLOC_NOSLEEP, C.VMW_PAGE_ALLOC_CANSLEEP


def _bv(name, bits=32):
    return z3.BitVec(name, bits)


def solve(goal: PathGoal, hard=(), minimize=()) -> dict | None:
    """A model of the goal's path (its first run) plus ``hard`` (what a
    scenario builder can set up), minimising ``minimize`` in order, then every
    other input by name (the engine's ``concretise.solve``: the
    lexicographically least model, so the values cannot depend on what Z3
    solved before in this process); None if there is none."""
    return _solve(goal.witness.condition, hard, minimize)


def _call(goal: PathGoal, kind: str, cmd=None):
    """The first call of a kind (and command) the goal's run made, or None."""
    return next((c for c in goal.witness.calls if c.kind == kind and (cmd is None or c.args[0] == cmd)), None)


def _status(goal: PathGoal, cmd, name: str):
    """That command's status in the goal's run (a free variable if it made none)."""
    c = _call(goal, "backdoor", cmd)
    return c.status if c is not None else z3.BitVec(name, 64)


def _steps(*spec):
    from balloonspec.model.scenario import steps
    return steps(*spec)


def _index(st, kind, nth=1):
    from balloonspec.conformance.goals import _step_index
    return _step_index(st, kind, nth)


def _scenario(gid, st, **kw):
    from balloonspec.model.scenario import Scenario
    return Scenario(id=gid, steps=st, **kw)


def _build_work(goal: PathGoal, gid: str):
    """init, a first cycle (100 pages; its first NOSLEEP allocation fails for
    slow cycles > 0), [host_reset + a cycle whose GET_TARGET gets RESET], the
    cycle of the path with GET_TARGET's status (and target) from the model."""
    from balloonspec.model.scenario import AllocRule, HostRule

    ctx = goal.witness.ctx
    gt = _call(goal, "backdoor", GET_TARGET)
    st = gt.status if gt else _bv("get_target.status", 64)
    res = gt.result if gt else _bv("get_target.result", 64)
    tr = _call(goal, "si_meminfo").replies[0]
    m = solve(goal, [z3.ULE(st, 8)], [tr, res])
    if m is None:
        return None, {}
    rr, slow = value(m, ctx["b.reset_required"], False), value(m, ctx["b.slow_allocation_cycles"]) > 0
    totalram = value(m, tr)
    fits = totalram <= M32
    spec = ["init", "cycle"] + (["host_reset", "cycle"] if rr else [])
    if not fits:
        spec.append(("set_totalram", totalram))
    spec += ["cycle", "debugfs"]
    steps = _steps(*spec)
    c1, cf = _index(steps, "cycle", 1), len(steps) - 2
    alloc = (AllocRule(NOSLEEP, nth=1, scope=c1),) if slow else ()
    values = {"reset_required": rr, "slow": slow, "totalram": totalram}
    host = ()
    if fits:
        status = value(m, st)
        values["status"] = status
        if status != 0:
            host = (HostRule(GET_TARGET, status, scope=cf),)
        else:
            # the target's relation to the size the model had; the actual size is predicted
            size_m = 0 if rr else value(m, ctx["b.size"])
            t_m = value(m, res) & M32
            rel = (t_m > size_m) - (t_m < size_m)
            if rr:
                size = 0  # the reset pops the balloon before GET_TARGET
            else:
                size = P.predict(_scenario(gid, steps[:cf], target=100, alloc_rules=alloc)).balloon.size
            target = size + rel
            if target < 0:
                return None, {}
            values["target"] = target
            host = (HostRule(GET_TARGET, 0, scope=cf, result=target),)
    return _scenario(gid, steps, target=100, alloc_rules=alloc, host_rules=host), values


def _build_reset(goal: PathGoal, gid: str):
    """A host reset, then the restart with START/GUEST_ID statuses from the model."""
    from balloonspec.model.scenario import HostRule

    s1, s2 = _status(goal, START, "start.status"), _status(goal, GUEST_ID, "guest_id.status")
    m = solve(goal, [z3.ULE(s1, 8), z3.ULE(s2, 8)], [s1, s2])
    if m is None:
        return None, {}
    steps = _steps("init", ("cycle", 1), "host_reset", ("cycle", 3), "debugfs")
    rules = []
    v1, v2 = value(m, s1), value(m, s2)
    for cmd, v in ((START, v1), (GUEST_ID, v2)):
        if v:
            rules.append(HostRule(cmd, v, nth=2))
    values = {"start": v1, "guest_id": v2}
    return _scenario(gid, steps, target=200, host_rules=tuple(rules)), values


def _build_inflate_attempt(goal: PathGoal, gid: str):
    """From the model's attempt: rate_alloc (2048, or 1024 after one cycle of
    memory pressure), sleeping (the cycle's first NOSLEEP allocation fails),
    i (the attempt's index), n_refused (PINNED LOCKs just before), goal (the
    target, from an empty balloon), the allocation's outcome and the LOCK status."""
    from balloonspec.model.scenario import AllocRule, HostRule

    ctx = goal.witness.ctx
    i, g, ra = ctx["lv.i"], ctx["lv.goal"], ctx["b.rate_alloc"]
    cs, slow, nref = ctx["lv.can_sleep"], ctx["b.slow_allocation_cycles"], ctx["b.n_refused_pages"]
    st = _status(goal, LOCK, "lock.status")
    a = _call(goal, "alloc")
    ok_t, pfn = a.ok, a.pfn
    hard = [z3.If(cs, z3.Or(ra == 2048, ra == 1024), z3.And(ra == 2048, slow == 0)),
            z3.ULE(st, 8), z3.ULE(pfn, 1 << 32), z3.ULE(g, 20000)]
    m = solve(goal, hard, [i, g, nref, st])
    if m is None:
        return None, {}
    can_sleep, R = value(m, cs, False), value(m, ra, 2048)
    i_v, g_v, n = value(m, i), value(m, g), value(m, nref)
    pressure = can_sleep and R == 1024
    steps = _steps(*(["init"] + ["cycle"] * (2 if pressure else 1) + ["debugfs"]))
    cf = len(steps) - 2
    alloc, host = [], []
    if pressure:
        alloc += [AllocRule(NOSLEEP, scope=1), AllocRule(CANSLEEP, scope=1)]
    if can_sleep:
        alloc.append(AllocRule(NOSLEEP, nth=1, scope=cf))
    gfp, first = (CANSLEEP, 1) if can_sleep else (NOSLEEP, 0)
    k = (i_v - first) + n + 1  # the attempt's allocation (and LOCK) number in the cycle
    if n:
        host.append(HostRule(LOCK, 5, nth=k - n, count=n, scope=cf))
    ok, p = value(m, ok_t, True), value(m, pfn)
    values = {"rate_alloc": R, "can_sleep": can_sleep, "i": i_v, "goal": g_v, "n_refused": n, "alloc_ok": ok}
    lock_status = value(m, st)
    if not ok:
        alloc.append(AllocRule(gfp, nth=k, scope=cf))
    elif p > M32:
        alloc.append(AllocRule(gfp, nth=k, scope=cf, fail=False, pfn=p))
        values["pfn"] = p
    elif lock_status:
        host.append(HostRule(LOCK, lock_status, nth=k, scope=cf))
        values["lock_status"] = lock_status
    return _scenario(gid, steps, target=g_v, alloc_rules=tuple(alloc), host_rules=tuple(host)), values


def _build_deflate_release(goal: PathGoal, gid: str):
    """Inflate size0 pages, lower the target; k cycles whose first UNLOCK is
    refused (PINNED) halve rate_free to the model's value; in the last cycle
    UNLOCK number i+1 gets the model's status."""
    from balloonspec.model.scenario import HostRule

    ctx = goal.witness.ctx
    rf, i, g, size, tgt = ctx["b.rate_free"], ctx["dl.i"], ctx["dl.goal"], ctx["b.size"], ctx["b.target"]
    st = _status(goal, UNLOCK, "unlock.status")
    size0 = size + i
    hard = [z3.Or(*[rf == (C.VMW_BALLOON_RATE_FREE_MAX >> k) for k in range(6)]),
            z3.ULE(st, 8), z3.ULE(size, 16000), z3.ULE(i, 16000), z3.UGE(size0, size),
            g == z3.If(z3.ULT(size0 - tgt, rf), size0 - tgt, rf)]
    m = solve(goal, hard, [i, size, st])
    if m is None:
        return None, {}
    R, i_v, t_v = value(m, rf), value(m, i), value(m, tgt)
    size0_v = value(m, size) + i_v
    k = (C.VMW_BALLOON_RATE_FREE_MAX // R).bit_length() - 1
    steps = _steps("init", ("cycle", 1), ("set_target", t_v), ("cycle", k + 1), "debugfs")
    cycles = [n for n, s in enumerate(steps) if s.kind == "cycle"][1:]
    rules = [HostRule(UNLOCK, 5, nth=1, scope=c) for c in cycles[:-1]]
    status = value(m, st)
    if status:
        rules.append(HostRule(UNLOCK, status, nth=i_v + 1, scope=cycles[-1]))
    values = {"size0": size0_v, "target": t_v, "rate_free": R, "i": i_v, "unlock_status": status}
    return _scenario(gid, steps, target=size0_v, host_rules=tuple(rules)), values


BUILDERS = {"work": _build_work, "reset": _build_reset, "inflate_attempt": _build_inflate_attempt,
            "deflate_release": _build_deflate_release}


def goal_id(goal: PathGoal) -> str:
    return "path-" + goal.function.replace("_", "-") + "-" + "".join("T" if o else "F" for o in goal.outcomes)


def solver_scenarios(base_scenarios) -> list[tuple[PathGoal, Any, dict]]:
    """(path, scenario, chosen values) for every feasible path the base
    scenarios ((scenario, debugfs) pairs) leave uncovered, has a builder, is
    not listed unreachable, and whose scenario is checked to reach it."""
    cov = covered_paths(base_scenarios)
    out = []
    for paths in feasible_paths().values():
        for g in paths:
            if g.key in cov or g.name in UNREACHABLE_PATHS or g.function not in BUILDERS:
                continue
            sc, values = BUILDERS[g.function](g, goal_id(g))
            if sc is None or g.key not in covered_paths([(sc, True)]):
                continue
            out.append((g, sc, values))
    return out


def main() -> None:  # python -m balloonspec.conformance.pathgoals
    r = report()
    print(f"{len(r['covered'])}/{r['goals'] - len(r['unreachable'])} reachable paths covered "
          f"({r['covered_pct']}%), {len(r['unreachable'])} unreachable, times {r['seconds']}")
    for n, d in r["per_function"].items():
        print(f"  {n:22s} {d['covered']:3d}/{d['paths']}")
    for n in r["uncovered"]:
        print("UNCOVERED", n)
    for n, why in r["unreachable"].items():
        print("UNREACHABLE", n, "--", why)
    for n in r["unexpected"]:
        print("UNEXPECTED", n)


if __name__ == "__main__":
    main()
