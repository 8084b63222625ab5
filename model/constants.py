"""Every constant of the seed driver (drivers/misc/vmw_balloon.c, 1.2.1.3-k),
under its C macro name, plus the kernel constants it relies on, and a
cross-check against a driver source file.

``check_constants(path)`` returns the mismatches between this module and the
``#define``s of a driver source: a test fails when they drift apart.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

# -- rates (pages per cycle) ----------------------------------------------------
VMW_BALLOON_NOSLEEP_ALLOC_MAX = 16384  # 16384U
VMW_BALLOON_RATE_ALLOC_MIN = 512  # 512U
VMW_BALLOON_RATE_ALLOC_MAX = 2048  # 2048U
VMW_BALLOON_RATE_ALLOC_INC = 16  # 16U
VMW_BALLOON_RATE_FREE_MIN = 512  # 512U
VMW_BALLOON_RATE_FREE_MAX = 16384  # 16384U
VMW_BALLOON_RATE_FREE_INC = 16  # 16U
VMW_BALLOON_SLOW_CYCLES = 4
VMW_BALLOON_YIELD_THRESHOLD = 1024
VMW_BALLOON_MAX_REFUSED = 16

# -- backdoor ABI ----------------------------------------------------------------
VMW_BALLOON_HV_PORT = 0x5670
VMW_BALLOON_HV_MAGIC = 0x456C6D6F
VMW_BALLOON_PROTOCOL_VERSION = 2
VMW_BALLOON_GUEST_ID = 1  # Linux

VMW_BALLOON_CMD_START = 0
VMW_BALLOON_CMD_GET_TARGET = 1
VMW_BALLOON_CMD_LOCK = 2
VMW_BALLOON_CMD_UNLOCK = 3
VMW_BALLOON_CMD_GUEST_ID = 4

# -- status codes ------------------------------------------------------------------
VMW_BALLOON_SUCCESS = 0
VMW_BALLOON_FAILURE = -1
VMW_BALLOON_ERROR_CMD_INVALID = 1
VMW_BALLOON_ERROR_PPN_INVALID = 2
VMW_BALLOON_ERROR_PPN_LOCKED = 3
VMW_BALLOON_ERROR_PPN_UNLOCKED = 4
VMW_BALLOON_ERROR_PPN_PINNED = 5
VMW_BALLOON_ERROR_PPN_NOTNEEDED = 6
VMW_BALLOON_ERROR_RESET = 7
VMW_BALLOON_ERROR_BUSY = 8

# -- kernel constants (Linux 6.1 values, specs/trace.md) ---------------------------
GFP_BITS = {
    "__GFP_HIGHMEM": 0x2,
    "__GFP_IO": 0x40,
    "__GFP_FS": 0x80,
    "__GFP_DIRECT_RECLAIM": 0x400,
    "__GFP_KSWAPD_RECLAIM": 0x800,
    "__GFP_NOWARN": 0x2000,
    "__GFP_HARDWALL": 0x100000,
}
GFP_HIGHUSER = 0x100CC2  # GFP_USER | __GFP_HIGHMEM
VMW_PAGE_ALLOC_NOSLEEP = GFP_BITS["__GFP_HIGHMEM"] | GFP_BITS["__GFP_NOWARN"]  # 0x2002
VMW_PAGE_ALLOC_CANSLEEP = GFP_HIGHUSER  # 0x100cc2
HZ = 250  # userspace shims; round_jiffies_relative(j) == j
S_IRUGO = 0o444
DEBUGFS_NAME = "vmmemctl"
ENODEV = 19
EIO = 5
ENOMEM = 12
MAX_ERRNO = 4095  # IS_ERR_VALUE range
KBUILD_MODNAME = "vmw_balloon"
KERN_ERR = "\x013"
WQ_SYSTEM_FREEZABLE = 1  # QUEUE_WORK f2: system_freezable_wq

# The driver's own #defines the model carries, by C name (value as the C
# preprocessor would evaluate it, GFP names resolved with GFP_BITS).
DRIVER_DEFINES = (
    "VMW_BALLOON_NOSLEEP_ALLOC_MAX", "VMW_BALLOON_RATE_ALLOC_MIN", "VMW_BALLOON_RATE_ALLOC_MAX",
    "VMW_BALLOON_RATE_ALLOC_INC", "VMW_BALLOON_RATE_FREE_MIN", "VMW_BALLOON_RATE_FREE_MAX",
    "VMW_BALLOON_RATE_FREE_INC", "VMW_BALLOON_SLOW_CYCLES", "VMW_PAGE_ALLOC_NOSLEEP",
    "VMW_PAGE_ALLOC_CANSLEEP", "VMW_BALLOON_YIELD_THRESHOLD", "VMW_BALLOON_MAX_REFUSED",
    "VMW_BALLOON_HV_PORT", "VMW_BALLOON_HV_MAGIC", "VMW_BALLOON_PROTOCOL_VERSION",
    "VMW_BALLOON_GUEST_ID", "VMW_BALLOON_CMD_START", "VMW_BALLOON_CMD_GET_TARGET",
    "VMW_BALLOON_CMD_LOCK", "VMW_BALLOON_CMD_UNLOCK", "VMW_BALLOON_CMD_GUEST_ID",
    "VMW_BALLOON_SUCCESS", "VMW_BALLOON_FAILURE", "VMW_BALLOON_ERROR_CMD_INVALID",
    "VMW_BALLOON_ERROR_PPN_INVALID", "VMW_BALLOON_ERROR_PPN_LOCKED",
    "VMW_BALLOON_ERROR_PPN_UNLOCKED", "VMW_BALLOON_ERROR_PPN_PINNED",
    "VMW_BALLOON_ERROR_PPN_NOTNEEDED", "VMW_BALLOON_ERROR_RESET", "VMW_BALLOON_ERROR_BUSY",
)


def model_constants() -> dict[str, int]:
    """The model's value of every driver #define it carries."""
    g = globals()
    return {name: g[name] for name in DRIVER_DEFINES}


