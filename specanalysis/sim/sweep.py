"""What-if sweeps: a grid of configurations simulated over several seeds.

:func:`sweep` runs :func:`~specanalysis.sim.simulate` for every point of a
grid (dotted configuration names, and ``workload.*`` fields, to lists of
values) and every seed, on this machine (processes), on any
:class:`concurrent.futures.Executor` or on a Dask cluster, and returns a
:class:`Sweep`: one row per (point, seed) with every key figure of
:meth:`SimResult.summary`, per-point intervals across seeds, the Pareto front
between two figures and the guide's targets met or missed.

Reproducibility
    The seeds come from one :class:`numpy.random.SeedSequence` (``seed=``):
    seed ``k`` is the same at every point (common random numbers, so
    differences between points are paired) and independent of seed ``j``.
    A run depends only on its configuration, workload, seed and duration, so
    results are bit-identical whichever executor ran them.
Cache
    ``cache=DIR`` keeps every finished run in Parquet files keyed by
    (configuration, workload, seed, duration, warm-up, package version and a
    fingerprint of the simulator's source). Results are written as each chunk
    of work finishes, so an interrupted sweep resumes where it stopped, and a
    repeated one simulates nothing.
Chunking
    Runs are grouped into chunks of about half a second of work (timed on a
    first run) and at least four chunks per worker, so the cost of scheduling
    stays small next to the work; the last chunks shrink (guided
    self-scheduling) so that workers finish together. Every worker simulates a
    second of the first run before the first chunk, so a fresh process's
    first-call costs are paid while the pool starts; start Dask workers with
    ``dask worker --preload specanalysis.sim.sweep`` to load the simulator when
    they start. While a chunk runs, the objects that existed before it are kept
    out of the garbage collector's full collections (:func:`gc.freeze`, undone
    after the chunk), so a simulation costs the same in a notebook kernel or a
    Dask worker as in a bare process. On a Dask cluster, a last chunk waiting
    behind a busy worker's task while another worker has a free thread is run
    again there; runs are deterministic, so whichever copy finishes first
    counts. ``Sweep.stats`` records what happened, chunk by chunk.

Examples
--------
>>> from specanalysis.config import SpeculationConfig
>>> from specanalysis.sim import Workload
>>> s = sweep(SpeculationConfig(enabled=True), Workload(rate=5, depth="fixed:3"),
...           {"max_depth": [2, 4]}, seeds=2, duration="30s", executor="serial",
...           progress=False)
>>> s.frame.select("point", "max_depth", "seed_index").rows()
[(0, 2, 0), (0, 2, 1), (1, 4, 0), (1, 4, 1)]
>>> sweep(SpeculationConfig(), Workload(), {"max_dept": [3]})
Traceback (most recent call last):
...
specanalysis.errors.ConfigError: 1 problem in the configuration:
  - speculation.max_dept: unknown key (did you mean max_depth?)
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import difflib
import gc
import hashlib
import html
import importlib.util
import itertools
import json
import math
import os
import re
import socket
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from specanalysis._time import format_duration, parse_duration
from specanalysis.errors import (
    ConfigError,
    SchedulerUnavailable,
    SpecAnalysisError,
    SweepError,
    WorkloadSpecError,
)
from specanalysis.sim.engine import simulate
from specanalysis.sim.workload import Workload

__all__ = ["sweep", "Sweep", "sweep_seeds", "heatmap_frame", "pareto_frame",
           "pareto_mask", "MAX_RUNS"]

#: Most runs (points x seeds) one sweep accepts; pass ``max_runs=`` for more.
MAX_RUNS = 100_000

#: Seconds of simulation a chunk of runs aims at (scheduling cost per chunk is
#: a few milliseconds, so this keeps it near 1 %).
CHUNK_TARGET_S = 0.5
_READY_TIMEOUT_S = 60.0  # how long a started worker waits for the others

_WL = "workload."
_ZERO = re.compile(r"^0+(?:\.0*)?(?:ms|s|m|h|d|w|y)?$")
_CACHE_SCHEMA_VERSION = "1"
_EXECUTOR_WORDS = ("serial", "processes")


# --------------------------------------------------------------------------- grid

@dataclass(frozen=True)
class _Plan:
    """The validated grid: one configuration and workload per point."""

    names: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]
    configs: tuple[Any, ...]
    workloads: tuple[Workload, ...]


def _plain(value: Any) -> Any:
    """Numpy scalars to Python ones (configuration checks want ``int``, not ``int64``)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _label(value: Any) -> Any:
    """A value as it appears in a frame column: primitives as they are, else text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    spec = getattr(value, "spec", None)
    return spec if isinstance(spec, str) and spec else repr(value)


def _values(key: str, raw: Any, problems: list[str]) -> list[Any]:
    if isinstance(raw, str | bytes) or not isinstance(raw, Iterable):
        raw = [raw]
    vals = [_plain(v) for v in raw]
    if not vals:
        problems.append(f"{key}: no values (expected a non-empty list)")
    seen: list[Any] = []
    for v in vals:
        if any(v == s and type(v) is type(s) for s in seen):
            problems.append(f"{key}: value {v!r} is listed twice")
        seen.append(v)
    return vals


def _workload_fields() -> list[str]:
    return [f.name for f in dataclasses.fields(Workload) if not f.name.startswith("_")]


def _config_name(key: str) -> str:
    return key.removeprefix("speculation.")


def _check_config_axis(base: Any, key: str, vals: list[Any], problems: list[str]) -> bool:
    """Range/type checks of one configuration axis; False when the key is unknown."""
    for v in vals:
        try:
            base.replace(**{key: v})
        except ConfigError as exc:
            unknown = [p for p in exc.problems if "unknown key" in p]
            if unknown:
                problems.extend(unknown)
                return False
            problems.extend(exc.problems)
    return True


def _check_workload_axis(base: Workload, name: str, vals: list[Any],
                         problems: list[str]) -> bool:
    known = _workload_fields()
    if name not in known:
        guess = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f" (did you mean workload.{guess[0]}?)" if guess else (
            " (expected one of " + ", ".join(f"workload.{k}" for k in known) + ")")
        problems.append(f"workload.{name}: unknown workload field{hint}")
        return False
    for v in vals:
        try:
            dataclasses.replace(base, **{name: v})
        except WorkloadSpecError as exc:
            problems.append(f"workload.{name}: {exc.message}"
                            + (f" (expected {exc.expected})" if exc.expected else ""))
        except (TypeError, ValueError) as exc:
            problems.append(f"workload.{name}: {v!r} is not accepted ({exc})")
    return True


def _build(base_cfg: Any, base_wl: Workload, changes: Mapping[str, Any]
           ) -> tuple[Any, Workload]:
    cfg_changes = {k: v for k, v in changes.items() if not k.startswith(_WL)}
    wl_changes = {k[len(_WL):]: v for k, v in changes.items() if k.startswith(_WL)}
    cfg = base_cfg.replace(**cfg_changes) if cfg_changes else base_cfg
    wl = dataclasses.replace(base_wl, **wl_changes) if wl_changes else base_wl
    return cfg, wl


def _point_text(names: Sequence[str], values: Sequence[Any]) -> str:
    return ", ".join(f"{n}={v!r}" for n, v in zip(names, values, strict=True))


def _plan_mapping(config: Any, workload: Workload, grid: Mapping[str, Any],
                  problems: list[str]) -> _Plan | None:
    if not grid:
        problems.append("grid: the grid is empty (expected parameter names mapped to "
                        "lists of values, e.g. {'max_depth': [3, 5, 8]})")
        return None
    names: list[str] = []
    axes: list[list[Any]] = []
    ok = True
    for raw_key, raw in grid.items():
        if not isinstance(raw_key, str) or not raw_key.strip():
            problems.append(f"grid: {raw_key!r} is not a parameter name (expected a "
                            "dotted name such as 'proof.worker_threads')")
            ok = False
            continue
        key = raw_key.strip()
        name = key if key.startswith(_WL) else _config_name(key)
        if name in names:
            problems.append(f"{name}: named twice in the grid")
            ok = False
            continue
        vals = _values(name, raw, problems)
        if not vals:
            ok = False
            continue
        if name.startswith(_WL):
            good = _check_workload_axis(workload, name[len(_WL):], vals, problems)
        else:
            good = _check_config_axis(config, name, vals, problems)
        ok = ok and good
        names.append(name)
        axes.append(vals)
    if not ok or problems:
        return None
    values, configs, workloads = [], [], []
    for combo in itertools.product(*axes):
        changes = dict(zip(names, combo, strict=True))
        try:
            cfg, wl = _build(config, workload, changes)
        except ConfigError as exc:
            problems.extend(f"point ({_point_text(names, combo)}): {p}"
                            for p in exc.problems)
            continue
        except WorkloadSpecError as exc:
            problems.append(f"point ({_point_text(names, combo)}): workload: {exc}")
            continue
        values.append(tuple(_label(v) for v in combo))
        configs.append(cfg)
        workloads.append(wl)
    if problems:
        return None
    return _Plan(tuple(names), tuple(values), tuple(configs), tuple(workloads))


def _plan_list(config: Any, workload: Workload, grid: Sequence[Any],
               problems: list[str]) -> _Plan | None:
    from specanalysis.config import SpeculationConfig

    if len(grid) == 0:
        problems.append("grid: the list of configurations is empty (expected at least "
                        "one SpeculationConfig or mapping of changes)")
        return None
    configs, workloads = [], []
    for i, item in enumerate(grid):
        if isinstance(item, SpeculationConfig):
            configs.append(item)
            workloads.append(workload)
        elif isinstance(item, Mapping):
            changes = {(k if str(k).startswith(_WL) else _config_name(str(k))):
                       _plain(v) for k, v in item.items()}
            try:
                cfg, wl = _build(config, workload, changes)
            except ConfigError as exc:
                problems.extend(f"grid[{i}]: {p}" for p in exc.problems)
                continue
            except WorkloadSpecError as exc:
                problems.append(f"grid[{i}]: workload: {exc}")
                continue
            configs.append(cfg)
            workloads.append(wl)
        else:
            problems.append(f"grid[{i}]: {type(item).__name__} is not a configuration "
                            "(expected a SpeculationConfig or a mapping of dotted "
                            "changes)")
    if problems:
        return None
    flat = [c.to_dict(flat=True) for c in configs]
    names = [k for k in flat[0] if len({_label(f[k]) for f in flat}) > 1]
    wl_names = [n for n in _workload_fields()
                if len({_label(getattr(w, n)) for w in workloads}) > 1]
    cols = [_config_name(k) for k in names] + [f"{_WL}{n}" for n in wl_names]
    values = tuple(
        tuple(_label(f[k]) for k in names) + tuple(_label(getattr(w, n)) for n in wl_names)
        for f, w in zip(flat, workloads, strict=True))
    return _Plan(tuple(cols), values, tuple(configs), tuple(workloads))


def sweep_seeds(seeds: int | Sequence[int] = 5, seed: int = 0) -> tuple[int, ...]:
    """The simulation seeds of a sweep: ``seeds`` children of ``SeedSequence(seed)``.

    Each child's first 63 bits of state seed one run; an explicit sequence of
    integers is used as it is.

    Examples
    --------
    >>> a = sweep_seeds(3, seed=7)
    >>> len(set(a)), a == sweep_seeds(3, seed=7), a[:2] == sweep_seeds(2, seed=7)
    (3, True, True)
    >>> sweep_seeds([11, 12])
    (11, 12)
    """
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        children = np.random.SeedSequence(seed).spawn(seeds)
        return tuple(int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
                     for c in children)
    return tuple(int(s) for s in seeds)


def _check_seeds(seeds: Any, seed: Any, problems: list[str]) -> tuple[int, ...]:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        problems.append(f"seed: {seed!r} is not a seed (expected an integer >= 0)")
        return ()
    if isinstance(seeds, bool):
        problems.append(f"seeds: {seeds!r} is not a number of seeds (expected an "
                        "integer >= 1 or a list of integer seeds)")
        return ()
    if isinstance(seeds, int | np.integer):
        if seeds < 1:
            problems.append(f"seeds: {int(seeds)} is out of range (expected an integer "
                            ">= 1)")
            return ()
        return sweep_seeds(int(seeds), int(seed))
    if isinstance(seeds, str) or not isinstance(seeds, Iterable):
        problems.append(f"seeds: {seeds!r} is not a number of seeds (expected an "
                        "integer >= 1 or a list of integer seeds)")
        return ()
    out = [_plain(s) for s in seeds]
    bad = [s for s in out if isinstance(s, bool) or not isinstance(s, int) or s < 0]
    if not out or bad:
        problems.append(f"seeds: {seeds!r} is not a list of seeds (expected integers "
                        ">= 0)")
        return ()
    if len(set(out)) != len(out):
        problems.append(f"seeds: {seeds!r} repeats a seed (expected distinct seeds)")
        return ()
    return tuple(out)


def _seconds(value: Any, name: str, problems: list[str], *, zero_ok: bool = False
             ) -> float:
    if zero_ok and (value is None or (isinstance(value, int | float)
                                      and not isinstance(value, bool) and value == 0)
                    or (isinstance(value, str) and _ZERO.match(value.strip()))):
        return 0.0
    try:
        return parse_duration(value, field=name)
    except SpecAnalysisError as exc:
        problems.append(f"{name}: {exc.message}"
                        + (f" (expected {exc.expected})" if exc.expected else ""))
        return math.nan


# --------------------------------------------------------------------------- keys

_FINGERPRINT: str | None = None


def _simulator_fingerprint() -> str:
    """A hash of the simulator's source (engine, workload, emit, time parsing)."""
    global _FINGERPRINT
    if _FINGERPRINT is None:
        h = hashlib.sha256()
        for name in ("specanalysis.sim.engine", "specanalysis.sim.workload",
                     "specanalysis.sim.emit", "specanalysis._time"):
            spec = importlib.util.find_spec(name)
            if spec is not None and spec.origin and os.path.exists(spec.origin):
                h.update(Path(spec.origin).read_bytes())
        _FINGERPRINT = h.hexdigest()[:16]
    return _FINGERPRINT


