"""What a DecisionEngine's rules would have decided on a history, vectorised in NumPy."""

from __future__ import annotations

import bisect
import logging
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from autoopt._clock import PANDAS_TIME_RANGE
from autoopt.core import Expression, ParameterMap
from autoopt.decision._policy import scaling_delta
from autoopt.decision._rules import RuleState
from autoopt.enums import DecisionType

if TYPE_CHECKING:
    import pandas as pd

    from autoopt.decision._engine import DecisionEngine

__all__ = ["backtest_rules"]

logger = logging.getLogger(__name__)

_SCALING = (DecisionType.SCALE_UP, DecisionType.SCALE_DOWN)


def _times(frame: pd.DataFrame) -> np.ndarray:
    """POSIX seconds of each row (from a DatetimeIndex or a ``timestamp`` column), checked strictly increasing.

    Numeric timestamps are used as they are, as :meth:`DecisionEngine.evaluate` reads a number,
    within the range evaluate accepts (pandas' nanosecond range).
    """
    import pandas as pd

    stamps: pd.DatetimeIndex | None
    if isinstance(frame.index, pd.DatetimeIndex):
        where = "the index"
        stamps = frame.index
    elif "timestamp" in frame.columns:
        where = "the 'timestamp' column"
        col = frame["timestamp"]
        stamps = None if col.dtype.kind in "iuf" else pd.DatetimeIndex(pd.to_datetime(col, utc=True))
    else:
        raise ValueError("backtest() argument 'frame' needs a DatetimeIndex or a 'timestamp' column.")
    if stamps is None:
        t = frame["timestamp"].to_numpy(dtype=float)
        lo, hi = PANDAS_TIME_RANGE
        bad_t = np.flatnonzero(~((t >= lo) & (t <= hi)))  # NaN fails both
        if bad_t.size:
            i = int(bad_t[0])
            if np.isnan(t[i]):
                raise ValueError(f"backtest() argument 'frame': {where} has a missing time at row {i}.")
            raise ValueError(
                f"backtest() argument 'frame': {where} has the time {float(t[i])!r} at row {i}; times must lie "
                "within pandas' nanosecond range (1677-09-21 .. 2262-04-11), as evaluate() requires."
            )
    else:
        if stamps.hasnans:
            raise ValueError(
                f"backtest() argument 'frame': {where} has a missing time at row {int(np.flatnonzero(stamps.isna())[0])}."
            )
        if stamps.tz is None:
            stamps = stamps.tz_localize("UTC")
        t = stamps.as_unit("ns").asi8 / 1e9
    step = np.diff(t)
    bad = np.flatnonzero(step <= 0)
    if bad.size:
        i = int(bad[0]) + 1
        kind = "duplicated" if step[bad[0]] == 0 else "out of order"
        shown = t[i - 1 : i + 1] if stamps is None else stamps[i - 1 : i + 1]
        raise ValueError(
            f"backtest() argument 'frame': {where} must be strictly increasing; row {i} ({shown[1]}) is {kind} "
            f"after row {i - 1} ({shown[0]}). Sort the frame and drop duplicated times first."
        )
    return t


def _fires(t: np.ndarray, cand: np.ndarray, cooldown: float) -> np.ndarray:
    """Rows where a rule fires: the candidates, thinned greedily so that fires are ``cooldown`` apart.

    Exactly the engine's test: a candidate at ``t`` is still cooling when ``0 <= t - last < cooldown``.
    From each fire, a binary search jumps to the first candidate out of cooldown (checked with that
    exact test, since ``last + cooldown`` rounds). The search is confined to the candidates that
    the smallest gap between them allows, and reads the times through a memoryview, so the Python
    work grows with the fires, not with the candidates.
    """
    idx = np.flatnonzero(cand)
    if idx.size == 0 or cooldown <= 0.0:
        return idx
    tc = np.ascontiguousarray(t[idx], dtype=np.float64)
    n = tc.size
    gap = float(np.diff(tc).min()) if n > 1 else math.inf
    reach = n if gap <= 0.0 or cooldown / gap >= n else int(cooldown / gap) + 2  # the successor is within
    times = memoryview(tc)  # type: ignore[arg-type]  # indexing gives Python floats, without a list of them
    keep = [0]  # the first candidate fires: nothing is cooling yet
    last = times[0]
    q = 1
    bisect_left = bisect.bisect_left
    while q < n:
        lo = q
        hi = q + reach
        q = bisect_left(times, last + cooldown, q, hi if hi < n else n)
        if q < n and times[q] - last < cooldown:  # rounding of last + cooldown: the exact test decides
            while q < n and times[q] - last < cooldown:
                q += 1
        else:
            while q > lo and not times[q - 1] - last < cooldown:
                q -= 1
        if q >= n:
            break
        keep.append(q)
        last = times[q]
        q += 1
    return idx[np.asarray(keep, dtype=np.int64)]


