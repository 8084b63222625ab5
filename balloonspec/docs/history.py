"""specs/history.md: the published versions of the driver (driver/versions/) against the seed.

Running every version is too slow for `balloonspec docs --check` in CI (about
a minute on the 2-core machine), so the page is generated from a committed
result, specs/history.json, and the check compares the result's recorded
inputs (sha256 of the seed, of each version, of the provenance table and of
the shipped vectors) with the files as they are now: any change makes
history.json stale. `balloonspec docs` recomputes a stale result (and
`balloonspec docs --refresh-history` always does); the result holds no times,
so the same inputs give the same file.

Per version (and the seed): its provenance (driver/versions/README.md),
whether it builds in the userspace backend (with the compiler's first error
if not), its verdict at level full and protocol, the documented findings it
shows, and the vectors on which its observed trace differs from the seed's
(`balloonspec compare`, conformance/build_diff.py), each with its first
divergence.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from balloonspec import REPO, SEED_DRIVER

FORMAT = "balloonspec-history/1"
VERSIONS = REPO / "driver" / "versions"
VECTORS = REPO / "conformance" / "vectors"
RESULT = "history.json"  # under specs/
REFRESH = "balloonspec docs --refresh-history"
LEVELS = ("full", "protocol")

# specs/trace.md: QUEUE_WORK's workqueue 1 is system_freezable_wq, 3 a freezable
# workqueue the driver created. Older versions queue on a private one; the view
# below forgets which, so a reviewer sees what else differs.
SYSTEM_FREEZABLE_WQ, PRIVATE_FREEZABLE_WQ = 1, 3
WORKQUEUE_VIEW = "any freezable workqueue"


def any_freezable_workqueue(events: list[tuple]) -> list[tuple]:
    from balloonspec.model.trace import Kind

    return [(e[0], e[1], SYSTEM_FREEZABLE_WQ, *e[3:]) if e[0] == Kind.QUEUE_WORK and e[2] == PRIVATE_FREEZABLE_WQ
            else e for e in events]


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _rel(path: Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def version_sources(versions: Path | None = None) -> list[Path]:
    return sorted(Path(versions or VERSIONS).glob("*.c"))


def inputs(versions: Path | None = None, seed: Path | None = None, vectors: Path | None = None) -> dict[str, str]:
    """What the result is computed from, by content: name -> sha256."""
    versions, seed, vectors = versions or VERSIONS, seed or SEED_DRIVER, vectors or VECTORS
    out = {"seed " + Path(seed).name: _sha256(seed), "provenance README.md": _sha256(Path(versions) / "README.md")}
    out |= {"version " + p.name: _sha256(p) for p in version_sources(versions)}
    h = hashlib.sha256()
    for p in sorted(Path(vectors).glob("*.json")):
        h.update(p.name.encode() + b"\0" + bytes.fromhex(_sha256(p)))
    out["vectors"] = h.hexdigest()
    return out


def provenance(versions: Path | None = None) -> dict[str, dict]:
    """driver/versions/README.md's table: file -> its columns."""
    rows = {}
    for line in (Path(versions or VERSIONS) / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].endswith(".c"):
            rows[cells[0]] = {"module_version": cells[1], "git_blob": cells[2], "source": cells[3],
                              "changes": cells[4]}
    return rows


def module_version(path: Path) -> str:
    m = re.search(r'MODULE_VERSION\("([^"]+)"\)', Path(path).read_text(errors="replace"))
    return m.group(1) if m else "?"


# -- computing the result (slow: runs every version) ---------------------------------------------


