"""Interactive panels for notebooks: a thin ipywidgets shell over pure functions.

:func:`predict` does the work (simulate a configuration on a workload and
report the guide's key figures as one polars row); :func:`predict_runs` repeats
it over several seeds and :func:`compare_runs` turns two such sets into
intervals and a verdict per figure (``better``, ``worse`` or ``within noise``:
one seed of a short simulation is noise, not a prediction).
:func:`tuning_panel` wraps them in sliders for the four knobs the guide tunes
most (``max_depth``, ``max_parallel_branches``, ``proof.worker_threads``,
``proof.batch_size``), and shows, for the chosen values, the sizing table of
:func:`~specanalysis.config.sizing_for` and the simulator's predicted
throughput, p50/p99 latency, rollback rate and memory next to the starting
configuration's, each with its interval over the seeds.

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

__all__ = ["KNOBS", "PREDICTED", "HIGHER_IS_BETTER", "PanelState", "knob_bounds",
           "predict", "predict_runs", "summarize_runs", "compare_runs", "comparison_html",
           "format_interval", "snapshot_html",
           "tuning_panel"]

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


#: Predicted figures where more is better (for the others, less is better).
HIGHER_IS_BETTER = frozenset({"throughput_tps"})

#: Rollback figures: judged only when the runs saw enough rollback events.
_ROLLBACK_FIGURES = ("rollback_rate_pct", "avg_rollback_size")

#: Fewest rollback events per run for a rollback figure to be judged.
MIN_ROLLBACK_EVENTS = 20


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


def _seed_list(seeds: int | Any, seed: int) -> list[int]:
    if isinstance(seeds, bool) or not isinstance(seeds, int):
        try:
            out = [int(x) for x in seeds]
        except (TypeError, ValueError):
            raise WorkloadSpecError(f"got {seeds!r}", field="seeds",
                                    expected="a count >= 2 or a list of seeds") from None
    else:
        out = [seed + k for k in range(seeds)]
    if len(out) < 2 or len(set(out)) != len(out):
        raise WorkloadSpecError(f"got {seeds!r}", field="seeds",
                                expected="at least 2 distinct seeds (an interval needs "
                                "more than one run)")
    return out


def predict_runs(config: Any, workload: Any, *, duration: str | float = "10m",
                 seeds: int | Any = 5, seed: int = 0) -> pl.DataFrame:
    """:func:`predict` over several seeds: one row per run.

    Parameters
    ----------
    config, workload, duration
        As :func:`predict`.
    seeds
        How many runs (seeds ``seed, seed+1, ...``) or the seeds themselves.
    seed
        First seed when ``seeds`` is a count.

    Returns
    -------
    polars.DataFrame
        Column ``seed``, then the columns of :func:`predict`, plus
        ``tasks_total`` and ``rollback_events`` (how much each run saw).

    Examples
    --------
    >>> from specanalysis.config import SpeculationConfig
    >>> from specanalysis.sim import Workload
    >>> runs = predict_runs(SpeculationConfig(enabled=True), Workload(rate=5),
    ...                     duration="30s", seeds=3)
    >>> runs["seed"].to_list()
    [0, 1, 2]
    """
    from specanalysis.sim import simulate

    config = _check_config(config)
    rows = []
    for s in _seed_list(seeds, seed):
        summary = simulate(config, workload, duration=duration, seed=s,
                           progress=False).summary()
        row: dict[str, Any] = {"seed": s}
        row.update({k: int(_get(config, k)) for k in KNOBS})
        row.update({k: float(summary[k]) for k in PREDICTED})
        tasks = float(summary["tasks_total"])
        row["tasks_total"] = tasks
        rate = float(summary["rollback_rate_pct"])
        row["rollback_events"] = 0.0 if math.isnan(rate) else tasks * rate / 100
        rows.append(row)
    schema = ({"seed": pl.Int64} | dict.fromkeys(KNOBS, pl.Int64)
              | dict.fromkeys(PREDICTED, pl.Float64)
              | {"tasks_total": pl.Float64, "rollback_events": pl.Float64})
    return pl.DataFrame(rows, schema=schema)


def _t_quantile(level: float, df: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.5 + level / 2, df))


def _mean_interval(values: list[float], level: float) -> tuple[float, float, float]:
    n = len(values)
    if n < 2 or any(math.isnan(v) for v in values):
        return math.nan, math.nan, math.nan
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    half = _t_quantile(level, n - 1) * math.sqrt(var / n)
    return mean, mean - half, mean + half


def summarize_runs(runs: pl.DataFrame, *, level: float = 0.95) -> dict[str, str]:
    """Each predicted figure of :func:`predict_runs` as ``"mean ± half-width"``.

    The half-width is the Student-t interval of the mean over the runs at
    ``level``, formatted by :func:`format_interval` (so its digits follow the
    noise); keys are the display labels of :data:`PREDICTED`.

    Examples
    --------
    >>> summarize_runs(pl.DataFrame({"latency_p99_s": [5.0, 5.4, 4.9]}))
    {'latency p99 (s)': '5.10 ± 0.66'}
    """
    out = {}
    for key, label in PREDICTED.items():
        if key in runs.columns:
            out[label] = format_interval(*_mean_interval(runs[key].to_list(), level))
    return out


def compare_runs(start: pl.DataFrame, chosen: pl.DataFrame, *, level: float = 0.95
                 ) -> pl.DataFrame:
    """Per predicted figure: both means with intervals, the paired change, a verdict.

    Runs are paired by ``seed`` (the same seed gives both configurations the
    same arrivals and proof outcomes, so the difference carries less noise than
    either run). The change's interval is a Student-t interval of the paired
    differences at ``level``.

    Parameters
    ----------
    start, chosen
        Frames of :func:`predict_runs` with the same seeds.
    level
        Confidence level of the intervals (default 95 %).

    Returns
    -------
    polars.DataFrame
        One row per figure of :data:`PREDICTED`: ``figure``, ``label``,
        ``start``, ``start_lo``, ``start_hi``, ``chosen``, ``chosen_lo``,
        ``chosen_hi``, ``change``, ``change_lo``, ``change_hi``, ``verdict``
        (``"better"``, ``"worse"``, ``"within noise"``, ``"same"`` when every
        run gave identical numbers, ``"too few rollbacks"`` when the runs saw
        fewer than :data:`MIN_ROLLBACK_EVENTS` rollback events each on average,
        ``"n/a"`` where undefined).

    Raises
    ------
    WorkloadSpecError
        The two frames do not hold the same seeds.

    Examples
    --------
    >>> a = pl.DataFrame({"seed": [0, 1, 2], "throughput_tps": [10.0, 11.0, 12.0]})
    >>> b = a.with_columns(pl.col("throughput_tps") + 5)
    >>> row = compare_runs(a, b).filter(pl.col("figure") == "throughput_tps")
    >>> row["change"].item(), row["verdict"].item()
    (5.0, 'better')
    """
    if sorted(start["seed"].to_list()) != sorted(chosen["seed"].to_list()):
        raise WorkloadSpecError("the two sets of runs have different seeds",
                                field="seeds", expected="the same seeds for both")
    a = start.sort("seed")
    b = chosen.sort("seed")
    events = None
    if "rollback_events" in a.columns and "rollback_events" in b.columns:
        events = min(a["rollback_events"].mean(), b["rollback_events"].mean())
    rows = []
    for key, label in PREDICTED.items():
        if key not in a.columns or key not in b.columns:
            continue
        xs, ys = a[key].to_list(), b[key].to_list()
        s_mean, s_lo, s_hi = _mean_interval(xs, level)
        c_mean, c_lo, c_hi = _mean_interval(ys, level)
        d_mean, d_lo, d_hi = _mean_interval([y - x for x, y in zip(xs, ys, strict=True)],
                                            level)
        if math.isnan(d_mean):
            verdict = "n/a"
        elif key in _ROLLBACK_FIGURES and events is not None \
                and events < MIN_ROLLBACK_EVENTS:
            verdict = "too few rollbacks"
        elif d_lo == d_hi == d_mean == 0:
            verdict = "same"
        elif d_lo <= 0 <= d_hi:
            verdict = "within noise"
        else:
            up = d_mean > 0
            verdict = "better" if up == (key in HIGHER_IS_BETTER) else "worse"
        rows.append({"figure": key, "label": label, "start": s_mean, "start_lo": s_lo,
                     "start_hi": s_hi, "chosen": c_mean, "chosen_lo": c_lo,
                     "chosen_hi": c_hi, "change": d_mean, "change_lo": d_lo,
                     "change_hi": d_hi, "verdict": verdict})
    schema = {"figure": pl.String, "label": pl.String} | dict.fromkeys(
        ["start", "start_lo", "start_hi", "chosen", "chosen_lo", "chosen_hi", "change",
         "change_lo", "change_hi"], pl.Float64) | {"verdict": pl.String}
    return pl.DataFrame(rows, schema=schema)


def format_interval(mean: float, lo: float, hi: float) -> str:
    """``mean ± half-width`` with as many digits as the interval supports.

    The half-width keeps two significant digits and the mean is rounded to the
    same decimal place, so noise is never printed as precision.

    Examples
    --------
    >>> format_interval(5.2345, 4.9, 5.569)
    '5.23 ± 0.33'
    >>> format_interval(1234.5, 1000.0, 1469.0)
    '1230 ± 230'
    >>> format_interval(2.0, 2.0, 2.0)
    '2'
    >>> format_interval(float("nan"), float("nan"), float("nan"))
    'n/a'
    """
    if any(math.isnan(v) for v in (mean, lo, hi)):
        return "n/a"
    half = (hi - lo) / 2
    if half <= 0:
        return f"{mean:.4g}"
    place = math.floor(math.log10(half)) - 1  # two significant digits of the half-width
    decimals = max(0, -place)
    if place > 0:
        step = 10 ** place
        return f"{round(mean / step) * step:.0f} ± {round(half / step) * step:.0f}"
    return f"{mean:.{decimals}f} ± {half:.{decimals}f}"


@dataclass(frozen=True)
class PanelState:
    """What a :func:`tuning_panel` currently shows.

    Attributes
    ----------
    config
        The starting configuration with the sliders' values applied.
    prediction
        :func:`predict_runs` of ``config`` (one row per seed).
    comparison
        :func:`compare_runs` of the starting configuration's runs and
        ``prediction`` (one row per figure, with intervals and a verdict).
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


