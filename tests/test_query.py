"""Query expressions: construction, validation and PromQL rendering."""

from __future__ import annotations

import math

import pytest

from specanalysis import query as q
from specanalysis.errors import QueryError

TASKS = q.metric("speculation_tasks_total")
ROLLBACKS = q.metric("speculation_rollback_total")


def test_guide_queries_render_exactly() -> None:
    g = q.guide_queries("1h")
    assert {k: v.promql for k, v in g.items()} == {
        "task_rate_per_min": "rate(speculation_tasks_total[1h]) * 60",
        "depth_distribution":
            "sum by (le) (increase(speculation_depth_histogram_bucket[1h]))",
        "proof_p50_seconds":
            "histogram_quantile(0.5, rate(speculation_proof_generation_seconds_bucket[1h]))",
        "proof_p99_seconds":
            "histogram_quantile(0.99, rate(speculation_proof_generation_seconds_bucket[1h]))",
        "rollback_rate_percent": "sum(rate(speculation_rollback_total[1h])) / "
            "sum(rate(speculation_tasks_total[1h])) * 100",
        "avg_memory_mb": "avg_over_time(speculation_memory_usage_bytes[1h]) / 1024 / 1024",
        "peak_active_tasks": "max_over_time(speculation_active_tasks[1h])",
    }
    assert q.guide_queries(300)["peak_active_tasks"].promql == (
        "max_over_time(speculation_active_tasks[5m])"
    )


def test_builders_match_guide_by_hand() -> None:
    assert str(q.rate(TASKS, "1h") * 60) == "rate(speculation_tasks_total[1h]) * 60"
    assert q.metric("speculation_rollback_total", reason="timeout").promql == (
        'speculation_rollback_total{reason="timeout"}'
    )
    assert repr(q.rate(TASKS, 60)) == "<PromQL rate(speculation_tasks_total[1m])>"


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (q.metric("a") + q.metric("b") * 2, "a + b * 2"),
        ((q.metric("a") + q.metric("b")) * 2, "(a + b) * 2"),
        (q.metric("a") - (q.metric("b") - q.metric("c")), "a - (b - c)"),
        ((q.metric("a") - q.metric("b")) - q.metric("c"), "a - b - c"),
        (q.metric("a") / (q.metric("b") * q.metric("c")), "a / (b * c)"),
        (q.metric("a") * q.metric("b") / q.metric("c"), "a * b / c"),
        (100 - q.metric("a"), "100 - a"),
        (2 / q.metric("a"), "2 / a"),
        (1 + q.metric("a") * 0.5, "1 + a * 0.5"),
        (q.metric("a") * -1, "a * -1"),
        (q.metric("a") * 1e-9, "a * 1e-09"),
        (q.metric("a") + float("nan"), "a + NaN"),
        (q.metric("a") / float("inf"), "a / Inf"),
        (q.sum(q.metric("a"), without=["instance", "job"]),
         "sum without (instance, job) (a)"),
        (q.count(q.metric("a"), by="reason"), "count by (reason) (a)"),
        (q.avg(q.metric("a") * 2), "avg(a * 2)"),
        (q.scalar(q.max(q.metric("a"))) * q.metric("b"), "scalar(max(a)) * b"),
        (q.binop(q.metric("a"), "/", q.metric("b"), on=["x"]), "a / on (x) b"),
        (q.binop(q.metric("a"), "+", q.metric("b"), ignoring="le") * 3,
         "(a + ignoring (le) b) * 3"),
    ],
)
def test_rendering_precedence(expr: q.Expr, text: str) -> None:
    assert expr.promql == text


@pytest.mark.parametrize("func", q.RANGE_FUNCTIONS)
def test_every_range_function(func: str) -> None:
    expr = getattr(q, func)(q.metric("m", job="x"), "90s")
    assert expr.promql == f'{func}(m{{job="x"}}[1m30s])'
    assert expr.window == 90.0


def test_matchers_and_escaping() -> None:
    sel = q.metric("m", matchers=[q.Matcher("a", "!=", "x"), ("b", "=~", "t.*"),
                                  q.Matcher("c", "!~", "")])
    assert sel.promql == 'm{a!="x",b=~"t.*",c!~""}'
    esc = q.metric("m", path='C:\\dir "q"\nz')
    assert esc.promql == 'm{path="C:\\\\dir \\"q\\"\\nz"}'
    m = q.Matcher("r", "=~", "time.*")
    assert m.matches("timeout") and not m.matches("xtimeout")  # anchored
    assert q.Matcher("r", "=", "").matches(None)
    assert q.Matcher("r", "!=", "a").matches(None)
    assert not q.Matcher("r", "!~", "a|b").matches("a")


def test_expressions_are_immutable_and_hashable() -> None:
    a = q.rate(q.metric("x", r="1"), "5m") * 60
    b = q.rate(q.metric("x", r="1"), 300) * 60
    assert a == b and hash(a) == hash(b)
    assert len({a, b, q.rate(q.metric("x"), "5m")}) == 2
    assert q.Number(float("nan")) == q.Number(float("nan"))
    with pytest.raises(AttributeError):
        a.op = "/"  # type: ignore[misc]
    assert q.scalar(3).kind == "scalar" and (q.scalar(3) * 2).kind == "scalar"
    assert a.kind == "vector"


@pytest.mark.parametrize(
    "build",
    [
        lambda: q.Matcher("a", "==", "x"),
        lambda: q.Matcher("a", "=~", "("),
        lambda: q.Matcher("1abc", "=", "x"),
        lambda: q.Matcher("a-b", "=", "x"),
        lambda: q.metric("bad-name"),
        lambda: q.metric("m", **{"le": 1}),
        lambda: q.metric("m", matchers=["a=b"]),
        lambda: q.rate(TASKS, 0),
        lambda: q.rate(TASKS, -5),
        lambda: q.rate(TASKS, "soon"),
        lambda: q.rate(TASKS, "0.0001ms"),
        lambda: q.rate(q.rate(TASKS, "5m"), "5m"),
        lambda: q.rate("speculation_tasks_total", "5m"),
        lambda: q.histogram_quantile("0.9", TASKS),
        lambda: q.histogram_quantile(True, TASKS),
        lambda: q.histogram_quantile(0.9, q.scalar(1)),
        lambda: q.sum(TASKS, by=["le"], without=["x"]),
        lambda: q.sum(TASKS, by=["not-a-label"]),
        lambda: q.sum("x"),
        lambda: q.aggregate("median", TASKS),
        lambda: q.binop(TASKS, "%", 2),
        lambda: q.binop(TASKS, "/", 2, on=["x"]),
        lambda: q.binop(TASKS, "/", TASKS, on=["x"], ignoring=["y"]),
        lambda: TASKS * "2",
        lambda: TASKS + None,
    ],
)
def test_invalid_construction_raises_query_error(build) -> None:
    with pytest.raises(QueryError):
        build()


def test_error_names_the_field() -> None:
    with pytest.raises(QueryError, match="window"):
        q.increase(TASKS, 0)
    with pytest.raises(QueryError, match="matcher op"):
        q.Matcher("a", "<", "1")


def test_numbers_render_like_a_person_writes() -> None:
    assert [q.Number(v).promql for v in (60, 1024.0, 0.5, 0.99, -2, 1.5e20,
                                        -math.inf)] == [
        "60", "1024", "0.5", "0.99", "-2", "1.5e+20", "-Inf"]
    assert q.histogram_quantile(1, TASKS).promql == (
        "histogram_quantile(1, speculation_tasks_total)")
