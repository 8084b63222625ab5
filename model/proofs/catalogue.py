"""The invariant catalogue: every property of the seed driver we prove or refute.

Each `Invariant` has an id, a precise statement, the method, the expected
outcome on the seed (`proved`, or `violated` for a documented finding, with
the witness scenario of model/proofs/witnesses.py), the C lines it is about,
and a check function `check(spec) -> Outcome`.

Methods:
* ``inductive``: Init ⇒ Inv (the model's `init`), Inv ∧ work ⇒ Inv' (the
  model's `work`, one whole cycle, for every host reply and allocator result
  the policy allows), and the environment's own moves between cycles
  (`host_reset`) keep Inv. Loops inside the cycle are loop summaries whose
  invariants are proved by the ``loop-invariant`` entries (listed as
  obligations).
* ``loop-invariant``: the loop invariant holds on entry (the model's begin
  function) and is preserved by one call of the model's step function; the
  claim follows at exit.
* ``counterexample``: the property is refuted: the solver finds a step that
  breaks it (its values are the counterexample), and the witness scenario,
  replayed in the model's concrete predictor, shows it reachable from init.
* ``derived``: arithmetic over proved bounds (stated in the detail).

A violated property is checked the same way as a proved one; the outcome is
`violated` when an obligation fails; the witness replay then confirms it is
reachable (else the outcome is `unknown`: a counterexample to induction that
no scenario reaches proves nothing).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import z3

from . import harness as H
from .cref import C, cite
from .framework import DEFAULT_SPEC, Obligations, Outcome, Spec, satisfiable, timed, valid
from .harness import B32, B64, FITS32, between

# -------------------------------------------------------------------------------------
# the catalogue's data
# -------------------------------------------------------------------------------------


@dataclass
class Invariant:
    id: str
    title: str
    statement: str
    method: str  # inductive | loop-invariant | counterexample | derived | bounded k=N
    expected: str  # proved | violated
    c_refs: tuple[str, ...]
    check: Callable[[Spec], Outcome]
    witness: str | None = None  # witness scenario id (violations)
    prose: str = ""  # the reviewer's explanation (specs/invariants.md)
    finding: str | None = None  # findings.md section id

    def cite(self) -> str:
        return cite(*self.c_refs) if self.c_refs else ""


CATALOGUE: dict[str, Invariant] = {}


def invariant(id: str, title: str, statement: str, method: str, expected: str, c_refs=(), witness=None,
              prose: str = "", finding=None):
    def deco(fn: Callable[[Spec], Outcome]):
        CATALOGUE[id] = Invariant(id, title, " ".join(statement.split()), method, expected, tuple(c_refs), fn,
                                  witness, " ".join(prose.split()), finding)
        return fn

    return deco


# -------------------------------------------------------------------------------------
# shared obligations
# -------------------------------------------------------------------------------------
def _lemma_inflate_loop(ob: Obligations, spec: Spec, alloc="any", host="any") -> None:
    """inflate_inv holds on entry and is preserved by one inflate_attempt."""
    if ob.failed is not None:
        return
    for p in H.inflate_init_paths(spec):
        r = p.result
        b, lv, e = r["b"], r["lv"], r["e"]
        # on entry: i = 0, no refused page, nothing locked yet, ghosts 0
        lv.can_sleep = lv.can_sleep if not isinstance(lv.can_sleep, bool) else z3.BoolVal(lv.can_sleep)
        g = H.InflateGhost(B64(0), B64(0), B64(0))
        pend, AL, NL = z3.Bool("pending"), z3.Bool("AL"), z3.Bool("NL")
        inv = H.inflate_inv(e, b, lv, g, pend, pend, AL, AL, NL, NL)
        if host == "benign" and alloc == "benign":
            inv = z3.And(inv, H.benign_inflate_inv(b, lv, g))
        if not ob.valid("inflate loop invariant holds at inflate_begin", inv, p.literals):
            return
    for p in H.inflate_step_paths(spec, alloc=alloc, host=host):
        r = p.result
        if r["done"]:
            continue
        b, lv, env, e, g = r["b"], r["lv"], r["env"], r["e"], r["g"]
        d = {k: env.counts[k] for k in ("lock", "alloc")}
        g2 = H.InflateGhost(g.locks + d["lock"], g.allocs + d["alloc"], g.lost + r["n_lost"])
        inv = H.inflate_inv(e, b, lv, g2, r["pre"]["pending"], env.pending, r["pre"]["AL"], env.all_locked,
                            r["pre"]["NL"], env.none_locked)
        if host == "benign" and alloc == "benign":
            inv = z3.And(inv, H.benign_inflate_inv(b, lv, g2))
        # the ghost range on `lost` is a modelling bound, not a property: keep it
        hyp = [z3.ULE(g.lost, B64((1 << 40) - 1))]
        if not ob.valid("inflate_attempt preserves the loop invariant", inv, p.literals + hyp):
            return
    for p in H.inflate_step_paths(spec, alloc=alloc, host=host):
        # PAGES-PFN-32: a page enters the balloon list only with a PFN < 2^32
        # (the deflate and pop summaries rely on it)
        if not ob.valid("pages entering the balloon list have 32-bit PFNs",
                        z3.And(*[FITS32(pfn) for pfn in p.result["b"].pages]), p.literals):
            return
        # with an allocator of 32-bit PFNs no page is ever lost (lost == 0 stays
        # invariant; CYCLE-ALLOC-BOUND-LOW-PFN relies on it)
        if alloc in ("low", "benign") and not ob.valid("no page is lost when PFNs fit 32 bits",
                                                       z3.BoolVal(p.result["n_lost"] == 0), p.literals):
            return
    ob.done[:] = [d for d in ob.done if "inflate" not in d or "path" in d] + [
        "LEMMA inflate loop invariant: init + preservation over inflate_attempt"]


def _lemma_deflate_loop(ob: Obligations, spec: Spec) -> None:
    """Deflate loop invariant: i < goal, size = size0 - i, rate_free unchanged;
    preserved by one deflate_release that does not end the walk."""
    if ob.failed is not None:
        return
    for p in H.deflate_step_paths(spec):
        r = p.result
        if r["done"]:
            continue
        b, dl = r["b"], r["dl"]
        env = r["env"]
        inv = z3.And(z3.ULT(dl.i, dl.goal), z3.ULE(dl.i, r["size0"] - b.target), b.size == r["size0"] - dl.i,
                     b.rate_free == r["rf0"], dl.i == r["di"] + 1, r["n_pages"] == 0,
                     # the host's state is what it was when the walk began
                     env.pending == r["pre"]["pending"], z3.Implies(r["pre"]["AL"], env.all_locked),
                     env.none_locked == z3.Bool("NL0"),
                     # the page freed is the head just unlocked, once
                     z3.BoolVal([c[1] for c in env.calls if c[0] == "free"] == [] or
                                (len([c for c in env.calls if c[0] == "free"]) == 1 and
                                 z3.eq([c[1] for c in env.calls if c[0] == "free"][0], z3.BitVec("d.head", 64)))))
        if not ob.valid("deflate_release preserves the deflate loop invariant", inv, p.literals):
            return
    ob.done.append("LEMMA deflate loop invariant: preservation over deflate_release")


def _lemma_pop_loop(ob: Obligations, spec: Spec) -> None:
    if ob.failed is not None:
        return
    for p in H.pop_step_paths(spec):
        r = p.result
        b = r["b"]
        frees = [c[1] for c in r["env"].calls if c[0] == "free"]
        inv = z3.And(b.size == r["n"] - 1, z3.BoolVal(len(b.pages) == 0), b.stats.free == r["free0"] + 1,
                     z3.BoolVal(len(frees) == 1 and z3.eq(frees[0], z3.BitVec("pop.head", 64))))
        if not ob.valid("pop_one: size and the list shrink by one, one free", inv, p.literals):
            return
    ob.done.append("LEMMA pop loop invariant: size - pages constant, one free per pop_one")


def _init_obligation(ob: Obligations, spec: Spec, claim: Callable, name: str, host: str = "any") -> None:
    if ob.failed is not None:
        return
    for p in H.init_paths(spec, host=host):
        r = p.result
        if r["rc"] != 0:
            continue
        env = r["env"]
        if not ob.valid(f"Init ⇒ {name}", claim(r["b"], env), p.literals):
            return


_COMBINED: dict = {}


def _cycle_inv_holds(spec: Spec, host: str, alloc: str, n: int, p) -> bool:
    """Is the whole state part of the cycle invariant (rates, slow cycles,
    refused pages, size == pages) valid on path n? Computed once per path and
    shared by the invariants it implies; a path where it is not valid falls
    back to checking the invariant's own claim (and its counterexample)."""
    key = (spec.key, host, alloc, n)
    if key not in _COMBINED:
        r = p.result
        b, env = r["b"], r["env"]
        claim = z3.And(H.rate_bounds(b), b.n_refused_pages == 0, z3.BoolVal(len(b.refused_pages) == 0),
                       b.size == env.npages())
        _COMBINED[key] = bool(valid(claim, p.literals).ok)
    return _COMBINED[key]


