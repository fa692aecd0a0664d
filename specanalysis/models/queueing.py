"""Multi-server queues for the proof pool: Erlang C with the Allen-Cunneen
correction for general arrivals and service times (GI/G/c).

Pure functions on floats (numpy only). The waiting time is modelled as zero
with probability ``1 - P(wait)`` and, given a wait, exponential with the mean
that makes ``E[Wq]`` right (the exact M/M/c shape; for M/G/c its tail rate is
the one matched to the Allen-Cunneen mean). The sojourn time is that wait plus
an independent service time, whose quantiles are computed by quadrature.

Formulas
--------
``a = lambda E[S]`` (offered load), ``rho = a / c``;
``ErlangC(c, a) = B / (1 - rho (1 - B))`` with Erlang B by the stable recursion
``B_0 = 1, B_k = a B_{k-1} / (k + a B_{k-1})``;
``E[Wq] = ErlangC / (c / E[S] - lambda) * (ca2 + cs2) / 2`` (Allen-Cunneen 1978;
exact for M/M/c where ``ca2 = cs2 = 1``, the Pollaczek-Khinchine mean for M/G/1).
For service less variable than exponential (``cs2 < 1``, a prover's nearly
fixed proof time) the M/D/c end uses Cosmetatos' (1976) correction
``W_MDc = W_MMc / 2 * (1 + (1 - rho)(c - 1)(sqrt(4 + 5c) - 2) / (16 rho c))``
and the mean interpolates linearly in ``cs2`` between M/D/c and M/M/c, scaled by
``(ca2 + cs2) / (1 + cs2)`` for non-Poisson arrivals;
``P(Wq > t) = ErlangC exp(-t ErlangC / E[Wq])``.

Nearly deterministic service (a prover's fixed circuit) with Poisson arrivals
has an exact solution, used instead of the exponential tail when ``cs2 < 1``
and ``ca2 == 1``: for M/D/c (Crommelin 1932) the number in system obeys
``N(t + D) = max(N(t) - c, 0) + Poisson(lambda D)``, whose stationary law
``pi`` is found numerically, and a FCFS arrival waits more than ``kD + u``
(``0 <= u < D``) exactly when ``max(N - c, 0) + Poisson(lambda (D - u)) >=
(k + 1) c`` (``N ~ pi``, the Poisson count independent). The waiting-time
distribution is then a mixture ``(1 - cs2) x M/D/c + cs2 x M/M/c``, which is
exact at both ends.

Examples
--------
>>> round(erlang_c(1, 0.5), 3)                  # M/M/1: P(wait) = rho
0.5
>>> q = mgc(rate=0.8, mean_service=1.0, servers=1)   # M/M/1: E[Wq] = rho/(mu - lambda)
>>> round(q.mean_wait, 6), round(q.utilisation, 2)
(4.0, 0.8)
>>> round(mgc(rate=0.8, mean_service=1.0, servers=1, cs2=0.0).mean_wait, 6)  # M/D/1
2.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from specanalysis.errors import DataError

__all__ = ["erlang_c", "mgc", "QueueFigures", "service_quantiles", "MDcWait",
           "mdc_wait"]


def _positive(name: str, value: float, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise DataError(f"{value!r} is not a number", field=name, expected="a number")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise DataError(f"{value!r} is out of range", field=name,
                        expected="a finite number " + (">= 0" if allow_zero else "> 0"))
    return v


def _poisson_pmf(mean: float | np.ndarray, n: int) -> np.ndarray:
    """``P(Poisson(mean) = k)`` for k < n (log space; ``mean`` may be an array,
    giving one row per mean)."""
    k = np.arange(n, dtype=np.float64)
    logfact = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n, dtype=np.float64)))])
    mu = np.atleast_1d(np.asarray(mean, dtype=np.float64))[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = k * np.log(mu) - mu - logfact
    out = np.where(mu > 0, np.exp(logp), (k == 0).astype(np.float64))
    return out[0] if np.ndim(mean) == 0 else out


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that an arrival waits in M/M/c (``servers`` = c, ``offered_load``
    = a = lambda E[S]); 1.0 when ``a >= c`` (unstable).

    Examples
    --------
    >>> round(erlang_c(2, 1.0), 4)
    0.3333
    """
    c = int(servers)
    if c < 1:
        raise DataError(f"{servers!r} servers", field="servers", expected="an integer >= 1")
    a = _positive("offered_load", offered_load, allow_zero=True)
    if a == 0:
        return 0.0
    if a >= c:
        return 1.0
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    rho = a / c
    return b / (1.0 - rho * (1.0 - b))


