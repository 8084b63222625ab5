"""Partial evaluation of the spec for the concrete interpretation.

The algorithm (model/algorithm.py) is written over ``ops`` so that it runs both
concretely and with Z3. Calling ``ops.add`` etc. through the interface costs a
Python function call per operation, which dominates the prediction of a
16,385-page inflate cycle. ``concrete_algorithm()`` therefore rewrites the
*same source* mechanically (an AST transformation, no hand-written second
copy): every ``ops.<op>(...)`` call becomes the inline Python expression that
``ops.CONCRETE`` would compute (``ops.add(a, b)`` -> ``((a + b) & 0xFFFFFFFF)``,
``ops.cond(c)`` -> ``c``, ``ops.k.NAME`` -> its int value, the page-list
operations -> Python list operations, ...). A loop statement
``ops.loop(name, test, step, *args)`` becomes
``while <test>: if step(ops, *args): break``, with ``test`` inlined when it is
a function of the module whose body is one ``return`` (the loop tests of
model/algorithm.py are). The result is a module object with the same
functions; tests check that it produces the same traces as the interpreted
spec.
"""
from __future__ import annotations

import ast
import copy
import inspect
import types

from . import algorithm
from .ops import CONCRETE, M32, M64, S32, S64

_BIN = {"add": ast.Add, "sub": ast.Sub, "mul": ast.Mult}
_BIN64 = {"add64": ast.Add, "sub64": ast.Sub, "mul64": ast.Mult}
_BITS = {"band": ast.BitAnd, "bor": ast.BitOr, "bxor": ast.BitXor, "urem": ast.Mod}
_SCMP = {"slt32": (ast.Lt, S32), "sle32": (ast.LtE, S32), "slt64": (ast.Lt, S64), "sle64": (ast.LtE, S64)}
_CMP = {"ult": ast.Lt, "ule": ast.LtE, "ugt": ast.Gt, "uge": ast.GtE, "eq": ast.Eq, "ne": ast.NotEq}
_LIST_METHOD = {"list_add": "append", "list_take": "pop"}


def _const(v) -> ast.expr:
    return ast.Constant(v)


class _Inline(ast.NodeTransformer):
    def visit_Attribute(self, node: ast.Attribute):
        self.generic_visit(node)
        v = node.value
        if isinstance(v, ast.Attribute) and isinstance(v.value, ast.Name) and v.value.id == "ops" and v.attr == "k":
            return _const(getattr(CONCRETE.k, node.attr))
        if isinstance(v, ast.Name) and v.id == "ops" and node.attr in ("true", "false"):
            return _const(node.attr == "true")
        return node

    def visit_Call(self, node: ast.Call):
        self.generic_visit(node)
        f = node.func
        if not (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "ops"):
            return node
        op, a = f.attr, node.args
        if op in _BIN:
            return ast.BinOp(ast.BinOp(a[0], _BIN[op](), a[1]), ast.BitAnd(), _const(M32))
        if op in _BIN64:
            return ast.BinOp(ast.BinOp(a[0], _BIN64[op](), a[1]), ast.BitAnd(), _const(M64))
        if op in _BITS:
            return ast.BinOp(a[0], _BITS[op](), a[1])
        if op in _CMP:
            return ast.Compare(a[0], [_CMP[op]()], [a[1]])
        if op in _SCMP:
            cmp, sign = _SCMP[op]
            return ast.Compare(ast.BinOp(a[0], ast.BitXor(), _const(sign)), [cmp()],
                               [ast.BinOp(a[1], ast.BitXor(), _const(sign))])
        if op == "sext64":
            return ast.BinOp(ast.BinOp(ast.BinOp(a[0], ast.BitXor(), _const(S32)), ast.Sub(), _const(S32)),
                             ast.BitAnd(), _const(M64))
        if op == "udiv":
            return ast.BinOp(a[0], ast.FloorDiv(), a[1])
        if op in ("cond", "zext64", "as_int"):
            return a[0]
        if op in ("u32", "trunc32"):
            return ast.BinOp(a[0], ast.BitAnd(), _const(M32))
        if op == "u64":
            return ast.BinOp(a[0], ast.BitAnd(), _const(0xFFFFFFFFFFFFFFFF))
        if op == "fits32":
            return ast.Compare(a[0], [ast.LtE()], [_const(M32)])
        if op == "ite":
            return ast.IfExp(a[0], a[1], a[2])
        if op in ("umin", "umax"):
            cmp = ast.Lt() if op == "umin" else ast.Gt()
            return ast.IfExp(ast.Compare(a[0], [cmp], [a[1]]), a[0], a[1])
        if op == "and_":
            return ast.BoolOp(ast.And(), [a[0], a[1]])
        if op == "or_":
            return ast.BoolOp(ast.Or(), [a[0], a[1]])
        if op == "not_":
            return ast.UnaryOp(ast.Not(), a[0])
        if op in _LIST_METHOD:
            return ast.Call(ast.Attribute(a[0], _LIST_METHOD[op], ast.Load()), a[1:], [])
        if op == "list_head":
            return ast.Subscript(a[0], _const(-1), ast.Load())
        if op == "list_tail":
            return ast.Subscript(a[0], _const(0), ast.Load())
        if op == "list_empty":
            return ast.UnaryOp(ast.Not(), a[0])
        if op == "list_init":
            return ast.List([], ast.Load())
        raise ValueError(f"ops.{op} has no concrete inline form")


