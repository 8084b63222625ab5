"""Lowering of C expressions (the half of lower.py's FunctionLowering that
turns an expression into a pure Python expression over ``ops``, emitting its
side effects as statements first).

Values: an integer of C type T is an ops value of T's representation width
(32 bits for types of at most 32 bits, else 64), a ``_Bool`` and the result
of a comparison are ops booleans, pointers are Python objects. Every
conversion is explicit in the generated code (``ops`` calls), so the same
code runs concretely and with Z3. Side effects (assignments, calls, ``++``)
are emitted in C's order (left to right where C leaves it open); the code
that remains is pure. ``&&``, ``||`` and ``?:`` whose later operands cannot
fail or act are ``ops.and_``/``ops.or_``/``ops.ite``; others branch.
"""
from __future__ import annotations

from pycparser import c_ast

from . import typesys as T
from .compile import INTRINSICS, PURE_BUILTINS
from .errors import Unsupported
from .parse import Asm, string_value

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF
STATEMENTS = (c_ast.If, c_ast.While, c_ast.DoWhile, c_ast.For, c_ast.Switch, c_ast.Return, c_ast.Break,
              c_ast.Continue, c_ast.Goto, c_ast.Label, c_ast.Case, c_ast.Default, c_ast.EmptyStatement,
              c_ast.Decl, c_ast.Compound, c_ast.Typedef, c_ast.Pragma, c_ast.DeclList, Asm)
ASM_REGISTERS = {"a": 0, "b": 1, "c": 2, "d": 3}  # index in kernel.backdoor()'s result


# -- values and lvalues ---------------------------------------------------------------------------


class V:
    """A lowered expression: ``code`` (a pure Python expression), its C type,
    its constant C value when known, ``cond`` when the code is an ops boolean
    (a comparison, of C type int), ``fn`` for a function designator."""

    __slots__ = ("code", "ty", "const", "cond", "lv", "fn")

    def __init__(self, code: str, ty: T.CType, const=None, cond=False, lv=None, fn=None) -> None:
        self.code, self.ty, self.const, self.cond, self.lv, self.fn = code, ty, const, cond, lv, fn


class LV:
    """An lvalue: how to read, write and take the address of an object."""

    def __init__(self, ty: T.CType) -> None:
        self.ty = ty

    @property
    def is_object(self) -> bool:  # the value is a Python object (struct, list_head)
        return isinstance(self.ty, (T.Struct, T.Array))


class SlotLV(LV):
    def __init__(self, ty, slot: int) -> None:
        super().__init__(ty)
        self.slot = slot

    def load(self) -> str:
        return f"L[{self.slot}]"

    def store(self, code: str) -> str:
        return f"L[{self.slot}] = {code}"

    def addr(self) -> str:
        return self.load() if self.is_object else f"SlotRef(L, {self.slot})"


class GlobalLV(LV):
    def __init__(self, ty, index: int) -> None:
        super().__init__(ty)
        self.index = index

    def load(self) -> str:
        return f"G[{self.index}]"

    def store(self, code: str) -> str:
        return f"G[{self.index}] = {code}"

    def addr(self) -> str:
        return self.load() if self.is_object else f"SlotRef(G, {self.index})"


class FieldLV(LV):
    def __init__(self, ty, base: str, member: str) -> None:
        super().__init__(ty)
        self.base, self.attr = base, "f_" + member

    def load(self) -> str:
        return f"{self.base}.{self.attr}"

    def store(self, code: str) -> str:
        return f"{self.base}.{self.attr} = {code}"

    def addr(self) -> str:
        return self.load() if self.is_object else f"FieldRef({self.base}, {self.attr!r})"


class DerefLV(LV):
    def __init__(self, ty, ptr: str) -> None:
        super().__init__(ty)
        self.ptr = ptr

    def load(self) -> str:
        return self.ptr if self.is_object else f"{self.ptr}.get()"

    def store(self, code: str) -> str:
        return f"{self.ptr}.set({code})"

    def addr(self) -> str:
        return self.ptr


# -- constant folding -------------------------------------------------------------------------------


