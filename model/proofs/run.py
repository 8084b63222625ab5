"""Run the invariant catalogue: `run_catalogue()` for the CLI (`balloonspec prove`).

How a run goes: every selected invariant's plan names its obligations
(model/proofs/catalogue.py, shared ones once); the symbolic runs they are
about (``init``, ``work``, ``exit``; the generic loop bodies are explored
when a run first meets the loop) are explored once each, with a
``Checker`` observing them, so every claim is checked in the run that reaches
it; the standalone obligations (list lemmas, host_reset) run beside them.
With ``jobs`` > 1 the searches are split into disjoint decision prefixes
(``symbolic.frontier``) and the prefixes and standalone checks are shared out
to forked worker processes; the tallies they send back are plain data, merged
here (a generic loop exploration a worker repeats is counted once). Each
invariant's outcome is then read off its obligations in order: ``vacuous`` if
any obligation's hypotheses are unsatisfiable (or an assumption emptied one
of its runs), else the first ``violated``/``unknown`` one, else ``proved``.
The counterexample of a violated obligation is re-derived here, from its
first failing path (depth-first order) solved in a fresh Z3 context, so the
report does not depend on the number of workers.

Exit semantics (`exit_code(report)`): 0 when every outcome equals its
expectation, 1 when any differs, 2 on error (a check that raised, an
obligation that is vacuous, or an unknown invariant id).
"""
from __future__ import annotations

import json
import os
import sys
import time
import traceback
from dataclasses import dataclass, field

import z3

from .catalogue import CATALOGUE, Invariant, Plan, Standalone
from .checker import Checker, Obligation, Tally, model_dict
from .framework import DEFAULT_SPEC, Outcome, Spec
from .witnesses import WITNESSES

EXIT_OK, EXIT_DIFFERS, EXIT_ERROR = 0, 1, 2
CONTEXT_RUNS = ("init", "work", "exit", "work/benign")


def default_jobs() -> int:
    """All CPUs (BALLOONSPEC_PROVE_JOBS overrides)."""
    env = os.environ.get("BALLOONSPEC_PROVE_JOBS")
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


# -- the session: what one spec under proof needs ---------------------------------------------
@dataclass
class Session:
    spec: Spec
    obligations: list  # Obligation (path obligations) in first-use order
    standalone: list  # Standalone
    policy: object = None  # the loop policy (its generic loop explorations are shared)
    checker: Checker = None
    vacuity: dict = field(default_factory=dict)  # exploration label -> [events]

    def runs_needed(self) -> list[str]:
        """The runs the obligations are about (optional ones, the shared lemmas,
        ride along on the runs the others need)."""
        labels = {l for o in self.obligations if o.required for l in o.explorations()}
        need = [r for r in CONTEXT_RUNS if r in labels]
        if any(l.startswith("loop:") for l in labels) and "work" not in need:
            need.append("work")  # the generic loops are explored when work meets them
        return need


def _flags():
    from ..symbolic import Policy

    p = Policy.symbolic()
    return {"consistent": p.consistent, "host_benign": p.host_benign, "alloc_low": p.alloc_low,
            "alloc_benign": p.alloc_benign}


def _session(plans: dict, spec: Spec) -> Session:
    from . import loops

    seen, path_obs, alone = set(), [], []
    for plan in plans.values():
        for o in plan.obligations:
            if o.key in seen:
                continue
            seen.add(o.key)
            (alone if isinstance(o, Standalone) else path_obs).append(o)
    s = Session(spec, path_obs, alone)
    s.checker = Checker(path_obs, _flags())
    s.policy = loops.policy()
    s.policy.observer = s.checker
    return s


def _collect_generic_vacuity(s: Session) -> None:
    for (name, _, _, tag), g in s.policy.generic.items():
        if g.paths.vacuous:
            s.vacuity.setdefault(f"loop:{name}{tag}", []).extend(g.paths.vacuous)


# -- exploring -----------------------------------------------------------------------------------
def _explore_serial(s: Session) -> None:
    from ..symbolic import explore
    from .runs import exploration

    for label in s.runs_needed():
        ex = explore(exploration(label, s.spec), loops=s.policy, observer=s.checker, label=label)
        if ex.vacuous:
            s.vacuity.setdefault(label, []).extend(ex.vacuous)
    _collect_generic_vacuity(s)


_SESSION: Session | None = None  # the forked workers' session (inherited)


