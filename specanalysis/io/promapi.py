"""Read Prometheus HTTP API query responses into polars frames.

:func:`parse_query_response` turns the JSON envelope of ``/api/v1/query`` and
``/api/v1/query_range`` into a :class:`QueryResponse` holding a result frame in
the samples-frame shape (:mod:`specanalysis.frames`):

============  ========================  ===========================================
column        dtype                     meaning
============  ========================  ===========================================
timestamp     Datetime("ms", "UTC")     exact: ``round(ts * 1000)`` of the API's
                                        unix seconds (3 decimals at most)
metric        String (nullable)         the ``__name__`` label; null when the
                                        result has none (``rate(x[5m])``)
value         Float64                   ``"NaN"``, ``"+Inf"``, ``"-Inf"`` parsed
<label>...    String                    one column per result label, sorted by name
============  ========================  ===========================================

Rows are sorted by series (``metric``, then labels, nulls first) and time.
A ``scalar`` result is one row with a null ``metric``; a ``string`` result is
one row with a null ``value`` and the text in :attr:`QueryResponse.text`.

Native histograms (the ``histogram`` / ``histograms`` keys of Prometheus 3.x)
do not fit the one-float-per-row shape; their buckets go to
:attr:`QueryResponse.histograms`, one row per bucket:

============  ========================  ===========================================
column        dtype                     meaning
============  ========================  ===========================================
timestamp     Datetime("ms", "UTC")     sample time
metric        String (nullable)         ``__name__``
value         Float64                   observations in this bucket (not cumulative)
lower         Float64                   lower bucket boundary
upper         Float64                   upper bucket boundary
rule          Int8                      which boundaries are open: 0 open left,
                                        1 open right, 2 open both, 3 closed both
hist_count    Float64                   the histogram's total count
hist_sum      Float64                   the histogram's sum of observations
<label>...    String                    labels, sorted by name
============  ========================  ===========================================

A histogram without buckets (no observations) still gives one row, with null
bucket columns, so its ``hist_count``/``hist_sum`` are not lost.

The matrix path is columnar: the value arrays are cut out of the body with
byte operations, checked byte by byte with numpy (every point ``[number,
"quoted value"]`` as JSON writes it) and read by polars' CSV reader; only the
small skeleton (status, warnings, series labels) goes through :mod:`json`. It
reads any JSON layout (Prometheus' compact output, ``json.dumps``, ``jq .``,
tabs, CRLF): whitespace between tokens is deleted after a count of tokens
shows that none stood inside one. Bodies it cannot read that way (native
histograms, quoted timestamps, unquoted values, anything it cannot prove
well-formed) go through a general :mod:`json` reader that builds the same
columns and names what is wrong.

Examples
--------
>>> body = '''{"status":"success","warnings":["partial response"],
...  "data":{"resultType":"matrix","result":[
...   {"metric":{"__name__":"up","job":"api"},
...    "values":[[1704067200,"1"],[1704067215.250,"NaN"]]}]}}'''
>>> resp = parse_query_response(body)
>>> resp.result_type, resp.warnings
('matrix', ('partial response',))
>>> resp.frame
shape: (2, 4)
┌─────────────────────────────┬────────┬───────┬─────┐
│ timestamp                   ┆ metric ┆ value ┆ job │
│ ---                         ┆ ---    ┆ ---   ┆ --- │
│ datetime[ms, UTC]           ┆ str    ┆ f64   ┆ str │
╞═════════════════════════════╪════════╪═══════╪═════╡
│ 2024-01-01 00:00:00 UTC     ┆ up     ┆ 1.0   ┆ api │
│ 2024-01-01 00:00:15.250 UTC ┆ up     ┆ NaN   ┆ api │
└─────────────────────────────┴────────┴───────┴─────┘
>>> parse_query_response('{"status":"error","errorType":"bad_data",'
...                      '"error":"parse error"}', status=400)
Traceback (most recent call last):
...
specanalysis.errors.PrometheusError: [HTTP 400, bad_data] parse error
"""

from __future__ import annotations

import io
import json
import math
import re
from dataclasses import dataclass
from typing import Any

import polars as pl

from specanalysis._secrets import mask
from specanalysis._time import MAX_MS, MIN_MS
from specanalysis.errors import (
    PrometheusError,
    PrometheusTimeout,
    PrometheusUnavailable,
)
from specanalysis.frames import SAMPLES_CORE, TIMESTAMP
from specanalysis.limits import check_limit

__all__ = ["QueryResponse", "parse_query_response", "HISTOGRAM_COLUMNS"]

#: Fixed columns of :attr:`QueryResponse.histograms` (labels follow, sorted).
HISTOGRAM_COLUMNS: dict[str, pl.DataType] = {
    "timestamp": TIMESTAMP,
    "metric": pl.String(),
    "value": pl.Float64(),
    "lower": pl.Float64(),
    "upper": pl.Float64(),
    "rule": pl.Int8(),
    "hist_count": pl.Float64(),
    "hist_sum": pl.Float64(),
}

