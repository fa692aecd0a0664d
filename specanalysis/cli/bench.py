"""``specanalysis bench``: the tuning guide's benchmark suite on the simulated runtime.

Subcommands mirror the guide's ``benchmark-speculation.sh``:

* ``bench run``    -- one test (``agenc benchmark speculation`` with the same flags)
* ``bench suite``  -- the five tests, ``--runs`` times each, with /metrics snapshots
* ``bench report`` -- median, CV and targets met/missed as Markdown
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from specanalysis.cli._paths import output_dir, output_file
from specanalysis.errors import SpecAnalysisError

__all__ = ["register", "run_run", "run_suite", "run_report"]

_FLAG_OF_FIELD = {
    "rate": "--rate",
    "depth": "--depth-distribution",
    "depth_distribution": "--depth-distribution",
    "pattern": "--rate-pattern",
    "rate_pattern": "--rate-pattern",
    "failures": "--inject-failures",
    "inject_failures": "--inject-failures",
    "duration": "--duration",
    "warmup": "--warmup",
    "seed": "--seed",
    "runs": "--runs",
}

RUN_EPILOG = """\
The guide's five tests, as flags (bench suite runs all of them):
  throughput  --duration 5m --rate 100 --depth-distribution uniform:1-5
  latency     --duration 5m --rate 50 --measure-latency
  deep_chain  --duration 5m --rate 20 --depth-distribution fixed:8
  burst       --duration 10m --rate-pattern burst:10x:30s:every:2m   (baseline rate 20/s)
  rollback    --duration 5m --rate 50 --inject-failures 0.1

examples:
  specanalysis bench run --duration 5m --rate 100 --depth-distribution uniform:1-5 \\
      --config current.toml --seed 1 --output throughput.json
  specanalysis bench run --test burst --config current.toml --output burst.json
