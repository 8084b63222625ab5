"""Z3 arguments that a surviving mutant is equivalent to the seed.

An argument is about one site of the driver (a C function and the text at
the mutated place) and the mutant texts it covers. It states, in C:

* ``facts``: what holds at that site in every run, each with its reason: an
  invariant of the spec's catalogue (``cites``: model/proofs, checked to be
  in the catalogue as proved), a statement of the seed just before the site
  (``source``: checked to be in the function's text), the branch the site
  sits in, or the environment the trace contract fixes;
* ``lemmas``: facts proved here from other facts (an induction over a loop:
  its base and its step are two lemmas), each checked valid by Z3;
* a ``claim`` that Z3 checks under the facts and lemmas:

  - ``truth``: the original and the mutated condition have the same truth
    value (the mutant takes the same branch),
  - ``value``: the two expressions have the same value,
  - ``dead``: the mutated statement is never reached (its guard is false),
  - ``uses``: the value a function returns differs, but every use its
    callers make of it (``uses``, over the value ``v``) gives the same
    outcome for both;
  - ``assign``: ``x = e`` made ``x += e`` or ``x -= e``: the value stored
    (``lhs``: the variable's name in ``decls``; ``rhs``: the right side, an
    opaque ``e`` unless given) is the same, or, with ``uses``, every use of
    the stored value ``v`` gives the same outcome.

A fact with ``zero_init`` (the variable's name; ``source``: its declaration,
without an initialiser) is the build's zero initialisation of automatic
variables: it holds when the driver is compiled with
``-ftrivial-auto-var-init=zero`` (Kbuild's flags, driver/build.py
``driver_flags``, both configurations) and the function's text from the
declaration up to the site (``until``, default the argument's ``original``,
which must occur once) neither names the variable nor enters a loop (the
site runs at most once per call, before anything else writes the variable).

``check(argument)`` runs the Z3 checks and returns the proof text (or the
counterexample). ``z3_decider`` is the survivors' decider (survivors.py): it
finds the argument whose site and mutant text match the mutant's edit,
checks it, and decides ``equivalent`` only when every check holds. A mutant
no argument covers is left undecided. The arguments for the seed are in
``ARGUMENTS``; the refinement checker (issue 8) will decide such mutants
without hand-stated facts.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

import z3

from .cexpr import CExpr
from .operators import Mutant
from .source import SourceText
from .survivors import Decision


@dataclass(frozen=True)
class Fact:
    expr: str  # C expression over the argument's variables
    why: str
    cites: str = ""  # a catalogue invariant id
    source: str = ""  # a statement of the seed that establishes it, in the argument's function
    where: str = ""  # ... or in this function
    zero_init: str = ""  # the variable the build zero-initialises (source: its declaration)
    until: str = ""  # zero_init: the text where the fact is used (default: the argument's original)


@dataclass(frozen=True)
class Lemma:
    claim: str
    given: tuple[str, ...]  # C expressions assumed (besides nothing else)
    why: str


@dataclass(frozen=True)
class Argument:
    id: str
    function: str
    original: str  # the seed's text at the mutated place
    mutated: tuple[str, ...]  # the mutants' texts there
    decls: str
    claim: str  # truth | value | dead | uses
    text: str
    facts: tuple[Fact, ...] = ()
    lemmas: tuple[Lemma, ...] = ()
    guard: str = ""  # dead: the condition under which the mutated statement runs
    uses: tuple[str, ...] = ()  # uses: the callers' uses of the returned value `v`
    callers: tuple[str, ...] = ()  # uses: the caller statements, checked to be in the seed
    when: str = ""  # noop: the only case in which the two conditions differ
    anchor: str = ""  # text of the seed line just before the site, when the site's text is not unique
    lhs: str = ""  # assign: the assigned variable as named in decls
    rhs: str = "e"  # assign: the right side (an opaque value `e` declared in decls, unless given)

    def matches(self, m: Mutant, seed_lines: list[str] | None = None) -> bool:
        if m.function != self.function or self.original not in m.before:
            return False
        if self.anchor:
            prev = next((ln for ln in reversed((seed_lines or [])[:m.line - 1]) if ln.strip()), "")
            if self.anchor not in prev:
                return False
        return any(" ".join(m.before.replace(self.original, t, 1).split()) == m.after for t in self.mutated)


@dataclass
class Checked:
    argument: Argument
    holds: bool
    steps: list[str] = field(default_factory=list)
    failure: str = ""

    def summary(self) -> str:
        return f"{self.argument.id}: {self.argument.text}"


def _defines(seed_text: str) -> dict[str, str]:
    src = SourceText(seed_text)
    return {n: d.value for n, d in src.defines.items() if d.int_value is not None}


def _valid(hyps: list, claim) -> tuple[bool, str]:
    s = z3.Solver()
    s.set("timeout", 20_000)
    s.add(*hyps)
    s.add(z3.Not(claim))
    r = s.check()
    if r == z3.unsat:
        return True, ""
    return False, (f"counterexample: {s.model()}" if r == z3.sat else f"solver: {r}")


def check(arg: Argument, seed_path: Path) -> Checked:
    """Run the argument's checks on the seed."""
    from balloonspec.model.proofs.catalogue import CATALOGUE

    seed_text = Path(seed_path).read_text()
    out = Checked(arg, False)
    cx = CExpr(arg.decls, _defines(seed_text))
    hyps = []
    for f in arg.facts:
        if f.cites:
            inv = CATALOGUE.get(f.cites)
            if inv is None or inv.expected != "proved":
                out.failure = f"fact {f.expr!r} cites {f.cites}, which is not a proved invariant of the catalogue"
                return out
        where = f.where or arg.function
        body = " ".join((_function_text(seed_text, Path(seed_path), where) or "").split())
        if f.source and " ".join(f.source.split()) not in body:
            out.failure = f"fact {f.expr!r} rests on the statement {f.source!r}, not in {where}"
            return out
        if f.zero_init:
            why = _zero_init_failure(f, arg, _code_only(_function_text(seed_text, Path(seed_path), where) or ""))
            if why:
                out.failure = f"fact {f.expr!r}: {why}"
                return out
        hyps.append(cx.truth(f.expr))
        out.steps.append(f"fact {f.expr} ({f.why}{'; ' + f.cites if f.cites else ''})")
    for c in arg.callers:
        if " ".join(c.split()) not in " ".join(seed_text.split()):
            out.failure = f"the caller statement {c!r} is not in the seed"
            return out
    for lm in arg.lemmas:
        ok, why = _valid([cx.truth(g) for g in lm.given], cx.truth(lm.claim))
        if not ok:
            out.failure = f"lemma {lm.claim!r} does not follow from {list(lm.given)}: {why}"
            return out
        hyps.append(cx.truth(lm.claim))
        out.steps.append(f"lemma {lm.claim} ({lm.why}): Z3 valid")
    for mt in arg.mutated:
        if arg.claim == "truth":
            claim = cx.truth(arg.original) == cx.truth(mt)
        elif arg.claim == "value":
            a, b = cx.term(arg.original), cx.term(mt)
            ty = cx.common(a[1], b[1])
            claim = cx.as_int(a, ty) == cx.as_int(b, ty)
        elif arg.claim == "dead":
            claim = z3.Not(cx.truth(arg.guard))
        elif arg.claim == "noop":  # the conditions differ only in the case the lemmas show harmless
            claim = z3.Implies(cx.truth(arg.original) != cx.truth(mt), cx.truth(arg.when))
        elif arg.claim == "uses":
            parts = []
            for use in arg.uses:
                u1 = cx.truth(re.sub(r"\bv\b", f"({_expr_of(arg.original)})", use))
                u2 = cx.truth(re.sub(r"\bv\b", f"({_expr_of(mt)})", use))
                parts.append(u1 == u2)
            claim = z3.And(*parts)
        elif arg.claim == "assign":
            claim = _assign_claim(cx, arg, mt)
        else:
            raise ValueError(f"argument {arg.id}: unknown claim {arg.claim}")
        ok, why = _valid(hyps, claim)
        if not ok:
            out.failure = f"{arg.claim} claim for {mt!r}: {why}"
            return out
        out.steps.append(f"{arg.claim}: {arg.original} ~ {mt}: Z3 valid under the facts")
    out.holds = True
    return out


