"""Symbolic runs of the model's own functions, with ghost state, for the proofs.

Everything here executes model/algorithm.py over `Z3Ops`; nothing re-states
the algorithm. Loops are never unrolled: a loop is entered in an arbitrary
state satisfying its loop invariant (havoc + assume), and one call of the
model's step function for one iteration is run from there:

* `inflate_step_run`: one `inflate_attempt` from any state satisfying the
  inflate loop invariant `inflate_inv` (preservation when it returns False,
  the loop's exit claims after `inflate_end` + `release_refused_pages` when it
  returns True); `inflate_init_run` checks `inflate_begin` establishes it.
* `deflate_step_run` / `deflate_init_run`: the same for `deflate_release`.
* `pop_step_run`: one `pop_one`.
* `cycle_run`: one whole `work` (the model's function) from any state
  satisfying the cycle invariant, with `inflate`, `deflate` and `pop`
  replaced by *loop summaries*: the model's begin function, a havoc of the loop
  state constrained by the loop invariant, the model's step function for the
  last iteration (assumed to end the loop) and the model's end function. The
  summaries are sound because the step runs above prove the invariants
  inductive. `exit_run` and `init_run` do the same for module exit and init.

The symbolic environment answers each call with fresh variables (named after
the call), keeps ghost state about the host (a reset is pending; the host
holds every / none of the balloon's pages locked) and records *claims*:
conditions the protocol demands at that call (e.g. "no LOCK while a reset is
pending"), checked per path by the catalogue.

Host policies (hypotheses on the host's replies):
``any``: every reply is arbitrary (32-bit eax/ebx, as specs/trace.md says);
``consistent``: while a reset is pending, every command but START is answered
ERROR_RESET (what a real host that forgot the guest does);
``benign``: every command succeeds and GET_TARGET returns the fixed target T.
Allocator policies: ``any`` (NULL or any 64-bit PFN), ``low`` (PFNs < 2^32),
``benign`` (never fails, PFNs < 2^32).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import z3

from .cref import C
from ..symbolic import Path, SymbolicEnv, explore
from .framework import DEFAULT_SPEC, Spec

@lru_cache(maxsize=8192)
def B32(v: int):
    return z3.BitVecVal(v, 32)


@lru_cache(maxsize=8192)
def B64(v: int):
    return z3.BitVecVal(v, 64)


FITS32 = lambda x: z3.Extract(63, 32, x) == 0  # noqa: E731


# ----------------------------------------------------------------------------------
# Ghost-instrumented symbolic environment
# ----------------------------------------------------------------------------------
class GhostEnv(SymbolicEnv):
    """Environment of model/algorithm.py answering with fresh Z3 variables,
    plus the ghost state the proofs need (SymbolicEnv records the rest).

    Ghost state (Z3 Bools): ``pending`` (the host forgot the guest and waits
    for START), ``all_locked`` (the host holds every page of b.pages locked),
    ``none_locked`` (it holds none of them). ``np_base``: pages of b.pages not
    materialised in the Python list (the list holds the head pages the run
    touches), so the balloon holds ``np_base + len(b.pages)`` pages.
    """

    def __init__(self, ops, b, *, host: str = "any", alloc: str = "any", target=None, prefix: str = ""):
        super().__init__(ops, hypervisor=True)
        self.b, self.host, self.alloc = b, host, alloc
        self.T = target
        self.p = prefix
        self.n = 0
        self.claims: list[tuple[str, Any]] = []
        self.counts = {"lock": 0, "unlock": 0, "alloc": 0, "alloc_page": 0, "free": 0, "lost": 0, "backdoor": 0}
        self.np_base = B32(0)
        self.pending = z3.BoolVal(False)
        self.all_locked = z3.BoolVal(True)
        self.none_locked = z3.BoolVal(True)
        self.last_alloc = None
        self.unlocked: list[tuple[Any, Any]] = []  # (pfn, condition): pages known not locked by the host

    # -- helpers -------------------------------------------------------------------
    def assume(self, f) -> None:
        self.ops.oracle.assume(f)

    def claim(self, name: str, f) -> None:
        self.claims.append((name, f))

    def npages(self):
        return self.np_base + B32(len(self.b.pages))

    def _fresh(self, what: str, bits: int = 64):
        self.n += 1
        return z3.BitVec(f"{self.p}{what}{self.n}", bits)

    # -- hypervisor ------------------------------------------------------------------
    def x86_hyper_is_vmware(self):
        return True

    def backdoor(self, cmd: int, arg):
        status, result = self._fresh("status"), self._fresh("result")
        self.assume(z3.And(FITS32(status), FITS32(result)))  # 32-bit eax / ebx
        if self.host == "consistent":
            if cmd != C.CMD_START:
                self.assume(z3.Implies(self.pending, status == C.ERROR_RESET))
        elif self.host == "benign":
            self.assume(status == 0)
            if cmd == C.CMD_GET_TARGET:
                self.assume(result == z3.ZeroExt(32, self.T))
        self.counts["backdoor"] += 1
        ok = status == 0
        reset = status == C.ERROR_RESET
        if cmd in (C.CMD_LOCK, C.CMD_UNLOCK):
            self.claim("PROTO-RESET-RESTART", z3.Not(self.pending))
        if cmd == C.CMD_LOCK:
            self.counts["lock"] += 1
            # the page LOCKed is the page just allocated (a correct allocator
            # never hands out a page the host holds locked)
            self.claim("PROTO-NO-DOUBLE-LOCK", z3.BoolVal(self.last_alloc is not None and z3.eq(arg, self.last_alloc)))
            self.unlocked.append((arg, z3.Not(ok)))
            self.all_locked = z3.If(ok, z3.Or(self.all_locked, self.npages() == 0), self.all_locked)
            self.none_locked = z3.And(self.none_locked, z3.Not(ok))
        elif cmd == C.CMD_UNLOCK:
            self.counts["unlock"] += 1
            head = self.b.pages[-1] if self.b.pages else None
            self.claim("PROTO-UNLOCK-LOCKED",
                       z3.And(z3.BoolVal(head is not None and z3.eq(arg, head)), self.all_locked))
            self.unlocked.append((arg, ok))
        self.calls.append(("backdoor", cmd, arg, status, result, self.npages(), self.pending))
        # host forgets every lock on START success and on a reset
        forget = z3.Or(reset, z3.And(ok, z3.BoolVal(cmd == C.CMD_START)))
        empty = self.npages() == 0
        self.all_locked = z3.If(forget, empty, self.all_locked)
        self.none_locked = z3.If(forget, z3.BoolVal(True), self.none_locked)
        self.pending = z3.If(reset, z3.BoolVal(True),
                             z3.If(z3.And(ok, z3.BoolVal(cmd == C.CMD_START)), z3.BoolVal(False), self.pending))
        return status, result

    # -- allocator ---------------------------------------------------------------------
    def alloc_page(self, gfp: int):
        self.n += 1
        ok = z3.Bool(f"{self.p}ok{self.n}")
        pfn = z3.BitVec(f"{self.p}pfn{self.n}", 64)
        if self.alloc in ("low", "benign"):
            self.assume(FITS32(pfn))
        if self.alloc == "benign":
            self.assume(ok)
        self.counts["alloc"] += 1
        self.last_alloc = pfn
        self.calls.append(("alloc", gfp, ok, pfn))
        return ok, pfn

    def free_page(self, pfn) -> None:
        self.counts["free"] += 1
        known = [c for p, c in self.unlocked if z3.eq(p, pfn)]
        self.claim("MEM-NO-FREE-LOCKED", z3.Or(self.none_locked, *known))
        self.calls.append(("free", pfn, self.pending))

    # -- the rest of the kernel: recorded as SymbolicEnv does, but totalram can be assumed to fit
    def si_meminfo(self):
        tr = self._fresh("totalram")
        if self.host == "benign":
            self.assume(FITS32(tr))
        self.calls.append(("si_meminfo", tr))
        return tr


# ----------------------------------------------------------------------------------
# Invariants (formulas over model state)
# ----------------------------------------------------------------------------------
def between(x, lo: int, hi: int):
    return z3.And(z3.ULE(B32(lo), x), z3.ULE(x, B32(hi)))


def rate_bounds(b):
    """The rate and slow-cycle bounds, with the C's numbers (cref.C)."""
    return z3.And(between(b.rate_alloc, C.RATE_ALLOC_MIN, C.RATE_ALLOC_MAX),
                  between(b.rate_free, C.RATE_FREE_MIN, C.RATE_FREE_MAX),
                  z3.ULE(b.slow_allocation_cycles, B32(C.SLOW_CYCLES)))


