"""The seed driver's algorithm (vmw_balloon.c 1.2.1.3-k), written once over the
operations of model/ops.py. It describes exactly the seed, defects included.

Every function takes ``ops`` (the interpretation), ``b`` (a state.Balloon) and
``env`` (the driver's environment) and mirrors one C function. Values of the
driver go through ``ops``; decisions go through ``ops.cond``; the page lists
through ``ops.list_*`` (model/state.py). A loop whose iteration count is
data-dependent is one ``ops.loop(name, test, step, *args)`` in its runner
(``while test(...): if step(...): break``): the predictor runs it as a Python
loop (model/specialize.py inlines it), a prover summarises it by the loop
invariant registered under its name (model/proofs/loops.py), so both execute
the runners written here:

=====================  =====================  ================================================
runner (loop name)     step function          C
=====================  =====================  ================================================
``inflate``            ``inflate_begin``      vmballoon_inflate: goal, rate, locals before the for
("inflate")            ``inflate_attempt``    one pass of reserve_page's do/while body (one
                                              alloc_page) and, when reserve_page returns, the rest
                                              of inflate's for body and ``i++``; the test is the
                                              for's ``i < goal``
                       ``inflate_end``        inflate after the loop: rate_alloc increase
``release_refused_``   ``release_refused_``   one iteration of vmballoon_release_refused_pages
``pages`` ("release_   ``one``
refused")
``deflate``            ``deflate_begin``      vmballoon_deflate: goal = min(size - target, rate_free)
("deflate")            ``deflate_release``    one iteration of deflate's list walk (release_page)
                       ``deflate_end``        deflate after the loop: rate_free increase
``pop`` ("pop")        ``pop_one``            one iteration of vmballoon_pop
=====================  =====================  ================================================

Which C function each function mirrors, and which part of it, is data:
``C_FUNCTIONS`` at the end of this module (specs/traceability.md is generated
from it).

The environment ``env`` provides (concrete: model/environment.py; symbolic:
model/symbolic/env.py); each call is one observable event of specs/trace.md:

``x86_hyper_is_vmware() -> bool``, ``backdoor(cmd: int, arg) -> (status, result)``
(64-bit values), ``alloc_page(gfp: int) -> (ok, pfn)``, ``free_page(pfn)``,
``cond_resched()``, ``si_meminfo() -> totalram``, ``queue_delayed_work(delay)``,
``cancel_delayed_work_sync() -> bool``, ``printk(text)``,
``debugfs_create(mode, name) -> int`` (0 or -errno), ``debugfs_remove()``.

``pr_debug`` is compiled out in the seed (DEBUG is not defined), so it is not
modelled.
"""
from __future__ import annotations

from . import constants as C
from .state import Balloon, DeflateLoop, InflateLoop, PopLoop

# C int return codes of init (Python ints; the trace shows them as 64-bit two's complement)
EIO = -C.EIO
ENODEV = -C.ENODEV

MSG_START = C.KERN_ERR + C.KBUILD_MODNAME + ": failed to send start command to the host\n"
MSG_GUEST_ID = C.KERN_ERR + C.KBUILD_MODNAME + ": failed to send guest ID to the host\n"
MSG_DEBUGFS = C.KERN_ERR + C.KBUILD_MODNAME + ": failed to create debugfs entry, error: %d\n"


# --------------------------------------------------------------------------------
# Commands (vmballoon_send_*, vmballoon_check_status)
# --------------------------------------------------------------------------------
def check_status(ops, b: Balloon, status) -> bool:
    """vmballoon_check_status: SUCCESS -> true; ERROR_RESET -> reset_required =
    true, false; anything else -> false. ``status`` is the 64-bit eax value."""
    if ops.cond(ops.eq(status, ops.k.SUCCESS_64)):
        return True
    if ops.cond(ops.eq(status, ops.k.ERROR_RESET_64)):
        b.reset_required = ops.true
    return False


