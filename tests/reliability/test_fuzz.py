"""The reliability fuzz suite: every bad input class on every public entry point.

Driven by :data:`fuzz_table.ENTRY_POINTS`. For each entry point, each argument and each bad-input
class that applies to it, the call must raise :class:`ValueError` or :class:`TypeError` whose
message names the argument, and leave the component's state exactly as it was: the digest of
everything it holds (:func:`fuzz_digest.state_digest`) is compared before and after, not only
its statistics.

Two tests share the table:

- ``test_every_listed_bad_input`` tries every listed value of every class, deterministically (the
  counts in the closing notes come from it);
- ``test_drawn_bad_inputs`` lets Hypothesis draw 20 derandomised examples per entry point, mixing
  listed values with generated ones (random negatives, values past a bound, ints past float's range).

A class that another issue fixes (``EntryPoint.pending``) runs as a strict xfail naming it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fuzz_digest import state_digest, state_tokens
from fuzz_table import ENTRY_POINTS, Arg, EntryPoint, From
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def _valid_kwargs(ep: EntryPoint, state: Any) -> dict[str, Any]:
    return {a.name: a.valid.factory(state) if isinstance(a.valid, From) else a.valid for a in ep.args}


def check_refused(ep: EntryPoint, arg: Arg, value: Any) -> str:
    """Call ``ep`` with ``arg`` set to ``value``; assert a clear error and unchanged state; return the message."""
    state = ep.make()
    kwargs = _valid_kwargs(ep, state)
    kwargs[arg.name] = value
    before = None if state.subject is None else state_digest(state.subject)
    tokens = None if state.subject is None else state_tokens(state.subject)
    try:
        ep.call(state, **kwargs)
    except (ValueError, TypeError) as exc:
        message = str(exc)
    except Exception as exc:  # an obscure error is a failure too
        raise AssertionError(
            f"{ep.name}({arg.name}={value!r:.80}) raised {type(exc).__name__}, not ValueError/TypeError: {exc}"
        ) from exc
    else:
        raise AssertionError(f"{ep.name}({arg.name}={value!r:.80}) was accepted")
    assert arg.expected() in message, (
        f"{ep.name}({arg.name}={value!r:.80}): the message does not name {arg.expected()}: {message}"
    )
    if state.subject is not None:
        after = state_digest(state.subject)
        if after != before:
            changed = [t for t in state_tokens(state.subject) if t not in set(tokens or ())][:5]
            raise AssertionError(f"{ep.name}({arg.name}={value!r:.80}) changed state: {changed}")
    return message


def test_valid_calls_succeed() -> None:
    """Each row's valid arguments are accepted, so a refusal in the other tests is the bad value's doing."""
    for ep in ENTRY_POINTS:
        state = ep.make()
        ep.call(state, **_valid_kwargs(ep, state))


SWEEP = [
    pytest.param(
        ep,
        cls,
        id=f"{ep.name}-{cls}",
        marks=[pytest.mark.xfail(strict=True, reason=ep.pending[cls])] if cls in ep.pending else [],
    )
    for ep in ENTRY_POINTS
    for cls in sorted({c for a in ep.args for c in a.bad})
]


@pytest.mark.parametrize(("ep", "cls"), SWEEP)
def test_every_listed_bad_input(ep: EntryPoint, cls: str) -> None:
    for arg in ep.args:
        for value in arg.bad.get(cls, ()):
            check_refused(ep, arg, value)


def _draws(ep: EntryPoint) -> st.SearchStrategy[tuple[Arg, Any]]:
    options: list[st.SearchStrategy[tuple[Arg, Any]]] = []
    for arg in ep.args:
        for cls, values in arg.bad.items():
            if cls in ep.pending:
                continue
            pool: st.SearchStrategy[Any] = st.sampled_from(values)
            if cls in arg.draws:
                pool = pool | arg.draws[cls]
            options.append(st.tuples(st.just(arg), pool))
    return st.one_of(options)


@pytest.mark.parametrize("ep", ENTRY_POINTS, ids=[ep.name for ep in ENTRY_POINTS])
def test_drawn_bad_inputs(ep: EntryPoint) -> None:
    @settings(
        max_examples=20,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(_draws(ep))
    def run(case: tuple[Arg, Any]) -> None:
        check_refused(ep, *case)

    run()


def test_the_table_covers_the_public_api() -> None:
    """Every public class and factory in autoopt.__all__ has a row, or a stated reason for having none."""
    import autoopt

    excluded = {
        # enums: Python's Enum lookup
        "DecisionType", "DecisionConfidence", "TuningStrategy", "TuningStatus", "SchedulerPriority",
        "TaskState", "LoadLevel", "RemediationAction", "PredictionType", "LearningMode",
        # records the library creates and users read (validated where they come back in)
        "Decision", "Remediation", "Prediction", "LearningPattern", "TuningSession", "ScheduledTask",
        "BacktestResult", "VisionDescription",
        # abstract base, exceptions, version
        "VisionProvider", "Policy", "LoadShedError", "TrialPruned", "UnknownIdError", "__version__",
    }  # fmt: skip
    covered = {re.split(r"[ .]", ep.name)[0] for ep in ENTRY_POINTS}
    covered |= (
        {"TuningParameter"} if "TuningParameter.from_bounds" in {e.name for e in ENTRY_POINTS} else set()
    )
    missing = sorted(set(autoopt.__all__) - excluded - covered)
    assert missing == [], f"public names without a fuzz-table row: {missing}"