"""

SUITE_EPILOG = """\
Writes <test>_run<k>.json for every test and run, pre_metrics.txt / post_metrics.txt
(the runtime's /metrics before and after), manifest.json and report.md.
The first minute of every run is warm-up and is not measured (the guide:
"discard first minute"). Run k uses seed SEED + k - 1, so runs differ and the
whole directory is reproducible from --seed.

example:
  specanalysis bench suite --config current.toml --runs 3 --output-dir results/
"""

REPORT_EPILOG = """\
Per test: the median of the runs, the coefficient of variation across runs
(WARNING at 10 % or more; the guide asks for CV < 10 %), and the guide's
targets met or MISSED: latency p50 < 1 s, p99 < 5 s, rollback rate < 5 %,
memory < 10 MB per active task, proof p99 < 60 s, recovery < 30 s.

example:
  specanalysis bench report --input-dir results/ --output results/report.md
"""


def _flag_error(exc: SpecAnalysisError) -> SpecAnalysisError:
    """The same error, naming the command-line flag instead of the parameter."""
    flag = _FLAG_OF_FIELD.get(exc.field or "")
    if flag is not None:
        exc.field = flag
        exc.args = (exc._render(),)
    return exc


def _load_config(path: str | None):
    from specanalysis.config import SpeculationConfig
    from specanalysis.fixtures import config_path
    from specanalysis.sim.bench import default_config

    if path is None:
        return default_config()
    return SpeculationConfig.from_toml(config_path(path, field="--config"))


def _seed(value: str) -> int:
    try:
        seed = int(value)
    except ValueError:
        raise SpecAnalysisError(f"{value!r} is not an integer", field="--seed",
                                expected="an integer >= 0") from None
    if seed < 0:
        raise SpecAnalysisError(f"{seed} is negative", field="--seed",
                                expected="an integer >= 0")
    return seed


def _number(value: str | None, flag: str, *, lo: float = 0.0, hi: float | None = None,
            lo_open: bool = False) -> float | None:
    if value is None:
        return None
    try:
        x = float(value)
    except ValueError:
        raise SpecAnalysisError(f"{value!r} is not a number", field=flag,
                                expected="a number") from None
    bad = x != x or x < lo or (lo_open and x == lo) or (hi is not None and x > hi)
    if bad or x in (float("inf"), float("-inf")):
        rng = f"{'>' if lo_open else '>='} {lo:g}" + (f" and <= {hi:g}" if hi else "")
        raise SpecAnalysisError(f"{value} is out of range", field=flag,
                                expected=f"a number {rng}")
    return x


#: Workload fields ``bench run|suite`` take as flags or from ``--workload FILE``.
_TIMING_FLAGS = {"exec_time": "--exec-time", "proof_time": "--proof-time",
                 "proof_overhead": "--proof-overhead", "confirm_time": "--confirm-time"}


def _workload_options(args: argparse.Namespace) -> dict[str, str]:
    """Time distributions from ``--workload FILE`` and the timing flags (flags win)."""
    import tomllib

    from specanalysis.sim.workload import parse_distribution

    options: dict[str, str] = {}
    if getattr(args, "workload", None):
        path = Path(args.workload)
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SpecAnalysisError(f"cannot read {path}: {exc.strerror}",
                                    field="--workload", expected="a readable TOML file"
                                    ) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SpecAnalysisError(f"{path} is not TOML: {exc}", field="--workload",
                                    expected="TOML with exec_time, proof_time, "
                                    "proof_overhead, confirm_time") from None
        table = doc.get("workload", doc)
        unknown = sorted(set(table) - set(_TIMING_FLAGS))
        if unknown:
            raise SpecAnalysisError(f"{path}: unknown key(s) {', '.join(unknown)}",
                                    field="--workload",
                                    expected="keys " + ", ".join(_TIMING_FLAGS))
        options.update({k: str(v) for k, v in table.items()})
    for name in _TIMING_FLAGS:
        value = getattr(args, name, None)
        if value is not None:
            options[name] = value
    for name, spec in options.items():
        try:
            parse_distribution(spec, field=name)
        except SpecAnalysisError as exc:
            raise SpecAnalysisError(exc.message, field=_TIMING_FLAGS[name],
                                    expected=exc.expected) from None
    return options


def run_run(args: argparse.Namespace) -> int:
    from specanalysis.sim.bench import GUIDE_SUITE, run_benchmark

    test = None
    if args.test is not None:
        by_name = {t.name: t for t in GUIDE_SUITE}
        if args.test not in by_name:
            raise SpecAnalysisError(f"unknown test {args.test!r}", field="--test",
                                    expected="one of " + ", ".join(by_name))
        test = by_name[args.test]
    rate = _number(args.rate, "--rate", lo_open=True)
    failures = _number(args.inject_failures, "--inject-failures", hi=1.0)
    params = {
        "duration": args.duration or (test.duration if test else "5m"),
        "rate": rate if rate is not None else (test.rate if test else 100.0),
        "depth_distribution": args.depth_distribution
        or (test.depth_distribution if test else "uniform:1-5"),
        "rate_pattern": args.rate_pattern or (test.rate_pattern if test else "constant"),
        "inject_failures": failures if failures is not None
        else (test.inject_failures if test else 0.0),
        "measure_latency": args.measure_latency or bool(test and test.measure_latency),
    }
    if args.output:
        output_file(args.output, "--output")
    config = _load_config(args.config)
    seed = _seed(args.seed)
    try:
        result = run_benchmark(config, seed=seed, warmup=args.warmup,
                               test=test.name if test else None,
                               workload_options=_workload_options(args), **params)
    except SpecAnalysisError as exc:
        raise _flag_error(exc) from None
    if args.output:
        path = result.write(args.output)
        print(f"wrote {path}")
    else:
        sys.stdout.write(result.to_json())
    s = result.summary
    print(f"throughput {s['throughput_tps']:.1f} tasks/s, p50 {s['latency_p50_s']:.3g} s, "
          f"p99 {s['latency_p99_s']:.3g} s, rollback rate {s['rollback_rate_pct']:.2f} %",
          file=sys.stderr)
    return 0


def run_suite(args: argparse.Namespace) -> int:
    from specanalysis.sim import bench

    output_dir(args.output_dir, "--output-dir")
    config = _load_config(args.config)
    seed = _seed(args.seed)
    runs = int(_number(args.runs, "--runs", lo=1) or 3)
    if runs != float(args.runs):
        raise SpecAnalysisError(f"{args.runs} is not a whole number", field="--runs",
                                expected="an integer >= 1")
    tests = bench.GUIDE_SUITE
    if args.tests:
        names = [n.strip() for n in args.tests.split(",") if n.strip()]
        by_name = {t.name: t for t in bench.GUIDE_SUITE}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise SpecAnalysisError(f"unknown test(s) {', '.join(unknown)}",
                                    field="--tests",
                                    expected="names from " + ", ".join(by_name))
        tests = tuple(by_name[n] for n in names)
    try:
        out = bench.run_suite(config, runs=runs, output_dir=args.output_dir, seed=seed,
                              tests=tests, warmup=args.warmup,
                              workload_options=_workload_options(args))
    except SpecAnalysisError as exc:
        raise _flag_error(exc) from None
    report = Path(args.output_dir) / "report.md"
    report.write_text(bench.suite_report(args.output_dir), encoding="utf-8")
    print(f"wrote {len(out)} result files, snapshots, manifest.json and {report}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from specanalysis.sim.bench import suite_report

    if args.output:
        output_file(args.output, "--output")
    text = suite_report(args.input_dir)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE.toml|NAME",
                   help="runtime configuration to benchmark: a [speculation] TOML file "
                   "or a bundled name (baseline, low-latency-trading, ...; "
                   "`specanalysis fixtures list` shows them); default: the runtime "
                   "defaults with speculation enabled")
    p.add_argument("--seed", default="0", metavar="N",
                   help="simulator seed; the same seed gives the same result file "
                   "byte for byte (default 0)")
    p.add_argument("--warmup", default="1m", metavar="DURATION",
                   help="warm-up discarded before measuring (default 1m, the guide's "
                   "'discard first minute')")


def _timings(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "simulated timings",
        "Time distributions of the simulated runtime (default: the documented ones, "
        "0.5 s execution, a ~2 s Groth16 wrap per proof batch + 150 ms per proof, "
        "~1 s confirmation). Specs: 'fixed:2s', 'lognormal:mean=2s,cv=0.5', "
        "'gamma:mean=..,cv=..', 'exponential:mean=..', 'uniform:1s-3s', "
        "'normal:mean=..,sd=..'.")
    g.add_argument("--workload", metavar="FILE.toml",
                   help="a TOML file with exec_time, proof_time, proof_overhead, "
                   "confirm_time (top level or under [workload]); flags override it")
    g.add_argument("--exec-time", dest="exec_time", metavar="SPEC",
                   help="execution time of one task")
    g.add_argument("--proof-time", dest="proof_time", metavar="SPEC",
                   help="per-proof cost inside a batch")
    g.add_argument("--proof-overhead", dest="proof_overhead", metavar="SPEC",
                   help="fixed cost of one proof batch (key load, the Groth16 wrap)")
    g.add_argument("--confirm-time", dest="confirm_time", metavar="SPEC",
                   help="on-chain confirmation time")


def register(subparsers) -> None:
    """Add ``bench run|suite|report`` to the ``specanalysis`` parser."""
    fmt = argparse.RawDescriptionHelpFormatter
    bench = subparsers.add_parser(
        "bench", help="run the tuning guide's benchmark suite on the simulated runtime",
        description="The guide's benchmark suite (benchmark-speculation.sh) on the "
        "simulated runtime: run one test, the five-test suite, or write the report.",
        formatter_class=fmt)
    sub = bench.add_subparsers(title="subcommands", metavar="SUBCOMMAND")
    bench.set_defaults(func=lambda args: (bench.print_help(), 2)[1])

    run = sub.add_parser(
        "run", help="one benchmark test with the guide's flags",
        description="Simulate one benchmark test and write its result file (JSON, "
        "schema_version 1): parameters, config, seed, per-window series and the "
        "summary (throughput, latency p50/p90/p99/max, rollback rate and size, "
        "memory avg/peak/per active task, proof p50/p99, recovery time).",
        epilog=RUN_EPILOG, formatter_class=fmt)
    run.add_argument("--test", metavar="NAME",
                     help="start from one of the guide's tests (throughput, latency, "
                     "deep_chain, burst, rollback); other flags override its values")
    run.add_argument("--duration", metavar="DURATION",
                     help="simulated length including warm-up, e.g. 5m (guide: 5m; "
                     "10m for the burst test)")
    run.add_argument("--rate", metavar="TASKS_PER_S",
                     help="offered tasks per second before --rate-pattern, e.g. 100 "
                     "(guide: 100 throughput, 50 latency/rollback, 20 deep chain)")
    run.add_argument("--depth-distribution", metavar="SPEC",
                     help="tasks per dependency chain: uniform:1-5 (guide's "
                     "throughput test), fixed:8 (deep chain), choice:1=0.5,4=0.5")
    run.add_argument("--rate-pattern", metavar="SPEC",
                     help="rate over time: constant (default) or burst:10x:30s:every:2m "
                     "(10x the rate for 30 s every 2 minutes, the guide's burst test)")
    run.add_argument("--inject-failures", metavar="FRACTION",
                     help="fraction of proofs made invalid, e.g. 0.1 (the guide's "
                     "rollback recovery test); measures recovery time")
    run.add_argument("--measure-latency", action="store_true",
                     help="add per-window latency percentiles to the series (the "
                     "guide's latency test); the summary always has them")
    run.add_argument("--output", metavar="FILE.json",
                     help="result file to write (default: JSON on stdout)")
    _common(run)
    _timings(run)
    run.set_defaults(func=run_run)

    suite = sub.add_parser(
        "suite", help="the guide's five tests, --runs times each",
        description="Run the guide's five tests (throughput, latency, deep chain, "
        "burst, rollback recovery) --runs times each, with pre/post /metrics "
        "snapshots, and write the report.",
        epilog=SUITE_EPILOG, formatter_class=fmt)
    suite.add_argument("--runs", default="3", metavar="N",
                       help="runs per test (guide: at least 3; default 3)")
    suite.add_argument("--output-dir", required=True, metavar="DIR",
                       help="directory for result files, snapshots, manifest, report")
    suite.add_argument("--tests", metavar="NAMES",
                       help="comma-separated subset of the tests (default: all five)")
    _common(suite)
    _timings(suite)
    suite.set_defaults(func=run_suite)

    report = sub.add_parser(
        "report", help="Markdown report of a suite directory",
        description="Summarise a suite directory: median of runs, coefficient of "
        "variation, the guide's targets met or missed.",
        epilog=REPORT_EPILOG, formatter_class=fmt)
    report.add_argument("--input-dir", required=True, metavar="DIR",
                        help="directory written by `bench suite`")
    report.add_argument("--output", metavar="FILE.md",
                        help="report to write (default: stdout)")
    report.set_defaults(func=run_report)