def _cycle_obligation(ob: Obligations, spec: Spec, claim: Callable, name: str, host="any", alloc="any",
                      fixed_target=False, extra_hyps: Callable | None = None, implied_by_cycle_inv=False) -> None:
    if ob.failed is not None:
        return
    paths = H.cycle_paths(spec, host=host, alloc=alloc, fixed_target=fixed_target)
    for n, p in enumerate(paths):
        r = p.result
        if implied_by_cycle_inv and not fixed_target and _cycle_inv_holds(spec, host, alloc, n, p):
            ob.done.append(f"Inv ∧ work ⇒ {name} [path {n + 1}]")
            continue
        hyps = p.literals + (extra_hyps(r) if extra_hyps else [])
        if not ob.valid(f"Inv ∧ work ⇒ {name} [path {n + 1}]", claim(r), hyps):
            return
    ob.done[:] = [d for d in ob.done if not d.startswith(f"Inv ∧ work ⇒ {name} [path")] + [
        f"Inv ∧ work ⇒ {name} ({len(paths)} paths, host {host}, allocator {alloc})"]


def _host_reset_obligation(ob: Obligations, host: str) -> None:
    """The environment's move between cycles: the host forgets the guest."""
    if ob.failed is not None:
        return
    np, rr, pend, AL, NL = z3.BitVec("np", 32), z3.Bool("rr"), z3.Bool("pending"), z3.Bool("AL"), z3.Bool("NL")
    pre = H.proto_inv(rr, pend, AL, NL, np, host)
    post = H.proto_inv(rr, z3.BoolVal(True), np == 0, z3.BoolVal(True), np, host)
    ob.valid("Inv ∧ host_reset ⇒ Inv'", post, [pre])


def _inductive(spec: Spec, name: str, state_claim: Callable, host="any", alloc="any") -> Outcome:
    """Init ⇒ P, Inv ∧ work ⇒ P' (P part of the cycle invariant), with the loop lemmas."""
    ob = Obligations()
    _lemma_inflate_loop(ob, spec)
    _lemma_deflate_loop(ob, spec)
    _lemma_pop_loop(ob, spec)
    _init_obligation(ob, spec, lambda b, env: state_claim(b, env), name, host)
    _cycle_obligation(ob, spec, lambda r: state_claim(r["b"], r["env"]), name, host, alloc, implied_by_cycle_inv=True)
    return ob.outcome()


