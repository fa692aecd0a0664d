"""``specanalysis sweep``: the what-if grid from the command line.

Figures are checked against the simulator run directly; exit codes against
the CLI's contract (2 bad input, 3 scheduler unreachable), with nothing
simulated before a bad-input error.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import specanalysis.sim.sweep as sweep_mod
from specanalysis.cli import main
from specanalysis.config import SpeculationConfig
from specanalysis.sim import Workload, simulate
from specanalysis.sim.sweep import sweep_seeds

SMALL = ["sweep", "--serial", "--duration", "30s", "--seeds", "2", "--no-progress",
         "--rate", "5", "--depth-distribution", "fixed:3"]


@pytest.fixture
def no_simulation(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("simulate() was called")

    monkeypatch.setattr(sweep_mod, "simulate", boom)


def test_help_teaches_the_grid_syntax_and_exit_codes(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["sweep", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for text in ("--set speculation.max_depth=3,5,8", "fixture:NAME", "--scheduler",
                 "tcp://host:8786", "--cache", "exit codes", "or the Dask scheduler could not",
                 "separate", "did-you-mean"):
        assert text in out, text


def test_json_points_are_the_simulators_means(capsys, tmp_path):
    out_file = tmp_path / "results.parquet"
    code = main([*SMALL, "--set", "speculation.max_depth=2,4", "--set",
                 "proof.worker_threads=1,4", "--json", "--output", str(out_file)])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["points"]) == 4
    assert doc["runs"] == {"runs": 8, "computed": 8, "cached": 0}
    assert set(doc["pareto"]["points"]) <= {0, 1, 2, 3}
    # point 3 = max_depth 4, 4 workers; its mean over the two seeds
    cfg = SpeculationConfig(enabled=True).replace(**{"max_depth": 4,
                                                     "proof.worker_threads": 4})
    wl = Workload(rate=5, depth="fixed:3")
    values = [simulate(cfg, wl, duration=30, seed=s).summary()["latency_p99_s"]
              for s in sweep_seeds(2)]
    point = doc["points"][3]
    assert (point["max_depth"], point["proof.worker_threads"]) == (4, 4)
    assert point["latency_p99_s"] == pytest.approx(sum(values) / 2, rel=1e-12)
    frame = pl.read_parquet(out_file)
    assert frame.height == 8
    assert frame.filter(pl.col("point") == 3)["latency_p99_s"].to_list() == values


def test_text_output_has_targets_and_the_pareto_front(capsys, tmp_path):
    cache = tmp_path / "cache"
    assert main([*SMALL, "--set", "max_depth=2,4", "--cache", str(cache)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Sweep: 2 points x 2 seeds of 30s simulated (4 run, 0 from")
    assert "targets" in out and "Pareto front of latency_p99_s against memory_peak_mb" \
        in out
    assert "Points meeting every measurable target" in out
    assert main([*SMALL, "--set", "max_depth=2,4", "--cache", str(cache)]) == 0
    assert "(0 run, 4 from cache)" in capsys.readouterr().out


def test_workload_from_a_file_and_a_fixture(capsys, tmp_path):
    path = tmp_path / "wl.toml"
    path.write_text('[workload]\nrate = 4\ndepth = "fixed:2"\n', encoding="utf-8")
    assert main(["sweep", "--serial", "--duration", "30s", "--seeds", "1",
                 "--no-progress", "--workload", str(path), "--set",
                 "workload.rate=4,8", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    wl = Workload(rate=8, depth="fixed:2")
    want = simulate(SpeculationConfig(enabled=True), wl, duration=30,
                    seed=sweep_seeds(1)[0]).summary()["tasks_total"]
    assert doc["points"][1]["tasks_total"] == want
    bad = tmp_path / "bad.toml"
    bad.write_text("rat = 4\n", encoding="utf-8")
    assert main([*SMALL, "--workload", str(bad), "--set", "max_depth=2"]) == 2
    assert "did you mean rate?" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    (["--set", "max_dept=3,5"], "did you mean max_depth?"),
    (["--set", "workload.rat=3"], "did you mean workload.rate?"),
    (["--set", "max_depth=0,5,30"], "0 is out of range (expected an integer in 1..20)"),
    (["--set", "proof.batch_size=abc"], "'abc' is not an integer"),
    ([], "the grid is empty"),
    (["--set", "max_depth"], "is not NAME=VALUES"),
    (["--set", "max_depth=3", "--set", "max_depth=5"], "is given twice"),
    (["--set", "max_depth=3", "--rate", "-2"], "--rate: -2.0 is not a positive rate"),
    (["--set", "max_depth=3", "--pareto", "latency"], "--pareto"),
    (["--set", "max_depth=3", "--output", "x.xlsx"], "unknown output format"),
    (["--set", "max_depth=3", "--workload", "nope.toml"], "file not found"),
])
def test_bad_input_exits_2_before_anything_runs(capsys, no_simulation, args, message):
    assert main([*SMALL, *args]) == 2
    err = capsys.readouterr().err
    assert message in err, err


def test_every_grid_problem_is_listed_at_once(capsys, no_simulation):
    assert main([*SMALL, "--set", "max_dept=3", "--set", "proof.worker_threads=0,64",
                 "--set", "workload.failures=2"]) == 2
    err = capsys.readouterr().err
    assert "4 problems" in err
    assert "0 is out of range" in err and "64 is out of range" in err
    assert "workload.failures: 2 is not a probability" in err


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_scheduler_exits_3():
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.run(
        [sys.executable, "-m", "specanalysis", *SMALL[:1], "--set", "max_depth=3,5",
         "--scheduler", f"tcp://127.0.0.1:{_closed_port()}", "--connect-timeout", "2",
         "--no-progress"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert "Dask scheduler unreachable" in proc.stderr
    assert proc.stdout == ""


def test_values_are_read_as_toml_literals():
    from specanalysis.cli.sweep import parse_set

    assert parse_set(["a=1,2.5,true,cascade"]) == {"a": [1, 2.5, True, "cascade"]}
    assert parse_set(['a="x,y";"z"']) == {"a": ["x,y", "z"]}
