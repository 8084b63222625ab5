"""Solver-chosen coverage goals: every feasible path of the model's step functions.

``feasible_paths()`` runs each tracked function of model/algorithm.py with
``symbolic.explore`` from a symbolic state constrained by the proven state
invariants (specs/invariants.md) and the loop invariants of the loop it is a
step of, so a path that only an impossible state could take is not a goal.
``covered_paths(vectors)`` runs the same functions *interpreted*
(``predict(..., interpreted=True)``) over the vectors' scenarios and records,
for every call of a tracked function, the outcomes of its decisions.
``report()`` compares the two.

What a path is
--------------
A *decision* is one ``ops.cond`` (an ``if``/loop test of the C) or one
selection of ``ops.ite``/``umin``/``umax`` (a ``?:``/``min()``/``max()`` of the
C: the clamps of the rate rules), evaluated while the function runs. A
function's path is the tuple of the outcomes of every decision it evaluated, in
order, including those of the functions it calls (``check_status`` is covered
through its callers), except the calls in ``OPAQUE`` (``inflate``, ``deflate``,
``pop``, ``reset``: loops or sub-steps with their own goals), which the symbolic
run replaces by a stub with the same effect on what the caller reads next.
Both runs record *every* decision, including one the solver finds forced on a
path (symbolically a condition that simplifies to a constant is not a
``Path.decisions`` entry; it is recorded here all the same), so the outcome
tuple of a path identifies it both ways: it determines ``Path.decisions`` and
is determined by it. A Python-level decision that is no ``ops`` operation is a
*pseudo-decision* recorded at the function's entry (``deflate_end``: whether
deflate returned early).

Environment assumptions (specs/invariants.md, host "any", allocator "any"):
the host answers in 32-bit registers (status and result < 2^32); PFNs and
totalram are any 64-bit values.
"""
from __future__ import annotations

import linecache
import re
import sys
import time
import types
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable

import z3

from balloonspec.model import algorithm as A
from balloonspec.model import constants as C
from balloonspec.model import predict as P
from balloonspec.model.ops import ConcreteOps
from balloonspec.model.state import Balloon, DeflateLoop, InflateLoop, PopLoop
from balloonspec.model.symbolic import SymbolicEnv, explore

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


def _site() -> tuple[str, str, int]:
    """(file, function, line) of the code that called cond/ite/umin/umax."""
    f = sys._getframe(2)
    return (f.f_code.co_filename, f.f_code.co_name, f.f_lineno)


