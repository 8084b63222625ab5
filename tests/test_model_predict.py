"""Predicted traces against expectations derived by hand from vmw_balloon.c."""
import re
import time

from balloonspec.model.predict import predict, state_at
from balloonspec.model.scenario import AllocRule, HostRule, Scenario, SysInfo, steps

M64 = (1 << 64) - 1
MAGIC, PORT = 0x456C6D6F, 0x5670
NOSLEEP, CANSLEEP = 0x2002, 0x100CC2
START, GET_TARGET, LOCK, UNLOCK, GUEST_ID = 0, 1, 2, 3, 4
BASE = 0x10000
TOTALRAM = SysInfo().totalram
STEP_EV, WORK_RUN, BACKDOOR, ALLOC, FREE, RESCHED, PRINTK, ACCOUNT = 15, 14, 1, 2, 3, 4, 13, 16
ERR = "\x013vmw_balloon: "


def bd(cmd, arg, status=0, result=0):
    return (BACKDOOR, MAGIC, cmd, arg, PORT, status, result)


def alloc(pfn, gfp=NOSLEEP):
    return (ALLOC, gfp, 1, pfn, 0, 0, 0)


def free(pfn):
    return (FREE, pfn, 0, 0, 0, 0, 0)


def sc(*spec, **kw):
    return Scenario(id="t", steps=steps(*spec), **kw)


def kinds(events, *ks):
    return [e for e in events if e[0] in ks]


def count(events, kind, **fields):
    idx = {"f1": 1, "f2": 2, "f3": 3}
    return sum(1 for e in events if e[0] == kind and all(e[idx[f]] == v for f, v in fields.items()))


def step_events(events, index):
    """The events of step ``index``: its STEP up to the next STEP or ACCOUNT."""
    out, inside = [], False
    for e in events:
        if e[0] in (STEP_EV, ACCOUNT) and inside:
            break
        if e[0] == STEP_EV and e[1] == index:
            inside = True
        if inside:
            out.append(e)
    return out


def dbg(events, n=-1):
    """Values of the n-th DEBUGFS_READ text, keyed by line label (first 'target' wins)."""
    text = [e for e in events if e[0] == 9][n][1]
    vals = {}
    for m in re.finditer(r"^(\w+):\s+(-?\d+)(?: \(\s*(\d+) failed\))?", text, re.M):
        key = m.group(1) if m.group(1) not in vals else m.group(1) + "_stat"
        vals[key] = int(m.group(2))
        if m.group(3) is not None:
            vals[key + "_failed"] = int(m.group(3))
    return vals


# -- init ---------------------------------------------------------------------------
def test_init_events():
    p = predict(sc("init"))
    assert p.events == [
        (STEP_EV, 0, 1, 0, 0, 0, 0),
        bd(START, 2),
        bd(GUEST_ID, 1),
        (8, 0o444, "vmmemctl", 0, 0, 0, 0),
        (5, 0, 1, 0, 0, 0, 0),
        (11, 0, 0, 0, 0, 0, 0),
        (ACCOUNT, 0, 0, 0, 0, 0, 0),
    ]


def test_init_without_debugfs_config():
    p = predict(sc("init", "debugfs", "exit"), debugfs=False)
    assert not kinds(p.events, 8, 9, 10)
    assert (11, 0, 0, 0, 0, 0, 0) in p.events


def test_init_not_vmware_returns_enodev_and_nothing_runs():
    p = predict(sc("init", "cycle", "debugfs", "exit", hypervisor="none"))
    assert p.events == [
        (STEP_EV, 0, 1, 0, 0, 0, 0), (11, M64 - 18, 0, 0, 0, 0, 0),
        (STEP_EV, 1, 2, 0, 0, 0, 0), (STEP_EV, 2, 3, 0, 0, 0, 0), (STEP_EV, 3, 4, 0, 0, 0, 0),
        (ACCOUNT, 0, 0, 0, 0, 0, 0),
    ]


