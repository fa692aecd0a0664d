"""Fuzz tier: every parser, fed generated and mutated input, raises only typed errors
and loses or changes nothing it accepts.

Per parser two properties: a round trip of generated data (write, then read
back equal) and mutations of the bundled fixtures (byte flips, insertions,
deletions, duplicated and cut lines), where anything but a
:class:`~specanalysis.errors.SpecAnalysisError` escaping is a failure, and an
accepted input must give exactly the rows it holds. ``conftest.py`` sets the
profile (``SPECANALYSIS_FUZZ=long``: 100,000 cases per property).
"""

from __future__ import annotations

import json
import math
import tomllib
import warnings
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from specanalysis.config import SpeculationConfig
from specanalysis.errors import SpecAnalysisError
from specanalysis.io import (
    format_exposition,
    parse_exposition,
    parse_query_response,
    read_exposition,
    read_samples,
    write_openmetrics,
    write_samples,
)

from .conftest import CASES

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
fuzz = settings(settings.get_profile("specanalysis-fuzz"), max_examples=CASES)
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _head(path: Path, n: int) -> bytes:
    return b"".join(path.read_bytes().splitlines(keepends=True)[:n])


TEXT = _head(FIXTURES / "baseline" / "pre_metrics.txt", 80)
OM = _head(FIXTURES / "baseline" / "metrics.om", 80) + b"# EOF\n"
API = (FIXTURES / "promapi" / "matrix.json").read_bytes()
TOMLS = [p.read_bytes() for p in sorted((FIXTURES / "configs").glob("*.toml"))]


@st.composite
def mutated(draw, base: bytes) -> bytes:
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "dup_line", "cut",
                                     "byte"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte":
            data[i] = draw(st.sampled_from(b'{}[]",:=#\n\t \\\x00\xff0.-+eEIiNnfa_'))
        elif kind == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[i:i + draw(st.integers(1, 16))]
        elif kind == "dup_line":
            j = data.find(b"\n", i)
            k = data.rfind(b"\n", 0, i) + 1
            if j > 0:
                data[j + 1:j + 1] = data[k:j + 1]
        else:
            del data[i:]
    return bytes(data)


def _typed(fn, *args, **kwargs):
    """Call; a SpecAnalysisError means refused (None); anything else escapes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(*args, **kwargs)
        except SpecAnalysisError:
            return None


def _sample_lines(text: bytes) -> int:
    lines = text.decode("utf-8").split("\n")
    return sum(1 for ln in lines
               if ln.strip(" \t\r") and not ln.strip(" \t\r").startswith("#"))


# ------------------------------------------------------------ generated frames

NAMES = st.sampled_from(["up", "speculation_active_tasks", "my_metric_total", "a:b_c",
                         "speculation_tasks_total", "x_bucket"])
LABEL_VALUES = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]),
                       max_size=12)
FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)
MS = st.integers(946_684_800_000, 4_102_444_800_000)  # 2000 .. 2100


@st.composite
def frames(draw, *, one_per_series: bool = False):
    n = draw(st.integers(1, 25))
    labels = draw(st.lists(st.sampled_from(["job", "instance", "reason", "zone"]),
                           unique=True, max_size=3))
    rows = []
    for _ in range(n):
        row = {"timestamp": draw(MS), "metric": draw(NAMES), "value": draw(FLOATS)}
        for lab in labels:
            row[lab] = draw(st.one_of(st.none(), LABEL_VALUES.filter(bool)))
        rows.append(row)
    frame = pl.DataFrame(rows, schema={"timestamp": pl.Int64, "metric": pl.String,
                                       "value": pl.Float64,
                                       **dict.fromkeys(labels, pl.String)})
    key = [c for c in frame.columns if c not in ("value", "timestamp")]
    frame = frame.unique(subset=key if one_per_series else [*key, "timestamp"],
                         keep="first", maintain_order=True)
    return frame.with_columns(
        pl.col("timestamp").cast(pl.Datetime("ms", "UTC"))).select(
        "timestamp", "metric", "value", *sorted(labels))


def _canon(frame: pl.DataFrame) -> pl.DataFrame:
    cols = ["timestamp", "metric", *sorted(c for c in frame.columns
                                           if c not in ("timestamp", "metric", "value"))]
    labels = [c for c in cols if c not in ("timestamp", "metric")]
    out = frame.with_columns(pl.col(c).replace("", None) for c in labels)
    out = out.select(*cols, "value").sort(cols, nulls_last=False)
    keep = [c for c in labels if out.get_column(c).null_count() < out.height]
    return out.select("timestamp", "metric", *keep, "value")


def _same(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    a, b = _canon(a), _canon(b)
    if a.columns != b.columns or a.height != b.height:
        return False
    va, vb = a.get_column("value").to_list(), b.get_column("value").to_list()
    same_values = all((math.isnan(x) and math.isnan(y)) or x == y
                      for x, y in zip(va, vb, strict=True))
    return same_values and a.drop("value").equals(b.drop("value"))


# ------------------------------------------------------------ exposition 0.0.4


@fuzz
@given(frames())
def test_exposition_round_trip(frame):
    text = format_exposition(frame, timestamps=True)
    back = parse_exposition(text, normalize=False)
    assert _same(back, frame)


def _le_text(name: str, value: str) -> str:
    """``le``/``quantile`` values as floats' text: the parser writes them canonically
    (``.5`` -> ``0.5``), as Prometheus 3 does on ingestion."""
    if name in ("le", "quantile"):
        try:
            return repr(float(value))
        except ValueError:
            pass
    return value


def _oracle_samples(text: str):
    """Samples as prometheus_client's text parser reads them (None: it refuses)."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        return Counter(
            (s.name, tuple(sorted((k, _le_text(k, v)) for k, v in s.labels.items() if v)),
             "NaN" if math.isnan(s.value) else s.value)
            for fam in text_string_to_metric_families(text) for s in fam.samples)
    except Exception:  # noqa: BLE001 - the oracle refusing is not our finding
        return None


