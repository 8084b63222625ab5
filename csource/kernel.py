"""The kernel as the interpreted driver sees it: the functions and variables
the analysis headers declare (csource/include/), implemented over the
scenario environment (model/algorithm.py's ``env`` interface) and the
machine's kernel-side state.

Every observable call goes to ``env`` exactly once, in the driver's order:
``alloc_page``, ``__free_page``, ``cond_resched``, ``si_meminfo``,
``queue_delayed_work``, ``cancel_delayed_work_sync``, ``printk``,
``debugfs_create_file``, ``debugfs_remove`` and the backdoor (the ``inl``
of the driver's inline asm, see ``backdoor``). Reading ``x86_hyper`` asks
``env.x86_hyper_is_vmware()``.

Pointers the kernel hands out are Python objects: a ``Page`` (its ``pfn`` is
what the allocator returned, its ``ok`` whether it is not NULL: an ops
boolean, so a symbolic allocation is a page whose NULL-ness is a Z3 term),
an ``ErrPtr`` (``ERR_PTR(-errno)``), a ``Dentry``, a workqueue, the
``HyperPtr`` that ``x86_hyper`` holds.
"""
from __future__ import annotations

from balloonspec.model import constants as C

from . import typesys as T
from .errors import DriverFault, Unsupported
from .lists import ListHead
from .printf import FormatError, format_c

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF


# -- kernel objects ----------------------------------------------------------------------


class Page:
    """A ``struct page`` from ``alloc_page``: ``lru`` is its list node."""

    __slots__ = ("f_lru", "pfn", "ok", "parent", "member")

    def __init__(self, pfn, ok) -> None:
        self.pfn, self.ok = pfn, ok
        self.f_lru = ListHead(self, "lru")
        self.parent = self.member = None

    def __repr__(self) -> str:
        return f"<page pfn={self.pfn!r}>"


class ErrPtr:
    """``ERR_PTR(error)``: a pointer that encodes an error number."""

    __slots__ = ("error",)

    def __init__(self, error: int) -> None:
        self.error = error

    def __repr__(self) -> str:
        return f"ERR_PTR({self.error})"


class HyperPtr:
    """The value of ``x86_hyper``: ``&x86_hyper_vmware`` iff ``is_vmware``, else NULL."""

    __slots__ = ("is_vmware",)

    def __init__(self, is_vmware) -> None:
        self.is_vmware = is_vmware


class KernelObject:
    """A kernel variable's address or a kernel-allocated object (by name)."""

    __slots__ = ("name", "wq_id")

    def __init__(self, name: str, wq_id: int | None = None) -> None:
        self.name, self.wq_id = name, wq_id

    def __repr__(self) -> str:
        return f"<{self.name}>"


VMWARE = KernelObject("x86_hyper_vmware")
# QUEUE_WORK's workqueue numbers (specs/trace.md)
WQ_OTHER, WQ_FREEZABLE, WQ_SYSTEM, WQ_PRIVATE_FREEZABLE, WQ_PRIVATE = 0, C.WQ_SYSTEM_FREEZABLE, 2, 3, 4
SYSTEM_FREEZABLE_WQ = KernelObject("system_freezable_wq", WQ_FREEZABLE)
SYSTEM_WQ = KernelObject("system_wq", WQ_SYSTEM)


class Dentry:
    """The debugfs file ``debugfs_create_file`` made: its data and fops."""

    __slots__ = ("name", "data", "fops")

    def __init__(self, name, data, fops) -> None:
        self.name, self.data, self.fops = name, data, fops


class KernelState:
    """What the kernel holds for the driver between calls: the queued delayed
    work, the debugfs file, the seq_files opened through single_open."""

    def __init__(self) -> None:
        self.queued = None  # the struct delayed_work queued, if any
        self.debugfs: Dentry | None = None
        self.seq: dict[int, list] = {}  # id(seq_file) -> [show function, text parts]


# -- helpers ---------------------------------------------------------------------------------


