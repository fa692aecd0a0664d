"""Browser tier fixtures: Debian's Chromium + chromedriver, a JupyterLab on 127.0.0.1.

Without ``chromium``/``chromedriver`` on PATH (or without selenium) the tests skip
with the reason; with ``SPECANALYSIS_REQUIRE_BROWSER=1`` (set by ``.ci/run``)
they fail instead, so CI cannot skip them silently.

Screenshots go to ``$SPECANALYSIS_SCREENSHOTS`` or, by default,
``build/screenshots/`` in the checkout; ``tests/conftest.py`` prints the folder at
the end of the run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .lab import find_chromium, start_chromium, start_lab

REQUIRE_BROWSER = os.environ.get("SPECANALYSIS_REQUIRE_BROWSER") == "1"
ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def screenshot_dir() -> Path:
    """Where screenshots are written (``$SPECANALYSIS_SCREENSHOTS`` or build/screenshots)."""
    env = os.environ.get("SPECANALYSIS_SCREENSHOTS")
    return Path(env) if env else ROOT / "build" / "screenshots"


def _unavailable(reason: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(reason + " [SPECANALYSIS_REQUIRE_BROWSER=1]")
    pytest.skip(reason + "; set SPECANALYSIS_REQUIRE_BROWSER=1 to make this fail")


@pytest.fixture(scope="session")
def chromium_bin() -> tuple[str, str]:
    """Paths of ``chromium`` and ``chromedriver`` (skip or fail when absent)."""
    browser, driver = find_chromium()
    missing = [n for n, p in (("chromium", browser), ("chromedriver", driver)) if not p]
    if missing:
        _unavailable(f"{', '.join(missing)} not on PATH: install Debian's `chromium` and "
                     "`chromium-driver` (apt-get install chromium chromium-driver) to "
                     "run the browser tier")
    try:
        import selenium  # noqa: F401
    except ImportError:
        _unavailable("selenium is not installed (pip install -e '.[dev]')")
    return browser, driver  # type: ignore[return-value]


@pytest.fixture(scope="session")
def lab(chromium_bin, tmp_path_factory):
    """A JupyterLab serving a copy of every notebook in notebooks/."""
    with start_lab(NOTEBOOKS, tmp_path_factory.mktemp("lab")) as running:
        yield running


@pytest.fixture(scope="session")
def browser(chromium_bin):
    with start_chromium(*chromium_bin) as driver:
        yield driver


@pytest.fixture(scope="session")
def shots() -> Path:
    folder = screenshot_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder
