"""compare() on windows of a real, backfilled Prometheus equals compare() offline.

The bundled ``baseline`` fixture is backfilled into a throw-away ``prometheus``
(promtool) and also fed to an OfflineSource; the first and the second hour are
compared through both engines. Same verdicts, same estimates: the window
comparison works on any Source.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from specanalysis.compare import compare, window

pytestmark = pytest.mark.integration


def test_window_comparison_equal_on_prometheus_and_offline(baseline_samples, baseline_prometheus):
    from specanalysis.sources.offline import OfflineSource

    offline = OfflineSource(baseline_samples)
    first, last = offline.time_range()
    t1 = first + timedelta(minutes=5)
    t2 = t1 + timedelta(minutes=55)
    t3 = last - timedelta(minutes=1)
    results = [compare(window(src, t1, t2), window(src, t2 + timedelta(seconds=15), t3))
               for src in (offline, baseline_prometheus)]
    a, b = (r.tidy().sort("metric") for r in results)
    assert a["metric"].to_list() == b["metric"].to_list()
    assert a["verdict"].to_list() == b["verdict"].to_list()
    for col in ("before", "after", "change_pct", "p_value"):
        for x, y in zip(a[col].to_list(), b[col].to_list(), strict=True):
            if x is None or y is None or (isinstance(x, float) and math.isnan(x)):
                assert (x is None or math.isnan(x)) == (y is None or math.isnan(y))
                continue
            assert x == pytest.approx(y, rel=1e-6, abs=1e-9), col
