"""Proof obligations and their checking, while the symbolic runs explore.

An ``Obligation`` is a family of claims over the paths of one exploration
(``init``, ``work``, ``exit``, ``loop:inflate``...; model/proofs/runs.py):
functions that, at an event of a run (a claim the engine recorded, an
environment call, a loop exit, the end of a path), return the formulas that
must hold there. The ``Checker`` (an observer of model/symbolic's explorer)
checks them at once, in the run's own solver, with the literals so far as
hypotheses plus the obligation's policy flags: a claim made at a point
shared by several paths is checked once, on the first run that reaches it.

Every check first makes sure its hypotheses are satisfiable (the path
condition with the policy): a point the policy excludes is *not applicable*;
an obligation none of whose checks is applicable is *vacuous* (its
hypotheses contradict each other), never proved. The first applicable
check of an obligation (in depth-first order) keeps its satisfying
assignment: the example ``balloonspec prove --explain`` prints.

``Tally`` is the result of one obligation: plain data, merged across worker
processes (model/proofs/run.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import time

import z3

Claims = Callable[..., Any]  # -> formula | [formula | (formula, label)] | None


@dataclass
class Obligation:
    key: str
    text: str  # what is proved, in words
    exploration: str
    policy: tuple = ()  # policy flags assumed (names of symbolic.Policy fields)
    on_claim: Claims | None = None  # (run, claim) -> claims
    on_call: Claims | None = None  # (run, call) -> claims
    on_loop_exit: Claims | None = None  # (run, visit) -> claims
    on_end: Claims | None = None  # (run, path) -> claims
    hyps: Callable | None = None  # (run, data) -> extra hypotheses (formulas)
    hyps_text: str = ""
    mode: str = "valid"  # "valid": every claim holds; "exists": some claim is satisfiable
    required: bool = True  # False: no check at all is "n/a" (the code it is about does not occur), not vacuous

    def explorations(self) -> tuple:
        return (self.exploration,) if isinstance(self.exploration, str) else tuple(self.exploration)


@dataclass
class Tally:
    """What the checks of one obligation found (plain data)."""

    key: str
    checks: int = 0
    applicable: int = 0
    fail: tuple | None = None  # (order, label, model dict, decisions, status)
    unknown: tuple | None = None  # (order, label, note)
    example: tuple | None = None  # (order, model dict)
    witness: tuple | None = None  # "exists": (order, label, model dict)
    hypotheses: set = field(default_factory=set)  # labels of the assumptions its checks had
    functions: set = field(default_factory=set)  # spec functions on its paths
    paths: int = 0  # distinct runs that checked it
    required: bool = True
    vacuity: list = field(default_factory=list)  # assumptions that emptied paths of its explorations
    note: str = ""  # standalone checks: what was checked
    seconds: float = 0.0  # solver time of its checks
    labels: set = field(default_factory=set)  # the explorations where it was checked

    def merge(self, o: "Tally") -> None:
        self.seconds += o.seconds
        self.checks += o.checks
        self.applicable += o.applicable
        self.paths += o.paths
        for f in ("fail", "unknown", "example", "witness"):
            a, b = getattr(self, f), getattr(o, f)
            if b is not None and (a is None or b[0] < a[0]):
                setattr(self, f, b)
        self.hypotheses |= o.hypotheses
        self.functions |= o.functions
        self.labels |= o.labels
        self.vacuity += [v for v in o.vacuity if v not in self.vacuity]

    @property
    def status(self) -> str:
        if self.vacuity:
            return "vacuous"
        if self.fail is not None:
            return "violated"
        if self.unknown is not None:
            return "unknown"
        if self.checks == 0 and not self.required:
            return "n/a"
        if self.applicable == 0:
            return "vacuous"
        return "proved"


def model_dict(m) -> dict:
    """Scalar values of a model (arrays left out), by name."""
    out = {}
    if m is None:
        return out
    for d in m.decls():
        if d.arity() != 0:
            continue
        v = m[d]
        if z3.is_bv_value(v):
            out[d.name()] = v.as_long()
        elif z3.is_true(v) or z3.is_false(v):
            out[d.name()] = z3.is_true(v)
    return dict(sorted(out.items()))


def _norm(claims) -> list:
    if claims is None:
        return []
    if not isinstance(claims, (list, tuple)) or (len(claims) == 2 and isinstance(claims[1], str)
                                                  and isinstance(claims[0], (z3.ExprRef, bool))):
        claims = [claims]
    out = []
    for c in claims:
        f, label = (c if isinstance(c, tuple) else (c, ""))
        if f is None:
            continue
        if isinstance(f, bool):
            f = z3.BoolVal(f)
        out.append((f, label))
    return out


def _functions(run, point=None) -> set:
    sites = run.sites if point is None else run.sites[:point.decs]
    return {s[1] for s in sites}


class Checker:
    """Observer of the explorations: checks the obligations' claims online."""

    def __init__(self, obligations: list[Obligation], flags: dict) -> None:
        self.obligations = obligations
        self.flags = flags  # policy flag name -> Z3 Bool (the runs' Policy.symbolic())
        self.tallies: dict[tuple, Tally] = {}  # (obligation key, exploration label) -> Tally
        self.required = {o.key: o.required for o in obligations}
        self.hard: set[str] = set()  # obligations whose claims the incremental solver could not settle quickly

    def tally(self, key: str, label: str) -> Tally:
        t = self.tallies.get((key, label))
        if t is None:
            t = self.tallies[(key, label)] = Tally(key, required=self.required[key])
        return t

    def begin(self, label: str) -> "Checker":
        """A view for the exploration ``label`` (the explorer calls this)."""
        view = _View(self, label)
        return view