def concrete(ops, v, what: str) -> int:
    """A value the kernel needs as a number (a flag word, a delay). A
    symbolic value that can only be one of a few constants (``c ? A : B``)
    is split into cases through ``ops.cond``, so the path oracle explores each."""
    if isinstance(v, int):
        return v
    try:
        return ops.as_int(v)
    except ValueError:
        pass
    leaves = _ite_leaves(v)
    if leaves is None:
        raise Unsupported(f"{what} that is not a constant: {v}")
    for k in leaves[:-1]:
        if ops.cond(ops.eq(v, ops.u64(k) if v.size() == 64 else ops.u32(k))):
            return k
    return leaves[-1]


def _ite_leaves(term) -> list[int] | None:
    """The constants a nest of Z3 ``If`` terms can take, or None."""
    import z3

    out, stack = [], [z3.simplify(term)]
    while stack:
        t = stack.pop()
        if z3.is_bv_value(t):
            if t.as_long() not in out:
                out.append(t.as_long())
        elif z3.is_app_of(t, z3.Z3_OP_ITE):
            stack += [t.arg(2), t.arg(1)]
        else:
            return None
    return out


def nonnull(ops, p):
    """``p != NULL`` as an ops boolean."""
    if p is None:
        return ops.false
    t = type(p)
    if t is Page:
        return p.ok
    if t is HyperPtr:
        return p.is_vmware
    return ops.true


def ptr_eq(ops, a, b):
    """``a == b`` for two pointer values, as an ops boolean."""
    if a is b:
        return ops.true
    if a is None or b is None:
        return ops.not_(nonnull(ops, b if a is None else a))
    ta, tb = type(a), type(b)
    if ta is HyperPtr or tb is HyperPtr:
        h, o = (a, b) if ta is HyperPtr else (b, a)
        return h.is_vmware if o is VMWARE else (ops.not_(h.is_vmware) if o is None else ops.false)
    if hasattr(a, "same_as"):
        return ops.true if a.same_as(b) else ops.false
    return ops.false


def container_of(ptr, cls, member: str):
    """``container_of(ptr, type, member)``: the struct whose ``member`` ptr is."""
    if ptr is None:
        raise DriverFault("container_of of a NULL pointer")
    parent = getattr(ptr, "parent", None)
    if parent is None or getattr(ptr, "member", None) != member or (cls is not None and type(parent) is not cls):
        want = cls.__name__[2:] if cls is not None else "?"
        raise DriverFault(f"container_of: the pointer is not the {member} member of a struct {want}")
    return parent


def list_entry(head, node, member: str):
    """The entry a list node belongs to (the head itself marks the end)."""
    if node is head:
        return head
    if getattr(node, "member", None) != member:
        raise DriverFault(f"list entry is not linked through its {member} member")
    return node.parent


# -- the kernel functions (prototypes in csource/include) ---------------------------------------


def alloc_page(M, gfp):
    ok, pfn = M.env.alloc_page(concrete(M.ops, gfp, "allocation flags"))
    if ok is True:
        return Page(pfn, True)
    if ok is False:
        return None
    return Page(pfn, ok)  # symbolic: NULL iff not ok


def free_page(M, page):
    if type(page) is not Page:
        raise DriverFault(f"__free_page of {'NULL' if page is None else repr(page)}")
    M.env.free_page(page.pfn)


def page_to_pfn(M, page):
    if type(page) is not Page:
        raise DriverFault(f"page_to_pfn of {'NULL' if page is None else repr(page)}")
    return page.pfn


SYSINFO_FIELDS = ("uptime", "freeram", "sharedram", "bufferram", "totalswap", "freeswap", "procs",
                  "totalhigh", "freehigh", "mem_unit")


def si_meminfo(M, si):
    total = M.env.si_meminfo()
    si.f_totalram = total
    fields = getattr(M.env, "sysinfo_fields", None)
    values = fields() if fields else {}
    ops = M.ops
    for name in SYSINFO_FIELDS:
        v = values.get(name)
        ty = si.ctype.field_type(name)
        if v is None:
            setattr(si, "f_" + name, Unmodelled(f"sysinfo.{name}"))
        else:
            setattr(si, "f_" + name, ops.u64(v) if ty.rep == 64 else ops.u32(v & ty.mask))


