"""The ``autoopt`` command line."""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from autoopt import __version__
from autoopt.sim._trace import NASA_TRACE_DAYS

__all__ = ["format_comparison", "format_summary", "main"]


def _table(title: str, rows: list[tuple[str, Any]]) -> list[str]:
    width = max(len(k) for k, _ in rows) if rows else 0
    lines = [title, "-" * len(title)]
    lines += [f"  {k:<{width}}  {v}" for k, v in rows]
    return lines


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def format_summary(summary: dict[str, Any]) -> str:
    """Render :func:`autoopt.sim.run_demo`'s summary as plain-text tables."""
    tr, dec, lv, sh = (
        summary["trace"],
        summary["decisions"],
        summary["load_levels_minutes"],
        summary["shedding"],
    )
    fc, cap, rem, slo = summary["forecast_30min"], summary["capacity"], summary["remediation"], summary["slo"]
    total_min = max(1, sum(lv.values()))
    out: list[str] = []
    out += _table(
        "Trace",
        [
            ("period", f"{tr['start'][:16]} .. {tr['end'][:16]}"),
            ("minutes replayed", f"{tr['minutes_replayed']:,}"),
            ("missing minutes (skipped, not zero)", f"{tr['minutes_missing_skipped']:,}"),
            ("outage minutes", f"{tr['outage_minutes']:,}"),
            ("peak offered load", f"{tr['peak_offered_rps']:,} req/s"),
        ],
    )
    by_type = ", ".join(f"{k} {v}" for k, v in sorted(dec["by_type"].items())) or "none"
    by_conf = ", ".join(f"{k} {v}" for k, v in sorted(dec["by_confidence"].items())) or "none"
    avg = dec["average_feedback_score"]
    out += [
        "",
        *_table(
            "Decisions",
            [
                ("total", dec["total"]),
                ("by type", by_type),
                ("by confidence", by_conf),
                (
                    "feedback received",
                    f"{dec['feedback_count']} (mean score {'n/a' if avg is None else f'{avg:.2f}'})",
                ),
                ("remediations (successful)", f"{rem['attempts']} ({rem['successful']})"),
            ],
        ),
    ]
    out += [
        "",
        *_table(
            "Load levels (minutes)",
            [(lvl, f"{n:>6,}  {100 * n / total_min:5.1f} %") for lvl, n in lv.items()],
        ),
    ]
    out += [
        "",
        *_table(
            "Load shedding",
            [
                ("minutes shedding", f"{sh['minutes_shedding']:,}"),
                ("mean throttle while shedding", f"{sh['mean_throttle_pct_when_shedding']:.1f} %"),
                ("requests shed", f"{sh['requests_shed_pct']:.3f} %"),
                ("requests dropped by overload", f"{sh['requests_dropped_pct']:.3f} %"),
                ("minutes shedding over half of demand", f"{sh['minutes_shedding_over_half']:,}"),
                ("worst minute", f"{sh['worst_minute_shed_pct']:.1f} % shed"),
            ],
        ),
    ]
    rows = []
    for name, acc in (("request rate", fc["request_rate"]), ("utilisation", fc["load"])):
        mape = "n/a" if acc["mape_pct"] is None else f"{acc['mape_pct']:.1f} %"
        rows.append(
            (
                name,
                f"MAPE {mape}, coverage {_pct(acc['coverage'])} (nominal {_pct(acc['nominal_coverage'])}), "
                f"n={acc['validated']:,}",
            )
        )
    out += ["", *_table("Forecasts 30 min ahead (scored when due)", rows)]
    out += [
        "",
        *_table(
            "Capacity",
            [
                ("mean / peak instances", f"{cap['mean_instances']:.2f} / {cap['peak_instances']}"),
                ("instance-hours (autoscaled)", f"{cap['instance_hours']:,}"),
                ("instance-hours (static fleet for peak)", f"{cap['static_peak_fleet_instance_hours']:,}"),
                (
                    "minutes over SLO (p99 > 500 ms or > 1 % shed or dropped)",
                    f"{slo['minutes_p99_over_500ms_or_failed_over_1pct']:,} of {slo['minutes_serving']:,}",
                ),
            ],
        ),
    ]
    recs = summary.get("learned_recommendations") or {}
    if recs:
        out += [
            "",
            *_table(
                "Learned: best action by load level",
                [(lvl, f"{r['action']} (success {r['success_rate']:.2f})") for lvl, r in recs.items()],
            ),
        ]
    return "\n".join(out)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit status 2), without the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        ns, rest = super().parse_known_args(args, namespace)
        if hasattr(ns, "verbose") and hasattr(ns, "sub_verbose"):  # -v counts before and after the subcommand
            ns.verbose += ns.sub_verbose
            del ns.sub_verbose
        return ns, rest


def _days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of days; got {text!r}") from None
    if not (math.isfinite(days) and days > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number of days > 0; got {text!r}")
    if days > NASA_TRACE_DAYS:
        raise argparse.ArgumentTypeError(f"the trace holds {NASA_TRACE_DAYS} days; got {text!r}")
    return days


def _seed(text: str) -> int:
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a non-negative int; got {text!r}") from None
    if seed < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative int; got {text!r}")
    return seed


def _output_dir(text: str) -> str:
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} exists and is not a folder")
    return text