@fuzz
@given(mutated(TEXT))
def test_exposition_mutations(data):
    out = _typed(parse_exposition, data, timestamp="2025-01-01T00:00:00Z",
                 normalize=False)
    if out is not None:  # accepted: one row per sample line, nothing dropped
        assert out.height == _sample_lines(data)
        # and nothing changed: where prometheus_client's parser (independent
        # truth) also accepts the text, both read the same samples
        oracle = _oracle_samples(data.decode("utf-8"))
        if oracle is not None:
            labels = [c for c in out.columns if c not in ("timestamp", "metric", "value")]
            ours = Counter(
                (r["metric"], tuple(sorted((k, _le_text(k, r[k])) for k in labels
                                           if r[k])),
                 "NaN" if math.isnan(r["value"]) else r["value"])
                for r in out.iter_rows(named=True))
            assert ours == oracle


# ------------------------------------------------------------ OpenMetrics


@fuzz
@given(frames())
def test_openmetrics_round_trip(tmp_path_factory, frame):
    path = tmp_path_factory.mktemp("om") / "f.om"
    write_openmetrics(frame, path, types=dict.fromkeys(frame["metric"], "unknown"))
    assert _same(read_exposition(path, normalize=False), frame)


@fuzz
@given(mutated(OM))
def test_openmetrics_mutations(data):
    out = _typed(parse_exposition, data, format="openmetrics", normalize=False)
    if out is not None:
        assert out.height == _sample_lines(data)


# ------------------------------------------------------------ API JSON

LAYOUTS = st.sampled_from([{"separators": (",", ":")}, {}, {"indent": 2},
                           {"indent": 1, "separators": (" ,", " : ")}])