_RESULT_TYPES = ("matrix", "vector", "scalar", "string")
_ERROR_CLASSES: dict[str, type[PrometheusError]] = {
    "timeout": PrometheusTimeout,
    "unavailable": PrometheusUnavailable,
}
_VALUES_KEY = b'"values"'
# what follows the key of a values array, in any JSON layout
_VALUES_TAIL = re.compile(rb"[ \t\n\r]*:[ \t\n\r]*\[[ \t\n\r]*\[")
_VALUES_END = re.compile(rb"\][ \t\n\r]*\]")
_JSON_WS = b" \t\n\r"
_BELOW_33 = bytes(range(33))  # JSON whitespace and the control bytes JSON refuses raw
#: a byte that separates tokens (whitespace, control bytes, [ ] ,) as " ", others "a"
_TOKEN_MARKS = bytes(32 if c < 33 or c in b"[]," else 97 for c in range(256))
#: where each result type keeps its points
_POINT_KEYS = {"vector": ("value", "histogram"), "matrix": ("values", "histograms")}
_EXCERPT = 160
_MASK_WINDOW = 65536  # bytes masked before the excerpt is cut from them
_MIN_S, _MAX_S = MIN_MS / 1000, MAX_MS / 1000
_INF_TEXT = r"^[+-]?(?i:inf|infinity)$"


@dataclass(frozen=True)
class QueryResponse:
    """A parsed query / query_range answer.

    Attributes
    ----------
    frame
        The result frame (see the module docstring).
    result_type
        ``"matrix"``, ``"vector"``, ``"scalar"`` or ``"string"``.
    warnings, infos
        The server's annotations, in order (Thanos partial responses arrive as
        warnings: ignoring them means silently incomplete data).
    histograms
        Native-histogram bucket rows, or None when the result had none.
    text
        The value of a ``string`` result, else None.
    """

    frame: pl.DataFrame
    result_type: str
    warnings: tuple[str, ...] = ()
    infos: tuple[str, ...] = ()
    histograms: pl.DataFrame | None = None
    text: str | None = None


def parse_query_response(
    body: bytes | str,
    *,
    status: int | None = None,
    source: str | None = None,
) -> QueryResponse:
    """Parse the JSON body of a Prometheus ``query`` or ``query_range`` answer.

    Parameters
    ----------
    body
        The response body (bytes or str), as the server sent it.
    status
        The HTTP status code when known; it is named in errors.
    source
        Where the body came from (a URL without credentials), for errors.

    Returns
    -------
    QueryResponse
        ``.frame``, ``.result_type``, ``.warnings``, ``.infos``,
        ``.histograms``, ``.text``.

    Raises
    ------
    PrometheusError
        For an error envelope, carrying the server's ``errorType`` as
        ``error_type`` and its message (:class:`PrometheusTimeout` for
        ``timeout``, :class:`PrometheusUnavailable` for ``unavailable``); with
        ``error_type="non_json"`` and a short excerpt when the body is not JSON
        (a proxy's HTML page, a truncated body); with ``error_type="bad_response"``
        when it is JSON but not the API's envelope.

    Examples
    --------
    >>> r = parse_query_response(
    ...     b'{"status":"success","data":{"resultType":"scalar",'
    ...     b'"result":[1704067200.5,"+Inf"]}}')
    >>> r.frame.rows()
    [(datetime.datetime(2024, 1, 1, 0, 0, 0, 500000, tzinfo=zoneinfo.ZoneInfo(key='UTC')), None, inf)]
    >>> parse_query_response("<html>502 Bad Gateway</html>", status=502)
    Traceback (most recent call last):
    ...
    specanalysis.errors.PrometheusError: [HTTP 502, non_json] ... <html>502 Bad Gateway</html> ...
    """
    if isinstance(body, str):
        try:
            body = body.encode("utf-8")
        except UnicodeEncodeError:
            raise _non_json(body.encode("utf-8", "replace"), status, source,
                            "the text holds a lone surrogate") from None
    elif not isinstance(body, bytes | bytearray | memoryview):
        raise TypeError(f"body must be bytes or str, not {type(body).__name__}")
    body = bytes(body)
    check_limit("max_response_bytes", len(body), f"the answer has {len(body):,} bytes",
                source=source)
    head = body.lstrip()[:1]
    if head not in (b"{", b"["):
        raise _non_json(body, status, source, "the body is not JSON")
    fast = _parse_matrix_fast(body, status, source)
    if fast is not None:
        return fast
    return _parse_general(body, status, source)


# ---------------------------------------------------------------- errors


def _excerpt(body: bytes) -> str:
    # mask first, cut second: a secret straddling the cut must not leave half behind
    text = mask(body[:_MASK_WINDOW].decode("utf-8", errors="replace"))
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) > _EXCERPT:
        text = text[:_EXCERPT] + "..."
    return text or "<empty body>"


