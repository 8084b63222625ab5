"""Path exploration: every feasible path of a function of the spec, by re-execution.

``explore(fn)`` runs ``fn(ops)`` repeatedly with a ``Run`` (the path oracle)
behind ``ops.cond``: each run follows one feasible combination of branch
outcomes, until every feasible path was run (depth-first, the true side of a
branch first, so the order is deterministic). It returns one ``Path`` per
path: its literals (each with a label saying what it is), its decisions, what
``fn`` returned, the claims recorded along it and the loops it met.

One incremental solver per run: the hypotheses ``hyps`` are asserted first;
each new branch costs at most two solver calls (both sides are checked; the
true side is taken if feasible, the false side queued if feasible), a
replayed one none. ``run.assume(f,
why)`` adds a hypothesis on the current path (an invariant of a symbolic
state, an environment policy on a fresh input); ``run.claim(kind, text, f)``
records a property the path must satisfy at this point (checked later, with
the literals up to here). A path that a *branch* makes infeasible is simply
not a path; a path that an *assumption* empties is a vacuity event
(``Exploration.vacuous``): some hypothesis contradicts what came before, and
every claim that depends on it would hold vacuously.

Each decision carries a *first-choice* flag (the side depth-first search
takes first). A path is the canonical representative of a point of its run
when every decision after that point is a first choice: exactly one path
per explored prefix is, so a claim recorded at a point is checked once, on
that path, however many paths share the prefix (``Path.canonical``).

``explore(..., prefix=...)`` explores only the paths beneath a decision
prefix and ``frontier()`` splits the search into prefixes, so that workers
can explore disjoint parts of one search (model/proofs/run.py does).
"""
from __future__ import annotations

import sys
from collections import deque
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable

import z3

from ..ops import Z3Ops


class PathLimit(RuntimeError):
    """``explore`` found more than ``max_paths`` feasible paths."""


class Infeasible(Exception):
    """The current run's path became unsatisfiable (the run is abandoned).
    ``vacuous``: an assumption emptied it (not a branch)."""

    def __init__(self, vacuous: bool = False, suspects: tuple = ()) -> None:
        super().__init__("infeasible path")
        self.vacuous, self.suspects = vacuous, suspects


class PathEnd(Exception):
    """A run stops before ``fn`` returns: ``kind`` "iteration" (one loop
    iteration ended: its claims are recorded) or "cut" (stopped at a loop
    head); ``data`` says where."""

    def __init__(self, kind: str, data: Any = None) -> None:
        super().__init__(kind)
        self.kind, self.data = kind, data


@dataclass(frozen=True)
class Point:
    """A position in a run: the number of literals and decisions so far."""

    lits: int
    decs: int


@dataclass
class Claim:
    kind: str  # "list", "loop-entry", "loop-preserved", or a client's kind
    text: str
    formula: Any
    point: Point
    loop: Any = None  # the LoopVisit it belongs to, if any


@dataclass
class VacuityEvent:
    """An assumption emptied a path: the decisions before it and the
    assumptions added since the last satisfiable check (the suspects)."""

    decisions: tuple
    suspects: tuple


_ENGINE_FILES: set = set()


def _engine_file(path: str) -> bool:
    return path in _ENGINE_FILES


def site_of_caller() -> tuple[str, str, int]:
    """(file, function, line) of the innermost frame outside model/ops.py and
    the engine: the spec code that made the decision or the call."""
    f = sys._getframe(1)
    while f is not None and _engine_file(f.f_code.co_filename):
        f = f.f_back
    if f is None:
        return ("?", "?", 0)
    return (f.f_code.co_filename, f.f_code.co_name, f.f_lineno)


