"""Merging a call's paths: a callee as one step of its caller's run.

``merged_call(ops, fn, *args)`` runs ``fn(ops, *args)`` as a nested
exploration from the caller's current state, under the caller's path
condition, and continues the caller's run once: every state leaf the callee
may write becomes an if-then-else over the callee's returning paths (their
conditions, beyond the caller's), the calls it made are recorded with their
path's condition as ``guard``, and the caller's path assumes that one of
those paths was taken. The callee's own decisions are not the caller's (they
are decided in the nested runs). Loops in the callee follow the caller's loop
policy. A client uses it where a callee's internal paths do not matter to the
caller (conformance/pathgoals.py: the OPAQUE callees of a tracked function).
"""
from __future__ import annotations

import z3

from . import frame as F
from .explorer import explore


def merged_call(ops, fn, *args, **kw):
    run = ops.oracle
    from .env import SymbolicEnv

    env = next((a for a in args if isinstance(a, SymbolicEnv)), None)
    roots = {f"a{i}": a for i, a in enumerate(args) if F.is_state(a) and not isinstance(a, SymbolicEnv)}
    if env is not None:
        roots["env"] = env
    key = ("merged", fn, run.search, tuple(d for _, d in run.decisions), len(run.literals))
    cache = _CACHE.get(key)
    before = F.leaf_values(roots)
    calls0 = len(env.calls) if env is not None else 0
    names0 = dict(env._n) if env is not None else {}
    if cache is None:
        hyps = list(run.literals)
        outer_ops = env.ops if env is not None else None

        def sub(ops2):
            F.assign(roots, before)
            if env is not None:
                del env.calls[calls0:]
                env._n = dict(names0)
                env.ops = ops2
            r = fn(ops2, *args, **kw)
            return F.leaf_values(roots), r, list(env.calls[calls0:]) if env is not None else [], \
                dict(env._n) if env is not None else {}

        try:
            paths = [p for p in explore(sub, hyps, loops=run.policy) if p.kind == "return"]
        finally:
            if env is not None:
                env.ops = outer_ops
                del env.calls[calls0:]
                env._n = dict(names0)
            F.assign(roots, before)
        conds = [z3.And(*p.literals[len(hyps):]) if len(p.literals) > len(hyps) else z3.BoolVal(True) for p in paths]
        changed = sorted({k for p in paths for k, v in p.result[0].items() if not _same(v, before[k])})
        post = {}
        for k in changed:
            t = paths[-1].result[0][k]
            for p, c in zip(reversed(paths[:-1]), reversed(conds[:-1])):
                t = z3.If(c, p.result[0][k], t)
            post[k] = t
        calls = [_guarded(call, c) for p, c in zip(paths, conds) for call in p.result[2]]
        names = {}
        for p in paths:
            for k, v in p.result[3].items():
                names[k] = max(names.get(k, 0), v)
        if len(_CACHE) > 10000:
            _CACHE.clear()
        cache = _CACHE[key] = (z3.Or(*conds) if conds else z3.BoolVal(False), post, calls, names,
                               paths[0].result[1] if paths else None)
    exits, post, calls, names, result = cache
    run.assume(exits, f"{getattr(fn, '__name__', 'the call')} returns (one of its paths)")
    F.assign(roots, post)
    if env is not None:
        env.calls.extend(calls)
        env._n.update(names)
    return result


_CACHE: dict = {}


def _same(a, b) -> bool:
    if isinstance(a, z3.AstRef) and isinstance(b, z3.AstRef):
        return a.eq(b)
    return a is b or a == b


def _guarded(call, cond):
    from dataclasses import replace

    g = call.guard
    return replace(call, guard=cond if g is True else z3.And(cond, g))
