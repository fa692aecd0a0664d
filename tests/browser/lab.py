"""A throw-away JupyterLab on 127.0.0.1 and a headless Chromium driving it.

Nothing here needs the internet: JupyterLab serves its own front end and the
widget manager from the installed packages, the notebooks inline BokehJS
(:func:`specanalysis.setup_notebook`), and Chromium runs with every background
service that would phone home turned off. :func:`external_requests` lists any
request the page made to a host other than 127.0.0.1, so a test can prove it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

__all__ = ["Lab", "start_lab", "start_chromium", "external_requests", "find_chromium",
           "CHROMIUM_FLAGS"]

#: Flags for a headless Chromium as root in a closed network (the background
#: services are off so nothing tries to reach the internet on its own).
CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars",
    "--force-device-scale-factor=1",
)

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


@dataclass(frozen=True)
class Lab:
    url: str  # http://127.0.0.1:PORT
    token: str
    root: Path  # the folder JupyterLab serves (a copy of notebooks/)
    process: subprocess.Popen
    log_path: Path

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?reset&token={self.token}"


def find_chromium() -> tuple[str | None, str | None]:
    """Paths of Debian's ``chromium`` and ``chromedriver`` (None where absent)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return browser, driver


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settings(folder: Path) -> None:
    """User settings: render every cell (no windowing) and never fetch news."""
    files = {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings":
            {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
            {"fetchNews": "false", "checkForUpdates": False},
    }
    for rel, doc in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc), encoding="utf-8")


@contextlib.contextmanager
def start_lab(notebooks: list[Path], workdir: Path, *, timeout: float = 180.0
              ) -> Iterator[Lab]:
    """Copy ``notebooks`` into ``workdir/root`` and serve them with JupyterLab.

    The server runs with this interpreter (so its kernel imports the package
    under test), private config/data/runtime folders, a random token, and
    ``expose_app_in_browser`` (the test drives JupyterLab's own commands).
    """
    root = workdir / "root"
    root.mkdir(parents=True, exist_ok=True)
    for nb in notebooks:
        shutil.copy2(nb, root / nb.name)
    home = workdir / "home"
    for sub in ("config", "data", "runtime", "settings", "workspaces"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    _settings(home / "settings")
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    env.update({
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    })
    env.pop("SPECANALYSIS_PROMETHEUS_URL", None)
    log_path = workdir / "jupyterlab.log"
    cmd = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
        "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
        f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}",
        "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--ServerApp.disable_check_xsrf=False",
    ]
    log = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited ({proc.returncode}):\n"
                                   + log_path.read_text(errors="replace")[-3000:])
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}",
                                            timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab not ready after {timeout:.0f} s:\n"
                                   + log_path.read_text(errors="replace")[-3000:])
            time.sleep(0.5)
        yield Lab(url, token, root, proc, log_path)
    finally:
        # shut the server down (its kernels with it), then make sure it is gone
        with contextlib.suppress(Exception):
            req = urllib.request.Request(f"{url}/api/shutdown?token={token}",
                                         method="POST", data=b"")
            urllib.request.urlopen(req, timeout=10).close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


@contextlib.contextmanager
def start_chromium(browser: str, driver: str, *, width: int = 1400, height: int = 1000
                   ) -> Iterator[object]:
    """A headless Chromium under selenium with a fresh profile; network log on."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="specanalysis-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for flag in (*CHROMIUM_FLAGS, f"--window-size={width},{height}",
                 f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    drv = webdriver.Chrome(service=Service(driver), options=opts)
    drv.set_script_timeout(120)
    try:
        yield drv
    finally:
        with contextlib.suppress(Exception):
            drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


def external_requests(driver: object) -> list[str]:
    """URLs the page requested from hosts other than this machine (drains the log)."""
    out: list[str] = []
    for entry in driver.get_log("performance"):  # type: ignore[attr-defined]
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") != "Network.requestWillBeSent":
            continue
        url = msg["params"]["request"]["url"]
        parsed = urlparse(url)
        if parsed.scheme in ("http", "https", "ws", "wss") and \
                parsed.hostname not in _LOCAL_HOSTS:
            if url not in out:
                out.append(url)
    return out
