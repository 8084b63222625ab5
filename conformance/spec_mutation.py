"""Spec mutation: how much of the spec do the proofs and the shipped vectors pin down?

``balloonspec spec-mutate`` applies each first-order mutant of
model/algorithm.py (model/proofs/mutate.py) and asks two judges:

* the **proofs**: the whole invariant catalogue on the mutated spec; an
  invariant *catches* the mutant when its status differs from the installed
  spec's (a proved invariant now violated, vacuous, unknown or in error, or a
  documented violation now proved);
* the **vectors**: every shipped vector re-predicted by the mutated spec; the
  vectors catch the mutant when a prediction (trace or documented findings)
  differs from the vector's stored expectation (conformance/runner.py's
  ``stale_difference``), or the prediction crashes or runs away.

A mutant neither judge catches is *accepted*: it is listed in
specs/spec-mutation.md for review (equivalent, or an invariant the catalogue
misses; ``REVIEW`` below holds the verdicts).

Reuse: the installed spec is proved first with the solver-query cache on
(model/symbolic/explorer.py ``reuse_queries``); the workers are forked after
it, so every query a mutant's runs share with the installed spec's (the paths
the edit does not reach) is answered from the cache, and the standalone
obligations that never run the spec are checked once
(``run.standalone_tallies``). Mutants run in a process pool (all cores);
results are written as they come (``--json``), in mutant order.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import random
import signal
import sys
import time
from pathlib import Path

from balloonspec.model import algorithm as A
from balloonspec.model import monitors
from balloonspec.model.ops import CONCRETE
from balloonspec.model.predict import SpecDriver, predict
from balloonspec.model.proofs import mutate as MU
from balloonspec.model.proofs import run as PR
from balloonspec.model.proofs.catalogue import CATALOGUE
from balloonspec.model.specialize import specialize_tree
from balloonspec.model.state import Balloon

RESULT_JSON = Path(__file__).resolve().parent.parent / "specs" / "spec-mutation.json"
MUTANT_TIMEOUT_S = 600  # one mutant's proofs and vectors (a runaway spec is reported as such)

# Verdicts on the accepted mutants of the last full campaign (id -> (verdict, why)).
# verdict: "equivalent" (no observable or proved behaviour changes) or "missing invariant"
# (then the invariant added, or why not). The two missing-invariant verdicts of the campaign
# before (start_fail, guest_type_fail set instead of incremented) led to STATS-COUNTS and the
# vectors reset-start-fails-twice / reset-guest-id-fails-twice, which now catch both.
REVIEW: dict[str, tuple[str, str]] = {
    'check_status:68:16:ROR:eq>ule': (
        'equivalent', '`status == SUCCESS` as `status <= SUCCESS`: SUCCESS is 0 and status is unsigned, so both hold exactly when status is 0'),
    'send_start:81:16:ROR:eq>ule': (
        'equivalent', 'as check_status:68:16: `status <= 0` on an unsigned status is `status == 0`'),
    'send_get_target:107:22:CRP:ZERO-1': (
        'equivalent', 'the target returned with ok = false (totalram beyond 32 bits) is -1 instead of 0; work uses the target only when ok is true, so nothing observable changes'),
    'send_get_target:107:22:CRP:ZERO>ONE': (
        'equivalent', 'as send_get_target:107:22:CRP:ZERO-1, with 1'),
    'send_get_target:113:18:CRP:ZERO-1': (
        'equivalent', 'the target returned with ok = false (GET_TARGET refused) is -1 instead of 0; work ignores it'),
    'send_get_target:113:18:CRP:ZERO>ONE': (
        'equivalent', 'as send_get_target:113:18:CRP:ZERO-1, with 1'),
    'send_unlock_page:119:4:SDL': (
        'equivalent', "the PFN-fits-32-bits guard removed: send_unlock_page is only called for pages on b->pages, whose PFN fits 32 bits (the list's element invariant, checked by PAGE-LISTS), so the guard never fires"),
    'inflate_begin:137:19:ROR:ne>ugt': (
        'equivalent', '`slow_allocation_cycles != 0` as `> 0` on an unsigned value: the same test'),
    'inflate_continues:143:11:ROR:ult>ne': (
        'equivalent', "the for's first test `0 < goal` as `0 != goal`: the same test"),
    'inflate_continues:143:11:ROR:ult>ule': (
        'equivalent', "the for's first test `0 < goal` as `0 <= goal`: inflate runs only when size < target, so goal >= 1 and both hold (the later tests are inflate_attempt's, line 233)"),
    'inflate_attempt:205:24:CRP:ERR_EIO+1': (
        'equivalent', "reserve_page's error -EIO as -4: the error is only compared with 0 and with -ENOMEM, and -4 differs from both as -5 does; it is never printed or sent"),
    'inflate_attempt:205:24:CRP:ERR_EIO-1': (
        'equivalent', 'as inflate_attempt:205:24:CRP:ERR_EIO+1, with -6'),
    'inflate_attempt:205:24:CRP:ERR_EIO>ONE': (
        'equivalent', 'as inflate_attempt:205:24:CRP:ERR_EIO+1, with 1'),
    'inflate_attempt:211:24:CRP:ERR_EIO+1': (
        'equivalent', "as inflate_attempt:205:24:CRP:ERR_EIO+1 (the refused-page limit's -EIO)"),
    'inflate_attempt:211:24:CRP:ERR_EIO-1': (
        'equivalent', 'as inflate_attempt:205:24:CRP:ERR_EIO+1, with -6'),
    'inflate_attempt:211:24:CRP:ERR_EIO>ONE': (
        'equivalent', 'as inflate_attempt:205:24:CRP:ERR_EIO+1, with 1'),
    'inflate_attempt:209:32:ROR:uge>eq': (
        'equivalent', '`++n_refused_pages >= MAX_REFUSED` as `==`: n_refused_pages is 0 at the start of every cycle (REFUSED-EMPTY-AT-END) and grows by one per refused page, so it meets MAX_REFUSED exactly before it could pass it (REFUSED-BOUND)'),
    'inflate_attempt:215:16:ROR:ne>ugt': (
        'equivalent', '`error != 0` as `error > 0` compared unsigned: every nonzero 32-bit value is above 0'),
    'inflate_attempt:216:20:ROR:ne>ugt': (
        'equivalent', '`error != -ENOMEM` as `error > -ENOMEM` compared unsigned: there error is -EIO or -ENOMEM, and -EIO (0xfffffffb) is above -ENOMEM (0xfffffff4), so both tests agree'),
    'inflate_attempt:230:16:ROR:uge>eq': (
        'equivalent', '`i >= rate` as `i == rate`: i starts at 0 and grows by one; rate is fixed, except when a NOSLEEP failure switches it to rate_alloc, which happens only while i < rate_alloc; so i meets rate exactly before it could pass it'),
    'inflate_attempt:233:24:ROR:ult>ne': (
        'equivalent', "the for's `i < goal` as `i != goal`: the test runs only after `i++` in an iteration that began with i < goal (INFLATE-LOOP-INV), so i <= goal there and both tests agree"),
    'inflate_end:241:25:ROR:eq>ule': (
        'equivalent', '`error == 0` as `error <= 0` compared unsigned: the same test'),
    'deflate_release:304:20:ROR:uge>eq': (
        'equivalent', '`++i >= goal` as `==`: i starts at 0 and grows by one, goal = min(size - target, rate_free) >= 1 when deflate runs and does not change, so i meets goal exactly before it could pass it'),
    'pop_one:338:16:ROR:uge>eq': (
        'equivalent', '`++count >= rate_free` as `==`: count starts at 0, grows by one and is reset when the test holds, rate_free does not change during pop and is at least RATE_FREE_MIN = 512 (RATE-FREE-BOUNDS), so count meets rate_free exactly before it could pass it'),
    'work:369:16:ROR:ugt>ne': (
        'equivalent', '`slow_allocation_cycles > 0` as `!= 0` on an unsigned value: the same test'),
    'work:376:22:ROR:ugt>ne': (
        'equivalent', '`size > target` as `size != target` in the else branch of `size < target`: there size >= target, so the two tests agree'),
    'init:385:4:SDL': (
        'equivalent', "INIT_LIST_HEAD(&b->pages) removed: the spec's lists are values, and b->pages is empty whenever init runs (a fresh module; after exit, whose pop empties it; after a failed init, which added nothing), so the list it would reset is already the empty list. The C needs the call (a zeroed list_head is not a list); the interpreted C and the compiled builds check that, not the spec"),
    'init:386:4:SDL': (
        'equivalent', 'as init:385:4:SDL for b->refused_pages, which is also empty at the end of every cycle (REFUSED-EMPTY-AT-END)'),
}


# -- one mutant ------------------------------------------------------------------------------
class _MutantDriver(SpecDriver):
    """The spec driver running a mutated, specialised algorithm module."""

    def __init__(self, module) -> None:
        self.A = module
        self.balloon = Balloon(CONCRETE)


def _vectors_verdict(m: MU.Mutant, vectors) -> dict:
    """The first shipped vector whose re-prediction by the mutant differs
    from its stored expectation (or None)."""
    from balloonspec.conformance.runner import stale_difference

    module = specialize_tree(MU.mutated_tree(m), A)
    for v in vectors:
        try:
            p = predict(v.scenario, debugfs=v.debugfs, driver=_MutantDriver(module),
                        max_events=2 * len(v.expected) + 1000)
            if p.hung:
                return {"caught": True, "vector": v.id, "how": "the prediction runs away (event limit)"}
            documented = monitors.check(p.events, totalram=v.scenario.sysinfo.totalram)
            diff = stale_difference(v, p.events, documented)
        except Exception as e:  # noqa: BLE001 - a spec that crashes on a vector is caught by it
            return {"caught": True, "vector": v.id, "how": f"the prediction crashes: {type(e).__name__}: {e}"[:300]}
        if diff:
            return {"caught": True, "vector": v.id, "how": diff[:300]}
    return {"caught": False, "vector": None, "how": ""}


def obligation_statuses(outs: dict) -> dict:
    """Obligation key -> status, over every invariant's plan (shared obligations once)."""
    return {e["key"]: e["status"] for o in outs.values() for e in o.explain}


