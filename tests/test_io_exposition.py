"""Tests of specanalysis.io.exposition: parsing, formatting, OpenMetrics writing.

Independent truth: prometheus_client's text parser (oracle for text 0.0.4),
its strict OpenMetrics parser (validates single-scrape output), and the real
``promtool`` (backfills our OpenMetrics files; ``tsdb dump`` shows every sample).
"""

from __future__ import annotations

import math
import re
import subprocess
import warnings
from datetime import datetime, timezone

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from specanalysis.errors import DataError, ParseError, SpecAnalysisError
from specanalysis.frames import canonical_samples
from specanalysis.io import (
    format_exposition,
    parse_exposition,
    read_exposition,
    write_openmetrics,
)
from specanalysis.io.exposition import DuplicateSamplesWarning, TimestampUnitWarning

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
T0_MS = 1_735_689_600_000


def ms(frame: pl.DataFrame) -> list[int]:
    return frame["timestamp"].dt.epoch("ms").to_list()


# ----------------------------------------------------------------- parsing basics


def test_text_format_ms_timestamps_labels_and_values():
    text = (
        "# HELP speculation_tasks_total Tasks.\n"
        "# TYPE speculation_tasks_total counter\n"
        'speculation_tasks_total{instance="a"} 42 1735689600250\n'
        'speculation_tasks_total{instance="b",job="x"} 1.5e3 1735689600000\n'
        "\n"
        "# a free comment\n"
        "speculation_active_tasks -7 1735689600000\n"
    )
    df = parse_exposition(text)
    assert df.columns == ["timestamp", "metric", "value", "instance", "job"]
    assert df["metric"].to_list() == ["speculation_tasks_total"] * 2 + [
        "speculation_active_tasks"]
    assert df["value"].to_list() == [42.0, 1500.0, -7.0]
    assert ms(df) == [T0_MS + 250, T0_MS, T0_MS]
    assert df["instance"].to_list() == ["a", "b", None]
    assert df["job"].to_list() == [None, "x", None]
    assert df.schema["timestamp"] == pl.Datetime("ms", "UTC")


def test_special_values_nan_and_infinities():
    text = "a NaN 0\nb +Inf 0\nc -Inf 0\nd Inf 0\ne 7 0\nf -0.5e-3 0\n"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TimestampUnitWarning)
        v = parse_exposition(text)["value"].to_list()
    assert math.isnan(v[0])
    assert v[1:] == [math.inf, -math.inf, math.inf, 7.0, -0.0005]


def test_label_escapes_are_decoded():
    # backslash, quote, newline; "\\n" is a backslash followed by n, not a newline
    text = r'm{a="x\\y",b="say \"hi\"",c="l1\nl2",d="\\n",e="},{=#"} 1 1735689600000'
    row = parse_exposition(text).row(0, named=True)
    assert row["a"] == "x\\y"
    assert row["b"] == 'say "hi"'
    assert row["c"] == "l1\nl2"
    assert row["d"] == "\\n"
    assert row["e"] == "},{=#"


def test_whitespace_trailing_comma_crlf_and_exemplars():
    text = (
        'm { a = "1" , b="2", } 3 1735689600000\r\n'
        'h_bucket{le="0.5"} 4 1735689600000 # {trace_id="abc"} 0.3 1735689600.1\r\n'
    )
    df = parse_exposition(text)
    assert df["a"].to_list() == ["1", None]
    assert df["b"].to_list() == ["2", None]
    assert df["value"].to_list() == [3.0, 4.0]  # exemplar value 0.3 not taken
    assert "trace_id" not in df.columns


def test_openmetrics_seconds_detected_by_eof():
    text = (
        "# TYPE speculation_tasks counter\n"
        "speculation_tasks_total 1 1735689600\n"
        "speculation_tasks_total 2 1735689615.25\n"
        "speculation_tasks_total 3 1735689630.001\n"
        "# EOF\n"
    )
    df = parse_exposition(text)
    assert ms(df) == [T0_MS, T0_MS + 15_250, T0_MS + 30_001]
    # the same file read as text 0.0.4 rejects the fractional "milliseconds"
    with pytest.raises(ParseError, match="milliseconds") as info:
        parse_exposition(text, format="prometheus")
    assert info.value.line == 3


