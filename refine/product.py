"""One segment of the product of a driver's C and the spec, explored with Z3.

A *cut* is where a segment starts or ends: ``TOP`` (the module is loaded and
idle: between work items), ``UNLOADED`` (after exit or a failed init), or a
loop head (C: the innermost function's loop at a line, with the functions on
the stack; spec: the name of an ``ops.loop`` and the runner it is in). A
*segment* runs both sides from a pair of related states at a pair of cuts
until each has made at least one environment call and reached a cut again
(or returned): loop-free code, since every loop iteration of this driver
family calls the environment. Between the two cuts both sides see one
``SymbolicEnv`` each, named alike, so the n-th call of a kind gets the same
answer on both sides when both make it: "same reply".

A start state at a loop head is reached the only way a run can have a stack
there: the side runs from its entry (init, then the work item or exit) under
``PrefixEnv``'s fixed answers, which make every branch concrete, until it
first meets the loop (``Recipe``); then every leaf of its state (the
``struct vmballoon``, its lists, the locals of the frames on the stack; the
spec's ``Balloon`` and loop locals) is replaced by a fresh variable, the
coupling relation assumed between the two sides' leaves, and the symbolic
environment switched in.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import z3

from balloonspec.csource.compile import Program
from balloonspec.csource.kernel import Page
from balloonspec.csource.lists import ListHead
from balloonspec.csource.runtime import Machine, StructObj
from balloonspec.model import algorithm
from balloonspec.model import constants as K
from balloonspec.model.state import Balloon, SymbolicList
from balloonspec.model.proofs.cycle import inv as cycle_invariant
from balloonspec.model.proofs.loops import LOOP_INVARIANTS
from balloonspec.model.symbolic import Ghost, LoopCtx, PathEnd, Policy, SymbolicEnv, frame as F

from . import symlists
from .symlists import SymbolicLists

TOP, UNLOADED = "TOP", "UNLOADED"
MAX_SILENT_PASSES = 3  # a loop head met this often without a call: a loop that never calls out


class RefineError(RuntimeError):
    """The product cannot be built (a side never reaches a cut a recipe names, ...)."""


# -- the environments --------------------------------------------------------------------------
class PrefixEnv:
    """Fixed concrete answers (Z3 values, so no branch is symbolic): the host
    accepts everything; the n-th GET_TARGET answers ``answers[n]`` (a number
    of pages, or "reset": ERROR_RESET; the last one repeats); with
    ``refuse_lock`` the first LOCK is refused (PPN_PINNED); allocations
    succeed."""

    def __init__(self, answers=(0,), refuse_lock: bool = False) -> None:
        self.answers, self.refuse_lock = tuple(answers) or (0,), refuse_lock
        self.n_alloc = self.n_target = self.n_lock = 0

    def backdoor(self, cmd, arg):
        status, result = K.VMW_BALLOON_SUCCESS, 0
        if cmd == K.VMW_BALLOON_CMD_GET_TARGET:
            a = self.answers[min(self.n_target, len(self.answers) - 1)]
            self.n_target += 1
            if a == "reset":
                status = K.VMW_BALLOON_ERROR_RESET
            else:
                result = a
        elif cmd == K.VMW_BALLOON_CMD_LOCK:
            self.n_lock += 1
            if self.refuse_lock and self.n_lock == 1:
                status = K.VMW_BALLOON_ERROR_PPN_PINNED
        return z3.BitVecVal(status, 64), z3.BitVecVal(result, 64)

    def x86_hyper_is_vmware(self):
        return z3.BoolVal(True)

    def alloc_page(self, gfp):
        self.n_alloc += 1
        return z3.BoolVal(True), z3.BitVecVal(0x1000 + self.n_alloc, 64)

    def si_meminfo(self):
        return z3.BitVecVal(1 << 20, 64)

    def cancel_delayed_work_sync(self):
        return True

    def debugfs_create(self, mode, name):
        return 0

    def free_page(self, pfn): pass
    def cond_resched(self): pass
    def queue_delayed_work(self, delay): pass
    def debugfs_remove(self): pass
    def printk(self, text): pass


class SwitchEnv:
    """The environment of one side: ``PrefixEnv`` until ``switch``, then a
    ``SymbolicEnv`` whose calls are the segment's."""

    def __init__(self, prefix: PrefixEnv) -> None:
        self.target = prefix
        self.symbolic: SymbolicEnv | None = None

    def switch(self, env: SymbolicEnv) -> None:
        self.target = self.symbolic = env

    @property
    def ncalls(self) -> int:
        return len(self.symbolic.calls) if self.symbolic is not None else 0

    def __getattr__(self, name):
        return getattr(self.target, name)


