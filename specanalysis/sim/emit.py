"""Turn a simulation's event records into the catalogue's metrics (a samples frame).

Everything is vectorised: counters are counts of event times up to each scrape
(``searchsorted``), gauges are step functions (cumulative sums of +/- changes, or
counts of open intervals), histograms are cumulative bucket counts. Nothing is
appended per event.

Metric semantics (what a scrape at time t reports)
--------------------------------------------------
``speculation_tasks_total``
    Execution attempts started (re-executions after a rollback count again).
``speculation_tasks_confirmed_total``
    Tasks finalised on chain.
``speculation_rollback_total{reason}``
    Rollback events by the trigger's reason (``proof_invalid``, ``timeout``).
``speculation_tasks_rolled_back_total{reason}``
    Tasks undone: the trigger under its reason, descendants as ``ancestor_failed``.
``speculation_depth_histogram``
    Depth (unconfirmed ancestors) of each execution attempt. Buckets
    ``le = 0, 1, ..., max(max_depth, 5)`` and ``+Inf``: depth 0 is a
    non-speculative execution, and admission needs ``depth < max_depth``, so the
    ``le=max_depth-1`` bucket already holds every task.
``speculation_proof_generation_seconds``
    Proof request (execution end) to proof done: queue wait plus batch service.
``speculation_e2e_latency_seconds``
    Task arrival (its chain's arrival) to its finalisation.
``solana_confirmation_seconds``
    On-chain confirmation time of every proof the chain answered (timeouts excluded).
``speculation_rollback_cascade_size``
    Blast radius of each rollback (trigger + undone descendants).
``speculation_memory_usage_bytes{component}``
    The engine's memory model (see :mod:`specanalysis.sim.engine`).
``speculation_proof_batch_size``
    Mean size of the batches started in the last 60 s (0 when none).
``speculation_current_depth``
    Largest execution depth among in-flight tasks.
``speculation_stake_locked_lamports``
    Linear bond ``min_stake + stake_per_depth * depth`` of in-flight speculative tasks.
``speculation_stake_slashed_total``
    Rollback events (each slashes the trigger's bond).
``speculation_tasks_scheduled_total``
    Tasks submitted (every task of a chain when the chain arrives), refused
    ones included: the offered load.
``speculation_tasks_rejected_total{reason}``
    Tasks refused at submission (``proof_queue_full``, see ``SimSettings``).
``speculation_tasks_deferred_total{reason,depth}``
    Ready tasks refused speculative admission, once per attempt and reason;
    ``depth`` is the task's structural dependency depth (root 0).
``speculation_deferral_wait_seconds``
    First refusal to execution start, per deferred attempt.
``speculation_execution_seconds``
    Execution time of each attempt (observed when it ends).
``speculation_proof_batch_duration_seconds``
    Service time of each proof batch (observed when it ends).
``speculation_proof_workers_busy`` / ``speculation_proof_workers``
    Busy workers / worker threads.
``speculation_config{parameter}``
    The configuration (:data:`CONFIG_GAUGES`).
``speculation_auto_disabled`` / ``speculation_enabled``
    1/0 while the runtime has switched speculation off by itself.

Examples
--------
>>> step_values(np.array([1.0, 2.0, 2.0]), np.array([1.0, 1.0, -1.0]),
...             np.array([0.0, 1.0, 1.5, 2.0]))
array([0., 1., 1., 1.])
>>> format_le(0.05), format_le(5), format_le(float("inf"))
('0.05', '5.0', '+Inf')
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl

from specanalysis import catalogue as cat
from specanalysis.frames import TIMESTAMP

__all__ = [
    "PROOF_BUCKETS",
    "E2E_BUCKETS",
    "CONFIRM_BUCKETS",
    "CASCADE_BUCKETS",
    "build_samples",
    "memory_components",
    "active_tasks",
    "step_values",
    "format_le",
]

PROOF_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0,
                 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 300.0)
E2E_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 15.0,
               20.0, 25.0, 30.0, 45.0, 60.0, 90.0, 120.0, 300.0)
CONFIRM_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 15.0, 30.0, 60.0)
EXEC_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
BATCH_BUCKETS = (0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 8.0, 10.0,
                 15.0, 30.0, 60.0)
DEFER_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
#: Configuration parameters exposed as ``speculation_config{parameter}``.
CONFIG_GAUGES = (
    "max_depth", "max_parallel_branches", "confirmation_timeout_ms",
    "proof.worker_threads", "proof.queue_size", "proof.batch_size", "proof.timeout_ms",
    "proof.max_retries", "proof.retry_delay_ms", "proof.retry_multiplier",
    "proof.optimistic_generation", "limits.max_memory_mb",
    "limits.max_pending_operations", "limits.max_state_snapshots",
    "limits.gc_interval_ms", "limits.max_rollback_cascade_size",
    "features.enable_parallel_speculation", "features.enable_optimistic_proofs",
    "features.rollout_percentage",
)
CASCADE_BUCKETS = (1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0)
MEMORY_COMPONENTS = ("state_snapshots", "pending_operations", "proof_cache",
                     "rollback_logs", "commitment_ledger")
BATCH_WINDOW_S = 60.0
_MIB = 1024.0 * 1024.0


def format_le(bound: float) -> str:
    """A bucket bound as Prometheus prints it (``"1.0"``, ``"0.25"``, ``"+Inf"``)."""
    b = float(bound)
    if math.isinf(b):
        return "+Inf" if b > 0 else "-Inf"
    return repr(b)


def step_values(t: np.ndarray, d: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Value at each ``at`` of a step function that changes by ``d`` at times ``t``
    (changes at exactly ``at`` included)."""
    at = np.asarray(at, dtype=np.float64)
    if len(t) == 0:
        return np.zeros(len(at))
    order = np.argsort(t, kind="stable")
    cum = np.concatenate([[0.0], np.cumsum(np.asarray(d, dtype=np.float64)[order])])
    return cum[np.searchsorted(np.asarray(t)[order], at, side="right")]


