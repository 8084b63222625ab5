"""Conformance reports: progress lines, the JSON report (rewritten after every
vector, so an interrupted run keeps what it did) and JUnit XML."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from xml.etree import ElementTree as ET

from balloonspec.conformance.runner import VectorResult


class Report:
    def __init__(self, total: int, meta: dict, json_path: str | None = None, quiet: bool = False):
        self.total = total
        self.meta = meta
        self.json_path = Path(json_path) if json_path else None
        self.quiet = quiet
        self.results: list[VectorResult] = []
        self.extra: dict = {}
        self.t0 = time.perf_counter()

    # called by the runner as each result arrives
    def add(self, r: VectorResult) -> None:
        self.results.append(r)
        if not self.quiet:
            print(f"[{len(self.results)}/{self.total}] {r.status:5} {r.id} ({r.seconds:.2f}s)", file=sys.stderr, flush=True)
        self.write_json()

    @property
    def totals(self) -> dict:
        n = {"vectors": len(self.results), "passed": 0, "failed": 0, "errors": 0}
        for r in self.results:
            n[{"pass": "passed", "fail": "failed", "error": "errors"}[r.status]] += 1
        return n

    @property
    def verdict(self) -> str:
        t = self.totals
        if t["errors"]:
            return "error"
        return "fail" if t["failed"] else "pass"

    def to_json(self) -> dict:
        return {
            "verdict": self.verdict,
            "totals": self.totals,
            "seconds": round(time.perf_counter() - self.t0, 3),
            **self.meta,
            **self.extra,
            "results": [r.to_json() for r in self.results],
        }

    def write_json(self) -> None:
        if self.json_path is None:
            return
        tmp = self.json_path.with_suffix(self.json_path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1) + "\n")
        os.replace(tmp, self.json_path)

    def write_junit(self, path: str) -> None:
        t = self.totals
        suite = ET.Element(
            "testsuite",
            name="balloonspec.conform",
            tests=str(t["vectors"]),
            failures=str(t["failed"]),
            errors=str(t["errors"]),
            time=f"{time.perf_counter() - self.t0:.3f}",
        )
        for r in self.results:
            case = ET.SubElement(suite, "testcase", classname="vectors", name=r.id, time=f"{r.seconds:.3f}")
            if r.status != "pass":
                tag = "failure" if r.status == "fail" else "error"
                ET.SubElement(case, tag, message=summary_line(r)).text = describe_result(r)
        ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def summary_line(r: VectorResult) -> str:
    if r.divergence:
        d = r.divergence
        return f"event {d['index']} (cycle {d['cycle']}): expected {d['expected']}, observed {d['observed']}"
    if r.violations:
        v = r.violations[0]
        return f"{v['monitor']} at event {v['index']}: {v['message']}"
    return r.message.splitlines()[0] if r.message else r.status


def describe_result(r: VectorResult) -> str:
    """The human-readable account of a failing vector."""
    out = [f"vector {r.id}: {r.status}", f"  why it exists: {r.reason.get('text') or r.reason}"]
    if r.verdict != "ok":
        out.append(f"  driver run: {r.verdict}")
    if r.message:
        out.append("  " + r.message.replace("\n", "\n  "))
    if r.divergence:
        d = r.divergence
        out.append(f"  first divergence at event {d['index']}, step {d['step']}, work cycle {d['cycle']}")
        out += [f"      {b}" for b in d["before"]]
        out.append(f"    expected: {d['expected']}")
        out.append(f"    observed: {d['observed']}")
        if r.model_state:
            out.append(f"  model state there: {r.model_state}")
    for v in r.violations:
        out.append(f"  monitor {v['monitor']} at event {v['index']}: {v['message']}  [{v['event']}]")
    return "\n".join(out)
