"""Lowering: C statements and expressions to Python block functions over ``ops``.

One ``FunctionLowering`` per C function. A C function becomes a list of
*blocks*; a block is the Python function ``_<f>_<b>(M, F, L)`` (machine,
frame, the frame's locals) that runs straight-line code and returns the next
block's number. A new block starts at every loop head (a cut point: the
test of a ``for``/``while``, the body of a ``do``), after every call of a C
function (the continuation), at every ``case`` and label, and around ``if``
branches that contain such things; other ``if``/``?:``/``&&``/``||`` stay
Python ``if``s inside their block, each deciding through ``ops.cond``.

Values: an integer of C type T is an ops value of T's representation width
(32 bits for types of at most 32 bits, else 64), a ``_Bool`` and the result
of a comparison are ops booleans, pointers are Python objects. Every
conversion is explicit in the generated code (kernel ``ops`` calls), so the
same code runs concretely and with Z3. Side effects (assignments, calls,
``++``) are emitted as statements, in C's order (left to right where C leaves
it open); the expression code that remains is pure.

C locals, parameters and temporaries live in the frame's slots ``L[i]``
(``CFunction.slot_names``: the C names, temporaries start with ``$``);
file-scope objects in ``M.g``.
"""
from __future__ import annotations

import re
from contextlib import contextmanager

from pycparser import c_ast

from . import kernel as K
from . import typesys as T
from .compile import INTRINSICS, PURE_BUILTINS, Program, TypeEnv
from .errors import Unsupported
from .lists import ListHead
from .parse import Asm, string_value
from .runtime import UNINIT, Builtin, CFunction, FieldRef, Loop, SlotRef

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF
STATEMENTS = (c_ast.If, c_ast.While, c_ast.DoWhile, c_ast.For, c_ast.Switch, c_ast.Return, c_ast.Break,
              c_ast.Continue, c_ast.Goto, c_ast.Label, c_ast.Case, c_ast.Default, c_ast.EmptyStatement,
              c_ast.Decl, c_ast.Compound, c_ast.Typedef, c_ast.Pragma, c_ast.DeclList, Asm)
BACKDOOR_TEMPLATES = {"inl %dx", "inl (%dx)", "in %dx, %eax", "in (%dx), %eax", "inl %dx, %eax",
                      "inl (%dx), %eax"}
ASM_REGISTERS = {"a": 0, "b": 1, "c": 2, "d": 3}  # index in backdoor()'s result


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


# -- constant expressions (enumerators, array sizes, case labels) ---------------------------------


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


def const_eval(node, env: TypeEnv) -> int:
    """The value of an integer constant expression at file scope."""
    ns = Namespace(env.program, env, constant_only=True)
    low = FunctionLowering(ns, None)
    v = low.expr(node)
    if v.const is None:
        raise env.unsupported("a non-constant expression where C needs a constant", node)
    return v.const


# -- names --------------------------------------------------------------------------------------


