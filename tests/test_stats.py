"""The comparison statistics against independent references.

References (see tests/data/README.md for exact provenance):

* benchstat's own test data and golden output (golang.org/x/perf,
  cmd/benchstat/testdata at 02c55175): tests/data/benchstat/;
* benchstat's README example and benchmath/assumption_test.go (golang/perf);
* go-moremath's stats/utest_test.go (the U test benchstat calls; its large
  cases were checked there against R's wilcox.test);
* scipy and statsmodels for the tests they implement;
* exact enumeration of all label assignments for small samples.
"""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

import numpy as np
import pytest

from specanalysis.errors import DataError
from specanalysis.stats import (
    block_means,
    block_test,
    hac_test,
    hodges_lehmann,
    holm,
    integrated_autocorr_time,
    mann_whitney,
    median_ci,
    mw_min_p,
    poisson_rate_test,
)

DATA = Path(__file__).parent / "data" / "benchstat"


def read_go_bench(path: Path) -> dict[str, list[float]]:
    """ns/op values per benchmark name from `go test -bench` output."""
    out: dict[str, list[float]] = {}
    for line in path.read_text().splitlines():
        m = re.match(r"Benchmark(\S+)\s+\d+\s+([\d.]+) ns/op", line)
        if m:
            out.setdefault(m.group(1), []).append(float(m.group(2)) * 1e-9)
    return out


def golden_csv() -> dict[str, dict[str, str]]:
    rows = {}
    for line in (DATA / "csvOldNew.stdout").read_text().splitlines():
        parts = line.split(",")
        if len(parts) == 7 and parts[0].startswith("Encode"):
            rows[parts[0]] = dict(zip(
                ["old", "old_ci", "new", "new_ci", "delta", "p"], parts[1:], strict=True))
    return rows


# ------------------------------------------------------------ benchstat test data


@pytest.mark.parametrize("name", ["Encode/format=json-48", "Encode/format=gob-48"])
def test_benchstat_golden_csv(name):
    old, new = read_go_bench(DATA / "old.txt"), read_go_bench(DATA / "new.txt")
    want = golden_csv()[name]
    b, a = old[name], new[name]
    # medians
    mb, lob, hib, _ = median_ci(b, 0.95)
    ma, loa, hia, _ = median_ci(a, 0.95)
    assert mb == pytest.approx(float(want["old"]), rel=1e-12)
    assert ma == pytest.approx(float(want["new"]), rel=1e-12)

    # the interval as benchstat prints it: largest distance from the median, in %
    def pct(c, lo, hi):
        return f"{round(100 * max(abs(lo - c), abs(hi - c)) / abs(c)):.0f}%"

    assert pct(mb, lob, hib) == want["old_ci"]
    assert pct(ma, loa, hia) == want["new_ci"]
    # p-value and n
    r = mann_whitney(b, a)
    p_text, n_text = want["p"].split()
    assert f"p={r.p_value:.3f}" == p_text
    assert n_text == f"n={len(b)}" and r.n1 == r.n2 == len(b)
    if want["delta"] != "~":
        delta = 100 * (ma - mb) / mb
        assert f"{delta:+.2f}%" == want["delta"]
        assert r.p_value < 0.05
    else:
        assert r.p_value > 0.05


def test_benchstat_gob_case_uses_exact_distribution_with_ties():
    # gob has ties (3069 twice, ...); benchstat's 0.446 is the exact conditional
    # distribution: the normal approximation would print 0.449.
    old, new = read_go_bench(DATA / "old.txt"), read_go_bench(DATA / "new.txt")
    b, a = old["Encode/format=gob-48"], new["Encode/format=gob-48"]
    assert mann_whitney(b, a).method == "exact"
    assert f"{mann_whitney(b, a, method='normal').p_value:.3f}" == "0.449"


