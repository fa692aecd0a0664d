"""Rollbacks against depth: the per-task failure probability, blast radius, how deep.

Failure model (runtime-facts §4, *derived*): every execution attempt's proof is
invalid with probability ``p``, independently. Under the ``cascade`` policy an
attempt that starts at depth ``d`` (``d`` unconfirmed ancestors, the DD reading)
is rolled back when its own proof or any of those ``d`` ancestors' proofs fails:

    P(rolled back | d) = 1 - (1 - p) ** (d + 1)

(the whitepaper's ``1 - (1 - p) ** d`` counts depth as the task's own level,
root = 1). With the complementary log-log link this is linear:
``cloglog(P) = log(-log(1 - p)) + log(d + 1)``, so a binomial GLM with offset
``log(d + 1)`` recovers ``p`` directly (:func:`fit_rollback`); ``exposure="free"``
estimates the coefficient of ``log(d + 1)`` too (1 under independence).

Attempts of one chain share ancestors, so standard errors are cluster-robust by
chain when the data say which chain an attempt belongs to.

The depth trade-off (:func:`depth_curve`, :func:`optimal_depth`): deeper
speculation shortens a chain's latency (the pipeline of
:mod:`specanalysis.models.pipeline`) but each failure then undoes more executed
descendants. The curve is computed by Monte Carlo from the chain recurrence with
failures: a failed attempt is detected at its confirmation, re-executes after
the retry delay, and undoes the descendants that had started on it. The best
depth maximises effective throughput ``(confirmed - rolled-back tasks) /
latency`` per chain (or minimises expected latency), and its interval collects
every depth that is best for some ``p`` in the GLM's interval or within Monte
Carlo noise of the best.

Examples
--------
>>> expected_wasted_work(0.02, 3, 2.0, 10_000)  # WP §7.2.1: 0.12 s + 0.6 KB
(0.12, 600.0)
>>> round(rollback_probability(0.02, 4), 4)  # depth 4: own proof + 4 ancestors
0.0961
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
import polars as pl

from specanalysis.catalogue import CONFIRM, DEPTH, EXECUTION, PROOF, ROLLED_BACK, TASKS
from specanalysis.errors import DataError
from specanalysis.models import _sm
from specanalysis.models._result import fmt, format_tidy, html_block, tidy_frame

__all__ = [
    "ModelWarning",
    "rollback_probability",
    "expected_wasted_work",
    "rollback_observations",
    "fit_rollback",
    "RollbackFit",
    "blast_radius",
    "BlastRadius",
    "depth_curve",
    "optimal_depth",
    "DepthChoice",
    "predict_at_depth",
]


class ModelWarning(UserWarning):
    """A fit that ran but whose data cannot support every statement it makes."""


def rollback_probability(p_fail: float, depth: Any) -> Any:
    """``1 - (1 - p) ** (depth + 1)``: an attempt at ``depth`` is rolled back."""
    d = np.asarray(depth, dtype=np.float64)
    out = 1.0 - (1.0 - p_fail) ** (d + 1.0)
    return float(out) if out.ndim == 0 else out


def expected_wasted_work(p_fail: float, k: float, exec_time: float,
                         snapshot_bytes: float = 0.0) -> tuple[float, float]:
    """WP §7.2.1: ``E[C] = P(fail) (k T_exec + k Mem_snapshot)`` per speculation.

    Returns ``(seconds, bytes)`` of expected wasted execution and snapshot memory
    for a speculation ``k`` levels deep.
    """
    if not 0 <= p_fail <= 1:
        raise DataError(f"{p_fail!r} is not a probability", field="p_fail",
                        expected="a number in [0, 1]")
    return (round(p_fail * k * exec_time, 12), round(p_fail * k * snapshot_bytes, 9))


# --------------------------------------------------------------------------- data


def rollback_observations(data: Any, *, reasons: Sequence[str] | None = None
                          ) -> pl.DataFrame:
    """Binomial observations ``depth``, ``trials``, ``events``, ``group``.

    ``data``: a :class:`~specanalysis.sim.SimResult` (or a list; one row per
    chain and depth, events = attempts rolled back), a frame with ``depth`` and
    either ``rolled_back`` (bool, one row per attempt) or ``trials``/``events``
    (or ``tasks``/``rolled_back_tasks``) counts, or a samples frame with
    counters labelled by ``depth`` (``*tasks_total`` and ``*rolled_back*``).
    ``reasons`` restricts which rollback reasons count (simulator input).
    """
    from specanalysis.sim.engine import SimResult

    runs = [data] if isinstance(data, SimResult) else (
        list(data) if isinstance(data, list | tuple) and data and all(
            isinstance(d, SimResult) for d in data) else None)
    if runs is not None:
        parts, offset = [], 0
        for r in runs:
            t = r.tasks.filter(pl.col("outcome") != "in_flight")
            ev = pl.col("outcome") == "rolled_back"
            if reasons is not None:
                ev = ev & pl.col("reason").is_in(list(reasons))
            g = (t.group_by("chain_id", "depth")
                 .agg(pl.len().cast(pl.Float64).alias("trials"),
                      ev.sum().cast(pl.Float64).alias("events"))
                 .select(pl.col("depth").cast(pl.Int64), "trials", "events",
                         (pl.col("chain_id") + offset).alias("group")))
            parts.append(g)
            offset += r.chains.height + 1
        return pl.concat(parts).sort("group", "depth")
    if isinstance(data, pl.DataFrame):
        if "metric" in data.columns and "value" in data.columns:
            return _counter_observations(data)
        if "depth" not in data.columns:
            raise DataError("no depth column", field="depth",
                            expected="a depth column (unconfirmed ancestors)")
        grp = (data["group"] if "group" in data.columns else data["chain_id"]
               if "chain_id" in data.columns else
               pl.Series(np.arange(data.height)))
        if "rolled_back" in data.columns and data["rolled_back"].dtype == pl.Boolean:
            trials = pl.Series(np.ones(data.height))
            events = data["rolled_back"].cast(pl.Float64)
        else:
            tcol = "trials" if "trials" in data.columns else "tasks"
            ecol = "events" if "events" in data.columns else "rolled_back_tasks"
            if tcol not in data.columns or ecol not in data.columns:
                raise DataError("no counts", field="data",
                                expected="rolled_back (bool) or trials/events "
                                "(tasks/rolled_back_tasks) columns")
            trials, events = data[tcol].cast(pl.Float64), data[ecol].cast(pl.Float64)
        out = pl.DataFrame({"depth": data["depth"].cast(pl.Int64),
                            "trials": trials, "events": events,
                            "group": grp.cast(pl.Int64)})
        if out.height > 100_000:  # one row per chain and depth: same fit, less work
            out = (out.group_by("group", "depth")
                   .agg(pl.col("trials").sum(), pl.col("events").sum())
                   .select("depth", "trials", "events", "group"))
        return out
    raise DataError(f"cannot read rollback observations from {type(data).__name__}",
                    field="data", expected="a SimResult, a polars frame or a samples "
                    "frame with counters by depth")


def _counter_observations(samples: pl.DataFrame) -> pl.DataFrame:
    if "depth" not in samples.columns:
        raise DataError("no counter carries a depth label", field="depth",
                        expected="tasks and rolled-back-task counters labelled by "
                        "depth; without them use depth_mixture_p() on the depth "
                        "histogram")
    f = samples.filter(pl.col("depth").is_not_null())
    names = f["metric"].unique().to_list()
    tasks = [m for m in names if m.endswith("tasks_total") and "rolled" not in m]
    rolled = [m for m in names if "rolled_back" in m and m.endswith("_total")]
    if len(tasks) != 1 or len(rolled) != 1:
        raise DataError(f"found task counters {tasks} and rolled-back counters "
                        f"{rolled} labelled by depth", field="metric",
                        expected="exactly one of each")

    def inc(name: str) -> pl.DataFrame:
        return (f.filter(pl.col("metric") == name).sort("timestamp")
                .group_by("depth", maintain_order=True)
                .agg(pl.col("value").diff().clip(lower_bound=0).sum().alias("v")))
    j = inc(tasks[0]).join(inc(rolled[0]), on="depth", how="left", suffix="_rb")
    j = j.filter(pl.col("v") > 0)
    return pl.DataFrame({"depth": j["depth"].cast(pl.Float64).cast(pl.Int64),
                         "trials": j["v"], "events": j["v_rb"].fill_null(0.0),
                         "group": pl.Series(np.arange(j.height), dtype=pl.Int64)})


# --------------------------------------------------------------------------- GLM


@dataclass(frozen=True)
class RollbackFit:
    """Binomial GLM (cloglog link) of "attempt rolled back" against depth.

    ``p_fail`` is the per-attempt failure probability with its interval
    (``p_interval``); ``exposure_coef`` is the coefficient of ``log(depth + 1)``
    (fixed at 1 for ``exposure="cascade"``).
    """

    observations: pl.DataFrame = field(repr=False)
    params: np.ndarray = field(repr=False)
    cov: np.ndarray = field(repr=False)
    ci: np.ndarray = field(repr=False)
    exposure: str = "cascade"
    cov_type: str = "cluster"
    confidence: float = 0.95
    deviance: float = math.nan
    pearson_chi2: float = math.nan
    notes: tuple[str, ...] = ()

    @property
    def p_fail(self) -> float:
        return _p_from_eta(self.params[0])

    @property
    def p_interval(self) -> tuple[float, float]:
        return _p_from_eta(self.ci[0, 0]), _p_from_eta(self.ci[0, 1])

    @property
    def exposure_coef(self) -> float:
        return float(self.params[1]) if self.exposure == "free" else 1.0

    def _z(self) -> float:
        return NormalDist().inv_cdf(0.5 + self.confidence / 2)

    def tidy(self) -> pl.DataFrame:
        """``p_fail`` (per attempt), ``cloglog_intercept``, ``log_exposure``."""
        lo, hi = self.p_interval
        se0 = math.sqrt(self.cov[0, 0])
        # delta method for the standard error of p
        e = math.exp(self.params[0])
        se_p = math.exp(-e) * e * se0
        rows = [("p_fail", self.p_fail, se_p, lo, hi),
                ("cloglog_intercept", self.params[0], se0, self.ci[0, 0], self.ci[0, 1])]
        if self.exposure == "free":
            rows.append(("log_exposure", self.params[1], math.sqrt(self.cov[1, 1]),
                         self.ci[1, 0], self.ci[1, 1]))
        else:
            rows.append(("log_exposure", 1.0, 0.0, 1.0, 1.0))
        return tidy_frame(rows)

    def predict(self, new: Any) -> pl.DataFrame:
        """P(rolled back) at each depth (a number, list, or frame with ``depth``)
        with its interval, and the observed share where the data have that depth."""
        d = _depths(new)
        x = np.log(d + 1.0)
        X = np.column_stack([np.ones_like(x), x]) if self.exposure == "free" \
            else np.ones((len(d), 1))
        off = 0.0 if self.exposure == "free" else x
        eta = X @ self.params + off
        se = np.sqrt(np.einsum("ij,jk,ik->i", X, self.cov, X))
        z = self._z()
        obs = (self.observations.group_by("depth")
               .agg(pl.col("trials").sum(), pl.col("events").sum()))
        out = pl.DataFrame({"depth": d.astype(np.int64),
                            "estimate": _p_from_eta(eta), "std_error": se * np.exp(
                                -np.exp(eta)) * np.exp(eta),
                            "ci_low": _p_from_eta(eta - z * se),
                            "ci_high": _p_from_eta(eta + z * se)})
        return out.join(obs.with_columns(observed=pl.col("events") / pl.col("trials")),
                        on="depth", how="left").sort("depth")

    def summary(self) -> str:
        lo, hi = self.p_interval
        obs = self.observations
        lines = [f"Rollbacks against depth: binomial GLM, cloglog link, exposure "
                 f"{self.exposure} ({int(obs['trials'].sum())} attempts, "
                 f"{int(obs['events'].sum())} rolled back, "
                 f"{obs['depth'].n_unique()} depths, cov {self.cov_type})",
                 f"per-attempt failure probability p = {fmt(self.p_fail)} "
                 f"[{fmt(lo)}, {fmt(hi)}] ({self.confidence:.0%})",
                 "P(rolled back | depth d) = 1 - (1 - p)^(d + 1)"
                 if self.exposure == "cascade" else
                 f"P(rolled back | d) = 1 - (1 - p)^((d + 1)^{fmt(self.exposure_coef)})",
                 "", format_tidy(self.tidy())]
        if self.notes:
            lines += ["", *[f"- {n}" for n in self.notes]]
        return "\n".join(lines)

    def __repr__(self) -> str:
        lo, hi = self.p_interval
        return f"RollbackFit(p_fail={fmt(self.p_fail)} [{fmt(lo)}, {fmt(hi)}])"

    def _repr_html_(self) -> str:
        return html_block("Rollbacks against depth (binomial GLM, cloglog)",
                          self.tidy(), self.notes)

    def plot_frame(self) -> pl.DataFrame:
        """Per observed depth: ``depth``, ``observed`` share with a Wilson
        interval (``obs_low``, ``obs_high``), the fitted ``estimate`` and band."""
        p = self.predict(np.sort(self.observations["depth"].unique().to_numpy()))
        z = self._z()
        n, k = p["trials"].to_numpy(), p["events"].to_numpy()
        ph = k / n
        den = 1 + z**2 / n
        mid = (ph + z**2 / (2 * n)) / den
        half = z * np.sqrt(ph * (1 - ph) / n + z**2 / (4 * n**2)) / den
        return p.with_columns(obs_low=pl.Series(mid - half), obs_high=pl.Series(
            mid + half))

    def plot(self, **kwargs: Any) -> Any:
        """Observed rollback share by depth with the fitted curve and band."""
        from specanalysis._optional import require

        require("hvplot.polars")
        f = self.plot_frame()
        band = f.hvplot.area(x="depth", y="ci_low", y2="ci_high", alpha=0.25,
                             label="fit (interval)")
        line = f.hvplot.line(x="depth", y="estimate", label="1 - (1 - p)^(d + 1)")
        pts = f.hvplot.scatter(x="depth", y="observed", label="observed", size=50)
        return (band * line * pts).opts(title="Rollback share against depth",
                                        ylabel="P(rolled back)", **kwargs)

    def predict_at_depth(self, max_depth: int, **times: Any) -> dict[str, Any]:
        """Predicted rollback share and latency for ``max_depth`` (see
        :func:`predict_at_depth`), with this fit's ``p`` and interval."""
        return predict_at_depth(max_depth, p_fail=self.p_fail,
                                p_interval=self.p_interval, **times)

    def optimal_depth(self, **kwargs: Any) -> DepthChoice:
        """:func:`optimal_depth` with this fit's ``p`` and interval."""
        return optimal_depth(p_fail=self.p_fail, p_interval=self.p_interval, **kwargs)