def proto_inv(rr, pending, AL, NL, np, host: str):
    """The protocol part of the cycle invariant. For a consistent host: a
    required reset implies the host is waiting for START; while it waits it
    holds no page of the balloon; otherwise it holds all of them. (An empty
    balloon is both all- and none-locked.)"""
    AL, NL = z3.Or(AL, np == 0), z3.Or(NL, np == 0)
    if host in ("consistent", "benign"):
        return z3.And(z3.Implies(rr, pending), z3.Implies(pending, NL), z3.Implies(z3.Not(pending), AL))
    return z3.Implies(z3.Not(pending), AL)


@dataclass
class CycleState:
    """A symbolic cycle-start state (struct vmballoon + ghosts)."""

    b: Any
    np: Any
    pending: Any
    AL: Any
    NL: Any

    def inv(self, host: str):
        b = self.b
        return z3.And(rate_bounds(b), b.n_refused_pages == 0, b.size == self.np,
                      proto_inv(b.reset_required, self.pending, self.AL, self.NL, self.np, host))


def fresh_cycle_state(ops, prefix: str = "b.") -> CycleState:
    from balloonspec.model.state import Balloon

    b = Balloon.symbolic(ops, prefix)
    b.pages, b.refused_pages, b.lost_pages = [], [], []
    return CycleState(b, z3.BitVec(prefix + "npages", 32), z3.Bool(prefix + "pending"),
                      z3.Bool(prefix + "all_locked"), z3.Bool(prefix + "none_locked"))


