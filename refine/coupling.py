"""The coupling relation: which C state corresponds to which spec state at
each pair of cuts, inferred Houdini-style.

Candidates at a pair of cuts are every type-compatible equality between a C
local and a spec leaf, and between a member of the driver's globals and the
spec leaf of a related name (32- or 64-bit values, booleans, a C ``bool`` held as
an int against a spec boolean, a C list against a spec list: same length,
elements, positions and members), plus what a C list walk needs of its own
pointer locals (the cursor is the list's first entry or its head; one cursor
follows another). Every candidate is assumed at each segment's start; a
candidate that fails at some segment's end (for a path that ends at its
pair) is dropped, until nothing is dropped: what remains is inductive
(established by init, preserved by every segment).
"""
from __future__ import annotations

from dataclasses import dataclass

import z3

from .product import Leaf
from .symlists import END

Pair = tuple  # (C cut, spec cut)


@dataclass(frozen=True, order=True)
class Candidate:
    kind: str  # eq | bool | list | first | valid | follows | const | ite | zero | nonzero | empty
    c: str
    s: str = ""  # the spec leaf (eq, bool, list), the other C cursor (follows), "C:x"/"S:x" (const, ite)
    a: int = 0  # const: the value; ite: the value when the boolean holds
    b: int = 0  # ite: the value when it does not

    def formula(self, cl: dict[str, Leaf], sl: dict[str, Leaf]):
        if self.kind == "const":
            side, name = self.s.split(":", 1)
            y = (cl if side == "C" else sl).get(name)
            return None if y is None or y.kind != "bool" else y.value == z3.BoolVal(bool(self.a))
        a = cl.get(self.c)
        if self.kind in ("zero", "nonzero", "empty"):
            if a is None:
                return None
            if self.kind == "empty":
                return None if a.kind != "list" else a.value.n == 0
            if a.kind != "bv":
                return None
            return a.value == 0 if self.kind == "zero" else a.value != 0
        if self.kind == "ite":
            side, name = self.s.split(":", 1)
            y = (cl if side == "C" else sl).get(name)
            if a is None or y is None or a.kind != "bv" or y.kind != "bool":
                return None
            w = a.value.size()
            return a.value == z3.If(y.value, z3.BitVecVal(self.a, w), z3.BitVecVal(self.b, w))
        if a is None:
            return None
        k = self.kind
        if k in ("eq", "bool", "list"):
            b = sl.get(self.s)
            if b is None:
                return None
            if k == "list":
                if a.kind != "list" or b.kind != "list":
                    return None
                x, y = a.value, b.value
                return z3.And(x.n == y.n, x.arr == y.arr, x.pos == y.pos, x.members == y.members)
            if k == "bool":
                if a.kind != "bv" or b.kind != "bool":
                    return None
                return (a.value != 0) == b.value
            if a.kind != b.kind or (a.kind == "bv" and a.value.size() != b.value.size()):
                return None
            return a.value == b.value
        if a.kind != "cursor":
            return None
        lst = cl.get(a.list)
        if lst is None:
            return None
        n = lst.value.n
        if k == "first":
            return a.value == n - 1
        if k == "valid":
            return z3.Or(a.value == END, z3.ULT(a.value, n))
        y = cl.get(self.s)
        if y is None or y.kind != "cursor" or y.list != a.list:
            return None
        return z3.If(a.value == END, y.value == n - 1, y.value == a.value - 1)

    def text(self) -> str:
        if self.kind == "eq":
            return f"C {self.c} == spec {self.s}"
        if self.kind == "bool":
            return f"(C {self.c} != 0) == spec {self.s}"
        if self.kind == "list":
            return f"C list {self.c} == spec list {self.s}"
        if self.kind == "const":
            side, name = self.s.split(":", 1)
            return f"{'C' if side == 'C' else 'spec'} {name} is {'true' if self.a else 'false'}"
        if self.kind == "ite":
            side, name = self.s.split(":", 1)
            return f"C {self.c} == ({'C' if side == 'C' else 'spec'} {name} ? {self.a:#x} : {self.b:#x})"
        if self.kind in ("zero", "nonzero"):
            return f"C {self.c} {'==' if self.kind == 'zero' else '!='} 0"
        if self.kind == "empty":
            return f"C list {self.c} is empty"
        if self.kind == "first":
            return f"C {self.c} is the first entry (or the head)"
        if self.kind == "valid":
            return f"C {self.c} is an entry of its list or the head"
        return f"C {self.s} follows C {self.c}"


def _related_names(c: str, s: str) -> bool:
    """Candidate equalities pair leaves whose names match: the same last
    component, or one ending with the other (``alloc_can_sleep`` and
    ``can_sleep``, a C local ``target`` and ``b.target``)."""
    x, y = c.split(".")[-1], s.split(".")[-1]
    return x == y or x.endswith("_" + y) or y.endswith("_" + x)


def is_c_local(name: str) -> bool:
    """A C leaf that is a local of a frame (``depth.function.name``), not a
    member of the driver's globals."""
    return name.split(".", 1)[0].isdigit()