def _workload_doc(wl: Workload) -> dict[str, Any]:
    return {n: (v if isinstance(v := getattr(wl, n), bool | int | float | str)
                else f"{type(v).__name__}:{_label(v)}")
            for n in _workload_fields()}


def _run_key(cfg: Any, wl: Workload, seed: int, duration: float, warmup: float) -> str:
    from specanalysis import __version__

    doc = {"config": cfg.to_dict(flat=True), "workload": _workload_doc(wl),
           "seed": seed, "duration": duration, "warmup": warmup,
           "version": __version__, "simulator": _simulator_fingerprint(),
           "schema": _CACHE_SCHEMA_VERSION}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


# --------------------------------------------------------------------------- cache

class _Cache:
    """A directory of Parquet files, one per finished chunk, keyed by run."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.dir = Path(directory)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SweepError(f"cannot create the cache directory: {exc.strerror or exc}",
                             source=str(self.dir), field="cache",
                             expected="a writable directory") from None
        if not self.dir.is_dir():
            raise SweepError("is not a directory", source=str(self.dir), field="cache",
                             expected="a writable directory")

    def load(self, keys: set[str]) -> dict[str, dict[str, float]]:
        found: dict[str, dict[str, float]] = {}
        for path in sorted(self.dir.glob("*.parquet")):
            try:
                part = pl.read_parquet(path)
            except Exception as exc:  # a damaged file costs its runs, never the sweep
                warnings.warn(f"{path}: unreadable cache file ignored ({exc}); its runs "
                              "will be simulated again", stacklevel=3)
                continue
            if "key" not in part.columns:
                warnings.warn(f"{path}: not a sweep cache file (no 'key' column); "
                              "ignored", stacklevel=3)
                continue
            part = part.filter(pl.col("key").is_in(list(keys)))
            figures = [c for c in part.columns if c not in ("key", "seed", "version")]
            for row in part.iter_rows(named=True):
                if row["key"] not in found:
                    found[row["key"]] = {f: (math.nan if row[f] is None else row[f])
                                         for f in figures}
        return found

    def write(self, rows: list[tuple[str, int, dict[str, float]]]) -> None:
        from specanalysis import __version__

        if not rows:
            return
        figures = list(dict.fromkeys(k for _, _, fig in rows for k in fig))
        data: dict[str, Any] = {
            "key": pl.Series([r[0] for r in rows], dtype=pl.String),
            "seed": pl.Series([r[1] for r in rows], dtype=pl.Int64),
            "version": pl.Series([__version__] * len(rows), dtype=pl.String),
        }
        for f in figures:
            data[f] = pl.Series([r[2].get(f, math.nan) for r in rows], dtype=pl.Float64)
        name = f"part-{uuid.uuid4().hex}"
        tmp = self.dir / f".{name}.tmp"
        try:
            pl.DataFrame(data).write_parquet(tmp)
            os.replace(tmp, self.dir / f"{name}.parquet")
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise SweepError(f"cannot write to the cache: {exc.strerror or exc}",
                             source=str(self.dir), field="cache") from None


# --------------------------------------------------------------------------- work

def _run_chunk(tasks: list[tuple[int, Any, Workload, int]], duration: float,
               warmup: float
               ) -> tuple[list[tuple[int, dict[str, float]]], float, tuple[str, float, float]]:
    """Simulate a chunk of runs: ``(run index, figures)``, the seconds it took,
    and where and when it ran (``host:pid/thread``, wall-clock start and end)."""
    t0, start = time.perf_counter(), time.time()
    out = []
    with _old_objects_frozen():
        for index, cfg, wl, seed in tasks:
            result = simulate(cfg, wl, duration=duration, seed=seed, progress=False)
            figures = result.summary(warmup=warmup) if warmup else result.summary()
            out.append((index, {str(k): float(v) for k, v in figures.items()}))
    where = f"{socket.gethostname()}:{os.getpid()}/{threading.get_native_id()}"
    return out, time.perf_counter() - t0, (where, start, time.time())


_FREEZE_LOCK = threading.Lock()
_FREEZE = {"chunks": 0, "ours": False}  # chunks running in this process; did we freeze


@contextlib.contextmanager
def _old_objects_frozen() -> Iterator[None]:
    """Keep the garbage collector off the objects that existed before the chunk.

    A simulation allocates many short-lived objects, and each full collection
    walks every tracked object in the process: the loaded libraries' tens of
    thousands in a notebook kernel or a Dask worker (about 80,000 there), which
    made each simulation 10-15 % slower than in a bare process.
    :func:`gc.freeze` sets them aside while chunks run and :func:`gc.unfreeze`
    gives them back when the last chunk running in the process ends (chunks on
    several threads share one freeze), so nothing stays uncollected. Where
    objects were already frozen (by the host program) it does nothing; a host
    that freezes objects while a chunk runs has them unfrozen with the chunk's.
    """
    with _FREEZE_LOCK:
        if _FREEZE["chunks"] == 0:
            _FREEZE["ours"] = gc.get_freeze_count() == 0
            if _FREEZE["ours"]:
                gc.freeze()
        _FREEZE["chunks"] += 1
    try:
        yield
    finally:
        with _FREEZE_LOCK:
            _FREEZE["chunks"] -= 1
            if _FREEZE["chunks"] == 0 and _FREEZE["ours"]:
                gc.unfreeze()
                _FREEZE["ours"] = False


def _chunk_sizes(n: int, size: int, workers: int, *, guided: bool = True) -> list[int]:
    """Chunks of ``size`` runs; ``guided`` (self-scheduling): ``size`` while
    plenty remain, then ``remaining / (2 workers)`` runs, down to single runs,
    so the last chunks are short and no worker waits long for another to
    finish (a chunk costs about a millisecond of scheduling; a worker left
    idle at the end costs up to its last chunk)."""
    smallest = 1 if guided else size
    out, left = [], n
    while left > 0:
        k = min(left, size, max(smallest, math.ceil(left / (2 * workers))))
        out.append(k)
        left -= k
    return out


def _warm_dask(client: Any, task: tuple[int, Any, Workload, int]) -> None:
    """Warm every Dask worker with a short run of ``task`` (see :func:`_warm_worker`)."""
    try:
        client.run(_warm_worker, task)
    except (OSError, TimeoutError) as exc:
        raise SchedulerUnavailable(
            f"lost the Dask scheduler while preparing the workers "
            f"({type(exc).__name__})", field="executor") from None


def _warm_worker(task: tuple[int, Any, Workload, int] | None = None,
                 ready: Any = None) -> int:
    """Load the simulator in a worker process and simulate one second of
    ``task`` (a pending run), so that the lazy imports and first-call costs of a
    fresh process (numpy.random, the emitters: about 50 ms) are paid while the
    pool starts, not in its first chunk. Returns the process id.

    ``ready``: a barrier shared by the pool's workers (the process pool's
    initializer); a worker takes no task until every worker is warm, so the
    first task to finish proves the whole pool ready.

    Best effort: a run that fails here fails again, and is reported, in its chunk.
    """
    if task is not None:
        _, cfg, wl, seed = task
        try:
            simulate(cfg, wl, duration=1.0, seed=seed, progress=False).summary()
        except Exception:  # noqa: BLE001 - reported by the real run
            pass
    if ready is not None:
        try:
            ready.wait(timeout=_READY_TIMEOUT_S)
        except threading.BrokenBarrierError:  # a worker failed to start: the pool says
            pass
    return os.getpid()


def _in_notebook() -> bool:
    ip = sys.modules.get("IPython")
    if ip is None:
        return False
    try:
        shell = ip.get_ipython()
    except Exception:  # pragma: no cover - IPython present but unusable
        return False
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _show_progress(progress: bool | None) -> bool:
    """Bars only where someone watches: a terminal or a notebook, never under CI."""
    if progress is False:
        return False
    if os.environ.get("CI"):
        return False
    return _in_notebook() or sys.stderr.isatty()


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _bar(show: bool, total: int, initial: int, desc: str) -> Any:
    if not show:
        return _NoBar()
    if _in_notebook():
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm
    return tqdm(total=total, initial=initial, unit="run", desc=desc)


def _public_address(address: str) -> str:
    """An address with any ``user:password@`` removed (it is printed in errors)."""
    return re.sub(r"(?<=://)[^/@]*@", "", address)


def _is_dask_client(obj: Any) -> bool:
    module = type(obj).__module__ or ""
    return module.split(".")[0] == "distributed" and hasattr(obj, "submit") \
        and hasattr(obj, "scheduler_info")


def _connect(address: str, timeout: float) -> Any:
    from specanalysis._optional import require

    distributed = require("distributed")
    shown = _public_address(address)
    try:
        return distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise SchedulerUnavailable(
            f"cannot reach the Dask scheduler within {timeout:g} s "
            f"({type(exc).__name__})", source=shown, field="executor",
            expected="the address of a running scheduler, e.g. tcp://host:8786 "
            "(start one with `dask scheduler` or distributed.LocalCluster)") from None
    except ValueError as exc:
        raise SchedulerUnavailable(f"not a scheduler address ({exc})", source=shown,
                                   field="executor",
                                   expected="e.g. tcp://host:8786") from None


def _dask_workers(client: Any) -> int:
    try:
        return max(1, sum(client.nthreads().values()))
    except Exception:  # pragma: no cover - defensive
        return 1


def _local_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _start_method(pool: cf.ProcessPoolExecutor) -> str | None:
    import multiprocessing as mp

    ctx = getattr(pool, "_mp_context", None)
    try:
        return (ctx or mp.get_context()).get_start_method()
    except (AttributeError, ValueError):  # pragma: no cover - defensive
        return None


def _process_pool(workers: int, task: tuple[int, Any, Workload, int]
                  ) -> tuple[cf.ProcessPoolExecutor, list[cf.Future], Any]:
    """A process pool whose workers fork from a clean server with the simulator
    loaded, each warmed by a short run of ``task`` as it starts; with the
    futures that answer once every worker is warm, and the barrier the workers
    wait at (abort it to release them early).

    ``fork`` from a process running polars threads can deadlock; the fork
    server is started fresh, and preloading the simulator there makes worker
    start-up cheap.
    """
    import multiprocessing as mp

    try:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["specanalysis.sim.sweep"])
    except ValueError:  # pragma: no cover - no forkserver on this platform
        ctx = mp.get_context("spawn")
    # the barrier also makes the pool start every worker at once: a pool that
    # spawns on demand starts a new one with each submit while none is idle, and
    # none can be idle before all have arrived
    ready = ctx.Barrier(workers)
    pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                  initializer=_warm_worker, initargs=(task, ready))
    try:
        warming = [pool.submit(os.getpid) for _ in range(workers)]
    except BaseException:
        ready.abort()  # the workers already started stop waiting for the others
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    return pool, warming, ready


@dataclass
class _Runner:
    """Runs the pending chunks on one executor, saving each as it finishes."""

    tasks: list[tuple[int, Any, Workload, int]]
    keys: list[str]
    seeds_of: dict[int, int]
    duration: float
    warmup: float
    cache: _Cache | None
    results: dict[int, dict[str, float]]
    bar: Any
    stats: dict[str, Any]

    def _accept(self, chunk_out: list[tuple[int, dict[str, float]]], seconds: float,
                stamp: tuple[str, float, float]) -> None:
        rows = []
        for index, figures in chunk_out:
            if index in self.results:  # a chunk run twice (worker lost) counts once
                continue
            self.results[index] = figures
            rows.append((self.keys[index], self.seeds_of[index], figures))
        self.stats["compute_s"] += seconds
        self.stats["timeline"].append(stamp)
        if self.cache is not None:
            self.cache.write(rows)
        self.bar.update(len(rows))

    def chunks(self, sizes: list[int]) -> list[list[tuple[int, Any, Workload, int]]]:
        ends = list(itertools.accumulate(sizes))
        return [self.tasks[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]

    def serial(self, sizes: list[int]) -> None:
        for chunk in self.chunks(sizes):
            self._accept(*_run_chunk(chunk, self.duration, self.warmup))

    def executor(self, pool: cf.Executor, sizes: list[int]) -> None:
        futures = [pool.submit(_run_chunk, c, self.duration, self.warmup)
                   for c in self.chunks(sizes)]
        try:
            for fut in cf.as_completed(futures):
                self._accept(*fut.result())
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise

    def dask(self, client: Any, sizes: list[int], show: bool) -> None:
        from distributed import as_completed

        chunks = self.chunks(sizes)
        token = uuid.uuid4().hex[:12]
        keys = [f"specanalysis-sweep-{token}-{i}" for i in range(len(chunks))]
        try:
            # one message to the scheduler for every chunk (a submit per chunk
            # sends one each, and the first chunk waits behind them)
            futures = client.map(_run_chunk, chunks, duration=self.duration,
                                 warmup=self.warmup, pure=False, key=keys)
            threads = {w: max(int(n), 1) for w, n in client.nthreads().items()}
        except (OSError, TimeoutError) as exc:
            raise SchedulerUnavailable(
                f"lost the Dask scheduler while submitting ({type(exc).__name__})",
                field="executor") from None
        if show and _in_notebook():
            from distributed import progress

            progress(futures, notebook=True, multi=False)
        chunk_of = {key: i for i, key in enumerate(keys)}
        attempts: dict[int, list[Any]] = {i: [f] for i, f in enumerate(futures)}
        copies: dict[int, Any] = {}
        done: set[int] = set()
        arrivals = as_completed(futures, loop=client.loop)
        try:
            for fut in arrivals:
                i = chunk_of[fut.key]
                if i in done:  # the other copy of a chunk already counted
                    continue
                try:
                    out = fut.result()
                except Exception as exc:
                    attempts[i].remove(fut)
                    if attempts[i] and not isinstance(exc, (OSError, TimeoutError)):
                        continue  # its other copy is still running and may answer
                    typed = self._dask_error(client, exc)
                    if typed is exc:
                        raise
                    raise typed from None
                done.add(i)
                self.stats["copies_won"] += fut is copies.get(i)
                self._accept(*out)
                left = len(chunks) - len(done)
                if not left:
                    break
                # look for idle threads once per batch of results, not per result
                if left <= 2 * sum(threads.values()) and not arrivals.has_ready():
                    for j, key, worker in self._waiting_chunks(client, chunk_of, done,
                                                               copies, threads):
                        copies[j] = client.submit(
                            _run_chunk, chunks[j], self.duration, self.warmup,
                            pure=False, key=f"{key}-copy", workers=[worker],
                            allow_other_workers=True)
                        chunk_of[copies[j].key] = j
                        attempts[j].append(copies[j])
                        arrivals.add(copies[j])
                        self.stats["copies"] += 1
        except BaseException:
            with contextlib.suppress(Exception):
                client.cancel(futures + list(copies.values()))
            raise
        # the copies that lost: queued ones are dropped, running ones finish unheard
        losers = [f for f in [*futures, *copies.values()] if not f.done()]
        if losers:
            with contextlib.suppress(Exception):
                client.cancel(losers)

    def _dask_error(self, client: Any, exc: BaseException) -> BaseException:
        """The typed error for a chunk that failed on the cluster (``exc`` itself
        for a failure of the simulation, which is the user's to see as it is)."""
        finished = (f"{len(self.results)} runs finished"
                    + (" and are in the cache" if self.cache else ""))
        lost = isinstance(exc, (OSError, TimeoutError)) or (
            isinstance(exc, cf.CancelledError)
            and getattr(client, "status", "running") != "running")
        if lost:
            return SchedulerUnavailable(
                f"lost the Dask scheduler mid-sweep ({type(exc).__name__}); {finished}",
                field="executor")
        if type(exc).__name__ == "KilledWorker":
            return SweepError(
                f"a chunk of runs killed {type(exc).__name__} workers repeatedly "
                f"({exc}); {finished}", field="executor")
        if isinstance(exc, cf.CancelledError):
            return SweepError(
                f"a chunk of runs was cancelled on the cluster (by another client or "
                f"the scheduler); {finished}", field="executor")
        return exc

    @staticmethod
    def _waiting_chunks(client: Any, chunk_of: dict[str, int], done: set[int],
                        copies: dict[int, Any], threads: dict[str, int]
                        ) -> list[tuple[int, str, str]]:
        """At the end of a sweep: the chunks waiting on a busy worker while
        another worker has a free thread, each with the worker to copy it to.

        Dask hands each worker a few tasks more than it has threads
        (``worker-saturation``), so the last chunks can wait behind a long task
        while another worker sits idle. Runs are deterministic, so such a chunk
        is simply run again on the idle worker, and whichever copy finishes
        first counts. Waiting chunks are told from running ones by order: a
        worker runs its tasks in submission order (``Client.map`` numbers
        them), so its highest-numbered chunks beyond its thread count are the
        waiting ones.
        """
        try:
            processing = client.processing()
            if set(processing) - set(threads):  # workers joined since the start
                threads.update((w, max(int(n), 1)) for w, n in client.nthreads().items())
        except (OSError, TimeoutError):
            return []  # the next result or error will tell
        seen = {k for keys in processing.values() for k in keys}
        # copies submitted but not yet placed take a free thread too
        unplaced = sum(1 for c in copies.values() if not c.done() and c.key not in seen)
        idle = [w for w, keys in processing.items()
                for _ in range(threads.get(w, 1) - len(keys))][unplaced:]
        waiting: list[tuple[int, str]] = []
        for w, keys in processing.items():
            ours = sorted((chunk_of[k], k) for k in keys
                          if k in chunk_of and chunk_of[k] not in done)
            extra = len(keys) - threads.get(w, 1)
            if extra > 0:
                waiting += [(j, k) for j, k in ours[-extra:] if j not in copies]
        waiting.sort(reverse=True)  # the last submitted waits longest
        return [(j, k, w) for (j, k), w in zip(waiting, idle, strict=False)]


def _broken_pool(results: Mapping[int, Any], store: _Cache | None) -> SweepError:
    return SweepError(
        "the worker processes stopped before finishing (a script that calls sweep() at "
        "top level must guard it with `if __name__ == '__main__':`, as multiprocessing "
        f"requires); {len(results)} runs finished"
        + (" and are in the cache" if store is not None else ""),
        field="executor", expected="the guard, or executor='serial'")


# --------------------------------------------------------------------------- API

def sweep(
    config: Any,
    workload: Workload | None,
    grid: Mapping[str, Any] | Sequence[Any],
    *,
    seeds: int | Sequence[int] = 5,
    duration: str | float = "1m",
    warmup: str | float = 0.0,
    seed: int = 0,
    executor: Any = None,
    cache: str | os.PathLike | None = None,
    progress: bool | None = True,
    chunksize: int | None = None,
    max_runs: int = MAX_RUNS,
    connect_timeout: float = 10.0,
) -> Sweep:
    """Simulate every point of ``grid`` with every seed; a :class:`Sweep` of the results.

    Parameters
    ----------
    config
        The base :class:`~specanalysis.config.SpeculationConfig`; each point
        changes the grid's parameters on it.
    workload
        The base :class:`~specanalysis.sim.Workload` (``None``: ``Workload()``),
        e.g. ``profile.to_workload()`` for the measured workload.
    grid
        Dotted names to lists of values, ``{"max_depth": [3, 5, 8],
        "proof.worker_threads": [4, 8]}`` (every combination is a point;
        ``speculation.`` may prefix a name; ``workload.rate`` or
        ``workload.pattern`` vary the workload), or a list of configurations
        (``SpeculationConfig`` objects, or mappings of dotted changes).
    seeds
        Seeds per point (an integer, drawn from ``SeedSequence(seed)``), or a
        list of explicit seeds. The same seeds are used at every point.
    duration, warmup
        Simulated time per run, and the initial part left out of the figures.
    seed
        Entropy of the ``SeedSequence`` the seeds come from.
    executor
        ``None``: local processes on all cores (in this process when the
        whole sweep is under a second of work); ``"serial"``: in this process;
        any :class:`concurrent.futures.Executor`; a ``distributed.Client``;
        or a scheduler address (``"tcp://host:8786"``) to connect to.
    cache
        A directory of Parquet results; finished runs are read from it and
        new ones written to it as they finish.
    progress
        Show a progress bar (tqdm; Dask's widget in a notebook on a cluster)
        when a person can see it: in a terminal or notebook, never under
        ``$CI``. ``False`` never shows one.
    chunksize
        Runs per unit of work sent to a worker (``None``: about
        :data:`CHUNK_TARGET_S` of simulation, timed on a first run, and at
        least four chunks per worker).
    max_runs
        The most runs (points x seeds) accepted.
    connect_timeout
        Seconds to wait for a scheduler given by address.

    Returns
    -------
    Sweep
        One row per (point, seed); see :class:`Sweep`.

    Raises
    ------
    ConfigError
        Every problem of the grid at once, before anything runs: an unknown
        name (with a did-you-mean), an empty grid or list of values, a value
        out of its range, an invalid combination, bad seeds or duration, too
        many runs.
    SchedulerUnavailable
        A scheduler address that cannot be reached (before any work starts),
        or a scheduler lost mid-sweep (finished runs are in the cache).
    SweepError
        The cache cannot be written, or a cluster keeps losing a chunk.
    MissingDependencyError
        A Dask executor without ``distributed`` installed
        (``pip install 'specanalysis[distributed]'``).

    Examples
    --------
    >>> from specanalysis.config import SpeculationConfig
    >>> s = sweep(SpeculationConfig(enabled=True), Workload(rate=5, depth="fixed:3"),
    ...           {"max_depth": [2, 4], "workload.rate": [5, 10]}, seeds=2,
    ...           duration="30s", executor="serial", progress=False)
    >>> s.frame.height, s.parameters
    (8, ('max_depth', 'workload.rate'))
    >>> sweep(SpeculationConfig(), None, {"max_depth": [0, 3], "proof.batch_size": []})
    Traceback (most recent call last):
    ...
    specanalysis.errors.ConfigError: 2 problems in the configuration:
      - speculation.max_depth: 0 is out of range (expected an integer in 1..20)
      - proof.batch_size: no values (expected a non-empty list)
    """
    from specanalysis.config import SpeculationConfig

    problems: list[str] = []
    if not isinstance(config, SpeculationConfig):
        raise ConfigError(f"config: expected a SpeculationConfig, got "
                          f"{type(config).__name__}")
    if workload is None:
        workload = Workload()
    if not isinstance(workload, Workload):
        raise ConfigError(f"workload: expected a Workload, got {type(workload).__name__}")
    plan: _Plan | None
    if isinstance(grid, Mapping):
        plan = _plan_mapping(config, workload, grid, problems)
    elif isinstance(grid, Sequence) and not isinstance(grid, str | bytes):
        plan = _plan_list(config, workload, grid, problems)
    else:
        problems.append(f"grid: {type(grid).__name__} is not a grid (expected a mapping "
                        "of dotted names to lists of values, or a list of "
                        "configurations)")
        plan = None
    seed_list = _check_seeds(seeds, seed, problems)
    dur = _seconds(duration, "duration", problems)
    warm = _seconds(warmup, "warmup", problems, zero_ok=True)
    if math.isfinite(dur) and math.isfinite(warm) and warm >= dur:
        problems.append(f"warmup: {warm:g} s is not shorter than the duration "
                        f"{dur:g} s (expected warmup < duration)")
    if chunksize is not None and (isinstance(chunksize, bool)
                                  or not isinstance(chunksize, int) or chunksize < 1):
        problems.append(f"chunksize: {chunksize!r} is out of range (expected an integer "
                        ">= 1 or None)")
    executor_ok = (executor is None or isinstance(executor, cf.Executor | str)
                   or _is_dask_client(executor))
    if not executor_ok:
        problems.append(f"executor: {type(executor).__name__} is not an executor "
                        "(expected None, 'serial', 'processes', a concurrent.futures."
                        "Executor, a distributed.Client or a scheduler address)")
    if isinstance(executor, cf.ProcessPoolExecutor) and _start_method(executor) == "fork":
        problems.append("executor: a ProcessPoolExecutor that forks can deadlock in "
                        "polars, which is running in this process (expected "
                        "ProcessPoolExecutor(mp_context=multiprocessing.get_context("
                        "'forkserver')) or 'spawn', or executor=None)")
    if plan is not None and seed_list:
        n_runs = len(plan.configs) * len(seed_list)
        if n_runs > max_runs:
            problems.append(f"grid: {len(plan.configs)} points x {len(seed_list)} seeds "
                            f"= {n_runs} runs exceeds max_runs={max_runs} (expected "
                            "fewer points or seeds, or a larger max_runs)")
    if problems or plan is None:
        raise ConfigError(problems)

    # ---- every run, its key, and what the cache already holds
    n_seeds = len(seed_list)
    runs = [(p, k) for p in range(len(plan.configs)) for k in range(n_seeds)]
    keys = [_run_key(plan.configs[p], plan.workloads[p], seed_list[k], dur, warm)
            for p, k in runs]
    store = _Cache(cache) if cache is not None else None
    results: dict[int, dict[str, float]] = {}
    if store is not None:
        cached = store.load(set(keys))
        for i, key in enumerate(keys):
            if key in cached:
                results[i] = cached[key]
    n_cached = len(results)
    pending = [(i, plan.configs[p], plan.workloads[p], seed_list[k])
               for i, (p, k) in enumerate(runs) if i not in results]
    stats: dict[str, Any] = {"runs": len(runs), "cached": n_cached,
                             "computed": len(pending), "mode": "cache",
                             "workers": 0, "chunksize": 0, "chunks": 0,
                             "guided": False, "compute_s": 0.0,
                             "setup_s": 0.0, "wall_s": 0.0, "pilot_s": 0.0,
                             "dispatch_at": 0.0, "timeline": [],
                             "copies": 0, "copies_won": 0}

    # ---- connect first: an unreachable scheduler fails before any work
    client, own_client, pool, own_pool = None, False, None, False
    if pending:
        if isinstance(executor, str) and executor not in _EXECUTOR_WORDS:
            t0 = time.perf_counter()
            client, own_client = _connect(executor, connect_timeout), True
            stats["setup_s"] += time.perf_counter() - t0
        elif _is_dask_client(executor):
            client = executor

    show = _show_progress(progress)
    bar = _bar(show, len(runs), n_cached, "sweep")
    runner = _Runner(pending, keys, {i: seed_list[k] for i, (_, k) in enumerate(runs)},
                     dur, warm, store, results, bar, stats)
    warming: list[cf.Future] = []
    ready: Any = None
    try:
        if pending:
            if client is not None:
                mode, workers = "dask", _dask_workers(client)
            elif isinstance(executor, cf.Executor):
                mode = "executor"
                workers = int(getattr(executor, "_max_workers", 0) or _local_workers())
            elif executor == "serial":
                mode, workers = "serial", 1
            else:
                mode, workers = "processes", _local_workers()
            if mode == "processes" and (executor == "processes"
                                        or len(pending) >= 8 * workers > 8):
                # clearly worth a pool: start its workers while the first run is timed
                t0 = time.perf_counter()
                pool, warming, ready = _process_pool(workers, pending[0])
                own_pool = True
                stats["setup_s"] += time.perf_counter() - t0
            size = chunksize
            if size is None:
                # time one run here (its result counts) to size the chunks
                t0 = time.perf_counter()
                runner._accept(*_run_chunk(pending[:1], dur, warm))
                per_run = time.perf_counter() - t0
                stats["pilot_s"] = per_run
                runner.tasks = pending[1:]
                size = max(1, min(math.ceil(CHUNK_TARGET_S / max(per_run, 1e-6)),
                                  math.ceil(len(runner.tasks) / (4 * workers))))
                if mode == "processes" and pool is None and (
                        workers == 1 or per_run * len(runner.tasks) < 1.0):
                    mode, workers = "serial", 1  # a pool would cost more than it saves
            sizes = _chunk_sizes(len(runner.tasks), size, workers,
                                 guided=chunksize is None)
            stats.update(mode=mode, workers=workers, chunksize=size,
                         chunks=len(stats["timeline"]) + len(sizes),
                         guided=chunksize is None)
            if mode == "processes" and runner.tasks:
                t0 = time.perf_counter()
                if pool is None:
                    pool, warming, ready = _process_pool(workers, pending[0])
                    own_pool = True
                try:
                    cf.wait(warming)
                    for fut in warming:
                        fut.result()
                except cf.process.BrokenProcessPool:
                    raise _broken_pool(results, store) from None
                stats["setup_s"] += time.perf_counter() - t0
            if mode == "dask" and runner.tasks:
                t0 = time.perf_counter()
                _warm_dask(client, pending[0])  # load the simulator on every worker first
                stats["setup_s"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            stats["dispatch_at"] = time.time()
            if runner.tasks:
                if mode == "serial":
                    runner.serial(sizes)
                elif mode == "dask":
                    runner.dask(client, sizes, show)
                elif mode == "executor":
                    runner.executor(executor, sizes)
                else:
                    try:
                        runner.executor(pool, sizes)
                    except cf.process.BrokenProcessPool:
                        raise _broken_pool(results, store) from None
            stats["wall_s"] = time.perf_counter() - t0
    except BaseException:
        if ready is not None:  # workers still waiting for a sibling stop waiting
            ready.abort()
        raise
    finally:
        bar.close()
        if own_pool and pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if own_client and client is not None:
            client.close()
    missing = [i for i in range(len(runs)) if i not in results]
    if missing:  # pragma: no cover - every path above raises instead
        raise SweepError(f"{len(missing)} runs produced no result")
    return Sweep._build(plan, runs, seed_list, results, dur, warm, stats)


# --------------------------------------------------------------------------- result

def _units() -> dict[str, tuple[str, str | None, str]]:
    from specanalysis.sim.bench import SUMMARY_FIELDS

    return SUMMARY_FIELDS


def _better(figure: str) -> str:
    """'lower' or 'higher' for a figure (catalogue of bench figures; else lower)."""
    info = _units().get(figure)
    return (info[1] if info and info[1] else
            "higher" if "throughput" in figure else "lower")


_UNIT_TOKENS = {"s", "mb", "pct", "tps", "ms", "gb"}


def _tokens(name: str) -> frozenset[str]:
    return frozenset(t for t in name.lower().split("_") if t and t not in _UNIT_TOKENS)


def _t_quantile(level: float, df: int) -> float:
    from scipy.stats import t  # scipy comes with statsmodels

    return float(t.ppf(0.5 + level / 2.0, df))


def _interval(values: np.ndarray, level: float) -> tuple[float, float, float, float, int]:
    """(mean, lower, upper, sd, n) of the finite values; t interval of the mean."""
    x = values[np.isfinite(values)]
    n = len(x)
    if n == 0:
        return math.nan, math.nan, math.nan, math.nan, 0
    mean = float(np.mean(x))
    if n == 1:
        return mean, math.nan, math.nan, math.nan, 1
    sd = float(np.std(x, ddof=1))
    half = _t_quantile(level, n - 1) * sd / math.sqrt(n)
    return mean, mean - half, mean + half, sd, n


def pareto_mask(x: Sequence[float], y: Sequence[float], *, x_better: str = "lower",
                y_better: str = "lower") -> list[bool]:
    """Which points no other point dominates (at least as good on both, better on one).

    NaN points are never on the front. Identical points are both on it.

    Examples
    --------
    >>> pareto_mask([1, 2, 3, 2], [3, 1, 2, 2])
    [True, True, False, False]
    >>> pareto_mask([1, 2], [1, 2], y_better="higher")
    [True, True]
    """
    sx = 1.0 if x_better == "lower" else -1.0
    sy = 1.0 if y_better == "lower" else -1.0
    pts = [(sx * float(a), sy * float(b), i) for i, (a, b) in enumerate(zip(x, y,
                                                                            strict=True))
           if math.isfinite(float(a)) and math.isfinite(float(b))]
    pts.sort()
    mask = [False] * len(x)
    best_y = math.inf
    last: tuple[float, float] | None = None
    for a, b, i in pts:
        if b < best_y or (last is not None and (a, b) == last):
            mask[i] = True
            if b < best_y:
                best_y, last = b, (a, b)
    return mask


@dataclass(frozen=True, eq=False)
class Sweep:
    """The results of :func:`sweep`.

    Attributes
    ----------
    frame
        One row per (point, seed): ``point``, one column per grid parameter,
        ``seed_index``, ``seed``, then every key figure of
        :meth:`SimResult.summary` (Float64; NaN where a figure is undefined,
        e.g. recovery time without rollbacks).
    parameters
        The grid's parameter columns.
    figures
        The figure columns.
    configs, workloads
        The configuration and workload of each point.
    seeds
        The simulation seeds (the same at every point).
    duration, warmup
        Simulated seconds per run and the warm-up left out.
    stats
        How the sweep ran: ``runs``, ``cached``, ``computed``, ``mode``,
        ``workers``, ``chunksize`` (the largest chunk), ``chunks``, ``guided``
        (whether the last chunks shrank), ``compute_s`` (seconds spent
        simulating, summed over workers), ``wall_s`` (seconds from dispatch to
        the last result), ``setup_s``, ``pilot_s``, ``dispatch_at`` (when
        dispatch began, Unix seconds), ``timeline`` (one ``(worker, start,
        end)`` per chunk, in the order results arrived; ``worker`` is
        ``host:pid/thread``; clocks of different hosts may differ), and on a
        Dask cluster ``copies`` and ``copies_won``
        (chunks run again at the end because they waited on a busy worker, and
        how many of those copies finished first; the time spent on the copy
        that lost is not in ``compute_s``). Not part of the results.
    """

    frame: pl.DataFrame
    parameters: tuple[str, ...]
    figures: tuple[str, ...]
    configs: tuple[Any, ...] = field(repr=False)
    workloads: tuple[Workload, ...] = field(repr=False)
    seeds: tuple[int, ...] = ()
    duration: float = 0.0
    warmup: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def _build(cls, plan: _Plan, runs: list[tuple[int, int]], seeds: tuple[int, ...],
               results: Mapping[int, Mapping[str, float]], duration: float,
               warmup: float, stats: dict[str, Any]) -> Sweep:
        figures = list(dict.fromkeys(k for i in range(len(runs)) for k in results[i]))
        data: dict[str, Any] = {"point": pl.Series([p for p, _ in runs], dtype=pl.Int64)}
        for j, name in enumerate(plan.names):
            if name in ("point", "seed_index", "seed") or name in figures:
                raise ConfigError(f"{name}: clashes with a result column")
            data[name] = [plan.values[p][j] for p, _ in runs]
        data["seed_index"] = pl.Series([k for _, k in runs], dtype=pl.Int64)
        data["seed"] = pl.Series([seeds[k] for _, k in runs], dtype=pl.Int64)
        for f in figures:
            data[f] = pl.Series([results[i].get(f, math.nan) for i in range(len(runs))],
                                dtype=pl.Float64)
        frame = pl.DataFrame(data, strict=False)
        return cls(frame, tuple(plan.names), tuple(figures), plan.configs,
                   plan.workloads, seeds, duration, warmup, dict(stats))

    # ---------------------------------------------------------------- lookups
    @property
    def points(self) -> pl.DataFrame:
        """One row per point: ``point`` and the parameter values."""
        return self.frame.select("point", *self.parameters).unique("point",
                                                                   maintain_order=True)

    def figure(self, name: str) -> str:
        """The figure column ``name`` refers to (``"peak_memory"`` -> ``memory_peak_mb``).

        Exact names win; otherwise the words of the name are matched in any
        order, ignoring unit suffixes.

        Examples
        --------
        >>> s = Sweep(pl.DataFrame({"point": [0]}), (), ("memory_peak_mb",
        ...           "latency_p99_s", "chain_latency_p99_s"), (), ())
        >>> s.figure("peak_memory"), s.figure("latency_p99")
        ('memory_peak_mb', 'latency_p99_s')
        >>> s.figure("latency_p98")
        Traceback (most recent call last):
        ...
        specanalysis.errors.ConfigError: 1 problem in the configuration:
          - figure: unknown figure 'latency_p98' (did you mean latency_p99_s?)
        """
        if name in self.figures:
            return name
        want = _tokens(name)
        matches = [f for f in self.figures if _tokens(f) == want]
        if len(matches) == 1:
            return matches[0]
        guess = difflib.get_close_matches(name, self.figures, n=1, cutoff=0.6)
        if not guess:
            by_words = {"_".join(sorted(_tokens(f))): f for f in self.figures}
            words = difflib.get_close_matches("_".join(sorted(want)), list(by_words),
                                              n=1, cutoff=0.6)
            guess = [by_words[w] for w in words]
        hint = (f" (did you mean {guess[0]}?)" if guess else
                " (expected one of " + ", ".join(self.figures) + ")")
        raise ConfigError(f"figure: unknown figure {name!r}{hint}")

    def config(self, point: int) -> Any:
        """The :class:`~specanalysis.config.SpeculationConfig` of a point."""
        if not (isinstance(point, int) and 0 <= point < len(self.configs)):
            raise ConfigError(f"point: {point!r} is out of range (expected 0.."
                              f"{len(self.configs) - 1})")
        return self.configs[point]

    # ---------------------------------------------------------------- statistics
    def by_point(self, figures: Sequence[str] | None = None, *, level: float = 0.95
                 ) -> pl.DataFrame:
        """Per point: ``n_seeds`` and, per figure, its mean across seeds with a
        t interval (``<figure>``, ``<figure>_lo``, ``<figure>_hi``).

        The interval is of the mean over seeds at ``level`` confidence; null
        with one seed (noise cannot be estimated from one run).
        """
        names = [self.figure(f) for f in (figures or self.figures)]
        rows = []
        for key, group in self.frame.group_by("point", maintain_order=True):
            row: dict[str, Any] = {"point": key[0]}
            row["n_seeds"] = group.height
            for f in names:
                m, lo, hi, _sd, _n = _interval(group[f].to_numpy(), level)
                row[f], row[f"{f}_lo"], row[f"{f}_hi"] = m, lo, hi
            rows.append(row)
        schema: dict[str, Any] = {"point": pl.Int64, "n_seeds": pl.Int64}
        for f in names:
            schema.update({f: pl.Float64, f"{f}_lo": pl.Float64, f"{f}_hi": pl.Float64})
        out = pl.DataFrame(rows, schema=schema, orient="row")
        out = out.with_columns(pl.col(pl.Float64).fill_nan(None))
        return self.points.join(out, on="point", how="left", maintain_order="left")

    def tidy(self, *, level: float = 0.95) -> pl.DataFrame:
        """One row per (point, figure): ``estimate`` (mean across seeds), ``lower``,
        ``upper`` (t interval at ``level``), ``sd``, ``n`` (finite runs), ``unit``."""
        units = _units()
        rows = []
        for key, group in self.frame.group_by("point", maintain_order=True):
            for f in self.figures:
                m, lo, hi, sd, n = _interval(group[f].to_numpy(), level)
                rows.append((key[0], f, units.get(f, ("", None, ""))[0], m, lo, hi, sd,
                             n))
        out = pl.DataFrame(rows, schema={"point": pl.Int64, "figure": pl.String,
                                         "unit": pl.String, "estimate": pl.Float64,
                                         "lower": pl.Float64, "upper": pl.Float64,
                                         "sd": pl.Float64, "n": pl.Int64},
                           orient="row").with_columns(pl.col(pl.Float64).fill_nan(None))
        return self.points.join(out, on="point", how="left", maintain_order="left")

    def pareto(self, x: str = "memory_peak_mb", y: str = "latency_p99_s", *,
               x_better: str | None = None, y_better: str | None = None,
               level: float = 0.95) -> pl.DataFrame:
        """The points on the Pareto front of ``x`` against ``y`` (means across seeds).

        A point is on the front when no other point is at least as good on both
        figures and better on one. Directions default to the figure's (lower
        latency and memory, higher throughput). Sorted by ``x``; the intervals
        show how sure each position is.
        """
        frame = pareto_frame(self, x, y, x_better=x_better, y_better=y_better,
                             level=level)
        return frame.filter(pl.col("on_front")).drop("on_front")

    def targets_frame(self, *, level: float = 0.95) -> pl.DataFrame:
        """One row per (point, target of the guide): ``target``, ``figure``,
        ``threshold`` (e.g. ``"< 5 s"``), ``estimate``, ``lower``, ``upper`` and
        ``status``: ``met`` (the whole interval meets it), ``missed`` (none
        of it does), ``uncertain`` (the interval straddles it; more seeds
        decide) or ``n/a`` (undefined, e.g. no rollbacks -> no recovery time).
        With one seed the mean alone decides.
        """
        targets = _targets(self.figures)
        tidy = self.tidy(level=level)
        rows = []
        for r in tidy.iter_rows(named=True):
            if r["figure"] not in targets:
                continue
            t = targets[r["figure"]]
            status = _status(t, r["estimate"], r["lower"], r["upper"])
            rows.append((r["point"], t.name, r["figure"], f"{t.op} {t.value:g} {t.unit}",
                         r["estimate"], r["lower"], r["upper"], status))
        out = pl.DataFrame(rows, schema={"point": pl.Int64, "target": pl.String,
                                         "figure": pl.String, "threshold": pl.String,
                                         "estimate": pl.Float64, "lower": pl.Float64,
                                         "upper": pl.Float64, "status": pl.String},
                           orient="row")
        return self.points.join(out, on="point", how="left", maintain_order="left")

    def meets_targets(self, *, level: float = 0.95) -> pl.DataFrame:
        """Per point: the status of each of the guide's targets (one column per
        target's figure), the counts ``met``/``missed``/``uncertain`` and
        ``meets_all`` (every measurable target met with confidence).

        See :meth:`targets_frame` for the statuses.
        """
        long = self.targets_frame(level=level)
        figures = list(dict.fromkeys(long["figure"].drop_nulls()))
        if not figures:
            return self.points.with_columns(met=pl.lit(0), missed=pl.lit(0),
                                            uncertain=pl.lit(0),
                                            meets_all=pl.lit(None, pl.Boolean))
        wide = long.pivot(on="figure", index="point", values="status")
        counts = long.group_by("point").agg(
            met=(pl.col("status") == "met").sum(),
            missed=(pl.col("status") == "missed").sum(),
            uncertain=(pl.col("status") == "uncertain").sum(),
        )
        out = (self.points.join(wide.select("point", *figures), on="point", how="left",
                                maintain_order="left")
               .join(counts, on="point", how="left", maintain_order="left"))
        return out.with_columns(
            meets_all=(pl.col("missed") == 0) & (pl.col("uncertain") == 0)
            & (pl.col("met") > 0))

    # ---------------------------------------------------------------- text
    def _key_figures(self) -> list[str]:
        prefer = ("latency_p99_s", "memory_peak_mb", "rollback_rate_pct",
                  "throughput_tps", "proof_p99_s")
        out = [f for f in prefer if f in self.figures]
        return out or list(self.figures[:4])

    def _rows(self, names: list[str], level: float) -> tuple[list[str], list[list[str]]]:
        """Header and text cells of the per-point table (summary and HTML)."""
        table = self.by_point(names, level=level)
        targets = self.meets_targets(level=level)
        head = ["point", *self.parameters, *names, "targets"]
        body = []
        for r, t in zip(table.iter_rows(named=True), targets.iter_rows(named=True),
                        strict=True):
            cells = [str(r["point"]), *(_show(r[p]) for p in self.parameters)]
            cells += [_estimate(r[f], r[f"{f}_lo"], r[f"{f}_hi"]) for f in names]
            n_t = t["met"] + t["missed"] + t["uncertain"]
            cells.append(f"{t['met']}/{n_t} met" + (f", {t['uncertain']} unsure"
                                                    if t["uncertain"] else ""))
            body.append(cells)
        return head, body

    def _front_text(self, level: float) -> str | None:
        x, y = "memory_peak_mb", "latency_p99_s"
        if x not in self.figures or y not in self.figures:
            return None
        front = self.pareto(x, y, level=level)
        return (f"Pareto front ({y} against {x}, lower is better): points "
                + ", ".join(str(p) for p in front["point"].to_list()))

    def summary(self, figures: Sequence[str] | None = None, *, level: float = 0.95
                ) -> str:
        """Per point: the key figures as ``mean [lower, upper]`` across seeds and the
        number of the guide's targets met; then the latency/memory Pareto front."""
        names = [self.figure(f) for f in figures] if figures else self._key_figures()
        lines = [f"Sweep: {len(self.configs)} points x {len(self.seeds)} seeds of "
                 f"{format_duration(self.duration)} simulated "
                 f"({self.stats.get('computed', 0)} run, {self.stats.get('cached', 0)} "
                 f"from cache); {level * 100:g} % intervals across seeds"]
        lines += _table(*self._rows(names, level))
        front = self._front_text(level)
        if front:
            lines += ["", front]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"Sweep({len(self.configs)} points x {len(self.seeds)} seeds, "
                f"parameters={list(self.parameters)}, "
                f"duration={format_duration(self.duration)})")

    def _repr_html_(self) -> str:
        head, body = self._rows(self._key_figures(), 0.95)
        cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r)
                       + "</tr>" for r in body)
        front = self._front_text(0.95)
        return (f"<div><b>Sweep</b>: {len(self.configs)} points &times; "
                f"{len(self.seeds)} seeds of {format_duration(self.duration)} simulated; "
                f"means with 95 % intervals across seeds"
                f"<table><tr>{cells}</tr>{rows}</table>"
                + (f"<p>{html.escape(front)}</p>" if front else "") + "</div>")

    # ---------------------------------------------------------------- plots
    def heatmap_frame(self, figure: str = "latency_p99_s", x: str | None = None,
                      y: str | None = None) -> pl.DataFrame:
        """See :func:`heatmap_frame`."""
        return heatmap_frame(self, figure, x, y)

    def pareto_frame(self, x: str = "memory_peak_mb", y: str = "latency_p99_s",
                     **kwargs: Any) -> pl.DataFrame:
        """See :func:`pareto_frame`."""
        return pareto_frame(self, x, y, **kwargs)

    def plot(self, figures: Sequence[str] = ("latency_p99_s", "memory_peak_mb"), *,
             x: str | None = None, y: str | None = None,
             pareto: tuple[str, str] | None = ("memory_peak_mb", "latency_p99_s")
             ) -> Any:
        """Heatmaps of ``figures`` over two parameters, and the Pareto plot (hvplot).

        Built on :meth:`heatmap_frame` and :meth:`pareto_frame`; returns a
        HoloViews layout (renders offline in JupyterLab).
        """
        from specanalysis._optional import require

        require("hvplot.polars")
        hv = require("holoviews")
        parts = []
        for f in figures:
            name = self.figure(f)
            hf = heatmap_frame(self, name, x, y)
            xs, ys = hf["x"].unique().sort(), hf["y"].unique().sort()
            for panel in hf["panel"].unique(maintain_order=True).to_list():
                # one value dimension per figure, so each heatmap has its own colours
                sub = hf.filter(pl.col("panel") == panel).select(
                    pl.col("x").cast(pl.String), pl.col("y").cast(pl.String),
                    pl.col("value").alias(name), pl.col("lower").alias(f"{name} lower"),
                    pl.col("upper").alias(f"{name} upper"))
                title = f"{name}, mean of {len(self.seeds)} seeds" + (
                    f" ({panel})" if panel else "")
                parts.append(sub.hvplot.heatmap(
                    x="x", y="y", C=name, title=title, cmap="viridis",
                    xlabel=hf["x_name"][0], ylabel=hf["y_name"][0],
                    hover_cols=[f"{name} lower", f"{name} upper"], colorbar=True,
                    clabel=name, width=440, height=320)
                    .redim.values(x=[str(v) for v in xs], y=[str(v) for v in ys]))
        if pareto is not None:
            pf = pareto_frame(self, *pareto)
            xname, yname = pf["x_name"][0], pf["y_name"][0]
            style = {"x": "x", "y": "y", "hover_cols": ["label"], "xlabel": xname,
                     "ylabel": yname, "width": 440, "height": 320, "size": 60}
            cloud = (pf.filter(~pl.col("on_front")).hvplot.scatter(
                color="#9e9e9e", label="dominated", **style)
                * pf.filter(pl.col("on_front")).hvplot.scatter(
                color="#d62728", label="on the front", **style))
            front = pf.filter(pl.col("on_front")).sort("x")
            bars = hv.ErrorBars(
                [(a, b, b - lo, hi - b) for a, b, lo, hi in front.select(
                    "x", "y", "y_lo", "y_hi").fill_null(pl.col("y")).iter_rows()],
                vdims=["y", "yerrneg", "yerrpos"])
            parts.append((cloud * front.hvplot.line(x="x", y="y", color="black") * bars)
                         .opts(title="Pareto front (bars: 95 % interval)",
                               legend_position="top_right"))
        return hv.Layout(parts).opts(shared_axes=False).cols(2)


