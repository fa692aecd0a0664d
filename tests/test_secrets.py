"""The bearer token never leaves: every error path, every log level, every output.

A token is sent through every way a request can fail (the fault-injecting
``FakeAPI`` of ``test_prometheus_source`` plays the server, echoing request
headers back the way a broken proxy does) and through the CLI in a
subprocess. Everything that comes out -- exception messages, reprs, args,
the whole ``__cause__``/``__context__`` chain and its formatted traceback, log
records at every level, warnings, stdout/stderr -- is searched for **any
6-character substring** of the token.

Findings of issue 12 reproduced here first: 1 (a token with a newline echoed
by ``InvalidHeader``), 2 (the excerpt cut before masking), 3 (the retry log
written before masking and the unmasked exception kept as ``__context__``), 4
(``headers=`` and the tenant followed a redirect to another host).
"""

from __future__ import annotations

import gzip
import logging
import os
import subprocess
import sys
import traceback
import warnings
from pathlib import Path

import pytest
from test_prometheus_source import FakeAPI, err, free_port, ok

from specanalysis._secrets import mask, register_secret
from specanalysis.errors import (
    PrometheusError,
    PrometheusTimeout,
    PrometheusUnavailable,
    SpecAnalysisError,
)
from specanalysis.sources.prometheus import PrometheusSource

TOKEN = "Zq7Kx9Wv3Lm2Rt8Yp4Hn6Dc"
API_KEY = "key-Ab3De5Gh7Jk9Mn2Pq"
PASSWORD = "pw-Xy4Tu6Bn8Vc1Lk"
FRAGMENTS = {s[i:i + 6] for s in (TOKEN, API_KEY, PASSWORD) for i in range(len(s) - 5)}
LEVELS = [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR]


def leaks(text: str) -> list[str]:
    return sorted(f for f in FRAGMENTS if f in text)


