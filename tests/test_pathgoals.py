"""Solver-chosen coverage goals: every feasible path of the model's step functions
(the symbolic engine, from states the proofs' invariants allow) is reached by
the shipped vectors when the interpreted model runs them, or is listed
unreachable."""
import z3

from balloonspec.conformance import pathgoals as pg
from balloonspec.model import algorithm as A


def test_every_feasible_path_is_covered_or_unreachable():
    r = pg.report()
    for name in r["uncovered"]:
        print("UNCOVERED", name)
    for name in r["unexpected"]:
        print("UNEXPECTED (reached, not feasible: an assumed invariant is wrong)", name)
    assert r["uncovered"] == []
    assert r["unexpected"] == []
    names = set(pg.all_paths())
    for name, why in pg.UNREACHABLE_PATHS.items():
        assert name in names, f"stale UNREACHABLE_PATHS entry: {name}"
        assert why.strip(), f"no reason given for {name}"
    # the step functions the goals are about all have paths
    for fn in ("inflate_attempt", "inflate_end", "deflate_release", "deflate_end", "pop_one",
               "release_refused_one", "send_get_target", "work"):
        assert r["per_function"][fn]["paths"] >= 1
    assert r["seconds"]["explore"] < 60  # a generous bound (measured ~4 s on a loaded 2-core machine)


def test_paths_identify_their_decisions():
    for paths in pg.feasible_paths().values():
        assert len({g.name for g in paths}) == len(paths)
        for g in paths:
            # the solver-decided decisions are a subsequence of the recorded ones
            it = iter(g.outcomes)
            assert all(any(o == x for x in it) for _, o in g.decisions)
            assert len(g.steps) == len(g.outcomes) == len(g.sites)
            s = z3.Solver()
            s.add(g.condition)
            assert s.check() == z3.sat
            s = z3.Solver()
            s.add(g.witness.condition)
            assert s.check() == z3.sat


def test_solver_goals_reach_their_paths():
    # the shipped vectors of goals.solver_goals() (tests/test_vectors.py checks they are fresh)
    paths = pg.all_paths()
    solver = [v for v in pg.shipped_vectors() if v.id.startswith("path-")]
    assert solver, "no solver goals"
    for v in solver:
        assert v.reason["kind"] == "coverage" and v.reason["goal"] in paths, v.id
        assert paths[v.reason["goal"]].key in pg.covered_paths([v]), v.id


def test_fake_decision_is_uncovered(monkeypatch):
    orig = A.pop_one

    def pop_one(ops, b, pl, env):
        if ops.cond(ops.eq(ops.list_head(b.pages), ops.u64(0xDEAD0000))):  # a decision no vector takes
            b.size = b.size
        return orig(ops, b, pl, env)

    monkeypatch.setattr(A, "pop_one", pop_one)
    paths = pg.feasible_paths(["pop_one"])["pop_one"]
    assert len(paths) == 4
    vectors = [v for v in pg.shipped_vectors() if v.id in ("exit-with-balloon", "lock-reset-then-restart")]
    cov = pg.covered_paths(vectors)
    uncovered = [g.name for g in paths if g.key not in cov]
    covered = [g.name for g in paths if g.key in cov]
    assert covered and uncovered
    assert all("0xDEAD0000))=T" in n for n in uncovered), uncovered
    monkeypatch.undo()
    assert len(pg.feasible_paths(["pop_one"])["pop_one"]) == 2  # the cache follows the function


def test_explore_is_deterministic():
    for fn in ("inflate_attempt", "work", "deflate_release"):
        a, b = pg.explore_function(fn), pg.explore_function(fn)
        assert [(g.outcomes, g.name) for g in a] == [(g.outcomes, g.name) for g in b]
        # the same path conditions, term for term (Z3 hash-conses: the same AST)
        assert all(x.condition.eq(y.condition) and x.witness.condition.eq(y.witness.condition)
                   for x, y in zip(a, b)), fn
        assert [g.outcomes for g in a] == [g.outcomes for g in pg.feasible_paths([fn])[fn]]


def test_step_goals_start_from_the_registered_loop_invariant():
    """A step function's goals are explored from the loop head the proofs use:
    its witness state satisfies the registered loop invariant, with the
    state the loop writes as the spec names it (lv.i, b.size ...)."""
    g = pg.feasible_paths(["inflate_attempt"])["inflate_attempt"][0]
    ctx = g.witness.ctx
    assert str(ctx["lv.i"]) == "lv.i" and str(ctx["b.size"]) == "b.size"
    assert str(ctx["lv.goal"]) == "e.lv.goal"  # not written by the loop: the entry's
    # the goal's condition has allocations <= min(i, YIELD_THRESHOLD) (INFLATE-LOOP-INV)
    s = z3.Solver()
    s.add(g.witness.condition, z3.Or(z3.UGT(ctx["lv.allocations"], ctx["lv.i"]),
                                     z3.UGT(ctx["lv.allocations"], 1024)))
    assert s.check() == z3.unsat


def test_opaque_callees_are_merged_into_one_step():
    """work's goals do not multiply by the paths of reset/inflate/deflate: the
    engine merges an OPAQUE callee's paths (its calls are kept, guarded)."""
    work = pg.feasible_paths(["work"])["work"]
    assert len(work) == 22
    reset_paths = [g for g in work if g.outcomes and g.outcomes[0]]  # reset_required
    assert reset_paths
    starts = [c for g in reset_paths for c in g.witness.calls if c.kind == "backdoor" and c.cmd == 0]
    assert starts and all(not isinstance(c.guard, bool) for c in starts)
