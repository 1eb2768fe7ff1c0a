"""Safe expressions for declarative rules: a whitelisted AST, compiled for one context or a whole frame.

A rule's condition and parameters may be written as text::

    "cpu_usage > 80 and error_rate < 0.05"
    "anomaly_score > 0.95 and load_level == 'critical'"
    "ceil(request_rate / 400)"

:func:`parse_expression` parses the text with :func:`ast.parse` and checks every node against a
whitelist: comparisons, ``and``/``or``/``not``, ``+ - * / // % **``, unary minus, names from the
context schema, numbers, strings and ``True``/``False``, and calls of ``ceil``, ``floor``,
``round``, ``abs``, ``min``, ``max`` and ``sqrt``. Anything else (attribute access, subscripts,
other calls, comprehensions, lambdas, conditional expressions, f-strings, dunder names...) raises
:class:`ValueError` with the position of the offending node. The text is capped at
:data:`MAX_LENGTH` characters, :data:`MAX_DEPTH` levels of nesting and :data:`MAX_NODES` nodes; an
exponent must be a number constant of magnitude at most :data:`MAX_EXPONENT`, and strings can only
be compared, so an expression cannot exhaust memory or time.

**Semantics**, identical on both paths:

- a missing key or a None value reads as missing (NaN); a comparison with a missing or NaN operand
  is False, whatever the operator (``!=`` included);
- a division (``/``, ``//``, ``%``) by zero raises :class:`ZeroDivisionError`: the rule does not
  fire and the engine counts a rule error;
- ``ceil``, ``floor``, ``round``, ``min``, ``max``, ``abs`` and ``sqrt`` of NaN are NaN (``min`` and
  ``max`` propagate it), and an overflowing power is infinite;
- a parameter whose value is NaN or infinite is an error (the rule does not fire).

**Two compiled forms.** For :meth:`Expression.__call__` the checked tree is rewritten (names become
context look-ups, comparisons get their missing-value guards) and compiled to Python bytecode; the
builtin :func:`eval` is never called on the text, and no builtins are reachable. For
:meth:`Expression.evaluate_columns` the same tree is evaluated with NumPy over whole columns, with
a mask of the rows whose evaluation failed.
"""

from __future__ import annotations

import ast
import math
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from autoopt.core._expr_columns import _runtime_integral, _Vector
from autoopt.core._expr_ops import (
    _BIN,
    _CMP,
    _INT_FUNCTIONS,
    _MAX_INT,
    _WHY,
    FUNCTIONS,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_LENGTH,
    MAX_NODES,
    Kind,
    _is_true,
    _num,
    _pow,
)

__all__ = [
    "ParameterMap",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_LENGTH",
    "MAX_NODES",
    "FUNCTIONS",
    "Expression",
    "compile_first_match",
    "parse_expression",
]


def _error(source: str, node: ast.AST | None, message: str, what: str) -> ValueError:
    col = getattr(node, "col_offset", None)
    where = "" if col is None else f" at position {col + 1}"
    pointer = "" if col is None else f"\n    {source}\n    {' ' * col}^"
    return ValueError(f"{what} {source!r}: {message}{where}.{pointer}")


@dataclass(frozen=True)
class _Checked:
    """A checked node: its kind, whether it is int-valued, and the names it reads."""

    kind: Kind
    integral: bool


