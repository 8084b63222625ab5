"""The spec's step functions run symbolically (Z3): all paths of one loop
iteration are enumerated and loop invariants are proved over one step."""
import z3

from balloonspec.model import algorithm as A
from balloonspec.model.ops import CONCRETE
from balloonspec.model.state import Balloon, DeflateLoop, InflateLoop, PopLoop
from balloonspec.model.symbolic import SymbolicEnv, explore, merge, prove_all

RA = z3.BitVec("b.rate_alloc", 32)
RF = z3.BitVec("b.rate_free", 32)
SIZE = z3.BitVec("b.size", 32)
NREF = z3.BitVec("b.n_refused_pages", 32)


def _attempt(ops):
    b, lv, env = Balloon.symbolic(ops), InflateLoop.symbolic(ops), SymbolicEnv(ops)
    done = A.inflate_attempt(ops, b, lv, env)
    return b, lv, env, done


def _in(x, lo, hi):
    return z3.And(z3.UGE(x, lo), z3.ULE(x, hi))


def test_inflate_attempt_paths_cover_every_outcome():
    paths = explore(_attempt)
    # the paths are disjoint and cover everything
    s = z3.Solver()
    s.add(z3.Not(z3.Or(*[p.condition for p in paths])))
    assert s.check() == z3.unsat
    dests = {tuple(c[0] for c in p.result[2].calls) for p in paths}
    assert ("alloc",) in dests  # NULL page, or PFN >= 2**32 (no LOCK call)
    assert ("alloc", "backdoor") in dests
    assert ("alloc", "backdoor", "free") in dests  # RESET / NOTNEEDED
    assert ("alloc", "backdoor", "cond_resched") in dests


def test_inflate_attempt_preserves_rate_alloc_range():
    paths = explore(_attempt)
    bad = prove_all(paths, lambda r: _in(r[0].rate_alloc, 512, 2048), assume=_in(RA, 512, 2048))
    assert bad == []
    # without the assumption it is not an invariant (the check can fail)
    assert prove_all(paths, lambda r: _in(r[0].rate_alloc, 512, 2048))


def test_inflate_attempt_size_and_refused_bounds():
    paths = explore(_attempt)
    # size grows by at most one page per attempt
    assert prove_all(paths, lambda r: z3.Or(r[0].size == SIZE, r[0].size == SIZE + 1)) == []
    # n_refused_pages < MAX_REFUSED is kept whenever the do/while continues
    bad = prove_all(paths, lambda r: z3.Or(r[3], z3.Or(r[0].n_refused_pages == NREF,
                                                        z3.ULT(r[0].n_refused_pages, 16))),
                    assume=z3.ULT(NREF, 16))
    assert bad == []


def test_pfn_above_32_bits_never_reaches_the_host():
    paths = explore(_attempt)
    for p in paths:
        for c in p.result[2].calls:
            if c[0] == "backdoor":
                s = z3.Solver()
                s.add(p.condition, z3.UGE(c[2], z3.BitVecVal(1 << 32, 64)))
                assert s.check() == z3.unsat


def test_deflate_release_preserves_rate_free_range():
    def step(ops):
        b = Balloon.symbolic(ops)
        b.pages = [ops.var64("pfn")]
        dl = DeflateLoop(ops.var32("dl.goal"), ops.var32("dl.i"))
        env = SymbolicEnv(ops)
        done = A.deflate_release(ops, b, dl, env)
        A.deflate_end(ops, b, dl) if done else None
        return b, dl, env, done

    paths = explore(step)
    assert len(paths) >= 4
    assert prove_all(paths, lambda r: _in(r[0].rate_free, 512, 16384), assume=_in(RF, 512, 16384)) == []


