"""A discrete-event model of a service under overload: what each shedding policy keeps of the capacity.

The set-up of issue 16: 8 workers, exponential service times with a mean of 8 ms (1,000 requests per
second), Poisson arrivals at ``m`` x capacity, one FIFO queue, and clients that give up after 500 ms (a
request still queued then is served anyway, and wasted, as a server that does not know the client left
would). Classes are drawn 10 % critical, 60 % default, 30 % sheddable; the policies here ignore them, and
their availability is reported per class.

Policies (each decides at arrival whether to admit):

- ``none``: admit everything;
- ``utilisation``: today's throttle, :func:`autoopt.load.throttle_percentage` on the busy share of the
  workers over the last second (a monitor's one-second sample), shedding that share at random;
- ``delay-pi``: :class:`autoopt.load.DelayThrottle` (PIE's PI law) fed every 15 ms with the queueing
  delay of the request at the head of the queue, shedding its share at random;
- ``admission``: :class:`autoopt.admission.AdmissionController` with its defaults (a learned concurrency
  limit, a priority queue with deadlines and CoDel), the workers' queue behind it;
- ``admission+pi`` (not run by default): the same with the delay PI as its throttle, fed the age of the
  oldest waiter in the admission queue (the workers' queue stays short behind the learned limit).

Reported per load: goodput (answers within the deadline per second, over capacity), p50 and p99 of the
latency of admitted requests that were answered in time, the shed share against the minimum 1 - 1/m, the
critical class's availability, and whether the service collapsed (goodput under 50 % of capacity, or
of the offered load below capacity).

With ``--retries``, the runs past capacity again with clients that retry refusals, with the 10 % retry
budget and without one. With ``--scenarios``, also four 40 s runs (:data:`SCENARIOS`): a step to 3x, a
spike to 5x, a ramp to 5x and a loss of half the workers; reported are the goodput over the run (of
what could be served), the shed share, the critical class's availability, when the shed fraction settles
after a step (:func:`settle_time`) and how long refusals go on after the load drops back.

Usage::

    python -m benchmarks.overload.model                  # 60 s per load, seed 0
    python -m benchmarks.overload.model --scenarios
    python -m benchmarks.overload.model --seconds 20 --loads 1,2,5
"""

from __future__ import annotations

import argparse
import heapq
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from autoopt import AutomationConfig
from autoopt.admission import AdmissionController, Criticality
from autoopt.load import DelayThrottle, throttle_percentage

WORKERS = 8
SERVICE_MEAN = 0.008
CAPACITY = WORKERS / SERVICE_MEAN
DEADLINE = 0.5
CLASSES = (Criticality.CRITICAL, Criticality.DEFAULT, Criticality.SHEDDABLE)
MIX = (0.1, 0.6, 0.3)
TICK = 0.015
REJECT_COST = 0.01 * SERVICE_MEAN  # a refusal costs 1 % of a service time (parsing, the answer)
RETRY_DELAY = 0.05  # a client retries a refusal after 50 ms, jittered 0.5-1.5x, within its deadline
MAX_ATTEMPTS = 3
RETRY_BUDGET = 0.1  # Finagle/gRPC-style: retries at most 10 % of first attempts (a token bucket)
HIGH = AutomationConfig().load_threshold_high  # today's throttle starts at the HIGH threshold
WINDOW = 0.3  # the controller's control window: AdmissionController.queue_interval, the longest of its loops


@dataclass
class Result:
    policy: str
    load: float
    goodput: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    shed: float
    critical_availability: float
    throttle_std: float
    amplification: float = 1.0  # sends per request: 1 + the retries

    @property
    def collapsed(self) -> bool:
        """Goodput under half of what could be served: half the capacity, or half the load below it."""
        return self.goodput < 0.5 * min(self.load, 1.0)


SCENARIOS: dict[str, tuple[Callable[[float], float], Callable[[float], int], float, float]] = {
    # name: (load multiple at time t, workers at time t, when the overload starts, when the load drops back)
    "step": (lambda t: 3.0 if 10.0 <= t < 30.0 else 0.5, lambda t: WORKERS, 10.0, 30.0),
    "spike": (lambda t: 5.0 if 10.0 <= t < 12.0 else 0.5, lambda t: WORKERS, 10.0, 12.0),
    "ramp": (
        lambda t: 0.5 + 4.5 * min(max(t - 5.0, 0.0), 20.0) / 20.0 if t < 30.0 else 0.5,
        lambda t: WORKERS,
        5.0 + 20.0 * 0.5 / 4.5,  # the load passes capacity
        30.0,
    ),
    "capacity drop": (
        lambda t: 0.8 if t < 30.0 else 0.3,
        lambda t: 4 if 10.0 <= t < 30.0 else WORKERS,
        10.0,
        30.0,
    ),
}
"""Scenarios over 40 s: a step to 3x for 20 s, a 2 s spike to 5x, a ramp to 5x, and half the workers
lost for 20 s under 0.8x load; each ends at 0.5x (0.3x after the capacity drop)."""


