"""Seeded synthetic runtime metrics for the data-layer tests and benchmarks.

:func:`make_samples` produces a samples frame that looks like what Prometheus
scraped from a speculation runtime, with the awkward parts real data has:
counters that reset (process restarts), irregular scrape gaps (10-120 s) and
whole missing minutes, classic histograms (``_bucket`` with ``le`` up to
``+Inf``, ``_sum``, ``_count``), gauges, and optionally a NaN. It is the
oracle data the integration tier backfills into a real Prometheus and
evaluates with both query engines.

Every scrape target (``instance`` label ``rt-<i>``) carries
:data:`SERIES_PER_INSTANCE` series:

==========================================  =====================================
metric                                      series
==========================================  =====================================
speculation_tasks_total                     1 counter
speculation_rollback_total{reason}          4 counters (ancestor_failed,
                                            proof_invalid, state_conflict, timeout)
speculation_proof_generation_seconds_*      histogram, le 0.5 ... 60, +Inf (10)
speculation_depth_histogram_*               histogram, le 1.0 ... 5.0, +Inf (8)
solana_confirmation_seconds_*               histogram, le 0.25 ... 10, +Inf (9)
speculation_memory_usage_bytes{component}   5 gauges
speculation_active_tasks                    1 gauge
speculation_proof_queue_depth               1 gauge
speculation_proof_queue_capacity            1 gauge
==========================================  =====================================

All series of one instance share its scrape times (a scrape is atomic) and a
restart resets all of its counters and histograms at once.

This is a data generator for the data layer; the behavioural simulator of the
runtime is :mod:`specanalysis.sim`.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from specanalysis._time import TimeLike, parse_duration, to_ms
from specanalysis.catalogue import (
    ACTIVE,
    CONFIRM,
    CONFIRMED,
    DEPTH,
    MEMORY,
    PROOF,
    QUEUE_CAP,
    QUEUE_DEPTH,
    ROLLBACKS,
    TASKS,
)
from specanalysis.errors import SpecAnalysisError
from specanalysis.frames import TIMESTAMP

__all__ = ["make_samples", "make_rate_samples", "ar1_counts", "SERIES_PER_INSTANCE",
           "REASONS", "COMPONENTS"]

REASONS = ("ancestor_failed", "proof_invalid", "state_conflict", "timeout")
COMPONENTS = ("commitment_ledger", "pending_operations", "proof_cache",
              "rollback_logs", "state_snapshots")
_PROOF_LE = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_DEPTH_LE = (1.0, 2.0, 3.0, 4.0, 5.0)
_CONFIRM_LE = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
SERIES_PER_INSTANCE = 1 + len(REASONS) + (len(_PROOF_LE) + 3) + (len(_DEPTH_LE) + 3) + (
    len(_CONFIRM_LE) + 3) + len(COMPONENTS) + 3


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


def make_samples(
    *,
    seed: int = 0,
    start: TimeLike = "2025-01-01T00:00:00Z",
    duration: str | float = "6h",
    step: str | float | None = None,
    n_series: int | None = None,
    task_rate: float = 5.0,
    reset_prob: float = 0.004,
    nan: bool = False,
) -> pl.DataFrame:
    """Synthetic, seeded runtime metrics as a samples frame.

    Parameters
    ----------
    seed
        Random seed; the same arguments give the same frame.
    start
        Time of the first scrape.
    duration
        Span of the data (``"6h"``, ``"1d"``, seconds).
    step
        None (default): irregular scrapes, gaps of 10-120 s with whole minutes
        missing now and then, at millisecond precision. A duration: regular
        scrapes every ``step`` (``"15s"`` for "a day of 15 s samples").
    n_series
        At least this many series: whole instances of
        :data:`SERIES_PER_INSTANCE` series each are added (histograms stay
        complete). Default: one instance.
    task_rate
        Mean tasks per second per instance (drives counters and histograms).
    reset_prob
        Probability that a scrape follows a restart (all counters of the
        instance start again from zero).
    nan
        Put one NaN in ``speculation_active_tasks`` of each instance.

    Returns
    -------
    polars.DataFrame
        Columns ``timestamp, metric, value, component, instance, le, reason``;
        sorted by series then time; every series strictly increasing in time.

    Examples
    --------
    >>> df = make_samples(seed=1, duration="1h")
    >>> df.columns
    ['timestamp', 'metric', 'value', 'component', 'instance', 'le', 'reason']
    >>> df.select(pl.struct("metric", "component", "le", "reason").n_unique()).item()
    40
    >>> big = make_samples(duration="1d", step="15s", n_series=100)
    >>> big.height, big["instance"].n_unique()
    (691320, 3)
    """
    duration_s = parse_duration(duration, field="duration")
    start_ms = to_ms(start, field="start")
    if n_series is not None and (not isinstance(n_series, int) or n_series < 1):
        raise SpecAnalysisError(f"n_series={n_series!r}", field="n_series",
                                expected="a positive integer")
    instances = 1 if n_series is None else -(-n_series // SERIES_PER_INSTANCE)
    step_ms = None if step is None else round(parse_duration(step, field="step") * 1000)
    rng = np.random.default_rng(seed)
    parts = [
        _instance(rng, f"rt-{i}", start_ms, round(duration_s * 1000), step_ms,
                  task_rate, reset_prob, nan)
        for i in range(instances)
    ]
    frame = pl.concat(parts, how="vertical")
    return frame.sort(["metric", "component", "instance", "le", "reason", "timestamp"],
                      nulls_last=False)


def _scrape_times(rng: np.random.Generator, start_ms: int, span_ms: int,
                  step_ms: int | None) -> np.ndarray:
    if step_ms is not None:
        return start_ms + np.arange(0, span_ms + 1, step_ms, dtype=np.int64)
    n_max = span_ms // 10_000 + 2
    gaps = rng.integers(10_000, 120_001, size=n_max)
    # now and then the scraper misses one to three whole minutes
    missing = rng.random(n_max) < 0.02
    gaps = gaps + missing * rng.integers(1, 4, size=n_max) * 60_000
    offsets = np.concatenate([[0], np.cumsum(gaps)])
    offsets = offsets[offsets <= span_ms]
    return start_ms + offsets.astype(np.int64)


def _cumulate(increments: np.ndarray, resets: np.ndarray) -> np.ndarray:
    """Running totals along axis 0 that restart from the increment after a reset."""
    total = np.cumsum(increments, axis=0)
    seg = np.cumsum(resets)  # segment id per scrape
    starts = np.flatnonzero(resets)
    if starts.size == 0:
        return total
    base = np.zeros((starts.size + 1, *increments.shape[1:]), dtype=total.dtype)
    base[1:] = total[starts - 1]
    return total - base[seg]


def _histogram(rng, n_obs, resets, bounds, draw) -> dict[str, np.ndarray]:
    """Cumulative bucket, sum and count series for observations drawn by ``draw``."""
    edges = np.asarray(bounds)
    total_obs = int(n_obs.sum())
    obs = draw(total_obs)
    owner = np.repeat(np.arange(n_obs.size), n_obs)
    idx = np.searchsorted(edges, obs, side="left")  # bucket index, len(edges) = +Inf
    per_bucket = np.zeros((n_obs.size, edges.size + 1), dtype=np.int64)
    np.add.at(per_bucket, (owner, idx), 1)
    sums = np.zeros(n_obs.size)
    np.add.at(sums, owner, obs)
    cum_le = np.cumsum(per_bucket, axis=1).astype(float)
    out = {}
    buckets = _cumulate(cum_le, resets)
    for j, b in enumerate([*bounds, math.inf]):
        out[_le(b)] = buckets[:, j]
    out["_sum"] = _cumulate(sums, resets)
    out["_count"] = buckets[:, -1]
    return out


def _instance(rng, instance, start_ms, span_ms, step_ms, task_rate, reset_prob, nan
              ) -> pl.DataFrame:
    ts = _scrape_times(rng, start_ms, span_ms, step_ms)
    n = ts.size
    dt = np.diff(ts, prepend=ts[0]) / 1000.0
    resets = rng.random(n) < reset_prob
    resets[0] = False
    # load varies slowly over the day: a sine plus noise
    phase = rng.uniform(0, 2 * np.pi)
    load = 1.0 + 0.4 * np.sin(2 * np.pi * (ts - ts[0]) / 86_400_000 * 4 + phase)
    tasks = rng.poisson(task_rate * load * dt)
    tasks[0] = rng.poisson(task_rate * 60)  # counter already running at start
    series: list[tuple[str, dict[str, str], np.ndarray]] = []
    series.append((TASKS, {}, _cumulate(tasks.astype(float), resets)))
    shares = (0.012, 0.006, 0.004, 0.01)
    for reason, share in zip(REASONS, shares, strict=True):
        inc = rng.binomial(tasks, share).astype(float)
        series.append((ROLLBACKS, {"reason": reason},
                       _cumulate(inc, resets)))
    hists = {
        PROOF: (
            _PROOF_LE, lambda k: rng.lognormal(np.log(4.0), 0.8, k)),
        DEPTH: (
            _DEPTH_LE, lambda k: rng.integers(1, 7, k).astype(float)),
        CONFIRM: (
            _CONFIRM_LE, lambda k: rng.lognormal(np.log(0.8), 0.6, k)),
    }
    for name, (bounds, draw) in hists.items():
        h = _histogram(rng, tasks, resets, bounds, draw)
        for key, values in h.items():
            if key.startswith("_"):
                series.append((name + key, {}, values))
            else:
                series.append((name + "_bucket", {"le": key}, values))
    base_mem = {"commitment_ledger": 8e6, "pending_operations": 32e6,
                "proof_cache": 256e6, "rollback_logs": 16e6, "state_snapshots": 128e6}
    for comp in COMPONENTS:
        wobble = 1 + 0.2 * load + rng.normal(0, 0.03, n)
        series.append((MEMORY, {"component": comp},
                       np.round(base_mem[comp] * wobble)))
    active = np.maximum(0, np.round(task_rate * 4 * load + rng.normal(0, 3, n)))
    if nan:
        active = active.copy()
        active[n // 2] = np.nan
    series.append((ACTIVE, {}, active))
    capacity = 1000.0
    depth = np.clip(np.round(capacity * (0.3 + 0.25 * load) + rng.normal(0, 40, n)),
                    0, capacity)
    series.append((QUEUE_DEPTH, {}, depth))
    series.append((QUEUE_CAP, {}, np.full(n, capacity)))

    labels = ("component", "le", "reason")
    cols: dict[str, list] = {"metric": [], **{k: [] for k in labels}}
    values = []
    for name, lab, vals in series:
        values.append(np.asarray(vals, dtype=float))
        cols["metric"].append(name)
        for k in labels:
            cols[k].append(lab.get(k))
    k = len(series)
    meta = pl.DataFrame(cols, schema={"metric": pl.String, **dict.fromkeys(labels, pl.String)})
    sid = np.repeat(np.arange(k, dtype=np.uint32), n)
    body = pl.DataFrame({
        "sid": sid,
        "timestamp": pl.Series(np.tile(ts, k)).cast(TIMESTAMP),
        "value": np.concatenate(values),
    })
    meta = meta.with_row_index("sid").with_columns(
        pl.lit(instance, pl.String).alias("instance"))
    return body.join(meta, on="sid", how="left", maintain_order="left").select(
        "timestamp", "metric", "value", "component", "instance", "le", "reason")


# ------------------------------------------------- autocorrelated A/A material


def ar1_counts(rng: np.random.Generator, n: int, *, rate: float, phi: float,
               sd: float, step: float, shift: float = 0.0) -> np.ndarray:
    """Events per scrape interval from a rate whose log follows an AR(1).

    The log-rate deviates from ``log(rate * (1 + shift))`` by a stationary AR(1)
    with coefficient ``phi`` and innovation s.d. ``sd`` (mean-corrected so the
    long-run mean rate is ``rate * (1 + shift)``); each of the ``n`` intervals
    of ``step`` seconds draws a Poisson count. ``phi = 0`` gives independent
    intervals: the only autocorrelation left is what ``rate(x[5m])`` adds.

    Examples
    --------
    >>> c = ar1_counts(np.random.default_rng(0), 20_000, rate=8.0, phi=0.9, sd=0.1,
    ...                step=15.0)
    >>> round(float(c.mean()) / 120, 1)
    1.0
    """
    var = sd**2 / (1 - phi**2) if phi < 1 else math.inf
    z = np.empty(n)
    z[0] = rng.normal(0.0, math.sqrt(var))
    e = rng.normal(0.0, sd, n)
    for i in range(1, n):
        z[i] = phi * z[i - 1] + e[i]
    return rng.poisson(rate * (1 + shift) * step * np.exp(z - var / 2)).astype(float)


def make_rate_samples(
    *,
    seed: int = 0,
    start: TimeLike = "2025-01-01T00:00:00Z",
    duration: str | float = "2h",
    step: str | float = "15s",
    rate: float = 8.0,
    phi: float = 0.9,
    sd: float = 0.1,
    shift: float = 0.0,
) -> pl.DataFrame:
    """A samples frame of two autocorrelated series, for A/A and power checks.

    ``speculation_tasks_confirmed_total`` (and ``speculation_tasks_total``, the
    same counts) accumulate :func:`ar1_counts`; ``speculation_memory_usage_bytes``
    (component ``state_snapshots``) is an AR(1) gauge around 400 MB x
    ``(1 + shift)``. Two frames from different seeds are an A/A pair; a
    ``shift`` injects a known relative change in both series.

    Examples
    --------
    >>> df = make_rate_samples(seed=1, duration="1h")
    >>> sorted(df["metric"].unique())
    ['speculation_memory_usage_bytes', 'speculation_tasks_confirmed_total', 'speculation_tasks_total']
    """
    step_s = parse_duration(step, field="step")
    n = int(parse_duration(duration, field="duration") // step_s) + 1
    rng = np.random.default_rng(seed)
    counts = ar1_counts(rng, n, rate=rate, phi=phi, sd=sd, step=step_s, shift=shift)
    counter = np.cumsum(counts)
    mem_z = np.empty(n)
    mem_z[0] = rng.normal(0.0, 1.0)
    for i in range(1, n):
        mem_z[i] = phi * mem_z[i - 1] + math.sqrt(1 - phi**2) * rng.normal()
    memory = 400 * 2**20 * (1 + shift) * (1 + 0.05 * mem_z)
    ts = to_ms(start, field="start") + np.arange(n, dtype=np.int64) * round(step_s * 1000)
    parts = []
    for name, vals, comp in ((CONFIRMED, counter, None), (TASKS, counter, None),
                             (MEMORY, memory, "state_snapshots")):
        parts.append(pl.DataFrame({
            "timestamp": pl.Series(ts).cast(TIMESTAMP),
            "metric": [name] * n,
            "value": vals.astype(float),
            "component": pl.Series([comp] * n, dtype=pl.String),
        }))
    return pl.concat(parts)
