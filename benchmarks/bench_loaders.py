"""Benchmark the data layer against its named baselines, in one run on the same inputs.

(a) query_range JSON (10^5 and 10^6 points, Prometheus' own output format, and
    the same answer in two other JSON layouts: ``json.dumps`` defaults (a space
    after each separator) and ``jq .`` (2-space indent, one token per line))
    parsed by ``specanalysis.io.promapi.parse_query_response`` vs
    ``prometheus_api_client.MetricRangeDataFrame`` (fed ``json.loads(body)``,
    as the client does with ``response.json()``): time ratio (best of N) and
    peak-memory ratio, where memory is the **peak RSS increase** of a fresh
    child process over its RSS just before parsing (``VmHWM`` reset through
    ``/proc/self/clear_refs``); tracemalloc peaks are printed too, but they do
    not see polars' native (Rust) allocations, so they flatter polars.
    A body fetched from the real server in (c) is timed as well.
(b) exposition text parsing vs prometheus_client (``benchmarks/_exposition_bench.run``).
(c) the offline engine answering the tuning guide's profiling queries over a
    day of 15 s samples for ~100 series vs a real Prometheus (backfilled by this
    script with ``tests/integration/server.py``) answering the same queries
    through ``PrometheusSource``.

Run: ``.venv/bin/python benchmarks/bench_loaders.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _exposition_bench import _best  # noqa: E402  (one timing helper for both scripts)
from _exposition_bench import run as run_exposition  # noqa: E402

T0 = 1_735_689_600  # 2025-01-01T00:00:00Z


# ------------------------------------------------------------------ (a) JSON


def _fmt_ts(ms: int) -> str:
    sec, rest = divmod(ms, 1000)
    return str(sec) if rest == 0 else f"{sec}.{rest:03d}"


def make_body(n_points: int, n_series: int = 100, *, seed: int = 0) -> bytes:
    """A query_range body as Prometheus 2.x writes it (compact, 3-decimal timestamps)."""
    rng = random.Random(seed)
    per = n_points // n_series
    parts = []
    for s in range(n_series):
        labels = (f'"__name__":"speculation_memory_usage_bytes",'
                  f'"component":"c{s % 5}","instance":"rt-{s // 5}:9100","job":"runtime"')
        pts = ",".join(
            f'[{_fmt_ts((T0 + 15 * i) * 1000 + (250 if i % 9 == 0 else 0))},'
            f'"{rng.random() * 1e8:.6g}"]'
            for i in range(per)
        )
        parts.append(f'{{"metric":{{{labels}}},"values":[{pts}]}}')
    return ('{"status":"success","data":{"resultType":"matrix","result":['
            + ",".join(parts) + "]}}").encode()


def _parse_ours(body: bytes):
    from specanalysis.io.promapi import parse_query_response

    return parse_query_response(body).frame


def _parse_baseline(body: bytes):
    from prometheus_api_client import MetricRangeDataFrame

    return MetricRangeDataFrame(json.loads(body)["data"]["result"])


PARSERS = {"ours": _parse_ours, "baseline": _parse_baseline}

#: other valid layouts of the same answer (issue 12, finding 15)
LAYOUTS = {"json.dumps default": {}, "jq . (indent 2)": {"indent": 2}}


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def _child(parser: str, path: str) -> None:
    """Run one parser once in this (fresh) process; print memory figures as JSON."""
    import tracemalloc

    import pandas  # noqa: F401 - import both stacks up front, outside the measurement
    import polars  # noqa: F401
    import prometheus_api_client  # noqa: F401

    import specanalysis.io.promapi  # noqa: F401

    PARSERS[parser](make_body(2000, 10, seed=1))  # warm up: thread pools, caches
    body = Path(path).read_bytes()
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    before = _status_kb("VmRSS")
    tracemalloc.start()
    out = PARSERS[parser](body)
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak = _status_kb("VmHWM")
    print(json.dumps({"rss_delta_mb": (peak - before) / 1024,
                      "tracemalloc_mb": traced / 2**20, "rows": len(out)}))


def _memory(parser: str, path: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", parser, path],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_json(sizes: list[int], tmp: Path) -> list[dict]:
    rows = []
    for n in sizes:
        body = make_body(n)
        path = tmp / f"body_{n}.json"
        path.write_bytes(body)
        t_ours, frame = _best(lambda body=body: _parse_ours(body), 3)
        t_base, base = _best(lambda body=body: _parse_baseline(body), 1 if n >= 10**6 else 2)
        assert frame.height == len(base) == n, (frame.height, len(base), n)
        m_ours, m_base = _memory("ours", str(path)), _memory("baseline", str(path))
        rows.append({
            "what": f"query_range JSON, {n:,} points ({len(body) / 1e6:.0f} MB)",
            "ours": f"{t_ours:.3f} s, {m_ours['rss_delta_mb']:.0f} MB RSS "
                    f"({m_ours['tracemalloc_mb']:.0f} MB traced)",
            "baseline": f"{t_base:.3f} s, {m_base['rss_delta_mb']:.0f} MB RSS "
                        f"({m_base['tracemalloc_mb']:.0f} MB traced)",
            "time_ratio": t_base / t_ours,
            "mem_ratio": m_base["rss_delta_mb"] / max(m_ours["rss_delta_mb"], 1e-9),
        })
        doc = json.loads(body)
        for name, layout in LAYOUTS.items():
            other = json.dumps(doc, **layout).encode()
            t_o, f_o = _best(lambda other=other: _parse_ours(other), 3)
            t_b, _ = _best(lambda other=other: _parse_baseline(other),
                           1 if n >= 10**6 else 2)
            assert f_o.equals(frame), name
            rows.append({
                "what": f"  same, {name} layout ({len(other) / 1e6:.0f} MB)",
                "ours": f"{t_o:.3f} s", "baseline": f"{t_b:.3f} s",
                "time_ratio": t_b / t_o, "mem_ratio": None,
            })
    return rows


# ------------------------------------------------------------ (b) exposition


def bench_exposition(n: int) -> list[dict]:
    return [{"what": r["name"], "ours": f"{r['ours_s']:.3f} s",
             "baseline": f"{r['baseline_s']:.3f} s", "time_ratio": r["ratio"],
             "mem_ratio": None} for r in run_exposition(n)]


# ------------------------------------------------ (c) offline vs Prometheus


def bench_engines(tmp: Path, *, duration: str = "1d") -> list[dict]:
    import shutil

    from integration.server import serve_samples

    from specanalysis import query as q
    from specanalysis.datasets import make_samples
    from specanalysis.sources.offline import OfflineSource
    from specanalysis.sources.prometheus import PrometheusSource

    if not (shutil.which("prometheus") and shutil.which("promtool")):
        print("(c) skipped: prometheus/promtool not on PATH")
        return []
    samples = make_samples(seed=3, duration=duration, step="15s", n_series=100)
    n_series = samples.select(
        __import__("polars").struct("metric", "component", "instance", "le", "reason")
        .n_unique()).item()
    t = time.perf_counter()
    with serve_samples(samples, tmp / "prom") as server:
        t_backfill = time.perf_counter() - t
        print(f"(c) {samples.height:,} samples in {n_series} series; backfill + start "
              f"{t_backfill:.1f} s ({server.version})")
        live = PrometheusSource(server.url)
        t, offline = _best(lambda: OfflineSource(samples, semantics="prom2"), 1)
        t_index = t
        first = samples.get_column("timestamp").min()
        last = samples.get_column("timestamp").max()
        queries = q.guide_queries("1h")
        rows = []
        for mode in ("instant", "range 60s"):
            t_off = t_live = 0.0
            for expr in queries.values():
                if mode == "instant":
                    f_off = lambda e=expr: offline.evaluate(e, last)  # noqa: E731
                    f_live = lambda e=expr: live.evaluate(e, last)  # noqa: E731
                else:
                    f_off = lambda e=expr: offline.evaluate_range(e, first, last, 60)  # noqa: E731
                    f_live = lambda e=expr: live.evaluate_range(e, first, last, 60)  # noqa: E731
                a, fa = _best(f_off, 3)
                b, fb = _best(f_live, 3)
                assert fa.height == fb.height, (expr.promql, fa.height, fb.height)
                t_off += a
                t_live += b
            rows.append({
                "what": f"{len(queries)} guide queries, {mode}, {duration} x {n_series} series",
                "ours": f"{t_off:.3f} s offline (+{t_index:.2f} s index build once)",
                "baseline": f"{t_live:.3f} s Prometheus 2.42 via HTTP",
                "time_ratio": t_live / t_off,
                "mem_ratio": None,
            })
        # a real server body through both JSON loaders
        body = live._session.post(
            live.endpoint("query_range"),
            data={"query": "speculation_memory_usage_bytes", "start": str(first.timestamp()),
                  "end": str(last.timestamp()), "step": "15"}).content
        t_ours, frame = _best(lambda: _parse_ours(body), 3)
        t_base, base = _best(lambda: _parse_baseline(body), 2)
        assert frame.height == len(base)
        rows.append({"what": f"real server body, {frame.height:,} points",
                     "ours": f"{t_ours:.3f} s", "baseline": f"{t_base:.3f} s",
                     "time_ratio": t_base / t_ours, "mem_ratio": None})
    return rows


# ---------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10^5 points only, 2 h of data")
    args = ap.parse_args()
    sizes = [10**5] if args.quick else [10**5, 10**6]
    with tempfile.TemporaryDirectory(prefix="bench_loaders_") as d:
        tmp = Path(d)
        rows = bench_json(sizes, tmp)
        rows += bench_exposition(100_000 if args.quick else 300_000)
        rows += bench_engines(tmp, duration="2h" if args.quick else "1d")
    print()
    print(f"{'benchmark':58} {'time x':>7} {'mem x':>6}  ours | baseline")
    for r in rows:
        mem = f"{r['mem_ratio']:.1f}" if r["mem_ratio"] else "-"
        print(f"{r['what'][:58]:58} {r['time_ratio']:7.1f} {mem:>6}  "
              f"{r['ours']} | {r['baseline']}")
    print("\ntime x / mem x = baseline / ours (higher is better). mem = peak RSS increase "
          "of a fresh process while parsing; (c) baseline = same queries on a real server.")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3])
    else:
        os.environ.setdefault("POLARS_MAX_THREADS", "2")
        main()
