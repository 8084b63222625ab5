"""Install what the in-kernel backend needs (Debian packages), idempotently.

Run as `python3 driver/kernel/setup.py` (or `python -m ...driver.kernel.setup`).
Installed already -> a fast no-op (dpkg-query only, no network).

The kernel is whatever `linux-image-amd64` resolves to *now*: the ABI number in
the package name (linux-image-6.1.0-NN-amd64) changes over time, so it is read
from apt-cache, never hard-coded, and the headers are taken at the same version
so that modules built here load into that kernel.
"""
import os
import re
import subprocess
import sys
import time
from pathlib import Path

# libc6-dev: the static libc.a for bsload (the guest's module loader); gcc
# only recommends it, and recommends are not installed
BASE_PACKAGES = ["qemu-system-x86", "busybox-static", "gcc", "libc6-dev", "make",
                 "kmod"]


def cache_dir() -> Path:
    """Cache for kernels, built modules, initramfs: outside the repo."""
    d = Path(os.environ.get("BALLOONSPEC_CACHE") or Path.home() / ".cache" / "balloonspec") / "kernel"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _installed(pkg: str) -> bool:
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg],
                       capture_output=True, text=True)
    return r.returncode == 0 and r.stdout.strip() == "install ok installed"


def _resolve_image_package() -> str | None:
    """linux-image-amd64 -> 'linux-image-6.1.0-NN-amd64' (from apt's lists)."""
    r = subprocess.run(["apt-cache", "depends", "linux-image-amd64"],
                       capture_output=True, text=True)
    m = re.search(r"Depends:\s*(linux-image-\S+-amd64)", r.stdout)
    return m.group(1) if m else None


def _installed_kernel_version() -> str | None:
    """The newest '6.1.0-NN-amd64' with both image and headers installed."""
    versions = []
    for p in Path("/boot").glob("vmlinuz-*"):
        v = p.name[len("vmlinuz-"):]
        if Path(f"/lib/modules/{v}/build/Makefile").exists():
            versions.append(v)
    if not versions:
        return None
    return sorted(versions, key=lambda v: [int(x) if x.isdigit() else x
                                           for x in re.split(r"[.-]", v)])[-1]


def kernel_version() -> str:
    """Version of the kernel the backend boots (image + headers installed)."""
    v = _installed_kernel_version()
    if v is None:
        raise RuntimeError("no kernel image+headers installed: run "
                           "python3 driver/kernel/setup.py")
    return v


def boot_kernel(version: str) -> Path:
    """The kernel file QEMU boots: an uncompressed vmlinux when possible.

    Measured here: under TCG the bzImage spends ~6 s decompressing itself
    (XZ) before Linux prints a line; Debian's kernel has CONFIG_PVH, so QEMU
    boots the ELF vmlinux directly, and /init is reached ~4 s earlier. The
    vmlinux is unpacked once into the cache (Python's lzma, ~1 s).
    """
    import lzma
    bz = Path(f"/boot/vmlinuz-{version}")
    out = cache_dir() / f"vmlinux-{version}"
    if out.exists():
        return out
    data = bz.read_bytes()
    start = data.find(b"\xfd7zXZ\x00")
    if start < 0:
        return bz                   # not XZ-compressed: boot it as it is
    try:
        elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(
            data[start:])
    except lzma.LZMAError:
        return bz
    if not elf.startswith(b"\x7fELF"):
        return bz
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(elf)
    tmp.rename(out)
    return out


def _apt_update_once(log) -> None:
    """apt-get update at most once per day per machine (stamp in the cache):
    apt-cache needs fresh lists, but updating on every run is slow."""
    stamp = cache_dir() / "apt-update.stamp"
    if stamp.exists() and time.time() - stamp.stat().st_mtime < 86400:
        return
    log("apt-get update")
    subprocess.run(["apt-get", "update", "-q"], check=True,
                   stdout=subprocess.DEVNULL)
    stamp.touch()


def setup(log=print) -> str:
    """Make sure everything is installed; returns the kernel version."""
    t0 = time.monotonic()
    missing = [p for p in BASE_PACKAGES if not _installed(p)]
    have = _installed_kernel_version()
    if not missing and have:
        log(f"already installed: {' '.join(BASE_PACKAGES)}, kernel {have} "
            f"({time.monotonic() - t0:.2f}s)")
        return have
    _apt_update_once(log)
    image = _resolve_image_package()
    if image is None:
        raise RuntimeError("apt-cache cannot resolve linux-image-amd64")
    version = image[len("linux-image-"):]
    headers = f"linux-headers-{version}"
    todo = missing + [p for p in (image, headers) if not _installed(p)]
    if todo:
        log(f"apt-get install {' '.join(todo)}")
        # No recommends: no initramfs-tools/firmware/bootloader is needed,
        # the backend builds its own initramfs and QEMU loads the kernel.
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        r = subprocess.run(["apt-get", "install", "-y", "-q",
                            "--no-install-recommends"] + todo, env=env,
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("apt-get install failed:\n" + r.stdout[-3000:]
                               + r.stderr[-3000:])
    if not Path(f"/boot/vmlinuz-{version}").exists():
        raise RuntimeError(f"/boot/vmlinuz-{version} missing after install")
    log(f"kernel {version} ready ({time.monotonic() - t0:.1f}s)")
    return version


def cmd_setup(args) -> int:
    """`balloonspec setup-kernel`: exit 0 when ready, 2 when it cannot be set up."""
    try:
        version = setup()
        boot_kernel(version)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
        print(f"balloonspec: kernel setup failed: {e}", file=sys.stderr)
        return 2
    print(f"kernel backend ready: {version}")
    return 0


if __name__ == "__main__":
    try:
        setup()
    except RuntimeError as e:
        print(f"setup failed: {e}", file=sys.stderr)
        sys.exit(1)
