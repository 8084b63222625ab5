"""Behaviour-preserving refactorings of the seed driver, as a kernel
developer would write them: ``balloonspec refine`` must prove each one
equivalent to the spec (and the shipped vectors must pass on each).

Like tests/mutants.py and tests/patches.py, each is a patch applied to the
seed's text and written to a temporary file; the seed itself is never edited.
"""
from __future__ import annotations

from patches import Patch

# (a) Renamed locals: inflate's loop counter, goal, rate, yield counter and
# sleep flag, deflate's counter and goal, pop's counter. No C local keeps the
# name of the spec variable it holds.
RENAMED_LOCALS = Patch(
    "refactor-renamed-locals",
    (
        # vmballoon_inflate
        ("\tunsigned int goal;\n\tunsigned int rate;\n\tunsigned int i;\n\tunsigned int allocations = 0;\n"
         "\tint error = 0;\n\tbool alloc_can_sleep = false;\n",
         "\tunsigned int want;\n\tunsigned int budget;\n\tunsigned int done;\n\tunsigned int since_yield = 0;\n"
         "\tint err = 0;\n\tbool sleeping = false;\n"),
        ("\tgoal = b->target - b->size;\n", "\twant = b->target - b->size;\n"),
        ("\trate = b->slow_allocation_cycles ?\n", "\tbudget = b->slow_allocation_cycles ?\n"),
        ("__func__, goal, rate, b->rate_alloc);\n", "__func__, want, budget, b->rate_alloc);\n"),
        ("\tfor (i = 0; i < goal; i++) {\n\n\t\terror = vmballoon_reserve_page(b, alloc_can_sleep);\n\t\tif (error) {\n"
         "\t\t\tif (error != -ENOMEM) {\n",
         "\tfor (done = 0; done < want; done++) {\n\n\t\terr = vmballoon_reserve_page(b, sleeping);\n\t\tif (err) {\n"
         "\t\t\tif (err != -ENOMEM) {\n"),
        ("\t\t\tif (alloc_can_sleep) {\n", "\t\t\tif (sleeping) {\n"),
        ("\t\t\tif (i >= b->rate_alloc)\n\t\t\t\tbreak;\n\n\t\t\talloc_can_sleep = true;\n"
         "\t\t\t/* Lower rate for sleeping allocations. */\n\t\t\trate = b->rate_alloc;\n",
         "\t\t\tif (done >= b->rate_alloc)\n\t\t\t\tbreak;\n\n\t\t\tsleeping = true;\n"
         "\t\t\t/* Lower rate for sleeping allocations. */\n\t\t\tbudget = b->rate_alloc;\n"),
        ("\t\tif (++allocations > VMW_BALLOON_YIELD_THRESHOLD) {\n\t\t\tcond_resched();\n\t\t\tallocations = 0;\n"
         "\t\t}\n\n\t\tif (i >= rate) {\n",
         "\t\tif (++since_yield > VMW_BALLOON_YIELD_THRESHOLD) {\n\t\t\tcond_resched();\n\t\t\tsince_yield = 0;\n"
         "\t\t}\n\n\t\tif (done >= budget) {\n"),
        ("\tif (error == 0 && i >= b->rate_alloc) {\n\t\tunsigned int mult = i / b->rate_alloc;\n",
         "\tif (err == 0 && done >= b->rate_alloc) {\n\t\tunsigned int mult = done / b->rate_alloc;\n"),
        # vmballoon_deflate
        ("\tunsigned int i = 0;\n\tunsigned int goal;\n\tint error;\n",
         "\tunsigned int released = 0;\n\tunsigned int limit;\n\tint rc;\n"),
        ("\tgoal = min(b->size - b->target, b->rate_free);\n", "\tlimit = min(b->size - b->target, b->rate_free);\n"),
        ("\tpr_debug(\"%s - goal: %d, rate: %d\\n\", __func__, goal, b->rate_free);\n",
         "\tpr_debug(\"%s - goal: %d, rate: %d\\n\", __func__, limit, b->rate_free);\n"),
        ("\t\terror = vmballoon_release_page(b, page);\n\t\tif (error) {\n",
         "\t\trc = vmballoon_release_page(b, page);\n\t\tif (rc) {\n"),
        ("\t\tif (++i >= goal)\n", "\t\tif (++released >= limit)\n"),
        # vmballoon_pop
        ("\tunsigned int count = 0;\n\n\tlist_for_each_entry_safe(page, next, &b->pages, lru) {\n",
         "\tunsigned int since_resched = 0;\n\n\tlist_for_each_entry_safe(page, next, &b->pages, lru) {\n"),
        ("\t\tif (++count >= b->rate_free) {\n\t\t\tcount = 0;\n",
         "\t\tif (++since_resched >= b->rate_free) {\n\t\t\tsince_resched = 0;\n"),
    ),
    "inflate's, deflate's and pop's locals renamed",
)

