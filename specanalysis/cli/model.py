"""``specanalysis model latency|rollback``: the depth models from the command line.

``model latency`` fits latency against the number of tasks on the path (the
recurrence's line) and prints the tidy table and the depth at which latency
stops improving; ``model rollback`` estimates the per-attempt failure
probability and prints the recommended ``max_depth`` with its interval and what
it predicts.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from specanalysis.errors import DataError

__all__ = ["register", "run_latency", "run_rollback"]

EXAMPLES = """
examples:
  specanalysis model latency --fixture baseline          # its benchmark results
  specanalysis model latency --bench-dir results/ --estimator quantile --json
  specanalysis model latency --samples metrics.parquet   # histogram labelled by depth
  specanalysis model rollback --fixture baseline --chain-length uniform:1-8
  specanalysis model rollback --prometheus http://localhost:9090 --window 6h \\
      --exec-time 0.5 --objective latency

exit codes: 0 ok, 2 bad input (no source, unreadable file, too little data),
3 Prometheus unreachable
"""


def _jsonable(x: Any) -> Any:
    if isinstance(x, float):
        return None if math.isnan(x) or math.isinf(x) else x
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    return x


def _rows(frame: Any) -> list[dict[str, Any]]:
    return [_jsonable(r) for r in frame.iter_rows(named=True)]


# --------------------------------------------------------------------------- latency


def run_latency(args: argparse.Namespace) -> int:
    from specanalysis.models.latency import fit_latency, latency_from_source
    from specanalysis.models.pipeline import saturation_depth

    if args.bench_dir is not None or (args.fixture and not args.use_samples):
        if args.bench_dir is not None:
            path = Path(args.bench_dir)
            if not path.exists():
                raise DataError("not found", source=str(path), field="--bench-dir",
                                expected="a directory of benchmark result files")
        else:
            from specanalysis.fixtures import fixtures_dir

            path = fixtures_dir() / "bench" / args.fixture
            if not path.is_dir():
                raise DataError(f"fixture {args.fixture!r} has no benchmark results",
                                field="--fixture", expected="baseline or "
                                "after-max-depth-3")
        data: Any = path
        described = f"benchmark results in {path}"
    else:
        from specanalysis.cli.profile import open_source

        source, described = open_source(args)
        data = latency_from_source(source, at=args.at, window=args.window)
    fit = fit_latency(data, estimator=args.estimator,
                      breakpoint=_breakpoint(args.breakpoint))
    times = _bench_times(data) if isinstance(data, Path) else None
    sat = None
    if times is not None:
        sat = saturation_depth(times["exec_time"], times["proof_time"],
                               times["confirm_time"])
    if args.json:
        print(json.dumps(_jsonable({
            "source": described, "estimator": args.estimator,
            "tidy": _rows(fit.tidy()), "notes": list(fit.notes),
            "diagnostics": _rows(fit.diagnostics()),
            "mean_times_s": times, "saturation_depth": sat}), indent=2))
        return 0
    print(f"Latency against depth from {described}")
    print(fit.summary())
    if sat is not None:
        te, tp, tc = times["exec_time"], times["proof_time"], times["confirm_time"]
        spec = fit.tidy().filter(fit.tidy()["mode"] == "speculative")
        icpt = spec.filter(spec["term"] == "intercept")
        if icpt.height and icpt["ci_low"][0] > 2 * (tp + min(te, tc)):
            print(f"\nnote: the fitted intercept ({icpt['estimate'][0]:.4g} s) is far "
                  f"above the recurrence's Tp + min(Te, Tc) = {tp + min(te, tc):.4g} s: "
                  "these runs queued (proof workers, batches, branch slots), so "
                  "their latency is not the uncontended pipeline's")
        print(f"\nmean times of the runs: exec {te:.4g} s, proof {tp:.4g} s, confirm "
              f"{tc:.4g} s: latency stops improving at max_depth {sat} "
              f"(ceil((Te + Tp + Tc) / max(Te, Tc)); deeper only adds rollbacks). "
              "For the depth that also weighs rollbacks: specanalysis model rollback")
    return 0


def _breakpoint(value: str | None) -> Any:
    if value is None or value == "auto":
        return value
    try:
        return float(value)
    except ValueError:
        raise DataError(f"{value!r} is not a breakpoint", field="--breakpoint",
                        expected="a number of tasks or 'auto'") from None


def _bench_times(path: Path) -> dict[str, float] | None:
    """Mean per-task times of the benchmark runs' simulated workload."""
    from specanalysis.sim.bench import KIND
    from specanalysis.sim.workload import parse_distribution

    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    for f in files:
        doc = json.loads(f.read_text())
        if doc.get("kind") != KIND or not doc.get("workload"):
            continue
        w = doc["workload"]
        try:
            m = {k: parse_distribution(w[k], field=k).mean for k in
                 ("exec_time", "proof_time", "confirm_time")}
            m["proof_time"] += parse_distribution(w.get("proof_overhead", 0),
                                                  field="proof_overhead").mean
        except (KeyError, DataError, ValueError):
            return None
        return m
    return None


