"""The curated notebooks are committed clean: no outputs, no execution counts,
a parameters cell first, and nothing that looks like a credential.

Executing them is nbmake's job (``pytest --nbmake notebooks/``); this test only
reads the JSON, so it is cheap enough for every run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))

# "Bearer <token>", "Authorization: ...", or a token-ish assignment with a literal value
_SECRET = re.compile(
    r"(bearer\s+[A-Za-z0-9._~+/=-]{8,})"
    r"|(authorization['\"]?\s*[:=]\s*['\"][^'\"]{8,})"
    r"|((?:token|password|secret|api_key)\s*=\s*['\"][^'\"]{8,}['\"])",
    re.IGNORECASE,
)


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def test_there_are_notebooks():
    names = {p.name for p in PATHS}
    assert {"00-start-here.ipynb", "01-profile-workload.ipynb",
            "02-tune-configuration.ipynb"} <= names


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_notebook_has_no_outputs_or_counts(path):
    nb = _load(path)
    assert nb["nbformat"] == 4
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        assert cell.get("outputs") == [], f"{path.name}: code cell {i} has outputs"
        assert cell.get("execution_count") is None, (
            f"{path.name}: code cell {i} has an execution count")


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_first_code_cell_is_tagged_parameters(path):
    nb = _load(path)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code, f"{path.name} has no code cells"
    assert "parameters" in code[0].get("metadata", {}).get("tags", []), (
        f"{path.name}: the first code cell must carry the 'parameters' tag")
    # no other cell claims to be the parameters cell
    assert all("parameters" not in c.get("metadata", {}).get("tags", [])
               for c in code[1:])


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_no_credentials_in_cells(path):
    nb = _load(path)
    for i, cell in enumerate(nb["cells"]):
        match = _SECRET.search(_source(cell))
        assert match is None, (
            f"{path.name}: cell {i} contains something that looks like a credential")


@pytest.mark.parametrize("text,flagged", [
    ("headers={'Authorization': 'Bearer abcdefgh12345678'}", True),
    ('token = "s3cr3t-t0ken-value"', True),
    ("PROMETHEUS_URL = os.environ.get('SPECANALYSIS_PROMETHEUS_URL')", False),
    ("# token / tenant come from SPECANALYSIS_PROMETHEUS_TOKEN", False),
])
def test_secret_pattern(text, flagged):
    assert (_SECRET.search(text) is not None) is flagged
