"""Distribution-free statistics for before/after comparisons (pure numpy, scipy lazily).

The building blocks :mod:`specanalysis.compare` uses, each checked in the tests
against an independent reference (benchstat's published test data, scipy,
statsmodels, exact enumeration, simulation):

* :func:`mann_whitney` -- two-sided Mann-Whitney U test; the exact null
  distribution conditional on ties for small samples (benchstat's choice of
  when to use it), else the normal approximation with tie and continuity
  corrections.
* :func:`median_ci` -- the sample median with a distribution-free interval
  from order statistics (binomial coverage).
* :func:`hodges_lehmann` -- the shift between two samples (median of pairwise
  differences) with the interval that inverts the Mann-Whitney test; on logs
  it is a ratio with its interval.
* :func:`holm` -- Holm's step-down adjustment across metrics.
* :func:`poisson_rate_test` -- exact conditional test of two Poisson rates
  (counts with exposures), with the rate-ratio interval.
* :func:`integrated_autocorr_time`, :func:`block_means`, :func:`block_test`,
  :func:`hac_test` -- time series: blocks at least as long as the PromQL range
  and several autocorrelation times, the effective sample size, a Welch test on
  the block means and a Newey-West (HAC) cross-check.

Examples
--------
>>> r = mann_whitney([1, 2, 3, 5], [11, 12, 13, 15])
>>> round(r.p_value, 6), r.method
(0.028571, 'exact')
>>> median_ci([-10, 2, 3, 4, 5, 6], 0.95)
(3.5, -10.0, 6.0, 0.96875)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from specanalysis.errors import DataError

__all__ = [
    "MWResult",
    "mann_whitney",
    "mw_min_p",
    "median_ci",
    "hodges_lehmann",
    "holm",
    "PoissonTest",
    "poisson_rate_test",
    "integrated_autocorr_time",
    "block_means",
    "BlockTest",
    "block_test",
    "hac_test",
    "EXACT_LIMIT",
    "TIES_EXACT_LIMIT",
]

#: Largest sample size (each side) for the exact U distribution without ties
#: (benchstat's ``MannWhitneyExactLimit``).
EXACT_LIMIT = 50
#: Largest sample size (each side) for the exact distribution with ties
#: (benchstat's ``MannWhitneyTiesExactLimit`` in go-moremath since it was raised from 9).
TIES_EXACT_LIMIT = 25


def _clean(x: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=float).ravel()
    a = a[~np.isnan(a)]
    if a.size == 0:
        raise DataError(f"{what} has no values (empty or all NaN)", field=what,
                        expected="at least one number")
    return a


def _norm_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def _norm_ppf(p: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(p)


# ------------------------------------------------------------------ Mann-Whitney


@dataclass(frozen=True)
class MWResult:
    """A two-sided Mann-Whitney U test.

    ``u`` is the U statistic of the first sample (pairs where the first sample's
    value is larger, ties counting 1/2); ``method`` is ``"exact"`` or
    ``"normal"``; ``note`` explains a degenerate case (all values equal).
    """

    u: float
    p_value: float
    n1: int
    n2: int
    method: str
    note: str = ""


def _midranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average ranks (1-based) of ``values`` and the sizes of the tie groups."""
    order = np.argsort(values, kind="mergesort")
    sorted_v = values[order]
    _, start, counts = np.unique(sorted_v, return_index=True, return_counts=True)
    ranks_sorted = np.repeat(start + (counts + 1) / 2.0, counts)
    ranks = np.empty_like(ranks_sorted)
    ranks[order] = ranks_sorted
    return ranks, counts


def _rank_sum_distribution(doubled_ranks: np.ndarray, n1: int) -> np.ndarray:
    """Number of n1-subsets of ``doubled_ranks`` (integers) by their sum.

    Dynamic programming over the elements: ``ways[k, s]`` counts the subsets
    of size ``k`` of the elements seen so far with sum ``s``. Floats hold the
    counts (exact up to 2**53, relative error 1e-16 beyond), normalised by the
    caller.
    """
    total = int(doubled_ranks.sum())
    ways = np.zeros((n1 + 1, total + 1))
    ways[0, 0] = 1.0
    for i, r in enumerate(doubled_ranks.astype(int)):
        top = min(i + 1, n1)
        # descending k so each element is used at most once
        for k in range(top, 0, -1):
            ways[k, r:] += ways[k - 1, : total + 1 - r]
    return ways[n1]


