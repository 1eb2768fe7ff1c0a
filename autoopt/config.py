"""Automation configuration."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from autoopt._validation import check_int, check_real

__all__ = ["AutomationConfig", "check_config", "create_automation_config"]


@dataclass
class AutomationConfig:
    """Settings shared by the components of an automation hub.

    Load thresholds are fractions of full utilisation, where utilisation is
    ``max(cpu_usage, memory_usage) / 100``: with the defaults a system at 80 %
    CPU is HIGH and one at 92 % is CRITICAL. They must satisfy
    ``0 < low < moderate < high < critical <= 1``.

    Parameters
    ----------
    decision_cooldown_seconds : int
        Minimum time between two decisions of the same rule.
    tuning_enabled, prediction_enabled, auto_remediation_enabled, learning_enabled : bool
        Switch the corresponding stage of
        :meth:`~autoopt.IntelligentAutomationHub.process_metrics` on or off.
    max_concurrent_tasks : int
        Most tasks the scheduler runs at once.
    load_threshold_critical, load_threshold_high : float
        Utilisation at or above which load is CRITICAL, respectively HIGH.
    prediction_horizon_minutes : int
        Default forecast horizon of the predictor.
    load_threshold_moderate, load_threshold_low : float
        Utilisation at or above which load is MODERATE, respectively LOW;
        below ``load_threshold_low`` it is IDLE.

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
    load_threshold_moderate: float = 0.5
    load_threshold_low: float = 0.25

    def __post_init__(self) -> None:
        check_int(self.decision_cooldown_seconds, "AutomationConfig.decision_cooldown_seconds", low=0)
        check_int(self.max_concurrent_tasks, "AutomationConfig.max_concurrent_tasks", low=1)
        check_int(self.prediction_horizon_minutes, "AutomationConfig.prediction_horizon_minutes", low=1)
        for name in ("tuning_enabled", "prediction_enabled", "auto_remediation_enabled", "learning_enabled"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise TypeError(f"AutomationConfig.{name} must be a bool; got {value!r}.")
        names = (
            "load_threshold_low",
            "load_threshold_moderate",
            "load_threshold_high",
            "load_threshold_critical",
        )
        values = [
            check_real(getattr(self, n), f"AutomationConfig.{n}", low=0.0, high=1.0, low_open=True)
            for n in names
        ]
        for (n1, v1), (n2, v2) in zip(
            zip(names, values, strict=False), zip(names[1:], values[1:], strict=False), strict=False
        ):
            if not v1 < v2:
                raise ValueError(
                    f"AutomationConfig.{n1} ({v1!r}) must be below AutomationConfig.{n2} ({v2!r})."
                )

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-serialisable dict."""
        return asdict(self)


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
