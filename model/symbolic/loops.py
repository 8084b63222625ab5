"""Loop policies: what ``ops.loop(name, test, step, *args)`` means in a symbolic run.

A loop is handled once, at the loop, by the exploration's policy:

* ``Summarise(invariants)``: the loop invariant registered under the loop's
  name (``invariants[name]``, a ``LoopInvariant``) is claimed on entry; the
  state the loop can write is havocked (fresh constants ``{name}#{k}.{leaf}``)
  and the invariant assumed; then the loop's own code decides: the test
  fails (exit), or one iteration runs — if it breaks the run continues after
  the loop (exit), else the path ends there with the claim that the
  invariant is preserved (an "iteration" path). So Init ⇒ Inv, Inv ∧ work ⇒
  Inv' and every loop's entry and preservation are claims of the
  explorations of the spec's own runners.

  A *modular* invariant (the default) says everything its loop body needs:
  the body is then explored once, from any state at the loop head
  satisfying it (entry state and head state fresh: a "loop:{name}"
  exploration, ``GenericLoop``), which checks preservation and the claims
  inside the body once for every context. At each loop of a run, after the
  entry claim, havoc and assumption, the run continues with the loop's *exit
  cases* merged into one state: the generic exploration's paths that leave
  the loop (test false, or a breaking step), their conditions and final
  states instantiated with the run's own terms (entry and head leaves, fresh
  names for the answers), the state an if-then-else over them, the calls
  recorded with the case's condition as their ``guard``. The run does not
  branch inside the loop at all. A non-modular invariant (``modular=False``)
  runs the iteration in each context instead (its body's claims need facts
  the invariant does not carry).

  *What a loop writes* is inferred, not listed: one iteration (test and step)
  is explored once from a state whose every leaf is fresh (with the same
  environment policy), and every leaf whose term changed on some path is in
  the write set. Leaves outside it keep their values and everything the run
  knew about them (the frame needs no invariant).
* ``Cut(names=None)``: stop the run at the head of the loop (of every loop,
  or of those named): the path ends with kind "cut" and ``path.end`` a
  ``LoopVisit`` whose ``entry`` is the state there. A client then starts the
  loop body itself from a state of its choosing (``head_state``).
* ``Unroll(bound=None)``: execute the loop, each test a branch; past
  ``bound`` iterations the path ends (kind "bound").

``head_state(run, name, invariant, args, write_set, names)`` puts a loop's state at an
arbitrary head satisfying the invariant (havoc + assume) and returns the
``LoopVisit``: the way to run one iteration from "any state at the loop head".
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from . import frame as F
from .explorer import Infeasible, PathEnd, Point, explore

# the suspect of a path that a loop's head assumption emptied (the invariant failed on entry)
HEAD_EMPTIED = "the {name} loop invariant at the loop head, after its entry claim failed"


@dataclass
class LoopVisit:
    """One encounter of a loop on a path. States are tuples parallel to
    ``names`` (the step function's parameters after ``ops``; an environment
    is represented by a copy of its ghost)."""

    name: str
    instance: int
    names: tuple
    entry: tuple
    entry_point: Point
    head: tuple | None = None
    head_point: Point | None = None
    calls0: int = 0  # index of the first env call of the iteration
    after: tuple | None = None  # after the iteration (iteration paths) or after the loop (exits)
    after_point: Point | None = None
    exit: str | None = None  # "break" | "test" | None (the path ended in the iteration)
    written: frozenset = frozenset()

    def state(self, which: str) -> dict:
        """name -> state copy ("entry", "head" or "after"); an environment as its ghost."""
        return {n: _view(x) for n, x in zip(self.names, getattr(self, which))}

    def leaves(self, which: str) -> dict:
        """leaf path -> term of a recorded state."""
        return F.leaf_values(dict(zip(self.names, getattr(self, which))))


@dataclass
class LoopCtx:
    """What a loop invariant is a formula over: the state at the loop's entry
    and now (dicts parameter name -> state object; an environment is its
    ghost), and the environment's policy."""

    name: str
    entry: dict
    now: dict
    policy: Any

    def __getattr__(self, k):  # ctx.b, ctx.lv, ctx.env ... : the current state
        now = self.__dict__.get("now", {})
        if k in now:
            return now[k]
        raise AttributeError(k)

    def at_entry(self, k):
        return self.entry[k]


