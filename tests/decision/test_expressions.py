"""The safe expression language: what it refuses, and what it computes on both compiled paths.

The semantics are checked against a small, independent reference evaluator written here over
Python's :mod:`ast` (missing or None -> NaN, a comparison with a missing operand is False, division
by zero raises, min/max propagate NaN), on random expressions from a small grammar.
"""

from __future__ import annotations

import ast
import math
import operator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoopt.core._expr import (
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_LENGTH,
    MAX_NODES,
    Expression,
    ParameterMap,
    compile_first_match,
    parse_expression,
)

KINDS = {"x": "number", "y": "number", "z": "number", "s": "string"}
NUMBER_NAMES = ("x", "y", "z")

# ----------------------------------------------------------------------------------- rejection

UNSAFE = [
    pytest.param("cpu_usage.real > 1", "attribute access", id="attribute"),
    pytest.param("os.system('x')", "calling 'os.system' is not allowed", id="os.system"),
    pytest.param("eval('1')", "calling 'eval' is not allowed", id="eval"),
    pytest.param("__import__('os')", "calling '__import__' is not allowed", id="__import__"),
    pytest.param("open('f')", "calling 'open' is not allowed", id="open"),
    pytest.param("[a for a in b]", "comprehensions", id="listcomp"),
    pytest.param("{a for a in b}", "comprehensions", id="setcomp"),
    pytest.param("{a: 1 for a in b}", "comprehensions", id="dictcomp"),
    pytest.param("(a for a in b)", "comprehensions", id="genexp"),
    pytest.param("(lambda: 1)", "lambdas", id="lambda"),
    pytest.param("__class__", "dunder name", id="dunder"),
    pytest.param("x[0]", "subscripts", id="subscript"),
    pytest.param("x if y else z", "conditional expressions", id="ifexp"),
    pytest.param("(x := 1)", "assignment expressions", id="walrus"),
    pytest.param("f'{x}'", "f-strings", id="fstring"),
    pytest.param("[1, 2]", "list literals", id="list"),
    pytest.param("(1, 2)", "tuple literals", id="tuple"),
    pytest.param("{1: 2}", "dict literals", id="dict"),
    pytest.param("'a' * 3", "strings can only be compared", id="string-repetition"),
    pytest.param("'a' + 'b'", "strings can only be compared", id="string-concat"),
    pytest.param("x ** y", "an exponent must be a number constant", id="pow-name"),
    pytest.param(f"x ** {MAX_EXPONENT + 1}", "at most 16", id="pow-cap"),
    pytest.param("x ** 100", "at most 16", id="pow-100"),
    pytest.param("x ** -100", "at most 16", id="pow-minus-100"),
    pytest.param("min(x, y=2)", "keyword arguments", id="keyword"),
    pytest.param("ceil(x, y)", "ceil() takes 1 arguments", id="arity-ceil"),
    pytest.param("min(x)", "min() takes 2 to 8 arguments", id="arity-min"),
    pytest.param("ceil", "is a function", id="bare-function"),
    pytest.param("x is y", "the comparison Is is not allowed", id="is"),
    pytest.param("x in y", "the comparison In is not allowed", id="in"),
    pytest.param("1e999 > x", "finite", id="inf-constant"),
    pytest.param("x > 10 ** 16 * 1000000000000000", "beyond", id="big-int"),
    pytest.param("x & y", "BitAnd", id="bitand"),
    pytest.param("~x", "Invert", id="invert"),
    pytest.param("b'a' == x", "bytes", id="bytes"),
]


@pytest.mark.parametrize(("source", "why"), UNSAFE)
def test_unsafe_constructs_are_rejected_with_a_position(source, why):
    with pytest.raises(ValueError, match=r"at position \d+") as info:
        parse_expression(source)
    assert why in str(info.value)


