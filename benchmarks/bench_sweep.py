"""Benchmark what-if sweeps: serial vs local processes vs a 2-worker Dask LocalCluster.

The same sweep (by default 60 points x 3 seeds of a 1-minute simulated workload:
the guide's throughput test, 100 tasks/s with chains uniform:1-5) runs three ways
in one process, and the script prints, against the serial run as the baseline:

* the wall time of each and its speedup (serial wall / wall), with and without
  the one-off start-up (process pool or cluster); the target is judged with the
  pool's start-up (``sweep()`` starts the pool) and without the cluster's (a
  team starts its cluster once, with ``--preload specanalysis.sim.sweep``);
* the scheduling overhead: the share of the workers' time not spent simulating,
  ``1 - sum of per-chunk simulation seconds / (workers x dispatch wall)``;
* whether the three result frames are bit-identical.

Targets (issue 11): speedup >= 1.7x on 2 cores, overhead < 2 %, identical
results. Timings depend on what else the machine runs: the load average before
and after is printed with the figures, and on a shared machine the speedup can
only be read against that load.

Run ``python benchmarks/bench_sweep.py`` (``--points 12 --seeds 2`` for a quick
look; ``--skip-dask`` without the distributed extra).
"""

from __future__ import annotations

import argparse
import itertools
import os
import time

TARGET_SPEEDUP = 1.7
TARGET_OVERHEAD = 0.02

_AXES = {
    "max_depth": [2, 3, 4, 5, 8],
    "max_parallel_branches": [2, 4, 8, 16],
    "proof.worker_threads": [4, 8, 16],
}


def grid_of(points: int) -> list[dict]:
    """The first ``points`` combinations of the axes, as a list of changes."""
    combos = list(itertools.product(*_AXES.values()))[:points]
    return [dict(zip(_AXES, c, strict=True)) for c in combos]


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


def row(name: str, result, wall: float, setup: float, base_wall: float) -> dict:
    st = result.stats
    workers = max(st["workers"], 1)
    dispatch = st["wall_s"]
    simulated = st["compute_s"] - st["pilot_s"]
    overhead = 1.0 - simulated / (workers * dispatch) if dispatch > 0 else float("nan")
    return {"name": name, "wall": wall, "setup": setup, "workers": workers,
            "chunks": st["chunks"], "chunksize": st["chunksize"],
            "speedup": base_wall / wall, "speedup_warm": base_wall / (wall - setup),
            "overhead": overhead, "compute": st["compute_s"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=60)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--duration", default="1m")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--skip-dask", action="store_true")
    args = parser.parse_args()

    from specanalysis.sim import Workload
    from specanalysis.sim.bench import default_config
    from specanalysis.sim.sweep import sweep

    config = default_config()
    workload = Workload(rate=args.rate, depth="uniform:1-5")
    grid = grid_of(args.points)
    common = {"seeds": args.seeds, "duration": args.duration, "progress": False}
    load0 = os.getloadavg()
    print(f"== sweep: {len(grid)} points x {args.seeds} seeds of {args.duration} "
          f"simulated ({len(grid) * args.seeds} runs), rate {args.rate:g}/s, "
          f"uniform:1-5 ==")
    print(f"machine: {cores()} cores, load average {load0[0]:.1f} / {load0[1]:.1f} / "
          f"{load0[2]:.1f} (1/5/15 min) before")

    rows = []
    t0 = time.perf_counter()
    serial = sweep(config, workload, grid, executor="serial", **common)
    base = time.perf_counter() - t0
    rows.append(row("serial (baseline)", serial, base, 0.0, base))

    t0 = time.perf_counter()
    local = sweep(config, workload, grid, executor=None, **common)
    wall = time.perf_counter() - t0
    rows.append(row(f"local processes ({local.stats['mode']})", local, wall,
                    local.stats["setup_s"], base))
    frames = {"local processes": local.frame}

    if not args.skip_dask:
        from distributed import Client, LocalCluster

        t0 = time.perf_counter()
        # workers preload the simulator, as `dask worker --preload
        # specanalysis.sim.sweep` does on a team's cluster (README)
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          host="127.0.0.1", dashboard_address=":0",
                          preload=["specanalysis.sim.sweep"]) as cluster, \
                Client(cluster, set_as_default=False) as client:
            client.wait_for_workers(2)
            startup = time.perf_counter() - t0
            t0 = time.perf_counter()
            dask = sweep(config, workload, grid, executor=client, **common)
            wall = time.perf_counter() - t0
        rows.append(row("Dask LocalCluster, 2 workers", dask, wall + startup, startup,
                        base))
        frames["Dask LocalCluster"] = dask.frame

    load1 = os.getloadavg()
    print(f"{'executor':<30} {'wall s':>8} {'start-up s':>10} {'speedup':>8} "
          f"{'excl. start':>11} {'overhead':>9} {'chunks':>7}")
    for r in rows:
        print(f"{r['name']:<30} {r['wall']:8.2f} {r['setup']:10.2f} "
              f"{r['speedup']:7.2f}x {r['speedup_warm']:10.2f}x "
              f"{100 * r['overhead']:8.2f}% {r['chunks']:>4} x{r['chunksize']}")
    print(f"load average {load1[0]:.1f} / {load1[1]:.1f} / {load1[2]:.1f} after")
    ok = True
    for name, frame in frames.items():
        same = frame.equals(serial.frame) and frame.columns == serial.frame.columns
        print(f"results of {name} identical to serial: {same}")
        ok &= same
    for r in rows[1:]:
        # the sweep's own cost: a process pool is started by sweep() and counts; a
        # Dask cluster is started once by the team (or the script above) and does not
        judged = r["speedup_warm"] if "Dask" in r["name"] else r["speedup"]
        what = ("on the running cluster (its start-up excluded)" if "Dask" in r["name"]
                else "including the pool's start-up")
        print(f"{r['name']}: speedup {judged:.2f}x {what} (target >= {TARGET_SPEEDUP}x on "
              f"2 cores: {'met' if judged >= TARGET_SPEEDUP else 'MISSED'}), "
              f"overhead {100 * r['overhead']:.2f} % (target < {100 * TARGET_OVERHEAD:g} "
              f"%: {'met' if r['overhead'] < TARGET_OVERHEAD else 'MISSED'})")
    if load0[0] > cores() or load1[0] > cores():
        print(f"note: the load average exceeded the {cores()} cores: other processes "
              "shared them, so the speedups are lower bounds of what an idle machine "
              "gives")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