def env_from(ops, st: CycleState, **kw) -> GhostEnv:
    env = GhostEnv(ops, st.b, **kw)
    env.np_base, env.pending, env.all_locked, env.none_locked = st.np, st.pending, st.AL, st.NL
    return env


def post_inv(b, env: GhostEnv, host: str):
    np = env.npages()
    return z3.And(rate_bounds(b), b.n_refused_pages == 0, len(b.refused_pages) == 0, b.size == np,
                  proto_inv(b.reset_required, env.pending, env.all_locked, env.none_locked, np, host))


# -- inflate loop invariant ------------------------------------------------------------
@dataclass
class InflateEntry:
    """Values at vmballoon_inflate's entry."""

    size0: Any
    target: Any
    ra0: Any
    slow0: Any
    rr0: Any


@dataclass
class InflateGhost:
    locks: Any  # LOCK calls so far in this inflate (64-bit)
    allocs: Any  # alloc_page calls so far
    lost: Any  # pages lost (PFN >= 2^32)
    nref_max: Any = None


def benign_inflate_inv(b, lv, g: InflateGhost):
    """Extra inflate loop invariant under a benign host and allocator: no
    allocation failed, nothing refused, nothing lost."""
    return z3.And(z3.Not(lv.can_sleep), b.n_refused_pages == 0, g.lost == 0)


def inflate_inv(e: InflateEntry, b, lv, g: InflateGhost, pending0, pending, AL0, AL, NL0, NL):
    """The inflate loop invariant, at every boundary between two allocation
    attempts (i.e. at the head of reserve_page's do/while) while the for loop
    has not ended. cs = alloc_can_sleep."""
    cs = lv.can_sleep
    csn = z3.If(cs, B32(1), B32(0))
    oks = lv.i - csn  # pages added to the balloon so far
    return z3.And(
        lv.goal == e.target - e.size0,
        z3.ULT(e.size0, e.target),
        z3.ULT(lv.i, lv.goal),
        lv.rate == z3.If(z3.Or(cs, e.slow0 != 0), e.ra0, B32(C.NOSLEEP_ALLOC_MAX)),
        z3.ULE(lv.i, lv.rate),
        z3.Implies(cs, z3.UGE(lv.i, B32(1))),
        b.rate_alloc == e.ra0,
        b.slow_allocation_cycles == z3.If(cs, B32(C.SLOW_CYCLES), e.slow0),
        b.size == e.size0 + oks,
        z3.ULE(b.n_refused_pages, B32(C.MAX_REFUSED - 1)),
        z3.Or(lv.error == 0, z3.And(cs, lv.error == B32(-12 & 0xFFFFFFFF))),
        z3.ULE(lv.allocations, B32(C.YIELD_THRESHOLD)),
        b.reset_required == e.rr0,
        g.locks == z3.ZeroExt(32, oks) + z3.ZeroExt(32, b.n_refused_pages),
        g.allocs == g.locks + g.lost + z3.ZeroExt(32, csn),
        z3.ULE(g.lost, B64(1 << 40)),  # a ghost range (any realistic count)
        pending == pending0, z3.Implies(AL0, AL), NL == z3.And(NL0, oks == 0),
    )