def _confirm_witness(out: Outcome, witness: str) -> Outcome:
    """A violation is reported only when the witness replays in the model."""
    if out.status != "violated":
        return out
    from .witnesses import replay_in_model

    seen, _ = replay_in_model(witness)
    if seen is None:
        return Outcome("unknown", out.detail + f"; but witness {witness} does not show it in the model's predictor",
                       out.counterexample, out.obligations)
    out.detail += f"; reachable: witness {witness} replayed in model.predict shows: {seen}"
    return out


def _inflate_exit_paths(spec: Spec, alloc="any", host="any"):
    """(path, result) of inflate_attempt steps that end the loop (then
    inflate_end and release_refused_pages have run)."""
    return [p for p in H.inflate_step_paths(spec, alloc=alloc, host=host) if p.result["done"]]


def _exit_obligation(ob: Obligations, spec: Spec, name: str, claim: Callable, alloc="any", host="any",
                     hyps: Callable | None = None) -> None:
    if ob.failed is not None:
        return
    paths = _inflate_exit_paths(spec, alloc, host)
    for n, p in enumerate(paths):
        r = p.result
        h = p.literals + (hyps(r) if hyps else [])
        if not ob.valid(f"{name} at the inflate loop's exit [path {n + 1}]", claim(r), h):
            return
    ob.done[:] = [d for d in ob.done if not d.startswith(f"{name} at the inflate loop's exit [path")] + [
        f"{name} at the inflate loop's exit ({len(paths)} exit paths of inflate_attempt, allocator {alloc})"]


def _locks_total(r):
    return r["g"].locks + r["env"].counts["lock"]


def _allocs_total(r):
    return r["g"].allocs + r["env"].counts["alloc"]


def _oks_total(r):
    """Pages added to the balloon by this inflate (size - size0)."""
    return r["b"].size - r["e"].size0


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
def check_rate_alloc(spec: Spec) -> Outcome:
    return _inductive(spec, "RATE-ALLOC-BOUNDS",
                      lambda b, env: between(b.rate_alloc, C.RATE_ALLOC_MIN, C.RATE_ALLOC_MAX))


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
def check_rate_free(spec: Spec) -> Outcome:
    return _inductive(spec, "RATE-FREE-BOUNDS",
                      lambda b, env: between(b.rate_free, C.RATE_FREE_MIN, C.RATE_FREE_MAX))


@invariant(
    "SLOW-CYCLES-BOUND", "slow_allocation_cycles <= 4",
    f"After init and after every work cycle, slow_allocation_cycles <= VMW_BALLOON_SLOW_CYCLES = {C.SLOW_CYCLES}.",
    "inductive", "proved",
    c_refs=("b->slow_allocation_cycles = VMW_BALLOON_SLOW_CYCLES;", "b->slow_allocation_cycles--;"),
    prose="Set to 4 on a NOSLEEP allocation failure, decremented once per cycle while positive.",
)
def check_slow(spec: Spec) -> Outcome:
    return _inductive(spec, "SLOW-CYCLES-BOUND", lambda b, env: z3.ULE(b.slow_allocation_cycles, B32(C.SLOW_CYCLES)))


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
def check_refused(spec: Spec) -> Outcome:
    ob = Obligations()
    _lemma_inflate_loop(ob, spec)
    for p in H.inflate_step_paths(spec):
        r = p.result
        nref = r["nref_step"]
        claim = z3.And(z3.ULE(nref, B32(C.MAX_REFUSED)),
                       nref == r["pre"]["nref"] + r["n_refused_list"])
        if not ob.valid("n_refused_pages <= MAX_REFUSED after an attempt", claim, p.literals):
            break
    return ob.outcome()


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
def check_refused_empty(spec: Spec) -> Outcome:
    ob = Obligations()
    for p in H.release_refused_runs(spec):
        r = p.result
        frees = [c[1] for c in r["env"].calls if c[0] == "free"]
        ok = (len(frees) == r["L"] and all(z3.eq(a, b) for a, b in zip(frees, reversed(r["pfns"]))))
        claim = z3.And(z3.BoolVal(ok), r["b"].n_refused_pages == 0, z3.BoolVal(len(r["b"].refused_pages) == 0))
        if not ob.valid(f"release_refused_pages on {r['L']} refused pages frees each once, empties the list", claim,
                        p.literals):
            return ob.outcome()
    ob.done[:] = [d for d in ob.done if "release_refused" not in d] + [
        "release_refused_pages on refused lists of length 0..16: each page freed once, list empty, count 0"]
    out = _inductive(spec, "REFUSED-EMPTY-AT-END",
                     lambda b, env: z3.And(b.n_refused_pages == 0, z3.BoolVal(len(b.refused_pages) == 0)))
    out.obligations = ob.done + out.obligations
    return out


# -------------------------------------------------------------------------------------
# per-cycle bounds
# -------------------------------------------------------------------------------------
LOCK_BOUND = C.NOSLEEP_ALLOC_MAX + C.MAX_REFUSED  # 16400


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
def check_lock_bound(spec: Spec) -> Outcome:
    ob = Obligations()
    _lemma_inflate_loop(ob, spec)
    _exit_obligation(ob, spec, "LOCKs <= 16400", lambda r: z3.ULE(_locks_total(r), B64(LOCK_BOUND)))
    _cycle_obligation(ob, spec, lambda r: z3.BoolVal(
        r["env"].counts["lock"] == (r["record"].get("inflate", {}).get("counts1", {}).get("lock", 0)
                                    - r["record"].get("inflate", {}).get("counts0", {}).get("lock", 0))),
        "no LOCK outside the inflate loop")
    out = ob.outcome()
    if out.status == "proved":
        paths = _inflate_exit_paths(spec)
        attained = any(satisfiable(_locks_total(p.result) == B64(LOCK_BOUND), p.literals).ok for p in paths)
        out.detail = f"bound {LOCK_BOUND} is {'attained' if attained else 'NOT attained (not tight)'}"
    return out


