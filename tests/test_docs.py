"""The generated review documents of specs/: fresh, detected when stale, and
drawn from the model (diagrams), the predictor (figures) and the C (traceability)."""
import ast
import inspect
import json
import shutil

import pytest

from balloonspec import SEED_DRIVER, docs
from balloonspec.conformance import coverage as COV
from balloonspec.docs import diagrams, figures, flow, traceability
from balloonspec.docs.graph import Graph, to_dot, to_mermaid
from balloonspec.model import algorithm as A
from balloonspec.model import debugfs as D
from balloonspec.model import protocol as P


@pytest.fixture(scope="module")
def matrix():
    return traceability.build()


def test_specs_are_not_stale(capsys):
    """`balloonspec docs --check` in the test suite: pages, parts, figure data and figures."""
    from balloonspec.cli import main

    rc = main(["docs", "--check"])
    assert rc == 0, "run `balloonspec docs` to regenerate specs/:\n" + capsys.readouterr().out


def test_staleness_is_detected(tmp_path):
    specs = tmp_path / "specs"
    shutil.copytree(docs.SPECS, specs)
    # a hand edit inside a generated part, a figure's data, and a figure drawn from other data
    proto = specs / "protocol.md"
    proto.write_text(proto.read_text().replace("| 2 | `LOCK` |", "| 2 | `LOCK_PAGE` |", 1))
    data = specs / "figures" / "balloon-size.json"
    d = json.loads(data.read_text())
    d["rows"][0]["size"] += 1
    data.write_text(json.dumps(d))
    svg = specs / "figures" / "f-rate-up.svg"
    svg.write_text(svg.read_text().replace("data sha256 ", "data sha256 0"))
    (specs / "figures" / "f-high-pfn.svg").unlink()
    trace = specs / "traceability.md"
    trace.write_text(trace.read_text().replace("**NOT REACHED**", "reached").replace("| decisions |", "| dec |"))
    found = docs.stale(specs)
    assert set(found) == {"protocol.md", "figures/balloon-size.json", "figures/f-rate-up.svg",
                          "figures/f-high-pfn.svg", "traceability.md"}
    assert set(docs.regenerate(specs)) == set(found)
    assert docs.stale(specs) == []


def test_specs_show_the_diagrams_and_figures():
    text = {name: (docs.SPECS / name).read_text() for name, _ in docs.PAGES}
    for name, (_, page) in diagrams.DIAGRAMS.items():
        assert f"<!-- generated:diagram:{name} -->\n" in text[page] and "```mermaid" in text[page]
    assert len(diagrams.DIAGRAMS) >= 4
    for fid, f in figures.FIGURES.items():
        assert f"![{f.title}](figures/{fid}.svg)" in text["figures.md"]
        if f.finding:
            assert f"figures/{fid}.svg" in text["findings.md"]
    assert len(figures.FIGURES) >= 6 and sum(1 for f in figures.FIGURES.values() if f.finding) >= 3


# -- diagrams ------------------------------------------------------------------------------

def test_protocol_diagram_is_the_transition_table():
    """Every row of the table StrictHost runs, and every status, is drawn."""
    g = diagrams.protocol()
    labels = "\n".join(e.label for e in g.edges)
    for t in P.TRANSITIONS:
        assert t.command in labels and (t.status or "no reply") in labels
    for _, (name, _) in P.STATUS.items():
        assert name in labels, name
    mm = to_mermaid(g)
    assert mm.startswith("stateDiagram-v2") and "not_started --> started" in mm
    assert "started -> reset_pending" in to_dot(g)


def test_flow_is_drawn_from_the_function_source():
    """A decision, a loop, a return and a statistics counter of a model-style function."""
    def step(ops, b, env):
        s = b.stats
        s.alloc = ops.add(s.alloc, ops.k.ONE)
        if ops.cond(ops.ult(b.size, b.target)):
            env.cond_resched()
            return True
        while b.pages:
            b.size = ops.sub(b.size, ops.k.ONE)
        return False

    g = Graph("t", "t")
    flow.add_flow(g, step)
    labels = {n.id: "\n".join(n.lines) for n in g.nodes.values()}
    assert "size < target?" in labels.values() and "pages not empty?" in labels.values()
    assert "cond_resched()" in labels.values() and "size = size - 1" in labels.values()
    assert not any("alloc" in x for x in labels.values())  # statistics are not drawn
    decision = next(k for k, v in labels.items() if v == "size < target?")
    arms = {e.label: labels[e.dst] for e in g.edges if e.src == decision}
    assert arms == {"yes": "cond_resched()", "no": "pages not empty?"}


def test_inflate_diagram_has_every_decision_of_inflate_attempt():
    """Every `if ops.cond` of inflate_attempt that does more than count is a diamond."""
    tree = flow.function_ast(A.inflate_attempt)
    tests = [flow.expr(n.test.operand if isinstance(n.test, ast.UnaryOp) else n.test)
             for n in ast.walk(tree) if isinstance(n, ast.If) and (flow._drawable(n.body) or flow._drawable(n.orelse))]
    g = diagrams.inflate()
    decisions = {" ".join(n.lines) for n in g.nodes.values() if n.shape == "decision"}
    assert len(tests) >= 10
    for t in tests:
        assert any(d.startswith(t) for d in decisions), t