@pytest.mark.parametrize(
    ("source", "position"),
    [
        ("cpu_usage > 80 and os.system('x')", 20),
        ("cpu_usage > 80 and cpu_usage.real", 20),
        ("x > 1 or eval('1')", 10),
        ("__import__('os')", 1),
        ("x + y[0]", 5),
        ("x ** y", 6),
        ("x ** 100", 6),
        ("max(x, key=y) > 1", 12),
        ("  x.y", 1),  # the text is stripped first: positions count from the first character
    ],
)
def test_exact_positions(source, position):
    with pytest.raises(ValueError, match=rf"at position {position}\.") as info:
        parse_expression(source)
    # the message also shows the text with a caret under the offending column
    lines = str(info.value).splitlines()
    assert lines[-1].index("^") - 4 == position - 1


def test_positions_are_one_based_columns():
    # "cpu_usage > 80 and " is 19 characters: the call os.system(...) starts at 0-based column 19,
    # which the message gives 1-based (as the doctest of Expression shows: "__import__('os')" -> 1).
    src = "cpu_usage > 80 and os.system('x')"
    assert src.index("os.system") == 19
    with pytest.raises(ValueError, match=r"calling 'os.system' is not allowed.* at position 20\.") as info:
        parse_expression(src)
    assert str(info.value).splitlines()[-1] == " " * (4 + 19) + "^"


