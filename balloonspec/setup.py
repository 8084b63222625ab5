"""`balloonspec setup`: install everything the project's tests need (idempotent).

That is what `balloonspec setup-kernel` installs (driver/kernel/setup.py: QEMU,
busybox, gcc, the Debian kernel image and headers) plus the review docs'
tools: Graphviz (`dot` draws the site's diagrams), Chromium (the headless
browser of the site's screenshot test) and the fonts both draw text with.
Already installed -> a fast no-op (dpkg-query only, no network).
"""
from __future__ import annotations

import os
import subprocess
import sys

DOCS_PACKAGES = ["graphviz", "chromium", "fonts-dejavu-core", "fonts-liberation"]


def install_docs_tools(log=print) -> None:
    from balloonspec.driver.kernel.setup import _apt_update_once, _installed

    missing = [p for p in DOCS_PACKAGES if not _installed(p)]
    if not missing:
        log(f"already installed: {' '.join(DOCS_PACKAGES)}")
        return
    _apt_update_once(log)
    log(f"apt-get install {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], env=env,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("apt-get install failed:\n" + r.stdout[-3000:] + r.stderr[-3000:])


def cmd_setup(args) -> int:
    from balloonspec.driver.kernel.setup import cmd_setup as setup_kernel

    try:
        install_docs_tools()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
        print(f"balloonspec: setup of the docs tools failed: {e}", file=sys.stderr)
        return 2
    return setup_kernel(args)