def _non_json(
    body: bytes, status: int | None, source: str | None, why: str
) -> PrometheusError:
    return PrometheusError(
        f"not a Prometheus API response ({why}, {len(body)} bytes): {_excerpt(body)}",
        error_type="non_json",
        status=status,
        source=source,
        expected="the API's JSON envelope",
    )


def _bad_response(
    why: str, status: int | None, source: str | None
) -> PrometheusError:
    return PrometheusError(
        f"unexpected response shape: {why}",
        error_type="bad_response",
        status=status,
        source=source,
        expected='{"status":"success","data":{"resultType":...,"result":...}}',
    )


def _check_envelope(
    doc: Any, status: int | None, source: str | None
) -> tuple[str, Any, tuple[str, ...], tuple[str, ...]]:
    """Validate the envelope; raise the server's error; return (type, result, w, i)."""
    if not isinstance(doc, dict) or "status" not in doc:
        raise _bad_response("no 'status' field", status, source)
    if doc["status"] != "success":
        error_type = doc.get("errorType") or None
        if error_type is not None and not isinstance(error_type, str):
            error_type = "bad_response"
        message = doc.get("error") or f"status {doc['status']!r} without a message"
        message = _text(message if isinstance(message, str) else repr(message))
        cls = _ERROR_CLASSES.get(str(error_type), PrometheusError)
        raise cls(message, error_type=_text(error_type), status=status, source=source)
    warnings = _annotations(doc, "warnings", status, source)
    infos = _annotations(doc, "infos", status, source)
    data = doc.get("data")
    if not isinstance(data, dict):
        raise _bad_response("no 'data' object", status, source)
    result_type = data.get("resultType")
    if result_type not in _RESULT_TYPES:
        raise _bad_response(f"resultType {result_type!r}", status, source)
    if "result" not in data:
        raise _bad_response("no 'data.result'", status, source)
    return result_type, data["result"], warnings, infos


def _text(value: Any) -> Any:
    """A str that can be printed and encoded (lone surrogates replaced)."""
    if isinstance(value, str) and not value.isascii():
        return value.encode("utf-8", "replace").decode("utf-8")
    return value


def _annotations(
    doc: dict, key: str, status: int | None, source: str | None
) -> tuple[str, ...]:
    items = doc.get(key)
    if items is None:
        return ()
    if not isinstance(items, list) or not all(isinstance(w, str) for w in items):
        raise _bad_response(f"'{key}' is not a list of strings", status, source)
    return tuple(mask(_text(w)) for w in items)


def _ts_ms(value: Any, status: int | None, source: str | None) -> int:
    """Milliseconds of an API timestamp (unix seconds as a JSON number, or a number
    in quotes as every path reads it: see :func:`_quoted_ts`), range-checked."""
    seconds = _quoted_ts(value)
    if seconds is None:
        raise _bad_response(f"timestamp {value!r} is not a number", status, source)
    if not (_MIN_S <= seconds <= _MAX_S):  # also NaN and +-Inf
        raise _bad_response(f"timestamp {value!r} is out of range", status, source)
    return round(seconds * 1000)


# --------------------------------------------------------- shared helpers


def _ts_expr(col: str) -> pl.Expr:
    return (
        (pl.col(col).cast(pl.Float64) * 1000.0)
        .round(0)
        .cast(pl.Int64)
        .cast(TIMESTAMP)
        .alias("timestamp")
    )


def _label_frame(
    metrics: list[dict[str, Any]], status: int | None, source: str | None
) -> pl.DataFrame:
    """One row per series (``sid``), ``metric`` plus one String column per label."""
    keys: set[str] = set()
    for m in metrics:
        if not isinstance(m, dict):
            raise _bad_response("a series 'metric' is not an object", status, source)
        for k, v in m.items():
            if not isinstance(v, str):
                raise _bad_response(f"label {_text(k)!r} has the value {v!r}, not a "
                                    "string", status, source)
            if not (v.isascii() and k.isascii()):
                try:
                    (k + v).encode("utf-8")
                except UnicodeEncodeError:
                    raise _bad_response(
                        f"label {_text(k)!r} holds a lone surrogate (invalid Unicode)",
                        status, source) from None
        keys.update(m)
    keys.discard("__name__")
    clash = sorted(keys & (set(SAMPLES_CORE) | {"sid"}))
    if clash:
        raise PrometheusError(
            f"result label(s) {clash} collide with the samples-frame columns",
            error_type="bad_response",
            status=status,
            source=source,
            field=clash[0],
            expected="label names other than timestamp, metric, value",
        )
    labels = sorted(keys)
    cols: dict[str, pl.Series] = {
        "sid": pl.Series("sid", range(len(metrics)), dtype=pl.UInt32),
        "metric": pl.Series(
            "metric", [m.get("__name__") for m in metrics], dtype=pl.String
        ),
    }
    for k in labels:
        cols[k] = pl.Series(k, [m.get(k) for m in metrics], dtype=pl.String)
    return pl.DataFrame(cols)


