"""The mutant generator: every operator class on the seed, stable unique ids, exact edits of
the original text, and mutants that are C (a compile error is a type error the mutation
made, never a broken edit)."""
import re
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from balloonspec import SEED_DRIVER
from balloonspec.conformance.mutation.operators import CLASSES, generate
from balloonspec.driver.build import driver_flags

SEED_TEXT = SEED_DRIVER.read_text()


@pytest.fixture(scope="module")
def mutants():
    return generate(SEED_DRIVER)


def test_every_operator_class_on_the_seed(mutants):
    classes = {m.klass for m in mutants}
    assert classes == set(CLASSES)
    ops = {m.operator for m in mutants}
    # the families the issue names, each present
    for op in ("ror.ge.gt", "aor.div.mul", "lor.and.or", "asr.inc.dec", "asr.pre.post", "crp.0", "crp.m1",
               "crp.name.VMW_BALLOON_RATE_ALLOC_MAX", "crp.name.VMW_BALLOON_ERROR_BUSY", "sdl.STATS_INC",
               "sdl.break", "sdl.return", "sdl.stmt", "cnd.neg", "cnd.true", "cnd.false", "swp.min", "swp.ge",
               "lst.tail", "lst.wrong.refused_pages", "lst.wrong.pages", "ret.false", "ret.0", "aor.min.max"):
        assert op in ops, op


def test_ids_are_unique_stable_and_in_source_order(mutants):
    ids = [m.id for m in mutants]
    assert len(ids) == len(set(ids))
    assert ids == [m.id for m in generate(SEED_DRIVER)]
    for m in mutants:
        function, line, col, operator = m.id.split(":")
        assert (function, int(line), int(col), operator) == (m.function, m.line, m.col, m.operator)
    assert [(m.line, m.col, m.operator) for m in mutants] == sorted((m.line, m.col, m.operator) for m in mutants)
    texts = [m.apply(SEED_TEXT) for m in mutants]
    assert len(set(texts)) == len(texts), "two mutants with the same text"


def _changed(mutant):
    old, new = SEED_TEXT.split("\n"), mutant.apply(SEED_TEXT).split("\n")
    assert len(old) == len(new), "a mutation keeps every line number"
    return [(n + 1, a, b) for n, (a, b) in enumerate(zip(old, new)) if a != b]


@pytest.mark.parametrize("mid, expected", [
    ("vmballoon_inflate:592:9:ror.ge.gt", [(592, "\t\tif (i >= rate) {", "\t\tif (i > rate) {")]),
    ("vmballoon_send_lock_page:328:2:sdl.STATS_INC", [(328, "\tSTATS_INC(b->stats.lock);", "\t;")]),
    ("vmballoon_inflate:606:4:swp.min", [
        (606, "\t\t\tmin(b->rate_alloc + mult * VMW_BALLOON_RATE_ALLOC_INC,", "\t\t\tmin(VMW_BALLOON_RATE_ALLOC_MAX,"),
        (607, "\t\t\t    VMW_BALLOON_RATE_ALLOC_MAX);", "\t\t\t    b->rate_alloc + mult * VMW_BALLOON_RATE_ALLOC_INC);")]),
    ("vmballoon_reserve_page:456:27:lst.wrong.refused_pages",
     [(456, "\tlist_add(&page->lru, &b->pages);", "\tlist_add(&page->lru, &b->refused_pages);")]),
    ("vmballoon_reserve_page:449:4:lst.tail",
     [(449, "\t\t\tlist_add(&page->lru, &b->refused_pages);", "\t\t\tlist_add_tail(&page->lru, &b->refused_pages);")]),
    ("VMW_BALLOON_RATE_ALLOC_MIN:69:36:crp.inc",
     [(69, "#define VMW_BALLOON_RATE_ALLOC_MIN\t512U", "#define VMW_BALLOON_RATE_ALLOC_MIN\t513U")]),
    ("vmballoon_send_start:230:30:crp.name.VMW_BALLOON_CMD_GET_TARGET",
     [(230, "\tstatus = VMWARE_BALLOON_CMD(START, VMW_BALLOON_PROTOCOL_VERSION, dummy);",
       "\tstatus = VMWARE_BALLOON_CMD(GET_TARGET, VMW_BALLOON_PROTOCOL_VERSION, dummy);")]),
    ("vmballoon_inflate:565:11:crp.name.VMW_BALLOON_RATE_ALLOC_MAX",
     [(565, "\t\t\t\t\t\t    VMW_BALLOON_RATE_ALLOC_MIN);", "\t\t\t\t\t\t    VMW_BALLOON_RATE_ALLOC_MAX);")]),
    ("vmballoon_deflate:640:7:asr.pre.post", [(640, "\t\tif (++i >= goal)", "\t\tif (i++ >= goal)")]),
    ("vmballoon_work:661:6:cnd.neg", [(661, "\tif (b->reset_required)", "\tif (!(b->reset_required))")]),
    ("vmballoon_inflate:555:5:sdl.break", [(555, "\t\t\t\tbreak;", "\t\t\t\t;")]),
    ("vmballoon_check_status:243:10:ret.false", [(243, "\t\treturn true;", "\t\treturn false;")]),
    ("vmballoon_send_lock_page:326:10:ret.1", [(326, "\t\treturn -1;", "\t\treturn 1;")]),
    ("vmballoon_inflate:602:17:swp.and", [(602, "\tif (error == 0 && i >= b->rate_alloc) {",
                                           "\tif (i >= b->rate_alloc && error == 0) {")]),
    ("vmballoon_inflate:564:41:crp.m1", [(564, "\t\t\t\tb->rate_alloc = max(b->rate_alloc / 2,",
                                          "\t\t\t\tb->rate_alloc = max(b->rate_alloc / (-1),")]),
])
def test_mutant_text_is_exactly_the_edit(mutants, mid, expected):
    m = {x.id: x for x in mutants}[mid]
    assert _changed(m) == expected


