"""A mutation campaign: every mutant of a driver source against the shipped vectors.

Triage, in this order, each step in a process pool over all cores:

1. **compile** each mutant's driver object without debug info in both
   configurations (tce.py); one that does not compile is a
   ``compile_error`` and is dropped;
2. **Trivial Compiler Equivalence**: object code identical to the seed's is
   ``equivalent_tce``; identical to an earlier mutant's, a duplicate of it
   (``duplicate_of``: it shares that mutant's verdict, and runs no vector);
   meanwhile the unmutated driver runs every vector: one it fails cannot judge
   its mutants and is set aside (``baseline_failures``);
3. **proofs**: the cheap deciders (survivors.py ``argument_deciders``: the Z3
   arguments) mark the mutants they prove ``equivalent_proved``; those run
   nothing;
4. **run** each remaining mutant against the vectors, built as the userspace
   backend builds it (driver/build.py, in a cache private to the campaign),
   one vector after the other in a fixed order (cheap vectors first) until
   the first one that fails: ``killed``, with that vector's id and how it
   failed (``divergence``, ``monitor``, or the run's own verdict: ``crash``,
   ``hang``, ``sanitizer``...). Each run's time limit comes from the
   vector's predicted work (conformance/runner.py ``time_limit``);
5. **survivors** are offered to the other deciders (survivors.py
   ``DECIDERS``: the refinement checker, where it exists):
   ``equivalent_proved`` with the proof, else ``survived`` (undecided).

Results go to ``on_result`` as they arrive and, with a JSON path, to the
report file (rewritten at most every ``WRITE_EVERY_S`` and at the end), so
an interrupted campaign keeps what it did. The same inputs give the same
report, timings aside.
"""
from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from balloonspec.conformance.report import write_json_atomic

from .operators import Mutant
from .tce import CompileError, signature

STATUSES = ("compile_error", "equivalent_tce", "equivalent_proved", "killed", "survived")
WRITE_EVERY_S = 2.0


@dataclass
class MutantResult:
    id: str
    operator: str
    function: str
    c_line: int
    edit: str
    status: str = "pending"
    killed_by: list[str] | str | None = None  # vector ids, or the proof of equivalence
    verdict: str = ""  # how the killing vector failed
    duplicate_of: str = ""
    vectors_run: int = 0
    seconds: float = 0.0
    message: str = ""

    @classmethod
    def of(cls, m: Mutant) -> "MutantResult":
        return cls(m.id, m.operator, m.function, m.line, m.describe())

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in ("", None) or k in ("killed_by",)}


# -- the vectors, in the order mutants meet them ----------------------------------------------


def vector_order(vectors: list) -> list[str]:
    """Cheap vectors first (fewest predicted events), ties by id: a mutant most
    vectors kill dies in milliseconds, and the order is fixed, so the first
    killing vector of a mutant does not depend on the machine."""
    return [v.id for v in sorted(vectors, key=lambda v: (len(v.expected), v.id))]


# -- workers (module level: they run in the pool's processes) ----------------------------------

_VECTORS: dict = {}


def _init_worker(cache: str, vectors_dir: str) -> None:
    from balloonspec.conformance.vectors import load_dir

    os.environ["BALLOONSPEC_CACHE"] = cache  # the mutants' builds stay out of the shared cache
    vecs, _ = load_dir(Path(vectors_dir))
    _VECTORS.clear()
    _VECTORS.update({v.id: v for v in vecs})


def _triage(mid: str, text: str) -> tuple[str, str | None, str, float]:
    t0 = time.perf_counter()
    try:
        return mid, signature(text).key, "", time.perf_counter() - t0
    except CompileError as e:
        return mid, None, str(e), time.perf_counter() - t0


def _failure_kind(res) -> str:
    if res.verdict != "ok":
        return res.verdict
    return "divergence" if res.divergence else "monitor"


RUNAWAY_MARGIN = 1000  # events beyond the expectation before a run is stopped as a runaway
RECORD_BYTES = 7 * 8  # one trace record: seven 64-bit fields (driver/userspace.py read_records)
POLL_S = 0.05