# ----------------------------------------------------------------------------------
# Runs (each returns what the claims need; paths cached per spec and policy)
# ----------------------------------------------------------------------------------
@dataclass
class Run:
    kind: str
    data: dict = field(default_factory=dict)


def _inflate_havoc(ops, b, lv, env: GhostEnv, e: InflateEntry, tag: str):
    """Replace the loop state by an arbitrary state satisfying inflate_inv."""
    lv.i, lv.rate, lv.allocations, lv.error = (z3.BitVec(f"{tag}.{n}", 32) for n in ("i", "rate", "allocations", "error"))
    lv.can_sleep = z3.Bool(f"{tag}.can_sleep")
    b.size = z3.BitVec(f"{tag}.size", 32)
    b.n_refused_pages = z3.BitVec(f"{tag}.n_refused", 32)
    b.slow_allocation_cycles = z3.BitVec(f"{tag}.slow", 32)
    g = InflateGhost(z3.BitVec(f"{tag}.g_locks", 64), z3.BitVec(f"{tag}.g_allocs", 64), z3.BitVec(f"{tag}.g_lost", 64))
    np0 = env.npages()
    env.all_locked = z3.Or(env.all_locked, np0 == 0)  # an empty balloon is all-locked
    pending0, AL0, NL0 = env.pending, env.all_locked, env.none_locked
    env.none_locked = z3.Bool(f"{tag}.NL")
    env.assume(inflate_inv(e, b, lv, g, pending0, env.pending, AL0, env.all_locked, NL0, env.none_locked))
    if env.host == "benign" and env.alloc == "benign":
        env.assume(benign_inflate_inv(b, lv, g))
    # the balloon's page count moves with size (pages are appended on success)
    env.np_base = np0 + (b.size - e.size0) - B32(len(b.pages))
    return g


def inflate_summary(spec: Spec, record: dict):
    """`inflate` replaced by: inflate_begin; havoc to the loop invariant; the
    last inflate_attempt (assumed to end the loop); inflate_end;
    release_refused_pages. All model functions."""

    def inflate(ops, b, env):
        A = spec.module("algorithm")
        e = InflateEntry(b.size, b.target, b.rate_alloc, b.slow_allocation_cycles, b.reset_required)
        lv = A.inflate_begin(ops, b)
        g = None
        c0 = dict(env.counts)
        if ops.cond(A.inflate_continues(ops, lv)):
            # every LOCK of the loop happens with the host's reset/lock state of
            # the entry (the loop invariant keeps it): demand it here once
            env.claim("PROTO-RESET-RESTART", z3.Not(env.pending))
            g = _inflate_havoc(ops, b, lv, env, e, "inf")
            done = A.inflate_attempt(ops, b, lv, env)
            if not done:
                env.assume(z3.BoolVal(False))
        A.inflate_end(ops, b, lv)
        nref_before_release = b.n_refused_pages
        A.release_refused_pages(ops, b, env)
        record["inflate"] = dict(entry=e, lv=lv, ghost=g, counts0=c0, counts1=dict(env.counts),
                                 nref_end=nref_before_release)
        return lv

    return inflate


def deflate_summary(spec: Spec, record: dict):
    """`deflate` replaced by: deflate_begin; havoc to the deflate loop
    invariant; either the list is empty, or the last deflate_release (assumed
    to end the walk); deflate_end."""

    def deflate(ops, b, env):
        A = spec.module("algorithm")
        size0, rf0 = b.size, b.rate_free
        np0 = env.npages()
        # every iteration UNLOCKs the head page with the entry's host state
        # (UNLOCK success keeps it, a RESET ends the walk): demand it once
        env.claim("PROTO-RESET-RESTART", z3.Not(env.pending))
        env.claim("PROTO-UNLOCK-LOCKED", env.all_locked)
        dl = A.deflate_begin(ops, b)
        di = z3.BitVec("dfl.i", 32)
        env.assume(z3.And(z3.ULT(di, dl.goal), z3.ULE(di, size0 - b.target)))
        b.size = size0 - di
        dl.i = di
        np = np0 - di
        c0 = dict(env.counts)
        if ops.cond(np == 0):
            b.pages = []
            env.np_base = B32(0)
        else:
            b.pages = [z3.BitVec("dfl.head", 64)]
            env.assume(FITS32(b.pages[0]))  # PAGES-PFN-32
            env.np_base = np - 1
            if not A.deflate_release(ops, b, dl, env):
                env.assume(z3.BoolVal(False))
        A.deflate_end(ops, b, dl)
        record["deflate"] = dict(size0=size0, rf0=rf0, dl=dl, di=di, counts0=c0, counts1=dict(env.counts))
        return dl

    return deflate


