"""Data-flow goals from the C: the compiled driver's blocks as def/use events, and a
reaching-definitions analysis over them (see the package doc)."""
from __future__ import annotations

import ast
from dataclasses import dataclass, field

from balloonspec.csource import typesys as T

ROOT_STRUCT = "vmballoon"
LIST_WRITERS = {"KF_list_add": 1, "KF_list_add_tail": 1, "KF_INIT_LIST_HEAD": 0}  # arg index of the head
LIST_READERS = {"KF_list_empty": 0}
STATIC = "<static>"  # the site of the zero-initialised storage of the driver's statics
EXCLUDED_FIELDS = {"dwork": "the kernel's work item: the driver only passes its address to the workqueue API"}


@dataclass(frozen=True, order=True)
class Site:
    function: str
    line: int

    def __str__(self) -> str:
        return f"{self.function}:{self.line}"


@dataclass(frozen=True, order=True)
class Pair:
    kind: str  # cycle | iteration
    var: str  # field path (``size``) or ``function.local``
    d: Site
    u: Site

    @property
    def id(self) -> str:
        return f"{self.kind} {self.var}: {self.d} -> {self.u}"


# -- the program as events ---------------------------------------------------------------------------


@dataclass
class Block:
    function: str
    index: int
    body: list  # events: ("use"|"def"|"maydef", var, line), ("if", [..], [..]), ("jump", k, line),
    #                   ("call", fname, cont, line, slotrefs), ("ret", line)


class _Events(ast.NodeVisitor):
    """The def/use events of one statement of a generated block, in evaluation order."""

    def __init__(self, model: "CodeModel", fname: str) -> None:
        self.m, self.f = model, fname
        self.out: list = []
        self.line = 0

    def field_path(self, node) -> str | None:
        """The vmballoon path of an attribute chain (``L[0].f_stats.f_lock`` -> ``stats.lock``)."""
        chain = []
        while isinstance(node, ast.Attribute) and node.attr.startswith("f_"):
            chain.append(node.attr[2:])
            node = node.value
        chain.reverse()
        if not chain:
            return None
        return self.m._path_of_chain(self.f, node, chain)

    def use_expr(self, node) -> None:
        if node is None:
            return
        if isinstance(node, ast.Attribute):
            p = self.field_path(node)
            if p is not None:
                if self.m.is_scalar(p):
                    self.out.append(("use", p, self.line))
                return
            self.use_expr(node.value)
            return
        if isinstance(node, ast.Subscript) and _slot(node) is not None:
            v = self.m.local(self.f, _slot(node))
            if v is not None:
                self.out.append(("use", v, self.line))
            return
        if isinstance(node, ast.Call):
            fn = node.func
            name = fn.id if isinstance(fn, ast.Name) else None
            if name in LIST_WRITERS or name in LIST_READERS:
                for a in node.args[1:]:
                    self.use_expr(a)
                idx = (LIST_WRITERS.get(name, LIST_READERS.get(name))) + 1
                for lst in self.m.lists_of(self.f, node.args[idx]):
                    if name in LIST_WRITERS and name != "KF_INIT_LIST_HEAD":
                        self.out.append(("use", lst, self.line))
                    self.out.append(("def" if name in LIST_WRITERS else "use", lst, self.line))
                return
            if name == "KF_list_del":
                self.use_expr(node.args[1])
                for lst in self.m.lists_of(self.f, node.args[1]):
                    self.out.append(("use", lst, self.line))
                    self.out.append(("def", lst, self.line))
                return
            if name == "KF_si_meminfo":
                for p in self.m.members_of(self.m.path_of_arg(self.f, node.args[1])):
                    self.out.append(("def", p, self.line))
                return
            if isinstance(fn, ast.Attribute) and fn.attr == "first" and _is_lists(fn.value):
                for lst in self.m.lists_of(self.f, node.args[0]):
                    self.out.append(("use", lst, self.line))
                return
            if isinstance(fn, ast.Attribute) and fn.attr == "set" and _slot(fn.value) is not None:
                # *p = v through a pointer parameter: the caller's local (see "call")
                for a in node.args:
                    self.use_expr(a)
                self.out.append(("setptr", self.m.origin(self.f, _slot(fn.value)), self.line))
                return
            for a in node.args:
                self.use_expr(a)
            if not isinstance(fn, ast.Name):
                self.use_expr(fn.value if isinstance(fn, ast.Attribute) else fn)
            return
        for child in ast.iter_child_nodes(node):
            self.use_expr(child)

    def define(self, target) -> None:
        if isinstance(target, ast.Attribute):
            p = self.field_path(target)
            if p is not None:
                self.use_expr_base(target)
                self.out.append(("def", p, self.line))
                return
            self.use_expr(target.value)
        elif _slot(target) is not None:
            v = self.m.local(self.f, _slot(target))
            if v is not None:
                self.out.append(("def", v, self.line))

    def use_expr_base(self, target) -> None:
        node = target
        while isinstance(node, ast.Attribute):
            node = node.value
        self.use_expr(node)


