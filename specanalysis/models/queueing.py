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
``pi`` follows from its generating function once the ``c - 1`` roots of
``z^c = exp(lambda D (z - 1))`` inside the unit disk are known (Newton's
method), inverted by an FFT; a FCFS arrival waits more than ``kD + u``
(``0 <= u < D``) exactly when ``max(N - c, 0) + Poisson(lambda (D - u)) >=
(k + 1) c`` (``N ~ pi``, the Poisson count independent), a convolution done
as a product of generating functions for 33 values of ``u`` at once. One pool
costs a few tenths of a millisecond (``benchmarks/bench_proofcost.py``). The
waiting-time distribution is then a mixture ``(1 - cs2) x M/D/c + cs2 x
M/M/c``, which is exact at both ends.

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

import cmath
import math
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
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
    s2 = math.log1p(cv * cv)
    mu = math.log(mean) - s2 / 2
    return np.exp(mu + math.sqrt(s2) * _normal_midpoints(n))


@lru_cache(maxsize=16)
def _normal_midpoints(n: int) -> np.ndarray:
    """Standard normal quantiles at ``(i + 0.5) / n`` (read-only, cached per n)."""
    from statistics import NormalDist

    nd = NormalDist()
    z = np.array([nd.inv_cdf((i + 0.5) / n) for i in range(n)])
    z.flags.writeable = False
    return z