AUTO_VAR_INIT_ZERO = "-ftrivial-auto-var-init=zero"
_LOOP = re.compile(r"\b(for|while|do)\b")
_ASSIGN = re.compile(r"^(?:for\s*\()?\s*(?P<lhs>[^=]+?)\s*(?P<op>[+\-]?)=(?!=)")


def _code_only(text: str) -> str:
    """A function's text without comments and string literals, whitespace collapsed."""
    from balloonspec.csource.parse import _blank_comments

    return " ".join(re.sub(r'"(?:[^"\\\n]|\\.)*"', '""', _blank_comments(text)).split())


def _zero_init_failure(f: Fact, arg: Argument, body: str) -> str:
    """Why the build's zero initialisation does not give ``f`` at the site ('' if it does)."""
    from balloonspec.driver.build import driver_flags

    if not all(AUTO_VAR_INIT_ZERO in driver_flags(debugfs) for debugfs in (True, False)):
        return f"the build does not zero-initialise automatic variables ({AUTO_VAR_INIT_ZERO} not in its flags)"
    decl, until = " ".join(f.source.split()), " ".join((f.until or arg.original).split())
    if body.count(until) != 1:
        return f"{until!r} does not occur exactly once in {f.where or arg.function}"
    start, end = body.find(decl), body.find(until)
    if start < 0 or "=" in decl or start > end:
        return f"no declaration {decl!r} without initialiser before {until!r}"
    between = body[start + len(decl):end]
    if re.search(rf"\b{re.escape(f.zero_init)}\b", between):
        return f"{f.zero_init} is used or assigned before {until!r}"
    if _LOOP.search(between):
        return f"{until!r} is inside a loop: it may run again after the variable was written"
    return ""


