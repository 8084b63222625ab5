"""What becomes of a mutant the shipped vectors do not kill.

A survivor is either equivalent to the seed (no environment tells them apart)
or the vectors miss a behaviour. Each is offered to the *deciders*, in order;
a decider returns a ``Decision``:

* ``equivalent`` with a proof the report can show (its ``method`` and
  ``text``; ``summary()`` is what the kill matrix prints as ``killed_by``),
* ``differs`` with a distinguishing scenario (search.py turns it into a
  vector of the shipped set),
* or None when it cannot tell (the next decider is asked).

A mutant no decider decides stays ``survived`` (undecided: never presumed
equivalent). The deciders today are the Z3 arguments of equivalence.py
(``argument_deciders``: cheap, asked before a mutant runs). The refinement
checker (`balloonspec refine`) plugs in as one more decider: a callable
``(mutant, mutant_source_path, seed_path) -> Decision | None`` appended to
``DECIDERS``, asked for the mutants the vectors leave alive. Its
``equivalent`` verdict makes them ``equivalent_proved`` (its ``text`` is the
proof shown in the kill matrix); a ``differs`` verdict with a ``scenario``
(and ``details["debugfs"]``) is what ``balloonspec mutate --search`` confirms
on the compiled mutant and adds to the vectors, before any search of its own.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .operators import Mutant


@dataclass
class Decision:
    status: str  # equivalent | differs
    method: str  # e.g. "z3-local", "refinement", "search"
    text: str  # the argument (equivalent) or the divergence (differs)
    details: dict = field(default_factory=dict)
    scenario: object = None  # for differs: the distinguishing scenario

    def summary(self) -> str:
        return f"{self.method}: {self.text}"


Decider = Callable[[Mutant, Path, Path], "Decision | None"]


def argument_deciders() -> list[Decider]:
    """Cheap deciders, asked before a mutant runs (a proved mutant need not run)."""
    from .equivalence import z3_decider

    return [z3_decider]


DECIDERS: list[Decider] = []  # costlier deciders (the refinement checker), asked for the mutants that survive


def decide_equivalence(mutant: Mutant, seed_text: str, seed_path: Path,
                       deciders: list[Decider] | None = None) -> Decision | None:
    """An equivalence proof for a mutant from the first decider that proves one, or None (undecided)."""
    chain = deciders if deciders is not None else [*argument_deciders(), *DECIDERS]
    if not chain:
        return None
    with tempfile.TemporaryDirectory(prefix="balloonspec-survivor-") as tmp:
        path = Path(tmp) / "vmw_balloon.c"
        path.write_text(mutant.apply(seed_text))
        for decide in chain:
            d = decide(mutant, path, Path(seed_path))
            if d is not None and d.status == "equivalent":
                return d
    return None
