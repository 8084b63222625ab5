"""The operations the model's algorithm is written over, in two interpretations.

The driver's algorithm (model/algorithm.py) is written once, over this small
interface on fixed-width unsigned values, and never uses Python ``+``, ``<``
or ``if`` on a driver value directly:

* ``CONCRETE`` interprets values as Python ints (32-bit ``unsigned int`` values
  kept in ``[0, 2**32)``, 64-bit ``unsigned long`` values in ``[0, 2**64)``) and
  booleans as Python bools. It predicts the trace of a driver build.
* ``Z3Ops()`` interprets values as Z3 bit-vectors (32 or 64 bits, wrap-around
  exactly like C unsigned arithmetic) and booleans as Z3 Bool terms. A prover
  uses it to state and prove invariants for all inputs.

Branches: algorithm code decides with ``ops.cond(b)``. Concretely that is the
Python bool itself. Symbolically a branch whose condition simplifies to a
constant is taken; any other branch is delegated to a *path oracle*
(model/symbolic/ explores every feasible path of a function by re-execution
and returns each path's condition with its result, so a prover can
case-split). Without an oracle a symbolic branch raises ``SymbolicBranch``.

Loops: a loop whose iteration count is data-dependent is written
``ops.loop(name, test, step, *args)``, meaning
``while test(ops, *args): if step(ops, *args): break`` (``test`` returns an
ops bool, ``step`` a Python bool: True breaks). Concretely that is the Python
loop (model/specialize.py inlines it); symbolically the oracle's loop policy
decides what a loop means (model/symbolic/loops.py: summarised by the loop
invariant registered under ``name``, cut at the loop head, or unrolled).

Page lists: ``ops.list_init/list_add/list_head/list_take/list_tail/list_empty``
(model/state.py describes them): Python lists concretely, ``SymbolicList``
symbolically.

Width conventions (x86-64 Linux, LP64): ``unsigned int``/``u32``/``int`` are 32
bits, ``unsigned long`` (status, PFN, totalram, backdoor result) is 64 bits.
Arithmetic (add/sub/mul/udiv) is only ever applied to 32-bit values by the
driver, so ``add``/``sub``/``mul`` wrap modulo 2**32; ``trunc32`` is the C
cast ``(u32)x`` of a 64-bit value, ``fits32(x)`` is ``x == (u32)x``.

For the C interpreter (csource/), which runs any driver of the family: the
64-bit arithmetic ``add64``/``sub64``/``mul64``, ``urem``, the bitwise
``band``/``bor``/``bxor`` (any width), the signed comparisons
``slt32``/``sle32``/``slt64``/``sle64`` (two's complement values of that
width) and the sign extension ``sext64`` (of a 32-bit value).
"""
from __future__ import annotations

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF
S32 = 0x80000000  # sign bits: (a ^ S) orders two's complement values as unsigned ones
S64 = 0x8000000000000000


class SymbolicBranch(Exception):
    """A branch on a symbolic condition was reached without a path oracle."""

    def __init__(self, condition):
        super().__init__(f"branch on a symbolic condition needs a path oracle: {condition}")
        self.condition = condition


class Consts:
    """Pre-built constants of one interpretation (so hot loops do not rebuild
    Z3 terms or re-mask ints). Attribute names are the C macro names, with a
    ``_64`` suffix where the driver compares an ``unsigned long`` against it."""

    def __init__(self, ops) -> None:
        from . import constants as c

        u32, u64 = ops.u32, ops.u64
        self.ZERO = u32(0)
        self.ONE = u32(1)
        self.TWO = u32(2)
        self.ZERO64 = u64(0)
        self.NOSLEEP_ALLOC_MAX = u32(c.VMW_BALLOON_NOSLEEP_ALLOC_MAX)
        self.RATE_ALLOC_MIN = u32(c.VMW_BALLOON_RATE_ALLOC_MIN)
        self.RATE_ALLOC_MAX = u32(c.VMW_BALLOON_RATE_ALLOC_MAX)
        self.RATE_ALLOC_INC = u32(c.VMW_BALLOON_RATE_ALLOC_INC)
        self.RATE_FREE_MIN = u32(c.VMW_BALLOON_RATE_FREE_MIN)
        self.RATE_FREE_MAX = u32(c.VMW_BALLOON_RATE_FREE_MAX)
        self.RATE_FREE_INC = u32(c.VMW_BALLOON_RATE_FREE_INC)
        self.SLOW_CYCLES = u32(c.VMW_BALLOON_SLOW_CYCLES)
        self.YIELD_THRESHOLD = u32(c.VMW_BALLOON_YIELD_THRESHOLD)
        self.MAX_REFUSED = u32(c.VMW_BALLOON_MAX_REFUSED)
        self.PROTOCOL_VERSION_64 = u64(c.VMW_BALLOON_PROTOCOL_VERSION)
        self.GUEST_ID_64 = u64(c.VMW_BALLOON_GUEST_ID)
        self.SUCCESS_64 = u64(c.VMW_BALLOON_SUCCESS)
        self.ERROR_RESET_64 = u64(c.VMW_BALLOON_ERROR_RESET)
        # hv_status is an `unsigned int`: compared as 32-bit values
        self.ERROR_RESET = u32(c.VMW_BALLOON_ERROR_RESET)
        self.ERROR_PPN_NOTNEEDED = u32(c.VMW_BALLOON_ERROR_PPN_NOTNEEDED)
        # `int error` of vmballoon_inflate: 0, -ENOMEM, -EIO as 32-bit two's complement
        self.ERR_OK = u32(0)
        self.ERR_ENOMEM = u32(-c.ENOMEM)
        self.ERR_EIO = u32(-c.EIO)