def _assign_claim(cx: CExpr, arg: Argument, mutated: str):
    """``lhs = rhs`` against ``lhs op= rhs``: the stored values (or their uses) agree."""
    m0, m1 = _ASSIGN.match(arg.original), _ASSIGN.match(mutated)
    if not (m0 and m1) or m0.group("op") or m1.group("op") not in ("+", "-") or m0.group("lhs") != m1.group("lhs"):
        raise ValueError(f"argument {arg.id}: {arg.original!r} -> {mutated!r} is not an assignment made compound")
    ty = cx.types[arg.lhs]
    v0 = cx.as_int(cx.term(arg.rhs), ty)
    v1 = cx.as_int(cx.term(f"{arg.lhs} {m1.group('op')} ({arg.rhs})"), ty)
    if not arg.uses:
        return v0 == v1
    if cx.term(arg.rhs)[1] != ty:  # the uses read v as written: no conversion on the store
        raise ValueError(f"argument {arg.id}: uses of an assignment that converts {arg.rhs!r}")
    stored = (f"({arg.rhs})", f"({arg.lhs} {m1.group('op')} ({arg.rhs}))")
    return z3.And(*[cx.truth(re.sub(r"\bv\b", stored[0], u)) == cx.truth(re.sub(r"\bv\b", stored[1], u))
                    for u in arg.uses])


def _expr_of(stmt: str) -> str:
    """``return -EIO;`` -> ``-EIO``."""
    s = stmt.strip().rstrip(";").strip()
    return s[len("return"):].strip() if s.startswith("return") else s


@functools.lru_cache(maxsize=8)
def _tu(seed_path: Path, text: str):
    from balloonspec.csource.parse import parse

    return parse(seed_path)


