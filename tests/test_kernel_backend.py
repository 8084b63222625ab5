"""The in-kernel backend: driver modules loaded, unmodified, into Debian's
kernel under QEMU TCG; their backdoor answered by balloonspec_host.ko
(kprobes on the driver's `inl` sites) and the rest of their environment
(allocator, si_meminfo, debugfs, the delayed work, printk, cond_resched) by
the same module, all from the scenario engine the userspace backend uses.

Each test says what the driver does in that environment as the kernel
backend observes it. Skipped, with the reason, where QEMU or the kernel is
not installed (`balloonspec setup-kernel` installs them)."""
from __future__ import annotations

import glob
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from balloonspec import SEED_DRIVER
from balloonspec.model.scenario import AllocRule, Scenario, steps

pytestmark = pytest.mark.kernel

START, GET_TARGET, LOCK, UNLOCK, GUEST_ID = range(5)
MAGIC, PORT = 0x456C6D6F, 0x5670
(BACKDOOR, ALLOC, FREE, COND_RESCHED, QUEUE_WORK, CANCEL_WORK, SI_MEMINFO, DEBUGFS_CREATE,
 DEBUGFS_READ, DEBUGFS_REMOVE, INIT, EXIT, PRINTK, WORK_RUN, STEP, ACCOUNT) = range(1, 17)
NOSLEEP = 0x2002                 # __GFP_HIGHMEM | __GFP_NOWARN
U64 = 2**64


def _kernel_version():
    from balloonspec.driver.kernel import setup
    try:
        return setup.kernel_version()
    except RuntimeError:
        return None


if shutil.which("qemu-system-x86_64") is None:
    pytest.skip("qemu-system-x86_64 not installed (balloonspec setup-kernel)",
                allow_module_level=True)
if _kernel_version() is None:
    pytest.skip("no kernel image + headers installed (balloonspec setup-kernel)",
                allow_module_level=True)

from balloonspec.driver.kernel.build import BuildError, build_module, module_name  # noqa: E402
from balloonspec.driver.kernel_backend import Options, run_scenarios_kernel, step_events  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from mutants import MUTANTS  # noqa: E402

INFLATE_DEFLATE = """\
# inflate to 20000 pages over two cycles, then deflate to 0 over two
target 20000
step init
step cycle
step cycle
step debugfs
step set_target 0
step cycle
step cycle
step debugfs
step exit
"""

HOST_RESET = """\
# the host forgets the guest between two cycles: the next call gets
# ERROR_RESET, the driver restarts the protocol (START, GUEST_ID)
target 5
step init
step cycle
step host_reset
step cycle
step cycle
step exit
"""

START_BUSY = """\
# START answered BUSY once: init fails; a second init loads it afresh
target 5
host_rule 0 -1 1 1 3 -
step init
step init
step exit
"""

# the 3rd NOSLEEP allocation of the first cycle fails (scripted), and every
# allocation of the second cycle; the allocator is never asked for those
ALLOC_FAILS_SCENARIO = Scenario(id="alloc_fails", target=5000,
                                alloc_rules=(AllocRule(gfp=0x2002, scope=1, nth=3),
                                             AllocRule(gfp=0, scope=2, nth=1, count=100000)),
                                steps=steps("init", ("cycle", 2), "exit"))
ALLOC_FAILS = ALLOC_FAILS_SCENARIO.to_script()

SYSINFO = """\
# si_meminfo reports the scenario's fields: GET_TARGET's argument is its
# totalram, then the value set_totalram gives
target 3
sysinfo 1 4294967295 3 4 5 6 7 8 9 10 4096
step init
step cycle
step set_totalram 131072
step cycle
step exit
"""

DEBUGFS_ERROR = """\
# debugfs_create_file fails with -ENOMEM: init fails with it, no file
target 3
debugfs_error 12
step init
step debugfs
step exit
"""

NO_DEBUGFS = """\
# a build without CONFIG_DEBUG_FS: no file, nothing to read
target 3
step init
step cycle
step debugfs
step exit
"""

NOT_VMWARE = "hypervisor none\nstep init\nstep exit\n"


def calls(events, cmd=None):
    return [e for e in events if e[0] == BACKDOOR and (cmd is None or e[2] == cmd)]


def kinds(events, kind):
    return [e for e in events if e[0] == kind]


def current_pages(debugfs_text):
    return int(re.search(r"current:\s+(\d+) pages", debugfs_text).group(1))


@pytest.fixture(scope="module")
def seed_ko():
    return build_module(SEED_DRIVER)