class _RecZ3:
    """Z3Ops (with the explore oracle) whose decisions, selections included, are logged."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self.log: list[tuple[tuple[str, str, int], bool]] = []

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def assume(self, c) -> None:
        """Add an invariant to the path condition (before any branch reads it):
        explore's oracle decides every later branch under it, and it is part
        of the returned Path.condition."""
        self._inner.oracle.assume(c)

    def decide(self, c, site) -> bool:
        r = self._inner.cond(c)
        self.log.append((site, bool(r)))
        return r

    def cond(self, c):
        return self.decide(c, _site())

    def ite(self, c, a, b):
        return a if self.decide(c, _site()) else b

    def umin(self, a, b):
        return a if self.decide(z3.ULT(a, b), _site()) else b

    def umax(self, a, b):
        return a if self.decide(z3.UGT(a, b), _site()) else b


class _Env32(SymbolicEnv):
    """SymbolicEnv whose host answers in 32-bit registers."""

    def backdoor(self, cmd, arg):
        status, result = super().backdoor(cmd, arg)
        self.ops.assume(z3.ULT(status, 1 << 32))
        self.ops.assume(z3.ULT(result, 1 << 32))
        return status, result


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
def _u32(v):
    return z3.BitVecVal(v, 32)


def _between(x, lo, hi):
    return z3.And(z3.UGE(x, _u32(lo)), z3.ULE(x, _u32(hi)))


def _balloon(ops) -> Balloon:
    """A symbolic struct vmballoon between two steps of a loaded driver.

    RATE-ALLOC-BOUNDS, RATE-FREE-BOUNDS, SLOW-CYCLES-BOUND, REFUSED-BOUND
    (n_refused_pages < MAX_REFUSED, the length of the refused list), size =
    the length of b->pages (the lists are abstract; a harness that walks one
    gives it a symbolic head and size >= 1); PAGES-PFN-32 for listed pages."""
    b = Balloon.symbolic(ops)
    ops.assume(_between(b.rate_alloc, C.VMW_BALLOON_RATE_ALLOC_MIN, C.VMW_BALLOON_RATE_ALLOC_MAX))
    ops.assume(_between(b.rate_free, C.VMW_BALLOON_RATE_FREE_MIN, C.VMW_BALLOON_RATE_FREE_MAX))
    ops.assume(z3.ULE(b.slow_allocation_cycles, _u32(C.VMW_BALLOON_SLOW_CYCLES)))
    ops.assume(z3.ULT(b.n_refused_pages, _u32(C.VMW_BALLOON_MAX_REFUSED)))
    return b


def _with_head(ops, b: Balloon, which: str = "pages"):
    pfn = ops.var64(f"{which}.head")
    ops.assume(z3.ULT(pfn, 1 << 32))  # PAGES-PFN-32
    getattr(b, which).append(pfn)
    if which == "pages":
        ops.assume(z3.UGE(b.size, _u32(1)))
    else:
        ops.assume(z3.UGE(b.n_refused_pages, _u32(1)))
    return pfn


def _inflate_loop(ops, b: Balloon) -> InflateLoop:
    """inflate's locals at the start of an attempt: i < goal (the loop test),
    i <= rate (i++ only below rate), allocations = i mod (YIELD_THRESHOLD + 1)
    (one per for iteration, back to 0 past the threshold), rate = rate_alloc
    once sleeping, else what inflate_begin chose; sleeping only after a NOSLEEP
    failure at an earlier i set slow_allocation_cycles = SLOW_CYCLES. These are
    loop invariants read off the code (the catalogue's inflate loop lemma
    proves the ones it needs); ``report()["unexpected"]`` would show a call
    the vectors reach outside them."""
    lv = InflateLoop.symbolic(ops)
    ops.assume(z3.ULT(lv.i, lv.goal))
    ops.assume(z3.ULE(lv.i, lv.rate))
    # allocations counts the for iterations done, back to 0 past YIELD_THRESHOLD
    ops.assume(lv.allocations == z3.URem(lv.i, _u32(C.VMW_BALLOON_YIELD_THRESHOLD + 1)))
    nosleep_rate = z3.If(b.slow_allocation_cycles != 0, b.rate_alloc, _u32(C.VMW_BALLOON_NOSLEEP_ALLOC_MAX))
    ops.assume(lv.rate == z3.If(lv.can_sleep, b.rate_alloc, nosleep_rate))
    ops.assume(z3.Implies(lv.can_sleep, b.slow_allocation_cycles == _u32(C.VMW_BALLOON_SLOW_CYCLES)))
    ops.assume(z3.Implies(lv.can_sleep, z3.UGE(lv.i, _u32(1))))  # the failed NOSLEEP attempt used an i
    return lv


def _h_inflate_begin(ops, F):
    F.inflate_begin(ops, _balloon(ops))


def _h_inflate_attempt(ops, F):
    b = _balloon(ops)
    lv = _inflate_loop(ops, b)
    F.inflate_attempt(ops, b, lv, _Env32(ops))


def _h_inflate_end(ops, F):
    b = _balloon(ops)
    lv = InflateLoop.symbolic(ops)
    err = lv.error
    ops.assume(z3.Or(err == _u32(0), err == _u32(-C.ENOMEM), err == _u32(-C.EIO)))
    ops.assume(z3.ULE(lv.i, lv.rate))
    ops.assume(z3.Or(lv.rate == b.rate_alloc, lv.rate == _u32(C.VMW_BALLOON_NOSLEEP_ALLOC_MAX)))
    F.inflate_end(ops, b, lv)


def _h_release_refused_one(ops, F):
    b = _balloon(ops)
    _with_head(ops, b, "refused_pages")
    F.release_refused_one(ops, b, _Env32(ops))


def _h_deflate_begin(ops, F):
    b = _balloon(ops)
    ops.assume(z3.UGT(b.size, b.target))  # work deflates only when size > target
    F.deflate_begin(ops, b)


def _h_deflate_release(ops, F):
    """deflate's walk: i < goal <= min(size0 - target, rate_free), size = size0 - i."""
    b = _balloon(ops)
    _with_head(ops, b)
    dl = DeflateLoop(ops.var32("dl.goal"), ops.var32("dl.i"))
    ops.assume(z3.ULT(dl.i, dl.goal))
    ops.assume(z3.ULE(dl.goal, b.rate_free))
    ops.assume(z3.UGT(b.size, b.target))
    ops.assume(z3.ULE(dl.goal - dl.i, b.size - b.target))
    F.deflate_release(ops, b, dl, _Env32(ops))


