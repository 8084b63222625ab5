"""Conformance reports: progress lines, the verdict, the JSON report (rewritten
after every vector, so an interrupted run keeps what it did) and JUnit XML.

One verdict everywhere: `Report.verdict` decides, and the summary line, the
JSON (`verdict`, `exit_code`, `summary`, `totals`) and the exit code are all
read from it:

- error (exit 2): the driver does not compile, a vector is malformed or stale
  (its expectation is not the installed spec's), the backend failed on a
  vector, or nothing ran;
- fail (exit 1): a vector failed (divergence, monitor violation, or a run that
  crashed, hung, aborted or tripped a sanitizer), an explored scenario failed,
  or the run stopped early at --max-failures;
- pass (exit 0): every vector ran and passed, and exploration found nothing.
"""
from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from xml.etree import ElementTree as ET

from balloonspec.conformance.runner import VectorResult


def write_json_atomic(path, data) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary file: a run interrupted while
    writing leaves the previous complete report, never a truncated one."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)

EXIT_CODES = {"pass": 0, "fail": 1, "error": 2}


class Report:
    def __init__(self, total: int, meta: dict, json_path: str | None = None, quiet: bool = False):
        self.total = total
        self.meta = meta
        self.json_path = Path(json_path) if json_path else None
        self.quiet = quiet
        self.results: list[VectorResult] = []
        self.extra: dict = {}
        self.build_error: dict | None = None  # BuildError.to_json() when the driver did not compile
        self.not_run: list[str] = []  # vectors left out after --max-failures
        self.max_failures: int | None = None
        self.explore: dict | None = None  # explore_driver's result
        self.findings: list[dict] | None = None  # findings_of_build
        self.t0 = time.perf_counter()

    # called by the runner as each result arrives
    def add(self, r: VectorResult) -> None:
        self.results.append(r)
        if not self.quiet:
            kind = f" ({r.failure_kind})" if r.failure_kind else ""
            print(f"[{len(self.results)}/{self.total}] {r.status:5} {r.id}{kind} ({r.seconds:.2f}s)",
                  file=sys.stderr, flush=True)
        self.write_json()

    @property
    def totals(self) -> dict:
        n = {"vectors": self.total, "run": len(self.results), "passed": 0, "failed": 0, "errors": 0,
             "not_run": self.total - len(self.results)}
        for r in self.results:
            n[{"pass": "passed", "fail": "failed", "error": "errors"}[r.status]] += 1
        kinds = Counter(r.failure_kind for r in self.results if r.failure_kind)
        if kinds:
            n["by_kind"] = dict(sorted(kinds.items()))
        if self.explore is not None:
            n["explored"] = self.explore["explored"]
            n["explored_failed"] = len(self.explore["divergences"])
        return n

    @property
    def stale(self) -> list[str]:
        return [r.id for r in self.results if r.stale]

    @property
    def verdict(self) -> str:
        t = self.totals
        if self.build_error or t["errors"] or (not self.results and not self.not_run):
            return "error"
        if t["failed"] or t.get("explored_failed") or self.not_run:
            return "fail"
        return "pass"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def summary(self, label: str = "conform") -> str:
        """The one summary line; it says what the verdict rests on."""
        t = self.totals
        head = f"{label} {self.verdict}: "
        if self.build_error:
            return head + f"driver does not compile ({self.meta.get('driver')}); no vector was run"
        parts = []
        if self.stale:
            parts.append(f"{len(self.stale)} stale vector(s), not judged: the installed spec predicts another "
                         f"trace for {', '.join(self.stale[:8])}{' ...' if len(self.stale) > 8 else ''}")
        if self.not_run:
            parts.append(f"stopped after {t['failed'] + t['errors']} failures (--max-failures {self.max_failures})")
        if not self.results and not self.not_run:
            parts.append("no vector was run")
        kinds = t.get("by_kind", {})
        failed = f"{t['failed']} failed"
        fail_kinds = {k: v for k, v in kinds.items() if k not in ("error", "stale")}
        if fail_kinds:
            failed += " (" + ", ".join(f"{v} {k}" for k, v in fail_kinds.items()) + ")"
        counts = f"{t['passed']}/{t['vectors']} vectors passed, {failed}, {t['errors']} errors"
        if t["not_run"]:
            counts += f", {t['not_run']} not run"
        if self.meta.get("skipped"):  # vectors the backend cannot express (each with its reason)
            counts += f"; {len(self.meta['skipped'])} skipped"
        parts.append(counts)
        if self.explore is not None:
            n_fail = t["explored_failed"]
            parts.append(f"explored {t['explored']} scenarios (seed {self.explore['seed']}), "
                         + (f"{n_fail} failed" + (f", saved to {self.explore['divergences'][0]['saved']}"
                                                  if self.explore["divergences"][0].get("saved") else "")
                            if n_fail else "none failed"))
        return head + "; ".join(parts) + f" ({time.perf_counter() - self.t0:.1f}s)"

    def to_json(self) -> dict:
        out = {
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "summary": self.summary(),
            "totals": self.totals,
            "seconds": round(time.perf_counter() - self.t0, 3),
            **self.meta,
        }
        if self.build_error:
            out["error"] = "driver does not compile"
            out["build_error"] = self.build_error
        if self.stale:
            out["stale_vectors"] = self.stale
        if self.not_run:
            out["stopped_early"] = {"max_failures": self.max_failures, "not_run": self.not_run}
        if self.explore is not None:
            out["explore"] = self.explore
        if self.findings is not None:
            out["findings"] = self.findings
        out.update(self.extra)
        out["results"] = [r.to_json() for r in self.results]
        return out

    def write_json(self) -> None:
        if self.json_path is None:
            return
        write_json_atomic(self.json_path, self.to_json())

    def write_junit(self, path: str) -> None:
        t = self.totals
        suite = ET.Element(
            "testsuite",
            name="balloonspec.conform",
            tests=str(t["vectors"]),
            failures=str(t["failed"] + t.get("explored_failed", 0)),
            errors=str(t["errors"] + (1 if self.build_error else 0)),
            skipped=str(t["not_run"]),
            time=f"{time.perf_counter() - self.t0:.3f}",
        )
        if self.build_error:
            case = ET.SubElement(suite, "testcase", classname="build", name=str(self.meta.get("driver")))
            ET.SubElement(case, "error", message="driver does not compile").text = \
                "\n".join(self.build_error.get("missing_apis", []) + self.build_error.get("first_errors", []))
        for r in self.results:
            case = ET.SubElement(suite, "testcase", classname="vectors", name=r.id, time=f"{r.seconds:.3f}")
            if r.status != "pass":
                tag = "failure" if r.status == "fail" else "error"
                ET.SubElement(case, tag, message=summary_line(r)).text = describe_result(r)
        for vid in self.not_run:
            case = ET.SubElement(suite, "testcase", classname="vectors", name=vid)
            ET.SubElement(case, "skipped", message=f"not run: stopped at --max-failures {self.max_failures}")
        for d in (self.explore or {}).get("divergences", []):
            case = ET.SubElement(suite, "testcase", classname="explore", name=d["id"])
            ET.SubElement(case, "failure", message=d["problem"].splitlines()[0]).text = describe_exploration(d)
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
    out = [f"vector {r.id}: {r.status}" + (f" ({r.failure_kind})" if r.failure_kind else ""),
           f"  why it exists: {r.reason.get('text') or r.reason}"]
    if r.verdict != "ok":
        out.append(f"  driver run: {r.verdict}" + (f" (time limit {r.time_limit:g}s)" if r.verdict == "hang"
                                                   and r.time_limit else ""))
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


