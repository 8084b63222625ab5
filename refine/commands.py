"""``balloonspec refine``: decide a driver source against the spec.

Exit codes: 0 equivalent (every segment proved), 1 differs (a distinguishing
vector replayed on the compiled build), 2 unknown or an error (a construct
outside the supported C subset is named with its line)."""
from __future__ import annotations

import argparse
import multiprocessing
import signal
import sys
import time
from pathlib import Path

from balloonspec import SEED_DRIVER
from balloonspec.conformance.report import write_json_atomic

EXIT_EQUIVALENT, EXIT_DIFFERS, EXIT_UNKNOWN = 0, 1, 2
DEFAULT_SAVE = Path("balloonspec-refine")
MAX_SEARCH_FACTOR = 10  # the search beside slow proofs stops at this many budgets


def _segment_proofs(driver: str, conn, verbose: bool) -> None:
    """Child process: check every segment, send the JSON back."""
    from balloonspec.csource.compile import load

    from .segments import infer_and_check

    _die_with_parent()
    progress = (lambda m: print(m, file=sys.stderr, flush=True)) if verbose else None
    t0 = time.perf_counter()
    try:
        segs, coupling = infer_and_check(load(Path(driver)), progress=progress)
        conn.send({"segments": [s.as_json() for s in segs], "coupling": coupling.summary(),
                   "proof_seconds": round(time.perf_counter() - t0, 3)})
    except Exception as e:  # noqa: BLE001 - reported by the parent as the proofs' error
        conn.send({"error": f"{type(e).__name__}: {e}"})
    conn.close()


def _die_with_parent() -> None:
    """An interrupted refine (Ctrl-C, a killed CI job) must not leave its prover running."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class _Proofs:
    """The segment proofs running in a child process (the search keeps the other core)."""

    def __init__(self, driver: Path, verbose: bool) -> None:
        ctx = multiprocessing.get_context("fork")
        self._recv, send = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_segment_proofs, args=(str(driver), send, verbose), daemon=True)
        self.proc.start()
        send.close()
        self.result: dict | None = None

    def done(self) -> bool:
        if self.result is None and self._recv.poll():
            self.result = self._recv.recv()
        return self.result is not None or not self.proc.is_alive()

    def wait(self) -> dict:
        while not self.done():
            time.sleep(0.05)
        self.proc.join()
        return self.result or {"error": f"the proof process ended with exit code {self.proc.exitcode}"}

    def stop(self) -> None:
        if self.proc.is_alive():
            self.proc.terminate()
        self.proc.join()


def decide(driver: Path, *, save_dir: Path = DEFAULT_SAVE, search_budget_s: float = 120.0,
           segments: bool = False, progress=None) -> dict:
    """The refinement verdict of one driver source (the JSON of ``refine``).

    The segment proofs (a child process) and the distinguishing search run at
    the same time. A scenario whose traces differ, replayed on the compiled
    build, decides "differs" by itself (the proofs are then stopped, unless
    ``segments``); every segment proved decides "equivalent" (the search is
    then stopped). When a segment is not proved, the search goes on for the
    rest of ``search_budget_s``, guided by the numbers of the failing
    segments' models."""
    from balloonspec.csource.compile import load

    from .search import emit_and_replay, guide_numbers, search

    t0 = time.perf_counter()
    load(driver)  # a construct outside the C subset stops here, named
    out: dict = {"driver": str(driver), "verdict": "unknown", "segments": []}
    proofs = _Proofs(driver, verbose=progress is not None)
    try:
        t_search = time.perf_counter()
        # the search runs for its budget, and on while the proofs still run (that core is free);
        # every segment proved stops it at once
        first = search(driver, budget_s=MAX_SEARCH_FACTOR * search_budget_s, progress=progress,
                       stop=lambda: proofs.done() and (_all_proved(proofs.result)
                                                       or time.perf_counter() - t_search > search_budget_s))
        if first is not None:
            emit_and_replay(first, driver, save_dir)
            out["witness"] = first.as_json()
            if first.replayed:
                out["verdict"], out["decided_by"] = "differs", "distinguishing search"
                if not segments:  # the finally below stops the proofs
                    out["seconds"] = round(time.perf_counter() - t0, 3)
                    return out
        result = proofs.wait()
    finally:
        proofs.stop()
    if "error" in result:
        raise RefineError(f"the segment proofs failed: {result['error']}")
    out.update(result)
    failing = [s for s in result["segments"] if s["status"] != "proved"]
    if out["verdict"] == "differs":
        pass
    elif not failing:
        out["verdict"], out["decided_by"] = "equivalent", "segment proofs"
        if first is not None:  # the interpreted C diverged, the compiled build did not
            out["note"] = "the search's scenario diverged only in the interpreted C: " + first.replay_text
    else:
        guide = sorted({n for s in failing for n in guide_numbers(s.get("model", {}))})
        w = search(driver, guide, budget_s=search_budget_s / 2, seed=1, progress=progress) if guide else None
        if w is None:
            out["reason"] = ("segments not proved, and the distinguishing search found no scenario whose "
                             "traces differ: " + "; ".join(f"{s['id']}: {s['status']} ({s.get('detail', '')})"
                                                            for s in failing))
        else:
            emit_and_replay(w, driver, save_dir)
            out["witness"] = w.as_json()
            if w.replayed:
                out["verdict"], out["decided_by"] = "differs", "distinguishing search guided by the segments"
    out["seconds"] = round(time.perf_counter() - t0, 3)
    return out