def _inner_roots(c: int, lam_d: float) -> np.ndarray:
    """The ``c - 1`` roots of ``z^c = exp(lam_d (z - 1))`` in the unit disk other
    than ``z = 1``: ``z_k = w_k exp(rho (z_k - 1))`` with ``w_k = e^(2 pi i k / c)``
    and ``rho = lam_d / c < 1`` (a contraction), by Newton's method started one
    fixed-point step from ``w_k``. Roots ``k`` and ``c - k`` are conjugate, so
    only ``k <= c / 2`` are solved (as complex scalars while they are few)."""
    if c == 1:
        return np.zeros(0, dtype=np.complex128)
    rho = lam_d / c
    half = c // 2  # k = 1..half; k = c - 1..c - half mirror them
    if half <= 8:
        found = []
        for k in range(1, half + 1):
            w = cmath.exp(2j * math.pi * k / c)
            z = w * cmath.exp(rho * (w - 1.0))
            for _ in range(60):
                g = w * cmath.exp(rho * (z - 1.0))
                step = (z - g) / (1.0 - rho * g)
                z -= step
                if abs(step) < 1e-15:
                    break
            found.append(z)
        top = np.array(found)
    else:
        w = np.exp(2j * np.pi * np.arange(1, half + 1) / c)
        top = w * np.exp(rho * (w - 1.0))
        for _ in range(60):
            g = w * np.exp(rho * (top - 1.0))
            step = (top - g) / (1.0 - rho * g)
            top = top - step
            if np.max(np.abs(step)) < 1e-15:
                break
    # k = c - j is the conjugate of k = j; when c is even k = c / 2 is real (its own pair)
    mirror = np.conj(top[: (c - 1) // 2][::-1])
    if c % 2 == 0:
        top[-1] = top[-1].real
    return np.concatenate([top, mirror])


def _outer_root(c: int, lam_d: float) -> float:
    """The real root ``z0 > 1`` of ``c log z = lam_d (z - 1)``: the queue
    length's tail decays like ``z0^-n``."""
    if lam_d <= 0:
        return 1e6
    z = 1.0 + 2.0 * (c - lam_d) / lam_d
    while c * math.log(z) - lam_d * (z - 1.0) >= 0 and z < 1e6:
        z = 1.0 + 2.0 * (z - 1.0)  # step right of the root (f < 0 there)
    for _ in range(100):  # Newton on a concave function from the right: monotone
        step = (c * math.log(z) - lam_d * (z - 1.0)) / (c / z - lam_d)
        z_new = z - step
        if not z_new > 1.0:
            z_new = (z + 1.0) / 2.0
        if abs(z_new - z) < 1e-12 * z:
            return z_new
        z = z_new
    return z


class MDcWait:
    """The exact FCFS waiting-time distribution of M/D/c (see the module docstring).

    ``P(W > kD + u)`` is tabulated on a grid of ``u`` (33 points over one
    service time) and interpolated linearly; the mean integrates it by
    Simpson's rule. The support (queue lengths) reaches where the geometric
    tail ``z0^-n`` of ``pi`` falls below 1e-17, so the FFTs do not wrap.

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
        # support: the Poisson spread of one service time, the c servers and
        # the queue's geometric tail (decay z0^-n) down to 1e-17
        spread = int(lam_d + 12 * math.sqrt(lam_d + 1) + 12)
        tail = math.log(1e17) / math.log(_outer_root(c, lam_d))
        # pi reaches c + spread + tail; the Poisson of one service time adds a spread
        n = 16 * math.ceil(max(64, c + 2 * spread + tail) / 16)
        zs = np.exp(-2j * np.pi * np.arange(n // 2 + 1) / n)  # where rfft evaluates
        pi = self._stationary(c, lam_d, n, zs)
        self.pi = pi
        q = self._waiting(pi, c)  # waiting customers at an arbitrary time
        # P(Q + A_u < m) with A_u ~ Poisson(lambda (D - u)): the convolution is a
        # product of generating functions, evaluated on the unit circle (rfft)
        # and inverted for every u at once; the support n keeps wrap-around
        # below 1e-17
        # exp(lambda (D - u_j) (z - 1)) = r^(GRID - j) with r = exp(lambda D / GRID (z - 1))
        r = np.exp(lam_d / self._GRID * (zs - 1.0))
        powers = np.empty((self._GRID + 1, len(zs)), dtype=np.complex128)
        powers[:-1] = r
        powers[-1] = 1.0
        np.cumprod(powers[-2::-1], axis=0, out=powers[-2::-1])
        conv = np.fft.irfft(np.fft.rfft(q)[None, :] * powers, n=n, axis=1)
        # P(W > kD + u_j) = P(Q + A_(u_j) >= (k + 1) c) = 1 - cumsum(conv)[(k + 1) c - 1]
        ms = np.arange(c, n + 1, c)
        tail = 1.0 - np.cumsum(conv, axis=1)[:, ms - 1]
        np.maximum(tail, 0.0, out=tail)
        self._tail = np.minimum(tail, 1.0, out=tail)
        self._tabulate()

    @staticmethod
    def _stationary(c: int, lam_d: float, n: int, z: np.ndarray) -> np.ndarray:
        """Stationary law of ``N' = max(N - c, 0) + A`` (``A ~ Poisson(lam_d)``)
        on ``0..n-1``, from its generating function.

        ``P(z) (z^c - A(z)) = A(z) sum_{k<c} pi_k (z^c - z^k)`` with ``A(z) =
        exp(lam_d (z - 1))``; the polynomial on the right vanishes at ``z = 1``
        and at the other ``c - 1`` roots ``z_k`` of ``z^c = A(z)`` in the unit
        disk, so ``P(z) = (c - lam_d)(z - 1) A(z) / (z^c - A(z)) x prod_k (z -
        z_k) / (1 - z_k)`` (normalised by ``P(1) = 1``). It is evaluated at the
        n-th roots of unity ``z = e^(-2 pi i k / n)``, ``k <= n / 2`` (where
        ``irfft`` expects them) and inverted by an FFT.
        """
        zc = np.exp(-2j * np.pi / n * ((np.arange(len(z)) * c) % n))
        a = np.exp(lam_d * (z - 1.0))
        den = zc - a
        den[0] = 1.0  # z = 1: a removable singularity, P(1) = 1
        p = (c - lam_d) * (z - 1.0) * a / den
        p[0] = 1.0
        roots = _inner_roots(c, lam_d)
        if len(roots):
            p[1:] *= np.prod((z[1:, None] - roots) / (1.0 - roots), axis=1)
        pi = np.maximum(np.fft.irfft(p, n=n), 0.0)
        return pi / pi.sum()

    @staticmethod
    def _waiting(pi: np.ndarray, c: int) -> np.ndarray:
        q = np.zeros(len(pi))
        q[0] = pi[: c + 1].sum()
        q[1: len(pi) - c] = pi[c + 1:]
        return q

    def grid_times(self) -> np.ndarray:
        """The times ``k D + u_j`` at which the tail is tabulated, in order; past
        the last one the tail is 0."""
        return self._times

    def _tabulate(self) -> None:
        """The tail at the grid times ``k D + u_j`` (``j < GRID``; ``_tail[j, k]``)
        as one sequence, for linear interpolation (``np.interp``)."""
        us = np.arange(self._GRID) * (self.service / self._GRID)
        self._times = (np.arange(self._tail.shape[1])[:, None] * self.service + us).ravel()
        self._values = self._tail[:self._GRID].T.ravel()

    def tail(self, t: float | np.ndarray) -> Any:
        """``P(W > t)`` (``t`` seconds; scalar or array): linear between the
        grid times, 1 before 0 and 0 past the table."""
        out = np.interp(t, self._times, self._values, left=1.0, right=0.0)
        return float(out) if np.ndim(out) == 0 else out

    @property
    def mean(self) -> float:
        """``E[W] = sum_k integral_0^D P(W > kD + u) du`` (Simpson's rule in ``u``)."""
        per_u = self._tail.sum(axis=1)
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

    @cached_property
    def _p_wait_mm(self) -> float:
        return erlang_c(self.servers, self.rate * self.mean_service)

    @property
    def mean_sojourn(self) -> float:
        return self.mean_wait + self.mean_service

    def wait_tail(self, t: Any) -> Any:
        """``P(Wq > t)`` (scalar or array)."""
        t_arr = np.asarray(t, dtype=np.float64)
        if not self.stable:
            out = np.ones(t_arr.shape)
        elif self.exact is not None:
            w = min(self.cs2, 1.0)
            theta = self.servers / self.mean_service - self.rate
            out = (1.0 - w) * self.exact.tail(t_arr) + (w * self._p_wait_mm) * np.exp(
                -theta * np.maximum(t_arr, 0.0))
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
        lo, hi = self._wait_bracket(1.0 - q)
        if hi == 0.0 or math.isinf(hi) or self.exact is None:
            return hi  # without the exact table, hi is the exponential tail's quantile
        return _invert(self.wait_tail, 1.0 - q, lo, hi, rounds=1)

    def _wait_bracket(self, level: float) -> tuple[float, float]:
        """``(lo, hi)`` with ``P(Wq > lo) > level >= P(Wq > hi)``; ``(0, 0)`` when
        ``P(Wq > 0) <= level``. The exact tail is tabulated on the times ``k D +
        u_j``: the bracket is two neighbouring grid times."""
        if not self.stable:
            return math.inf, math.inf
        if self.exact is None:
            if self.p_wait <= level or self.mean_wait <= 0:
                return 0.0, 0.0
            x = self.mean_wait / self.p_wait * math.log(self.p_wait / level)
            return x * (1 - 1e-12), x
        tg = self.exact.grid_times()
        vals = self.wait_tail(tg)
        if vals[0] <= level:
            return 0.0, 0.0
        if vals[-1] > level:
            return math.inf, math.inf
        i = int(np.argmax(vals <= level))
        return float(tg[i - 1]), float(tg[i])

    def sojourn_tail(self, t: Any, service: np.ndarray | None = None) -> Any:
        """``P(Wq + S > t)`` (scalar or array ``t``) for service points ``service``
        (default: lognormal with the queue's mean and ``sqrt(cs2)``)."""
        t_arr = np.asarray(t, dtype=np.float64)
        if not self.stable:
            out = np.ones(t_arr.shape)
        else:
            s = self._service_points(service)
            out = self.wait_tail(t_arr[..., None] - s).mean(axis=-1)
        return float(out) if out.ndim == 0 else out

    def _service_points(self, service: np.ndarray | None) -> np.ndarray:
        if service is not None:
            return np.asarray(service, dtype=np.float64)
        return service_quantiles(self.mean_service, math.sqrt(self.cs2), 32)

    def sojourn_quantile(self, q: float, service: np.ndarray | None = None) -> float:
        """The ``q`` quantile of the sojourn time (wait + service)."""
        if not 0 < q < 1:
            raise DataError(f"{q!r} is not a quantile", field="q", expected="0 < q < 1")
        if not self.stable:
            return math.inf
        s = self._service_points(service)
        # P(W > t - min S) >= P(W + S > t) >= P(W > t - max S): the quantile
        # lies between the wait's bracket plus the smallest and the largest service
        w_lo, w_hi = self._wait_bracket(1 - q)
        if math.isinf(w_hi):
            return math.inf
        lo, hi = float(s.min()) + w_lo, float(s.max()) + w_hi
        return _invert(lambda x: self.sojourn_tail(x, s), 1 - q, lo * (1 - 1e-12), hi)


def _invert(tail: Any, level: float, lo: float, hi: float, *, rounds: int = 2,
            points: int = 33) -> float:
    """The ``x`` in ``[lo, hi]`` where the decreasing, vectorised ``tail`` crosses
    ``level`` (``tail(lo) > level >= tail(hi)``): grids of ``points`` narrow
    the bracket ``rounds`` times (to ``(points - 1)^-rounds`` of its width),
    then linear interpolation."""
    v_lo, v_hi = math.nan, math.nan
    frac = np.arange(points) / (points - 1)
    for _ in range(rounds):
        grid = lo + (hi - lo) * frac
        vals = tail(grid)
        j = int(np.argmax(vals <= level)) if vals[-1] <= level else points - 1
        if j == 0:
            return lo
        lo, hi, v_lo, v_hi = float(grid[j - 1]), float(grid[j]), float(vals[j - 1]), \
            float(vals[j])
    if not v_lo > v_hi:
        return hi
    return lo + (hi - lo) * min(max((v_lo - level) / (v_lo - v_hi), 0.0), 1.0)


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
