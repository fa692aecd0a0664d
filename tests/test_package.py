"""Package-level behaviour: cheap import, curated public API."""

from __future__ import annotations

import subprocess
import sys

import pytest

import specanalysis

HEAVY = ("galois", "statsmodels", "hvplot", "ipywidgets", "holoviews", "pandas",
         "dask", "distributed")


def test_import_is_light():
    code = (
        "import sys, specanalysis; "
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout


@pytest.mark.parametrize("name", specanalysis.__all__)
def test_every_public_name_resolves(name):
    assert getattr(specanalysis, name) is not None


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        specanalysis.nope  # noqa: B018
