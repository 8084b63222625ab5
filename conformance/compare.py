"""First divergence between a predicted and an observed event stream.

Both streams are lists of event tuples (specs/trace.md). Equal streams are
recognised by one list comparison in C; only a failing pair pays for the
search, which bisects with slice comparisons instead of a Python loop per
event, so a 16,385-page cycle stays cheap either way.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from balloonspec.model.trace import Kind, format_event as describe

CONTEXT = 3  # events shown before the divergence


@dataclass
class Divergence:
    index: int  # event index of the first difference
    step: int  # index of the scenario step it happened in (-1 before the first)
    cycle: int  # work cycles run so far (1-based number of the current one, 0 before any)
    expected: tuple | None  # None: the prediction ended here
    observed: tuple | None  # None: the driver's trace ended here
    before: list[tuple] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "index": self.index,
            "step": self.step,
            "cycle": self.cycle,
            "expected": describe(self.expected) if self.expected is not None else "end of trace",
            "observed": describe(self.observed) if self.observed is not None else "end of trace",
            "before": [describe(e) for e in self.before],
        }

    def __str__(self) -> str:
        j = self.to_json()
        lines = [f"first divergence at event {j['index']} (step {j['step']}, work cycle {j['cycle']}):"]
        lines += [f"      {b}" for b in j["before"]]
        lines.append(f"  expected: {j['expected']}")
        lines.append(f"  observed: {j['observed']}")
        return "\n".join(lines)


def common_prefix_length(a: list, b: list) -> int:
    """Length of the longest common prefix, by bisection over slice equality."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def position(events: list[tuple], index: int) -> tuple[int, int]:
    """(step index, work cycle number) at event `index`."""
    step, cycle = -1, 0
    for e in events[:index]:
        if e[0] == Kind.STEP:
            step = e[1]
        elif e[0] == Kind.WORK_RUN:
            cycle += 1
    return step, cycle


def first_divergence(expected: list[tuple], observed: list[tuple]) -> Divergence | None:
    if expected == observed:
        return None
    i = common_prefix_length(expected, observed)
    step, cycle = position(expected, i)
    return Divergence(
        index=i,
        step=step,
        cycle=cycle,
        expected=expected[i] if i < len(expected) else None,
        observed=observed[i] if i < len(observed) else None,
        before=expected[max(0, i - CONTEXT) : i],
    )
