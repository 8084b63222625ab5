"""The driver's state: ``struct vmballoon`` and ``struct vmballoon_stats``
(vmw_balloon.c), plus the kernel-side facts the trace depends on.

Values are ops values (model/ops.py): Python ints/bools concretely, Z3 terms
symbolically. Every state class lists its state in ``STATE_FIELDS`` (the
symbolic engine snapshots, havocs and merges state through it).

Page lists
----------
The driver's two page lists (``struct list_head pages, refused_pages``) are
used through five operations, always called through ``ops`` so that both
interpretations share the algorithm's text:

==========================  ==========================================  ==================
ops                         C                                           concrete (list)
==========================  ==========================================  ==================
``ops.list_init(name)``     ``INIT_LIST_HEAD(l)``                       ``[]``
``ops.list_add(l, pfn)``    ``list_add(&page->lru, l)`` (at the head)   ``l.append(pfn)``
``ops.list_head(l)``        ``list_first_entry(l, ...)``                ``l[-1]``
``ops.list_take(l)``        ``list_first_entry`` + ``list_del``         ``l.pop()``
``ops.list_tail(l)``        ``list_last_entry(l, ...)``                 ``l[0]``
``ops.list_empty(l)``       ``list_empty(l)`` (an ops bool)             ``not l``
==========================  ==========================================  ==================

A walk (``list_for_each_entry_safe`` from the head, deleting as it goes) is a
loop (``ops.loop``) whose step takes the head. Concretely a list is a Python
list whose **head is the last element** (model/specialize.py inlines the
column on the right). Symbolically it is a ``SymbolicList``: the pages in
order as a Z3 array ``arr`` over positions ``0 .. n-1`` (position ``n-1`` is
the head, 0 the tail), so head, tail and every page between are distinct
terms, plus two ghost components that make the facts the proofs need
quantifier-free: ``pos`` (the position of each listed page) and ``members``
(the set of listed pages, a Z3 set ``IsSubset``/``SetIntersect`` work on).
Its representation invariant (checked once, for all lists, by the PAGE-LISTS
entry of the catalogue) is::

    RI(L):  for all j < n:  pos[arr[j]] == j  and  members[arr[j]]  and  elem(arr[j])
            for all p:      members[p]  ==>  pos[p] < n  and  arr[pos[p]] == p

so listed pages are distinct. ``list_add(x)`` keeps RI when ``x`` is not listed
and satisfies the list's element invariant ``elem`` (``ELEMENT_INVARIANTS``:
a page on ``b->pages`` was LOCKed, so its PFN fits 32 bits); a read of
position ``k < n`` may assume RI at ``k``. The symbolic implementation does
exactly that: ``add`` records the claim (an obligation of every proof), a
read assumes the instance; no quantifier reaches the solver.
"""
from __future__ import annotations

STAT_FIELDS = (
    "timer",
    "alloc", "alloc_fail", "sleep_alloc", "sleep_alloc_fail",
    "refused_alloc", "refused_free", "free",
    "lock", "lock_fail", "unlock", "unlock_fail",
    "target", "target_fail", "start", "start_fail",
    "guest_type", "guest_type_fail",
)  # struct vmballoon_stats, in declaration order (18 unsigned int counters)

BALLOON_FIELDS = (
    "n_refused_pages", "size", "target", "reset_required",
    "rate_alloc", "rate_free", "slow_allocation_cycles",
)  # the scalar members of struct vmballoon

LISTS = ("pages", "refused_pages", "lost_pages")


def _z3():
    import z3  # only symbolic runs need it; the predictor never imports it

    return z3


def _fits32(x):
    return _z3().Extract(63, 32, x) == 0


# Element invariants of the lists, by list name (proof annotations): a page is
# put on b->pages only after its LOCK succeeded, which needs a 32-bit PFN.
ELEMENT_INVARIANTS = {"pages": ("its PFN fits 32 bits", _fits32)}