def _cmd_demo(args: argparse.Namespace) -> int:
    from autoopt.sim import run_demo

    plot = not args.no_plot
    if plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print(
                "matplotlib is not installed; skipping the plot (pip install 'autoopt[plot]')",
                file=sys.stderr,
            )
            plot = False
    start = time.perf_counter()
    report = run_demo(args.output, days=args.days, seed=args.seed, progress=not args.quiet, plot=plot)
    print(format_summary(report.summary))
    print()
    print(f"summary:  {report.summary_path}")
    print(f"timeline: {report.output_dir / 'timeline.csv.gz'}")
    if report.plot_path is not None:
        print(f"plot:     {report.plot_path}")
    if not args.no_compare:
        from autoopt.policy._compare import compare_policies

        plot_path = report.output_dir / "policies.png" if plot else None
        comparison = compare_policies(seed=args.seed, plot_path=plot_path)
        path = report.output_dir / "policy_comparison.json"
        path.write_text(json.dumps(comparison, indent=2) + "\n", encoding="utf-8")
        print()
        print(format_comparison(comparison))
        print(f"comparison: {path}" + (f", plot: {comparison['plot']}" if "plot" in comparison else ""))
    print(f"finished in {time.perf_counter() - start:.1f} s")
    return 0


def format_comparison(comparison: dict[str, Any]) -> str:
    """Render :func:`autoopt.policy._compare.compare_policies`' result as a table."""
    first, last = comparison["window"]
    lines = [
        f"Policies on held-back days ({first[:10]} to {last[:10]}, NASA August; tuned and trained on July only)",
        f"{'policy':<22} {'cost/oracle':>11} {'SLO-violation min %':>20} {'dropped %':>10} {'actions':>8}",
    ]
    for name, r in comparison["policies"].items():
        lines.append(
            f"{name:<22} {r['cost_vs_oracle']:>11.3f} {r['violation_minutes_pct']:>20.3f} "
            f"{r['drop_pct']:>10.3f} {r['scaling_actions']:>8,}"
        )
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="autoopt", description="autoopt: self-tuning automation toolkit")
    parser.add_argument("--version", action="version", version=f"autoopt {__version__}")
    verbose_help = "log more (-v info, -vv debug); before or after the subcommand"
    parser.add_argument("-v", "--verbose", action="count", default=0, help=verbose_help)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="replay the NASA-HTTP 1995 trace through the automation hub",
        description="Replay the shipped NASA-HTTP 1995 request trace through an autoscaling simulation "
        "driven by the automation hub; print a summary and write a plot.",
    )
    demo.add_argument("-v", "--verbose", dest="sub_verbose", action="count", default=0, help=verbose_help)
    demo.add_argument(
        "-o",
        "--output",
        type=_output_dir,
        default="autoopt-demo-output",
        help="output folder (default: %(default)s)",
    )
    demo.add_argument(
        "--days",
        type=_days,
        default=None,
        help=f"replay only the first DAYS days, in (0, {NASA_TRACE_DAYS}] (default: all {NASA_TRACE_DAYS})",
    )
    demo.add_argument("--seed", type=_seed, default=0, help="random seed, >= 0 (default: %(default)s)")
    demo.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    demo.add_argument("--no-plot", action="store_true", help="do not write the PNG plots")
    demo.add_argument(
        "--no-compare",
        action="store_true",
        help="skip the comparison of rules, a tuned HPA and the shipped DQN on held-back days",
    )
    demo.set_defaults(func=_cmd_demo)
    runbook = sub.add_parser(
        "runbook", help="work with YAML runbooks", description="Work with YAML runbooks."
    )
    runbook_sub = runbook.add_subparsers(dest="runbook_command", required=True)
    validate = runbook_sub.add_parser(
        "validate",
        help="check a runbook before anything runs",
        description="Check a runbook: step ids and dependencies (no unknown ids, no cycles), action types, "
        "${...} references, commands (no shell metacharacters) and, with --allow-host, every http host. "
        "Exit 0 when it is valid, 2 when it is not.",
    )
    validate.add_argument("file", help="the runbook's YAML file")
    validate.add_argument(
        "--allow-host", action="append", default=None, metavar="HOST",
        help="a host http/api steps may call (repeat; without it hosts are not checked)",
    )  # fmt: skip
    validate.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE",
        help="a run parameter (repeat): then every referenced parameter must be given",
    )  # fmt: skip
    validate.set_defaults(func=_cmd_runbook_validate)
    return parser


def _cmd_runbook_validate(args: argparse.Namespace) -> int:
    from autoopt.workflows import RunbookError, Workflow

    try:
        wf = Workflow.from_yaml(Path(args.file))
        if args.allow_host is not None:
            wf.check_hosts(args.allow_host)
        if args.param:
            pairs = [p.split("=", 1) for p in args.param]
            bad = [p for p, kv in zip(args.param, pairs, strict=True) if len(kv) != 2 or not kv[0]]
            if bad:
                raise RunbookError(f"--param must be NAME=VALUE; got {bad[0]!r}")
            wf.check_params(dict(pairs))
    except (RunbookError, OSError) as exc:
        print(f"{args.file}: invalid: {exc}", file=sys.stderr)
        return 2
    print(
        f"{args.file}: valid: workflow {wf.name!r}, {len(wf.steps)} steps, in order {', '.join(wf.order())}"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``autoopt`` console script."""
    args = _parser().parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
