"""The kernel's own compiler flags for a module, for the userspace build of
the driver (Kbuild parity): what compiles in the kernel compiles here, what
the kernel rejects is rejected here, and the code generation flags that change
what C means (`-fno-strict-overflow`, `-fno-strict-aliasing`,
`-fno-delete-null-pointer-checks`, `-ftrivial-auto-var-init=zero`, ...) are
the same.

Where they come from: Kbuild itself. The kernel headers the project resolves
(driver/kernel/setup.py; `balloonspec setup-kernel` installs them) build a
one-line probe module with `make M=...`, and the compiler command Kbuild wrote
into the probe's `.probe.o.cmd` is read back. That command is the sum of the
top Makefile, scripts/Makefile.extrawarn, arch/x86/Makefile and the kernel's
.config (CONFIG_WERROR, CONFIG_INIT_STACK_ALL_ZERO, ...), exactly as a module
build of this driver gets them. The result is cached per headers version.

Which of them apply to a userspace object (`select`): every warning (`-W...`),
the language standard, the optimisation level and the `-f` code generation
flags; not the `-m` flags (the kernel's code model, no red zone, no SSE,
retpoline thunks: a userspace program cannot link them and they change no C
semantics), nor include paths and forced includes (the shims stand in for the
kernel's headers), nor ftrace, PIE and path-mapping flags (`-pg`,
`-mfentry`, `-fno-PIE`, `-fmacro-prefix-map=`). `-D__KERNEL__` and
`-DMODULE` are kept: a driver may test them.

Without installed headers, FALLBACK is used: the same selection, as Linux
6.1's Kbuild produced it for Debian's 6.1 kernel, each flag with the line of
the Makefile it comes from.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shlex
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

# (flag, where it comes from in Linux 6.1; Makefile = the top Makefile)
FALLBACK: tuple[tuple[str, str], ...] = (
    ("-D__KERNEL__", "Makefile: KBUILD_CPPFLAGS := -D__KERNEL__"),
    ("-Wall", "Makefile: KBUILD_CFLAGS := -Wall ..."),
    ("-Wundef", "Makefile: KBUILD_CFLAGS := ... -Wundef"),
    ("-Werror=strict-prototypes", "Makefile: KBUILD_CFLAGS := ... -Werror=strict-prototypes"),
    ("-Wno-trigraphs", "Makefile: KBUILD_CFLAGS := ... -Wno-trigraphs"),
    ("-fno-strict-aliasing", "Makefile: KBUILD_CFLAGS := ... -fno-strict-aliasing"),
    ("-fno-common", "Makefile: KBUILD_CFLAGS := ... -fno-common"),
    ("-fshort-wchar", "Makefile: KBUILD_CFLAGS := ... -fshort-wchar"),
    ("-Werror=implicit-function-declaration", "Makefile: KBUILD_CFLAGS := ... -Werror=implicit-function-declaration"),
    ("-Werror=implicit-int", "Makefile: KBUILD_CFLAGS := ... -Werror=implicit-int"),
    ("-Werror=return-type", "Makefile: KBUILD_CFLAGS := ... -Werror=return-type"),
    ("-Wno-format-security", "Makefile: KBUILD_CFLAGS := ... -Wno-format-security"),
    ("-std=gnu11", "Makefile: KBUILD_CFLAGS := ... -std=gnu11"),
    ("-Wno-sign-compare", "arch/x86/Makefile: KBUILD_CFLAGS += -Wno-sign-compare"),
    ("-fno-asynchronous-unwind-tables", "arch/x86/Makefile: KBUILD_CFLAGS += -fno-asynchronous-unwind-tables"),
    ("-fno-jump-tables", "arch/x86/Makefile: KBUILD_CFLAGS += -fno-jump-tables (retpolines)"),
    ("-fno-delete-null-pointer-checks", "Makefile: KBUILD_CFLAGS += -fno-delete-null-pointer-checks"),
    ("-Wno-frame-address", "Makefile: $(call cc-disable-warning,frame-address,)"),
    ("-Wno-format-truncation", "Makefile: $(call cc-disable-warning, format-truncation)"),
    ("-Wno-format-overflow", "Makefile: $(call cc-disable-warning, format-overflow)"),
    ("-Wno-address-of-packed-member", "Makefile: $(call cc-disable-warning, address-of-packed-member)"),
    ("-O2", "Makefile: CONFIG_CC_OPTIMIZE_FOR_PERFORMANCE: KBUILD_CFLAGS += -O2"),
    ("-fno-allow-store-data-races", "Makefile: $(call cc-option,-fno-allow-store-data-races)"),
    ("-Wframe-larger-than=2048", "Makefile: -Wframe-larger-than=$(CONFIG_FRAME_WARN)"),
    ("-fstack-protector-strong", "Makefile: stackp-flags-$(CONFIG_STACKPROTECTOR_STRONG)"),
    ("-Wno-main", "Makefile: KBUILD_CFLAGS += -Wno-main"),
    ("-Wno-unused-but-set-variable", "Makefile: $(call cc-disable-warning, unused-but-set-variable)"),
    ("-Wno-unused-const-variable", "Makefile: $(call cc-disable-warning, unused-const-variable)"),
    ("-Wno-dangling-pointer", "Makefile: $(call cc-disable-warning, dangling-pointer)"),
    ("-ftrivial-auto-var-init=zero", "Makefile: CONFIG_INIT_STACK_ALL_ZERO: KBUILD_CFLAGS += -ftrivial-auto-var-init=zero"),
    ("-fno-stack-clash-protection", "Makefile: $(call cc-option, -fno-stack-clash-protection)"),
    ("-Wvla", "Makefile: KBUILD_CFLAGS += -Wvla"),
    ("-Wno-pointer-sign", "Makefile: KBUILD_CFLAGS += -Wno-pointer-sign"),
    ("-Wcast-function-type", "Makefile: $(call cc-option, -Wcast-function-type)"),
    ("-Wno-stringop-truncation", "Makefile: $(call cc-disable-warning, stringop-truncation)"),
    ("-Wno-stringop-overflow", "Makefile: $(call cc-disable-warning, stringop-overflow)"),
    ("-Wno-restrict", "Makefile: $(call cc-disable-warning, restrict)"),
    ("-Wno-maybe-uninitialized", "Makefile: KBUILD_CFLAGS += -Wno-maybe-uninitialized"),
    ("-Wno-array-bounds", "Makefile: KBUILD_CFLAGS-$(CONFIG_CC_NO_ARRAY_BOUNDS) += -Wno-array-bounds"),
    ("-Wno-alloc-size-larger-than", "Makefile: KBUILD_CFLAGS-$(call gcc-min-version, 90100) += -Wno-alloc-size-larger-than"),
    ("-Wimplicit-fallthrough=5", "Makefile: $(CONFIG_CC_IMPLICIT_FALLTHROUGH)"),
    ("-fno-strict-overflow", "Makefile: KBUILD_CFLAGS += -fno-strict-overflow"),
    ("-fno-stack-check", "Makefile: KBUILD_CFLAGS += -fno-stack-check"),
    ("-fconserve-stack", "Makefile: KBUILD_CFLAGS += -fconserve-stack"),
    ("-Werror=date-time", "Makefile: KBUILD_CFLAGS += -Werror=date-time"),
    ("-Werror=incompatible-pointer-types", "Makefile: $(call cc-option,-Werror=incompatible-pointer-types)"),
    ("-Werror=designated-init", "Makefile: $(call cc-option,-Werror=designated-init)"),
    ("-fno-builtin-wcslen", "Makefile: KBUILD_CFLAGS += -fno-builtin-wcslen"),
    ("-Wno-packed-not-aligned", "scripts/Makefile.extrawarn: KBUILD_CFLAGS += -Wno-packed-not-aligned"),
    ("-DMODULE", "Makefile: KBUILD_CFLAGS_MODULE := -DMODULE"),
)

# -f flags that only make sense inside a kernel image or for its tooling.
_DROP_F = re.compile(r"-f(no-)?(PIE|pie|PIC|pic)$|-fmacro-prefix-map=|-fcf-protection|-fpatchable-function-entry"
                     r"|-fzero-call-used-regs|-falign-|-fsanitize|-fprofile|-fno-lto|-flto")
PROBE_SOURCE = '#include <linux/module.h>\nMODULE_LICENSE("GPL");\n'


@dataclass(frozen=True)
class KbuildFlags:
    flags: tuple[str, ...]
    source: str  # where they were read: the probe's .cmd file, or "fallback (Linux 6.1)"

    def to_json(self) -> dict:
        return {"flags": list(self.flags), "source": self.source}


def select(command: list[str]) -> list[str]:
    """The flags of a Kbuild compile command that apply to a userspace object."""
    out = []
    for f in command:
        if f in ("-D__KERNEL__", "-DMODULE"):
            out.append(f)
        elif f.startswith(("-W", "-std=", "-O")) and not f.startswith(("-Wp,", "-Wa,", "-Wl,")):
            out.append(f)
        elif f.startswith("-f") and not _DROP_F.match(f):
            out.append(f)
    return list(dict.fromkeys(out))  # first occurrence of each, order kept


def _cache_root() -> Path:
    env = os.environ.get("BALLOONSPEC_CACHE")
    return (Path(env) if env else Path.home() / ".cache" / "balloonspec") / "kbuild-flags"


def headers_dir() -> Path | None:
    """The kernel build directory of the resolved headers, or None."""
    try:
        from balloonspec.driver.kernel.setup import kernel_version

        version = kernel_version()
    except Exception:  # no headers installed (or no setup module): the fallback applies
        return None
    build = Path(f"/lib/modules/{version}/build")
    return build if (build / "Makefile").is_file() else None


def probe(build: Path) -> list[str]:
    """The compile command Kbuild uses for a module's object, as a token list."""
    with tempfile.TemporaryDirectory(prefix="balloonspec-kbuild-") as d:
        (Path(d) / "probe.c").write_text(PROBE_SOURCE)
        (Path(d) / "Kbuild").write_text("obj-m := probe.o\n")
        r = subprocess.run(["make", "-s", "-C", str(build), f"M={d}", "probe.o"],
                           capture_output=True, text=True, timeout=300)
        cmd_file = Path(d) / ".probe.o.cmd"
        if r.returncode != 0 or not cmd_file.is_file():
            raise RuntimeError(f"Kbuild probe in {build} failed:\n{(r.stdout + r.stderr)[-2000:]}")
        first = cmd_file.read_text().splitlines()[0]
    command = first.split(":=", 1)[1].split(";", 1)[0]
    return shlex.split(command)


