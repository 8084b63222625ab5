"""The symbolic environment of the spec: every answer a fresh variable named
after the call, every call recorded, the environment's policies as
hypotheses, and the ghost state the proofs need.

``SymbolicEnv(ops, b=..., policy=...)`` implements the environment interface
of model/algorithm.py. Answers: ``backdoor{n}.status`` / ``backdoor{n}.result``
(64-bit; the host answers in 32-bit registers, as specs/trace.md says, unless
``registers32=False``), ``alloc{n}.ok`` / ``alloc{n}.pfn``, ``totalram{n}``,
``hyper{n}``. Each call is recorded in ``env.calls`` as a ``Call`` (its
arguments, answers, the ghost state before it, the run's point, the spec
line that made it).

Ghost state (``env.ghost``, a state object like the spec's, so loops havoc it
with the loop's own state): the host's view, following model/monitors.py —
``pending`` (the host forgot the guest after a RESET and waits for START),
``locked`` (the PPNs it holds locked, a Z3 set: LOCK success adds, UNLOCK
success removes, a RESET reply or a successful START forgets them all) — and
64-bit counters of the calls made (``n_lock``, ``n_unlock``, ``n_alloc``,
``n_free``).

Policies (``Policy``) are hypotheses on the answers, each guarded by a flag
that is either a Python bool (the policy holds or not) or a free Z3 Bool
(``Policy.symbolic()``: one exploration serves every policy, and an
obligation selects a policy by adding its flag as a hypothesis):

* ``consistent``: while the host waits for START it answers every command but
  START ``ERROR_RESET`` (what a real host that forgot the guest does);
* ``host_benign``: every command succeeds, GET_TARGET returns the fixed
  target ``T``, totalram fits 32 bits;
* ``alloc_low``: PFNs fit 32 bits; ``alloc_benign``: allocations succeed with
  32-bit PFNs.

Always (a correct allocator): a page ``alloc_page`` returns is on none of the
driver's lists and not held locked by the host (when the env watches a
balloon ``b``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import z3

from .. import constants as K
from .explorer import Point, site_of_caller

M32P1 = 1 << 32


def _fits32(x):
    return z3.Extract(63, 32, x) == 0


class Ghost:
    """The host's view and the call counters (see the module doc)."""

    STATE_FIELDS = ("pending", "locked", "n_lock", "n_unlock", "n_alloc", "n_free")
    __slots__ = STATE_FIELDS

    def __init__(self, pending, locked, n_lock, n_unlock, n_alloc, n_free) -> None:
        self.pending, self.locked = pending, locked
        self.n_lock, self.n_unlock, self.n_alloc, self.n_free = n_lock, n_unlock, n_alloc, n_free

    @classmethod
    def fresh(cls, prefix: str = "host.") -> "Ghost":
        """Any host state, counters at 0."""
        z = z3.BitVecVal(0, 64)
        return cls(z3.Bool(prefix + "pending"), z3.Array(prefix + "locked", z3.BitVecSort(64), z3.BoolSort()),
                   z, z, z, z)

    @classmethod
    def idle(cls) -> "Ghost":
        """A host that holds nothing locked and does not wait for START."""
        z = z3.BitVecVal(0, 64)
        return cls(z3.BoolVal(False), z3.K(z3.BitVecSort(64), z3.BoolVal(False)), z, z, z, z)

    def copy(self) -> "Ghost":
        return Ghost(self.pending, self.locked, self.n_lock, self.n_unlock, self.n_alloc, self.n_free)

    def holds(self, pfn):
        """The host holds this PPN locked (a Z3 Bool)."""
        return z3.Select(self.locked, pfn)


@dataclass
class Policy:
    """Environment policies as flags (Python bools or Z3 Bools) and the fixed target T."""

    consistent: Any = False
    host_benign: Any = False
    alloc_low: Any = False
    alloc_benign: Any = False
    T: Any = None

    @classmethod
    def symbolic(cls) -> "Policy":
        return cls(z3.Bool("policy.consistent"), z3.Bool("policy.host_benign"), z3.Bool("policy.alloc_low"),
                   z3.Bool("policy.alloc_benign"), z3.BitVec("T", 32))

    @classmethod
    def named(cls, host: str = "any", alloc: str = "any") -> "Policy":
        return cls(consistent=host in ("consistent", "benign"), host_benign=host == "benign",
                   alloc_low=alloc in ("low", "benign"), alloc_benign=alloc == "benign",
                   T=z3.BitVec("T", 32) if host == "benign" else None)


