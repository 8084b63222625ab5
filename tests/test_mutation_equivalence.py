"""Z3 arguments of equivalence: each holds on the seed, fails when a fact it needs is taken
away or when it is applied to a mutant it does not cover, and covers exactly its mutants."""
import dataclasses

import pytest
import z3

from balloonspec import SEED_DRIVER
from balloonspec.conformance.mutation.cexpr import CExpr
from balloonspec.conformance.mutation.equivalence import ARGUMENTS, check, z3_decider
from balloonspec.conformance.mutation.operators import generate

SEED_LINES = SEED_DRIVER.read_text().split("\n")


@pytest.fixture(scope="module")
def mutants():
    return generate(SEED_DRIVER)


@pytest.mark.parametrize("arg", ARGUMENTS, ids=[a.id for a in ARGUMENTS])
def test_argument_holds_on_the_seed(arg, mutants):
    res = check(arg, SEED_DRIVER)
    assert res.holds, res.failure
    assert any(arg.matches(m, SEED_LINES) for m in mutants), f"{arg.id} covers no mutant of the seed"


@pytest.mark.parametrize("arg", [a for a in ARGUMENTS if a.facts and a.claim != "noop"],
                         ids=[a.id for a in ARGUMENTS if a.facts and a.claim != "noop"])
def test_argument_needs_its_facts(arg):
    """Without its facts (and the lemmas built on them) the claim has a counterexample."""
    bare = dataclasses.replace(arg, facts=(), lemmas=())
    res = check(bare, SEED_DRIVER)
    assert not res.holds and "counterexample" in res.failure


@pytest.mark.parametrize("arg_id, wrong", [("pop-count", "++count > b->rate_free"),
                                           ("inflate-rate-break", "i > rate"),
                                           ("trunc-limit", "limit < limit32"),
                                           ("reserve-eio", "return 0;"),
                                           ("work-deflate-test", "b->size < target"),
                                           # status = -e differs where check_status reads RESET (a vector kills it)
                                           ("zero-guest-id-status", "status -= VMWARE_BALLOON_CMD(GUEST_ID,")])
def test_argument_rejects_a_killable_mutant(arg_id, wrong):
    arg = next(a for a in ARGUMENTS if a.id == arg_id)
    res = check(dataclasses.replace(arg, mutated=(wrong,)), SEED_DRIVER)
    assert not res.holds


def test_a_fact_must_rest_on_the_seed():
    arg = next(a for a in ARGUMENTS if a.id == "trunc-limit")
    f = dataclasses.replace(arg.facts[0], source="limit32 = (u16)limit;")
    assert "not in" in check(dataclasses.replace(arg, facts=(f,)), SEED_DRIVER).failure
    f = dataclasses.replace(arg.facts[0], cites="NO-SUCH-INVARIANT")
    assert "not a proved invariant" in check(dataclasses.replace(arg, facts=(f,)), SEED_DRIVER).failure


def _zero_fact_failure(arg_id: str, **fact) -> str:
    arg = next(a for a in ARGUMENTS if a.id == arg_id)
    f = dataclasses.replace(next(f for f in arg.facts if f.zero_init), **fact)
    return check(dataclasses.replace(arg, facts=(f,)), SEED_DRIVER).failure


def test_zero_initialisation_needs_the_build_flag(monkeypatch):
    from balloonspec.driver import build

    flags = build.driver_flags
    monkeypatch.setattr(build, "driver_flags", lambda debugfs=True, sanitize=False:
                        [f for f in flags(debugfs, sanitize) if not f.startswith("-ftrivial-auto-var-init")])
    assert "does not zero-initialise" in check(next(a for a in ARGUMENTS if a.id == "zero-limit32"),
                                               SEED_DRIVER).failure


def test_zero_initialisation_only_before_any_other_store_and_outside_loops():
    # goal is assigned (line 534) before the site of rate's first store (line 539)
    assert "used or assigned before" in _zero_fact_failure("zero-inflate-rate", expr="goal == 0", zero_init="goal",
                                                          source="unsigned int goal;")
    # hv_status is written by vmballoon_send_lock_page inside reserve_page's do-while: not zero on a retry
    assert "inside a loop" in _zero_fact_failure(
        "zero-new-target", expr="work_target == 0", zero_init="hv_status", source="unsigned int hv_status;",
        where="vmballoon_reserve_page", until="locked = vmballoon_send_lock_page(b, page_to_pfn(page), &hv_status);")
    # a declaration with an initialiser is not the build's zero
    assert "without initialiser" in _zero_fact_failure("zero-init-error", source="int error = 0;",
                                                        where="vmballoon_inflate", until="for (i = 0;")


def test_arguments_match_only_their_site(mutants):
    """`return false;` appears twice in vmballoon_send_unlock_page: only the early return for a
    PFN >= 2^32 is dead; deleting the other one is a killable mutant, which no argument covers."""
    dead = [m.id for m in mutants if any(a.id == "dead-unlock-high-pfn" and a.matches(m, SEED_LINES)
                                         for a in ARGUMENTS)]
    assert sorted(dead) == ["vmballoon_send_unlock_page:350:10:ret.true", "vmballoon_send_unlock_page:350:3:sdl.return"]


def test_decider_is_for_the_seed_only(mutants, tmp_path):
    m = next(m for m in mutants if m.id == "vmballoon_pop:380:15:ror.ge.eq")
    assert z3_decider(m, None, SEED_DRIVER).status == "equivalent"
    other = tmp_path / "other.c"
    other.write_text(SEED_DRIVER.read_text() + "\n/* another driver */\n")
    assert z3_decider(m, None, other) is None


@pytest.mark.parametrize("expr, value", [("16384U", 16384), ("-EIO", -5), ("(u32)0x100000005UL", 5),
                                         ("-1 > 0", False), ("4294967295U > 0", True), ("-1 < 1U", False),
                                         ("min(3U, 7U)", 3), ("max(2048U / 2, 512U)", 1024), ("1 ? 2 : 3", 2)])
def test_c_expressions_have_c_semantics(expr, value):
    cx = CExpr("")
    t, ty = cx.term(expr)
    got = z3.simplify(t)
    if ty == ("bool",):
        assert z3.is_true(got) == value
    else:
        v = got.as_long()
        bits = t.size()
        assert (v - (1 << bits) if ty[2] and v >> (bits - 1) else v) == value
