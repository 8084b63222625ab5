"""C types of the driver family (x86-64, LP64) and the conversions between them.

Integer types carry their width and signedness (``char`` 8, ``short`` 16,
``int`` 32, ``long`` and ``long long`` 64 bits); ``_Bool`` is its own type.
The rules are C's: integer promotions (anything narrower than ``int``, and
``_Bool``, becomes ``int``), the usual arithmetic conversions (after
promotion: same signedness -> the higher rank; the unsigned operand's rank is
at least the signed one's -> unsigned; the signed type is wider -> signed;
else the unsigned version of the signed type), and the type of an integer
constant from its spelling and suffix.

Runtime representation (see compile.py): an integer value is an ops value of
32 bits (types of 32 bits or fewer, kept zero- or sign-extended to 32 as
their promotion would) or 64 bits; a ``_Bool`` is an ops boolean; pointers
are Python objects.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pycparser import c_ast


class CType:
    """Base class of C types."""

    def __str__(self) -> str:  # for messages
        return self.name  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Int(CType):
    bits: int
    signed: bool
    name: str
    rank: int  # conversion rank: char 1, short 2, int 3, long 4, long long 5

    @property
    def rep(self) -> int:
        """Width of the ops value that holds it: 32 or 64."""
        return 64 if self.bits == 64 else 32

    @property
    def mask(self) -> int:
        return (1 << self.bits) - 1

    def wrap(self, v: int) -> int:
        """The C value of the mathematical integer v converted to this type."""
        v &= self.mask
        if self.signed and v >> (self.bits - 1):
            v -= 1 << self.bits
        return v


@dataclass(frozen=True)
class Bool(CType):
    name: str = "_Bool"
    bits: int = 1
    signed: bool = False


@dataclass(frozen=True)
class Void(CType):
    name: str = "void"


@dataclass(frozen=True)
class Ptr(CType):
    target: CType

    @property
    def name(self) -> str:
        return f"{self.target} *"


@dataclass(frozen=True)
class Array(CType):
    elem: CType
    length: int | None

    @property
    def name(self) -> str:
        return f"{self.elem}[{'' if self.length is None else self.length}]"


@dataclass(frozen=True)
class Func(CType):
    ret: CType
    params: tuple  # of CType, or None for an unprototyped declaration
    variadic: bool = False

    @property
    def name(self) -> str:
        return f"{self.ret} (*)(...)"


@dataclass(eq=False)
class Struct(CType):
    """A struct or union, one object per tag: members are filled in when the
    definition is seen (an incomplete type until then)."""

    tag: str
    union: bool = False
    fields: list[tuple[str, CType]] | None = None
    defined_at: object = None
    _index: dict = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return f"{'union' if self.union else 'struct'} {self.tag}"

    def field_type(self, member: str) -> CType | None:
        if not self._index and self.fields:
            self._index.update(self.fields)
        return self._index.get(member)

    def __hash__(self) -> int:
        return id(self)


CHAR = Int(8, True, "char", 1)
SCHAR = Int(8, True, "signed char", 1)
UCHAR = Int(8, False, "unsigned char", 1)
SHORT = Int(16, True, "short", 2)
USHORT = Int(16, False, "unsigned short", 2)
INT = Int(32, True, "int", 3)
UINT = Int(32, False, "unsigned int", 3)
LONG = Int(64, True, "long", 4)
ULONG = Int(64, False, "unsigned long", 4)
LLONG = Int(64, True, "long long", 5)
ULLONG = Int(64, False, "unsigned long long", 5)
BOOL = Bool()
VOID = Void()
CHAR_PTR = Ptr(CHAR)
VOID_PTR = Ptr(VOID)

_BASIC = {
    ("char",): CHAR, ("signed", "char"): SCHAR, ("unsigned", "char"): UCHAR,
    ("short",): SHORT, ("short", "int"): SHORT, ("signed", "short"): SHORT, ("signed", "short", "int"): SHORT,
    ("unsigned", "short"): USHORT, ("unsigned", "short", "int"): USHORT,
    ("int",): INT, ("signed",): INT, ("signed", "int"): INT,
    ("unsigned",): UINT, ("unsigned", "int"): UINT,
    ("long",): LONG, ("long", "int"): LONG, ("signed", "long"): LONG, ("signed", "long", "int"): LONG,
    ("unsigned", "long"): ULONG, ("unsigned", "long", "int"): ULONG,
    ("long", "long"): LLONG, ("long", "long", "int"): LLONG, ("signed", "long", "long"): LLONG,
    ("signed", "long", "long", "int"): LLONG,
    ("unsigned", "long", "long"): ULLONG, ("unsigned", "long", "long", "int"): ULLONG,
    ("_Bool",): BOOL, ("void",): VOID,
}


def basic(names: list[str]) -> CType | None:
    """The type named by a list of basic type specifiers (order-insensitive)."""
    order = {"signed": 0, "unsigned": 0, "short": 1, "long": 1, "char": 2, "int": 2, "_Bool": 2, "void": 2}
    key = tuple(sorted(names, key=lambda n: order.get(n, 3)))
    return _BASIC.get(key)


def is_int(t: CType) -> bool:
    return isinstance(t, (Int, Bool))


def is_ptr(t: CType) -> bool:
    return isinstance(t, Ptr)


def is_scalar(t: CType) -> bool:
    return isinstance(t, (Int, Bool, Ptr))


def promote(t: CType) -> Int:
    """Integer promotion."""
    if isinstance(t, Bool) or (isinstance(t, Int) and t.rank < INT.rank):
        return INT
    assert isinstance(t, Int), t
    return t


def usual(a: CType, b: CType) -> Int:
    """The usual arithmetic conversions of two integer operands."""
    a, b = promote(a), promote(b)
    if a == b:
        return a
    if a.signed == b.signed:
        return a if a.rank >= b.rank else b
    u, s = (a, b) if not a.signed else (b, a)
    if u.rank >= s.rank:
        return u
    if s.bits > u.bits:
        return s
    return {INT: UINT, LONG: ULONG, LLONG: ULLONG}[s]


def sizeof(t: CType) -> int | None:
    if isinstance(t, Int):
        return t.bits // 8
    if isinstance(t, (Bool,)):
        return 1
    if isinstance(t, (Ptr, Func)):
        return 8
    if isinstance(t, Array) and t.length is not None:
        n = sizeof(t.elem)
        return None if n is None else n * t.length
    return None


def integer_constant(text: str) -> tuple[int, Int]:
    """Value and type of a C integer constant (C11 6.4.4.1)."""
    s = text.lower()
    suffix = ""
    while s and s[-1] in "ul":
        suffix = s[-1] + suffix
        s = s[:-1]
    if s.startswith("0x"):
        v, decimal = int(s[2:], 16), False
    elif s.startswith("0b"):
        v, decimal = int(s[2:], 2), False
    elif len(s) > 1 and s.startswith("0"):
        v, decimal = int(s, 8), False
    else:
        v, decimal = int(s), True
    unsigned = "u" in suffix
    longs = suffix.count("l")
    if longs == 0:
        cands = [UINT, ULONG, ULLONG] if unsigned else ([INT, LONG, LLONG] if decimal else
                                                         [INT, UINT, LONG, ULONG, LLONG, ULLONG])
    elif longs == 1:
        cands = [ULONG, ULLONG] if unsigned else ([LONG, LLONG] if decimal else [LONG, ULONG, LLONG, ULLONG])
    else:
        cands = [ULLONG] if unsigned else ([LLONG] if decimal else [LLONG, ULLONG])
    for t in cands:
        if v <= (t.mask >> 1 if t.signed else t.mask):
            return v, t
    return v & ULLONG.mask, ULLONG


def char_constant(text: str) -> int:
    from .parse import string_value

    body = text[text.index("'") + 1:-1]
    chars = string_value('"' + body.replace('"', '\\"') + '"')
    return CHAR.wrap(ord(chars[0])) if chars else 0


def compatible_pointers(a: CType, b: CType) -> bool:
    """Pointer assignment the interpreter accepts: same target, or void *."""
    return isinstance(a, Ptr) and isinstance(b, Ptr) and (
        a.target == b.target or isinstance(a.target, Void) or isinstance(b.target, Void)
        or _unqualified_same(a.target, b.target))


def _unqualified_same(a: CType, b: CType) -> bool:
    return a is b or (isinstance(a, Int) and isinstance(b, Int) and a.bits == b.bits)


def is_node_type(node: c_ast.Node) -> bool:
    return isinstance(node, (c_ast.Typename, c_ast.TypeDecl, c_ast.PtrDecl))
