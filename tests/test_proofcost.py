"""Proof-cost model: operation counts held against real galois arithmetic, the
calibration against published prover benchmarks, bad input.

Independent truths used here:

* the NTT's output against the DFT by definition (an n x n matrix of galois
  powers) and against galois' own ``np.fft.fft``; its executed operations
  against ``(n/2) log2 n`` butterflies;
* the Pippenger MSM's output against ``sum k_i P_i`` computed by galois
  multiplication; its executed group additions against the formula
  ``windows x (points + 2 buckets) + windows - 1`` (minus the zero digits it
  skipped, counted independently from the scalars);
* the reference's Pippenger table (signed digits, b = 254: adds per point 40.2
  at 2^10 ... 13.8 at 2^24) and the Groth16 structure of arkworks/gnark/snarkjs;
* published proving times: zk-Harness, gnark Groth16, ``exponentiate`` circuit,
  ``benchmarks/circuits/{m5.2xlarge,m6i.8xlarge}/gnark/groth16_exponentiate.csv``
  (https://github.com/zkCollective/zk-Harness), copied below by hand.
"""

from __future__ import annotations

import math
import random

import numpy as np
import polars as pl
import pytest

from specanalysis.errors import DataError
from specanalysis.models import _fieldops as fo
from specanalysis.models import proofcost as pc

# ---------------------------------------------------------------- fields


def test_254_bit_fields_are_built_from_the_given_generator():
    fo._build.cache_clear()
    F = fo.field("bn254")
    G = fo.field("bls12-381")
    # the generator is given, not searched for (galois would factor r - 1)
    assert int(F.primitive_element) == 5 and int(G.primitive_element) == 7
    assert F.order == 21888242871839275222246405745257275088548364400416034343698204186575808495617
    assert G.order.bit_length() == 255
    # real arithmetic: Fermat inverse and a 2^28-th root of unity of exact order
    x = F(123456789)
    assert x * x ** (F.order - 2) == F(1)
    w = fo.root_of_unity(F, 2**28)
    assert w ** (2**28) == F(1) and w ** (2**27) == F(F.order - 1)


def test_mistyped_bn254_prime_is_refused():
    bad = 21888242871839275222246405745257518296260294130229521693302817845956815620641
    with pytest.raises(DataError, match="not prime"):
        fo._build(bad, 5)


def test_small_fields_use_the_jit_path():
    assert fo.field("babybear").ufunc_mode == "jit-calculate"
    assert fo.field("goldilocks").order == 2**64 - 2**32 + 1


def test_unknown_field():
    with pytest.raises(DataError, match="unknown field"):
        fo.field("m31x")


# ---------------------------------------------------------------- NTT