def pop_summary(spec: Spec, record: dict):
    """`pop` replaced by its loop invariant at exit (the list is empty, size
    dropped by the number of pages, each freed page counted); every free of
    the loop requires the host to hold none of the pages (pop_one makes no
    backdoor call, so that ghost does not change during the loop)."""

    def pop(ops, b, env):
        np0 = env.npages()
        env.claim("MEM-NO-FREE-LOCKED", z3.Or(np0 == 0, env.none_locked))
        b.size = b.size - np0
        b.stats.free = b.stats.free + np0
        b.pages = []
        env.np_base = B32(0)
        env.all_locked = z3.BoolVal(True)
        env.none_locked = z3.BoolVal(True)
        record.setdefault("pops", []).append(np0)

    return pop


@contextlib.contextmanager
def summaries(spec: Spec, record: dict):
    A = spec.module("algorithm")
    saved = {n: getattr(A, n) for n in ("inflate", "deflate", "pop")}
    A.inflate, A.deflate, A.pop = inflate_summary(spec, record), deflate_summary(spec, record), pop_summary(spec, record)
    try:
        yield
    finally:
        for n, f in saved.items():
            setattr(A, n, f)


_CACHE: dict = {}


def _pre_inv_consistent(r) -> list:
    """The consistent host's (stronger) cycle invariant on the run's initial state."""
    st = r["st"]
    return [CycleState(r["pre"], st.np, st.pending, st.AL, st.NL).inv("consistent")]


def consistent_hyps(env: GhostEnv) -> list:
    """The consistent-host policy as hypotheses over a path explored with an
    arbitrary host: every call but START made while the host waits for START
    was answered ERROR_RESET (the same condition GhostEnv assumes at the call
    when it runs with host="consistent")."""
    return [z3.Implies(c[6], c[3] == C.ERROR_RESET) for c in env.calls
            if c[0] == "backdoor" and c[1] != C.CMD_START]


def _consistent(paths, extra=None):
    """Paths of the consistent host, derived from the arbitrary host's paths
    (same runs; a path the policy makes infeasible becomes vacuous)."""
    return [Path(p.literals + consistent_hyps(p.result["env"]) + (extra(p.result) if extra else []), p.result, p.decisions)
            for p in paths]


def cached(key, fn):
    if key not in _CACHE:
        _CACHE[key] = fn()
    return _CACHE[key]


def clear_cache() -> None:
    _CACHE.clear()


def cycle_paths(spec: Spec = DEFAULT_SPEC, host: str = "any", alloc: str = "any", fixed_target: bool = False):
    """All paths of one `work` from any state satisfying the cycle invariant."""
    if host == "consistent" and not fixed_target:
        return cached(("cycle-consistent", spec.key, alloc), lambda: _consistent(
            cycle_paths(spec, "any", alloc), extra=_pre_inv_consistent))

    def compute():
        def run(ops):
            record: dict = {}
            st = fresh_cycle_state(ops)
            T = z3.BitVec("T", 32) if fixed_target else None
            env = env_from(ops, st, host=host, alloc=alloc, target=T)
            env.assume(st.inv(host))
            if fixed_target:
                env.assume(z3.Not(st.b.reset_required))
                env.assume(z3.Not(st.pending))
            pre = st.b.copy()
            with summaries(spec, record):
                spec.module("algorithm").work(ops, st.b, env)
            return dict(st=st, pre=pre, b=st.b, env=env, record=record, T=T)

        with spec.active():
            return explore(run)

    return cached(("cycle", spec.key, host, alloc, fixed_target), compute)


