"""``specanalysis proofcost``: what a proof costs on a machine, and how to size the pool."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from specanalysis.errors import DataError

__all__ = ["register", "run", "run_size_pool"]

DEFAULT_TABLE = "gnark-bn254-m5.2xlarge"


def _model(args: argparse.Namespace) -> tuple[Any, str]:
    """The calibrated model and a description of what it was calibrated on."""
    from specanalysis.models import proofcost as pc

    shape = pc.CircuitShape(public=args.public, curve=args.curve, prover=args.prover,
                            witness_density=args.witness_density,
                            b_points_fixed=args.b_points)
    if args.calibrate is not None:
        path = Path(args.calibrate)
        cores = args.calibration_cores or args.cores
        model = pc.calibrate(path, cores=cores, shape=shape,
                             fixed_cost=args.fixed_cost)
        return model, f"{path} ({cores} cores)"
    src = pc.PUBLISHED_SOURCES[DEFAULT_TABLE]
    table = pc.published_times(DEFAULT_TABLE)
    table = table.filter(table["constraints"] >= 10_001)
    model = pc.calibrate(table, cores=src["cores"],
                         shape=pc.CircuitShape.exponentiate(args.curve))
    # the published fit, applied to the user's circuit shape
    from dataclasses import replace

    model = replace(model, shape=shape)
    return model, (f"the published gnark table {DEFAULT_TABLE} ({src['machine']}; "
                   f"{src['url']}): per-core speed of that machine")


def _fmt_s(x: float | None) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:.3g} s" if x >= 0.1 else f"{x * 1e3:.3g} ms"


def run(args: argparse.Namespace) -> int:
    """Count one proof's operations and predict its time on ``--cores`` cores."""
    if args.constraints is None:
        raise DataError("no circuit size given", field="--constraints",
                        expected="--constraints N (or the size-pool subcommand)")
    model, calibrated = _model(args)
    ops = model.ops(args.constraints)
    threads = args.threads or max(1, args.cores // args.workers)
    pred = model.predict(args.constraints, cores=args.cores, workers=args.workers,
                         threads=threads).row(0, named=True)
    if args.json:
        doc = {"constraints": args.constraints, "cores": args.cores,
               "workers": args.workers, "threads": threads,
               "curve": model.shape.curve, "prover": model.shape.prover,
               "domain": ops.domain, "mult_equivalents": ops.total,
               "msm_share": ops.msm_share,
               "operations": ops.tidy().to_dicts(),
               "calibrated_on": calibrated,
               "tau_ns": model.tau_ns, "fixed_s": model.fixed_s,
               "seconds": pred["seconds"], "seconds_low": pred["seconds_low"],
               "seconds_high": pred["seconds_high"]}
        print(json.dumps(doc, indent=2, allow_nan=False, default=str))
        return 0
    print(ops.summary())
    print()
    print(model.summary())
    print(f"  calibrated on: {calibrated}")
    print()
    interval = ("" if pred["seconds_low"] is None else
                f" (95 % interval {_fmt_s(pred['seconds_low'])} - "
                f"{_fmt_s(pred['seconds_high'])})")
    print(f"Predicted proof time: {_fmt_s(pred['seconds'])}{interval} for "
          f"{args.constraints:,} constraints on {args.cores} cores, {args.workers} "
          f"worker(s) x {threads:g} thread(s)")
    return 0


def _fixture_rates(name: str, window: str | None) -> tuple[float, float, str]:
    """Mean and peak task rate (per second, from per-minute counts) of a fixture."""
    from specanalysis.fixtures import fixture_path, load_fixture
    from specanalysis.profile import characterize

    samples = load_fixture(name)
    f = characterize(samples, window=window).features
    mean, peak = f["mean_per_min"] / 60.0, f["peak_per_min"] / 60.0
    if not (mean > 0 and peak > 0):
        raise DataError("no task rate in the fixture window", field="--fixture",
                        expected="a fixture with task counters")
    return mean, peak, f"fixture {name} ({fixture_path(name)})"


def run_size_pool(args: argparse.Namespace) -> int:
    """Propose worker_threads, batch_size, queue_size and timeout_ms for a p99 target."""
    from specanalysis.models import proofcost as pc

    if args.fixture is None and args.rate is None:
        raise DataError("no rate given", field="--fixture/--rate",
                        expected="--fixture NAME, or --rate R [--peak-rate P]")
    if args.fixture is not None:
        rate, peak, described = _fixture_rates(args.fixture, args.window)
    else:
        rate, peak = args.rate, args.peak_rate or args.rate
        described = "given rates"
    if args.rate is not None:
        rate = args.rate
    if args.peak_rate is not None:
        peak = args.peak_rate
    if args.constraints is not None:
        model, calibrated = _model(args)
        cost: Any = model
        cost_text = (f"{args.constraints:,} constraints, model calibrated on "
                     f"{calibrated}")
    elif args.proof_time is not None:
        cost = pc.ProofCost(per_proof_s=args.proof_time, overhead_s=args.overhead)
        cost_text = f"{args.proof_time:g} s per proof, {args.overhead:g} s per batch"
    elif args.fixture is not None:
        from specanalysis.fixtures import fixture_workload

        cost = pc.ProofCost.from_workload(fixture_workload())
        cost_text = (f"the fixture's generating workload: {cost.per_proof_s:g} s per "
                     f"proof (cv {cost.cv:g}) + {cost.overhead_s:g} s per batch "
                     f"(cv {cost.overhead_cv:g})")
    else:
        raise DataError("no proof cost", field="--proof-time",
                        expected="--proof-time SECONDS, --constraints N or --fixture")
    batch_sizes = tuple(int(b) for b in args.batch_sizes.split(","))
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pc.CapacityWarning)
        sizing = pc.size_proof_pool(rate, peak, cost, args.target_p99, args.cores,
                                    constraints=args.constraints,
                                    batch_sizes=batch_sizes,
                                    batch_timeout=args.batch_timeout,
                                    check=not args.no_check)
    if args.json:
        doc = {"source": described, "proof_cost": cost_text, "rate": rate,
               "peak_rate": peak, "target_p99_s": args.target_p99, "cores": args.cores,
               "feasible": sizing.feasible,
               "settings": {"proof.worker_threads": sizing.worker_threads,
                            "proof.batch_size": sizing.batch_size,
                            "proof.queue_size": sizing.queue_size,
                            "proof.timeout_ms": sizing.timeout_ms},
               "threads_per_proof": sizing.threads_per_proof,
               "guide_queue_size": sizing.guide_queue_size,
               "peak": {"utilisation": sizing.peak.utilisation,
                        "p99_s": _finite(sizing.peak.p99_sojourn_s),
                        "mean_wait_s": _finite(sizing.peak.mean_wait_s)},
               "headroom": sizing.headroom, "notes": list(sizing.notes),
               "simulator_check": None if sizing.checked is None else {
                   "proofs": sizing.checked.proofs,
                   "p99_s": sizing.checked.p99_sojourn_s,
                   "mean_wait_s": sizing.checked.mean_wait_s,
                   "mean_batch": sizing.checked.mean_batch}}
        print(json.dumps(doc, indent=2, allow_nan=False))
    else:
        print(f"Source: {described}\nProof cost: {cost_text}\n")
        print(sizing.summary())
        for w in caught:
            if str(w.message) not in sizing.summary():
                print(f"warning: {w.message}")
    return 0 if sizing.feasible else 1


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _add_model_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    group = parser.add_argument_group("circuit and machine")
    group.add_argument("--constraints", type=int, metavar="N", required=required,
                       help="R1CS constraints of the circuit the runtime proves")
    group.add_argument("--cores", type=int, default=8, metavar="C",
                       help="cores of the proving machine (default 8)")
    group.add_argument("--curve", default="bn254", choices=("bn254", "bls12-381"),
                       help="pairing curve (default bn254)")
    group.add_argument("--prover", default="gnark",
                       choices=("gnark", "arkworks", "snarkjs", "rapidsnark"),
                       help="prover: 7 FFTs (gnark, arkworks) or 6 (snarkjs, "
                       "rapidsnark); default gnark")
    group.add_argument("--public", type=int, default=1, metavar="L",
                       help="public inputs (default 1)")
    group.add_argument("--witness-density", type=float, default=1.0, metavar="RHO",
                       help="share of full-width witness scalars (1 random, ~0.2 "
                       "bit-heavy circuits; default 1)")
    group.add_argument("--b-points", type=int, metavar="K",
                       help="wires with a non-zero column in B (default: all); the "
                       "published gnark 'exponentiate' benchmark has 1")
    group.add_argument("--calibrate", metavar="FILE",
                       help="CSV of measured proof times on YOUR machine: columns "
                       "constraints and seconds (or time_ms; zk-Harness CSVs work "
                       "as published). Default: the bundled published gnark table")
    group.add_argument("--calibration-cores", type=int, metavar="C",
                       help="cores of the machine FILE was measured on (default "
                       "--cores)")
    group.add_argument("--fixed-cost", type=float, metavar="SECONDS",
                       help="known fixed cost per proof; then one row is enough")


