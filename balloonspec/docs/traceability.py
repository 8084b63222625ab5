"""The traceability matrix (specs/traceability.md): from every C function and
decision of the driver to the model function that mirrors it, the invariants
that constrain it, the vectors that reach each of its outcomes and the
findings; and back from each invariant and each vector.

Facts come from where they are kept: functions and decisions from pycparser
(conformance/coverage.py), the C -> model mapping from model/algorithm.py's
C_FUNCTIONS, invariants and their cited lines from the proof catalogue,
findings from model/proofs/docs.py and witnesses.py, and what each vector
reaches from its own run of the gcov coverage build (balloonspec/docs/vectorcov.py).

Outcomes of a decision come from gcov's branch arcs on its condition's lines:
two arcs per condition. Which arc is "true" is a property of gcc's code at
-O0: the fall-through arc, except for a loop's test and the left
operands of `||`, where it is the jump. tests/test_docs_site.py checks this
rule against line counts on the seed (the true arc's count equals the count
of the first line the true outcome runs).
"""
from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path

from balloonspec import SEED_DRIVER
from balloonspec.conformance import coverage as COV
from balloonspec.conformance import vectors as V
from balloonspec.model import algorithm as A
from balloonspec.model import debugfs as D
from balloonspec.model.proofs.catalogue import CATALOGUE
from balloonspec.model.proofs.cref import line_of
from balloonspec.model.proofs.docs import FINDINGS
from balloonspec.model.proofs.witnesses import WITNESSES

VECTORS_DIR = Path(COV.__file__).resolve().parent / "vectors"
C_LINK = "../driver/vmw_balloon.c"
MAX_LISTED = 4  # vectors named per outcome; the rest are counted (all are in the vector table)


@dataclass
class Outcome:
    label: str  # true | false | taken | arc N
    vectors: list[str] = field(default_factory=list)
    unreachable: str = ""  # why no environment can reach it (conformance/coverage.py UNREACHABLE)


@dataclass
class Condition:
    text: str
    outcomes: list[Outcome]


@dataclass
class Decision:
    function: str
    line: int
    last: int  # end of its scope
    span: list[int]  # the lines its condition is on
    kinds: list[str]
    text: str
    condition: str  # the whole condition
    conditions: list[Condition]
    invariants: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return f"d{self.line}"

    def outcomes(self):
        for c in self.conditions:
            yield from c.outcomes


@dataclass
class Function:
    name: str
    line: int
    last: int
    config: str  # "" (both), "CONFIG_DEBUG_FS" or "no CONFIG_DEBUG_FS"
    spec: list[tuple[str, str, str]]  # (model function, part of the C it covers, link)
    decisions: list[Decision] = field(default_factory=list)
    invariants: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    vectors: list[str] = field(default_factory=list)  # vectors that run it

    @property
    def anchor(self) -> str:
        return f"{self.name}-{self.line}"


@dataclass
class Matrix:
    functions: list[Function]
    decisions: list[Decision]
    invariant_lines: dict[str, list[int]]
    finding_lines: dict[str, list[int]]
    finding_vectors: dict[str, list[str]]
    vectors: list  # conformance.vectors.Vector
    line_vectors: dict[int, list[str]]  # line -> vectors that ran it
    errors: list[str]

    def function_of(self, line: int) -> Function | None:
        for f in self.functions:
            if f.line <= line <= f.last + 1:
                return f
        return None


# -- conditions and their arcs ----------------------------------------------------------------