def _function_text(seed_text: str, seed_path: Path, function: str) -> str | None:
    from .operators import _extent

    tu = _tu(seed_path, seed_text)
    fd = tu.functions.get(function)
    if fd is None:
        return None
    a, b = _extent(tu, fd, SourceText(seed_text))
    return "\n".join(seed_text.split("\n")[a - 1:b])


def z3_decider(mutant: Mutant, mutant_path: Path, seed_path: Path) -> Decision | None:
    """Equivalent when an argument covers the mutant and all its checks hold."""
    from balloonspec import SEED_DRIVER

    if Path(seed_path).read_bytes() != SEED_DRIVER.read_bytes():
        return None  # the arguments rest on the seed's invariants and text
    seed_text = Path(seed_path).read_text()
    lines = seed_text.split("\n")
    for arg in ARGUMENTS:
        if arg.matches(mutant, lines):
            res = check(arg, Path(seed_path))
            if res.holds:
                return Decision("equivalent", "z3", res.summary(), {"argument": arg.id, "steps": res.steps})
            return None
    return None


# -- the seed's equivalent mutants ---------------------------------------------------------------------

_TRUNC = "the 32-bit copy is a truncation of the 64-bit value, so it is never larger: != and > (or <) agree"
_PFN32 = Fact("pfn < 0x100000000UL", "only pages on b->pages are unlocked and a page enters that list only after "
              "a LOCK, which is sent only for a PFN below 2^32", cites="INFLATE-LOOP-INV")


def _zero(var: str, decl: str, where: str = "", until: str = "", name: str = "") -> Fact:
    """``var == 0`` (``name``: the argument's name for it, when the site calls it otherwise)."""
    return Fact(f"{name or var} == 0", f"{where or 'the function'} declares {var} without initialiser and the build "
                f"zero-initialises it ({AUTO_VAR_INIT_ZERO}); nothing writes it before", source=decl,
                zero_init=var, where=where, until=until)


_ZERO = ("the first store into an automatic variable the build zero-initialises (Kbuild's "
         f"{AUTO_VAR_INIT_ZERO}): 0 + e is e")