def test_caps_on_length_depth_and_nodes():
    long = "x + " * (MAX_LENGTH // 4) + "1"
    assert len(long) > MAX_LENGTH
    with pytest.raises(ValueError, match=f"at most {MAX_LENGTH} are allowed"):
        parse_expression(long)
    with pytest.raises(ValueError, match=f"nested more than {MAX_DEPTH} levels deep"):
        parse_expression("-" * (MAX_DEPTH + 5) + "x")
    with pytest.raises(ValueError, match=f"nested more than {MAX_DEPTH} levels deep"):
        parse_expression("not " * (MAX_DEPTH + 5) + "x > 1")
    with pytest.raises(ValueError, match=f"nested more than {MAX_DEPTH} levels deep"):
        parse_expression("(" * (MAX_DEPTH + 5) + "x" + " + 1)" * (MAX_DEPTH + 5))
    # very deep nesting that Python's own parser refuses is a ValueError too, not a crash
    with pytest.raises(ValueError, match=r"nested|not a valid expression"):
        parse_expression("-" * (MAX_LENGTH - 1) + "x")
    many = "x" + "<x" * MAX_NODES  # one flat comparison chain, 1 level deep
    assert len(many) <= MAX_LENGTH
    with pytest.raises(ValueError, match=f"more than {MAX_NODES} syntax nodes"):
        parse_expression(many)
    # just under the caps is fine
    parse_expression("-" * (MAX_DEPTH - 1) + "x")
    parse_expression("x" + "<x" * (MAX_NODES - 2))


def test_not_text_empty_and_syntax_errors():
    with pytest.raises(TypeError):
        parse_expression(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        parse_expression("   ")
    with pytest.raises(ValueError, match="not a valid expression"):
        parse_expression("x >")
    with pytest.raises(ValueError, match="not a valid expression"):
        parse_expression("import os")


def test_unknown_names_and_kind_mismatches_with_a_schema():
    kinds = {"cpu_usage": "number", "load_level": "string", "should_shed": "bool"}
    with pytest.raises(ValueError, match=r"unknown name 'replicas'.*at position 20\."):
        parse_expression("cpu_usage > 80 and replicas > 3", kinds)
    with pytest.raises(ValueError, match=r"cannot compare a string with a number at position 1\."):
        parse_expression("load_level > 3", kinds)
    with pytest.raises(ValueError, match=r"strings can only be compared with == and !="):
        parse_expression("load_level < 'high'", kinds)
    with pytest.raises(ValueError, match=r"'\+' takes numbers"):
        parse_expression("load_level + 1 > 2", kinds)
    with pytest.raises(ValueError, match=r"'and' and 'or' take comparisons"):
        parse_expression("cpu_usage and should_shed", kinds)
    with pytest.raises(ValueError, match=r"'not' takes a comparison"):
        parse_expression("not cpu_usage", kinds)
    with pytest.raises(ValueError, match=r"ceil\(\) takes numbers"):
        parse_expression("ceil(load_level) > 1", kinds)
    with pytest.raises(ValueError, match=r"it gives a number, but a bool is needed"):
        parse_expression("cpu_usage + 1", kinds, expect="bool")
    # the same texts are fine where they are well-kinded
    assert parse_expression("load_level == 'high' and should_shed", kinds).kind == "bool"
    assert parse_expression("ceil(cpu_usage / 10)", kinds).integral


def test_no_builtins_are_reachable():
    e = parse_expression("x > 1")
    assert e.fn.__globals__["__builtins__"] == {}
    with pytest.raises(ValueError, match="not allowed"):
        parse_expression("().__class__.__bases__[0].__subclasses__()")


# -------------------------------------------------------------------------- reference evaluator


_CMP_REF = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}


class _Ref:
    """An independent evaluator for the allowed subset (written from the documented semantics)."""

    def __init__(self, ctx):
        self.ctx = ctx

    @staticmethod
    def missing(v):
        return v is None or (isinstance(v, float) and math.isnan(v))

    def run(self, source):
        return self.ev(ast.parse(source, mode="eval").body)

    def truth(self, node):
        v = self.ev(node)
        return v is True

    def ev(self, node):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            v = self.ctx.get(node.id)
            return math.nan if v is None else v
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                return not self.truth(node.operand)
            v = self.ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else +v
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                return all(self.truth(v) for v in node.values)  # all() short-circuits like `and`
            return any(self.truth(v) for v in node.values)
        if isinstance(node, ast.BinOp):
            a, b = self.ev(node.left), self.ev(node.right)
            op = type(node.op)
            if op in (ast.Div, ast.FloorDiv, ast.Mod) and b == 0:
                raise ZeroDivisionError("reference: division by zero")
            if op is ast.Pow:
                with np.errstate(all="ignore"):
                    return float(np.power(np.float64(a), np.float64(b)))
            return {
                ast.Add: operator.add,
                ast.Sub: operator.sub,
                ast.Mult: operator.mul,
                ast.Div: operator.truediv,
                ast.FloorDiv: operator.floordiv,
                ast.Mod: operator.mod,
            }[op](a, b)
        if isinstance(node, ast.Call):
            args = [self.ev(a) for a in node.args]
            name = node.func.id
            if name in ("min", "max"):
                if any(math.isnan(a) for a in args):
                    return math.nan
                return (min if name == "min" else max)(args)
            (x,) = args
            if name == "abs":
                return abs(x)
            if name == "sqrt":
                return math.sqrt(x) if x >= 0 else math.nan  # NaN >= 0 is False
            if not math.isfinite(x):  # NaN stays NaN, an infinity stays infinite
                return x
            return {"ceil": math.ceil, "floor": math.floor, "round": round}[name](x)
        if isinstance(node, ast.Compare):
            values = []
            for operand in [node.left, *node.comparators]:  # left to right, as written
                v = self.ev(operand)
                if self.missing(v):
                    return False
                values.append(v)
            return all(
                _CMP_REF[type(op)](a, b) for op, a, b in zip(node.ops, values, values[1:], strict=False)
            )
        raise AssertionError(ast.dump(node))


def reference(source, ctx):
    """('ok', value) or ('zero', None) when the reference raises ZeroDivisionError."""
    try:
        return "ok", _Ref(ctx).run(source)
    except ZeroDivisionError:
        return "zero", None


def actual(expr, ctx):
    try:
        return "ok", expr(ctx)
    except ZeroDivisionError:
        return "zero", None


def same_number(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def same(kind, a, b):
    if kind == "bool":
        return a is b or (isinstance(a, (bool, np.bool_)) and bool(a) == bool(b))
    return same_number(a, b)


# ------------------------------------------------------------------------------------- grammar

_SMALL_FLOATS = st.sampled_from([0.0, 0.5, 1.0, 2.5, 3.0, 10.0, 0.1])


@st.composite
def num_expr(draw, depth=3):
    if depth <= 0 or draw(st.integers(0, 3)) == 0:
        leaf = draw(st.integers(0, 4))
        if leaf <= 2:
            return draw(st.sampled_from(NUMBER_NAMES))
        if leaf == 3:
            return str(draw(st.integers(0, 7)))
        return repr(draw(_SMALL_FLOATS))
    form = draw(st.integers(0, 9))
    if form <= 4:
        op = draw(st.sampled_from(["+", "-", "*", "/", "//", "%"]))
        return f"({draw(num_expr(depth - 1))} {op} {draw(num_expr(depth - 1))})"
    if form == 5:
        return f"-{draw(num_expr(depth - 1))}"
    if form == 6:
        # (an odd negative exponent of -0.0 is a known bug: see test_negative_zero_to_an_odd_negative_power)
        e = draw(st.sampled_from(["2", "3", "0.5", "-2", "-0.5", "0"]))
        return f"({draw(num_expr(depth - 1))} ** {e})"
    if form == 7:
        fn = draw(st.sampled_from(["ceil", "floor", "round", "abs", "sqrt"]))
        return f"{fn}({draw(num_expr(depth - 1))})"
    fn = draw(st.sampled_from(["min", "max"]))
    args = draw(st.lists(num_expr(depth - 1), min_size=2, max_size=3))
    return f"{fn}({', '.join(args)})"


CMP_OPS = st.sampled_from(["<", "<=", ">", ">=", "==", "!="])


@st.composite
def bool_expr(draw, depth=2):
    form = draw(st.integers(0, 9)) if depth > 0 else draw(st.integers(0, 4))
    if form <= 2:
        return f"{draw(num_expr(2))} {draw(CMP_OPS)} {draw(num_expr(2))}"
    if form == 3:
        op, const = draw(st.sampled_from(["==", "!="])), draw(st.sampled_from(["'a'", "'b'", "'1'"]))
        return f"s {op} {const}" if draw(st.booleans()) else f"{const} {op} s"
    if form == 4:  # a chained comparison
        return f"{draw(num_expr(1))} {draw(CMP_OPS)} {draw(num_expr(1))} {draw(CMP_OPS)} {draw(num_expr(1))}"
    if form <= 6:
        op = draw(st.sampled_from(["and", "or"]))
        parts = draw(st.lists(bool_expr(depth - 1), min_size=2, max_size=3))
        return "(" + f" {op} ".join(parts) + ")"
    if form == 7:
        return f"not ({draw(bool_expr(depth - 1))})"
    if form == 8:
        return draw(st.sampled_from(["True", "False"]))
    return f"({draw(bool_expr(depth - 1))}) == ({draw(bool_expr(depth - 1))})"


any_expr = st.one_of(num_expr(), bool_expr())

_NUMBER_VALUE = st.one_of(
    st.floats(-1e3, 1e3, allow_nan=False),
    st.integers(-20, 20),
    st.sampled_from([0, 0.0, -0.0, None, math.nan, 1, 2.0]),
)


@st.composite
def contexts(draw):
    ctx = {}
    for name in NUMBER_NAMES:
        if draw(st.integers(0, 9)):  # the key is sometimes missing altogether
            ctx[name] = draw(_NUMBER_VALUE)
    if draw(st.integers(0, 9)):
        ctx["s"] = draw(st.sampled_from(["a", "b", "c", "1", None, math.nan]))
    return ctx


# ----------------------------------------------------------------------------------- semantics


@settings(max_examples=150, deadline=None)
@given(source=any_expr, ctx=contexts())
def test_scalar_path_matches_the_reference(source, ctx):
    expr = parse_expression(source, KINDS)
    want, got = reference(source, ctx), actual(expr, ctx)
    assert want[0] == got[0], (source, ctx, want, got)
    if want[0] == "ok":
        assert same(expr.kind, want[1], got[1]), (source, ctx, want, got)
        if expr.kind == "bool":
            assert got[1] is True or got[1] is False


@pytest.mark.parametrize(
    ("source", "ctx", "want"),
    [
        ("x != 5", {"x": None}, False),
        ("x != 5", {"x": math.nan}, False),
        ("x != 5", {}, False),
        ("not (x != 5)", {}, True),
        ("x == x", {"x": math.nan}, False),
        ("s != 'a'", {"s": None}, False),
        ("s != 'a'", {"s": "b"}, True),
        ("x + 1", {}, math.nan),
        ("min(x, 3)", {"x": None}, math.nan),
        ("max(3, x)", {"x": math.nan}, math.nan),
        ("ceil(x)", {}, math.nan),
        ("floor(x)", {"x": math.nan}, math.nan),
        ("round(x)", {"x": None}, math.nan),
        ("abs(x)", {"x": None}, math.nan),
        ("sqrt(x)", {"x": -4.0}, math.nan),
        ("ceil(x / 400)", {"x": 900.0}, 3),
        ("round(2.5) + round(3.5)", {}, 6),  # half to even
        ("x ** 2", {"x": 1e300}, math.inf),
        ("-x ** 3", {"x": 1e300}, -math.inf),
        ("x ** -1", {"x": 0}, math.inf),
        ("x ** 0.5", {"x": -1.0}, math.nan),
        ("y > x / 0", {}, False),  # the missing left operand stops before the division
        ("True", {}, True),
        ("1 < 2 < 3", {}, True),
        ("1 < x < 3", {"x": 2}, True),
        ("1 < x < 3", {"x": 3}, False),
    ],
)
def test_documented_cases(source, ctx, want):
    got = parse_expression(source)(ctx)
    assert same("bool" if isinstance(want, bool) else "number", want, got), got
    assert same("bool" if isinstance(want, bool) else "number", want, _Ref(ctx).run(source))


@pytest.mark.parametrize("source", ["x / y", "x // y", "x % y", "x / 0.0 > 1", "x / y > 1 or True"])
@pytest.mark.parametrize("y", [0, 0.0, -0.0])
def test_division_by_zero_raises(source, y):
    with pytest.raises(ZeroDivisionError):
        parse_expression(source)({"x": 1.0, "y": y})


def test_integral_and_names():
    e = parse_expression("ceil(request_rate / 400) + 1")
    assert e.integral
    assert e.kind == "number"
    assert e.names == frozenset({"request_rate"})
    assert isinstance(e({"request_rate": 900.0}), int)
    assert not parse_expression("x / 2").integral
    assert parse_expression("min(1, 2) + abs(-3)").integral
    assert parse_expression("'a'").kind == "string"
    assert repr(e) == "Expression('ceil(request_rate / 400) + 1')"
    assert e.to_dict() == e.source


# ------------------------------------------------------------------------------- vectorised path


@st.composite
def tables(draw, n=50):
    def number_column():
        kind = draw(st.sampled_from(["float", "int", "object"]))
        if kind == "int":
            return np.asarray(draw(st.lists(st.integers(-6, 6), min_size=n, max_size=n)), dtype=np.int64)
        values = draw(
            st.lists(
                st.one_of(
                    st.floats(-100, 100, allow_nan=False),
                    st.sampled_from([0.0, 0.5, 1.0, -1.0, 2.0, math.nan]),
                    st.integers(-3, 3).map(float),
                ),
                min_size=n,
                max_size=n,
            )
        )
        if kind == "float":
            return np.asarray(values, dtype=float)
        # an object column of numbers with None for missing values
        return np.asarray([None if v != v else v for v in values], dtype=object)

    columns = {name: number_column() for name in NUMBER_NAMES if draw(st.integers(0, 9))}
    if draw(st.integers(0, 9)):
        texts = draw(st.sampled_from([["a", "b", "c", None], ["1", "2", None], ["a", "1", math.nan]]))
        columns["s"] = np.asarray(
            draw(st.lists(st.sampled_from(texts), min_size=n, max_size=n)), dtype=object
        )
    return columns


def row_context(columns, i):
    return {k: (v[i].item() if isinstance(v[i], np.generic) else v[i]) for k, v in columns.items()}


def check_vector_against_scalar(expr: Expression, columns, n):
    values, errors = expr.evaluate_columns(columns, n)
    assert len(values) == n
    assert errors.dtype == bool
    assert len(errors) == n
    for i in range(n):
        ctx = row_context(columns, i)
        status, want = actual(expr, ctx)
        assert bool(errors[i]) == (status == "zero"), (expr.source, ctx, status, errors[i])
        if status == "zero" and expr.kind == "bool":  # an error row never holds
            assert not values[i], (expr.source, ctx, values[i])
        if status == "ok":
            assert same(expr.kind, want, values[i]), (expr.source, ctx, want, values[i])
    return values, errors


@settings(max_examples=150, deadline=None)
@given(source=any_expr, columns=tables())
def test_vectorised_path_matches_the_scalar_path(source, columns):
    expr = parse_expression(source, KINDS)
    check_vector_against_scalar(expr, columns, 50)


@pytest.mark.parametrize(
    "source",
    [
        "x / y > 1",
        "x / y > 1 and z > 0",
        "z > 0 or x // y > 1",
        "min(x % y, 2) > 0",
        # regression: HEAD b4aa44c negated an error row's False to True here (`return ~t, err`)
        "not (x / y > 1)",
        "not (x / y > 1 or z > 0)",
        "(not (x / y > 1)) == True",
    ],
)
def test_vectorised_error_rows_are_false(source):
    columns = {
        "x": np.array([1.0, 4.0, 4.0, np.nan]),
        "y": np.array([0.0, 2.0, 0.0, 0.0]),
        "z": np.array([1.0, -1.0, np.nan, 1.0]),
    }
    expr = parse_expression(source, KINDS)
    values, errors = check_vector_against_scalar(expr, columns, 4)
    assert errors.any()
    assert not values[errors].any()


@pytest.mark.parametrize(("source", "ctx"), [("(-x) ** -1", {"x": 0.0}), ("x ** -3", {"x": -0.0})])
def test_negative_zero_to_an_odd_negative_power(source, ctx):
    expr = parse_expression(source, KINDS)
    columns = {k: np.array([v]) for k, v in ctx.items()}
    assert expr.evaluate_columns(columns, 1)[0][0] == -math.inf
    assert expr(ctx) == -math.inf


def test_zero_to_an_even_or_fractional_negative_power_is_inf_on_both_paths():
    for source in ("(-x) ** -2", "x ** -2", "x ** -0.5", "x ** -1"):
        expr = parse_expression(source, KINDS)
        assert expr({"x": 0.0}) == math.inf
        assert expr.evaluate_columns({"x": np.array([0.0])}, 1)[0][0] == math.inf


@pytest.mark.parametrize("source", ["s == '1'", "'1' != s", "s == '1' or s == '2'", "not (s != '2')"])
def test_vectorised_numeric_looking_strings_with_a_missing_value(source):
    # regression: HEAD b4aa44c read such a column as floats (np.where(miss, nan, col).astype(float)),
    # so `s == '1'` was False on the vectorised path and True on the scalar path
    columns = {"s": np.array(["1", None, "2", "1.0", math.nan], dtype=object)}
    expr = parse_expression(source, KINDS)
    values, _ = check_vector_against_scalar(expr, columns, 5)
    assert values.any()


def test_vectorised_missing_columns_read_as_missing():
    expr = parse_expression("x != 1", KINDS)
    values, errors = expr.evaluate_columns({}, 3)
    assert values.tolist() == [False] * 3
    assert not errors.any()
    values, errors = parse_expression("x + 1", KINDS).evaluate_columns({}, 3)
    assert np.isnan(values).all()


# --------------------------------------------------------------------------------- ParameterMap


def test_parameter_map_constants_and_expressions():
    spec = {"instances": "ceil(request_rate / 400)", "zone": "'a'", "dry_run": False, "n": 3, "f": 0.5}
    params = ParameterMap(spec)
    out = params({"request_rate": 900.0})
    assert out == {"instances": 3, "zone": "a", "dry_run": False, "n": 3, "f": 0.5}
    assert type(out["instances"]) is int
    assert out["dry_run"] is False
    assert params.to_dict() == spec
    assert params.to_dict() is not params.spec
    assert params.names == frozenset({"request_rate"})
    assert params == ParameterMap(dict(spec))
    assert params != ParameterMap({"n": 3})
    assert ParameterMap({"none": None})({}) == {"none": None}
    assert ParameterMap({})({}) == {}


@pytest.mark.parametrize(
    ("spec", "ctx"),
    [
        ({"k": "x / 2"}, {}),  # a missing input gives NaN
        ({"k": "x * 2"}, {"x": None}),
        ({"k": "ceil(x)"}, {"x": math.nan}),
        ({"k": "x ** 2"}, {"x": 1e300}),  # overflow: infinite
        ({"k": "x ** -1"}, {"x": 0.0}),
    ],
)
def test_parameter_map_nan_or_inf_raises(spec, ctx):
    with pytest.raises(ValueError, match="missing or infinite"):
        ParameterMap(spec)(ctx)


def test_parameter_map_division_by_zero_raises():
    with pytest.raises(ZeroDivisionError):
        ParameterMap({"k": "x / y"})({"x": 1.0, "y": 0})


@pytest.mark.parametrize(
    ("spec", "exc"),
    [
        ({"not an identifier": 1}, ValueError),
        ({1: 1}, ValueError),
        ({"k": [1, 2]}, TypeError),
        ({"k": {"a": 1}}, TypeError),
        ({"k": math.nan}, ValueError),
        ({"k": math.inf}, ValueError),
        ({"k": "os.system('x')"}, ValueError),
        ({"k": "unknown + 1"}, ValueError),  # with a schema below
        ({"k": ""}, ValueError),
    ],
)
def test_parameter_map_invalid_specs(spec, exc):
    with pytest.raises(exc):
        ParameterMap(spec, {"x": "number"})


def test_parameter_map_not_a_mapping():
    with pytest.raises(TypeError):
        ParameterMap([("k", 1)])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- compile_first_match


def test_compile_first_match_examples():
    conds = [parse_expression(s) for s in ("x > 5", "x > 1", "s == 'a'")]
    first = compile_first_match(conds)
    assert first({"x": 3}, frozenset()) == 1
    assert first({"x": 9}, frozenset()) == 0
    assert first({"x": 9}, frozenset({0})) == 1
    assert first({"x": 9}, frozenset({0, 1})) == -1
    assert first({"x": 9, "s": "a"}, frozenset({0, 1})) == 2
    assert first({}, frozenset()) == -1
    first_all = compile_first_match(conds, blocking=False)
    assert first_all({"x": 3}) == 1
    assert first_all({"s": "a"}) == 2
    assert first_all({}) == -1
    assert compile_first_match([])({}, frozenset()) == -1


def _loop_first(conds, ctx, blocked):
    for i, c in enumerate(conds):
        if i in blocked:
            continue
        if c(ctx):
            return i
    return -1


@settings(max_examples=150, deadline=None)
@given(
    sources=st.lists(bool_expr(1), min_size=1, max_size=6),
    ctx=contexts(),
    blocked=st.frozensets(st.integers(0, 6)),
)
def test_compile_first_match_equals_a_loop(sources, ctx, blocked):
    conds = [parse_expression(s, KINDS) for s in sources]
    first = compile_first_match(conds)
    first_all = compile_first_match(conds, blocking=False)
    for fn, args, b in ((first, (ctx, blocked), blocked), (first_all, (ctx,), frozenset())):
        try:
            want = ("ok", _loop_first(conds, ctx, b))
        except ZeroDivisionError:
            want = ("zero", None)
        try:
            got = ("ok", fn(*args))
        except ZeroDivisionError:
            got = ("zero", None)
        assert want == got, (sources, ctx, b)