class ConcreteOps:
    """Python-int interpretation. Every operation is a plain function stored in
    the instance dict (cheapest attribute lookup), no objects are allocated."""

    symbolic = False

    def __init__(self) -> None:
        d = self.__dict__
        d["u32"] = lambda v: v & M32
        d["u64"] = lambda v: v & M64
        d["true"] = True
        d["false"] = False
        d["add"] = lambda a, b: (a + b) & M32
        d["sub"] = lambda a, b: (a - b) & M32
        d["mul"] = lambda a, b: (a * b) & M32
        d["udiv"] = lambda a, b: a // b  # b == 0 is undefined in C; raises here
        d["urem"] = lambda a, b: a % b
        d["add64"] = lambda a, b: (a + b) & M64
        d["sub64"] = lambda a, b: (a - b) & M64
        d["mul64"] = lambda a, b: (a * b) & M64
        d["band"] = lambda a, b: a & b
        d["bor"] = lambda a, b: a | b
        d["bxor"] = lambda a, b: a ^ b
        d["slt32"] = lambda a, b: (a ^ S32) < (b ^ S32)
        d["sle32"] = lambda a, b: (a ^ S32) <= (b ^ S32)
        d["slt64"] = lambda a, b: (a ^ S64) < (b ^ S64)
        d["sle64"] = lambda a, b: (a ^ S64) <= (b ^ S64)
        d["ult"] = lambda a, b: a < b
        d["ule"] = lambda a, b: a <= b
        d["ugt"] = lambda a, b: a > b
        d["uge"] = lambda a, b: a >= b
        d["eq"] = lambda a, b: a == b
        d["ne"] = lambda a, b: a != b
        d["ite"] = lambda c, a, b: a if c else b
        d["umin"] = lambda a, b: a if a < b else b  # kernel min() on unsigned
        d["umax"] = lambda a, b: a if a > b else b  # kernel max() on unsigned
        d["and_"] = lambda a, b: a and b
        d["or_"] = lambda a, b: a or b
        d["not_"] = lambda a: not a
        d["cond"] = lambda c: c
        d["trunc32"] = lambda x: x & M32
        d["zext64"] = lambda x: x
        d["sext64"] = lambda x: ((x ^ S32) - S32) & M64
        d["fits32"] = lambda x: x <= M32
        d["as_int"] = lambda x: x  # concrete value of a term (identity here)
        d["k"] = Consts(self)
        # page lists: Python lists, head last (model/state.py)
        d["list_init"] = lambda name: []
        d["list_add"] = list.append
        d["list_take"] = list.pop
        d["list_head"] = lambda l: l[-1]
        d["list_tail"] = lambda l: l[0]
        d["list_empty"] = lambda l: not l

        def loop(name, test, step, *args):
            while test(self, *args):
                if step(self, *args):
                    break

        d["loop"] = loop


CONCRETE = ConcreteOps()


