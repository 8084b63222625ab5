"""In-kernel backend: run scenario scripts (specs/trace.md) against a driver
module loaded, unmodified, into Debian's kernel under QEMU TCG.

driver/kernel/balloonspec_host.c answers the driver's backdoor calls (kprobes
on its `inl` sites) and driver/kernel/host_env.c the rest of its environment
(page allocator, si_meminfo, debugfs, the delayed work, printk,
cond_resched: kprobes on those functions that send the driver's calls to
replacements), both from the same scenario engine as the userspace backend
(driver/userspace/script.c). /init sequences the steps; the host module
writes the trace into QEMU shared memory, read here after QEMU exits.

The trace has every event kind of specs/trace.md. PFNs are the guest's real
ones (conformance/kernel.py renames them); a scenario that needs a PFN at or
above 2^32 lists that directive in Result.unsupported (a small guest has no
such page). `hypervisor none` boots a machine that is not VMware.
"""
from __future__ import annotations

import errno
import mmap
import os
import struct
import re
import subprocess
import sys
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path

from .kernel import setup as ksetup
from balloonspec.model.trace import Kind, TEXT_FIELDS
from .kernel.build import build_module, BuildError
from .kernel.initramfs import build_initramfs
from .kernel.qemu import Boot, qemu_command

HERE = Path(__file__).resolve().parent
HOST_SRC = HERE / "kernel" / "balloonspec_host.c"
# the scenario rule engine shared with the userspace harness (plain C)
ENGINE = [HERE / "userspace" / "script.c", HERE / "userspace" / "script.h"]
# the host's second file (the driver's environment) and their shared header
HOST_EXTRA = [HERE / "kernel" / "host_env.c", HERE / "kernel" / "host.h"]
SHM_SIZE = 256 << 20         # ivshmem needs a power of two; sparse on disk
BOOT_TIMEOUT_S = 120.0
DEFAULT_MEM = "512M"         # guest RAM unless a scenario asks for more
U64 = (1 << 64) - 1
PFN_LIMIT = 1 << 32          # no page of a small guest has a PFN this high

TRACE_KINDS = {int(k) for k in Kind}
EV_BACKDOOR, EV_ALLOC, EV_DEBUGFS_READ, EV_INIT, EV_EXIT, EV_STEP = (
    int(k) for k in (Kind.BACKDOOR, Kind.ALLOC, Kind.DEBUGFS_READ, Kind.INIT,
                     Kind.EXIT, Kind.STEP))
# driver/kernel/host.h
EV_SCENARIO, EV_NOTE, EV_SITE, EV_END, EV_COMING, EV_ENV_FAIL, EV_NO_PROBE = \
    0x100, 0x101, 0x102, 0x103, 0x104, 0x105, 0x106
BS_MAGIC = 0x3170736E6F6F6C62
OOPS_RE = re.compile(r"\b(Oops|BUG: |general protection fault|"
                     r"kernel BUG at|Call Trace:)")
PANIC_RE = re.compile(r"Kernel panic - not syncing")
# the kernel's own hang detectors (they say "BUG:" too, but are hangs)
HANG_RE = re.compile(r"soft lockup|blocked for more than|rcu_.*stall")


@dataclass
class Result:
    id: str
    # ok panic oops hang build_failed; insmod_failed: a load failed before
    # the module's init ran (stats load_errors: -errno; an init that returns
    # non-zero is an INIT event, verdict ok); script_error: the host
    # module's script.c refused the script (stats script_error_line);
    # kernel_api_missing: the source uses an API this kernel lacks (the
    # names in stats missing_api); unsupported: the run needs a build this
    # backend cannot make (a binary module without CONFIG_DEBUG_FS)
    verdict: str
    events: list = field(default_factory=list)
    # this scenario's part of the console (kernel messages; the full console
    # of the boot is in stats["console_file"])
    console_tail: str = ""
    unsupported: list = field(default_factory=list)
    step_wall_s: dict = field(default_factory=dict)   # step index -> seconds
    backdoor_calls: int = 0
    stats: dict = field(default_factory=dict)          # per boot measurements


