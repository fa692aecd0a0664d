"""The offline engine equals a real Prometheus on the same (backfilled) data.

The oracle is the server: ``OfflineSource(samples, semantics=...)`` must give the
same frame as ``PrometheusSource`` for every query the tuning guide uses and for
the edge cases around it, at relative tolerance 1e-9, for instant queries and
for range queries at several steps.
"""

from __future__ import annotations

import socket
from datetime import timedelta

import polars as pl
import pytest

from specanalysis import query as q
from specanalysis.errors import PrometheusError, PrometheusUnavailable
from specanalysis.frames import label_columns
from specanalysis.sources.offline import OfflineSource
from specanalysis.sources.prometheus import PrometheusSource

pytestmark = pytest.mark.integration

REL = 1e-9


def m(name, **labels):
    return q.metric(name, **labels)


def _expressions() -> dict[str, q.Expr]:
    exprs: dict[str, q.Expr] = dict(q.guide_queries("1h"))
    exprs["depth_le_1_raw"] = q.sum(m("speculation_depth_histogram_bucket", le="1.0"))
    exprs["confirmation_p99"] = q.histogram_quantile(
        0.99, q.rate(m("solana_confirmation_seconds_bucket"), "1h"))
    exprs["queue_utilisation_pct"] = (
        m("speculation_proof_queue_depth") / m("speculation_proof_queue_capacity") * 100)
    exprs["rollback_by_reason"] = q.sum(q.rate(m("speculation_rollback_total"), "1h"),
                                        by=["reason"])
    for w in ("1m", "2m", "5m"):
        exprs[f"rate_tasks_{w}"] = q.rate(m("speculation_tasks_total"), w)
        exprs[f"increase_rollback_{w}"] = q.increase(m("speculation_rollback_total"), w)
        exprs[f"delta_memory_{w}"] = q.delta(m("speculation_memory_usage_bytes"), w)
        exprs[f"irate_tasks_{w}"] = q.irate(m("speculation_tasks_total"), w)
    for phi in (0.5, 0.9, 0.99):
        exprs[f"proof_q{phi}_5m"] = q.histogram_quantile(
            phi, q.rate(m("speculation_proof_generation_seconds_bucket"), "5m"))
    exprs["depth_q0.9_2m"] = q.histogram_quantile(
        0.9, q.sum(q.rate(m("speculation_depth_histogram_bucket"), "2m"), by=["le"]))
    for f in ("avg", "max", "min", "sum", "count"):
        fn = getattr(q, f"{f}_over_time")
        exprs[f"{f}_over_time_active_5m"] = fn(m("speculation_active_tasks"), "5m")
        exprs[f"{f}_over_time_memory_5m"] = fn(m("speculation_memory_usage_bytes"), "5m")
    exprs["sum_by_component"] = q.sum(m("speculation_memory_usage_bytes"), by=["component"])
    exprs["sum_without_le"] = q.sum(q.increase(m("speculation_depth_histogram_bucket"),
                                               "5m"), without=["le"])
    exprs["avg_max_min_count"] = (
        q.avg(m("speculation_memory_usage_bytes")) + q.max(m("speculation_memory_usage_bytes"))
        - q.min(m("speculation_memory_usage_bytes")) * q.count(
            m("speculation_memory_usage_bytes")))
    exprs["vector_div_vector"] = (
        q.rate(m("speculation_proof_generation_seconds_sum"), "5m")
        / q.rate(m("speculation_proof_generation_seconds_count"), "5m"))
    exprs["scalar_arith"] = 100 - m("speculation_active_tasks") / 2 + 1
    exprs["selector_regex"] = m("speculation_rollback_total",
                                matchers=[q.Matcher("reason", "=~", "time.*|state_.*")])
    exprs["selector_neq"] = m("speculation_memory_usage_bytes",
                              matchers=[q.Matcher("component", "!=", "proof_cache")])
    exprs["raw_gauge_nan"] = m("speculation_active_tasks")
    return exprs


EXPRESSIONS = _expressions()


def canonical(frame: pl.DataFrame) -> pl.DataFrame:
    labels = sorted(label_columns(frame))
    frame = frame.select("timestamp", "metric", "value", *labels)
    return frame.sort(["metric", *labels, "timestamp"], nulls_last=False)


def assert_same(offline: pl.DataFrame, live: pl.DataFrame, what: str) -> None:
    off, prom = canonical(offline), canonical(live)
    assert off.columns == prom.columns, f"{what}: columns {off.columns} != {prom.columns}"
    assert off.height == prom.height, (
        f"{what}: {off.height} offline rows vs {prom.height} from Prometheus")
    keys = [c for c in off.columns if c != "value"]
    assert off.select(keys).equals(prom.select(keys)), f"{what}: series/timestamps differ"
    a, b = off.get_column("value"), prom.get_column("value")
    both = pl.DataFrame({"a": a, "b": b})
    ok = both.select(
        (pl.col("a").is_nan() & pl.col("b").is_nan())
        | (pl.col("a") == pl.col("b"))
        | ((pl.col("a") - pl.col("b")).abs()
           <= REL * pl.max_horizontal(pl.col("a").abs(), pl.col("b").abs()))
    ).to_series()
    bad = both.filter(~ok)
    assert bad.height == 0, f"{what}: {bad.height} values differ, e.g. {bad.head(3).rows()}"


