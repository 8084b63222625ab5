"""The invariant catalogue: every property of the seed driver we prove or refute.

Each `Invariant` has an id, a precise statement, the method, the expected
outcome on the seed (`proved`, or `violated` for a documented finding, with
the witness scenario of model/proofs/witnesses.py), the C lines it is about,
and its *plan*: the obligations (model/proofs/checker.py) whose checks make
the proof, in order. Obligations are shared: a lemma every proof relies on
(the cycle invariant, each loop invariant, the page lists) is checked once
and listed in every plan that needs it.

All obligations are claims over the symbolic runs of the spec's own
functions (model/proofs/runs.py): ``init``, one ``work`` cycle from any state
satisfying the cycle invariant (model/proofs/cycle.py), ``exit``, and each
modular loop's body from any state at its head (``loop:inflate``,
``loop:deflate``, ``loop:release_refused``; model/proofs/loops.py). Every
environment policy is a hypothesis flag of those runs (host any / consistent
/ benign; allocator any / 32-bit PFNs / benign); an obligation names the
flags it assumes.

Methods:
* ``inductive``: Init ⇒ Inv (the model's `init`), Inv ∧ work ⇒ Inv' (the
  model's `work`, one whole cycle, every path), the host's own move between
  cycles (`host_reset`) keeps Inv, and every loop met on the way keeps its
  loop invariant (entry and preservation, the LOOP lemmas).
* ``loop-invariant``: a claim about a loop's iterations or its exit, from
  the loop invariant (proved: entry in every context, preservation by one
  iteration of the model's own step function).
* ``lemma``: a fact about the symbolic model itself (the page lists).
* ``counterexample``: the property is refuted: the solver finds a step that
  breaks it (its values are the counterexample), and the witness scenario,
  replayed in the model's concrete predictor, shows it reachable from init.

A violated property is checked the same way as a proved one; the outcome is
`violated` when an obligation fails; the witness replay then confirms it is
reachable (else the outcome is `unknown`: a counterexample to induction that
no scenario reaches proves nothing). An obligation whose hypotheses are
unsatisfiable (or whose run an assumption emptied) is `vacuous`: an error.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import z3

from . import cycle as CY
from .checker import Obligation, Tally
from .cref import C, cite
from .cycle import B32, B64, between, fits32

# -------------------------------------------------------------------------------------
# the catalogue's data
# -------------------------------------------------------------------------------------


@dataclass
class Standalone:
    """An obligation that is not about a symbolic run: ``fn() -> Tally``."""

    key: str
    text: str
    fn: Callable[[], Tally]


@dataclass
class Plan:
    obligations: list  # Obligation | Standalone, in order: the first failing one decides
    finish: Callable | None = None  # (outcome, tallies) -> outcome: details, witness confirmation


@dataclass
class Invariant:
    id: str
    title: str
    statement: str
    method: str  # inductive | loop-invariant | lemma | counterexample
    expected: str  # proved | violated
    c_refs: tuple[str, ...]
    plan: Callable[[], Plan]
    witness: str | None = None  # witness scenario id (violations)
    prose: str = ""  # the reviewer's explanation (specs/invariants.md)
    finding: str | None = None  # findings.md section id

    def cite(self) -> str:
        return cite(*self.c_refs) if self.c_refs else ""


CATALOGUE: dict[str, Invariant] = {}


def invariant(id: str, title: str, statement: str, method: str, expected: str, c_refs=(), witness=None,
              prose: str = "", finding=None):
    def deco(fn: Callable[[], Plan]):
        CATALOGUE[id] = Invariant(id, title, " ".join(statement.split()), method, expected, tuple(c_refs), fn,
                                  witness, " ".join(prose.split()), finding)
        return fn

    return deco


# -------------------------------------------------------------------------------------
# obligation helpers
# -------------------------------------------------------------------------------------
CONTEXTS = ("init", "work", "exit")
LOOPS = ("inflate", "release_refused", "deflate", "pop")
GENERIC = tuple(f"loop:{n}" for n in ("inflate", "release_refused", "deflate"))
# the benign host and allocator, fixed: the progress proofs' runs
BENIGN_RUN = "work/benign"
BENIGN_GENERIC = tuple(f"{g}/consistent+host_benign+alloc_low+alloc_benign" for g in GENERIC)
ALL = CONTEXTS + GENERIC + (BENIGN_RUN,) + BENIGN_GENERIC

OBLIGATIONS: dict[str, Obligation | Standalone] = {}


def ob(key: str, text: str, exploration, **kw) -> Obligation:
    """The obligation ``key`` (created once, shared by every plan that names it)."""
    if key not in OBLIGATIONS:
        OBLIGATIONS[key] = Obligation(key, text, exploration, **kw)
    return OBLIGATIONS[key]


def standalone(key: str, text: str, fn: Callable[[], Tally]) -> Standalone:
    if key not in OBLIGATIONS:
        OBLIGATIONS[key] = Standalone(key, text, fn)
    return OBLIGATIONS[key]


def at_end(fn):
    """on_end hook of the paths that return: fn(data) -> claims."""
    return lambda run, path: fn(path.data) if path.kind == "return" else None


def at_step_end(fn):
    """on_end hook of a generic loop exploration: every step (iterations and
    exits), fn(data, path) with data['args'] the state after the step."""
    return lambda run, path: fn(path.data, path)


def calls_of(data, kind: str, cmd=None) -> list:
    return [c for c in data["env"].calls if c.kind == kind and (cmd is None or c.args[0] == cmd)]


def guard(c):
    g = c.guard
    return z3.BoolVal(g) if isinstance(g, bool) else g


def post(data):
    return data["b"], data["env"].ghost


def visit_of(data, name: str):
    """The last visit of loop ``name`` on the path (None if it was not met)."""
    vs = [v for v in data.get("_loops", ()) if v.name == name]
    return vs[-1] if vs else None


def step_calls(path):
    """Calls of the step in a generic loop exploration (its env only holds those)."""
    return path.data["env"].calls


# -- the cycle invariant -----------------------------------------------------------------
CONJUNCTS = tuple(CY.CONJUNCT_TEXT)


def _conj(data, c):
    b, g = post(data)
    return CY.conjuncts(b, g, data["policy"])[c]


def cycle_init(c: str) -> Obligation:
    return ob(f"CYCLE init {c}", f"Init ⇒ {CY.CONJUNCT_TEXT[c]}", "init",
              policy=("consistent",) if c == "consistent" else (),
              on_end=lambda run, p: _conj(p.data, c) if p.kind == "return" and p.data["rc"] == 0 else None)


def cycle_work(c: str) -> Obligation:
    return ob(f"CYCLE work {c}", f"Inv ∧ work ⇒ {CY.CONJUNCT_TEXT[c]}'", "work",
              policy=("consistent",) if c == "consistent" else (), on_end=at_end(lambda d: _conj(d, c)))


def _host_reset() -> Tally:
    from balloonspec.model.state import Balloon
    from balloonspec.model.symbolic import Ghost, Policy
    from balloonspec.model.ops import Z3Ops

    ops = Z3Ops()
    b, g, pol = Balloon.symbolic(ops, "b."), Ghost.fresh("host."), Policy.symbolic()
    pre = CY.inv(b, g, pol)
    return check_valid("CYCLE host_reset", [pre], CY.inv(b, CY.host_reset(g), pol), "Inv ∧ host_reset ⇒ Inv'",
                       ["the cycle invariant"])


def check_valid(key: str, hyps: list, claim, label: str, hyp_labels=()) -> Tally:
    """A standalone validity check, with its non-vacuity check."""
    from .checker import model_dict

    t = Tally(key)
    t.checks = 1
    s = z3.Solver()
    s.add(*hyps)
    r = s.check()
    if r == z3.unsat:
        return t  # vacuous: no applicable check
    t.applicable = 1
    t.hypotheses = set(hyp_labels)
    t.example = ((), model_dict(s.model()) if r == z3.sat else {})
    s.add(z3.Not(claim))
    r = s.check()
    if r == z3.sat:
        t.fail = ((), label, model_dict(s.model()), [], "violated")
    elif r == z3.unknown:
        t.unknown = ((), label, "solver says unknown")
    return t


HOST_RESET = standalone("CYCLE host_reset", "Inv ∧ host_reset ⇒ Inv' (the host forgets the guest between cycles)",
                        _host_reset)

# -- loops and lists -----------------------------------------------------------------------


def loop_entry(name: str) -> Obligation:
    return ob(f"LOOP {name} entry", f"the {name} loop invariant holds on entry", ALL, required=False,
              on_claim=lambda run, c: c.formula if c.kind == "loop-entry" and c.loop.name == name else None)


def loop_preserved(name: str) -> Obligation:
    return ob(f"LOOP {name} preserved", f"one iteration of the {name} loop (the model's step) preserves it", ALL,
              required=False,
              on_claim=lambda run, c: c.formula if c.kind == "loop-preserved" and c.loop.name == name else None)


LISTS = ob("LISTS", "every list_add names a page not on the list, does not wrap the length (and puts only 32-bit "
           "PFNs on b->pages); every list read is of a non-empty list", ALL, required=False,
           on_claim=lambda run, c: (c.formula, c.text) if c.kind == "list" else None)


def _list_ri() -> Tally:
    from .lists import list_lemmas

    return list_lemmas()


LIST_RI = standalone("LIST-RI", "the symbolic page lists keep their representation invariant and behave as the "
                     "concrete lists (add/take/head/tail/empty)", _list_ri)


def loop_lemmas(*names) -> list:
    out = []
    for n in names:
        out += [loop_entry(n), loop_preserved(n)]
    return out


def core() -> list:
    """What every proof over the runs relies on: the cycle invariant (each
    conjunct after init and after a cycle, and across host_reset), every loop
    invariant, the page lists."""
    return ([cycle_init(c) for c in CONJUNCTS] + [cycle_work(c) for c in CONJUNCTS] + [HOST_RESET]
            + loop_lemmas(*LOOPS) + [LISTS, LIST_RI])


def inductive(c: str, extra=()) -> Plan:
    own = [cycle_init(c), cycle_work(c)]
    return Plan(own + list(extra) + [o for o in core() if o not in own])


def _confirm(witness: str):
    def finish(out, tallies):
        if out.status != "violated":
            return out
        from .witnesses import replay_in_model

        seen, _ = replay_in_model(witness)
        if seen is None:
            out.status = "unknown"
            out.detail += f"; but witness {witness} does not show it in the model's predictor"
        else:
            out.detail += f"; reachable: witness {witness} replayed in model.predict shows: {seen}"
        return out

    return finish


def _rate0(b0):
    """The rate inflate_begin chose, from the state at the loop's entry (C's numbers)."""
    return z3.If(b0.slow_allocation_cycles != 0, b0.rate_alloc, B32(C.NOSLEEP_ALLOC_MAX))


def inflate_exit(key: str, text: str, claim, policy=()) -> Obligation:
    """A claim at the inflate loop's exit in a work cycle: claim(entry, after) with
    entry/after the loop's state dicts (b, lv, env)."""
    return ob(key, text, "work", policy=policy,
              on_loop_exit=lambda run, v: claim(v.state("entry"), v.state("after")) if v.name == "inflate" else None)


