"""Lowering: C functions to Python block functions over ``ops`` (statements
here, expressions in expr.py).

One ``FunctionLowering`` per C function. A C function becomes a list of
*blocks*; a block is the Python function ``_<f>_<b>(M, F, L)`` (machine,
frame, the frame's locals) that runs straight-line code and returns the next
block's number. A new block starts at every loop head (a cut point: the
test of a ``for``/``while``, the body of a ``do``), after every call of a C
function (the continuation), at every ``case`` and label, and around ``if``
branches that contain such things; other ``if``/``?:``/``&&``/``||`` stay
Python ``if``s inside their block, each deciding through ``ops.cond``.

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
from .compile import Program, TypeEnv
from .errors import Unsupported
from .expr import (ASM_REGISTERS, LV, STATEMENTS, ExpressionLowering, FieldLV, GlobalLV, GlobalName, Local,
                   SlotLV, V)
from .lists import ListHead
from .runtime import UNINIT, Builtin, CFunction, FieldRef, Loop, SlotRef

BACKDOOR_TEMPLATES = {"inl %dx", "inl (%dx)", "in %dx, %eax", "in (%dx), %eax", "inl %dx, %eax",
                      "inl (%dx), %eax"}


# -- constant expressions (enumerators, array sizes, case labels) ---------------------------------


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


# -- functions -----------------------------------------------------------------------------------


class FunctionLowering(ExpressionLowering):
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
        fn.loop_bodies = frozenset(lp.body for lp in self.loops)

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
        self.loops.append(Loop(self.name, kind, n.coord.line if n.coord else self.cline, head, head))

    def _body(self) -> None:
        """The body of a for/while loop starts a block of its own (the loop's
        ``body``: where an iteration is entered, after the test held)."""
        body = self.new_block()
        self.jump(body)
        self.start(body)
        self.loops[-1].body = body

    def s_While(self, n) -> None:
        head, out = self.new_block(), self.new_block()
        self.start(head)
        self._loop("while", n, head)
        c = self.cond_code(n.cond)
        self.emit(f"if not ops.cond({c}): return {out}")
        self._body()
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
        self._body()
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
