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

Result file (JSON, ``schema_version`` 1)
----------------------------------------
::

    {
      "schema_version": 1,
      "kind": "specanalysis.bench_result",
      "test": "throughput" | null,          # GUIDE_SUITE name, null for ad-hoc runs
      "run": 1 | null,                      # 1-based run number within a suite
      "seed": 42,                           # int >= 0
      "simulator": "specanalysis 0.1.0",
      "parameters": {
        "duration_s": 300.0,  "rate": 100.0,  "warmup_s": 60.0,
        "depth_distribution": "uniform:1-5",  "rate_pattern": "constant",
        "inject_failures": 0.0,  "measure_latency": false,
        "background_failures": 0.01
      },
      "config": { "speculation": { ... } },  # SpeculationConfig as TOML tables
      "workload": { "exec_time": "lognormal:mean=100ms,cv=0.5", ... },
      "summary": {                           # see SUMMARY_FIELDS; null = not defined
        "throughput_tps": 99.1, "latency_p50_s": 0.62, ...
      },
      "series": {                            # per-window series, columnar
        "window_s": 15.0,
        "columns": [{"name": "t_s", "dtype": "Float64", "values": [...]}, ...]
      }
    }

Every figure is computed over the measured part of the run, after the warm-up
(the guide: "discard first minute"). NaN is written as ``null`` (JSON has no NaN).
Files are written with sorted keys and no wall-clock time, so a seed reproduces
a file byte for byte.

Examples
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from specanalysis._time import format_duration, parse_duration
from specanalysis.errors import ParseError, SchemaError, SpecAnalysisError
from specanalysis.sim.workload import REALISTIC_TIMINGS

__all__ = [
    "SCHEMA_VERSION",
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

SCHEMA_VERSION = 1
KIND = "specanalysis.bench_result"
MANIFEST_KIND = "specanalysis.bench_suite"

#: Rate (tasks/s) used where the guide's test gives none (the burst test's baseline).
DEFAULT_RATE = 20.0
#: Depth distribution used where the guide's test gives none (the throughput test's).
DEFAULT_DEPTH_DISTRIBUTION = "uniform:1-5"
#: Simulated timings of every benchmark (a :class:`~specanalysis.sim.Workload`'s
#: time distributions): the documented ones (:data:`~specanalysis.sim.workload.REALISTIC_TIMINGS`:
#: 0.5 s execution, a ~2 s Groth16 batch wrap + 150 ms per proof, ~1 s confirmation).
#: ``bench run|suite`` take other distributions as flags or a workload file.
BENCH_TIMINGS: dict[str, str] = dict(REALISTIC_TIMINGS)
#: Summary figures added after schema version 1 was first written: a file without
#: them is still valid (they read as NaN).
LATER_SUMMARY_FIELDS: frozenset[str] = frozenset({"rejected_pct", "deferred_pct",
                                                   "auto_disabled_pct"})
#: Per-window length of the series (the simulator's scrape interval).
WINDOW_S = 15.0

#: Summary figures: name -> (unit, which direction is better, description).
SUMMARY_FIELDS: dict[str, tuple[str, str | None, str]] = {
    "tasks_total": ("tasks", None, "Execution attempts in the measured window"),
    "throughput_tps": ("tasks/s", "higher", "Tasks finalised per second"),
    "latency_p50_s": ("s", "lower", "End-to-end task latency p50"),
    "latency_p90_s": ("s", "lower", "End-to-end task latency p90"),
    "latency_p99_s": ("s", "lower", "End-to-end task latency p99"),
    "latency_max_s": ("s", "lower", "End-to-end task latency max"),
    "chain_latency_p50_s": ("s", "lower", "Whole-chain latency p50"),
    "chain_latency_p99_s": ("s", "lower", "Whole-chain latency p99"),
    "rollback_rate_pct": ("%", "lower", "Rollback events / execution attempts"),
    "task_rollback_rate_pct": ("%", "lower", "Tasks undone / execution attempts"),
    "avg_rollback_size": ("tasks", "lower", "Tasks undone per rollback (blast radius)"),
    "blast_radius_max": ("tasks", "lower", "Largest rollback"),
    "memory_avg_mb": ("MB", "lower", "Speculation memory, average"),
    "memory_peak_mb": ("MB", "lower", "Speculation memory, peak"),
    "memory_per_active_task_mb": ("MB", "lower", "Memory per active task"),
    "active_tasks_avg": ("tasks", None, "Tasks in flight, average"),
    "active_tasks_peak": ("tasks", None, "Tasks in flight, peak"),
    "proof_p50_s": ("s", "lower", "Proof generation p50 (request to done)"),
    "proof_p99_s": ("s", "lower", "Proof generation p99 (request to done)"),
    "recovery_time_s": ("s", "lower",
                        "Mean time from a rollback to its task's finalisation"),
    "recovery_time_p99_s": ("s", "lower", "Recovery time p99"),
    "queue_utilisation_peak_pct": ("%", "lower", "Proof queue peak / capacity"),
    "mean_batch_size": ("proofs", None, "Proofs per batch formed"),
    "rejected_pct": ("%", "lower", "Tasks refused at submission (proof queue full)"),
    "deferred_pct": ("%", "lower", "Execution attempts deferred at least once"),
    "auto_disabled_pct": ("%", "lower", "Share of the time speculation was auto-disabled"),
}

_PARAM_TYPES: dict[str, tuple[type, ...]] = {
    "duration_s": (int, float),
    "rate": (int, float),
    "warmup_s": (int, float),
    "depth_distribution": (str,),
    "rate_pattern": (str,),
    "inject_failures": (int, float),
    "measure_latency": (bool,),
    "background_failures": (int, float),
}


# --------------------------------------------------------------------------- schema


@dataclass(frozen=True)
class BenchParameters:
    """The flags of one benchmark run (the guide's ``agenc benchmark speculation``)."""

    duration_s: float
    rate: float
    depth_distribution: str = DEFAULT_DEPTH_DISTRIBUTION
    rate_pattern: str = "constant"
    inject_failures: float = 0.0
    measure_latency: bool = False
    warmup_s: float = 60.0
    background_failures: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "duration_s": float(self.duration_s),
            "rate": float(self.rate),
            "warmup_s": float(self.warmup_s),
            "depth_distribution": self.depth_distribution,
            "rate_pattern": self.rate_pattern,
            "inject_failures": float(self.inject_failures),
            "measure_latency": bool(self.measure_latency),
            "background_failures": float(self.background_failures),
        }