# -- recipes: how each side reaches a loop head ---------------------------------------------------
@dataclass(frozen=True)
class Reach:
    """How a side, run from init under ``PrefixEnv``, gets into an iteration
    of a loop: the GET_TARGET answers of its work cycles (one cycle each; the
    loop is met in the last one, or in exit after them) and whether the
    first LOCK is refused."""

    cycles: tuple = ()
    refuse_lock: bool = False


# How an iteration of each of the spec's loops is reached (the C's
# corresponding loops are reached the same way: the same answers drive both
# to the same place).
REACH = {"inflate": Reach((2,)), "release_refused": Reach((2,), refuse_lock=True), "deflate": Reach((2, 0)),
         "pop": Reach((2, "reset", 0))}
EXIT_REACH = {"pop": Reach((2,))}


@dataclass(frozen=True)
class Recipe:
    """A segment start: ``entry`` ("init", "work" or "exit"); for a pair of
    loop heads, the C cut (as ``c_cut`` names it) and the spec's loop."""

    entry: str
    spec_loop: str | None = None
    c_cut: str | None = None

    @property
    def key(self) -> str:
        return self.entry if self.spec_loop is None else f"{self.c_cut} ~ {self.entry}:{self.spec_loop}"

    @property
    def reach(self) -> Reach:
        if not self.spec_loop:
            return Reach()
        return (EXIT_REACH if self.entry == "exit" else REACH).get(self.spec_loop, Reach())


ENTRIES = (Recipe("init"), Recipe("work"), Recipe("exit"))


def recipe_for(pair) -> Recipe | None:
    """The segment that starts at a pair of loop heads met at a segment's end."""
    c, s = pair
    if c in (TOP, UNLOADED) or s in (TOP, UNLOADED):
        return None
    entry, loop = s.split(":", 1)
    return Recipe(entry, loop, c)


# -- leaves: the state of each side as named Z3 terms -------------------------------------------
@dataclass
class Leaf:
    """A piece of state: ``kind`` "bv" / "bool" (a Z3 term), "list" (a
    SymbolicList), "cursor" (a position on a list: ``list`` names the list
    leaf) or "page" (a page on no list)."""

    kind: str
    value: Any
    list: str | None = None


def _scalar(v) -> str | None:
    if isinstance(v, z3.BoolRef):
        return "bool"
    if isinstance(v, z3.BitVecRef):
        return "bv"
    return None


def c_heads(M: Machine) -> dict[int, str]:
    """id(list head) -> the leaf name of each list of the driver's globals."""
    out = {}
    for gname, v in M.globals.items():
        if isinstance(v, StructObj):
            for n, x in v.members().items():
                if isinstance(x, ListHead) and isinstance(x.next, SymbolicList):
                    out[id(x)] = f"{gname}.{n}"
    return out


def c_leaves(M: Machine) -> dict[str, Leaf]:
    """The C state: scalar members of the driver's global structs (one level
    of nested structs), their lists, and the locals of every frame."""
    out: dict[str, Leaf] = {}
    heads = {}
    for gname, v in M.globals.items():
        if not isinstance(v, StructObj):
            continue
        for n, x in v.members().items():
            p = f"{gname}.{n}"
            k = _scalar(x)
            if k:
                out[p] = Leaf(k, x)
            elif isinstance(x, ListHead) and isinstance(x.next, SymbolicList):
                out[p] = Leaf("list", x.next)
                heads[id(x)] = (p, x)
            elif isinstance(x, StructObj):
                for n2, y in x.members().items():
                    k = _scalar(y)
                    if k:
                        out[f"{p}.{n2}"] = Leaf(k, y)
    for _fr, _slot, p, v in _c_locals(M):
        k = _scalar(v)
        if k:
            out[p] = Leaf(k, v)
            continue
        for hp, h in heads.values():
            pos = symlists.position_of(v, h)
            if pos is not None:
                out[p] = Leaf("cursor", pos, hp)
                break
        else:
            if type(v) is Page:
                out[p] = Leaf("page", (v.pfn, v.ok))
    return out


