"""The three published versions of the family (shared/upstream beside the
checkout, or $BALLOONSPEC_UPSTREAM) run on the interpreter: every shipped vector's scenario
runs to its end, and where the version compiles against the userspace shims
with its one harmless warning allowed (a signedness mismatch of pointer
targets), its interpreted trace equals the compiled one."""
import os
import subprocess
from pathlib import Path

import pytest

from balloonspec import REPO
from balloonspec.conformance.commands import SHIPPED_VECTORS
from balloonspec.conformance.vectors import load_dir
from balloonspec.csource.crosscheck import check_one
from balloonspec.csource.run import predict_c
from balloonspec.driver import build
from balloonspec.model.trace import Kind



def _upstream() -> Path:
    if os.environ.get("BALLOONSPEC_UPSTREAM"):
        return Path(os.environ["BALLOONSPEC_UPSTREAM"])
    for base in REPO.parents[:2]:  # shared/ beside the checkout (or beside its worktree folder)
        if (base / "shared" / "upstream").is_dir():
            return base / "shared" / "upstream"
    return REPO.parent / "shared" / "upstream"


UPSTREAM = _upstream()
VERSIONS = sorted(UPSTREAM.glob("*.c")) if UPSTREAM.is_dir() else []
VECTORS, _ = load_dir(SHIPPED_VECTORS)
CHECKED = ["cansleep-fails-rate-halves", "deflate-partial", "exit-with-balloon", "inflate-small",
           "lock-refused-16-times", "lock-refused-ppn_notneeded", "lock-refused-reset", "nosleep-fails-at-2049",
           "reset-guest-id-fails", "unlock-fails-rate-halves", "wit-debugfs-signed", "init-start-fails-busy",
           "no-debugfs-config"]

pytestmark = pytest.mark.skipif(not VERSIONS, reason=f"no published versions in {UPSTREAM}")


def _relaxed_build(source: Path, out: Path, debugfs: bool) -> Path:
    """The userspace harness build of ``source``, allowing -Wpointer-sign."""
    flags = build.CFLAGS + ["-Wno-error=pointer-sign"]
    objs = []
    for name in build.HARNESS_SOURCES:
        obj = out / (name[:-2] + ".o")
        if not obj.exists():
            subprocess.run(["gcc", *flags, "-c", str(build.USERSPACE / name), "-o", str(obj)], check=True)
        objs.append(str(obj))
    drv = out / f"driver-{debugfs}.o"
    subprocess.run(["gcc", *flags, *build.DRIVER_FLAGS, *(["-DCONFIG_DEBUG_FS"] if debugfs else []),
                    "-c", str(source), "-o", str(drv)], check=True, capture_output=True)
    exe = out / f"harness-{debugfs}"
    subprocess.run(["gcc", *flags, str(drv), *objs, "-o", str(exe)], check=True)
    return exe


@pytest.mark.parametrize("source", VERSIONS, ids=[p.stem for p in VERSIONS])
def test_every_vector_runs_on_the_interpreted_version(source):
    queues = set()
    for v in VECTORS:
        p = predict_c(source, v.scenario, debugfs=v.debugfs)
        assert p.hung or p.events[-1][0] == Kind.ACCOUNT, v.id
        queues |= {e[2] for e in p.events if e[0] == Kind.QUEUE_WORK}
    # 1.2.1.1-k queues its work on a private freezable workqueue (QUEUE_WORK wq 0), later ones on the system's
    assert queues == ({0} if source.name.startswith("1.2.1.1-k") else {1})


@pytest.mark.parametrize("source", [p for p in VERSIONS if not p.name.startswith("1.2.1.1-k")],
                         ids=lambda p: p.stem)
def test_interpreted_version_equals_compiled(source, tmp_path):
    binaries = {d: _relaxed_build(source, tmp_path, d) for d in (True, False)}
    checked = [v for v in VECTORS if v.id in CHECKED]
    assert len(checked) == len(CHECKED)
    for v in checked:
        c = check_one(source, v, binaries[v.debugfs])
        assert c.status == "same", f"{v.id}:\n{c.divergence or c.message}"
