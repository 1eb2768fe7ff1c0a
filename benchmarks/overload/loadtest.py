"""A loopback load test of the example service (examples/serving/app.py), with and without control.

The service runs under uvicorn in a child process, its backend fixed at about 100 requests per second
(8 slots x 80 ms). Arrivals are open-loop Poisson from aiohttp (each request is sent at its time whether or
not earlier ones were answered), bounded in count and time, at ``--loads`` x 100 rps; a client waits
500 ms from when the request was due, then gives up. Each load runs once on the controlled service
(admission control with the load manager's throttles) and once on the service with
``AUTOOPT_EXAMPLE_CONTROL=off``, each run on a freshly started service that first gets ``--warm`` seconds
(3) at 0.5x, not measured: overload meets a service after normal traffic, by when its limit has measured
the backend.

Reported per run: the share of requests sent within 10 ms of when they were due (a run with under 95 %
on time fails: the generator, not the service, was the bottleneck), goodput (answers within the deadline
per second, over the capacity of 100 rps), p50 and p99 of those answers (timed from when each was due),
and the shares refused (503) and timed out.

Usage::

    python -m benchmarks.overload.loadtest                      # 0.5, 1, 2, 3, 5x; 10 s each
    python -m benchmarks.overload.loadtest --loads 2,5 --seconds 8
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np

from benchmarks._shared import ROOT

CAPACITY = 100.0  # 8 slots x 80 ms
DEADLINE = 0.5
LATE = 0.010  # a request sent more than 10 ms after it was due is late; a run with over 5 % late fails


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_service(control: bool) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "AUTOOPT_EXAMPLE_CONTROL": "on" if control else "off", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "examples.serving.app:app", "--port", str(port), "--log-level", "warning",
         "--no-access-log"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    import urllib.request

    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("the example service did not start") from None
            time.sleep(0.1)


def poisson_times(rng: np.random.Generator, rate: float, start: float, end: float) -> np.ndarray:
    times = start + np.cumsum(rng.exponential(1.0 / rate, size=int(rate * (end - start) * 1.5) + 10))
    return times[times < end]


async def run_load(url: str, rate: float, seconds: float, seed: int, warm: float = 0.0) -> dict[str, Any]:
    """``warm`` seconds at half the capacity (not measured: a service meets overload after normal
    traffic, and its limit has learned the backend by then), then ``seconds`` at ``rate``."""
    import aiohttp
    from sklearn.datasets import load_breast_cancer

    rows = load_breast_cancer().data
    rng = np.random.default_rng(seed)
    times = np.concatenate(
        [poisson_times(rng, 0.5 * CAPACITY, 0.0, warm), poisson_times(rng, rate, warm, warm + seconds)]
    )
    first = int(np.sum(times < warm))  # the first measured request

    async def one(session: aiohttp.ClientSession, i: int, due: float) -> tuple[str, float, float]:
        """``(status, latency, lag)``. Latency and the client's deadline count from when the request was
        due, not from when its task got to send it: a generator that falls behind must not hide its lag in
        the latencies."""
        body = {"features": rows[i % len(rows)].tolist()}
        headers = {
            "X-Criticality": ("critical", "default", "sheddable")[int(rng.choice(3, p=(0.1, 0.6, 0.3)))]
        }
        lag = time.perf_counter() - due
        if lag >= DEADLINE:
            return "timeout", DEADLINE, lag
        try:
            async with session.post(
                f"{url}/predict",
                json=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=DEADLINE - lag),
            ) as response:
                await response.read()
                return str(response.status), time.perf_counter() - due, lag
        except TimeoutError:
            return "timeout", DEADLINE, lag
        except aiohttp.ClientError as exc:
            return type(exc).__name__, time.perf_counter() - due, lag

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = []
        t0 = time.perf_counter()
        for i, at in enumerate(times):
            delay = t0 + at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(session, i, t0 + at)))
        results = (await asyncio.gather(*tasks))[first:]
    ok = [lat for status, lat, _ in results if status == "200" and lat <= DEADLINE]
    n = len(results)
    # The generator kept up when (almost) every request left within 10 ms of when it was due.
    return {
        "intended_rps": n / seconds, "sent": n,
        "on_time": float(np.mean([lag <= LATE for _, _, lag in results])) if results else 1.0,
        "goodput": len(ok) / seconds / CAPACITY,
        "p50_ms": 1e3 * statistics.median(ok) if ok else float("nan"),
        "p99_ms": 1e3 * float(np.percentile(ok, 99)) if ok else float("nan"),
        "refused": sum(s == "503" for s, _, _ in results) / n if n else 0.0,
        "timed_out": sum(s == "timeout" for s, _, _ in results) / n if n else 0.0,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", default="0.5,1,2,3,5")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--warm", type=float, default=3.0, help="seconds at 0.5x before each run, not measured"
    )
    args = parser.parse_args(argv)
    loads = [float(x) for x in args.loads.split(",")]
    print(f"## Loopback load test: capacity {CAPACITY:.0f} rps, {args.seconds:g} s per run, clients wait "
          f"{DEADLINE * 1e3:.0f} ms\n")  # fmt: skip
    print("| service | load | rps | sent on time | goodput | p50 ms | p99 ms | refused | timed out |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    failed = False
    for control in (True, False):
        for m in loads:
            # a fresh service per run: no backlog, no learned limit or throttle carried from the last one
            proc, url = start_service(control)
            try:
                r = asyncio.run(run_load(url, m * CAPACITY, args.seconds, args.seed, args.warm))
            finally:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:  # still draining requests: stop it
                    proc.kill()
                    proc.wait(10)
            short = r["on_time"] < 0.95
            failed |= short
            print(f"| {'admission' if control else 'no control'} | {m:g}x | {r['intended_rps']:.0f} | "
                  f"{100 * r['on_time']:.1f} %{' (FAILED: under 95 %)' if short else ''} | {100 * r['goodput']:.1f} % | "
                  f"{r['p50_ms']:.0f} | {r['p99_ms']:.0f} | {100 * r['refused']:.1f} % | "
                  f"{100 * r['timed_out']:.1f} % |", flush=True)  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
