"""Benchmark the simulator and the guide's benchmark suite.

Prints

1. simulated tasks per second of CPU time: each of the guide's five tests is
   simulated once (guide durations and rates, runtime defaults with speculation
   enabled) and the execution attempts it produced are divided by the process
   CPU time it took;
2. the wall time and the peak RSS of the whole five-test suite (one run each,
   written to a temporary directory with ``run_suite``), measured in a fresh
   child process so the figure is the suite's own.

3. the cost of a checked ``recommend()`` on the bundled ``baseline`` fixture
   (profile, the guide's rules, then every proposal simulated against the
   current configuration on the calibrated workload with the default paired
   seeds), against the unchecked rules on the same profile (the named baseline).
   A progress bar shows on a terminal.

Targets (issue 3/5): the suite in under 60 s on a 2-core machine, under 2 GB;
(issue 7) a checked recommend() in under 30 s on 2 cores.

Run ``python benchmarks/bench_sim.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

TARGET_WALL_S = 60.0
TARGET_RSS_MB = 2048.0
TARGET_CHECK_S = 30.0

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


def checked_recommend() -> dict:
    from specanalysis.fixtures import fixture_config, load_fixture
    from specanalysis.profile import profile_workload
    from specanalysis.sources.offline import OfflineSource
    from specanalysis.tuning import recommend

    src = OfflineSource(load_fixture("baseline"))
    cfg = fixture_config("baseline")
    profile = profile_workload(src, window="1h")
    t0 = time.perf_counter()
    plain = recommend(profile, cfg, source=src, check=False)
    t_plain = time.perf_counter() - t0
    t0 = time.perf_counter()
    checked = recommend(profile, cfg, source=src)  # check="auto", default seeds
    t_check = time.perf_counter() - t0
    chk = checked.check
    sims = len(chk.seeds) * (1 + len(chk.proposals) + (chk.combined is not None))
    return {"unchecked_s": t_plain, "checked_s": t_check, "proposals": len(plain),
            "kept": len(checked), "withheld": len(checked.withheld), "simulations": sims,
            "seeds": len(chk.seeds), "duration_s": chk.duration_s}


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

    print("== checked recommend() on the baseline fixture (1 h profile) ==")
    c = checked_recommend()
    ok_check = c["checked_s"] < TARGET_CHECK_S
    print(f"  unchecked rules (baseline): {c['unchecked_s']:.2f} s, "
          f"{c['proposals']} proposals")
    print(f"  checked: {c['checked_s']:.1f} s (>= {c['simulations']} simulations of "
          f"{c['duration_s']:.0f} s, {c['seeds']} paired seeds; "
          f"{c['checked_s'] / c['unchecked_s']:.0f}x the unchecked rules); "
          f"{c['kept']} kept, {c['withheld']} withheld "
          f"(target < {TARGET_CHECK_S:.0f} s: {'met' if ok_check else 'MISSED'})")
    return 0 if ok_wall and ok_rss and ok_check else 1


if __name__ == "__main__":
    sys.exit(main())