@dataclass
class Path:
    literals: list  # hyps, assumptions and branch outcomes along the path, in order
    result: Any
    decisions: tuple  # (branch condition, outcome) of each oracle decision, in order
    labels: list = field(default_factory=list)  # per literal: (kind, text); kind hyp | assume | branch
    first: tuple = ()  # per decision: taken first by depth-first search
    sites: tuple = ()  # per decision: (file, function, line)
    kind: str = "return"  # return | iteration | cut
    end: Any = None  # PathEnd data for iteration / cut paths
    claims: list = field(default_factory=list)
    loops: list = field(default_factory=list)  # LoopVisit records, in order
    model: Any = None  # a model of the literals, when one was computed
    data: dict = field(default_factory=dict)  # what the run stored (run.data)
    sat: bool = True  # the literals are known satisfiable
    new_from: int = 0  # decisions shared with earlier paths of the search

    @property
    def prefix(self) -> list:
        """The decision prefix that re-runs this path (``explore(prefix=..., single=True)``)."""
        return [(d, f) for (_, d), f in zip(self.decisions, self.first)]

    @cached_property
    def condition(self):
        """The path condition: the conjunction of the literals (a Z3 Bool)."""
        return z3.And(*self.literals) if self.literals else z3.BoolVal(True)

    @property
    def key(self) -> tuple:
        """Orders paths as depth-first search met them (true side first)."""
        return tuple(not o for _, o in self.decisions)

    def canonical(self, point: Point) -> bool:
        """Is this the one path on which a claim made at ``point`` is checked?"""
        return all(self.first[point.decs:])


class Exploration(list):
    """The paths of one search (a list of Path) and its vacuity events."""

    def __init__(self, paths=(), vacuous=()) -> None:
        super().__init__(paths)
        self.vacuous: list[VacuityEvent] = list(vacuous)


class QueryCache:
    """Answers of solver queries, by the identity of their formulas (opt-in,
    ``reuse_queries()``): explorations of specs that differ in one function
    (the spec-mutation campaign) meet the same queries on every path the
    difference does not reach; those are answered from here. Z3 shares equal
    terms within a context, so equal ids are equal formulas; each entry keeps
    its terms alive, so an id is never reused for another term. Only definite
    answers (sat with its model, unsat) are kept."""

    def __init__(self, limit: int = 500_000) -> None:
        self.answers: dict = {}
        self.limit = limit
        self.hits = self.misses = 0

    @staticmethod
    def key(literals, goal) -> tuple:
        return (tuple(x.get_id() for x in literals), tuple(g.get_id() for g in goal))

    def get(self, key):
        a = self.answers.get(key)
        if a is None:
            self.misses += 1
            return None
        self.hits += 1
        return a[0]

    def put(self, key, literals, goal, answer) -> None:
        if len(self.answers) < self.limit:
            self.answers[key] = (answer, tuple(literals), tuple(goal))


QUERIES: QueryCache | None = None


def reuse_queries(on: bool = True) -> QueryCache | None:
    """Answer repeated solver queries from a cache (this process and the ones
    it forks afterwards); ``on=False`` drops it."""
    global QUERIES
    QUERIES = QueryCache() if on else None
    return QUERIES


def _cached_check(solver, literals, goal: list, timeout_ms: int | None = None, lookup: bool = True):
    """``solver.check(*goal)`` (the solver holds ``literals``), through the
    query cache when it is on (``lookup=False``: the caller looked already).
    Returns (z3 result, model or None)."""
    cache = QUERIES
    key = None
    if cache is not None:
        key = cache.key(literals, goal)
        a = cache.get(key) if lookup else None
        if a is not None:
            return a
    if timeout_ms is not None:
        solver.set("timeout", timeout_ms)
    try:
        r = solver.check(*goal)
        m = solver.model() if r == z3.sat else None
    finally:
        if timeout_ms is not None:
            solver.set("timeout", 4294967295)
    if cache is not None and r != z3.unknown:
        cache.put(key, literals, goal, (r, m))
    return r, m


