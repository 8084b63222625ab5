"""Run the invariant catalogue: `run_catalogue()` for the CLI (`balloonspec prove`).

Exit semantics (`exit_code(report)`): 0 when every outcome equals its
expectation, 1 when any differs, 2 on error (a check that raised, or an
unknown invariant id).
"""
from __future__ import annotations

import json
import os
import sys
import time

from .catalogue import CATALOGUE, run_check
from .framework import DEFAULT_SPEC, Outcome, Spec
from .witnesses import WITNESSES

EXIT_OK, EXIT_DIFFERS, EXIT_ERROR = 0, 1, 2


def _check_one(inv_id: str) -> tuple[str, dict]:
    """Worker: one invariant of the default spec (a forked process)."""
    return inv_id, run_check(CATALOGUE[inv_id], DEFAULT_SPEC).to_json()


def _outcomes(ids: list[str], spec: Spec, jobs: int) -> dict[str, Outcome]:
    """Outcome per invariant id; with jobs > 1 (default spec only) in forked
    worker processes, each exploring the symbolic runs it needs."""
    if jobs > 1 and spec is DEFAULT_SPEC and len(ids) > 1:
        try:
            import multiprocessing as mp

            ctx = mp.get_context("fork")
            with ctx.Pool(jobs) as pool:
                got = dict(pool.imap_unordered(_check_one, ids, chunksize=1))
            return {i: Outcome(**{k: v for k, v in got[i].items()}) for i in ids}
        except Exception:  # noqa: BLE001 - no fork, no processes: run serially
            pass
    return {i: run_check(CATALOGUE[i], spec) for i in ids}


def default_jobs() -> int:
    """1: measured on the project's 2-CPU machine, two workers took longer
    (75 s) than one (45 s): each re-explores the shared symbolic runs and the
    two compete for the CPU. BALLOONSPEC_PROVE_JOBS overrides."""
    return max(1, int(os.environ.get("BALLOONSPEC_PROVE_JOBS", "1")))


def run_catalogue(ids: list[str] | None = None, spec: Spec = DEFAULT_SPEC, jobs: int | None = None) -> dict:
    """Check the catalogue (or the invariants `ids`). Returns
    {verdict: as-expected|differs|error, seconds, invariants: [...]}, each
    invariant {id, title, status, expected, method, seconds, statement,
    detail, obligations, counterexample, witness}; `witness` (violations) is
    {scenario_id, scenario (JSON), explanation, shows_as, monitors}.
    `jobs`: worker processes (default 1: in this process; see default_jobs).
    `seconds` of an invariant is its own check time, including the symbolic
    runs it was first to need (runs are shared within a process)."""
    t0, c0 = time.perf_counter(), time.process_time()
    unknown = [i for i in (ids or []) if i not in CATALOGUE]
    selected = [CATALOGUE[i] for i in (ids or CATALOGUE) if i in CATALOGUE]
    outcomes = _outcomes([inv.id for inv in selected], spec, default_jobs() if jobs is None else jobs)
    rows = []
    for inv in selected:
        out = outcomes[inv.id]
        row = {
            "id": inv.id,
            "title": inv.title,
            "status": out.status,
            "expected": inv.expected,
            "method": inv.method,
            "seconds": round(out.seconds, 3),
            "statement": inv.statement,
            "c_lines": inv.cite(),
            "detail": out.detail,
            "obligations": out.obligations,
            "counterexample": out.counterexample,
            "witness": None,
        }
        if inv.witness and out.status == "violated":
            row["witness"] = WITNESSES[inv.witness].to_json()
        rows.append(row)
    if unknown or any(r["status"] == "error" for r in rows):
        verdict = "error"
    elif all(r["status"] == r["expected"] for r in rows):
        verdict = "as-expected"
    else:
        verdict = "differs"
    report = {"verdict": verdict, "seconds": round(time.perf_counter() - t0, 3),
              "cpu_seconds": round(time.process_time() - c0, 3), "invariants": rows}
    if unknown:
        report["unknown_ids"] = unknown
    return report


def exit_code(report: dict) -> int:
    return {"as-expected": EXIT_OK, "differs": EXIT_DIFFERS}.get(report["verdict"], EXIT_ERROR)


def format_table(report: dict) -> str:
    """id, status, expected, method, time; a mark where status != expected.
    `seconds` are wall-clock; `cpu_seconds` (this process, Z3 included) is the
    machine-independent cost (wall time grows when other work shares the CPUs)."""
    rows = report["invariants"]
    w = max([len(r["id"]) for r in rows] + [2])
    lines = [f"{'id':{w}}  {'status':9}  {'expected':9}  {'method':15}  {'time':>7}",
             f"{'-' * w}  {'-' * 9}  {'-' * 9}  {'-' * 15}  {'-' * 7}"]
    for r in rows:
        mark = "" if r["status"] == r["expected"] else "   <-- differs"
        lines.append(f"{r['id']:{w}}  {r['status']:9}  {r['expected']:9}  {r['method']:15}  {r['seconds']:6.2f}s{mark}")
    n_ok = sum(r["status"] == r["expected"] for r in rows)
    lines.append(f"{n_ok}/{len(rows)} as expected, {report['seconds']:.1f} s "
                 f"({report.get('cpu_seconds', 0):.1f} s CPU): {report['verdict']}")
    for u in report.get("unknown_ids", []):
        lines.append(f"unknown invariant id: {u}")
    for r in rows:
        if r["status"] != r["expected"]:
            lines.append(f"\n{r['id']}: {r['status']} (expected {r['expected']}): {r['detail']}")
            if r["counterexample"]:
                lines.append(f"  counterexample: {json.dumps(r['counterexample'])[:2000]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`python -m balloonspec.model.proofs.run [--json FILE] [ID ...]`."""
    import argparse

    ap = argparse.ArgumentParser(prog="balloonspec prove")
    ap.add_argument("ids", nargs="*")
    ap.add_argument("--json", metavar="FILE")
    a = ap.parse_args(argv)
    try:
        report = run_catalogue(a.ids or None)
    except Exception as e:  # noqa: BLE001 - the CLI reports, exit 2
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_ERROR
    print(format_table(report))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1, default=str)
    return exit_code(report)


if __name__ == "__main__":
    sys.exit(main())
