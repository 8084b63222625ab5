"""The symbolic engine (model/symbolic/): the spec's step functions explored path
by path, loops summarised by their invariants (write sets inferred, modular
bodies explored once), cut at their heads for clients, vacuity detected, the
symbolic page lists behaving as Python lists."""
import random

import pytest
import z3

from balloonspec.model import algorithm as A
from balloonspec.model.ops import CONCRETE, Z3Ops
from balloonspec.model.state import Balloon, DeflateLoop, InflateLoop, PopLoop, SymbolicList
from balloonspec.model.symbolic import (Cut, LoopInvariant, Policy, Summarise, SymbolicEnv, explore, frontier,
                                        head_state, merge, merged_call, prove_all)
from balloonspec.model.symbolic.loops import infer_write_set

RA = z3.BitVec("b.rate_alloc", 32)
RF = z3.BitVec("b.rate_free", 32)
SIZE = z3.BitVec("b.size", 32)
NREF = z3.BitVec("b.n_refused_pages", 32)


def _attempt(ops, registers32=True):
    b, lv = Balloon.symbolic(ops), InflateLoop.symbolic(ops)
    env = SymbolicEnv(ops, registers32=registers32)
    done = A.inflate_attempt(ops, b, lv, env)
    return b, lv, env, done


def _in(x, lo, hi):
    return z3.And(z3.UGE(x, lo), z3.ULE(x, hi))


def test_inflate_attempt_paths_cover_every_outcome():
    paths = explore(lambda ops: _attempt(ops, registers32=False))
    # the paths are disjoint and cover everything (no assumption restricts the answers here)
    s = z3.Solver()
    s.add(z3.Not(z3.Or(*[p.condition for p in paths])))
    assert s.check() == z3.unsat
    dests = {tuple(c[0] for c in p.result[2].calls) for p in paths}
    assert ("alloc",) in dests  # NULL page, or PFN >= 2**32 (no LOCK call)
    assert ("alloc", "backdoor") in dests
    assert ("alloc", "backdoor", "free") in dests  # RESET / NOTNEEDED
    assert ("alloc", "backdoor", "cond_resched") in dests


def test_host_registers_are_32_bit_by_default():
    for p in explore(_attempt):
        for c in p.result[2].calls:
            if c.kind == "backdoor":
                s = z3.Solver()
                s.add(p.condition, z3.UGE(c.status, 1 << 32))
                assert s.check() == z3.unsat


def test_inflate_attempt_preserves_rate_alloc_range():
    paths = explore(_attempt)
    bad = prove_all(paths, lambda r: _in(r[0].rate_alloc, 512, 2048), assume=_in(RA, 512, 2048))
    assert bad == []
    # without the assumption it is not an invariant (the check can fail)
    assert prove_all(paths, lambda r: _in(r[0].rate_alloc, 512, 2048))


def test_inflate_attempt_size_and_refused_bounds():
    paths = explore(_attempt)
    assert prove_all(paths, lambda r: z3.Or(r[0].size == SIZE, r[0].size == SIZE + 1)) == []
    bad = prove_all(paths, lambda r: z3.Or(r[3], z3.Or(r[0].n_refused_pages == NREF,
                                                        z3.ULT(r[0].n_refused_pages, 16))),
                    assume=z3.ULT(NREF, 16))
    assert bad == []


def test_pfn_above_32_bits_never_reaches_the_host():
    for p in explore(_attempt):
        for c in p.result[2].calls:
            if c.kind == "backdoor":
                s = z3.Solver()
                s.add(p.condition, z3.UGE(c.arg, z3.BitVecVal(1 << 32, 64)))
                assert s.check() == z3.unsat


def test_deflate_release_preserves_rate_free_range_and_takes_the_head():
    def step(ops):
        b = Balloon.symbolic(ops)
        dl = DeflateLoop(ops.var32("dl.goal"), ops.var32("dl.i"), ops.false)
        env = SymbolicEnv(ops, b=b)
        head = b.pages.item(b.pages.n - 1)
        done = A.deflate_release(ops, b, dl, env)
        A.deflate_end(ops, b, dl) if done else None
        return b, dl, env, done, head

    paths = explore(step)
    assert len(paths) >= 4
    assert prove_all(paths, lambda r: _in(r[0].rate_free, 512, 16384), assume=_in(RF, 512, 16384)) == []
    # the page UNLOCKed and freed is the head (position n - 1) of the ordered list, not the tail
    for p in paths:
        b, dl, env, done, head = p.result
        for c in env.calls:
            if c.kind in ("free",) or (c.kind == "backdoor" and c.cmd == 3):
                s = z3.Solver()
                s.add(p.condition, (c.pfn if c.kind == "free" else c.arg) != head)
                assert s.check() == z3.unsat


