"""One graph description, two renderings: Mermaid for the Markdown (the forge
draws it) and Graphviz DOT for the review site (rendered to SVG offline by
`dot` when the site is built; no script or CDN at view time).

Graphs are built from the model (balloonspec/docs/diagrams.py); nothing here
knows what they mean.
"""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field

SHAPES = ("box", "decision", "terminal", "call", "state", "start")


@dataclass
class Node:
    id: str
    lines: list[str]  # the label, one entry per line
    shape: str = "box"
    cluster: str = ""  # the cluster (subgraph) the node is drawn in


@dataclass
class Edge:
    src: str
    dst: str
    label: str = ""


@dataclass
class Graph:
    name: str
    title: str
    kind: str = "flowchart"  # flowchart | state
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    clusters: dict[str, str] = field(default_factory=dict)  # cluster id -> title, in drawing order

    def node(self, lines: list[str] | str, shape: str = "box", cluster: str = "", id: str | None = None) -> str:
        if shape not in SHAPES:
            raise ValueError(shape)
        nid = id or f"n{len(self.nodes)}"
        self.nodes[nid] = Node(nid, [lines] if isinstance(lines, str) else list(lines), shape, cluster)
        return nid

    def edge(self, src: str, dst: str, label: str = "") -> None:
        self.edges.append(Edge(src, dst, label))

    def cluster(self, cid: str, title: str) -> str:
        self.clusters[cid] = title
        return cid


# -- Mermaid ------------------------------------------------------------------------------------

def _mm(text: str) -> str:
    """Text inside a quoted Mermaid label (entity codes for what Mermaid parses)."""
    return (text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
            .replace("|", "#124;"))


_MM_SHAPE = {"box": '["{}"]', "decision": '{{"{}"}}', "terminal": '(["{}"])', "call": '[["{}"]]',
             "state": '("{}")', "start": '(("{}"))'}


def to_mermaid(g: Graph) -> str:
    if g.kind == "state":
        return _state_mermaid(g)
    out = ["flowchart TD"]

    def emit(n: Node, indent: str) -> None:
        out.append(indent + n.id + _MM_SHAPE[n.shape].format("<br>".join(_mm(x) for x in n.lines)))

    for n in g.nodes.values():
        if not n.cluster:
            emit(n, "    ")
    for cid, title in g.clusters.items():
        out.append(f'    subgraph {cid}["{_mm(title)}"]')
        for n in g.nodes.values():
            if n.cluster == cid:
                emit(n, "        ")
        out.append("    end")
    for e in g.edges:
        out.append(f'    {e.src} -->|"{_mm(e.label)}"| {e.dst}' if e.label else f"    {e.src} --> {e.dst}")
    return "\n".join(out)


def merged_edges(g: Graph) -> list[tuple[str, str, list[str]]]:
    """Parallel edges (same ends) as one edge with one label line each, in first-seen order."""
    out: dict[tuple[str, str], list[str]] = {}
    for e in g.edges:
        out.setdefault((e.src, e.dst), [])
        if e.label:
            out[(e.src, e.dst)].append(e.label)
    return [(s, d, labels) for (s, d), labels in out.items()]


def _state_mermaid(g: Graph) -> str:
    """stateDiagram-v2; a cluster is a composite state with its own start."""
    out = ["stateDiagram-v2"]
    edges = merged_edges(g)

    def emit(cluster: str, indent: str) -> None:
        for n in g.nodes.values():
            if n.shape != "start" and n.cluster == cluster:
                out.append(f'{indent}state "{" ".join(n.lines)}" as {n.id}')
        for src, dst, labels in edges:
            if g.nodes[dst].cluster != cluster:
                continue
            start = g.nodes[src].shape == "start"
            if not start and g.nodes[src].cluster != cluster:
                continue
            # a transition label ends at the line's end; Mermaid has no escape for ':' there
            label = "<br>".join(x.replace(":", " ") for x in labels)
            out.append(f"{indent}{'[*]' if start else src} --> {dst}" + (f" : {label}" if label else ""))

    emit("", "    ")
    for cid, title in g.clusters.items():
        out.append(f'    state "{title}" as {cid} {{')
        emit(cid, "        ")
        out.append("    }")
    return "\n".join(out)


# -- Graphviz -----------------------------------------------------------------------------------

def _dq(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


_DOT_SHAPE = {"box": 'shape=box, style="rounded"', "decision": "shape=diamond",
              "terminal": 'shape=box, style="rounded,filled", fillcolor="#eeeeee"',
              "call": "shape=box, peripheries=2", "state": 'shape=box, style="rounded,filled", fillcolor="#e8f0fe"',
              "start": 'shape=point, width=0.2'}


def _wrap(line: str, width: int = 56) -> list[str]:
    """A long transition label over several lines, broken after ' or ' and ', '."""
    out, cur = [], ""
    for piece in re.split(r"(?<= or )|(?<=, )", line):
        if cur and len(cur) + len(piece) > width:
            out.append(cur)
            cur = "    "
        cur += piece
    return out + [cur]


def to_dot(g: Graph) -> str:
    out = [f'digraph "{_dq(g.name)}" {{',
           '  graph [fontname="DejaVu Sans", fontsize=11, rankdir=TB, nodesep=0.35, ranksep=0.4];',
           '  node [fontname="DejaVu Sans", fontsize=10, margin="0.12,0.05"];',
           '  edge [fontname="DejaVu Sans", fontsize=9];']

    def emit(n: Node, indent: str) -> None:
        label = "" if n.shape == "start" else "\\n".join(_dq(x) for x in n.lines)
        out.append(f'{indent}{n.id} [label="{label}", {_DOT_SHAPE[n.shape]}];')

    for n in g.nodes.values():
        if not n.cluster:
            emit(n, "  ")
    for cid, title in g.clusters.items():
        out.append(f'  subgraph cluster_{cid} {{ label="{_dq(title)}"; style="rounded"; color="#999999";')
        for n in g.nodes.values():
            if n.cluster == cid:
                emit(n, "    ")
        out.append("  }")
    if g.kind == "state":
        for src, dst, labels in merged_edges(g):
            label = "".join(_dq(part) + "\\l" for x in labels for part in _wrap(x))
            out.append(f'  {src} -> {dst}' + (f' [label="{label}"]' if label else "") + ";")
    else:
        for e in g.edges:
            out.append(f'  {e.src} -> {e.dst}' + (f' [label="{_dq(e.label)}"]' if e.label else "") + ";")
    out.append("}")
    return "\n".join(out) + "\n"



class GraphvizMissing(RuntimeError):
    """Graphviz's `dot` is not installed (balloonspec setup installs it)."""


def render_svg(g: Graph) -> str:
    """The graph as SVG text, drawn by Graphviz's `dot` (deterministic for one version)."""
    try:
        r = subprocess.run(["dot", "-Tsvg"], input=to_dot(g), capture_output=True, text=True, check=False)
    except FileNotFoundError as e:
        raise GraphvizMissing("Graphviz `dot` not found: run `balloonspec setup` (apt package graphviz)") from e
    if r.returncode != 0:
        raise RuntimeError(f"dot failed on graph {g.name}: {r.stderr[-2000:]}")
    # dot writes a comment with its version and the graph's name: keep the picture only
    return re.sub(r"<!-- Generated by graphviz.*?-->\n", "", r.stdout, flags=re.S)