class _Checker:
    """Walks a parsed tree, enforcing the whitelist, the caps and the kinds; records the names read."""

    def __init__(self, source: str, kinds: Mapping[str, Kind] | None, what: str) -> None:
        self.source = source
        self.kinds = kinds
        self.what = what
        self.names: set[str] = set()
        self.nodes = 0

    def fail(self, node: ast.AST | None, message: str) -> ValueError:
        return _error(self.source, node, message, self.what)

    def check(self, node: ast.AST, depth: int = 0) -> _Checked:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail(node, f"more than {MAX_NODES} syntax nodes")
        if depth > MAX_DEPTH:
            raise self.fail(node, f"nested more than {MAX_DEPTH} levels deep")
        d = depth + 1
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool):
                return _Checked("bool", False)
            if isinstance(v, int):
                if abs(v) >= _MAX_INT:
                    raise self.fail(node, f"the integer {v} is beyond +-1e15")
                return _Checked("number", True)
            if isinstance(v, float):
                if not math.isfinite(v):
                    raise self.fail(node, "a number constant must be finite")
                return _Checked("number", False)
            if isinstance(v, str):
                return _Checked("string", False)
            raise self.fail(node, f"constants of type {type(v).__name__} are not allowed")
        if isinstance(node, ast.Name):
            name = node.id
            if name.startswith("__") or name.endswith("__"):
                raise self.fail(node, f"dunder name {name!r} is not allowed")
            if name in FUNCTIONS:
                raise self.fail(node, f"{name!r} is a function; call it, as {name}(...)")
            if self.kinds is not None and name not in self.kinds:
                raise self.fail(node, f"unknown name {name!r}; the context has {sorted(self.kinds)}")
            self.names.add(name)
            kind = "any" if self.kinds is None else self.kinds[name]
            return _Checked(kind, False)
        if isinstance(node, ast.BoolOp):
            for value in node.values:
                if self.check(value, d).kind not in ("bool", "any"):
                    raise self.fail(value, "'and' and 'or' take comparisons or true/false values")
            return _Checked("bool", False)
        if isinstance(node, ast.UnaryOp):
            inner = self.check(node.operand, d)
            if isinstance(node.op, ast.Not):
                if inner.kind not in ("bool", "any"):
                    raise self.fail(node, "'not' takes a comparison or a true/false value")
                return _Checked("bool", False)
            if isinstance(node.op, (ast.USub, ast.UAdd)):
                if inner.kind not in ("number", "any"):
                    raise self.fail(node, "unary minus and plus take numbers")
                return _Checked("number", inner.integral)
            raise self.fail(node, f"the operator {type(node.op).__name__} is not allowed")
        if isinstance(node, ast.BinOp):
            op = type(node.op)
            if op not in _BIN:
                raise self.fail(node, f"the operator {op.__name__} is not allowed")
            left, right = self.check(node.left, d), self.check(node.right, d)
            if left.kind not in ("number", "any") or right.kind not in ("number", "any"):
                raise self.fail(node, f"'{_BIN[op]}' takes numbers (strings can only be compared)")
            if op is ast.Pow:
                e = node.right
                if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub):
                    e = e.operand
                if not (isinstance(e, ast.Constant) and isinstance(e.value, (int, float))):
                    raise self.fail(node.right, "an exponent must be a number constant")
                if abs(e.value) > MAX_EXPONENT:
                    raise self.fail(node.right, f"an exponent's magnitude must be at most {MAX_EXPONENT}")
                return _Checked("number", False)
            return _Checked("number", left.integral and right.integral and op is not ast.Div)
        if isinstance(node, ast.Compare):
            kinds = [self.check(node.left, d)] + [self.check(c, d) for c in node.comparators]
            for cmp, a, b in zip(node.ops, kinds, kinds[1:], strict=False):
                if type(cmp) not in _CMP:
                    raise self.fail(node, f"the comparison {type(cmp).__name__} is not allowed")
                if a.kind != b.kind and "any" not in (a.kind, b.kind):
                    raise self.fail(node, f"cannot compare a {a.kind} with a {b.kind}")
                if ("string" in (a.kind, b.kind) or a.kind == b.kind == "bool") and type(cmp) not in (
                    ast.Eq,
                    ast.NotEq,
                ):
                    raise self.fail(
                        node,
                        f"{a.kind if a.kind != 'any' else b.kind}s can only be compared with == and !=",
                    )
            return _Checked("bool", False)
        if isinstance(node, ast.Call):
            func = node.func
            if not isinstance(func, ast.Name) or func.id not in FUNCTIONS:
                shown = func.id if isinstance(func, ast.Name) else ast.unparse(func)
                raise self.fail(
                    node, f"calling {shown!r} is not allowed; the functions are {sorted(FUNCTIONS)}"
                )
            if node.keywords:
                raise self.fail(node.keywords[0].value, "keyword arguments are not allowed")
            _, _, lo, hi = FUNCTIONS[func.id]
            if not lo <= len(node.args) <= hi:
                raise self.fail(node, f"{func.id}() takes {lo}{'' if lo == hi else f' to {hi}'} arguments")
            args = [self.check(a, d) for a in node.args]
            for a, arg in zip(args, node.args, strict=True):
                if a.kind not in ("number", "any"):
                    raise self.fail(arg, f"{func.id}() takes numbers")
            integral = func.id in _INT_FUNCTIONS or (
                func.id in ("abs", "min", "max") and all(a.integral for a in args)
            )
            return _Checked("number", integral)
        why = _WHY.get(type(node), f"{type(node).__name__} expressions")
        raise self.fail(node, f"{why} are not allowed")


# ------------------------------------------------------------------------------- scalar compile


