"""Generated parts of the spec documents in specs/: the tables the model holds.

A generated part sits between `<!-- generated:NAME -->` and
`<!-- end:NAME -->`; `balloonspec docs` rewrites every part from its source
(balloonspec/docs: these tables, diagrams, figures, traceability) and
`balloonspec docs --check` fails when any is stale. Prose around them is
written by hand.
"""
from __future__ import annotations

import re

from . import constants as C
from . import protocol as P

def _table(header: list[str], rows: list[list]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def commands_table() -> str:
    return _table(["code", "command", "ebx in", "ebx out"],
                  [[code, f"`{name}`", arg, res] for code, (name, arg, res) in sorted(P.COMMANDS.items())])


def status_table() -> str:
    return _table(["eax out", "status", "meaning"],
                  [[code if code < 0x80000000 else f"{code:#x}", f"`{name}`", meaning]
                   for code, (name, meaning) in sorted(P.STATUS.items())])


def abi_table() -> str:
    return _table(["constant", "value"], [
        ["`VMW_BALLOON_HV_PORT`", f"{C.VMW_BALLOON_HV_PORT:#x}"],
        ["`VMW_BALLOON_HV_MAGIC`", f"{C.VMW_BALLOON_HV_MAGIC:#x}"],
        ["`VMW_BALLOON_PROTOCOL_VERSION`", C.VMW_BALLOON_PROTOCOL_VERSION],
        ["`VMW_BALLOON_GUEST_ID`", f"{C.VMW_BALLOON_GUEST_ID} (Linux)"],
    ])


# The algorithm's constants and what each one bounds (values come from the model).
ROLES = {
    "VMW_BALLOON_NOSLEEP_ALLOC_MAX": "rate of a cycle's NOSLEEP allocations (pages per cycle)",
    "VMW_BALLOON_RATE_ALLOC_MIN": "floor of `rate_alloc`, the rate of sleeping (CANSLEEP) allocations",
    "VMW_BALLOON_RATE_ALLOC_MAX": "ceiling and initial value of `rate_alloc`",
    "VMW_BALLOON_RATE_ALLOC_INC": "`rate_alloc` grows by this per `rate_alloc` pages allocated in a cycle",
    "VMW_BALLOON_RATE_FREE_MIN": "floor of `rate_free`, the deflate rate",
    "VMW_BALLOON_RATE_FREE_MAX": "ceiling and initial value of `rate_free`",
    "VMW_BALLOON_RATE_FREE_INC": "`rate_free` grows by this after a deflate cycle without error",
    "VMW_BALLOON_SLOW_CYCLES": "cycles of reduced rate after a NOSLEEP allocation failed",
    "VMW_BALLOON_YIELD_THRESHOLD": "inflate iterations between two `cond_resched()`",
    "VMW_BALLOON_MAX_REFUSED": "refused pages a cycle accumulates before it stops",
}


def rate_constants_table() -> str:
    return _table(["constant", "value", "role"], [[f"`{n}`", getattr(C, n), role] for n, role in ROLES.items()])


def transitions_table() -> str:
    """The host's transition table (model/protocol.py TRANSITIONS, then the refusals)."""
    rows = [[t.state, f"`{t.command}`", t.guard or "", f"`{t.status}`" if t.status else "no reply",
             t.next, t.effect + ("; ebx = target" if t.result == "target" else "")] for t in P.TRANSITIONS]
    rows += [["started", f"`{cmd}`", "the host's choice", ", ".join(f"`{s}`" for s in statuses), "started", ""]
             for cmd, statuses in P.REFUSALS.items()]
    return _table(["state", "command", "guard", "reply", "next state", "effect"], rows)


GENERATED = {"abi": abi_table, "commands": commands_table, "statuses": status_table,
             "constants": rate_constants_table, "transitions": transitions_table}

# A generated part: <!-- generated:NAME --> ... <!-- end:NAME --> (NAME without spaces).
PART = re.compile(r"(<!-- generated:(?P<name>\S+?) -->\n)(?P<body>.*?)(<!-- end:(?P=name) -->)", re.S)


def part_names(text: str) -> list[str]:
    return [m.group("name") for m in PART.finditer(text)]


def fill(text: str, resolve) -> str:
    """Every generated part of `text` rewritten with `resolve(name)`."""
    return PART.sub(lambda m: m.group(1) + resolve(m.group("name")).rstrip("\n") + "\n" + m.group(4), text)


def empty_parts(text: str) -> str:
    """`text` with the bodies of its generated parts removed (to compare what is written by hand)."""
    return PART.sub(lambda m: m.group(1) + m.group(4), text)