def _task(task):
    """Worker: one path (or the paths beneath a decision prefix) of one run, one
    generic loop body, or one standalone obligation. Returns plain data:
    (tallies {(key, label): Tally}, vacuity {label: [events]}, error)."""
    from ..symbolic import explore
    from .runs import exploration

    s = _SESSION
    try:
        if task[0] == "alone":
            o = next(x for x in s.standalone if x.key == task[1])
            return {(o.key, "standalone"): o.fn()}, {}, None
        checker = Checker(s.obligations, _flags())
        s.policy.observer = checker
        known = set(s.policy.generic)
        if task[0] == "generic":
            key = task[1]
            g = s.policy.generic[key]
            explore(g.fn, loops=s.policy, observer=checker, label=f"loop:{key[0]}{key[3]}")
            return checker.tallies, {}, None
        _, label, prefix, single, new_from = task
        ex = explore(exploration(label, s.spec), loops=s.policy, observer=checker, label=label, prefix=prefix,
                     single=single, new_from=new_from)
        vac = {label: list(ex.vacuous)} if ex.vacuous else {}
        for key, g in s.policy.generic.items():
            if key not in known and g.paths.vacuous:
                vac.setdefault(f"loop:{key[0]}{key[3]}", []).extend(g.paths.vacuous)
        return checker.tallies, vac, None
    except Exception as e:  # noqa: BLE001 - reported as the obligation's error
        return {}, {}, f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=8)}"


def _explore_parallel(s: Session, jobs: int) -> list[str]:
    """Split each run into decision prefixes (exploring its first paths here,
    without checking: they become single-path tasks), and share the prefixes,
    the generic loop bodies met so far and the standalone checks out to
    ``jobs`` forked workers, which check every claim. Returns errors."""
    import multiprocessing as mp

    from ..symbolic import frontier
    from .runs import exploration

    global _SESSION
    s.policy.observer = None
    runs = []
    for label in s.runs_needed():
        pending, ex = frontier(exploration(label, s.spec), width=4 * jobs, loops=s.policy, label=label)
        if ex.vacuous:
            s.vacuity.setdefault(label, []).extend(ex.vacuous)
        runs += [("run", label, p.prefix, True, p.new_from) for p in ex]
        runs += [("run", label, p, False, None) for p in pending]
    _collect_generic_vacuity(s)
    # the heavy ones first: standalone lemmas and loop bodies, then the runs, the benign one first
    tasks = [("alone", o.key) for o in s.standalone] + [("generic", k) for k in s.policy.generic]
    tasks += sorted(runs, key=lambda t: t[1] != "work/benign")
    _SESSION = s
    errors: list[str] = []
    generic_seen: set = set()
    try:
        ctx = mp.get_context("fork")
        with ctx.Pool(jobs) as pool:
            for tallies, vac, err in pool.imap_unordered(_task, tasks, chunksize=1):
                if err:
                    errors.append(err)
                _merge(s, tallies, vac, generic_seen)
    finally:
        _SESSION = None
    return errors


def _merge(s: Session, tallies: dict, vac: dict, generic_seen: set) -> None:
    """Add a worker's tallies; a generic loop exploration counts once."""
    fresh_generic = set()
    for (key, label), t in tallies.items():
        if label.startswith("loop:"):
            if (key, label) in generic_seen:
                continue
            fresh_generic.add((key, label))
        mine = s.checker.tallies.get((key, label))
        if mine is None:
            s.checker.tallies[(key, label)] = t
        else:
            mine.merge(t)
    generic_seen |= fresh_generic
    for label, events in vac.items():
        if label.startswith("loop:") and label in s.vacuity:
            continue
        s.vacuity.setdefault(label, []).extend(events)


# -- outcomes -------------------------------------------------------------------------------------
def _tally_of(s: Session, o) -> Tally:
    if isinstance(o, Standalone):
        return s.checker.tallies.get((o.key, "standalone")) or Tally(o.key)
    t = Tally(o.key, required=o.required)
    for label in o.explorations():
        part = s.checker.tallies.get((o.key, label))
        if part is not None:
            t.merge(part)
        for ev in s.vacuity.get(label, []):
            if not _explained(ev):
                t.vacuity.append((label, ev))
    return t


def _explained(ev) -> bool:
    """A path a loop's head assumption emptied after the invariant failed on
    entry is no vacuity: the LOOP entry obligation (in every plan) fails."""
    return bool(ev.suspects) and all(x.endswith("after its entry claim failed") for x in ev.suspects)


