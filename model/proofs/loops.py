"""The loop invariants of the spec's loops, attached to the loops by name.

model/algorithm.py writes each data-dependent loop once, as
``ops.loop(name, test, step, *args)``; the symbolic engine's ``Summarise``
policy (model/symbolic/loops.py) looks the loop's invariant up here by that
name, claims it on entry, havocs what the loop writes (inferred from one
iteration), assumes it, and either runs one iteration ending with the claim
that it is preserved, or exits. ``ctx.now[p]`` / ``ctx.entry[p]`` are the
loop's arguments (by the step function's parameter names: ``b``, ``lv``,
``dl``, ``pl``, ``env``; the environment as its ghost) now and at the loop's
entry; ``ctx.policy`` the environment's policy flags. Numbers are the C's
(cref.C).

What each invariant says (and what it is needed for) is in its docstring and
in specs/invariants.md (INFLATE-LOOP-INV, DEFLATE-LOOP-INV,
REFUSED-EMPTY-AT-END).
"""
from __future__ import annotations

import z3

from ..symbolic import LoopInvariant, Summarise
from .cref import C
from .cycle import B32, EMPTY, all_locked, between, flag


def _ext(x):
    return z3.ZeroExt(32, x)


def inflate(c) -> z3.BoolRef:
    """At the head of each allocation attempt of vmballoon_inflate (the for
    loop not yet over): entered below the target with goal = target - size0
    and rate_alloc, slow cycles in their bounds,
    size == pages listed, i < goal, i <= rate, rate is what inflate_begin chose
    (rate_alloc once sleeping), pages added = i - alloc_can_sleep (the failed
    NOSLEEP attempt used up one i) on the list and in size, rate_alloc and
    reset_required unchanged, slow cycles set only by that failure, at most
    MAX_REFUSED - 1 refused pages (as many on the refused list), error 0 or
    -ENOMEM after the switch, allocations <= min(i, YIELD_THRESHOLD),
    LOCKs = pages added + refused, stats.lock counts
    them, allocations = LOCKs + lost + the failed one (mod 2^32; exactly with
    32-bit PFNs), the host's reset state unchanged, every balloon page
    locked unless a reset is pending, no refused page locked; with a benign
    host and allocator nothing failed, was refused or lost."""
    b, lv, g = c.now["b"], c.now["lv"], c.now["env"]
    b0, lv0, g0 = c.entry["b"], c.entry["lv"], c.entry["env"]
    cs = lv.can_sleep
    csn = z3.If(cs, B32(1), B32(0))
    oks = lv.i - csn
    locks = g.n_lock - g0.n_lock
    allocs = g.n_alloc - g0.n_alloc
    lost = b.lost_pages.n - b0.lost_pages.n
    low, benign = flag(c.policy, "alloc_low"), z3.And(flag(c.policy, "host_benign"), flag(c.policy, "alloc_benign"))
    return z3.And(
        # what inflate's entry gives (work inflates only below the target; the
        # cycle invariant bounds the rates)
        z3.ULT(b0.size, b0.target),
        between(b0.rate_alloc, C.RATE_ALLOC_MIN, C.RATE_ALLOC_MAX),
        z3.ULE(b0.slow_allocation_cycles, B32(C.SLOW_CYCLES)),
        lv0.goal == b0.target - b0.size,
        lv.goal == lv0.goal,
        b.target == b0.target,
        # the loop's own state
        z3.ULT(lv.i, lv.goal),
        lv.rate == z3.If(z3.Or(cs, b0.slow_allocation_cycles != 0), b0.rate_alloc, B32(C.NOSLEEP_ALLOC_MAX)),
        z3.ULE(lv.i, lv.rate),
        z3.Implies(cs, z3.UGE(lv.i, B32(1))),
        b.rate_alloc == b0.rate_alloc,
        b.reset_required == b0.reset_required,
        b.slow_allocation_cycles == z3.If(cs, B32(C.SLOW_CYCLES), b0.slow_allocation_cycles),
        b.size == b0.size + oks,
        b.pages.n == b0.pages.n + oks,
        b.size == b.pages.n,
        z3.ULE(b.n_refused_pages, B32(C.MAX_REFUSED - 1)),
        b.refused_pages.n == b.n_refused_pages,
        z3.Or(lv.error == 0, z3.And(cs, lv.error == B32(-12 & 0xFFFFFFFF))),
        # one allocation count per for iteration, back to 0 past YIELD_THRESHOLD
        # (so allocations = i mod (YIELD_THRESHOLD + 1); this linear form is enough)
        z3.ULE(lv.allocations, B32(C.YIELD_THRESHOLD)),
        z3.ULE(lv.allocations, lv.i),
        locks == _ext(oks) + _ext(b.n_refused_pages),
        b.stats.lock - b0.stats.lock == z3.Extract(31, 0, locks),
        z3.Extract(31, 0, allocs) == z3.Extract(31, 0, locks) + lost + csn,
        z3.Implies(z3.Or(low, benign), z3.And(lost == 0, allocs == locks + _ext(csn))),
        g.pending == g0.pending,
        z3.Implies(flag(c.policy, "consistent"), z3.Not(g.pending)),
        z3.Implies(z3.Not(g.pending), all_locked(b, g)),
        z3.SetIntersect(b.refused_pages.members, g.locked) == EMPTY,
        z3.Implies(benign, z3.And(z3.Not(cs), b.n_refused_pages == 0)),
    )


