"""The driver's state: ``struct vmballoon`` and ``struct vmballoon_stats``
(vmw_balloon.c), plus the kernel-side facts the trace depends on.

Values are ops values (model/ops.py): Python ints/bools concretely, Z3 terms
symbolically. The two page lists are Python lists of PFNs whose *head is the
last element*: ``list_add`` (insert at the head) is ``append``, and walking
"from the head" (list_for_each_entry_safe in pop, deflate,
release_refused_pages) goes from the end. They work with Z3 PFN terms too.
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


class Stats:
    """struct vmballoon_stats: every counter an ``unsigned int`` (STATS_INC wraps)."""

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

    ``pages``/``refused_pages``: PFN lists, head last (see module doc).
    ``lost_pages``: model-only record of pages the driver allocated and then
    neither listed nor freed (send_lock_page returned -1 for a PFN >= 2**32).
    """

    __slots__ = BALLOON_FIELDS + ("stats", "pages", "refused_pages", "lost_pages")

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
        self.pages: list = []
        self.refused_pages: list = []
        self.lost_pages: list = []

    @classmethod
    def symbolic(cls, ops, prefix: str = "b.") -> "Balloon":
        """A balloon whose every scalar is a fresh Z3 variable named prefix+field."""
        b = cls(ops)
        for f in BALLOON_FIELDS:
            if f == "reset_required":
                b.reset_required = ops.var_bool(prefix + f)
            else:
                setattr(b, f, ops.var32(prefix + f))
        b.stats = Stats.symbolic(ops, prefix + "stats.")
        return b

    def copy(self) -> "Balloon":
        b = Balloon.__new__(Balloon)
        for f in BALLOON_FIELDS:
            setattr(b, f, getattr(self, f))
        b.stats = Stats.__new__(Stats)
        for f in STAT_FIELDS:
            setattr(b.stats, f, getattr(self.stats, f))
        b.pages = list(self.pages)
        b.refused_pages = list(self.refused_pages)
        b.lost_pages = list(self.lost_pages)
        return b

    def summary(self) -> dict:
        """Scalars, list lengths and stats (cheap; for diagnostics)."""
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

    __slots__ = ("goal", "rate", "i", "allocations", "error", "can_sleep")

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
    """The locals of vmballoon_deflate: goal, i; ``returned`` is True once the
    function returned early on a release error (skipping the rate increase)."""

    __slots__ = ("goal", "i", "returned")

    def __init__(self, goal, i, returned=False) -> None:
        self.goal, self.i, self.returned = goal, i, returned


class PopLoop:
    """The local of vmballoon_pop: count."""

    __slots__ = ("count",)

    def __init__(self, count) -> None:
        self.count = count
