"""Fixtures for the official-client compatibility tests.

The sandbox binary is not built here: its path comes from ``RISKFLOW_SANDBOX_BIN``
(e.g. ``target/debug/riskflow-sandbox`` after ``cargo build -p riskflow-sandbox``). One
sandbox process serves the whole test session on a free loopback port with ``--seed-demo``;
tests that change state call the ``fresh_demo`` fixture, which resets and reseeds it.
"""

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest

# Demo data (sandbox/src/demo.rs, sandbox/src/lib.rs `creds`).
INCYDR_CLIENT_ID = "key-demo"
INCYDR_CLIENT_SECRET = "secret-demo"
JIRA_EMAIL = "demo@example.com"
JIRA_API_TOKEN = "jira-demo-token"
DEPARTING_EMAIL = "departing.dev@example.com"
DEPARTING_ACTOR_ID = "9f3b7c1e-2d4a-4e6b-8c0d-1a2b3c4d5e01"
DEPARTING_SESSION_ID = "5e55-demo-departing-0001"
DEPARTING_WATCHLIST_ID = "1c7dd799-1aa0-4f3a-bae8-1d3242fc2af6"

STARTUP_TIMEOUT_S = 30.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Sandbox:
    url: str  # http://127.0.0.1:PORT (the root; Incydr answers here)
    process: subprocess.Popen
    log_path: str

    def control(self, method: str, path: str, body=None):
        """Call the sandbox's /_control API; returns the decoded JSON body (or None)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.url}/_control{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data is not None else {},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()


def _wait_healthy(url: str, proc: subprocess.Popen) -> bool:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{url}/_control/health", timeout=1) as resp:
                if resp.status == 200 and json.loads(resp.read()).get("ok") is True:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
            pass
        time.sleep(0.05)
    return False


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()  # SIGTERM to this one process (the sandbox we started)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory) -> Sandbox:
    binary = os.environ.get("RISKFLOW_SANDBOX_BIN")
    if not binary:
        pytest.fail(
            "RISKFLOW_SANDBOX_BIN is not set: build the sandbox "
            "(cargo build -p riskflow-sandbox) and point it at target/debug/riskflow-sandbox",
            pytrace=False,
        )
    binary = os.path.abspath(binary)  # the sandbox runs in its own working directory
    if not os.access(binary, os.X_OK):
        pytest.fail(f"RISKFLOW_SANDBOX_BIN={binary!r} is not an executable file", pytrace=False)

    workdir = tmp_path_factory.mktemp("sandbox")
    # The port is free when chosen but could be taken before the sandbox binds it: retry.
    for attempt in range(3):
        port = _free_port()
        log_path = str(workdir / f"sandbox-{attempt}.log")
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(port),
                    "--seed-demo",
                    "--cert-dir",
                    str(workdir / "certs"),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=workdir,
                env={**os.environ, "RUST_LOG": "warn"},
            )
        url = f"http://127.0.0.1:{port}"
        if _wait_healthy(url, proc):
            box = Sandbox(url=url, process=proc, log_path=log_path)
            try:
                yield box
            finally:
                _stop(proc)
            return
        _stop(proc)
    with open(log_path, encoding="utf-8", errors="replace") as f:
        output = f.read()
    pytest.fail(f"the sandbox did not become healthy; its output:\n{output}", pytrace=False)


@pytest.fixture
def fresh_demo(sandbox: Sandbox) -> Sandbox:
    """The sandbox with only the demo data set (state left by earlier tests removed)."""
    sandbox.control("POST", "/reset")
    sandbox.control("POST", "/seed-demo", {})
    return sandbox
