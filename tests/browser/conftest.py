"""Browser tests: headless Debian Chromium driven by pytest-playwright.

Where /usr/bin/chromium is absent the tests skip with a reason that says how to
install it; under CI (SSL_LAB_REQUIRE_BROWSER=1, set by .ci/run) a missing
browser fails the run instead. Never run `playwright install`: it downloads a
browser, which this project does not do.
"""
from __future__ import annotations

import os
import re

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--no-first-run",
        "--disable-sync", "--disable-quic"]
SCREENSHOTS = os.environ.get("SSL_LAB_SCREENSHOTS")   # a folder to keep screenshots in (e.g. docs)


def pytest_collection_modifyitems(config, items):
    if os.path.exists(CHROMIUM):
        return
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM}: install Debian's with "
                                   "`apt-get install -y chromium` (never `playwright install`)")
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI a skipped browser test is a failed one: the browser must be there."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("SSL_LAB_REQUIRE_BROWSER") == "1" and "tests/browser" in str(item.fspath):
        report.outcome = "failed"
        report.longrepr = f"browser test skipped under CI (SSL_LAB_REQUIRE_BROWSER=1): {report.longrepr}"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True, "args": ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}}


def open_tab(page, title: str) -> None:
    """Click the tab button named `title` and wait until its panel shows."""
    page.get_by_role("tab", name=re.compile(rf"^{re.escape(title)}$")).click()
    page.wait_for_timeout(300)


def assert_no_error(page) -> None:
    """Fail when gradio shows an error toast or an error in an output."""
    toasts = page.locator(".toast-body.error, .toast-wrap .error")
    if toasts.count():
        raise AssertionError("the app shows an error: " + " | ".join(toasts.all_inner_texts()))
    errors = page.locator(".error:visible").filter(has_text=re.compile("Error", re.I))
    if errors.count():
        raise AssertionError("the app shows an error: " + " | ".join(errors.all_inner_texts()))


def screenshot(page, name: str, tmp_path) -> str:
    """Save a full-page screenshot in tmp_path (and in $SSL_LAB_SCREENSHOTS when set)."""
    path = os.path.join(str(tmp_path), name)
    page.screenshot(path=path, full_page=True)
    if SCREENSHOTS:
        os.makedirs(SCREENSHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SCREENSHOTS, name), full_page=True)
    return path