class Run:
    """The path oracle of one run (``ops.oracle``): replays a decision prefix,
    then takes the first feasible side of each new branch and queues the
    other; holds the literals, claims and loop records of the run."""

    def __init__(self, solver: z3.Solver, prefix: list, hyps: list, loops=None, observer=None,
                 search=None, new_from: int | None = None) -> None:
        self.solver = solver
        self.search = search  # identifies the search this run belongs to (memo keys)
        # points with at least this many decisions are met for the first time in the search
        self.new_from = (len(prefix) if prefix else 0) if new_from is None else new_from
        self.observer = observer
        self.prefix = prefix  # [(outcome, first)]
        self.literals = list(hyps)
        self.labels = [("hyp", "hypothesis of the exploration")] * len(hyps)
        self.decisions: list[tuple[Any, bool]] = []
        self.first: list[bool] = []
        self.sites: list = []
        self.alternatives: list[int] = []  # new decisions whose other side is to be explored
        self.claims: list[Claim] = []
        self.loops: list = []
        self.policy = loops
        self.instances: dict[str, int] = {}
        self.suspects: list = []  # assumptions since the last satisfiable check
        self.data: dict = {}  # per-run scratch space for loop policies and clients

    # -- hypotheses and claims --------------------------------------------------------------
    def assume(self, f, why: str = "assumption") -> None:
        """Add a hypothesis on the current path."""
        if isinstance(f, bool):
            f = z3.BoolVal(f)
        self.literals.append(f)
        self.labels.append(("assume", why))
        self.solver.add(f)
        self.suspects.append(why)
        if z3.is_false(f):
            raise Infeasible(True, tuple(self.suspects))

    def claim(self, kind: str, text: str, f, loop=None) -> None:
        """Record that ``f`` must hold here (given the literals so far)."""
        if isinstance(f, bool):
            f = z3.BoolVal(f)
        c = Claim(kind, text, f, self.point(), loop)
        self.claims.append(c)
        self.observe("claim", c)

    def point(self) -> Point:
        return Point(len(self.literals), len(self.decisions))

    # -- observers: claims checked while the run is at their point ---------------------------
    def observe(self, event: str, item) -> None:
        """Tell the exploration's observer (if any) about a claim, a call or a loop exit."""
        if self.observer is not None:
            getattr(self.observer, "on_" + event)(self, item)

    def is_new(self, point: Point | None = None) -> bool:
        """Is this point met for the first time in the search? (Points before
        the replayed prefix's last decision were met by an earlier run.)"""
        d = len(self.decisions) if point is None else point.decs
        return d >= self.new_from

    def order(self, point: Point | None = None) -> tuple:
        """When depth-first search first met this point (comparable with Path.key)."""
        d = len(self.decisions) if point is None else point.decs
        return tuple(not o for _, o in self.decisions[:d])

    def check(self, assumptions=(), claim=None, timeout_ms: int = 60000, quick_ms: int = 500,
              fallback: bool = True):
        """Check, with the literals so far: are ``assumptions`` satisfiable
        (claim None), or is ``claim`` valid under them? Returns (result, model):
        result "sat"/"unsat"/"unknown" for satisfiability; for a claim "valid",
        "violated" (model: the counterexample) or "unknown".

        The run's incremental solver answers most checks in milliseconds; one
        it cannot answer within ``quick_ms`` is put to a fresh solver, whose
        first check preprocesses (solving equations, bit-blasting) and is often
        much faster on hard bit-vector claims (``fallback=False``: do not;
        ``quick_ms=0``: go to the fresh solver at once)."""
        goal = list(assumptions) + ([z3.Not(claim)] if claim is not None else [])
        r, m = z3.unknown, None
        key = QUERIES.key(self.literals, goal) if QUERIES is not None else None
        cached = QUERIES.get(key) if key is not None else None
        if cached is not None:
            r, m = cached
        elif quick_ms > 0:
            r, m = _cached_check(self.solver, self.literals, goal, quick_ms, lookup=False)
        if r == z3.unknown and fallback:
            fresh = z3.SolverFor("QF_ABV")
            fresh.set("timeout", timeout_ms)
            fresh.add(*self.literals)
            fresh.add(*goal)  # asserted, not assumed: the first check preprocesses them too
            r = fresh.check()
            m = fresh.model() if r == z3.sat else None
            if key is not None and r != z3.unknown:
                QUERIES.put(key, self.literals, goal, (r, m))
        if claim is None:
            if r == z3.sat:
                if not assumptions:
                    self.suspects = []
                return "sat", m
            return ("unsat" if r == z3.unsat else "unknown"), None
        if r == z3.unsat:
            return "valid", None
        if r == z3.sat:
            return "violated", m
        return "unknown", None

    @property
    def known_sat(self) -> bool:
        """The literals so far are known satisfiable (no assumption since the last check)."""
        return not self.suspects

    def next_instance(self, name: str) -> int:
        k = self.instances[name] = self.instances.get(name, 0) + 1
        return k

    # -- branches ----------------------------------------------------------------------------
    def decide(self, c, site=None) -> bool:
        n, s = len(self.decisions), self.solver
        if n < len(self.prefix):  # replayed: both sides were checked when first met
            d, first = self.prefix[n]
            lit = c if d else z3.Not(c)
        else:
            first = True
            d = _cached_check(s, self.literals, [c])[0] != z3.unsat
            if d:
                if _cached_check(s, self.literals, [z3.Not(c)])[0] != z3.unsat:
                    self.alternatives.append(n)
            elif self.suspects and _cached_check(s, self.literals, [])[0] == z3.unsat:
                raise Infeasible(True, tuple(self.suspects))
            self.suspects = []
            lit = c if d else z3.Not(c)
        s.add(lit)
        self.literals.append(lit)
        self.labels.append(("branch", ""))
        self.decisions.append((c, d))
        self.first.append(first)
        self.sites.append(site or site_of_caller())
        return d

    # -- loops ---------------------------------------------------------------------------------
    def loop(self, ops, name: str, test, step, args) -> None:
        if self.policy is None:
            while ops.cond(test(ops, *args)):
                if step(ops, *args):
                    break
            return
        self.policy.loop(self, ops, name, test, step, args)


