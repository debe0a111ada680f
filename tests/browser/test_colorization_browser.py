"""Colorization tracking in a real browser: pick a bundled example, propagate its mask, see the results."""
from __future__ import annotations

import os

from tests.browser.conftest import assert_no_error, open_tab, screenshot


def test_colorization_propagates_an_example_mask(page, app_url, tmp_path):
    page.goto(app_url)
    page.get_by_text("Self-supervised and multimodal video learning").wait_for(timeout=60_000)
    open_tab(page, "Colorization tracking")
    page.get_by_text("hard held-out sprite video", exact=False).first.click()
    page.wait_for_timeout(1500)
    page.locator("#colorization-run").click()
    summary = page.locator("#colorization-summary")
    summary.get_by_text("Mean J against the true masks", exact=False).wait_for(timeout=120_000)
    assert "Answered" in summary.inner_text()
    page.locator("#colorization-track video").first.wait_for(state="attached", timeout=60_000)
    src = page.locator("#colorization-track video").first.get_attribute("src")
    assert src, "the tracked clip has no source"
    page.wait_for_timeout(500)
    assert_no_error(page)
    shot = screenshot(page, "colorization.png", tmp_path)
    assert os.path.getsize(shot) > 10_000
