"""The pure classification decision and the one classification matrix.

Features are built by hand; the truth is the tuning guide's matrix (volume low
< 100/min, high > 1000/min; depth shallow <= 3, deep > 3; the four cells'
settings as printed in the guide) and the documented pattern thresholds.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

import polars as pl
import pytest

from specanalysis.classify import Thresholds, classify, classify_quadrant
from specanalysis.config import QUADRANTS, SpeculationConfig
from specanalysis.errors import ConfigError, DataError
from specanalysis.matrix import MATRIX, ClassificationMatrix
from specanalysis.profile import Figure, WorkloadProfile, depth_table
from specanalysis.tuning import TuningThresholds, recommend

# the guide's matrix, typed from tuning-guide.md (not from the code)
GUIDE_CELLS = {
    ("low", "shallow"): ("Conservative", {"max_depth": 3, "max_parallel_branches": 2,
                                          "proof.batch_size": 10}),
    ("high", "shallow"): ("Throughput-optimized", {"max_depth": 5,
                                                   "max_parallel_branches": 8,
                                                   "proof.batch_size": 50}),
    ("low", "deep"): ("Reliability-focused", {"max_depth": 5, "max_parallel_branches": 4,
                                              "rollback_policy": "cascade"}),
    ("high", "deep"): ("Scale-out required", {"max_depth": 8, "max_parallel_branches": 16,
                                              "rollback_policy": "selective"}),
}

STEADY = {"minutes": 60.0, "mean_per_min": 50.0, "peak_per_min": 60.0,
          "peak_to_mean": 1.2, "dispersion_index": 3.0, "cv": 0.2,
          "trend_per_hour": 0.01, "dispersion_detrended": 3.0}
BURSTY = {**STEADY, "peak_per_min": 150.0, "peak_to_mean": 3.0,
          "dispersion_detrended": 80.0, "dispersion_index": 80.0, "cv": 0.9}


def feats(volume: float, depth: float, pattern: dict | None = None) -> dict[str, float]:
    return {"volume_per_min": volume, "depth_p90": depth, **(pattern or {})}


# ------------------------------------------------------------------- the matrix


def test_one_matrix_matches_the_guide():
    for (vol, dep), (title, settings) in GUIDE_CELLS.items():
        cell = MATRIX.quadrant(vol, dep)
        assert cell.title == title
        assert cell.settings == settings
        assert QUADRANTS[cell.name] == cell  # config's cells are the matrix's
    assert MATRIX.low_volume == 100 and MATRIX.high_volume == 1000
    assert MATRIX.shallow_depth == 3


@pytest.mark.parametrize(("volume", "depth", "cell"), [
    (99.9, 3.0, ("low", "shallow")),
    (99.9, 3.01, ("low", "deep")),
    (1000.1, 0.0, ("high", "shallow")),
    (1e6, 20.0, ("high", "deep")),
])
def test_classify_places_features_in_the_guides_cells(volume, depth, cell):
    c = classify(feats(volume, depth))
    title, settings = GUIDE_CELLS[cell]
    assert c.quadrant == title
    assert c.settings == settings
    assert c.placement.cell.matches(volume, depth)


@pytest.mark.parametrize("volume", [100.0, 500.0, 1000.0])
def test_band_between_the_boundaries_has_no_cell(volume):
    c = classify(feats(volume, 2.0))
    assert c.quadrant is None
    assert not any(q.matches(volume, 2.0) for q in QUADRANTS.values())
    # the nearest cell in log-volume: 316/min is the log-midpoint of 100 and 1000
    expected = "Conservative" if math.log10(volume) < 2.5 else "Throughput-optimized"
    assert c.nearest_quadrant == expected


def test_custom_thresholds_move_classification_and_settings_together():
    # 150 tasks/min, depth 2: the guide's matrix has no cell for it (100-1000)
    default = classify(feats(150.0, 2.0))
    assert default.quadrant is None
    custom = Thresholds(low_volume=200.0, shallow_depth=1.0,
                        quadrant_settings={"reliability-focused": {"max_depth": 4}})
    c = classify(feats(150.0, 2.0), thresholds=custom)
    # low volume under the custom boundary, deep under the custom split
    assert c.quadrant == "Reliability-focused"
    assert c.workload_type == "deep_chains"
    # the settings the placement carries are the custom matrix's
    assert c.settings == {"max_depth": 4}
    # the matrix's own cells agree with the placement ...
    cells = custom.quadrants
    assert cells["reliability-focused"].matches(150.0, 2.0)
    assert not MATRIX.quadrants["reliability-focused"].matches(150.0, 2.0)
    assert cells["reliability-focused"].volume_condition == ("<", 200.0)
    assert cells["conservative"].depth_condition == ("<=", 1.0)
    # ... and so does the tuning rule reading the same matrix
    t = datetime(2025, 1, 1, 1, tzinfo=timezone.utc)
    prof = WorkloadProfile({"task_rate": Figure("task_rate", 150.0, "tasks/min"),
                            "depth_p90": Figure("depth_p90", 2.0, "levels")},
                           depth_table(pl.DataFrame({"le": ["1"], "value": [1.0]})),
                           "1h", t, t.replace(hour=0))
    base = SpeculationConfig(enabled=True)
    recs = recommend(prof, base, thresholds=TuningThresholds(matrix=custom),
                     quadrant="apply")
    assert recs.quadrant.title == "Reliability-focused" and recs.quadrant.exact
    assert recs.quadrant.settings == {"max_depth": 4}
    assert recs.apply().max_depth == 4
    plain = recommend(prof, base)
    assert not plain.quadrant.exact and plain.quadrant.title == "Conservative"


def test_bad_matrix_is_a_config_error_listing_every_problem():
    with pytest.raises(ConfigError) as err:
        ClassificationMatrix(low_volume=2000.0, depth_stat="max",
                             quadrant_settings={"nowhere": {}})
    assert len(err.value.problems) == 3


# ------------------------------------------------------------------ workload type


def test_structure_and_pattern_combine_as_the_guide_says():
    assert classify(feats(3000.0, 2.0, STEADY)).workload_type == "high_volume_shallow"
    assert classify(feats(50.0, 6.0, STEADY)).workload_type == "deep_chains"
    assert classify(feats(50.0, 2.0, BURSTY)).workload_type == "burst_traffic"
    assert classify(feats(50.0, 2.0, STEADY)).workload_type == "steady_state"
    # high volume and deep at once, or structure with bursts: mixed
    assert classify(feats(3000.0, 6.0, STEADY)).workload_type == "mixed"
    mixed = classify(feats(3000.0, 2.0, BURSTY))
    assert mixed.workload_type == "mixed"
    assert set(mixed.traits) == {"high_volume_shallow", "burst_traffic"}


def test_pattern_thresholds_are_the_documented_ones():
    th = Thresholds()
    # just below / at the burst thresholds (peak/mean 1.5 AND dispersion 20)
    below = {**BURSTY, "peak_to_mean": 1.49}
    at = {**BURSTY, "peak_to_mean": 1.5, "dispersion_detrended": 20.0}
    assert classify(feats(50.0, 2.0, below)).pattern != "burst"
    assert classify(feats(50.0, 2.0, at)).pattern == "burst"
    # trending load is not steady (|trend| >= 25 %/h)
    ramp = {**STEADY, "trend_per_hour": th.trend_per_hour}
    assert classify(feats(50.0, 2.0, ramp)).pattern == "variable"
    short = {**STEADY, "minutes": 9.0}
    assert classify(feats(50.0, 2.0, short)).pattern == "undetermined"


def test_classify_takes_a_features_frame_and_missing_depth():
    frame = pl.DataFrame({"feature": ["volume_per_min", "depth_p90"],
                          "value": [50.0, float("nan")]})
    c = classify(frame, notes={"depth_p90": "no depth histogram"})
    assert c.quadrant is None and c.placement is None and c.settings is None
    assert any("no depth histogram" in e for e in c.evidence)
    mean = classify(feats(50.0, 6.0) | {"depth_mean": 2.0},
                    thresholds=Thresholds(depth_stat="mean"))
    assert mean.quadrant == "Conservative"


def test_classify_without_volume_is_a_data_error():
    with pytest.raises(DataError, match="task rate"):
        classify({"depth_p90": 2.0})
    with pytest.raises(DataError, match="features.volume_per_min"):
        classify({"volume_per_min": "lots"})


def test_classify_quadrant_is_the_matrix():
    assert classify_quadrant(50, 2) == MATRIX.place(50, 2)
