"""Tests for specanalysis.config: schema, validation, round trips, scenarios, sizing."""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specanalysis.config import (
    QUADRANTS,
    SCENARIOS,
    ConfigParseError,
    LimitsConfig,
    ProofConfig,
    SizingInputError,
    SpeculationConfig,
    StakeConfig,
    gc_interval_ms,
    max_pending_operations,
    proof_queue_size,
    required_memory_mb,
    sizing_for,
    state_snapshots,
    write_scenario_files,
)
from specanalysis.errors import ConfigError, ParseError, SpecAnalysisError

GUIDE = Path(__file__).parent / "data" / "tuning-guide.md"  # verbatim copy, see data/README.md

# Runtime defaults as listed in runtime-facts §2 (DD §7 / API §6.1), written out by hand.
DEFAULTS = {
    "speculation.enabled": False,
    "speculation.mode": "conservative",
    "speculation.max_depth": 5,
    "speculation.max_parallel_branches": 4,
    "speculation.confirmation_timeout_ms": 30_000,
    "speculation.rollback_policy": "cascade",
    "speculation.stake.min_stake": 1_000_000,
    "speculation.stake.max_stake": 1_000_000_000,
    "speculation.stake.stake_per_depth": 500_000,
    "speculation.stake.base_bond": 100_000,
    "speculation.stake.depth_multiplier": 2.0,
    "speculation.stake.slash_percentage": 0.1,
    "speculation.stake.protocol_slash_share": 0.5,
    "speculation.stake.cooldown_period_ms": 60_000,
    "speculation.proof.generator": "groth16",
    "speculation.proof.worker_threads": 4,
    "speculation.proof.queue_size": 1000,
    "speculation.proof.batch_size": 10,
    "speculation.proof.timeout_ms": 60_000,
    "speculation.proof.max_retries": 3,
    "speculation.proof.retry_delay_ms": 1000,
    "speculation.proof.retry_multiplier": 2.0,
    "speculation.proof.optimistic_generation": True,
    "speculation.proof.cache_size_mb": 512,
    "speculation.limits.max_memory_mb": 4096,
    "speculation.limits.max_pending_operations": 10_000,
    "speculation.limits.max_state_snapshots": 100,
    "speculation.limits.gc_interval_ms": 30_000,
    "speculation.limits.max_commitment_age_ms": 3_600_000,
    "speculation.limits.max_rollback_cascade_size": 1000,
    "speculation.features.enable_parallel_speculation": True,
    "speculation.features.enable_cross_agent_speculation": False,
    "speculation.features.enable_optimistic_proofs": True,
    "speculation.features.enable_stake_delegation": False,
    "speculation.features.enable_on_chain_commitments": False,
    "speculation.features.enable_detailed_metrics": False,
    "speculation.features.rollout_percentage": 100,
}

# (dotted key, lowest valid, highest valid) from runtime-facts §2
RANGES = [
    ("max_depth", 1, 20), ("max_parallel_branches", 1, 16),
    ("confirmation_timeout_ms", 5_000, 300_000),
    ("stake.slash_percentage", 0.01, 0.5), ("stake.depth_multiplier", 1, 10),
    ("stake.protocol_slash_share", 0, 1), ("stake.cooldown_period_ms", 0, 3_600_000),
    ("proof.worker_threads", 1, 32), ("proof.queue_size", 100, 10_000),
    ("proof.batch_size", 1, 100), ("proof.timeout_ms", 10_000, 600_000),
    ("proof.max_retries", 0, 10), ("proof.retry_delay_ms", 100, 60_000),
    ("proof.retry_multiplier", 1, 5),
    ("limits.max_pending_operations", 100, 1_000_000),
    ("limits.max_state_snapshots", 10, 10_000), ("limits.gc_interval_ms", 5_000, 300_000),
    ("limits.max_commitment_age_ms", 60_000, 86_400_000),
    ("limits.max_rollback_cascade_size", 10, 10_000),
    ("features.rollout_percentage", 0, 100),
]