def _span(src: list[str], line: int, kind: str) -> tuple[list[int], str]:
    """The lines of a decision's condition and its text (balanced parentheses, or up to `;` for ?:)."""
    if kind == "case":
        return [line], src[line - 1].strip().removeprefix("case").strip().rstrip(":")
    text, lines, depth, started = "", [], 0, False
    n = line
    while n <= len(src):
        chunk = src[n - 1]
        lines.append(n)
        for ch in chunk:
            text += ch
            if ch == "(":
                depth += 1
                started = True
            elif ch == ")":
                depth -= 1
        text += " "
        if kind == "?:" and ";" in chunk:
            break
        if kind != "?:" and started and depth <= 0:
            break
        n += 1
    text = re.sub(r"\s+", " ", text).strip()
    if kind == "do-while" and "while" not in text:  # a macro's do { } while (0)
        return lines, "0 (" + text.rstrip(";") + ")"
    if kind == "?:":
        cond = text.split("=", 1)[-1].split("?", 1)[0].strip()
    else:
        m = re.search(r"\((.*)\)", text)
        cond = m.group(1).strip() if m else text
        if kind == "for" and cond.count(";") == 2:
            cond = cond.split(";")[1].strip()
        elif kind == "for":  # a list walk macro
            cond = "entries left in " + cond.split(",")[2].strip()
    return lines, cond


def _split(cond: str) -> tuple[str, list[str]]:
    """Top-level `a && b && ...` or `a || b || ...` into its operands ("" if neither or mixed)."""
    parts, depth, cur, ops = [], 0, "", set()
    i = 0
    while i < len(cond):
        ch = cond[i]
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and cond[i:i + 2] in ("&&", "||"):
            ops.add(cond[i:i + 2])
            parts.append(cur.strip())
            cur = ""
            i += 2
            continue
        cur += ch
        i += 1
    parts.append(cur.strip())
    if len(ops) != 1:
        return "", [cond]
    return ops.pop(), parts


def _true_is_jump(kinds: list[str], op: str, j: int, n: int) -> bool:
    if "for" in kinds or "while" in kinds or "do-while" in kinds:
        return True
    return op == "||" and j < n - 1


def _conditions(kinds, cond, span, cov) -> list[Condition]:
    """Outcomes of each condition, with the vectors whose run took them."""
    if "case" in kinds:
        line = span[0]
        return [Condition(cond, [Outcome("taken", sorted(v for v, c in cov.items() if c.lines.get(line, 0)))])]
    op, parts = _split(cond)
    arcs_of = {v: [a for ln in span for a in c.arcs.get(ln, [])] for v, c in cov.items()}
    n_arcs = max((len(a) for a in arcs_of.values()), default=0)
    if n_arcs == 0:
        return [Condition(cond, [])]  # constant in the object code (do { } while (0))
    sample = next(a for a in arcs_of.values() if len(a) == n_arcs)
    pairs_ok = n_arcs == 2 * len(parts) and all(sample[2 * j][1] != sample[2 * j + 1][1] for j in range(len(parts)))
    if not pairs_ok:  # cannot tell true from false: name the arcs
        return [Condition(cond, [Outcome(f"arc {k}", sorted(v for v, a in arcs_of.items() if len(a) > k and a[k][0]))
                                 for k in range(n_arcs)])]
    out = []
    for j, text in enumerate(parts):
        jump_true = _true_is_jump(kinds, op, j, len(parts))
        k_true = 2 * j + (0 if sample[2 * j][1] != jump_true else 1)
        k_false = 4 * j + 1 - k_true
        true = sorted(v for v, a in arcs_of.items() if len(a) == n_arcs and a[k_true][0])
        false = sorted(v for v, a in arcs_of.items() if len(a) == n_arcs and a[k_false][0])
        out.append(Condition(text, [Outcome("true", true), Outcome("false", false)]))
    return out


# -- the model side ------------------------------------------------------------------------------

def _model_link(name: str) -> tuple[str, str]:
    module, fn = (D, name.split(".", 1)[1]) if name.startswith("debugfs.") else (A, name)
    obj = getattr(module, fn)
    line = inspect.getsourcelines(obj)[1]
    return name, f"../model/{Path(inspect.getsourcefile(obj)).name}#L{line}"


def _finding_of_witness() -> dict[str, str]:
    return {w: fid for fid, _, _, wits, _ in FINDINGS for w in wits}


# -- building the matrix ----------------------------------------------------------------------------

