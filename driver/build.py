"""Compile a driver source with the userspace shims and harness into an
executable that runs one scenario script (driver/userspace/harness.c).

The driver object is compiled with the kernel's own flags for a module
(driver/kbuild_flags.py: warnings, errors, language standard and code
generation as Kbuild has them), so that what the kernel accepts compiles here
and means the same; its warnings are kept next to the binary
(`build_warnings`). The harness's own sources compile with -Wall -Werror.
A driver that does not compile raises BuildError, which names the compiler's
first errors against the user's file and every kernel API the driver uses
that the shims do not provide.

Builds are cached by content: the driver source bytes, every shim and harness
source, the flags and `gcc --version`. The cache lives in
$BALLOONSPEC_CACHE/build/ (default ~/.cache/balloonspec/build/). A build
directory keeps its objects, so a coverage build's .gcno (and the .gcda its runs write) sit next to the binary:
`binary.parent / "vmw_balloon.gcno"`.
"""
from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import re
import subprocess
from pathlib import Path

from balloonspec.driver.kbuild_flags import kbuild_flags

USERSPACE = Path(__file__).resolve().parent / "userspace"
INCLUDE = USERSPACE / "include"
HARNESS_SOURCES = ("harness.c", "backdoor.c", "kapi.c", "pool.c", "script.c", "trace.c")

CFLAGS = ["-O2", "-g", "-Wall", "-Werror", f"-I{INCLUDE}"]
# The module is vmw_balloon whatever the file is called: pr_fmt prints it.
DRIVER_FLAGS = ["-DKBUILD_MODNAME=\"vmw_balloon\"", "-DKBUILD_BASENAME=\"vmw_balloon\""]
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
                  "-fno-omit-frame-pointer"]
DRIVER_NAME = "vmw_balloon"  # the copied source's name, so gcov reports read naturally
BINARY_NAME = "harness"
WARNINGS_NAME = "driver-warnings.txt"


class BuildError(Exception):
    """The driver (or the harness) did not compile or link.

    `first_errors`: the compiler's first error lines, naming the user's file;
    `missing`: kernel APIs (functions, macros, types, headers) the driver uses
    and the shims do not provide, each as a sentence."""

    def __init__(self, source_path: Path, stderr_tail: str):
        self.source_path = Path(source_path)
        self.stderr_tail = stderr_tail.replace(f"{DRIVER_NAME}.c:", f"{self.source_path}:")
        self.first_errors = first_errors(self.stderr_tail)
        self.missing = missing_apis(self.stderr_tail)
        super().__init__(self.summary())

    def summary(self) -> str:
        lines = [f"driver does not compile: {self.source_path}"]
        lines += [f"  {m}" for m in self.missing]
        lines += [f"  {e}" for e in self.first_errors]
        if not self.first_errors and not self.missing:
            lines += [f"  {line}" for line in self.stderr_tail.strip().splitlines()[-8:]]
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"source": str(self.source_path), "missing_apis": self.missing,
                "first_errors": self.first_errors, "compiler_output": self.stderr_tail}


_ERROR_LINE = re.compile(r"^(?P<where>[^:\s][^:]*:\d+(?::\d+)?): (?:fatal )?error: (?P<what>.*)$|"
                         r"undefined reference to")
FIRST_ERRORS = 8


def first_errors(stderr: str) -> list[str]:
    """The compiler's (or linker's) first error lines."""
    return [line.strip() for line in stderr.splitlines() if _ERROR_LINE.search(line)][:FIRST_ERRORS]


_MISSING = [
    (re.compile(r"^(?P<where>\S+?:\d+):\d+: error: implicit declaration of function '(?P<name>\w+)'", re.M),
     "driver uses {name}, which the userspace shims do not provide ({where})"),
    (re.compile(r"^(?P<where>\S+?:\d+):\d+: error: '(?P<name>\w+)' undeclared", re.M),
     "driver uses {name}, which neither the driver declares nor the userspace shims provide ({where})"),
    (re.compile(r"^(?P<where>\S+?:\d+):\d+: error: unknown type name '(?P<name>\w+)'", re.M),
     "driver uses the type {name}, which the userspace shims do not provide ({where})"),
    (re.compile(r"^(?P<where>\S+?:\d+):\d+: fatal error: (?P<name>[\w/.-]+\.h): No such file", re.M),
     "driver includes <{name}>, which the userspace shims do not provide ({where})"),
    (re.compile(r"^(?P<where>\S+?:\d+):\d+: error: '(?P<name>struct \w+)' has no member named '(?P<member>\w+)'",
                re.M), "driver uses {name}.{member}, which the userspace shims do not provide ({where})"),
    (re.compile(r"undefined reference to `(?P<name>\w+)'"),
     "driver uses {name}, which the userspace shims declare but do not provide"),
]


@functools.lru_cache(maxsize=None)
def shim_structs() -> frozenset[str]:
    """`struct NAME` of every structure the shims define (the driver's own are not APIs)."""
    return frozenset(f"struct {n}" for h in INCLUDE.rglob("*.h")
                     for n in re.findall(r"^struct (\w+) \{", h.read_text(), re.M))


