"""The conformance tier's terminal summary: how many promqltest evals the vocabulary
could express, per version, and why the others were left out (the most frequent
reasons). Called from ``tests/conftest.py``, which pytest loads in every run
(with ``-n 2`` the controller never loads this folder's conftest)."""

from __future__ import annotations

import collections
import re

#: how many exclusion reasons the summary lists per version
TOP_REASONS = 8


def _reason_group(reason: str) -> str:
    """A reason without its details, so that like reasons count together."""
    reason = re.sub(r"^(function|aggregation) \S+", r"\1 not in the vocabulary", reason)
    reason = re.sub(r"^operator (or token )?\S+", "operator not in the vocabulary", reason)
    reason = re.sub(r"^(\w+) of an expression \(a subquery\)", "subquery", reason)
    reason = re.sub(r"^(cannot read|expected ').*", "syntax the translator does not read",
                    reason)
    return reason


def write_summary(terminalreporter) -> None:
    from .promqltest import PROMQLTEST, VERSIONS, exclusion, read_version

    if not PROMQLTEST.is_dir():
        return
    ran = {r.nodeid for key in ("passed", "failed")
           for r in terminalreporter.stats.get(key, ()) if "promqltest_eval" in r.nodeid}
    if not ran:
        return
    lines = []
    for version in VERSIONS:
        if not (PROMQLTEST / version).is_dir():
            continue
        evals = read_version(version)
        reasons = collections.Counter()
        for ev in evals:
            why = exclusion(ev)
            if why is not None:
                reasons[_reason_group(why)] += 1
        ok = len(evals) - sum(reasons.values())
        passed = sum(1 for r in terminalreporter.stats.get("passed", ())
                     if f"[{version}/" in r.nodeid and r.when == "call")
        lines.append(f"promqltest {version}: {ok} of {len(evals)} evals expressible, "
                     f"{passed} passed; left out:")
        lines.extend(f"  {n:5d}  {why}" for why, n in reasons.most_common(TOP_REASONS))
    terminalreporter.write_sep("-", "conformance")
    for line in lines:
        terminalreporter.write_line(line)