class LoopInvariant:
    """A loop invariant: ``formula(ctx: LoopCtx) -> Z3 Bool``; ``text`` says it
    in words; ``modular``: the body is explored once, from any head state (see
    the module doc)."""

    def __init__(self, formula: Callable[[LoopCtx], Any], text: str = "", modular: bool = True) -> None:
        self.formula, self.text, self.modular = formula, text, modular
        self._memo: dict = {}

    def __call__(self, ctx: LoopCtx, key=None):
        """The formula; ``key`` (optional) memoises it: re-executions reach the
        same point of a run with the same decisions and so the same terms."""
        if key is None:
            return self.formula(ctx)
        f = self._memo.get(key)
        if f is None:
            if len(self._memo) > 50000:
                self._memo.clear()
            f = self._memo[key] = self.formula(ctx)
        return f


def _memo_key(run, *what) -> tuple:
    """Runs of one search reach a point with the same decisions and build the same terms there."""
    return (run.search, *what, tuple(d for _, d in run.decisions), len(run.literals))


def _env_of(args):
    from .env import SymbolicEnv

    return next((a for a in args if isinstance(a, SymbolicEnv)), None)


def _names(step, args) -> tuple:
    try:
        params = list(inspect.signature(step).parameters)[1:1 + len(args)]
    except (TypeError, ValueError):
        params = []
    if len(params) != len(args):
        params = [f"a{i}" for i in range(len(args))]
    return tuple(params)


def _roots(names, args) -> dict:
    return dict(zip(names, args))


class EnvState:
    """The state of an environment in a snapshot: its ghost."""

    STATE_FIELDS = ("ghost",)
    __slots__ = STATE_FIELDS

    def __init__(self, ghost) -> None:
        self.ghost = ghost


def _view(a):
    """How a loop invariant sees an argument: an environment as its ghost."""
    return a.ghost if _is_env(a) or isinstance(a, EnvState) else a


def _is_env(a) -> bool:
    from .env import SymbolicEnv

    return isinstance(a, SymbolicEnv)


def _snapshot(args) -> tuple:
    return tuple(EnvState(a.ghost.copy()) if _is_env(a) else F.copy_state(a) for a in args)


@dataclass
class ExitCase:
    """One way out of a loop in its generic exploration."""

    exit: str  # "break" | "test"
    literals: list  # the step's own literals (after the head's assumption)
    post: dict  # leaf path -> term after the step
    calls: list  # the calls the step made


@dataclass
class GenericLoop:
    """A loop body explored once from any head state (module doc)."""

    name: str
    test: Any
    step: Any
    names: tuple
    written: frozenset
    entry: dict  # leaf path -> generic entry term
    head: dict  # leaf path -> generic head term
    reply_prefix: str
    cases: list
    paths: Any  # the exploration (for reports)
    fn: Any = None  # the exploration's function (to re-run one of its paths)