def _count_upto(t: np.ndarray, at: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """(Weighted) number of events with time <= at (NaN times never happen)."""
    t = np.asarray(t, dtype=np.float64)
    keep = ~np.isnan(t)
    if w is None:
        ts = np.sort(t[keep])
        return np.searchsorted(ts, at, side="right").astype(np.float64)
    return step_values(t[keep], np.asarray(w, dtype=np.float64)[keep], at)


def _open(start: np.ndarray, end: np.ndarray, at: np.ndarray,
          w: np.ndarray | None = None) -> np.ndarray:
    """(Weighted) number of intervals [start, end) open at each ``at`` (NaN end = open)."""
    return _count_upto(start, at, w) - _count_upto(end, at, w)


def _f64(frame: pl.DataFrame, name: str) -> np.ndarray:
    return frame.get_column(name).cast(pl.Float64).fill_null(np.nan).to_numpy()


def _attempts(res: Any) -> dict[str, np.ndarray]:
    tk = res.tasks
    fin = _f64(tk, "finalized")
    rb = _f64(tk, "rolled_back_at")
    end = np.where(np.isnan(fin), rb, fin)
    return {
        "start": _f64(tk, "exec_start"),
        "end": end,
        "fin": fin,
        "rb": rb,
        "depth": tk.get_column("depth").to_numpy().astype(np.float64),
        "spec": tk.get_column("speculative").to_numpy().astype(bool),
        "pend": _f64(tk, "proof_end"),
        "lat": _f64(tk, "latency_s"),
    }


def active_tasks(res: Any, at: np.ndarray) -> np.ndarray:
    """In-flight tasks (executed or executing, not final or rolled back) at ``at``."""
    a = _attempts(res)
    return _open(a["start"], a["end"], np.asarray(at, dtype=np.float64))


def memory_components(res: Any, at: np.ndarray, attempts: dict | None = None
                      ) -> dict[str, np.ndarray]:
    """Memory bytes by component at each time in ``at``."""
    at = np.asarray(at, dtype=np.float64)
    a = attempts or _attempts(res)
    mem = res.memory
    cfg = res.config
    spec = a["spec"]
    snaps = _open(a["start"][spec], a["end"][spec], at)
    active = _open(a["start"], a["end"], at)
    has_proof = ~np.isnan(a["pend"])
    held = _open(a["pend"][has_proof], a["end"][has_proof], at)
    rbk = res.rollbacks
    rb_t = _f64(rbk, "time")
    rb_n = rbk.get_column("size").to_numpy().astype(np.float64)
    gc = cfg.limits.gc_interval_ms / 1000.0
    recent = _count_upto(rb_t, at, rb_n) - _count_upto(rb_t, at - gc, rb_n)
    ch = res.chains
    nodes = (_count_upto(_f64(ch, "arrived"), at, ch.get_column("length").to_numpy())
             - _count_upto(a["fin"], at))
    return {
        "state_snapshots": snaps * res.workload.state_mb * _MIB,
        "pending_operations": active * mem.op_bytes,
        "proof_cache": np.minimum(held * mem.proof_cache_entry_bytes,
                                  cfg.proof.cache_size_mb * _MIB),
        "rollback_logs": recent * mem.rollback_log_bytes,
        "commitment_ledger": np.maximum(nodes, 0.0) * mem.ledger_node_bytes,
    }


class _Out:
    """Column buffers of the samples frame being built."""

    def __init__(self, at: np.ndarray, start_ms: int) -> None:
        self.n = len(at)
        self.ts = start_ms + np.round(at * 1000.0).astype(np.int64)
        self.parts: list[tuple[str, np.ndarray, dict[str, str]]] = []

    def add(self, metric: str, values: np.ndarray, **labels: str) -> None:
        self.parts.append((metric, np.asarray(values, dtype=np.float64), labels))

    def histogram(self, name: str, t: np.ndarray, v: np.ndarray,
                  bounds: tuple[float, ...], at: np.ndarray) -> None:
        t = np.asarray(t, dtype=np.float64)
        v = np.asarray(v, dtype=np.float64)
        keep = ~(np.isnan(t) | np.isnan(v))
        t, v = t[keep], v[keep]
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
        idx = np.searchsorted(t, at, side="right")
        for b in (*bounds, math.inf):
            cum = np.concatenate([[0.0], np.cumsum(v <= b)])
            self.add(name + "_bucket", cum[idx], le=format_le(b))
        self.add(name + "_sum", np.concatenate([[0.0], np.cumsum(v)])[idx])
        self.add(name + "_count", idx.astype(np.float64))

    def frame(self) -> pl.DataFrame:
        labels = sorted({k for _, _, lab in self.parts for k in lab})
        n = self.n
        metric = np.concatenate([np.full(n, m, dtype=object) for m, _, _ in self.parts])
        data: dict[str, Any] = {
            "timestamp": pl.Series(np.tile(self.ts, len(self.parts)), dtype=pl.Int64)
            .cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"),
            "metric": pl.Series(metric.tolist(), dtype=pl.String),
            "value": pl.Series(np.concatenate([v for _, v, _ in self.parts]),
                               dtype=pl.Float64),
        }
        for name in labels:
            col = np.concatenate([np.full(n, lab.get(name), dtype=object)
                                  for _, _, lab in self.parts])
            data[name] = pl.Series(col.tolist(), dtype=pl.String)
        out = pl.DataFrame(data)
        assert out.schema["timestamp"] == TIMESTAMP
        return out


def build_samples(res: Any, at: np.ndarray) -> pl.DataFrame:
    """The catalogue metrics of a :class:`~specanalysis.sim.engine.SimResult` at the
    given times (seconds from the start), as a samples frame."""
    at = np.asarray(at, dtype=np.float64)
    cfg = res.config
    out = _Out(at, res.start_ms)
    a = _attempts(res)
    tk = res.tasks
    rbk = res.rollbacks
    lg = res.log

    # counters
    out.add(cat.TASKS, _count_upto(a["start"], at))
    out.add(cat.CONFIRMED, _count_upto(a["fin"], at))
    rb_t = _f64(rbk, "time")
    rb_reason = rbk.get_column("reason").to_numpy().astype(str)
    for reason in sorted({"proof_invalid", "timeout", *rb_reason.tolist()}):
        out.add(cat.ROLLBACKS, _count_upto(rb_t[rb_reason == reason], at),
                reason=reason)
    t_reason = tk.get_column("reason").fill_null("").to_numpy().astype(str)
    for reason in sorted({"proof_invalid", "timeout", "ancestor_failed",
                          *(r for r in t_reason.tolist() if r)}):
        out.add(cat.ROLLED_BACK,
                _count_upto(a["rb"][t_reason == reason], at), reason=reason)
    out.add(cat.STAKE_SLASHED, _count_upto(rb_t, at))
    ch = res.chains
    out.add(cat.SCHEDULED,
            _count_upto(_f64(ch, "arrived"), at, ch.get_column("length").to_numpy()))
    out.add(cat.REJECTED,
            _count_upto(lg.reject_t, at, lg.reject_n), reason="proof_queue_full")
    combos = sorted(set(zip(lg.defer_reason.tolist(), lg.defer_depth.tolist(),
                            strict=True)))
    if not combos:  # the family exists even when nothing was deferred
        combos = [(0, float(cfg.max_depth))]
    for r, d in combos:
        m = (lg.defer_reason == r) & (lg.defer_depth == d)
        out.add(cat.DEFERRED, _count_upto(lg.defer_t[m], at),
                reason=cat.DEFER_REASONS[r], depth=str(int(d)))

    # histograms
    top = max(cfg.max_depth, 5)
    out.histogram(cat.DEPTH, a["start"], a["depth"],
                  tuple(float(d) for d in range(top + 1)), at)
    out.histogram(cat.PROOF, lg.proof_t, lg.proof_v,
                  PROOF_BUCKETS, at)
    out.histogram(cat.E2E, a["fin"], a["lat"], E2E_BUCKETS, at)
    out.histogram(cat.CONFIRM, lg.confirm_t, lg.confirm_v,
                  CONFIRM_BUCKETS, at)
    out.histogram(cat.CASCADE, rb_t,
                  rbk.get_column("size").to_numpy().astype(np.float64),
                  CASCADE_BUCKETS, at)
    exec_end = _f64(tk, "exec_end")
    out.histogram(cat.EXECUTION, exec_end, exec_end - a["start"],
                  EXEC_BUCKETS, at)
    out.histogram(cat.BATCH_DURATION, lg.batch_t + lg.batch_dur,
                  lg.batch_dur, BATCH_BUCKETS, at)
    out.histogram(cat.DEFERRAL_WAIT, lg.wait_t, lg.wait_v,
                  DEFER_BUCKETS, at)

    # gauges
    for comp, values in memory_components(res, at, a).items():
        out.add(cat.MEMORY, values, component=comp)
    out.add(cat.MEMORY_LIMIT,
            np.full(len(at), cfg.limits.max_memory_mb * _MIB))
    out.add(cat.ACTIVE, _open(a["start"], a["end"], at))
    current = np.zeros(len(at))
    for d in range(cfg.max_depth):
        m = a["depth"] == d
        n_d = _open(a["start"][m], a["end"][m], at)
        out.add(cat.ACTIVE_BY_DEPTH, n_d, depth=str(d))
        current = np.where(n_d > 0, float(d), current)
    out.add(cat.BRANCHES, step_values(lg.branch_t, lg.branch_d, at))
    out.add(cat.QUEUE_DEPTH, step_values(lg.queue_t, lg.queue_d, at))
    out.add(cat.QUEUE_CAP, np.full(len(at), cfg.proof.queue_size))
    n_b = _count_upto(lg.batch_t, at) - _count_upto(lg.batch_t, at - BATCH_WINDOW_S)
    k_b = (_count_upto(lg.batch_t, at, lg.batch_k)
           - _count_upto(lg.batch_t, at - BATCH_WINDOW_S, lg.batch_k))
    out.add(cat.BATCH,
            np.divide(k_b, n_b, out=np.zeros(len(at)), where=n_b > 0))
    out.add(cat.CURRENT_DEPTH, current)
    out.add(cat.MAX_DEPTH, np.full(len(at), cfg.max_depth))
    auto = step_values(lg.auto_t, lg.auto_d, at)
    out.add(cat.ENABLED, (1.0 if cfg.enabled else 0.0) * (1.0 - auto))
    out.add(cat.AUTO_DISABLED, auto)
    out.add(cat.WORKERS_BUSY,
            _open(lg.batch_t, lg.batch_t + lg.batch_dur, at))
    out.add(cat.WORKERS, np.full(len(at), cfg.proof.worker_threads))
    for name in CONFIG_GAUGES:
        value = cfg
        for part in name.split("."):
            value = getattr(value, part)
        out.add(cat.CONFIG, np.full(len(at), float(value)), parameter=name)
    spec = a["spec"]
    bond = cfg.stake.min_stake + cfg.stake.stake_per_depth * a["depth"][spec]
    out.add(cat.STAKE_LOCKED,
            _open(a["start"][spec], a["end"][spec], at, bond))
    return out.frame()