def _depths(new: Any) -> np.ndarray:
    if isinstance(new, pl.DataFrame):
        if "depth" not in new.columns:
            raise DataError("no depth column", field="new", expected="a depth column")
        return new["depth"].cast(pl.Float64).to_numpy()
    if isinstance(new, int | float | np.integer):
        new = [new]
    d = np.asarray(new, dtype=np.float64)
    if np.any(d < 0) or not np.all(np.isfinite(d)):
        raise DataError("depths must be finite and >= 0", field="depth",
                        expected="integers >= 0")
    return d


def _p_from_eta(eta: Any) -> Any:
    out = -np.expm1(-np.exp(np.asarray(eta, dtype=np.float64)))
    return float(out) if np.ndim(out) == 0 else out


def fit_rollback(data: Any, *, exposure: str = "cascade", cov_type: str | None = None,
                 confidence: float = 0.95, reasons: Sequence[str] | None = None
                 ) -> RollbackFit:
    """Fit ``P(rolled back | depth)`` with a binomial GLM and a cloglog link.

    Parameters
    ----------
    data
        See :func:`rollback_observations`.
    exposure
        ``"cascade"``: offset ``log(depth + 1)``, one parameter (``p``);
        ``"free"``: its coefficient is estimated too (a check of the
        independence assumption; 1 when it holds).
    cov_type
        ``None``: cluster-robust by chain when rows share chains, else the
        model-based covariance; or ``nonrobust``, ``HC0``, ``HC1``, ``cluster``.
    reasons
        Rollback reasons that count (simulator input; default all).

    Raises
    ------
    DataError
        No attempts, no rollbacks at all (``p`` has no estimate: the message
        gives the rule-of-three bound), rollbacks in every attempt, a single
        depth with ``exposure="free"``.

    Examples
    --------
    >>> import polars as pl
    >>> d = pl.DataFrame({"depth": [0, 1, 2, 3], "trials": [1e4] * 4,
    ...                   "events": [1e4 * (1 - 0.95 ** (k + 1)) for k in range(4)]})
    >>> round(fit_rollback(d).p_fail, 6)
    0.05
    """
    if exposure not in ("cascade", "free"):
        raise DataError(f"unknown exposure {exposure!r}", field="exposure",
                        expected="'cascade' or 'free'")
    obs = rollback_observations(data, reasons=reasons)
    n_tr, n_ev = float(obs["trials"].sum()), float(obs["events"].sum())
    if n_tr <= 0:
        raise DataError("no attempts", field="data", expected="finished attempts")
    if obs.select((pl.col("events") > pl.col("trials")) | (pl.col("events") < 0)
                  ).to_series().any():
        raise DataError("more rolled-back attempts than attempts at some depth",
                        field="events", expected="0 <= events <= trials")
    if n_ev == 0:
        raise DataError(f"no rollbacks in {n_tr:.0f} attempts: p cannot be estimated "
                        f"(95 % upper bound by the rule of three: {3 / n_tr:.3g})",
                        field="events", expected="at least one rolled-back attempt")
    if n_ev == n_tr:
        raise DataError(f"all {n_tr:.0f} attempts were rolled back", field="events",
                        expected="some attempts that were not rolled back")
    notes = []
    levels = obs["depth"].n_unique()
    if levels < 2:
        if exposure == "free":
            raise DataError(f"every attempt is at depth {obs['depth'][0]}",
                            field="depth", expected="two or more depths to estimate "
                            "the exposure coefficient")
        msg = (f"every attempt is at depth {obs['depth'][0]}: p rests on the cascade "
               "assumption alone, which this data cannot check")
        warnings.warn(msg, ModelWarning, stacklevel=2)
        notes.append(msg)
    repeated = obs.group_by("group").len()["len"].max() > 1
    ct = cov_type or ("cluster" if repeated else "nonrobust")
    x = np.log(obs["depth"].cast(pl.Float64).to_numpy() + 1.0)
    X = pl.DataFrame({"const": np.ones(obs.height)})
    if exposure == "free":
        X = X.with_columns(log_exposure=pl.Series(x))
    f = _sm.fit("glm_cloglog", obs["events"], X, trials=obs["trials"],
                offset=None if exposure == "free" else x, cov_type=ct,
                groups=obs["group"].to_numpy(), confidence=confidence,
                what="rollback GLM")
    if not f.extra.get("converged", True):
        notes.append("the GLM did not converge; treat the estimates with care")
    df = max(obs.height - len(f.params), 1)
    if ct != "cluster" and f.extra.get("pearson_chi2", 0) / df > 1.5:
        notes.append(f"Pearson chi2/df = {f.extra['pearson_chi2'] / df:.2f}: "
                     "overdispersed (attempts are not independent); use "
                     "cov_type='cluster' with chain ids")
    if exposure == "free":
        b, lo, hi = f.params[1], f.ci[1, 0], f.ci[1, 1]
        if not lo <= 1.0 <= hi:
            notes.append(f"exposure coefficient {b:.3f} [{lo:.3f}, {hi:.3f}] excludes 1:"
                         " rollbacks are not independent per-ancestor failures "
                         "(selective policy, timeouts or correlated failures)")
    return RollbackFit(obs, f.params, f.cov, f.ci, exposure, ct, confidence,
                       f.extra.get("deviance", math.nan),
                       f.extra.get("pearson_chi2", math.nan), tuple(notes))


