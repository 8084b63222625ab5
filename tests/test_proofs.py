"""The proofs: the catalogue matches its expectations, each proof fails with a
counterexample when the spec under proof is deliberately broken, the witnesses
show their violations in the model's predictor, the generated docs are fresh."""
from __future__ import annotations

import pytest

from balloonspec.model import algorithm as A
from balloonspec.model.proofs import catalogue as K
from balloonspec.model.proofs import docs, run
from balloonspec.model.proofs.cref import C, defines
from balloonspec.model.proofs.framework import Spec
from balloonspec.model.proofs.witnesses import WITNESSES, confirm, replay_in_model
from balloonspec.model.scenario import Scenario, steps


# -- the catalogue on the seed ---------------------------------------------------------------
@pytest.mark.timeout(300)
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


def test_catalogue_is_well_formed():
    assert len(K.CATALOGUE) >= 25
    for inv in K.CATALOGUE.values():
        assert inv.expected in ("proved", "violated")
        assert inv.method in ("inductive", "loop-invariant", "counterexample") or inv.method.startswith("bounded k=")
        if inv.expected == "violated":
            assert inv.witness in WITNESSES and inv.method == "counterexample", inv.id
            assert inv.id in WITNESSES[inv.witness].violates, inv.id
        inv.cite()  # every cited snippet is in the C
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
    assert run.main(["RATE-FREE-BOUNDS", "CYCLE-NOSLEEP-RATE"]) == 0
    out = capsys.readouterr().out
    assert "RATE-FREE-BOUNDS" in out and "violated" in out


# -- a broken spec fails its proof with a counterexample --------------------------------------
def _fails(inv_id: str, spec: Spec):
    out = K.run_check(K.CATALOGUE[inv_id], spec)
    assert out.status == "violated", (inv_id, out.status, out.detail)
    assert out.counterexample, (inv_id, out.detail)
    return out


def test_rate_alloc_min_lowered_is_caught():
    out = _fails("RATE-ALLOC-BOUNDS", Spec(constants={"VMW_BALLOON_RATE_ALLOC_MIN": 256}))
    assert "work" in out.detail or "Init" in out.detail


def test_rate_free_clamp_dropped_is_caught():
    def deflate_end_without_min(ops, b, dl):  # the +16 without its min(.., RATE_FREE_MAX)
        if not dl.returned:
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
        pfn = b.pages[-1]
        done = orig(ops, b, dl, env)
        if dl.returned:  # UNLOCK refused: the seed keeps the page, this one frees it
            b.pages.pop()
            env.free_page(pfn)
            b.size = ops.sub(b.size, ops.k.ONE)
        return done

    _fails("MEM-NO-FREE-LOCKED", Spec(overrides={"deflate_release": release_frees_on_failure}))


def test_unlock_of_a_released_page_is_caught():
    orig = A.deflate_release

    def release_unlocks_twice(ops, b, dl, env):
        pfn = b.pages[-1]
        done = orig(ops, b, dl, env)
        if not dl.returned:
            A.send_unlock_page(ops, b, env, pfn)
        return done

    _fails("PROTO-UNLOCK-LOCKED", Spec(overrides={"deflate_release": release_unlocks_twice}))


def test_dropped_refused_page_is_caught():
    orig = A.inflate_attempt

    def attempt_dropping_refused(ops, b, lv, env):
        n = len(b.refused_pages)
        done = orig(ops, b, lv, env)
        if len(b.refused_pages) > n:
            b.refused_pages.pop()  # neither listed nor freed
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

    out = K.run_check(K.CATALOGUE["MEM-NO-FREE-LOCKED-EXIT"], Spec(overrides={"exit": exit_checking_start}))
    assert out.status == "proved", out.detail


def test_breakage_is_undone():
    from balloonspec.model import constants

    spec = Spec(constants={"VMW_BALLOON_MAX_REFUSED": 17}, overrides={"deflate_end": lambda ops, b, dl: None})
    with spec.active():
        assert constants.VMW_BALLOON_MAX_REFUSED == 17 and A.deflate_end.__name__ == "<lambda>"
    assert constants.VMW_BALLOON_MAX_REFUSED == C.MAX_REFUSED
    assert A.deflate_end.__module__ == "balloonspec.model.algorithm" and A.deflate_end.__name__ == "deflate_end"
    assert K.run_check(K.CATALOGUE["REFUSED-BOUND"]).status == "proved"


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