def test_init_start_failure():
    p = predict(sc("init", "cycle", host_rules=(HostRule(cmd=START, status=1),)))
    assert p.events[1:4] == [bd(START, 2, 1), (PRINTK, ERR + "failed to send start command to the host\n", 0, 0, 0, 0, 0),
                             (11, M64 - 4, 0, 0, 0, 0, 0)]
    assert step_events(p.events, 1) == [(STEP_EV, 1, 2, 0, 0, 0, 0)]  # no work queued


def test_init_guest_id_failure():
    p = predict(sc("init", host_rules=(HostRule(cmd=GUEST_ID, status=8, result=99),)))
    assert p.events[1:5] == [bd(START, 2), bd(GUEST_ID, 1, 8, 99),
                             (PRINTK, ERR + "failed to send guest ID to the host\n", 0, 0, 0, 0, 0),
                             (11, M64 - 4, 0, 0, 0, 0, 0)]


def test_init_debugfs_failure():
    p = predict(sc("init", "debugfs", "cycle", debugfs_error=12))
    assert p.events[3:6] == [(8, 0o444, "vmmemctl", M64 - 11, 0, 0, 0),
                             (PRINTK, ERR + "failed to create debugfs entry, error: -12\n", 0, 0, 0, 0, 0),
                             (11, M64 - 11, 0, 0, 0, 0, 0)]
    assert not kinds(p.events, 9, WORK_RUN)


def test_exit_sequence():
    p = predict(sc("init", "cycle", "exit", "cycle", "debugfs", target=3))
    assert step_events(p.events, 2) == [
        (STEP_EV, 2, 4, 0, 0, 0, 0), (6, 1, 0, 0, 0, 0, 0), (10, 0, 0, 0, 0, 0, 0), bd(START, 2),
        free(BASE + 2), free(BASE + 1), free(BASE), (12, 0, 0, 0, 0, 0, 0)]
    assert step_events(p.events, 3) == [(STEP_EV, 3, 2, 0, 0, 0, 0)]
    assert step_events(p.events, 4) == [(STEP_EV, 4, 3, 0, 0, 0, 0)]
    assert p.events[-1] == (ACCOUNT, 3, 3, 0, 0, 0, 0)


# -- the work cycle and inflation ----------------------------------------------------
def test_small_inflate_cycle_events():
    p = predict(sc("init", "cycle", target=2))
    assert step_events(p.events, 1) == [
        (STEP_EV, 1, 2, 0, 0, 0, 0), (WORK_RUN, 0, 0, 0, 0, 0, 0), (7, 0, 0, 0, 0, 0, 0),
        bd(GET_TARGET, TOTALRAM, 0, 2),
        alloc(BASE), bd(LOCK, BASE), alloc(BASE + 1), bd(LOCK, BASE + 1),
        (5, 250, 1, 0, 0, 0, 0)]
    # both pages still held and locked by the host
    assert p.events[-1] == (ACCOUNT, 2, 0, 2, 2, 0, 0)


def test_full_inflate_cycle_locks_rate_plus_one_pages():
    """goal > 16384: the loop breaks on `i >= rate` *after* the allocation at
    i == 16384, so one cycle locks 16385 pages; cond_resched every 1025
    allocations (`++allocations > 1024`): 15 times."""
    p = predict(sc("init", "cycle", "debugfs", target=100_000))
    ev = step_events(p.events, 1)
    assert count(ev, BACKDOOR, f2=LOCK) == 16385
    assert count(ev, ALLOC) == 16385
    assert count(ev, RESCHED) == 15
    v = dbg(p.events)
    assert v["current"] == 16385 and v["target"] == 100_000
    assert v["rateSleepAlloc"] == 2048  # min(2048 + 8*16, 2048)
    assert v["lock"] == 16385 and v["primNoSleepAlloc"] == 16385


