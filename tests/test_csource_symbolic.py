"""The interpreter runs symbolically too: C functions explored with Z3
(the engine of model/symbolic/, its path oracle deciding every ops.cond and
its SymbolicEnv answering every call) give, on each
path's solver model, the same outcome as the concrete interpretation with
the model's inputs: same environment calls, same return value, same state.
The second test starts a function, stops it at its loop head (a cut point)
after one iteration, as the refinement checker will."""
import z3

from balloonspec import SEED_DRIVER
from balloonspec.csource.compile import load
from balloonspec.csource.kernel import Page
from balloonspec.csource.runtime import Machine, SlotRef
from balloonspec.model import constants as C
from balloonspec.model.ops import CONCRETE
from balloonspec.model.symbolic import SymbolicEnv, explore

PROGRAM = load(SEED_DRIVER)
STATS = ("target", "target_fail", "lock", "lock_fail", "alloc", "alloc_fail", "sleep_alloc", "sleep_alloc_fail",
         "refused_alloc")


def _symbolic_balloon(M, ops):
    b = M.global_value("balloon")
    for f in ("n_refused_pages", "size", "target"):
        setattr(b, "f_" + f, ops.var32(f))
    b.f_reset_required = ops.var_bool("reset_required")
    for f in STATS:
        setattr(b.f_stats, "f_" + f, ops.var32("stats." + f))
    M.lists.init(b.f_pages)
    M.lists.init(b.f_refused_pages)
    return b


def _concrete_balloon(M, model):
    b = M.global_value("balloon")

    def val(name, bits=32):
        return model.eval(z3.BitVec(name, bits), model_completion=True).as_long()

    for f in ("n_refused_pages", "size", "target"):
        setattr(b, "f_" + f, val(f))
    b.f_reset_required = z3.is_true(model.eval(z3.Bool("reset_required"), model_completion=True))
    for f in STATS:
        setattr(b.f_stats, "f_" + f, val("stats." + f))
    M.lists.init(b.f_pages)
    M.lists.init(b.f_refused_pages)
    return b


class ReplayEnv:
    """Answers each call with the model's value of SymbolicEnv's variable for it."""

    def __init__(self, model) -> None:
        self.model, self.calls, self._n = model, [], {}

    def _next(self, what):
        n = self._n[what] = self._n.get(what, 0) + 1
        return f"{what}{n}"

    def _bv(self, name):
        return self.model.eval(z3.BitVec(name, 64), model_completion=True).as_long()

    def si_meminfo(self):
        v = self._bv(self._next("totalram"))
        self.calls.append(("si_meminfo", v))
        return v

    def backdoor(self, cmd, arg):
        n = self._next("backdoor")
        status, result = self._bv(n + ".status"), self._bv(n + ".result")
        self.calls.append(("backdoor", cmd, arg, status, result))
        return status, result

    def alloc_page(self, gfp):
        n = self._next("alloc")
        ok = z3.is_true(self.model.eval(z3.Bool(n + ".ok"), model_completion=True))
        pfn = self._bv(n + ".pfn")
        self.calls.append(("alloc", gfp, ok, pfn))
        return (True, pfn) if ok else (False, 0)

    def free_page(self, pfn):
        self.calls.append(("free", pfn))


def _ev(model, v):
    """A symbolic outcome's concrete value in the model."""
    if isinstance(v, (z3.BitVecRef, z3.BoolRef)):
        r = model.eval(v, model_completion=True)
        return z3.is_true(r) if z3.is_bool(r) else r.as_long()
    if isinstance(v, Page):
        return ("page", _ev(model, v.pfn))
    if isinstance(v, (tuple, list)):
        return tuple(_ev(model, x) for x in v)
    return v


def _outcome(M, b, ret, env_calls):
    """Everything observable or kept by the call: env calls, value, state."""
    return {"calls": env_calls, "ret": ret, "size": b.f_size, "target": b.f_target,
            "n_refused": b.f_n_refused_pages, "reset": b.f_reset_required,
            "stats": tuple(getattr(b.f_stats, "f_" + f) for f in STATS),
            "pages": tuple(n.parent for n in M.lists.nodes(b.f_pages)),
            "refused": tuple(n.parent for n in M.lists.nodes(b.f_refused_pages))}


