"""Rules: the factory, confidence from feedback, the engine's compiled rule order, and rule files."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scipy.special import betaincinv

from autoopt.core import Expression, ParameterMap, compile_first_match, parse_expression
from autoopt.enums import DecisionConfidence, DecisionType
from autoopt.models import DecisionRule, new_id

__all__ = [
    "RULES_FORMAT_VERSION",
    "confidence_from_feedback",
    "create_decision_rule",
    "rules_from_dict",
    "rules_to_dict",
]

RULES_FORMAT_VERSION = 1
"""The ``version:`` of rule files written by :meth:`DecisionEngine.to_yaml` and ``to_json``."""

# Lower credible bound of the rule's mean feedback score -> confidence band.
_CONFIDENCE_QUANTILE = 0.10
_HIGH_BOUND = 0.70
_MEDIUM_BOUND = 0.40


def confidence_band(q: float) -> DecisionConfidence:
    """HIGH from 0.7, MEDIUM from 0.4, LOW below; UNCERTAIN for NaN."""
    if q != q:
        return DecisionConfidence.UNCERTAIN
    if q >= _HIGH_BOUND:
        return DecisionConfidence.HIGH
    if q >= _MEDIUM_BOUND:
        return DecisionConfidence.MEDIUM
    return DecisionConfidence.LOW


def confidence_from_feedback(n: int, score_sum: float) -> tuple[DecisionConfidence, float]:
    """Confidence band of a rule from its feedback record.

    Feedback scores in [0, 1] are treated as fractional successes under a
    uniform Beta(1, 1) prior, so the rule's mean score has the posterior
    ``Beta(1 + S, 1 + n - S)`` with ``S`` the sum of scores. The band is read
    off the posterior's 10 % quantile ``q`` (a pessimistic estimate that
    rises with both the scores and their number): HIGH when ``q >= 0.7``,
    MEDIUM when ``q >= 0.4``, LOW otherwise, and UNCERTAIN with no feedback.

    Returns
    -------
    (DecisionConfidence, float)
        The band and ``q`` (NaN with no feedback).

    Examples
    --------
    >>> confidence_from_feedback(0, 0.0)[0]
    <DecisionConfidence.UNCERTAIN: 'uncertain'>
    >>> band, q = confidence_from_feedback(1, 1.0)   # Beta(2, 1): q = sqrt(0.1)
    >>> band, round(q, 4)
    (<DecisionConfidence.LOW: 'low'>, 0.3162)
    >>> confidence_from_feedback(6, 6.0)[0]          # Beta(7, 1): q = 0.1 ** (1 / 7) = 0.72
    <DecisionConfidence.HIGH: 'high'>
    """
    if n <= 0:
        return DecisionConfidence.UNCERTAIN, float("nan")
    q = float(betaincinv(1.0 + score_sum, 1.0 + n - score_sum, _CONFIDENCE_QUANTILE))
    return confidence_band(q), q


def create_decision_rule(
    name: str,
    condition: Callable[[dict[str, Any]], bool] | str,
    decision_type: DecisionType,
    parameters_fn: Callable[[dict[str, Any]], dict[str, Any]] | Mapping[str, Any],
    priority: int = 0,
    description: str = "",
    *,
    cooldown_seconds: float | None = None,
    role: str = "fallback",
    veto: tuple[DecisionType, ...] = (),
) -> DecisionRule:
    """Build an enabled :class:`~autoopt.DecisionRule` with a fresh ``rule_id``.

    A str ``condition`` makes a declarative rule, and a dict ``parameters_fn``
    holds expressions (str values) and constants (other values); see
    :class:`~autoopt.DecisionRule`. ``cooldown_seconds`` overrides the engine's
    cooldown for this rule; ``role`` and ``veto`` make a guard.

    Examples
    --------
    >>> from autoopt import create_decision_rule, DecisionType
    >>> rule = create_decision_rule("High CPU", lambda c: c["cpu_usage"] > 80,
    ...                             DecisionType.SCALE_UP, lambda c: {"instances": 2}, priority=10)
    >>> rule.priority, rule.enabled
    (10, True)
    >>> rule = create_decision_rule("scale", condition="cpu_usage > 80", decision_type=DecisionType.SCALE_UP,
    ...                             parameters_fn={"instances": "ceil(request_rate / 400)", "zone": "'a'"})
    >>> rule.to_dict()["condition"], rule.to_dict()["parameters_fn"]
    ('cpu_usage > 80', {'instances': 'ceil(request_rate / 400)', 'zone': "'a'"})
    """
    return DecisionRule(
        rule_id=new_id(),
        name=name,
        condition=condition,  # type: ignore[arg-type]
        decision_type=decision_type,
        parameters_fn=parameters_fn,  # type: ignore[arg-type]
        priority=priority,
        enabled=True,
        description=description,
        cooldown_seconds=cooldown_seconds,
        role=role,
        veto=veto,
    )


@dataclass(eq=False)
class RuleState:
    """Per-rule bookkeeping: the settings validated at ``add_rule``, cooldown, feedback and errors."""

    rule: DecisionRule
    seq: int
    priority: int
    decision_type: DecisionType
    cooldown: float | None
    veto: frozenset[DecisionType]
    expression: str | None
    last_fired: float | None = None
    fired: int = 0
    feedback_n: int = 0
    feedback_sum: float = 0.0
    confidence: DecisionConfidence = DecisionConfidence.UNCERTAIN
    confidence_score: float | None = None
    errors: int = 0
    last_error: str | None = None
    removed: bool = False

    @property
    def order_key(self) -> tuple[int, int]:
        return (-self.priority, self.seq)


@dataclass(frozen=True)
class Segment:
    """Consecutive fallback rules of the evaluation order.

    A run of declarative rules is compiled into one function (``first``) that returns the index
    of the first rule whose condition holds; a run of rules with Python callables is scanned by
    the engine (``first`` None), with ``items`` holding ``(state, rule, condition)`` for the loop.
    """

    states: tuple[RuleState, ...]
    first: Callable[[Mapping[str, Any], frozenset[int]], int] | None  # skipping a set of indexes
    first_all: Callable[[Mapping[str, Any]], int] | None  # the same with nothing skipped
    start: int  # position of states[0] in the fallback order

    _items: tuple[tuple[RuleState, DecisionRule, Callable[..., Any]], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "_items", tuple((st, st.rule, st.rule.condition) for st in self.states))


@dataclass(frozen=True)
class Snapshot:
    """What ``evaluate`` reads without the lock: the rule order, compiled, and the policy."""

    guards: tuple[RuleState, ...] = ()
    fallbacks: tuple[RuleState, ...] = ()
    segments: tuple[Segment, ...] = ()
    positions: dict[int, int] = field(default_factory=dict)  # id(state) -> fallback position
    by_type: dict[DecisionType, frozenset[int]] = field(default_factory=dict)  # fallback positions
    disabled: frozenset[int] = frozenset()  # positions of disabled declarative rules (read at build)
    policy: Any = None
    min_confidence: float = 0.75


def build_snapshot(states: list[RuleState], policy: Any, min_confidence: float) -> Snapshot:
    """Sort the rules, split guards from fallbacks, and compile runs of declarative fallbacks."""
    order = sorted(states, key=lambda s: s.order_key)
    guards = tuple(s for s in order if s.rule.role == "guard")
    fallbacks = tuple(s for s in order if s.rule.role != "guard")
    segments: list[Segment] = []
    run: list[RuleState] = []
    run_start = 0

    def close_run() -> None:
        if run:
            conditions = [r.rule.condition for r in run]
            segments.append(
                Segment(
                    tuple(run),
                    compile_first_match(conditions, blocking=True),  # type: ignore[arg-type]
                    compile_first_match(conditions, blocking=False),  # type: ignore[arg-type]
                    run_start,
                )
            )
            run.clear()

    lambdas: list[RuleState] = []
    lambdas_start = 0

    def close_lambdas() -> None:
        if lambdas:
            segments.append(Segment(tuple(lambdas), None, None, lambdas_start))
            lambdas.clear()

    for pos, s in enumerate(fallbacks):
        if s.rule.declarative:
            close_lambdas()
            if not run:
                run_start = pos
            run.append(s)
        else:
            close_run()
            if not lambdas:
                lambdas_start = pos
            lambdas.append(s)
    close_run()
    close_lambdas()
    disabled = frozenset(pos for pos, s in enumerate(fallbacks) if s.rule.declarative and not s.rule.enabled)
    by_type: dict[DecisionType, set[int]] = {}
    for pos, s in enumerate(fallbacks):
        by_type.setdefault(s.decision_type, set()).add(pos)
    return Snapshot(
        guards=guards,
        fallbacks=fallbacks,
        segments=tuple(segments),
        positions={id(s): pos for pos, s in enumerate(fallbacks)},
        by_type={t: frozenset(p) for t, p in by_type.items()},
        disabled=disabled,
        policy=policy,
        min_confidence=min_confidence,
    )


def check_against_schema(rule: DecisionRule, kinds: Mapping[str, str]) -> None:
    """Re-check a declarative rule's expressions against the engine's context keys (names and kinds)."""
    what = f"DecisionRule.condition of {rule.name!r}"
    cond = rule.condition
    if isinstance(cond, Expression):
        parse_expression(cond.source, kinds, what=what, expect="bool")
    params = rule.parameters_fn
    if isinstance(params, ParameterMap):
        for key, expr in params.expressions.items():
            parse_expression(expr.source, kinds, what=f"DecisionRule.parameters_fn of {rule.name!r}[{key!r}]")


# ------------------------------------------------------------------------------------ rule files

_RULE_FIELDS = (
    "rule_id",
    "name",
    "condition",
    "decision_type",
    "parameters",
    "priority",
    "enabled",
    "description",
    "cooldown_seconds",
    "role",
    "veto",
)


def rule_to_dict(rule: DecisionRule) -> dict[str, Any]:
    """A declarative rule as plain data for a rule file."""
    if not rule.declarative:
        raise TypeError(
            f"rule {rule.name!r} ({rule.rule_id}) has a Python callable as its condition or parameters, which "
            "cannot be saved; write it as a declarative rule (a str condition and a dict of parameters)."
        )
    assert isinstance(rule.condition, Expression)
    assert isinstance(rule.parameters_fn, ParameterMap)
    return {
        "rule_id": rule.rule_id,
        "name": rule.name,
        "condition": rule.condition.source,
        "decision_type": rule.decision_type.value,
        "parameters": rule.parameters_fn.to_dict(),
        "priority": rule.priority,
        "enabled": rule.enabled,
        "description": rule.description,
        "cooldown_seconds": rule.cooldown_seconds,
        "role": rule.role,
        "veto": [v.value for v in rule.veto],
    }


def rules_to_dict(rules: list[DecisionRule], context_keys: list[Any]) -> dict[str, Any]:
    """The rule-file document: ``version``, registered ``context_keys`` and ``rules``."""
    return {
        "version": RULES_FORMAT_VERSION,
        "context_keys": [
            {"name": k.name, "kind": k.kind, "unit": k.unit, "description": k.description}
            for k in context_keys
        ],
        "rules": [rule_to_dict(r) for r in rules],
    }


def rules_from_dict(doc: Any, where: str) -> tuple[list[DecisionRule], list[dict[str, Any]]]:
    """Validate a rule-file document; return its rules and its context keys (as dicts)."""
    if not isinstance(doc, Mapping):
        raise ValueError(
            f"{where}: a rule file must be a mapping with 'version' and 'rules'; got {type(doc).__name__}."
        )
    unknown = sorted(set(doc) - {"version", "rules", "context_keys"})
    if unknown:
        raise ValueError(f"{where}: unknown top-level key(s) {unknown}.")
    if doc.get("version") != RULES_FORMAT_VERSION:
        raise ValueError(f"{where}: 'version' must be {RULES_FORMAT_VERSION}; got {doc.get('version')!r}.")
    keys = doc.get("context_keys", [])
    if not isinstance(keys, list) or not all(isinstance(k, Mapping) for k in keys):
        raise ValueError(f"{where}: 'context_keys' must be a list of mappings.")
    items = doc.get("rules")
    if not isinstance(items, list):
        raise ValueError(f"{where}: 'rules' must be a list; got {type(items).__name__}.")
    rules: list[DecisionRule] = []
    for i, item in enumerate(items):
        label = f"{where}: rules[{i}]"
        if not isinstance(item, Mapping):
            raise ValueError(f"{label} must be a mapping; got {type(item).__name__}.")
        extra = sorted(set(item) - set(_RULE_FIELDS))
        missing = sorted({"name", "condition", "decision_type"} - set(item))
        if extra or missing:
            raise ValueError(f"{label}: unknown field(s) {extra} / missing field(s) {missing}.")
        try:
            rules.append(
                DecisionRule(
                    rule_id=item.get("rule_id") or new_id(),
                    name=item["name"],
                    condition=item["condition"],
                    decision_type=item["decision_type"],
                    parameters_fn=item.get("parameters", {}),
                    priority=item.get("priority", 0),
                    enabled=item.get("enabled", True),
                    description=item.get("description", ""),
                    cooldown_seconds=item.get("cooldown_seconds"),
                    role=item.get("role", "fallback"),
                    veto=tuple(item.get("veto", ())),
                )
            )
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{label} ({item.get('name')!r}): {exc}") from None
    return rules, [dict(k) for k in keys]


def read_text(source: Any, method: str) -> str:
    """A ``pathlib.Path`` is read as a file; a ``str`` is the text itself."""
    if isinstance(source, Path):
        return source.read_text(encoding="utf-8")
    if isinstance(source, str):
        return source
    raise TypeError(
        f"{method}() argument 'source' must be a str (the text) or a pathlib.Path; got {type(source).__name__}."
    )


def load_yaml(text: str) -> Any:
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - PyYAML is a dependency
        raise ImportError("reading YAML rule files needs PyYAML: pip install pyyaml") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"from_yaml(): not valid YAML: {exc}") from None


def dump_yaml(doc: dict[str, Any]) -> str:
    import yaml

    return str(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))


def load_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"from_json(): not valid JSON: {exc}") from None


def finite_or_none(x: float) -> float | None:
    return None if x != x or math.isinf(x) else x