@pytest.fixture(scope="module")
def seed_runs(seed_ko):
    """All seed scenarios in one call: one boot for the VMware guest
    (rmmod/insmod between scenarios), one for the machine that is not."""
    res = run_scenarios_kernel(SEED_DRIVER, [
        ("inflate_deflate", INFLATE_DEFLATE), ("host_reset", HOST_RESET),
        ("start_busy", START_BUSY), ("alloc_fails", ALLOC_FAILS), ("sysinfo", SYSINFO),
        ("debugfs_error", DEBUGFS_ERROR), ("no_debugfs", NO_DEBUGFS, Options(debugfs=False)),
        ("not_vmware", NOT_VMWARE)], timeout_s=120, bench_calls=20000)
    return {r.id: r for r in res}


def test_seed_builds(seed_ko):
    """The unmodified seed builds against the installed headers with only
    the forced-include compat header."""
    assert seed_ko.exists() and seed_ko.suffix == ".ko"


def test_seed_init_handshake(seed_runs):
    """init: START with protocol version 2, then GUEST_ID 1 (Linux), both
    answered SUCCESS; the debugfs file is created (mode 0444) and the work
    queued on system_freezable_wq with delay 0, then INIT 0."""
    r = seed_runs["inflate_deflate"]
    assert r.verdict == "ok", r.console_tail
    init = step_events(r.events, 0)
    assert [(e[1], e[2], e[3], e[4], e[5]) for e in calls(init)] == [
        (MAGIC, START, 2, PORT, 0), (MAGIC, GUEST_ID, 1, PORT, 0)]
    assert [e[0] for e in init if e[0] != BACKDOOR] == [DEBUGFS_CREATE, QUEUE_WORK, INIT]
    assert kinds(init, DEBUGFS_CREATE) == [(DEBUGFS_CREATE, 0o444, "vmmemctl", 0, 0, 0, 0)]
    assert kinds(init, QUEUE_WORK) == [(QUEUE_WORK, 0, 1, 0, 0, 0, 0)]
    assert r.stats["boot_to_init_s"] > 0


def test_seed_inflates_to_target_and_deflates(seed_runs):
    """Each cycle runs the work once, reads si_meminfo and asks GET_TARGET
    once, and ends by requeueing the work (its tail call to
    queue_delayed_work_on: 250 jiffies on system_freezable_wq). Every LOCK
    follows the ALLOC of a real page and names its PFN; the balloon reaches
    20000 pages in two cycles, the debugfs text says so, the deflate UNLOCKs
    and frees every page, and ACCOUNT ends the run with nothing held."""
    r = seed_runs["inflate_deflate"]
    ev = r.events
    for idx in (1, 2, 5, 6):
        cyc = step_events(ev, idx)
        assert cyc[0][0] == WORK_RUN and cyc[1][0] == SI_MEMINFO
        assert len(calls(cyc, GET_TARGET)) == 1
        assert len(calls(cyc, LOCK)) <= 16385
        assert cyc[-1] == (QUEUE_WORK, 250, 1, 0, 0, 0, 0)
    inflate = step_events(ev, 1) + step_events(ev, 2)
    allocs = kinds(inflate, ALLOC)
    locks = calls(inflate, LOCK)
    assert len(locks) == 20000 and all(e[5] == 0 for e in locks)
    assert [e[3] for e in allocs] == [e[3] for e in locks]
    assert all(a[1] == NOSLEEP and a[2] == 1 for a in allocs)
    assert len(kinds(inflate, COND_RESCHED)) > 0
    reads = [e[1] for e in ev if e[0] == DEBUGFS_READ]
    assert [current_pages(t) for t in reads] == [20000, 0]
    deflate = step_events(ev, 5) + step_events(ev, 6)
    unlocks = calls(deflate, UNLOCK)
    assert sorted(e[3] for e in unlocks) == sorted(e[3] for e in locks)
    assert sorted(e[1] for e in kinds(deflate, FREE)) == sorted(e[3] for e in locks)
    exit_ = step_events(ev, 8)
    assert kinds(exit_, CANCEL_WORK) == [(CANCEL_WORK, 1, 0, 0, 0, 0, 0)]
    assert kinds(exit_, DEBUGFS_REMOVE) and (EXIT, 0, 0, 0, 0, 0, 0) in exit_
    assert ev[-1] == (ACCOUNT, 20000, 20000, 0, 0, 0, 0)


