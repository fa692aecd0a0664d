"""Backfill a samples frame into a throw-away Prometheus and run it (tests, benchmarks).

One copy of the recipe in ``reference/prometheus-semantics.md`` section 5:
write promtool-safe OpenMetrics, ``promtool tsdb create-blocks-from openmetrics
--max-block-duration=24h``, copy the blocks into a scratch data directory, start
``prometheus`` with an empty scrape config and 100 y retention on a free
127.0.0.1 port, and wait for ``/-/ready``.

Used by ``tests/integration/conftest.py`` and ``benchmarks/bench_loaders.py``.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

__all__ = ["RunningPrometheus", "backfill", "free_port", "serve_samples", "start_prometheus"]


@dataclass(frozen=True)
class RunningPrometheus:
    url: str
    process: subprocess.Popen
    data_dir: Path
    log_path: Path
    version: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def backfill(samples: pl.DataFrame, workdir: Path, *, promtool: str = "promtool") -> Path:
    """Write ``samples`` as OpenMetrics and turn it into TSDB blocks; the blocks dir."""
    from specanalysis.io.exposition import write_openmetrics

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    om = write_openmetrics(samples, workdir / "fixture.om")
    blocks = workdir / "blocks"
    proc = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics",
         "--max-block-duration=24h", str(om), str(blocks)],
        capture_output=True, text=True, timeout=600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"promtool failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return blocks


def start_prometheus(
    blocks: Path, workdir: Path, *, prometheus: str = "prometheus",
    ready_timeout: float = 60.0, extra_args: tuple[str, ...] = (),
) -> RunningPrometheus:
    """Start a server on a scratch copy of ``blocks``; returns once ``/-/ready`` is 200."""
    workdir = Path(workdir)
    data = workdir / "data"
    if data.exists():
        shutil.rmtree(data)
    shutil.copytree(blocks, data)  # the server rewrites its data dir: never the original
    config = workdir / "empty.yml"
    config.write_text("global: {}\nscrape_configs: []\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = workdir / "prometheus.log"
    version = subprocess.run([prometheus, "--version"], capture_output=True,
                             text=True).stdout.splitlines()[0:1]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [prometheus, f"--config.file={config}", f"--storage.tsdb.path={data}",
             "--storage.tsdb.retention.time=100y", f"--web.listen-address=127.0.0.1:{port}",
             "--query.lookback-delta=5m", *extra_args],
            stdout=log, stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + ready_timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited with {process.returncode}: "
                               f"{log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as resp:
                if resp.status == 200:
                    break
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"prometheus not ready after {ready_timeout} s: "
                               f"{log_path.read_text()[-2000:]}")
        time.sleep(0.1)
    return RunningPrometheus(url, process, data, log_path, version[0] if version else "?")


def stop(process: subprocess.Popen) -> None:
    """Terminate the server we started (by its own handle), killing it if it hangs."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextlib.contextmanager
def serve_samples(
    samples: pl.DataFrame, workdir: Path, *, prometheus: str = "prometheus",
    promtool: str = "promtool",
) -> Iterator[RunningPrometheus]:
    """Backfill ``samples`` and serve them for the duration of the ``with`` block."""
    blocks = backfill(samples, Path(workdir), promtool=promtool)
    server = start_prometheus(blocks, Path(workdir), prometheus=prometheus)
    try:
        yield server
    finally:
        stop(server.process)