def _c_locals(M: Machine):
    """The named locals of every frame on the C stack: (frame, slot, path, value),
    the path ``depth.function.name`` (compiler temporaries, named ``$...``, left out)."""
    for d, fr in enumerate(M.stack):
        if fr.func is None:
            continue
        for slot, name in enumerate(fr.func.slot_names):
            if not name.startswith("$"):
                yield fr, slot, f"{d}.{fr.func.name}.{name}", fr.locals[slot]


def c_install(M: Machine, ops, prefix: str = "c.") -> tuple[dict[str, Leaf], Any]:
    """Replace every C leaf by a fresh variable. Returns the new leaves and a
    function that, once the coupling is assumed, turns cursor positions into
    the pointers the C holds (a branch: the head or an entry)."""
    heads = {}
    for gname, v in M.globals.items():
        if not isinstance(v, StructObj):
            continue
        for n, x in list(v.members().items()):
            p = f"{gname}.{n}"
            if _scalar(x):
                setattr(v, "f_" + n, F.fresh_like(x, prefix + p))
            elif isinstance(x, ListHead) and isinstance(x.next, SymbolicList):
                x.next = SymbolicList.fresh(x.next.name, prefix + p + ".")
                heads[p] = x
                for fact in x.next.facts():
                    ops.oracle.assume(fact, "list representation invariant")
            elif isinstance(x, StructObj):
                for n2, y in x.members().items():
                    if _scalar(y):
                        setattr(x, "f_" + n2, F.fresh_like(y, f"{prefix}{p}.{n2}"))
    pending = []
    by_id = {id(h): (p, h) for p, h in heads.items()}
    for fr, slot, p, v in _c_locals(M):
        if _scalar(v):
            fr.locals[slot] = F.fresh_like(v, prefix + p)
            continue
        for hp, h in by_id.values():
            if symlists.position_of(v, h) is not None:
                k = z3.BitVec(prefix + p + ".pos", 32)
                fr.locals[slot] = None
                pending.append((fr, slot, h, k))
                break
        else:
            if type(v) is Page:
                fr.locals[slot] = Page(z3.BitVec(prefix + p + ".pfn", 64), z3.Bool(prefix + p + ".ok"))
    leaves = c_leaves(M)
    for fr, slot, h, k in pending:  # cursors are leaves before they are resolved
        hp = next(p for p, x in heads.items() if x is h)
        leaves[f"{M.stack.index(fr)}.{fr.func.name}.{fr.func.slot_names[slot]}"] = Leaf("cursor", k, hp)

    def resolve(subst: dict):
        for fr, slot, h, k in pending:
            fr.locals[slot] = symlists.at(ops, h, k)
        for d, fr in enumerate(M.stack):
            if fr.func is None:
                continue
            for slot, name in enumerate(fr.func.slot_names):
                t = subst.get(f"{d}.{fr.func.name}.{name}")
                if t is not None:
                    fr.locals[slot] = t

    return leaves, resolve


def c_cut(M: Machine) -> str:
    """The C cut the machine is at (entering an iteration of a loop): the
    functions on the stack and the loop's line."""
    frames = [fr for fr in M.stack if fr.func is not None]
    top = frames[-1]
    line = next((lp.line for lp in top.func.loops if lp.body == top.pc), top.func.block_lines[top.pc])
    return "/".join(fr.func.name for fr in frames) + f":{line}"


def spec_leaves(roots: dict) -> dict[str, Leaf]:
    """The spec state: every leaf of the state objects, lists as one leaf each
    (the model-only record of lost pages left out: the C has no such list)."""
    out: dict[str, Leaf] = {}
    for name, obj in roots.items():
        _spec_walk(obj, name, out)
    return out


def _spec_walk(obj, path: str, out: dict) -> None:
    for f in type(obj).STATE_FIELDS:
        v = getattr(obj, f)
        p = f"{path}.{f}"
        if isinstance(v, SymbolicList):
            if not v.record_only:
                out[p] = Leaf("list", v)
        elif F.is_state(v):
            _spec_walk(v, p, out)
        else:
            k = _scalar(v)
            if k:
                out[p] = Leaf(k, v)


def _state_args(step, args) -> dict:
    """The step function's state arguments by parameter name (no env)."""
    names = list(inspect.signature(step).parameters)[1:]
    return {n: a for n, a in zip(names, args) if F.is_state(a)}


# -- the product run -----------------------------------------------------------------------------
@dataclass
class Side:
    """What one side did in a segment."""

    end: str = ""
    calls: list = field(default_factory=list)
    leaves: dict = field(default_factory=dict)
    ret: Any = None
    error: str | None = None