def test_benchstat_readme_example():
    # cmd/benchstat/README.md: GobEncode p=0.016 n=4+5, JSONEncode p=0.286 n=4+5
    gob_old = [13552735, 13553943, 13606356, 13683198]
    gob_new = [11773189, 11942588, 11786159, 11628583, 11815924]
    json_old = [32395067, 32334214, 31992891, 31735022]
    json_new = [32036529, 32156552, 31288355, 31559706, 31765634]
    assert f"{mann_whitney(gob_old, gob_new).p_value:.3f}" == "0.016"
    assert f"{mann_whitney(json_old, json_new).p_value:.3f}" == "0.286"


def test_benchmath_assumption_cases():
    assert mann_whitney([-1, -1, -1], [1, 1, 1]).p_value == pytest.approx(0.1)
    assert mann_whitney([-1] * 4, [1] * 4).p_value == pytest.approx(0.02857142857142857)
    assert mann_whitney([1, -1, -1, -1], [-1, 1, 1, 1]).p_value == pytest.approx(
        0.4857142857142857)
    r = mann_whitney([1] * 4, [1] * 4)
    assert r.p_value == 1 and r.note == "all samples are equal"
    # minimum sample sizes: >= 4 at alpha 0.05, >= 5 at 0.01
    assert mw_min_p(3, 3) > 0.05 and mw_min_p(4, 4) <= 0.05
    assert mw_min_p(4, 4) > 0.01 and mw_min_p(5, 5) <= 0.01


def test_benchmath_median_interval():
    med, lo, hi, conf = median_ci([-10, 2, 3, 4, 5, 6], 0.95)
    assert (med, lo, hi) == (3.5, -10, 6)
    assert conf == pytest.approx(1 - 0.03125)
    # 0.99 needs >= 8 samples: infinite interval
    assert median_ci([-10, 2, 3, 4, 5, 6], 0.99)[1:3] == (-math.inf, math.inf)
    assert median_ci([1, 2], 0.0) == (1.5, 1, 2, 0.5)
    assert median_ci([1], 0.95)[1:] == (-math.inf, math.inf, 1.0)
    # 6 is the smallest n with a finite 95 % interval
    assert median_ci(range(5), 0.95)[1] == -math.inf
    assert math.isfinite(median_ci(range(6), 0.95)[1])


def test_moremath_utest_cases():
    s1, s2, s3, s4 = [2, 1, 3, 5], [12, 11, 13, 15], [0, 4, 6, 7], [2, 2, 2, 2]
    assert mann_whitney(s1, s2).p_value == pytest.approx(0.028571428571428577)
    assert mann_whitney(s2, s1).p_value == pytest.approx(0.028571428571428577)
    assert mann_whitney(s1, s3).p_value == pytest.approx(0.48571428571428577)
    assert mann_whitney(s1, s1).p_value == 1
    assert mann_whitney(s1, s4).p_value == pytest.approx(0.7142857142857143)
    # large samples, checked in go-moremath against R's wilcox.test
    l1 = np.arange(500) * 2.0
    l2 = np.arange(600) * 2.0 - 41
    l3 = l2.copy()
    l3[:30] = l1[:30]
    assert mann_whitney(l1, l2).p_value == pytest.approx(0.0049335360814172224, rel=1e-9)
    assert mann_whitney(l1, l3).p_value == pytest.approx(0.0038703814239617884, rel=1e-9)
    assert mann_whitney(l1, l1).p_value == 1


# ------------------------------------------------------------- scipy/statsmodels


def test_normal_approximation_matches_scipy():
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(3)
    for _ in range(20):
        x = rng.integers(0, 15, size=rng.integers(30, 60)).astype(float)
        y = rng.integers(2, 17, size=rng.integers(30, 60)).astype(float)
        ours = mann_whitney(x, y, method="normal").p_value
        ref = mannwhitneyu(x, y, method="asymptotic", use_continuity=True).pvalue
        assert ours == pytest.approx(ref, rel=1e-9, abs=1e-15)


