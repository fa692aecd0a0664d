"""Print how many promqltest evals the vocabulary could express, per version."""

from __future__ import annotations


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    from .promqltest import PROMQLTEST, VERSIONS, expressible, read_version

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
        ok = sum(1 for ev in evals if expressible(ev))
        passed = sum(1 for r in terminalreporter.stats.get("passed", ())
                     if f"[{version}/" in r.nodeid and r.when == "call")
        lines.append(f"promqltest {version}: {ok} of {len(evals)} evals expressible, "
                     f"{passed} passed")
    terminalreporter.write_sep("-", "conformance")
    for line in lines:
        terminalreporter.write_line(line)