@fuzz
@given(frames(), LAYOUTS)
def test_api_json_round_trip(frame, layout):
    labels = [c for c in frame.columns if c not in ("timestamp", "metric", "value")]
    series: dict = {}
    for row in frame.sort("timestamp").iter_rows(named=True):
        metric = {"__name__": row["metric"],
                  **{k: row[k] for k in labels if row[k] not in (None, "")}}
        key = tuple(sorted(metric.items()))
        ts = row["timestamp"].timestamp()
        v = row["value"]
        text = "NaN" if math.isnan(v) else ("+Inf" if v == math.inf else
                                            "-Inf" if v == -math.inf else repr(v))
        series.setdefault(key, (metric, []))[1].append([ts, text])
    doc = {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": m, "values": vals} for m, vals in series.values()]}}
    back = parse_query_response(json.dumps(doc, **layout)).frame
    assert _same(back, frame)


@fuzz
@given(mutated(API))
def test_api_json_mutations(data):
    resp = _typed(parse_query_response, data)
    if resp is None:
        return
    doc = json.loads(data)  # we accepted it, so it must be JSON
    result = doc["data"]["result"]
    points = sum(len(s.get("values") or []) + ("value" in s) for s in result)
    assert resp.frame.height == points
    # nothing changed: the rows are the points as the standard library reads them
    want: Counter = Counter()
    for series in result:
        metric = series.get("metric") or {}
        labels = tuple(sorted((k, v) for k, v in metric.items() if k != "__name__" and v))
        for t, v in series.get("values") or ([series["value"]] if "value" in series
                                             else []):
            value = float(v)
            want[(metric.get("__name__"), labels, round(float(t) * 1000),
                  "NaN" if math.isnan(value) else value)] += 1
    frame = resp.frame
    names = [c for c in frame.columns if c not in ("timestamp", "metric", "value")]
    got = Counter(
        (r["metric"], tuple(sorted((k, r[k]) for k in names if r[k])), r["ms"],
         "NaN" if math.isnan(r["value"]) else r["value"])
        for r in frame.with_columns(pl.col("timestamp").dt.epoch("ms").alias("ms"))
        .iter_rows(named=True))
    assert got == want


# ------------------------------------------------------------ Parquet


@fuzz
@given(frames())
def test_parquet_round_trip(tmp_path_factory, frame):
    path = tmp_path_factory.mktemp("pq") / "s.parquet"
    assert _same(read_samples(write_samples(frame, path)), frame)


_PQ_BASE: dict = {}


def _parquet_base(tmp: Path) -> tuple[bytes, pl.DataFrame]:
    if not _PQ_BASE:
        frame = pl.DataFrame({
            "timestamp": [datetime(2025, 1, 1, 0, i, tzinfo=timezone.utc)
                          for i in range(30)],
            "metric": "speculation_active_tasks", "value": [float(i) for i in range(30)],
            "instance": ["a", "b", None] * 10})
        path = write_samples(frame, tmp / "base.parquet")
        _PQ_BASE["v"] = (path.read_bytes(), read_samples(path))
    return _PQ_BASE["v"]


@fuzz
@given(st.data())
def test_parquet_mutations(tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("pqm")
    base, original = _parquet_base(tmp)
    path = tmp / "m.parquet"
    path.write_bytes(data.draw(mutated(base)))
    back = _typed(read_samples, path)
    assert back is None or back.equals(original)


# ------------------------------------------------------------ TOML

CONFIG_KEYS = {"max_depth": st.integers(-5, 40), "mode": st.sampled_from(
    ["balanced", "fast", "aggressive", "conservative", ""]),
    "rollback_policy": st.text(max_size=12),
    "confirmation_timeout_ms": st.one_of(st.integers(-10, 10**7), st.floats()),
    "max_parallel_branches": st.integers(-3, 300)}


@fuzz
@given(st.dictionaries(st.sampled_from(sorted(CONFIG_KEYS)), st.none(), max_size=5)
       .flatmap(lambda keys: st.fixed_dictionaries(
           {k: CONFIG_KEYS[k] for k in keys})))
def test_toml_round_trip(values):
    text = tomli_w.dumps({"speculation": values})
    cfg = _typed(SpeculationConfig.from_toml, text)
    if cfg is not None:  # accepted: every value kept as given
        d = cfg.to_dict()["speculation"]
        for k, v in values.items():
            assert d[k] == v or (isinstance(v, float) and float(d[k]) == v), k
        again = SpeculationConfig.from_toml(cfg.to_toml())
        assert again == cfg


def _same_settings(given: dict, kept: dict, path: str = "speculation") -> None:
    for key, value in given.items():
        assert key in kept, f"{path}.{key} was dropped"
        if isinstance(value, dict):
            _same_settings(value, kept[key], f"{path}.{key}")
        else:
            assert kept[key] == value, f"{path}.{key}: {value!r} became {kept[key]!r}"


@fuzz
@given(st.sampled_from(TOMLS).flatmap(mutated))
def test_toml_mutations(data):
    text = data.decode("utf-8", errors="surrogateescape")
    text = text if "\n" in text else text + "\n"
    cfg = _typed(SpeculationConfig.from_toml, text)
    if cfg is not None:  # accepted: every setting the TOML gives is kept as given
        _same_settings(tomllib.loads(text).get("speculation", {}),
                       cfg.to_dict()["speculation"])