def test_scripted_allocation_failures(seed_runs):
    """alloc_rule failures come from the scenario, not from the guest's
    memory: the 3rd NOSLEEP allocation of cycle 1 returns NULL, so the seed
    goes on with sleeping (GFP_HIGHUSER) allocations, which succeed; in
    cycle 2 every allocation fails. No unscripted failure was recorded, and
    the trace is the model's, PFNs renamed."""
    from balloonspec.conformance.kernel import judge_kernel
    from balloonspec.conformance.vectors import Vector
    from balloonspec.model.predict import predict

    r = seed_runs["alloc_fails"]
    assert r.verdict == "ok", r.console_tail
    c1 = kinds(step_events(r.events, 1), ALLOC)
    assert [(e[1], e[2]) for e in c1[:3]] == [(NOSLEEP, 1), (NOSLEEP, 1), (NOSLEEP, 0)]
    assert c1[3:] and all(e[1] == 0x100CC2 and e[2] == 1 for e in c1[3:])
    c2 = kinds(step_events(r.events, 2), ALLOC)
    assert c2 and all(e[2] == 0 and e[3] == 0 for e in c2)
    assert r.stats["env_failures"] == []
    sc = ALLOC_FAILS_SCENARIO
    vec = Vector(id=sc.id, reason={}, scenario=sc, expected=predict(sc).events)
    res, inferred = judge_kernel(vec, r)
    assert res.status == "pass", (res.divergence, res.violations)
    assert inferred == []


def test_sysinfo_from_the_scenario(seed_runs):
    """si_meminfo answers with the scenario's sysinfo: GET_TARGET carries
    totalram 4294967295 (a 512M guest has ~120k pages), then 131072 after
    set_totalram."""
    r = seed_runs["sysinfo"]
    assert r.verdict == "ok", r.console_tail
    assert [e[3] for e in calls(r.events, GET_TARGET)] == [4294967295, 131072]
    assert len(kinds(r.events, SI_MEMINFO)) == 2


def test_debugfs_creation_fails(seed_runs):
    """debugfs_error 12: DEBUGFS_CREATE returns -ENOMEM, the seed prints its
    error (PRINTK, KERN_ERR) and its init returns -12; the debugfs step
    finds no file."""
    r = seed_runs["debugfs_error"]
    assert r.verdict == "ok", r.console_tail
    assert kinds(r.events, DEBUGFS_CREATE) == [(DEBUGFS_CREATE, 0o444, "vmmemctl", -12 % U64, 0, 0, 0)]
    (p,) = kinds(r.events, PRINTK)
    assert p[1] == "\x013vmw_balloon: failed to create debugfs entry, error: -12\n"
    assert kinds(r.events, INIT) == [(INIT, -12 % U64, 0, 0, 0, 0, 0)]
    assert not kinds(r.events, DEBUGFS_READ)


def test_build_without_debugfs(seed_runs):
    """Options(debugfs=False): the seed built without CONFIG_DEBUG_FS in the
    same boot: no debugfs calls at all, nothing to read, and it balloons."""
    r = seed_runs["no_debugfs"]
    assert r.verdict == "ok", r.console_tail
    assert r.stats["debugfs"] is False
    assert not [e for e in r.events if e[0] in (DEBUGFS_CREATE, DEBUGFS_READ, DEBUGFS_REMOVE)]
    assert len(calls(r.events, LOCK)) == 3


def test_seed_restarts_after_host_reset(seed_runs):
    """After host_reset the cycle's GET_TARGET gets ERROR_RESET (7); the next
    cycle starts with START and GUEST_ID again."""
    r = seed_runs["host_reset"]
    assert r.verdict == "ok", r.console_tail
    after = calls(step_events(r.events, 3))
    assert (after[0][2], after[0][5]) == (GET_TARGET, 7)
    again = calls(step_events(r.events, 4))
    assert [e[2] for e in again[:3]] == [START, GUEST_ID, GET_TARGET]


def test_not_vmware_is_enodev(seed_runs):
    """`hypervisor none`: a machine that is not VMware; the seed's init
    returns -ENODEV (19) without a backdoor call, and exit does nothing
    (no module is loaded). An init that fails is an INIT event, not a
    failed run: the verdict is ok."""
    r = seed_runs["not_vmware"]
    assert r.verdict == "ok", r.console_tail
    assert not calls(r.events)
    assert kinds(r.events, INIT) == [(INIT, -19 % U64, 0, 0, 0, 0, 0)]
    assert not kinds(r.events, EXIT)


def test_failed_init_runs_once(seed_runs):
    """START answered BUSY (3): init returns -EIO (5) after ONE START. The
    loader makes exactly one finit_module(2) call (busybox insmod would
    retry with init_module(2) and run init a second time); the next init
    step loads the module afresh and it starts."""
    r = seed_runs["start_busy"]
    assert r.verdict == "ok", r.console_tail
    first = step_events(r.events, 0)
    assert [(e[2], e[5]) for e in calls(first)] == [(START, 3)]
    assert kinds(first, INIT) == [(INIT, -5 % U64, 0, 0, 0, 0, 0)]
    again = step_events(r.events, 1)
    assert [e[2] for e in calls(again)] == [START, GUEST_ID]
    assert (INIT, 0, 0, 0, 0, 0, 0) in again


