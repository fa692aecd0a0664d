"""What-if sweeps on a real Dask cluster: ``distributed.LocalCluster`` with two worker
processes on 127.0.0.1, started by the tests.

The truth is the same sweep run serially in this process: a cluster must give
bit-identical frames, lose nothing and duplicate nothing when a worker is
killed mid-sweep, and resume an interrupted sweep from its cache.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import polars as pl
import pytest
from distributed import Client, LocalCluster

import specanalysis.sim.sweep as sweep_mod
from specanalysis.config import SpeculationConfig
from specanalysis.errors import SchedulerUnavailable
from specanalysis.sim import Workload
from specanalysis.sim.sweep import sweep

BASE = SpeculationConfig(enabled=True)
WL = Workload(rate=5, depth="fixed:3", failures=0.05, proof_time="fixed:20ms",
              proof_overhead="fixed:10ms")
GRID = {"max_depth": [2, 3, 5], "max_parallel_branches": [2, 8]}
FAST = {"duration": "30s", "progress": False}


def _cluster() -> LocalCluster:
    return LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                        host="127.0.0.1", dashboard_address=":0")


@pytest.fixture(scope="module")
def cluster():
    with _cluster() as c:
        yield c


@pytest.fixture(scope="module")
def client(cluster):
    with Client(cluster, set_as_default=False) as c:
        yield c


@pytest.fixture(scope="module")
def local():
    return sweep(BASE, WL, GRID, seeds=3, executor="serial", **FAST)


def _equal(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    return a.columns == b.columns and a.dtypes == b.dtypes and a.equals(b)


def test_a_cluster_gives_the_local_results_bit_for_bit(client, local):
    on_cluster = sweep(BASE, WL, GRID, seeds=3, executor=client, chunksize=2, **FAST)
    assert on_cluster.stats["mode"] == "dask"
    assert on_cluster.stats["workers"] == 2
    assert on_cluster.stats["chunks"] == 9
    assert _equal(on_cluster.frame, local.frame)
    # every chunk ran in one of the cluster's worker processes
    pids = client.run(os.getpid)
    where = {w.split("/")[0] for w, _, _ in on_cluster.stats["timeline"]}
    assert where <= {f"{socket.gethostname()}:{pid}" for pid in pids.values()}
    assert len(on_cluster.stats["timeline"]) == 9


def test_a_scheduler_address_connects_and_lets_go(cluster, local):
    s = sweep(BASE, WL, GRID, seeds=3, executor=cluster.scheduler_address, **FAST)
    assert s.stats["mode"] == "dask"
    assert _equal(s.frame, local.frame)


def test_an_interrupted_cluster_sweep_resumes_from_its_cache(client, local, tmp_path,
                                                             monkeypatch):
    accept = sweep_mod._Runner._accept
    seen = {"chunks": 0}

    def interrupt_after_two(self, *args):
        accept(self, *args)
        seen["chunks"] += 1
        if seen["chunks"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(sweep_mod._Runner, "_accept", interrupt_after_two)
    with pytest.raises(KeyboardInterrupt):
        sweep(BASE, WL, GRID, seeds=3, executor=client, chunksize=2, cache=tmp_path,
              **FAST)
    monkeypatch.setattr(sweep_mod._Runner, "_accept", accept)
    resumed = sweep(BASE, WL, GRID, seeds=3, executor=client, chunksize=2,
                    cache=tmp_path, **FAST)
    assert resumed.stats["cached"] == 4
    assert resumed.stats["computed"] == 14
    assert _equal(resumed.frame, local.frame)
    # and a second cluster run of the same sweep simulates nothing
    again = sweep(BASE, WL, GRID, seeds=3, executor=client, cache=tmp_path, **FAST)
    assert again.stats["computed"] == 0 and _equal(again.frame, local.frame)


#: 40 runs of one chunk each, long enough to interrupt once two have finished
BIG_GRID = {"max_depth": [2, 3, 4, 5, 6], "max_parallel_branches": [2, 4, 8, 16]}
BIG_WL = Workload(rate=10, depth="fixed:3", failures=0.05)


def _sweep_in_background(client, cache) -> tuple[threading.Thread, dict]:
    """Start the 40-run sweep on ``client`` in a thread; return once two runs
    are in ``cache``. The thread leaves its Sweep or exception in the dict."""
    box: dict = {}

    def run() -> None:
        try:
            box["sweep"] = sweep(BASE, BIG_WL, BIG_GRID, seeds=2, executor=client,
                                 chunksize=1, cache=cache, **FAST)
        except BaseException as exc:  # examined by the main thread
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 300
    while len(list(cache.glob("*.parquet"))) < 2:
        assert time.monotonic() < deadline, "the sweep never started"
        assert thread.is_alive(), box.get("error")
        time.sleep(0.02)
    return thread, box


def test_a_worker_killed_mid_sweep_loses_and_duplicates_nothing(tmp_path):
    expected = sweep(BASE, BIG_WL, BIG_GRID, seeds=2, executor="serial", **FAST)
    with _cluster() as cluster, Client(cluster, set_as_default=False) as client:
        thread, box = _sweep_in_background(client, tmp_path)
        pids = client.run(os.getpid)
        victim = sorted(pids)[0]
        os.kill(pids[victim], signal.SIGKILL)
        finished_before_kill = len(list(tmp_path.glob("*.parquet")))
        thread.join(timeout=600)
        assert not thread.is_alive()
    assert "error" not in box, box.get("error")
    assert finished_before_kill < 40, "the worker died after the sweep, not during it"
    result = box["sweep"]
    keys = result.frame.select("point", "seed_index")
    assert keys.height == 40 and keys.unique().height == 40
    assert _equal(result.frame, expected.frame)


def test_a_chunk_waiting_behind_a_busy_worker_is_run_again_where_a_thread_is_free(local):
    # worker A is busy with someone else's long task; Dask still hands it one of
    # the sweep's chunks (a worker gets a task more than it has threads), where
    # it would wait for that task. With work stealing off nothing else moves it:
    # the sweep itself must run it again on B, count it once, and finish while
    # A's task still runs.
    import dask

    with dask.config.set({"distributed.scheduler.work-stealing": False}), \
            _cluster() as cluster, Client(cluster, set_as_default=False) as client:
        client.wait_for_workers(2)
        busy, free = sorted(client.scheduler_info()["workers"])
        sleeper = client.submit(time.sleep, 120, workers=[busy], pure=False)
        while not client.processing()[busy]:
            time.sleep(0.01)
        result = sweep(BASE, WL, GRID, seeds=3, executor=client, chunksize=1, **FAST)
        assert not sleeper.done()  # finished without waiting for the busy worker
        pids = client.run(os.getpid)
        client.cancel(sleeper)
    assert result.stats["copies"] >= 1 and result.stats["copies_won"] >= 1
    assert {w.split("/")[0] for w, _, _ in result.stats["timeline"]} == {
        f"{socket.gethostname()}:{pids[free]}"}
    keys = result.frame.select("point", "seed_index")
    assert keys.unique().height == keys.height == 18
    assert _equal(result.frame, local.frame)


def test_a_scheduler_lost_mid_sweep_is_a_typed_error_and_the_cache_resumes(tmp_path):
    expected = sweep(BASE, BIG_WL, BIG_GRID, seeds=2, executor="serial", **FAST)
    cluster = _cluster()
    client = Client(cluster.scheduler_address, set_as_default=False)
    try:
        thread, box = _sweep_in_background(client, tmp_path)
        cluster.close()  # the scheduler and its workers go away mid-sweep
        thread.join(timeout=300)
        assert not thread.is_alive()
    finally:
        client.close()
        cluster.close()
    err = box.get("error")
    assert isinstance(err, SchedulerUnavailable), repr(err)
    assert "lost the Dask scheduler mid-sweep" in str(err) and "in the cache" in str(err)
    # what finished is in the cache: the same sweep run again completes it
    resumed = sweep(BASE, BIG_WL, BIG_GRID, seeds=2, executor="serial", cache=tmp_path,
                    **FAST)
    assert 2 <= resumed.stats["cached"] < 40
    assert _equal(resumed.frame, expected.frame)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_scheduler_is_a_typed_error_before_any_work(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("simulate() was called")

    monkeypatch.setattr(sweep_mod, "simulate", boom)
    address = f"tcp://127.0.0.1:{_closed_port()}"
    with pytest.raises(SchedulerUnavailable) as err:
        sweep(BASE, WL, GRID, seeds=1, executor=address, connect_timeout=2, **FAST)
    assert address in str(err.value)
    assert "cannot reach the Dask scheduler" in str(err.value)
