"""The witnesses on the real driver: build the seed (userspace backend), replay
each witness scenario, and check the observed trace shows the violation, and
that it is the trace the model predicts."""
from __future__ import annotations

import shutil

import pytest

from balloonspec import SEED_DRIVER
from balloonspec.model.proofs.witnesses import WITNESSES, confirm

build = pytest.importorskip("balloonspec.driver.build")
userspace = pytest.importorskip("balloonspec.driver.userspace")

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc for the userspace build")


@pytest.fixture(scope="module")
def seed_binary():
    return build.build_driver(SEED_DRIVER)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("wid", sorted(WITNESSES))
def test_witness_shows_its_violation_on_the_seed(seed_binary, wid):
    from balloonspec.conformance.compare import first_divergence
    from balloonspec.model.predict import predict

    sc = WITNESSES[wid].scenario()
    r = userspace.run_scenario(seed_binary, sc.to_script(), scenario_id=wid)
    assert r.verdict == "ok", (wid, r.verdict, r.stderr_tail)
    seen = confirm(wid, r.events)
    assert seen, f"{wid}: the seed's trace does not show the violation"
    d = first_divergence(predict(sc).events, r.events)
    assert d is None, f"{wid}: model and seed differ:\n{d}"