@dataclass(frozen=True)
class BenchResult:
    """One benchmark run: what was run and what it measured.

    Attributes
    ----------
    parameters
        The run's flags.
    config
        The configuration as nested TOML tables (``{"speculation": {...}}``);
        :meth:`speculation_config` turns it back into a ``SpeculationConfig``.
    seed
        The simulator seed.
    summary
        Figure name -> value (see :data:`SUMMARY_FIELDS`); NaN where undefined
        (no rollbacks -> no average rollback size).
    series
        The per-window series (one row per :data:`WINDOW_S` window after warm-up).
    test, run
        The suite test name and 1-based run number, or None for an ad-hoc run.
    simulator
        Package and version that produced the result.
    workload
        The simulated time distributions (``exec_time``, ``proof_time``,
        ``proof_overhead``, ``confirm_time``) as spec strings.
    """

    parameters: BenchParameters
    config: Mapping[str, Any]
    seed: int
    summary: Mapping[str, float]
    series: pl.DataFrame = field(compare=False, repr=False)
    test: str | None = None
    run: int | None = None
    simulator: str = ""
    workload: Mapping[str, str] = field(default_factory=lambda: dict(BENCH_TIMINGS))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BenchResult):
            return NotImplemented
        return (
            self.to_dict(series=False) == other.to_dict(series=False)
            and self.series.equals(other.series)
        )

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self, *, series: bool = True) -> dict[str, Any]:
        """The JSON document as Python objects (NaN -> None)."""
        out: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "kind": KIND,
            "test": self.test,
            "run": self.run,
            "seed": int(self.seed),
            "simulator": self.simulator,
            "parameters": self.parameters.to_dict(),
            "config": _plain(self.config),
            "workload": dict(sorted(self.workload.items())),
            "summary": {k: _nan_to_none(v) for k, v in sorted(self.summary.items())},
        }
        if series:
            out["series"] = _series_to_json(self.series)
        return out

    def to_json(self) -> str:
        """Deterministic JSON text (sorted keys, two-space indent, trailing newline)."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=2, allow_nan=False) + "\n"

    def write(self, path: str | Path) -> Path:
        """Write :meth:`to_json` to ``path`` (parents created); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    def speculation_config(self):
        """The configuration as a ``SpeculationConfig``."""
        from specanalysis.config import SpeculationConfig

        return SpeculationConfig.from_dict(_plain(self.config))

    def target_checks(self) -> pl.DataFrame:
        """The guide's targets against this run's summary (see :func:`check_targets`)."""
        return check_targets(self.summary)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _nan_to_none(value: Any) -> Any:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