def test_interception_throughput(seed_runs):
    """A 16385-page inflate cycle (allocator and backdoor both intercepted)
    takes under 2 s of wall time; the bench calls (the host's own probed
    site) ran before the scenarios."""
    r = seed_runs["inflate_deflate"]
    assert r.step_wall_s[1] < 2.0, r.step_wall_s
    assert r.stats["bench_calls"] == 20000 and r.stats["bench_calls_per_s"] > 1000


def test_load_failure_is_insmod_failed(tmp_path):
    """A file the kernel refuses as a module (bad ELF): the load fails before
    any init runs: verdict insmod_failed with -ENOEXEC (8), and no INIT."""
    bad = tmp_path / "vmw_balloon.ko"
    bad.write_bytes(b"\x7fELF not really a module" + bytes(4096))
    (r,) = run_scenarios_kernel(bad, [("bad", "step init\nstep exit\n")], timeout_s=60)
    assert r.verdict == "insmod_failed"
    assert r.stats["load_errors"] == [-8]
    assert not [e for e in r.events if e[0] in (INIT, EXIT, BACKDOOR)]


def _mutant(tmp_path, extra_line, name="vmw_balloon"):
    """The seed with one line added at the top of its work function."""
    src = SEED_DRIVER.read_text()
    anchor = "\tSTATS_INC(b->stats.timer);\n"
    assert src.count(anchor) == 1
    path = tmp_path / f"{name}.c"
    path.write_text(src.replace(anchor, anchor + extra_line))
    return path


def test_broken_module_is_an_oops(tmp_path):
    """A NULL dereference injected into the work function: the verdict is
    oops with this scenario's console, within the timeout, not a hung test;
    the full console is saved in the file the result names."""
    broken = _mutant(tmp_path, "\t*(volatile int *)0 = 0;\n")
    (r,) = run_scenarios_kernel(broken, [("oops", "target 10\nstep init\n"
                                          "step cycle\nstep exit\n")], timeout_s=30,
                                console_dir=tmp_path / "consoles")
    assert r.verdict == "oops"
    assert "NULL pointer dereference" in r.console_tail
    assert "vmballoon_work" in r.console_tail
    assert "@@" not in r.console_tail          # the runner's markers are not shown
    assert (INIT, 0, 0, 0, 0, 0, 0) in r.events
    full = Path(r.stats["console_file"]).read_text()
    assert "@@INIT_REACHED" in full and "NULL pointer dereference" in full


def test_spinning_module_is_a_hang(tmp_path):
    """A work function that never returns: verdict hang after the scenario's
    timeout (or the kernel's soft-lockup report), and the next scenario
    still runs, in a fresh boot."""
    spin = _mutant(tmp_path, "\tfor (;;) cpu_relax();\n")
    script = "target 10\nstep init\nstep cycle\nstep exit\n"
    r, nxt = run_scenarios_kernel(spin, [("spin", script),
                                         ("next", "target 0\nstep init\nstep exit\n")],
                                  timeout_s=20)
    assert r.verdict == "hang"
    assert nxt.verdict == "ok", nxt.console_tail
    # conform --timeout S is that limit per scenario: a hang is the vector's
    # verdict (exit 1), reported with its limit, and the run goes on in a
    # fresh boot (a vector whose init fails never runs the work, and passes)
    out = tmp_path / "spin.json"
    p = _cli("conform", "--backend", "kernel", "--driver", spin, "--timeout", "8", "--vectors",
             _vectors_dir(tmp_path, ["inflate-small", "init-debugfs-error"]), "--json", out)
    assert p.returncode == 1, p.stdout + p.stderr[-2000:]
    results = {r["id"]: r for r in json.loads(out.read_text())["results"]}
    hung = results["inflate-small"]
    assert hung["verdict"] == "hang" and hung["time_limit"] == 8, hung
    assert results["init-debugfs-error"]["status"] == "pass"
    assert "time limit 8s" in p.stderr


def test_panicking_module_is_a_panic(tmp_path):
    panicking = _mutant(tmp_path, '\tpanic("balloonspec test panic");\n')
    (r,) = run_scenarios_kernel(panicking, [("panic", "target 10\nstep init\n"
                                              "step cycle\nstep exit\n")], timeout_s=30)
    assert r.verdict == "panic"
    assert "balloonspec test panic" in r.console_tail


