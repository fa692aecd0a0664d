"""Workloads for the simulator: the guide's vocabulary, parsed and sampled with a seed.

A :class:`Workload` says what is offered to the runtime: ``rate`` tasks per
second, arriving in dependency chains whose length follows ``depth``
(``"uniform:1-5"``, ``"fixed:8"``, ``"choice:1=0.5,3=0.3,8=0.2"``), shaped over
time by ``pattern`` (``"constant"``, ``"burst:10x:30s:every:2m"``), with a
fraction ``failures`` of proofs invalid, and the time distributions
``exec_time``, ``proof_time`` and ``confirm_time``.

Time distribution specs (seconds; every quantity also takes a duration string):

=====================================  =========================================
``"fixed:2s"`` / ``"2s"`` / ``2.0``    always 2 s
``"exponential:mean=2s"``              exponential with that mean
``"lognormal:mean=2s,cv=0.5"``         lognormal with that mean and coefficient
                                       of variation
``"gamma:mean=2s,cv=0.5"``             gamma with that mean and CV
``"uniform:1s-3s"``                    uniform between the two bounds
``"normal:mean=2s,sd=0.3s"``           normal, truncated at 0
=====================================  =========================================

Any object with ``sample(rng, n) -> numpy array`` and a ``mean`` attribute is
accepted wherever a spec is (the seam a proof-cost model plugs into).

Examples
--------
>>> import numpy as np
>>> d = parse_distribution("lognormal:mean=2s,cv=0.5")
>>> round(d.mean, 3), d.spec
(2.0, 'lognormal:mean=2s,cv=0.5')
>>> parse_depth("uniform:1-5").mean
3.0
>>> parse_pattern("burst:10x:30s:every:2m").mean_multiplier
3.25
>>> parse_distribution("weibull:2")
Traceback (most recent call last):
...
specanalysis.errors.WorkloadSpecError: exec_time: unknown distribution 'weibull' in 'weibull:2' (expected one of fixed, exponential, lognormal, gamma, uniform, normal, e.g. 'lognormal:mean=2s,cv=0.5')
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from specanalysis._time import parse_duration
from specanalysis.errors import SpecAnalysisError, WorkloadSpecError

__all__ = [
    "Distribution",
    "TimeDistribution",
    "DepthDistribution",
    "RatePattern",
    "Workload",
    "parse_distribution",
    "parse_depth",
    "parse_pattern",
    "arrival_times",
    "REALISTIC_TIMINGS",
    "FAST_TIMINGS",
]

#: The documented timings (runtime-facts §4 "Proof-cost inputs", proof-cost.md
#: "Batching"): half-second executions; a Groth16 wrap of about 2 s per proof batch
#: (key load and the final SNARK) plus about 150 ms per task proof in the batch, so a
#: proof is generated 2-10 s after its request once fill wait and queueing are
#: added; Solana-like confirmation around 1 s (0.4-2 s). These are the defaults of
#: :class:`Workload`, of the benchmark suite and of the bundled fixtures.
REALISTIC_TIMINGS: dict[str, str] = {
    "exec_time": "lognormal:mean=500ms,cv=0.5",
    "proof_time": "lognormal:mean=150ms,cv=0.3",
    "proof_overhead": "lognormal:mean=2s,cv=0.2",
    "confirm_time": "lognormal:mean=1s,cv=0.5",
}

#: Millisecond-scale timings (the simulator's defaults before version 0.2): proofs
#: cost 100 ms per batch + 20 ms per proof. Unrealistic for Groth16; kept for tests
#: and demonstrations that need many simulated tasks per CPU-second.
FAST_TIMINGS: dict[str, str] = {
    "exec_time": "lognormal:mean=100ms,cv=0.5",
    "proof_time": "lognormal:mean=20ms,cv=0.3",
    "proof_overhead": "fixed:100ms",
    "confirm_time": "lognormal:mean=400ms,cv=0.5",
}

_DIST_KINDS = ("fixed", "exponential", "lognormal", "gamma", "uniform", "normal")


@runtime_checkable
class Distribution(Protocol):
    """What the simulator needs from a time distribution (seconds)."""

    mean: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray: ...


_ZERO = re.compile(r"^0+(?:\.0*)?(?:ms|s|m|h)?$")


def _seconds(text: str, *, field: str, spec: str) -> float:
    """Seconds in a duration (zero allowed: a fixed cost of nothing)."""
    if _ZERO.match(text.strip()):
        return 0.0
    try:
        value = parse_duration(text.strip(), field=field)
    except SpecAnalysisError:
        raise WorkloadSpecError(
            f"{text.strip()!r} in {spec!r} is not a positive duration",
            field=field, expected="e.g. '2s', '500ms' or a number of seconds",
        ) from None
    return value


def _positive_mean(text: str, *, field: str, spec: str) -> float:
    value = _seconds(text, field=field, spec=text if not spec else spec)
    if value <= 0:
        raise WorkloadSpecError(f"mean of {spec!r} is zero", field=field,
                                expected="a positive mean (use 'fixed:0s' for no time)")
    return value


def _number(text: str, *, field: str, spec: str, lo: float = 0.0,
            lo_open: bool = False) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise WorkloadSpecError(f"{text.strip()!r} in {spec!r} is not a number",
                                field=field, expected="a number") from None
    if not math.isfinite(value) or value < lo or (lo_open and value == lo):
        op = ">" if lo_open else ">="
        raise WorkloadSpecError(f"{value!r} in {spec!r} is out of range", field=field,
                                expected=f"a finite number {op} {lo:g}")
    return value


def _params(body: str, *, field: str, spec: str, allowed: tuple[str, ...],
            required: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in body.split(","))):
        if "=" not in part:
            raise WorkloadSpecError(
                f"parameter {part!r} in {spec!r} has no '='", field=field,
                expected="key=value pairs, e.g. 'mean=2s,cv=0.5'")
        key, value = (s.strip() for s in part.split("=", 1))
        if key not in allowed:
            raise WorkloadSpecError(f"unknown parameter {key!r} in {spec!r}", field=field,
                                    expected="one of " + ", ".join(allowed))
        out[key] = value
    missing = [k for k in required if k not in out]
    if missing:
        raise WorkloadSpecError(f"{spec!r} lacks {', '.join(missing)}", field=field,
                                expected=", ".join(f"{k}=..." for k in required))
    return out


@dataclass(frozen=True)
class TimeDistribution:
    """A parsed time distribution (seconds). ``spec`` is the text it came from.

    ``kind`` is one of fixed, exponential, lognormal, gamma, uniform, normal;
    ``mean``, ``cv`` (coefficient of variation), ``low``/``high`` (uniform) and
    ``sd`` (normal) describe it.
    """

    kind: str
    mean: float
    cv: float = 0.0
    low: float = 0.0
    high: float = 0.0
    spec: str = ""

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` draws in seconds (float64, never negative)."""
        if self.kind == "fixed" or (self.cv == 0.0 and self.kind != "uniform"):
            return np.full(n, self.mean)
        if self.kind == "exponential":
            return rng.exponential(self.mean, n)
        if self.kind == "lognormal":
            s2 = math.log1p(self.cv**2)
            return rng.lognormal(math.log(self.mean) - s2 / 2, math.sqrt(s2), n)
        if self.kind == "gamma":
            shape = 1.0 / self.cv**2
            return rng.gamma(shape, self.mean / shape, n)
        if self.kind == "uniform":
            return rng.uniform(self.low, self.high, n)
        # normal, truncated at zero by clipping
        return np.maximum(rng.normal(self.mean, self.cv * self.mean, n), 0.0)


