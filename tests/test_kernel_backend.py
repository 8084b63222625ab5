"""The in-kernel backend: driver modules loaded, unmodified, into Debian's
kernel under QEMU TCG, their backdoor answered by balloonspec_host.ko (kprobes
on the driver's `inl` sites, replies from the shared script engine).

Each test says what the driver does in that environment as the kernel
backend observes it (BACKDOOR, STEP, WORK_RUN, DEBUGFS_READ, INIT, EXIT).
Skipped, with the reason, where QEMU or the kernel is not installed
(`python3 driver/kernel/setup.py` installs them)."""
from __future__ import annotations

import glob
import re
import shutil
from pathlib import Path

import pytest

from balloonspec import SEED_DRIVER

pytestmark = pytest.mark.kernel

START, GET_TARGET, LOCK, UNLOCK, GUEST_ID = range(5)
MAGIC, PORT = 0x456C6D6F, 0x5670
BACKDOOR, DEBUGFS_READ, INIT, EXIT, WORK_RUN, STEP = 1, 9, 11, 12, 14, 15
CYCLE = 2


def _kernel_version():
    from balloonspec.driver.kernel import setup
    try:
        return setup.kernel_version()
    except RuntimeError:
        return None


if shutil.which("qemu-system-x86_64") is None:
    pytest.skip("qemu-system-x86_64 not installed (python3 driver/kernel/setup.py)",
                allow_module_level=True)
if _kernel_version() is None:
    pytest.skip("no kernel image + headers installed (python3 driver/kernel/setup.py)",
                allow_module_level=True)

from balloonspec.driver.kernel.build import build_module  # noqa: E402
from balloonspec.driver.kernel_backend import run_scenarios_kernel  # noqa: E402

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


def step_events(events, index):
    """The events of step `index`, without its STEP event."""
    out, inside = [], False
    for e in events:
        if e[0] == STEP:
            inside = e[1] == index
        elif inside:
            out.append(e)
    return out


def calls(events, cmd=None):
    return [e for e in events if e[0] == BACKDOOR and (cmd is None or e[2] == cmd)]


def current_pages(debugfs_text):
    return int(re.search(r"current:\s+(\d+) pages", debugfs_text).group(1))


@pytest.fixture(scope="module")
def seed_ko():
    return build_module(SEED_DRIVER)


@pytest.fixture(scope="module")
def seed_runs(seed_ko):
    """Both scenarios in one boot (rmmod/insmod between them)."""
    res = run_scenarios_kernel(seed_ko, [("inflate_deflate", INFLATE_DEFLATE),
                                         ("host_reset", HOST_RESET)], timeout_s=120)
    return {r.id: r for r in res}


def test_seed_builds(seed_ko):
    """The unmodified seed builds against the installed headers with only
    the forced-include compat header."""
    assert seed_ko.exists() and seed_ko.suffix == ".ko"


def test_seed_init_handshake(seed_runs):
    """init: START with protocol version 2, then GUEST_ID 1 (Linux), both
    answered SUCCESS, and insmod succeeds."""
    r = seed_runs["inflate_deflate"]
    assert r.verdict == "ok", r.console_tail
    init = step_events(r.events, 0)
    assert [(e[1], e[2], e[3], e[4], e[5]) for e in calls(init)] == [
        (MAGIC, START, 2, PORT, 0), (MAGIC, GUEST_ID, 1, PORT, 0)]
    assert (INIT, 0, 0, 0, 0, 0, 0) in init
    assert r.stats["boot_to_init_s"] > 0


def test_seed_inflates_to_target_and_deflates(seed_runs):
    """Each cycle runs the work once and asks GET_TARGET once; the balloon
    reaches 20000 pages in two cycles (at most 16385 locks per cycle), the
    debugfs text says so, and two cycles with target 0 unlock every page."""
    r = seed_runs["inflate_deflate"]
    ev = r.events
    for idx in (1, 2, 5, 6):
        cyc = step_events(ev, idx)
        assert cyc[0][0] == WORK_RUN
        assert len(calls(cyc, GET_TARGET)) == 1
        assert len(calls(cyc, LOCK)) <= 16385
    locks = calls(step_events(ev, 1) + step_events(ev, 2), LOCK)
    assert len(locks) == 20000 and all(e[5] == 0 for e in locks)
    reads = [e[1] for e in ev if e[0] == DEBUGFS_READ]
    assert [current_pages(t) for t in reads] == [20000, 0]
    unlocks = calls(step_events(ev, 5) + step_events(ev, 6), UNLOCK)
    assert sorted(e[3] for e in unlocks) == sorted(e[3] for e in locks)
    assert ev[-1] == (EXIT, 0, 0, 0, 0, 0, 0)


def test_seed_restarts_after_host_reset(seed_runs):
    """After host_reset the cycle's GET_TARGET gets ERROR_RESET (7); the next
    cycle starts with START and GUEST_ID again."""
    r = seed_runs["host_reset"]
    assert r.verdict == "ok", r.console_tail
    after = calls(step_events(r.events, 3))
    assert (after[0][2], after[0][5]) == (GET_TARGET, 7)
    again = calls(step_events(r.events, 4))
    assert [e[2] for e in again[:3]] == [START, GUEST_ID, GET_TARGET]