def missing_apis(stderr: str) -> list[str]:
    """One sentence per kernel API the driver uses that the shims lack (first use)."""
    out, seen = [], set()
    for pattern, sentence in _MISSING:
        for m in pattern.finditer(stderr):
            if "member" in m.groupdict() and m.group("name") not in shim_structs():
                continue  # a member of the driver's own structure: a plain error
            name = m.group("name") + ("." + m.group("member") if "member" in m.groupdict() else "")
            if name not in seen:
                seen.add(name)
                out.append(sentence.format(**{"where": "", **m.groupdict()}))
    return out


def cache_root() -> Path:
    env = os.environ.get("BALLOONSPEC_CACHE")
    return (Path(env) if env else Path.home() / ".cache" / "balloonspec") / "build"


@functools.lru_cache(maxsize=None)
def _gcc_version() -> bytes:
    return subprocess.run(["gcc", "--version"], capture_output=True, check=True).stdout


@functools.lru_cache(maxsize=None)
def _support_digest() -> bytes:
    """Digest of every shim and harness source (read once per process)."""
    h = hashlib.sha256()
    for p in sorted([*USERSPACE.glob("*.[ch]"), *INCLUDE.rglob("*.h")]):
        h.update(str(p.relative_to(USERSPACE)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.digest()


def _flags(debugfs: bool, sanitize: bool) -> tuple[list[str], list[str]]:
    """(flags for the harness objects, flags for the driver object)."""
    sanitizer = SANITIZE_FLAGS if sanitize else []
    driver = [*kbuild_flags().flags, "-g", f"-I{INCLUDE}", *sanitizer, *DRIVER_FLAGS]
    if debugfs:
        driver.append("-DCONFIG_DEBUG_FS")
    return CFLAGS + sanitizer, driver


def driver_flags(debugfs: bool = True, sanitize: bool = False) -> list[str]:
    """The compiler flags of the driver object (tests and reports show them)."""
    return _flags(debugfs, sanitize)[1]


def _run(cmd: list[str], cwd: Path, source_path: Path) -> str:
    """Run the compiler; its warnings on success, BuildError on failure."""
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
    if r.returncode != 0:
        raise BuildError(source_path, r.stderr[-8000:])
    return r.stderr


def build_warnings(binary: Path) -> str:
    """What the compiler said about the driver of a successful build (Kbuild warns, it does not fail)."""
    log = Path(binary).parent / WARNINGS_NAME
    return log.read_text() if log.is_file() else ""


def _harness_objects(common: list[str], source_path: Path) -> list[Path]:
    """The harness's objects, built once per (harness sources, flags, compiler):
    a mutation campaign then compiles only each mutant's driver object."""
    key = hashlib.sha256()
    for part in (_support_digest(), repr(common).encode(), _gcc_version()):
        key.update(hashlib.sha256(part).digest())
    out = cache_root() / f"harness-{key.hexdigest()[:24]}"
    objects = [out / (name[:-2] + ".o") for name in HARNESS_SOURCES]
    done = out / ".complete"
    if done.exists():
        return objects
    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            for name, obj in zip(HARNESS_SOURCES, objects):
                _run(["gcc", *common, "-c", str(USERSPACE / name), "-o", obj.name], out, source_path)
            done.touch()
    return objects


def build_driver(source_path: str | Path, *, debugfs: bool = True, sanitize: bool = False,
                 coverage: bool = False) -> Path:
    """Return the path of the harness executable built from `source_path`."""
    source_path = Path(source_path)
    source = source_path.read_bytes()
    common, dflags = _flags(debugfs, sanitize)
    if coverage:  # -O0: gcov attributes lines and branches of inlined code exactly
        dflags = dflags + ["--coverage", "-O0"]
    key = hashlib.sha256()
    for part in (source, _support_digest(), repr((common, dflags)).encode(), _gcc_version()):
        key.update(hashlib.sha256(part).digest())
    out = cache_root() / key.hexdigest()[:32]
    binary = out / BINARY_NAME
    if binary.exists():
        return binary

    harness = _harness_objects(common, source_path)
    out.mkdir(parents=True, exist_ok=True)
    # Parallel workers building the same key wait for each other, then reuse.
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if binary.exists():
            return binary
        (out / f"{DRIVER_NAME}.c").write_bytes(source)
        driver_obj = f"{DRIVER_NAME}.o"
        warnings = _run(["gcc", *dflags, "-c", f"{DRIVER_NAME}.c", "-o", driver_obj], out, source_path)
        (out / WARNINGS_NAME).write_text(warnings.replace(f"{DRIVER_NAME}.c:", f"{source_path}:"))
        link_flags = ["--coverage"] if coverage else []
        tmp = out / (BINARY_NAME + ".tmp")
        _run(["gcc", *common, *link_flags, driver_obj, *map(str, harness), "-o", tmp.name], out, source_path)
        tmp.rename(binary)  # appears complete or not at all
    return binary
