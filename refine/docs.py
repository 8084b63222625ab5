"""The generated part of specs/refinement.md: the seed's segments and the
coupling relation inferred for it (``balloonspec docs`` writes it,
``balloonspec docs --check`` finds it stale)."""
from __future__ import annotations


def seed_part() -> str:
    from balloonspec import SEED_DRIVER
    from balloonspec.csource.compile import load

    from .segments import infer_and_check

    segs, coupling = infer_and_check(load(SEED_DRIVER))
    lines = ["*The seed's segments and its inferred coupling; written by `balloonspec docs` from "
             "`balloonspec refine`'s own run (times are not part of the page).*", "",
             "| segment | C function | C lines | spec step | status | paths |",
             "|---|---|---|---|---|---|"]
    for s in segs:
        lines.append(f"| `{s.id}` | `{s.function}` | {s.c_lines} | `{s.spec}` | {s.status} | {s.paths} |")
    lines.append("")
    for pair, cands in coupling.summary().items():
        lines.append(f"Coupling at `{pair}` ({len(cands)} facts):")
        lines.append("")
        lines += [f"- {c}" for c in cands]
        lines.append("")
    return "\n".join(lines)
