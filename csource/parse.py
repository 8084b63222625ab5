"""The driver source as a pycparser AST, with coordinates in the original file.

``parse(path)`` preprocesses a driver source (preprocess.py) and parses it
with pycparser's recursive-descent parser, extended by two things the family
needs and pycparser lacks:

* GNU extended inline asm statements (the backdoor: ``__asm__ __volatile__
  ("inl %%dx" : "=a"(status) ... : "0"(MAGIC) ...)``) become ``Asm`` nodes
  with their operands (constraint, expression) and clobbers;
* binary, assignment, unary and conditional operators remember where their
  operator token is (``node.op_coord``), so that a mutation can name and
  rewrite exactly that operator.

GNU statement expressions (``({ ... })``) are parsed by pycparser itself (a
``Compound`` in expression position).

Every coordinate that lies in the driver file is mapped back from the
preprocessed text to the driver source: ``coord.file`` is the driver's path,
``coord.line`` its line, and ``coord.column`` its column when the token was
written there, or None when it comes from a macro's body (a token that only
a macro expansion produced: ``STATS_INC``'s ``++``, a ``#define``d
constant's value). Tokens of macro *arguments* keep their columns.

The API (used by the interpreter, the mutant generator and the traceability
docs):

``parse(path, debugfs=True, defines=()) -> TranslationUnit`` with

* ``ast``: the pycparser ``FileAST``;
* ``functions``: name -> ``FuncDef`` (definitions, in source order);
* ``prototypes``: name -> ``Decl`` of functions declared without a body
  (the kernel API of the analysis headers);
* ``structs``: name -> ``Struct`` with its member declarations;
* ``globals``: name -> ``Decl`` of file-scope objects (definitions and externs);
* ``typedefs``: name -> ``Typedef``; ``enumerators``: name -> ``Enumerator``;
* ``in_driver(node)``: the node was written in the driver file (not a header);
* ``function_at(line)``: the function whose body holds a driver line;
* ``line_text(n)``: a driver source line.

``CGenerator`` prints an AST back as C, ``Asm`` nodes included.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from pycparser import c_ast, c_generator
from pycparser.c_parser import _BINARY_PRECEDENCE, CParser, Coord, ParseError

from .errors import CSyntaxError
from .preprocess import Preprocessed, preprocess

ASM_KEYWORDS = {"__asm__", "__asm", "asm"}
ASM_QUALIFIERS = {"__volatile__", "__volatile", "volatile", "inline", "goto"}


# -- AST nodes ---------------------------------------------------------------------


class _WithOpCoord:
    """Operator nodes that also know where their operator token is."""

    __slots__ = ()

    def __repr__(self) -> str:  # pycparser's repr reads the class's own __slots__
        base = type(self).__mro__[2]
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in base.__slots__[:-2])
        return f"{type(self).__name__}({fields})"


class BinaryOp(_WithOpCoord, c_ast.BinaryOp):
    __slots__ = ("op_coord",)


class Assignment(_WithOpCoord, c_ast.Assignment):
    __slots__ = ("op_coord",)


class UnaryOp(_WithOpCoord, c_ast.UnaryOp):
    __slots__ = ("op_coord",)


class TernaryOp(_WithOpCoord, c_ast.TernaryOp):
    __slots__ = ("op_coord",)


class AsmOperand(c_ast.Node):
    """One ``[name] "constraint" (expr)`` operand of an extended asm statement."""

    __slots__ = ("constraint", "expr", "name", "coord", "__weakref__")
    attr_names = ("constraint", "name")

    def __init__(self, constraint: str, expr, name: str | None = None, coord=None) -> None:
        self.constraint, self.expr, self.name, self.coord = constraint, expr, name, coord

    def children(self):
        return (("expr", self.expr),)

    def __iter__(self):
        yield self.expr


class Asm(c_ast.Node):
    """``__asm__ [qualifiers] (template : outputs : inputs : clobbers);``
    ``template`` is the decoded template text (``%%`` kept as written);
    ``outputs``/``inputs`` are lists of ``AsmOperand``; ``clobbers`` strings."""

    __slots__ = ("keyword", "qualifiers", "template", "outputs", "inputs", "clobbers", "coord", "__weakref__")
    attr_names = ("keyword", "qualifiers", "template", "clobbers")

    def __init__(self, keyword, qualifiers, template, outputs, inputs, clobbers, coord=None) -> None:
        self.keyword, self.qualifiers, self.template = keyword, qualifiers, template
        self.outputs, self.inputs, self.clobbers, self.coord = outputs, inputs, clobbers, coord

    def children(self):
        out = [(f"outputs[{i}]", o) for i, o in enumerate(self.outputs)]
        out += [(f"inputs[{i}]", o) for i, o in enumerate(self.inputs)]
        return tuple(out)

    def __iter__(self):
        yield from self.outputs
        yield from self.inputs


# -- C string literals -------------------------------------------------------------

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", "'": "'", '"': '"', "a": "\a",
            "b": "\b", "f": "\f", "v": "\v", "?": "?", "e": "\x1b"}
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]+|[0-7]{1,3}|.)", re.S)


def _unescape(body: str) -> str:
    def one(m: re.Match) -> str:
        e = m.group(1)
        if e[0] == "x":
            return chr(int(e[1:], 16) & 0xFF)
        if e[0] in "01234567":
            return chr(int(e, 8) & 0xFF)
        return _ESCAPES.get(e, e)

    return _ESCAPE.sub(one, body)


def string_value(literal: str) -> str:
    """The characters of a (possibly concatenated) C string literal as
    pycparser spells it: ``"\\0013" "vmw"`` -> ``"\\x013vmw"``."""
    out, i = [], 0
    while i < len(literal):
        if literal[i] != '"':
            i += 1
            continue
        j = i + 1
        while j < len(literal) and literal[j] != '"':
            j += 2 if literal[j] == "\\" else 1
        out.append(_unescape(literal[i + 1:j]))
        i = j + 1
    return "".join(out)


# -- the parser ----------------------------------------------------------------------


class GnuCParser(CParser):
    """pycparser's parser plus extended asm statements and operator coordinates."""

    def parse(self, text, filename="", debug=False):
        self._last = None
        return super().parse(text, filename, debug)

    def _advance(self):
        tok = super()._advance()
        self._last = tok
        return tok

    def _parse_error(self, msg, coord):
        if not isinstance(coord, Coord):  # pycparser names only the file: point at the token
            tok = self._tokens.peek(1) or self._last
            if tok is not None:
                coord = self._tok_coord(tok)
        super()._parse_error(msg, coord)

    # -- asm ------------------------------------------------------------------------
    def _parse_statement(self):
        tok = self._peek()
        if tok is not None and tok.type == "ID" and tok.value in ASM_KEYWORDS:
            return self._parse_asm_statement()
        return super()._parse_statement()

    def _parse_asm_statement(self) -> Asm:
        kw = self._advance()
        quals = []
        while True:
            tok = self._peek()
            if tok is not None and (tok.value in ASM_QUALIFIERS and tok.type in ("ID", "VOLATILE", "INLINE")):
                quals.append(self._advance().value)
            else:
                break
        self._expect("LPAREN")
        template = string_value(self._parse_unified_string_literal().value)
        sections: list[list] = [[], [], []]
        for k in range(3):
            if not self._accept("COLON"):
                break
            sections[k] = self._parse_asm_clobbers() if k == 2 else self._parse_asm_operands()
        self._expect("RPAREN")
        self._expect("SEMI")
        return Asm(kw.value, quals, template, sections[0], sections[1], sections[2], self._tok_coord(kw))

    def _parse_asm_operands(self) -> list[AsmOperand]:
        ops = []
        while self._peek_type() in ("STRING_LITERAL", "LBRACKET"):
            name = None
            first = self._peek()
            if self._accept("LBRACKET"):
                name = self._advance().value
                self._expect("RBRACKET")
            constraint = string_value(self._parse_unified_string_literal().value)
            self._expect("LPAREN")
            expr = self._parse_expression()
            self._expect("RPAREN")
            ops.append(AsmOperand(constraint, expr, name, self._tok_coord(first)))
            if not self._accept("COMMA"):
                break
        return ops

    def _parse_asm_clobbers(self) -> list[str]:
        out = []
        while self._peek_type() == "STRING_LITERAL":
            out.append(string_value(self._parse_unified_string_literal().value))
            if not self._accept("COMMA"):
                break
        return out

    # -- operators with their token's coordinate --------------------------------------
    def _parse_assignment_expression(self):
        expr = self._parse_conditional_expression()
        if self._is_assignment_op():
            tok = self._advance()
            rhs = self._parse_assignment_expression()
            node = Assignment(tok.value, expr, rhs, expr.coord)
            node.op_coord = self._tok_coord(tok)
            return node
        return expr

    def _parse_conditional_expression(self):
        expr = self._parse_binary_expression()
        tok = self._accept("CONDOP")
        if tok:
            iftrue = self._parse_expression()
            self._expect("COLON")
            iffalse = self._parse_conditional_expression()
            node = TernaryOp(expr, iftrue, iffalse, expr.coord)
            node.op_coord = self._tok_coord(tok)
            return node
        return expr

    def _parse_binary_expression(self, min_prec: int = 0, lhs=None):
        """Precedence climbing, as pycparser's, keeping each operator's token."""
        if lhs is None:
            lhs = self._parse_cast_expression()
        while True:
            tok = self._peek()
            if tok is None or tok.type not in _BINARY_PRECEDENCE:
                return lhs
            prec = _BINARY_PRECEDENCE[tok.type]
            if prec < min_prec:
                return lhs
            self._advance()
            rhs = self._parse_cast_expression()
            while True:
                nxt = self._peek()
                if nxt is None or nxt.type not in _BINARY_PRECEDENCE or _BINARY_PRECEDENCE[nxt.type] <= prec:
                    break
                rhs = self._parse_binary_expression(_BINARY_PRECEDENCE[nxt.type], rhs)
            node = BinaryOp(tok.value, lhs, rhs, lhs.coord)
            node.op_coord = self._tok_coord(tok)
            lhs = node

    def _parse_unary_expression(self):
        tok = self._peek()
        if tok is not None and tok.type in {"PLUSPLUS", "MINUSMINUS", "AND", "TIMES", "PLUS", "MINUS", "NOT", "LNOT"}:
            self._advance()
            if tok.type in {"PLUSPLUS", "MINUSMINUS"}:
                expr = self._parse_unary_expression()
            else:
                expr = self._parse_cast_expression()
            node = UnaryOp(tok.value, expr, expr.coord)
            node.op_coord = self._tok_coord(tok)
            return node
        return super()._parse_unary_expression()

    def _parse_postfix_expression(self):
        expr = super()._parse_postfix_expression()
        if type(expr) is c_ast.UnaryOp and expr.op in ("p++", "p--"):
            node = UnaryOp(expr.op, expr.expr, expr.coord)
            node.op_coord = self._tok_coord(self._last)  # the postfix operator ends the expression
            return node
        return expr


