"""A tuning process that SIGKILLs itself at a named point, for the crash test (tests/tuning/test_tuner_crash.py).

Usage: python crash_worker.py STORAGE NAME POINT N N_JOBS LOG

POINT is where the N-th occurrence kills the process:

- ``before_ask``: as ``study.ask()`` is entered;
- ``after_ask``: as it returns, before the tuner writes the trial's owner;
- ``objective``: inside the N-th evaluation;
- ``after_tell``: as ``study.tell()`` returns, before the next ask;
- ``random``: after N milliseconds, wherever the process is.

After every completed trial, its number is appended to LOG (the callback runs after the tell), so the test
knows which completed trials must survive. The patches wrap Optuna's public methods; autoopt is unchanged.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any

import optuna

from autoopt import SelfTuner


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    storage, name, point, n, n_jobs, log = (
        sys.argv[1],
        sys.argv[2],
        sys.argv[3],
        int(sys.argv[4]),
        int(sys.argv[5]),
        sys.argv[6],
    )
    counts = {"ask": 0, "tell": 0, "objective": 0}
    lock = threading.Lock()

    def hit(kind: str) -> bool:
        with lock:
            counts[kind] += 1
            return counts[kind] == n

    ask, tell = optuna.Study.ask, optuna.Study.tell

    def patched_ask(self: optuna.Study, *args: Any, **kwargs: Any) -> Any:
        if point == "before_ask" and hit("ask"):
            die()
        trial = ask(self, *args, **kwargs)
        if point == "after_ask" and hit("ask"):
            die()
        return trial

    def patched_tell(self: optuna.Study, *args: Any, **kwargs: Any) -> Any:
        out = tell(self, *args, **kwargs)
        if point == "after_tell" and hit("tell"):
            die()
        return out

    optuna.Study.ask = patched_ask  # type: ignore[method-assign]
    optuna.Study.tell = patched_tell  # type: ignore[method-assign]

    def objective(x: float, y: float, n: int) -> float:
        if point == "objective" and hit("objective"):
            die()
        return -((x - 1.0) ** 2) - (y + 1.0) ** 2 - (n - 3) ** 2

    def record(session: Any, result: Any) -> None:
        if result.state == "complete":
            with open(log, "a", encoding="ascii") as f:
                f.write(f"{result.number}\n")
                f.flush()
                os.fsync(f.fileno())

    tuner = SelfTuner()
    session = tuner.load_session(name, storage, objective_fn=objective)
    if point == "random":
        threading.Timer(n / 1000.0, die).start()
    tuner.optimize(session.session_id, callbacks=[record], n_jobs=n_jobs)
    sys.stdout.write("finished\n")


if __name__ == "__main__":
    main()
