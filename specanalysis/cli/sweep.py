"""``specanalysis sweep``: a what-if grid of configurations on the simulated runtime.

Runs :func:`specanalysis.sim.sweep.sweep` on this machine's cores or on a Dask
cluster (``--scheduler``) and prints the points with the guide's targets met
and the Pareto front between latency and memory.
"""

from __future__ import annotations

import argparse
import json
import math
import tomllib
from pathlib import Path
from typing import Any

from specanalysis.errors import ConfigError, DataError, SpecAnalysisError

__all__ = ["register", "run", "parse_set", "load_workload"]

EPILOG = """\
grid (--set NAME=V1,V2,... repeated; every combination is a point):
    --set speculation.max_depth=3,5,8      configuration keys, dotted as in the TOML
    --set proof.worker_threads=4,8         (the speculation. prefix is optional)
    --set workload.rate=20,50,100          workload fields vary too
    --set "workload.depth=choice:1=0.5,3=0.5;fixed:3"
                                           values containing commas: separate them
                                           with ';'
  Values are read as TOML literals (3, 0.5, true, "text"); anything else is text.
  Unknown names get a did-you-mean; every value is range-checked, and all the
  problems are reported together before anything runs.

workload (--workload SPEC; default: the simulator's default workload):
    fixture:NAME       the bundled fixture NAME (e.g. baseline), profiled and
                       calibrated (WorkloadProfile.to_workload)
    FILE.toml/.json    Workload fields (rate, depth, pattern, failures, exec_time,
                       proof_time, confirm_time, ...), at the top or in [workload]
  The workload overrides (listed above) change it before the grid is applied.

where it runs:
    (default)          every core of this machine (worker processes)
    --serial           in this process
    --scheduler tcp://host:8786
                       an existing Dask cluster (pip install
                       'specanalysis[distributed]'); the workers need the same
                       specanalysis version. Results come back to this machine, and
                       --cache DIR lives here too.

examples:
  specanalysis sweep --config baseline --workload fixture:baseline \\
      --set speculation.max_depth=3,5,8 --set speculation.proof.worker_threads=4,8 \\
      --seeds 5 --cache .sweep-cache --output results.parquet
  specanalysis sweep --set max_depth=2,4 --set workload.rate=5,20 --seeds 3 \\
      --duration 2m --scheduler tcp://scheduler:8786 --json

Bad input (unknown parameter, value out of range, empty grid, unreadable file) exits 2
before anything runs; an unreachable --scheduler exits 3.
"""

_WORKLOAD_FLAGS = {"rate": "--rate", "depth": "--depth-distribution",
                   "pattern": "--rate-pattern", "failures": "--inject-failures"}


def _literal(text: str) -> Any:
    text = text.strip()
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_set(items: list[str]) -> dict[str, list[Any]]:
    """``["max_depth=3,5", "workload.rate=10"]`` -> ``{"max_depth": [3, 5], ...}``.

    Examples
    --------
    >>> parse_set(["speculation.max_depth=3,5,8", "rollback_policy=cascade,selective"])
    {'speculation.max_depth': [3, 5, 8], 'rollback_policy': ['cascade', 'selective']}
    >>> parse_set(["workload.depth=choice:1=0.5,3=0.5;fixed:3"])
    {'workload.depth': ['choice:1=0.5,3=0.5', 'fixed:3']}
    """
    grid: dict[str, list[Any]] = {}
    problems = []
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append(f"--set: {item!r} is not NAME=VALUES (expected e.g. "
                            "speculation.max_depth=3,5,8)")
            continue
        parts = values.split(";") if ";" in values else values.split(",")
        vals = [_literal(p) for p in parts if p.strip()]
        if not vals:
            problems.append(f"--set: {key} has no values (expected e.g. {key}=3,5,8)")
            continue
        if key in grid:
            problems.append(f"--set: {key} is given twice (expected one --set per "
                            "parameter, values separated by commas)")
            continue
        grid[key] = vals
    if problems:
        raise ConfigError(problems)
    return grid


