"""The bundled fixtures: generated from fixed seeds by the simulator, never hand-written.

``fixtures/`` (next to the package in a source checkout; override with the
environment variable ``SPECANALYSIS_FIXTURES``) holds:

================================  =====================================================
path                              content
================================  =====================================================
``baseline/``                     two hours of the fixture workload under the
                                  "before" configuration (``max_depth = 5``)
``after-max-depth-3/``            the same workload and seed after the guide's
                                  example change, ``max_depth`` 5 -> 3
``<name>/samples.parquet``        the samples frame (scraped every 15 s)
``<name>/metrics.om``             OpenMetrics for ``promtool tsdb create-blocks-from``
``<name>/pre_metrics.txt``        ``/metrics`` snapshot at the start (after warm-up)
``<name>/post_metrics.txt``       ``/metrics`` snapshot at the end
``<name>/summary.json``           the simulator's summary of the two hours
``metric_types.json``             metric -> type, unit, help (from the catalogue)
``configs/*.toml``                the guide's four scenarios, plus
                                  ``baseline.toml`` and ``after-max-depth-3.toml``
``bench/<name>/``                 the guide's benchmark suite (3 runs per test)
                                  with manifest, snapshots and report
``promapi/*.json``                Prometheus HTTP API responses (vector, matrix,
                                  scalar, error) computed from ``baseline``
================================  =====================================================

:func:`build_fixtures` regenerates all of it byte for byte.

Examples
--------
>>> from specanalysis.fixtures import fixture_names
>>> fixture_names()
['after-max-depth-3', 'baseline']
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import polars as pl

from specanalysis.catalogue import ACTIVE, MEMORY, TASKS
from specanalysis.errors import DataError

__all__ = [
    "FIXTURES_DIR",
    "FIXTURE_START",
    "FIXTURE_SEED",
    "fixtures_dir",
    "fixture_names",
    "fixture_path",
    "fixture_config",
    "config_names",
    "config_path",
    "load_config",
    "load_fixture",
    "fixture_workload",
    "build_fixtures",
]

ENV_VAR = "SPECANALYSIS_FIXTURES"

#: The repository's fixtures folder (``<repo>/fixtures`` next to the package).
FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures"

#: Simulated start time of every fixture (no wall clock anywhere).
FIXTURE_START = datetime(2025, 1, 28, tzinfo=timezone.utc)
#: Seed of the two-hour fixture workloads (both configurations use the same seed).
FIXTURE_SEED = 20250128
#: Seed of the fixture benchmark suites.
BENCH_SEED = 7
#: Length of the two-hour fixtures.
FIXTURE_DURATION = "2h"


@dataclass(frozen=True)
class _Fixture:
    name: str
    description: str
    max_depth: int


_FIXTURES: dict[str, _Fixture] = {
    f.name: f
    for f in (
        _Fixture("baseline", "before: the fixture configuration with max_depth = 5", 5),
        _Fixture("after-max-depth-3",
                 "after the guide's example change: max_depth 5 -> 3", 3),
    )
}


def fixtures_dir() -> Path:
    """The fixtures folder: ``$SPECANALYSIS_FIXTURES`` if set, else :data:`FIXTURES_DIR`."""
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else FIXTURES_DIR


def fixture_names() -> list[str]:
    """Names :func:`load_fixture` accepts, sorted."""
    return sorted(_FIXTURES)


def _check_name(name: str) -> _Fixture:
    if name not in _FIXTURES:
        raise DataError(f"unknown fixture {name!r}", field="fixture",
                        expected="one of " + ", ".join(fixture_names()))
    return _FIXTURES[name]


def fixture_path(name: str, file: str = "samples.parquet") -> Path:
    """Path of ``file`` in fixture ``name`` (the file must exist).

    Raises
    ------
    DataError
        Unknown fixture name, or the file is absent (names the path and how to
        build it: ``specanalysis fixtures build``).
    """
    _check_name(name)
    path = fixtures_dir() / name / file
    if not path.exists():
        raise DataError(
            "fixture file not found", source=str(path), field="fixture",
            expected="a built fixtures folder (run `specanalysis fixtures build`, or "
            f"set {ENV_VAR} to the folder)",
        )
    return path


def load_fixture(name: str) -> pl.DataFrame:
    """The samples frame of fixture ``name`` (``"baseline"``, ``"after-max-depth-3"``).

    Examples
    --------
    >>> df = load_fixture("baseline")
    >>> df.columns[:3], df["timestamp"].min()
    (['timestamp', 'metric', 'value'], datetime.datetime(2025, 1, 28, 0, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC')))
    """
    from specanalysis.io.parquet import read_samples

    return read_samples(fixture_path(name))


def fixture_config(name: str):
    """The ``SpeculationConfig`` fixture ``name`` was simulated with."""
    f = _check_name(name)
    return _fixture_configs()[f.name]


# ---------------------------------------------------------------- configuration


def config_names() -> list[str]:
    """Names of the bundled configurations (``fixtures/configs/<name>.toml``), sorted.

    The guide's four scenarios plus the two fixture configurations.

    Examples
    --------
    >>> config_names()
    ['after-max-depth-3', 'baseline', 'burst-traffic', 'cost-optimized', 'high-reliability', 'low-latency-trading']
    """
    folder = fixtures_dir() / "configs"
    return sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []


def config_path(name_or_path: str | os.PathLike[str], *, field: str = "config") -> Path:
    """The TOML file a ``--config`` value names: an existing file, or a bundled name.

    An existing path wins (relative to the working directory); otherwise a bare
    name (``"baseline"``, ``"low-latency-trading"``, with or without ``.toml``)
    is looked up in ``fixtures/configs/``, so examples work from any directory.

    Raises
    ------
    DataError
        Neither a file nor a bundled name; the message lists the bundled names.

    Examples
    --------
    >>> config_path("baseline").name
    'baseline.toml'
    >>> config_path("no-such-config")
    Traceback (most recent call last):
    ...
    specanalysis.errors.DataError: ...no such file and no bundled configuration of that name...
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    stem = path.name[:-5] if path.name.endswith(".toml") else path.name
    bundled = fixtures_dir() / "configs" / f"{stem}.toml"
    if path.parent == Path(".") and bundled.is_file():
        return bundled
    names = config_names()
    raise DataError(
        "no such file and no bundled configuration of that name",
        source=str(name_or_path), field=field,
        expected="a TOML file, or one of the bundled configurations: "
        + (", ".join(names) if names else "(none built: run `specanalysis fixtures "
           "build`)") + " (`specanalysis fixtures list` shows their paths)",
    )


def load_config(name_or_path: str | os.PathLike[str]):
    """A ``SpeculationConfig`` from a TOML file or a bundled name (:func:`config_path`).

    Examples
    --------
    >>> load_config("high-reliability").max_depth
    2
    """
    from specanalysis.config import SpeculationConfig

    return SpeculationConfig.from_toml(config_path(name_or_path))


def _fixture_configs() -> dict[str, Any]:
    from specanalysis.config import SpeculationConfig

    base = SpeculationConfig().replace(**{
        "enabled": True,
        "mode": "balanced",
        "max_depth": 5,
        # with the documented (second-scale) proof times chains stay unconfirmed
        # for seconds; 16 branches keep the default 4 from hiding max_depth's effect
        "max_parallel_branches": 16,
    })
    return {name: base.replace(max_depth=f.max_depth) for name, f in _FIXTURES.items()}


def fixture_workload():
    """The two-hour fixture workload (the same for both configurations).

    Moderate load (8 tasks/s offered) in chains of 1-8 tasks, so depths
    beyond 3 are common and ``max_depth`` matters; 3 % of proofs invalid,
    so rollbacks and their blast radius show the guide's trade-off; the
    benchmark's timings (:data:`specanalysis.sim.bench.BENCH_TIMINGS`).
    """
    from specanalysis.sim.bench import BENCH_TIMINGS
    from specanalysis.sim.workload import Workload

    return Workload(rate=8.0, depth="uniform:1-8", pattern="constant", failures=0.03,
                    **BENCH_TIMINGS)


# ------------------------------------------------------------ Prometheus API JSON


def _go_float(value: float) -> str:
    """A float as Prometheus renders sample values (Go's strconv 'f', -1)."""
    import numpy as np

    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return np.format_float_positional(value, trim="-")


def _go_time(ms: int) -> float | int:
    """Unix seconds as the API renders them (integer when whole)."""
    return ms // 1000 if ms % 1000 == 0 else round(ms / 1000, 3)


def _labels(row: dict[str, Any], label_cols: list[str]) -> dict[str, str]:
    out = {"__name__": row["metric"]} if row.get("metric") is not None else {}
    out.update({c: row[c] for c in label_cols if row.get(c) is not None})
    return dict(sorted(out.items()))


def promapi_responses(samples: pl.DataFrame, *, at: datetime, start: datetime,
                      end: datetime, step_s: int = 60) -> dict[str, dict[str, Any]]:
    """Canned Prometheus HTTP API responses computed from a samples frame.

    Returns file name -> ``{"request": {...}, "http_status": int, "body": {...}}``
    for an instant vector query, a range (matrix) query, a scalar query and an
    error envelope (``bad_data``, HTTP 400). Values are the samples themselves
    (raw selectors over gauge/counter series whose scrapes line up with the
    evaluation times), rendered as Prometheus does.
    """
    from specanalysis._time import to_ms
    from specanalysis.frames import label_columns

    at_ms, start_ms, end_ms = to_ms(at), to_ms(start), to_ms(end)
    frame = samples.with_columns(pl.col("timestamp").dt.epoch("ms").alias("_ms"))
    labels = list(label_columns(samples))

    def latest(metric: str, t_ms: int) -> pl.DataFrame:
        # Prometheus: the latest sample within the 5 m lookback at or before t.
        return (frame.filter((pl.col("metric") == metric) & (pl.col("_ms") <= t_ms)
                             & (pl.col("_ms") > t_ms - 300_000))
                .sort("_ms").group_by(["metric", *labels], maintain_order=True).last())

    vec = latest(MEMORY, at_ms)
    vector = [
        {"metric": _labels(r, labels), "value": [_go_time(at_ms), _go_float(r["value"])]}
        for r in vec.iter_rows(named=True)
    ]
    vector.sort(key=lambda r: json.dumps(r["metric"], sort_keys=True))

    series: dict[str, dict[str, Any]] = {}
    for t_ms in range(start_ms, end_ms + 1, step_s * 1000):
        for r in latest(ACTIVE, t_ms).iter_rows(named=True):
            lab = _labels(r, labels)
            key = json.dumps(lab, sort_keys=True)
            series.setdefault(key, {"metric": lab, "values": []})["values"].append(
                [_go_time(t_ms), _go_float(r["value"])])
    matrix = [series[k] for k in sorted(series)]

    total = latest(TASKS, at_ms)["value"].sum()
    iso = {"at": at.isoformat().replace("+00:00", "Z"),
           "start": start.isoformat().replace("+00:00", "Z"),
           "end": end.isoformat().replace("+00:00", "Z")}
    return {
        "vector.json": {
            "request": {"path": "/api/v1/query",
                        "params": {"query": MEMORY,
                                   "time": iso["at"]}},
            "http_status": 200,
            "body": {"status": "success",
                     "data": {"resultType": "vector", "result": vector}},
        },
        "matrix.json": {
            "request": {"path": "/api/v1/query_range",
                        "params": {"query": ACTIVE,
                                   "start": iso["start"], "end": iso["end"],
                                   "step": f"{step_s}s"}},
            "http_status": 200,
            "body": {"status": "success",
                     "data": {"resultType": "matrix", "result": matrix}},
        },
        "scalar.json": {
            "request": {"path": "/api/v1/query",
                        "params": {"query": "scalar(sum(speculation_tasks_total))",
                                   "time": iso["at"]}},
            "http_status": 200,
            "body": {"status": "success",
                     "data": {"resultType": "scalar",
                              "result": [_go_time(at_ms), _go_float(float(total))]}},
        },
        "error_bad_data.json": {
            "request": {"path": "/api/v1/query",
                        "params": {"query": "rate(speculation_tasks_total[5m]",
                                   "time": iso["at"]}},
            "http_status": 400,
            "body": {"status": "error", "errorType": "bad_data",
                     "error": "invalid parameter \"query\": 1:33: parse error: "
                     "unclosed left parenthesis"},
        },
    }


# ---------------------------------------------------------------------- building

#: Runs per test of the fixture benchmark suites (the guide's five tests with
#: the guide's durations and rates; the guide asks for at least 3 runs).
BENCH_RUNS = 3


def _write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def _json(obj: Any, *, compact: bool = False) -> str:
    if compact:
        return json.dumps(obj, sort_keys=False, separators=(",", ":"),
                          allow_nan=False) + "\n"
    return json.dumps(obj, sort_keys=True, indent=2, allow_nan=False) + "\n"


def _metric_manifest() -> dict[str, Any]:
    from specanalysis.catalogue import CATALOGUE

    return {
        "schema_version": 1,
        "kind": "specanalysis.metric_types",
        "metrics": {
            m.name: {"type": m.type, "unit": m.unit, "help": m.help,
                     "labels": list(m.labels),
                     "samples": list(m.sample_names)}
            for m in sorted(CATALOGUE.values(), key=lambda m: m.name)
        },
    }


def _summary_doc(summary: dict[str, float]) -> dict[str, Any]:
    return {k: (None if v != v or v in (float("inf"), float("-inf")) else v)
            for k, v in sorted(summary.items())}


def build_fixtures(output_dir: str | Path | None = None, *,
                   progress: Callable[[str], None] | None = None) -> list[Path]:
    """Regenerate every fixture under ``output_dir`` (default: :func:`fixtures_dir`).

    Deterministic: fixed seeds, a fixed simulated start
    (:data:`FIXTURE_START`), no wall-clock time, sorted JSON keys, Parquet
    written with fixed settings; running it twice gives identical bytes (the
    Parquet footer names the polars version, so bytes are stable for one polars
    version). ``progress(step)`` is called with a short description before each
    step. Returns the files written, sorted. ``fixtures/README.md`` is not
    touched (it is written by hand).
    """
    from specanalysis.config import write_scenario_files
    from specanalysis.frames import canonical_samples
    from specanalysis.io.parquet import write_samples
    from specanalysis.sim import bench
    from specanalysis.sim.engine import simulate

    out = Path(output_dir) if output_dir is not None else fixtures_dir()
    out.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda _step: None)
    written: list[Path] = []

    say("configs")
    written += write_scenario_files(out / "configs")
    configs = _fixture_configs()
    for name, cfg in configs.items():
        header = (f"Fixture configuration {name!r}: {_FIXTURES[name].description}.\n"
                  "Generated by specanalysis.fixtures.build_fixtures.")
        written.append(_write(out / "configs" / f"{name}.toml", cfg.to_toml(header=header)))
    written.append(_write(out / "metric_types.json", _json(_metric_manifest())))

    workload = fixture_workload()
    baseline_samples = None
    for name in fixture_names():
        say(f"simulate {name} ({FIXTURE_DURATION})")
        sim = simulate(configs[name], workload, duration=FIXTURE_DURATION,
                       seed=FIXTURE_SEED, start=FIXTURE_START, progress=False)
        d = out / name
        d.mkdir(parents=True, exist_ok=True)
        samples = canonical_samples(sim.samples)
        if name == "baseline":
            baseline_samples = samples
        written.append(write_samples(samples, d / "samples.parquet"))
        written.append(Path(sim.write_openmetrics(d / "metrics.om")))
        written.append(_write(d / "pre_metrics.txt", sim.snapshot(60.0)))
        written.append(_write(d / "post_metrics.txt", sim.snapshot(sim.end)))
        written.append(_write(d / "summary.json", _json({
            "fixture": name,
            "seed": FIXTURE_SEED,
            "start": FIXTURE_START.isoformat().replace("+00:00", "Z"),
            "duration": FIXTURE_DURATION,
            "warmup_s": 60.0,
            "summary": _summary_doc(sim.summary(warmup=60.0)),
        })))

    say("Prometheus API responses")
    from datetime import timedelta

    responses = promapi_responses(
        baseline_samples, at=FIXTURE_START + timedelta(hours=1),
        start=FIXTURE_START + timedelta(hours=1),
        end=FIXTURE_START + timedelta(hours=1, minutes=10), step_s=60)
    index = {}
    for file, resp in sorted(responses.items()):
        written.append(_write(out / "promapi" / file, _json(resp["body"], compact=True)))
        index[file] = {"request": resp["request"], "http_status": resp["http_status"]}
    written.append(_write(out / "promapi" / "index.json", _json({
        "source": "fixture 'baseline' (samples.parquet)", "responses": index})))

    for name in fixture_names():
        say(f"benchmark suite {name} ({BENCH_RUNS} runs)")
        d = out / "bench" / name
        written += bench.run_suite(configs[name], runs=BENCH_RUNS, output_dir=d,
                                   seed=BENCH_SEED, progress=False)
        written += [d / "pre_metrics.txt", d / "post_metrics.txt", d / "manifest.json"]
        written.append(_write(d / "report.md", bench.suite_report(d)))
    return sorted(set(written))