@pytest.mark.parametrize("name", ["bn254", "bls12-381", "goldilocks", "babybear"])
@pytest.mark.parametrize("n", [2, 8, 64])
def test_counted_ntt_is_the_dft_and_counts_the_butterflies(name, n):
    F = fo.field(name)
    x = F.Random(n, seed=n)
    y, ops = fo.counted_ntt(x)
    assert np.array_equal(y, fo.naive_dft(x))
    assert ops.mul == pc.ntt_butterflies(n) == (n // 2) * int(math.log2(n))
    assert ops.add == ops.sub == ops.mul
    assert ops.neg == ops.dbl == 0


@pytest.mark.parametrize("name", ["bn254", "babybear"])
def test_counted_ntt_matches_galois_fft_at_1024(name):
    F = fo.field(name)
    x = F.Random(1024, seed=7)
    y, ops = fo.counted_ntt(x)
    assert np.array_equal(y, np.fft.fft(x))
    assert np.array_equal(np.fft.ifft(y), x)
    assert ops.mul == 512 * 10


def test_ntt_rejects_non_power_of_two():
    F = fo.field("bn254")
    with pytest.raises(DataError, match="power of two"):
        fo.counted_ntt(F.Random(6, seed=1))
    with pytest.raises(DataError, match="power of two"):
        pc.ntt_butterflies(12)


# ---------------------------------------------------------------- MSM


def _scalars_without_zero_digits(rng, count, bits, c, signed):
    """Scalars < 2^bits none of whose (signed or unsigned) c-bit digits is zero."""
    out = []
    while len(out) < count:
        k = rng.getrandbits(bits)
        K = -(-(bits + 1) // c) if signed else -(-bits // c)
        ds = fo.signed_digits(k, c, K) if signed else fo.unsigned_digits(k, c, K)
        top = K if not signed else K - 1  # the top signed window may be 0 (no carry)
        if all(d != 0 for d in ds[:top]) and (not signed or ds[-1] != 0):
            out.append(k)
    return out


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("c", [2, 3])
def test_msm_counts_equal_the_formula_when_no_digit_is_zero(signed, c):
    F = fo.field("bn254")
    bits = 16  # small scalars keep every digit non-zero by rejection sampling
    rng = random.Random(c)
    ks = _scalars_without_zero_digits(rng, 24, bits, c, signed)
    pts = F.Random(24, seed=c)
    value, ops = fo.counted_msm(ks, pts, window=c, bits=bits, signed=signed)
    assert value == (F(ks) * pts).sum()
    cost = pc.pippenger_cost(24, bits=bits, window=c, signed=signed)
    assert ops.add == cost.additions
    assert ops.dbl == cost.doublings
    assert ops.mul == 0  # a group algorithm: only additions


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("c", [4, 6, 8])
def test_msm_on_random_254_bit_scalars(signed, c):
    F = fo.field("bn254")
    rng = random.Random(100 + c)
    s = 48
    ks = [rng.randrange(int(F.order)) for _ in range(s)]
    pts = F.Random(s, seed=c)
    value, ops = fo.counted_msm(ks, pts, window=c, signed=signed)
    assert value == (F(ks) * pts).sum()
    cost = pc.pippenger_cost(s, bits=254, window=c, signed=signed)
    K = cost.windows
    digits = [fo.signed_digits(k, c, K) if signed else fo.unsigned_digits(k, c, K)
              for k in ks]
    zeros = sum(d == 0 for ds in digits for d in ds)
    assert ops.add == cost.additions - zeros
    assert ops.dbl == cost.doublings
    negs = sum(d < 0 for ds in digits for d in ds)
    assert ops.neg == negs
    if not signed:
        assert negs == 0


def test_msm_bad_input():
    F = fo.field("bn254")
    with pytest.raises(DataError, match="scalars"):
        fo.counted_msm([1, 2], F.Random(3, seed=1), window=3)
    with pytest.raises(DataError, match="window"):
        fo.counted_msm([1], F.Random(1, seed=1), window=0)


# reference/proof-cost.md §2, signed digits, b = 254
PIPPENGER_TABLE = {2**10: (8, 40.2), 2**12: (10, 32.6), 2**14: (11, 27.0),
                   2**16: (13, 22.5), 2**18: (15, 19.1), 2**20: (17, 16.9),
                   2**22: (17, 15.5), 2**24: (20, 13.8)}


@pytest.mark.parametrize("s", sorted(PIPPENGER_TABLE))
def test_pippenger_matches_the_reference_table(s):
    c_ref, per_point = PIPPENGER_TABLE[s]
    m = pc.pippenger_cost(s, bits=254)
    assert m.per_point == pytest.approx(per_point, rel=0.03)
    # the optimum is flat: the reference's window is within 2% of ours
    ref = pc.pippenger_cost(s, bits=254, window=c_ref)
    assert (m.additions + m.doublings) <= ref.additions + ref.doublings
    assert ref.additions + ref.doublings == pytest.approx(m.additions + m.doublings,
                                                          rel=0.02)


def test_pippenger_grows_sublinearly():
    per = [pc.pippenger_cost(2**k).per_point for k in range(10, 25, 2)]
    assert all(a > b for a, b in zip(per, per[1:], strict=False))


# ---------------------------------------------------------------- Groth16 counts


def test_groth16_structure_gnark_vs_snarkjs():
    g = pc.groth16_ops(1000, public=3)
    s = pc.groth16_ops(1000, public=3, prover="snarkjs")
    assert g.domain == s.domain == 1024
    fft = g.frame.filter(pl.col("kind") == "fft").row(0, named=True)
    assert fft["count"] == 7 and fft["butterflies"] == 7 * 512 * 10
    assert s.frame.filter(pl.col("kind") == "fft")["count"].item() == 6
    msm = g.frame.filter(pl.col("kind") == "msm")
    assert msm["group"].to_list() == ["G1", "G1", "G1", "G1", "G2"]
    assert msm["size"].to_list() == [1000, 1000, 997, 1023, 1000]
    assert s.frame.filter(pl.col("stage") == "msm H")["size"].item() == 1024


def test_domain_is_a_step_function():
    assert pc.groth16_ops(2**16 - 1).domain == 2**16
    assert pc.groth16_ops(2**16).domain == 2**17  # n + l crosses the power of two
    a, b = pc.groth16_ops(2**16 - 1), pc.groth16_ops(2**16)
    bf = [x.frame.filter(pl.col("kind") == "fft")["butterflies"].item() for x in (a, b)]
    assert bf[1] == bf[0] * 2 * 17 // 16  # one more constraint, twice the FFT work
    h = [x.frame.filter(pl.col("stage") == "msm H")["size"].item() for x in (a, b)]
    assert h == [2**16 - 1, 2**17 - 1]
    assert b.total > 1.15 * a.total


def test_groth16_reference_totals():
    """reference §2 table (alpha=10 per add, 1 per butterfly): W and the MSM share."""
    w = pc.OpWeights(butterfly=1.0, g1_add=10.0, g1_double=0.0)
    table = {2**16: (9.7e7, 0.96), 2**18: (3.4e8, 0.94), 2**20: (1.2e9, 0.93),
             2**22: (4.5e9, 0.92)}
    for n, (W, share) in table.items():
        ops = pc.groth16_ops(n - 1, weights=w)
        assert ops.domain == n
        assert ops.total == pytest.approx(W, rel=0.08)
        assert ops.msm_share == pytest.approx(share, abs=0.015)


def test_bls_costs_more_than_bn254_and_witness_density_helps():
    bn = pc.groth16_ops(10**5)
    bls = pc.groth16_ops(10**5, curve="bls12-381")
    assert bls.msm / bn.msm == pytest.approx(1.5, rel=0.01)
    sparse = pc.groth16_ops(10**5, witness_density=0.2)
    assert sparse.msm < 0.5 * bn.msm
    assert sparse.fft == bn.fft


@pytest.mark.parametrize("kwargs, field", [
    ({"constraints": 0}, "constraints"),
    ({"constraints": -5}, "constraints"),
    ({"constraints": 10, "wires": 0}, "wires"),
    ({"constraints": 10, "public": 11}, "public"),
    ({"constraints": 10, "witness_density": 0}, "witness_density"),
    ({"constraints": 10, "curve": "secp256k1"}, "curve"),
    ({"constraints": 10, "prover": "halo2"}, "prover"),
    ({"constraints": 2.5}, "constraints"),
])
def test_groth16_bad_input(kwargs, field):
    with pytest.raises(DataError) as exc:
        pc.groth16_ops(**kwargs)
    assert exc.value.field == field


def test_stark_counts_and_wrap():
    ops = pc.stark_ops(2**10, columns=8, blowup=4)
    lde = ops.frame.filter(pl.col("stage") == "LDE").row(0, named=True)
    assert lde["size"] == 4096 and lde["butterflies"] == 8 * 2048 * 12
    assert ops.frame.filter(pl.col("stage") == "Merkle commit")["hashes"].item() == \
        4096 * 1 + 4095
    wrapped = pc.stark_ops(2**10, columns=8, wrap_constraints=2**20)
    assert wrapped.total > ops.total
    assert wrapped.frame.filter(pl.col("stage").str.starts_with("wrap"))["group"].to_list() \
        == ["Fr", "Fr", "G1", "G1", "G1", "G1", "G2"]
    with pytest.raises(DataError):
        pc.stark_ops(1000)
    with pytest.raises(DataError):
        pc.stark_ops(1024, field="m31")


def test_babybear_lde_counts_run_for_real():
    """The LDE of one column: an inverse NTT of the trace and a coset NTT of the
    blown-up domain, executed in BabyBear with galois' JIT arithmetic."""
    F = fo.field("babybear")
    rows, blow = 64, 4
    trace = F.Random(rows, seed=3)
    coeffs = np.fft.ifft(trace)
    padded = F(np.concatenate([coeffs, F.Zeros(rows * (blow - 1))]))
    shift = F(int(F.primitive_element))
    scaled = padded * shift ** np.arange(rows * blow)
    lde, ops = fo.counted_ntt(scaled)
    counts = pc.stark_ops(rows, columns=1, blowup=blow).frame
    assert ops.mul == counts.filter(pl.col("stage") == "LDE")["butterflies"].item()
    # the LDE evaluates the trace polynomial on the coset: every 4th point of the
    # blown-up coset is the trace polynomial at shift * omega_64^i
    w = fo.root_of_unity(F, rows)
    pts = shift * w ** np.arange(rows)
    direct = np.array([int(np.sum(coeffs * p ** np.arange(rows))) for p in pts])
    assert np.array_equal(np.asarray(lde[::blow], dtype=np.int64), direct)


# ---------------------------------------------------------------- calibration

# zk-Harness, gnark Groth16 BN254, exponentiate circuit (y = x^e), prove rows,
# time(ms), mean of 10 runs:
# https://github.com/zkCollective/zk-Harness/blob/main/benchmarks/circuits/m5.2xlarge/gnark/groth16_exponentiate.csv
GNARK_M5_2XLARGE = {10_001: 0.039, 100_001: 0.266, 1_000_001: 2.034, 10_000_001: 28.747}
# https://github.com/zkCollective/zk-Harness/blob/main/benchmarks/circuits/m6i.8xlarge/gnark/groth16_exponentiate.csv
GNARK_M6I_8XLARGE = {10_001: 0.013, 100_001: 0.088, 1_000_001: 0.620, 10_000_001: 8.339}


@pytest.mark.parametrize("table, cores", [(GNARK_M5_2XLARGE, 8), (GNARK_M6I_8XLARGE, 32)],
                         ids=["m5.2xlarge", "m6i.8xlarge"])
def test_published_gnark_times_predicted_from_two_sizes(table, cores):
    fit_sizes = (10_001, 1_000_001)
    data = pl.DataFrame({"constraints": list(fit_sizes),
                         "seconds": [table[n] for n in fit_sizes]})
    model = pc.calibrate(data, cores=cores, shape=pc.CircuitShape.exponentiate())
    for n, published in table.items():
        if n in fit_sizes:
            continue
        err = model.proof_seconds(n) / published - 1
        limit = 0.20 if n >= 10**7 else 0.10
        assert abs(err) <= limit, (n, err)
    # the fitted per-thread tau is a native cost, a few ns to a few tens of ns
    assert 2 < model.tau_ns < 40
    assert 0 <= model.fixed_s < 0.01


def test_bundled_tables_are_the_published_ones():
    for name, truth, cores in (("gnark-bn254-m5.2xlarge", GNARK_M5_2XLARGE, 8),
                               ("gnark-bn254-m6i.8xlarge", GNARK_M6I_8XLARGE, 32)):
        t = pc.published_times(name)
        got = dict(zip(t["constraints"].to_list(), t["seconds"].to_list(), strict=True))
        assert {n: got[n] for n in truth} == truth
        assert pc.PUBLISHED_SOURCES[name]["cores"] == cores


def test_calibration_intervals_with_three_or_more_sizes():
    data = pl.DataFrame({"constraints": list(GNARK_M5_2XLARGE),
                         "seconds": list(GNARK_M5_2XLARGE.values())})
    model = pc.calibrate(data, cores=8, shape=pc.CircuitShape.exponentiate())
    lo, hi = model.tau_ci
    assert lo < model.tau_ns < hi and math.isfinite(lo)
    tidy = model.tidy()
    assert tidy["term"].to_list() == ["tau", "fixed"]
    pred = model.predict([10_001, 1_000_001])
    assert (pred["seconds_low"] < pred["seconds"]).all()
    assert (pred["seconds"] < pred["seconds_high"]).all()
    assert "tau" in model.summary() and "<pre>" in model._repr_html_()


def test_calibration_from_a_zk_harness_csv(tmp_path):
    csv = tmp_path / "groth16_exponentiate.csv"
    lines = ["framework,category,backend,curve,circuit,input,operation,nbConstraints,"
             "nbSecret,nbPublic,ram,time(ms),proofSize,count"]
    for n, s in GNARK_M5_2XLARGE.items():
        for op, t in (("setup", s * 40), ("prove", s)):
            lines.append(f"gnark,circuit,groth16,bn254,exponentiate,x,{op},{n},1,2,0,"
                         f"{round(t * 1000)},384,10")
    csv.write_text("\n".join(lines) + "\n")
    model = pc.calibrate(csv, cores=8, shape=pc.CircuitShape.exponentiate())
    assert model.fit.height == 4
    assert model.fit["seconds"].to_list() == pytest.approx(list(GNARK_M5_2XLARGE.values()))


def test_two_rows_fit_exactly_without_interval():
    data = pl.DataFrame({"constraints": [10_001, 1_000_001], "seconds": [0.039, 2.034]})
    model = pc.calibrate(data, cores=8, shape=pc.CircuitShape.exponentiate())
    assert model.fit["rel_error"].abs().max() < 1e-9
    assert all(math.isnan(v) for v in model.tau_ci)
    assert "no interval" in model.summary()
    assert model.predict(100_001)["seconds_low"].is_null().all()


def test_one_row_needs_a_fixed_cost():
    one = pl.DataFrame({"constraints": [100_001], "seconds": [0.266]})
    with pytest.raises(DataError, match="one row"):
        pc.calibrate(one, cores=8)
    model = pc.calibrate(one, cores=8, fixed_cost=0.0, shape=pc.CircuitShape.exponentiate())
    assert model.proof_seconds(100_001) == pytest.approx(0.266)


@pytest.mark.parametrize("frame, match", [
    (pl.DataFrame({"constraints": [10, 0], "seconds": [0.1, 0.2]}), "positive size"),
    (pl.DataFrame({"constraints": [10, 20], "seconds": [0.1, -0.2]}), "not positive"),
    (pl.DataFrame({"constraints": [10, 10], "seconds": [0.1, 0.2]}), "same circuit size"),
    (pl.DataFrame({"size": [10, 20], "seconds": [0.1, 0.2]}), "no constraints column"),
    (pl.DataFrame({"constraints": [10**5, 10**6], "seconds": [1.0, 0.5]}), "not positive"),
])
def test_calibration_bad_tables(frame, match):
    with pytest.raises(DataError, match=match):
        pc.calibrate(frame, cores=8)


def test_calibration_bad_row_is_named():
    frame = pl.DataFrame({"constraints": [10, 20, -3], "seconds": [0.1, 0.2, 0.3]})
    with pytest.raises(DataError) as exc:
        pc.calibrate(frame, cores=8)
    assert exc.value.source == "row 2" and exc.value.field == "constraints"


def test_calibration_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        pc.calibrate(tmp_path / "nope.csv", cores=4)


def test_calibration_from_the_runtime_histogram():
    ts = pl.datetime_range(pl.datetime(2025, 1, 1), pl.datetime(2025, 1, 1, 0, 10),
                           "5m", eager=True, time_zone="UTC").dt.cast_time_unit("ms")
    samples = pl.DataFrame({
        "timestamp": list(ts) * 2,
        "metric": ["speculation_proof_generation_seconds_sum"] * 3
        + ["speculation_proof_generation_seconds_count"] * 3,
        "value": [100.0, 100.0 + 60 * 2.0, 100.0 + 120 * 2.0, 50.0, 110.0, 170.0],
    })
    with pytest.raises(DataError, match="circuit size"):
        pc.calibrate(samples, cores=8)
    model = pc.calibrate(samples, cores=8, constraints=10**6, fixed_cost=0.1)
    assert model.proof_seconds(10**6) == pytest.approx(2.0)


# ---------------------------------------------------------------- parallelism


# gnark Groth16 on BW6-761, 1.03M constraints, one 32-CPU host, GOMAXPROCS 1/8/16/32:
# prove 53.85 / 7.42 / 5.78 / 4.31 s (SecureX-UofA/fde-plus, snark/plot.py log comments)
BW6_THREADS = {1: 53.85, 8: 7.42, 16: 5.78, 32: 4.31}


def test_parallel_speedup_against_published_thread_scaling():
    # the USL shape misses 8 threads by about 12 % (a one-host, SMT-unknown
    # measurement); within 15 % everywhere
    par = pc.Parallelism()  # defaults: the reference's USL fit
    assert par.speedup(1) == 1.0
    for p, t in BW6_THREADS.items():
        measured = BW6_THREADS[1] / t
        assert par.speedup(p) == pytest.approx(measured, rel=0.12), p
    fitted = pc.Parallelism.fit(list(BW6_THREADS), list(BW6_THREADS.values()))
    for p, t in BW6_THREADS.items():
        assert fitted.speedup(p) == pytest.approx(BW6_THREADS[1] / t, rel=0.15), p
    with pytest.raises(DataError):
        pc.Parallelism.fit([8, 16], [1.0, 0.6])


def test_oversubscription_slows_every_proof():
    model = pc.calibrate(pc.published_times().filter(pl.col("constraints") >= 10_001),
                         cores=8, shape=pc.CircuitShape.exponentiate())
    n = 1_000_001
    alone = model.proof_seconds(n, threads=8, workers=1)
    fair = model.proof_seconds(n, threads=2, workers=4)   # 4 x 2 = 8 cores
    over = model.proof_seconds(n, threads=8, workers=4)   # 4 x 8 = 32 threads on 8
    assert fair > alone  # fewer threads per proof
    # every proof takes longer, throughput no better than the fair split
    assert over > fair
    assert 4 / over <= 4 / fair
    # more cores help a single proof, with diminishing returns
    t = [model.proof_seconds(n, cores=c, threads=c) for c in (1, 2, 4, 8, 16, 32)]
    assert all(a > b for a, b in zip(t, t[1:], strict=False))
    assert t[0] / t[-1] < 32 * 0.5


def test_prediction_frame_and_plot_data():
    model = pc.calibrate(pc.published_times().filter(pl.col("constraints") >= 10_001),
                         cores=8, shape=pc.CircuitShape.exponentiate())
    frame = model.prediction_frame([10**4, 10**5], [1, 8])
    assert frame.height == 4 and set(frame["cores"]) == {1, 8}
    one = frame.filter(pl.col("cores") == 1)["seconds"].to_list()
    eight = frame.filter(pl.col("cores") == 8)["seconds"].to_list()
    assert all(a > b for a, b in zip(one, eight, strict=True))


# ---------------------------------------------------------------- micro-benchmarks


def test_machine_profile_is_measured_then_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("SPECANALYSIS_CACHE_DIR", str(tmp_path))
    prof = fo.measure_machine(size=64, reps=1)
    assert not prof.from_cache
    assert set(prof.mult_ns) == {"bn254", "bls12-381", "bn254-fq", "bls12-381-fq",
                                 "goldilocks", "babybear"}
    assert all(v > 0 for v in prof.mult_ns.values())
    # ratios of separately timed operations: positive and finite (how they
    # compare depends on the machine's load; no timing is asserted)
    assert all(math.isfinite(x) and x > 0 for x in (
        prof.g1_madd_equiv, prof.butterfly_equiv, prof.g2_factor, prof.bls_base_factor))
    again = fo.measure_machine(size=64, reps=1)
    assert again.from_cache and again.mult_ns == prof.mult_ns
    assert list(tmp_path.glob("proofcost-machine-*.json"))
    w = pc.OpWeights.from_machine(again)
    # composed from the measured mult/add times with the EFD formula 7M+4S+9A
    fr = prof.mult_ns["bn254"]
    assert w.g1_add == pytest.approx((11 * prof.mult_ns["bn254-fq"]
                                      + 9 * prof.add_ns["bn254-fq"]) / fr)
    mq = prof.mult_ns["bn254-fq"] / fr
    aq = prof.add_ns["bn254-fq"] / fr
    # G2 over Fp2 (Karatsuba: 3 mults + 5 adds per Fp2 mult): more than 3x a G1 add's mults
    assert w.g2_factor == pytest.approx((11 * (3 * mq + 5 * aq) + 18 * aq)
                                        / (11 * mq + 9 * aq))
    assert w.g2_factor > 3 * 11 * mq / (11 * mq + 9 * aq)
    assert w.bls_base_factor == pytest.approx(prof.mult_ns["bls12-381-fq"]
                                              / prof.mult_ns["bn254-fq"])
    assert "mult" in again.summary() and again.tidy().height == 16


def test_machine_profile_bad_input(tmp_path, monkeypatch):
    monkeypatch.setenv("SPECANALYSIS_CACHE_DIR", str(tmp_path))
    with pytest.raises(DataError):
        fo.measure_machine(size=3)
    with pytest.raises(DataError):
        fo.measure_machine(reps=0)
