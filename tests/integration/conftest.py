"""Session fixture: a real Prometheus serving backfilled ``make_samples`` data.

The data is generated (``specanalysis.datasets.make_samples``), written with
``write_openmetrics``, backfilled with promtool into a temporary directory and
served by a throw-away ``prometheus`` on a free 127.0.0.1 port; the server is
terminated at the end of the session. Without the binaries the tests skip
(or fail under ``SPECANALYSIS_REQUIRE_PROMETHEUS=1``), via ``prometheus_bin``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import polars as pl
import pytest

from specanalysis.datasets import make_samples
from specanalysis.sources.prometheus import PrometheusSource

from .server import RunningPrometheus, serve_samples

START = "2025-01-01T00:00:00Z"


@dataclass(frozen=True)
class Backfilled:
    samples: pl.DataFrame
    source: PrometheusSource
    server: RunningPrometheus
    first: datetime
    last: datetime
    semantics: str | None  # the OfflineSource semantics this server version follows


def _semantics(version: str) -> str | None:
    m = re.search(r"version (\d+)\.(\d+)", version)
    if not m:
        return None
    major, minor = int(m.group(1)), int(m.group(2))
    if major == 2 and minor < 49:
        return "prom2"  # closed windows, old clamp order, no quantile smoothing
    if major >= 3:
        return "prom3"
    return None  # 2.49-2.x mix the two rule sets


@pytest.fixture(scope="session")
def backfilled(prometheus_bin, tmp_path_factory) -> Backfilled:
    samples = make_samples(seed=7, start=START, duration="6h", nan=True)
    workdir = tmp_path_factory.mktemp("prometheus")
    with serve_samples(samples, workdir, prometheus=prometheus_bin["prometheus"],
                       promtool=prometheus_bin["promtool"]) as server:
        ts = samples.get_column("timestamp")
        with PrometheusSource(server.url, deadline=30) as source:
            yield Backfilled(samples, source, server, ts.min(), ts.max(),
                             _semantics(server.version))


@pytest.fixture(scope="session")
def baseline_samples():
    """The bundled two-hour ``baseline`` fixture (every metric the profile reads)."""
    from specanalysis.fixtures import load_fixture

    return load_fixture("baseline")


@pytest.fixture(scope="session")
def baseline_prometheus(baseline_samples, prometheus_bin, tmp_path_factory):
    """A real Prometheus serving the ``baseline`` fixture (backfilled once per session)."""
    from specanalysis.sources.prometheus import PrometheusSource

    from .server import serve_samples

    workdir = tmp_path_factory.mktemp("prom_baseline")
    with serve_samples(baseline_samples, workdir, prometheus=prometheus_bin["prometheus"],
                       promtool=prometheus_bin["promtool"]) as server:
        src = PrometheusSource(server.url)
        yield src
        src.close()
