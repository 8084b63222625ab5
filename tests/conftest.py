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
