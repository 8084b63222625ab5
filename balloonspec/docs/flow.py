"""Flowcharts drawn from the model's own source (model/algorithm.py).

The step functions are structured Python over `ops` (model/ops.py): each
`if ops.cond(...)` is a decision of the driver, each `env.*` call one
observable event. `add_flow` walks a function's syntax tree and adds its
control flow to a Graph: decisions become diamonds, runs of statements one box,
`return`s terminals. Expressions are printed in the C's vocabulary
(`ops.ult(b.size, target)` reads `size < target`). Statistics counters are
left out (the debugfs page lists them); everything else is drawn, so a change
to the model's control flow changes the diagram, and `balloonspec docs --check`
reports it stale.
"""
from __future__ import annotations

import ast
import inspect
import textwrap

from balloonspec.model import algorithm as A
from balloonspec.model import state as S

from .graph import Graph

_BINOPS = {"add": "+", "sub": "-", "mul": "*", "udiv": "/", "eq": "==", "ne": "!=", "ult": "<",
           "ule": "≤", "ugt": ">", "uge": "≥", "and_": "and", "or_": "or"}
_FUNCS = {"umin": "min", "umax": "max"}
_LOCALS = ("b", "lv", "dl", "pl", "s")  # the state objects whose fields read as C members
_KCONST = {"ZERO": "0", "ONE": "1", "TWO": "2", "ZERO64": "0", "ERR_OK": "0"}


def _kname(name: str) -> str:
    if name in _KCONST:
        return _KCONST[name]
    if name.startswith("ERR_"):
        return "-" + name[4:]
    name = name.removesuffix("_64")
    return {"PROTOCOL_VERSION": "2", "GUEST_ID": "1"}.get(name, name)


def _cname(name: str) -> str:
    """A model/constants.py name as the C reads it in context."""
    for prefix in ("VMW_BALLOON_CMD_", "VMW_PAGE_ALLOC_", "VMW_BALLOON_"):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _message(name: str) -> str:
    text = getattr(A, name, name)
    if isinstance(text, str):
        return text.split(": ", 1)[-1].strip().replace(", error: %d", "")
    return name


def expr(node: ast.AST) -> str:
    """An ops expression in the driver's own words."""
    if isinstance(node, ast.Call):
        f = node.func
        args = node.args
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
            owner, name = f.value.id, f.attr
            if owner == "ops":
                if name == "cond":
                    return expr(args[0])
                if name in _BINOPS:
                    return f"{expr(args[0])} {_BINOPS[name]} {expr(args[1])}"
                if name in _FUNCS:
                    return f"{_FUNCS[name]}({expr(args[0])}, {expr(args[1])})"
                if name == "ite":
                    return f"{expr(args[0])} ? {expr(args[1])} : {expr(args[2])}"
                if name == "fits32":
                    return f"{expr(args[0])} < 2^32"
                if name == "trunc32":
                    return f"(u32) {expr(args[0])}"
                if name == "not_":
                    return f"not {expr(args[0])}"
            if owner == "env":
                return _env_call(name, args)
            if name == "append" and isinstance(f.value, ast.Attribute):
                return f"list_add({expr(args[0])}, {f.value.attr})"
        if isinstance(f, ast.Attribute) and f.attr == "append":
            return f"list_add({expr(args[0])}, {expr(f.value)})"
        if isinstance(f, ast.Attribute) and f.attr == "pop":
            return f"unlink the head of {expr(f.value)}"
        if isinstance(f, ast.Name) and hasattr(A, f.id):  # another function of the model
            rest = [expr(a) for a in args if not (isinstance(a, ast.Name) and a.id in ("ops", "b", "env", "lv",
                                                                                        "dl", "pl"))]
            return f"{f.id}({', '.join(rest)})"
        return ast.unparse(node)
    if isinstance(node, ast.Attribute):
        if isinstance(node.value, ast.Attribute) and isinstance(node.value.value, ast.Name) \
                and node.value.value.id == "ops" and node.value.attr == "k":
            return _kname(node.attr)
        if isinstance(node.value, ast.Name):
            if node.value.id == "ops":
                return {"true": "true", "false": "false"}.get(node.attr, node.attr)
            if node.value.id == "C":
                return _cname(node.attr)
            if node.value.id in _LOCALS:
                return node.attr
        return f"{expr(node.value)}.{node.attr}"
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.UnaryOp):
        return f"the head of {expr(node.value)}"
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return f"not {expr(node.operand)}"
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return "-" + expr(node.operand)
    if isinstance(node, ast.Compare):
        ops = {ast.LtE: "≤", ast.Lt: "<", ast.GtE: "≥", ast.Gt: ">", ast.Eq: "==", ast.NotEq: "!="}
        out = expr(node.left)
        for op, right in zip(node.ops, node.comparators):
            out += f" {ops.get(type(op), '?')} {expr(right)}"
        return out
    if isinstance(node, ast.Name):
        value = getattr(A, node.id, None)
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            return "-" + node.id  # EIO, ENODEV: the model keeps them negative
        return node.id
    if isinstance(node, ast.Constant):
        return repr(node.value) if isinstance(node.value, str) else str(node.value)
    if isinstance(node, ast.List) and not node.elts:
        return "empty"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):  # a printk format
        return expr(node.left)
    return ast.unparse(node)


