"""The guide's benchmark suite: result files, the suite report, the CLI."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone

import polars as pl
import pytest

from specanalysis.catalogue import TARGETS
from specanalysis.errors import ParseError, SchemaError, SpecAnalysisError
from specanalysis.sim.bench import (
    GUIDE_SUITE,
    SCHEMA_VERSION,
    SUMMARY_FIELDS,
    BenchParameters,
    BenchResult,
    check_targets,
    read_bench_result,
    suite_report,
    suite_table,
)
from specanalysis.sim.workload import FAST_TIMINGS

T0 = datetime(2025, 1, 28, tzinfo=timezone.utc)

# a summary that meets every guide target
GOOD = {
    "tasks_total": 15000.0,
    "throughput_tps": 50.0,
    "latency_p50_s": 0.6,
    "latency_p90_s": 1.5,
    "latency_p99_s": 3.0,
    "latency_max_s": 7.0,
    "chain_latency_p50_s": 1.0,
    "chain_latency_p99_s": 4.0,
    "rollback_rate_pct": 2.0,
    "task_rollback_rate_pct": 5.0,
    "avg_rollback_size": 2.5,
    "blast_radius_max": 6.0,
    "rejected_pct": 0.0,
    "deferred_pct": 10.0,
    "auto_disabled_pct": 0.0,
    "memory_avg_mb": 300.0,
    "memory_peak_mb": 420.0,
    "memory_per_active_task_mb": 4.0,
    "active_tasks_avg": 75.0,
    "active_tasks_peak": 90.0,
    "proof_p50_s": 0.4,
    "proof_p99_s": 1.2,
    "recovery_time_s": math.nan,
    "recovery_time_p99_s": math.nan,
    "queue_utilisation_peak_pct": 30.0,
    "mean_batch_size": 2.0,
}


def make_result(summary=None, *, test="latency", run=1, seed=7) -> BenchResult:
    series = pl.DataFrame({
        "timestamp": pl.Series([T0, T0.replace(second=15)]).dt.cast_time_unit("ms"),
        "t_s": [60.0, 75.0],
        "throughput_tps": [49.0, math.nan],
        "tasks": [735, 750],
        "burst": [False, True],
        "phase": ["steady", "burst"],
    })
    return BenchResult(
        parameters=BenchParameters(duration_s=300, rate=50, measure_latency=True),
        config={"speculation": {"max_depth": 5, "proof": {"batch_size": 10}}},
        seed=seed,
        summary=dict(GOOD if summary is None else summary),
        series=series,
        test=test,
        run=run,
        simulator="specanalysis test",
    )


# ---------------------------------------------------------------- result files


def test_result_round_trips_through_json(tmp_path):
    r = make_result()
    path = r.write(tmp_path / "latency_run1.json")
    back = read_bench_result(path)
    assert back == r
    assert back.series.schema == r.series.schema
    assert math.isnan(back.summary["recovery_time_s"])  # null in the file
    assert back.series["throughput_tps"].is_nan().to_list() == [False, True]
    doc = json.loads(path.read_text())
    assert doc["schema_version"] == SCHEMA_VERSION == 1
    assert doc["summary"]["recovery_time_s"] is None
    assert set(doc["summary"]) == set(SUMMARY_FIELDS)
    # deterministic bytes
    assert r.to_json() == back.to_json()


def test_result_config_turns_back_into_speculation_config():
    cfg = make_result().speculation_config()
    assert cfg.max_depth == 5 and cfg.proof.batch_size == 10


def _write_doc(tmp_path, mutate):
    doc = json.loads(make_result().to_json())
    mutate(doc)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.update(schema_version=2), "schema_version"),
        (lambda d: d.pop("schema_version"), "schema_version"),
        (lambda d: d.update(kind="something"), "kind"),
        (lambda d: d.update(seed=-1), "seed"),
        (lambda d: d.update(seed="7"), "seed"),
        (lambda d: d.pop("summary"), "summary"),
        (lambda d: d["summary"].pop("latency_p99_s"), "summary.latency_p99_s"),
        (lambda d: d["summary"].update(latency_p99_s="fast"), "summary.latency_p99_s"),
        (lambda d: d["summary"].update(latency_p42_s=1.0), "summary.latency_p42_s"),
        (lambda d: d["parameters"].update(rate=-5), "parameters.rate"),
        (lambda d: d["parameters"].update(rate="100"), "parameters.rate"),
        (lambda d: d["parameters"].pop("duration_s"), "parameters.duration_s"),
        (lambda d: d["parameters"].update(measure_latency=1), "parameters.measure_latency"),
        (lambda d: d["parameters"].update(inject_failures=1.5),
         "parameters.inject_failures"),
        (lambda d: d["parameters"].update(depth_distribution=3),
         "parameters.depth_distribution"),
        (lambda d: d.update(run=0), "run"),
        (lambda d: d["series"]["columns"][0].update(dtype="Decimal"),
         "series.columns[0].dtype"),
        (lambda d: d["series"]["columns"][1]["values"].append(1.0),
         "series.columns[1].values"),
        (lambda d: d["series"]["columns"][2].update(values=["a", "b"]),
         "series.columns[2].values"),
    ],
)
def test_bad_result_files_name_the_field(tmp_path, mutate, field):
    path = _write_doc(tmp_path, mutate)
    with pytest.raises(SchemaError) as info:
        read_bench_result(path)
    assert info.value.field == field
    assert field in str(info.value) and str(path) in str(info.value)


def test_non_json_names_the_line(tmp_path):
    path = tmp_path / "r.json"
    path.write_text('{\n  "schema_version": 1,\n  oops\n}')
    with pytest.raises(ParseError) as info:
        read_bench_result(path)
    assert info.value.line == 3


def test_missing_file_is_a_typed_error(tmp_path):
    with pytest.raises(SpecAnalysisError, match="no such file"):
        read_bench_result(tmp_path / "nope.json")


# --------------------------------------------------------------------- targets


def test_targets_met_and_missed_follow_the_guide():
    t = {r["figure"]: r["met"] for r in check_targets(GOOD).iter_rows(named=True)}
    assert t == {
        "latency_p50_s": True, "latency_p99_s": True, "rollback_rate_pct": True,
        "memory_per_active_task_mb": True, "proof_p99_s": True,
        "recovery_time_s": None,  # no failures injected: undefined, not "met"
    }
    bad = {**GOOD, "latency_p50_s": 1.0, "latency_p99_s": 5.2,
           "rollback_rate_pct": 8.5, "memory_per_active_task_mb": 12.0,
           "proof_p99_s": 61.0, "recovery_time_s": 45.0}
    t = {r["figure"]: r["met"] for r in check_targets(bad).iter_rows(named=True)}
    # the guide's targets are strict: p50 "< 1s" is missed at exactly 1 s
    assert set(t.values()) == {False}
    # the thresholds are the guide's own numbers
    assert [TARGETS[k].value for k in ("latency_p50_s", "latency_p99_s",
            "rollback_rate_pct", "memory_per_active_task_mb", "proof_p99_s",
            "recovery_time_s")] == [1.0, 5.0, 5.0, 10.0, 60.0, 30.0]


# ------------------------------------------------------------------ the report


def _suite_dir(tmp_path, p99s, *, test="latency"):
    for k, p99 in enumerate(p99s, start=1):
        make_result({**GOOD, "latency_p99_s": p99}, test=test, run=k, seed=k).write(
            tmp_path / f"{test}_run{k}.json")
    return tmp_path


def test_suite_table_median_and_cv(tmp_path):
    d = _suite_dir(tmp_path, [3.0, 3.2, 3.1])
    row = suite_table(d).filter(pl.col("figure") == "latency_p99_s").row(0, named=True)
    assert row["runs"] == 3
    assert row["median"] == pytest.approx(3.1)
    # sample sd of (3.0, 3.1, 3.2) is 0.1; CV = 0.1 / 3.1
    assert row["cv_pct"] == pytest.approx(100 * 0.1 / 3.1)
    assert row["cv_warning"] is False
    assert row["met"] is True
    same = suite_table(d).filter(pl.col("figure") == "throughput_tps").row(0, named=True)
    assert same["cv_pct"] == 0.0


def test_report_warns_when_runs_differ_by_more_than_10_percent(tmp_path):
    quiet = suite_report(_suite_dir(tmp_path / "a", [3.0, 3.1, 3.2]))
    assert "WARNING" not in quiet
    # (2, 3, 4.5): mean 3.1667, sd 1.258 -> CV 39.7 %, median 3 still meets p99 < 5 s
    noisy = suite_report(_suite_dir(tmp_path / "b", [2.0, 3.0, 4.5]))
    warnings = [ln for ln in noisy.splitlines() if "WARNING" in ln]
    assert len(warnings) == 1
    assert "latency_p99_s" in warnings[0] and "39.7%" in warnings[0]


def test_report_marks_targets_met_and_missed(tmp_path):
    d = _suite_dir(tmp_path, [5.5, 6.0, 5.8])  # median 5.8 s misses p99 < 5 s
    report = suite_report(d)
    line = next(ln for ln in report.splitlines() if ln.startswith("| latency_p99_s"))
    assert "MISSED" in line and "< 5 s" in line
    line = next(ln for ln in report.splitlines() if ln.startswith("| latency_p50_s"))
    assert line.rstrip().endswith("| met |")
    line = next(ln for ln in report.splitlines() if ln.startswith("| recovery_time_s"))
    assert line.rstrip().endswith("| n/a |")
    summary = next(ln for ln in report.splitlines() if ln.startswith("| latency |"))
    assert "4/5 met" in summary


def test_report_warns_about_fewer_than_three_runs(tmp_path):
    report = suite_report(_suite_dir(tmp_path, [3.0, 3.0]))
    assert "only 2 run(s)" in report


def test_report_on_empty_dir_is_a_typed_error(tmp_path):
    with pytest.raises(SpecAnalysisError, match="no benchmark result files"):
        suite_table(tmp_path)


def test_guide_suite_has_the_guides_flags():
    by = {t.name: t for t in GUIDE_SUITE}
    assert [t.name for t in GUIDE_SUITE] == [
        "throughput", "latency", "deep_chain", "burst", "rollback"]
    assert (by["throughput"].duration_s, by["throughput"].rate,
            by["throughput"].depth_distribution) == (300, 100, "uniform:1-5")
    assert (by["latency"].rate, by["latency"].measure_latency) == (50, True)
    assert (by["deep_chain"].rate, by["deep_chain"].depth_distribution) == (20, "fixed:8")
    assert (by["burst"].duration_s, by["burst"].rate_pattern) == (
        600, "burst:10x:30s:every:2m")
    assert (by["rollback"].rate, by["rollback"].inject_failures) == (50, 0.1)


# ------------------------------------------------------- running the simulator

from specanalysis.cli import main  # noqa: E402
from specanalysis.config import SpeculationConfig  # noqa: E402
from specanalysis.errors import ConfigError, WorkloadSpecError  # noqa: E402
from specanalysis.sim.bench import (  # noqa: E402
    BACKGROUND_FAILURES,
    default_config,
    run_benchmark,
    run_suite,
    scaled_suite,
)

# millisecond proofs keep 50 tasks/s within the default pool's capacity
SHORT = {"duration": "2m", "warmup": "30s", "rate": 50.0,
         "workload_options": FAST_TIMINGS}


def test_run_benchmark_is_reproducible_and_drops_the_warmup():
    a = run_benchmark(default_config(), seed=3, **SHORT)
    b = run_benchmark(default_config(), seed=3, **SHORT)
    c = run_benchmark(default_config(), seed=4, **SHORT)
    assert a.to_json() == b.to_json()
    assert a.to_json() != c.to_json()
    assert a.series["t_s"].min() == 30.0  # warm-up windows are gone
    assert a.series["t_s"].max() == 105.0
    assert "latency_p99_s" not in a.series.columns  # only with measure_latency
    assert set(a.summary) == set(SUMMARY_FIELDS)
    assert a.parameters.warmup_s == 30.0 and a.parameters.duration_s == 120.0


def test_injected_failures_set_the_rollback_rate():
    # Each execution attempt's proof is invalid with probability
    # p = 1 - (1 - 0.01) * (1 - inject); each invalid proof is one rollback event.
    # 4500 attempts: the binomial sd of the rate is about 0.5 point at p = 0.109.
    base = run_benchmark(default_config(), seed=1, **SHORT)
    hit = run_benchmark(default_config(), seed=1, inject_failures=0.1, **SHORT)
    p = 1 - (1 - BACKGROUND_FAILURES) * 0.9
    assert hit.summary["rollback_rate_pct"] == pytest.approx(100 * p, abs=2.5)
    assert base.summary["rollback_rate_pct"] == pytest.approx(
        100 * BACKGROUND_FAILURES, abs=0.7)
    assert hit.summary["recovery_time_s"] > 0


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"rate": -5.0}, WorkloadSpecError, "rate"),
        ({"depth_distribution": "zipf:1-5"}, WorkloadSpecError, "depth"),
        ({"rate_pattern": "burst:10x:3m:every:2m"}, WorkloadSpecError, "pattern"),
        ({"inject_failures": 1.5}, SpecAnalysisError, "inject_failures"),
        ({"warmup": "2m"}, SpecAnalysisError, "warmup"),
        ({"duration": "soon"}, SpecAnalysisError, "duration"),
        ({"seed": -1}, SpecAnalysisError, "seed"),
    ],
)
def test_bad_benchmark_parameters_name_the_field(kwargs, error, field):
    args = {**SHORT, "seed": 0, **kwargs}
    with pytest.raises(error) as info:
        run_benchmark(default_config(), **args)
    assert info.value.field == field


def test_run_suite_writes_results_snapshots_and_manifest(tmp_path):
    tests = scaled_suite("90s", tests=[t for t in GUIDE_SUITE
                                        if t.name in ("latency", "rollback")])
    paths = run_suite(default_config(), runs=2, output_dir=tmp_path, seed=5,
                      tests=tests, warmup="30s", progress=False)
    assert [p.name for p in paths] == [
        "latency_run1.json", "latency_run2.json", "rollback_run1.json",
        "rollback_run2.json"]
    r1, r2 = (read_bench_result(p) for p in paths[:2])
    assert (r1.seed, r2.seed, r1.run, r2.run) == (5, 6, 1, 2)
    assert r1.parameters.measure_latency and "latency_p99_s" in r1.series.columns
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["runs"] == 2 and [t["name"] for t in manifest["tests"]] == [
        "latency", "rollback"]
    pre = (tmp_path / "pre_metrics.txt").read_text()
    post = (tmp_path / "post_metrics.txt").read_text()
    assert "# TYPE speculation_tasks_total counter" in pre
    total = {ln.split()[0]: float(ln.split()[1]) for ln in post.splitlines()
             if ln.startswith("speculation_tasks_total ")}
    assert total["speculation_tasks_total"] > 0
    table = suite_table(tmp_path)
    assert table["test"].unique(maintain_order=True).to_list() == ["latency", "rollback"]
    assert (table["runs"] <= 2).all()
    rb = table.filter((pl.col("test") == "rollback")
                      & (pl.col("figure") == "rollback_rate_pct")).row(0, named=True)
    assert rb["met"] is False  # 10 % injected failures cannot meet rollback < 5 %


def test_suite_rejects_bad_runs(tmp_path):
    with pytest.raises(SpecAnalysisError) as info:
        run_suite(default_config(), runs=0, output_dir=tmp_path)
    assert info.value.field == "runs"


# ------------------------------------------------------------------------- CLI


def _cli(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--rate", "-5"], "--rate"),
        (["--rate", "lots"], "--rate"),
        (["--depth-distribution", "zipf:1-5"], "--depth-distribution"),
        (["--rate-pattern", "burst:10x"], "--rate-pattern"),
        (["--inject-failures", "2"], "--inject-failures"),
        (["--duration", "soon"], "--duration"),
        (["--seed", "-3"], "--seed"),
        (["--test", "soak"], "--test"),
        (["--config", "missing.toml"], "--config"),
    ],
)
def test_cli_bad_flags_exit_2_naming_the_flag(flags, named, capsys, tmp_path):
    code, _out, err = _cli(["bench", "run", "--duration", "90s", "--warmup", "30s",
                            "--output", str(tmp_path / "r.json"), *flags], capsys)
    assert code == 2
    assert named in err
    assert "Traceback" not in err
    assert not (tmp_path / "r.json").exists()


def test_cli_invalid_config_exits_2(capsys, tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[speculation]\nmax_depth = 0\nmode = 'fast'\n")
    code, _out, err = _cli(["bench", "run", "--config", str(cfg), "--duration", "90s",
                            "--warmup", "30s"], capsys)
    assert code == 2
    assert "max_depth" in err and "mode" in err
    with pytest.raises(ConfigError):
        SpeculationConfig.from_toml(cfg)


def test_cli_run_writes_a_result_file(capsys, tmp_path):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(default_config().replace(max_depth=3).to_toml())
    out = tmp_path / "latency.json"
    code, stdout, _err = _cli(["bench", "run", "--test", "latency", "--duration", "90s",
                               "--warmup", "30s", "--config", str(cfg), "--seed", "9",
                               "--output", str(out)], capsys)
    assert code == 0 and "wrote" in stdout
    r = read_bench_result(out)
    assert (r.test, r.seed, r.parameters.rate, r.parameters.measure_latency) == (
        "latency", 9, 50.0, True)
    assert r.speculation_config().max_depth == 3


def test_cli_suite_and_report(capsys, tmp_path):
    d = tmp_path / "results"
    code, _out, _err = _cli(["bench", "suite", "--tests", "latency", "--runs", "3",
                             "--output-dir", str(d)], capsys)
    assert code == 0
    assert (d / "report.md").exists() and (d / "latency_run3.json").exists()
    code, out, _err = _cli(["bench", "report", "--input-dir", str(d)], capsys)
    assert code == 0 and out.startswith("# Speculation benchmark report")
    assert out == (d / "report.md").read_text()
    code, _out, err = _cli(["bench", "report", "--input-dir", str(tmp_path / "none")],
                           capsys)
    assert code == 2 and "input_dir" in err
    code, _out, err = _cli(["bench", "suite", "--runs", "0", "--output-dir", str(d)],
                           capsys)
    assert code == 2 and "--runs" in err


def test_cli_help_teaches_the_guide_flags(capsys):
    with pytest.raises(SystemExit) as info:
        main(["bench", "run", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for text in ("--depth-distribution", "uniform:1-5", "burst:10x:30s:every:2m",
                 "--inject-failures", "0.1", "fixed:8", "--measure-latency"):
        assert text in out


def test_sim_result_writes_the_benchmark_result_file(tmp_path):
    from specanalysis.config import SpeculationConfig
    from specanalysis.sim import Workload, simulate
    from specanalysis.sim.bench import read_bench_result

    sim = simulate(SpeculationConfig(enabled=True),
                   Workload(rate=8, depth="uniform:1-4", failures=0.05),
                   duration="3m", seed=11)
    path = sim.write_bench_result(tmp_path / "run.json", warmup="1m")
    back = read_bench_result(path)
    assert back == sim.bench_result(warmup="1m")
    p = back.parameters
    assert (p.rate, p.depth_distribution, p.inject_failures, p.duration_s) == (
        8.0, "uniform:1-4", 0.05, 180.0)
    assert back.seed == 11
    assert back.speculation_config() == sim.config
    # the summary is the simulator's own, measured after the warm-up
    raw = sim.summary(warmup=60.0)
    assert back.summary["throughput_tps"] == pytest.approx(raw["throughput_tps"])
    assert back.series["t_s"].min() >= 60.0
    with pytest.raises(SpecAnalysisError, match="warmup"):
        sim.bench_result(warmup="3m")