def send_start(ops, b: Balloon, env) -> bool:
    """vmballoon_send_start: START(PROTOCOL_VERSION). Only SUCCESS counts; not
    passed through check_status, so ERROR_RESET here does not set reset_required."""
    s = b.stats
    s.start = ops.add(s.start, ops.k.ONE)
    status, _ = env.backdoor(C.VMW_BALLOON_CMD_START, ops.k.PROTOCOL_VERSION_64)
    if ops.cond(ops.eq(status, ops.k.SUCCESS_64)):
        return True
    s.start_fail = ops.add(s.start_fail, ops.k.ONE)
    return False


def send_guest_id(ops, b: Balloon, env) -> bool:
    """vmballoon_send_guest_id: GUEST_ID(1); the counter is incremented after the call."""
    s = b.stats
    status, _ = env.backdoor(C.VMW_BALLOON_CMD_GUEST_ID, ops.k.GUEST_ID_64)
    s.guest_type = ops.add(s.guest_type, ops.k.ONE)
    if check_status(ops, b, status):
        return True
    s.guest_type_fail = ops.add(s.guest_type_fail, ops.k.ONE)
    return False


def send_get_target(ops, b: Balloon, env):
    """vmballoon_send_get_target -> (ok, new_target).

    si_meminfo, then ``limit = totalram``; if the limit does not fit in 32 bits
    the function returns false *without* a backdoor call and without counting.
    On success the 64-bit ebx result is truncated to u32 (``*new_target = target``)."""
    s = b.stats
    limit = env.si_meminfo()
    if not ops.cond(ops.fits32(limit)):
        return False, ops.k.ZERO
    s.target = ops.add(s.target, ops.k.ONE)
    status, result = env.backdoor(C.VMW_BALLOON_CMD_GET_TARGET, limit)
    if check_status(ops, b, status):
        return True, ops.trunc32(result)
    s.target_fail = ops.add(s.target_fail, ops.k.ONE)
    return False, ops.k.ZERO


def send_unlock_page(ops, b: Balloon, env, pfn) -> bool:
    """vmballoon_send_unlock_page: PFN >= 2**32 -> false without a call."""
    s = b.stats
    if not ops.cond(ops.fits32(pfn)):
        return False
    s.unlock = ops.add(s.unlock, ops.k.ONE)
    status, _ = env.backdoor(C.VMW_BALLOON_CMD_UNLOCK, pfn)
    if check_status(ops, b, status):
        return True
    s.unlock_fail = ops.add(s.unlock_fail, ops.k.ONE)
    return False


# --------------------------------------------------------------------------------
# Inflation (vmballoon_inflate + vmballoon_reserve_page + vmballoon_send_lock_page)
# --------------------------------------------------------------------------------
def inflate_begin(ops, b: Balloon) -> InflateLoop:
    """vmballoon_inflate up to the for loop:
    ``goal = target - size``; ``rate = slow_allocation_cycles ? rate_alloc : NOSLEEP_ALLOC_MAX``;
    i = 0, allocations = 0, error = 0, alloc_can_sleep = false."""
    goal = ops.sub(b.target, b.size)
    rate = ops.ite(ops.ne(b.slow_allocation_cycles, ops.k.ZERO), b.rate_alloc, ops.k.NOSLEEP_ALLOC_MAX)
    return InflateLoop(goal, rate, ops.k.ZERO, ops.k.ZERO, ops.k.ERR_OK, ops.false)


def inflate_continues(ops, b: Balloon, lv: InflateLoop, env):
    """The for-loop test ``i < goal`` (an ops bool)."""
    return ops.ult(lv.i, lv.goal)