def build(driver: Path = SEED_DRIVER, vectors_dir: Path = VECTORS_DIR, progress=lambda msg: None,
          coverage: dict | None = None) -> Matrix:
    from .vectorcov import measure

    vectors, bad = V.load_dir(vectors_dir)
    errors = [str(e) for e in bad]
    cov = coverage if coverage is not None else measure(vectors, driver, progress=progress)
    errors += [f"{v}: {c.error}" for v, c in cov.items() if c.error]
    src = driver.read_text(errors="replace").splitlines()

    line_vectors: dict[int, list[str]] = {}
    for v, c in cov.items():
        for ln, n in c.lines.items():
            if n:
                line_vectors.setdefault(ln, []).append(v)

    inv_lines = {i.id: sorted({line_of(s) for s in i.c_refs}) for i in CATALOGUE.values()}
    fin_lines: dict[str, set[int]] = {fid: set() for fid, *_ in FINDINGS}
    for inv in CATALOGUE.values():
        if inv.finding in fin_lines:
            fin_lines[inv.finding] |= set(inv_lines[inv.id])
    wit_finding = _finding_of_witness()
    fin_vectors: dict[str, set[str]] = {fid: set() for fid in fin_lines}
    for v in vectors:
        if v.id in wit_finding:
            fin_vectors[wit_finding[v.id]].add(v.id)
        if v.reason.get("kind") in ("counterexample", "finding"):
            for fid, _, _, wits, _ in FINDINGS:
                props = {p for w in wits for p in WITNESSES[w].violates}
                monitors = {m for w in wits for m in WITNESSES[w].monitors}
                goal = v.reason.get("goal", "")
                if any(re.search(rf"\b{re.escape(p)}\b", goal) for p in props) or monitors & set(v.expected_findings):
                    fin_vectors[fid].add(v.id)

    # functions in either configuration
    funcs: dict[tuple[str, int], Function] = {}
    seen: dict[tuple[str, int], set[bool]] = {}
    for debugfs in (True, False):
        for f in COV.functions(driver, debugfs):
            seen.setdefault((f.name, f.line), set()).add(debugfs)
            funcs.setdefault((f.name, f.line), Function(f.name, f.line, f.last, "", []))
    for key, configs in seen.items():
        if configs != {True, False}:
            funcs[key].config = "CONFIG_DEBUG_FS" if True in configs else "no CONFIG_DEBUG_FS"
        funcs[key].spec = [(*_model_link(name), part) for name, part in A.C_FUNCTIONS.get(key[0], ())]
    functions = sorted(funcs.values(), key=lambda f: f.line)

    # decisions, one row per line (an `if` and its `&&` are one decision)
    by_line: dict[int, list] = {}
    for debugfs in (True, False):
        for d in COV.decisions(driver, debugfs):
            if not any(x.kind == d.kind for x in by_line.get(d.line, [])):
                by_line.setdefault(d.line, []).append(d)
    decisions = []
    for line in sorted(by_line):
        ds = by_line[line]
        kinds = [d.kind for d in ds]
        main = next((d for d in ds if d.kind not in ("&&", "||")), ds[0])
        span, cond = _span(src, line, main.kind)
        why = COV.UNREACHABLE.get((main.function, main.text), "")
        conds = _conditions(kinds, cond, span, cov)
        for c in conds:
            for o in c.outcomes:
                if not o.vectors and why:
                    o.unreachable = why
        last = max(d.last for d in ds)
        dec = Decision(main.function, line, last, span, kinds, main.text, cond, conds)
        dec.invariants = [i for i, lines in inv_lines.items() if any(line <= ln <= last for ln in lines)]
        dec.findings = [f for f, lines in fin_lines.items() if any(line <= ln <= last for ln in lines)]
        decisions.append(dec)

    m = Matrix(functions, decisions, inv_lines, {k: sorted(v) for k, v in fin_lines.items()},
               {k: sorted(v) for k, v in fin_vectors.items()}, vectors, line_vectors, errors)
    for f in functions:
        f.decisions = [d for d in decisions if f.line <= d.line <= f.last]
        f.invariants = [i for i, lines in inv_lines.items() if any(f.line <= ln <= f.last + 1 for ln in lines)]
        f.findings = [fid for fid, lines in m.finding_lines.items() if any(f.line <= ln <= f.last + 1 for ln in lines)]
        f.vectors = sorted({v for ln in range(f.line, f.last + 1) for v in line_vectors.get(ln, [])})
    return m