# (b) An extracted helper: inflate's handling of a failed reservation (the
# rate adaptation after an allocation failure) moved into a static function
# that says whether the cycle stops; its parameters are named differently
# from inflate's locals.
EXTRACTED_HELPER = Patch(
    "refactor-extracted-helper",
    (
        ("static void vmballoon_inflate(struct vmballoon *b)\n{\n",
         "/*\n * A reservation failed: adapt the allocation rates. Returns true when the\n"
         " * cycle stops; otherwise *sleep and *limit select sleeping allocations.\n */\n"
         "static bool vmballoon_reservation_failed(struct vmballoon *b, int err,\n"
         "\t\t\t\t\tunsigned int reserved, bool *sleep,\n"
         "\t\t\t\t\tunsigned int *limit)\n{\n"
         "\tif (err != -ENOMEM)\n\t\treturn true;\n\n"
         "\tif (*sleep) {\n"
         "\t\tb->rate_alloc = max(b->rate_alloc / 2, VMW_BALLOON_RATE_ALLOC_MIN);\n"
         "\t\treturn true;\n\t}\n\n"
         "\tb->slow_allocation_cycles = VMW_BALLOON_SLOW_CYCLES;\n"
         "\tif (reserved >= b->rate_alloc)\n\t\treturn true;\n\n"
         "\t*sleep = true;\n\t*limit = b->rate_alloc;\n\treturn false;\n}\n\n"
         "static void vmballoon_inflate(struct vmballoon *b)\n{\n"),
        ("\t\tif (error) {\n"
         "\t\t\tif (error != -ENOMEM) {\n"
         "\t\t\t\t/*\n"
         "\t\t\t\t * Not a page allocation failure, stop this\n"
         "\t\t\t\t * cycle. Maybe we'll get new target from\n"
         "\t\t\t\t * the host soon.\n"
         "\t\t\t\t */\n"
         "\t\t\t\tbreak;\n"
         "\t\t\t}\n"
         "\n"
         "\t\t\tif (alloc_can_sleep) {\n"
         "\t\t\t\t/*\n"
         "\t\t\t\t * CANSLEEP page allocation failed, so guest\n"
         "\t\t\t\t * is under severe memory pressure. Quickly\n"
         "\t\t\t\t * decrease allocation rate.\n"
         "\t\t\t\t */\n"
         "\t\t\t\tb->rate_alloc = max(b->rate_alloc / 2,\n"
         "\t\t\t\t\t\t    VMW_BALLOON_RATE_ALLOC_MIN);\n"
         "\t\t\t\tbreak;\n"
         "\t\t\t}\n"
         "\n"
         "\t\t\t/*\n"
         "\t\t\t * NOSLEEP page allocation failed, so the guest is\n"
         "\t\t\t * under memory pressure. Let us slow down page\n"
         "\t\t\t * allocations for next few cycles so that the guest\n"
         "\t\t\t * gets out of memory pressure. Also, if we already\n"
         "\t\t\t * allocated b->rate_alloc pages, let's pause,\n"
         "\t\t\t * otherwise switch to sleeping allocations.\n"
         "\t\t\t */\n"
         "\t\t\tb->slow_allocation_cycles = VMW_BALLOON_SLOW_CYCLES;\n"
         "\n"
         "\t\t\tif (i >= b->rate_alloc)\n"
         "\t\t\t\tbreak;\n"
         "\n"
         "\t\t\talloc_can_sleep = true;\n"
         "\t\t\t/* Lower rate for sleeping allocations. */\n"
         "\t\t\trate = b->rate_alloc;\n"
         "\t\t}\n",
         "\t\tif (error && vmballoon_reservation_failed(b, error, i, &alloc_can_sleep, &rate))\n"
         "\t\t\tbreak;\n"),
    ),
    "inflate's handling of a failed reservation extracted into a helper",
)