def simulate(
    policy: str,
    load: float,
    seconds: float,
    seed: int = 0,
    *,
    load_at: Callable[[float], float] | None = None,
    workers_at: Callable[[float], int] | None = None,
    shed_times: list[float] | None = None,
    retries: str = "off",
    good_times: list[float] | None = None,
    arrival_times: list[float] | None = None,
) -> Result:
    """One run: constant ``load`` (or ``load_at(t)``) on ``WORKERS`` workers (or ``workers_at(t)``); the
    times of the final refusals are appended to ``shed_times``, those of in-time answers to ``good_times``
    and those of the requests' first sends to ``arrival_times``, when given.

    ``retries``: ``"off"``; ``"budget"``, a refused request is sent again (after ``RETRY_DELAY``, at most
    ``MAX_ATTEMPTS`` sends, within its deadline) while the clients' retry budget allows (10 % of first
    sends); ``"unbounded"``, the same without a budget. Every refusal costs ``REJECT_COST`` of a worker's
    time. Goodput counts requests answered within the deadline of their first send."""
    rng = np.random.default_rng(seed)
    rate = (lambda t: load) if load_at is None else load_at
    n_workers = (lambda t: WORKERS) if workers_at is None else workers_at
    events: list[tuple[float, int, str, Any]] = []
    seq = 0

    def push(t: float, kind: str, data: Any = None) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (t, seq, kind, data))

    push(rng.exponential(1.0 / (rate(0.0) * CAPACITY)), "arrival")
    push(TICK, "tick")
    push(1.0, "monitor")
    queue: deque[tuple[float, int, int, float]] = deque()  # (first send, class index, request id, enqueued)
    waiting: dict[int, tuple[Any, tuple[float, int, int, bool], int]] = {}  # the controller's waiters
    busy = 0
    busy_time, last_change = 0.0, 0.0
    throttle = 0.0
    pi = DelayThrottle()
    ac = AdmissionController(seed=seed, throttle=(lambda: throttle) if policy == "admission+pi" else None)
    admitted_at: dict[int, float] = {}  # request id -> when the controller let it in
    rid = 0
    arrivals = np.zeros(3)
    answered_in_time = np.zeros(3)
    shed = 0
    latencies: list[float] = []
    throttles: list[float] = []
    warm = min(5.0, seconds / 4)
    debt = 0.0  # workers' time owed to refusals, paid by the next job that starts
    tokens = 10.0  # the retry budget's bucket (each first send adds RETRY_BUDGET, a retry takes 1)
    sends = retries_sent = 0

    def refused(now: float, info: tuple[float, int, int, bool]) -> None:
        """A send was refused: pay its cost, and maybe retry it."""
        nonlocal debt, tokens, shed
        debt += REJECT_COST
        first, cls, attempt, measured = info
        delay = RETRY_DELAY * (0.5 + rng.random())
        allowed = retries == "unbounded" or (retries == "budget" and tokens >= 1.0)
        if allowed and attempt < MAX_ATTEMPTS and now + delay < first + DEADLINE:
            tokens -= retries == "budget"
            push(now + delay, "retry", (first, cls, attempt + 1, measured))
            return
        shed += measured
        if shed_times is not None:
            shed_times.append(now)

    def start(now: float) -> None:
        nonlocal busy, busy_time, last_change, debt
        while busy < n_workers(now) and queue:
            arrived, cls, r, _ = queue.popleft()
            busy_time += busy * (now - last_change)
            last_change = now
            busy += 1
            extra, debt = debt, 0.0
            push(now + rng.exponential(SERVICE_MEAN) + extra, "done", (arrived, cls, r))

    while events:
        now, _, kind, data = heapq.heappop(events)
        if now > seconds:
            break
        if kind in ("arrival", "retry"):
            if kind == "arrival":
                push(now + rng.exponential(1.0 / (rate(now) * CAPACITY)), "arrival")
                cls = int(rng.choice(3, p=MIX))
                info = (now, cls, 1, now >= warm)
                arrivals[cls] += info[3]
                tokens = min(10.0, tokens + RETRY_BUDGET)
                if arrival_times is not None:
                    arrival_times.append(now)
            else:
                info = data
                retries_sent += info[3]  # counted when sent, measured sends only, like everything else
            first, cls, _, measured = info
            sends += measured
            if policy.startswith("admission"):
                rid += 1
                verdict, waiter = ac.offer(CLASSES[cls], first + DEADLINE, now)
                if verdict.action == "reject":
                    refused(now, info)
                elif verdict.action == "admit":
                    admitted_at[rid] = now
                    queue.append((first, cls, rid, now))
                    start(now)
                else:
                    push(first + DEADLINE, "giveup", (waiter, info, rid))
                    waiting[id(waiter)] = (waiter, info, rid)
                continue
            if policy != "none" and 100.0 * rng.random() < throttle:
                refused(now, info)
                continue
            queue.append((first, cls, 0, now))
            start(now)
        elif kind == "giveup":
            waiter = data[0]
            if id(waiter) in waiting and not waiter.done:
                ac.abandon(waiter, now)
                del waiting[id(waiter)]
                shed += data[1][3]  # past its deadline: the client has gone, no retry
                if shed_times is not None:
                    shed_times.append(now)
        elif kind == "done":
            arrived, cls, r = data
            busy_time += busy * (now - last_change)
            last_change = now
            busy -= 1
            latency = now - arrived
            if latency <= DEADLINE and arrived >= warm:
                answered_in_time[cls] += 1
                latencies.append(latency)
                if good_times is not None:
                    good_times.append(now)
            if r:
                for waiter, granted, _ in ac.release(now - admitted_at.pop(r), now):
                    _, w_info, w_rid = waiting.pop(id(waiter))
                    if granted:
                        admitted_at[w_rid] = now
                        queue.append((w_info[0], w_info[1], w_rid, now))
                    else:
                        refused(now, w_info)
            start(now)
        elif kind == "tick":
            push(now + TICK, "tick")
            if policy in ("delay-pi", "admission+pi"):
                if policy == "admission+pi":  # the PI reads the admission queue, where the waiting is
                    head = ac.queue_delay(now)
                else:
                    head = now - queue[0][3] if queue else 0.0
                throttle = pi.update(head, now)
            if now >= warm:
                throttles.append(throttle)
        elif kind == "monitor":
            push(now + 1.0, "monitor")
            busy_time += busy * (now - last_change)
            last_change = now
            if policy == "utilisation":
                throttle = throttle_percentage(busy_time / n_workers(now), HIGH)
            busy_time = 0.0
    measured_s = seconds - warm
    total = arrivals.sum()
    lat = np.asarray(latencies) if latencies else np.asarray([np.nan])
    return Result(
        policy=policy, load=load, goodput=answered_in_time.sum() / measured_s / CAPACITY,
        p50_ms=1e3 * float(np.percentile(lat, 50)), p99_ms=1e3 * float(np.percentile(lat, 99)),
        mean_ms=1e3 * float(np.mean(lat)),
        shed=shed / total if total else 0.0,
        critical_availability=answered_in_time[0] / arrivals[0] if arrivals[0] else float("nan"),
        throttle_std=float(np.std(throttles)) if throttles else 0.0,
        amplification=sends / max(sends - retries_sent, 1),
    )  # fmt: skip