@dataclass(frozen=True)
class Options:
    """How one scenario runs: guest RAM, and the driver build (with or
    without CONFIG_DEBUG_FS)."""
    mem: str = DEFAULT_MEM
    debugfs: bool = True


# ---------------------------------------------------------------- scripts

def _steps(script: str) -> list[tuple[str, int]]:
    out = []
    for line in script.splitlines():
        f = line.split()
        if f and f[0] == "step":
            out.append((f[1], int(f[2]) if len(f) > 2 else 0))
    return out


def unsupported_lines(script: str) -> list[str]:
    """Directives the kernel cannot honour: PFNs at or above 2^32 (the
    guest's pages have small PFNs; others are matched by renaming)."""
    out = []
    for line in script.splitlines():
        f = line.split()
        if f[:1] == ["pfn_base"] and int(f[1]) >= PFN_LIMIT:
            out.append(line)
        elif f[:1] == ["alloc_rule"] and f[5] == "pfn" and int(f[6]) >= PFN_LIMIT:
            out.append(line)
    return out


def _vmware(script: str) -> bool:
    """`hypervisor none` scenarios boot a machine that does not look like
    VMware, so the kernel's own detection says no (x86_hyper_type)."""
    return not re.search(r"^hypervisor none\s*$", script, re.M)


KERNEL_DIRECTIVE = re.compile(r"^#\s*kernel:\s*(.*)$", re.M)
MEM_RE = re.compile(r"^\d+[MG]$")


def _guest_mem(script: str, default: str) -> str:
    """Guest RAM for this scenario: a comment line `# kernel: mem=256M` in
    the script (a comment, so the model and the userspace backend ignore
    it) overrides the run's default. A small guest with a target beyond its
    free memory makes the driver's allocations fail for real (at the host's
    low-memory guard)."""
    for m in KERNEL_DIRECTIVE.finditer(script):
        for kv in m.group(1).split():
            k, _, v = kv.partition("=")
            if k == "mem" and MEM_RE.match(v):
                return v
    return default


def _strip_comments(script: str) -> str:
    """Comment lines blanked (line numbers kept): they mean nothing, and
    script.c rejects a line of more than 12 words even as a comment."""
    return "\n".join("" if l.lstrip().startswith("#") else l
                     for l in script.split("\n"))


def _ko_path(mod: str, debugfs: bool) -> str:
    return f"/m/{mod}.ko" if debugfs else f"/m/nodebugfs/{mod}.ko"


def _scenario_sh(i: int, script: str, mod: str, debugfs: bool) -> str:
    """Shell for /init: one scenario's steps, markers on the console."""
    C = "/sys/kernel/debug/balloonspec"
    # the host module parses the script itself (script.c): it decides the
    # replies and the steps' effects; the shell only does the guest's part
    out = [f'echo "@@BEGIN {i}"', f"cat /s/{i}.txt > {C}/script", f"bs R {i}"]
    for k, (kind, _) in enumerate(_steps(script)):
        out.append(f'echo "@@STEP {i} {k}"')
        out.append(f"bs S {k}")
        if kind == "init":
            # as in userspace: init of a loaded module does nothing
            # bsload: exactly one finit_module(2) (busybox insmod would
            # retry a failed init through init_module(2)), exact errno
            out.append(f'grep -q "^{mod} " /proc/modules || '
                       f'echo "insmod $(bsload load {_ko_path(mod, debugfs)})" > {C}/note')
        elif kind == "debugfs":
            # shell builtins only, no fork: cheap, and safe in a guest the
            # driver ran short of memory
            out.append("F=/sys/kernel/debug/vmmemctl; [ -e $F ] && { "
                       "{ while IFS= read -r l; do printf '%s\\n' \"$l\"; "
                       "done; printf '%s' \"$l\"; } < $F > "
                       f"{C}/text; bs E; }}")
        elif kind == "exit":
            out.append(f'echo "rmmod $(bsload unload {mod})" > {C}/note')
    out += ["bs X", f'echo "@@END {i}"',
            # leave no driver behind for the next scenario
            f'grep -q "^{mod} " /proc/modules && bsload unload {mod}', ""]
    return "\n".join(out)