def service_quantiles(mean: float, cv: float, n: int = 256) -> np.ndarray:
    """``n`` equally weighted points of a lognormal service time with this mean
    and coefficient of variation (midpoint quantiles; all equal to ``mean`` when
    ``cv == 0``)."""
    if cv <= 0:
        return np.full(n, float(mean))
    from statistics import NormalDist

    s2 = math.log1p(cv * cv)
    mu = math.log(mean) - s2 / 2
    nd = NormalDist()
    z = np.array([nd.inv_cdf((i + 0.5) / n) for i in range(n)])
    return np.exp(mu + math.sqrt(s2) * z)


class MDcWait:
    """The exact FCFS waiting-time distribution of M/D/c (see the module docstring).

    ``P(W > kD + u)`` is tabulated on a grid of ``u`` (33 points over one
    service time) and interpolated linearly; the mean integrates it by
    Simpson's rule.

    Examples
    --------
    >>> w = mdc_wait(rate=0.5, service=1.0, servers=1)   # M/D/1: rho D / (2 (1 - rho))
    >>> round(w.mean, 4), round(w.tail(0.0), 4)           # P(wait) = rho for M/D/1
    (0.5, 0.5)
    """

    _GRID = 32

    def __init__(self, rate: float, service: float, servers: int) -> None:
        self.rate, self.service, self.servers = float(rate), float(service), int(servers)
        lam_d = self.rate * self.service
        c = self.servers
        if lam_d >= c:
            raise DataError(f"utilisation {lam_d / c:.2f} >= 1", field="rate",
                            expected="a stable queue (rate x service < servers)")
        rho = lam_d / c
        pois = _poisson_pmf(lam_d, int(lam_d + 12 * math.sqrt(lam_d + 1) + 12))
        size = int(c + len(pois) + 60 / (1 - rho) + 64)
        while True:
            pi = self._stationary(pois, c, size)
            if pi[-8:].sum() < 1e-13 or size > 2_000_000:
                break
            size *= 2  # the tail reached the edge: grow the support
        self.pi = pi
        q = self._waiting(pi, c)  # waiting customers at an arbitrary time
        us = np.linspace(0.0, self.service, self._GRID + 1)
        width = len(q) + len(pois) + c + 2
        # P(Q + A_u < m): the law of Q convolved with Poisson(lambda (D - u)), cumulated
        pmfs = _poisson_pmf(self.rate * (self.service - us), len(pois))
        table = np.zeros((len(us), width))
        for j in range(len(us)):
            conv = np.convolve(q, pmfs[j])[:width - 1]
            table[j, 1:len(conv) + 1] = np.cumsum(conv)
            table[j, len(conv) + 1:] = table[j, len(conv)]
        # table[j, m] = P(Q + Poisson(lambda (D - u_j)) < m); tail = 1 - it
        self._tail = np.clip(1.0 - table, 0.0, 1.0)
        self._tail[:, 0] = 1.0

    @staticmethod
    def _stationary(pois: np.ndarray, c: int, size: int) -> np.ndarray:
        """Stationary law of ``N' = max(N - c, 0) + A`` on ``0..size-1`` (the mass
        that would leave the support, below 1e-13 by construction, is dropped),
        from the balance equations ``pi_m = sum_n pi_n P[n, m]`` as a banded
        linear system with ``pi_0 = 1``, normalised afterwards."""
        from scipy.linalg import solve_banded

        L = len(pois)
        lower, upper = L - 1, c  # A[m, n] != 0 only for -c <= m - n <= L - 1
        ab = np.zeros((lower + upper + 1, size))
        n = np.arange(size)
        base = np.maximum(n - c, 0)
        for a_, pa in enumerate(pois):
            m = base + a_
            ok = m < size
            # A = P^T - I: entry (m, n) += pa, stored at ab[upper + m - n, n]
            np.add.at(ab, (upper + m[ok] - n[ok], n[ok]), pa)
        ab[upper, :] -= 1.0
        # drop state 0 (pi_0 = 1): its column moves to the right-hand side
        rhs = np.zeros(size)
        for m in range(min(size, L)):
            k = upper + m - 0
            if 0 <= k < ab.shape[0]:
                rhs[m] = -ab[k, 0]
        x = solve_banded((lower, upper), ab[:, 1:], rhs[1:])
        pi = np.maximum(np.concatenate([[1.0], x]), 0.0)
        return pi / pi.sum()

    @staticmethod
    def _waiting(pi: np.ndarray, c: int) -> np.ndarray:
        q = np.zeros(len(pi))
        q[0] = pi[: c + 1].sum()
        q[1: len(pi) - c] = pi[c + 1:]
        return q

    def tail(self, t: float | np.ndarray) -> Any:
        """``P(W > t)`` (``t`` seconds; scalar or array)."""
        t_arr = np.asarray(t, dtype=np.float64)
        d, c = self.service, self.servers
        tt = np.maximum(t_arr, 0.0)
        k = np.floor(tt / d).astype(np.int64)
        pos = (tt - k * d) / d * self._GRID
        j = np.minimum(np.floor(pos).astype(np.int64), self._GRID - 1)
        frac = pos - j
        m = (k + 1) * c
        width = self._tail.shape[1]
        inside = m < width
        mm = np.minimum(m, width - 1)
        val = (1 - frac) * self._tail[j, mm] + frac * self._tail[j + 1, mm]
        out = np.where(t_arr < 0, 1.0, np.where(inside, val, 0.0))
        return float(out) if out.ndim == 0 else out

    @property
    def mean(self) -> float:
        """``E[W] = sum_k integral_0^D P(W > kD + u) du`` (Simpson's rule in ``u``)."""
        c = self.servers
        ms = np.arange(c, self._tail.shape[1], c)
        per_u = self._tail[:, ms].sum(axis=1)
        w = np.ones(self._GRID + 1)
        w[1:-1:2], w[2:-1:2] = 4.0, 2.0
        return float(per_u @ w) * self.service / self._GRID / 3.0


