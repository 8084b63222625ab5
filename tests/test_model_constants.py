"""The model's constants equal the seed's #defines; a changed #define is caught."""
from pathlib import Path

import pytest

from balloonspec.model import constants as C

SEED = Path(__file__).resolve().parents[1] / "driver" / "vmw_balloon.c"


def test_seed_constants_match_model():
    assert C.check_constants(SEED) == []


def test_parser_reads_suffixes_hex_negative_and_gfp_expressions():
    d = C.constants_from_c(SEED)
    assert d["VMW_BALLOON_NOSLEEP_ALLOC_MAX"] == 16384  # 16384U
    assert d["VMW_BALLOON_HV_MAGIC"] == 0x456C6D6F  # hex
    assert d["VMW_BALLOON_FAILURE"] == -1  # negative
    assert d["VMW_PAGE_ALLOC_NOSLEEP"] == 0x2002  # (__GFP_HIGHMEM|__GFP_NOWARN)
    assert d["VMW_PAGE_ALLOC_CANSLEEP"] == 0x100CC2  # (GFP_HIGHUSER)
    assert "pr_fmt" not in d and "STATS_INC" not in d  # function-like macros skipped


@pytest.mark.parametrize("name,old,new", [
    ("VMW_BALLOON_RATE_ALLOC_MAX", "2048U", "4096U"),
    ("VMW_BALLOON_MAX_REFUSED", "16", "17"),
    ("VMW_BALLOON_HV_PORT", "0x5670", "0x5671"),
    ("VMW_PAGE_ALLOC_NOSLEEP", "(__GFP_HIGHMEM|__GFP_NOWARN)", "(__GFP_NOWARN)"),
])
def test_mutated_constant_is_reported(tmp_path, name, old, new):
    text = SEED.read_text()
    line = next(l for l in text.splitlines() if l.startswith(f"#define {name}"))
    assert old in line
    mutated = tmp_path / "vmw_balloon.c"
    mutated.write_text(text.replace(line, line.replace(old, new)))
    mism = C.check_constants(mutated)
    assert [m[0] for m in mism] == [name]
    assert mism[0][1] == C.model_constants()[name]


def test_removed_constant_is_reported(tmp_path):
    text = SEED.read_text().replace("#define VMW_BALLOON_ERROR_BUSY\t\t8\n", "")
    p = tmp_path / "v.c"
    p.write_text(text)
    assert C.check_constants(p) == [("VMW_BALLOON_ERROR_BUSY", 8, None)]
