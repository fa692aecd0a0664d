"""Bundled configurations are reachable by name from any directory."""

from __future__ import annotations

from pathlib import Path

import pytest

import specanalysis as sa
from specanalysis.cli import main
from specanalysis.errors import DataError
from specanalysis.fixtures import config_names, config_path, load_config


def test_names_are_the_scenarios_and_fixture_configs():
    assert set(config_names()) == set(sa.SCENARIOS) | {"baseline", "after-max-depth-3"}


@pytest.mark.parametrize("name", sorted(sa.SCENARIOS))
def test_scenario_by_name_is_the_guide_scenario(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_config(name) == sa.SCENARIOS[name].config
    assert load_config(name + ".toml") == sa.SCENARIOS[name].config


def test_fixture_config_by_name(tmp_path, monkeypatch):
    from specanalysis.fixtures import fixture_config

    monkeypatch.chdir(tmp_path)
    assert load_config("baseline") == fixture_config("baseline")
    assert load_config("after-max-depth-3").max_depth == 3


def test_an_existing_file_wins_over_a_bundled_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("baseline").write_text("[speculation]\nenabled = true\nmax_depth = 7\n")
    assert config_path("baseline") == Path("baseline")
    assert load_config("baseline").max_depth == 7


def test_unknown_name_lists_the_bundled_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as info:
        config_path("current.toml")
    msg = str(info.value)
    assert "current.toml" in msg and "high-reliability" in msg and "fixtures list" in msg
    # a path with folders is never taken for a bundled name
    with pytest.raises(DataError):
        config_path("somewhere/baseline.toml")


def test_fixtures_list_shows_configs_with_existing_paths(capsys):
    assert main(["fixtures", "list"]) == 0
    out = capsys.readouterr().out
    for name in config_names():
        line = next(ln for ln in out.splitlines() if ln.split()[:1] == [name]
                    and ln.rstrip().endswith(".toml"))
        assert Path(line.split()[-1]).is_file()


def test_recommend_takes_a_bundled_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["recommend", "--config", "baseline", "--fixture", "baseline",
                 "--write", "proposed.toml"])
    assert code == 0
    assert load_config("proposed.toml") != load_config("baseline")
    code = main(["recommend", "--config", "nope", "--fixture", "baseline"])
    err = capsys.readouterr().err
    assert code == 2 and "--config" in err and "fixtures list" in err
