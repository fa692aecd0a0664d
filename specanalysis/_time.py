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

__all__ = ["parse_duration", "format_duration", "to_ms", "to_datetime", "TimeLike"]

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
            raise SpecAnalysisError(f"{value!r} is not a time", field=field)
        return round(value * 1000)
    if isinstance(value, str):
        text = value.strip()
        try:
            return round(float(text) * 1000)
        except ValueError:
            pass
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
        delta = value - datetime(1970, 1, 1, tzinfo=timezone.utc)
        return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000
    raise SpecAnalysisError(f"{type(value).__name__} is not a time", field=field,
                            expected="datetime, RFC 3339 string or unix seconds")


def to_datetime(value: TimeLike, *, field: str = "time") -> datetime:
    """The instant as a tz-aware UTC datetime (millisecond precision)."""
    ms = to_ms(value, field=field)
    return datetime.fromtimestamp(ms // 1000, tz=timezone.utc).replace(
        microsecond=(ms % 1000) * 1000
    )
