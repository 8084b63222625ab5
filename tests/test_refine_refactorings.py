"""The refinement checker on behaviour-preserving refactorings of the seed
(tests/refine_refactorings.py): renamed locals, an extracted helper and
reordered independent statements are each proved equivalent, segment by
segment; the same refactoring with a defect is not (the name-independent
coupling candidates do not prove what is false)."""
from pathlib import Path

import pytest

from balloonspec import SEED_DRIVER
from balloonspec.csource.compile import load
from balloonspec.refine.segments import infer_and_check

from patches import Patch
from refine_refactorings import REFACTORINGS, RENAMED_LOCALS


@pytest.mark.parametrize("patch", REFACTORINGS, ids=lambda p: p.id)
def test_each_refactoring_is_proved_equivalent(patch, tmp_path):
    segs, _ = infer_and_check(load(patch.write(Path(SEED_DRIVER), tmp_path)))
    assert segs and {s.status for s in segs} == {"proved"}, [(s.id, s.status, s.detail) for s in segs]
    ids = {s.id for s in segs}
    # the same loops as the seed's: an iteration of each is a segment of its own
    assert {"init", "work", "exit"} <= ids and len(ids) >= 9


def test_a_renamed_local_is_coupled_by_what_it_holds(tmp_path):
    segs, coupling = infer_and_check(load(RENAMED_LOCALS.write(Path(SEED_DRIVER), tmp_path)))
    inflate = next(v for k, v in coupling.summary().items() if "vmballoon_reserve_page" in k)
    assert "C 2.vmballoon_inflate.done == spec lv.i" in inflate
    assert "C 2.vmballoon_inflate.want == spec lv.goal" in inflate


# a defect on top of the renamed locals: pop yields one page later than the
# spec (cond_resched after rate_free + 1 pages, not rate_free)
DEFECT = Patch("pop-resched-late", (("\t\tif (++since_resched >= b->rate_free) {\n",
                                     "\t\tif (++since_resched > b->rate_free) {\n"),),
               "renamed locals, and pop's cond_resched one page late")


def test_a_defect_behind_renamed_locals_is_not_proved(tmp_path):
    path = tmp_path / "renamed-with-defect.c"
    path.write_text(DEFECT.apply(RENAMED_LOCALS.apply(Path(SEED_DRIVER).read_text())))
    segs, _ = infer_and_check(load(path))
    pop = [s for s in segs if "vmballoon_pop" in s.id]
    assert pop and any(s.status == "differs" for s in pop), [(s.id, s.status, s.detail) for s in segs]