def test_slow_cycles_limit_rate_to_rate_alloc_plus_one():
    """A NOSLEEP failure at i=0 sets slow_allocation_cycles=4 and switches to
    CANSLEEP with rate = rate_alloc (2048): the failed attempt used up i=0, so
    the cycle ends after CANSLEEP i=1..2048 (2048 pages locked). The next
    cycles (slow 3, 2, 1) use rate = rate_alloc with NOSLEEP: 2049 pages each;
    then slow reaches 0 and the rate is 16384 again."""
    p = predict(sc("init", ("cycle", 6), target=10**6,
                   alloc_rules=(AllocRule(gfp=NOSLEEP, scope=1, nth=1),)))
    locks = [count(step_events(p.events, i), BACKDOOR, f2=LOCK) for i in range(1, 7)]
    assert locks == [2048, 2049, 2049, 2049, 16385, 16385]
    first = step_events(p.events, 1)
    allocs = kinds(first, ALLOC)
    assert allocs[0] == (ALLOC, NOSLEEP, 0, 0, 0, 0, 0)
    assert allocs[1] == alloc(BASE, CANSLEEP)


def test_rate_alloc_halves_on_cansleep_failure_down_to_floor():
    """Every allocation fails: each cycle makes one NOSLEEP attempt (fails at
    i=0, switch to CANSLEEP) and one CANSLEEP attempt (fails: rate_alloc =
    max(rate_alloc/2, 512), break): 2048 -> 1024 -> 512 -> 512."""
    spec = ["init"]
    for _ in range(3):
        spec += ["cycle", "debugfs"]
    p = predict(sc(*spec, target=1000, alloc_rules=(AllocRule(gfp=0, nth=1, count=10**6),)))
    assert [dbg(p.events, n)["rateSleepAlloc"] for n in range(3)] == [1024, 512, 512]
    ev = step_events(p.events, 1)
    assert kinds(ev, ALLOC) == [(ALLOC, NOSLEEP, 0, 0, 0, 0, 0), (ALLOC, CANSLEEP, 0, 0, 0, 0, 0)]
    v = dbg(p.events)
    assert v["primNoSleepAlloc"] == 3 and v["primNoSleepAlloc_failed"] == 3
    assert v["primCanSleepAlloc"] == 3 and v["primCanSleepAlloc_failed"] == 3


def test_rate_alloc_grows_by_16_per_multiple_after_success():
    """After halving to 1024, a slow cycle with goal > rate: i reaches rate
    (1024) with error 0 -> rate_alloc = min(1024 + (1024/1024)*16, 2048) = 1040."""
    rules = (AllocRule(gfp=NOSLEEP, scope=1, nth=1), AllocRule(gfp=CANSLEEP, scope=1, nth=1))
    p = predict(sc("init", "cycle", "debugfs", "cycle", "debugfs", target=10**6, alloc_rules=rules))
    assert dbg(p.events, 0)["rateSleepAlloc"] == 1024
    assert count(step_events(p.events, 3), BACKDOOR, f2=LOCK) == 1025
    assert dbg(p.events, 1)["rateSleepAlloc"] == 1040


def test_nosleep_failure_in_last_iteration_blocks_rate_increase():
    """goal == 1, NOSLEEP fails at i=0: slow=4, switch, i++ ends the loop with
    error still -ENOMEM; no CANSLEEP attempt, no rate change."""
    p = predict(sc("init", "cycle", "debugfs", target=1, alloc_rules=(AllocRule(gfp=NOSLEEP, nth=1),)))
    assert kinds(step_events(p.events, 1), ALLOC) == [(ALLOC, NOSLEEP, 0, 0, 0, 0, 0)]
    assert dbg(p.events)["rateSleepAlloc"] == 2048