def _cooling(t: np.ndarray, fires: np.ndarray, cooldown: float) -> np.ndarray:
    """Rows at which the rule was cooling down (a fire before them, less than ``cooldown`` ago)."""
    if fires.size == 0 or cooldown <= 0.0:
        return np.zeros(t.size, bool)
    ft = t[fires]
    j = np.searchsorted(ft, t, side="left") - 1
    ok = j >= 0
    gap = np.where(ok, t - ft[np.maximum(j, 0)], np.inf)
    return ok & (gap >= 0) & (gap < cooldown)


class _Columns(dict[str, Any]):
    """Columns of the frame as NumPy arrays, converted on first use; missing keys read as missing."""

    def __init__(self, frame: pd.DataFrame, t: np.ndarray) -> None:
        super().__init__()
        self.frame = frame
        self["timestamp"] = t
        self.missing: dict[
            str, np.ndarray
        ] = {}  # per column, computed once (see Expression.evaluate_columns)

    def __missing__(self, name: str) -> np.ndarray:
        if name not in self.frame.columns:
            raise KeyError(name)
        import pandas as pd

        col = self.frame[name]
        kind = col.dtype.kind
        if getattr(col.dtype, "na_value", None) is pd.NA:  # a nullable dtype: pd.NA reads as missing
            values = (
                col.to_numpy(dtype=float, na_value=np.nan)
                if kind in "iuf"
                else col.to_numpy(dtype=object, na_value=None)  # type: ignore[call-overload]
            )
        else:
            values = col.to_numpy() if kind in "iufb" else col.to_numpy(dtype=object)
        self[name] = values
        return values

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default


class _Rows(_Columns):
    """The columns at some rows only (``sel``, ascending positions), taken on first use."""

    def __init__(self, parent: _Columns, sel: np.ndarray) -> None:
        dict.__init__(self)
        self.parent = parent
        self.sel = sel
        self.missing = {}

    def __missing__(self, name: str) -> np.ndarray:
        values = self.parent[name][self.sel]
        self[name] = values
        return values


def _param_values(params: ParameterMap, cols: _Columns, n: int) -> tuple[dict[str, Any], np.ndarray]:
    """Each parameter's values over the rows (a constant stays a constant) and the rows where one fails."""
    err = np.zeros(n, bool)
    values: dict[str, Any] = {}
    for key, const in params.spec.items():
        expr = params.expressions.get(key)
        if expr is None:
            values[key] = const
            continue
        v, e = expr.evaluate_columns(cols, n if expr.names else 1)  # a constant: one row, broadcast
        err |= e
        if expr.kind == "number":
            if v.dtype.kind == "f":
                err |= ~np.isfinite(v)
            elif v.dtype == object:
                err |= np.fromiter((isinstance(x, float) and x - x != 0.0 for x in v.ravel()), bool, v.size)
        integral = expr.integral_over(cols)
        if not expr.names:  # a constant expression
            item = v[0].item() if hasattr(v[0], "item") else v[0]
            values[key] = int(item) if integral and isinstance(item, float) else item
            continue
        values[key] = (v, integral)
    return values, err


def backtest_rules(engine: DecisionEngine, frame: pd.DataFrame) -> pd.DataFrame:
    """What ``engine``'s rules would have decided on each row of ``frame``, as a fresh engine would.

    Each row is a decision context (its columns are the context keys); the times come from a
    :class:`~pandas.DatetimeIndex` or a ``timestamp`` column (datetimes or POSIX seconds) and must
    be strictly increasing. Guards, vetoes, priorities, cooldowns and the ``enabled`` flags apply
    exactly as :meth:`DecisionEngine.evaluate` applies them, and a missing value or a division by
    zero has the same effect; the engine's own state (cooldowns, history, statistics) is neither
    read nor changed.

    The backtest is **open-loop**: a decision does not change later rows (no replica count moves
    because of it). For a closed loop, where decisions act on a simulated system, use
    :func:`autoopt.policy.evaluate_policy` with an :class:`autoopt.sim.AutoscalingEnv`. A policy
    set on the engine is not part of the backtest.

    Declarative rules are evaluated in NumPy over whole columns. Rules with Python callables fall
    back to a row-by-row loop over the same semantics (logged, and ``attrs["method"] == "loop"``).

    Returns
    -------
    pandas.DataFrame
        On the input's index, one row per input row: ``decision_type`` (None where no rule fired),
        ``rule_id``, ``parameters`` (a dict, as the rule gives them) and ``delta`` (a scaling
        decision's signed replica change, as :attr:`Decision.delta`; None otherwise).
        ``attrs`` holds ``method`` (``"vectorised"`` or ``"loop"``) and ``rule_errors`` (rule id ->
        rows where its condition or parameters failed).

    Raises
    ------
    TypeError, ValueError
        If ``frame`` is not a DataFrame, or its times are missing, unsorted or duplicated.
    """
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"backtest() argument 'frame' must be a pandas DataFrame; got {type(frame).__name__}."
        )
    t = _times(frame)
    snap, default = engine._backtest_view()
    if snap.policy is not None:
        logger.info(
            "backtest(): the policy %s is not part of the backtest (open loop, rules only)", snap.policy.name
        )
    order = [s for s in (*snap.guards, *snap.fallbacks) if s.rule.enabled]
    n = len(frame)
    if all(s.rule.declarative for s in order):
        decided, errors = _vectorised(order, frame, t, n, default)
        method = "vectorised"
    else:
        lambdas = [s.rule.name for s in order if not s.rule.declarative]
        logger.info("backtest(): rules with Python callables (%s) run row by row", ", ".join(lambdas))
        decided, errors = _loop(order, frame, t, default)
        method = "loop"
    out = pd.DataFrame(  # object columns, None (not NaN) where no rule fired; a view of the block
        decided.T, index=frame.index, columns=_COLUMNS, dtype=object, copy=False
    )
    out.attrs["method"] = method
    out.attrs["rule_errors"] = errors
    return out