def _series_rank(labels: pl.DataFrame) -> tuple[list[str], pl.Series]:
    """The label columns and the sids in the frame's canonical series order
    (metric, then each label; a missing label first; ties keep sid order)."""
    label_cols = [c for c in labels.columns if c not in ("sid", "metric")]
    rank = (
        labels.with_row_index("_r")
        .sort(["metric", *label_cols], nulls_last=False, maintain_order=True)
        .get_column("_r")
    )
    return label_cols, rank


def _assemble(
    points: pl.DataFrame, labels: pl.DataFrame, *, grouped: bool | None = None
) -> pl.DataFrame:
    """Attach labels to points (sid, timestamp, value); canonical column and row order.

    ``labels`` has one row per sid, in sid order. Prometheus already sends
    series sorted and points in time order; the sort runs only when needed.
    ``grouped`` says (when the caller knows) whether the points come series by
    series in sid order, each in time order.
    """
    label_cols, rank = _series_rank(labels)
    sid = points.get_column("sid")
    d_sid = pl.col("sid").cast(pl.Int64).diff()
    if grouped is None:  # series in sid order, each in time order
        grouped = points.select(
            ((d_sid > 0) | ((d_sid == 0) & (pl.col("timestamp").diff() >= pl.duration())))
            .fill_null(True)
            .all()
        ).item()
    if grouped and not rank.equals(pl.Series("_r", range(labels.height), dtype=rank.dtype)):
        # the series only change places: move their blocks of rows (what the stable
        # sort below would do, without sorting)
        import numpy as np

        counts = np.bincount(sid.to_numpy(), minlength=labels.height)
        order = rank.to_numpy()
        moved = counts[order]
        shift = (np.cumsum(counts) - counts)[order] - (np.cumsum(moved) - moved)
        points = points[np.arange(points.height) + np.repeat(shift, moved)]
        sid = points.get_column("sid")
    elif not grouped:
        inverse = rank.arg_sort()  # sid -> position in the sorted series order
        points = points.with_columns(inverse.gather(sid).alias("_rank"))
        points = points.sort(["_rank", "timestamp"], maintain_order=True).drop("_rank")
        sid = points.get_column("sid")
    cols = [points.get_column("timestamp"), labels.get_column("metric").gather(sid),
            points.get_column("value")]
    cols += [labels.get_column(c).gather(sid) for c in label_cols]
    return pl.DataFrame(cols)


def _empty_frame() -> pl.DataFrame:
    return pl.DataFrame(schema=dict(SAMPLES_CORE))


# ------------------------------------------------- columnar matrix path


def _cut_values(body: bytes) -> tuple[list[bytes], list[tuple[int, int]]] | None:
    """Find every ``"values": [[ ... ]]`` array of ``body``, in any JSON layout.

    Returns the skeleton pieces (each array replaced by ``"values":<index>``)
    and the ``(start, end)`` offsets of each array's text between its ``[[`` and
    ``]]`` (its points without their outer brackets); None when there is none.
    The end of an array is found with byte searches (``}`` closes the series
    object, the two ``]`` before it close the array) and, when that does not
    hold, by regular expression. Nothing here is trusted: the caller parses the
    skeleton as JSON and checks every cut text byte by byte.
    """
    skeleton: list[bytes] = []
    bounds: list[tuple[int, int]] = []
    find, rfind = body.find, body.rfind
    pos = search = 0
    while True:
        i = find(_VALUES_KEY, search)
        if i < 0:
            break
        m = _VALUES_TAIL.match(body, i + len(_VALUES_KEY))
        if m is None:  # a key or text merely ending in "values"
            search = i + len(_VALUES_KEY)
            continue
        start = m.end()
        close = find(b"}", start)
        last = rfind(b"]", start, close) if close >= 0 else -1
        inner = last - 1
        while inner >= start and body[inner] in _JSON_WS:
            inner -= 1
        if last < 0 or inner < start or body[inner] != 0x5D:  # not "]<space>]"
            end = _VALUES_END.search(body, start)
            if end is None:
                return None
            inner, last = end.start(), end.end() - 1
        skeleton.append(body[pos:i])
        skeleton.append(b'"values":%d' % len(bounds))
        bounds.append((start, inner))
        pos = search = last + 1
    if not bounds:
        return None
    skeleton.append(body[pos:])
    return skeleton, bounds