def release_refused(c) -> z3.BoolRef:
    """At each step of vmballoon_release_refused_pages' walk: the refused
    list is a shorter prefix of the one at entry (its head was taken each
    time), refused_free and the frees count the pages taken, and no page
    left on it is held locked."""
    b, g = c.now["b"], c.now["env"]
    b0, g0 = c.entry["b"], c.entry["env"]
    taken = b0.refused_pages.n - b.refused_pages.n
    return z3.And(
        z3.ULE(b.refused_pages.n, b0.refused_pages.n),
        b.stats.refused_free - b0.stats.refused_free == taken,
        g.n_free - g0.n_free == _ext(taken),
        z3.SetIntersect(b.refused_pages.members, g.locked) == EMPTY,
    )


def deflate(c) -> z3.BoolRef:
    """At each step of vmballoon_deflate's walk: entered above the target with
    rate_free in its bounds and goal = min(size0 - target, rate_free), size == pages listed, i < goal,
    i <= size0 - target, size and the list shrank by i, i UNLOCKs and i frees so far,
    rate_free and reset_required unchanged, not returned, the host's reset
    state unchanged (none pending with a consistent host), every balloon page
    locked unless a reset is pending."""
    b, dl, g = c.now["b"], c.now["dl"], c.now["env"]
    b0, dl0, g0 = c.entry["b"], c.entry["dl"], c.entry["env"]
    return z3.And(
        # what deflate's entry gives (work deflates only above the target; the
        # cycle invariant bounds the rates)
        z3.UGT(b0.size, b0.target),
        between(b0.rate_free, C.RATE_FREE_MIN, C.RATE_FREE_MAX),
        dl0.goal == z3.If(z3.ULT(b0.size - b0.target, b0.rate_free), b0.size - b0.target, b0.rate_free),
        dl.goal == dl0.goal,
        b.target == b0.target,
        b.size == b.pages.n,
        # the walk's own state
        z3.ULT(dl.i, dl.goal),
        z3.ULE(dl.i, b0.size - b0.target),
        b.size == b0.size - dl.i,
        b.pages.n == b0.pages.n - dl.i,
        b.rate_free == b0.rate_free,
        b.reset_required == b0.reset_required,
        z3.Not(dl.returned),
        g.n_unlock - g0.n_unlock == _ext(dl.i),
        g.n_free - g0.n_free == _ext(dl.i),
        g.pending == g0.pending,
        z3.Implies(flag(c.policy, "consistent"), z3.Not(g.pending)),
        z3.Implies(z3.Not(g.pending), all_locked(b, g)),
    )


def pop(c) -> z3.BoolRef:
    """At each step of vmballoon_pop: the list shrank, size - pages is
    unchanged, stats.free and the frees count the pages taken."""
    b, g = c.now["b"], c.now["env"]
    b0, g0 = c.entry["b"], c.entry["env"]
    taken = b0.pages.n - b.pages.n
    return z3.And(
        z3.ULE(b.pages.n, b0.pages.n),
        b.size - b.pages.n == b0.size - b0.pages.n,
        b.stats.free - b0.stats.free == taken,
        g.n_free - g0.n_free == _ext(taken),
    )


LOOP_INVARIANTS: dict[str, LoopInvariant] = {
    "inflate": LoopInvariant(inflate, inflate.__doc__),
    "release_refused": LoopInvariant(release_refused, release_refused.__doc__),
    "deflate": LoopInvariant(deflate, deflate.__doc__),
    # pop frees pages without telling the host: whether the host still holds
    # them depends on the context (reset: it forgot them; exit: see
    # MEM-NO-FREE-LOCKED-EXIT), so its iterations run in each context
    "pop": LoopInvariant(pop, pop.__doc__, modular=False),
}


def policy() -> Summarise:
    """A fresh loop policy (its write-set cache belongs to one spec under proof)."""
    return Summarise(LOOP_INVARIANTS)