class CGenerator(c_generator.CGenerator):
    """pycparser's C printer, plus extended asm statements."""

    def visit_Asm(self, n: Asm) -> str:
        def operands(ops):
            return ", ".join((f"[{o.name}] " if o.name else "") + f'"{_escape(o.constraint)}"({self.visit(o.expr)})'
                             for o in ops)

        quals = "".join(f" {q}" for q in n.qualifiers)
        parts = [f'"{_escape(n.template)}"', operands(n.outputs), operands(n.inputs),
                 ", ".join(f'"{_escape(c)}"' for c in n.clobbers)]
        while len(parts) > 1 and not parts[-1]:
            parts.pop()
        return f"{n.keyword}{quals} (" + " : ".join(parts) + ");"


def _escape(s: str) -> str:
    return "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else
                   {"\n": "\\n", "\t": "\\t", '"': '\\"', "\\": "\\\\"}.get(c, f"\\{ord(c):03o}") for c in s)


# -- mapping preprocessed coordinates back to the source ------------------------------

_TOKEN = re.compile(r"""
    L?"(?:\\.|[^"\\\n])*"
  | L?'(?:\\.|[^'\\\n])*'
  | \.?\d(?:[eEpP][+-]|[\w.])*
  | [A-Za-z_]\w*
  | \.\.\.|<<=|>>=|->|\+\+|--|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^]=|\#\#
  | [][(){}.,;:?~!<>=+\-*/%&|^#@$\\]
""", re.X)
_MARKER = re.compile(r'^#\s*(\d+)\s+"((?:\\.|[^"\\])*)"')


