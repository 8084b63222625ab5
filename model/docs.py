"""Generated parts of the spec documents in specs/.

A generated part sits between `<!-- generated:NAME -->` and
`<!-- end:NAME -->` and is rewritten from the model by `regenerate()`
(`balloonspec docs`); `stale()` lists the parts that differ, and a test fails
when any does. Prose around them is written by hand.
"""
from __future__ import annotations

import re
from pathlib import Path

from . import constants as C
from . import protocol as P

SPECS = Path(__file__).resolve().parent.parent / "specs"


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


GENERATED = {
    "protocol.md": {"abi": abi_table, "commands": commands_table, "statuses": status_table},
    "algorithm.md": {"constants": rate_constants_table},
}


def _proof_parts() -> dict:
    """invariants.md and findings.md are generated whole from the proof catalogue."""
    from .proofs.docs import render_findings_md, render_invariants_md

    return {"invariants.md": {"__whole__": render_invariants_md}, "findings.md": {"__whole__": render_findings_md}}


def _render(path: Path, parts: dict) -> str:
    if "__whole__" in parts:
        return parts["__whole__"]()
    text = path.read_text()
    for name, fn in parts.items():
        pat = re.compile(rf"(<!-- generated:{name} -->\n).*?(<!-- end:{name} -->)", re.S)
        if not pat.search(text):
            raise ValueError(f"{path.name}: no generated part {name!r}")
        text = pat.sub(lambda m: m.group(1) + fn() + "\n" + m.group(2), text)
    return text


def _all_parts() -> dict:
    return {**GENERATED, **_proof_parts()}


def stale(specs: Path = SPECS) -> list[str]:
    """Documents whose generated parts differ from what the model renders."""
    return [name for name, parts in _all_parts().items()
            if not (specs / name).exists() or (specs / name).read_text() != _render(specs / name, parts)]


def regenerate(specs: Path = SPECS) -> list[str]:
    changed = []
    for name, parts in _all_parts().items():
        path = specs / name
        new = _render(path, parts)
        if not path.exists() or path.read_text() != new:
            path.write_text(new)
            changed.append(name)
    return changed
