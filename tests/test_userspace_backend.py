"""The userspace backend: the seed driver compiled against the shims, run by
the harness on hand-written scenario scripts (specs/trace.md). Each test
states what the seed does in that environment, as observed through the trace."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from balloonspec import SEED_DRIVER
from balloonspec.driver import build, userspace
from balloonspec.model import trace
from balloonspec.model.trace import Kind

START, GET_TARGET, LOCK, UNLOCK, GUEST_ID = range(5)
MAGIC, PORT = 0x456C6D6F, 0x5670
NOSLEEP, CANSLEEP = 0x2002, 0x100CC2
PFN_BASE = 0x10000
TOTALRAM = 262144  # the harness's default sysinfo totalram
RESET = 7


@pytest.fixture(scope="module")
def seed() -> str:
    return str(build.build_driver(SEED_DRIVER))


def run(binary, script: str, **kw) -> userspace.RunResult:
    return userspace.run_scenario(binary, script, timeout_s=kw.pop("timeout_s", 30), **kw)


def run_ok(binary, script: str) -> list[tuple]:
    r = run(binary, script)
    assert r.verdict == "ok", (r.verdict, r.stderr_tail)
    assert r.events[-1][0] == Kind.ACCOUNT
    return r.events


def step_events(events, index: int) -> list[tuple]:
    """The events of step `index`, without its STEP event."""
    out, inside = [], False
    for e in events:
        if e[0] in (Kind.STEP, Kind.ACCOUNT):
            inside = e[0] == Kind.STEP and e[1] == index
        elif inside:
            out.append(e)
    return out


def calls(events, cmd=None) -> list[tuple]:
    """(cmd, arg, status) of each backdoor call, optionally of one command."""
    return [(e[2], e[3], e[5]) for e in events
            if e[0] == Kind.BACKDOOR and (cmd is None or e[2] == cmd)]


def allocs(events) -> list[tuple]:
    """(gfp, pfn or None) of each alloc_page."""
    return [(e[1], e[3] if e[2] else None) for e in events if e[0] == Kind.ALLOC]


def frees(events) -> list[int]:
    return [e[1] for e in events if e[0] == Kind.FREE]


def account(events) -> dict:
    assert events[-1][0] == Kind.ACCOUNT
    return dict(zip(trace.FIELD_NAMES[Kind.ACCOUNT], events[-1][1:]))


def debugfs_text(events) -> str:
    texts = [e[1] for e in events if e[0] == Kind.DEBUGFS_READ]
    assert len(texts) == 1
    return texts[0]


def debugfs_value(text: str, label: str) -> int:
    line = next(l for l in text.splitlines() if l.startswith(label + ":"))
    return int(line.split()[1])


def mutant(tmp_path, old: str, new: str) -> Path:
    """A copy of the seed with one edit, written under tmp_path."""
    src = SEED_DRIVER.read_text()
    assert src.count(old) == 1, old
    path = tmp_path / "vmw_balloon.c"
    path.write_text(src.replace(old, new))
    return path


def pfn(k: int) -> int:
    return PFN_BASE + k


# -- init, cycles, debugfs, exit ---------------------------------------------------

def test_init_sends_start_then_guest_id_and_queues_work(seed):
    ev = step_events(run_ok(seed, "step init\n"), 0)
    assert ev == [
        (Kind.BACKDOOR, MAGIC, START, 2, PORT, 0, 0),
        (Kind.BACKDOOR, MAGIC, GUEST_ID, 1, PORT, 0, 0),
        (Kind.DEBUGFS_CREATE, 0o444, "vmmemctl", 0, 0, 0, 0),
        (Kind.QUEUE_WORK, 0, 1, 0, 0, 0, 0),
        (Kind.INIT, 0, 0, 0, 0, 0, 0),
    ]


def test_one_get_target_per_cycle_carrying_totalram(seed):
    script = "step init\nstep cycle\nstep cycle\nstep set_totalram 5000\nstep cycle\n"
    events = run_ok(seed, script)
    for index, totalram in ((1, TOTALRAM), (2, TOTALRAM), (4, 5000)):
        ev = step_events(events, index)
        assert ev[:2] == [(Kind.WORK_RUN,) + (0,) * 6, (Kind.SI_MEMINFO,) + (0,) * 6]
        assert calls(ev) == [(GET_TARGET, totalram, 0)]
        assert ev[-1] == (Kind.QUEUE_WORK, 250, 1, 0, 0, 0, 0)  # HZ, freezable wq


def test_totalram_beyond_32_bits_skips_get_target(seed):
    events = run_ok(seed, "step init\nstep set_totalram 4294967296\nstep cycle\n")
    ev = step_events(events, 2)
    assert calls(ev) == []
    assert [e[0] for e in ev] == [Kind.WORK_RUN, Kind.SI_MEMINFO, Kind.QUEUE_WORK]


def test_inflate_locks_each_page_then_deflate_unlocks(seed):
    script = "target 3\nstep init\nstep cycle\nstep set_target 1\nstep cycle\nstep debugfs\n"
    events = run_ok(seed, script)
    inflate = step_events(events, 1)
    assert allocs(inflate) == [(NOSLEEP, pfn(0)), (NOSLEEP, pfn(1)), (NOSLEEP, pfn(2))]
    assert calls(inflate, LOCK) == [(LOCK, pfn(k), 0) for k in range(3)]
    deflate = step_events(events, 3)
    # The balloon list is LIFO: the newest pages go back first.
    assert calls(deflate, UNLOCK) == [(UNLOCK, pfn(2), 0), (UNLOCK, pfn(1), 0)]
    assert frees(deflate) == [pfn(2), pfn(1)]
    text = debugfs_text(events)
    assert debugfs_value(text, "target") == 1
    assert debugfs_value(text, "current") == 1
    assert "rateFree:              16384 pages/sec" in text
    assert account(events) == dict(allocated=3, freed=2, held=1, locked=1, leaked=0, bad_frees=0)


def test_cycle_without_queued_work_records_only_the_step(seed):
    events = run_ok(seed, "step cycle\nstep init\nstep exit\nstep cycle\n")
    assert step_events(events, 0) == [] and step_events(events, 3) == []


def test_exit_with_pages_in_balloon_restarts_then_frees_all(seed):
    events = run_ok(seed, "target 5\nstep init\nstep cycle\nstep exit\nstep debugfs\n")
    ev = step_events(events, 2)
    assert ev[0] == (Kind.CANCEL_WORK, 1, 0, 0, 0, 0, 0)
    assert ev[1][0] == Kind.DEBUGFS_REMOVE
    assert ev[2] == (Kind.BACKDOOR, MAGIC, START, 2, PORT, 0, 0)
    assert calls(ev) == [(START, 2, 0)]  # no UNLOCK: the START forgets the locks
    assert sorted(frees(ev)) == [pfn(k) for k in range(5)]
    assert ev[-1][0] == Kind.EXIT
    assert step_events(events, 3) == []  # the debugfs file is gone
    assert account(events) == dict(allocated=5, freed=5, held=0, locked=0, leaked=0, bad_frees=0)


def test_no_vmware_hypervisor_fails_init_without_backdoor(seed):
    events = run_ok(seed, "hypervisor none\nstep init\nstep exit\n")
    assert step_events(events, 0) == [(Kind.INIT, 2**64 - 19, 0, 0, 0, 0, 0)]  # -ENODEV
    assert step_events(events, 1) == []  # not loaded, so no exit


def test_debugfs_error_fails_init_with_message(seed):
    ev = step_events(run_ok(seed, "debugfs_error 12\nstep init\n"), 0)
    assert ev[2] == (Kind.DEBUGFS_CREATE, 0o444, "vmmemctl", 2**64 - 12, 0, 0, 0)
    assert ev[3] == (Kind.PRINTK, "\x013vmw_balloon: failed to create debugfs entry, error: -12\n",
                     0, 0, 0, 0, 0)
    assert ev[4] == (Kind.INIT, 2**64 - 12, 0, 0, 0, 0, 0)


def test_without_debugfs_config_nothing_is_created(seed):
    binary = build.build_driver(SEED_DRIVER, debugfs=False)
    assert binary != seed
    events = run_ok(binary, "target 2\nstep init\nstep cycle\nstep debugfs\nstep exit\n")
    assert not [e for e in events if e[0] in (Kind.DEBUGFS_CREATE, Kind.DEBUGFS_READ,
                                             Kind.DEBUGFS_REMOVE)]
    assert account(events)["freed"] == 2


# -- host refusals and resets ------------------------------------------------------

@pytest.mark.parametrize("status", [1, 2, 3, 4, 5, 8])
def test_refused_lock_goes_to_refused_list_and_is_freed_after_the_cycle(seed, status):
    script = f"target 4\nhost_rule {LOCK} 1 2 1 {status} -\nstep init\nstep cycle\nstep debugfs\n"
    events = run_ok(seed, script)
    ev = step_events(events, 1)
    assert calls(ev, LOCK) == [(LOCK, pfn(0), 0), (LOCK, pfn(1), status)] + \
        [(LOCK, pfn(k), 0) for k in (2, 3, 4)]
    assert frees(ev) == [pfn(1)]  # released at the end of the inflation cycle
    assert ev.index((Kind.FREE, pfn(1), 0, 0, 0, 0, 0)) > max(
        i for i, e in enumerate(ev) if e[0] == Kind.BACKDOOR)
    text = debugfs_text(events)
    assert debugfs_value(text, "current") == 4
    assert debugfs_value(text, "errAlloc") == 1 and debugfs_value(text, "errFree") == 1


def test_sixteen_refused_locks_end_the_cycle(seed):
    events = run_ok(seed, f"target 100\nhost_rule {LOCK} 1 1 100 3 -\nstep init\nstep cycle\n")
    ev = step_events(events, 1)
    assert len(calls(ev, LOCK)) == 16
    assert frees(ev) == [pfn(k) for k in range(15, -1, -1)]


def test_lock_notneeded_frees_the_page_and_stops_inflating(seed):
    events = run_ok(seed, f"target 4\nhost_rule {LOCK} 1 2 1 6 -\nstep init\nstep cycle\nstep cycle\n")
    ev = step_events(events, 1)
    assert calls(ev, LOCK) == [(LOCK, pfn(0), 0), (LOCK, pfn(1), 6)]
    assert frees(ev) == [pfn(1)]
    # No reset: the next cycle simply goes on inflating.
    assert calls(step_events(events, 2)) == [(GET_TARGET, TOTALRAM, 0)] + \
        [(LOCK, pfn(k), 0) for k in (2, 3, 4)]


def test_lock_reset_frees_the_page_and_resets_next_cycle(seed):
    events = run_ok(seed, f"target 4\nhost_rule {LOCK} 1 2 1 {RESET} -\nstep init\nstep cycle\nstep cycle\n")
    ev = step_events(events, 1)
    assert calls(ev, LOCK) == [(LOCK, pfn(0), 0), (LOCK, pfn(1), RESET)]
    assert frees(ev) == [pfn(1)]
    nxt = step_events(events, 2)
    assert frees(nxt) == [pfn(0)]  # popped without UNLOCK
    assert calls(nxt)[:3] == [(START, 2, 0), (GUEST_ID, 1, 0), (GET_TARGET, TOTALRAM, 0)]
    assert calls(nxt, LOCK) == [(LOCK, pfn(k), 0) for k in (2, 3, 4, 5)]


@pytest.mark.parametrize("cmd,message", [
    (START, "failed to send start command to the host"),
    (GUEST_ID, "failed to send guest ID to the host"),
])
def test_reset_during_init_fails_init(seed, cmd, message):
    ev = step_events(run_ok(seed, f"host_rule {cmd} 0 1 1 {RESET} -\nstep init\n"), 0)
    assert calls(ev)[-1] == (cmd, 2 if cmd == START else 1, RESET)
    assert (Kind.PRINTK, f"\x013vmw_balloon: {message}\n", 0, 0, 0, 0, 0) in ev
    assert ev[-1] == (Kind.INIT, 2**64 - 5, 0, 0, 0, 0, 0)  # -EIO


def test_get_target_reset_skips_the_cycle_then_restarts(seed):
    events = run_ok(seed, f"target 2\nhost_rule {GET_TARGET} 1 1 1 {RESET} -\nstep init\nstep cycle\nstep cycle\n")
    assert calls(step_events(events, 1)) == [(GET_TARGET, TOTALRAM, RESET)]
    assert calls(step_events(events, 2)) == [(START, 2, 0), (GUEST_ID, 1, 0), (GET_TARGET, TOTALRAM, 0),
                                             (LOCK, pfn(0), 0), (LOCK, pfn(1), 0)]


def test_unlock_reset_keeps_the_page_then_pops_the_balloon(seed):
    script = (f"target 3\nhost_rule {UNLOCK} 3 1 1 {RESET} -\n"
              "step init\nstep cycle\nstep set_target 0\nstep cycle\nstep cycle\nstep debugfs\n")
    events = run_ok(seed, script)
    assert calls(step_events(events, 3)) == [(GET_TARGET, TOTALRAM, 0), (UNLOCK, pfn(2), RESET)]
    assert frees(step_events(events, 3)) == []
    nxt = step_events(events, 4)
    assert frees(nxt) == [pfn(2), pfn(1), pfn(0)]
    assert calls(nxt) == [(START, 2, 0), (GUEST_ID, 1, 0), (GET_TARGET, TOTALRAM, 0)]
    text = debugfs_text(events)
    assert debugfs_value(text, "rateFree") == 8192  # halved on the failed UNLOCK


def test_host_reset_step_answers_reset_until_start(seed):
    script = "target 1\nstep init\nstep cycle\nstep host_reset\nstep cycle\nstep cycle\n"
    events = run_ok(seed, script)
    assert calls(step_events(events, 3)) == [(GET_TARGET, TOTALRAM, RESET)]
    assert calls(step_events(events, 4))[:2] == [(START, 2, 0), (GUEST_ID, 1, 0)]
    assert frees(step_events(events, 4)) == [pfn(0)]


def test_refused_unlock_keeps_the_page_and_halves_the_free_rate(seed):
    script = (f"target 3\nhost_rule {UNLOCK} -1 1 1 4 -\n"
              "step init\nstep cycle\nstep set_target 0\nstep cycle\nstep debugfs\nstep cycle\n")
    events = run_ok(seed, script)
    assert calls(step_events(events, 3), UNLOCK) == [(UNLOCK, pfn(2), 4)]
    assert frees(step_events(events, 3)) == []
    assert debugfs_value(debugfs_text(events), "rateFree") == 8192
    assert frees(step_events(events, 5)) == [pfn(2), pfn(1), pfn(0)]


# -- the allocator ----------------------------------------------------------------

def test_nosleep_failure_switches_to_sleeping_allocations(seed):
    script = f"target 6\nalloc_rule {NOSLEEP} 1 3 1 fail 0\nstep init\nstep cycle\nstep debugfs\n"
    events = run_ok(seed, script)
    assert allocs(step_events(events, 1)) == [(NOSLEEP, pfn(0)), (NOSLEEP, pfn(1)), (NOSLEEP, None)] + \
        [(CANSLEEP, pfn(k)) for k in (2, 3, 4)]
    text = debugfs_text(events)
    assert "primNoSleepAlloc:          3 (   1 failed)" in text
    assert "primCanSleepAlloc:         3 (   0 failed)" in text


def test_cansleep_failure_halves_the_sleeping_rate(seed):
    script = (f"target 6\nalloc_rule {NOSLEEP} 1 1 1 fail 0\nalloc_rule {CANSLEEP} 1 2 1 fail 0\n"
              "step init\nstep cycle\nstep debugfs\n")
    events = run_ok(seed, script)
    assert allocs(step_events(events, 1)) == [(NOSLEEP, None), (CANSLEEP, pfn(0)), (CANSLEEP, None)]
    assert debugfs_value(debugfs_text(events), "rateSleepAlloc") == 1024


def test_pfn_beyond_32_bits_is_never_locked_and_leaks(seed):
    """vmballoon_send_lock_page returns -1 without a LOCK: reserve_page neither
    keeps nor frees that page and allocates another one."""
    events = run_ok(seed, "target 2\nalloc_rule 0 1 2 1 pfn 4294967296\nstep init\nstep cycle\nstep exit\n")
    ev = step_events(events, 1)
    assert allocs(ev) == [(NOSLEEP, pfn(0)), (NOSLEEP, 2**32), (NOSLEEP, pfn(1))]
    assert calls(ev, LOCK) == [(LOCK, pfn(0), 0), (LOCK, pfn(1), 0)]
    assert 2**32 not in frees(events)
    assert account(events) == dict(allocated=3, freed=2, held=1, locked=0, leaked=1, bad_frees=0)


def test_alloc_rule_pfn_does_not_consume_a_sequential_pfn(seed):
    events = run_ok(seed, "target 3\nalloc_rule 0 -1 2 1 pfn 77\nstep init\nstep cycle\n")
    assert allocs(events) == [(NOSLEEP, pfn(0)), (NOSLEEP, 77), (NOSLEEP, pfn(1))]
    assert account(events)["locked"] == 3


# -- broken drivers and harness robustness ---------------------------------------------

def test_crashing_driver_keeps_the_trace_so_far(seed, tmp_path):
    src = mutant(tmp_path, "\tif (b->reset_required)\n\t\tvmballoon_reset(b);",
                 "\tif (b->reset_required)\n\t\tvmballoon_reset(b);\n\t*(volatile int *)NULL = 0;")
    r = run(build.build_driver(src), "step init\nstep cycle\n")
    assert r.verdict == "crash"
    assert "balloonspec-crash: SIGSEGV" in r.stderr_tail and "addr=0x0" in r.stderr_tail
    assert r.events[-1][0] == Kind.WORK_RUN
    assert (Kind.INIT, 0, 0, 0, 0, 0, 0) in r.events


def test_hanging_driver_is_stopped_and_keeps_the_trace(seed, tmp_path):
    src = mutant(tmp_path, "\tSTATS_INC(b->stats.timer);\n", "\tSTATS_INC(b->stats.timer);\n\tfor (;;)\n\t\t;\n")
    r = run(build.build_driver(src), "step init\nstep cycle\n", timeout_s=1)
    assert r.verdict == "hang" and r.returncode is None
    assert "balloonspec-stopped: SIGTERM" in r.stderr_tail
    assert r.events[-1][0] == Kind.WORK_RUN


def test_driver_that_does_not_compile_raises_build_error(tmp_path):
    src = mutant(tmp_path, "return -ENODEV;", "return -ENODEV")
    with pytest.raises(build.BuildError) as e:
        build.build_driver(src)
    assert e.value.source_path == src
    assert "error" in e.value.stderr_tail and "vmw_balloon.c" in e.value.stderr_tail


def test_wrong_magic_is_recorded_and_answered_all_ones(tmp_path):
    src = mutant(tmp_path, "0x456c6d6f", "0x456c6d6e")
    events = run_ok(build.build_driver(src), "step init\n")
    assert calls(events) == [(START, 2, 0xFFFFFFFF)]
    assert events[1][1] == 0x456C6D6E
    assert step_events(events, 0)[-1] == (Kind.INIT, 2**64 - 5, 0, 0, 0, 0, 0)


def test_double_and_foreign_frees_are_recorded(tmp_path):
    src = mutant(tmp_path, "\t\tlist_del(&page->lru);\n\t\t__free_page(page);\n\t\tSTATS_INC(b->stats.free);",
                 "\t\tlist_del(&page->lru);\n\t\t__free_page(page);\n\t\t__free_page(page);\n"
                 "\t\t__free_page((struct page *)b);\n\t\tSTATS_INC(b->stats.free);")
    events = run_ok(build.build_driver(src), "target 2\nstep init\nstep cycle\nstep exit\n")
    assert [e[1:3] for e in step_events(events, 2) if e[0] == Kind.FREE] == [
        (pfn(1), 0), (pfn(1), 1), (0, 2), (pfn(0), 0), (pfn(0), 1), (0, 2)]
    assert account(events) == dict(allocated=2, freed=2, held=0, locked=0, leaked=0, bad_frees=4)


def test_aborting_driver(tmp_path):
    src = mutant(tmp_path, "\tSTATS_INC(b->stats.timer);\n", "\tSTATS_INC(b->stats.timer);\n\t__builtin_abort();\n")
    r = run(build.build_driver(src), "step init\nstep cycle\n")
    assert r.verdict == "abort" and "balloonspec-crash: SIGABRT" in r.stderr_tail
    assert r.events[-1][0] == Kind.WORK_RUN


def test_malformed_script_is_a_harness_error(seed):
    r = run(seed, "step init\nstep fly\n")
    assert r.verdict == "error" and "line 2" in r.stderr_tail


# -- sanitizer build ---------------------------------------------------------------

def test_sanitizer_build_runs_the_seed_cleanly():
    binary = build.build_driver(SEED_DRIVER, sanitize=True)
    events = run_ok(binary, "target 40\nstep init\nstep cycle\nstep set_target 10\nstep cycle\n"
                            "step host_reset\nstep cycle\nstep cycle\nstep debugfs\nstep exit\n")
    # 40 inflated, 30 deflated, 10 popped by the reset, 10 inflated again, 10 popped at exit
    assert account(events) == dict(allocated=50, freed=50, held=0, locked=0, leaked=0, bad_frees=0)


def test_sanitizer_build_catches_use_after_free(tmp_path):
    src = mutant(tmp_path, "\t\tlist_del(&page->lru);\n\t\t__free_page(page);\n\t\tSTATS_INC(b->stats.free);",
                 "\t\t__free_page(page);\n\t\tlist_del(&page->lru);\n\t\tSTATS_INC(b->stats.free);")
    r = run(build.build_driver(src, sanitize=True), "target 2\nstep init\nstep cycle\nstep exit\n")
    assert r.verdict == "sanitizer"
    assert "AddressSanitizer: use-after-poison" in r.stderr_tail
    assert r.events[-1] == (Kind.FREE, pfn(1), 0, 0, 0, 0, 0)  # flushed by the death callback


def test_sanitizer_build_catches_undefined_behaviour(tmp_path):
    # target 0 makes the shift exponent 32
    src = mutant(tmp_path, "\t\tb->target = target;\n", "\t\tb->target = target;\n\t\tb->size += 1 << (32 - target);\n")
    r = run(build.build_driver(src, sanitize=True), "step init\nstep cycle\n")
    assert r.verdict == "sanitizer"
    assert "runtime error: shift exponent 32" in r.stderr_tail


# -- builds, bench mode, scale --------------------------------------------------------

def test_builds_are_cached_by_content(tmp_path, monkeypatch):
    monkeypatch.setenv("BALLOONSPEC_CACHE", str(tmp_path / "cache"))
    a = build.build_driver(SEED_DRIVER)
    assert build.build_driver(SEED_DRIVER) == a
    copy = tmp_path / "copy.c"
    copy.write_bytes(SEED_DRIVER.read_bytes())
    assert build.build_driver(copy) == a
    assert build.build_driver(SEED_DRIVER, debugfs=False) != a


def test_coverage_build_writes_gcov_data_next_to_the_binary(tmp_path, monkeypatch):
    monkeypatch.setenv("BALLOONSPEC_CACHE", str(tmp_path / "cache"))
    binary = build.build_driver(SEED_DRIVER, coverage=True)
    run_ok(binary, "target 1\nstep init\nstep cycle\n")
    assert (binary.parent / "vmw_balloon.gcno").exists()
    assert (binary.parent / "vmw_balloon.gcda").exists()


def test_floor_bench_mode_reports_a_call_rate(seed):
    r = run(seed, "target 100\nstep init\nstep cycle\n", env={"BALLOONSPEC_BENCH": "floor"})
    assert r.verdict == "ok" and [e[0] for e in r.events] == [Kind.ACCOUNT]
    assert "balloonspec-bench: mode=floor calls=103 " in r.stderr_tail


def bench_seconds(binary, script: str, mode: str) -> float:
    r = run(binary, script, env={"BALLOONSPEC_BENCH": mode}, decode_events=False)
    assert r.verdict == "ok", r.stderr_tail
    return float(re.search(r"seconds=([0-9.]+)", r.stderr_tail).group(1))


def test_trace_capture_costs_less_than_twice_the_bare_trap(seed):
    """The floor mode answers every call with an empty host and records nothing."""
    script = "step init\n" + "step set_target 16384\nstep cycle\nstep set_target 0\nstep cycle\n" * 4
    floor = min(bench_seconds(seed, script, "floor") for _ in range(2))
    traced = min(bench_seconds(seed, script, "trace") for _ in range(2))
    assert traced < 2 * floor, (traced, floor)


@pytest.mark.slow
def test_four_million_pages_inflate_and_deflate(seed):
    n = 4194304
    script = "\n".join(["sysinfo 1 16777216 2 3 4 5 6 7 8 9 4096", "step init", f"step set_target {n}",
                        *["step cycle"] * 257, "step set_target 0", *["step cycle"] * 257, "step exit"])
    r = run(seed, script + "\n", timeout_s=300, decode_events=False)
    assert r.verdict == "ok", r.stderr_tail
    assert r.records[-1].tolist() == [Kind.ACCOUNT, n, n, 0, 0, 0, 0]
    assert int((r.records[:, 0] == Kind.BACKDOOR).sum()) == 2 * n + 2 + 514 + 1  # init, one GET_TARGET per cycle, exit