def inflate_step_paths(spec: Spec = DEFAULT_SPEC, alloc: str = "any", host: str = "any"):
    """All paths of one inflate_attempt from any state satisfying inflate_inv."""
    if host == "consistent":
        return cached(("inflate-consistent", spec.key, alloc),
                      lambda: _consistent(inflate_step_paths(spec, alloc, "any")))

    def compute():
        def run(ops):
            from balloonspec.model.state import Balloon, InflateLoop

            A = spec.module("algorithm")
            b = Balloon.symbolic(ops, "b.")
            b.pages, b.refused_pages, b.lost_pages = [], [], []
            env = GhostEnv(ops, b, host=host, alloc=alloc)
            env.np_base = z3.BitVec("np0", 32)
            env.pending, env.all_locked, env.none_locked = z3.Bool("pending0"), z3.Bool("AL0"), z3.Bool("NL0")
            e = InflateEntry(z3.BitVec("e.size0", 32), b.target, z3.BitVec("e.ra0", 32), z3.BitVec("e.slow0", 32),
                             z3.Bool("e.rr0"))
            env.assume(z3.And(between(e.ra0, C.RATE_ALLOC_MIN, C.RATE_ALLOC_MAX),
                              z3.ULE(e.slow0, B32(C.SLOW_CYCLES))))
            lv = InflateLoop.symbolic(ops, "lv.")
            lv.goal = b.target - e.size0
            g = _inflate_havoc(ops, b, lv, env, e, "h")
            pre = dict(pending=env.pending, AL=env.all_locked, NL=env.none_locked, size=b.size,
                       nref=b.n_refused_pages, i=lv.i, rate=lv.rate, cs=lv.can_sleep, np=env.npages())
            done = A.inflate_attempt(ops, b, lv, env)
            out = dict(b=b, lv=lv, env=env, e=e, g=g, pre=pre, done=done, n_pages=len(b.pages),
                       n_refused_list=len(b.refused_pages), n_lost=len(b.lost_pages), nref_step=b.n_refused_pages)
            if done:
                A.inflate_end(ops, b, lv)
                out["nref_end"] = b.n_refused_pages
                A.release_refused_pages(ops, b, env)
            return out

        with spec.active():
            return explore(run)

    return cached(("inflate", spec.key, alloc, host), compute)


def inflate_init_paths(spec: Spec = DEFAULT_SPEC):
    """inflate_begin from any inflate entry state (size < target, rates in bounds)."""

    def compute():
        def run(ops):
            from balloonspec.model.state import Balloon

            A = spec.module("algorithm")
            b = Balloon.symbolic(ops, "b.")
            b.pages, b.refused_pages = [], []
            e = InflateEntry(b.size, b.target, b.rate_alloc, b.slow_allocation_cycles, b.reset_required)
            ops.oracle.assume(z3.And(z3.ULT(b.size, b.target), b.n_refused_pages == 0,
                                     between(b.rate_alloc, C.RATE_ALLOC_MIN, C.RATE_ALLOC_MAX),
                                     z3.ULE(b.slow_allocation_cycles, B32(C.SLOW_CYCLES))))
            lv = A.inflate_begin(ops, b)
            return dict(b=b, lv=lv, e=e, cont=A.inflate_continues(ops, lv))

        with spec.active():
            return explore(run)

    return cached(("inflate-init", spec.key), compute)


def deflate_step_paths(spec: Spec = DEFAULT_SPEC, host: str = "any"):
    """One deflate_release from any state satisfying the deflate loop invariant:
    goal = min(size0 - target, rate_free0) (from deflate_begin, run here),
    i < goal, size = size0 - i, the balloon still holds size pages (>= 1)."""
    if host == "consistent":
        return cached(("deflate-consistent", spec.key), lambda: _consistent(deflate_step_paths(spec, "any")))

    def compute():
        def run(ops):
            from balloonspec.model.state import Balloon

            A = spec.module("algorithm")
            b = Balloon.symbolic(ops, "b.")
            b.refused_pages = []
            env = GhostEnv(ops, b, host=host)
            env.pending, env.all_locked, env.none_locked = z3.Bool("pending0"), z3.Bool("AL0"), z3.Bool("NL0")
            size0, rf0 = b.size, b.rate_free
            ops.oracle.assume(z3.And(z3.UGT(size0, b.target), between(rf0, C.RATE_FREE_MIN, C.RATE_FREE_MAX)))
            dl = A.deflate_begin(ops, b)
            di = z3.BitVec("d.i", 32)
            ops.oracle.assume(z3.And(z3.ULT(di, dl.goal), z3.ULE(di, size0 - b.target)))
            dl.i = di
            b.size = size0 - di
            b.pages = [z3.BitVec("d.head", 64)]
            ops.oracle.assume(FITS32(b.pages[0]))  # PAGES-PFN-32
            env.np_base = b.size - 1
            pre = dict(size=b.size, rf=b.rate_free, AL=env.all_locked, pending=env.pending)
            done = A.deflate_release(ops, b, dl, env)
            out = dict(b=b, dl=dl, env=env, size0=size0, rf0=rf0, di=di, done=done, pre=pre, n_pages=len(b.pages))
            if done:
                A.deflate_end(ops, b, dl)
            return out

        with spec.active():
            return explore(run)

    return cached(("deflate", spec.key, host), compute)


