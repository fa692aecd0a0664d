"""What a proof costs and how the proof pool queues: finite-field operation counts
(checked with galois), per-machine calibration, parallelism, batching, and the
pool as an M/G/c queue.

The chain of reasoning, one function each:

1. **Operations.** :func:`groth16_ops` counts a Groth16 prover's work from the
   circuit's constraint and witness counts: the FFTs over Fr (size
   ``N = 2^ceil(log2(n + l))``, 7 transforms for gnark/arkworks, 6 for
   snarkjs/rapidsnark) and the five MSMs (4 in G1, 1 in G2) by Pippenger's bucket
   method (:func:`pippenger_cost`), in Fr-multiplication equivalents
   (:class:`OpWeights`). :func:`stark_ops` does the same for a STARK over a
   small field (BabyBear, Goldilocks) with an optional Groth16 wrap. The
   counting formulas are the ones :mod:`specanalysis.models._fieldops` executes
   for real with galois (an instrumented NTT and Pippenger MSM); the tests hold
   the counts equal.
2. **Time.** :func:`calibrate` fits ``T = fixed + tau x W x u(p) / p`` (one
   ``tau`` in ns per mult-equivalent and one fixed cost per proof call, weighted
   least squares on relative error with statsmodels, 95 % intervals) to measured
   proof times by circuit size; ``u(p) = 1 + sigma (p - 1) + kappa p (p - 1)`` is
   the universal scalability law for the MSM and FFT parts
   (:class:`Parallelism`). Proof workers share the cores: with ``workers x
   threads > cores`` every proof slows by the oversubscription factor.
3. **Batching.** :class:`ProofCost` prices a batch of ``k`` proofs as
   ``overhead + k x per_proof`` (+ optional aggregation).
4. **Queueing.** :func:`proof_pool` treats the pool as GI/G/c (Erlang C with
   the Allen-Cunneen correction, :mod:`specanalysis.models.queueing`) and
   :func:`size_proof_pool` proposes ``proof.worker_threads``, ``batch_size``,
   ``queue_size`` and ``timeout_ms`` for a p99 target at the peak rate, beside
   the guide's ``queue_size = peak_rate x avg_proof_s x 3``.
   :func:`capacity_headroom` is the capacity check the tuning rules use.
   :func:`simulate_pool` runs the same pool in the simulator (which takes its
   proof times from :meth:`ProofCost.workload`).

Examples
--------
>>> ops = groth16_ops(2**20 - 1)
>>> ops.domain, round(ops.msm_share, 2)
(1048576, 0.91)
>>> model = calibrate(published_times("gnark-bn254-m5.2xlarge")
...                   .filter(pl.col("constraints").is_in([10_001, 1_000_001])),
...                   cores=8, shape=CircuitShape.exponentiate())
>>> round(model.proof_seconds(100_001, threads=8), 3)   # published: 0.266 s
0.272
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from specanalysis.catalogue import PROOF
from specanalysis.errors import DataError
from specanalysis.models.queueing import QueueFigures, mgc

__all__ = [
    "OpWeights",
    "MSMCost",
    "pippenger_cost",
    "best_window",
    "ntt_butterflies",
    "OpCounts",
    "groth16_ops",
    "stark_ops",
    "CircuitShape",
    "Parallelism",
    "ProofCostModel",
    "calibrate",
    "published_times",
    "PUBLISHED_SOURCES",
    "ProofCost",
    "PoolPrediction",
    "proof_pool",
    "Headroom",
    "capacity_headroom",
    "PoolSizing",
    "size_proof_pool",
    "SimulatedPool",
    "simulate_pool",
    "CapacityWarning",
    "measure_machine",
    "field",
]


class CapacityWarning(UserWarning):
    """The offered rate is at or beyond the pool's capacity (utilisation >= 1)."""


def field(name: str) -> Any:
    """The galois field class of a prover field (see :mod:`._fieldops`)."""
    from specanalysis.models._fieldops import field as _field

    return _field(name)


def measure_machine(**options: Any) -> Any:
    """Field-operation speeds on this machine with galois, cached per machine
    (see :func:`specanalysis.models._fieldops.measure_machine`)."""
    from specanalysis.models._fieldops import measure_machine as _measure

    return _measure(**options)


# --------------------------------------------------------------------------
# checks


