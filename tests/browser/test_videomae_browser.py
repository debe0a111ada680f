"""The VideoMAE tab in a real browser: reconstruct the default bundled clip (bikes, held out)."""
from __future__ import annotations

import os

from tests.browser.conftest import assert_no_error, open_tab, screenshot


def test_videomae_reconstructs_a_bundled_clip(page, app_url, tmp_path):
    page.goto(app_url)
    page.get_by_text("Self-supervised and multimodal video learning").wait_for(timeout=60_000)
    open_tab(page, "VideoMAE")
    page.locator("#videomae-run").click()
    report = page.locator("#videomae-report")
    report.get_by_text("PSNR").first.wait_for(timeout=60_000)
    assert "VideoMAE" in report.inner_text() and "dB" in report.inner_text()
    page.locator("#videomae-strip img").first.wait_for(timeout=30_000)
    page.locator("#videomae-video video").first.wait_for(timeout=30_000)
    assert_no_error(page)
    shot = screenshot(page, "tab-videomae-reconstruct.png", tmp_path)
    assert os.path.getsize(shot) > 10_000


def test_videomae_honest_beside_leaking(page, app_url, tmp_path):
    page.goto(app_url)
    page.get_by_text("Self-supervised and multimodal video learning").wait_for(timeout=60_000)
    open_tab(page, "VideoMAE")
    page.locator("#videomae-leak").click()
    report = page.locator("#videomae-leak-report")
    report.get_by_text("The leak is worth").first.wait_for(timeout=90_000)
    assert "honest" in report.inner_text() and "leaking" in report.inner_text()
    page.locator("#videomae-leak-image img").first.wait_for(timeout=30_000)
    assert_no_error(page)
    shot = screenshot(page, "tab-videomae-leak.png", tmp_path)
    assert os.path.getsize(shot) > 10_000
