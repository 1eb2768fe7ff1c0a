"""What the request path costs: an AutomatedProvider call, bare, with the Prometheus exporter, with admission.

Four loops over the same trivial ``async def`` model, each run inside one event loop (so the event
loop's own cost is not in the numbers), in interleaved rounds; the median µs per call of each:

- ``bare``: ``await fn()``;
- ``provider``: the provider without an observer (what every hub pays: one attribute test);
- ``provider + exporter``: with :class:`autoopt.observability.PrometheusExporter` timing each call into
  its histogram;
- ``observe()`` alone: the exporter's histogram update;
- ``provider + admission``: the provider with an :class:`autoopt.admission.AdmissionController`
  (its async ``slot`` driver) in place of the throttle draw;
- ``admission decision alone``: ``offer`` then ``release`` on a controller, the pure decision.

The observer test on its own (``provider.observer is not None``) is timed with ``timeit``, since it is
far below what a loop of awaits resolves.

Usage::

    python -m benchmarks.bench_observability              # 20,000 calls x 7 rounds
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import timeit
from collections.abc import Awaitable, Callable
from typing import Any

from autoopt import AutomatedProvider, create_intelligent_automation_hub
from autoopt.admission import AdmissionController, Criticality
from autoopt.observability import PrometheusExporter


async def model(x: int) -> int:
    return x


async def loop(call: Callable[[int], Awaitable[Any]], n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        await call(i)
    return 1e6 * (time.perf_counter() - start) / n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    hub = create_intelligent_automation_hub(seed=0)
    plain = AutomatedProvider(model, hub, name="plain", seed=0)
    timed = AutomatedProvider(model, hub, name="timed", seed=0)
    exporter = PrometheusExporter(hub)
    exporter.instrument(timed)

    admitted = AutomatedProvider(model, hub, name="admitted", seed=0, admission=AdmissionController())
    decision = AdmissionController()

    async def observe(i: int) -> None:
        exporter.observe("timed", 0.001, "ok")

    async def decide(i: int) -> None:  # the pure decision alone: offer, then release
        decision.offer(Criticality.DEFAULT, None, 0.0)
        decision.release(0.001, 0.0)

    runs: dict[str, Callable[[int], Awaitable[Any]]] = {
        "bare await fn()": model, "provider": plain, "provider + exporter": timed, "observe() alone": observe,
        "provider + admission": admitted, "admission decision alone": decide,
    }  # fmt: skip
    times: dict[str, list[float]] = {k: [] for k in runs}

    async def rounds() -> None:
        for call in runs.values():
            await loop(call, 1000)  # warm-up
        for _ in range(args.rounds):
            for name, call in runs.items():
                times[name].append(await loop(call, args.calls))

    asyncio.run(rounds())
    test = min(timeit.repeat("p.observer is not None", globals={"p": plain}, number=1_000_000, repeat=5))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"## Metrics on the request path: median of {args.rounds} rounds of {args.calls:,} calls\n")
    print("| loop | µs per call | vs bare await |")
    print("|---|---:|---:|")
    for name, us in med.items():
        print(f"| {name} | {us:.2f} | {us - med['bare await fn()']:+.2f} |")
    print(f"\nthe observer test a hub without the exporter pays: {test * 1e3:.1f} ns per call "
          f"(budget 200 ns)")  # fmt: skip
    print(f"the exporter adds {med['provider + exporter'] - med['provider']:.2f} µs per call to the provider")
    bare = med["bare await fn()"]
    print(f"the whole wrapper over a bare await (budget 20 µs): {med['provider'] - bare:.2f} µs, "
          f"{med['provider + admission'] - bare:.2f} µs with admission, "
          f"{med['provider + exporter'] - bare:.2f} µs with the exporter")  # fmt: skip
    print(f"the admission decision (budget 5 µs): {med['admission decision alone'] - bare:.2f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