def depth_mixture_p(depth_counts: Any, rolled_back: float, attempts: float,
                    *, confidence: float = 0.95) -> tuple[float, float, float]:
    """``p`` from aggregate counters: solve ``sum_d w_d (1 - (1 - p)^(d+1)) =
    rolled_back / attempts`` with the depth mix ``w`` (e.g. the depth histogram).

    Returns ``(p, low, high)``; the interval maps a Wilson interval of the
    rolled-back share (attempts treated as independent: too narrow when chains
    are long). For data without depth-labelled counters.

    Examples
    --------
    >>> w = {0: 100, 1: 100}
    >>> p, lo, hi = depth_mixture_p(w, 100 * (0.05 + 1 - 0.95**2), 200)
    >>> round(p, 6)
    0.05
    """
    if isinstance(depth_counts, dict):
        d = np.asarray(list(depth_counts), dtype=np.float64)
        w = np.asarray(list(depth_counts.values()), dtype=np.float64)
    else:
        d, w = (np.asarray(x, dtype=np.float64) for x in depth_counts)
    if w.sum() <= 0 or attempts <= 0:
        raise DataError("no attempts in the depth mix", field="depth",
                        expected="a depth histogram with counts")
    w = w / w.sum()
    share = rolled_back / attempts
    if not 0 < share < 1:
        raise DataError(f"rolled-back share {share:.3g} is not strictly between 0 and 1",
                        field="rolled_back", expected="some but not all attempts "
                        "rolled back")

    def solve(s: float) -> float:
        lo, hi = 0.0, 1.0
        for _ in range(100):
            mid = (lo + hi) / 2
            if float(np.dot(w, 1 - (1 - mid) ** (d + 1))) < s:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    n = attempts
    den = 1 + z**2 / n
    mid = (share + z**2 / (2 * n)) / den
    half = z * math.sqrt(share * (1 - share) / n + z**2 / (4 * n**2)) / den
    return solve(share), solve(max(mid - half, 1e-12)), solve(min(mid + half, 1 - 1e-12))