def parse_distribution(spec: Any, *, field: str = "exec_time") -> Distribution:
    """A time distribution from a spec (see the module table) or a Distribution object.

    Raises
    ------
    WorkloadSpecError
        Naming ``field`` for an unknown kind, a missing or bad parameter.

    Examples
    --------
    >>> parse_distribution("fixed:250ms").mean
    0.25
    >>> parse_distribution("uniform:1s-3s").sample(np.random.default_rng(0), 3).round(2)
    array([2.27, 1.54, 1.08])
    """
    if isinstance(spec, TimeDistribution):
        return spec
    if not isinstance(spec, str | int | float) and isinstance(spec, Distribution):
        return spec
    if isinstance(spec, bool) or not isinstance(spec, str | int | float):
        raise WorkloadSpecError(f"{spec!r} is not a distribution spec", field=field,
                                expected="e.g. 'fixed:2s' or 'lognormal:mean=2s,cv=0.5'")
    text = str(spec).strip()
    if ":" not in text:
        return TimeDistribution("fixed", _seconds(text, field=field, spec=text),
                                spec=f"fixed:{text}")
    kind, body = (s.strip() for s in text.split(":", 1))
    kind = kind.lower()
    if kind not in _DIST_KINDS:
        raise WorkloadSpecError(
            f"unknown distribution {kind!r} in {text!r}", field=field,
            expected="one of " + ", ".join(_DIST_KINDS)
            + ", e.g. 'lognormal:mean=2s,cv=0.5'")
    if kind == "fixed":
        return TimeDistribution("fixed", _seconds(body, field=field, spec=text), spec=text)
    if kind == "uniform":
        m = re.fullmatch(r"\s*([^-]+?)\s*-\s*([^-]+?)\s*", body)
        if not m:
            raise WorkloadSpecError(f"{text!r} is not 'uniform:LOW-HIGH'", field=field,
                                    expected="e.g. 'uniform:1s-3s'")
        lo = _seconds(m.group(1), field=field, spec=text)
        hi = _seconds(m.group(2), field=field, spec=text)
        if hi < lo:
            raise WorkloadSpecError(f"bounds of {text!r} are reversed", field=field,
                                    expected="LOW <= HIGH")
        mean = (lo + hi) / 2
        if hi == lo:
            return TimeDistribution("fixed", lo, spec=text)
        cv = (hi - lo) / math.sqrt(12) / mean
        return TimeDistribution("uniform", mean, cv, lo, hi, spec=text)
    if kind == "exponential":
        p = _params(body, field=field, spec=text, allowed=("mean",), required=("mean",))
        return TimeDistribution("exponential",
                                _positive_mean(p["mean"], field=field, spec=text),
                                1.0, spec=text)
    if kind == "normal":
        p = _params(body, field=field, spec=text, allowed=("mean", "sd"),
                    required=("mean", "sd"))
        mean = _positive_mean(p["mean"], field=field, spec=text)
        sd = _seconds(p["sd"], field=field, spec=text)
        return TimeDistribution("normal", mean, sd / mean, spec=text)
    p = _params(body, field=field, spec=text, allowed=("mean", "cv"),
                required=("mean", "cv"))
    mean = _positive_mean(p["mean"], field=field, spec=text)
    cv = _number(p["cv"], field=field, spec=text)
    return TimeDistribution(kind, mean, cv, spec=text)


