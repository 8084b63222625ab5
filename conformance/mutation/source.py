"""The driver source as tokens with positions: where a mutation edits the text.

pycparser gives each node the coordinate of its first token (csource/parse.py
maps it back to the driver's own line and column) and each operator the
coordinate of its token, but no end positions and nothing about tokens that
are not in the AST (parentheses, macro names at their use sites). This module
reads the original text (comments blanked, preprocessor directives kept
apart) into tokens with offsets, so that the mutant generator can find

* the extent of an operand on either side of an operator (precedence
  scanning over the source tokens: a macro name is an atom there),
* the extent of a statement (to its ``;``) and of an ``if``/``while``/``for``
  condition (the header's parentheses),
* the driver's object-like ``#define``s with their values and the blocks of
  consecutive ``#define`` lines the author grouped them in (a *family*:
  RATE_ALLOC_MIN/MAX/INC, the status codes), and function-like macros that
  paste an argument onto a prefix (``VMW_BALLOON_CMD_##cmd``).

Every edit is then a replacement of a span of the original text, so the
driver's macros, comments and ``#ifdef`` blocks stay as written.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from balloonspec.csource.parse import _TOKEN, _blank_comments, _directive_lines

# C binary operator precedences (higher binds tighter)
PREC = {"*": 13, "/": 13, "%": 13, "+": 12, "-": 12, "<<": 11, ">>": 11, "<": 10, "<=": 10, ">": 10,
        ">=": 10, "==": 9, "!=": 9, "&": 8, "^": 7, "|": 6, "&&": 5, "||": 4}
COND_PREC = 3  # ?:
ASSIGN_PREC = 2
UNARY_PREC = 14
ASSIGN_OPS = {"=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>="}
KEYWORDS = {"return", "if", "else", "while", "for", "do", "switch", "case", "default", "goto", "break",
            "continue", "sizeof", "typeof", "static", "const", "struct", "union", "enum", "unsigned",
            "signed", "int", "long", "short", "char", "void", "bool", "_Bool", "volatile", "inline"}
HEADER_KEYWORDS = {"if", "while", "for", "switch"}
OPEN, CLOSE = "([{", ")]}"
_IDENT = re.compile(r"[A-Za-z_]\w*$")
_NUMBER = re.compile(r"\.?\d")
_DEFINE = re.compile(r"^\s*#\s*define\s+([A-Za-z_]\w*)(\([^)]*\))?[ \t]*(.*?)\s*$")
_INT_LITERAL = re.compile(r"^\(?\s*(-?)\s*(0[xX][0-9a-fA-F]+|\d+)([uUlL]*)\s*\)?$")


@dataclass(frozen=True)
class Tok:
    text: str
    line: int
    col: int  # 1-based, as pycparser counts (a tab is one column)
    start: int  # offset in the text
    end: int

    @property
    def is_ident(self) -> bool:
        return bool(_IDENT.match(self.text)) and self.text not in KEYWORDS

    @property
    def is_number(self) -> bool:
        return bool(_NUMBER.match(self.text))


@dataclass(frozen=True)
class Define:
    """An object-like ``#define NAME VALUE`` of the driver."""

    name: str
    line: int
    value: str
    value_start: int  # offset of the value text
    value_end: int
    block: int  # consecutive #define lines share a block number

    @property
    def int_value(self) -> tuple[int, str, str] | None:
        """(value, suffix, spelling) of an integer literal value (``16384U``, ``0x5670``, ``-1``)."""
        m = _INT_LITERAL.match(self.value)
        if not m:
            return None
        digits = m.group(2)
        v = int(digits, 16) if digits[:2].lower() == "0x" else int(digits, 10)
        return (-v if m.group(1) else v), m.group(3), digits


@dataclass(frozen=True)
class PastingMacro:
    """A function-like macro whose body pastes parameter ``index`` onto ``prefix``
    (``VMW_BALLOON_CMD_##cmd``): its argument names a constant of the prefix."""

    name: str
    index: int
    prefix: str


