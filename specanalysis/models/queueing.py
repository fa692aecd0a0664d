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
from dataclasses import dataclass

import numpy as np

from specanalysis.errors import DataError

__all__ = ["erlang_c", "mgc", "QueueFigures", "service_quantiles"]


def _positive(name: str, value: float, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise DataError(f"{value!r} is not a number", field=name, expected="a number")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise DataError(f"{value!r} is out of range", field=name,
                        expected="a finite number " + (">= 0" if allow_zero else "> 0"))
    return v


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

    @property
    def stable(self) -> bool:
        return self.utilisation < 1.0

    @property
    def mean_sojourn(self) -> float:
        return self.mean_wait + self.mean_service

    def wait_tail(self, t: float) -> float:
        """``P(Wq > t)``."""
        if not self.stable:
            return 1.0
        if self.p_wait <= 0 or self.mean_wait <= 0:
            return 0.0
        return self.p_wait * math.exp(-t * self.p_wait / self.mean_wait)

    def wait_quantile(self, q: float) -> float:
        """The ``q`` quantile of the waiting time (0 when fewer than ``1 - q`` wait)."""
        if not 0 < q < 1:
            raise DataError(f"{q!r} is not a quantile", field="q", expected="0 < q < 1")
        if not self.stable:
            return math.inf
        tail = 1.0 - q
        if self.p_wait <= tail or self.mean_wait <= 0:
            return 0.0
        return self.mean_wait / self.p_wait * math.log(self.p_wait / tail)

    def sojourn_tail(self, t: float, service: np.ndarray | None = None) -> float:
        """``P(Wq + S > t)`` for service points ``service`` (default: lognormal
        with the queue's mean and ``sqrt(cs2)``)."""
        if not self.stable:
            return 1.0
        s = service_quantiles(self.mean_service, math.sqrt(self.cs2)) \
            if service is None else np.asarray(service, dtype=np.float64)
        slack = t - s
        p_s = np.mean(slack < 0)
        if self.p_wait <= 0 or self.mean_wait <= 0:
            return float(p_s)
        theta = self.p_wait / self.mean_wait
        pos = np.maximum(slack, 0.0)
        tail_w = np.where(slack < 0, 1.0, self.p_wait * np.exp(-theta * pos))
        return float(np.mean(tail_w))

    def sojourn_quantile(self, q: float, service: np.ndarray | None = None) -> float:
        """The ``q`` quantile of the sojourn time (wait + service), by bisection."""
        if not 0 < q < 1:
            raise DataError(f"{q!r} is not a quantile", field="q", expected="0 < q < 1")
        if not self.stable:
            return math.inf
        s = service_quantiles(self.mean_service, math.sqrt(self.cs2)) \
            if service is None else np.asarray(service, dtype=np.float64)
        lo, hi = 0.0, float(s.max()) + self.wait_quantile(min(q, 1 - 1e-12)) + 1e-9
        while self.sojourn_tail(hi, s) > 1 - q:
            hi *= 2
        for _ in range(80):
            mid = (lo + hi) / 2
            if self.sojourn_tail(mid, s) > 1 - q:
                lo = mid
            else:
                hi = mid
        return hi


def mgc(rate: float, mean_service: float, servers: int, *, ca2: float = 1.0,
        cs2: float = 1.0) -> QueueFigures:
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
    if cs2 >= 1.0:
        wq = w_mm * (ca2 + cs2) / 2.0
    else:
        cosm = (1 - rho) * (c - 1) * (math.sqrt(4 + 5 * c) - 2) / (16 * rho * c)
        w_md = w_mm / 2.0 * (1.0 + cosm)
        wq = (cs2 * w_mm + (1.0 - cs2) * w_md) * (ca2 + cs2) / (1.0 + cs2)
    return QueueFigures(lam, es, c, ca2, cs2, rho, pw, wq, lam * wq)
