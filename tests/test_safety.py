"""Safety: no outbound network, no files served from outside what the app hands out, weights as data only."""
from __future__ import annotations

import ast
import glob
import os
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.conftest import ROOT, free_port, start_app, wait_http


@pytest.fixture(scope="module")
def guarded_app(tmp_path_factory):
    """The app started with every non-loopback connection recorded and refused."""
    log = tmp_path_factory.mktemp("net") / "attempts.log"
    log.write_text("")
    port = free_port()
    env = {"PYTHONPATH": os.path.join(ROOT, "tests", "netguard") + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "SSL_LAB_NETLOG": str(log)}
    proc = start_app(port, "--device", "cpu", env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_http(url, timeout=180, proc=proc)
        yield url, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as err:
        return err.code


def test_no_outbound_connection_at_start_or_on_use(guarded_app):
    url, log = guarded_app
    from gradio_client import Client
    client = Client(url, verbose=False)
    info = client.view_api(print_info=False, return_format="dict")
    assert isinstance(info, dict)
    assert status_of(url + "gradio_api/info") == 200
    attempts = log.read_text().strip()
    assert attempts == "", f"the app tried to reach the network:\n{attempts}"


@pytest.mark.parametrize("target", [
    "README.md", os.path.join(ROOT, "README.md"), os.path.join(ROOT, "app.py"), "../README.md",
    "/etc/passwd", os.path.join(ROOT, "assets", "models", "..", "..", "README.md"),
])
def test_file_route_refuses_files_outside_what_the_app_serves(guarded_app, target):
    url, _ = guarded_app
    code = status_of(url + "gradio_api/file=" + urllib.parse.quote(target))
    assert code in (400, 403, 404), f"{target} was served ({code})"


def test_weights_are_loaded_as_data_only():
    """Every torch.load in the project passes weights_only=True."""
    calls = []
    for path in glob.glob(os.path.join(ROOT, "**", "*.py"), recursive=True):
        if "/data/" in path:
            continue
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "load" \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "torch":
                ok = any(k.arg == "weights_only" and isinstance(k.value, ast.Constant) and k.value.value is True
                         for k in node.keywords)
                calls.append((os.path.relpath(path, ROOT), node.lineno, ok))
    assert calls, "expected at least the checkpoint loader"
    assert all(ok for *_, ok in calls), [c for c in calls if not c[2]]
