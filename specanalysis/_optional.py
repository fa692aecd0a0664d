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


#: Plotting packages: importing one inside a Jupyter kernel first switches the
#: notebook to offline rendering (:mod:`specanalysis._display`), so the JavaScript
#: they send comes from the installed packages, not from a CDN.
_PLOTTING = ("hvplot", "holoviews", "panel", "bokeh")


def require(module: str, *, offline: bool = True) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the package.

    ``offline`` (default): before the first plotting import inside a Jupyter
    kernel, set the notebook up to render offline
    (:func:`specanalysis.notebook.setup`).

    Examples
    --------
    >>> require("json").__name__
    'json'
    """
    if offline and module.split(".")[0] in _PLOTTING:
        from specanalysis import _display

        _display.ensure()
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
