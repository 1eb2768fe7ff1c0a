"""Automation configuration."""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from autoopt._validation import check_real, check_size

__all__ = ["AutomationConfig", "check_config", "create_automation_config"]


@dataclass
class AutomationConfig:
    """Settings shared by the components of an automation hub.

    Load thresholds are fractions of full utilisation, where utilisation is
    ``max(cpu_usage, memory_usage) / 100``: with the defaults a system at 80 %
    CPU is HIGH and one at 92 % is CRITICAL. They must satisfy
    ``0 < low < moderate < high < critical <= 1``.

    The seed has only the critical and high thresholds. The moderate and low
    ones, when not given (None), are derived from the others:
    ``moderate = min(0.5, 2/3 * high)``, or midway between ``low`` and
    ``high`` when an explicit ``low`` is not below that, and
    ``low = min(0.25, moderate / 2)``. So the defaults are 0.5 and 0.25, and
    ``load_threshold_high=0.3`` gives 0.2 and 0.1. A derived threshold is
    derived again when a threshold it depends on is assigned; an explicit one
    stays as given (and an inconsistent explicit one raises).

    Components read the config live. Assigning a field re-validates the whole
    config, so an assignment that would make it inconsistent raises and
    changes nothing.

    Parameters
    ----------
    decision_cooldown_seconds : int
        Minimum time between two decisions of the same rule.
    tuning_enabled : bool
        A kill switch for self-tuning: while False, :meth:`~autoopt.SelfTuner.step`
        proposes nothing (results of trials already handed out are still recorded).
    prediction_enabled, auto_remediation_enabled, learning_enabled : bool
        Switch the corresponding stage of
        :meth:`~autoopt.IntelligentAutomationHub.process_metrics` on or off.
    max_concurrent_tasks : int
        Most tasks the scheduler runs at once.
    load_threshold_critical, load_threshold_high : float
        Utilisation at or above which load is CRITICAL, respectively HIGH.
    prediction_horizon_minutes : int
        Default forecast horizon of the predictor.
    load_threshold_moderate, load_threshold_low : float or None
        Utilisation at or above which load is MODERATE, respectively LOW;
        below ``load_threshold_low`` it is IDLE. None derives them (above).
    max_clock_skew_s : float or None, default 86400
        A sample time more than this many seconds ahead of a component's
        clock is refused (a far-future stamp would otherwise drag every later
        sample up to it). Default stamps (the wall clock, when no time was
        given) are never checked. None turns the check off.
    max_backward_step_s : float or None, default 5
        A sample up to this many seconds older than the latest one of its
        stream (recorders racing under concurrent use) is placed at the
        latest time and counted; an older one is refused. None places every
        late sample at the latest time.

    Examples
    --------
    >>> from autoopt import AutomationConfig
    >>> cfg = AutomationConfig(load_threshold_high=0.7)
    >>> cfg.load_threshold_critical
    0.9
    >>> AutomationConfig(load_threshold_high=1.5)
    Traceback (most recent call last):
    ...
    ValueError: AutomationConfig.load_threshold_high must be a finite number in (0, 1]; got 1.5.
    >>> cfg.load_threshold_high = 0.95
    Traceback (most recent call last):
    ...
    ValueError: AutomationConfig.load_threshold_high (0.95) must be below AutomationConfig.load_threshold_critical (0.9).
    >>> cfg.load_threshold_high
    0.7
    """

    decision_cooldown_seconds: int = 60
    tuning_enabled: bool = True
    prediction_enabled: bool = True
    auto_remediation_enabled: bool = True
    learning_enabled: bool = True
    max_concurrent_tasks: int = 10
    load_threshold_critical: float = 0.9
    load_threshold_high: float = 0.75
    prediction_horizon_minutes: int = 30
    # None derives them (see above); after construction they are always floats.
    load_threshold_moderate: float = None  # type: ignore[assignment]
    load_threshold_low: float = None  # type: ignore[assignment]
    max_clock_skew_s: float | None = 86_400.0
    max_backward_step_s: float | None = 5.0

    def __post_init__(self) -> None:
        derived = frozenset(name for name in _DERIVABLE if self.__dict__[name] is None)
        object.__setattr__(self, "_derived", derived)
        for name, value in _validated(self.__dict__, derived).items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_checked", True)

    def __setattr__(self, name: str, value: Any) -> None:
        # After construction an assignment re-validates the whole config, so the components that read
        # it live never see an inconsistent one (e.g. a high threshold above the critical one).
        if self.__dict__.get("_checked", False) and name in _FIELDS:
            derived: frozenset[str] = self.__dict__["_derived"]
            derived = derived | {name} if (name in _DERIVABLE and value is None) else derived - {name}
            values = _validated({**self.__dict__, name: value}, derived)
            for key in derived:  # thresholds derived from the one assigned move with it
                object.__setattr__(self, key, values[key])
            object.__setattr__(self, "_derived", derived)
            value = values[name]
        object.__setattr__(self, name, value)

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-serialisable dict."""
        return asdict(self)


_FIELDS = frozenset(f.name for f in fields(AutomationConfig))
_SWITCHES = ("tuning_enabled", "prediction_enabled", "auto_remediation_enabled", "learning_enabled")
_THRESHOLDS = (
    "load_threshold_low",
    "load_threshold_moderate",
    "load_threshold_high",
    "load_threshold_critical",
)
_DERIVABLE = ("load_threshold_moderate", "load_threshold_low")
_TIME_LIMITS = ("max_clock_skew_s", "max_backward_step_s")


def _derive_thresholds(out: dict[str, Any], values: dict[str, Any], derived: frozenset[str]) -> None:
    """Fill in the moderate and low thresholds that were not given (see the class docstring)."""
    high = out["load_threshold_high"]
    if "load_threshold_moderate" in derived:
        moderate = min(0.5, high * 2 / 3)
        if "load_threshold_low" not in derived and values["load_threshold_low"] is not None:
            low = check_real(values["load_threshold_low"], "AutomationConfig.load_threshold_low")
            if moderate <= low:
                moderate = (low + high) / 2
        values = {**values, "load_threshold_moderate": moderate}
    if "load_threshold_low" in derived:
        moderate_value = check_real(
            values["load_threshold_moderate"], "AutomationConfig.load_threshold_moderate"
        )
        values = {**values, "load_threshold_low": min(0.25, moderate_value / 2)}
    for name in _DERIVABLE:
        out[name] = values[name]


def _validated(values: dict[str, Any], derived: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Check a config's field values together; return them as plain Python ints, floats and bools.

    ``derived`` names the thresholds to derive rather than take from ``values``.
    """
    out: dict[str, Any] = {
        "decision_cooldown_seconds": check_size(
            values["decision_cooldown_seconds"], "AutomationConfig.decision_cooldown_seconds", low=0
        ),
        "max_concurrent_tasks": check_size(
            values["max_concurrent_tasks"], "AutomationConfig.max_concurrent_tasks"
        ),
        "prediction_horizon_minutes": check_size(
            values["prediction_horizon_minutes"], "AutomationConfig.prediction_horizon_minutes"
        ),
    }
    for name in _SWITCHES:
        value = values[name]
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"AutomationConfig.{name} must be a bool; got {value!r}.")
        out[name] = bool(value)
    for name in ("load_threshold_high", "load_threshold_critical"):
        out[name] = check_real(values[name], f"AutomationConfig.{name}", low=0.0, high=1.0, low_open=True)
    _derive_thresholds(out, values, derived)
    for name in _DERIVABLE:
        out[name] = check_real(out[name], f"AutomationConfig.{name}", low=0.0, high=1.0, low_open=True)
    for name in _TIME_LIMITS:
        value = values[name]
        out[name] = None if value is None else check_real(value, f"AutomationConfig.{name}", low=0.0)
    for lower, upper in itertools.pairwise(_THRESHOLDS):
        if not out[lower] < out[upper]:
            raise ValueError(
                f"AutomationConfig.{lower} ({out[lower]!r}) must be below AutomationConfig.{upper} ({out[upper]!r})."
            )
    return out