def test_exact_without_ties_matches_scipy():
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(4)
    for _ in range(20):
        x = rng.normal(size=rng.integers(2, 12))
        y = rng.normal(0.7, size=rng.integers(2, 12))
        ours = mann_whitney(x, y, method="exact").p_value
        ref = mannwhitneyu(x, y, method="exact").pvalue
        assert ours == pytest.approx(ref, rel=1e-9)


def test_exact_with_ties_matches_full_enumeration():
    rng = np.random.default_rng(5)
    for _ in range(15):
        n1, n2 = int(rng.integers(2, 6)), int(rng.integers(2, 6))
        pool = rng.integers(0, 4, size=n1 + n2).astype(float)
        if np.all(pool == pool[0]):
            continue
        x, y = pool[:n1], pool[n1:]
        # midranks of the pooled values, then every choice of n1 positions
        order = np.argsort(pool, kind="mergesort")
        ranks = np.empty(n1 + n2)
        sv = pool[order]
        i = 0
        while i < sv.size:
            j = i
            while j + 1 < sv.size and sv[j + 1] == sv[i]:
                j += 1
            ranks[order[i:j + 1]] = (i + j) / 2 + 1
            i = j + 1
        s_obs = ranks[:n1].sum()
        sums = [ranks[list(c)].sum() for c in itertools.combinations(range(n1 + n2), n1)]
        sums = np.array(sums)
        lower = np.mean(sums <= s_obs + 1e-9)
        upper = np.mean(sums >= s_obs - 1e-9)
        want = min(1.0, 2 * min(lower, upper))
        assert mann_whitney(x, y, method="exact").p_value == pytest.approx(want, rel=1e-9)


def test_holm_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(6)
    for _ in range(10):
        p = rng.uniform(0, 0.2, size=8)
        assert holm(p) == pytest.approx(multipletests(p, method="holm")[1].tolist())
    assert math.isnan(holm([0.01, float("nan")])[1])


@pytest.mark.parametrize("c1,e1,c2,e2", [(20, 1000, 40, 1000), (7, 30.0, 3, 45.0),
                                         (120, 5000, 150, 4800), (0, 10, 4, 10)])
def test_poisson_rate_test_matches_statsmodels(c1, e1, c2, e2):
    from statsmodels.stats.rates import test_poisson_2indep

    ours = poisson_rate_test(c1, e1, c2, e2)
    # statsmodels tests rate1/rate2: its first sample is our "after"
    ref = test_poisson_2indep(c2, e2, c1, e1, method="exact-cond")
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-9)


def test_poisson_ratio_interval_is_clopper_pearson():
    from scipy.stats import beta

    t = poisson_rate_test(30, 100.0, 45, 100.0, confidence=0.95)
    n = 75
    lo_p, hi_p = beta.ppf(0.025, 45, n - 45 + 1), beta.ppf(0.975, 45 + 1, n - 45)
    assert t.ratio_lo == pytest.approx(lo_p / (1 - lo_p))
    assert t.ratio_hi == pytest.approx(hi_p / (1 - hi_p))
    assert t.ratio == pytest.approx(1.5)


def test_poisson_rejects_bad_counts():
    with pytest.raises(DataError, match="exposure"):
        poisson_rate_test(3, 0, 4, 10)
    with pytest.raises(DataError, match="count"):
        poisson_rate_test(-1, 10, 4, 10)


# ------------------------------------------------------------ Hodges-Lehmann


def test_hodges_lehmann_by_hand():
    x, y = [1, 2, 3, 4], [11, 12, 13, 14]
    # pairwise differences 7..13; with n1 = n2 = 4, P(U <= 1) = 2/70 <= 0.05 and
    # P(U <= 2) = 4/70 > 0.05, so the 90 % interval is [d(2), d(15)]
    shift, lo, hi = hodges_lehmann(x, y, 0.90)
    assert (shift, lo, hi) == (10.0, 8.0, 12.0)
    # 95 %: tail 0.025 -> only P(U <= 0) = 1/70 qualifies -> [d(1), d(16)]
    assert hodges_lehmann(x, y, 0.95)[1:] == (7.0, 13.0)
    # 3 + 3 at 95 %: P(U <= 0) = 1/20 > 0.025, no finite interval
    assert hodges_lehmann([1, 2, 3], [4, 5, 6], 0.95)[1:] == (-math.inf, math.inf)


