"""Figures of the spec: named scenarios run through the model's predictor
(model/predict.py), plotted with matplotlib.

Each figure has a scenario (a `Scenario` built here, or a finding's witness
from model/proofs/witnesses.py), the data the plot shows (`data()`: plain
numbers per work cycle, written next to the SVG as JSON), and the commands
that reproduce it: `balloonspec docs --figure ID` prints the data,
`balloonspec docs --scenario ID` the scenario for `balloonspec run`.

Determinism: the SVG is written with a fixed `svg.hashsalt`, text kept as
text and no date; its metadata carries the digest of its data. The staleness
check (`balloonspec docs --check`) compares the data and that digest, not the
SVG's bytes, which differ between matplotlib versions.
"""
from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from typing import Callable

from balloonspec.model import constants as C
from balloonspec.model.predict import predict
from balloonspec.model.proofs.witnesses import WITNESSES
from balloonspec.model.scenario import AllocRule, HostRule, Scenario, Step
from balloonspec.model.trace import Kind

PFN_4G = 1 << 32
NOSLEEP, CANSLEEP = C.VMW_PAGE_ALLOC_NOSLEEP, C.VMW_PAGE_ALLOC_CANSLEEP


# -- scenarios ------------------------------------------------------------------------------------

class _Steps:
    """Builds a step list and remembers where the marked steps are (rule scopes, plot markers)."""

    def __init__(self):
        self.steps: list[Step] = []

    def add(self, kind: str, arg: int = 0) -> int:
        self.steps.append(Step(kind, arg))
        return len(self.steps) - 1

    def cycles(self, n: int) -> list[int]:
        return [self.add("cycle") for _ in range(n)]


def size_vs_target() -> Scenario:
    """Inflate to 50,000 pages, a host reset in the middle, then deflate to 20,000."""
    s = _Steps()
    s.add("init")
    s.cycles(5)
    s.add("host_reset")
    s.cycles(4)
    s.add("set_target", 20000)
    s.cycles(4)
    s.add("set_target", 0)
    s.cycles(3)
    return Scenario(id="fig-size-target", target=50000, steps=tuple(s.steps))


def memory_pressure() -> Scenario:
    """A large target under memory pressure: NOSLEEP allocations fail in cycles 2-7
    (after 1,000 pages), sleeping allocations fail in cycles 3 and 4 (after 300); the
    pressure ends; then the host lowers the target and refuses the first UNLOCK of
    cycles 14-16."""
    s = _Steps()
    s.add("init")
    c = s.cycles(13)
    rules = [AllocRule(gfp=NOSLEEP, nth=1000, count=1, scope=c[k]) for k in range(1, 7)]
    rules += [AllocRule(gfp=CANSLEEP, nth=300, count=1, scope=c[k]) for k in (2, 3)]
    s.add("set_target", 20000)
    d = s.cycles(8)
    host = [HostRule(cmd=C.VMW_BALLOON_CMD_UNLOCK, status=C.VMW_BALLOON_ERROR_PPN_PINNED, scope=d[k])
            for k in (1, 2, 3)]
    return Scenario(id="fig-memory-pressure", target=150000, steps=tuple(s.steps), alloc_rules=tuple(rules),
                    host_rules=tuple(host))


HIGH_PFN_LOW_PAGES = 3000


def high_pfn_leak() -> Scenario:
    """PFNs cross 2^32 after 3,000 pages; every 4,000th allocation fails (the only way a
    cycle that met such a page ends)."""
    s = _Steps()
    s.add("init")
    s.cycles(6)
    fails = tuple(AllocRule(gfp=0, nth=4000 * k, count=1) for k in range(1, 16))
    return Scenario(id="fig-high-pfn-leak", target=12000, pfn_base=PFN_4G - HIGH_PFN_LOW_PAGES,
                    steps=tuple(s.steps), alloc_rules=fails)


def nosleep_plus_one() -> Scenario:
    """A 60,000-page target: three cycles at the NOSLEEP rate, then a NOSLEEP failure
    (cycle 4, after 100 pages) and the slow cycles at rate_alloc."""
    s = _Steps()
    s.add("init")
    c = s.cycles(7)
    return Scenario(id="fig-nosleep-plus-one", target=60000, steps=tuple(s.steps),
                    alloc_rules=(AllocRule(gfp=NOSLEEP, nth=100, count=1, scope=c[3]),))