class _Rewriter:
    """Builds the bytecode form: look-ups on the context ``c``, guarded comparisons, helper calls."""

    def __init__(self, *, hoist: bool = False) -> None:
        self.temps = 0
        self.hoist = hoist  # read each name once, up front, into a local (see compile_first_match)
        self.hoisted: dict[str, str] = {}

    def temp(self) -> str:
        self.temps += 1
        return f"_t{self.temps}"

    def lookup(self, name: str) -> ast.expr:
        if not self.hoist:
            return _lookup(name)
        local = self.hoisted.setdefault(name, f"_v{len(self.hoisted)}")
        return ast.Name(local, ast.Load())

    def value(self, node: ast.AST) -> ast.expr:
        """An expression computing ``node`` with missing values as NaN."""
        if isinstance(node, ast.Constant):
            return ast.Constant(node.value)
        if isinstance(node, ast.Name):  # _num(c.get("name"))
            return ast.Call(ast.Name("_num", ast.Load()), [self.lookup(node.id)], [])
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                return ast.UnaryOp(ast.Not(), self.truth(node.operand))
            return ast.UnaryOp(type(node.op)(), self.value(node.operand))
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Pow):
                return ast.Call(
                    ast.Name("_pow", ast.Load()), [self.value(node.left), self.value(node.right)], []
                )
            return ast.BinOp(self.value(node.left), type(node.op)(), self.value(node.right))
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            return ast.Call(
                ast.Name(f"_f_{node.func.id}", ast.Load()), [self.value(a) for a in node.args], []
            )
        return self.truth(node)

    def truth(self, node: ast.AST) -> ast.expr:
        """An expression that is True or False: comparisons with the missing-value guard."""
        if isinstance(node, ast.BoolOp):
            return ast.BoolOp(type(node.op)(), [self.truth(v) for v in node.values])
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return ast.UnaryOp(ast.Not(), self.truth(node.operand))
        if isinstance(node, ast.Compare):
            parts: list[ast.expr] = []
            operands = [node.left, *node.comparators]
            names: list[ast.expr] = []
            for operand in operands:
                if isinstance(operand, ast.Constant):
                    names.append(ast.Constant(operand.value))
                    continue
                t = self.temp()
                raw = self.lookup(operand.id) if isinstance(operand, ast.Name) else self.value(operand)
                parts.append(
                    ast.Compare(
                        ast.NamedExpr(ast.Name(t, ast.Store()), raw), [ast.IsNot()], [ast.Constant(None)]
                    )
                )
                parts.append(
                    ast.Compare(ast.Name(t, ast.Load()), [ast.Eq()], [ast.Name(t, ast.Load())])
                )  # not NaN
                names.append(ast.Name(t, ast.Load()))
            for op, a, b in zip(node.ops, names, names[1:], strict=False):
                parts.append(ast.Compare(a, [type(op)()], [b]))
            return parts[0] if len(parts) == 1 else ast.BoolOp(ast.And(), parts)
        if isinstance(node, ast.Constant):
            return ast.Constant(bool(node.value))
        if isinstance(node, ast.Name):  # a bool key: True only when it is exactly true
            return ast.Call(ast.Name("_is_true", ast.Load()), [self.lookup(node.id)], [])
        raise AssertionError(f"not a truth value: {ast.dump(node)}")  # the checker rules this out


def _lookup(name: str) -> ast.expr:
    return ast.Call(ast.Attribute(ast.Name("c", ast.Load()), "get", ast.Load()), [ast.Constant(name)], [])


_HELPERS: dict[str, Any] = {
    "__builtins__": {},
    "_num": _num,
    "_pow": _pow,
    "_is_true": _is_true,
    **{f"_f_{name}": spec[0] for name, spec in FUNCTIONS.items()},
}


def _function(body: ast.expr, filename: str) -> Callable[[Mapping[str, Any]], Any]:
    """``lambda c: <body>`` as a function, compiled from the checked tree (no text is evaluated)."""
    tree = ast.Expression(
        ast.Lambda(
            ast.arguments(posonlyargs=[], args=[ast.arg("c")], kwonlyargs=[], kw_defaults=[], defaults=[]),
            body,
        )
    )
    ast.fix_missing_locations(tree)
    code = compile(tree, filename, "eval")
    make = types.FunctionType(code, dict(_HELPERS))  # evaluating the outer code only builds the lambda
    fn: Callable[[Mapping[str, Any]], Any] = make()
    return fn


# ------------------------------------------------------------------------------------- public


