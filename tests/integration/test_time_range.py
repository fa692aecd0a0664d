"""A live source knows its data's time range (issue 7 section 3).

The backfilled server of the session (``conftest.backfilled``: six hours of
``make_samples`` data from 2025-01-01, far from "now") must report the first and
last sample times of the tasks counter exactly as the samples frame has them,
and a live profile then needs neither ``at=`` nor a window: it lands on the same
instant and figures as the offline profile of the same samples.
"""

from __future__ import annotations

import polars as pl
import pytest

from specanalysis.catalogue import TASKS
from specanalysis.profile import profile_workload
from specanalysis.sources import OfflineSource, Source

pytestmark = pytest.mark.integration


def test_live_time_range_is_the_datas(backfilled):
    tasks = backfilled.samples.filter(pl.col("metric") == TASKS)["timestamp"]
    src = backfilled.source
    before = src.requests_sent
    first, last = src.time_range()
    assert (first, last) == (tasks.min(), tasks.max())
    assert first.tzinfo is not None
    # a bounded search: about 2 x log2(span / 1 min) instant queries
    sent = src.requests_sent - before
    print(f"time_range: {sent} requests")
    assert sent < 100


def test_both_engines_are_sources(backfilled):
    offline = OfflineSource(backfilled.samples)
    assert isinstance(backfilled.source, Source) and isinstance(offline, Source)
    assert offline.time_range()[1] == backfilled.source.time_range()[1]


def test_live_profile_needs_no_at_and_no_window(backfilled):
    live = profile_workload(backfilled.source)
    offline = profile_workload(OfflineSource(backfilled.samples))
    assert live.at == offline.at == backfilled.samples.filter(
        pl.col("metric") == TASKS)["timestamp"].max()
    assert live.window == offline.window
    assert live["task_rate"].value == pytest.approx(offline["task_rate"].value,
                                                    rel=1e-9)
