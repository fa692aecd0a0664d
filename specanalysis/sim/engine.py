"""The discrete-event engine of the simulated speculation runtime.

:func:`simulate` plays a :class:`~specanalysis.sim.workload.Workload` against a
:class:`~specanalysis.config.SpeculationConfig` and returns a :class:`SimResult`.
It is deterministic for a seed (``numpy.random.default_rng``), pure Python on a
``heapq`` event queue.

Semantics
---------
Chains
    Every task of a chain arrives with the chain; the first task is the root, each
    other task has exactly one parent (``Workload.shape``: chain, star/fan_out,
    tree) or several (``diamond``, ``dag`` with parent lists). A task can execute
    once all its parents have *executed* (their outputs exist), is submitted once
    all its parents are final, and a rollback undoes every executed descendant
    (cascade); in a DAG its depth is the longest run of unconfirmed ancestors.
Depth
    The number of *unconfirmed* (not finalised) ancestors of a task when it starts
    executing (runtime-facts §4, DD reading): root or parent finalised -> 0. A task
    at depth 0 executes non-speculatively. A task at depth ``d >= 1`` executes
    speculatively only if speculation is enabled, its chain is in the rollout
    share, ``d < max_depth``, and a branch slot, a state snapshot, pending-operation
    room and memory are available; otherwise it waits, and is reconsidered when an
    ancestor finalises (its depth falls) or a slot frees. Speculation disabled: every
    task waits for its parent's finalisation (the sequential baseline).
Branch
    A chain holding at least one in-flight speculative task (executed at depth >= 1,
    not finalised or rolled back). ``max_parallel_branches`` bounds how many chains
    are branches at once (1 when ``features.enable_parallel_speculation`` is off).
Proofs
    When a task finishes executing, its proof request enters the proof queue
    (``proof.queue_size``); when the queue is full the request waits outside it
    (backpressure, FIFO). ``proof.worker_threads`` workers each take up to
    ``proof.batch_size`` queued proofs at once; a free worker waits for a batch
    to fill until ``SimSettings.batch_timeout`` after the oldest queued proof's
    arrival. A batch of ``k`` costs ``proof_overhead + k`` per-proof draws of
    ``proof_time`` and all its proofs complete together. With ``optimistic_generation`` /
    ``enable_optimistic_proofs`` off, a proof is requested only once the parent is
    finalised. A proof not done ``proof.timeout_ms`` after its request is a
    ``timeout``.
Confirmation
    A generated proof is submitted on chain once the parent is finalised; it is
    final ``confirm_time`` later, unless that exceeds ``confirmation_timeout_ms``
    (then a ``timeout`` at the deadline). An invalid proof (probability
    ``Workload.failures`` per execution attempt) is rejected at confirmation
    (``proof_invalid``). With fixed times, q = 0 and enough workers this gives
    runtime-facts §4's recurrence ``t_i = max(i*Te + Tp, t_{i-1}) + Tc``.
Rollback
    The trigger is undone and re-executes after ``retry_delay_ms *
    retry_multiplier**(k-1)`` (k-th failure of that task); after ``max_retries``
    retries it is abandoned with its whole subtree (the chain fails). ``cascade``
    (and ``checkpoint``, which the runtime does not implement) also undoes every
    executed descendant (reason ``ancestor_failed``); they re-execute when their
    parent has executed again. ``selective`` undoes descendants only when the
    trigger's output changes (an invalid proof caused by a wrong output, share
    ``Workload.invalid_output_share``); after a timeout or a prover fault it keeps
    them, and descendants whose proof was generated (or being generated) re-prove.
    Blast radius = trigger + undone descendants.
Admission and load shedding
    A speculative execution is deferred (counted once per attempt and reason in
    ``speculation_tasks_deferred_total``) when speculation is off or
    auto-disabled, the chain is outside the rollout share, the depth limit, the
    branch limit, the snapshot, pending-operation or memory limit would be
    exceeded, its chain already holds ``limits.max_rollback_cascade_size`` tasks
    in flight (so no rollback can undo more), or the proof queue is full. With
    ``SimSettings.on_full_queue == "reject"`` a chain arriving while the proof
    queue is full is refused whole (``speculation_tasks_rejected_total``).
Auto-disable
    :class:`SimSettings` picks the reading (operations policy by default,
    the scheduler code's cumulative threshold, or off).
Instances
    ``Workload.instances > 1`` runs independent runtimes, each with the
    configuration's limits and a Poisson share of the chains; the result merges
    them (``instance`` column and label) and keeps each in ``SimResult.parts``.
Not modelled
    ``checkpoint`` rollback (the runtime does not implement it; it behaves as
    ``cascade``), stake admission and slashing amounts.
Memory (bytes, by component; :class:`MemoryModel`)
    state_snapshots = in-flight speculative tasks x ``Workload.state_mb``;
    pending_operations = in-flight tasks x 1 KiB; proof_cache = proofs generated
    and not yet final x 256 KiB, capped at ``proof.cache_size_mb``; rollback_logs =
    tasks rolled back within the last ``gc_interval_ms`` x 1 KiB;
    commitment_ledger = tasks arrived and not final x 200 B.

Examples
--------
>>> from specanalysis.config import SpeculationConfig
>>> from specanalysis.sim import Workload, simulate
>>> cfg = SpeculationConfig(enabled=True)
>>> r = simulate(cfg, Workload(rate=5, depth="fixed:3"), duration="1m", seed=1)
>>> r.tasks.height > 0, set(r.tasks["outcome"].unique()) <= {"confirmed", "rolled_back", "in_flight"}
(True, True)
"""

from __future__ import annotations

import heapq
import math
import os
import sys
from collections import deque
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Any

import numpy as np
import polars as pl

from specanalysis import catalogue as _cat
from specanalysis._time import parse_duration, to_ms
from specanalysis.errors import SpecAnalysisError, WorkloadSpecError
from specanalysis.sim.workload import Workload, arrival_times

__all__ = ["MemoryModel", "EventLog", "SimResult", "SimSettings", "simulate",
           "DEFAULT_START", "DEFER_REASONS"]

#: Wall-clock instant of simulated time 0 (fixed, so a seed reproduces timestamps).
DEFAULT_START = datetime(2025, 1, 1, tzinfo=timezone.utc)

# task states
WAITING, EXEC, PROVING, PROVED, SUBMITTED, FINAL, RETRY_WAIT, ABANDONED = range(8)
# proof job states
JOB_NONE, JOB_BACKLOG, JOB_QUEUED, JOB_SERVICE = range(4)
# event kinds
(E_ARRIVE, E_EXEC_END, E_BATCH_END, E_CONFIRM, E_CONF_TIMEOUT, E_PROOF_TIMEOUT, E_RETRY,
 E_BATCH_TIMER, E_REENABLE) = range(9)
# try_start outcomes
STARTED, BLOCKED_PARENT, BLOCKED_DEPTH, BLOCKED_SLOT = range(4)
# attempt outcomes
OUTCOMES = ("in_flight", "confirmed", "rolled_back")
#: Deferral reasons (the index is what a deferral record keeps).
DEFER_REASONS = _cat.DEFER_REASONS
(D_DEPTH, D_BRANCH, D_SNAP, D_PENDING, D_MEMORY, D_CASCADE, D_QUEUE, D_DISABLED,
 D_ROLLOUT) = range(len(DEFER_REASONS))

_MIB = 1024.0 * 1024.0


@dataclass(frozen=True)
class MemoryModel:
    """Bytes the runtime holds per unit of speculation state (see module docstring)."""

    op_bytes: float = 1024.0
    proof_cache_entry_bytes: float = 256 * 1024.0
    rollback_log_bytes: float = 1024.0
    ledger_node_bytes: float = 200.0