# --------------------------------------------------------------------------- rollback


def run_rollback(args: argparse.Namespace) -> int:
    from specanalysis.cli.profile import open_source
    from specanalysis.models.rollback import (
        component_times,
        expected_wasted_work,
        optimal_depth,
        rollback_from_source,
    )

    if args.bench_dir is not None:
        from specanalysis.models.rollback import rollback_from_bench

        est = rollback_from_bench(args.bench_dir, test=args.test)
        measured = _bench_times(Path(args.bench_dir)) or {
            "exec_time": math.nan, "proof_time": math.nan, "confirm_time": math.nan}
        described = f"benchmark results in {args.bench_dir}" + (
            f" (test {args.test})" if args.test else "")
    else:
        source, described = open_source(args)
        est = rollback_from_source(source, at=args.at, window=args.window)
        measured = component_times(source, at=args.at, window=args.window)
    times = {}
    for key in ("exec_time", "proof_time", "confirm_time"):
        given = getattr(args, key)
        v = given if given is not None else measured[key]
        if v is None or not math.isfinite(v):
            flag = "--" + key.replace("_", "-")
            raise DataError(f"the source has no {key.replace('_', ' ')}",
                            field=flag, expected=f"{flag} SECONDS")
        times[key] = float(v)
    retry = _retry(args)
    choice = optimal_depth(**times, p_fail=est["p_fail"],
                           p_interval=(est["p_low"], est["p_high"]),
                           chain_length=args.chain_length,
                           depths=range(1, args.max_depth + 1),
                           objective=args.objective, samples=args.mc_samples,
                           seed=args.seed, **retry)
    k = choice.prediction()
    wasted_s, _ = expected_wasted_work(est["p_fail"], max(choice.depth - 1, 0),
                                       times["exec_time"])
    if args.json:
        print(json.dumps(_jsonable({
            "source": described, "estimate": est, "times_s": times,
            "retry": retry, "chain_length": args.chain_length,
            "objective": args.objective,
            "recommended_max_depth": choice.depth,
            "interval": list(choice.interval), "prediction": k,
            "expected_wasted_exec_s": wasted_s,
            "tidy": _rows(choice.tidy()), "curve": _rows(choice.curve)}), indent=2))
        return 0
    print(f"Rollbacks against depth from {described}"
          + ("" if args.bench_dir is not None else f" (window {args.window})"))
    print(f"per-attempt failure probability p = {est['p_fail']:.4g} "
          f"[{est['p_low']:.4g}, {est['p_high']:.4g}] ({est['method']}: "
          f"{est['rolled_back']:.0f} of {est['attempts']:.0f} attempts rolled back)")
    for run in est.get("runs", []):
        print(f"  {run['file']}: {run['events']:.0f} rollbacks in {run['attempts']:.0f} "
              f"attempts ({run['events'] / run['attempts']:.2%}; injected "
              f"{run['injected']:.2%}, auto-disabled {run['auto_disabled_pct'] or 0:.0f}"
              "% of the time)")
    print(f"times: exec {times['exec_time']:.4g} s, proof {times['proof_time']:.4g} s, "
          f"confirm {times['confirm_time']:.4g} s; chains {args.chain_length}")
    print()
    print(choice.summary())
    print(f"\nE[C] at that depth (WP 7.2.1, k = max_depth - 1 = {max(choice.depth - 1, 0)}"
          f"): {wasted_s:.4g} s of execution wasted per speculation")
    return 0


def _retry(args: argparse.Namespace) -> dict[str, float]:
    delay, mult = 1.0, 2.0
    if args.config is not None:
        from specanalysis.fixtures import load_config

        cfg = load_config(args.config)
        delay, mult = cfg.proof.retry_delay_ms / 1000.0, cfg.proof.retry_multiplier
    elif args.fixture:
        from specanalysis.fixtures import fixture_config

        cfg = fixture_config(args.fixture)
        delay, mult = cfg.proof.retry_delay_ms / 1000.0, cfg.proof.retry_multiplier
    return {"retry_delay": delay, "retry_multiplier": mult}


