"""``specanalysis model latency|rollback``: output, JSON, exit codes.

Truth: the fixtures' provenance (3 % invalid proofs, the simulated workload's
times) and the benchmark result files themselves.
"""

from __future__ import annotations

import json

import polars as pl
import pytest

from specanalysis.cli import main
from specanalysis.fixtures import fixtures_dir, load_fixture
from specanalysis.io import write_samples


def test_latency_on_a_fixture_prints_the_tidy_table(capsys):
    assert main(["model", "latency", "--fixture", "baseline"]) == 0
    out = capsys.readouterr().out
    assert "Latency against depth from benchmark results" in out
    assert "intercept" in out and "per_task" in out
    # the bundled runs are the guide's suite at its rates: they queue
    assert "latency stops improving at max_depth 4" in out  # ceil(3.65 / 1)


def test_latency_json_and_estimators(capsys):
    assert main(["model", "latency", "--bench-dir",
                 str(fixtures_dir() / "bench" / "baseline"), "--estimator", "quantile",
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    qs = {r["quantile"] for r in doc["tidy"] if r["term"] == "per_task"}
    assert qs == {0.5, 0.9, 0.99}
    assert doc["mean_times_s"]["exec_time"] == pytest.approx(0.5)


def test_rollback_on_a_fixture_recovers_the_injected_failures(capsys):
    # the fixture was simulated with 3 % invalid proofs (fixtures/README.md)
    assert main(["model", "rollback", "--fixture", "baseline", "--window", "2h",
                 "--mc-samples", "400", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    est = doc["estimate"]
    assert est["p_low"] <= 0.03 <= est["p_high"]
    lo, hi = doc["interval"]
    assert lo <= doc["recommended_max_depth"] <= hi
    pred = doc["prediction"]
    assert pred["rollback_share_low"] <= pred["rollback_share"] <= \
        pred["rollback_share_high"]
    # measured times are the fixture workload's means (execution 0.5 s, confirm 1 s)
    assert doc["times_s"]["exec_time"] == pytest.approx(0.5, rel=0.05)
    assert doc["times_s"]["confirm_time"] == pytest.approx(1.0, rel=0.05)


def test_rollback_text_output(capsys):
    assert main(["model", "rollback", "--fixture", "after-max-depth-3",
                 "--mc-samples", "300", "--objective", "latency"]) == 0
    out = capsys.readouterr().out
    assert "per-attempt failure probability p =" in out
    assert "Recommended max_depth" in out and "minimises expected chain latency" in out


def test_bad_input_exit_codes(tmp_path, capsys):
    # a samples file whose latency histogram has no depth label
    path = tmp_path / "s.parquet"
    write_samples(load_fixture("baseline").filter(
        pl.col("metric").str.starts_with("speculation_e2e")), path)
    assert main(["model", "latency", "--samples", str(path)]) == 2
    assert "no depth label" in capsys.readouterr().err
    assert main(["model", "latency", "--bench-dir", str(tmp_path / "none")]) == 2
    assert main(["model", "rollback", "--samples", str(path)]) == 2
    assert "depth_histogram" in capsys.readouterr().err


def test_help_teaches(capsys):
    with pytest.raises(SystemExit):
        main(["model", "rollback", "--help"])
    out = capsys.readouterr().out
    assert "effective" in out and "--chain-length" in out and "examples:" in out


def test_rollback_from_a_benchmark_directory(capsys):
    assert main(["model", "rollback", "--bench-dir",
                 str(fixtures_dir() / "bench" / "baseline"), "--test", "deep_chain",
                 "--mc-samples", "300", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["estimate"]["method"] == "event_rate"
    assert doc["times_s"]["exec_time"] == pytest.approx(0.5)
