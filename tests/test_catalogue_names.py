"""Metric names live only in the catalogue.

Every string literal of the package's code (docstrings and doctests aside) that
looks like a runtime metric name (``speculation_*`` / ``solana_*``) must be in
``specanalysis/catalogue.py``; other modules use its constants (``TASKS``,
``PROOF + "_bucket"``) or :func:`~specanalysis.catalogue.lookup`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from test_layers import docstring_nodes  # tests/ is on sys.path (rootdir import mode)

import specanalysis.catalogue as cat

ROOT = Path(__file__).resolve().parents[1] / "specanalysis"
NAME = re.compile(r"^(speculation|solana)_[a-z0-9_]+$")

#: Files not yet routed through the catalogue, with the reason.
PENDING: set[str] = set()


def literal_names(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = docstring_nodes(tree)
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings and NAME.match(node.value)]


def offenders(root: Path, pending: set[str]) -> list[str]:
    out = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel == "catalogue.py" or rel in pending:
            continue
        out += [f"{rel}:{line}: {name!r}" for line, name in literal_names(path)]
    return out


def test_metric_names_only_in_the_catalogue():
    found = offenders(ROOT, PENDING)
    assert found == [], ("metric names outside the catalogue (use its constants):\n"
                         + "\n".join(found))


def test_pending_files_exist():
    assert all((ROOT / rel).is_file() for rel in PENDING)


def test_constants_name_catalogue_metrics():
    consts = {k: v for k, v in vars(cat).items() if k.isupper() and isinstance(v, str)
              and NAME.match(v)}
    assert set(consts.values()) == set(cat.CATALOGUE)  # one constant per metric
    assert cat.TASKS == "speculation_tasks_total"


def test_the_check_finds_a_typed_name(tmp_path):
    (tmp_path / "catalogue.py").write_text('X = "speculation_tasks_total"\n')
    (tmp_path / "mod.py").write_text(
        '"""speculation_tasks_total in a docstring is fine."""\n'
        'def f(q):\n'
        '    return q.metric("speculation_tasks_total")\n')
    assert offenders(tmp_path, set()) == ["mod.py:3: 'speculation_tasks_total'"]
