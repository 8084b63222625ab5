"""Every shipped vector, one pytest item each, against the seed's sanitizer build."""
import re

import pytest

from balloonspec.conformance.commands import SHIPPED_VECTORS
from balloonspec.conformance.report import describe_result
from balloonspec.conformance.runner import judge
from balloonspec.conformance.vectors import load_dir
from balloonspec.driver.userspace import run_scenario
from balloonspec.model import debugfs
from balloonspec.model.ops import CONCRETE
from balloonspec.model.state import STAT_FIELDS, Balloon
from balloonspec.model.trace import Kind

VECTORS, BAD = load_dir(SHIPPED_VECTORS)


def test_shipped_set_is_well_formed_and_large_enough():
    assert BAD == []
    assert len(VECTORS) >= 40


@pytest.mark.parametrize("vector", VECTORS, ids=[v.id for v in VECTORS])
def test_seed_conforms(vector, seed_sanitized):
    run = run_scenario(seed_sanitized[vector.debugfs], vector.scenario.to_script(), scenario_id=vector.id)
    result = judge(vector, run, level="full")
    assert result.status == "pass", describe_result(result)


def _debugfs_numbers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"-?\d+", text)]


def test_every_counter_is_read_after_two_increments():
    """A counter set instead of incremented (`= 1` for `+= 1`) differs only from its second increment
    on, so the set reads every counter of debugfs at a value >= 2 somewhere."""
    probe = Balloon(CONCRETE)
    for n, name in enumerate(STAT_FIELDS):
        setattr(probe.stats, name, 1000 + n)  # distinct values locate each counter in the text
    shown = _debugfs_numbers(debugfs.show(probe))
    position = {name: shown.index(1000 + n) for n, name in enumerate(STAT_FIELDS)}
    highest = dict.fromkeys(STAT_FIELDS, 0)
    for v in VECTORS:
        for e in v.expected:
            if e[0] == Kind.DEBUGFS_READ:
                numbers = _debugfs_numbers(e[1])
                for name, i in position.items():
                    highest[name] = max(highest[name], numbers[i])
    assert [name for name, top in highest.items() if top < 2] == []
