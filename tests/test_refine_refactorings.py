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


# a defect on top of the renamed locals: the inflate loop runs to the rate
# instead of the goal (overshoots the target when the rate exceeds the goal)
DEFECT = Patch("loop-bound-budget", (("\tfor (done = 0; done < want; done++) {\n",
                                      "\tfor (done = 0; done < budget; done++) {\n"),),
               "renamed locals, and the inflate loop bounded by the rate instead of the goal")


def test_a_defect_behind_renamed_locals_is_not_proved(tmp_path):
    path = tmp_path / "renamed-with-defect.c"
    path.write_text(DEFECT.apply(RENAMED_LOCALS.apply(Path(SEED_DRIVER).read_text())))
    segs, _ = infer_and_check(load(path))
    assert any(s.status != "proved" for s in segs), [(s.id, s.status) for s in segs]