def _count(name: str, value: Any, *, lo: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise DataError(f"{value!r} is not an integer", field=name,
                            expected=f"an integer >= {lo}")
    if value < lo:
        raise DataError(f"{value} is below {lo}", field=name, expected=f"an integer >= {lo}")
    return int(value)


def _real(name: str, value: Any, *, lo: float = 0.0, lo_open: bool = True,
          hi: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise DataError(f"{value!r} is not a number", field=name, expected="a number")
    v = float(value)
    bad = (not math.isfinite(v) or v < lo or (lo_open and v == lo) or v > hi)
    if bad:
        op = ">" if lo_open else ">="
        rng = f"{op} {lo:g}" + (f" and <= {hi:g}" if math.isfinite(hi) else "")
        raise DataError(f"{value!r} is out of range", field=name,
                        expected=f"a finite number {rng}")
    return v


# --------------------------------------------------------------------------
# 1. operation counts


@dataclass(frozen=True)
class OpWeights:
    """Cost of each operation type in 254-bit Fr-multiplication equivalents.

    The defaults are native (not Python) priors from published measurements
    (``reference/proof-cost.md``): a butterfly costs about 2 mult-equivalents
    and an MSM bucket addition about 15 (Aptos Keyless prover log: 44 ns.vCPU
    per butterfly, 333 ns.vCPU per H-MSM addition, 22 ns per Fr mult); a doubling
    is 0.4 of an addition (EFD: 2M+5S against 11M+5S); a G2 addition 2.3 G1
    additions (zkalc gnark BN254: 946/406 ns); the BLS12-381 base field 1.5x
    BN254 (zkalc and zk-Harness ratios 1.4-1.7). The small STARK fields are
    assumptions (a 31-bit Montgomery mult about 1/20 of a 254-bit one, a 64-bit
    about 1/10), as is the Poseidon2 permutation (width 16: 8 full rounds x 16
    S-boxes x 4 mults + 13 partial rounds x 4 + linear layers, about 772 mults).
    :meth:`from_machine` takes the op-type ratios from galois measurements on
    this machine instead.
    """

    butterfly: float = 2.0
    scalar_mult: float = 1.0
    g1_add: float = 15.0
    g1_double: float = 6.0
    g2_factor: float = 2.3
    bls_base_factor: float = 1.5
    babybear_mult: float = 0.05
    goldilocks_mult: float = 0.1
    hash_mults: float = 772.0

    def __post_init__(self) -> None:
        for name in ("butterfly", "scalar_mult", "g1_add", "g1_double", "g2_factor",
                     "bls_base_factor", "babybear_mult", "goldilocks_mult", "hash_mults"):
            _real(name, getattr(self, name), lo=0.0, lo_open=False)

    @classmethod
    def from_machine(cls, profile: Any) -> OpWeights:
        """Op-type ratios from galois speeds measured on this machine
        (:func:`measure_machine`).

        The butterfly is measured as a whole; the group operations are composed
        from the measured field multiplication and addition times with their
        EFD formulas (mixed addition 7M+4S+9A, doubling 2M+5S+8A on Fq; a G2
        addition over Fp2 with 3M+5A per Fp2 multiplication), because timing the
        whole formula on galois object arrays adds allocation and cache effects
        of Python integers (2-10x on a loaded machine) that native code does not
        have. The BLS12-381 factor is the measured 381-bit/254-bit Fq
        multiplication ratio; the small fields' weights are their measured
        multiplication times relative to BN254 Fr.
        """
        m, a = profile.mult_ns, profile.add_ns
        fr = m["bn254"]
        mq, aq = m["bn254-fq"] / fr, a["bn254-fq"] / fr
        g1_add = 11 * mq + 9 * aq
        g2_add = 11 * (3 * mq + 5 * aq) + 9 * 2 * aq
        return cls(butterfly=profile.butterfly_equiv, g1_add=g1_add,
                   g1_double=7 * mq + 8 * aq, g2_factor=g2_add / g1_add,
                   bls_base_factor=m["bls12-381-fq"] / m["bn254-fq"],
                   babybear_mult=m["babybear"] / fr,
                   goldilocks_mult=m["goldilocks"] / fr)

    def field_mult(self, field_name: str) -> float:
        """Cost of one multiplication in ``field_name``."""
        return {"babybear": self.babybear_mult, "goldilocks": self.goldilocks_mult}.get(
            field_name, self.scalar_mult)


@dataclass(frozen=True)
class MSMCost:
    """Pippenger's bucket method for ``points`` points with ``bits``-bit scalars.

    ``windows = ceil(bits / window)`` (unsigned digits, ``2^window - 1``
    buckets) or ``ceil((bits + 1) / window)`` (signed digits, ``2^(window-1)``
    buckets, as gnark and ICICLE); ``additions = windows x (points + 2 x buckets)
    + windows - 1`` (bucket fills, the running-sum reduction, Horner's
    combination), ``doublings = (windows - 1) x window``. Every bucket fill is
    counted, as if no digit were zero: the count of
    :func:`~specanalysis.models._fieldops.counted_msm` minus its zero digits.
    """

    points: int
    bits: int
    window: int
    signed: bool
    windows: int
    buckets: int
    additions: int
    doublings: int

    @property
    def per_point(self) -> float:
        return (self.additions + self.doublings) / self.points if self.points else 0.0


def pippenger_cost(points: int, *, bits: int = 254, window: int | None = None,
                   signed: bool = True) -> MSMCost:
    """Group operations of one MSM (see :class:`MSMCost`); ``window=None`` picks
    the window with the fewest operations (:func:`best_window`).

    Examples
    --------
    >>> m = pippenger_cost(2**16)
    >>> m.window, round(m.per_point, 1)
    (13, 22.5)
    >>> pippenger_cost(64, bits=254, window=4, signed=False).additions
    6079
    """
    s = _count("points", points, lo=0)
    b = _count("bits", bits)
    if s == 0:
        return MSMCost(0, b, 0, signed, 0, 0, 0, 0)
    c = best_window(s, bits=b, signed=signed) if window is None else _count("window", window)
    if signed:
        K = -(-(b + 1) // c)
        B = 1 << (c - 1)
    else:
        K = -(-b // c)
        B = (1 << c) - 1
    return MSMCost(s, b, c, signed, K, B, K * (s + 2 * B) + K - 1, (K - 1) * c)


def best_window(points: int, *, bits: int = 254, signed: bool = True,
                windows: Iterable[int] = range(2, 25)) -> int:
    """The window that minimises additions + doublings for ``points`` points."""
    best, best_c = math.inf, 2
    for c in windows:
        m = pippenger_cost(points, bits=bits, window=c, signed=signed)
        cost = m.additions + m.doublings
        if cost < best:
            best, best_c = cost, c
    return best_c


def ntt_butterflies(n: int) -> int:
    """Butterflies of one radix-2 NTT of size ``n`` (a power of two): ``n/2 x log2 n``.

    Examples
    --------
    >>> ntt_butterflies(8)
    12
    """
    n = _count("n", n)
    if n & (n - 1):
        raise DataError(f"{n} is not a power of two", field="n", expected="a power of two")
    return (n // 2) * (n.bit_length() - 1)


_CURVES = {"bn254": 254, "bls12-381": 255}
_PROVERS = {"gnark": (7, -1), "arkworks": (7, -1), "snarkjs": (6, 0), "rapidsnark": (6, 0)}
_OPS_SCHEMA = {"stage": pl.String, "kind": pl.String, "group": pl.String,
               "size": pl.Int64, "count": pl.Int64, "window": pl.Int64,
               "butterflies": pl.Int64, "additions": pl.Int64, "doublings": pl.Int64,
               "field_mults": pl.Int64, "hashes": pl.Int64,
               "mult_equivalents": pl.Float64}


def _curve(curve: str) -> str:
    key = str(curve).lower().replace("_", "-")
    if key in ("bn128", "bn256", "alt-bn128"):
        key = "bn254"
    if key not in _CURVES:
        raise DataError(f"unknown curve {curve!r}", field="curve",
                        expected="one of " + ", ".join(_CURVES))
    return key


@dataclass(frozen=True)
class OpCounts:
    """A prover's operation counts, one row per stage (see :meth:`tidy`).

    Attributes
    ----------
    frame
        Columns ``stage``, ``kind`` (fft, scalar, msm, hash), ``group`` (Fr, G1,
        G2, or the small field), ``size``, ``count`` (transforms of that size),
        ``window``, ``butterflies``, ``additions``, ``doublings``,
        ``field_mults``, ``hashes``, ``mult_equivalents``.
    constraints, domain, curve, prover
        What was counted (``domain`` = FFT size N, or the LDE size for a STARK).
    weights
        The :class:`OpWeights` behind ``mult_equivalents``.
    """

    frame: pl.DataFrame
    constraints: int
    domain: int
    curve: str
    prover: str
    weights: OpWeights

    @functools.cached_property
    def _by_kind(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for k, w in zip(self.frame["kind"].to_list(),
                        self.frame["mult_equivalents"].to_list(), strict=True):
            out[k] = out.get(k, 0.0) + w
        return out

    @property
    def total(self) -> float:
        """Total work W in Fr-multiplication equivalents."""
        return float(sum(self._by_kind.values()))

    def part(self, kind: str) -> float:
        """Work of one kind (``fft`` covers transforms and scalar mults)."""
        kinds = ("fft", "scalar") if kind == "fft" else (kind,)
        return float(sum(self._by_kind.get(k, 0.0) for k in kinds))

    @property
    def msm(self) -> float:
        return self.part("msm")

    @property
    def fft(self) -> float:
        """FFT-like work: transforms, scalar mults and hashing (memory-bound parts)."""
        return self.total - self.msm

    @property
    def msm_share(self) -> float:
        return self.msm / self.total if self.total else 0.0

    def tidy(self) -> pl.DataFrame:
        """The per-stage frame (see the class docstring)."""
        return self.frame

    def summary(self) -> str:
        lines = [f"{self.prover} {self.curve}: {self.constraints:,} constraints, domain "
                 f"{self.domain:,}; W = {self.total:.4g} Fr-mult equivalents "
                 f"(MSM {100 * self.msm_share:.0f} %)"]
        for r in self.frame.iter_rows(named=True):
            what = (f"{r['butterflies']:,} butterflies" if r["kind"] == "fft"
                    else f"{r['additions']:,} adds (c={r['window']})" if r["kind"] == "msm"
                    else f"{r['hashes']:,} hashes" if r["kind"] == "hash"
                    else f"{r['field_mults']:,} mults")
            lines.append(f"  {r['stage']:<22} {r['group']:<9} size {r['size']:>12,} "
                         f"x{r['count']:<2} {what:<34} {r['mult_equivalents']:.3g}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"OpCounts({self.prover}, {self.curve}, constraints={self.constraints}, "
                f"W={self.total:.4g})")

    def _repr_html_(self) -> str:
        return (f"<p><b>{self.prover} {self.curve}</b>: {self.constraints:,} constraints, "
                f"W = {self.total:.4g} Fr-mult equivalents "
                f"(MSM {100 * self.msm_share:.0f} %)</p>" + self.frame._repr_html_())


def _row(stage: str, kind: str, group: str, size: int, count: int = 1, *, window: int = 0,
         butterflies: int = 0, additions: int = 0, doublings: int = 0,
         field_mults: int = 0, hashes: int = 0, weq: float = 0.0) -> dict[str, Any]:
    return {"stage": stage, "kind": kind, "group": group, "size": size, "count": count,
            "window": window, "butterflies": butterflies, "additions": additions,
            "doublings": doublings, "field_mults": field_mults, "hashes": hashes,
            "mult_equivalents": float(weq)}


def groth16_ops(constraints: int, *, wires: int | None = None, public: int = 1,
                a_points: int | None = None, b_points: int | None = None,
                witness_density: float = 1.0, curve: str = "bn254",
                prover: str = "gnark", weights: OpWeights | None = None) -> OpCounts:
    """Operation counts of one Groth16 proof.

    Parameters
    ----------
    constraints
        R1CS constraints n.
    wires
        Witness wires m (default n: one new wire per constraint).
    public
        Public inputs l (including the constant-one wire where the prover counts it).
    a_points, b_points
        Wires with a non-zero column in A and in B (gnark drops points at infinity;
        default: all m wires). The G1 and G2 B-MSMs have ``b_points`` points.
    witness_density
        rho_w: scales the four witness-scalar MSMs (1 for full-width random
        scalars; about 0.15-0.3 when most witness values are bits).
    curve
        ``"bn254"`` or ``"bls12-381"`` (base field 1.5x, :class:`OpWeights`).
    prover
        ``"gnark"``/``"arkworks"``: 7 transforms (3 iFFT, 3 coset FFT, 1 coset
        iFFT) and an H-MSM of ``N - 1`` points; ``"snarkjs"``/``"rapidsnark"``: 6
        transforms and ``N`` points.

    Returns
    -------
    OpCounts
        FFT rows (``k x (N/2) log2 N`` butterflies plus ``9 N`` scalar mults for
        coset shifts, ``a.b - c``, division by Z and ``1/N``) and one row per MSM
        (A, B in G1, K for the ``m - l`` private wires, H, B in G2) with
        Pippenger's window and additions (signed digits, scalar bits of the curve).

    Raises
    ------
    DataError
        Zero or negative sizes, more public inputs than wires, an unknown curve
        or prover.

    Examples
    --------
    >>> ops = groth16_ops(10_000, curve="bls12-381", prover="snarkjs")
    >>> ops.domain, ops.frame.filter(pl.col("kind") == "fft")["count"].item()
    (16384, 6)
    >>> groth16_ops(0)
    Traceback (most recent call last):
    ...
    specanalysis.errors.DataError: constraints: 0 is below 1 (expected an integer >= 1)
    """
    n = _count("constraints", constraints)
    m = n if wires is None else _count("wires", wires)
    ell = _count("public", public, lo=0)
    if ell > m:
        raise DataError(f"{ell} public inputs for {m} wires", field="public",
                        expected="at most as many public inputs as wires")
    sa = m if a_points is None else _count("a_points", a_points, lo=0)
    sb = m if b_points is None else _count("b_points", b_points, lo=0)
    rho = _real("witness_density", witness_density, hi=1.0)
    cv = _curve(curve)
    pkey = str(prover).lower()
    if pkey not in _PROVERS:
        raise DataError(f"unknown prover {prover!r}", field="prover",
                        expected="one of " + ", ".join(_PROVERS))
    w = weights or OpWeights()
    k_fft, h_shift = _PROVERS[pkey]
    N = 1 << max(1, math.ceil(math.log2(n + ell)))
    bits = _CURVES[cv]
    phi = w.bls_base_factor if cv == "bls12-381" else 1.0
    bf = ntt_butterflies(N)
    rows = [
        _row("fft", "fft", "Fr", N, k_fft, butterflies=k_fft * bf,
             weq=k_fft * bf * w.butterfly),
        _row("pointwise", "scalar", "Fr", N, 9, field_mults=9 * N, weq=9 * N * w.scalar_mult),
    ]
    msms = [("msm A", "G1", sa, rho), ("msm B", "G1", sb, rho),
            ("msm K (private)", "G1", m - ell, rho), ("msm H", "G1", N + h_shift, 1.0),
            ("msm B", "G2", sb, rho)]
    for stage, group, size, dens in msms:
        c = pippenger_cost(size, bits=bits)
        g = w.g2_factor if group == "G2" else 1.0
        adds = round(dens * c.additions)
        dbls = c.doublings if size else 0
        rows.append(_row(stage, "msm", group, size, 1, window=c.window, additions=adds,
                         doublings=dbls,
                         weq=(adds * w.g1_add + dbls * w.g1_double) * g * phi))
    frame = pl.DataFrame(rows, schema=_OPS_SCHEMA)
    return OpCounts(frame, n, N, cv, pkey, w)


def stark_ops(trace_rows: int, *, columns: int = 64, field: str = "babybear",
              blowup: int = 4, constraint_mults: int = 16, hash_rate: int = 8,
              wrap_constraints: int | None = None, wrap_curve: str = "bn254",
              weights: OpWeights | None = None) -> OpCounts:
    """Operation counts of a STARK over a small field, with an optional Groth16 wrap.

    Stages (an approximation of RISC Zero/Plonky3-style provers; the NTT counts
    are exact and checked with galois, the rest are stated assumptions):

    * trace interpolation: ``columns`` inverse NTTs of ``trace_rows``;
    * low-degree extension: ``columns`` coset NTTs of ``trace_rows x blowup``
      (plus one coset-shift mult per value);
    * constraint/quotient evaluation: ``constraint_mults`` mults per LDE cell;
    * Merkle commitment of the LDE: ``ceil(columns / hash_rate)`` permutations per
      leaf plus ``leaves - 1`` compressions (Poseidon2, width 16, rate 8);
    * FRI: about ``2 x LDE`` mults for the folds and ``LDE`` hashes for the layer
      commitments;
    * optionally the Groth16 wrap proving the STARK verifier
      (``wrap_constraints``, :func:`groth16_ops`, gnark, on ``wrap_curve``).

    Examples
    --------
    >>> ops = stark_ops(2**16, columns=32)
    >>> ops.domain, ops.frame.filter(pl.col("stage") == "LDE")["butterflies"].item()
    (262144, 75497472)
    """
    n = _count("trace_rows", trace_rows, lo=2)
    if n & (n - 1):
        raise DataError(f"{n} is not a power of two", field="trace_rows",
                        expected="a power-of-two trace length")
    cols = _count("columns", columns)
    blow = _count("blowup", blowup, lo=2)
    if blow & (blow - 1):
        raise DataError(f"{blow} is not a power of two", field="blowup",
                        expected="2, 4, 8 or 16")
    fkey = str(field).lower()
    if fkey not in ("babybear", "goldilocks"):
        raise DataError(f"unknown STARK field {field!r}", field="field",
                        expected="'babybear' or 'goldilocks'")
    cm = _count("constraint_mults", constraint_mults, lo=0)
    rate = _count("hash_rate", hash_rate)
    w = weights or OpWeights()
    fm = w.field_mult(fkey)
    lde = n * blow
    leaves = lde
    hashes = leaves * -(-cols // rate) + leaves - 1
    rows = [
        _row("trace iNTT", "fft", fkey, n, cols, butterflies=cols * ntt_butterflies(n),
             weq=cols * ntt_butterflies(n) * w.butterfly * fm),
        _row("LDE", "fft", fkey, lde, cols, butterflies=cols * ntt_butterflies(lde),
             weq=cols * ntt_butterflies(lde) * w.butterfly * fm),
        _row("coset shift", "scalar", fkey, lde, cols, field_mults=cols * lde,
             weq=cols * lde * fm),
        _row("constraints", "scalar", fkey, lde, cols, field_mults=cm * cols * lde,
             weq=cm * cols * lde * fm),
        _row("Merkle commit", "hash", fkey, lde, 1, hashes=hashes,
             weq=hashes * w.hash_mults * fm),
        _row("FRI folds", "scalar", fkey, lde, 1, field_mults=2 * lde, weq=2 * lde * fm),
        _row("FRI commits", "hash", fkey, lde, 1, hashes=lde, weq=lde * w.hash_mults * fm),
    ]
    frame = pl.DataFrame(rows, schema=_OPS_SCHEMA)
    if wrap_constraints is not None:
        wrap = groth16_ops(_count("wrap_constraints", wrap_constraints), curve=wrap_curve,
                           weights=w)
        frame = pl.concat([frame, wrap.frame.with_columns(
            ("wrap " + pl.col("stage")).alias("stage"))])
    return OpCounts(frame, n, lde, fkey, "stark", w)


# --------------------------------------------------------------------------
# 2. time from counts


@dataclass(frozen=True)
class CircuitShape:
    """How a circuit's witness and non-zero counts follow from its constraint count.

    ``wires = wires_per_constraint x n``; ``a_points``/``b_points`` = fraction x
    wires, unless ``b_points_fixed`` gives an absolute count (a circuit whose B
    matrix touches a few wires, like zk-Harness' ``exponentiate``).
    """

    wires_per_constraint: float = 1.0
    public: int = 1
    a_fraction: float = 1.0
    b_fraction: float = 1.0
    b_points_fixed: int | None = None
    witness_density: float = 1.0
    curve: str = "bn254"
    prover: str = "gnark"

    def __post_init__(self) -> None:
        _real("wires_per_constraint", self.wires_per_constraint)
        _count("public", self.public, lo=0)
        _real("a_fraction", self.a_fraction, lo=0.0, lo_open=False, hi=1.0)
        _real("b_fraction", self.b_fraction, lo=0.0, lo_open=False, hi=1.0)
        if self.b_points_fixed is not None:
            _count("b_points_fixed", self.b_points_fixed, lo=0)
        _real("witness_density", self.witness_density, hi=1.0)
        _curve(self.curve)
        if str(self.prover).lower() not in _PROVERS:
            raise DataError(f"unknown prover {self.prover!r}", field="prover",
                            expected="one of " + ", ".join(_PROVERS))

    @classmethod
    def exponentiate(cls, curve: str = "bn254") -> CircuitShape:
        """zk-Harness' ``exponentiate`` circuit on gnark (``y = x^e`` by repeated
        multiplication: one wire per constraint, 2 public inputs, B touches only
        ``x``), the circuit of the published gnark tables (:func:`published_times`)."""
        return cls(public=2, b_points_fixed=1, curve=curve, prover="gnark")

    def ops(self, constraints: int, weights: OpWeights | None = None) -> OpCounts:
        n = _count("constraints", constraints)
        m = max(self.public, round(self.wires_per_constraint * n))
        b = (self.b_points_fixed if self.b_points_fixed is not None
             else round(self.b_fraction * m))
        return groth16_ops(n, wires=m, public=self.public,
                           a_points=round(self.a_fraction * m), b_points=b,
                           witness_density=self.witness_density, curve=self.curve,
                           prover=self.prover, weights=weights)


@functools.lru_cache(maxsize=512)
def _shape_ops(shape: CircuitShape, constraints: int, weights: OpWeights) -> OpCounts:
    return shape.ops(constraints, weights)


@dataclass(frozen=True)
class Parallelism:
    """Parallel efficiency of the MSM and FFT parts (universal scalability law):
    ``speedup(p) = p / (1 + sigma (p - 1) + kappa p (p - 1))``.

    Defaults: the USL fit to gnark's published BW6-761 prover times at 1, 8, 16
    and 32 threads (sigma 0.021, kappa 9.5e-4; efficiency 0.91 at 8 threads, 0.6
    at 16, 0.4 at 32). The FFT part has no separate published fit; set
    ``fft_sigma``/``fft_kappa`` if you measured one.
    """

    msm_sigma: float = 0.021
    msm_kappa: float = 9.5e-4
    fft_sigma: float = 0.021
    fft_kappa: float = 9.5e-4

    def __post_init__(self) -> None:
        for name in ("msm_sigma", "msm_kappa", "fft_sigma", "fft_kappa"):
            _real(name, getattr(self, name), lo=0.0, lo_open=False)

    @classmethod
    def fit(cls, threads: Sequence[float], seconds: Sequence[float]) -> Parallelism:
        """Fit sigma and kappa (both parts) to one proof timed at several thread
        counts, one of them 1: ``p / S(p) - 1 = sigma (p - 1) + kappa p (p - 1)``
        is linear (statsmodels OLS through the origin; negative estimates are
        clipped to 0).

        Examples
        --------
        >>> par = Parallelism.fit([1, 8, 16, 32], [53.9, 7.42, 5.78, 4.31])  # gnark BW6
        >>> round(par.msm_sigma, 3), round(par.msm_kappa * 1e4, 1)
        (0.031, 6.3)
        """
        p = np.asarray(threads, dtype=np.float64)
        t = np.asarray(seconds, dtype=np.float64)
        if p.shape != t.shape or len(p) < 3 or not (p == 1).any():
            raise DataError(f"{len(p)} thread counts for {len(t)} times",
                            field="threads",
                            expected="one time per thread count, 3 or more, including 1")
        if not (np.isfinite(t).all() and (t > 0).all() and (p >= 1).all()):
            raise DataError("non-positive threads or times", field="seconds",
                            expected="positive times at thread counts >= 1")
        t1 = float(t[p == 1].mean())
        y = p * t / t1 - 1.0
        X = np.column_stack([p - 1.0, p * (p - 1.0)])
        res = _statsmodels().OLS(y, X).fit()
        sigma, kappa = (max(0.0, float(v)) for v in res.params)
        return cls(sigma, kappa, sigma, kappa)

    def speedup(self, threads: float, part: str = "msm") -> float:
        """Speed-up over one thread with ``threads`` threads on ``part``."""
        p = _real("threads", threads)
        s, k = ((self.msm_sigma, self.msm_kappa) if part == "msm"
                else (self.fft_sigma, self.fft_kappa))
        return p / (1.0 + s * (p - 1.0) + k * p * (p - 1.0))


def _zk_harness(machine: str, cores: int, curve: str, ms: Sequence[int]) -> dict[str, Any]:
    sizes = (11, 101, 1001, 10001, 100001, 1000001, 10000001)
    return {"url": "https://github.com/zkCollective/zk-Harness/blob/main/benchmarks/"
                   f"circuits/{machine}/gnark/groth16_exponentiate.csv",
            "machine": f"AWS {machine} ({cores} vCPU)", "cores": cores, "curve": curve,
            "times_ms": dict(zip(sizes, ms, strict=True))}


#: Published proving-time tables bundled for calibration examples (zk-Harness,
#: ``exponentiate`` circuit, gnark Groth16, ``operation == "prove"``, time(ms)
#: column, 10 runs each, at 11 ... 10,000,001 constraints).
PUBLISHED_SOURCES: dict[str, dict[str, Any]] = {
    "gnark-bn254-m5.2xlarge": _zk_harness(
        "m5.2xlarge", 8, "bn254", (1, 1, 5, 39, 266, 2034, 28747)),
    "gnark-bls12-381-m5.2xlarge": _zk_harness(
        "m5.2xlarge", 8, "bls12-381", (1, 2, 7, 58, 380, 2898, 41655)),
    "gnark-bn254-m6i.8xlarge": _zk_harness(
        "m6i.8xlarge", 32, "bn254", (1, 1, 2, 13, 88, 620, 8339)),
    "gnark-bls12-381-m6i.8xlarge": _zk_harness(
        "m6i.8xlarge", 32, "bls12-381", (1, 1, 3, 18, 133, 862, 11336)),
}


def published_times(name: str = "gnark-bn254-m5.2xlarge") -> pl.DataFrame:
    """A bundled published table of proving time by circuit size (see
    :data:`PUBLISHED_SOURCES` for the URL): columns ``constraints``, ``seconds``,
    ``source``.

    Examples
    --------
    >>> published_times().filter(pl.col("constraints") == 1_000_001)["seconds"].item()
    2.034
    """
    if name not in PUBLISHED_SOURCES:
        raise DataError(f"unknown published table {name!r}", field="name",
                        expected="one of " + ", ".join(PUBLISHED_SOURCES))
    src = PUBLISHED_SOURCES[name]
    ns = sorted(src["times_ms"])
    return pl.DataFrame({"constraints": ns,
                         "seconds": [src["times_ms"][n] / 1000 for n in ns],
                         "source": [src["url"]] * len(ns)},
                        schema={"constraints": pl.Int64, "seconds": pl.Float64,
                                "source": pl.String})


_TIME_COLUMNS = {"seconds": 1.0, "time_s": 1.0, "proof_seconds": 1.0, "time_ms": 1e-3,
                 "time(ms)": 1e-3, "milliseconds": 1e-3}
_SIZE_COLUMNS = ("constraints", "nbConstraints", "n_constraints", "circuit_size")
_PROOF_HIST = PROOF


def _calibration_rows(data: Any, constraints: int | None) -> tuple[pl.DataFrame, str]:
    """``constraints``/``seconds`` rows (Float64) and where they came from."""
    source = "table"
    if isinstance(data, str | Path):
        path = Path(data)
        source = str(path)
        if not path.exists():
            raise DataError("no such file", source=source,
                            expected="a CSV of proof times by circuit size")
        try:
            data = pl.read_csv(path, infer_schema_length=10_000)
        except Exception as exc:  # polars raises several error types for bad CSV
            raise DataError(f"cannot read as CSV: {type(exc).__name__}", source=source,
                            expected="a CSV with constraints and seconds (or time_ms) "
                            "columns") from None
    if not isinstance(data, pl.DataFrame):
        raise DataError(f"got {type(data).__name__}", field="data",
                        expected="a polars DataFrame, a CSV path or a samples frame")
    if "metric" in data.columns and "value" in data.columns:
        return _rows_from_histogram(data, constraints), "proof-generation histogram"
    if "operation" in data.columns:  # zk-Harness layout: keep the proving rows
        data = data.filter(pl.col("operation") == "prove")
    size_col = next((c for c in _SIZE_COLUMNS if c in data.columns), None)
    time_col = next((c for c in _TIME_COLUMNS if c in data.columns), None)
    if size_col is None and constraints is not None and time_col is not None:
        data = data.with_columns(pl.lit(constraints).alias("constraints"))
        size_col = "constraints"
    if size_col is None or time_col is None:
        missing = [what for what, col in (("constraints", size_col), ("seconds", time_col))
                   if col is None]
        raise DataError(f"no {' or '.join(missing)} column (has {data.columns})",
                        source=source, field=", ".join(missing),
                        expected="columns constraints (or nbConstraints) and seconds "
                        "(or time_ms, time(ms))")
    out = data.select(pl.col(size_col).cast(pl.Float64).alias("constraints"),
                      (pl.col(time_col).cast(pl.Float64) * _TIME_COLUMNS[time_col])
                      .alias("seconds"))
    for i, (n, t) in enumerate(out.iter_rows()):
        line = i + 2 if source != "table" else None
        where = {"source": source, "line": line} if line else {"source": f"row {i}"}
        if n is None or not math.isfinite(n) or n < 1:
            raise DataError(f"constraint count {n!r} is not a positive size",
                            field=size_col, expected="an integer >= 1", **where)
        if t is None or not math.isfinite(t) or t <= 0:
            raise DataError(f"proof time {t!r} is not positive", field=time_col,
                            expected="a positive duration", **where)
    return out, source


def _rows_from_histogram(samples: pl.DataFrame, constraints: int | None) -> pl.DataFrame:
    if constraints is None:
        raise DataError("a proof-generation histogram has no circuit size",
                        field="constraints",
                        expected="constraints=N for the circuit the runtime proves")
    n = _count("constraints", constraints)

    def increase(name: str) -> float:
        s = samples.filter(pl.col("metric") == name).sort("timestamp")
        if not s.height:
            raise DataError(f"no {name} samples", field="metric",
                            expected=f"the {_PROOF_HIST} histogram (_sum and _count)")
        by = [c for c in s.columns if c not in ("timestamp", "metric", "value")]
        per = (s.group_by(by or pl.lit(0)).agg(
            (pl.col("value").last() - pl.col("value").first()).alias("inc")))
        return float(per["inc"].sum())

    total, count = increase(_PROOF_HIST + "_sum"), increase(_PROOF_HIST + "_count")
    if count <= 0:
        raise DataError("no proofs were generated in the window", field="metric",
                        expected="a window in which proofs completed")
    return pl.DataFrame({"constraints": [float(n)], "seconds": [total / count]})


@dataclass(frozen=True)
class ProofCostModel:
    """Proof time on a machine: ``T = fixed_s + tau x (W_msm u_msm(t) + W_fft
    u_fft(t)) / t x max(1, workers x t / cores)``.

    ``tau_ns`` is the single-thread cost of one Fr-mult equivalent (ns),
    ``fixed_s`` the per-call cost that does not scale with the circuit (key
    handling, start-up); both come with 95 % intervals from :func:`calibrate`.
    ``cores`` is the machine's core count and the prover's default thread count
    (gnark, rapidsnark and arkworks take every core unless told otherwise).
    """

    tau_ns: float
    tau_ci: tuple[float, float]
    fixed_s: float
    fixed_ci: tuple[float, float]
    cores: int
    shape: CircuitShape = dc_field(default_factory=CircuitShape)
    weights: OpWeights = dc_field(default_factory=OpWeights)
    parallel: Parallelism = dc_field(default_factory=Parallelism)
    fit: pl.DataFrame = dc_field(default_factory=pl.DataFrame, repr=False)
    cov: tuple[tuple[float, float], tuple[float, float]] = ((math.nan, math.nan),
                                                            (math.nan, math.nan))
    note: str = ""
    dof: int = 0

    # ------------------------------------------------------------- counting
    def ops(self, constraints: int) -> OpCounts:
        """The operation counts of one proof of ``constraints`` constraints."""
        return _shape_ops(self.shape, _count("constraints", constraints), self.weights)

    def _x(self, constraints: int, threads: float, workers: int, cores: int) -> float:
        """Seconds per ns of tau: the parallel-adjusted work of one proof (ns units)."""
        ops = self.ops(constraints)
        par = self.parallel
        t = threads
        work = (ops.msm / par.speedup(t, "msm") + ops.fft / par.speedup(t, "fft"))
        return work * max(1.0, workers * t / cores) * 1e-9

    def _resolve(self, threads: float | None, workers: int, cores: int | None
                 ) -> tuple[float, int, int]:
        c = self.cores if cores is None else _count("cores", cores)
        w = _count("workers", workers)
        t = (max(1.0, c // w) if threads is None else _real("threads", threads))
        return t, w, c

    def proof_seconds(self, constraints: int, *, threads: float | None = None,
                      workers: int = 1, cores: int | None = None) -> float:
        """Predicted seconds for one proof.

        ``threads`` per proof defaults to ``cores // workers`` (at least 1);
        ``workers`` proofs run at once on ``cores`` cores (default: the
        calibration machine's).
        """
        t, w, c = self._resolve(threads, workers, cores)
        return self.fixed_s + self.tau_ns * self._x(constraints, t, w, c)

    def predict(self, constraints: int | Sequence[int], *, threads: float | None = None,
                workers: int = 1, cores: int | None = None) -> pl.DataFrame:
        """Predicted proof time per circuit size, with a 95 % interval.

        Columns: ``constraints``, ``cores``, ``workers``, ``threads``,
        ``mult_equivalents``, ``msm_share``, ``seconds``, ``seconds_low``,
        ``seconds_high`` (null when the fit had no residual degrees of freedom).
        """
        sizes = [constraints] if isinstance(constraints, int | np.integer) else list(constraints)
        t, w, c = self._resolve(threads, workers, cores)
        rows = []
        (vff, vft), (_, vtt) = self.cov
        tcrit = _tcrit(self.dof)
        for n in sizes:
            ops = self.ops(n)
            x = self._x(n, t, w, c)
            sec = self.fixed_s + self.tau_ns * x
            var = vff + 2 * x * vft + x * x * vtt
            half = tcrit * math.sqrt(var) if math.isfinite(var) and var >= 0 else math.nan
            rows.append((int(n), c, w, float(t), ops.total, ops.msm_share, sec,
                         sec - half, sec + half))
        return pl.DataFrame(rows, schema=["constraints", "cores", "workers", "threads",
                                          "mult_equivalents", "msm_share", "seconds",
                                          "seconds_low", "seconds_high"],
                            orient="row").with_columns(pl.col(pl.Float64).fill_nan(None))

    def cost(self, constraints: int, *, workers: int = 1, threads: float | None = None,
             cores: int | None = None, cv: float = 0.05, aggregation_s: float = 0.0,
             aggregation_fixed_s: float = 0.0) -> ProofCost:
        """The :class:`ProofCost` of one proof in a pool of ``workers`` on ``cores``:
        the fixed cost becomes the per-batch overhead, the rest the per-proof cost."""
        t, w, c = self._resolve(threads, workers, cores)
        per = self.tau_ns * self._x(constraints, t, w, c)
        return ProofCost(per_proof_s=per, overhead_s=max(0.0, self.fixed_s), cv=cv,
                         aggregation_s=aggregation_s,
                         aggregation_fixed_s=aggregation_fixed_s,
                         constraints=_count("constraints", constraints), threads=t)

    # ------------------------------------------------------------- protocol
    def tidy(self) -> pl.DataFrame:
        """One row per fitted term: ``term``, ``estimate``, ``ci_low``, ``ci_high``, ``unit``."""
        return pl.DataFrame(
            {"term": ["tau", "fixed"], "estimate": [self.tau_ns, self.fixed_s],
             "ci_low": [self.tau_ci[0], self.fixed_ci[0]],
             "ci_high": [self.tau_ci[1], self.fixed_ci[1]],
             "unit": ["ns per Fr-mult equivalent (1 thread)", "s per proof call"]}
        ).with_columns(pl.col(pl.Float64).fill_nan(None))

    def summary(self) -> str:
        def ci(lo: float, hi: float, fmt: str) -> str:
            return (f"[{lo:{fmt}}, {hi:{fmt}}]" if math.isfinite(lo) and math.isfinite(hi)
                    else "[no interval]")

        lines = [f"Proof cost model ({self.shape.prover}, {self.shape.curve}, "
                 f"calibrated on {self.cores} cores)",
                 f"  tau   = {self.tau_ns:.3g} ns per Fr-mult equivalent on one thread "
                 f"{ci(*self.tau_ci, '.3g')}",
                 f"  fixed = {self.fixed_s * 1e3:.3g} ms per proof "
                 f"{ci(self.fixed_ci[0] * 1e3, self.fixed_ci[1] * 1e3, '.3g')} (ms)"]
        if self.fit.height:
            errs = ", ".join(f"{int(r['constraints']):,}: {100 * r['rel_error']:+.1f} %"
                             for r in self.fit.iter_rows(named=True))
            lines.append(f"  fit residuals (relative): {errs}")
        if self.note:
            lines.append(f"  note: {self.note}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"ProofCostModel(tau_ns={self.tau_ns:.4g}, fixed_s={self.fixed_s:.4g}, "
                f"cores={self.cores}, curve={self.shape.curve!r})")

    def _repr_html_(self) -> str:
        return ("<pre>" + _html_escape(self.summary()) + "</pre>"
                + self.tidy()._repr_html_())

    def prediction_frame(self, sizes: Sequence[int] | None = None,
                         cores: Sequence[int] | None = None) -> pl.DataFrame:
        """Predicted seconds for each size x core count (one worker using every
        core): the data of :meth:`plot`."""
        sizes = sizes or [int(10 ** e) for e in np.arange(3.0, 7.01, 0.25)]
        cores = cores or sorted({1, 2, 4, 8, 16, 32, self.cores})
        return pl.concat([self.predict(sizes, cores=c, threads=c) for c in cores])

    def plot(self, sizes: Sequence[int] | None = None,
             cores: Sequence[int] | None = None) -> Any:
        """Proof time against circuit size (log-log), one line per core count."""
        from specanalysis._optional import require

        require("hvplot.pandas")
        frame = self.prediction_frame(sizes, cores).with_columns(
            pl.col("cores").cast(pl.String))
        return frame.to_pandas().hvplot.line(
            x="constraints", y="seconds", by="cores", logx=True, logy=True,
            xlabel="constraints", ylabel="proof time (s)",
            title="Predicted proof time by circuit size and cores")


def _html_escape(text: str) -> str:
    import html

    return html.escape(text)


def _tcrit(df: int) -> float:
    if df <= 0:
        return math.nan
    from scipy import stats

    return float(stats.t.ppf(0.975, df))


def calibrate(data: Any, *, cores: int, shape: CircuitShape | None = None,
              weights: OpWeights | None = None, parallel: Parallelism | None = None,
              threads: int | None = None, constraints: int | None = None,
              fixed_cost: float | None = None) -> ProofCostModel:
    """Fit ``tau`` and the fixed cost to measured proof times (statsmodels WLS
    on relative error, 95 % intervals).

    Parameters
    ----------
    data
        Proof times by circuit size: a polars frame or CSV path with a
        ``constraints`` (or ``nbConstraints``) column and ``seconds`` (or
        ``time_ms``/``time(ms)``; zk-Harness CSVs are read as published, keeping
        ``operation == "prove"``), or a samples frame holding the runtime's
        ``speculation_proof_generation_seconds`` histogram (with ``constraints``:
        one row, the mean over the window; note the runtime's histogram includes
        queueing, so calibrate on a lightly loaded window).
    cores
        Cores of the machine the times were measured on.
    threads
        Threads the prover used (default: ``cores``).
    shape
        How the circuit's wires and non-zeros follow from its size.
    fixed_cost
        Known fixed cost (seconds): then only ``tau`` is fitted, and one row is
        enough.

    Raises
    ------
    DataError
        A table with one row (two unknowns need two sizes, unless
        ``fixed_cost`` is given), one size only, non-positive sizes or times
        (naming the row), missing columns.

    Examples
    --------
    >>> calibrate(pl.DataFrame({"constraints": [10_000], "seconds": [0.04]}), cores=8)
    Traceback (most recent call last):
    ...
    specanalysis.errors.DataError: row 0: data: a calibration table with one row cannot fit tau and the fixed cost (expected rows at two or more circuit sizes, or fixed_cost=SECONDS)
    """
    cores = _count("cores", cores)
    t = cores if threads is None else _real("threads", threads)
    shape = shape or CircuitShape()
    weights = weights or OpWeights()
    parallel = parallel or Parallelism()
    rows, source = _calibration_rows(data, constraints)
    if fixed_cost is not None:
        fixed_cost = _real("fixed_cost", fixed_cost, lo=0.0, lo_open=False)
    if rows.height == 0:
        raise DataError("the calibration table is empty", source=source, field="data",
                        expected="proof times at two or more circuit sizes")
    if rows.height == 1 and fixed_cost is None:
        raise DataError("a calibration table with one row cannot fit tau and the fixed "
                        "cost", source="row 0" if source == "table" else source,
                        field="data",
                        expected="rows at two or more circuit sizes, or fixed_cost=SECONDS")
    if rows["constraints"].n_unique() < 2 and fixed_cost is None:
        raise DataError("every row has the same circuit size", source=source,
                        field="constraints",
                        expected="two or more sizes, or fixed_cost=SECONDS")
    probe = ProofCostModel(1.0, (math.nan, math.nan), 0.0, (math.nan, math.nan), cores,
                           shape, weights, parallel)
    xs = np.array([probe._x(round(n), t, 1, cores) for n in rows["constraints"]])
    ys = rows["seconds"].to_numpy()
    sm = _statsmodels()
    wts = 1.0 / ys**2
    note = ""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if fixed_cost is None:
            res = sm.WLS(ys, np.column_stack([np.ones_like(xs), xs]), weights=wts).fit()
            fixed, tau = (float(v) for v in res.params)
            if res.df_resid > 0:
                ci = np.asarray(res.conf_int(0.05))
                fixed_ci, tau_ci = (tuple(map(float, ci[0])), tuple(map(float, ci[1])))
                cov = np.asarray(res.cov_params())
                cov_t = ((float(cov[0, 0]), float(cov[0, 1])),
                         (float(cov[1, 0]), float(cov[1, 1])))
            else:
                fixed_ci = tau_ci = (math.nan, math.nan)
                cov_t = ((math.nan, math.nan), (math.nan, math.nan))
                note = ("exact fit through two sizes: no interval (three or more sizes "
                        "give one)")
        else:
            res = sm.WLS(ys - fixed_cost, xs[:, None], weights=wts).fit()
            tau = float(res.params[0])
            fixed = fixed_cost
            fixed_ci = (fixed_cost, fixed_cost)
            if res.df_resid > 0:
                lo, hi = np.asarray(res.conf_int(0.05))[0]
                tau_ci = (float(lo), float(hi))
                vt = float(np.asarray(res.cov_params())[0, 0])
            else:
                tau_ci, vt = (math.nan, math.nan), math.nan
                note = "one row and a given fixed cost: tau has no interval"
            cov_t = ((0.0, 0.0), (0.0, vt))
    if tau <= 0:
        raise DataError(f"the fitted tau is {tau:.3g} ns (not positive)", source=source,
                        field="seconds",
                        expected="proof times that grow with circuit size")
    if fixed < 0:
        note = (note + "; " if note else "") + (
            f"the fitted fixed cost is negative ({fixed * 1e3:.3g} ms): the sizes "
            "may be too large to see it; consider fixed_cost=0")
    pred = fixed + tau * xs
    fit = rows.with_columns(pl.Series("predicted", pred),
                            pl.Series("rel_error", pred / ys - 1.0))
    return ProofCostModel(tau, tau_ci, fixed, fixed_ci, cores, shape, weights, parallel,
                          fit, cov_t, note, int(res.df_resid))


def _statsmodels() -> Any:
    from specanalysis._optional import require

    return require("statsmodels.api")


# --------------------------------------------------------------------------
# 3. batching and the pool as a queue


class _Lognormal:
    """A lognormal time distribution (seconds) with ``mean`` and ``cv``: the
    simulator's proof-time seam (``sample(rng, n)`` and ``mean``)."""

    __slots__ = ("mean", "cv", "spec")

    def __init__(self, mean: float, cv: float) -> None:
        self.mean, self.cv = float(mean), float(cv)
        self.spec = f"lognormal:mean={self.mean:.6g}s,cv={self.cv:g}"

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.cv <= 0:
            return np.full(n, self.mean)
        s2 = math.log1p(self.cv**2)
        return rng.lognormal(math.log(self.mean) - s2 / 2, math.sqrt(s2), n)

    def __repr__(self) -> str:
        return self.spec


@dataclass(frozen=True)
class ProofCost:
    """The cost of proofs in batches: a batch of ``k`` takes ``overhead_s +
    aggregation_fixed_s + k x (per_proof_s + aggregation_s)`` seconds.

    ``cv`` is the coefficient of variation of one proof's time. For a fixed
    circuit, proving is nearly deterministic (0.05 by default, an assumption no
    published source measures: measure yours); ``overhead_cv`` that of the
    per-batch overhead.

    Examples
    --------
    >>> c = ProofCost(per_proof_s=2.0, overhead_s=0.5)
    >>> c.batch_seconds(4), round(c.capacity(workers=2, batch_size=4), 3)
    (8.5, 0.941)
    """

    per_proof_s: float
    overhead_s: float = 0.0
    cv: float = 0.05
    overhead_cv: float = 0.0
    aggregation_s: float = 0.0
    aggregation_fixed_s: float = 0.0
    constraints: int | None = None
    threads: float | None = None

    def __post_init__(self) -> None:
        _real("per_proof_s", self.per_proof_s)
        for name in ("overhead_s", "cv", "overhead_cv", "aggregation_s",
                     "aggregation_fixed_s"):
            _real(name, getattr(self, name), lo=0.0, lo_open=False)

    @property
    def variable_s(self) -> float:
        """Per-proof time inside a batch (proof plus aggregation)."""
        return self.per_proof_s + self.aggregation_s

    @property
    def fixed_s(self) -> float:
        """Per-batch time (overhead plus aggregation set-up)."""
        return self.overhead_s + self.aggregation_fixed_s

    def batch_seconds(self, k: int) -> float:
        """Mean time of a batch of ``k`` proofs."""
        k = _count("batch size", k)
        return self.fixed_s + k * self.variable_s

    def batch_cs2(self, k: int) -> float:
        """Squared coefficient of variation of a batch's time."""
        var = k * (self.cv * self.variable_s) ** 2 + (self.overhead_cv * self.fixed_s) ** 2
        return var / self.batch_seconds(k) ** 2

    def capacity(self, *, workers: int, batch_size: int = 1) -> float:
        """Proofs per second the pool completes when always busy."""
        w = _count("workers", workers)
        b = _count("batch_size", batch_size)
        return w * b / self.batch_seconds(b)

    def distribution(self) -> _Lognormal:
        """Per-proof time as a simulator distribution (``proof_time``)."""
        return _Lognormal(self.variable_s, self.cv)

    def overhead_spec(self) -> Any:
        """Per-batch overhead as a simulator distribution (``proof_overhead``)."""
        if self.fixed_s <= 0:
            return "fixed:0s"
        if self.overhead_cv > 0:
            return _Lognormal(self.fixed_s, self.overhead_cv)
        return f"fixed:{self.fixed_s:.9g}s"

    @classmethod
    def from_workload(cls, workload: Any) -> ProofCost:
        """The proof cost a simulator workload uses (means and CVs of its
        ``proof_time`` and ``proof_overhead``), e.g. the bundled fixtures'
        (:func:`specanalysis.fixtures.fixture_workload`)."""
        def mean_cv(d: Any) -> tuple[float, float]:
            return float(d.mean), float(getattr(d, "cv", 0.0) or 0.0)

        per, cv = mean_cv(workload.dist("proof_time"))
        over, ocv = mean_cv(workload.dist("proof_overhead"))
        return cls(per_proof_s=per, overhead_s=over, cv=cv, overhead_cv=ocv)

    def workload(self, rate: float, **overrides: Any) -> Any:
        """A simulator :class:`~specanalysis.sim.Workload` whose proofs cost this:
        one-task chains (every proof independent) unless ``depth`` is given."""
        from specanalysis.sim.workload import Workload

        opts: dict[str, Any] = {"depth": "fixed:1", "failures": 0.0,
                                "exec_time": "fixed:1ms", "confirm_time": "fixed:10ms"}
        opts.update(overrides)
        return Workload(rate=rate, proof_time=self.distribution(),
                        proof_overhead=self.overhead_spec(), **opts)


def _as_cost(proof_cost: Any) -> ProofCost:
    if isinstance(proof_cost, ProofCost):
        return proof_cost
    if isinstance(proof_cost, int | float) and not isinstance(proof_cost, bool):
        return ProofCost(per_proof_s=_real("proof_cost", proof_cost))
    raise DataError(f"got {type(proof_cost).__name__}", field="proof_cost",
                    expected="a ProofCost, a ProofCostModel (with constraints=) or "
                    "seconds per proof")


@dataclass(frozen=True)
class PoolPrediction:
    """What the queueing model predicts for one pool at one arrival rate (seconds).

    ``mean_wait_s`` is the queue wait (request to the start of its batch's
    proving) including the batch fill wait ``mean_fill_s``; ``p99_sojourn_s``
    the 99th percentile of request to proof done.
    """

    rate: float
    workers: int
    batch_size: int
    threads: float | None
    batch_seconds: float
    capacity: float
    utilisation: float
    p_wait: float
    mean_fill_s: float
    mean_wait_s: float
    mean_sojourn_s: float
    p99_sojourn_s: float
    queue: QueueFigures = dc_field(repr=False)
    cost: ProofCost = dc_field(repr=False)

    @property
    def stable(self) -> bool:
        return self.utilisation < 1.0

    def sojourn_quantile(self, q: float) -> float:
        """A quantile of request-to-done time (fill wait taken at its mean)."""
        return self.mean_fill_s + self.queue.sojourn_quantile(q)

    def tidy(self) -> pl.DataFrame:
        """One row per figure: ``figure``, ``value``, ``unit``."""
        vals = [("rate", self.rate, "proofs/s"), ("workers", self.workers, ""),
                ("batch_size", self.batch_size, "proofs"),
                ("batch_seconds", self.batch_seconds, "s"),
                ("capacity", self.capacity, "proofs/s"),
                ("utilisation", self.utilisation, ""), ("p_wait", self.p_wait, ""),
                ("mean_fill_s", self.mean_fill_s, "s"),
                ("mean_wait_s", self.mean_wait_s, "s"),
                ("mean_sojourn_s", self.mean_sojourn_s, "s"),
                ("p99_sojourn_s", self.p99_sojourn_s, "s")]
        return pl.DataFrame([(a, float(b), c) for a, b, c in vals],
                            schema=["figure", "value", "unit"], orient="row")

    def summary(self) -> str:
        head = (f"{self.workers} workers x batch {self.batch_size} at {self.rate:.4g} "
                f"proofs/s: utilisation {self.utilisation:.2f}")
        if not self.stable:
            return head + f" -- unstable (capacity {self.capacity:.4g} proofs/s)"
        return (head + f", P(wait) {self.p_wait:.2f}, mean wait {self.mean_wait_s:.3g} s, "
                f"p99 request-to-proof {self.p99_sojourn_s:.3g} s (model: M/G/c, "
                "Allen-Cunneen)")

    def _repr_html_(self) -> str:
        return f"<p>{_html_escape(self.summary())}</p>" + self.tidy()._repr_html_()


def proof_pool(rate: float, proof_cost: Any, *, workers: int, batch_size: int = 1,
               batch_timeout: float | None = None, warn: bool = True,
               label: str = "the offered rate") -> PoolPrediction:
    """The proof pool as a GI/G/c queue of batches.

    Proof requests arrive as a Poisson stream at ``rate``; a batch closes when
    ``batch_size`` requests have arrived (or ``batch_timeout`` seconds after its
    first request), so batches arrive at ``rate / B`` with ``ca2 = 1/B``;
    ``workers`` servers each prove one batch at a time
    (:meth:`ProofCost.batch_seconds`). The waiting time is Erlang C with the
    Allen-Cunneen/Cosmetatos correction plus the mean fill wait ``(B - 1) /
    (2 rate)``; the p99 adds the queue's sojourn quantile to the mean fill wait.

    Warns
    -----
    CapacityWarning
        ``"unstable: utilisation 1.30 at the offered rate"`` when the rate is
        at or beyond capacity (the prediction then carries ``inf`` waits).

    Examples
    --------
    >>> p = proof_pool(0.5, ProofCost(per_proof_s=1.0), workers=1)
    >>> round(p.utilisation, 2), round(p.mean_wait_s, 3)   # M/D/1-like: rho/(2(1-rho)) s
    (0.5, 0.501)
    """
    lam = _real("rate", rate)
    cost = _as_cost(proof_cost)
    w = _count("workers", workers)
    b = _count("batch_size", batch_size)
    if batch_timeout is not None:
        batch_timeout = _real("batch_timeout", batch_timeout, lo=0.0, lo_open=False)
    b_eff = float(b)
    fill = (b - 1) / (2 * lam)
    if batch_timeout is not None and b > 1 and (b - 1) / lam > batch_timeout:
        b_eff = min(float(b), 1.0 + lam * batch_timeout)
        fill = batch_timeout * (1.0 + (b_eff - 1.0) / 2.0) / b_eff
    k = max(1, round(b_eff))
    s_b = cost.batch_seconds(k)
    cs2 = cost.batch_cs2(k)
    q = mgc(lam / k, s_b, w, ca2=1.0 / k, cs2=cs2)
    cap = w * k / s_b
    if not q.stable:
        if warn:
            warnings.warn(f"unstable: utilisation {q.utilisation:.2f} at {label} "
                          f"({lam:.4g} proofs/s against a capacity of {cap:.4g})",
                          CapacityWarning, stacklevel=2)
        inf = math.inf
        return PoolPrediction(lam, w, b, cost.threads, s_b, cap, q.utilisation, 1.0,
                              fill, inf, inf, inf, q, cost)
    p99 = fill + q.sojourn_quantile(0.99)
    return PoolPrediction(lam, w, b, cost.threads, s_b, cap, q.utilisation, q.p_wait,
                          fill, fill + q.mean_wait, fill + q.mean_wait + s_b, p99, q, cost)


@dataclass(frozen=True)
class Headroom:
    """Capacity of a pool against a peak rate.

    ``capacity_tps = workers x batch_size / (overhead + batch_size x proof time)``;
    ``utilisation = peak_rate / capacity_tps``; ``headroom = 1 - utilisation``
    (the share of capacity left at the peak; negative when the peak exceeds it).
    """

    peak_rate: float
    capacity_tps: float
    utilisation: float
    headroom: float

    @property
    def stable(self) -> bool:
        return self.utilisation < 1.0


def capacity_headroom(peak_rate: float, *, workers: int, batch_size: int,
                      proof_time_s: float, overhead_s: float = 0.0) -> Headroom:
    """Capacity headroom of the proof pool at the peak rate (the check the
    tuning rules use for ``worker_threads``/``batch_size``).

    Parameters
    ----------
    peak_rate
        Peak proof requests per second (tasks per second: one proof each).
    workers, batch_size
        ``proof.worker_threads`` and ``proof.batch_size``.
    proof_time_s
        Seconds per proof inside a batch (e.g. the profile's proof p50, or
        :meth:`ProofCostModel.cost`'s ``per_proof_s``).
    overhead_s
        Fixed seconds per batch (key load, start-up).

    Examples
    --------
    >>> h = capacity_headroom(3.0, workers=4, batch_size=10, proof_time_s=1.0,
    ...                       overhead_s=2.0)
    >>> round(h.capacity_tps, 3), round(h.utilisation, 3), round(h.headroom, 3)
    (3.333, 0.9, 0.1)
    """
    peak = _real("peak_rate", peak_rate)
    w = _count("workers", workers)
    b = _count("batch_size", batch_size)
    per = _real("proof_time_s", proof_time_s)
    over = _real("overhead_s", overhead_s, lo=0.0, lo_open=False)
    cap = w * b / (over + b * per)
    util = peak / cap
    return Headroom(peak, cap, util, 1.0 - util)


@dataclass(frozen=True)
class PoolSizing:
    """A proposed proof pool: settings, predictions at the peak, and the table of
    every configuration considered.

    Attributes
    ----------
    worker_threads, batch_size, queue_size, timeout_ms
        The proposed ``[speculation.proof]`` settings.
    threads_per_proof
        Prover threads per worker (``cores // worker_threads``); set the
        prover's thread count (``GOMAXPROCS``, ``RAYON_NUM_THREADS``,
        ``OMP_NUM_THREADS``) to it.
    peak, base
        :class:`PoolPrediction` at the peak and the base rate.
    guide_queue_size
        The guide's ``peak_rate x avg_proof_s x 3`` for comparison.
    feasible
        Whether the p99 target is met at the peak (and the pool is stable); when
        the proposal was checked, by the simulator's p99.
    table
        One row per (workers, batch_size) considered.
    checked
        The simulator's run of the proposal at the peak (:class:`SimulatedPool`),
        or ``None`` when ``check=False``.
    """

    worker_threads: int
    batch_size: int
    queue_size: int
    timeout_ms: int
    threads_per_proof: float
    target_p99_s: float
    rate: float
    peak_rate: float
    peak: PoolPrediction
    base: PoolPrediction
    guide_queue_size: int
    feasible: bool
    notes: tuple[str, ...]
    table: pl.DataFrame = dc_field(repr=False)
    checked: SimulatedPool | None = None

    @property
    def headroom(self) -> float:
        """Share of capacity left at the peak."""
        return 1.0 - self.peak.utilisation

    def tidy(self) -> pl.DataFrame:
        """The proposal: ``setting``, ``value``, ``guide`` (the guide's formula where it
        has one), ``predicted`` (what the model says about it)."""
        p = self.peak
        rows = [
            ("proof.worker_threads", self.worker_threads, None,
             f"{self.threads_per_proof:g} prover threads each"),
            ("proof.batch_size", self.batch_size, None,
             f"batch of {self.batch_size} takes {p.batch_seconds:.3g} s"),
            ("proof.queue_size", self.queue_size, self.guide_queue_size,
             f"mean queue at peak {p.queue.mean_queue * self.batch_size:.3g} proofs"),
            ("proof.timeout_ms", self.timeout_ms, None,
             "above the 99.99th percentile at the peak"),
        ]
        return pl.DataFrame(rows, schema={"setting": pl.String, "value": pl.Int64,
                                          "guide": pl.Int64, "predicted": pl.String},
                            orient="row")

    def summary(self) -> str:
        p, b = self.peak, self.base
        verdict = "meets" if self.feasible else "MISSES"
        lines = [
            f"Proof pool for a p99 target of {self.target_p99_s:g} s "
            f"(rate {self.rate:.4g}/s, peak {self.peak_rate:.4g}/s): {verdict} the target",
            f"  worker_threads = {self.worker_threads} ({self.threads_per_proof:g} "
            f"prover thread(s) each), batch_size = {self.batch_size}, queue_size = "
            f"{self.queue_size} (guide formula: {self.guide_queue_size}), "
            f"timeout_ms = {self.timeout_ms}",
            f"  at the peak: utilisation {p.utilisation:.2f} (headroom "
            f"{100 * self.headroom:.0f} %), p99 {p.p99_sojourn_s:.3g} s, mean wait "
            f"{p.mean_wait_s:.3g} s",
            f"  at the base rate: utilisation {b.utilisation:.2f}, p99 "
            f"{b.p99_sojourn_s:.3g} s",
        ]
        if self.checked is not None:
            sim = self.checked
            lines.append(
                f"  simulator check at the peak ({sim.proofs} proofs): p99 "
                f"{sim.p99_sojourn_s:.3g} s, mean wait {sim.mean_wait_s:.3g} s, mean "
                f"batch {sim.mean_batch:.2f} (model: p99 {p.p99_sojourn_s:.3g} s, "
                f"mean wait {p.mean_wait_s:.3g} s)")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return "<pre>" + _html_escape(self.summary()) + "</pre>" + self.tidy()._repr_html_()

    def curve_frame(self) -> pl.DataFrame:
        """p99 at the peak against workers, one series per batch size (the
        queueing curve; unstable configurations are null)."""
        return self.table.select("workers", "batch_size", "threads", "utilisation",
                                 "p99_sojourn_s").sort("batch_size", "workers")

    def plot(self) -> Any:
        """The queueing curve: p99 at the peak against workers, by batch size,
        with the target as a line."""
        from specanalysis._optional import require

        require("hvplot.pandas")
        import holoviews as hv

        frame = self.curve_frame().with_columns(pl.col("batch_size").cast(pl.String))
        curve = frame.to_pandas().hvplot.line(
            x="workers", y="p99_sojourn_s", by="batch_size", logy=True,
            xlabel="proof workers", ylabel="p99 request-to-proof at peak (s)",
            title="Proof pool: p99 at the peak rate")
        return curve * hv.HLine(self.target_p99_s).opts(color="red", line_dash="dashed")

    def config(self, base: Any = None) -> Any:
        """``base`` (default: the runtime defaults) with the proposed proof settings."""
        from specanalysis.config import SpeculationConfig

        base = base or SpeculationConfig()
        return base.replace(**{"proof.worker_threads": self.worker_threads,
                               "proof.batch_size": self.batch_size,
                               "proof.queue_size": self.queue_size,
                               "proof.timeout_ms": self.timeout_ms})


_QUEUE_RANGE = (100, 10_000)
_TIMEOUT_RANGE = (10_000, 600_000)
_WORKER_RANGE = (1, 32)


def size_proof_pool(rate: float, peak_rate: float, proof_cost: Any, target_p99: float,
                    cores: int, *, constraints: int | None = None,
                    workers: Iterable[int] | None = None,
                    batch_sizes: Iterable[int] = (1, 2, 4, 8, 16),
                    batch_timeout: float | None = 1.0, queue_overflow: float = 1e-4,
                    timeout_quantile: float = 0.9999,
                    timeout_margin: float = 1.5, check: bool = True,
                    check_proofs: int = 20_000, check_candidates: int = 5,
                    seed: int = 0) -> PoolSizing:
    """Propose ``worker_threads``, ``batch_size``, ``queue_size`` and
    ``proof.timeout_ms`` for a p99 target at the peak rate.

    Every (workers, batch size) pair is priced with :func:`proof_pool` at the
    peak; with a :class:`ProofCostModel` the per-proof time depends on the
    workers (``cores // workers`` threads each, the parallel-efficiency model),
    with a :class:`ProofCost` or seconds it does not. Batches wait at most
    ``batch_timeout`` seconds to fill (1 s: the simulator's reading,
    ``SimSettings.batch_timeout``; ``None`` waits for a full batch). The proposal is the pair
    with the lowest p99 at the peak (ties: fewer workers, smaller batch);
    ``queue_size`` keeps the chance of a full queue at the peak below
    ``queue_overflow`` (``P(Nq >= k) = ErlangC rho^k``), ``timeout_ms`` is
    ``timeout_margin`` x the ``timeout_quantile`` of request-to-proof time at
    the peak; both are clamped to the runtime's ranges (noted when they bind).

    ``check=True`` (the default) runs the proposal in the simulator at the peak
    (:func:`simulate_pool`, ``check_proofs`` requests) before it is shown. The
    queueing model is held to the simulator for batch size 1 (mean wait within
    10 %, p99 within 20 % at utilisations 0.3-0.9 and 1-32 workers); for larger
    batches it is an approximation (batches fill to ``batch_timeout``, then keep
    that size in the queue), while the runtime's free workers take up to
    ``batch_size`` of whatever is queued, so batches grow with the load: against
    the simulator at ``batch_timeout = 1`` (batches 2-10, 1 and 4 workers,
    utilisations 0.3-0.9 of full-batch capacity) its mean wait was off by -3 % to
    +930 % and its p99 by -30 % to +780 % (closest at 0.9, furthest for one
    worker at 0.6), and without a fill wait it calls pools unstable that keep
    up. So the simulator's p99 decides: if it misses the target, the next
    candidates in the model's order are checked (up to ``check_candidates``)
    and the first the simulator confirms is proposed; the summary prints both
    figures.

    Warns
    -----
    CapacityWarning
        When no configuration is stable at the peak
        (``"unstable: utilisation 1.30 at the peak rate"``); the proposal is then
        the highest-capacity pair, marked infeasible.

    Examples
    --------
    >>> s = size_proof_pool(0.5, 1.5, ProofCost(per_proof_s=2.0, overhead_s=0.2),
    ...                     target_p99=10, cores=8, workers=range(1, 9))
    >>> s.worker_threads >= 4, s.feasible, s.peak.p99_sojourn_s < 10
    (True, True, True)
    """
    from specanalysis.config import proof_queue_size

    lam = _real("rate", rate)
    peak = _real("peak_rate", peak_rate)
    if peak < lam:
        raise DataError(f"peak rate {peak:g} is below the rate {lam:g}", field="peak_rate",
                        expected="peak_rate >= rate")
    target = _real("target_p99", target_p99)
    c = _count("cores", cores)
    ws = sorted({_count("workers", w) for w in (workers or range(1, min(32, c) + 1))})
    bs = sorted({_count("batch_size", b) for b in batch_sizes})
    if not ws or not bs:
        raise DataError("nothing to choose from", field="workers",
                        expected="at least one worker count and one batch size")
    _real("queue_overflow", queue_overflow, hi=1.0)
    _real("timeout_quantile", timeout_quantile, hi=1.0 - 1e-12)
    n_proofs = _count("check_proofs", check_proofs, lo=1000)
    n_candidates = _count("check_candidates", check_candidates)

    def cost_for(w: int) -> ProofCost:
        if isinstance(proof_cost, ProofCostModel):
            if constraints is None:
                raise DataError("a ProofCostModel needs the circuit size",
                                field="constraints", expected="constraints=N")
            return proof_cost.cost(constraints, workers=w, cores=c)
        return _as_cost(proof_cost)

    rows, preds = [], {}
    for w in ws:
        cost = cost_for(w)
        for b in bs:
            p = proof_pool(peak, cost, workers=w, batch_size=b,
                           batch_timeout=batch_timeout, warn=False)
            preds[(w, b)] = p
            rows.append((w, b, cost.threads if cost.threads is not None else math.nan,
                         p.batch_seconds, p.capacity, p.utilisation,
                         p.p99_sojourn_s if p.stable else None,
                         p.mean_wait_s if p.stable else None))
    table = pl.DataFrame(rows, schema={"workers": pl.Int64, "batch_size": pl.Int64,
                                       "threads": pl.Float64, "batch_seconds": pl.Float64,
                                       "capacity": pl.Float64, "utilisation": pl.Float64,
                                       "p99_sojourn_s": pl.Float64,
                                       "mean_wait_s": pl.Float64}, orient="row")
    notes: list[str] = []
    unstable_msg = None
    # the model's order: lowest p99 among stable pools (ties: fewer workers, smaller
    # batch); when it calls every pool unstable, highest capacity first
    ranked = sorted((k for k in preds if preds[k].stable),
                    key=lambda k: (preds[k].p99_sojourn_s, k[0], k[1]))
    if not ranked:
        ranked = sorted(preds, key=lambda k: (-preds[k].capacity, k[0], k[1]))
        best = ranked[0]
        # warned below unless the simulator shows a pool keeping up
        unstable_msg = (f"unstable: utilisation {preds[best].utilisation:.2f} at the "
                        f"peak rate even with the highest-capacity pool ({best[0]} "
                        f"workers x batch {best[1]}, {preds[best].capacity:.4g} proofs/s "
                        f"for a peak of {peak:.4g}/s)")
        feasible = False
    else:
        best = ranked[0]
        feasible = preds[best].p99_sojourn_s <= target
        if not feasible:
            notes.append(f"no configuration meets p99 <= {target:g} s at the peak; the "
                         f"lowest is {preds[best].p99_sojourn_s:.3g} s")
    checked = None
    if check:
        candidates = ranked[:n_candidates]
        first = None
        for k in candidates:
            k_cost = cost_for(k[0])
            if k_cost.capacity(workers=k[0], batch_size=k[1]) <= peak:
                continue  # truly over capacity even with full batches
            sim = simulate_pool(peak, k_cost, workers=k[0], batch_size=k[1],
                                batch_timeout=1e6 if batch_timeout is None
                                else batch_timeout, proofs=n_proofs, seed=seed)
            first = first or (k, sim)
            if sim.p99_sojourn_s <= target:
                if k != best:
                    notes.append(
                        f"the simulator put the model's choice ({best[0]} workers x "
                        f"batch {best[1]}) above the target; proposing {k[0]} x {k[1]}, "
                        f"which it confirms")
                best, checked, feasible = k, sim, True
                break
        else:
            if first is not None:
                best, checked = first
                feasible = False
                notes.append(f"the simulator confirms none of the {len(candidates)} best "
                             f"candidates under p99 <= {target:g} s at the peak")
    if unstable_msg is not None:
        if feasible:
            notes.append("the queueing model calls every pool unstable at the peak (with "
                         "the batches it assumes), but in the simulator the workers take "
                         "larger batches under load and keep up")
        else:
            warnings.warn(unstable_msg, CapacityWarning, stacklevel=2)
            notes.append(unstable_msg)
    w, b = best
    pk = preds[best]
    cost = cost_for(w)
    base = proof_pool(lam, cost, workers=w, batch_size=b, batch_timeout=batch_timeout,
                      warn=False)
    avg_proof = cost.batch_seconds(b)
    guide = proof_queue_size(peak, avg_proof)
    if pk.stable:
        pw, rho = pk.queue.p_wait, pk.queue.utilisation
        k_batches = (math.log(queue_overflow / pw) / math.log(rho)
                     if pw > queue_overflow and rho > 0 else 0.0)
        queue = math.ceil(k_batches * b + b)
        t_q = pk.sojourn_quantile(timeout_quantile)
        timeout = math.ceil(timeout_margin * t_q) * 1000
    else:
        queue, timeout = _QUEUE_RANGE[1], _TIMEOUT_RANGE[1]
    if not _QUEUE_RANGE[0] <= queue <= _QUEUE_RANGE[1]:
        clamped = min(max(queue, _QUEUE_RANGE[0]), _QUEUE_RANGE[1])
        notes.append(f"queue_size {queue} clamped to the runtime's range "
                     f"{_QUEUE_RANGE[0]}-{_QUEUE_RANGE[1]} ({clamped})")
        queue = clamped
    if not _TIMEOUT_RANGE[0] <= timeout <= _TIMEOUT_RANGE[1]:
        clamped = min(max(timeout, _TIMEOUT_RANGE[0]), _TIMEOUT_RANGE[1])
        notes.append(f"timeout_ms {timeout} clamped to the runtime's range "
                     f"{_TIMEOUT_RANGE[0]}-{_TIMEOUT_RANGE[1]} ({clamped})")
        timeout = clamped
    if w > _WORKER_RANGE[1]:
        notes.append(f"{w} workers exceed the runtime's maximum of {_WORKER_RANGE[1]}")
    threads = cost.threads if cost.threads is not None else max(1, c // w)
    return PoolSizing(w, b, int(queue), int(timeout), float(threads), target, lam, peak,
                      pk, base, int(guide), bool(feasible), tuple(notes), table, checked)


# --------------------------------------------------------------------------
# the simulator's check


@dataclass(frozen=True)
class SimulatedPool:
    """The pool's figures measured in the simulator (seconds): ``mean_wait_s``
    (request to start of proving), ``p99_sojourn_s`` (request to proof done),
    ``utilisation`` (busy share of worker time), ``proofs`` measured, and the
    standard error of the mean wait over ``seeds``."""

    mean_wait_s: float
    p99_sojourn_s: float
    mean_sojourn_s: float
    utilisation: float
    proofs: int
    seeds: int
    mean_wait_se: float
    mean_batch: float


def simulate_pool(rate: float, proof_cost: Any, *, workers: int, batch_size: int = 1,
                  batch_timeout: float = 0.0, proofs: int = 20_000, seeds: int = 1,
                  seed: int = 0, warmup: float = 0.1) -> SimulatedPool:
    """Run the pool in the simulator and measure it.

    The run is set up so that only the proof pool matters: one-task chains
    (independent proofs, Poisson requests), ``proof.batch_size = batch_size``,
    the simulator's batch fill wait set to ``batch_timeout`` (0: a free worker
    takes what is queued), ``proof.queue_size`` at its maximum with full-queue
    work deferred rather than rejected, auto-disable off, long proof and
    confirmation timeouts, no failures; proof times from ``proof_cost``
    (:meth:`ProofCost.workload`). Arrivals stop after ``proofs / rate`` seconds
    and the run drains; requests in the first ``warmup`` share are dropped.
    ``seeds`` runs use seeds ``seed, seed + 1, ...``.
    """
    from specanalysis.config import SpeculationConfig
    from specanalysis.sim import simulate
    from specanalysis.sim.engine import SimSettings

    lam = _real("rate", rate)
    cost = _as_cost(proof_cost)
    w = _count("workers", workers)
    b = _count("batch_size", batch_size)
    n = _count("proofs", proofs, lo=100)
    k = _count("seeds", seeds)
    wait = _real("batch_timeout", batch_timeout, lo=0.0, lo_open=False)
    cfg = SpeculationConfig().replace(**{
        "enabled": True, "proof.worker_threads": w, "proof.batch_size": b,
        "proof.queue_size": _QUEUE_RANGE[1], "proof.timeout_ms": _TIMEOUT_RANGE[1],
        "proof.max_retries": 0, "confirmation_timeout_ms": 300_000,
    })
    settings = SimSettings(batch_timeout=wait, on_full_queue="defer", auto_disable="off")
    duration = n / lam
    waits, sojourns, means, busy, batches = [], [], [], 0.0, []
    for i in range(k):
        res = simulate(cfg, cost.workload(lam), duration=duration, seed=seed + i,
                       drain=True, scrape_interval=duration, progress=False,
                       settings=settings)
        tk = res.tasks.filter(pl.col("proof_requested") >= warmup * duration,
                              pl.col("proof_end").is_not_null())
        wt = (tk["proof_start"] - tk["proof_requested"]).to_numpy()
        sj = (tk["proof_end"] - tk["proof_requested"]).to_numpy()
        waits.append(wt)
        sojourns.append(sj)
        means.append(float(wt.mean()))
        lg = res.log
        inside = lg.batch_t < duration
        batches.append(lg.batch_k)
        busy += float(np.sum(cost.fixed_s + lg.batch_k[inside] * cost.variable_s)) / (
            w * duration)
    wt = np.concatenate(waits)
    sj = np.concatenate(sojourns)
    se = float(np.std(means, ddof=1) / math.sqrt(k)) if k > 1 else math.nan
    bk = np.concatenate(batches)
    return SimulatedPool(float(wt.mean()), float(np.quantile(sj, 0.99)), float(sj.mean()),
                         busy / k, int(len(wt)), k, se, float(bk.mean()) if len(bk) else 0)