class Namespace:
    """File-scope names (functions, globals, kernel externs, enumerators) and
    the objects the generated code refers to by name."""

    def __init__(self, program: Program, env: TypeEnv, constant_only: bool = False) -> None:
        self.P, self.env = program, env
        self.constant_only = constant_only
        self.kinds: dict[str, str] = {}  # function name -> c | builtin | unmodelled
        self.fn_types: dict[str, T.Func] = {}
        self.externs: dict[str, tuple[str, T.CType]] = {}  # name -> (var | addr | unknown, type)
        self.runtime: dict = {"UNINIT": UNINIT, "SlotRef": SlotRef, "FieldRef": FieldRef, "K": K,
                              "ListHead": ListHead}
        self.type_names: dict[int, str] = {}
        self.struct_names: dict[str, str] = {}
        self._fcount = 0

    def declare_function(self, name: str, ty: T.Func, fd) -> None:
        self.fn_types[name] = ty
        if fd is not None:
            if name not in self.P.functions:
                self.P.functions[name] = CFunction(name, ty, fd.coord.line if fd.coord else 0)
            self.kinds[name] = "c"
        elif self.kinds.get(name) != "c":
            if name in K.FUNCTIONS:
                self.P.builtins[name] = Builtin(name, K.FUNCTIONS[name], ty)
                self.kinds[name] = "builtin"
            else:
                self.kinds[name] = "unmodelled"

    def declare_extern(self, name: str, ty: T.CType, decl) -> None:
        if name in K.VARIABLES:
            self.externs[name] = ("var", ty)
        elif name in K.ADDRESSES:
            self.externs[name] = ("addr", ty)
        else:
            self.externs[name] = ("unknown", ty)

    def finish_declarations(self) -> None:
        for name, fn in self.P.functions.items():
            self.runtime[f"FN_{name}"] = fn
        for name, b in self.P.builtins.items():
            self.runtime[f"FN_{name}"] = b
            self.runtime[f"KF_{name}"] = b.impl
        for name, (kind, _) in self.externs.items():
            if kind == "var":
                self.runtime[f"KV_{name}"] = K.VARIABLES[name]
            elif kind == "addr":
                self.runtime[f"KA_{name}"] = K.ADDRESSES[name]
        self.runtime["KF_backdoor"] = K.backdoor

    def type_name(self, ty: T.CType) -> str:
        name = self.type_names.get(id(ty))
        if name is None:
            name = self.type_names[id(ty)] = f"TY{len(self.type_names)}"
            self.runtime[name] = ty
        return name

    def struct_class_name(self, st: T.Struct) -> str:
        name = self.struct_names.get(st.tag)
        if name is None:
            name = self.struct_names[st.tag] = f"S{len(self.struct_names)}"
            if st.tag == "page":
                self.runtime[name] = K.Page
            elif st.tag == "list_head":
                self.runtime[name] = ListHead
            else:
                self.runtime[name] = self.P.struct_class(st.tag)
        return name

    def next_function_index(self) -> int:
        self._fcount += 1
        return self._fcount

    def runtime_namespace(self) -> dict:
        return dict(self.runtime)


class Block:
    __slots__ = ("lines", "line", "terminated")

    def __init__(self, line: int) -> None:
        self.lines: list[tuple[int, str, int]] = []
        self.line = line
        self.terminated = False


class Local:
    __slots__ = ("slot", "ty")

    def __init__(self, slot: int, ty: T.CType) -> None:
        self.slot, self.ty = slot, ty


class GlobalName:
    __slots__ = ("index", "ty")

    def __init__(self, index: int, ty: T.CType) -> None:
        self.index, self.ty = index, ty


# -- functions -----------------------------------------------------------------------------------


