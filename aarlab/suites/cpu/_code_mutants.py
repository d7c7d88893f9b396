"""Candidate implementations for the ``code`` dataset: AST edits of a HumanEval canonical solution.

Two kinds of edit, each applied at one randomly chosen site of the function body:

* **mutations** (meant to break the function): operator swaps (``+``/``-``, ``*``/``//``, ``and``/``or``),
  comparison flips (``<``/``<=``, ``==``/``!=``, ...), off-by-one integer constants, a dropped statement, swapped
  ``if``/``else`` branches, a negated ``if`` condition;
* **rewrites** (meant to keep the behaviour): mirrored comparisons (``a < b`` -> ``b > a``), ``if c: A else: B``
  -> ``if not c: B else: A``, ``x += y`` -> ``x = x + y``, renamed local variables.

Whether a candidate passes is *not* decided here: the build executes every candidate against the problem's tests
(``_code_exec``). Every candidate, the canonical one included, is printed by :func:`ast.unparse`, so formatting
never tells an edited body from the original; and the rewrites give passing candidates edits too, so "was it
edited" does not tell the label either.
"""

from __future__ import annotations

import ast
import copy
import random
from collections.abc import Callable
from dataclasses import dataclass

BINOP_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult, ast.Div: ast.Mult,
    ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult,
}
COMPARE_FLIPS: dict[type[ast.cmpop], list[type[ast.cmpop]]] = {
    ast.Lt: [ast.LtE, ast.Gt], ast.LtE: [ast.Lt, ast.GtE], ast.Gt: [ast.GtE, ast.Lt], ast.GtE: [ast.Gt, ast.LtE],
    ast.Eq: [ast.NotEq], ast.NotEq: [ast.Eq], ast.In: [ast.NotIn], ast.NotIn: [ast.In], ast.Is: [ast.IsNot],
    ast.IsNot: [ast.Is],
}
MIRRORED: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.Gt, ast.Gt: ast.Lt, ast.LtE: ast.GtE, ast.GtE: ast.LtE, ast.Eq: ast.Eq, ast.NotEq: ast.NotEq,
}
#: Names a renamed local variable may take (never one the function already uses).
FRESH_NAMES = ("value", "item", "result", "current", "total", "index", "acc", "temp", "elem", "count_", "idx", "val")


class NoSite(Exception):
    """The edit has no place to apply in this function."""


@dataclass(frozen=True)
class Candidate:
    """One implementation of a problem: the function body as source (indented as in the prompt) and its edits."""

    body: str
    edits: tuple[str, ...]
    mutated: bool


def _nodes(body: list[ast.stmt], kind: type[ast.AST] | tuple[type[ast.AST], ...]) -> list[ast.AST]:
    return [n for stmt in body for n in ast.walk(stmt) if isinstance(n, kind)]


def _blocks(body: list[ast.stmt]) -> list[list[ast.stmt]]:
    """Every statement list of the body (the body itself and nested blocks)."""
    found = [body]
    for stmt in body:
        for node in ast.walk(stmt):
            for name in ("body", "orelse", "finalbody"):
                block = getattr(node, name, None)
                if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                    found.append(block)
    return found


# -- mutations ------------------------------------------------------------------------------------------------
def _swap_binop(body: list[ast.stmt], rng: random.Random) -> str:
    sites = [n for n in _nodes(body, (ast.BinOp, ast.AugAssign)) if type(n.op) in BINOP_SWAPS]  # type: ignore[attr-defined]
    if not sites:
        raise NoSite
    node = rng.choice(sites)
    node.op = BINOP_SWAPS[type(node.op)]()  # type: ignore[attr-defined]
    return "binop"


def _flip_compare(body: list[ast.stmt], rng: random.Random) -> str:
    sites = [(n, i) for n in _nodes(body, ast.Compare) for i, op in enumerate(n.ops)  # type: ignore[attr-defined]
             if type(op) in COMPARE_FLIPS]
    if not sites:
        raise NoSite
    node, i = rng.choice(sites)
    node.ops[i] = rng.choice(COMPARE_FLIPS[type(node.ops[i])])()  # type: ignore[attr-defined]
    return "compare"


def _swap_boolop(body: list[ast.stmt], rng: random.Random) -> str:
    sites = _nodes(body, ast.BoolOp)
    if not sites:
        raise NoSite
    node = rng.choice(sites)
    node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()  # type: ignore[attr-defined]
    return "boolop"


def _off_by_one(body: list[ast.stmt], rng: random.Random) -> str:
    sites = [n for n in _nodes(body, ast.Constant)
             if isinstance(n.value, int) and not isinstance(n.value, bool)]  # type: ignore[attr-defined]
    if not sites:
        raise NoSite
    node = rng.choice(sites)
    node.value += rng.choice([-1, 1])  # type: ignore[attr-defined]
    return "constant"


def _drop_statement(body: list[ast.stmt], rng: random.Random) -> str:
    blocks = [b for b in _blocks(body) if len(b) > 1]
    if not blocks:
        raise NoSite
    block = rng.choice(blocks)
    del block[rng.randrange(len(block))]
    return "drop"


def _swap_branches(body: list[ast.stmt], rng: random.Random) -> str:
    sites = [n for n in _nodes(body, ast.If) if n.orelse]  # type: ignore[attr-defined]
    if not sites:
        raise NoSite
    node = rng.choice(sites)
    node.body, node.orelse = node.orelse, node.body  # type: ignore[attr-defined]
    return "branches"