def candidates(cl: dict[str, Leaf], sl: dict[str, Leaf]) -> list[Candidate]:
    """The candidates between the two sides' leaves at one pair of cuts. A C
    local is paired with every spec leaf of a compatible type (a local's name
    is the programmer's choice: a renamed local or a helper's parameter must
    be related by what it holds); a member of the driver's globals with the
    spec leaves of a related name (the struct is the state the spec models)."""
    out = []
    for c, a in cl.items():
        local = is_c_local(c)
        for s, b in sl.items():
            if not local and not _related_names(c, s):
                continue
            if a.kind == "list" and b.kind == "list":
                out.append(Candidate("list", c, s))
            elif a.kind == b.kind == "bool":
                out.append(Candidate("eq", c, s))
            elif a.kind == b.kind == "bv" and a.value.size() == b.value.size():
                out.append(Candidate("eq", c, s))
            elif a.kind == "bv" and b.kind == "bool" and a.value.size() == 32:
                out.append(Candidate("bool", c, s))
        if a.kind == "cursor":
            out += [Candidate("first", c), Candidate("valid", c)]
            out += [Candidate("follows", c, d) for d, y in cl.items()
                    if d != c and y.kind == "cursor" and y.list == a.list]
    # what the C's own state keeps between events whatever the spec's says
    # (a member that stays zero or never becomes zero, a list that stays
    # empty): code the spec does not run (an inflate with goal 0) needs it
    for c, a in cl.items():
        if is_c_local(c):
            continue
        if a.kind == "bv":
            out += [Candidate("zero", c), Candidate("nonzero", c)]
        elif a.kind == "list":
            out.append(Candidate("empty", c))
    # each side's flags that stay false (a loop's "not returned yet"); only
    # false, so that the candidates together are satisfiable (Houdini's start)
    for side, leaves in (("C", cl), ("S", sl)):
        for name, y in leaves.items():
            if y.kind == "bool":
                out.append(Candidate("const", "", f"{side}:{name}", 0))
    return sorted(out)


def ite_templates(cl: dict[str, Leaf], sl: dict[str, Leaf]) -> list[Candidate]:
    """A C value chosen by a condition between two constants (``flags =
    can_sleep ? A : B``), seen at a segment's end: candidates that it is so
    chosen by each boolean leaf of either side."""
    out = []
    for c, x in cl.items():
        v = x.value if x.kind == "bv" else None
        if v is None or not z3.is_app_of(v, z3.Z3_OP_ITE):
            continue
        a, b = z3.simplify(v.arg(1)), z3.simplify(v.arg(2))
        if not (z3.is_bv_value(a) and z3.is_bv_value(b)):
            continue
        for side, leaves in (("C", cl), ("S", sl)):
            for name, y in leaves.items():
                if y.kind == "bool":
                    out.append(Candidate("ite", c, f"{side}:{name}", a.as_long(), b.as_long()))
    return out


class Coupling:
    """The current candidate set at every pair of cuts (generated the first
    time a pair is met)."""

    def __init__(self) -> None:
        self.sets: dict[Pair, list[Candidate]] = {}
        self.dropped = 0
        self.seen_templates: set = set()  # ite candidates once proposed (never proposed again)

    def propose(self, pair: Pair, cl: dict, sl: dict) -> int:
        """Add the ite candidates a segment's end suggests; returns how many are new."""
        cands = self.at(pair, cl, sl)
        new = [c for c in ite_templates(cl, sl) if (pair, c) not in self.seen_templates]
        for c in new:
            self.seen_templates.add((pair, c))
        if new:
            self.sets[pair] = sorted(set(cands) | set(new))
        return len(new)

    def at(self, pair: Pair, cl: dict, sl: dict) -> list[Candidate]:
        if pair not in self.sets:
            self.sets[pair] = candidates(cl, sl)
        return self.sets[pair]

    def assume(self, run, pair: Pair | None, cl: dict, sl: dict) -> dict:
        """Assume the candidates at ``pair``; returns C leaf -> the term an
        ``ite`` candidate says it equals (the C side uses the term itself, so
        that the kernel sees which constants a value can be)."""
        subst = {}
        if pair is None:
            return subst
        for cand in self.at(pair, cl, sl):
            f = cand.formula(cl, sl)
            if f is not None:
                run.assume(f, f"coupling: {cand.text()}")
                if cand.kind == "ite" and cand.c not in subst:
                    subst[cand.c] = f.arg(1)
        return subst

    def establish(self, pair: Pair, condition, cl: dict, sl: dict, timeout_ms: int = 30000) -> list[Candidate]:
        """Drop the candidates at ``pair`` that fail on a path (``condition``)
        ending there with these leaves; returns the dropped ones."""
        cands = self.at(pair, cl, sl)
        keep, forms = [], []
        dropped = []
        for cand in cands:
            f = cand.formula(cl, sl)
            if f is None:
                dropped.append(cand)
            else:
                keep.append(cand)
                forms.append(f)
        s = z3.Solver()
        s.set("timeout", timeout_ms)
        s.add(condition)
        while keep:
            r = s.check(z3.Or([z3.Not(f) for f in forms]))
            if r == z3.unsat:
                break
            if r == z3.unknown:  # cannot tell: keep nothing uncertain
                dropped += keep
                keep, forms = [], []
                break
            m = s.model()
            nk, nf = [], []
            for cand, f in zip(keep, forms):
                if z3.is_true(m.eval(f, model_completion=True)):
                    nk.append(cand)
                    nf.append(f)
                else:
                    dropped.append(cand)
            keep, forms = nk, nf
        if dropped:
            gone = set(dropped)
            self.sets[pair] = [c for c in cands if c not in gone]
            self.dropped += len(gone)
        return dropped

    def summary(self) -> dict:
        """pair -> the candidates kept, as text (for review)."""
        return {f"{c} ~ {s}": [cand.text() for cand in cands] for (c, s), cands in sorted(self.sets.items())}
