"""Defects of the seed driver whose effect shows only after two or more work
cycles: test inputs for the refinement checker (`balloonspec refine`).

Each defect is a small edit a kernel developer might plausibly write (the
seed itself is never edited: like tests/patches.py, a defect is applied to
the seed's text and written to a temporary file). None duplicates a mutant of
tests/mutants.py or a difference between the published versions. Its effect
depends on state one work cycle leaves to a later one (rates, slow cycles,
the refused-page counter, the reset flag, the size, the order of the page
list, a counter), so no scenario with a single work cycle tells it from the
seed: the shortest witness needs FIRST_CYCLE[id] work cycles.

WITNESS[id] is a hand-written scenario on which the compiled defect's trace
differs from the spec's prediction, independently of the refinement search.
"""
from __future__ import annotations

from balloonspec.model import constants as C
from balloonspec.model.scenario import AllocRule, HostRule, Scenario, steps

from patches import Patch

NOSLEEP, CANSLEEP = C.VMW_PAGE_ALLOC_NOSLEEP, C.VMW_PAGE_ALLOC_CANSLEEP
LOCK, UNLOCK, GET_TARGET = C.VMW_BALLOON_CMD_LOCK, C.VMW_BALLOON_CMD_UNLOCK, C.VMW_BALLOON_CMD_GET_TARGET
START, GUEST_ID = C.VMW_BALLOON_CMD_START, C.VMW_BALLOON_CMD_GUEST_ID
RESET, PINNED, NOTNEEDED = C.VMW_BALLOON_ERROR_RESET, C.VMW_BALLOON_ERROR_PPN_PINNED, C.VMW_BALLOON_ERROR_PPN_NOTNEEDED
UNLOCKED, INVALID = C.VMW_BALLOON_ERROR_PPN_UNLOCKED, C.VMW_BALLOON_ERROR_CMD_INVALID
HIGH_TOTALRAM = 1 << 32  # si_meminfo's total does not fit 32 bits: the cycle sends no GET_TARGET

DEFECTS: list[Patch] = []
WITNESS: dict[str, Scenario] = {}
FIRST_CYCLE: dict[str, int] = {}  # the first work cycle (counted from 1) after which any scenario can show it


def defect(id: str, edits, why: str, first_cycle: int, witness: Scenario) -> None:
    DEFECTS.append(Patch(id, tuple(edits), why))
    WITNESS[id] = witness.with_(id=f"defect-{id}")
    FIRST_CYCLE[id] = first_cycle


# A deflate needs a balloon an earlier cycle inflated (the size starts at 0):
# every witness of a deflate defect inflates in cycle 1 and deflates in cycle 2.
def _deflate_after_inflate(pages: int, *rules: HostRule, extra=()) -> Scenario:
    return Scenario("w", steps("init", "cycle", ("set_target", 0), "cycle", *extra, "debugfs", "exit"),
                    target=pages, host_rules=rules)


defect(
    "rate-free-back-to-max",
    [("\t/* slowly increase rate if there were no errors */\n"
      "\tb->rate_free = min(b->rate_free + VMW_BALLOON_RATE_FREE_INC,\n"
      "\t\t\t   VMW_BALLOON_RATE_FREE_MAX);\n",
      "\t/* no errors: release at full speed again */\n"
      "\tb->rate_free = VMW_BALLOON_RATE_FREE_MAX;\n")],
    "a developer restores the full release rate after a clean deflate instead of raising it by "
    "RATE_FREE_INC. rate_free starts at its maximum, so the two agree until a refused UNLOCK has halved it "
    "in one deflate (cycle 2 at the earliest: a deflate needs pages an earlier cycle locked) and a later "
    "deflate succeeds (cycle 3): rateFree reads 16384 instead of 8208.",
    3,
    Scenario("w", steps("init", "cycle", ("set_target", 0), "cycle", "cycle", "debugfs", "exit"), target=40,
             host_rules=(HostRule(UNLOCK, UNLOCKED, nth=1),)),
)

