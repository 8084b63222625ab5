"""C semantics, interpreter against gcc: each function of
tests/csource_cases/semantics.c, and a few hundred random expressions over
every integer type the family uses, give the same value run by the
interpreter (concrete specialised code, generic code over ops.ConcreteOps,
and Z3) as compiled by gcc (-fwrapv: the interpreter wraps signed overflow)."""
import random
import subprocess
from pathlib import Path

import pytest
import z3

from balloonspec.csource import typesys as T
from balloonspec.csource.compile import load
from balloonspec.csource.runtime import Machine
from balloonspec.driver.build import INCLUDE as SHIM_INCLUDE
from balloonspec.model.ops import CONCRETE, ConcreteOps, Z3Ops

CASES = Path(__file__).parent / "csource_cases" / "semantics.c"
INTERPRETATIONS = {"concrete": lambda: CONCRETE, "generic": ConcreteOps, "z3": Z3Ops}


def _native(source: Path, names: list[str], tmp: Path) -> dict[str, int]:
    """Each function's value as a native build computes it (as unsigned long long)."""
    main = tmp / "main.c"
    decls = "".join(f"extern __typeof__({n}()) {n}(void);\n" for n in names)
    main.write_text(f'#include "{source}"\n#include <stdio.h>\n'
                    "int main(void) {\n" + "".join(
                        f'printf("%llu\\n", (unsigned long long){n}());\n' for n in names) + "return 0; }\n")
    exe = tmp / "native"
    subprocess.run(["gcc", "-O0", "-fwrapv", "-w", f"-I{SHIM_INCLUDE}", "-o", str(exe), str(main)], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()
    return dict(zip(names, map(int, out)))
    del decls


def _as_ull(value, ty) -> int:
    if isinstance(value, (z3.BitVecRef, z3.BoolRef)):
        s = z3.simplify(value)
        value = z3.is_true(s) if z3.is_bool(s) else s.as_long()
    if isinstance(ty, T.Bool):
        return int(bool(value))
    return ty.wrap(value) & 0xFFFFFFFFFFFFFFFF


def _interpreted(source: Path, names: list[str], which: str) -> dict[str, int]:
    prog = load(source)
    out = {}
    for n in names:
        M = Machine(prog, INTERPRETATIONS[which](), env=None)
        out[n] = _as_ull(M.invoke(n), prog.functions[n].ctype.ret)
    return out


def _test_functions(source: Path) -> list[str]:
    prog = load(source)
    return [n for n, f in prog.functions.items() if n.startswith(("t_", "e_")) and not f.ctype.params]


@pytest.mark.parametrize("which", sorted(INTERPRETATIONS))
def test_hand_written_cases_agree_with_gcc(which, tmp_path):
    names = _test_functions(CASES)
    assert len(names) >= 14
    native = _native(CASES, names, tmp_path)
    got = _interpreted(CASES, names, which)
    bad = {n: (got[n], native[n]) for n in names if got[n] != native[n]}
    assert not bad, f"interpreted vs gcc: {bad}"


# -- random expressions -----------------------------------------------------------------------

TYPES = ["int", "unsigned int", "long", "unsigned long", "u8", "s8", "u16", "short", "bool", "u32"]
VALUES = [0, 1, 2, 3, 7, 100, 255, 256, 65535, 65536, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 32,
          0x7FFFFFFFFFFFFFFF, 1 << 63, -1, -2, -128, -129, -32768, -0x80000000]
BINARY = ["+", "-", "*", "&", "|", "^", "<", "<=", ">", ">=", "==", "!=", "&&", "||"]


def _expr(rng: random.Random, names: list[str], depth: int) -> str:
    if depth == 0 or rng.random() < 0.25:
        return rng.choice(names) if rng.random() < 0.8 else rng.choice(["0", "1", "-1", "2u", "300", "0xffffffffu",
                                                                         "1UL", "-1L", "4294967296"])
    r = rng.random()
    if r < 0.55:
        return f"({_expr(rng, names, depth - 1)} {rng.choice(BINARY)} {_expr(rng, names, depth - 1)})"
    if r < 0.65:
        return f"({rng.choice(['-', '~', '!'])} {_expr(rng, names, depth - 1)})"
    if r < 0.8:
        return f"(({rng.choice(TYPES)}){_expr(rng, names, depth - 1)})"
    if r < 0.9:
        return (f"({_expr(rng, names, depth - 1)} ? {_expr(rng, names, depth - 1)} : "
                f"{_expr(rng, names, depth - 1)})")
    op = rng.choice(["/", "%"])
    return f"((unsigned long)({_expr(rng, names, depth - 1)}) {op} ((unsigned long)({_expr(rng, names, depth - 1)}) | 1))"


def _random_source(seed: int, n: int) -> str:
    rng = random.Random(seed)
    out = ["#include <linux/types.h>\n"]
    for k in range(n):
        decls = [(f"v{i}", rng.choice(TYPES), rng.choice(VALUES)) for i in range(4)]
        body = "".join(f"\t{t} {v} = {val};\n" for v, t, val in decls)
        stmt = rng.choice(["", f"\t{decls[0][0]} += {decls[1][0]};\n", f"\t{decls[2][0]}++;\n",
                           f"\t{decls[1][0]} = {decls[3][0]} * 3;\n"])
        e = _expr(rng, [v for v, _, _ in decls], 4)
        out.append(f"unsigned long long e_{k}(void)\n{{\n{body}{stmt}\treturn {e};\n}}\n")
    return "\n".join(out)


@pytest.mark.parametrize("which", sorted(INTERPRETATIONS))
def test_random_expressions_agree_with_gcc(which, tmp_path):
    source = tmp_path / "random.c"
    source.write_text(_random_source(seed=2024, n=300 if which != "z3" else 100))
    names = _test_functions(source)
    native = _native(source, names, tmp_path)
    got = _interpreted(source, names, which)
    bad = [(n, got[n], native[n]) for n in names if got[n] != native[n]]
    assert not bad, f"{len(bad)} differ, first: {bad[0]}\n" + source.read_text().split(f"e_{bad[0][0][2:]}(void)")[1][:600]


FORMATS = [  # (format, value, C type of the promoted argument)
    ("%8d", 0x80000000, T.UINT), ("%8d", 5, T.UINT), ("%u", -1, T.INT), ("%4u", 7, T.UINT),
    ("%4u", 123456, T.UINT), ("%ld", -3, T.LONG), ("%ld", 1 << 63, T.ULONG), ("%lx", 0xDEADBEEF12, T.ULONG),
    ("%lu", 1 << 40, T.ULONG), ("%x", 255, T.INT), ("%-5d|", 42, T.INT), ("%05d", -42, T.INT),
    ("%+d", 3, T.INT), ("%c", 65, T.INT), ("%.3d", 7, T.INT), ("%#x", 255, T.UINT), ("%%d %d", 1, T.INT),
]


def test_printf_formats_as_glibc(tmp_path):
    from balloonspec.csource.printf import format_c

    ctype = {T.UINT: "unsigned int", T.INT: "int", T.LONG: "long", T.ULONG: "unsigned long"}
    main = tmp_path / "fmt.c"
    main.write_text("#include <stdio.h>\nint main(void) {\n" + "".join(
        f'printf("%s\\n", ""); printf("{f}", ({ctype[t]}){v if v >= 0 else f"({v})"}ULL);\n'
        .replace("ULL)", ")") for f, v, t in FORMATS) + 'printf("\\n"); return 0; }\n')
    exe = tmp_path / "fmt"
    subprocess.run(["gcc", "-w", "-o", str(exe), str(main)], check=True)
    native = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split("\n")[1:]
    got = [format_c(f, [(v, t)]) for f, v, t in FORMATS]
    assert got == native[:len(FORMATS)]