@dataclass(frozen=True, eq=False)
class Expression:
    """A checked, compiled safe expression (see the module docstring).

    Attributes
    ----------
    source : str
        The text, as given.
    kind : str
        ``"bool"``, ``"number"`` or ``"string"``.
    integral : bool
        Whether it always gives an int (``ceil(...)``, int constants and their sums).
    names : frozenset of str
        The context keys it reads.

    Examples
    --------
    >>> e = parse_expression("cpu_usage > 80 and error_rate < 0.05")
    >>> e({"cpu_usage": 90, "error_rate": 0.01}), e({"cpu_usage": None, "error_rate": 0.01})
    (True, False)
    >>> sorted(e.names)
    ['cpu_usage', 'error_rate']
    >>> parse_expression("ceil(request_rate / 400)")({"request_rate": 900.0})
    3
    >>> parse_expression("__import__('os')")
    Traceback (most recent call last):
    ...
    ValueError: expression "__import__('os')": calling '__import__' is not allowed; the functions are ['abs', 'ceil', 'floor', 'max', 'min', 'round', 'sqrt'] at position 1.
        __import__('os')
        ^
    """

    source: str
    kind: Kind
    integral: bool
    names: frozenset[str]
    tree: ast.expr
    fn: Callable[[Mapping[str, Any]], Any]

    def __call__(self, context: Mapping[str, Any]) -> Any:
        """The value for one context (a dict-like with ``get``)."""
        return self.fn(context)

    def evaluate_columns(self, columns: Mapping[str, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
        """``(values, errors)`` over ``n`` rows, one NumPy column per name; ``errors`` marks the rows
        whose evaluation raised on the scalar path (a division by zero)."""
        vec = _Vector(columns, n)
        values, errors = vec.truth(self.tree) if self.kind == "bool" else vec.value(self.tree)
        if np.ndim(values) == 0:  # a constant: one value per row
            values = np.full(n, values.item(), dtype=values.dtype if values.dtype != object else object)
        return values, errors

    def integral_over(self, columns: Mapping[str, np.ndarray]) -> bool:
        """Whether the scalar path gives an int on rows of these columns (ints stay ints, as in Python)."""
        return _runtime_integral(self.tree, columns)

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"

    def to_dict(self) -> str:
        """The expression's text (what :func:`autoopt.models.jsonable` and ``to_dict()`` record)."""
        return self.source


class ParameterMap:
    """Declarative parameters: a dict whose str values are expressions and whose other values are constants.

    Calling it with a context gives the parameters dict. A numeric value that is NaN or infinite
    (a missing input, say) raises :class:`ValueError`, so the rule does not fire and the engine
    counts a rule error, as for a division by zero.

    Examples
    --------
    >>> params = ParameterMap({"instances": "ceil(request_rate / 400)", "zone": "'a'", "dry_run": False})
    >>> params({"request_rate": 900.0})
    {'instances': 3, 'zone': 'a', 'dry_run': False}
    """

    __slots__ = ("expressions", "spec")

    def __init__(
        self, spec: Mapping[str, Any], kinds: Mapping[str, Kind] | None = None, *, what: str = "parameters"
    ) -> None:
        if not isinstance(spec, Mapping):
            raise TypeError(
                f"{what} must be a dict of name -> expression or constant; got {type(spec).__name__}."
            )
        self.spec: dict[str, Any] = {}
        self.expressions: dict[str, Expression] = {}
        for key, value in spec.items():
            if not isinstance(key, str) or not key.isidentifier():
                raise ValueError(f"{what} has an invalid name {key!r}; names must be identifiers.")
            if isinstance(value, str):
                self.expressions[key] = parse_expression(value, kinds, what=f"{what}[{key!r}]")
            elif value is not None and not isinstance(value, (bool, int, float)):
                raise TypeError(
                    f"{what}[{key!r}] must be an expression (a str) or a number, bool or None; "
                    f"got {type(value).__name__}."
                )
            elif isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{what}[{key!r}] must be finite; got {value!r}.")
            self.spec[key] = value

    @property
    def names(self) -> frozenset[str]:
        """The context keys the expressions read."""
        return frozenset().union(*(e.names for e in self.expressions.values()))

    def __call__(self, context: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(self.spec)
        for key, expr in self.expressions.items():
            value = expr(context)
            if isinstance(value, float) and value - value != 0.0:
                raise ValueError(
                    f"parameter {key!r} = {expr.source} is {value!r} (a missing or infinite input)"
                )
            out[key] = value
        return out

    def to_dict(self) -> dict[str, Any]:
        """The spec as given: expressions as their text."""
        return dict(self.spec)

    def __repr__(self) -> str:
        return f"ParameterMap({self.spec!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ParameterMap) and other.spec == self.spec

    __hash__ = None  # type: ignore[assignment]


def parse_expression(
    source: str,
    kinds: Mapping[str, Kind] | None = None,
    *,
    what: str = "expression",
    expect: Kind | None = None,
) -> Expression:
    """Check and compile ``source`` (see the module docstring).

    Parameters
    ----------
    source : str
        The expression text.
    kinds : mapping of str to str, optional
        The names the expression may read, with their kinds (``"number"``, ``"string"``,
        ``"bool"``); any name, read as a number, when None.
    what : str
        How error messages name the expression (``"condition of rule 'r'"``).
    expect : str, optional
        The kind the expression must have (a condition must be ``"bool"``).

    Raises
    ------
    TypeError
        If ``source`` is not a str.
    ValueError
        If it is malformed, unsafe, over a cap, names an unknown key or has the wrong kind; the
        message gives the position of the problem.
    """
    if not isinstance(source, str):
        raise TypeError(f"{what} must be a str; got {type(source).__name__}.")
    if len(source) > MAX_LENGTH:
        raise ValueError(f"{what} is {len(source)} characters long; at most {MAX_LENGTH} are allowed.")
    if not source.strip():
        raise ValueError(f"{what} is empty.")
    try:
        parsed = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise _error(
            source, None, f"not a valid expression ({exc.msg}) at position {exc.offset}", what
        ) from None
    except (RecursionError, MemoryError, ValueError):
        raise ValueError(f"{what} {source!r}: too deeply nested to parse.") from None
    text = source.strip()
    checker = _Checker(text, kinds, what)
    try:
        checked = checker.check(parsed.body)
    except RecursionError:
        raise ValueError(f"{what} {source!r}: nested more than {MAX_DEPTH} levels deep.") from None
    if expect is not None and checked.kind not in (expect, "any"):
        raise _error(text, parsed.body, f"it gives a {checked.kind}, but a {expect} is needed", what)
    kind = expect if checked.kind == "any" and expect is not None else checked.kind
    rewriter = _Rewriter()
    body = rewriter.truth(parsed.body) if kind == "bool" else rewriter.value(parsed.body)
    fn = _function(body, f"<{what}>")
    return Expression(text, kind, checked.integral, frozenset(checker.names), parsed.body, fn)


def compile_first_match(conditions: list[Expression], *, blocking: bool = True) -> Callable[..., int]:
    """One function for many conditions: the index of the first that holds.

    With ``blocking``, ``first(c, blocked)`` skips the indexes in the set ``blocked``; without,
    ``first(c)`` tries them all. The conditions are evaluated in order, short-circuiting like an
    ``if``/``elif`` chain, and ``-1`` means none holds. A condition that raises propagates; the
    caller then runs the conditions one by one to attribute the error to its rule.

    Examples
    --------
    >>> first = compile_first_match([parse_expression("x > 5"), parse_expression("x > 1")])
    >>> first({"x": 3}, frozenset()), first({"x": 3}, frozenset({1})), first({"x": 9}, frozenset({0}))
    (1, -1, 1)
    """
    rewriter = _Rewriter(hoist=True)
    body: ast.expr = ast.Constant(-1)
    for i in reversed(range(len(conditions))):
        test = rewriter.truth(conditions[i].tree)
        if blocking:
            skip = ast.Compare(ast.Constant(i), [ast.NotIn()], [ast.Name("b", ast.Load())])
            test = ast.BoolOp(ast.And(), [skip, test])
        body = ast.IfExp(test, ast.Constant(i), body)
    if rewriter.hoisted:  # each name read once: (lambda _v0, _v1: <chain>)(c.get("a"), c.get("b"))
        names = list(rewriter.hoisted)
        inner = ast.Lambda(
            ast.arguments(
                posonlyargs=[],
                args=[ast.arg(rewriter.hoisted[n]) for n in names],
                kwonlyargs=[],
                kw_defaults=[],
                defaults=[],
            ),
            body,
        )
        body = ast.Call(inner, [_lookup(n) for n in names], [])
    args = [ast.arg("c"), ast.arg("b")] if blocking else [ast.arg("c")]
    tree = ast.Expression(
        ast.Lambda(ast.arguments(posonlyargs=[], args=args, kwonlyargs=[], kw_defaults=[], defaults=[]), body)
    )
    ast.fix_missing_locations(tree)
    make = types.FunctionType(compile(tree, "<rules>", "eval"), dict(_HELPERS))
    first: Callable[..., int] = make()
    return first