class FunctionLowering:
    def __init__(self, ns: Namespace, fd: c_ast.FuncDef | None) -> None:
        self.ns, self.P, self.env = ns, ns.P, ns.env
        self.fd = fd
        self.name = fd.decl.name if fd is not None else "<file scope>"
        self.fn = self.P.functions.get(self.name) if fd is not None else None
        self.ret_type = self.fn.ctype.ret if self.fn is not None else T.VOID
        self.blocks: list[Block] = []
        self.cur: Block | None = None
        self.indent = 1
        self.scopes: list[dict] = [{}]
        self.slots: list[str] = []
        self.breaks: list[int] = []
        self.continues: list[int] = []
        self.labels: dict[str, int] = {}
        self.defined_labels: set[str] = set()
        self.case_blocks: dict[int, int] = {}
        self.loops: list[Loop] = []
        self.cline = fd.coord.line if fd is not None and fd.coord else 0
        self.findex = ns.next_function_index()
        self.block_names: list[str] = []
        if fd is None:  # file scope: one straight-line block
            self.cur = self._new_block_obj()

    # -- errors and positions ----------------------------------------------------------------
    def unsupported(self, what: str, node=None) -> Unsupported:
        c = getattr(node, "coord", None)
        if c is not None:
            return Unsupported(what, c.file, c.line, c.column)
        return Unsupported(what, str(self.P.path), self.cline or None)

    def at(self, node) -> None:
        c = getattr(node, "coord", None)
        if c is not None and c.file == str(self.P.path):
            self.cline = c.line

    # -- slots, blocks, emission ---------------------------------------------------------------
    def new_slot(self, name: str) -> int:
        self.slots.append(name)
        return len(self.slots) - 1

    def temp(self) -> int:
        return self.new_slot(f"$t{len(self.slots)}")

    def is_temp(self, code: str) -> bool:
        m = re.fullmatch(r"L\[(\d+)\]", code)
        return bool(m) and self.slots[int(m.group(1))].startswith("$")

    def _new_block_obj(self) -> Block:
        b = Block(self.cline)
        self.blocks.append(b)
        return b

    def new_block(self) -> int:
        if self.fd is None:
            raise self.unsupported("control flow in a static initialiser")
        self._new_block_obj()
        return len(self.blocks) - 1

    def start(self, idx: int) -> None:
        """Continue emitting into block ``idx`` (falling through into it)."""
        assert self.indent == 1, "a block starts inside a Python-level if"
        if self.cur is not None and not self.cur.terminated:
            self.emit(f"return {idx}")
        self.cur = self.blocks[idx]
        if not self.cur.lines:
            self.cur.line = self.cline

    def emit(self, text: str) -> None:
        self.cur.lines.append((self.indent, text, self.cline))
        if self.indent == 1 and text.startswith("return"):
            self.cur.terminated = True

    def jump(self, idx: int) -> None:
        self.emit(f"return {idx}")

    @contextmanager
    def nested(self):
        self.indent += 1
        mark = len(self.cur.lines)
        yield
        if len(self.cur.lines) == mark:
            self.emit("pass")
        self.indent -= 1

    @contextmanager
    def dry_run(self):
        """Lower something only to learn its type: every emission is undone."""
        state = (len(self.blocks), self.cur, len(self.cur.lines), self.cur.terminated, self.indent, len(self.slots),
                 len(self.loops), self.cline, [dict(s) for s in self.scopes])
        try:
            yield
        finally:
            nb, cur, nl, term, ind, ns, nloops, cline, scopes = state
            del self.blocks[nb:]
            self.cur, self.indent, self.cline = cur, ind, cline
            del cur.lines[nl:]
            cur.terminated = term
            del self.slots[ns:]
            del self.loops[nloops:]
            self.scopes = scopes

    def type_of(self, node) -> T.CType:
        with self.dry_run():
            return self.expr(node).ty

    # -- the function ----------------------------------------------------------------------------
    def lower(self) -> None:
        fd = self.fd
        fn = self.fn
        params = fd.decl.type.args.params if fd.decl.type.args is not None else []
        ptypes = list(fn.ctype.params or [])
        k = 0
        for p in params:
            if isinstance(p, c_ast.EllipsisParam):
                raise self.unsupported(f"variadic function {self.name}", p)
            if p.name is None:
                if isinstance(self.env.resolve(p.type), T.Void):
                    continue
                raise self.unsupported(f"unnamed parameter of {self.name}", p)
            self.scopes[-1][p.name] = Local(self.new_slot(p.name), ptypes[k])
            k += 1
        fn.nparams = k
        self.start(self.new_block())
        self.stmt(fd.body)
        if not self.cur.terminated:
            self.at_end()
            self.emit("return M.ret(None)")
        missing = set(self.labels) - self.defined_labels
        if missing:
            raise self.unsupported(f"goto to undefined label {sorted(missing)[0]}", fd)
        for b in self.blocks:
            if not b.terminated:
                b.lines.append((1, "return M.ret(None)", b.line))
        fn.slot_names = list(self.slots)
        fn.block_lines = [b.line for b in self.blocks]
        fn.loops = self.loops
        fn.loop_heads = frozenset(lp.head for lp in self.loops)

    def at_end(self) -> None:
        body = self.fd.body
        last = body.block_items[-1] if body.block_items else body
        self.at(last)

    def source_lines(self) -> list[tuple[str, int]]:
        """The generated Python source, line by line, with the C line of each."""
        out = []
        self.block_names = []
        for i, b in enumerate(self.blocks):
            name = f"_{self.findex}_{i}"
            self.block_names.append(name)
            out.append((f"def {name}(M, F, L):", b.line))
            out.append(("    ops = M.ops; G = M.g", b.line))
            for indent, text, cline in b.lines:
                out.append(("    " * indent + text, cline))
        return out

    # -- scopes ------------------------------------------------------------------------------------
    def lookup(self, name: str):
        for s in reversed(self.scopes):
            if name in s:
                return s[name]
        return None

    # ============================================================================================
    # statements
    # ============================================================================================
    def stmt(self, n) -> None:
        self.at(n)
        m = getattr(self, "s_" + type(n).__name__, None)
        if m is not None:
            m(n)
        elif isinstance(n, STATEMENTS):
            raise self.unsupported(f"statement {type(n).__name__}", n)
        else:
            self.expr(n, want=False)

    def s_Compound(self, n) -> None:
        self.scopes.append({})
        for item in n.block_items or []:
            self.stmt(item)
        self.scopes.pop()

    def s_EmptyStatement(self, n) -> None:
        pass

    def s_Pragma(self, n) -> None:
        pass

    def s_DeclList(self, n) -> None:
        for d in n.decls:
            self.stmt(d)

    def s_Typedef(self, n) -> None:
        raise self.unsupported(f"typedef {n.name} inside a function", n)

    def s_Decl(self, n) -> None:
        if n.name is None:  # a struct or enum defined inside the function
            self.env.resolve(n.type)
            return
        ty = self.env.resolve(n.type)
        storage = n.storage or []
        if isinstance(ty, T.Func) or "extern" in storage:
            raise self.unsupported(f"local declaration of {n.name} with external linkage", n)
        if "static" in storage:
            name = f"{self.name}.{n.name}"
            g = self.P.globals.get(name)
            if g is None:
                from .compile import Global

                g = Global(name, len(self.P.global_names), ty, n)
                self.P.globals[name] = g
                self.P.global_index[name] = g.index
                self.P.global_names.append(name)
            self.scopes[-1][n.name] = GlobalName(g.index, ty)
            return
        if isinstance(ty, T.Array):
            raise self.unsupported(f"local array {n.name}", n)
        slot = self.new_slot(n.name)
        self.scopes[-1][n.name] = Local(slot, ty)
        lv = SlotLV(ty, slot)
        if isinstance(ty, T.Struct):
            if ty.tag in ("page", "list_head"):
                raise self.unsupported(f"a local {ty} (the kernel's objects are the kernel's)", n)
            cls = self.ns.struct_class_name(ty)
            # an initialiser list zeroes the members it does not name
            self.emit(f"L[{slot}] = {cls}.{'zero' if n.init is not None else 'fresh'}(ops)")
        if n.init is not None:
            self.initialise(lv, ty, n.init)

    def initialise(self, lv: LV, ty: T.CType, init) -> None:
        """Store an initialiser (an expression or a brace list) into ``lv``."""
        if isinstance(init, c_ast.InitList):
            if isinstance(ty, T.Struct):
                if ty.fields is None:
                    raise self.unsupported(f"initialiser of incomplete {ty}", init)
                obj = lv.load()
                pos = 0
                for e in init.exprs:
                    if isinstance(e, c_ast.NamedInitializer):
                        if len(e.name) != 1 or not isinstance(e.name[0], c_ast.ID):
                            raise self.unsupported("nested designator", e)
                        member = e.name[0].name
                        names = [f for f, _ in ty.fields]
                        if member not in names:
                            raise self.unsupported(f"{ty} has no member {member}", e)
                        pos = names.index(member)
                        e = e.expr
                    if pos >= len(ty.fields):
                        raise self.unsupported(f"too many initialisers for {ty}", e)
                    fname, fty = ty.fields[pos]
                    self.initialise(FieldLV(fty, obj, fname), fty, e)
                    pos += 1
                return
            if T.is_scalar(ty) and len(init.exprs) == 1:
                return self.initialise(lv, ty, init.exprs[0])
            raise self.unsupported(f"brace initialiser of {ty}", init)
        if lv.is_object:
            raise self.unsupported(f"initialising a {ty} from an expression", init)
        v = self.convert(self.expr(init), ty, node=init)
        self.emit(lv.store(v.code))

    def s_If(self, n) -> None:
        c = self.cond_code(n.cond)
        self.at(n)
        if not self.splits(n.iftrue) and not (n.iffalse is not None and self.splits(n.iffalse)):
            self.emit(f"if ops.cond({c}):")
            with self.nested():
                self.stmt(n.iftrue)
            if n.iffalse is not None:
                self.emit("else:")
                with self.nested():
                    self.stmt(n.iffalse)
            return
        t, x = self.new_block(), self.new_block()
        e = self.new_block() if n.iffalse is not None else x
        self.emit(f"if ops.cond({c}): return {t}")
        self.jump(e)
        self.start(t)
        self.stmt(n.iftrue)
        self.jump_if_open(x)
        if n.iffalse is not None:
            self.start(e)
            self.stmt(n.iffalse)
            self.jump_if_open(x)
        self.start(x)

    def jump_if_open(self, idx: int) -> None:
        if not self.cur.terminated:
            self.jump(idx)

    def _loop(self, kind: str, n, head: int) -> None:
        self.loops.append(Loop(self.name, kind, n.coord.line if n.coord else self.cline, head))

    def s_While(self, n) -> None:
        head, out = self.new_block(), self.new_block()
        self.start(head)
        self._loop("while", n, head)
        c = self.cond_code(n.cond)
        self.emit(f"if not ops.cond({c}): return {out}")
        self.breaks.append(out)
        self.continues.append(head)
        self.stmt(n.stmt)
        self.jump_if_open(head)
        self.breaks.pop()
        self.continues.pop()
        self.start(out)

    def s_DoWhile(self, n) -> None:
        body, test, out = self.new_block(), self.new_block(), self.new_block()
        self.start(body)
        self._loop("do", n, body)
        self.breaks.append(out)
        self.continues.append(test)
        self.stmt(n.stmt)
        self.breaks.pop()
        self.continues.pop()
        self.at(n.cond)
        self.start(test)
        c = self.cond_code(n.cond)
        if c == "ops.false":  # do { ... } while (0): a statement macro, no loop
            self.loops = [lp for lp in self.loops if lp.head != body]
        self.emit(f"if ops.cond({c}): return {body}")
        self.jump(out)
        self.start(out)

    def s_For(self, n) -> None:
        self.scopes.append({})
        if n.init is not None:
            self.stmt(n.init)
        head, step, out = self.new_block(), self.new_block(), self.new_block()
        self.at(n)
        self.start(head)
        self._loop("for", n, head)
        if n.cond is not None:
            c = self.cond_code(n.cond)
            self.emit(f"if not ops.cond({c}): return {out}")
        self.breaks.append(out)
        self.continues.append(step)
        self.stmt(n.stmt)
        self.breaks.pop()
        self.continues.pop()
        self.start(step)
        if n.next is not None:
            self.at(n.next)
            self.expr(n.next, want=False)
        self.jump(head)
        self.start(out)
        self.scopes.pop()

    def s_Switch(self, n) -> None:
        v = self.expr(n.cond)
        if not T.is_int(v.ty) and not v.cond:
            raise self.unsupported(f"switch on a {v.ty}", n.cond)
        ty = T.promote(v.ty if not v.cond else T.INT)
        v = self.materialize(self.convert(v, ty))
        cases, default = [], None
        stack = [n.stmt]
        while stack:  # case labels of this switch (not of nested ones), in order
            s = stack.pop(0)
            if isinstance(s, c_ast.Switch):
                continue
            if isinstance(s, (c_ast.Case, c_ast.Default)):
                blk = self.new_block()
                self.case_blocks[id(s)] = blk
                if isinstance(s, c_ast.Case):
                    cases.append((s, blk))
                elif default is None:
                    default = blk
            stack[0:0] = [c for _, c in s.children()] if isinstance(s, c_ast.Node) else []
        out = self.new_block()
        seen = set()
        for case, blk in cases:
            label = self.expr(case.expr)
            if label.const is None:
                raise self.unsupported("a case label that is not a constant", case)
            value = ty.wrap(label.const)
            if value in seen:
                raise self.unsupported(f"duplicate case value {value}", case)
            seen.add(value)
            self.emit(f"if ops.cond(ops.eq({v.code}, {self.const_code(ty, value)})): return {blk}")
        self.jump(default if default is not None else out)
        self.cur = self._dead_block()
        self.breaks.append(out)
        self.stmt(n.stmt)
        self.breaks.pop()
        self.start(out)

    def _dead_block(self) -> Block:
        """A block nothing jumps to (code after a terminator, before the next label)."""
        b = self._new_block_obj()
        b.terminated = False
        return b

    def s_Case(self, n) -> None:
        blk = self.case_blocks.get(id(n))
        if blk is None:
            raise self.unsupported("case label outside a switch", n)
        self.start(blk)
        for s in n.stmts or []:
            self.stmt(s)

    s_Default = s_Case

    def s_Break(self, n) -> None:
        if not self.breaks:
            raise self.unsupported("break outside a loop or switch", n)
        self.jump(self.breaks[-1])

    def s_Continue(self, n) -> None:
        if not self.continues:
            raise self.unsupported("continue outside a loop", n)
        self.jump(self.continues[-1])

    def s_Return(self, n) -> None:
        if n.expr is None:
            self.emit("return M.ret(None)")
            return
        v = self.expr(n.expr)
        if isinstance(self.ret_type, T.Void):
            self.emit("return M.ret(None)")
            return
        v = self.convert(v, self.ret_type, node=n.expr)
        self.at(n)
        self.emit(f"return M.ret({v.code})")

    def _label(self, name: str) -> int:
        if name not in self.labels:
            self.labels[name] = self.new_block()
        return self.labels[name]

    def s_Goto(self, n) -> None:
        self.jump(self._label(n.name))

    def s_Label(self, n) -> None:
        if n.name in self.defined_labels:
            raise self.unsupported(f"label {n.name} defined twice", n)
        self.defined_labels.add(n.name)
        self.start(self._label(n.name))
        if n.stmt is not None:
            self.stmt(n.stmt)

    def s_Asm(self, n) -> None:
        """The backdoor: ``inl %dx`` with registers given by the operands'
        constraints: a (eax) in = magic, c (ecx) = command, d (edx) = port,
        b (ebx) in = argument; out: a = status, b = result, c and d as they
        were. Each register is an ``unsigned long``."""
        tmpl = re.sub(r"\s+", " ", n.template.replace("%%", "%")).strip().replace(" ,", ",").replace(",", ", ")
        tmpl = re.sub(r",\s+", ", ", tmpl)
        if tmpl not in BACKDOOR_TEMPLATES:
            raise self.unsupported(f"inline asm {n.template!r} (only the backdoor's inl %dx is modelled)", n)
        outs = []
        for o in n.outputs:
            m = re.fullmatch(r"([=+])&?([abcd])", o.constraint.replace(" ", ""))
            if not m:
                raise self.unsupported(f"asm output constraint {o.constraint!r}", o)
            outs.append((m.group(2), self.lvalue(o.expr), m.group(1) == "+"))
        ins: dict[str, str] = {}
        for o in n.inputs:
            c = o.constraint.replace(" ", "")
            if c.isdigit() and int(c) < len(outs):
                reg, ty = outs[int(c)][0], outs[int(c)][1].ty
            elif c in ASM_REGISTERS:
                reg, ty = c, T.ULONG
            else:
                raise self.unsupported(f"asm input constraint {o.constraint!r}", o)
            v = self.convert(self.convert(self.expr(o.expr), ty, node=o.expr), T.ULONG, node=o.expr)
            ins[reg] = self.materialize(v).code
        for reg, lv, inout in outs:
            if inout:
                ins[reg] = self.materialize(self.convert(V(lv.load(), lv.ty), T.ULONG)).code
        for reg in "abcd":
            if reg not in ins:
                raise self.unsupported(f"backdoor asm without an input in register {reg} (e{reg}x)", n)
        t = self.temp()
        self.at(n)
        self.emit(f"L[{t}] = KF_backdoor(M, {ins['a']}, {ins['c']}, {ins['d']}, {ins['b']})")
        for reg, lv, _ in outs:
            v = self.convert(V(f"L[{t}][{ASM_REGISTERS[reg]}]", T.ULONG), lv.ty)
            self.emit(lv.store(v.code))

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
        if name == "__bs_list_first":
            h = self.materialize(self.expr(nodes[0]))
            ty = self._witness_type(nodes[1])
            member = string_value(nodes[2].value)
            t = self.temp()
            self.emit(f"L[{t}] = K.list_entry({h.code}, M.lists.first({h.code}), {member!r})")
            return V(f"L[{t}]", ty)
        if name == "__bs_list_next":
            h = self.materialize(self.expr(nodes[0]))
            pos = self.materialize(self.expr(nodes[1]))
            member = string_value(nodes[2].value)
            t = self.temp()
            self.emit(f"L[{t}] = K.list_entry({h.code}, M.lists.next({h.code} if {pos.code} is {h.code} "
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


class GlobalsLowering(FunctionLowering):
    """The static initialisers of file-scope objects, as one Python function
    ``_init_globals(M)`` (run on zeroed globals)."""

    def __init__(self, ns: Namespace) -> None:
        super().__init__(ns, None)
        for g in list(self.P.globals.values()):
            d = g.decl
            if d is not None and d.init is not None:
                self.at(d)
                self.initialise(GlobalLV(g.ctype, g.index), g.ctype, d.init)

    def function_initialiser(self, name: str) -> str | None:
        """The C function a global function pointer is initialised with (module_init)."""
        d = self.P.globals[name].decl
        init = d.init
        if isinstance(init, c_ast.UnaryOp) and init.op == "&":
            init = init.expr
        if isinstance(init, c_ast.Cast):
            init = init.expr
        if isinstance(init, c_ast.ID) and init.name in self.P.functions:
            return init.name
        return None

    def source_lines(self) -> list[tuple[str, int]]:
        out = [("def _init_globals(M):", 0), ("    ops = M.ops; G = M.g; L = None", 0)]
        out += [("    " * indent + text, cline) for indent, text, cline in self.blocks[0].lines]
        return out
