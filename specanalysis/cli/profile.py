"""``specanalysis profile``: the guide's workload profiling script as a command.

Also home of the data-source options every analysis command shares
(:func:`add_source_arguments`, :func:`open_source`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
from typing import Any

from specanalysis.errors import DataError

__all__ = ["register", "run", "add_source_arguments", "open_source", "profile_table"]

ENV_URL = "SPECANALYSIS_PROMETHEUS_URL"
ENV_TOKEN = "SPECANALYSIS_PROMETHEUS_TOKEN"

#: Description of the "data source" option group (the options themselves carry the
#: details, so ``--help`` lists each option once).
SOURCE_HELP = (f"one of the three; default: ${ENV_URL} when set, else an error")

FIGURES_HELP = """\
figures (the guide's profiling script, then the figures its tuning sections read):
  task_rate            tasks started per minute (rate over the window x 60)
  proof_p50/p99        proof generation time quantiles (s)
  rollback_rate        rollback events per task (%)
  memory_avg           average speculation memory (MB, all components)
  peak_active_tasks    most tasks in flight at once
  depth_mean/p50/p90   speculation depth (unconfirmed ancestors); p90 is the
                       "effective depth" compared with max_depth
  depth_max            deepest depth bucket with tasks
  avg_rollback_size    tasks undone per rollback event
  blast_radius_p99     p99 tasks touched by one rollback (guide: keep <= 20)
  confirmation_p99     on-chain confirmation p99 (timeout should be ~2x this)
  latency_p50/p99      end-to-end task latency (s)
  queue_utilization    proof queue depth / capacity (%; >70 more workers, <30 fewer)
  active_branches_*    concurrent speculative branches
  memory_per_branch    memory / branches (guide: ~100-200 MB)
  batch_size_avg       actual proofs per batch (vs configured batch_size)
A figure whose metric is missing prints n/a with the reason.
"""


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--prometheus/--samples/--fixture``, ``--window``, ``--at``, ``--deadline``."""
    group = parser.add_argument_group("data source", SOURCE_HELP)
    src = group.add_mutually_exclusive_group()
    src.add_argument("--prometheus", metavar="URL",
                     help="a live Prometheus-compatible server (Prometheus, Thanos, "
                     f"Mimir, VictoriaMetrics); default ${ENV_URL}; a bearer token "
                     f"is read from ${ENV_TOKEN} and never printed")
    src.add_argument("--samples", metavar="FILE", type=Path,
                     help="exported samples: Parquet (.parquet, from write_samples) or "
                     "Prometheus text / OpenMetrics (.txt, .prom, .om, .openmetrics)")
    src.add_argument("--fixture", metavar="NAME",
                     help="a bundled, simulator-generated fixture (baseline, "
                     "after-max-depth-3; `specanalysis fixtures list`)")
    group.add_argument("--window", default="1h", metavar="DURATION",
                       help="look-back window, PromQL duration (default: 1h, as the "
                       "guide's script)")
    group.add_argument("--at", default=None, metavar="TIME",
                       help="end of the window: RFC 3339 or unix seconds (default: "
                       "end of the data for files/fixtures, now for Prometheus)")
    group.add_argument("--deadline", type=float, default=30.0, metavar="SECONDS",
                       help="Prometheus only: total seconds one query may take, "
                       "retries included (default 30)")


def open_source(args: argparse.Namespace) -> tuple[Any, str]:
    """The data source the arguments name, and a printable description of it.

    Raises
    ------
    DataError
        No source given (and ``$SPECANALYSIS_PROMETHEUS_URL`` unset), or an
        unreadable file (exit code 2).
    """
    if getattr(args, "samples", None) is not None:
        from specanalysis.sources.offline import OfflineSource

        path = Path(args.samples)
        if not path.is_file():
            raise DataError("file not found", source=str(path), field="--samples",
                            expected="an existing .parquet or exposition text file")
        if path.suffix.lower() in (".parquet", ".pq"):
            from specanalysis.io import read_samples

            frame = read_samples(path)
        else:
            from specanalysis.io import read_exposition

            frame = read_exposition(path)
        return OfflineSource(frame), f"samples file {path}"
    if getattr(args, "fixture", None):
        from specanalysis.fixtures import fixture_path, load_fixture
        from specanalysis.sources.offline import OfflineSource

        frame = load_fixture(args.fixture)
        return OfflineSource(frame), f"fixture {args.fixture} ({fixture_path(args.fixture)})"
    url = getattr(args, "prometheus", None) or os.environ.get(ENV_URL, "").strip()
    if not url:
        raise DataError(
            "no data source given", field="--prometheus/--samples/--fixture",
            expected=f"one of --prometheus URL, --samples FILE, --fixture NAME, or "
            f"${ENV_URL} set",
        )
    from specanalysis.sources.prometheus import PrometheusSource

    token = os.environ.get(ENV_TOKEN) or None
    source = PrometheusSource(url, token=token, deadline=args.deadline)
    return source, f"Prometheus {source!r}"


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.4g}"


