"""Mutation analysis: how strong the shipped vectors are, measured on mutants of the C.

* ``source``: the driver source as positioned tokens (operand and statement
  extents, the driver's ``#define`` families);
* ``operators``: every first-order mutant of a driver source, as an edit of its
  original text at the coordinates the pycparser AST gives;
* ``tce``: Trivial Compiler Equivalence (object code signatures, both configs);
* ``campaign``: triage and the kill matrix, in a process pool;
* ``survivors``: the deciders a surviving mutant is offered to; ``equivalence``
  (with ``cexpr``: C expressions as Z3 terms) the Z3 arguments of equivalence;
  ``search``: the differential search for a distinguishing scenario, and the
  store of those scenarios (``killers.json``) the shipped set is generated from;
* ``commands``: ``balloonspec mutate``.
"""