def test_hodges_lehmann_point_is_median_of_differences():
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=13), rng.normal(1, size=17)
    d = (y[None, :] - x[:, None]).ravel()
    assert hodges_lehmann(x, y)[0] == pytest.approx(float(np.median(d)))


# ---------------------------------------------------------------- time series


def test_autocorrelation_time_of_ar1():
    rng = np.random.default_rng(8)
    phi, n = 0.8, 40_000
    e = rng.normal(size=n)
    x = np.empty(n)
    x[0] = e[0]
    for i in range(1, n):
        x[i] = phi * x[i - 1] + e[i]
    assert integrated_autocorr_time(x) == pytest.approx((1 + phi) / (1 - phi), rel=0.15)


def test_autocorrelation_time_of_moving_window():
    # a rate(x[5m]) sampled every 15 s is a moving sum of 20 increments: tau ~ 20
    rng = np.random.default_rng(9)
    inc = rng.poisson(10, size=20_020).astype(float)
    rate = np.convolve(inc, np.ones(20) / 20, mode="valid")
    assert 15 < integrated_autocorr_time(rate) < 25


def test_block_test_blocks_cover_range_and_tau():
    rng = np.random.default_rng(10)
    inc = rng.poisson(10, size=4000).astype(float)
    rate = np.convolve(inc, np.ones(20) / 20, mode="valid")
    t = block_test(rate[:1900], rate[1950:3850], min_block=20)
    assert t.block >= 20 and t.block >= 5 * t.tau
    assert t.blocks_before == len(block_means(rate[:1900], t.block))
    assert t.ess_before == pytest.approx(1900 / t.tau)


def test_block_test_detects_a_shift_and_hac_agrees():
    rng = np.random.default_rng(11)
    e = rng.normal(size=6000)
    x = np.convolve(e, np.ones(10) / 10, mode="valid")
    b, a = x[:2900], x[3000:5900] + 0.3
    t = block_test(b, a)
    assert t.p_value < 0.01 and t.diff_lo < 0.3 < t.diff_hi
    diff, p = hac_test(b, a, maxlags=t.block)
    assert diff == pytest.approx(a.mean() - b.mean())
    assert p < 0.01


def test_block_test_too_short_is_a_data_error():
    rng = np.random.default_rng(12)
    with pytest.raises(DataError, match="too few blocks"):
        block_test(rng.normal(size=25), rng.normal(size=25), min_block=20)


def test_empty_or_nan_sample_is_a_data_error():
    with pytest.raises(DataError, match="no values"):
        mann_whitney([], [1, 2])
    with pytest.raises(DataError, match="no values"):
        median_ci([float("nan")] * 3)


def test_hac_matches_statsmodels_newey_west():
    import statsmodels.api as sm

    rng = np.random.default_rng(13)
    e = rng.normal(size=3000)
    x = np.convolve(e, np.ones(15) / 15, mode="valid")
    for n1, n2, lags in ((700, 900, 20), (400, 400, 60), (1000, 1500, 5)):
        b, a = x[:n1], x[n1:n1 + n2] + 0.05
        y = np.concatenate([b, a])
        design = np.column_stack([np.ones(y.size), np.r_[np.zeros(n1), np.ones(n2)]])
        ref = sm.OLS(y, design).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
        diff, p = hac_test(b, a, maxlags=lags)
        assert diff == pytest.approx(ref.params[1], rel=1e-9)
        assert p == pytest.approx(ref.pvalues[1], rel=1e-6)