# -------------------------------------------------------------------------------------
# rates and counters
# -------------------------------------------------------------------------------------

@invariant(
    "RATE-ALLOC-BOUNDS", "rate_alloc stays in [512, 2048]",
    f"After init and after every work cycle, for every host reply and allocator result, "
    f"VMW_BALLOON_RATE_ALLOC_MIN = {C.RATE_ALLOC_MIN} <= rate_alloc <= VMW_BALLOON_RATE_ALLOC_MAX = {C.RATE_ALLOC_MAX}.",
    "inductive", "proved",
    c_refs=("balloon.rate_alloc = VMW_BALLOON_RATE_ALLOC_MAX;", "b->rate_alloc = max(b->rate_alloc / 2,",
            "min(b->rate_alloc + mult * VMW_BALLOON_RATE_ALLOC_INC,"),
    prose=f"""The halving keeps it >= {C.RATE_ALLOC_MIN}; the increase `rate_alloc + (i / rate_alloc) *
    {C.RATE_ALLOC_INC}` could wrap in 32 bits for an arbitrary i, so the proof needs the inflate loop
    invariant: at the loop's exit i <= rate <= {C.NOSLEEP_ALLOC_MAX}, hence i / rate_alloc <= 32 and the sum
    is at most {C.RATE_ALLOC_MAX} + 512 before the min(). Without that lemma the solver finds the wrap.""",
)
def plan_rate_alloc() -> Plan:
    return inductive("rate_alloc")

@invariant(
    "RATE-FREE-BOUNDS", "rate_free stays in [512, 16384]",
    f"After init and after every work cycle, VMW_BALLOON_RATE_FREE_MIN = {C.RATE_FREE_MIN} <= rate_free <= "
    f"VMW_BALLOON_RATE_FREE_MAX = {C.RATE_FREE_MAX}.",
    "inductive", "proved",
    c_refs=("balloon.rate_free = VMW_BALLOON_RATE_FREE_MAX;", "b->rate_free = max(b->rate_free / 2,",
            "b->rate_free = min(b->rate_free + VMW_BALLOON_RATE_FREE_INC,"),
    prose="""Halving on an UNLOCK failure (never below the minimum), +16 capped at the maximum after a
    deflate without error. vmballoon_pop reads rate_free (cond_resched every rate_free pages), so the lower
    bound also guarantees pop never compares against 0.""",
)
def plan_rate_free() -> Plan:
    return inductive("rate_free")

@invariant(
    "SLOW-CYCLES-BOUND", "slow_allocation_cycles <= 4",
    f"After init and after every work cycle, slow_allocation_cycles <= VMW_BALLOON_SLOW_CYCLES = {C.SLOW_CYCLES}.",
    "inductive", "proved",
    c_refs=("b->slow_allocation_cycles = VMW_BALLOON_SLOW_CYCLES;", "b->slow_allocation_cycles--;"),
    prose="Set to 4 on a NOSLEEP allocation failure, decremented once per cycle while positive.",
)
def plan_slow() -> Plan:
    return inductive("slow")

# -------------------------------------------------------------------------------------
# refused pages
# -------------------------------------------------------------------------------------

@invariant(
    "REFUSED-BOUND", "at most 16 refused pages during a cycle",
    f"During inflation n_refused_pages <= VMW_BALLOON_MAX_REFUSED = {C.MAX_REFUSED} after every allocation "
    f"attempt, and the refused list has exactly n_refused_pages pages.",
    "loop-invariant", "proved",
    c_refs=("if (++b->n_refused_pages >= VMW_BALLOON_MAX_REFUSED)",),
    prose=f"""The loop invariant keeps n_refused_pages <= {C.MAX_REFUSED - 1} at every attempt boundary; the
    attempt that reaches {C.MAX_REFUSED} ends reserve_page with -EIO and the cycle's loop.""",
)
def plan_refused() -> Plan:
    def claim(d, path):
        b = d["args"]["b"]
        return z3.And(z3.ULE(b.n_refused_pages, B32(C.MAX_REFUSED)), b.refused_pages.n == b.n_refused_pages)

    own = ob("REFUSED-BOUND step", f"after every allocation attempt n_refused_pages <= {C.MAX_REFUSED} and the refused "
             "list holds that many pages", "loop:inflate", on_end=at_step_end(claim), required=False)
    return Plan([own] + core())

