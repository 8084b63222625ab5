"""Symbolic execution of the spec's step functions with Z3 (ops.Z3Ops).

``explore(fn)`` runs ``fn(ops)`` repeatedly with a path oracle behind
``ops.cond``: each run follows one feasible combination of branch outcomes,
until every feasible path was run. It returns one ``Path`` per path: the
path condition (a Z3 Bool) and whatever ``fn`` returned on that path. A prover
then checks a property per path (``prove_all``) or merges the paths into one
term (``merge``).

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
from typing import Any, Callable

import z3

from .ops import Z3Ops


@dataclass
class Path:
    condition: Any  # z3 BoolRef: the conjunction of branch outcomes on this path
    result: Any
    decisions: tuple  # (branch condition, outcome) in order


class _Oracle:
    def __init__(self, prefix: list[tuple[bool, bool]]) -> None:
        self.prefix = prefix
        self.trace: list[tuple[Any, bool, bool]] = []  # (cond, choice, other feasible)
        self.pc: list = []

    def _sat(self, extra) -> bool:
        s = z3.Solver()
        s.add(*self.pc, extra)
        return s.check() != z3.unsat

    def decide(self, c) -> bool:
        i = len(self.trace)
        if i < len(self.prefix):
            choice, other = self.prefix[i]
        else:
            t, f = self._sat(c), self._sat(z3.Not(c))
            choice, other = (True, f) if t else (False, False)
        self.trace.append((c, choice, other))
        self.pc.append(c if choice else z3.Not(c))
        return choice


def explore(fn: Callable[[Z3Ops], Any], *, max_paths: int = 10_000) -> list[Path]:
    """Every feasible path of ``fn(ops)`` (fn must build fresh inputs each call
    and have no effect outside the objects it creates)."""
    paths: list[Path] = []
    prefix: list[tuple[bool, bool]] = []  # (choice, other outcome still to explore)
    while True:
        oracle = _Oracle(prefix)
        result = fn(Z3Ops(oracle))
        paths.append(Path(z3.And(*oracle.pc) if oracle.pc else z3.BoolVal(True), result,
                          tuple((c, ch) for c, ch, _ in oracle.trace)))
        if len(paths) >= max_paths:
            raise RuntimeError(f"more than {max_paths} paths")
        # backtrack to the deepest decision whose other outcome is feasible and unexplored
        j = len(oracle.trace) - 1
        while j >= 0 and not oracle.trace[j][2]:
            j -= 1
        if j < 0:
            return paths
        prefix = [(ch, other) for _, ch, other in oracle.trace[:j]] + [(not oracle.trace[j][1], False)]


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