def test_not_vmware_is_enodev(seed_ko):
    """`hypervisor none`: a machine that is not VMware; the seed's init
    returns -ENODEV (19) without a backdoor call, and exit does nothing
    (no module is loaded)."""
    (r,) = run_scenarios_kernel(seed_ko, [("none", "hypervisor none\nstep init\n"
                                           "step exit\n")], timeout_s=60)
    assert r.verdict == "insmod_failed"
    assert not calls(r.events)
    assert (INIT, -19 & (2**64 - 1), 0, 0, 0, 0, 0) in r.events
    assert not [e for e in r.events if e[0] == EXIT]


def test_interception_throughput(seed_runs):
    """A 16385-page inflate cycle takes under 2 s of wall time."""
    r = seed_runs["inflate_deflate"]
    assert r.step_wall_s[1] < 2.0, r.step_wall_s


def test_broken_module_is_an_oops(tmp_path):
    """A NULL dereference injected into the work function: the verdict is
    oops with the console tail, within the timeout, not a hung test."""
    broken = _mutant(tmp_path, "\t*(volatile int *)0 = 0;\n")
    (r,) = run_scenarios_kernel(broken, [("oops", "target 10\nstep init\n"
                                          "step cycle\nstep exit\n")], timeout_s=30)
    assert r.verdict == "oops"
    assert "NULL pointer dereference" in r.console_tail
    assert "vmballoon_work" in r.console_tail
    assert (INIT, 0, 0, 0, 0, 0, 0) in r.events


def _mutant(tmp_path, extra_line):
    """The seed with one line added at the top of its work function."""
    src = SEED_DRIVER.read_text()
    anchor = "\tSTATS_INC(b->stats.timer);\n"
    assert src.count(anchor) == 1
    path = tmp_path / "vmw_balloon.c"
    path.write_text(src.replace(anchor, anchor + extra_line))
    return path


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


def test_panicking_module_is_a_panic(tmp_path):
    panicking = _mutant(tmp_path, '\tpanic("balloonspec test panic");\n')
    (r,) = run_scenarios_kernel(panicking, [("panic", "target 10\nstep init\n"
                                              "step cycle\nstep exit\n")], timeout_s=30)
    assert r.verdict == "panic"
    assert "balloonspec test panic" in r.console_tail


def test_build_failure_is_reported(tmp_path):
    bad = tmp_path / "vmw_balloon.c"
    bad.write_text(SEED_DRIVER.read_text() + "\nthis is not C;\n")
    (r,) = run_scenarios_kernel(bad, [("x", "step init\n")], timeout_s=30)
    assert r.verdict == "build_failed"
    assert "error" in r.console_tail


def test_distribution_module_against_v2_host():
    """Debian's own vmw_balloon.ko (a later protocol revision, depends on
    vmw_vmci) against the v2 host. Commands beyond v2 are answered
    ERROR_CMD_INVALID (1). What it does, observed:
    - it loads (INIT 0) without calling the backdoor: init only queues work;
    - its first cycle resets the protocol: VMCI_DOORBELL_SET (10) -> 1,
      START with its capability mask -> 0 (so it falls back to basic
      commands), GUEST_ID, then GET_TARGET with totalram as argument;
    - it then locks ONE page per cycle: the later revision reads the new
      target from LOCK's ebx, which a v2 host leaves 0, so its target drops
      to 0 after every lock (debugfs: "target: 0", "current: 2" after two
      cycles) although GET_TARGET says 100 each cycle."""
    kos = glob.glob(f"/lib/modules/{_kernel_version()}/kernel/drivers/misc/vmw_balloon.ko*")
    if not kos:
        pytest.skip("the distribution kernel has no vmw_balloon.ko")
    script = "target 100\nstep init\nstep cycle\nstep cycle\nstep debugfs\nstep exit\n"
    (r,) = run_scenarios_kernel(Path(kos[0]), [("distro", script)], timeout_s=60)
    assert r.verdict == "ok", r.console_tail
    assert (INIT, 0, 0, 0, 0, 0, 0) in r.events
    cmds = calls(r.events)
    assert cmds, "the driver never called the backdoor"
    assert all(e[5] == 1 for e in cmds if e[2] > GUEST_ID)
    assert any(e[2] > GUEST_ID for e in cmds)
    first = calls(step_events(r.events, 1))
    assert [e[2] for e in first[:4]] == [10, START, GUEST_ID, GET_TARGET]
    text = [e[1] for e in r.events if e[0] == DEBUGFS_READ][0]
    assert re.search(r"^target\s*:\s*0$", text, re.M)
    for idx in (1, 2):
        assert len(calls(step_events(r.events, idx), LOCK)) == 1
    assert re.search(r"^current\s*:\s*2$", text, re.M)
