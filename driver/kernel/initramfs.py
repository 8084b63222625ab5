"""A newc cpio writer (the machine has no cpio binary) and the initramfs the
in-kernel backend boots: busybox-static, an /init script, the modules."""
import io
import stat
from pathlib import Path

BUSYBOX = Path("/bin/busybox")


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
    insmod /m/$m 2>/tmp/e || echo "@@PRELOAD_FAILED $m $(cat /tmp/e)"
done
if ! insmod /m/balloonspec_host.ko 2>/tmp/e; then
    echo "@@HOST_FAILED $(cat /tmp/e)"
    poweroff -f
fi
. /scenarios.sh
echo "@@ALL_DONE"
poweroff -f
"""


def build_initramfs(out: Path, modules: dict, preload: list,
                    scenarios_sh: str, files: dict = {}) -> Path:
    """modules: {name in /m: path of .ko}; preload: names insmod-ed at boot
    (the driver's own dependencies), in order; files: {path: bytes} more
    files (scenario scripts in /s)."""
    c = Cpio()
    for d in ("bin", "dev", "proc", "sys", "tmp", "m", "s"):
        c.dir(d)
    c.chardev("dev/console", 5, 1)   # the kernel opens it before /init runs
    c.file("bin/busybox", BUSYBOX.read_bytes(), 0o755)
    c.file("init", INIT.encode(), 0o755)
    for name, path in modules.items():
        c.file(f"m/{name}", Path(path).read_bytes())
    c.file("m/preload", "\n".join(preload).encode() + b"\n")
    c.file("scenarios.sh", scenarios_sh.encode())
    for name, data in files.items():
        c.file(name, data)
    out.write_bytes(c.finish())
    return out
