"""What the catalogue states, read from the C source, not from the model.

The invariant bounds (512, 2048, 16384, 16, 4, ...) are the driver's own
`#define`s, parsed from driver/vmw_balloon.c. The model has its own copy of
them (model/constants.py); a proof compares the model's behaviour against the
numbers read here, so a model whose constant drifted from the C (or that a
test deliberately breaks) fails its proof instead of proving a bound that
moved with it.

Line citations (`cite("goal = b->target - b->size")`) are looked up in the
source by text, so documents stay right if the file they cite were replaced
by another driver version with the same code at other lines.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from balloonspec import SEED_DRIVER

_DEFINE = re.compile(r"^#define\s+(VMW_BALLOON_\w+)\s+(-?)(0x[0-9a-fA-F]+|\d+)U?\b", re.M)


@lru_cache(maxsize=None)
def source(path: str | None = None) -> str:
    return Path(path or SEED_DRIVER).read_text()


@lru_cache(maxsize=None)
def defines(path: str | None = None) -> dict[str, int]:
    """Every numeric `#define VMW_BALLOON_*` of the driver."""
    out: dict[str, int] = {}
    for name, neg, num in _DEFINE.findall(source(path)):
        v = int(num, 0)
        out[name] = -v if neg else v
    return out


class C:
    """The constants the catalogue's statements use, read from the C."""

    _d = defines()
    NOSLEEP_ALLOC_MAX = _d["VMW_BALLOON_NOSLEEP_ALLOC_MAX"]
    RATE_ALLOC_MIN = _d["VMW_BALLOON_RATE_ALLOC_MIN"]
    RATE_ALLOC_MAX = _d["VMW_BALLOON_RATE_ALLOC_MAX"]
    RATE_ALLOC_INC = _d["VMW_BALLOON_RATE_ALLOC_INC"]
    RATE_FREE_MIN = _d["VMW_BALLOON_RATE_FREE_MIN"]
    RATE_FREE_MAX = _d["VMW_BALLOON_RATE_FREE_MAX"]
    RATE_FREE_INC = _d["VMW_BALLOON_RATE_FREE_INC"]
    SLOW_CYCLES = _d["VMW_BALLOON_SLOW_CYCLES"]
    YIELD_THRESHOLD = _d["VMW_BALLOON_YIELD_THRESHOLD"]
    MAX_REFUSED = _d["VMW_BALLOON_MAX_REFUSED"]
    CMD_START = _d["VMW_BALLOON_CMD_START"]
    CMD_GET_TARGET = _d["VMW_BALLOON_CMD_GET_TARGET"]
    CMD_LOCK = _d["VMW_BALLOON_CMD_LOCK"]
    CMD_UNLOCK = _d["VMW_BALLOON_CMD_UNLOCK"]
    CMD_GUEST_ID = _d["VMW_BALLOON_CMD_GUEST_ID"]
    SUCCESS = _d["VMW_BALLOON_SUCCESS"]
    ERROR_PPN_PINNED = _d["VMW_BALLOON_ERROR_PPN_PINNED"]
    ERROR_PPN_NOTNEEDED = _d["VMW_BALLOON_ERROR_PPN_NOTNEEDED"]
    ERROR_RESET = _d["VMW_BALLOON_ERROR_RESET"]
    ERROR_BUSY = _d["VMW_BALLOON_ERROR_BUSY"]
    # GFP values of the userspace shims / Linux 6.1 (specs/trace.md)
    GFP_NOSLEEP = 0x2 | 0x2000  # __GFP_HIGHMEM | __GFP_NOWARN
    GFP_CANSLEEP = 0x100CC2  # GFP_HIGHUSER


def line_of(snippet: str, path: str | None = None) -> int:
    """1-based line number of the first line containing `snippet`."""
    for n, line in enumerate(source(path).splitlines(), 1):
        if snippet in line:
            return n
    raise KeyError(f"snippet not in the C source: {snippet!r}")


def cite(*snippets: str) -> str:
    """'vmw_balloon.c:534, 545' for the lines holding the snippets."""
    return "vmw_balloon.c:" + ", ".join(str(line_of(s)) for s in snippets)


# The C functions each function of model/algorithm.py mirrors (for the C lines
# an obligation's paths cover).
SPEC_TO_C = {
    "check_status": ("vmballoon_check_status",), "send_start": ("vmballoon_send_start",),
    "send_guest_id": ("vmballoon_send_guest_id",), "send_get_target": ("vmballoon_send_get_target",),
    "send_unlock_page": ("vmballoon_send_unlock_page",),
    "inflate": ("vmballoon_inflate",), "inflate_begin": ("vmballoon_inflate",),
    "inflate_continues": ("vmballoon_inflate",), "inflate_end": ("vmballoon_inflate",),
    "inflate_attempt": ("vmballoon_reserve_page", "vmballoon_send_lock_page", "vmballoon_inflate"),
    "release_refused_pages": ("vmballoon_release_refused_pages",),
    "refused_continues": ("vmballoon_release_refused_pages",),
    "release_refused_one": ("vmballoon_release_refused_pages",),
    "deflate": ("vmballoon_deflate",), "deflate_begin": ("vmballoon_deflate",),
    "deflate_continues": ("vmballoon_deflate",), "deflate_end": ("vmballoon_deflate",),
    "deflate_release": ("vmballoon_deflate", "vmballoon_release_page"),
    "pop": ("vmballoon_pop",), "pop_continues": ("vmballoon_pop",), "pop_one": ("vmballoon_pop",),
    "reset": ("vmballoon_reset",), "work": ("vmballoon_work",), "init": ("vmballoon_init",),
    "exit": ("vmballoon_exit",),
}


@lru_cache(maxsize=None)
def function_lines(name: str, path: str | None = None) -> tuple[int, int] | None:
    """(first, last) line of a C function definition (its body's closing brace)."""
    lines = source(path).splitlines()
    pat = re.compile(r"^(static\s+)?[\w\s\*]*\b" + re.escape(name) + r"\s*\(")
    for n, line in enumerate(lines):
        if pat.match(line) and not line.rstrip().endswith(";"):
            for m in range(n, len(lines)):
                if lines[m].startswith("}"):
                    return n + 1, m + 1
    return None


def c_lines_of(spec_functions) -> str:
    """'vmw_balloon.c:410-462 (vmballoon_reserve_page), ...' for the spec functions given."""
    cfuncs = sorted({c for f in spec_functions for c in SPEC_TO_C.get(f, ())})
    parts = []
    for c in cfuncs:
        r = function_lines(c)
        if r:
            parts.append((r[0], f"{r[0]}-{r[1]} ({c})"))
    return ("vmw_balloon.c:" + ", ".join(p for _, p in sorted(parts))) if parts else ""
