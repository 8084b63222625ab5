"""Data-flow coverage: values carried across work cycles (and loop iterations).

A branch goal is met by one work cycle; a defect in the state the driver
carries from one cycle to the next (a counter not reset, a rate computed from
a stale value) shows only when a value defined in one cycle decides what
happens in a later one. The goals here are the *definition-use pairs that
span a boundary*:

* ``cycle``: a field of ``struct vmballoon`` (a scalar, a counter of
  ``stats``, a member of ``sysinfo``, the pointer ``dbg_entry``, the page
  lists ``pages`` and ``refused_pages``) defined in one *activation* of the
  driver (module init, a work cycle, a debugfs read, module exit; or the
  zeroed static storage at load) and used in a later activation, with no
  redefinition between;
* ``iteration``: a local variable of a function defined in one iteration of
  a loop and used after the loop's back edge (in a later iteration, or after
  the loop), with no redefinition between.

Goals come from the C: csource compiles the driver into blocks (its control
flow graph); each statement of a block says which fields and locals it
defines and uses (a field by its path from ``struct vmballoon``: ``size``,
``stats.lock``; a list is defined by ``list_add``/``list_del``/
``INIT_LIST_HEAD`` and used by a walk or ``list_empty``; ``list_del`` of an
entry defines the list its walk came from). A reaching-definitions analysis
over the blocks (each C function summarised once: the uses its entry
exposes, the definitions that reach its exit, whether it can leave a
variable untouched) gives the pairs: within a function for the loop
locals (a definition marked when it crosses a loop's back edge), and over
the sequence of activations for the fields (start -> init; init -> init,
a work cycle, a debugfs read, exit; a work cycle or a debugfs read -> a work
cycle, a debugfs read or exit; exit -> init). A site is a C function and a
driver line.

Coverage is measured by running the vectors on the *interpreted* C
(csource) with every field and local access logged with the activation (or
loop iterations) of the definition it reads. Pairs no run of the analysis's
paths can take (the analysis does not know that ``pop`` empties the list, so
a later ``pop`` has no page to take) are listed in ``UNREACHABLE`` with the
reason, as conformance/coverage.py lists unreachable branches.

The package: ``analysis`` (goals from the C), ``measure`` (the recording
interpreter), ``report`` (coverage of a vector set, the unreachable goals and
their reasons), ``search`` (scenarios for missing goals; ``shrink``).
"""
from .analysis import Analysis, CodeModel, Pair, Site, static_pairs
from .measure import recording_driver
from .report import (SCENARIOS, UNREACHABLE, Goals, coverage_by_vector, covered, dataflow_coverage, goals,
                     load_dataflow_scenarios, measure, report, save_dataflow_scenarios)
from .search import search, shrink, vector_entries

__all__ = ["Analysis", "CodeModel", "Pair", "Site", "static_pairs", "recording_driver", "SCENARIOS", "UNREACHABLE",
           "Goals", "coverage_by_vector", "covered", "dataflow_coverage", "goals", "load_dataflow_scenarios",
           "measure", "report", "save_dataflow_scenarios", "search", "shrink", "vector_entries"]