@dataclass
class Call:
    """One recorded call. ``as_tuple()`` is the compact form
    ("backdoor", cmd, arg, status, result), ("alloc", gfp, ok, pfn),
    ("free", pfn), ... (indexing a Call indexes that tuple)."""

    kind: str
    args: tuple
    replies: tuple = ()
    name: str = ""
    ghost: Ghost | None = None  # before the call
    npages: Any = None  # length of the watched balloon's list before the call
    point: Point | None = None
    site: tuple = ("?", "?", 0)
    index: int = 0
    guard: Any = True  # the call happens only when this holds (merged loop exits)
    extra: dict = field(default_factory=dict)

    def as_tuple(self) -> tuple:
        return (self.kind, *self.args, *self.replies)

    def __getitem__(self, i):
        return self.as_tuple()[i]

    def __len__(self) -> int:
        return len(self.as_tuple())

    # named views
    @property
    def cmd(self):
        return self.args[0]

    @property
    def arg(self):
        return self.args[1]

    @property
    def status(self):
        return self.replies[0]

    @property
    def result(self):
        return self.replies[1]

    @property
    def gfp(self):
        return self.args[0]

    @property
    def ok(self):
        return self.replies[0]

    @property
    def pfn(self):
        return self.replies[1] if self.kind == "alloc" else self.args[0]


