"""The workload profile on a real, backfilled Prometheus equals the offline profile.

The bundled ``baseline`` fixture (baseline_samples; every catalogue metric the profile
reads) is written as OpenMetrics, backfilled with ``promtool tsdb create-blocks-from openmetrics``
and served by a real ``prometheus``; the same samples feed an OfflineSource.
Every figure, the depth table and the characterisation must agree.
"""

from __future__ import annotations

import math
from datetime import timedelta

import polars as pl
import pytest

from specanalysis.profile import characterize, profile_workload

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def offline(baseline_samples):
    from specanalysis.sources.offline import OfflineSource

    return OfflineSource(baseline_samples)


def _same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == pytest.approx(b, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("window", ["1h", "10m"])
def test_profile_equal_on_prometheus_and_offline(offline, baseline_prometheus, window):
    end = offline.time_range()[1]
    at = end - timedelta(minutes=3)
    off = profile_workload(offline, window=window, at=at)
    live = profile_workload(baseline_prometheus, window=window, at=at)
    assert off.missing == live.missing
    # fixtures baseline_samples before the offered-load and pipeline-timing metrics existed
    # lack only those; every other metric the profile reads is there
    assert set(off.missing) <= {
        "speculation_tasks_scheduled_total", "speculation_tasks_rejected_total",
        "speculation_tasks_deferred_total", "speculation_deferral_wait_seconds",
        "speculation_execution_seconds", "speculation_proof_batch_duration_seconds",
        "speculation_proof_workers_busy", "speculation_proof_workers"}
    differ = {
        name: (f.value, live[name].value)
        for name, f in off.figures.items()
        if not _same(f.value, live[name].value)
    }
    assert not differ, differ
    assert off.to_frame()["promql"].to_list() == live.to_frame()["promql"].to_list()
    a, b = off.depth_distribution, live.depth_distribution
    assert a["le"].to_list() == b["le"].to_list()
    assert a["count"].to_list() == pytest.approx(b["count"].to_list(), rel=1e-9)
    # the figures are real measurements, not NaN placeholders
    assert off.value("task_rate") > 0 and off.value("proof_p99") > 0


def test_characterization_equal(offline, baseline_prometheus):
    end = offline.time_range()[1]
    off = characterize(offline, window="1h", at=end)
    live = characterize(baseline_prometheus, window="1h", at=end)
    assert off.workload_type == live.workload_type
    assert off.quadrant == live.quadrant
    assert off.nearest_quadrant == live.nearest_quadrant
    assert off.rate_series["timestamp"].to_list() == \
        live.rate_series["timestamp"].to_list()
    assert off.rate_series["tasks_per_min"].to_list() == pytest.approx(
        live.rate_series["tasks_per_min"].to_list(), rel=1e-9)
    for k, v in off.features.items():
        assert _same(v, live.features[k]), (k, v, live.features[k])


def test_plot_frames_equal(offline, baseline_prometheus):
    from specanalysis import plots

    end = offline.time_range()[1]
    kw = {"start": end - timedelta(minutes=30), "end": end, "step": "1m"}
    for build in (plots.task_rate_frame, plots.rollback_rate_frame,
                  plots.proof_latency_frame):
        a = build(offline, window="5m", **kw)
        b = build(baseline_prometheus, window="5m", **kw)
        assert a.height == b.height > 0, build.__name__
        num = [c for c, t in a.schema.items() if t == pl.Float64]
        for c in a.columns:
            if c in num:
                assert a[c].to_list() == pytest.approx(b[c].to_list(), rel=1e-9,
                                                       nan_ok=True), (build, c)
            else:
                assert a[c].to_list() == b[c].to_list(), (build, c)
