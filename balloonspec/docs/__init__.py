"""The review documents of specs/, generated where the model and the C hold the facts.

`outputs()` renders every generated file and part: the tables of
model/docs.py, invariants.md and findings.md from the proof catalogue,
diagrams (diagrams.py), figures (figures.py: SVG plus the JSON data behind
it), the traceability matrix (traceability.py) and the trace links of each
spec clause. `regenerate()` writes them (`balloonspec docs`), `stale()` lists
what differs (`balloonspec docs --check`); `site.build()` turns specs/ into
the review site (`balloonspec docs --site OUT`).

A page's generated parts are named by what they show:
`diagram:NAME`, `trace:C_FUNCTION,...` (the clause's links into the
matrix), `inv-trace:ID`, `finding-trace:ID`, `pages` (the reading order),
and the model tables (`abi`, `commands`, ...).
"""
from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path

from balloonspec import REPO
from balloonspec.model import docs as MD
from balloonspec.model.proofs import docs as PD

SPECS = REPO / "specs"

# The review site's pages in reading order, with what each holds (specs/README.md lists them).
PAGES = [
    ("README.md", "How to review the spec: this page"),
    ("protocol.md", "The backdoor protocol v2: commands, statuses, the host's state machine"),
    ("algorithm.md", "The driver's algorithm, event by event, with its flow diagrams"),
    ("figures.md", "How the balloon and its rates move over time, and what the findings look like"),
    ("invariants.md", "Every property proved or refuted, with its method and C lines"),
    ("findings.md", "Where the seed breaks its own properties, with witnesses"),
    ("traceability.md", "Every C function and decision against spec, invariants, vectors and findings"),
    ("trace.md", "The observable-trace contract and the scenario script"),
    ("vectors.md", "The vector format"),
    ("spec-mutation.md", "Spec mutants: what the proofs and the vectors catch, and the ones they accept"),
    ("history.md", "The published versions of the driver against the seed: builds, verdicts, findings, differences"),
    ("refinement.md", "How a driver's C is proved to refine the spec, segment by segment, or shown to differ"),
]
FIGURES_DIR = "figures"


class Context:
    """What the generated parts are made from, each computed once, when first needed."""

    def __init__(self, progress=lambda msg: None, specs: Path = SPECS):
        self.progress = progress
        self.specs = specs

    @cached_property
    def history(self) -> dict | None:
        from . import history

        return history.load(self.specs)

    @cached_property
    def refinement_seed(self) -> str:
        from balloonspec.refine.docs import seed_part

        self.progress("refinement: the seed's segments and coupling")
        return seed_part()

    @cached_property
    def matrix(self):
        from . import traceability

        return traceability.build(progress=self.progress)

    @cached_property
    def figures(self) -> dict[str, dict]:
        from . import figures

        return {fid: figures.figure_data(f) for fid, f in figures.FIGURES.items()}


def _diagram_part(name: str) -> str:
    from . import diagrams
    from .graph import to_mermaid

    g = diagrams.graph(name)
    return (f"*{g.title}; drawn by `balloonspec docs` from the model.*\n\n"
            f"```mermaid\n{to_mermaid(g)}\n```")


def _pages_part() -> str:
    return "\n".join(f"{i}. [{name}]({name}): {what}" for i, (name, what) in enumerate(PAGES[1:], 1))


def resolve(name: str, ctx: Context) -> str:
    from . import figures, traceability as T

    if name in MD.GENERATED:
        return MD.GENERATED[name]()
    kind, _, arg = name.partition(":")
    if kind == "diagram":
        return _diagram_part(arg)
    if kind == "trace":
        return T.clause_trace(ctx.matrix, arg.split(","))
    if kind == "inv-trace":
        return T.invariant_trace(ctx.matrix, arg)
    if kind == "finding-trace":
        figs = {f.finding: figures.embed(f) for f in figures.FIGURES.values() if f.finding}
        return T.finding_trace(ctx.matrix, arg, figs)
    if kind == "figure":
        return figures.embed(figures.FIGURES[arg])
    if kind in ("history", "history-diff"):
        from . import history

        return history.resolve(kind, arg, ctx.history)
    if name == "pages":
        return _pages_part()
    if name == "refinement-seed":
        return ctx.refinement_seed
    raise KeyError(f"unknown generated part {name!r}")


def _whole(name: str, ctx: Context) -> str | None:
    """Pages generated whole (their own parts are filled afterwards)."""
    from . import figures, traceability as T

    if name == "invariants.md":
        return PD.render_invariants_md()
    if name == "findings.md":
        return PD.render_findings_md()
    if name == "traceability.md":
        return T.render(ctx.matrix)
    if name == "figures.md":
        return figures.render_page()
    if name == "spec-mutation.md":
        from balloonspec.conformance import spec_mutation as SM

        return SM.render_md(SM.committed_report())
    return None


def render_page(name: str, ctx: Context, specs: Path = SPECS) -> str:
    text = _whole(name, ctx)
    if text is None:
        text = (specs / name).read_text()
    return MD.fill(text, lambda part: resolve(part, ctx))


def outputs(ctx: Context | None = None, specs: Path = SPECS) -> dict[str, str]:
    """Every generated page (relative path under specs/ -> text) and each figure's data (JSON)."""
    ctx = ctx or Context()
    out = {name: render_page(name, ctx, specs) for name, _ in PAGES}
    for fid, data in ctx.figures.items():
        out[f"{FIGURES_DIR}/{fid}.json"] = json.dumps(data, indent=1, sort_keys=True) + "\n"
    return out


def _svg_current(path: Path, data: dict) -> bool:
    from . import figures

    return path.exists() and figures.svg_digest(path.read_text()) == figures.digest(data)


def stale(specs: Path = SPECS, progress=lambda msg: None) -> list[str]:
    """What `balloonspec docs` would change: pages, figure data, figures not drawn from their data."""
    from . import history

    ctx = Context(progress, specs)
    found = [rel for rel, text in outputs(ctx, specs).items()
             if not (specs / rel).exists() or (specs / rel).read_text() != text]
    found += [f"{FIGURES_DIR}/{fid}.svg" for fid, data in ctx.figures.items()
              if not _svg_current(specs / FIGURES_DIR / f"{fid}.svg", data)]
    if history.stale_inputs(ctx.history):  # recorded, not recomputed: see docs/history.py
        found.append(history.RESULT)
    return sorted(found)


def regenerate(specs: Path = SPECS, progress=lambda msg: None, refresh_history: bool = False) -> list[str]:
    """Write every generated file that differs; an SVG is redrawn only when its data changed;
    specs/history.json is recomputed when its inputs changed (or always, `refresh_history`)."""
    from . import figures, history

    changed = [history.RESULT] if history.refresh(specs, force=refresh_history, progress=progress) else []
    ctx = Context(progress, specs)
    for rel, text in outputs(ctx, specs).items():
        path = specs / rel
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            changed.append(rel)
    for fid, data in ctx.figures.items():
        path = specs / FIGURES_DIR / f"{fid}.svg"
        if not _svg_current(path, data):
            path.write_text(figures.render_svg(figures.FIGURES[fid], data))
            changed.append(str(path.relative_to(specs)))
    return sorted(changed)