def _headers_key(build: Path) -> str:
    h = hashlib.sha256()
    for name in ("Makefile", ".config"):
        p = build / name
        h.update(p.read_bytes() if p.is_file() else b"")
    common = (build / "Makefile").read_text().split()
    if len(common) == 2 and common[0] == "include":  # Debian: the real Makefile is in -common
        h.update(Path(common[1]).read_bytes())
    return h.hexdigest()[:20]


def kbuild_flags() -> KbuildFlags:
    """Kbuild's flags for this driver's object, from the resolved headers or the fallback."""
    if os.environ.get("BALLOONSPEC_KBUILD_FLAGS") == "fallback":
        return fallback()
    build = headers_dir()
    if build is None:
        return fallback()
    cache = _cache_root() / f"{build.resolve().parent.name}-{_headers_key(build)}.json"
    if cache.is_file():
        return KbuildFlags(tuple(json.loads(cache.read_text())["flags"]), str(build))
    cache.parent.mkdir(parents=True, exist_ok=True)
    with open(cache.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not cache.is_file():
            try:
                flags = select(probe(build))
            except (RuntimeError, OSError, subprocess.SubprocessError):
                return fallback()
            tmp = cache.with_suffix(".tmp")
            tmp.write_text(json.dumps({"flags": flags, "headers": str(build)}) + "\n")
            os.replace(tmp, cache)
    return KbuildFlags(tuple(json.loads(cache.read_text())["flags"]), str(build))


def fallback() -> KbuildFlags:
    return KbuildFlags(tuple(f for f, _ in FALLBACK), "fallback (Linux 6.1 Kbuild, driver/kbuild_flags.py)")