_COLUMNS = ["decision_type", "rule_id", "parameters", "delta"]
Decided = np.ndarray  # object, shape (4, rows): the decision types, rule ids, parameters and deltas


def _vectorised(
    order: list[RuleState], frame: pd.DataFrame, t: np.ndarray, n: int, default: float
) -> tuple[Decided, dict[str, int]]:
    cols = _Columns(frame, t)
    taken = np.zeros(n, bool)
    vetoed: dict[DecisionType, np.ndarray] = {}
    decided = np.empty((4, n), dtype=object)  # all None
    kinds, ids, params_out, delta_out = decided
    errors: dict[str, int] = {}
    for state in order:
        rule = state.rule
        cond = rule.condition
        assert isinstance(cond, Expression)
        assert isinstance(rule.parameters_fn, ParameterMap)
        veto_rows = vetoed.get(state.decision_type)
        avail = ~taken if veto_rows is None or state.veto else ~taken & ~veto_rows
        holds, cerr = cond.evaluate_columns(cols, n)
        if state.veto:  # a vetoing guard: no decision, no cooldown; forbids its types below it
            errs = int((avail & cerr).sum())
            if errs:
                errors[rule.rule_id] = errors.get(rule.rule_id, 0) + errs
            hit = avail & holds & ~cerr
            for vt in state.veto:
                vetoed[vt] = hit if vt not in vetoed else vetoed[vt] | hit
            continue
        ok = avail & holds & ~cerr
        sel = np.flatnonzero(ok)  # the parameters are evaluated where the rule would fire only
        values, perr_sel = _param_values(rule.parameters_fn, _Rows(cols, sel), sel.size)
        if state.decision_type in _SCALING:
            perr_sel |= _bad_scaling(values, state.decision_type, sel.size)
        cd = default if state.cooldown is None else state.cooldown
        failed = avail & cerr
        if perr_sel.any():
            perr = np.zeros(n, bool)
            perr[sel[perr_sel]] = True
            fires = _fires(t, ok & ~perr, cd)
            failed |= perr
        else:
            fires = _fires(t, ok, cd)
        if failed.any():  # errors count where the rule was evaluated: not while it was cooling down
            errs = int((failed & ~_cooling(t, fires, cd)).sum())
            if errs:
                errors[rule.rule_id] = errors.get(rule.rule_id, 0) + errs
        if fires.size == 0:
            continue
        taken[fires] = True
        kinds[fires] = state.decision_type.value
        ids[fires] = rule.rule_id
        rows, columns = _param_rows(values, np.searchsorted(sel, fires))
        params_out[fires] = rows
        if state.decision_type in _SCALING:
            delta_out[fires] = _deltas(columns, state.decision_type, fires.size)
    return decided, errors


def _bad_scaling(values: dict[str, Any], decision_type: DecisionType, n: int) -> np.ndarray:
    """Rows where a scaling decision's delta/instances fail :func:`scaling_delta` (vectorised)."""
    sign = 1 if decision_type is DecisionType.SCALE_UP else -1

    def column(key: str) -> np.ndarray | None:
        v = values.get(key)
        if v is None and key not in values:
            return None
        if isinstance(v, tuple):
            return np.asarray(v[0])
        return np.full(n, v, dtype=object if isinstance(v, bool) or v is None else float)

    bad = np.zeros(n, bool)
    cols = {k: column(k) for k in ("delta", "instances")}
    for arr in cols.values():
        if arr is not None and arr.dtype.kind not in "iuf":  # a bool, None or a str where a number belongs
            bad |= np.fromiter(
                (
                    isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating))
                    for x in arr
                ),
                bool,
                n,
            )
    d, k = cols["delta"], cols["instances"]
    with np.errstate(invalid="ignore"):
        if d is not None and d.dtype.kind in "iuf":
            bad |= d * sign < 0
            if k is not None and k.dtype.kind in "iuf":
                bad |= np.abs(d) != k
    return bad


