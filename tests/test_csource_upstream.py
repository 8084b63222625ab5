"""The published versions of the family (driver/versions/) run on the
interpreter: every shipped vector's scenario runs to its end, and the
interpreted trace equals the compiled build's (the userspace build with
Kbuild's flags)."""
import pytest

from balloonspec import REPO
from balloonspec.conformance.commands import SHIPPED_VECTORS
from balloonspec.conformance.vectors import load_dir
from balloonspec.csource.crosscheck import check_one
from balloonspec.csource.run import predict_c
from balloonspec.driver import build
from balloonspec.model.trace import Kind



VERSIONS = sorted((REPO / "driver" / "versions").glob("*.c"))
VECTORS, _ = load_dir(SHIPPED_VECTORS)
CHECKED = ["cansleep-fails-rate-halves", "deflate-partial", "exit-with-balloon", "inflate-small",
           "lock-refused-16-times", "lock-refused-ppn_notneeded", "lock-refused-reset", "nosleep-fails-at-2049",
           "reset-guest-id-fails", "unlock-fails-rate-halves", "wit-debugfs-signed", "init-start-fails-busy",
           "no-debugfs-config"]



@pytest.mark.parametrize("source", VERSIONS, ids=[p.stem for p in VERSIONS])
def test_every_vector_runs_on_the_interpreted_version(source):
    queues = set()
    for v in VECTORS:
        p = predict_c(source, v.scenario, debugfs=v.debugfs)
        assert p.hung or p.events[-1][0] == Kind.ACCOUNT, v.id
        queues |= {e[2] for e in p.events if e[0] == Kind.QUEUE_WORK}
    # 1.2.1.1-k queues its work on a freezable workqueue of its own (QUEUE_WORK wq 3), later ones on the system's
    assert queues == ({3} if source.name.startswith("1.2.1.1-k") else {1})


@pytest.mark.parametrize("source", VERSIONS, ids=lambda p: p.stem)
def test_interpreted_version_equals_compiled(source):
    binaries = {d: build.build_driver(source, debugfs=d) for d in (True, False)}
    checked = [v for v in VECTORS if v.id in CHECKED]
    assert len(checked) == len(CHECKED)
    for v in checked:
        c = check_one(source, v, binaries[v.debugfs])
        assert c.status == "same", f"{v.id}:\n{c.divergence or c.message}"
