"""Analytic latency of a task graph under speculation (runtime-facts §4, generalised).

A task graph is a DAG given as parent lists. Every task has an execution time
``Te``, a proof time ``Tp`` and a confirmation time ``Tc`` (and optionally a
queueing delay ``q``). All tasks are offered at time 0 with unlimited executors
and provers (no contention), which is the setting of the whitepaper's recurrence.

Speculative semantics (the simulator's, see :mod:`specanalysis.sim.engine`):

* a task executes as soon as all of its parents have *executed*, and its depth
  (the longest run of unfinalised ancestors, WP Def 3.3) is below ``max_depth``
  (``None``: no limit); with a limit ``D`` that means every ancestor ``D`` edges
  up any path is finalised;
* its proof starts when its own execution ends (``optimistic=False``: and all
  its parents are finalised) and takes ``Tp``;
* it is confirmed ``Tc + q`` after both its proof is done and all its parents
  are confirmed (the recurrence ``t_i = max(i Te + Tp, t_{i-1}) + Tc + q_i``).

Sequential semantics: a task executes only once all of its parents are
confirmed (the same as speculative with ``max_depth=1``). For a chain of ``n``
tasks that gives ``L_seq = n (Te + Tp + Tc)`` and (q = 0)
``L_spec = Tp + Tc + max(n Te, Te + (n - 1) Tc)``.

The steady pace of a long chain is ``max(Te, Tc, (Te + Tp + Tc) / D)``: execution,
confirmation or the depth limit sets it (the regime). Speedup tends to the
asymptote ``(Te + Tp + Tc) / pace``, whose floor (free proofs, unlimited depth)
is ``(Te + Tc) / max(Te, Tc)``. Confirmation takes over from execution at the
crossover ``Tc = Te``; the depth limit stops mattering from the saturation depth
``ceil((Te + Tp + Tc) / max(Te, Tc))``.

Deterministic times give exact numbers (:func:`pipeline` with plain numbers or
per-task arrays); distributions (``"lognormal:mean=2s,cv=0.5"`` or the
simulator's :class:`~specanalysis.sim.workload.TimeDistribution`) give Monte
Carlo estimates with intervals.

Examples
--------
>>> m = pipeline(TaskGraph.chain(5), exec_time=2, proof_time=5, confirm_time=2)
>>> m.latency_speculative, m.latency_sequential
(17.0, 45.0)
>>> chain_latency(5, 2, 5, 2), round(chain_speedup(5, 1, 1, 1), 4)  # 3n/(n+2)
(17.0, 2.1429)
>>> speedup_asymptote(2, 5, 2), speedup_floor(2, 2)
(4.5, 2.0)
>>> pipeline(TaskGraph.diamond(), exec_time=1, proof_time=2,
...          confirm_time=1).latency_speculative
6.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from specanalysis.errors import DataError, WorkloadSpecError
from specanalysis.models._result import fmt, format_tidy, html_block, tidy_frame

__all__ = [
    "TaskGraph",
    "PipelineModel",
    "pipeline",
    "finish_times",
    "chain_latency",
    "chain_speedup",
    "pace",
    "regime",
    "speedup_asymptote",
    "speedup_floor",
    "saturation_depth",
    "MAX_TASKS",
]

#: Largest graph :func:`pipeline` accepts (a clear error beyond it).
MAX_TASKS = 2_000_000
#: Largest number of Monte Carlo samples x tasks held in memory at once.
MAX_CELLS = 50_000_000


# --------------------------------------------------------------------------- graphs


@dataclass(frozen=True)
class TaskGraph:
    """A DAG of tasks given by parent lists: ``parents[i]`` are task ``i``'s parents.

    Parents may be listed in any order; the graph is checked for unknown ids,
    self-loops and cycles (a :class:`~specanalysis.errors.DataError` naming the
    task). ``order`` is a topological order.

    Examples
    --------
    >>> g = TaskGraph.from_parents([[], [0], [0], [1, 2]], name="diamond")
    >>> g.n_tasks, g.n_edges, g.longest_path
    (4, 4, 3)
    >>> TaskGraph.from_parents([[1], [0]])
    Traceback (most recent call last):
    ...
    specanalysis.errors.DataError: parents: the graph has a cycle through task 0 (expected a DAG: no task may be its own ancestor)
    """

    parents: tuple[tuple[int, ...], ...]
    name: str = "dag"
    order: tuple[int, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        n = len(self.parents)
        if n == 0:
            raise DataError("the graph has no tasks", field="parents",
                            expected="at least one task")
        if n > MAX_TASKS:
            raise DataError(f"{n} tasks is more than the limit {MAX_TASKS}",
                            field="parents", expected=f"<= {MAX_TASKS} tasks")
        for i, ps in enumerate(self.parents):
            for p in ps:
                if not 0 <= p < n:
                    raise DataError(f"task {i} has unknown parent {p}", field="parents",
                                    expected=f"parent ids in 0..{n - 1}")
                if p == i:
                    raise DataError(f"task {i} is its own parent", field="parents",
                                    expected="a DAG: no task may be its own ancestor")
        if not self.order:
            object.__setattr__(self, "order", _topological(self.parents))

    @classmethod
    def from_parents(cls, parents: Any, *, name: str = "dag") -> TaskGraph:
        """A graph from parent lists (a sequence of sequences, or ``{task: [parents]}``
        with tasks ``0..n-1``; ``None`` or ``-1`` means no parent)."""
        if isinstance(parents, TaskGraph):
            return parents
        if isinstance(parents, Mapping):
            n = len(parents)
            if sorted(parents) != list(range(n)):
                raise DataError("task ids are not 0..n-1", field="parents",
                                expected="keys 0..n-1")
            parents = [parents[i] for i in range(n)]
        out = []
        for i, ps in enumerate(parents):
            if ps is None:
                ps = ()
            elif isinstance(ps, int | np.integer):
                ps = () if ps < 0 else (int(ps),)
            try:
                tup = tuple(sorted({int(p) for p in ps if p is not None and p >= 0}))
            except (TypeError, ValueError):
                raise DataError(f"parents of task {i} are not integers: {ps!r}",
                                field="parents", expected="lists of task ids") from None
            out.append(tup)
        return cls(tuple(out), name=name)

    @classmethod
    def chain(cls, n: int) -> TaskGraph:
        """A linear chain of ``n`` tasks (0 -> 1 -> ... -> n-1)."""
        _check_n(n)
        return cls(tuple(() if i == 0 else (i - 1,) for i in range(n)),
                   name=f"chain({n})", order=tuple(range(n)))

    @classmethod
    def fan_out(cls, width: int) -> TaskGraph:
        """A root with ``width`` children (``width + 1`` tasks)."""
        _check_n(width)
        return cls(((),) + ((0,),) * width, name=f"fan_out({width})",
                   order=tuple(range(width + 1)))

    @classmethod
    def diamond(cls, width: int = 2) -> TaskGraph:
        """A root, ``width`` parallel tasks, and a sink joining them."""
        _check_n(width)
        mid = ((0,),) * width
        return cls(((),) + mid + (tuple(range(1, width + 1)),),
                   name=f"diamond({width})", order=tuple(range(width + 2)))

    @classmethod
    def random(cls, n: int, *, max_parents: int = 3, window: int = 20,
               seed: int = 0) -> TaskGraph:
        """A random DAG: task ``i`` draws 1..``max_parents`` parents among the
        ``window`` tasks before it (task 0 is the only root)."""
        _check_n(n)
        rng = np.random.default_rng(seed)
        ps: list[tuple[int, ...]] = [()]
        for i in range(1, n):
            lo = max(0, i - window)
            k = int(rng.integers(1, max_parents + 1))
            k = min(k, i - lo)
            ps.append(tuple(sorted(int(x) for x in rng.choice(np.arange(lo, i), k,
                                                              replace=False))))
        return cls(tuple(ps), name=f"random({n})", order=tuple(range(n)))

    @property
    def n_tasks(self) -> int:
        return len(self.parents)

    @property
    def n_edges(self) -> int:
        return sum(len(p) for p in self.parents)

    @property
    def longest_path(self) -> int:
        """Tasks on the longest path (a chain of n has n)."""
        level = [0] * self.n_tasks
        for i in self.order:
            ps = self.parents[i]
            level[i] = 1 + (max(level[p] for p in ps) if ps else 0)
        return max(level)

    def frame(self) -> pl.DataFrame:
        """One row per edge: ``task``, ``parent`` (roots have a null parent)."""
        t, p = [], []
        for i, ps in enumerate(self.parents):
            for q in ps or (None,):
                t.append(i)
                p.append(q)
        return pl.DataFrame({"task": pl.Series(t, dtype=pl.Int64),
                             "parent": pl.Series(p, dtype=pl.Int64)})


def _check_n(n: Any) -> None:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise DataError(f"{n!r} is not a task count", field="n",
                        expected="an integer >= 1")
    if n > MAX_TASKS:
        raise DataError(f"{n} tasks is more than the limit {MAX_TASKS}", field="n",
                        expected=f"<= {MAX_TASKS}")


def _topological(parents: Sequence[Sequence[int]]) -> tuple[int, ...]:
    n = len(parents)
    if all(p < i for i, ps in enumerate(parents) for p in ps):
        return tuple(range(n))
    children: list[list[int]] = [[] for _ in range(n)]
    indeg = [len(ps) for ps in parents]
    for i, ps in enumerate(parents):
        for p in ps:
            children[p].append(i)
    stack = [i for i in range(n) if indeg[i] == 0]
    out = []
    while stack:
        i = stack.pop()
        out.append(i)
        for c in children[i]:
            indeg[c] -= 1
            if indeg[c] == 0:
                stack.append(c)
    if len(out) < n:
        bad = min(i for i in range(n) if indeg[i] > 0)
        raise DataError(f"the graph has a cycle through task {bad}", field="parents",
                        expected="a DAG: no task may be its own ancestor")
    return tuple(out)


def as_graph(graph: Any) -> TaskGraph:
    """A :class:`TaskGraph` from a graph, a chain length or parent lists."""
    if isinstance(graph, TaskGraph):
        return graph
    if isinstance(graph, int | np.integer) and not isinstance(graph, bool):
        return TaskGraph.chain(int(graph))
    if isinstance(graph, Mapping | Sequence) and not isinstance(graph, str):
        return TaskGraph.from_parents(graph)
    raise DataError(f"{type(graph).__name__} is not a task graph", field="graph",
                    expected="a TaskGraph, a chain length or parent lists")


# --------------------------------------------------------------------------- times


def _time_input(value: Any, name: str, n: int) -> tuple[str, Any]:
    """('fixed', ndarray[n]) or ('dist', Distribution)."""
    from specanalysis.sim.workload import parse_distribution

    if isinstance(value, np.ndarray | list | tuple | pl.Series):
        arr = np.asarray(value.to_numpy() if isinstance(value, pl.Series) else value,
                         dtype=np.float64)
        if arr.shape != (n,):
            raise DataError(f"{arr.shape[0] if arr.ndim else 0} per-task values for "
                            f"{n} tasks", field=name, expected=f"{n} values")
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            bad = int(np.flatnonzero(~(np.isfinite(arr) & (arr >= 0)))[0])
            raise DataError(f"value {arr[bad]!r} of task {bad} is not a time",
                            field=name, expected="finite seconds >= 0")
        return "fixed", arr
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0:
            raise DataError(f"{value!r} is not a time", field=name,
                            expected="finite seconds >= 0")
        return "fixed", np.full(n, float(value))
    try:
        dist = parse_distribution(value, field=name)
    except WorkloadSpecError:
        raise
    kind = getattr(dist, "kind", None)
    if kind == "fixed" or (kind is not None and kind != "uniform"
                           and getattr(dist, "cv", 1.0) == 0.0):
        return "fixed", np.full(n, float(dist.mean))
    return "dist", dist


def finish_times(graph: Any, exec_time: Any, proof_time: Any, confirm_time: Any,
                 *, queue_delay: Any = 0.0, mode: str = "speculative",
                 max_depth: int | None = None, optimistic: bool = True
                 ) -> dict[str, np.ndarray]:
    """Per-task event times for given per-task times (arrays ``(n,)`` or ``(S, n)``).

    Returns ``exec_start``, ``exec_end``, ``proof_done``, ``finalized`` with the
    shape of the inputs (broadcast). Numbers broadcast to every task.

    Examples
    --------
    >>> t = finish_times(TaskGraph.chain(3), 1.0, 2.0, 0.5)
    >>> t["finalized"].tolist()  # max(i*Te + Tp, t_{i-1}) + Tc
    [3.5, 4.5, 5.5]
    >>> finish_times(3, 1.0, 2.0, 0.5, mode="sequential")["finalized"].tolist()
    [3.5, 7.0, 10.5]
    """
    g = as_graph(graph)
    mode = _check_mode(mode)
    depth_limit = _check_depth(max_depth)
    if mode == "sequential":
        depth_limit = 1
    n = g.n_tasks
    arrays = [np.asarray(x, dtype=np.float64) for x in
              (exec_time, proof_time, confirm_time, queue_delay)]
    shape = np.broadcast_shapes(*(a.shape for a in arrays), (n,))
    te, tp, tc, q = (np.broadcast_to(a, shape) for a in arrays)
    if len(shape) == 1:
        out = _scalar_pass(g, te.tolist(), tp.tolist(), tc.tolist(), q.tolist(),
                           depth_limit, optimistic)
        return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}
    return _vector_pass(g, te, tp, tc, q, depth_limit, optimistic)


def _check_mode(mode: str) -> str:
    if mode not in ("speculative", "sequential"):
        raise DataError(f"unknown mode {mode!r}", field="mode",
                        expected="'speculative' or 'sequential'")
    return mode


def _check_depth(max_depth: Any) -> int | None:
    if max_depth is None:
        return None
    if (isinstance(max_depth, bool) or not isinstance(max_depth, int | np.integer)
            or max_depth < 1):
        raise DataError(f"{max_depth!r} is not a depth limit", field="max_depth",
                        expected="an integer >= 1 (tasks run iff depth < max_depth) "
                        "or None")
    return int(max_depth)


def _scalar_pass(g: TaskGraph, te: list, tp: list, tc: list, q: list,
                 depth_limit: int | None, optimistic: bool) -> dict[str, list]:
    n = g.n_tasks
    parents = g.parents
    start = [0.0] * n
    xend = [0.0] * n
    pdone = [0.0] * n
    fin = [0.0] * n
    D = depth_limit
    # far[i][k]: latest confirmation among ancestors exactly k+1 edges above i
    far: list[list[float]] | None = [[]] * n if D is not None and D > 1 else None
    ninf = -math.inf
    for i in g.order:
        ps = parents[i]
        if ps:
            s = max(xend[p] for p in ps)
            pf = max(fin[p] for p in ps)
            if D is not None:
                if D == 1:
                    s = max(s, pf)
                else:
                    row = [pf] + [ninf] * (D - 1)
                    for p in ps:
                        fp = far[p]  # type: ignore[index]
                        for k in range(1, D):
                            v = fp[k - 1]
                            if v > row[k]:
                                row[k] = v
                    far[i] = row  # type: ignore[index]
                    if row[D - 1] > s:
                        s = row[D - 1]
        else:
            s = 0.0
            pf = 0.0
            if far is not None:
                far[i] = [ninf] * D  # type: ignore[operator]
        e = s + te[i]
        ps_start = e if (optimistic or not ps) else max(e, pf)
        d = ps_start + tp[i]
        f = (d if d > pf else pf) + tc[i] + q[i]
        start[i], xend[i], pdone[i], fin[i] = s, e, d, f
    return {"exec_start": start, "exec_end": xend, "proof_done": pdone,
            "finalized": fin}


def _vector_pass(g: TaskGraph, te: np.ndarray, tp: np.ndarray, tc: np.ndarray,
                 q: np.ndarray, depth_limit: int | None, optimistic: bool
                 ) -> dict[str, np.ndarray]:
    S, n = te.shape
    start = np.zeros((n, S))
    xend = np.zeros((n, S))
    pdone = np.zeros((n, S))
    fin = np.zeros((n, S))
    D = depth_limit
    far = np.full((n, D, S), -np.inf) if D is not None and D > 1 else None
    te, tp, tc, q = te.T, tp.T, tc.T, q.T
    for i in g.order:
        ps = list(g.parents[i])
        if ps:
            s = xend[ps].max(axis=0)
            pf = fin[ps].max(axis=0)
            if D == 1:
                s = np.maximum(s, pf)
            elif far is not None:
                far[i, 0] = pf
                far[i, 1:] = far[ps, :-1].max(axis=0)
                s = np.maximum(s, far[i, D - 1])
        else:
            s = np.zeros(S)
            pf = np.zeros(S)
        e = s + te[i]
        pst = e if (optimistic or not ps) else np.maximum(e, pf)
        d = pst + tp[i]
        start[i], xend[i], pdone[i] = s, e, d
        fin[i] = np.maximum(d, pf) + tc[i] + q[i]
    return {"exec_start": start.T, "exec_end": xend.T, "proof_done": pdone.T,
            "finalized": fin.T}


def task_depths(graph: Any, exec_start: np.ndarray, finalized: np.ndarray) -> np.ndarray:
    """Depth of each task when it started: the longest run of ancestors not yet
    confirmed at that instant (a tie counts as confirmed, as in the simulator)."""
    g = as_graph(graph)
    child = np.asarray([i for i, ps in enumerate(g.parents) for _ in ps], dtype=np.int64)
    par = np.asarray([p for ps in g.parents for p in ps], dtype=np.int64)
    start = np.asarray(exec_start, dtype=np.float64)
    fin = np.asarray(finalized, dtype=np.float64)
    depth = np.zeros(g.n_tasks, dtype=np.int64)
    if not len(child):
        return depth
    # reach[j]: latest confirmation among ancestors exactly k edges above j
    reach = fin.copy()
    for _ in range(g.longest_path):
        nxt = np.full(g.n_tasks, -np.inf)
        np.maximum.at(nxt, child, reach[par])
        hit = nxt > start
        if not hit.any():
            break
        depth += hit
        reach = nxt
    return depth


# --------------------------------------------------------------------------- chains


def chain_latency(n: int, exec_time: float, proof_time: float, confirm_time: float,
                  *, mode: str = "speculative", max_depth: int | None = None,
                  queue_delay: float = 0.0) -> float:
    """Latency of a chain of ``n`` tasks with fixed times (runtime-facts §4).

    Without a depth limit and queueing, the closed forms; otherwise the recurrence.

    Examples
    --------
    >>> chain_latency(3, 2, 5, 2, mode="sequential")
    27.0
    >>> chain_latency(10, 0.1, 0.3, 1.5)  # Te << Tc: Te + Tp + n Tc
    15.4
    """
    _check_n(n)
    mode = _check_mode(mode)
    te, tp, tc = float(exec_time), float(proof_time), float(confirm_time)
    if mode == "sequential":
        return float(n * (te + tp + tc + queue_delay))
    if max_depth is None and queue_delay == 0:
        return tp + tc + max(n * te, te + (n - 1) * tc)
    t = finish_times(TaskGraph.chain(n), te, tp, tc, queue_delay=queue_delay,
                     max_depth=max_depth)
    return float(t["finalized"][-1])


def chain_speedup(n: int, exec_time: float, proof_time: float, confirm_time: float,
                  *, max_depth: int | None = None) -> float:
    """Sequential over speculative latency of a chain of ``n`` (3n/(n+2) for equal times)."""
    return (chain_latency(n, exec_time, proof_time, confirm_time, mode="sequential")
            / chain_latency(n, exec_time, proof_time, confirm_time,
                            max_depth=max_depth))


def pace(exec_time: float, proof_time: float, confirm_time: float,
         max_depth: int | None = None) -> float:
    """Seconds per task of a long chain: ``max(Te, Tc, (Te + Tp + Tc) / max_depth)``.

    Examples
    --------
    >>> pace(1, 2, 0.5, max_depth=2)
    1.75
    """
    total = exec_time + proof_time + confirm_time
    p = max(exec_time, confirm_time)
    if max_depth is not None:
        p = max(p, total / _check_depth(max_depth))  # type: ignore[operator]
    return float(p)


def regime(exec_time: float, proof_time: float, confirm_time: float,
           max_depth: int | None = None) -> str:
    """What sets a long chain's pace: ``"execution"``, ``"confirmation"`` or ``"depth"``.

    Examples
    --------
    >>> regime(2, 5, 1), regime(0.5, 1, 2), regime(1, 5, 1, max_depth=3)
    ('execution', 'confirmation', 'depth')
    """
    p = pace(exec_time, proof_time, confirm_time, max_depth)
    if max_depth is not None and p > max(exec_time, confirm_time):
        return "depth"
    return "execution" if exec_time >= confirm_time else "confirmation"


def speedup_asymptote(exec_time: float, proof_time: float, confirm_time: float,
                      max_depth: int | None = None) -> float:
    """Limit of a chain's speedup as n grows: ``(Te + Tp + Tc) / pace``."""
    return float((exec_time + proof_time + confirm_time)
                 / pace(exec_time, proof_time, confirm_time, max_depth))


