"""Issue 12's findings 5-14, each reproduced as it was reported, now a typed error.

Secrets (findings 1-4) are in ``test_secrets.py``; a real Prometheus timing out
and being killed mid-query in ``integration/test_faults.py``; the fuzz tier in
``fuzz/``. The fault server is ``test_prometheus_source.FakeAPI``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
from test_prometheus_source import FakeAPI, err, ok

from specanalysis.cli import main
from specanalysis.config import SpeculationConfig
from specanalysis.errors import (
    ConfigError,
    DataError,
    LimitError,
    ParseError,
    PrometheusError,
    PrometheusTimeout,
    SpecAnalysisError,
)
from specanalysis.io import (
    parse_exposition,
    read_exposition,
    read_samples,
    write_samples,
)
from specanalysis.io.promapi import parse_query_response
from specanalysis.limits import LIMITS
from specanalysis.sources.offline import OfflineSource
from specanalysis.sources.prometheus import PrometheusSource

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def api():
    server = FakeAPI()
    yield server
    server.close()


# ------------------------------------------------------------ 5: retries


def test_5_stalled_body_is_a_timeout_sent_once(api):
    api.script, api.stall = [ok("vector", [])], 1.0
    with pytest.raises(PrometheusTimeout, match="headers, then no body"):
        PrometheusSource(api.url, timeout=0.3, retries=4).evaluate("up", 0)
    assert len(api.requests) == 1


# ------------------------------------------------------------ 6: API JSON


def _matrix(values, metric=None):
    return json.dumps({"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": metric or {"__name__": "up"}, "values": values}]}})


@pytest.mark.parametrize("body", [
    _matrix([[1e300, "1"]]),
    '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},'
    '"values":[[Infinity,"1"]]}]}}',
    '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},'
    '"values":[[NaN,"1"]]}]}}',
    _matrix([[-1e15, "1"]]),
    _matrix([[True, "1"]]),
    _matrix([[1704067200, "1"]], {"__name__": "up", "x": 5}),
    _matrix([[1704067200, "1"]], {"__name__": "up", "x": "\ud800"}),
    _matrix([[1704067200, "1e400"]]),
    '{"status":"success","warnings":5,"data":{"resultType":"vector","result":[]}}',
    '{"status":"success","warnings":[5],"data":{"resultType":"vector","result":[]}}',
    '{"status":"error","errorType":["x"],"error":"boom"}',
    '{"status":"error","errorType":"bad_data","error":{"x":1}}',
    '{"status":"success","data":{"resultType":"vector","result":[{"metric":{},'
    '"histogram":[1,{"count":"1","sum":"1","buckets":[["x","0","1","1"]]}]}]}}',
    '{"status":"success","data":{"resultType":"vector","result":[{"metric":{},'
    '"histogram":[1,{"count":"1","sum":"1","buckets":[[1000,"0","1","1"]]}]}]}}',
    '{"status":"success","data":{"resultType":"scalar","result":[1e300,"1"]}}',
    '{"status":"success","data":{"resultType":"string","result":[1,5]}}',
    "[" * 100_000 + "]" * 100_000,
    '{"a":' * 100_000 + "1" + "}" * 100_000,
])
def test_6_bad_api_answers_are_typed_errors(body):
    with pytest.raises(PrometheusError):
        parse_query_response(body)


def test_6_quoted_timestamps_read_the_same_by_both_paths():
    body = _matrix([["1704067200", "1"], [1704067215.5, "2"]])
    from specanalysis.io.promapi import _parse_general

    fast = parse_query_response(body).frame  # the compact path
    general = _parse_general(body.encode(), None, None).frame
    assert fast.equals(general) and fast.height == 2
    spaced = parse_query_response(json.dumps(json.loads(body), indent=1)).frame
    assert spaced.equals(fast)


@pytest.mark.parametrize("values", [
    '[1738026000,"47"],[1 738026060,"58"]',  # read as 1738026060
    '[1738026000,"47"],[1\n38026060,"58"]',  # read as 138026060 (1974): fuzz finding
    '[1738026000,"47"],[1738026060 1,"58"]',  # read as 17380260601 (2520)
    '[17380 26000 ,"47"]',
    '[1738026000,"4\t7"]',
    '[1738026000 ,"47" ],[ 1738026060e0 , "58"] , [1738026120,- 1]',
])
def test_6_whitespace_inside_a_number_is_not_json_and_is_refused(values):
    """Whitespace may separate the tokens of a values array, never split one: the
    any-layout fast path deleted it and read two numbers as one (found by the fuzz
    tier's long profile: a line break in a timestamp moved a point to 1974)."""
    body = ('{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},'
            '"values":[' + values + ']}]}}')
    with pytest.raises(ValueError):
        json.loads(body)
    with pytest.raises(PrometheusError):
        parse_query_response(body)


@pytest.mark.parametrize("tail", [
    '[1738026600,"48]]}]}}',  # read as 4: the CSV reader dropped the 8
    '[1738026600,"48#]]}]}}\n',  # read as 48: fuzz finding (the string never ends)
    '[1738026600,"4]],[1738026660,"5"]]}]}}',
])
def test_6_a_string_cut_by_the_end_of_a_values_array_is_refused(tail):
    """``]]`` inside an unterminated string ended the compact fast path's values
    array there; the skeleton after it was still JSON and the CSV reader closed the
    dangling quote itself, changing the value (found by the fuzz tier's long
    profile)."""
    body = ('{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},'
            '"values":[[1738026000,"47"],' + tail)
    with pytest.raises(ValueError):
        json.loads(body)
    with pytest.raises(PrometheusError):
        parse_query_response(body)


@pytest.mark.parametrize(("kind", "series"), [
    ("matrix", '{"metric":{"__name__":"up"},"value":[[1738026000,"47"]]}'),  # fuzz finding
    ("matrix", '{"metric":{"__name__":"up"},"value":[1738026000,"47"]}'),
    ("matrix", '{"metric":{"__name__":"up"},"histogram":[1738026000,{"count":"1"}]}'),
    ("vector", '{"metric":{"__name__":"up"},"values":[[1738026000,"47"]]}'),
    ("vector", '{"metric":{"__name__":"up"},"histograms":[[1,{"count":"1"}]]}'),
    ("vector", '{"metric":{"__name__":"up"}}'),
])
def test_6_points_under_the_wrong_key_are_refused_not_dropped(kind, series):
    """A matrix series holding a vector's ``value`` (or a vector sample holding a
    matrix's ``values``) was read as a series without points: its data vanished
    without an error (found by the fuzz tier's long profile: ``"values"`` lost its
    ``s``). A vector sample always has a value or a histogram."""
    body = ('{"status":"success","data":{"resultType":"' + kind + '","result":['
            + series + ']}}')
    with pytest.raises(PrometheusError, match="value|histogram"):
        parse_query_response(body)


def test_6_a_matrix_series_without_points_is_still_an_empty_series():
    """Prometheus leaves ``values`` out of a series with no float points."""
    body = ('{"status":"success","data":{"resultType":"matrix","result":['
            '{"metric":{"__name__":"up"}},'
            '{"metric":{"__name__":"up","job":"a"},"values":[[1738026000,"1"]]}]}}')
    assert parse_query_response(body).frame.height == 1


@pytest.mark.parametrize("value", [
    '"1"', "1", '"+1"', '"01"', '".5"', '"NaN"', '"-Inf"', '"1e-400"', '" 1"', '"1 "',
    '"0x10"', '"1_000"', '"\\u0031"', '"1e400"', '""', "null",
])
def test_6_a_sample_value_reads_the_same_in_every_layout(value):
    """The same values array in Prometheus' compact layout and with spaces after the
    separators: one outcome (found while checking the fuzz findings: the compact
    fast path read '" 1"' as 1, the general path refuses it)."""
    compact = ('{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},'
               '"values":[[1704067200,' + value + '],[1704067300,"2"]]}]}}')
    spaced = compact.replace(",", ", ").replace(":", ": ")
    outcomes = []
    for body in (compact, spaced):
        try:
            outcomes.append(repr(parse_query_response(body).frame.get_column("value")
                                 .to_list()))
        except PrometheusError:
            outcomes.append("refused")
    assert outcomes[0] == outcomes[1], outcomes


#: timestamp spellings (JSON text) and the time each means, None where it must be
#: refused: numbers, numbers in quotes (read like numbers by every path), and
#: invalid ones (not numbers, out of range, NaN/Inf)
TIMESTAMPS = [
    ("1704067200", 1704067200000), ("1704067200.5", 1704067200500),
    ("1.7040672e9", 1704067200000), ("0", 0), ('" 1704067200"', 1704067200000),
    ('"1704067200"', 1704067200000), ('"1704067200.5"', 1704067200500),
    ('"1.5E9"', 1500000000000), ('"1704067200e0"', 1704067200000),
    ('"abc"', None), ('""', None), ('" "', None), ('"NaN"', None), ('"Inf"', None),
    ('"-Infinity"', None), ('"0x10"', None), ("null", None), ("true", None),
    ("[1]", None), ("{}", None), ("1e300", None), ("-1e15", None), ('"-1e15"', None),
    ('"1e400"', None), ("1e400", None), ("01704067200", None),
]


def _outcome(parse) -> tuple | str:
    """(ms of each point) when accepted, "refused" for a typed error."""
    try:
        resp = parse()
    except PrometheusError:
        return "refused"
    frame = resp.frame if resp.histograms is None else resp.histograms
    return tuple(frame.get_column("timestamp").dt.epoch("ms").to_list())


@pytest.mark.parametrize(("ts", "ms"), TIMESTAMPS, ids=[t for t, _ in TIMESTAMPS])
def test_6_every_path_gives_one_outcome_for_a_timestamp(ts, ms):
    """Quoted, numeric and invalid timestamps: the columnar matrix path (compact and
    spaced layouts), the general path and every result type (matrix, vector,
    native histogram, scalar) accept the same spellings with the same time, or
    refuse."""
    from specanalysis.io.promapi import _parse_general, _parse_matrix_fast

    def envelope(kind: str, result: str) -> bytes:
        return ('{"status":"success","data":{"resultType":"KIND","result":RESULT}}'
                .replace("KIND", kind).replace("RESULT", result.replace("TS", ts))
                .encode())

    matrix = envelope("matrix", '[{"metric":{"__name__":"up"},"values":[[TS,"1"],'
                      '[1704067300,"2"]]}]')
    spaced = matrix.replace(b",", b", ").replace(b":", b": ")
    want = "refused" if ms is None else (ms, 1704067300000)
    for body in (matrix, spaced):
        assert _outcome(lambda b=body: parse_query_response(b)) == want
        assert _outcome(lambda b=body: _parse_general(b, None, None)) == want
        fast = _parse_matrix_fast(body, None, None)  # may decline (None), not differ
        if fast is not None:
            assert _outcome(lambda f=fast: f) == want, body
    one = "refused" if ms is None else (ms,)
    vector = envelope("vector", '[{"metric":{"__name__":"up"},"value":[TS,"1"]}]')
    histogram = envelope("vector", '[{"metric":{"__name__":"up"},"histogram":[TS,'
                         '{"count":"1","sum":"1","buckets":[[0,"0","1","1"]]}]}]')
    scalar = envelope("scalar", '[TS,"1"]')
    for body in (vector, histogram, scalar):
        assert _outcome(lambda b=body: parse_query_response(b)) == one, body


@pytest.mark.parametrize("layout", [
    {}, {"separators": (", ", ": ")}, {"indent": 2}, {"indent": "\t"}])
def test_15_any_json_layout_gives_the_same_frame(layout):
    doc = {"status": "success", "data": {"resultType": "matrix", "result": [
        {"values": [[1704067200 + 15 * i, str(i * 0.5)] for i in range(50)],
         "metric": {"__name__": "up", "job": f"j {k}", "x": "a]]b"}} for k in range(3)]}}
    compact = parse_query_response(json.dumps(doc, separators=(",", ":"))).frame
    assert compact.height == 150
    assert parse_query_response(json.dumps(doc, **layout)).frame.equals(compact)


# ------------------------------------------------------------ 7: transport


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999", "http://[::1",
                                 "http://:9090", "http://127.0.0.1:-1"])
