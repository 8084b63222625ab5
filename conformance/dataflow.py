"""Data-flow coverage: values carried across work cycles (and loop iterations).

A branch goal is met by one work cycle; a defect in the state the driver
carries from one cycle to the next (a counter not reset, a rate computed from
a stale value) shows only when a value defined in one cycle decides what
happens in a later one. The goals here are the *definition-use pairs that
span a boundary*:

* ``cycle``: a field of ``struct vmballoon`` (a scalar, a counter of
  ``stats``, a member of ``sysinfo``, the pointer ``dbg_entry``, the page
  lists ``pages`` and ``refused_pages``) defined in one *activation* of the
  driver (module init, a work cycle, a debugfs read, module exit; or the
  zeroed static storage at load) and used in a later activation, with no
  redefinition between;
* ``iteration``: a local variable of a function defined in one iteration of
  a loop and used after the loop's back edge (in a later iteration, or after
  the loop), with no redefinition between.

Goals come from the C: csource compiles the driver into blocks (its control
flow graph); each statement of a block says which fields and locals it
defines and uses (a field by its path from ``struct vmballoon``: ``size``,
``stats.lock``; a list is defined by ``list_add``/``list_del``/
``INIT_LIST_HEAD`` and used by a walk or ``list_empty``; ``list_del`` of an
entry defines the list its walk came from). A reaching-definitions analysis
over the blocks (each C function summarised once: the uses its entry
exposes, the definitions that reach its exit, whether it can leave a
variable untouched) gives the pairs: within a function for the loop
locals (a definition marked when it crosses a loop's back edge), and over
the sequence of activations for the fields (start -> init; init -> init,
a work cycle, a debugfs read, exit; a work cycle or a debugfs read -> a work
cycle, a debugfs read or exit; exit -> init). A site is a C function and a
driver line.

Coverage is measured by running the vectors on the *interpreted* C
(csource) with every field and local access logged with the activation (or
loop iterations) of the definition it reads. Pairs no run of the analysis's
paths can take (the analysis does not know that ``pop`` empties the list, so
a later ``pop`` has no page to take) are listed in ``UNREACHABLE`` with the
reason, as conformance/coverage.py lists unreachable branches.
"""
from __future__ import annotations

import ast
import re
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

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


# -- measuring: the vectors on the interpreted C, every access logged ------------------------------


class _Recorder:
    """Logs, at each use of a field or loop local, the definition it reads and
    whether that definition was made in an earlier activation (or before a
    back edge of a loop containing it). Sites are (C function, driver line):
    the line of the generated statement running (csource's line map)."""

    def __init__(self, model: CodeModel, analysis: Analysis) -> None:
        self.m = model
        self.codename = model.P.codename
        self.line_map = model.P.line_map
        self.activation = 0
        self.fields: dict[str, tuple] = {}  # path -> (function, line, activation)
        self.keys: set[tuple] = set()  # (kind, var, def function, def line, use function, use line)
        self.machine = None
        self.loops: dict[str, list[int]] = {}  # function -> loop heads
        self.block_loops: dict[str, list[tuple[int, ...]]] = {}  # function -> block -> loops containing it
        for f, blocks in model.blocks.items():
            heads = [lp.head for lp in model.P.functions[f].loops]
            if heads:
                members = [analysis._loop_blocks(blocks, h) for h in heads]
                self.loops[f] = heads
                self.block_loops[f] = [tuple(i for i, mb in enumerate(members) if b in mb)
                                       for b in range(len(blocks))]
        self.static = (STATIC, analysis._static_line())
        self.paths = model.struct_paths()
        self.watch: set[str] | None = None  # fields to log (None: all)

    @property
    def covered(self) -> set[Pair]:
        return {Pair(k, v, Site(df, dl), Site(uf, ul)) for k, v, df, dl, uf, ul in self.keys}

    def line(self, depth: int = 2) -> int:
        """The driver line of the generated statement running (0: not the driver's code,
        e.g. a diagnostic summary of the state)."""
        fr = sys._getframe(depth)
        name = self.codename
        while fr is not None and fr.f_code.co_filename != name:
            fr = fr.f_back
        return self.line_map.get(fr.f_lineno, 0) if fr is not None else 0

    def function(self) -> str:
        for F in reversed(self.machine.stack):
            if F.func is not None:
                return F.func.name
        return "?"

    def field_def(self, path: str) -> None:
        line = self.line(3)
        if line:
            self.fields[path] = (self.function(), line, self.activation)

    def field_use(self, path: str) -> None:
        d = self.fields.get(path)
        if d is not None and d[2] != self.activation:
            line = self.line(3)
            if line:
                self.keys.add(("cycle", path, d[0], d[1], self.function(), line))


