"""Patched builds of the seed driver, as a kernel developer would write them:
test inputs for findings per build, precise excuses and hang detection.

Like tests/mutants.py, each patch is applied to the seed's text and written to
a temporary file; the seed itself is never edited. `fixes` names the finding
of specs/findings.md the patch removes (and only that one).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Patch:
    id: str
    edits: tuple[tuple[str, str], ...]  # (find, replace), each find occurring once in the seed
    why: str
    fixes: str = ""  # the finding id it fixes

    def apply(self, seed_text: str) -> str:
        for find, replace in self.edits:
            if seed_text.count(find) != 1:
                raise ValueError(f"patch {self.id}: {find!r} occurs {seed_text.count(find)} times in the seed")
            seed_text = seed_text.replace(find, replace)
        return seed_text

    def write(self, seed: Path, directory: Path) -> Path:
        path = directory / f"{self.id}.c"
        path.write_text(self.apply(seed.read_text()))
        return path


# F-HIGH-PFN: vmballoon_send_lock_page returns -1 for a PFN that does not fit
# 32 bits and reserve_page neither keeps nor frees the page. The fix refuses
# the page itself: it goes on the refused list (freed at the end of the cycle,
# and counted against VMW_BALLOON_MAX_REFUSED, which bounds the cycle).
FIX_HIGH_PFN = Patch(
    "fix-high-pfn",
    ((
        "\t\tlocked = vmballoon_send_lock_page(b, page_to_pfn(page), &hv_status);\n"
        "\t\tif (locked > 0) {\n",
        "\t\tlocked = vmballoon_send_lock_page(b, page_to_pfn(page), &hv_status);\n"
        "\t\tif (locked < 0) {\n"
        "\t\t\t/*\n"
        "\t\t\t * The PFN does not fit the protocol's 32 bits, so the host\n"
        "\t\t\t * cannot take this page: refuse it ourselves. It is freed\n"
        "\t\t\t * with the other refused pages at the end of the cycle.\n"
        "\t\t\t */\n"
        "\t\t\tlist_add(&page->lru, &b->refused_pages);\n"
        "\t\t\tif (++b->n_refused_pages >= VMW_BALLOON_MAX_REFUSED)\n"
        "\t\t\t\treturn -EIO;\n"
        "\t\t\tcontinue;\n"
        "\t\t}\n"
        "\t\tif (locked > 0) {\n",
    ),),
    "a page whose PFN does not fit 32 bits is refused like a page the host refuses",
    fixes="F-HIGH-PFN",
)

# F-UNLOCK-HEAD: deflate returns at the first page the host refuses to unlock,
# which stays at the head of b->pages and is retried first every cycle. The
# fix moves it to the tail (list_move_tail: a list helper the seed does not use).
FIX_UNLOCK_HEAD = Patch(
    "fix-unlock-head",
    ((
        "\t\terror = vmballoon_release_page(b, page);\n"
        "\t\tif (error) {\n",
        "\t\terror = vmballoon_release_page(b, page);\n"
        "\t\tif (error) {\n"
        "\t\t\t/* Do not let this page block the others next cycle. */\n"
        "\t\t\tlist_move_tail(&page->lru, &b->pages);\n",
    ),),
    "a page whose UNLOCK the host refuses moves to the tail of the balloon",
    fixes="F-UNLOCK-HEAD",
)

FIXES = [FIX_HIGH_PFN, FIX_UNLOCK_HEAD]

# A different violation of a documented monitor: exit forgets to pop the
# balloon, so every balloon page stays held after exit (MEM-EXIT-RELEASES),
# not only the high-PFN page the vector wit-high-pfn-leak documents.
EXIT_WITHOUT_POP = Patch(
    "exit-without-pop",
    (("\tvmballoon_send_start(&balloon);\n\tvmballoon_pop(&balloon);\n", "\tvmballoon_send_start(&balloon);\n"),),
    "module exit keeps every balloon page",
)

# A different leak: a page allocated after each inflate cycle and never used,
# never locked. In a vector that documents the spec's own MEM-NO-LEAK (pages
# whose locks a host reset made the host forget), this one is not excused.
LEAK_AFTER_INFLATE = Patch(
    "leak-after-inflate",
    (("\tvmballoon_release_refused_pages(b);\n}\n",
      "\tvmballoon_release_refused_pages(b);\n"
      "\t/* a page in reserve for the next cycle (never used: a leak) */\n"
      "\talloc_page(VMW_PAGE_ALLOC_NOSLEEP);\n}\n"),),
    "allocates one page after each inflate cycle and forgets it",
)

# The work function never returns.
HANG_IN_WORK = Patch(
    "hang-in-work",
    (("\tSTATS_INC(b->stats.timer);\n", "\tSTATS_INC(b->stats.timer);\n\tfor (;;)\n\t\t;\n"),),
    "vmballoon_work spins forever",
)

# Does not compile: a stray parenthesis.
DOES_NOT_COMPILE = Patch(
    "does-not-compile",
    (("static void vmballoon_pop(struct vmballoon *b)\n", "static void vmballoon_pop((struct vmballoon *b)\n"),),
    "a syntax error in vmballoon_pop's declaration",
)

# Uses a kernel API that does not exist (so no shim can provide it).
UNKNOWN_API = Patch(
    "unknown-api",
    (("\t\t\tlist_add(&page->lru, &b->refused_pages);\n",
      "\t\t\tlist_park_refused(&page->lru, &b->refused_pages);\n"),),
    "calls a list function no kernel has",
)
