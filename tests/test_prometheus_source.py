"""Tests for specanalysis.sources.prometheus.PrometheusSource.

A tiny ``http.server`` on 127.0.0.1 plays the API. It serves canned answers only
for faults a real Prometheus cannot be provoked into (proxy pages, 429, 502,
503 unavailable, truncated bodies) and records every request, so retry counts
are counted on the server side. Behaviour against a real server is in
``tests/integration``.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import polars as pl
import pytest

from specanalysis.errors import (
    PrometheusError,
    PrometheusTimeout,
    PrometheusUnavailable,
    QueryError,
    SpecAnalysisError,
)
from specanalysis.sources.prometheus import PrometheusSource

TOKEN = "tok-3f9a2c71d5e84b6a"


def ok(result_type="vector", result=(), **extra) -> tuple[int, bytes, dict]:
    doc = {"status": "success", "data": {"resultType": result_type,
                                         "result": list(result)}, **extra}
    return 200, json.dumps(doc).encode(), {"Content-Type": "application/json"}


def err(status, error_type, message) -> tuple[int, bytes, dict]:
    doc = {"status": "error", "errorType": error_type, "error": message}
    return status, json.dumps(doc).encode(), {"Content-Type": "application/json"}


class FakeAPI:
    """Scripted responses (a list, last one repeats) or a callable; records requests."""

    def __init__(self):
        self.requests: list[dict] = []
        self.script: list | Callable = [ok()]
        self.delay = 0.0
        self.stall = 0.0  # seconds to stall after the headers, before the body
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length).decode()
                req = {"method": "POST", "path": self.path, "headers": dict(self.headers),
                       "form": {k: v[0] for k, v in parse_qs(raw).items()}}
                api.requests.append(req)
                if api.delay:
                    time.sleep(api.delay)
                if callable(api.script):
                    status, body, headers = api.script(req)
                else:
                    n = len(api.requests) - 1
                    status, body, headers = api.script[min(n, len(api.script) - 1)]
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if api.stall:
                    self.wfile.flush()
                    time.sleep(api.stall)
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST  # noqa: N815

            def log_message(self, *args):  # keep pytest output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api():
    server = FakeAPI()
    yield server
    server.close()


def src_for(api, **kw) -> PrometheusSource:
    kw.setdefault("deadline", 30)
    return PrometheusSource(api.url, **kw)


# --------------------------------------------------------------- requests


def test_instant_query_is_a_form_post_with_auth_tenant_and_prefix(api):
    api.script = [ok("vector", [{"metric": {"__name__": "up", "job": "p"},
                                 "value": [1704067200.25, "1"]}])]
    src = src_for(api, token=TOKEN, tenant="team-a", api_prefix="prometheus/",
                  headers={"X-Extra": "1"})
    frame = src.evaluate("up", "2024-01-01T00:00:00.250Z")
    (req,) = api.requests
    assert req["path"] == "/prometheus/api/v1/query"
    assert req["form"] == {"query": "up", "time": "1704067200.250"}
    assert req["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert req["headers"]["X-Scope-OrgID"] == "team-a"
    assert req["headers"]["X-Extra"] == "1"
    assert req["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert frame.columns == ["timestamp", "metric", "value", "job"]
    assert frame.get_column("value").to_list() == [1.0]


def test_query_expression_is_rendered_as_promql(api):
    q = pytest.importorskip("specanalysis.query")
    expr = q.rate(q.metric("speculation_tasks_total"), "1h") * 60
    src = src_for(api)
    src.evaluate(expr, 1704067200)
    assert api.requests[0]["form"]["query"] == expr.promql


def test_not_a_query_is_refused_before_any_request(api):
    src = src_for(api)
    with pytest.raises(QueryError):
        src.evaluate(42, 0)
    with pytest.raises(QueryError):
        src.evaluate("  ", 0)
    with pytest.raises(SpecAnalysisError):
        src.evaluate("up", "yesterday")
    assert api.requests == []


def grid_server(req):
    """Answers query_range like Prometheus: points at start + k*step <= end."""
    f = req["form"]
    start, end, step = (round(float(f[k]) * 1000) for k in ("start", "end", "step"))
    if (end - start) // step > 11000:
        return err(400, "bad_data", "exceeded maximum resolution of 11,000 points")
    values = [[t / 1000, str(t / 1000)] for t in range(start, end + 1, step)]
    other = [[t / 1000, "1"] for t in range(start, end + 1, step) if (t // step) % 7 == 0]
    return ok("matrix", [{"metric": {"__name__": "a"}, "values": values},
                         {"metric": {"__name__": "b", "x": "1"}, "values": other}])


@pytest.mark.parametrize(("start", "end", "step", "max_points"), [
    (0, 45 * 3600, 1, 11000),          # 45 h at 1 s: 162,001 points, 15 requests
    (1_000.250, 1_000.250 + 22_000 * 15, 15, 11000),  # exactly 2 full chunks + 1 point
    (0, 1000, 7, 10),
    (0, 999.999, 0.25, 1000),
])
def test_range_chunks_cover_one_grid_without_duplicates(api, start, end, step, max_points):
    api.script = grid_server
    src = src_for(api, max_points=max_points)
    frame = src.evaluate_range("a", start, end, step)
    start_ms, end_ms, step_ms = round(start * 1000), round(end * 1000), round(step * 1000)
    n = (end_ms - start_ms) // step_ms + 1
    a = frame.filter(pl.col("metric") == "a")
    got = a.get_column("timestamp").dt.epoch("ms").to_list()
    assert got == [start_ms + k * step_ms for k in range(n)]
    # values equal their own timestamps: no point was shifted between chunks
    assert a.get_column("value").to_list() == [t / 1000 for t in got]
    assert frame.columns == ["timestamp", "metric", "value", "x"]
    b = frame.filter(pl.col("metric") == "b")
    assert b.get_column("timestamp").is_unique().all()
    # every request stayed within the limit and on the grid
    for req in api.requests:
        s, e, st = (round(float(req["form"][k]) * 1000) for k in ("start", "end", "step"))
        assert st == step_ms and (s - start_ms) % step_ms == 0
        assert (e - s) // step_ms <= max_points
    assert len(api.requests) == -(-n // (max_points + 1))


def test_plan_range_rejects_reversed_and_tiny_steps():
    src = PrometheusSource("http://127.0.0.1:1")
    with pytest.raises(QueryError):
        src.plan_range(10, 0, 1)
    with pytest.raises(QueryError):
        src.plan_range(0, 10, 0.0001)
    assert src.plan_range(5, 5, 1) == [(5000, 5000, 1000)]


# ---------------------------------------------------------- warnings / infos


def test_warnings_and_infos_are_kept_and_strict_raises(api, caplog):
    api.script = [ok("vector", [], warnings=["partial response: store down"],
                     infos=["info: not a counter"])]
    src = src_for(api, token=TOKEN)
    with caplog.at_level(logging.DEBUG):
        resp = src.query("up", 0)
    assert resp.warnings == ("partial response: store down",)
    assert src.last_warnings == ("partial response: store down",)
    assert src.last_infos == ("info: not a counter",)
    assert "partial response" in caplog.text
    strict = src_for(api, strict=True)
    with pytest.raises(PrometheusError) as info:
        strict.evaluate("up", 0)
    assert info.value.error_type == "warnings"
    assert "store down" in str(info.value)


def test_range_chunks_merge_warnings_in_order(api):
    api.script = [ok("matrix", [], warnings=["w1"]), ok("matrix", [], warnings=["w2", "w1"])]
    src = src_for(api, max_points=10)
    resp = src.query_range("up", 0, 20, 1)
    assert resp.warnings == ("w1", "w2")
    assert resp.frame.height == 0


# ------------------------------------------------------------ error handling


def test_503_timeout_is_sent_exactly_once(api):
    api.script = [err(503, "timeout", "query timed out in expression evaluation")]
    src = src_for(api, retries=5)
    with pytest.raises(PrometheusTimeout) as info:
        src.evaluate("sum(rate(x[1y]))", 0)
    assert len(api.requests) == 1
    assert info.value.status == 503 and info.value.error_type == "timeout"
    assert "query timed out" in str(info.value)


def test_504_gateway_timeout_is_not_retried(api):
    api.script = [(504, b"<html>Gateway Timeout</html>", {})]
    with pytest.raises(PrometheusTimeout):
        src_for(api).evaluate("up", 0)
    assert len(api.requests) == 1


def test_no_answer_within_timeout_is_a_timeout_not_a_retry(api):
    api.delay = 0.5
    with pytest.raises(PrometheusTimeout):
        src_for(api, timeout=0.1).evaluate("up", 0)
    assert len(api.requests) == 1


def test_429_then_success_is_retried(api):
    api.script = [(429, b"rate limited", {"Retry-After": "0"}),
                  ok("vector", [{"metric": {}, "value": [1, "7"]}])]
    frame = src_for(api).evaluate("up", 1)
    assert len(api.requests) == 2
    assert frame.get_column("value").to_list() == [7.0]


def test_503_unavailable_and_502_proxy_page_are_retried(api):
    api.script = [err(503, "unavailable", "shutting down"),
                  (502, b"<html><h1>502 Bad Gateway</h1></html>", {}),
                  (503, b"no healthy upstream", {}),
                  ok("scalar", [1, "3"])]
    frame = src_for(api).evaluate("3", 1)
    assert len(api.requests) == 4
    assert frame.get_column("value").to_list() == [3.0]


def test_transient_failures_give_up_after_retries(api):
    api.script = [(502, b"<html>bad gateway</html>", {})]
    with pytest.raises(PrometheusUnavailable) as info:
        src_for(api, retries=2).evaluate("up", 0)
    assert len(api.requests) == 3
    assert "3 attempts" in str(info.value)
    assert info.value.status == 502


def test_deadline_stops_retrying(api):
    api.script = [(503, b"down", {"Retry-After": "30"})]
    with pytest.raises(PrometheusUnavailable) as info:
        src_for(api, retries=10, deadline=1).evaluate("up", 0)
    assert len(api.requests) == 1
    assert "gave up" in str(info.value)


@pytest.mark.parametrize(("status", "error_type"), [
    (400, "bad_data"), (422, "execution"), (500, "internal"), (503, "canceled")])
def test_permanent_errors_raise_once_with_error_type(api, status, error_type):
    api.script = [err(status, error_type, f"{error_type} happened")]
    with pytest.raises(PrometheusError) as info:
        src_for(api).evaluate("up", 0)
    assert len(api.requests) == 1
    assert info.value.error_type == error_type and info.value.status == status
    assert f"{error_type} happened" in str(info.value)
    assert not isinstance(info.value, PrometheusUnavailable | PrometheusTimeout)


@pytest.mark.parametrize("body", [
    b"<!DOCTYPE html><html><title>Sign in</title><body>SSO login</body></html>",
    json.dumps({"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {}, "values": [[1, "1"]] * 50}]}}).encode()[:-30],
])
def test_200_non_json_or_truncated_body(api, body):
    api.script = [(200, body, {})]
    with pytest.raises(PrometheusError) as info:
        src_for(api).evaluate("up", 0)
    assert info.value.error_type == "non_json"
    assert info.value.status == 200
    assert len(api.requests) == 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_raises_unavailable():
    src = PrometheusSource(f"http://127.0.0.1:{free_port()}", retries=2, deadline=10,
                           token=TOKEN)
    with pytest.raises(PrometheusUnavailable) as info:
        src.evaluate("up", 0)
    assert "cannot reach" in str(info.value)
    assert "3 attempts" in str(info.value)
    assert TOKEN not in str(info.value)


# ---------------------------------------------------------------- secrets


def test_token_never_in_repr_errors_or_logs(api, caplog, capsys):
    def echo_headers(req):  # a broken proxy that echoes request headers
        return 401, f"<html>denied: {req['headers']}</html>".encode(), {}

    api.script = echo_headers
    src = src_for(api, token=TOKEN, headers={"X-Api-Key": "key-ABCDEFGH"})
    assert TOKEN not in repr(src) and TOKEN not in str(src)
    assert "key-ABCDEFGH" not in repr(src)
    assert TOKEN not in repr(vars(src))
    with caplog.at_level(logging.DEBUG), pytest.raises(PrometheusError) as info:
        src.evaluate("up", 0)
    assert api.requests[0]["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in str(info.value) and TOKEN not in repr(info.value)
    assert "key-ABCDEFGH" not in str(info.value)
    assert "denied" in str(info.value)
    # warnings and retries are logged; the token never is
    api.script = [(502, b"bad", {}), ok("vector", [], warnings=["w"])]
    api.requests.clear()
    with caplog.at_level(logging.DEBUG):
        src.evaluate("up", 0)
    out = capsys.readouterr()
    assert "retry" in caplog.text
    assert TOKEN not in caplog.text + out.out + out.err


def test_password_in_url_is_masked(api):
    url = api.url.replace("http://", "http://alice:pa55word@")
    src = PrometheusSource(url, retries=0)
    assert "pa55word" not in repr(src) and "***" in repr(src)
    api.script = [err(400, "bad_data", "nope")]
    with pytest.raises(PrometheusError) as info:
        src.evaluate("up", 0)
    assert "pa55word" not in str(info.value)
    assert api.requests[0]["headers"]["Authorization"].startswith("Basic ")


def test_secret_is_not_picklable():
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(PrometheusSource("http://h:9090", token=TOKEN)._token)


# --------------------------------------------------- client, env, validation


def test_prometheus_api_client_is_reused_without_its_retries(api):
    from prometheus_api_client import PrometheusConnect

    client = PrometheusConnect(url=api.url, headers={"X-From-Client": "yes"},
                               disable_ssl=True, auth=("bob", "hunter2"), timeout=7)
    src = PrometheusSource(client)
    assert src._session is client._session
    assert src.timeout == 7.0
    api.script = [err(503, "timeout", "query timed out")]
    with pytest.raises(PrometheusTimeout):
        src.evaluate("up", 0)
    # the client's own adapter (Retry total=3 on 503) would have sent 4
    assert len(api.requests) == 1
    hdrs = api.requests[0]["headers"]
    assert hdrs["X-From-Client"] == "yes"
    assert hdrs["Authorization"].startswith("Basic ")
    assert "hunter2" not in repr(src)


def test_from_env(monkeypatch):
    monkeypatch.setenv("SPECANALYSIS_PROMETHEUS_URL", "http://prom:9090")
    monkeypatch.setenv("SPECANALYSIS_PROMETHEUS_TOKEN", TOKEN)
    monkeypatch.setenv("SPECANALYSIS_PROMETHEUS_TENANT", "t1")
    src = PrometheusSource.from_env(max_points=29999)
    assert src.tenant == "t1" and src.max_points == 29999
    assert src._request_headers()["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in repr(src)
    monkeypatch.delenv("SPECANALYSIS_PROMETHEUS_URL")
    with pytest.raises(SpecAnalysisError) as info:
        PrometheusSource.from_env()
    assert info.value.field == "SPECANALYSIS_PROMETHEUS_URL"


@pytest.mark.parametrize("bad", ["localhost:9090", "ftp://x", "", 3.5])
def test_bad_urls_are_refused(bad):
    with pytest.raises(SpecAnalysisError):
        PrometheusSource(bad)


def test_bad_max_points_refused():
    with pytest.raises(SpecAnalysisError):
        PrometheusSource("http://h:9090", max_points=0)


def test_time_range_asks_the_server():
    # the range comes from the data (tests/integration/test_time_range.py); with
    # no server to ask it is a typed error, not a guess
    src = PrometheusSource("http://127.0.0.1:9", retries=0, deadline=2)
    with pytest.raises(PrometheusUnavailable):
        src.time_range()
