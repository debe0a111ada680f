"""core.sources' real-media tables: every source has one split, so whole sources stay held out (offline)."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from core import sources

real_clips_mod = sys.modules["core.real_clips"]   # sources imports it (a direct import first would cycle)


def _splits(rows):
    seen = {}
    for package, split in rows:
        seen.setdefault(package, set()).add(split)
    return seen


def test_real_clips_hold_out_whole_sources_and_reach_thirty_train_clips_from_ten_sources():
    seen = _splits((e[0], e[5]) for e in sources.REAL_CLIPS.values())
    assert all(len(s) == 1 for s in seen.values()), seen
    assert all(e[5] in ("train", "held_out") and e[4] for e in sources.REAL_CLIPS.values())   # a licence each
    train = [n for n, e in sources.REAL_CLIPS.items() if e[5] == "train"]
    bundled = [c for c in sources.manifest()["clips"] if c["split"] == "train" and c["name"] != "bunny"]
    packages = {sources.REAL_CLIPS[n][0] for n in train} | {c["package"] for c in bundled}
    assert len(train) + len(bundled) >= 30 and len(packages) >= 10
    held = {sources.REAL_CLIPS[n][0] for n in sources.REAL_CLIPS if sources.REAL_CLIPS[n][5] == "held_out"}
    assert not held & packages                       # no training pool reads a held-out package


def test_sound_localization_sources_hold_out_whole_packages():
    rows = [(v[0], v[4]) for v in sources.AV_VIDEOS.values()] + [(v[0], v[3]) for v in sources.FACES.values()]
    rows += [(k, v[2]) for k, v in sources.SPEECH.items()] + [(k, v[2]) for k, v in sources.SOUNDING.items()]
    seen = _splits(rows)
    assert all(len(s) == 1 for s in seen.values()), seen
    # GCompris is the one package read by both: its instruments activity (recordings only) trains, its farm
    # animals activity (photos with recordings) is held out
    assert set(sources.EXTRA_SOUNDS) == {"gcompris-qt-data"} and sources.SOUNDING["gcompris-qt-data"][2] == "held_out"


def test_brace_patterns_expand():
    assert sources._braces("a/{b,c}.jpg") == ["a/b.jpg", "a/c.jpg"] and sources._braces("x") == ["x"]


@pytest.mark.skipif(not os.path.isdir(os.path.join(sources.SOURCES, "visp-images-data")),
                    reason="real clips not fetched: python scripts/fetch_media.py")
def test_an_image_sequence_clip_reads_as_frames():
    frames = sources.real_clip("line")
    assert frames.ndim == 4 and frames.shape[-1] == 3 and frames.dtype == np.uint8 and len(frames) == 33


def test_chroma_tells_grey_footage_from_colour():
    grey = np.repeat(np.random.default_rng(0).integers(0, 256, (4, 8, 8, 1), dtype=np.uint8), 3, axis=-1)
    colour = grey.copy()
    colour[..., 0] = 255 - colour[..., 0]
    assert real_clips_mod.chroma(grey) == 0.0
    assert real_clips_mod.chroma(colour) > 20


def test_colour_clips_drop_grey_footage(monkeypatch):
    grey = np.full((9, 8, 8, 3), 100, np.uint8)
    colour = grey.copy()
    colour[..., 2] = 200
    monkeypatch.setattr(real_clips_mod, "real_clips", lambda split="train": {"grey": grey, "colour": colour})
    assert list(real_clips_mod.colour_clips("train")) == ["colour"]