class Z3Ops:
    """Z3 bit-vector interpretation (32-bit unless a 64-bit value is given).

    ``oracle`` (optional) decides symbolic branches: an object with
    ``decide(condition) -> bool`` (see model/symbolic.py)."""

    symbolic = True

    def __init__(self, oracle=None) -> None:
        import z3

        self.z3 = z3
        self.oracle = oracle
        self.true = z3.BoolVal(True)
        self.false = z3.BoolVal(False)
        self.k = Consts(self)

    # -- values -----------------------------------------------------------------
    def u32(self, v):
        z3 = self.z3
        return v if isinstance(v, z3.BitVecRef) else z3.BitVecVal(v & M32, 32)

    def u64(self, v):
        z3 = self.z3
        return v if isinstance(v, z3.BitVecRef) else z3.BitVecVal(v & M64, 64)

    def var32(self, name: str):
        return self.z3.BitVec(name, 32)

    def var64(self, name: str):
        return self.z3.BitVec(name, 64)

    def var_bool(self, name: str):
        return self.z3.Bool(name)

    # -- arithmetic (mod 2**width) -------------------------------------------
    def add(self, a, b):
        return a + b

    def sub(self, a, b):
        return a - b

    def mul(self, a, b):
        return a * b

    def udiv(self, a, b):
        return self.z3.UDiv(a, b)

    def urem(self, a, b):
        return self.z3.URem(a, b)

    add64 = add
    sub64 = sub
    mul64 = mul

    def band(self, a, b):
        return a & b

    def bor(self, a, b):
        return a | b

    def bxor(self, a, b):
        return a ^ b

    # -- comparisons -------------------------------------------------------------
    def ult(self, a, b):
        return self.z3.ULT(a, b)

    def ule(self, a, b):
        return self.z3.ULE(a, b)

    def ugt(self, a, b):
        return self.z3.UGT(a, b)

    def uge(self, a, b):
        return self.z3.UGE(a, b)

    def eq(self, a, b):
        return a == b

    def ne(self, a, b):
        return a != b

    def slt32(self, a, b):
        return a < b  # Z3's < on bit-vectors is signed

    def sle32(self, a, b):
        return a <= b

    slt64 = slt32
    sle64 = sle32

    # -- selection and logic -----------------------------------------------------
    def ite(self, c, a, b):
        return self.z3.If(c, a, b)

    def umin(self, a, b):
        return self.z3.If(self.z3.ULT(a, b), a, b)

    def umax(self, a, b):
        return self.z3.If(self.z3.UGT(a, b), a, b)

    def and_(self, a, b):
        return self.z3.And(a, b)

    def or_(self, a, b):
        return self.z3.Or(a, b)

    def not_(self, a):
        return self.z3.Not(a)

    # -- widths --------------------------------------------------------------------
    def trunc32(self, x):
        return self.z3.Extract(31, 0, x) if x.size() > 32 else x

    def zext64(self, x):
        return self.z3.ZeroExt(32, x) if x.size() < 64 else x

    def sext64(self, x):
        return self.z3.SignExt(32, x) if x.size() < 64 else x

    def fits32(self, x):
        if x.size() <= 32:
            return self.true
        return self.z3.Extract(x.size() - 1, 32, x) == 0

    def as_int(self, x):
        """The value of a term that simplifies to a constant (else ValueError)."""
        z3 = self.z3
        s = z3.simplify(x)
        if z3.is_bv_value(s):
            return s.as_long()
        if z3.is_true(s):
            return True
        if z3.is_false(s):
            return False
        raise ValueError(f"not a constant: {x}")

    # -- page lists (model/state.py) ------------------------------------------------
    def list_init(self, name: str):
        from .state import SymbolicList

        return SymbolicList.new(name)

    def list_add(self, l, x) -> None:
        l.add(self, x)

    def list_take(self, l):
        return l.take(self)

    def list_head(self, l):
        return l.head(self)

    def list_tail(self, l):
        return l.tail(self)

    def list_empty(self, l):
        return l.is_empty()

    # -- loops -----------------------------------------------------------------------
    def loop(self, name: str, test, step, *args) -> None:
        """``while test(): if step(): break``, as the oracle's loop policy says
        (without one: executed, each test a branch)."""
        handler = getattr(self.oracle, "loop", None)
        if handler is not None:
            return handler(self, name, test, step, args)
        while self.cond(test(self, *args)):
            if step(self, *args):
                break

    # -- branching -----------------------------------------------------------------
    def cond(self, c):
        z3 = self.z3
        if isinstance(c, bool):
            return c
        s = z3.simplify(c)
        if z3.is_true(s):
            return True
        if z3.is_false(s):
            return False
        if self.oracle is None:
            raise SymbolicBranch(c)
        return self.oracle.decide(s)