def run_guarded(binary: Path, vector) -> tuple[str, object]:
    """Run one vector, stopping a run whose trace outgrows the expectation (a
    mutant that allocates without end writes hundreds of MB a second).
    Returns ("runaway", None) for such a run, else ("", the RunResult)."""
    from balloonspec.conformance.runner import cycles_of, time_limit
    from balloonspec.driver.userspace import Launch

    limit = time_limit(len(vector.expected), cycles_of(vector.expected))
    launch = Launch(binary, vector.scenario.to_script(), timeout_s=limit, scenario_id=vector.id)
    cap = RECORD_BYTES * (len(vector.expected) + RUNAWAY_MARGIN)
    trace = launch.dir / "trace"
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            launch.proc.wait(timeout=POLL_S)
            break
        except subprocess.TimeoutExpired:  # still running
            if trace.exists() and trace.stat().st_size > cap:
                launch.proc.kill()
                launch.collect(decode_events=False)
                return "runaway", None
    return "", launch.collect()


def verdict_of(binary: Path, vector) -> str | None:
    """How ``vector`` fails on a build (``runaway``, ``divergence``, ``monitor``, ``crash``...), None if it passes."""
    from balloonspec.conformance.runner import judge

    runaway, run = run_guarded(binary, vector)
    if runaway:
        return "runaway"
    res = judge(vector, run, "full")
    return None if res.status == "pass" else _failure_kind(res)


class Builds:
    """A driver text's builds, one per configuration as the vectors need them, removed afterwards
    unless ``keep`` (the build cache is content-addressed: builds of one text shared by
    concurrent workers, like the baseline's, are left for the campaign's cache to remove)."""

    def __init__(self, text: str, keep: bool = False) -> None:
        self.keep = keep
        self._tmp = tempfile.TemporaryDirectory(prefix="balloonspec-mutant-")
        self.src = Path(self._tmp.name) / "vmw_balloon.c"
        self.src.write_text(text)
        self.binaries: dict[bool, Path] = {}

    def __call__(self, debugfs: bool) -> Path:
        from balloonspec.driver.build import build_driver

        if debugfs not in self.binaries:
            self.binaries[debugfs] = build_driver(self.src, debugfs=debugfs)
        return self.binaries[debugfs]

    def __enter__(self) -> "Builds":
        return self

    def __exit__(self, *exc) -> None:
        for binary in self.binaries.values() if not self.keep else ():
            shutil.rmtree(binary.parent, ignore_errors=True)
        self._tmp.cleanup()


def _failing_vectors(text: str, order: list[str]) -> list[str]:
    """The vectors of ``order`` the driver ``text`` fails (all of them are run); the baseline
    runs in several workers at once, on the same builds."""
    with Builds(text, keep=True) as build:
        return [vid for vid in order if verdict_of(build(_VECTORS[vid].debugfs), _VECTORS[vid]) is not None]


def _kill(mid: str, text: str, order: list[str]) -> dict:
    """Run the vectors in ``order`` against the mutant until one fails."""
    from balloonspec.driver.build import BuildError

    t0 = time.perf_counter()
    out = {"id": mid, "status": "survived", "killed_by": None, "verdict": "", "vectors_run": 0, "message": ""}
    with Builds(text) as build:
        try:
            for vid in order:
                v = _VECTORS[vid]
                verdict = verdict_of(build(v.debugfs), v)
                out["vectors_run"] += 1
                if verdict is not None:
                    out.update(status="killed", killed_by=[vid], verdict=verdict)
                    break
        except BuildError as e:
            out.update(status="compile_error", message=str(e)[-2000:])
    out["seconds"] = time.perf_counter() - t0
    return out


# -- the campaign ------------------------------------------------------------------------------------