def _cdiv(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def fold(op: str, x: int, y: int, ty: T.Int) -> int:
    """A binary operator on C values converted to ``ty`` (both already of it)."""
    if op in ("/", "%"):
        if y == 0:
            raise ZeroDivisionError
        q = _cdiv(x, y) if ty.signed else x // y
        return ty.wrap(q if op == "/" else x - y * q)
    if op in ("<<", ">>"):
        if y < 0 or y >= ty.bits:
            raise ValueError("shift count out of range")
        return ty.wrap(x << y if op == "<<" else x >> y)
    fn = {"+": lambda: x + y, "-": lambda: x - y, "*": lambda: x * y, "&": lambda: x & y, "|": lambda: x | y,
          "^": lambda: x ^ y}
    if op in fn:
        return ty.wrap(fn[op]())
    cmp = {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y, "==": x == y, "!=": x != y}
    return int(cmp[op])


class Local:
    __slots__ = ("slot", "ty")

    def __init__(self, slot: int, ty: T.CType) -> None:
        self.slot, self.ty = slot, ty


class GlobalName:
    __slots__ = ("index", "ty")

    def __init__(self, index: int, ty: T.CType) -> None:
        self.index, self.ty = index, ty


class ExpressionLowering:
    """Expression methods of FunctionLowering (which provides emission, slots,
    blocks and scopes)."""

    # ============================================================================================
    # analyses of expression trees
    # ============================================================================================
    def _callee_kind(self, node) -> str:
        """c (a C function, or a call through a pointer), builtin, intrinsic, unmodelled."""
        if isinstance(node, c_ast.ID) and self.lookup(node.name) is None:
            if node.name in INTRINSICS:
                return "intrinsic"
            return self.ns.kinds.get(node.name, "unknown")
        return "c"

    def splits(self, node) -> bool:
        """Lowering this needs more than one block (a C call, a loop, a label...)."""
        stack = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, (c_ast.For, c_ast.While, c_ast.DoWhile, c_ast.Switch, c_ast.Label, c_ast.Case,
                              c_ast.Default)):
                return True
            if isinstance(n, c_ast.FuncCall) and self._callee_kind(n.name) == "c":
                return True
            stack.extend(c for _, c in n.children())
        return False

    def side_effects(self, node) -> bool:
        stack = [node]
        while stack:
            n = stack.pop()
            if isinstance(n, (c_ast.Assignment, c_ast.Compound)):
                return True
            if isinstance(n, c_ast.UnaryOp) and n.op in ("++", "--", "p++", "p--"):
                return True
            if isinstance(n, c_ast.FuncCall):
                kind = self._callee_kind(n.name)
                if not (kind == "intrinsic" or (kind == "builtin" and n.name.name in PURE_BUILTINS)):
                    return True
            if isinstance(n, c_ast.ID) and self.lookup(n.name) is None and self.ns.externs.get(n.name, ("",))[0] == "var":
                return True  # reading x86_hyper asks the environment
            stack.extend(c for _, c in n.children())
        return False

    def eager_ok(self, node) -> bool:
        """Evaluating this when C would not cannot fail or act: constants,
        variables and operators over them (no division, no dereference)."""
        if isinstance(node, c_ast.Constant):
            return node.type != "string"
        if isinstance(node, c_ast.ID):
            found = self.lookup(node.name)
            if found is not None:
                return True
            return node.name in self.env.enums or (node.name in self.P.globals)
        if isinstance(node, c_ast.UnaryOp):
            return node.op in ("-", "+", "~", "!") and self.eager_ok(node.expr)
        if isinstance(node, c_ast.BinaryOp):
            return node.op not in ("/", "%") and self.eager_ok(node.left) and self.eager_ok(node.right)
        if isinstance(node, c_ast.Cast):
            return self.eager_ok(node.expr)
        if isinstance(node, c_ast.TernaryOp):
            return self.eager_ok(node.cond) and self.eager_ok(node.iftrue) and self.eager_ok(node.iffalse)
        if isinstance(node, c_ast.StructRef):
            return node.type == "." and isinstance(node.name, c_ast.ID) and self.eager_ok(node.name)
        return False

    # ============================================================================================
    # expressions
    # ============================================================================================
    def expr(self, n, want: bool = True) -> V:
        m = getattr(self, "e_" + type(n).__name__, None)
        if m is None:
            raise self.unsupported(f"expression {type(n).__name__}", n)
        return m(n, want) if m.__code__.co_argcount == 3 else m(n)

    # -- constants and conversions ----------------------------------------------------------------
    def const_code(self, ty: T.CType, value: int) -> str:
        if isinstance(ty, T.Bool):
            return "ops.true" if value else "ops.false"
        if isinstance(ty, T.Int):
            return f"ops.u64({value & M64})" if ty.rep == 64 else f"ops.u32({value & M32})"
        if isinstance(ty, T.Ptr) and value == 0:
            return "None"
        raise Unsupported(f"a constant of type {ty}")

    def const(self, ty: T.CType, value: int) -> V:
        return V(self.const_code(ty, value), ty, const=value)

    def zero(self, rep: int) -> str:
        return "ops.u64(0)" if rep == 64 else "ops.u32(0)"

    def materialize(self, v: V) -> V:
        """The value in a temporary slot, so that later side effects cannot change it."""
        if v.const is not None or v.fn is not None or self.is_temp(v.code) or v.code == "None":
            return v
        if self.fd is None:
            return v
        t = self.temp()
        self.emit(f"L[{t}] = {v.code}")
        return V(f"L[{t}]", v.ty, cond=v.cond)

    def int_code(self, v: V, to: T.Int) -> str:
        return self.convert(v, to).code

    def convert(self, v: V, to: T.CType, node=None, explicit: bool = False) -> V:
        """C's conversion of ``v`` to type ``to`` (assignment, argument, cast)."""
        frm = v.ty
        if isinstance(to, T.Void):
            return V("None", T.VOID)
        if isinstance(to, T.Bool):
            if v.const is not None:
                return self.const(T.BOOL, int(v.const != 0))
            if isinstance(frm, T.Bool) or v.cond:
                return V(v.code, T.BOOL)
            return V(self.as_cond(v, node), T.BOOL)
        if isinstance(to, T.Int):
            if v.cond or isinstance(frm, T.Bool):
                if v.const is not None:
                    return self.const(to, int(v.const != 0))
                return V(f"ops.ite({v.code}, {self.const_code(to, 1)}, {self.const_code(to, 0)})", to)
            if isinstance(frm, T.Int):
                if v.const is not None:
                    return self.const(to, to.wrap(v.const))
                if frm == to:
                    return v
                return V(self._int_conv(v.code, frm, to), to)
            raise self.unsupported(f"conversion of a {frm} to {to}", node)
        if isinstance(to, T.Ptr):
            if isinstance(frm, T.Ptr):
                return V(v.code, to, fn=v.fn)
            if isinstance(frm, T.Func):
                return V(v.code, to, fn=v.fn)
            if isinstance(frm, T.Int) and v.const == 0:
                return V("None", to, const=0)
            raise self.unsupported(f"conversion of a {frm} to {to}", node)
        if isinstance(to, T.Struct) and frm is to:
            return v
        raise self.unsupported(f"conversion of a {frm} to {to}", node)

    def _int_conv(self, code: str, frm: T.Int, to: T.Int) -> str:
        if frm.rep == 32 and to.rep == 64:
            code = f"ops.sext64({code})" if frm.signed else f"ops.zext64({code})"
        elif frm.rep == 64 and to.rep == 32:
            code = f"ops.trunc32({code})"
        if to.bits < 32 and not (frm.bits <= to.bits and (frm.signed == to.signed or
                                                          (not frm.signed and frm.bits < to.bits))):
            if to.signed:
                sign = 1 << (to.bits - 1)
                code = f"ops.sub(ops.bxor(ops.band({code}, ops.u32({to.mask})), ops.u32({sign})), ops.u32({sign}))"
            else:
                code = f"ops.band({code}, ops.u32({to.mask}))"
        return code

    def as_cond(self, v: V, node=None) -> str:
        """The value tested against zero, as an ops boolean."""
        if v.cond or isinstance(v.ty, T.Bool):
            return v.code
        if v.const is not None:
            return "ops.true" if v.const else "ops.false"
        if isinstance(v.ty, T.Int):
            return f"ops.ne({v.code}, {self.zero(v.ty.rep)})"
        if isinstance(v.ty, T.Ptr):
            return f"K.nonnull(ops, {v.code})"
        if isinstance(v.ty, T.Func):
            return "ops.true"
        raise self.unsupported(f"a {v.ty} used as a condition", node)

    def cond_code(self, n) -> str:
        """A controlling expression as an ops boolean."""
        if isinstance(n, c_ast.UnaryOp) and n.op == "!":
            return f"ops.not_({self.cond_code(n.expr)})"
        return self.as_cond(self.expr(n), n)

    # -- leaves ------------------------------------------------------------------------------------------
    def e_Constant(self, n) -> V:
        if n.type == "string":
            return V(repr(string_value(n.value)), T.CHAR_PTR)
        if n.type == "char":
            return self.const(T.INT, T.char_constant(n.value))
        if n.type in ("float", "double", "long double"):
            raise self.unsupported("floating point", n)
        value, ty = T.integer_constant(n.value)
        return self.const(ty, value)

    def e_ID(self, n) -> V:
        name = n.name
        found = self.lookup(name)
        if isinstance(found, Local):
            lv = SlotLV(found.ty, found.slot)
            return V(lv.load(), found.ty, lv=lv)
        if isinstance(found, GlobalName):
            lv = GlobalLV(found.ty, found.index)
            return V(lv.load(), found.ty, lv=lv)
        if name == "__func__" and self.fd is not None:
            return V(repr(self.name), T.CHAR_PTR)
        if name in self.env.enums:
            return self.const(T.INT, self.env.enums[name])
        if self.ns.constant_only:
            raise self.unsupported(f"{name} in a constant expression", n)
        if name in self.P.globals:
            g = self.P.globals[name]
            lv = GlobalLV(g.ctype, g.index)
            return V(lv.load(), g.ctype, lv=lv)
        if name in self.ns.externs:
            kind, ty = self.ns.externs[name]
            if kind == "var":
                t = self.temp() if self.fd is not None else None
                if t is None:
                    raise self.unsupported(f"{name} in a static initialiser", n)
                self.emit(f"L[{t}] = KV_{name}(M)")
                return V(f"L[{t}]", ty)
            if kind == "addr":
                return V(f"KA_{name}", ty, lv=None)
            raise self.unsupported(f"extern variable {name}, which the kernel model does not provide", n)
        if name in self.ns.fn_types:
            return V(f"FN_{name}", self.ns.fn_types[name], fn=name)
        raise self.unsupported(f"undeclared identifier {name}", n)

    def e_StructRef(self, n) -> V:
        base = self.expr(n.name)
        if n.type == "->":
            if not isinstance(base.ty, T.Ptr) or not isinstance(base.ty.target, T.Struct):
                raise self.unsupported(f"-> on a {base.ty}", n)
            st, obj = base.ty.target, base.code
        else:
            if not isinstance(base.ty, T.Struct):
                raise self.unsupported(f". on a {base.ty}", n)
            st = base.ty
            obj = base.lv.load() if base.lv is not None else base.code
        if st.tag == "list_head":
            raise self.unsupported("direct access to a list_head's pointers (only the list helpers are modelled)", n)
        member = n.field.name
        fty = st.field_type(member)
        if fty is None:
            raise self.unsupported(f"{st} has no member {member}", n)
        if obj == "None":
            raise self.unsupported("member access through a NULL pointer constant", n)
        lv = FieldLV(fty, obj, member)
        return V(lv.load(), fty, lv=lv)

    def e_ArrayRef(self, n) -> V:
        raise self.unsupported("array subscript", n)

    def e_Typename(self, n) -> V:
        raise self.unsupported("type name in an expression", n)

    def e_InitList(self, n) -> V:
        raise self.unsupported("brace list in an expression", n)

    def e_CompoundLiteral(self, n) -> V:
        raise self.unsupported("compound literal", n)

    # -- lvalues ---------------------------------------------------------------------------------------------
    def lvalue(self, n) -> LV:
        if isinstance(n, c_ast.UnaryOp) and n.op == "*":
            return self._deref(n).lv
        v = self.expr(n)
        if v.lv is None:
            raise self.unsupported("assignment to something that is not an object", n)
        if v.ty.__class__ is T.Int or isinstance(v.ty, (T.Bool, T.Ptr)):
            return v.lv
        raise self.unsupported(f"assignment of a {v.ty}", n)

    def _deref(self, n) -> V:
        p = self.expr(n.expr)
        if not isinstance(p.ty, T.Ptr):
            raise self.unsupported(f"* of a {p.ty}", n)
        target = p.ty.target
        if isinstance(target, T.Void):
            raise self.unsupported("dereference of a void pointer", n)
        if isinstance(target, T.Func):
            return V(p.code, target, fn=p.fn)
        ptr = self.materialize(p) if not isinstance(target, (T.Struct,)) else p
        lv = DerefLV(target, ptr.code)
        return V(lv.load(), target, lv=lv)

    # -- operators ---------------------------------------------------------------------------------------------
    def e_UnaryOp(self, n, want=True) -> V:
        op = n.op
        if op in ("++", "--", "p++", "p--"):
            return self.incdec(n, want)
        if op == "sizeof":
            ty = self.env.resolve(n.expr) if isinstance(n.expr, c_ast.Typename) else self.type_of(n.expr)
            size = T.sizeof(ty)
            if size is None:
                raise self.unsupported(f"sizeof of {ty}", n)
            return self.const(T.ULONG, size)
        if op == "&":
            return self.address(n)
        if op == "*":
            return self._deref(n)
        v = self.expr(n.expr)
        if op == "!":
            if v.const is not None:
                return self.const(T.INT, int(v.const == 0))
            return V(f"ops.not_({self.as_cond(v, n)})", T.INT, cond=True)
        if not (T.is_int(v.ty) or v.cond):
            raise self.unsupported(f"unary {op} of a {v.ty}", n)
        ty = T.promote(T.INT if v.cond else v.ty)
        v = self.convert(v, ty)
        if v.const is not None:
            value = {"-": -v.const, "+": v.const, "~": ~v.const}[op]
            return self.const(ty, ty.wrap(value))
        if op == "+":
            return v
        if op == "-":
            return V(f"ops.{'sub64' if ty.rep == 64 else 'sub'}({self.zero(ty.rep)}, {v.code})", ty)
        ones = self.const_code(ty, -1)
        return V(f"ops.bxor({v.code}, {ones})", ty)

    def address(self, n) -> V:
        e = n.expr
        if isinstance(e, c_ast.ID) and self.lookup(e.name) is None:
            kind = self.ns.externs.get(e.name, ("",))[0]
            if kind == "addr":
                return V(f"KA_{e.name}", T.Ptr(self.ns.externs[e.name][1]))
            if e.name in self.ns.fn_types and e.name not in self.P.globals:
                return V(f"FN_{e.name}", T.Ptr(self.ns.fn_types[e.name]), fn=e.name)
        if isinstance(e, c_ast.UnaryOp) and e.op == "*":
            p = self.expr(e.expr)
            if not isinstance(p.ty, T.Ptr):
                raise self.unsupported(f"&* of a {p.ty}", n)
            return p
        v = self.expr(e)
        if v.fn is not None:
            return V(v.code, T.Ptr(v.ty), fn=v.fn)
        if v.lv is None:
            raise self.unsupported("address of something that is not an object", n)
        if isinstance(v.ty, T.Array):
            raise self.unsupported("address of an array", n)
        return V(v.lv.addr(), T.Ptr(v.ty))

    def incdec(self, n, want: bool) -> V:
        lv = self.lvalue(n.expr)
        ty = lv.ty
        up = n.op in ("++", "p++")
        post = n.op.startswith("p")
        old = V(lv.load(), ty)
        if post and want:
            old = self.materialize(old)
        if isinstance(ty, T.Bool):
            new = "ops.true" if up else f"ops.not_({old.code})"
        elif isinstance(ty, T.Int):
            pt = T.promote(ty)
            o = self.convert(old, pt)
            fn = ("add" if up else "sub") + ("64" if pt.rep == 64 else "")
            new = self.convert(V(f"ops.{fn}({o.code}, {self.const_code(pt, 1)})", pt), ty).code
        else:
            raise self.unsupported(f"{n.op} of a {ty}", n)
        if not want:
            self.emit(lv.store(new))
            return V("None", T.VOID)
        if post:
            self.emit(lv.store(new))
            return old
        t = self.materialize(V(new, ty))
        self.emit(lv.store(t.code))
        return t

    def e_BinaryOp(self, n, want=True) -> V:
        if n.op in ("&&", "||"):
            return self.logical(n)
        a = self.expr(n.left)
        if self.side_effects(n.right):
            a = self.materialize(a)
        b = self.expr(n.right)
        return self.binop(n.op, a, b, n)

    def binop(self, op: str, a: V, b: V, node) -> V:
        if op in ("==", "!=") and (isinstance(a.ty, (T.Ptr, T.Func)) or isinstance(b.ty, (T.Ptr, T.Func))):
            pa = self.convert(a, b.ty if not isinstance(a.ty, (T.Ptr, T.Func)) else a.ty, node)
            pb = self.convert(b, pa.ty if isinstance(pa.ty, T.Ptr) else T.VOID_PTR, node)
            eq = f"K.ptr_eq(ops, {pa.code}, {pb.code})"
            return V(eq if op == "==" else f"ops.not_({eq})", T.INT, cond=True)
        ta = T.INT if a.cond else a.ty
        tb = T.INT if b.cond else b.ty
        if not (T.is_int(ta) and T.is_int(tb)):
            raise self.unsupported(f"operator {op} on {a.ty} and {b.ty} (pointer arithmetic)", node)
        if op in ("<<", ">>"):
            ty = T.promote(ta)
            a, b = self.convert(a, ty), self.convert(b, T.promote(tb))
            if a.const is None or b.const is None:
                raise self.unsupported(f"shift {op} of a non-constant", node)
            try:
                return self.const(ty, fold(op, a.const, b.const, ty))
            except ValueError:
                raise self.unsupported("shift count out of range", node) from None
        ty = T.usual(ta, tb)
        a, b = self.convert(a, ty), self.convert(b, ty)
        cmp = op in ("<", "<=", ">", ">=", "==", "!=")
        if a.const is not None and b.const is not None:
            try:
                value = fold(op, a.const, b.const, ty)
            except ZeroDivisionError:
                raise self.unsupported("division by zero in a constant expression", node) from None
            return self.const(T.INT, value) if cmp else self.const(ty, value)
        x, y = a.code, b.code
        w = "64" if ty.rep == 64 else ""
        if cmp:
            if op in ("==", "!="):
                code = f"ops.{'eq' if op == '==' else 'ne'}({x}, {y})"
            elif ty.signed:
                r = ty.rep
                code = {"<": f"ops.slt{r}({x}, {y})", "<=": f"ops.sle{r}({x}, {y})",
                        ">": f"ops.slt{r}({y}, {x})", ">=": f"ops.sle{r}({y}, {x})"}[op]
            else:
                code = f"ops.{ {'<': 'ult', '<=': 'ule', '>': 'ugt', '>=': 'uge'}[op]}({x}, {y})"
            return V(code, T.INT, cond=True)
        if op in ("/", "%"):
            if ty.signed:
                raise self.unsupported(f"signed {'division' if op == '/' else 'remainder'} ({ty})", node)
            return V(f"ops.{'udiv' if op == '/' else 'urem'}({x}, {y})", ty)
        name = {"+": "add" + w, "-": "sub" + w, "*": "mul" + w, "&": "band", "|": "bor", "^": "bxor"}.get(op)
        if name is None:
            raise self.unsupported(f"operator {op}", node)
        return V(f"ops.{name}({x}, {y})", ty)

    def logical(self, n) -> V:
        a = self.cond_code(n.left)
        conj = n.op == "&&"
        if self.eager_ok(n.right):
            b = self.cond_code(n.right)
            return V(f"ops.{'and_' if conj else 'or_'}({a}, {b})", T.INT, cond=True)
        t = self.temp()
        short = "ops.false" if conj else "ops.true"
        test = f"ops.cond({a})" if conj else f"not ops.cond({a})"
        if not self.splits(n.right):
            self.emit(f"if {test}:")
            with self.nested():
                self.emit(f"L[{t}] = {self.cond_code(n.right)}")
            self.emit("else:")
            with self.nested():
                self.emit(f"L[{t}] = {short}")
            return V(f"L[{t}]", T.INT, cond=True)
        rhs, out = self.new_block(), self.new_block()
        self.emit(f"L[{t}] = {short}")
        self.emit(f"if {test}: return {rhs}")
        self.jump(out)
        self.start(rhs)
        self.emit(f"L[{t}] = {self.cond_code(n.right)}")
        self.jump(out)
        self.start(out)
        return V(f"L[{t}]", T.INT, cond=True)

    def e_TernaryOp(self, n, want=True) -> V:
        c = self.cond_code(n.cond)
        t_ty, f_ty = self.type_of(n.iftrue), self.type_of(n.iffalse)
        ty = self._ternary_type(t_ty, f_ty, n)
        if self.eager_ok(n.iftrue) and self.eager_ok(n.iffalse):
            a = self.convert(self.expr(n.iftrue), ty, n.iftrue)
            b = self.convert(self.expr(n.iffalse), ty, n.iffalse)
            if isinstance(ty, T.Void):
                return V("None", T.VOID)
            return V(f"ops.ite({c}, {a.code}, {b.code})", ty)
        t = self.temp()
        if not self.splits(n.iftrue) and not self.splits(n.iffalse):
            self.emit(f"if ops.cond({c}):")
            with self.nested():
                self.emit(f"L[{t}] = {self.convert(self.expr(n.iftrue), ty, n.iftrue).code}")
            self.emit("else:")
            with self.nested():
                self.emit(f"L[{t}] = {self.convert(self.expr(n.iffalse), ty, n.iffalse).code}")
        else:
            tb, fb, out = self.new_block(), self.new_block(), self.new_block()
            self.emit(f"if ops.cond({c}): return {tb}")
            self.jump(fb)
            self.start(tb)
            self.emit(f"L[{t}] = {self.convert(self.expr(n.iftrue), ty, n.iftrue).code}")
            self.jump(out)
            self.start(fb)
            self.emit(f"L[{t}] = {self.convert(self.expr(n.iffalse), ty, n.iffalse).code}")
            self.jump(out)
            self.start(out)
        return V(f"L[{t}]", ty, cond=False)

    def _ternary_type(self, a: T.CType, b: T.CType, node) -> T.CType:
        if T.is_int(a) and T.is_int(b):
            return T.usual(a, b)
        if isinstance(a, T.Void) and isinstance(b, T.Void):
            return T.VOID
        if isinstance(a, T.Ptr):
            return a
        if isinstance(b, T.Ptr):
            return b
        raise self.unsupported(f"?: of {a} and {b}", node)

    def e_Cast(self, n) -> V:
        ty = self.env.resolve(n.to_type)
        v = self.expr(n.expr)
        if isinstance(ty, T.Void):
            return V("None", T.VOID)
        if isinstance(ty, T.Ptr) and isinstance(v.ty, T.Int) and v.const is not None and v.const != 0:
            raise self.unsupported("a cast of a non-zero integer to a pointer", n)
        return self.convert(v, ty, n, explicit=True)

    def e_Assignment(self, n, want=True) -> V:
        lv = self.lvalue(n.lvalue)
        if n.op == "=":
            r = self.convert(self.expr(n.rvalue), lv.ty, n.rvalue)
            if want:
                r = self.materialize(r)
            self.at(n)
            self.emit(lv.store(r.code))
            return r if want else V("None", T.VOID)
        op = n.op[:-1]
        r = self.expr(n.rvalue)
        if not T.is_int(lv.ty):
            raise self.unsupported(f"{n.op} on a {lv.ty}", n)
        new = self.binop(op, V(lv.load(), lv.ty), r, n)
        new = self.convert(new, lv.ty)
        if want:
            new = self.materialize(new)
        self.emit(lv.store(new.code))
        return new if want else V("None", T.VOID)

    def e_ExprList(self, n, want=True) -> V:
        v = V("None", T.VOID)
        for i, e in enumerate(n.exprs):
            last = i == len(n.exprs) - 1
            v = self.expr(e, want=want and last)
        return v

    def e_Compound(self, n, want=True) -> V:
        """A GNU statement expression: its value is its last expression statement's."""
        self.scopes.append({})
        items = n.block_items or []
        v = V("None", T.VOID)
        for i, item in enumerate(items):
            if i == len(items) - 1 and not isinstance(item, STATEMENTS):
                self.at(item)
                v = self.expr(item, want)
                if want:
                    v = self.materialize(v)
            else:
                self.stmt(item)
        self.scopes.pop()
        return v

    # -- calls --------------------------------------------------------------------------------------------------
    def args(self, nodes, ftype: T.Func, node) -> list[V]:
        params = list(ftype.params) if ftype.params is not None else None
        if params is not None and (len(nodes) < len(params) or (len(nodes) > len(params) and not ftype.variadic)):
            raise self.unsupported(f"call with {len(nodes)} arguments, the prototype has {len(params)}", node)
        out = []
        for i, a in enumerate(nodes):
            v = self.expr(a)
            if params is not None and i < len(params):
                v = self.convert(v, params[i], a)
            else:
                v = self._promote_arg(v, a)
            if any(self.side_effects(x) for x in nodes[i + 1:]):
                v = self.materialize(v)
            out.append(v)
        return out

    def _promote_arg(self, v: V, node) -> V:
        if v.cond or isinstance(v.ty, T.Bool) or isinstance(v.ty, T.Int):
            return self.convert(v, T.promote(T.INT if v.cond else v.ty))
        return v

    def e_FuncCall(self, n, want=True) -> V:
        nodes = n.args.exprs if n.args is not None else []
        kind = self._callee_kind(n.name)
        if kind == "intrinsic":
            return self.intrinsic(n.name.name, nodes, n)
        if kind == "unmodelled":
            raise self.unsupported(f"call of {n.name.name}, a kernel function the interpreter does not model", n)
        if kind == "unknown":
            raise self.unsupported(f"call of undeclared function {n.name.name}", n)
        if kind == "builtin":
            name = n.name.name
            ftype = self.ns.fn_types[name]
            vals = self.args(nodes, ftype, n)
            fixed = len(ftype.params or ())
            codes = [v.code for v in vals[:fixed]]
            if ftype.variadic:
                extra = ", ".join(f"({v.code}, {self.ns.type_name(v.ty)})" for v in vals[fixed:])
                codes.append(f"({extra}{',' if len(vals) - fixed == 1 else ''})")
            self.at(n)
            call = f"KF_{name}(M{''.join(', ' + c for c in codes)})"
            if isinstance(ftype.ret, T.Void):
                self.emit(call)
                return V("None", T.VOID)
            t = self.temp()
            self.emit(f"L[{t}] = {call}")
            ret = ftype.ret
            return V(f"L[{t}]", ret)
        # a C function, directly or through a pointer
        f = self.expr(n.name)
        fty = f.ty.target if isinstance(f.ty, T.Ptr) else f.ty
        if not isinstance(fty, T.Func):
            raise self.unsupported(f"call of a {f.ty}", n)
        if f.fn is None and n.args is not None and self.side_effects(n.args):
            f = self.materialize(f)
        vals = self.args(nodes, fty, n)
        ret = None if isinstance(fty.ret, T.Void) else self.temp()
        cont = self.new_block()
        self.at(n)
        args = "".join(v.code + ", " for v in vals)
        self.emit(f"return M.call(F, {f.code}, ({args}), {ret}, {cont})")
        self.start(cont)
        if ret is None:
            return V("None", T.VOID)
        return V(f"L[{ret}]", fty.ret)

    def intrinsic(self, name: str, nodes, n) -> V:
        if name == "__builtin_expect":
            return self.expr(nodes[0])
        if name in ("__bs_min", "__bs_max"):
            a = self.expr(nodes[0])
            if self.side_effects(nodes[1]):
                a = self.materialize(a)
            b = self.expr(nodes[1])
            ta, tb = (T.INT if a.cond else a.ty), (T.INT if b.cond else b.ty)
            if not (T.is_int(ta) and T.is_int(tb)):
                raise self.unsupported(f"{name[5:]} of {a.ty} and {b.ty}", n)
            ty = T.usual(ta, tb)
            a, b = self.convert(a, ty), self.convert(b, ty)
            if a.const is not None and b.const is not None:
                pick = (a.const if a.const < b.const else b.const) if name == "__bs_min" else \
                       (a.const if a.const > b.const else b.const)
                return self.const(ty, pick)
            a, b = self.materialize(a), self.materialize(b)
            if not ty.signed:
                return V(f"ops.{'umin' if name == '__bs_min' else 'umax'}({a.code}, {b.code})", ty)
            r = ty.rep
            test = f"ops.slt{r}({a.code}, {b.code})" if name == "__bs_min" else f"ops.slt{r}({b.code}, {a.code})"
            return V(f"ops.ite({test}, {a.code}, {b.code})", ty)
        if name == "__bs_container_of":
            p = self.expr(nodes[0])
            ty = self.env.resolve(nodes[1].to_type)
            member = string_value(nodes[2].value)
            st = ty.target
            cls = self.ns.struct_class_name(st)
            return V(f"K.container_of({p.code}, {cls}, {member!r})", ty)
        if name in ("__bs_list_first", "__bs_list_last"):  # the head's next or prev entry
            h = self.materialize(self.expr(nodes[0]))
            ty = self._witness_type(nodes[1])
            member = string_value(nodes[2].value)
            t = self.temp()
            end = "first" if name == "__bs_list_first" else "last"
            self.emit(f"L[{t}] = K.list_entry({h.code}, M.lists.{end}({h.code}), {member!r})")
            return V(f"L[{t}]", ty)
        if name in ("__bs_list_next", "__bs_list_prev"):
            h = self.materialize(self.expr(nodes[0]))
            pos = self.materialize(self.expr(nodes[1]))
            member = string_value(nodes[2].value)
            t = self.temp()
            step = "next" if name == "__bs_list_next" else "prev"
            self.emit(f"L[{t}] = K.list_entry({h.code}, M.lists.{step}({h.code} if {pos.code} is {h.code} "
                      f"else {pos.code}.f_{member}), {member!r})")
            return V(f"L[{t}]", pos.ty)
        if name == "__bs_list_is_head":
            h = self.expr(nodes[0])
            pos = self.expr(nodes[1])
            return V(f"(ops.true if {pos.code} is {h.code} else ops.false)", T.INT, cond=True)
        raise self.unsupported(f"intrinsic {name}", n)

    def _witness_type(self, node) -> T.CType:
        if isinstance(node, c_ast.Cast):
            return self.env.resolve(node.to_type)
        return self.type_of(node)