def test_pop_one_resched_resets_count():
    def step(ops):
        b = Balloon.symbolic(ops)
        b.pages = [ops.var64("pfn")]
        pl = PopLoop(ops.var32("count"))
        A.pop_one(ops, b, pl, SymbolicEnv(ops))
        return pl

    count, rf = z3.BitVec("count", 32), RF
    paths = explore(step)
    # count stays below rate_free when it starts below it
    assert prove_all(paths, lambda pl: z3.ULT(pl.count, rf), assume=z3.And(z3.ULT(count, rf))) == []


def test_merge_matches_concrete_on_random_states():
    paths = explore(_attempt)
    size_term = merge(paths, lambda r: r[0].size)
    import random
    rng = random.Random(3)
    for _ in range(30):
        sz, ok, status = rng.randrange(1 << 32), rng.random() < 0.8, rng.choice([0, 1, 5, 7])
        env_vals = {"alloc1.ok": ok, "alloc1.pfn": 0x1234, "backdoor1.status": status}
        sub = [(z3.BitVec("b.size", 32), z3.BitVecVal(sz, 32)),
               (z3.Bool("alloc1.ok"), z3.BoolVal(ok)),
               (z3.BitVec("alloc1.pfn", 64), z3.BitVecVal(0x1234, 64)),
               (z3.BitVec("backdoor1.status", 64), z3.BitVecVal(status, 64)),
               (z3.Bool("lv.can_sleep"), z3.BoolVal(False)),
               (z3.BitVec("b.n_refused_pages", 32), z3.BitVecVal(0, 32)),
               (z3.BitVec("b.rate_alloc", 32), z3.BitVecVal(2048, 32)),
               (z3.BitVec("lv.goal", 32), z3.BitVecVal(10, 32)),
               (z3.BitVec("lv.rate", 32), z3.BitVecVal(16384, 32)),
               (z3.BitVec("lv.i", 32), z3.BitVecVal(0, 32)),
               (z3.BitVec("lv.allocations", 32), z3.BitVecVal(0, 32)),
               (z3.BitVec("lv.error", 32), z3.BitVecVal(0, 32))]
        got = z3.simplify(z3.substitute(size_term, *sub))
        # concrete run of the same attempt
        b = Balloon(CONCRETE)
        b.size = sz
        b.rate_alloc = 2048

        class Env:
            def alloc_page(self, gfp):
                return env_vals["alloc1.ok"], env_vals["alloc1.pfn"]

            def backdoor(self, cmd, arg):
                return env_vals["backdoor1.status"], 0

            def free_page(self, pfn):
                pass

            def cond_resched(self):
                pass

        lv = InflateLoop(10, 16384, 0, 0, 0, False)
        A.inflate_attempt(CONCRETE, b, lv, Env())
        assert got.as_long() == b.size


def test_explore_hyps_assume_and_path_limit():
    import pytest

    from balloonspec.model.symbolic import PathLimit

    x = z3.BitVec("x", 32)

    def three_way(ops):
        xv = ops.var32("x")
        ops.oracle.assume(z3.ULT(xv, 10))
        if ops.cond(z3.ULT(xv, 3)):
            return "low"
        if ops.cond(z3.ULT(xv, 20)):  # always true under the assumption: one feasible side
            return "mid"
        return "high"

    paths = explore(three_way)
    assert [p.result for p in paths] == ["low", "mid"]  # depth-first, true side first
    assert [[o for _, o in p.decisions] for p in paths] == [[True], [False, True]]
    for p in paths:  # the assumption is part of every path's condition
        s = z3.Solver()
        s.add(p.condition, z3.UGE(x, 10))
        assert s.check() == z3.unsat
    # hypotheses of every path: x >= 3 leaves only "mid"
    (only,) = explore(three_way, [z3.UGE(x, 3)])
    assert only.result == "mid" and only.literals[0].eq(z3.UGE(x, 3))
    # an assumption that empties the path drops it
    assert explore(three_way, [z3.UGE(x, 10)]) == []
    with pytest.raises(PathLimit):
        explore(three_way, max_paths=1)