def rate_up() -> Scenario:
    """The first NOSLEEP allocation of every cycle fails (memory pressure every cycle);
    in cycle 1 the sleeping allocation fails too."""
    s = _Steps()
    s.add("init")
    c = s.cycles(8)
    rules = [AllocRule(gfp=NOSLEEP, nth=1, count=1, scope=k) for k in c]
    rules.insert(1, AllocRule(gfp=CANSLEEP, nth=1, count=1, scope=c[0]))
    return Scenario(id="fig-rate-up", target=200000, steps=tuple(s.steps), alloc_rules=tuple(rules))


SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "fig-size-target": size_vs_target,
    "fig-memory-pressure": memory_pressure,
    "fig-high-pfn-leak": high_pfn_leak,
    "fig-nosleep-plus-one": nosleep_plus_one,
    "fig-rate-up": rate_up,
    **{wid: w.build for wid, w in WITNESSES.items()},
}


def scenario(name: str) -> Scenario:
    if name not in SCENARIOS:
        raise KeyError(f"no scenario {name!r}; known: {', '.join(sorted(SCENARIOS))}")
    return SCENARIOS[name]()


# -- the data: one row per work cycle -----------------------------------------------------------------

def cycles(sc: Scenario) -> list[dict]:
    """Run the predictor; one row per `cycle` step that ran the work item: the
    driver's state after it and what the cycle did (counted from its events)."""
    p = predict(sc)
    if p.hung:
        raise RuntimeError(f"{sc.id}: the prediction did not finish")
    rows, held = [], 0
    groups: list[list[tuple]] = []
    for e in p.events:
        if e[0] == Kind.STEP:
            groups.append([])
        groups[-1].append(e)
    for idx, evs in enumerate(groups):
        allocs = [e for e in evs if e[0] == Kind.ALLOC]
        frees = sum(1 for e in evs if e[0] == Kind.FREE)
        held += sum(1 for e in allocs if e[2]) - frees
        if not any(e[0] == Kind.WORK_RUN for e in evs):
            continue
        after = p.snapshots[idx + 1]
        b = after.balloon
        calls = [e for e in evs if e[0] == Kind.BACKDOOR]
        rows.append({
            "cycle": after.cycle,
            "step": idx,
            "host_target": after.host["target"],
            "target": b["target"],
            "size": b["size"],
            "held": held,
            "lost": b["lost"],
            "rate_alloc": b["rate_alloc"],
            "rate_free": b["rate_free"],
            "slow_allocation_cycles": b["slow_allocation_cycles"],
            "alloc_nosleep": sum(1 for e in allocs if e[1] == NOSLEEP),
            "alloc_nosleep_failed": sum(1 for e in allocs if e[1] == NOSLEEP and not e[2]),
            "alloc_cansleep": sum(1 for e in allocs if e[1] == CANSLEEP),
            "alloc_cansleep_failed": sum(1 for e in allocs if e[1] == CANSLEEP and not e[2]),
            "locked": sum(1 for e in calls if e[2] == C.VMW_BALLOON_CMD_LOCK and e[5] == 0),
            "lock_refused": sum(1 for e in calls if e[2] == C.VMW_BALLOON_CMD_LOCK and e[5] != 0),
            "unlocked": sum(1 for e in calls if e[2] == C.VMW_BALLOON_CMD_UNLOCK and e[5] == 0),
            "unlock_refused": sum(1 for e in calls if e[2] == C.VMW_BALLOON_CMD_UNLOCK and e[5] != 0),
            "reset": any(e[2] == C.VMW_BALLOON_CMD_START for e in calls),
            "host_reset_before": any(sc.steps[k].kind == "host_reset" for k in range(rows[-1]["step"] + 1 if rows
                                                                                     else 0, idx)),
        })
    return rows


def _col(rows, key):
    return [r[key] for r in rows]


# -- the figures ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Figure:
    id: str
    title: str
    scenario: str  # a SCENARIOS name
    caption: str  # what the figure shows and what to look at
    columns: tuple[str, ...]  # the per-cycle data it plots
    plot: Callable  # plot(rows, fig)
    finding: str | None = None  # findings.md section it illustrates

    @property
    def commands(self) -> str:
        return (f"`balloonspec docs --figure {self.id}` (the data), "
                f"`balloonspec docs --scenario {self.scenario} > {self.scenario}.json && "
                f"balloonspec run {self.scenario}.json` (the seed driver's trace)")


