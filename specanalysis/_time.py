"""Time and duration parsing shared by every module (one place, one set of rules).

Durations follow Prometheus' syntax (``"1h"``, ``"5m"``, ``"1h30m"``, ``"500ms"``,
``"2d"``) and also accept plain numbers of seconds. Instants are tz-aware
datetimes, RFC 3339 strings or unix seconds; naive datetimes are refused
because reading them as local time is a classic source of silent shifts.

Examples
--------
>>> parse_duration("1h30m")
5400.0
>>> parse_duration(15)
15.0
>>> format_duration(5400)
'1h30m'
>>> to_ms("2025-01-01T00:00:15.250Z")
1735689615250
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone

from specanalysis.errors import SpecAnalysisError

__all__ = ["parse_duration", "format_duration", "to_ms", "to_datetime", "TimeLike",
           "MIN_MS", "MAX_MS", "MAX_DURATION_S", "in_time_range", "window_start"]

#: Instants a datetime (and a polars Datetime shown or converted) can hold:
#: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z, in ms since the epoch.
MIN_MS = -62_135_596_800_000
MAX_MS = 253_402_300_799_999
#: Longest duration: Prometheus' own limit (int64 nanoseconds, about 292 years).
MAX_DURATION_S = (2**63 - 1) / 1e9
_RANGE_TEXT = "between 0001-01-01 and 9999-12-31 (unix seconds -62135596800 .. 253402300799)"


def in_time_range(ms: int) -> bool:
    """Whether ``ms`` (since the epoch) is an instant a datetime can hold."""
    return MIN_MS <= ms <= MAX_MS


def _check_ms(ms: int, value: object, field: str) -> int:
    if not in_time_range(ms):
        raise SpecAnalysisError(f"{value!r} is out of the range of times", field=field,
                                expected=f"a time {_RANGE_TEXT}")
    return ms

TimeLike = datetime | str | int | float

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0,
          "w": 604800.0, "y": 31536000.0}
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y))+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")


def parse_duration(value: str | int | float, *, field: str = "duration") -> float:
    """Seconds in a Prometheus-style duration or a number of seconds.

    Raises
    ------
    SpecAnalysisError
        Naming ``field`` when the value is not a positive duration.
    """
    if isinstance(value, bool):
        raise SpecAnalysisError(f"{value!r} is not a duration", field=field,
                                expected="e.g. '30s', '5m', '1h' or seconds")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip()
        try:
            seconds = float(text)
        except ValueError:
            if not _DURATION.match(text):
                raise SpecAnalysisError(
                    f"{value!r} is not a duration", field=field,
                    expected="e.g. '30s', '5m', '1h30m', '500ms' or seconds",
                ) from None
            seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))
    if not math.isfinite(seconds) or seconds <= 0:
        raise SpecAnalysisError(f"{value!r} is not a positive duration", field=field,
                                expected="a duration > 0")
    if seconds > MAX_DURATION_S:
        raise SpecAnalysisError(f"{value!r} is longer than Prometheus allows", field=field,
                                expected="a duration of at most 292y (2^63 ns)")
    return seconds


def format_duration(seconds: float) -> str:
    """Render seconds in PromQL duration syntax (``"1h"``, ``"90s"`` -> ``"1m30s"``).

    Sub-millisecond remainders are rounded to milliseconds.
    """
    ms = round(seconds * 1000)
    if ms <= 0:
        raise SpecAnalysisError(f"{seconds!r} is not a positive duration",
                                field="duration")
    out = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000),
                       ("s", 1000), ("ms", 1)):
        n, ms = divmod(ms, size)
        if n:
            out.append(f"{n}{unit}")
    return "".join(out)


def to_ms(value: TimeLike, *, field: str = "time") -> int:
    """Milliseconds since the epoch (UTC) of an instant.

    Accepts a tz-aware ``datetime``, an RFC 3339 / ISO 8601 string with an
    offset or ``Z``, or unix seconds (int or float). Milliseconds are kept
    exactly; nothing is rounded to whole seconds.
    """
    if isinstance(value, bool):
        raise SpecAnalysisError(f"{value!r} is not a time", field=field)
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise SpecAnalysisError(f"{value!r} is not a time", field=field,
                                    expected=f"a time {_RANGE_TEXT}")
        if abs(value) > 1e15:  # far out of range (and value * 1000 may overflow)
            return _check_ms(MAX_MS + 1, value, field)
        return _check_ms(round(value * 1000), value, field)
    if isinstance(value, str):
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            pass
        else:
            return to_ms(seconds, field=field)
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise SpecAnalysisError(
                f"{text!r} is not a time", field=field,
                expected="RFC 3339 (2025-01-01T00:00:00Z) or unix seconds",
            ) from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise SpecAnalysisError(
                f"naive datetime {value.isoformat()} has no time zone", field=field,
                expected="a tz-aware datetime (e.g. tzinfo=timezone.utc)",
            )
        try:
            delta = value - datetime(1970, 1, 1, tzinfo=timezone.utc)
        except OverflowError:  # an offset pushing year 1 / 9999 out of range
            raise SpecAnalysisError(f"{value.isoformat()} is out of the range of times",
                                    field=field, expected=f"a time {_RANGE_TEXT}") from None
        ms = delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000
        return _check_ms(ms, value.isoformat(), field)
    raise SpecAnalysisError(f"{type(value).__name__} is not a time", field=field,
                            expected="datetime, RFC 3339 string or unix seconds")


def to_datetime(value: TimeLike, *, field: str = "time") -> datetime:
    """The instant as a tz-aware UTC datetime (millisecond precision)."""
    ms = to_ms(value, field=field)
    return datetime.fromtimestamp(ms // 1000, tz=timezone.utc).replace(
        microsecond=(ms % 1000) * 1000
    )


def window_start(at: datetime, seconds: float, *, field: str = "window") -> datetime:
    """``at - seconds``, or a typed error when that falls before year 1.

    Examples
    --------
    >>> window_start(datetime(2025, 1, 1, tzinfo=timezone.utc), 3600).isoformat()
    '2024-12-31T23:00:00+00:00'
    """
    from datetime import timedelta

    try:
        return at - timedelta(seconds=seconds)
    except OverflowError:
        raise SpecAnalysisError(
            f"a {format_duration(seconds)} window ending {at.isoformat()} starts before "
            "year 1", field=field, expected=f"a window that starts {_RANGE_TEXT}",
        ) from None