class SymbolicEnv:
    """An environment answering every call with fresh Z3 variables (module doc)."""

    STATE_FIELDS = ("ghost",)

    def __init__(self, ops, *, b=None, policy: Policy | None = None, ghost: Ghost | None = None,
                 hypervisor=None, debugfs_result: int = 0, registers32: bool = True, names: str = "") -> None:
        self.ops = ops
        self.b = b
        self.policy = policy or Policy()
        self.ghost = ghost or Ghost.idle()
        self.calls: list[Call] = []
        self.hypervisor = hypervisor
        self.debugfs_result = debugfs_result
        self.registers32 = registers32
        self.names = names
        self._n: dict[str, int] = {}

    def clone_fresh(self, ops, b=None, prefix: str = "ws.") -> "SymbolicEnv":
        """The same kind of environment over ``ops`` with any ghost state
        (for inferring what a loop writes)."""
        g = Ghost(z3.Bool(prefix + "pending"), z3.Array(prefix + "locked", z3.BitVecSort(64), z3.BoolSort()),
                  *(z3.BitVec(prefix + n, 64) for n in ("n_lock", "n_unlock", "n_alloc", "n_free")))
        return SymbolicEnv(ops, b=b, policy=self.policy, ghost=g, hypervisor=self.hypervisor,
                           debugfs_result=self.debugfs_result, registers32=self.registers32, names=prefix)

    # -- helpers -------------------------------------------------------------------------------
    def _name(self, what: str) -> str:
        n = self._n[what] = self._n.get(what, 0) + 1
        return f"{self.names}{what}{n}"

    def _assume(self, f, why: str) -> None:
        o = self.ops.oracle
        if o is not None and not (isinstance(f, bool) and f):
            o.assume(f, why)

    def _when(self, flag, f, why: str) -> None:
        """Assume ``flag ⇒ f`` (nothing when the flag is False)."""
        if flag is False or flag is None:
            return
        if flag is True:
            self._assume(f, why)
        else:
            self._assume(z3.Implies(flag, f), f"if {flag}: {why}")

    def _record(self, kind: str, args: tuple, replies: tuple = (), name: str = "") -> Call:
        o = self.ops.oracle
        c = Call(kind, args, replies, name, self.ghost.copy(),
                 self.b.pages.n if self.b is not None and hasattr(self.b.pages, "n") else None,
                 o.point() if o is not None and hasattr(o, "point") else None, site_of_caller(), len(self.calls))
        self.calls.append(c)
        if o is not None and hasattr(o, "observe"):
            o.observe("call", c)
        return c

    # -- hypervisor ------------------------------------------------------------------------------
    def x86_hyper_is_vmware(self):
        v = self.hypervisor if self.hypervisor is not None else self.ops.var_bool(self._name("hyper"))
        self._record("hyper", (), (v,))
        return v

    def backdoor(self, cmd: int, arg):
        n = self._name("backdoor")
        status, result = self.ops.var64(n + ".status"), self.ops.var64(n + ".result")
        if self.registers32:
            self._assume(z3.And(_fits32(status), _fits32(result)), "the host answers in 32-bit registers")
        p, g = self.policy, self.ghost
        if cmd != K.VMW_BALLOON_CMD_START:
            self._when(p.consistent, z3.Implies(g.pending, status == K.VMW_BALLOON_ERROR_RESET),
                       "consistent host: while it waits for START it answers ERROR_RESET")
        ok_v = status == K.VMW_BALLOON_SUCCESS
        benign = [ok_v]
        if cmd == K.VMW_BALLOON_CMD_GET_TARGET and p.T is not None:
            benign.append(result == z3.ZeroExt(32, p.T))
        self._when(p.host_benign, z3.And(*benign), "benign host: every command succeeds, the target is T")
        self._record("backdoor", (cmd, arg), (status, result), n)
        # the host's view (model/monitors.py)
        reset = status == K.VMW_BALLOON_ERROR_RESET
        locked = g.locked
        if cmd == K.VMW_BALLOON_CMD_LOCK:
            locked = z3.If(ok_v, z3.Store(locked, arg, True), locked)
            g.n_lock = g.n_lock + 1
        elif cmd == K.VMW_BALLOON_CMD_UNLOCK:
            locked = z3.If(ok_v, z3.Store(locked, arg, False), locked)
            g.n_unlock = g.n_unlock + 1
        empty = z3.K(z3.BitVecSort(64), z3.BoolVal(False))
        if cmd == K.VMW_BALLOON_CMD_START:
            g.locked = z3.If(z3.Or(ok_v, reset), empty, locked)
            g.pending = z3.And(z3.Not(ok_v), z3.Or(reset, g.pending))
        else:
            g.locked = z3.If(reset, empty, locked)
            g.pending = z3.Or(reset, g.pending)
        return status, result

    # -- allocator -------------------------------------------------------------------------------
    def alloc_page(self, gfp: int):
        n = self._name("alloc")
        ok, pfn = self.ops.var_bool(n + ".ok"), self.ops.var64(n + ".pfn")
        p, g = self.policy, self.ghost
        self._when(p.alloc_low, _fits32(pfn), "allocator of 32-bit PFNs")
        self._when(p.alloc_benign, z3.And(ok, _fits32(pfn)), "benign allocator: never fails, 32-bit PFNs")
        if self.b is not None and hasattr(self.b.pages, "members"):
            b = self.b
            fresh = [z3.Not(b.pages.contains(pfn)), z3.Not(b.refused_pages.contains(pfn)),
                     z3.Not(b.lost_pages.contains(pfn)), z3.Not(g.holds(pfn))]
            self._assume(z3.Implies(ok, z3.And(*fresh)),
                         "a correct allocator returns a page on none of the driver's lists, not held locked")
        self._record("alloc", (gfp,), (ok, pfn), n)
        g.n_alloc = g.n_alloc + 1
        return ok, pfn

    def free_page(self, pfn) -> None:
        self._record("free", (pfn,))
        self.ghost.n_free = self.ghost.n_free + 1

    # -- the rest of the kernel -----------------------------------------------------------------
    def cond_resched(self) -> None:
        self._record("cond_resched", ())

    def si_meminfo(self):
        v = self.ops.var64(self._name("totalram"))
        self._when(self.policy.host_benign, _fits32(v), "benign host: totalram fits 32 bits")
        self._record("si_meminfo", (), (v,))
        return v

    def queue_delayed_work(self, delay: int) -> None:
        self._record("queue_work", (delay,))

    def cancel_delayed_work_sync(self) -> bool:
        self._record("cancel_work", ())
        return True

    def debugfs_create(self, mode: int, name: str) -> int:
        self._record("debugfs_create", (mode, name))
        return self.debugfs_result

    def debugfs_remove(self) -> None:
        self._record("debugfs_remove", ())

    def printk(self, text: str) -> None:
        self._record("printk", (text,))
