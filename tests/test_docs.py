"""The generated parts of specs/ match the model."""
from balloonspec.model import docs


def test_specs_are_not_stale():
    assert docs.stale() == [], "run `balloonspec docs` to regenerate specs/"


def test_staleness_is_detected(tmp_path):
    for name in docs.GENERATED:
        (tmp_path / name).write_text((docs.SPECS / name).read_text().replace("-->\n|", "-->\n| edited by hand |\n|", 1))
    assert set(docs.GENERATED) <= set(docs.stale(tmp_path))
