"""The review site (`balloonspec docs --site OUT`): built offline, every internal
link resolves, every diagram and figure is there, and a headless browser
(Debian's chromium) renders the index and the protocol page."""
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from balloonspec.cli import main
from balloonspec.docs import PAGES, diagrams, figures

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[tuple[str, str]] = []  # (tag, url)
        self.imgs: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        if tag == "a" and a.get("href"):
            self.links.append((tag, a["href"]))
        if tag in ("img", "script") and a.get("src"):
            self.links.append((tag, a["src"]))
            if tag == "img":
                self.imgs.append(a["src"])
        if tag == "link" and a.get("href"):
            self.links.append((tag, a["href"]))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "site"
    assert main(["docs", "--site", str(out)]) == 0
    return out


def _parse(path: Path) -> Page:
    p = Page()
    p.feed(path.read_text(errors="replace"))
    return p


def test_every_internal_link_resolves(site):
    pages = {p: _parse(p) for p in site.rglob("*.html")}
    assert len(pages) >= len(PAGES) + 3  # the spec pages, source pages, search and index
    broken = []
    for path, page in pages.items():
        for tag, url in page.links:
            parts = urlsplit(url)
            if parts.scheme or parts.netloc:
                assert tag == "a", f"{path.name}: a {tag} loads {url}: the site must work offline"
                continue
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if not target.exists():
                broken.append(f"{path.relative_to(site)}: {url}")
                continue
            if parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else _parse(target).ids
                if parts.fragment not in ids:
                    broken.append(f"{path.relative_to(site)}: {url} (no such anchor)")
    assert not broken, "\n".join(broken[:40])


def test_every_diagram_and_figure_is_there(site):
    imgs = {name: _parse(site / (("index" if name == "README.md" else name[:-3]) + ".html")).imgs
            for name, _ in PAGES}
    for name, (_, page) in diagrams.DIAGRAMS.items():
        src = [s for s in imgs[page] if s.endswith(f"{name}.svg")]
        assert src, f"diagram {name} missing from {page}"
        svg = (site / src[0]).read_text()
        assert "<svg" in svg and "<g id=\"graph0\"" in svg  # drawn by Graphviz
    for fid, f in figures.FIGURES.items():
        src = [s for s in imgs["figures.md"] if s.endswith(f"{fid}.svg")]
        assert src, f"figure {fid} missing"
        assert figures.svg_digest((site / src[0]).read_text()) is not None
        if f.finding:
            assert any(s.endswith(f"{fid}.svg") for s in imgs["findings.md"])
    # the spec clauses link to the C lines
    algorithm = (site / "algorithm.html").read_text()
    assert 'href="source/driver__vmw_balloon.c.html#L' in algorithm
    assert 'id="L508"' in (site / "source" / "driver__vmw_balloon.c.html").read_text()


def _screenshot(url: str, png: Path, size: str, tmp: Path) -> None:
    profile = tmp / f"profile-{png.stem}"
    profile.mkdir()
    r = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={size}",
                        f"--screenshot={png}", url], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and png.exists(), r.stderr[-2000:]


def _ink(png: Path, box=None) -> float:
    """The share of pixels that are not (near) white."""
    from PIL import Image

    im = Image.open(png).convert("L")
    if box:
        im = im.crop(box)
    hist = im.histogram()
    return 1 - sum(hist[245:]) / sum(hist)


def test_headless_browser_renders_the_index_and_the_protocol_page(site, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: run `balloonspec setup`")
    shots = tmp_path
    _screenshot((site / "index.html").as_uri(), shots / "index.png", "1400,1800", tmp_path)
    _screenshot((site / "protocol.html").as_uri(), shots / "protocol.png", "1400,4200", tmp_path)
    _screenshot((site / "_images" / "protocol.svg").as_uri() if (site / "_images" / "protocol.svg").exists()
                else (site / "diagrams" / "protocol.svg").as_uri(), shots / "diagram.png", "1300,700", tmp_path)
    for name in ("index", "protocol", "diagram"):
        from PIL import Image

        im = Image.open(shots / f"{name}.png")
        assert im.size[0] >= 900
        assert 0.02 < _ink(shots / f"{name}.png") < 0.6, name  # text and drawings on a white page
    # the sidebar (navigation) and the page body both carry text
    assert _ink(shots / "index.png", (0, 0, 330, 900)) > 0.01
    assert _ink(shots / "index.png", (330, 0, 1400, 900)) > 0.02
    keep = os.environ.get("BALLOONSPEC_SCREENSHOTS")  # a folder to keep them in, to look at
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for png in shots.glob("*.png"):
            shutil.copy(png, Path(keep) / png.name)
