"""Measuring data-flow goals: the interpreted C with every access to the driver's state
and loop locals logged with the definition it reads."""
from __future__ import annotations

import sys

from .analysis import EXCLUDED_FIELDS, ROOT_STRUCT, STATIC, Analysis, CodeModel, Pair, Site

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
