"""A live query engine: any server that speaks the Prometheus HTTP API.

:class:`PrometheusSource` sends query expressions (or raw PromQL) to
Prometheus, Thanos, Mimir/Cortex or VictoriaMetrics and returns the result
frame of :mod:`specanalysis.io.promapi` -- the same frame
:class:`~specanalysis.sources.offline.OfflineSource` returns for the same data.

What it does that ``prometheus_api_client.custom_query_range`` does not:

* **Exact chunking.** A range longer than the server's resolution limit is
  split into requests of at most ``max_points`` steps each, all on one global
  grid ``start + k*step``; the next request starts one step after the previous
  end, so no step is duplicated or lost.
* **Annotations kept.** ``warnings`` and ``infos`` (Thanos partial responses
  are warnings) are exposed as :attr:`PrometheusSource.last_warnings` /
  ``last_infos`` and on :meth:`~PrometheusSource.query_range`'s result;
  ``strict=True`` raises on warnings.
* **Retries that know what is transient.** Connection errors, HTTP 429, 502 and
  503 ``unavailable`` (or a proxy's non-JSON 503) are retried with capped,
  jittered exponential backoff within a total ``deadline``. A query that timed
  out (503 ``timeout``, 504, or no answer within ``timeout``) is never re-sent:
  it would time out again, at the server's expense.
* **Typed errors.** :class:`~specanalysis.errors.PrometheusError` with the
  API's ``errorType``; :class:`~specanalysis.errors.PrometheusTimeout`;
  :class:`~specanalysis.errors.PrometheusUnavailable` when the server cannot
  be reached.
* **Secrets stay secret.** The bearer token is sent as a header and never
  appears in ``repr``, error messages or logs; passwords in URLs are masked.

Requests are form-encoded POSTs (the query never lands in URLs or access
logs, and long expressions fit).

Examples
--------
>>> src = PrometheusSource("http://localhost:9090", token="s3cret",
...                        tenant="team-a", api_prefix="/prometheus")
>>> src
PrometheusSource('http://localhost:9090', api_prefix='/prometheus', tenant='team-a', token=***, max_points=11000)
>>> src.endpoint("query_range")
'http://localhost:9090/prometheus/api/v1/query_range'
>>> [(a // 1000, b // 1000) for a, b, _ in src.plan_range(0, 25_000, 1)]
[(0, 11000), (11001, 22001), (22002, 25000)]
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import polars as pl

from specanalysis._secrets import (
    bearer,
    get_logger,
    header_value,
    mask,
    register_secret,
)
from specanalysis._time import TimeLike, format_duration, parse_duration, to_ms
from specanalysis.errors import (
    PrometheusError,
    PrometheusTimeout,
    PrometheusUnavailable,
    QueryError,
    SpecAnalysisError,
)
from specanalysis.frames import canonical_samples, label_columns
from specanalysis.io.promapi import QueryResponse, parse_query_response
from specanalysis.limits import LIMITS, check_limit

__all__ = ["PrometheusSource", "ENV_URL", "ENV_TOKEN", "ENV_TENANT"]

log = get_logger(__name__)

ENV_URL = "SPECANALYSIS_PROMETHEUS_URL"
ENV_TOKEN = "SPECANALYSIS_PROMETHEUS_TOKEN"
ENV_TENANT = "SPECANALYSIS_PROMETHEUS_TENANT"

_TRANSIENT_STATUS = {429, 502, 503}
# time_range(): "recent" look-back, the search's first width and its precision (ms)
_RECENT_MS = 300_000
_HOUR_MS = 3_600_000
_MINUTE_MS = 60_000
_REDIRECT_STATUS = {301, 302, 303, 307, 308}
_MAX_REDIRECTS = 10
_DEFAULT_PORTS = {"http": 80, "https": 443}
# never sent to a host other than the one the user named
_ALWAYS_SECRET = ("Authorization", "Proxy-Authorization", "X-Scope-OrgID", "Cookie")
_BACKOFF_BASE = 0.25
_BACKOFF_CAP = 8.0


class _Secret:
    """Holds a credential; prints as ``***`` everywhere."""

    __slots__ = ("_value",)

    def __init__(self, value: Any) -> None:
        self._value = value

    def reveal(self) -> Any:
        return self._value

    def __repr__(self) -> str:
        return "***"

    __str__ = __repr__

    def __reduce__(self):  # never pickle a credential
        raise TypeError("credentials are not picklable")


def _display_url(url: str) -> str:
    """The URL with any password replaced by ``***``."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # unparseable: hide whatever precedes an '@'
        head, sep, tail = url.partition("//")
        if "@" in tail:
            tail = "***@" + tail.rsplit("@", 1)[1]
        return head + sep + tail
    if password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def _fmt_seconds(ms: int) -> str:
    """Unix seconds with exactly the millisecond precision we hold."""
    sec, rest = divmod(ms, 1000)
    return f"{sec}.{rest:03d}"