def _param_rows(values: dict[str, Any], at: np.ndarray) -> tuple[np.ndarray, dict[str, list[Any]]]:
    """One parameters dict per fired row (``at``: the positions of those rows in the evaluated
    values), with the Python types the scalar path gives, as an object array; and each
    parameter's values over those rows."""
    columns: dict[str, list[Any]] = {}
    for key, v in values.items():
        if isinstance(v, tuple):
            arr, integral = v
            picked = arr[at]
            if integral and picked.dtype.kind == "f":
                columns[key] = picked.astype(np.int64).tolist()  # finite: the errors were excluded
            else:
                columns[key] = picked.tolist()
        else:
            columns[key] = [v] * at.size
    keys = list(columns)
    rows = np.empty(at.size, dtype=object)
    if len(keys) == 1:
        key = keys[0]
        rows[:] = [{key: v} for v in columns[key]]
    elif not keys:
        rows[:] = [{} for _ in range(at.size)]
    else:
        rows[:] = [dict(zip(keys, vals)) for vals in zip(*columns.values())]  # noqa: B905 - equal lengths
    return rows, columns


def _deltas(columns: dict[str, list[Any]], decision_type: DecisionType, k: int) -> np.ndarray:
    """:func:`scaling_delta` of each fired row's parameters (valid: the failing rows were excluded)."""
    out = np.empty(k, dtype=object)
    delta, instances = columns.get("delta"), columns.get("instances")
    if delta is not None and None not in delta:
        out[:] = delta
        return out
    sign = 1 if decision_type is DecisionType.SCALE_UP else -1
    delta = delta or [None] * k
    instances = instances or [None] * k
    out[:] = [
        d if d is not None else None if i is None else sign * i
        for d, i in zip(delta, instances)  # noqa: B905 - equal lengths
    ]
    return out


def _loop(
    order: list[RuleState], frame: pd.DataFrame, t: np.ndarray, default: float
) -> tuple[Decided, dict[str, int]]:
    """The same semantics row by row, for rules with Python callables (the engine is not touched)."""
    import pandas as pd

    from autoopt._validation import close_awaitable

    n = len(frame)
    kinds: list[Any] = [None] * n
    ids: list[Any] = [None] * n
    params_out: list[Any] = [None] * n
    deltas: list[Any] = [None] * n
    errors: dict[str, int] = {}
    last: dict[int, float] = {}
    records: list[dict[str, Any]] = frame.to_dict("records")  # type: ignore[assignment]
    stamps = None  # a numeric timestamp column stays as the records hold it
    if isinstance(frame.index, pd.DatetimeIndex):
        stamps = frame.index if frame.index.tz is not None else frame.index.tz_localize("UTC")
    elif frame["timestamp"].dtype.kind not in "iuf":
        stamps = pd.DatetimeIndex(pd.to_datetime(frame["timestamp"], utc=True))
    for i, (row, now) in enumerate(zip(records, t.tolist(), strict=True)):
        if stamps is not None:
            row["timestamp"] = stamps[i].to_pydatetime()
        vetoed: set[DecisionType] = set()
        for k, state in enumerate(order):
            if state.decision_type in vetoed and not state.veto:
                continue
            cd = default if state.cooldown is None else state.cooldown
            lf = last.get(k)
            if not state.veto and lf is not None and 0.0 <= now - lf < cd:
                continue
            try:
                result = state.rule.condition(row)
                if close_awaitable(result) is not None:
                    raise TypeError("condition returned an awaitable")
                holds = bool(result)
            except Exception:
                errors[state.rule.rule_id] = errors.get(state.rule.rule_id, 0) + 1
                continue
            if not holds:
                continue
            if state.veto:
                vetoed |= state.veto
                continue
            try:
                params = state.rule.parameters_fn(row)
                if not isinstance(params, dict):
                    raise TypeError("parameters_fn did not return a dict")
                delta = scaling_delta(state.decision_type, params)
            except Exception:
                errors[state.rule.rule_id] = errors.get(state.rule.rule_id, 0) + 1
                continue
            last[k] = now
            kinds[i], ids[i], params_out[i] = state.decision_type.value, state.rule.rule_id, params
            deltas[i] = delta
            break
    decided = np.empty((4, n), dtype=object)
    for row_out, values in zip(decided, (kinds, ids, params_out, deltas), strict=True):
        row_out[:] = values
    return decided, errors