# -- rendering ---------------------------------------------------------------------------------------

def c_link(line: int, last: int | None = None) -> str:
    label = f"{line}" if not last or last == line else f"{line}-{last}"
    return f"[{label}]({C_LINK}#L{line})"


def inv_link(iid: str, page: str = "invariants.md") -> str:
    return f"[{iid}]({page}#{iid.lower()})"


def finding_link(fid: str, page: str = "findings.md") -> str:
    return f"[{fid}]({page}#{fid.lower()})"


def vector_link(vid: str, page: str = "") -> str:
    return f"[{vid}]({page}#vector-{vid})"


_FOCUS: dict[str, int] = {}  # vector -> outcomes it reaches: the most focused vectors are named first


def _vectors_cell(vs: list[str], page: str = "") -> str:
    if not vs:
        return ""
    vs = sorted(vs, key=lambda v: (_FOCUS.get(v, 0), v))
    shown = ", ".join(vector_link(v, page) for v in vs[:MAX_LISTED])
    return f"{len(vs)}: {shown}" + (", ..." if len(vs) > MAX_LISTED else "")


def _outcome_cell(o: Outcome) -> str:
    if o.vectors:
        return f"{o.label}: {_vectors_cell(o.vectors)}"
    if o.unreachable:
        return f"{o.label}: *unreachable* ({o.unreachable})"
    return f"{o.label}: **NOT REACHED**"


def _cell(s: str) -> str:
    return s.replace("|", "\\|")


def summary(m: Matrix) -> dict:
    outcomes = [o for d in m.decisions for o in d.outcomes()]
    return {
        "functions": len(m.functions),
        "functions_unmapped": [f.name for f in m.functions if not f.spec],
        "decisions": len(m.decisions),
        "outcomes": len(outcomes),
        "outcomes_reached": sum(1 for o in outcomes if o.vectors),
        "outcomes_unreachable": sum(1 for o in outcomes if not o.vectors and o.unreachable),
        "not_reached": [f"{d.function}:{d.line} {c.text}: {o.label}" for d in m.decisions for c in d.conditions
                        for o in c.outcomes if not o.vectors and not o.unreachable],
        "unconstrained": [d for d in m.decisions if not d.invariants],
        "constant": [d for d in m.decisions if not any(c.outcomes for c in d.conditions)],
    }


HEADER = """# Traceability: C, spec, invariants, vectors, findings

<!-- Generated by balloonspec.docs.traceability (balloonspec docs); do not edit.
     `balloonspec docs --check` fails when it is stale. -->

Every function and every decision of the seed (`driver/vmw_balloon.c`, enumerated by pycparser:
`if`, loop tests, `?:`, `&&`, `||`, `case`) against:

- the **spec**: the function of `model/algorithm.py` that mirrors it (`C_FUNCTIONS` there);
- the **invariants** (specs/invariants.md) whose cited C lines fall in the decision's scope (its
  condition and the statements it guards);
- the **vectors** (conformance/vectors/) whose run of the gcov coverage build takes each outcome:
  each vector runs alone, so an outcome's list is exactly the vectors that reach it;
- the **findings** (specs/findings.md) whose invariants cite lines in that scope.

**NOT REACHED** marks an outcome no shipped vector takes; *unreachable* one that no environment can
take (with the reason); **none** in the invariants column a decision no invariant cites. Lines link
to the C source. Regenerate with `balloonspec docs`; the vector coverage is measured once per vector
and cached by content.
"""


def _focus(m: Matrix) -> None:
    _FOCUS.clear()
    for d in m.decisions:
        for o in d.outcomes():
            for v in o.vectors:
                _FOCUS[v] = _FOCUS.get(v, 0) + 1