_DTYPES: dict[str, pl.DataType] = {
    "Float64": pl.Float64(),
    "Int64": pl.Int64(),
    "String": pl.String(),
    "Boolean": pl.Boolean(),
    "Datetime(ms,UTC)": pl.Datetime("ms", "UTC"),
}


def _dtype_name(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return "Datetime(ms,UTC)"
    if dtype.is_float():
        return "Float64"
    if dtype.is_integer():
        return "Int64"
    if dtype == pl.Boolean:
        return "Boolean"
    return "String"


def _series_to_json(frame: pl.DataFrame) -> dict[str, Any]:
    columns = []
    for name in frame.columns:
        s = frame.get_column(name)
        kind = _dtype_name(s.dtype)
        if kind == "Datetime(ms,UTC)":
            values = (
                s.dt.convert_time_zone("UTC").dt.cast_time_unit("ms").dt.epoch("ms")
                .to_list()
            )
        elif kind == "Float64":
            values = [_nan_to_none(v) for v in s.cast(pl.Float64).to_list()]
        elif kind == "Int64":
            values = s.cast(pl.Int64).to_list()
        elif kind == "Boolean":
            values = s.to_list()
        else:
            values = s.cast(pl.String).to_list()
        columns.append({"name": name, "dtype": kind, "values": values})
    return {"window_s": WINDOW_S, "columns": columns}


# ------------------------------------------------------------------------ reading


def _fail(msg: str, source: str, field_: str, expected: str) -> SchemaError:
    return SchemaError(msg, source=source, field=field_, expected=expected)


def _series_from_json(obj: Any, source: str) -> pl.DataFrame:
    if not isinstance(obj, Mapping) or not isinstance(obj.get("columns"), list):
        raise _fail("is not a series object", source, "series",
                    "{'window_s': 15.0, 'columns': [{'name', 'dtype', 'values'}, ...]}")
    data: dict[str, pl.Series] = {}
    length = None
    for i, col in enumerate(obj["columns"]):
        where = f"series.columns[{i}]"
        if not isinstance(col, Mapping) or not {"name", "dtype", "values"} <= set(col):
            raise _fail("is not a column object", source, where,
                        "an object with name, dtype and values")
        dtype_name = col["dtype"]
        if dtype_name not in _DTYPES:
            raise _fail(f"unknown dtype {dtype_name!r}", source, f"{where}.dtype",
                        "one of " + ", ".join(_DTYPES))
        values = col["values"]
        if not isinstance(values, list):
            raise _fail("is not a list", source, f"{where}.values", "a JSON array")
        if length is not None and len(values) != length:
            raise _fail(f"has {len(values)} values, other columns {length}", source,
                        f"{where}.values", "columns of equal length")
        length = len(values)
        try:
            if dtype_name == "Datetime(ms,UTC)":
                s = pl.Series(col["name"], values, dtype=pl.Int64).cast(
                    pl.Datetime("ms")).dt.replace_time_zone("UTC")
            elif dtype_name == "Float64":
                s = pl.Series(
                    col["name"],
                    [math.nan if v is None else float(v) for v in values],
                    dtype=pl.Float64,
                )
            else:
                s = pl.Series(col["name"], values, dtype=_DTYPES[dtype_name])
        except (TypeError, ValueError, pl.exceptions.PolarsError) as exc:
            raise _fail(f"values do not fit {dtype_name}: {exc}", source,
                        f"{where}.values", f"{dtype_name} values") from None
        data[str(col["name"])] = s
    return pl.DataFrame(list(data.values()))


def _result_from_dict(doc: Any, source: str) -> BenchResult:
    if not isinstance(doc, Mapping):
        raise _fail("top level is not an object", source, "(root)", "a JSON object")
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise _fail(f"unsupported schema_version {version!r}", source,
                    "schema_version", f"{SCHEMA_VERSION}")
    if doc.get("kind") != KIND:
        raise _fail(f"kind is {doc.get('kind')!r}", source, "kind", repr(KIND))
    for key in ("seed", "parameters", "config", "summary", "series"):
        if key not in doc:
            raise _fail("is missing", source, key, "present")
    seed = doc["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise _fail(f"{seed!r} is not a seed", source, "seed", "an integer >= 0")
    test = doc.get("test")
    if test is not None and not isinstance(test, str):
        raise _fail(f"{test!r} is not a test name", source, "test", "a string or null")
    run = doc.get("run")
    if run is not None and (isinstance(run, bool) or not isinstance(run, int) or run < 1):
        raise _fail(f"{run!r} is not a run number", source, "run",
                    "an integer >= 1 or null")
    params = doc["parameters"]
    if not isinstance(params, Mapping):
        raise _fail("is not an object", source, "parameters", "a JSON object")
    for key, types in _PARAM_TYPES.items():
        if key not in params:
            raise _fail("is missing", source, f"parameters.{key}", "present")
        value = params[key]
        bad_bool = isinstance(value, bool) and bool not in types
        if bad_bool or not isinstance(value, types):
            raise _fail(f"{value!r} has the wrong type", source, f"parameters.{key}",
                        " or ".join(t.__name__ for t in types))
    unknown = sorted(set(params) - set(_PARAM_TYPES))
    if unknown:
        raise _fail(f"unknown key(s) {', '.join(unknown)}", source, "parameters",
                    "only " + ", ".join(_PARAM_TYPES))
    for key in ("duration_s", "rate", "warmup_s", "inject_failures",
                "background_failures"):
        value = float(params[key])
        low_ok = value > 0 if key == "duration_s" else value >= 0
        if not (math.isfinite(value) and low_ok):
            raise _fail(f"{value!r} is out of range", source, f"parameters.{key}",
                        "a finite number > 0" if key == "duration_s"
                        else "a finite number >= 0")
    for key in ("inject_failures", "background_failures"):
        if float(params[key]) > 1:
            raise _fail(f"{params[key]!r} is out of range", source,
                        f"parameters.{key}", "a fraction in [0, 1]")
    workload = doc.get("workload", {})
    if not isinstance(workload, Mapping) or not all(
            isinstance(v, str) for v in workload.values()):
        raise _fail("is not an object of spec strings", source, "workload",
                    '{"exec_time": "lognormal:mean=100ms,cv=0.5", ...}')
    if not isinstance(doc["config"], Mapping):
        raise _fail("is not an object", source, "config", "TOML tables as a JSON object")
    summary_doc = doc["summary"]
    if not isinstance(summary_doc, Mapping):
        raise _fail("is not an object", source, "summary", "a JSON object")
    summary: dict[str, float] = {}
    for key in SUMMARY_FIELDS:
        if key not in summary_doc and key not in LATER_SUMMARY_FIELDS:
            raise _fail("is missing", source, f"summary.{key}", "a number or null")
    for key, value in summary_doc.items():
        if key not in SUMMARY_FIELDS:
            raise _fail("is not a known figure", source, f"summary.{key}",
                        "one of " + ", ".join(SUMMARY_FIELDS))
        if value is None:
            summary[key] = math.nan
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(f"{value!r} is not a number", source, f"summary.{key}",
                        "a number or null")
        else:
            summary[key] = float(value)
    for key in LATER_SUMMARY_FIELDS:
        summary.setdefault(key, math.nan)
    series = _series_from_json(doc["series"], source)
    parameters = BenchParameters(
        duration_s=float(params["duration_s"]),
        rate=float(params["rate"]),
        depth_distribution=params["depth_distribution"],
        rate_pattern=params["rate_pattern"],
        inject_failures=float(params["inject_failures"]),
        measure_latency=params["measure_latency"],
        warmup_s=float(params["warmup_s"]),
        background_failures=float(params["background_failures"]),
    )
    return BenchResult(
        parameters=parameters,
        config=_plain(doc["config"]),
        seed=seed,
        summary=summary,
        series=series,
        test=test,
        run=run,
        simulator=str(doc.get("simulator", "")),
        workload=dict(workload),
    )


def read_bench_result(path: str | Path) -> BenchResult:
    """Read a result file written by :meth:`BenchResult.write`.

    Raises
    ------
    ParseError
        The file is not JSON (names the line).
    SchemaError
        A field is missing, of the wrong type, out of range, or the
        ``schema_version`` is not supported; the error names the field.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "bad.json"
    >>> _ = p.write_text('{"schema_version": 99}')
    >>> read_bench_result(p)
    Traceback (most recent call last):
    ...
    specanalysis.errors.SchemaError: ...bad.json: schema_version: unsupported schema_version 99 (expected 1)
    """
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecAnalysisError("no such file", source=source,
                                expected="a benchmark result JSON file") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"not JSON: {exc.msg}", source=source, line=exc.lineno,
                         expected="a benchmark result JSON document") from None
    return _result_from_dict(doc, source)


# ---------------------------------------------------------------------- the suite


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

#: Summary figure -> the guide's target (key of ``catalogue.TARGETS``).
TARGET_OF: dict[str, str] = {
    "latency_p50_s": "latency_p50_s",
    "latency_p99_s": "latency_p99_s",
    "rollback_rate_pct": "rollback_rate_pct",
    "memory_per_active_task_mb": "memory_per_active_task_mb",
    "proof_p99_s": "proof_p99_s",
    "recovery_time_s": "recovery_time_s",
}

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


def check_targets(summary: Mapping[str, float]) -> pl.DataFrame:
    """The guide's key-metric targets against a summary.

    One row per target: ``figure``, ``target`` (e.g. ``"< 5 s"``), ``observed``,
    ``met`` (null when the figure is undefined, e.g. no injected failures ->
    no recovery time).

    Examples
    --------
    >>> t = check_targets({"latency_p50_s": 0.8, "latency_p99_s": 6.0})
    >>> t.filter(pl.col("figure").is_in(["latency_p50_s", "latency_p99_s"]))["met"].to_list()
    [True, False]
    """
    from specanalysis.catalogue import TARGETS

    rows = []
    for figure, key in TARGET_OF.items():
        target = TARGETS[key]
        observed = summary.get(figure, math.nan)
        observed = math.nan if observed is None else float(observed)
        rows.append({
            "figure": figure,
            "description": target.description,
            "target": f"{target.op} {target.value:g} {target.unit}".strip(),
            "observed": observed,
            "met": target.met(observed),
        })
    return pl.DataFrame(rows, schema={"figure": pl.String, "description": pl.String,
                                      "target": pl.String, "observed": pl.Float64,
                                      "met": pl.Boolean})


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


def _load_suite(input_dir: str | Path) -> tuple[list[BenchResult], dict[str, Any]]:
    from specanalysis.errors import DataError

    directory = Path(input_dir)
    if not directory.is_dir():
        raise DataError("is not a directory", source=str(directory),
                        field="input_dir", expected="a suite output directory")
    manifest: dict[str, Any] = {}
    manifest_path = directory / "manifest.json"
    if manifest_path.exists():
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ParseError(f"not JSON: {exc.msg}", source=str(manifest_path),
                             line=exc.lineno) from None
        if not isinstance(manifest, dict) or manifest.get("kind") != MANIFEST_KIND:
            raise SchemaError("is not a suite manifest", source=str(manifest_path),
                              field="kind", expected=repr(MANIFEST_KIND))
        files = [directory / f for t in manifest.get("tests", [])
                 for f in t.get("files", [])]
    else:
        files = sorted(p for p in directory.glob("*.json") if p.name != "manifest.json")
    results = [read_bench_result(f) for f in files]
    if not results:
        raise DataError("holds no benchmark result files", source=str(directory),
                        field="input_dir", expected="<test>_run<k>.json files")
    return results, manifest


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


def _warmup_seconds(warmup: str | float) -> float:
    if warmup in (0, 0.0, "0", "0s", None):
        return 0.0
    return parse_duration(warmup, field="warmup")


def _check_warmup(warmup_s: float, duration_s: float) -> None:
    if warmup_s >= duration_s:
        raise SpecAnalysisError(
            f"warm-up {format_duration(warmup_s)} leaves nothing to measure in "
            f"{format_duration(duration_s)}", field="warmup",
            expected="a warm-up shorter than the duration")


def _measure(sim, *, warmup_s: float, measure_latency: bool
             ) -> tuple[dict[str, float], pl.DataFrame]:
    """Summary and per-window series of a simulation, after the warm-up."""
    raw = sim.summary(warmup=warmup_s)
    missing = [k for k in SUMMARY_FIELDS if k not in raw]
    if missing:  # the simulator and this schema must agree
        raise SchemaError("simulator summary lacks " + ", ".join(missing),
                          field="summary", expected="every SUMMARY_FIELDS figure")
    summary = {k: float(raw[k]) for k in SUMMARY_FIELDS}
    series = sim.windows(WINDOW_S).filter(pl.col("t_s") >= warmup_s - 1e-9)
    if not measure_latency:
        series = series.drop("latency_p50_s", "latency_p99_s", strict=False)
    return summary, series


def default_config():
    """The configuration ``bench`` uses without ``--config``: runtime defaults, enabled."""
    from specanalysis.config import SpeculationConfig

    return SpeculationConfig().replace(enabled=True)


def _simulator_version() -> str:
    from specanalysis import __version__

    return f"specanalysis {__version__}"


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
        timings={name: options[name] for name in BENCH_TIMINGS},
    )
    return result, sim, warmup_s