@dataclass(frozen=True)
class DepthDistribution:
    """Chain length distribution: ``values[k]`` tasks with probability ``probs[k]``.

    The guide's ``--depth-distribution`` is read as the number of tasks in a
    dependency chain: a chain of length L reaches speculation depth L - 1 when
    nothing has confirmed yet.
    """

    values: tuple[int, ...]
    probs: tuple[float, ...]
    spec: str = ""

    @property
    def mean(self) -> float:
        return float(np.dot(self.values, self.probs))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if len(self.values) == 1:
            return np.full(n, self.values[0], dtype=np.int64)
        return rng.choice(np.asarray(self.values, dtype=np.int64), size=n,
                          p=np.asarray(self.probs))


def parse_depth(spec: Any, *, field: str = "depth") -> DepthDistribution:
    """Chain lengths from ``"fixed:8"``, ``"uniform:1-5"``, ``"choice:1=0.5,4=0.5"``,
    an int, or a mapping ``{length: weight}`` (weights are normalised).

    Examples
    --------
    >>> parse_depth({1: 1, 3: 3}).probs
    (0.25, 0.75)
    >>> parse_depth("fixed:0")
    Traceback (most recent call last):
    ...
    specanalysis.errors.WorkloadSpecError: depth: chain length 0 in 'fixed:0' is below 1 (expected integers >= 1)
    """
    if isinstance(spec, DepthDistribution):
        return spec
    if isinstance(spec, Mapping):
        return _depth_from_weights(dict(spec), field=field, spec=repr(dict(spec)))
    if isinstance(spec, int) and not isinstance(spec, bool):
        return _depth_from_weights({spec: 1.0}, field=field, spec=f"fixed:{spec}")
    if not isinstance(spec, str):
        raise WorkloadSpecError(f"{spec!r} is not a depth distribution", field=field,
                                expected="'fixed:N', 'uniform:A-B', 'choice:N=P,...'")
    text = spec.strip()
    kind, _, body = text.partition(":")
    kind = kind.strip().lower()
    try:
        if kind == "fixed":
            return _depth_from_weights({int(body): 1.0}, field=field, spec=text)
        if kind == "uniform":
            a, b = (int(x) for x in body.split("-"))
            if b < a:
                raise WorkloadSpecError(f"bounds of {text!r} are reversed", field=field,
                                        expected="A <= B")
            return _depth_from_weights(dict.fromkeys(range(a, b + 1), 1.0), field=field,
                                       spec=text)
        if kind == "choice":
            weights = {}
            for part in body.split(","):
                k, w = part.split("=")
                weights[int(k)] = float(w)
            return _depth_from_weights(weights, field=field, spec=text)
    except WorkloadSpecError:
        raise
    except ValueError:
        raise WorkloadSpecError(f"cannot read {text!r}", field=field,
                                expected="'fixed:8', 'uniform:1-5' or "
                                "'choice:1=0.5,3=0.5' with integer lengths") from None
    raise WorkloadSpecError(f"unknown depth distribution {text!r}", field=field,
                            expected="'fixed:N', 'uniform:A-B' or 'choice:N=P,...'")


