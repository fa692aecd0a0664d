"""``specanalysis compare``: before/after verdicts for a tuning change, CI-gate ready."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from specanalysis.errors import DataError

__all__ = ["register", "run"]

EPILOG = """\
inputs (BEFORE and AFTER must be of the same kind):
  benchmark results   a directory written by `specanalysis bench suite`, or one
                      result .json file: runs are compared per test and figure
                      (medians, exact Mann-Whitney, Holm, exact Poisson counts)
  /metrics snapshots  exposition text files (.txt/.prom/.om); give a pair as
                      PRE,POST to compare the increments between two snapshots
  samples files       .parquet (or a fixture folder with samples.parquet):
                      monitoring windows, autocorrelation-aware block tests
  Prometheus          --prometheus URL --before START/END --after START/END
                      (BEFORE and AFTER are then omitted)

verdicts per figure: improved, regressed, equivalent (the 90 % interval of the
change lies within the tolerance), inconclusive (with the minimum detectable
change and the runs/window that would resolve it), changed (no better direction).

--fail-on regression exits 1 when any metric regressed; --fail-on inconclusive
also when one is inconclusive or a rigour check failed (a strict CI gate).

examples:
  specanalysis compare results-before/ results-after/
  specanalysis compare results-before/ results-after/ --fail-on regression
  specanalysis compare before.parquet after.parquet --json
  specanalysis compare pre_a.txt,post_a.txt pre_b.txt,post_b.txt
  specanalysis compare results-before/ results-after/ --report report.html
  specanalysis compare --prometheus http://localhost:9090 \\
      --before 2025-01-27T00:00:00Z/2025-01-28T00:00:00Z \\
      --after 2025-01-29T00:00:00Z/2025-01-30T00:00:00Z --change max_depth
