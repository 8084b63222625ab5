"""The concrete interpretation of a Scenario: the driver's environment as the
backends provide it (specs/trace.md), recording the events the driver causes.

* host: ``host_rule``s first (first match in file order wins; counted per
  command, per scope: the whole run or one step), else the default host
  (protocol.ScriptedHost). Any reply updates the host state
  (ScriptedHost.observe) *after* masking: the host answers in the 32-bit
  registers eax/ebx, so a rule's STATUS/RESULT and the target are taken modulo
  2**32 (``register_bits=32``, both backends; 64 models a host writing
  rax/rbx whole).
* allocator: ``alloc_rule``s (counted per GFP value, rules with GFP 0 count all
  allocations, per scope), else success with PFN ``pfn_base + k`` for the k-th
  sequentially numbered allocation (rule-given PFNs and failures take no number).
* frees are checked against the pages handed out (ok / double / foreign).
* si_meminfo returns the scenario's totalram (``set_totalram`` changes it).
* workqueue, debugfs, printk: recorded; their kernel-side state is a state.Kernel.
"""
from __future__ import annotations

from balloonspec.model.trace import Kind

from . import constants as C
from .protocol import ScriptedHost
from .scenario import Scenario
from .state import Kernel

M64 = 0xFFFFFFFFFFFFFFFF

# event kinds (specs/trace.md) as plain ints: the predictor's hot path appends tuples of them
(BACKDOOR, ALLOC, FREE, COND_RESCHED, QUEUE_WORK, CANCEL_WORK, SI_MEMINFO, DEBUGFS_CREATE, DEBUGFS_READ,
 DEBUGFS_REMOVE, INIT, EXIT, PRINTK, WORK_RUN, STEP, ACCOUNT) = (int(k) for k in Kind)
FREE_OK, FREE_DOUBLE, FREE_FOREIGN = 0, 1, 2
FREED = -1


class RulePage(int):
    """The PFN of a page an alloc rule handed out, carrying its page id: two
    pages may share a rule-given PFN, and the allocator tells them apart (the
    driver holds ``struct page *``, not PFNs). Behaves as the int PFN."""

    page: int

_RESCHED_EVENT = (COND_RESCHED, 0, 0, 0, 0, 0, 0)
_SI_EVENT = (SI_MEMINFO, 0, 0, 0, 0, 0, 0)
_MAGIC = C.VMW_BALLOON_HV_MAGIC
_PORT = C.VMW_BALLOON_HV_PORT & 0xFFFF


class ModelLimitExceeded(RuntimeError):
    """The prediction exceeded its event budget (e.g. the driver loops forever
    allocating pages with PFNs >= 2**32)."""


class StopPrediction(Exception):
    """Raised by the event list when the requested stop index is reached."""


