"""The proof pool as a queue: closed forms, the exact M/D/c law, the simulator's
ground truth, sizing and bad input.

Independent truths: M/M/1 and M/M/c closed forms (Erlang C), the
Pollaczek-Khinchine mean for M/D/1, and the simulator (``specanalysis.sim``)
running the same pool over many proofs. The simulator is configured so that
only the proof pool matters (one-task chains, batch size 1, a queue far above
the backlog, no failures, long timeouts); its proof times come from the model
(:meth:`ProofCost.workload`).
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np
import pytest

from specanalysis.errors import DataError
from specanalysis.models import proofcost as pc
from specanalysis.models import queueing as qm

# ---------------------------------------------------------------- closed forms


@pytest.mark.parametrize("rho", [0.1, 0.5, 0.9])
def test_mm1(rho):
    q = qm.mgc(rate=rho, mean_service=1.0, servers=1)
    assert q.p_wait == pytest.approx(rho)
    assert q.mean_wait == pytest.approx(rho / (1 - rho))
    # M/M/1 sojourn is exponential with rate mu - lambda: p99 = ln(100) / (1 - rho)
    expo = np.random.default_rng(0).exponential(1.0, 200_000)
    assert q.sojourn_quantile(0.99, np.quantile(expo, (np.arange(512) + 0.5) / 512)) \
        == pytest.approx(math.log(100) / (1 - rho), rel=0.02)


def test_mmc_erlang_c():
    # a = 2, c = 3: P0 = 1/(1 + 2 + 2 + 8/6 * 3), C = (8/6 * 3) * P0
    p0 = 1 / (1 + 2 + 2 + (8 / 6) * 3)
    assert qm.erlang_c(3, 2.0) == pytest.approx((8 / 6) * 3 * p0)
    q = qm.mgc(rate=2.0, mean_service=1.0, servers=3)
    assert q.mean_wait == pytest.approx(qm.erlang_c(3, 2.0) / (3 - 2))
    assert q.mean_queue == pytest.approx(2.0 * q.mean_wait)


@pytest.mark.parametrize("rho", [0.2, 0.6, 0.95])
def test_md1_pollaczek_khinchine(rho):
    exact = qm.mdc_wait(rate=rho / 2.0, service=2.0, servers=1)
    assert exact.mean == pytest.approx(rho * 2.0 / (2 * (1 - rho)), rel=1e-3)
    assert exact.tail(0.0) == pytest.approx(rho, abs=1e-6)
    ac = qm.mgc(rate=rho / 2.0, mean_service=2.0, servers=1, cs2=0.0, exact=False)
    assert ac.mean_wait == pytest.approx(exact.mean, rel=1e-3)


def test_mdc_against_a_direct_simulation_of_the_recursion():
    """Deterministic-service FCFS queue: start_j = max(a_j, start_{j-c} + D)."""
    rng = np.random.default_rng(5)
    c, d, lam, n = 3, 1.0, 2.4, 400_000
    arr = np.cumsum(rng.exponential(1 / lam, n))
    start = np.empty(n)
    for j in range(n):
        start[j] = arr[j] if j < c else max(arr[j], start[j - c] + d)
    wait = (start - arr)[n // 10:]
    exact = qm.mdc_wait(lam, d, c)
    assert exact.mean == pytest.approx(wait.mean(), rel=0.05)
    for t in (0.0, 0.5, 1.5):
        assert exact.tail(t) == pytest.approx(np.mean(wait > t), abs=0.01)


@pytest.mark.parametrize(("c", "rho"), [(1, 0.5), (3, 0.8), (8, 0.95), (32, 0.9),
                                      (17, 0.3)])
def test_mdc_stationary_law_solves_the_balance_equations(c, rho):
    """The generating-function solution against the chain it describes: ``pi``
    is a distribution and ``pi = pi P`` for ``N' = max(N - c, 0) + Poisson(lambda D)``
    (the transition matrix built directly from the Poisson pmf), and the inner
    roots solve ``z^c = exp(lambda D (z - 1))`` inside the unit disk."""
    from scipy.stats import poisson

    lam_d = rho * c
    roots = qm._inner_roots(c, lam_d)
    assert len(roots) == c - 1 and np.all(np.abs(roots) < 1)
    assert np.allclose(roots ** c, np.exp(lam_d * (roots - 1)), atol=1e-12)
    assert len(np.unique(np.round(roots, 9))) == c - 1
    pi = qm.MDcWait(lam_d, 1.0, c).pi
    n = len(pi)
    assert pi.sum() == pytest.approx(1.0) and pi.min() >= 0
    pmf = poisson.pmf(np.arange(n), lam_d)
    nxt = pi[: c + 1].sum() * pmf  # from n <= c the next state is the arrivals
    for m in range(c + 1, n):
        nxt[m - c:] += pi[m] * pmf[: n - (m - c)]
    assert np.max(np.abs(nxt - pi)) < 1e-12


def test_unstable_queue():
    q = qm.mgc(rate=3.0, mean_service=1.0, servers=2)
    assert not q.stable and math.isinf(q.mean_wait) and q.wait_quantile(0.5) == math.inf
    with pytest.raises(DataError):
        qm.mdc_wait(3.0, 1.0, 2)
    with pytest.raises(DataError):
        qm.mgc(rate=-1, mean_service=1.0, servers=1)
    with pytest.raises(DataError):
        qm.mgc(rate=1, mean_service=1.0, servers=0)
    with pytest.raises(DataError):
        q.wait_quantile(1.5)


# ---------------------------------------------------------------- the pool


def test_pool_capacity_and_warning():
    cost = pc.ProofCost(per_proof_s=2.0, overhead_s=1.0)
    assert cost.capacity(workers=4, batch_size=1) == pytest.approx(4 / 3)
    assert cost.capacity(workers=4, batch_size=8) == pytest.approx(32 / 17)
    with pytest.warns(pc.CapacityWarning, match=r"unstable: utilisation 1\.50 at the peak"):
        p = pc.proof_pool(2.0, cost, workers=4, label="the peak rate")
    assert not p.stable and math.isinf(p.p99_sojourn_s)
    assert "unstable" in p.summary()


def test_batching_amortises_the_overhead():
    """reference §4 illustration: F_b = 2 s, v = 1 s, rate 1/s, 2 workers: batches of
    1 and 2 are unstable, larger ones are stable, latency has an interior optimum."""
    cost = pc.ProofCost(per_proof_s=1.0, overhead_s=2.0, cv=0.0)
    preds = {b: pc.proof_pool(1.0, cost, workers=2, batch_size=b, warn=False)
             for b in (1, 2, 3, 4, 6, 8, 16)}
    assert not preds[1].stable and not preds[2].stable
    assert all(preds[b].stable for b in (3, 4, 6, 8, 16))
    lat = {b: preds[b].mean_sojourn_s for b in (3, 4, 6, 8, 16)}
    best = min(lat, key=lat.get)
    assert best in (3, 4)
    assert lat[16] > 2 * lat[best]
    # fill wait (B - 1) / (2 lambda)
    assert preds[8].mean_fill_s == pytest.approx(3.5)


def test_batch_timeout_caps_the_fill_wait():
    cost = pc.ProofCost(per_proof_s=0.1, overhead_s=0.5, cv=0.0)
    slow = pc.proof_pool(0.5, cost, workers=2, batch_size=10)
    capped = pc.proof_pool(0.5, cost, workers=2, batch_size=10, batch_timeout=2.0)
    assert slow.mean_fill_s == pytest.approx(9.0)
    assert capped.mean_fill_s < 2.0 and capped.mean_sojourn_s < slow.mean_sojourn_s


def test_capacity_headroom_for_the_tuning_rules():
    h = pc.capacity_headroom(2.0, workers=4, batch_size=1, proof_time_s=1.5)
    assert h.capacity_tps == pytest.approx(4 / 1.5)
    assert h.utilisation == pytest.approx(0.75) and h.headroom == pytest.approx(0.25)
    over = pc.capacity_headroom(5.0, workers=4, batch_size=1, proof_time_s=1.5)
    assert not over.stable and over.headroom < 0
    with pytest.raises(DataError):
        pc.capacity_headroom(0, workers=4, batch_size=1, proof_time_s=1.5)
    with pytest.raises(DataError):
        pc.capacity_headroom(1, workers=0, batch_size=1, proof_time_s=1.5)


# ---------------------------------------------------------------- vs the simulator


def _check_against_sim(workers, rho, proofs, seeds=1, cv=0.05):
    cost = pc.ProofCost(per_proof_s=0.9, overhead_s=0.1, cv=cv)
    service = cost.batch_seconds(1)
    rate = rho * workers / service
    model = pc.proof_pool(rate, cost, workers=workers)
    sim = pc.simulate_pool(rate, cost, workers=workers, proofs=proofs, seeds=seeds,
                           seed=11)
    # mean wait within 10 % of the simulator's, or both negligible (below 0.2 % of
    # a proof's time, where a relative error is noise: at 32 workers and 30 %
    # utilisation one request in ~10^9 waits)
    floor = 0.002 * service
    assert abs(model.mean_wait_s - sim.mean_wait_s) <= max(0.10 * sim.mean_wait_s,
                                                           floor), (model, sim)
    assert model.p99_sojourn_s == pytest.approx(sim.p99_sojourn_s, rel=0.20)
    assert sim.utilisation == pytest.approx(rho, rel=0.05)
    return model, sim


# (workers, utilisation, proofs): enough proofs that the simulator's own noise is a
# few percent (it grows like 1/(1 - rho)^2)
FAST_GRID = [(1, 0.9, 100_000), (2, 0.7, 30_000), (4, 0.5, 20_000), (8, 0.3, 10_000),
             (32, 0.9, 60_000)]


@pytest.mark.parametrize("workers, rho, proofs", FAST_GRID)
def test_queue_model_matches_the_simulator(workers, rho, proofs):
    _check_against_sim(workers, rho, proofs)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("SPECANALYSIS_SLOW"),
                    reason="the full 6 x 4 grid takes minutes: set SPECANALYSIS_SLOW=1")
@pytest.mark.parametrize("workers", [1, 2, 4, 8, 16, 32])
@pytest.mark.parametrize("rho", [0.3, 0.5, 0.7, 0.9])
def test_queue_model_matches_the_simulator_full_grid(workers, rho):
    proofs = 100_000 if rho >= 0.9 else 40_000
    _check_against_sim(workers, rho, proofs)


def test_simulator_takes_its_proof_times_from_the_model():
    model = pc.calibrate(pc.published_times().filter(
        pc.pl.col("constraints") >= 10_001), cores=8,
        shape=pc.CircuitShape.exponentiate())
    cost = model.cost(1_000_001, workers=2, cores=8, cv=0.02)
    wl = cost.workload(0.5)
    dist = wl.dist("proof_time")
    draws = dist.sample(np.random.default_rng(0), 20_000)
    assert draws.mean() == pytest.approx(cost.per_proof_s, rel=0.01)
    assert draws.std() / draws.mean() == pytest.approx(0.02, rel=0.05)
    assert wl.dist("proof_overhead").mean == pytest.approx(max(0.0, model.fixed_s))


# ---------------------------------------------------------------- sizing


def test_size_proof_pool_meets_the_target_and_the_simulator_agrees():
    cost = pc.ProofCost(per_proof_s=1.0, overhead_s=0.2, cv=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("error", pc.CapacityWarning)
        s = pc.size_proof_pool(1.0, 3.0, cost, target_p99=4.0, cores=16,
                               workers=range(1, 17), batch_sizes=(1,))
    assert s.feasible and s.peak.p99_sojourn_s <= 4.0
    # capacity at the peak: workers / 1.2 s > 3 proofs/s
    assert s.worker_threads / 1.2 > 3.0
    assert s.guide_queue_size == math.ceil(3.0 * 1.2 * 3)
    tidy = s.tidy()
    assert tidy["setting"].to_list() == ["proof.worker_threads", "proof.batch_size",
                                         "proof.queue_size", "proof.timeout_ms"]
    cfg = s.config()
    assert cfg.proof.worker_threads == s.worker_threads
    assert 100 <= cfg.proof.queue_size <= 10_000
    curve = s.curve_frame()
    assert curve.height == 16 and curve.filter(curve["workers"] <= 3)["p99_sojourn_s"] \
        .null_count() == 3  # 1-3 workers cannot carry 3 proofs/s
    sim = pc.simulate_pool(3.0, cost, workers=s.worker_threads, proofs=20_000, seed=3)
    assert sim.p99_sojourn_s <= 4.0
    assert s.peak.p99_sojourn_s == pytest.approx(sim.p99_sojourn_s, rel=0.2)


def test_sizing_with_batches_is_decided_by_the_simulator():
    """One worker, F = 1 s + 0.3 s per proof, peak 1.2 proofs/s: batch 1 cannot keep
    up (0.77/s); batch 5 can (2/s). The queueing model, which assumes batches fill
    to the 1 s timeout and then stay that size, puts the batch-5 p99 far above
    10 s; the simulator's workers take larger batches as the queue grows and keep
    the p99 near 5-6 s. The check makes the simulator decide, and a run on
    another seed agrees."""
    cost = pc.ProofCost(per_proof_s=0.3, overhead_s=1.0, cv=0.05)
    unchecked = pc.size_proof_pool(0.5, 1.2, cost, target_p99=10.0, cores=4, workers=[1],
                                   batch_sizes=(1, 5), check=False)
    assert unchecked.checked is None and not unchecked.feasible
    assert unchecked.peak.p99_sojourn_s > 10.0
    s = pc.size_proof_pool(0.5, 1.2, cost, target_p99=10.0, cores=4, workers=[1],
                           batch_sizes=(1, 5), check_proofs=10_000)
    assert (s.worker_threads, s.batch_size) == (1, 5)
    assert s.feasible and s.checked is not None and s.checked.p99_sojourn_s <= 10.0
    assert "simulator check at the peak" in s.summary()
    again = pc.simulate_pool(1.2, cost, workers=1, batch_size=5, batch_timeout=1.0,
                             proofs=10_000, seed=7)
    assert again.p99_sojourn_s <= 10.0


def test_a_pool_the_model_calls_unstable_but_that_adapts_is_not_refused():
    """Without a fill wait (batch_timeout 0) the model prices batches of one, which
    cannot carry 1.2/s; workers that take what is queued (up to 5) can. No
    capacity warning when the simulator shows the pool keeping up; one without
    the check."""
    cost = pc.ProofCost(per_proof_s=0.3, overhead_s=1.0, cv=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("error", pc.CapacityWarning)
        s = pc.size_proof_pool(0.5, 1.2, cost, target_p99=10.0, cores=4, workers=[1],
                               batch_sizes=(5,), batch_timeout=0.0, check_proofs=10_000)
    assert s.feasible and s.checked.p99_sojourn_s <= 10.0
    assert any("keep up" in n for n in s.notes)
    with pytest.warns(pc.CapacityWarning, match="unstable"):
        pc.size_proof_pool(0.5, 1.2, cost, target_p99=10.0, cores=4, workers=[1],
                           batch_sizes=(5,), batch_timeout=0.0, check=False)


def test_size_proof_pool_with_a_model_trades_threads_for_workers():
    model = pc.calibrate(pc.published_times().filter(
        pc.pl.col("constraints") >= 10_001), cores=8,
        shape=pc.CircuitShape.exponentiate())
    s = pc.size_proof_pool(0.5, 1.5, model, target_p99=20.0, cores=32,
                           constraints=1_000_001, batch_sizes=(1, 2))
    assert s.threads_per_proof == 32 // s.worker_threads
    t = s.table
    one = t.filter((t["workers"] == 1) & (t["batch_size"] == 1)).row(0, named=True)
    many = t.filter((t["workers"] == 32) & (t["batch_size"] == 1)).row(0, named=True)
    # one wide worker proves faster, many narrow ones carry more
    assert one["batch_seconds"] < many["batch_seconds"]
    assert many["capacity"] > one["capacity"]
    with pytest.raises(DataError, match="circuit size"):
        pc.size_proof_pool(0.5, 1.5, model, target_p99=20.0, cores=32)


def test_size_proof_pool_unstable_everywhere():
    cost = pc.ProofCost(per_proof_s=2.0)
    with pytest.warns(pc.CapacityWarning, match=r"unstable: utilisation 1\.3\d at the peak rate"):
        s = pc.size_proof_pool(1.0, 2.6, cost, target_p99=10, cores=4,
                               workers=range(1, 5), batch_sizes=(1,))
    assert not s.feasible and s.worker_threads == 4
    assert "unstable" in s.summary()


@pytest.mark.parametrize("kwargs, field", [
    ({"rate": 0}, "rate"),
    ({"rate": 2.0, "peak_rate": 1.0}, "peak_rate"),
    ({"target_p99": -1}, "target_p99"),
    ({"cores": 0}, "cores"),
    ({"workers": [0]}, "workers"),
])
def test_size_proof_pool_bad_input(kwargs, field):
    args = {"rate": 1.0, "peak_rate": 2.0, "proof_cost": 1.0, "target_p99": 10.0,
            "cores": 8, **kwargs}
    with pytest.raises(DataError) as exc:
        pc.size_proof_pool(**args)
    assert exc.value.field == field