def profile_table(profile: Any, description: str = "") -> str:
    """The profile as text: the guide script's header, one row per figure, depths."""
    lines = ["=== Workload Profile ==="]
    if description:
        lines.append(f"Source: {description}")
    lines.append(f"Sample Period: {profile.start:%Y-%m-%d %H:%M} UTC - "
                 f"{profile.at:%Y-%m-%d %H:%M} UTC ({profile.window})")
    lines.append("")
    figs = list(profile.figures.values())
    w_label = max(len(f.label or f.name) for f in figs)
    w_name = max(len(f.name) for f in figs)
    w_val = max(max(len(_fmt(f.value)) for f in figs), 5)
    w_unit = max(max(len(f.unit) for f in figs), 4)
    lines.append(f"{'Figure':<{w_label}}  {'name':<{w_name}}  {'value':>{w_val}}  "
                 f"{'unit':<{w_unit}}  note")
    for f in figs:
        note = f.note if not f.available else ""
        lines.append(f"{(f.label or f.name):<{w_label}}  {f.name:<{w_name}}  "
                     f"{_fmt(f.value):>{w_val}}  {f.unit:<{w_unit}}  {note}".rstrip())
    lines.append("")
    lines.append("Depth Distribution (tasks in the window):")
    table = profile.depth_distribution
    if table.height:
        for row in table.iter_rows(named=True):
            share = row["cumulative_share"]
            pct = "n/a" if share is None or math.isnan(share) else f"{100 * share:.1f} %"
            bound = f"{row['depth']:g}" if math.isfinite(row["depth"]) else "+Inf"
            lines.append(f"  Depth <= {bound}: {row['cumulative']:.6g} tasks ({pct})")
    else:
        lines.append("  n/a")
    reasons = profile.rollback_reasons
    if reasons.height and reasons["events"].sum() > 0:
        lines.append("")
        lines.append("Rollbacks by reason (events in the window):")
        for row in reasons.iter_rows(named=True):
            lines.append(f"  {row['reason']}: {row['events']:.6g} "
                         f"({100 * row['share']:.1f} %)")
    if profile.missing:
        lines.append("")
        lines.append("Missing metrics: " + ", ".join(profile.missing))
    for note in profile.notes:
        lines.append(f"Note: {note}")
    return "\n".join(lines)


def measure(args: argparse.Namespace, config: Any = None) -> tuple[Any, Any, str]:
    """Open the source and profile it: ``(profile, source, description)``.

    With ``config``, the profile reconciles it with the configuration gauges in
    the data (a warning per disagreeing parameter; ``--strict-config``: exit 2).
    """
    import warnings

    from specanalysis.profile import ConfigMismatchWarning, profile_workload

    source, description = open_source(args)
    with warnings.catch_warnings():
        # the disagreements are printed from profile.config_check, once
        warnings.simplefilter("ignore", ConfigMismatchWarning)
        profile = profile_workload(source, window=args.window, at=args.at,
                                   config=config,
                                   strict=bool(getattr(args, "strict_config", False)))
    return profile, source, description


def config_disagreements(profile: Any) -> list[str]:
    """``parameter: configured X, the data's gauge says Y`` for each disagreement."""
    check = getattr(profile, "config_check", None)
    if check is None or not check.height:
        return []
    bad = check.filter(~check["agrees"])
    return [f"{r['parameter']}: configured {r['configured']:g}, the data's gauge says "
            f"{r['measured']:g}" for r in bad.iter_rows(named=True)]


def run(args: argparse.Namespace) -> int:
    """Print the workload profile (table or JSON)."""
    profile, _, description = measure(args)
    if args.json:
        doc = profile.to_dict()
        doc["source"] = description
        print(json.dumps(doc, indent=2, allow_nan=False))
    else:
        print(profile_table(profile, description))
    return 0


def register(subparsers: Any) -> None:
    """Add the ``profile`` command."""
    parser = subparsers.add_parser(
        "profile",
        help="characterise the workload over a window (the guide's profiling script)",
        description=(
            "Measure the tuning guide's workload profile over a window: task rate, "
            "depth distribution, proof generation p50/p99, rollback rate, memory, "
            "peak active tasks, and the figures the guide's tuning rules read. "
            "Every figure is printed with its unit; --json adds the PromQL of each."
        ),
        epilog=FIGURES_HELP + """
examples:
  specanalysis profile --fixture baseline
  specanalysis profile --samples metrics.parquet --window 30m --json
  specanalysis profile --prometheus http://localhost:9090 --window 1h
  SPECANALYSIS_PROMETHEUS_URL=http://prom:9090 specanalysis profile --at 2025-01-28T12:00:00Z
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_source_arguments(parser)
    parser.add_argument("--json", action="store_true",
                        help="print the profile as JSON (values, units, PromQL, notes)")
    parser.set_defaults(func=run)
