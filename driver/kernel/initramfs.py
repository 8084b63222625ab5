"""A newc cpio writer (the machine has no cpio binary) and the initramfs the
in-kernel backend boots: busybox-static, bsload (the one-syscall module
loader, bsload.c), an /init script, the modules."""
import hashlib
import io
import os
import stat
import subprocess
from pathlib import Path

from . import setup as _setup

BUSYBOX = Path("/bin/busybox")
BSLOAD_SRC = Path(__file__).resolve().parent / "bsload.c"


def bsload_binary() -> Path:
    """driver/kernel/bsload.c built static (`gcc -static -Os`), cached by the
    hash of its source: the guest's one-syscall module loader."""
    src = BSLOAD_SRC.read_bytes()
    key = hashlib.sha256(src).hexdigest()[:16]
    out = _setup.cache_dir() / "build" / f"bsload-{key}"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.tmp{os.getpid()}")
    r = subprocess.run(["gcc", "-static", "-Os", "-s", "-o", str(tmp),
                        str(BSLOAD_SRC)], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("building bsload (needs gcc and libc6-dev's "
                           "static libc.a) failed:\n" + r.stderr[-2000:])
    os.replace(tmp, out)
    return out


class Cpio:
    """Uncompressed newc archive, which the kernel unpacks as initramfs."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.ino = 1

    def _entry(self, name: str, mode: int, data: bytes = b"", rdev=(0, 0)):
        name_b = name.encode() + b"\0"
        fields = [self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0],
                  rdev[1], len(name_b), 0]
        self.ino += 1
        hdr = b"070701" + b"".join(b"%08x" % f for f in fields)
        self.buf.write(hdr + name_b)
        self._pad()              # header+name end on a 4-byte boundary
        self.buf.write(data)
        self._pad()              # and so does the data

    def _pad(self):
        self.buf.write(b"\0" * (-self.buf.tell() % 4))

    def dir(self, name):
        self._entry(name, stat.S_IFDIR | 0o755)

    def file(self, name, data: bytes, mode=0o644):
        self._entry(name, stat.S_IFREG | mode, data)

    def chardev(self, name, major, minor):
        self._entry(name, stat.S_IFCHR | 0o600, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return self.buf.getvalue()


INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
mount -t debugfs none /sys/kernel/debug
echo "@@INIT_REACHED"
for m in $(cat /m/preload); do
    r=$(bsload load /m/$m) || echo "@@PRELOAD_FAILED $m $r"
done
if ! r=$(bsload load /m/balloonspec_host.ko "$(cat /m/host.params)"); then
    echo "@@HOST_FAILED $r"
    reboot -f
fi
. /scenarios.sh
echo "@@ALL_DONE"
# the runner stops QEMU at @@ALL_DONE; a reboot ends it otherwise
# (-no-reboot; with acpi=off the guest cannot power off)
reboot -f
"""


def build_initramfs(out: Path, modules: dict, preload: list,
                    scenarios_sh: str, files: dict = {}, host_params: str = "") -> Path:
    """modules: {name in /m: path of .ko}; preload: names insmod-ed at boot
    (the driver's own dependencies), in order; files: {path: bytes} more
    files (scenario scripts in /s); host_params: balloonspec_host's module
    parameters (the kernel command line reaches only built-in modules)."""
    c = Cpio()
    for d in ("bin", "dev", "proc", "sys", "tmp", "m", "s"):
        c.dir(d)
    c.chardev("dev/console", 5, 1)   # the kernel opens it before /init runs
    c.file("bin/busybox", BUSYBOX.read_bytes(), 0o755)
    c.file("bin/bsload", bsload_binary().read_bytes(), 0o755)
    c.file("init", INIT.encode(), 0o755)
    made = set()
    for name, path in modules.items():
        for parent in reversed(Path(f"m/{name}").parents[:-2]):   # m/x/ ...
            if str(parent) not in made:
                c.dir(str(parent))
                made.add(str(parent))
        c.file(f"m/{name}", Path(path).read_bytes())
    c.file("m/preload", "\n".join(preload).encode() + b"\n")
    c.file("m/host.params", host_params.encode())
    c.file("scenarios.sh", scenarios_sh.encode())
    for name, data in files.items():
        c.file(name, data)
    out.write_bytes(c.finish())
    return out
