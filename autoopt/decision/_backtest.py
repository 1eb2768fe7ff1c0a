"""What a DecisionEngine's rules would have decided on a history, vectorised in NumPy."""

from __future__ import annotations

import bisect
import logging
import math
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
    From each fire, a binary search jumps to the first candidate out of cooldown (checked with that
    exact test), so the cost grows with the fires, not with the candidates.
    """
    idx = np.flatnonzero(cand)
    if idx.size == 0 or cooldown <= 0.0:
        return idx
    tlist = t[idx].tolist()
    n = len(tlist)
    keep: list[int] = []
    last = -math.inf
    q = 0
    while q < n:
        q = bisect.bisect_left(tlist, last + cooldown, q, n)
        while q > 0 and (not keep or q - 1 > keep[-1]) and not 0.0 <= tlist[q - 1] - last < cooldown:
            q -= 1  # rounding of last + cooldown: the exact test decides
        while q < n and 0.0 <= tlist[q] - last < cooldown:
            q += 1
        if q >= n:
            break
        keep.append(q)
        last = tlist[q]
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
        # per column, computed once (see Expression.evaluate_columns); text columns factorised once
        self.missing: dict[str, np.ndarray] = {}
        self._codes: dict[str, tuple[np.ndarray, list[Any]] | None] = {}

    def __missing__(self, name: str) -> np.ndarray:
        if name not in self.frame.columns:
            raise KeyError(name)
        col = self.frame[name]
        kind = col.dtype.kind
        values = col.to_numpy() if kind in "iufb" else col.to_numpy(dtype=object)
        self[name] = values
        return values

    def codes(self, name: str) -> tuple[np.ndarray, list[Any]] | None:
        """A text column factorised (codes, -1 where missing, and the distinct values), or None."""
        if name in self._codes:
            return self._codes[name]
        out = None
        if name in self.frame.columns and self.frame[name].dtype.kind not in "iufbmM":
            import pandas as pd

            codes, uniques = pd.factorize(self.frame[name], use_na_sentinel=True)
            values = list(uniques)
            if all(type(v) is str for v in values):
                out = (np.asarray(codes), values)
                self.missing.setdefault(name, out[0] < 0)
        self._codes[name] = out
        return out

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
    out = pd.DataFrame(  # object columns: None (not NaN) where no rule fired, as pandas would infer strings
        {
            "decision_type": pd.Series(decided[0], index=frame.index, dtype=object, copy=False),
            "rule_id": pd.Series(decided[1], index=frame.index, dtype=object, copy=False),
            "parameters": pd.Series(decided[2], index=frame.index, dtype=object, copy=False),
            "delta": pd.Series(decided[3], index=frame.index, dtype=object, copy=False),
        }
    )
    out.attrs["method"] = method
    out.attrs["rule_errors"] = errors
    return out


Decided = tuple[Any, Any, Any, Any]  # decision types, rule ids, parameters and deltas: one per row


def _vectorised(
    order: list[RuleState], frame: pd.DataFrame, t: np.ndarray, n: int, default: float
) -> tuple[Decided, dict[str, int]]:
    cols = _Columns(frame, t)
    taken = np.zeros(n, bool)
    vetoed: dict[DecisionType, np.ndarray] = {}
    kinds = np.full(n, None, dtype=object)
    ids = np.full(n, None, dtype=object)
    params_out = np.full(n, None, dtype=object)
    delta_out = np.full(n, None, dtype=object)
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
        failed = avail & cerr
        failed |= ok & perr
        if failed.any():  # errors count where the rule was evaluated: not while it was cooling down
            errs = int((failed & ~_cooling(t, fires, cd)).sum())
            if errs:
                errors[rule.rule_id] = errors.get(rule.rule_id, 0) + errs
        if fires.size == 0:
            continue
        taken[fires] = True
        kinds[fires] = state.decision_type.value
        ids[fires] = rule.rule_id
        rows = np.empty(fires.size, dtype=object)
        rows[:] = _param_rows(values, fires, state.decision_type)
        params_out[fires] = rows
        if state.decision_type in _SCALING:
            deltas = np.empty(fires.size, dtype=object)
            deltas[:] = [scaling_delta(state.decision_type, p) for p in rows]
            delta_out[fires] = deltas
    return (kinds, ids, params_out, delta_out), errors


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
                columns.append(picked.astype(np.int64).tolist())  # finite: the errors were excluded
            else:
                columns.append(picked.tolist())
        else:
            columns.append([v] * fires.size)
    if len(keys) == 1:
        key = keys[0]
        return [{key: v} for v in columns[0]]
    if not keys:
        return [{} for _ in range(fires.size)]
    return [dict(zip(keys, vals)) for vals in zip(*columns)]  # noqa: B905 - equal lengths by construction


def _loop(
    order: list[RuleState], frame: pd.DataFrame, t: np.ndarray, stamps: Any, default: float
) -> tuple[Decided, dict[str, int]]:
    """The same semantics row by row, for rules with Python callables (the engine is not touched)."""
    from autoopt._validation import close_awaitable

    n = len(frame)
    kinds: list[Any] = [None] * n
    ids: list[Any] = [None] * n
    params_out: list[Any] = [None] * n
    deltas: list[Any] = [None] * n
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
                delta = scaling_delta(state.decision_type, params)
            except Exception:
                errors[state.rule.rule_id] = errors.get(state.rule.rule_id, 0) + 1
                continue
            last[k] = now
            kinds[i], ids[i], params_out[i] = state.decision_type.value, state.rule.rule_id, params
            deltas[i] = delta
            break
    return (kinds, ids, params_out, deltas), errors
