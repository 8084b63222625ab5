"""The C front end's parse layer: any driver source of the family becomes a
pycparser AST whose coordinates are the driver's own lines and columns."""
import re

import pytest
from pycparser import c_ast

from balloonspec import SEED_DRIVER
from balloonspec.csource.errors import CSyntaxError, PreprocessError
from balloonspec.csource.parse import Asm, CGenerator, parse

SEED_TEXT = SEED_DRIVER.read_text()
SEED_LINES = SEED_TEXT.split("\n")


@pytest.fixture(scope="module")
def seed():
    return parse(SEED_DRIVER)


def _line_of(text: str, lines=SEED_LINES) -> int:
    (n,) = [i for i, ln in enumerate(lines, 1) if text in ln]
    return n


def _nodes(node, cls):
    out = []

    class Visitor(c_ast.NodeVisitor):
        def generic_visit(self, n):
            if isinstance(n, cls):
                out.append(n)
            for _, c in n.children():
                self.visit(c)

    Visitor().visit(node)
    return out


def test_tables_name_every_function_struct_and_global(seed):
    defined = re.findall(r"^static (?:inline )?\w+ (?:__init |__exit )?\*?(vmballoon_\w+)\(", SEED_TEXT, re.M)
    debugfs_stubs = {"vmballoon_debugfs_init", "vmballoon_debugfs_exit"}  # defined twice, once per config
    assert set(seed.functions) == set(defined)
    assert len(seed.functions) == len(defined) - len(debugfs_stubs)
    members = [d.name for d in seed.structs["vmballoon"].decls]
    assert members[:3] == ["pages", "refused_pages", "n_refused_pages"] and "stats" in members
    assert {"balloon", "vmballoon_debug_fops"} <= set(seed.globals)
    assert "alloc_page" in seed.prototypes  # the kernel API of the analysis headers
    assert seed.enumerators["true"].value.value == "1"


def test_coordinates_are_the_driver_source_lines_and_columns(seed):
    fd = seed.functions["vmballoon_reserve_page"]
    assert fd.coord.file == str(SEED_DRIVER) and fd.coord.line == _line_of("static int vmballoon_reserve_page(")
    (loop,) = _nodes(fd, c_ast.DoWhile)
    assert loop.cond.coord.line == _line_of("} while (locked != 0);")
    # `locked != 0`: the left operand's column, and the operator's own coordinate
    line = SEED_LINES[loop.cond.coord.line - 1]
    assert loop.cond.coord.column == line.index("locked != 0") + 1
    assert loop.cond.op_coord.column == line.index("!=") + 1
    assert seed.function_at(loop.cond.coord.line) == "vmballoon_reserve_page"
    assert seed.line_text(fd.coord.line).startswith("static int vmballoon_reserve_page(")


def test_tokens_from_macro_bodies_have_no_column_but_macro_arguments_do(seed):
    fd = seed.functions["vmballoon_send_start"]
    inc = _nodes(fd, c_ast.UnaryOp)[0]  # STATS_INC(b->stats.start) -> (b->stats.start)++
    line = SEED_LINES[inc.coord.line - 1]
    assert "STATS_INC(b->stats.start)" in line
    assert inc.op_coord.column is None  # the ++ is the macro's
    assert inc.expr.coord.column == line.index("b->stats.start") + 1  # the argument is the source's
    (cmp,) = [b for b in _nodes(fd, c_ast.BinaryOp) if b.op == "=="]
    assert cmp.right.value == "0" and cmp.right.coord.column is None  # VMW_BALLOON_SUCCESS's value


def test_the_backdoor_asm_is_a_node_with_its_operands(seed):
    (asm,) = _nodes(seed.functions["vmballoon_send_lock_page"], Asm)
    assert asm.template == "inl %%dx"
    assert [o.constraint for o in asm.outputs] == ["=a", "=c", "=d", "=b"]
    assert [o.constraint for o in asm.inputs] == ["0", "1", "2", "3"]
    assert asm.inputs[3].expr.name == "pfn" and asm.inputs[1].expr.value == "2"  # VMW_BALLOON_CMD_LOCK
    assert asm.clobbers == ["memory"]
    assert asm.coord.line == _line_of("*hv_status = status = VMWARE_BALLOON_CMD(LOCK, pfn, dummy);")
    printed = CGenerator().visit(asm)
    assert printed.startswith('__asm__ __volatile__ ("inl %%dx" : "=a"(__stat)') and '"3"(pfn) : "memory");' in printed


def test_printed_functions_parse_again(seed):
    """CGenerator prints any function back as C (asm included) that parses to the same tree."""
    from balloonspec.csource.parse import GnuCParser

    header = "struct vmballoon; struct page; typedef unsigned int gfp_t; typedef _Bool bool;\n"
    fd = seed.functions["vmballoon_send_guest_id"]
    text = CGenerator().visit(fd)
    again = GnuCParser().parse(header + text, "again.c").ext[-1]
    assert CGenerator().visit(again) == text


def test_vendor_variants_parse_identically(tmp_path, seed):
    """CRLF line endings, changed comments and `inl (%dx)` give the same tree and coordinates."""
    crlf = tmp_path / "crlf.c"
    crlf.write_bytes(SEED_TEXT.replace("inl %%dx", "inl (%%dx)").replace("\n", "\r\n").encode())
    other = parse(crlf)
    for name, fd in seed.functions.items():
        a, b = other.functions[name], fd
        assert (a.coord.line, a.coord.column) == (b.coord.line, b.coord.column)
    (asm,) = _nodes(other.functions["vmballoon_send_start"], Asm)
    assert asm.template == "inl (%%dx)"
    comments = tmp_path / "comments.c"
    comments.write_text(SEED_TEXT.replace("/* inform monitor */", "/* tell the\n * monitor */"))
    moved = parse(comments).functions["vmballoon_deflate"]
    assert moved.coord.line == seed.functions["vmballoon_deflate"].coord.line + 1


def test_errors_name_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.c"
    bad.write_text(SEED_TEXT.replace("\tb->size++;", "\tb->size++ +;"))
    with pytest.raises(CSyntaxError) as e:
        parse(bad)
    assert e.value.line == _line_of("\tb->size++;")
    assert "bad.c" in str(e.value)
    missing = tmp_path / "missing.c"
    missing.write_text(SEED_TEXT.replace("#include <linux/mm.h>", "#include <linux/nonexistent.h>"))
    with pytest.raises(PreprocessError, match="nonexistent.h"):
        parse(missing)