class SymbolicList:
    """A page list for Z3 (see the module doc): ``arr`` (Array BV32 -> BV64),
    ``n`` (BV32), ``pos`` (Array BV64 -> BV32), ``members`` (Array BV64 ->
    Bool). ``record_only`` lists (the model-only ``lost_pages``) keep their
    length and members and are never read."""

    STATE_FIELDS = ("arr", "n", "pos", "members")
    __slots__ = ("name", "record_only") + STATE_FIELDS

    def __init__(self, name: str, arr, n, pos, members, record_only: bool = False) -> None:
        self.name, self.record_only = name, record_only
        self.arr, self.n, self.pos, self.members = arr, n, pos, members

    @classmethod
    def new(cls, name: str) -> "SymbolicList":
        """An empty list (INIT_LIST_HEAD)."""
        z3 = _z3()
        bv32, bv64 = z3.BitVecSort(32), z3.BitVecSort(64)
        return cls(name, z3.K(bv32, z3.BitVecVal(0, 64)), z3.BitVecVal(0, 32), z3.K(bv64, z3.BitVecVal(0, 32)),
                   z3.K(bv64, z3.BoolVal(False)), record_only=name == "lost_pages")

    @classmethod
    def fresh(cls, name: str, prefix: str = "") -> "SymbolicList":
        """Any list (every component a fresh Z3 constant named prefix+name+'.'+component)."""
        z3 = _z3()
        bv32, bv64 = z3.BitVecSort(32), z3.BitVecSort(64)
        p = prefix + name + "."
        return cls(name, z3.Array(p + "arr", bv32, bv64), z3.BitVec(p + "n", 32), z3.Array(p + "pos", bv64, bv32),
                   z3.Array(p + "members", bv64, z3.BoolSort()), record_only=name == "lost_pages")

    def copy(self) -> "SymbolicList":
        return SymbolicList(self.name, self.arr, self.n, self.pos, self.members, self.record_only)

    # -- what the proofs state about a list --------------------------------------------
    def contains(self, x):
        """x is on the list (a Z3 Bool; exact under RI)."""
        return _z3().Select(self.members, x)

    def item(self, k):
        """The page at position k (0 the tail, n-1 the head)."""
        return _z3().Select(self.arr, k)

    def is_empty(self):
        return self.n == 0

    def facts(self) -> list:
        """Quantifier-free consequences of RI that hold of any list (assumed
        where a list is any list: a fresh or havocked one)."""
        z3 = _z3()
        if self.record_only:
            return []
        return [z3.Implies(self.n == 0, self.members == z3.EmptySet(z3.BitVecSort(64)))]

    # -- the list operations (called by Z3Ops) --------------------------------------------
    def _read(self, ops, k, what: str):
        z3 = _z3()
        if self.record_only:
            raise TypeError(f"{self.name} is a record-only list")
        x = z3.Select(self.arr, k)
        _claim(ops, "list", f"{what} of {self.name} reads a non-empty list", z3.UGT(self.n, 0))
        inst = [z3.Select(self.members, x), z3.Select(self.pos, x) == k]
        if self.name in ELEMENT_INVARIANTS:
            inst.append(ELEMENT_INVARIANTS[self.name][1](x))
        _assume(ops, z3.Implies(z3.ULT(k, self.n), z3.And(*inst)), f"list representation invariant of {self.name}")
        return x

    def head(self, ops):
        return self._read(ops, self.n - 1, "list_first_entry")

    def tail(self, ops):
        return self._read(ops, _z3().BitVecVal(0, 32), "list_last_entry")

    def take(self, ops):
        x = self._read(ops, self.n - 1, "list_del of the head")
        self.n = self.n - 1
        self.members = _z3().Store(self.members, x, False)
        return x

    def add(self, ops, x) -> None:
        z3 = _z3()
        if not self.record_only:
            _claim(ops, "list", f"list_add to {self.name}: the page is not on it", z3.Not(self.contains(x)))
            _claim(ops, "list", f"list_add to {self.name}: the length does not wrap",
                   self.n != z3.BitVecVal(0xFFFFFFFF, 32))
            if self.name in ELEMENT_INVARIANTS:
                what, inv = ELEMENT_INVARIANTS[self.name]
                _claim(ops, "list", f"list_add to {self.name}: {what}", inv(x))
            self.arr = z3.Store(self.arr, self.n, x)
            self.pos = z3.Store(self.pos, x, self.n)
        self.members = z3.Store(self.members, x, True)
        self.n = self.n + 1


def _claim(ops, kind: str, text: str, f) -> None:
    o = getattr(ops, "oracle", None)
    if o is not None and hasattr(o, "claim"):
        o.claim(kind, text, f)


def _assume(ops, f, why: str) -> None:
    o = getattr(ops, "oracle", None)
    if o is not None:
        o.assume(f, why)


class Stats:
    """struct vmballoon_stats: every counter an ``unsigned int`` (STATS_INC wraps)."""

    STATE_FIELDS = STAT_FIELDS
    __slots__ = STAT_FIELDS

    def __init__(self, ops, values: dict | None = None) -> None:
        z = ops.k.ZERO
        for f in STAT_FIELDS:
            setattr(self, f, z)
        for f, v in (values or {}).items():
            setattr(self, f, v)

    @classmethod
    def symbolic(cls, ops, prefix: str = "stats.") -> "Stats":
        return cls(ops, {f: ops.var32(prefix + f) for f in STAT_FIELDS})

    def as_dict(self) -> dict:
        return {f: getattr(self, f) for f in STAT_FIELDS}