def _policy_text(o) -> str:
    names = {"consistent": "consistent host", "host_benign": "benign host", "alloc_low": "32-bit PFNs",
             "alloc_benign": "benign allocator"}
    return ", ".join(names[p] for p in getattr(o, "policy", ())) or "any host, any allocator"


def _describe(o, t: Tally) -> str:
    if isinstance(o, Standalone):
        return f"{o.text}: {t.status}"
    where = ", ".join(l for l in o.explorations() if l in t.labels) or "no run"
    return (f"{o.text} [{_policy_text(o)}; {t.checks} checks at {t.paths} points of {where}]"
            + ("" if t.status == "proved" else f": {t.status}"))


def _explain(o, t: Tally) -> dict:
    from .cref import c_lines_of

    d = {"key": o.key, "text": o.text, "status": t.status, "checks": t.checks, "applicable": t.applicable,
         "hypotheses": sorted(t.hypotheses), "example": t.example[1] if t.example else None,
         "c_lines": c_lines_of(t.functions), "functions": sorted(t.functions), "seconds": round(t.seconds, 3)}
    if isinstance(o, Obligation):
        d.update(explorations=[l for l in o.explorations() if l in t.labels], policy=_policy_text(o),
                 extra_hypotheses=o.hyps_text)
    else:
        d.update(explorations=["standalone"], policy="", extra_hypotheses=t.note)
    if t.fail is not None:
        d["failure"] = {"claim": t.fail[1], "model": t.fail[2]}
    if t.vacuity:
        d["vacuity"] = [f"{label}: an assumption emptied a path after decisions {list(ev.decisions)}; "
                        f"suspects: {list(ev.suspects)}" for label, ev in t.vacuity]
    return d


def _counterexample(s: Session, o, t: Tally, rederiver=None) -> dict | None:
    """The first failing check's counterexample, re-derived (deterministic,
    see ``Rederiver``); the worker's model if that fails."""
    if t.fail is None:
        return None
    order, label, model, decisions, _ = t.fail
    if isinstance(o, Standalone) or (not decisions and order == ()):
        return model
    lab = next((l for l in o.explorations() if (s.checker.tallies.get((o.key, l)) or Tally("")).fail is not None
                and s.checker.tallies[(o.key, l)].fail[0] == order), None)
    got = None
    if rederiver is False:  # not asked for: the model the check found
        return model
    if lab is not None:
        try:
            got = rederiver.ask(o.key, lab, order, label, decisions) if rederiver else \
                _rederive(s, o, lab, order, label, decisions)
        except Exception:  # noqa: BLE001 - fall back to the worker's model
            got = None
    return got if got is not None else model


