"""The symbolic engine: the spec's own functions driven over Z3, for every client.

The proofs (model/proofs/), the path goals (conformance/pathgoals.py) and the
refinement checker run the spec (model/algorithm.py) through this package; it
is the only place that builds symbolic environments, explores paths and
handles loops.

Modules (one purpose each):

* ``explore``: ``explore(fn, hyps, loops=..., prefix=..., on_path=...)``
  runs ``fn(ops)`` once per feasible path (re-execution, depth-first, the
  true side first) and returns the ``Path``s: literals with labels
  (hypothesis / assumption / branch), decisions with their sites, result,
  kind ("return", "iteration", "cut"), the claims recorded along the path
  (``run.claim``), the loops met (``LoopVisit``), a model of the path.
  ``Exploration.vacuous`` lists the paths an assumption emptied (a
  contradictory hypothesis). ``frontier`` splits one search into disjoint
  prefixes for parallel workers.
* ``env``: ``SymbolicEnv`` (fresh answers named after the call, 32-bit host
  registers, allocator and host ``Policy`` as hypotheses, ghost state of the
  host's locks and reset, call counters) and its ``Call`` records.
* ``loops``: what ``ops.loop`` means: ``Summarise(invariants)`` (claim the
  registered loop invariant on entry, havoc what the loop writes — inferred by
  running one iteration from a fresh state — assume the invariant, then
  either one iteration ending with the claim that the invariant is
  preserved, or the exit continuing after the loop), ``Cut`` (stop at the loop
  head), ``Unroll``; ``head_state`` starts a loop body from any state at its
  head.
* ``frame``: state objects as trees of leaves (snapshot, havoc, fresh copies).
* ``record``: ``RecordingOps``, decisions logged with their spec sites
  (selections ``ite``/``min``/``max`` split where asked).
* ``merge``: ``merged_call``, a callee's paths merged into one step of the
  caller's run (its state an if-then-else, its calls guarded).
* ``concretise``: ``solve`` (the least model of a path condition) and
  ``value``: from a path to the numbers a scenario needs.

Client API (what the refinement checker uses), in short::

    from balloonspec.model.symbolic import explore, SymbolicEnv, Policy, Cut, Summarise
    def fn(ops):
        b = given_state(ops)                 # any symbolic Balloon (lists included)
        env = SymbolicEnv(ops, b=b, policy=Policy.named("any"))
        algorithm.work(ops, b, env)          # or a loop body: test(ops, *args) / step(ops, *args)
        return b, env
    for p in explore(fn, loops=Cut()):       # stop at every loop head ...
        p.kind, p.end                        # "cut" and the LoopVisit (state at the head) or "return"
        p.result[1].calls                    # the environment calls of the path, in order (Call records)
        p.condition, p.claims, p.model
    explore(fn, loops=Summarise(invariants)) # ... or summarise loops by their invariants

A loop policy is chosen per exploration; a client may write its own (any
object with ``loop(run, ops, name, test, step, args)``).
"""
from __future__ import annotations

import os

from . import concretise, env, explorer as _explore_mod, frame, loops, merge, record
from .concretise import solve
from .env import Call, Ghost, Policy, SymbolicEnv
from .explorer import (Claim, Exploration, Infeasible, Path, PathEnd, PathLimit, Point, Run, VacuityEvent, explore,
                      frontier, merge, prove_all)
from .loops import Cut, LoopCtx, LoopInvariant, LoopVisit, Summarise, Unroll, head_state
from .merge import merged_call
from .record import RecordingOps

# frames of these files are the engine's, not the spec's (decision and call sites skip them)
_here = os.path.dirname(os.path.abspath(__file__))
_explore_mod._ENGINE_FILES.update(
    os.path.join(_here, f) for f in os.listdir(_here) if f.endswith(".py"))
_explore_mod._ENGINE_FILES.add(os.path.join(os.path.dirname(_here), "ops.py"))
_explore_mod._ENGINE_FILES.add(os.path.join(os.path.dirname(_here), "state.py"))

__all__ = [
    "Call", "Claim", "Cut", "Exploration", "Ghost", "Infeasible", "LoopCtx", "LoopInvariant", "LoopVisit", "Path",
    "PathEnd", "PathLimit", "Point", "Policy", "RecordingOps", "Run", "Summarise", "SymbolicEnv", "Unroll",
    "VacuityEvent", "concretise", "env", "explore", "frame", "frontier", "head_state", "loops", "merge",
    "merged_call", "prove_all", "record", "solve",
]