def _values_text(
    body: bytes, bounds: list[tuple[int, int]]
) -> tuple[bytearray, list[int], int | None]:
    """The cut texts joined by ``],[`` with their whitespace deleted, their lengths
    and their token count.

    A token is a run of bytes that are neither JSON whitespace nor ``,`` ``[``
    ``]``: a number or a quoted value. Deleting whitespace joins two tokens when
    it stood between them (``1 2``, ``"1 2"``), so the count lets the caller
    check that it did not. The count is None when the texts hold no whitespace
    (Prometheus' compact output): they are joined as they are. The scans go
    over the body in small blocks (a fresh array of the body's size costs more
    in page faults than the scan itself).
    """
    import numpy as np

    ordered = sorted(bounds)
    lo = ordered[0][0] - 1  # a "[" precedes every text
    span = np.frombuffer(body, dtype=np.uint8, count=ordered[-1][1] - lo, offset=lo)
    gaps = [body[e:s] for (_, e), (s, _) in zip(ordered, ordered[1:], strict=False)]
    tokens = None
    if np.count_nonzero(span[1:min(ordered[0][1] - lo, 4096)] < 33):
        # a spaced layout (whitespace early in the first text): one pass for both
        below, tokens = (int(x) for x in _blocks(span, _spaces_and_tokens))
    else:
        below = int(_blocks(span, _spaces))
    gaps_below = sum(len(g) - len(g.translate(None, _BELOW_33)) for g in gaps)
    if below == gaps_below:
        view = memoryview(body)  # no whitespace (or control byte) in any text
        return (bytearray(b"],[").join([view[s:e] for s, e in bounds]),
                [e - s for s, e in bounds], None)
    if tokens is None:
        tokens = int(_blocks(span, _token_starts))
    tokens -= b" ".join(gaps).translate(_TOKEN_MARKS).count(b" a")  # ("]...[" each)
    texts = [body[s:e].translate(None, _JSON_WS) for s, e in bounds]
    lengths = [len(t) for t in texts]
    if below - gaps_below != sum(e - s for s, e in bounds) - sum(lengths):
        tokens = -1  # a control byte in a text: not JSON (the caller refuses the count)
    return bytearray(b"],[").join(texts), lengths, tokens


def _blocks(span: Any, scan: Any, size: int = 1 << 18) -> Any:
    """Sum of ``scan(block, scratch, scratch)`` over ``span`` in blocks of ``size``
    bytes, each block starting one byte early (``span[0]`` is not scanned on its own).
    """
    import numpy as np

    one, two = np.empty(size + 1, dtype=bool), np.empty(size + 1, dtype=bool)
    total = 0
    for start in range(1, span.size, size):
        block = span[start - 1:start + size]
        total += scan(block, one[:block.size], two[:block.size])
    return total


def _spaces(block: Any, other: Any, tmp: Any) -> int:
    """Bytes below 33 (whitespace, control bytes) in ``block[1:]``."""
    import numpy as np

    return np.count_nonzero(np.less(block[1:], 33, out=other[1:]))


def _token_starts(block: Any, other: Any, tmp: Any, *, spaces: bool = False) -> Any:
    """Tokens starting in ``block[1:]`` (``block[0]`` is the byte before); with
    ``spaces`` also the bytes below 33 there, as an array (spaces, tokens)."""
    import numpy as np

    np.less(block, 33, out=other)  # True where a byte is not part of a token
    below = np.count_nonzero(other[1:]) if spaces else 0
    for byte in (44, 91, 93):
        np.logical_or(other, np.equal(block, byte, out=tmp), out=other)
    tokens = np.count_nonzero(np.greater(other[:-1], other[1:], out=tmp[:-1]))
    return np.array([below, tokens], dtype=np.int64) if spaces else tokens


def _spaces_and_tokens(block: Any, other: Any, tmp: Any) -> Any:
    return _token_starts(block, other, tmp, spaces=True)


def _positions(a: Any, size: int = 1 << 18) -> tuple[Any, Any, int, int]:
    """Positions of every ``"`` and ``.`` in ``a`` and the numbers of ``[`` and ``]``,
    scanned in blocks (no scratch array of ``a``'s size)."""
    import numpy as np

    quotes: list = []
    dots: list = []
    opens = closes = 0
    mask = np.empty(min(size, a.size), dtype=bool)
    for start in range(0, a.size, size):
        block = a[start:start + size]
        m = mask[:block.size]
        quotes.append(np.flatnonzero(np.equal(block, 34, out=m)) + start)
        dots.append(np.flatnonzero(np.equal(block, 46, out=m)) + start)
        opens += int(np.count_nonzero(np.equal(block, 91, out=m)))
        closes += int(np.count_nonzero(np.equal(block, 93, out=m)))
    return np.concatenate(quotes), np.concatenate(dots), opens, closes