def _h_deflate_end(ops, F):
    b = _balloon(ops)
    returned = ops.decide(z3.Bool("dl.returned"), PSEUDO_SITE)
    F.deflate_end(ops, b, DeflateLoop(ops.var32("dl.goal"), ops.var32("dl.i"), returned))


def _h_pop_one(ops, F):
    b = _balloon(ops)
    _with_head(ops, b)
    pl = PopLoop(ops.var32("pl.count"))
    ops.assume(z3.ULT(pl.count, b.rate_free))  # count is reset once it reaches rate_free
    F.pop_one(ops, b, pl, _Env32(ops))


def _h_send(name: str, pfn: bool = False):
    def h(ops, F):
        b = _balloon(ops)
        args = ()
        if pfn:
            p = ops.var64("pfn")
            ops.assume(z3.ULT(p, 1 << 32))  # only listed pages are unlocked (PAGES-PFN-32)
            args = (p,)
        getattr(F, name)(ops, b, _Env32(ops), *args)
    return h


def _h_init(ops, F):
    F.init(ops, Balloon(ops), _Env32(ops))  # the static is zeroed at the first load


def _h_exit(ops, F):
    F.exit(ops, _balloon(ops), _Env32(ops))


def _h_work(ops, F):
    """One cycle: REFUSED-EMPTY-AT-END (no refused page between cycles)."""
    b = _balloon(ops)
    ops.assume(b.n_refused_pages == _u32(0))
    F.work(ops, b, _Env32(ops))


def _stub_pop(ops, b, env):  # vmballoon_pop empties the balloon
    b.pages = []
    b.size = ops.k.ZERO


def _stub_reset(ops, b, env):  # pop, then START/GUEST_ID, whose decisions are reset's
    _stub_pop(ops, b, env)


def _stub_loop(ops, b, env):  # inflate/deflate: the cycle only requeues the work after them
    return None


STUBS = {"pop": _stub_pop, "reset": _stub_reset, "inflate": _stub_loop, "deflate": _stub_loop}

