"""The symbolic runs the proofs check: the spec's own ``init``, ``work`` and
``exit`` (model/algorithm.py, looked up in the spec under proof), each
explored once with every environment policy as a hypothesis flag and every
loop summarised by its registered invariant (model/proofs/loops.py).

* ``init``: from the zeroed static struct, any host state.
* ``work``: one whole cycle from any state satisfying the cycle invariant
  (model/proofs/cycle.py).
* ``exit``: module exit from any state satisfying the cycle invariant.
* ``work/benign``: one cycle with the benign host and allocator fixed (not
  flags): the progress proofs' runs, pruned to what that environment allows.

Each path's ``data`` holds what claims read: ``b`` (the balloon, at the end
of the path), ``pre`` (a copy at the start), ``env`` (calls, ghost),
``g0`` (the ghost at the start), ``policy`` (the flags), ``rc`` (init's
return code).
"""
from __future__ import annotations

from ..state import Balloon
from ..symbolic import Ghost, Policy, SymbolicEnv
from ..symbolic.loops import assume_list_facts
from . import cycle
from .framework import Spec

EXPLORATIONS = ("init", "work", "exit", "work/benign")
BENIGN_LOOPS = "/consistent+host_benign+alloc_low+alloc_benign"  # the generic loops' label suffix under it


def exploration(name: str, spec: Spec):
    """fn(ops) for ``symbolic.explore``: one run of ``name`` (the spec's own function)."""

    def start(ops, b, ghost):
        run = ops.oracle
        policy = Policy.named("benign", "benign") if name == "work/benign" else Policy.symbolic()
        env = SymbolicEnv(ops, b=b, policy=policy, ghost=ghost, hypervisor=True if name != "init" else None)
        d = run.data
        d.update(b=b, pre=b.copy(), env=env, g0=ghost.copy(), policy=policy)
        return env, d

    def fn(ops):
        A = spec.module("algorithm")
        if name == "init":
            b = Balloon(ops)  # the static struct, zeroed
            env, d = start(ops, b, Ghost.fresh("host."))
            for h in spec.hypotheses:
                ops.oracle.assume(h(d), "a hypothesis of the spec under proof")
            d["rc"] = A.init(ops, b, env)
            return d
        b = Balloon.symbolic(ops, "b.")
        ghost = Ghost.fresh("host.")
        env, d = start(ops, b, ghost)
        for label, f in _start(b, ghost, d["policy"]):
            ops.oracle.assume(f, label)
        assume_list_facts(ops.oracle, {"b": b})
        for h in spec.hypotheses:
            ops.oracle.assume(h(d), "a hypothesis of the spec under proof")
        getattr(A, name.split("/")[0])(ops, b, env)
        return d

    return fn


_START: dict = {}


def _start(b, ghost, policy):
    """The cycle-start hypotheses (memoised: every run builds the same terms)."""
    key = (b.size.get_id(), ghost.pending.get_id(), str(policy.consistent), str(policy.host_benign))
    if key not in _START:
        _START[key] = cycle.start_hypotheses(b, ghost, policy)
    return _START[key]
