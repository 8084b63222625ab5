"""The symbolic page lists are lists: lemmas proved once, for every list.

model/state.py's ``SymbolicList`` represents a ``struct list_head`` of pages
by an array over positions (head at n-1), the position of each page and the
set of pages, with the representation invariant

    RI(L):  for all j < n:  pos[arr[j]] == j,  members[arr[j]],  elem(arr[j])
            for all p:      members[p]  ==>  pos[p] < n  and  arr[pos[p]] == p

Each lemma runs the list's own methods (``add``, ``take``, ``head``, ``tail``,
``is_empty``) with a recording oracle: the claims ``add``/``take`` record are
exactly their preconditions, the assumptions a read records are what every
proof may assume. Proved here with quantifiers, for lists of any length; the
proofs themselves stay quantifier-free.
"""
from __future__ import annotations

import z3

from ..state import SymbolicList
from .checker import Tally, model_dict


class _Recorder:
    """An oracle that only records (list operations take no branch)."""

    def __init__(self) -> None:
        self.assumed: list = []
        self.claimed: list = []

    def assume(self, f, why: str = "") -> None:
        self.assumed.append(f)

    def claim(self, kind: str, text: str, f, loop=None) -> None:
        self.claimed.append(f)


class _Ops:
    def __init__(self) -> None:
        self.oracle = _Recorder()


def ri_parts(L: SymbolicList, elem) -> list:
    """RI's two halves: every position holds a listed page at its position;
    every listed page is at a position below n."""
    j = z3.BitVec("j", 32)
    p = z3.BitVec("p", 64)
    x = L.item(j)
    return [z3.ForAll([j], z3.Implies(z3.ULT(j, L.n), z3.And(z3.Select(L.pos, x) == j, L.contains(x), elem(x)))),
            z3.ForAll([p], z3.Implies(L.contains(p), z3.And(z3.ULT(z3.Select(L.pos, p), L.n),
                                                            L.item(z3.Select(L.pos, p)) == p)))]


def ri(L: SymbolicList, elem) -> z3.BoolRef:
    return z3.And(*ri_parts(L, elem))


def _same_list(a: SymbolicList, b: SymbolicList) -> z3.BoolRef:
    """The same list: length, pages at every position, members."""
    j = z3.BitVec("j", 32)
    return z3.And(a.n == b.n, a.members == b.members,
                  z3.ForAll([j], z3.Implies(z3.ULT(j, a.n), a.item(j) == b.item(j))))


def _elem(name: str):
    from ..state import ELEMENT_INVARIANTS

    return ELEMENT_INVARIANTS[name][1] if name in ELEMENT_INVARIANTS else (lambda x: z3.BoolVal(True))


def lemmas() -> list[tuple[str, list, object]]:
    """(what, hypotheses, claim) for each lemma, for b->pages (PFNs < 2^32) and the refused list."""
    out = []
    for name in ("pages", "refused_pages"):
        E = _elem(name)
        x = z3.BitVec("x", 64)

        # list_add keeps RI, given what it claims
        L = SymbolicList.fresh(name, "L.")
        ops = _Ops()
        L2 = L.copy()
        L2.add(ops, x)
        for half, part in zip(("positions", "members"), ri_parts(L2, E)):
            out.append((f"{name}: list_add of a page keeps RI ({half})", [ri(L, E), *ops.oracle.claimed], part))

        # taking the head of a list of n gives n - 1, the rest unchanged, the page no longer on it; keeps RI
        L = SymbolicList.fresh(name, "L.")
        ops = _Ops()
        L2 = L.copy()
        h = L2.head(ops)
        got = L2.take(ops)
        p = z3.BitVec("p", 64)
        hyps = [ri(L, E), *ops.oracle.claimed]
        for half, part in zip(("positions", "members"), ri_parts(L2, E)):
            out.append((f"{name}: take of the head keeps RI ({half})", hyps, part))
        out.append((f"{name}: take of the head returns the head, removes only it, shortens the list by one", hyps,
                    z3.And(got == h, got == L.item(L.n - 1), L.contains(got), z3.Not(L2.contains(got)),
                           L2.n == L.n - 1, L2.arr == L.arr,
                           z3.ForAll([p], z3.Implies(p != got, L2.contains(p) == L.contains(p))))))

        # what a read assumes is what RI says
        L = SymbolicList.fresh(name, "L.")
        ops = _Ops()
        L.copy().head(ops)
        L.copy().tail(ops)
        out.append((f"{name}: what a read of the head or the tail assumes follows from RI",
                    [ri(L, E)], z3.And(*ops.oracle.assumed)))

        # add then take gives the page back and the same list
        L = SymbolicList.fresh(name, "L.")
        ops = _Ops()
        L2 = L.copy()
        L2.add(ops, x)
        back = L2.take(ops)
        out.append((f"{name}: list_add then take of the head gives the page back and the same list",
                    [ri(L, E), *ops.oracle.claimed], z3.And(back == x, _same_list(L2, L))))

        # emptiness, head and tail
        L = SymbolicList.fresh(name, "L.")
        ops = _Ops()
        out.append((f"{name}: empty iff no member; head and tail are the ends, distinct when n > 1",
                    [ri(L, E), z3.UGT(L.n, 0)],
                    z3.And(z3.Not(L.is_empty()), L.head(ops) == L.item(L.n - 1), L.tail(ops) == L.item(z3.BitVecVal(0, 32)),
                           z3.Implies(z3.UGT(L.n, 1), L.item(L.n - 1) != L.item(z3.BitVecVal(0, 32))))))
        L = SymbolicList.fresh(name, "L.")
        out.append((f"{name}: an empty list has no member", [ri(L, E), L.is_empty()],
                    z3.Not(L.contains(z3.BitVec("y", 64)))))
        L = SymbolicList.fresh(name, "L.")
        out.append((f"{name}: the facts assumed of any list (SymbolicList.facts) follow from RI", [ri(L, E)],
                    z3.And(*L.facts())))
        # the empty list (INIT_LIST_HEAD) satisfies RI
        out.append((f"{name}: INIT_LIST_HEAD gives an empty list satisfying RI", [],
                    z3.And(ri(SymbolicList.new(name), E), SymbolicList.new(name).is_empty())))
    return out


def list_lemmas(timeout_ms: int = 60000) -> Tally:
    """Every lemma, with its non-vacuity check, as one Tally."""
    t = Tally("LIST-RI")
    notes = []
    for what, hyps, claim in lemmas():
        t.checks += 1
        s = z3.Solver()
        s.set("timeout", timeout_ms)
        s.add(*hyps)
        r = s.check()
        if r == z3.unsat:
            continue
        t.applicable += 1
        if t.example is None and r == z3.sat:
            t.example = ((), model_dict(s.model()))
        s.add(z3.Not(claim))
        s.set("mbqi", False)  # the lemmas need instances only: e-matching first, model-based if unsure
        r = s.check()
        if r == z3.unknown:
            s.set("mbqi", True)
            r = s.check()
        if r == z3.sat and t.fail is None:
            t.fail = ((), what, model_dict(s.model()), [], "violated")
        elif r == z3.unknown and t.unknown is None:
            t.unknown = ((), what, str(s.reason_unknown()))
        notes.append(what)
    t.hypotheses = {"RI(L) for a list of any length, any pages"}
    t.note = "; ".join(notes)
    return t
