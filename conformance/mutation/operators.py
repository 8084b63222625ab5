"""First-order mutants of a driver source, from its pycparser AST.

``generate(path)`` parses the source in both configurations (CONFIG_DEBUG_FS
on and off, so that code on either side of the ``#ifdef`` is mutated) and
yields every mutant of the operator classes below, each an edit of the
*original text* at the coordinates the AST gives (csource/parse.py maps them
back to the driver's lines and columns; operators carry ``op_coord``), so the
driver's macros, comments and ``#ifdef`` blocks stay as written and both
configurations still build. Where the AST node comes from a macro body (the
``++`` of ``STATS_INC``, the ``for`` of ``list_for_each_entry_safe``) there is
no column to edit; the mutation is made at the use site instead (the macro
call statement is deleted, its arguments mutated).

=========  ==========================================================================
class      mutants (operator names: ``class.detail``)
=========  ==========================================================================
``aor``    arithmetic/bitwise operator replacement (``aor.plus.minus``), unary minus
           dropped (``aor.neg.del``), ``min`` <-> ``max`` (``aor.min.max``)
``ror``    relational operator replacement, each to the five others (``ror.ge.gt``)
``lor``    ``&&`` <-> ``||``, ``!`` dropped (``lor.not.del``)
``asr``    assignment: ``=`` -> ``+=``/``-=``, compound ops; ``++`` <-> ``--``; pre <-> post
``crp``    constants: literals to 0, 1, -1, +1, -1 (``crp.0``, ``crp.1``, ``crp.m1``,
           ``crp.inc``, ``crp.dec``); a ``#define``'s value likewise; a named constant at
           its use site to its neighbours (``crp.name.VMW_BALLOON_RATE_ALLOC_MAX``: the
           driver's ``#define``s written in the same block, e.g. RATE_ALLOC_MIN/MAX/INC,
           the status codes, the commands a ``VMWARE_BALLOON_CMD(cmd, ...)`` pastes) and
           to itself +-1
``sdl``    statement deletion: each expression statement (``sdl.stmt``), each call of a
           driver macro as a statement (``sdl.STATS_INC``), ``sdl.break``, ``sdl.return``
``cnd``    if/loop/?: conditions replaced by their negation, by true, by false
``swp``    swapped operands of each binary operator and of ``min``/``max``
``lst``    ``list_add`` <-> ``list_add_tail``; a list member for another list member of
           the same struct (``&b->pages`` -> ``&b->refused_pages``: ``lst.wrong.refused_pages``)
``ret``    changed return values (bool: negated or flipped; int: 0, 1, -1)
=========  ==========================================================================

Ids are ``function:line:col:operator`` (``function`` is the macro name for a
``#define``), unique, and stable: they depend only on the source text. The
order is the source order (line, column, operator). Two mutants whose edits
are identical are one mutant (the first generated keeps its id).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pycparser import c_ast

from balloonspec.csource.parse import TranslationUnit, parse

from .source import COND_PREC, PREC, UNARY_PREC, SourceText

CLASSES = ("aor", "ror", "lor", "asr", "crp", "sdl", "cnd", "swp", "lst", "ret")
OP_NAMES = {"+": "plus", "-": "minus", "*": "mul", "/": "div", "%": "mod", "&": "band", "|": "bor",
            "^": "bxor", "<<": "shl", ">>": "shr", "<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq",
            "!=": "ne", "&&": "and", "||": "or", "=": "assign", "+=": "add", "-=": "sub", "*=": "mul",
            "/=": "div", "%=": "mod", "&=": "band", "|=": "bor", "^=": "bxor", "<<=": "shl", ">>=": "shr"}
OPERATOR_GROUPS = [("aor", ("+", "-", "*", "/", "%")), ("aor", ("&", "|", "^")), ("aor", ("<<", ">>")),
                   ("ror", ("<", "<=", ">", ">=", "==", "!=")), ("lor", ("&&", "||"))]
COMPOUND_ASSIGN = ("=", "+=", "-=")
MINMAX = {"min": "max", "max": "min", "min_t": "max_t", "max_t": "min_t"}
LIST_ADD = {"list_add": ("list_add_tail", "lst.tail"), "list_add_tail": ("list_add", "lst.head")}
SIMPLE_STATEMENTS = (c_ast.If, c_ast.While, c_ast.DoWhile, c_ast.For, c_ast.Switch, c_ast.Return, c_ast.Break,
                     c_ast.Continue, c_ast.Goto, c_ast.Label, c_ast.Case, c_ast.Default, c_ast.EmptyStatement,
                     c_ast.Decl, c_ast.Compound, c_ast.Typedef, c_ast.Pragma, c_ast.DeclList)
BOOL_TYPES = {"bool", "_Bool"}


@dataclass(frozen=True)
class Mutant:
    id: str
    operator: str  # class.detail
    function: str
    line: int
    col: int
    edits: tuple[tuple[int, int, str], ...]  # (start, end, replacement) offsets in the original text
    before: str  # the edited source lines, whitespace collapsed
    after: str  # the same lines mutated

    @property
    def klass(self) -> str:
        return self.operator.split(".", 1)[0]

    def apply(self, text: str) -> str:
        return _apply(text, self.edits)

    def describe(self) -> str:
        return f"line {self.line}: {self.before} => {self.after}"

    def to_json(self) -> dict:
        return {"id": self.id, "operator": self.operator, "function": self.function, "c_line": self.line,
                "col": self.col, "edit": self.describe()}


def _apply(text: str, edits) -> str:
    for start, end, rep in sorted(edits, reverse=True):
        text = text[:start] + rep + text[end:]
    return text


def _lines_around(text: str, edits: list[tuple[int, int, str]]) -> tuple[str, str]:
    """The whole source lines an edit touches, before and after it (whitespace collapsed)."""
    a = text.rfind("\n", 0, min(e[0] for e in edits)) + 1
    b = text.find("\n", max(e[1] for e in edits))
    b = len(text) if b < 0 else b
    after = text[a:b]
    for start, end, rep in sorted(edits, reverse=True):
        after = after[:start - a] + rep + after[end - a:]
    return " ".join(text[a:b].split()), " ".join(after.split())


def _keep_lines(old: str, new: str) -> str:
    """The replacement padded with the newlines it removes, so later lines keep their numbers."""
    missing = old.count("\n") - new.count("\n")
    return new + "\n" * missing if missing > 0 else new


class _Generator:
    def __init__(self, src: SourceText, path: Path) -> None:
        self.src = src
        self.path = str(path)
        self.out: dict[str, Mutant] = {}
        self.by_edits: dict[tuple, str] = {}
        self.fn_lines: dict[str, tuple[int, int]] = {}

    # -- recording ----------------------------------------------------------------------
    def add(self, function: str, line: int, col: int, operator: str, edits: list[tuple[int, int, str]]) -> None:
        text = self.src.text
        edits = [(a, b, _keep_lines(text[a:b], r)) for a, b, r in edits]
        if all(text[a:b] == r for a, b, r in edits):
            return
        key = _apply(text, edits)  # two edits that give the same text are one mutant
        if key in self.by_edits:
            return
        mid = f"{function}:{line}:{col}:{operator}"
        if mid in self.out:
            raise ValueError(f"two different mutants with the id {mid}")
        self.by_edits[key] = mid
        self.out[mid] = Mutant(mid, operator, function, line, col, tuple(edits), *_lines_around(text, edits))

    def add_tokens(self, function: str, operator: str, first: int, last: int, replacement: str) -> None:
        t = self.src.tokens[first]
        a, b = self.src.span(first, last)
        self.add(function, t.line, t.col, operator, [(a, b, replacement)])

    def tok(self, coord) -> int | None:
        if coord is None or coord.file != self.path:
            return None
        return self.src.index(coord.line, coord.column)

    # -- the AST walk -------------------------------------------------------------------
    def function(self, tu: TranslationUnit, fd: c_ast.FuncDef) -> None:
        name = fd.decl.name
        ret = _return_kind(fd)
        stack: list[c_ast.Node] = [fd.body]
        while stack:
            n = stack.pop()
            kids = [c for _, c in n.children()]
            stack.extend(reversed(kids))
            if isinstance(n, c_ast.BinaryOp):
                self.binary(name, n)
            elif isinstance(n, c_ast.Assignment):
                self.assignment(name, n)
            elif isinstance(n, c_ast.UnaryOp):
                self.unary(name, n)
            elif isinstance(n, c_ast.TernaryOp):
                self.ternary(name, n)
            elif isinstance(n, (c_ast.If, c_ast.While, c_ast.DoWhile, c_ast.For)):
                self.condition(name, n)
            elif isinstance(n, c_ast.Constant):
                self.constant(name, n)
            elif isinstance(n, c_ast.FuncCall):
                self.call(name, n)
            elif isinstance(n, c_ast.StructRef):
                self.wrong_list(tu, name, n)
            if isinstance(n, c_ast.Return):
                self.return_value(name, n, ret)
            for stmt in _statements(n):
                self.deletion(name, stmt)

    def binary(self, fn: str, n) -> None:
        i = self.tok(getattr(n, "op_coord", None))
        if i is None or self.src.tokens[i].text != n.op:
            return
        for klass, group in OPERATOR_GROUPS:
            if n.op in group:
                for other in group:
                    if other != n.op:
                        self.add_tokens(fn, f"{klass}.{OP_NAMES[n.op]}.{OP_NAMES[other]}", i, i, other)
        first = self.src.operand_before(i, PREC[n.op])
        last = self.src.operand_after(i, PREC[n.op])
        if first < i < last:
            self.swap(fn, f"swp.{OP_NAMES[n.op]}", i, (first, i - 1), (i + 1, last))

    def swap(self, fn: str, operator: str, at: int, a: tuple[int, int], b: tuple[int, int]) -> None:
        ta, tb = self.src.span_text(*a), self.src.span_text(*b)
        if ta == tb:
            return
        (a0, a1), (b0, b1) = self.src.span(*a), self.src.span(*b)
        t = self.src.tokens[at]
        self.add(fn, t.line, t.col, operator, [(a0, a1, tb), (b0, b1, ta)])

    def assignment(self, fn: str, n) -> None:
        i = self.tok(getattr(n, "op_coord", None))
        if i is None or self.src.tokens[i].text != n.op:
            return
        for other in COMPOUND_ASSIGN:
            if other != n.op:
                self.add_tokens(fn, f"asr.{OP_NAMES[n.op]}.{OP_NAMES[other]}", i, i, other)

    def unary(self, fn: str, n) -> None:
        i = self.tok(getattr(n, "op_coord", None))
        if i is None:
            return
        op = self.src.tokens[i].text
        t = self.src.tokens[i]
        if n.op in ("++", "--", "p++", "p--") and op in ("++", "--"):
            other = "--" if op == "++" else "++"
            self.add_tokens(fn, f"asr.{'inc.dec' if op == '++' else 'dec.inc'}", i, i, other)
            if n.op.startswith("p"):  # x++ -> ++x
                first = self.src.operand_before(i, UNARY_PREC)
                a = self.src.tokens[first].start
                self.add(fn, t.line, t.col, "asr.post.pre", [(a, a, op), (t.start, t.end, "")])
            else:  # ++x -> x++
                last = self.src.operand_after(i, UNARY_PREC)
                b = self.src.tokens[last].end
                self.add(fn, t.line, t.col, "asr.pre.post", [(t.start, t.end, ""), (b, b, op)])
        elif n.op == "!" and op == "!":
            self.add_tokens(fn, "lor.not.del", i, i, "")
        elif n.op == "-" and op == "-":
            self.add_tokens(fn, "aor.neg.del", i, i, "")

    def ternary(self, fn: str, n) -> None:
        q = self.tok(getattr(n, "op_coord", None))
        if q is None:
            return
        first = self.src.operand_before(q, COND_PREC)
        if first < q:
            self.conditions(fn, first, q - 1)

    def condition(self, fn: str, n) -> None:
        kw = self.tok(n.coord)
        if kw is None:
            return
        if isinstance(n, c_ast.For):
            ext = self.src.for_condition(kw) if n.cond is not None else None
        elif isinstance(n, c_ast.DoWhile):
            body = self.tok(n.stmt.coord) if isinstance(n.stmt, c_ast.Compound) else None
            end = self.src.match.get(body) if body is not None else None
            ext = self.src.condition_in_parens(end + 1) if end is not None else None
        else:
            ext = self.src.condition_in_parens(kw)
        if ext is not None:
            self.conditions(fn, *ext)

    def conditions(self, fn: str, first: int, last: int) -> None:
        text = self.src.span_text(first, last)
        self.add_tokens(fn, "cnd.neg", first, last, f"!({text})")
        self.add_tokens(fn, "cnd.true", first, last, "1")
        self.add_tokens(fn, "cnd.false", first, last, "0")

    def constant(self, fn: str, n: c_ast.Constant) -> None:
        i = self.tok(n.coord)
        if i is None or n.type not in ("int", "unsigned int", "long int", "unsigned long int", "long long int",
                                       "unsigned long long int") or self.src.tokens[i].text != n.value:
            return
        self.literal(fn, i, n.value)

    def literal(self, fn: str, i: int, spelling: str) -> None:
        digits = spelling.rstrip("uUlL")
        suffix = spelling[len(digits):]
        try:
            v = int(digits, 16) if digits[:2].lower() == "0x" else int(digits, 8 if digits.startswith("0") and
                                                                           len(digits) > 1 else 10)
        except ValueError:
            return
        hexa = digits[:2].lower() == "0x"
        spell = lambda x: (hex(x) if hexa else str(x)) + suffix if x >= 0 else f"({x})"  # noqa: E731
        for name, value in (("crp.0", 0), ("crp.1", 1), ("crp.m1", -1), ("crp.inc", v + 1), ("crp.dec", v - 1)):
            if value != v:
                self.add_tokens(fn, name, i, i, spell(value))

    def call(self, fn: str, n: c_ast.FuncCall) -> None:
        if not isinstance(n.name, c_ast.ID):
            return
        i = self.tok(n.name.coord)
        if i is None:
            return
        swap = LIST_ADD.get(n.name.name)
        if swap and self.src.tokens[i].text == n.name.name:
            self.add_tokens(fn, swap[1], i, i, swap[0])

    def wrong_list(self, tu: TranslationUnit, fn: str, n: c_ast.StructRef) -> None:
        i = self.tok(n.field.coord)
        if i is None or self.src.tokens[i].text != n.field.name:
            return
        for members in _list_members(tu):
            if n.field.name in members:
                for other in members:
                    if other != n.field.name:
                        self.add_tokens(fn, f"lst.wrong.{other}", i, i, other)

    def return_value(self, fn: str, n: c_ast.Return, kind: str) -> None:
        kw = self.tok(n.coord)
        if kw is None or n.expr is None or kind == "void":
            return
        stmt = self.src.statement_around(kw)
        if stmt is None or stmt[1] - 1 < kw + 1:
            return
        first, last = kw + 1, stmt[1] - 1
        text = self.src.span_text(first, last)
        if kind == "bool":
            flip = {"true": "false", "false": "true"}.get(text)
            if flip:
                self.add_tokens(fn, f"ret.{flip}", first, last, flip)
            else:
                self.add_tokens(fn, "ret.not", first, last, f"!({text})")
        elif kind == "int":
            for name, value in (("ret.0", "0"), ("ret.1", "1"), ("ret.m1", "-1")):
                if value != text:
                    self.add_tokens(fn, name, first, last, value)

    def deletion(self, fn: str, stmt: c_ast.Node) -> None:
        if isinstance(stmt, (c_ast.Break, c_ast.Continue, c_ast.Return)):
            kw = self.tok(stmt.coord)
            if kw is None:
                return
            ext = self.src.statement_around(kw)
            if ext is not None:
                self.add_tokens(fn, f"sdl.{type(stmt).__name__.lower()}", ext[0], ext[1], ";")
            return
        macro_made = isinstance(stmt, c_ast.DoWhile) and (stmt.coord is None or stmt.coord.column is None)
        if isinstance(stmt, SIMPLE_STATEMENTS) and not macro_made:
            return
        inner = self._a_token_of(stmt)
        if inner is None:
            return
        ext = self.src.statement_around(inner)
        if ext is None:
            return
        head = self.src.tokens[ext[0]].text
        is_macro_call = head in self.function_macros and self.src.tokens[ext[0] + 1].text == "("
        self.add_tokens(fn, f"sdl.{head}" if is_macro_call else "sdl.stmt", ext[0], ext[1], ";")

    def _a_token_of(self, node: c_ast.Node) -> int | None:
        stack = [node]
        while stack:
            n = stack.pop()
            for c in (getattr(n, "op_coord", None), n.coord):
                i = self.tok(c)
                if i is not None:
                    return i
            stack.extend(c for _, c in n.children())
        return None

    # -- token-level sites (named constants, min/max, pasted macro arguments, #defines) ----
    def token_sites(self, functions: list[tuple[str, int, int]]) -> None:
        src = self.src
        for i, t in enumerate(src.tokens):
            fn = _function_of(functions, t.line)
            if fn is None:
                continue
            d = src.defines.get(t.text)
            if d is not None and d.int_value is not None:
                for other in src.family(t.text):
                    if other != t.text:
                        self.add_tokens(fn, f"crp.name.{other}", i, i, other)
                self.add_tokens(fn, "crp.inc", i, i, f"({t.text} + 1)")
                self.add_tokens(fn, "crp.dec", i, i, f"({t.text} - 1)")
            elif t.text in MINMAX and i + 1 < len(src.tokens) and src.tokens[i + 1].text == "(":
                self.add_tokens(fn, f"aor.{t.text}.{MINMAX[t.text]}", i, i, MINMAX[t.text])
                args = src.call_arguments(i)
                if args and len(args) >= 2:
                    self.swap(fn, f"swp.{t.text}", i, args[-2], args[-1])
            for pm in src.pasting:
                if t.text == pm.name and i + 1 < len(src.tokens) and src.tokens[i + 1].text == "(":
                    args = src.call_arguments(i) or []
                    if pm.index < len(args) and args[pm.index][0] == args[pm.index][1]:
                        a = args[pm.index][0]
                        full = pm.prefix + src.tokens[a].text
                        if full in src.defines:
                            for other in src.family(full):
                                if other != full and other.startswith(pm.prefix):
                                    self.add_tokens(fn, f"crp.name.{other}", a, a, other[len(pm.prefix):])

    def define_values(self) -> None:
        for d in self.src.defines.values():
            iv = d.int_value
            if iv is None:
                continue
            v, suffix, digits = iv
            hexa = digits[:2].lower() == "0x"
            spell = lambda x: (hex(x) if hexa else str(x)) + suffix if x >= 0 else f"({x})"  # noqa: E731
            line_start = self.src.line_starts[d.line - 1]
            col = d.value_start - line_start + 1
            for name, value in (("crp.0", 0), ("crp.1", 1), ("crp.m1", -1), ("crp.inc", v + 1), ("crp.dec", v - 1)):
                if value != v:
                    self.add(d.name, d.line, col, name, [(d.value_start, d.value_end, spell(value))])

    @property
    def function_macros(self) -> set[str]:
        return self._function_macros


def _function_of(functions: list[tuple[str, int, int]], line: int) -> str | None:
    for name, a, b in functions:
        if a <= line <= b:
            return name
    return None


def _statements(n: c_ast.Node) -> list:
    """The statements directly held by a node (compound items, branches, bodies)."""
    if isinstance(n, c_ast.Compound):
        return list(n.block_items or [])
    if isinstance(n, c_ast.If):
        return [s for s in (n.iftrue, n.iffalse) if s is not None]
    if isinstance(n, (c_ast.While, c_ast.DoWhile, c_ast.For, c_ast.Label)):
        return [n.stmt] if n.stmt is not None else []
    if isinstance(n, (c_ast.Case, c_ast.Default)):
        return list(n.stmts or [])
    return []


def _return_kind(fd: c_ast.FuncDef) -> str:
    t = fd.decl.type.type
    if isinstance(t, c_ast.PtrDecl):
        return "pointer"
    names = t.type.names if isinstance(t, c_ast.TypeDecl) and isinstance(t.type, c_ast.IdentifierType) else []
    if names == ["void"]:
        return "void"
    if any(x in BOOL_TYPES for x in names):
        return "bool"
    return "int"


def _list_members(tu: TranslationUnit) -> list[tuple[str, ...]]:
    """For each struct with two or more ``struct list_head`` members, their names."""
    out = []
    for st in tu.structs.values():
        names = []
        for d in st.decls or []:
            t = d.type
            if isinstance(t, c_ast.TypeDecl) and isinstance(t.type, c_ast.Struct) and t.type.name == "list_head":
                names.append(d.name)
        if len(names) >= 2:
            out.append(tuple(names))
    return out


def _extent(tu: TranslationUnit, fd: c_ast.FuncDef, src: SourceText) -> tuple[int, int]:
    """First and last driver line of a function definition (the closing brace included)."""
    body = src.index(fd.body.coord.line, fd.body.coord.column)
    end = src.tokens[src.match[body]].line if body is not None and body in src.match else fd.body.coord.line
    return fd.coord.line, end


def generate(path: str | Path, *, tus: list[TranslationUnit] | None = None) -> list[Mutant]:
    """Every first-order mutant of the driver source at ``path``, in source order."""
    path = Path(path).resolve()
    if tus is None:
        tus = [parse(path, debugfs=True), parse(path, debugfs=False)]
    src = SourceText(tus[0].pre.original)
    gen = _Generator(src, path)
    gen._function_macros = _function_macro_names(src)
    functions: list[tuple[str, int, int]] = []
    for tu in tus:
        for name, fd in tu.functions.items():
            if not tu.in_driver(fd):
                continue
            extent = (name, *_extent(tu, fd, src))
            if extent not in functions:
                functions.append(extent)
            gen.function(tu, fd)
    gen.token_sites(functions)
    gen.define_values()
    return sorted(gen.out.values(), key=lambda m: (m.line, m.col, m.operator))


def _function_macro_names(src: SourceText) -> set[str]:
    import re

    names = set()
    for n, ln in enumerate(src.lines, 1):
        m = re.match(r"^\s*#\s*define\s+([A-Za-z_]\w*)\(", ln)
        if m:
            names.add(m.group(1))
    return names


def write_mutant(mutant: Mutant, source_text: str, directory: Path) -> Path:
    """The mutated source, as a file named after the mutant (its id made a file name)."""
    directory.mkdir(parents=True, exist_ok=True)
    safe = mutant.id.replace(":", "_").replace("/", "_")
    path = directory / f"{safe}.c"
    path.write_text(mutant.apply(source_text))
    return path
