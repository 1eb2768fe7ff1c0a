"""Self-tuning of parameters, backed by Optuna.

:class:`SelfTuner` runs tuning sessions through Optuna's ask-and-tell
interface; each :class:`~autoopt.enums.TuningStrategy` maps onto an Optuna
sampler. The samplers written here are public too:

- :class:`SPSASampler`, simultaneous perturbation stochastic approximation
  (the ``GRADIENT_DESCENT`` strategy);
- :class:`PortfolioSampler` with its :data:`SwitchRule` protocol
  (:class:`StagedRule`, :class:`ExploreWhileTied`, :class:`PortfolioState`), the members
  :class:`SobolSampler` and :class:`WarmStartCmaSampler`, and
  :func:`adaptive_portfolio`, the ``ADAPTIVE`` strategy.

Optuna is imported lazily: ``import autoopt.tuning`` does not load it; the
first :meth:`SelfTuner.create_session` or access to one of the samplers does.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from autoopt.tuning._params import CategoricalParam, FloatParam, IntParam
from autoopt.tuning._tuner import SelfTuner

if TYPE_CHECKING:
    from autoopt.tuning._driver import TrialHandle, TrialResult
    from autoopt.tuning._plots import plot_optimization_history, plot_parallel_coordinates
    from autoopt.tuning._results import param_importances, trials_frame
    from autoopt.tuning.samplers._portfolio import (
        ExploreWhileTied,
        PortfolioSampler,
        PortfolioState,
        SobolSampler,
        StagedRule,
        SwitchRule,
        WarmStartCmaSampler,
        adaptive_portfolio,
    )
    from autoopt.tuning.samplers._spsa import SPSASampler

__all__ = [
    "CategoricalParam",
    "ExploreWhileTied",
    "FloatParam",
    "IntParam",
    "PortfolioSampler",
    "PortfolioState",
    "SPSASampler",
    "SelfTuner",
    "SobolSampler",
    "StagedRule",
    "SwitchRule",
    "TrialHandle",
    "TrialResult",
    "WarmStartCmaSampler",
    "adaptive_portfolio",
    "param_importances",
    "plot_optimization_history",
    "plot_parallel_coordinates",
    "trials_frame",
]

# Names that need Optuna, loaded on first access (PEP 562).
_LAZY = {
    "ExploreWhileTied": "autoopt.tuning.samplers._portfolio",
    "PortfolioSampler": "autoopt.tuning.samplers._portfolio",
    "PortfolioState": "autoopt.tuning.samplers._portfolio",
    "SobolSampler": "autoopt.tuning.samplers._portfolio",
    "StagedRule": "autoopt.tuning.samplers._portfolio",
    "SwitchRule": "autoopt.tuning.samplers._portfolio",
    "WarmStartCmaSampler": "autoopt.tuning.samplers._portfolio",
    "adaptive_portfolio": "autoopt.tuning.samplers._portfolio",
    "SPSASampler": "autoopt.tuning.samplers._spsa",
    "TrialHandle": "autoopt.tuning._driver",
    "TrialResult": "autoopt.tuning._driver",
    "param_importances": "autoopt.tuning._results",
    "plot_optimization_history": "autoopt.tuning._plots",
    "plot_parallel_coordinates": "autoopt.tuning._plots",
    "trials_frame": "autoopt.tuning._results",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