class Search:
    """Identifies one search (runs of one ``explore``/``frontier`` call build the same terms)."""

    __slots__ = ("fn",)

    def __init__(self, fn) -> None:
        self.fn = fn


def _run_once(fn, hyps, prefix, ops_factory, loops, observer=None, single=False, search=None, new_from=None):
    """One run under ``prefix``: (Path or None, alternatives, vacuity event or None)."""
    s = z3.Solver()
    s.add(*hyps)
    run = Run(s, prefix, hyps, loops, observer, search, new_from)
    ops = ops_factory(run)
    kind, end, result, vac = "return", None, None, None
    try:
        try:
            result = fn(ops)
        except PathEnd as e:
            kind, end = e.kind, e.data
        r = z3.sat
        if run.suspects:  # assumptions since the last satisfiable check: still satisfiable?
            r = _cached_check(s, run.literals, [])[0]
            if r == z3.unsat:
                raise Infeasible(True, tuple(run.suspects))
    except Infeasible as e:
        path = None
        if e.vacuous:
            vac = VacuityEvent(tuple(o for _, o in run.decisions), e.suspects)
    else:
        path = Path(run.literals, result, tuple(run.decisions), run.labels, tuple(run.first), tuple(run.sites),
                    kind, end, run.claims, run.loops, None, run.data, r == z3.sat, run.new_from)
        if observer is not None:
            observer.on_end(run, path)
    if single:
        return path, [], vac
    outcomes = [(d, f) for (_, d), f in zip(run.decisions, run.first)]
    alts = [outcomes[:n] + [(not outcomes[n][0], False)] for n in run.alternatives]
    return path, alts, vac


