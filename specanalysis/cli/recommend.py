"""``specanalysis recommend``: the guide's tuning rules applied to a measured profile."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from specanalysis.cli.profile import add_source_arguments, config_disagreements, measure
from specanalysis.errors import DataError

__all__ = ["register", "run"]


def run(args: argparse.Namespace) -> int:
    """Profile the source, evaluate the rules against ``--config``, print (and write)."""
    from specanalysis.config import SpeculationConfig
    from specanalysis.fixtures import config_path
    from specanalysis.tuning import recommend

    if args.write is not None:
        from specanalysis.cli._paths import output_file

        output_file(args.write, "--write")
    config = SpeculationConfig.from_toml(config_path(args.config, field="--config"))
    profile, source, description = measure(args, config)
    mismatches = config_disagreements(profile)
    seeds = int(args.seeds)
    if seeds < 2 or str(seeds) != str(args.seeds).strip():
        raise DataError(f"{args.seeds!r} is not a number of seeds", field="--seeds",
                        expected="an integer >= 2 (paired intervals need two)")
    recs = recommend(profile, config, source=source,
                     quadrant="apply" if args.apply_quadrant else "advise",
                     check=False if args.no_check else "auto", seeds=seeds,
                     duration=args.check_duration, goals=tuple(args.goal or ()))
    if args.write is not None:
        out = Path(args.write)
        try:
            out.write_text(recs.to_toml(), encoding="utf-8")
        except OSError as exc:
            raise DataError(f"cannot write the file: {exc.strerror or exc}",
                            source=str(out), field="--write") from exc
    if args.json:
        doc = recs.to_dict()
        doc["source"] = description
        doc["config"] = str(args.config)
        doc["config_mismatches"] = mismatches
        doc["written"] = None if args.write is None else str(args.write)
        print(json.dumps(doc, indent=2, allow_nan=False))
    else:
        print(f"Source: {description}\nCurrent configuration: {args.config}\n")
        if mismatches:
            print("WARNING: the configuration disagrees with the data's configuration "
                  "gauges (the rules read the data; --strict-config makes this an "
                  "error):")
            print("\n".join(f"  {m}" for m in mismatches) + "\n")
        print(recs.summary())
        if args.all:
            print("\nEvery rule evaluated (fired or not):")
            for r in recs.evaluations.iter_rows(named=True):
                print(f"  {r['rule']:24s} {r['status']:10s} {r['detail']}")
        if args.write is not None:
            print(f"\nProposed configuration written to {args.write}")
    return 0


def register(subparsers: Any) -> None:
    """Add the ``recommend`` command."""
    parser = subparsers.add_parser(
        "recommend",
        help="propose a configuration from the tuning guide's rules",
        description=(
            "Profile the workload, then evaluate every rule of the tuning guide "
            "(max_depth's four conditions, branches against memory per branch, "
            "confirmation timeout = 2 x p99 confirmation, proof workers from queue "
            "utilisation, batch size, and the memory/snapshot/pending-operation/GC/"
            "queue-size formulas) against the current configuration. Each "
            "recommendation names the rule, the measured evidence and the expected "
            "effect; conflicting rules are resolved by priority (rollback safety > "
            "memory > latency/timeouts > throughput/cost) and reported."
        ),
        epilog="""\
examples:
  specanalysis recommend --config baseline --fixture baseline
  specanalysis recommend --config current.toml --fixture baseline
  specanalysis recommend --config current.toml --prometheus http://localhost:9090 \\
      --window 1h --write proposed.toml
  specanalysis recommend --config current.toml --samples metrics.parquet --json
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", required=True, metavar="FILE|NAME",
                        help="the current configuration: a TOML file with a "
                        "[speculation] table, or a bundled name (baseline, "
                        "high-reliability, ...; `specanalysis fixtures list` shows "
                        "them with their paths)")
    add_source_arguments(parser)
    parser.add_argument("--write", metavar="FILE",
                        help="write the proposed configuration as TOML")
    parser.add_argument("--apply-quadrant", action="store_true",
                        help="also apply the classification matrix's settings (lowest "
                        "priority); by default they are only reported")
    parser.add_argument("--strict-config", action="store_true",
                        help="exit 2 when --config disagrees with the configuration "
                        "gauges in the data (default: a warning naming each parameter "
                        "and both values)")
    parser.add_argument("--json", action="store_true",
                        help="print the recommendations as JSON (every rule's "
                        "evaluation and the simulation check included)")
    parser.add_argument("--all", action="store_true",
                        help="also list every rule evaluated, fired or not, with its "
                        "evidence (clamps and the values each sizing formula used)")
    check = parser.add_argument_group(
        "simulation check",
        "Each proposal is simulated against the current configuration on the "
        "workload calibrated from the profile (paired seeds); one predicted to make "
        "latency p99, tasks rolled back per task, peak memory or refused "
        "submissions worse beyond noise, or not to improve what its rule targets, "
        "is withheld and listed with its prediction.")
    check.add_argument("--no-check", action="store_true",
                       help="skip the simulation: the guide's rules read literally")
    check.add_argument("--seeds", default="4", metavar="N",
                       help="paired seeds per prediction (default 4)")
    check.add_argument("--check-duration", default="8m", metavar="DURATION",
                       help="simulated time per run (default 8m)")
    check.add_argument("--goal", action="append", metavar="FIGURE",
                       help="a figure you accept to trade for, e.g. "
                       "task_rollback_rate_pct (repeatable)")
    parser.set_defaults(func=run)