def _marks(ax, rows):
    for r in rows:
        if r["host_reset_before"]:
            ax.axvline(r["cycle"] - 0.5, color="#c0392b", lw=0.8, ls="--")
            ax.annotate("host reset", (r["cycle"] - 0.5, 1), xycoords=("data", "axes fraction"), fontsize=7,
                        color="#c0392b", ha="right", va="top", rotation=90)


def _plot_size_target(rows, fig):
    ax = fig.subplots()
    x = _col(rows, "cycle")
    ax.step(x, _col(rows, "host_target"), where="post", color="#7f8c8d", lw=1.2, label="host target")
    ax.plot(x, _col(rows, "size"), "o-", color="#2c6fbb", ms=3, lw=1.4, label="balloon size (pages)")
    _marks(ax, rows)
    ax.set_xlabel("work cycle")
    ax.set_ylabel("pages")
    ax.legend(loc="upper right", fontsize=8)


def _plot_pressure(rows, fig):
    axes = fig.subplots(4, 1, sharex=True)
    x = _col(rows, "cycle")
    a = axes[0]
    a.bar(x, _col(rows, "alloc_nosleep_failed"), color="#c0392b", label="NOSLEEP failed")
    a.bar(x, _col(rows, "alloc_cansleep_failed"), bottom=_col(rows, "alloc_nosleep_failed"), color="#e67e22",
          label="CANSLEEP failed")
    a.bar(x, _col(rows, "unlock_refused"), color="#8e44ad", label="UNLOCK refused")
    a.set_ylabel("failures")
    a.legend(fontsize=7, ncol=3, loc="upper right")
    axes[1].step(x, _col(rows, "rate_alloc"), where="mid", color="#2c6fbb")
    axes[1].set_ylabel("rate_alloc")
    axes[1].axhline(C.VMW_BALLOON_RATE_ALLOC_MIN, color="#999999", lw=0.6, ls=":")
    axes[2].step(x, _col(rows, "rate_free"), where="mid", color="#27ae60")
    axes[2].set_ylabel("rate_free")
    axes[2].set_yscale("log", base=2)
    axes[3].step(x, _col(rows, "slow_allocation_cycles"), where="mid", color="#e67e22")
    axes[3].set_ylabel("slow cycles")
    axes[3].set_xlabel("work cycle (state after the cycle)")
    for a in axes:
        a.label_outer()


def _plot_unlock_head(rows, fig):
    ax, ax2 = fig.subplots(1, 2)
    x = _col(rows, "cycle")
    ax.step(x, _col(rows, "host_target"), where="post", color="#7f8c8d", label="host target")
    ax.plot(x, _col(rows, "size"), "o-", color="#2c6fbb", ms=3, label="balloon size")
    ax.bar(x, _col(rows, "unlock_refused"), color="#8e44ad", alpha=0.6, label="UNLOCK refused (same PPN)")
    ax.set_xlabel("work cycle")
    ax.set_ylabel("pages")
    ax.legend(fontsize=7)
    ax2.plot(x, _col(rows, "rate_free"), "s-", color="#27ae60", ms=3)
    ax2.set_yscale("log", base=2)
    ax2.set_xlabel("work cycle")
    ax2.set_ylabel("rate_free")


def _plot_high_pfn(rows, fig):
    ax = fig.subplots()
    x = _col(rows, "cycle")
    ax.plot(x, _col(rows, "held"), "o-", color="#c0392b", ms=3, label="pages the driver holds")
    ax.plot(x, _col(rows, "size"), "s-", color="#2c6fbb", ms=3, label="balloon size (locked)")
    ax.plot(x, _col(rows, "lost"), "^--", color="#8e44ad", ms=3, label="leaked (PFN ≥ 2^32, never freed)")
    ax.step(x, _col(rows, "host_target"), where="post", color="#7f8c8d", lw=1, label="host target")
    ax.set_xlabel("work cycle")
    ax.set_ylabel("pages")
    ax.legend(fontsize=7, loc="upper left")