# ---------------------------------------------------------------- modules

def _modinfo(ko: Path, fld: str) -> str:
    r = subprocess.run(["modinfo", "-F", fld, str(ko)], capture_output=True,
                       text=True)
    return r.stdout.strip()


def _deps(ko: Path, version: str) -> list[Path]:
    """The driver's module dependencies (recursively, load order first)."""
    order: list[Path] = []

    def visit(k: Path):
        for dep in filter(None, _modinfo(k, "depends").split(",")):
            r = subprocess.run(["modinfo", "-k", version, "-n", dep],
                               capture_output=True, text=True)
            p = Path(r.stdout.strip())
            if p.is_file() and p not in order:
                visit(p)
                order.append(p)
    visit(ko)
    return order


def _plain_ko(ko: Path, workdir: Path) -> Path:
    """An uncompressed .ko for ko (bsload passes no decompression flag to
    finit_module): .ko.xz / .ko.gz / .ko.zst unpacked into workdir."""
    name = ko.name
    if name.endswith(".ko"):
        return ko
    out = workdir / (name[:name.index(".ko")] + ".ko")
    if name.endswith(".xz"):
        import lzma
        out.write_bytes(lzma.decompress(ko.read_bytes()))
    elif name.endswith(".gz"):
        import gzip
        out.write_bytes(gzip.decompress(ko.read_bytes()))
    elif name.endswith(".zst"):
        subprocess.run(["zstd", "-q", "-d", "-f", "-o", str(out), str(ko)],
                       check=True)
    else:
        return ko
    return out


# ---------------------------------------------------------------- trace

class _SharedTrace:
    """The host's records in the shared-memory file, read as they come: the
    file is the guest's ivshmem BAR, mapped shared, so what the host wrote
    is there at once and stays there after an oops, a panic or QEMU's end.
    Records are sorted by scenario as they are read."""

    def __init__(self, path: Path):
        self._f = open(path, "rb")
        self._mm = mmap.mmap(self._f.fileno(), 0, access=mmap.ACCESS_READ)
        self._seen = 0
        self._current = None
        self._text_off = 0
        self.scenarios: dict[int, list] = {}   # scenario index -> records
        self.outside: list = []                # before, between scenarios
        self.dropped = 0

    def poll(self) -> None:
        magic, n, ev_off, _, text_off, _, _, dropped = struct.unpack_from("<8Q", self._mm, 0)
        if magic != BS_MAGIC or n <= self._seen:
            return
        self._text_off, self.dropped = text_off, dropped
        flat = array("Q")
        flat.frombytes(self._mm[ev_off + self._seen * 56:ev_off + n * 56])
        self._seen = n
        for k in range(0, len(flat), 7):
            r = tuple(flat[k:k + 7])
            if r[0] == EV_SCENARIO:
                self._current = self.scenarios.setdefault(r[1], [])
            (self.outside if self._current is None else self._current).append(r)
            if r[0] == EV_END:
                self._current = None

    def text(self, ref: int) -> str:
        """A text field: offset << 32 | length in the text area."""
        off = self._text_off + (ref >> 32)
        return self._mm[off:off + (ref & 0xFFFFFFFF)].decode("utf-8", "replace")

    def close(self) -> None:
        if self.dropped:
            print(f"kernel backend: {self.dropped} trace records lost (shared "
                  f"memory full, SHM_SIZE {SHM_SIZE})", file=sys.stderr)
        self._mm.close()
        self._f.close()


@dataclass
class _Scenario:
    """One scenario's part of the shared-memory records."""
    events: list = field(default_factory=list)
    sites: list = field(default_factory=list)
    ended: bool = False
    script_error: int | None = None
    guest_totalram: int = 0
    load_errors: list = field(default_factory=list)
    env_failures: list = field(default_factory=list)


