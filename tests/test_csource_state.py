"""The interpreter's state is explicit: loops are named cut points (function,
kind, C line), a run stops at one with the call stack and each frame's locals
readable and writable, and resumes from what was written."""
from balloonspec import SEED_DRIVER
from balloonspec.csource.compile import load
from balloonspec.csource.run import CEnvironment
from balloonspec.csource.runtime import Machine
from balloonspec.model.ops import CONCRETE
from balloonspec.model.scenario import Scenario, steps
from balloonspec.model.trace import Kind

PROGRAM = load(SEED_DRIVER)
LINES = SEED_DRIVER.read_text().split("\n")


def _line(text: str) -> int:
    (n,) = [i for i, ln in enumerate(LINES, 1) if text in ln]
    return n


def test_every_loop_is_a_named_cut_point():
    got = {(lp.function, lp.kind, lp.line) for lp in PROGRAM.loops}
    assert got == {
        ("vmballoon_pop", "for", got_line("vmballoon_pop")),
        ("vmballoon_reserve_page", "do", _line("\tdo {")),
        ("vmballoon_release_refused_pages", "for", _line("list_for_each_entry_safe(page, next, &b->refused_pages")),
        ("vmballoon_inflate", "for", _line("for (i = 0; i < goal; i++) {")),
        ("vmballoon_deflate", "for", got_line("vmballoon_deflate")),
    }
    for lp in PROGRAM.loops:
        assert lp.head in PROGRAM.functions[lp.function].loop_heads


def got_line(function: str) -> int:
    """The line of the list walk in ``function`` (two functions share its text)."""
    start = PROGRAM.functions[function].line
    return next(i for i in range(start, len(LINES)) if "list_for_each_entry_safe(page, next, &b->pages, lru)" in LINES[i - 1])


def test_a_run_stops_at_a_loop_head_with_its_frames_and_resumes_from_a_written_state():
    scenario = Scenario(id="state", target=5000, steps=steps("init", "cycle"))
    env = CEnvironment(scenario)
    M = Machine(PROGRAM, CONCRETE, env)
    assert M.invoke(PROGRAM.init_function) == 0
    b = M.global_value("balloon")
    assert (b.f_rate_alloc, b.f_rate_free, M.lists.empty(b.f_pages)) == (2048, 16384, True)
    dwork = M.kstate.queued
    assert dwork is b.f_dwork and M.kstate.debugfs is not None

    (inflate_loop,) = PROGRAM.functions["vmballoon_inflate"].loops
    M.kstate.queued = None
    depth = M.push_call(dwork.f_work.f_func, [dwork.f_work])
    assert not M.run(depth, stop=lambda M: M.at_loop_head() and M.stack[-1].func.name == "vmballoon_inflate")
    assert [F.func.name for F in M.stack[depth:]] == ["vmballoon_work", "vmballoon_inflate"]
    assert M.program_point() == ("vmballoon_inflate", inflate_loop.head, inflate_loop.line)
    frame = M.stack[-1]
    names = frame.named_locals()
    assert (names["goal"], names["rate"], names["i"], names["allocations"]) == (5000, 16384, 0, 0)
    # havoc the loop counter: one iteration is left
    frame.locals[frame.func.slot_names.index("i")] = 4999
    allocs_before = sum(1 for e in env.events if e[0] == Kind.ALLOC)
    assert M.run(depth)
    M.returned(depth)
    assert sum(1 for e in env.events if e[0] == Kind.ALLOC) - allocs_before == 1
    assert b.f_size == 1 and len(M.lists.nodes(b.f_pages)) == 1