def compute(versions: Path | None = None, seed: Path | None = None, vectors: Path | None = None, jobs: int = 2,
            progress=lambda msg: None) -> dict:
    from balloonspec.conformance import vectors as V
    from balloonspec.conformance.build_diff import diff_builds
    from balloonspec.conformance.commands import conform

    versions, seed, vectors = versions or VERSIONS, seed or SEED_DRIVER, vectors or VECTORS
    vecs, bad = V.load_dir(vectors)
    if bad:
        raise ValueError(f"malformed vectors in {vectors}: {', '.join(e.vector_id for e in bad)}")
    prov = provenance(versions)
    rows = []
    for src in [Path(seed)] + version_sources(versions):
        progress(f"history: {src.name}")
        is_seed = src == Path(seed)
        row = {"file": _rel(src), "module_version": module_version(src), "seed": is_seed,
               "provenance": None if is_seed else prov.get(src.name)}
        d = diff_builds(seed, src, vecs, views={WORKQUEUE_VIEW: any_freezable_workqueue}, jobs=jobs)
        if d.build_errors:
            e = d.build_errors.get("b") or d.build_errors["a"]
            message = (e["missing_apis"] + e["first_errors"] or ["?"])[0]
            row["userspace"] = {"builds": False, "message": message.replace(str(src), _rel(src))}
            rows.append(row)
            continue
        protocol, _ = conform(src, vectors_dir=Path(vectors), level="protocol", jobs=jobs, quiet=True)
        row["userspace"] = {"builds": True}
        row["verdicts"] = {"full": d.conform["b"]["verdict"], "protocol": protocol.verdict}
        row["failed"] = {"full": d.conform["b"]["failed"],
                         "protocol": [r.id for r in protocol.results if r.status != "pass"]}
        row["findings"] = {f["id"]: f["status"] for f in d.findings["b"]}
        row["differs_from_seed"] = [{"id": x.id, "index": x.index, "cycle": x.cycle, "seed": x.a, "version": x.b,
                                     "beyond_workqueue": x.views[WORKQUEUE_VIEW]} for x in d.differences]
        if d.errors:
            row["not_compared"] = [e["id"] for e in d.errors]
        rows.append(row)
    return {"format": FORMAT, "refresh": REFRESH, "inputs": inputs(versions, seed, vectors),
            "vectors": len(vecs), "builds": rows}


def dumps(result: dict) -> str:
    return json.dumps(result, indent=1, sort_keys=True) + "\n"


def load(specs: Path) -> dict | None:
    path = Path(specs) / RESULT
    return json.loads(path.read_text()) if path.exists() else None


def stale_inputs(result: dict | None, versions: Path | None = None, seed: Path | None = None,
                 vectors: Path | None = None) -> list[str]:
    """The inputs that changed since the result was computed (all of them if there is none)."""
    now = inputs(versions, seed, vectors)
    was = (result or {}).get("inputs", {})
    if (result or {}).get("format") != FORMAT:
        return sorted(now)
    return sorted(k for k in set(now) | set(was) if now.get(k) != was.get(k))


def refresh(specs: Path, force: bool = False, progress=lambda msg: None) -> bool:
    """Recompute specs/history.json when its inputs changed (or always, `force`); True if rewritten."""
    result = load(specs)
    if not force and not stale_inputs(result):
        return False
    progress(f"history: recomputing {RESULT} (inputs changed: {', '.join(stale_inputs(result)) or 'forced'})")
    text = dumps(compute(progress=progress))
    path = Path(specs) / RESULT
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    return True


# -- the page's generated parts --------------------------------------------------------------------

MARKS = {"present": "yes", "gone": "—", "unknown": "?"}