def _events(recs, text) -> _Scenario:
    """One scenario's records -> its trace (specs/trace.md tuples, text
    fields as str, text(ref) reads them) and what the host noted besides.

    INIT comes from the host's return probe on the driver's init (exact
    return code); without one (no init function, probe refused) from
    bsload's result, when the load reached MODULE_STATE_COMING. A load that
    failed before that (bad format, unknown symbol, ...) is no INIT: it is
    listed in load errors as -errno. EV_ENV_FAIL notes that the next ALLOC
    failed without a scenario rule (the guest's memory)."""
    sc = _Scenario()
    coming = init_seen = False
    for r in recs:
        k = r[0]
        if k == EV_SCENARIO:
            sc.guest_totalram = r[4]
            if r[2]:
                sc.script_error = r[3]    # the host could not parse line r[3]
            continue
        if k == EV_END:
            sc.ended = True
            break
        if k == EV_SITE:
            sc.sites.append(r[1])
        elif k == EV_COMING:
            coming = True
        elif k == EV_ENV_FAIL:
            sc.env_failures.append({"event": len(sc.events), "free_pages": r[1],
                                    "cause": "guard" if r[2] else "allocator"})
        elif k == EV_INIT:
            init_seen = True
            sc.events.append((EV_INIT, r[1], 0, 0, 0, 0, 0))
        elif k == EV_NOTE:
            what, *rest = text(r[1]).split()
            try:
                rc = int(rest[0])
            except (IndexError, ValueError):
                rc = -errno.EIO          # bsload printed nothing usable
            if what == "insmod":
                if not init_seen:
                    if rc == 0 or coming:
                        sc.events.append((EV_INIT, rc & U64, 0, 0, 0, 0, 0))
                    else:
                        sc.load_errors.append(rc)
                coming = init_seen = False
            elif what == "rmmod" and rc == 0:
                sc.events.append((EV_EXIT, 0, 0, 0, 0, 0, 0))
        elif k in TRACE_KINDS:
            e = list(r)
            for pos in TEXT_FIELDS.get(k, ()):
                e[pos] = text(e[pos])
            sc.events.append(tuple(e))
    return sc


def _boot_problems(recs, text) -> list[str]:
    """Interceptions the host could not set up (the function, errno)."""
    return [f"no interception of {text(r[1])} "
            f"({r[2] - (1 << 64) if r[2] >> 63 else r[2]})"
            for r in recs if r[0] == EV_NO_PROBE]


# ---------------------------------------------------------------- running

def _console_part(console, begin: float, end: float | None) -> str:
    """This scenario's console lines, without the runner's own markers."""
    return "\n".join(l for t, l in console
                     if t >= begin and (end is None or t <= end)
                     and not l.startswith("@@"))[-8000:]