def mdc_wait(rate: float, service: float, servers: int) -> MDcWait:
    """The exact M/D/c waiting-time distribution (:class:`MDcWait`)."""
    return MDcWait(_positive("rate", rate), _positive("service", service), int(servers))


@dataclass(frozen=True)
class QueueFigures:
    """What a GI/G/c queue predicts (seconds; ``inf`` when unstable).

    Attributes
    ----------
    rate, mean_service, servers, ca2, cs2
        The inputs (arrival rate, mean service time, number of servers, squared
        coefficients of variation of inter-arrival and service times).
    utilisation
        ``rho = rate x mean_service / servers``.
    p_wait
        Erlang C: the share of arrivals that wait.
    mean_wait
        ``E[Wq]`` (Allen-Cunneen).
    mean_queue
        ``Lq = rate x E[Wq]`` (Little's law).
    """

    rate: float
    mean_service: float
    servers: int
    ca2: float
    cs2: float
    utilisation: float
    p_wait: float
    mean_wait: float
    mean_queue: float
    exact: MDcWait | None = field(default=None, repr=False, compare=False)

    @property
    def method(self) -> str:
        """Which model produced the figures."""
        if self.exact is None:
            return "Erlang C, Allen-Cunneen (exponential tail)"
        return "M/D/c exact (Crommelin) mixed with M/M/c by cs2"

    @property
    def stable(self) -> bool:
        return self.utilisation < 1.0

    @property
    def mean_sojourn(self) -> float:
        return self.mean_wait + self.mean_service

    def wait_tail(self, t: Any) -> Any:
        """``P(Wq > t)`` (scalar or array)."""
        t_arr = np.asarray(t, dtype=np.float64)
        if not self.stable:
            out = np.ones(t_arr.shape)
        elif self.exact is not None:
            c, es, lam = self.servers, self.mean_service, self.rate
            w = min(self.cs2, 1.0)
            mm = erlang_c(c, lam * es) * np.exp(-np.maximum(t_arr, 0) * (c / es - lam))
            out = (1.0 - w) * self.exact.tail(t_arr) + w * mm
            out = np.where(t_arr < 0, 1.0, out)
        elif self.p_wait <= 0 or self.mean_wait <= 0:
            out = np.where(t_arr < 0, 1.0, 0.0)
        else:
            theta = self.p_wait / self.mean_wait
            out = np.where(t_arr < 0, 1.0,
                           self.p_wait * np.exp(-theta * np.maximum(t_arr, 0.0)))
        return float(out) if out.ndim == 0 else out

    def wait_quantile(self, q: float) -> float:
        """The ``q`` quantile of the waiting time (0 when fewer than ``1 - q`` wait)."""
        if not 0 < q < 1:
            raise DataError(f"{q!r} is not a quantile", field="q", expected="0 < q < 1")
        if not self.stable:
            return math.inf
        tail = 1.0 - q
        if self.wait_tail(0.0) <= tail or self.mean_wait <= 0:
            return 0.0
        if self.exact is None:
            return self.mean_wait / self.p_wait * math.log(self.p_wait / tail)
        return _bisect(lambda x: self.wait_tail(x) > tail, self.mean_service)

    def sojourn_tail(self, t: float, service: np.ndarray | None = None) -> float:
        """``P(Wq + S > t)`` for service points ``service`` (default: lognormal
        with the queue's mean and ``sqrt(cs2)``)."""
        if not self.stable:
            return 1.0
        s = self._service_points(service)
        return float(np.mean(self.wait_tail(t - s)))

    def _service_points(self, service: np.ndarray | None) -> np.ndarray:
        if service is not None:
            return np.asarray(service, dtype=np.float64)
        return service_quantiles(self.mean_service, math.sqrt(self.cs2), 32)

    def sojourn_quantile(self, q: float, service: np.ndarray | None = None) -> float:
        """The ``q`` quantile of the sojourn time (wait + service), by bisection."""
        if not 0 < q < 1:
            raise DataError(f"{q!r} is not a quantile", field="q", expected="0 < q < 1")
        if not self.stable:
            return math.inf
        s = self._service_points(service)
        return _bisect(lambda x: self.sojourn_tail(x, s) > 1 - q, float(s.max()))


