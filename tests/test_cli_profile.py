"""``specanalysis profile`` and ``specanalysis recommend``: output, files, exit codes."""

from __future__ import annotations

import json
import socket
import tomllib

import pytest

from specanalysis.cli import main
from specanalysis.config import SpeculationConfig
from specanalysis.fixtures import fixture_config, load_fixture
from specanalysis.profile import profile_workload

TOKEN = "s3cr3t-t0ken-value"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def baseline_toml(tmp_path):
    path = tmp_path / "current.toml"
    path.write_text(fixture_config("baseline").to_toml())
    return path


def test_profile_fixture_prints_every_figure_with_its_unit(capsys):
    assert main(["profile", "--fixture", "baseline"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("=== Workload Profile ===")
    expected = profile_workload(load_fixture("baseline"), window="1h")
    lines = out.splitlines()
    for fig in expected.figures.values():
        [line] = [ln for ln in lines if f"  {fig.name} " in ln]
        assert fig.unit in line.split()
        if fig.available:
            assert f"{fig.value:.4g}" in line
    assert "Depth <= 4" in out


def test_profile_json_parses_and_matches_the_library(capsys):
    assert main(["profile", "--fixture", "baseline", "--window", "30m", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["window"] == "30m"
    expected = profile_workload(load_fixture("baseline"), window="30m")
    assert doc["figures"]["task_rate"]["value"] == pytest.approx(
        expected["task_rate"].value)
    assert doc["figures"]["task_rate"]["unit"] == "tasks/min"
    assert doc["figures"]["task_rate"]["promql"] == expected["task_rate"].promql
    assert doc["source"].startswith("fixture baseline")


def test_profile_samples_parquet_and_openmetrics(tmp_path, capsys):
    from specanalysis.io import write_openmetrics, write_samples
    from specanalysis.sim import Workload, simulate

    result = simulate(SpeculationConfig(enabled=True), Workload(rate=5),
                      duration="4m", seed=1, progress=False)
    pq = write_samples(result.samples, tmp_path / "s.parquet")
    om = write_openmetrics(result.samples, tmp_path / "s.om")
    values = []
    for path in (pq, om):
        assert main(["profile", "--samples", str(path), "--window", "3m", "--json"]) == 0
        values.append(json.loads(capsys.readouterr().out)["figures"]["task_rate"]["value"])
    assert values[0] == pytest.approx(values[1])
    assert values[0] > 0


def test_profile_without_source_is_bad_input(capsys, monkeypatch):
    monkeypatch.delenv("SPECANALYSIS_PROMETHEUS_URL", raising=False)
    assert main(["profile"]) == 2
    assert "no data source" in capsys.readouterr().err


def test_profile_missing_file_and_bad_window_are_bad_input(tmp_path, capsys):
    assert main(["profile", "--samples", str(tmp_path / "nope.parquet")]) == 2
    assert "nope.parquet" in capsys.readouterr().err
    assert main(["profile", "--fixture", "baseline", "--window", "an hour"]) == 2
    assert "window" in capsys.readouterr().err
    assert main(["profile", "--fixture", "no-such-fixture"]) == 2


def test_unreachable_prometheus_exits_3_and_hides_the_token(capsys, monkeypatch):
    monkeypatch.setenv("SPECANALYSIS_PROMETHEUS_TOKEN", TOKEN)
    url = f"http://127.0.0.1:{closed_port()}"
    assert main(["profile", "--prometheus", url, "--deadline", "1"]) == 3
    captured = capsys.readouterr()
    assert "unreachable" in captured.err
    assert TOKEN not in captured.out + captured.err


def test_env_url_is_used_and_token_hidden(capsys, monkeypatch, baseline_toml):
    monkeypatch.setenv("SPECANALYSIS_PROMETHEUS_URL", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("SPECANALYSIS_PROMETHEUS_TOKEN", TOKEN)
    assert main(["recommend", "--config", str(baseline_toml), "--deadline", "1"]) == 3
    captured = capsys.readouterr()
    assert TOKEN not in captured.out + captured.err


def test_recommend_writes_a_valid_toml(tmp_path, capsys, baseline_toml):
    out = tmp_path / "proposed.toml"
    assert main(["recommend", "--config", str(baseline_toml), "--fixture", "baseline",
                 "--write", str(out), "--no-check"]) == 0
    text = capsys.readouterr().out
    assert "Tuning recommendations" in text and f"written to {out}" in text
    proposed = SpeculationConfig.from_toml(out)
    tomllib.loads(out.read_text())
    current = SpeculationConfig.from_toml(baseline_toml)
    assert proposed != current
    # every changed key is printed in the diff section
    for param, before, after in current.diff(proposed).iter_rows():
        assert f"{param}" in text and f"{before} -> {after}" in text


def test_recommend_json(capsys, baseline_toml):
    assert main(["recommend", "--config", str(baseline_toml), "--fixture", "baseline",
                 "--json", "--seeds", "2", "--check-duration", "3m"]) == 0
    doc = json.loads(capsys.readouterr().out)
    # every rule's evaluation and the simulation check travel in the JSON
    assert {e["status"] for e in doc["evaluations"]} >= {"fired", "not fired"}
    check = doc["check"]
    assert check["seeds"] == [0, 1]
    kept = {p["parameter"] for p in check["proposals"] if p["status"] == "proposed"}
    assert kept == {r["parameter"] for r in doc["recommendations"]}
    for p in check["proposals"]:
        assert p["reason"] and {e["figure"] for e in p["effects"]} >= {
            "latency_p99_s", "memory_peak_mb", "task_rollback_rate_pct"}
    assert doc["recommendations"]
    first = doc["recommendations"][0]
    assert set(first) >= {"parameter", "current", "proposed", "rule", "evidence",
                          "expected_effect", "priority"}
    assert doc["quadrant"]["name"]
    assert len(doc["diff"]) == len(doc["recommendations"])


def test_recommend_bad_config_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[speculation]\nmax_depth = 0\nmode = 'fast'\n")
    assert main(["recommend", "--config", str(bad), "--fixture", "baseline"]) == 2
    err = capsys.readouterr().err
    assert "max_depth" in err and "mode" in err
    assert main(["recommend", "--config", str(tmp_path / "missing.toml"),
                 "--fixture", "baseline"]) == 2
    broken = tmp_path / "broken.toml"
    broken.write_text("[speculation\n")
    assert main(["recommend", "--config", str(broken), "--fixture", "baseline"]) == 2


def test_help_documents_commands_and_figures(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    top = capsys.readouterr().out
    assert "profile" in top and "recommend" in top
    with pytest.raises(SystemExit):
        main(["profile", "--help"])
    text = capsys.readouterr().out
    for word in ("--prometheus", "--samples", "--fixture", "--window", "--at", "--json",
                 "queue_utilization", "confirmation_p99", "examples:", "exit codes"):
        assert word in text
    with pytest.raises(SystemExit):
        main(["recommend", "--help"])
    text = capsys.readouterr().out
    for word in ("--config", "--write", "rollback safety", "examples:"):
        assert word in text