class Rederiver:
    """Re-derives counterexamples in a process forked before any exploration,
    so that its Z3 state depends only on its requests (made in a fixed order:
    invariant by invariant), never on how the search was shared out among
    workers: the same report for every --jobs."""

    def __init__(self, s: Session) -> None:
        import pickle
        import struct

        self._pickle, self._struct = pickle, struct
        r1, w1 = os.pipe()
        r2, w2 = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the server
            os.close(w1)
            os.close(r2)
            code = 0
            try:
                while True:
                    req = self._read(r1)
                    if req is None:
                        break
                    key, lab, order, label, decisions = req
                    o = next(x for x in s.obligations if x.key == key)
                    try:
                        ans = _rederive(s, o, lab, order, label, decisions)
                    except Exception:  # noqa: BLE001 - the caller falls back
                        ans = None
                    self._write(w2, ans)
            except BaseException:  # noqa: BLE001 - never return into the caller's code
                code = 1
            os._exit(code)
        os.close(r1)
        os.close(w2)
        self.r, self.w = r2, w1

    def _write(self, fd, obj) -> None:
        data = self._pickle.dumps(obj)
        os.write(fd, self._struct.pack("<Q", len(data)))
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]

    def _read(self, fd):
        head = self._readn(fd, 8)
        if head is None:
            return None
        return self._pickle.loads(self._readn(fd, self._struct.unpack("<Q", head)[0]))

    @staticmethod
    def _readn(fd, n):
        buf = b""
        while len(buf) < n:
            chunk = os.read(fd, n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def ask(self, key, lab, order, label, decisions):
        self._write(self.w, (key, lab, tuple(order), label, decisions))
        return self._read(self.r)

    def close(self) -> None:
        try:
            os.close(self.w)
            os.close(self.r)
        finally:
            os.waitpid(self.pid, 0)


class _Capture:
    """Observer that captures one obligation's claim at one point."""

    def __init__(self, o: Obligation, order: tuple, label: str, flags: dict) -> None:
        self.o, self.order, self.label, self.flags = o, order, label, flags
        self.found = None

    def begin(self, label):
        self.cur = label
        return self

    def _ev(self, run, ev, item):
        if self.found is not None or run.order() != self.order:
            return
        fn = getattr(self.o, "on_" + ev)
        if fn is None:
            return
        from .checker import _norm

        for f, label in _norm(fn(run, item)):
            if label == self.label:
                extra = list(self.o.hyps(run, run.data)) if self.o.hyps else []
                self.found = (list(run.literals) + [self.flags[p] for p in self.o.policy] + extra, f)
                return

    def on_claim(self, run, c):
        self._ev(run, "claim", c)

    def on_call(self, run, c):
        self._ev(run, "call", c)

    def on_loop_exit(self, run, v):
        self._ev(run, "loop_exit", v)

    def on_end(self, run, p):
        self._ev(run, "end", p)


def _rederive(s: Session, o: Obligation, lab: str, order: tuple, label: str, decisions) -> dict | None:
    """Re-run the failing path, capture the claim at its point, solve it in a fresh context."""
    from ..symbolic import explore
    from .runs import exploration

    if True:
        cap = _Capture(o, order, label, _flags())
        if lab.startswith("loop:"):
            g = next(g for (n, _, _, tag), g in s.policy.generic.items() if f"loop:{n}{tag}" == lab)
            fn, loops = g.fn, s.policy
        else:
            fn, loops = exploration(lab, s.spec), s.policy
        saved, s.policy.observer = s.policy.observer, None
        try:
            explore(fn, loops=loops, prefix=decisions, single=True, observer=cap)
        finally:
            s.policy.observer = saved
        if cap.found is None:
            return None
        hyps, claim = cap.found
        ctx = z3.Context()
        sol = z3.Solver(ctx=ctx)
        sol.add(*[h.translate(ctx) for h in hyps])
        sol.add(z3.Not(claim).translate(ctx))
        if sol.check() == z3.sat:
            return model_dict(sol.model())
        return None


def _outcome(s: Session, inv: Invariant, plan: Plan, errors: list[str], rederiver=None) -> Outcome:
    tallies = {o.key: _tally_of(s, o) for o in plan.obligations}
    obligations, explain, seconds = [], [], 0.0
    status, detail, cex = "proved", "", None
    own = True
    for o in plan.obligations:
        t = tallies[o.key]
        obligations.append(_describe(o, t))
        explain.append(_explain(o, t))
        if own and not o.key.startswith(("CYCLE", "LOOP", "LIST")):
            seconds += t.seconds
        st = t.status
        if st == "vacuous" and status != "vacuous":
            status, detail, cex = "vacuous", f"obligation '{o.text}' is vacuous: its hypotheses are unsatisfiable", None
            if t.vacuity:
                detail += f" ({_explain(o, t)['vacuity'][0]})"
        elif st in ("violated", "unknown") and status == "proved":
            status = st
            if st == "violated":
                detail = f"obligation '{o.text}' fails" + (f" ({t.fail[1]})" if t.fail and t.fail[1] else "")
                cex = _counterexample(s, o, t, rederiver)
            else:
                detail = f"obligation '{o.text}': {t.unknown[2] if t.unknown else 'unknown'}"
    if errors:
        status, detail = "error", errors[0]
    out = Outcome(status, detail, cex, obligations)
    out.seconds = seconds
    out.explain = explain
    if plan.finish is not None and status != "error":
        out = plan.finish(out, tallies)
    return out


# -- the catalogue -----------------------------------------------------------------------------------
def check_outcomes(ids: list[str], spec: Spec | None = None, jobs: int = 1, *, rederive: bool = True,
                   standalone: dict | None = None) -> dict[str, Outcome]:
    """Outcome per invariant id (one session: shared runs, shared obligations).

    ``rederive=False``: a violated invariant's counterexample is the model
    its check found (not re-derived in a fresh process: cheaper, but it may
    depend on --jobs). ``standalone``: tallies of standalone obligations
    already known (key -> Tally; those that do not run the spec, e.g. from
    ``standalone_tallies()``), reused instead of checked again."""
    spec = spec if spec is not None else DEFAULT_SPEC
    plans = {i: CATALOGUE[i].plan() for i in ids}
    s = _session(plans, spec)
    known = standalone or {}
    s.standalone = [o for o in s.standalone if o.key not in known]
    errors: list[str] = []
    with spec.active():
        rederiver = Rederiver(s) if rederive else None
        try:
            for key, t in known.items():
                s.checker.tallies[(key, "standalone")] = t
            if jobs > 1:
                errors = _explore_parallel(s, jobs)
            else:
                _explore_serial(s)
                for o in s.standalone:
                    s.checker.tallies[(o.key, "standalone")] = o.fn()
        except Exception as e:  # noqa: BLE001 - the proof crashed: an error, reported
            errors = [f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=8)}"]
        try:
            return {i: _outcome(s, CATALOGUE[i], plans[i], errors, rederiver if rederive else False)
                    for i in sorted(ids)}
        finally:
            if rederiver is not None:
                rederiver.close()


