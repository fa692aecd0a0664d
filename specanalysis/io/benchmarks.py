"""Benchmark result files: the versioned JSON of one run and a suite directory.

The data layer's side of the guide's benchmark suite (the running lives in
:mod:`specanalysis.sim.bench`): :class:`BenchResult` / :class:`BenchParameters`
to and from JSON, :func:`read_bench_result` (typed errors naming the field),
:func:`load_suite` (a suite directory with its ``manifest.json``), the schema
version, the summary figures (:data:`SUMMARY_FIELDS`), the guide's targets
against a summary (:func:`check_targets`), and :func:`result_from_simulation`,
which turns any finished simulation (an object with ``summary()``,
``windows()``, ``workload``, ``config``, ``seed``, ``duration``) into a result.

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

Examples
--------
>>> from specanalysis.io.benchmarks import SCHEMA_VERSION, SUMMARY_FIELDS
>>> SCHEMA_VERSION, "latency_p99_s" in SUMMARY_FIELDS
(1, True)
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from specanalysis._time import format_duration, parse_duration
from specanalysis.errors import DataError, ParseError, SchemaError, SpecAnalysisError

__all__ = [
    "SCHEMA_VERSION",
    "KIND",
    "MANIFEST_KIND",
    "SUMMARY_FIELDS",
    "LATER_SUMMARY_FIELDS",
    "TIMING_FIELDS",
    "WINDOW_S",
    "DEFAULT_DEPTH_DISTRIBUTION",
    "TARGET_OF",
    "BenchParameters",
    "BenchResult",
    "read_bench_result",
    "load_suite",
    "check_targets",
    "result_from_simulation",
]


SCHEMA_VERSION = 1
KIND = "specanalysis.bench_result"
MANIFEST_KIND = "specanalysis.bench_suite"

#: Depth distribution used where the guide's test gives none (the throughput test's).
DEFAULT_DEPTH_DISTRIBUTION = "uniform:1-5"
#: The simulated time distributions a result records (``workload`` section).
TIMING_FIELDS: tuple[str, ...] = ("exec_time", "proof_time", "proof_overhead",
                                  "confirm_time")
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
        The simulated time distributions (:data:`TIMING_FIELDS`) as spec
        strings; empty when not recorded.
    """

    parameters: BenchParameters
    config: Mapping[str, Any]
    seed: int
    summary: Mapping[str, float]
    series: pl.DataFrame = field(compare=False, repr=False)
    test: str | None = None
    run: int | None = None
    simulator: str = ""
    workload: Mapping[str, str] = field(default_factory=dict)

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


# ------------------------------------------------------------------------ suites

def load_suite(input_dir: str | Path) -> tuple[list[BenchResult], dict[str, Any]]:
    """Read a suite directory: its result files (in manifest order) and manifest.

    Without ``manifest.json`` every ``*.json`` file of the directory is read,
    sorted by name; the manifest is then ``{}``.

    Raises
    ------
    DataError
        Not a directory, or no result files in it.
    ParseError, SchemaError
        A file that is not JSON, a manifest of another kind, a bad result file.
    """
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


# ------------------------------------------------------------- from a simulation

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


def _simulator_version() -> str:
    from specanalysis import __version__

    return f"specanalysis {__version__}"


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
    timings = timings or {name: getattr(workload, name) for name in TIMING_FIELDS}
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
                  for name in TIMING_FIELDS},
    )