def test_build_failure_is_reported(tmp_path):
    """A source that does not compile: build_failed for each scenario, and
    in conform one error verdict (exit 2) that says so with the compiler's
    first error (its line), as in userspace; no vector is judged."""
    bad = tmp_path / "vmw_balloon.c"
    bad.write_text(SEED_DRIVER.read_text() + "\nthis is not C;\n")
    (r,) = run_scenarios_kernel(bad, [("x", "step init\n")], timeout_s=30)
    assert r.verdict == "build_failed"
    assert "error" in r.console_tail
    out = tmp_path / "bad.json"
    p = _cli("conform", "--backend", "kernel", "--driver", bad, "--vectors",
             _vectors_dir(tmp_path, ["inflate-small"]), "--json", out)
    assert p.returncode == 2, p.stdout + p.stderr[-2000:]
    assert "error: driver does not compile" in p.stderr
    n = len(SEED_DRIVER.read_text().splitlines()) + 2          # the line of "this is not C;"
    rep = json.loads(out.read_text())
    assert rep["verdict"] == "error" and rep["results"] == []
    assert any(f"vmw_balloon.c:{n}:" in e for e in rep["build_error"]["first_errors"]), rep["build_error"]
    assert p.stdout.strip().splitlines()[-1].startswith("conform (kernel) error: driver does not compile")


def test_removed_kernel_api_is_kernel_unsupported(tmp_path):
    """A source of the family older than the kernel's API: 2.6.34 checked
    `vmware_platform()` (removed in 2.6.35). The build fails on that name
    alone: kernel_api_missing, naming it; conform exits 3 with the verdict
    kernel_unsupported, not a failure of the driver. A syntax error in the
    same source is the driver's own: build_failed."""
    old = tmp_path / "vmw_balloon_2634.c"
    old.write_text(SEED_DRIVER.read_text().replace("if (x86_hyper != &x86_hyper_vmware)",
                                                   "if (!vmware_platform())"))
    with pytest.raises(BuildError) as e:
        build_module(old)
    assert e.value.missing_api == ["vmware_platform"]
    (r,) = run_scenarios_kernel(old, [("x", "step init\n")], timeout_s=30)
    assert r.verdict == "kernel_api_missing" and r.stats["missing_api"] == ["vmware_platform"]
    out = tmp_path / "old.json"
    p = _cli("conform", "--backend", "kernel", "--driver", old, "--json", out)
    assert p.returncode == 3, p.stderr[-2000:]
    rep = json.loads(out.read_text())
    assert rep["verdict"] == "kernel_unsupported" and rep["missing_api"] == ["vmware_platform"]
    assert "vmware_platform" in p.stdout
    bad = tmp_path / "vmw_balloon_typo.c"
    bad.write_text(old.read_text() + "\nthis is not C;\n")
    with pytest.raises(BuildError) as e:
        build_module(bad)
    assert e.value.missing_api == []


def _deb_module():
    kos = glob.glob(f"/lib/modules/{_kernel_version()}/kernel/drivers/misc/vmw_balloon.ko*")
    if not kos:
        pytest.skip("the distribution kernel has no vmw_balloon.ko")
    return Path(kos[0])


def test_distribution_module_against_v2_host():
    """Debian's own vmw_balloon.ko (a later protocol revision, depends on
    vmw_vmci) against the v2 host. Commands beyond v2 are answered
    ERROR_CMD_INVALID (1). What it does, observed:
    - it loads (INIT 0) without calling the backdoor: init only queues work;
    - its first cycle resets the protocol: VMCI_DOORBELL_SET (10) -> 1,
      START with its capability mask -> 0 (so it falls back to basic
      commands), GUEST_ID, then GET_TARGET with the guest's real totalram
      (it reads the kernel's counter, not si_meminfo);
    - it allocates through the balloon core (balloon_page_alloc), which the
      host intercepts too: ALLOC events with real PFNs;
    - it then locks ONE page per cycle: the later revision reads the new
      target from LOCK's ebx, which a v2 host leaves 0, so its target drops
      to 0 after every lock (debugfs: "target: 0", "current: 2" after two
      cycles) although GET_TARGET says 100 each cycle."""
    script = "target 100\nstep init\nstep cycle\nstep cycle\nstep debugfs\nstep exit\n"
    (r,) = run_scenarios_kernel(_deb_module(), [("distro", script)], timeout_s=60)
    assert r.verdict == "ok", r.console_tail
    assert (INIT, 0, 0, 0, 0, 0, 0) in r.events
    cmds = calls(r.events)
    assert cmds, "the driver never called the backdoor"
    assert all(e[5] == 1 for e in cmds if e[2] > GUEST_ID)
    assert any(e[2] > GUEST_ID for e in cmds)
    first = calls(step_events(r.events, 1))
    assert [e[2] for e in first[:4]] == [10, START, GUEST_ID, GET_TARGET]
    assert first[3][3] == r.stats["guest_totalram"] and not kinds(r.events, SI_MEMINFO)
    text = [e[1] for e in r.events if e[0] == DEBUGFS_READ][0]
    assert re.search(r"^target\s*:\s*0$", text, re.M)
    for idx in (1, 2):
        locks = calls(step_events(r.events, idx), LOCK)
        allocs = [e for e in kinds(step_events(r.events, idx), ALLOC) if e[2]]
        assert len(locks) == 1 and [a[3] for a in allocs] == [locks[0][3]]
    assert re.search(r"^current\s*:\s*2$", text, re.M)


