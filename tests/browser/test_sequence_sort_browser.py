"""The Sequence sort tab in a real browser: sort a bundled clip, ask the verification question."""
from __future__ import annotations

import os

from tests.browser.conftest import assert_no_error, open_tab, screenshot


def test_sort_a_bundled_clip(page, app_url, tmp_path):
    page.goto(app_url)
    page.get_by_text("Self-supervised and multimodal video learning").wait_for(timeout=60_000)
    open_tab(page, "Sequence sort")
    page.locator("#sequence_sort-sort").click()
    verdict = page.locator("#sequence_sort-verdict")
    verdict.get_by_text("A B C D show frames").wait_for(timeout=60_000)
    text = verdict.inner_text()
    assert "Right" in text or "Wrong" in text
    assert page.locator("#sequence_sort-shuffled img").count() == 1
    assert page.locator("#sequence_sort-answer img").count() == 1
    assert_no_error(page)
    page.locator("#sequence_sort-verify").click()
    page.locator("#sequence_sort-vtext").get_by_text("P(in order)").wait_for(timeout=60_000)
    assert_no_error(page)
    shot = screenshot(page, "sequence_sort.png", tmp_path)
    assert os.path.getsize(shot) > 10_000
