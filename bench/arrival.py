"""Seconds from opening each tab to its drawn result, on a cold server and a warm one, in Chromium.

    python -m bench.arrival [--device cpu]

Starts `python app.py`, times the cold start (until it answers HTTP), opens the page at once and each
tab in turn (cold: the defaults are still being computed in the background), then reloads and opens
each tab again (warm). Prints one table and writes bench/results/arrival.json.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.browser.conftest import ARGS, CHROMIUM  # noqa: E402
from tests.browser.test_classroom_browser import TABS, TITLE, wait_drawn  # noqa: E402
from tests.conftest import free_port, wait_http  # noqa: E402


def open_each(page) -> dict:
    out = {}
    for key, (title, *_rest) in TABS.items():
        t0 = time.monotonic()
        page.get_by_role("tab", name=re.compile(rf"^{re.escape(title)}$")).click()
        wait_drawn(page, key, 300)
        out[key] = round(time.monotonic() - t0, 2)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright
    port = free_port()
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port), "--device",
                             args.device], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_http(url, timeout=300, proc=proc)
        cold_start = round(time.monotonic() - t0, 2)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(url)
            page.get_by_text(TITLE).wait_for(timeout=120_000)
            cold = open_each(page)
            page.reload()
            page.get_by_text(TITLE).wait_for(timeout=120_000)
            warm = open_each(page)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    result = {"cold_start_s": cold_start, "cold": cold, "warm": warm, "load": os.getloadavg()}
    print(f"cold start (until HTTP): {cold_start} s   load average {result['load'][0]:.1f}")
    print("| tab | open -> drawn, cold server (s) | warm (s) |\n|---|---|---|")
    for key in TABS:
        print(f"| {key} | {cold[key]} | {warm[key]} |")
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "arrival.json"), "w") as f:
        json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
