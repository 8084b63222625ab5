"""balloonspec: formal model and conformance suite for the VMware balloon driver.

The import root maps onto the repository's folders: `balloonspec.model` is
model/, `balloonspec.driver` is driver/, `balloonspec.conformance` is
conformance/ (see pyproject.toml).
"""
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEED_DRIVER = REPO / "driver" / "vmw_balloon.c"
SEED_BLOB = "191617492181bcfb1a8ec6ddce27f725f1b8ca07"
