"""Proofs about the seed driver, run on the model's own functions with Z3.

* catalogue.py: the invariant catalogue (id, statement, method, expected
  outcome, check function).
* harness.py: symbolic runs of model/algorithm.py (loops by loop invariants
  over one call of the model's step function, the work cycle by inductive
  invariants), with a ghost-instrumented symbolic environment.
* framework.py: validity checks, obligations, the injectable `Spec` (paths
  are explored by model/symbolic.py's `explore`).
* witnesses.py: each finding as a replayable Scenario, with predicates that
  recognise the violation in a trace (predicted or observed).
* run.py: `run_catalogue()` and the CLI's table and exit code.
* docs.py: specs/invariants.md (generated) and the staleness check.
"""
from .run import exit_code, format_table, run_catalogue  # noqa: E402

__all__ = ["exit_code", "format_table", "run_catalogue"]
