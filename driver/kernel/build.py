"""Build kernel modules out-of-tree against the installed Debian headers.

Any driver source given by path is copied into a build directory in the cache
keyed by the hash of (source, headers forced in, kernel version, module
name), so rebuilding the same source is free and the repo never receives
build products.
"""
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from . import setup as _setup

HERE = Path(__file__).resolve().parent
COMPAT_H = HERE / "compat.h"
NODEBUGFS_H = HERE / "nodebugfs.h"


class BuildError(RuntimeError):
    """The module did not build; the message ends with the compiler's tail.

    missing_api: when every error is about a header or a name the kernel's
    headers do not provide and the source does not define either (an API
    the kernel removed or renamed), those names; empty otherwise (a defect
    of the source itself)."""

    def __init__(self, message: str, missing_api=()):
        super().__init__(message)
        self.missing_api = list(missing_api)


def module_name(source) -> str:
    """The module a source builds: its file name's stem, made a valid module
    name (`my_balloon.c` -> my_balloon, `1.3.0.0-k.c` -> 1_3_0_0_k)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", Path(source).stem)


# gcc's errors that mean "this name is not there" (quotes are typographic
# in a UTF-8 locale, plain in C)
_Q = "[‘’'`]"
_MISSING = [
    re.compile(r"fatal error: (\S+): No such file or directory"),
    re.compile(rf"error: implicit declaration of function {_Q}(\w+){_Q}"),
    re.compile(rf"error: {_Q}(\w+){_Q} undeclared"),
    re.compile(rf"error: unknown type name {_Q}(\w+){_Q}"),
]
_ERROR = re.compile(r"(?:^|\s)(?:fatal )?error: ", re.M)


def _defines(source: str, name: str) -> bool:
    """The source defines `name` itself (a macro, or a function, type or
    variable defined at file scope), so a missing `name` is its own defect."""
    n = re.escape(name)
    return bool(re.search(rf"^\s*#\s*define\s+{n}\b", source, re.M)
                or re.search(rf"^[A-Za-z_][^;(]*\b{n}\s*\([^;]*$", source, re.M)
                or re.search(rf"^(?:typedef|struct|enum|union)\b.*\b{n}\b", source, re.M))


def missing_api(log: str, source: str) -> list[str]:
    """The names a failed build lacked from the kernel, when that is all
    that failed (see BuildError.missing_api); [] otherwise."""
    errors = [l for l in log.splitlines() if _ERROR.search(l)]
    names = []
    for line in errors:
        m = next((p.search(line) for p in _MISSING if p.search(line)), None)
        if m is None or _defines(source, m.group(1)):
            return []            # some other error: the source's own
        if m.group(1) not in names:
            names.append(m.group(1))
    return names


def _kbuild(build_dir: Path, version: str, log_name: str, source: str) -> None:
    kdir = Path(f"/lib/modules/{version}/build")
    # C locale: plain quotes in gcc's messages
    env = dict(os.environ, LC_ALL="C")
    r = subprocess.run(["make", "-C", str(kdir), f"M={build_dir}", "modules"],
                       capture_output=True, text=True, env=env)
    log = r.stdout + r.stderr
    (build_dir / log_name).write_text(log)
    if r.returncode != 0:
        tail = "\n".join(log.splitlines()[-40:])
        raise BuildError(f"module build in {build_dir} failed:\n{tail}",
                         missing_api(log, source))


def build_module(driver_source_path, *, compat: bool = True, debugfs: bool = True,
                 extra_sources=(), name=None) -> Path:
    """Build one driver source file into a .ko; returns its path.

    The module is named after the source file (module_name()) unless name
    says otherwise. compat=True force-includes compat.h (for
    the driver family: API drift only); debugfs=False builds it as in a
    kernel without CONFIG_DEBUG_FS; extra_sources are compiled into the same
    module (the host's files and the shared C engine). Raises BuildError
    with the compiler's tail on failure.
    """
    src = Path(driver_source_path)
    version = _setup.kernel_version()
    name = name or module_name(src)
    headers = ([NODEBUGFS_H] if not debugfs else []) + ([COMPAT_H] if compat else [])
    parts = [src.read_bytes(), version.encode(), name.encode()]
    for h in headers:
        parts += [h.name.encode(), h.read_bytes()]
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
    for h in headers:                    # in this order, after kconfig.h
        shutil.copy(h, tmp / h.name)
        kbuild.append(f"ccflags-y += -include $(src)/{h.name}")
    # The seed's one switch fall-through warning is harmless; keep -Werror off.
    (tmp / "Kbuild").write_text("\n".join(kbuild) + "\n")
    try:
        _kbuild(tmp, version, "build.log", src.read_text(errors="replace"))
    except BuildError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        tmp.rename(build_dir)
    except OSError:                  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
    return ko