def _symbolic_calls(env):
    """The engine's Call records in the compact form ReplayEnv records
    (("backdoor", cmd, arg, status, result), ("alloc", gfp, ok, pfn), ...)."""
    return [c.as_tuple() for c in env.calls]


def _check_paths(paths, concrete_run, min_paths):
    assert len(paths) >= min_paths
    for p in paths:
        s = z3.Solver()
        s.add(p.condition)
        assert s.check() == z3.sat
        model = s.model()
        want = concrete_run(model)
        got = {k: _ev(model, v) for k, v in p.result.items()}
        if "calls" in got:  # a failed allocation's PFN is whatever; the concrete side reports 0
            got["calls"] = tuple(c if c[0] != "alloc" or c[2] else c[:3] + (0,) for c in got["calls"])
        assert got == want, (p.literals, got, want)


def test_send_get_target_explored_with_z3_matches_the_concrete_interpretation():
    def symbolic(ops):
        env = SymbolicEnv(ops)
        M = Machine(PROGRAM, ops, env)
        b = _symbolic_balloon(M, ops)
        cell = [ops.var32("new_target")]
        ok = M.invoke("vmballoon_send_get_target", [b, SlotRef(cell, 0)])
        return {**_outcome(M, b, ok, tuple(_symbolic_calls(env))), "new_target": cell[0]}

    def concrete(model):
        env = ReplayEnv(model)
        M = Machine(PROGRAM, CONCRETE, env)
        b = _concrete_balloon(M, model)
        cell = [model.eval(z3.BitVec("new_target", 32), model_completion=True).as_long()]
        ok = M.invoke("vmballoon_send_get_target", [b, SlotRef(cell, 0)])
        out = {**_outcome(M, b, ok, tuple(env.calls)), "new_target": cell[0]}
        return {k: _ev(model, v) for k, v in out.items()}

    paths = explore(symbolic)
    # totalram too large; SUCCESS; ERROR_RESET; any other status
    _check_paths(paths, concrete, 4)
    rets = {str(z3.simplify(p.result["ret"])) for p in paths}
    assert rets == {"True", "False"}


def _one_attempt(M, b, can_sleep):
    """vmballoon_reserve_page from its entry to its return or to its loop
    head after one pass (one alloc_page): returns (returned, value)."""
    fn = PROGRAM.function("vmballoon_reserve_page")
    (loop,) = fn.loops
    assert loop.kind == "do"
    depth = M.push_call(fn, [b, can_sleep])
    seen = []

    def stop(M):
        F = M.stack[-1]
        if F.func is fn and F.pc == loop.head:
            seen.append(1)
            return len(seen) > 1
        return False

    done = M.run(depth, stop=stop)
    if done:
        return True, M.returned(depth)
    frame = M.stack[-1]
    locals_ = frame.named_locals()
    return False, locals_["locked"]


def test_one_reserve_page_attempt_from_its_cut_point_matches_the_concrete_interpretation():
    def symbolic(ops):
        env = SymbolicEnv(ops)
        M = Machine(PROGRAM, ops, env)
        b = _symbolic_balloon(M, ops)
        done, value = _one_attempt(M, b, ops.var_bool("can_sleep"))
        return {**_outcome(M, b, value, tuple(_symbolic_calls(env))), "returned": done}

    def concrete(model):
        env = ReplayEnv(model)
        M = Machine(PROGRAM, CONCRETE, env)
        b = _concrete_balloon(M, model)
        can_sleep = z3.is_true(model.eval(z3.Bool("can_sleep"), model_completion=True))
        done, value = _one_attempt(M, b, can_sleep)
        out = {**_outcome(M, b, value, tuple(env.calls)), "returned": done}
        return {k: _ev(model, v) for k, v in out.items()}

    paths = explore(symbolic)
    # allocation fails (x2 flags), PFN >= 2**32, LOCK ok, refused RESET/NOTNEEDED, refused and listed
    # below or at the limit, each with both flags
    _check_paths(paths, concrete, 8)
    gfps = {c[1] for p in paths for c in p.result["calls"] if c[0] == "alloc"}
    assert gfps == {C.VMW_PAGE_ALLOC_NOSLEEP, C.VMW_PAGE_ALLOC_CANSLEEP}
    assert any(not z3.is_true(z3.simplify(z3.BoolVal(p.result["returned"]))) for p in paths), \
        "no path stopped at the loop head"