def _is_ops_call(node, op: str) -> bool:
    f = getattr(node, "func", None)
    return (isinstance(node, ast.Call) and isinstance(f, ast.Attribute) and f.attr == op
            and isinstance(f.value, ast.Name) and f.value.id == "ops")


def _single_return(fn: ast.FunctionDef):
    """The expression of a function whose body is one return (a docstring aside)."""
    body = [st for st in fn.body if not (isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant))]
    if len(body) == 1 and isinstance(body[0], ast.Return) and body[0].value is not None:
        if not (fn.args.vararg or fn.args.kwarg or fn.args.kwonlyargs or fn.args.defaults):
            return [a.arg for a in fn.args.args], body[0].value
    return None


class _Substitute(ast.NodeTransformer):
    def __init__(self, names: dict) -> None:
        self.names = names

    def visit_Name(self, node: ast.Name):
        if isinstance(node.ctx, ast.Load) and node.id in self.names:
            return copy.deepcopy(self.names[node.id])
        return node


class _Loops(ast.NodeTransformer):
    """``ops.loop(name, test, step, *args)`` statements -> Python while loops."""

    def __init__(self, functions: dict) -> None:
        self.functions = functions

    def visit_Expr(self, node: ast.Expr):
        if not _is_ops_call(node.value, "loop"):
            return node
        _name, test, step, *args = node.value.args
        call_args = [ast.Name("ops", ast.Load())] + args
        inline = self.functions.get(test.id) if isinstance(test, ast.Name) else None
        if inline is not None and len(inline[0]) == len(call_args):
            cond = _Substitute(dict(zip(inline[0], call_args))).visit(copy.deepcopy(inline[1]))
        else:
            cond = ast.Call(test, call_args, [])
        brk = ast.If(ast.Call(step, copy.deepcopy(call_args), []), [ast.Break()], [])
        return ast.copy_location(ast.While(cond, [brk], []), node)


def specialize_module(mod: types.ModuleType, name_suffix: str = "_concrete") -> types.ModuleType:
    """The module ``mod`` with every ops call inlined for the concrete interpretation."""
    tree = ast.parse(inspect.getsource(mod))
    functions = {n.name: r for n in tree.body if isinstance(n, ast.FunctionDef) and (r := _single_return(n))}
    tree = _Loops(functions).visit(tree)  # before inlining: the loop tests are inlined as ops calls
    tree = ast.fix_missing_locations(_Inline().visit(tree))
    new = types.ModuleType(mod.__name__ + name_suffix, mod.__doc__)
    new.__package__ = mod.__package__
    new.__file__ = getattr(mod, "__file__", None)
    exec(compile(tree, f"<specialized {mod.__name__}>", "exec"), new.__dict__)
    return new


_CACHE: dict[str, types.ModuleType] = {}


def concrete_algorithm() -> types.ModuleType:
    """model/algorithm.py specialized for CONCRETE (built once per process)."""
    m = _CACHE.get("algorithm")
    if m is None:
        m = _CACHE["algorithm"] = specialize_module(algorithm)
    return m