def cond_resched(M):
    M.env.cond_resched()
    return M.ops.u32(0)


def queue_delayed_work(M, wq, dwork, delay):
    ops = M.ops
    delay = concrete(ops, delay, "a work delay")
    if wq is SYSTEM_FREEZABLE_WQ:
        M.env.queue_delayed_work(delay)
    else:
        on = getattr(M.env, "queue_delayed_work_on", None)
        if on is None or not isinstance(wq, KernelObject) or wq.wq_id is None:
            raise Unsupported(f"queue_delayed_work on {wq!r} (this environment records system_freezable_wq only)")
        on(wq.wq_id, delay)
    k = M.kstate
    if k.queued is dwork:
        return ops.false
    if k.queued is not None:
        raise DriverFault("a second delayed work item was queued")
    k.queued = dwork
    return ops.true


def cancel_delayed_work_sync(M, dwork):
    was = M.env.cancel_delayed_work_sync()
    if M.kstate.queued is dwork:
        M.kstate.queued = None
    return M.ops.true if was else M.ops.false


def round_jiffies_relative(M, j):
    return j


def create_freezable_workqueue(M, name):
    return KernelObject(f"workqueue {name}", WQ_PRIVATE_FREEZABLE)


def destroy_workqueue(M, wq):
    return None


def debugfs_create_file(M, name, mode, parent, data, fops):
    result = M.env.debugfs_create(concrete(M.ops, mode, "a file mode"), name)
    if result == 0:
        d = M.kstate.debugfs = Dentry(name, data, fops)
        return d
    return ErrPtr(result)


def debugfs_remove(M, dentry):
    M.env.debugfs_remove()
    if dentry is M.kstate.debugfs:
        M.kstate.debugfs = None


def _text(M, fmt: str, args) -> str:
    ops = M.ops
    values = []
    for v, ty in args:
        if isinstance(v, str) or not isinstance(ty, T.Int):
            values.append((v, ty))
            continue
        try:
            n = v if isinstance(v, int) else ops.as_int(v)
        except ValueError:
            raise Unsupported(f"printing a symbolic value ({v})") from None
        values.append((n, ty))
    try:
        return format_c(fmt, values)
    except FormatError as e:
        raise Unsupported(f"printf format {fmt!r}: {e}") from None


def printk(M, fmt, args):
    text = _text(M, fmt, args)
    M.env.printk(text)
    return M.ops.u32(len(text.encode()))


def seq_printf(M, m, fmt, args):
    state = M.kstate.seq.get(id(m))
    if state is None:
        raise DriverFault("seq_printf on a seq_file that single_open did not make")
    state[1].append(_text(M, fmt, args))


def single_open(M, file, show, data):
    m = M.new_struct("seq_file")
    m.f_private = data
    M.kstate.seq[id(m)] = [show, []]
    file.f_private_data = m
    return M.ops.u32(0)


def single_release(M, inode, file):
    M.kstate.seq.pop(id(file.f_private_data), None)
    file.f_private_data = None
    return M.ops.u32(0)


def seq_read(M, file, buf, size, ppos):
    raise Unsupported("seq_read called by the driver")


def seq_lseek(M, file, offset, whence):
    raise Unsupported("seq_lseek called by the driver")


def init_list_head(M, head):
    M.lists.init(head)


def list_add(M, new, head):
    M.lists.add(new, head)


def list_add_tail(M, new, head):
    M.lists.add_tail(new, head)


def list_del(M, entry):
    M.lists.delete(entry)


def list_empty(M, head):
    ops = M.ops
    return ops.ite(M.lists.empty(head), ops.u32(1), ops.u32(0))


def err_ptr(M, error):
    e = concrete(M.ops, error, "ERR_PTR's error")
    e = e - (1 << 64) if e >> 63 else e
    return None if e == 0 else ErrPtr(e)


def _is_err(p) -> bool:
    return type(p) is ErrPtr and -C.MAX_ERRNO <= p.error <= -1


def is_err(M, p):
    return M.ops.true if _is_err(p) else M.ops.false


def is_err_or_null(M, p):
    ops = M.ops
    return ops.true if _is_err(p) else ops.not_(nonnull(ops, p))


