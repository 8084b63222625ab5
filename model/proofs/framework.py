"""The prover's machinery: the spec under proof, validity checks, outcomes.

A proof runs the model's own functions (model/algorithm.py) over `Z3Ops`
(model/ops.py) through the symbolic engine (model/symbolic/): a branch on a
symbolic condition is decided by the explorer's path oracle, a loop by its
loop invariant. Claims are checked as the runs reach them
(model/proofs/checker.py): hyps ∧ path ∧ ¬claim unsat, else the solver's
model is the counterexample.

`Spec` is the specification under proof. By default it is the model as
installed; a test builds a broken one (`Spec(constants={...})` changes a
constant the model reads when its ops are built, `Spec(overrides={name: fn})`
replaces one of the model's functions, e.g. a step function with its clamp
dropped) and checks that the proof then fails with a counterexample.
"""
from __future__ import annotations

import contextlib
import functools
import itertools
import importlib
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import z3

from ..symbolic import Path
from ..symbolic.concretise import model_values

STATUSES = ("proved", "bounded", "violated", "unknown", "vacuous", "error")


# -- the spec under proof ------------------------------------------------------------------
_SPEC_KEYS = itertools.count()



@dataclass
class Spec:
    """The model under proof, with optional injected breakage."""

    constants: dict[str, int] = field(default_factory=dict)  # model.constants overrides
    overrides: dict[str, Callable] = field(default_factory=dict)  # algorithm function overrides
    # extra hypotheses, assumed at the start of every symbolic run: f(run data) -> Z3 Bool
    hypotheses: list[Callable] = field(default_factory=list)
    name: str = "model"
    key: int = field(default_factory=lambda: next(_SPEC_KEYS))  # cache key (never reused, unlike id())

    def module(self, name: str):
        return importlib.import_module(f"balloonspec.model.{name}")

    @contextlib.contextmanager
    def active(self):
        """Install the overrides for the duration of one check (and undo them)."""
        saved: list[tuple[Any, str, Any]] = []
        try:
            if self.constants:
                for mod_name in ("constants", "algorithm", "environment", "protocol"):
                    try:
                        mod = self.module(mod_name)
                    except ImportError:
                        continue
                    for k, v in self.constants.items():
                        if hasattr(mod, k):
                            saved.append((mod, k, getattr(mod, k)))
                            setattr(mod, k, v)
            if self.overrides:
                alg = self.module("algorithm")
                for k, fn in self.overrides.items():
                    saved.append((alg, k, getattr(alg, k)))
                    setattr(alg, k, fn)
            yield self
        finally:
            for mod, k, v in reversed(saved):
                setattr(mod, k, v)

    def ops(self, oracle=None):
        from balloonspec.model.ops import Z3Ops

        return Z3Ops(oracle)

    def fn(self, name: str) -> Callable:
        """A function of the model's algorithm, looked up at call time."""
        return getattr(self.module("algorithm"), name)


DEFAULT_SPEC = Spec()


# -- validity --------------------------------------------------------------------------------


@dataclass
class Check:
    """Result of one validity check."""

    ok: bool | None  # True valid, False counterexample, None unknown
    model: dict | None = None
    note: str = ""


def _model_dict(m: z3.ModelRef) -> dict:
    return dict(sorted(model_values(m, others_as_text=True).items()))


def valid(claim, hyps: list, timeout_ms: int = 20000) -> Check:
    """Is hyps ⇒ claim valid? (claim: a Z3 Bool or a Python bool)."""
    if isinstance(claim, bool):
        claim = z3.BoolVal(claim)
    if z3.is_true(claim):
        return Check(True)
    s = z3.Solver()
    s.set("timeout", timeout_ms)
    s.add(*hyps)
    s.add(z3.Not(claim))
    r = s.check()
    if r == z3.unsat:
        return Check(True)
    if r == z3.sat:
        return Check(False, _model_dict(s.model()))
    return Check(None, note=str(s.reason_unknown()))


def satisfiable(formula, hyps: list, timeout_ms: int = 20000) -> Check:
    """Is hyps ∧ formula satisfiable? ok=True with the model when it is."""
    s = z3.Solver()
    s.set("timeout", timeout_ms)
    s.add(*hyps)
    s.add(formula)
    r = s.check()
    if r == z3.sat:
        return Check(True, _model_dict(s.model()))
    if r == z3.unsat:
        return Check(False)
    return Check(None, note=str(s.reason_unknown()))


# -- outcomes -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    status: str  # proved | bounded | violated | unknown | error
    detail: str = ""
    counterexample: dict | None = None  # solver values (state before the step, inputs)
    obligations: list[str] = field(default_factory=list)  # what was discharged
    seconds: float = 0.0
    explain: list[dict] = field(default_factory=list)  # per obligation: hypotheses, example, C lines

    def to_json(self) -> dict:
        return {
            "status": self.status,
            "detail": self.detail,
            "counterexample": self.counterexample,
            "obligations": self.obligations,
            "seconds": round(self.seconds, 3),
            "explain": self.explain,
        }


def timed(fn: Callable[[], Outcome]) -> Outcome:
    t = time.perf_counter()
    try:
        out = fn()
    except Exception as e:  # a proof that crashes is an error, reported, not raised
        import traceback

        out = Outcome("error", f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=6)}")
    out.seconds = time.perf_counter() - t
    return out


@functools.lru_cache(maxsize=4096)
def U(v: int):
    return z3.BitVecVal(v, 32)


def ule(a, b):
    return z3.ULE(a, b)


def ult(a, b):
    return z3.ULT(a, b)


def between(x, lo: int, hi: int):
    return z3.And(z3.ULE(U(lo), x), z3.ULE(x, U(hi)))
