"""Line and branch coverage of the driver source, with every decision named.

gcov (from a `--coverage` userspace build) says which lines and branches the
vectors reached; pycparser enumerates the driver's decisions (if, loop
conditions, ?:, && and ||, switch cases) so that each one not fully covered is
reported by function, line and condition text, not as a bare percentage.
"""
from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pycparser import c_ast, c_parser

from balloonspec.driver.build import DRIVER_NAME, INCLUDE

# Branches no environment can take in the seed, by (function, source text), with the reason.
UNREACHABLE = {
    ("vmballoon_send_unlock_page", "if (pfn32 != pfn)"):
        "only pages on b->pages are unlocked, and a page gets there only after a LOCK, "
        "which vmballoon_send_lock_page sends only for a PFN that fits in 32 bits",
    ("vmballoon_deflate", "list_for_each_entry_safe(page, next, &b->pages, lru) {"):
        "the walk never reaches the end of the list: goal <= size - target <= size, size equals "
        "the length of b->pages, and each iteration returns on error or stops at goal",
}


@dataclass(frozen=True)
class Decision:
    function: str
    line: int
    kind: str  # if | for | while | do-while | ?: | && | || | case
    text: str
    last: int = 0  # the last line of the statement or expression it decides (its scope)

    @property
    def name(self) -> str:
        return f"{self.function}:{self.line} [{self.kind}] {self.text}"


def reset(build_dirs) -> None:
    """Forget counts of earlier runs, so a report covers this run only."""
    for d in build_dirs:
        for f in Path(d).glob("*.gcda"):
            f.unlink()


def _gcov_json(build_dir: Path) -> dict | None:
    if not (build_dir / f"{DRIVER_NAME}.gcda").exists():
        return None
    r = subprocess.run(["gcov", "--json-format", "--stdout", "--branch-probabilities", f"{DRIVER_NAME}.o"],
                       cwd=build_dir, capture_output=True, text=True, check=True)
    for chunk in r.stdout.splitlines():
        if chunk.strip():
            return json.loads(chunk)
    return None


# -- decisions from the C source ---------------------------------------------------------


def _strip_gnu(text: str) -> str:
    """Remove what pycparser cannot parse: statement expressions and inline asm."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("({", i):
            depth, j = 0, i
            while j < len(text):
                depth += text[j] == "("
                depth -= text[j] == ")"
                j += 1
                if depth == 0:
                    break
            out.append("0")
            i = j
        else:
            out.append(text[i])
            i += 1
    # typeof(...) only appears inside casts of list walks: any type name parses the same
    return re.sub(r"\btypeof\((?:[^()]|\([^()]*\))*\)", "int", "".join(out))


def _parse(source: Path, debugfs: bool):
    """The driver's syntax tree (pycparser, after gcc -E) and its source lines."""
    flags = ["-DKBUILD_MODNAME=\"vmw_balloon\"", "-D__attribute__(x)=", "-D__asm__(x)=", "-D__volatile__=",
             "-D__inline=inline", "-D__extension__=", "-D__restrict=", f"-I{INCLUDE}",
             "-D__builtin_offsetof(t,m)=((unsigned long)&((t *)0)->m)", "-D__builtin_va_list=int"]
    if debugfs:
        flags.append("-DCONFIG_DEBUG_FS")
    pre = subprocess.run(["gcc", "-E", *flags, str(source)], capture_output=True, text=True, check=True).stdout
    return c_parser.CParser().parse(_strip_gnu(pre), filename=str(source)), \
        source.read_text(errors="replace").splitlines()


@dataclass(frozen=True)
class Function:
    name: str
    line: int  # the definition's first line
    last: int  # the last line any of its statements is on


def functions(source: Path, debugfs: bool = True) -> list[Function]:
    """Every function the driver source defines in this configuration, with its lines."""
    ast, _ = _parse(source, debugfs)
    out = []
    for node in ast.ext:
        if isinstance(node, c_ast.FuncDef) and node.coord and Path(node.coord.file).name == source.name:
            lines = [n.coord.line for n in _walk(node) if n.coord and Path(n.coord.file).name == source.name]
            out.append(Function(node.decl.name, node.coord.line, max(lines)))
    return out


