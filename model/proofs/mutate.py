"""First-order mutants of the spec (model/algorithm.py), made with Python's ``ast``.

A spec mutant is the spec with one small edit in one function, of the
operator classes used for the driver mutants:

=====  =====================================================================
AOR    arithmetic operator replaced (``ops.add`` <-> ``ops.sub``, ``mul`` -> ``add``, ``udiv`` -> ``mul``)
ROR    relational operator replaced (each of ``ult ule ugt uge eq ne`` by each other)
LOR    logical operator replaced (``ops.and_`` <-> ``ops.or_``, Python ``and`` <-> ``or``)
ASR    assignment operator replaced (``x = x + e`` / ``x = x - e`` -> ``x = e``: C's ``+=`` as ``=``)
CRP    constant replaced: a named constant by its neighbours in model/ops.py's ``Consts``
       (or model/constants.py's order), by 0 and 1, by itself +1 / -1; ``true`` <-> ``false``
SDL    statement deleted (a call, an assignment to a field, a whole ``if``)
NEG    condition negated (``if``, ``while``, ``return ops.cond(...)``)
LST    wrong list end (``list_head`` <-> ``list_tail``) or wrong list (``pages`` <-> ``refused_pages``)
SWP    operands swapped (``umin`` <-> ``umax``; the operands of ``sub``, ``udiv`` and the relations)
=====  =====================================================================

Ids are stable: ``function:line:col:operator`` (``inflate_attempt:180:12:ROR:uge>ugt``),
with the line and column of the edited node in model/algorithm.py; the list
is in source order. ``compile_mutant`` gives the mutated function (compiled
with the module's globals and file name, so the engine's call and decision
sites keep their lines), ``spec_of`` a proofs ``Spec`` that installs it, and
``mutated_tree`` the whole module's AST with the edit (for the concrete
predictor, model/specialize.py).
"""
from __future__ import annotations

import ast
import copy
import inspect
from dataclasses import dataclass
from functools import lru_cache

from .. import algorithm as A
from .. import constants as C
from .framework import Spec

ARITH = {"add": "sub", "sub": "add", "mul": "add", "udiv": "mul", "add64": "sub64", "sub64": "add64"}
RELATIONS = ("ult", "ule", "ugt", "uge", "eq", "ne")
LOGIC = {"and_": "or_", "or_": "and_"}
LIST_END = {"list_head": "list_tail", "list_tail": "list_head"}
LIST_OPS = ("list_add", "list_take", "list_head", "list_tail", "list_empty")
LISTS = {"pages": "refused_pages", "refused_pages": "pages"}
NON_COMMUTATIVE = ("sub", "udiv", "ult", "ule", "ugt", "uge")
MINMAX = {"umin": "umax", "umax": "umin"}
OPERATORS = ("AOR", "ROR", "LOR", "ASR", "CRP", "SDL", "NEG", "LST", "SWP")


@dataclass(frozen=True)
class Mutant:
    id: str  # function:line:col:operator
    function: str
    line: int
    col: int
    operator: str  # e.g. "ROR:uge>ugt"
    text: str  # the edited source line, in words: "ops.uge(...) -> ops.ugt(...)"
    index: int  # the node's position in ast.walk order of the function (internal)
    edit: tuple  # (kind, payload): how to rebuild the edit (internal)

    @property
    def klass(self) -> str:
        return self.operator.split(":")[0]


# -- the spec's source ---------------------------------------------------------------------
@lru_cache(maxsize=1)
def _module_tree() -> ast.Module:
    return ast.parse(inspect.getsource(A))


def functions() -> list[ast.FunctionDef]:
    """The spec's functions, in source order (the algorithm's own, not the tables)."""
    return [n for n in _module_tree().body if isinstance(n, ast.FunctionDef)]


def _consts_order() -> list[str]:
    """model/ops.py Consts' attribute names in their declared order."""
    from .. import ops

    src = inspect.getsource(ops.Consts.__init__)
    return [t.attr for n in ast.walk(ast.parse(src.strip().replace("def __init__", "def f", 1)))
            if isinstance(n, ast.Assign) for t in n.targets
            if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"]


def _c_order() -> list[str]:
    """model/constants.py's integer constants in source order."""
    tree = ast.parse(inspect.getsource(C))
    out = []
    for n in tree.body:
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
            name = n.targets[0].id
            if isinstance(getattr(C, name, None), int) and not isinstance(getattr(C, name), bool):
                out.append(name)
    return out


def _neighbours(order: list[str], name: str, same) -> list[str]:
    """The named constants declared next to ``name`` (of the same kind)."""
    cands = [n for n in order if same(n)]
    if name not in cands:
        return []
    i = cands.index(name)
    return [cands[j] for j in (i - 1, i + 1) if 0 <= j < len(cands)]


def _is_ops_call(node, names=None) -> str | None:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
            isinstance(node.func.value, ast.Name) and node.func.value.id == "ops":
        if names is None or node.func.attr in names:
            return node.func.attr
    return None


def _k(name: str) -> ast.expr:
    return ast.Attribute(ast.Attribute(ast.Name("ops", ast.Load()), "k", ast.Load()), name, ast.Load())


def _ops(name: str, *args) -> ast.Call:
    return ast.Call(ast.Attribute(ast.Name("ops", ast.Load()), name, ast.Load()), list(args), [])


def _kval(name: str) -> int:
    from ..ops import CONCRETE

    return getattr(CONCRETE.k, name)


def _is_k(node) -> str | None:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and node.value.attr == "k" \
            and isinstance(node.value.value, ast.Name) and node.value.value.id == "ops":
        return node.attr
    return None


def _is_c(node) -> str | None:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "C" \
            and isinstance(getattr(C, node.attr, None), int):
        return node.attr
    return None


def _negated(test: ast.expr) -> ast.expr:
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return test.operand
    return ast.UnaryOp(ast.Not(), test)


def _docstring(st) -> bool:
    return isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant) and isinstance(st.value.value, str)