def _targets(figures: Sequence[str]) -> dict[str, Any]:
    """Figure -> the catalogue's target for it (bench's mapping, then same-named)."""
    from specanalysis.catalogue import TARGETS
    from specanalysis.sim.bench import TARGET_OF

    out = {f: TARGETS[t] for f, t in TARGET_OF.items() if f in figures and t in TARGETS}
    for name, target in TARGETS.items():
        if name in figures and name not in out:
            out[name] = target
    return out


def _status(target: Any, estimate: float | None, lower: float | None,
            upper: float | None) -> str:
    if estimate is None or (isinstance(estimate, float) and math.isnan(estimate)):
        return "n/a"
    if lower is None or upper is None:
        return "met" if target.met(estimate) else "missed"
    lo_ok, hi_ok = target.met(lower), target.met(upper)
    if lo_ok and hi_ok:
        return "met"
    if not lo_ok and not hi_ok:
        return "missed"
    return "uncertain"


def _show(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _num(v: float) -> str:
    a = abs(v)
    return (f"{v:.0f}" if a >= 1000 else f"{v:.1f}" if a >= 100
            else f"{v:.2f}" if a >= 1 else f"{v:.3g}")


def _estimate(m: float | None, lo: float | None, hi: float | None) -> str:
    if m is None:
        return "n/a"
    if lo is None or hi is None:
        return f"{_num(m)} (1 seed)"
    return f"{_num(m)} [{_num(lo)}, {_num(hi)}]"


def _table(head: list[str], body: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h)
              for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*head), fmt.format(*("-" * w for w in widths)),
            *(fmt.format(*r) for r in body)]