def inflate_attempt(ops, b: Balloon, lv: InflateLoop, env) -> bool:
    """One allocation attempt; returns True when inflate's for loop is over.

    Flattens, for one ``alloc_page`` call:

    * vmballoon_reserve_page's do/while body: STATS alloc/sleep_alloc;
      ``alloc_page(flags)``; NULL -> alloc_fail/sleep_alloc_fail, ``-ENOMEM``.
      vmballoon_send_lock_page: ``(u32)pfn != pfn`` -> ``locked = -1`` *without a
      call*; else STATS lock, LOCK(pfn), ``hv_status = (u32)status``,
      check_status -> ``locked = 0``, else STATS lock_fail, ``locked = 1``.
      ``locked > 0``: STATS refused_alloc; hv_status RESET or PPN_NOTNEEDED ->
      ``__free_page``, ``-EIO``; else list_add to refused_pages and
      ``++n_refused_pages >= MAX_REFUSED`` -> ``-EIO``.
      ``while (locked != 0)``: locked == 1 below the refused limit retries,
      and so does ``locked == -1`` (defect: that page is neither listed nor
      freed; it is recorded in ``b.lost_pages``). Only ``locked == 0`` leaves
      the loop: list_add to pages, ``size++``, return 0.
      A retry returns False here without touching the loop variables: the
      next attempt continues the same do/while.
    * when reserve_page returned (``error`` set), the rest of the for body:
      error != -ENOMEM -> break; CANSLEEP -> ``rate_alloc = max(rate_alloc/2,
      RATE_ALLOC_MIN)``, break; NOSLEEP -> ``slow_allocation_cycles =
      SLOW_CYCLES``, ``i >= rate_alloc`` -> break, else switch to CANSLEEP with
      ``rate = rate_alloc`` and fall through (the failed attempt used up this
      ``i``); ``++allocations > YIELD_THRESHOLD`` -> cond_resched,
      allocations = 0; ``i >= rate`` -> break; ``i++``; loop test ``i < goal``.
    """
    s = b.stats
    can_sleep = lv.can_sleep
    if ops.cond(can_sleep):
        s.sleep_alloc = ops.add(s.sleep_alloc, ops.k.ONE)
        ok, pfn = env.alloc_page(C.VMW_PAGE_ALLOC_CANSLEEP)
    else:
        s.alloc = ops.add(s.alloc, ops.k.ONE)
        ok, pfn = env.alloc_page(C.VMW_PAGE_ALLOC_NOSLEEP)

    if not ops.cond(ok):
        if ops.cond(can_sleep):
            s.sleep_alloc_fail = ops.add(s.sleep_alloc_fail, ops.k.ONE)
        else:
            s.alloc_fail = ops.add(s.alloc_fail, ops.k.ONE)
        error = ops.k.ERR_ENOMEM
    elif not ops.cond(ops.fits32(pfn)):
        # locked == -1: `locked > 0` false, `locked != 0` true -> allocate again
        ops.list_add(b.lost_pages, pfn)
        return False
    else:
        s.lock = ops.add(s.lock, ops.k.ONE)
        status, _ = env.backdoor(C.VMW_BALLOON_CMD_LOCK, pfn)
        if check_status(ops, b, status):  # locked == 0
            ops.list_add(b.pages, pfn)  # list_add(&page->lru, &b->pages)
            b.size = ops.add(b.size, ops.k.ONE)
            error = ops.k.ERR_OK
        else:  # locked == 1
            s.lock_fail = ops.add(s.lock_fail, ops.k.ONE)
            s.refused_alloc = ops.add(s.refused_alloc, ops.k.ONE)
            hv_status = ops.trunc32(status)
            if ops.cond(ops.or_(ops.eq(hv_status, ops.k.ERROR_RESET), ops.eq(hv_status, ops.k.ERROR_PPN_NOTNEEDED))):
                env.free_page(pfn)
                error = ops.k.ERR_EIO
            else:
                ops.list_add(b.refused_pages, pfn)  # list_add(&page->lru, &b->refused_pages)
                b.n_refused_pages = ops.add(b.n_refused_pages, ops.k.ONE)
                if not ops.cond(ops.uge(b.n_refused_pages, ops.k.MAX_REFUSED)):
                    return False  # do/while: allocate another page
                error = ops.k.ERR_EIO

    # -- back in vmballoon_inflate's for body -----------------------------------
    lv.error = error
    if ops.cond(ops.ne(error, ops.k.ERR_OK)):
        if ops.cond(ops.ne(error, ops.k.ERR_ENOMEM)):
            return True  # not an allocation failure: stop this cycle
        if ops.cond(can_sleep):
            b.rate_alloc = ops.umax(ops.udiv(b.rate_alloc, ops.k.TWO), ops.k.RATE_ALLOC_MIN)
            return True
        b.slow_allocation_cycles = ops.k.SLOW_CYCLES
        if ops.cond(ops.uge(lv.i, b.rate_alloc)):
            return True
        lv.can_sleep = ops.true
        lv.rate = b.rate_alloc
    lv.allocations = ops.add(lv.allocations, ops.k.ONE)
    if ops.cond(ops.ugt(lv.allocations, ops.k.YIELD_THRESHOLD)):
        env.cond_resched()
        lv.allocations = ops.k.ZERO
    if ops.cond(ops.uge(lv.i, lv.rate)):
        return True  # we allocated enough pages, take a break
    lv.i = ops.add(lv.i, ops.k.ONE)
    return not ops.cond(ops.ult(lv.i, lv.goal))


