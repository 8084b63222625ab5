"""Shared fixtures: builds of the seed driver (cached by content hash)."""
import pytest

from balloonspec import SEED_DRIVER
from balloonspec.driver.build import build_driver


@pytest.fixture(scope="session")
def seed_binary():
    return build_driver(SEED_DRIVER)


@pytest.fixture(scope="session")
def seed_sanitized():
    """ASan + UBSan build: CI runs the shipped vectors on it."""
    return {debugfs: build_driver(SEED_DRIVER, debugfs=debugfs, sanitize=True) for debugfs in (True, False)}


import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # tests/mutants.py is a test input module


def pytest_addoption(parser):
    group = parser.getgroup("balloonspec exploration")
    group.addoption("--explore-scenarios", type=int, default=100,
                    help="scenarios explored against --explore-driver, in chunks that pytest-xdist spreads")
    group.addoption("--explore-driver", default=None, help="driver source to explore (default: the seed)")


def pytest_generate_tests(metafunc):
    if "explore_chunk" in metafunc.fixturenames:
        n = metafunc.config.getoption("--explore-scenarios")
        chunks = max(1, -(-n // 25))
        metafunc.parametrize("explore_chunk", [(seed, min(25, n - 25 * seed)) for seed in range(chunks)],
                             ids=[f"seed{seed}" for seed in range(chunks)])
