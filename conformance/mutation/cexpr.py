"""C expressions of the driver as Z3 terms, with C's integer semantics.

``CExpr(decls, defines)`` reads C declarations of the variables an argument
talks about (``"unsigned long limit; unsigned int limit32;"``, struct
members by their access text: ``"unsigned int b->rate_free;"``) and turns an
expression written in C into a Z3 term: integer constants with their C type
from spelling and suffix, the integer promotions and usual arithmetic
conversions, unsigned and signed division and comparison, casts (truncation,
zero and sign extension), ``!``, ``&&``, ``||``, ``?:``, the kernel's
``min``/``max``, ``++x`` as the value ``x + 1`` (an argument compares two
versions of one statement, whose side effects are the same), ``&name`` as a
pointer constant. Named constants are the driver's own ``#define``s and a
few kernel ones (errno values, ``true``/``false``/``NULL``).

Every value is a pair (term, type) where a type is ``("int", bits, signed)``,
``("bool",)`` (a comparison or logical result, and ``_Bool``) or
``("ptr",)`` (64 bits, compared unsigned).
"""
from __future__ import annotations

import re

import z3
from pycparser import c_ast, c_parser

KERNEL_CONSTANTS = {"true": "1", "false": "0", "NULL": "0", "EIO": "5", "ENOMEM": "12", "ENODEV": "19",
                    "EINVAL": "22", "EBUSY": "16"}
TYPEDEFS = {"u8": "unsigned char", "u16": "unsigned short", "u32": "unsigned int", "u64": "unsigned long long",
            "s32": "int", "s64": "long long", "bool": "_Bool", "gfp_t": "unsigned int", "size_t": "unsigned long"}
INT = ("int", 32, True)
_BASIC = {
    ("char",): ("int", 8, True), ("unsigned", "char"): ("int", 8, False), ("short",): ("int", 16, True),
    ("unsigned", "short"): ("int", 16, False), ("int",): INT, ("unsigned", "int"): ("int", 32, False),
    ("unsigned",): ("int", 32, False), ("long",): ("int", 64, True), ("unsigned", "long"): ("int", 64, False),
    ("long", "long"): ("int", 64, True), ("unsigned", "long", "long"): ("int", 64, False),
    ("long", "int"): ("int", 64, True), ("unsigned", "long", "int"): ("int", 64, False), ("_Bool",): ("bool",),
}
_DECL = re.compile(r"^\s*(?P<type>[A-Za-z_][\w\s]*?(?:\s*\*)?)\s*(?P<name>[A-Za-z_][\w>.\-]*)\s*$")


class CExprError(ValueError):
    """An expression or declaration outside what this translator reads."""


def _basic(names: list[str]):
    names = [TYPEDEFS.get(n, n) for n in names if n not in ("const", "volatile", "signed")]
    names = " ".join(names).split()
    t = _BASIC.get(tuple(names))
    if t is None:
        raise CExprError(f"type {' '.join(names)}")
    return t


