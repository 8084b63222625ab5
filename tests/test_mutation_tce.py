"""Trivial Compiler Equivalence: object code signatures are exact and deterministic, equal
for changes the compiler erases, different for changes it keeps."""
import pytest

from balloonspec import SEED_DRIVER
from balloonspec.conformance.mutation.operators import generate
from balloonspec.conformance.mutation.tce import CompileError, signature

SEED_TEXT = SEED_DRIVER.read_text()


@pytest.fixture(scope="module")
def by_id():
    return {m.id: m for m in generate(SEED_DRIVER)}


@pytest.fixture(scope="module")
def seed_signature():
    return signature(SEED_TEXT)


def test_signature_is_deterministic_and_blind_to_layout(seed_signature):
    assert signature(SEED_TEXT) == seed_signature
    # a comment and blank lines move every line: no compared section changes
    assert signature("/* moved */\n\n\n" + SEED_TEXT) == seed_signature


def test_an_erased_change_is_equivalent(by_id, seed_signature):
    # b->slow_allocation_cycles--; as a statement is --b->slow_allocation_cycles;
    assert signature(by_id["vmballoon_work:665:28:asr.post.pre"].apply(SEED_TEXT)) == seed_signature


def test_a_kept_change_differs_in_one_or_both_configurations(by_id, seed_signature):
    on_only = signature(by_id["vmballoon_debug_show:706:6:crp.inc"].apply(SEED_TEXT))  # debugfs text only
    assert on_only.debugfs_on != seed_signature.debugfs_on and on_only.debugfs_off == seed_signature.debugfs_off
    both = signature(by_id["vmballoon_inflate:592:9:ror.ge.gt"].apply(SEED_TEXT))
    assert both.debugfs_on != seed_signature.debugfs_on and both.debugfs_off != seed_signature.debugfs_off


def test_relocations_tell_calls_apart(tmp_path):
    """Two calls of different external functions have the same bytes before linking: the
    digest compares relocations too."""
    import subprocess

    from balloonspec.conformance.mutation.tce import object_digest

    digests = []
    for callee in ("f", "g", "f"):
        src = tmp_path / f"call_{callee}.c"
        src.write_text(f"extern void f(void); extern void g(void); void h(void) {{ {callee}(); }}\n")
        obj = src.with_suffix(f".{len(digests)}.o")
        subprocess.run(["gcc", "-O2", "-g0", "-c", str(src), "-o", str(obj)], check=True)
        digests.append(object_digest(obj))
    assert digests[0] == digests[2] and digests[0] != digests[1]


def test_duplicates_share_a_signature(by_id, seed_signature):
    """status < VMW_BALLOON_SUCCESS (0) on an unsigned long is never true: the same code as if (0)."""
    a = signature(by_id["vmballoon_send_start:231:13:ror.eq.lt"].apply(SEED_TEXT))
    b = signature(by_id["vmballoon_send_start:231:6:cnd.false"].apply(SEED_TEXT))
    assert a == b != seed_signature


def test_a_mutant_that_does_not_compile_is_a_compile_error(by_id):
    with pytest.raises(CompileError) as e:
        signature(by_id["vmballoon_send_guest_id:273:2:sdl.return"].apply(SEED_TEXT))
    assert "control reaches end of non-void function" in str(e.value)