@invariant(
    "CYCLE-LOCKED-PAGES-EXACT", "a cycle adds at most rate + 1 pages",
    f"A work cycle adds at most rate + 1 pages to the balloon, where rate is the cycle's initial rate "
    f"(rate_alloc if slow_allocation_cycles > 0, else {C.NOSLEEP_ALLOC_MAX}): at most {C.NOSLEEP_ALLOC_MAX + 1} "
    f"pages, because the `i >= rate` check comes after the allocation of iteration i.",
    "loop-invariant", "proved",
    c_refs=("rate = b->slow_allocation_cycles ?", "if (i >= rate) {"),
)
def check_locked_exact(spec: Spec) -> Outcome:
    ob = Obligations()
    _lemma_inflate_loop(ob, spec)
    _exit_obligation(
        ob, spec, "pages added <= rate0 + 1",
        lambda r: z3.ULE(_oks_total(r),
                         z3.If(r["e"].slow0 != 0, r["e"].ra0, B32(C.NOSLEEP_ALLOC_MAX)) + 1))
    return ob.outcome()


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
def check_nosleep_rate(spec: Spec) -> Outcome:
    ob = Obligations()
    _lemma_inflate_loop(ob, spec)
    _exit_obligation(ob, spec, f"pages added <= {C.NOSLEEP_ALLOC_MAX}",
                     lambda r: z3.ULE(_oks_total(r), B32(C.NOSLEEP_ALLOC_MAX)))
    return _confirm_witness(ob.outcome(), "wit-nosleep-plus-one")


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
def check_alloc_bound(spec: Spec) -> Outcome:
    ob = Obligations()
    _lemma_inflate_loop(ob, spec)
    _exit_obligation(ob, spec, f"alloc_page calls <= {LOCK_BOUND}",
                     lambda r: z3.ULE(_allocs_total(r), B64(LOCK_BOUND)))
    return _confirm_witness(ob.outcome(), "wit-high-pfn-unbounded")


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
def check_alloc_bound_low(spec: Spec) -> Outcome:
    ob = Obligations()
    _lemma_inflate_loop(ob, spec, alloc="low")
    _exit_obligation(ob, spec, f"alloc_page calls <= {LOCK_BOUND}",
                     lambda r: z3.ULE(_allocs_total(r), B64(LOCK_BOUND)), alloc="low",
                     hyps=lambda r: [r["g"].lost == 0])
    return ob.outcome()


@invariant(
    "CYCLE-UNLOCK-BOUND", "at most rate_free UNLOCKs per cycle",
    f"Every work cycle sends at most rate_free <= {C.RATE_FREE_MAX} UNLOCK commands and frees at most that "
    f"many balloon pages through deflate.",
    "loop-invariant", "proved",
    c_refs=("goal = min(b->size - b->target, b->rate_free);", "if (++i >= goal)"),
)
def check_unlock_bound(spec: Spec) -> Outcome:
    ob = Obligations()
    _lemma_deflate_loop(ob, spec)
    for p in H.deflate_step_paths(spec):
        r = p.result
        if not r["done"]:
            continue
        unlocks = r["di"] + r["env"].counts["unlock"]
        if not ob.valid("UNLOCKs <= goal <= rate_free at the deflate walk's exit",
                        z3.And(z3.ULE(unlocks, r["dl"].goal), z3.ULE(r["dl"].goal, r["rf0"]),
                               z3.ULE(r["rf0"], B32(C.RATE_FREE_MAX))), p.literals):
            break
    _cycle_obligation(ob, spec, lambda r: z3.BoolVal(
        r["env"].counts["unlock"] == (r["record"].get("deflate", {}).get("counts1", {}).get("unlock", 0)
                                      - r["record"].get("deflate", {}).get("counts0", {}).get("unlock", 0))),
        "no UNLOCK outside the deflate walk")
    return ob.outcome()


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
def check_stats_lock(spec: Spec) -> Outcome:
    ob = Obligations()
    for p in H.inflate_step_paths(spec):
        r = p.result
        d_lock = r["env"].counts["lock"]
        # stats.lock of the symbolic balloon is "b.stats.lock"; after one attempt
        claim = r["b"].stats.lock == z3.BitVec("b.stats.lock", 32) + d_lock
        if not ob.valid("stats.lock += LOCK calls in one inflate_attempt", claim, p.literals):
            break
    if ob.failed is None:
        ob.done.append(f"with CYCLE-LOCK-BOUND: <= {LOCK_BOUND} per cycle")
    return ob.outcome()


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
def check_overshoot(spec: Spec) -> Outcome:
    ob = Obligations()
    _lemma_inflate_loop(ob, spec)
    _lemma_deflate_loop(ob, spec)

    def claim(r):
        rec, b = r["record"], r["b"]
        parts = []
        if "inflate" in rec:
            e = rec["inflate"]["entry"]
            parts.append(z3.And(z3.ULE(e.size0, b.size), z3.ULE(b.size, b.target)))
        if "deflate" in rec:
            parts.append(z3.And(z3.ULE(b.target, b.size), z3.ULE(b.size, rec["deflate"]["size0"])))
        return z3.And(*parts) if parts else z3.BoolVal(True)

    _cycle_obligation(ob, spec, claim, "no overshoot")
    return ob.outcome()


