"""Strength: every deliberately broken driver is flagged, and the report points
at the broken behaviour (each mutant names what its report must mention)."""
import pytest

from balloonspec import SEED_DRIVER
from balloonspec.conformance.commands import SHIPPED_VECTORS, conform
from balloonspec.conformance.report import describe_result

from mutants import MUTANTS


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.id for m in MUTANTS])
def test_mutant_is_flagged(mutant, tmp_path):
    source = mutant.write(SEED_DRIVER, tmp_path)
    report, code = conform(source, vectors_dir=SHIPPED_VECTORS, level="full", jobs=2, quiet=True)
    failing = [r for r in report.results if r.status != "pass"]
    if mutant.equivalent:  # shown equivalent: flagging it would be a false alarm
        assert code == 0 and not failing, f"{mutant.id} is documented as equivalent but was flagged"
        return
    assert code == 1 and failing, f"mutant {mutant.id} survived: {mutant.why}"
    text = "\n".join(describe_result(r) for r in failing)
    assert mutant.shows in text, f"{mutant.id}: no failing report mentions {mutant.shows!r}:\n{text[:3000]}"
