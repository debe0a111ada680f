"""The whole app in a real browser: every tab opens without an error."""
from __future__ import annotations

import os

from app import TABS
from tests.browser.conftest import assert_no_error, open_tab, screenshot


def test_every_tab_opens(page, app_url, tmp_path):
    page.goto(app_url)
    page.get_by_text("Self-supervised and multimodal video learning").wait_for(timeout=60_000)
    shot = screenshot(page, "overview.png", tmp_path)
    assert os.path.getsize(shot) > 10_000
    assert_no_error(page)
    for _, title, _ in TABS:
        open_tab(page, title)
        page.wait_for_timeout(500)
        assert_no_error(page)
        screenshot(page, f"tab-{title.lower().replace(' ', '-')}.png", tmp_path)
    open_tab(page, "Overview")
    assert page.get_by_text("The map of the lecture").is_visible()
