"""A digest of everything an object holds, to check that a refused call changed nothing.

:func:`state_digest` walks the object graph reachable from a component (attributes, slots, dict
items in their order, sequence items, NumPy arrays by their bytes, random generators by their
state) and hashes it. Locks, threads, modules, loggers and code are skipped: they are machinery,
not state. Shared objects and cycles are visited once and referred to by their first position, so
the digest also sees a change of identity (a list replaced by an equal copy is still equal).

:func:`state_tokens` returns the token stream itself, for a readable diff when a digest differs.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import threading
import types
from collections.abc import Iterator, Mapping
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

_SKIP_TYPES: tuple[type, ...] = (
    type(threading.Lock()),
    type(threading.RLock()),
    threading.Condition,
    threading.Event,
    threading.Semaphore,
    threading.Thread,
    types.ModuleType,
    logging.Logger,
    types.CodeType,
    types.FrameType,
)
_ATOMS = (type(None), bool, int, float, complex, str, bytes, date, datetime, timedelta, enum.Enum)
_MAX_TOKENS = 2_000_000


def _tokens(root: Any) -> Iterator[str]:
    seen: dict[int, int] = {}
    keep: list[Any] = []  # keep visited objects alive, so ids are not reused during the walk
    stack: list[tuple[str, Any]] = [("", root)]
    n = 0
    while stack:
        path, obj = stack.pop()
        n += 1
        if n > _MAX_TOKENS:
            raise RuntimeError("state graph too large to digest")
        if isinstance(obj, int) and not isinstance(obj, bool):
            yield f"{path}=int:{obj:x}"  # hex: no limit on the number of digits
            continue
        if isinstance(obj, _ATOMS):
            yield f"{path}={type(obj).__name__}:{obj!r}"
            continue
        if isinstance(obj, _SKIP_TYPES) or (
            callable(getattr(obj, "acquire", None)) and hasattr(obj, "release")
        ):
            continue
        oid = id(obj)
        if oid in seen:
            yield f"{path}=@{seen[oid]}"
            continue
        seen[oid] = n
        keep.append(obj)
        if isinstance(obj, np.ndarray):
            yield f"{path}=ndarray{obj.shape}{obj.dtype}:{hashlib.blake2b(np.ascontiguousarray(obj).tobytes()).hexdigest()}"
            continue
        if isinstance(obj, np.generic):
            yield f"{path}={obj!r}"
            continue
        if isinstance(obj, np.random.Generator):
            stack.append((f"{path}.rng", obj.bit_generator.state))
            continue
        if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType, types.MethodType, type)):
            yield f"{path}=code:{getattr(obj, '__qualname__', type(obj).__name__)}"
            continue
        yield f"{path}=<{type(obj).__qualname__}>"
        if isinstance(obj, Mapping):
            items = list(obj.items())
            for i, (k, v) in reversed(list(enumerate(items))):
                stack.append((f"{path}{{{i}}}", v))
                stack.append((f"{path}{{{i}}}key", k))
            continue
        if isinstance(obj, (list, tuple, set, frozenset)) or type(obj).__name__ == "deque":
            seq = sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else list(obj)
            yield f"{path}#len={len(seq)}"
            for i in reversed(range(len(seq))):
                stack.append((f"{path}[{i}]", seq[i]))
            continue
        attrs: list[tuple[str, Any]] = []
        d = getattr(obj, "__dict__", None)
        if isinstance(d, dict):
            attrs.extend(sorted(d.items(), key=lambda kv: kv[0]))
        for cls in type(obj).__mro__:
            for slot in getattr(cls, "__slots__", ()):
                if slot in ("__dict__", "__weakref__") or not hasattr(obj, slot):
                    continue
                attrs.append((slot, getattr(obj, slot)))
        for name, value in reversed(attrs):
            stack.append((f"{path}.{name}", value))


def state_tokens(obj: Any) -> list[str]:
    """The walk of :func:`state_digest`, as a list of ``path=value`` tokens."""
    return list(_tokens(obj))


def state_digest(obj: Any) -> str:
    """A BLAKE2b digest of everything reachable from ``obj`` (see the module docstring)."""
    h = hashlib.blake2b(digest_size=16)
    for token in _tokens(obj):
        h.update(token.encode("utf-8", "backslashreplace"))
        h.update(b"\n")
    return h.hexdigest()