def _read_points(
    body: bytes, bounds: list[tuple[int, int]]
) -> tuple[Any, pl.DataFrame] | None:
    """Read the cut ``values`` texts into (points per text, frame of ``t``, ``value``).

    None when the texts are not exactly ``[number, "number"]`` points as JSON
    writes them (the general path then names what is wrong). Prometheus'
    compact output is read as it is; any other layout has its whitespace
    deleted first, after checking that none of it sat inside a token.
    """
    import numpy as np

    if any(e <= s for s, e in bounds):
        return None  # an empty point "[[]]"
    buf, lengths, tokens = _values_text(body, bounds)
    a = np.frombuffer(buf, dtype=np.uint8)
    n = a.size
    if not all(lengths) or a[-1] != 34:
        return None  # a value that is not a quoted string
    # every point is 'T,"V"' (T a number, V without quotes) and every "[" but an
    # array's first follows the '"],' that ends the point before
    quotes, dots, n_open, n_close = _positions(a)
    rows = quotes.size // 2
    if quotes.size % 2 or n_open != rows - 1 or n_close != rows - 1:
        return None
    if tokens is not None and tokens != 2 * rows:
        return None  # whitespace inside a number or a quoted value
    ends, opening = quotes[1::2], quotes[0::2]  # the quotes around each V
    opens = ends[:-1] + 3
    if not (ends[-1] == n - 1 and opening[0] > 0 and (ends - opening > 1).all()
            and (a[opening - 1] == 44).all() and (a[opens] == 91).all()
            and (a[opens - 1] == 44).all() and (a[opens - 2] == 93).all()):
        return None
    # timestamps are JSON numbers: no "+", ".5", "01", "-.5", "1." (quoted ones go
    # to the general path); a point is at least 'T,"x"', so starts + 2 < n
    first = a[opens + 1]
    odd = np.flatnonzero((first < 49) | (first > 57)) + 1  # rows not starting 1-9
    if a[0] < 49 or a[0] > 57:
        odd = np.concatenate([[0], odd])
    if odd.size:
        starts = np.concatenate([[0], opens + 1])[odd]
        c1, c2, c3 = a[starts], a[starts + 1], a[starts + 2]
        d2, d3 = (c2 >= 48) & (c2 <= 57), (c3 >= 48) & (c3 <= 57)
        if not (((c1 == 48) & ~d2) | ((c1 == 45) & d2 & ((c2 != 48) | ~d3))).all():
            return None
    after = a[dots + 1]  # a[-1] is a quote, so dots + 1 < n
    if not ((after >= 48) & (after <= 57)).all():
        return None  # "1." or "1.e5"
    # every "],[" becomes a line break and two zeros before the next timestamp
    # (the same number: the grammar checked above has no leading zeros)
    a[opens - 2] = 10
    a[opens - 1] = 48
    a[opens] = 48
    try:
        raw = pl.read_csv(
            io.BytesIO(buf),
            has_header=False,
            new_columns=["t", "value"],
            schema={"t": pl.Float64, "value": pl.Float64},
            quote_char='"',
        )
    except (Exception, pl.exceptions.PanicException):  # noqa: BLE001
        return None  # anything odd: the general path names it
    if raw.height != rows or raw.get_column("t").null_count() or raw.get_column(
            "value").null_count():
        return None
    t, value = raw.get_column("t").to_numpy(), raw.get_column("value").to_numpy()
    if not (t.min() >= _MIN_S and t.max() <= _MAX_S):
        return None  # a timestamp out of range (or NaN, Inf): the general path
    inf = np.isinf(value)
    if inf.any():
        # "+Inf" is a value; "1e400" overflows (Prometheus refuses it): its last
        # character is a digit, that of every spelling of Inf a letter
        last = a[ends[inf] - 1]  # (not among the bytes changed above)
        if ((last >= 48) & (last <= 57)).any():
            return None
    size = np.asarray(lengths, dtype=np.int64) + 3
    offsets = np.cumsum(size) - size
    counts = (np.searchsorted(opens, offsets + size - 3)
              - np.searchsorted(opens, offsets) + 1)
    return counts, raw


def _parse_matrix_fast(
    body: bytes, status: int | None, source: str | None
) -> QueryResponse | None:
    """Fast path for matrix answers in any JSON layout; None when it does not apply.

    Each ``"values":[[...]]`` array is cut out and replaced by its index in the
    body, so :mod:`json` only parses a small skeleton; the arrays are checked
    and read by polars' CSV reader (:func:`_read_points`).
    """
    cut = _cut_values(body)
    if cut is None:
        return None
    skeleton, bounds = cut
    try:
        doc = json.loads(b"".join(skeleton))
    except (ValueError, RecursionError):
        return None
    del skeleton, cut
    result_type, result, warnings, infos = _check_envelope(doc, status, source)
    if result_type != "matrix" or not isinstance(result, list):
        return None
    # every cut must belong to exactly one series, in order
    index = []
    for s in result:
        if not isinstance(s, dict):
            return None
        v = s.get("values")
        if "histograms" in s or "value" in s or "histogram" in s:
            return None  # native histograms, or a key the general path refuses
        if isinstance(v, int) and not isinstance(v, bool):
            index.append(v)
        elif v != []:
            return None
    if index != list(range(len(bounds))):
        return None
    import numpy as np

    labels = _label_frame([s.get("metric", {}) for s in result], status, source)
    label_cols, rank = _series_rank(labels)
    order = rank.to_numpy()
    # the series' texts are read in the frame's order, so no row moves afterwards
    ranked = [k for k in order if isinstance(result[k].get("values"), int)]
    points = _read_points(body, [bounds[result[k]["values"]] for k in ranked])
    if points is None:
        return None
    counts, raw = points
    row_sid = np.repeat(np.asarray(ranked, dtype=np.uint32), counts)
    timestamp = raw.select(_ts_expr("t")).to_series()
    # each series in time order? (times may fall only where a series starts)
    falls = np.flatnonzero(np.diff(raw.get_column("t").to_numpy()) < 0)
    if not np.isin(falls, np.cumsum(counts) - 1).all():
        points = pl.DataFrame([pl.Series("sid", row_sid), timestamp,
                               raw.get_column("value")])
        return QueryResponse(_assemble(points, labels, grouped=False), result_type,
                             warnings, infos)
    named = labels.select(pl.exclude("sid").gather(pl.Series(row_sid)))  # one pass
    cols = [timestamp, named.get_column("metric"), raw.get_column("value")]
    cols += [named.get_column(c) for c in label_cols]
    return QueryResponse(pl.DataFrame(cols), result_type, warnings, infos)


