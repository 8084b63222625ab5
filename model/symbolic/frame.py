"""State objects as a tree of leaves: snapshot, havoc, fresh copies, merge.

A *state object* lists its state in ``STATE_FIELDS`` (model/state.py:
Balloon, Stats, the loop locals, SymbolicList; model/symbolic/env.py: the
environment, whose only state is its ``ghost``). Its *leaves* are the values
reached through those fields that are not state objects themselves: Z3 terms
in a symbolic run. A leaf is named by its path, e.g. ``b.pages.n``,
``lv.i``, ``env.ghost.locked``.
"""
from __future__ import annotations

from typing import Any, Iterator

import z3
from z3.z3 import _to_expr_ref


def is_state(v) -> bool:
    return hasattr(type(v), "STATE_FIELDS")


def leaves(obj, path: str) -> Iterator[tuple[str, Any, str, Any]]:
    """(path, owner, field, value) of every leaf under ``obj``."""
    for f in type(obj).STATE_FIELDS:
        v = getattr(obj, f)
        p = f"{path}.{f}"
        if is_state(v):
            yield from leaves(v, p)
        else:
            yield p, obj, f, v


def leaf_values(roots: dict) -> dict[str, Any]:
    return {p: v for name, obj in roots.items() for p, _, _, v in leaves(obj, name)}


def copy_state(obj):
    """A copy of the state tree (new state objects, the same leaves). Slots
    that are not state (a list's name) are copied too."""
    cls = type(obj)
    new = cls.__new__(cls)
    for f in getattr(cls, "__slots__", ()):
        if f not in cls.STATE_FIELDS and hasattr(obj, f):
            setattr(new, f, getattr(obj, f))
    for f in cls.STATE_FIELDS:
        v = getattr(obj, f)
        setattr(new, f, copy_state(v) if is_state(v) else v)
    return new


def fresh_like(v, name: str):
    """A fresh Z3 constant of the sort of ``v`` (a Z3 term, or a Python bool/int)."""
    if isinstance(v, bool):
        return z3.Bool(name)
    if isinstance(v, z3.ExprRef):
        return z3.Const(name, v.sort())
    raise TypeError(f"cannot havoc {name}: {type(v).__name__} {v!r}")


def havoc(roots: dict, paths, prefix: str) -> None:
    """Replace the leaves named in ``paths`` by fresh constants prefix+path."""
    paths = set(paths)
    for name, obj in roots.items():
        for p, owner, f, v in list(leaves(obj, name)):
            if p in paths:
                setattr(owner, f, fresh_like(v, prefix + p))


def fresh_copy(obj, name: str, prefix: str):
    """A copy of ``obj`` whose every leaf is a fresh constant prefix+path."""
    new = copy_state(obj)
    for p, owner, f, v in list(leaves(new, name)):
        setattr(owner, f, fresh_like(v, prefix + p))
    return new


def changed(before: dict, after: dict) -> set[str]:
    """Leaf paths whose term differs (structurally)."""
    out = set()
    for p, v in before.items():
        w = after.get(p)
        if isinstance(v, z3.AstRef) and isinstance(w, z3.AstRef):
            if not v.eq(w):
                out.add(p)
        elif v is not w and v != w:
            out.add(p)
    return out


def assign(roots: dict, values: dict) -> None:
    """Set leaves by path (paths absent from ``values`` are left alone)."""
    for name, obj in roots.items():
        for p, owner, f, _ in list(leaves(obj, name)):
            if p in values:
                setattr(owner, f, values[p])


class Substitution:
    """Simultaneous substitution of Z3 terms, prepared once (the z3py wrapper
    re-checks every pair on every call, which dominates when many terms are
    instantiated with the same pairs)."""

    def __init__(self, pairs) -> None:
        pairs = [(a, b) for a, b in pairs if not a.eq(b)]
        self.n = len(pairs)
        if self.n:
            self.ctx = pairs[0][0].ctx
            Arr = z3.Ast * self.n
            self._from, self._to = Arr(), Arr()
            for i, (a, b) in enumerate(pairs):
                if a.sort() != b.sort():
                    raise TypeError(f"substitution of {a} by {b}: sorts differ")
                self._from[i], self._to[i] = a.as_ast(), b.as_ast()
            self._keep = pairs  # keep the terms alive

    def __call__(self, t):
        if not self.n or not isinstance(t, z3.ExprRef):
            return t
        a = z3.z3core.Z3_substitute(self.ctx.ref(), t.as_ast(), self.n, self._from, self._to)
        return _to_expr_ref(a, self.ctx)


def lists_in(roots: dict):
    """(path, list) of every SymbolicList under the roots."""
    from ..state import SymbolicList

    def walk(obj, path):
        if isinstance(obj, SymbolicList):
            yield path, obj
            return
        for f in type(obj).STATE_FIELDS:
            v = getattr(obj, f)
            if is_state(v):
                yield from walk(v, f"{path}.{f}")

    for name, obj in roots.items():
        yield from walk(obj, name)
