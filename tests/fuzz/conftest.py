"""Fuzz profiles: a fast one for ``make test``, a long one on demand.

``SPECANALYSIS_FUZZ=long`` runs at least 100,000 cases per parser -- 50,000 for
each of its two properties, generated and mutated (``make fuzz``; ``.ci/run``
passes the variable to ``make test``); otherwise each property gets a few dozen
deterministic cases; ``SPECANALYSIS_FUZZ_CASES=N`` sets any other number.

Cost, measured on the shared 2-core machine (hypothesis' generate-phase time per
case): round trips 24-40 ms (Parquet, API JSON, exposition, OpenMetrics), mutations
5-13 ms, TOML 5 ms; a full long profile is about 2.5 hours of one core's time.
Run in slices with ``--hypothesis-seed`` (and ``SPECANALYSIS_FUZZ_CASES``) when
that is too long at once: each seed draws other cases.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

LONG = os.environ.get("SPECANALYSIS_FUZZ", "").lower() == "long"
#: cases per property (a parser's round-trip and mutation properties each get this
#: many, so a parser gets twice this)
CASES = int(os.environ.get("SPECANALYSIS_FUZZ_CASES", 0)) or (50_000 if LONG else 40)

settings.register_profile(
    "specanalysis-fuzz",
    max_examples=CASES,
    deadline=None,
    derandomize=not LONG,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
    print_blob=True,
)