def _blank_comments(text: str) -> str:
    """The text with comments replaced by spaces (newlines kept), so that
    tokens keep their line and column."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _directive_lines(lines: list[str]) -> set[int]:
    """1-based numbers of preprocessor directive lines, with their continuations."""
    out, cont = set(), False
    for n, ln in enumerate(lines, 1):
        if cont or ln.lstrip().startswith("#"):
            out.add(n)
            cont = ln.rstrip().endswith("\\")
        else:
            cont = False
    return out


def _tokens(text: str) -> list[tuple[str, int]]:
    return [(m.group(0), m.start() + 1) for m in _TOKEN.finditer(text)]


class CoordMap:
    """(driver line, column in the preprocessed line) -> (line, column or None)
    in the driver source."""

    def __init__(self, pre: Preprocessed) -> None:
        self.file = str(pre.path)
        self.map: dict[tuple[int, int], tuple[int, int | None]] = {}
        pp_lines: dict[int, str] = {}
        cur_file, line = None, 0
        for text in pre.text.split("\n"):
            m = _MARKER.match(text)
            if m:
                cur_file, line = m.group(2), int(m.group(1))
                continue
            if cur_file == self.file and text.strip():
                pp_lines[line] = text
            line += 1
        src = _blank_comments(pre.original).split("\n")
        skip = _directive_lines(src)
        claimed: set[tuple[int, int]] = set()
        starts = sorted(pp_lines)
        for k, start in enumerate(starts):
            end = starts[k + 1] if k + 1 < len(starts) else start
            orig = [(t, ln, col) for ln in range(start, min(end, len(src)) + 1) if ln not in skip
                    for t, col in _tokens(src[ln - 1]) if (ln, col) not in claimed]
            pp = _tokens(pp_lines[start])
            sm = difflib.SequenceMatcher(None, [t for t, _ in pp], [t for t, _, _ in orig], autojunk=False)
            for a, b, size in sm.get_matching_blocks():
                for d in range(size):
                    _, ln, col = orig[b + d]
                    self.map[(start, pp[a + d][1])] = (ln, col)
                    claimed.add((ln, col))

    def __call__(self, coord: Coord | None) -> Coord | None:
        if coord is None or coord.file != self.file:
            return coord
        hit = self.map.get((coord.line, coord.column))
        if hit is None:
            return Coord(self.file, coord.line, None)
        return Coord(self.file, hit[0], hit[1])


def _remap(node: c_ast.Node, cmap: CoordMap) -> None:
    stack = [node]
    while stack:
        n = stack.pop()
        if getattr(n, "coord", None) is not None:
            n.coord = cmap(n.coord)
        if isinstance(n, _WithOpCoord):
            n.op_coord = cmap(n.op_coord)
        stack.extend(c for _, c in n.children())


# -- the translation unit ------------------------------------------------------------------


@dataclass
class TranslationUnit:
    path: Path
    ast: c_ast.FileAST
    pre: Preprocessed
    functions: dict[str, c_ast.FuncDef] = field(default_factory=dict)
    prototypes: dict[str, c_ast.Decl] = field(default_factory=dict)
    structs: dict[str, c_ast.Struct] = field(default_factory=dict)
    globals: dict[str, c_ast.Decl] = field(default_factory=dict)
    typedefs: dict[str, c_ast.Typedef] = field(default_factory=dict)
    enumerators: dict[str, c_ast.Enumerator] = field(default_factory=dict)

    @property
    def debugfs(self) -> bool:
        return self.pre.debugfs

    def in_driver(self, node: c_ast.Node) -> bool:
        return node.coord is not None and node.coord.file == str(self.path)

    def line_text(self, n: int) -> str:
        lines = self.pre.original_lines
        return lines[n - 1] if 1 <= n <= len(lines) else ""

    def function_at(self, line: int) -> str | None:
        """The function whose definition spans ``line`` of the driver."""
        best = None
        for name, fd in self.functions.items():
            if self.in_driver(fd) and fd.coord.line <= line:
                last = _last_line(fd)
                if line <= last:
                    best = name
        return best


def _last_line(node: c_ast.Node) -> int:
    last = node.coord.line if node.coord else 0
    for _, c in node.children():
        last = max(last, _last_line(c))
    return last


def _collect_types(node: c_ast.Node, tu: TranslationUnit) -> None:
    """Struct definitions and enumerators anywhere in a declaration's type."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, c_ast.Struct) and n.decls is not None and n.name:
            tu.structs[n.name] = n
        elif isinstance(n, c_ast.Enumerator):
            tu.enumerators[n.name] = n
        if not isinstance(n, c_ast.Compound):
            stack.extend(c for _, c in n.children())


