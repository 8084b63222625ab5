"""From a symbolic path to concrete values: the scenario-building end of the engine.

``solve(condition, hard, minimize)`` returns the lexicographically least
model of a path condition (``minimize`` first, in order, then every other
input variable by name): unique, so the values of a path do not depend on
what Z3 solved before in the process. ``values(model, terms)`` evaluates
terms in it. Scenario builders (conformance/pathgoals.py) read the values of
the path's inputs (the environment's answers are named after the calls, and
``Call`` records say which call each belongs to) and write the scenario.
"""
from __future__ import annotations

import z3


def variables(term) -> set:
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


def solve(condition, hard=(), minimize=()) -> dict | None:
    """A model of ``condition`` plus ``hard``, minimising ``minimize`` in order,
    then every other bit-vector or Boolean input by name; None if unsatisfiable.
    Values: ints and bools by variable name (arrays are left out)."""
    o = z3.Optimize()
    o.add(condition, *hard)
    for t in minimize:
        o.minimize(t)
    for v in sorted(variables(z3.And(condition, *hard)), key=str):
        if z3.is_bool(v):
            o.minimize(z3.If(v, 1, 0))
        elif z3.is_bv(v):
            o.minimize(v)
    if o.check() != z3.sat:
        return None
    return model_values(o.model())


def model_values(m: z3.ModelRef, others_as_text: bool = False) -> dict:
    """A Z3 model as a dict by variable name, in the model's order: bit-vectors as ints,
    Booleans as bools; other values (arrays, functions) left out, or as their text."""
    out = {}
    for d in m.decls():
        v = m[d]
        if z3.is_bv_value(v):
            out[d.name()] = v.as_long()
        elif z3.is_true(v) or z3.is_false(v):
            out[d.name()] = z3.is_true(v)
        elif others_as_text:
            out[d.name()] = str(v)
    return out


def value(model: dict, term, default=0):
    """A term's value under a ``solve`` model (by substituting the named inputs)."""
    subst = []
    for v in variables(term):
        name = str(v)
        if name in model:
            subst.append((v, z3.BoolVal(model[name]) if z3.is_bool(v) else z3.BitVecVal(model[name], v.size())))
    t = z3.simplify(z3.substitute(term, *subst)) if subst else z3.simplify(term)
    if z3.is_bv_value(t):
        return t.as_long()
    if z3.is_true(t) or z3.is_false(t):
        return z3.is_true(t)
    return default
