"""Imports only point down the layers (DESIGN.md, "Layers").

Every module of the package is parsed (``ast``; nothing is imported) and each
import is checked -- module level, inside functions, under ``TYPE_CHECKING``,
relative imports, ``from specanalysis import name`` (resolved through the
package's lazy map) and module paths named as strings (``importlib`` lazy maps
such as ``{"OfflineSource": "specanalysis.sources.offline"}``).

Layers, lowest first (a module may import its own layer and the ones below):

=============  ================================================================
vocabulary     errors, _time, catalogue, frames, query, matrix (the
               classification matrix), config, _optional (the optional-import
               helper: errors only), stats (pure statistical tests: numpy and
               errors only), buckets (histogram bucket arithmetic: errors only),
               limits (resource limits), _secrets (the masking function)
data           io/, sources/, sim/, datasets (synthetic samples), fixtures
               (the bundled, simulator-generated fixtures: reads io/, runs sim/)
understand     profile, classify, calibrate, models/, compare
decide/tell    tuning/, report
present        plots, widgets, cli/, __main__ (and the notebooks)
=============  ================================================================

The package's ``__init__`` is the public facade (lazy names from every layer)
and is not a layer of its own; ``from specanalysis import __version__`` is
allowed everywhere. A module not in the table fails the test until it is
placed, so a new module's layer is a decision, not an accident.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest

PACKAGE = "specanalysis"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

LAYER_NAMES = ("vocabulary", "data", "understand", "decide/tell", "present")

#: Module (or package prefix) -> layer index into LAYER_NAMES.
LAYERS: dict[str, int] = {
    "errors": 0, "_time": 0, "catalogue": 0, "frames": 0, "query": 0, "matrix": 0,
    "config": 0, "_optional": 0, "stats": 0, "buckets": 0, "limits": 0, "_secrets": 0,
    "_display": 0,
    "io": 1, "sources": 1, "sim": 1, "datasets": 1, "fixtures": 1,
    "profile": 2, "classify": 2, "calibrate": 2, "models": 2, "compare": 2,
    "tuning": 3, "report": 3,
    "plots": 4, "widgets": 4, "cli": 4, "__main__": 4, "notebook": 4,
}

_MODULE_PATH = re.compile(rf"^{PACKAGE}(\.[A-Za-z_][A-Za-z0-9_]*)+$")


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int | None:
    """Layer of a dotted module name (longest matching prefix), None for the facade."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        raise ValueError(module)
    if len(parts) == 1:
        return None
    return LAYERS.get(parts[1], -1)


def _lazy_names(root: Path) -> dict[str, str]:
    """``specanalysis._LAZY`` and the submodule names, read from the facade's source."""
    tree = ast.parse((root / "__init__.py").read_text(encoding="utf-8"))
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        target = None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        elif isinstance(node, ast.AnnAssign):
            target = node.target
        if not isinstance(target, ast.Name) or node.value is None:
            continue
        if target.id == "_LAZY" and isinstance(node.value, ast.Dict):
            for k, v in zip(node.value.keys, node.value.values, strict=True):
                if isinstance(k, ast.Constant) and isinstance(v, ast.Constant):
                    names[k.value] = v.value
        if target.id == "_SUBMODULES" and isinstance(node.value, ast.Set):
            for elt in node.value.elts:
                if isinstance(elt, ast.Constant):
                    names[elt.value] = f"{PACKAGE}.{elt.value}"
    return names


def _is_module(dotted: str, root: Path) -> bool:
    rel = Path(*dotted.split(".")[1:])
    return (root / rel).with_suffix(".py").is_file() or (root / rel / "__init__.py").is_file()


