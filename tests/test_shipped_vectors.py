"""Every shipped vector, one pytest item each, against the seed's sanitizer build."""
import pytest

from balloonspec.conformance.commands import SHIPPED_VECTORS
from balloonspec.conformance.report import describe_result
from balloonspec.conformance.runner import judge
from balloonspec.conformance.vectors import load_dir
from balloonspec.driver.userspace import run_scenario

VECTORS, BAD = load_dir(SHIPPED_VECTORS)


def test_shipped_set_is_well_formed_and_large_enough():
    assert BAD == []
    assert len(VECTORS) >= 40


@pytest.mark.parametrize("vector", VECTORS, ids=[v.id for v in VECTORS])
def test_seed_conforms(vector, seed_sanitized):
    run = run_scenario(seed_sanitized[vector.debugfs], vector.scenario.to_script(), scenario_id=vector.id)
    result = judge(vector, run, level="full")
    assert result.status == "pass", describe_result(result)
