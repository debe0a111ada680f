"""The Jigsaw tab in a real browser: pick a bundled photo, solve its puzzle, see the reassembly."""
from __future__ import annotations

import os

from tests.browser.conftest import assert_no_error, open_tab, screenshot


def test_jigsaw_solves_a_bundled_example(page, app_url, tmp_path):
    page.goto(app_url)
    page.get_by_text("Self-supervised and multimodal video learning").wait_for(timeout=60_000)
    open_tab(page, "Jigsaw")
    page.get_by_text("Bundled photos (never trained on)").wait_for(timeout=30_000)
    # the cat example: gr.Examples shows a thumbnail per photo; the 2nd example in sorted order
    examples = page.locator("#jigsaw-input").locator("xpath=ancestor::div[contains(@class,'column')][1]")
    thumbs = examples.locator("button.gallery-item, .gallery button, table button")
    if thumbs.count():
        thumbs.nth(1).click()
        page.wait_for_timeout(1000)
    page.locator("#jigsaw-solve").click()
    result = page.locator("#jigsaw-result img")
    result.wait_for(state="visible", timeout=60_000)
    page.locator("#jigsaw-verdict").get_by_text("Answered").wait_for(timeout=60_000)
    assert result.evaluate("img => img.naturalWidth") > 100
    assert page.locator("#jigsaw-puzzle img").is_visible()
    assert page.locator("#jigsaw-bars").locator("img, svg, canvas").count() > 0
    assert_no_error(page)
    shot = screenshot(page, "screenshot.png", tmp_path)     # the README picture (SSL_LAB_SCREENSHOTS=docs)
    assert os.path.getsize(shot) > 10_000