def _plot_plus_one(rows, fig):
    ax, ax2 = fig.subplots(1, 2)
    x = _col(rows, "cycle")
    # the cycle's rate: NOSLEEP_ALLOC_MAX, or rate_alloc in a slow cycle or once a NOSLEEP allocation failed
    limit = [C.VMW_BALLOON_NOSLEEP_ALLOC_MAX if r["slow_allocation_cycles_before"] == 0
             and not r["alloc_nosleep_failed"] else r["rate_alloc_before"] for r in rows]
    ax.bar(x, _col(rows, "locked"), color="#2c6fbb", label="pages locked in the cycle")
    ax.step(x, limit, where="mid", color="#c0392b", label="the cycle's rate limit")
    ax.set_xlabel("work cycle")
    ax.set_ylabel("pages")
    ax.legend(fontsize=7)
    excess = [r["locked"] - lim for r, lim in zip(rows, limit)]
    ax2.bar(x, excess, color="#c0392b")
    ax2.set_xlabel("work cycle")
    ax2.set_ylabel("locked - limit")
    ax2.set_yticks(sorted(set(excess)))


def _plot_rate_up(rows, fig):
    ax = fig.subplots()
    x = _col(rows, "cycle")
    ax.plot(x, _col(rows, "rate_alloc"), "o-", color="#2c6fbb", ms=3, label="rate_alloc after the cycle")
    for r in rows:
        if r["alloc_nosleep_failed"] or r["alloc_cansleep_failed"]:
            ax.axvspan(r["cycle"] - 0.4, r["cycle"] + 0.4, color="#e67e22", alpha=0.15, lw=0)
    ax.set_xlabel("work cycle (shaded: a cycle in which an allocation failed)")
    ax.set_ylabel("rate_alloc (pages per cycle)")
    ax.legend(fontsize=8)


def _with_before(rows: list[dict]) -> list[dict]:
    """Add the state each cycle started from (the rate limit is chosen at its start)."""
    out, prev = [], {"rate_alloc": C.VMW_BALLOON_RATE_ALLOC_MAX, "slow_allocation_cycles": 0}
    for r in rows:
        # the work item decrements the slow-cycle count before it inflates
        out.append({**r, "rate_alloc_before": prev["rate_alloc"],
                    "slow_allocation_cycles_before": max(prev["slow_allocation_cycles"] - 1, 0)})
        prev = r
    return out


FIGURES: dict[str, Figure] = {f.id: f for f in [
    Figure("balloon-size", "Balloon size against the host's target",
           "fig-size-target",
           "Inflation moves at most NOSLEEP_ALLOC_MAX + 1 pages per cycle; after the host resets, one "
           "cycle sees ERROR_RESET and the next pops the whole balloon (without UNLOCK) and restarts; "
           "deflation moves at most rate_free pages per cycle.",
           ("host_target", "size", "host_reset_before"), _plot_size_target),
    Figure("rates-under-pressure", "rate_alloc, rate_free and slow_allocation_cycles under memory pressure",
           "fig-memory-pressure",
           "A NOSLEEP failure sets slow_allocation_cycles to SLOW_CYCLES and the cycle continues with sleeping "
           "allocations at rate_alloc; a sleeping failure halves rate_alloc (floor RATE_ALLOC_MIN); a cycle that "
           "reaches rate_alloc without error raises it by RATE_ALLOC_INC per rate_alloc pages; a refused UNLOCK "
           "halves rate_free, a deflate without error raises it by RATE_FREE_INC.",
           ("alloc_nosleep_failed", "alloc_cansleep_failed", "unlock_refused", "rate_alloc", "rate_free",
            "slow_allocation_cycles"), _plot_pressure),
    Figure("f-unlock-head", "One pinned page blocks all deflation", "wit-unlock-head-blocks",
           "The host lowers the target to 0 but refuses to UNLOCK one page for 6 cycles: each cycle tries the "
           "same page at the head of b->pages and returns, the balloon does not shrink at all and rate_free "
           "halves every cycle down to RATE_FREE_MIN; when the host accepts, one cycle deflates everything.",
           ("host_target", "size", "unlock_refused", "rate_free"), _plot_unlock_head, "F-UNLOCK-HEAD"),
    Figure("f-high-pfn", "Pages with PFNs above 2^32 are leaked", "fig-high-pfn-leak",
           "After 3,000 pages the allocator's PFNs no longer fit 32 bits: every such page is neither locked "
           "nor freed, and a cycle allocates until the allocator fails. The balloon stays at 3,000 pages while "
           "the pages the driver holds grow every cycle: the difference is leaked.",
           ("host_target", "size", "held", "lost"), _plot_high_pfn, "F-HIGH-PFN"),
    Figure("f-nosleep-plus-one", "Inflate cycles lock one page more than their rate",
           "fig-nosleep-plus-one",
           "The `i >= rate` test comes after the allocation: cycles at the NOSLEEP rate lock "
           "NOSLEEP_ALLOC_MAX + 1 = 16,385 pages, the slow cycles after a NOSLEEP failure lock rate_alloc + 1; "
           "only the cycle in which the failure happens stays within its rate (the failed attempt used up "
           "one iteration).",
           ("locked", "alloc_nosleep_failed", "rate_alloc_before", "slow_allocation_cycles_before"),
           _plot_plus_one, "F-NOSLEEP-PLUS-ONE"),
    Figure("f-rate-up", "rate_alloc rises in cycles in which an allocation failed", "fig-rate-up",
           "Every cycle's first NOSLEEP allocation fails, yet from cycle 2 on rate_alloc rises by RATE_ALLOC_INC "
           "each cycle: the increase only looks at the last allocation's error.",
           ("rate_alloc", "alloc_nosleep_failed", "alloc_cansleep_failed"), _plot_rate_up, "F-RATE-UP"),
]}