def load_workload(spec: str | None, overrides: dict[str, Any]) -> Any:
    """The base workload: a fixture's calibrated one, a TOML/JSON file, or the default."""
    import dataclasses

    from specanalysis.sim import Workload

    if spec is None:
        base = Workload()
    elif spec.startswith("fixture:"):
        from specanalysis.fixtures import fixture_config, load_fixture
        from specanalysis.profile import profile_workload
        from specanalysis.sources.offline import OfflineSource

        name = spec[len("fixture:"):]
        profile = profile_workload(OfflineSource(load_fixture(name)), window="1h")
        # calibrated against the configuration the fixture was recorded under
        base = profile.to_workload(fixture_config(name))
    else:
        path = Path(spec)
        if not path.is_file():
            raise DataError("file not found", source=spec, field="--workload",
                            expected="fixture:NAME or a .toml/.json file of Workload "
                            "fields")
        try:
            text = path.read_text(encoding="utf-8")
            doc = (json.loads(text) if path.suffix.lower() == ".json"
                   else tomllib.loads(text))
        except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read the workload: {exc}", source=spec,
                            field="--workload") from None
        if isinstance(doc, dict) and isinstance(doc.get("workload"), dict):
            doc = doc["workload"]
        if not isinstance(doc, dict):
            raise DataError("is not a table of Workload fields", source=spec,
                            field="--workload")
        known = [f.name for f in dataclasses.fields(Workload)
                 if not f.name.startswith("_")]
        unknown = [k for k in doc if k not in known]
        if unknown:
            import difflib

            problems = []
            for k in unknown:
                guess = difflib.get_close_matches(k, known, n=1)
                problems.append(f"workload.{k}: unknown workload field"
                                + (f" (did you mean {guess[0]}?)" if guess else ""))
            raise ConfigError(problems, source=spec)
        base = Workload(**doc)
    changes = {k: v for k, v in overrides.items() if v is not None}
    if changes:
        try:
            base = dataclasses.replace(base, **changes)
        except SpecAnalysisError as exc:
            if exc.field in _WORKLOAD_FLAGS:
                exc.field = _WORKLOAD_FLAGS[exc.field]
                exc.args = (exc._render(),)
            raise
    return base


def _load_config(path: str | None) -> Any:
    from specanalysis.config import SpeculationConfig
    from specanalysis.fixtures import config_path

    if path is None:
        return SpeculationConfig(enabled=True)
    return SpeculationConfig.from_toml(config_path(path, field="--config"))


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def run(args: argparse.Namespace) -> int:
    """Validate everything, run the sweep, print (and write) the results."""
    from specanalysis.sim.sweep import sweep

    config = _load_config(args.config)
    grid = parse_set(args.set or [])
    if not grid:
        raise ConfigError("--set: the grid is empty (expected at least one --set "
                          "NAME=VALUES, e.g. --set speculation.max_depth=3,5,8)")
    workload = load_workload(args.workload, {
        "rate": args.rate, "depth": args.depth_distribution,
        "pattern": args.rate_pattern, "failures": args.inject_failures})
    pareto = [p.strip() for p in args.pareto.split(",")]
    if len(pareto) != 2 or not all(pareto):
        raise ConfigError(f"--pareto: {args.pareto!r} is not X,Y (expected two "
                          "figures, e.g. memory_peak_mb,latency_p99_s)")
    if args.output is not None and Path(args.output).suffix.lower() not in (
            ".parquet", ".csv"):
        raise DataError("unknown output format", source=args.output, field="--output",
                        expected="a .parquet or .csv file")
    executor = args.scheduler or ("serial" if args.serial else None)
    result = sweep(config, workload, grid, seeds=args.seeds, duration=args.duration,
                   warmup=args.warmup, seed=args.seed, executor=executor,
                   cache=args.cache, progress=not args.no_progress,
                   connect_timeout=args.connect_timeout)
    x, y = (result.figure(p) for p in pareto)
    front = result.pareto(x, y)
    if args.output is not None:
        out = Path(args.output)
        try:
            if out.suffix.lower() == ".csv":
                result.frame.write_csv(out)
            else:
                result.frame.write_parquet(out)
        except OSError as exc:
            raise DataError(f"cannot write the file: {exc.strerror or exc}",
                            source=str(out), field="--output") from None
    if args.json:
        doc = {
            "points": [{k: _clean(v) for k, v in r.items()}
                       for r in result.by_point().iter_rows(named=True)],
            "targets": result.meets_targets().to_dicts(),
            "pareto": {"x": x, "y": y, "points": front["point"].to_list()},
            "seeds": list(result.seeds),
            "duration_s": result.duration,
            "runs": {k: result.stats[k] for k in ("runs", "computed", "cached")},
            "output": args.output,
        }
        print(json.dumps(doc, indent=2, allow_nan=False))
        return 0
    print(result.summary())
    print(f"\nPareto front of {y} against {x}:")
    cols = ["point", *result.parameters, "x", "x_lo", "x_hi", "y", "y_lo", "y_hi"]
    with _wide():
        print(front.select(cols).rename({"x": x, "x_lo": f"{x}_lo", "x_hi": f"{x}_hi",
                                         "y": y, "y_lo": f"{y}_lo", "y_hi": f"{y}_hi"}))
    met = result.meets_targets().filter("meets_all")["point"].to_list()
    print("\nPoints meeting every measurable target of the guide: "
          + (", ".join(map(str, met)) if met else "none"))
    if args.output is not None:
        print(f"\nResults ({result.frame.height} rows, one per point and seed) written "
              f"to {args.output}")
    return 0