def test_pop_one_resched_resets_count():
    def step(ops):
        b = Balloon.symbolic(ops)
        pl = PopLoop(ops.var32("count"))
        A.pop_one(ops, b, pl, SymbolicEnv(ops))
        return pl

    count = z3.BitVec("count", 32)
    paths = explore(step)
    assert prove_all(paths, lambda pl: z3.ULT(pl.count, RF), assume=z3.And(z3.ULT(count, RF))) == []


def test_merge_matches_concrete_on_random_states():
    paths = explore(lambda ops: _attempt(ops, registers32=False))
    size_term = merge(paths, lambda r: r[0].size)
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


def test_explore_hyps_assume_path_limit_and_vacuity():
    from balloonspec.model.symbolic import PathLimit

    x = z3.BitVec("x", 32)

    def three_way(ops):
        xv = ops.var32("x")
        ops.oracle.assume(z3.ULT(xv, 10), "x < 10")
        if ops.cond(z3.ULT(xv, 3)):
            return "low"
        if ops.cond(z3.ULT(xv, 20)):  # always true under the assumption: one feasible side
            return "mid"
        return "high"

    paths = explore(three_way)
    assert [p.result for p in paths] == ["low", "mid"]  # depth-first, true side first
    assert [[o for _, o in p.decisions] for p in paths] == [[True], [False, True]]
    assert not paths.vacuous
    for p in paths:  # the assumption is part of every path's condition, with its label
        s = z3.Solver()
        s.add(p.condition, z3.UGE(x, 10))
        assert s.check() == z3.unsat
        assert ("assume", "x < 10") in p.labels
    (only,) = explore(three_way, [z3.UGE(x, 3)])
    assert only.result == "mid" and only.literals[0].eq(z3.UGE(x, 3))
    # an assumption that empties the path: no path, and a vacuity event naming it
    empty = explore(three_way, [z3.UGE(x, 10)])
    assert list(empty) == [] and empty.vacuous and "x < 10" in empty.vacuous[0].suspects
    with pytest.raises(PathLimit):
        explore(three_way, max_paths=1)


def test_frontier_prefixes_partition_the_search():
    full = explore(_attempt)
    pending, first = frontier(_attempt, width=6)
    rest = [p for pre in pending for p in explore(_attempt, prefix=pre)]
    keys = sorted(p.key for p in list(first) + rest)
    assert keys == sorted(p.key for p in full) and len(set(keys)) == len(keys)


# -- loops --------------------------------------------------------------------------------------------
def test_write_set_is_inferred_from_one_iteration():
    def fn(ops):
        b = Balloon.symbolic(ops)
        env = SymbolicEnv(ops, b=b)
        ws, names = infer_write_set(A.pop_continues, A.pop_one, (b, PopLoop.symbolic(ops), env), None)
        return ws, names

    (p,) = explore(fn)
    ws, names = p.result
    assert names == ("b", "pl", "env")
    assert {"b.pages.n", "b.pages.members", "b.size", "b.stats.free", "pl.count", "env.ghost.n_free"} == set(ws)
    # pop never touches the list's order, the rates or the host's locks
    assert "b.pages.arr" not in ws and "b.rate_free" not in ws and "env.ghost.locked" not in ws


def _pop_inv(c):
    b, b0 = c.now["b"], c.entry["b"]
    return z3.And(z3.ULE(b.pages.n, b0.pages.n), b.size - b.pages.n == b0.size - b0.pages.n)


def _pop_run(policy):
    def fn(ops):
        b = Balloon.symbolic(ops)
        ops.oracle.assume(b.size == b.pages.n, "size == pages")
        env = SymbolicEnv(ops, b=b)
        A.pop(ops, b, env)
        return b
    return explore(fn, loops=policy)


def test_summarise_contextual_loop_claims_entry_and_preservation():
    paths = _pop_run(Summarise({"pop": LoopInvariant(_pop_inv, modular=False)}))
    kinds = sorted(p.kind for p in paths)
    assert "iteration" in kinds and "return" in kinds
    claims = [c for p in paths for c in p.claims if c.kind.startswith("loop")]
    assert {c.kind for c in claims} == {"loop-entry", "loop-preserved"}
    for p in paths:
        for c in p.claims:
            if c.kind.startswith("loop"):
                s = z3.Solver()
                s.add(*p.literals[:c.point.lits], z3.Not(c.formula))
                assert s.check() == z3.unsat, c.text
        if p.kind == "return":  # after the loop: empty list, size 0
            s = z3.Solver()
            s.add(p.condition, z3.Or(p.result.pages.n != 0, p.result.size != 0))
            assert s.check() == z3.unsat


def test_summarise_modular_loop_explores_the_body_once_and_merges_exits():
    pol = Summarise({"pop": LoopInvariant(_pop_inv)})
    paths = _pop_run(pol)
    assert [p.kind for p in paths] == ["return"]  # no branch inside the loop in the run itself
    (g,) = pol.generic.values()
    assert {p.kind for p in g.paths} == {"iteration", "return"} and len(g.cases) == 1
    s = z3.Solver()
    s.add(paths[0].condition, paths[0].result.size != 0)
    assert s.check() == z3.unsat


