"""Safe expressions evaluated with NumPy over whole columns, with a mask of the rows whose evaluation failed
(:meth:`autoopt.core.Expression.evaluate_columns`).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from autoopt.core._expr_ops import (
    _INT_FUNCTIONS,
    FUNCTIONS,
    _is_true,
)

# ------------------------------------------------------------------------------ vectorised form


def _column_missing(v: np.ndarray) -> np.ndarray:
    if v.dtype.kind == "f":
        return np.isnan(v)
    if v.dtype.kind in "iub":
        return np.zeros(v.shape, bool)
    import pandas as pd

    return np.asarray(pd.isna(v), dtype=bool)


class _Vector:
    """Evaluates a checked tree over columns: ``(values, error rows)``."""

    def __init__(self, columns: Mapping[str, np.ndarray], n: int) -> None:
        self.columns = columns
        self.n = n
        self.none = np.zeros(n, bool)  # shared, never written

    def column(self, name: str) -> np.ndarray:
        col = self.columns.get(name)
        if col is None:
            return np.full(self.n, np.nan)
        return col

    def missing(self, node: ast.AST, v: np.ndarray) -> np.ndarray:
        """Rows where ``v`` (the value of ``node``) is missing; a column's mask is computed once."""
        if isinstance(node, ast.Name):
            cache = getattr(self.columns, "missing", None)
            if cache is not None:
                got = cache.get(node.id)
                if got is None:
                    got = cache[node.id] = _column_missing(np.asarray(v))
                return got
        return _column_missing(np.asarray(v))

    def value(self, node: ast.AST) -> tuple[np.ndarray, np.ndarray]:
        none = self.none
        if isinstance(node, ast.Constant):  # a 0-d array: NumPy broadcasts it
            return np.asarray(node.value, dtype=object if isinstance(node.value, str) else None), none
        if isinstance(node, ast.Name):
            col = self.column(node.id)
            if col.dtype == object:  # None and NaN read as NaN when the column holds numbers
                miss = self.missing(node, col)
                if not miss.any():
                    return col, none
                numbers = all(
                    isinstance(x, (int, float, np.integer, np.floating))
                    and not isinstance(x, (bool, np.bool_))
                    for x in col[~miss].tolist()
                )
                out = np.where(miss, np.nan, col).astype(float) if numbers else col
                return out, none
            return col, none
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                t, err = self.truth(node.operand)
                return ~t & ~err, err
            v, err = self.value(node.operand)
            return (-v if isinstance(node.op, ast.USub) else +v), err
        if isinstance(node, ast.BinOp):
            a, ea = self.value(node.left)
            b, eb = self.value(node.right)
            err = ea | eb
            op = type(node.op)
            with np.errstate(all="ignore"):
                if op is ast.Add:
                    return a + b, err
                if op is ast.Sub:
                    return a - b, err
                if op is ast.Mult:
                    return a * b, err
                if op is ast.Pow:
                    af = np.asarray(a, dtype=float)
                    return np.power(af, float(np.ravel(b)[0])), err
                zero = np.asarray(b == 0)
                safe = np.where(zero, 1, b)
                out = a / safe if op is ast.Div else a // safe if op is ast.FloorDiv else a % safe
                return out, err | zero
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            parts = [self.value(a) for a in node.args]
            err = self.none
            for _, e in parts:
                if e is not self.none:
                    err = e if err is self.none else err | e
            keep_ints = node.func.id in ("abs", "min", "max")  # as Python: abs/min/max of ints are ints
            args = [
                v if keep_ints and np.asarray(v).dtype.kind in "iuf" else np.asarray(v, dtype=float)
                for v, _ in parts
            ]
            with np.errstate(all="ignore"):
                out = FUNCTIONS[node.func.id][1](*args)
            return out, err
        return self.truth(node)

    def truth(self, node: ast.AST) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(node, ast.BoolOp):
            parts = [self.truth(v) for v in node.values]
            return self._bool_op(isinstance(node.op, ast.And), parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            t, err = self.truth(node.operand)
            return ~t & ~err, err  # an error row stays False, as for comparisons
        if isinstance(node, ast.Compare):
            fast = self._text_compare(node)
            if fast is not None:
                return fast
            operands = [self.value(o) for o in [node.left, *node.comparators]]
            reach = np.ones(self.n, bool)  # rows whose earlier operands were all present (as the guards run)
            err = np.zeros(self.n, bool)
            for node_, (v, e) in zip([node.left, *node.comparators], operands, strict=True):
                if e is not self.none:
                    err |= reach & e
                    reach &= ~e
                if not isinstance(node_, ast.Constant):
                    reach &= ~self.missing(node_, v)
            result = reach
            for op, (a, _), (b, _) in zip(node.ops, operands, operands[1:], strict=False):
                with np.errstate(invalid="ignore"):
                    result &= np.asarray(_COMPARE[type(op)](a, b), dtype=bool)
            return result, err
        if isinstance(node, ast.Constant):
            return np.full(self.n, bool(node.value)), np.zeros(self.n, bool)
        if isinstance(node, ast.Name):
            col = self.column(node.id)
            truth = col.copy() if col.dtype == bool else np.fromiter((_is_true(v) for v in col), bool, self.n)
            return truth, np.zeros(self.n, bool)
        raise AssertionError(f"not a truth value: {ast.dump(node)}")

    def _text_compare(self, node: ast.Compare) -> tuple[np.ndarray, np.ndarray] | None:
        """``name == 'text'`` on an object column: one elementwise compare, no missing mask needed
        (a None or NaN is unequal to any text, as on the scalar path). None where it does not apply."""
        if len(node.ops) != 1 or not isinstance(node.ops[0], ast.Eq):
            return None
        left, right = node.left, node.comparators[0]
        if isinstance(left, ast.Constant):
            left, right = right, left
        if not (
            isinstance(left, ast.Name) and isinstance(right, ast.Constant) and isinstance(right.value, str)
        ):
            return None
        col = self.columns.get(left.id)
        if col is None or col.dtype != object:
            return None
        try:  # pd.NA (a StringDtype's missing value) has no truth value: the general path handles it
            hit = np.asarray(col == right.value, dtype=bool)
        except (TypeError, ValueError):
            return None
        return (hit, self.none) if hit.shape == (self.n,) else None

    def _bool_op(
        self, conj: bool, parts: list[tuple[np.ndarray, np.ndarray]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Short-circuit semantics: a later operand's error counts only on rows that evaluate it."""
        value, err = parts[0][0].copy(), parts[0][1].copy()
        for v, e in parts[1:]:
            reach = value if conj else ~value
            reach &= ~err  # Python stops at the first error too
            err |= reach & e
            value = np.where(reach, v, value)
        value &= ~err
        return value, err


def _runtime_integral(node: ast.AST, columns: Mapping[str, np.ndarray]) -> bool:
    """Python's int-ness of a number expression, given the columns' dtypes (int columns give ints)."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, int) and not isinstance(node.value, bool)
    if isinstance(node, ast.Name):
        col = columns.get(node.id)
        return col is not None and np.asarray(col).dtype.kind in "iu"
    if isinstance(node, ast.UnaryOp):
        return not isinstance(node.op, ast.Not) and _runtime_integral(node.operand, columns)
    if isinstance(node, ast.BinOp):
        return isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod)) and (
            _runtime_integral(node.left, columns) and _runtime_integral(node.right, columns)
        )
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id in _INT_FUNCTIONS:
            return True
        return node.func.id in ("abs", "min", "max") and all(_runtime_integral(a, columns) for a in node.args)
    return False


_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
}