def mann_whitney(
    x: Sequence[float], y: Sequence[float], *, method: str = "auto"
) -> MWResult:
    """Two-sided Mann-Whitney U (Wilcoxon rank-sum) test of ``x`` against ``y``.

    Parameters
    ----------
    x, y
        The two samples (NaN dropped; an empty sample is a ``DataError``).
    method
        ``"auto"`` (benchstat's rule: exact when both samples have at most
        :data:`EXACT_LIMIT` values and there are no ties, or at most
        :data:`TIES_EXACT_LIMIT` values with ties; normal otherwise),
        ``"exact"`` (the permutation distribution of the midrank sum,
        conditional on the tie pattern) or ``"normal"`` (normal approximation
        with tie and continuity corrections, as R's ``wilcox.test``).

    Returns
    -------
    MWResult
        The p-value is ``min(1, 2 * min(P(S <= s), P(S >= s)))`` for the exact
        method; 1 when every value is equal.

    Examples
    --------
    >>> mann_whitney([-1, -1, -1], [1, 1, 1]).p_value
    0.1
    >>> mann_whitney([1, 1, 1, 1], [1, 1, 1, 1]).note
    'all samples are equal'
    """
    a, b = _clean(x, "before"), _clean(y, "after")
    n1, n2 = a.size, b.size
    if method not in ("auto", "exact", "normal"):
        raise DataError(f"unknown method {method!r}", field="method",
                        expected="'auto', 'exact' or 'normal'")
    both = np.concatenate([a, b])
    ranks, ties = _midranks(both)
    r1 = float(ranks[:n1].sum())
    u1 = r1 - n1 * (n1 + 1) / 2.0
    if ties.size == 1:
        return MWResult(u1, 1.0, n1, n2, "exact", "all samples are equal")
    has_ties = bool((ties > 1).any())
    if method == "auto":
        limit = TIES_EXACT_LIMIT if has_ties else EXACT_LIMIT
        method = "exact" if (n1 <= limit and n2 <= limit) else "normal"
    if method == "exact":
        doubled = np.rint(2 * ranks).astype(int)
        dist = _rank_sum_distribution(doubled, n1)
        dist = dist / dist.sum()
        s = int(round(2 * r1))
        lower = float(dist[: s + 1].sum())
        upper = float(dist[s:].sum())
        p = min(1.0, 2.0 * min(lower, upper))
        return MWResult(u1, p, n1, n2, "exact")
    n = n1 + n2
    mu = n1 * n2 / 2.0
    tie_term = float((ties.astype(float) ** 3 - ties).sum())
    sigma = math.sqrt(n1 * n2 / 12.0 * ((n + 1) - tie_term / (n * (n - 1))))
    d = u1 - mu
    d -= math.copysign(0.5, d) if d != 0 else 0.0
    z = d / sigma
    p = min(1.0, 2.0 * _norm_sf(abs(z)))
    return MWResult(u1, p, n1, n2, "normal")


def mw_min_p(n1: int, n2: int) -> float:
    """Smallest two-sided p-value the U test can give with ``n1`` and ``n2`` values.

    ``2 / C(n1 + n2, n1)`` (complete separation, no ties): with 3 runs a side it
    is 0.1, so no change can be significant at 5 %.

    Examples
    --------
    >>> mw_min_p(3, 3), round(mw_min_p(4, 4), 6)
    (0.1, 0.028571)
    """
    if n1 < 1 or n2 < 1:
        return 1.0
    return min(1.0, 2.0 / math.comb(n1 + n2, n1))


# ------------------------------------------------------------ order statistics