def _wide():
    import polars as pl

    return pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200,
                     tbl_hide_dataframe_shape=True, float_precision=3)


def _int_at_least(lo: int):
    """An argparse type: an integer >= ``lo``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"{value} is out of range (expected >= "
                                             f"{lo})")
        return value
    return parse


def register(subparsers: Any) -> None:
    """Add the ``sweep`` command."""
    parser = subparsers.add_parser(
        "sweep",
        help="simulate a grid of configurations (what-if), locally or on Dask",
        description=(
            "Simulate every combination of the --set values, each with several "
            "seeds, on the simulated runtime; print each point's key figures with "
            "95 % intervals across seeds, which of the guide's targets it meets "
            "(met / missed / uncertain when the interval straddles the target), and "
            "the Pareto front between latency and memory. Seeds come from one "
            "SeedSequence, so results are identical wherever they ran."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", metavar="FILE",
                        help="base configuration: a TOML file with a [speculation] "
                        "table or a bundled name (baseline, low-latency-trading, ...; "
                        "default: runtime defaults with speculation enabled)")
    parser.add_argument("--workload", metavar="SPEC",
                        help="base workload: fixture:NAME or a .toml/.json file")
    parser.add_argument("--set", action="append", metavar="NAME=V1,V2,...",
                        help="a grid axis (repeatable)")
    parser.add_argument("--seeds", type=_int_at_least(1), default=5, metavar="N",
                        help="seeds per point (default 5)")
    parser.add_argument("--seed", type=_int_at_least(0), default=0, metavar="N",
                        help="entropy of the SeedSequence the seeds come from "
                        "(default 0)")
    parser.add_argument("--duration", default="1m", metavar="DURATION",
                        help="simulated time per run (default 1m)")
    parser.add_argument("--warmup", default="0s", metavar="DURATION",
                        help="initial simulated time left out of the figures "
                        "(default 0s)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on this Dask scheduler (tcp://host:8786)")
    where.add_argument("--serial", action="store_true",
                       help="run in this process instead of on every core")
    parser.add_argument("--connect-timeout", type=float, default=10.0,
                        metavar="SECONDS",
                        help="how long to wait for --scheduler (default 10)")
    parser.add_argument("--cache", metavar="DIR",
                        help="Parquet cache: finished runs are reused, an interrupted "
                        "sweep resumes")
    parser.add_argument("--output", metavar="FILE",
                        help="write one row per point and seed (.parquet or .csv)")
    parser.add_argument("--pareto", default="memory_peak_mb,latency_p99_s",
                        metavar="X,Y",
                        help="figures of the Pareto front (default "
                        "memory_peak_mb,latency_p99_s)")
    parser.add_argument("--json", action="store_true",
                        help="print points, targets and the front as JSON")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar (none is shown off a terminal or "
                        "under $CI anyway)")
    group = parser.add_argument_group("workload overrides")
    group.add_argument("--rate", type=float, metavar="TASKS_PER_S",
                       help="tasks offered per second")
    group.add_argument("--depth-distribution", metavar="SPEC",
                       help="chain lengths: fixed:8, uniform:1-5, choice:1=0.5,3=0.5")
    group.add_argument("--rate-pattern", metavar="SPEC",
                       help="constant, burst:10x:30s:every:2m, piecewise:...")
    group.add_argument("--inject-failures", type=float, metavar="FRACTION",
                       help="share of proofs that are invalid (0..1)")
    parser.set_defaults(func=run)