def chain_text(exc: BaseException) -> str:
    """Everything an exception can show: its chain, reprs, args, attributes, traceback."""
    out, seen, todo = [], set(), [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        out += [str(e), repr(e), repr(e.args), repr(getattr(e, "__dict__", {}))]
        todo += [e.__cause__, e.__context__]
    out.append("".join(traceback.format_exception(exc)))
    return "\n".join(out)


def echo_headers(status=401):
    """A broken proxy: the request headers (token included) in its error page."""
    def script(req):
        return status, f"<html>denied: {req['headers']}</html>".encode(), {}
    return script


def _server(request) -> FakeAPI:
    server = FakeAPI()
    request.addfinalizer(server.close)
    return server


@pytest.fixture
def api(request):
    return _server(request)


@pytest.fixture
def other(request):
    """A second server: another host:port to be redirected to."""
    return _server(request)


def source(api, **kw) -> PrometheusSource:
    kw.setdefault("token", TOKEN + "\n")  # as read from a Kubernetes secret file
    kw.setdefault("headers", {"X-Api-Key": API_KEY})
    kw.setdefault("tenant", "team-a")
    kw.setdefault("deadline", 30)
    kw.setdefault("retries", 2)
    return PrometheusSource(api.url, **kw)


def _cut_at_excerpt(req):  # the token straddles the 160-character cut of the excerpt
    auth = req["headers"]["Authorization"]
    return 401, ("x" * (150 - len("Bearer ")) + auth + " tail").encode(), {}


def _redirect(to):
    return lambda req: (307, b"", {"Location": to})


# Each path: (name, server setup, call, expected error class or None).
def _paths(api, other):
    here = f"{api.url}/api/v1/query"
    return [
        ("echo 401", lambda: setattr(api, "script", echo_headers()), None, PrometheusError),
        ("echo straddling the excerpt cut",
         lambda: setattr(api, "script", _cut_at_excerpt), None, PrometheusError),
        ("echo 502 then retries", lambda: setattr(api, "script", echo_headers(502)),
         None, PrometheusUnavailable),
        ("echo 503 proxy page", lambda: setattr(api, "script", echo_headers(503)),
         None, PrometheusUnavailable),
        ("echo 504", lambda: setattr(api, "script", echo_headers(504)), None,
         PrometheusTimeout),
        ("API error quoting the token",
         lambda: setattr(api, "script", [err(400, "bad_data", f"bad {TOKEN} {API_KEY}")]),
         None, PrometheusError),
        ("503 timeout quoting the token",
         lambda: setattr(api, "script", [err(503, "timeout", f"slow {TOKEN}")]),
         None, PrometheusTimeout),
        ("429 quoting the token",
         lambda: setattr(api, "script", [(429, f"slow down {TOKEN}".encode(), {})]),
         None, PrometheusUnavailable),
        ("bad JSON shape quoting the token",
         lambda: setattr(api, "script", [(200, f'{{"oops": "{TOKEN}"}}'.encode(), {})]),
         None, PrometheusError),
        ("warnings quoting the token (strict)",
         lambda: setattr(api, "script", [ok("vector", [], warnings=[f"w {TOKEN}"])]),
         {"strict": True}, PrometheusError),
        ("warnings quoting the token (logged)",
         lambda: setattr(api, "script", [ok("vector", [], warnings=[f"w {TOKEN}"])]),
         None, None),
        ("stalled body", lambda: (setattr(api, "stall", 1.0),
                                  setattr(api, "script", echo_headers(200))),
         {"timeout": 0.3}, PrometheusTimeout),
        ("no answer", lambda: setattr(api, "delay", 1.0), {"timeout": 0.3},
         PrometheusTimeout),
        ("bad gzip body",
         lambda: setattr(api, "script", [(200, b"\x1f\x8bnot gzip " + TOKEN.encode(),
                                          {"Content-Encoding": "gzip"})]),
         None, PrometheusError),
        ("truncated gzip body",
         lambda: setattr(api, "script", [(200, gzip.compress(TOKEN.encode() * 50)[:40],
                                          {"Content-Encoding": "gzip"})]),
         None, PrometheusError),
        ("redirect loop", lambda: setattr(api, "script", _redirect(here)), None,
         PrometheusError),
        ("redirect to ftp", lambda: setattr(api, "script", _redirect(f"ftp://x/{TOKEN}")),
         None, PrometheusError),
        ("redirect to another host that echoes",
         lambda: (setattr(api, "script", _redirect(f"{other.url}/api/v1/query")),
                  setattr(other, "script", echo_headers())), None, PrometheusError),
    ]


def _run(src, expected):
    try:
        src.evaluate("up", 0)
    except SpecAnalysisError as exc:
        assert expected is not None and isinstance(exc, expected), repr(exc)
        return exc
    assert expected is None
    return None


@pytest.mark.parametrize("level", LEVELS, ids=logging.getLevelName)
def test_token_never_leaves_through_any_error_path_or_log_level(api, other, caplog,
                                                                capsys, level):
    caplog.set_level(level)  # root logger: ours, requests', urllib3's records
    names = []
    for name, setup, kwargs, expected in _paths(api, other):
        api.script, api.delay, api.stall = [ok()], 0.0, 0.0
        other.script = [ok()]
        setup()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            src = source(api, **(kwargs or {}))
            exc = _run(src, expected)
        text = "\n".join([chain_text(exc) if exc else "", caplog.text,
                          *(str(w.message) for w in caught), repr(src), str(src),
                          repr(vars(src))])
        out = capsys.readouterr()
        text += out.out + out.err
        assert leaks(text) == [], (name, leaks(text), text[:2000])
        if exc is not None:  # nothing of the transport travels with the error
            assert exc.__cause__ is None and exc.__context__ is None, name
        names.append(name)
    assert len(names) == 18
    if level <= logging.INFO:
        assert "retry" in caplog.text  # the retry lines were written, masked
    if level <= logging.WARNING:
        assert "warning(s)" in caplog.text


def test_unreachable_and_bad_urls_do_not_echo_secrets(caplog):
    caplog.set_level(logging.DEBUG)
    url = f"http://alice:{PASSWORD}@127.0.0.1:{free_port()}"
    src = PrometheusSource(url, token=TOKEN, retries=1, deadline=5)
    with pytest.raises(PrometheusUnavailable) as info:
        src.evaluate("up", 0)
    assert leaks(chain_text(info.value) + caplog.text + repr(src)) == []
    for bad in (f"http://alice:{PASSWORD}@127.0.0.1:99999",
                f"http://alice:{PASSWORD}@[::1", "http://[::1"):
        with pytest.raises(SpecAnalysisError) as info:
            PrometheusSource(bad, token=TOKEN)
        assert leaks(chain_text(info.value)) == [], bad


@pytest.mark.parametrize("token", [TOKEN + "\x00x", "Zq7Kx9\nWv3Lm2Rt8Yp4Hn6Dc",
                                   TOKEN + "\u00e9", "\x7f" + TOKEN])
def test_token_with_control_characters_is_refused_without_echo(token):
    with pytest.raises(SpecAnalysisError) as info:
        PrometheusSource("http://127.0.0.1:9", token=token)
    assert info.value.field == "token"
    assert leaks(chain_text(info.value)) == []
    with pytest.raises(SpecAnalysisError) as info:
        PrometheusSource("http://127.0.0.1:9", headers={"X-Api-Key": API_KEY + "\r\nX: y"})
    assert leaks(chain_text(info.value)) == []


def test_token_with_trailing_newline_is_sent_stripped(api):
    api.script = [ok("vector", [])]
    source(api).evaluate("up", 0)
    assert api.requests[0]["headers"]["Authorization"] == f"Bearer {TOKEN}"


def test_secret_headers_and_tenant_do_not_follow_a_redirect_to_another_host(api, other):
    api.script = _redirect(f"{other.url}/api/v1/query")
    other.script = [ok("vector", [{"metric": {}, "value": [1, "5"]}])]
    frame = source(api).evaluate("up", 1)
    assert frame["value"].to_list() == [5.0]
    first, (moved,) = api.requests[0]["headers"], other.requests
    assert first["Authorization"] == f"Bearer {TOKEN}" and first["X-Api-Key"] == API_KEY
    assert first["X-Scope-OrgID"] == "team-a"
    for name in ("Authorization", "X-Api-Key", "X-Scope-OrgID"):
        assert name not in moved["headers"], name
    assert moved["form"]["query"] == "up"  # the POST form is re-sent


def test_same_host_redirect_keeps_credentials(api):
    api.script = lambda req: ((307, b"", {"Location": "/moved/api/v1/query"})
                              if req["path"] == "/api/v1/query"
                              else ok("vector", [])[:2] + ({},))
    source(api).evaluate("up", 0)
    assert [r["path"] for r in api.requests] == ["/api/v1/query", "/moved/api/v1/query"]
    assert api.requests[1]["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert api.requests[1]["headers"]["X-Api-Key"] == API_KEY


def test_prometheus_api_client_session_follows_redirects(api):
    from prometheus_api_client import PrometheusConnect

    client = PrometheusConnect(url=api.url, disable_ssl=True)
    api.script = lambda req: ((307, b"", {"Location": "/v2/api/v1/query"})
                              if req["path"] == "/api/v1/query"
                              else ok("vector", [{"metric": {}, "value": [1, "2"]}]))
    assert PrometheusSource(client).evaluate("up", 1)["value"].to_list() == [2.0]


def test_mask_runs_before_truncation_and_catches_fragments():
    register_secret(TOKEN)
    text = "y" * 155 + TOKEN
    assert leaks(mask(text)[:160]) == []
    assert mask(f"echo {TOKEN[:9]} and {TOKEN[-7:]}") == "echo *** and ***"
    assert mask("nothing here") == "nothing here"


def _cli(args, env_extra, server):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
           **env_extra}
    return subprocess.run([sys.executable, "-m", "specanalysis", *args], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("status", [401, 502, 504])
def test_cli_never_prints_the_token(api, status):
    api.script = echo_headers(status)
    env = {"SPECANALYSIS_PROMETHEUS_TOKEN": TOKEN + "\n"}
    proc = _cli(["profile", "--prometheus", api.url, "--deadline", "2", "--at", "100000"],
                env, api)
    assert proc.returncode in (3, 4), proc.stderr
    assert leaks(proc.stdout + proc.stderr) == [], proc.stderr
    assert api.requests[0]["headers"]["Authorization"] == f"Bearer {TOKEN}"


def test_cli_refuses_a_token_with_control_characters_without_echo(api):
    proc = _cli(["profile", "--prometheus", api.url],
                {"SPECANALYSIS_PROMETHEUS_TOKEN": "Zq7Kx9\x01Wv3Lm2Rt8Yp4Hn6Dc"}, api)
    assert proc.returncode == 2, proc.stderr
    assert "token" in proc.stderr and leaks(proc.stdout + proc.stderr) == []
    assert api.requests == []