def _negate_if(body: list[ast.stmt], rng: random.Random) -> str:
    sites = _nodes(body, (ast.If, ast.While, ast.IfExp))
    if not sites:
        raise NoSite
    node = rng.choice(sites)
    node.test = ast.UnaryOp(op=ast.Not(), operand=node.test)  # type: ignore[attr-defined]
    return "negate"


MUTATIONS: tuple[Callable[[list[ast.stmt], random.Random], str], ...] = (
    _swap_binop, _flip_compare, _swap_boolop, _off_by_one, _drop_statement, _swap_branches, _negate_if)


# -- rewrites (behaviour-preserving by intent; execution decides) -------------------------------------------------
def _mirror_compare(body: list[ast.stmt], rng: random.Random) -> str:
    sites = [n for n in _nodes(body, ast.Compare)
             if len(n.ops) == 1 and type(n.ops[0]) in MIRRORED]  # type: ignore[attr-defined]
    if not sites:
        raise NoSite
    node = rng.choice(sites)
    node.left, node.comparators = node.comparators[0], [node.left]  # type: ignore[attr-defined]
    node.ops = [MIRRORED[type(node.ops[0])]()]  # type: ignore[attr-defined]
    return "mirror"


def _invert_if(body: list[ast.stmt], rng: random.Random) -> str:
    sites = [n for n in _nodes(body, ast.If) if n.orelse]  # type: ignore[attr-defined]
    if not sites:
        raise NoSite
    node = rng.choice(sites)
    node.test = ast.UnaryOp(op=ast.Not(), operand=node.test)  # type: ignore[attr-defined]
    node.body, node.orelse = node.orelse, node.body  # type: ignore[attr-defined]
    return "invert_if"


def _expand_augassign(body: list[ast.stmt], rng: random.Random) -> str:
    sites = [n for n in _nodes(body, ast.AugAssign) if isinstance(n.target, ast.Name)]  # type: ignore[attr-defined]
    if not sites:
        raise NoSite
    node = rng.choice(sites)
    target = node.target  # type: ignore[attr-defined]
    replacement = ast.Assign(targets=[ast.Name(target.id, ast.Store())],
                             value=ast.BinOp(ast.Name(target.id, ast.Load()), node.op, node.value))  # type: ignore[attr-defined]
    for block in _blocks(body):
        for i, stmt in enumerate(block):
            if stmt is node:
                block[i] = replacement
                return "expand"
    raise NoSite


def _rename_local(body: list[ast.stmt], rng: random.Random, params: set[str]) -> str:
    stored = {n.id for n in _nodes(body, ast.Name) if isinstance(n.ctx, ast.Store)}  # type: ignore[attr-defined]
    used = {n.id for n in _nodes(body, ast.Name)} | params  # type: ignore[attr-defined]
    used |= {a.arg for n in _nodes(body, ast.arg) for a in [n]}  # type: ignore[attr-defined]
    defined = {n.name for n in _nodes(body, (ast.FunctionDef, ast.ClassDef))}  # type: ignore[attr-defined]
    sites = sorted(stored - params - defined)
    fresh = [name for name in FRESH_NAMES if name not in used]
    if not sites or not fresh:
        raise NoSite
    old, new = rng.choice(sites), rng.choice(fresh)
    for node in _nodes(body, ast.Name):
        if node.id == old:  # type: ignore[attr-defined]
            node.id = new  # type: ignore[attr-defined]
    return "rename"


# -- candidates ---------------------------------------------------------------------------------------------------
def function_body(source: str, entry_point: str) -> tuple[list[ast.stmt], set[str]]:
    """The statements of ``entry_point``'s body without its docstring, and its parameter names."""
    module = ast.parse(source)
    functions = [n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == entry_point]
    if not functions:
        raise ValueError(f"no top-level function {entry_point!r} in the problem's source")
    fn = functions[-1]
    body = list(fn.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):  # type: ignore[attr-defined]
        body = body[1:]
    if not body:
        raise ValueError(f"function {entry_point!r} has an empty body")
    params = {a.arg for a in [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]}
    params |= {a.arg for a in (fn.args.vararg, fn.args.kwarg) if a is not None}
    return body, params


def render_body(body: list[ast.stmt]) -> str:
    """Source of a function body, indented by four spaces (it continues a HumanEval prompt)."""
    text = ast.unparse(ast.Module(body=body, type_ignores=[]))
    return "".join(f"    {line}\n" if line else "\n" for line in text.splitlines())


def make_candidate(body: list[ast.stmt], params: set[str], rng: random.Random, *, mutate: bool,
                   rewrites: int) -> Candidate | None:
    """A copy of ``body`` with ``rewrites`` rewrites and, if ``mutate``, one mutation (in random order); None when
    no edit of the kinds drawn applies."""
    tree = copy.deepcopy(body)
    rewrite_fns: list[Callable[[list[ast.stmt], random.Random], str]] = [
        _mirror_compare, _invert_if, _expand_augassign, lambda b, r: _rename_local(b, r, params)]
    plan: list[Callable[[list[ast.stmt], random.Random], str]] = [rng.choice(rewrite_fns) for _ in range(rewrites)]
    if mutate:
        plan.insert(rng.randrange(len(plan) + 1), rng.choice(MUTATIONS))
    edits = []
    for edit in plan:
        try:
            edits.append(edit(tree, rng))
        except NoSite:
            if edit in MUTATIONS:
                return None
    for node in ast.walk(ast.Module(body=tree, type_ignores=[])):
        ast.fix_missing_locations(node)
    try:
        text = render_body(tree)
    except (ValueError, AttributeError, RecursionError):
        return None
    return Candidate(body=text, edits=tuple(edits), mutated=mutate)