def test_7_bad_urls_are_typed(url):
    with pytest.raises(SpecAnalysisError, match="url"):
        PrometheusSource(url)


@pytest.mark.parametrize("script", [
    lambda a: (lambda req: (302, b"", {"Location": req["path"]})),
    lambda a: [(301, b"", {"Location": "ftp://example.org/x"})],
    lambda a: [(200, b"\x1f\x8b\x08\x00garbage", {"Content-Encoding": "gzip"})],
    lambda a: [(308, b"", {"Location": "file:///etc/passwd"})],
])
def test_7_redirect_loops_odd_schemes_and_bad_gzip_are_typed(api, script):
    api.script = script(api)
    with pytest.raises(PrometheusError) as info:
        PrometheusSource(api.url, retries=3).evaluate("up", 0)
    assert info.value.error_type in ("bad_redirect", "bad_response", "non_json")
    assert len(api.requests) <= 11


# ------------------------------------------------------------ 8: Parquet


def _frame(n=40):
    return pl.DataFrame({
        "timestamp": [T0.replace(minute=i % 60, hour=i // 60) for i in range(n)],
        "metric": ["speculation_active_tasks"] * n, "value": [float(i) for i in range(n)],
        "instance": ["a", "b"] * (n // 2)})


def test_8_every_mutated_parquet_file_is_refused_or_unchanged(tmp_path):
    path = write_samples(_frame(), tmp_path / "s.parquet")
    original, data = read_samples(path), path.read_bytes()
    outcomes = {"refused": 0, "unchanged": 0}
    bad = tmp_path / "m.parquet"
    for i in range(0, len(data), max(1, len(data) // 400)):
        for flip in (0x01, 0x80):
            mutated = bytearray(data)
            mutated[i] ^= flip
            bad.write_bytes(bytes(mutated))
            try:
                back = read_samples(bad)
            except SpecAnalysisError:
                outcomes["refused"] += 1
            else:  # not an error: then the samples must be exactly the written ones
                assert back.equals(original), f"byte {i} ^ {flip:#x} changed the data"
                outcomes["unchanged"] += 1
    assert outcomes["refused"] > 300


def test_8_a_reader_panic_is_a_parse_error(tmp_path):
    path = write_samples(_frame(), tmp_path / "s.parquet")
    data = bytearray(path.read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    with pytest.raises((ParseError, DataError)):
        read_samples(path)


# ------------------------------------------------------------ 9: profile


def test_9_depth_histogram_without_le_is_a_note_not_a_crash():
    from specanalysis.profile import profile_workload

    frame = pl.DataFrame({
        "timestamp": [T0 + timedelta(minutes=m) for m in range(61)] * 2,
        "metric": ["speculation_depth_histogram_bucket"] * 61
        + ["speculation_tasks_total"] * 61,
        "value": [float(m) for m in range(61)] * 2})
    prof = profile_workload(OfflineSource(frame), window="1h")
    assert "no 'le' label" in prof["depth_p90"].note


def test_9_depth_without_le_from_a_live_server(api):
    from specanalysis.profile import profile_workload

    def answer(req):
        return ok("vector", [{"metric": {}, "value": [1735689600, "5"]}])
    api.script = answer
    prof = profile_workload(PrometheusSource(api.url), window="1h", at=1735689600)
    assert "no 'le' label" in prof["depth_p90"].note


# ------------------------------------------------------------ 10: config


def test_10_config_files_that_cannot_be_read_are_config_errors(tmp_path):
    (tmp_path / "latin1.toml").write_bytes(b"[speculation]\nmode = '\xe9'\n")
    (tmp_path / "nul.toml").write_bytes(b"[speculation]\nmode = 'a\x00'\n")
    os.mkfifo(tmp_path / "fifo.toml")
    for p in ("latin1.toml", "nul.toml", "fifo.toml"):
        with pytest.raises(ConfigError):
            SpeculationConfig.from_toml(tmp_path / p)
    with pytest.raises(ConfigError, match="character device"):
        SpeculationConfig.from_toml(Path("/dev/zero"))
    with pytest.raises(ConfigError, match="missing \\[speculation\\]"):
        SpeculationConfig.from_toml("")
    big = tmp_path / "big.toml"
    big.write_text("[speculation]\n" + "# x\n" * (LIMITS.max_config_bytes // 4))
    with pytest.raises(LimitError, match="max_config_bytes"):
        SpeculationConfig.from_toml(big)


def test_10_bad_min_stake_is_reported_once():
    with pytest.raises(ConfigError) as info:
        SpeculationConfig.from_toml("[speculation.stake]\nmin_stake = -1\nmax_stake = 100\n")
    assert len(info.value.problems) == 1 and "-1" in info.value.problems[0]


# ------------------------------------------------------------ 11, 12: CLI


@pytest.mark.parametrize("args", [
    ["--at", "1e20"], ["--at", "253402300800"], ["--window", "300000y"],
    ["--at", "-62135596800", "--window", "1h"], ["--at", "nan"]])
def test_11_absurd_times_exit_2(args, capsys):
    assert main(["profile", "--fixture", "baseline", *args]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_12_output_paths_exit_2_and_create_nothing(tmp_path, capsys):
    missing = tmp_path / "no" / "such"
    (tmp_path / "file").write_text("x")
    assert main(["bench", "report", "--input-dir", str(tmp_path),
                 "--output", str(tmp_path)]) == 2
    assert main(["bench", "run", "--duration", "2m", "--output",
                 str(missing / "x.json")]) == 2
    assert main(["bench", "suite", "--runs", "1", "--output-dir",
                 str(tmp_path / "file")]) == 2
    assert main(["fixtures", "build", "--output-dir", str(missing)]) == 2
    assert main(["recommend", "--config", "baseline", "--fixture", "baseline",
                 "--write", str(tmp_path)]) == 2
    assert not (tmp_path / "no").exists()
    err_text = capsys.readouterr().err
    assert "Traceback" not in err_text and "--output" in err_text


# ------------------------------------------------------------ 13: limits


def test_13_plan_and_evaluation_points_are_bounded():
    with pytest.raises(LimitError, match="max_plan_points"):
        PrometheusSource("http://h:9090").plan_range(0, 3.15e9, "1ms")
    src = OfflineSource(_frame())
    from specanalysis import query as q
    with pytest.raises(LimitError, match="max_eval_points"):
        src.evaluate_range(q.metric("speculation_active_tasks"), 0, 3.15e9, "1ms")
    with pytest.raises(LimitError, match="max_eval_points"):
        OfflineSource(_frame(), max_eval_points=10).evaluate_range(
            q.metric("speculation_active_tasks"), T0, T0.replace(minute=10), 60)


def test_13_line_length_file_size_and_special_files(tmp_path):
    line = "m{x=\"" + "a" * 2_000_000 + "\"} 1 1000\n"
    with pytest.raises(LimitError, match="max_line_length") as info:
        parse_exposition(line)
    assert info.value.line == 1
    assert parse_exposition(line, max_line_length=3_000_000).height == 1
    with pytest.raises(LimitError, match="max_file_bytes"):
        parse_exposition("up 1 1000\n" * 10, max_bytes=50)
    os.mkfifo(tmp_path / "pipe.om")
    with pytest.raises(DataError, match="FIFO"):
        read_exposition(tmp_path / "pipe.om")
    with pytest.raises(DataError, match="FIFO"):
        read_samples(tmp_path / "pipe.om")
    with pytest.raises(DataError, match="character device"):
        read_exposition("/dev/zero")


# ------------------------------------------------------------ 14: semantics


def test_14_out_of_range_values_are_refused_like_prometheus():
    with pytest.raises(ParseError, match="float64 range"):
        parse_exposition("up 1e400 1000\n")
    assert parse_exposition("up +Inf 1000\nup -inf 2000\n")["value"].to_list() == [
        float("inf"), float("-inf")]


def test_14_non_numeric_le_survives_unit_conversion():
    frame = parse_exposition(
        'speculation_proof_generation_duration_ms_bucket{le="abc"} 3 1000\n'
        'speculation_proof_generation_duration_ms_bucket{le="500"} 3 1000\n')
    assert frame["le"].to_list() == ["abc", "0.5"]


@pytest.mark.parametrize(("answer", "code"), [
    ((504, b"<html>gateway timeout</html>", {}), 4),
    (err(503, "timeout", "query timed out in expression evaluation"), 4),
    (err(422, "execution", "many-to-many matching"), 4),
    ((200, b"<html>login</html>", {}), 4),
    (err(503, "unavailable", "shutting down"), 3),
])
def test_14_server_refusals_and_timeouts_exit_4(api, answer, code):
    api.script = [answer]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "specanalysis", "profile", "--prometheus", api.url,
         "--at", "1735689600", "--deadline", "1"],
        env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
