"""Compile a parsed driver (parse.py) into Python code the interpreter runs.

The AST is compiled once per source and configuration: every C function
becomes a list of blocks (lower.py), each block a Python function over
``ops`` (model/ops.py), whose generated source is kept (``Program.source``)
with a map from its lines back to the C lines. The code runs in two forms:

* generic: every value operation is an ``ops`` call, so the same code runs
  with ``ops.CONCRETE`` or with ``Z3Ops`` (the symbolic engine's path oracle
  decides each ``ops.cond``);
* concrete: the same code with every ``ops`` call inlined by the spec's own
  partial evaluator (model/specialize.py), used when ``ops`` is
  ``ops.CONCRETE`` (several times faster; tests check both forms agree).

``compile_program(tu)`` returns a ``Program``: the functions, the globals'
layout and initialisers, the struct classes, and the module entry points
(``init_function``/``exit_function``: what ``module_init``/``module_exit``
name).
"""
from __future__ import annotations

import ast
from pathlib import Path

from pycparser import c_ast

from balloonspec.model.ops import CONCRETE

from . import kernel as K
from . import typesys as T
from .errors import Unsupported
from .lists import ListHead
from .parse import TranslationUnit, parse
from .runtime import UNINIT, Builtin, CFunction, FieldRef, SlotRef, StructObj

# Intrinsics of the analysis headers (compiled inline by lower.py)
INTRINSICS = {"__bs_min", "__bs_max", "__bs_container_of", "__bs_list_first", "__bs_list_next",
              "__bs_list_last", "__bs_list_prev", "__bs_list_is_head", "__builtin_expect"}
# Kernel functions without side effects (may be evaluated eagerly or dropped)
PURE_BUILTINS = {"page_to_pfn", "IS_ERR", "PTR_ERR", "IS_ERR_OR_NULL", "ERR_PTR", "list_empty",
                 "round_jiffies_relative"}


class Global:
    __slots__ = ("name", "index", "ctype", "decl")

    def __init__(self, name, index, ctype, decl) -> None:
        self.name, self.index, self.ctype, self.decl = name, index, ctype, decl


class Program:
    """A compiled driver source (one configuration: CONFIG_DEBUG_FS on or off)."""

    def __init__(self, tu: TranslationUnit) -> None:
        self.tu = tu
        self.path: Path = tu.path
        self.functions: dict[str, CFunction] = {}
        self.builtins: dict[str, Builtin] = {}
        self.globals: dict[str, Global] = {}
        self.global_names: list[str] = []
        self.global_index: dict[str, int] = {}
        self.structs: dict[str, T.Struct] = {}
        self._classes: dict[str, type] = {}
        self.source = ""
        self.line_map: dict[int, int] = {}
        self.codename = f"<csource {tu.path.name}>"
        self._code: dict[str, dict] = {}
        self._namespace: dict = {}
        self.init_function: str | None = None
        self.exit_function: str | None = None

    @property
    def debugfs(self) -> bool:
        return self.tu.debugfs

    def function(self, name: str):
        fn = self.functions.get(name) or self.builtins.get(name)
        if fn is None:
            raise KeyError(f"no function {name} in {self.path.name}")
        return fn

    @property
    def loops(self) -> list:
        """Every C loop of the driver (its cut point), in source order."""
        return [lp for f in self.functions.values() for lp in f.loops]

    # -- structs -----------------------------------------------------------------------------
    def struct_class(self, tag: str) -> type:
        cls = self._classes.get(tag)
        if cls is None:
            st = self.structs[tag]
            if st.fields is None:
                raise Unsupported(f"struct {tag} is used but never defined")
            slots = tuple("f_" + n for n, _ in st.fields)
            cls = type("S_" + tag, (StructObj,), {"__slots__": slots, "ctype": st})
            cls.zero = classmethod(lambda c, ops, parent=None, member=None: _make(self, c, ops, parent, member, True))
            cls.fresh = classmethod(lambda c, ops: _make(self, c, ops, None, None, False))
            self._classes[tag] = cls
        return cls

    # -- code --------------------------------------------------------------------------------
    def code_for(self, ops) -> dict:
        """Block functions by C function name, for this interpretation."""
        variant = "concrete" if ops is CONCRETE else "generic"
        code = self._code.get(variant)
        if code is None:
            tree = ast.parse(self.source, self.codename)
            if variant == "concrete":
                from balloonspec.model.specialize import _Inline  # the spec's own ops inliner

                tree = ast.fix_missing_locations(_Inline().visit(tree))
            ns = dict(self._namespace)
            exec(compile(tree, self.codename, "exec"), ns)
            code = {name: [ns[b] for b in blocks] for name, blocks in self._block_names.items()}
            code["$globals"] = ns["_init_globals"]
            self._code[variant] = code
        return code

    def init_globals(self, M) -> None:
        """Zero every global (static storage), then run the static initialisers."""
        ops = M.ops
        for g in self.globals.values():
            M.g[g.index] = self.zero_value(g.ctype, ops)
        M.code["$globals"](M)

    def zero_value(self, ty: T.CType, ops, parent=None, member=None, zero=True):
        if isinstance(ty, T.Int):
            return (ops.u64(0) if ty.rep == 64 else ops.u32(0)) if zero else UNINIT
        if isinstance(ty, T.Bool):
            return ops.false if zero else UNINIT
        if isinstance(ty, (T.Ptr, T.Func)):
            return None if zero else UNINIT
        if isinstance(ty, T.Struct):
            if ty.tag == "list_head":
                return ListHead(parent, member)
            return _make(self, self.struct_class(ty.tag), ops, parent, member, zero)
        if isinstance(ty, T.Array):
            return [self.zero_value(ty.elem, ops, zero=zero) for _ in range(ty.length or 0)]
        raise Unsupported(f"an object of type {ty}")