_ZERO_INIT_ARGUMENTS = [
    Argument("zero-start-status", "vmballoon_send_start", "status = VMWARE_BALLOON_CMD(START,", ("status -= VMWARE_BALLOON_CMD(START,",),
             "unsigned long status; unsigned long e", "assign",
             f"{_ZERO.replace(': 0 + e is e', '')}: status is 0 - e, which is SUCCESS (0) exactly when e is; the "
             "only other use is pr_debug, compiled out",
             facts=(_zero("status", "unsigned long status, dummy;"),), lhs="status",
             uses=("v == VMW_BALLOON_SUCCESS",)),
    Argument("zero-guest-id-status", "vmballoon_send_guest_id", "status = VMWARE_BALLOON_CMD(GUEST_ID,",
             ("status += VMWARE_BALLOON_CMD(GUEST_ID,",), "unsigned long status; unsigned long e", "assign", _ZERO,
             facts=(_zero("status", "unsigned long status, dummy;"),), lhs="status"),
    Argument("zero-limit32", "vmballoon_send_get_target", "limit32 = (u32)limit;", ("limit32 += (u32)limit;",),
             "unsigned int limit32; unsigned long limit", "assign", _ZERO,
             facts=(_zero("limit32", "u32 limit32;"),), lhs="limit32", rhs="(u32)limit"),
    Argument("zero-new-target", "vmballoon_send_get_target", "*new_target = target;", ("*new_target += target;",),
             "unsigned int work_target; unsigned int e", "assign",
             f"{_ZERO}; new_target is &target of vmballoon_work, its only caller, which calls it once per run",
             facts=(_zero("target", "unsigned int target;", "vmballoon_work",
                          "if (vmballoon_send_get_target(b, &target)) {", name="work_target"),),
             callers=("if (vmballoon_send_get_target(b, &target)) {",), lhs="work_target"),
    Argument("zero-lock-pfn32", "vmballoon_send_lock_page", "pfn32 = (u32)pfn;", ("pfn32 += (u32)pfn;",),
             "unsigned int pfn32; unsigned long pfn", "assign", _ZERO,
             facts=(_zero("pfn32", "u32 pfn32;"),), lhs="pfn32", rhs="(u32)pfn"),
    Argument("zero-unlock-pfn32", "vmballoon_send_unlock_page", "pfn32 = (u32)pfn;", ("pfn32 += (u32)pfn;",),
             "unsigned int pfn32; unsigned long pfn", "assign", _ZERO,
             facts=(_zero("pfn32", "u32 pfn32;"),), lhs="pfn32", rhs="(u32)pfn"),
    Argument("zero-inflate-goal", "vmballoon_inflate", "goal = b->target - b->size;",
             ("goal += b->target - b->size;",), "unsigned int goal; unsigned int e", "assign", _ZERO,
             facts=(_zero("goal", "unsigned int goal;"),), lhs="goal"),
    Argument("zero-inflate-rate", "vmballoon_inflate", "rate = b->slow_allocation_cycles ?",
             ("rate += b->slow_allocation_cycles ?",), "unsigned int rate; unsigned int e", "assign", _ZERO,
             facts=(_zero("rate", "unsigned int rate;"),), lhs="rate"),
    Argument("zero-inflate-i", "vmballoon_inflate", "for (i = 0;", ("for (i += 0;", "for (i -= 0;"),
             "unsigned int i", "assign", "the loop's initialisation is the first store into i, which the build "
             f"zero-initialises ({AUTO_VAR_INIT_ZERO}): i + 0 and i - 0 are 0",
             facts=(_zero("i", "unsigned int i;"),), lhs="i", rhs="0"),
    Argument("zero-init-error", "vmballoon_init", "error = vmballoon_debugfs_init(&balloon);",
             ("error += vmballoon_debugfs_init(&balloon);",), "int error; int e", "assign", _ZERO,
             facts=(_zero("error", "int error;"),), lhs="error"),
]

