"""Calibration: the simulator workload that reproduces a measured profile.

:func:`calibrate` turns a :class:`~specanalysis.profile.WorkloadProfile` into a
:class:`CalibratedWorkload`: the :class:`~specanalysis.sim.Workload`, the
configuration the data says the runtime ran with, the simulator settings, and
every recovered parameter with its standard error and how it was obtained. The
bridge from "what is my workload?" to "what if?": simulate a candidate
configuration on the workload you measured.

What comes from where
---------------------
offered rate, burst pattern
    The scheduled (offered) counter per scrape interval, not executions (which
    the runtime's queues smooth). A periodic pattern is looked for by folding
    the series over every candidate period (F test against a constant rate);
    a significant one becomes a piecewise pattern with the measured multiplier,
    width and phase.
execution, confirmation, per-batch proof cost
    Lognormals fitted to the bucket counts of ``speculation_execution_seconds``,
    ``solana_confirmation_seconds`` and ``speculation_proof_batch_duration_seconds``
    with the mean held at the exact ``_sum / _count`` (never interpolated
    quantiles). The batch service time ``D = overhead + k x per-proof`` is split by
    a weighted regression of the mean service time on the mean batch size per
    scrape interval; when the batch sizes did not vary enough to separate them,
    the documented ratio (2 s wrap : 150 ms per proof) is used and said so.
batch fill wait
    Not a metric: the simulator's ``batch_timeout`` is chosen so that the
    simulated mean proof generation time (queue + fill wait + service) equals the
    measured ``_sum / _count``.
chain lengths, beyond the depth cap
    Depth is censored by ``max_depth`` and reshaped by the branch and snapshot
    limits, so chain lengths are not read off the depth histogram. The simulator
    under the measured configuration gives, for every chain length ``L``, the
    executed-depth counts a chain of that length produces (re-executions
    included); the chain counts are the non-negative least-squares solution that
    reproduces the measured depth counts and the offered task total, iterated so
    the responses are taken at the operating point of the fitted mix.
failures
    ``proof_invalid`` rollbacks / (confirmed tasks + ``proof_invalid`` rollbacks):
    only attempts whose proof was judged on chain reveal whether it was invalid.
snapshot size, instances
    The ``snapshot_mb`` figure; the ``instance`` labels seen.

Examples
--------
>>> import warnings
>>> from specanalysis.config import SpeculationConfig
>>> from specanalysis.sim import Workload, simulate
>>> from specanalysis.profile import profile_workload
>>> truth = Workload(rate=3, depth="fixed:2", failures=0.05)
>>> run = simulate(SpeculationConfig(enabled=True), truth, duration="5m", seed=1)
>>> cal = calibrate(profile_workload(run.samples), iterations=1)
>>> round(cal.workload.rate), round(cal.workload.depth_dist.mean)
(3, 2)
>>> "chain_length_mean" in cal.tidy()["parameter"].to_list()
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import numpy as np
import polars as pl

from specanalysis.catalogue import (
    BATCH_DURATION,
    CASCADE,
    CONFIRM,
    DEFERRAL_WAIT,
    E2E,
    EXECUTION,
    PROOF,
    SCHEDULED,
)
from specanalysis.errors import DataError

__all__ = ["CalibratedWorkload", "calibrate", "detect_pattern"]


#: Documented split of a proof batch's cost (runtime-facts §4, proof-cost.md
#: "Batching"): a Groth16 wrap of about 2 s per batch and about 150 ms per proof.
PRIOR_OVERHEAD_S = 2.0
PRIOR_PROOF_S = 0.15
PRIOR_PROOF_CV = 0.3

_PARAM_SCHEMA = {"parameter": pl.String, "estimate": pl.Float64, "se": pl.Float64,
                 "spec": pl.String, "method": pl.String}


@dataclass(frozen=True, eq=False)
class CalibratedWorkload:
    """A simulator workload calibrated on a measured profile, with its uncertainty.

    Attributes
    ----------
    workload
        The recovered :class:`~specanalysis.sim.Workload`.
    config
        The configuration the data says the runtime ran with (configuration gauges
        over the ``config`` passed to :func:`calibrate`, or the defaults).
    settings
        Simulator settings (:class:`~specanalysis.sim.engine.SimSettings`), with the
        fitted ``batch_timeout``.
    duration
        Seconds of data the calibration saw (the window); simulate at least this.
    parameters
        One row per recovered parameter: ``parameter``, ``estimate``, ``se``
        (standard error, NaN when not estimable), ``spec`` (the simulator spec)
        and ``method`` (how it was obtained, or why a default was kept).
    fit
        ``statistic``, ``observed``, ``simulated``: what the final workload
        reproduces of the data it was fitted on (a diagnostic, one seed).
    notes
        Remarks (identifiability, defaults kept).
    """

    workload: Any
    config: Any
    settings: Any
    duration: float
    parameters: pl.DataFrame
    fit: pl.DataFrame
    notes: tuple[str, ...] = ()
    profile: Any = field(default=None, repr=False)

    def simulate(self, config: Any = None, *, seed: int = 0,
                 duration: str | float | None = None, **kwargs: Any) -> Any:
        """Simulate the calibrated workload (``config`` default: the measured one)."""
        from specanalysis.sim import simulate

        kwargs.setdefault("progress", False)
        kwargs.setdefault("settings", self.settings)
        return simulate(config if config is not None else self.config, self.workload,
                        duration=duration if duration is not None else self.duration,
                        seed=seed, **kwargs)

    def tidy(self) -> pl.DataFrame:
        """:attr:`parameters` (one row per recovered parameter)."""
        return self.parameters

    def summary(self) -> str:
        """The recovered parameters, the fit diagnostic and the notes as text."""
        lines = ["Calibrated workload", f"  {self.workload!r}", "Parameters:"]
        for r in self.parameters.iter_rows(named=True):
            se = "" if r["se"] is None or math.isnan(r["se"]) else f" ± {r['se']:.3g}"
            lines.append(f"  {r['parameter']}: {r['spec']}{se} ({r['method']})")
        if self.fit.height:
            lines.append("Fit (observed -> simulated):")
            for r in self.fit.iter_rows(named=True):
                lines.append(f"  {r['statistic']}: {r['observed']:.4g} -> "
                             f"{r['simulated']:.4g}")
        lines.extend(f"Note: {n}" for n in self.notes)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"CalibratedWorkload(rate={self.workload.rate:.4g}/s, "
                f"depth={self.workload.depth!r}, pattern={self.workload.pattern!r}, "
                f"instances={self.workload.instances})")

    def _repr_html_(self) -> str:
        from html import escape

        def se(v: float | None) -> str:
            return "" if v is None or math.isnan(v) else f"{v:.3g}"

        rows = "".join(
            f"<tr><td>{escape(r['parameter'])}</td><td>{escape(r['spec'] or '')}</td>"
            f"<td>{se(r['se'])}</td><td>{escape(r['method'])}</td></tr>"
            for r in self.parameters.iter_rows(named=True))
        notes = "".join(f"<li>{escape(n)}</li>" for n in self.notes)
        return ("<div><b>Calibrated workload</b><table><tr><th>parameter</th>"
                "<th>value</th><th>s.e.</th><th>how</th></tr>"
                f"{rows}</table>{'<ul>' + notes + '</ul>' if notes else ''}</div>")


# ---------------------------------------------------------------------------
# burst pattern


def detect_pattern(tasks: np.ndarray, step: float, *, offset: float = 0.0,
                   alpha: float = 1e-6) -> tuple[float, str, str]:
    """Baseline rate, rate pattern and evidence from tasks offered per interval.

    Parameters
    ----------
    tasks
        Tasks offered in consecutive intervals of ``step`` seconds.
    step
        Interval length (s).
    offset
        Seconds from the simulation's time 0 to the start of the first interval
        (so the pattern's phase lines up).
    alpha
        Significance a periodic pattern needs (F test of the folded means against
        a constant rate; every candidate period is tried, so it is strict).

    Returns
    -------
    (rate, pattern, evidence)
        ``rate`` in tasks/s at baseline, ``pattern`` a simulator pattern spec
        (``"constant"`` or ``"piecewise:..."``).

    Examples
    --------
    >>> x = np.array([10.0] * 6 + [100.0] * 2) .repeat(1)
    >>> rate, pattern, _ = detect_pattern(np.tile(x, 8), 15.0)
    >>> round(rate, 3), pattern
    (0.667, 'piecewise:90s@1x,30s@10x')
    """
    from scipy import stats

    x = np.asarray(tasks, dtype=np.float64)
    n = len(x)
    total_rate = float(x.sum()) / (n * step) if n else float("nan")
    if n < 8 or not x.sum() > 0:
        return total_rate, "constant", f"{n} intervals: too few to look for a pattern"
    best = (1.0, 0, None)
    for period in range(2, n // 2 + 1):
        k = n - n % period
        folded = x[:k].reshape(-1, period)
        means = folded.mean(axis=0)
        reps = folded.shape[0]
        between = reps * float(((means - folded.mean()) ** 2).sum()) / (period - 1)
        within = float(((folded - means) ** 2).sum()) / max(k - period, 1)
        if within <= 0:
            p = 0.0 if between > 0 else 1.0
        else:
            p = float(stats.f.sf(between / within, period - 1, k - period))
        if p < best[0] * 1e-3 or (best[2] is None and p < 1.0):
            best = (p, period, means)
    p, period, means = best
    if means is None or p >= alpha:
        return total_rate, "constant", (
            f"no periodic pattern (best period {period * step:g} s, p = {p:.2g} >= "
            f"{alpha:g}): constant rate {total_rate:.4g} tasks/s")
    mid = (means.max() + means.min()) / 2
    high = means > mid
    low_mean = float(means[~high].mean())
    high_mean = float(means[high].mean())
    if not low_mean > 0:
        low_mean = max(float(means.min()), 1e-9)
    mult = high_mean / low_mean
    mean_mult = float(means.mean()) / low_mean
    span = period * step
    width = span * (mean_mult - 1) / (mult - 1) if mult > 1 else 0.0
    # start of the (circular) high run, in the simulation's time
    starts = [i for i in range(period) if high[i] and not high[i - 1]]
    j = starts[0] if starts else int(np.argmax(means))
    # a partial first high interval: the burst starts inside it
    run = [i % period for i in range(j, j + period) if high[i % period]]
    full = len(run) * step
    at = (offset + j * step + max(full - width, 0.0) / 2) % span
    width = min(max(width, step / 4), span - step / 4)
    pieces = []
    if at + width <= span:
        if at > 1e-9:
            pieces.append((at, 1.0))
        pieces.append((width, mult))
        if span - at - width > 1e-9:
            pieces.append((span - at - width, 1.0))
    else:
        head = at + width - span
        pieces = [(head, mult), (at - head, 1.0), (span - at, mult)]
    spec = "piecewise:" + ",".join(f"{length:.6g}s@{m:.6g}x" for length, m in pieces)
    evidence = (f"periodic pattern: period {span:g} s (F test p = {p:.2g}), "
                f"{mult:.3g}x for {width:.3g} s, baseline {low_mean / step:.4g} tasks/s")
    return low_mean / step, spec, evidence


# ---------------------------------------------------------------------------
# helpers


def _param(rows: list, name: str, estimate: float, se: float, spec: str,
           method: str) -> None:
    rows.append((name, float(estimate), float(se), spec, method))


def _fit_time(profile: Any, family: str, rows: list, name: str, notes: list
              ) -> Any:
    """A lognormal spec fitted to a histogram family (None when the data lacks it)."""
    from specanalysis.buckets import fit_buckets

    h = profile.histograms.get(family)
    if not h or h["buckets"].height == 0 or not h["count"] > 0:
        notes.append(f"{name}: no {family} histogram in the data; simulator default kept")
        return None
    mean = h["sum"] / h["count"] if h["count"] > 0 else None
    try:
        fit = fit_buckets(h["buckets"], mean=mean)
    except DataError as err:
        notes.append(f"{name}: {err.message}; simulator default kept")
        return None
    _param(rows, name + "_mean", fit.mean, fit.mean_se, fit.spec,
           f"lognormal fitted to {fit.n:.0f} bucket counts of {family}, mean = _sum/_count")
    _param(rows, name + "_cv", fit.cv, fit.cv_se, f"cv={fit.cv:.4g}",
           "interval-censored maximum likelihood")
    return fit


def _split_batch_cost(profile: Any, mean_d: float, cv_d: float, rows: list,
                      notes: list) -> tuple[str, str] | None:
    """Per-batch overhead and per-proof cost from per-interval batch means."""
    cs = profile.counter_series
    kbar = float("nan")
    if cs is not None and {"batches", "proofs", "batch_seconds"} <= set(cs.columns):
        d = cs.drop_nulls(["batches", "proofs", "batch_seconds"]).filter(
            pl.col("batches") > 0)
        if d.height:
            kbar = float(d["proofs"].sum() / d["batches"].sum())
    if not math.isfinite(kbar):
        notes.append("proof cost: no batch counters; per-proof cost left at the default")
        return None
    # proofs that time out leave the proof histogram but not their batch: then the
    # batch-size gauge is the better mean (and per-interval ratios are biased)
    timeouts = 0.0
    if profile.rollback_reasons.height:
        timeouts = float(profile.rollback_reasons.filter(
            pl.col("reason") == "timeout")["events"].sum())
    gauge = profile.figures.get("batch_size_avg")
    biased = False
    if timeouts > 0 and gauge is not None and gauge.available and gauge.value > kbar:
        notes.append(f"{timeouts:.0f} proof timeouts: mean batch size from the batch-size "
                     f"gauge ({gauge.value:.3g}), not proofs done / batches ({kbar:.3g})")
        kbar, biased = gauge.value, True
    o = p = float("nan")
    se_o = se_p = float("nan")
    method = ""
    if d.height >= 8 and not biased:
        w = d["batches"].to_numpy()
        k = (d["proofs"] / d["batches"]).to_numpy()
        y = (d["batch_seconds"] / d["batches"]).to_numpy()
        if np.ptp(k) > 0:
            x = np.column_stack([np.ones_like(k), k])
            xtw = x.T * w
            try:
                cov = np.linalg.inv(xtw @ x)
                beta = cov @ xtw @ y
                resid = y - x @ beta
                s2 = float((w * resid**2).sum()) / max(len(y) - 2, 1)
                se = np.sqrt(np.diag(cov) * s2)
                if beta[0] > 0 and beta[1] > 0 and se[1] < 0.25 * beta[1]:
                    o, p = float(beta[0]), float(beta[1])
                    se_o, se_p = float(se[0]), float(se[1])
                    method = (f"weighted regression of mean batch time on mean batch "
                              f"size over {len(y)} scrape intervals")
            except np.linalg.LinAlgError:
                pass
    if not method:
        scale = mean_d / (PRIOR_OVERHEAD_S + kbar * PRIOR_PROOF_S)
        o, p = PRIOR_OVERHEAD_S * scale, PRIOR_PROOF_S * scale
        method = ("batch sizes did not vary enough to separate overhead from per-proof "
                  f"cost: documented ratio {PRIOR_OVERHEAD_S:g} s : "
                  f"{1000 * PRIOR_PROOF_S:g} ms scaled to the measured mean")
        notes.append("proof cost split not identifiable from this data: " + method)
    # spread: Var(D) = Var(overhead) + E[k] Var(per-proof) + Var(k) per-proof^2, the
    # per-proof cv from the prior and Var(k) at least the spread of the interval means
    var_k = 0.0
    if d.height >= 2:
        w = d["batches"].to_numpy()
        k = (d["proofs"] / d["batches"]).to_numpy()
        var_k = float((w * (k - kbar) ** 2).sum() / w.sum())
    var_d = (cv_d * mean_d) ** 2
    var_o = max(var_d - kbar * (PRIOR_PROOF_CV * p) ** 2 - var_k * p * p,
                (0.05 * o) ** 2)
    cv_o = math.sqrt(var_o) / o
    over = f"lognormal:mean={o:.6g}s,cv={cv_o:.4g}"
    proof = f"lognormal:mean={p:.6g}s,cv={PRIOR_PROOF_CV:g}"
    _param(rows, "proof_overhead_mean", o, se_o, over, method)
    _param(rows, "proof_time_mean", p, se_p, proof,
           method + f"; cv {PRIOR_PROOF_CV:g} assumed (not identifiable)")
    _param(rows, "batch_size_mean", kbar, float("nan"), f"{kbar:.4g}",
           "proofs done / batches served")
    return over, proof


def _observed_depths(profile: Any) -> dict[int, float]:
    t = profile.depth_distribution
    if t is None or t.height == 0:
        return {}
    fin = t.filter(pl.col("depth").is_finite() & (pl.col("depth") >= 0))
    return {int(d): float(c) for d, c in zip(fin["depth"].to_list(), fin["count"].to_list(),
                                            strict=True)}


def _per_length_bins(frame: pl.DataFrame, value: str, edges: np.ndarray,
                     lengths: list[int]) -> np.ndarray:
    """Counts of ``value`` in the buckets ending at ``edges``, by chain length (rows)."""
    out = np.zeros((len(lengths), len(edges)))
    if frame.height == 0:
        return out
    b = np.minimum(np.searchsorted(edges, frame[value].to_numpy(), side="left"),
                   len(edges) - 1)
    pos = {L: i for i, L in enumerate(lengths)}
    for L, k in zip(frame["length"].to_list(), b.tolist(), strict=True):
        if L in pos:
            out[pos[L], k] += 1.0
    return out


def _responses(result: Any, lengths: list[int], depths: int,
               latency_edges: np.ndarray | None = None,
               cascade_edges: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Per chain, by chain length (rows): executed-depth counts (the first ``depths``
    columns), deferred attempts (the next column), then, when edges are given, tasks
    finalised in the window by end-to-end latency bucket and rollbacks by blast
    radius bucket."""
    dur = result.duration
    ch = result.chains.filter(pl.col("arrived") < dur).select("chain_id", "length")
    extra = []
    if latency_edges is not None:
        fin = (result.tasks.filter(pl.col("finalized").is_not_null()
                                   & (pl.col("finalized") < dur))
               .join(ch, on="chain_id", how="inner"))
        extra.append(_per_length_bins(fin, "latency_s", latency_edges, lengths))
    if cascade_edges is not None:
        rb = (result.rollbacks.filter(pl.col("time") < dur)
              .join(ch, on="chain_id", how="inner")
              .with_columns(pl.col("size").cast(pl.Float64)))
        extra.append(_per_length_bins(rb, "size", cascade_edges, lengths))
    tk = (result.tasks.filter(pl.col("exec_start") < dur)
          .join(ch, on="chain_id", how="inner"))
    # a deferred attempt starts at the instant its deferral wait is recorded
    waits = pl.Series("exec_start", result.wait_times, dtype=pl.Float64).unique()
    tk = tk.with_columns(pl.col("exec_start").is_in(waits.implode()).alias("deferred"))
    by_depth = tk.group_by("length", "depth").len()
    by_defer = tk.filter(pl.col("deferred")).group_by("length").len()
    n_ch = dict(ch.group_by("length").len().iter_rows())
    resp = np.zeros((len(lengths), depths + 1))
    idx = {L: i for i, L in enumerate(lengths)}
    for L, d, c in by_depth.iter_rows():
        if L in idx:
            resp[idx[L], min(int(d), depths - 1)] += c
    for L, c in by_defer.iter_rows():
        if L in idx:
            resp[idx[L], depths] += c
    full = np.hstack([resp, *extra])
    counts = np.array([n_ch.get(L, 0) for L in lengths], dtype=float)
    full = full / np.maximum(counts, 1.0)[:, None]
    return full, counts >= 3


def _solve_chains(resp: np.ndarray, ok: np.ndarray, lengths: list[int],
                  observed: np.ndarray, total: float) -> tuple[np.ndarray, float]:
    """Chain counts by length (NNLS on depth counts and the offered total)."""
    from scipy import optimize

    cols = np.flatnonzero(ok)
    w = 1.0 / np.sqrt(np.maximum(observed, 1.0))
    a = resp[cols].T * w[:, None]
    b = observed * w
    ws = 10.0 / math.sqrt(max(total, 1.0))
    a = np.vstack([a, ws * np.asarray(lengths, dtype=float)[cols]])
    b = np.append(b, ws * total)
    sol, _ = optimize.nnls(a, b)
    n = np.zeros(len(lengths))
    n[cols] = sol
    got = float((n * np.asarray(lengths)).sum())
    return n, (got - total) / total if total > 0 else 0.0


# ---------------------------------------------------------------------------
# calibrate


def calibrate(profile: Any, *, config: Any = None, settings: Any = None,
              seed: int = 0, iterations: int = 2, fixed: dict | None = None
              ) -> CalibratedWorkload:
    """Recover the workload that generated a profile's data (see the module docstring).

    Parameters
    ----------
    profile
        A :class:`~specanalysis.profile.WorkloadProfile` (the more of the offered-load
        and pipeline-timing metrics it holds, the more is recovered; what it lacks
        keeps the simulator's defaults and is listed in ``notes``).
    config
        The configuration the runtime ran with; the data's configuration gauges
        override it parameter by parameter (strings such as ``rollback_policy``
        have no gauge: pass them here). Default: the runtime defaults, enabled.
    settings
        Simulator settings to start from (``batch_timeout`` is fitted).
    seed
        Seed of the calibration's own simulations.
    iterations
        Rounds of the chain-length fit (each re-takes the responses at the fitted mix).
    fixed
        Workload fields to take as given (not fitted), e.g. ``{"depth": "fixed:3"}``.

    Returns
    -------
    CalibratedWorkload
    """
    from specanalysis.config import SpeculationConfig
    from specanalysis.sim import Workload, simulate
    from specanalysis.sim.engine import SimSettings

    fixed = dict(fixed or {})
    rows: list[tuple] = []
    notes: list[str] = []
    base = config if config is not None else SpeculationConfig(enabled=True)
    if isinstance(base, str):
        base = SpeculationConfig.from_toml(base)
    cfg = profile.measured_config(base)
    if not profile.config_gauges:
        notes.append("the data has no configuration gauges: simulating "
                     + ("the configuration passed" if config is not None
                        else "the runtime defaults with speculation enabled"))
    settings = settings or SimSettings()

    # --- window, warm-up
    window = (profile.at - profile.start).total_seconds()
    warm = 0.0
    if profile.data_range is not None:
        first = profile.data_range[0]
        if profile.start > first:
            warm = min((profile.start - first).total_seconds(), 600.0)
        else:
            window = (profile.at - first).total_seconds()
    step = profile.scrape_interval_s if math.isfinite(profile.scrape_interval_s) else 15.0
    duration = max(window, step)

    fields: dict[str, Any] = {}
    # --- instances
    n_inst = max(1, len(profile.instances))
    fields["instances"] = n_inst
    _param(rows, "instances", n_inst, float("nan"), str(n_inst),
           "instance labels seen" if profile.instances else "no instance label: one")

    # --- rate and pattern (offered load)
    series = profile.offered_series
    if series is not None and series.height:
        x = series["tasks"].to_numpy()
        t_first = series["timestamp"][0] - timedelta(seconds=step)
        offset = warm + (t_first - profile.start).total_seconds() if warm else 0.0
        if not warm and profile.data_range is not None:
            offset = (t_first - profile.data_range[0]).total_seconds()
        rate, pattern, evidence = detect_pattern(x, step, offset=max(offset, 0.0))
        source = ("offered (scheduled) tasks" if SCHEDULED
                  not in profile.missing else "execution attempts (no scheduled counter)")
        if rate > 0:
            fields["rate"] = rate
            fields["pattern"] = pattern
            se = math.sqrt(max(float(x.sum()), 1.0)) / (len(x) * step)
            _param(rows, "rate", rate, se, f"{rate:.6g}/s", f"{source}; {evidence}")
            _param(rows, "pattern", float("nan"), float("nan"), pattern, evidence)
        if source.startswith("execution"):
            notes.append("no speculation_tasks_scheduled_total: the rate is measured on "
                         "executions, which the runtime's queues shape")
    else:
        notes.append("no task counter series: simulator default rate kept")

    # --- timings
    exec_fit = _fit_time(profile, EXECUTION, rows, "exec_time", notes)
    if exec_fit is not None:
        fields["exec_time"] = exec_fit.spec
    conf_fit = _fit_time(profile, CONFIRM, rows, "confirm_time", notes)
    if conf_fit is not None:
        fields["confirm_time"] = conf_fit.spec
    batch_fit = _fit_time(profile, BATCH_DURATION, rows, "batch_time", notes)
    if batch_fit is not None:
        split = _split_batch_cost(profile, batch_fit.mean, batch_fit.cv, rows, notes)
        if split is not None:
            fields["proof_overhead"], fields["proof_time"] = split

    # --- failures
    inv = 0.0
    reasons = profile.rollback_reasons
    if reasons.height:
        inv = float(reasons.filter(pl.col("reason") == "proof_invalid")["events"].sum())
    cs = profile.counter_series
    confirmed = (float(cs["confirmed"].drop_nulls().sum())
                 if cs is not None and "confirmed" in cs.columns else float("nan"))
    if math.isfinite(confirmed) and confirmed + inv > 0 and reasons.height:
        fail = inv / (confirmed + inv)
        se = math.sqrt(fail * (1 - fail) / (confirmed + inv))
        fields["failures"] = fail
        _param(rows, "failures", fail, se, f"{fail:.4g}",
               "proof_invalid rollbacks / (confirmed + proof_invalid)")
    else:
        notes.append("failures: no rollback or confirmation counters; default kept")

    # --- snapshot size
    snap = profile.value("snapshot_mb") if "snapshot_mb" in profile.figures else math.nan
    if math.isfinite(snap) and snap > 0:
        fields["state_mb"] = snap
        _param(rows, "state_mb", snap, float("nan"), f"{snap:.4g}",
               "snapshot memory / in-flight speculative tasks")

    fields.update(fixed)
    workload = Workload(**fields)

    def run(wl: Any, st: Any, s: int) -> Any:
        return simulate(cfg, wl, duration=duration + warm, seed=s, settings=st,
                        progress=False)

    # --- chain lengths
    observed = _observed_depths(profile)
    total = (float(series["tasks"].sum()) if series is not None and series.height
             else float("nan"))
    chains_ok = "depth" not in fixed and bool(observed) and math.isfinite(total) \
        and total > 0
    if not chains_ok and "depth" not in fixed:
        notes.append("chain lengths: no depth histogram or offered total; default kept")
    proof_h = profile.histograms.get(PROOF)
    timeout_ok = (bool(proof_h) and proof_h["count"] > 0 and "proof_time" in fields
                  and "batch_timeout" not in fixed)
    if chains_ok and timeout_ok:
        # a first mix, so the fill wait is fitted at about the right load
        workload = _fit_chains(profile, workload, cfg, settings, run, observed, total,
                               1, seed + 50, [], [], warm)
    if timeout_ok:
        settings = _fit_batch_timeout(workload, settings, run, proof_h["sum"]
                                      / proof_h["count"], seed, rows, notes, warm)
    if chains_ok:
        start = workload.depth if isinstance(workload.depth, dict) else None
        workload = _fit_chains(profile, workload, cfg, settings, run, observed, total,
                               iterations, seed, rows, notes, warm, start=start)

    batch_h = profile.histograms.get(BATCH_DURATION)
    if (batch_h and batch_h["count"] > 0 and "proof_overhead" in fields
            and "proof_overhead" not in fixed):
        workload = _fit_overhead_spread(workload, settings, run, batch_h["buckets"],
                                        seed, rows, warm)

    if observed or (proof_h and proof_h["count"] > 0):
        fit = _diagnostic(profile, workload, settings, run, seed, warm, observed, total)
    else:
        fit = pl.DataFrame(schema={"statistic": pl.String, "observed": pl.Float64,
                                   "simulated": pl.Float64})
    params = pl.DataFrame(rows, schema=_PARAM_SCHEMA, orient="row")
    return CalibratedWorkload(workload, cfg, settings, duration, params, fit,
                              tuple(notes), profile)


def _window(result: Any, warm: float) -> Any:
    """The part of a run after the warm-up, with times shifted to start at 0."""
    waits = np.asarray(result.log.wait_t, dtype=np.float64)
    tasks = result.tasks.filter(pl.col("exec_start") >= warm)
    chains = result.chains.filter(pl.col("arrived") >= warm)
    rollbacks = result.rollbacks.filter(pl.col("time") >= warm)
    return _Window(tasks.with_columns(pl.col("exec_start") - warm,
                                      pl.col("finalized") - warm),
                   chains.with_columns(pl.col("arrived") - warm),
                   result.duration - warm, waits[waits >= warm] - warm,
                   rollbacks.with_columns(pl.col("time") - warm))


@dataclass
class _Window:
    tasks: pl.DataFrame
    chains: pl.DataFrame
    duration: float
    wait_times: np.ndarray
    rollbacks: pl.DataFrame


def _fit_chains(profile, workload, cfg, settings, run, observed, total, iterations,
                seed, rows, notes, warm, start=None):
    dmax = max(max(observed) + 1, cfg.max_depth)
    obs = np.array([observed.get(d, 0.0) for d in range(dmax)])
    waits = profile.histograms.get(DEFERRAL_WAIT)
    deferred_attempts = (float(waits["count"]) if waits and waits["count"] >= 0
                         else float("nan"))
    def buckets(family: str) -> tuple[np.ndarray | None, list[float]]:
        h = profile.histograms.get(family)
        if h and h["buckets"].height and h["count"] > 0:
            return h["buckets"]["upper"].to_numpy(), h["buckets"]["count"].to_list()
        return None, []

    edges, lat_obs = buckets(E2E)
    c_edges, casc_obs = buckets(CASCADE)
    deferred = profile.deferrals
    top = max(observed) + 1
    if deferred.height and deferred["depth"].drop_nulls().len():
        top = max(top, int(deferred["depth"].drop_nulls().max()) + 1)
    lmax = top + 2
    # auto-disable switches speculation off for minutes at random moments: average
    # the responses over more runs, and iterate more, when the data shows it
    disabled = profile.figures.get("auto_disabled_share")
    flapping = disabled is not None and disabled.available and disabled.value > 0
    repeats = 2 if flapping else 1
    if flapping:
        iterations += 1
        notes.append(f"speculation was auto-disabled {disabled.value:.3g} % of the time: "
                     "the chain-length fit averages two runs per step (its responses "
                     "depend on when auto-disable trips)")
    current: dict[int, float] | None = dict(start) if start else None
    if current:
        lmax = max(lmax, max(current))
    rel = 0.0
    for attempt in range(3):
        lengths = list(range(1, lmax + 1))
        for it in range(max(iterations, 1)):
            uniform = {L: 1.0 / len(lengths) for L in lengths}
            if current is None:
                design = uniform
            else:
                design = {L: 0.8 * current.get(L, 0.0) + 0.2 * uniform[L]
                          for L in lengths}
            wl = replace(workload, depth={k: v for k, v in design.items() if v > 0})
            resp = ok = None
            for rep in range(repeats):
                res = _window(run(wl, settings, seed + 101 * it + 7 * attempt
                                  + 1009 * rep), warm)
                r1, ok1 = _responses(res, lengths, dmax, edges, c_edges)
                resp = r1 if resp is None else resp + r1
                ok = ok1 if ok is None else ok & ok1
            resp = resp / repeats
            cols = list(range(dmax))
            target = list(obs)
            if math.isfinite(deferred_attempts):
                cols.append(dmax)
                target.append(deferred_attempts)
            nxt = dmax + 1
            for e, o in ((edges, lat_obs), (c_edges, casc_obs)):
                if e is not None:
                    cols.extend(range(nxt, nxt + len(e)))
                    target.extend(o)
                    nxt += len(e)
            n, rel = _solve_chains(resp[:, cols], ok, lengths, np.asarray(target),
                                   total)
            if n.sum() <= 0:
                break
            probs = n / n.sum()
            current = {L: float(p) for L, p in zip(lengths, probs, strict=True)
                       if p > 0.002}
            s = sum(current.values())
            current = {k: v / s for k, v in current.items()}
        if abs(rel) <= 0.03 or lmax >= 64:
            break
        lmax = min(lmax * 2, 64)
    if not current:
        notes.append("chain lengths: the fit found no solution; default kept")
        return workload
    mean = sum(k * v for k, v in current.items())
    spec = ",".join(f"{k}={v:.4g}" for k, v in sorted(current.items()))
    cens = profile.figures.get("depth_censored_share")
    how = ("simulated executed-depth responses per chain length, non-negative least "
           f"squares on {len(obs)} depth counts and the offered total (total off by "
           f"{100 * rel:+.1f} %)")
    if cens is not None and cens.available and cens.value > 0:
        how += (f"; {cens.value:.3g} % of tasks were deferred for depth: lengths beyond "
                "the cap rest on the offered total (their mean is identified, their "
                "spread is not)")
    _param(rows, "chain_length_mean", mean, float("nan"), "choice:" + spec, how)
    return replace(workload, depth=current)


def _fit_batch_timeout(workload, settings, run, observed_mean, seed, rows, notes, warm):
    grid = [0.0, 0.5, 1.0, 2.0, 4.0]
    means = []
    for i, bt in enumerate(grid):
        res = run(workload, replace(settings, batch_timeout=bt), seed + 500 + i)
        v = res.log.proof_v
        t = res.log.proof_t
        v = v[t >= warm] if warm else v
        means.append(float(np.mean(v)) if len(v) else float("nan"))
    m = np.array(means)
    if not np.all(np.isfinite(m)) or np.ptp(m) < 0.02 * observed_mean:
        notes.append("batch_timeout: the proof time does not depend on it at this load; "
                     f"kept at {settings.batch_timeout:g} s")
        return settings
    # the simulated mean rises with the timeout; interpolate where it meets the data
    order = np.argsort(m)
    bt = float(np.interp(observed_mean, m[order], np.asarray(grid)[order]))
    _param(rows, "batch_timeout", bt, float("nan"), f"{bt:.3g}s",
           f"simulated mean proof time {m.min():.3g}-{m.max():.3g} s over timeouts "
           f"0-4 s, matched to the measured {observed_mean:.3g} s (_sum/_count)")
    return replace(settings, batch_timeout=bt)


def _fit_overhead_spread(workload, settings, run, buckets, seed, rows, warm):
    """The batch overhead's cv that best reproduces the batch-time bucket counts, given
    the batch sizes the simulator forms (Monte Carlo, multinomial likelihood)."""
    res = run(workload, settings, seed + 700)
    k = np.asarray(res.log.batch_k, dtype=np.int64)
    k = k[np.asarray(res.log.batch_t) >= warm] if warm else k
    if len(k) < 20:
        return workload
    over = workload.dist("proof_overhead")
    proof = workload.dist("proof_time")
    edges = buckets["upper"].to_numpy()
    counts = buckets["count"].to_numpy()
    rng = np.random.default_rng(seed + 701)
    kk = np.repeat(k, max(1, 20000 // len(k)))
    per = np.array([proof.sample(rng, int(n)).sum() for n in kk])
    z = rng.standard_normal(len(kk))
    best = (-math.inf, over.cv)
    for cv in np.arange(0.02, 0.81, 0.02):
        s2 = math.log1p(cv * cv)
        o = np.exp(math.log(over.mean) - s2 / 2 + math.sqrt(s2) * z)
        b = np.minimum(np.searchsorted(edges, o + per, side="left"), len(edges) - 1)
        prob = np.bincount(b, minlength=len(edges)) / len(b)
        ll = float((counts * np.log(np.maximum(prob, 1e-9))).sum())
        if ll > best[0]:
            best = (ll, float(cv))
    cv = best[1]
    spec = f"lognormal:mean={over.mean:.6g}s,cv={cv:.3g}"
    for i, r in enumerate(rows):
        if r[0] == "proof_overhead_mean":
            rows[i] = (r[0], r[1], r[2], spec, r[4] + "; cv by Monte Carlo likelihood of "
                       "the batch-time buckets at the simulated batch sizes")
    return replace(workload, proof_overhead=spec)


def _diagnostic(profile, workload, settings, run, seed, warm, observed, total):
    rows = []
    try:
        res = run(workload, settings, seed + 999)
    except Exception:  # noqa: BLE001 - a diagnostic must not break calibration
        return pl.DataFrame(schema={"statistic": pl.String, "observed": pl.Float64,
                                    "simulated": pl.Float64})
    win = _window(res, warm)
    dur = win.duration
    if math.isfinite(total):
        arrived = win.chains.filter(pl.col("arrived") < dur)["length"].sum()
        rows.append(("offered tasks", total, float(arrived)))
    if observed:
        tk = win.tasks.filter(pl.col("exec_start") < dur)
        obs_mean = sum(d * c for d, c in observed.items()) / max(sum(observed.values()), 1)
        rows.append(("executed depth mean", obs_mean, float(tk["depth"].mean() or 0.0)))
    proof_h = profile.histograms.get(PROOF)
    if proof_h and proof_h["count"] > 0:
        v = res.log.proof_v[res.log.proof_t >= warm] if warm else res.log.proof_v
        rows.append(("proof mean (s)", proof_h["sum"] / proof_h["count"],
                     float(np.mean(v)) if len(v) else float("nan")))
    return pl.DataFrame(rows, schema={"statistic": pl.String, "observed": pl.Float64,
                                      "simulated": pl.Float64}, orient="row")