def _make(program: Program, cls: type, ops, parent, member, zero: bool):
    obj = cls.__new__(cls)
    obj.parent, obj.member = parent, member
    for name, ty in cls.ctype.fields:
        setattr(obj, "f_" + name, program.zero_value(ty, ops, obj, name, zero))
    return obj


# -- types from declarations -------------------------------------------------------------------


class TypeEnv:
    """Typedefs, struct tags and enumerators in scope at file level."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.typedefs: dict[str, T.CType] = {}
        self.enums: dict[str, int] = {}
        self._anon = 0

    def where(self, node) -> tuple[str | None, int | None]:
        c = getattr(node, "coord", None)
        return (c.file, c.line) if c is not None else (None, None)

    def unsupported(self, what: str, node) -> Unsupported:
        f, ln = self.where(node)
        return Unsupported(what, f, ln)

    def struct(self, node: c_ast.Struct | c_ast.Union) -> T.Struct:
        tag = node.name
        if tag is None:
            self._anon += 1
            tag = f"<anonymous {self._anon}>"
        st = self.program.structs.get(tag)
        if st is None:
            st = self.program.structs[tag] = T.Struct(tag, isinstance(node, c_ast.Union))
        if node.decls is not None:
            if isinstance(node, c_ast.Union):
                raise self.unsupported(f"union {tag}", node)
            fields = []
            for d in node.decls:
                if d.bitsize is not None:
                    raise self.unsupported(f"bit-field {d.name} of struct {tag}", d)
                if d.name is None:
                    raise self.unsupported(f"anonymous member of struct {tag}", d)
                fields.append((d.name, self.resolve(d.type)))
            st.fields, st.defined_at = fields, node.coord
        return st

    def enum(self, node: c_ast.Enum) -> T.Int:
        if node.values is not None:
            nxt = 0
            for e in node.values.enumerators:
                if e.value is not None:
                    from .lower import const_eval

                    nxt = const_eval(e.value, self)
                self.enums[e.name] = nxt
                nxt += 1
        return T.INT

    def resolve(self, node) -> T.CType:
        """The C type a declarator or type name denotes."""
        if isinstance(node, c_ast.Typename):
            return self.resolve(node.type)
        if isinstance(node, c_ast.TypeDecl):
            return self.resolve(node.type)
        if isinstance(node, c_ast.PtrDecl):
            return T.Ptr(self.resolve(node.type))
        if isinstance(node, c_ast.ArrayDecl):
            from .lower import const_eval

            n = const_eval(node.dim, self) if node.dim is not None else None
            return T.Array(self.resolve(node.type), n)
        if isinstance(node, c_ast.FuncDecl):
            ret = self.resolve(node.type)
            params, variadic = [], False
            if node.args is not None:
                for p in node.args.params:
                    if isinstance(p, c_ast.EllipsisParam):
                        variadic = True
                        continue
                    pt = self.resolve(p.type)
                    if isinstance(pt, T.Void):
                        continue
                    if isinstance(pt, T.Array):
                        pt = T.Ptr(pt.elem)
                    if isinstance(pt, T.Func):
                        pt = T.Ptr(pt)
                    params.append(pt)
            return T.Func(ret, tuple(params) if node.args is not None else None, variadic)
        if isinstance(node, c_ast.IdentifierType):
            names = [n for n in node.names if n not in ("const", "volatile")]
            t = T.basic(names)
            if t is not None:
                return t
            if len(names) == 1 and names[0] in self.typedefs:
                return self.typedefs[names[0]]
            raise self.unsupported(f"type {' '.join(node.names)}", node)
        if isinstance(node, (c_ast.Struct, c_ast.Union)):
            return self.struct(node)
        if isinstance(node, c_ast.Enum):
            return self.enum(node)
        raise self.unsupported(f"type construct {type(node).__name__}", node)


def _is_extern(decl: c_ast.Decl) -> bool:
    return "extern" in (decl.storage or [])


def compile_program(tu: TranslationUnit) -> Program:
    from .lower import FunctionLowering, GlobalsLowering, Namespace

    P = Program(tu)
    env = TypeEnv(P)
    ns = Namespace(P, env)
    definitions: list[c_ast.FuncDef] = []
    for ext in tu.ast.ext:
        if isinstance(ext, c_ast.Typedef):
            env.typedefs[ext.name] = env.resolve(ext.type)
        elif isinstance(ext, c_ast.FuncDef):
            ns.declare_function(ext.decl.name, env.resolve(ext.decl.type), ext)
            definitions.append(ext)
        elif isinstance(ext, c_ast.Decl):
            if ext.name is None:  # a struct/enum definition on its own
                env.resolve(ext.type)
                continue
            ty = env.resolve(ext.type)
            if isinstance(ty, T.Func):
                ns.declare_function(ext.name, ty, None)
            elif _is_extern(ext) and ext.name not in tu.functions:
                ns.declare_extern(ext.name, ty, ext)
            elif ext.name not in P.globals:
                g = Global(ext.name, len(P.global_names), ty, ext)
                P.globals[ext.name] = g
                P.global_index[ext.name] = g.index
                P.global_names.append(ext.name)
            else:
                P.globals[ext.name].decl = ext if ext.init is not None else P.globals[ext.name].decl
        elif isinstance(ext, c_ast.Pragma):
            continue
        else:
            raise env.unsupported(f"file-scope {type(ext).__name__}", ext)
    ns.finish_declarations()
    lines: list[tuple[str, int]] = []
    blocks = {}
    for fd in definitions:
        low = FunctionLowering(ns, fd)
        low.lower()
        lines += low.source_lines()
        blocks[fd.decl.name] = low.block_names
    glow = GlobalsLowering(ns)
    lines += glow.source_lines()
    P.source = "\n".join(text for text, _ in lines) + "\n"
    P.line_map = {i: cline for i, (_, cline) in enumerate(lines, 1) if cline}
    P._block_names = blocks
    P._namespace = ns.runtime_namespace()
    for name in ("__bs_module_init", "__bs_module_exit"):
        g = P.globals.get(name)
        target = glow.function_initialiser(name) if g is not None else None
        setattr(P, "init_function" if name.endswith("init") else "exit_function", target)
    return P


_CACHE: dict[tuple, Program] = {}


def load(path: str | Path, *, debugfs: bool = True, defines: tuple[str, ...] = ()) -> Program:
    """Parse and compile a driver source, cached by its content and configuration."""
    path = Path(path).resolve()
    key = (str(path), path.read_bytes(), debugfs, tuple(defines))
    prog = _CACHE.get(key)
    if prog is None:
        prog = _CACHE[key] = compile_program(parse(path, debugfs=debugfs, defines=defines))
    return prog


__all__ = ["Program", "compile_program", "load", "INTRINSICS", "PURE_BUILTINS", "K", "SlotRef", "FieldRef"]