def speedup_floor(exec_time: float, confirm_time: float) -> float:
    """The asymptote with free proofs: ``(Te + Tc) / max(Te, Tc)`` (between 1 and 2)."""
    return float((exec_time + confirm_time) / max(exec_time, confirm_time))


def saturation_depth(exec_time: float, proof_time: float, confirm_time: float) -> int:
    """Smallest ``max_depth`` at which the depth limit no longer slows a long chain.

    Examples
    --------
    >>> saturation_depth(2, 5, 2)  # 9 s of work per task, paced at 2 s
    5
    """
    total = exec_time + proof_time + confirm_time
    return int(math.ceil(total / max(exec_time, confirm_time) - 1e-12))


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class PipelineModel:
    """Latency of one task graph, speculative and sequential.

    ``exact`` is True for deterministic times: then ``tasks`` holds every task's
    event times for both modes and the intervals have zero width. Otherwise
    ``samples`` holds the Monte Carlo latencies (``speculative``, ``sequential``
    per draw, from the same draws) and intervals are 95 % (``confidence``).
    """

    graph: TaskGraph
    exact: bool
    latency_speculative: float
    latency_sequential: float
    tasks: pl.DataFrame | None
    samples: pl.DataFrame | None
    mean_times: tuple[float, float, float]
    max_depth: int | None
    confidence: float = 0.95
    _tidy: pl.DataFrame = field(default=None, repr=False)  # type: ignore[assignment]

    @property
    def speedup(self) -> float:
        return self.latency_sequential / self.latency_speculative

    def tidy(self) -> pl.DataFrame:
        """One row per figure: latencies, speedup, chain asymptote, floor, pace."""
        return self._tidy

    def summary(self) -> str:
        te, tp, tc = self.mean_times
        kind = ("exact (fixed times)" if self.exact
                else f"Monte Carlo, {self.samples.height} draws, "
                f"{self.confidence:.0%} intervals")
        lines = [f"Pipeline latency of {self.graph.name}: {self.graph.n_tasks} tasks, "
                 f"{self.graph.n_edges} edges, longest path {self.graph.longest_path}"
                 f" ({kind})",
                 f"mean times: exec {fmt(te)} s, proof {fmt(tp)} s, confirm {fmt(tc)} s;"
                 f" max_depth {self.max_depth or 'unlimited'}",
                 f"regime of a long chain: {regime(te, tp, tc, self.max_depth)}-bound",
                 "", format_tidy(self.tidy())]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"PipelineModel({self.graph.name}, speculative="
                f"{fmt(self.latency_speculative)} s, sequential="
                f"{fmt(self.latency_sequential)} s, speedup {fmt(self.speedup, 3)}x)")

    def _repr_html_(self) -> str:
        te, tp, tc = self.mean_times
        return html_block(f"Pipeline latency: {self.graph.name}", self.tidy(), [
            "exact (fixed times)" if self.exact else
            f"Monte Carlo over {self.samples.height} draws",
            f"regime: {regime(te, tp, tc, self.max_depth)}-bound"])

    def predict(self, new: pl.DataFrame) -> pl.DataFrame:
        """Exact latency of this graph for other fixed times.

        ``new`` has columns ``exec_time``, ``proof_time``, ``confirm_time``
        (seconds), optionally ``queue_delay`` and ``max_depth`` (null: none).
        Returns them with ``latency_speculative_s``, ``latency_sequential_s``,
        ``speedup`` (exact: the interval columns equal the estimate).
        """
        need = ("exec_time", "proof_time", "confirm_time")
        missing = [c for c in need if c not in new.columns]
        if missing:
            raise DataError(f"missing column(s) {', '.join(missing)}", field="new",
                            expected="columns exec_time, proof_time, confirm_time")
        spec, seq = [], []
        for row in new.iter_rows(named=True):
            md = row.get("max_depth", self.max_depth)
            kw = {"queue_delay": row.get("queue_delay") or 0.0}
            a = finish_times(self.graph, row["exec_time"], row["proof_time"],
                             row["confirm_time"], max_depth=md, **kw)
            b = finish_times(self.graph, row["exec_time"], row["proof_time"],
                             row["confirm_time"], mode="sequential", **kw)
            spec.append(float(a["finalized"].max()))
            seq.append(float(b["finalized"].max()))
        s = pl.Series(spec, dtype=pl.Float64)
        return new.with_columns(
            latency_speculative_s=s, latency_speculative_ci_low=s,
            latency_speculative_ci_high=s,
            latency_sequential_s=pl.Series(seq, dtype=pl.Float64),
            speedup=pl.Series(seq, dtype=pl.Float64) / s)

    def plot_frame(self) -> pl.DataFrame:
        """Exact: one row per task phase (``mode``, ``task``, ``phase`` in execute,
        prove, wait, confirm, ``start``, ``end``). Monte Carlo: the latency draws
        (``mode``, ``latency_s``)."""
        if not self.exact:
            return self.samples.unpivot(index=[], variable_name="mode",
                                        value_name="latency_s")
        t = self.tasks
        parts = []
        for mode in ("speculative", "sequential"):
            f = t.filter(pl.col("mode") == mode)
            for phase, a, b in (("execute", "exec_start", "exec_end"),
                                ("prove", "exec_end", "proof_done"),
                                ("wait", "proof_done", "confirm_start"),
                                ("confirm", "confirm_start", "finalized")):
                parts.append(f.select(
                    pl.col("mode"), pl.col("task"), pl.lit(phase).alias("phase"),
                    pl.col(a).alias("start"), pl.col(b).alias("end")))
        return (pl.concat(parts).filter(pl.col("end") > pl.col("start"))
                .sort("mode", "task", "start"))

    def plot(self, **kwargs: Any) -> Any:
        """A Gantt chart of both modes (exact) or the latency distributions."""
        from specanalysis._optional import require

        require("hvplot.polars")
        hv = require("holoviews")
        f = self.plot_frame()
        if not self.exact:
            return f.hvplot.hist(y="latency_s", by="mode", alpha=0.5, bins=50,
                                 title=f"Latency of {self.graph.name}", **kwargs)
        colors = {"execute": "#1f77b4", "prove": "#ff7f0e", "wait": "#bbbbbb",
                  "confirm": "#2ca02c"}
        plots = []
        for mode in ("speculative", "sequential"):
            m = f.filter(pl.col("mode") == mode)
            segs = [hv.Segments([(a, t, b, t) for t, a, b in m.filter(
                pl.col("phase") == ph).select("task", "start", "end").iter_rows()],
                label=ph).opts(color=c, line_width=8)
                for ph, c in colors.items()]
            plots.append(hv.Overlay(segs).opts(
                title=f"{self.graph.name}: {mode}", xlabel="seconds", ylabel="task",
                invert_yaxis=True, **kwargs))
        return hv.Layout(plots).cols(1)