def _depth_from_weights(weights: dict, *, field: str, spec: str) -> DepthDistribution:
    if not weights:
        raise WorkloadSpecError(f"{spec!r} is empty", field=field,
                                expected="at least one chain length")
    for k, w in weights.items():
        if isinstance(k, bool) or not isinstance(k, int | np.integer):
            raise WorkloadSpecError(f"chain length {k!r} in {spec!r} is not an integer",
                                    field=field, expected="integers >= 1")
        if k < 1:
            raise WorkloadSpecError(f"chain length {k} in {spec!r} is below 1",
                                    field=field, expected="integers >= 1")
        if not (isinstance(w, int | float) and math.isfinite(w) and w >= 0):
            raise WorkloadSpecError(f"weight {w!r} in {spec!r} is not a probability",
                                    field=field, expected="weights >= 0")
    total = float(sum(weights.values()))
    if total <= 0:
        raise WorkloadSpecError(f"weights of {spec!r} sum to 0", field=field,
                                expected="a positive total weight")
    keys = sorted(weights)
    return DepthDistribution(tuple(int(k) for k in keys),
                             tuple(weights[k] / total for k in keys), spec=spec)


@dataclass(frozen=True)
class RatePattern:
    """A rate multiplier over time, as pieces ``(start_s, multiplier)`` repeating
    with ``period_s`` (``inf`` for constant).

    ``"burst:10x:30s:every:2m"`` multiplies the rate by 10 for 30 s in every
    2-minute period; the burst sits at the end of each period (90 s of
    baseline first) unless ``:at:OFFSET`` says where it starts
    (``"burst:10x:30s:every:2m:at:0s"``). ``"piecewise:60s@1x,30s@20x"``
    repeats its pieces.
    """

    pieces: tuple[tuple[float, float], ...] = ((0.0, 1.0),)
    period_s: float = math.inf
    spec: str = "constant"

    @property
    def mean_multiplier(self) -> float:
        if math.isinf(self.period_s):
            return self.pieces[0][1]
        starts = [p[0] for p in self.pieces] + [self.period_s]
        return sum((starts[i + 1] - starts[i]) * m
                   for i, (_, m) in enumerate(self.pieces)) / self.period_s

    def segments(self, duration: float) -> list[tuple[float, float, float]]:
        """``(start, end, multiplier)`` segments covering ``[0, duration)``."""
        if math.isinf(self.period_s):
            return [(0.0, duration, self.pieces[0][1])]
        out = []
        base = 0.0
        while base < duration:
            starts = [p[0] for p in self.pieces] + [self.period_s]
            for i, (_, m) in enumerate(self.pieces):
                a, b = base + starts[i], min(base + starts[i + 1], duration)
                if b > a:
                    out.append((a, b, m))
            base += self.period_s
        return out


