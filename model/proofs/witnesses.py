"""Witness scenarios: each finding of the seed as a scenario a backend replays.

Every function returns a `Scenario` (model/scenario.py) whose replay on the
seed shows one property violated; `WITNESSES` maps the scenario id to the
function, the invariant(s) it violates, the explanation of what the driver
does, and how the violation shows in the observed trace (the protocol monitor
of model/monitors.py that flags it, or the events/debugfs text to look
at). The numbers in the explanations are derived from the C (cited by line);
tests/test_proofs.py replays each witness in the model's predictor and checks
them; the lead replays them against the compiled seed.

Scenario steps are indexed from 0 (`init` is step 0), which is the SCOPE of a
host or alloc rule (specs/trace.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from balloonspec.model.trace import Kind
from balloonspec.model.scenario import AllocRule, HostRule, Scenario, SysInfo, steps

from .cref import C, cite

PFN_4G = 1 << 32  # first PFN that does not fit the protocol's 32-bit PPN


@dataclass(frozen=True)
class Witness:
    id: str
    build: Callable[[], Scenario]
    violates: tuple[str, ...]  # invariant ids
    explanation: str  # what the driver does in this scenario, and why (C lines)
    shows_as: str  # how the violation shows in the observed trace
    monitors: tuple[str, ...] = ()  # model/monitors.py ids that flag it

    def scenario(self) -> Scenario:
        return self.build()

    def to_json(self) -> dict:
        return {
            "scenario_id": self.id,
            "scenario": self.build().to_json(),
            "explanation": self.explanation,
            "shows_as": self.shows_as,
            "monitors": list(self.monitors),
        }


WITNESSES: dict[str, Witness] = {}


def witness(id: str, violates: tuple[str, ...], explanation: str, shows_as: str, monitors: tuple[str, ...] = ()):
    def deco(fn: Callable[[], Scenario]) -> Callable[[], Scenario]:
        WITNESSES[id] = Witness(id, fn, violates, " ".join(explanation.split()), " ".join(shows_as.split()), monitors)
        return fn

    return deco


# -- (a) a page whose PFN does not fit 32 bits ----------------------------------------


@witness(
    "wit-high-pfn-leak",
    violates=("MEM-CONSERVATION",),
    explanation=f"""
    The host asks for 2 pages. The first page the allocator returns has PFN 2^32+16.
    vmballoon_send_lock_page returns -1 for it without a backdoor call
    ({cite('if (pfn32 != pfn)')}); in vmballoon_reserve_page `locked > 0` is false, so the
    page is neither put on the refused list nor freed, and `while (locked != 0)` allocates
    another page ({cite('if (locked > 0) {', 'while (locked != 0);')}). The driver then
    locks two ordinary pages: size 2, 3 pages allocated, 2 locked, 1 page held that nobody
    will ever free, not even vmballoon_exit (it only pops b->pages).""",
    shows_as="""
    ALLOC of PFN 0x100000010 with no LOCK and no FREE of it, then two ALLOC/LOCK pairs;
    debugfs current 2, primNoSleepAlloc 3, lock 2; after exit (START, 2 FREE) ACCOUNT
    reports 3 allocated, 2 freed, 1 page still held and not locked.""",
    monitors=("MEM-EXIT-RELEASES",),
)
def high_pfn_leak() -> Scenario:
    return Scenario(
        id="wit-high-pfn-leak",
        target=2,
        alloc_rules=(AllocRule(gfp=0, nth=1, count=1, fail=False, pfn=PFN_4G + 16),),
        steps=steps("init", "cycle", "debugfs", "exit"),
    )


HIGH_PFN_PAGES = 20000  # > the per-cycle allocation bound of a sane driver (16,400)


@witness(
    "wit-high-pfn-unbounded",
    violates=("CYCLE-ALLOC-BOUND", "MEM-CONSERVATION"),
    explanation=f"""
    Every page the allocator returns has a PFN >= 2^32 (pfn_base 2^32) and the
    {HIGH_PFN_PAGES + 1}-th and {HIGH_PFN_PAGES + 2}-th allocations fail. The do/while of
    vmballoon_reserve_page ({cite('while (locked != 0);')}) never leaves with such pages: the
    first call to it allocates {HIGH_PFN_PAGES} pages (no backdoor call at all) until the
    allocator fails; inflate then switches to sleeping allocations
    ({cite('alloc_can_sleep = true;')}), whose first allocation fails and halves rate_alloc.
    One work cycle allocates {HIGH_PFN_PAGES} pages and leaks all of them; the count is set
    only by when the allocator gives up, so no per-cycle bound exists.""",
    shows_as=f"""
    One cycle with {HIGH_PFN_PAGES} ALLOC events (gfp 0x2002) returning PFNs 2^32.. and
    no BACKDOOR LOCK, then one ALLOC(0x2002) NULL and one ALLOC(0x100cc2) NULL; debugfs
    shows current 0, primNoSleepAlloc {HIGH_PFN_PAGES + 1} (1 failed), rateSleepAlloc 1024;
    ACCOUNT: {HIGH_PFN_PAGES} held, 0 locked.""",
    monitors=("MEM-NO-LEAK",),
)
def high_pfn_unbounded() -> Scenario:
    return Scenario(
        id="wit-high-pfn-unbounded",
        target=10,
        pfn_base=PFN_4G,
        alloc_rules=(AllocRule(gfp=0, nth=HIGH_PFN_PAGES + 1, count=2, fail=True),),
        steps=steps("init", "cycle", "debugfs"),
    )


# -- (b) one more page than NOSLEEP_ALLOC_MAX --------------------------------------------


@witness(
    "wit-nosleep-plus-one",
    violates=("CYCLE-NOSLEEP-RATE",),
    explanation=f"""
    The host asks for 20000 pages; nothing fails. With slow_allocation_cycles 0 the rate
    is VMW_BALLOON_NOSLEEP_ALLOC_MAX = {C.NOSLEEP_ALLOC_MAX} ({cite('rate = b->slow_allocation_cycles ?')}),
    but the `i >= rate` check ({cite('if (i >= rate) {')}) comes after the allocation of
    iteration i, so iterations i = 0..{C.NOSLEEP_ALLOC_MAX} all allocate and lock:
    {C.NOSLEEP_ALLOC_MAX + 1} pages in one cycle, one more than the rate limit says.""",
    shows_as=f"""
    {C.NOSLEEP_ALLOC_MAX + 1} ALLOC/LOCK pairs in the first cycle; debugfs: current
    {C.NOSLEEP_ALLOC_MAX + 1}, rateNoSleepAlloc {C.NOSLEEP_ALLOC_MAX}.""",
)
def nosleep_plus_one() -> Scenario:
    return Scenario(id="wit-nosleep-plus-one", target=20000, steps=steps("init", "cycle", "debugfs"))


# -- (c) module exit frees pages the host still holds ------------------------------------


@witness(
    "wit-exit-start-fails",
    violates=("MEM-NO-FREE-LOCKED-EXIT",),
    explanation=f"""
    The balloon holds 4 locked pages when the module is unloaded, and the host answers the
    exit's START with ERROR_BUSY ({C.ERROR_BUSY}). vmballoon_exit ignores START's result
    ({cite('vmballoon_send_start(&balloon);')}) and pops the balloon
    ({cite('vmballoon_pop(&balloon);')}) without UNLOCKing: the 4 pages go back to the guest
    while the host, which never reset, still holds them locked (it may still have reclaimed
    their machine memory).""",
    shows_as="""
    BACKDOOR START answered 8, then 4 FREE events of PFNs that were LOCKed successfully
    and never UNLOCKed, with no successful START or RESET reply in between.""",
    monitors=("MEM-NO-FREE-LOCKED",),
)
def exit_start_fails() -> Scenario:
    return Scenario(
        id="wit-exit-start-fails",
        target=4,
        host_rules=(HostRule(cmd=C.CMD_START, status=C.ERROR_BUSY, nth=2, count=1),),
        steps=steps("init", "cycle", "exit"),
    )


# -- (d) LOCK after a RESET without a successful restart ---------------------------------


@witness(
    "wit-reset-start-fails",
    violates=("PROTO-RESET-RESTART",),
    explanation=f"""
    Cycle 1: GET_TARGET is answered ERROR_RESET, which sets reset_required
    ({cite('b->reset_required = true;')}). Cycle 2: vmballoon_reset pops the (empty) balloon
    and sends START, which the host answers ERROR_BUSY; reset_required stays set
    ({cite('if (vmballoon_send_start(b)) {')}), but vmballoon_work goes on
    ({cite('if (vmballoon_send_get_target(b, &target)) {')}): the host answers this
    GET_TARGET with success and target 3, and the driver inflates, sending a LOCK although
    the protocol was never restarted. (The default host answers that LOCK ERROR_RESET and
    the driver frees the page; a host that kept refusing GET_TARGET would never see the
    LOCK: the driver relies on the host here, it does not check itself.) Only LOCK is
    reachable this way: the pop emptied the balloon, so a deflate cannot follow.
    Cycle 3 restarts properly and inflates to 3.""",
    shows_as="""
    In the step of cycle 2: BACKDOOR START -> 8, BACKDOOR GET_TARGET -> 0 (result 3),
    ALLOC, BACKDOOR LOCK -> 7, FREE; debugfs start 3 (1 failed).""",
    monitors=("PROTO-RESET-RESTART",),
)
def reset_start_fails() -> Scenario:
    # steps: 0 init, 1 cycle, 2 cycle, 3 cycle, 4 debugfs
    return Scenario(
        id="wit-reset-start-fails",
        target=3,
        host_rules=(
            HostRule(cmd=C.CMD_GET_TARGET, status=C.ERROR_RESET, scope=1),
            HostRule(cmd=C.CMD_START, status=C.ERROR_BUSY, scope=2),
            HostRule(cmd=C.CMD_GET_TARGET, status=C.SUCCESS, scope=2, result=3),
        ),
        steps=steps("init", ("cycle", 3), "debugfs"),
    )


# -- (e) a refused UNLOCK at the head of the list blocks deflation ------------------------

UNLOCK_REFUSALS = 6


@witness(
    "wit-unlock-head-blocks",
    violates=("PROGRESS-DEFLATE-REFUSAL",),
    explanation=f"""
    The balloon holds 8 pages and the host lowers the target to 0, but refuses to unlock
    one page (ERROR_PPN_PINNED) for {UNLOCK_REFUSALS} cycles. vmballoon_deflate always starts
    at the head of b->pages ({cite('list_for_each_entry_safe(page, next, &b->pages, lru) {')}
    in deflate) and returns at the first refused UNLOCK ({cite('return;')}); the page stays
    at the head, so every cycle retries the same page and never reaches the other 7: the
    balloon does not shrink at all while one page is pinned, and rate_free halves each
    cycle down to {C.RATE_FREE_MIN}. When the host accepts the UNLOCK again, one cycle deflates
    all 8 (goal min(8, {C.RATE_FREE_MIN})).""",
    shows_as=f"""
    {UNLOCK_REFUSALS} cycles each with exactly one BACKDOOR UNLOCK, all of the same PPN (the
    last page locked), answered 5, and no FREE; then one cycle with 8 UNLOCK/FREE pairs.""",
)
def unlock_head_blocks() -> Scenario:
    return Scenario(
        id="wit-unlock-head-blocks",
        target=8,
        host_rules=(HostRule(cmd=C.CMD_UNLOCK, status=C.ERROR_PPN_PINNED, nth=1, count=UNLOCK_REFUSALS),),
        steps=steps("init", "cycle", ("set_target", 0), ("cycle", UNLOCK_REFUSALS), "debugfs", "cycle", "debugfs"),
    )


# -- (f) what else the solver and the C show ----------------------------------------------


@witness(
    "wit-totalram-4g",
    violates=("PROGRESS-INFLATE-BIG-GUEST",),
    explanation=f"""
    The guest has 2^32 pages of RAM (16 TiB). vmballoon_send_get_target returns false when
    totalram does not fit 32 bits ({cite('if (limit != limit32)')}) before counting the
    call and before any backdoor call: the balloon never learns its target and never
    inflates, silently (no printk), and debugfs does not count it as a failed target
    request either (stats.target is incremented after the check,
    {cite('STATS_INC(b->stats.target);')}).""",
    shows_as="""
    Each cycle: WORK_RUN, SI_MEMINFO, QUEUE_WORK and no BACKDOOR at all; debugfs target 0,
    current 0, `target: 0 (0 failed)` in the statistics.""",
)
def totalram_4g() -> Scenario:
    return Scenario(
        id="wit-totalram-4g",
        target=10,
        sysinfo=SysInfo(totalram=1 << 32),
        steps=steps("init", ("cycle", 3), "debugfs"),
    )


@witness(
    "wit-debugfs-signed",
    violates=("DEBUGFS-UNSIGNED",),
    explanation=f"""
    The host asks for 2^31 pages and both allocations of the cycle fail (so the cycle ends
    quickly). debugfs prints the unsigned `target` with `%8d`
    ({cite('"target:             %8d pages')}): a target of 2^31 reads as -2147483648.""",
    shows_as="""
    DEBUGFS_READ text contains `target:             -2147483648 pages`.""",
)
def debugfs_signed() -> Scenario:
    return Scenario(
        id="wit-debugfs-signed",
        target=1 << 31,
        alloc_rules=(AllocRule(gfp=0, nth=1, count=2, fail=True),),
        steps=steps("init", "cycle", "debugfs"),
    )


@witness(
    "wit-rate-up-after-failure",
    violates=("RATE-ALLOC-NO-RAISE-ON-FAILURE",),
    explanation=f"""
    Cycle 1: the NOSLEEP and then the CANSLEEP allocation fail: rate_alloc halves to 1024
    ({cite('b->rate_alloc = max(b->rate_alloc / 2,')}), slow_allocation_cycles becomes 4.
    Cycle 2: slow_allocation_cycles 3, rate 1024; the first NOSLEEP allocation fails again,
    inflate switches to sleeping allocations, which succeed for i = 1..1024, and the loop
    breaks at i = 1024 = rate with error == 0. The rate-increase rule, documented as
    "We reached our goal without failures" ({cite('if (error == 0 && i >= b->rate_alloc) {')}),
    only looks at the last error, so rate_alloc rises to 1040 in a cycle in which an
    allocation failed.""",
    shows_as="""
    Cycle 2: ALLOC(0x2002) NULL, then 1024 ALLOC(0x100cc2)/LOCK pairs; debugfs
    rateSleepAlloc 1040.""",
)
def rate_up_after_failure() -> Scenario:
    return Scenario(
        id="wit-rate-up-after-failure",
        target=100000,
        alloc_rules=(
            AllocRule(gfp=C.GFP_NOSLEEP, nth=1, count=2, fail=True),
            AllocRule(gfp=C.GFP_CANSLEEP, nth=1, count=1, fail=True),
        ),
        steps=steps("init", ("cycle", 2), "debugfs"),
    )


def all_scenarios() -> list[Scenario]:
    return [w.scenario() for w in WITNESSES.values()]


# -- confirmation: does a trace (predicted or observed) show the violation? ----------------
# Each predicate takes the event list of specs/trace.md (predicted by
# model.predict or observed from a driver build; DEBUGFS_READ/PRINTK text as
# str) and returns a sentence describing the violation it sees, or None.

BACKDOOR, ALLOC, FREE, DEBUGFS_READ, PRINTK, WORK_RUN, STEP, ACCOUNT = (
    int(k) for k in (Kind.BACKDOOR, Kind.ALLOC, Kind.FREE, Kind.DEBUGFS_READ, Kind.PRINTK, Kind.WORK_RUN,
                     Kind.STEP, Kind.ACCOUNT))


def by_step(events: list[tuple]) -> list[list[tuple]]:
    """Events grouped per scenario step (each group starts with its STEP event)."""
    out: list[list[tuple]] = []
    for e in events:
        if e[0] == STEP:
            out.append([])
        if out:
            out[-1].append(e)
    return out


def _calls(evs, cmd):
    return [e for e in evs if e[0] == BACKDOOR and e[2] == cmd]


def _debugfs_texts(events):
    return [e[1] for e in events if e[0] == DEBUGFS_READ]


def _monitor(events: list[tuple], monitor: str) -> str | None:
    """The first violation of a protocol monitor (model/monitors.py) in a trace."""
    from balloonspec.model.monitors import check

    found = [v for v in check(events) if v.monitor == monitor]
    return f"event {found[0].index}: {found[0].message}" if found else None


def _confirm_high_pfn_leak(events):
    allocs = [e[3] for e in events if e[0] == ALLOC and e[2] == 1]
    high = [p for p in allocs if p >= PFN_4G]
    touched = {e[3] for e in events if e[0] == BACKDOOR} | {e[1] for e in events if e[0] == FREE}
    leaked = [p for p in high if p not in touched]
    acct = [e for e in events if e[0] == ACCOUNT]
    if leaked and acct and acct[-1][3] >= 1:
        return (f"page {leaked[0]:#x} allocated, never LOCKed nor freed; after exit ACCOUNT still "
                f"holds {acct[-1][3]} page(s)")
    return None


def _confirm_high_pfn_unbounded(events):
    for evs in by_step(events):
        if any(e[0] == WORK_RUN for e in evs):
            pages = sum(1 for e in evs if e[0] == ALLOC and e[2] == 1)
            locks = len(_calls(evs, C.CMD_LOCK))
            if pages > C.NOSLEEP_ALLOC_MAX + C.MAX_REFUSED and locks == 0:
                return f"one work cycle allocated {pages} pages (> {C.NOSLEEP_ALLOC_MAX + C.MAX_REFUSED}) and LOCKed none"
    return None


def _confirm_nosleep_plus_one(events):
    for evs in by_step(events):
        ok = sum(1 for e in _calls(evs, C.CMD_LOCK) if e[5] == 0)
        if ok > C.NOSLEEP_ALLOC_MAX:
            return f"one work cycle locked {ok} pages > VMW_BALLOON_NOSLEEP_ALLOC_MAX = {C.NOSLEEP_ALLOC_MAX}"
    return None


def _confirm_freed_locked(events):
    return _monitor(events, "MEM-NO-FREE-LOCKED")


def _confirm_lock_pending(events):
    return _monitor(events, "PROTO-RESET-RESTART")


def _confirm_unlock_head(events):
    steps_ = by_step(events)
    run = []
    for evs in steps_:
        if not any(e[0] == WORK_RUN for e in evs):
            continue
        unl = _calls(evs, C.CMD_UNLOCK)
        frees = [e for e in evs if e[0] == FREE]
        if len(unl) == 1 and unl[0][5] != 0 and not frees:
            run.append(unl[0][3])
        elif run:
            break
    if len(run) >= 2 and len(set(run)) == 1:
        return (f"{len(run)} consecutive deflate cycles each sent one UNLOCK, all of PPN {run[0]:#x}, "
                f"and freed nothing")
    return None


def _confirm_totalram(events):
    cycles = sum(1 for e in events if e[0] == WORK_RUN)
    gt = len(_calls(events, C.CMD_GET_TARGET))
    prints = [e for e in events if e[0] == PRINTK]
    texts = _debugfs_texts(events)
    if cycles and gt == 0 and not prints and texts and "current:                   0 pages" in texts[-1]:
        return f"{cycles} work cycles, no GET_TARGET, no message, balloon stays at 0 pages"
    return None


def _confirm_debugfs_signed(events):
    for t in _debugfs_texts(events):
        for line in t.splitlines():
            if line.startswith("target:") and "-" in line:
                return f"debugfs prints `{line.strip()}`"
    return None


def _confirm_rate_up(events):
    steps_ = by_step(events)
    cyc = [evs for evs in steps_ if any(e[0] == WORK_RUN for e in evs)]
    texts = _debugfs_texts(events)
    if len(cyc) >= 2 and texts:
        failed = any(e[0] == ALLOC and e[2] == 0 for e in cyc[1])
        rates = [int(l.split()[1]) for l in texts[-1].splitlines() if l.startswith("rateSleepAlloc:")]
        if failed and rates and rates[0] > 1024:
            return f"cycle 2 had a failed allocation yet rate_alloc rose from 1024 to {rates[0]}"
    return None


CONFIRM = {
    "wit-high-pfn-leak": _confirm_high_pfn_leak,
    "wit-high-pfn-unbounded": _confirm_high_pfn_unbounded,
    "wit-nosleep-plus-one": _confirm_nosleep_plus_one,
    "wit-exit-start-fails": _confirm_freed_locked,
    "wit-reset-start-fails": _confirm_lock_pending,
    "wit-unlock-head-blocks": _confirm_unlock_head,
    "wit-totalram-4g": _confirm_totalram,
    "wit-debugfs-signed": _confirm_debugfs_signed,
    "wit-rate-up-after-failure": _confirm_rate_up,
}


def confirm(witness_id: str, events: list[tuple]) -> str | None:
    """The violation the trace shows for this witness, or None."""
    return CONFIRM[witness_id](events)


def replay_in_model(witness_id: str) -> tuple[str | None, object]:
    """Replay a witness in the model's concrete predictor: (violation, prediction)."""
    from balloonspec.model.predict import predict

    p = predict(WITNESSES[witness_id].scenario())
    return confirm(witness_id, p.events), p