def _proofs_verdict(m: MU.Mutant, baseline: dict, standalone: dict) -> dict:
    """What differs from the installed spec: invariant id -> status, and
    obligation key -> status (own and shared obligations)."""
    outs = PR.check_outcomes(list(baseline["invariants"]), MU.spec_of(m), jobs=1, rederive=False,
                             standalone=standalone)
    changed = {i: o.status for i, o in outs.items() if o.status != baseline["invariants"][i]}
    obs = obligation_statuses(outs)
    changed_obs = {k: st for k, st in obs.items() if st != baseline["obligations"].get(k)}
    errors = sorted({o.detail.splitlines()[0][:200] for o in outs.values() if o.status == "error"})
    return {"changed": changed, "obligations": changed_obs, "errors": errors}


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


_STATE: dict = {}  # the forked workers' baseline, standalone tallies and vectors


def _one(mid: str) -> dict:
    m = MU.by_id(mid)
    t0 = time.perf_counter()
    out = {"id": m.id, "function": m.function, "line": m.line, "operator": m.operator, "text": m.text}
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(_STATE.get("timeout", MUTANT_TIMEOUT_S))
    try:
        out["proofs"] = _proofs_verdict(m, _STATE["baseline"], _STATE["standalone"])
        out["vectors"] = _vectors_verdict(m, _STATE["vectors"])
    except _Timeout:
        out["timeout"] = True
    except Exception as e:  # noqa: BLE001 - the campaign goes on; the mutant is reported
        out["crash"] = f"{type(e).__name__}: {e}"[:300]
    finally:
        signal.alarm(0)
    out["category"] = category(out)
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out