def median_ci(x: Sequence[float], confidence: float = 0.95
              ) -> tuple[float, float, float, float]:
    """Median with the distribution-free order-statistic interval.

    The interval ``[x_(k), x_(n+1-k)]`` with the largest ``k`` whose coverage
    ``1 - 2 P(B <= k - 1)``, ``B ~ Binomial(n, 1/2)``, is at least
    ``confidence``. Returns ``(median, lo, hi, achieved confidence)``; with too
    few values for the requested confidence the interval is ``(-inf, inf)``
    with confidence 1 (benchstat: "need >= 6 samples for confidence interval at
    level 0.95").

    Examples
    --------
    >>> median_ci([1, 2], 0.0)
    (1.5, 1.0, 2.0, 0.5)
    >>> median_ci([1.0, 2.0, 3.0], 0.95)
    (2.0, -inf, inf, 1.0)
    """
    a = np.sort(_clean(x, "sample"))
    n = a.size
    med = float(np.median(a))
    best = None
    cdf = 0.5**n  # P(B <= k - 1), starting at k = 1
    for k in range(1, n // 2 + 1):
        cover = 1.0 - 2.0 * cdf
        if cover + 1e-12 >= confidence:
            best = (k, cover)
        else:
            break
        cdf += math.comb(n, k) / 2.0**n
    if best is None or n < 2:
        return med, -math.inf, math.inf, 1.0
    k, cover = best
    return med, float(a[k - 1]), float(a[n - k]), cover


def hodges_lehmann(x: Sequence[float], y: Sequence[float], confidence: float = 0.95
                   ) -> tuple[float, float, float]:
    """Shift ``y - x`` (median of all pairwise differences) with its interval.

    The interval inverts the two-sided Mann-Whitney test: it runs from the
    ``k``-th smallest to the ``k``-th largest pairwise difference, where ``k``
    is the largest count with ``P(U < k) <= (1 - confidence) / 2`` under the
    null (exact distribution for small samples, normal beyond). Returns
    ``(shift, lo, hi)``; ``(shift, -inf, inf)`` when the samples are too small
    for the confidence.

    Examples
    --------
    >>> hodges_lehmann([1, 2, 3, 4], [11, 12, 13, 14], 0.9)
    (10.0, 8.0, 12.0)
    """
    a, b = _clean(x, "before"), _clean(y, "after")
    n1, n2 = a.size, b.size
    diffs = np.sort((b[None, :] - a[:, None]).ravel())
    shift = float(np.median(diffs))
    tail = (1.0 - confidence) / 2.0
    m = n1 * n2
    if n1 <= EXACT_LIMIT and n2 <= EXACT_LIMIT:
        dist = _rank_sum_distribution(np.arange(2, 2 * (n1 + n2) + 1, 2), n1)
        dist = dist / dist.sum()
        nz = dist[dist > 0]  # U = 0 .. m (rank sums step by 2 in doubled units)
        cdf = np.cumsum(nz)
        # k = number of U values u with P(U <= u) <= tail, i.e. P(U < k) <= tail
        k = int(np.searchsorted(cdf, tail + 1e-12, side="right"))
    else:
        z = _norm_ppf(1.0 - tail)
        k = int(math.floor(m / 2.0 - z * math.sqrt(m * (n1 + n2 + 1) / 12.0)))
    if k < 1:
        return shift, -math.inf, math.inf
    return shift, float(diffs[k - 1]), float(diffs[m - k])


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (NaN entries stay NaN and do not count).

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = ok.size
    if m == 0:
        return out.tolist()
    order = ok[np.argsort(p[ok], kind="mergesort")]
    running = 0.0
    for i, idx in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[idx]))
        out[idx] = running
    return [float(v) for v in out]


# ----------------------------------------------------------------------- counts


@dataclass(frozen=True)
class PoissonTest:
    """Exact conditional comparison of two Poisson rates.

    ``ratio`` is (after rate) / (before rate) with its Clopper-Pearson based
    interval ``[ratio_lo, ratio_hi]``; ``p_value`` is the two-sided exact
    binomial p-value of ``count_after`` out of the total given the exposures.
    """

    count_before: int
    exposure_before: float
    count_after: int
    exposure_after: float
    ratio: float
    ratio_lo: float
    ratio_hi: float
    p_value: float


