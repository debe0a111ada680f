"""The Sound localization tab in a real browser: localize the default bundled clip, see the result."""
from __future__ import annotations

import os

from tests.browser.conftest import assert_no_error, open_tab, screenshot


def test_sound_localization_localizes_a_bundled_clip(page, app_url, tmp_path):
    page.goto(app_url)
    page.get_by_text("Self-supervised and multimodal video learning").wait_for(timeout=60_000)
    open_tab(page, "Sound localization")
    page.locator("#sound_localization-run").click()
    verdict = page.locator("#sound_localization-verdict")
    verdict.get_by_text("Answered").wait_for(timeout=60_000)
    assert "does its own sound belong to this frame" in verdict.inner_text()
    page.locator("#sound_localization-overlay video").wait_for(timeout=60_000)
    page.locator("#sound_localization-still img").wait_for(timeout=60_000)
    assert_no_error(page)
    # swap the sound for silence: the model should now say no
    page.locator("#sound_localization-sound").get_by_text("silence").click()
    page.wait_for_timeout(1000)                 # the new choice clears the old answer first: click after it
    page.locator("#sound_localization-run").click()
    page.get_by_text("does silence belong to this frame").wait_for(timeout=60_000)
    assert_no_error(page)
    shot = screenshot(page, "tab-sound-localization-result.png", tmp_path)
    assert os.path.getsize(shot) > 10_000
