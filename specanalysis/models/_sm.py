"""The statsmodels boundary: the one place polars columns become numpy for a fit.

Every regression of :mod:`specanalysis.models` goes through :func:`fit`, which
imports statsmodels on first use, turns its warnings and linear-algebra errors
into :class:`~specanalysis.errors.DataError`, and returns a :class:`SMFit` of
plain numpy arrays (no statsmodels or pandas object leaves this module).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from specanalysis._optional import require
from specanalysis.errors import DataError

__all__ = ["SMFit", "fit", "as_array"]


@dataclass(frozen=True)
class SMFit:
    """Estimates of one fit: ``params``, ``bse``, ``cov`` (parameter covariance),
    ``ci`` (k x 2 at the requested level), ``fitted``, ``resid``, ``df_resid``,
    ``scale`` (residual variance), ``extra`` (method-specific figures)."""

    params: np.ndarray
    bse: np.ndarray
    cov: np.ndarray
    ci: np.ndarray
    fitted: np.ndarray
    resid: np.ndarray
    df_resid: float
    scale: float
    extra: dict


def as_array(column: Any) -> np.ndarray:
    """A float64 numpy array from a polars Series/expression result or a sequence."""
    if isinstance(column, pl.Series):
        return column.cast(pl.Float64).to_numpy()
    return np.asarray(column, dtype=np.float64)


def fit(method: str, y: Any, X: Any, *, confidence: float = 0.95,
        cov_type: str = "nonrobust", groups: Any = None, quantile: float = 0.5,
        trials: Any = None, offset: Any = None, what: str = "data") -> SMFit:
    """Fit ``method`` (``ols``, ``rlm``, ``quantreg``, ``glm_cloglog``) of ``y`` on ``X``.

    ``X`` is a polars frame (its columns are the terms, in order). For
    ``glm_cloglog`` ``y`` are event counts out of ``trials`` with an optional
    ``offset``. ``cov_type`` is ``nonrobust``, ``HC0``..``HC3`` or ``cluster``
    (with ``groups``).
    """
    sm = require("statsmodels.api")
    yv = as_array(y)
    Xv = np.column_stack([as_array(X[c]) for c in X.columns]) if isinstance(
        X, pl.DataFrame) else np.asarray(X, dtype=np.float64)
    alpha = 1 - confidence
    kw: dict[str, Any] = {}
    if cov_type == "cluster":
        g = np.unique(np.asarray(groups), return_inverse=True)[1]
        kw = {"cov_type": "cluster", "cov_kwds": {"groups": g}}
    elif cov_type != "nonrobust":
        kw = {"cov_type": cov_type}
    if np.linalg.matrix_rank(Xv.T @ Xv) < Xv.shape[1]:
        raise DataError(f"the {what} cannot separate the terms "
                        f"{', '.join(X.columns) if isinstance(X, pl.DataFrame) else ''}"
                        " (collinear: e.g. a single depth, or a breakpoint outside "
                        "the data)", field="data",
                        expected="observations at two or more distinct depths on "
                        "each side of any breakpoint")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if method == "ols":
                res = sm.OLS(yv, Xv).fit(**kw)
            elif method == "rlm":
                res = sm.RLM(yv, Xv, M=sm.robust.norms.HuberT()).fit()
            elif method == "quantreg":
                res = sm.QuantReg(yv, Xv).fit(q=quantile, max_iter=5000)
            elif method == "glm_cloglog":
                tv = as_array(trials)
                endog = np.column_stack([yv, tv - yv])
                fam = sm.families.Binomial(link=sm.families.links.CLogLog())
                model = sm.GLM(endog, Xv, family=fam,
                               offset=None if offset is None else as_array(offset))
                res = model.fit(**kw)
            else:  # pragma: no cover - internal
                raise ValueError(method)
        except np.linalg.LinAlgError as exc:
            raise DataError(f"the {what} cannot be fitted: {exc}", field="data",
                            expected="observations at two or more depths") from None
    params = np.asarray(res.params, dtype=np.float64)
    bse = np.asarray(res.bse, dtype=np.float64)
    exact = method != "glm_cloglog" and np.allclose(
        yv - np.asarray(res.fittedvalues), 0.0, atol=1e-9 * max(1.0, np.abs(yv).max()))
    if exact:  # a perfect fit (fixed times): no sampling error
        k = len(params)
        ci = np.column_stack([params, params])
        resid = np.zeros_like(yv)
        return SMFit(params, np.zeros(k), np.zeros((k, k)), ci, yv - resid, resid,
                     float(res.df_resid), 0.0,
                     {"warnings": [], "nobs": float(len(yv)), "exact": True})
    if (method == "quantreg" and np.all(np.isfinite(params))
            and not np.all(np.isfinite(bse))):
        # an extreme quantile of few observations: the line, but no interval
        k = len(params)
        nan = np.full(k, np.nan)
        fitted = np.asarray(res.fittedvalues, dtype=np.float64)
        return SMFit(params, nan, np.full((k, k), np.nan), np.column_stack([nan, nan]),
                     fitted, yv - fitted, float(res.df_resid), math.nan,
                     {"warnings": [f"no interval at quantile {quantile}: too few "
                                   "observations in the tail"], "nobs": float(len(yv)),
                      "no_interval": True})
    if not (np.all(np.isfinite(params)) and np.all(np.isfinite(bse))):
        raise DataError(f"the {what} gives no finite estimate "
                        "(too few observations or no variation)", field="data",
                        expected="more observations at several depths")
    cov = np.asarray(res.cov_params(), dtype=np.float64)
    ci = np.asarray(res.conf_int(alpha=alpha), dtype=np.float64)
    extra: dict[str, Any] = {"warnings": [str(w.message) for w in caught],
                             "nobs": float(len(yv))}
    if method == "glm_cloglog":
        extra["deviance"] = float(res.deviance)
        extra["pearson_chi2"] = float(res.pearson_chi2)
        extra["converged"] = bool(getattr(res, "converged", True))
        fitted = np.asarray(res.fittedvalues, dtype=np.float64)
        resid = np.asarray(res.resid_pearson, dtype=np.float64)
        scale = float(res.scale)
    else:
        fitted = np.asarray(res.fittedvalues, dtype=np.float64)
        resid = yv - fitted
        scale = float(np.sum(resid**2) / max(res.df_resid, 1))
    if method == "ols":
        st = require("statsmodels.stats.stattools")
        const = np.any(np.all(Xv == Xv[:1], axis=0) & (Xv[0] != 0))
        if const and Xv.shape[1] > 1 and len(yv) > Xv.shape[1] + 1 and np.ptp(resid) > 0:
            extra["breusch_pagan_p"] = _breusch_pagan(resid, Xv)
        if len(yv) > 7 and np.ptp(resid) > 0:
            jb, jb_p, skew, kurt = st.jarque_bera(resid)
            extra["jarque_bera_p"] = float(jb_p)
            extra["skew"] = float(skew)
            extra["kurtosis"] = float(kurt)
        extra["r_squared"] = float(res.rsquared) if np.ptp(yv) > 0 else 1.0
    return SMFit(params, bse, cov, ci, fitted, resid, float(res.df_resid), scale, extra)


def _breusch_pagan(resid: np.ndarray, X: np.ndarray) -> float:
    """p-value of the Koenker (studentised) Breusch-Pagan test: n R^2 of e^2 on X,
    chi-squared with k - 1 degrees of freedom (statsmodels' het_breuschpagan
    default, computed from the k x k normal equations)."""
    from scipy import stats

    e2 = resid**2
    beta = np.linalg.solve(X.T @ X, X.T @ e2)
    fitted = X @ beta
    ss_tot = float(np.sum((e2 - e2.mean()) ** 2))
    r2 = float(np.sum((fitted - e2.mean()) ** 2)) / ss_tot if ss_tot > 0 else 0.0
    return float(stats.chi2.sf(len(e2) * r2, X.shape[1] - 1))
