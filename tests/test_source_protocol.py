"""The Source protocol: both engines satisfy it; everything else is refused, typed."""

from __future__ import annotations

from datetime import datetime, timezone

import polars as pl
import pytest

from specanalysis import plots
from specanalysis.errors import DataError
from specanalysis.profile import characterize, profile_workload
from specanalysis.sources import OfflineSource, PrometheusSource, Source, as_source
from specanalysis.tuning import recommend

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
FRAME = pl.DataFrame({"timestamp": [T0, T0.replace(minute=1)],
                      "metric": ["speculation_tasks_total"] * 2, "value": [0.0, 60.0]})


def test_both_engines_are_sources():
    assert isinstance(OfflineSource(FRAME), Source)
    # construction sends nothing; the protocol only checks the methods
    assert isinstance(PrometheusSource("http://127.0.0.1:9"), Source)


def test_a_frame_becomes_an_offline_source():
    src = as_source(FRAME)
    assert isinstance(src, OfflineSource)
    assert src.time_range() == (T0, T0.replace(minute=1))


class HalfSource:
    """Has evaluate but neither evaluate_range nor time_range."""

    def evaluate(self, expr, at):  # pragma: no cover - never called
        return pl.DataFrame()


@pytest.mark.parametrize("bad", [42, "http://prometheus:9090", HalfSource(), None])
@pytest.mark.parametrize("call", [
    profile_workload,
    characterize,
    plots.task_rate_frame,
    plots.memory_frame,
])
def test_anything_else_is_a_typed_error(call, bad):
    with pytest.raises(DataError) as err:
        call(bad)
    assert err.value.field == "source"
    assert "evaluate_range" in str(err.value)  # says what a source must offer


def test_recommend_checks_its_source_too():
    from specanalysis.config import SpeculationConfig

    prof = profile_workload(FRAME)
    with pytest.raises(DataError, match="got HalfSource"):
        recommend(prof, SpeculationConfig(), source=HalfSource())