def heatmap_frame(result: Sweep, figure: str = "latency_p99_s", x: str | None = None,
                  y: str | None = None, *, level: float = 0.95) -> pl.DataFrame:
    """The mean of ``figure`` across seeds on a grid of two parameters.

    Columns: ``panel`` (the values of any other parameters, ``""`` when there
    are none), ``x``, ``y``, ``value``, ``lower``, ``upper``, ``n_seeds``,
    ``x_name``, ``y_name``, ``figure``. ``x``/``y`` default to the first two
    parameters; with one parameter ``y`` is the figure's name.
    """
    name = result.figure(figure)
    params = list(result.parameters)
    if not params:
        raise ConfigError("heatmap: the sweep has no parameters that vary")
    for p in (x, y):
        if p is not None and p not in params:
            guess = difflib.get_close_matches(p, params, n=1, cutoff=0.5)
            raise ConfigError(f"heatmap: {p!r} is not a parameter of the sweep"
                              + (f" (did you mean {guess[0]}?)" if guess else
                                 f" (expected one of {', '.join(params)})"))
    x = x or params[0]
    y = y or next((p for p in params if p != x), None)
    if y == x:
        raise ConfigError(f"heatmap: x and y are both {x!r}")
    table = result.by_point([name], level=level)
    others = [p for p in params if p not in (x, y)]
    panel = (pl.concat_str([pl.lit(f"{o}=") + pl.col(o).cast(pl.String)
                            for o in others], separator=", ")
             if others else pl.lit(""))
    return table.select(
        panel.alias("panel"),
        pl.col(x).alias("x"),
        (pl.col(y) if y else pl.lit(name)).alias("y"),
        pl.col(name).alias("value"),
        pl.col(f"{name}_lo").alias("lower"),
        pl.col(f"{name}_hi").alias("upper"),
        pl.col("n_seeds"),
        pl.lit(x).alias("x_name"),
        pl.lit(y or "").alias("y_name"),
        pl.lit(name).alias("figure"),
    )