def _boot_once(kernel, mods, preload, drv_mod, scripts, timeout_s, workdir,
               results, console_dir, on_result, bench_calls=0, vmware=True,
               mem=DEFAULT_MEM):
    """Boot for scripts (list of (index, id, text, Options)); fills
    results[index], calling on_result(index, result) as each scenario ends.
    Returns the ones that must run again in a fresh boot."""
    sh = ["C=/sys/kernel/debug/balloonspec",
          'bs() { echo "$*" > $C/ctl; }']
    if bench_calls:
        sh += ['echo "@@BENCH_START"', f"bs B {bench_calls}",
               'echo "@@BENCH_END $?"']
    sh += [_scenario_sh(i, text, drv_mod, o.debugfs) for i, _, text, o in scripts]
    initrd = build_initramfs(workdir / "initrd.cpio", mods, preload,
                             "\n".join(sh) + "\n",
                             {f"s/{i}.txt": _strip_comments(text).encode()
                              for i, _, text, _ in scripts},
                             host_params=f"target_mod={drv_mod}")
    shm = workdir / "trace.shm"
    with open(shm, "wb") as f:
        f.truncate(SHM_SIZE)
    console_dir.mkdir(parents=True, exist_ok=True)
    console_file = console_dir / (f"console-{time.strftime('%Y%m%d-%H%M%S')}-"
                                  f"{os.getpid()}-{time.time_ns() % 10**9}.txt")
    trace = _SharedTrace(shm)
    boot = Boot(qemu_command(kernel, initrd, shm, SHM_SIZE, vmware=vmware, mem=mem))
    stats = {"guest_mem": mem, "console_file": str(console_file)}
    by_index = {i: (sid, script, opts) for i, sid, script, opts in scripts}
    verdict = {}                      # index -> verdict decided from console
    steps_t = {}                      # index -> {step: t}
    begin_t, end_t = {}, {}

    def finish(i):
        """Scenario i's result, from its records and its console."""
        sid, script, opts = by_index[i]
        sc = _events(trace.scenarios.get(i, []), trace.text)
        v = verdict.get(i) or ("ok" if sc.ended else "hang")
        if v == "ok" and sc.load_errors:
            v = "insmod_failed"   # not init's return: the load itself failed
        if v == "ok" and sc.script_error is not None:
            v = "script_error"     # the host ran as the default host instead
        st = steps_t.get(i, {})
        walls, keys = {}, sorted(k for k in st if k != "end")
        for a, b in zip(keys, keys[1:] + ["end"]):
            if b in st:
                walls[a] = st[b] - st[a]
        results[i] = Result(
            sid, v, events=sc.events,
            console_tail=_console_part(boot.console, begin_t[i], end_t.get(i)),
            unsupported=unsupported_lines(script), step_wall_s=walls,
            backdoor_calls=sum(e[0] == EV_BACKDOOR for e in sc.events),
            stats=dict(stats, sites=sc.sites, script_error_line=sc.script_error,
                       load_errors=sc.load_errors, env_failures=sc.env_failures,
                       debugfs=opts.debugfs, module=drv_mod,
                       guest_totalram=sc.guest_totalram,
                       seconds=end_t.get(i, time.monotonic() - boot.t0) - begin_t[i]))
        on_result(i, results[i])

    current, bench_t, tainted = None, 0.0, False
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    try:
        while True:
            try:
                item = boot.next_line(deadline)
            except TimeoutError:
                if current is not None:
                    verdict.setdefault(current, "hang")   # an oops stays one
                break
            if item is None:          # QEMU exited (panic, reboot)
                break
            t, line = item
            if line.startswith("@@INIT_REACHED"):
                stats["boot_to_init_s"] = t
            elif line.startswith("@@HOST_FAILED") or \
                    line.startswith("@@PRELOAD_FAILED"):
                stats.setdefault("errors", []).append(line)
            elif line.startswith("@@BENCH_START"):
                bench_t = t
            elif line.startswith("@@BENCH_END"):
                if line.split()[1] == "0":
                    stats["bench_calls"] = bench_calls
                    stats["bench_wall_s"] = t - bench_t
                    stats["bench_calls_per_s"] = bench_calls / (t - bench_t)
            elif line.startswith("@@BEGIN "):
                if tainted:           # after an oops: the rest, fresh boot
                    break
                current = int(line.split()[1])
                begin_t[current] = t
                steps_t[current] = {}
                deadline = time.monotonic() + timeout_s
            elif line.startswith("@@STEP "):
                _, i, k = line.split()
                steps_t[int(i)][int(k)] = t
            elif line.startswith("@@END "):
                i = int(line.split()[1])
                steps_t[i]["end"] = end_t[i] = t
                verdict.setdefault(i, "ok")
                current = None
                deadline = time.monotonic() + timeout_s
                trace.poll()          # its records are all in by now
                finish(i)
            elif line.startswith("@@ALL_DONE"):
                break                 # the trace is in the shared memory
            elif PANIC_RE.search(line):
                verdict[current] = "panic"
                if "deadlocked on memory" in line:   # OOM, nothing to kill
                    stats["oom"] = line.strip()
            elif current is not None and current not in verdict and (
                    HANG_RE.search(line) or OOPS_RE.search(line)):
                verdict[current] = "hang" if HANG_RE.search(line) else "oops"
                tainted = True
                # let the oops finish printing, then give up on this boot:
                # the kernel is tainted and /init is probably stuck
                deadline = time.monotonic() + 3.0
            elif "invoked oom-killer" in line or "Out of memory" in line:
                stats["oom"] = line.strip()   # the kernel's OOM killer ran
    finally:
        boot.kill()
        console_file.write_text("\n".join(f"{t:8.3f} {l}" for t, l in boot.console) + "\n")
    stats["boot_wall_s"] = time.monotonic() - boot.t0
    trace.poll()
    problems = _boot_problems(trace.outside, trace.text)
    if problems:
        stats["interception_errors"] = problems
    rerun = []
    for i, sid, script, opts in scripts:
        if i in results:
            continue
        if i in begin_t:
            finish(i)                 # it began and never ended
        elif not begin_t:
            # the boot itself failed (no /init, host module refused):
            # rebooting would fail the same way
            results[i] = Result(sid, "hang", console_tail=boot.tail(), stats=stats)
            on_result(i, results[i])
        else:
            rerun.append((i, sid, script, opts))    # next boot
    trace.close()
    return rerun