@invariant(
    "REFUSED-EMPTY-AT-END", "the refused list is empty at the end of every cycle",
    "At the end of every work cycle (and after init) n_refused_pages == 0 and the refused list is empty; "
    "release_refused_pages frees every refused page exactly once.",
    "inductive", "proved",
    c_refs=("vmballoon_release_refused_pages(b);", "b->n_refused_pages = 0;"),
    prose="""Refused pages only exist inside vmballoon_inflate, which always ends with
    vmballoon_release_refused_pages. That function is checked on refused lists of every length 0..16 (the
    range REFUSED-BOUND proves), so this is exhaustive, not a bounded check.""",
)
def plan_refused_empty() -> Plan:
    def claim(d, path):
        if path.kind != "iteration":
            return None
        v = path.loops[-1]
        h, a = v.state("head")["b"].refused_pages, v.state("after")["b"].refused_pages
        frees = [c for c in step_calls(path) if c.kind == "free"]
        return z3.And(z3.BoolVal(len(frees) == 1), *[f.pfn == h.item(h.n - 1) for f in frees],
                      a.n == h.n - 1, a.arr == h.arr)

    own = ob("REFUSED-EMPTY release step", "each step of release_refused_pages frees the head of the refused list, "
             "once, and shortens the list by one (so every refused page is freed exactly once)",
             "loop:release_refused", on_end=at_step_end(claim), required=False)
    return inductive("refused", [own])

# -------------------------------------------------------------------------------------
# per-cycle bounds
# -------------------------------------------------------------------------------------

LOCK_BOUND = C.NOSLEEP_ALLOC_MAX + C.MAX_REFUSED  # 16400


def _locks(d):
    return d["env"].ghost.n_lock - d["g0"].n_lock


def lock_bound() -> Obligation:
    return ob("CYCLE-LOCK-BOUND", f"Inv ∧ work ⇒ LOCKs in the cycle <= {LOCK_BOUND}", "work",
              on_end=at_end(lambda d: z3.ULE(_locks(d), B64(LOCK_BOUND))))

@invariant(
    "CYCLE-LOCK-BOUND", f"at most {LOCK_BOUND} LOCKs per cycle",
    f"Every work cycle sends at most VMW_BALLOON_NOSLEEP_ALLOC_MAX + VMW_BALLOON_MAX_REFUSED = {LOCK_BOUND} "
    f"LOCK commands, for every host and allocator; the bound is attained.",
    "loop-invariant", "proved",
    c_refs=("if (i >= rate) {", "if (++b->n_refused_pages >= VMW_BALLOON_MAX_REFUSED)"),
    prose=f"""LOCKs are sent only by the inflate loop. Loop invariant: LOCKs so far = pages added + refused
    pages listed, pages added <= i <= rate <= {C.NOSLEEP_ALLOC_MAX}, refused <= {C.MAX_REFUSED - 1}; the
    exiting attempt adds one LOCK. Exactly attainable: {C.NOSLEEP_ALLOC_MAX} successes then 16 refusals, or
    15 refusals then {C.NOSLEEP_ALLOC_MAX + 1} successes (the solver produces such an exit state).""",
)
def plan_lock_bound() -> Plan:
    own = lock_bound()
    tight = ob("CYCLE-LOCK-BOUND attained", f"some cycle sends exactly {LOCK_BOUND} LOCKs", "work", mode="exists",
               on_end=at_end(lambda d: _locks(d) == B64(LOCK_BOUND)))

    def finish(out, tallies):
        if out.status == "proved":
            t = tallies[tight.key]
            out.detail = f"bound {LOCK_BOUND} is {'attained' if t.witness else 'NOT attained (not tight)'}"
        return out

    return Plan([own, tight] + core(), finish)

def _added(e, a):
    return a["b"].pages.n - e["b"].pages.n

@invariant(
    "CYCLE-LOCKED-PAGES-EXACT", "a cycle adds at most rate + 1 pages",
    f"A work cycle adds at most rate + 1 pages to the balloon, where rate is the cycle's initial rate "
    f"(rate_alloc if slow_allocation_cycles > 0, else {C.NOSLEEP_ALLOC_MAX}): at most {C.NOSLEEP_ALLOC_MAX + 1} "
    f"pages, because the `i >= rate` check comes after the allocation of iteration i.",
    "loop-invariant", "proved",
    c_refs=("rate = b->slow_allocation_cycles ?", "if (i >= rate) {"),
)
def plan_locked_exact() -> Plan:
    own = inflate_exit("CYCLE-LOCKED-PAGES-EXACT exit", "at the inflate loop's exit: pages added <= rate0 + 1",
                       lambda e, a: z3.ULE(_added(e, a), _rate0(e["b"]) + 1))
    return Plan([own] + core())

@invariant(
    "CYCLE-NOSLEEP-RATE", "a cycle locks at most NOSLEEP_ALLOC_MAX pages",
    f"A work cycle adds at most VMW_BALLOON_NOSLEEP_ALLOC_MAX = {C.NOSLEEP_ALLOC_MAX} pages to the balloon "
    f"(the documented rate limit of non-sleeping allocations).",
    "counterexample", "violated", witness="wit-nosleep-plus-one", finding="F-NOSLEEP-PLUS-ONE",
    c_refs=("#define VMW_BALLOON_NOSLEEP_ALLOC_MAX", "if (i >= rate) {"),
    prose=f"""Refuted: the loop exits at i == rate after allocating for iteration i, so iterations
    0..{C.NOSLEEP_ALLOC_MAX} all allocate: {C.NOSLEEP_ALLOC_MAX + 1} pages (CYCLE-LOCKED-PAGES-EXACT proves this
    is the maximum).""",
)
def plan_nosleep_rate() -> Plan:
    own = inflate_exit("CYCLE-NOSLEEP-RATE exit", f"at the inflate loop's exit: pages added <= {C.NOSLEEP_ALLOC_MAX}",
                       lambda e, a: z3.ULE(_added(e, a), B32(C.NOSLEEP_ALLOC_MAX)))
    return Plan([own] + core(), _confirm("wit-nosleep-plus-one"))

def _allocs(d):
    return d["env"].ghost.n_alloc - d["g0"].n_alloc

@invariant(
    "CYCLE-ALLOC-BOUND", f"at most {LOCK_BOUND} page allocations per cycle",
    f"Every work cycle calls alloc_page at most {LOCK_BOUND} times, whatever PFNs the allocator returns.",
    "counterexample", "violated", witness="wit-high-pfn-unbounded", finding="F-HIGH-PFN",
    c_refs=("if (pfn32 != pfn)", "if (locked > 0) {", "while (locked != 0);"),
    prose="""Refuted: a page with a PFN >= 2^32 makes vmballoon_send_lock_page return -1 without a
    backdoor call; reserve_page's do/while continues on `locked != 0` without listing or freeing the page
    and without counting it anywhere, so nothing bounds the allocations of one cycle but the allocator
    failing. CYCLE-ALLOC-BOUND-LOW-PFN proves the bound when PFNs fit 32 bits.""",
)
def plan_alloc_bound() -> Plan:
    own = ob("CYCLE-ALLOC-BOUND", f"Inv ∧ work ⇒ alloc_page calls in the cycle <= {LOCK_BOUND}", "work",
             on_end=at_end(lambda d: z3.ULE(_allocs(d), B64(LOCK_BOUND))))
    return Plan([own] + core(), _confirm("wit-high-pfn-unbounded"))

@invariant(
    "CYCLE-ALLOC-BOUND-LOW-PFN", f"at most {LOCK_BOUND} allocations per cycle when PFNs fit 32 bits",
    f"If the allocator only returns pages with PFN < 2^32, every work cycle calls alloc_page at most "
    f"{LOCK_BOUND} times.",
    "loop-invariant", "proved",
    c_refs=("page = alloc_page(flags);",),
    prose="""Allocations = LOCKs + lost pages + failed (NULL) allocations. With no lost page, a NULL
    allocation either ends the cycle or switches to sleeping allocations with rate = rate_alloc <= 2048, so
    the total stays within the LOCK bound.""",
)
def plan_alloc_bound_low() -> Plan:
    own = ob("CYCLE-ALLOC-BOUND-LOW-PFN", f"allocator of 32-bit PFNs: Inv ∧ work ⇒ alloc_page calls <= {LOCK_BOUND}",
             "work", policy=("alloc_low",), on_end=at_end(lambda d: z3.ULE(_allocs(d), B64(LOCK_BOUND))))
    return Plan([own] + core())

