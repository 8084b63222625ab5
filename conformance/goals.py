"""Coverage goals of the shipped vector set, each with the scenario that reaches it.

Goals come from the driver's C (every branch of every function, every outcome
of every backdoor command, both sides of every constant) and each names the
place it covers. A goal is a scenario plus the reason it exists; the
expected observations are the model's, computed in `generate`.
Constants are taken from the model, so a spec change moves the boundaries.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from balloonspec.model import constants as C
from balloonspec.model.scenario import AllocRule, HostRule, Scenario, SysInfo, steps

NOSLEEP, CANSLEEP = C.VMW_PAGE_ALLOC_NOSLEEP, C.VMW_PAGE_ALLOC_CANSLEEP
STATUS_NAMES = {
    1: "CMD_INVALID", 2: "PPN_INVALID", 3: "PPN_LOCKED", 4: "PPN_UNLOCKED",
    5: "PPN_PINNED", 6: "PPN_NOTNEEDED", 7: "RESET", 8: "BUSY", 0xFFFFFFFF: "FAILURE",
}
ERROR_STATUSES = (1, 2, 3, 4, 5, 6, 7, 8)


@dataclass(frozen=True)
class Goal:
    id: str
    kind: str  # coverage | boundary | finding
    covers: str  # the C function/branch or constant it is about
    text: str
    scenario: Scenario
    debugfs: bool = True


def _sc(gid: str, *spec, **kw) -> Scenario:
    return Scenario(id=gid, steps=steps(*spec), **kw)


def _step_index(scenario_steps, kind: str, nth: int = 1) -> int:
    """Index of the nth step of a kind (rules are scoped by step index)."""
    seen = 0
    for i, s in enumerate(scenario_steps):
        if s.kind == kind:
            seen += 1
            if seen == nth:
                return i
    raise ValueError(f"no step {kind} #{nth}")


def init_exit_goals() -> list[Goal]:
    g = [
        Goal("init-exit-idle", "coverage", "vmballoon_init/vmballoon_exit",
             "init with a cooperative host, one idle cycle, debugfs read, exit",
             _sc("init-exit-idle", "init", ("cycle", 1), "debugfs", "exit")),
        Goal("init-not-vmware", "coverage", "vmballoon_init: x86_hyper != &x86_hyper_vmware",
             "not on VMware: init returns -ENODEV and never touches the backdoor",
             _sc("init-not-vmware", "init", ("cycle", 1), "exit", hypervisor="none")),
        Goal("init-debugfs-error", "coverage", "vmballoon_debugfs_init: IS_ERR",
             "debugfs_create_file fails with -ENOMEM: init returns it after START and GUEST_ID",
             _sc("init-debugfs-error", "init", ("cycle", 1), debugfs_error=12)),
        Goal("no-debugfs-config", "coverage", "CONFIG_DEBUG_FS off",
             "a build without CONFIG_DEBUG_FS: no stats, no debugfs file, same protocol",
             _sc("no-debugfs-config", "init", ("cycle", 2), "debugfs", "exit", target=300), debugfs=False),
    ]
    for st in (1, 7, 8):
        gid = f"init-start-fails-{STATUS_NAMES[st].lower()}"
        g.append(Goal(gid, "coverage", "vmballoon_send_start: status != SUCCESS",
                      f"START answered {STATUS_NAMES[st]} at init: pr_err and -EIO",
                      _sc(gid, "init", ("cycle", 1), host_rules=(HostRule(C.VMW_BALLOON_CMD_START, st),))))
    for st in (1, 7):
        gid = f"init-guest-id-fails-{STATUS_NAMES[st].lower()}"
        g.append(Goal(gid, "coverage", "vmballoon_send_guest_id / vmballoon_check_status",
                      f"GUEST_ID answered {STATUS_NAMES[st]} at init: pr_err and -EIO",
                      _sc(gid, "init", ("cycle", 1), host_rules=(HostRule(C.VMW_BALLOON_CMD_GUEST_ID, st),))))
    return g


def target_goals() -> list[Goal]:
    g = [
        Goal("target-zero", "coverage", "vmballoon_work: size == target",
             "target 0: GET_TARGET every cycle, neither inflate nor deflate",
             _sc("target-zero", "init", ("cycle", 3), "debugfs")),
        Goal("target-above-int-max", "boundary", "vmballoon_debug_show: %8d of target",
             "a target of 2^31 + 7 is printed by %8d as a negative number; the balloon inflates towards it",
             _sc("target-above-int-max", "init", ("cycle", 1), "debugfs", target=(1 << 31) + 7)),
    ]
    for st in (1, 8):
        gid = f"get-target-fails-{STATUS_NAMES[st].lower()}"
        g.append(Goal(gid, "coverage", "vmballoon_send_get_target: status != SUCCESS",
                      f"GET_TARGET answered {STATUS_NAMES[st]}: the cycle changes nothing, target_fail counts",
                      _sc(gid, "init", ("cycle", 2), "debugfs", target=50,
                          host_rules=(HostRule(C.VMW_BALLOON_CMD_GET_TARGET, st),))))
    for totalram, side in (((1 << 32) - 1, "below"), (1 << 32, "at")):
        gid = f"totalram-{side}-2pow32"
        g.append(Goal(gid, "boundary", "vmballoon_send_get_target: limit != limit32",
                      f"totalram {totalram}: {'fits' if side == 'below' else 'does not fit'} in 32 bits",
                      _sc(gid, "init", ("cycle", 2), "debugfs", target=10, sysinfo=SysInfo(totalram=totalram))))
    g.append(Goal("totalram-changes", "coverage", "vmballoon_send_get_target: si_meminfo every cycle",
                  "totalram changes between cycles: each GET_TARGET carries the current value",
                  _sc("totalram-changes", "init", ("cycle", 1), ("set_totalram", 131072), ("cycle", 1))))
    return g


def inflate_goals() -> list[Goal]:
    cap = C.VMW_BALLOON_NOSLEEP_ALLOC_MAX
    ymax = C.VMW_BALLOON_YIELD_THRESHOLD
    rmax = C.VMW_BALLOON_RATE_ALLOC_MAX
    g = [
        Goal("inflate-small", "coverage", "vmballoon_inflate: goal < rate_alloc",
             "inflate 100 pages in one cycle; rate_alloc unchanged",
             _sc("inflate-small", "init", ("cycle", 2), "debugfs", "exit", target=100)),
        Goal("inflate-multi-cycle", "coverage", "vmballoon_inflate: i >= rate break",
             f"inflate to {2 * cap + 5000} over several cycles, then exit with a full balloon",
             _sc("inflate-multi-cycle", "init", ("cycle", 4), "debugfs", "exit", target=2 * cap + 5000)),
    ]
    for d in (-1, 0, 1, 2):
        t = cap + d
        g.append(Goal(f"inflate-nosleep-cap{d:+d}", "boundary", "VMW_BALLOON_NOSLEEP_ALLOC_MAX",
                      f"target {t} = NOSLEEP_ALLOC_MAX{d:+d} from an empty balloon: pages in the first cycle",
                      _sc(f"inflate-nosleep-cap{d:+d}", "init", ("cycle", 2), "debugfs", target=t)))
    for d in (-1, 0, 1):
        t = rmax + d
        g.append(Goal(f"inflate-rate-alloc{d:+d}", "boundary", "vmballoon_inflate: i >= b->rate_alloc increase",
                      f"goal {t} = RATE_ALLOC_MAX{d:+d}: the rate increase rule's threshold",
                      _sc(f"inflate-rate-alloc{d:+d}", "init", ("cycle", 1), "debugfs", target=t)))
    for d in (0, 1, 2):
        t = ymax + d
        g.append(Goal(f"inflate-yield{d:+d}", "boundary", "VMW_BALLOON_YIELD_THRESHOLD",
                      f"goal {t} = YIELD_THRESHOLD{d:+d}: cond_resched once ++allocations exceeds it",
                      _sc(f"inflate-yield{d:+d}", "init", ("cycle", 1), target=t)))
    return g


def allocation_failure_goals() -> list[Goal]:
    rmax = C.VMW_BALLOON_RATE_ALLOC_MAX
    g = []
    s = steps("init", ("cycle", 6), "debugfs")
    c1 = _step_index(s, "cycle", 1)
    g.append(Goal("nosleep-fails-first", "coverage", "vmballoon_inflate: NOSLEEP -ENOMEM, i < rate_alloc",
                  "the first NOSLEEP allocation fails: switch to CANSLEEP at rate_alloc; slow cycles follow",
                  Scenario("nosleep-fails-first", s, target=5000,
                           alloc_rules=(AllocRule(NOSLEEP, scope=c1),))))
    for n in (rmax, rmax + 1, rmax + 2):
        gid = f"nosleep-fails-at-{n}"
        g.append(Goal(gid, "boundary", "vmballoon_inflate: if (i >= b->rate_alloc) break",
                      f"NOSLEEP allocation #{n} fails (i = {n - 1} vs rate_alloc {rmax}): pause or go on sleeping",
                      Scenario(gid, s, target=6000, alloc_rules=(AllocRule(NOSLEEP, nth=n, scope=c1),))))
    s2 = steps("init", ("cycle", 5), "debugfs")
    g.append(Goal("cansleep-fails-rate-halves", "coverage", "vmballoon_inflate: CANSLEEP -ENOMEM",
                  "NOSLEEP and CANSLEEP allocations keep failing: rate_alloc halves each cycle down to RATE_ALLOC_MIN",
                  Scenario("cansleep-fails-rate-halves", s2, target=9000,
                           alloc_rules=(AllocRule(NOSLEEP, count=1000), AllocRule(CANSLEEP, nth=2, count=1000)))))
    g.append(Goal("slow-cycles-then-recover", "coverage", "vmballoon_work: slow_allocation_cycles",
                  "one NOSLEEP failure: SLOW_CYCLES cycles at rate_alloc, then NOSLEEP at full rate, rate_alloc grows",
                  _sc("slow-cycles-then-recover", "init", ("cycle", 7), "debugfs", target=60000,
                      alloc_rules=(AllocRule(NOSLEEP, nth=1),))))
    # rate_alloc below its ceiling: the boundaries of the rate rules are visible only there
    half = rmax // 2
    pressure = (AllocRule(NOSLEEP), AllocRule(CANSLEEP))  # cycle 1: rate_alloc halves to `half`
    for d in (-1, 0, 1):
        gid = f"rate-alloc-increase-at{d:+d}"
        s3 = steps("init", ("cycle", 1), ("set_target", half + d), ("cycle", 1), "debugfs")
        g.append(Goal(gid, "boundary", "vmballoon_inflate: error == 0 && i >= b->rate_alloc",
                      f"rate_alloc = {half} after memory pressure; the next cycle's goal is {half + d}: "
                      "the increase rule's threshold when rate_alloc is below its ceiling",
                      Scenario(gid, s3, target=100, alloc_rules=pressure)))
    s4 = steps("init", ("cycle", 5), "debugfs")
    quiet = tuple(HostRule(C.VMW_BALLOON_CMD_GET_TARGET, 8, scope=_step_index(s4, "cycle", n)) for n in (2, 3, 4))
    for d in (0, 1):
        gid = f"nosleep-fails-at-rate-alloc{d:+d}"
        g.append(Goal(gid, "boundary", "vmballoon_inflate: if (i >= b->rate_alloc) break",
                      f"rate_alloc = {half}, slow cycles pass idle, then NOSLEEP allocation #{half + 1 + d} fails: "
                      "i == rate_alloc pauses before the yield counter moves; one more goes on sleeping",
                      Scenario(gid, s4, target=5000, host_rules=quiet,
                               alloc_rules=(*pressure, AllocRule(NOSLEEP, nth=half + 1 + d,
                                                                 scope=_step_index(s4, "cycle", 5))))))
    g.append(Goal("both-fail-immediately", "coverage", "vmballoon_reserve_page: -ENOMEM both flag sets",
                  "first NOSLEEP and first CANSLEEP both fail: nothing allocated, rate_alloc halves",
                  _sc("both-fail-immediately", "init", ("cycle", 2), "debugfs", target=100,
                      alloc_rules=(AllocRule(NOSLEEP), AllocRule(CANSLEEP)))))
    return g


def lock_goals() -> list[Goal]:
    rfmax = C.VMW_BALLOON_MAX_REFUSED
    g = []
    for st in ERROR_STATUSES:
        gid = f"lock-refused-{STATUS_NAMES[st].lower()}"
        special = {6: "page freed at once and the cycle stops", 7: "page freed, cycle stops, reset next cycle"}
        g.append(Goal(gid, "coverage", "vmballoon_reserve_page: locked > 0",
                      f"the 3rd LOCK answered {STATUS_NAMES[st]}: " + special.get(st, "page parked on the refused list, released at cycle end"),
                      _sc(gid, "init", ("cycle", 3), "debugfs", target=40,
                          host_rules=(HostRule(C.VMW_BALLOON_CMD_LOCK, st, nth=3),))))
    for n in (rfmax - 1, rfmax):
        gid = f"lock-refused-{n}-times"
        g.append(Goal(gid, "boundary", "VMW_BALLOON_MAX_REFUSED",
                      f"{n} consecutive LOCKs refused (PPN_PINNED): {'the cycle goes on' if n < rfmax else 'the cycle takes a breather'}",
                      _sc(gid, "init", ("cycle", 2), "debugfs", target=60,
                          host_rules=(HostRule(C.VMW_BALLOON_CMD_LOCK, 5, nth=5, count=n),))))
    g.append(Goal("lock-reset-then-restart", "coverage", "vmballoon_reset / vmballoon_pop",
                  "RESET answered to a LOCK after a full balloon: next cycle pops (cond_resched every rate_free), restarts, reinflates",
                  _sc("lock-reset-then-restart", "init", ("cycle", 2), ("set_target", 16600), ("cycle", 3), "debugfs",
                      target=16500, host_rules=(HostRule(C.VMW_BALLOON_CMD_LOCK, 7, nth=16500),))))
    for pfn, side in (((1 << 32) - 1, "below"), (1 << 32, "at")):
        gid = f"pfn-{side}-2pow32"
        g.append(Goal(gid, "boundary", "vmballoon_send_lock_page: pfn32 != pfn",
                      f"the 2nd allocation gets PFN {pfn:#x}: {'locked normally' if side == 'below' else 'never locked, never freed'}",
                      _sc(gid, "init", ("cycle", 2), "debugfs", "exit", target=5,
                          alloc_rules=(AllocRule(0, nth=2, fail=False, pfn=pfn),))))
    return g


def deflate_goals() -> list[Goal]:
    g = [
        Goal("deflate-partial", "coverage", "vmballoon_deflate",
             "inflate 300 pages, then the target drops to 120: UNLOCK + free of 180 pages, newest first",
             _sc("deflate-partial", "init", ("cycle", 1), ("set_target", 120), ("cycle", 2), "debugfs", target=300)),
        Goal("deflate-rate-limited", "coverage", "vmballoon_deflate: goal = min(size - target, rate_free)",
             "inflate 40000 pages, then target 0: deflate at rate_free per cycle",
             _sc("deflate-rate-limited", "init", ("cycle", 3), ("set_target", 0), ("cycle", 4), "debugfs",
                 target=40000)),
    ]
    s = steps("init", ("cycle", 1), ("set_target", 0), ("cycle", 8), "debugfs")
    g.append(Goal("unlock-fails-rate-halves", "coverage", "vmballoon_deflate: error, rate_free halves",
                  "UNLOCKs keep failing (PPN_PINNED): rate_free halves per cycle to RATE_FREE_MIN, then recovers by RATE_FREE_INC",
                  Scenario("unlock-fails-rate-halves", s, target=2000,
                           host_rules=(HostRule(C.VMW_BALLOON_CMD_UNLOCK, 5, nth=1, count=6),))))
    for st in (4, 7):
        gid = f"unlock-refused-{STATUS_NAMES[st].lower()}"
        g.append(Goal(gid, "coverage", "vmballoon_release_page: UNLOCK fails",
                      f"the 2nd UNLOCK answered {STATUS_NAMES[st]}",
                      _sc(gid, "init", ("cycle", 1), ("set_target", 10), ("cycle", 3), "debugfs", target=50,
                          host_rules=(HostRule(C.VMW_BALLOON_CMD_UNLOCK, st, nth=2),))))
    return g


def reset_goals() -> list[Goal]:
    g = [
        Goal("host-reset-idle", "coverage", "vmballoon_check_status: ERROR_RESET",
             "the host resets between cycles: GET_TARGET gets RESET, next cycle pops, START, GUEST_ID",
             _sc("host-reset-idle", "init", ("cycle", 1), "host_reset", ("cycle", 3), "debugfs", target=500)),
        Goal("reset-guest-id-fails", "coverage", "vmballoon_reset: GUEST_ID fails",
             "after a host reset, GUEST_ID fails: pr_err, the balloon carries on",
             _sc("reset-guest-id-fails", "init", ("cycle", 1), "host_reset", ("cycle", 3), "debugfs", target=200,
                 host_rules=(HostRule(C.VMW_BALLOON_CMD_GUEST_ID, 1, nth=2),))),
        # a counter set instead of incremented shows only at its second increment: both refusal
        # counters of the restart are read after two refusals (start_fail, guest_type_fail)
        Goal("reset-start-fails-twice", "coverage", "vmballoon_send_start: STATS_INC(start_fail), twice",
             "after a host reset START is refused (BUSY) in two cycles, then succeeds: debugfs shows 2 failed",
             _sc("reset-start-fails-twice", "init", ("cycle", 1), "host_reset", ("cycle", 4), "debugfs", target=200,
                 host_rules=(HostRule(C.VMW_BALLOON_CMD_START, 8, nth=2, count=2),))),
        Goal("reset-guest-id-fails-twice", "coverage", "vmballoon_send_guest_id: STATS_INC(guest_type_fail), twice",
             "two host resets, GUEST_ID refused after each restart: debugfs shows 2 failed",
             _sc("reset-guest-id-fails-twice", "init", ("cycle", 1), "host_reset", ("cycle", 2), "host_reset",
                 ("cycle", 2), "debugfs", target=200,
                 host_rules=(HostRule(C.VMW_BALLOON_CMD_GUEST_ID, 1, nth=2, count=2),))),
        Goal("exit-with-balloon", "coverage", "vmballoon_exit",
             "exit with 3000 pages in the balloon: START, then every page freed without UNLOCK",
             _sc("exit-with-balloon", "init", ("cycle", 1), "exit", "debugfs", target=3000)),
    ]
    return g


def finding_goals() -> list[Goal]:
    """Scenarios that show the seed's documented findings (specs/findings.md)."""
    s = steps("init", ("cycle", 1), "host_reset", ("cycle", 3), "debugfs")
    restart_cycle = _step_index(s, "cycle", 3)  # the cycle that restarts after the host reset
    return [
        Goal("reset-start-fails", "finding", "vmballoon_reset: START fails, reset_required stays set",
             "after a host reset START fails with BUSY and GET_TARGET is answered: the driver LOCKs pages without a restart",
             Scenario("reset-start-fails", s, target=100,
                      host_rules=(HostRule(C.VMW_BALLOON_CMD_START, 8, nth=2),
                                  HostRule(C.VMW_BALLOON_CMD_GET_TARGET, 0, scope=restart_cycle, result=150)))),
        Goal("exit-start-fails", "finding", "vmballoon_exit: START status ignored",
             "START fails at exit: the driver frees pages the host still holds locked",
             _sc("exit-start-fails", "init", ("cycle", 1), "exit", target=20,
                 host_rules=(HostRule(C.VMW_BALLOON_CMD_START, 8, nth=2),))),
    ]


