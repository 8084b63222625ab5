"""The C front end: a driver source of the family, read and run by the project.

* ``preprocess``: ``gcc -E`` with the analysis headers (``include/``);
* ``parse``: the pycparser AST with coordinates in the driver source, the
  function, struct and global tables (the layer the mutant generator and
  the traceability docs reuse);
* ``compile``/``lower``/``expr``: the AST compiled once into Python blocks over
  model/ops.py (concrete ints or Z3 bit-vectors);
* ``runtime``, ``kernel``, ``lists``, ``printf``: the interpreter's state,
  the kernel API it implements over the scenario environment, the list model
  and C printf;
* ``run``: scenarios run by the interpreted C (``predict_c``), through
  model/predict.py's step loop.

Errors are ``errors.CFrontError`` subclasses naming the construct and its
line: ``Unsupported`` (outside the C subset), ``DriverFault`` (what would
crash a compiled build), ``PreprocessError``, ``CSyntaxError``.
"""
