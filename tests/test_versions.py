"""The corpus of published driver versions (driver/versions/) is byte-exact:
each file's git blob is the one its provenance table names."""
import re
import subprocess

from balloonspec import REPO

VERSIONS = REPO / "driver" / "versions"
BLOBS = {
    "1.2.1.1-k.c": "2a1e804a71aa2466199119f2206133fdb409d932",
    "1.2.2.0-k.c": "2799c46fd11f2f4c07b858cd59fbe8f5908f532b",
    "1.3.0.0-k.c": "ffb56340d0c7c28bf2daaf0f512ae835fa659f38",
}


def git_blob(path) -> str:
    return subprocess.run(["git", "hash-object", str(path)], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_every_version_is_byte_exact():
    assert sorted(p.name for p in VERSIONS.glob("*.c")) == sorted(BLOBS)
    for name, blob in BLOBS.items():
        assert git_blob(VERSIONS / name) == blob, f"driver/versions/{name} was edited"


def test_provenance_table_names_the_same_blobs():
    rows = re.findall(r"^\| (\S+\.c) \| (\S+) \| ([0-9a-f]{40}) \|", (VERSIONS / "README.md").read_text(), re.M)
    assert {name: blob for name, _, blob in rows} == BLOBS
    for name, version, _ in rows:  # the file is the version it says it is
        assert f'MODULE_VERSION("{version}")' in (VERSIONS / name).read_text()