@invariant(
    "CYCLE-UNLOCK-BOUND", "at most rate_free UNLOCKs per cycle",
    f"Every work cycle sends at most rate_free <= {C.RATE_FREE_MAX} UNLOCK commands and frees at most that "
    f"many balloon pages through deflate.",
    "loop-invariant", "proved",
    c_refs=("goal = min(b->size - b->target, b->rate_free);", "if (++i >= goal)"),
)
def plan_unlock_bound() -> Plan:
    def claim(d):
        pre = d["pre"]
        unlocks = d["env"].ghost.n_unlock - d["g0"].n_unlock
        return z3.And(z3.ULE(unlocks, z3.ZeroExt(32, pre.rate_free)), z3.ULE(pre.rate_free, B32(C.RATE_FREE_MAX)))

    own = ob("CYCLE-UNLOCK-BOUND", "Inv ∧ work ⇒ UNLOCKs in the cycle <= rate_free <= "
             f"{C.RATE_FREE_MAX}", "work", on_end=at_end(claim))
    freed = ob("CYCLE-UNLOCK-BOUND deflate", "at the deflate walk's exit: pages taken off the balloon <= goal <= "
               "rate_free", "work",
               on_loop_exit=lambda run, v: z3.And(
                   z3.ULE(v.state("entry")["b"].pages.n - v.state("after")["b"].pages.n, v.state("entry")["dl"].goal),
                   z3.ULE(v.state("entry")["dl"].goal, v.state("entry")["b"].rate_free)) if v.name == "deflate" else None)
    return Plan([own, freed] + core())

@invariant(
    "STATS-LOCK-RATE", "stats.lock counts LOCKs (wraps no sooner than 261,889 cycles)",
    f"stats.lock grows by exactly one per LOCK command, so by at most {LOCK_BOUND} per cycle; as an unsigned "
    f"int it cannot wrap in fewer than ceil(2^32 / {LOCK_BOUND}) = {-(-(1 << 32) // LOCK_BOUND)} cycles "
    f"(about 72.7 hours of continuous maximal inflation).",
    "loop-invariant", "proved",
    c_refs=("STATS_INC(b->stats.lock);",),
    prose="""The statistics are 32-bit counters (STATS_INC wraps); debugfs then shows small numbers. No
    decision of the driver reads a counter, so a wrap is cosmetic. stats.alloc has no such bound: with PFNs
    >= 2^32 one cycle can make any number of allocations (CYCLE-ALLOC-BOUND).""",
)
def plan_stats_lock() -> Plan:
    own = ob("STATS-LOCK-RATE", "Inv ∧ work ⇒ stats.lock grows by the LOCKs of the cycle (mod 2^32)", "work",
             on_end=at_end(lambda d: d["b"].stats.lock - d["pre"].stats.lock == z3.Extract(31, 0, _locks(d))))
    return Plan([own, lock_bound()] + core())

# command -> its counter and the counter of its refusals (struct vmballoon_stats); LOCK and UNLOCK are
# sent inside loops, so they and the allocations are counted per loop step, the others per whole run
_RUN_COMMANDS = ((C.CMD_START, "start", "start_fail"), (C.CMD_GUEST_ID, "guest_type", "guest_type_fail"),
                 (C.CMD_GET_TARGET, "target", "target_fail"))
_STEP_COMMANDS = ((C.CMD_LOCK, "lock", "lock_fail"), (C.CMD_UNLOCK, "unlock", "unlock_fail"))
_STEP_ALLOCS = ((C.GFP_NOSLEEP, "alloc", "alloc_fail"), (C.GFP_CANSLEEP, "sleep_alloc", "sleep_alloc_fail"))


def _count(calls, holds=lambda c: True):
    """How many of ``calls`` happen and satisfy ``holds``, as a 32-bit term (a counter's width)."""
    return z3.Sum(B32(0), *[z3.If(z3.And(guard(c), holds(c)), B32(1), B32(0)) for c in calls])


def _counters_count(before, after, calls, commands=(), allocs=()):
    """Each command's counter grew by the commands sent and its _fail counter by those refused (any
    status but SUCCESS); each allocation counter by the allocations of its kind made and failed (mod 2^32)."""
    claims = []

    def grew(made, failed, cs, fails):
        claims.append(getattr(after, made) - getattr(before, made) == _count(cs))
        claims.append(getattr(after, failed) - getattr(before, failed) == _count(cs, fails))

    for cmd, made, failed in commands:
        grew(made, failed, [c for c in calls if c.kind == "backdoor" and c.cmd == cmd], lambda c: c.status != 0)
    for gfp, made, failed in allocs:
        grew(made, failed, [c for c in calls if c.kind == "alloc" and c.gfp == gfp], lambda c: z3.Not(c.ok))
    return z3.And(*claims)

@invariant(
    "STATS-COUNTS", "each command and allocation counter counts exactly its calls",
    "start, guest_type, target, lock and unlock grow by one per START, GUEST_ID, GET_TARGET, LOCK and UNLOCK "
    "sent, and each _fail counter by one per such command the host refused (any status but SUCCESS); alloc and "
    "sleep_alloc grow by one per NOSLEEP and CANSLEEP allocation, alloc_fail and sleep_alloc_fail by one per "
    "failed one (all mod 2^32), in init, every work cycle and exit.",
    "loop-invariant", "proved",
    c_refs=("STATS_INC(b->stats.start_fail);", "STATS_INC(b->stats.guest_type_fail);",
            "STATS_INC(b->stats.lock_fail);"),
    prose="""These are the counters debugfs shows; no decision of the driver reads them, so only this
    invariant and the vectors' debugfs reads pin them down (a counter set to 1 instead of incremented is
    otherwise invisible). The calls outside loops are counted over the whole runs; LOCK, UNLOCK and the
    allocations over each step of the inflate and deflate loops, from any state at the loop's head.""",
)
def plan_stats_counts() -> Plan:
    def whole(d):
        return _counters_count(d["pre"].stats, d["b"].stats, d["env"].calls, _RUN_COMMANDS)

    def step(d, path):
        return _counters_count(path.loops[-1].state("head")["b"].stats, d["args"]["b"].stats, step_calls(path),
                               _STEP_COMMANDS, _STEP_ALLOCS)

    runs = ob("STATS-COUNTS", "Inv ∧ init/work/exit ⇒ start, guest_type, target (and their _fail) grew by the "
              "commands sent (refused)", CONTEXTS, on_end=at_end(whole))
    steps = ob("STATS-COUNTS step", "each inflate and deflate step: lock, unlock, alloc, sleep_alloc (and their "
               "_fail) grew by the calls made (failed)", ("loop:inflate", "loop:deflate"), on_end=at_step_end(step))
    return Plan([runs, steps] + core())

# -------------------------------------------------------------------------------------
# size vs target
# -------------------------------------------------------------------------------------

@invariant(
    "NO-OVERSHOOT", "inflate never passes the target, deflate never goes below it",
    "In every work cycle: if the balloon inflates, size0 <= size' <= target; if it deflates, "
    "target <= size' <= size0 (size0: size when inflate/deflate starts).",
    "loop-invariant", "proved",
    c_refs=("for (i = 0; i < goal; i++) {", "goal = min(b->size - b->target, b->rate_free);"),
    prose="""Inflate: one page at most per iteration and at most goal = target - size iterations (the
    failed NOSLEEP attempt uses up an iteration without adding a page). Deflate: at most goal = min(size -
    target, rate_free) pages. Checked on the loops' exits inside whole cycles.""",
)
def plan_overshoot() -> Plan:
    def claim(run, v):
        e, a = v.state("entry")["b"], v.state("after")["b"]
        if v.name == "inflate":
            return z3.And(z3.ULE(e.size, a.size), z3.ULE(a.size, e.target))
        if v.name == "deflate":
            return z3.And(z3.ULE(e.target, a.size), z3.ULE(a.size, e.size))
        return None

    own = ob("NO-OVERSHOOT", "at the exit of the inflate loop size0 <= size' <= target, of the deflate walk "
             "target <= size' <= size0", "work", on_loop_exit=claim)
    return Plan([own] + core())