def ptr_err(M, p):
    if type(p) is ErrPtr:
        return M.ops.u64(p.error & M64)
    if p is None:
        return M.ops.u64(0)
    raise Unsupported("PTR_ERR of a valid pointer (its address)")


FUNCTIONS = {
    "alloc_page": alloc_page,
    "__free_page": free_page,
    "page_to_pfn": page_to_pfn,
    "si_meminfo": si_meminfo,
    "cond_resched": cond_resched,
    "queue_delayed_work": queue_delayed_work,
    "cancel_delayed_work_sync": cancel_delayed_work_sync,
    "round_jiffies_relative": round_jiffies_relative,
    "create_freezeable_workqueue": create_freezable_workqueue,
    "create_freezable_workqueue": create_freezable_workqueue,
    "destroy_workqueue": destroy_workqueue,
    "debugfs_create_file": debugfs_create_file,
    "debugfs_remove": debugfs_remove,
    "debugfs_remove_recursive": debugfs_remove,
    "printk": printk,
    "seq_printf": seq_printf,
    "single_open": single_open,
    "single_release": single_release,
    "seq_read": seq_read,
    "seq_lseek": seq_lseek,
    "INIT_LIST_HEAD": init_list_head,
    "list_add": list_add,
    "list_add_tail": list_add_tail,
    "list_del": list_del,
    "list_empty": list_empty,
    "ERR_PTR": err_ptr,
    "IS_ERR": is_err,
    "IS_ERR_OR_NULL": is_err_or_null,
    "PTR_ERR": ptr_err,
}


# -- kernel variables ----------------------------------------------------------------------------


def read_x86_hyper(M):
    return HyperPtr(M.env.x86_hyper_is_vmware())


def read_x86_hyper_type(M):
    ops = M.ops
    return ops.ite(M.env.x86_hyper_is_vmware(), ops.u32(1), ops.u32(0))  # X86_HYPER_VMWARE = 1


VARIABLES = {  # name -> reader (M) -> value
    "x86_hyper": read_x86_hyper,
    "x86_hyper_type": read_x86_hyper_type,
    "system_freezable_wq": lambda M: SYSTEM_FREEZABLE_WQ,
    "system_wq": lambda M: SYSTEM_WQ,
}
ADDRESSES = {"x86_hyper_vmware": VMWARE}  # kernel objects the driver only takes the address of


class Unmodelled:
    """A value the environment does not provide: any use is an error naming it."""

    __slots__ = ("what",)

    def __init__(self, what: str) -> None:
        self.what = what

    def _fail(self, *a):
        raise Unsupported(f"{self.what} is not provided by this environment")

    __add__ = __radd__ = __sub__ = __rsub__ = __and__ = __rand__ = __or__ = __ror__ = _fail
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __bool__ = __int__ = __index__ = _fail
    __hash__ = None  # type: ignore[assignment]


# -- the backdoor ---------------------------------------------------------------------------------


def backdoor(M, eax, ecx, edx, ebx):
    """``inl %dx`` with the given registers (each an unsigned long):
    ``env.backdoor(cmd, arg)`` when eax holds the magic and dx the port,
    else ``env.backdoor_raw(magic, cmd, arg, port)`` (the host ignores a call
    it cannot recognise). Returns the registers after the call
    (eax, ebx, ecx, edx): status, result, and ecx/edx unchanged."""
    ops = M.ops
    magic = concrete(ops, ops.trunc32(eax), "a backdoor magic")
    port = concrete(ops, edx, "a backdoor port") & 0xFFFF
    cmd = concrete(ops, ops.trunc32(ecx), "a backdoor command")
    if magic == C.VMW_BALLOON_HV_MAGIC and port == C.VMW_BALLOON_HV_PORT:
        status, result = M.env.backdoor(cmd, ebx)
    else:
        raw = getattr(M.env, "backdoor_raw", None)
        if raw is None:
            raise Unsupported(f"backdoor call with magic {magic:#x} and port {port:#x} "
                              "(this environment answers the balloon's magic and port only)")
        status, result = raw(magic, cmd, ebx, port)
    return status, result, ecx, edx