# (c) Reordered independent statements: pop updates the size before the
# statistics, reserve_page counts the page before listing it, work decrements
# the slow-allocation countdown before counting the timer (no environment
# call lies between the statements swapped).
REORDERED_STATEMENTS = Patch(
    "refactor-reordered-statements",
    (
        ("\t\t__free_page(page);\n\t\tSTATS_INC(b->stats.free);\n\t\tb->size--;\n",
         "\t\t__free_page(page);\n\t\tb->size--;\n\t\tSTATS_INC(b->stats.free);\n"),
        ("\tlist_add(&page->lru, &b->pages);\n\n\t/* update balloon size */\n\tb->size++;\n",
         "\t/* update balloon size */\n\tb->size++;\n\n\tlist_add(&page->lru, &b->pages);\n"),
        ("\tSTATS_INC(b->stats.timer);\n\n\tif (b->reset_required)\n\t\tvmballoon_reset(b);\n\n"
         "\tif (b->slow_allocation_cycles > 0)\n\t\tb->slow_allocation_cycles--;\n",
         "\tif (b->reset_required)\n\t\tvmballoon_reset(b);\n\n"
         "\tif (b->slow_allocation_cycles > 0)\n\t\tb->slow_allocation_cycles--;\n\n"
         "\tSTATS_INC(b->stats.timer);\n"),
    ),
    "independent statements of pop, reserve_page and work swapped",
)

# (b') An extracted helper that holds a loop: deflate's walk moved into a
# static function, so the C's cut at that loop has a new function on its
# stack (the segment is found and coupled all the same).
EXTRACTED_LOOP_HELPER = Patch(
    "refactor-extracted-loop-helper",
    (
        ("static void vmballoon_deflate(struct vmballoon *b)\n"
         "{\n"
         "\tstruct page *page, *next;\n"
         "\tunsigned int i = 0;\n"
         "\tunsigned int goal;\n"
         "\tint error;\n",
         "/*\n"
         " * Release up to @limit pages of the balloon, stopping at the first one the\n"
         " * host does not unlock (its error is returned).\n"
         " */\n"
         "static int vmballoon_release_pages(struct vmballoon *b, unsigned int limit)\n"
         "{\n"
         "\tstruct page *page, *next;\n"
         "\tunsigned int released = 0;\n"
         "\tint rc;\n"
         "\n"
         "\tlist_for_each_entry_safe(page, next, &b->pages, lru) {\n"
         "\t\trc = vmballoon_release_page(b, page);\n"
         "\t\tif (rc)\n"
         "\t\t\treturn rc;\n"
         "\n"
         "\t\tif (++released >= limit)\n"
         "\t\t\tbreak;\n"
         "\t}\n"
         "\treturn 0;\n"
         "}\n"
         "\n"
         "static void vmballoon_deflate(struct vmballoon *b)\n"
         "{\n"
         "\tunsigned int goal;\n"),
        ("\t/* free pages to reach target */\n"
         "\tlist_for_each_entry_safe(page, next, &b->pages, lru) {\n"
         "\t\terror = vmballoon_release_page(b, page);\n"
         "\t\tif (error) {\n"
         "\t\t\t/* quickly decrease rate in case of error */\n"
         "\t\t\tb->rate_free = max(b->rate_free / 2,\n"
         "\t\t\t\t\t   VMW_BALLOON_RATE_FREE_MIN);\n"
         "\t\t\treturn;\n"
         "\t\t}\n"
         "\n"
         "\t\tif (++i >= goal)\n"
         "\t\t\tbreak;\n"
         "\t}\n"
         "\n",
         "\t/* free pages to reach target */\n"
         "\tif (vmballoon_release_pages(b, goal)) {\n"
         "\t\t/* quickly decrease rate in case of error */\n"
         "\t\tb->rate_free = max(b->rate_free / 2,\n"
         "\t\t\t\t   VMW_BALLOON_RATE_FREE_MIN);\n"
         "\t\treturn;\n"
         "\t}\n"
         "\n"),
    ),
    "deflate's walk of the balloon extracted into a helper",
)

REFACTORINGS = [RENAMED_LOCALS, EXTRACTED_HELPER, EXTRACTED_LOOP_HELPER, REORDERED_STATEMENTS]
