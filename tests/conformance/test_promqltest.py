"""Conformance: Prometheus' own PromQL test files against the offline engine.

Every eval of ``../shared/promqltest/v2.42.0`` (semantics ``prom2``) and
``v3.14.0`` (``prom3``) whose query the vocabulary can express and whose data a
samples frame can hold becomes one test; each must give Prometheus' expected
result within promqltest's tolerance. The files are read where they are (never
copied); without them the tier skips with the reason. The terminal summary
states how many evals were expressible per version (``conftest.py``).
"""

from __future__ import annotations

import warnings

import polars as pl
import pytest

from specanalysis.errors import SpecAnalysisError
from specanalysis.frames import TIMESTAMP
from specanalysis.sources.offline import OfflineSource

from .promqltest import (
    PROMQLTEST,
    VERSIONS,
    Eval,
    almost_equal,
    expressible,
    read_version,
    translate_eval,
)


def _cases() -> list:
    if not PROMQLTEST.is_dir():
        return [pytest.param(None, None, marks=pytest.mark.skip(
            reason=f"{PROMQLTEST} is absent: Prometheus' promqltest files are read from "
            "../shared/promqltest next to the repository"), id="no-promqltest")]
    out = []
    for version, semantics in VERSIONS.items():
        if not (PROMQLTEST / version).is_dir():
            continue
        for ev in read_version(version):
            if not expressible(ev):
                continue
            out.append(pytest.param(semantics, ev, id=f"{version}/{ev.file}:{ev.line}"))
    return out


_SOURCES: dict = {}


def _source(ev: Eval, semantics: str) -> OfflineSource:
    cache_key = (semantics, ev.file, ev.data_id)
    if cache_key not in _SOURCES:
        names = sorted({k for s in ev.data for k in s.labels if k != "__name__"})
        rows = {"timestamp": [], "metric": [], "value": [], **{n: [] for n in names}}
        latest: dict = {}  # a sample loaded twice: the last write wins, as in Prometheus
        for s in ev.data:
            series_key = tuple(sorted(s.labels.items()))
            for t, v in s.points:
                latest[(series_key, t)] = (s.labels, v)
        for (_, t), (labels, v) in latest.items():
            rows["timestamp"].append(t)
            rows["metric"].append(labels["__name__"])
            rows["value"].append(v)
            for n in names:
                rows[n].append(labels.get(n))
        frame = pl.DataFrame(rows, schema={"timestamp": pl.Int64, "metric": pl.String,
                                           "value": pl.Float64,
                                           **dict.fromkeys(names, pl.String)})
        frame = frame.with_columns(pl.col("timestamp").cast(TIMESTAMP))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _SOURCES[cache_key] = OfflineSource(frame, semantics=semantics)
    return _SOURCES[cache_key]


def _key(row: dict, labels: list[str]) -> tuple:
    d = {n: row[n] for n in labels if row[n] is not None}
    if row["metric"] is not None:
        d["__name__"] = row["metric"]
    return tuple(sorted(d.items()))


def _fmt(v: float | None) -> str:
    return "_" if v is None else repr(v)


def _series(frame: pl.DataFrame) -> dict[tuple, dict[int, float]]:
    labels = [c for c in frame.columns if c not in ("timestamp", "metric", "value")]
    got: dict[tuple, dict[int, float]] = {}
    for row in frame.iter_rows(named=True):
        ms = int(row["timestamp"].timestamp() * 1000) if row["timestamp"] else 0
        got.setdefault(_key(row, labels), {})[ms] = row["value"]
    return got


def _compare(ev: Eval, got: dict[tuple, dict[int, float]], steps: list[int],
             mode: str) -> None:
    want: dict[tuple, list[float | None]] = {}
    for lab, values in ev.expected:
        key = () if lab is None else tuple(sorted(lab.items()))
        want[key] = values
    assert set(got) == set(want), (
        f"{ev.expr}{mode}: series differ\n  expected {sorted(want)}\n"
        f"  got      {sorted(got)}")
    for key, values in want.items():
        have = [got[key].get(t) for t in steps]
        if not ev.is_range:
            values = values[:1]
        values = values + [None] * (len(have) - len(values))
        ok = all((a is None) == (b is None) and (a is None or almost_equal(a, b))
                 for a, b in zip(values, have, strict=True))
        assert ok, (f"{ev.expr}{mode} {dict(key)}:\n  expected "
                    f"{' '.join(map(_fmt, values))}\n  got      {' '.join(map(_fmt, have))}")


@pytest.mark.parametrize(("semantics", "ev"), _cases())
def test_promqltest_eval(semantics: str, ev: Eval) -> None:
    """One eval, as promqltest runs it.

    An instant eval is also run, as promqltest does, as a range query from one
    minute before to one minute after its time with a one-minute step; the
    middle step must give the same result. ``eval_ordered``/``expect ordered``
    results are compared as sets: the vocabulary has no ordering operation
    (``sort``, ``topk``), so no expressible eval has an order to check, and
    none of the ordered evals in these files is expressible. Annotations
    (``expect warn|info|no_warn|no_info``, ``eval_warn``, ``eval_info``) are
    not checked: the offline engine does not produce PromQL annotations; the
    values of those evals still are.
    """
    expr = translate_eval(ev)
    src = _source(ev, semantics)
    try:
        if ev.is_range:
            frame = src.evaluate_range(expr, ev.start_ms / 1000, ev.end_ms / 1000,
                                       ev.step_ms / 1000)
        else:
            frame = src.evaluate(expr, ev.start_ms / 1000)
    except SpecAnalysisError as exc:
        assert ev.fail, f"{ev.expr}: unexpected error {exc}"
        return
    assert not ev.fail, f"{ev.expr}: expected an error, got {frame.height} rows"
    steps = list(range(ev.start_ms, ev.end_ms + 1, ev.step_ms)) if ev.is_range else [
        ev.start_ms]
    _compare(ev, _series(frame), steps, "")
    if not ev.is_range:
        t = ev.start_ms
        ranged = src.evaluate_range(expr, (t - 60_000) / 1000, (t + 60_000) / 1000, 60)
        middle = {k: {t: v[t]} for k, v in _series(ranged).items() if t in v}
        _compare(ev, middle, [t], " (range mode)")


def test_expressible_share_is_reported():
    """The count of expressible evals (the terminal summary prints it per version).

    The floor is the count this tier reached (197 of v2.42.0 and 308 of
    v3.14.0); a change that loses evals fails here instead of silently.
    """
    if not PROMQLTEST.is_dir():
        pytest.skip(f"{PROMQLTEST} is absent")
    per_version: dict[str, int] = {}
    for c in _cases():
        if c.values[1] is not None:
            version = c.id.split("/")[0]
            per_version[version] = per_version.get(version, 0) + 1
    assert per_version.get("v2.42.0", 0) >= 197, per_version
    assert per_version.get("v3.14.0", 0) >= 308, per_version
    assert sum(per_version.values()) >= 505, per_version
