"""Deliberately broken versions of the seed driver: the suite's strength test.

Each mutant is one textual change to the seed (the seed file is never
edited: mutants are written to temporary files) and `shows`, a fragment that
the report of the failing run must contain, so the flag points at the broken
behaviour and not merely at "something differs".
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Mutant:
    id: str
    find: str
    replace: str
    shows: str  # expected in the report of the failing run
    why: str
    equivalent: str = ""  # why no environment can tell it from the seed (the suite must not flag it)

    def apply(self, seed_text: str) -> str:
        if seed_text.count(self.find) != 1:
            raise ValueError(f"mutant {self.id}: its text occurs {seed_text.count(self.find)} times in the seed")
        return seed_text.replace(self.find, self.replace)

    def write(self, seed: Path, directory: Path) -> Path:
        path = directory / f"{self.id}.c"
        path.write_text(self.apply(seed.read_text()))
        return path


MUTANTS = [
    # constants
    Mutant("const-nosleep-max", "NOSLEEP_ALLOC_MAX\t16384U", "NOSLEEP_ALLOC_MAX\t16000U", "LOCK",
           "a smaller NOSLEEP rate: the first full cycle stops early"),
    Mutant("const-rate-alloc-min", "RATE_ALLOC_MIN\t512U", "RATE_ALLOC_MIN\t256U", "rateSleepAlloc",
           "rate_alloc floor lowered"),
    Mutant("const-rate-alloc-inc", "RATE_ALLOC_INC\t16U", "RATE_ALLOC_INC\t32U", "BACKDOOR",
           "rate_alloc grows faster"),
    Mutant("const-rate-free-min", "RATE_FREE_MIN\t512U", "RATE_FREE_MIN\t1024U", "UNLOCK",
           "rate_free floor raised"),
    Mutant("const-rate-free-inc", "RATE_FREE_INC\t16U", "RATE_FREE_INC\t8U", "rateFree",
           "rate_free grows slower"),
    Mutant("const-slow-cycles", "SLOW_CYCLES\t\t4", "SLOW_CYCLES\t\t3", "ALLOC",
           "one slow cycle fewer after memory pressure"),
    Mutant("const-yield", "YIELD_THRESHOLD\t1024", "YIELD_THRESHOLD\t1000", "COND_RESCHED",
           "yields at another point"),
    Mutant("const-max-refused", "MAX_REFUSED\t\t16", "MAX_REFUSED\t\t15", "LOCK",
           "one refused page fewer per cycle"),
    Mutant("const-guest-id", "VMW_BALLOON_GUEST_ID\t\t1\t", "VMW_BALLOON_GUEST_ID\t\t5\t", "GUEST_ID",
           "announces another guest type"),
    Mutant("const-protocol-version", "PROTOCOL_VERSION\t2", "PROTOCOL_VERSION\t3", "START",
           "starts another protocol version"),
    # comparisons
    Mutant("cmp-inflate-rate", "if (i >= rate) {", "if (i > rate) {", "LOCK",
           "one more page per cycle"),
    Mutant("cmp-nosleep-pause", "if (i >= b->rate_alloc)\n\t\t\t\tbreak;", "if (i > b->rate_alloc)\n\t\t\t\tbreak;",
           "ALLOC", "NOSLEEP failure at exactly rate_alloc pages switches to sleeping instead of pausing"),
    Mutant("cmp-yield", "++allocations > VMW_BALLOON_YIELD_THRESHOLD", "++allocations >= VMW_BALLOON_YIELD_THRESHOLD",
           "COND_RESCHED", "yields one allocation early"),
    Mutant("cmp-max-refused", ">= VMW_BALLOON_MAX_REFUSED", "> VMW_BALLOON_MAX_REFUSED", "LOCK",
           "accepts one more refused page"),
    Mutant("cmp-deflate-goal", "if (++i >= goal)", "if (++i > goal)", "UNLOCK",
           "deflates one page too many"),
    Mutant("cmp-work-inflate", "if (b->size < target)", "if (b->size <= target)", "",
           "inflate called when the balloon is at target",
           equivalent="with size == target, vmballoon_inflate has goal 0: the loop body never runs, "
                      "i = 0 < RATE_ALLOC_MIN <= rate_alloc so the rate is unchanged, the refused list is "
                      "already empty, and pr_debug is compiled out: no observable effect"),
    Mutant("cmp-rate-increase", "if (error == 0 && i >= b->rate_alloc)", "if (error == 0 && i > b->rate_alloc)",
           "rateSleepAlloc", "rate_alloc increase threshold moved"),
    # arithmetic
    Mutant("arith-rate-alloc-halve", "max(b->rate_alloc / 2,", "max(b->rate_alloc / 4,", "rateSleepAlloc",
           "rate_alloc quarters instead of halving"),
    Mutant("arith-rate-free-halve", "max(b->rate_free / 2,", "max(b->rate_free / 4,", "UNLOCK",
           "rate_free quarters instead of halving"),
    Mutant("arith-rate-alloc-mult", "b->rate_alloc + mult * VMW_BALLOON_RATE_ALLOC_INC",
           "b->rate_alloc + mult + VMW_BALLOON_RATE_ALLOC_INC", "rateSleepAlloc", "rate_alloc grows by mult + 16"),
    Mutant("arith-inflate-goal", "goal = b->target - b->size;", "goal = b->target - b->size + 1;", "",
           "inflates one page past the target"),
    Mutant("arith-deflate-goal", "goal = min(b->size - b->target, b->rate_free);",
           "goal = min(b->size - b->target - 1, b->rate_free);", "UNLOCK", "deflates one page short"),
    # dropped statements
    Mutant("drop-size-inc", "\t/* update balloon size */\n\tb->size++;", "\t/* update balloon size */", "",
           "size not counted on inflate"),
    Mutant("drop-release-refused", "\t\t__free_page(page);\n\t\tSTATS_INC(b->stats.refused_free);",
           "\t\tSTATS_INC(b->stats.refused_free);", "FREE", "refused pages are unlisted but never freed"),
    Mutant("drop-notneeded-free", "\t\t\t\t__free_page(page);\n\t\t\t\treturn -EIO;", "\t\t\t\treturn -EIO;", "",
           "a page refused with RESET/NOTNEEDED is leaked"),
    Mutant("drop-slow-decrement", "\t\tb->slow_allocation_cycles--;", "\t\t;", "ALLOC",
           "slow cycles never end"),
    Mutant("drop-reset-flag", "\t\tb->reset_required = true;", "\t\t;", "",
           "a RESET status no longer triggers a reset"),
    Mutant("drop-reset-clear", "\t\tb->reset_required = false;", "\t\t;", "START",
           "resets forever after one reset"),
    Mutant("drop-unlock-before-free", "if (!vmballoon_send_unlock_page(b, page_to_pfn(page)))",
           "if (0 && !vmballoon_send_unlock_page(b, page_to_pfn(page)))",
           "FREE", "deflate frees pages without UNLOCK"),
    Mutant("drop-exit-start", "\tvmballoon_send_start(&balloon);\n\tvmballoon_pop(&balloon);", "\tvmballoon_pop(&balloon);",
           "", "exit frees pages without restarting the protocol"),
    Mutant("drop-lock-stat", "\tSTATS_INC(b->stats.lock);\n", "", "lock:", "LOCK not counted in the statistics"),
    Mutant("drop-pop-resched", "\t\t\tcount = 0;\n\t\t\tcond_resched();", "\t\t\tcount = 0;", "COND_RESCHED",
           "pop never yields"),
    # swapped branches and wrong fields
    Mutant("swap-alloc-flags", "can_sleep ? VMW_PAGE_ALLOC_CANSLEEP : VMW_PAGE_ALLOC_NOSLEEP",
           "can_sleep ? VMW_PAGE_ALLOC_NOSLEEP : VMW_PAGE_ALLOC_CANSLEEP", "gfp=", "allocation flags swapped"),
    Mutant("swap-inflate-deflate", "\t\t\tvmballoon_inflate(b);\n\t\telse if (b->size > target)\n\t\t\tvmballoon_deflate(b);",
           "\t\t\tvmballoon_deflate(b);\n\t\telse if (b->size > target)\n\t\t\tvmballoon_inflate(b);", "",
           "inflate and deflate swapped"),
    Mutant("swap-notneeded-status", "hv_status == VMW_BALLOON_ERROR_PPN_NOTNEEDED",
           "hv_status == VMW_BALLOON_ERROR_PPN_PINNED", "", "the wrong refusal stops the cycle"),
    Mutant("wrong-sysinfo-field", "limit = b->sysinfo.totalram;", "limit = b->sysinfo.freeram;", "GET_TARGET",
           "GET_TARGET sends free instead of total RAM"),
    Mutant("wrong-requeue-delay", "round_jiffies_relative(HZ)", "round_jiffies_relative(2 * HZ)", "QUEUE_WORK",
           "work cycle every two seconds"),
    Mutant("wrong-debugfs-format", '"target:             %8d pages\\n"', '"target:             %8u pages\\n"',
           "target:", "debugfs prints a target above INT_MAX unsigned"),
    Mutant("wrong-debugfs-label", '"errFree:            %8u\\n"', '"errFree:           %8u\\n"', "errFree",
           "debugfs label misaligned"),
]