def register(subparsers: Any) -> None:
    """Add the ``proofcost`` command and its ``size-pool`` subcommand."""
    parser = subparsers.add_parser(
        "proofcost",
        help="proof time from finite-field operation counts; size the proof pool",
        description=(
            "Count a Groth16 proof's field operations (FFTs over Fr, Pippenger MSMs "
            "in G1 and G2; the formulas are checked against real galois arithmetic), "
            "turn them into seconds with a per-machine calibration (tau ns per "
            "Fr-multiplication equivalent plus a fixed cost, fitted by weighted "
            "least squares with intervals), and scale to a number of cores with the "
            "universal scalability law. `size-pool` treats the proof pool as an "
            "M/G/c queue and proposes worker_threads, batch_size, queue_size and "
            "timeout_ms for a p99 target at the peak rate."
        ),
        epilog="""\
examples:
  specanalysis proofcost --constraints 1000000 --cores 16
  specanalysis proofcost --constraints 200000 --cores 8 --calibrate my-times.csv
  specanalysis proofcost size-pool --fixture baseline --target-p99 60
  specanalysis proofcost size-pool --fixture baseline --target-p99 10 \\
      --constraints 500000 --cores 32
  specanalysis proofcost size-pool --rate 2 --peak-rate 5 --proof-time 3 \\
      --target-p99 30 --cores 16 --json

A calibration CSV looks like:
  constraints,seconds
  10000,0.04
  100000,0.27
  1000000,2.03

For size-pool, exit code 1 means no pool meets the target.
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_model_arguments(parser, required=False)
    parser.add_argument("--workers", type=int, default=1, metavar="W",
                        help="proofs running at once on the machine (default 1)")
    parser.add_argument("--threads", type=float, metavar="T",
                        help="prover threads per proof (default cores // workers)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)
    sub = parser.add_subparsers(title="subcommands", metavar="SUBCOMMAND")
    sp = sub.add_parser(
        "size-pool",
        help="propose the proof pool settings for a p99 target at the peak rate",
        description=(
            "Price every (workers, batch size) pair at the peak rate with the M/G/c "
            "model (exact M/D/c for nearly fixed proof times; Erlang C with the "
            "Allen-Cunneen correction otherwise), pick the one with the lowest p99, "
            "and size queue_size (overflow chance below 1e-4 at the peak) and "
            "timeout_ms (1.5 x the 99.99th percentile), beside the guide's "
            "queue_size = peak_rate x avg_proof_s x 3. Workers share the cores: "
            "with --constraints, each proof gets cores // workers threads. The "
            "proposal is then run in the simulator at the peak rate and its p99 "
            "decides (the next candidates are tried when it misses; --no-check "
            "skips this)."
        ),
        epilog="""\
examples:
  specanalysis proofcost size-pool --fixture baseline --target-p99 60
  specanalysis proofcost size-pool --fixture baseline --target-p99 5 --proof-time 0.5 \\
      --overhead 1
  specanalysis proofcost size-pool --rate 2 --peak-rate 5 --constraints 1000000 \\
      --cores 32 --target-p99 20

Here exit code 1 means no pool meets the target (the best one is still shown).
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rates = sp.add_argument_group("load")
    rates.add_argument("--fixture", metavar="NAME",
                       help="a bundled fixture: its mean and peak per-minute task rate "
                       "(and, unless --proof-time or --constraints, the proof cost of "
                       "the simulator workload that generated it)")
    rates.add_argument("--window", default=None, metavar="DURATION",
                       help="fixture window (default: all of it)")
    rates.add_argument("--rate", type=float, metavar="R",
                       help="proof requests per second (overrides the fixture's)")
    rates.add_argument("--peak-rate", type=float, metavar="P",
                       help="peak proof requests per second (overrides the fixture's)")
    sp.add_argument("--target-p99", type=float, required=True, metavar="S",
                    help="p99 request-to-proof target at the peak (seconds)")
    sp.add_argument("--proof-time", type=float, metavar="S",
                    help="seconds per proof (instead of --constraints)")
    sp.add_argument("--overhead", type=float, default=0.0, metavar="S",
                    help="fixed seconds per batch with --proof-time (default 0)")
    sp.add_argument("--batch-sizes", default="1,2,4,8,16", metavar="LIST",
                    help="batch sizes to consider (default 1,2,4,8,16)")
    sp.add_argument("--batch-timeout", type=float, default=1.0, metavar="S",
                    help="seconds a worker waits for a batch to fill (default 1, "
                    "the simulator's reading)")
    sp.add_argument("--no-check", action="store_true",
                    help="show the queueing model's proposal without running it in the "
                    "simulator first (by default the proposal is simulated at the peak "
                    "and the simulator's p99 decides; for batches above 1 the model is "
                    "an approximation)")
    _add_model_arguments(sp, required=False)
    sp.add_argument("--json", action="store_true", help="print JSON")
    sp.set_defaults(func=run_size_pool)
