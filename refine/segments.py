"""Segment checks: every segment of the product explored with Z3 from
related states, the coupling inferred to a fixpoint, then each segment
judged: proved, differs (with the Z3 model of a path) or unknown."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import z3

from balloonspec.csource.compile import Program
from balloonspec.csource.errors import CFrontError
from balloonspec.model.symbolic import PathLimit, explore

from .coupling import Coupling
from .product import ENTRIES, TOP, UNLOADED, Product, Recipe, RefineError, recipe_for, spec_end

MAX_PATHS = 4000
MAX_ROUNDS = 12

# the spec's step function of each segment (model/algorithm.py)
SPEC_STEP = {None: None, "inflate": "inflate_attempt", "release_refused": "release_refused_one",
             "deflate": "deflate_release", "pop": "pop_one"}


@dataclass
class Segment:
    id: str
    function: str
    c_lines: str
    spec: str
    status: str = "unknown"
    seconds: float = 0.0
    paths: int = 0
    detail: str = ""
    model: dict = field(default_factory=dict)
    recipe: Recipe | None = None

    def as_json(self) -> dict:
        d = {"id": self.id, "function": self.function, "c_lines": self.c_lines, "spec": self.spec,
             "status": self.status, "seconds": round(self.seconds, 3), "paths": self.paths}
        if self.detail:
            d["detail"] = self.detail
        if self.model:
            d["model"] = self.model
        return d


def _c_function_of(program: Program, recipe: Recipe) -> str:
    if recipe.c_cut:
        return recipe.c_cut.split("/")[-1].split(":")[0]
    return {"init": program.init_function, "exit": program.exit_function}.get(recipe.entry) or "vmballoon_work"


def _lines(program: Program, name: str) -> str:
    try:
        fn = program.function(name)
    except Exception:  # noqa: BLE001 - a driver without that function
        return "?"
    lines = [ln for ln in fn.block_lines if ln]
    return f"{min(lines)}-{max(lines)}" if lines else str(fn.line)


def _eq(a, b):
    """``a == b`` for two call arguments (Python values or Z3 terms), as a Z3 Bool."""
    if not isinstance(a, z3.ExprRef) and not isinstance(b, z3.ExprRef):
        return z3.BoolVal(a == b)
    if isinstance(a, z3.ExprRef) and isinstance(b, z3.ExprRef):
        if a.sort() != b.sort():
            if z3.is_bv(a) and z3.is_bv(b):
                w = max(a.size(), b.size())
                a = z3.ZeroExt(w - a.size(), a) if a.size() < w else a
                b = z3.ZeroExt(w - b.size(), b) if b.size() < w else b
            else:
                return z3.BoolVal(False)
        return a == b
    t, v = (a, b) if isinstance(a, z3.ExprRef) else (b, a)
    if isinstance(v, bool):
        return t == z3.BoolVal(v) if z3.is_bool(t) else (t != 0) == v
    if isinstance(v, int) and z3.is_bv(t):
        return t == z3.BitVecVal(v & ((1 << t.size()) - 1), t.size())
    return z3.BoolVal(False)


def _differences(path, c, s) -> tuple[str, object] | None:
    """(text, Z3 formula whose satisfiability under the path shows it) of the
    first observable difference, or None."""
    cc, sc = list(c.calls), list(s.calls)
    for i in range(max(len(cc), len(sc))):
        if i >= len(cc) or i >= len(sc):
            extra = (cc if i < len(cc) else sc)[i]
            who = "the C" if i < len(cc) else "the spec"
            return f"call {i + 1}: only {who} makes {extra.as_tuple()[:3]}", z3.BoolVal(True)
        a, b = cc[i], sc[i]
        if a.kind != b.kind or len(a.args) != len(b.args):
            return f"call {i + 1}: the C makes {a.kind}, the spec {b.kind}", z3.BoolVal(True)
        neq = z3.Not(z3.And([_eq(x, y) for x, y in zip(a.args, b.args)] or [z3.BoolVal(True)]))
        if _sat(path.condition, neq):
            return f"call {i + 1} ({a.kind}): different arguments", neq
    if c.ret is not None or s.ret is not None:
        neq = z3.Not(_eq(c.ret, s.ret))
        if _sat(path.condition, neq):
            return "different return values", neq
    return None


def _sat(cond, extra) -> bool:
    sol = z3.Solver()
    sol.set("timeout", 30000)
    sol.add(cond, extra)
    return sol.check() == z3.sat


def _model_of(cond, extra) -> dict:
    sol = z3.Solver()
    sol.set("timeout", 30000)
    sol.add(cond, extra)
    if sol.check() != z3.sat:
        return {}
    m = sol.model()
    return {str(d): str(m[d]) for d in sorted(m.decls(), key=str)[:60]}


def _explore(program, recipe, coupling):
    return explore(Product(program, recipe, coupling.assume), max_paths=MAX_PATHS)


def _segment(program: Program, r: Recipe) -> Segment:
    fn = _c_function_of(program, r)
    return Segment(r.key, fn, _lines(program, fn), SPEC_STEP[r.spec_loop] or r.entry, recipe=r)


def _start_pair(r: Recipe):
    """The pair of cuts a segment starts at (where its coupling is assumed)."""
    if r.entry == "init":
        return None
    return (r.c_cut, f"{r.entry}:{r.spec_loop}") if r.spec_loop else (TOP, TOP)


@dataclass
class _Explored:
    """A segment's paths from one candidate set at its start, and for each
    path the candidates at its end pair already established on it."""

    start: tuple
    paths: list | None
    err: str
    seconds: float
    checked: list = field(default_factory=list)


def infer_and_check(program: Program, progress=None) -> tuple[list[Segment], Coupling]:
    """Houdini to a fixpoint over all segments (those from init, the work
    item and exit, and from every pair of loop heads a segment ends at), then
    the verdict per segment reachable from init under the final coupling.

    A segment's paths depend only on the candidates assumed at its start: a
    segment whose start set is unchanged since a previous round keeps its
    paths, and only candidates not yet established on a path are checked
    against it (each round re-explores only what a dropped candidate can
    change)."""
    coupling = Coupling()
    segs: dict[str, Segment] = {r.key: _segment(program, r) for r in ENTRIES}
    cache: dict[str, _Explored] = {}
    for rnd in range(MAX_ROUNDS + 1):
        dropped = added = explored = 0
        results: dict[str, _Explored] = {}
        # the segments reachable from init under the current coupling, breadth first
        todo = ["init"]
        while todo:
            key = todo.pop(0)
            if key in results:
                continue
            seg = segs[key]
            start = _start_pair(seg.recipe)
            got = cache.get(key)
            if got is None or start not in coupling.sets and start is not None \
                    or got.start != tuple(coupling.sets.get(start, ())):
                t0 = time.perf_counter()
                explored += 1
                try:
                    paths, err = _explore(program, seg.recipe, coupling), ""
                except (CFrontError, RefineError, PathLimit) as e:
                    paths, err = None, f"{type(e).__name__}: {e}"
                got = cache[key] = _Explored(tuple(coupling.sets.get(start, ())), paths, err,
                                             time.perf_counter() - t0, [frozenset() for _ in paths or ()])
            results[key] = got
            for i, p in enumerate(got.paths or ()):
                c = p.data["c"]
                s_cut, s_leaves = spec_end(p)
                if c.error is not None:
                    continue
                pair = (c.end, s_cut)
                r = recipe_for(pair)
                if r is not None:
                    segs.setdefault(r.key, _segment(program, r))
                    todo.append(r.key)
                elif pair == (TOP, TOP):
                    todo += ["work", "exit"]
                if UNLOADED not in pair and (TOP in pair) == (pair == (TOP, TOP)):
                    added += coupling.propose(pair, c.leaves, s_leaves)
                    if not set(coupling.at(pair, c.leaves, s_leaves)) <= got.checked[i]:
                        dropped += len(coupling.establish(pair, p.condition, c.leaves, s_leaves))
                        got.checked[i] = frozenset(coupling.sets[pair])
        if progress:
            progress(f"round {rnd + 1}: {len(results)} segments ({explored} explored), "
                     f"{added} candidates proposed, {dropped} dropped")
        if (dropped == 0 and added == 0) or rnd == MAX_ROUNDS:
            break
    out = []
    for key, seg in segs.items():
        if key not in results:
            continue
        got = results[key]
        seg.seconds = got.seconds
        _judge(seg, got.paths, got.err)
        out.append(seg)
    return out, coupling


def _judge(seg: Segment, paths, err: str) -> None:
    if paths is None:
        seg.status, seg.detail = "unknown", err
        return
    seg.paths = len(paths)
    for p in paths:
        c, s = p.data["c"], p.data["s"]
        s_cut, _ = spec_end(p)
        if c.error is not None:
            seg.status, seg.detail = "unknown", f"the C: {c.error}"
            return
        pair = (c.end, s_cut)
        if (TOP in pair or UNLOADED in pair) and c.end != s_cut:
            seg.status = "differs"
            seg.detail = f"the C reaches {c.end} where the spec reaches {s_cut}"
            seg.model = _model_of(p.condition, z3.BoolVal(True))
            return
        d = _differences(p, c, s)
        if d is not None:
            seg.status, seg.detail = "differs", d[0]
            seg.model = _model_of(p.condition, d[1])
            return
    seg.status = "proved"