def pipeline(graph: Any, exec_time: Any, proof_time: Any, confirm_time: Any, *,
             queue_delay: Any = 0.0, max_depth: int | None = None,
             optimistic: bool = True, samples: int = 2000, seed: int = 0,
             confidence: float = 0.95) -> PipelineModel:
    """Latency of ``graph`` speculative and sequential, exact or by Monte Carlo.

    Parameters
    ----------
    graph
        A :class:`TaskGraph`, a chain length, or parent lists.
    exec_time, proof_time, confirm_time, queue_delay
        Seconds (a number, per-task values, a duration string) or a
        distribution (``"lognormal:mean=2s,cv=0.5"``, a ``TimeDistribution``).
    max_depth
        Depth limit of speculation (a task runs iff its depth < ``max_depth``).
    optimistic
        Proofs start at the end of execution (``False``: once parents confirm).
    samples, seed
        Monte Carlo draws (when any time is random) and their seed.
    confidence
        Level of the intervals.

    Raises
    ------
    DataError
        A bad graph, negative or non-finite times, too many samples x tasks.

    Examples
    --------
    >>> m = pipeline(TaskGraph.fan_out(3), 1, 2, 1)
    >>> m.latency_speculative, m.latency_sequential
    (5.0, 8.0)
    >>> mc = pipeline(5, 2, 5, "uniform:0.5s-1.5s", samples=4000, seed=1)
    >>> lo, hi = mc.tidy().filter(pl.col("term") == "latency_speculative_s").select(
    ...     "ci_low", "ci_high").row(0)
    >>> lo < 16.0 < hi  # Tc <= Te always: L = 5 Te + Tp + Tc_5, mean 16
    True
    """
    g = as_graph(graph)
    n = g.n_tasks
    _check_depth(max_depth)
    if not 0 < confidence < 1:
        raise DataError(f"{confidence!r} is not a confidence level", field="confidence",
                        expected="a number in (0, 1)")
    inputs = [_time_input(v, name, n) for v, name in
              ((exec_time, "exec_time"), (proof_time, "proof_time"),
               (confirm_time, "confirm_time"), (queue_delay, "queue_delay"))]
    exact = all(kind == "fixed" for kind, _ in inputs)
    if exact:
        te, tp, tc, q = (v for _, v in inputs)
        a = finish_times(g, te, tp, tc, queue_delay=q, max_depth=max_depth,
                         optimistic=optimistic)
        b = finish_times(g, te, tp, tc, queue_delay=q, mode="sequential")
        frames = []
        for mode, t in (("speculative", a), ("sequential", b)):
            depth = task_depths(g, t["exec_start"], t["finalized"])
            confirm_start = t["finalized"] - tc - q
            frames.append(pl.DataFrame({
                "mode": mode, "task": np.arange(n, dtype=np.int64),
                "exec_start": t["exec_start"], "exec_end": t["exec_end"],
                "proof_done": t["proof_done"], "confirm_start": confirm_start,
                "finalized": t["finalized"], "depth": depth}))
        spec_l = float(a["finalized"].max())
        seq_l = float(b["finalized"].max())
        means = (float(te.mean()), float(tp.mean()), float(tc.mean()))
        model = PipelineModel(g, True, spec_l, seq_l, pl.concat(frames), None, means,
                              max_depth, confidence)
        rows = [("latency_speculative_s", spec_l, 0.0, spec_l, spec_l, "s"),
                ("latency_sequential_s", seq_l, 0.0, seq_l, seq_l, "s"),
                ("speedup", seq_l / spec_l, 0.0, seq_l / spec_l, seq_l / spec_l, "x")]
    else:
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 2:
            raise DataError(f"{samples!r} is not a number of draws", field="samples",
                            expected="an integer >= 2")
        if samples * n > MAX_CELLS:
            raise DataError(f"{samples} draws x {n} tasks exceeds {MAX_CELLS} cells",
                            field="samples", expected=f"samples <= {MAX_CELLS // n}")
        rng = np.random.default_rng(seed)
        draws = []
        for kind, v in inputs:
            if kind == "fixed":
                draws.append(np.broadcast_to(v, (samples, n)))
            else:
                draws.append(np.asarray(v.sample(rng, samples * n),
                                        dtype=np.float64).reshape(samples, n))
        te, tp, tc, q = draws
        a = finish_times(g, te, tp, tc, queue_delay=q, max_depth=max_depth,
                         optimistic=optimistic)["finalized"].max(axis=1)
        b = finish_times(g, te, tp, tc, queue_delay=q,
                         mode="sequential")["finalized"].max(axis=1)
        means = tuple(float(np.mean(x)) for x in (te, tp, tc))
        spec_l, seq_l = float(a.mean()), float(b.mean())
        smp = pl.DataFrame({"speculative": a, "sequential": b})
        model = PipelineModel(g, False, spec_l, seq_l, None, smp, means,  # type: ignore[arg-type]
                              max_depth, confidence)
        rows = _mc_rows(a, b, confidence)
    te_m, tp_m, tc_m = means
    for term, v, unit in (
            ("chain_pace_s", pace(te_m, tp_m, tc_m, max_depth), "s/task"),
            ("chain_speedup_asymptote", speedup_asymptote(te_m, tp_m, tc_m, max_depth),
             "x"),
            ("chain_speedup_floor", speedup_floor(te_m, tc_m), "x"),
            ("crossover_confirm_s", te_m, "s"),
            ("saturation_depth", saturation_depth(te_m, tp_m, tc_m), "levels")):
        rows.append((term, v, None, None, None, unit))
    object.__setattr__(model, "_tidy", tidy_frame(rows, extra=("unit",)))
    return model


