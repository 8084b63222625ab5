"""Proofs about the seed driver, run on the model's own functions with Z3.

* catalogue.py: the invariant catalogue (id, statement, method, expected
  outcome, plan: the obligations that make each proof).
* cycle.py: the cycle invariant; loops.py: the loop invariants, attached to
  the spec's loops by name; lists.py: the lemmas that make the symbolic page
  lists lists.
* runs.py: the symbolic runs the obligations are about (the spec's own
  init/work/exit, through the engine of model/symbolic/).
* checker.py: obligations and their checking while the runs explore
  (non-vacuity included); run.py: sessions, parallel workers, outcomes, the
  CLI's table, --explain and exit code.
* framework.py: the injectable `Spec`, validity checks, outcomes.
* witnesses.py: each finding as a replayable Scenario, with predicates that
  recognise the violation in a trace (predicted or observed).
* docs.py: specs/invariants.md and specs/findings.md (generated).
"""
from .run import exit_code, format_table, run_catalogue  # noqa: E402

__all__ = ["exit_code", "format_table", "run_catalogue"]
