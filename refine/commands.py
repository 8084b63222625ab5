"""``balloonspec refine``: decide a driver source against the spec.

Exit codes: 0 equivalent (every segment proved), 1 differs (a distinguishing
vector replayed on the compiled build), 2 unknown or an error (a construct
outside the supported C subset is named with its line)."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from balloonspec import SEED_DRIVER

EXIT_EQUIVALENT, EXIT_DIFFERS, EXIT_UNKNOWN = 0, 1, 2
DEFAULT_SAVE = Path("balloonspec-refine")


def decide(driver: Path, *, save_dir: Path = DEFAULT_SAVE, search_budget_s: float = 120.0, progress=None) -> dict:
    """The refinement verdict of one driver source (the JSON of ``refine``)."""
    from balloonspec.csource.compile import load

    from .search import emit_and_replay, guide_numbers, search
    from .segments import infer_and_check

    t0 = time.perf_counter()
    program = load(driver)
    segs, coupling = infer_and_check(program, progress=progress)
    out = {"driver": str(driver), "verdict": "equivalent", "segments": [s.as_json() for s in segs],
           "coupling": coupling.summary(), "proof_seconds": round(time.perf_counter() - t0, 3)}
    failing = [s for s in segs if s.status != "proved"]
    if failing:
        guide = sorted({n for s in failing for n in guide_numbers(s.model)})
        w = search(driver, guide, budget_s=search_budget_s, progress=progress)
        if w is None:
            out["verdict"] = "unknown"
            out["reason"] = ("segments not proved, and the distinguishing search found no scenario whose "
                             "traces differ: " + "; ".join(f"{s.id}: {s.status} ({s.detail})" for s in failing))
        else:
            emit_and_replay(w, driver, save_dir)
            out["witness"] = w.as_json()
            out["verdict"] = "differs" if w.replayed else "unknown"
    out["seconds"] = round(time.perf_counter() - t0, 3)
    return out


def exit_code(verdict: str) -> int:
    return {"equivalent": EXIT_EQUIVALENT, "differs": EXIT_DIFFERS}.get(verdict, EXIT_UNKNOWN)


def cmd_refine(args) -> int:
    from balloonspec.csource.errors import CFrontError

    driver = Path(args.driver) if args.driver else SEED_DRIVER
    if not driver.is_file():
        print(f"balloonspec: driver source not found: {driver}", file=sys.stderr)
        return EXIT_UNKNOWN
    progress = None if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    try:
        out = decide(driver, save_dir=Path(args.save_dir), search_budget_s=args.search_budget, progress=progress)
    except CFrontError as e:
        print(f"balloonspec: {e}", file=sys.stderr)
        if args.json:
            Path(args.json).write_text(json.dumps({"driver": str(driver), "verdict": "unknown", "error": str(e),
                                                   "segments": [], "seconds": 0}, indent=1) + "\n")
        return EXIT_UNKNOWN
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    print(f"{'segment':<72} {'status':<9} {'seconds':>8}")
    for s in out["segments"]:
        print(f"{s['id'][:72]:<72} {s['status']:<9} {s['seconds']:>8.2f}")
        if s.get("detail"):
            print(f"    {s['detail']}")
    if args.show_coupling:
        for pair, cands in out["coupling"].items():
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
