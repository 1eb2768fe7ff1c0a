"""Former home of the sliding regression: it lives in :mod:`autoopt.prediction` now.

``from autoopt.core.ols import SlidingOLS`` (and ``OLSPrediction``,
``t_quantile``) still works, with a ``DeprecationWarning``; the names are
imported from their new home only when asked for.
"""

from __future__ import annotations

from typing import Any

from autoopt.core._moved import moved_attribute


def __getattr__(name: str) -> Any:
    return moved_attribute(__name__, name)
