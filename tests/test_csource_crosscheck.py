"""The interpreted C predicts exactly the trace of the compiled C: on the seed
for every shipped vector (in the configuration the vector says, and again
with CONFIG_DEBUG_FS flipped, which compiles STATS_INC and the debugfs file
out or in), and on every hand-written mutant over a handful of vectors, which
checks the interpreter on code that is not the seed."""
import pytest

from balloonspec import SEED_DRIVER
from balloonspec.conformance.commands import SHIPPED_VECTORS
from balloonspec.conformance.vectors import load_dir
from balloonspec.csource.crosscheck import check_one, crosscheck
from balloonspec.driver.build import build_driver

from mutants import MUTANTS

VECTORS, _ = load_dir(SHIPPED_VECTORS)

# Together these reach every function of the seed and show every mutant of
# tests/mutants.py (other than the equivalent one) differing from the seed.
MUTANT_VECTORS = [
    "cansleep-fails-rate-halves", "deflate-partial", "exit-with-balloon", "inflate-yield+1",
    "lock-refused-16-times", "lock-refused-ppn_notneeded", "lock-reset-then-restart",
    "nosleep-fails-at-rate-alloc+0", "rate-alloc-increase-at+0", "reset-guest-id-fails",
    "slow-cycles-then-recover", "unlock-fails-rate-halves", "unlock-refused-ppn_unlocked", "wit-debugfs-signed",
]


@pytest.fixture(scope="module")
def seed_builds():
    return {d: build_driver(SEED_DRIVER, debugfs=d) for d in (True, False)}


def test_the_vectors_name_both_configurations():
    assert {v.debugfs for v in VECTORS} == {True, False}
    assert len([v for v in VECTORS if v.id in MUTANT_VECTORS]) == len(MUTANT_VECTORS)


@pytest.mark.parametrize("flip", [False, True], ids=["as-configured", "debugfs-flipped"])
@pytest.mark.parametrize("vector", VECTORS, ids=[v.id for v in VECTORS])
def test_seed_interpreted_equals_compiled(vector, flip, seed_builds):
    debugfs = vector.debugfs != flip
    check = check_one(SEED_DRIVER, vector, seed_builds[debugfs], debugfs=debugfs)
    assert check.status == "same", check.divergence or check.message
    assert check.events > 0
    if not flip:  # and both equal the spec's prediction, which the vector holds
        assert check.matches_vector


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.id for m in MUTANTS])
def test_mutant_interpreted_equals_compiled(mutant, tmp_path):
    source = mutant.write(SEED_DRIVER, tmp_path)
    summary = crosscheck(source, [v for v in VECTORS if v.id in MUTANT_VECTORS])
    for c in summary.checks:
        assert c.status == "same", f"{mutant.id} on {c.id}:\n{c.divergence or c.message}"
    shows = [c.id for c in summary.checks if not c.matches_vector]
    if mutant.equivalent:
        assert shows == [], f"{mutant.id} is equivalent to the seed, yet its trace differs on {shows}"
    else:  # the interpreter ran the mutant's behaviour, not the seed's
        assert shows, f"{mutant.id}: no checked vector shows it"


def test_a_vendor_variant_runs_as_the_seed(tmp_path, seed_builds):
    """CRLF line endings, `inl (%%dx)` and changed comments: the same behaviour,
    interpreted and compiled."""
    text = SEED_DRIVER.read_text().replace("inl %%dx", "inl (%%dx)").replace(
        "/* inform monitor */", "/* tell the\n\t * monitor */")
    variant = tmp_path / "vendor.c"
    variant.write_bytes(text.replace("\n", "\r\n").encode())
    summary = crosscheck(variant, [v for v in VECTORS if v.id in MUTANT_VECTORS[:6]])
    assert [c.status for c in summary.checks] == ["same"] * 6
    assert all(c.matches_vector for c in summary.checks)


def test_a_walk_from_the_tail_runs_as_compiled(tmp_path):
    """list_for_each_entry_safe_reverse (and list_last_entry): a deflate that
    releases the oldest pages first UNLOCKs in the compiled build's order."""
    from refine_defects import DEFECTS

    oldest_first = next(d for d in DEFECTS if d.id == "deflate-oldest-first")
    assert "list_for_each_entry_safe_reverse" in oldest_first.apply(SEED_DRIVER.read_text())
    source = oldest_first.write(SEED_DRIVER, tmp_path)
    summary = crosscheck(source, [v for v in VECTORS if v.id in ("deflate-partial", "exit-with-balloon")])
    assert [c.status for c in summary.checks] == ["same", "same"], [c.divergence or c.message for c in summary.checks]
    assert not summary.checks[0].matches_vector  # the other order: the interpreter walked from the tail