def standalone_tallies(ids: list[str] | None = None) -> dict:
    """The standalone obligations of the invariants ``ids`` that never run a
    function of model/algorithm.py, checked once: key -> Tally (for
    ``check_outcomes(standalone=...)`` on specs that differ only there). An
    obligation that does run the spec (seen by a profile of its check) is
    left out."""
    import sys

    from .. import algorithm

    alg_file = algorithm.__file__
    out = {}
    seen = set()
    for i in (ids or CATALOGUE):
        for o in CATALOGUE[i].plan().obligations:
            if not isinstance(o, Standalone) or o.key in seen:
                continue
            seen.add(o.key)
            touched = []

            def profile(frame, event, arg, touched=touched):
                if event == "call" and frame.f_code.co_filename == alg_file:
                    touched.append(frame.f_code.co_name)

            sys.setprofile(profile)
            try:
                t = o.fn()
            finally:
                sys.setprofile(None)
            if not touched:
                out[o.key] = t
    return out


def run_check(inv: Invariant, spec: Spec | None = None) -> Outcome:
    """One invariant, in this process (tests use it with broken specs)."""
    t = time.perf_counter()
    out = check_outcomes([inv.id], spec, jobs=1)[inv.id]
    out.seconds = time.perf_counter() - t
    return out


def run_catalogue(ids: list[str] | None = None, spec: Spec | None = None, jobs: int | None = None) -> dict:
    """Check the catalogue (or the invariants `ids`). Returns
    {verdict: as-expected|differs|error, seconds, cpu_seconds, jobs, invariants: [...]},
    each invariant {id, title, status, expected, method, seconds, statement,
    c_lines, detail, obligations, explain, counterexample, witness}; `witness`
    (violations) is {scenario_id, scenario (JSON), explanation, shows_as,
    monitors}. `seconds` of an invariant is the solver time of its own
    obligations (shared lemmas are accounted once, in the total)."""
    t0, c0 = time.perf_counter(), time.process_time()
    unknown = [i for i in (ids or []) if i not in CATALOGUE]
    selected = [CATALOGUE[i] for i in (ids or CATALOGUE) if i in CATALOGUE]
    jobs = default_jobs() if jobs is None else max(1, jobs)
    outcomes = check_outcomes([inv.id for inv in selected], spec, jobs) if selected else {}
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
            "explain": getattr(out, "explain", []),
            "counterexample": out.counterexample,
            "witness": None,
        }
        if inv.witness and out.status == "violated":
            row["witness"] = WITNESSES[inv.witness].to_json()
        rows.append(row)
    if unknown or any(r["status"] in ("error", "vacuous") for r in rows):
        verdict = "error"
    elif all(r["status"] == r["expected"] for r in rows):
        verdict = "as-expected"
    else:
        verdict = "differs"
    cpu = time.process_time() - c0
    try:
        import resource

        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_children = ru.ru_utime + ru.ru_stime
    except Exception:  # noqa: BLE001 - not on every platform
        cpu_children = 0.0
    report = {"verdict": verdict, "seconds": round(time.perf_counter() - t0, 3), "cpu_seconds": round(cpu, 3),
              "cpu_seconds_workers": round(cpu_children, 3), "jobs": jobs, "invariants": rows}
    if unknown:
        report["unknown_ids"] = unknown
    return report


def exit_code(report: dict) -> int:
    return {"as-expected": EXIT_OK, "differs": EXIT_DIFFERS}.get(report["verdict"], EXIT_ERROR)


