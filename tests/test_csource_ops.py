"""The ops the C interpreter added to model/ops.py (64-bit arithmetic, urem,
bitwise, signed comparisons, sign extension): the concrete lambdas, the Z3
terms and the spec's inliner (model/specialize.py) compute the same C values."""
import ast
import random

import pytest
import z3

from balloonspec.model.ops import CONCRETE as C, M32, M64, Z3Ops
from balloonspec.model.specialize import _Inline

Z = Z3Ops()
EDGE32 = [0, 1, 2, 0x7FFFFFFF, 0x80000000, 0x80000001, M32 - 1, M32]
EDGE64 = EDGE32 + [1 << 32, (1 << 63) - 1, 1 << 63, M64 - 1, M64]


def _zval(t):
    s = z3.simplify(t)
    return z3.is_true(s) if z3.is_bool(s) else s.as_long()


def _inlined(op: str, *args):
    """``ops.<op>(*args)`` after the spec's inliner, evaluated as plain Python."""
    call = ast.Expression(ast.Call(ast.Attribute(ast.Name("ops", ast.Load()), op, ast.Load()),
                                   [ast.Constant(a) for a in args], []))
    tree = ast.fix_missing_locations(_Inline().visit(call))
    assert "ops" not in ast.unparse(tree), f"ops.{op} was not inlined"
    return eval(compile(tree, "<inlined>", "eval"))


def _signed(v, bits):
    return v - (1 << bits) if v >> (bits - 1) else v


REFERENCE = {  # the C meaning, on mathematical integers
    "add64": (64, lambda a, b: (a + b) % (1 << 64)),
    "sub64": (64, lambda a, b: (a - b) % (1 << 64)),
    "mul64": (64, lambda a, b: (a * b) % (1 << 64)),
    "urem": (32, lambda a, b: a % b),
    "band": (64, lambda a, b: a & b),
    "bor": (64, lambda a, b: a | b),
    "bxor": (32, lambda a, b: a ^ b),
    "slt32": (32, lambda a, b: _signed(a, 32) < _signed(b, 32)),
    "sle32": (32, lambda a, b: _signed(a, 32) <= _signed(b, 32)),
    "slt64": (64, lambda a, b: _signed(a, 64) < _signed(b, 64)),
    "sle64": (64, lambda a, b: _signed(a, 64) <= _signed(b, 64)),
}


@pytest.mark.parametrize("op", sorted(REFERENCE))
def test_binary_ops_have_their_c_meaning_in_every_interpretation(op):
    bits, ref = REFERENCE[op]
    rng = random.Random(op)
    edge = EDGE64 if bits == 64 else EDGE32
    vals = edge + [rng.randrange(1 << bits) for _ in range(40)]
    mk = Z.u64 if bits == 64 else Z.u32
    for _ in range(300):
        a, b = rng.choice(vals), rng.choice(vals)
        if op == "urem" and b == 0:
            continue
        want = ref(a, b)
        assert getattr(C, op)(a, b) == want, (op, a, b)
        assert _zval(getattr(Z, op)(mk(a), mk(b))) == want, (op, a, b)
        assert _inlined(op, a, b) == want, (op, a, b)


def test_sign_extension():
    for v in EDGE32 + [12345, 0xFFFFFF00]:
        want = _signed(v, 32) % (1 << 64)
        assert C.sext64(v) == want == _zval(Z.sext64(Z.u32(v))) == _inlined("sext64", v)