class Summarise:
    """Summarise each loop by its registered invariant (module doc).
    ``observer``: checks the claims of the generic loop explorations."""

    def __init__(self, invariants: Mapping[str, LoopInvariant], observer=None) -> None:
        self.invariants = invariants
        self.observer = observer
        self._write_sets: dict = {}
        self.generic: dict = {}
        self._exits: dict = {}

    def write_set(self, test, step, args) -> tuple[frozenset, tuple]:
        """(leaf paths one iteration can write, parameter names), inferred once per loop."""
        key = (test, step, tuple(type(a) for a in args))
        if key not in self._write_sets:
            self._write_sets[key] = infer_write_set(test, step, args, self)
        return self._write_sets[key]

    def invariant(self, name: str) -> LoopInvariant:
        inv = self.invariants.get(name)
        if inv is None:
            raise LookupError(f"no loop invariant registered for loop {name!r}")
        return inv

    def generic_loop(self, name: str, test, step, args) -> GenericLoop:
        """The loop's body explored from any head state (computed once per
        environment policy; ``args`` are prototypes: only their shape is used)."""
        env = _env_of(args)
        tag = _policy_tag(env.policy) if env is not None else ""
        key = (name, test, step, tag)
        if key not in self.generic:
            self.generic[key] = explore_generic(name, self.invariant(name), test, step, args, self, tag)
        return self.generic[key]

    def loop(self, run, ops, name: str, test, step, args) -> None:
        inv = self.invariant(name)
        ws, names = self.write_set(test, step, args)
        if inv.modular:
            g = self.generic_loop(name, test, step, args)
            visit = head_state(run, name, inv, args, ws, names, claim_entry=True)
            self._merged_exit(run, visit, g, args)
            return
        visit = head_state(run, name, inv, args, ws, names, claim_entry=True)
        if ops.cond(test(ops, *args)):
            if not step(ops, *args):
                visit.after, visit.after_point = _snapshot(args), run.point()
                ctx = LoopCtx(name, visit.state("entry"), dict(zip(names, map(_view, args))), _policy(args))
                run.claim("loop-preserved", f"{name}: the loop invariant is preserved by one iteration",
                          inv(ctx, _memo_key(run, name, visit.instance, "after")), loop=visit)
                raise PathEnd("iteration", visit)
            visit.exit = "break"
        else:
            visit.exit = "test"
        visit.after, visit.after_point = _snapshot(args), run.point()
        run.observe("loop_exit", visit)

    def _merged_exit(self, run, visit: LoopVisit, g: GenericLoop, args) -> None:
        """Continue after the loop: its exit cases instantiated here, merged."""
        import z3

        names = visit.names
        roots = _roots(names, args)
        entry = visit.leaves("entry")
        head = visit.leaves("head")
        key = (g.name, visit.instance, id(g), tuple(t.get_id() for t in entry.values()),
               tuple(head[p].get_id() for p in sorted(g.written) if p in head))
        m = self._exits.get(key)
        if m is None:
            pairs = [(g.entry[p], entry[p]) for p in g.entry if p in entry]
            pairs += [(g.head[p], head[p]) for p in g.written if p in head]
            tag = f"{visit.name}#{visit.instance}."
            replies = sorted({str(v): v for c in g.cases for call in c.calls for v in call.replies
                              if isinstance(v, z3.ExprRef) and str(v).startswith(g.reply_prefix)}.values(), key=str)
            pairs += [(v, z3.Const(tag + str(v)[len(g.reply_prefix):], v.sort())) for v in replies]
            sub = F.Substitution(pairs)

            conds = [z3.And(*[sub(l) for l in c.literals]) if c.literals else z3.BoolVal(True) for c in g.cases]
            changed = sorted({p for c in g.cases for p in c.post if not c.post[p].eq(g.head.get(p, c.post[p]))})
            post = {}
            for p in changed:
                t = sub(g.cases[-1].post[p])
                for c, cond in zip(reversed(g.cases[:-1]), reversed(conds[:-1])):
                    t = z3.If(cond, sub(c.post[p]), t)
                post[p] = z3.simplify(t) if z3.is_bool(t) else t
            calls = []
            for c, cond in zip(g.cases, conds):
                for call in c.calls:
                    calls.append(_instantiate(call, sub, cond))
            m = self._exits[key] = (z3.Or(*conds) if conds else z3.BoolVal(False), post, calls)
        exits, post, calls = m
        run.assume(exits, f"the {visit.name} loop exits (one of its exit cases)")
        F.assign(roots, post)
        env = _env_of(args)
        if env is not None:
            env.calls.extend(calls)
        visit.exit = "merged"
        visit.after, visit.after_point = _snapshot(args), run.point()
        run.observe("loop_exit", visit)