def _env_call(name: str, args: list[ast.AST]) -> str:
    a = [expr(x) for x in args]
    if name == "backdoor":
        return f"{a[0]}({a[1]})"
    if name == "printk":
        return f'pr_err("{_message(args[0].id if isinstance(args[0], ast.Name) else a[0])}")'
    if name == "x86_hyper_is_vmware":
        return "running on VMware"
    if name == "free_page":
        return f"__free_page({a[0]})"
    if name == "debugfs_create":
        return "debugfs_create_file(vmmemctl, 0444)"
    return f"{name}({', '.join(a)})"


_LISTS = ("pages", "refused_pages", "lost_pages")  # struct vmballoon's lists (Python lists in the model)


def _is_stats(stmt: ast.stmt) -> bool:
    """`s = b.stats` and `s.x = ops.add(s.x, ...)`: statistics, not drawn; and
    the runner's alias of a step function."""
    text = ast.unparse(stmt)
    return text.startswith(("s = b.stats", "s.", "b.stats.", "attempt = "))


def _drawable(stmts: list[ast.stmt]) -> bool:
    """Does this block draw anything (or end the function)?"""
    for st in stmts:
        if isinstance(st, (ast.Return, ast.Break, ast.While)):
            return True
        if isinstance(st, ast.If) and (_drawable(st.body) or _drawable(st.orelse)):
            return True
        if isinstance(st, (ast.Assign, ast.Expr)) and not _is_stats(st) and _statement(st):
            return True
    return False


def _statement(stmt: ast.stmt) -> str:
    if isinstance(stmt, ast.Assign):
        lhs = ", ".join("_" if isinstance(t, ast.Name) and t.id == "_" else expr(t) for t in stmt.targets)
        if isinstance(stmt.targets[0], ast.Tuple):
            lhs = ", ".join(expr(e) for e in stmt.targets[0].elts if not (isinstance(e, ast.Name) and e.id == "_"))
        rhs = stmt.value
        if isinstance(rhs, ast.List) and not rhs.elts:
            return f"INIT_LIST_HEAD({lhs})"
        value = expr(rhs)
        if value == lhs:  # a local copied to or from the loop's locals: no effect in the C
            target = stmt.targets[0]
            if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "b":
                return f"b->{lhs} = {value}"
            return ""
        return f"{lhs} = {value}"
    if isinstance(stmt, ast.Expr):
        text = expr(stmt.value)
        call = stmt.value
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id.startswith("send_"):
            text += " (result ignored)"
        return text
    if isinstance(stmt, ast.Pass):
        return ""
    return ast.unparse(stmt)


def _constructor(call: ast.Call) -> list[str] | None:
    """`return InflateLoop(goal, rate, 0, ...)` -> one assignment per field of the loop's locals."""
    if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and hasattr(S, call.func.id):
        names = getattr(S, call.func.id).__slots__
        return [f"{n} = {expr(a)}" for n, a in zip(names, call.args) if expr(a) != n]
    return None