def render(m: Matrix) -> str:
    _focus(m)
    s = summary(m)
    out = [HEADER, "## Summary\n",
           "| what | count |", "|---|---|",
           f"| C functions | {s['functions']} ({len(s['functions_unmapped'])} without a spec function) |",
           f"| decisions | {s['decisions']} |",
           f"| outcomes | {s['outcomes']} |",
           f"| outcomes reached by a vector | {s['outcomes_reached']} |",
           f"| outcomes unreachable (reason given) | {s['outcomes_unreachable']} |",
           f"| outcomes **not reached** | {len(s['not_reached'])} |",
           f"| decisions no invariant cites | {len(s['unconstrained'])} |",
           f"| decisions without a branch in the object code | {len(s['constant'])} |",
           f"| vectors | {len(m.vectors)} |", ""]
    if s["not_reached"]:
        out += ["Not reached: " + "; ".join(f"`{x}`" for x in s["not_reached"]) + ".\n"]
    if m.errors:
        out += ["Vectors that could not be measured: " + "; ".join(m.errors) + ".\n"]

    out += ["## C functions\n",
            "| C function | lines | spec (model) | decisions | outcomes reached | invariants | findings | vectors |",
            "|---|---|---|---|---|---|---|---|"]
    for f in m.functions:
        spec = "<br>".join(f"[`{n}`]({link}) ({part})" for n, link, part in f.spec) or "**none**"
        outs = [o for d in f.decisions for o in d.outcomes()]
        reached = f"{sum(1 for o in outs if o.vectors)}/{len(outs)}" if outs else "-"
        cfg = f" ({f.config})" if f.config else ""
        out.append(f"| <a id=\"{f.anchor}\"></a>`{f.name}`{cfg} | {c_link(f.line, f.last + 1)} | {spec} | "
                   f"{len(f.decisions)} | {reached} | {', '.join(inv_link(i) for i in f.invariants) or '**none**'} | "
                   f"{', '.join(finding_link(x) for x in f.findings)} | {len(f.vectors)} |")
    out.append("")

    out += ["## Decisions\n",
            "| line | function | kind | condition | outcomes and the vectors that reach them | invariants | findings |",
            "|---|---|---|---|---|---|---|"]
    for d in m.decisions:
        if not any(c.outcomes for c in d.conditions):
            cells = "no branch in the object code (a constant condition)"
        else:
            cells = "<br>".join((f"`{_cell(c.text)}` " if len(d.conditions) > 1 else "") + _outcome_cell(o)
                                for c in d.conditions for o in c.outcomes)
        out.append(f"| <a id=\"{d.anchor}\"></a>{c_link(d.line)} | `{d.function}` | {' '.join(d.kinds)} | "
                   f"`{_cell(d.condition)}` | "
                   f"{cells} | {', '.join(inv_link(i) for i in d.invariants) or '**none**'} | "
                   f"{', '.join(finding_link(x) for x in d.findings)} |")
    out.append("")

    out += ["## Back from each invariant\n",
            "The C lines each invariant cites, the decisions whose scope holds them, and how many vectors "
            "run those lines.\n",
            "| invariant | outcome on the seed | C lines | C functions | decisions | vectors running the lines |",
            "|---|---|---|---|---|---|"]
    for inv in CATALOGUE.values():
        lines = m.invariant_lines[inv.id]
        fns = sorted({f.name for ln in lines if (f := m.function_of(ln))})
        decs = [d for d in m.decisions if any(d.line <= ln <= d.last for ln in lines)]
        vs = sorted({v for ln in lines for v in m.line_vectors.get(ln, [])})
        out.append(f"| {inv_link(inv.id)} | {inv.expected} | {', '.join(c_link(ln) for ln in lines) or '-'} | "
                   f"{', '.join(f'`{x}`' for x in fns)} | "
                   f"{', '.join(f'[{d.line}](#{d.anchor})' for d in decs) or '**none**'} | "
                   f"{_vectors_cell(vs) or '**none**'} |")
    out.append("")

    out += ["## Back from each finding\n",
            "| finding | C lines (of its invariants) | vectors that show it |", "|---|---|---|"]
    for fid, *_ in FINDINGS:
        out.append(f"| {finding_link(fid)} | {', '.join(c_link(ln) for ln in m.finding_lines[fid])} | "
                   f"{', '.join(vector_link(v) for v in m.finding_vectors[fid]) or '**none**'} |")
    out.append("")

    # outcomes each vector reaches, and those only it reaches
    reach: dict[str, list[str]] = {v.id: [] for v in m.vectors}
    for d in m.decisions:
        for c in d.conditions:
            for o in c.outcomes:
                for v in o.vectors:
                    reach[v].append((d, c, o))
    out += ["## Back from each vector\n",
            "Why each vector exists (its `reason`), what it reaches, and the outcomes no other vector reaches.\n",
            "| vector | reason | goal | C functions run | outcomes reached | only this vector | findings it shows |",
            "|---|---|---|---|---|---|---|"]
    for v in m.vectors:
        fns = [f.name for f in m.functions if v.id in f.vectors]
        only = [f"[{d.line}](#{d.anchor}) {o.label}" for d, c, o in reach[v.id] if o.vectors == [v.id]]
        shows = [fid for fid, vs in m.finding_vectors.items() if v.id in vs]
        out.append(f"| <a id=\"vector-{v.id}\"></a>[{v.id}](../conformance/vectors/{v.id}.json) | "
                   f"{v.reason.get('kind', '')} | {_cell(v.reason.get('goal', ''))} | {len(fns)} | {len(reach[v.id])} | "
                   f"{', '.join(only)} | {', '.join(finding_link(x) for x in shows)} |")
    return "\n".join(out).rstrip() + "\n"