def test_memory_pressure_several_failing_cycles():
    """A 256 MiB guest asked for twice its RAM: the guest's memory fails the
    driver's allocations, not the scenario. The host's low-memory guard
    fails every allocation that would leave the guest fewer than 8192 free
    pages, so cycle after cycle fails (NOSLEEP, then the sleeping
    GFP_HIGHUSER retries of the slow cycles) and /init survives (without
    it, observed: the OOM killer found nothing but /init and panicked).
    judge_kernel infers each failure (env_failures: cause guard), predicts
    the run again with them, and the trace conforms; the deflate gives
    every page back."""
    from balloonspec.conformance.kernel import judge_kernel
    from balloonspec.conformance.vectors import Vector
    from balloonspec.model.predict import predict

    pages = 256 << 8
    sc = Scenario(id="memory-pressure", target=2 * pages,
                  steps=steps("init", ("cycle", 6), "debugfs", ("set_target", 0),
                              ("cycle", 4), "debugfs", "exit"))
    vec = Vector(id=sc.id, reason={"text": "real allocation failures"}, scenario=sc,
                 expected=predict(sc).events)
    (r,) = run_scenarios_kernel(SEED_DRIVER, [(sc.id, sc.to_script(), Options(mem="256M"))],
                                timeout_s=120)
    assert r.verdict == "ok", r.console_tail
    assert r.stats["guest_mem"] == "256M" and "oom" not in r.stats
    failing = {e["event"] for e in r.stats["env_failures"]}
    assert {e["cause"] for e in r.stats["env_failures"]} == {"guard"}
    step, steps_failing = -1, set()
    for i, e in enumerate(r.events):
        if e[0] == STEP:
            step = e[1]
        elif i in failing:
            assert e[0] == ALLOC and e[2] == 0, e
            steps_failing.add(step)
    assert len(steps_failing) >= 3, steps_failing
    reads = [current_pages(e[1]) for e in r.events if e[0] == DEBUGFS_READ]
    assert 2 * 16385 <= reads[0] < pages and reads[1] == 0, reads
    res, inferred = judge_kernel(vec, r)
    assert res.status == "pass", (res.divergence, res.violations, res.message)
    assert len(inferred) >= 3 and all(x["outcome"] == "fail" for x in inferred)


def _cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "balloonspec.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def test_cli_conform_kernel_shipped_vectors(tmp_path):
    """`balloonspec conform --backend kernel` on the seed: every shipped vector
    runs in the kernel and passes, exit 0, except those that need a page with a
    PFN >= 2^32 (at most 5), each skipped with that reason."""
    from balloonspec.conformance.commands import SHIPPED_VECTORS

    shipped = len(list(SHIPPED_VECTORS.glob("*.json")))
    out = tmp_path / "k.json"
    p = _cli("conform", "--backend", "kernel", "--json", out)
    assert p.returncode == 0, p.stderr[-4000:]
    rep = json.loads(out.read_text())
    assert rep["verdict"] == "pass" and rep["backend"] == "kernel"
    assert rep["totals"]["passed"] == rep["totals"]["vectors"] >= shipped - 5
    assert rep["totals"]["vectors"] + len(rep["skipped"]) == shipped
    for s in rep["skipped"]:
        assert "PFN >= 2^32" in s["reason"], s


def _vectors_dir(tmp_path, ids):
    from balloonspec.conformance.commands import SHIPPED_VECTORS
    d = tmp_path / "vectors"
    d.mkdir(exist_ok=True)
    for i in ids:
        shutil.copy(SHIPPED_VECTORS / f"{i}.json", d)
    return d


def test_driver_named_otherwise_runs_in_kernel(tmp_path):
    """`--driver my_balloon.c`: the module is my_balloon, the host serves it,
    and its printk prefix ("my_balloon: ", KBUILD_MODNAME) is read as the
    seed's: the vectors pass, among them one whose trace has a PRINTK."""
    src = tmp_path / "my_balloon.c"
    src.write_text(SEED_DRIVER.read_text())
    assert module_name(src) == "my_balloon"
    vecs = _vectors_dir(tmp_path, ["inflate-small", "init-debugfs-error", "host-reset-idle"])
    out = tmp_path / "my.json"
    p = _cli("conform", "--backend", "kernel", "--driver", src, "--vectors", vecs, "--json", out)
    assert p.returncode == 0, p.stdout + p.stderr[-4000:]
    rep = json.loads(out.read_text())
    assert (rep["totals"]["vectors"], rep["totals"]["passed"]) == (3, 3)
    assert rep["driver"] == str(src)
    assert "my_balloon" in Path(rep["boot"]["console_file"]).read_text()


