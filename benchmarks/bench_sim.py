"""Benchmark the simulator and the guide's benchmark suite.

Prints

1. simulated tasks per second of CPU time: each of the guide's five tests is
   simulated once (guide durations and rates, runtime defaults with speculation
   enabled) and the execution attempts it produced are divided by the process
   CPU time it took;
2. the wall time and the peak RSS of the whole five-test suite (one run each,
   written to a temporary directory with ``run_suite``), measured in a fresh
   child process so the figure is the suite's own.

Targets (issue 3/5): the suite in under 60 s on a 2-core machine, under 2 GB.

Run ``python benchmarks/bench_sim.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

TARGET_WALL_S = 60.0
TARGET_RSS_MB = 2048.0

_CHILD = """
import json, resource, sys, tempfile, time
t0 = time.perf_counter()
from specanalysis.sim.bench import default_config, run_suite
with tempfile.TemporaryDirectory() as d:
    run_suite(default_config(), runs=1, output_dir=d, seed=0, progress=False)
wall = time.perf_counter() - t0
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"wall_s": wall, "peak_rss_mb": rss_mb}))
"""


def tasks_per_cpu_second() -> list[dict]:
    from specanalysis.sim.bench import GUIDE_SUITE, default_config, run_benchmark

    rows = []
    config = default_config()
    for test in GUIDE_SUITE:
        t0 = time.process_time()
        r = run_benchmark(config, duration=test.duration, rate=test.rate,
                          depth_distribution=test.depth_distribution,
                          rate_pattern=test.rate_pattern,
                          inject_failures=test.inject_failures,
                          measure_latency=test.measure_latency, seed=0, warmup=0,
                          test=test.name, progress=False)
        cpu = time.process_time() - t0
        tasks = r.summary["tasks_total"]
        rows.append({"test": test.name, "tasks": int(tasks), "cpu_s": cpu,
                     "tasks_per_cpu_s": tasks / cpu})
    return rows


def suite_in_child() -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    print("== simulator: simulated tasks per CPU-second (guide durations/rates) ==")
    rows = tasks_per_cpu_second()
    for r in rows:
        print(f"  {r['test']:<11} {r['tasks']:>7} tasks  {r['cpu_s']:6.2f} s CPU  "
              f"{r['tasks_per_cpu_s']:>9,.0f} tasks/CPU-s")
    total = sum(r["tasks"] for r in rows)
    cpu = sum(r["cpu_s"] for r in rows)
    print(f"  {'all':<11} {total:>7} tasks  {cpu:6.2f} s CPU  "
          f"{total / cpu:>9,.0f} tasks/CPU-s")

    print("== the guide's five-test suite, 1 run each (fresh process) ==")
    s = suite_in_child()
    ok_wall = s["wall_s"] < TARGET_WALL_S
    ok_rss = s["peak_rss_mb"] < TARGET_RSS_MB
    print(f"  wall time {s['wall_s']:.1f} s (target < {TARGET_WALL_S:.0f} s: "
          f"{'met' if ok_wall else 'MISSED'}; {TARGET_WALL_S / s['wall_s']:.0f}x headroom)")
    print(f"  peak RSS  {s['peak_rss_mb']:.0f} MB (target < {TARGET_RSS_MB:.0f} MB: "
          f"{'met' if ok_rss else 'MISSED'})")
    return 0 if ok_wall and ok_rss else 1


if __name__ == "__main__":
    sys.exit(main())