def _recording_struct(cls: type, prefix: str, rec: _Recorder, model: CodeModel) -> type:
    """A subclass of a generated struct class whose scalar members log their defs and uses."""
    props = {"__slots__": ()}
    for name, _ in cls.ctype.fields:
        path = f"{prefix}{name}"
        if not model.is_scalar(path) or path in EXCLUDED_FIELDS or (rec.watch is not None and path not in rec.watch):
            continue
        slot = cls.__dict__["f_" + name]

        def getter(obj, slot=slot, path=path):
            rec.field_use(path)
            return slot.__get__(obj)

        def setter(obj, v, slot=slot, path=path):
            rec.field_def(path)
            slot.__set__(obj, v)


        props["f_" + name] = property(getter, setter)
    return type(cls.__name__ + "_recorded", (cls,), props)


def _install(rec: _Recorder, obj, prefix: str, model: CodeModel) -> None:
    from balloonspec.csource.runtime import StructObj

    cls = type(obj)
    obj.__class__ = _recording_struct(cls, prefix, rec, model)
    for name, _ in cls.ctype.fields:
        v = cls.__dict__["f_" + name].__get__(obj)
        if isinstance(v, StructObj) and f"{prefix}{name}" not in EXCLUDED_FIELDS:
            _install(rec, v, f"{prefix}{name}.", model)


class _RecordingLists:
    """The interpreter's list model, logging list defs (add, del, init) and uses (walks, empty)."""

    def __init__(self, rec: _Recorder, inner) -> None:
        self.rec, self.inner = rec, inner
        self.member: dict[int, str] = {}

    def _path(self, head) -> str | None:
        p = self._list_path(head)
        return p if p is None or self.rec.watch is None or p in self.rec.watch else None

    def _list_path(self, head) -> str | None:
        if getattr(head, "member", None) and head.parent is not None and \
                getattr(type(head.parent), "ctype", None) is not None and \
                self.rec.m.is_list(self._prefix(head.parent) + head.member):
            return self._prefix(head.parent) + head.member
        return None

    def _prefix(self, obj) -> str:
        tag = getattr(type(obj).ctype, "tag", None)
        p = self.rec.paths.get(tag)
        return "" if p == "" else (p + "." if p else "<none>.")

    def init(self, head) -> None:
        p = self._path(head)
        if p:
            self.rec.field_def(p)
        self.inner.init(head)

    def add(self, new, head) -> None:
        self._add(new, head, self.inner.add)

    def add_tail(self, new, head) -> None:
        self._add(new, head, self.inner.add_tail)

    def _add(self, new, head, op) -> None:
        p = self._path(head)
        if p:
            self.rec.field_use(p)
            self.rec.field_def(p)
            self.member[id(new)] = p
        op(new, head)

    def delete(self, entry) -> None:
        p = self.member.pop(id(entry), None)
        if p:
            self.rec.field_use(p)
            self.rec.field_def(p)
        self.inner.delete(entry)

    def empty(self, head) -> bool:
        p = self._path(head)
        if p:
            self.rec.field_use(p)
        return self.inner.empty(head)

    def first(self, head):
        p = self._path(head)
        if p:
            self.rec.field_use(p)
        return self.inner.first(head)

    def __getattr__(self, name):
        return getattr(self.inner, name)