def settle_time(
    arrivals: list[float],
    sheds: list[float],
    rise: float,
    end: float,
    window: float = 1.0,
    step: float = 0.05,
    band: float = 0.05,
) -> float:
    """Seconds from ``rise`` until the shed fraction over a rolling ``window`` (refusals over first sends)
    stays within ``band`` of its steady value (its median over the second half of ``[rise, end]``) up to
    ``end``, counted to the end of the first window that does (inf if it never settles).

    At 3x a 1 s window holds ~3,000 requests, so 5 points is about 5 binomial standard deviations: sampling
    noise does not unsettle it, and what does is the controller's own wandering."""
    ends = np.arange(rise + window, end + 1e-9, step)
    arr, shed = np.sort(arrivals), np.sort(sheds)
    n = np.searchsorted(arr, ends) - np.searchsorted(arr, ends - window)
    k = np.searchsorted(shed, ends) - np.searchsorted(shed, ends - window)
    frac = k / np.maximum(n, 1)
    steady = float(np.median(frac[ends >= (rise + end) / 2]))
    bad = np.flatnonzero(np.abs(frac - steady) > band)
    if len(bad) == 0:
        return float(ends[0] - rise)
    return float("inf") if bad[-1] == len(ends) - 1 else float(ends[bad[-1] + 1] - rise)


