"""Histogram buckets: quantiles with their resolution bounds, distributions fitted to counts.

A Prometheus histogram only knows how many observations fell into each bucket.
``histogram_quantile`` interpolates linearly inside the bucket that holds the
requested rank, which can be far from the true quantile when buckets are wide
(a proof p50 of 0.175 s read from a ``0.1-0.25`` bucket when the exact value is
0.119 s). This module says what the buckets can and cannot tell:

* :func:`bucket_table` turns cumulative ``le`` counts into per-bucket counts with
  lower and upper edges;
* :func:`quantile_bounds` gives the interpolated quantile *and* the edges of the
  bucket it lies in: the true quantile is somewhere between them;
* :func:`fit_buckets` fits a lognormal (or gamma) distribution to the bucket counts
  by maximum likelihood for interval-censored data, optionally holding the mean
  at the exact value ``_sum / _count`` gives, with a standard error from the
  observed information. Calibration uses these fits, never interpolated quantiles.

Examples
--------
>>> import polars as pl
>>> t = bucket_table(pl.DataFrame({"le": ["0.1", "0.25", "0.5", "+Inf"],
...                                "value": [10.0, 60.0, 100.0, 100.0]}))
>>> t.select("lower", "upper", "count").rows()
[(0.0, 0.1, 10.0), (0.1, 0.25, 50.0), (0.25, 0.5, 40.0), (0.5, inf, 0.0)]
>>> b = quantile_bounds(t, 0.5)
>>> round(b.value, 3), b.low, b.high
(0.22, 0.1, 0.25)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from specanalysis.errors import DataError

__all__ = [
    "bucket_table",
    "QuantileBounds",
    "quantile_bounds",
    "BucketFit",
    "fit_buckets",
]

_TABLE_SCHEMA = {"le": pl.String, "lower": pl.Float64, "upper": pl.Float64,
                 "cumulative": pl.Float64, "count": pl.Float64}


def bucket_table(buckets: pl.DataFrame) -> pl.DataFrame:
    """Per-bucket counts with their edges from cumulative ``le`` counts.

    Parameters
    ----------
    buckets
        ``le`` (String bound, ``"+Inf"`` allowed) and ``value`` (cumulative count,
        e.g. ``sum by (le) (increase(x_bucket[w]))``).

    Returns
    -------
    polars.DataFrame
        ``le``, ``lower``, ``upper``, ``cumulative`` (made monotonic by a running
        maximum, as ``histogram_quantile`` does) and ``count``, sorted by
        ``upper``. The first bucket's lower edge is 0 (or ``-inf`` when its upper
        edge is negative).

    Raises
    ------
    DataError
        A bound that is not a number.
    """
    if buckets.height == 0:
        return pl.DataFrame(schema=_TABLE_SCHEMA)
    frame = buckets.select(
        pl.col("le").cast(pl.String),
        pl.col("le").cast(pl.String).str.replace(r"^\+?Inf$", "inf")
        .cast(pl.Float64, strict=False).alias("upper"),
        pl.col("value").cast(pl.Float64).fill_nan(0.0).fill_null(0.0).alias("raw"),
    )
    bad = frame.filter(pl.col("upper").is_null())
    if bad.height:
        raise DataError(f"bucket bound {bad['le'][0]!r} is not a number", field="le",
                        expected="numeric bucket bounds or '+Inf'")
    frame = (frame.group_by("upper").agg(pl.col("le").first(), pl.col("raw").sum())
             .sort("upper"))
    frame = frame.with_columns(pl.col("raw").cum_max().clip(lower_bound=0.0)
                               .alias("cumulative"))
    first = float(frame["upper"][0])
    lower = [(0.0 if first >= 0 else -math.inf), *frame["upper"].to_list()[:-1]]
    return frame.with_columns(
        pl.Series("lower", lower, dtype=pl.Float64),
        pl.col("cumulative").diff().fill_null(pl.col("cumulative")).alias("count"),
    ).select(list(_TABLE_SCHEMA)).cast(_TABLE_SCHEMA)


@dataclass(frozen=True)
class QuantileBounds:
    """A quantile read from buckets: the interpolated ``value`` and the bucket
    ``[low, high]`` the true quantile lies in (``high`` is ``inf`` in the +Inf bucket).
    """

    q: float
    value: float
    low: float
    high: float

    @property
    def width(self) -> float:
        """``high - low``: how far apart two distributions can be and read the same."""
        return self.high - self.low

    def straddles(self, threshold: float) -> bool:
        """True when ``threshold`` lies strictly inside the bucket: whether the true
        quantile is above or below it cannot be told from the histogram."""
        return self.low < threshold < self.high


def quantile_bounds(table: pl.DataFrame, q: float) -> QuantileBounds:
    """Prometheus' ``histogram_quantile`` on a :func:`bucket_table`, with the bucket edges.

    Semantics as Prometheus: rank ``q * total``; linear interpolation in the first
    bucket whose cumulative count reaches the rank; the lowest bucket starts at 0;
    a rank in the +Inf bucket returns the largest finite bound (and ``high`` is
    ``inf``). NaN (with NaN bounds) when there are no observations.

    Examples
    --------
    >>> import polars as pl
    >>> t = bucket_table(pl.DataFrame({"le": ["1", "2", "+Inf"], "value": [5.0, 9.0, 10.0]}))
    >>> quantile_bounds(t, 0.99)
    QuantileBounds(q=0.99, value=2.0, low=2.0, high=inf)
    """
    nan = float("nan")
    if not 0 <= q <= 1:
        raise DataError(f"quantile {q!r} is outside [0, 1]", field="q",
                        expected="a number in [0, 1]")
    if table.height == 0:
        return QuantileBounds(q, nan, nan, nan)
    upper = table["upper"].to_numpy()
    lower = table["lower"].to_numpy()
    cum = table["cumulative"].to_numpy()
    total = float(cum[-1])
    if not total > 0 or not math.isinf(upper[-1]):
        return QuantileBounds(q, nan, nan, nan)
    rank = q * total
    i = int(np.searchsorted(cum, rank, side="left"))
    i = min(i, len(cum) - 1)
    if math.isinf(upper[i]):
        finite = upper[np.isfinite(upper)]
        top = float(finite[-1]) if len(finite) else nan
        return QuantileBounds(q, top, float(lower[i]), math.inf)
    lo = float(lower[i])
    below = float(cum[i - 1]) if i > 0 else 0.0
    inside = float(cum[i]) - below
    frac = (rank - below) / inside if inside > 0 else 1.0
    value = lo + (float(upper[i]) - lo) * frac
    return QuantileBounds(q, value, lo, float(upper[i]))


# ---------------------------------------------------------------------------
# fitting distributions to bucket counts


@dataclass(frozen=True)
class BucketFit:
    """A distribution fitted to bucket counts (maximum likelihood, interval-censored).

    Attributes
    ----------
    kind
        ``"lognormal"`` or ``"gamma"``.
    mean, cv
        Mean and coefficient of variation of the fitted distribution.
    mean_se, cv_se
        Standard errors (observed information; the mean's is the sampling error
        ``sd / sqrt(n)`` when it was held at the exact ``_sum / _count`` value).
    n
        Observations (the total count, possibly fractional from ``increase()``).
    loglik
        Log-likelihood at the optimum.
    exact_mean
        Whether the mean was held at a value given by ``_sum / _count``.
    """

    kind: str
    mean: float
    cv: float
    mean_se: float
    cv_se: float
    n: float
    loglik: float
    exact_mean: bool

    @property
    def spec(self) -> str:
        """The simulator's distribution spec (``"lognormal:mean=0.5s,cv=0.4"``)."""
        if not self.cv > 1e-9:
            return f"fixed:{self.mean:.6g}s"
        return f"{self.kind}:mean={self.mean:.6g}s,cv={self.cv:.4g}"

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """Fitted CDF at ``x``."""
        return _cdf(self.kind, np.asarray(x, dtype=np.float64), self.mean, self.cv)

    def quantile(self, q: float) -> float:
        """Fitted quantile ``q``."""
        from scipy import stats

        if self.kind == "lognormal":
            s = math.sqrt(math.log1p(self.cv**2))
            return float(stats.lognorm.ppf(q, s, scale=self.mean / math.exp(s * s / 2)))
        shape = 1.0 / self.cv**2
        return float(stats.gamma.ppf(q, shape, scale=self.mean / shape))