class _RecordingLocals(list):
    """A frame's locals, logging defs and uses of the named locals of a function with loops."""

    __slots__ = ("rec", "frame", "fname", "iters", "defs", "names", "block_loops", "call_line")

    def __getitem__(self, k):
        d = self.defs.get(k)
        if d is not None:
            line, snap, loops = d
            it = self.iters
            for h in loops:
                if it[h] > snap[h]:
                    rec = self.rec
                    fr = sys._getframe(1)  # the generated block reading the local
                    use = rec.line_map.get(fr.f_lineno, 0) if fr.f_code.co_filename == rec.codename else rec.line()
                    rec.keys.add(("iteration", self.names[k], self.fname, line, self.fname, use))
                    break
        return list.__getitem__(self, k)

    def __setitem__(self, k, v):
        if k in self.names:
            # *p = v in a callee writes this frame's local: its site is the call's line
            line = self.rec.line() if self.rec.machine.stack[-1] is self.frame else self.call_line
            self.defs[k] = (line, tuple(self.iters), self.block_loops[self.frame.pc])
        list.__setitem__(self, k, v)


def recording_driver(program, analysis: Analysis, model: CodeModel, only: set[str] | None = None):
    """A csource CDriver whose machine logs the definition each use reads (see _Recorder);
    ``only``: the variables to watch (default: every field and loop local)."""
    from balloonspec.csource.lists import LinkedLists
    from balloonspec.csource.run import CDriver
    from balloonspec.csource.runtime import CFunction, Machine

    rec = _Recorder(model, analysis)
    if only is not None:
        watched_functions = {v.split(".", 1)[0] for v in only if v not in analysis.fields}
        rec.loops = {f: h for f, h in rec.loops.items() if f in watched_functions}
        rec.watch = {v for v in only if v in analysis.fields}

    class RecordingMachine(Machine):
        def __init__(self, *a, **kw) -> None:
            super().__init__(*a, lists=_RecordingLists(rec, LinkedLists()), **kw)
            code = dict(self.code)
            for f, heads in rec.loops.items():
                blocks = list(code[f])
                for i, h in enumerate(heads):
                    blocks[h] = _counting(blocks[h], i)
                code[f] = blocks
            self.code = code

        def call(self, F, fn, args, ret_slot, cont):
            if isinstance(F.locals, _RecordingLocals):
                F.locals.call_line = rec.line()
                F.locals.frame.pc = F.pc  # the block making the call (for loop membership)
            nxt = super().call(F, fn, args, ret_slot, cont)
            if type(fn) is CFunction and fn.name in rec.loops:
                top = self.stack[-1]
                L = _RecordingLocals(top.locals)
                L.rec, L.frame, L.fname, L.defs = rec, top, fn.name, {}
                L.iters = [0] * len(rec.loops[fn.name])
                L.names = {i: f"{fn.name}.{n}" for i, n in enumerate(fn.slot_names) if not n.startswith("$")}
                L.block_loops = rec.block_loops[fn.name]
                top.locals = L
            return nxt

    class RecordingDriver(CDriver):
        def _m(self, env):
            if self.machine is None:
                self.machine = RecordingMachine(self.program, self.ops, env)
                rec.machine = self.machine
                bal = next(v for v in self.machine.g if getattr(getattr(type(v), "ctype", None), "tag", None)
                           == ROOT_STRUCT)
                _install(rec, bal, "", model)
                rec.fields = {p: (*rec.static, 0) for p in analysis.fields}
            self.machine.env = env
            return self.machine

        def _activation(self) -> None:
            rec.activation += 1

        def init(self, env, debugfs):
            self._m(env)
            self._activation()
            return super().init(env, debugfs)

        def work(self, env):
            self._activation()
            return super().work(env)

        def exit(self, env, debugfs):
            self._activation()
            return super().exit(env, debugfs)

        def debugfs_text(self, env):
            self._activation()
            return super().debugfs_text(env)

    return RecordingDriver(program), rec