# tracked function -> harness; the order is the report's
HARNESSES: dict[str, Callable] = {
    "init": _h_init,
    "exit": _h_exit,
    "work": _h_work,
    "reset": _h_send("reset"),
    "send_start": _h_send("send_start"),
    "send_guest_id": _h_send("send_guest_id"),
    "send_get_target": _h_send("send_get_target"),
    "send_unlock_page": _h_send("send_unlock_page", pfn=True),
    "inflate_begin": _h_inflate_begin,
    "inflate_attempt": _h_inflate_attempt,
    "inflate_end": _h_inflate_end,
    "release_refused_one": _h_release_refused_one,
    "deflate_begin": _h_deflate_begin,
    "deflate_release": _h_deflate_release,
    "deflate_end": _h_deflate_end,
    "pop_one": _h_pop_one,
}
PSEUDO_SITE = ("<pseudo>", "deflate_end", 0)
# Python-level decisions of a tracked function, recorded at its entry: name -> f(args) -> outcomes
PSEUDO: dict[str, Callable[[tuple], tuple]] = {
    "deflate_end": lambda args: (bool(args[1].returned),),
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
    if site == PSEUDO_SITE:
        return "dl.returned"
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
    decisions: tuple  # symbolic.Path.decisions: (z3 condition, outcome) of the oracle's decisions
    free: tuple  # per decision: another feasible path takes the other outcome here (else forced)

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


def explore_function(name: str) -> list[PathGoal]:
    """Every feasible path of one tracked function (no cache)."""
    F = _clone(lambda n, c: c if n == name else STUBS.get(n, c))
    harness = HARNESSES[name]

    def run(ops):
        rec = _RecZ3(ops)
        harness(rec, F)
        return rec.log

    raw = [(tuple(o for _, o in p.result), tuple(s for s, _ in p.result), p) for p in explore(run)]
    prefixes = {o[:k + 1] for o, _, _ in raw for k in range(len(o))}
    out = []
    for outcomes, sites, p in raw:
        free = tuple(outcomes[:k] + (not outcomes[k],) in prefixes for k in range(len(outcomes)))
        out.append(PathGoal(name, outcomes, sites, p.condition, p.decisions, free))
    keys = [g.outcomes for g in out]
    assert len(keys) == len(set(keys)), f"{name}: two paths with the same outcomes"
    return out


def feasible_paths(functions=None) -> dict[str, list[PathGoal]]:
    """function name -> its feasible paths (cached per version of the algorithm)."""
    fp = _fingerprint()
    out = {}
    for name in functions or HARNESSES:
        key = (name, fp)
        if key not in _CACHE:
            _CACHE[key] = explore_function(name)
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
        pseudo = PSEUDO.get(name)
        is_tracked = name in tracked
        stack = frames.stack

        def w(ops, *args, **kw):
            depth = len(stack)
            if opaque:
                stack.append(None)
            fr = None
            if is_tracked:
                fr = list(pseudo(args)) if pseudo else []
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
    """A model of the path condition plus ``hard`` (what a scenario builder can
    set up), minimising ``minimize`` in order; None if there is none. z3 is
    deterministic: the same path gives the same values."""
    o = z3.Optimize()
    o.add(goal.condition, *hard)
    for t in minimize:
        o.minimize(t)
    # Then every other variable, by name: the lexicographically least model is
    # unique, so the values cannot depend on what Z3 solved before in this process.
    for v in sorted(_variables(z3.And(goal.condition, *hard)), key=str):
        o.minimize(z3.If(v, 1, 0) if z3.is_bool(v) else v)
    if o.check() != z3.sat:
        return None
    m = o.model()
    out = {}
    for d in m.decls():
        v = m[d]
        out[d.name()] = v.as_long() if z3.is_bv_value(v) else z3.is_true(v)
    return out


def _variables(term) -> set:
    """The uninterpreted constants (the path's inputs) of a Z3 term."""
    seen, out, todo = set(), set(), [term]
    while todo:
        t = todo.pop()
        if t.get_id() in seen:
            continue
        seen.add(t.get_id())
        if z3.is_const(t) and t.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            out.add(t)
        todo.extend(t.children())
    return out


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

    st, tr, res = _bv("backdoor1.status", 64), _bv("totalram1", 64), _bv("backdoor1.result", 64)
    m = solve(goal, [z3.ULE(st, 8)], [tr, res])
    if m is None:
        return None, {}
    rr, slow = m.get("b.reset_required", False), m.get("b.slow_allocation_cycles", 0) > 0
    fits = m.get("totalram1", 0) <= M32
    spec = ["init", "cycle"] + (["host_reset", "cycle"] if rr else [])
    if not fits:
        spec.append(("set_totalram", m["totalram1"]))
    spec += ["cycle", "debugfs"]
    steps = _steps(*spec)
    c1, cf = _index(steps, "cycle", 1), len(steps) - 2
    alloc = (AllocRule(NOSLEEP, nth=1, scope=c1),) if slow else ()
    values = {"reset_required": rr, "slow": slow, "totalram": m.get("totalram1")}
    host = ()
    if fits:
        status = m.get("backdoor1.status", 0)
        values["status"] = status
        if status != 0:
            host = (HostRule(GET_TARGET, status, scope=cf),)
        else:
            # the target's relation to the size the model had; the actual size is predicted
            size_m = 0 if rr else m.get("b.size", 0)
            t_m = m.get("backdoor1.result", 0) & M32
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

    s1, s2 = _bv("backdoor1.status", 64), _bv("backdoor2.status", 64)
    m = solve(goal, [z3.ULE(s1, 8), z3.ULE(s2, 8)], [s1, s2])
    if m is None:
        return None, {}
    steps = _steps("init", ("cycle", 1), "host_reset", ("cycle", 3), "debugfs")
    rules = []
    for cmd, var in ((START, "backdoor1.status"), (GUEST_ID, "backdoor2.status")):
        if m.get(var, 0):
            rules.append(HostRule(cmd, m[var], nth=2))
    values = {"start": m.get("backdoor1.status"), "guest_id": m.get("backdoor2.status")}
    return _scenario(gid, steps, target=200, host_rules=tuple(rules)), values


def _build_inflate_attempt(goal: PathGoal, gid: str):
    """From the model's attempt: rate_alloc (2048, or 1024 after one cycle of
    memory pressure), sleeping (the cycle's first NOSLEEP allocation fails),
    i (the attempt's index), n_refused (PINNED LOCKs just before), goal (the
    target, from an empty balloon), the allocation's outcome and the LOCK status."""
    from balloonspec.model.scenario import AllocRule, HostRule

    i, g, ra = _bv("lv.i"), _bv("lv.goal"), _bv("b.rate_alloc")
    cs, slow, nref = z3.Bool("lv.can_sleep"), _bv("b.slow_allocation_cycles"), _bv("b.n_refused_pages")
    st, pfn = _bv("backdoor1.status", 64), _bv("alloc1.pfn", 64)
    hard = [z3.If(cs, z3.Or(ra == 2048, ra == 1024), z3.And(ra == 2048, slow == 0)),
            z3.ULE(st, 8), z3.ULE(pfn, 1 << 32), z3.ULE(g, 20000)]
    m = solve(goal, hard, [i, g, nref, st])
    if m is None:
        return None, {}
    can_sleep, R = m.get("lv.can_sleep", False), m.get("b.rate_alloc", 2048)
    i_v, g_v, n = m.get("lv.i", 0), m.get("lv.goal", 0), m.get("b.n_refused_pages", 0)
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
    ok, p = m.get("alloc1.ok", True), m.get("alloc1.pfn", 0)
    values = {"rate_alloc": R, "can_sleep": can_sleep, "i": i_v, "goal": g_v, "n_refused": n, "alloc_ok": ok}
    if not ok:
        alloc.append(AllocRule(gfp, nth=k, scope=cf))
    elif p > M32:
        alloc.append(AllocRule(gfp, nth=k, scope=cf, fail=False, pfn=p))
        values["pfn"] = p
    elif m.get("backdoor1.status", 0):
        host.append(HostRule(LOCK, m["backdoor1.status"], nth=k, scope=cf))
        values["lock_status"] = m["backdoor1.status"]
    return _scenario(gid, steps, target=g_v, alloc_rules=tuple(alloc), host_rules=tuple(host)), values


def _build_deflate_release(goal: PathGoal, gid: str):
    """Inflate size0 pages, lower the target; k cycles whose first UNLOCK is
    refused (PINNED) halve rate_free to the model's value; in the last cycle
    UNLOCK number i+1 gets the model's status."""
    from balloonspec.model.scenario import HostRule

    rf, i, g, size, tgt = _bv("b.rate_free"), _bv("dl.i"), _bv("dl.goal"), _bv("b.size"), _bv("b.target")
    st = _bv("backdoor1.status", 64)
    size0 = size + i
    hard = [z3.Or(*[rf == (C.VMW_BALLOON_RATE_FREE_MAX >> k) for k in range(6)]),
            z3.ULE(st, 8), z3.ULE(size, 16000), z3.ULE(i, 16000), z3.UGE(size0, size),
            g == z3.If(z3.ULT(size0 - tgt, rf), size0 - tgt, rf)]
    m = solve(goal, hard, [i, size, st])
    if m is None:
        return None, {}
    R, i_v, size0_v, t_v = m["b.rate_free"], m.get("dl.i", 0), m["b.size"] + m.get("dl.i", 0), m.get("b.target", 0)
    k = (C.VMW_BALLOON_RATE_FREE_MAX // R).bit_length() - 1
    steps = _steps("init", ("cycle", 1), ("set_target", t_v), ("cycle", k + 1), "debugfs")
    cycles = [n for n, s in enumerate(steps) if s.kind == "cycle"][1:]
    rules = [HostRule(UNLOCK, 5, nth=1, scope=c) for c in cycles[:-1]]
    status = m.get("backdoor1.status", 0)
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