def category(r: dict) -> str:
    """proofs (some invariant catches it), vectors (only the vectors do),
    accepted (neither), timeout, crash."""
    if r.get("timeout"):
        return "timeout"
    if r.get("crash"):
        return "crash"
    if r["proofs"]["changed"]:
        return "proofs"
    if r["vectors"]["caught"]:
        return "vectors"
    return "accepted"


# -- the campaign ------------------------------------------------------------------------------
def select(sample: int | None = None, seed: int = 0, ids: list[str] | None = None) -> list[MU.Mutant]:
    """The mutants to run: all, the ones named, or a seeded sample (in mutant order)."""
    allm = list(MU.mutants())
    if ids:
        return [MU.by_id(i) for i in ids]
    if sample is not None and sample < len(allm):
        pick = set(random.Random(seed).sample(range(len(allm)), sample))
        return [m for k, m in enumerate(allm) if k in pick]
    return allm


def spec_digest() -> str:
    """sha256 of model/algorithm.py (the spec the campaign mutated)."""
    return hashlib.sha256(Path(A.__file__).read_bytes()).hexdigest()


def campaign(mutants: list[MU.Mutant], *, jobs: int | None = None, vectors=None, timeout: int | None = None,
             progress=None, on_result=None, done: list[dict] | None = None) -> dict:
    """Run the mutants (but those whose results are in ``done``: a resumed
    campaign); returns the report (see ``summarise``)."""
    done = list(done or [])
    have = {r["id"] for r in done}
    mutants = [m for m in mutants if m.id not in have]
    from balloonspec.conformance.commands import SHIPPED_VECTORS
    from balloonspec.conformance.vectors import load_dir
    from balloonspec.model.symbolic import explorer

    t0 = time.perf_counter()
    jobs = PR.default_jobs() if jobs is None else max(1, jobs)
    if vectors is None:
        vectors, bad = load_dir(SHIPPED_VECTORS)
        if bad:
            raise ValueError(f"malformed shipped vectors: {[b.id for b in bad][:5]}")
    cache = explorer.reuse_queries(True)
    try:
        base = PR.check_outcomes(list(CATALOGUE), None, jobs=1, rederive=False)
        baseline = {"invariants": {i: o.status for i, o in base.items()}, "obligations": obligation_statuses(base),
                    "plans": {i: [e["key"] for e in o.explain] for i, o in base.items()}}
        standalone = PR.standalone_tallies()
        t_base = time.perf_counter() - t0
        _STATE.update(baseline=baseline, standalone=standalone, vectors=vectors,
                      timeout=timeout or MUTANT_TIMEOUT_S)
        results: list[dict] = []
        # a seeded random order: the results of a stopped campaign are a uniform sample (reported in mutant order)
        ids = [m.id for m in mutants]
        random.Random(0).shuffle(ids)
        ctx = mp.get_context("fork")
        with ctx.Pool(jobs, maxtasksperchild=25) as pool:
            for r in pool.imap(_one, ids, chunksize=1):
                results.append(r)
                if on_result:
                    on_result(r)
                if progress:
                    progress(len(results), len(ids), r)
    finally:
        explorer.reuse_queries(False)
        _STATE.clear()
    rep = summarise(done + results, baseline)
    rep.update(seconds=round(time.perf_counter() - t0, 1), baseline_seconds=round(t_base, 1), jobs=jobs,
               spec_sha256=spec_digest(), cache_entries=len(cache.answers) if cache else 0)
    return rep


