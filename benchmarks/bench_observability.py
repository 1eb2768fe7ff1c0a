"""What the request path costs: an AutomatedProvider call, bare, with the Prometheus exporter, with admission.

Six loops over the same trivial ``async def`` model, each run inside one event loop (so the event
loop's own cost is not in the numbers), in interleaved rounds; the median µs per call of each, and each
difference as the median of the per-round differences (two medians of ~13 µs differ by more noise than
a 1 µs effect):

- ``bare``: ``await fn()``;
- ``provider``: the provider without an observer (what every hub pays: one attribute test);
- ``provider + exporter``: with :class:`autoopt.observability.PrometheusExporter` timing each call into
  its histogram;
- ``observe()`` alone: the exporter's histogram update;
- ``provider + admission``: the provider with an :class:`autoopt.admission.AdmissionController`
  (its async ``slot`` driver) in place of the throttle draw;
- ``admission decision alone``: ``offer`` then ``release`` on a controller, the pure decision, at times
  0.1 ms apart (so the limit's 100 ms windows close and it updates, as in use).

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
        now = 1e-4 * i
        decision.offer(Criticality.DEFAULT, None, now)
        decision.release(0.001, now)

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

    def over(a: str, b: str = "bare await fn()") -> float:
        """The median over rounds of (a - b) in the same round."""
        return statistics.median(x - y for x, y in zip(times[a], times[b], strict=True))

    print(f"## Metrics on the request path: median of {args.rounds} rounds of {args.calls:,} calls\n")
    print("| loop | µs per call | over a bare await (same round) |")
    print("|---|---:|---:|")
    for name, us in med.items():
        print(f"| {name} | {us:.2f} | {over(name):+.2f} |")
    print(f"\nthe observer test a hub without the exporter pays: {test * 1e3:.1f} ns per call "
          f"(budget 200 ns)")  # fmt: skip
    print(f"the exporter adds {over('provider + exporter', 'provider'):.2f} µs per call to the provider")
    print(f"the whole wrapper over a bare await (budget 20 µs): {over('provider'):.2f} µs, "
          f"{over('provider + admission'):.2f} µs with admission, "
          f"{over('provider + exporter'):.2f} µs with the exporter")  # fmt: skip
    print(f"the admission decision (budget 5 µs): {over('admission decision alone'):.2f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