def _slot(node) -> int | None:
    if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "L"
            and isinstance(node.slice, ast.Constant)):
        return node.slice.value
    return None


def _is_lists(node) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "lists"


def _int(node) -> int | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, int) else None


class CodeModel:
    """The compiled driver (csource Program) as blocks of def/use events."""

    def __init__(self, program) -> None:
        self.P = program
        self.root = program.structs[ROOT_STRUCT]
        self.root_fields = {n for n, _ in self.root.fields}
        tree = ast.parse(program.source)
        self.defs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
        self.names = {f: program._block_names[f] for f in program.functions}
        self.alias: dict[str, dict[int, str]] = {}
        self.list_prov: dict[str, dict[int, set[str]]] = {}
        self.copies: dict[str, dict[int, int]] = {}
        self._provenance()
        self.blocks: dict[str, list[Block]] = {f: [self._block(f, i, self.defs[n]) for i, n in enumerate(ns)]
                                               for f, ns in self.names.items()}
        self.entries = self._entries()

    # -- types -----------------------------------------------------------------------------
    def struct_of_path(self, path: str):
        """The C type of a vmballoon member path (False if it names no member)."""
        ty = self.root
        for part in path.split("."):
            if not isinstance(ty, T.Struct) or ty.fields is None:
                return False
            d = dict(ty.fields)
            if part not in d:
                return False
            ty = d[part]
        return ty

    def is_scalar(self, path: str) -> bool:
        ty = self.struct_of_path(path)
        return not isinstance(ty, (T.Struct, T.Array)) and ty is not False

    def is_list(self, path: str) -> bool:
        ty = self.struct_of_path(path)
        return isinstance(ty, T.Struct) and ty.tag == "list_head"

    def members_of(self, path: str | None) -> list[str]:
        if path is None:
            return []
        ty = self.struct_of_path(path)
        if isinstance(ty, T.Struct) and ty.fields:
            return [f"{path}.{n}" for n, t in ty.fields if not isinstance(t, (T.Struct, T.Array))]
        return [path]

    def fields(self) -> list[str]:
        """Every field path the goals are about: scalars (stats and sysinfo members
        included) and the lists."""
        out = []

        def walk(prefix: str, ty) -> None:
            for n, t in ty.fields:
                p = f"{prefix}{n}"
                if p in EXCLUDED_FIELDS:
                    continue
                if isinstance(t, T.Struct) and t.tag == "list_head":
                    out.append(p)
                elif isinstance(t, T.Struct) and t.fields:
                    walk(p + ".", t)
                elif not isinstance(t, T.Array):
                    out.append(p)

        walk("", self.root)
        return out

    def origin(self, fname: str, slot: int) -> int:
        """The slot a temporary was copied from (a parameter, for ``*p = v``)."""
        seen = set()
        while slot in self.copies.get(fname, {}) and slot not in seen:
            seen.add(slot)
            slot = self.copies[fname][slot]
        return slot

    def local(self, fname: str, slot: int) -> str | None:
        names = self.P.functions[fname].slot_names
        n = names[slot] if slot < len(names) else "$"
        return None if n.startswith("$") else f"{fname}.{n}"

    # -- what a slot points to ---------------------------------------------------------------------
    def struct_paths(self) -> dict[str, str]:
        """Struct tag -> its (unique) member path in vmballoon (``vmballoon_stats`` -> ``stats``)."""
        out, seen = {ROOT_STRUCT: ""}, {}

        def walk(prefix: str, ty) -> None:
            for n, t in ty.fields or []:
                if isinstance(t, T.Struct) and t.fields and t.tag != "list_head":
                    seen[t.tag] = seen.get(t.tag, 0) + 1
                    out.setdefault(t.tag, prefix + n)
                    walk(prefix + n + ".", t)

        walk("", self.root)
        return {tag: p for tag, p in out.items() if seen.get(tag, 0) <= 1}

    def _declared_aliases(self) -> None:
        """A local declared as a pointer to vmballoon (or to a struct nested in it once)."""
        from pycparser import c_ast

        paths = self.struct_paths()
        for f in self.names:
            fd = self.P.tu.functions.get(f)
            if fd is None:
                continue
            names = self.P.functions[f].slot_names
            decls = [p for p in (fd.decl.type.args.params if fd.decl.type.args else [])]
            decls += [n for n in _walk_c(fd.body) if isinstance(n, c_ast.Decl)]
            for d in decls:
                t = getattr(d, "type", None)
                if isinstance(t, c_ast.PtrDecl) and isinstance(t.type, c_ast.TypeDecl) and \
                        isinstance(t.type.type, c_ast.Struct) and t.type.type.name in paths and d.name in names:
                    self.alias.setdefault(f, {})[names.index(d.name)] = paths[t.type.type.name]

    def _provenance(self) -> None:
        """Flow-insensitive: which vmballoon member a slot points to (``stats`` for
        ``stats = &b->stats``; ``""`` for ``b``), and which list a page slot came from."""
        self._declared_aliases()
        params: dict[str, dict[int, set]] = {f: {} for f in self.names}
        for _ in range(4):  # a few rounds: values flow through calls and copies
            for f, ns in self.names.items():
                alias = self.alias.setdefault(f, {})
                prov = self.list_prov.setdefault(f, {})
                for k, v in params[f].items():
                    for x in v:
                        if isinstance(x, str) and x.startswith("list:"):
                            prov.setdefault(k, set()).add(x[5:])
                        elif isinstance(x, str):
                            alias.setdefault(k, x[6:] if x.startswith("alias:") else x)
                for n in ns:
                    for node in ast.walk(self.defs[n]):
                        if isinstance(node, ast.Assign) and len(node.targets) == 1 and _slot(node.targets[0]) is not None:
                            k = _slot(node.targets[0])
                            if _slot(node.value) is not None:
                                self.copies.setdefault(f, {})[k] = _slot(node.value)
                            for x in self._values(f, node.value):
                                if x.startswith("list:"):
                                    prov.setdefault(k, set()).add(x[5:])
                                else:
                                    alias.setdefault(k, x[6:])
                        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                                node.func.attr == "call" and len(node.args) >= 3:
                            callee = _fn_name(node.args[1])
                            if callee in params and isinstance(node.args[2], ast.Tuple):
                                for i, a in enumerate(node.args[2].elts):
                                    params[callee].setdefault(i, set()).update(self._values(f, a))

    def _values(self, f: str, node) -> set[str]:
        """What an expression may point to: ``alias:<path>`` of vmballoon, ``list:<field>``."""
        out: set[str] = set()
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == "G":
            g = _int(node.slice)
            if g is not None and g < len(self.P.global_names):
                gl = self.P.globals[self.P.global_names[g]]
                if isinstance(gl.ctype, T.Struct) and gl.ctype.tag == ROOT_STRUCT:
                    out.add("alias:")
        elif _slot(node) is not None:
            k = _slot(node)
            if k in self.alias.get(f, {}):
                out.add("alias:" + self.alias[f][k])
            out.update("list:" + x for x in self.list_prov.get(f, {}).get(k, ()))
        elif isinstance(node, ast.Attribute):
            p = self._path(f, node)
            if p is not None:
                if self.is_list(p):
                    out.add("list:" + p)
                elif isinstance(self.struct_of_path(p), T.Struct):
                    out.add("alias:" + p)
        elif isinstance(node, ast.Call):
            fn = node.func
            if isinstance(fn, ast.Attribute) and fn.attr == "list_entry" and node.args:
                out.update(self._values(f, node.args[0]))
            elif isinstance(fn, ast.Attribute) and fn.attr == "container_of" and len(node.args) >= 2:
                cls = self.P._namespace.get(node.args[1].id) if isinstance(node.args[1], ast.Name) else None
                if getattr(getattr(cls, "ctype", None), "tag", None) == ROOT_STRUCT:
                    out.add("alias:")
        return out

    def _path(self, f: str, node) -> str | None:
        chain = []
        while isinstance(node, ast.Attribute) and node.attr.startswith("f_"):
            chain.append(node.attr[2:])
            node = node.value
        chain.reverse()
        return self._path_of_chain(f, node, chain)

    def _path_of_chain(self, f: str, node, chain: list[str]) -> str | None:
        """The vmballoon path of ``node.f_a.f_b`` (``chain`` = [a, b]), None if node is no vmballoon."""
        base = self.alias.get(f, {}).get(_slot(node)) if _slot(node) is not None else None
        if base is None and isinstance(node, ast.Subscript) and "alias:" in self._values(f, node):
            base = ""
        if base is None:
            return None
        p = ".".join(([base] if base else []) + chain)
        return p if self.struct_of_path(p) is not False else None

    def path_of_arg(self, f: str, node) -> str | None:
        return self._path(f, node) if isinstance(node, ast.Attribute) else None

    def lists_of(self, f: str, node) -> set[str]:
        """The vmballoon lists a list_head expression (a head or an entry's node) belongs to."""
        if isinstance(node, ast.Attribute):
            p = self._path(f, node)
            if p is not None and self.is_list(p):
                return {p}
            if node.attr == "f_lru":
                return set(self.list_prov.get(f, {}).get(_slot(node.value), ()))
        if _slot(node) is not None:
            return set(self.list_prov.get(f, {}).get(_slot(node), ()))
        return set()

    # -- blocks --------------------------------------------------------------------------------
    def _block(self, f: str, i: int, fdef: ast.FunctionDef) -> Block:
        return Block(f, i, self._stmts(f, fdef.body[1:]))  # body[0]: ops = M.ops; G = M.g

    def _stmts(self, f: str, stmts: list) -> list:
        out = []
        for s in stmts:
            line = self.P.line_map.get(s.lineno, 0)
            ev = _Events(self, f)
            ev.line = line
            if isinstance(s, ast.Assign):
                ev.use_expr(s.value)
                for t in s.targets:
                    ev.define(t)
                out += ev.out
            elif isinstance(s, ast.Expr):
                ev.use_expr(s.value)
                out += ev.out
            elif isinstance(s, ast.If):
                ev.use_expr(s.test)
                out += ev.out
                out.append(("if", self._stmts(f, s.body), self._stmts(f, s.orelse)))
            elif isinstance(s, ast.Return):
                v = s.value
                if _int(v) is not None:
                    out.append(("jump", v.value, line))
                elif isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute) and v.func.attr == "call":
                    args = v.args
                    callee = _fn_name(args[1])
                    refs = []
                    if isinstance(args[2], ast.Tuple):
                        for j, a in enumerate(args[2].elts):
                            ev.use_expr(a) if not _is_slotref(a) else refs.append((j, a.args[1].value))
                    out += ev.out
                    out.append(("call", callee, _int(args[4]), line, tuple(refs)))
                elif isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute) and v.func.attr == "ret":
                    for a in v.args:
                        ev.use_expr(a)
                    out += ev.out
                    out.append(("ret", line, not _nonzero_constant(v.args[0] if v.args else None)))
                else:
                    out.append(("ret", line, True))
        return out

    def _entries(self) -> dict[str, str]:
        """Activation entry points by kind: the module's init and exit, and the
        functions the kernel calls through a pointer the driver hands it (the work
        item's function: ``work``; debugfs callbacks: ``debugfs``)."""
        out = {}
        if self.P.init_function:
            out[self.P.init_function] = "init"
        if self.P.exit_function:
            out[self.P.exit_function] = "exit"
        taken = set()
        for n in ast.walk(ast.parse(self.P.source)):
            if isinstance(n, ast.Name) and n.id.startswith("FN_"):
                taken.add(n.id[3:])
        called = set()
        for blocks in self.blocks.values():
            for b in blocks:
                for ev in _flatten(b.body):
                    if ev[0] == "call":
                        called.add(ev[1])
        for f in sorted(taken - called):
            if f in self.P.functions and f not in out:
                out[f] = "work" if self._queues_itself(f) else "debugfs"
        return out

    def _queues_itself(self, f: str) -> bool:
        for n in self.names[f]:
            for node in ast.walk(self.defs[n]):
                if isinstance(node, ast.Name) and node.id == "KF_queue_delayed_work":
                    return True
        return False


