"""DecisionEngine: guards, a policy slot and prioritised fallback rules, with cooldowns and learned confidence."""

from __future__ import annotations

import logging
import threading
from collections import Counter, OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from autoopt._clock import Clock, is_default_stamp, system_clock, to_datetime
from autoopt._validation import (
    check_id,
    check_real,
    check_size,
    check_sync_callable,
    close_awaitable,
    describe_exception,
)
from autoopt.config import AutomationConfig, check_config
from autoopt.decision import _rules
from autoopt.decision._context import ContextSchema, decision_time
from autoopt.decision._counts import DecisionCounts
from autoopt.decision._files import RuleFiles
from autoopt.decision._policy import Policy, Proposal, scaling_delta
from autoopt.decision._records import DecisionRecords
from autoopt.decision._rules import RuleState, Segment, Snapshot, build_snapshot, confidence_band
from autoopt.enums import DecisionType
from autoopt.exceptions import UnknownIdError
from autoopt.models import Decision, DecisionRule, new_id

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DecisionEngine"]

logger = logging.getLogger(__name__)


def _has_time(ctx: Mapping[str, Any]) -> bool:
    """Whether the context carries a time the caller chose (see :func:`decision_time`)."""
    ts = ctx.get("timestamp")
    return ts is not None and not is_default_stamp(ts)