def solver_goals(base: list[Goal] | None = None) -> list[Goal]:
    """One goal per feasible path of the model's step functions (conformance/pathgoals.py)
    that the hand-written goals leave uncovered: its scenario is built from a Z3 model
    of the path condition (deterministic), and checked to reach the path."""
    if base is None:
        base = [*init_exit_goals(), *target_goals(), *inflate_goals(), *allocation_failure_goals(),
                *lock_goals(), *deflate_goals(), *reset_goals(), *finding_goals()]
    return list(_solver_goals(tuple((g.scenario, g.debugfs) for g in base)))


@functools.lru_cache(maxsize=4)
def _solver_goals(base: tuple) -> tuple[Goal, ...]:
    from balloonspec.conformance import pathgoals

    out = []
    for path, scenario, values in pathgoals.solver_scenarios(list(base)):
        chosen = ", ".join(f"{k}={v}" for k, v in values.items())
        out.append(Goal(scenario.id, "coverage", path.name, f"solver-chosen path; values from the Z3 model: {chosen}",
                        scenario))
    return tuple(out)


def all_goals() -> list[Goal]:
    goals = [*init_exit_goals(), *target_goals(), *inflate_goals(), *allocation_failure_goals(),
             *lock_goals(), *deflate_goals(), *reset_goals(), *finding_goals()]
    goals += solver_goals(goals)
    ids = [g.id for g in goals]
    assert len(ids) == len(set(ids)), "goal ids must be unique"
    return goals