# -- links from the spec's clauses ----------------------------------------------------------------

def clause_trace(m: Matrix, c_functions: list[str]) -> str:
    _focus(m)
    """One paragraph for a spec clause about these C functions: lines, spec
    functions, decisions reached, invariants, findings, vectors (linking into
    traceability.md)."""
    fs = [f for name in c_functions for f in m.functions if f.name == name]
    if not fs:
        raise KeyError(f"no such C function: {c_functions}")
    parts = []
    for f in fs:
        outs = [o for d in f.decisions for o in d.outcomes()]
        reached = sum(1 for o in outs if o.vectors)
        spec = ", ".join(f"[`{n}`]({link})" for n, link, _ in f.spec) or "none"
        parts.append(f"[`{f.name}`](traceability.md#{f.anchor}) (C {c_link(f.line, f.last + 1)}; spec {spec}; "
                     f"decisions: {len(f.decisions)}, outcomes reached by vectors: {reached}/{len(outs)})")
    invs = sorted({i for f in fs for i in f.invariants}, key=list(CATALOGUE).index)
    finds = sorted({x for f in fs for x in f.findings})
    vs = sorted({v for f in fs for v in f.vectors})
    return ("**Trace.** " + "; ".join(parts) + ". Invariants: "
            + (", ".join(inv_link(i) for i in invs) or "none") + ". Findings: "
            + (", ".join(finding_link(x) for x in finds) or "none") + f". Vectors running it: {len(vs)}.")


def finding_trace(m: Matrix, fid: str, figures: dict[str, str]) -> str:
    lines = m.finding_lines[fid]
    fns = sorted({f.name for ln in lines if (f := m.function_of(ln))})
    decs = [d for d in m.decisions if fid in d.findings]
    out = ["**Trace.** C " + ", ".join(c_link(ln) for ln in lines)
           + (" in " + ", ".join(f"`{x}`" for x in fns) if fns else "")
           + "; decisions " + (", ".join(f"[{d.line}](traceability.md#{d.anchor})" for d in decs) or "none")
           + "; vectors that show it: "
           + (", ".join(vector_link(v, "traceability.md") for v in m.finding_vectors[fid]) or "none") + "."]
    if fid in figures:
        out.append("\n" + figures[fid])
    return "\n".join(out)


def invariant_trace(m: Matrix, iid: str) -> str:
    lines = m.invariant_lines[iid]
    decs = [d for d in m.decisions if iid in d.invariants]
    vs = sorted({v for ln in lines for v in m.line_vectors.get(ln, [])})
    return ("- Trace: C " + (", ".join(c_link(ln) for ln in lines) or "none") + "; decisions "
            + (", ".join(f"[{d.line}](traceability.md#{d.anchor})" for d in decs) or "none")
            + f"; {len(vs)} vectors run these lines ([matrix](traceability.md#back-from-each-invariant)).")
