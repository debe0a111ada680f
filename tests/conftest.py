"""Shared fixtures: a running app on a free loopback port, and quiet, offline defaults."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.load import free_port, wait_http  # noqa: E402,F401  (one copy of the server helpers; stdlib only)

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


def run_coroutine(coro):
    """asyncio.run on a thread of its own: after the browser tests a loop is already running in this one."""
    import asyncio
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def start_app(port: int, *extra: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port), *extra],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})})


@pytest.fixture(scope="session")
def app_url():
    """The whole app, started once per test session as `python app.py` on a free port."""
    port = free_port()
    proc = start_app(port, "--device", "cpu")
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_http(url, timeout=180, proc=proc)
    except Exception:
        proc.kill()
        out = proc.stdout.read() if proc.stdout else ""
        pytest.fail(f"app did not start:\n{out[-4000:]}")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