defect(
    "deflate-error-break",
    [("\t\t\tb->rate_free = max(b->rate_free / 2,\n"
      "\t\t\t\t\t   VMW_BALLOON_RATE_FREE_MIN);\n"
      "\t\t\treturn;\n",
      "\t\t\tb->rate_free = max(b->rate_free / 2,\n"
      "\t\t\t\t\t   VMW_BALLOON_RATE_FREE_MIN);\n"
      "\t\t\tbreak;\n")],
    "a refused UNLOCK leaves the loop with `break` instead of `return` (one exit for the loop), so the "
    "halved rate_free then also gets the success increase: 8192 + 16. A deflate needs pages locked by an "
    "earlier cycle, so the first refused UNLOCK is in cycle 2 (seen in debugfs after it, or in the goal "
    "of the next deflate).",
    2,
    _deflate_after_inflate(40, HostRule(UNLOCK, UNLOCKED, nth=1)),
)

defect(
    "rate-free-halves-rate-alloc",
    [("\t\t\tb->rate_free = max(b->rate_free / 2,\n",
      "\t\t\tb->rate_free = max(b->rate_alloc / 2,\n")],
    "copy-paste from the inflate path: a refused UNLOCK sets rate_free from half of rate_alloc (1024) "
    "instead of half of rate_free (8192). Only a deflate refused by the host shows it, and a deflate needs "
    "pages an earlier cycle locked: cycle 2 at the earliest.",
    2,
    _deflate_after_inflate(40, HostRule(UNLOCK, UNLOCKED, nth=1)),
)

defect(
    "deflate-oldest-first",
    [("\tlist_for_each_entry_safe(page, next, &b->pages, lru) {\n"
      "\t\terror = vmballoon_release_page(b, page);\n",
      "\tlist_for_each_entry_safe_reverse(page, next, &b->pages, lru) {\n"
      "\t\terror = vmballoon_release_page(b, page);\n")],
    "deflate walks the balloon from its tail, releasing the oldest pages first (to give back the pages "
    "locked longest), where the seed releases the newest. The list is built by earlier cycles' inflates, "
    "so the first deflate, in cycle 2 at the earliest, UNLOCKs other PFNs (or the same in another order) "
    "whenever the balloon holds more than one page.",
    2,
    Scenario("w", steps("init", "cycle", ("set_target", 1), "cycle", "exit"), target=3),
)

defect(
    "release-size-before-unlock",
    [("\tif (!vmballoon_send_unlock_page(b, page_to_pfn(page)))\n\t\treturn -EIO;\n",
      "\tb->size--;\n\n\tif (!vmballoon_send_unlock_page(b, page_to_pfn(page)))\n\t\treturn -EIO;\n"),
     ("\n\t/* update balloon size */\n\tb->size--;\n", "\n")],
    "the size is decremented on entry to vmballoon_release_page, before the UNLOCK that may be refused: a "
    "page the host refuses to unlock stays in the balloon but is no longer counted. Only a deflate with a "
    "refused UNLOCK shows it (cycle 2 at the earliest: the current size in debugfs, or the goal of every "
    "later cycle).",
    2,
    _deflate_after_inflate(40, HostRule(UNLOCK, UNLOCKED, nth=3)),
)

defect(
    "refused-count-kept",
    [("\n\tb->n_refused_pages = 0;\n}\n", "\n}\n")],
    "the refused-page counter is no longer reset when the refused pages are freed (the list is empty, so "
    "the count looks redundant): each cycle starts with the previous cycles' count, and after 16 refused "
    "pages over the module's life every cycle stops at its first refused LOCK. Cycle 1 starts from 0 like "
    "the seed; cycle 2 is the first to stop early.",
    2,
    Scenario("w", steps("init", "cycle", ("set_target", 60), "cycle", "debugfs", "exit"), target=30,
             host_rules=(HostRule(LOCK, PINNED, nth=1, count=10, scope=1),
                         HostRule(LOCK, PINNED, nth=1, count=10, scope=3))),
)