class StoppingList(list):
    """An event list that stops the run when it reaches ``limit`` events."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def append(self, e) -> None:  # noqa: D102
        if len(self) >= self.limit:
            raise StopPrediction
        super().append(e)


def _u64(v: int) -> int:
    return v & M64


class Environment:
    """Concrete environment of one scenario run. ``events`` is the trace."""

    def __init__(self, scenario: Scenario, *, max_events: int = 10_000_000, events: list | None = None,
                 register_bits: int = 32) -> None:
        self.scenario = scenario
        self.reg_mask = REGISTER_MASK = (1 << register_bits) - 1
        self.events: list = [] if events is None else events
        self.max_events = max_events
        self.host = ScriptedHost(target=scenario.target)
        self.kernel = Kernel()
        self.totalram = scenario.sysinfo.totalram
        self.step_index = -1
        # host rules by command: [(scope, nth, last, status, result|None)]
        self._host_rules: dict[int, list] = {}
        for r in scenario.host_rules:
            self._host_rules.setdefault(r.cmd, []).append(
                (r.scope, r.nth, r.nth + r.count - 1, r.status & REGISTER_MASK,
                 None if r.result is None else r.result & REGISTER_MASK))
        self._host_run: dict[int, int] = {}
        self._host_step: dict[int, int] = {}
        self._alloc_rules = [(a.gfp, a.scope, a.nth, a.nth + a.count - 1, a.fail, a.pfn) for a in scenario.alloc_rules]
        self._alloc_run: dict[int, int] = {}  # gfp -> count; key 0: all allocations
        self._alloc_step: dict[int, int] = {}
        # allocator bookkeeping, page by page as the userspace pool does it
        # (driver/userspace/pool.c): page ids in allocation order; a page is
        # host-locked iff its lock epoch equals the current epoch (a successful
        # START starts a new epoch); LOCK/UNLOCK(pfn) act on the newest page
        # a rule gave that PFN, else on the sequential page with that PFN.
        self.pfn_base = scenario.pfn_base
        # page id -> FREED (-1) or, while held, the epoch of its last LOCK (0: unlocked)
        self.page_lock: list[int] = []
        self.epoch = 1
        self.seq_page: list[int] = []  # k -> page id of the k-th sequential page
        self.rule_page: dict[int, int] = {}  # PFN -> newest page id a rule gave it
        self.freed_ok = 0
        self.bad_frees = 0

    @property
    def allocated(self) -> int:
        return len(self.page_lock)

    def page_id(self, pfn) -> int:
        """The page a PFN handed out by alloc_page denotes (-1: none)."""
        if type(pfn) is RulePage:
            return pfn.page
        k = pfn - self.pfn_base
        return self.seq_page[k] if 0 <= k < len(self.seq_page) else -1

    def _lookup(self, pfn: int) -> int:
        """pool.c lookup(): the page LOCK/UNLOCK(pfn) acts on (-1: none)."""
        i = self.rule_page.get(pfn)
        if i is not None:
            return i
        k = pfn - self.pfn_base
        return self.seq_page[k] if 0 <= k < len(self.seq_page) else -1

    # -- steps ---------------------------------------------------------------------
    def begin_step(self, index: int) -> None:
        self.step_index = index
        self._host_step.clear()
        self._alloc_step.clear()

    # -- hypervisor --------------------------------------------------------------------
    def x86_hyper_is_vmware(self) -> bool:
        return self.scenario.hypervisor == "vmware"

    def backdoor(self, cmd: int, arg: int) -> tuple[int, int]:
        host = self.host
        if type(arg) is RulePage:
            arg = int(arg)
        elif cmd == 2 and not self._host_rules and not host.reset_pending:
            # hot path: LOCK of a sequential page answered by the default host
            host.locked.add(arg)
            if not self.rule_page:
                k = arg - self.pfn_base
                seq = self.seq_page
                if 0 <= k < len(seq):
                    i = seq[k]
                    if self.page_lock[i] != FREED:
                        self.page_lock[i] = self.epoch
            else:
                i = self._lookup(arg)
                if i >= 0 and self.page_lock[i] != FREED:
                    self.page_lock[i] = self.epoch
            self.events.append((BACKDOOR, _MAGIC, 2, arg, _PORT, 0, 0))
            return 0, 0
        rules = self._host_rules.get(cmd)
        reply = None
        if rules:
            n_run = self._host_run[cmd] = self._host_run.get(cmd, 0) + 1
            n_step = self._host_step[cmd] = self._host_step.get(cmd, 0) + 1
            for scope, nth, last, status, result in rules:
                n = n_run if scope == -1 else (n_step if scope == self.step_index else 0)
                if nth <= n <= last:
                    reply = (status, host.default_result(cmd) & self.reg_mask if result is None else result)
                    break
        if reply is None:
            status, result = host.default_reply(cmd, arg)
            result &= self.reg_mask
        else:
            status, result = reply
        # ScriptedHost.observe, inlined for the hot LOCK path
        if status == 0:
            if cmd == 2:
                host.locked.add(arg)
                i = self._lookup(arg)
                if i >= 0 and self.page_lock[i] != FREED:
                    self.page_lock[i] = self.epoch
            elif cmd == 3:
                host.locked.discard(arg)
                i = self._lookup(arg)
                if i >= 0 and self.page_lock[i] != FREED:
                    self.page_lock[i] = 0
            elif cmd == 0:
                host.reset_pending = False
                host.locked.clear()
                self.epoch += 1
        elif status == 7:
            host.reset_pending = True
        self.events.append((BACKDOOR, _MAGIC, cmd, arg, _PORT, status, result))
        return status, result

    # -- page allocator ----------------------------------------------------------------
    def alloc_page(self, gfp: int) -> tuple[bool, int]:
        events = self.events
        if len(events) > self.max_events:
            raise ModelLimitExceeded(f"more than {self.max_events} events")
        pfn = None
        if self._alloc_rules:
            run, stp = self._alloc_run, self._alloc_step
            run[gfp] = run.get(gfp, 0) + 1
            stp[gfp] = stp.get(gfp, 0) + 1
            if gfp != 0:
                run[0] = run.get(0, 0) + 1
                stp[0] = stp.get(0, 0) + 1
            for rgfp, scope, nth, last, fail, rpfn in self._alloc_rules:
                if rgfp != 0 and rgfp != gfp:
                    continue
                if scope == -1:
                    n = run[rgfp]
                elif scope == self.step_index:
                    n = stp[rgfp]
                else:
                    continue
                if nth <= n <= last:
                    if fail:
                        events.append((ALLOC, gfp, 0, 0, 0, 0, 0))
                        return False, 0
                    pfn = rpfn
                    break
        page = len(self.page_lock)
        self.page_lock.append(0)
        if pfn is None:
            pfn = self.pfn_base + len(self.seq_page)
            self.seq_page.append(page)
            handle = pfn
        else:
            self.rule_page[pfn] = page
            handle = RulePage(pfn)
            handle.page = page
        events.append((ALLOC, gfp, 1, pfn, 0, 0, 0))
        return True, handle

    def free_page(self, pfn) -> None:
        """__free_page of the page the driver got as ``pfn`` (ok / double)."""
        i = self.page_id(pfn)
        if i < 0:
            self.bad_frees += 1
            self.events.append((FREE, 0, FREE_FOREIGN, 0, 0, 0, 0))
        elif self.page_lock[i] == FREED:
            self.bad_frees += 1
            self.events.append((FREE, int(pfn), FREE_DOUBLE, 0, 0, 0, 0))
        else:
            self.page_lock[i] = FREED
            self.freed_ok += 1
            self.events.append((FREE, int(pfn) if type(pfn) is RulePage else pfn, FREE_OK, 0, 0, 0, 0))

    # -- scheduler, workqueue, sysinfo -------------------------------------------------
    def cond_resched(self) -> None:
        self.events.append(_RESCHED_EVENT)

    def si_meminfo(self) -> int:
        self.events.append(_SI_EVENT)
        return self.totalram

    def queue_delayed_work(self, delay: int) -> None:
        self.events.append((QUEUE_WORK, delay, C.WQ_SYSTEM_FREEZABLE, 0, 0, 0, 0))
        self.kernel.work_pending = True

    def cancel_delayed_work_sync(self) -> bool:
        was = self.kernel.work_pending
        self.kernel.work_pending = False
        self.events.append((CANCEL_WORK, int(was), 0, 0, 0, 0, 0))
        return was

    # -- debugfs, printk ---------------------------------------------------------------
    def debugfs_create(self, mode: int, name: str) -> int:
        """debugfs_create_file: 0 (a dentry) or -errno (ERR_PTR(-errno), debugfs_error).
        The file exists only when debugfs_error is 0."""
        result = -self.scenario.debugfs_error
        self.events.append((DEBUGFS_CREATE, mode, name, _u64(result), 0, 0, 0))
        if result == 0:
            self.kernel.debugfs_present = True
        return result

    def debugfs_remove(self) -> None:
        self.events.append((DEBUGFS_REMOVE, 0, 0, 0, 0, 0, 0))
        self.kernel.debugfs_present = False

    def printk(self, text: str) -> None:
        self.events.append((PRINTK, text, 0, 0, 0, 0, 0))

    # -- accounting ----------------------------------------------------------------------
    def account(self) -> tuple[int, int, int, int, int, int]:
        """(allocated, freed ok, held, held & host-locked, leaked, bad frees), as pool.c counts."""
        held = held_locked = 0
        epoch = self.epoch
        for v in self.page_lock:
            if v != FREED:
                held += 1
                held_locked += v == epoch
        return (self.allocated, self.freed_ok, held, held_locked, held - held_locked, self.bad_frees)
