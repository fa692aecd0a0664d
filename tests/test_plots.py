"""Plot frame builders (checked against hand-computed rates) and one real render."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from specanalysis import plots
from specanalysis.errors import DataError

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
N = 4 * 60 + 1  # one hour of 15 s scrapes
MiB = 1024.0 * 1024.0


def _series(metric, values, **labels):
    n = len(values)
    data = {"timestamp": [T0 + timedelta(seconds=15 * i) for i in range(n)],
            "metric": [metric] * n, "value": [float(v) for v in values]}
    data.update({k: [v] * n for k, v in labels.items()})
    return pl.DataFrame(data)


def _frame(*parts):
    out = pl.concat(parts, how="diagonal_relaxed")
    labels = sorted(c for c in out.columns if c not in ("timestamp", "metric", "value"))
    return out.select("timestamp", "metric", "value", *labels).with_columns(
        pl.col("timestamp").dt.cast_time_unit("ms").dt.convert_time_zone("UTC"))


def _counter(metric, per_scrape, **labels):
    return _series(metric, [per_scrape * i for i in range(N)], **labels)


PROOF_INC = {"1": 0, "2": 4, "5": 8, "10": 10, "+Inf": 10}


@pytest.fixture(scope="module")
def source():
    from specanalysis.sources.offline import OfflineSource

    return OfflineSource(_frame(
        # first half-hour 10 per scrape (40/min), second half 20 per scrape (80/min)
        _series("speculation_tasks_total",
                [10 * min(i, 120) + 20 * max(0, i - 120) for i in range(N)]),
        _counter("speculation_rollback_total", 1, reason="timeout"),
        _counter("speculation_rollback_total", 0.5, reason="proof_invalid"),
        *[_counter("speculation_proof_generation_seconds_bucket", inc, le=le)
          for le, inc in PROOF_INC.items()],
        *[_counter("speculation_depth_histogram_bucket", inc, le=le)
          for le, inc in {"1": 4, "2": 8, "3": 10, "+Inf": 10}.items()],
        _series("speculation_memory_usage_bytes", [100 * MiB] * N,
                component="state_snapshots"),
        _series("speculation_memory_usage_bytes", [20 * MiB] * N,
                component="proof_cache"),
        _series("speculation_active_tasks", [7.0] * N),
        _series("speculation_active_branches", [2.0] * N),
    ))


def test_task_rate_frame_follows_the_step_change(source):
    f = plots.task_rate_frame(source, window="5m", step="5m")
    assert f.columns == ["timestamp", "tasks_per_min"]
    assert f["timestamp"].dtype == pl.Datetime("ms", "UTC")
    # first point one window after the data starts; 5m steps to the end
    assert f["timestamp"][0] == T0 + timedelta(minutes=5)
    assert f["timestamp"][-1] == T0 + timedelta(hours=1)
    by_t = dict(zip(f["timestamp"].to_list(), f["tasks_per_min"].to_list(),
                    strict=True))
    assert by_t[T0 + timedelta(minutes=30)] == pytest.approx(40.0)
    assert by_t[T0 + timedelta(minutes=60)] == pytest.approx(80.0)


def test_explicit_range(source):
    f = plots.task_rate_frame(source, window="1m", start=T0 + timedelta(minutes=10),
                              end=T0 + timedelta(minutes=12), step="30s")
    assert f.height == 5
    assert f["tasks_per_min"].to_list() == pytest.approx([40.0] * 5)
    with pytest.raises(DataError, match="after end"):
        plots.task_rate_frame(source, start=T0 + timedelta(minutes=12),
                              end=T0 + timedelta(minutes=10))


def test_proof_latency_frame_quantiles(source):
    f = plots.proof_latency_frame(source, window="5m", step="10m")
    assert set(f["quantile"]) == {"p50", "p90", "p99"}
    p50 = f.filter(pl.col("quantile") == "p50")["seconds"].to_list()
    p90 = f.filter(pl.col("quantile") == "p90")["seconds"].to_list()
    assert p50 == pytest.approx([2.75] * len(p50))  # 2 + 3 * (5-4)/4
    assert p90 == pytest.approx([7.5] * len(p90))  # 5 + 5 * (9-8)/2


def test_rollback_rate_frame_by_reason(source):
    f = plots.rollback_rate_frame(source, window="5m", step="10m")
    assert f.columns == ["timestamp", "reason", "rollbacks_per_min", "pct_of_tasks"]
    t = f.filter(pl.col("timestamp") == T0 + timedelta(minutes=25))  # 40 tasks/min
    rows = {r["reason"]: r for r in t.iter_rows(named=True)}
    assert rows["timeout"]["rollbacks_per_min"] == pytest.approx(4.0)
    assert rows["proof_invalid"]["rollbacks_per_min"] == pytest.approx(2.0)
    assert rows["timeout"]["pct_of_tasks"] == pytest.approx(10.0)  # 4 / 40


def test_memory_and_active_frames(source):
    m = plots.memory_frame(source, step="15m")
    assert set(m["component"]) == {"state_snapshots", "proof_cache"}
    snap = m.filter(pl.col("component") == "state_snapshots")["mb"]
    assert snap.to_list() == pytest.approx([100.0] * snap.len())
    a = plots.active_frame(source, step="15m")
    assert set(a["series"]) == {"active_tasks", "active_branches"}
    assert a.filter(pl.col("series") == "active_branches")["value"].unique().to_list() \
        == [2.0]


def test_depth_and_classification_frames(source):
    d = plots.depth_distribution_frame(source, window="30m")
    assert d["count"].to_list() == pytest.approx([480.0, 480.0, 240.0, 0.0])
    c = plots.classification_frame((250.0, 2.0))
    row = c.row(0, named=True)
    assert row["quadrant"] is None and row["nearest_quadrant"] == "Conservative"
    with pytest.raises(DataError):
        plots.classification_frame((250.0, math.nan))


def test_plots_render_with_bokeh(source):
    hv = pytest.importorskip("holoviews")
    pytest.importorskip("hvplot")
    from specanalysis.profile import characterize

    objs = [
        plots.plot_task_rate(source, step="5m"),
        plots.plot_depth_distribution(source, window="30m"),
        plots.plot_proof_latency(source, step="10m"),
        plots.plot_rollback_rate(source, step="10m"),
        plots.plot_memory(source, step="10m"),
        plots.plot_active(source, step="10m"),
        plots.plot_classification(characterize(source)),
    ]
    for obj in objs:
        fig = hv.render(obj, backend="bokeh")
        assert type(fig).__module__.startswith("bokeh")


def test_classification_frame_accepts_a_source_and_refuses_nonsense():
    from specanalysis.errors import DataError
    from specanalysis.fixtures import load_fixture
    from specanalysis.sources import OfflineSource

    src = OfflineSource(load_fixture("baseline"))
    frame = plots.classification_frame(src)
    assert frame.height == 1 and frame["volume_per_min"][0] > 100
    with pytest.raises(DataError, match="workload"):
        plots.classification_frame(object())


def test_proof_latency_frame_bucket_of_each_quantile(source):
    f = plots.proof_latency_frame(source, window="5m", step="10m")
    for name, lo, hi in (("p50", 2.0, 5.0), ("p90", 5.0, 10.0), ("p99", 5.0, 10.0)):
        part = f.filter(pl.col("quantile") == name)
        assert part["bucket_lo"].unique().to_list() == [lo], name
        assert part["bucket_hi"].unique().to_list() == [hi], name
        assert ((part["seconds"] > lo) & (part["seconds"] <= hi)).all()


def test_bucket_of_edges():
    bounds = [0.1, 0.25, 1.0]
    assert plots._bucket_of(0.05, bounds) == (0.0, 0.1)
    assert plots._bucket_of(0.25, bounds) == (0.1, 0.25)  # le is inclusive
    assert plots._bucket_of(3.0, bounds) == (1.0, math.inf)
    assert all(math.isnan(x) for x in plots._bucket_of(math.nan, bounds))


def test_memory_groups_small_components():
    f = pl.DataFrame({"component": ["big", "mid", "s1", "s2", "s3"],
                      "mb": [900.0, 80.0, 10.0, 6.0, 4.0]})
    groups = plots.memory_groups(f)
    assert groups["big"] == "big" and groups["mid"] == "mid"
    assert {groups[c] for c in ("s1", "s2", "s3")} == {"other (3 components)"}
    # a single small component is left alone (grouping one thing hides nothing)
    assert plots.memory_groups(f.filter(pl.col("component") != "s2")
                               .filter(pl.col("component") != "s3"))["s1"] == "s1"


def _render(obj):
    hv = pytest.importorskip("holoviews")
    return hv.render(obj, backend="bokeh")


def _figures(model):
    from bokeh.models import Plot

    return list(model.select({"type": Plot}))


def test_time_axes_say_utc_and_tooltips_carry_units(source):
    pytest.importorskip("hvplot")
    from bokeh.models import HoverTool

    for obj, unit in ((plots.plot_task_rate(source, step="5m"), "tasks/min"),
                      (plots.plot_proof_latency(source, step="10m"), " s"),
                      (plots.plot_rollback_rate(source, step="10m"), "/min"),
                      (plots.plot_active(source, step="10m"), "in flight")):
        for fig in _figures(_render(obj)):
            assert fig.xaxis[0].axis_label == "time (UTC)"
            tips = [t for h in fig.select({"type": HoverTool}) for t in h.tooltips]
            text = " ".join(f"{a} {b}" for a, b in tips)
            assert "UTC" in text and unit in text, text


def test_rollback_share_plot_has_the_guide_target(source):
    hv = pytest.importorskip("holoviews")
    pytest.importorskip("hvplot")
    obj = plots.plot_rollback_rate(source, y="pct_of_tasks", step="10m")
    lines = obj.traverse(lambda x: x, [hv.HLine])
    # guide: rollbacks < 5 % of tasks (TARGETS["rollback_rate_pct"])
    assert [ln.data for ln in lines] == [5.0]


def test_proof_latency_shows_bucket_bands_and_a_far_target_as_a_note(source):
    hv = pytest.importorskip("holoviews")
    pytest.importorskip("hvplot")
    obj = plots.plot_proof_latency(source, step="10m")
    areas = obj.traverse(lambda x: x, [hv.Area])
    assert len(areas) == 3  # one band per quantile
    # the data reach 10 s; the 60 s target is more than 3x that: a note, no line
    assert not obj.traverse(lambda x: x, [hv.HLine])
    texts = [t.text for t in obj.traverse(lambda x: x, [hv.Text])]
    assert any("60 s" in t and "off the scale" in t for t in texts)


def test_memory_plot_splits_small_components_onto_a_log_scale(source):
    hv = pytest.importorskip("holoviews")
    pytest.importorskip("hvplot")
    obj = plots.plot_memory(source, step="15m", min_share=0.25)
    # proof_cache is 20 of 120 MB (< 25 %) but alone: nothing to group
    assert not isinstance(obj, hv.Layout)