# -- figures ---------------------------------------------------------------------------------

def test_figure_svg_is_deterministic_and_carries_its_data_digest():
    f = figures.FIGURES["f-rate-up"]
    data = figures.figure_data(f)
    a, b = figures.render_svg(f, data), figures.render_svg(f, data)
    assert a == b
    assert "<dc:date>" not in a and figures.svg_digest(a) == figures.digest(data)


def test_figures_show_the_findings(matrix):
    """The data behind the finding figures shows each defect."""
    rows = figures.figure_data(figures.FIGURES["f-nosleep-plus-one"])["rows"]
    assert rows[0]["locked"] == P.C.VMW_BALLOON_NOSLEEP_ALLOC_MAX + 1
    rows = figures.figure_data(figures.FIGURES["f-unlock-head"])["rows"]
    stuck = [r for r in rows if r["unlock_refused"]]
    assert len(stuck) >= 3 and len({r["size"] for r in stuck}) == 1 and stuck[0]["host_target"] < stuck[0]["size"]
    rows = figures.figure_data(figures.FIGURES["f-high-pfn"])["rows"]
    assert rows[-1]["held"] - rows[-1]["size"] == rows[-1]["lost"] > rows[0]["lost"] > 0
    rows = figures.figure_data(figures.FIGURES["f-rate-up"])["rows"]
    assert all(r["alloc_nosleep_failed"] for r in rows) and rows[-1]["rate_alloc"] > rows[1]["rate_alloc"]


def test_every_figure_scenario_is_a_valid_script():
    for name in figures.SCENARIOS:
        assert figures.scenario(name).to_script().startswith(f"# scenario {name}")


# -- traceability ------------------------------------------------------------------------------

def test_every_c_function_is_mapped_to_the_spec():
    names = {f.name for d in (True, False) for f in COV.functions(SEED_DRIVER, d)}
    assert names == set(A.C_FUNCTIONS)
    for parts in A.C_FUNCTIONS.values():
        for name, _ in parts:
            module, fn = (D, name.split(".", 1)[1]) if "." in name else (A, name)
            assert inspect.isfunction(getattr(module, fn)), name


def test_matrix_covers_every_decision_of_the_seed(matrix):
    lines = {d.line for debugfs in (True, False) for d in COV.decisions(SEED_DRIVER, debugfs)}
    assert {d.line for d in matrix.decisions} == lines
    text = traceability.render(matrix)
    for line in lines:
        assert f'<a id="d{line}"></a>' in text
    for v in matrix.vectors:
        assert f'<a id="vector-{v.id}"></a>' in text


def test_outcome_labels_agree_with_line_counts(matrix):
    """The true/false reading of gcov's arcs (traceability.py) checked on this compiler:
    for an `if` of one condition, the vectors taking `true` are exactly those that run
    the first line of its then-branch."""
    from balloonspec.docs.vectorcov import measure

    cov = measure(matrix.vectors, SEED_DRIVER)
    src = SEED_DRIVER.read_text().splitlines()
    checked = 0
    for d in matrix.decisions:
        if d.kinds != ["if"] or len(d.conditions) != 1:
            continue
        then = d.span[-1] + 1
        while then <= len(src) and not any(then in c.lines for c in cov.values()):
            then += 1
        if then > d.last:
            continue
        runs_then = sorted(v for v, c in cov.items() if c.lines.get(then, 0))
        true = next(o for o in d.conditions[0].outcomes if o.label == "true")
        assert true.vectors == runs_then, (d.line, then)
        checked += 1
    assert checked >= 25


def test_unreached_and_unconstrained_stand_out(matrix):
    s = traceability.summary(matrix)
    text = traceability.render(matrix)
    assert s["outcomes"] == s["outcomes_reached"] + s["outcomes_unreachable"] + len(s["not_reached"])
    assert text.count(": *unreachable* (") == s["outcomes_unreachable"] >= 1
    for d in s["unconstrained"]:
        assert f'<a id="{d.anchor}"></a>' in text
    row = next(line for line in text.splitlines() if line.startswith(f'| <a id="{s["unconstrained"][0].anchor}">'))
    assert row.rstrip(" |").endswith("**none**") or "| **none** |" in row


def test_figure_scenarios_replay_on_the_seed(seed_binary):
    """What a figure shows is what the driver does: each figure's scenario, run on the
    compiled seed, gives exactly the trace the model predicted for the figure."""
    from balloonspec.conformance.compare import first_divergence
    from balloonspec.driver.userspace import run_scenario
    from balloonspec.model.predict import predict

    for f in figures.FIGURES.values():
        sc = figures.scenario(f.scenario)
        run = run_scenario(seed_binary, sc.to_script(), scenario_id=sc.id)
        assert run.verdict == "ok", f.id
        assert first_divergence(predict(sc).events, run.events) is None, f.id