def _counting(block, index: int):
    def counted(M, F, L):
        it = getattr(L, "iters", None)
        if it is not None:
            it[index] += 1
        return block(M, F, L)

    return counted


# -- goals, coverage and the report ---------------------------------------------------------------

SCENARIOS = Path(__file__).resolve().parent / "dataflow_scenarios.json"


def load_dataflow_scenarios(path: Path = SCENARIOS) -> list[dict]:
    import json

    return json.loads(path.read_text()) if path.is_file() else []


def save_dataflow_scenarios(entries: list[dict], path: Path = SCENARIOS) -> None:
    """Add stored scenarios (by id: a new entry replaces an old one of the same id)."""
    import json

    ids = {e["id"] for e in entries}
    merged = [e for e in load_dataflow_scenarios(path) if e["id"] not in ids] + list(entries)
    path.write_text(json.dumps(sorted(merged, key=lambda e: e["id"]), indent=1) + "\n")


@dataclass
class Goals:
    """The data-flow goals of a driver source (both configurations) and its analysis."""

    pairs: list[Pair]
    models: dict  # debugfs -> (program, CodeModel, Analysis)


def goals(driver: Path) -> Goals:
    from balloonspec.csource.compile import load

    models, pairs = {}, set()
    for debugfs in (True, False):
        P = load(driver, debugfs=debugfs)
        m = CodeModel(P)
        a = Analysis(m)
        models[debugfs] = (P, m, a)
        pairs |= a.cycle_pairs() | a.iteration_pairs
    return Goals(sorted(pairs), models)


def covered(g: Goals, scenario, debugfs: bool, only: set[str] | None = None, max_events: int = 3_000_000):
    """The pairs one scenario covers on the interpreted driver (None if the run hangs)."""
    from balloonspec.model.predict import predict

    P, m, a = g.models[debugfs]
    drv, rec = recording_driver(P, a, m, only)
    p = predict(scenario, debugfs=debugfs, driver=drv, max_events=max_events)
    return None if p.hung else rec.covered


def _measure_chunk(driver: str, items: list[tuple[str, str, bool]]) -> dict[str, list[str]]:
    import json

    from balloonspec.model.scenario import Scenario

    g = goals(Path(driver))
    return {vid: sorted(p.id for p in covered(g, Scenario.from_json(json.loads(sc)), debugfs) or ())
            for vid, sc, debugfs in items}


def coverage_by_vector(driver: Path, vectors: list, jobs: int = 0) -> dict[str, set[str]]:
    """Vector id -> ids of the pairs it covers on the interpreted driver (in a process pool)."""
    import json
    from concurrent.futures import ProcessPoolExecutor

    items = sorted(((v.id, json.dumps(v.scenario.to_json()), v.debugfs) for v in vectors),
                   key=lambda x: -len(x[1]))
    n = max(1, min(jobs or os.cpu_count() or 1, len(items)))
    if n == 1:
        return {k: set(v) for k, v in _measure_chunk(str(driver), items).items()}
    out: dict[str, set[str]] = {}
    with ProcessPoolExecutor(max_workers=n) as pool:
        for part in pool.map(_measure_chunk, [str(driver)] * n, [items[k::n] for k in range(n)]):
            out.update({k: set(v) for k, v in part.items()})
    return out


def measure(driver: Path, vectors: list, jobs: int = 0) -> set[str]:
    """Ids of the pairs the vectors cover on the interpreted driver."""
    return set().union(*coverage_by_vector(driver, vectors, jobs).values()) if vectors else set()