VERSIONS = Path(SEED_DRIVER).parent / "versions"      # published versions of the family


@pytest.mark.parametrize("version", ["1.2.1.1-k", "1.2.2.0-k", "1.3.0.0-k"])
def test_published_version_passes_protocol_level_in_kernel(version, tmp_path):
    """Published versions of the driver family build for the resolved
    kernel from the unmodified files (1.2.1.1-k through compat.h's rename
    of create_freezeable_workqueue) and pass `--level protocol` in the
    kernel on vectors of the allocation-failure, refusal, reset and exit
    paths, with no false alarm."""
    src = VERSIONS / f"{version}.c"
    vecs = _vectors_dir(tmp_path, ["inflate-small", "nosleep-fails-first", "lock-refused-ppn_pinned",
                                   "lock-reset-then-restart", "exit-with-balloon", "no-debugfs-config"])
    out = tmp_path / "v.json"
    p = _cli("conform", "--backend", "kernel", "--driver", src, "--level", "protocol",
             "--vectors", vecs, "--json", out)
    assert p.returncode == 0, p.stdout + p.stderr[-4000:]
    rep = json.loads(out.read_text())
    assert (rep["totals"]["vectors"], rep["totals"]["passed"]) == (6, 6)
    assert rep["level"] == "protocol" and not rep["skipped"]


# mutants of the seed on the allocation-failure, refusal and sysinfo paths
PATH_MUTANTS = ["cmp-nosleep-pause", "drop-slow-decrement", "swap-notneeded-status",
                "drop-release-refused", "wrong-sysinfo-field"]


@pytest.mark.parametrize("mutant_id", PATH_MUTANTS)
def test_mutant_flagged_in_kernel_as_in_userspace(mutant_id, tmp_path):
    """The mutant runs on the vectors that flag it in userspace (up to
    three) and on two that do not: in the kernel the same vectors fail,
    each report shows the mutant's broken behaviour, and the others pass."""
    from balloonspec.conformance import vectors as V
    from balloonspec.conformance.commands import SHIPPED_VECTORS
    from balloonspec.conformance.kernel import guest_mem, judge_kernel, unsupported
    from balloonspec.conformance.report import describe_result
    from balloonspec.conformance.runner import run_vectors
    from balloonspec.driver.build import build_driver

    m = next(m for m in MUTANTS if m.id == mutant_id)
    src = m.write(SEED_DRIVER, tmp_path)
    vecs = [v for v in V.load_dir(SHIPPED_VECTORS)[0] if unsupported(v) is None]
    builds = {}
    user = {}
    run_vectors(lambda v: builds.setdefault(v.debugfs, build_driver(src, debugfs=v.debugfs)),
                vecs, jobs=2, on_result=lambda r: user.__setitem__(r.id, r.status))
    flagged = [v for v in vecs if user[v.id] == "fail"][:3]
    clean = [v for v in vecs if user[v.id] == "pass"][:2]
    assert flagged, f"{mutant_id}: userspace flags it on no vector the kernel can run"
    chosen = flagged + clean
    runs = run_scenarios_kernel(src, [(v.id, v.scenario.to_script(),
                                       Options(mem=guest_mem(v), debugfs=v.debugfs)) for v in chosen],
                                timeout_s=120)
    for v, run in zip(chosen, runs):
        res, _ = judge_kernel(v, run)
        if v in flagged:
            assert res.status == "fail", f"{v.id}: the kernel does not flag {mutant_id}"
            assert m.shows in describe_result(res), describe_result(res)
        else:
            assert res.status == "pass", describe_result(res)