@pytest.fixture(scope="module")
def engines(backfilled):
    if backfilled.semantics is None:
        pytest.skip(f"no offline semantics pinned for {backfilled.server.version}")
    offline = OfflineSource(backfilled.samples, semantics=backfilled.semantics)
    return offline, backfilled.source, backfilled


def test_backfill_lost_no_sample(backfilled):
    """count_over_time over the whole span equals the row count, series by series."""
    samples, src = backfilled.samples, backfilled.source
    labels = label_columns(samples)
    want = samples.group_by(["metric", *labels]).len()
    span = backfilled.last - backfilled.first
    window = f"{int(span.total_seconds()) + 60}s"
    total = 0
    for name in want.get_column("metric").unique().sort().to_list():
        got = src.evaluate(f"count_over_time({name}[{window}])", backfilled.last)
        expect = want.filter(pl.col("metric") == name).drop("metric")
        got_labels = label_columns(got)
        joined = expect.join(
            got.select(*got_labels, "value"), on=got_labels, how="full", nulls_equal=True)
        assert joined.height == expect.height, name
        assert (joined.get_column("len").cast(pl.Float64)
                == joined.get_column("value")).all(), name
        total += int(got.get_column("value").sum())
    assert total == samples.height


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_instant_queries_equal(engines, name):
    offline, live, data = engines
    expr = EXPRESSIONS[name]
    first, last = data.first, data.last
    times = [first + timedelta(seconds=30), first + timedelta(hours=1),
             first + timedelta(hours=2, seconds=17, milliseconds=250), last,
             last + timedelta(minutes=4, seconds=59), last + timedelta(minutes=6)]
    for at in times:
        assert_same(offline.evaluate(expr, at), live.evaluate(expr, at),
                    f"{expr.promql} @ {at}")


@pytest.mark.parametrize("step", ["15s", "37s", "60s", "300s"])
@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_range_queries_equal(engines, name, step):
    offline, live, data = engines
    expr = EXPRESSIONS[name]
    start = data.first + timedelta(seconds=1.5)
    end = data.last + timedelta(minutes=10)
    assert_same(offline.evaluate_range(expr, start, end, step),
                live.evaluate_range(expr, start, end, step),
                f"{expr.promql} [{step}]")


def test_guide_queries_are_not_trivially_empty(engines):
    offline, live, data = engines
    at = data.first + timedelta(hours=3)
    for name, expr in q.guide_queries("1h").items():
        frame = live.evaluate(expr, at)
        assert frame.height >= 1, name


@pytest.mark.parametrize(("expr", "step"), [
    ("speculation_proof_queue_capacity", "1s"),
    ("vector(1)", "1.5s"),
])
def test_chunked_range_is_exact_and_matches_unchunked(engines, expr, step):
    offline, live, data = engines
    start = data.first + timedelta(milliseconds=250)
    end = data.last
    frame = live.evaluate_range(expr, start, end, step)
    step_ms = round(float(step[:-1]) * 1000)
    span_ms = (end - start) // timedelta(milliseconds=1)
    n = span_ms // step_ms + 1
    assert n > 11_001  # needs more than one request
    ts = frame.get_column("timestamp")
    assert ts.n_unique() == ts.len() == n
    first_ms = ts.dt.epoch("ms").to_list()
    start_ms = round(start.timestamp() * 1000)
    assert first_ms[0] == start_ms and first_ms[-1] == start_ms + (n - 1) * step_ms
    # an evaluation chunked differently agrees, and so does the (unchunked) offline engine
    other = PrometheusSource(live._base, max_points=997).evaluate_range(
        expr, start, end, step)
    assert_same(other, frame, f"{expr} chunked at 997")
    if not expr.startswith("vector"):
        assert_same(offline.evaluate_range(q.metric(expr), start, end, step), frame,
                    f"{expr} offline")


def test_raw_promql_strings(backfilled):
    src = backfilled.source
    assert src.evaluate("up", backfilled.last).height == 0
    one = src.evaluate("vector(1)", backfilled.last)
    assert one.get_column("value").to_list() == [1.0]
    assert one.get_column("metric").to_list() == [None]
    s = src.query("scalar(vector(2)) * 3", backfilled.last)
    assert s.result_type == "scalar" and s.frame.get_column("value").to_list() == [6.0]


def test_bad_promql_is_bad_data(backfilled):
    with pytest.raises(PrometheusError) as info:
        backfilled.source.evaluate("rate(speculation_tasks_total[5m", backfilled.last)
    assert info.value.error_type == "bad_data" and info.value.status == 400
    assert "parse error" in str(info.value)


def test_range_over_the_server_limit_in_one_request_is_refused(backfilled):
    """Without our chunking the server refuses: the limit the chunker respects is real."""
    single = PrometheusSource(backfilled.source._base, max_points=10**9)
    with pytest.raises(PrometheusError) as info:
        single.evaluate_range("vector(1)", backfilled.first, backfilled.last, "1s")
    assert info.value.error_type == "bad_data" and "11,000" in str(info.value)
    exact = PrometheusSource(backfilled.source._base, max_points=11000)
    frame = exact.evaluate_range("vector(1)", 0, 11000, 1)  # 11,001 points: one request
    assert frame.height == 11001 and exact.requests_sent == 1


def test_unreachable_port_is_unavailable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    src = PrometheusSource(f"http://127.0.0.1:{port}", retries=1, deadline=5)
    with pytest.raises(PrometheusUnavailable):
        src.evaluate("up", 0)
    assert src.requests_sent == 2