def test_format_detection_unit_line_and_explicit_format():
    om = "# UNIT x_seconds seconds\nx_seconds 1 1735689600\n# EOF\n"
    assert ms(parse_exposition(om)) == [T0_MS]
    assert ms(parse_exposition(om, format="application/openmetrics-text; "
                               "version=1.0.0")) == [T0_MS]
    plain = "x 1 1735689600000\n"
    assert ms(parse_exposition(plain, format="text/plain; version=0.0.4")) == [T0_MS]
    assert ms(parse_exposition("x 1 1735689600\n# EOF\n", format="openmetrics")
              ) == [T0_MS]
    with pytest.raises(ParseError, match="format"):
        parse_exposition(plain, format="json")


def test_seconds_in_text_format_warn():
    with pytest.warns(TimestampUnitWarning, match="look like seconds"):
        df = parse_exposition("x 1 1735689600\n")
    assert ms(df) == [1_735_689_600]  # read as ms, as the format says


def test_default_timestamp_for_snapshot_and_own_timestamps_win():
    text = "a 1\nb 2 1735689615000\n"
    df = parse_exposition(text, timestamp=T0)
    assert ms(df) == [T0_MS, T0_MS + 15_000]
    assert ms(parse_exposition(text, timestamp="2025-01-01T00:00:00Z")) == ms(df)
    assert ms(parse_exposition(text, timestamp=1735689600)) == ms(df)


def test_missing_timestamp_is_a_parse_error_naming_the_line():
    with pytest.raises(ParseError) as info:
        parse_exposition("a 1 1735689600000\n\nb 2\n", source="snap.txt")
    err = info.value
    assert err.line == 3 and err.source == "snap.txt"
    assert "timestamp=" in str(err)


def test_alias_normalisation_ms_histogram_to_seconds():
    text = (
        "# TYPE speculation_proof_generation_duration_ms histogram\n"
        'speculation_proof_generation_duration_ms_bucket{le="250"} 2\n'
        'speculation_proof_generation_duration_ms_bucket{le="1000"} 5\n'
        'speculation_proof_generation_duration_ms_bucket{le="+Inf"} 6\n'
        "speculation_proof_generation_duration_ms_sum 4500\n"
        "speculation_proof_generation_duration_ms_count 6\n"
        "speculation_rollbacks_total 3\n"
        "node_cpu_seconds_total 9\n"
    )
    df = parse_exposition(text, timestamp=T0)
    assert df["metric"].to_list() == [
        *["speculation_proof_generation_seconds_bucket"] * 3,
        "speculation_proof_generation_seconds_sum",
        "speculation_proof_generation_seconds_count",
        "speculation_rollback_total",
        "node_cpu_seconds_total",  # unknown: kept as it is
    ]
    assert df["le"].to_list()[:3] == ["0.25", "1.0", "+Inf"]
    assert df["value"].to_list() == [2.0, 5.0, 6.0, 4.5, 6.0, 3.0, 9.0]
    raw = parse_exposition(text, timestamp=T0, normalize=False)
    assert raw["metric"][0] == "speculation_proof_generation_duration_ms_bucket"
    assert raw["le"].to_list()[:3] == ["250.0", "1000.0", "+Inf"]  # canonical form


def test_empty_and_comment_only_inputs_give_empty_frames():
    for text in ["", "\n\n", "# HELP x y\n# TYPE x gauge\n", "# EOF\n"]:
        df = parse_exposition(text)
        assert df.height == 0
        assert df.columns == ["timestamp", "metric", "value"]


def test_bytes_input_and_read_exposition(tmp_path):
    p = tmp_path / "snap.om"
    p.write_bytes("m{a=\"é\"} 1 1735689600\n# EOF\n".encode())
    df = read_exposition(p)
    assert df["a"].to_list() == ["é"] and ms(df) == [T0_MS]
    with pytest.raises(ParseError, match="UTF-8"):
        parse_exposition(b"m 1 1\n\xff\n")
    with pytest.raises(DataError) as info:
        read_exposition(tmp_path / "missing.txt")
    assert "missing.txt" in str(info.value)