class SpecSegment:
    """The spec's loop policy in a product run: loops of the prefix run as
    they are (concrete); once ``armed``, the first iteration of the start
    loop is where the state is installed (``on_start``, the test assumed to
    hold); after that, entering an iteration after a call ends the segment
    (the cut is "about to run the loop's step", as the C's is "about to run
    the loop's body")."""

    def __init__(self, start: str | None, on_start, entry: str) -> None:
        self.start, self.on_start, self.entry = start, on_start, entry
        self.started = start is None
        self.armed = False
        self.passes: dict[str, int] = {}
        self.env: SwitchEnv | None = None

    def loop(self, run, ops, name, test, step, args) -> None:
        if not self.started:
            while ops.cond(test(ops, *args)):
                if self.armed and name == self.start:
                    self.started = True
                    self.on_start(_state_args(step, args))
                    run.assume(test(ops, *args), f"the {name} loop's test holds at the cut")
                    if step(ops, *args):
                        return
                    break
                if step(ops, *args):
                    return
            else:
                return
        while ops.cond(test(ops, *args)):
            if self.env.ncalls > 0:
                raise PathEnd("cut", (f"{self.entry}:{name}", _state_args(step, args)))
            n = self.passes[name] = self.passes.get(name, 0) + 1
            if n > MAX_SILENT_PASSES:
                raise RefineError(f"the spec's {name} loop runs without an environment call")
            if step(ops, *args):
                return


def _symbolic_env(ops, b=None) -> SymbolicEnv:
    return SymbolicEnv(ops, b=b)


class Product:
    """Builds the function ``explore`` runs for one segment (a recipe and the
    coupling to assume at its start)."""

    def __init__(self, program: Program, recipe: Recipe, assume_coupling) -> None:
        self.program, self.recipe, self.assume_coupling = program, recipe, assume_coupling

    # -- the C side --------------------------------------------------------------------------
    def _c_prefix(self, ops):
        r = self.recipe
        reach = r.reach
        env = SwitchEnv(PrefixEnv(reach.cycles, reach.refuse_lock))
        M = Machine(self.program, ops, env, lists=SymbolicLists(ops))
        if r.entry == "init":
            depth = M.push_call(self.program.init_function)
            return M, env, depth
        rc = M.invoke(self.program.init_function)
        if ops.as_int(rc) != 0:
            raise RefineError(f"the C's init fails under the prefix's answers (rc {ops.as_int(rc)})")
        cycles = reach.cycles if r.entry == "exit" else reach.cycles[:-1]
        for _ in cycles:
            M.invoke(*self._c_work_call(M))
        if r.entry == "work":
            depth = M.push_call(*self._c_work_call(M))
        else:
            depth = M.push_call(self.program.exit_function)
        if r.spec_loop is not None:
            def reached(M):
                return M.at_iteration() and c_cut(M) == r.c_cut
            if M.run(depth, stop=reached):
                raise RefineError(f"the C never reaches {r.c_cut} from {r.entry} under {reach}")
        return M, env, depth

    @staticmethod
    def _c_work_call(M):
        dwork = M.kstate.queued
        if dwork is None:
            raise RefineError("the C queued no work item")
        M.kstate.queued = None
        return dwork.f_work.f_func, [dwork.f_work]

    def _c_segment(self, ops, M: Machine, env: SwitchEnv, depth: int, side: Side) -> None:
        passes: dict[str, int] = {}

        def stop(M):
            if not M.at_iteration():
                return False
            if env.ncalls > 0:
                return True
            cut = c_cut(M)
            n = passes[cut] = passes.get(cut, 0) + 1
            if n > MAX_SILENT_PASSES + 1:
                raise RefineError(f"the C loop at {cut} runs without an environment call")
            return False

        done = M.run(depth, stop=stop)
        side.calls = list(env.symbolic.calls)
        if done:
            ret = M.returned(depth)
            if self.recipe.entry == "init":
                side.ret = ret
                side.end = TOP if ops.cond(ret == 0) else UNLOADED
            else:
                side.end = TOP if self.recipe.entry == "work" else UNLOADED
            M.stack.clear()
        else:
            side.end = c_cut(M)
        side.leaves = c_leaves(M) if side.end not in (UNLOADED,) else {}

    # -- the run -----------------------------------------------------------------------------
    def __call__(self, ops):
        run = ops.oracle
        r = self.recipe
        M, cenv, depth = self._c_prefix(ops)
        cside, sside = Side(), Side()
        run.data["c"], run.data["s"] = cside, sside
        b = Balloon(ops)
        senv = SwitchEnv(PrefixEnv(r.reach.cycles, r.reach.refuse_lock))
        policy = SpecSegment(r.spec_loop, None, r.entry)
        policy.env = senv
        run.policy = policy

        def on_start(state_args: dict):
            if r.entry == "init":
                cleaves, resolve = {}, (lambda subst: None)
                sleaves = {}
            else:
                cleaves, resolve = c_install(M, ops)
                roots = {"b": b, **{k: v for k, v in state_args.items() if v is not b}}
                _spec_install(run, roots)
                _assume_spec_invariant(run, r, roots)
                sleaves = spec_leaves(roots)
            pair = None
            if r.entry != "init":
                pair = (c_cut(M), f"{r.entry}:{r.spec_loop}") if r.spec_loop else (TOP, TOP)
            run.data["start"] = pair
            subst = self.assume_coupling(run, pair, cleaves, sleaves)
            resolve(subst)
            cenv.switch(_symbolic_env(ops))
            try:
                self._c_segment(ops, M, cenv, depth, cside)
            except Exception as e:  # noqa: BLE001 - reported as the segment's C error
                from balloonspec.csource.errors import CFrontError
                if not isinstance(e, CFrontError) and not isinstance(e, RefineError):
                    raise
                cside.error = f"{type(e).__name__}: {e}"
            senv.switch(_symbolic_env(ops, b))
            sside.calls = senv.symbolic.calls

        policy.on_start = on_start
        reach = r.reach
        if r.entry == "init":
            on_start({})
            rc = algorithm.init(ops, b, senv)
            sside.ret, sside.end = rc, (TOP if rc == 0 else UNLOADED)
            sside.leaves = spec_leaves({"b": b}) if rc == 0 else {}
            return None
        prefix = senv.target
        algorithm.init(ops, b, prefix)
        cycles = reach.cycles if r.entry == "exit" else reach.cycles[:-1]
        for _ in cycles:
            algorithm.work(ops, b, prefix)
        policy.armed = True
        if r.spec_loop is None:
            on_start({"b": b})
        if r.entry == "work":
            algorithm.work(ops, b, senv)
            sside.end, sside.leaves = TOP, spec_leaves({"b": b})
        else:
            algorithm.exit(ops, b, senv)
            sside.end = UNLOADED
        return None