def _driver_builds(module: Path, need_nodebugfs: bool):
    """module (a .c source or a built .ko) -> {debugfs: .ko}; a source is
    built with CONFIG_DEBUG_FS, and without it when some scenario needs
    that. Raises BuildError."""
    if module.suffix != ".c":
        return {True: module}
    builds = {True: build_module(module)}
    if need_nodebugfs:
        builds[False] = build_module(module, debugfs=False)
    return builds


KEEP_CONSOLES = 200           # newest boot consoles kept in the cache


def _prune(directory: Path, keep: int) -> None:
    """Delete all but the newest `keep` files of a cache folder."""
    if not directory.is_dir():
        return
    files = sorted(directory.iterdir(), key=lambda f: f.stat().st_mtime, reverse=True)
    for f in files[keep:]:
        f.unlink(missing_ok=True)


def run_scenarios_kernel(module_ko, scripts, *, timeout_s=60.0,
                         bench_calls=0, mem=DEFAULT_MEM, console_dir=None,
                         on_result=lambda index, result: None):
    """Run each scenario against module_ko; one Result per script, in order.
    Scenarios share a boot (rmmod/insmod between them) until one ends in an
    oops, a panic or a hang; the rest then get a fresh boot.

    scripts: (id, script_text) or (id, script_text, Options).
    module_ko: a built .ko (for example build_module(...)), or a driver
    source .c which is built first (verdict build_failed on error, or
    kernel_api_missing when it only lacks what this kernel removed).
    timeout_s bounds each scenario (verdict hang past it).
    bench_calls > 0: before the scenarios, time that many backdoor calls
    through the interception alone (stats bench_calls_per_s, wall clock).
    mem: guest RAM (QEMU -m) for scenarios without Options or a
    `# kernel: mem=SIZE` comment line of their own.
    console_dir: where each boot's full console is saved (stats
    console_file); default the cache's consoles/ folder.
    on_result(index, result) is called as each scenario's result is known
    (scenario order within a boot; boots per machine kind).
    Every result's stats carry boot_to_init_s (wall, QEMU start to /init)
    and guest_mem."""
    scripts = [(s[0], s[1], s[2] if len(s) > 2 else Options(mem=_guest_mem(s[1], mem)))
               for s in scripts]
    version = ksetup.kernel_version()
    kernel = ksetup.boot_kernel(version)
    module_ko = Path(module_ko)
    need_nodebugfs = any(not o.debugfs for _, _, o in scripts)
    try:
        builds = _driver_builds(module_ko, need_nodebugfs)
    except BuildError as e:
        v = "kernel_api_missing" if e.missing_api else "build_failed"
        out = [Result(sid, v, console_tail=str(e),
                      stats={"missing_api": e.missing_api, "kernel": version})
               for sid, _, _ in scripts]
        for i, r in enumerate(out):
            on_result(i, r)
        return out
    host = build_module(HOST_SRC, compat=False, extra_sources=ENGINE + HOST_EXTRA)
    drv_mod = _modinfo(builds[True], "name") or builds[True].name.split(".")[0]
    workdir = ksetup.cache_dir() / "runs" / f"{os.getpid()}-{time.time_ns()}"
    workdir.mkdir(parents=True)
    if console_dir is None:
        console_dir = ksetup.cache_dir() / "consoles"
        _prune(console_dir, keep=KEEP_CONSOLES)
    console_dir = Path(console_dir)
    mods = {"balloonspec_host.ko": host,
            f"{drv_mod}.ko": _plain_ko(builds[True], workdir)}
    if False in builds:
        mods[f"nodebugfs/{drv_mod}.ko"] = builds[False]
    deps = [_plain_ko(d, workdir) for d in _deps(builds[True], version)]
    for d in deps:
        mods[d.name] = d
    results: dict = {}
    for i, (sid, text, o) in enumerate(scripts):
        if o.debugfs not in builds:
            results[i] = Result(sid, "unsupported", console_tail=(
                "needs a build without CONFIG_DEBUG_FS; a binary module "
                "cannot be rebuilt"))
            on_result(i, results[i])
    # one machine (identity, RAM size) per boot, in order of first use
    todo_all = [(i, sid, text, o) for i, (sid, text, o) in enumerate(scripts)
                if i not in results]
    machines = list(dict.fromkeys((_vmware(text), o.mem) for _, _, text, o in todo_all))
    for vmware, m in machines:
        todo = [s for s in todo_all if (_vmware(s[2]), s[3].mem) == (vmware, m)]
        while todo:
            todo = _boot_once(kernel, mods, [d.name for d in deps], drv_mod,
                              todo, timeout_s, workdir, results, console_dir,
                              on_result, bench_calls, vmware, m)
            bench_calls = 0          # once is enough
    for f in workdir.iterdir():      # keep the cache small: traces are parsed
        f.unlink()
    workdir.rmdir()
    return [results[i] for i in range(len(scripts))]