# --------------------------------------------------------------------------- blast radius


@dataclass(frozen=True)
class BlastRadius:
    """Rollback sizes (trigger + undone descendants) by policy and trigger depth."""

    sizes: pl.DataFrame = field(repr=False)
    table: pl.DataFrame = field(repr=False)
    confidence: float = 0.95

    def tidy(self) -> pl.DataFrame:
        """Per policy and depth (``all`` pooled): mean size and p99 with intervals;
        columns ``policy``, ``depth`` (null for pooled), ``count``."""
        return self.table

    def summary(self) -> str:
        return "Blast radius by policy and trigger depth\n\n" + format_tidy(self.table)

    def __repr__(self) -> str:
        pooled = self.table.filter(pl.col("depth").is_null(), pl.col("term") == "p99")
        return "BlastRadius(" + ", ".join(
            f"{r['policy']}: p99 {fmt(r['estimate'])}" for r in pooled.iter_rows(
                named=True)) + ")"

    def _repr_html_(self) -> str:
        return html_block("Blast radius", self.table)

    def predict(self, new: Any) -> pl.DataFrame:
        """The p99 and mean at the requested depths (observed depths only)."""
        d = _depths(new).astype(np.int64)
        have = set(self.table["depth"].drop_nulls().to_list())
        missing = sorted(set(d.tolist()) - have)
        if missing:
            raise DataError(f"no rollbacks were observed at depth(s) {missing}",
                            field="depth", expected=f"one of {sorted(have)}")
        return self.table.filter(pl.col("depth").is_in(d.tolist()))

    def plot_frame(self) -> pl.DataFrame:
        """Rows with a depth (not pooled): ``policy``, ``depth``, ``term`` (mean,
        p99), ``estimate``, ``ci_low``, ``ci_high``."""
        return self.table.filter(pl.col("depth").is_not_null())

    def plot(self, **kwargs: Any) -> Any:
        from specanalysis._optional import require

        require("hvplot.polars")
        f = self.plot_frame().filter(pl.col("term") == "p99")
        return (f.hvplot.line(x="depth", y="estimate", by="policy")
                * f.hvplot.scatter(x="depth", y="estimate", by="policy")).opts(
            title="Blast radius p99 by trigger depth", ylabel="tasks undone (p99)",
            **kwargs)