def _promql(expr: Any) -> str:
    if isinstance(expr, str):
        text = expr.strip()
        if not text:
            raise QueryError("empty PromQL string", field="expr",
                             expected="a query expression or PromQL text")
        return text
    promql = getattr(expr, "promql", None)
    if isinstance(promql, str):
        return promql
    raise QueryError(f"{type(expr).__name__} is not a query", field="expr",
                     expected="a specanalysis.query expression or a PromQL string")


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return (parts.scheme, (parts.hostname or "").lower(),
            parts.port or _DEFAULT_PORTS.get(parts.scheme))


def _same_origin(a: tuple, b: tuple) -> bool:
    """Same scheme, host and port; or the http -> https upgrade of one host."""
    return a == b or (a[1] == b[1] and a[0] == "http" and b[0] == "https"
                      and a[2] == 80 and b[2] == 443)


class _BodyTimeout(Exception):
    """The server sent its headers, then stalled the body beyond the timeout."""


def _retrying(adapter: Any) -> bool:
    retries = getattr(adapter, "max_retries", None)
    if retries is None:
        return False
    return any(
        getattr(retries, name, 0) not in (0, None, False)
        for name in ("total", "connect", "read", "status")
    )


class PrometheusSource:
    """Query engine over the Prometheus HTTP API (Prometheus, Thanos, Mimir, VictoriaMetrics).

    Parameters
    ----------
    url_or_client
        Base URL (``"http://prometheus:9090"``) or a
        ``prometheus_api_client.PrometheusConnect``: its URL, headers, auth and
        requests session (TLS verify/cert, proxies, cookies) are reused. Its
        retrying adapter is bypassed -- this class applies its own retry
        policy, so a query that timed out is sent once.
    headers
        Extra HTTP headers for every request (their values are never printed).
    token
        Bearer token, sent as ``Authorization: Bearer ...``.
    api_prefix
        Path before ``/api/v1`` (``"/prometheus"`` for Mimir/Cortex,
        ``"/select/0/prometheus"`` for a VictoriaMetrics cluster).
    tenant
        Sent as ``X-Scope-OrgID`` (Mimir, Cortex, Loki-style multi-tenancy).
    max_points
        Steps per range request: the server's resolution limit as it states it.
        Prometheus refuses ``(end-start)/step > 11000``, so 11000 steps
        (11,001 points) per request. VictoriaMetrics counts points
        (``-search.maxPointsPerTimeseries``, 30000 by default): pass 29999.
    timeout
        Seconds to wait for one answer (default 30, or the client's timeout).
    deadline
        Total seconds one call may spend, retries and backoff included.
    retries
        Retries of a transient failure (after the first attempt).
    strict
        Raise :class:`PrometheusError` (``error_type="warnings"``) when the
        server returns warnings (possibly partial data) instead of only
        recording them.
    session
        A ``requests.Session`` to send with (default: the client's or a new one).
    max_plan_points
        Most steps one range query may ask for in total (all requests of its
        plan); default ``specanalysis.limits.LIMITS.max_plan_points``.

    Notes
    -----
    Credentials: the token is stripped of surrounding whitespace (a token
    read from a Kubernetes secret file ends in a newline) and refused with a
    typed error that does not echo it when it holds control characters. The
    token, every header given with ``headers=`` (or by the client) and the
    tenant header are sent only to the origin of ``url``: a redirect to
    another host, port or scheme is followed without them (an http -> https
    upgrade of the same host keeps them). Redirects are followed up to 10
    times, to http(s) URLs only, re-sending the POST form.
    """

    def __init__(
        self,
        url_or_client: Any,
        *,
        headers: Mapping[str, str] | None = None,
        token: str | None = None,
        api_prefix: str = "",
        tenant: str | None = None,
        max_points: int = 11000,
        timeout: float | None = None,
        deadline: float = 60.0,
        retries: int = 4,
        strict: bool = False,
        session: Any = None,
        max_plan_points: int | None = None,
    ) -> None:
        import requests

        client_headers: dict[str, str] = {}
        self._auth = None
        if isinstance(url_or_client, str):
            base = url_or_client
        elif hasattr(url_or_client, "url") and hasattr(url_or_client, "_session"):
            client = url_or_client  # prometheus_api_client.PrometheusConnect
            base = client.url
            client_headers = dict(getattr(client, "headers", None) or {})
            self._auth = getattr(client, "auth", None)
            if session is None:
                session = client._session
            if timeout is None:
                timeout = getattr(client, "_timeout", None)
        else:
            raise SpecAnalysisError(
                f"{type(url_or_client).__name__} is not a Prometheus URL or client",
                field="url_or_client",
                expected="'http://host:9090' or a prometheus_api_client.PrometheusConnect",
            )
        if not isinstance(base, str):
            raise SpecAnalysisError(f"{type(base).__name__} is not a URL", field="url",
                                    expected="e.g. 'http://localhost:9090'")
        try:
            parts = urlsplit(base.strip())
            parts.port  # noqa: B018 - raises ValueError for a port out of range
            password = parts.password
        except ValueError as exc:
            raise SpecAnalysisError(
                f"{_display_url(base.strip())!r} is not a valid URL ({exc})", field="url",
                expected="e.g. 'http://localhost:9090' (port 1-65535)",
            ) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SpecAnalysisError(
                f"{_display_url(base)!r} is not an http(s) URL", field="url",
                expected="e.g. 'http://localhost:9090'",
            )
        register_secret(password)
        if not isinstance(max_points, int) or max_points < 1:
            raise SpecAnalysisError(f"max_points={max_points!r}", field="max_points",
                                    expected="a positive integer (11000 for Prometheus)")
        self._base = base.strip().rstrip("/")
        prefix = api_prefix.strip().strip("/")
        self.api_prefix = f"/{prefix}" if prefix else ""
        self.tenant = (header_value("X-Scope-OrgID", tenant, field="tenant")
                       if tenant else None)
        self.max_points = max_points
        self.max_plan_points = max_plan_points
        self.timeout = float(timeout) if timeout is not None else 30.0
        self.deadline = float(deadline)
        self.retries = int(retries)
        self.strict = strict
        self._token = _Secret(bearer(token)) if token else None
        merged = {**client_headers, **dict(headers or {})}
        self._headers = {}
        for name, value in merged.items():
            if not isinstance(name, str) or not name.strip() or any(
                    ord(c) < 33 or ord(c) > 126 or c == ":" for c in name):
                raise SpecAnalysisError("a header name is not a token", field="headers",
                                        expected="names of printable ASCII without ':'")
            value = header_value(name, value)
            register_secret(value)
            self._headers[name] = _Secret(value)
        auth = self._auth
        if isinstance(auth, tuple) and len(auth) == 2:
            register_secret(str(auth[1]))
        self._auth = _Secret(auth) if auth is not None else None
        self._own_session = session is None
        self._session = session if session is not None else requests.Session()
        self._plain_adapter = requests.adapters.HTTPAdapter(max_retries=0)
        self.last_response: QueryResponse | None = None
        self.last_warnings: tuple[str, ...] = ()
        self.last_infos: tuple[str, ...] = ()
        self.requests_sent = 0

    # ------------------------------------------------------------ construction

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any
                 ) -> PrometheusSource:
        """Build from ``SPECANALYSIS_PROMETHEUS_URL`` / ``_TOKEN`` / ``_TENANT``.

        Keyword arguments override or extend what the environment gives.

        Examples
        --------
        >>> env = {"SPECANALYSIS_PROMETHEUS_URL": "http://prom:9090",
        ...        "SPECANALYSIS_PROMETHEUS_TOKEN": "t0ken"}
        >>> PrometheusSource.from_env(env)
        PrometheusSource('http://prom:9090', token=***, max_points=11000)
        """
        env = os.environ if environ is None else environ
        url = env.get(ENV_URL, "").strip()
        if not url:
            raise SpecAnalysisError(
                f"environment variable {ENV_URL} is not set", field=ENV_URL,
                expected="the Prometheus base URL, e.g. http://localhost:9090",
            )
        kwargs.setdefault("token", env.get(ENV_TOKEN) or None)
        kwargs.setdefault("tenant", env.get(ENV_TENANT) or None)
        return cls(url, **kwargs)

    def __repr__(self) -> str:
        parts = [repr(_display_url(self._base))]
        if self.api_prefix:
            parts.append(f"api_prefix={self.api_prefix!r}")
        if self.tenant:
            parts.append(f"tenant={self.tenant!r}")
        if self._token is not None:
            parts.append("token=***")
        if self._headers:
            parts.append(f"headers=[{', '.join(sorted(self._headers))}]")
        parts.append(f"max_points={self.max_points}")
        return f"PrometheusSource({', '.join(parts)})"

    __str__ = __repr__

    def close(self) -> None:
        """Close the session if this source created it."""
        if self._own_session:
            self._session.close()

    def __enter__(self) -> PrometheusSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        """Base URL (password masked)."""
        return _display_url(self._base)

    def endpoint(self, name: str) -> str:
        """Full URL of an API endpoint (``"query"``, ``"query_range"``)."""
        return f"{self._base}{self.api_prefix}/api/v1/{name}"

    # ---------------------------------------------------------------- queries

    def query(self, expr: Any, at: TimeLike | None = None) -> QueryResponse:
        """Instant query; the full :class:`QueryResponse` (warnings, infos, ...)."""
        form = {"query": _promql(expr)}
        if at is not None:
            form["time"] = _fmt_seconds(to_ms(at, field="at"))
        return self._finish(self._post("query", form))

    def plan_range(
        self, start: TimeLike, end: TimeLike, step: str | float
    ) -> list[tuple[int, int, int]]:
        """The requests a range query is split into: ``(first, last, step)`` in ms.

        Every request covers at most ``max_points`` steps of the one grid
        ``start + k*step``; each starts one step after the previous one ended.
        """
        start_ms = to_ms(start, field="start")
        end_ms = to_ms(end, field="end")
        step_ms = round(parse_duration(step, field="step") * 1000)
        if step_ms <= 0:
            raise QueryError(f"step {step!r} is below one millisecond", field="step",
                             expected="a step of at least 1ms")
        if end_ms < start_ms:
            raise QueryError("end is before start", field="end",
                             expected="end >= start")
        n = (end_ms - start_ms) // step_ms
        check_limit("max_plan_points", n + 1,
                    f"the range query asks for {n + 1:,} steps", field="step",
                    limit=self.max_plan_points)
        plan = []
        a = 0
        while a <= n:
            b = min(a + self.max_points, n)
            plan.append((start_ms + a * step_ms, start_ms + b * step_ms, step_ms))
            a = b + 1
        return plan

    def query_range(
        self, expr: Any, start: TimeLike, end: TimeLike, step: str | float
    ) -> QueryResponse:
        """Range query, chunked as :meth:`plan_range` says; one merged response."""
        promql = _promql(expr)
        plan = self.plan_range(start, end, step)
        responses = []
        for first, last, step_ms in plan:
            form = {"query": promql, "start": _fmt_seconds(first),
                    "end": _fmt_seconds(last), "step": _fmt_seconds(step_ms)}
            responses.append(self._post("query_range", form))
        if len(responses) == 1:
            return self._finish(responses[0])
        frames = [r.frame for r in responses if r.frame.height]
        labels = sorted({c for f in frames for c in label_columns(f)})
        if frames:
            merged = canonical_samples(
                pl.concat(frames, how="diagonal_relaxed"), extra_labels=labels
            )
        else:
            merged = responses[0].frame
        hists = [r.histograms for r in responses if r.histograms is not None]
        histograms = pl.concat(hists, how="diagonal_relaxed") if hists else None
        merged_resp = QueryResponse(
            frame=merged,
            result_type="matrix",
            warnings=tuple(dict.fromkeys(w for r in responses for w in r.warnings)),
            infos=tuple(dict.fromkeys(i for r in responses for i in r.infos)),
            histograms=histograms,
        )
        return self._finish(merged_resp)

    def evaluate(self, expr: Any, at: TimeLike) -> pl.DataFrame:
        """Instant query at ``at``; the result frame (see :mod:`specanalysis.io.promapi`)."""
        return self.query(expr, at).frame

    def evaluate_range(
        self, expr: Any, start: TimeLike, end: TimeLike, step: str | float
    ) -> pl.DataFrame:
        """Range query on ``start + k*step <= end``; the result frame."""
        return self.query_range(expr, start, end, step).frame

    def time_range(self) -> tuple[datetime, datetime] | None:
        """First and last sample time of the data on the server (None without data).

        The probe is the catalogue's tasks counter (every runtime instance
        exports it). The newest sample: the raw samples of the last 5 minutes
        before now; when there are none (the data stopped, or was backfilled),
        instant queries ``count(last_over_time(<probe>[w]))`` first widen ``w``
        until it reaches data and then halve the bracket down to a minute, and
        the raw samples of that minute give the exact time. The oldest sample is
        found the same way, searching up from the Unix epoch. That is about
        ``2 x log2(span / 1 min)`` small queries (about 60 for data two years
        old; one for data scraped in the last 5 minutes), in plain PromQL only,
        so any Prometheus-API store can answer (checked on Prometheus 2.42).
        ``/api/v1/status/tsdb`` was not used: on Prometheus 2.42 it describes
        the head block only, which misses compacted and backfilled blocks.

        ``tests/integration/test_time_range.py`` checks it against a real server.
        """
        now_ms = int(time.time() * 1000)
        newest = self._newest_sample(now_ms)
        if newest is None:
            return None
        oldest = self._oldest_sample(newest)
        return _utc(oldest), _utc(newest)

    def _has_data(self, lo_ms: int, hi_ms: int) -> bool:
        """Whether the probe metric has a sample in ``(lo, hi]``."""
        from specanalysis import query as q
        from specanalysis.catalogue import TASKS

        expr = q.count(q.last_over_time(q.metric(TASKS), max(hi_ms - lo_ms, 1) / 1000))
        frame = self.evaluate(expr, hi_ms / 1000)
        return frame.height > 0 and bool((frame["value"] > 0).any())

    def _raw_times(self, lo_ms: int, hi_ms: int) -> list[int]:
        """Timestamps (ms) of the probe's raw samples in ``[lo, hi]``."""
        from specanalysis.catalogue import TASKS

        width = format_duration(max(hi_ms - lo_ms, 1) / 1000)
        frame = self.query(f"{TASKS}[{width}]", hi_ms / 1000).frame
        if frame.height == 0:
            return []
        return frame["timestamp"].dt.epoch("ms").to_list()

    def _newest_sample(self, now_ms: int) -> int | None:
        recent = self._raw_times(now_ms - _RECENT_MS, now_ms)
        if recent:
            return max(recent)
        empty_from, width = now_ms - _RECENT_MS, _HOUR_MS  # no data in (empty_from, now]
        while not self._has_data(now_ms - width, now_ms):
            if now_ms - width <= 0:
                return None
            empty_from, width = now_ms - width, width * 4
        lo = max(now_ms - width, -1)  # data in (lo, now], none in (empty_from, now]
        hi = empty_from
        while hi - lo > _MINUTE_MS:
            mid = (lo + hi) // 2
            if self._has_data(mid, now_ms):
                lo = mid
            else:
                hi = mid
        times = [t for t in self._raw_times(lo, hi) if t >= lo]
        return max(times) if times else None

    def _oldest_sample(self, newest_ms: int) -> int:
        lo, hi = -1, newest_ms  # no data in (-inf, lo]; data in (lo, hi]
        while hi - lo > _MINUTE_MS:
            mid = (lo + hi) // 2
            if self._has_data(-1, mid):
                hi = mid
            else:
                lo = mid
        times = [t for t in self._raw_times(lo, hi) if t > lo]
        return min(times) if times else newest_ms

    # -------------------------------------------------------------- transport

    def _finish(self, resp: QueryResponse) -> QueryResponse:
        self.last_response = resp
        self.last_warnings = resp.warnings
        self.last_infos = resp.infos
        if resp.warnings:
            log.warning("Prometheus %s returned %d warning(s): %s", self.url,
                        len(resp.warnings), mask("; ".join(resp.warnings))[:300])
            if self.strict:
                raise PrometheusError(
                    "the server returned warnings (the data may be partial): "
                    + "; ".join(resp.warnings),
                    error_type="warnings",
                    source=self.url,
                    expected="no warnings (strict=True)",
                )
        return resp

    def _request_headers(self) -> dict[str, str]:
        headers = {"User-Agent": "specanalysis",
                   **{k: v.reveal() for k, v in self._headers.items()}}
        if self.tenant:
            headers["X-Scope-OrgID"] = self.tenant
        if self._token is not None:
            headers["Authorization"] = self._token.reveal()
        return headers

    def _send(self, url: str, form: dict[str, str]) -> tuple[int, Any, bytes]:
        """POST ``form`` to ``url``, following redirects; ``(status, headers, body)``.

        Secrets (token, user headers, tenant, auth) go to the original origin
        only. Redirects are followed here (not by requests) so that the rule
        also holds for a ``PrometheusConnect`` session whose adapter retries.
        """
        import requests

        origin = _origin(url)
        trusted = True
        seen: set[str] = set()
        timeout = (min(self.timeout, 10.0), self.timeout)
        for _ in range(_MAX_REDIRECTS + 1):
            if trusted:
                auth = self._auth.reveal() if self._auth is not None else None
                req = requests.Request("POST", url, data=form,
                                       headers=self._request_headers(), auth=auth)
            else:
                req = requests.Request("POST", url, data=form,
                                       headers={"User-Agent": "specanalysis"})
            prep = self._session.prepare_request(req)
            if not trusted:
                for name in (*_ALWAYS_SECRET, *self._headers):
                    prep.headers.pop(name, None)
            settings = self._session.merge_environment_settings(prep.url, {}, True,
                                                                None, None)
            settings["stream"] = True
            adapter = self._session.get_adapter(prep.url)
            self.requests_sent += 1
            if _retrying(adapter):
                resp = self._plain_adapter.send(prep, timeout=timeout, **settings)
            else:
                resp = self._session.send(prep, timeout=timeout, allow_redirects=False,
                                          **settings)
            try:
                location = resp.headers.get("Location")
                if resp.status_code in _REDIRECT_STATUS and location:
                    seen.add(url)
                    url = urljoin(url, location)
                    target = _origin(url)
                    if target[0] not in ("http", "https") or not target[1]:
                        raise PrometheusError(
                            f"the server redirected to a non-HTTP URL "
                            f"({mask(_display_url(url))[:200]!r})",
                            error_type="bad_redirect",
                            status=resp.status_code, source=_display_url(prep.url),
                            expected="redirects to http(s) URLs only")
                    if url in seen:
                        raise PrometheusError(
                            "redirect loop", error_type="bad_redirect",
                            status=resp.status_code, source=_display_url(url),
                            expected="a redirect chain that ends")
                    trusted = trusted and _same_origin(origin, target)
                    continue
                return resp.status_code, resp.headers, self._read_body(resp)
            finally:
                resp.close()
        raise PrometheusError(f"more than {_MAX_REDIRECTS} redirects",
                              error_type="bad_redirect", source=_display_url(url),
                              expected=f"at most {_MAX_REDIRECTS} redirects")

    @staticmethod
    def _read_body(resp: Any) -> bytes:
        import requests
        import urllib3

        cap = LIMITS.max_response_bytes
        chunks: list[bytes] = []
        total = 0
        try:
            for chunk in resp.iter_content(1 << 20):
                total += len(chunk)
                check_limit("max_response_bytes", total,
                            f"the answer has more than {total:,} bytes", limit=cap)
                chunks.append(chunk)
        except requests.exceptions.ConnectionError as exc:
            if exc.args and isinstance(exc.args[0], urllib3.exceptions.ReadTimeoutError):
                raise _BodyTimeout() from None
            raise
        return b"".join(chunks)

    def _post(self, name: str, form: dict[str, str]) -> QueryResponse:
        try:
            return self._post_with_retries(name, form)
        except SpecAnalysisError as exc:
            err = exc
        # raised outside the handler, with no chain: the transport's exceptions
        # (which may quote headers) never travel as __context__/__cause__
        err.__cause__ = err.__context__ = None
        err.__suppress_context__ = True
        raise err

    def _post_with_retries(self, name: str, form: dict[str, str]) -> QueryResponse:
        import requests

        url = self.endpoint(name)
        where = _display_url(url)
        started = time.monotonic()
        give_up_at = started + self.deadline
        attempt = 0
        while True:
            attempt += 1
            retry_after = 0.0
            failure: PrometheusError | None = None
            final: SpecAnalysisError | None = None
            try:
                status, headers, body = self._send(url, form)
            except (requests.exceptions.ReadTimeout, _BodyTimeout) as exc:
                what = ("the server sent its headers, then no body"
                        if isinstance(exc, _BodyTimeout) else "no answer")
                final = PrometheusTimeout(
                    f"{what} within {self.timeout:g} s (not retried: the query "
                    "would run again)", error_type="timeout", source=where)
            except requests.exceptions.SSLError as exc:
                final = PrometheusUnavailable(
                    mask(f"TLS failure: {exc}")[:300], error_type="unavailable",
                    source=where)
            except requests.exceptions.ContentDecodingError as exc:
                final = PrometheusError(
                    mask(f"the body cannot be decoded ({exc})")[:300],
                    error_type="bad_response", source=where,
                    expected="a body in the encoding its Content-Encoding names")
            except (requests.exceptions.ConnectionError,
                    requests.exceptions.ChunkedEncodingError) as exc:
                reason = mask(f"{type(exc).__name__}: {exc}")[:300]
                failure = PrometheusUnavailable(
                    f"cannot reach the server ({reason})", error_type="unavailable",
                    source=where)
            except requests.exceptions.RequestException as exc:
                final = PrometheusUnavailable(
                    mask(f"cannot send the request ({type(exc).__name__}: {exc})")[:300],
                    error_type="unavailable", source=where)
            if final is not None:
                raise final
            if failure is None:
                if status == 504:
                    raise PrometheusTimeout(
                        "gateway timeout (not retried: the query would run again)",
                        error_type="timeout", status=status, source=where,
                    )
                if status not in _TRANSIENT_STATUS:
                    parsed = parse_query_response(body, status=status, source=where)
                    if status >= 400:
                        raise PrometheusError(
                            "error status with a success body", status=status,
                            error_type="bad_response", source=where,
                        )
                    return parsed
                failure = self._transient(body, status, where)
                retry_after = _retry_after(headers.get("Retry-After"))
            if attempt > self.retries:
                raise _gave_up(failure, attempt, time.monotonic() - started)
            delay = random.uniform(0, min(_BACKOFF_CAP, _BACKOFF_BASE * 2 ** (attempt - 1)))
            delay = max(delay, min(retry_after, _BACKOFF_CAP))
            if time.monotonic() + delay > give_up_at:
                raise _gave_up(failure, attempt, time.monotonic() - started)
            log.info("Prometheus %s: %s; retry %d in %.2f s", where, failure.message,
                     attempt, delay)
            time.sleep(delay)

    @staticmethod
    def _transient(body: bytes, status: int, where: str) -> PrometheusError:
        """The failure a 429/502/503 stands for; raises when it is permanent."""
        try:
            parse_query_response(body, status=status, source=where)
        except PrometheusTimeout:
            raise
        except PrometheusError as exc:
            if status == 503 and exc.error_type not in ("unavailable", "non_json"):
                raise  # e.g. 503 canceled: permanent for this query
            return PrometheusUnavailable(
                exc.message, error_type=exc.error_type or "unavailable",
                status=status, source=where)
        return PrometheusUnavailable("transient HTTP status", error_type="unavailable",
                                     status=status, source=where)


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 0.0
    except ValueError:
        return 0.0


def _gave_up(failure: PrometheusError, attempts: int, elapsed: float) -> PrometheusError:
    return PrometheusUnavailable(
        f"{failure.message} (gave up after {attempts} attempt"
        f"{'s' if attempts != 1 else ''} in {elapsed:.1f} s)",
        error_type=failure.error_type, status=failure.status, source=failure.source,
    )