def _nonzero_constant(node) -> bool:
    """A returned ``ops.u32(k)``/``ops.u64(k)`` with k != 0 (an error code)."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("u32", "u64")
            and bool(node.args) and _int(node.args[0]) not in (None, 0))


def _walk_c(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(c for _, c in n.children())


def _fn_name(node) -> str | None:
    return node.id[3:] if isinstance(node, ast.Name) and node.id.startswith("FN_") else None


def _is_slotref(node) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "SlotRef"


def _flatten(events):
    for ev in events:
        yield ev
        if ev[0] == "if":
            yield from _flatten(ev[1])
            yield from _flatten(ev[2])


# -- reaching definitions ---------------------------------------------------------------------------

ENTRY = Site("<entry>", 0)


@dataclass
class Summary:
    """A function's effect on the fields, for its callers: uses its entry exposes,
    definitions that may reach its exit, fields some path leaves untouched."""

    exposed: dict[str, set[Site]] = field(default_factory=dict)
    out: dict[str, set[Site]] = field(default_factory=dict)
    transparent: set[str] = field(default_factory=set)
    out_ok: dict[str, set[Site]] = field(default_factory=dict)  # the same over the exits that may return 0
    transparent_ok: set[str] = field(default_factory=set)
    ptr_defs: dict[int, set[Site]] = field(default_factory=dict)  # *param = v: defs of the caller's local


class Analysis:
    def __init__(self, model: CodeModel) -> None:
        self.m = model
        self.fields = set(model.fields())
        self.summaries: dict[str, Summary] = {}
        self.iteration_pairs: set[Pair] = set()
        for f in self._bottom_up():
            self.summaries[f] = self._function(f)

    def _bottom_up(self) -> list[str]:
        calls = {f: {ev[1] for b in bs for ev in _flatten(b.body) if ev[0] == "call"}
                 for f, bs in self.m.blocks.items()}
        order, seen = [], set()

        def visit(f: str) -> None:
            if f in seen or f not in calls:
                return
            seen.add(f)
            for g in sorted(calls[f]):
                visit(g)
            order.append(f)

        for f in sorted(calls):
            visit(f)
        return order

    # state: var -> frozenset of (Site, crossed: frozenset of loop heads)
    def _function(self, f: str) -> Summary:
        blocks = self.m.blocks[f]
        loops = {lp.head: lp for lp in self.m.P.functions[f].loops}
        members = {h: self._loop_blocks(blocks, h) for h in loops}
        summary = Summary()
        start = {v: {(ENTRY, frozenset(), -1)} for v in self.fields}
        states: list[dict | None] = [None] * len(blocks)
        states[0] = start
        work = [0]
        exit_states: list[dict] = []
        while work:
            i = work.pop()
            st = {v: set(s) for v, s in states[i].items()}
            for kind, target, st2 in self._run(f, i, blocks[i].body, st, summary):
                if kind == "ret":
                    exit_states.append((st2, target))
                    continue
                if target is None or target >= len(blocks):
                    continue
                if target in loops and i >= target and i in members[target]:  # the back edge
                    st2 = {v: {(d, c | {target}, b) if b in members[target] else (d, c, b) for d, c, b in s}
                           for v, s in st2.items()}
                if _merge(states, target, st2):
                    work.append(target)
        for st, may_succeed in exit_states:
            for v, s in st.items():
                if v in self.fields:
                    for d, _, _ in s:
                        if d == ENTRY:
                            summary.transparent.add(v)
                            if may_succeed:
                                summary.transparent_ok.add(v)
                        else:
                            summary.out.setdefault(v, set()).add(d)
                            if may_succeed:
                                summary.out_ok.setdefault(v, set()).add(d)
        return summary

    def _loop_blocks(self, blocks: list[Block], head: int) -> set[int]:
        succ = {b.index: set(_successors(b.body)) for b in blocks}
        pred: dict[int, set[int]] = {}
        for a, ss in succ.items():
            for s in ss:
                pred.setdefault(s, set()).add(a)
        tails = [a for a in pred.get(head, ()) if a >= head]
        body, stack = {head}, list(tails)
        while stack:
            x = stack.pop()
            if x not in body:
                body.add(x)
                stack.extend(pred.get(x, ()))
        return body

    def _run(self, f: str, bi: int, events: list, st: dict, summary: Summary):
        """Run a block's events on a state; yield (kind, successor block, state) at each exit."""
        for k, ev in enumerate(events):
            op = ev[0]
            if op == "use":
                self._use(f, ev[1], Site(f, ev[2]), st, summary)
            elif op == "def":
                st[ev[1]] = {(Site(f, ev[2]), frozenset(), bi)}
            elif op == "setptr":
                summary.ptr_defs.setdefault(ev[1], set()).add(Site(f, ev[2]))
            elif op == "if":
                rest = events[k + 1:]
                for branch in (ev[1], ev[2]):
                    sb = {v: set(s) for v, s in st.items()}
                    yield from self._run(f, bi, branch + rest, sb, summary)
                return
            elif op == "jump":
                yield "jump", ev[1], st
                return
            elif op == "call":
                callee, cont, line, refs = ev[1], ev[2], ev[3], ev[4]
                cs = self.summaries.get(callee)
                if cs is not None:
                    for v, uses in cs.exposed.items():
                        for u in uses:
                            for d, c, _ in st.get(v, ()):
                                self._pair(v, d, c, u, summary)
                    for v in self.fields:
                        new = {(d, frozenset(), bi) for d in cs.out.get(v, ())}
                        st[v] = (st.get(v, set()) if v in cs.transparent else set()) | new
                    for j, slot in refs:
                        var = self.m.local(f, slot)
                        if var is not None and j in cs.ptr_defs:
                            st[var] = st.get(var, set()) | {(Site(f, line), frozenset(), bi)}
                yield "jump", cont, st
                return
            elif op == "ret":
                yield "ret", ev[2], st  # ev[2]: the function may return 0 (success) here
                return
        yield "jump", None, st

    def _use(self, f: str, var: str, u: Site, st: dict, summary: Summary) -> None:
        for d, crossed, _ in st.get(var, ()):
            if d == ENTRY:
                summary.exposed.setdefault(var, set()).add(u)
            else:
                self._pair(var, d, crossed, u, summary)

    def _pair(self, var: str, d: Site, crossed, u: Site, summary: Summary) -> None:
        if d == ENTRY:
            summary.exposed.setdefault(var, set()).add(u)
        elif crossed and var not in self.fields:
            self.iteration_pairs.add(Pair("iteration", var, d, u))

    # -- across activations -----------------------------------------------------------------
    def cycle_pairs(self) -> set[Pair]:
        """Field pairs across activations, over the activation graph."""
        kinds = self.m.entries
        by_kind: dict[str, list[str]] = {}
        for f, k in kinds.items():
            by_kind.setdefault(k, []).append(f)
        follows = {"start": ("init",), "init": ("init", "work", "debugfs", "exit"),
                   "work": ("work", "debugfs", "exit"), "debugfs": ("work", "debugfs", "exit"), "exit": ("init",)}
        static = Site(STATIC, self._static_line())
        incoming: dict[str, dict[str, set[Site]]] = {k: {} for k in follows}
        incoming["start"] = {v: {static} for v in self.fields}
        changed = True
        while changed:
            changed = False
            for k in follows:
                for nxt in follows[k]:
                    # work, debugfs and exit follow only an init that succeeded (returned 0)
                    outs = self._through(k, by_kind, incoming[k], ok=(k == "init" and nxt != "init"))
                    for v, ds in outs.items():
                        cur = incoming[nxt].setdefault(v, set())
                        if not ds <= cur:
                            cur |= ds
                            changed = True
        pairs = set()
        for k, fns in by_kind.items():
            for f in fns:
                s = self.summaries[f]
                for v, uses in s.exposed.items():
                    if v not in self.fields:
                        continue
                    for d in incoming.get(k, {}).get(v, ()):
                        for u in uses:
                            pairs.add(Pair("cycle", v, d, u))
        return pairs

    def _through(self, kind: str, by_kind: dict, inc: dict[str, set[Site]], ok: bool = False) -> dict[str, set[Site]]:
        if kind == "start":
            return {v: set(ds) for v, ds in inc.items()}
        out: dict[str, set[Site]] = {}
        for f in by_kind.get(kind, ()):
            s = self.summaries[f]
            for v in self.fields:
                ds = set((s.out_ok if ok else s.out).get(v, ()))
                if v in (s.transparent_ok if ok else s.transparent):
                    ds |= inc.get(v, set())
                out.setdefault(v, set()).update(ds)
        return out

    def _static_line(self) -> int:
        for g in self.m.P.globals.values():
            if isinstance(g.ctype, T.Struct) and g.ctype.tag == ROOT_STRUCT and g.decl is not None:
                return g.decl.coord.line
        return 0


def _successors(events) -> list[int]:
    out = []
    for ev in _flatten(events):
        if ev[0] == "jump" and ev[1] is not None:
            out.append(ev[1])
        elif ev[0] == "call" and ev[2] is not None:
            out.append(ev[2])
    return out


def _merge(states: list, i: int, st: dict) -> bool:
    cur = states[i]
    if cur is None:
        states[i] = {v: set(s) for v, s in st.items()}
        return True
    changed = False
    for v, s in st.items():
        c = cur.setdefault(v, set())
        if not s <= c:
            c |= s
            changed = True
    return changed


def static_pairs(program) -> list[Pair]:
    """Every boundary-spanning definition-use pair of a compiled driver (csource Program)."""
    a = Analysis(CodeModel(program))
    return sorted(a.cycle_pairs() | a.iteration_pairs)
