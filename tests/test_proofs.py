"""The proofs: the catalogue matches its expectations; each proof fails with a
counterexample when the spec under proof is deliberately broken (in a step
function, in a runner's own code, in the list end it uses); a contradictory
hypothesis makes a proof vacuous (an error, exit 2), never proved; the
witnesses show their violations in the model's predictor; the generated docs
are fresh."""
from __future__ import annotations

import inspect
import textwrap

import pytest
import z3

from balloonspec.model import algorithm as A
from balloonspec.model.proofs import catalogue as K
from balloonspec.model.proofs import docs, run
from balloonspec.model.proofs.cref import C, defines
from balloonspec.model.proofs.framework import Spec
from balloonspec.model.proofs.witnesses import WITNESSES, confirm, replay_in_model
from balloonspec.model.scenario import Scenario, steps


# -- the catalogue on the seed ---------------------------------------------------------------
@pytest.mark.timeout(900)
def test_catalogue_runs_as_expected():
    report = run.run_catalogue()
    differs = [(r["id"], r["status"], r["expected"], r["detail"][:300]) for r in report["invariants"]
               if r["status"] != r["expected"]]
    assert not differs, differs
    assert report["verdict"] == "as-expected" and run.exit_code(report) == 0
    # (its time is a benchmark number `balloonspec prove` prints, not a test assertion)
    for r in report["invariants"]:
        if r["expected"] == "violated":
            assert r["witness"]["scenario_id"] and r["witness"]["explanation"], r["id"]
            assert "reachable: witness" in r["detail"], r["id"]
            assert r["counterexample"], r["id"]
        else:
            assert r["obligations"], r["id"]
            # every obligation of a proved invariant had satisfiable hypotheses, with an example
            for e in r["explain"]:
                assert e["status"] in ("proved", "n/a"), (r["id"], e["key"], e["status"])
                if e["status"] == "proved":
                    assert e["applicable"] >= 1 and e["example"] is not None, (r["id"], e["key"])


def test_catalogue_is_well_formed():
    assert len(K.CATALOGUE) >= 25
    for inv in K.CATALOGUE.values():
        assert inv.expected in ("proved", "violated")
        assert inv.method in ("inductive", "loop-invariant", "lemma", "counterexample"), inv.id
        if inv.expected == "violated":
            assert inv.witness in WITNESSES and inv.method == "counterexample", inv.id
            assert inv.id in WITNESSES[inv.witness].violates, inv.id
        inv.cite()  # every cited snippet is in the C
        assert inv.plan().obligations, inv.id
    for w in WITNESSES.values():
        for v in w.violates:
            assert K.CATALOGUE[v].expected == "violated", (w.id, v)


def test_statement_numbers_come_from_the_c():
    d = defines()
    assert (C.RATE_ALLOC_MIN, C.RATE_ALLOC_MAX, C.RATE_FREE_MIN, C.RATE_FREE_MAX) == (
        d["VMW_BALLOON_RATE_ALLOC_MIN"], d["VMW_BALLOON_RATE_ALLOC_MAX"],
        d["VMW_BALLOON_RATE_FREE_MIN"], d["VMW_BALLOON_RATE_FREE_MAX"])
    assert K.LOCK_BOUND == d["VMW_BALLOON_NOSLEEP_ALLOC_MAX"] + d["VMW_BALLOON_MAX_REFUSED"] == 16400


def test_exit_codes_and_table():
    base = {"seconds": 1.0, "invariants": [{"id": "X", "status": "proved", "expected": "proved", "method": "inductive",
                                            "seconds": 0.1, "detail": "", "counterexample": None}]}
    assert run.exit_code({**base, "verdict": "as-expected"}) == 0
    assert run.exit_code({**base, "verdict": "differs"}) == 1
    assert run.exit_code({**base, "verdict": "error"}) == 2
    assert "X" in run.format_table({**base, "verdict": "as-expected"})
    r = run.run_catalogue(["NO-SUCH-ID"])
    assert r["verdict"] == "error" and run.exit_code(r) == 2