def _instantiate(call, sub, guard):
    from dataclasses import replace

    return replace(call, args=tuple(sub(a) for a in call.args), replies=tuple(sub(r) for r in call.replies),
                   ghost=_sub_ghost(call.ghost, sub) if call.ghost is not None else None,
                   npages=sub(call.npages) if call.npages is not None else None, point=None, guard=guard)


def _sub_ghost(g, sub):
    g2 = g.copy()
    for f in type(g).STATE_FIELDS:
        setattr(g2, f, sub(getattr(g, f)))
    return g2


def _policy_tag(p) -> str:
    """'' for a symbolic policy (flags), else the name of the fixed policy."""
    fixed = [k for k in ("consistent", "host_benign", "alloc_low", "alloc_benign") if getattr(p, k) is True]
    if all(isinstance(getattr(p, k), bool) for k in ("consistent", "host_benign", "alloc_low", "alloc_benign")):
        return "/" + ("+".join(fixed) if fixed else "any")
    return ""


def explore_generic(name: str, inv: "LoopInvariant", test, step, proto, policy: "Summarise",
                    tag: str = "") -> GenericLoop:
    """Explore one iteration of a loop from any state at its head: entry
    leaves fresh (``{name}.e.``), the write set havocked (``{name}.h.``), the
    invariant assumed; the answers of the environment named ``{name}.it.*``."""
    ws, names = policy.write_set(test, step, proto)
    env_proto = _env_of(proto)
    shapes: dict = {}

    def fn(ops):
        run = ops.oracle
        args, b_copy = [], None
        for n, a in zip(names, proto):
            if a is env_proto:
                args.append(None)
            else:
                c = F.fresh_copy(a, n, f"{name}.e.")
                args.append(c)
                if env_proto is not None and a is env_proto.b:
                    b_copy = c
        if env_proto is not None:
            e = env_proto.clone_fresh(ops, b=b_copy, prefix=f"{name}.e.")
            e.names = f"{name}.it."
            args = [e if a is None else a for a in args]
        roots = _roots(names, args)
        assume_list_facts(run, roots)
        shapes["entry"] = F.leaf_values(roots)
        run.data.update(loop=name, args=dict(roots), env=_env_of(args))
        visit = head_state(run, name, inv, args, ws, names, prefix=f"{name}.h.")
        shapes["head"] = F.leaf_values(roots)
        lits0 = len(run.literals)
        calls0 = len(_env_of(args).calls) if _env_of(args) is not None else 0
        if ops.cond(test(ops, *args)):
            if not step(ops, *args):
                visit.after, visit.after_point = _snapshot(args), run.point()
                ctx = LoopCtx(name, visit.state("entry"), dict(zip(names, map(_view, args))), _policy(args))
                run.claim("loop-preserved", f"{name}: the loop invariant is preserved by one iteration", inv(ctx),
                          loop=visit)
                raise PathEnd("iteration", visit)
            visit.exit = "break"
        else:
            visit.exit = "test"
        visit.after, visit.after_point = _snapshot(args), run.point()
        run.observe("loop_exit", visit)
        env = _env_of(args)
        return ExitCase(visit.exit, list(run.literals[lits0:]), F.leaf_values(roots),
                        list(env.calls[calls0:]) if env is not None else [])

    paths = explore(fn, loops=policy, observer=policy.observer, label=f"loop:{name}{tag}")
    cases = [p.result for p in paths if p.kind == "return"]
    return GenericLoop(name, test, step, names, ws, shapes.get("entry", {}), shapes.get("head", {}),
                       f"{name}.it.", cases, paths, fn)


def assume_list_facts(run, roots: dict, which=lambda path: True) -> None:
    """Assume what holds of any list (SymbolicList.facts) for the lists ``which`` selects."""
    for path, lst in F.lists_in(roots):
        if which(path):
            for f in lst.facts():
                run.assume(f, f"list representation invariant ({path})")


