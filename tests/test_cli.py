"""The command line: help that teaches, exit codes."""

from __future__ import annotations

import subprocess
import sys

from specanalysis.cli import main


def test_help_lists_exit_codes_and_env(capsys):
    try:
        main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    assert "exit codes" in out
    assert "SPECANALYSIS_PROMETHEUS_URL" in out


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().out


def test_python_dash_m_runs():
    out = subprocess.run([sys.executable, "-m", "specanalysis", "--version"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.startswith("specanalysis ")