@invariant(
    "TARGET-FAITHFUL", "the target adopted is the host's reply",
    "Whenever GET_TARGET succeeds, the driver's target becomes exactly the 32-bit value the host put in ebx.",
    "inductive", "proved",
    c_refs=("*new_target = target;",),
    prose="""Candidate finding refuted: `*new_target = target` truncates the unsigned long result to u32,
    but the backdoor's result register is 32-bit (specs/trace.md; model/environment.py masks host replies to
    32 bits), so nothing is lost. Only a host writing bits 63..32 of rbx would be truncated.""",
)
def check_target(spec: Spec) -> Outcome:
    ob = Obligations()

    def claim(r):
        gts = [c for c in r["env"].calls if c[0] == "backdoor" and c[1] == C.CMD_GET_TARGET]
        if not gts:
            return z3.BoolVal(True)
        st, res = gts[-1][3], gts[-1][4]
        return z3.Implies(st == 0, z3.ZeroExt(32, r["b"].target) == res)

    _cycle_obligation(ob, spec, claim, "target' == GET_TARGET result")
    return ob.outcome()


# -------------------------------------------------------------------------------------
# memory
# -------------------------------------------------------------------------------------
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
def check_mem(spec: Spec) -> Outcome:
    return _confirm_witness(_mem(spec, "any"), "wit-high-pfn-leak")


@invariant(
    "MEM-CONSERVATION-LOW-PFN", "conservation holds when PFNs fit 32 bits",
    "If the allocator only returns PFNs < 2^32: every page returned by alloc_page is put on exactly one of "
    "the balloon list or the refused list, or freed at once; size == pages in the balloon after every cycle.",
    "inductive", "proved",
    c_refs=("list_add(&page->lru, &b->pages);", "list_add(&page->lru, &b->refused_pages);", "__free_page(page);"),
)
def check_mem_low(spec: Spec) -> Outcome:
    return _mem(spec, "low")


def _mem(spec: Spec, alloc: str) -> Outcome:
    ob = Obligations()
    for p in H.inflate_step_paths(spec, alloc=alloc):
        r = p.result
        env = r["env"]
        allocs = [c for c in env.calls if c[0] == "alloc"]
        got = allocs[0][2] if allocs else z3.BoolVal(False)  # one alloc_page per attempt
        frees_now = sum(1 for c in env.calls if c[0] == "free" and any(z3.eq(c[1], a[3]) for a in allocs))
        # where the attempt's page went: the balloon list, the refused list (on exit paths the
        # refused list was released: its pages are among the frees), freed at once, or lost
        refused = 0 if r["done"] else r["n_refused_list"]
        placed = r["n_pages"] + refused + frees_now + r["n_lost"]
        lost_ok = r["n_lost"] == 0
        claim = z3.And(z3.If(got, B32(1), B32(0)) == B32(placed), z3.BoolVal(lost_ok))
        if not ob.valid("each page alloc_page returns is listed once or freed (none lost)", claim, p.literals):
            return ob.outcome()
    ob.done[:] = [d for d in ob.done if "alloc_page returns" not in d] + [
        f"each page alloc_page returns is listed once or freed (inflate_attempt, allocator {alloc})"]
    out = _inductive(spec, "size == pages", lambda b, env: b.size == env.npages())
    out.obligations = ob.done + out.obligations
    return out


@invariant(
    "EXIT-RELEASES", "after module exit the driver holds no balloon page",
    "After vmballoon_exit the balloon list and the refused list are empty and size == 0.",
    "inductive", "proved",
    c_refs=("vmballoon_pop(&balloon);",),
    prose="Leaked pages (MEM-CONSERVATION) are not on any list and so are not covered by this property.",
)
def check_exit_releases(spec: Spec) -> Outcome:
    ob = Obligations()
    _lemma_pop_loop(ob, spec)
    for p in H.exit_paths(spec):
        r = p.result
        b, env = r["b"], r["env"]
        if not ob.valid("exit empties the balloon",
                        z3.And(env.npages() == 0, b.size == 0, z3.BoolVal(len(b.refused_pages) == 0)), p.literals):
            break
    return ob.outcome()


# -------------------------------------------------------------------------------------
# protocol safety
# -------------------------------------------------------------------------------------
def _claims(ob: Obligations, paths, names: tuple[str, ...], label: str, hyps: Callable | None = None) -> None:
    if ob.failed is not None:
        return
    for n, p in enumerate(paths):
        r = p.result
        cl = [f for nm, f in r["env"].claims if nm in names]
        if not cl:
            continue
        h = p.literals + (hyps(r) if hyps else [])
        if not ob.valid(f"{label} [path {n + 1}]", z3.And(*cl), h):
            return
    ob.done[:] = [d for d in ob.done if not d.startswith(f"{label} [path")] + [f"{label} ({len(paths)} paths)"]


def _proto_inductive(ob: Obligations, spec: Spec, host: str, alloc: str = "any") -> None:
    """The protocol part of the cycle invariant is inductive (used by the protocol properties)."""
    _lemma_inflate_loop(ob, spec, host=host)
    _lemma_deflate_loop(ob, spec)
    _init_obligation(ob, spec, lambda b, env: H.proto_inv(b.reset_required, env.pending, env.all_locked,
                                                          env.none_locked, env.npages(), host), "proto-inv", host)
    _cycle_obligation(ob, spec, lambda r: H.proto_inv(r["b"].reset_required, r["env"].pending, r["env"].all_locked,
                                                      r["env"].none_locked, r["env"].npages(), host),
                      "proto-inv", host=host, alloc=alloc)
    _host_reset_obligation(ob, host)