def _bisect(above: Any, scale: float) -> float:
    """Smallest x >= 0 with ``above(x)`` false (``above`` decreasing in x)."""
    lo, hi = 0.0, max(scale, 1e-9)
    while above(hi):
        lo, hi = hi, hi * 2
        if hi > 1e12:
            return math.inf
    for _ in range(60):
        mid = (lo + hi) / 2
        if above(mid):
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-6 * max(hi, 1e-3):
            break
    return hi


def mgc(rate: float, mean_service: float, servers: int, *, ca2: float = 1.0,
        cs2: float = 1.0, exact: bool = True) -> QueueFigures:
    """Figures of a GI/G/c queue by Erlang C and the Allen-Cunneen correction.

    Parameters
    ----------
    rate
        Arrivals per second (lambda).
    mean_service
        Mean service time (seconds).
    servers
        Number of servers c.
    ca2, cs2
        Squared coefficients of variation of inter-arrival times (1 for Poisson)
        and of service times (0 for deterministic, 1 for exponential).
    exact
        Use the exact M/D/c law for Poisson arrivals and ``cs2 < 1`` (else the
        Allen-Cunneen mean with Cosmetatos' correction and an exponential tail).

    Examples
    --------
    >>> q = mgc(rate=1.5, mean_service=1.0, servers=2)     # M/M/2, a = 1.5
    >>> round(q.p_wait, 4), round(q.mean_wait, 4)           # 9/14 and C/(c mu - lambda)
    (0.6429, 1.2857)
    >>> mgc(rate=3, mean_service=1.0, servers=2).stable
    False
    """
    lam = _positive("rate", rate)
    es = _positive("mean_service", mean_service)
    if isinstance(servers, bool) or int(servers) != servers or servers < 1:
        raise DataError(f"{servers!r} servers", field="servers", expected="an integer >= 1")
    c = int(servers)
    ca2 = _positive("ca2", ca2, allow_zero=True)
    cs2 = _positive("cs2", cs2, allow_zero=True)
    a = lam * es
    rho = a / c
    if rho >= 1.0:
        return QueueFigures(lam, es, c, ca2, cs2, rho, 1.0, math.inf, math.inf)
    pw = erlang_c(c, a)
    w_mm = pw / (c / es - lam)
    if cs2 < 1.0 and ca2 == 1.0 and exact:
        md = MDcWait(lam, es, c)
        wq = (1.0 - cs2) * md.mean + cs2 * w_mm
        p_wait = (1.0 - cs2) * md.tail(0.0) + cs2 * pw
        return QueueFigures(lam, es, c, ca2, cs2, rho, p_wait, wq, lam * wq, md)
    if cs2 >= 1.0:
        wq = w_mm * (ca2 + cs2) / 2.0
    else:
        cosm = (1 - rho) * (c - 1) * (math.sqrt(4 + 5 * c) - 2) / (16 * rho * c)
        w_md = w_mm / 2.0 * (1.0 + cosm)
        wq = (cs2 * w_mm + (1.0 - cs2) * w_md) * (ca2 + cs2) / (1.0 + cs2)
    return QueueFigures(lam, es, c, ca2, cs2, rho, pw, wq, lam * wq)
