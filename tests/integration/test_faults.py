"""A real Prometheus 2.42 that times a query out, and one killed in the middle of a query.

Issue 12, findings 5 and 14: a timed-out query is sent once and surfaces as
:class:`PrometheusTimeout` (CLI exit code 4, tested in ``tests/test_hardening.py``);
a server that dies mid-query is "unreachable" (exit 3) with a typed error whose
chain holds nothing of the transport.
No fake server here: these are faults a real server produces.
"""

from __future__ import annotations

import threading

import pytest

from specanalysis.errors import PrometheusTimeout, PrometheusUnavailable
from specanalysis.sources.prometheus import PrometheusSource

from .server import start_prometheus, stop

# a subquery of 2.6 million steps over a step-dependent expression (so Prometheus
# cannot evaluate it once and reuse it): far beyond a 1 ms query timeout, and
# seconds of work for a server to be killed in the middle of
HEAVY = "sum_over_time(timestamp(vector(time()))[30d:1s])"


def _serve(tmp_path, prometheus_bin, *args):
    blocks = tmp_path / "blocks"
    blocks.mkdir()
    return start_prometheus(blocks, tmp_path, prometheus=prometheus_bin["prometheus"],
                            extra_args=args)


def test_server_side_timeout_is_sent_once_and_typed(tmp_path, prometheus_bin):
    server = _serve(tmp_path, prometheus_bin, "--query.timeout=1ms")
    try:
        src = PrometheusSource(server.url, retries=4, deadline=30)
        with pytest.raises(PrometheusTimeout) as info:
            src.evaluate(HEAVY, 1_735_689_600)
        assert src.requests_sent == 1
        assert info.value.error_type == "timeout" and info.value.status == 503
    finally:
        stop(server.process)


def test_server_killed_mid_query_is_unreachable_and_typed(tmp_path, prometheus_bin):
    server = _serve(tmp_path, prometheus_bin, "--query.timeout=2m")
    src = PrometheusSource(server.url, retries=2, deadline=20, timeout=60)
    outcome: dict = {}

    def run():
        try:
            outcome["frame"] = src.evaluate(HEAVY, 1_735_689_600)
        except BaseException as exc:  # noqa: BLE001 - the test inspects what escaped
            outcome["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    try:
        # kill once the query has reached the server (its log shows the request
        # only at the end, so wait for the TCP connection instead)
        for _ in range(600):
            if src.requests_sent:
                break
            worker.join(0.05)
        worker.join(0.5)
    finally:
        server.process.kill()
        server.process.wait(timeout=10)
    worker.join(60)
    assert not worker.is_alive()
    error = outcome.get("error")
    assert isinstance(error, PrometheusUnavailable), repr(error)
    assert error.__context__ is None and error.__cause__ is None
    assert src.requests_sent >= 2  # a dead server is retried until the deadline