@invariant(
    "PROTO-NO-DOUBLE-LOCK", "LOCK only names the page just allocated",
    "Every LOCK command names the page alloc_page returned immediately before it; so, with an allocator "
    "that never hands out a page the guest has not got back, no page the host holds locked is LOCKed again.",
    "loop-invariant", "proved",
    c_refs=("locked = vmballoon_send_lock_page(b, page_to_pfn(page), &hv_status);",),
)
def check_double_lock(spec: Spec) -> Outcome:
    ob = Obligations()
    _claims(ob, H.inflate_step_paths(spec), ("PROTO-NO-DOUBLE-LOCK",), "LOCK names the page just allocated")
    _claims(ob, H.cycle_paths(spec), ("PROTO-NO-DOUBLE-LOCK",), "LOCK names the page just allocated (cycle)")
    return ob.outcome()


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
def check_unlock_locked(spec: Spec) -> Outcome:
    ob = Obligations()
    _proto_inductive(ob, spec, "consistent")
    _claims(ob, H.deflate_step_paths(spec), ("PROTO-UNLOCK-LOCKED",), "UNLOCK names the head page",
            hyps=lambda r: [r["pre"]["AL"]])
    _claims(ob, H.cycle_paths(spec, host="consistent"), ("PROTO-UNLOCK-LOCKED",), "UNLOCK while the host holds all pages")
    return ob.outcome()


@invariant(
    "PROTO-RESET-RESTART", "no LOCK/UNLOCK between a RESET and a successful START",
    "For every host: after a reply ERROR_RESET, the driver sends no LOCK or UNLOCK until a START succeeds.",
    "counterexample", "violated", witness="wit-reset-start-fails", finding="F-RESET-START-FAILS",
    c_refs=("if (vmballoon_send_start(b)) {", "if (vmballoon_send_get_target(b, &target)) {"),
    prose="""Refuted: when vmballoon_reset's START fails, reset_required stays set but vmballoon_work still
    sends GET_TARGET and, if the host answers it with success, inflates (LOCK). The driver relies on the host
    to keep refusing; PROTO-RESET-RESTART-CONSISTENT proves the property for such a host.""",
)
def check_reset_restart(spec: Spec) -> Outcome:
    ob = Obligations()
    _claims(ob, H.cycle_paths(spec), ("PROTO-RESET-RESTART",), "no LOCK/UNLOCK while a reset is pending")
    if ob.failed is None:
        _proto_inductive(ob, spec, "any")
    return _confirm_witness(ob.outcome(), "wit-reset-start-fails")


@invariant(
    "PROTO-RESET-RESTART-CONSISTENT", "no LOCK/UNLOCK during a reset, with a consistent host",
    "With a consistent host (while it waits for START it answers every other command ERROR_RESET), the driver "
    "sends no LOCK or UNLOCK between a RESET reply and a successful START.",
    "inductive", "proved",
    c_refs=("if (b->reset_required)",),
)
def check_reset_restart_consistent(spec: Spec) -> Outcome:
    ob = Obligations()
    _proto_inductive(ob, spec, "consistent")
    _claims(ob, H.cycle_paths(spec, host="consistent"), ("PROTO-RESET-RESTART",),
            "no LOCK/UNLOCK while a reset is pending")
    return ob.outcome()


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
def check_reset_handling(spec: Spec) -> Outcome:
    ob = Obligations()

    def claim(r):
        calls = [c for c in r["env"].calls if c[0] == "backdoor"]
        if not calls:
            return z3.Not(r["pre"].reset_required)
        first = calls[0]
        return z3.Implies(r["pre"].reset_required, z3.And(z3.BoolVal(first[1] == C.CMD_START), first[5] == 0))

    _cycle_obligation(ob, spec, claim, "reset_required ⇒ first call START on an empty balloon")

    def noticed(r):
        # an ERROR_RESET reply to GET_TARGET/LOCK/UNLOCK/GUEST_ID (all passed
        # through vmballoon_check_status) leaves reset_required set at the end
        # of the cycle, so the next cycle resets
        resets = [c[3] == C.ERROR_RESET for c in r["env"].calls if c[0] == "backdoor" and c[1] != C.CMD_START]
        return z3.Implies(z3.Or(*resets), r["b"].reset_required) if resets else z3.BoolVal(True)

    _cycle_obligation(ob, spec, noticed, "a RESET reply leaves reset_required set")
    return ob.outcome()


@invariant(
    "MEM-NO-FREE-LOCKED", "no page is freed while the host holds it locked (work cycle)",
    "With a consistent host, no work cycle gives a page back to the guest while the host holds it locked: "
    "refused pages were never locked, deflate frees a page only after its UNLOCK succeeded, and the pop of a "
    "reset frees pages the host has already forgotten.",
    "inductive", "proved",
    c_refs=("__free_page(page);", "vmballoon_pop(b);"),
)
def check_no_free_locked(spec: Spec) -> Outcome:
    ob = Obligations()
    _proto_inductive(ob, spec, "consistent")
    _claims(ob, H.inflate_step_paths(spec, host="consistent"), ("MEM-NO-FREE-LOCKED",), "frees in inflate")
    _claims(ob, H.deflate_step_paths(spec, host="consistent"), ("MEM-NO-FREE-LOCKED",), "frees in deflate")
    _claims(ob, H.cycle_paths(spec, host="consistent"), ("MEM-NO-FREE-LOCKED",), "frees in a work cycle")
    return ob.outcome()


@invariant(
    "MEM-NO-FREE-LOCKED-EXIT", "module exit frees no page the host holds locked",
    "Even with a consistent host, vmballoon_exit gives no page back to the guest while the host holds it locked.",
    "counterexample", "violated", witness="wit-exit-start-fails", finding="F-EXIT-START",
    c_refs=("vmballoon_send_start(&balloon);", "vmballoon_pop(&balloon);"),
    prose="""Refuted: exit ignores START's result; if START fails (e.g. ERROR_BUSY) the host still holds the
    balloon's pages locked when vmballoon_pop frees them.""",
)
def check_no_free_locked_exit(spec: Spec) -> Outcome:
    ob = Obligations()
    _claims(ob, H.exit_paths(spec, host="consistent"), ("MEM-NO-FREE-LOCKED",), "frees in module exit")
    return _confirm_witness(ob.outcome(), "wit-exit-start-fails")