def get(cfg: SpeculationConfig, dotted: str):
    obj = cfg
    for part in dotted.removeprefix("speculation.").split("."):
        obj = getattr(obj, part)
    return obj


# ----------------------------------------------------------------------- schema


def test_defaults_match_runtime_facts():
    cfg = SpeculationConfig()
    flat = cfg.to_dict(flat=True)
    assert list(flat) == list(DEFAULTS)  # same keys, guide/contract order
    for key, value in DEFAULTS.items():
        assert get(cfg, key) == value, key
        assert type(get(cfg, key)) is type(value) or isinstance(value, int), key


def test_float_fields_are_floats_and_int_fields_ints():
    cfg = SpeculationConfig.from_toml(
        "[speculation.stake]\ndepth_multiplier = 3\n"
        "[speculation.features]\nrollout_percentage = 5\n")
    assert cfg.stake.depth_multiplier == 3.0 and isinstance(cfg.stake.depth_multiplier, float)
    assert isinstance(cfg.features.rollout_percentage, float)
    assert isinstance(cfg.max_depth, int) and not isinstance(cfg.max_depth, bool)


@pytest.mark.parametrize(("key", "lo", "hi"), RANGES)
def test_range_bounds_inclusive(key, lo, hi):
    base = SpeculationConfig()
    is_float = isinstance(get(base, key), float)
    assert get(base.replace(**{key: lo}), key) == lo
    assert get(base.replace(**{key: hi}), key) == hi
    step = 0.001 if is_float else 1
    for bad in (lo - step, hi + step):
        with pytest.raises(ConfigError) as info:
            base.replace(**{key: bad})
        assert len(info.value.problems) == 1
        assert f"speculation.{key}" in info.value.problems[0]
        assert "out of range" in info.value.problems[0]


def test_memory_minimum_and_no_upper_bound():
    cfg = SpeculationConfig()
    assert cfg.replace(**{"limits.max_memory_mb": 512}).limits.max_memory_mb == 512
    assert cfg.replace(**{"limits.max_memory_mb": 1_000_000}).limits.max_memory_mb == 1_000_000
    with pytest.raises(ConfigError, match=r"max_memory_mb: 511 is out of range \(expected an integer >= 512\)"):
        cfg.replace(**{"limits.max_memory_mb": 511})


@pytest.mark.parametrize(("key", "allowed"), [
    ("mode", ["conservative", "balanced", "aggressive", "custom"]),
    ("rollback_policy", ["cascade", "selective", "checkpoint"]),
    ("proof.generator", ["groth16", "plonk", "stark", "mock"]),
])
def test_enum_values(key, allowed):
    for value in allowed:
        assert get(SpeculationConfig().replace(**{key: value}), key) == value
    with pytest.raises(ConfigError) as info:
        SpeculationConfig().replace(**{key: "Cascade-ish"})
    message = info.value.problems[0]
    assert "'Cascade-ish' is not allowed" in message
    for value in allowed:
        assert repr(value) in message


def test_frozen_and_construction_validates():
    cfg = SpeculationConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.max_depth = 3  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.proof.batch_size = 3  # type: ignore[misc]
    with pytest.raises(ConfigError, match="max_depth: 0 is out of range"):
        SpeculationConfig(max_depth=0)
    with pytest.raises(ConfigError) as info:
        ProofConfig(batch_size=0, worker_threads=True)
    assert len(info.value.problems) == 2
    with pytest.raises(ConfigError, match="expected a StakeConfig"):
        SpeculationConfig(stake={"min_stake": 1})  # type: ignore[arg-type]
    assert hash(cfg) == hash(SpeculationConfig())  # frozen -> hashable, value-equal


# ----------------------------------------------------------------------- reading


FIVE_PROBLEMS = """\
[speculation]
enabled = "yes"
max_depth = true
mode = "fast"
max_paralel_branches = 4

[speculation.proof]
batch_size = 0
"""