ARGUMENTS: list[Argument] = [
    Argument("trunc-limit", "vmballoon_send_get_target", "limit != limit32", ("limit > limit32",),
             "unsigned long limit; unsigned int limit32", "truth", _TRUNC,
             facts=(Fact("limit32 == (u32)limit", "assigned just before", source="limit32 = (u32)limit;"),)),
    Argument("trunc-lock-pfn", "vmballoon_send_lock_page", "pfn32 != pfn", ("pfn32 < pfn",),
             "unsigned long pfn; unsigned int pfn32", "truth", _TRUNC,
             facts=(Fact("pfn32 == (u32)pfn", "assigned just before", source="pfn32 = (u32)pfn;"),)),
    Argument("trunc-unlock-pfn", "vmballoon_send_unlock_page", "pfn32 != pfn", ("pfn32 < pfn", "pfn32 > pfn", "0"),
             "unsigned long pfn; unsigned int pfn32", "truth",
             "an unlocked page has a 32-bit PFN, so its truncation is itself: the condition is false either way",
             facts=(Fact("pfn32 == (u32)pfn", "assigned just before", source="pfn32 = (u32)pfn;"), _PFN32)),
    Argument("dead-unlock-high-pfn", "vmballoon_send_unlock_page", "return false;", (";", "return true;"),
             "unsigned long pfn; unsigned int pfn32", "dead",
             "the early return for a PFN >= 2^32 is never taken: unlocked pages have 32-bit PFNs",
             facts=(Fact("pfn32 == (u32)pfn", "assigned just before", source="pfn32 = (u32)pfn;"), _PFN32),
             guard="pfn32 != pfn", anchor="if (pfn32 != pfn)"),
    Argument("lock-result-sign", "vmballoon_send_lock_page", "return -1;", ("return -2;",),
             "int v", "uses",
             "the only caller keeps the result in `locked` and tests only locked > 0 and locked != 0",
             uses=("v > 0", "v != 0"),
             callers=("locked = vmballoon_send_lock_page(b, page_to_pfn(page), &hv_status);",
                      "if (locked > 0) {", "} while (locked != 0);")),
    Argument("lock-result-positive", "vmballoon_send_lock_page", "return 1;", ("return 2;",),
             "int v", "uses",
             "the only caller keeps the result in `locked` and tests only locked > 0 and locked != 0",
             uses=("v > 0", "v != 0"),
             callers=("locked = vmballoon_send_lock_page(b, page_to_pfn(page), &hv_status);",
                      "if (locked > 0) {", "} while (locked != 0);")),
    *_ZERO_INIT_ARGUMENTS,
    Argument("reserve-eio", "vmballoon_reserve_page", "return -EIO;", ("return EIO;",),
             "int v", "uses",
             "the only caller keeps the result in `error` and tests only error (nonzero), error != -ENOMEM "
             "and error == 0",
             uses=("v", "v != -ENOMEM", "v == 0"),
             callers=("error = vmballoon_reserve_page(b, alloc_can_sleep);", "if (error) {",
                      "if (error != -ENOMEM) {", "if (error == 0 && i >= b->rate_alloc) {")),
    Argument("release-eio", "vmballoon_release_page", "return -EIO;", ("return EIO;",),
             "int v", "uses", "the only caller keeps the result in `error` and tests only whether it is nonzero",
             uses=("v",), callers=("error = vmballoon_release_page(b, page);", "if (error) {")),
    Argument("pop-count", "vmballoon_pop", "++count >= b->rate_free", ("++count == b->rate_free",),
             "unsigned int count; unsigned int b->rate_free", "truth",
             "count < rate_free before each test (count restarts at 0 when it reaches rate_free, rate_free >= 512 "
             "is not changed by pop), so count + 1 never jumps past rate_free",
             facts=(Fact("b->rate_free >= 512", "RATE-FREE-BOUNDS", cites="RATE-FREE-BOUNDS"),
                    Fact("count < b->rate_free", "loop invariant of pop, by the two lemmas below")),
             lemmas=(Lemma("0 < b->rate_free", ("b->rate_free >= 512",), "base: count = 0 at the first test"),
                     Lemma("((count + 1 >= b->rate_free) ? 0 : count + 1) < b->rate_free",
                           ("count < b->rate_free", "b->rate_free >= 512"),
                           "step: after the test count is 0 or count + 1, still below rate_free"))),
    Argument("refused-count", "vmballoon_reserve_page", "++b->n_refused_pages >= VMW_BALLOON_MAX_REFUSED",
             ("++b->n_refused_pages == VMW_BALLOON_MAX_REFUSED",),
             "unsigned int b->n_refused_pages", "truth",
             "n_refused_pages <= 15 at every allocation attempt, so the increment reaches 16 exactly",
             facts=(Fact("b->n_refused_pages <= 15", "n_refused_pages <= 15 at every attempt boundary",
                         cites="INFLATE-LOOP-INV"),)),
    Argument("inflate-rate-break", "vmballoon_inflate", "i >= rate", ("i == rate",),
             "unsigned int i; unsigned int rate; unsigned int rate0; unsigned int b->rate_alloc", "truth",
             "i <= rate at the test: i <= rate at the start of the iteration (the loop invariant), and within "
             "it rate only drops to rate_alloc after the test i >= rate_alloc failed",
             facts=(Fact("i <= rate0", "the inflate loop invariant i <= rate (rate0: rate when the iteration starts)",
                         cites="INFLATE-LOOP-INV"),
                    Fact("rate == rate0 || (rate == b->rate_alloc && !(i >= b->rate_alloc))",
                         "the only assignment in the loop body follows the failed test",
                         source="if (i >= b->rate_alloc) break; alloc_can_sleep = true; "
                                "/* Lower rate for sleeping allocations. */ rate = b->rate_alloc;")),
             lemmas=(Lemma("i <= rate", ("i <= rate0", "rate == rate0 || (rate == b->rate_alloc && "
                                                       "!(i >= b->rate_alloc))"), "both cases"),)),
    Argument("deflate-goal-break", "vmballoon_deflate", "++i >= goal", ("++i == goal",),
             "unsigned int i; unsigned int goal", "truth",
             "i < goal before each test: the walk stops the first time i + 1 reaches goal",
             facts=(Fact("i < goal", "the deflate loop invariant i < goal", cites="DEFLATE-LOOP-INV"),)),
    Argument("rate-increase-and", "vmballoon_inflate", "error == 0 && i >= b->rate_alloc",
             ("i >= b->rate_alloc && error == 0",),
             "int error; unsigned int i; unsigned int b->rate_alloc", "truth",
             "both operands are comparisons without side effects: && commutes"),
    Argument("work-deflate-test", "vmballoon_work", "b->size > target", ("b->size != target",),
             "unsigned int b->size; unsigned int target", "truth",
             "the test runs only in the else branch of b->size < target, where size >= target",
             facts=(Fact("!(b->size < target)", "the else branch of if (b->size < target)",
                         source="if (b->size < target) vmballoon_inflate(b); else if (b->size > target)"),)),
    Argument("work-inflate-at-target", "vmballoon_work", "b->size < target", ("b->size <= target",),
             "unsigned int b->size; unsigned int target; unsigned int b->rate_alloc; unsigned int b->n_refused_pages",
             "noop",
             "the conditions differ only when size == target, where the mutant calls vmballoon_inflate and that "
             "call has no effect: goal = target - size = 0 (b->target = target just before), so the loop body "
             "never runs, the rate rule needs i = 0 >= rate_alloc >= 512, and release_refused_pages finds the "
             "refused list empty and sets n_refused_pages to the 0 it already is; pr_debug is compiled out",
             facts=(Fact("b->rate_alloc >= 512", "RATE-ALLOC-BOUNDS", cites="RATE-ALLOC-BOUNDS"),
                    Fact("b->n_refused_pages == 0", "the refused list is empty and the count 0 between cycles",
                         cites="REFUSED-EMPTY-AT-END"),
                    Fact("1", "vmballoon_inflate computes its goal from target and size",
                         source="goal = b->target - b->size;", where="vmballoon_inflate"),
                    Fact("1", "... loops while i < goal from i = 0", source="for (i = 0; i < goal; i++) {",
                         where="vmballoon_inflate"),
                    Fact("1", "... raises the rate only when i >= rate_alloc",
                         source="if (error == 0 && i >= b->rate_alloc) {", where="vmballoon_inflate"),
                    Fact("1", "vmballoon_work stores the target before the test", source="b->target = target;")),
             lemmas=(Lemma("!(0 < target - b->size)", ("b->size == target",), "the loop test fails at once"),
                     Lemma("!(0 == 0 && 0 >= b->rate_alloc)", ("b->rate_alloc >= 512",),
                           "the rate rule does not fire with i = 0")),
             when="b->size == target"),
    Argument("not-vmware", "vmballoon_init", "x86_hyper != &x86_hyper_vmware", ("x86_hyper < &x86_hyper_vmware",),
             "void *x86_hyper", "truth",
             "in the trace contract's environment x86_hyper is either &x86_hyper_vmware (a VMware guest) or "
             "NULL (scenario hypervisor none), and an object's address is not NULL",
             facts=(Fact("x86_hyper == 0 || x86_hyper == &x86_hyper_vmware",
                         "specs/trace.md: the scenario's hypervisor is vmware or none"),
                    Fact("&x86_hyper_vmware != 0", "the address of an object"))),
]