defect(
    "slow-cycles-accumulate",
    [("\t\t\tb->slow_allocation_cycles = VMW_BALLOON_SLOW_CYCLES;\n",
      "\t\t\tb->slow_allocation_cycles += VMW_BALLOON_SLOW_CYCLES;\n")],
    "repeated memory pressure extends the slowdown instead of restarting it: a failed NOSLEEP allocation "
    "adds SLOW_CYCLES. A cycle sets it at most once (after the first NOSLEEP failure it allocates with "
    "sleeping or stops), so one cycle cannot tell: the seed's slowdown ends SLOW_CYCLES cycles after the "
    "last failure, the defect's later. With NOSLEEP failures in cycles 1 and 2 the seed allocates at the "
    "full NOSLEEP rate again in cycle 6, the defect still at rate_alloc.",
    6,
    Scenario("w", steps("init", ("cycle", 6), "debugfs", "exit"), target=30000,
             alloc_rules=(AllocRule(NOSLEEP, nth=2, scope=1), AllocRule(NOSLEEP, nth=2, scope=2))),
)

defect(
    "slow-cycles-count-only-with-target",
    [("\tif (b->slow_allocation_cycles > 0)\n"
      "\t\tb->slow_allocation_cycles--;\n"
      "\n"
      "\tif (vmballoon_send_get_target(b, &target)) {\n",
      "\tif (vmballoon_send_get_target(b, &target)) {\n"
      "\t\tif (b->slow_allocation_cycles > 0)\n"
      "\t\t\tb->slow_allocation_cycles--;\n"
      "\n")],
    "the slowdown is counted down only in cycles where the host answered GET_TARGET (moved inside the "
    "branch, 'a cycle without a target is not a cycle'). It needs a NOSLEEP failure in one cycle, a failed "
    "GET_TARGET in a later one, and an inflate after the seed's slowdown ended: cycle 5 at the earliest.",
    5,
    Scenario("w", steps("init", ("cycle", 5), "debugfs", "exit"), target=30000,
             host_rules=(HostRule(GET_TARGET, INVALID, nth=1, scope=2),),
             alloc_rules=(AllocRule(NOSLEEP, nth=2, scope=1),)),
)

defect(
    "reset-forgets-slowdown",
    [("\t/* free all pages, skipping monitor unlock */\n\tvmballoon_pop(b);\n",
      "\t/* free all pages, skipping monitor unlock */\n\tvmballoon_pop(b);\n"
      "\tb->slow_allocation_cycles = 0;\n")],
    "a reset is taken as a fresh start and also ends the allocation slowdown. It needs a NOSLEEP failure "
    "and a RESET status in one cycle, then the reset at the start of a later one, which inflates: cycle 2 "
    "at the earliest (the seed inflates at rate_alloc, the defect at the NOSLEEP rate).",
    2,
    Scenario("w", steps("init", "cycle", "cycle", "debugfs", "exit"), target=30000,
             host_rules=(HostRule(LOCK, RESET, nth=100, scope=1),),
             alloc_rules=(AllocRule(NOSLEEP, nth=2, scope=1),)),
)

defect(
    "rate-alloc-step-ignores-mult",
    [("\t\tunsigned int mult = i / b->rate_alloc;\n"
      "\n"
      "\t\tb->rate_alloc =\n"
      "\t\t\tmin(b->rate_alloc + mult * VMW_BALLOON_RATE_ALLOC_INC,\n",
      "\t\tb->rate_alloc =\n"
      "\t\t\tmin(b->rate_alloc + VMW_BALLOON_RATE_ALLOC_INC,\n")],
    "rate_alloc grows by one RATE_ALLOC_INC per successful cycle, whatever the number of pages allocated. "
    "rate_alloc starts at its maximum, so only after a failed CANSLEEP allocation halved it (which needs a "
    "NOSLEEP failure first, starting SLOW_CYCLES cycles at rate_alloc, where mult is 1) and the slowdown "
    "ended does an inflate allocate several rate_alloc pages: cycle 5.",
    5,
    Scenario("w", steps("init", ("cycle", 5), "debugfs", "exit"), target=12000,
             alloc_rules=(AllocRule(NOSLEEP, nth=1, scope=1), AllocRule(CANSLEEP, nth=2, scope=1))),
)

