"""The shipped vector set, derived from the goals, the proofs' witnesses,
saved exploration regressions, and the scenarios found for surviving mutants
and for data-flow goals, with the model's prediction as expectation.

Deterministic: the same model and goals give byte-identical files.
"""
from __future__ import annotations

from pathlib import Path

from balloonspec.model import monitors
from balloonspec.conformance.goals import Goal, all_goals
from balloonspec.conformance.vectors import Vector, load_dir, write
from balloonspec.model.predict import predict

REGRESSIONS = Path(__file__).resolve().parent / "regressions"


def vector_for(goal_id: str, scenario, reason: dict, debugfs: bool = True) -> Vector:
    events = predict(scenario, debugfs=debugfs).events
    # A property the spec itself breaks on this scenario is a documented finding of the seed.
    findings = sorted({v.monitor for v in monitors.check(events, totalram=scenario.sysinfo.totalram)})
    return Vector(id=goal_id, reason=reason, scenario=scenario, expected=events, debugfs=debugfs,
                  expected_findings=findings)


def goal_vector(g: Goal) -> Vector:
    return vector_for(g.id, g.scenario, {"kind": g.kind, "goal": g.covers, "text": g.text}, g.debugfs)


def witness_vectors() -> list[Vector]:
    """Counterexamples of the proofs, replayable as scenarios. A witness whose
    driver never finishes (the prediction hangs) has no expected trace to
    compare, so it is left to the proofs and the backend's hang verdict."""
    from balloonspec.model.proofs.witnesses import WITNESSES

    out = []
    for w in WITNESSES.values():
        scenario = w.build()
        if predict(scenario).hung:
            continue
        out.append(vector_for(scenario.id, scenario, {"kind": "counterexample", "goal": ", ".join(w.violates),
                                                      "text": f"{w.explanation} Shows as: {w.shows_as}"}))
    return out


def regression_vectors() -> list[Vector]:
    """Scenarios saved by exploration, re-predicted by the current model."""
    vecs, _ = load_dir(REGRESSIONS) if REGRESSIONS.is_dir() else ([], [])
    return [vector_for(v.id, v.scenario, v.reason, v.debugfs) for v in vecs]


def stored_vectors(entries: list[dict]) -> list[Vector]:
    """Vectors from stored scenarios (searches' finds), re-predicted by the current model."""
    from balloonspec.model.scenario import Scenario

    return [vector_for(e["id"], Scenario.from_json(e["scenario"]), e["reason"], e.get("debugfs", True))
            for e in entries]


def mutation_vectors() -> list[Vector]:
    """Distinguishing scenarios of mutants the other vectors missed (conformance/mutation/search.py)."""
    from balloonspec.conformance.mutation.search import load_killers

    return stored_vectors(load_killers())


def dataflow_vectors() -> list[Vector]:
    """Scenarios that reach the data-flow goals the other vectors missed (conformance/dataflow.py)."""
    from balloonspec.conformance.dataflow import load_dataflow_scenarios

    return stored_vectors(load_dataflow_scenarios())


def shipped_set() -> list[Vector]:
    vectors = [goal_vector(g) for g in all_goals()] + witness_vectors() + regression_vectors()
    vectors += mutation_vectors() + dataflow_vectors()
    ids = [v.id for v in vectors]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise ValueError(f"duplicate vector ids: {sorted(dup)}")
    return vectors


def write_shipped_set(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.json"):
        old.unlink()
    return [write(v, out) for v in shipped_set()]