def _deletable(st: ast.stmt) -> bool:
    """Statements whose deletion leaves a runnable function: calls, stores to a
    field (b.x, s.x, lv.x), whole ifs; not returns, not local bindings (their
    deletion only makes the function crash)."""
    if _docstring(st):
        return False
    if isinstance(st, ast.Expr):
        return isinstance(st.value, ast.Call)
    if isinstance(st, ast.Assign):
        return all(isinstance(t, ast.Attribute) for t in st.targets)
    return isinstance(st, ast.If)


# -- the edits: (operator, kind, payload, words) for one node --------------------------------------
def _edits(node, fn_consts: list[str], c_consts: list[str]):
    out = []
    op = _is_ops_call(node)
    if op in ARITH:
        out.append((f"AOR:{op}>{ARITH[op]}", "rename", ARITH[op]))
    if op in RELATIONS:
        out += [(f"ROR:{op}>{r}", "rename", r) for r in RELATIONS if r != op]
    if op in LOGIC:
        out.append((f"LOR:{op}>{LOGIC[op]}", "rename", LOGIC[op]))
    if op in LIST_END:
        out.append((f"LST:{op}>{LIST_END[op]}", "rename", LIST_END[op]))
    if op in LIST_OPS and node.args and isinstance(node.args[0], ast.Attribute) and node.args[0].attr in LISTS:
        out.append((f"LST:{node.args[0].attr}>{LISTS[node.args[0].attr]}", "list", LISTS[node.args[0].attr]))
    if op in MINMAX:
        out.append((f"SWP:{op}>{MINMAX[op]}", "rename", MINMAX[op]))
    if op in NON_COMMUTATIVE and len(node.args) == 2:
        out.append((f"SWP:{op}(b,a)", "swap", None))
    if isinstance(node, ast.BoolOp):
        other = "or" if isinstance(node.op, ast.And) else "and"
        out.append((f"LOR:{'and' if other == 'or' else 'or'}>{other}", "boolop", other))
    k = _is_k(node)
    if k is not None:
        # replacements of another value only (ERR_OK is ZERO: no mutant), each value once
        wide = k.endswith("64")
        seen = {_kval(k)}
        cands = [(f"CRP:{k}>{r}", "const", r, _kval(r)) for r in
                 _neighbours(fn_consts, k, lambda n: n.endswith("64") == wide) + ([] if wide else ["ZERO", "ONE"])]
        if not wide:
            cands += [(f"CRP:{k}+1", "plus", "add", (_kval(k) + 1) & 0xFFFFFFFF),
                      (f"CRP:{k}-1", "plus", "sub", (_kval(k) - 1) & 0xFFFFFFFF)]
        for operator, kind, payload, value in cands:
            if value not in seen:
                seen.add(value)
                out.append((operator, kind, payload))
    c = _is_c(node)
    if c is not None:
        prefix = c.split("_CMD_")[0] + "_CMD_" if "_CMD_" in c else c.rsplit("_", 1)[0]
        repl = _neighbours(c_consts, c, lambda n, p=prefix: n.startswith(p))
        out += [(f"CRP:{c}>{r}", "cconst", r) for r in repl]
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "ops" \
            and node.attr in ("true", "false"):
        other = "false" if node.attr == "true" else "true"
        out.append((f"CRP:{node.attr}>{other}", "bool", other))
    if isinstance(node, (ast.If, ast.While)):
        out.append(("NEG:" + type(node).__name__.lower(), "negate", None))
    if isinstance(node, ast.Return) and _is_ops_call(node.value, ("cond",)):
        out.append(("NEG:return", "negate_return", None))
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and _is_ops_call(node.value, ("add", "sub")) \
            and ast.unparse(node.value.args[0]) == ast.unparse(node.targets[0]):
        out.append((f"ASR:{node.value.func.attr}>assign", "assign", None))
    return out