@invariant(
    "TARGET-FAITHFUL", "the target adopted is the host's reply",
    "Whenever GET_TARGET succeeds, the driver's target becomes exactly the 32-bit value the host put in ebx.",
    "inductive", "proved",
    c_refs=("*new_target = target;",),
    prose="""Candidate finding refuted: `*new_target = target` truncates the unsigned long result to u32,
    but the backdoor's result register is 32-bit (specs/trace.md; model/environment.py masks host replies to
    32 bits), so nothing is lost. Only a host writing bits 63..32 of rbx would be truncated.""",
)
def plan_target() -> Plan:
    def claim(d):
        gts = calls_of(d, "backdoor", C.CMD_GET_TARGET)
        if not gts:
            return None
        c = gts[-1]
        return z3.Implies(c.status == 0, z3.ZeroExt(32, d["b"].target) == c.result)

    own = ob("TARGET-FAITHFUL", "Inv ∧ work ⇒ target' == GET_TARGET's result when it succeeded", "work",
             on_end=at_end(claim))
    return Plan([own] + core())

# -------------------------------------------------------------------------------------
# memory
# -------------------------------------------------------------------------------------

def _conservation(d, path):
    """The page of one allocation attempt (the step of a generic inflate run)."""
    allocs = [c for c in step_calls(path) if c.kind == "alloc"]
    if len(allocs) != 1:
        return z3.BoolVal(False), "one alloc_page per attempt"
    q, ok = allocs[0].pfn, allocs[0].ok
    v = path.loops[-1]
    h, a = v.state("head")["b"], v.state("after")["b"]
    frees = [c for c in step_calls(path) if c.kind == "free"]
    places = [a.pages.contains(q), a.refused_pages.contains(q), z3.Or(*[f.pfn == q for f in frees]) if frees
              else z3.BoolVal(False), a.lost_pages.contains(q)]
    once = z3.Sum(*[z3.If(x, 1, 0) for x in places]) == 1
    return z3.If(ok, z3.And(once, z3.Not(a.lost_pages.contains(q))),
                 z3.And(a.pages.n == h.pages.n, a.refused_pages.n == h.refused_pages.n,
                        a.lost_pages.n == h.lost_pages.n)), "the page is listed once or freed, none lost"


def _mem_step(alloc: str) -> Obligation:
    low = alloc == "low"
    return ob(f"MEM step{' low' if low else ''}",
              "each page alloc_page returns in an inflate attempt is put on exactly one list or freed at once, and "
              "none is lost" + (" (allocator of 32-bit PFNs)" if low else ""), "loop:inflate",
              policy=("alloc_low",) if low else (), required=False,
              on_end=at_step_end(_conservation))

@invariant(
    "MEM-CONSERVATION", "every allocated page is in the balloon, refused, or freed",
    "Every page alloc_page returns ends up exactly once in one of: the balloon's list, the refused list, or "
    "freed back (pages allocated = in balloon + refused pending + freed); size == number of pages in the "
    "balloon after every cycle.",
    "counterexample", "violated", witness="wit-high-pfn-leak", finding="F-HIGH-PFN",
    c_refs=("if (pfn32 != pfn)", "while (locked != 0);"),
    prose="""Refuted by a page with PFN >= 2^32: it is neither listed nor freed (a leak that not even module
    exit recovers). MEM-CONSERVATION-LOW-PFN proves conservation when PFNs fit 32 bits.""",
)
def plan_mem() -> Plan:
    return Plan([_mem_step("any")] + core(), _confirm("wit-high-pfn-leak"))

@invariant(
    "MEM-CONSERVATION-LOW-PFN", "conservation holds when PFNs fit 32 bits",
    "If the allocator only returns PFNs < 2^32: every page returned by alloc_page is put on exactly one of "
    "the balloon list or the refused list, or freed at once; size == pages in the balloon after every cycle.",
    "inductive", "proved",
    c_refs=("list_add(&page->lru, &b->pages);", "list_add(&page->lru, &b->refused_pages);", "__free_page(page);"),
)
def plan_mem_low() -> Plan:
    return inductive("size", [_mem_step("low")])

@invariant(
    "EXIT-RELEASES", "after module exit the driver holds no balloon page",
    "After vmballoon_exit the balloon list and the refused list are empty and size == 0.",
    "inductive", "proved",
    c_refs=("vmballoon_pop(&balloon);",),
    prose="Leaked pages (MEM-CONSERVATION) are not on any list and so are not covered by this property.",
)
def plan_exit_releases() -> Plan:
    own = ob("EXIT-RELEASES", "Inv ∧ exit ⇒ the balloon and the refused list are empty and size == 0", "exit",
             on_end=at_end(lambda d: z3.And(d["b"].pages.n == 0, d["b"].size == 0, d["b"].refused_pages.n == 0)))
    return Plan([own] + core())

# -------------------------------------------------------------------------------------
# protocol safety
# -------------------------------------------------------------------------------------

def _lock_names_alloc(run, c):
    if c.kind != "backdoor" or c.cmd != C.CMD_LOCK:
        return None
    calls = run.data["env"].calls
    prev = calls[c.index - 1] if c.index > 0 else None
    if prev is None or prev.kind != "alloc":
        return z3.BoolVal(False), "LOCK right after an allocation"
    return z3.And(c.arg == prev.pfn, prev.ok, z3.Not(c.ghost.holds(c.arg))), "LOCK names the page just allocated"

@invariant(
    "PROTO-NO-DOUBLE-LOCK", "LOCK only names the page just allocated",
    "Every LOCK command names the page alloc_page returned immediately before it; so, with an allocator "
    "that never hands out a page the guest has not got back, no page the host holds locked is LOCKed again.",
    "loop-invariant", "proved",
    c_refs=("locked = vmballoon_send_lock_page(b, page_to_pfn(page), &hv_status);",),
)
def plan_double_lock() -> Plan:
    own = ob("PROTO-NO-DOUBLE-LOCK", "every LOCK names the page alloc_page returned just before, which the host "
             "does not hold locked", ALL, on_call=_lock_names_alloc)
    return Plan([own] + core())

def _unlock_head(run, c):
    if c.kind != "backdoor" or c.cmd != C.CMD_UNLOCK:
        return None
    b = run.data["args"]["b"] if "args" in run.data else run.data["b"]
    P = b.pages
    return z3.And(z3.UGT(P.n, 0), c.arg == P.item(P.n - 1), z3.IsSubset(P.members, c.ghost.locked),
                  c.ghost.holds(c.arg)), "UNLOCK names the head page, the host holds every balloon page locked"

@invariant(
    "PROTO-UNLOCK-LOCKED", "UNLOCK only of a page the host holds locked",
    "With a consistent host (while it waits for START it answers every other command ERROR_RESET), every "
    "UNLOCK names the head page of the balloon while the host holds every balloon page locked.",
    "inductive", "proved",
    c_refs=("if (!vmballoon_send_unlock_page(b, page_to_pfn(page)))",),
    prose="""Cycle invariant (consistent host): reset_required ⇒ the host waits for START; while it waits
    it holds none of the balloon's pages; otherwise it holds all of them. Deflate runs only after a
    successful GET_TARGET, which a waiting consistent host never gives.""",
)
def plan_unlock_locked() -> Plan:
    own = ob("PROTO-UNLOCK-LOCKED", "consistent host: every UNLOCK names the head page of the balloon while the "
             "host holds every balloon page locked", ALL, policy=("consistent",), on_call=_unlock_head)
    return Plan([own] + core())

