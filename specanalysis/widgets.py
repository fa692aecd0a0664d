"""Interactive panels for notebooks: a thin ipywidgets shell over pure functions.

:func:`predict` does the work (simulate a configuration on a workload and
report the guide's key figures as one polars row); :func:`tuning_panel` wraps
it in sliders for the four knobs the guide tunes most (``max_depth``,
``max_parallel_branches``, ``proof.worker_threads``, ``proof.batch_size``), and
shows, for the chosen values, the sizing table of
:func:`~specanalysis.config.sizing_for` and the simulator's predicted
throughput, p50/p99 latency and rollback rate next to the starting
configuration's.

ipywidgets is imported only when a panel is built.

Examples
--------
>>> from specanalysis.config import SpeculationConfig
>>> from specanalysis.sim import Workload
>>> cfg = SpeculationConfig(enabled=True)
>>> row = predict(cfg, Workload(rate=5, depth="fixed:2"), duration="30s", seed=1)
>>> row.columns[:4]
['max_depth', 'max_parallel_branches', 'proof.worker_threads', 'proof.batch_size']
>>> row.height
1
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import polars as pl

from specanalysis.errors import SpecAnalysisError, WorkloadSpecError

__all__ = ["KNOBS", "PREDICTED", "PanelState", "knob_bounds", "predict", "tuning_panel"]

#: The knobs the panel exposes: dotted parameter (``SpeculationConfig.replace`` name)
#: -> slider label.
KNOBS: dict[str, str] = {
    "max_depth": "max_depth",
    "max_parallel_branches": "branches",
    "proof.worker_threads": "workers",
    "proof.batch_size": "batch size",
}

#: Predicted figures: ``SimResult.summary()`` key (the column name) -> display label.
PREDICTED: dict[str, str] = {
    "throughput_tps": "throughput (tasks/s)",
    "latency_p50_s": "latency p50 (s)",
    "latency_p99_s": "latency p99 (s)",
    "rollback_rate_pct": "rollback rate (%)",
    "avg_rollback_size": "avg rollback size (tasks)",
    "memory_avg_mb": "avg memory (MB)",
}


def _check_config(config: Any) -> Any:
    from specanalysis.config import SpeculationConfig

    if not isinstance(config, SpeculationConfig):
        raise WorkloadSpecError(f"got {type(config).__name__}", field="config",
                                expected="a SpeculationConfig")
    return config


def _get(config: Any, dotted: str) -> Any:
    obj = config
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def knob_bounds(dotted: str) -> tuple[int, int]:
    """The valid range ``(lo, hi)`` of one of :data:`KNOBS` (from the config schema).

    Examples
    --------
    >>> knob_bounds("max_depth"), knob_bounds("proof.batch_size")
    ((1, 20), (1, 100))
    """
    from specanalysis.config import SpeculationConfig

    if dotted not in KNOBS:
        raise WorkloadSpecError(f"unknown knob {dotted!r}", field="knob",
                                expected="one of " + ", ".join(KNOBS))
    cls: Any = SpeculationConfig
    *sections, name = dotted.split(".")
    for section in sections:
        cls = {f.name: f for f in dataclasses.fields(cls)}[section].default_factory
    meta = {f.name: f for f in dataclasses.fields(cls)}[name].metadata
    return int(meta["lo"]), int(meta["hi"])


def predict(config: Any, workload: Any, *, duration: str | float = "2m",
            seed: int = 0) -> pl.DataFrame:
    """Simulate ``config`` on ``workload`` and return the guide's key figures.

    Parameters
    ----------
    config
        A :class:`~specanalysis.config.SpeculationConfig`.
    workload
        A :class:`~specanalysis.sim.Workload`.
    duration
        Simulated time (keep it short for interactive use: ``"2m"`` of a
        10 tasks/s workload simulates in well under a second).
    seed
        Simulator seed (same seed, same numbers).

    Returns
    -------
    polars.DataFrame
        One row: the four knobs of :data:`KNOBS` (Int64, named by their dotted
        parameter) followed by the figures of :data:`PREDICTED` (Float64; NaN
        where undefined, e.g. the rollback size without rollbacks).

    Raises
    ------
    WorkloadSpecError
        ``config`` or ``workload`` of the wrong type, a bad duration or seed.
    ConfigError
        An invalid configuration.

    Examples
    --------
    >>> from specanalysis.config import SpeculationConfig
    >>> from specanalysis.sim import Workload
    >>> row = predict(SpeculationConfig(enabled=True), Workload(rate=5, failures=0.0),
    ...               duration="30s")
    >>> row["rollback_rate_pct"].item()
    0.0
    """
    from specanalysis.sim import simulate

    config = _check_config(config)
    result = simulate(config, workload, duration=duration, seed=seed, progress=False)
    summary = result.summary()
    data: dict[str, Any] = {k: [int(_get(config, k))] for k in KNOBS}
    data.update({k: [float(summary[k])] for k in PREDICTED})
    schema = dict.fromkeys(KNOBS, pl.Int64) | dict.fromkeys(PREDICTED, pl.Float64)
    return pl.DataFrame(data, schema=schema)


@dataclass(frozen=True)
class PanelState:
    """What a :func:`tuning_panel` currently shows.

    Attributes
    ----------
    config
        The starting configuration with the sliders' values applied.
    prediction
        :func:`predict` of ``config`` (one row).
    comparison
        Two rows, ``"start"`` and ``"chosen"`` (column ``config``), then the
        columns of ``prediction``.
    sizing
        :func:`~specanalysis.config.sizing_for` of ``config``.
    error
        The message of the last rejected choice (empty when none).
    """

    config: Any
    prediction: pl.DataFrame
    comparison: pl.DataFrame
    sizing: pl.DataFrame
    error: str = ""


def _peak_rate(workload: Any) -> float:
    """Peak tasks/s offered: the base rate times the pattern's largest multiplier."""
    pieces = getattr(workload.rate_pattern, "pieces", ((0.0, 1.0),))
    return float(workload.rate) * max(m for _, m in pieces)