# Pairs no run can take, by pair id, with the reason (the analysis does not know
# list lengths, the size/list correspondence or which branch a return value
# selects). A reason for a pair that is not a goal any more is stale (a test checks).
_POP_EMPTIES = ("vmballoon_pop takes every page off b->pages; a later list_del or release needs a page on "
                "the list, which only list_add in vmballoon_reserve_page (line 456) puts there, redefining the list")
_NO_PAGE_YET = ("INIT_LIST_HEAD leaves b->pages empty; removing a page needs one added first by list_add in "
                "vmballoon_reserve_page (line 456), which redefines the list")
_SIZE_IS_LENGTH = ("size equals the number of pages on b->pages (MEM-CONSERVATION): with size 0 here, deflate "
                   "(size > target) and the per-page size-- of pop and release_page need a page added first, and "
                   "adding one runs b->size++ (line 459), which redefines size")
_REFUSED_PER_CYCLE = ("every vmballoon_inflate ends with vmballoon_release_refused_pages, which takes each refused page "
                      "off the list (line 495) and zeroes the count: what line 449 adds never outlives its cycle "
                      "(REFUSED-EMPTY-AT-END)")
_REFUSED_NEEDS_ADD = ("vmballoon_release_refused_pages deletes a page (line 495) only if list_add (line 449) put it "
                      "on the refused list in the same cycle, which redefines the list")
UNREACHABLE: dict[str, str] = {
    "cycle pages: vmballoon_init:793 -> vmballoon_deflate:631": _NO_PAGE_YET,
    "cycle pages: vmballoon_init:793 -> vmballoon_pop:375": _NO_PAGE_YET,
    "cycle pages: vmballoon_init:793 -> vmballoon_release_page:474": _NO_PAGE_YET,
    "cycle pages: vmballoon_pop:375 -> vmballoon_deflate:631": _POP_EMPTIES,
    "cycle pages: vmballoon_pop:375 -> vmballoon_pop:375": _POP_EMPTIES,
    "cycle pages: vmballoon_pop:375 -> vmballoon_release_page:474": _POP_EMPTIES,
    "cycle refused_pages: vmballoon_init:794 -> vmballoon_release_refused_pages:495": _REFUSED_NEEDS_ADD,
    "cycle refused_pages: vmballoon_release_refused_pages:495 -> vmballoon_release_refused_pages:495":
        _REFUSED_NEEDS_ADD,
    "cycle refused_pages: vmballoon_reserve_page:449 -> vmballoon_release_refused_pages:494": _REFUSED_PER_CYCLE,
    "cycle refused_pages: vmballoon_reserve_page:449 -> vmballoon_release_refused_pages:495": _REFUSED_PER_CYCLE,
    "cycle refused_pages: vmballoon_reserve_page:449 -> vmballoon_reserve_page:449": _REFUSED_PER_CYCLE,
    "cycle size: <static>:218 -> vmballoon_deflate:626": _SIZE_IS_LENGTH,
    "cycle size: <static>:218 -> vmballoon_pop:378": _SIZE_IS_LENGTH,
    "cycle size: <static>:218 -> vmballoon_release_page:481": _SIZE_IS_LENGTH,
    "cycle size: vmballoon_pop:378 -> vmballoon_deflate:626": _SIZE_IS_LENGTH,
    "cycle size: vmballoon_pop:378 -> vmballoon_pop:378": _SIZE_IS_LENGTH,
    "cycle size: vmballoon_pop:378 -> vmballoon_release_page:481": _SIZE_IS_LENGTH,
    "cycle slow_allocation_cycles: <static>:218 -> vmballoon_work:665":
        "the decrement runs only when slow_allocation_cycles > 0, and only line 577 makes it positive",
    "cycle slow_allocation_cycles: vmballoon_inflate:577 -> vmballoon_inflate:539":
        "line 577 sets it to 4; the next work cycle decrements it (line 665) before vmballoon_inflate reads it",
    "iteration vmballoon_reserve_page.hv_status: vmballoon_reserve_page:434 -> vmballoon_reserve_page:438":
        "line 438 runs only when vmballoon_send_lock_page returned > 0, and it writes *hv_status before any "
        "return other than -1 (a PFN >= 2^32): each such iteration defines hv_status anew",
}