def pareto_frame(result: Sweep, x: str = "memory_peak_mb", y: str = "latency_p99_s",
                 *, x_better: str | None = None, y_better: str | None = None,
                 level: float = 0.95) -> pl.DataFrame:
    """Every point's mean ``x`` and ``y`` with intervals, and ``on_front``.

    Columns: ``point``, the parameters, ``x``, ``x_lo``, ``x_hi``, ``y``,
    ``y_lo``, ``y_hi``, ``on_front`` (Boolean), ``label`` (the point's
    parameters as text), ``x_name``, ``y_name``; sorted by ``x``.
    """
    xn, yn = result.figure(x), result.figure(y)
    xb = x_better or _better(xn)
    yb = y_better or _better(yn)
    for which, b in (("x_better", xb), ("y_better", yb)):
        if b not in ("lower", "higher"):
            raise ConfigError(f"{which}: {b!r} is not a direction (expected 'lower' or "
                              "'higher')")
    table = result.by_point([xn, yn] if xn != yn else [xn], level=level)
    xs = table[xn].fill_null(math.nan).to_list()
    ys = table[yn].fill_null(math.nan).to_list()
    mask = pareto_mask(xs, ys, x_better=xb, y_better=yb)
    label = (pl.concat_str([pl.lit(f"{p}=") + pl.col(p).cast(pl.String)
                            for p in result.parameters], separator=", ")
             if result.parameters else pl.col("point").cast(pl.String))
    return table.select(
        "point", *result.parameters,
        pl.col(xn).alias("x"), pl.col(f"{xn}_lo").alias("x_lo"),
        pl.col(f"{xn}_hi").alias("x_hi"),
        pl.col(yn).alias("y"), pl.col(f"{yn}_lo").alias("y_lo"),
        pl.col(f"{yn}_hi").alias("y_hi"),
        pl.Series("on_front", mask, dtype=pl.Boolean),
        label.alias("label"),
        pl.lit(xn).alias("x_name"), pl.lit(yn).alias("y_name"),
    ).sort("x", nulls_last=True)

