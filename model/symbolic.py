"""Symbolic execution of the spec's step functions with Z3 (ops.Z3Ops).

``explore(fn)`` runs ``fn(ops)`` repeatedly with a path oracle behind
``ops.cond``: each run follows one feasible combination of branch outcomes,
until every feasible path was run (depth-first, the true side of a branch
first, so the order is deterministic). It returns one ``Path`` per path: the
path's literals and condition (a Z3 Bool) and whatever ``fn`` returned on that
path. A prover then checks a property per path (``prove_all``, or
model/proofs' obligations) or merges the paths into one term (``merge``).

The oracle keeps one incremental solver per run: ``hyps`` (hypotheses of
every path) are asserted first, each new branch costs one solver call (its
true side is taken if feasible, and the other side is queued; a queued side is
checked for feasibility when it is replayed). ``ops.oracle.assume(f)`` adds a
hypothesis on the current path (an invariant of a symbolic state, an
environment hypothesis on a fresh input): later branches are decided under it,
it is one of the path's literals, and a path it makes infeasible is dropped.
``ops_factory`` builds the ops of each run from the oracle (default
``Z3Ops``; model/proofs injects a broken spec's ops through it).

``SymbolicEnv`` is an environment (see model/algorithm.py) whose every answer
is a fresh Z3 variable named after the call (``alloc1.ok``, ``alloc1.pfn``,
``backdoor1.status``...), and which records the calls it received, so a
path's observable behaviour is ``env.calls``.

Example: all paths of one inflate allocation attempt from an arbitrary state::

    def one_attempt(ops):
        b = Balloon.symbolic(ops); lv = InflateLoop.symbolic(ops)
        env = SymbolicEnv(ops)
        done = algorithm.inflate_attempt(ops, b, lv, env)
        return b, lv, env, done

    paths = explore(one_attempt)
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable

import z3

from .ops import Z3Ops


class PathLimit(RuntimeError):
    """``explore`` found more than ``max_paths`` feasible paths."""


class Infeasible(Exception):
    """The current run's path became unsatisfiable (raised by the oracle; the
    run is abandoned and its path dropped)."""


@dataclass
class Path:
    literals: list  # hyps, assumptions and branch outcomes along the path, in order
    result: Any
    decisions: tuple  # (branch condition, outcome) of each oracle decision, in order

    @cached_property
    def condition(self):
        """The path condition: the conjunction of the literals (a Z3 Bool)."""
        return z3.And(*self.literals) if self.literals else z3.BoolVal(True)


class _Oracle:
    """Decides the symbolic branches of one run: replays a decision prefix,
    then takes the first feasible side of each new branch and records whether
    the other side is still to be explored (checked when it is replayed)."""

    def __init__(self, solver: z3.Solver, prefix: list[bool], literals: list) -> None:
        self.solver = solver
        self.prefix = prefix
        self.literals = literals  # starts with the hyps (asserted in solver)
        self.decisions: list[tuple[Any, bool]] = []
        self.alternatives: list[int] = []  # new decisions whose other side is to be explored

    def assume(self, f) -> None:
        """Add a hypothesis on the current path; checked by the next decision
        or at the end of the run."""
        if z3.is_false(f):
            raise Infeasible
        self.literals.append(f)
        self.solver.add(f)

    def decide(self, c) -> bool:
        n, s = len(self.decisions), self.solver
        if n < len(self.prefix):
            d = self.prefix[n]
            lit = c if d else z3.Not(c)
            s.add(lit)
            if n == len(self.prefix) - 1 and s.check() == z3.unsat:  # the flipped side
                raise Infeasible
        else:
            s.push()
            s.add(c)
            d = s.check() != z3.unsat
            s.pop()
            if d:
                self.alternatives.append(n)
            lit = c if d else z3.Not(c)
            s.add(lit)
        self.literals.append(lit)
        self.decisions.append((c, d))
        return d


def explore(fn: Callable[[Any], Any], hyps: list = (), *, max_paths: int = 10_000,
            ops_factory: Callable[[Any], Any] = Z3Ops) -> list[Path]:
    """Every feasible path of ``fn(ops)`` under ``hyps``, depth-first, true
    side first. ``fn`` must build its symbolic inputs with the ops it is given
    (each re-execution gets fresh terms of the same names, which are the same
    Z3 constants) and have no effect outside the objects it creates. Raises
    ``PathLimit`` past ``max_paths`` paths."""
    hyps = list(hyps)
    paths: list[Path] = []
    pending: list[list[bool]] = [[]]
    while pending:
        prefix = pending.pop()
        s = z3.Solver()
        s.add(*hyps)
        oracle = _Oracle(s, prefix, list(hyps))
        try:
            result = fn(ops_factory(oracle))
            feasible = s.check() != z3.unsat  # an assumption may have emptied the path
        except Infeasible:
            feasible = False
        if feasible:
            paths.append(Path(oracle.literals, result, tuple(oracle.decisions)))
            if len(paths) > max_paths:
                raise PathLimit(f"more than {max_paths} paths")
        outcomes = [d for _, d in oracle.decisions]
        for n in oracle.alternatives:  # the deepest is explored next
            pending.append(outcomes[:n] + [not outcomes[n]])
    return paths


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


class SymbolicEnv:
    """An environment answering every call with fresh Z3 variables."""

    def __init__(self, ops: Z3Ops, *, hypervisor=None, debugfs_result: int = 0) -> None:
        self.ops = ops
        self.calls: list[tuple] = []
        self.hypervisor = hypervisor
        self.debugfs_result = debugfs_result
        self._n: dict[str, int] = {}

    def _name(self, what: str) -> str:
        n = self._n[what] = self._n.get(what, 0) + 1
        return f"{what}{n}"

    def x86_hyper_is_vmware(self):
        v = self.hypervisor if self.hypervisor is not None else self.ops.var_bool(self._name("hyper"))
        self.calls.append(("hyper", v))
        return v

    def backdoor(self, cmd: int, arg):
        n = self._name("backdoor")
        status, result = self.ops.var64(n + ".status"), self.ops.var64(n + ".result")
        self.calls.append(("backdoor", cmd, arg, status, result))
        return status, result

    def alloc_page(self, gfp: int):
        n = self._name("alloc")
        ok, pfn = self.ops.var_bool(n + ".ok"), self.ops.var64(n + ".pfn")
        self.calls.append(("alloc", gfp, ok, pfn))
        return ok, pfn

    def free_page(self, pfn) -> None:
        self.calls.append(("free", pfn))

    def cond_resched(self) -> None:
        self.calls.append(("cond_resched",))

    def si_meminfo(self):
        v = self.ops.var64(self._name("totalram"))
        self.calls.append(("si_meminfo", v))
        return v

    def queue_delayed_work(self, delay: int) -> None:
        self.calls.append(("queue_work", delay))

    def cancel_delayed_work_sync(self) -> bool:
        self.calls.append(("cancel_work",))
        return True

    def debugfs_create(self, mode: int, name: str) -> int:
        self.calls.append(("debugfs_create", mode, name))
        return self.debugfs_result

    def debugfs_remove(self) -> None:
        self.calls.append(("debugfs_remove",))

    def printk(self, text: str) -> None:
        self.calls.append(("printk", text))