# -------------------------------------------------------------------------------------
# progress
# -------------------------------------------------------------------------------------
def _ceil_div(a32, d: int):
    a = z3.ZeroExt(32, a32)
    return z3.UDiv(a + (d - 1), B64(d))


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
def check_progress_inflate(spec: Spec) -> Outcome:
    ob = Obligations()
    _lemma_inflate_loop(ob, spec, alloc="benign", host="benign")

    # the inflate loop's exit under benign inputs: the pages added are exactly min(goal, rate0 + 1)
    def exit_claim(r):
        e = r["e"]
        rate0 = z3.If(e.slow0 != 0, e.ra0, B32(C.NOSLEEP_ALLOC_MAX))
        goal = e.target - e.size0
        return _oks_total(r) == z3.If(z3.ULT(goal, rate0 + 1), goal, rate0 + 1)

    _exit_obligation(ob, spec, "benign: pages added == min(goal, rate0 + 1)", exit_claim, alloc="benign",
                     host="benign")

    def claim(r):
        pre, b, T = r["pre"], r["b"], r["T"]
        slow1 = z3.If(z3.UGT(pre.slow_allocation_cycles, B32(0)), pre.slow_allocation_cycles - 1, B32(0))
        step = z3.If(slow1 != 0, pre.rate_alloc + 1, B32(C.NOSLEEP_ALLOC_MAX + 1))
        return z3.And(
            z3.Implies(z3.ULT(pre.size, T),
                       z3.And(z3.ULE(b.size, T), z3.Or(b.size == T, z3.UGE(b.size - pre.size, step)),
                              b.slow_allocation_cycles == slow1,
                              z3.UGE(b.rate_alloc, pre.rate_alloc))),
            z3.Implies(pre.size == T, b.size == T),
            z3.Not(b.reset_required))

    _cycle_obligation(ob, spec, claim, "a cycle reaches T or adds >= rate + 1 pages; slow cycles count down",
                      host="benign", alloc="benign", fixed_target=True)

    # the induction step of the bound, for every n: if n fast cycles suffice
    # (T - size <= n * 16385) then n - 1 suffice after this one
    step = C.NOSLEEP_ALLOC_MAX + 1

    def n_cycles(r):
        pre, b, T = r["pre"], r["b"], r["T"]
        n = z3.BitVec("n", 64)
        slow1 = z3.If(z3.UGT(pre.slow_allocation_cycles, B32(0)), pre.slow_allocation_cycles - 1, B32(0))
        d, d1 = z3.ZeroExt(32, T - pre.size), z3.ZeroExt(32, T - b.size)
        return z3.Implies(z3.And(z3.ULT(pre.size, T), slow1 == 0, z3.UGE(n, B64(1)), z3.ULE(n, B64(1 << 20)),
                                 z3.ULE(d, n * step)),
                          z3.And(z3.ULE(b.size, T), z3.ULE(d1, (n - 1) * step)))

    _cycle_obligation(ob, spec, n_cycles, f"for all n: T - size <= n*{step} ⇒ T - size' <= (n-1)*{step}",
                      host="benign", alloc="benign", fixed_target=True)
    out = ob.outcome()
    if out.status == "proved":
        out.detail = (f"both induction steps proved: slow cycles count down (each adds >= {C.RATE_ALLOC_MIN + 1} "
                      f"pages or reaches T), and once none remain, 'n cycles suffice' becomes 'n - 1 suffice' "
                      f"for every n; hence max(s - 1, 0) + ceil((T - S) / {step}) cycles")
    return out


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
def check_progress_deflate(spec: Spec) -> Outcome:
    ob = Obligations()
    _lemma_deflate_loop(ob, spec)

    def claim(r):
        pre, b, T = r["pre"], r["b"], r["T"]
        return z3.And(
            z3.Implies(z3.UGT(pre.size, T),
                       z3.And(z3.UGE(b.size, T), z3.Or(b.size == T, z3.UGE(pre.size - b.size, pre.rate_free)),
                              z3.UGE(b.rate_free, pre.rate_free))),
            z3.Implies(pre.size == T, b.size == T))

    _cycle_obligation(ob, spec, claim, "a cycle reaches T or frees >= rate_free pages; rate_free does not drop",
                      host="benign", alloc="benign", fixed_target=True)

    # the induction step of the bound, for every n and every r0 <= rate_free:
    # if n cycles at r0 suffice before the cycle, n - 1 suffice after it
    # (M stands for n * r0, which keeps the formula linear: M - r0 = (n - 1) * r0)
    def n_cycles(r):
        pre, b, T = r["pre"], r["b"], r["T"]
        M, r0 = z3.BitVec("M", 64), z3.BitVec("r0", 64)
        d, d1 = z3.ZeroExt(32, pre.size - T), z3.ZeroExt(32, b.size - T)
        return z3.Implies(z3.And(z3.UGT(pre.size, T), z3.ULE(M, B64(1 << 40)), z3.ULE(r0, M),
                                 z3.ULE(B64(C.RATE_FREE_MIN), r0), z3.ULE(r0, z3.ZeroExt(32, pre.rate_free)),
                                 z3.ULE(d, M)),
                          z3.And(z3.UGE(b.size, T), z3.ULE(r0, z3.ZeroExt(32, b.rate_free)), z3.ULE(d1, M - r0)))

    _cycle_obligation(ob, spec, n_cycles, "for all n, r0 <= rate_free: size - T <= n*r0 ⇒ size' - T <= (n-1)*r0",
                      host="benign", alloc="benign", fixed_target=True)
    out = ob.outcome()
    if out.status == "proved":
        out.detail = ("both proved: a cycle reaches T or frees >= rate_free pages without lowering rate_free, and "
                      "for every n and r0 <= rate_free, 'n cycles at r0 suffice' becomes 'n - 1 suffice'; "
                      "hence ceil((S - T) / rate_free0) cycles")
    return out


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
def check_deflate_refusal(spec: Spec) -> Outcome:
    ob = Obligations()
    for n, p in enumerate(H.deflate_step_paths(spec)):
        r = p.result
        unl = [c for c in r["env"].calls if c[0] == "backdoor" and c[1] == C.CMD_UNLOCK]
        if not unl:
            continue
        st = unl[0][3]
        # refused (not a reset): the walk must go on to another page
        claim = z3.Implies(z3.And(st != 0, st != C.ERROR_RESET), z3.BoolVal(not r["done"]))
        if not ob.valid(f"a refused UNLOCK does not end the walk [path {n + 1}]", claim, p.literals):
            break
    return _confirm_witness(ob.outcome(), "wit-unlock-head-blocks")