class _View:
    def __init__(self, checker: Checker, label: str) -> None:
        self.c = checker
        self.label = label
        self.obs = [o for o in checker.obligations if label in o.explorations()]
        self.by_event = {ev: [o for o in self.obs if getattr(o, "on_" + ev) is not None]
                         for ev in ("claim", "call", "loop_exit", "end")}

    def begin(self, label: str):
        return self.c.begin(label)

    # -- events ------------------------------------------------------------------------------
    def on_claim(self, run, claim) -> None:
        self._event(run, "claim", claim, online=True)

    def on_call(self, run, call) -> None:
        self._event(run, "call", call, online=True)

    def on_loop_exit(self, run, visit) -> None:
        self._event(run, "loop_exit", visit, online=True)

    def on_end(self, run, path) -> None:
        self._event(run, "end", path, online=False)

    def _event(self, run, ev: str, item, online: bool) -> None:
        obs = self.by_event[ev]
        if not obs or (online and not run.is_new()):
            return
        batch = []
        for o in obs:
            for f, label in _norm(getattr(o, "on_" + ev)(run, item)):
                batch.append((o, f, label))
        if batch:
            self._check(run, batch)

    # -- checking ------------------------------------------------------------------------------
    def _check(self, run, batch) -> None:
        groups: dict = {}
        for o, f, label in batch:
            extra = tuple(o.hyps(run, run.data)) if o.hyps is not None else ()
            key = (o.policy, tuple(h.get_id() for h in extra), o.mode)
            groups.setdefault(key, (o.policy, extra, o.mode, []))[3].append((o, f, label))
        order = run.order()
        point = run.point()
        for policy, extra, mode, items in groups.values():
            t0 = time.perf_counter()
            try:
                self._check_group(run, order, point, policy, extra, mode, items)
            finally:
                dt = (time.perf_counter() - t0) / len(items)
                for o, _, _ in items:
                    self.c.tally(o.key, self.label).seconds += dt

    def _check_group(self, run, order, point, policy, extra, mode, items) -> None:
        assumptions = [self.c.flags[n] for n in policy] + list(extra)
        seen = set()
        for o, _, _ in items:
            t = self.c.tally(o.key, self.label)
            t.checks += 1
            t.labels.add(self.label)
            if o.key not in seen:
                t.paths += 1
                seen.add(o.key)
        model = None
        if assumptions or not run.known_sat:
            r, model = run.check(assumptions)
            if r == "unsat":
                return  # this point does not exist under the policy: not applicable
            if r == "unknown":
                for o, f, label in items:
                    self._unknown(o, order, label, "the solver could not decide the hypotheses")
                return
        hyps_labels = {t for k, t in run.labels[:point.lits] if k == "assume"}
        funcs = _functions(run)
        for o, f, label in items:
            t = self.c.tally(o.key, self.label)
            t.applicable += 1
            t.hypotheses |= hyps_labels
            t.functions |= funcs
            if t.example is None or order < t.example[0]:
                if model is None:
                    _, model = run.check(assumptions)
                t.example = (order, model_dict(model))
        if mode == "exists":
            for o, f, label in items:
                t = self.c.tally(o.key, self.label)
                if t.witness is not None and t.witness[0] <= order:
                    continue
                r, m = run.check(assumptions + [f])
                if r == "sat":
                    t.witness = (order, label, model_dict(m))
            return
        hard = self.c.hard
        easy = [it for it in items if it[0].key not in hard]
        if len(easy) > 1:  # all at once when that is quick; else one by one
            r, _ = run.check(assumptions, claim=z3.And(*[f for _, f, _ in easy]), fallback=False)
            if r == "valid":
                items = [it for it in items if it[0].key in hard]
        hard_items = [it for it in items if it[0].key in hard]
        if len(hard_items) > 1:  # the hard ones at once, in one fresh solver
            r, _ = run.check(assumptions, claim=z3.And(*[f for _, f, _ in hard_items]), quick_ms=0)
            if r == "valid":
                items = [it for it in items if it[0].key not in hard]
        for o, f, label in items:
            if o.key in hard:  # straight to a fresh solver
                r, m = run.check(assumptions, claim=f, quick_ms=0)
            else:
                r, m = run.check(assumptions, claim=f, fallback=False)
                if r == "unknown":
                    hard.add(o.key)
                    r, m = run.check(assumptions, claim=f, quick_ms=0)
            if r == "violated":
                t = self.c.tally(o.key, self.label)
                if t.fail is None or order < t.fail[0]:
                    t.fail = (order, label, model_dict(m), [(d, fc) for (_, d), fc in zip(run.decisions, run.first)],
                              "violated")
            elif r == "unknown":
                self._unknown(o, order, label, "solver says unknown")

    def _unknown(self, o, order, label, note) -> None:
        t = self.c.tally(o.key, self.label)
        if t.unknown is None or order < t.unknown[0]:
            t.unknown = (order, label, note)
