"""The scheduler's resource record, :class:`ResourcePool` (re-exported by :mod:`autoopt.models`)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from autoopt._validation import (
    check_real,
)

_STANDARD_RESOURCES = ("cpu", "memory", "io_bandwidth", "network")
_EPS = 1e-9


@dataclass
class ResourcePool:
    """Capacities of the resources tasks compete for.

    The pool remembers its starting capacity: :meth:`release` never raises a
    resource above it. Every method is atomic under an internal lock;
    :meth:`try_allocate` checks and allocates in one step.

    Requirements are dicts over ``cpu``, ``memory``, ``io_bandwidth``,
    ``network`` and the keys of ``custom``; an unknown key or a negative
    amount raises :class:`ValueError`.

    Examples
    --------
    >>> from autoopt import ResourcePool
    >>> pool = ResourcePool(custom={"gpu": 2})
    >>> pool.can_allocate({"cpu": 30, "gpu": 1})
    True
    >>> pool.allocate({"cpu": 30, "gpu": 1}); pool.cpu, pool.custom["gpu"]
    (70.0, 1.0)
    >>> pool.release({"cpu": 50}); pool.cpu
    100.0
    """

    cpu: float = 100.0
    memory: float = 100.0
    io_bandwidth: float = 100.0
    network: float = 100.0
    custom: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in _STANDARD_RESOURCES:
            setattr(self, name, check_real(getattr(self, name), f"ResourcePool.{name}", low=0.0))
        if not isinstance(self.custom, Mapping):
            raise TypeError(f"ResourcePool.custom must be a dict; got {self.custom!r}.")
        custom: dict[str, float] = {}
        for key, value in self.custom.items():
            if not isinstance(key, str) or key in _STANDARD_RESOURCES:
                raise ValueError(f"ResourcePool.custom has an invalid resource name {key!r}.")
            custom[key] = check_real(value, f"ResourcePool.custom[{key!r}]", low=0.0)
        self.custom = custom
        # Not dataclass fields, so asdict() never sees the lock (copy and pickle: __getstate__).
        object.__setattr__(self, "_lock", threading.RLock())
        object.__setattr__(self, "_capacity", self.available())

    def __getstate__(self) -> dict[str, Any]:
        with self._lock:  # type: ignore[attr-defined]
            state = dict(self.__dict__)
            state["custom"] = dict(self.custom)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        object.__setattr__(self, "_lock", threading.RLock())

    def available(self) -> dict[str, float]:
        """What is free now, per resource."""
        out = {name: float(getattr(self, name)) for name in _STANDARD_RESOURCES}
        out.update(self.custom)
        return out

    def capacity(self) -> dict[str, float]:
        """The starting capacity, per resource."""
        return dict(self._capacity)  # type: ignore[attr-defined]

    def check_requirements(
        self, requirements: Mapping[str, float] | None, name: str = "resource_requirements"
    ) -> dict[str, float]:
        """Validate ``requirements`` against the known resources and return them as floats."""
        if requirements is None:
            return {}
        if not isinstance(requirements, Mapping):
            raise TypeError(f"{name} must be a dict of resource -> amount; got {requirements!r}.")
        cap: dict[str, float] = self._capacity  # type: ignore[attr-defined]
        out: dict[str, float] = {}
        for key, amount in requirements.items():
            if key not in cap:
                raise ValueError(
                    f"{name} names an unknown resource {key!r}; known resources are {sorted(cap)}."
                )
            out[key] = check_real(amount, f"{name}[{key!r}]", low=0.0)
        return out

    def _get(self, key: str) -> float:
        return float(getattr(self, key)) if key in _STANDARD_RESOURCES else self.custom[key]

    def _set(self, key: str, value: float) -> None:
        if key in _STANDARD_RESOURCES:
            setattr(self, key, value)
        else:
            self.custom[key] = value

    def can_allocate(self, requirements: Mapping[str, float]) -> bool:
        """Whether every required amount is available now."""
        req = self.check_requirements(requirements, "can_allocate() argument 'requirements'")
        with self._lock:  # type: ignore[attr-defined]
            return all(self._get(k) + _EPS >= v for k, v in req.items())

    def try_allocate(self, requirements: Mapping[str, float]) -> bool:
        """Allocate ``requirements`` if all of it is available; return whether it was."""
        req = self.check_requirements(requirements, "try_allocate() argument 'requirements'")
        with self._lock:  # type: ignore[attr-defined]
            if not all(self._get(k) + _EPS >= v for k, v in req.items()):
                return False
            for k, v in req.items():
                self._set(k, max(0.0, self._get(k) - v))
            return True

    def allocate(self, requirements: Mapping[str, float]) -> None:
        """Allocate ``requirements``.

        Raises
        ------
        ValueError
            If some resource is short; nothing is allocated then.
        """
        req = self.check_requirements(requirements, "allocate() argument 'requirements'")
        with self._lock:  # type: ignore[attr-defined]
            short = {k: (v, self._get(k)) for k, v in req.items() if self._get(k) + _EPS < v}
            if short:
                detail = ", ".join(f"{k}: requested {v:g}, available {a:g}" for k, (v, a) in short.items())
                raise ValueError(f"allocate() argument 'requirements': cannot allocate resources ({detail}).")
            for k, v in req.items():
                self._set(k, max(0.0, self._get(k) - v))

    def release(self, requirements: Mapping[str, float]) -> None:
        """Give ``requirements`` back, never above the starting capacity."""
        req = self.check_requirements(requirements, "release() argument 'requirements'")
        cap: dict[str, float] = self._capacity  # type: ignore[attr-defined]
        with self._lock:  # type: ignore[attr-defined]
            for k, v in req.items():
                self._set(k, min(cap[k], self._get(k) + v))

    def to_dict(self) -> dict[str, Any]:
        """Available amounts and capacities as JSON-serialisable data."""
        return {"available": self.available(), "capacity": self.capacity()}