def _cdf(kind: str, x: np.ndarray, mean: float, cv: float) -> np.ndarray:
    from scipy import special

    out = np.zeros_like(x, dtype=np.float64)
    pos = x > 0
    out[np.isposinf(x)] = 1.0
    fin = pos & np.isfinite(x)
    if kind == "lognormal":
        s2 = math.log1p(cv * cv)
        mu = math.log(mean) - s2 / 2
        out[fin] = special.ndtr((np.log(x[fin]) - mu) / math.sqrt(s2))
    else:
        shape = 1.0 / (cv * cv)
        out[fin] = special.gammainc(shape, x[fin] * shape / mean)
    return out


def _nll(kind: str, lower: np.ndarray, upper: np.ndarray, counts: np.ndarray,
         mean: float, cv: float) -> float:
    p = _cdf(kind, upper, mean, cv) - _cdf(kind, lower, mean, cv)
    return -float(np.sum(counts * np.log(np.maximum(p, 1e-300))))


def fit_buckets(table: pl.DataFrame, *, kind: str = "lognormal",
                mean: float | None = None) -> BucketFit:
    """Fit a distribution to the counts of a :func:`bucket_table`.

    Parameters
    ----------
    table
        Buckets with ``lower``, ``upper`` and ``count``.
    kind
        ``"lognormal"`` or ``"gamma"`` (positive quantities).
    mean
        The exact mean (``increase(_sum) / increase(_count)``) when the source has
        it: the fit then only estimates the spread, which buckets resolve better
        than the location.

    Returns
    -------
    BucketFit

    Raises
    ------
    DataError
        No observations, or all of them in one bucket without a known mean (the
        spread is then not identifiable).

    Examples
    --------
    >>> import numpy as np, polars as pl
    >>> x = np.random.default_rng(1).lognormal(np.log(2.0), 0.5, 20000)
    >>> bounds = [0.5, 1, 2.5, 5, 10]
    >>> cum = [float((x <= b).sum()) for b in bounds] + [float(len(x))]
    >>> t = bucket_table(pl.DataFrame({"le": ["0.5", "1", "2.5", "5", "10", "+Inf"],
    ...                                "value": cum}))
    >>> f = fit_buckets(t)
    >>> bool(abs(f.mean / (2.0 * np.exp(0.125)) - 1) < 0.02), abs(f.cv / 0.533 - 1) < 0.03
    (True, True)
    """
    from scipy import optimize

    if kind not in ("lognormal", "gamma"):
        raise DataError(f"unknown distribution {kind!r}", field="kind",
                        expected="'lognormal' or 'gamma'")
    t = table.filter(pl.col("count") > 0)
    n = float(t["count"].sum()) if t.height else 0.0
    if not n > 0:
        raise DataError("no observations in the histogram", field="buckets",
                        expected="at least one observation")
    lower = np.maximum(t["lower"].to_numpy(), 0.0)
    upper = t["upper"].to_numpy()
    counts = t["count"].to_numpy()
    exact = mean is not None and math.isfinite(mean) and mean > 0
    if t.height == 1 and not exact:
        raise DataError(
            f"all {n:.6g} observations fall in one bucket ({lower[0]:g}-{upper[0]:g}); "
            "the spread cannot be estimated", field="buckets",
            expected="observations in at least two buckets, or the exact mean")
    if exact:
        def f1(log_cv: float) -> float:
            return _nll(kind, lower, upper, counts, float(mean), math.exp(log_cv))

        res = optimize.minimize_scalar(f1, bounds=(math.log(1e-3), math.log(20.0)),
                                       method="bounded", options={"xatol": 1e-6})
        lcv = float(res.x)
        cv = math.exp(lcv)
        h = 1e-3
        d2 = (f1(lcv + h) - 2 * f1(lcv) + f1(lcv - h)) / h**2
        cv_se = cv / math.sqrt(d2) if d2 > 0 else math.inf
        m = float(mean)
        return BucketFit(kind, m, cv, m * cv / math.sqrt(n), cv_se, n,
                         -float(res.fun), True)
    # starting point: mid-points of the buckets
    mids = np.where(np.isfinite(upper), (lower + upper) / 2,
                    np.where(lower > 0, lower * 1.5, 1.0))
    mids = np.maximum(mids, 1e-9)
    m0 = float(np.sum(mids * counts) / n)
    sd0 = math.sqrt(max(float(np.sum(counts * (mids - m0) ** 2) / n), (m0 * 0.1) ** 2))

    def f2(p: np.ndarray) -> float:
        return _nll(kind, lower, upper, counts, math.exp(p[0]), math.exp(p[1]))

    x0 = np.array([math.log(m0), math.log(min(max(sd0 / m0, 0.05), 5.0))])
    res = optimize.minimize(f2, x0, method="Nelder-Mead",
                            options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 4000})
    lm, lcv = (float(v) for v in res.x)
    hess = _hessian(f2, np.array([lm, lcv]))
    try:
        cov = np.linalg.inv(hess)
        se_lm, se_lcv = (math.sqrt(v) if v > 0 else math.inf for v in np.diag(cov))
    except np.linalg.LinAlgError:
        se_lm = se_lcv = math.inf
    m, cv = math.exp(lm), math.exp(lcv)
    return BucketFit(kind, m, cv, m * se_lm, cv * se_lcv, n, -float(res.fun), False)


def _hessian(f, x: np.ndarray, h: float = 1e-3) -> np.ndarray:
    k = len(x)
    out = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            ei = np.eye(k)[i] * h
            ej = np.eye(k)[j] * h
            out[i, j] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej)
                         + f(x - ei - ej)) / (4 * h * h)
    return out
