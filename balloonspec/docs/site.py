"""The review site: specs/ as static HTML, built offline.

Sphinx with MyST-Parser reads the same Markdown the forge shows. Sphinx and
MyST are actively maintained, install from PyPI with `pip install -e .`, need
no network at build or view time (the theme's CSS and JS are copied into the
site), and `-W` turns a broken cross-reference into a build error. (MkDocs
would read the Markdown as well, but it has had no release since 2024.)

The pages are rendered fresh from the model (balloonspec.docs.render_page),
so the site always matches the model even before `balloonspec docs` is run.
Then, in a staging copy:

* each Mermaid diagram becomes an SVG drawn by Graphviz's `dot` from the same
  graph (graph.py), so viewing needs no script and no CDN;
* links to repository files (`../driver/vmw_balloon.c#L325`) go to source
  pages with one anchor per line, generated here;
* links to anchors that are not headings (`<a id=...>` in tables) become
  plain HTML links, which Sphinx passes through (tests/test_docs_site.py
  checks that every internal link of the built site resolves).
"""
from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from balloonspec import REPO

from . import PAGES, Context, FIGURES_DIR, render_page

SOURCE_DIR = "source"
DIAGRAM_DIR = "diagrams"
LINK = re.compile(r"(?<!!)\[([^\]\n]+)\]\(([^)\s]+)\)")
ANCHOR = re.compile(r'<a id="([^"]+)"></a>')
DIAGRAM_PART = re.compile(r"<!-- generated:diagram:(?P<name>\S+) -->\n(?P<body>.*?)<!-- end:diagram:(?P=name) -->",
                          re.S)

CONF = '''
project = "balloonspec: the VMware balloon driver's spec"
author = "balloonspec"
extensions = ["myst_parser"]
myst_heading_anchors = 4
root_doc = "index"
html_theme = "alabaster"
html_title = "balloonspec review"
html_theme_options = {"description": "Spec review: protocol, algorithm, proofs, findings, traceability",
                      "page_width": "1250px", "sidebar_width": "240px", "fixed_sidebar": True,
                      "show_relbars": True}
html_sidebars = {"**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]}
html_static_path = ["_static"]
html_copy_source = False
smartquotes = False  # C in prose: `size--` stays `size--`
html_show_copyright = False
html_show_sphinx = False
suppress_warnings = ["misc.highlighting_failure"]
'''


CSS = """
table.docutils { font-size: 0.86em; }
table.docutils td, table.docutils th { padding: 0.25em 0.5em; }
pre.source-listing { font-size: 0.82em; line-height: 1.35; }
pre.source-listing a.ln { color: #999; text-decoration: none; border: none; }
pre.source-listing span:target { background: #fff3b0; display: inline-block; width: 100%; }
div.body img { max-width: 100%; height: auto; }
"""


class SiteError(RuntimeError):
    """The site could not be built (a tool missing, a broken reference)."""


def _flat(rel: str) -> str:
    return rel.replace("/", "__")


def _text_html(text: str) -> str:
    """A Markdown link text as HTML (code spans kept)."""
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(f"<code>{html.escape(p[1:-1])}</code>" if p.startswith("`") else html.escape(p) for p in parts)


def source_page(rel: str) -> str:
    lines = (REPO / rel).read_text(errors="replace").splitlines()
    width = len(str(len(lines)))
    body = "\n".join(f'<span id="L{n}"><a class="ln" href="#L{n}">{n:>{width}}</a>  {html.escape(line)}</span>'
                     for n, line in enumerate(lines, 1))
    return (f"---\norphan: true\n---\n\n# `{rel}`\n\n"
            f'<pre class="source-listing">\n{body}\n</pre>\n')


def _rewrite_links(text: str, page: str, anchors: dict[str, set[str]], sources: set[str]) -> str:
    def link(m):
        label, target = m.group(1), m.group(2)
        if re.match(r"[a-z]+:", target):
            return m.group(0)
        path, _, frag = target.partition("#")
        if path.startswith("../"):
            rel = path[3:]
            if not (REPO / rel).is_file():
                raise SiteError(f"link to a missing file: {target}")
            sources.add(rel)
            href = f"{SOURCE_DIR}/{_flat(rel)}.html" + (f"#{frag}" if frag else "")
            return f'<a href="{href}">{_text_html(label)}</a>'
        if path == "README.md":  # the index of the site
            return f"[{label}](index.md" + (f"#{frag})" if frag else ")")
        if frag and frag in anchors.get(path or page, set()):
            href = (path[:-3] + ".html" if path else "") + f"#{frag}"
            return f'<a href="{href}">{_text_html(label)}</a>'
        return m.group(0)

    out = []
    for chunk in re.split(r"(```.*?```)", text, flags=re.S):  # never inside code blocks
        out.append(chunk if chunk.startswith("```") else LINK.sub(link, chunk))
    return "".join(out)


def stage(src: Path, progress=lambda msg: None) -> None:
    """Write the Sphinx source tree of the site into `src`."""
    from . import figures
    from .diagrams import graph
    from .graph import GraphvizMissing, render_svg

    ctx = Context(progress)
    pages = {name: render_page(name, ctx) for name, _ in PAGES}
    anchors = {name: set(ANCHOR.findall(text)) for name, text in pages.items()}
    sources: set[str] = set()
    (src / DIAGRAM_DIR).mkdir(parents=True)
    (src / FIGURES_DIR).mkdir()

    def diagram(m):
        name = m.group("name")
        g = graph(name)
        try:
            (src / DIAGRAM_DIR / f"{name}.svg").write_text(render_svg(g))
        except GraphvizMissing as e:
            raise SiteError(str(e)) from e
        return (f"*{g.title}; drawn by Graphviz from the model.*\n\n"
                f"[![{g.title}]({DIAGRAM_DIR}/{name}.svg)]({DIAGRAM_DIR}/{name}.svg)\n")

    for name, text in pages.items():
        text = DIAGRAM_PART.sub(diagram, text)
        text = _rewrite_links(text, name, anchors, sources)
        out = "index.md" if name == "README.md" else name
        if name == "README.md":
            toc = "\n".join(n[:-3] for n, _ in PAGES[1:])
            text += f"\n```{{toctree}}\n:hidden:\n:maxdepth: 2\n\n{toc}\n```\n"
        (src / out).write_text(text)
    for fid, data in ctx.figures.items():
        (src / FIGURES_DIR / f"{fid}.svg").write_text(figures.render_svg(figures.FIGURES[fid], data))
    (src / SOURCE_DIR).mkdir()
    for rel in sorted(sources):
        (src / SOURCE_DIR / f"{_flat(rel)}.md").write_text(source_page(rel))
    (src / "conf.py").write_text(CONF)
    (src / "_static").mkdir()
    (src / "_static" / "custom.css").write_text(CSS)


def build(out: str | Path, progress=lambda msg: None) -> Path:
    """Build the site into `out` (replaced); returns its index.html."""
    out = Path(out).resolve()
    with tempfile.TemporaryDirectory(prefix="balloonspec-site-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        progress("rendering pages, diagrams and figures from the model")
        stage(src, progress)
        progress("building the site (sphinx)")
        if out.exists():
            shutil.rmtree(out)
        r = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q",
                            "-d", str(Path(tmp) / "doctrees"), str(src), str(out)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SiteError(f"sphinx failed:\n{(r.stderr or r.stdout)[-4000:]}")
    return out / "index.html"