def _cache_key(driver: Path, vectors: list) -> str:
    import hashlib

    h = hashlib.sha256(Path(driver).read_bytes())
    for src in sorted(Path(__file__).resolve().parent.parent.joinpath("csource").glob("*.py")):
        h.update(src.read_bytes())
    h.update(Path(__file__).read_bytes())
    for v in sorted(vectors, key=lambda v: v.id):
        h.update(repr((v.id, v.debugfs, v.scenario.to_json())).encode())
    return h.hexdigest()[:32]


def report(driver: Path, vectors: list, jobs: int = 0) -> dict:
    """Data-flow coverage of a vector set on a driver source: goals, covered, the
    unreachable ones with their reasons, the uncovered ones (cached by content)."""
    import json

    from balloonspec.driver.build import cache_root

    cache = cache_root().parent / "dataflow" / f"{_cache_key(driver, vectors)}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    g = goals(driver)
    hit = measure(driver, vectors, jobs)
    ids = [p.id for p in g.pairs]
    unreachable = {i: UNREACHABLE[i] for i in ids if i in UNREACHABLE and i not in hit}
    uncovered = [i for i in ids if i not in hit and i not in unreachable]
    by_kind = {}
    for p in g.pairs:
        row = by_kind.setdefault(p.kind, {"goals": 0, "covered": 0})
        row["goals"] += 1
        row["covered"] += p.id in hit
    out = {
        "goals": len(ids),
        "covered": sum(1 for i in ids if i in hit),
        "unreachable": len(unreachable),
        "pct": round(100.0 * sum(1 for i in ids if i in hit) / max(1, len(ids) - len(unreachable)), 2),
        "by_kind": by_kind,
        "uncovered_pairs": uncovered,
        "unreachable_pairs": [{"pair": i, "why": w} for i, w in unreachable.items()],
        "covered_unreachable": sorted(i for i in hit if i in UNREACHABLE),
    }
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(out, indent=1) + "\n")
    os.replace(tmp, cache)
    return out


# -- vectors for the goals the shipped set misses --------------------------------------------------


def search(driver: Path, missing: set[str], *, examples: int = 400, seed: int = 0,
           on_find=lambda pair, scenario: None) -> dict[str, tuple]:
    """Scenarios (seeded Hypothesis over the mutation search's multi-cycle scenarios) that
    cover the missing pairs on the interpreted driver: pair id -> (scenario, debugfs), the
    smallest found for each, then shrunk."""
    from hypothesis import HealthCheck, Phase, given, settings, target
    from hypothesis import seed as hypothesis_seed

    from balloonspec.conformance.mutation.search import search_scenarios

    g = goals(driver)
    pairs = {p.id: p for p in g.pairs if p.id in missing}
    watch = {p.var for p in pairs.values()}
    best: dict[str, tuple] = {}

    @settings(max_examples=examples, database=None, deadline=None, phases=[Phase.generate, Phase.target],
              suppress_health_check=list(HealthCheck), print_blob=False)
    @hypothesis_seed(seed)
    @given(search_scenarios())
    def explore(drawn) -> None:
        scenario, debugfs = drawn
        hit = covered(g, scenario, debugfs, watch) or set()
        new = {p.id for p in hit} & pairs.keys()
        for pid in new:
            size = (len(scenario.steps), len(scenario.host_rules) + len(scenario.alloc_rules), scenario.target)
            if pid not in best or size < best[pid][2]:
                if pid not in best:
                    on_find(pid, scenario)
                best[pid] = (scenario, debugfs, size)
        target(float(len(new)), label="missing pairs covered")

    explore()
    out = {}
    for pid, (scenario, debugfs, _) in sorted(best.items()):
        out[pid] = (shrink(scenario, lambda sc: pid in {p.id for p in covered(g, sc, debugfs, watch) or ()}),
                    debugfs)
    return out