def test_debugfs_off_code_is_mutated_too(mutants):
    """vmballoon_debugfs_init has a stub in the #else branch of CONFIG_DEBUG_FS: it is mutated as well."""
    lines = [n for n, ln in enumerate(SEED_TEXT.split("\n"), 1) if "static inline int vmballoon_debugfs_init" in ln]
    assert lines
    assert any(m.function == "vmballoon_debugfs_init" and m.line > lines[0] for m in mutants)


SYNTAX = re.compile(r"error: (expected|stray|unterminated|missing terminating|lvalue required as increment)")


def test_every_mutant_is_c_in_both_configurations(mutants):
    """Compiled without -Werror (warnings off), a mutant fails only where the mutation made a type
    error (a duplicate case value, pointer arithmetic), never because the edit broke the syntax."""
    from balloonspec.conformance.mutation.operators import _extent
    from balloonspec.conformance.mutation.source import SourceText
    from balloonspec.csource.parse import parse

    tu = parse(SEED_DRIVER, debugfs=True)
    src = SourceText(SEED_TEXT)
    compiled_on = set()  # lines of the functions CONFIG_DEBUG_FS=y compiles
    for fd in tu.functions.values():
        if tu.in_driver(fd):
            a, b = _extent(tu, fd, src)
            compiled_on |= set(range(a, b + 1))
    tmp = Path(tempfile.mkdtemp(prefix="balloonspec-test-"))

    def errors(m):
        path = tmp / (m.id.replace(":", "_") + ".c")
        path.write_text(m.apply(SEED_TEXT))
        out = []
        # the configuration that compiles the mutated line (a #define's value: the debugfs build)
        for debugfs in (True,) if m.line in compiled_on or m.function.isupper() else (False,):
            flags = [f for f in driver_flags(debugfs) if f != "-Werror"]
            r = subprocess.run(["gcc", *flags, "-w", "-fsyntax-only", str(path)], capture_output=True, text=True)
            out += [ln for ln in r.stderr.splitlines() if "error:" in ln]
        return m.id, out

    with ThreadPoolExecutor(2) as pool:
        results = dict(pool.map(errors, mutants))
    broken = {mid: errs for mid, errs in results.items() if any(SYNTAX.search(e) for e in errs)}
    assert broken == {}
    failing = {mid for mid, errs in results.items() if errs}
    assert len(failing) < len(mutants) // 20, failing
