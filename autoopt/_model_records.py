"""The data model's shared helpers: ids and JSON-ready dictionaries of records (see :mod:`autoopt.models`)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import is_dataclass
from datetime import datetime
from enum import Enum
from typing import Any

import numpy as np


def new_id() -> str:
    """A fresh random identifier (a UUID4 hex string)."""
    return uuid.uuid4().hex


def jsonable(obj: Any) -> Any:
    """Convert ``obj`` to JSON-serialisable data.

    Enums become their values, datetimes ISO-8601 strings, NumPy scalars and
    arrays Python numbers and lists, objects with ``to_dict`` their dict,
    callables their qualified name, and anything else its ``repr``.
    Non-finite floats become ``None`` (JSON has no NaN). An object whose own
    ``to_dict`` or ``repr`` raises becomes a string naming the type and the
    error, so serialising user data never raises.
    """
    if isinstance(obj, Enum):  # before str: StrEnum members are strs
        return jsonable(obj.value)
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, np.ndarray):
        return [jsonable(x) for x in obj.tolist()]
    if isinstance(obj, Mapping):
        return {str(jsonable(k)): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [jsonable(x) for x in obj]
    try:
        to_dict = getattr(obj, "to_dict", None)
        if callable(to_dict) and not isinstance(obj, type):
            return jsonable(to_dict())
        if callable(obj):
            return getattr(obj, "__qualname__", None) or repr(obj)
        if is_dataclass(obj) and not isinstance(obj, type):
            return {f: jsonable(getattr(obj, f)) for f in obj.__dataclass_fields__}
        return repr(obj)
    except Exception as exc:  # user objects: a broken to_dict/repr must not break serialisation
        return f"<unserialisable {type(obj).__name__}: {type(exc).__name__}: {exc}>"


def record_dict(obj: Any, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    return {f: jsonable(getattr(obj, f)) for f in obj.__dataclass_fields__ if f not in exclude}
