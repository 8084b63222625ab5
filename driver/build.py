"""Compile a driver source with the userspace shims and harness into an
executable that runs one scenario script (driver/userspace/harness.c).

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
import subprocess
from pathlib import Path

USERSPACE = Path(__file__).resolve().parent / "userspace"
INCLUDE = USERSPACE / "include"
HARNESS_SOURCES = ("harness.c", "backdoor.c", "kapi.c", "pool.c", "script.c", "trace.c")

CFLAGS = ["-O2", "-g", "-Wall", "-Werror", f"-I{INCLUDE}"]
DRIVER_FLAGS = ["-DKBUILD_MODNAME=\"vmw_balloon\""]
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
                  "-fno-omit-frame-pointer"]
DRIVER_NAME = "vmw_balloon"  # the copied source's name, so gcov reports read naturally
BINARY_NAME = "harness"


class BuildError(Exception):
    """The driver (or the harness) did not compile or link."""

    def __init__(self, source_path: Path, stderr_tail: str):
        super().__init__(f"build of {source_path} failed:\n{stderr_tail}")
        self.source_path = source_path
        self.stderr_tail = stderr_tail


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
    """(flags for every object, extra flags for the driver object)."""
    common = CFLAGS + (SANITIZE_FLAGS if sanitize else [])
    driver = DRIVER_FLAGS + (["-DCONFIG_DEBUG_FS"] if debugfs else [])
    return common, driver


def driver_flags(debugfs: bool = True, sanitize: bool = False) -> list[str]:
    """The compiler flags of the driver object (tests and reports show them)."""
    common, driver = _flags(debugfs, sanitize)
    return common + driver


def _run(cmd: list[str], cwd: Path, source_path: Path) -> None:
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise BuildError(source_path, r.stderr[-4000:])


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
    common, driver_flags = _flags(debugfs, sanitize)
    if coverage:  # -O0: gcov attributes lines and branches of inlined code exactly
        driver_flags = driver_flags + ["--coverage", "-O0"]
    key = hashlib.sha256()
    for part in (source, _support_digest(), repr((common, driver_flags)).encode(), _gcc_version()):
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
        _run(["gcc", *common, *driver_flags, "-c", f"{DRIVER_NAME}.c", "-o", driver_obj], out, source_path)
        link_flags = ["--coverage"] if coverage else []
        tmp = out / (BINARY_NAME + ".tmp")
        _run(["gcc", *common, *link_flags, driver_obj, *map(str, harness), "-o", tmp.name], out, source_path)
        tmp.rename(binary)  # appears complete or not at all
    return binary
