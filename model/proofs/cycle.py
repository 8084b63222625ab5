"""The cycle invariant: what holds between two work cycles of a loaded driver.

It is assumed at the start of every symbolic work cycle and of module exit,
proved after init, after every work cycle (Inv ∧ work ⇒ Inv') and across the
host's own move (host_reset); the catalogue's inductive entries are its
conjuncts. Numbers are the C's ``#define``s (cref.C), not the model's copy.

Conjuncts (``conjuncts(b, g, policy)``; g is the host ghost of
model/symbolic/env.py):

* ``rate_alloc``, ``rate_free``, ``slow``: the rate and slow-cycle bounds;
* ``refused``: no refused page is pending (count and list);
* ``size``: size == the number of pages on b->pages;
* ``locked``: unless the host waits for START, it holds every page of the
  balloon locked (``IsSubset(pages, locked)``, quantifier-free);
* ``consistent`` (a consistent host): reset_required ⇒ the host waits for
  START; while it waits it holds nothing locked.

A fresh symbolic cycle-start state (``start``) also assumes, for the benign
host of the progress proofs, that no reset is required or pending.
"""
from __future__ import annotations

from functools import lru_cache

import z3

from .cref import C


@lru_cache(maxsize=4096)
def B32(v: int):
    return z3.BitVecVal(v, 32)


@lru_cache(maxsize=4096)
def B64(v: int):
    return z3.BitVecVal(v, 64)


EMPTY = z3.EmptySet(z3.BitVecSort(64))


def between(x, lo: int, hi: int):
    return z3.And(z3.ULE(B32(lo), x), z3.ULE(x, B32(hi)))


def fits32(x):
    return z3.Extract(63, 32, x) == 0


def flag(policy, name: str):
    v = getattr(policy, name)
    return z3.BoolVal(v) if isinstance(v, bool) else v


def all_locked(b, g):
    """The host holds every page of the balloon locked."""
    return z3.IsSubset(b.pages.members, g.locked)


def conjuncts(b, g, policy) -> dict:
    return {
        "rate_alloc": between(b.rate_alloc, C.RATE_ALLOC_MIN, C.RATE_ALLOC_MAX),
        "rate_free": between(b.rate_free, C.RATE_FREE_MIN, C.RATE_FREE_MAX),
        "slow": z3.ULE(b.slow_allocation_cycles, B32(C.SLOW_CYCLES)),
        "refused": z3.And(b.n_refused_pages == 0, b.refused_pages.n == 0),
        "size": b.size == b.pages.n,
        "locked": z3.Implies(z3.Not(g.pending), all_locked(b, g)),
        "consistent": z3.Implies(flag(policy, "consistent"),
                                 z3.And(z3.Implies(b.reset_required, g.pending),
                                        z3.Implies(g.pending, g.locked == EMPTY))),
    }


CONJUNCT_TEXT = {
    "rate_alloc": f"{C.RATE_ALLOC_MIN} <= rate_alloc <= {C.RATE_ALLOC_MAX}",
    "rate_free": f"{C.RATE_FREE_MIN} <= rate_free <= {C.RATE_FREE_MAX}",
    "slow": f"slow_allocation_cycles <= {C.SLOW_CYCLES}",
    "refused": "n_refused_pages == 0 and the refused list is empty",
    "size": "size == pages on b->pages",
    "locked": "unless a reset is pending, the host holds every balloon page locked",
    "consistent": "consistent host: reset_required ⇒ reset pending; while pending the host holds nothing locked",
}


def inv(b, g, policy):
    return z3.And(*conjuncts(b, g, policy).values())


def start_hypotheses(b, g, policy) -> list[tuple[str, object]]:
    """(label, formula) assumed at the start of a symbolic cycle."""
    return [("the cycle invariant", inv(b, g, policy)),
            (f"if {policy.host_benign}: no reset required or pending at the start",
             z3.Implies(flag(policy, "host_benign"), z3.And(z3.Not(b.reset_required), z3.Not(g.pending))))]


def host_reset(g):
    """The host's move between cycles: it forgets the guest (a copy of g)."""
    g2 = g.copy()
    g2.pending = z3.BoolVal(True)
    g2.locked = EMPTY
    return g2