@dataclass
class Campaign:
    driver: Path
    mutants: list[Mutant]
    vectors_dir: Path
    jobs: int = 0
    json_path: Path | None = None
    on_result: Callable[[MutantResult, int, int], None] = lambda r, k, n: None
    meta: dict = field(default_factory=dict)
    argument_deciders: list | None = None  # asked before the run (default: survivors.argument_deciders())
    deciders: list | None = None  # asked for the survivors (default: survivors.DECIDERS)

    def __post_init__(self) -> None:
        from . import survivors

        if self.argument_deciders is None:
            self.argument_deciders = survivors.argument_deciders()
        if self.deciders is None:
            self.deciders = list(survivors.DECIDERS)
        self.results: dict[str, MutantResult] = {m.id: MutantResult.of(m) for m in self.mutants}
        self.t0 = time.perf_counter()
        self._written = 0.0
        self.done = 0
        self.phase_seconds: dict[str, float] = {}

    # -- reporting ------------------------------------------------------------------------
    def _finish(self, r: MutantResult) -> None:
        self.done += 1
        self.on_result(r, self.done, len(self.results))
        if time.perf_counter() - self._written >= WRITE_EVERY_S:
            self.write_json()

    @property
    def totals(self) -> dict:
        t = {"mutants": len(self.results), "compile_errors": 0, "equivalent_tce": 0, "equivalent_proved": 0,
             "killed": 0, "survived": 0, "pending": 0}
        key = {"compile_error": "compile_errors"}
        for r in self.results.values():
            t[key.get(r.status, r.status)] += 1
        if not t["pending"]:
            del t["pending"]
        return t

    @property
    def score(self) -> float | None:
        t = self.totals
        live = t["mutants"] - t["compile_errors"] - t["equivalent_tce"] - t["equivalent_proved"]
        return round(t["killed"] / live, 4) if live > 0 else None

    def to_json(self) -> dict:
        t = self.totals
        by_class: dict[str, dict[str, int]] = {}
        for r in self.results.values():
            row = by_class.setdefault(r.operator.split(".")[0], {})
            row[r.status] = row.get(r.status, 0) + 1
        killers: dict[str, int] = {}
        for r in self.results.values():
            if r.status == "killed" and isinstance(r.killed_by, list) and not r.duplicate_of:
                for vid in r.killed_by:
                    killers[vid] = killers.get(vid, 0) + 1
        return {
            "driver": str(self.driver),
            "vectors_dir": str(self.vectors_dir),
            **self.meta,
            "seconds": round(time.perf_counter() - self.t0, 1),
            "mutants_per_minute": round(len(self.results) / max(time.perf_counter() - self.t0, 1e-9) * 60, 1),
            "phase_seconds": {k: round(v, 1) for k, v in self.phase_seconds.items()},
            "totals": t,
            "duplicates": sum(1 for r in self.results.values() if r.duplicate_of),
            "score": self.score,
            "by_class": dict(sorted(by_class.items())),
            "first_killers": dict(sorted(killers.items(), key=lambda kv: (-kv[1], kv[0]))),
            "mutants": [r.to_json() for r in self.results.values()],
        }

    def write_json(self) -> None:
        self._written = time.perf_counter()
        if self.json_path is None:
            return
        write_json_atomic(self.json_path, self.to_json())

    # -- the phases ------------------------------------------------------------------------
    def run(self) -> dict:
        from balloonspec.conformance.vectors import load_dir

        text = self.driver.read_text()
        by_id = {m.id: m for m in self.mutants}
        vecs, bad = load_dir(self.vectors_dir)
        if bad:
            raise ValueError(f"malformed vectors: {', '.join(str(e) for e in bad)}")
        order = vector_order(vecs)
        self.meta.setdefault("vectors", len(vecs))
        jobs = self.jobs or os.cpu_count() or 1
        cache = tempfile.mkdtemp(prefix="balloonspec-mutate-cache-")
        try:
            with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker,
                                     initargs=(cache, str(self.vectors_dir))) as pool:
                t = time.perf_counter()
                seed_key = signature(text).key  # CompileError: the driver itself does not compile
                baseline = self._baseline(pool, text, order)  # runs while the mutants compile
                keys = self._triage(pool, text, by_id)
                order = self._baseline_result(baseline, order)
                self.phase_seconds["triage"] = time.perf_counter() - t
                runnable = self._group(keys, seed_key)
                t = time.perf_counter()
                runnable = self._prove(text, by_id, runnable, self.argument_deciders)
                self.phase_seconds["proofs"] = time.perf_counter() - t
                t = time.perf_counter()
                self._run(pool, text, by_id, runnable, order)
                self.phase_seconds["run"] = time.perf_counter() - t
            t = time.perf_counter()
            survivors = [mid for mid, r in self.results.items() if r.status == "survived" and not r.duplicate_of]
            left = self._prove(text, by_id, survivors, self.deciders)
            for mid in left:  # undecided: never presumed equivalent
                self._finish(self.results[mid])
                self._settle_duplicates(self.results[mid], self._duplicates())
            self.phase_seconds["survivors"] = time.perf_counter() - t
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        self.write_json()
        return self.to_json()

    def _baseline(self, pool, text: str, order: list[str]) -> list:
        """Start running the unmutated driver on every vector (see _baseline_result)."""
        n = max(1, self.jobs or os.cpu_count() or 1)
        return [pool.submit(_failing_vectors, text, order[k::n]) for k in range(n)]

    def _baseline_result(self, futures: list, order: list[str]) -> list[str]:
        """The vectors the unmutated driver passes, in order (a vector it fails cannot
        tell its mutants from it: such vectors are listed in the report and not used)."""
        failing: set[str] = set()
        for fut in futures:
            failing |= set(fut.result())
        if failing:
            self.meta["baseline_failures"] = sorted(failing)
        return [vid for vid in order if vid not in failing]

    def _triage(self, pool, text: str, by_id: dict[str, Mutant]) -> dict[str, str]:
        futures = [pool.submit(_triage, mid, m.apply(text)) for mid, m in by_id.items()]
        keys: dict[str, str] = {}
        for fut in as_completed(futures):
            mid, key, err, secs = fut.result()
            r = self.results[mid]
            r.seconds = round(secs, 3)
            if key is None:
                r.status, r.message = "compile_error", err
                self._finish(r)
            else:
                keys[mid] = key
        return keys

    def _group(self, keys: dict[str, str], seed_key: str) -> list[str]:
        """Mark TCE-equivalent mutants and duplicates; return the mutants left to run."""
        first: dict[str, str] = {}
        runnable = []
        for mid in self.results:  # generation order: the first of a group represents it
            key = keys.get(mid)
            if key is None:
                continue
            r = self.results[mid]
            if key == seed_key:
                r.status, r.killed_by = "equivalent_tce", "object code identical to the seed's (both configs)"
                self._finish(r)
            elif key in first:
                r.duplicate_of = first[key]
            else:
                first[key] = mid
                runnable.append(mid)
        return runnable

    def _run(self, pool, text: str, by_id: dict[str, Mutant], runnable: list[str], order: list[str]) -> None:
        dups: dict[str, list[str]] = {}
        for r in self.results.values():
            if r.duplicate_of:
                dups.setdefault(r.duplicate_of, []).append(r.id)
        futures = [pool.submit(_kill, mid, by_id[mid].apply(text), order) for mid in runnable]
        for fut in as_completed(futures):
            out = fut.result()
            r = self.results[out["id"]]
            r.status, r.killed_by, r.verdict = out["status"], out["killed_by"], out["verdict"]
            r.vectors_run, r.message = out["vectors_run"], out["message"]
            r.seconds = round(r.seconds + out["seconds"], 3)
            if r.status != "survived":  # survivors are reported once the deciders are done with them
                self._finish(r)
                self._settle_duplicates(r, dups)

    def _settle_duplicates(self, r: MutantResult, dups: dict[str, list[str]]) -> None:
        for did in dups.get(r.id, ()):
            d = self.results[did]
            d.status, d.killed_by, d.verdict, d.message = r.status, r.killed_by, r.verdict, r.message
            self._finish(d)

    def _duplicates(self) -> dict[str, list[str]]:
        dups: dict[str, list[str]] = {}
        for r in self.results.values():
            if r.duplicate_of:
                dups.setdefault(r.duplicate_of, []).append(r.id)
        return dups

    def _prove(self, text: str, by_id: dict[str, Mutant], mids: list[str], deciders) -> list[str]:
        """Mark the mutants a decider proves equivalent; return the others."""
        from .survivors import decide_equivalence

        if deciders is not None and not deciders:
            return mids
        dups, left = self._duplicates(), []
        for mid in mids:
            proof = decide_equivalence(by_id[mid], text, self.driver, deciders=deciders)
            if proof is None:
                left.append(mid)
                continue
            r = self.results[mid]
            r.status, r.killed_by, r.verdict = "equivalent_proved", proof.summary(), proof.method
            self._finish(r)
            self._settle_duplicates(r, dups)
        return left


def select(mutants: list[Mutant], sample: int | None, seed: int) -> list[Mutant]:
    """A seeded sample of the mutants (all of them without ``sample``), in generation order."""
    if not sample or sample >= len(mutants):
        return list(mutants)
    chosen = set(random.Random(seed).sample(range(len(mutants)), sample))
    return [m for i, m in enumerate(mutants) if i in chosen]


def progress_line(r: MutantResult, k: int, n: int) -> str:
    how = ""
    if r.status == "killed":
        how = f" by {', '.join(r.killed_by)} ({r.verdict})"
    elif r.status == "equivalent_proved":
        how = f" ({r.verdict})"
    elif r.status == "compile_error":
        how = f": {r.message.splitlines()[0][:100]}" if r.message else ""
    dup = f" [duplicate of {r.duplicate_of}]" if r.duplicate_of else ""
    return f"[{k}/{n}] {r.status:17} {r.id}{how}{dup} ({r.seconds:.2f}s)"