# -- refused pages ------------------------------------------------------------------
def test_refused_pages_are_kept_then_released_head_first():
    p = predict(sc("init", "cycle", "debugfs", target=2, host_rules=(HostRule(cmd=LOCK, status=5, count=3),)))
    ev = step_events(p.events, 1)
    assert ev[4:] == [
        alloc(BASE), bd(LOCK, BASE, 5), alloc(BASE + 1), bd(LOCK, BASE + 1, 5),
        alloc(BASE + 2), bd(LOCK, BASE + 2, 5), alloc(BASE + 3), bd(LOCK, BASE + 3),
        alloc(BASE + 4), bd(LOCK, BASE + 4),
        free(BASE + 2), free(BASE + 1), free(BASE), (5, 250, 1, 0, 0, 0, 0)]
    v = dbg(p.events)
    assert v["errAlloc"] == 3 and v["errFree"] == 3 and v["lock_failed"] == 3
    assert v["current"] == 2


def test_max_refused_stops_the_cycle():
    p = predict(sc("init", "cycle", "debugfs", "cycle", target=100,
                   host_rules=(HostRule(cmd=LOCK, status=5, count=16),)))
    ev = step_events(p.events, 1)
    assert count(ev, BACKDOOR, f2=LOCK) == 16 and count(ev, ALLOC) == 16
    assert kinds(ev, FREE) == [free(BASE + k) for k in range(15, -1, -1)]
    assert dbg(p.events)["current"] == 0
    # next cycle starts afresh (n_refused_pages was reset) and reaches the target
    assert count(step_events(p.events, 3), BACKDOOR, f2=LOCK, f1=MAGIC) == 100


def test_lock_notneeded_frees_page_and_stops():
    p = predict(sc("init", "cycle", target=10, host_rules=(HostRule(cmd=LOCK, status=6, nth=3),)))
    ev = step_events(p.events, 1)
    assert ev[-4:] == [alloc(BASE + 2), bd(LOCK, BASE + 2, 6), free(BASE + 2), (5, 250, 1, 0, 0, 0, 0)]


# -- deflation ----------------------------------------------------------------------
def test_deflate_rate_free_halves_on_error_and_grows_by_16():
    p = predict(sc("init", "cycle", ("set_target", 0), "cycle", "debugfs", "cycle", "debugfs", target=100,
                   host_rules=(HostRule(cmd=UNLOCK, status=4, scope=3),)))
    ev = step_events(p.events, 3)
    assert kinds(ev, BACKDOOR)[-1] == bd(UNLOCK, BASE + 99, 4)  # head = last locked page
    assert not kinds(ev, FREE)
    v = dbg(p.events, 0)
    assert v["rateFree"] == 8192 and v["current"] == 100 and v["unlock_failed"] == 1
    ev = step_events(p.events, 5)
    assert kinds(ev, FREE) == [free(BASE + k) for k in range(99, -1, -1)]
    assert dbg(p.events, 1)["rateFree"] == 8208 and dbg(p.events, 1)["current"] == 0


def test_deflate_goal_is_limited_by_rate_free():
    """Six UNLOCK failures take rate_free 16384 -> 512 (floor); then a deflate
    frees 512 pages and rate_free becomes 528; the next frees the rest."""
    rules = tuple(HostRule(cmd=UNLOCK, status=1, scope=s) for s in range(3, 9))
    p = predict(sc("init", "cycle", ("set_target", 0), ("cycle", 6), "debugfs", "cycle", "debugfs", "cycle",
                   "debugfs", target=1000, host_rules=rules))
    assert dbg(p.events, 0)["rateFree"] == 512
    assert count(step_events(p.events, 10), FREE) == 512
    assert dbg(p.events, 1)["rateFree"] == 528 and dbg(p.events, 1)["current"] == 488
    assert count(step_events(p.events, 12), FREE) == 488
    assert dbg(p.events, 2)["rateFree"] == 544