def _no_lock_pending(run, c):
    if c.kind == "backdoor" and c.cmd in (C.CMD_LOCK, C.CMD_UNLOCK):
        return z3.Not(c.ghost.pending), "no LOCK/UNLOCK while a reset is pending"
    return None

@invariant(
    "PROTO-RESET-RESTART", "no LOCK/UNLOCK between a RESET and a successful START",
    "For every host: after a reply ERROR_RESET, the driver sends no LOCK or UNLOCK until a START succeeds.",
    "counterexample", "violated", witness="wit-reset-start-fails", finding="F-RESET-START-FAILS",
    c_refs=("if (vmballoon_send_start(b)) {", "if (vmballoon_send_get_target(b, &target)) {"),
    prose="""Refuted: when vmballoon_reset's START fails, reset_required stays set but vmballoon_work still
    sends GET_TARGET and, if the host answers it with success, inflates (LOCK). The driver relies on the host
    to keep refusing; PROTO-RESET-RESTART-CONSISTENT proves the property for such a host.""",
)
def plan_reset_restart() -> Plan:
    own = ob("PROTO-RESET-RESTART", "no LOCK/UNLOCK while the host waits for START (any host)", ALL,
             on_call=_no_lock_pending)
    return Plan([own] + core(), _confirm("wit-reset-start-fails"))

@invariant(
    "PROTO-RESET-RESTART-CONSISTENT", "no LOCK/UNLOCK during a reset, with a consistent host",
    "With a consistent host (while it waits for START it answers every other command ERROR_RESET), the driver "
    "sends no LOCK or UNLOCK between a RESET reply and a successful START.",
    "inductive", "proved",
    c_refs=("if (b->reset_required)",),
)
def plan_reset_restart_consistent() -> Plan:
    own = ob("PROTO-RESET-RESTART-CONSISTENT", "consistent host: no LOCK/UNLOCK while it waits for START", ALL,
             policy=("consistent",), on_call=_no_lock_pending)
    return Plan([own] + core())

@invariant(
    "RESET-HANDLING", "a required reset pops and restarts before anything else",
    "Every ERROR_RESET reply to GET_TARGET, LOCK, UNLOCK or GUEST_ID leaves reset_required set at the end of the "
    "cycle; and if reset_required is set when a work cycle starts, the cycle's first backdoor command is START, "
    "sent after every balloon page was released (the balloon is empty), so no LOCK/UNLOCK precedes the restart "
    "attempt.",
    "inductive", "proved",
    c_refs=("b->reset_required = true;", "if (b->reset_required)", "vmballoon_pop(b);"),
    prose="""A RESET reply to START itself is not noticed (vmballoon_send_start does not call
    vmballoon_check_status), but START is only sent when a reset is already required (or at init/exit).""",
)
def plan_reset_handling() -> Plan:
    def first_start(d):
        bds = calls_of(d, "backdoor")
        if not bds:
            return z3.Not(d["pre"].reset_required)
        f = bds[0]
        return z3.Implies(d["pre"].reset_required, z3.And(z3.BoolVal(f.cmd == C.CMD_START), guard(f), f.npages == 0))

    def noticed(d):
        resets = [z3.And(guard(c), c.status == C.ERROR_RESET) for c in calls_of(d, "backdoor")
                  if c.cmd != C.CMD_START]
        return z3.Implies(z3.Or(*resets), d["b"].reset_required) if resets else None

    a = ob("RESET-HANDLING start", "Inv ∧ work ⇒ (reset_required ⇒ the first command is START, on an empty "
           "balloon)", "work", on_end=at_end(first_start))
    b = ob("RESET-HANDLING noticed", "Inv ∧ work ⇒ a RESET reply leaves reset_required set", "work",
           on_end=at_end(noticed))
    return Plan([a, b] + core())

def _free_unlocked(run, c):
    if c.kind == "free":
        return z3.Not(c.ghost.holds(c.pfn)), "the page freed is not held locked by the host"
    return None

@invariant(
    "MEM-NO-FREE-LOCKED", "no page is freed while the host holds it locked (work cycle)",
    "With a consistent host, no work cycle gives a page back to the guest while the host holds it locked: "
    "refused pages were never locked, deflate frees a page only after its UNLOCK succeeded, and the pop of a "
    "reset frees pages the host has already forgotten.",
    "inductive", "proved",
    c_refs=("__free_page(page);", "vmballoon_pop(b);"),
)
def plan_no_free_locked() -> Plan:
    own = ob("MEM-NO-FREE-LOCKED", "consistent host: no page is freed while the host holds it locked (work cycle, "
             "loop bodies)", ("work",) + GENERIC, policy=("consistent",), on_call=_free_unlocked)
    return Plan([own] + core())

@invariant(
    "MEM-NO-FREE-LOCKED-EXIT", "module exit frees no page the host holds locked",
    "Even with a consistent host, vmballoon_exit gives no page back to the guest while the host holds it locked.",
    "counterexample", "violated", witness="wit-exit-start-fails", finding="F-EXIT-START",
    c_refs=("vmballoon_send_start(&balloon);", "vmballoon_pop(&balloon);"),
    prose="""Refuted: exit ignores START's result; if START fails (e.g. ERROR_BUSY) the host still holds the
    balloon's pages locked when vmballoon_pop frees them.""",
)
def plan_no_free_locked_exit() -> Plan:
    own = ob("MEM-NO-FREE-LOCKED-EXIT", "consistent host: module exit frees no page the host holds locked", "exit",
             policy=("consistent",), on_call=_free_unlocked)
    return Plan([own] + core(), _confirm("wit-exit-start-fails"))

# -------------------------------------------------------------------------------------
# progress
# -------------------------------------------------------------------------------------

BENIGN = ()  # the benign runs fix the policy: no flag to add