class Balloon:
    """struct vmballoon (a static, so zero-initialised when the module loads).

    ``pages``/``refused_pages``: page lists (see the module doc).
    ``lost_pages``: model-only record of pages the driver allocated and then
    neither listed nor freed (send_lock_page returned -1 for a PFN >= 2**32).
    """

    STATE_FIELDS = BALLOON_FIELDS + ("stats",) + LISTS
    __slots__ = STATE_FIELDS

    def __init__(self, ops) -> None:
        z = ops.k.ZERO
        self.n_refused_pages = z
        self.size = z
        self.target = z
        self.reset_required = ops.false
        self.rate_alloc = z
        self.rate_free = z
        self.slow_allocation_cycles = z
        self.stats = Stats(ops)
        self.pages = ops.list_init("pages")
        self.refused_pages = ops.list_init("refused_pages")
        self.lost_pages = ops.list_init("lost_pages")

    @classmethod
    def symbolic(cls, ops, prefix: str = "b.") -> "Balloon":
        """A balloon whose every scalar is a fresh Z3 variable named prefix+field
        and whose lists are any lists (SymbolicList.fresh)."""
        b = cls(ops)
        for f in BALLOON_FIELDS:
            if f == "reset_required":
                b.reset_required = ops.var_bool(prefix + f)
            else:
                setattr(b, f, ops.var32(prefix + f))
        b.stats = Stats.symbolic(ops, prefix + "stats.")
        for name in LISTS:
            setattr(b, name, SymbolicList.fresh(name, prefix))
        return b

    def copy(self) -> "Balloon":
        b = Balloon.__new__(Balloon)
        for f in BALLOON_FIELDS:
            setattr(b, f, getattr(self, f))
        b.stats = Stats.__new__(Stats)
        for f in STAT_FIELDS:
            setattr(b.stats, f, getattr(self.stats, f))
        for name in LISTS:
            setattr(b, name, getattr(self, name).copy())
        return b

    def summary(self) -> dict:
        """Scalars, list lengths and stats (cheap; for diagnostics; concrete)."""
        d = {f: getattr(self, f) for f in BALLOON_FIELDS}
        d["pages"] = len(self.pages)
        d["refused"] = len(self.refused_pages)
        d["lost"] = len(self.lost_pages)
        d["stats"] = self.stats.as_dict()
        return d

    def pages_head_first(self) -> list:
        return self.pages[::-1]


class Kernel:
    """The kernel-side state the driver acts on (not part of struct vmballoon):
    the delayed work item, the debugfs file, whether the module is loaded."""

    __slots__ = ("work_pending", "debugfs_present", "module_loaded")

    def __init__(self) -> None:
        self.work_pending = False
        self.debugfs_present = False
        self.module_loaded = False

    def summary(self) -> dict:
        return {f: getattr(self, f) for f in self.__slots__}


class InflateLoop:
    """The locals of vmballoon_inflate: goal, rate, i, allocations, error,
    alloc_can_sleep (error as a 32-bit two's-complement C int)."""

    STATE_FIELDS = ("goal", "rate", "i", "allocations", "error", "can_sleep")
    __slots__ = STATE_FIELDS

    def __init__(self, goal, rate, i, allocations, error, can_sleep) -> None:
        self.goal, self.rate, self.i = goal, rate, i
        self.allocations, self.error, self.can_sleep = allocations, error, can_sleep

    @classmethod
    def symbolic(cls, ops, prefix: str = "lv.") -> "InflateLoop":
        v = ops.var32
        return cls(v(prefix + "goal"), v(prefix + "rate"), v(prefix + "i"),
                   v(prefix + "allocations"), v(prefix + "error"), ops.var_bool(prefix + "can_sleep"))

    def as_dict(self) -> dict:
        return {f: getattr(self, f) for f in self.__slots__}


class DeflateLoop:
    """The locals of vmballoon_deflate: goal, i; ``returned`` (an ops bool) is
    true once the function returned early on a release error (skipping the
    rate increase)."""

    STATE_FIELDS = ("goal", "i", "returned")
    __slots__ = STATE_FIELDS

    def __init__(self, goal, i, returned) -> None:
        self.goal, self.i, self.returned = goal, i, returned

    @classmethod
    def symbolic(cls, ops, prefix: str = "dl.") -> "DeflateLoop":
        return cls(ops.var32(prefix + "goal"), ops.var32(prefix + "i"), ops.var_bool(prefix + "returned"))


class PopLoop:
    """The local of vmballoon_pop: count."""

    STATE_FIELDS = ("count",)
    __slots__ = STATE_FIELDS

    def __init__(self, count) -> None:
        self.count = count

    @classmethod
    def symbolic(cls, ops, prefix: str = "pl.") -> "PopLoop":
        return cls(ops.var32(prefix + "count"))
