"""Names that moved out of ``autoopt.core``: resolved on first access, with a ``DeprecationWarning``."""

from __future__ import annotations

import importlib
import warnings
from typing import Any

__all__ = ["MOVED", "moved_attribute"]

MOVED: dict[str, tuple[str, str]] = {
    "OLSPrediction": ("autoopt.prediction", "PredictionResults"),
    "SlidingOLS": ("autoopt.prediction", "SlidingOLS"),
    "t_quantile": ("autoopt.prediction", "t_quantile"),
}
"""What moved, by old name: ``(new module, new name)``. ``autoopt.core`` and ``autoopt.core.ols`` had them."""


def moved_attribute(module: str, name: str) -> Any:
    """A module ``__getattr__``: the object ``name`` became, imported only now (``AttributeError`` if
    ``name`` never lived in ``module``)."""
    target = MOVED.get(name)
    if target is None:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    home, new = target
    warnings.warn(
        f"{module}.{name} moved to {home}.{new}; import it from there.",
        DeprecationWarning,
        stacklevel=3,
    )
    return getattr(importlib.import_module(home), new)
