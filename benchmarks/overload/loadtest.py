"""A loopback load test of the example service (examples/serving/app.py), with and without control.

The service runs under uvicorn in a child process, its backend fixed at about 100 requests per second
(8 slots x 80 ms). Arrivals are open-loop Poisson from aiohttp (each request is sent at its time whether or
not earlier ones were answered), bounded in count and time, at ``--loads`` x 100 rps; a client waits
500 ms, then gives up. Each load runs once on the controlled service (admission control with the load
manager's throttles) and once on the same service with ``AUTOOPT_EXAMPLE_CONTROL=off``.

Reported per run: the offered rate achieved against the intended one (a run whose achieved rate is under
95 % of the intended fails: the generator, not the service, was the bottleneck), goodput (answers within
the deadline per second, over the capacity of 100 rps), p50 and p99 of those answers, and the shares
refused (503) and timed out.

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
from pathlib import Path
from typing import Any

import numpy as np

CAPACITY = 100.0  # 8 slots x 80 ms
DEADLINE = 0.5
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_service(control: bool) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "AUTOOPT_EXAMPLE_CONTROL": "on" if control else "off", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "examples.serving.app:app", "--port", str(port), "--log-level", "warning",
         "--no-access-log"],
        cwd=REPO, env=env,
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


async def run_load(url: str, rate: float, seconds: float, seed: int) -> dict[str, Any]:
    import aiohttp
    from sklearn.datasets import load_breast_cancer

    rows = load_breast_cancer().data
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1.0 / rate, size=int(rate * seconds * 1.5) + 10)
    times = np.cumsum(gaps)
    times = times[times < seconds]
    results: list[tuple[str, float]] = []
    timeout = aiohttp.ClientTimeout(total=DEADLINE)

    async def one(session: aiohttp.ClientSession, i: int) -> None:
        body = {"features": rows[i % len(rows)].tolist()}
        headers = {
            "X-Criticality": ("critical", "default", "sheddable")[int(rng.choice(3, p=(0.1, 0.6, 0.3)))]
        }
        start = time.perf_counter()
        try:
            async with session.post(
                f"{url}/predict", json=body, headers=headers, timeout=timeout
            ) as response:
                await response.read()
                results.append((str(response.status), time.perf_counter() - start))
        except TimeoutError:
            results.append(("timeout", DEADLINE))
        except aiohttp.ClientError as exc:
            results.append((type(exc).__name__, time.perf_counter() - start))

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = []
        t0 = time.perf_counter()
        for i, at in enumerate(times):
            delay = t0 + at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(session, i)))
        sent_in = time.perf_counter() - t0
        await asyncio.gather(*tasks)
    ok = [lat for status, lat in results if status == "200" and lat <= DEADLINE]
    n = len(results)
    # The generator kept up when it sent the arrivals drawn for the run within its length: compare the
    # rate it sent at with the rate drawn (a Poisson count, not exactly rate x seconds).
    return {
        "intended_rps": len(times) / seconds, "achieved_rps": n / max(sent_in, seconds), "sent": n,
        "goodput": len(ok) / seconds / CAPACITY,
        "p50_ms": 1e3 * statistics.median(ok) if ok else float("nan"),
        "p99_ms": 1e3 * float(np.percentile(ok, 99)) if ok else float("nan"),
        "refused": sum(s == "503" for s, _ in results) / n if n else 0.0,
        "timed_out": sum(s == "timeout" for s, _ in results) / n if n else 0.0,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", default="0.5,1,2,3,5")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    loads = [float(x) for x in args.loads.split(",")]
    print(f"## Loopback load test: capacity {CAPACITY:.0f} rps, {args.seconds:g} s per run, clients wait "
          f"{DEADLINE * 1e3:.0f} ms\n")  # fmt: skip
    print("| service | load | achieved / intended rps | goodput | p50 ms | p99 ms | refused | timed out |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    failed = False
    for control in (True, False):
        proc, url = start_service(control)
        try:
            for m in loads:
                time.sleep(1.0)  # let the previous run's stragglers finish
                r = asyncio.run(run_load(url, m * CAPACITY, args.seconds, args.seed))
                short = r["achieved_rps"] < 0.95 * r["intended_rps"]
                failed |= short
                print(f"| {'admission' if control else 'no control'} | {m:g}x | {r['achieved_rps']:.0f} / "
                      f"{r['intended_rps']:.0f}{' (FAILED: under 95 %)' if short else ''} | {100 * r['goodput']:.1f} % | "
                      f"{r['p50_ms']:.0f} | {r['p99_ms']:.0f} | {100 * r['refused']:.1f} % | "
                      f"{100 * r['timed_out']:.1f} % |", flush=True)  # fmt: skip
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:  # still draining requests: stop it
                proc.kill()
                proc.wait(10)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