# ------------------------------------------------------- general path


def _float(text: Any, what: str, status: int | None, source: str | None) -> float:
    if isinstance(text, bool):
        raise _bad_response(f"{what} {text!r} is not a number", status, source)
    try:
        value = float(text)
    except (TypeError, ValueError, OverflowError):
        raise _bad_response(f"{what} {text!r} is not a number", status, source) from None
    if math.isinf(value) and not (isinstance(text, str)
                                  and re.match(_INF_TEXT, text.strip())):
        raise _bad_response(f"{what} {text!r} is out of the float64 range", status, source)
    return value


def _value(text: Any, status: int | None, source: str | None) -> float:
    return _float(text, "sample value", status, source)


def _parse_general(
    body: bytes, status: int | None, source: str | None
) -> QueryResponse:
    try:
        doc = json.loads(body)
    except RecursionError:
        raise _non_json(body, status, source, "JSON nested too deeply") from None
    except ValueError as exc:
        raise _non_json(body, status, source, f"invalid JSON: {exc}") from None
    result_type, result, warnings, infos = _check_envelope(doc, status, source)

    if result_type in ("scalar", "string"):
        if not isinstance(result, list) or len(result) != 2:
            raise _bad_response(f"{result_type} result {result!r}", status, source)
        ts = _ts_ms(result[0], status, source)
        text = None
        if result_type == "scalar":
            value: float | None = _value(result[1], status, source)
        else:
            if not isinstance(result[1], str):
                raise _bad_response(f"string result {result[1]!r} is not a string",
                                    status, source)
            value, text = None, _text(result[1])
        frame = pl.DataFrame(
            {"timestamp": [ts], "metric": [None], "value": [value]},
            schema={"timestamp": pl.Int64, "metric": pl.String, "value": pl.Float64},
        ).with_columns(pl.col("timestamp").cast(TIMESTAMP))
        return QueryResponse(frame, result_type, warnings, infos, None, text)

    if not isinstance(result, list):
        raise _bad_response(f"{result_type} result is not a list", status, source)
    metrics: list[dict[str, Any]] = []
    sid_col: list[int] = []
    ts_col: list[Any] = []
    val_col: list[Any] = []
    hist_rows: list[tuple] = []
    for sid, series in enumerate(result):
        if not isinstance(series, dict):
            raise _bad_response("a series is not an object", status, source)
        metrics.append(series.get("metric") or {})
        # points under the other result type's key would be dropped unread
        wrong = _POINT_KEYS["matrix" if result_type == "vector" else "vector"]
        if any(k in series for k in wrong):
            raise _bad_response(
                f"a {result_type} series holds "
                f"'{next(k for k in wrong if k in series)}' (expected "
                f"{' or '.join(repr(k) for k in _POINT_KEYS[result_type])})",
                status, source)
        if result_type == "vector":
            if "value" not in series and "histogram" not in series:
                raise _bad_response("a vector sample has neither 'value' nor "
                                    "'histogram'", status, source)
            floats = [series["value"]] if "value" in series else []
            hists = [series["histogram"]] if "histogram" in series else []
        else:
            floats = series.get("values") or []
            hists = series.get("histograms") or []
        try:
            ts, vs = zip(*floats, strict=True) if floats else ((), ())
        except (TypeError, ValueError):
            raise _bad_response("a point is not a [time, value] pair", status, source) from None
        sid_col.extend([sid] * len(ts))
        ts_col.extend(ts)
        val_col.extend(vs)
        for point in hists:
            hist_rows.extend(_histogram_rows(sid, point, status, source))
    if not metrics:
        return QueryResponse(_empty_frame(), result_type, warnings, infos)
    labels = _label_frame(metrics, status, source)
    points = _points_frame(sid_col, ts_col, val_col, status, source)
    frame = _assemble(points, labels)
    histograms = None
    if hist_rows:
        histograms = _histogram_frame(hist_rows, labels)
    return QueryResponse(frame, result_type, warnings, infos, histograms)