def shared_lemma(key: str) -> str | None:
    """The shared lemma an obligation key belongs to (the cycle invariant's
    conjuncts, the loop invariants, the list lemmas), or None for an
    invariant's own obligation. Shared lemmas are in many plans: a mutant
    that breaks one changes the status of every invariant resting on it."""
    if key.startswith("CYCLE "):
        return "the cycle invariant" + (" (host reset)" if key.endswith("host_reset") else
                                        f" ({key.split(' ', 2)[2]})")
    if key.startswith("LOOP "):
        return f"the {key.split(' ')[1]} loop invariant"
    if key in ("LISTS", "LIST-RI"):
        return "the list lemmas" if key == "LIST-RI" else "the list operations' preconditions"
    return None


def owners(plans: dict) -> dict:
    """Shared obligation key -> the invariant that states it: the one whose
    plan starts with it (RATE-ALLOC-BOUNDS with the cycle invariant's
    rate_alloc conjunct, INFLATE-LOOP-INV with the inflate and release_refused
    loop invariants, PAGE-LISTS with the list lemmas)."""
    out = {}
    for i, keys in plans.items():
        head = []
        for k in keys:
            lemma = shared_lemma(k)
            if lemma is None:
                break
            if head and not (k.startswith("LOOP ") and head[0].startswith("LOOP ")
                             or k.startswith("LIST") and head[0].startswith("LIST")
                             or k.startswith("CYCLE ") and k.split(" ")[-1] == head[0].split(" ")[-1]):
                break
            head.append(k)
        for k in head:
            out.setdefault(k, i)
    return out