def _name(row: dict) -> str:
    return f"{row['module_version']} (seed)" if row["seed"] else row["module_version"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _missing(result: dict | None) -> str | None:
    if result is None:
        return f"*Not generated yet: run `{REFRESH}`.*"
    return None


def versions_table(result: dict | None) -> str:
    if _missing(result):
        return _missing(result)
    out = ["| version | file | where it comes from | builds in userspace | in-kernel | full | protocol "
           "| vectors that differ from the seed |", "|" + "---|" * 8]
    for r in result["builds"]:
        prov = "the seed" if r["seed"] else _cell((r["provenance"] or {}).get("source", "not in the table"))
        us = "yes" if r["userspace"]["builds"] else f"no: `{_cell(r['userspace']['message'])}`"
        if r["userspace"]["builds"]:
            full = r["verdicts"]["full"] + (f" ({len(r['failed']['full'])})" if r["failed"]["full"] else "")
            proto = r["verdicts"]["protocol"] + (f" ({len(r['failed']['protocol'])})"
                                                 if r["failed"]["protocol"] else "")
            differ = str(len(r["differs_from_seed"]))
        else:
            full = proto = differ = "not run"
        out.append(f"| {_name(r)} | `{r['file']}` | {prov} | {us} | not generated yet | {full} | {proto} "
                   f"| {differ} |")
    return "\n".join(out) + (f"\n\n*Generated from `specs/{RESULT}` ({result['vectors']} shipped vectors); "
                             f"refresh with `{REFRESH}`.*")


def findings_table(result: dict | None) -> str:
    if _missing(result):
        return _missing(result)
    built = [r for r in result["builds"] if r["userspace"]["builds"]]
    ids = list(built[0]["findings"]) if built else []
    out = ["| version | " + " | ".join(f"`{i}`" for i in ids) + " |", "|" + "---|" * (len(ids) + 1)]
    for r in built:
        out.append(f"| {_name(r)} | " + " | ".join(MARKS[r["findings"][i]] for i in ids) + " |")
    return "\n".join(out) + "\n\n*yes: the finding's own witness predicate confirms the build's trace; " \
                            "—: every witness ran to the end and none shows it; ?: not judged.*"


def short_difference(seed: str, version: str) -> tuple[str, str]:
    """Two event descriptions, with a debugfs text cut to its first differing line."""
    prefix = "DEBUGFS_READ text="
    if seed.startswith(prefix) and version.startswith(prefix):
        a, b = seed[len(prefix):].split("\\n"), version[len(prefix):].split("\\n")
        i = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        la = a[i] if i < len(a) else "(end)"
        lb = b[i] if i < len(b) else "(end)"
        return f"DEBUGFS_READ …{' '.join(la.split())}…", f"DEBUGFS_READ …{' '.join(lb.split())}…"
    return seed, version


def differences(result: dict | None, version: str) -> str:
    """One version's vectors that differ from the seed, each with its first divergence on one line.
    `version`: the file's name without `.c` (driver/versions/ names files by MODULE_VERSION)."""
    if _missing(result):
        return _missing(result)
    row = next((r for r in result["builds"] if Path(r["file"]).stem == version and not r["seed"]), None)
    if row is None:
        return f"*No version {version} in `specs/{RESULT}`.*"
    if not row["userspace"]["builds"]:
        return "*Does not build in the userspace backend: not compared.*"
    if not row["differs_from_seed"]:
        return "*No shipped vector tells it from the seed.*"
    out = [f"{len(row['differs_from_seed'])} of {result['vectors']} vectors differ from the seed "
           f"(`balloonspec compare driver/vmw_balloon.c {row['file']}`):", ""]
    v = row["module_version"]

    def one_line(index, cycle, seed, version) -> str:
        a, b = short_difference(seed, version)
        return f"event {index} (cycle {cycle}): seed `{_cell(a)}`, {v} `{_cell(b)}`"

    only_wq = []
    for d in row["differs_from_seed"]:
        line = f"- `{d['id']}`: " + one_line(d["index"], d["cycle"], d["seed"], d["version"])
        beyond = d.get("beyond_workqueue", {})
        if beyond is None:
            only_wq.append(d["id"])
            continue
        if beyond["index"] != d["index"]:
            line += "; then, " + one_line(beyond["index"], beyond["cycle"], beyond["a"], beyond["b"])
        out.append(line)
    if only_wq:
        out.append(f"- {len(only_wq)} more differ only in the workqueue the work item is queued on "
                   f"(the traces are equal once any freezable workqueue counts as the same): "
                   + ", ".join(f"`{i}`" for i in only_wq))
    return "\n".join(out)


def resolve(kind: str, arg: str, result: dict | None) -> str:
    if kind == "history" and arg == "versions":
        return versions_table(result)
    if kind == "history" and arg == "findings":
        return findings_table(result)
    if kind == "history-diff":
        return differences(result, arg)
    raise KeyError(f"unknown generated part {kind}:{arg}")