def _all_proved(result: dict | None) -> bool:
    return bool(result) and "error" not in result and all(s["status"] == "proved" for s in result["segments"])


class RefineError(Exception):
    """The refinement checker could not run (reported as verdict unknown, exit 2)."""


def exit_code(verdict: str) -> int:
    return {"equivalent": EXIT_EQUIVALENT, "differs": EXIT_DIFFERS}.get(verdict, EXIT_UNKNOWN)


def _decide_or_error(driver: Path, args, progress) -> dict:
    from balloonspec.csource.errors import CFrontError

    try:
        return decide(driver, save_dir=Path(args.save_dir), search_budget_s=args.search_budget,
                      segments=args.segments, progress=progress)
    except (CFrontError, RefineError) as e:
        return {"driver": str(driver), "verdict": "unknown", "error": str(e), "segments": [], "seconds": 0}


def cmd_refine(args) -> int:
    driver = Path(args.driver) if args.driver else SEED_DRIVER
    if driver.is_dir():
        return _refine_folder(driver, args)
    if not driver.is_file():
        print(f"balloonspec: driver source not found: {driver}", file=sys.stderr)
        return EXIT_UNKNOWN
    progress = None if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    out = _decide_or_error(driver, args, progress)
    if args.json:
        write_json_atomic(Path(args.json), out)
    if out.get("error"):
        print(f"balloonspec: {out['error']}", file=sys.stderr)
        return EXIT_UNKNOWN
    if out["segments"]:
        print(f"{'segment':<72} {'status':<9} {'seconds':>8}")
    elif out["verdict"] == "differs":
        print("segments: not checked (a replayed witness decides; --segments checks them too)")
    for s in out["segments"]:
        print(f"{s['id'][:72]:<72} {s['status']:<9} {s['seconds']:>8.2f}")
        if s.get("detail"):
            print(f"    {s['detail']}")
    if args.show_coupling:
        for pair, cands in out.get("coupling", {}).items():
            print(f"coupling at {pair}:")
            for c in cands:
                print(f"    {c}")
    if "witness" in out:
        w = out["witness"]
        print(f"witness: {w['vector']} (replayed: {w['replayed']})\n    {w['divergence']}")
    if out.get("reason"):
        print(f"reason: {out['reason']}")
    print(f"verdict: {out['verdict']} ({out['seconds']:.1f} s)")
    return exit_code(out["verdict"])


def _refine_folder(folder: Path, args) -> int:
    """Every ``*.c`` of a folder decided in name order, one row each; the JSON
    is rewritten after every build. Exit code: the worst verdict's."""
    sources = sorted(p for p in folder.glob("*.c") if p.is_file())
    if not sources:
        print(f"balloonspec: no driver source (*.c) in {folder}", file=sys.stderr)
        return EXIT_UNKNOWN
    rows, t0 = [], time.perf_counter()
    save_root = Path(args.save_dir)
    for n, src in enumerate(sources, 1):
        args_one = argparse.Namespace(**{**vars(args), "save_dir": str(save_root / src.stem)})
        out = _decide_or_error(src, args_one, None)
        rows.append({"driver": src.name, "verdict": out["verdict"], "decided_by": out.get("decided_by", ""),
                     "seconds": out["seconds"], "witness": (out.get("witness") or {}).get("vector"),
                     "replayed": (out.get("witness") or {}).get("replayed", False),
                     "error": out.get("error", out.get("reason", ""))})
        print(f"[{n}/{len(sources)}] {src.name}: {out['verdict']} ({out['seconds']:.1f} s"
              f"{', ' + out['decided_by'] if out.get('decided_by') else ''})", flush=True)
        if args.json:
            write_json_atomic(Path(args.json), {"folder": str(folder), "partial": n < len(sources),
                                                "seconds": round(time.perf_counter() - t0, 3), "builds": rows})
    counts = {v: sum(1 for r in rows if r["verdict"] == v) for v in ("equivalent", "differs", "unknown")}
    times = sorted(r["seconds"] for r in rows)
    print(f"refine: {len(rows)} builds in {folder}: " + ", ".join(f"{n} {v}" for v, n in counts.items() if n)
          + f"; median {times[len(times) // 2]:.1f} s per decision, {time.perf_counter() - t0:.1f} s in all")
    return max(exit_code(r["verdict"]) for r in rows)