def _quoted_ts(t: Any) -> float | None:
    """A timestamp as the fast path reads it: a number, or a number in quotes."""
    if isinstance(t, bool):
        return None
    if isinstance(t, int | float):
        return t
    if isinstance(t, str) and not t.strip().lower().lstrip("+-").startswith(("inf", "nan")):
        try:
            return float(t)
        except ValueError:
            return None
    return None


def _points_frame(
    sids: list[int], ts: list[Any], vs: list[Any], status: int | None, source: str | None
) -> pl.DataFrame:
    try:
        v_series = pl.Series(vs, dtype=pl.String)
    except (TypeError, ValueError, pl.exceptions.PolarsError):
        v_series = pl.Series([str(v) for v in vs], dtype=pl.String)
    raw = pl.DataFrame(
        {
            "sid": pl.Series(sids, dtype=pl.UInt32),
            "t": pl.Series(
                [_quoted_ts(t) for t in ts]
                if any(not isinstance(t, int | float) or isinstance(t, bool) for t in ts)
                else ts,
                dtype=pl.Float64,
                strict=False,
            ),
            "v": v_series,
        }
    )
    t = pl.col("t")
    value = pl.col("v").cast(pl.Float64, strict=False)
    points = raw.select(
        "sid",
        pl.when((t >= _MIN_S) & (t <= _MAX_S)).then(t * 1000.0)
        .round(0)
        .cast(pl.Int64)
        .cast(TIMESTAMP)
        .alias("timestamp"),
        pl.when(value.is_infinite() & ~pl.col("v").str.strip_chars().str.contains(
            _INF_TEXT)).then(None).otherwise(value).alias("value"),
    )
    bad = points.select(
        pl.col("timestamp").is_null().arg_max().alias("t"),
        pl.col("value").is_null().arg_max().alias("v"),
        pl.col("timestamp").is_null().any().alias("tn"),
        pl.col("value").is_null().any().alias("vn"),
    ).row(0, named=True)
    if bad["tn"]:
        raise _bad_response(f"timestamp {ts[bad['t']]!r} is not a number in range",
                            status, source)
    if bad["vn"]:
        raise _bad_response(f"sample value {vs[bad['v']]!r} is not a float64 number",
                            status, source)
    return points


def _histogram_rows(
    sid: int, point: Any, status: int | None, source: str | None
) -> list[tuple]:
    if not isinstance(point, list | tuple) or len(point) != 2 or not isinstance(
        point[1], dict
    ):
        raise _bad_response("a histogram point is not [time, {...}]", status, source)
    t, h = point
    ts = _ts_ms(t, status, source)
    count = _float(h.get("count", "NaN"), "histogram count", status, source)
    total = _float(h.get("sum", "NaN"), "histogram sum", status, source)
    buckets = h.get("buckets") or []
    if not buckets:
        return [(sid, ts, None, None, None, None, count, total)]
    rows = []
    for b in buckets:
        if not isinstance(b, list | tuple) or len(b) != 4:
            raise _bad_response(
                f"histogram bucket {b!r} is not [rule, left, right, count]", status, source
            )
        if isinstance(b[0], bool) or b[0] not in (0, 1, 2, 3):
            raise _bad_response(
                f"histogram bucket rule {b[0]!r} is not 0, 1, 2 or 3", status, source)
        rows.append(
            (
                sid,
                ts,
                _float(b[3], "bucket count", status, source),
                _float(b[1], "bucket bound", status, source),
                _float(b[2], "bucket bound", status, source),
                int(b[0]),
                count,
                total,
            )
        )
    return rows


def _histogram_frame(rows: list[tuple], labels: pl.DataFrame) -> pl.DataFrame:
    raw = pl.DataFrame(
        rows,
        schema={
            "sid": pl.UInt32,
            "timestamp": pl.Int64,
            "value": pl.Float64,
            "lower": pl.Float64,
            "upper": pl.Float64,
            "rule": pl.Int8,
            "hist_count": pl.Float64,
            "hist_sum": pl.Float64,
        },
        orient="row",
    ).with_columns(pl.col("timestamp").cast(TIMESTAMP))
    label_cols = [c for c in labels.columns if c not in ("sid", "metric")]
    order = (
        labels.sort(["metric", *label_cols], nulls_last=False, maintain_order=True)
        .with_row_index("rank")
        .select("sid", "rank")
    )
    return (
        raw.with_row_index("_i")
        .join(order, on="sid", how="left")
        .sort(["rank", "timestamp", "_i"])
        .join(labels, on="sid", how="left", maintain_order="left")
        .select(*HISTOGRAM_COLUMNS, *label_cols)
    )
