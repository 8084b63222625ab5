"""The interpreter's state and its run loop.

A ``Machine`` is one running instance of a compiled driver (compile.py):

* ``globals``: the driver's file-scope objects, by name (a struct is a
  ``StructObj`` whose members are attributes ``f_<member>``; a scalar global
  is its ops value);
* ``stack``: the C call stack, a list of ``Frame`` (the function, its
  program point ``pc`` = a block of the function, and ``locals``: one slot
  per C local, parameter and temporary; ``func.slot_names`` names them);
* ``kstate``: what the kernel holds for the driver (kernel.KernelState);
* ``lists``: the list model (lists.LinkedLists);
* ``ops`` and ``env``: the interpretation (model/ops.py) and the
  environment (model/algorithm.py's interface); every side effect goes
  through these two or the state above.

Each C function is a list of blocks; a block is a Python function
``(M, F, L) -> next block`` compiled from the C, whose decisions go through
``ops.cond``. A call of a C function pushes a frame and continues at the
callee's block 0; ``return`` pops it and stores the value in the caller's
slot. So a run can stop at any block and resume from a state that was read
or written in between: ``run(stop=...)`` stops before a block for which
``stop(M)`` holds (``at_loop_head`` stops at the head of a C loop, each
loop being ``func.loops``: its kind, C line and head block).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

from .errors import CFrontError, DriverFault, Unsupported
from .kernel import KernelState
from .lists import LinkedLists, ListHead

MAX_DEPTH = 200


class Uninit:
    """The value of a local variable that was never assigned: any use of it
    is a driver fault (a compiled build would read garbage)."""

    __slots__ = ()

    def _fail(self, *a):
        raise DriverFault("use of an uninitialised variable")

    def __getattr__(self, name):
        if name.startswith("__"):  # Python's protocols (copy, pickle) ask for these
            raise AttributeError(name)
        self._fail()

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __and__ = __rand__ = _fail
    __or__ = __ror__ = __xor__ = __rxor__ = __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = _fail
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __bool__ = __int__ = __index__ = _fail
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "<uninitialised>"

    def __reduce__(self):  # copies and pickles are the one UNINIT
        return "UNINIT"


UNINIT = Uninit()


class StructObj:
    """Base class of the generated struct classes (``S_<tag>``): members are
    ``f_<name>`` slots; ``parent``/``member`` locate a nested struct in its
    container (for container_of)."""

    __slots__ = ("parent", "member")
    ctype = None  # the typesys.Struct

    def __repr__(self) -> str:
        return f"<struct {self.ctype.tag}>"

    def members(self) -> dict:
        return {n: getattr(self, "f_" + n, None) for n, _ in self.ctype.fields}


class SlotRef:
    """A pointer to a local variable (``&x``)."""

    __slots__ = ("cells", "index")

    def __init__(self, cells: list, index: int) -> None:
        self.cells, self.index = cells, index

    def get(self):
        return self.cells[self.index]

    def set(self, v) -> None:
        self.cells[self.index] = v

    def same_as(self, o) -> bool:
        return type(o) is SlotRef and o.cells is self.cells and o.index == self.index


class FieldRef:
    """A pointer to a scalar member of a struct (``&b->x``)."""

    __slots__ = ("obj", "attr")

    def __init__(self, obj, attr: str) -> None:
        if obj is None:
            raise DriverFault("address of a member of a NULL pointer")
        self.obj, self.attr = obj, attr

    def get(self):
        return getattr(self.obj, self.attr)

    def set(self, v) -> None:
        setattr(self.obj, self.attr, v)

    @property
    def parent(self):
        return self.obj

    @property
    def member(self) -> str:
        return self.attr[2:]

    def same_as(self, o) -> bool:
        return type(o) is FieldRef and o.obj is self.obj and o.attr == self.attr


@dataclass
class Loop:
    """A C loop: its head block is a cut point (``for``/``while``: the test;
    ``do``: the body's first block); ``body`` is the block where an
    iteration is entered (``do``: the head; ``for``/``while``: the block
    after the test, entered only when it held)."""

    function: str
    kind: str  # for | while | do
    line: int
    head: int
    body: int = -1


class CFunction:
    """A compiled C function (see compile.py)."""

    def __init__(self, name: str, ctype, line: int) -> None:
        self.name, self.ctype, self.line = name, ctype, line
        self.nparams = 0
        self.slot_names: list[str] = []
        self.code: list = []  # block functions
        self.block_lines: list[int] = []
        self.loops: list[Loop] = []
        self.loop_heads: frozenset = frozenset()
        self.loop_bodies: frozenset = frozenset()  # blocks where an iteration is entered

    def __repr__(self) -> str:
        return f"<C function {self.name}>"


class Builtin:
    """A kernel function implemented in Python (kernel.py)."""

    def __init__(self, name: str, impl, ctype) -> None:
        self.name, self.impl, self.ctype = name, impl, ctype

    def __repr__(self) -> str:
        return f"<kernel function {self.name}>"


class Frame:
    __slots__ = ("func", "code", "pc", "locals", "ret_slot")

    def __init__(self, func, code, pc, locals_, ret_slot) -> None:
        self.func, self.code, self.pc, self.locals, self.ret_slot = func, code, pc, locals_, ret_slot

    def named_locals(self) -> dict:
        """The frame's C variables by name (temporaries left out)."""
        return {n: v for n, v in zip(self.func.slot_names, self.locals) if not n.startswith("$")}

    def __repr__(self) -> str:
        return f"<frame {self.func.name} at block {self.pc}>"


class Machine:
    def __init__(self, program, ops, env, *, lists=None) -> None:
        self.program = program
        self.ops = ops
        self.env = env
        self.lists = lists if lists is not None else LinkedLists()
        self.kstate = KernelState()
        self.stack: list[Frame] = []
        self.code = program.code_for(ops)
        self.g: list = [None] * len(program.global_names)
        program.init_globals(self)

    # -- state inspection ----------------------------------------------------------------
    @property
    def globals(self) -> dict:
        return dict(zip(self.program.global_names, self.g))

    def global_value(self, name: str):
        return self.g[self.program.global_index[name]]

    def set_global(self, name: str, value) -> None:
        self.g[self.program.global_index[name]] = value

    def new_struct(self, tag: str):
        return self.program.struct_class(tag).zero(self.ops)

    def program_point(self) -> tuple[str, int, int] | None:
        """(function, block, C line) of the innermost frame."""
        if not self.stack:
            return None
        F = self.stack[-1]
        return F.func.name, F.pc, F.func.block_lines[F.pc]

    def at_loop_head(self) -> bool:
        F = self.stack[-1] if self.stack else None
        return F is not None and F.func is not None and F.pc in F.func.loop_heads

    def at_iteration(self) -> bool:
        """About to run a loop's body (its test held)."""
        F = self.stack[-1] if self.stack else None
        return F is not None and F.func is not None and F.pc in F.func.loop_bodies

    # -- calls -------------------------------------------------------------------------------
    def call(self, F, fn, args, ret_slot, cont):
        """Called by a block: call ``fn`` (a C function pushes a frame, a
        kernel function runs at once), then continue the caller at ``cont``."""
        if type(fn) is CFunction:
            if len(self.stack) > MAX_DEPTH:
                raise DriverFault("call stack overflow (unbounded recursion)")
            L = [UNINIT] * len(fn.slot_names)
            L[:len(args)] = args
            self.stack.append(Frame(fn, self.code[fn.name], 0, L, ret_slot))
        elif type(fn) is Builtin:
            v = fn.impl(self, *args)
            if ret_slot is not None:
                F.locals[ret_slot] = v
        elif fn is None:
            raise DriverFault("call through a NULL function pointer")
        else:
            raise DriverFault(f"call through a pointer that is not a function ({fn!r})")
        return cont

    def ret(self, value):
        """Called by a block: return ``value`` from the innermost frame."""
        F = self.stack.pop()
        if F.ret_slot is not None:
            self.stack[-1].locals[F.ret_slot] = value
        return None

    def push_call(self, fn, args=()) -> int:
        """Start ``fn(*args)`` (a C function, kernel function or function
        name) without running it; returns the depth to pass to ``run``, after
        which ``returned(depth)`` is its value."""
        if isinstance(fn, str):
            fn = self.program.function(fn)
        host = Frame(None, None, None, [None], None)
        self.stack.append(host)
        depth = len(self.stack)
        self.call(host, fn, list(args), 0, None)
        return depth

    def returned(self, depth: int):
        """The value of the call ``push_call`` started, once ``run(depth)`` is done."""
        host = self.stack.pop()
        assert len(self.stack) == depth - 1 and host.func is None, "the call has not returned"
        return host.locals[0]

    def invoke(self, fn, args=()):
        """Run ``fn(*args)`` to completion and return its value."""
        depth = self.push_call(fn, args)
        try:
            self.run(depth)
        except BaseException:
            del self.stack[depth - 1:]
            raise
        return self.returned(depth)

    # -- the run loop ------------------------------------------------------------------------
    def run(self, depth: int = 1, stop=None) -> bool:
        """Run blocks while the stack is deeper than ``depth``; with ``stop``,
        stop (and return False) before a block where ``stop(self)`` holds.
        Returns True when the stack came back to ``depth``."""
        stack = self.stack
        try:
            if stop is None:
                while len(stack) > depth:
                    F = stack[-1]
                    F.pc = F.code[F.pc](self, F, F.locals)
                return True
            while len(stack) > depth:
                if stop(self):
                    return False
                F = stack[-1]
                F.pc = F.code[F.pc](self, F, F.locals)
            return True
        except CFrontError as e:
            self._locate(e, sys.exc_info()[2])
            raise
        except RecursionError:
            raise
        except (AttributeError, TypeError, ZeroDivisionError) as e:
            fault = self._fault(e)
            self._locate(fault, sys.exc_info()[2])
            raise fault from e

    def _fault(self, e: Exception) -> CFrontError:
        text = str(e)
        if isinstance(e, ZeroDivisionError):
            return DriverFault("division by zero")
        if "'NoneType'" in text:
            return DriverFault("NULL pointer dereference")
        if isinstance(e, AttributeError) and "'f_" in text:
            return DriverFault(f"member access through a pointer of the wrong type ({text})")
        return Unsupported(f"operation on values of unexpected kinds ({type(e).__name__}: {text})")

    def _locate(self, err: CFrontError, tb) -> None:
        """Give an error the driver line of the innermost compiled block in the traceback."""
        if err.line is not None:
            return
        line = None
        name = self.program.codename
        while tb is not None:
            code = tb.tb_frame.f_code
            if code.co_filename == name:
                line = self.program.line_map.get(tb.tb_lineno, line)
            tb = tb.tb_next
        if line is None and self.stack and self.stack[-1].func is not None:
            F = self.stack[-1]
            line = F.func.block_lines[F.pc] if F.pc is not None else F.func.line
        if line is not None:
            err.file, err.line = str(self.program.path), line
            err.args = (str(err),)


__all__ = ["Machine", "Frame", "CFunction", "Builtin", "Loop", "StructObj", "SlotRef", "FieldRef", "UNINIT",
           "ListHead"]