def _spec_install(run, roots: dict) -> None:
    """Every leaf of the spec's state becomes a fresh variable (lists: any list)."""
    paths = [p for name, obj in roots.items() for p, *_ in F.leaves(obj, name)]
    F.havoc(roots, paths, "s.")
    for _, obj in roots.items():
        for f in type(obj).STATE_FIELDS:
            v = getattr(obj, f)
            if isinstance(v, SymbolicList):
                for fact in v.facts():
                    run.assume(fact, "list representation invariant")


def _fresh_ghost(prefix: str) -> Ghost:
    return Ghost(z3.Bool(prefix + "pending"), z3.Array(prefix + "locked", z3.BitVecSort(64), z3.BoolSort()),
                 *(z3.BitVec(prefix + n, 64) for n in ("n_lock", "n_unlock", "n_alloc", "n_free")))


def _assume_spec_invariant(run, r: Recipe, roots: dict) -> None:
    """The spec's proven invariants at the start (model/proofs): the cycle
    invariant between work items, the loop's invariant at a loop head (with
    some entry state and any host), so that no segment starts from a spec
    state the spec cannot reach."""
    policy, g = Policy(), _fresh_ghost("s.host.")
    if r.spec_loop is None:
        run.assume(cycle_invariant(roots["b"], g, policy), "the spec's cycle invariant")
        return
    inv = LOOP_INVARIANTS[r.spec_loop]
    entry = {n: F.fresh_copy(v, n, "s.entry.") for n, v in roots.items()}
    entry["env"] = _fresh_ghost("s.entry.host.")
    ctx = LoopCtx(r.spec_loop, entry, {**roots, "env": g}, policy)
    run.assume(inv(ctx), f"the spec's {r.spec_loop} loop invariant")


def spec_end(path) -> tuple[str, dict]:
    """(cut, leaves) where the spec's side of a product path ended."""
    s: Side = path.data["s"]
    if path.kind == "cut":
        cut, roots = path.end
        return cut, spec_leaves(roots)
    return s.end, s.leaves