def docstring_nodes(tree: ast.Module) -> set[int]:
    """ids of the docstring constants of a parsed module (module, classes, functions)."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef |
                      ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value,
                                                                     ast.Constant):
                ids.add(id(body[0].value))
    return ids


def imports_of(path: Path, root: Path, lazy: dict[str, str]) -> list[tuple[int, str]]:
    """(line, imported module) for every import of the package in ``path``."""
    me = module_name(path, root)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    docstrings = docstring_nodes(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names
                      if a.name.split(".")[0] == PACKAGE]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:
                sub = f"{mod}.{alias.name}"
                if mod == PACKAGE:
                    if alias.name in lazy:
                        found.append((node.lineno, lazy[alias.name]))
                    elif _is_module(sub, root):
                        found.append((node.lineno, sub))
                    # else: a facade attribute such as __version__
                elif _is_module(sub, root):
                    found.append((node.lineno, sub))
                else:
                    found.append((node.lineno, mod))
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and id(node) not in docstrings and _MODULE_PATH.match(node.value)
              and _is_module(node.value, root)):
            found.append((node.lineno, node.value))
    return found


def violations(root: Path) -> list[str]:
    """Every import that points up a layer, or a module with no layer."""
    lazy = _lazy_names(root)
    out = []
    for path in sorted(root.rglob("*.py")):
        me = module_name(path, root)
        mine = layer_of(me)
        if mine is None:
            continue  # the facade
        rel = path.relative_to(root.parent)
        if mine == -1:
            out.append(f"{rel}: module {me} has no layer (add it to LAYERS)")
            continue
        for line, target in imports_of(path, root, lazy):
            theirs = layer_of(target)
            if theirs is None or theirs == -1:
                continue  # facade attribute; unplaced targets are reported on their own
            if theirs > mine:
                out.append(f"{rel}:{line}: {me} ({LAYER_NAMES[mine]}) imports {target} "
                           f"({LAYER_NAMES[theirs]}, a higher layer)")
    return out


# ----------------------------------------------------------------------------- tests


def test_imports_only_point_down_the_layers():
    assert ROOT.is_dir()
    found = violations(ROOT)
    assert found == [], "imports up the layers:\n" + "\n".join(found)


def test_every_layer_prefix_names_a_real_module():
    # a renamed module must not leave a stale entry that silently places nothing
    missing = [name for name in LAYERS
               if name not in ("report",)  # planned in DESIGN.md
               and not _is_module(f"{PACKAGE}.{name}", ROOT)]
    assert missing == []


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")


@pytest.fixture
def tiny(tmp_path) -> Path:
    """A synthetic package with one module per layer and clean imports."""
    root = tmp_path / PACKAGE
    _write(root, "__init__.py", '''
        _LAZY = {"recommend": "specanalysis.tuning", "plot": "specanalysis.plots"}
        _SUBMODULES = {"config", "plots"}
        __version__ = "0"
    ''')
    _write(root, "errors.py", "class E(Exception): ...\n")
    _write(root, "config.py", "from specanalysis.errors import E\n")
    _write(root, "io/__init__.py", "")
    _write(root, "io/exposition.py", "from specanalysis import __version__\n")
    _write(root, "sources/__init__.py",
           '_LAZY = {"OfflineSource": "specanalysis.sources.offline"}\n')
    _write(root, "sources/offline.py", "from ..io import exposition\n")
    _write(root, "profile.py", "from specanalysis.sources.offline import x\n")
    _write(root, "tuning/__init__.py", "from .rules import R\n")
    _write(root, "tuning/rules.py", "from specanalysis.profile import p\n")
    _write(root, "plots.py", "from specanalysis.tuning import recommend\n")
    return root


def test_a_clean_synthetic_package_passes(tiny):
    assert violations(tiny) == []


@pytest.mark.parametrize(("rel", "code", "culprit"), [
    # module level
    ("config.py", "from specanalysis.profile import p\n", "specanalysis.profile"),
    # inside a function, as the package often does for lazy loading
    ("io/exposition.py", "def f():\n    from specanalysis.tuning.rules import R\n",
     "specanalysis.tuning.rules"),
    # under TYPE_CHECKING
    ("sources/offline.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
     "    import specanalysis.plots\n", "specanalysis.plots"),
    # relative import up a layer
    ("sources/offline.py", "from .. import tuning\n", "specanalysis.tuning"),
    # a facade name that lives in a higher layer
    ("profile.py", "from specanalysis import recommend\n", "specanalysis.tuning"),
    # a lazy map naming a higher module as a string
    ("errors.py", '_LAZY = {"x": "specanalysis.plots"}\n', "specanalysis.plots"),
])
def test_the_check_catches_an_upward_import(tiny, rel, code, culprit):
    _write(tiny, rel, code)
    found = violations(tiny)
    assert len(found) == 1, found
    assert culprit in found[0] and "higher layer" in found[0]
    assert found[0].startswith(f"{PACKAGE}/{rel}:")


def test_docstrings_naming_modules_are_not_imports(tiny):
    _write(tiny, "config.py", '"""specanalysis.plots"""\n\n\ndef f():\n'
           '    """specanalysis.tuning"""\n')
    assert violations(tiny) == []


def test_an_unplaced_module_fails(tiny):
    _write(tiny, "helpers.py", "")
    assert violations(tiny) == [
        f"{PACKAGE}/helpers.py: module {PACKAGE}.helpers has no layer (add it to LAYERS)"]