def test_double_free_is_caught_and_the_guest_survives(tmp_path):
    """A driver that frees each deflated page twice: the host frees it once
    and records the second as a double free (FREE status 1) without giving
    it to the kernel again, so the guest runs on (verdict ok) and the
    monitor MEM-GOOD-FREES flags the vector."""
    from balloonspec.conformance.kernel import judge_kernel
    from balloonspec.conformance.vectors import Vector
    from balloonspec.model.predict import predict

    src = SEED_DRIVER.read_text()
    anchor = "\t/* deallocate page */\n\t__free_page(page);\n"
    assert src.count(anchor) == 1, "the seed's deflate free moved"
    bad = tmp_path / "double_free.c"
    bad.write_text(src.replace(anchor, anchor + "\t__free_page(page);\n"))
    sc = Scenario(id="deflate", target=4, steps=steps("init", "cycle", ("set_target", 0), "cycle", "exit"))
    vec = Vector(id=sc.id, reason={"text": "deflate"}, scenario=sc, expected=predict(sc).events)
    (r,) = run_scenarios_kernel(bad, [(sc.id, sc.to_script())], timeout_s=60)
    assert r.verdict == "ok", r.console_tail
    frees = kinds(r.events, FREE)
    assert [f[2] for f in frees] == [0, 1] * 4
    assert kinds(r.events, ACCOUNT)[-1][6] == 4          # bad frees
    res, _ = judge_kernel(vec, r)
    assert res.status == "fail"
    assert "MEM-GOOD-FREES" in {v["monitor"] for v in res.violations}


def test_cli_binary_module_protocol_level(tmp_path):
    """`conform --module <Debian's vmw_balloon.ko> --level protocol` ends in
    a verdict (exit 0 or 1), never a traceback; the report says why for
    each failing vector. (What it finds, observed: the later revision
    sends VMCI_DOORBELL_SET (10) to clear the doorbell before START, which
    the v2 monitor PROTO-START-FIRST flags.) The no-debugfs vector is
    skipped: a binary module cannot be rebuilt."""
    ko = _deb_module()
    vecs = _vectors_dir(tmp_path, ["inflate-small", "host-reset-idle", "init-start-fails-busy",
                                   "no-debugfs-config"])
    out = tmp_path / "m.json"
    p = _cli("conform", "--module", ko, "--level", "protocol", "--vectors", vecs, "--json", out)
    assert p.returncode in (0, 1), p.stderr[-4000:]
    assert "Traceback" not in p.stderr
    rep = json.loads(out.read_text())
    assert rep["totals"]["vectors"] == 3 and rep["level"] == "protocol"
    assert [s["id"] for s in rep["skipped"]] == ["no-debugfs-config"]
    assert "CONFIG_DEBUG_FS" in rep["skipped"][0]["reason"]
    for r in rep["results"]:
        if r["status"] != "pass":
            assert r.get("violations") or r.get("message"), r


def test_failure_report_leads_with_the_verdict(tmp_path):
    """A failing vector's report: the verdict and the divergence first, then
    only this scenario's console lines (no @@ markers), then the name of
    the file with the whole console, which exists."""
    m = next(m for m in MUTANTS if m.id == "wrong-sysinfo-field")
    src = m.write(SEED_DRIVER, tmp_path)
    vecs = _vectors_dir(tmp_path, ["init-debugfs-error", "inflate-small"])
    out = tmp_path / "f.json"
    p = _cli("conform", "--backend", "kernel", "--driver", src, "--vectors", vecs, "--json", out)
    assert p.returncode == 1, p.stderr[-3000:]
    err = p.stderr
    block = err[err.index("vector inflate-small: fail"):]
    assert block.index("first divergence") < block.index("console of this scenario")
    assert "GET_TARGET" in block[:block.index("console of this scenario")]
    console = block[block.index("console of this scenario"):block.index("full console:")]
    assert "@@" not in console
    console_file = re.search(r"full console: (\S+)", block).group(1)
    assert Path(console_file).exists() and "@@BEGIN" in Path(console_file).read_text()


def test_stale_vector_is_an_error_not_judged(tmp_path, monkeypatch, capsys):
    """As in userspace (conformance/runner.stale_result): after a spec edit
    (the work re-queued every 2 s instead of 1 s) a vector whose stored
    expectation the installed spec no longer predicts is a stale error, not
    judged, whatever the kernel observed; a vector the edit does not change
    is judged and passes."""
    from balloonspec.cli import main
    from balloonspec.model import constants as C

    vecs = _vectors_dir(tmp_path, ["inflate-small", "init-not-vmware"])
    monkeypatch.setattr(C, "HZ", 2 * C.HZ)
    out = tmp_path / "stale.json"
    code = main(["conform", "--backend", "kernel", "--vectors", str(vecs), "--json", str(out)])
    rep = json.loads(out.read_text())
    assert code == 2 == rep["exit_code"] and rep["verdict"] == "error"
    assert rep["stale_vectors"] == ["inflate-small"]
    results = {r["id"]: r for r in rep["results"]}
    assert results["init-not-vmware"]["status"] == "pass"
    stale = results["inflate-small"]
    assert stale["status"] == "error" and stale["stale"] and "divergence" not in stale
    assert "QUEUE_WORK delay=500" in stale["message"]
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith(
        "conform (kernel, full) error: 1 stale vector(s), not judged")