def result_from_simulation(
    sim,
    *,
    warmup: str | float = "1m",
    measure_latency: bool = True,
    test: str | None = None,
    run: int | None = None,
    depth_distribution: str | None = None,
    rate_pattern: str | None = None,
    inject_failures: float | None = None,
    background_failures: float = 0.0,
    timings: Mapping[str, Any] | None = None,
) -> BenchResult:
    """The benchmark result of a finished simulation (``SimResult.bench_result``).

    Flags not given are read back from ``sim.workload``: the depth and pattern
    specs as written, and its ``failures`` as ``inject_failures``.

    Examples
    --------
    >>> from specanalysis.config import SpeculationConfig
    >>> from specanalysis.sim import Workload, simulate
    >>> sim = simulate(SpeculationConfig(enabled=True), Workload(rate=5),
    ...                duration="2m", seed=1)
    >>> res = result_from_simulation(sim, warmup="30s")
    >>> res.parameters.rate, res.parameters.warmup_s, res.seed
    (5.0, 30.0, 1)
    """
    warmup_s = _warmup_seconds(warmup)
    _check_warmup(warmup_s, sim.duration)
    workload = sim.workload
    summary, series = _measure(sim, warmup_s=warmup_s, measure_latency=measure_latency)
    timings = timings or {name: getattr(workload, name) for name in BENCH_TIMINGS}
    return BenchResult(
        parameters=BenchParameters(
            duration_s=float(sim.duration), rate=float(workload.rate),
            depth_distribution=str(depth_distribution or workload.depth),
            rate_pattern=str(rate_pattern or workload.pattern),
            inject_failures=float(workload.failures if inject_failures is None
                                  else inject_failures),
            measure_latency=bool(measure_latency), warmup_s=warmup_s,
            background_failures=float(background_failures)),
        config=sim.config.to_dict(),
        seed=int(sim.seed),
        summary=summary,
        series=series,
        test=test,
        run=run,
        simulator=_simulator_version(),
        workload={name: str(getattr(workload.dist(name), "spec", "") or timings[name])
                  for name in BENCH_TIMINGS},
    )


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
