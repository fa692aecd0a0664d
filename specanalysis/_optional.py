"""Import optional heavy dependencies on first use, naming what to install when missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from specanalysis.errors import MissingDependencyError

_PIP_NAMES = {"hvplot": "hvplot", "ipywidgets": "ipywidgets", "galois": "galois",
              "statsmodels": "statsmodels", "prometheus_api_client":
              "prometheus-api-client", "tqdm": "tqdm",
              "distributed": "specanalysis[distributed]",
              "dask": "specanalysis[distributed]"}


def require(module: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the package.

    Examples
    --------
    >>> require("json").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        pip = _PIP_NAMES.get(top, top)
        raise MissingDependencyError(
            f"this feature needs the optional package {pip!r}, which is not installed",
            expected=f"`pip install {pip}` (or `pip install specanalysis` with its "
            "default dependencies)",
        ) from exc
