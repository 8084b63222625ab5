"""The vector format: compaction round-trips, bad files are errors, the shipped set is fresh."""
import json

import pytest

from balloonspec.conformance import vectors as V
from balloonspec.conformance.commands import SHIPPED_VECTORS
from balloonspec.conformance.generate import shipped_set
from balloonspec.model.trace import Kind
from balloonspec.model.predict import predict
from balloonspec.model.scenario import Scenario, steps


def _inflate_events():
    sc = Scenario(id="rt", target=16390, steps=steps("init", ("cycle", 2), "debugfs", "exit"))
    return predict(sc).events


def test_compaction_round_trips_and_collapses_runs():
    events = _inflate_events()
    items = V.compact(events)
    assert V.expand(items) == events
    # a 16,385-page cycle is a handful of entries, not ~33k
    assert len(items) < 80 < len(events) // 100


def test_compaction_keeps_text_and_irregular_events():
    events = [(int(Kind.PRINTK), "a\n", 0, 0, 0, 0, 0), (int(Kind.PRINTK), "b\n", 0, 0, 0, 0, 0),
              (int(Kind.ALLOC), 0x2002, 1, 5, 0, 0, 0), (int(Kind.ALLOC), 0x2002, 1, 9, 0, 0, 0)]
    assert V.expand(V.compact(events)) == events


def test_shipped_set_is_not_stale():
    fresh = {v.id: V.dumps(v.to_json()) for v in shipped_set()}
    shipped = {p.stem: p.read_text() for p in SHIPPED_VECTORS.glob("*.json")}
    assert shipped.keys() == fresh.keys(), "run `balloonspec vectors`"
    stale = [k for k in fresh if fresh[k] != shipped[k]]
    assert stale == [], f"stale vectors (run `balloonspec vectors`): {stale}"


def test_every_vector_says_why_it_exists():
    for v in shipped_set():
        assert v.reason["kind"] in {"coverage", "boundary", "finding", "counterexample", "regression", "mutation",
                                    "dataflow"}
        assert v.reason["text"] and v.reason["goal"]


@pytest.mark.parametrize("mangle, message", [
    (lambda d: d.update(format="other/9"), "not a balloonspec-vector/1"),
    (lambda d: d["scenario"].update(steps=["init", "fly"]), "unknown step"),
    (lambda d: d["expected"].append(["NO_SUCH_KIND"]), "malformed vector"),
    (lambda d: d.pop("scenario"), "malformed vector"),
])
def test_malformed_vectors_are_reported_with_their_id(tmp_path, mangle, message):
    src = next(SHIPPED_VECTORS.glob("*.json"))
    d = json.loads(src.read_text())
    mangle(d)
    (tmp_path / "bad.json").write_text(json.dumps(d))
    (tmp_path / "notjson.json").write_text("{")
    vecs, errors = V.load_dir(tmp_path)
    assert vecs == []
    assert {e.vector_id for e in errors} == {d.get("id", "bad"), "notjson"}
    assert any(message in str(e) for e in errors)
