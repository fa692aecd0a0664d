"""The tuning guide's benchmark suite on the simulated runtime.

The guide's ``benchmark-speculation.sh`` runs five tests (throughput, latency,
deep chain, burst, rollback recovery), snapshots ``/metrics`` before and after,
and writes a report. This module does the same on :func:`specanalysis.sim.simulate`:

* :func:`run_benchmark` -- one test with the guide's flags, returning a
  :class:`BenchResult` (parameters, configuration, seed, a per-window series and
  the summary figures the guide's "Key Metrics" table asks for).
* :data:`GUIDE_SUITE` -- the five tests with the guide's exact flags.
* :func:`run_suite` -- every test ``runs`` times, plus ``pre_metrics.txt`` /
  ``post_metrics.txt`` snapshots and a ``manifest.json``.
* :func:`suite_table` / :func:`suite_report` -- per test the median of the runs,
  the coefficient of variation (WARNING above 10 %) and the guide's targets
  (:data:`specanalysis.catalogue.TARGETS`) met or missed.

The result file format (JSON, schema-versioned), its reader and the suite
directory reader live in :mod:`specanalysis.io.benchmarks`; the names are
re-exported here for compatibility.

--------
>>> from specanalysis.sim.bench import GUIDE_SUITE
>>> [t.name for t in GUIDE_SUITE]
['throughput', 'latency', 'deep_chain', 'burst', 'rollback']
>>> GUIDE_SUITE[3].flags
'--duration 10m --rate-pattern burst:10x:30s:every:2m'
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from specanalysis._time import format_duration, parse_duration
from specanalysis.errors import SpecAnalysisError
from specanalysis.io.benchmarks import (
    DEFAULT_DEPTH_DISTRIBUTION,
    KIND,
    MANIFEST_KIND,
    SCHEMA_VERSION,
    SUMMARY_FIELDS,
    TARGET_OF,
    TIMING_FIELDS,
    WINDOW_S,
    BenchParameters,
    BenchResult,
    _check_warmup,
    _simulator_version,
    _warmup_seconds,
    check_targets,
    load_suite,
    read_bench_result,
    result_from_simulation,
)
from specanalysis.sim.workload import REALISTIC_TIMINGS

__all__ = [
    "SCHEMA_VERSION",
    "KIND",
    "MANIFEST_KIND",
    "TARGET_OF",
    "WINDOW_S",
    "load_suite",
    "result_from_simulation",
    "SUMMARY_FIELDS",
    "BenchParameters",
    "BenchResult",
    "BenchTest",
    "GUIDE_SUITE",
    "DEFAULT_RATE",
    "DEFAULT_DEPTH_DISTRIBUTION",
    "read_bench_result",
    "suite_table",
    "suite_report",
    "check_targets",
    "run_benchmark",
    "run_suite",
    "scaled_suite",
    "default_config",
    "BACKGROUND_FAILURES",
    "BENCH_TIMINGS",
]


#: Rate (tasks/s) used where the guide's test gives none (the burst test's baseline).
DEFAULT_RATE = 20.0
#: Simulated timings of every benchmark (a :class:`~specanalysis.sim.Workload`'s
#: time distributions): the documented ones (:data:`~specanalysis.sim.workload.REALISTIC_TIMINGS`:
#: 0.5 s execution, a ~2 s Groth16 batch wrap + 150 ms per proof, ~1 s confirmation).
#: ``bench run|suite`` take other distributions as flags or a workload file.
BENCH_TIMINGS: dict[str, str] = dict(REALISTIC_TIMINGS)
assert tuple(BENCH_TIMINGS) == TIMING_FIELDS


@dataclass(frozen=True)
class BenchTest:
    """One test of the guide's benchmark suite.

    ``flags`` are the guide's own flags for the test; fields the guide leaves
    out take the documented defaults (:data:`DEFAULT_RATE`,
    :data:`DEFAULT_DEPTH_DISTRIBUTION`, constant rate, no injected failures).
    """

    name: str
    title: str
    duration: str
    flags: str
    rate: float = DEFAULT_RATE
    depth_distribution: str = DEFAULT_DEPTH_DISTRIBUTION
    rate_pattern: str = "constant"
    inject_failures: float = 0.0
    measure_latency: bool = False

    @property
    def duration_s(self) -> float:
        return parse_duration(self.duration, field=f"{self.name}.duration")


#: The guide's five tests (``benchmark-speculation.sh``), in order.
GUIDE_SUITE: tuple[BenchTest, ...] = (
    BenchTest("throughput", "Throughput", "5m",
              "--duration 5m --rate 100 --depth-distribution uniform:1-5",
              rate=100.0, depth_distribution="uniform:1-5"),
    BenchTest("latency", "Latency", "5m",
              "--duration 5m --rate 50 --measure-latency",
              rate=50.0, measure_latency=True),
    BenchTest("deep_chain", "Deep chains", "5m",
              "--duration 5m --rate 20 --depth-distribution fixed:8",
              rate=20.0, depth_distribution="fixed:8"),
    BenchTest("burst", "Burst traffic", "10m",
              "--duration 10m --rate-pattern burst:10x:30s:every:2m",
              rate_pattern="burst:10x:30s:every:2m"),
    BenchTest("rollback", "Rollback recovery", "5m",
              "--duration 5m --rate 50 --inject-failures 0.1",
              rate=50.0, inject_failures=0.1),
)

_SUITE_BY_NAME = {t.name: t for t in GUIDE_SUITE}


# ----------------------------------------------------------------------- targets

# ----------------------------------------------------------------------- targets

#: Figures whose run-to-run coefficient of variation is checked against 10 %.
CV_CHECKED: tuple[str, ...] = (
    "throughput_tps",
    "latency_p50_s",
    "latency_p99_s",
    "rollback_rate_pct",
    "memory_per_active_task_mb",
    "proof_p99_s",
    "recovery_time_s",
)



def _cv_pct(values: Sequence[float]) -> float:
    """Sample coefficient of variation in percent (NaN with fewer than 2 values)."""
    if len(values) < 2:
        return math.nan
    mean = statistics.fmean(values)
    sd = statistics.stdev(values)
    if mean == 0:
        return 0.0 if sd == 0 else math.inf
    return abs(sd / mean) * 100.0


# ------------------------------------------------------------------------ reports


_load_suite = load_suite



def _test_name(result: BenchResult, index: int) -> str:
    return result.test if result.test is not None else f"run{index + 1}"


def suite_table(input_dir: str | Path) -> pl.DataFrame:
    """Per test and figure: runs, median, CV and the guide's target, as a frame.

    Columns: ``test``, ``figure``, ``unit``, ``runs`` (finite values), ``median``,
    ``min``, ``max``, ``cv_pct``, ``cv_checked`` (figure is held to the guide's
    CV < 10 %), ``cv_warning``, ``target`` (or null), ``met`` (median against
    the target; null when undefined or no target). Tests appear in suite order.

    Examples
    --------
    >>> import tempfile, polars as pl
    >>> d = tempfile.mkdtemp()
    >>> s = {k: 1.0 for k in SUMMARY_FIELDS}
    >>> for k, p99 in enumerate([4.0, 4.2, 6.0], start=1):
    ...     _ = BenchResult(BenchParameters(300, 50), {}, k, {**s, "latency_p99_s": p99},
    ...                     pl.DataFrame(), test="latency", run=k).write(
    ...                     f"{d}/latency_run{k}.json")
    >>> row = suite_table(d).filter(pl.col("figure") == "latency_p99_s").row(0, named=True)
    >>> row["median"], row["met"], row["cv_warning"]
    (4.2, True, True)
    """
    from specanalysis.catalogue import TARGETS

    results, _ = _load_suite(input_dir)
    groups: dict[str, list[BenchResult]] = {}
    for i, r in enumerate(results):
        groups.setdefault(_test_name(r, i), []).append(r)
    order = {t.name: i for i, t in enumerate(GUIDE_SUITE)}
    names = sorted(groups, key=lambda n: (order.get(n, len(order)), n))
    cv_limit = TARGETS["benchmark_cv_pct"]
    rows = []
    for name in names:
        for figure, (unit, _better, _desc) in SUMMARY_FIELDS.items():
            values = [float(r.summary.get(figure, math.nan)) for r in groups[name]]
            finite = [v for v in values if math.isfinite(v)]
            median = statistics.median(finite) if finite else math.nan
            cv = _cv_pct(finite)
            checked = figure in CV_CHECKED
            target_key = TARGET_OF.get(figure)
            target = TARGETS[target_key] if target_key else None
            rows.append({
                "test": name,
                "figure": figure,
                "unit": unit,
                "runs": len(finite),
                "median": median,
                "min": min(finite) if finite else math.nan,
                "max": max(finite) if finite else math.nan,
                "cv_pct": cv,
                "cv_checked": checked,
                "cv_warning": bool(checked and not math.isnan(cv)
                                   and not cv_limit.met(cv)),
                "target": (f"{target.op} {target.value:g} {target.unit}"
                           if target else None),
                "met": target.met(median) if target else None,
            })
    return pl.DataFrame(rows, schema={
        "test": pl.String, "figure": pl.String, "unit": pl.String, "runs": pl.Int64,
        "median": pl.Float64, "min": pl.Float64, "max": pl.Float64,
        "cv_pct": pl.Float64, "cv_checked": pl.Boolean, "cv_warning": pl.Boolean,
        "target": pl.String, "met": pl.Boolean,
    })


def _fmt(value: float, unit: str = "") -> str:
    if value is None or math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "inf"
    a = abs(value)
    text = (f"{value:.0f}" if a >= 1000 else f"{value:.1f}" if a >= 100
            else f"{value:.2f}" if a >= 1 else f"{value:.3g}")
    return f"{text} {unit}".rstrip() if unit and unit != "%" else text + unit


def _fmt_cv(cv: float) -> str:
    return "n/a" if math.isnan(cv) else "inf" if math.isinf(cv) else f"{cv:.1f}%"


_REPORT_COLUMNS = (
    ("throughput_tps", "Throughput"),
    ("latency_p50_s", "p50"),
    ("latency_p99_s", "p99"),
    ("rollback_rate_pct", "Rollback rate"),
    ("avg_rollback_size", "Avg rollback size"),
    ("memory_per_active_task_mb", "Memory / active task"),
    ("proof_p99_s", "Proof p99"),
    ("recovery_time_s", "Recovery time"),
)


def suite_report(input_dir: str | Path) -> str:
    """The suite report in Markdown (what ``specanalysis bench report`` writes).

    Per test: the median of the runs for the guide's key metrics, the
    coefficient of variation (a WARNING line for every checked figure at or
    above 10 %), and each of the guide's targets met or MISSED.
    """
    from specanalysis.catalogue import TARGETS

    table = suite_table(input_dir)
    _, manifest = _load_suite(input_dir)
    lines = ["# Speculation benchmark report", ""]
    if manifest:
        lines += [
            f"- Simulator: {manifest.get('simulator', 'unknown')}",
            f"- Seed: {manifest.get('seed')}; runs per test: {manifest.get('runs')}",
            f"- Warm-up discarded: {format_duration(manifest.get('warmup_s', 60.0))}",
            "- Configuration: max_depth "
            f"{manifest.get('config', {}).get('speculation', {}).get('max_depth', '?')}",
            "",
        ]
    lines += [
        "Medians of the runs; CV = coefficient of variation across runs "
        f"(the guide asks for {TARGETS['benchmark_cv_pct'].op} "
        f"{TARGETS['benchmark_cv_pct'].value:g} %).",
        "",
        "## Summary",
        "",
        "| Test | Runs | " + " | ".join(t for _, t in _REPORT_COLUMNS) + " | Targets |",
        "|---|---:|" + "---:|" * len(_REPORT_COLUMNS) + "---|",
    ]
    tests = table["test"].unique(maintain_order=True).to_list()
    for test in tests:
        sub = {r["figure"]: r for r in table.filter(pl.col("test") == test)
               .iter_rows(named=True)}
        runs = max(r["runs"] for r in sub.values())
        met = [r["met"] for r in sub.values() if r["met"] is not None]
        verdict = f"{sum(met)}/{len(met)} met" if met else "n/a"
        cells = [_fmt(sub[f]["median"], sub[f]["unit"]) for f, _ in _REPORT_COLUMNS]
        lines.append(f"| {test} | {runs} | " + " | ".join(cells) + f" | {verdict} |")
    lines.append("")
    for test in tests:
        rows = list(table.filter(pl.col("test") == test).iter_rows(named=True))
        guide = _SUITE_BY_NAME.get(test)
        lines += [f"## {guide.title if guide else test}", ""]
        if guide:
            lines += [f"Guide flags: `{guide.flags}`", ""]
        lines += ["| Figure | Median | CV | Min | Max | Target | Status |",
                  "|---|---:|---:|---:|---:|---|---|"]
        for r in rows:
            status = ("" if r["target"] is None else "n/a" if r["met"] is None
                      else "met" if r["met"] else "MISSED")
            cv = _fmt_cv(r["cv_pct"])
            lines.append(
                f"| {r['figure']} | {_fmt(r['median'], r['unit'])} | {cv} | "
                f"{_fmt(r['min'], r['unit'])} | {_fmt(r['max'], r['unit'])} | "
                f"{r['target'] or ''} | {status} |"
            )
        lines.append("")
        warnings = [r for r in rows if r["cv_warning"]]
        for r in warnings:
            lines.append(
                f"> WARNING: {r['figure']} varies by CV {_fmt_cv(r['cv_pct'])} "
                f"across {r['runs']} runs (guide: < 10 %); run more or longer tests "
                "before trusting the median."
            )
        runs = max(r["runs"] for r in rows)
        if runs < 3:
            lines.append(f"> WARNING: only {runs} run(s); the guide asks for at least 3.")
        if warnings or runs < 3:
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# ------------------------------------------------------------------------ running

#: Background probability that a proof is invalid in every test (the runtime's
#: natural fault rate; the guide's ``--inject-failures`` adds to it). 1 % gives
#: the rollback-rate figure something to measure in the tests without injection.
BACKGROUND_FAILURES = 0.01

Progress = Callable[[float, float], None]


def _show_bar(progress: bool | None) -> bool:
    """None means: on a terminal and outside CI (``CI`` unset)."""
    if progress is None:
        return sys.stderr.isatty() and not os.environ.get("CI")
    return bool(progress)



def default_config():
    """The configuration ``bench`` uses without ``--config``: runtime defaults, enabled."""
    from specanalysis.config import SpeculationConfig

    return SpeculationConfig().replace(enabled=True)


def run_benchmark(
    config,
    *,
    duration: str | float = "5m",
    rate: float = 100.0,
    depth_distribution: str = DEFAULT_DEPTH_DISTRIBUTION,
    rate_pattern: str = "constant",
    inject_failures: float = 0.0,
    measure_latency: bool = False,
    seed: int = 0,
    warmup: str | float = "1m",
    background_failures: float = BACKGROUND_FAILURES,
    test: str | None = None,
    run: int | None = None,
    progress: bool | None = None,
    workload_options: Mapping[str, Any] | None = None,
) -> BenchResult:
    """Run one benchmark test on the simulated runtime.

    Parameters
    ----------
    config
        A ``SpeculationConfig`` (validated).
    duration
        Simulated length including the warm-up (``"5m"``).
    rate
        Offered tasks per second before ``rate_pattern``.
    depth_distribution
        Tasks per dependency chain (``"uniform:1-5"``, ``"fixed:8"``).
    rate_pattern
        ``"constant"`` or ``"burst:10x:30s:every:2m"``.
    inject_failures
        Extra fraction of invalid proofs (the guide's rollback test: 0.1).
        A proof is invalid with probability
        ``1 - (1 - background_failures) * (1 - inject_failures)``.
    measure_latency
        Add per-window latency percentiles to the series.
    seed
        Simulator seed.
    warmup
        Discarded before measuring (the guide: first minute).
    background_failures
        The runtime's natural invalid-proof rate (:data:`BACKGROUND_FAILURES`).
    test, run
        Labels stored in the result (suite test name, run number).
    progress
        Show the simulator's progress bar (None: only on a terminal and outside
        CI).
    workload_options
        Further :class:`~specanalysis.sim.Workload` fields; time distributions
        given here replace :data:`BENCH_TIMINGS`.

    Raises
    ------
    SpecAnalysisError
        Naming the parameter: a bad duration, a rate <= 0, an unknown
        distribution or pattern spec, a failure fraction outside [0, 1], a
        warm-up not shorter than the duration.
    """
    return _run(config, duration=duration, rate=rate,
                depth_distribution=depth_distribution, rate_pattern=rate_pattern,
                inject_failures=inject_failures, measure_latency=measure_latency,
                seed=seed, warmup=warmup, background_failures=background_failures,
                test=test, run=run, progress=progress,
                workload_options=workload_options)[0]


def _run(config, *, duration, rate, depth_distribution, rate_pattern, inject_failures,
         measure_latency, seed, warmup, background_failures, test, run, progress,
         workload_options):
    from specanalysis.config import SpeculationConfig
    from specanalysis.sim.engine import simulate
    from specanalysis.sim.workload import Workload

    if not isinstance(config, SpeculationConfig):
        raise SpecAnalysisError(f"got {type(config).__name__}", field="config",
                                expected="a SpeculationConfig")

    duration_s = parse_duration(duration, field="duration")
    warmup_s = _warmup_seconds(warmup)
    _check_warmup(warmup_s, duration_s)
    for name, value in (("inject_failures", inject_failures),
                        ("background_failures", background_failures)):
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not 0 <= value <= 1:
            raise SpecAnalysisError(f"{value!r} is not a fraction", field=name,
                                    expected="a number in [0, 1]")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SpecAnalysisError(f"{seed!r} is not a seed", field="seed",
                                expected="an integer >= 0")
    failures = 1.0 - (1.0 - background_failures) * (1.0 - inject_failures)
    options = {**BENCH_TIMINGS, **dict(workload_options or {})}
    workload = Workload(rate=rate, depth=depth_distribution, pattern=rate_pattern,
                        failures=failures, **options)
    sim = simulate(config, workload, duration=duration_s, seed=seed,
                   progress=_show_bar(progress))
    result = result_from_simulation(
        sim, warmup=warmup_s, measure_latency=measure_latency, test=test, run=run,
        depth_distribution=str(depth_distribution), rate_pattern=str(rate_pattern),
        inject_failures=float(inject_failures),
        background_failures=float(background_failures),
        timings={name: options[name] for name in TIMING_FIELDS},
    )
    return result, sim, warmup_s




def scaled_suite(duration: str | float, *, burst_duration: str | float | None = None,
                 tests: Sequence[BenchTest] = GUIDE_SUITE) -> tuple[BenchTest, ...]:
    """The guide's tests with other durations (rates, depths, patterns unchanged).

    Used for quick suites (tests, fixtures); the burst test keeps at least one
    whole burst period after the warm-up when ``burst_duration`` is given.

    Examples
    --------
    >>> [t.duration for t in scaled_suite("2m", burst_duration="4m")]
    ['2m', '2m', '2m', '4m', '2m']
    """
    import dataclasses

    out = []
    for t in tests:
        d = burst_duration if (t.name == "burst" and burst_duration is not None) \
            else duration
        text = d if isinstance(d, str) else format_duration(float(d))
        parse_duration(text, field="duration")
        out.append(dataclasses.replace(t, duration=text))
    return tuple(out)


def run_suite(
    config,
    *,
    runs: int = 3,
    output_dir: str | Path,
    seed: int = 0,
    tests: Sequence[BenchTest] = GUIDE_SUITE,
    warmup: str | float = "1m",
    progress: bool | Progress | None = None,
    workload_options: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Run ``tests`` ``runs`` times each and write the suite directory.

    Writes ``<test>_run<k>.json`` (run ``k`` uses seed ``seed + k - 1``),
    ``pre_metrics.txt`` (the runtime's ``/metrics`` when measuring starts: the
    first run of the first test, after its warm-up), ``post_metrics.txt``
    (the last run of the last test, at its end) and ``manifest.json``
    (parameters, config, files; no wall-clock time, so a seed reproduces the
    directory byte for byte). Returns the result file paths.

    ``progress``: a callable ``progress(done_s, total_s)`` (simulated seconds),
    True/False for a tqdm bar, or None for a bar only on a terminal outside CI.

    Raises
    ------
    SpecAnalysisError
        ``runs`` below 1 (field ``runs``) or any bad test parameter.
    """
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise SpecAnalysisError(f"{runs!r} is not a number of runs", field="runs",
                                expected="an integer >= 1")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise SpecAnalysisError(f"{seed!r} is not a seed", field="seed",
                                expected="an integer >= 0")
    tests = tuple(tests)
    if not tests:
        raise SpecAnalysisError("no tests to run", field="tests",
                                expected="at least one BenchTest")
    out_dir = Path(output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    total = sum(t.duration_s for t in tests) * runs
    warmup_s = _warmup_seconds(warmup)
    bar = None
    if not callable(progress) and _show_bar(progress):
        from specanalysis._optional import require

        bar = require("tqdm").tqdm(total=round(total), unit="sim-s",
                                   desc="bench suite", leave=False)
    done = 0.0
    paths: list[Path] = []
    manifest_tests = []
    for ti, t in enumerate(tests):
        files = []
        for k in range(1, runs + 1):
            result, sim, warmup_s = _run(
                config, duration=t.duration, rate=t.rate,
                depth_distribution=t.depth_distribution, rate_pattern=t.rate_pattern,
                inject_failures=t.inject_failures, measure_latency=t.measure_latency,
                seed=seed + k - 1, warmup=warmup,
                background_failures=BACKGROUND_FAILURES, test=t.name, run=k,
                progress=False, workload_options=workload_options)
            name = f"{t.name}_run{k}.json"
            paths.append(result.write(out_dir / name))
            files.append(name)
            if ti == 0 and k == 1:
                _write_text(out_dir / "pre_metrics.txt", sim.snapshot(warmup_s))
            if ti == len(tests) - 1 and k == runs:
                _write_text(out_dir / "post_metrics.txt", sim.snapshot(sim.end))
            done += t.duration_s
            if callable(progress):
                progress(done, total)
            elif bar is not None:
                bar.update(round(done) - bar.n)
        manifest_tests.append({
            "name": t.name, "title": t.title, "flags": t.flags,
            "parameters": result.parameters.to_dict(), "files": files,
        })
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "kind": MANIFEST_KIND,
        "simulator": _simulator_version(),
        "seed": seed,
        "runs": runs,
        "warmup_s": warmup_s,
        "config": config.to_dict(),
        "snapshots": {"pre": "pre_metrics.txt", "post": "post_metrics.txt"},
        "tests": manifest_tests,
    }
    _write_text(out_dir / "manifest.json",
                json.dumps(manifest, sort_keys=True, indent=2) + "\n")
    if bar is not None:
        bar.close()
    return paths


def _write_text(path: Path, text: str) -> None:
    path.write_bytes(text.encode("utf-8"))
