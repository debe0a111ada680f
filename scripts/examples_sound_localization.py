"""Write the Sound localization tab's generated examples to assets/examples/sound_localization/.

Each clip is a still audio-visual scene (core.synthetic.av_scene, three objects)
whose sounding object changes every second, with one silent second: the
heatmap should jump from object to object and fade in the silence. Seeds are
above the training range (training draws seeds below 1e9), so these scenes are
held out. Deterministic; the clips are a few tens of kB each.

    python scripts/examples_sound_localization.py
"""
from __future__ import annotations

import json
import os
import shutil
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from core import sources, media  # noqa: E402
from core import sound_localization as sl  # noqa: E402

OUT = os.path.join(ROOT, "assets", "examples", "sound_localization")

# name, seed, bundled held-out photo for the background (None: procedural), silent seconds, seconds
EXAMPLES = [
    ("three_objects", sl.EVAL_SEED + 5_000_001, None, (3,), 5),
    ("photo_background", sl.EVAL_SEED + 5_000_002, "coffee", (4,), 5),
    ("switching_sounds", sl.EVAL_SEED + 5_000_007, None, (), 6),
]
SIZE = 160


def background(photo: str | None) -> np.ndarray | None:
    if photo is None:
        return None
    img = sources.load_photo(photo)
    h, w = img.shape[:2]
    s = min(h, w)
    return media.resize_image(np.ascontiguousarray(img[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]),
                              (SIZE, SIZE))


def main() -> int:
    os.makedirs(OUT, exist_ok=True)
    meta = []
    for name, seed, photo, silent, seconds in EXAMPLES:
        frames, fps, audio, masks, names = sl.scene_clip(seed, seconds, SIZE, background(photo),
                                                         silent_seconds=silent)
        tmp = media.save_video(frames, fps, audio, sl.SAMPLE_RATE, name=f"{name}.mp4")
        dst = os.path.join(OUT, f"{name}.mp4")
        shutil.copyfile(tmp, dst)
        meta.append(dict(name=name, file=f"sound_localization/{name}.mp4", seed=seed, photo=photo,
                         seconds=seconds, silent_seconds=list(silent), size=SIZE,
                         sounding_per_second=names, bytes=os.path.getsize(dst)))
        print(f"{dst}: {os.path.getsize(dst) / 1e3:.0f} kB, sounds per second: {names}")
    with open(os.path.join(OUT, "examples.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
