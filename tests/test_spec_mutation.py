"""Spec mutation (conformance/spec_mutation.py, model/proofs/mutate.py): the
mutants are well formed and stable, and a seeded sample of the campaign, with
mutants known to break the spec, is judged and counted right."""
import collections

import pytest

from balloonspec.model import algorithm as A
from balloonspec.model.proofs import mutate as MU
from balloonspec.model.proofs.catalogue import CATALOGUE


def _find(function: str, operator: str, text: str) -> MU.Mutant:
    (m,) = [m for m in MU.mutants() if m.function == function and m.operator == operator and text in m.text]
    return m


def test_mutants_are_unique_stable_and_cover_every_operator_class():
    ms = MU.mutants()
    ids = [m.id for m in ms]
    assert len(ids) == len(set(ids)) > 300
    assert {m.klass for m in ms} == set(MU.OPERATORS)
    for m in ms:
        fn, line, col, op = m.id.split(":", 3)
        assert (fn, int(line), int(col), op.split("#")[0]) == (m.function, m.line, m.col, m.operator)
    # deterministic order: by function in source order, then line, column, operator
    order = [f.name for f in MU.functions()]
    keys = [(order.index(m.function), m.line, m.col, m.operator) for m in ms]
    assert keys == sorted(keys)


def test_every_mutant_compiles_and_changes_its_function():
    import ast
    import inspect

    for m in MU.mutants():
        src = ast.unparse(ast.parse(inspect.getsource(getattr(A, m.function)).strip()).body[0])
        assert MU.mutant_source(m) != src, m.id
        assert callable(MU.compile_mutant(m))


def test_wrong_list_end_mutant_is_the_edit_it_names():
    m = _find("deflate_release", "LST:list_head>list_tail", "b.pages")
    src = MU.mutant_source(m)
    assert "ops.list_tail(b.pages)" in src and "ops.list_head(b.pages)" not in src


@pytest.mark.timeout(1200)
def test_seeded_sample_campaign_catches_known_mutants_and_counts_right():
    from balloonspec.conformance import spec_mutation as SM

    dropped_release = _find("inflate", "SDL", "release_refused_pages(ops, b, env)")
    counted = _find("send_start", "SDL", "s.start = ")
    stats_only = _find("inflate_attempt", "SDL", "s.refused_alloc = ")
    sample = SM.select(sample=2, seed=14)
    assert sample == SM.select(sample=2, seed=14)  # seeded
    named = (dropped_release, counted, stats_only)
    chosen = list(named) + [m for m in sample if m not in named]
    originals = {m.function: getattr(A, m.function) for m in chosen}
    rep = SM.campaign(chosen, jobs=2)
    assert all(getattr(A, name) is fn for name, fn in originals.items())  # the spec is left as installed
    # the installed spec is proved as the catalogue expects
    assert rep["baseline"]["invariants"] == {i: inv.expected for i, inv in CATALOGUE.items()}
    by_id = {r["id"]: r for r in rep["results"]}
    assert set(by_id) == {m.id for m in chosen}
    # inflate without release_refused_pages: REFUSED-EMPTY-AT-END's own obligation fails
    r = by_id[dropped_release.id]
    assert r["category"] == "proofs" and r["proofs"]["changed"]["REFUSED-EMPTY-AT-END"] == "violated"
    assert rep["per_invariant"]["REFUSED-EMPTY-AT-END"]["own"] >= 1
    # a START not counted: STATS-COUNTS's own obligation fails
    r = by_id[counted.id]
    assert r["category"] == "proofs" and r["proofs"]["changed"] == {"STATS-COUNTS": "violated"}
    # a statistics counter no proof states (errAlloc), only the debugfs text shows: a vector catches it
    r = by_id[stats_only.id]
    assert r["category"] == "vectors" and r["vectors"]["caught"] and r["vectors"]["vector"]
    # bookkeeping
    cats = collections.Counter(r["category"] for r in rep["results"])
    assert rep["mutants"] == len(chosen) == sum(cats.values())
    assert (rep["caught_by_proofs"], rep["caught_only_by_vectors"], rep["accepted"]) == \
        (cats["proofs"], cats["vectors"], cats["accepted"])
    assert rep["accepted_ids"] == [r["id"] for r in rep["results"] if r["category"] == "accepted"]
    for i, n in rep["per_invariant"].items():
        assert n["status"] == sum(i in r["proofs"]["changed"] for r in rep["results"] if r["category"] == "proofs")
        if rep["baseline"]["invariants"][i] == "proved":
            assert n["own"] <= n["status"]
    assert [r["id"] for r in rep["results"]] == [m.id for m in MU.mutants() if m.id in by_id]  # mutant order
    page = SM.render_md(rep)
    assert f"| {rep['mutants']} | {rep['caught_by_proofs']} |" in page