def inflate_end(ops, b: Balloon, lv: InflateLoop) -> None:
    """After the for loop: ``error == 0 && i >= rate_alloc`` ->
    ``rate_alloc = min(rate_alloc + (i / rate_alloc) * RATE_ALLOC_INC, RATE_ALLOC_MAX)``.
    Note ``error`` is the last reserve_page result: a NOSLEEP failure in the
    last iteration leaves it -ENOMEM."""
    if ops.cond(ops.and_(ops.eq(lv.error, ops.k.ERR_OK), ops.uge(lv.i, b.rate_alloc))):
        mult = ops.udiv(lv.i, b.rate_alloc)
        b.rate_alloc = ops.umin(ops.add(b.rate_alloc, ops.mul(mult, ops.k.RATE_ALLOC_INC)), ops.k.RATE_ALLOC_MAX)


def refused_continues(ops, b: Balloon, env):
    """The walk's test: the refused list is not empty (an ops bool)."""
    return ops.not_(ops.list_empty(b.refused_pages))


def release_refused_one(ops, b: Balloon, env) -> None:
    """One iteration of vmballoon_release_refused_pages (from the head)."""
    s = b.stats
    pfn = ops.list_take(b.refused_pages)
    env.free_page(pfn)
    s.refused_free = ops.add(s.refused_free, ops.k.ONE)


def release_refused_pages(ops, b: Balloon, env) -> None:
    """vmballoon_release_refused_pages: free every refused page, n_refused_pages = 0."""
    ops.loop("release_refused", refused_continues, release_refused_one, b, env)
    b.n_refused_pages = ops.k.ZERO


def inflate(ops, b: Balloon, env) -> InflateLoop:
    """vmballoon_inflate (runner over the step functions). Returns the final loop locals."""
    lv = inflate_begin(ops, b)
    ops.loop("inflate", inflate_continues, inflate_attempt, b, lv, env)
    inflate_end(ops, b, lv)
    release_refused_pages(ops, b, env)
    return lv


# --------------------------------------------------------------------------------
# Deflation (vmballoon_deflate + vmballoon_release_page)
# --------------------------------------------------------------------------------
def deflate_begin(ops, b: Balloon) -> DeflateLoop:
    """``goal = min(size - target, rate_free)``, i = 0."""
    return DeflateLoop(ops.umin(ops.sub(b.size, b.target), b.rate_free), ops.k.ZERO, ops.false)


def deflate_continues(ops, b: Balloon, dl: DeflateLoop, env):
    """The walk's test: the balloon's list is not empty (an ops bool)."""
    return ops.not_(ops.list_empty(b.pages))


def deflate_release(ops, b: Balloon, dl: DeflateLoop, env) -> bool:
    """One iteration of deflate's walk over ``b->pages`` from the head:
    vmballoon_release_page (UNLOCK, then list_del, __free_page, STATS free,
    size--); on failure ``rate_free = max(rate_free/2, RATE_FREE_MIN)`` and
    return (``dl.returned``); then ``++i >= goal`` -> break.
    Returns True when the walk stops."""
    s = b.stats
    pfn = ops.list_head(b.pages)
    if not send_unlock_page(ops, b, env, pfn):
        b.rate_free = ops.umax(ops.udiv(b.rate_free, ops.k.TWO), ops.k.RATE_FREE_MIN)
        dl.returned = ops.true
        return True
    ops.list_take(b.pages)  # list_del(&page->lru)
    env.free_page(pfn)
    s.free = ops.add(s.free, ops.k.ONE)
    b.size = ops.sub(b.size, ops.k.ONE)
    dl.i = ops.add(dl.i, ops.k.ONE)
    return ops.cond(ops.uge(dl.i, dl.goal))