def poisson_rate_test(count_before: float, exposure_before: float,
                      count_after: float, exposure_after: float, *,
                      confidence: float = 0.95) -> PoissonTest:
    """Two Poisson rates compared exactly (conditional binomial test).

    Given ``n = c1 + c2`` events, ``c2 ~ Binomial(n, e2 / (e1 + e2))`` under
    equal rates; the two-sided p-value is scipy's exact binomial test, and the
    rate ratio's interval maps the Clopper-Pearson interval of the binomial
    proportion (statsmodels' ``test_poisson_2indep(method="exact-cond")`` gives
    the same p-value).

    Examples
    --------
    >>> t = poisson_rate_test(20, 1000, 40, 1000)
    >>> round(t.ratio, 2), t.p_value < 0.05
    (2.0, True)
    """
    from scipy.stats import binomtest

    for name, v in (("count_before", count_before), ("count_after", count_after)):
        if not np.isfinite(v) or v < 0:
            raise DataError(f"{v!r} is not a count", field=name,
                            expected="a finite number >= 0")
    for name, v in (("exposure_before", exposure_before),
                    ("exposure_after", exposure_after)):
        if not np.isfinite(v) or v <= 0:
            raise DataError(f"{v!r} is not an exposure", field=name,
                            expected="a finite number > 0")
    c1, c2 = int(round(count_before)), int(round(count_after))
    e1, e2 = float(exposure_before), float(exposure_after)
    n = c1 + c2
    share = e2 / (e1 + e2)
    if n == 0:
        return PoissonTest(c1, e1, c2, e2, math.nan, 0.0, math.inf, 1.0)
    res = binomtest(c2, n, share)
    ci = res.proportion_ci(confidence_level=confidence, method="exact")

    def to_ratio(p: float) -> float:
        if p >= 1.0:
            return math.inf
        return (p / (1.0 - p)) * (e1 / e2)

    ratio = (c2 / e2) / (c1 / e1) if c1 > 0 else math.inf
    return PoissonTest(c1, e1, c2, e2, ratio, to_ratio(ci.low), to_ratio(ci.high),
                       float(res.pvalue))


# ------------------------------------------------------------------ time series


def integrated_autocorr_time(x: Sequence[float], *, max_lag: int | None = None) -> float:
    """Integrated autocorrelation time ``tau = 1 + 2 sum_k rho_k`` (in samples).

    Sums the sample autocorrelations up to the first lag where the sum of a
    pair of consecutive ones turns negative (Geyer's initial positive
    sequence), so noise at long lags is not added. White noise gives about 1,
    an AR(1) with coefficient ``phi`` gives ``(1 + phi) / (1 - phi)``; the
    effective sample size of ``n`` values is ``n / tau``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> round(integrated_autocorr_time(rng.normal(size=5000)), 1)
    1.0
    """
    a = _clean(x, "series")
    n = a.size
    if n < 4:
        return 1.0
    a = a - a.mean()
    var = float(a @ a) / n
    if var <= 0:
        return 1.0
    size = 1 << (2 * n - 1).bit_length()
    f = np.fft.rfft(a, size)
    acov = np.fft.irfft(f * np.conj(f), size)[:n] / n
    rho = acov / var
    top = n // 2 if max_lag is None else min(max_lag, n - 1)
    tau = 1.0
    k = 1
    while k + 1 <= top:
        pair = rho[k] + rho[k + 1]
        if pair <= 0:
            break
        tau += 2.0 * pair
        k += 2
    return max(1.0, float(tau))


def block_means(x: Sequence[float], block: int) -> np.ndarray:
    """Means of consecutive non-overlapping blocks of ``block`` values.

    A trailing partial block shorter than half a block is dropped; NaN values
    are ignored within a block (a block of only NaN is dropped).

    Examples
    --------
    >>> block_means([1, 2, 3, 4, 5, 6, 7], 3).tolist()
    [2.0, 5.0]
    """
    a = np.asarray(x, dtype=float).ravel()
    if block < 1:
        raise DataError(f"block length {block} < 1", field="block", expected=">= 1")
    out = []
    for i in range(0, a.size, block):
        chunk = a[i: i + block]
        if chunk.size * 2 < block and i > 0:
            break
        good = chunk[~np.isnan(chunk)]
        if good.size * 2 >= chunk.size and good.size:
            out.append(float(good.mean()))
    return np.asarray(out)


@dataclass(frozen=True)
class BlockTest:
    """Welch's t test on block means of two autocorrelated series.

    ``tau`` is the integrated autocorrelation time (samples), ``block`` the
    block length (samples), ``ess_before``/``ess_after`` the effective sample
    sizes ``n / tau``; ``diff`` is after - before (means) with its interval.
    """

    mean_before: float
    mean_after: float
    diff: float
    diff_lo: float
    diff_hi: float
    se: float
    df: float
    p_value: float
    tau: float
    block: int
    blocks_before: int
    blocks_after: int
    ess_before: float
    ess_after: float
    before_blocks: np.ndarray
    after_blocks: np.ndarray