_DEFINE = re.compile(r"^\s*#\s*define\s+([A-Za-z_]\w*)\s+(.+?)\s*$")
_SUFFIX = re.compile(r"\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]+\b")
_KNOWN = {**GFP_BITS, "GFP_HIGHUSER": GFP_HIGHUSER}


def _eval_c_int(expr: str, names: dict[str, int]) -> int | None:
    """Evaluate a C integer constant expression (literals with U/L suffixes,
    hex, unary minus, parentheses, | & + - * << >>, known names); None if not
    a constant expression."""
    expr = re.sub(r"/\*.*?\*/", "", expr).split("//")[0].strip()
    if not expr:
        return None
    expr = _SUFFIX.sub(lambda m: m.group(1), expr)
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError:
        return None

    def ev(n):
        if isinstance(n, ast.Expression):
            return ev(n.body)
        if isinstance(n, ast.Constant) and isinstance(n.value, int):
            return n.value
        if isinstance(n, ast.Name) and n.id in names:
            return names[n.id]
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, (ast.USub, ast.UAdd, ast.Invert)):
            v = ev(n.operand)
            return -v if isinstance(n.op, ast.USub) else (v if isinstance(n.op, ast.UAdd) else ~v)
        if isinstance(n, ast.BinOp):
            a, b = ev(n.left), ev(n.right)
            ops = {ast.BitOr: lambda: a | b, ast.BitAnd: lambda: a & b, ast.Add: lambda: a + b,
                   ast.Sub: lambda: a - b, ast.Mult: lambda: a * b, ast.LShift: lambda: a << b,
                   ast.RShift: lambda: a >> b, ast.BitXor: lambda: a ^ b}
            if type(n.op) in ops:
                return ops[type(n.op)]()
        raise ValueError(ast.dump(n))

    try:
        return ev(tree)
    except ValueError:
        return None


def constants_from_c(path: str | Path) -> dict[str, int]:
    """Read every ``#define NAME VALUE`` of a C source whose value is an integer
    constant expression (``16384U``, ``0x5670``, ``-1``, ``(__GFP_HIGHMEM|__GFP_NOWARN)``,
    earlier defines). Function-like macros and non-constant values are skipped."""
    names = dict(_KNOWN)
    out: dict[str, int] = {}
    text = Path(path).read_text(errors="replace")
    for line in text.splitlines():
        m = _DEFINE.match(line)
        if not m or "(" == line[m.end(1):m.end(1) + 1]:  # function-like macro
            continue
        v = _eval_c_int(m.group(2), names)
        if v is not None:
            out[m.group(1)] = v
            names[m.group(1)] = v
    return out


def check_constants(path: str | Path) -> list[tuple[str, int | None, int | None]]:
    """Mismatches ``(name, model_value, c_value)`` between the model and the
    driver source at ``path`` (``c_value`` None: missing from the source)."""
    c = constants_from_c(path)
    return [(n, v, c.get(n)) for n, v in model_constants().items() if c.get(n) != v]