def summarise(results: list[dict], baseline: dict) -> dict:
    """Totals, per-invariant catches and the accepted mutants of a campaign.

    Per invariant: ``status`` counts the mutants that change its status (what
    `balloonspec prove` reports), ``own`` those that break one of its own
    obligations (not a shared lemma). Per shared lemma: the mutants that break it."""
    order = {m.id: k for k, m in enumerate(MU.mutants())}
    results = sorted(results, key=lambda r: order.get(r["id"], len(order)))
    cats = {c: 0 for c in ("proofs", "vectors", "accepted", "timeout", "crash")}
    inv = baseline["invariants"]
    per_inv = {i: {"status": 0, "own": 0, "via": []} for i in inv}
    per_lemma: dict[str, int] = {}
    own = owners(baseline["plans"])
    both = 0
    for r in results:
        cats[r["category"]] += 1
        if r["category"] != "proofs":
            continue
        both += bool(r["vectors"]["caught"])
        broken = set(r["proofs"].get("obligations", {}))
        for i in r["proofs"]["changed"]:
            per_inv[i]["status"] += 1
            mine = {shared_lemma(k) for k in baseline["plans"][i] if k in broken and own.get(k) != i} - {None}
            per_inv[i]["via"] = sorted(set(per_inv[i]["via"]) | mine)
        for i, keys in baseline["plans"].items():
            if any(k in broken and (shared_lemma(k) is None or own.get(k) == i) for k in keys):
                per_inv[i]["own"] += 1
        for lemma in sorted({shared_lemma(k) for k in broken if k not in own} - {None}):
            per_lemma[lemma] = per_lemma.get(lemma, 0) + 1
    by_class: dict = {}
    for r in results:
        d = by_class.setdefault(r["operator"].split(":")[0], {c: 0 for c in cats})
        d[r["category"]] += 1
    return {
        "mutants": len(results),
        "caught_by_proofs": cats["proofs"],
        "caught_by_proofs_and_vectors": both,
        "caught_only_by_vectors": cats["vectors"],
        "accepted": cats["accepted"],
        "timeouts": cats["timeout"],
        "crashes": cats["crash"],
        "baseline": baseline,
        "per_invariant": per_inv,
        "per_shared_lemma": dict(sorted(per_lemma.items())),
        "by_operator": dict(sorted(by_class.items())),
        "accepted_ids": [r["id"] for r in results if r["category"] == "accepted"],
        "results": results,
    }


def uncaught(report: dict) -> dict:
    """Proved invariants whose own obligations no mutant breaks -> why
    (``NO_CATCH_REASONS``, or what the campaign shows)."""
    out = {}
    for i, n in report["per_invariant"].items():
        if n["own"] == 0 and report["baseline"]["invariants"][i] == "proved":
            out[i] = NO_CATCH_REASONS.get(i) or (
                f"no mutant breaks its own obligations; the {n['status']} that change its status do so "
                f"because a lemma its proof rests on, stated by another invariant, breaks "
                f"({', '.join(n.get('via', []))})"
                if n["status"] else "no mutant changes its status")
    return out


# Proved invariants whose own obligations no first-order spec mutant breaks, and why.
NO_CATCH_REASONS: dict[str, str] = {}