# -- reset ---------------------------------------------------------------------------
def test_host_reset_pops_and_restarts():
    p = predict(sc("init", "cycle", "host_reset", "cycle", "cycle", "debugfs", target=2))
    assert step_events(p.events, 3)[2:] == [
        (7, 0, 0, 0, 0, 0, 0), bd(GET_TARGET, TOTALRAM, 7, 0), (5, 250, 1, 0, 0, 0, 0)]
    assert step_events(p.events, 4)[2:] == [
        free(BASE + 1), free(BASE),  # pop: no UNLOCK
        bd(START, 2), bd(GUEST_ID, 1),
        (7, 0, 0, 0, 0, 0, 0), bd(GET_TARGET, TOTALRAM, 0, 2),
        alloc(BASE + 2), bd(LOCK, BASE + 2), alloc(BASE + 3), bd(LOCK, BASE + 3),
        (5, 250, 1, 0, 0, 0, 0)]
    v = dbg(p.events)
    assert v["target_stat"] == 3 and v["target_stat_failed"] == 1 and v["start"] == 2
    assert p.events[-1] == (ACCOUNT, 4, 2, 2, 2, 0, 0)


def test_reset_on_lock_frees_page_and_stops():
    p = predict(sc("init", "cycle", "cycle", target=5, host_rules=(HostRule(cmd=LOCK, status=7, nth=2),)))
    ev = step_events(p.events, 1)
    assert ev[-5:] == [bd(LOCK, BASE), alloc(BASE + 1), bd(LOCK, BASE + 1, 7), free(BASE + 1),
                       (5, 250, 1, 0, 0, 0, 0)]
    ev2 = step_events(p.events, 2)
    assert ev2[2:6] == [free(BASE), bd(START, 2), bd(GUEST_ID, 1), (7, 0, 0, 0, 0, 0, 0)]


def test_guest_id_failure_during_reset_is_logged():
    p = predict(sc("init", "host_reset", "cycle", "cycle",
                   host_rules=(HostRule(cmd=GUEST_ID, status=1, nth=2),)))
    ev = step_events(p.events, 3)
    assert ev[2:5] == [bd(START, 2), bd(GUEST_ID, 1, 1),
                       (PRINTK, ERR + "failed to send guest ID to the host\n", 0, 0, 0, 0, 0)]


# -- 32-bit limits ---------------------------------------------------------------------
def test_totalram_above_32_bits_skips_get_target():
    p = predict(sc("init", ("set_totalram", 1 << 32), "cycle", "debugfs", target=5))
    assert step_events(p.events, 1) == [
        (STEP_EV, 1, 7, 1 << 32, 0, 0, 0)]
    assert step_events(p.events, 2)[1:] == [(WORK_RUN, 0, 0, 0, 0, 0, 0), (7, 0, 0, 0, 0, 0, 0),
                                           (5, 250, 1, 0, 0, 0, 0)]
    v = dbg(p.events)
    assert v["target_stat"] == 0 and v["timer"] == 1


def test_target_is_truncated_to_32_bits():
    p = predict(sc("init", "cycle", "debugfs", target=(1 << 32) + 3))
    assert count(p.events, BACKDOOR, f2=LOCK) == 3
    assert dbg(p.events)["target"] == 3


def test_target_register_is_32_bits():
    """The host answers in ebx: a 64-bit target shows (and is used) mod 2**32."""
    s = sc("init", "cycle", target=(1 << 32) + 3)
    assert kinds(predict(s).events, BACKDOOR)[2] == bd(GET_TARGET, TOTALRAM, 0, 3)
    assert kinds(predict(s, register_bits=64).events, BACKDOOR)[2] == bd(GET_TARGET, TOTALRAM, 0, (1 << 32) + 3)