def parse_pattern(spec: Any, *, field: str = "pattern") -> RatePattern:
    """A rate pattern from ``"constant"``, ``"burst:10x:30s:every:2m[:at:90s]"`` or
    ``"piecewise:60s@1x,30s@20x,..."``.

    Examples
    --------
    >>> parse_pattern("burst:10x:30s:every:2m").segments(240)
    [(0.0, 90.0, 1.0), (90.0, 120.0, 10.0), (120.0, 210.0, 1.0), (210.0, 240.0, 10.0)]
    """
    if isinstance(spec, RatePattern):
        return spec
    if not isinstance(spec, str):
        raise WorkloadSpecError(f"{spec!r} is not a rate pattern", field=field,
                                expected="'constant' or 'burst:10x:30s:every:2m'")
    text = spec.strip()
    if text.lower() == "constant":
        return RatePattern(spec="constant")
    m = re.fullmatch(r"burst:([0-9.]+)x:([^:]+):every:([^:]+)(?::at:([^:]+))?", text)
    if m:
        mult = _number(m.group(1), field=field, spec=text, lo=0.0)
        width = _seconds(m.group(2), field=field, spec=text)
        period = _seconds(m.group(3), field=field, spec=text)
        if width >= period:
            raise WorkloadSpecError(f"burst of {text!r} is not shorter than its period",
                                    field=field, expected="burst width < period")
        at = (period - width if m.group(4) is None
              else _seconds(m.group(4), field=field, spec=text))
        if at + width > period:
            raise WorkloadSpecError(f"burst of {text!r} runs past its period",
                                    field=field, expected="at + width <= period")
        pieces = [(0.0, 1.0), (at, mult), (at + width, 1.0)]
        pieces = [p for i, p in enumerate(pieces)
                  if (i + 1 == len(pieces) and p[0] < period)
                  or (i + 1 < len(pieces) and pieces[i + 1][0] > p[0])]
        return RatePattern(tuple(pieces), period, spec=text)
    if text.startswith("piecewise:"):
        pieces, start = [], 0.0
        for part in text[len("piecewise:"):].split(","):
            pm = re.fullmatch(r"\s*([^@]+)@([0-9.]+)x\s*", part)
            if not pm:
                raise WorkloadSpecError(f"piece {part!r} of {text!r} is not 'LENGTH@Mx'",
                                        field=field, expected="e.g. '60s@1x,30s@20x'")
            length = _seconds(pm.group(1), field=field, spec=text)
            pieces.append((start, _number(pm.group(2), field=field, spec=text)))
            start += length
        return RatePattern(tuple(pieces), start, spec=text)
    raise WorkloadSpecError(f"unknown rate pattern {text!r}", field=field,
                            expected="'constant', 'burst:10x:30s:every:2m' or "
                            "'piecewise:60s@1x,30s@20x'")


_SHAPES = ("chain", "star", "fan_out", "tree", "diamond", "dag")