# ------------------------------------------------------------- malformed input

MALFORMED = [
    # (text, 1-based line at fault, fragment of the message/expected)
    ("ok 1 0\n{a=\"b\"} 1 0\n", 2, "metric name"),
    ("ok 1 0\n9bad 1 0\n", 2, "metric name"),
    ("m{a=\"b\" 1 0\n", 1, "','"),
    ("m{a=b} 1 0\n", 1, "double-quoted"),
    ("m{a=\"unterminated} 1 0\n", 1, "quote"),
    ("m{1a=\"x\"} 1 0\n", 1, "label name"),
    ("m{a=\"x\",a=\"y\"} 1 0\n", 1, "twice"),
    ("m{a=\"x\\t\"} 1 0\n", 1, "escape"),
    ("m{value=\"x\"} 1 0\n", 1, "collides"),
    ("m{a=\"x\"}\n", 1, "value"),
    ("m\n", 1, "no value"),
    ("m abc 0\n", 1, "value"),
    ("m 0x10 0\n", 1, "value"),
    ("m 1 12.5\n", 1, "milliseconds"),
    ("m 1 99999999999999999999999\n", 1, "range"),
    ("m 1 2 3\n", 1, "cannot read"),
    ("m 1 0 # not an exemplar\n", 1, "exemplar"),
    ("# TYPE m countr\nm 1 0\n", 1, "TYPE"),
    ("# TYPE\n", 1, "TYPE"),
    ("# HELP\n", 1, "HELP"),
    ("a 1 0\nb 1 0\nc 1\n", 3, "timestamp"),
    # OpenMetrics
    ("m 1 1735689600\n# EOF\nn 2 1735689600\n", 3, "after '# EOF'"),
    ("# UNIT m seconds\nm 1 1735689600\n", 3, "# EOF"),
    ("# free comment\nm 1 1\n# EOF\n", 1, "comments"),
    ("m 1 1e999\n# EOF\n", 1, "range"),
    ("m 1 abc\n# EOF\n", 1, "seconds"),
]


@pytest.mark.parametrize(("text", "line", "fragment"), MALFORMED)
def test_malformed_lines_raise_parse_error_with_line(text, line, fragment):
    with pytest.raises(ParseError) as info:
        parse_exposition(text, source="in.txt")
    err = info.value
    assert err.line == line, str(err)
    assert err.source == "in.txt"
    assert fragment.lower() in str(err).lower(), str(err)


def test_first_bad_line_is_reported():
    lines = [f"m{{i=\"{i}\"}} {i} 0" for i in range(50)]
    lines[20] = "m{i=\"20\"} oops 0"
    lines[40] = "m{i=\"40\" 1 0"
    with pytest.raises(ParseError) as info:
        parse_exposition("\n".join(lines))
    assert info.value.line == 21


# -------------------------------------------------- oracle: prometheus_client

ORACLE_TEXT = r"""# HELP speculation_rollback_total Rollbacks by reason.
# TYPE speculation_rollback_total counter
speculation_rollback_total{reason="timeout",instance="n1:9100"} 17
speculation_rollback_total{reason="proof_invalid",instance="n1:9100"} 3
speculation_rollback_total{reason="weird \"quoted\" \\ value\nnext",instance="n1:9100"} 1
# TYPE speculation_active_tasks gauge
speculation_active_tasks{instance="n1:9100"} 12
speculation_active_tasks{instance="n2:9100"} NaN
# TYPE speculation_proof_generation_seconds histogram
speculation_proof_generation_seconds_bucket{instance="n1:9100",le="0.5"} 1
speculation_proof_generation_seconds_bucket{instance="n1:9100",le="1"} 4
speculation_proof_generation_seconds_bucket{instance="n1:9100",le="10"} 9
speculation_proof_generation_seconds_bucket{instance="n1:9100",le="+Inf"} 10
speculation_proof_generation_seconds_sum{instance="n1:9100"} 37.25
speculation_proof_generation_seconds_count{instance="n1:9100"} 10
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1.7356896e+09
temperature_celsius{room="a"} -Inf
temperature_celsius{room="b"} +Inf
"""


