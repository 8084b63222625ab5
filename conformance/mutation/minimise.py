"""Keeping the shipped set small: which vectors added for mutants or data-flow goals can go.

Every vector of conformance/goals.py (branch, boundary and solver-chosen path
goals) and every proof witness stays: each *is* a goal. A vector added by a
search (``mutation``: it kills a mutant the others miss; ``dataflow``: it
reaches definition-use pairs the others miss) can go when the rest of the
set still reaches every data-flow pair the whole set reaches and still kills
its mutant (run on the compiled mutant). Candidates are tried data-flow
first, then mutation, each in id order, against the set as it shrinks
(greedy), so the result is deterministic.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

ADDED_KINDS = ("dataflow", "mutation")


def redundant(driver: Path, vectors: list, *, jobs: int = 0, log=lambda msg: None) -> list[str]:
    """Ids of the added vectors the rest of the set makes unnecessary."""
    from balloonspec.conformance import dataflow as D

    cov = D.coverage_by_vector(driver, vectors, jobs)
    reached = set().union(*cov.values()) if cov else set()
    kept = {v.id for v in vectors}
    by_id = {v.id: v for v in vectors}
    order = sorted((v for v in vectors if v.reason.get("kind") in ADDED_KINDS),
                   key=lambda v: (ADDED_KINDS.index(v.reason["kind"]), v.id))
    drop = []
    for v in order:
        rest = kept - {v.id}
        if not reached <= set().union(*(cov[r] for r in rest)):
            continue
        if v.reason["kind"] == "mutation" and not _killed_by(driver, v.reason["goal"], [by_id[r] for r in rest]):
            continue
        log(f"redundant: {v.id}")
        kept = rest
        drop.append(v.id)
    return drop


def _killed_by(driver: Path, mutant_id: str, vectors: list) -> bool:
    from balloonspec.conformance.vectors import write

    from .campaign import _init_worker, _kill, vector_order
    from .operators import generate

    mutant = next((m for m in generate(driver) if m.id == mutant_id), None)
    if mutant is None:  # the mutant no longer exists: the vector guards nothing
        return True
    with tempfile.TemporaryDirectory(prefix="balloonspec-minimise-") as tmp:
        d = Path(tmp) / "vectors"
        for v in vectors:
            write(v, d)
        _init_worker(str(Path(tmp) / "cache"), str(d))
        return _kill(mutant.id, mutant.apply(Path(driver).read_text()), vector_order(vectors))["status"] == "killed"
