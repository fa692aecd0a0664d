from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from specanalysis._time import format_duration, parse_duration, to_datetime, to_ms
from specanalysis.errors import SpecAnalysisError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1h", 3600), ("5m", 300), ("30s", 30), ("500ms", 0.5), ("1h30m", 5400),
     ("2d", 172800), ("1w", 604800), ("15", 15), (60, 60), (0.25, 0.25)],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "5x", "-5m", "0s", "m5", True, float("nan"), -1])
def test_bad_durations_name_the_field(bad):
    with pytest.raises(SpecAnalysisError, match="window"):
        parse_duration(bad, field="window")


@given(st.integers(min_value=1, max_value=10**10))
def test_format_parse_round_trip(ms):
    assert parse_duration(format_duration(ms / 1000)) == pytest.approx(ms / 1000)


def test_to_ms_keeps_milliseconds():
    t = datetime(2024, 1, 1, 0, 0, 15, 250000, tzinfo=timezone.utc)
    assert to_ms(t) == 1704067215250
    assert to_ms("2024-01-01T00:00:15.250Z") == 1704067215250
    assert to_ms(1704067215.25) == 1704067215250
    assert to_ms("1704067215.250") == 1704067215250
    other_zone = t.astimezone(timezone(timedelta(hours=5)))
    assert to_ms(other_zone) == 1704067215250
    assert to_datetime(1704067215.25) == t


@pytest.mark.parametrize("bad", [datetime(2024, 1, 1), "yesterday", None, float("inf")])
def test_bad_times(bad):
    with pytest.raises(SpecAnalysisError):
        to_ms(bad)
