"""A tuning worker process for the distributed-tuning tests: load a stored session and tune it.

Usage: python tuning_worker.py STORAGE NAME KILL_AT [BARRIER_DIR N_WORKERS]

The worker resumes session NAME from STORAGE and runs it to the end of its
budget. With KILL_AT > 0 it sends itself SIGKILL in the middle of its
KILL_AT-th evaluation, leaving that trial RUNNING in the storage, as a
crashed machine would. It prints the number of trials it evaluated.

With BARRIER_DIR, the worker loads the session (imports done) and then waits
until N_WORKERS workers have done so before it starts tuning, so that
process start-up times cannot let one worker spend the whole budget alone.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from autoopt import SelfTuner


def main() -> None:
    storage, name, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
    calls = 0

    def objective(x: float, y: float, n: int) -> float:
        nonlocal calls
        calls += 1
        if calls == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return -((x - 1.0) ** 2) - (y + 1.0) ** 2 - (n - 3) ** 2

    tuner = SelfTuner()
    session = tuner.load_session(name, storage, objective_fn=objective)
    if len(sys.argv) > 5:
        barrier, n_workers = Path(sys.argv[4]), int(sys.argv[5])
        (barrier / str(os.getpid())).touch()
        deadline = time.monotonic() + 120.0
        while len(list(barrier.iterdir())) < n_workers and time.monotonic() < deadline:
            time.sleep(0.005)  # a start line between processes; the tuner itself never sleeps
    tuner.optimize(session.session_id)
    sys.stdout.write(f"{calls}\n")


if __name__ == "__main__":
    main()
