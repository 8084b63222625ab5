"""Build kernel modules out-of-tree against the installed Debian headers.

Any driver source given by path is copied into a build directory in the cache
keyed by the hash of (source, compat header, kernel version), so rebuilding the
same source is free and the repo never receives build products.
"""
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from . import setup as _setup

HERE = Path(__file__).resolve().parent
COMPAT_H = HERE / "compat.h"


class BuildError(RuntimeError):
    """The module did not build; the message ends with the compiler's tail."""


def _kbuild(build_dir: Path, version: str, log_name: str) -> None:
    kdir = Path(f"/lib/modules/{version}/build")
    r = subprocess.run(["make", "-C", str(kdir), f"M={build_dir}", "modules"],
                       capture_output=True, text=True)
    (build_dir / log_name).write_text(r.stdout + r.stderr)
    if r.returncode != 0:
        tail = "\n".join((r.stdout + r.stderr).splitlines()[-40:])
        raise BuildError(f"module build in {build_dir} failed:\n{tail}")


def build_module(driver_source_path, *, compat: bool = True,
                 extra_sources=(), module_name=None) -> Path:
    """Build one driver source file into a .ko; returns its path.

    The module is named after the source file's stem unless module_name says
    otherwise. compat=True force-includes compat.h (for the seed and its
    mutants); extra_sources are compiled into the same module (the host's
    shared C engine). Raises BuildError with the compiler's tail on failure.
    """
    src = Path(driver_source_path)
    version = _setup.kernel_version()
    name = module_name or src.stem
    parts = [src.read_bytes(), version.encode(), name.encode()]
    if compat:
        parts.append(COMPAT_H.read_bytes())
    for e in extra_sources:
        parts += [Path(e).name.encode(), Path(e).read_bytes()]
    key = hashlib.sha256(b"\0".join(parts)).hexdigest()[:16]
    build_dir = _setup.cache_dir() / "build" / f"{name}-{key}"
    ko = build_dir / f"{name}.ko"
    if ko.exists():
        return ko
    # per-process scratch dir: parallel runs (xdist) may build the same key
    tmp = build_dir.with_name(f"{build_dir.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    objs = []
    main_c = f"{name}_main.c" if extra_sources else f"{name}.c"
    shutil.copy(src, tmp / main_c)
    objs.append(main_c[:-2] + ".o")
    for e in extra_sources:
        shutil.copy(e, tmp / Path(e).name)
        if Path(e).suffix == ".c":       # headers are only copied
            objs.append(Path(e).stem + ".o")
    kbuild = [f"obj-m := {name}.o"]
    if extra_sources:
        kbuild.append(f"{name}-y := {' '.join(objs)}")
    if compat:
        shutil.copy(COMPAT_H, tmp / "compat.h")
        kbuild.append("ccflags-y += -include $(src)/compat.h")
    # The seed's one switch fall-through warning is harmless; keep -Werror off.
    (tmp / "Kbuild").write_text("\n".join(kbuild) + "\n")
    try:
        _kbuild(tmp, version, "build.log")
    except BuildError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        tmp.rename(build_dir)
    except OSError:                  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
    return ko