@invariant(
    "PROGRESS-INFLATE-BIG-GUEST", "progress for any memory size",
    "With a benign host and allocator, the balloon reaches its target whatever the guest's totalram "
    "(including >= 2^32 pages, 16 TiB).",
    "counterexample", "violated", witness="wit-totalram-4g", finding="F-TOTALRAM",
    c_refs=("if (limit != limit32)", "STATS_INC(b->stats.target);"),
    prose="""Refuted: with totalram >= 2^32 pages vmballoon_send_get_target returns false before any backdoor
    call, every cycle, without a message or a failure count; the balloon never moves.""",
)
def check_big_guest(spec: Spec) -> Outcome:
    ob = Obligations()
    for n, p in enumerate(H.cycle_paths(spec)):
        r = p.result
        env = r["env"]
        tr = [c[1] for c in env.calls if c[0] == "si_meminfo"]
        gts = [c for c in env.calls if c[0] == "backdoor" and c[1] == C.CMD_GET_TARGET]
        if not tr:
            continue
        # every backdoor reply succeeds (benign host), but totalram is unconstrained
        hyps = ([c[3] == 0 for c in env.calls if c[0] == "backdoor"] + [z3.Not(r["pre"].reset_required)]
                + [z3.And(c[2], FITS32(c[3])) for c in env.calls if c[0] == "alloc"])
        claim = z3.BoolVal(len(gts) == 1)  # the cycle asks the host for the target
        if not ob.valid(f"a benign cycle asks for the target [path {n + 1}]", claim, p.literals + hyps):
            break
    return _confirm_witness(ob.outcome(), "wit-totalram-4g")


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
def check_rate_no_raise(spec: Spec) -> Outcome:
    ob = Obligations()
    for n, p in enumerate(_inflate_exit_paths(spec)):
        r = p.result
        failed = z3.Or(r["lv"].can_sleep, *[z3.Not(c[2]) for c in r["env"].calls if c[0] == "alloc"])
        claim = z3.Implies(failed, z3.ULE(r["b"].rate_alloc, r["e"].ra0))
        if not ob.valid(f"no rate_alloc increase after a failed allocation [exit path {n + 1}]", claim, p.literals):
            break
    return _confirm_witness(ob.outcome(), "wit-rate-up-after-failure")


@invariant(
    "DEBUGFS-UNSIGNED", "debugfs prints the unsigned fields as their values",
    "The debugfs file shows target, current size and the rates as the unsigned values the driver holds.",
    "counterexample", "violated", witness="wit-debugfs-signed", finding="F-DEBUGFS-SIGNED",
    c_refs=('"target:             %8d pages',),
    prose="""Refuted: the five lines use %8d for unsigned int members; the target comes straight from the
    host (any 32-bit value), so a target >= 2^31 prints negative. Rates are bounded (RATE-*-BOUNDS) and
    print correctly; size would need 2^31 ballooned pages.""",
)
def check_debugfs(spec: Spec) -> Outcome:
    ob = Obligations()
    for n, p in enumerate(H.cycle_paths(spec)):
        r = p.result
        if not ob.valid(f"target' < 2^31 [path {n + 1}]", z3.ULT(r["b"].target, B32(1 << 31)), p.literals):
            break
    out = ob.outcome()
    if out.status == "violated":
        from balloonspec.model import debugfs as D
        from balloonspec.model.ops import CONCRETE
        from balloonspec.model.state import Balloon

        target = 1 << 31
        for p in H.cycle_paths(spec):
            s = z3.Solver()
            s.add(*p.literals, z3.UGE(p.result["b"].target, B32(1 << 31)))
            if s.check() == z3.sat:
                target = s.model().eval(p.result["b"].target, model_completion=True).as_long()
                break
        b = Balloon(CONCRETE)
        b.target = target
        b.rate_alloc, b.rate_free = C.RATE_ALLOC_MAX, C.RATE_FREE_MAX
        line = D.show(b).splitlines()[0]
        out.detail += f"; with that target model.debugfs.show prints `{line.strip()}`"
    return _confirm_witness(out, "wit-debugfs-signed")


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
def check_inflate_loop(spec: Spec) -> Outcome:
    ob = Obligations()
    _lemma_inflate_loop(ob, spec)
    return ob.outcome()


@invariant(
    "DEFLATE-LOOP-INV", "the deflate and pop loop invariants",
    "Deflate: i < goal, size = size0 - i, rate_free unchanged, one UNLOCK and one free per iteration; pop: size "
    "- pages constant, one free per iteration.",
    "loop-invariant", "proved",
    c_refs=("if (++i >= goal)", "if (++count >= b->rate_free) {"),
)
def check_deflate_loop(spec: Spec) -> Outcome:
    ob = Obligations()
    _lemma_deflate_loop(ob, spec)
    _lemma_pop_loop(ob, spec)
    return ob.outcome()


def run_check(inv: Invariant, spec: Spec = DEFAULT_SPEC) -> Outcome:
    return timed(lambda: inv.check(spec))