# --------------------------------------------------------------------------- parser


def register(subparsers: Any) -> None:
    """Add ``model latency`` and ``model rollback``."""
    from specanalysis.cli.profile import add_source_arguments

    parser = subparsers.add_parser(
        "model", help="latency and rollbacks against speculation depth: fits, intervals,"
        " the recommended max_depth",
        description="Fit the depth models of specanalysis.models to measured data.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(title="models", metavar="MODEL")

    lat = sub.add_parser(
        "latency", help="latency against tasks on the path (OLS, quantile, robust)",
        description=(
            "Fit latency against n, the tasks on the path, with the line runtime-facts"
            " §4's recurrence implies: intercept = Tp + min(Te, Tc), per_task = "
            "max(Te, Tc) when speculating, n (Te + Tp + Tc) sequentially. Data: "
            "benchmark result files (--bench-dir, or a fixture's bundled benchmark "
            "suite), or a latency histogram labelled by depth (--samples, "
            "--prometheus, --fixture with --use-samples)."),
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_source_arguments(lat)
    lat.add_argument("--bench-dir", metavar="DIR", type=Path,
                     help="benchmark result files (`specanalysis bench suite`); one "
                     "observation per run: mean chain length, chain latency p50")
    lat.add_argument("--use-samples", action="store_true",
                     help="with --fixture: read its samples (needs a depth-labelled "
                     "latency histogram) instead of its benchmark results")
    lat.add_argument("--estimator", choices=("ols", "quantile", "robust"),
                     default="ols", help="ols (HC3 robust errors, default), quantile "
                     "(p50/p90/p99 lines) or robust (Huber)")
    lat.add_argument("--breakpoint", default=None, metavar="N|auto",
                     help="segmented fit: the slope changes after n = N (e.g. "
                     "max_depth) or where the data say (auto)")
    lat.add_argument("--json", action="store_true", help="print JSON")
    lat.set_defaults(func=run_latency)

    rb = sub.add_parser(
        "rollback", help="failure probability, rollback share and the best max_depth",
        description=(
            "Estimate the per-attempt failure probability p (binomial GLM with a "
            "cloglog link when counters carry depth, else from the depth histogram "
            "and the totals), then the max_depth that maximises effective "
            "throughput -- confirmed minus rolled-back tasks per second of chain "
            "latency -- or minimises latency including re-execution, with an "
            "interval over p's interval and Monte Carlo error, and the rollback "
            "share and latency it predicts. Times default to the means of the "
            "source's execution, proof and confirmation histograms."),
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_source_arguments(rb)
    rb.add_argument("--bench-dir", metavar="DIR", type=Path, default=None,
                    help="benchmark result files: p = rollback events per attempt "
                    "(timeouts included), times from the runs' workload")
    rb.add_argument("--test", default=None, metavar="NAME",
                    help="with --bench-dir: only this suite test (e.g. deep_chain)")
    rb.add_argument("--exec-time", type=float, default=None, metavar="SECONDS",
                    help="mean execution time (default: from the source)")
    rb.add_argument("--proof-time", type=float, default=None, metavar="SECONDS",
                    help="mean proof time, request to done (default: from the source)")
    rb.add_argument("--confirm-time", type=float, default=None, metavar="SECONDS",
                    help="mean confirmation time (default: from the source)")
    rb.add_argument("--chain-length", default="uniform:1-8", metavar="SPEC",
                    help="tasks per dependency chain: N or a depth spec "
                    "(default uniform:1-8, the fixtures' workload)")
    rb.add_argument("--config", type=Path, default=None, metavar="TOML",
                    help="configuration to read the retry delay/multiplier from")
    rb.add_argument("--objective", choices=("throughput", "latency"),
                    default="throughput", help="what the depth optimises")
    rb.add_argument("--max-depth", type=int, default=10, metavar="N",
                    help="largest max_depth considered (default 10)")
    rb.add_argument("--mc-samples", dest="mc_samples", type=int, default=2000,
                    metavar="N", help="Monte Carlo chains per depth (default 2000)")
    rb.add_argument("--seed", type=int, default=0, help="Monte Carlo seed")
    rb.add_argument("--json", action="store_true", help="print JSON")
    rb.set_defaults(func=run_rollback)