def describe_exploration(d: dict) -> str:
    """An explored scenario that failed: its shrunk scenario and what went wrong."""
    from balloonspec.model.scenario import Scenario

    out = [f"explored scenario {d['id']}: fail (shrunk by Hypothesis)"]
    if d.get("saved"):
        out.append(f"  saved as a regression vector: {d['saved']}")
    out.append("  scenario:")
    out += [f"    {line}" for line in Scenario.from_json(d["scenario"]).to_script().splitlines()]
    out.append("  " + d["problem"].replace("\n", "\n  "))
    return "\n".join(out)


def describe_build_error(e: dict) -> str:
    lines = [f"error: driver does not compile: {e['source']}"]
    lines += [f"  {m}" for m in e.get("missing_apis", [])]
    lines += [f"  {x}" for x in e.get("first_errors", [])]
    if not e.get("missing_apis") and not e.get("first_errors"):
        lines += [f"  {x}" for x in e.get("compiler_output", "").strip().splitlines()[-8:]]
    return "\n".join(lines)


def describe_findings(findings: list[dict]) -> str:
    if all(f["status"] == "unknown" and "not in this run" in f["evidence"] for f in findings):
        return "documented findings (specs/findings.md): not judged, no witness vector (wit-*) in this run"
    width = max(len(f["id"]) for f in findings)
    lines = ["documented findings (specs/findings.md) in this build:"]
    for f in findings:
        lines.append(f"  {f['status']:<8} {f['id']:<{width}}  {f['title']}")
        if f["status"] != "gone":
            lines.append(f"  {'':<8} {'':<{width}}  {f['evidence'][:160]}")
    return "\n".join(lines)