def parse_preprocessed(pre: Preprocessed) -> TranslationUnit:
    try:
        ast = GnuCParser().parse(pre.text, str(pre.path))
    except ParseError as e:
        m = re.match(r"(.*?):(\d+):(\d+): (.*)", str(e))
        if m and m.group(1) == str(pre.path):
            line = int(m.group(2))
            raise CSyntaxError(f"cannot parse: {m.group(4)}: {pre.original_lines[line - 1].strip()}",
                               str(pre.path), line) from None
        raise CSyntaxError(f"cannot parse: {e}", str(pre.path)) from None
    _remap(ast, CoordMap(pre))
    tu = TranslationUnit(pre.path, ast, pre)
    for ext in ast.ext:
        _collect_types(ext, tu)
        if isinstance(ext, c_ast.FuncDef):
            tu.functions[ext.decl.name] = ext
        elif isinstance(ext, c_ast.Typedef):
            tu.typedefs[ext.name] = ext
        elif isinstance(ext, c_ast.Decl) and ext.name:
            if isinstance(ext.type, c_ast.FuncDecl):
                tu.prototypes[ext.name] = ext
            else:
                tu.globals[ext.name] = ext
    return tu


def parse(path: str | Path, *, debugfs: bool = True, defines: tuple[str, ...] = ()) -> TranslationUnit:
    """Preprocess and parse a driver source (raises PreprocessError, CSyntaxError)."""
    return parse_preprocessed(preprocess(path, debugfs=debugfs, defines=defines))
