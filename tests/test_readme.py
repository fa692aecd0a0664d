"""Every code block of the README runs, from a directory other than the repository root.

A block is run unless the line after its closing fence is a marker
``<!-- readme-test: skip (reason) -->`` or ``<!-- readme-test: needs a live server
(...) -->``. Python blocks run each in a fresh interpreter (so no block may lean on
another's variables); bash blocks run under ``bash -euo pipefail`` with the
interpreter's ``bin`` folder first on ``PATH`` (where the ``specanalysis`` command
is installed). Both run in a fresh temporary directory, so a path that only works
from the repository root fails here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

_FENCE = re.compile(r"^```(\w*)\s*$")
_MARKER = re.compile(r"^<!--\s*readme-test:\s*(skip|needs a live server)\s*\((.+)\)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    marker: str | None  # "skip" / "needs a live server", or None: run it
    reason: str

    @property
    def id(self) -> str:
        return f"L{self.line}-{self.lang or 'text'}"


def readme_blocks(text: str) -> list[Block]:
    """The fenced code blocks of ``text`` with their run markers."""
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m.group(1)
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        if j == len(lines):
            raise AssertionError(f"README line {start + 1}: code block never closed")
        code = "\n".join(lines[start + 1:j]) + "\n"
        k = j + 1
        while k < len(lines) and not lines[k].strip():
            k += 1
        marker = reason = None
        if k < len(lines):
            mm = _MARKER.match(lines[k].strip())
            if mm:
                marker, reason = mm.group(1), mm.group(2)
        blocks.append(Block(start + 1, lang, code, marker, reason or ""))
        i = j + 1
    return blocks


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))
RUN = [b for b in BLOCKS if b.marker is None]


def test_parser_finds_blocks_and_markers():
    text = ("intro\n```python\nprint(1)\n```\n<!-- readme-test: skip (why) -->\n"
            "```bash\necho hi\n```\n\n```\nplain\n```\n")
    got = readme_blocks(text)
    assert [(b.lang, b.marker, b.reason) for b in got] == [
        ("python", "skip", "why"), ("bash", None, ""), ("", None, "")]
    assert got[0].code == "print(1)\n"


def test_every_block_is_runnable_or_says_why_not():
    assert len(RUN) >= 4, "the README should show runnable examples"
    for b in BLOCKS:
        assert b.lang in ("python", "bash"), (
            f"README line {b.line}: a code block needs a language (python or bash) "
            "so the test knows how to run it")
        if b.marker is not None:
            assert b.reason.strip(), f"README line {b.line}: a marker needs a reason"


def test_no_relative_paths_into_the_checkout():
    # a path like fixtures/configs/x.toml only works from the repository root
    for b in RUN:
        assert "fixtures/configs/" not in b.code, f"README line {b.line}"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    # the tree under test, also for the `specanalysis` entry point
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.pop("SPECANALYSIS_PROMETHEUS_URL", None)
    env["MPLBACKEND"] = "Agg"
    return env


@pytest.mark.parametrize("block", RUN, ids=lambda b: b.id)
def test_readme_block_runs(block, tmp_path):
    assert Path.cwd() != tmp_path
    if block.lang == "python":
        script = tmp_path / "block.py"
        script.write_text(block.code, encoding="utf-8")
        cmd = [sys.executable, str(script)]
    else:
        cmd = ["bash", "-euo", "pipefail", "-c", block.code]
    proc = subprocess.run(cmd, cwd=tmp_path, env=_env(), capture_output=True,
                          text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, (
        f"README block at line {block.line} failed ({proc.returncode}):\n"
        f"{block.code}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n"
        f"{proc.stderr[-3000:]}")
    assert proc.stdout.strip(), f"README block at line {block.line} printed nothing"
    assert "Traceback" not in proc.stderr


# blocks that need a live Prometheus run against a real one (other live servers,
# such as a Dask scheduler, stay marked)
LIVE = [b for b in BLOCKS if b.marker == "needs a live server"
        and "PROMETHEUS" in b.reason.upper()]
_README_URL = "http://prometheus.internal:9090"


@pytest.fixture(scope="module")
def live_prometheus(prometheus_bin, tmp_path_factory):
    """A real Prometheus serving the bundled baseline fixture (backfilled)."""
    from integration.server import serve_samples

    from specanalysis.fixtures import load_fixture

    workdir = tmp_path_factory.mktemp("readme-prometheus")
    with serve_samples(load_fixture("baseline"), workdir,
                       prometheus=prometheus_bin["prometheus"],
                       promtool=prometheus_bin["promtool"]) as server:
        yield server.url


@pytest.mark.integration
@pytest.mark.parametrize("block", LIVE, ids=lambda b: b.id)
def test_readme_live_server_block_runs_against_a_real_prometheus(block, live_prometheus,
                                                                   tmp_path):
    # the README's placeholder URL points at the real server; the data are the
    # bundled fixture's (2025-01-28 00:00-02:00 UTC)
    code = block.code.replace(_README_URL, live_prometheus)
    if block.lang == "bash":
        code = code.replace("specanalysis profile --window 1h",
                            "specanalysis profile --window 1h --at 2025-01-28T02:00:00Z")
    env = _env()
    env["SPECANALYSIS_PROMETHEUS_URL"] = live_prometheus
    if block.lang == "python":
        script = tmp_path / "block.py"
        script.write_text(code, encoding="utf-8")
        cmd = [sys.executable, str(script)]
    else:
        cmd = ["bash", "-euo", "pipefail", "-c", code]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, (
        f"README block at line {block.line} failed against {live_prometheus}:\n{code}\n"
        f"--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}")
    assert proc.stdout.strip()
    # the token the README exports ("...") never reaches the output
    assert "Bearer" not in proc.stdout + proc.stderr
    if block.lang == "bash":
        assert "Task Rate" in proc.stdout or "task_rate" in proc.stdout
