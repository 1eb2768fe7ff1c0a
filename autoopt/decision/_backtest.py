"""What a DecisionEngine's rules would have decided on a history, vectorised in NumPy."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

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


def _times(frame: pd.DataFrame) -> tuple[np.ndarray, Any]:
    """POSIX seconds of each row (from a DatetimeIndex or a ``timestamp`` column), checked strictly increasing."""
    import pandas as pd

    if isinstance(frame.index, pd.DatetimeIndex):
        stamps = frame.index
        where = "the index"
    elif "timestamp" in frame.columns:
        col = frame["timestamp"]
        numeric = col.dtype.kind in "iuf"
        stamps = pd.DatetimeIndex(
            pd.to_datetime(col, unit="s", utc=True) if numeric else pd.to_datetime(col, utc=True)
        )
        where = "the 'timestamp' column"
    else:
        raise ValueError("backtest() argument 'frame' needs a DatetimeIndex or a 'timestamp' column.")
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
        raise ValueError(
            f"backtest() argument 'frame': {where} must be strictly increasing; row {i} ({stamps[i]}) is {kind} "
            f"after row {i - 1} ({stamps[i - 1]}). Sort the frame and drop duplicated times first."
        )
    return t, stamps


def _fires(t: np.ndarray, cand: np.ndarray, cooldown: float) -> np.ndarray:
    """Rows where a rule fires: the candidates, thinned greedily so that fires are ``cooldown`` apart.

    Exactly the engine's test: a candidate at ``t`` is still cooling when ``0 <= t - last < cooldown``.
    """
    idx = np.flatnonzero(cand)
    if idx.size == 0 or cooldown <= 0.0:
        return idx
    ct = t[idx]
    out = []
    pos, n = 0, idx.size
    while pos < n:
        out.append(idx[pos])
        last = ct[pos]
        nxt = int(np.searchsorted(ct, last + cooldown, side="left"))
        nxt = max(nxt, pos + 1)
        while nxt < n and ct[nxt] - last < cooldown:  # rounding of last + cooldown
            nxt += 1
        while nxt - 1 > pos and ct[nxt - 1] - last >= cooldown:
            nxt -= 1
        pos = nxt
    return np.asarray(out, dtype=np.int64)


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

    def __missing__(self, name: str) -> np.ndarray:
        if name not in self.frame.columns:
            raise KeyError(name)
        col = self.frame[name]
        kind = col.dtype.kind
        values = col.to_numpy() if kind in "iufb" else col.to_numpy(dtype=object)
        self[name] = values
        return values

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default


def _param_values(params: ParameterMap, cols: _Columns, n: int) -> tuple[dict[str, Any], np.ndarray]:
    """Each parameter's values over the rows (a constant stays a constant) and the rows where one fails."""
    err = np.zeros(n, bool)
    values: dict[str, Any] = {}
    for key, const in params.spec.items():
        expr = params.expressions.get(key)
        if expr is None:
            values[key] = const
            continue
        v, e = expr.evaluate_columns(cols, n)
        err |= e
        if v.dtype.kind == "f":
            err |= ~np.isfinite(v)
        elif v.dtype == object:
            err |= np.fromiter((isinstance(x, float) and x - x != 0.0 for x in v), bool, n)
        values[key] = (v, expr.integral)
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
        ``rule_id`` and ``parameters`` (a dict, with a scaling decision's signed ``delta``).
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
    t, stamps = _times(frame)
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
        decided, errors = _loop(order, frame, t, stamps, default)
        method = "loop"
    out = pd.DataFrame(
        {
            "decision_type": pd.Series(decided[0], index=frame.index, dtype=object),
            "rule_id": pd.Series(decided[1], index=frame.index, dtype=object),
            "parameters": pd.Series(decided[2], index=frame.index, dtype=object),
        }
    )
    out.attrs["method"] = method
    out.attrs["rule_errors"] = errors
    return out


Decided = tuple[list[Any], list[Any], list[Any]]


def _vectorised(
    order: list[RuleState], frame: pd.DataFrame, t: np.ndarray, n: int, default: float
) -> tuple[Decided, dict[str, int]]:
    cols = _Columns(frame, t)
    taken = np.zeros(n, bool)
    vetoed: dict[DecisionType, np.ndarray] = {}
    kinds: list[Any] = [None] * n
    ids: list[Any] = [None] * n
    params_out: list[Any] = [None] * n
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
        values, perr = _param_values(rule.parameters_fn, cols, n)
        if state.decision_type in _SCALING:
            perr |= _bad_scaling(values, state.decision_type, n)
        ok = avail & holds & ~cerr
        cd = default if state.cooldown is None else state.cooldown
        fires = _fires(t, ok & ~perr, cd)
        cooling = _cooling(t, fires, cd)
        errs = int((avail & ~cooling & cerr).sum() + (ok & ~cooling & perr).sum())
        if errs:
            errors[rule.rule_id] = errors.get(rule.rule_id, 0) + errs
        if fires.size == 0:
            continue
        taken[fires] = True
        rows = _param_rows(values, fires, state.decision_type)
        kind, rid = state.decision_type.value, rule.rule_id
        for i, p in zip(fires.tolist(), rows, strict=True):
            kinds[i], ids[i], params_out[i] = kind, rid, p
    return (kinds, ids, params_out), errors


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


def _param_rows(
    values: dict[str, Any], fires: np.ndarray, decision_type: DecisionType
) -> list[dict[str, Any]]:
    """One parameters dict per fired row, with the Python types the scalar path gives."""
    keys = list(values)
    columns: list[list[Any]] = []
    for key in keys:
        v = values[key]
        if isinstance(v, tuple):
            arr, integral = v
            picked = arr[fires]
            if integral and picked.dtype.kind == "f":
                columns.append([int(x) for x in picked])
            else:
                columns.append(picked.tolist())
        else:
            columns.append([v] * fires.size)
    rows = (
        [dict(zip(keys, vals, strict=True)) for vals in zip(*columns, strict=True)]
        if keys
        else [{} for _ in fires]
    )
    return rows


def _loop(
    order: list[RuleState], frame: pd.DataFrame, t: np.ndarray, stamps: Any, default: float
) -> tuple[Decided, dict[str, int]]:
    """The same semantics row by row, for rules with Python callables (the engine is not touched)."""
    from autoopt._validation import close_awaitable

    n = len(frame)
    kinds: list[Any] = [None] * n
    ids: list[Any] = [None] * n
    params_out: list[Any] = [None] * n
    errors: dict[str, int] = {}
    last: dict[int, float] = {}
    records: list[dict[str, Any]] = frame.to_dict("records")  # type: ignore[assignment]
    for i, (row, now) in enumerate(zip(records, t.tolist(), strict=True)):
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
                scaling_delta(state.decision_type, params)
            except Exception:
                errors[state.rule.rule_id] = errors.get(state.rule.rule_id, 0) + 1
                continue
            last[k] = now
            kinds[i], ids[i], params_out[i] = state.decision_type.value, state.rule.rule_id, params
            break
    return (kinds, ids, params_out), errors