def _policy(args):
    env = _env_of(args)
    return env.policy if env is not None else None


def head_state(run, name: str, inv: LoopInvariant, args, write_set, names, *, claim_entry: bool = False,
               prefix: str | None = None) -> LoopVisit:
    """Havoc the loop's write set and assume its invariant: the state of
    ``args`` becomes any state at the loop's head (relative to the entry
    state ``args`` held; with ``claim_entry`` the invariant is first claimed
    there). Records and returns the LoopVisit."""
    env = _env_of(args)
    policy = _policy(args)
    k = run.next_instance(name)
    visit = LoopVisit(name, k, tuple(names), _snapshot(args), run.point(), written=frozenset(write_set))
    entry = visit.state("entry")
    if claim_entry:
        run.claim("loop-entry", f"{name}: the loop invariant holds on entry",
                  inv(LoopCtx(name, entry, entry, policy), _memo_key(run, name, k, "entry")), loop=visit)
    roots = _roots(names, args)
    F.havoc(roots, write_set, prefix if prefix is not None else f"{name}#{k}.")
    assume_list_facts(run, roots, lambda path: any(w.startswith(path + ".") for w in write_set))
    run.assume(inv(LoopCtx(name, entry, dict(zip(names, map(_view, args))), policy), _memo_key(run, name, k, "head")),
               f"the {name} loop invariant at the loop head")
    if claim_entry:
        # A head state exists unless the invariant failed on entry (then the
        # entry claim is violated, and this path is not a vacuity: it ends here).
        r, _ = run.check()
        if r == "unsat":
            raise Infeasible(True, (HEAD_EMPTIED.format(name=name),))
    visit.head, visit.head_point = _snapshot(args), run.point()
    visit.calls0 = len(env.calls) if env is not None else 0
    run.loops.append(visit)
    return visit


def infer_write_set(test, step, args, policy) -> tuple[frozenset, tuple]:
    """(leaf paths one iteration can write, parameter names): one iteration
    explored from a state whose every leaf is fresh."""
    names = _names(step, args)
    env = _env_of(args)

    def one(ops):
        copies = []
        b_copy = None
        for n, a in zip(names, args):
            if a is env:
                copies.append(None)
            else:
                c = F.fresh_copy(a, n, "ws.")
                copies.append(c)
                if env is not None and a is env.b:
                    b_copy = c
        if env is not None:
            e = env.clone_fresh(ops, b=b_copy, prefix="ws.")
            copies = [e if c is None else c for c in copies]
        roots = _roots(names, copies)
        before = F.leaf_values(roots)
        if ops.cond(test(ops, *copies)):
            step(ops, *copies)
        return F.changed(before, F.leaf_values(roots))

    written: set = set()
    for p in explore(one, loops=policy):
        written |= p.result
    return frozenset(written), names


class Cut:
    """Stop at the head of the loops named (all when ``names`` is None)."""

    def __init__(self, names=None, inner=None) -> None:
        self.names, self.inner = names, inner

    def loop(self, run, ops, name, test, step, args) -> None:
        if self.names is None or name in self.names:
            visit = LoopVisit(name, run.next_instance(name), _names(step, args), _snapshot(args), run.point())
            run.loops.append(visit)
            raise PathEnd("cut", visit)
        if self.inner is not None:
            return self.inner.loop(run, ops, name, test, step, args)
        return Unroll().loop(run, ops, name, test, step, args)


class Unroll:
    """Execute the loop, each test a branch (``bound`` iterations at most)."""

    def __init__(self, bound: int | None = None) -> None:
        self.bound = bound

    def loop(self, run, ops, name, test, step, args) -> None:
        n = 0
        while ops.cond(test(ops, *args)):
            if self.bound is not None and n >= self.bound:
                raise PathEnd("bound", name)
            n += 1
            if step(ops, *args):
                break
