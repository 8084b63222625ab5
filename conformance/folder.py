"""`balloonspec conform --driver DIR`: every driver source of a folder, one verdict each.

Each `*.c` of the folder (in name order) is conformed like a single driver
(`commands.conform`, userspace backend) at each level asked for; a source
that does not compile is a row with that verdict and the run goes on. The
result is one row per build (its verdict per level, the documented findings
it shows) and a matrix builds x findings; the JSON report is rewritten after
every build, so an interrupted run keeps the builds it finished.

The folder's verdict is the worst of its builds' (error > fail > pass), so
its exit code follows the same table as a single build's.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from balloonspec.conformance.report import EXIT_CODES, write_json_atomic

VERDICT_ORDER = ("pass", "fail", "error")
MARKS = {"present": "yes", "gone": "-", "unknown": "?"}  # a finding's status in the matrix


def sources_of(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).glob("*.c") if p.is_file())


@dataclass
class FolderReport:
    folder: Path
    levels: tuple[str, ...]
    rows: list[dict] = field(default_factory=list)
    json_path: Path | None = None
    t0: float = field(default_factory=time.perf_counter)

    @property
    def verdict(self) -> str:
        verdicts = [v for r in self.rows for v in r["verdicts"].values()]
        return max(verdicts, key=VERDICT_ORDER.index) if verdicts else "error"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def summary(self) -> str:
        counts = {v: sum(1 for r in self.rows if worst(r) == v) for v in VERDICT_ORDER}
        if not self.rows:
            return f"conform error: no driver source (*.c) in {self.folder}"
        return (f"conform {self.verdict}: {len(self.rows)} builds in {self.folder} at level "
                f"{'+'.join(self.levels)}: " + ", ".join(f"{n} {v}" for v, n in counts.items() if n)
                + f" ({time.perf_counter() - self.t0:.1f}s)")

    def to_json(self) -> dict:
        return {"verdict": self.verdict, "exit_code": self.exit_code, "summary": self.summary(),
                "folder": str(self.folder), "levels": list(self.levels), "builds": self.rows}

    def write_json(self) -> None:
        if self.json_path is None:
            return
        write_json_atomic(self.json_path, self.to_json())


def worst(row: dict) -> str:
    return max(row["verdicts"].values(), key=VERDICT_ORDER.index)


def build_row(driver: Path, reports: dict) -> dict:
    """One build's row from its conform report at each level."""
    row: dict = {"driver": str(driver), "verdicts": {}, "summaries": {}, "failed": {}, "findings": {}}
    for level, report in reports.items():
        row["verdicts"][level] = report.verdict
        row["summaries"][level] = report.summary()
        row["failed"][level] = [r.id for r in report.results if r.status != "pass"]
        if report.build_error:
            row["build_error"] = report.build_error
        for f in report.findings or []:  # the same witnesses at every level: keep the first judged
            if row["findings"].get(f["id"], "unknown") == "unknown":
                row["findings"][f["id"]] = f["status"]
    return row


def conform_folder(folder: Path, *, levels: Sequence[str], vectors_dir: Path, jobs: int,
                   timeout: float | None = None, json_path: str | None = None,
                   progress: Callable[[str], None] = lambda msg: None) -> FolderReport:
    from balloonspec.conformance.commands import conform

    out = FolderReport(Path(folder), tuple(levels), json_path=Path(json_path) if json_path else None)
    sources = sources_of(folder)
    for n, driver in enumerate(sources, 1):
        progress(f"[{n}/{len(sources)}] {driver.name} ...")
        reports = {}
        for level in levels:
            reports[level], _ = conform(driver, vectors_dir=vectors_dir, level=level, jobs=jobs,
                                        quiet=True, timeout=timeout)
            if reports[level].build_error:  # the same source does not compile at another level either
                break
        row = build_row(driver, reports)
        out.rows.append(row)
        out.write_json()
        progress(f"[{n}/{len(sources)}] {driver.name}: "
                 + ", ".join(f"{v} ({level})" for level, v in row["verdicts"].items()))
    out.write_json()
    return out


def matrix(report: FolderReport) -> str:
    """Builds x findings, with each build's verdict per level."""
    if not report.rows:
        return ""
    ids = list(next((r["findings"] for r in report.rows if r["findings"]), {}))
    header = ["build"] + [f"{level}" for level in report.levels] + ids
    body = [[Path(r["driver"]).name] + [r["verdicts"].get(level, "-") for level in report.levels]
            + [MARKS[r["findings"][i]] if i in r["findings"] else "" for i in ids] for r in report.rows]
    widths = [max(len(row[c]) for row in [header] + body) for c in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header] + body]
    for r in report.rows:
        if r.get("build_error"):
            first = (r["build_error"].get("missing_apis") or r["build_error"].get("first_errors") or ["?"])[0]
            lines.append(f"{Path(r['driver']).name}: driver does not compile: {first}")
    lines.append("findings: yes = present, - = gone, ? = unknown (specs/findings.md); "
                 "a build that does not compile has none")
    return "\n".join(lines)