defect(
    "target-kept-when-reached",
    [("\t\tb->target = target;\n", "\t\tif (b->size != target)\n\t\t\tb->target = target;\n")],
    "the target is stored only when the balloon must move ('nothing to do otherwise'). A cycle that "
    "finds the balloon exactly at the host's new target keeps the previous target in b->target, which "
    "debugfs prints. From init (target 0, size 0) the first cycle stores or agrees; the stale value needs "
    "an earlier cycle that stopped short of its target: cycle 2.",
    2,
    Scenario("w", steps("init", "cycle", ("set_target", 5), "cycle", "debugfs", "exit"), target=20,
             host_rules=(HostRule(LOCK, NOTNEEDED, nth=6, scope=1),)),
)

defect(
    "yield-counter-static",
    [("\tunsigned int allocations = 0;\n", "\tstatic unsigned int allocations;\n")],
    "the allocation counter that paces cond_resched() is made static (to keep the yield cadence across "
    "calls), so it is no longer reset per inflate: a cycle yields after the allocations left over from "
    "earlier cycles. The first inflate starts from 0 like the seed; cycle 2 yields early.",
    2,
    Scenario("w", steps("init", "cycle", ("set_target", 1400), "cycle", "exit"), target=700),
)

defect(
    "reset-flag-cleared-before-start",
    [("\tif (vmballoon_send_start(b)) {\n"
      "\t\tb->reset_required = false;\n",
      "\tb->reset_required = false;\n"
      "\tif (vmballoon_send_start(b)) {\n")],
    "the reset flag is cleared as soon as the reset is attempted, even when START fails, so the seed's "
    "retry next cycle is lost. It needs a RESET status (cycle 1), a reset whose START fails (cycle 2, "
    "without a later RESET status in that cycle) and the retry the seed makes: cycle 3.",
    3,
    Scenario("w", steps("init", "cycle", ("set_totalram", HIGH_TOTALRAM), "cycle", ("set_totalram", 262144),
                        "cycle", "debugfs", "exit"), target=10,
             host_rules=(HostRule(LOCK, RESET, nth=3, scope=1), HostRule(START, INVALID, nth=1, scope=3))),
)

defect(
    "reset-done-needs-guest-id",
    [("\t\tb->reset_required = false;\n"
      "\t\tif (!vmballoon_send_guest_id(b))\n"
      "\t\t\tpr_err(\"failed to send guest ID to the host\\n\");\n",
      "\t\tif (vmballoon_send_guest_id(b))\n"
      "\t\t\tb->reset_required = false;\n"
      "\t\telse\n"
      "\t\t\tpr_err(\"failed to send guest ID to the host\\n\");\n")],
    "a reset counts as done only when the host also took the guest ID, so a failed GUEST_ID after a good "
    "START makes the next cycle reset again (free the whole balloon, START). It needs a RESET status "
    "(cycle 1), a reset with a failing GUEST_ID (cycle 2) and the next cycle: cycle 3.",
    3,
    Scenario("w", steps("init", "cycle", "cycle", "cycle", "debugfs", "exit"), target=10,
             host_rules=(HostRule(LOCK, RESET, nth=3, scope=1), HostRule(GUEST_ID, INVALID, nth=1, scope=2))),
)

defect(
    "pop-keeps-size",
    [("\t\tSTATS_INC(b->stats.free);\n\t\tb->size--;\n\n\t\tif (++count >= b->rate_free) {\n",
      "\t\tSTATS_INC(b->stats.free);\n\n\t\tif (++count >= b->rate_free) {\n")],
    "vmballoon_pop frees every page but leaves b->size alone (it is thought to matter only at exit). The "
    "size is wrong after a reset, which happens at the start of a cycle after the one that saw the RESET "
    "status, with pages locked by an earlier cycle: cycle 2, which then inflates too little.",
    2,
    Scenario("w", steps("init", "cycle", "cycle", "debugfs", "exit"), target=10,
             host_rules=(HostRule(LOCK, RESET, nth=3, scope=1),)),
)