class CExpr:
    def __init__(self, decls: str, defines: dict[str, str] | None = None) -> None:
        self.types: dict[str, tuple] = {}
        for part in decls.split(";"):
            if not part.strip():
                continue
            m = _DECL.match(part)
            if not m:
                raise CExprError(f"declaration {part.strip()!r}")
            ty = m.group("type").strip()
            self.types[m.group("name")] = ("ptr",) if ty.endswith("*") else _basic(ty.split())
        self.defines = {**KERNEL_CONSTANTS, **(defines or {})}
        self.vars: dict[str, z3.ExprRef] = {}

    # -- parsing ------------------------------------------------------------------------------
    def _subst(self, text: str) -> str:
        out = re.sub(r"\b[A-Za-z_]\w*\b", lambda m: f"({self.defines[m.group(0)]})"
                     if m.group(0) in self.defines else m.group(0), text)
        # member accesses are variables named by their text: b->rate_free -> b__rate_free
        return re.sub(r"([A-Za-z_]\w*)\s*(->|\.)\s*([A-Za-z_]\w*)",
                      lambda m: f"{m.group(1)}__{'p' if m.group(2) == '->' else 'd'}__{m.group(3)}", out)

    def parse(self, text: str) -> c_ast.Node:
        typedefs = "".join(f"typedef {v} {k};" for k, v in TYPEDEFS.items() if k != "bool")
        src = f"typedef _Bool bool; {typedefs} void __e(void) {{ ({self._subst(text)}); }}"
        try:
            ast = c_parser.CParser().parse(src)
        except Exception as e:
            raise CExprError(f"cannot parse {text!r}: {e}") from None
        return ast.ext[-1].body.block_items[0]

    def term(self, text: str) -> tuple:
        return self.ev(self.parse(text))

    def truth(self, text: str) -> z3.BoolRef:
        return self.as_bool(self.term(text))

    # -- values ---------------------------------------------------------------------------------
    def var(self, name: str):
        key = name.replace("__p__", "->").replace("__d__", ".")
        ty = self.types.get(key)
        if ty is None:
            raise CExprError(f"undeclared {key}")
        if key not in self.vars:
            self.vars[key] = z3.Bool(key) if ty == ("bool",) else z3.BitVec(key, 64 if ty == ("ptr",) else ty[1])
        return self.vars[key], ty

    def as_bool(self, v) -> z3.BoolRef:
        t, ty = v
        if ty == ("bool",):
            return t
        return t != z3.BitVecVal(0, t.size())

    def as_int(self, v, to: tuple):
        t, ty = v
        if ty == ("bool",):
            t, ty = z3.If(t, z3.BitVecVal(1, 32), z3.BitVecVal(0, 32)), INT
        if ty == ("ptr",):
            ty = ("int", 64, False)
        bits = to[1] if to[0] == "int" else 64
        if t.size() == bits:
            return t
        if t.size() > bits:
            return z3.Extract(bits - 1, 0, t)
        return (z3.SignExt if ty[2] else z3.ZeroExt)(bits - t.size(), t)

    @staticmethod
    def promote(ty: tuple) -> tuple:
        if ty in (("bool",),) or (ty[0] == "int" and ty[1] < 32):
            return INT
        if ty == ("ptr",):
            return ("int", 64, False)
        return ty

    def common(self, a: tuple, b: tuple) -> tuple:
        a, b = self.promote(a), self.promote(b)
        if a == b:
            return a
        if a[1] == b[1]:
            return ("int", a[1], False)  # same rank, one unsigned
        wide, narrow = (a, b) if a[1] > b[1] else (b, a)
        return wide if (wide[2] or not narrow[2]) or wide[1] > narrow[1] else ("int", wide[1], False)

    def ev(self, n) -> tuple:
        if isinstance(n, c_ast.Constant):
            return self.constant(n.value)
        if isinstance(n, c_ast.ID):
            return self.var(n.name)
        if isinstance(n, c_ast.Cast):
            names = n.to_type.type.type.names if isinstance(n.to_type.type, c_ast.TypeDecl) else None
            if names is None:
                raise CExprError("cast to a pointer type")
            to = _basic(names)
            v = self.ev(n.expr)
            if to == ("bool",):
                return self.as_bool(v), to
            return self.as_int(v, to), to
        if isinstance(n, c_ast.UnaryOp):
            return self.unary(n)
        if isinstance(n, c_ast.BinaryOp):
            return self.binary(n.op, self.ev(n.left), self.ev(n.right))
        if isinstance(n, c_ast.TernaryOp):
            c = self.as_bool(self.ev(n.cond))
            a, b = self.ev(n.iftrue), self.ev(n.iffalse)
            ty = self.common(a[1], b[1])
            return z3.If(c, self.as_int(a, ty), self.as_int(b, ty)), ty
        if isinstance(n, c_ast.FuncCall) and isinstance(n.name, c_ast.ID) and n.name.name in ("min", "max"):
            x, y = (self.ev(e) for e in n.args.exprs)
            ty = self.common(x[1], y[1])
            a, b = self.as_int(x, ty), self.as_int(y, ty)
            less = (a < b) if ty[2] else z3.ULT(a, b)
            return (z3.If(less, a, b) if n.name.name == "min" else z3.If(less, b, a)), ty
        raise CExprError(f"construct {type(n).__name__}")

    def constant(self, spelling: str) -> tuple:
        s = spelling.lower()
        suffix = re.search(r"[ul]*$", s).group(0)
        digits = s[:len(s) - len(suffix)]
        v = int(digits, 16) if digits.startswith("0x") else int(digits, 8 if digits.startswith("0") and
                                                                  len(digits) > 1 else 10)
        unsigned, long_ = "u" in suffix, "l" in suffix
        if not long_ and v < (1 << 31) and not unsigned:
            ty = INT
        elif not long_ and v < (1 << 32) and (unsigned or digits.startswith("0x")):
            ty = ("int", 32, True) if v < (1 << 31) and not unsigned else ("int", 32, False)
        else:
            ty = ("int", 64, unsigned is False and v < (1 << 63))
        return z3.BitVecVal(v, ty[1]), ty

    def unary(self, n: c_ast.UnaryOp) -> tuple:
        if n.op == "&" and isinstance(n.expr, c_ast.ID):
            key = "&" + n.expr.name
            self.types.setdefault(key, ("ptr",))
            if key not in self.vars:
                self.vars[key] = z3.BitVec(key, 64)
            return self.vars[key], ("ptr",)
        v = self.ev(n.expr)
        if n.op == "!":
            return z3.Not(self.as_bool(v)), ("bool",)
        ty = self.promote(v[1])
        t = self.as_int(v, ty)
        if n.op == "-":
            return -t, ty
        if n.op == "+":
            return t, ty
        if n.op == "~":
            return ~t, ty
        if n.op in ("++", "--"):  # the value of ++x / --x (x of its own type)
            t0 = self.as_int(v, v[1]) if v[1][0] == "int" else t
            one = z3.BitVecVal(1, t0.size())
            return (t0 + one if n.op == "++" else t0 - one), v[1]
        raise CExprError(f"unary {n.op}")

    def binary(self, op: str, a: tuple, b: tuple) -> tuple:
        if op in ("&&", "||"):
            x, y = self.as_bool(a), self.as_bool(b)
            return (z3.And(x, y) if op == "&&" else z3.Or(x, y)), ("bool",)
        if a[1] == ("ptr",) or b[1] == ("ptr",):
            ty = ("int", 64, False)
        elif op in ("<<", ">>"):
            ty = self.promote(a[1])
        else:
            ty = self.common(a[1], b[1])
        x = self.as_int(a, ty)
        y = self.as_int(b, ty) if op not in ("<<", ">>") else self.as_int(b, ty)
        s = ty[2]
        ops = {
            "+": lambda: x + y, "-": lambda: x - y, "*": lambda: x * y,
            "/": lambda: x / y if s else z3.UDiv(x, y), "%": lambda: z3.SRem(x, y) if s else z3.URem(x, y),
            "&": lambda: x & y, "|": lambda: x | y, "^": lambda: x ^ y,
            "<<": lambda: x << y, ">>": lambda: x >> y if s else z3.LShR(x, y),
        }
        if op in ops:
            return ops[op](), ty
        cmp = {"<": (lambda: x < y, lambda: z3.ULT(x, y)), "<=": (lambda: x <= y, lambda: z3.ULE(x, y)),
               ">": (lambda: x > y, lambda: z3.UGT(x, y)), ">=": (lambda: x >= y, lambda: z3.UGE(x, y)),
               "==": (lambda: x == y,) * 2, "!=": (lambda: x != y,) * 2}
        if op in cmp:
            return cmp[op][0 if s else 1](), ("bool",)
        raise CExprError(f"operator {op}")
