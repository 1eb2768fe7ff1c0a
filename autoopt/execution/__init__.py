"""Executors: where the tuner's trials and the scheduler's tasks run.

One small protocol, :class:`Executor` (``submit`` returning a
:class:`concurrent.futures.Future`, ``max_workers``, ``shutdown``), and its
implementations:

- :class:`InlineExecutor`: in the caller's thread, at submission;
- :class:`ThreadExecutor`: a thread pool;
- :class:`ProcessExecutor`: joblib's reusable (loky) process pool;
- :class:`DaskExecutor`: a ``dask.distributed`` cluster (the optional
  ``distributed`` extra, imported when an executor is made).

Async callables are awaited on the worker (:func:`run_call`); :func:`call_in_child`
runs a call in a child process it kills at a deadline (hard stops). This package
imports nothing from the components above it; :mod:`autoopt.tuning` and
:mod:`autoopt.scheduling` import it.
"""

from __future__ import annotations

from autoopt.execution._base import ChainingExecutor, Executor, run_call, settle
from autoopt.execution._dask import DaskExecutor
from autoopt.execution._local import InlineExecutor, ProcessExecutor, ThreadExecutor
from autoopt.execution._stop import CallTimeout, call_in_child

__all__ = [
    "CallTimeout",
    "ChainingExecutor",
    "DaskExecutor",
    "Executor",
    "InlineExecutor",
    "ProcessExecutor",
    "ThreadExecutor",
    "call_in_child",
    "run_call",
    "settle",
]