@dataclass(frozen=True)
class SimSettings:
    """Runtime behaviours the runtime's documents leave unstated: the simulator's reading.

    Every field is a choice a runtime engineer would expect, named so that it can
    be changed and cited (the fixtures' provenance lists them).

    Parameters
    ----------
    batch_timeout
        Seconds a free proof worker waits for a batch to fill: it starts a batch
        when ``proof.batch_size`` proofs are queued or the oldest queued proof has
        waited this long (proof-cost.md, "Batching": fill = min((B-1)/(2 lambda),
        batch_timeout)). ``0`` never waits (every free worker takes what is queued).
    on_full_queue
        ``"reject"``: while the proof queue holds ``proof.queue_size`` proofs the
        runtime refuses new task submissions (load shedding, counted in
        ``speculation_tasks_rejected_total{reason="proof_queue_full"}``) and defers
        new speculative executions; proofs of tasks already admitted wait for
        room. ``"defer"``: nothing is refused; proof requests wait outside the
        queue without bound (backpressure only).
    auto_disable
        ``"policy"`` (the operations policy, runtime-facts §4 (b)): when the share
        of tasks rolled back among the tasks executed in the last
        ``auto_disable_window`` seconds exceeds ``auto_disable_threshold`` (with at
        least ``auto_disable_min_tasks`` executed), speculation is switched off
        for ``auto_disable_cooldown`` seconds: in-flight work drains, new
        speculative executions are deferred (reason ``disabled``).
        ``"code"`` (the scheduler code, §4 (a)): off for good once speculative
        tasks rolled back exceed ``code_threshold_pct`` % of speculative
        executions since the start (after 50 executions). ``"off"``: never.

    Examples
    --------
    >>> SimSettings(batch_timeout=0.5).batch_timeout
    0.5
    >>> SimSettings(on_full_queue="drop")
    Traceback (most recent call last):
    ...
    specanalysis.errors.WorkloadSpecError: settings.on_full_queue: 'drop' is not a policy (expected 'reject' or 'defer')
    """

    batch_timeout: float = 1.0
    on_full_queue: str = "reject"
    auto_disable: str = "policy"
    auto_disable_window: float = 120.0
    auto_disable_threshold: float = 0.5
    auto_disable_cooldown: float = 600.0
    auto_disable_min_tasks: int = 20
    code_threshold_pct: float = 20.0

    def __post_init__(self) -> None:
        for name in ("batch_timeout", "auto_disable_window", "auto_disable_cooldown",
                     "code_threshold_pct", "auto_disable_threshold"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) \
                    or not math.isfinite(v) or v < 0:
                raise WorkloadSpecError(f"{v!r} is not a non-negative number",
                                        field=f"settings.{name}",
                                        expected="a finite number >= 0")
        if self.on_full_queue not in ("reject", "defer"):
            raise WorkloadSpecError(f"{self.on_full_queue!r} is not a policy",
                                    field="settings.on_full_queue",
                                    expected="'reject' or 'defer'")
        if self.auto_disable not in ("policy", "code", "off"):
            raise WorkloadSpecError(f"{self.auto_disable!r} is not a reading",
                                    field="settings.auto_disable",
                                    expected="'policy', 'code' or 'off'")
        n = self.auto_disable_min_tasks
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise WorkloadSpecError(f"{n!r} is not a count",
                                    field="settings.auto_disable_min_tasks",
                                    expected="an integer >= 1")

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain values (for provenance and result files)."""
        from dataclasses import asdict

        return asdict(self)


@dataclass(frozen=True)
class EventLog:
    """Raw event arrays the metrics are built from (times in seconds from start)."""

    queue_t: np.ndarray           # proof queue depth changes
    queue_d: np.ndarray
    branch_t: np.ndarray          # active branch changes
    branch_d: np.ndarray
    batch_t: np.ndarray           # batch start times and sizes
    batch_k: np.ndarray
    proof_t: np.ndarray           # proof completions and their latency (request -> done)
    proof_v: np.ndarray
    confirm_t: np.ndarray         # on-chain results and confirmation time
    confirm_v: np.ndarray
    batch_dur: np.ndarray = field(default_factory=lambda: np.empty(0))   # service time
    defer_t: np.ndarray = field(default_factory=lambda: np.empty(0))     # deferrals
    defer_reason: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    defer_depth: np.ndarray = field(default_factory=lambda: np.empty(0))
    wait_t: np.ndarray = field(default_factory=lambda: np.empty(0))      # deferral waits
    wait_v: np.ndarray = field(default_factory=lambda: np.empty(0))
    reject_t: np.ndarray = field(default_factory=lambda: np.empty(0))    # shed submissions
    reject_n: np.ndarray = field(default_factory=lambda: np.empty(0))
    auto_t: np.ndarray = field(default_factory=lambda: np.empty(0))      # auto-disable
    auto_d: np.ndarray = field(default_factory=lambda: np.empty(0))


class _Stream:
    """Buffered draws from one distribution with its own generator."""

    __slots__ = ("dist", "rng", "buf", "i")

    def __init__(self, dist: Any, rng: np.random.Generator) -> None:
        self.dist, self.rng, self.buf, self.i = dist, rng, [], 0

    def __call__(self) -> float:
        if self.i >= len(self.buf):
            self.buf = np.asarray(self.dist.sample(self.rng, 4096), dtype=np.float64).tolist()
            self.i = 0
        v = self.buf[self.i]
        self.i += 1
        return v


class _Uniform:
    __slots__ = ("rng", "buf", "i")

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng, self.buf, self.i = rng, [], 0

    def __call__(self) -> float:
        if self.i >= len(self.buf):
            self.buf = self.rng.random(4096).tolist()
            self.i = 0
        v = self.buf[self.i]
        self.i += 1
        return v


def _progress_bar(progress: bool | None, total: float):
    if progress is None:
        progress = sys.stderr.isatty() and not os.environ.get("CI")
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=round(total), unit="sim-s", desc="simulate", leave=False)


def simulate(
    config: Any = None,
    workload: Workload | None = None,
    *,
    duration: str | float = "5m",
    seed: int = 0,
    drain: bool | str | float = False,
    start: Any = DEFAULT_START,
    scrape_interval: str | float = "15s",
    memory: MemoryModel | None = None,
    settings: SimSettings | None = None,
    progress: bool | None = None,
) -> SimResult:
    """Simulate the runtime under ``config`` and ``workload``.

    Parameters
    ----------
    config
        A ``SpeculationConfig`` (``None``: the runtime defaults, where speculation
        is off).
    workload
        The offered load (``None``: ``Workload()``).
    duration
        Seconds or a duration string (``"5m"``): chains arrive in ``[0, duration)``.
    seed
        Seed of ``numpy.random.default_rng``; the same seed gives identical frames.
    drain
        After ``duration``, keep running without new arrivals: ``True`` until all
        work is done, or for a duration. ``False`` stops at ``duration`` with work
        in flight.
    start
        Wall-clock instant of simulated time 0 (for the samples' timestamps).
    scrape_interval
        Interval of the ``samples`` frame (Prometheus' scrape interval).
    memory
        Bytes per unit of state (:class:`MemoryModel`).
    settings
        The simulator's reading of behaviours the runtime leaves unstated
        (:class:`SimSettings`: batch fill wait, full proof queue, auto-disable).
    progress
        Show a tqdm bar (``None``: only on a terminal and outside CI).

    Raises
    ------
    WorkloadSpecError
        A bad ``duration``, ``seed``, ``drain`` or workload.
    ConfigError
        An invalid configuration (from ``SpeculationConfig``).

    Examples
    --------
    >>> from specanalysis.config import SpeculationConfig
    >>> r = simulate(SpeculationConfig(enabled=True),
    ...              Workload(rate=2, depth="fixed:2", failures=0.2),
    ...              duration=60, seed=3, drain=True)
    >>> (r.tasks["outcome"] == "in_flight").sum()
    0
    """
    from specanalysis.config import SpeculationConfig

    if config is None:
        config = SpeculationConfig()
    if not isinstance(config, SpeculationConfig):
        raise WorkloadSpecError(f"got {type(config).__name__}", field="config",
                                expected="a SpeculationConfig")
    if workload is None:
        workload = Workload()
    if not isinstance(workload, Workload):
        raise WorkloadSpecError(f"got {type(workload).__name__}", field="workload",
                                expected="a Workload")
    dur = _duration(duration, "duration")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise WorkloadSpecError(f"{seed!r} is not a seed", field="seed",
                                expected="an integer >= 0")
    if drain is True:
        horizon = math.inf
    elif drain is False or drain is None:
        horizon = dur
    else:
        horizon = dur + _duration(drain, "drain")
    scrape = _duration(scrape_interval, "scrape_interval")
    start_ms = to_ms(start, field="start")
    if settings is None:
        settings = SimSettings()
    if not isinstance(settings, SimSettings):
        raise WorkloadSpecError(f"got {type(settings).__name__}", field="settings",
                                expected="a SimSettings")
    memory = memory or MemoryModel()
    n = int(workload.instances)
    if n == 1:
        sim = _Sim(config, workload, dur, int(seed), memory, settings)
        end = sim.run(horizon, _progress_bar(progress,
                                             dur if math.isinf(horizon) else horizon))
        return sim.result(end, start_ms, scrape)
    from dataclasses import replace

    share = replace(workload, rate=workload.rate / n, instances=1)
    parts = []
    children = np.random.SeedSequence(int(seed)).spawn(n)
    for k in range(n):
        sim = _Sim(config, share, dur, children[k], memory, settings)
        end = sim.run(horizon, _progress_bar(progress,
                                             dur if math.isinf(horizon) else horizon))
        part = sim.result(end, start_ms, scrape, instance=f"runtime-{k}")
        object.__setattr__(part, "samples", _label(part.samples, f"runtime-{k}"))
        parts.append(part)
    return _merge(parts, workload, int(seed))


def _label(samples: pl.DataFrame, instance: str) -> pl.DataFrame:
    return samples.with_columns(pl.lit(instance, dtype=pl.String).alias("instance"))


def _merge(parts: list[SimResult], workload: Workload, seed: int) -> SimResult:
    """One fleet result from per-instance results (ids offset, ``instance`` kept)."""
    end = max(p.end for p in parts)
    tasks, chains, rollbacks = [], [], []
    t_off = c_off = r_off = 0
    for p in parts:
        tasks.append(p.tasks.with_columns(
            pl.col("task_id") + t_off, pl.col("chain_id") + c_off,
            pl.col("parent_id") + t_off, pl.col("rollback_id") + r_off))
        chains.append(p.chains.with_columns(pl.col("chain_id") + c_off))
        rollbacks.append(p.rollbacks.with_columns(
            pl.col("rollback_id") + r_off, pl.col("chain_id") + c_off,
            pl.col("task_id") + t_off))
        t_off += p.n_tasks_arrived
        c_off += p.chains.height
        r_off += p.rollbacks.height
    logs = [p.log for p in parts]
    log = EventLog(**{f.name: np.concatenate([getattr(lg, f.name) for lg in logs])
                      for f in fields(EventLog)})
    first = parts[0]
    res = SimResult(
        tasks=pl.concat(tasks), chains=pl.concat(chains), rollbacks=pl.concat(rollbacks),
        log=log, config=first.config, workload=workload, duration=first.duration,
        end=end, start_ms=first.start_ms, scrape_interval=first.scrape_interval,
        memory=first.memory, n_tasks_arrived=t_off, seed=seed, settings=first.settings,
        parts=tuple(parts),
    )
    object.__setattr__(res, "samples", pl.concat([p.samples for p in parts],
                                                 how="diagonal"))
    return res


def _duration(value: Any, name: str) -> float:
    try:
        return parse_duration(value, field=name)
    except WorkloadSpecError:
        raise
    except SpecAnalysisError as exc:
        raise WorkloadSpecError(exc.message, field=name, expected=exc.expected) from None


class _Sim:
    """State of one run. Hot paths use plain lists and local variables."""

    def __init__(self, cfg: Any, wl: Workload, duration: float,
                 seed: int | np.random.SeedSequence, mem: MemoryModel,
                 settings: SimSettings) -> None:
        self.cfg, self.wl, self.duration, self.mem = cfg, wl, duration, mem
        self.settings = settings
        self.seed = seed if isinstance(seed, int) else int(seed.entropy)
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        (r_arr, r_len, r_shape, r_exec, r_proof, r_over, r_conf, r_fail, r_chg,
         r_roll) = (np.random.default_rng(s) for s in ss.spawn(10))
        self.exec_s = _Stream(wl.dist("exec_time"), r_exec)
        self.proof_s = _Stream(wl.dist("proof_time"), r_proof)
        self.over_s = _Stream(wl.dist("proof_overhead"), r_over)
        self.conf_s = _Stream(wl.dist("confirm_time"), r_conf)
        self.fail_u = _Uniform(r_fail)
        self.chg_u = _Uniform(r_chg)

        # ---- chains and tasks, pre-sampled
        arr = arrival_times(wl, duration, r_arr)
        n_chains = len(arr)
        lengths = wl.depth_dist.sample(r_len, n_chains).astype(np.int64)
        first = np.zeros(n_chains, dtype=np.int64)
        if n_chains:
            first[1:] = np.cumsum(lengths)[:-1]
        n_tasks = int(lengths.sum())
        chain_of = np.repeat(np.arange(n_chains, dtype=np.int64), lengths)
        pos = np.arange(n_tasks, dtype=np.int64) - np.repeat(first, lengths)
        parents: list[tuple[int, ...]] | None = None
        if wl.shape == "chain":
            parent = np.where(pos == 0, -1, np.arange(n_tasks) - 1)
        elif wl.shape in ("star", "fan_out"):
            parent = np.where(pos == 0, -1, np.repeat(first, lengths))
        elif wl.shape == "tree":  # parent uniform among the earlier tasks of the chain
            u = r_shape.random(n_tasks)
            parent = np.where(pos == 0, -1,
                              np.repeat(first, lengths) + np.floor(u * pos).astype(np.int64))
        else:  # diamond or dag: several parents per task
            parents = []
            for f, n in zip(first.tolist(), lengths.tolist(), strict=True):
                if wl.shape == "dag":
                    group = wl.graph
                elif n < 3:
                    group = [()] + [(j - 1,) for j in range(1, n)]
                else:
                    group = [()] + [(0,)] * (n - 2) + [tuple(range(1, n - 1))]
                parents.extend(tuple(f + q for q in ps) for ps in group)
            parent = np.asarray([ps[0] if ps else -1 for ps in parents], dtype=np.int64)
        self.chain_arrival = arr.tolist()
        self.chain_first = first.tolist()
        self.chain_len = lengths.tolist()
        self.chain_of = chain_of.tolist()
        self.pos = pos.tolist()
        self.parent = parent.astype(np.int64).tolist()
        # multi-parent graphs: all parents of each task (None: single-parent shapes)
        self.parents = parents if parents is not None and any(
            len(ps) > 1 for ps in parents) else None
        children: list[list[int]] = [[] for _ in range(n_tasks)]
        if self.parents is None:
            for i, p in enumerate(self.parent):
                if p >= 0:
                    children[p].append(i)
        else:
            for i, ps in enumerate(self.parents):
                for p in ps:
                    children[p].append(i)
        self.children = children
        rollout = cfg.features.rollout_percentage / 100.0
        self.chain_spec_ok = (r_roll.random(n_chains) < rollout).tolist()
        self.n_tasks, self.n_chains = n_tasks, n_chains

        # ---- per-task state
        self.status = [WAITING] * n_tasks
        self.att = [0] * n_tasks
        self.gen = [0] * n_tasks
        self.row = [-1] * n_tasks
        self.spec = [False] * n_tasks
        self.nfail = [0] * n_tasks
        self.job = [JOB_NONE] * n_tasks
        self.invalid = [False] * n_tasks
        self.outchg = [False] * n_tasks
        self.req_t = [0.0] * n_tasks
        self.in_wait = [False] * n_tasks
        self.chain_spec = [0] * n_chains
        self.chain_inflight = [0] * n_chains
        self.chain_rejected = [False] * n_chains
        self.def_first = [math.nan] * n_tasks
        self.def_mask = [0] * n_tasks
        self.chain_left = list(self.chain_len)
        self.chain_end = [math.nan] * n_chains
        self.chain_failed = [False] * n_chains

        # ---- config
        self.enabled = bool(cfg.enabled)
        self.max_depth = cfg.max_depth
        self.branch_limit = (cfg.max_parallel_branches
                             if cfg.features.enable_parallel_speculation else 1)
        self.max_snap = cfg.limits.max_state_snapshots
        self.max_pending = cfg.limits.max_pending_operations
        self.mem_limit = cfg.limits.max_memory_mb * _MIB
        self.state_bytes = wl.state_mb * _MIB
        self.selective = cfg.rollback_policy == "selective"
        self.optimistic = bool(cfg.proof.optimistic_generation
                               and cfg.features.enable_optimistic_proofs)
        self.workers = cfg.proof.worker_threads
        self.qcap = cfg.proof.queue_size
        self.bsize = cfg.proof.batch_size
        self.proof_timeout = cfg.proof.timeout_ms / 1000.0
        self.conf_timeout = cfg.confirmation_timeout_ms / 1000.0
        self.max_retries = cfg.proof.max_retries
        self.retry_delay = cfg.proof.retry_delay_ms / 1000.0
        self.retry_mult = cfg.proof.retry_multiplier
        self.failures = wl.failures
        self.cascade_cap = cfg.limits.max_rollback_cascade_size
        self.bwait = float(settings.batch_timeout)
        self.reject_full = settings.on_full_queue == "reject"
        self.ad_mode = settings.auto_disable
        self.timer_at = -math.inf
        self.auto_off = False
        self.ad_started: deque = deque()
        self.ad_undone: deque = deque()
        self.ad_undone_sum = 0
        self.spec_exec = 0
        self.spec_undone = 0
        self.out_share = wl.invalid_output_share

        # ---- dynamic counters
        self.active_branches = 0
        self.n_snap = 0
        self.n_active = 0
        self.idle = self.workers
        self.queue: deque = deque()
        self.backlog: deque = deque()
        self.qlive = 0
        self.waiters: deque = deque()

        # ---- records (one per execution attempt)
        self.r_task: list[int] = []
        self.r_att: list[int] = []
        self.r_start: list[float] = []
        self.r_exec_end: list[float] = []
        self.r_req: list[float] = []
        self.r_pstart: list[float] = []
        self.r_pend: list[float] = []
        self.r_sub: list[float] = []
        self.r_end: list[float] = []
        self.r_depth: list[int] = []
        self.r_spec: list[bool] = []
        self.r_out: list[int] = []
        self.r_reason: list[str | None] = []
        self.r_rid: list[int] = []
        self.r_batch: list[int] = []
        self.r_invalid: list[bool] = []
        # event logs
        self.q_t: list[float] = []
        self.q_d: list[int] = []
        self.b_t: list[float] = []
        self.b_d: list[int] = []
        self.bat_t: list[float] = []
        self.bat_k: list[int] = []
        self.bat_dur: list[float] = []
        self.def_t: list[float] = []
        self.def_r: list[int] = []
        self.def_d: list[int] = []
        self.dw_t: list[float] = []
        self.dw_v: list[float] = []
        self.rej_t: list[float] = []
        self.rej_n: list[int] = []
        self.auto_t: list[float] = []
        self.auto_d: list[int] = []
        self.pr_t: list[float] = []
        self.pr_v: list[float] = []
        self.cf_t: list[float] = []
        self.cf_v: list[float] = []
        # rollbacks
        self.rb_t: list[float] = []
        self.rb_task: list[int] = []
        self.rb_reason: list[str] = []
        self.rb_size: list[int] = []
        self.rb_depth: list[int] = []
        self.rb_abandon: list[bool] = []

        self.heap: list = [(t, c, E_ARRIVE, c, 0, 0) for c, t in enumerate(self.chain_arrival)]
        heapq.heapify(self.heap)
        self.seq = n_chains

    # ------------------------------------------------------------------ events
    def push(self, t: float, kind: int, a: int, b: int = 0, c: Any = 0) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, kind, a, b, c))

    def run(self, horizon: float, bar: Any) -> float:
        heap = self.heap
        pop = heapq.heappop
        now = 0.0
        n = 0
        last = 0.0
        handlers = (self.arrive, self.exec_end, self.batch_end, self.confirm,
                    self.conf_timeout_ev, self.proof_timeout_ev, self.retry,
                    self.batch_timer, self.reenable)
        try:
            while heap and heap[0][0] <= horizon:
                now, _, kind, a, b, c = pop(heap)
                handlers[kind](a, b, c, now)
                n += 1
                if bar is not None and not n & 4095 and now - last >= 1:
                    bar.update(round(now - last))
                    last = now
        finally:
            if bar is not None:
                bar.close()
        if math.isinf(horizon):
            return max(now, self.duration)
        return horizon

    def arrive(self, c: int, _b: int, _c: Any, now: float) -> None:
        if self.reject_full and self.qlive >= self.qcap:
            # load shedding: the whole submission (every task of the chain) is refused
            self.chain_rejected[c] = True
            self.chain_left[c] = 0
            self.rej_t.append(now)
            self.rej_n.append(self.chain_len[c])
            for j in range(self.chain_first[c], self.chain_first[c] + self.chain_len[c]):
                self.status[j] = ABANDONED
            return
        i = self.chain_first[c]
        if self.try_start(i, now) == BLOCKED_SLOT:  # pragma: no cover - roots never block
            self.add_waiter(i)

    def defer(self, i: int, reason: int, d: int, now: float) -> None:
        """Count a refused speculative admission once per task attempt and reason.

        The record keeps the task's structural dependency depth (its position in
        the chain, root 0: the on-chain ``Task.dependency_depth``), so deferrals at
        the depth limit show how deep the offered chains go beyond the cap.
        """
        bit = 1 << reason
        if self.def_mask[i] & bit:
            return
        self.def_mask[i] |= bit
        if self.def_first[i] != self.def_first[i]:
            self.def_first[i] = now
        self.def_t.append(now)
        self.def_r.append(reason)
        self.def_d.append(self.pos[i])

    def dag_depth(self, i: int) -> int:
        """Depth of ``i`` in a multi-parent graph: -1 when a parent has not
        executed, else the longest run of unconfirmed ancestors (WP Def 3.3),
        counted up to ``max_depth``."""
        status, parents = self.status, self.parents
        for p in parents[i]:  # type: ignore[index]
            sp = status[p]
            if sp != FINAL and sp != PROVING and sp != PROVED and sp != SUBMITTED:
                return -1
        # level k holds the unconfirmed ancestors k edges up some path of
        # unconfirmed tasks; the depth is the deepest non-empty level. Walking
        # stops at max_depth (a deeper run blocks the task all the same).
        cap = self.max_depth if self.enabled else 1
        level = {p for p in parents[i] if status[p] != FINAL}  # type: ignore[index]
        d = 0
        while level and d < cap:
            d += 1
            level = {q for x in level for q in parents[x] if status[q] != FINAL}
        return d

    def parents_final(self, i: int) -> bool:
        status = self.status
        if self.parents is None:
            p = self.parent[i]
            return p < 0 or status[p] == FINAL
        return all(status[p] == FINAL for p in self.parents[i])

    def try_start(self, i: int, now: float) -> int:
        status = self.status
        p = self.parent[i]
        d = 0
        if self.parents is not None:
            d = self.dag_depth(i)
            if d < 0:
                return BLOCKED_PARENT
        elif p >= 0:
            sp = status[p]
            if sp != FINAL:
                if sp != PROVING and sp != PROVED and sp != SUBMITTED:
                    return BLOCKED_PARENT
                d = 1
                parent = self.parent
                q = parent[p]
                while q >= 0 and status[q] != FINAL:
                    d += 1
                    q = parent[q]
        c = self.chain_of[i]
        if d:
            if not self.enabled:
                self.defer(i, D_DISABLED, d, now)
                return BLOCKED_DEPTH
            if not self.chain_spec_ok[c]:
                self.defer(i, D_ROLLOUT, d, now)
                return BLOCKED_DEPTH
            if d >= self.max_depth:
                self.defer(i, D_DEPTH, d, now)
                return BLOCKED_DEPTH
            reason = -1
            if self.auto_off:
                reason = D_DISABLED
            elif self.chain_spec[c] == 0 and self.active_branches >= self.branch_limit:
                reason = D_BRANCH
            elif self.n_snap >= self.max_snap:
                reason = D_SNAP
            elif self.n_active >= self.max_pending:
                reason = D_PENDING
            elif ((self.n_snap + 1) * self.state_bytes
                  + self.n_active * self.mem.op_bytes > self.mem_limit):
                reason = D_MEMORY
            elif self.chain_inflight[c] + 1 > self.cascade_cap:
                reason = D_CASCADE
            elif self.qlive >= self.qcap:
                reason = D_QUEUE
            if reason >= 0:
                self.defer(i, reason, d, now)
                return BLOCKED_SLOT
            self.spec[i] = True
            self.spec_exec += 1
            self.n_snap += 1
            if self.chain_spec[c] == 0:
                self.active_branches += 1
                self.b_t.append(now)
                self.b_d.append(1)
            self.chain_spec[c] += 1
        status[i] = EXEC
        self.n_active += 1
        self.chain_inflight[c] += 1
        if self.def_first[i] == self.def_first[i]:
            self.dw_t.append(now)
            self.dw_v.append(now - self.def_first[i])
            self.def_first[i] = math.nan
        self.def_mask[i] = 0
        if self.ad_mode == "policy":
            started = self.ad_started
            started.append(now)
            horizon = now - self.settings.auto_disable_window
            while started[0] < horizon:
                started.popleft()
        self.row[i] = len(self.r_task)
        self.r_task.append(i)
        self.r_att.append(self.att[i])
        self.r_start.append(now)
        self.r_exec_end.append(math.nan)
        self.r_req.append(math.nan)
        self.r_pstart.append(math.nan)
        self.r_pend.append(math.nan)
        self.r_sub.append(math.nan)
        self.r_end.append(math.nan)
        self.r_depth.append(d)
        self.r_spec.append(d > 0)
        self.r_out.append(0)
        self.r_reason.append(None)
        self.r_rid.append(-1)
        self.r_batch.append(0)
        bad = self.failures > 0 and self.fail_u() < self.failures
        self.invalid[i] = bad
        self.r_invalid.append(bad)
        self.outchg[i] = bad and self.chg_u() < self.out_share
        self.push(now + self.exec_s(), E_EXEC_END, i, self.att[i])
        return STARTED

    def add_waiter(self, i: int) -> None:
        if not self.in_wait[i]:
            self.in_wait[i] = True
            self.waiters.append(i)

    def process_waiters(self, now: float) -> None:
        waiters = self.waiters
        for _ in range(len(waiters)):
            if not waiters:
                return
            j = waiters.popleft()
            self.in_wait[j] = False
            if self.status[j] != WAITING:
                continue
            r = self.try_start(j, now)
            if r == BLOCKED_SLOT:
                self.in_wait[j] = True
                waiters.appendleft(j)
                return

    def exec_end(self, i: int, a: int, _c: Any, now: float) -> None:
        if self.att[i] != a or self.status[i] != EXEC:
            return
        self.status[i] = PROVING
        self.r_exec_end[self.row[i]] = now
        if self.optimistic or self.parents_final(i):
            self.request_proof(i, now)
        status = self.status
        for ch in self.children[i]:
            if status[ch] == WAITING and self.try_start(ch, now) == BLOCKED_SLOT:
                self.add_waiter(ch)

    def request_proof(self, i: int, now: float) -> None:
        row = self.row[i]
        if self.r_req[row] != self.r_req[row]:  # NaN: first request of this attempt
            self.r_req[row] = now
        self.req_t[i] = now
        job = (i, self.att[i], self.gen[i], now)
        if self.qlive < self.qcap:
            self.queue.append(job)
            self.qlive += 1
            self.job[i] = JOB_QUEUED
            self.q_t.append(now)
            self.q_d.append(1)
        else:
            self.backlog.append(job)
            self.job[i] = JOB_BACKLOG
        self.push(now + self.proof_timeout, E_PROOF_TIMEOUT, i, self.att[i], self.gen[i])
        if self.idle:
            self.dispatch(now)

    def dispatch(self, now: float) -> None:
        queue, att, gen, jobst = self.queue, self.att, self.gen, self.job
        freed = False
        while self.idle and self.qlive:
            if self.qlive < self.bsize and self.bwait > 0:
                while True:  # drop stale entries at the front to find the oldest proof
                    i, a, g, _ = queue[0]
                    if att[i] == a and gen[i] == g and jobst[i] == JOB_QUEUED:
                        break
                    queue.popleft()
                due = queue[0][3] + self.bwait
                if now < due - 1e-9:  # wait for the batch to fill, at most until due
                    if not now < self.timer_at <= due + 1e-9:
                        self.timer_at = due
                        self.push(due, E_BATCH_TIMER, 0)
                    break
            batch = []
            while queue and len(batch) < self.bsize:
                i, a, g, _ = queue.popleft()
                if att[i] != a or gen[i] != g or jobst[i] != JOB_QUEUED:
                    continue
                jobst[i] = JOB_SERVICE
                batch.append((i, a, g))
                row = self.row[i]
                self.r_pstart[row] = now
                self.r_batch[row] = 0  # set below
            k = len(batch)
            if not k:  # only stale entries were left
                break
            self.qlive -= k
            self.q_t.append(now)
            self.q_d.append(-k)
            for i, _, _ in batch:
                self.r_batch[self.row[i]] = k
            self.refill(now)
            freed = True
            cost = self.over_s()
            for _ in range(k):
                cost += self.proof_s()
            self.idle -= 1
            self.bat_t.append(now)
            self.bat_k.append(k)
            self.bat_dur.append(cost)
            self.push(now + cost, E_BATCH_END, 0, 0, batch)
        if freed and self.waiters:
            self.process_waiters(now)

    def batch_timer(self, _a: int, _b: int, _c: Any, now: float) -> None:
        if now >= self.timer_at - 1e-9:
            self.timer_at = -math.inf
        if self.idle:
            self.dispatch(now)

    def reenable(self, _a: int, _b: int, _c: Any, now: float) -> None:
        if self.auto_off:
            self.auto_off = False
            self.auto_t.append(now)
            self.auto_d.append(-1)
            self.process_waiters(now)

    def check_auto_disable(self, undone: int, spec_undone: int, now: float) -> None:
        """Switch speculation off as the runtime's auto-disable reading says."""
        st = self.settings
        if self.auto_off or self.ad_mode == "off":
            return
        if self.ad_mode == "code":
            self.spec_undone += spec_undone
            if (self.spec_exec >= 50
                    and 100.0 * self.spec_undone / self.spec_exec > st.code_threshold_pct):
                self.auto_off = True
                self.auto_t.append(now)
                self.auto_d.append(1)
            return
        window = st.auto_disable_window
        und = self.ad_undone
        und.append((now, undone))
        self.ad_undone_sum += undone
        while und[0][0] < now - window:
            self.ad_undone_sum -= und.popleft()[1]
        started = self.ad_started
        while started and started[0] < now - window:
            started.popleft()
        n = len(started)
        if n >= st.auto_disable_min_tasks and self.ad_undone_sum > st.auto_disable_threshold * n:
            self.auto_off = True
            self.auto_t.append(now)
            self.auto_d.append(1)
            self.push(now + st.auto_disable_cooldown, E_REENABLE, 0)

    def refill(self, now: float) -> None:
        backlog, att, gen, jobst = self.backlog, self.att, self.gen, self.job
        moved = 0
        while backlog and self.qlive < self.qcap:
            i, a, g, _ = backlog.popleft()
            if att[i] != a or gen[i] != g or jobst[i] != JOB_BACKLOG:
                continue
            self.queue.append((i, a, g, now))
            jobst[i] = JOB_QUEUED
            self.qlive += 1
            moved += 1
        if moved:
            self.q_t.append(now)
            self.q_d.append(moved)

    def batch_end(self, _a: int, _b: int, batch: list, now: float) -> None:
        self.idle += 1
        att, gen = self.att, self.gen
        for i, a, g in batch:
            if att[i] != a or gen[i] != g or self.status[i] != PROVING:
                continue
            self.job[i] = JOB_NONE
            self.status[i] = PROVED
            self.r_pend[self.row[i]] = now
            self.pr_t.append(now)
            self.pr_v.append(now - self.req_t[i])
            self.try_submit(i, now)
        self.dispatch(now)

    def try_submit(self, i: int, now: float) -> None:
        if not self.parents_final(i):
            return
        self.status[i] = SUBMITTED
        self.r_sub[self.row[i]] = now
        c = self.conf_s()
        if c > self.conf_timeout:
            self.push(now + self.conf_timeout, E_CONF_TIMEOUT, i, self.att[i])
        else:
            self.push(now + c, E_CONFIRM, i, self.att[i], c)

    def confirm(self, i: int, a: int, c: float, now: float) -> None:
        if self.att[i] != a or self.status[i] != SUBMITTED:
            return
        self.cf_t.append(now)
        self.cf_v.append(c)
        if self.invalid[i]:
            self.rollback(i, "proof_invalid", now)
        else:
            self.finalize(i, now)

    def conf_timeout_ev(self, i: int, a: int, _c: Any, now: float) -> None:
        if self.att[i] == a and self.status[i] == SUBMITTED:
            self.rollback(i, "timeout", now)

    def proof_timeout_ev(self, i: int, a: int, g: int, now: float) -> None:
        if self.att[i] == a and self.gen[i] == g and self.status[i] == PROVING:
            self.rollback(i, "timeout", now)

    def retry(self, i: int, a: int, _c: Any, now: float) -> None:
        if self.att[i] == a and self.status[i] == RETRY_WAIT:
            self.status[i] = WAITING
            if self.try_start(i, now) == BLOCKED_SLOT:
                self.add_waiter(i)

    def release(self, i: int, now: float) -> bool:
        """Free what an in-flight attempt holds; True when a slot freed."""
        self.n_active -= 1
        self.chain_inflight[self.chain_of[i]] -= 1
        j = self.job[i]
        if j == JOB_QUEUED:
            self.qlive -= 1
            self.q_t.append(now)
            self.q_d.append(-1)
        self.job[i] = JOB_NONE
        if self.spec[i]:
            self.spec[i] = False
            self.n_snap -= 1
            c = self.chain_of[i]
            self.chain_spec[c] -= 1
            if self.chain_spec[c] == 0:
                self.active_branches -= 1
                self.b_t.append(now)
                self.b_d.append(-1)
            return True
        return False

    def finalize(self, i: int, now: float) -> None:
        status = self.status
        status[i] = FINAL
        row = self.row[i]
        self.r_end[row] = now
        self.r_out[row] = 1
        freed = self.release(i, now)
        c = self.chain_of[i]
        self.chain_left[c] -= 1
        if self.chain_left[c] == 0:
            self.chain_end[c] = now
        children = self.children
        stack = list(children[i])
        seen: set[int] | None = set() if self.parents is not None else None
        while stack:
            j = stack.pop()
            if seen is not None:
                if j in seen:
                    continue
                seen.add(j)
            s = status[j]
            if s == WAITING:
                if self.try_start(j, now) == BLOCKED_SLOT:
                    self.add_waiter(j)
            elif (self.parent[j] == i if seen is None
                  else i in self.parents[j] and self.parents_final(j)):  # type: ignore[index]
                if s == PROVED:
                    self.try_submit(j, now)
                elif s == PROVING and self.job[j] == JOB_NONE:
                    self.request_proof(j, now)
            if children[j]:
                stack.extend(children[j])
        if freed or self.waiters:
            self.process_waiters(now)

    def undo(self, j: int, now: float, reason: str, rid: int) -> None:
        self.release(j, now)
        row = self.row[j]
        self.r_end[row] = now
        self.r_out[row] = 2
        self.r_reason[row] = reason
        self.r_rid[row] = rid
        self.att[j] += 1
        self.status[j] = WAITING

    def rollback(self, t: int, reason: str, now: float) -> None:
        rid = len(self.rb_t)
        status, children = self.status, self.children
        abandon = self.nfail[t] + 1 > self.max_retries
        undo_desc = (not self.selective or abandon
                     or (reason == "proof_invalid" and self.outchg[t]))
        undone = spec_undone = 0
        subtree = []
        stack = list(children[t])
        seen: set[int] | None = set() if self.parents is not None else None
        while stack:
            j = stack.pop()
            if seen is not None:
                if j in seen:
                    continue
                seen.add(j)
            subtree.append(j)
            s = status[j]
            if s == EXEC or s == PROVING or s == PROVED or s == SUBMITTED:
                if undo_desc:
                    spec_undone += self.spec[j]
                    self.undo(j, now, "ancestor_failed", rid)
                    undone += 1
                elif s == PROVED or (s == PROVING and self.job[j] == JOB_SERVICE):
                    self.gen[j] += 1
                    status[j] = PROVING
                    self.job[j] = JOB_NONE
                    self.request_proof(j, now)
            if children[j]:
                stack.extend(children[j])
        depth = self.r_depth[self.row[t]]
        spec_undone += int(self.spec[t])
        self.undo(t, now, reason, rid)
        self.nfail[t] += 1
        self.rb_t.append(now)
        self.rb_task.append(t)
        self.rb_reason.append(reason)
        self.rb_size.append(1 + undone)
        self.rb_depth.append(depth)
        self.rb_abandon.append(abandon)
        c = self.chain_of[t]
        if abandon:
            status[t] = ABANDONED
            dropped = 1
            for j in subtree:
                if status[j] != FINAL and status[j] != ABANDONED:
                    status[j] = ABANDONED
                    dropped += 1
            self.chain_failed[c] = True
            self.chain_left[c] -= dropped
            if self.chain_left[c] == 0:
                self.chain_end[c] = now
        else:
            status[t] = RETRY_WAIT
            delay = self.retry_delay * self.retry_mult ** (self.nfail[t] - 1)
            self.push(now + delay, E_RETRY, t, self.att[t])
        self.check_auto_disable(1 + undone, spec_undone, now)
        self.process_waiters(now)

    # ------------------------------------------------------------------ output
    def result(self, end: float, start_ms: int, scrape: float,
               instance: str = "runtime-0") -> SimResult:
        from specanalysis.sim.emit import build_samples

        F = pl.Float64
        tid = np.asarray(self.r_task, dtype=np.int64)
        chain_of = np.asarray(self.chain_of, dtype=np.int64)
        arrival_task = np.asarray(self.chain_arrival, dtype=np.float64)[chain_of] \
            if self.n_tasks else np.empty(0)
        parent = np.asarray(self.parent, dtype=np.int64)
        pos = np.asarray(self.pos, dtype=np.int64)

        def col(values, dtype=F):
            s = pl.Series(values, dtype=dtype)
            return s.fill_nan(None) if dtype == F else s

        finalized = np.asarray(self.r_end, dtype=np.float64)
        out = np.asarray(self.r_out, dtype=np.int8)
        tasks = pl.DataFrame({
            "task_id": pl.Series(tid, dtype=pl.Int64),
            "chain_id": pl.Series(chain_of[tid], dtype=pl.Int64),
            "position": pl.Series(pos[tid], dtype=pl.Int64),
            "parent_id": pl.Series(parent[tid], dtype=pl.Int64),
            "attempt": pl.Series(self.r_att, dtype=pl.Int64),
            "arrived": col(arrival_task[tid]),
            "exec_start": col(self.r_start),
            "exec_end": col(self.r_exec_end),
            "proof_requested": col(self.r_req),
            "proof_start": col(self.r_pstart),
            "proof_end": col(self.r_pend),
            "submitted": col(self.r_sub),
            "finalized": col(np.where(out == 1, finalized, np.nan)),
            "rolled_back_at": col(np.where(out == 2, finalized, np.nan)),
            "depth": pl.Series(self.r_depth, dtype=pl.Int64),
            "speculative": pl.Series(self.r_spec, dtype=pl.Boolean),
            "proof_invalid": pl.Series(self.r_invalid, dtype=pl.Boolean),
            "batch_size": pl.Series(self.r_batch, dtype=pl.Int64),
            "outcome": pl.Series([OUTCOMES[o] for o in self.r_out], dtype=pl.String),
            "reason": pl.Series(self.r_reason, dtype=pl.String),
            "rollback_id": pl.Series(self.r_rid, dtype=pl.Int64),
            "instance": pl.Series([instance] * len(tid), dtype=pl.String),
        }).with_columns(
            pl.when(pl.col("parent_id") >= 0).then(pl.col("parent_id")).alias("parent_id"),
            pl.when(pl.col("rollback_id") >= 0).then(pl.col("rollback_id"))
            .alias("rollback_id"),
            (pl.col("finalized") - pl.col("arrived")).alias("latency_s"),
        )
        rolled = np.bincount(chain_of[tid][out == 2], minlength=self.n_chains) \
            if self.n_tasks else np.zeros(0, dtype=np.int64)
        spec_n = np.bincount(chain_of[tid][np.asarray(self.r_spec, dtype=bool)],
                             minlength=self.n_chains) if self.n_tasks \
            else np.zeros(0, dtype=np.int64)
        cend = np.asarray(self.chain_end, dtype=np.float64)
        carr = np.asarray(self.chain_arrival, dtype=np.float64)
        failed = np.asarray(self.chain_failed, dtype=bool)
        status = np.where(np.isnan(cend), "in_flight", np.where(failed, "failed",
                                                                   "finalized"))
        status = np.where(np.asarray(self.chain_rejected, dtype=bool), "rejected", status)
        fin = np.where(status == "finalized", cend, np.nan)
        chains = pl.DataFrame({
            "chain_id": pl.Series(np.arange(self.n_chains), dtype=pl.Int64),
            "length": pl.Series(self.chain_len, dtype=pl.Int64),
            "arrived": col(carr),
            "finalized": col(fin),
            "latency_s": col(fin - carr),
            "rolled_back_tasks": pl.Series(rolled, dtype=pl.Int64),
            "speculative_tasks": pl.Series(spec_n, dtype=pl.Int64),
            "status": pl.Series(status.astype(str), dtype=pl.String),
            "instance": pl.Series([instance] * self.n_chains, dtype=pl.String),
        })
        rb_task = np.asarray(self.rb_task, dtype=np.int64)
        rollbacks = pl.DataFrame({
            "rollback_id": pl.Series(np.arange(len(self.rb_t)), dtype=pl.Int64),
            "time": col(self.rb_t),
            "chain_id": pl.Series(chain_of[rb_task] if len(rb_task) else [],
                                  dtype=pl.Int64),
            "task_id": pl.Series(rb_task, dtype=pl.Int64),
            "reason": pl.Series(self.rb_reason, dtype=pl.String),
            "size": pl.Series(self.rb_size, dtype=pl.Int64),
            "depth": pl.Series(self.rb_depth, dtype=pl.Int64),
            "abandoned": pl.Series(self.rb_abandon, dtype=pl.Boolean),
            "instance": pl.Series([instance] * len(self.rb_t), dtype=pl.String),
        })
        a = np.asarray
        log = EventLog(
            a(self.q_t, dtype=np.float64), a(self.q_d, dtype=np.float64),
            a(self.b_t, dtype=np.float64), a(self.b_d, dtype=np.float64),
            a(self.bat_t, dtype=np.float64), a(self.bat_k, dtype=np.float64),
            a(self.pr_t, dtype=np.float64), a(self.pr_v, dtype=np.float64),
            a(self.cf_t, dtype=np.float64), a(self.cf_v, dtype=np.float64),
            batch_dur=a(self.bat_dur, dtype=np.float64),
            defer_t=a(self.def_t, dtype=np.float64),
            defer_reason=a(self.def_r, dtype=np.int64),
            defer_depth=a(self.def_d, dtype=np.float64),
            wait_t=a(self.dw_t, dtype=np.float64), wait_v=a(self.dw_v, dtype=np.float64),
            reject_t=a(self.rej_t, dtype=np.float64),
            reject_n=a(self.rej_n, dtype=np.float64),
            auto_t=a(self.auto_t, dtype=np.float64), auto_d=a(self.auto_d, dtype=np.float64),
        )
        res = SimResult(
            tasks=tasks, chains=chains, rollbacks=rollbacks, log=log,
            config=self.cfg, workload=self.wl, duration=self.duration, end=end,
            start_ms=start_ms, scrape_interval=scrape, memory=self.mem,
            n_tasks_arrived=self.n_tasks, seed=self.seed, settings=self.settings,
        )
        object.__setattr__(res, "samples", build_samples(res, res.scrape_times()))
        return res


@dataclass(frozen=True)
class SimResult:
    """What one simulation produced.

    Attributes
    ----------
    tasks
        One row per execution attempt: ``task_id``, ``chain_id``, ``position``,
        ``parent_id``, ``attempt``, the timestamps ``arrived``, ``exec_start``,
        ``exec_end``, ``proof_requested``, ``proof_start``, ``proof_end``,
        ``submitted``, ``finalized``, ``rolled_back_at`` (seconds from the start,
        null when not reached), ``depth`` (unconfirmed ancestors at execution),
        ``speculative``, ``proof_invalid`` (injected failure), ``batch_size``,
        ``outcome`` (confirmed, rolled_back, in_flight), ``reason``,
        ``rollback_id``, ``latency_s`` (arrival to finalisation).
    chains
        One row per chain: ``chain_id``, ``length``, ``arrived``, ``finalized``,
        ``latency_s``, ``rolled_back_tasks``, ``speculative_tasks``, ``status``
        (finalized, failed, in_flight).
    rollbacks
        One row per rollback event: ``rollback_id``, ``time``, ``chain_id``,
        ``task_id`` (trigger), ``reason``, ``size`` (blast radius), ``depth``,
        ``abandoned`` (retries exhausted).
    samples
        The catalogue metrics scraped every ``scrape_interval`` (a samples frame).
    """

    tasks: pl.DataFrame
    chains: pl.DataFrame
    rollbacks: pl.DataFrame
    log: EventLog = field(repr=False)
    config: Any = field(repr=False)
    workload: Workload = field(repr=False)
    duration: float = 0.0
    end: float = 0.0
    start_ms: int = 0
    scrape_interval: float = 15.0
    memory: MemoryModel = field(default_factory=MemoryModel, repr=False)
    n_tasks_arrived: int = 0
    seed: int = 0
    settings: SimSettings = field(default_factory=SimSettings, repr=False)
    parts: tuple = field(default=(), repr=False)
    samples: pl.DataFrame = field(default=None, repr=False)  # type: ignore[assignment]

    @property
    def instances(self) -> tuple[SimResult, ...]:
        """The per-instance results (this result alone for a single instance)."""
        return self.parts or (self,)

    # --------------------------------------------------------------- metrics
    def scrape_times(self) -> np.ndarray:
        """Scrape instants (seconds from the start): 0, 15, 30, ... <= end."""
        n = int(math.floor(self.end / self.scrape_interval + 1e-9))
        return np.arange(n + 1, dtype=np.float64) * self.scrape_interval

    def samples_at(self, at: Any) -> pl.DataFrame:
        """The metrics at one instant (seconds from the start, or a wall-clock time)."""
        from specanalysis.sim.emit import build_samples

        t = np.asarray([self._offset(at)], dtype=np.float64)
        if not self.parts:
            return build_samples(self, t)
        return pl.concat([_label(build_samples(p, t), f"runtime-{k}")
                          for k, p in enumerate(self.parts)], how="diagonal")

    def _offset(self, at: Any) -> float:
        if isinstance(at, int | float) and not isinstance(at, bool):
            t = float(at)
        else:
            t = (to_ms(at, field="at") - self.start_ms) / 1000.0
        if not 0 <= t <= self.end:
            raise WorkloadSpecError(f"{at!r} is outside the run", field="at",
                                    expected=f"0..{self.end:g} s from the start")
        return t

    def snapshot(self, at: Any = None) -> str:
        """``/metrics`` text at an instant (default: the end of the run)."""
        from specanalysis.catalogue import metric_types
        from specanalysis.io.exposition import format_exposition

        frame = self.samples_at(self.end if at is None else at)
        return format_exposition(frame, types=metric_types())

    def write_openmetrics(self, path: Any) -> Any:
        """Write ``samples`` as OpenMetrics text (for ``promtool tsdb create-blocks-from``)."""
        from specanalysis.catalogue import metric_types
        from specanalysis.io.exposition import write_openmetrics

        return write_openmetrics(self.samples, path, types=metric_types())

    def bench_result(self, *, warmup: str | float = "1m",
                     measure_latency: bool = True, test: str | None = None,
                     run: int | None = None) -> Any:
        """This run as a benchmark result (the versioned file of ``specanalysis bench``).

        The parameters are read back from the workload: ``rate``, the depth and
        pattern specs, and ``failures`` as the injected failure fraction.
        See :func:`specanalysis.io.benchmarks.result_from_simulation`.
        """
        from specanalysis.io.benchmarks import result_from_simulation

        return result_from_simulation(self, warmup=warmup,
                                      measure_latency=measure_latency, test=test,
                                      run=run)

    def write_bench_result(self, path: Any, **options: Any) -> Any:
        """Write :meth:`bench_result` as JSON to ``path``; returns the path."""
        return self.bench_result(**options).write(path)

    # --------------------------------------------------------------- figures
    def memory_series(self, times: np.ndarray) -> dict[str, np.ndarray]:
        """Memory bytes by component at the given times (seconds)."""
        from specanalysis.sim.emit import memory_components

        times = np.asarray(times, dtype=np.float64)
        if not self.parts:
            return memory_components(self, times)
        per = [memory_components(p, times) for p in self.parts]
        return {k: sum(m[k] for m in per) for k in per[0]}

    def summary(self, *, warmup: str | float = 0.0) -> dict[str, float]:
        """The guide's key benchmark figures over ``[warmup, duration]``.

        Keys: ``tasks_total`` (execution attempts), ``throughput_tps`` (tasks
        finalised per second), ``latency_p50_s``/``p90``/``p99``/``max`` (task
        arrival to finalisation), ``chain_latency_p50_s``/``p99``,
        ``rollback_rate_pct`` (rollback events / execution attempts, the guide's
        ratio), ``task_rollback_rate_pct`` (tasks undone / attempts),
        ``avg_rollback_size``, ``blast_radius_max``, ``memory_avg_mb``,
        ``memory_peak_mb``, ``memory_per_active_task_mb`` (avg memory / avg
        in-flight tasks), ``active_tasks_avg``/``peak``, ``proof_p50_s``/``p99``
        (proof request to proof done), ``recovery_time_s`` (mean time from a
        rollback to the trigger's re-execution being finalised; NaN without
        rollbacks), ``recovery_time_p99_s``, ``queue_utilisation_peak_pct``,
        ``mean_batch_size``, ``rejected_pct`` (tasks refused at submission /
        tasks submitted), ``deferred_pct`` (execution attempts that were deferred
        at least once / attempts), ``auto_disabled_pct`` (share of the window with
        speculation auto-disabled). NaN where undefined.

        With several instances, memory figures are per instance (the mean of their
        averages, the largest of their peaks: what each instance's limit sees); the
        rest is the fleet's.
        """
        from specanalysis.sim.emit import active_tasks

        w = 0.0 if not warmup else _duration(warmup, "warmup")
        t1 = self.duration
        if w >= t1:
            raise WorkloadSpecError(f"warm-up {w:g} s is not shorter than the run",
                                    field="warmup", expected=f"< {t1:g} s")
        span = t1 - w
        tk = self.tasks
        nan = math.nan
        execd = tk.filter(pl.col("exec_start").is_between(w, t1, closed="left"))
        fin = tk.filter(pl.col("finalized").is_between(w, t1, closed="left"))
        lat = fin["latency_s"].to_numpy()
        ch = self.chains.filter(pl.col("finalized").is_between(w, t1, closed="left"))
        rb = self.rollbacks.filter(pl.col("time").is_between(w, t1, closed="left"))
        n_exec = execd.height
        undone = int(rb["size"].sum()) if rb.height else 0

        def q(x: np.ndarray, p: float) -> float:
            return float(np.quantile(x, p)) if len(x) else nan

        grid = np.arange(w, t1 + 1e-9, 1.0)
        mems = [sum(p.memory_series(grid).values()) for p in self.instances]
        mem = sum(mems)
        act = active_tasks(self, grid)
        lg = self.log
        pm = (lg.proof_t >= w) & (lg.proof_t < t1)
        proof = lg.proof_v[pm]
        bm = (lg.batch_t >= w) & (lg.batch_t < t1)
        from specanalysis.sim.emit import step_values

        queue = step_values(lg.queue_t, lg.queue_d, grid)
        rec = self._recovery(w, t1)
        return {
            "tasks_total": float(n_exec),
            "throughput_tps": fin.height / span,
            "latency_p50_s": q(lat, 0.5),
            "latency_p90_s": q(lat, 0.9),
            "latency_p99_s": q(lat, 0.99),
            "latency_max_s": float(lat.max()) if len(lat) else nan,
            "chain_latency_p50_s": q(ch["latency_s"].to_numpy(), 0.5),
            "chain_latency_p99_s": q(ch["latency_s"].to_numpy(), 0.99),
            "rollback_rate_pct": 100.0 * rb.height / n_exec if n_exec else nan,
            "task_rollback_rate_pct": 100.0 * undone / n_exec if n_exec else nan,
            "avg_rollback_size": undone / rb.height if rb.height else nan,
            "blast_radius_max": float(rb["size"].max()) if rb.height else nan,
            "memory_avg_mb": float(np.mean([m.mean() for m in mems])) / _MIB,
            "memory_peak_mb": float(max(m.max() for m in mems)) / _MIB,
            "memory_per_active_task_mb": (float(mem.mean()) / _MIB / float(act.mean())
                                          if act.mean() > 0 else nan),
            "active_tasks_avg": float(act.mean()),
            "active_tasks_peak": float(act.max()),
            "proof_p50_s": q(proof, 0.5),
            "proof_p99_s": q(proof, 0.99),
            "recovery_time_s": float(np.mean(rec)) if len(rec) else nan,
            "recovery_time_p99_s": q(rec, 0.99),
            "queue_utilisation_peak_pct": 100.0 * float(queue.max())
            / self.config.proof.queue_size,
            "mean_batch_size": float(lg.batch_k[bm].mean()) if bm.any() else nan,
            **self._shedding(w, t1),
        }

    def _shedding(self, w: float, t1: float) -> dict[str, float]:
        """Rejected and deferred shares and auto-disabled time in ``[w, t1)``."""
        from specanalysis.sim.emit import step_values

        lg = self.log
        ch = self.chains.filter(pl.col("arrived").is_between(w, t1, closed="left"))
        offered = float(ch["length"].sum()) if ch.height else 0.0
        rm = (lg.reject_t >= w) & (lg.reject_t < t1)
        rejected = float(lg.reject_n[rm].sum())
        waits = int(((lg.wait_t >= w) & (lg.wait_t < t1)).sum())
        n_exec = self.tasks.filter(pl.col("exec_start").is_between(w, t1, closed="left")
                                   ).height
        grid = np.arange(w, t1, 1.0)
        off = step_values(lg.auto_t, lg.auto_d, grid) if len(grid) else np.zeros(0)
        n_inst = len(self.instances)
        return {
            "rejected_pct": 100.0 * rejected / offered if offered else math.nan,
            "deferred_pct": 100.0 * waits / n_exec if n_exec else math.nan,
            "auto_disabled_pct": 100.0 * float(off.mean()) / n_inst if len(off) else 0.0,
        }

    def _recovery(self, w: float, t1: float) -> np.ndarray:
        """Per rollback in the window: time until its trigger task was finalised."""
        rb = self.rollbacks.filter(pl.col("time").is_between(w, t1, closed="left"),
                                   ~pl.col("abandoned"))
        if not rb.height:
            return np.empty(0)
        done = (self.tasks.filter(pl.col("outcome") == "confirmed")
                .select("task_id", "finalized"))
        j = rb.join(done, on="task_id", how="left")
        return (j["finalized"] - j["time"]).drop_nulls().to_numpy()

    def windows(self, every: str | float = "15s") -> pl.DataFrame:
        """Per-window series: one row per window ``[t, t + every)`` of the run.

        Columns: ``t_s`` (window start, seconds), ``timestamp``, ``arrived``
        (tasks), ``executed``, ``confirmed``, ``rolled_back`` (tasks undone),
        ``rollbacks`` (events), ``throughput_tps``, ``latency_p50_s``,
        ``latency_p99_s`` (of tasks finalised in the window), ``active_tasks``,
        ``active_branches``, ``queue_depth``, ``memory_mb`` (at the window end),
        ``proof_p99_s``.
        """
        from specanalysis.sim.emit import active_tasks, step_values

        step = _duration(every, "every")
        n = max(1, int(math.ceil(self.duration / step - 1e-9)))
        starts = np.arange(n, dtype=np.float64) * step
        ends = np.minimum(starts + step, self.end)
        tk = self.tasks

        def count(t: np.ndarray) -> np.ndarray:
            t = np.sort(t[~np.isnan(t)])
            return np.searchsorted(t, ends, "left") - np.searchsorted(t, starts, "left")

        arrived_t = np.asarray(self.chains["arrived"].to_numpy(), dtype=np.float64)
        arrived_n = np.repeat(arrived_t, self.chains["length"].to_numpy())
        fin_t = tk["finalized"].to_numpy(allow_copy=True).astype(np.float64)
        lat = tk["latency_s"].to_numpy(allow_copy=True).astype(np.float64)
        idx = np.floor(fin_t / step)
        p50 = np.full(n, np.nan)
        p99 = np.full(n, np.nan)
        ok = ~np.isnan(fin_t)
        order = np.argsort(idx[ok], kind="stable")
        bins, l_sorted = idx[ok][order].astype(np.int64), lat[ok][order]
        cuts = np.searchsorted(bins, np.arange(n + 1))
        for k in range(n):
            seg = l_sorted[cuts[k]:cuts[k + 1]]
            if len(seg):
                p50[k], p99[k] = np.quantile(seg, [0.5, 0.99])
        lg = self.log
        pidx = np.floor(lg.proof_t / step).astype(np.int64)
        proof99 = np.full(n, np.nan)
        for k in np.unique(pidx[pidx < n]):
            proof99[k] = np.quantile(lg.proof_v[pidx == k], 0.99)
        rb_t = self.rollbacks["time"].to_numpy().astype(np.float64)
        rb_size = self.rollbacks["size"].to_numpy().astype(np.float64)
        rb_idx = np.floor(rb_t / step).astype(np.int64)
        undone = np.bincount(rb_idx[rb_idx < n], weights=rb_size[rb_idx < n], minlength=n)
        mem = sum(self.memory_series(ends).values())
        confirmed = count(fin_t)
        return pl.DataFrame({
            "t_s": starts,
            "timestamp": pl.Series(self.start_ms + np.round(starts * 1000).astype(np.int64))
            .cast(pl.Datetime("ms")).dt.replace_time_zone("UTC"),
            "arrived": count(arrived_n),
            "executed": count(tk["exec_start"].to_numpy().astype(np.float64)),
            "confirmed": confirmed,
            "rolled_back": undone.astype(np.int64),
            "rollbacks": count(rb_t),
            "throughput_tps": confirmed / (ends - starts),
            "latency_p50_s": p50,
            "latency_p99_s": p99,
            "active_tasks": active_tasks(self, ends),
            "active_branches": step_values(lg.branch_t, lg.branch_d, ends),
            "queue_depth": step_values(lg.queue_t, lg.queue_d, ends),
            "memory_mb": mem / _MIB,
            "proof_p99_s": proof99,
        }).with_columns(pl.col(pl.Float64).fill_nan(None))
