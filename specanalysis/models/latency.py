"""Latency against depth: the recurrence's line, fitted with statsmodels.

The regressor ``n`` is the number of tasks on the path: a chain's length for
per-chain observations, ``position + 1`` (the speculation depth reached + 1) for
per-task ones. runtime-facts §4's recurrence makes latency linear in ``n``:

* speculative (no depth limit, no queueing):
  ``L(n) = [Tp + min(Te, Tc)] + n * max(Te, Tc)`` -- the ``per_task`` slope is
  the larger of execution and confirmation time (the *regime*: execution-bound
  when ``Te >= Tc``, confirmation-bound otherwise), the ``intercept`` the proof
  plus the smaller of the two;
* sequential: ``L(n) = n (Te + Tp + Tc)`` (intercept 0).

With ``max_depth = D`` the first ``D`` tasks of a chain pipeline freely and later
ones wait for confirmations: the slope changes at ``n = D`` to the pace
``max(Te, Tc, (Te + Tp + Tc) / D)`` (depth-bound). ``breakpoint=`` fits that
segmented line (``L = a + b n + c max(0, n - k)``), with ``k`` given or searched.

Estimators: ``"ols"`` (heteroscedasticity-robust HC3 standard errors, or
cluster-robust by chain for per-task data), ``"robust"`` (Huber M-estimator,
resistant to outliers), ``"quantile"`` (p50/p90/p99 lines: the tails users are
paged for). Speculative and sequential observations fitted side by side give the
speedup ``L_seq(n) / L_spec(n)`` and its asymptote (ratio of slopes) with delta-
method intervals.

Examples
--------
>>> import polars as pl
>>> obs = pl.DataFrame({"n": [1, 2, 3, 4] * 2, "mode": ["speculative"] * 4
...     + ["sequential"] * 4, "latency_s": [9.0, 11, 13, 15, 9, 18, 27, 36]})
>>> fit = fit_latency(obs)
>>> fit.tidy().filter(pl.col("mode") == "speculative").select(
...     "term", "estimate").rows()
[('intercept', 7.0), ('per_task', 2.0)]
>>> round(fit.speedup(10)["speedup"].item(), 4)  # 90 / 27
3.3333
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import polars as pl

from specanalysis.catalogue import CATALOGUE, E2E
from specanalysis.errors import DataError
from specanalysis.models import _sm
from specanalysis.models._result import fmt, format_tidy, html_block, tidy_frame

__all__ = ["fit_latency", "LatencyFit", "latency_observations", "ESTIMATORS",
           "MAX_OBSERVATIONS"]

ESTIMATORS = ("ols", "quantile", "robust")
MODES = ("speculative", "sequential")
#: Largest number of observations a fit accepts (quantile fits subsample to
#: ``quantile_max`` first).
MAX_OBSERVATIONS = 20_000_000


# --------------------------------------------------------------------------- data


def latency_observations(data: Any, *, unit: str = "chain") -> pl.DataFrame:
    """Observations ``n``, ``latency_s``, ``mode``, ``group`` from any source.

    ``data`` is a :class:`~specanalysis.sim.SimResult` (or a list of them), a
    polars frame (``latency_s`` plus one of ``n``, ``length``, ``depth`` (+1),
    ``position`` (+1); optional ``mode``, ``group``/``chain_id``), a benchmark
    result file or directory (one observation per run: the mean chain length of
    its depth distribution and its ``chain_latency_p50_s``), or a samples frame
    with a latency histogram labelled by ``depth`` (one observation per depth:
    the mean from ``_sum``/``_count``, weighted by the count).

    ``unit`` (SimResult only): ``"chain"`` (finalised chains) or ``"task"``
    (confirmed tasks of linear chains, latency from the chain's arrival).

    Raises
    ------
    DataError
        A missing column, NaN or null latencies, an unknown source.
    """
    from specanalysis.sim.engine import SimResult

    if unit not in ("chain", "task"):
        raise DataError(f"unknown unit {unit!r}", field="unit",
                        expected="'chain' or 'task'")
    if isinstance(data, SimResult):
        return _sim_observations(data, unit)
    if isinstance(data, list | tuple) and data and all(
            isinstance(d, SimResult) for d in data):
        parts = []
        offset = 0
        for d in data:
            o = _sim_observations(d, unit)
            parts.append(o.with_columns(pl.col("group") + offset))
            offset += int(o["group"].max() or 0) + 1
        return pl.concat(parts)
    if isinstance(data, str | Path):
        return _bench_observations(Path(data))
    if isinstance(data, pl.DataFrame):
        if "metric" in data.columns and "value" in data.columns:
            return _histogram_observations(data)
        return _frame_observations(data)
    raise DataError(f"cannot read latency observations from {type(data).__name__}",
                    field="data", expected="a SimResult, a polars frame, a samples "
                    "frame or a benchmark result path")


def _sim_observations(r: Any, unit: str) -> pl.DataFrame:
    mode = "speculative" if r.config.enabled else "sequential"
    if unit == "chain":
        c = r.chains.filter(pl.col("status") == "finalized")
        return pl.DataFrame({
            "n": c["length"].cast(pl.Float64), "latency_s": c["latency_s"],
            "mode": pl.Series([mode] * c.height, dtype=pl.String),
            "group": c["chain_id"]})
    if r.workload.shape != "chain":
        raise DataError(f"per-task latency needs linear chains, not "
                        f"{r.workload.shape!r}", field="unit",
                        expected="unit='chain' for star/tree/DAG workloads")
    t = r.tasks.filter(pl.col("outcome") == "confirmed")
    return pl.DataFrame({
        "n": (t["position"] + 1).cast(pl.Float64), "latency_s": t["latency_s"],
        "mode": pl.Series([mode] * t.height, dtype=pl.String),
        "group": t["chain_id"]})


def _frame_observations(f: pl.DataFrame) -> pl.DataFrame:
    if "latency_s" not in f.columns:
        raise DataError("no latency_s column", field="data",
                        expected="a latency_s column (seconds)")
    for name, add in (("n", 0), ("length", 0), ("depth", 1), ("position", 1)):
        if name in f.columns:
            n = (f[name].cast(pl.Float64) + add).alias("n")
            break
    else:
        raise DataError("no depth column", field="data",
                        expected="one of n, length, depth, position")
    mode = (f["mode"].cast(pl.String) if "mode" in f.columns
            else pl.Series("mode", ["speculative"] * f.height, dtype=pl.String))
    bad = sorted(set(mode.drop_nulls().unique().to_list()) - set(MODES))
    if bad or mode.null_count():
        raise DataError(f"unknown mode(s) {bad or [None]}", field="mode",
                        expected="'speculative' or 'sequential'")
    gcol = "group" if "group" in f.columns else "chain_id" if "chain_id" in f.columns \
        else None
    group = (f[gcol].cast(pl.Int64) if gcol else
             pl.Series("group", np.arange(f.height), dtype=pl.Int64))
    out = pl.DataFrame({"n": n, "latency_s": f["latency_s"].cast(pl.Float64),
                        "mode": mode, "group": group})
    if "weight" in f.columns:
        out = out.with_columns(weight=f["weight"].cast(pl.Float64))
    return out


def _bench_observations(path: Path) -> pl.DataFrame:
    import json

    from specanalysis.sim.bench import KIND, read_bench_result
    from specanalysis.sim.workload import parse_depth

    def is_result(fp: Path) -> bool:
        try:
            return json.loads(fp.read_text()).get("kind") == KIND
        except (OSError, ValueError, AttributeError):
            return True  # let the reader name the problem
    files = ([f for f in sorted(path.glob("*.json")) if is_result(f)]
             if path.is_dir() else [path])
    if not files:
        raise DataError("no benchmark result files (*.json)", source=str(path),
                        expected="a directory written by `specanalysis bench`")
    rows = []
    for k, fp in enumerate(files):
        r = read_bench_result(fp)
        lat = r.summary.get("chain_latency_p50_s", math.nan)
        if lat is None or not math.isfinite(lat):
            raise DataError("the run has no chain latency (run with measure_latency)",
                            source=str(fp), field="summary.chain_latency_p50_s",
                            expected="a finite latency")
        enabled = bool(r.config.get("speculation", {}).get("enabled", True))
        rows.append((parse_depth(r.parameters.depth_distribution).mean, lat,
                     "speculative" if enabled else "sequential", k))
    n, lat, mode, grp = zip(*rows, strict=True)
    return pl.DataFrame({"n": pl.Series(n, dtype=pl.Float64),
                         "latency_s": pl.Series(lat, dtype=pl.Float64),
                         "mode": pl.Series(mode, dtype=pl.String),
                         "group": pl.Series(grp, dtype=pl.Int64)})


def _histogram_observations(samples: pl.DataFrame, metric: str | None = None
                            ) -> pl.DataFrame:
    """Mean latency per depth from a histogram's ``_sum``/``_count`` increase."""
    if "depth" not in samples.columns:
        raise DataError("no series carries a depth label", field="depth",
                        expected="a latency histogram labelled by depth (runtime-facts"
                        " §1: the runtime's timing metrics carry depth)")
    names = samples.filter(pl.col("depth").is_not_null())["metric"].unique().to_list()
    counts = [m for m in names if m.endswith("_count") and "latency" in m]
    if metric is not None:
        counts = [m for m in counts if m.startswith(metric)]
    if len(counts) != 1:
        raise DataError(f"found {len(counts)} latency histograms labelled by depth "
                        f"({', '.join(counts) or 'none'})", field="metric",
                        expected="exactly one *latency*_count/_sum pair with a "
                        "depth label")
    base = counts[0].removesuffix("_count")
    scale = 0.001 if base.endswith("_ms") else 1.0

    def increase(name: str) -> pl.DataFrame:
        f = samples.filter(pl.col("metric") == name, pl.col("depth").is_not_null())
        return (f.sort("timestamp").group_by("depth", maintain_order=True)
                .agg(pl.col("value").diff().clip(lower_bound=0).sum().alias("d"),
                     pl.col("value").first().alias("v0")))
    c = increase(base + "_count")
    s = increase(base + "_sum")
    j = c.join(s, on="depth", suffix="_sum").filter(pl.col("d") > 0)
    if j.height == 0:
        raise DataError(f"{base} did not increase in the window", field="metric",
                        expected="observations in the window")
    return pl.DataFrame({
        "n": j["depth"].cast(pl.Float64) + 1,
        "latency_s": j["d_sum"] / j["d"] * scale,
        "mode": pl.Series(["speculative"] * j.height, dtype=pl.String),
        "group": pl.Series(np.arange(j.height), dtype=pl.Int64),
        "weight": j["d"].cast(pl.Float64)})


def _check_observations(obs: pl.DataFrame, k_terms: int) -> None:
    lat = obs["latency_s"]
    nan = lat.is_null() | lat.is_nan()
    if nan.any():
        idx = int(np.flatnonzero(nan.to_numpy())[0])
        raise DataError(f"{int(nan.sum())} latency value(s) are NaN or null (first at "
                        f"row {idx})", field="latency_s",
                        expected="finite latencies: drop unfinished chains/tasks first")
    if obs.height > MAX_OBSERVATIONS:
        raise DataError(f"{obs.height} observations exceed {MAX_OBSERVATIONS}",
                        field="data", expected=f"<= {MAX_OBSERVATIONS} (subsample)")
    for mode, g in obs.group_by("mode"):
        if g.height < k_terms + 1:
            raise DataError(f"{g.height} {mode[0]} observation(s) for {k_terms} terms",
                            field="data", expected=f"at least {k_terms + 1} "
                            "observations per mode")
        levels = g["n"].unique()
        if levels.len() < 2:
            raise DataError(f"every {mode[0]} observation is at n = {levels[0]:g}",
                            field="n", expected="observations at two or more depths "
                            "(a slope needs two)")


# --------------------------------------------------------------------------- fit


@dataclass(frozen=True)
class _ModeFit:
    mode: str
    quantile: float | None
    terms: tuple[str, ...]
    fit: _sm.SMFit
    breakpoint: float | None
    breakpoint_p: float | None


@dataclass(frozen=True)
class LatencyFit:
    """Latency against ``n`` (tasks on the path), per mode (and quantile).

    Attributes
    ----------
    estimator
        ``"ols"``, ``"robust"`` or ``"quantile"``.
    observations
        The data fitted (``n``, ``latency_s``, ``mode``, ``group``).
    components
        Measured mean execution, proof and confirmation times with intervals
        (simulator input only, else None) and the recurrence's prediction.
    notes
        Regime, breakpoint and diagnostic statements.
    """

    estimator: str
    observations: pl.DataFrame = field(repr=False)
    fits: tuple[_ModeFit, ...] = field(repr=False)
    components: pl.DataFrame | None = field(default=None, repr=False)
    confidence: float = 0.95
    notes: tuple[str, ...] = ()
    cov_type: str = "HC3"

    # ------------------------------------------------------------ access
    def _z(self) -> float:
        return NormalDist().inv_cdf(0.5 + self.confidence / 2)

    def modes(self) -> list[str]:
        return [m for m in MODES if any(f.mode == m for f in self.fits)]

    def _get(self, mode: str, quantile: float | None = None) -> _ModeFit:
        for f in self.fits:
            if f.mode == mode and (quantile is None or f.quantile == quantile):
                return f
        raise DataError(f"no {mode} fit" + (f" at quantile {quantile}" if quantile
                                            else ""), field="mode",
                        expected=" or ".join(self.modes()))

    def _slope(self, f: _ModeFit) -> tuple[float, float, np.ndarray]:
        """The per-task slope for long chains (after any breakpoint): value, se, grad."""
        g = np.zeros(len(f.terms))
        g[1] = 1.0
        if f.breakpoint is not None:
            g[2] = 1.0
        v = float(g @ f.fit.params)
        return v, math.sqrt(max(float(g @ f.fit.cov @ g), 0.0)), g

    # ------------------------------------------------------------ protocol
    def tidy(self) -> pl.DataFrame:
        """Terms per mode (``intercept``, ``per_task``, ``per_task_change``,
        ``per_task_after``), the speedup asymptote (both modes), and measured
        components; columns ``mode`` and ``quantile`` say which fit."""
        rows = []
        for f in self.fits:
            for k, t in enumerate(f.terms):
                rows.append((t, f.fit.params[k], f.fit.bse[k], f.fit.ci[k, 0],
                             f.fit.ci[k, 1], f.mode, f.quantile))
            if f.breakpoint is not None:
                v, se, _ = self._slope(f)
                z = self._z()
                rows.append(("per_task_after", v, se, v - z * se, v + z * se, f.mode,
                             f.quantile))
                rows.append(("breakpoint_n", f.breakpoint, None, None, None, f.mode,
                             f.quantile))
        if len(self.modes()) == 2:
            for q in sorted({f.quantile for f in self.fits}, key=lambda x: x or 0):
                v, se = self._ratio_slopes(q)
                z = self._z()
                rows.append(("speedup_asymptote", v, se, v - z * se, v + z * se,
                             "both", q))
        if self.components is not None:
            for r in self.components.iter_rows(named=True):
                rows.append((r["term"], r["estimate"], r["std_error"], r["ci_low"],
                             r["ci_high"], "measured", None))
        return tidy_frame(rows, extra=("mode", "quantile"))

    def _ratio_slopes(self, q: float | None) -> tuple[float, float]:
        a = self._get("sequential", q)
        b = self._get("speculative", q)
        va, sa, _ = self._slope(a)
        vb, sb, _ = self._slope(b)
        r = va / vb
        se = abs(r) * math.sqrt((sa / va) ** 2 + (sb / vb) ** 2) if va and vb else math.nan
        return r, se

    def predict(self, new: Any, *, mode: str | None = None) -> pl.DataFrame:
        """Predicted latency at ``n`` (a number, list, or frame with ``n``
        and optionally ``mode``): ``estimate``, ``std_error``, ``ci_low``/``ci_high``
        (the mean line or the quantile) and, for OLS, ``pi_low``/``pi_high`` (a
        prediction interval for one observation, homoscedastic approximation)."""
        frame = _grid(new)
        out = []
        for f in self.fits:
            if mode is not None and f.mode != mode:
                continue
            g = frame if "mode" not in frame.columns else frame.filter(
                pl.col("mode") == f.mode)
            if g.height == 0:
                continue
            n = g["n"].cast(pl.Float64).to_numpy()
            X = _design(n, f.breakpoint)
            est = X @ f.fit.params
            se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", X, f.fit.cov, X), 0.0))
            z = self._z()
            cols = {"n": n, "mode": [f.mode] * len(n),
                    "quantile": pl.Series([f.quantile] * len(n), dtype=pl.Float64),
                    "estimate": est, "std_error": se, "ci_low": est - z * se,
                    "ci_high": est + z * se}
            if self.estimator == "ols":
                sp = np.sqrt(se**2 + f.fit.scale)
                cols["pi_low"] = est - z * sp
                cols["pi_high"] = est + z * sp
            out.append(pl.DataFrame(cols))
        if not out:
            raise DataError(f"no fit for mode {mode!r}", field="mode",
                            expected=" or ".join(self.modes()))
        return pl.concat(out, how="diagonal_relaxed")

    def speedup(self, n: Any, *, quantile: float | None = None) -> pl.DataFrame:
        """``L_seq(n) / L_spec(n)`` with a delta-method interval (both modes fitted)."""
        if len(self.modes()) < 2:
            raise DataError("the speedup needs speculative and sequential observations",
                            field="mode", expected="both modes in the data")
        grid = _grid(n)["n"].cast(pl.Float64).to_numpy()
        a = self._get("sequential", quantile)
        b = self._get("speculative", quantile)
        Xa, Xb = _design(grid, a.breakpoint), _design(grid, b.breakpoint)
        la, lb = Xa @ a.fit.params, Xb @ b.fit.params
        va = np.einsum("ij,jk,ik->i", Xa, a.fit.cov, Xa)
        vb = np.einsum("ij,jk,ik->i", Xb, b.fit.cov, Xb)
        r = la / lb
        se = np.abs(r) * np.sqrt(va / la**2 + vb / lb**2)
        z = self._z()
        return pl.DataFrame({"n": grid, "speedup": r, "std_error": se,
                             "ci_low": r - z * se, "ci_high": r + z * se})

    def residuals(self) -> pl.DataFrame:
        """Residual diagnostics: ``n``, ``mode``, ``quantile``, ``fitted``,
        ``resid``, ``standardized`` (resid / residual sd) per observation."""
        parts = []
        for f in self.fits:
            obs = self.observations.filter(pl.col("mode") == f.mode)
            sd = math.sqrt(f.fit.scale) if f.fit.scale > 0 else math.nan
            parts.append(pl.DataFrame({
                "n": obs["n"], "mode": obs["mode"],
                "quantile": pl.Series([f.quantile] * obs.height, dtype=pl.Float64),
                "fitted": f.fit.fitted, "resid": f.fit.resid,
                "standardized": f.fit.resid / sd if sd == sd else f.fit.resid * 0}))
        return pl.concat(parts)

    def diagnostics(self) -> pl.DataFrame:
        """Per fit: observations, R², Breusch-Pagan p (heteroscedasticity),
        Jarque-Bera p (normal residuals), skew, kurtosis, breakpoint test p."""
        rows = []
        for f in self.fits:
            e = f.fit.extra
            rows.append({"mode": f.mode, "quantile": f.quantile, "nobs": e.get("nobs"),
                         "r_squared": e.get("r_squared"),
                         "breusch_pagan_p": e.get("breusch_pagan_p"),
                         "jarque_bera_p": e.get("jarque_bera_p"),
                         "skew": e.get("skew"), "kurtosis": e.get("kurtosis"),
                         "breakpoint_p": f.breakpoint_p})
        return pl.DataFrame(rows, schema={
            "mode": pl.String, "quantile": pl.Float64, "nobs": pl.Float64,
            "r_squared": pl.Float64, "breusch_pagan_p": pl.Float64,
            "jarque_bera_p": pl.Float64, "skew": pl.Float64, "kurtosis": pl.Float64,
            "breakpoint_p": pl.Float64})

    def summary(self) -> str:
        obs = self.observations
        lines = [f"Latency against depth ({self.estimator}, {obs.height} observations, "
                 f"{self.confidence:.0%} intervals, cov {self.cov_type})",
                 "model: L(n) = intercept + per_task * n"
                 + (" + per_task_change * max(0, n - k)"
                    if any(f.breakpoint is not None for f in self.fits) else ""),
                 "", format_tidy(self.tidy())]
        if self.notes:
            lines += ["", *[f"- {n}" for n in self.notes]]
        return "\n".join(lines)

    def __repr__(self) -> str:
        parts = []
        for f in self.fits:
            v, _, _ = self._slope(f)
            q = f" q{f.quantile:g}" if f.quantile is not None else ""
            parts.append(f"{f.mode}{q}: {fmt(f.fit.params[0])} + {fmt(v)}*n")
        return f"LatencyFit({self.estimator}; " + "; ".join(parts) + ")"

    def _repr_html_(self) -> str:
        return html_block(f"Latency against depth ({self.estimator})", self.tidy(),
                          self.notes)

    def plot_frame(self, n: Any = None) -> pl.DataFrame:
        """Fitted lines with bands over ``n`` (default: the observed range):
        ``n``, ``mode``, ``quantile``, ``estimate``, ``ci_low``, ``ci_high``."""
        if n is None:
            lo, hi = self.observations["n"].min(), self.observations["n"].max()
            n = np.linspace(lo, hi, 50)
        return self.predict(n).select("n", "mode", "quantile", "estimate", "ci_low",
                                      "ci_high")

    def observed_frame(self) -> pl.DataFrame:
        """Observed latency by ``n`` and mode: ``count``, ``mean``, ``p50``,
        ``p90``, ``p99`` (what the fitted lines are compared with)."""
        return (self.observations.group_by("n", "mode")
                .agg(pl.len().alias("count"), pl.col("latency_s").mean().alias("mean"),
                     *(pl.col("latency_s").quantile(q, "linear").alias(f"p{round(q * 100)}")
                       for q in (0.5, 0.9, 0.99)))
                .sort("mode", "n"))

    def plot(self, **kwargs: Any) -> Any:
        """Fitted lines with confidence bands per mode (and quantile), observed means."""
        from specanalysis._optional import require

        require("hvplot.polars")
        f = self.plot_frame().with_columns(
            line=pl.col("mode") + pl.when(pl.col("quantile").is_null()).then(
                pl.lit("")).otherwise(pl.lit(" p") + (pl.col("quantile") * 100)
                                      .round(0).cast(pl.Int64).cast(pl.String)))
        band = f.hvplot.area(x="n", y="ci_low", y2="ci_high", by="line", alpha=0.25,
                             stacked=False)
        line = f.hvplot.line(x="n", y="estimate", by="line")
        obs = self.observed_frame().hvplot.scatter(x="n", y="mean", by="mode",
                                                   marker="x", size=40)
        return (band * line * obs).opts(
            title="Latency against tasks on the path", xlabel="n (tasks on the path)",
            ylabel="latency (s)", **kwargs)

    def residual_frame(self) -> pl.DataFrame:
        """Alias of :meth:`residuals` (the frame of :meth:`plot_residuals`)."""
        return self.residuals()

    def plot_residuals(self, **kwargs: Any) -> Any:
        """Residuals against fitted values, by mode."""
        from specanalysis._optional import require

        require("hvplot.polars")
        return self.residuals().hvplot.scatter(
            x="fitted", y="resid", by="mode", alpha=0.4,
            title="Residuals against fitted latency", **kwargs)


def _grid(new: Any) -> pl.DataFrame:
    if isinstance(new, pl.DataFrame):
        if "n" not in new.columns:
            raise DataError("no n column", field="new", expected="a column n")
        return new
    if isinstance(new, int | float | np.integer | np.floating):
        new = [new]
    arr = np.asarray(new, dtype=np.float64)
    return pl.DataFrame({"n": arr})


def _design(n: np.ndarray, k: float | None) -> np.ndarray:
    cols = [np.ones_like(n), n]
    if k is not None:
        cols.append(np.maximum(0.0, n - k))
    return np.column_stack(cols)


def _design_frame(n: pl.Series, k: float | None) -> pl.DataFrame:
    f = pl.DataFrame({"intercept": pl.Series(np.ones(n.len())), "per_task": n})
    if k is not None:
        f = f.with_columns(per_task_change=(pl.col("per_task") - k).clip(lower_bound=0))
    return f


def fit_latency(data: Any, *, estimator: str = "ols",
                quantiles: Sequence[float] = (0.5, 0.9, 0.99),
                breakpoint: int | float | str | None = None, unit: str = "chain",
                cov_type: str | None = None, confidence: float = 0.95,
                quantile_max: int = 200_000, seed: int = 0) -> LatencyFit:
    """Fit latency against ``n`` (tasks on the path), per mode.

    Parameters
    ----------
    data
        See :func:`latency_observations` (simulator runs, a frame, benchmark
        results, a samples frame with a depth-labelled latency histogram).
    estimator
        ``"ols"`` (mean line), ``"robust"`` (Huber) or ``"quantile"`` (one line
        per entry of ``quantiles``).
    breakpoint
        ``None`` (one line), a number ``k`` (slope changes after ``n = k``),
        ``"max_depth"`` (the simulated runs' depth limit: beyond it chains are
        depth-bound, their latency a staircase whose mean slope is the pace
        ``max(Te, Tc, (Te + Tp + Tc) / max_depth)``), or ``"auto"`` (the ``k``
        with the least squared error, kept when an F-test says the change is real
        at 5 %; a staircase can mislead it, so prefer a known depth limit).
    unit
        ``"chain"`` or ``"task"`` for simulator input.
    cov_type
        ``None``: cluster-robust by chain when observations share chains,
        HC3 otherwise; or any of ``nonrobust``, ``HC0``..``HC3``, ``cluster``.
    quantile_max
        Quantile regression uses a seeded random subsample of at most this many
        observations per mode (its cost grows faster than linearly).

    Raises
    ------
    DataError
        Too few observations, a single depth, NaN latencies, an unknown
        estimator (never a statsmodels traceback).
    """
    if estimator not in ESTIMATORS:
        raise DataError(f"unknown estimator {estimator!r}", field="estimator",
                        expected="one of " + ", ".join(ESTIMATORS))
    if not 0 < confidence < 1:
        raise DataError(f"{confidence!r} is not a confidence level", field="confidence",
                        expected="a number in (0, 1)")
    qs = tuple(float(q) for q in quantiles) if estimator == "quantile" else (None,)
    if estimator == "quantile" and (not qs or any(not 0 < q < 1 for q in qs)):
        raise DataError(f"{quantiles!r} are not quantiles", field="quantiles",
                        expected="numbers in (0, 1), e.g. (0.5, 0.9, 0.99)")
    obs = latency_observations(data, unit=unit)
    if breakpoint == "max_depth":
        breakpoint = _config_depth(data, obs)
    k_terms = 3 if breakpoint is not None else 2
    _check_observations(obs, k_terms)
    notes: list[str] = []
    repeated = obs.select(pl.struct("mode", "group").n_unique()).item() < obs.height
    ct = cov_type or ("cluster" if repeated else "HC3")
    if "weight" in obs.columns and estimator == "ols":
        ct = cov_type or "HC3"
    fits = []
    for mode in MODES:
        g = obs.filter(pl.col("mode") == mode)
        if g.height == 0:
            continue
        # the depth limit bends only the speculative line
        k, kp = (_choose_breakpoint(g, breakpoint, mode, notes)
                 if mode == "speculative" else (None, None))
        for q in qs:
            gg = g
            if q is not None and g.height > quantile_max:
                gg = g.sample(quantile_max, seed=seed)
                notes.append(f"{mode} p{q * 100:g}: fitted on a random subsample of "
                             f"{quantile_max} of {g.height} observations")
            X = _design_frame(gg["n"], k)
            y = gg["latency_s"]
            method = {"ols": "ols", "robust": "rlm", "quantile": "quantreg"}[estimator]
            if "weight" in gg.columns and method == "ols":
                w = np.sqrt(gg["weight"].to_numpy())
                X = X.select(pl.all() * pl.Series(w))
                y = y * pl.Series(w)
            f = _sm.fit(method, y, X, confidence=confidence,
                        cov_type=ct if method == "ols" else "nonrobust",
                        groups=gg["group"].to_numpy(), quantile=q or 0.5,
                        what=f"{mode} latency")
            if "weight" in gg.columns and method == "ols":
                f = _sm.SMFit(f.params, f.bse, f.cov, f.ci, f.fitted / w, f.resid / w,
                              f.df_resid, f.scale, f.extra)
            if f.extra.get("no_interval"):
                notes.append(f"{mode}: {f.extra['warnings'][0]}")
            fits.append(_ModeFit(mode, q, tuple(X.columns), f, k, kp))
    fit = LatencyFit(estimator, obs, tuple(fits), _components(data, confidence),
                     confidence, (), ct if estimator == "ols" else
                     ("nonrobust" if estimator == "quantile" else "huber"))
    notes += _regime_notes(fit)
    object.__setattr__(fit, "notes", tuple(notes))
    return fit


def _config_depth(data: Any, obs: pl.DataFrame) -> float | None:
    """``max_depth`` of the simulated runs (the depth limit's breakpoint)."""
    from specanalysis.sim.engine import SimResult

    runs = [data] if isinstance(data, SimResult) else list(data) if isinstance(
        data, list | tuple) else []
    depths = {r.config.max_depth for r in runs if isinstance(r, SimResult)
              and r.config.enabled}
    if len(depths) != 1:
        raise DataError("breakpoint='max_depth' needs speculative simulator runs with "
                        "one max_depth", field="breakpoint",
                        expected="a number, 'auto' or None for other data")
    k = float(depths.pop())
    spec = obs.filter(pl.col("mode") == "speculative")["n"]
    return k if spec.min() < k < spec.max() else None


def _choose_breakpoint(g: pl.DataFrame, breakpoint: Any, mode: str,
                       notes: list[str]) -> tuple[float | None, float | None]:
    if breakpoint is None:
        return None, None
    levels = np.sort(g["n"].unique().to_numpy())
    if breakpoint == "auto":
        cands = list(levels[1:-1])
        if not cands:
            raise DataError(f"{mode}: {len(levels)} distinct depths cannot place a "
                            "breakpoint", field="breakpoint",
                            expected="three or more distinct depths")
        n = g["n"].to_numpy()
        y = g["latency_s"].to_numpy()
        base = np.linalg.lstsq(_design(n, None), y, rcond=None)
        sse0 = float(np.sum((y - _design(n, None) @ base[0]) ** 2))
        best = None
        for k in cands:
            X = _design(n, float(k))
            b = np.linalg.lstsq(X, y, rcond=None)[0]
            sse = float(np.sum((y - X @ b) ** 2))
            if best is None or sse < best[1] - 1e-12 * max(1.0, sse0):
                best = (float(k), sse)
        k, sse1 = best  # type: ignore[misc]
        df2 = len(y) - 3
        if sse1 <= 1e-12 * max(1.0, sse0):
            p = 0.0 if sse0 > 1e-12 else 1.0
        else:
            from scipy import stats

            F = (sse0 - sse1) / (sse1 / df2)
            p = float(stats.f.sf(F, 1, df2))
        if p >= 0.05:
            notes.append(f"{mode}: no significant change of slope (best breakpoint "
                         f"n = {k:g}, F-test p = {p:.3g}); one line fitted")
            return None, p
        notes.append(f"{mode}: slope changes after n = {k:g} (F-test p = {p:.3g}; "
                     "the intervals are conditional on this breakpoint)")
        return k, p
    try:
        k = float(breakpoint)
    except (TypeError, ValueError):
        raise DataError(f"{breakpoint!r} is not a breakpoint", field="breakpoint",
                        expected="None, a number of tasks or 'auto'") from None
    if not (levels.min() < k < levels.max()):
        raise DataError(f"breakpoint n = {k:g} is outside the data "
                        f"({levels.min():g}..{levels.max():g})", field="breakpoint",
                        expected="a value strictly between the smallest and largest n")
    return k, None


def _components(data: Any, confidence: float) -> pl.DataFrame | None:
    """Mean execution/proof/confirmation times of confirmed speculative attempts."""
    from specanalysis.sim.engine import SimResult

    runs = [data] if isinstance(data, SimResult) else (
        [d for d in data if isinstance(d, SimResult)]
        if isinstance(data, list | tuple) else [])
    runs = [r for r in runs if r.config.enabled]
    if not runs:
        return None
    t = pl.concat([r.tasks.filter(pl.col("outcome") == "confirmed") for r in runs])
    if t.height < 2:
        return None
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    te = (t["exec_end"] - t["exec_start"]).to_numpy()
    tp = (t["proof_end"] - t["exec_end"]).to_numpy()
    tc = (t["finalized"] - t["submitted"]).to_numpy()
    rows = []
    for name, x in (("exec_time_s", te), ("proof_time_s", tp), ("confirm_time_s", tc)):
        m, se = float(np.mean(x)), float(np.std(x, ddof=1) / math.sqrt(len(x)))
        rows.append((name, m, se, m - z * se, m + z * se))
    (mte, ste), (mtp, stp), (mtc, stc) = [(r[1], r[2]) for r in rows]
    hi, shi = (mte, ste) if mte >= mtc else (mtc, stc)
    lo, slo = (mtc, stc) if mte >= mtc else (mte, ste)
    ic, sic = mtp + lo, math.sqrt(stp**2 + slo**2)
    rows.append(("recurrence_intercept", ic, sic, ic - z * sic, ic + z * sic))
    rows.append(("recurrence_per_task", hi, shi, hi - z * shi, hi + z * shi))
    return tidy_frame(rows)


def _regime_notes(fit: LatencyFit) -> list[str]:
    out = []
    comp = fit.components
    if comp is not None:
        c = dict(zip(comp["term"], comp["estimate"], strict=True))
        te, tp, tc = c["exec_time_s"], c["proof_time_s"], c["confirm_time_s"]
        reg = "execution" if te >= tc else "confirmation"
        out.append(f"measured times: exec {fmt(te)} s, proof {fmt(tp)} s, confirm "
                   f"{fmt(tc)} s: {reg}-bound (per_task should be max(Te, Tc) = "
                   f"{fmt(max(te, tc))} s, intercept Tp + min(Te, Tc) = "
                   f"{fmt(tp + min(te, tc))} s)")
        try:
            f = fit._get("speculative")
        except DataError:
            return out
        v, se, _ = fit._slope(f)
        if fit.estimator != "quantile" and v > max(te, tc) + 3 * se + 1e-9:
            out.append(f"the fitted per-task slope {fmt(v)} s exceeds max(Te, Tc): "
                       "long chains are depth-bound (max_depth) or queue for provers")
    return out


#: Latency histograms tried, in order, when reading a source.
LATENCY_HISTOGRAMS = (E2E, *CATALOGUE[E2E].aliases)


def latency_from_source(source: Any, *, at: Any = None, window: str = "1h",
                        metric: str | None = None) -> pl.DataFrame:
    """Observations (mean latency per depth, weighted by count) from a source.

    Evaluates ``sum by (depth) (increase(<histogram>_count[window]))`` and the
    ``_sum`` at ``at`` (default: the end of the source's data). The runtime's
    timing histograms carry a ``depth`` label (runtime-facts §1); without it
    there is nothing to regress on and a :class:`DataError` says so.
    """
    from specanalysis import query as q

    at = _source_at(source, at)
    names = [metric] if metric else list(LATENCY_HISTOGRAMS)
    for name in names:
        cnt = source.evaluate(q.sum(q.increase(q.metric(f"{name}_count"), window),
                                    by=["depth"]), at)
        if cnt.height == 0:
            continue
        if "depth" not in cnt.columns or cnt["depth"].null_count() == cnt.height:
            raise DataError(f"{name} carries no depth label in this source",
                            field="depth", expected="a latency histogram labelled by "
                            "depth, or benchmark results (--bench-dir) / simulator runs")
        tot = source.evaluate(q.sum(q.increase(q.metric(f"{name}_sum"), window),
                                    by=["depth"]), at)
        j = cnt.select("depth", pl.col("value").alias("c")).join(
            tot.select("depth", pl.col("value").alias("s")), on="depth").filter(
            pl.col("c") > 0)
        scale = 0.001 if name.endswith("_ms") else 1.0
        return pl.DataFrame({
            "n": j["depth"].cast(pl.Float64) + 1,
            "latency_s": j["s"] / j["c"] * scale,
            "mode": pl.Series(["speculative"] * j.height, dtype=pl.String),
            "group": pl.Series(np.arange(j.height), dtype=pl.Int64),
            "weight": j["c"]})
    raise DataError(f"none of {', '.join(names)} in the source", field="metric",
                    expected="a latency histogram labelled by depth")


def _source_at(source: Any, at: Any) -> Any:
    if at is not None:
        return at
    tr = source.time_range()
    if tr is None:
        from datetime import datetime, timezone

        return datetime.now(timezone.utc)
    return tr[1]