def _apply(node, kind: str, payload):
    """Edit ``node`` in place (it belongs to a deep copy), or return its replacement."""
    if kind == "rename":
        node.func.attr = payload
    elif kind == "list":
        node.args[0].attr = payload
    elif kind == "swap":
        node.args = [node.args[1], node.args[0]]
    elif kind == "boolop":
        node.op = ast.Or() if payload == "or" else ast.And()
    elif kind == "const":
        node.attr = payload
    elif kind == "plus":
        return _ops(payload, copy.deepcopy(node), _k("ONE"))
    elif kind == "cconst":
        node.attr = payload
    elif kind == "bool":
        node.attr = payload
    elif kind == "negate":
        node.test = _negated(node.test)
    elif kind == "negate_return":
        node.value = ast.UnaryOp(ast.Not(), node.value)
    elif kind == "assign":
        node.value = node.value.args[1]
    return None


class _Replace(ast.NodeTransformer):
    def __init__(self, target, new) -> None:
        self.target, self.new = target, new

    def generic_visit(self, node):
        if node is self.target:
            return self.new
        return super().generic_visit(node)

    def visit(self, node):
        if node is self.target:
            return self.new
        return super().visit(node)


def _nodes(fn: ast.FunctionDef) -> list:
    return list(ast.walk(fn))


def _bodies(fn: ast.FunctionDef):
    """Every statement list of the function (for deletions), with its owner."""
    for n in ast.walk(fn):
        for field in ("body", "orelse"):
            stmts = getattr(n, field, None)
            if isinstance(stmts, list) and stmts and isinstance(stmts[0], ast.stmt):
                yield stmts


def _words(node) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 90 else text[:87] + "..."


@lru_cache(maxsize=1)
def mutants() -> tuple[Mutant, ...]:
    """Every first-order mutant of the spec, in source order (then operator)."""
    fn_consts, c_consts = _consts_order(), _c_order()
    out: list[Mutant] = []
    for fn in functions():
        nodes = _nodes(fn)
        found = []
        for i, node in enumerate(nodes):
            if node is fn:
                continue
            for operator, kind, payload in _edits(node, fn_consts, c_consts):
                found.append((node.lineno, node.col_offset, operator, i, (kind, payload), _words(node)))
        for stmts in _bodies(fn):
            for st in stmts:
                if _deletable(st):
                    found.append((st.lineno, st.col_offset, "SDL", nodes.index(st), ("delete", None),
                                  _words(st).split("\n")[0]))
        seen: dict[str, int] = {}
        for line, col, operator, i, edit, words in sorted(found, key=lambda f: (f[0], f[1], f[2], f[3])):
            mid = f"{fn.name}:{line}:{col}:{operator}"
            if mid in seen:  # two nodes at one place with one operator (rare): keep the ids apart
                seen[mid] += 1
                mid += f"#{seen[mid]}"
            else:
                seen[mid] = 1
            out.append(Mutant(mid, fn.name, line, col, operator, words, i, edit))
    return tuple(out)


def by_id(mid: str) -> Mutant:
    for m in mutants():
        if m.id == mid:
            return m
    raise KeyError(f"no spec mutant {mid!r} (see `balloonspec spec-mutate --list`)")


def mutated_function_tree(m: Mutant) -> ast.FunctionDef:
    """The mutant's function as an AST (a copy of the spec's, edited)."""
    fn = copy.deepcopy(next(f for f in functions() if f.name == m.function))
    node = _nodes(fn)[m.index]
    kind, payload = m.edit
    if kind == "delete":
        for stmts in _bodies(fn):
            for j, st in enumerate(stmts):
                if st is node:
                    stmts[j] = ast.copy_location(ast.Pass(), st)
        return ast.fix_missing_locations(fn)
    new = _apply(node, kind, payload)
    if new is not None:
        fn = _Replace(node, ast.copy_location(new, node)).visit(fn)
    return ast.fix_missing_locations(fn)


def mutant_source(m: Mutant) -> str:
    return ast.unparse(mutated_function_tree(m))


def compile_mutant(m: Mutant):
    """The mutated function, with model/algorithm.py's globals and file name
    (so that the engine's sites keep their lines)."""
    mod = ast.Module([mutated_function_tree(m)], [])
    ns: dict = {}
    exec(compile(mod, A.__file__, "exec"), A.__dict__, ns)
    return ns[m.function]


def spec_of(m: Mutant) -> Spec:
    """The proofs' Spec with the mutant's function installed."""
    return Spec(overrides={m.function: compile_mutant(m)}, name=m.id)


def mutated_tree(m: Mutant) -> ast.Module:
    """The whole of model/algorithm.py with the mutant's edit."""
    tree = copy.deepcopy(_module_tree())
    for i, n in enumerate(tree.body):
        if isinstance(n, ast.FunctionDef) and n.name == m.function:
            tree.body[i] = mutated_function_tree(m)
    return ast.fix_missing_locations(tree)