def test_status_is_32_bits_and_a_64_bit_status_would_not_reset():
    """STATUS 2**32 + 7 arrives as 7 in eax: a reset (the next cycle pops and
    restarts). With a 64-bit rax, check_status compares the unsigned long (no
    reset_required) while hv_status = (u32)status == 7 still frees the page."""
    big7 = (1 << 32) + 7
    s = sc("init", "cycle", "cycle", target=3, host_rules=(HostRule(cmd=LOCK, status=big7, nth=2),))
    p = predict(s)
    assert step_events(p.events, 1)[-4:] == [alloc(BASE + 1), bd(LOCK, BASE + 1, 7), free(BASE + 1),
                                             (5, 250, 1, 0, 0, 0, 0)]
    assert kinds(step_events(p.events, 2), BACKDOOR)[0] == bd(START, 2)
    p64 = predict(s, register_bits=64)
    assert step_events(p64.events, 1)[-4:] == [alloc(BASE + 1), bd(LOCK, BASE + 1, big7), free(BASE + 1),
                                               (5, 250, 1, 0, 0, 0, 0)]
    assert kinds(step_events(p64.events, 2), BACKDOOR)[0] == bd(GET_TARGET, TOTALRAM, 0, 3)


def test_statics_survive_reload_in_userspace_but_not_in_kernel():
    s = sc("init", "exit", "init", "debugfs", target=0)
    assert dbg(predict(s).events)["start"] == 3  # init, exit, init
    assert dbg(predict(s, statics_survive_reload=False).events)["start"] == 1


def test_pfn_above_32_bits_is_leaked_and_allocation_repeats():
    """send_lock_page returns -1 without a call; reserve_page neither frees nor
    lists the page (`locked > 0` false) and allocates again (`locked != 0`)."""
    big = (1 << 32) + 5
    p = predict(sc("init", "cycle", "debugfs", "exit", target=2,
                   alloc_rules=(AllocRule(gfp=0, nth=1, fail=False, pfn=big),)))
    ev = step_events(p.events, 1)
    assert ev[4:9] == [alloc(big), alloc(BASE), bd(LOCK, BASE), alloc(BASE + 1), bd(LOCK, BASE + 1)]
    v = dbg(p.events)
    assert v["primNoSleepAlloc"] == 3 and v["lock"] == 2 and v["current"] == 2
    assert p.events[-1] == (ACCOUNT, 3, 2, 1, 0, 1, 0)


def test_all_pfns_above_32_bits_loop_forever():
    p = predict(sc("init", "cycle", target=1, pfn_base=1 << 32), max_events=5000)
    assert p.hung and p.events[-1][0] == ALLOC and p.account is None


# -- debugfs text ----------------------------------------------------------------------
def test_debugfs_text_byte_for_byte():
    p = predict(sc("init", "cycle", "debugfs", target=3))
    text = [e for e in p.events if e[0] == 9][0][1]
    assert text == (
        "target:                    3 pages\n"
        "current:                   3 pages\n"
        "rateNoSleepAlloc:      16384 pages/sec\n"
        "rateSleepAlloc:         2048 pages/sec\n"
        "rateFree:              16384 pages/sec\n"
        "\n"
        "timer:                     1\n"
        "start:                     1 (   0 failed)\n"
        "guestType:                 1 (   0 failed)\n"
        "lock:                      3 (   0 failed)\n"
        "unlock:                    0 (   0 failed)\n"
        "target:                    1 (   0 failed)\n"
        "primNoSleepAlloc:          3 (   0 failed)\n"
        "primCanSleepAlloc:         0 (   0 failed)\n"
        "primFree:                  0\n"
        "errAlloc:                  0\n"
        "errFree:                   0\n")


def test_debugfs_prints_unsigned_target_as_signed():
    p = predict(sc("init", "cycle", "debugfs", target=0xFFFFFFFF,
                   alloc_rules=(AllocRule(gfp=0, nth=1, count=10**6),)))
    text = [e for e in p.events if e[0] == 9][0][1]
    assert text.startswith("target:                   -1 pages\n")