@dataclass(frozen=True)
class Workload:
    """What is offered to the runtime.

    Parameters
    ----------
    rate
        Tasks per second offered (baseline, before ``pattern``). Chains arrive
        at ``rate / mean chain length`` per second, so the task rate is ``rate``.
    depth
        Chain length distribution (tasks per dependency chain).
    pattern
        Rate multiplier over time.
    failures
        Probability that an execution attempt's proof is invalid (rejected by
        the chain after confirmation).
    invalid_output_share
        Share of invalid proofs caused by a wrong execution output (the
        descendants' input changes); the rest are prover faults whose
        re-execution reproduces the output. Only ``selective`` rollback
        tells them apart. An assumption: no source gives this share.
    exec_time, proof_time, confirm_time
        Time distributions: execution of one task, the per-proof cost of proof
        generation, on-chain confirmation.
    proof_overhead
        Fixed cost of one proof batch (key load, start-up): a batch of ``k``
        proofs costs ``proof_overhead + sum of k proof_time draws``.
    shape
        ``"chain"`` (linear chains), ``"star"`` or ``"fan_out"`` (a root with
        every other task its child), ``"tree"`` (each task's parent drawn
        uniformly among the earlier tasks of its group), ``"diamond"`` (a root,
        ``length - 2`` parallel tasks and a sink joining them; shorter groups
        are chains) or ``"dag"`` (every group is ``graph``).
    graph
        With ``shape="dag"``: parent lists, ``graph[j]`` the parents of task
        ``j`` of a group, each parent numbered below its child (e.g. a diamond
        ``[[], [0], [0], [1, 2]]``). The group length is ``len(graph)``
        (``depth`` is ignored). A task executes once all its parents have
        executed and is confirmed once all its parents are.
    arrivals
        ``"poisson"`` (default) or ``"regular"`` (evenly spaced chain arrivals).
    state_mb
        Size of one state snapshot (MB), taken by every speculative execution.
    instances
        Runtime instances behind one load balancer. Chains are spread over
        them at random (each instance sees a Poisson share ``rate / instances``
        with the same ``pattern``); each instance applies the configuration's
        limits on its own. With more than one, every metric carries an
        ``instance`` label (``runtime-0``, ``runtime-1``, ...).

    The default time distributions are :data:`REALISTIC_TIMINGS`; pass
    ``**FAST_TIMINGS`` for millisecond-scale proofs.

    Examples
    --------
    >>> w = Workload(rate=50, depth="fixed:8")
    >>> round(w.chain_rate, 3)
    6.25
    >>> Workload(rate=-1)
    Traceback (most recent call last):
    ...
    specanalysis.errors.WorkloadSpecError: rate: -1 is not a positive rate (expected tasks per second > 0)
    """

    rate: float = 4.0
    depth: Any = "uniform:1-5"
    pattern: Any = "constant"
    failures: float = 0.0
    exec_time: Any = REALISTIC_TIMINGS["exec_time"]
    proof_time: Any = REALISTIC_TIMINGS["proof_time"]
    confirm_time: Any = REALISTIC_TIMINGS["confirm_time"]
    proof_overhead: Any = REALISTIC_TIMINGS["proof_overhead"]
    invalid_output_share: float = 0.5
    shape: str = "chain"
    arrivals: str = "poisson"
    state_mb: float = 50.0
    instances: int = 1
    graph: Any = None
    _parsed: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rate = self.rate
        if (isinstance(rate, bool) or not isinstance(rate, int | float)
                or not math.isfinite(rate) or rate <= 0):
            raise WorkloadSpecError(f"{rate!r} is not a positive rate", field="rate",
                                    expected="tasks per second > 0")
        for name in ("failures", "invalid_output_share"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1:
                raise WorkloadSpecError(f"{v!r} is not a probability", field=name,
                                        expected="a number in [0, 1]")
        if self.shape not in _SHAPES:
            raise WorkloadSpecError(f"unknown shape {self.shape!r}", field="shape",
                                    expected="one of " + ", ".join(_SHAPES))
        if self.arrivals not in ("poisson", "regular"):
            raise WorkloadSpecError(f"unknown arrival process {self.arrivals!r}",
                                    field="arrivals", expected="'poisson' or 'regular'")
        if (isinstance(self.state_mb, bool) or not isinstance(self.state_mb, int | float)
                or not self.state_mb >= 0):
            raise WorkloadSpecError(f"{self.state_mb!r} is not a size", field="state_mb",
                                    expected="megabytes >= 0")
        n = self.instances
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 1 <= n <= 256:
            raise WorkloadSpecError(f"{n!r} is not a number of instances",
                                    field="instances", expected="an integer in 1..256")
        parsed = self._parsed
        if self.shape == "dag":
            graph = _check_graph(self.graph)
            object.__setattr__(self, "graph", graph)
            parsed["depth"] = parse_depth(len(graph), field="graph")
        elif self.graph is not None:
            raise WorkloadSpecError("graph is given but shape is "
                                    f"{self.shape!r}", field="graph",
                                    expected="shape='dag' with a graph, or no graph")
        else:
            parsed["depth"] = parse_depth(self.depth)
        parsed["pattern"] = parse_pattern(self.pattern)
        for name in ("exec_time", "proof_time", "confirm_time", "proof_overhead"):
            parsed[name] = parse_distribution(getattr(self, name), field=name)

    @property
    def depth_dist(self) -> DepthDistribution:
        return self._parsed["depth"]

    @property
    def rate_pattern(self) -> RatePattern:
        return self._parsed["pattern"]

    def dist(self, name: str) -> Distribution:
        """The parsed distribution of ``exec_time``, ``proof_time``, ``confirm_time``
        or ``proof_overhead``."""
        return self._parsed[name]

    @property
    def chain_rate(self) -> float:
        """Chains per second at the baseline rate."""
        return self.rate / self.depth_dist.mean

    @property
    def mean_rate(self) -> float:
        """Tasks per second averaged over the pattern."""
        return self.rate * self.rate_pattern.mean_multiplier


def _check_graph(graph: Any) -> tuple[tuple[int, ...], ...]:
    """Parent lists of a ``dag`` group, numbered topologically (parents < child)."""
    if graph is None or isinstance(graph, str | bytes) or not hasattr(graph, "__len__"):
        raise WorkloadSpecError("shape 'dag' needs a graph", field="graph",
                                expected="parent lists, e.g. [[], [0], [0], [1, 2]]")
    if len(graph) == 0:
        raise WorkloadSpecError("the graph has no tasks", field="graph",
                                expected="at least one task")
    out = []
    for j, ps in enumerate(graph):
        try:
            tup = tuple(sorted({int(p) for p in (ps or ())}))
        except (TypeError, ValueError):
            raise WorkloadSpecError(f"parents of task {j} are not integers: {ps!r}",
                                    field="graph",
                                    expected="lists of task numbers") from None
        if any(not 0 <= p < j for p in tup):
            raise WorkloadSpecError(f"task {j} has parent(s) {list(tup)} not below it",
                                    field="graph", expected="parents numbered below "
                                    "their child (a topological numbering)")
        out.append(tup)
    return tuple(out)


def arrival_times(workload: Workload, duration: float,
                  rng: np.random.Generator) -> np.ndarray:
    """Chain arrival times in ``[0, duration)`` (sorted, seconds).

    Poisson arrivals are drawn per constant-rate segment of the pattern (count
    ~ Poisson, times uniform); regular arrivals are evenly spaced at the
    current rate, starting at 0.

    Examples
    --------
    >>> w = Workload(rate=2, depth="fixed:2", arrivals="regular")
    >>> arrival_times(w, 5, np.random.default_rng(0)).tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0]
    """
    base = workload.chain_rate
    parts = []
    if workload.arrivals == "regular":
        t = 0.0
        out = []
        segs = workload.rate_pattern.segments(duration)
        for a, b, m in segs:
            if m <= 0:
                t = max(t, b)
                continue
            step = 1.0 / (base * m)
            t = max(t, a)
            while t < b - 1e-12:
                out.append(t)
                t += step
        return np.asarray(out, dtype=np.float64)
    for a, b, m in workload.rate_pattern.segments(duration):
        lam = base * m * (b - a)
        k = int(rng.poisson(lam)) if lam > 0 else 0
        if k:
            parts.append(np.sort(rng.uniform(a, b, k)))
    if not parts:
        return np.empty(0, dtype=np.float64)
    return np.concatenate(parts)