# -- the command ---------------------------------------------------------------------------------
def cmd_spec_mutate(args) -> int:
    """``balloonspec spec-mutate`` (arguments: balloonspec/cli.py)."""
    if args.list:
        for m in MU.mutants():
            print(f"{m.id}\t{m.text}")
        print(f"{len(MU.mutants())} mutants")
        return 0
    try:
        chosen = select(args.sample, args.seed, args.only)
    except KeyError as e:
        print(f"error: {e.args[0]}", file=sys.stderr)
        return 2
    print(f"spec-mutate: {len(chosen)} of {len(MU.mutants())} mutants; proving the installed spec first",
          flush=True)

    def progress(n, total, r):
        what = {"proofs": "caught by " + ", ".join(sorted(r["proofs"]["changed"]))[:80],
                "vectors": f"caught only by vector {r['vectors']['vector']}",
                "accepted": "ACCEPTED by every proof and vector", "timeout": "timeout",
                "crash": "crash: " + r.get("crash", "")}[r["category"]]
        print(f"[{n}/{total}] {r['id']}: {what} ({r['seconds']} s)", flush=True)

    partial: list[dict] = []
    t_start = time.perf_counter()

    def on_result(r):
        partial.append(r)
        if args.json and len(partial) % 10 == 0:  # incremental: a stopped campaign keeps its results
            Path(args.json).write_text(json.dumps(
                {"partial": True, "command": "balloonspec spec-mutate" if not (args.sample or args.only) else "",
                 "spec_sha256": spec_digest(), "jobs": args.jobs or PR.default_jobs(),
                 "seconds": round(time.perf_counter() - t_start, 1), "baseline": _STATE.get("baseline"),
                 "results": partial}, indent=1) + "\n")

    done = []
    if args.resume:
        prev = json.loads(Path(args.resume).read_text())
        done = [r for r in prev.get("results", []) if r.get("category") not in ("timeout", "crash")]
        print(f"spec-mutate: resuming: {len(done)} results from {args.resume}", flush=True)
        partial.extend(done)
    rep = campaign(chosen, jobs=args.jobs, timeout=args.timeout, progress=progress, on_result=on_result,
                   done=done)
    rep["command"] = "balloonspec spec-mutate" + "".join(
        f" --sample {args.sample} --seed {args.seed}" if args.sample is not None else "") + "".join(
        f" --only {i}" for i in args.only)
    print(format_summary(rep))
    if args.json:
        Path(args.json).write_text(json.dumps(rep, indent=1, sort_keys=False) + "\n")
    return 0


def format_summary(rep: dict) -> str:
    lines = [f"spec-mutate: {rep['mutants']} mutants in {rep['seconds']} s wall ({rep['jobs']} jobs; "
             f"installed spec proved in {rep['baseline_seconds']} s)",
             f"  caught by proofs: {rep['caught_by_proofs']} (of which also by vectors: "
             f"{rep['caught_by_proofs_and_vectors']})",
             f"  caught only by vectors: {rep['caught_only_by_vectors']}",
             f"  accepted by every proof and vector: {rep['accepted']}",
             f"  timeouts: {rep['timeouts']}, crashes: {rep['crashes']}",
             "  per invariant (mutants caught):"]
    lines[-1] = "  per invariant: mutants that change its status / that break its own obligations"
    for i, n in rep["per_invariant"].items():
        lines.append(f"    {i:32s} {n['status']:4d} {n['own']:4d}  ({rep['baseline']['invariants'][i]})")
    lines.append("  per shared lemma (mutants that break it):")
    for k, n in rep["per_shared_lemma"].items():
        lines.append(f"    {k:48s} {n:4d}")
    for i, why in uncaught(rep).items():
        lines.append(f"  {i}: {why}")
    return "\n".join(lines)