def scenarios(policies: list[str], seed: int, retries: str = "off") -> None:
    """Goodput over each scenario, how long shedding takes to settle, and how long refusals go on after
    the load drops back."""
    print(f"\n## Scenarios (40 s each; client retries: {retries}; control window {WINDOW * 1e3:.0f} ms)\n")
    print("| scenario | policy | goodput (of what could be served) | shed | critical avail. "
          "| shedding settles after the rise | refusals stop after the drop |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|")
    grid = np.linspace(min(5.0, 40.0 / 4), 40.0, 3501)  # the measured span (after the warm-up)
    for name, (load_at, workers_at, rise, drop) in SCENARIOS.items():
        servable = float(np.mean([min(load_at(t), workers_at(t) / WORKERS) for t in grid]))
        for policy in policies:
            times: list[float] = []
            arrivals: list[float] = []
            r = simulate(policy, 1.0, 40.0, seed, load_at=load_at, workers_at=workers_at, shed_times=times,
                         retries=retries, arrival_times=arrivals)  # fmt: skip
            # settling is defined for a steady overload (the step and the capacity drop); a ramp has no
            # steady state and the spike lasts 2 s
            steady = name in ("step", "capacity drop")
            settle = f"{settle_time(arrivals, times, rise, drop):.2f} s" if steady else "—"
            late = [t for t in times if t >= drop]
            stop = max(late) - drop if late else 0.0
            print(f"| {name} | {policy} | {100 * r.goodput / servable:.1f} % | {100 * r.shed:.1f} % | "
                  f"{100 * r.critical_availability:.1f} % | {settle} | "
                  f"{stop:.2f} s ({stop / WINDOW:.1f} windows) |")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--loads", default="0.5,0.8,1,1.2,1.5,2,3,5")
    parser.add_argument("--policies", default="none,utilisation,delay-pi,admission")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--scenarios", action="store_true", help="also the step, spike, ramp and capacity-drop runs"
    )
    parser.add_argument(
        "--retries", default="budget,unbounded",
        help="also runs with client retries: with the 10 %% budget, without one (comma-separated; '' for none)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    loads = [float(x) for x in args.loads.split(",")]
    print(f"## Overload model: {WORKERS} workers, {CAPACITY:.0f} rps capacity, {DEADLINE * 1e3:.0f} ms deadline, "
          f"{args.seconds:g} s per load\n")  # fmt: skip
    print(
        "| policy | load | goodput | p50 ms | p99 ms | shed | min shed 1-1/m | critical avail. | throttle sd | collapse |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for policy in args.policies.split(","):
        for m in loads:
            r = simulate(policy, m, args.seconds, args.seed)
            floor = max(0.0, 1.0 - 1.0 / m)
            print(f"| {policy} | {m:g}x | {100 * r.goodput:.1f} % | {r.p50_ms:.1f} | {r.p99_ms:.1f} | "
                  f"{100 * r.shed:.1f} % | {100 * floor:.1f} % | {100 * r.critical_availability:.1f} % | "
                  f"{r.throttle_std:.1f} | {'yes' if r.collapsed else 'no'} |")  # fmt: skip
    modes = [m for m in args.retries.split(",") if m]
    if modes:
        print(f"\n## Client retries (a refusal retried after ~{RETRY_DELAY * 1e3:.0f} ms, at most {MAX_ATTEMPTS} "
              f"sends, within the deadline; a refusal costs {REJECT_COST * 1e6:.0f} µs of a worker)\n")  # fmt: skip
        print(
            "| policy | retries | load | goodput | p99 ms | shed (after retries) | sends per request | collapse |"
        )
        print("|---|---|---:|---:|---:|---:|---:|---|")
        for policy in args.policies.split(","):
            for mode in modes:
                for m in [x for x in loads if x >= 1.0]:
                    r = simulate(policy, m, args.seconds, args.seed, retries=mode)
                    print(f"| {policy} | {mode} | {m:g}x | {100 * r.goodput:.1f} % | {r.p99_ms:.1f} | "
                          f"{100 * r.shed:.1f} % | {r.amplification:.2f} | {'yes' if r.collapsed else 'no'} |")  # fmt: skip
    if args.scenarios:
        for mode in ["off", *modes[:1]]:
            scenarios(args.policies.split(","), args.seed, mode)
    return 0


if __name__ == "__main__":
    sys.exit(main())
