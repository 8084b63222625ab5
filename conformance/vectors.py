"""Test vectors: a scenario, the observations the spec expects, and why it exists.

One JSON file per vector, format `balloonspec-vector/1` (specs/vectors.md).
The expected event stream is stored compactly: a run of events in which each
field moves by a constant step per repetition (LOCK pfn, pfn+1, ...; or an
ALLOC/LOCK pair repeated 16,385 times) is one entry, so a full inflate cycle
stays a few lines long.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from balloonspec.model.trace import Kind
from balloonspec.model.scenario import Scenario, ScenarioError

FORMAT = "balloonspec-vector/1"
MAX_PERIOD = 4  # longest repeated event pattern that is collapsed
KIND_BY_NAME = {k.name: k for k in Kind}


class VectorError(ValueError):
    """A vector file that cannot be used; carries the vector id."""

    def __init__(self, vector_id: str, message: str):
        super().__init__(f"{vector_id}: {message}")
        self.vector_id = vector_id


@dataclass
class Vector:
    id: str
    reason: dict  # {"kind": coverage|boundary|counterexample|regression|scenario, "goal": ..., "text": ...}
    scenario: Scenario
    expected: list[tuple]
    debugfs: bool = True  # the build config the expectation is for
    expected_findings: list[str] = field(default_factory=list)  # monitor ids this vector shows on the seed

    def to_json(self) -> dict:
        return {
            "format": FORMAT,
            "id": self.id,
            "reason": self.reason,
            "config": {"debugfs": self.debugfs},
            "expected_findings": self.expected_findings,
            "scenario": self.scenario.to_json(),
            "expected": compact(self.expected),
        }

    @classmethod
    def from_json(cls, d: dict, source: str = "?") -> "Vector":
        vid = d.get("id", source) if isinstance(d, dict) else source
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise VectorError(vid, f"not a {FORMAT} vector")
        try:
            return cls(
                id=d["id"],
                reason=dict(d["reason"]),
                scenario=Scenario.from_json(d["scenario"]),
                expected=expand(d["expected"]),
                debugfs=bool(d.get("config", {}).get("debugfs", True)),
                expected_findings=list(d.get("expected_findings", [])),
            )
        except ScenarioError as e:
            raise VectorError(vid, str(e)) from e
        except (KeyError, TypeError, ValueError) as e:
            raise VectorError(vid, f"malformed vector: {e!r}") from e


# -- compact event streams -------------------------------------------------------


def _event_json(e: tuple) -> list:
    fields = list(e[1:])
    while fields and fields[-1] == 0:
        fields.pop()
    return [Kind(e[0]).name, *fields]


def _event_from_json(j: list) -> tuple:
    kind = KIND_BY_NAME[j[0]]
    fields = list(j[1:]) + [0] * (7 - len(j))
    if len(fields) != 6:
        raise ValueError(f"event with too many fields: {j}")
    return (int(kind), *fields)


def _delta(a: tuple, b: tuple) -> tuple | None:
    """Field-wise b - a, or None when a non-numeric field differs."""
    if a[0] != b[0]:
        return None
    out = [0]
    for x, y in zip(a[1:], b[1:]):
        if isinstance(x, int) and isinstance(y, int):
            out.append(y - x)
        elif x == y:
            out.append(0)
        else:
            return None
    return tuple(out)


def _shift(e: tuple, d: tuple, k: int) -> tuple:
    return tuple(x + k * s if s else x for x, s in zip(e, d))


def _run_at(events: list[tuple], i: int) -> tuple[int, int, list[tuple]] | None:
    """Best (period, repetitions, deltas) starting at i, covering the most events."""
    best = None
    for p in range(1, MAX_PERIOD + 1):
        if i + 2 * p > len(events):
            break
        deltas = [_delta(events[i + j], events[i + p + j]) for j in range(p)]
        if any(d is None for d in deltas):
            continue
        reps = 2
        while i + (reps + 1) * p <= len(events) and all(
            events[i + reps * p + j] == _shift(events[i + j], deltas[j], reps) for j in range(p)
        ):
            reps += 1
        if reps >= 3 and (best is None or reps * p > best[0] * best[1]):
            best = (p, reps, deltas)
    return best


def compact(events: list[tuple]) -> list:
    out: list = []
    i = 0
    while i < len(events):
        run = _run_at(events, i)
        if run is None:
            out.append(_event_json(events[i]))
            i += 1
            continue
        p, reps, deltas = run
        out.append(
            {
                "repeat": reps,
                "events": [_event_json(events[i + j]) for j in range(p)],
                "step": [list(d[1:]) for d in deltas],
            }
        )
        i += p * reps
    return out


def expand(items: list) -> list[tuple]:
    events: list[tuple] = []
    for it in items:
        if isinstance(it, list):
            events.append(_event_from_json(it))
            continue
        base = [_event_from_json(e) for e in it["events"]]
        steps = [(0, *s) for s in it["step"]]
        if len(steps) != len(base) or any(len(s) != 7 for s in steps):
            raise ValueError(f"run with mismatched step: {it}")
        for k in range(int(it["repeat"])):
            events.extend(_shift(b, s, k) for b, s in zip(base, steps))
    return events


# -- files -------------------------------------------------------------------------------


def write(vector: Vector, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{vector.id}.json"
    path.write_text(dumps(vector.to_json()))
    return path


def dumps(d: dict) -> str:
    """JSON a person can read: one key a line, one expected event (or run) a line."""
    lines = ["{"]
    keys = list(d)
    for n, k in enumerate(keys):
        comma = "," if n < len(keys) - 1 else ""
        if k == "expected":
            lines.append(f' "{k}": [')
            items = d[k]
            lines += [f"  {json.dumps(it)}" + ("," if j < len(items) - 1 else "") for j, it in enumerate(items)]
            lines.append(f" ]{comma}")
        else:
            lines.append(f" {json.dumps(k)}: {json.dumps(d[k])}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def load_dir(directory: Path) -> tuple[list[Vector], list[VectorError]]:
    """All vectors of a directory in name order; bad files become errors, not exceptions."""
    vectors, errors = [], []
    for path in sorted(Path(directory).glob("*.json")):
        try:
            vectors.append(Vector.from_json(json.loads(path.read_text()), source=path.stem))
        except json.JSONDecodeError as e:
            errors.append(VectorError(path.stem, f"not JSON: {e}"))
        except VectorError as e:
            errors.append(e)
    return vectors, errors
