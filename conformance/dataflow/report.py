"""Data-flow coverage of a vector set: goals, reached, unreachable with reasons (cached by content)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .analysis import Analysis, CodeModel, Pair
from .measure import recording_driver

SCENARIOS = Path(__file__).resolve().parent / "scenarios.json"


def load_dataflow_scenarios(path: Path = SCENARIOS) -> list[dict]:
    import json

    return json.loads(path.read_text()) if path.is_file() else []


def save_dataflow_scenarios(entries: list[dict], path: Path = SCENARIOS) -> None:
    """Add stored scenarios (by id: a new entry replaces an old one of the same id)."""
    import json

    ids = {e["id"] for e in entries}
    merged = [e for e in load_dataflow_scenarios(path) if e["id"] not in ids] + list(entries)
    path.write_text(json.dumps(sorted(merged, key=lambda e: e["id"]), indent=1) + "\n")


@dataclass
class Goals:
    """The data-flow goals of a driver source (both configurations) and its analysis."""

    pairs: list[Pair]
    models: dict  # debugfs -> (program, CodeModel, Analysis)


def goals(driver: Path) -> Goals:
    from balloonspec.csource.compile import load

    models, pairs = {}, set()
    for debugfs in (True, False):
        P = load(driver, debugfs=debugfs)
        m = CodeModel(P)
        a = Analysis(m)
        models[debugfs] = (P, m, a)
        pairs |= a.cycle_pairs() | a.iteration_pairs
    return Goals(sorted(pairs), models)


def covered(g: Goals, scenario, debugfs: bool, only: set[str] | None = None, max_events: int = 3_000_000):
    """The pairs one scenario covers on the interpreted driver (None if the run hangs)."""
    from balloonspec.model.predict import predict

    P, m, a = g.models[debugfs]
    drv, rec = recording_driver(P, a, m, only)
    p = predict(scenario, debugfs=debugfs, driver=drv, max_events=max_events)
    return None if p.hung else rec.covered


def _measure_chunk(driver: str, items: list[tuple[str, str, bool]]) -> dict[str, list[str]]:
    import json

    from balloonspec.model.scenario import Scenario

    g = goals(Path(driver))
    return {vid: sorted(p.id for p in covered(g, Scenario.from_json(json.loads(sc)), debugfs) or ())
            for vid, sc, debugfs in items}


def coverage_by_vector(driver: Path, vectors: list, jobs: int = 0) -> dict[str, set[str]]:
    """Vector id -> ids of the pairs it covers on the interpreted driver (in a process pool)."""
    import json
    from concurrent.futures import ProcessPoolExecutor

    items = sorted(((v.id, json.dumps(v.scenario.to_json()), v.debugfs) for v in vectors),
                   key=lambda x: -len(x[1]))
    n = max(1, min(jobs or os.cpu_count() or 1, len(items)))
    if n == 1:
        return {k: set(v) for k, v in _measure_chunk(str(driver), items).items()}
    out: dict[str, set[str]] = {}
    with ProcessPoolExecutor(max_workers=n) as pool:
        for part in pool.map(_measure_chunk, [str(driver)] * n, [items[k::n] for k in range(n)]):
            out.update({k: set(v) for k, v in part.items()})
    return out


def measure(driver: Path, vectors: list, jobs: int = 0) -> set[str]:
    """Ids of the pairs the vectors cover on the interpreted driver."""
    return set().union(*coverage_by_vector(driver, vectors, jobs).values()) if vectors else set()


# Pairs no run can take, by pair id, with the reason (the analysis does not know
# list lengths, the size/list correspondence or which branch a return value
# selects). A reason for a pair that is not a goal any more is stale (a test checks).
_POP_EMPTIES = ("vmballoon_pop takes every page off b->pages; a later list_del or release needs a page on "
                "the list, which only list_add in vmballoon_reserve_page (line 456) puts there, redefining the list")
_NO_PAGE_YET = ("INIT_LIST_HEAD leaves b->pages empty; removing a page needs one added first by list_add in "
                "vmballoon_reserve_page (line 456), which redefines the list")
_SIZE_IS_LENGTH = ("size counts the pages on b->pages (each list_add onto it, line 456, comes with b->size++, "
                   "line 459; each list_del from it, lines 375 and 474, with b->size--, lines 378 and 481; nothing "
                   "else changes either): with size 0 here, deflate (size > target) and the per-page size-- of pop "
                   "and release_page need a page added first, and adding one redefines size")
_REFUSED_PER_CYCLE = ("every vmballoon_inflate ends with vmballoon_release_refused_pages, which takes each refused page "
                      "off the list (line 495) and zeroes the count: what line 449 adds never outlives its cycle "
                      "(REFUSED-EMPTY-AT-END)")
_REFUSED_NEEDS_ADD = ("vmballoon_release_refused_pages deletes a page (line 495) only if list_add (line 449) put it "
                      "on the refused list in the same cycle, which redefines the list")
UNREACHABLE: dict[str, str] = {
    "cycle pages: vmballoon_init:793 -> vmballoon_deflate:631": _NO_PAGE_YET,
    "cycle pages: vmballoon_init:793 -> vmballoon_pop:375": _NO_PAGE_YET,
    "cycle pages: vmballoon_init:793 -> vmballoon_release_page:474": _NO_PAGE_YET,
    "cycle pages: vmballoon_pop:375 -> vmballoon_deflate:631": _POP_EMPTIES,
    "cycle pages: vmballoon_pop:375 -> vmballoon_pop:375": _POP_EMPTIES,
    "cycle pages: vmballoon_pop:375 -> vmballoon_release_page:474": _POP_EMPTIES,
    "cycle refused_pages: vmballoon_init:794 -> vmballoon_release_refused_pages:495": _REFUSED_NEEDS_ADD,
    "cycle refused_pages: vmballoon_release_refused_pages:495 -> vmballoon_release_refused_pages:495":
        _REFUSED_NEEDS_ADD,
    "cycle refused_pages: vmballoon_reserve_page:449 -> vmballoon_release_refused_pages:494": _REFUSED_PER_CYCLE,
    "cycle refused_pages: vmballoon_reserve_page:449 -> vmballoon_release_refused_pages:495": _REFUSED_PER_CYCLE,
    "cycle refused_pages: vmballoon_reserve_page:449 -> vmballoon_reserve_page:449": _REFUSED_PER_CYCLE,
    "cycle size: <static>:218 -> vmballoon_deflate:626": _SIZE_IS_LENGTH,
    "cycle size: <static>:218 -> vmballoon_pop:378": _SIZE_IS_LENGTH,
    "cycle size: <static>:218 -> vmballoon_release_page:481": _SIZE_IS_LENGTH,
    "cycle size: vmballoon_pop:378 -> vmballoon_deflate:626": _SIZE_IS_LENGTH,
    "cycle size: vmballoon_pop:378 -> vmballoon_pop:378": _SIZE_IS_LENGTH,
    "cycle size: vmballoon_pop:378 -> vmballoon_release_page:481": _SIZE_IS_LENGTH,
    "cycle slow_allocation_cycles: <static>:218 -> vmballoon_work:665":
        "the decrement runs only when slow_allocation_cycles > 0, and only line 577 makes it positive",
    "cycle slow_allocation_cycles: vmballoon_inflate:577 -> vmballoon_inflate:539":
        "line 577 sets it to 4; the next work cycle decrements it (line 665) before vmballoon_inflate reads it",
    "iteration vmballoon_reserve_page.hv_status: vmballoon_reserve_page:434 -> vmballoon_reserve_page:438":
        "line 438 runs only when vmballoon_send_lock_page returned > 0, and it writes *hv_status before any "
        "return other than -1 (a PFN >= 2^32): each such iteration defines hv_status anew",
}


def _cache_key(driver: Path, vectors: list) -> str:
    import hashlib

    from balloonspec import csource

    h = hashlib.sha256(Path(driver).read_bytes())
    for src in [*sorted(Path(csource.__file__).parent.glob("*.py")), *sorted(Path(__file__).parent.glob("*.py"))]:
        h.update(src.read_bytes())
    for v in sorted(vectors, key=lambda v: v.id):
        h.update(repr((v.id, v.debugfs, v.scenario.to_json())).encode())
    return h.hexdigest()[:32]


def report(driver: Path, vectors: list, jobs: int = 0) -> dict:
    """Data-flow coverage of a vector set on a driver source: goals, covered, the
    unreachable ones with their reasons, the uncovered ones (cached by content)."""
    import json

    from balloonspec.driver.build import cache_root

    cache = cache_root().parent / "dataflow" / f"{_cache_key(driver, vectors)}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    g = goals(driver)
    hit = measure(driver, vectors, jobs)
    ids = [p.id for p in g.pairs]
    unreachable = {i: UNREACHABLE[i] for i in ids if i in UNREACHABLE and i not in hit}
    uncovered = [i for i in ids if i not in hit and i not in unreachable]
    by_kind = {}
    for p in g.pairs:
        row = by_kind.setdefault(p.kind, {"goals": 0, "covered": 0})
        row["goals"] += 1
        row["covered"] += p.id in hit
    out = {
        "goals": len(ids),
        "covered": sum(1 for i in ids if i in hit),
        "unreachable": len(unreachable),
        "pct": round(100.0 * sum(1 for i in ids if i in hit) / max(1, len(ids) - len(unreachable)), 2),
        "by_kind": by_kind,
        "uncovered_pairs": uncovered,
        "unreachable_pairs": [{"pair": i, "why": w} for i, w in unreachable.items()],
        "covered_unreachable": sorted(i for i in hit if i in UNREACHABLE),
    }
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(out, indent=1) + "\n")
    os.replace(tmp, cache)
    return out


def dataflow_coverage(driver: Path, vectors: list, jobs: int = 0) -> dict:
    """``report`` for the conform report: an error (the interpreter cannot run the source)
    is recorded, not raised."""
    from balloonspec.csource.errors import CFrontError

    try:
        return report(driver, vectors, jobs)
    except CFrontError as e:
        return {"error": f"the data-flow goals need the interpreted C: {e}"}