def create_automation_config(
    decision_cooldown_seconds: int = 60,
    tuning_enabled: bool = True,
    prediction_enabled: bool = True,
    auto_remediation_enabled: bool = True,
    learning_enabled: bool = True,
    max_concurrent_tasks: int = 10,
    **kwargs: Any,
) -> AutomationConfig:
    """Build a validated :class:`AutomationConfig`.

    Extra keyword arguments set the remaining fields (for example
    ``load_threshold_high=0.7``); an unknown keyword raises :class:`TypeError`.

    Examples
    --------
    >>> from autoopt import create_automation_config
    >>> create_automation_config(decision_cooldown_seconds=5, load_threshold_high=0.7).load_threshold_high
    0.7
    """
    known = {f.name for f in fields(AutomationConfig)}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise TypeError(
            f"create_automation_config() got unknown keyword argument(s) {unknown}; "
            f"valid fields are {sorted(known)}."
        )
    return AutomationConfig(
        decision_cooldown_seconds=decision_cooldown_seconds,
        tuning_enabled=tuning_enabled,
        prediction_enabled=prediction_enabled,
        auto_remediation_enabled=auto_remediation_enabled,
        learning_enabled=learning_enabled,
        max_concurrent_tasks=max_concurrent_tasks,
        **kwargs,
    )


def check_config(config: AutomationConfig | None, owner: str) -> AutomationConfig:
    """Return ``config``, or the default config for None; :class:`TypeError` for anything else.

    ``owner`` names the constructor in the message, e.g. ``"LoadManager()"``.
    """
    if config is None:
        return AutomationConfig()
    if not isinstance(config, AutomationConfig):
        raise TypeError(
            f"{owner} argument 'config' must be an AutomationConfig or None; "
            f"got {config!r} of type {type(config).__name__}."
        )
    return config
