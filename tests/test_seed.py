"""The driver under test is the unmodified seed."""
import subprocess

from balloonspec import SEED_BLOB, SEED_DRIVER


def test_seed_driver_is_byte_exact():
    blob = subprocess.run(
        ["git", "hash-object", str(SEED_DRIVER)], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert blob == SEED_BLOB, "driver/vmw_balloon.c was edited; pass other driver versions by path"