def explore(fn: Callable[[Any], Any], hyps: list = (), *, max_paths: int = 10_000,
            ops_factory: Callable[[Any], Any] = Z3Ops, loops=None, prefix: list | None = None,
            on_path: Callable[[Path], Any] | None = None, observer=None, single: bool = False,
            label: str = "", new_from: int | None = None) -> Exploration:
    """Every feasible path of ``fn(ops)`` under ``hyps``, depth-first, true
    side first. ``fn`` must build its symbolic inputs with the ops it is given
    (each re-execution gets fresh terms of the same names, which are the same
    Z3 constants) and have no effect outside the objects it creates.

    ``loops``: the loop policy (model/symbolic/loops.py; default: a loop is
    executed, each test a branch). ``prefix``: explore only the paths beneath
    this decision prefix (a list of (outcome, first) pairs, see
    ``frontier``). ``on_path``: called with each path as it is found; the
    paths are then not kept (the exploration holds the callback's results in
    ``.results``). ``observer``: told of every claim, call and loop exit while
    the run is there (``on_claim``, ``on_call``, ``on_loop_exit``) and of each
    path at its end (``on_end``), so that it can check claims in the run's
    own solver (``run.check``; ``run.is_new`` says whether a point is met for
    the first time). ``single``: run only the path of ``prefix``;
    ``new_from``: with ``single``, the decisions that path shares with paths
    already run (``Path.new_from``: only later points are new). Raises
    ``PathLimit`` past ``max_paths`` paths."""
    hyps = list(hyps)
    out = Exploration()
    out.results = []
    pending: list = [list(prefix or [])]
    count = 0
    if observer is not None and hasattr(observer, "begin"):
        observer = observer.begin(label)
    search = Search(fn)
    while pending:
        path, alts, vac = _run_once(fn, hyps, pending.pop(), ops_factory, loops, observer, single, search, new_from)
        if vac is not None:
            out.vacuous.append(vac)
        if path is not None:
            count += 1
            if count > max_paths:
                raise PathLimit(f"more than {max_paths} paths")
            if on_path is None:
                out.append(path)
            else:
                out.results.append(on_path(path))
        pending.extend(alts)  # the deepest is explored next
    return out


def frontier(fn: Callable[[Any], Any], hyps: list = (), *, width: int, ops_factory=Z3Ops, loops=None,
             on_path: Callable[[Path], Any] | None = None, observer=None, label: str = "") -> tuple[list, Exploration]:
    """Split a search: explore shallowest-first until ``width`` prefixes are
    pending (or the search is done). Returns (pending prefixes, the
    exploration of the paths found meanwhile); ``explore(..., prefix=p)`` of
    each pending prefix finds the rest, disjointly."""
    hyps = list(hyps)
    out = Exploration()
    out.results = []
    pending = deque([[]])
    if observer is not None and hasattr(observer, "begin"):
        observer = observer.begin(label)
    search = Search(fn)
    while pending and len(pending) < width:
        path, alts, vac = _run_once(fn, hyps, pending.popleft(), ops_factory, loops, observer, False, search)
        if vac is not None:
            out.vacuous.append(vac)
        if path is not None:
            if on_path is None:
                out.append(path)
            else:
                out.results.append(on_path(path))
        pending.extend(alts)
    return list(pending), out


def merge(paths: list[Path], value: Callable[[Any], Any]):
    """One Z3 term equal to ``value(path.result)`` on every path."""
    term = value(paths[-1].result)
    for p in reversed(paths[:-1]):
        term = z3.If(p.condition, value(p.result), term)
    return term


def prove_all(paths: list[Path], prop: Callable[[Any], Any], assume=None) -> list[tuple[Path, Any]]:
    """Check ``assume -> prop(result)`` on every path. Returns the counterexamples
    as (path, model); empty means proved."""
    bad = []
    for p in paths:
        s = z3.Solver()
        if assume is not None:
            s.add(assume)
        s.add(p.condition, z3.Not(prop(p.result)))
        if s.check() == z3.sat:
            bad.append((p, s.model()))
    return bad