# -- rules, accounting and diagnostics ---------------------------------------------------
def test_host_rule_scope_and_default_result():
    rules = (HostRule(cmd=GET_TARGET, status=0, scope=2, result=None),
             HostRule(cmd=GET_TARGET, status=0, scope=-1, nth=1, result=1))
    p = predict(sc("init", "cycle", "cycle", target=4, host_rules=rules))
    assert kinds(step_events(p.events, 1), BACKDOOR)[0] == bd(GET_TARGET, TOTALRAM, 0, 1)
    assert kinds(step_events(p.events, 2), BACKDOOR)[0] == bd(GET_TARGET, TOTALRAM, 0, 4)


def test_alloc_rule_pfn_does_not_consume_sequence_number():
    p = predict(sc("init", "cycle", target=3,
                   alloc_rules=(AllocRule(gfp=NOSLEEP, nth=2, fail=False, pfn=777),)))
    assert [e[3] for e in kinds(p.events, ALLOC)] == [BASE, 777, BASE + 1]


def test_snapshots_and_state_at():
    s = sc("init", "cycle", "cycle", target=5)
    p = predict(s)
    assert [x.step_index for x in p.snapshots] == [0, 1, 2, -1]
    assert p.snapshots[2].balloon["size"] == 5 and p.snapshots[2].cycle == 1
    mid = state_at(s, 12)  # STEP, START, GUEST_ID, CREATE, QUEUE, INIT, STEP, RUN, SI, GET_TARGET, ALLOC, LOCK
    assert mid.stopped and mid.balloon.size == 1 and len(mid.events) == 12


def test_interpreted_and_specialized_agree():
    rules = (HostRule(cmd=LOCK, status=5, nth=3, count=20), HostRule(cmd=UNLOCK, status=7, nth=2))
    s = sc("init", ("cycle", 3), "debugfs", ("set_target", 10), ("cycle", 3), "host_reset", ("cycle", 2),
           "debugfs", "exit", target=20000, host_rules=rules,
           alloc_rules=(AllocRule(gfp=NOSLEEP, nth=5000), AllocRule(gfp=CANSLEEP, nth=100)))
    a, b = predict(s), predict(s, interpreted=True)
    assert a.events == b.events and len(a.events) > 10000


def test_prediction_speed():
    """A 16,385-page inflate cycle: well under 10 us per backdoor call (measured ~1.1 us)."""
    s = sc("init", "cycle", target=10**6)
    predict(s)  # warm up (specialization)
    t = time.perf_counter()
    p = predict(s)
    dt = time.perf_counter() - t
    n = count(p.events, BACKDOOR)
    assert n == 16388
    assert dt / n < 10e-6


def test_pages_sharing_a_rule_pfn_are_told_apart():
    """Two pages get PFN 0x500 from rules. LOCK(0x500) locks the newest page
    with that PFN each time, so both are locked; the deflate UNLOCK(0x500)
    frees the head page (the newer) -- the older one stays held *and locked*."""
    rules = (AllocRule(gfp=0, nth=1, fail=False, pfn=0x500), AllocRule(gfp=0, nth=2, fail=False, pfn=0x500))
    p = predict(sc("init", "cycle", ("set_target", 1), "cycle", target=2, alloc_rules=rules))
    assert kinds(p.events, FREE) == [free(0x500)]
    assert p.events[-1] == (ACCOUNT, 2, 1, 1, 1, 0, 0)


def test_reset_pop_leaves_pages_unlocked_after_restart():
    """After a reset the pages are popped without UNLOCK; the START that
    follows starts a new lock epoch, so a page locked before it no longer
    counts as host-locked; here a PFN >= 2**32 page stays held and unlocked."""
    big = (1 << 32) + 1
    p = predict(sc("init", "cycle", "host_reset", ("cycle", 2), target=2,
                   alloc_rules=(AllocRule(gfp=0, nth=1, fail=False, pfn=big),)))
    assert p.events[-1] == (ACCOUNT, 5, 2, 3, 2, 1, 0)
