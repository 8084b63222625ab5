"""The shipped set is minimal where it may be: no vector added for a mutant or a data-flow goal
is made unnecessary by the rest (goal vectors and proof witnesses are goals themselves)."""
from balloonspec import SEED_DRIVER
from balloonspec.conformance.commands import SHIPPED_VECTORS
from balloonspec.conformance.mutation.minimise import redundant
from balloonspec.conformance.vectors import load_dir


def test_no_added_vector_is_redundant():
    vecs, bad = load_dir(SHIPPED_VECTORS)
    assert bad == []
    assert any(v.reason["kind"] == "mutation" for v in vecs) and any(v.reason["kind"] == "dataflow" for v in vecs)
    assert redundant(SEED_DRIVER, vecs) == []


def test_a_duplicate_added_vector_is_redundant():
    vecs, _ = load_dir(SHIPPED_VECTORS)
    df = next(v for v in vecs if v.reason["kind"] == "dataflow")
    twin = type(df)(id="zz-" + df.id, reason=dict(df.reason), scenario=df.scenario.with_(id="zz-" + df.id),
                    expected=df.expected, debugfs=df.debugfs)
    assert redundant(SEED_DRIVER, vecs + [twin]) == [df.id]