def deflate_end(ops, b: Balloon, dl: DeflateLoop) -> None:
    """Unless deflate returned early: ``rate_free = min(rate_free + INC, MAX)``."""
    if not ops.cond(dl.returned):
        b.rate_free = ops.umin(ops.add(b.rate_free, ops.k.RATE_FREE_INC), ops.k.RATE_FREE_MAX)


def deflate(ops, b: Balloon, env) -> DeflateLoop:
    """vmballoon_deflate (runner). The walk also ends when the list is empty."""
    dl = deflate_begin(ops, b)
    ops.loop("deflate", deflate_continues, deflate_release, b, dl, env)
    deflate_end(ops, b, dl)
    return dl


# --------------------------------------------------------------------------------
# Pop and reset
# --------------------------------------------------------------------------------
def pop_continues(ops, b: Balloon, pl: PopLoop, env):
    """The walk's test: the balloon's list is not empty (an ops bool)."""
    return ops.not_(ops.list_empty(b.pages))


def pop_one(ops, b: Balloon, pl: PopLoop, env) -> None:
    """One iteration of vmballoon_pop: free the head page without telling the
    host, STATS free, size--, ``++count >= rate_free`` -> count = 0, cond_resched."""
    s = b.stats
    pfn = ops.list_take(b.pages)
    env.free_page(pfn)
    s.free = ops.add(s.free, ops.k.ONE)
    b.size = ops.sub(b.size, ops.k.ONE)
    pl.count = ops.add(pl.count, ops.k.ONE)
    if ops.cond(ops.uge(pl.count, b.rate_free)):
        pl.count = ops.k.ZERO
        env.cond_resched()


def pop(ops, b: Balloon, env) -> None:
    """vmballoon_pop: release every page of the balloon, skipping the host."""
    pl = PopLoop(ops.k.ZERO)
    ops.loop("pop", pop_continues, pop_one, b, pl, env)


def reset(ops, b: Balloon, env) -> None:
    """vmballoon_reset: pop; START; on success clear reset_required and send
    GUEST_ID (its failure only logs)."""
    pop(ops, b, env)
    if send_start(ops, b, env):
        b.reset_required = ops.false
        if not send_guest_id(ops, b, env):
            env.printk(MSG_GUEST_ID)


# --------------------------------------------------------------------------------
# The work item, init and exit
# --------------------------------------------------------------------------------
def work(ops, b: Balloon, env) -> None:
    """vmballoon_work: STATS timer; reset if required; slow cycles decrement;
    GET_TARGET; on success ``target = new``, inflate if size < target, deflate
    if size > target; requeue with ``round_jiffies_relative(HZ)``."""
    b.stats.timer = ops.add(b.stats.timer, ops.k.ONE)
    if ops.cond(b.reset_required):
        reset(ops, b, env)
    if ops.cond(ops.ugt(b.slow_allocation_cycles, ops.k.ZERO)):
        b.slow_allocation_cycles = ops.sub(b.slow_allocation_cycles, ops.k.ONE)
    ok, target = send_get_target(ops, b, env)
    if ok:
        b.target = target
        if ops.cond(ops.ult(b.size, target)):
            inflate(ops, b, env)
        elif ops.cond(ops.ugt(b.size, target)):
            deflate(ops, b, env)
    env.queue_delayed_work(C.HZ)