def blast_radius(data: Any, *, confidence: float = 0.95) -> BlastRadius:
    """Distribution of rollback sizes against trigger depth and policy.

    ``data``: SimResults (the policy is their ``rollback_policy``) or a frame
    with ``size``, ``depth`` and optionally ``policy``. The p99 interval is
    distribution-free (binomial order statistics); with fewer than ~300
    rollbacks at a depth its upper end is the largest size seen.
    """
    from specanalysis.sim.engine import SimResult

    runs = [data] if isinstance(data, SimResult) else data
    if isinstance(runs, list | tuple) and runs and all(isinstance(r, SimResult)
                                                       for r in runs):
        sizes = pl.concat([r.rollbacks.select(
            "size", "depth", policy=pl.lit(r.config.rollback_policy)) for r in runs])
    elif isinstance(data, pl.DataFrame):
        if not {"size", "depth"} <= set(data.columns):
            raise DataError("no size/depth columns", field="data",
                            expected="columns size and depth (and policy)")
        sizes = data.select("size", "depth", policy=(
            pl.col("policy") if "policy" in data.columns else pl.lit("cascade")))
    else:
        raise DataError(f"cannot read rollbacks from {type(data).__name__}",
                        field="data", expected="SimResults or a frame")
    if sizes.height == 0:
        raise DataError("no rollbacks", field="data", expected="at least one rollback")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    rows = []
    groups = [(pol, None, g) for (pol,), g in sizes.group_by("policy")]
    groups += [(pol, d, g) for (pol, d), g in sizes.group_by("policy", "depth")]
    for pol, d, g in groups:
        x = np.sort(g["size"].cast(pl.Float64).to_numpy())
        n = len(x)
        m = float(x.mean())
        se = float(x.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
        rows.append((pol, d, "mean", m, se, m - z * se, m + z * se, n))
        est = float(np.quantile(x, 0.99))
        sd = math.sqrt(n * 0.99 * 0.01)
        lo = max(0, int(math.floor(n * 0.99 - z * sd)) - 1)
        hi = min(n - 1, int(math.ceil(n * 0.99 + z * sd)))
        rows.append((pol, d, "p99", est, None, float(x[lo]), float(x[hi]), n))
    t = pl.DataFrame(rows, schema={"policy": pl.String, "depth": pl.Int64,
                                   "term": pl.String, "estimate": pl.Float64,
                                   "std_error": pl.Float64, "ci_low": pl.Float64,
                                   "ci_high": pl.Float64, "count": pl.Int64},
                     orient="row")
    t = t.select("term", "estimate", "std_error", "ci_low", "ci_high", "policy",
                 "depth", "count").sort("policy", "depth", "term", nulls_last=True)
    return BlastRadius(sizes, t, confidence)


# --------------------------------------------------------------------------- depth


def _draw(spec: Any, name: str, rng: np.random.Generator, shape: tuple[int, ...]
          ) -> np.ndarray:
    from specanalysis.sim.workload import parse_distribution

    if isinstance(spec, int | float) and not isinstance(spec, bool):
        if not math.isfinite(spec) or spec < 0:
            raise DataError(f"{spec!r} is not a time", field=name,
                            expected="finite seconds >= 0")
        return np.full(shape, float(spec))
    d = parse_distribution(spec, field=name)
    return np.asarray(d.sample(rng, int(np.prod(shape))), dtype=np.float64).reshape(shape)


def _chain_lengths(chain_length: Any, rng: np.random.Generator, S: int) -> np.ndarray:
    from specanalysis.sim.workload import parse_depth

    if isinstance(chain_length, int | np.integer) and not isinstance(chain_length, bool):
        if chain_length < 1:
            raise DataError(f"{chain_length} is not a chain length",
                            field="chain_length", expected="an integer >= 1")
        return np.full(S, int(chain_length))
    return parse_depth(chain_length, field="chain_length").sample(rng, S)


def _simulate_chains(D: int | None, p: float, lengths: np.ndarray, te: np.ndarray,
                     tp: np.ndarray, tc: np.ndarray, te_w: np.ndarray, u: np.ndarray,
                     retry_delay: float, retry_multiplier: float, max_attempts: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Chain recurrence with failures (cascade). Returns latency, failed attempts,
    undone descendants and attempts per chain."""
    S, N = te.shape[0], int(lengths.max())
    F = np.full((S, N), np.nan)      # confirmation of each task's valid attempt
    xe_prev = np.zeros(S)            # execution end of the parent's valid attempt
    fails = np.zeros(S)
    wasted = np.zeros(S)
    ninf = -np.inf
    for i in range(N):
        alive = lengths > i
        if D is not None and i - D >= 0:
            gate = F[:, i - D]
        else:
            gate = np.full(S, ninf)
        s = np.maximum(xe_prev, gate) if i else np.zeros(S)
        f_par = F[:, i - 1] if i else np.full(S, ninf)
        done = ~alive
        fin = np.full(S, np.nan)
        xe_valid = np.zeros(S)
        nfail = np.zeros(S)
        for a in range(max_attempts):
            todo = ~done
            if not todo.any():
                break
            xe = s + te[:, i, a]
            pd = xe + tp[:, i, a]
            c = np.maximum(pd, f_par) + tc[:, i, a]
            bad = todo & (u[:, i, a] < p) & (a < max_attempts - 1)
            ok = todo & ~bad
            fin[ok] = c[ok]
            xe_valid[ok] = xe[ok]
            done |= ok
            if bad.any():
                # descendants that started on this failed attempt before c
                st = xe.copy()  # earliest start of the next descendant
                limit = (N - 1 - i) if D is None else min(D - 1, N - 1 - i)
                count = np.zeros(S)
                run = bad.copy()
                for m in range(1, limit + 1):
                    run &= lengths > i + m
                    if D is not None:
                        j = i + m - D
                        if j >= i:  # gated by this task or a descendant: not final
                            break
                        if j >= 0:
                            st = np.maximum(st, F[:, j])
                    run &= st < c
                    if not run.any():
                        break
                    count += run
                    st = st + te_w[:, i + m, a]
                wasted += np.where(bad, count, 0.0)
                nfail += bad
                s = np.where(bad, c + retry_delay * retry_multiplier ** (nfail - 1), s)
        fails += nfail
        F[:, i] = np.where(alive, fin, F[:, i - 1] if i else 0.0)
        xe_prev = np.where(alive, xe_valid, xe_prev)
    latency = F[np.arange(S), lengths - 1]
    attempts = lengths + fails + wasted
    return latency, fails, wasted, attempts


def depth_curve(*, exec_time: Any, proof_time: Any, confirm_time: Any, p_fail: float,
                chain_length: Any = 8, depths: Sequence[int] = tuple(range(1, 11)),
                retry_delay: float = 1.0, retry_multiplier: float = 2.0,
                max_attempts: int = 40, samples: int = 4000, seed: int = 0,
                confidence: float = 0.95) -> pl.DataFrame:
    """Predicted per-chain figures against ``max_depth`` (cascade policy).

    One row per depth: ``latency_s`` (mean chain latency including
    re-execution) with ``latency_se``, ``rolled_back`` (attempts undone per
    chain), ``rollback_share`` (undone / all attempts, the guide's task rollback
    rate) with ``rollback_share_se``, ``effective_tps`` (``(tasks -
    rolled_back) / latency`` per chain: confirmed minus rolled-back work per
    unit time) with ``effective_se``, and ``wasted_s`` (execution time undone).

    Times are numbers or distributions; ``chain_length`` a number or a depth
    spec (``"uniform:1-8"``). Draws are shared across depths (common random
    numbers), so differences between depths are estimated precisely. No
    contention is modelled (unlimited executors and provers).
    """
    if not 0 <= p_fail < 1:
        raise DataError(f"{p_fail!r} is not a failure probability", field="p_fail",
                        expected="a number in [0, 1)")
    ds = [int(d) for d in depths]
    if not ds or min(ds) < 1:
        raise DataError(f"{depths!r} are not depth limits", field="depths",
                        expected="integers >= 1")
    rng = np.random.default_rng(seed)
    lengths = _chain_lengths(chain_length, rng, samples)
    N = int(lengths.max())
    A = max_attempts
    shape = (samples, N, A)
    te = _draw(exec_time, "exec_time", rng, shape)
    tp = _draw(proof_time, "proof_time", rng, shape)
    tc = _draw(confirm_time, "confirm_time", rng, shape)
    te_w = _draw(exec_time, "exec_time", rng, shape)
    u = rng.random(shape)
    rows = []
    for D in ds:
        lat, fails, wasted, att = _simulate_chains(
            D, p_fail, lengths, te, tp, tc, te_w, u, retry_delay, retry_multiplier, A)
        rb = fails + wasted
        n = lengths.astype(np.float64)
        eff = (n - rb)
        rows.append({
            "max_depth": D,
            "latency_s": float(lat.mean()),
            "latency_se": float(lat.std(ddof=1) / math.sqrt(samples)),
            "rolled_back": float(rb.mean()),
            "rollback_share": float(rb.sum() / att.sum()),
            "rollback_share_se": _ratio_se(rb, att),
            "effective_tps": float(eff.sum() / lat.sum()),
            "effective_se": _ratio_se(eff, lat),
            "wasted_s": float((rb * float(np.mean(te))).mean()),
        })
    return pl.DataFrame(rows)


def _ratio_se(a: np.ndarray, b: np.ndarray) -> float:
    """Standard error of sum(a)/sum(b) over iid pairs (delta method)."""
    n = len(a)
    ma, mb = a.mean(), b.mean()
    r = ma / mb
    resid = a - r * b
    return float(math.sqrt(np.sum(resid**2) / (n - 1)) / (mb * math.sqrt(n)))


@dataclass(frozen=True)
class DepthChoice:
    """The recommended ``max_depth``, its interval, and what it predicts."""

    depth: int
    interval: tuple[int, int]
    objective: str
    curve: pl.DataFrame = field(repr=False)
    p_fail: float = math.nan
    p_interval: tuple[float, float] = (math.nan, math.nan)
    curves_at_p_bounds: tuple[pl.DataFrame, pl.DataFrame] | None = field(
        default=None, repr=False)
    confidence: float = 0.95

    def _row(self, d: int) -> dict[str, Any]:
        return self.curve.filter(pl.col("max_depth") == d).row(0, named=True)

    def prediction(self, depth: int | None = None) -> dict[str, Any]:
        """Predicted rollback share and latency at ``depth`` (default: the choice)
        with intervals (Monte Carlo error and the interval of ``p`` combined)."""
        d = self.depth if depth is None else int(depth)
        if d not in self.curve["max_depth"].to_list():
            raise DataError(f"depth {d} is not on the curve", field="depth",
                            expected=f"one of {self.curve['max_depth'].to_list()}")
        z = NormalDist().inv_cdf(0.5 + self.confidence / 2)
        r = self._row(d)
        out = {"max_depth": d}
        for key, se in (("rollback_share", "rollback_share_se"),
                        ("latency_s", "latency_se"), ("effective_tps", "effective_se")):
            vals = [r[key]]
            lo, hi = r[key] - z * r[se], r[key] + z * r[se]
            if self.curves_at_p_bounds is not None:
                for c in self.curves_at_p_bounds:
                    rr = c.filter(pl.col("max_depth") == d).row(0, named=True)
                    vals.append(rr[key])
                    lo = min(lo, rr[key] - z * rr[se])
                    hi = max(hi, rr[key] + z * rr[se])
            out[key] = r[key]
            out[f"{key}_low"] = lo
            out[f"{key}_high"] = hi
        return out

    def tidy(self) -> pl.DataFrame:
        p = self.prediction()
        lo, hi = self.interval
        return tidy_frame([
            ("max_depth", self.depth, None, lo, hi),
            ("p_fail", self.p_fail, None, *self.p_interval),
            ("rollback_share", p["rollback_share"], None, p["rollback_share_low"],
             p["rollback_share_high"]),
            ("latency_s", p["latency_s"], None, p["latency_s_low"],
             p["latency_s_high"]),
            ("effective_tps", p["effective_tps"], None, p["effective_tps_low"],
             p["effective_tps_high"]),
        ])

    def summary(self) -> str:
        lo, hi = self.interval
        p = self.prediction()
        goal = ("maximises effective throughput (confirmed - rolled-back tasks per "
                "second of chain latency)" if self.objective == "throughput"
                else "minimises expected chain latency including re-execution")
        return "\n".join([
            f"Recommended max_depth {self.depth} (interval {lo}..{hi}): it {goal}.",
            f"Predicted at max_depth {self.depth}: rollback share "
            f"{p['rollback_share']:.2%} [{p['rollback_share_low']:.2%}, "
            f"{p['rollback_share_high']:.2%}], chain latency {fmt(p['latency_s'])} s "
            f"[{fmt(p['latency_s_low'])}, {fmt(p['latency_s_high'])}]",
            f"per-attempt failure probability {fmt(self.p_fail)} "
            f"[{fmt(self.p_interval[0])}, {fmt(self.p_interval[1])}]",
            *self._caveats(p), "", format_tidy(self.curve)])

    def _caveats(self, p: dict[str, Any]) -> list[str]:
        out = ["Not modelled: queueing for provers or branch slots (the curve is the "
               "uncontended pipeline) and the runtime's auto-disable."]
        if p["rollback_share_high"] > 0.2:
            out.append(f"Caution: up to {p['rollback_share_high']:.0%} of attempts "
                       "rolled back would trip the scheduler code's 20 % auto-disable "
                       "(runtime-facts §4 (a)); the policy's 50 % over 2 min may "
                       "switch speculation off in bursts.")
        return out

    def __repr__(self) -> str:
        return (f"DepthChoice(max_depth={self.depth}, interval={self.interval}, "
                f"objective={self.objective!r})")

    def _repr_html_(self) -> str:
        return html_block("Recommended depth", self.tidy(), [self.summary().split(
            "\n")[0]])

    def predict(self, new: Any) -> pl.DataFrame:
        """:meth:`prediction` for each depth in ``new``, one row each."""
        return pl.DataFrame([self.prediction(int(d)) for d in _depths(new)])

    def plot_frame(self) -> pl.DataFrame:
        """The curve in long form: ``max_depth``, ``metric``, ``estimate``,
        ``ci_low``, ``ci_high`` (Monte Carlo and ``p`` interval)."""
        return pl.concat([pl.DataFrame(self.prediction(d)) for d in
                          self.curve["max_depth"].to_list()]).unpivot(
            index="max_depth").with_columns(
            metric=pl.col("variable").str.replace(r"_(low|high)$", ""),
            kind=pl.col("variable").str.extract(r"_(low|high)$").fill_null("estimate"),
        ).pivot(on="kind", index=["max_depth", "metric"], values="value").rename(
            {"low": "ci_low", "high": "ci_high"}).sort("metric", "max_depth")

    def plot(self, **kwargs: Any) -> Any:
        from specanalysis._optional import require

        require("hvplot.polars")
        hv = require("holoviews")
        f = self.plot_frame()
        panels = []
        for m, title in (("effective_tps", "effective throughput per chain (tasks/s)"),
                         ("latency_s", "chain latency (s)"),
                         ("rollback_share", "rollback share")):
            g = f.filter(pl.col("metric") == m)
            panels.append((g.hvplot.area(x="max_depth", y="ci_low", y2="ci_high",
                                         alpha=0.25)
                           * g.hvplot.line(x="max_depth", y="estimate")
                           * g.hvplot.scatter(x="max_depth", y="estimate")
                           * hv.VLine(self.depth).opts(color="red")).opts(
                title=title, **kwargs))
        return hv.Layout(panels).cols(3)


def optimal_depth(*, exec_time: Any, proof_time: Any, confirm_time: Any,
                  p_fail: float, p_interval: tuple[float, float] | None = None,
                  chain_length: Any = 8, depths: Sequence[int] = tuple(range(1, 11)),
                  objective: str = "throughput", retry_delay: float = 1.0,
                  retry_multiplier: float = 2.0, samples: int = 4000, seed: int = 0,
                  confidence: float = 0.95, tolerance: float = 0.0) -> DepthChoice:
    """The ``max_depth`` that maximises effective throughput (or minimises latency).

    The point estimate is the best depth at ``p_fail``. The interval holds every
    depth that is best at ``p_fail`` or at either end of ``p_interval``, or whose
    objective is within Monte Carlo noise (``z`` standard errors of the
    difference) -- or within ``tolerance`` (relative) -- of the best. Ties
    (e.g. latency no longer falling once depth saturates) go to the shallower
    depth: equal benefit, less rolled back.

    Examples
    --------
    >>> c = optimal_depth(exec_time=1.0, proof_time=2.0, confirm_time=0.5,
    ...                   p_fail=0.0, chain_length=10, objective="latency",
    ...                   samples=200)
    >>> c.depth  # no failures: the saturation depth ceil(3.5 / 1)
    4
    """
    if objective not in ("throughput", "latency"):
        raise DataError(f"unknown objective {objective!r}", field="objective",
                        expected="'throughput' or 'latency'")
    kw = {"exec_time": exec_time, "proof_time": proof_time, "confirm_time": confirm_time,
              "chain_length": chain_length, "depths": depths, "retry_delay": retry_delay,
              "retry_multiplier": retry_multiplier, "samples": samples, "seed": seed,
              "confidence": confidence}
    curve = depth_curve(p_fail=p_fail, **kw)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    key, se_key = (("effective_tps", "effective_se") if objective == "throughput"
                   else ("latency_s", "latency_se"))
    sign = 1.0 if objective == "throughput" else -1.0

    def best(c: pl.DataFrame) -> int:
        v = sign * c[key].to_numpy()
        top = v.max()
        # shallowest depth within a hair of the best (exact ties)
        k = int(np.flatnonzero(v >= top - 1e-9 * max(1.0, abs(top)))[0])
        return int(c["max_depth"][k])

    d0 = best(curve)
    chosen = {d0}
    v = sign * curve[key].to_numpy()
    se = curve[se_key].to_numpy()
    k0 = curve["max_depth"].to_list().index(d0)
    for k, d in enumerate(curve["max_depth"].to_list()):
        gap = v[k0] - v[k]
        noise = z * math.sqrt(se[k] ** 2 + se[k0] ** 2) * 0.5
        if gap <= noise or gap <= tolerance * abs(v[k0]):
            chosen.add(int(d))
    bounds = None
    if p_interval is not None:
        lo_c = depth_curve(p_fail=float(p_interval[0]), **kw)
        hi_c = depth_curve(p_fail=float(p_interval[1]), **kw)
        chosen |= {best(lo_c), best(hi_c)}
        bounds = (lo_c, hi_c)
    return DepthChoice(d0, (min(chosen), max(chosen)), objective, curve, p_fail,
                       tuple(p_interval) if p_interval is not None else (p_fail, p_fail),
                       bounds, confidence)


def predict_at_depth(max_depth: int, *, exec_time: Any, proof_time: Any,
                     confirm_time: Any, p_fail: float,
                     p_interval: tuple[float, float] | None = None,
                     chain_length: Any = 8, retry_delay: float = 1.0,
                     retry_multiplier: float = 2.0, samples: int = 4000, seed: int = 0,
                     confidence: float = 0.95) -> dict[str, Any]:
    """Predicted rollback share and chain latency at one ``max_depth``, with intervals.

    The hook for ``recommend()``'s depth rules: returns ``max_depth``,
    ``rollback_share`` (+ ``_low``/``_high``), ``latency_s`` (+ bounds) and
    ``effective_tps`` (+ bounds), the bounds combining Monte Carlo error and
    the interval of ``p_fail``.

    Examples
    --------
    >>> r = predict_at_depth(1, exec_time=1, proof_time=1, confirm_time=1,
    ...                      p_fail=0.0, chain_length=4, samples=100)
    >>> r["latency_s"], r["rollback_share"]  # sequential: 4 x 3 s, nothing undone
    (12.0, 0.0)
    """
    c = optimal_depth(exec_time=exec_time, proof_time=proof_time,
                      confirm_time=confirm_time, p_fail=p_fail, p_interval=p_interval,
                      chain_length=chain_length, depths=(int(max_depth),),
                      retry_delay=retry_delay, retry_multiplier=retry_multiplier,
                      samples=samples, seed=seed, confidence=confidence)
    return c.prediction(int(max_depth))


def component_times(source: Any, *, at: Any = None, window: str = "1h"
                    ) -> dict[str, float]:
    """Mean execution, proof and confirmation seconds from a source's histograms
    (``_sum`` / ``_count`` increase over ``window``); NaN where a metric is absent."""
    from specanalysis import query as q
    from specanalysis.models.latency import _source_at

    at = _source_at(source, at)
    out = {}
    for key, name in (("exec_time", EXECUTION), ("proof_time", PROOF),
                      ("confirm_time", CONFIRM)):
        s = source.evaluate(q.sum(q.increase(q.metric(f"{name}_sum"), window)), at)
        c = source.evaluate(q.sum(q.increase(q.metric(f"{name}_count"), window)), at)
        ok = s.height and c.height and c["value"][0] > 0
        out[key] = float(s["value"][0] / c["value"][0]) if ok else math.nan
    return out


def rollback_from_source(source: Any, *, at: Any = None, window: str = "1h",
                         confidence: float = 0.95) -> dict[str, Any]:
    """``p`` from a source's counters over ``window``.

    With tasks and rolled-back-task counters labelled by ``depth``: the GLM
    (``method="glm"``). Otherwise the depth histogram's mix and the totals
    (``method="depth_mixture"``, see :func:`depth_mixture_p`). Returns
    ``p_fail``, ``p_low``, ``p_high``, ``method``, ``attempts``, ``rolled_back``.
    """
    from specanalysis import query as q
    from specanalysis.models.latency import _source_at

    at = _source_at(source, at)

    def by_depth(name: str) -> pl.DataFrame:
        return source.evaluate(q.sum(q.increase(q.metric(name), window),
                                     by=["depth"]), at)
    t = by_depth(TASKS)
    rb = by_depth(ROLLED_BACK)
    if ("depth" in t.columns and t["depth"].null_count() < t.height
            and "depth" in rb.columns):
        obs = t.select("depth", pl.col("value").alias("trials")).join(
            rb.select("depth", pl.col("value").alias("events")), on="depth",
            how="left").filter(pl.col("depth").is_not_null()).with_columns(
            pl.col("depth").cast(pl.Float64).cast(pl.Int64),
            pl.col("events").fill_null(0.0), group=pl.int_range(pl.len()))
        fit = fit_rollback(obs, cov_type="nonrobust", confidence=confidence)
        lo, hi = fit.p_interval
        return {"p_fail": fit.p_fail, "p_low": lo, "p_high": hi, "method": "glm",
                "attempts": float(obs["trials"].sum()),
                "rolled_back": float(obs["events"].sum())}
    hist = source.evaluate(q.sum(q.increase(q.metric(
        DEPTH + "_bucket"), window), by=["le"]), at)
    if hist.height == 0:
        raise DataError("no speculation_depth_histogram in the source", field="metric",
                        expected="the depth histogram and the task counters, or "
                        "counters labelled by depth")
    h = (hist.filter(pl.col("le") != "+Inf")
         .with_columns(pl.col("le").cast(pl.Float64)).sort("le"))
    cum = h["value"].to_numpy()
    counts = np.diff(np.r_[0.0, cum])
    attempts = float(hist.filter(pl.col("le") == "+Inf")["value"].sum()) or float(
        cum[-1])
    rolled = float(rb["value"].sum()) if rb.height else 0.0
    p, lo, hi = depth_mixture_p((h["le"].to_numpy(), counts), rolled, attempts,
                                confidence=confidence)
    return {"p_fail": p, "p_low": lo, "p_high": hi, "method": "depth_mixture",
            "attempts": attempts, "rolled_back": rolled}


def rollback_from_bench(path: Any, *, test: str | None = None,
                        confidence: float = 0.95) -> dict[str, Any]:
    """``p`` from benchmark result files: rollback *events* per execution attempt.

    Each rollback event has one trigger, an attempt whose own proof failed (or
    timed out), so events / attempts estimates ``p`` without the depth mix
    (``method="event_rate"``; Wilson interval, attempts independent). Runs are
    pooled; ``test`` keeps one suite test (``"deep_chain"``). Timeout rollbacks
    count too: runs that overload the provers overstate ``p``, and the result
    lists each run's rate and injected failure share so that shows.
    """
    import json
    from pathlib import Path

    from specanalysis.sim.bench import KIND

    p = Path(path)
    files = sorted(p.glob("*.json")) if p.is_dir() else [p]
    runs = []
    for f in files:
        try:
            doc = json.loads(f.read_text())
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read: {exc}", source=str(f),
                            expected="a benchmark result JSON file") from None
        if doc.get("kind") != KIND or (test is not None and doc.get("test") != test):
            continue
        s, par = doc.get("summary", {}), doc.get("parameters", {})
        n, rate = s.get("tasks_total"), s.get("rollback_rate_pct")
        if not n or rate is None:
            continue
        runs.append({"file": f.name, "test": doc.get("test"), "attempts": float(n),
                     "events": round(float(n) * rate / 100.0),
                     "injected": 1 - (1 - par.get("inject_failures", 0.0))
                     * (1 - par.get("background_failures", 0.0)),
                     "auto_disabled_pct": s.get("auto_disabled_pct")})
    if not runs:
        raise DataError("no benchmark result with tasks and a rollback rate"
                        + (f" for test {test!r}" if test else ""), source=str(p),
                        expected="result files written by `specanalysis bench`")
    n = sum(r["attempts"] for r in runs)
    k = sum(r["events"] for r in runs)
    if k == 0:
        raise DataError(f"no rollbacks in {n:.0f} attempts (95 % upper bound by the "
                        f"rule of three: {3 / n:.3g})", source=str(p),
                        expected="runs with rollbacks")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    ph = k / n
    den = 1 + z**2 / n
    mid = (ph + z**2 / (2 * n)) / den
    half = z * math.sqrt(ph * (1 - ph) / n + z**2 / (4 * n**2)) / den
    return {"p_fail": ph, "p_low": mid - half, "p_high": mid + half,
            "method": "event_rate", "attempts": n, "rolled_back": float(k),
            "runs": runs}