"""


def _side(text: str) -> Any:
    if "," in text:
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 2 or not all(parts):
            raise DataError(f"{text!r} is not a PRE,POST pair", field="BEFORE/AFTER",
                            expected="two snapshot files separated by one comma")
        for p in parts:
            if not Path(p).is_file():
                raise DataError("file not found", source=p, field="BEFORE/AFTER",
                                expected="an exposition text file")
        return (Path(parts[0]), Path(parts[1]))
    path = Path(text)
    if not path.exists():
        raise DataError("no such file or directory", source=text, field="BEFORE/AFTER",
                        expected="a benchmark result directory or file, a /metrics "
                        "snapshot or a samples file")
    return path


def _interval(text: str, flag: str) -> tuple[Any, Any]:
    from specanalysis._time import to_datetime

    if "/" not in text:
        raise DataError(f"{text!r} is not START/END", field=flag,
                        expected="RFC 3339 or unix seconds, START/END")
    a, b = text.split("/", 1)
    return to_datetime(a, field=flag), to_datetime(b, field=flag)


def _json_safe(v: Any) -> Any:
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    return v


def _document(c: Any) -> dict[str, Any]:
    return {
        "kind": c.kind,
        "overall": c.overall,
        "overall_reason": c.overall_reason,
        "labels": list(c.labels),
        "sources": list(c.sources),
        "metrics": [{k: _json_safe(v) for k, v in r.items()}
                    for r in c.metrics.iter_rows(named=True)],
        "checks": c.checks.to_dicts(),
        "notes": list(c.notes),
        "config_diff": c.config_diff.to_dicts() if c.config_diff is not None else [],
    }


def run(args: argparse.Namespace) -> int:
    """Compare, print (text or JSON), write the report, apply the gate."""
    from specanalysis.compare import compare, window

    if args.prometheus or args.before or args.after:
        if args.BEFORE or args.AFTER:
            raise DataError("give either BEFORE AFTER or --prometheus with --before "
                            "and --after", field="BEFORE/AFTER",
                            expected="one way of naming the two sides")
        if not (args.before and args.after):
            raise DataError("--before and --after are both needed", field="--before",
                            expected="START/END for each side")
        from specanalysis.sources.prometheus import ENV_URL, PrometheusSource

        url = args.prometheus or os.environ.get(ENV_URL, "").strip()
        if not url:
            raise DataError("no Prometheus URL", field="--prometheus",
                            expected=f"--prometheus URL or ${ENV_URL}")
        src = PrometheusSource(url, token=os.environ.get(
            "SPECANALYSIS_PROMETHEUS_TOKEN") or None, deadline=args.deadline)
        before = window(src, *_interval(args.before, "--before"))
        after = window(src, *_interval(args.after, "--after"))
    else:
        if not (args.BEFORE and args.AFTER):
            raise DataError("two inputs are needed", field="BEFORE/AFTER",
                            expected="BEFORE AFTER, or --prometheus URL --before "
                            "START/END --after START/END")
        before, after = _side(args.BEFORE), _side(args.AFTER)
    configs = None
    if args.before_config or args.after_config:
        if not (args.before_config and args.after_config):
            raise DataError("--before-config and --after-config go together",
                            field="--before-config", expected="both files")
        configs = (Path(args.before_config), Path(args.after_config))
    metrics = [m.strip() for m in args.metrics.split(",")] if args.metrics else None
    change = [m.strip() for m in args.change.split(",")] if args.change else None
    c = compare(before, after, metrics=metrics, alpha=args.alpha,
                tolerance=args.tolerance, change=change, configs=configs,
                range=args.range, step=args.step)
    if args.report:
        from specanalysis.report import tuning_report

        path = Path(args.report)
        if path.suffix.lower() not in (".md", ".markdown", ".html", ".htm"):
            raise DataError(f"unknown report format {path.suffix or '(none)'!r}",
                            source=str(path), field="--report",
                            expected="a file ending in .md or .html")
        tuning_report(c, *(configs or (None, None)), change_id=args.change_id,
                      author=args.author).write(path)
    if args.json:
        print(json.dumps(_document(c), indent=2, allow_nan=False))
    else:
        print(c.summary())
        if args.report:
            print(f"\nReport written to {args.report}")
    if args.fail_on and c.failed(args.fail_on):
        print(f"specanalysis: --fail-on {args.fail_on}: gate met (overall "
              f"{c.overall})", file=sys.stderr)
        return 1
    return 0


def register(subparsers: Any) -> None:
    """Add the ``compare`` command."""
    parser = subparsers.add_parser(
        "compare",
        help="judge a tuning change: before/after verdicts per metric, CI gate",
        description=(
            "Compare measurements taken before and after a tuning change and give "
            "each metric a direction-aware verdict with the statistics to defend it: "
            "benchmark runs (benchstat's exact Mann-Whitney test, Hodges-Lehmann "
            "ratios, Holm), monitoring windows (block tests that respect "
            "autocorrelation, exact Poisson tests for counts, bucket bounds for "
            "histogram quantiles) or /metrics snapshots. The guide's rigour checks "
            "(>= 3 runs, CV < 10 %, warm-up cut, no drift, only the announced change) "
            "are reported with the overall verdict."),
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("BEFORE", nargs="?", help="before: results dir/file, snapshot "
                        "(or PRE,POST), samples file")
    parser.add_argument("AFTER", nargs="?", help="after: the same kind as BEFORE")
    parser.add_argument("--json", action="store_true",
                        help="print the verdicts as JSON instead of a table")
    parser.add_argument("--report", metavar="FILE.md|FILE.html",
                        help="also write the guide's Tuning Change Report")
    parser.add_argument("--fail-on", choices=("regression", "inconclusive"),
                        help="exit 1 when a metric regressed (regression), or also "
                        "when one is inconclusive or a rigour check failed "
                        "(inconclusive)")
    parser.add_argument("--metrics", metavar="A,B,...",
                        help="figures to compare (default: the guide's key metrics)")
    parser.add_argument("--alpha", type=float, default=0.05,
                        help="significance level (default 0.05)")
    parser.add_argument("--tolerance", type=float, default=None, metavar="FRACTION",
                        help="equivalence margin for every figure, e.g. 0.05 for "
                        "±5 %% (default: per figure, from the catalogue)")
    parser.add_argument("--change", metavar="KEY[,KEY]",
                        help="the announced change (e.g. max_depth); the rigour check "
                        "fails when the configurations differ in anything else")
    parser.add_argument("--before-config", metavar="TOML", help="configuration before "
                        "(windows and snapshots; runs carry their own)")
    parser.add_argument("--after-config", metavar="TOML", help="configuration after")
    parser.add_argument("--change-id", default="TUNE-XXX", help="report: change ID")
    parser.add_argument("--author", default="[Name]", help="report: author")
    group = parser.add_argument_group("monitoring windows")
    group.add_argument("--prometheus", metavar="URL",
                       help="a live Prometheus-compatible server; a bearer token is "
                       "read from $SPECANALYSIS_PROMETHEUS_TOKEN and never printed")
    group.add_argument("--before", metavar="START/END", help="the before window")
    group.add_argument("--after", metavar="START/END", help="the after window")
    group.add_argument("--range", default="5m", help="PromQL range of rate() "
                       "(default 5m; blocks are never shorter)")
    group.add_argument("--step", default="15s", help="evaluation step (default 15s, "
                       "the scrape interval)")
    group.add_argument("--deadline", type=float, default=30.0, metavar="SECONDS",
                       help="Prometheus: seconds one query may take (default 30)")
    parser.set_defaults(func=run)