def _key(name, labels, value):
    labels = dict(labels)
    if "le" in labels:
        f = float(labels["le"])
        labels["le"] = "+Inf" if f == math.inf else repr(f)
    return (name, tuple(sorted(labels.items())),
            "nan" if math.isnan(value) else value)


def test_parse_matches_prometheus_client_text_parser():
    from prometheus_client.parser import text_string_to_metric_families

    expected = sorted(
        _key(s.name, s.labels, s.value)
        for fam in text_string_to_metric_families(ORACLE_TEXT)
        for s in fam.samples
    )
    df = parse_exposition(ORACLE_TEXT, timestamp=T0, normalize=False)
    labels = [c for c in df.columns if c not in ("timestamp", "metric", "value")]
    got = sorted(
        _key(r["metric"], {k: r[k] for k in labels if r[k] is not None}, r["value"])
        for r in df.iter_rows(named=True)
    )
    assert len(got) == 14
    assert got == expected
    assert set(ms(df)) == {T0_MS}


# ------------------------------------------------------------ format_exposition


def _without_null_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cannot carry a label column that is null everywhere: drop those."""
    return frame.select(c for c in frame.columns if frame[c].null_count() < frame.height)


def _mixed_frame(times=(0,)) -> pl.DataFrame:
    rows = []
    for k, t in enumerate(times):
        ts = T0_MS + t
        for inst in ("n1", "n2"):
            for le, c in (("0.5", 1), ("1.0", 3), ("+Inf", 4)):
                rows.append((ts, "speculation_proof_generation_seconds_bucket",
                             float(c + k), inst, le, None))
            rows.append((ts, "speculation_proof_generation_seconds_sum", 2.5 + k,
                         inst, None, None))
            rows.append((ts, "speculation_proof_generation_seconds_count",
                         4.0 + k, inst, None, None))
            for reason in ("timeout", "proof_invalid"):
                rows.append((ts, "speculation_rollback_total", float(2 + k), inst,
                             None, reason))
            rows.append((ts, "speculation_active_tasks", 7.0 + k, inst, None, None))
            rows.append((ts, "custom_thing", 0.25, inst, None, None))
    return pl.DataFrame(
        rows, orient="row",
        schema={"timestamp": pl.Int64, "metric": pl.String, "value": pl.Float64,
                "instance": pl.String, "le": pl.String, "reason": pl.String},
    ).with_columns(pl.col("timestamp").cast(pl.Datetime("ms", "UTC")))


def _families(text: str) -> list[str]:
    """Family order as TYPE lines appear; asserts each appears once."""
    fams = re.findall(r"^# TYPE (\S+) \S+$", text, flags=re.M)
    assert len(fams) == len(set(fams))
    return fams


def test_format_exposition_structure_and_round_trip():
    df = _mixed_frame()
    text = format_exposition(df)
    assert _families(text) == ["custom_thing", "speculation_active_tasks",
                               "speculation_proof_generation_seconds",
                               "speculation_rollback_total"]
    assert "# TYPE speculation_proof_generation_seconds histogram" in text
    assert "# TYPE speculation_rollback_total counter" in text
    assert "# TYPE custom_thing untyped" in text
    block = text.split("# TYPE speculation_proof_generation_seconds histogram\n")[1]
    block = block.split("# TYPE")[0].splitlines()
    assert block[:5] == [
        'speculation_proof_generation_seconds_bucket{instance="n1",le="0.5"} 1.0',
        'speculation_proof_generation_seconds_bucket{instance="n1",le="1.0"} 3.0',
        'speculation_proof_generation_seconds_bucket{instance="n1",le="+Inf"} 4.0',
        'speculation_proof_generation_seconds_sum{instance="n1"} 2.5',
        'speculation_proof_generation_seconds_count{instance="n1"} 4.0',
    ]
    # each sample line: no timestamp by default
    assert all(len(line.split(" ")) == 2 for line in block)
    back = parse_exposition(text, timestamp=T0)
    assert_frame_equal(canonical_samples(back), canonical_samples(df))


def test_format_exposition_types_override_and_one_scrape_check():
    df = _mixed_frame()
    text = format_exposition(df, types={"custom_thing": "gauge"})
    assert "# TYPE custom_thing gauge" in text
    with pytest.raises(DataError, match="one sample per series"):
        format_exposition(_mixed_frame(times=(0, 15_000)))
    two = _mixed_frame(times=(15_000, 0))
    text2 = format_exposition(two, timestamps=True)
    assert text2.index(f" {T0_MS}\n") < text2.index(f" {T0_MS + 15_000}\n")
    back = parse_exposition(text2)
    assert_frame_equal(canonical_samples(back), canonical_samples(two))
    with pytest.raises(DataError, match="types"):
        format_exposition(df, types={"custom_thing": "gauge-ish"})


def test_format_exposition_matches_prometheus_client_oracle():
    from prometheus_client.parser import text_string_to_metric_families

    df = _mixed_frame()
    text = format_exposition(df)
    fams = list(text_string_to_metric_families(text))
    n = sum(len(f.samples) for f in fams)
    assert n == df.height
    types = {f.name: f.type for f in fams}
    assert types["speculation_proof_generation_seconds"] == "histogram"
    assert types["speculation_active_tasks"] == "gauge"


# ----------------------------------------------------------- write_openmetrics


def test_write_openmetrics_sorted_deduped_seconds(tmp_path):
    df = pl.DataFrame({
        "timestamp": [T0_MS + 30_000, T0_MS + 15_250, T0_MS, T0_MS + 15_250],
        "metric": ["speculation_tasks_total"] * 4,
        "value": [3.0, 2.0, 1.0, 9.0],
    }).with_columns(pl.col("timestamp").cast(pl.Datetime("ms", "UTC")))
    with pytest.warns(DuplicateSamplesWarning, match="1 of 4"):
        p = write_openmetrics(df, tmp_path / "f.om")
    assert p.read_text() == (
        "# TYPE speculation_tasks counter\n"
        "speculation_tasks_total 1.0 1735689600\n"
        "speculation_tasks_total 9.0 1735689615.25\n"
        "speculation_tasks_total 3.0 1735689630\n"
        "# EOF\n"
    )
    with pytest.raises(DataError, match="repeated"):
        write_openmetrics(df, tmp_path / "g.om", duplicates="raise")


def test_write_openmetrics_histograms_grouped_per_timestamp(tmp_path):
    df = _mixed_frame(times=(15_000, 0, 30_000))
    p = write_openmetrics(df, tmp_path / "h.om")
    lines = p.read_text().splitlines()
    assert lines[-1] == "# EOF" and "" not in lines
    assert _families(p.read_text()) == [
        "custom_thing", "speculation_active_tasks",
        "speculation_proof_generation_seconds", "speculation_rollback"]
    assert "# TYPE speculation_rollback counter" in lines
    hist = [ln for ln in lines if ln.startswith("speculation_proof_generation")]
    # groups of 5 lines (3 buckets, sum, count) share label set and timestamp
    for i in range(0, len(hist), 5):
        group = hist[i:i + 5]
        assert len({ln.rsplit(" ", 1)[1] for ln in group}) == 1
        assert len({re.search(r'instance="(\w+)"', ln).group(1) for ln in group}) == 1
        assert [re.search(r"_(bucket|sum|count)", ln).group(1) for ln in group] == [
            "bucket", "bucket", "bucket", "sum", "count"]
    back = parse_exposition(p.read_text())
    assert_frame_equal(canonical_samples(back), canonical_samples(df))


def test_write_openmetrics_canonical_le_and_counter_without_total(tmp_path):
    df = pl.DataFrame({
        "timestamp": [T0_MS] * 3, "metric": ["x_bucket", "x_bucket", "y"],
        "value": [1.0, 2.0, 5.0], "le": ["1", "+inf", None],
    }).with_columns(pl.col("timestamp").cast(pl.Datetime("ms", "UTC")))
    text = write_openmetrics(df, tmp_path / "c.om",
                             types={"x": "histogram", "y": "counter"}).read_text()
    assert 'x_bucket{le="1.0"} 1.0 1735689600' in text
    assert 'x_bucket{le="+Inf"} 2.0 1735689600' in text
    assert "# TYPE y unknown" in text  # OpenMetrics counters need _total


def test_write_openmetrics_rejects_unwritable_frames(tmp_path):
    df = _mixed_frame().with_columns(pl.lit("bad name").alias("metric"))
    with pytest.raises(DataError, match="metric names"):
        write_openmetrics(df, tmp_path / "x.om")
    clash = pl.DataFrame({"timestamp": [T0, T0], "metric": ["q_total", "q"],
                          "value": [1.0, 2.0]})
    with pytest.raises(DataError, match="family 'q'"):
        write_openmetrics(clash, tmp_path / "y.om", types={"q_total": "counter"})


def test_strict_openmetrics_parser_accepts_single_timestamp_file(tmp_path):
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    df = _mixed_frame().with_columns(
        pl.when(pl.col("instance") == "n2").then(pl.lit('odd "\\\n}'))
        .otherwise(pl.col("instance")).alias("instance"))
    p = write_openmetrics(df, tmp_path / "s.om")
    fams = list(text_string_to_metric_families(p.read_text()))
    got = sorted(
        (s.name, tuple(sorted(s.labels.items())), s.value, s.timestamp.sec,
         s.timestamp.nsec)
        for f in fams for s in f.samples
    )
    assert len(got) == df.height
    assert {f.name: f.type for f in fams} == {
        "custom_thing": "unknown", "speculation_active_tasks": "gauge",
        "speculation_proof_generation_seconds": "histogram",
        "speculation_rollback": "counter"}
    want = sorted(
        (r["metric"], tuple(sorted((k, r[k]) for k in ("instance", "le", "reason")
                                   if r[k] is not None)),
         r["value"], T0_MS // 1000, 0)
        for r in df.iter_rows(named=True)
    )
    assert got == want


def _promtool_load(promtool: str, path, tmp_path) -> list[tuple[str, float, int]]:
    out = tmp_path / "blocks"
    run = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics",
         "--max-block-duration=24h", str(path), str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    (out / "wal").mkdir(exist_ok=True)  # `tsdb dump` needs a wal/ directory
    dump = subprocess.run([promtool, "tsdb", "dump", str(out)], capture_output=True,
                          text=True, timeout=300)
    assert dump.returncode == 0, dump.stderr[-2000:]
    rows = []
    for line in dump.stdout.splitlines():
        labels, value, ts = line.rsplit(" ", 2)
        rows.append((labels, float(value), int(ts)))
    return rows


def test_promtool_backfills_every_sample_exactly(prometheus_bin, tmp_path):
    df = _mixed_frame(times=(0, 15_000, 15_250, 7 * 3600_000, 30 * 3600_000))
    # millisecond values that naive "seconds.fff" text would lose: promtool
    # truncates float*1000, e.g. int(539656225.879 * 1000) == 539656225878
    assert int(float("539656225.879") * 1000) == 539656225878
    odd = pl.DataFrame({
        "timestamp": [539_656_225_879, 539_656_225_880, 4_322_037_655_952],
        "metric": ["odd_gauge"] * 3, "value": [1.0, 2.0, 3.0],
    }).with_columns(pl.col("timestamp").cast(pl.Datetime("ms", "UTC")))
    # duplicates (one series, one timestamp) and reverse time order in the input
    dup = df.head(3).with_columns(pl.col("value") + 100)
    frame = pl.concat([df.reverse(), odd, dup], how="diagonal_relaxed")
    with pytest.warns(DuplicateSamplesWarning, match="3 of"):
        p = write_openmetrics(frame, tmp_path / "f.om")
    expected = frame.unique(
        subset=[c for c in frame.columns if c != "value"], keep="last")
    rows = _promtool_load(prometheus_bin["promtool"], p, tmp_path)
    assert len(rows) == expected.height == df.height + 3
    odd_rows = sorted((v, t) for lab, v, t in rows if "odd_gauge" in lab)
    assert odd_rows == [(1.0, 539_656_225_879), (2.0, 539_656_225_880),
                        (3.0, 4_322_037_655_952)]
    # the last of each duplicate won
    first = dup.row(0, named=True)
    sel = [
        v for lab, v, t in rows
        if t == T0_MS and lab.startswith('{__name__="speculation_proof_generation')
        and 'le="0.5"' in lab and 'instance="n1"' in lab
    ]
    assert sel == [first["value"]]
    # and our own parser reads the file back to exactly the deduplicated frame
    assert_frame_equal(canonical_samples(parse_exposition(p.read_text())),
                       canonical_samples(expected))


# ------------------------------------------------------------- property tests

AWKWARD = st.text(
    alphabet=st.one_of(st.sampled_from('\\"\n{},=# \t\r\'é€x_0'),
                       st.characters(codec="utf-8")),
    max_size=8,
)
NAMES = ["speculation_tasks_total", "speculation_active_tasks", "my_metric",
         "weird:name_with_colon"]


@st.composite
def sample_frames(draw):
    n = draw(st.integers(1, 25))
    rows = []
    for _ in range(n):
        kind = draw(st.sampled_from(["plain", "bucket"]))
        metric = ("speculation_proof_generation_seconds_bucket" if kind == "bucket"
                  else draw(st.sampled_from(NAMES)))
        le = (draw(st.sampled_from(["0.005", "0.5", "1.0", "10.0", "1e+21", "+Inf"]))
              if kind == "bucket" else None)
        rows.append({
            "timestamp": draw(st.integers(1_000_000_000_000, 4_400_000_000_000)),
            "metric": metric,
            "value": draw(st.floats(allow_nan=True, allow_infinity=True)),
            "le": le,
            "instance": draw(st.one_of(st.none(), AWKWARD)),
            "reason": draw(st.one_of(st.none(), AWKWARD)),
        })
    df = pl.DataFrame(rows, schema={
        "timestamp": pl.Int64, "metric": pl.String, "value": pl.Float64,
        "le": pl.String, "instance": pl.String, "reason": pl.String,
    }).with_columns(pl.col("timestamp").cast(pl.Datetime("ms", "UTC")))
    return df.unique(subset=["timestamp", "metric", "le", "instance", "reason"],
                     keep="first", maintain_order=True)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(df=sample_frames())
def test_property_openmetrics_round_trip_is_exact(df, tmp_path_factory):
    p = write_openmetrics(df, tmp_path_factory.mktemp("om") / "p.om",
                          types={"my_metric": "gauge"})
    # read bytes: Python's text mode would turn a raw "\r" in a label into "\n"
    back = read_exposition(p)
    assert_frame_equal(canonical_samples(back),
                       canonical_samples(_without_null_columns(df)))


@settings(max_examples=60, deadline=None)
@given(df=sample_frames())
def test_property_text_format_round_trip_is_exact(df):
    text = format_exposition(df, timestamps=True)
    back = parse_exposition(text, format="prometheus")
    assert_frame_equal(canonical_samples(back),
                       canonical_samples(_without_null_columns(df)))


GARBAGE = st.one_of(
    st.text(),
    st.lists(st.sampled_from([
        "m", "x_total", "{", "}", '"', "=", ",", " ", "\t", "\\", "n", "1", "-",
        ".", "e9", "#", " EOF", "# TYPE m counter", "# UNIT", " HELP", "\n", "\r",
        "NaN", "+Inf", "le", "17356896000000", "1e999", "é", "\x00",
    ]), max_size=40).map("".join),
)


@settings(max_examples=300, deadline=None)
@given(text=GARBAGE, ts=st.sampled_from([None, T0]),
       fmt=st.sampled_from([None, "prometheus", "openmetrics"]))
def test_property_garbage_raises_only_typed_errors(text, ts, fmt):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            df = parse_exposition(text, timestamp=ts, format=fmt)
        except SpecAnalysisError as err:
            assert isinstance(err, ParseError)
            assert err.line is not None and err.line >= 1, str(err)
            return
    # accepted: every sample line became exactly one row
    assert df.height <= text.count("\n") + 1


# ------------------------------------------------------------ package namespace


def test_io_namespace_exports_and_lazy_promapi():
    code = (
        "import sys, specanalysis.io as io\n"
        "assert 'specanalysis.io.promapi' not in sys.modules\n"
        "names = [getattr(io, n) for n in io.__all__]\n"
        "assert 'specanalysis.io.promapi' in sys.modules\n"
        "print(len(names))\n"
    )
    import sys

    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "8"
