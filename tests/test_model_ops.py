"""The two interpretations of model/ops.py agree, including wrap-around, and the
specialized concrete algorithm equals the interpreted spec."""
import random

import pytest
import z3

from balloonspec.model.ops import CONCRETE as C, M32, Z3Ops, SymbolicBranch

Z = Z3Ops()
EDGE = [0, 1, 2, 511, 512, 2048, 16384, 0x7FFFFFFF, 0x80000000, M32 - 1, M32]


def _vals(rng, n=60):
    return EDGE + [rng.randrange(1 << 32) for _ in range(n)]


def _z(v):
    return z3.simplify(v)


def _zval(t):
    s = _z(t)
    if z3.is_bool(s):
        return z3.is_true(s)
    return s.as_long()


@pytest.mark.parametrize("op", ["add", "sub", "mul", "udiv", "ult", "ule", "ugt", "uge", "eq", "ne", "umin", "umax"])
def test_binary_ops_agree(op):
    rng = random.Random(op)
    vals = _vals(rng)
    for _ in range(400):
        a, b = rng.choice(vals), rng.choice(vals)
        if op == "udiv" and b == 0:
            continue
        got_c = getattr(C, op)(a, b)
        got_z = _zval(getattr(Z, op)(Z.u32(a), Z.u32(b)))
        assert got_c == got_z, (op, a, b)


def test_wraparound_is_32_bit():
    assert C.add(M32, 1) == 0 and _zval(Z.add(Z.u32(M32), Z.u32(1))) == 0
    assert C.sub(0, 1) == M32 and _zval(Z.sub(Z.u32(0), Z.u32(1))) == M32
    assert C.mul(0x10000, 0x10000) == 0 and _zval(Z.mul(Z.u32(0x10000), Z.u32(0x10000))) == 0
    assert C.u32(-12) == 0xFFFFFFF4 == _zval(Z.u32(-12))


def test_ite_logic_and_widths_agree():
    rng = random.Random(7)
    for _ in range(200):
        a, b = rng.randrange(1 << 32), rng.randrange(1 << 32)
        c = rng.random() < 0.5
        assert C.ite(c, a, b) == _zval(Z.ite(z3.BoolVal(c), Z.u32(a), Z.u32(b)))
        x = rng.choice([rng.randrange(1 << 32), rng.randrange(1 << 64), 1 << 32, M32])
        assert C.trunc32(x) == _zval(Z.trunc32(Z.u64(x)))
        assert C.fits32(x) == _zval(Z.fits32(Z.u64(x)))
        assert C.zext64(a) == _zval(Z.zext64(Z.u32(a)))
    for p in (True, False):
        for q in (True, False):
            P, Q = z3.BoolVal(p), z3.BoolVal(q)
            assert C.and_(p, q) == _zval(Z.and_(P, Q))
            assert C.or_(p, q) == _zval(Z.or_(P, Q))
            assert C.not_(p) == _zval(Z.not_(P))


def test_symbolic_branch_without_oracle_raises_and_constant_branch_is_taken():
    x = Z.var32("x")
    with pytest.raises(SymbolicBranch):
        Z.cond(Z.ult(x, Z.u32(5)))
    assert Z.cond(Z.ult(Z.u32(3), Z.u32(5))) is True
    assert Z.cond(Z.ult(x, Z.u32(0))) is False  # simplifies to false


def test_constants_agree():
    for name, v in vars(C.k).items():
        assert v == _zval(getattr(Z.k, name)), name