class _Builder:
    """Adds one function's control flow to a graph."""

    def __init__(self, g: Graph, cluster: str, returns: dict):
        self.g, self.cluster, self.returns = g, cluster, returns
        self.terminals: dict[str, str] = {}
        self.breaks: list[list] = []

    def _node(self, lines, shape="box") -> str:
        return self.g.node(lines, shape, self.cluster)

    def _connect(self, pending, dst: str) -> None:
        for src, label in pending:
            self.g.edge(src, dst, label)

    def _terminal(self, text: str) -> str:
        """Returns with the same meaning share one node (or go where `returns` says)."""
        if text in self.returns:
            return self.entry if self.returns[text] == "entry" else self.returns[text]
        if text not in self.terminals:
            self.terminals[text] = self._node(text, "terminal")
        return self.terminals[text]

    def block(self, stmts: list[ast.stmt], pending: list) -> list:
        run: list[str] = []

        def flush():
            nonlocal pending, run
            if run:
                n = self._node(run)
                self._connect(pending, n)
                pending, run = [(n, "")], []

        for st in stmts:
            if _is_stats(st):
                continue
            if isinstance(st, ast.If):
                if not (_drawable(st.body) or _drawable(st.orelse)):
                    continue  # both arms only count statistics
                flush()
                pending = self._if(st, pending)
            elif isinstance(st, ast.While):
                flush()
                pending = self._while(st, pending)
            elif isinstance(st, ast.Return):
                flush()
                self._return(st, pending)
                return []
            elif isinstance(st, ast.Break):
                flush()
                self.breaks[-1].extend(pending)
                return []
            elif isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant):
                continue  # a docstring
            else:
                text = _statement(st)
                if text:
                    run.append(text)
        flush()
        return pending

    def _decision(self, test: ast.expr) -> tuple[str, bool]:
        """(label, negated): `if not ops.cond(x)` is drawn as the decision x with its arms swapped."""
        negated = isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)
        inner = test.operand if negated else test
        label = expr(inner)
        if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name):
            label += " succeeds"
        elif isinstance(inner, ast.Attribute) and inner.attr in _LISTS:
            label += " not empty"
        elif label in ("debugfs",):
            label = "CONFIG_DEBUG_FS"
        return label + "?", negated

    def _if(self, st: ast.If, pending: list) -> list:
        label, negated = self._decision(st.test)
        d = self._node(label, "decision")
        self._connect(pending, d)
        yes, no = ("no", "yes") if negated else ("yes", "no")
        out = self.block(st.body, [(d, yes)])
        out += self.block(st.orelse, [(d, no)]) if st.orelse else [(d, no)]
        return out

    def _while(self, st: ast.While, pending: list) -> list:
        label, negated = self._decision(st.test)
        d = self._node(label, "decision")
        self._connect(pending, d)
        yes, no = ("no", "yes") if negated else ("yes", "no")
        self.breaks.append([])
        body_end = self.block(st.body, [(d, yes)])
        self._connect(body_end, d)
        return [(d, no)] + self.breaks.pop()

    def _return(self, st: ast.Return, pending: list) -> None:
        v = st.value
        fields = _constructor(v)
        if fields:
            n = self._node(fields)
            self._connect(pending, n)
            pending = [(n, "")]
            self._connect(pending, self._terminal("return"))
            return
        # `return ops.cond(x)` / `return not ops.cond(x)`: the decision, then True or False
        if isinstance(v, (ast.Call, ast.UnaryOp)) and "ops.cond" in ast.unparse(v):
            label, negated = self._decision(v)
            d = self._node(label, "decision")
            self._connect(pending, d)
            self.g.edge(d, self._terminal("return True"), "no" if negated else "yes")
            self.g.edge(d, self._terminal("return False"), "yes" if negated else "no")
            return
        text = "return" if v is None else f"return {expr(v) if not isinstance(v, ast.Tuple) else ', '.join(expr(e) for e in v.elts)}"
        self._connect(pending, self._terminal(text))


def function_ast(fn) -> ast.FunctionDef:
    return ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0]


def loop_test(runner) -> str:
    """The label of the first loop or branch test of a runner function
    (`inflate`: `inflate_continues(...)`, whose own return is drawn; `deflate`: `while b.pages`)."""
    for node in ast.walk(function_ast(runner)):
        if isinstance(node, (ast.If, ast.While)):
            test = node.test
            inner = test.args[0] if isinstance(test, ast.Call) and ast.unparse(test.func) == "ops.cond" else test
            if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and hasattr(A, inner.func.id):
                body = function_ast(getattr(A, inner.func.id)).body
                return expr(body[-1].value) + "?"
            label = expr(inner)
            return label + (" not empty?" if isinstance(inner, ast.Attribute) and inner.attr in _LISTS else "?")
    raise ValueError(f"{runner.__name__} has no loop test")


def add_flow(g: Graph, fn, title: str | None = None, returns: dict | None = None, entry_label: str | None = None):
    """Draw `fn` (a function of model/algorithm.py) as a cluster of `g`.

    `returns` maps a terminal's text ("return True", "return") to an existing
    node (or "entry", this function's own entry): the loop runner's next step. Returns (entry node id, cluster id)."""
    tree = function_ast(fn)
    cid = g.cluster(f"c_{fn.__name__}", title or f"{fn.__name__} (model/algorithm.py)")
    b = _Builder(g, cid, returns or {})
    entry = b.entry = g.node(entry_label or fn.__name__, "call", cid, id=fn.__name__)
    end = b.block(tree.body, [(entry, "")])
    if end:  # the function's last statement falls off the end
        b._connect(end, b._terminal("return"))
    return entry
