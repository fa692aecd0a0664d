"""Tests for specanalysis.io.promapi (Prometheus HTTP API JSON -> frames).

Bodies are canned JSON in the exact shapes Prometheus' API documents (and, for
native histograms, Prometheus 3.x output), because most of these cases cannot be
provoked from the Debian 2.42 server used by the integration tier.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specanalysis.errors import (
    PrometheusError,
    PrometheusTimeout,
    PrometheusUnavailable,
)
from specanalysis.io import promapi
from specanalysis.io.promapi import QueryResponse, parse_query_response

UTC = timezone.utc


def envelope(result_type, result, **extra) -> str:
    doc = {"status": "success", "data": {"resultType": result_type, "result": result}}
    doc.update(extra)
    return json.dumps(doc, separators=(",", ":"))


def ms(frame: pl.DataFrame) -> list[int]:
    return frame.get_column("timestamp").dt.epoch("ms").to_list()


def both_paths(body: str | bytes) -> QueryResponse:
    """Parse with the public function and with the general path; they must agree."""
    raw = body.encode() if isinstance(body, str) else body
    fast = parse_query_response(raw)
    slow = promapi._parse_general(raw, None, None)
    assert fast.frame.equals(slow.frame), (fast.frame, slow.frame)
    assert fast.frame.schema == slow.frame.schema
    assert (fast.result_type, fast.warnings, fast.infos) == (
        slow.result_type, slow.warnings, slow.infos)
    return fast


MATRIX = [
    {"metric": {"__name__": "speculation_rollback_total", "reason": "timeout",
                "instance": "rt-0"},
     "values": [[1704067200, "1"], [1704067215.25, "2.5"], [1704067230.001, "NaN"]]},
    {"metric": {"__name__": "speculation_rollback_total", "reason": "manual",
                "instance": "rt-0"},
     "values": [[1704067200, "+Inf"], [1704067215, "-Inf"], [1704067230, "1e-07"]]},
]


def test_matrix_frame_shape_values_and_exact_timestamps():
    resp = both_paths(envelope("matrix", MATRIX))
    f = resp.frame
    assert resp.result_type == "matrix"
    assert f.columns == ["timestamp", "metric", "value", "instance", "reason"]
    assert f.schema["timestamp"] == pl.Datetime("ms", "UTC")
    assert f.schema["value"] == pl.Float64
    # sorted by series (reason 'manual' < 'timeout'), then time
    assert f.get_column("reason").to_list() == ["manual"] * 3 + ["timeout"] * 3
    assert ms(f) == [1704067200000, 1704067215000, 1704067230000,
                     1704067200000, 1704067215250, 1704067230001]
    v = f.get_column("value").to_list()
    assert v[0] == math.inf and v[1] == -math.inf and v[2] == 1e-07
    assert v[3:5] == [1.0, 2.5] and math.isnan(v[5])


def test_spaced_json_from_other_servers_gives_the_same_frame():
    compact = parse_query_response(envelope("matrix", MATRIX)).frame
    spaced = json.dumps({"status": "success", "data": {"resultType": "matrix",
                                                       "result": MATRIX}}, indent=2)
    assert parse_query_response(spaced).frame.equals(compact)


def test_unsorted_series_and_points_are_sorted():
    result = [
        {"metric": {"__name__": "b"}, "values": [[20, "2"], [10, "1"]]},
        {"metric": {"__name__": "a", "x": "1"}, "values": [[5, "5"]]},
        {"metric": {"__name__": "a"}, "values": [[7, "7"]]},
    ]
    f = both_paths(envelope("matrix", result)).frame
    assert f.rows() == [
        (datetime(1970, 1, 1, 0, 0, 7, tzinfo=UTC), "a", 7.0, None),
        (datetime(1970, 1, 1, 0, 0, 5, tzinfo=UTC), "a", 5.0, "1"),
        (datetime(1970, 1, 1, 0, 0, 10, tzinfo=UTC), "b", 1.0, None),
        (datetime(1970, 1, 1, 0, 0, 20, tzinfo=UTC), "b", 2.0, None),
    ]


def test_vector_without_name_has_null_metric_and_eval_time():
    result = [{"metric": {"reason": "timeout"}, "value": [1704067200.5, "0.25"]},
              {"metric": {"reason": "ancestor_failed"}, "value": [1704067200.5, "3"]}]
    f = both_paths(envelope("vector", result)).frame
    assert f.columns == ["timestamp", "metric", "value", "reason"]
    assert f.get_column("metric").to_list() == [None, None]
    assert f.get_column("reason").to_list() == ["ancestor_failed", "timeout"]
    assert ms(f) == [1704067200500, 1704067200500]


def test_scalar_and_string_results():
    s = parse_query_response(envelope("scalar", [1704067200.123, "NaN"]))
    assert s.result_type == "scalar"
    assert s.frame.columns == ["timestamp", "metric", "value"]
    assert ms(s.frame) == [1704067200123]
    assert s.frame.get_column("metric").to_list() == [None]
    assert math.isnan(s.frame.get_column("value")[0])
    t = parse_query_response(envelope("string", [1704067200, "hello"]))
    assert t.result_type == "string" and t.text == "hello"
    assert t.frame.get_column("value").to_list() == [None]


def test_empty_results_have_core_columns_only():
    for rt in ("matrix", "vector"):
        f = parse_query_response(envelope(rt, [])).frame
        assert f.height == 0
        assert f.columns == ["timestamp", "metric", "value"]
        assert f.schema["timestamp"] == pl.Datetime("ms", "UTC")


def test_series_with_empty_metric_object():
    f = both_paths(envelope("matrix", [{"metric": {}, "values": [[1, "2"]]}])).frame
    assert f.columns == ["timestamp", "metric", "value"]
    assert f.rows() == [(datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC), None, 2.0)]


def test_warnings_and_infos_are_kept():
    body = envelope("vector", [], warnings=["store gw down: partial response"],
                    infos=["PromQL info: metric might not be a counter"])
    r = parse_query_response(body)
    assert r.warnings == ("store gw down: partial response",)
    assert r.infos == ("PromQL info: metric might not be a counter",)
    r2 = both_paths(envelope("matrix", MATRIX, warnings=["w"]))
    assert r2.warnings == ("w",) and r2.infos == ()


def test_label_values_with_quotes_brackets_and_markers():
    nasty = 'a "quoted" ]],[ "values":[[ \\ \n'
    result = [{"metric": {"__name__": "m", "path": nasty}, "values": [[1, "1"], [2, "2"]]}]
    f = both_paths(envelope("matrix", result)).frame
    assert f.get_column("path").to_list() == [nasty, nasty]
    assert f.get_column("value").to_list() == [1.0, 2.0]


# ------------------------------------------------------------ native histograms

H1 = {"count": "10", "sum": "3.5",
      "buckets": [[0, "0.5", "1", "4"], [0, "1", "2", "6"]]}
H_ZERO = {"count": "3", "sum": "0",
          "buckets": [[3, "-0.001", "0.001", "3"]]}
H_EMPTY = {"count": "0", "sum": "0"}


def test_native_histogram_vector_becomes_bucket_rows():
    body = envelope("vector", [
        {"metric": {"__name__": "rpc_seconds", "job": "api"},
         "histogram": [1704067200, H1]},
        {"metric": {"__name__": "plain"}, "value": [1704067200, "1"]},
    ])
    r = parse_query_response(body)
    assert r.frame.get_column("metric").to_list() == ["plain"]
    h = r.histograms
    assert h is not None
    assert h.columns == [*promapi.HISTOGRAM_COLUMNS, "job"]
    assert h.select("lower", "upper", "rule", "value", "hist_count", "hist_sum").rows() == [
        (0.5, 1.0, 0, 4.0, 10.0, 3.5), (1.0, 2.0, 0, 6.0, 10.0, 3.5)]
    assert h.get_column("job").to_list() == ["api", "api"]
    assert ms(h) == [1704067200000] * 2


def test_native_histogram_matrix_with_values_zero_bucket_and_empty():
    body = envelope("matrix", [
        {"metric": {"__name__": "lat"},
         "values": [[1704067200, "5"]],
         "histograms": [[1704067215, H_ZERO], [1704067230, H_EMPTY]]},
    ])
    r = parse_query_response(body)
    assert r.frame.get_column("value").to_list() == [5.0]
    h = r.histograms
    assert h.select("lower", "upper", "rule", "value").rows() == [
        (-0.001, 0.001, 3, 3.0), (None, None, None, None)]
    assert h.get_column("hist_count").to_list() == [3.0, 0.0]
    assert ms(h) == [1704067215000, 1704067230000]


def test_histogram_only_series_does_not_crash_and_frame_is_empty():
    body = envelope("matrix", [{"metric": {"__name__": "lat"},
                                "histograms": [[1, H1]]}])
    r = parse_query_response(body)
    assert r.frame.height == 0 and r.histograms.height == 2


# --------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("error_type", "cls"),
    [("bad_data", PrometheusError), ("execution", PrometheusError),
     ("timeout", PrometheusTimeout), ("canceled", PrometheusError),
     ("unavailable", PrometheusUnavailable), ("internal", PrometheusError)],
)
def test_error_envelope_raises_typed_error(error_type, cls):
    body = json.dumps({"status": "error", "errorType": error_type,
                       "error": f"server said {error_type}"})
    with pytest.raises(cls) as info:
        parse_query_response(body, status=422, source="http://h:9090/api/v1/query")
    err = info.value
    assert type(err) is cls
    assert err.error_type == error_type
    assert err.status == 422
    assert f"server said {error_type}" in str(err)
    assert "http://h:9090/api/v1/query" in str(err)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"<html><body><h1>502 Bad Gateway</h1></body></html>", "502 Bad Gateway"),
        (envelope("matrix", MATRIX)[:-40].encode(), "invalid JSON"),
        (b"", "<empty body>"),
        (b"upstream connect error or disconnect/reset before headers", "upstream"),
        (b'{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},'
         b'"values":[[1,"2"],[3,"4"', "invalid JSON"),
    ],
)
def test_non_json_bodies_raise_non_json_with_excerpt(body, needle):
    with pytest.raises(PrometheusError) as info:
        parse_query_response(body, status=502)
    assert info.value.error_type == "non_json"
    assert info.value.status == 502
    assert needle in str(info.value)
    assert len(str(info.value)) < 500


def test_long_html_page_is_cut_to_a_short_excerpt():
    page = b"<html>" + b"x" * 100_000 + b"</html>"
    with pytest.raises(PrometheusError) as info:
        parse_query_response(page)
    assert len(str(info.value)) < 400


@pytest.mark.parametrize(
    "doc",
    [
        {"data": {}},
        {"status": "success"},
        {"status": "success", "data": {"resultType": "matrix"}},
        {"status": "success", "data": {"resultType": "table", "result": []}},
        {"status": "success", "data": {"resultType": "matrix",
                                       "result": [{"metric": {}, "values": [[1, "abc"]]}]}},
        {"status": "success", "data": {"resultType": "vector",
                                       "result": [{"metric": {}, "value": ["x", "1"]}]}},
        [1, 2],
    ],
)
def test_json_that_is_not_the_envelope_raises_bad_response(doc):
    with pytest.raises(PrometheusError) as info:
        parse_query_response(json.dumps(doc))
    assert info.value.error_type == "bad_response"


def test_bad_value_is_named():
    body = envelope("matrix", [{"metric": {}, "values": [[1, "1"], [2, "twelve"]]}])
    with pytest.raises(PrometheusError, match="'twelve'"):
        parse_query_response(body)


def test_label_colliding_with_core_column_is_refused():
    body = envelope("vector", [{"metric": {"value": "x"}, "value": [1, "1"]}])
    with pytest.raises(PrometheusError) as info:
        parse_query_response(body)
    assert info.value.field == "value"


def test_body_type_checked():
    with pytest.raises(TypeError):
        parse_query_response(12)  # type: ignore[arg-type]


# ------------------------------------------------------------- property test

label_value = st.text(min_size=1, max_size=6)
series_st = st.lists(
    st.tuples(
        st.dictionaries(st.sampled_from(["a", "b", "le", "__name__"]), label_value,
                        max_size=3),
        st.lists(st.tuples(st.integers(0, 2_000_000_000_000),
                           st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                                     st.integers(-10**6, 10**6))),
                 min_size=1, max_size=5, unique_by=lambda p: p[0]),
    ),
    max_size=6,
    unique_by=lambda s: tuple(sorted(s[0].items())),
)


def fmt_value(v) -> str:
    if isinstance(v, float) and math.isnan(v):
        return "NaN"
    if v == math.inf:
        return "+Inf"
    if v == -math.inf:
        return "-Inf"
    return repr(v)


def fmt_ts(t_ms: int):
    sec, rest = divmod(t_ms, 1000)
    return sec if rest == 0 else float(f"{sec}.{rest:03d}")


@settings(max_examples=60, deadline=None)
@given(series_st)
def test_matrix_parsing_matches_independent_construction(series):
    result = [{"metric": labels, "values": [[fmt_ts(t), fmt_value(v)] for t, v in pts]}
              for labels, pts in series]
    resp = both_paths(envelope("matrix", result))
    # independent truth: rows built directly from the Python objects
    label_names = sorted({k for labels, _ in series for k in labels} - {"__name__"})
    rows = []
    for labels, pts in series:
        for t, v in pts:
            rows.append((t, labels.get("__name__"), float(v),
                         *[labels.get(k) for k in label_names]))
    key = lambda r: (  # noqa: E731
        tuple((x is not None, x or "") for x in (r[1], *r[3:])), r[0])
    rows.sort(key=key)
    got = resp.frame
    assert got.columns == ["timestamp", "metric", "value", *label_names]
    assert ms(got) == [r[0] for r in rows]
    for g, want in zip(got.rows(), rows, strict=True):
        assert g[1] == want[1]
        assert g[3:] == want[3:]
        gv, wv = g[2], want[2]
        assert (math.isnan(gv) and math.isnan(wv)) or gv == wv


def test_a_raw_control_character_in_a_compact_value_is_not_json():
    # found by the fuzz tier: the compact fast path read "\t2" as 2.0
    body = ('{"status":"success","data":{"resultType":"matrix","result":'
            '[{"metric":{"__name__":"ab"},"values":[[1,"\t2"]]}]}}')
    with pytest.raises(PrometheusError, match="non_json"):
        parse_query_response(body)


# ------------------------------------------- any JSON layout, one fast path
# (issue 12, finding 15: the compact path's speed for every layout; timing lives
# in benchmarks/bench_loaders.py, these check that every layout is read by the
# columnar path and gives exactly the frame of Prometheus' compact output)

LAYOUT_DOC = {"status": "success", "warnings": ["w 1"], "data": {
    "resultType": "matrix", "result": [
        {"metric": {"__name__": "up", "job": "b c", "x": "a]]b", "values": "v"},
         "values": [[1704067200 + 15 * i + (0.25 if i % 3 else 0),
                     ["1", "2.5", "NaN", "+Inf", "-Inf", "1e-07", "-0", "Inf"][i % 8]]
                    for i in range(40)]}
        for _ in range(1)] + [
        {"metric": {"__name__": "up", "job": f"j{k}"},
         "values": [[1704067200 + 15 * i, str(i * 0.5 - k)] for i in range(25)]}
        for k in range(3)]}}

#: the layouts of benchmarks/bench_loaders.py plus tabs, CRLF and odd spacing
LAYOUTS = {
    "compact": {"separators": (",", ":")},
    "json.dumps default": {},
    "jq . (indent 2)": {"indent": 2},
    "tabs": {"indent": "\t"},
    "spaces before separators": {"indent": 1, "separators": (" ,", " : ")},
}


def truth_rows(doc) -> list[tuple]:
    """Rows (ms, metric, value, job, values, x) built from the Python objects."""
    rows = []
    for s in doc["data"]["result"]:
        m = s["metric"]
        for t, v in s["values"]:
            rows.append((round(t * 1000), m.get("__name__"), float(v), m.get("job"),
                         m.get("values"), m.get("x")))
    return sorted(rows, key=lambda r: (r[1], r[3], r[4] or "", r[5] or "", r[0]))


def same_value_rows(frame: pl.DataFrame, rows: list[tuple]) -> bool:
    got = [(t, *rest) for t, *rest in zip(ms(frame), *[frame.get_column(c).to_list()
           for c in ("metric", "value", "job", "values", "x")], strict=True)]
    return len(got) == len(rows) and all(
        g[:2] == w[:2] and g[3:] == w[3:]
        and (g[2] == w[2] or (math.isnan(g[2]) and math.isnan(w[2])))
        for g, w in zip(got, rows, strict=True))


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_every_layout_takes_the_columnar_path_and_gives_the_compact_frame(layout):
    body = json.dumps(LAYOUT_DOC, **LAYOUTS[layout]).encode()
    fast = promapi._parse_matrix_fast(body, None, None)
    assert fast is not None, "fell back to the general path"
    compact = parse_query_response(json.dumps(LAYOUT_DOC, **LAYOUTS["compact"]))
    assert fast.frame.equals(compact.frame)
    assert fast.warnings == compact.warnings == ("w 1",)
    assert same_value_rows(fast.frame, truth_rows(LAYOUT_DOC))
    assert fast.frame.equals(promapi._parse_general(body, None, None).frame)


@pytest.mark.parametrize("newline", ["\r\n", "\r", "\n\t \t"])
def test_crlf_and_mixed_whitespace_inside_values_arrays(newline):
    body = json.dumps(LAYOUT_DOC, indent=3).replace("\n", newline).encode()
    fast = promapi._parse_matrix_fast(body, None, None)
    assert fast is not None
    assert same_value_rows(fast.frame, truth_rows(LAYOUT_DOC))


def test_whitespace_only_in_labels_keeps_the_compact_reading():
    doc = {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"job": "a b\tc\nd"}, "values": [[1, "1"], [2, "2"]]}]}}
    body = json.dumps(doc, separators=(",", ":")).encode()
    fast = promapi._parse_matrix_fast(body, None, None)
    assert fast is not None and fast.frame.get_column("job").to_list() == ["a b\tc\nd"] * 2


@pytest.mark.parametrize("points", [
    '[[1704067200, "1 2"]]',            # inside a quoted value
    '[[1704067200, " 1"]]',
    '[[1704067200, "1\t"]]',            # a raw tab: not even JSON
    '[[17040 67200, "1"]]',             # inside a number: not JSON
    '[[1704067200 ,"1"],[1704067215 1, "2"]]',
])
def test_whitespace_inside_a_token_is_never_deleted(points):
    body = ('{"status":"success","data":{"resultType":"matrix","result":'
            '[{"metric":{},"values":' + points + '}]}}')
    assert promapi._parse_matrix_fast(body.encode(), None, None) is None
    with pytest.raises(PrometheusError):
        parse_query_response(body)


@pytest.mark.parametrize("ts", [".5", "1.", "1.e5", "-.5", "01", "-01", "+1", "00",
                                "1e", "inf", "NaN"])
@pytest.mark.parametrize("layout", ["compact", "jq . (indent 2)"])
def test_timestamps_that_are_not_json_numbers_are_refused_in_every_layout(ts, layout):
    sep = "," if layout == "compact" else ",\n    "
    body = ('{"status":"success","data":{"resultType":"matrix","result":'
            '[{"metric":{},"values":[[1704067200' + sep + '"1"],[' + ts + sep + '"2"]]}]}}')
    with pytest.raises(PrometheusError):
        parse_query_response(body)


@pytest.mark.parametrize("points", [
    '[[0,"]]', '[[0,"1"],[1,"]]', '[[0,""]]', '[[0,"1"x]]', '[[0,"1""2"]]',
    '[[0,"1"],[]]', '[[]]', '[[0,"1",2]]', '[[0]]', '[["1"]]', '[[0,1]]',
    '[[0,"1"],,[1,"2"]]', '[[0,"1"]],[1,"2"]]', '[[0,"1"],[1,"2"]',
])
def test_malformed_points_are_typed_errors_or_read_like_json(points):
    body = ('{"status":"success","data":{"resultType":"matrix","result":'
            '[{"metric":{},"values":' + points + '}]}}')
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    try:
        got = parse_query_response(body).frame
    except PrometheusError:
        return
    assert doc is not None  # accepted only what JSON accepts ...
    values = doc["data"]["result"][0]["values"]
    assert got.get_column("value").to_list() == [float(v) for _, v in values]


def test_overflowing_value_is_refused_but_inf_is_read_by_the_columnar_path():
    good = envelope("matrix", [{"metric": {}, "values": [[1, "+Inf"], [2, "-inf"],
                                                          [3, "Infinity"]]}])
    fast = promapi._parse_matrix_fast(good.encode(), None, None)
    assert fast is not None
    assert fast.frame.get_column("value").to_list() == [math.inf, -math.inf, math.inf]
    bad = envelope("matrix", [{"metric": {}, "values": [[1, "+Inf"], [2, "1e400"]]}])
    with pytest.raises(PrometheusError, match="1e400"):
        parse_query_response(bad)


_ws = st.sampled_from(["", " ", "\t", "\n", "\r\n", "  ", "\n    "])


@st.composite
def spaced_json(draw, obj) -> str:
    """``obj`` as JSON with arbitrary whitespace between every pair of tokens."""
    if isinstance(obj, dict):
        items = [draw(_ws) + json.dumps(k) + draw(_ws) + ":" + draw(_ws)
                 + draw(spaced_json(v)) + draw(_ws) for k, v in obj.items()]
        return "{" + draw(_ws) + ",".join(items) + draw(_ws) + "}"
    if isinstance(obj, list):
        items = [draw(_ws) + draw(spaced_json(v)) + draw(_ws) for v in obj]
        return "[" + draw(_ws) + ",".join(items) + draw(_ws) + "]"
    return json.dumps(obj)


@settings(max_examples=40, deadline=None)
@given(st.data(), series_st)
def test_any_whitespace_between_tokens_gives_the_compact_frame(data, series):
    result = [{"metric": labels, "values": [[fmt_ts(t), fmt_value(v)] for t, v in pts]}
              for labels, pts in series]
    doc = {"status": "success", "data": {"resultType": "matrix", "result": result}}
    body = data.draw(spaced_json(doc)).encode()
    compact = parse_query_response(envelope("matrix", result)).frame
    assert parse_query_response(body).frame.equals(compact)
    if result:
        assert promapi._parse_matrix_fast(body, None, None) is not None


def test_spaced_layout_over_many_scan_blocks_stays_on_the_columnar_path():
    # the whitespace and token scans go in blocks; a count off by one byte per block
    # would send every large spaced body to the general path
    doc = {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"job": "a b"}, "values": [[1704067200 + i, "1"] for i in range(60_000)]},
        {"metric": {"job": "c"}, "values": [[1704067200 + i, "2"] for i in range(60_000)]}]}}
    for layout in ({}, {"indent": 2}, {"separators": (",", ":")}):
        body = json.dumps(doc, **layout).encode()
        fast = promapi._parse_matrix_fast(body, None, None)
        assert fast is not None and fast.frame.height == 120_000, layout
