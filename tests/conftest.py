"""Shared test configuration.

Tests that need a real Prometheus use the ``prometheus_bin`` fixture. Without
``prometheus``/``promtool`` on PATH they skip, unless
``SPECANALYSIS_REQUIRE_PROMETHEUS=1`` (set by ``.ci/run``), where they fail.
"""

from __future__ import annotations

import os
import shutil

import pytest

REQUIRE_PROMETHEUS = os.environ.get("SPECANALYSIS_REQUIRE_PROMETHEUS") == "1"


@pytest.fixture(scope="session")
def prometheus_bin() -> dict[str, str]:
    """Paths of the ``prometheus`` and ``promtool`` binaries (skip or fail when absent)."""
    found = {name: shutil.which(name) for name in ("prometheus", "promtool")}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        msg = (
            f"{', '.join(missing)} not on PATH: install Debian's `prometheus` package "
            "(apt-get install prometheus) to run the integration tier"
        )
        if REQUIRE_PROMETHEUS:
            pytest.fail(msg + " [SPECANALYSIS_REQUIRE_PROMETHEUS=1]")
        pytest.skip(msg + "; set SPECANALYSIS_REQUIRE_PROMETHEUS=1 to make this fail")
    return found  # type: ignore[return-value]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say where the browser tier wrote its screenshots (tests/browser/)."""
    from pathlib import Path

    env = os.environ.get("SPECANALYSIS_SCREENSHOTS")
    folder = Path(env) if env else Path(__file__).resolve().parent.parent / "build" / "screenshots"
    if folder.is_dir() and any(folder.glob("*.png")):
        terminalreporter.write_line(f"browser tier screenshots: {folder}")
    from conformance.summary import write_summary  # tests/conformance/

    write_summary(terminalreporter)