def figure_data(fig: Figure) -> dict:
    rows = _with_before(cycles(scenario(fig.scenario)))
    return {"figure": fig.id, "scenario": fig.scenario,
            "rows": [{k: r[k] for k in ("cycle", *fig.columns)} for r in rows]}


def digest(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def render_svg(fig: Figure, data: dict) -> str:
    """The figure as SVG text; the same data gives the same bytes with one matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure as MplFigure

    rc = {"svg.hashsalt": "balloonspec", "svg.fonttype": "none", "font.family": "DejaVu Sans",
          "font.size": 8, "axes.grid": True, "grid.alpha": 0.3}
    with matplotlib.rc_context(rc):
        tall = len(fig.columns) > 5
        mpl = MplFigure(figsize=(7.2, 5.6 if tall else 3.4), layout="constrained")
        fig.plot(data["rows"], mpl)
        mpl.suptitle(f"{fig.title}\nscenario {fig.scenario}", fontsize=9)
        out = io.StringIO()
        mpl.savefig(out, format="svg", metadata={"Date": None, "Title": fig.title,
                                                 "Description": f"balloonspec figure {fig.id}; data sha256 "
                                                                f"{digest(data)}"})
    return out.getvalue()


def svg_digest(svg: str) -> str | None:
    """The data digest an SVG was rendered from (None if it has none)."""
    import re

    m = re.search(r"data sha256 ([0-9a-f]{64})", svg)
    return m.group(1) if m else None


# -- the Markdown ---------------------------------------------------------------------------------

def _source(name: str) -> str:
    return "model/proofs/witnesses.py" if name in WITNESSES else "balloonspec/docs/figures.py"


def embed(fig: Figure) -> str:
    """The figure with its caption, scenario and commands (figures.md, findings.md)."""
    finding = f" It illustrates [{fig.finding}](findings.md#{fig.finding.lower()})." if fig.finding else ""
    return (f"![{fig.title}](figures/{fig.id}.svg)\n\n"
            f"*Figure `{fig.id}`.* {fig.caption}{finding} Scenario `{fig.scenario}` ({_source(fig.scenario)}), "
            f"run through the model's predictor. Reproduce: {fig.commands}.")


def render_page() -> str:
    out = ["# Figures: the balloon over time\n",
           "<!-- Generated by balloonspec.docs.figures (balloonspec docs); do not edit. -->\n",
           "Each figure is a named scenario run through the model's predictor (`model/predict.py`), one "
           "point per work cycle (the driver's state after the cycle, and what the cycle did). The data "
           "behind each figure is in `specs/figures/ID.json`; `balloonspec docs --check` fails when the data "
           "or the figure drawn from it is stale. Every scenario also runs on a driver build: "
           "`balloonspec docs --scenario NAME` prints it as JSON for `balloonspec run`.\n"]
    general = [f for f in FIGURES.values() if not f.finding]
    findings = [f for f in FIGURES.values() if f.finding]
    for title, figs in (("Dynamics", general), ("Findings", findings)):
        out.append(f"## {title}\n")
        for f in figs:
            out.append(f"### {f.title}\n")
            out.append(f"<!-- generated:figure:{f.id} -->\n<!-- end:figure:{f.id} -->\n")
    return "\n".join(out).rstrip() + "\n"