def _walk(node):
    yield node
    for _, child in node.children():
        yield from _walk(child)


def decisions(source: Path, debugfs: bool = True) -> list[Decision]:
    ast, src_lines = _parse(source, debugfs)
    found: list[Decision] = []

    class Visitor(c_ast.NodeVisitor):
        func = "?"

        def visit_FuncDef(self, node):
            if node.coord and Path(node.coord.file).name == source.name:
                self.func = node.decl.name
                self.generic_visit(node)

        def _add(self, node, kind, cond, scope=None):
            if node.coord is None or Path(node.coord.file).name != source.name:
                return
            line = node.coord.line
            text = src_lines[line - 1].strip() if line <= len(src_lines) else kind
            last = max([n.coord.line for n in _walk(scope or node)
                        if n.coord and Path(n.coord.file).name == source.name] + [line])
            found.append(Decision(self.func, line, kind, re.sub(r"\s+", " ", text), last))

        def visit_If(self, node):
            self._add(node.cond or node, "if", node.cond, node)
            self.generic_visit(node)

        def visit_For(self, node):
            self._add(node.cond or node, "for", node.cond, node)
            self.generic_visit(node)

        def visit_While(self, node):
            self._add(node.cond, "while", node.cond, node)
            self.generic_visit(node)

        def visit_DoWhile(self, node):
            self._add(node.cond, "do-while", node.cond, node)
            self.generic_visit(node)

        def visit_TernaryOp(self, node):
            self._add(node, "?:", node.cond)
            self.generic_visit(node)

        def visit_BinaryOp(self, node):
            if node.op in ("&&", "||"):
                self._add(node, node.op, node)
            self.generic_visit(node)

        def visit_Case(self, node):
            self._add(node, "case", node.expr)
            self.generic_visit(node)

    Visitor().visit(ast)
    return found


# -- the report --------------------------------------------------------------------------------


def measure(driver: Path, builds: dict) -> dict:
    """Merge the coverage of every build config of this run (debugfs on and off)."""
    lines: dict[int, int] = {}
    branches: dict[tuple[int, int], int] = {}
    functions: dict[int, str] = {}
    for binary in builds.values():
        data = _gcov_json(Path(binary).parent)
        if data is None:
            continue
        for f in data["files"]:
            if Path(f["file"]).name != f"{DRIVER_NAME}.c":
                continue
            for ln in f["lines"]:
                n = ln["line_number"]
                lines[n] = lines.get(n, 0) + ln["count"]
                functions[n] = ln.get("function_name", "?")
                for k, b in enumerate(ln.get("branches", [])):
                    branches[(n, k)] = branches.get((n, k), 0) + b["count"]
    if not lines:
        return {"line_pct": 0.0, "branch_pct": 0.0, "error": "no coverage data (was this a --coverage build?)"}
    src = driver.read_text(errors="replace").splitlines()
    unreached_lines = sorted(n for n, c in lines.items() if c == 0)
    unreached_branches = sorted({n for (n, _), c in branches.items() if c == 0})
    out = {
        "line_pct": round(100.0 * (len(lines) - len(unreached_lines)) / len(lines), 2),
        "branch_pct": round(100.0 * sum(1 for c in branches.values() if c) / max(1, len(branches)), 2),
        "lines": len(lines),
        "branches": len(branches),
        "unreached_lines": [f"{functions.get(n, '?')}:{n} {src[n - 1].strip()}" for n in unreached_lines],
    }
    try:
        named = {d.line: d for d in decisions(driver)}
        out["decisions"] = len(named)
    except Exception as e:  # a source pycparser cannot read still gets its percentages
        named = {}
        out["decisions_error"] = f"{type(e).__name__}: {e}"
    uncovered, unreachable = [], []
    for n in unreached_branches:
        d = named.get(n)
        name = d.name if d else f"{functions.get(n, '?')}:{n} {src[n - 1].strip()}"
        why = UNREACHABLE.get((d.function, d.text)) if d else None
        if why:
            unreachable.append({"decision": name, "why": why})
        else:
            uncovered.append(name)
    out["uncovered_decisions"] = uncovered
    out["unreachable_decisions"] = unreachable
    return out
