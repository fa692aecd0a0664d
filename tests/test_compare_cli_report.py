"""The tuning change report and the `specanalysis compare` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import polars as pl
import pytest

from specanalysis.compare import compare
from specanalysis.errors import DataError
from specanalysis.fixtures import fixtures_dir
from specanalysis.report import mask_secrets, report_svg, tuning_report

BENCH = fixtures_dir() / "bench"
CONFIGS = fixtures_dir() / "configs"
TOKEN = "s3cr3t-T0KEN-value-9f8e"


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    e = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "specanalysis", "compare", *args],
                          capture_output=True, text=True, env=e, timeout=600)


@pytest.fixture(scope="module")
def runs_comparison():
    return compare(BENCH / "baseline", BENCH / "after-max-depth-3",
                   metrics=["memory_avg_mb", "latency_p99_s", "rollback_rate_pct"])


# -------------------------------------------------------------------- report


def test_report_has_every_section_of_the_guides_template(runs_comparison):
    r = tuning_report(runs_comparison, date="2025-02-01", change_id="TUNE-042",
                      author="SRE")
    md = r.markdown
    for heading in ("# Speculation Tuning Report", "## Change Summary",
                    "## Baseline Metrics (Before)", "## Post-Change Metrics (After)",
                    "## Analysis", "### Positive Impacts", "### Negative Impacts",
                    "### Net Assessment", "## Rollback Plan", "## Recommendation"):
        assert heading in md, heading
    assert "**Parameter Changed:** speculation.max_depth" in md
    assert "**Previous Value:** 5" in md and "**New Value:** 3" in md
    assert '"speculation.max_depth": 5' in md  # the rollback restores the old value
    assert "$ADMIN_TOKEN" in md
    # one table row per compared figure, before and after
    n = runs_comparison.metrics.height
    after = md.split("## Post-Change Metrics (After)")[1].split("\n---\n")[0]
    assert after.count("\n| ") == n + 1  # header + rows
    assert r.overall in md


def test_report_html_embeds_the_plot_and_colours(runs_comparison):
    r = tuning_report(runs_comparison, date="2025-02-01")
    h = r.html
    assert h.startswith("<!DOCTYPE html>") and "<svg" in h and "<script" not in h
    # nothing to fetch: no scripts, stylesheets, images or frames from elsewhere
    assert "<link" not in h and "src=" not in h and "<iframe" not in h
    svg = report_svg(runs_comparison)
    assert svg.count("<circle") == runs_comparison.metrics.filter(
        pl.col("change_pct").is_not_nan())["change_pct"].len()


def test_report_write_formats(runs_comparison, tmp_path):
    r = tuning_report(runs_comparison, date="2025-02-01")
    assert r.write(tmp_path / "r.md").read_text().startswith("# Speculation")
    assert "<svg" in r.write(tmp_path / "r.html").read_text()
    with pytest.raises(DataError, match=r"\.md or \.html"):
        r.write(tmp_path / "r.pdf")


def test_no_secret_ever_reaches_a_report(runs_comparison, monkeypatch):
    monkeypatch.setenv("SPECANALYSIS_PROMETHEUS_TOKEN", TOKEN)
    r = tuning_report(runs_comparison, reason=f"token {TOKEN} leaked via Bearer "
                      f"{TOKEN}", admin_url="http://admin:hunter2pass@prom:9090",
                      date="2025-02-01", secrets=["extra-secret-xyz"],
                      change_id="extra-secret-xyz")
    for text in (r.markdown, r.html):
        assert TOKEN not in text
        assert "hunter2pass" not in text
        assert "extra-secret-xyz" not in text
        assert "$ADMIN_TOKEN" in text


def test_report_masks_registered_credentials(runs_comparison):
    from specanalysis._secrets import register_secret

    secret = "reg1stered-Cred-7Hq2Lw9"
    register_secret(secret)
    r = tuning_report(runs_comparison, reason=f"fetched with {secret} (cut: {secret[:9]})",
                      date="2025-02-01")
    for text in (r.markdown, r.html):
        assert secret not in text and secret[:9] not in text


def test_mask_secrets():
    assert mask_secrets("Authorization: Bearer abcdef123") == "Authorization: Bearer ***"
    assert mask_secrets("https://u:pw@h:1/x") == "https://u:***@h:1/x"
    assert mask_secrets("?api_key=zzz&x=1") == "?api_key=***&x=1"
    assert mask_secrets("Bearer $ADMIN_TOKEN") == "Bearer $ADMIN_TOKEN"


def test_report_recommendation_follows_the_verdicts(template_runs):
    before, better, worse = template_runs
    imp = tuning_report(compare(before, better, metrics=["latency_p50_s"]))
    assert imp.overall == "POSITIVE" and imp.recommendation.startswith("Keep")
    reg = tuning_report(compare(before, worse, metrics=["latency_p50_s"]))
    assert reg.overall == "NEGATIVE" and reg.recommendation.startswith("Roll back")
    assert "End-to-end task latency p50" in reg.markdown.split("### Negative Impacts")[1]


@pytest.fixture(scope="module")
def template_runs():
    import dataclasses

    from specanalysis.sim.bench import default_config, run_benchmark

    t = run_benchmark(default_config(), seed=1, duration="90s", rate=20, warmup="30s",
                      progress=False)

    def runs(values):
        return [dataclasses.replace(t, summary={**t.summary, "latency_p50_s": v},
                                    run=i + 1) for i, v in enumerate(values)]

    return (runs([1.0, 1.01, 1.02, 1.03, 1.04, 1.05]),
            runs([0.7, 0.71, 0.72, 0.73, 0.74, 0.75]),
            runs([1.5, 1.51, 1.52, 1.53, 1.54, 1.55]))


# ----------------------------------------------------------------------- CLI


def test_cli_runs_text_json_report_and_gate(tmp_path):
    rep = tmp_path / "report.html"
    p = cli(str(BENCH / "baseline"), str(BENCH / "after-max-depth-3"), "--json",
            "--metrics", "memory_avg_mb,rollback_rate_pct", "--report", str(rep))
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["kind"] == "runs"
    assert {m["figure"] for m in doc["metrics"]} == {"memory_avg_mb",
                                                      "rollback_rate_pct"}
    assert {c["check"] for c in doc["checks"]} >= {"at least 3 runs per side",
                                                    "only the announced change"}
    assert "<svg" in rep.read_text()
    # 3 runs a side leave U-test figures inconclusive: the strict gate is met
    p = cli(str(BENCH / "baseline"), str(BENCH / "after-max-depth-3"),
            "--metrics", "memory_avg_mb", "--fail-on", "inconclusive")
    assert p.returncode == 1
    assert "gate met" in p.stderr and "Rigour checks" in p.stdout
    p = cli(str(BENCH / "baseline"), str(BENCH / "after-max-depth-3"),
            "--metrics", "memory_avg_mb", "--fail-on", "regression")
    assert p.returncode == 0


def test_cli_gate_on_a_regression(tmp_path, template_runs):
    before, _, worse = template_runs
    for name, runs in (("b", before), ("a", worse)):
        d = tmp_path / name
        for r in runs:
            r.write(d / f"latency_run{r.run}.json")
    p = cli(str(tmp_path / "b"), str(tmp_path / "a"), "--metrics", "latency_p50_s",
            "--fail-on", "regression")
    assert p.returncode == 1
    assert "regressed" in p.stdout


def test_cli_snapshot_pairs_and_samples_files():
    d = BENCH
    p = cli(f"{d}/baseline/pre_metrics.txt,{d}/baseline/post_metrics.txt",
            f"{d}/after-max-depth-3/pre_metrics.txt,{d}/after-max-depth-3/post_metrics.txt",
            "--metrics", "rollback_rate_pct,latency_p99_s")
    assert p.returncode == 0, p.stderr
    assert "Comparison of snapshots" in p.stdout
    f = fixtures_dir()
    p = cli(str(f / "baseline" / "samples.parquet"),
            str(f / "after-max-depth-3" / "samples.parquet"),
            "--metrics", "memory_mb", "--before-config", str(CONFIGS / "baseline.toml"),
            "--after-config", str(CONFIGS / "after-max-depth-3.toml"),
            "--change", "max_depth")
    assert p.returncode == 0, p.stderr
    assert "Comparison of windows" in p.stdout
    assert "[pass] only the announced change" in p.stdout


def test_cli_bad_input_exit_2(tmp_path):
    p = cli(str(tmp_path / "missing"), str(BENCH / "baseline"))
    assert p.returncode == 2 and "no such file" in p.stderr
    p = cli(str(BENCH / "baseline"))
    assert p.returncode == 2 and "two inputs" in p.stderr
    p = cli(str(BENCH / "baseline"), str(BENCH / "after-max-depth-3"), "--report",
            str(tmp_path / "r.pdf"))
    assert p.returncode == 2 and ".md or .html" in p.stderr
    p = cli(str(BENCH / "baseline"), str(fixtures_dir() / "baseline" / "post_metrics.txt"))
    assert p.returncode == 2 and "before is runs" in p.stderr
    p = cli("a.txt,b.txt,c.txt", "x")
    assert p.returncode == 2


def test_cli_unreachable_prometheus_exit_3_and_token_never_printed():
    p = cli("--prometheus", "http://127.0.0.1:9", "--before",
            "2025-01-01T00:00:00Z/2025-01-01T02:00:00Z", "--after",
            "2025-01-01T03:00:00Z/2025-01-01T05:00:00Z", "--deadline", "1",
            env={"SPECANALYSIS_PROMETHEUS_TOKEN": TOKEN})
    assert p.returncode == 3, p.stderr
    assert TOKEN not in p.stdout + p.stderr
    p = cli("--prometheus", "http://127.0.0.1:9", "--before", "2025-01-01T00:00:00Z")
    assert p.returncode == 2


def test_cli_help_teaches():
    p = subprocess.run([sys.executable, "-m", "specanalysis", "compare", "--help"],
                       capture_output=True, text=True, check=True)
    for word in ("exit codes", "--fail-on", "improved, regressed, equivalent",
                 "PRE,POST", "--prometheus"):
        assert word in p.stdout
    top = subprocess.run([sys.executable, "-m", "specanalysis", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "compare" in top