def _mc_rows(a: np.ndarray, b: np.ndarray, confidence: float) -> list[tuple]:
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    S = len(a)
    rows = []
    for name, x in (("speculative", a), ("sequential", b)):
        m, se = float(x.mean()), float(x.std(ddof=1) / math.sqrt(S))
        rows.append((f"latency_{name}_s", m, se, m - z * se, m + z * se, "s"))
        xs = np.sort(x)
        for p in (0.5, 0.9, 0.99):
            est = float(np.quantile(x, p))
            # distribution-free interval from the binomial order statistics
            sd = math.sqrt(S * p * (1 - p))
            lo = max(0, int(math.floor(S * p - z * sd)) - 1)
            hi = min(S - 1, int(math.ceil(S * p + z * sd)))
            rows.append((f"latency_{name}_p{round(p * 100)}_s", est, None,
                         float(xs[lo]), float(xs[hi]), "s"))
    # ratio of means from the same draws: delta method
    ma, mb = a.mean(), b.mean()
    cov = np.cov(np.vstack([a, b]))
    r = mb / ma
    var = (cov[1, 1] / ma**2 - 2 * mb * cov[0, 1] / ma**3 + mb**2 * cov[0, 0] / ma**4) / S
    se = math.sqrt(max(var, 0.0))
    rows.append(("speedup", float(r), se, float(r - z * se), float(r + z * se), "x"))
    return rows
