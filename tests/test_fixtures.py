"""The bundled fixtures: reproducible byte for byte, and showing the guide's trade-off."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from specanalysis.cli import main
from specanalysis.errors import DataError
from specanalysis.fixtures import (
    FIXTURES_DIR,
    build_fixtures,
    fixture_config,
    fixture_names,
    fixture_path,
    load_fixture,
)

COMMITTED = FIXTURES_DIR
HAVE_COMMITTED = (COMMITTED / "baseline" / "samples.parquet").exists()
needs_committed = pytest.mark.skipif(
    not HAVE_COMMITTED,
    reason=f"no committed fixtures at {COMMITTED}: run `specanalysis fixtures build`",
)


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fixtures")
    build_fixtures(out)
    return out


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and p.name != "README.md")


def _parquet_writer(path: Path) -> str:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.created_by


@pytest.mark.slow
def test_build_is_reproducible_byte_for_byte(rebuilt, tmp_path):
    """The committed folder when present, else a second build, must equal a rebuild."""
    reference = COMMITTED
    if not HAVE_COMMITTED:  # no committed fixtures: at least build twice
        reference = tmp_path
        build_fixtures(reference)
    assert _files(rebuilt) == _files(reference)
    differ = []
    for rel in _files(reference):
        a, b = (reference / rel).read_bytes(), (rebuilt / rel).read_bytes()
        if a == b:
            continue
        if rel.endswith(".parquet") and (
                _parquet_writer(reference / rel) != _parquet_writer(rebuilt / rel)):
            # another polars version writes another footer: compare the content
            assert pl.read_parquet(reference / rel).equals(
                pl.read_parquet(rebuilt / rel)), rel
            continue
        differ.append(rel)
    assert differ == [], f"rebuilt fixtures differ: {differ}"


@needs_committed
def test_committed_folder_is_small_and_documented():
    size = sum(p.stat().st_size for p in COMMITTED.rglob("*") if p.is_file())
    assert size < 20 * 1024 * 1024
    readme = (COMMITTED / "README.md").read_text()
    assert "specanalysis fixtures build" in readme and "20250128" in readme
    for name in ("low-latency-trading", "high-reliability", "cost-optimized",
                 "burst-traffic"):
        assert (COMMITTED / "configs" / f"{name}.toml").exists()


def _rate(samples: pl.DataFrame, metric: str, **labels) -> float:
    """Increase of a counter over the whole fixture (sum over series)."""
    f = samples.filter(pl.col("metric") == metric)
    for k, v in labels.items():
        f = f.filter(pl.col(k) == v)
    last = f.sort("timestamp").group_by([c for c in f.columns
                                         if c not in ("timestamp", "value")]).agg(
        pl.col("value").last() - pl.col("value").first())
    return float(last["value"].sum())


@needs_committed
def test_after_max_depth_3_shows_the_guides_trade_off():
    before, after = load_fixture("baseline"), load_fixture("after-max-depth-3")
    assert fixture_config("baseline").max_depth == 5
    assert fixture_config("after-max-depth-3").max_depth == 3

    def figures(s):
        tasks = _rate(s, "speculation_tasks_total")
        undone = _rate(s, "speculation_tasks_rolled_back_total")
        events = _rate(s, "speculation_rollback_total")
        mem = (s.filter(pl.col("metric") == "speculation_memory_usage_bytes")
               .group_by("timestamp").agg(pl.col("value").sum())["value"])
        depth = s.filter(pl.col("metric") == "speculation_current_depth")["value"]
        return {"task_rollback_rate": undone / tasks, "blast": undone / events,
                "mem_avg": mem.mean(), "mem_peak": mem.max(), "depth_max": depth.max()}

    b, a = figures(before), figures(after)
    # depth 5 admits depths 0-4, depth 3 admits 0-2 (runtime-facts §4)
    assert (b["depth_max"], a["depth_max"]) == (4, 2)
    assert a["task_rollback_rate"] < 0.9 * b["task_rollback_rate"]
    assert a["blast"] < 0.9 * b["blast"]
    assert a["mem_avg"] < 0.9 * b["mem_avg"] and a["mem_peak"] < b["mem_peak"]
    # the cost: p50 latency not better after (summary written next to the samples)
    sb = json.loads(fixture_path("baseline", "summary.json").read_text())["summary"]
    sa = json.loads(fixture_path("after-max-depth-3", "summary.json").read_text())[
        "summary"]
    assert sa["latency_p50_s"] >= sb["latency_p50_s"]
    assert sa["throughput_tps"] <= sb["throughput_tps"] * 1.001


@needs_committed
def test_promapi_responses_parse_and_match_the_samples():
    from specanalysis.io.promapi import parse_query_response

    root = COMMITTED / "promapi"
    index = json.loads((root / "index.json").read_text())["responses"]
    kinds = {}
    for file, meta in index.items():
        text = (root / file).read_text()
        if meta["http_status"] != 200:
            from specanalysis.errors import PrometheusError

            with pytest.raises(PrometheusError) as info:
                parse_query_response(text, status=meta["http_status"])
            assert info.value.error_type == "bad_data"
            continue
        kinds[file] = parse_query_response(text)
    assert {f: r.result_type for f, r in kinds.items()} == {
        "matrix.json": "matrix", "scalar.json": "scalar", "vector.json": "vector"}
    # the vector is the memory gauge at the query time, straight from the samples
    samples = load_fixture("baseline")
    at = index["vector.json"]["request"]["params"]["time"]
    want = (samples.filter((pl.col("metric") == "speculation_memory_usage_bytes")
                           & (pl.col("timestamp") == pl.lit(at).str.to_datetime(
                               time_zone="UTC", time_unit="ms")))
            .sort("component")["value"].to_list())
    got = kinds["vector.json"].frame.sort("component")["value"].to_list()
    assert got == want and len(got) == 5
    assert kinds["matrix.json"].frame.height == 11  # 10 minutes at a 60 s step


def test_unknown_fixture_is_a_typed_error():
    assert fixture_names() == ["after-max-depth-3", "baseline"]
    with pytest.raises(DataError) as info:
        load_fixture("nightly")
    assert info.value.field == "fixture" and "baseline" in str(info.value)


def test_missing_folder_names_how_to_build(monkeypatch, tmp_path):
    monkeypatch.setenv("SPECANALYSIS_FIXTURES", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="specanalysis fixtures build"):
        load_fixture("baseline")


def test_cli_fixtures_list(capsys):
    assert main(["fixtures", "list"]) == 0
    out = capsys.readouterr().out
    assert "baseline" in out and "after-max-depth-3" in out
