"""Prometheus text exposition (0.0.4) and OpenMetrics 1.0: parse and write, in polars.

Three jobs, all vectorised (no Python loop per sample):

* :func:`parse_exposition` / :func:`read_exposition` read what ``curl /metrics``
  returns (text format 0.0.4, timestamps in **milliseconds**, usually absent)
  and OpenMetrics files (timestamps in **seconds**, possibly fractional, many
  timestamps per series, ``# EOF``) into a samples frame
  (:mod:`specanalysis.frames`), with names normalised through the catalogue.
* :func:`format_exposition` renders one scrape as text format 0.0.4
  (``/metrics`` snapshots).
* :func:`write_openmetrics` writes a file that
  ``promtool tsdb create-blocks-from openmetrics`` loads without losing a
  sample: each series sorted by time and de-duplicated, seconds with
  millisecond precision, families not interleaved, histogram points grouped
  per timestamp, final ``# EOF``.

Examples
--------
>>> from specanalysis.io.exposition import parse_exposition, format_exposition
>>> text = '''# TYPE speculation_rollback_total counter
... speculation_rollback_total{reason="timeout"} 3 1735689600000
... speculation_rollback_total{reason="proof_invalid"} 1 1735689600000
... '''
>>> df = parse_exposition(text)
>>> df.columns
['timestamp', 'metric', 'value', 'reason']
>>> df["value"].to_list()
[3.0, 1.0]
>>> print(format_exposition(df), end="")
# TYPE speculation_rollback_total counter
speculation_rollback_total{reason="proof_invalid"} 1.0
speculation_rollback_total{reason="timeout"} 3.0
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Literal

import polars as pl

from specanalysis._time import MAX_MS, MIN_MS, TimeLike, to_ms
from specanalysis.catalogue import _format_le, lookup, metric_types, normalize_samples
from specanalysis.errors import DataError, ParseError
from specanalysis.frames import (
    SAMPLES_CORE,
    TIMESTAMP,
    label_columns,
    validate_samples,
)
from specanalysis.limits import LIMITS, check_limit, read_file

__all__ = [
    "parse_exposition",
    "read_exposition",
    "format_exposition",
    "write_openmetrics",
    "DuplicateSamplesWarning",
    "TimestampUnitWarning",
]

Format = Literal["prometheus", "openmetrics"]

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LNAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
_LVAL = r'"(?:[^"\\]|\\.)*"'
_PAIR = rf"{_LNAME}[ \t]*=[ \t]*{_LVAL}"
_LABELS = rf"[ \t]*(?:{_PAIR}(?:[ \t]*,[ \t]*{_PAIR})*[ \t]*,?[ \t]*)?"
# One sample line (already stripped): name, optional {labels}, value, optional
# timestamp, optional exemplar.  Tokens are captured loosely and validated one
# by one afterwards, so an error can say which token is wrong.
_SAMPLE = (
    rf"^(?<name>[^ \t{{]+)(?:[ \t]*\{{(?<body>{_LABELS})\}}[ \t]*|[ \t]+)"
    r"(?<value>[^ \t]+)(?:[ \t]+(?<ts>[^ \t#][^ \t]*))?(?:[ \t]+(?<exemplar>#.*))?$"
)
_VALUE = (
    r"^[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
    r"|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN])$"
)
_TS_MS = r"^-?[0-9]+$"
_TS_S = r"^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_TYPES = ("counter", "gauge", "histogram", "summary", "untyped", "unknown", "info",
          "stateset", "gaugehistogram")
_TYPE_LINE = rf"^#[ \t]+TYPE[ \t]+{_NAME}[ \t]+(?:{'|'.join(_TYPES)})$"
_HELP_LINE = rf"^#[ \t]+HELP[ \t]+{_NAME}(?:[ \t].*)?$"
_UNIT_LINE = rf"^#[ \t]+UNIT[ \t]+{_NAME}(?:[ \t][a-zA-Z0-9_:]*)?$"
# instants a datetime can hold (year 1 .. 9999); polars panics showing others
_MIN_MS, _MAX_MS = MIN_MS, MAX_MS


class DuplicateSamplesWarning(UserWarning):
    """A writer removed samples that repeated a series and timestamp (it says how many)."""


class TimestampUnitWarning(UserWarning):
    """Timestamps look like the wrong unit (seconds read as ms, or ms read as seconds)."""


# --------------------------------------------------------------------------- parse


def parse_exposition(
    text: str | bytes,
    *,
    timestamp: TimeLike | None = None,
    source: str | None = None,
    format: str | None = None,
    normalize: bool = True,
    max_line_length: int | None = None,
    max_bytes: int | None = None,
) -> pl.DataFrame:
    """Parse Prometheus text format 0.0.4 or OpenMetrics 1.0 into a samples frame.

    Parameters
    ----------
    text
        The exposition text (``str``, or UTF-8 ``bytes``).
    timestamp
        Time of samples that carry no timestamp of their own (a ``/metrics``
        snapshot): tz-aware datetime, RFC 3339 string or unix seconds. Samples
        with a timestamp keep theirs. When a sample has no timestamp and
        ``timestamp`` is None, a :class:`~specanalysis.errors.ParseError` names
        its line: the time of a scrape is never guessed.
    source
        Name of the input (a path or URL) used in error messages.
    format
        ``"prometheus"`` (text 0.0.4: timestamps are integer milliseconds),
        ``"openmetrics"`` (timestamps are seconds, ``# EOF`` required), a
        content type such as ``"application/openmetrics-text; version=1.0.0"``
        or ``"text/plain; version=0.0.4"``, or None to detect: a ``# EOF`` or
        ``# UNIT`` line means OpenMetrics, anything else text 0.0.4.
    normalize
        Rename aliases to canonical names and convert their units
        (:func:`specanalysis.catalogue.normalize_samples`). Unknown metrics are
        kept as they are.

    Returns
    -------
    polars.DataFrame
        A samples frame in input order: ``timestamp`` Datetime(ms, UTC),
        ``metric``, ``value`` (``NaN``/``+Inf``/``-Inf`` kept), then one String
        column per label name, sorted, null where a sample lacks the label.
        ``le`` values that are numbers are rewritten in canonical float form
        (``"1"`` becomes ``"1.0"``), as Prometheus 3 does.

    Raises
    ------
    ParseError
        For the first malformed line, with ``source``, the 1-based ``line``
        and what was expected there. Nothing is skipped silently: comment,
        ``HELP``/``TYPE``/``UNIT`` and blank lines are the only lines that do
        not become rows.

    Notes
    -----
    * OpenMetrics timestamps are rounded to the nearest millisecond.
    * Exemplars (``... # {trace_id="x"} 0.5 1700000000``) are stripped: they
      are not samples of the series.
    * ``_created`` samples are kept as rows of their own (as promtool does).
    * Label escapes ``\\\\``, ``\\"`` and ``\\n`` are decoded; any other escape is
      an error. Blank lines are accepted in both formats.
    * Label names ``timestamp``, ``metric`` and ``value`` would collide with the
      samples frame's columns and are refused.
    * A :class:`TimestampUnitWarning` is issued when text 0.0.4 timestamps look
      like seconds (before 1973 as milliseconds) or OpenMetrics ones look like
      milliseconds (after year 5000 as seconds).

    Examples
    --------
    >>> text = '''# TYPE speculation_proof_generation_duration_ms histogram
    ... speculation_proof_generation_duration_ms_bucket{le="500"} 3
    ... speculation_proof_generation_duration_ms_bucket{le="+Inf"} 4
    ... speculation_proof_generation_duration_ms_sum 1250
    ... speculation_proof_generation_duration_ms_count 4
    ... '''
    >>> df = parse_exposition(text, timestamp="2025-01-01T00:00:00Z")
    >>> df.select("metric", "value", "le").rows()  # ms alias -> seconds
    [('speculation_proof_generation_seconds_bucket', 3.0, '0.5'),
     ('speculation_proof_generation_seconds_bucket', 4.0, '+Inf'),
     ('speculation_proof_generation_seconds_sum', 1.25, None),
     ('speculation_proof_generation_seconds_count', 4.0, None)]
    >>> om = 'up{job="a"} 1 1735689600.25\\n# EOF\\n'
    >>> parse_exposition(om)["timestamp"].to_list()
    [datetime.datetime(2025, 1, 1, 0, 0, 0, 250000, tzinfo=zoneinfo.ZoneInfo(key='UTC'))]
    """
    size_cap = LIMITS.max_file_bytes if max_bytes is None else max_bytes
    if isinstance(text, bytes | bytearray | memoryview | str):
        check_limit("max_file_bytes", len(text), f"the input has {len(text):,} "
                    f"{'characters' if isinstance(text, str) else 'bytes'}",
                    limit=size_cap, source=source)
    if isinstance(text, bytes | bytearray | memoryview):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(
                f"not UTF-8 (byte {exc.start})", source=source,
                expected="UTF-8 exposition text",
            ) from None
    if not isinstance(text, str):
        raise ParseError(f"got {type(text).__name__}", source=source,
                         expected="exposition text as str or bytes")
    default_ms = None if timestamp is None else to_ms(timestamp, field="timestamp")

    lines = (
        pl.Series("raw", [text], pl.String)
        .str.split("\n")
        .explode()
        .to_frame()
        .with_row_index("line", offset=1)
        .with_columns(pl.col("raw").str.strip_chars(" \t\r").alias("s"))
        .drop("raw")
    )
    n_bytes = pl.col("s").str.len_bytes()
    longest = lines.select(n_bytes.arg_max().alias("i"), n_bytes.max().alias("n")).row(0)
    if longest[1] is not None:
        check_limit("max_line_length", longest[1],
                    f"the line has {longest[1]:,} bytes", limit=max_line_length,
                    source=source, line=longest[0] + 1)
    fmt = _detect_format(lines, format, source)
    is_comment = pl.col("s").str.starts_with("#")
    comments = lines.filter(is_comment)
    # Every check collects its first failing line; the earliest one is raised.
    errs: list[ParseError] = []
    _check_comments(comments, fmt, source, errs)
    if fmt == "openmetrics":
        _check_eof(lines, comments, source, errs)
    samples = lines.filter(~is_comment & (pl.col("s") != ""))
    return _parse_samples(samples, fmt, default_ms, source, normalize, errs)


def read_exposition(
    path: str | PathLike[str],
    *,
    timestamp: TimeLike | None = None,
    format: str | None = None,
    normalize: bool = True,
    max_line_length: int | None = None,
    max_bytes: int | None = None,
) -> pl.DataFrame:
    """Read an exposition or OpenMetrics file into a samples frame.

    See :func:`parse_exposition` for the parameters; errors name ``path``.
    A file ending in ``.om`` or ``.openmetrics`` is read as OpenMetrics unless
    ``format`` says otherwise.

    Raises
    ------
    DataError
        When the file does not exist, cannot be read or is not a regular
        file (a FIFO, a device: never read).
    LimitError
        When the file or a line is over its limit (:mod:`specanalysis.limits`).
    ParseError
        For the first malformed line.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.om"
    >>> _ = p.write_text('speculation_active_tasks 7 1735689600\\n# EOF\\n')
    >>> read_exposition(p)["value"].to_list()
    [7.0]
    """
    path = Path(path)
    data = read_file(path, what="a readable exposition (text 0.0.4 or OpenMetrics) file",
                     max_bytes=max_bytes)
    if format is None and path.suffix.lower() in (".om", ".openmetrics"):
        format = "openmetrics"
    return parse_exposition(data, timestamp=timestamp, source=str(path),
                            format=format, normalize=normalize,
                            max_line_length=max_line_length, max_bytes=max_bytes)


def _detect_format(lines: pl.DataFrame, format: str | None, source: str | None) -> Format:
    if format is not None and format != "auto":
        f = format.lower()
        if "openmetrics" in f:
            return "openmetrics"
        if f in ("prometheus", "text", "0.0.4") or f.startswith("text/plain"):
            return "prometheus"
        raise ParseError(
            f"unknown exposition format {format!r}", source=source, field="format",
            expected="'prometheus', 'openmetrics', a content type or None",
        )
    s = pl.col("s")
    hit = lines.select(
        ((s == "# EOF") | s.str.contains(r"^#[ \t]+UNIT[ \t]")).any()
    ).item()
    return "openmetrics" if hit else "prometheus"


def _first_line(frame: pl.DataFrame, mask: pl.Expr) -> tuple[int, str] | None:
    bad = frame.filter(mask).head(1)
    if bad.height == 0:
        return None
    return bad["line"][0], bad["s"][0]


def _check_comments(
    comments: pl.DataFrame, fmt: Format, source: str | None, errs: list[ParseError]
) -> None:
    s = pl.col("s")
    checks = [
        (s.str.contains(r"^#[ \t]+TYPE([ \t]|$)") & ~s.str.contains(_TYPE_LINE),
         "malformed TYPE line",
         "'# TYPE <metric name> <" + "|".join(_TYPES) + ">'"),
        (s.str.contains(r"^#[ \t]+HELP([ \t]|$)") & ~s.str.contains(_HELP_LINE),
         "malformed HELP line", "'# HELP <metric name> <text>'"),
        (s.str.contains(r"^#[ \t]+UNIT([ \t]|$)") & ~s.str.contains(_UNIT_LINE),
         "malformed UNIT line", "'# UNIT <metric name> <unit>'"),
    ]
    if fmt == "openmetrics":
        checks.append((
            ~s.str.contains(r"^#[ \t]+(?:TYPE|HELP|UNIT)[ \t]") & (s != "# EOF"),
            "OpenMetrics allows no free-form comments",
            "'# TYPE', '# HELP', '# UNIT' or '# EOF'",
        ))
    for mask, msg, expected in checks:
        hit = _first_line(comments, mask)
        if hit is not None:
            errs.append(ParseError(f"{msg}: {_clip(hit[1])!r}", source=source, line=hit[0],
                             expected=expected))


def _check_eof(
    lines: pl.DataFrame, comments: pl.DataFrame, source: str | None,
    errs: list[ParseError],
) -> None:
    eof = comments.filter(pl.col("s") == "# EOF")["line"]
    if eof.len() == 0:
        last = lines.filter(pl.col("s") != "")["line"].max()
        errs.append(ParseError(
            "OpenMetrics text does not end with '# EOF' (truncated?)", source=source,
            line=(last or 0) + 1, expected="a final '# EOF' line",
        ))
        return
    first_eof = eof.min()
    hit = _first_line(lines, (pl.col("line") > first_eof) & (pl.col("s") != ""))
    if hit is not None:
        errs.append(ParseError(f"text after '# EOF': {_clip(hit[1])!r}", source=source,
                         line=hit[0], expected="nothing after '# EOF'"))


def _clip(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def _parse_samples(
    lines: pl.DataFrame,
    fmt: Format,
    default_ms: int | None,
    source: str | None,
    normalize: bool,
    errs: list[ParseError],
) -> pl.DataFrame:
    parts = lines.select(
        "line", "s", pl.col("s").str.extract_groups(_SAMPLE).alias("g")
    ).unnest("g")
    hit = _first_line(parts, pl.col("value").is_null())
    if hit is not None:
        errs.append(ParseError(_diagnose(hit[1]), source=source, line=hit[0],
                         expected=_EXPECT_LINE))

    name, value, ts = pl.col("name"), pl.col("value"), pl.col("ts")
    ts_re = _TS_S if fmt == "openmetrics" else _TS_MS
    ts_expect = (
        "a timestamp in seconds (OpenMetrics), e.g. 1704067215.25"
        if fmt == "openmetrics"
        else "an integer timestamp in milliseconds (text format 0.0.4)"
    )
    token_checks = [
        (~name.str.contains(rf"^{_NAME}$"), "name", "bad metric name",
         "a metric name matching [a-zA-Z_:][a-zA-Z0-9_:]*"),
        (~value.str.contains(_VALUE), "value", "bad sample value",
         "a float, an integer, NaN, +Inf or -Inf"),
        (ts.is_not_null() & ~ts.str.contains(ts_re), "ts", "bad timestamp", ts_expect),
        (pl.col("exemplar").is_not_null()
         & ~pl.col("exemplar").str.contains(r"^#[ \t]*\{.*\}[ \t]+[^ \t]"),
         "exemplar", "bad exemplar", "' # {labels} value [timestamp]'"),
    ]
    for mask, col, msg, expected in token_checks:
        hit = _first_line(parts, mask)
        if hit is not None:
            bad = parts.filter(pl.col("line") == hit[0])[col][0]
            errs.append(ParseError(f"{msg} {_clip(bad)!r}", source=source, line=hit[0],
                             expected=expected))

    if fmt == "openmetrics":
        secs = ts.cast(pl.Float64, strict=False)
        ms = (secs * 1000.0).round(0)
        ms_ok = ms.is_finite() & (ms >= _MIN_MS) & (ms <= _MAX_MS)
        ms = pl.when(ms_ok).then(ms).cast(pl.Int64)
    else:
        ms = ts.cast(pl.Int64, strict=False)
        ms_ok = ms.is_not_null() & (ms >= _MIN_MS) & (ms <= _MAX_MS)
    parts = parts.with_columns(
        value.cast(pl.Float64, strict=False).alias("v"),
        pl.when(ts.is_not_null()).then(ms).alias("ms"),
        (ts.is_null() | ms_ok).alias("ms_ok"),
    )
    hit = _first_line(parts, pl.col("v").is_null())
    if hit is not None:
        errs.append(ParseError(f"bad sample value in {_clip(hit[1])!r}", source=source,
                         line=hit[0], expected="a float, NaN, +Inf or -Inf"))
    hit = _first_line(parts, ~pl.col("ms_ok"))
    if hit is not None:
        errs.append(ParseError(f"timestamp out of range in {_clip(hit[1])!r}", source=source,
                         line=hit[0], expected=ts_expect + " between years 1 and 9999"))
    if parts.select(pl.col("v").is_infinite().any()).item():
        # Go's ParseFloat (Prometheus) refuses 1e400; only Inf literals are infinite
        hit = _first_line(parts, pl.col("v").is_infinite()
                          & ~value.str.contains(r"^[+-]?(?i:inf|infinity)$"))
        if hit is not None:
            errs.append(ParseError(f"sample value out of the float64 range in "
                                   f"{_clip(hit[1])!r}", source=source, line=hit[0],
                                   expected="a float within +-1.8e308, +Inf or -Inf"))
    if default_ms is None:
        hit = _first_line(parts, pl.col("ms").is_null())
        if hit is not None:
            errs.append(ParseError(
                f"sample has no timestamp: {_clip(hit[1])!r}", source=source,
                line=hit[0],
                expected="a timestamp on every sample, or "
                "parse_exposition(..., timestamp=<time of the scrape>)",
            ))
    labels = _parse_labels(parts, source, errs)
    if errs:
        raise min(errs, key=lambda e: e.line or 0)
    _warn_units(parts, fmt, source)
    out = parts.select(
        pl.col("ms").fill_null(pl.lit(default_ms, pl.Int64)).cast(TIMESTAMP).alias("timestamp"),
        pl.col("name").alias("metric"),
        pl.col("v").alias("value"),
        pl.col("body").fill_null("").alias("#body"),
    )
    if labels is not None:
        out = out.join(labels, on="#body", how="left", maintain_order="left")
    out = validate_samples(out.drop("#body"), source=source)
    return normalize_samples(out) if normalize else out


_EXPECT_LINE = (
    "'name{label=\"value\",...} value [timestamp]', a '#' comment or a blank line"
)
_NAME_RE = re.compile(_NAME)
_LNAME_RE = re.compile(rf"[ \t]*({_LNAME})[ \t]*")
_LVAL_RE = re.compile(_LVAL)


def _diagnose(line: str) -> str:
    """Say what is wrong with one sample line that did not match (one line, for errors)."""
    m = _NAME_RE.match(line)
    if not m:
        return f"line does not start with a metric name: {_clip(line)!r}"
    rest = line[m.end():].lstrip(" \t")
    if rest.startswith("{"):
        i = 1
        while True:
            lm = _LNAME_RE.match(rest, i)
            if lm is None:
                if rest[i:].lstrip(" \t").startswith("}"):
                    break
                return f"expected a label name at {_clip(rest[i:], 30)!r}"
            i = lm.end()
            if rest[i:i + 1] != "=":
                return f"expected '=' after label name {lm.group(1)!r}"
            i += 1
            i += len(rest[i:]) - len(rest[i:].lstrip(" \t"))
            vm = _LVAL_RE.match(rest, i)
            if vm is None:
                return (f"label {lm.group(1)!r}: expected a double-quoted value "
                        "(is a quote missing or unterminated?)")
            i = vm.end()
            tail = rest[i:].lstrip(" \t")
            if tail.startswith(","):
                i = len(rest) - len(tail) + 1
                continue
            if tail.startswith("}"):
                break
            return f"expected ',' or '}}' after label {lm.group(1)!r}"
        return "expected a value after the labels"
    if rest == "":
        return f"sample {m.group(0)!r} has no value"
    if line[m.end():m.end() + 1] not in (" ", "\t"):
        return f"unexpected character {line[m.end()]!r} after the metric name"
    return f"cannot read the sample line {_clip(line)!r}"


def _warn_units(parts: pl.DataFrame, fmt: Format, source: str | None) -> None:
    ms = parts.select(pl.col("ms").drop_nulls().median()).item()
    if ms is None:
        return
    where = f"{source}: " if source else ""
    if fmt == "prometheus" and 0 < ms < 1e11:
        warnings.warn(
            f"{where}text-format timestamps are milliseconds, but these look like "
            "seconds (they fall before 1973); pass format='openmetrics' if the file "
            "uses seconds", TimestampUnitWarning, stacklevel=4,
        )
    elif fmt == "openmetrics" and ms > 1e14:
        warnings.warn(
            f"{where}OpenMetrics timestamps are seconds, but these look like "
            "milliseconds (they fall after year 5000)", TimestampUnitWarning,
            stacklevel=4,
        )


_PAIR_GROUPS = rf'^[ \t]*(?<lname>{_LNAME})[ \t]*=[ \t]*"(?<lval>(?:[^"\\]|\\.)*)"$'


def _parse_labels(
    parts: pl.DataFrame, source: str | None, errs: list[ParseError]
) -> pl.DataFrame | None:
    """Label columns for each distinct label text (parsed once per distinct series)."""
    bodies = (
        parts.lazy()
        .filter(pl.col("body").is_not_null() & (pl.col("body") != ""))
        .group_by("body")
        .agg(pl.col("line").min())
        .rename({"body": "#body"})
        .collect()
    )
    if bodies.height == 0:
        return None
    pairs = (
        bodies.with_columns(pl.col("#body").str.extract_all(_PAIR).alias("pair"))
        .explode("pair")
        .filter(pl.col("pair").is_not_null())
        .with_columns(pl.col("pair").str.extract_groups(_PAIR_GROUPS).alias("g"))
        .unnest("g")
    )
    if pairs.height == 0:  # only whitespace or a trailing comma inside the braces
        return None
    bad_escape = ~pl.col("lval").str.contains(r'^(?:[^\\]|\\[\\"n])*$')
    hit = pairs.filter(bad_escape).sort("line").head(1)
    if hit.height:
        errs.append(ParseError(
            f"label {hit['lname'][0]}: invalid escape sequence in value "
            f"{_clip(hit['lval'][0], 40)!r}", source=source, line=hit["line"][0],
            expected='only \\\\, \\" and \\n escapes in label values',
        ))
    reserved = pl.col("lname").is_in(list(SAMPLES_CORE))
    hit = pairs.filter(reserved).sort("line").head(1)
    if hit.height:
        errs.append(ParseError(
            f"label name {hit['lname'][0]!r} collides with a samples-frame column",
            source=source, line=hit["line"][0],
            expected="label names other than timestamp, metric and value",
        ))
    dup = pairs.filter(pl.struct("#body", "lname").is_duplicated()).sort("line")
    if dup.height:
        errs.append(ParseError(
            f"label {dup['lname'][0]!r} appears twice in one sample", source=source,
            line=dup["line"][0], expected="each label name at most once per sample",
        ))
    if errs:
        return None
    lval = pl.col("lval")
    pairs = pairs.with_columns(
        pl.when(lval.str.contains("\\", literal=True))
        .then(lval.str.replace_many(["\\\\", '\\"', "\\n"], ["\\", '"', "\n"]))
        .otherwise(lval)
        .alias("lval")
    )
    wide = pairs.pivot(on="lname", index="#body", values="lval",
                       aggregate_function=None)
    if "le" in wide.columns:
        wide = wide.with_columns(_canonical_le(pl.col("le")).alias("le"))
    return wide


def _canonical_le(le: pl.Expr) -> pl.Expr:
    """``le`` values that parse as floats in canonical form; anything else unchanged."""
    f = le.cast(pl.Float64, strict=False)
    return pl.when(f.is_not_null() & ~f.is_nan()).then(_format_le(f)).otherwise(le)


# --------------------------------------------------------------------------- write

_HISTO = ("_bucket", "_sum", "_count")


def _resolve_types(
    names: list[str], types: Mapping[str, str] | None, om: bool
) -> dict[str, tuple[str, str, int]]:
    """Sample name -> (family name, type, suffix rank) for every name in the frame."""
    known: dict[str, str] = {}
    for name, t in metric_types().items():
        known[name] = t
        m = lookup(name)
        if m is not None:
            for alias in m.aliases:
                known[alias] = t
    if types:
        allowed = {"counter", "gauge", "histogram", "summary", "untyped", "unknown"}
        bad = {k: v for k, v in types.items() if v not in allowed}
        if bad:
            raise DataError(
                f"unknown metric type(s) {bad}", field="types",
                expected="counter, gauge, histogram, summary or untyped",
            )
        known.update(types)
    out: dict[str, tuple[str, str, int]] = {}
    for n in names:
        fam, t, rank = n, "untyped", 0
        kind = known.get(n)
        if kind in ("counter", "gauge", "untyped", "unknown"):
            t = "untyped" if kind == "unknown" else kind
        elif kind == "summary":
            t, rank = "summary", 1
        elif n.endswith("_total") and known.get(n[:-6]) == "counter":
            t = "counter"
        else:
            for i, suffix in enumerate(_HISTO, start=1):
                base = n[: -len(suffix)]
                if n.endswith(suffix) and known.get(base) in ("histogram", "summary"):
                    if suffix == "_bucket" and known[base] == "summary":
                        continue
                    fam, t, rank = base, known[base], i
                    break
        if om:
            if t == "counter":
                if n.endswith("_total"):
                    fam = n[:-6]
                else:  # OpenMetrics counters must end in _total: keep it untyped
                    t = "untyped"
            if t == "untyped":
                t = "unknown"
        out[n] = (fam, t, rank)
    fams: dict[str, str] = {}
    for n, (fam, t, _) in out.items():
        if fams.setdefault(fam, t) != t:
            raise DataError(
                f"metric family {fam!r} would be both {fams[fam]} and {t} "
                f"(sample name {n!r})", field="metric",
                expected="one type per metric family; pass types= to resolve",
            )
    return out


def _escape(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace_many(["\\", '"', "\n"], ["\\\\", '\\"', "\\n"])


def _format_value(v: pl.Expr) -> pl.Expr:
    return (
        pl.when(v == float("inf")).then(pl.lit("+Inf"))
        .when(v == float("-inf")).then(pl.lit("-Inf"))
        .otherwise(v.cast(pl.String))
    )


def _format_seconds(ms: pl.Expr) -> pl.Expr:
    """Milliseconds as seconds text that promtool reads back to the same ms.

    promtool computes ``int64(parseFloat(text) * 1000)`` (truncation), which for
    about 1 % of millisecond values (none between 2020 and 2030) lands one
    millisecond short; for those a fourth decimal ``1`` (0.1 ms) is appended so
    truncation gives the right value. Our parser rounds, so it reads both forms
    to the same millisecond.
    """
    a = ms.abs()
    sign = pl.when(ms < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    sec = (a // 1000).cast(pl.String)
    frac3 = (a % 1000).cast(pl.String).str.zfill(3)
    short = pl.when(a % 1000 == 0).then(pl.concat_str(sign, sec)).otherwise(
        pl.concat_str(sign, sec, pl.lit("."), frac3.str.strip_chars_end("0"))
    )
    exact = (short.cast(pl.Float64) * 1000.0).cast(pl.Int64) == ms
    return pl.when(exact).then(short).otherwise(
        pl.concat_str(sign, sec, pl.lit("."), frac3, pl.lit("1"))
    )


def _render(
    samples: pl.DataFrame,
    *,
    types: Mapping[str, str] | None,
    om: bool,
    timestamps: bool,
    source: str | None,
) -> str:
    """Sorted exposition lines grouped per family, with TYPE lines, as one string."""
    labels = label_columns(samples)
    if samples.height == 0:
        return ""
    names = samples.get_column("metric").unique().sort().to_list()
    bad_names = [n for n in names if n is None or not re.fullmatch(_NAME, n)]
    if bad_names:
        raise DataError(f"metric names that cannot be written: {bad_names[:5]}",
                        source=source, field="metric",
                        expected="non-null names matching [a-zA-Z_:][a-zA-Z0-9_:]*")
    bad_labels = [c for c in labels if not re.fullmatch(_LNAME, c)]
    if bad_labels:
        raise DataError(f"label names that cannot be written: {bad_labels}",
                        source=source, field="labels",
                        expected="names matching [a-zA-Z_][a-zA-Z0-9_]*")
    resolved = _resolve_types(names, types, om)
    fam_order = {f: i for i, f in enumerate(sorted({v[0] for v in resolved.values()}))}
    fam_of = {n: v[0] for n, v in resolved.items()}
    type_of = {v[0]: v[1] for v in resolved.values()}

    metric = pl.col("metric")
    le_is_bucket = "le" in labels
    frame = samples.with_columns(
        metric.replace_strict(fam_of, return_dtype=pl.String).alias("#fam"),
        metric.replace_strict({n: fam_order[v[0]] for n, v in resolved.items()},
                              return_dtype=pl.Int64).alias("#fam_i"),
        metric.replace_strict({n: v[2] for n, v in resolved.items()},
                              return_dtype=pl.Int64).alias("#rank"),
    )
    if le_is_bucket:
        frame = frame.with_columns(_canonical_le(pl.col("le")).alias("le"))
    # Histogram/summary members (rank > 0) group per label set and timestamp,
    # buckets ordered by numeric le; any other series stays contiguous.
    group = [c for c in labels if c not in ("le", "quantile")]
    sub = [c for c in ("le", "quantile") if c in labels]
    member = pl.col("#rank") > 0
    extra = []
    for c in sub:
        f = pl.col(c).cast(pl.Float64, strict=False)
        extra += [pl.when(~member).then(f).alias(f"#g{c}_f"),
                  pl.when(~member).then(pl.col(c)).alias(f"#g{c}"),
                  pl.when(member).then(f).alias(f"#s{c}_f"),
                  pl.when(member).then(pl.col(c)).alias(f"#s{c}")]
    frame = frame.with_columns(extra)
    sort_by = ["#fam_i", *group, *[x for c in sub for x in (f"#g{c}_f", f"#g{c}")],
               "timestamp", "#rank", "metric",
               *[x for c in sub for x in (f"#s{c}_f", f"#s{c}")]]
    frame = frame.sort(sort_by, nulls_last=False, maintain_order=True)

    pair_exprs = [
        pl.when(pl.col(c).is_not_null())
        .then(pl.concat_str(pl.lit(f'{c}="'), _escape(pl.col(c)), pl.lit('"')))
        for c in labels
    ]
    body = (
        pl.concat_str(pair_exprs, separator=",", ignore_nulls=True)
        if pair_exprs else pl.lit("")
    )
    parts = [
        metric,
        pl.when(body != "").then(pl.concat_str(pl.lit("{"), body, pl.lit("}")))
        .otherwise(pl.lit("")),
        pl.lit(" "),
        _format_value(pl.col("value")),
    ]
    if timestamps:
        ms = pl.col("timestamp").dt.epoch("ms")
        parts += [pl.lit(" "), _format_seconds(ms) if om else ms.cast(pl.String)]
    blocks = (
        frame.select(pl.col("#fam"), pl.concat_str(parts).alias("#line"))
        .group_by("#fam", maintain_order=True)
        .agg(pl.col("#line").str.join("\n"))
    )
    out = []
    for fam, text in blocks.iter_rows():
        out.append(f"# TYPE {fam} {type_of[fam]}\n{text}\n")
    return "".join(out)


def format_exposition(
    samples: pl.DataFrame,
    *,
    types: Mapping[str, str] | None = None,
    timestamps: bool = False,
) -> str:
    """Render one scrape as Prometheus text format 0.0.4 (what ``/metrics`` serves).

    Parameters
    ----------
    samples
        A samples frame holding one sample per series (one scrape). With
        ``timestamps=True`` a series may have several samples; they are written
        in time order.
    types
        Metric types by name (``{"my_latency_seconds": "histogram"}``), merged
        over the catalogue's (:func:`specanalysis.catalogue.metric_types`).
        Other metrics are written as ``untyped``.
    timestamps
        Append each sample's timestamp in milliseconds.

    Returns
    -------
    str
        ``# TYPE`` line, then the samples of each family together (families
        sorted by name; a histogram's ``_bucket`` lines by ``le``, then ``_sum``
        and ``_count``, per label set), every line ending in a newline. Null
        labels are left out; ``le`` is written in canonical float form.

    Raises
    ------
    DataError
        When a series has several samples and ``timestamps`` is False, or a
        metric/label name cannot be written.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import datetime, timezone
    >>> t = datetime(2025, 1, 1, tzinfo=timezone.utc)
    >>> df = pl.DataFrame({"timestamp": [t, t, t], "metric": [
    ...     "speculation_active_tasks", "my_gauge", "my_gauge"],
    ...     "value": [4.0, float("nan"), float("inf")], "kind": [None, 'a"b', "c"]})
    >>> print(format_exposition(df), end="")
    # TYPE my_gauge untyped
    my_gauge{kind="a\\"b"} NaN
    my_gauge{kind="c"} +Inf
    # TYPE speculation_active_tasks gauge
    speculation_active_tasks 4.0
    """
    samples = validate_samples(samples)
    if not timestamps:
        key = [c for c in samples.columns if c not in ("timestamp", "value")]
        dup = samples.select(pl.struct(key).is_duplicated().sum()).item()
        if dup:
            raise DataError(
                f"{dup} samples share a series with another sample; one scrape has "
                "one sample per series", field="timestamp",
                expected="one sample per series (filter to one instant), or "
                "timestamps=True",
            )
    return _render(samples, types=types, om=False, timestamps=timestamps, source=None)


def write_openmetrics(
    samples: pl.DataFrame,
    path: str | PathLike[str],
    *,
    types: Mapping[str, str] | None = None,
    duplicates: Literal["keep-last", "raise"] = "keep-last",
) -> Path:
    """Write samples as an OpenMetrics file that promtool backfills without loss.

    ``promtool tsdb create-blocks-from openmetrics`` silently drops samples
    that go back in time or repeat a timestamp within a series, so the file
    holds each series sorted by time and de-duplicated.

    Parameters
    ----------
    samples
        A samples frame (any number of timestamps per series).
    path
        Where to write (parent directories must exist).
    types
        Metric types by name, merged over the catalogue's. Counters are
        written as family ``X`` with samples ``X_total`` (a counter sample not
        ending in ``_total`` is written as ``unknown``); unknown metrics as
        ``unknown``.
    duplicates
        Samples repeating a series and timestamp: ``"keep-last"`` keeps the
        last one in frame order and issues a :class:`DuplicateSamplesWarning`
        saying how many were removed; ``"raise"`` raises a ``DataError``.

    Returns
    -------
    pathlib.Path
        The path written.

    Notes
    -----
    Format details: timestamps in seconds with millisecond precision
    (``1704067215.25``; promtool truncates ``seconds * 1000``, so the ~1 % of
    millisecond values outside 2020-2030 that would land 1 ms short get a
    fourth decimal, ``.8791``, which both promtool and our parser read back
    to the exact millisecond), families sorted by name and never interleaved, a
    ``# TYPE`` line per family, histogram points grouped per label set and
    timestamp (buckets by ``le``, then ``_sum``, ``_count``), ``le`` in
    canonical float form, no blank lines, a final ``# EOF``. Single-timestamp
    files also pass the strict ``prometheus_client.openmetrics.parser``
    (which cannot read multi-timestamp histograms at all), unless the data
    itself breaks its rules (NaN counters, a histogram without ``+Inf``).

    Examples
    --------
    >>> import polars as pl, tempfile, pathlib
    >>> from datetime import datetime, timezone
    >>> t = [datetime(2025, 1, 1, 0, 0, s, tzinfo=timezone.utc) for s in (15, 0)]
    >>> df = pl.DataFrame({"timestamp": t, "metric": "speculation_tasks_total",
    ...                    "value": [5.0, 2.0]})
    >>> p = write_openmetrics(df, pathlib.Path(tempfile.mkdtemp()) / "f.om")
    >>> print(p.read_text(), end="")
    # TYPE speculation_tasks counter
    speculation_tasks_total 2.0 1735689600
    speculation_tasks_total 5.0 1735689615
    # EOF
    """
    path = Path(path)
    samples = validate_samples(samples, source=str(path))
    if samples.select(pl.col("timestamp").is_null().any()).item():
        raise DataError("samples without a timestamp", source=str(path),
                        field="timestamp", expected="a timestamp on every sample")
    key = [c for c in samples.columns if c != "value"]
    before = samples.height
    deduped = samples.unique(subset=key, keep="last", maintain_order=True)
    removed = before - deduped.height
    if removed:
        msg = (f"{removed} of {before} samples repeated a series and timestamp; "
               "kept the last of each")
        if duplicates == "raise":
            raise DataError(msg.split(";")[0], source=str(path), field="timestamp",
                            expected="one sample per series and timestamp")
    text = _render(deduped, types=types, om=True, timestamps=True, source=str(path))
    if removed:
        warnings.warn(f"{path}: {msg}", DuplicateSamplesWarning, stacklevel=2)
    try:
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.write("# EOF\n")
    except OSError as exc:
        raise DataError(f"cannot write the file: {exc.strerror or exc}",
                        source=str(path), expected="a writable path") from None
    return path