def _html_table(frame: pl.DataFrame) -> str:
    from html import escape

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "n/a" if math.isnan(v) else f"{v:.4g}"
        return escape(str(v))

    head = "".join(f"<th>{escape(c)}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>"
        for row in frame.iter_rows()
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def tuning_panel(config: Any, workload: Any, *, duration: str | float = "2m",
                 seed: int = 0, avg_state_mb: float = 200.0,
                 avg_proof_time_s: float = 30.0,
                 peak_task_rate: float | None = None) -> Any:
    """Sliders for the four main knobs, the sizing table and the simulator's prediction.

    Moving a slider applies its value to ``config`` and recomputes the guide's
    sizing formulas (:func:`~specanalysis.config.sizing_for`) and
    :func:`predict` (a ``duration`` simulation of ``workload`` with ``seed``).
    The starting configuration's prediction stays on screen for comparison.

    Parameters
    ----------
    config
        Starting :class:`~specanalysis.config.SpeculationConfig`.
    workload
        The :class:`~specanalysis.sim.Workload` to simulate.
    duration, seed
        Passed to :func:`predict` (short: the panel re-simulates on every change).
    avg_state_mb, avg_proof_time_s
        Sizing inputs (the guide's examples: 200 MB per branch, 30 s per proof).
    peak_task_rate
        Peak tasks per second for the sizing formulas (default: the workload's
        rate times its pattern's largest multiplier).

    Returns
    -------
    ipywidgets.VBox
        With attributes ``sliders`` (dotted parameter -> ``IntSlider``) and
        ``state`` (the current :class:`PanelState`, replaced on every change).

    Raises
    ------
    MissingDependencyError
        ipywidgets is not installed.
    WorkloadSpecError, ConfigError, SizingInputError
        Bad arguments (checked before any widget is built).
    """
    from specanalysis._optional import require
    from specanalysis.config import sizing_for
    from specanalysis.sim import Workload

    widgets = require("ipywidgets")
    config = _check_config(config)
    if not isinstance(workload, Workload):
        raise WorkloadSpecError(f"got {type(workload).__name__}", field="workload",
                                expected="a Workload")
    peak = _peak_rate(workload) if peak_task_rate is None else peak_task_rate

    def sizing(cfg: Any) -> pl.DataFrame:
        return sizing_for(cfg, peak_task_rate=peak, avg_state_mb=avg_state_mb,
                          avg_proof_time_s=avg_proof_time_s)

    start = predict(config, workload, duration=duration, seed=seed)
    start_sizing = sizing(config)  # bad sizing inputs fail here, before any widget

    sliders = {}
    for dotted, label in KNOBS.items():
        lo, hi = knob_bounds(dotted)
        sliders[dotted] = widgets.IntSlider(
            value=int(_get(config, dotted)), min=lo, max=hi, step=1,
            description=label, continuous_update=False,
            style={"description_width": "initial"},
        )
    prediction_html = widgets.HTML()
    sizing_html = widgets.HTML()
    status = widgets.HTML()
    box = widgets.VBox([
        widgets.HTML("<b>Configuration knobs</b> (release a slider to re-simulate "
                     f"{duration} of the workload, seed {seed})"),
        widgets.HBox(list(sliders.values())[:2]),
        widgets.HBox(list(sliders.values())[2:]),
        status,
        widgets.HTML("<b>Simulator prediction</b> (start vs chosen)"),
        prediction_html,
        widgets.HTML(f"<b>Sizing formulas</b> (peak {peak:g} tasks/s, "
                     f"{avg_state_mb:g} MB per branch, {avg_proof_time_s:g} s per proof)"),
        sizing_html,
    ])
    box.sliders = sliders

    def show(state: PanelState) -> None:
        box.state = state
        prediction_html.value = _html_table(state.comparison.rename(PREDICTED))
        sizing_html.value = _html_table(state.sizing)
        status.value = (f"<span style='color:crimson'>{state.error}</span>"
                        if state.error else "")

    def compare(pred: pl.DataFrame) -> pl.DataFrame:
        return pl.concat([
            start.select(pl.lit("start").alias("config"), pl.all()),
            pred.select(pl.lit("chosen").alias("config"), pl.all()),
        ])

    def refresh(_change: Any = None) -> None:
        changes = {k: s.value for k, s in sliders.items()}
        try:
            cfg = config.replace(**changes)
            pred = predict(cfg, workload, duration=duration, seed=seed)
            show(PanelState(cfg, pred, compare(pred), sizing(cfg)))
        except SpecAnalysisError as err:  # keep the last good numbers, say why
            old = box.state
            show(dataclasses.replace(old, error=str(err)))

    show(PanelState(config, start, compare(start), start_sizing))
    for s in sliders.values():
        s.observe(refresh, names="value")
    return box