def init(ops, b: Balloon, env, *, debugfs: bool = True) -> int:
    """vmballoon_init -> C int return code. ``debugfs``: CONFIG_DEBUG_FS."""
    if not ops.cond(env.x86_hyper_is_vmware()):
        return ENODEV
    b.pages = ops.list_init("pages")  # INIT_LIST_HEAD
    b.refused_pages = ops.list_init("refused_pages")
    b.rate_alloc = ops.k.RATE_ALLOC_MAX
    b.rate_free = ops.k.RATE_FREE_MAX
    if not send_start(ops, b, env):
        env.printk(MSG_START)
        return EIO
    if not send_guest_id(ops, b, env):
        env.printk(MSG_GUEST_ID)
        return EIO
    if debugfs:  # vmballoon_debugfs_init
        # debugfs_create_file's result, abstracted as 0 (a dentry) or -errno
        # (ERR_PTR(-errno)); IS_ERR() holds only for -MAX_ERRNO..-1.
        entry = env.debugfs_create(C.S_IRUGO, C.DEBUGFS_NAME)
        if -C.MAX_ERRNO <= entry <= -1:
            error = entry  # PTR_ERR
            env.printk(MSG_DEBUGFS % error)
            return error
    env.queue_delayed_work(0)
    return 0


def exit(ops, b: Balloon, env, *, debugfs: bool = True) -> None:  # noqa: A001 - the C name
    """vmballoon_exit: cancel the work, remove debugfs, START (result ignored), pop."""
    env.cancel_delayed_work_sync()
    if debugfs:
        env.debugfs_remove()
    send_start(ops, b, env)
    pop(ops, b, env)


# --------------------------------------------------------------------------------
# C function -> the model functions that mirror it, with the part of the C each
# covers. Plain names are functions of this module; "debugfs.show" is in
# model/debugfs.py. specs/traceability.md is generated from this table, and a
# test checks that every function of the seed is listed and every name exists.
# --------------------------------------------------------------------------------
C_FUNCTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "vmballoon_send_start": (("send_start", "whole"),),
    "vmballoon_check_status": (("check_status", "whole"),),
    "vmballoon_send_guest_id": (("send_guest_id", "whole"),),
    "vmballoon_send_get_target": (("send_get_target", "whole"),),
    "vmballoon_send_lock_page": (("inflate_attempt", "inlined: the PFN check, LOCK and its status"),),
    "vmballoon_send_unlock_page": (("send_unlock_page", "whole"),),
    "vmballoon_pop": (("pop", "the loop"), ("pop_continues", "the loop test"), ("pop_one", "one iteration")),
    "vmballoon_reset": (("reset", "whole"),),
    "vmballoon_reserve_page": (("inflate_attempt", "one pass of the do/while body (one alloc_page)"),),
    "vmballoon_release_page": (("deflate_release", "inlined: UNLOCK, then list_del, __free_page, size--"),),
    "vmballoon_release_refused_pages": (("release_refused_pages", "the loop and n_refused_pages = 0"),
                                        ("refused_continues", "the loop test"),
                                        ("release_refused_one", "one iteration")),
    "vmballoon_inflate": (("inflate", "the loop (runner over the step functions)"),
                          ("inflate_begin", "goal, rate, locals before the for"),
                          ("inflate_continues", "the for-loop test i < goal"),
                          ("inflate_attempt", "the for body after reserve_page returned, i++ and the loop test"),
                          ("inflate_end", "after the loop: the rate_alloc increase")),
    "vmballoon_deflate": (("deflate", "the walk (runner)"), ("deflate_begin", "goal = min(size - target, rate_free)"),
                          ("deflate_continues", "the walk's test"),
                          ("deflate_release", "one iteration of the walk"),
                          ("deflate_end", "after the walk: the rate_free increase")),
    "vmballoon_work": (("work", "whole"),),
    "vmballoon_debug_show": (("debugfs.show", "the whole text, byte for byte"),),
    "vmballoon_debug_open": (("debugfs.show", "single_open of vmballoon_debug_show (a debugfs step reads the file)"),),
    "vmballoon_debugfs_init": (("init", "inlined: debugfs_create_file and its error"),),
    "vmballoon_debugfs_exit": (("exit", "inlined: debugfs_remove"),),
    "vmballoon_init": (("init", "whole"),),
    "vmballoon_exit": (("exit", "whole"),),
}