# ---------------------------------------------------------------- bench

BENCH_CALLS = 200_000
BENCH_INFLATE = """\
# three full-rate inflate cycles (16385 LOCKs each), then deflate
target 49155
step init
step cycle
step cycle
step cycle
step set_target 0
step cycle
step cycle
step cycle
step cycle
step exit
"""


def bench_kernel(module_ko=None, calls: int = BENCH_CALLS, boots: int = 3) -> dict:
    """`balloonspec bench --kernel`: `boots` boots of the seed (or
    module_ko), each running the workload; every number is the best boot's.

    boot_seconds: QEMU start to /init (wall; all boots in boot_seconds_all);
    kernel_calls_per_s: `calls` backdoor calls from the host's own probed
    site, through the kprobe interception (wall clock, console markers);
    kernel_inflate_16385_s: wall time of one full-rate inflate cycle (16385
    ALLOCs through the allocator interception and 16385 LOCKs), the best of
    the workload's three."""
    from balloonspec import SEED_DRIVER
    boot_s, rates, inflate = [], [], []
    for _ in range(boots):
        (r,) = run_scenarios_kernel(module_ko or SEED_DRIVER,
                                    [("bench-kernel", BENCH_INFLATE)],
                                    timeout_s=120.0, bench_calls=calls)
        if r.verdict != "ok" or "bench_calls_per_s" not in r.stats:
            raise RuntimeError(f"kernel bench run failed: {r.verdict} "
                               f"{r.stats.get('errors', '')}\n{r.console_tail[-1500:]}")
        boot_s.append(r.stats["boot_to_init_s"])
        rates.append(r.stats["bench_calls_per_s"])
        for k in (1, 2, 3):
            locks = [e for e in step_events(r.events, k)
                     if e[0] == EV_BACKDOOR and e[2] == 2]
            if len(locks) == 16385 and k in r.step_wall_s:
                inflate.append(r.step_wall_s[k])
    if not inflate:
        raise RuntimeError("kernel bench: no full-rate (16385-page) inflate "
                           "cycle in the trace")
    return {
        "boot_seconds": round(min(boot_s), 3),
        "boot_seconds_all": [round(t, 3) for t in boot_s],
        "kernel_calls_per_s": round(max(rates)),
        "kernel_inflate_16385_s": round(min(inflate), 4),
        "kernel_backdoor_calls": r.backdoor_calls,
    }


def step_events(events, index):
    """The events of step `index`, without its STEP event."""
    out, inside = [], False
    for e in events:
        if e[0] == EV_STEP:
            inside = e[1] == index
        elif inside:
            out.append(e)
    return out