# -- specs/spec-mutation.md ------------------------------------------------------------------------
def render_md(report: dict | None) -> str:
    """The review page of the committed campaign (specs/spec-mutation.json)."""
    head = ["# Spec mutation: what the proofs and the vectors pin down", "",
            "*Generated by `balloonspec docs` from specs/spec-mutation.json, the result of the full campaign "
            "(`balloonspec spec-mutate --json specs/spec-mutation.json`). Do not edit.*", "",
            "Each mutant is model/algorithm.py with one first-order edit (model/proofs/mutate.py: operator, "
            "relation, logic, assignment, constant, deleted statement, negated condition, wrong list end or "
            "list, swapped operands). The **proofs** catch it when an invariant's status differs from the "
            "installed spec's; the **vectors** when a shipped vector's re-prediction differs from its stored "
            "expectation. A mutant that neither catches is *accepted* and reviewed below.", ""]
    if not report or not report.get("results"):
        return "\n".join(head + ["No campaign result is committed yet.", ""])
    r = report if "per_invariant" in report else {**report, **summarise(report["results"], report["baseline"])}
    total = len(MU.mutants())
    if r.get("partial"):
        planned = r.get("planned", total)
        more = f" ({total} now: {total - planned} added since)" if planned != total else ""
        ran = (f"**A partial campaign**: {r['mutants']} of the {planned} mutants it planned{more}, the first ones "
               f"of the campaign's seeded random order (so a uniform sample of those), {r.get('seconds', '?')} s wall with "
               f"{r.get('jobs', '?')} jobs on a loaded machine; the rest are not run yet. "
               f"`balloonspec spec-mutate --resume specs/spec-mutation.json --json specs/spec-mutation.json` "
               f"runs them and keeps these.")
    else:
        ran = (f"{r['mutants']} mutants, {r['seconds']} s wall with {r['jobs']} jobs (the installed spec proved "
               f"first in {r['baseline_seconds']} s; its solver queries answered again from a cache on every "
               f"path a mutant does not change).")
    out = head + [
        f"Campaign: `{r.get('command', 'balloonspec spec-mutate')}` on model/algorithm.py "
        f"sha256 `{r.get('spec_sha256', '?')[:16]}`; {ran}", "",
        "| mutants | caught by proofs | of which also by vectors | caught only by vectors | accepted by both | "
        "timeouts | crashes |", "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {r['mutants']} | {r['caught_by_proofs']} | {r['caught_by_proofs_and_vectors']} | "
        f"{r['caught_only_by_vectors']} | {r['accepted']} | {r['timeouts']} | {r['crashes']} |", "",
        "## By operator class", "", "| class | proofs | only vectors | accepted | timeout | crash |",
        "|---|---:|---:|---:|---:|---:|"]
    for k, d in r["by_operator"].items():
        out.append(f"| {k} | {d['proofs']} | {d['vectors']} | {d['accepted']} | {d['timeout']} | {d['crash']} |")
    out += ["", "## Per invariant", "",
            "*status*: mutants that change the invariant's status in `balloonspec prove`; *own*: mutants that "
            "break one of its own obligations (those of its plan that no other invariant's proof starts "
            "with; the cycle invariant's conjuncts, the loop invariants and the list lemmas count for the "
            "invariant that states them).", "", "| invariant | installed spec | status | own |", "|---|---|---:|---:|"]
    for i, n in r["per_invariant"].items():
        out.append(f"| [{i}](invariants.md#{i.lower()}) | {r['baseline']['invariants'][i]} | {n['status']} | "
                   f"{n['own']} |")
    out += ["", "Shared lemmas no invariant states on its own (mutants that break them):", "",
            "| lemma | mutants |", "|---|---:|"]
    out += [f"| {k} | {n} |" for k, n in r["per_shared_lemma"].items()]
    why = uncaught(r)
    if why:
        out += ["", "Proved invariants whose own obligations no mutant breaks:", ""]
        out += [f"- **{i}**: {w}" for i, w in why.items()]
    acc = [x for x in r["results"] if x["category"] == "accepted"]
    out += ["", f"## Accepted mutants ({len(acc)})", "",
            "Accepted by every proof and every shipped vector. Verdict: *equivalent* (nothing the spec "
            "promises or a driver shows changes) or *missing invariant* (the catalogue and the vectors miss a "
            "behaviour change; what was done about it). Verdicts live in `REVIEW` "
            "(conformance/spec_mutation.py).", "",
            "| mutant | edit | verdict | why |", "|---|---|---|---|"]
    for x in acc:
        v, w = REVIEW.get(x["id"], ("not reviewed", ""))
        edit = x["text"].replace("|", "\\|")
        out.append(f"| `{x['id']}` | `{edit}` | {v} | {w} |")
    out.append("")
    return "\n".join(out)


def committed_report() -> dict | None:
    try:
        return json.loads(RESULT_JSON.read_text())
    except FileNotFoundError:
        return None