@invariant(
    "PROGRESS-INFLATE", "a benign host and allocator: the balloon reaches the target",
    f"With a benign host (every command succeeds, GET_TARGET returns a fixed T) and allocator (never fails, "
    f"PFNs < 2^32), from size S < T with slow_allocation_cycles = s and no reset required, the balloon reaches "
    f"T in at most max(s - 1, 0) + ceil((T - S) / {C.NOSLEEP_ALLOC_MAX + 1}) cycles and never passes it; "
    f"from init (s = 0): ceil((T - S) / {C.NOSLEEP_ALLOC_MAX + 1}).",
    "inductive", "proved",
    c_refs=("rate = b->slow_allocation_cycles ?",),
    prose=f"""Per-cycle lemma (solver, over the model's work with the inflate loop summarised by its
    invariant): from size < T a cycle ends with size' <= T and either size' == T or size' - size >= rate + 1
    (rate = rate_alloc >= {C.RATE_ALLOC_MIN} while slow cycles remain after the decrement, else
    {C.NOSLEEP_ALLOC_MAX}), slow_allocation_cycles counts down, rate_alloc does not drop and no reset is
    required; size == T is a fixed point. The induction over cycles is solver-checked too, for a symbolic n:
    once no slow cycle remains, if T - size <= n * {C.NOSLEEP_ALLOC_MAX + 1} before a cycle then
    T - size' <= (n - 1) * {C.NOSLEEP_ALLOC_MAX + 1} after it (a ranking function written with a ceil division
    timed out in Z3; this form is linear).""",
)
def plan_progress_inflate() -> Plan:
    def exit_claim(e, a):
        b0 = e["b"]
        rate0 = _rate0(b0)
        goal = b0.target - b0.size
        return _added(e, a) == z3.If(z3.ULT(goal, rate0 + 1), goal, rate0 + 1)

    ex = ob("PROGRESS-INFLATE exit", "benign: pages added by the inflate loop == min(goal, rate0 + 1)", BENIGN_RUN,
            on_loop_exit=lambda run, v: exit_claim(v.state("entry"), v.state("after")) if v.name == "inflate" else None)

    def cycle_claim(d):
        pre, b, T = d["pre"], d["b"], d["policy"].T
        slow1 = z3.If(z3.UGT(pre.slow_allocation_cycles, B32(0)), pre.slow_allocation_cycles - 1, B32(0))
        step = z3.If(slow1 != 0, pre.rate_alloc + 1, B32(C.NOSLEEP_ALLOC_MAX + 1))
        return z3.And(
            z3.Implies(z3.ULT(pre.size, T),
                       z3.And(z3.ULE(pre.size, b.size), z3.ULE(b.size, T),
                              z3.Or(b.size == T, z3.UGE(b.size - pre.size, step)),
                              b.slow_allocation_cycles == slow1, z3.UGE(b.rate_alloc, pre.rate_alloc))),
            z3.Implies(pre.size == T, b.size == T),
            z3.Not(b.reset_required))

    cyc = ob("PROGRESS-INFLATE cycle", "benign: a cycle reaches T or adds >= rate + 1 pages; slow cycles count down",
             BENIGN_RUN, on_end=at_end(cycle_claim))
    step = C.NOSLEEP_ALLOC_MAX + 1

    def n_cycles() -> Tally:
        """The induction step over cycles, from the per-cycle lemma alone: pure
        linear arithmetic over integers (the bit-vector quantities involved do
        not wrap: the per-cycle lemma orders them, size <= size' <= T)."""
        size, size1, T, n = z3.Ints("size size' T n")
        cycle = z3.Implies(size < T, z3.And(size <= size1, size1 <= T, z3.Or(size1 == T, size1 - size >= step)))
        rng = z3.And(*[z3.And(0 <= v, v < 1 << 32) for v in (size, size1, T)])
        hyp = z3.And(rng, size < T, n >= 1, T - size <= n * step)
        return check_valid("PROGRESS-INFLATE n", [cycle, hyp], z3.And(size1 <= T, T - size1 <= (n - 1) * step),
                           "n cycles suffice ⇒ n - 1 suffice", ["the per-cycle lemma (PROGRESS-INFLATE cycle)"])

    ind = standalone("PROGRESS-INFLATE n", f"from the per-cycle lemma, for all n: T - size <= n*{step} ⇒ "
                     f"T - size' <= (n-1)*{step}", n_cycles)

    def finish(out, tallies):
        if out.status == "proved":
            out.detail = (f"both induction steps proved: slow cycles count down (each adds >= {C.RATE_ALLOC_MIN + 1} "
                          f"pages or reaches T), and once none remain, 'n cycles suffice' becomes 'n - 1 suffice' "
                          f"for every n; hence max(s - 1, 0) + ceil((T - S) / {step}) cycles")
        return out

    return Plan([ex, cyc, ind] + core(), finish)

@invariant(
    "PROGRESS-DEFLATE", "a benign host: the balloon shrinks to the target",
    f"With a benign host and a fixed target T < S = size, the balloon reaches T in at most "
    f"ceil((S - T) / rate_free) cycles (rate_free at the start; from init {C.RATE_FREE_MAX}, never worse than "
    f"ceil((S - T) / {C.RATE_FREE_MIN})) and never goes below it.",
    "inductive", "proved",
    c_refs=("goal = min(b->size - b->target, b->rate_free);",),
    prose="""Per-cycle lemma (solver): from size > T a cycle ends with T <= size' and either size' == T or at
    least rate_free pages freed, and rate_free' >= rate_free; size == T is a fixed point. The induction step of
    the bound is solver-checked for symbolic n and r0 (r0 <= rate_free): size - T <= n * r0 before a cycle
    implies size' - T <= (n - 1) * r0 after it (a ranking function ceil((size - T) / rate_free) with a
    symbolic divisor timed out in Z3).""",
)
def plan_progress_deflate() -> Plan:
    def cycle_claim(d):
        pre, b, T = d["pre"], d["b"], d["policy"].T
        return z3.And(
            z3.Implies(z3.UGT(pre.size, T),
                       z3.And(z3.UGE(b.size, T), z3.ULE(b.size, pre.size),
                              z3.Or(b.size == T, z3.UGE(pre.size - b.size, pre.rate_free)),
                              z3.UGE(b.rate_free, pre.rate_free))),
            z3.Implies(pre.size == T, b.size == T))

    cyc = ob("PROGRESS-DEFLATE cycle", "benign: a cycle reaches T or frees >= rate_free pages; rate_free does not "
             "drop", BENIGN_RUN, on_end=at_end(cycle_claim))

    def n_cycles() -> Tally:
        """The induction step over cycles, from the per-cycle lemma alone: pure
        linear arithmetic over integers (M stands for n * r0: M - r0 = (n - 1) * r0;
        the bit-vector quantities involved do not wrap: T <= size' <= size)."""
        size, size1, T, rf, rf1, M, r0 = z3.Ints("size size' T rate_free rate_free' M r0")
        cycle = z3.And(z3.Implies(size > T, z3.And(size1 >= T, size1 <= size, z3.Or(size1 == T, size - size1 >= rf),
                                                   rf1 >= rf)),
                       z3.Implies(size == T, size1 == T))
        rng = z3.And(*[z3.And(0 <= v, v < 1 << 32) for v in (size, size1, T, rf, rf1)])
        hyp = z3.And(rng, size > T, r0 <= M, C.RATE_FREE_MIN <= r0, r0 <= rf, size - T <= M)
        return check_valid("PROGRESS-DEFLATE n", [cycle, hyp], z3.And(size1 >= T, r0 <= rf1, size1 - T <= M - r0),
                           "n cycles at r0 suffice ⇒ n - 1 suffice", ["the per-cycle lemma (PROGRESS-DEFLATE cycle)"])

    ind = standalone("PROGRESS-DEFLATE n", "from the per-cycle lemma, for all n, r0 <= rate_free: size - T <= n*r0 ⇒ "
                     "size' - T <= (n-1)*r0", n_cycles)

    def finish(out, tallies):
        if out.status == "proved":
            out.detail = ("both proved: a cycle reaches T or frees >= rate_free pages without lowering rate_free, and "
                          "for every n and r0 <= rate_free, 'n cycles at r0 suffice' becomes 'n - 1 suffice'; "
                          "hence ceil((S - T) / rate_free0) cycles")
        return out

    return Plan([cyc, ind] + core(), finish)

@invariant(
    "PROGRESS-DEFLATE-REFUSAL", "a refused UNLOCK does not stop deflation",
    "If the host refuses to UNLOCK one page (e.g. ERROR_PPN_PINNED) but accepts the others, the balloon still "
    "shrinks toward a lower target: after a refused UNLOCK the driver goes on with other pages.",
    "counterexample", "violated", witness="wit-unlock-head-blocks", finding="F-UNLOCK-HEAD",
    c_refs=("list_for_each_entry_safe(page, next, &b->pages, lru) {", "return;"),
    prose="""Refuted: vmballoon_deflate returns at the first failed UNLOCK and the refused page stays at
    the head of the list, so every later cycle tries the same page first: the balloon cannot shrink at all
    while that page is refused.""",
)
def plan_deflate_refusal() -> Plan:
    def claim(d, path):
        unl = [c for c in step_calls(path) if c.kind == "backdoor" and c.cmd == C.CMD_UNLOCK]
        if not unl:
            return None
        st = unl[0].status
        return z3.Implies(z3.And(st != 0, st != C.ERROR_RESET), z3.BoolVal(path.kind == "iteration"))

    own = ob("PROGRESS-DEFLATE-REFUSAL", "a refused UNLOCK does not end the deflate walk", "loop:deflate",
             on_end=at_step_end(claim), required=False)
    return Plan([own] + core(), _confirm("wit-unlock-head-blocks"))