class DecisionEngine(RuleFiles, DecisionRecords):
    """Evaluate guards, a policy and prioritised rules against a context, and learn from feedback.

    :meth:`evaluate` runs, in order (see :class:`~autoopt.decision.Policy` for the contract):

    1. the enabled **guard** rules (``role="guard"``), highest priority first: a guard whose
       condition holds fires its decision, or with a ``veto`` forbids those decision types for the
       rest of the evaluation (vetoes ignore cooldowns);
    2. the **policy**, if one is set with :meth:`set_policy`, when its confidence is at least
       ``min_confidence``;
    3. the enabled **fallback** rules (the default role) from the highest ``priority`` down (ties
       in the order they were added). The first whose ``condition`` holds and which is not cooling
       down fires.

    With no guards and no policy this is the seed's engine. A rule cools down for its own
    ``cooldown_seconds``, or ``config.decision_cooldown_seconds``, after it fires. A rule whose
    ``condition`` or ``parameters_fn`` raises (or whose ``parameters_fn`` returns something other
    than a dict) is skipped, logged and counted in :meth:`get_decision_stats`; so is a policy that
    raises. ``evaluate`` itself never raises because of them.

    **One clock.** Cooldowns and decision times are read from the context's ``timestamp`` (a
    datetime or POSIX seconds) when the caller chose one, so replaying history behaves exactly as
    live use did; otherwise from ``clock``. A wall-clock stamp a sample got by default never
    overrides the clock (which may be simulated).

    **Confidence.** A rule's decision gets the band of its feedback record (see
    :func:`confidence_from_feedback`), with ``confidence_score`` the number behind it; a policy's
    decision the band of its own confidence (HIGH from 0.7, MEDIUM from 0.4).

    **Declarative rules** (expressions, see :class:`~autoopt.DecisionRule`) are checked against
    the engine's context :attr:`schema` when added, compiled together into one function per run
    of consecutive declarative rules, saved and loaded with :meth:`to_yaml`/:meth:`from_yaml`
    (and JSON), and backtested over a DataFrame in NumPy with :meth:`backtest`.

    Parameters
    ----------
    config : AutomationConfig, optional
        ``decision_cooldown_seconds`` sets the per-rule cooldown.
    clock : callable, default time.time
        POSIX-seconds clock for cooldowns and timestamps when the context has no ``timestamp``.
    history_size : int, default 1000
        Decisions retained for :meth:`record_feedback` and :meth:`get_decision_history`.
    schema : ContextSchema, optional
        The context keys declarative rules may read (the defaults of
        :data:`~autoopt.decision.DEFAULT_CONTEXT_KEYS` when None).

    Notes
    -----
    Cost: the rule order is compiled on :meth:`add_rule`/:meth:`remove_rule`/:meth:`set_rule_enabled`
    (copy-on-write, O(rules)), never on :meth:`evaluate`, which reads the clock at most once and
    takes the lock twice; :meth:`record_feedback` is an O(1) lookup; statistics are running counters.

    Thread safety: one lock guards the engine's state. ``evaluate`` reads an immutable snapshot of
    the compiled order and calls conditions, ``parameters_fn`` and the policy *without* holding
    the lock; it re-checks the cooldown under the lock before committing, so two threads never
    both fire a rule inside one cooldown, however long the condition takes. The clock is never
    called with the lock held. ``enabled`` is read live for rules with Python callables, and at
    :meth:`set_rule_enabled` for declarative ones.

    Examples
    --------
    >>> from autoopt import DecisionEngine, DecisionType, create_decision_rule
    >>> from autoopt._clock import ManualClock
    >>> engine = DecisionEngine(clock=ManualClock(0.0))
    >>> engine.add_rule(create_decision_rule(
    ...     "High CPU", lambda ctx: ctx.get("cpu_usage", 0) > 80, DecisionType.SCALE_UP,
    ...     lambda ctx: {"instances": 2}, priority=10))
    >>> d = engine.evaluate({"cpu_usage": 90})
    >>> d.decision_type, d.parameters, d.confidence
    (<DecisionType.SCALE_UP: 'scale_up'>, {'instances': 2}, <DecisionConfidence.UNCERTAIN: 'uncertain'>)
    >>> engine.evaluate({"cpu_usage": 95}) is None   # cooling down for 60 s
    True
    >>> engine.record_feedback(d.decision_id, "latency recovered", 1.0).feedback_score
    1.0
    """

    def __init__(
        self,
        config: AutomationConfig | None = None,
        *,
        clock: Clock = system_clock,
        history_size: int = 1000,
        schema: ContextSchema | None = None,
    ) -> None:
        self.config = check_config(config, "DecisionEngine()")
        self.history_size = check_size(history_size, "DecisionEngine() argument 'history_size'")
        self._clock = check_sync_callable(clock, "DecisionEngine() argument 'clock'")
        if schema is not None and not isinstance(schema, ContextSchema):
            raise TypeError(
                f"DecisionEngine() argument 'schema' must be a ContextSchema or None; got {schema!r}."
            )
        self.schema = schema if schema is not None else ContextSchema()
        self._lock = threading.Lock()
        self._rules: dict[str, RuleState] = {}
        self._snap = Snapshot()
        self._policy: Policy | None = None
        self._min_confidence = 0.75
        self._seq = 0
        self._cooling: dict[int, RuleState] = {}  # fallback position -> a declarative rule that fired
        self._history: OrderedDict[str, Decision] = OrderedDict()
        self._counts = DecisionCounts()
        self._evaluations = 0
        self._cooldown_skips = 0
        self._feedback_n = 0
        self._feedback_sum = 0.0
        self._rule_errors_total = 0
        self._policy_stats: Counter[str] = Counter()
        self._last_policy_error: str | None = None

    @property
    def cooldown_seconds(self) -> float:
        """Per-rule cooldown from the config."""
        return float(self.config.decision_cooldown_seconds)

    # ------------------------------------------------------------------- rules

    def _rebuild(self) -> None:
        """Under the lock: recompile the order (the old snapshot stays valid for readers)."""
        self._snap = build_snapshot(list(self._rules.values()), self._policy, self._min_confidence)
        self._cooling = {
            self._snap.positions[id(s)]: s for s in self._cooling.values() if id(s) in self._snap.positions
        }

    def register_context_key(
        self, name: str, kind: str = "number", unit: str = "", description: str = ""
    ) -> None:
        """Let declarative rules read ``name`` (see :class:`~autoopt.decision.ContextSchema`)."""
        self.schema.register(name, kind, unit, description)

    def add_rule(self, rule: DecisionRule) -> None:
        """Add a rule.

        The rule is validated again first (:meth:`DecisionRule.validate`: dataclasses are mutable),
        a declarative rule's expressions are checked against :attr:`schema` (an unknown name raises
        with its position), and its ``priority``, ``decision_type``, ``cooldown_seconds``, ``role``
        and ``veto`` are read now: to change them later, remove the rule and add it again.

        Raises
        ------
        TypeError, ValueError
            If ``rule`` is not a valid :class:`~autoopt.DecisionRule` (the message names the
            field), or a rule with the same ``rule_id`` exists (remove it first). Nothing is
            registered then.
        """
        if not isinstance(rule, DecisionRule):
            raise TypeError(f"add_rule() argument 'rule' must be a DecisionRule; got {rule!r}.")
        rule.validate()
        _rules.check_against_schema(rule, self.schema.kinds())  # its expressions, if it has any
        cond = rule.condition
        with self._lock:
            if rule.rule_id in self._rules:
                raise ValueError(f"add_rule(): a rule with rule_id {rule.rule_id!r} already exists.")
            self._seq += 1
            self._rules[rule.rule_id] = RuleState(
                rule=rule,
                seq=self._seq,
                priority=rule.priority,
                decision_type=rule.decision_type,
                cooldown=rule.cooldown_seconds,
                veto=frozenset(rule.veto),
                expression=getattr(cond, "source", None) if rule.declarative else None,
            )
            self._rebuild()

    def remove_rule(self, rule_id: str) -> bool:
        """Remove a rule; False if there is none with that id."""
        check_id(rule_id, "remove_rule() argument 'rule_id'")
        with self._lock:
            state = self._rules.pop(rule_id, None)
            if state is None:
                logger.debug("remove_rule: unknown rule id %r", rule_id)
                return False
            state.removed = True
            self._rebuild()
            return True

    def get_rule(self, rule_id: str) -> DecisionRule | None:
        """The rule with that id, or None."""
        check_id(rule_id, "get_rule() argument 'rule_id'")
        with self._lock:
            state = self._rules.get(rule_id)
            return None if state is None else state.rule

    def list_rules(self) -> list[DecisionRule]:
        """All rules in evaluation order: guards first, then fallbacks, each highest priority first."""
        snap = self._snap
        return [s.rule for s in (*snap.guards, *snap.fallbacks)]

    def set_rule_enabled(self, rule_id: str, enabled: bool) -> bool:
        """Enable or disable a rule; returns True.

        Raises
        ------
        UnknownIdError
            If no rule has that id.
        """
        check_id(rule_id, "set_rule_enabled() argument 'rule_id'")
        if not isinstance(enabled, bool):
            raise TypeError(f"set_rule_enabled() argument 'enabled' must be a bool; got {enabled!r}.")
        with self._lock:
            state = self._rules.get(rule_id)
            if state is None:
                raise UnknownIdError(f"set_rule_enabled() argument 'rule_id': unknown rule id {rule_id!r}.")
            state.rule.enabled = enabled
            self._rebuild()
            return True

    def set_policy(self, policy: Policy | None, min_confidence: float = 0.75) -> None:
        """Consult ``policy`` between the guards and the fallback rules (None removes it).

        Its proposals are acted on at or above ``min_confidence``; below, the rules decide. The
        policy's :meth:`~autoopt.decision.Policy.reset` is called.
        """
        if policy is not None and not isinstance(policy, Policy):
            raise TypeError(f"set_policy() argument 'policy' must be a Policy or None; got {policy!r}.")
        bar = check_real(min_confidence, "set_policy() argument 'min_confidence'", low=0.0, high=1.0)
        if policy is not None:
            policy.reset()
        with self._lock:
            self._policy, self._min_confidence = policy, bar
            self._rebuild()

    @property
    def policy(self) -> Policy | None:
        """The policy set with :meth:`set_policy`, or None."""
        return self._policy

    # -------------------------------------------------------------- evaluation

    def _record_rule_error(self, state: RuleState, where: str, exc: BaseException | str) -> None:
        message = exc if isinstance(exc, str) else describe_exception(exc)
        logger.warning("rule %r (%s) %s failed: %s", state.rule.name, state.rule.rule_id, where, message)
        with self._lock:
            state.errors += 1
            state.last_error = f"{where}: {message}"
            self._rule_errors_total += 1

    def _holds(self, state: RuleState, ctx: dict[str, Any]) -> bool:
        """The rule's condition on ``ctx``; False (and a recorded error) when it fails."""
        try:
            result = state.rule.condition(ctx)
            if result is not True and result is not False:
                refused = close_awaitable(result)
                if refused is not None:
                    self._record_rule_error(state, "condition", refused)
                    return False
            return bool(result)
        except Exception as exc:
            self._record_rule_error(state, "condition", exc)
            return False

    def _fire(
        self, state: RuleState, ctx: dict[str, Any], now: float | None, cooldown: float
    ) -> Decision | None:
        """Build the rule's parameters and commit its decision; None if they fail or it just fired.

        ``now`` is the context's time, or None to read the clock again here: the condition may have
        taken a while, and the cooldown is re-checked under the lock against the latest time.
        """
        try:
            params = state.rule.parameters_fn(ctx)
            if not isinstance(params, dict):
                refused = close_awaitable(params)
                raise TypeError(refused or f"returned {type(params).__name__}, expected dict")
            delta = scaling_delta(state.decision_type, params)
        except Exception as exc:
            self._record_rule_error(state, "parameters_fn", exc)
            return None
        rule = state.rule
        if now is None:
            now = float(self._clock())
        with self._lock:
            last = state.last_fired
            if state.removed or (last is not None and 0.0 <= now - last < cooldown):
                self._cooldown_skips += 1  # another thread fired it meanwhile, or it was removed
                return None
            state.last_fired = now
            state.fired += 1
            pos = self._snap.positions.get(id(state))
            if pos is not None and state.expression is not None:
                self._cooling[pos] = state
            decision = Decision(
                decision_id=new_id(),
                decision_type=state.decision_type,
                confidence=state.confidence,
                rationale=(
                    f"rule {rule.name!r} (priority {state.priority}) matched"
                    + (f": {rule.description}" if rule.description else "")
                ),
                parameters=params,
                timestamp=to_datetime(now),
                rule_id=rule.rule_id,
                source=rule.name,
                confidence_score=state.confidence_score,
                expression=state.expression,
                delta=delta,
            )
            self._commit(decision)
        return decision

    def _commit(self, decision: Decision) -> None:
        """Under the lock: keep the decision and count it."""
        self._history[decision.decision_id] = decision
        if len(self._history) > self.history_size:
            self._history.popitem(last=False)
        self._counts.count(decision)

    def _ask_policy(
        self, snap: Snapshot, ctx: dict[str, Any], now: float, vetoed: frozenset[DecisionType]
    ) -> Decision | None:
        policy = snap.policy
        try:
            proposal = policy.propose(ctx)
            if proposal is not None and not isinstance(proposal, Proposal):
                raise TypeError(f"propose() returned {type(proposal).__name__}, expected Proposal or None")
            params = None if proposal is None else dict(proposal.parameters)
            delta = None if proposal is None else scaling_delta(proposal.decision_type, proposal.parameters)
        except Exception as exc:
            message = describe_exception(exc)
            logger.warning("policy %s failed: %s", getattr(policy, "name", policy), message)
            with self._lock:
                self._policy_stats["errors"] += 1
                self._last_policy_error = message
            return None
        if proposal is None or params is None:
            with self._lock:
                self._policy_stats["abstained"] += 1
            return None
        outcome = (
            "vetoed"
            if proposal.decision_type in vetoed
            else "deferred"
            if proposal.confidence < snap.min_confidence
            else "used"
        )
        with self._lock:
            self._policy_stats[outcome] += 1
            if outcome != "used":
                return None
            decision = Decision(
                decision_id=new_id(),
                decision_type=proposal.decision_type,
                confidence=confidence_band(proposal.confidence),
                rationale=proposal.rationale
                or f"policy {policy.name} (confidence {proposal.confidence:.2f})",
                parameters=params,
                timestamp=to_datetime(now),
                rule_id=None,
                source=policy.name,
                confidence_score=proposal.confidence,
                delta=delta,
            )
            self._commit(decision)
        return decision

    def evaluate(self, context: Mapping[str, Any]) -> Decision | None:
        """Return the decision of the first guard, the policy or the first fallback rule that fires, or None.

        Parameters
        ----------
        context : mapping
            Passed to each rule's ``condition`` and ``parameters_fn`` and to the policy. A
            ``timestamp`` key (a datetime or POSIX seconds) is the time of the decision.

        Raises
        ------
        TypeError, ValueError
            If ``context`` is not a mapping, or its ``timestamp`` is not a time.
        """
        if not isinstance(context, Mapping):
            raise TypeError(f"evaluate() argument 'context' must be a mapping; got {context!r}.")
        ctx = context if isinstance(context, dict) else dict(context)
        now = decision_time(ctx, self._clock)
        at: float | None = now if _has_time(ctx) else None  # None: commit at a fresh clock reading
        default = self.cooldown_seconds
        snap = self._snap  # immutable: rules run without the lock
        with self._lock:
            self._evaluations += 1
            cooling = self._cooling_positions(now, default) if self._cooling else None
        vetoed: frozenset[DecisionType] = frozenset()
        for state in snap.guards:
            if not state.rule.enabled:
                continue
            cd = default if state.cooldown is None else state.cooldown
            last = state.last_fired
            if not state.veto and last is not None and 0.0 <= now - last < cd:
                with self._lock:
                    self._cooldown_skips += 1
                continue
            if not state.veto and state.decision_type in vetoed:
                continue  # an earlier guard forbids its decision: its condition is not evaluated
            if not self._holds(state, ctx):
                continue
            if state.veto:
                vetoed |= state.veto
            else:
                decision = self._fire(state, ctx, at, cd)
                if decision is not None:
                    return decision
        if snap.policy is not None:
            decision = self._ask_policy(snap, ctx, now if at is None else at, vetoed)
            if decision is not None:
                return decision
        blocked_types = vetoed
        for seg in snap.segments:
            decision = (
                self._run_lambdas(seg, ctx, now, at, default, blocked_types)
                if seg.first is None
                else self._run_compiled(seg, snap, ctx, at, default, cooling, blocked_types)
            )
            if decision is not None:
                return decision
        return None

    def _cooling_positions(self, now: float, default: float) -> frozenset[int]:
        """Under the lock: fallback positions of declarative rules still cooling down (and prune the rest)."""
        out = []
        for pos, st in list(self._cooling.items()):
            cd = default if st.cooldown is None else st.cooldown
            last = st.last_fired
            if last is not None and 0.0 <= now - last < cd:
                out.append(pos)
            else:
                del self._cooling[pos]
        return frozenset(out)

    def _run_lambdas(
        self,
        seg: Segment,
        ctx: dict[str, Any],
        now: float,
        at: float | None,
        default: float,
        vetoed: frozenset[DecisionType],
    ) -> Decision | None:
        """Scan a run of rules with Python callables: the serving path's loop, kept tight.

        Per rule it reads ``enabled`` and the cooldown and calls the condition; a condition that
        raises is recorded and the scan resumes after it (the try block costs nothing until then).
        """
        items = seg._items
        n = len(items)
        k = 0
        skips = 0
        while k < n:
            hit = -1
            try:
                for k in range(k, n):  # noqa: B020 - resumes after a raising condition
                    state, rule, cond = items[k]
                    if not rule.enabled:
                        continue
                    last = state.last_fired
                    if last is not None:
                        cd = default if state.cooldown is None else state.cooldown
                        if 0.0 <= now - last < cd:
                            skips += 1
                            continue
                    if vetoed and state.decision_type in vetoed:
                        continue
                    result = cond(ctx)
                    if result is False:
                        continue
                    if result is not True:
                        refused = close_awaitable(result)
                        if refused is not None:
                            self._record_rule_error(state, "condition", refused)
                            continue
                        if not result:
                            continue
                    hit = k
                    break
                else:
                    k = n
            except Exception as exc:
                self._record_rule_error(items[k][0], "condition", exc)
                k += 1
                continue
            if hit < 0:
                break
            state = items[hit][0]
            decision = self._fire(state, ctx, at, default if state.cooldown is None else state.cooldown)
            if decision is not None:
                if skips:
                    with self._lock:
                        self._cooldown_skips += skips
                return decision
            k = hit + 1
        if skips:
            with self._lock:
                self._cooldown_skips += skips
        return None

    def _run_compiled(
        self,
        seg: Segment,
        snap: Snapshot,
        ctx: dict[str, Any],
        at: float | None,
        default: float,
        cooling: frozenset[int] | None,
        vetoed: frozenset[DecisionType],
    ) -> Decision | None:
        start, n = seg.start, len(seg.states)
        blocked = {p - start for p in snap.disabled if start <= p < start + n}
        cooled = set() if cooling is None else {p - start for p in cooling if start <= p < start + n}
        blocked |= cooled
        for t in vetoed:
            blocked |= {p - start for p in snap.by_type.get(t, ()) if start <= p < start + n}
        decision = None
        by_rule = -1  # once a condition raised: the rule-by-rule scan's next start (errors recorded once)
        while True:
            if by_rule >= 0:
                i = self._first_by_rule(seg, ctx, blocked, by_rule)
            else:
                try:
                    i = seg.first(ctx, frozenset(blocked)) if blocked else seg.first_all(ctx)  # type: ignore[misc]
                except Exception:  # some condition raised: find and record it, rule by rule
                    i = self._first_by_rule(seg, ctx, blocked, 0)
                    by_rule = 0
            if i < 0:
                break
            if by_rule >= 0:
                by_rule = i + 1
            state = seg.states[i]
            decision = self._fire(state, ctx, at, default if state.cooldown is None else state.cooldown)
            if decision is not None:
                break
            blocked.add(i)
        if cooled:  # the cooling rules evaluation reached count as skipped, as in the rule-by-rule loop
            skips = sum(1 for j in cooled if i < 0 or j < i)
            if skips:
                with self._lock:
                    self._cooldown_skips += skips
        return decision

    def _first_by_rule(self, seg: Segment, ctx: dict[str, Any], blocked: set[int], start: int) -> int:
        """The first rule from ``start`` whose condition holds, evaluating one by one (recording errors)."""
        for i in range(start, len(seg.states)):
            if i not in blocked and self._holds(seg.states[i], ctx):
                return i
        return -1

    def backtest(self, frame: pd.DataFrame) -> pd.DataFrame:
        """What the rules would have decided on each row of ``frame``; see :func:`autoopt.decision.backtest_rules`."""
        from autoopt.decision._backtest import backtest_rules

        return backtest_rules(self, frame)

    def _backtest_view(self) -> tuple[Snapshot, float]:
        """The compiled order and the default cooldown, for :func:`backtest_rules`."""
        return self._snap, self.cooldown_seconds