class SourceText:
    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.split("\n")
        self.line_starts = [0]
        for ln in self.lines[:-1]:
            self.line_starts.append(self.line_starts[-1] + len(ln) + 1)
        blank = _blank_comments(text).split("\n")
        self.directive_lines = _directive_lines(blank)
        self.tokens: list[Tok] = []
        for n, ln in enumerate(blank, 1):
            if n in self.directive_lines:
                continue
            base = self.line_starts[n - 1]
            for m in _TOKEN.finditer(ln):
                self.tokens.append(Tok(m.group(0), n, m.start() + 1, base + m.start(), base + m.end()))
        self.at = {(t.line, t.col): i for i, t in enumerate(self.tokens)}
        self.match = self._match_brackets()
        self.defines, self.pasting = self._read_defines(blank)

    # -- positions --------------------------------------------------------------------
    def offset(self, line: int, col: int) -> int:
        return self.line_starts[line - 1] + col - 1

    def index(self, line: int, col: int | None) -> int | None:
        """The token at a coordinate (None when no token starts there)."""
        if col is None:
            return None
        return self.at.get((line, col))

    def span(self, first: int, last: int) -> tuple[int, int]:
        return self.tokens[first].start, self.tokens[last].end

    def span_text(self, first: int, last: int) -> str:
        a, b = self.span(first, last)
        return self.text[a:b]

    def _match_brackets(self) -> dict[int, int]:
        out, stack = {}, []
        for i, t in enumerate(self.tokens):
            if t.text in OPEN:
                stack.append(i)
            elif t.text in CLOSE and stack:
                j = stack.pop()
                out[i], out[j] = j, i
        return out

    # -- what a token is ----------------------------------------------------------------
    def ends_operand(self, i: int) -> bool:
        """Token i can end an operand (so an operator after it is binary/postfix)."""
        if i < 0:
            return False
        t = self.tokens[i]
        if t.text in (")", "]"):
            return True
        if t.text in ("++", "--"):
            return self.ends_operand(i - 1)
        return t.is_ident or t.is_number or t.text[0] in "\"'"

    def is_binary(self, i: int) -> bool:
        return self.tokens[i].text in PREC and self.ends_operand(i - 1)

    def is_header_close(self, i: int) -> bool:
        """A ``)`` that closes an if/while/for/switch header."""
        j = self.match.get(i)
        return j is not None and j > 0 and self.tokens[j - 1].text in HEADER_KEYWORDS

    # -- operand extents -------------------------------------------------------------------
    def operand_before(self, op: int, prec: int) -> int:
        """First token of the left operand of the binary/ternary/assignment token at ``op``
        whose precedence is ``prec`` (left-associative: operators of equal precedence
        belong to the operand)."""
        i, first = op - 1, op
        while i >= 0:
            t = self.tokens[i].text
            if t in CLOSE:
                j = self.match.get(i)
                if j is None or (t == ")" and self.is_header_close(i)):
                    break
                first = i = j
                i -= 1
                continue
            if t in OPEN or t in (";", ",", "?", ":") or t in ASSIGN_OPS or (t in KEYWORDS and t != "sizeof"):
                break
            if self.is_binary(i) and PREC[t] < prec:
                break
            first = i
            i -= 1
        return first

    def operand_after(self, op: int, prec: int) -> int:
        """Last token of the right operand of the operator token at ``op`` of
        precedence ``prec`` (operators of higher precedence belong to the operand;
        ?: and assignments are right-associative)."""
        i, last, n = op + 1, op, len(self.tokens)
        while i < n:
            t = self.tokens[i].text
            if t in OPEN:
                j = self.match.get(i)
                if j is None:
                    break
                last = i = j
                i += 1
                continue
            if t in CLOSE or t in (";", ",", ":") or t == "{":
                break
            if t == "?" and prec >= COND_PREC:
                break
            if t in ASSIGN_OPS and prec > ASSIGN_PREC:
                break
            if self.is_binary(i) and PREC[t] <= prec:
                break
            last = i
            i += 1
        return last

    def condition_in_parens(self, keyword: int) -> tuple[int, int] | None:
        """(first, last) token of the parenthesised condition after an
        if/while/switch keyword token (or ``while`` of a do/while)."""
        lp = keyword + 1
        if lp >= len(self.tokens) or self.tokens[lp].text != "(" or lp not in self.match:
            return None
        rp = self.match[lp]
        return (lp + 1, rp - 1) if rp - 1 >= lp + 1 else None

    def for_condition(self, keyword: int) -> tuple[int, int] | None:
        """(first, last) token of a ``for`` header's condition, None when empty."""
        lp = keyword + 1
        if lp >= len(self.tokens) or self.tokens[lp].text != "(" or lp not in self.match:
            return None
        rp = self.match[lp]
        semis, depth = [], 0
        for i in range(lp + 1, rp):
            t = self.tokens[i].text
            depth += t in OPEN
            depth -= t in CLOSE
            if t == ";" and depth == 0:
                semis.append(i)
        if len(semis) != 2 or semis[1] - semis[0] < 2:
            return None
        return semis[0] + 1, semis[1] - 1

    def statement_around(self, i: int) -> tuple[int, int] | None:
        """(first token, the terminating ``;``) of the simple statement that
        contains token i."""
        first, j = i, i - 1
        while j >= 0:
            t = self.tokens[j].text
            if t in (";", "{", "}") or t in ("else", "do"):
                break
            if t == ":" and self._label_colon(j):
                break
            if t == ")":
                if self.is_header_close(j):
                    break
                first = j = self.match.get(j, j)
                j -= 1
                continue
            if t in CLOSE:
                first = j = self.match.get(j, j)
                j -= 1
                continue
            first = j
            j -= 1
        depth, k = 0, first
        while k < len(self.tokens):
            t = self.tokens[k].text
            if t in OPEN:
                depth += 1
            elif t in CLOSE:
                depth -= 1
                if depth < 0:
                    return None
            elif t == ";" and depth == 0:
                return first, k
            k += 1
        return None

    def _label_colon(self, j: int) -> bool:
        """The ``:`` at j ends a case/default label or a goto label (not a ?:)."""
        k = j - 1
        while k >= 0 and self.tokens[k].text not in (";", "{", "}", "?"):
            if self.tokens[k].text in ("case", "default"):
                return True
            k -= 1
        return k >= 0 and self.tokens[k].text != "?" and k == j - 2 and self.tokens[j - 1].is_ident

    def call_arguments(self, name: int) -> list[tuple[int, int]] | None:
        """(first, last) token of each argument of the call whose name token is at ``name``."""
        lp = name + 1
        if lp >= len(self.tokens) or self.tokens[lp].text != "(" or lp not in self.match:
            return None
        rp = self.match[lp]
        args, start, i = [], lp + 1, lp + 1
        while i < rp:
            t = self.tokens[i].text
            if t in OPEN and i in self.match:
                i = self.match[i] + 1
                continue
            if t == ",":
                args.append((start, i - 1))
                start = i + 1
            i += 1
        if start <= rp - 1:
            args.append((start, rp - 1))
        return args

    # -- #defines ---------------------------------------------------------------------
    def _read_defines(self, blank: list[str]) -> tuple[dict[str, Define], list[PastingMacro]]:
        defines: dict[str, Define] = {}
        pasting: list[PastingMacro] = []
        block, prev_define_line = 0, -2
        n = 0
        while n < len(blank):
            ln = blank[n]
            line_no = n + 1
            full = ln
            while full.rstrip().endswith("\\") and n + 1 < len(blank):  # continuation lines
                n += 1
                full = full.rstrip()[:-1] + " " + blank[n]
            n += 1
            m = _DEFINE.match(full)
            if not m:
                continue
            name, params, value = m.group(1), m.group(2), m.group(3)
            if line_no != prev_define_line + 1:
                block += 1
            prev_define_line = line_no + full.count("\\")  # a continued macro ends the block at its last line
            if params is not None:
                plist = [p.strip() for p in params[1:-1].split(",")]
                for pm in re.finditer(r"([A-Za-z_]\w*)\s*##\s*([A-Za-z_]\w*)", value):
                    if pm.group(2) in plist:
                        pasting.append(PastingMacro(name, plist.index(pm.group(2)), pm.group(1)))
                continue
            if not value or "\\" in ln:
                continue
            col = ln.index(value, ln.index(name) + len(name))
            start = self.line_starts[line_no - 1] + col
            defines[name] = Define(name, line_no, value, start, start + len(value), block)
        return defines, pasting

    def family(self, name: str) -> list[str]:
        """The integer #defines of the block ``name`` was written in, in source order."""
        d = self.defines[name]
        return [o.name for o in self.defines.values() if o.block == d.block and o.int_value is not None]
