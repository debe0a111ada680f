"""The TCC tab in a real browser: align a bundled pair, see the synced video, the plots and tau."""
from __future__ import annotations

import os

from tests.browser.conftest import assert_no_error, open_tab, screenshot


def test_tcc_aligns_a_bundled_pair(page, app_url, tmp_path):
    page.goto(app_url)
    page.get_by_text("Self-supervised and multimodal video learning").wait_for(timeout=60_000)
    open_tab(page, "TCC alignment")
    # the first bundled pair (one row of the examples table) fills both video inputs
    page.locator("#tcc-examples [data-testid='dataset-cell-0-0']").click()
    page.locator("#tcc-video-b video").wait_for(timeout=30_000)
    page.locator("#tcc-align").click()
    summary = page.locator("#tcc-summary")
    summary.get_by_text("Kendall's tau").wait_for(timeout=60_000)
    page.locator("#tcc-synced video").wait_for(timeout=60_000)
    page.locator("#tcc-similarity").locator("img, svg, canvas").first.wait_for(timeout=60_000)
    assert "Answered by" in summary.inner_text()
    assert_no_error(page)
    shot = screenshot(page, "tab-tcc-aligned.png", tmp_path)
    assert os.path.getsize(shot) > 20_000