def pop_step_paths(spec: Spec = DEFAULT_SPEC):
    """One pop_one from any state with size == pages >= 1."""

    def compute():
        def run(ops):
            from balloonspec.model.state import Balloon, PopLoop

            A = spec.module("algorithm")
            b = Balloon.symbolic(ops, "b.")
            b.refused_pages = []
            env = GhostEnv(ops, b)
            env.none_locked = z3.Bool("NL0")
            n = z3.BitVec("pop.n", 32)
            ops.oracle.assume(z3.And(z3.UGE(n, B32(1)), b.size == n))
            b.pages = [z3.BitVec("pop.head", 64)]
            env.np_base = n - 1
            pl = PopLoop(z3.BitVec("pop.count", 32))
            free0 = b.stats.free
            A.pop_one(ops, b, pl, env)
            return dict(b=b, env=env, n=n, free0=free0)

        with spec.active():
            return explore(run)

    return cached(("pop", spec.key), compute)


def exit_paths(spec: Spec = DEFAULT_SPEC, host: str = "any"):
    """Module exit from any state satisfying the cycle invariant."""
    if host == "consistent":
        return cached(("exit-consistent", spec.key), lambda: _consistent(
            exit_paths(spec, "any"), extra=_pre_inv_consistent))

    def compute():
        def run(ops):
            record: dict = {}
            st = fresh_cycle_state(ops)
            env = env_from(ops, st, host=host)
            env.assume(st.inv(host))
            pre = st.b.copy()
            with summaries(spec, record):
                spec.module("algorithm").exit(ops, st.b, env)
            return dict(st=st, pre=pre, b=st.b, env=env, record=record)

        with spec.active():
            return explore(run)

    return cached(("exit", spec.key, host), compute)


def init_paths(spec: Spec = DEFAULT_SPEC, host: str = "any"):
    """Module init from the zeroed static struct (a fresh state.Balloon)."""

    def compute():
        def run(ops):
            from balloonspec.model.state import Balloon

            b = Balloon(ops)
            env = GhostEnv(ops, b, host=host)
            rc = spec.module("algorithm").init(ops, b, env)
            return dict(b=b, env=env, rc=rc)

        with spec.active():
            return explore(run)

    return cached(("init", spec.key, host), compute)


def release_refused_runs(spec: Spec = DEFAULT_SPEC, max_len: int = C.MAX_REFUSED):
    """release_refused_pages on refused lists of every length 0..MAX_REFUSED
    (the bound REFUSED-BOUND proves), with symbolic PFNs."""

    def compute():
        out = []
        with spec.active():
            for L in range(max_len + 1):
                def run(ops, L=L):
                    from balloonspec.model.state import Balloon

                    b = Balloon.symbolic(ops, "b.")
                    b.pages = []
                    b.refused_pages = [z3.BitVec(f"r{j}", 64) for j in range(L)]
                    ops.oracle.assume(b.n_refused_pages == L)
                    env = GhostEnv(ops, b)
                    for p in b.refused_pages:
                        env.unlocked.append((p, z3.BoolVal(True)))
                    pfns = list(b.refused_pages)
                    spec.module("algorithm").release_refused_pages(ops, b, env)
                    return dict(b=b, env=env, L=L, pfns=pfns)

                out.extend(explore(run))
        return out

    return cached(("release", spec.key, max_len), compute)
