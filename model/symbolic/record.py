"""Decision logging: which decisions a run of the spec made, where, and how.

``RecordingOps(inner, split=..., sink=...)`` wraps a ``Z3Ops`` (with an
explore oracle): every ``ops.cond`` is logged as (site, outcome, condition),
including those whose condition is constant on the path (symbolically they
are no branch; a path goal still counts them; their condition is then
None). ``split(site)`` says for which selections (``ops.ite`` / ``umin`` /
``umax``, the ``?:`` and ``min()``/``max()`` of the C) the run should branch
instead of building an ``If`` term: those are logged too. Sites are (file,
function, line) of the spec code. ``sink(site, outcome, condition)``
receives each entry (default: appended to ``.log``).
"""
from __future__ import annotations

import sys

import z3


class RecordingOps:
    """Z3Ops whose decisions (selections included, where ``split`` says) are logged."""

    def __init__(self, inner, split=lambda site: True, sink=None) -> None:
        self._inner = inner
        self._split = split
        self.log: list[tuple[tuple[str, str, int], bool, object]] = []
        self._sink = sink or (lambda site, outcome, cond: self.log.append((site, outcome, cond)))

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def assume(self, c, why: str = "assumption") -> None:
        self._inner.oracle.assume(c, why)

    def decide(self, c, site) -> bool:
        if isinstance(c, bool):
            self._sink(site, c, None)
            return c
        oracle = self._inner.oracle
        n = len(oracle.decisions) if oracle is not None else 0
        r = self._inner.cond(c)
        symbolic = oracle is not None and len(oracle.decisions) > n
        self._sink(site, bool(r), oracle.decisions[-1][0] if symbolic else None)
        return r

    def cond(self, c):
        return self.decide(c, _site())

    def ite(self, c, a, b):
        site = _site()
        if not self._split(site):
            return self._inner.ite(c, a, b)
        return a if self.decide(c, site) else b

    def umin(self, a, b):
        site = _site()
        if not self._split(site):
            return self._inner.umin(a, b)
        return a if self.decide(z3.ULT(a, b), site) else b

    def umax(self, a, b):
        site = _site()
        if not self._split(site):
            return self._inner.umax(a, b)
        return a if self.decide(z3.UGT(a, b), site) else b

    def loop(self, name, test, step, *args):
        # the loop's own code must see this object (its decisions are logged)
        handler = getattr(self._inner.oracle, "loop", None)
        if handler is not None:
            return handler(self, name, test, step, args)
        while self.cond(test(self, *args)):
            if step(self, *args):
                break


def _site() -> tuple[str, str, int]:
    """(file, function, line) of the code that called cond/ite/umin/umax."""
    f = sys._getframe(2)
    return (f.f_code.co_filename, f.f_code.co_name, f.f_lineno)