_VERDICT_STYLE = {
    "better": "color:#1a7f37;font-weight:bold",
    "worse": "color:#cf222e;font-weight:bold",
    "within noise": "color:#57606a",
    "same": "color:#57606a",
    "too few rollbacks": "color:#9a6700",
    "n/a": "color:#57606a",
}

_TABLE_STYLE = ("border-collapse:collapse;font-size:13px;"
                "font-variant-numeric:tabular-nums")
_CELL = "padding:3px 10px;border-bottom:1px solid #d0d7de;text-align:{align}"


def comparison_html(comparison: pl.DataFrame, *, level: float = 0.95) -> str:
    """The table of :func:`compare_runs` as HTML (intervals, colour-coded verdicts).

    Examples
    --------
    >>> a = pl.DataFrame({"seed": [0, 1, 2], "latency_p99_s": [5.0, 5.4, 4.9]})
    >>> "within noise" in comparison_html(compare_runs(a, a.with_columns(
    ...     pl.col("latency_p99_s") + pl.Series([0.3, -0.2, 0.1]))))
    True
    """
    from html import escape

    pct = f"{100 * level:g} %"
    head = "".join(
        f"<th style='{_CELL.format(align=al)}'>{escape(h)}</th>" for h, al in (
            ("figure", "left"), ("start", "right"), ("chosen", "right"),
            (f"change ({pct} interval)", "right"), ("verdict", "left")))
    rows = []
    for r in comparison.iter_rows(named=True):
        cells = [
            (escape(r["label"]), "left", ""),
            (format_interval(r["start"], r["start_lo"], r["start_hi"]), "right", ""),
            (format_interval(r["chosen"], r["chosen_lo"], r["chosen_hi"]), "right", ""),
            (_signed(format_interval(r["change"], r["change_lo"], r["change_hi"])),
             "right", ""),
            (escape(r["verdict"]), "left", _VERDICT_STYLE.get(r["verdict"], "")),
        ]
        rows.append("<tr>" + "".join(
            f"<td style='{_CELL.format(align=al)};{extra}'>{text}</td>"
            for text, al, extra in cells) + "</tr>")
    return (f"<table style='{_TABLE_STYLE}'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _signed(text: str) -> str:
    return text if text.startswith(("-", "n/a")) else "+" + text


def _html_table(frame: pl.DataFrame) -> str:
    from html import escape

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "n/a" if math.isnan(v) else f"{v:.4g}"
        return escape(str(v))

    head = "".join(f"<th style='{_CELL.format(align='left')}'>{escape(c)}</th>"
                   for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td style='{_CELL.format(align='left')}'>{cell(v)}</td>"
                         for v in row) + "</tr>"
        for row in frame.iter_rows()
    )
    return (f"<table style='{_TABLE_STYLE}'><thead><tr>{head}</tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def _reading(comparison: pl.DataFrame, runs: pl.DataFrame, duration: Any) -> str:
    """One sentence: what changed beyond noise, and how much each run saw."""
    from html import escape

    moved = [f"{r['label']} {r['verdict']}" for r in comparison.iter_rows(named=True)
             if r["verdict"] in ("better", "worse")]
    tasks = runs["tasks_total"].mean() if "tasks_total" in runs.columns else math.nan
    events = (runs["rollback_events"].mean() if "rollback_events" in runs.columns
              else math.nan)
    seen = (f"Each of the {runs.height} runs simulated {escape(str(duration))}: about "
            f"{tasks:,.0f} tasks and {events:,.0f} rollback events.")
    if not moved:
        return f"<p>No figure moved beyond the noise between seeds. {seen}</p>"
    return (f"<p>Beyond the noise between seeds: {escape('; '.join(moved))}. "
            f"{seen}</p>")


def tuning_panel(config: Any, workload: Any, *, duration: str | float = "10m",
                 seeds: int | Any = 5, seed: int = 0, level: float = 0.95,
                 avg_state_mb: float = 200.0, avg_proof_time_s: float = 30.0,
                 peak_task_rate: float | None = None) -> Any:
    """Sliders for the four main knobs, the sizing table and the simulator's prediction.

    Moving a slider applies its value to ``config`` and recomputes the guide's
    sizing formulas (:func:`~specanalysis.config.sizing_for`) and
    :func:`predict_runs` (``seeds`` simulations of ``duration`` of ``workload``,
    the same seeds as the starting configuration's). The table shows each
    figure for the start and the choice with its interval over the seeds, the
    paired change with its interval, and a verdict: a change whose interval
    contains zero is *within noise*, and rollback figures are not judged when
    the runs saw too few rollbacks (simulate longer).

    Parameters
    ----------
    config
        Starting :class:`~specanalysis.config.SpeculationConfig`.
    workload
        The :class:`~specanalysis.sim.Workload` to simulate.
    duration, seeds, seed
        Passed to :func:`predict_runs` (default 5 runs of 10 simulated minutes:
        on the fixture workload, over a hundred rollback events per run and
        latency intervals of a few percent).
    level
        Confidence level of the intervals.
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
    seed_list = _seed_list(seeds, seed)
    peak = _peak_rate(workload) if peak_task_rate is None else peak_task_rate

    def sizing(cfg: Any) -> pl.DataFrame:
        return sizing_for(cfg, peak_task_rate=peak, avg_state_mb=avg_state_mb,
                          avg_proof_time_s=avg_proof_time_s)

    start_sizing = sizing(config)  # bad sizing inputs fail here, before simulating
    start = predict_runs(config, workload, duration=duration, seeds=seed_list)

    sliders = {}
    for dotted, label in KNOBS.items():
        lo, hi = knob_bounds(dotted)
        sliders[dotted] = widgets.IntSlider(
            value=int(_get(config, dotted)), min=lo, max=hi, step=1,
            description=label, continuous_update=False,
            style={"description_width": "initial"},
        )
    prediction_html = widgets.HTML()
    reading_html = widgets.HTML()
    sizing_html = widgets.HTML()
    status = widgets.HTML()
    box = widgets.VBox([
        widgets.HTML("<b>Configuration knobs</b> (release a slider to re-simulate: "
                     f"{len(seed_list)} seeds × {duration} of the workload)"),
        widgets.HBox(list(sliders.values())[:2]),
        widgets.HBox(list(sliders.values())[2:]),
        status,
        widgets.HTML(f"<b>Simulator prediction</b>: start vs chosen, mean ± "
                     f"{100 * level:g} % interval over {len(seed_list)} seeds"),
        prediction_html,
        reading_html,
        widgets.HTML(f"<b>Sizing formulas</b> (peak {peak:.3g} tasks/s, "
                     f"{avg_state_mb:.4g} MB per branch, {avg_proof_time_s:.3g} s "
                     "per proof)"),
        sizing_html,
    ])
    box.sliders = sliders

    def show(state: PanelState) -> None:
        box.state = state
        prediction_html.value = comparison_html(state.comparison, level=level)
        reading_html.value = _reading(state.comparison, state.prediction, duration)
        sizing_html.value = _html_table(state.sizing)
        status.value = (f"<span style='color:crimson'>{state.error}</span>"
                        if state.error else "")

    def refresh(_change: Any = None) -> None:
        changes = {k: s.value for k, s in sliders.items()}
        try:
            cfg = config.replace(**changes)
            runs = predict_runs(cfg, workload, duration=duration, seeds=seed_list)
            show(PanelState(cfg, runs, compare_runs(start, runs, level=level),
                            sizing(cfg)))
        except SpecAnalysisError as err:  # keep the last good numbers, say why
            old = box.state
            show(dataclasses.replace(old, error=str(err)))

    show(PanelState(config, start, compare_runs(start, start, level=level),
                    start_sizing))
    for s in sliders.values():
        s.observe(refresh, names="value")

    live = box._repr_mimebundle_

    def mimebundle(**kwargs: Any) -> Any:
        # the live widget, plus the current tables as static HTML for places
        # without a kernel (exported HTML: specanalysis.notebook.export_html)
        bundle = live(**kwargs)
        if isinstance(bundle, tuple):
            data, meta = bundle
        else:
            data, meta = bundle, {}
        data = dict(data or {})
        data["text/html"] = snapshot_html(box)
        return data, meta

    box._repr_mimebundle_ = mimebundle
    return box


def snapshot_html(panel: Any) -> str:
    """What a :func:`tuning_panel` shows, as static HTML (knob values and tables)."""
    from html import escape

    st = panel.state
    knobs = ", ".join(f"{escape(KNOBS[k])} = {s.value}" for k, s in panel.sliders.items())
    parts = [f"<div><p><b>Tuning panel</b> (static snapshot: {knobs})</p>"]
    for child in panel.children[3:]:
        value = getattr(child, "value", None)
        if isinstance(value, str) and value:
            parts.append(value)
    if st.error:
        parts.append(f"<p style='color:crimson'>{escape(st.error)}</p>")
    parts.append("</div>")
    return "".join(parts)