def format_table(report: dict) -> str:
    """id, status, expected, method, time; a mark where status != expected;
    the last line: the wall time of the whole run (cold: explorations
    included), its CPU time, the workers."""
    rows = report["invariants"]
    w = max([len(r["id"]) for r in rows] + [2])
    lines = [f"{'id':{w}}  {'status':9}  {'expected':9}  {'method':15}  {'time':>7}",
             f"{'-' * w}  {'-' * 9}  {'-' * 9}  {'-' * 15}  {'-' * 7}"]
    for r in rows:
        mark = "" if r["status"] == r["expected"] else "   <-- differs"
        lines.append(f"{r['id']:{w}}  {r['status']:9}  {r['expected']:9}  {r['method']:15}  {r['seconds']:6.2f}s{mark}")
    n_ok = sum(r["status"] == r["expected"] for r in rows)
    cpu = report.get("cpu_seconds", 0) + report.get("cpu_seconds_workers", 0)
    lines.append(f"{n_ok}/{len(rows)} as expected, {report['seconds']:.1f} s wall (cold), {cpu:.1f} s CPU, "
                 f"{report.get('jobs', 1)} jobs: {report['verdict']}")
    for u in report.get("unknown_ids", []):
        lines.append(f"unknown invariant id: {u}")
    for r in rows:
        if r["status"] != r["expected"]:
            lines.append(f"\n{r['id']}: {r['status']} (expected {r['expected']}): {r['detail']}")
            if r["counterexample"]:
                lines.append(f"  counterexample: {json.dumps(r['counterexample'])[:2000]}")
    return "\n".join(lines)


def format_explain(report: dict, inv_id: str) -> str:
    """Per obligation of one invariant: its hypotheses in words, the satisfying
    example (a pre-state the hypotheses allow), the C lines its paths cover."""
    row = next((r for r in report["invariants"] if r["id"] == inv_id), None)
    if row is None:
        return f"unknown invariant id: {inv_id}"
    out = [f"{row['id']}: {row['title']} -- {row['status']} (expected {row['expected']}, method {row['method']})",
           f"  {row['statement']}", ""]
    for n, e in enumerate(row["explain"], 1):
        out.append(f"{n}. {e['text']}  [{e['status']}]")
        out.append(f"   runs: {', '.join(e['explorations'])}; policy: {e['policy'] or '-'}; "
                   f"{e['checks']} checks, {e['applicable']} with satisfiable hypotheses")
        standalone = e["explorations"] == ["standalone"]
        hyps = list(e["hypotheses"])
        if e.get("extra_hypotheses"):
            hyps.append(e["extra_hypotheses"])
        if standalone:
            out.append("   checked: " + ("; ".join(hyps) if hyps else "-"))
        else:
            out.append("   hypotheses (assumed on its paths; 'if policy.X' ones hold when that policy is assumed):")
            out += [f"     - {h}" for h in hyps]
            out.append("     - and on each path, the outcomes of the spec's own branch decisions")
        if e["example"]:
            ex = e["example"]
            # the state first (the balloon, the host, a loop's entry/head), then the environment's answers
            first = [k for k in ex if not any(w in k for w in ("backdoor", "alloc", "totalram", "hyper"))]
            keys = (first + [k for k in ex if k not in first])[:40]
            out.append("   satisfying example: " + ", ".join(f"{k}={ex[k]}" for k in keys))
        else:
            out.append("   satisfying example: NONE (the hypotheses are unsatisfiable)" if e["status"] == "vacuous"
                       else "   satisfying example: -")
        if e.get("vacuity"):
            for v in e["vacuity"][:3]:
                out.append(f"   VACUOUS: {v}")
        out.append(f"   C lines: {e['c_lines'] or '-'} (spec functions: {', '.join(e['functions']) or '-'})")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """`python -m balloonspec.model.proofs.run [--json FILE] [--jobs N] [--explain ID] [ID ...]`."""
    import argparse

    ap = argparse.ArgumentParser(prog="balloonspec prove")
    ap.add_argument("ids", nargs="*")
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--explain", metavar="ID")
    a = ap.parse_args(argv)
    ids = a.ids or ([a.explain] if a.explain else None)
    try:
        report = run_catalogue(ids, jobs=a.jobs)
    except Exception as e:  # noqa: BLE001 - the CLI reports, exit 2
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_ERROR
    print(format_table(report))
    if a.explain:
        print()
        print(format_explain(report, a.explain))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1, default=str)
    return exit_code(report)


if __name__ == "__main__":
    sys.exit(main())