def shrink(scenario, keep, budget: int = 120):
    """A smaller scenario for which ``keep`` still holds: rules dropped, steps dropped
    (rule scopes follow), the target, step arguments and rule positions lowered."""
    from dataclasses import replace

    from balloonspec.model.scenario import ScenarioError

    calls = [0]

    def ok(sc) -> bool:
        if calls[0] >= budget:
            return False
        calls[0] += 1
        try:
            sc.validate()
        except ScenarioError:
            return False
        return keep(sc)

    def without_step(sc, i):
        steps = sc.steps[:i] + sc.steps[i + 1:]
        fix = lambda rules: tuple(replace(r, scope=r.scope - (r.scope > i)) for r in rules if r.scope != i)  # noqa
        return replace(sc, steps=steps, host_rules=fix(sc.host_rules), alloc_rules=fix(sc.alloc_rules))

    cur, changed = scenario, True
    while changed and calls[0] < budget:
        changed = False
        for field_ in ("host_rules", "alloc_rules"):
            for i in range(len(getattr(cur, field_)) - 1, -1, -1):
                rules = getattr(cur, field_)
                cand = replace(cur, **{field_: rules[:i] + rules[i + 1:]})
                if ok(cand):
                    cur, changed = cand, True
        for i in range(len(cur.steps) - 1, 0, -1):
            if i < len(cur.steps):
                cand = without_step(cur, i)
                if ok(cand):
                    cur, changed = cand, True
        for value in (0, cur.target // 4, cur.target // 2):
            if value < cur.target and ok(replace(cur, target=value)):
                cur, changed = replace(cur, target=value), True
                break
        for field_ in ("host_rules", "alloc_rules"):
            rules = list(getattr(cur, field_))
            for i, r in enumerate(rules):
                for attr in ("nth", "count"):
                    v = getattr(r, attr)
                    for smaller in (1, v // 2):
                        if 1 <= smaller < v:
                            cand_rules = rules[:i] + [replace(r, **{attr: smaller})] + rules[i + 1:]
                            cand = replace(cur, **{field_: tuple(cand_rules)})
                            if ok(cand):
                                cur, changed, rules = cand, True, cand_rules
                                break
    return cur


def vector_entries(found: dict[str, tuple]) -> list[dict]:
    """Stored scenarios for the shipped set: one vector per scenario, naming the pairs it reaches."""
    by_scenario: dict[str, dict] = {}
    for pid, (scenario, debugfs) in sorted(found.items()):
        key = repr((scenario.to_json(), debugfs))
        e = by_scenario.setdefault(key, {"pairs": [], "scenario": scenario, "debugfs": debugfs})
        e["pairs"].append(pid)
    out = []
    for e in sorted(by_scenario.values(), key=lambda e: e["pairs"][0]):
        first = e["pairs"][0]
        vid = "dataflow-" + "-".join(re.sub(r"[^A-Za-z0-9_.]+", "-", first.replace("vmballoon_", "")).split("-")
                                     ).strip("-")
        out.append({
            "id": vid,
            "debugfs": e["debugfs"],
            "reason": {"kind": "dataflow", "goal": "; ".join(e["pairs"]),
                       "text": "a value defined in one activation of the driver (work cycle, init, debugfs read, "
                               "exit) and used in a later one: " + "; ".join(e["pairs"])},
            "scenario": e["scenario"].with_(id=vid).to_json(),
        })
    return out


def dataflow_coverage(driver: Path, vectors: list, jobs: int = 0) -> dict:
    """``report`` for the conform report: an error (the interpreter cannot run the source)
    is recorded, not raised."""
    from balloonspec.csource.errors import CFrontError

    try:
        return report(driver, vectors, jobs)
    except CFrontError as e:
        return {"error": f"the data-flow goals need the interpreted C: {e}"}