@invariant(
    "PROGRESS-INFLATE-BIG-GUEST", "progress for any memory size",
    "With a benign host and allocator, the balloon reaches its target whatever the guest's totalram "
    "(including >= 2^32 pages, 16 TiB).",
    "counterexample", "violated", witness="wit-totalram-4g", finding="F-TOTALRAM",
    c_refs=("if (limit != limit32)", "STATS_INC(b->stats.target);"),
    prose="""Refuted: with totalram >= 2^32 pages vmballoon_send_get_target returns false before any backdoor
    call, every cycle, without a message or a failure count; the balloon never moves.""",
)
def plan_big_guest() -> Plan:
    def hyps(run, d):
        return ([z3.Implies(guard(c), c.status == 0) for c in calls_of(d, "backdoor")]
                + [z3.Not(d["pre"].reset_required)]
                + [z3.Implies(guard(c), z3.And(c.ok, fits32(c.pfn))) for c in calls_of(d, "alloc")])

    def claim(d):
        if not calls_of(d, "si_meminfo"):
            return None
        return z3.BoolVal(len(calls_of(d, "backdoor", C.CMD_GET_TARGET)) == 1)

    own = ob("PROGRESS-INFLATE-BIG-GUEST", "every reply succeeds, no reset required, allocations succeed: the cycle "
             "asks the host for the target", "work", on_end=at_end(claim), hyps=hyps,
             hyps_text="every backdoor reply SUCCESS, no reset required, allocations succeed with 32-bit PFNs")
    return Plan([own] + core(), _confirm("wit-totalram-4g"))

# -------------------------------------------------------------------------------------
# rate rule and debugfs
# -------------------------------------------------------------------------------------

@invariant(
    "RATE-ALLOC-NO-RAISE-ON-FAILURE", "rate_alloc does not rise in a cycle with a failed allocation",
    "As the C comment says (\"We reached our goal without failures so try increasing allocation rate\"), "
    "rate_alloc increases only in a cycle in which no allocation failed.",
    "counterexample", "violated", witness="wit-rate-up-after-failure", finding="F-RATE-UP",
    c_refs=("if (error == 0 && i >= b->rate_alloc) {",),
    prose="""Refuted: `error` holds only the last reserve_page result. A NOSLEEP failure at i < rate_alloc
    switches to sleeping allocations; if those then succeed up to i == rate, error is 0 and rate_alloc rises
    although the guest is under memory pressure (slow_allocation_cycles was just set to 4).""",
)
def plan_rate_no_raise() -> Plan:
    def claim(run, path):
        if path.kind != "return":
            return None
        v = next((x for x in path.loops if x.name == "inflate"), None)
        if v is None:
            return None
        d = path.data
        calls = d["env"].calls[v.calls0:]
        failed = z3.Or(v.state("head")["lv"].can_sleep,
                       *[z3.And(guard(c), z3.Not(c.ok)) for c in calls if c.kind == "alloc"])
        return z3.Implies(failed, z3.ULE(d["b"].rate_alloc, v.state("entry")["b"].rate_alloc))

    own = ob("RATE-ALLOC-NO-RAISE-ON-FAILURE", "Inv ∧ work ⇒ no rate_alloc increase in a cycle with a failed "
             "allocation", "work", on_end=claim)
    return Plan([own] + core(), _confirm("wit-rate-up-after-failure"))

@invariant(
    "DEBUGFS-UNSIGNED", "debugfs prints the unsigned fields as their values",
    "The debugfs file shows target, current size and the rates as the unsigned values the driver holds.",
    "counterexample", "violated", witness="wit-debugfs-signed", finding="F-DEBUGFS-SIGNED",
    c_refs=('"target:             %8d pages',),
    prose="""Refuted: the five lines use %8d for unsigned int members; the target comes straight from the
    host (any 32-bit value), so a target >= 2^31 prints negative. Rates are bounded (RATE-*-BOUNDS) and
    print correctly; size would need 2^31 ballooned pages.""",
)
def plan_debugfs() -> Plan:
    def claim(d):
        gts = calls_of(d, "backdoor", C.CMD_GET_TARGET)
        label = f"target' from {gts[-1].name}.result" if gts else "target'"
        return z3.ULT(d["b"].target, B32(1 << 31)), label

    own = ob("DEBUGFS-UNSIGNED", "Inv ∧ work ⇒ target' < 2^31 (printed correctly by %8d)", "work",
             on_end=at_end(claim))

    def finish(out, tallies):
        if out.status == "violated":
            from balloonspec.model import debugfs as D
            from balloonspec.model.ops import CONCRETE
            from balloonspec.model.state import Balloon

            fail = tallies[own.key].fail
            var = fail[1].split(" from ")[-1] if fail and " from " in fail[1] else None
            target = (out.counterexample or {}).get(var, 1 << 31) & 0xFFFFFFFF if var else 1 << 31
            b = Balloon(CONCRETE)
            b.target = target if target >= 1 << 31 else 1 << 31
            b.rate_alloc, b.rate_free = C.RATE_ALLOC_MAX, C.RATE_FREE_MAX
            out.detail += f"; with that target model.debugfs.show prints `{D.show(b).splitlines()[0].strip()}`"
        return _confirm("wit-debugfs-signed")(out, tallies)

    return Plan([own] + core(), finish)

# -------------------------------------------------------------------------------------
# loop invariants as their own entries
# -------------------------------------------------------------------------------------

@invariant(
    "INFLATE-LOOP-INV", "the inflate loop invariant",
    "At every boundary between two allocation attempts of vmballoon_inflate: i < goal, i <= rate, "
    f"rate = (alloc_can_sleep or slow) ? rate_alloc : {C.NOSLEEP_ALLOC_MAX}, size = size0 + i - "
    "alloc_can_sleep, n_refused_pages <= 15, LOCKs = pages added + refused, allocations = LOCKs + lost + "
    "alloc_can_sleep, rate_alloc and reset_required unchanged, slow_allocation_cycles = alloc_can_sleep ? 4 : "
    "its entry value.",
    "loop-invariant", "proved",
    c_refs=("for (i = 0; i < goal; i++) {", "} while (locked != 0);"),
    prose="""Proved once for inflate_begin and for one inflate_attempt (one alloc_page with everything up to
    the next allocation) from any state satisfying it, over all 64-bit PFNs, allocation results and host
    replies. It is the lemma behind every per-cycle inflate bound; the 16,385-iteration loop is never
    unrolled.""",
)
def plan_inflate_loop() -> Plan:
    return Plan(loop_lemmas("inflate", "release_refused") + [LISTS, LIST_RI] + core())

@invariant(
    "DEFLATE-LOOP-INV", "the deflate and pop loop invariants",
    "Deflate: i < goal, size = size0 - i, rate_free unchanged, one UNLOCK and one free per iteration; pop: size "
    "- pages constant, one free per iteration.",
    "loop-invariant", "proved",
    c_refs=("if (++i >= goal)", "if (++count >= b->rate_free) {"),
)
def plan_deflate_loop() -> Plan:
    return Plan(loop_lemmas("deflate", "pop") + [LISTS, LIST_RI] + core())


# -------------------------------------------------------------------------------------
# the symbolic page lists
# -------------------------------------------------------------------------------------
@invariant(
    "PAGE-LISTS", "the symbolic page lists are lists",
    "For every list (any length, any pages): list_add of a page not on it then taking the head gives that page "
    "back and the same list; taking the head of a list of n pages gives n - 1 with the rest unchanged and the page "
    "no longer on it; the head, tail and emptiness tests read the positions a list_head list has; and each "
    "operation keeps the representation invariant (listed pages are distinct, a page's position is known) that "
    "every proof's list reads assume.",
    "lemma", "proved",
    c_refs=("list_add(&page->lru, &b->pages);", "list_del(&page->lru);"),
    prose="""The proofs model b->pages and b->refused_pages in order (model/state.py, SymbolicList: an array of
    pages over positions 0..n-1, the head at n-1), so head, tail and the pages between are distinct terms. These
    lemmas are proved once, with quantifiers, for all lists; the proofs of the other entries then only assume
    the representation invariant at the positions they read, quantifier-free.""",
)
def plan_page_lists() -> Plan:
    return Plan([LIST_RI, LISTS])


def plan(inv: Invariant) -> Plan:
    return inv.plan()