def test_five_problems_are_all_reported(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(FIVE_PROBLEMS)
    with pytest.raises(ConfigError) as info:
        SpeculationConfig.from_toml(path)
    err = info.value
    assert err.source == str(path)
    assert len(err.problems) == 5
    text = "\n".join(err.problems)
    assert "line 2: speculation.enabled: 'yes' is not a boolean" in text
    assert "line 3: speculation.max_depth: True is a boolean, not a number" in text
    assert "line 4: speculation.mode: 'fast' is not allowed" in text
    assert ("line 5: speculation.max_paralel_branches: unknown key "
            "(did you mean speculation.max_parallel_branches?)") in text
    assert "line 8: speculation.proof.batch_size: 0 is out of range (expected an integer in 1..100)" in text
    assert str(path) in str(err) and "5 problems" in str(err)


def test_type_problems():
    text = """
[speculation]
max_depth = 5.0
confirmation_timeout_ms = "30s"
[speculation.stake]
slash_percentage = nan
min_stake = -1
[speculation.features]
enable_parallel_speculation = 1
"""
    with pytest.raises(ConfigError) as info:
        SpeculationConfig.from_toml(text)
    problems = info.value.problems
    assert len(problems) == 5
    assert any("max_depth: 5.0 is not an integer" in p for p in problems)
    assert any("confirmation_timeout_ms: '30s' is not an integer" in p for p in problems)
    assert any("slash_percentage: nan is not finite" in p for p in problems)
    assert any("min_stake: -1 is out of range" in p for p in problems)
    assert any("enable_parallel_speculation: 1 is not a boolean" in p for p in problems)


def test_missing_speculation_table():
    with pytest.raises(ConfigError) as info:
        SpeculationConfig.from_toml("[speculaton]\nmax_depth = 3\n")
    problems = info.value.problems
    assert any("missing [speculation] table" in p for p in problems)
    assert any("did you mean speculation?" in p for p in problems)
    with pytest.raises(ConfigError, match="missing"):
        SpeculationConfig.from_dict({})


def test_unknown_key_suggestions():
    text = """
[speculation]
maxDepth = 3
batch_size = 20
zzz = 1
[speculation.limits]
gc_interval = 5000
[speculation.proofs]
batch_size = 3
"""
    with pytest.raises(ConfigError) as info:
        SpeculationConfig.from_toml(text)
    p = info.value.problems
    assert len(p) == 5
    assert "line 3: speculation.maxDepth: unknown key (did you mean speculation.max_depth?)" in p
    assert ("line 4: speculation.batch_size: unknown key "
            "(did you mean speculation.proof.batch_size?)") in p
    assert "line 5: speculation.zzz: unknown key" in p
    assert ("line 7: speculation.limits.gc_interval: unknown key "
            "(did you mean speculation.limits.gc_interval_ms?)") in p
    assert "line 8: speculation.proofs: unknown key (did you mean speculation.proof?)" in p


def test_section_must_be_a_table_and_stake_order():
    with pytest.raises(ConfigError, match=r"expected a table \[speculation.proof\]"):
        SpeculationConfig.from_toml("[speculation]\nproof = 5\n")
    with pytest.raises(ConfigError, match="exceeds max_stake"):
        SpeculationConfig.from_toml(
            "[speculation.stake]\nmin_stake = 2_000\nmax_stake = 1_000\n")
    with pytest.raises(ConfigError, match="exceeds max_stake"):
        StakeConfig(min_stake=5, max_stake=4)


def test_other_top_level_tables():
    text = "[server]\nport = 1\n[speculation]\nmax_depth = 2\n"
    with pytest.raises(ConfigError, match="server: unknown top-level key"):
        SpeculationConfig.from_toml(text)
    assert SpeculationConfig.from_toml(text, ignore_other_tables=True).max_depth == 2


def test_invalid_toml_reports_line(tmp_path):
    text = "[speculation]\nmax_depth = 3\nmode = \n"
    with pytest.raises(ConfigParseError) as info:
        SpeculationConfig.from_toml(text)
    assert info.value.line == 3
    assert isinstance(info.value, ParseError) and isinstance(info.value, ConfigError)
    path = tmp_path / "broken.toml"
    path.write_text("[speculation]\nmax_depth = 3\nmax_depth = 4\n")  # duplicate key
    with pytest.raises(ParseError) as info:
        SpeculationConfig.from_toml(str(path))
    assert info.value.source == str(path) and info.value.line == 3
    assert str(info.value).startswith(f"{path}:3:")


def test_from_toml_path_forms(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[speculation.stake]\nstake_per_depth = 500_000\nmin_stake = 2_000_000\n")
    for arg in (path, str(path)):
        cfg = SpeculationConfig.from_toml(arg)
        assert cfg.stake.min_stake == 2_000_000 and cfg.stake.stake_per_depth == 500_000
    with pytest.raises(ConfigError) as info:
        SpeculationConfig.from_toml(tmp_path / "missing.toml")
    assert info.value.source == str(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="cannot read"):
        SpeculationConfig.from_toml(str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="expected a Path or TOML text"):
        SpeculationConfig.from_toml(42)  # type: ignore[arg-type]


def test_empty_speculation_table_gives_defaults():
    assert SpeculationConfig.from_toml("[speculation]\n") == SpeculationConfig()


# ----------------------------------------------------------------------- writing


def test_to_toml_layout_and_round_trip():
    cfg = SCENARIOS["cost-optimized"].config
    text = cfg.to_toml()
    headers = [line for line in text.splitlines() if line.startswith("[")]
    assert headers == ["[speculation]", "[speculation.stake]", "[speculation.proof]",
                       "[speculation.limits]", "[speculation.features]"]
    assert "min_stake = 1_000_000" in text
    assert SpeculationConfig.from_toml(text) == cfg
    # the text is plain TOML any parser reads to the same document
    assert tomllib.loads(text) == cfg.to_dict()
    with_header = cfg.to_toml(header="a\nb")
    assert with_header.startswith("# a\n# b\n\n[speculation]")
    assert SpeculationConfig.from_toml(with_header) == cfg


def _value_strategy(meta):
    kind = meta["kind"]
    if kind is bool:
        return st.booleans()
    if kind is str:
        return st.sampled_from(meta["choices"])
    hi = meta["hi"] if meta["hi"] is not None else 10**7
    if kind is int:
        return st.integers(int(meta["lo"]), int(hi))
    return st.floats(meta["lo"], hi, allow_nan=False, allow_infinity=False)


def _config_strategy():
    fields = {}
    for name, cls in (("", SpeculationConfig), ("stake.", StakeConfig),
                      ("proof.", ProofConfig), ("limits.", LimitsConfig)):
        for f in dataclasses.fields(cls):
            if "kind" in f.metadata and f.name not in ("min_stake", "max_stake"):
                fields[name + f.name] = _value_strategy(f.metadata)
    fields["features.rollout_percentage"] = st.floats(0, 100)
    return st.fixed_dictionaries(fields)


@settings(max_examples=60, deadline=None)
@given(_config_strategy())
def test_round_trip_property(changes):
    cfg = SpeculationConfig().replace(**changes)
    assert SpeculationConfig.from_toml(cfg.to_toml()) == cfg
    assert SpeculationConfig.from_dict(cfg.to_dict()) == cfg
    assert SpeculationConfig().replace(**cfg.to_dict(flat=True)) == cfg


def test_to_dict_shapes():
    cfg = SpeculationConfig()
    doc = cfg.to_dict()
    assert set(doc) == {"speculation"}
    assert set(doc["speculation"]) >= {"stake", "proof", "limits", "features"}
    assert cfg.to_dict(flat=True)["speculation.limits.gc_interval_ms"] == 30_000


# ----------------------------------------------------------------------- replace / diff


def test_replace_dotted_and_validated():
    base = SpeculationConfig()
    cfg = base.replace(**{"proof.batch_size": 20, "max_depth": 3,
                          "speculation.limits.gc_interval_ms": 6000})
    assert (cfg.proof.batch_size, cfg.max_depth, cfg.limits.gc_interval_ms) == (20, 3, 6000)
    assert base.proof.batch_size == 10 and base.max_depth == 5  # original untouched
    assert cfg.proof.worker_threads == base.proof.worker_threads
    with pytest.raises(ConfigError) as info:
        base.replace(**{"proof.batch_size": 0, "max_depth": 99, "proof.batchsize": 3})
    problems = info.value.problems
    assert any("proof.batchsize: unknown key (did you mean proof.batch_size?)" in p
               for p in problems)
    # unknown keys are reported first; values are validated once names are right
    with pytest.raises(ConfigError) as info:
        base.replace(**{"proof.batch_size": 0, "max_depth": 99})
    assert len(info.value.problems) == 2
    sec = base.replace(proof=ProofConfig(batch_size=7), limits={"gc_interval_ms": 7000})
    assert sec.proof.batch_size == 7 and sec.limits.gc_interval_ms == 7000
    with pytest.raises(ConfigError, match="expected a ProofConfig or a mapping"):
        base.replace(proof=3)


def test_diff_frame_and_text():
    before = SpeculationConfig()
    after = before.replace(**{"proof.batch_size": 20, "max_depth": 3,
                              "rollback_policy": "selective",
                              "features.enable_detailed_metrics": True,
                              "stake.slash_percentage": 0.2})
    frame = before.diff(after)
    assert frame.schema == pl.Schema({"parameter": pl.String, "before": pl.String,
                                      "after": pl.String})
    assert frame.rows() == [
        ("speculation.max_depth", "5", "3"),
        ("speculation.rollback_policy", "cascade", "selective"),
        ("speculation.stake.slash_percentage", "0.1", "0.2"),
        ("speculation.proof.batch_size", "10", "20"),
        ("speculation.features.enable_detailed_metrics", "false", "true"),
    ]
    assert before.diff(before).height == 0
    assert before.diff_text(before) == "(no differences)"
    text = before.diff_text(after)
    assert len(text.splitlines()) == 5
    assert re.search(r"speculation\.proof\.batch_size\s+: 10 -> 20", text)
    with pytest.raises(ConfigError):
        before.diff({"max_depth": 3})  # type: ignore[arg-type]


def test_warnings():
    assert SpeculationConfig().warnings() == []
    deep = SpeculationConfig().replace(max_depth=8, max_parallel_branches=8)
    (w,) = deep.warnings()
    assert "max_state_snapshots = 100" in w and "160" in w
    # 16 branches x 200 MB + 10 MB + 512 MB = 3722 MB, +20 % = 4466.4 MB > 4096 MB
    tight = SpeculationConfig().replace(max_parallel_branches=16,
                                        **{"limits.max_state_snapshots": 200})
    (w,) = tight.warnings()
    assert "max_memory_mb = 4096" in w and "4466" in w
    assert tight.warnings(avg_state_mb=100) == []


# ----------------------------------------------------------------------- scenarios


def _guide_text() -> str:
    return GUIDE.read_text(encoding="utf-8")


def _guide_scenario_blocks() -> list[dict]:
    text = _guide_text()
    section = text.split("## Scenario-Based Configurations", 1)[1].split("## Benchmarking", 1)[0]
    blocks = re.findall(r"```toml\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 4
    return [tomllib.loads(b) for b in blocks]


def _flatten(doc: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in doc.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


SCENARIO_ORDER = ["low-latency-trading", "high-reliability", "cost-optimized", "burst-traffic"]


def test_scenarios_match_guide_field_by_field():
    blocks = _guide_scenario_blocks()
    assert list(SCENARIOS) == SCENARIO_ORDER
    for name, block in zip(SCENARIO_ORDER, blocks, strict=True):
        cfg = SCENARIOS[name].config
        given_keys = _flatten(block)
        for key, value in given_keys.items():
            assert get(cfg, key) == value, (name, key)
        for key, default in DEFAULTS.items():  # everything else is the runtime default
            if key not in given_keys:
                assert get(cfg, key) == default, (name, key)
        assert SpeculationConfig.from_dict(block) == cfg


def test_scenario_expectations_match_guide():
    text = _guide_text()
    for name in SCENARIO_ORDER:
        s = SCENARIOS[name]
        chunk = text.split(f"**Goal:** {s.goal}", 1)[1].split("---", 1)[0]
        bullets = re.findall(r"^- (.+)$", chunk.split("**Expected metrics:**", 1)[1], re.M)
        assert list(s.expected_text) == bullets
    assert SCENARIOS["low-latency-trading"].expected == {
        "latency_p99_s": ("<", 2.0), "rollback_rate_pct": ("<", 8.0),
        "memory_gb": ("between", 8.0, 12.0)}
    assert SCENARIOS["high-reliability"].expected["latency_p99_s"] == ("between", 5.0, 10.0)
    assert SCENARIOS["high-reliability"].expected["rollback_rate_pct"] == ("<", 1.0)
    assert SCENARIOS["cost-optimized"].expected["memory_gb"] == ("between", 1.0, 2.0)
    assert SCENARIOS["burst-traffic"].expected["latency_p99_burst_s"] == ("<", 15.0)


def test_scenario_check():
    result = SCENARIOS["high-reliability"].check(
        {"latency_p99_s": 10.0, "rollback_rate_pct": 1.0, "memory_gb": 2.5})
    assert result["passed"].to_list() == [True, False, True]  # < 1 % is strict
    cost = SCENARIOS["cost-optimized"].check({"cpu_usage": 3.0})
    assert cost.filter(pl.col("metric") == "cpu_usage")["passed"].to_list() == [None]


def test_quadrants_match_guide_matrix():
    text = _guide_text()
    matrix = text.split("### Workload Classification Matrix", 1)[1].split("```", 2)[1]
    cells: dict[tuple[int, int], list[str]] = {}
    row = -1
    for line in matrix.splitlines():
        if line.lstrip().startswith(("├", "┌")):
            row += 1
            continue
        parts = line.split("│")
        if len(parts) == 4:
            for col in (0, 1):
                cells.setdefault((row, col), []).append(parts[col + 1].strip())
    expected_names = {(0, 0): "conservative", (0, 1): "throughput-optimized",
                      (1, 0): "reliability-focused", (1, 1): "scale-out"}
    keymap = {"max_depth": "max_depth", "parallel": "max_parallel_branches",
              "batch": "proof.batch_size", "rollback": "rollback_policy"}
    for pos, name in expected_names.items():
        lines = [c for c in cells[pos] if c]
        q = QUADRANTS[name]
        assert lines[0].lower().startswith(q.title.lower().split()[0])
        settings_ = {}
        for item in lines[1:]:
            k, v = item.lstrip("- ").split(":")
            settings_[keymap[k.strip()]] = int(v) if v.strip().isdigit() else v.strip()
        assert q.settings == settings_, name
        assert q.volume == ("low" if pos[1] == 0 else "high")
        assert q.depth == ("shallow" if pos[0] == 0 else "deep")
    assert QUADRANTS["conservative"].matches(99, 3)
    assert not QUADRANTS["conservative"].matches(100, 3)
    assert QUADRANTS["reliability-focused"].matches(50, 4)
    assert QUADRANTS["throughput-optimized"].matches(1001, 1)
    assert not any(q.matches(500, 2) for q in QUADRANTS.values())
    applied = QUADRANTS["scale-out"].apply(SpeculationConfig())
    assert (applied.max_depth, applied.max_parallel_branches, applied.rollback_policy) == (
        8, 16, "selective")


def test_write_scenario_files(tmp_path):
    paths = write_scenario_files(tmp_path / "a")
    assert [p.name for p in paths] == [f"{n}.toml" for n in SCENARIO_ORDER]
    again = write_scenario_files(tmp_path / "b")
    for p, q in zip(paths, again, strict=True):
        assert p.read_bytes() == q.read_bytes()
        cfg = SpeculationConfig.from_toml(p)
        assert cfg == SCENARIOS[p.stem].config
        assert p.read_text().startswith(f"# Scenario: {SCENARIOS[p.stem].title}")


# ----------------------------------------------------------------------- sizing


def test_memory_formula_guide_example():
    m = required_memory_mb(4, 200, 10_000, 512)
    assert (m.state_mb, m.pending_ops_mb, m.proof_cache_mb) == (800.0, 10.0, 512.0)
    assert m.buffer_mb == pytest.approx(264.4)
    assert m.total_mb == pytest.approx(1586.4)
    assert round(m.total_mb) == 1586 and m.recommended_mb == 2048
    raw = required_memory_mb(4, 200, 10_000, 512, round_to_power_of_two=False)
    assert raw.recommended_mb == 1587
    exact = required_memory_mb(1, 1024, 0, 0, buffer=0.0)
    assert exact.recommended_mb == 1024  # a power of two stays itself
    kib = required_memory_mb(1, 0, 1000, 0, kb_per_op=1.024, buffer=0)
    assert kib.pending_ops_mb == pytest.approx(1.024)


def test_other_formulas_guide_examples():
    assert state_snapshots(5, 4) == 50
    assert state_snapshots(5, 4, safety_factor=1.1) == 22  # 22.0 is not rounded up to 23
    assert state_snapshots(3, 3, safety_factor=2.5) == 23  # 22.5 -> 23
    assert max_pending_operations(100, 60) == 12000
    assert gc_interval_ms(60_000) == 15000
    assert gc_interval_ms(10_000) == 5000
    assert gc_interval_ms(30_002) == 7501
    assert proof_queue_size(100, 30) == 9000
    assert proof_queue_size(0.1, 3) == 1  # 0.9 rounds up


@pytest.mark.parametrize(("call", "field"), [
    (lambda: max_pending_operations(-1, 60), "peak_task_rate_per_s"),
    (lambda: proof_queue_size(100, float("nan")), "avg_proof_time_s"),
    (lambda: state_snapshots(0, 4), "max_depth"),
    (lambda: state_snapshots(5, 2.5), "branches"),
    (lambda: required_memory_mb(4, -200, 10, 512), "avg_state_mb"),
    (lambda: required_memory_mb(True, 200, 10, 512), "branches"),
    (lambda: gc_interval_ms("60s"), "confirmation_timeout_ms"),
    (lambda: sizing_for(SpeculationConfig(), peak_task_rate=-5), "peak_task_rate"),
])
def test_sizing_bad_inputs(call, field):
    with pytest.raises(SizingInputError) as info:
        call()
    assert info.value.field == field
    assert isinstance(info.value, SpecAnalysisError) and isinstance(info.value, ValueError)
    assert field in str(info.value)


def test_sizing_for_default_config():
    table = sizing_for(SpeculationConfig(), peak_task_rate=100, avg_proof_time_s=30)
    assert table.columns == ["parameter", "configured", "recommended", "formula",
                             "ratio", "status"]
    got = {r["parameter"]: (r["configured"], r["recommended"], r["status"])
           for r in table.iter_rows(named=True)}
    # hand-computed: memory 4x200 + 10 + 512 = 1322 MB, +20 % = 1586.4 -> 2048;
    # snapshots 5x4x2.5 = 50; pending 100/s x 30 s x 2 = 6000;
    # gc max(5000, 30000/4) = 7500; queue 100 x 30 x 3 = 9000
    assert got == {
        "speculation.limits.max_memory_mb": (4096, 2048, "above"),
        "speculation.limits.max_state_snapshots": (100, 50, "above"),
        "speculation.limits.max_pending_operations": (10_000, 6000, "above"),
        "speculation.limits.gc_interval_ms": (30_000, 7500, "above"),
        "speculation.proof.queue_size": (1000, 9000, "below"),
    }
    assert table["ratio"][0] == 2.0
    burst = sizing_for(SCENARIOS["burst-traffic"].config, peak_task_rate=100)
    row = burst.filter(pl.col("parameter") == "speculation.limits.max_state_snapshots")
    assert row["status"].item() == "matches"  # 5 x 16 x 2.5 = 200, as configured
    assert math.isclose(row["ratio"].item(), 1.0)