def test_a_wrong_loop_invariant_fails_its_claims():
    bad = LoopInvariant(lambda c: c.now["b"].size == c.entry["b"].size, modular=False)  # pop does shrink it
    paths = _pop_run(Summarise({"pop": bad}))
    failed = []
    for p in paths:
        for c in p.claims:
            if c.kind == "loop-preserved":
                s = z3.Solver()
                s.add(*p.literals[:c.point.lits], z3.Not(c.formula))
                failed.append(s.check() == z3.sat)
    assert any(failed)


def test_cut_stops_at_the_loop_head_with_its_state():
    paths = _pop_run(Cut())
    cut = [p for p in paths if p.kind == "cut"]
    assert cut and all(p.end.name == "pop" for p in cut)
    entry = cut[0].end.state("entry")
    assert set(entry) == {"b", "pl", "env"} and entry["b"].pages.n is not None


def test_head_state_starts_a_loop_body_from_any_head():
    pol = Summarise({"pop": LoopInvariant(_pop_inv, modular=False)})

    def fn(ops):
        b = Balloon.symbolic(ops, "e.b.")
        env = SymbolicEnv(ops, b=b)
        args = (b, PopLoop.symbolic(ops), env)
        ws, names = pol.write_set(A.pop_continues, A.pop_one, args)
        head_state(ops.oracle, "pop", pol.invariant("pop"), args, ws, names, prefix="")
        return b

    (p,) = explore(fn)
    assert str(p.result.pages.n) == "b.pages.n" and str(p.result.pages.arr) == "e.b.pages.arr"


def test_merged_call_is_one_step_with_guarded_calls():
    def fn(ops):
        b = Balloon.symbolic(ops)
        env = SymbolicEnv(ops, b=b)
        ok = merged_call(ops, A.send_start, b, env)
        return b, env, ok

    paths = explore(fn)
    assert len(paths) == 1  # START's success and failure merged
    b, env, _ = paths[0].result
    starts = [c for c in env.calls if c.kind == "backdoor"]
    # one START per path of send_start (success, failure), each guarded by its path's condition
    assert len(starts) == 2 and all(c.cmd == 0 and not isinstance(c.guard, bool) for c in starts)
    s = z3.Solver()
    s.add(paths[0].condition, starts[0].guard, starts[1].guard)
    assert s.check() == z3.unsat  # the paths are disjoint


# -- the page lists --------------------------------------------------------------------------------
def test_symbolic_lists_behave_as_python_lists():
    """Random list_add / take / head / tail sequences on a SymbolicList with
    concrete pages agree with the concrete interpretation (a Python list)."""
    ops = Z3Ops()
    rng = random.Random(7)
    for _ in range(20):
        conc, sym = CONCRETE.list_init("pages"), SymbolicList.new("pages")
        next_pfn = 0x1000
        for _ in range(25):
            op = rng.choice(["add", "add", "take", "head", "tail"])
            if op == "add":
                CONCRETE.list_add(conc, next_pfn)
                ops.list_add(sym, z3.BitVecVal(next_pfn, 64))
                next_pfn += rng.randrange(1, 5)
            elif conc:
                want = {"take": CONCRETE.list_take, "head": CONCRETE.list_head, "tail": CONCRETE.list_tail}[op](conc)
                got = {"take": ops.list_take, "head": ops.list_head, "tail": ops.list_tail}[op](sym)
                assert z3.simplify(got).as_long() == want
            assert z3.simplify(sym.n).as_long() == len(conc)
            assert z3.is_true(z3.simplify(ops.list_empty(sym))) == CONCRETE.list_empty(conc)
            for k, pfn in enumerate(conc):
                assert z3.simplify(sym.item(z3.BitVecVal(k, 32))).as_long() == pfn
                assert z3.is_true(z3.simplify(sym.contains(z3.BitVecVal(pfn, 64))))


def test_list_reads_assume_the_representation_invariant_and_adds_claim_it():
    def fn(ops):
        L = SymbolicList.fresh("pages", "L.")
        h, t = ops.list_head(L), ops.list_tail(L)
        ops.list_add(L, ops.var64("x"))
        return h, t, L

    (p,) = explore(fn)
    h, t, _ = p.result
    # head and tail are distinct pages of a list of two or more
    s = z3.Solver()
    s.add(p.condition, z3.UGT(z3.BitVec("L.pages.n", 32), 1), h == t)
    assert s.check() == z3.unsat
    texts = [c.text for c in p.claims]
    assert any("not on it" in t for t in texts) and any("PFN fits 32 bits" in t for t in texts)
    assert any("non-empty" in t for t in texts)