def test_cli_main_runs_a_subset(capsys):
    assert run.main(["RATE-FREE-BOUNDS", "CYCLE-NOSLEEP-RATE", "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert "RATE-FREE-BOUNDS" in out and "violated" in out and "wall (cold)" in out


def test_explain_prints_hypotheses_example_and_c_lines(capsys):
    assert run.main(["--explain", "CYCLE-UNLOCK-BOUND", "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "hypotheses (assumed on its paths" in out and "the cycle invariant" in out and "the deflate loop invariant" in out
    assert "satisfying example: b." in out
    assert "C lines: vmw_balloon.c:" in out and "vmballoon_deflate" in out


# -- a broken spec fails its proof with a counterexample --------------------------------------
def _fails(inv_id: str, spec: Spec):
    out = run.run_check(K.CATALOGUE[inv_id], spec)
    assert out.status == "violated", (inv_id, out.status, out.detail)
    assert out.counterexample, (inv_id, out.detail)
    return out


def test_rate_alloc_min_lowered_is_caught():
    out = _fails("RATE-ALLOC-BOUNDS", Spec(constants={"VMW_BALLOON_RATE_ALLOC_MIN": 256}))
    assert "work" in out.detail or "Init" in out.detail


def test_rate_free_clamp_dropped_is_caught():
    def deflate_end_without_min(ops, b, dl):  # the +16 without its min(.., RATE_FREE_MAX)
        if not ops.cond(dl.returned):
            b.rate_free = ops.add(b.rate_free, ops.k.RATE_FREE_INC)

    out = _fails("RATE-FREE-BOUNDS", Spec(overrides={"deflate_end": deflate_end_without_min}))
    assert out.counterexample.get("b.rate_free", 0) > C.RATE_FREE_MAX - C.RATE_FREE_INC


def test_rate_alloc_increase_clamp_dropped_is_caught():
    def inflate_end_without_min(ops, b, lv):
        k = ops.k
        if ops.cond(ops.and_(ops.eq(lv.error, k.ERR_OK), ops.uge(lv.i, b.rate_alloc))):
            b.rate_alloc = ops.add(b.rate_alloc, ops.mul(ops.udiv(lv.i, b.rate_alloc), k.RATE_ALLOC_INC))

    _fails("RATE-ALLOC-BOUNDS", Spec(overrides={"inflate_end": inflate_end_without_min}))


def test_slow_cycles_constant_is_caught():
    _fails("SLOW-CYCLES-BOUND", Spec(constants={"VMW_BALLOON_SLOW_CYCLES": 5}))


def test_refused_limit_is_caught():
    _fails("REFUSED-BOUND", Spec(constants={"VMW_BALLOON_MAX_REFUSED": 17}))


def test_lock_bound_is_caught():
    _fails("CYCLE-LOCK-BOUND", Spec(constants={"VMW_BALLOON_NOSLEEP_ALLOC_MAX": 16385}))


def test_deflate_undershoot_is_caught():
    orig = A.deflate_begin

    def deflate_begin_off_by_one(ops, b):  # goal = size - target + 1, no rate limit
        dl = orig(ops, b)
        dl.goal = ops.add(ops.sub(b.size, b.target), ops.k.ONE)
        return dl

    _fails("NO-OVERSHOOT", Spec(overrides={"deflate_begin": deflate_begin_off_by_one}))


def test_reset_without_pop_is_caught():
    def reset_without_pop(ops, b, env):
        if A.send_start(ops, b, env):
            b.reset_required = ops.false
            A.send_guest_id(ops, b, env)

    _fails("RESET-HANDLING", Spec(overrides={"reset": reset_without_pop}))


def test_ignoring_get_target_status_is_caught():
    """A driver that acts on GET_TARGET even when it failed (e.g. answered
    ERROR_RESET) sends UNLOCK/LOCK while the host waits for START."""
    orig = A.send_get_target

    def get_target_ignoring_status(ops, b, env):
        ok, target = orig(ops, b, env)
        return True, target

    _fails("PROTO-RESET-RESTART-CONSISTENT", Spec(overrides={"send_get_target": get_target_ignoring_status}))


def test_target_off_by_one_is_caught():
    orig = A.send_get_target

    def get_target_minus_one(ops, b, env):
        ok, target = orig(ops, b, env)
        return ok, ops.sub(target, ops.k.ONE)

    spec = Spec(overrides={"send_get_target": get_target_minus_one})
    _fails("TARGET-FAITHFUL", spec)
    _fails("PROGRESS-INFLATE", spec)  # size == T is no longer a fixed point


def test_freeing_a_page_whose_unlock_failed_is_caught():
    orig = A.deflate_release

    def release_frees_on_failure(ops, b, dl, env):
        pfn = ops.list_head(b.pages)
        done = orig(ops, b, dl, env)
        if ops.cond(dl.returned):  # UNLOCK refused: the seed keeps the page, this one frees it
            ops.list_take(b.pages)
            env.free_page(pfn)
            b.size = ops.sub(b.size, ops.k.ONE)
        return done

    _fails("MEM-NO-FREE-LOCKED", Spec(overrides={"deflate_release": release_frees_on_failure}))


def test_unlock_of_a_released_page_is_caught():
    orig = A.deflate_release

    def release_unlocks_twice(ops, b, dl, env):
        pfn = ops.list_head(b.pages)
        done = orig(ops, b, dl, env)
        if not ops.cond(dl.returned):
            A.send_unlock_page(ops, b, env, pfn)
        return done

    _fails("PROTO-UNLOCK-LOCKED", Spec(overrides={"deflate_release": release_unlocks_twice}))


def test_dropped_refused_page_is_caught():
    orig = A.inflate_attempt

    def attempt_dropping_refused(ops, b, lv, env):
        n0 = b.n_refused_pages
        done = orig(ops, b, lv, env)
        if ops.cond(ops.ugt(b.n_refused_pages, n0)):
            ops.list_take(b.refused_pages)  # neither listed nor freed
        return done

    _fails("MEM-CONSERVATION-LOW-PFN", Spec(overrides={"inflate_attempt": attempt_dropping_refused}))


def test_unlock_rate_limit_dropped_is_caught():
    orig = A.deflate_begin

    def deflate_begin_without_rate(ops, b):
        dl = orig(ops, b)
        dl.goal = ops.sub(b.size, b.target)
        return dl

    _fails("CYCLE-UNLOCK-BOUND", Spec(overrides={"deflate_begin": deflate_begin_without_rate}))


def test_exit_without_pop_is_caught():
    def exit_without_pop(ops, b, env, *, debugfs=True):
        env.cancel_delayed_work_sync()
        A.send_start(ops, b, env)

    _fails("EXIT-RELEASES", Spec(overrides={"exit": exit_without_pop}))


def test_fixed_exit_is_proved():
    """The exit finding is about the seed's code: an exit that pops only after a
    successful START proves the property (the check is not vacuous either way)."""
    def exit_checking_start(ops, b, env, *, debugfs=True):
        env.cancel_delayed_work_sync()
        if debugfs:
            env.debugfs_remove()
        if A.send_start(ops, b, env):
            A.pop(ops, b, env)

    out = run.run_check(K.CATALOGUE["MEM-NO-FREE-LOCKED-EXIT"], Spec(overrides={"exit": exit_checking_start}))
    assert out.status == "proved", out.detail


# -- the runners are proved as written: edits of a runner change a proof's outcome ----------------
def _edited(fn, edit) -> object:
    """``fn`` recompiled from its source after ``edit(source)``, in the algorithm's globals."""
    src = textwrap.dedent(inspect.getsource(fn))
    new = edit(src)
    assert new != src
    ns: dict = {}
    exec(compile(new, f"<edited {fn.__name__}>", "exec"), A.__dict__, ns)
    return ns[fn.__name__]


def test_inflate_without_release_refused_pages_fails():
    inflate = _edited(A.inflate, lambda s: s.replace("    release_refused_pages(ops, b, env)\n", ""))
    out = _fails("REFUSED-EMPTY-AT-END", Spec(overrides={"inflate": inflate}))
    assert "refused" in out.detail


def test_work_inflating_twice_fails():
    """A duplicated call in a runner: work inflates twice in a cycle."""
    work = _edited(A.work, lambda s: s.replace("            inflate(ops, b, env)\n",
                                                "            inflate(ops, b, env)\n            inflate(ops, b, env)\n"))
    _fails("CYCLE-LOCK-BOUND", Spec(overrides={"work": work}))


def test_work_resetting_after_get_target_fails():
    """A reordered call in a runner: the reset after GET_TARGET instead of before."""
    def edit(s):
        reset = "    if ops.cond(b.reset_required):\n        reset(ops, b, env)\n"
        assert reset in s
        s = s.replace(reset, "")
        return s.replace("    env.queue_delayed_work(C.HZ)\n", reset + "    env.queue_delayed_work(C.HZ)\n")

    _fails("RESET-HANDLING", Spec(overrides={"work": _edited(A.work, edit)}))


def test_deflate_unlocking_the_tail_and_freeing_the_head_fails():
    """The lists have order: UNLOCK of the tail page, then the head page freed
    (still locked by the host) is caught."""
    def release_wrong_end(ops, b, dl, env):
        tail = ops.list_tail(b.pages)
        if not A.send_unlock_page(ops, b, env, tail):
            b.rate_free = ops.umax(ops.udiv(b.rate_free, ops.k.TWO), ops.k.RATE_FREE_MIN)
            dl.returned = ops.true
            return True
        pfn = ops.list_take(b.pages)  # the head
        env.free_page(pfn)
        b.stats.free = ops.add(b.stats.free, ops.k.ONE)
        b.size = ops.sub(b.size, ops.k.ONE)
        dl.i = ops.add(dl.i, ops.k.ONE)
        return ops.cond(ops.uge(dl.i, dl.goal))

    out = _fails("MEM-NO-FREE-LOCKED", Spec(overrides={"deflate_release": release_wrong_end}))
    assert out.counterexample


def test_a_loop_without_an_invariant_is_an_error():
    def pop_other_loop(ops, b, env):
        pl = A.PopLoop(ops.k.ZERO)
        ops.loop("pop-unregistered", A.pop_continues, A.pop_one, b, pl, env)

    out = run.run_check(K.CATALOGUE["EXIT-RELEASES"], Spec(overrides={"pop": pop_other_loop}))
    assert out.status == "error" and "no loop invariant registered" in out.detail


# -- vacuity: contradictory hypotheses never prove anything ----------------------------------------
def _contradiction(d):
    """rate_alloc < 100: contradicts the cycle invariant assumed at the start of a cycle."""
    return z3.ULT(d["b"].rate_alloc, z3.BitVecVal(100, 32)) if "pre" in d and "rc" not in d else z3.BoolVal(True)


def test_contradictory_hypothesis_is_vacuous():
    out = run.run_check(K.CATALOGUE["RATE-FREE-BOUNDS"], Spec(hypotheses=[_contradiction]))
    assert out.status == "vacuous", out.detail
    assert "vacuous" in out.detail
    report = run.run_catalogue(["RATE-FREE-BOUNDS"], Spec(hypotheses=[_contradiction]), jobs=1)
    assert report["verdict"] == "error" and run.exit_code(report) == 2


def test_contradiction_inside_a_spec_function_is_vacuous():
    """An assumption that empties paths midway (here: in every GET_TARGET)."""
    orig = A.send_get_target

    def get_target_assuming_false(ops, b, env):
        ok, target = orig(ops, b, env)
        ops.oracle.assume(z3.BoolVal(False), "an injected contradiction")
        return ok, target

    out = run.run_check(K.CATALOGUE["TARGET-FAITHFUL"], Spec(overrides={"send_get_target": get_target_assuming_false}))
    assert out.status == "vacuous", out.detail
    assert "an injected contradiction" in out.detail


def test_cli_exits_2_on_a_vacuous_proof(monkeypatch, capsys):
    from balloonspec import cli

    monkeypatch.setattr(run, "DEFAULT_SPEC", Spec(hypotheses=[_contradiction]))
    assert cli.main(["prove", "--only", "RATE-FREE-BOUNDS", "--jobs", "1"]) == 2
    assert "vacuous" in capsys.readouterr().out


@pytest.mark.timeout(600)
def test_counterexamples_do_not_depend_on_the_workers(tmp_path):
    """Same command, same report: the counterexamples of `balloonspec prove`
    are re-derived in a process whose state does not depend on how the search
    was shared out (--jobs 1 and 2 give the same values)."""
    import json
    import subprocess
    import sys

    reports = []
    for jobs in (1, 2):
        out = tmp_path / f"r{jobs}.json"
        p = subprocess.run([sys.executable, "-m", "balloonspec.cli", "prove", "--only", "DEBUGFS-UNSIGNED",
                            "--only", "CYCLE-NOSLEEP-RATE", "--jobs", str(jobs), "--json", str(out)],
                           capture_output=True, text=True, timeout=550)
        assert p.returncode == 0, p.stdout + p.stderr
        reports.append(json.loads(out.read_text()))
    for ra, rb in zip(*(r["invariants"] for r in reports)):
        assert ra["status"] == rb["status"] == "violated"
        assert ra["counterexample"] == rb["counterexample"], ra["id"]


def test_breakage_is_undone():
    from balloonspec.model import constants

    spec = Spec(constants={"VMW_BALLOON_MAX_REFUSED": 17}, overrides={"deflate_end": lambda ops, b, dl: None})
    with spec.active():
        assert constants.VMW_BALLOON_MAX_REFUSED == 17 and A.deflate_end.__name__ == "<lambda>"
    assert constants.VMW_BALLOON_MAX_REFUSED == C.MAX_REFUSED
    assert A.deflate_end.__module__ == "balloonspec.model.algorithm" and A.deflate_end.__name__ == "deflate_end"
    assert run.run_check(K.CATALOGUE["REFUSED-BOUND"]).status == "proved"


# -- witnesses -----------------------------------------------------------------------------------
@pytest.mark.parametrize("wid", sorted(WITNESSES))
def test_witness_shows_its_violation_in_the_model(wid):
    seen, pred = replay_in_model(wid)
    assert seen, wid
    assert not pred.hung
    sc = WITNESSES[wid].scenario()
    assert Scenario.from_json(sc.to_json()) == sc  # replayable as a vector


def test_confirm_predicates_do_not_fire_on_a_benign_run():
    from balloonspec.model.predict import predict

    sc = Scenario(id="benign", target=3000,
                  steps=steps("init", ("cycle", 2), ("set_target", 100), ("cycle", 2), "debugfs", "exit"))
    events = predict(sc).events
    for wid in WITNESSES:
        assert confirm(wid, events) is None, wid


# -- generated documents ------------------------------------------------------------------------
def test_specs_are_not_stale():
    assert not docs.stale(), "run: python -m balloonspec.model.proofs.docs"