def welch(a: np.ndarray, b: np.ndarray, confidence: float = 0.95
          ) -> tuple[float, float, float, float, float]:
    """Welch's t: ``(diff, se, df, p, half-width)`` for mean(b) - mean(a)."""
    from scipy.stats import t as t_dist

    n1, n2 = a.size, b.size
    v1, v2 = a.var(ddof=1), b.var(ddof=1)
    se2 = v1 / n1 + v2 / n2
    diff = float(b.mean() - a.mean())
    if se2 <= 0:
        return diff, 0.0, float(n1 + n2 - 2), (1.0 if diff == 0 else 0.0), 0.0
    se = math.sqrt(se2)
    df = se2**2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
    p = float(2 * t_dist.sf(abs(diff) / se, df))
    half = float(t_dist.ppf(0.5 + confidence / 2, df)) * se
    return diff, se, float(df), p, half


def block_test(before: Sequence[float], after: Sequence[float], *, min_block: int = 1,
               tau_multiple: float = 5.0, confidence: float = 0.95,
               tau: float | None = None) -> BlockTest:
    """Compare the means of two autocorrelated series on their block means.

    The block length is ``max(min_block, ceil(tau_multiple * tau))`` samples,
    where ``tau`` (unless given) is the larger of the two series'
    :func:`integrated_autocorr_time`; ``min_block`` should be the PromQL range
    in samples (a ``rate(x[5m])`` series sampled every 15 s is a moving window
    of 20 samples). Block means of blocks several autocorrelation times long
    are nearly independent, so Welch's t test on them keeps its level where a
    test on the raw points does not.

    Raises
    ------
    DataError
        When either series gives fewer than 2 blocks (too short for its
        autocorrelation).
    """
    a = _clean(before, "before")
    b = _clean(after, "after")
    if tau is None:
        tau = max(integrated_autocorr_time(a), integrated_autocorr_time(b))
    block = max(int(min_block), int(math.ceil(tau_multiple * tau)), 1)
    ma, mb = block_means(a, block), block_means(b, block)
    if ma.size < 2 or mb.size < 2:
        raise DataError(
            f"too few blocks ({ma.size} before, {mb.size} after) of {block} samples: "
            f"the windows are too short for their autocorrelation (tau = {tau:.1f} "
            "samples)", field="window",
            expected=f"windows of at least {2 * block} samples")
    diff, se, df, p, half = welch(ma, mb, confidence)
    return BlockTest(float(ma.mean()), float(mb.mean()), diff, diff - half, diff + half,
                     se, df, p, float(tau), block, int(ma.size), int(mb.size),
                     a.size / tau, b.size / tau, ma, mb)


def hac_test(before: Sequence[float], after: Sequence[float], *, maxlags: int
             ) -> tuple[float, float]:
    """Difference of means with Newey-West (HAC) standard errors.

    The regression of the concatenated series on an intercept and an "after"
    indicator, with a Bartlett-kernel long-run covariance over ``maxlags`` lags
    (no small-sample factor): the same numbers as
    statsmodels' ``OLS(...).fit(cov_type="HAC", cov_kwds={"maxlags": maxlags})``
    (the tests hold them equal), computed with one dot product per lag.
    Returns ``(diff, p_value)`` (normal reference distribution). A cross-check
    of :func:`block_test`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> diff, p = hac_test(rng.normal(size=500), rng.normal(1.0, size=500), maxlags=10)
    >>> round(diff, 1), p < 1e-6
    (1.0, True)
    """
    a = _clean(before, "before")
    b = _clean(after, "after")
    n1, n2 = a.size, b.size
    n = n1 + n2
    e = np.concatenate([a - a.mean(), b - b.mean()])
    d = np.r_[np.zeros(n1), np.ones(n2)]
    u = np.column_stack([e, e * d])  # scores x_t * e_t
    lags = max(0, min(int(maxlags), n - 1))
    s = u.T @ u
    for lag in range(1, lags + 1):
        g = u[lag:].T @ u[:-lag]
        s += (1.0 - lag / (lags + 1.0)) * (g + g.T)
    xtx_inv = np.linalg.inv(np.array([[n, n2], [n2, n2]], dtype=float))
    cov = xtx_inv @ s @ xtx_inv
    diff = float(b.mean() - a.mean())
    se = math.sqrt(max(float(cov[1, 1]), 0.0))
    if se == 0:
        return diff, (1.0 if diff == 0 else 0.0)
    return diff, min(1.0, 2.0 * _norm_sf(abs(diff) / se))