defect(
    "pop-uncounted-free",
    [("\t\t__free_page(page);\n\t\tSTATS_INC(b->stats.free);\n\t\tb->size--;\n",
      "\t\t__free_page(page);\n\t\tb->size--;\n")],
    "pages dropped by vmballoon_pop are not counted in primFree ('the host already forgot them'). At exit "
    "nothing can read the counter any more; a reset pops the pages locked by earlier cycles at the start "
    "of a later cycle: debugfs after cycle 2 at the earliest.",
    2,
    Scenario("w", steps("init", "cycle", "cycle", "debugfs", "exit"), target=10,
             host_rules=(HostRule(LOCK, RESET, nth=3, scope=1),)),
)

defect(
    "slow-cycles-not-extended",
    [("\t\t\tb->slow_allocation_cycles = VMW_BALLOON_SLOW_CYCLES;\n",
      "\t\t\tif (!b->slow_allocation_cycles)\n"
      "\t\t\t\tb->slow_allocation_cycles = VMW_BALLOON_SLOW_CYCLES;\n")],
    "a NOSLEEP failure during a slowdown no longer restarts it ('we are already slowing down'). A cycle "
    "sets the count at most once and the first failure finds it at 0, so it needs failures in two cycles "
    "(1 and 2): the defect allocates at the full NOSLEEP rate again in cycle 5, the seed in cycle 6.",
    5,
    Scenario("w", steps("init", ("cycle", 5), "debugfs", "exit"), target=30000,
             alloc_rules=(AllocRule(NOSLEEP, nth=2, scope=1), AllocRule(NOSLEEP, nth=2, scope=2))),
)

defect(
    "rate-alloc-mult-over-rate",
    [("\t\tunsigned int mult = i / b->rate_alloc;\n", "\t\tunsigned int mult = i / rate;\n")],
    "the rate increase divides by the loop's local `rate` instead of b->rate_alloc. They are equal while "
    "allocations sleep or are slowed down, and while rate_alloc is at its maximum the result is clamped "
    "anyway; they differ in a fast (NOSLEEP-rate) cycle after a failed CANSLEEP allocation halved "
    "rate_alloc, which first comes when the slowdown that failure started has ended: cycle 5.",
    5,
    Scenario("w", steps("init", ("cycle", 5), "debugfs", "exit"), target=12000,
             alloc_rules=(AllocRule(NOSLEEP, nth=1, scope=1), AllocRule(CANSLEEP, nth=2, scope=1))),
)

defect(
    "reset-restores-rates",
    [("\t/* free all pages, skipping monitor unlock */\n\tvmballoon_pop(b);\n",
      "\t/* free all pages, skipping monitor unlock */\n\tvmballoon_pop(b);\n"
      "\n\t/* start over as at load time */\n"
      "\tb->rate_alloc = VMW_BALLOON_RATE_ALLOC_MAX;\n"
      "\tb->rate_free = VMW_BALLOON_RATE_FREE_MAX;\n")],
    "a reset starts the rates over as init does. Both start at their maximum, so it shows only when an "
    "earlier cycle lowered one and a later reset restores it: a failed CANSLEEP allocation (cycle 1; it "
    "ends the inflate, so the RESET status comes in cycle 2) and the reset in cycle 3, whose inflate, still "
    "slowed down, allocates rate_alloc pages: 2048 instead of 1024.",
    3,
    Scenario("w", steps("init", "cycle", "host_reset", "cycle", "cycle", "debugfs", "exit"), target=12000,
             alloc_rules=(AllocRule(NOSLEEP, nth=1, scope=1), AllocRule(CANSLEEP, nth=2, scope=1))),
)
