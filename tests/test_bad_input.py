"""Bad input, tab by tab (issue 9): every odd file a visitor can bring gets a clear answer.

Each tab's main click handler is called in-process (as the server would call it,
with the file path an upload becomes) on inputs generated here in a temporary
folder: an empty file, a text file named .mp4, a truncated video, a one-frame
video, a clip longer than the limit, 4K and tall portrait clips, odd and tiny
sizes, greyscale / RGBA / 16-bit images, sound tracks that are missing, silent,
mono, stereo, 8 kHz or 48 kHz, and two TCC videos of very different lengths.

Each either works, saying in its output what was adapted (trimmed, downscaled),
or raises a gr.Error whose message says what was wrong and what is accepted:
never another exception type (demos.common.friendly turns those into a
generic "Something went wrong", which fails here), never a stack trace. After
the bad inputs each handler still answers its bundled example (no global state
was poisoned). Nothing here needs the git-ignored data/ cache.
"""
from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import wave

import numpy as np
import pytest

gr = pytest.importorskip("gradio")

import app  # noqa: E402
from core import colorization as C  # noqa: E402
from core import common as core_common  # noqa: E402
from core import media  # noqa: E402

TAB_KEYS = [key for key, _, _ in app.TABS if key != "contrastive"]     # the tabs fed a file (contrastive: text)
VIDEO_TABS = [k for k in TAB_KEYS if k != "jigsaw"]
MAIN = {"jigsaw": "jigsaw_solve", "sequence_sort": "sequence_sort_sort", "colorization": "colorization_track",
        "tcc": "tcc_align", "sound_localization": "sound_localization_localize",
        "videomae": "videomae_reconstruct"}

pytestmark = [pytest.mark.filterwarnings("ignore")]     # moviepy warns about the truncated file; we assert instead


# --------------------------------------------------------------------- making bad files (cheap: few, small frames)

def _ffmpeg() -> str:
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


def pattern(t: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """(t, h, w, 3) uint8: a textured background with a bright square moving across it."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([(xx * 255 // max(w - 1, 1)), (yy * 255 // max(h - 1, 1)),
                     np.full((h, w), 90)], -1).astype(np.float32)
    frames = np.repeat(base[None], t, 0)
    side = max(2, min(h, w) // 3)
    for i in range(t):
        x = int((w - side) * i / max(t - 1, 1))
        y = (h - side) // 2
        frames[i, y:y + side, x:x + side] = (240, 240, 60)
    frames += rng.normal(0, 6, frames.shape)
    return np.clip(frames, 0, 255).astype(np.uint8)


def tone(seconds: float, rate: int, channels: int = 1, freq: float = 440.0, amp: float = 0.4) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave_ = amp * np.sin(2 * np.pi * freq * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return np.repeat(wave_[:, None], channels, 1).astype(np.float32)


def write_wav(path, audio: np.ndarray, rate: int) -> str:
    """(N, C) float in [-1, 1] -> 16-bit PCM wav with C channels at `rate`."""
    a = np.asarray(audio, np.float32)
    a = a[:, None] if a.ndim == 1 else a
    with wave.open(str(path), "wb") as f:
        f.setnchannels(a.shape[1])
        f.setsampwidth(2)
        f.setframerate(int(rate))
        f.writeframes((np.clip(a, -1, 1) * 32767).astype("<i2").tobytes())
    return str(path)


def write_video(path, frames: np.ndarray, fps: float, wav: str | None = None, faststart: bool = False) -> str:
    """Encode frames (any size: yuv444p lets odd sides through) and an optional wav track with ffmpeg.

    The wav keeps its own rate and channel count (AAC), as a phone's recording would.
    """
    t, h, w = frames.shape[:3]
    odd = h % 2 or w % 2
    cmd = [_ffmpeg(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
           "-r", str(fps), "-i", "-"]
    if wav:
        cmd += ["-i", wav, "-c:a", "aac", "-b:a", "64k"]
    cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p" if odd else "yuv420p"]
    if wav:
        cmd += ["-shortest"]
    if faststart:                 # index first, as phones and web tools write it: a cut file still plays in part
        cmd += ["-movflags", "+faststart"]
    cmd += [str(path)]
    subprocess.run(cmd, input=np.ascontiguousarray(frames).tobytes(), check=True, capture_output=True, timeout=120)
    return str(path)


def save_png(path, array, mode: str | None = None) -> str:
    from PIL import Image
    Image.fromarray(array, mode=mode).save(path) if mode else Image.fromarray(array).save(path)
    return str(path)


class Files:
    """Bad inputs, made on first use in one temporary folder per module."""

    def __init__(self, root):
        self.root = root
        self.made: dict[str, str] = {}

    def __getattr__(self, name):
        if name.startswith("_") or name in ("root", "made"):
            raise AttributeError(name)
        if name not in self.made:
            self.made[name] = getattr(self, "_" + name)(os.path.join(self.root, name))
        return self.made[name]

    # ---- videos
    def _empty(self, p):
        p += ".mp4"
        open(p, "wb").close()
        return p

    def _text(self, p):
        p += ".mp4"
        with open(p, "w") as f:
            f.write("this is a shopping list, not a video\n" * 40)
        return p

    def _good(self, p):            # 3 s at 10 fps with sound, 96x64, index at the end (ffmpeg's default)
        return write_video(p + ".mp4", pattern(30, 64, 96), 10, write_wav(p + ".wav", tone(3.0, 16000), 16000))

    def _good_faststart(self, p):  # the same with its index first
        return write_video(p + ".mp4", pattern(30, 64, 96), 10, write_wav(p + ".wav", tone(3.0, 16000), 16000),
                           faststart=True)

    def _cut(self, src, p, keep=0.5):
        blob = open(src, "rb").read()
        with open(p + ".mp4", "wb") as f:
            f.write(blob[: int(len(blob) * keep)])
        return p + ".mp4"

    def _truncated(self, p):       # index first, second half gone: the first frames can be decoded
        return self._cut(self.good_faststart, p)

    def _truncated_tail(self, p):  # index at the end and cut off: nothing can be read
        return self._cut(self.good, p)

    def _truncated_big(self, p):   # a cut file that is also downscaled (the decoder runs through a resize)
        return self._cut(write_video(p + "_full.mp4", pattern(20, 240, 400), 10, faststart=True), p)

    def _one_frame(self, p):      # one frame, and a second of sound (the sound tab needs it)
        return write_video(p + ".mp4", pattern(1, 64, 96), 1, write_wav(p + ".wav", tone(1.0, 16000), 16000))

    def _one_frame_30fps(self, p):  # one frame at a phone's rate: shorter than one sampled frame at 15 fps
        return write_video(p + ".mp4", pattern(1, 64, 96), 30)

    def _long(self, p):           # 14 s at 2 fps: past media.MAX_SECONDS (10 s), so it is trimmed
        return write_video(p + ".mp4", pattern(28, 48, 64), 2, write_wav(p + ".wav", tone(14.0, 16000), 16000))

    def _uhd(self, p):            # 3840x2160, 2 s at 2 fps: downscaled to media.MAX_SIDE
        return write_video(p + ".mp4", pattern(4, 2160, 3840), 2, write_wav(p + ".wav", tone(2.0, 16000), 16000))

    def _portrait(self, p):       # a phone held upright: 720x1280
        return write_video(p + ".mp4", pattern(6, 1280, 720), 3, write_wav(p + ".wav", tone(2.0, 16000), 16000))

    def _phone_portrait(self, p):  # how phones store an upright video: landscape pixels + a 90-degree display matrix
        stored = write_video(p + "_stored.mp4", pattern(6, 720, 1280), 3,
                             write_wav(p + ".wav", tone(2.0, 16000), 16000))
        subprocess.run([_ffmpeg(), "-y", "-loglevel", "error", "-display_rotation", "90", "-i", stored, "-c", "copy",
                        p + ".mp4"], check=True, capture_output=True, timeout=60)
        return p + ".mp4"

    def _sliver(self, p):         # 1:40, so downscaling alone would leave 8 pixels: 32x1280
        return write_video(p + ".mp4", pattern(6, 1280, 32), 3, write_wav(p + ".wav", tone(2.0, 16000), 16000))

    def _odd(self, p):            # 17 wide, 33 high
        return write_video(p + ".mp4", pattern(8, 33, 17), 4, write_wav(p + ".wav", tone(2.0, 16000), 16000))

    def _tiny_video(self, p):     # 6x6: no picture to learn from
        return write_video(p + ".mp4", pattern(8, 6, 6), 4, write_wav(p + ".wav", tone(2.0, 16000), 16000))

    def _no_audio(self, p):
        return write_video(p + ".mp4", pattern(12, 64, 96), 6)

    def _silent_audio(self, p):
        return write_video(p + ".mp4", pattern(12, 64, 96), 6, write_wav(p + ".wav", np.zeros((32000, 1)), 16000))

    def _mono_8k(self, p):
        return write_video(p + ".mp4", pattern(12, 64, 96), 6, write_wav(p + ".wav", tone(2.0, 8000, 1), 8000))

    def _stereo_48k(self, p):
        return write_video(p + ".mp4", pattern(12, 64, 96), 6, write_wav(p + ".wav", tone(2.0, 48000, 2), 48000))

    def _stereo_8k(self, p):
        return write_video(p + ".mp4", pattern(12, 64, 96), 6, write_wav(p + ".wav", tone(2.0, 8000, 2), 8000))

    def _mono_48k(self, p):
        return write_video(p + ".mp4", pattern(12, 64, 96), 6, write_wav(p + ".wav", tone(2.0, 48000, 1), 48000))

    def _two_frames(self, p):     # the TCC pair: 2 frames against 200 (past its 150-frame cap)
        return write_video(p + ".mp4", pattern(2, 48, 48, seed=1), 2)

    def _many_frames(self, p):
        return write_video(p + ".mp4", pattern(200, 48, 48, seed=2), 15)

    def _image_as_video(self, p):  # a photo renamed .mp4 (ffmpeg reads a png as a one-frame stream)
        shutil.copy(self.rgb_png, p + ".mp4")
        return p + ".mp4"

    # ---- images
    def _empty_png(self, p):
        open(p + ".png", "wb").close()
        return p + ".png"

    def _text_png(self, p):
        with open(p + ".png", "w") as f:
            f.write("not a picture\n" * 20)
        return p + ".png"

    def _truncated_jpg(self, p):
        from PIL import Image
        Image.fromarray(pattern(1, 120, 160)[0]).save(p + "_full.jpg", quality=90)
        blob = open(p + "_full.jpg", "rb").read()
        with open(p + ".jpg", "wb") as f:
            f.write(blob[: len(blob) // 3])
        return p + ".jpg"

    def _rgb_png(self, p):
        return save_png(p + ".png", pattern(1, 90, 120)[0])

    def _grey_png(self, p):
        return save_png(p + ".png", pattern(1, 90, 120)[0, ..., 0], "L")

    def _rgba_png(self, p):
        a = np.concatenate([pattern(1, 90, 120)[0], np.full((90, 120, 1), 128, np.uint8)], -1)
        a[:, :30, 3] = 0                                                # a transparent band
        return save_png(p + ".png", a, "RGBA")

    def _png16(self, p):
        from PIL import Image
        a = (pattern(1, 90, 120)[0, ..., 1].astype(np.uint16) * 257)
        Image.fromarray(a).save(p + ".png")                              # mode I;16
        return p + ".png"

    def _tiny_png(self, p):
        return save_png(p + ".png", pattern(1, 8, 8)[0])

    def _odd_png(self, p):
        return save_png(p + ".png", pattern(1, 33, 17)[0])

    def _uhd_png(self, p):
        return save_png(p + ".png", pattern(1, 2160, 3840)[0])

    def _portrait_png(self, p):
        return save_png(p + ".png", pattern(1, 1280, 720)[0])

    def _video_as_image(self, p):
        shutil.copy(self.no_audio, p + ".png")
        return p + ".png"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return Files(str(tmp_path_factory.mktemp("bad_input")))


# --------------------------------------------------------------------- the tabs, built once, handlers by api_name

@pytest.fixture(scope="module")
def tabs():
    """api_name -> handler for every tab in app.TABS (each built in its own Blocks, as app.build_app does)."""
    core_common.torch.set_num_threads(1)
    built: dict[str, dict] = {}

    def get(key):
        if key not in built:
            module = dict((k, m) for k, _, m in app.TABS)[key]
            with gr.Blocks() as demo:
                importlib.import_module(module).build("cpu")
            fns = demo.fns.values() if hasattr(demo.fns, "values") else demo.fns
            built[key] = {f.api_name: f.fn for f in fns if f.api_name}
        return built[key]
    return get


def good_input(key):
    """The tab's bundled default example (the input its UI starts with)."""
    mod = importlib.import_module(f"demos.{key}")
    if key == "jigsaw":
        return os.path.join(core_common.ROOT, "assets", "examples", "photos", "astronaut.jpg")
    if key == "sequence_sort":
        return mod.examples()[0][0]
    if key == "colorization":
        return mod.common.example_file(mod._examples()[0]["video"])
    if key == "tcc":
        return mod.example_pairs()[0][0]
    if key == "sound_localization":
        return next(iter(mod.example_clips().values()))
    if key == "videomae":
        return mod.vm_examples()[0][0]
    raise KeyError(key)


def first_mask() -> np.ndarray:
    """A first-frame mask picture for the colorization tab: one object in the middle (resized to any frame)."""
    m = np.zeros((32, 32, 3), np.uint8)
    m[10:22, 10:22] = C.PALETTE[1]
    return m


def run_tab(key, h, inp, other=None, sound=None) -> str:
    """Call the tab's main handler on `inp` like its button does; returns the output text that holds notes."""
    fn = h[MAIN[key]]
    if key == "jigsaw":
        out = fn(inp, 7, False, None)
        assert len(out) == 6 and out[1].ndim == 3 and out[1].dtype == np.uint8
        return out[4]
    if key == "sequence_sort":
        out = fn(inp, "auto", "random", 0, None)
        assert len(out) == 6 and out[1].ndim == 3
        return out[5]
    if key == "colorization":
        out = fn(inp, first_mask(), None, "", 12, None)
        assert len(out) == 10 and os.path.getsize(out[1]) > 0 and os.path.getsize(out[2]) > 0
        return out[0]
    if key == "tcc":
        out = fn(inp, other or good_input("tcc"), "", None)
        assert len(out) == 12 and os.path.getsize(out[0]) > 0
        return out[3]
    if key == "sound_localization":
        tab = importlib.import_module("demos.sound_localization")
        other_name = next(iter(tab.example_clips()))
        out = fn(inp, sound or tab.OWN, other_name, 0.5, tab.SHIPPED, None)
        assert len(out) == 5 and os.path.getsize(out[0]) > 0 and out[2].ndim == 3
        return out[1]
    if key == "videomae":
        out = fn(inp, 0.9, "tube", 0, None)
        assert len(out) == 3 and os.path.getsize(out[0]) > 0 and out[1].ndim == 3
        return out[2]
    raise KeyError(key)


# --------------------------------------------------------------------- what a clear answer is

ACCEPTS = ("Please provide", "please provide", "at least", "accepted", "Please draw", "Please pick",
           "choose", "Choose", "paint over", "must be", "Pick ")


def assert_clear_error(err: gr.Error, *must: str) -> str:
    msg = err.message if isinstance(err.message, str) else str(err.message)
    assert "Something went wrong" not in msg, f"an unexpected exception reached the user: {msg!r}"
    assert "Traceback" not in msg and 'File "' not in msg and "line " not in msg, msg
    assert 10 < len(msg) < 700, msg
    assert any(a in msg for a in ACCEPTS), f"the message does not say what is accepted: {msg!r}"
    for word in must:
        assert word.lower() in msg.lower(), f"{word!r} not in {msg!r}"
    return msg


def expect_error(call, *must: str) -> str:
    with pytest.raises(gr.Error) as info:
        call()
    return assert_clear_error(info.value, *must)


# --------------------------------------------------------------------- the matrix: every tab, every bad input

# (case, expectation): ("error", words the message must hold) or ("ok", words the notes must hold)
VIDEO_CASES = {
    "empty": ("error", ("empty",)),
    "text": ("error", ("as a video",)),
    "truncated": ("ok", ("truncated",)),
    "truncated_tail": ("error", ("as a video",)),
    "one_frame": ("error", ("frame",)),
    "one_frame_30fps": ("error", ("frame",)),
    "long": ("ok", ("trimmed",)),
    "portrait": ("ok", ("downscaled",)),
    "phone_portrait": ("ok", ("downscaled from 720x1280",)),
    "sliver": ("ok", ("downscaled",)),
    "odd": ("ok", ()),
    "tiny_video": ("error", ("6x6 pixels", "at least 16x16")),
    "image_as_video": ("error", ("as a video",)),
}
# per-tab exceptions to the defaults above
OVERRIDES = {
    ("sound_localization", "one_frame"): ("ok", ()),         # a still with its sound can be localized
    ("sound_localization", "one_frame_30fps"): ("error", ("no sound track",)),
}


@pytest.mark.parametrize("key", VIDEO_TABS)
@pytest.mark.parametrize("case", list(VIDEO_CASES))
def test_video_tab_bad_input(tabs, files, key, case):
    kind, words = OVERRIDES.get((key, case), VIDEO_CASES[case])
    h = tabs(key)
    path = getattr(files, case)
    try:
        text = run_tab(key, h, path)
    except gr.Error as err:
        assert kind == "error", f"{key} refused {case}: {err.message!r}"
        assert_clear_error(err, *words)
    else:
        assert kind == "ok", f"{key} silently accepted {case}: {text[:300]!r}"
        assert "Traceback" not in text
        for word in words:
            assert word in text, f"{key} on {case}: the output does not say it was {word}: {text[-400:]!r}"


def test_4k_video_is_downscaled_with_a_note(tabs, files):
    """3840x2160 through core.media and one tab (cheap: four frames)."""
    v = media.load_video(files.uhd)
    assert max(v.frames.shape[1:3]) == media.MAX_SIDE and any("downscaled" in n for n in v.notes)
    assert "downscaled" in run_tab("videomae", tabs("videomae"), files.uhd)


def test_media_truncated_files_keep_only_what_was_decoded(files):
    """moviepy pads a cut stream with copies of its last good frame; load_video drops them and says so."""
    whole = media.load_video(files.good_faststart)
    for path, side in ((files.truncated, 96), (files.truncated_big, media.MAX_SIDE)):
        v = media.load_video(path)
        assert 1 <= len(v.frames) < (30 if side == 96 else 20) and max(v.frames.shape[1:3]) == side
        assert any("truncated" in n for n in v.notes)
        assert all(not np.array_equal(v.frames[i], v.frames[i - 1]) for i in range(1, len(v.frames)))
    assert not whole.notes and len(whole.frames) == 30


def test_media_reads_a_one_frame_clip_at_any_rate(files):
    """moviepy iterates int(duration * fps) frames of a 10-ms-rounded duration: none for 1 frame at 30 fps."""
    for path in (files.one_frame, files.one_frame_30fps):
        v = media.load_video(path)
        assert v.frames.shape == (1, 64, 96, 3)
        assert np.abs(v.frames[0].astype(int) - pattern(1, 64, 96)[0]).mean() < 12


def test_media_turns_a_phone_video_upright(files):
    """A 90-degree display matrix: frames come back upright (720x1280 downscaled), not squashed into 1280x720."""
    v = media.load_video(files.phone_portrait)
    assert v.frames.shape[1:3] == (320, 180) and "downscaled from 720x1280 to 180x320" in v.notes
    stored = pattern(1, 720, 1280)[0]
    upright = [np.asarray(media.resize_image(np.ascontiguousarray(np.rot90(stored, k)), (320, 180)), int)
               for k in (1, 3)]
    assert min(np.abs(v.frames[0].astype(int) - u).mean() for u in upright) < 12


def test_media_thin_strips_keep_a_usable_short_side(files):
    v = media.load_video(files.sliver)                       # 32x1280: plain downscaling would leave 8x320
    assert v.frames.shape[1:3] == (640, 16) and "downscaled from 32x1280 to 16x640" in v.notes[0]
    img, notes = media.load_image(np.zeros((20, 3000, 3), np.uint8))
    assert img.shape[:2] == (16, 2400) and notes
    img, notes = media.load_image(np.zeros((2000, 3000, 3), np.uint8))   # usual shapes: unchanged behaviour
    assert img.shape[:2] == (213, 320)


def test_missing_input_asks_for_a_file(tabs):
    for key in TAB_KEYS:
        h = tabs(key)
        expect_error(lambda: run_tab(key, h, None))


# --------------------------------------------------------------------- jigsaw: images

IMAGE_CASES = {
    "empty_png": ("error", ("empty",)),
    "text_png": ("error", ("as an image",)),
    "truncated_jpg": ("error", ("as an image",)),
    "video_as_image": ("error", ("as an image",)),
    "text": ("error", ("as an image",)),          # the text file named .mp4
    "tiny_png": ("error", ("pixels",)),
    "grey_png": ("ok", ()),
    "rgba_png": ("ok", ()),
    "png16": ("ok", ()),
    "odd_png": ("ok", ()),
    "uhd_png": ("ok", ("downscaled",)),
    "portrait_png": ("ok", ("downscaled",)),
}


@pytest.mark.parametrize("case", list(IMAGE_CASES))
def test_jigsaw_bad_image_file(tabs, files, case):
    kind, words = IMAGE_CASES[case]
    h = tabs("jigsaw")
    path = getattr(files, case)
    if kind == "error":
        expect_error(lambda: run_tab("jigsaw", h, path), *words)
    else:
        text = run_tab("jigsaw", h, path)
        for word in words:
            assert word in text


ARRAYS = {   # what gr.Image(type="numpy") or an API client may hand over
    "grey_2d": (lambda: pattern(1, 60, 80)[0, ..., 0], "ok"),
    "grey_hw1": (lambda: pattern(1, 60, 80)[0, ..., :1], "ok"),
    "grey_alpha": (lambda: np.concatenate([pattern(1, 60, 80)[0, ..., :1], np.full((60, 80, 1), 255, np.uint8)],
                                          -1), "ok"),
    "rgba": (lambda: np.concatenate([pattern(1, 60, 80)[0], np.full((60, 80, 1), 200, np.uint8)], -1), "ok"),
    "uint16": (lambda: pattern(1, 60, 80)[0].astype(np.uint16) * 257, "ok"),
    "float01": (lambda: pattern(1, 60, 80)[0].astype(np.float32) / 255, "ok"),
    "float_hdr": (lambda: pattern(1, 60, 80)[0].astype(np.float64) * 40 - 3000, "ok"),
    "bool": (lambda: pattern(1, 60, 80)[0] > 128, "ok"),
    "nan": (lambda: np.full((60, 80, 3), np.nan, np.float32), "ok"),
    "odd_17x33": (lambda: pattern(1, 33, 17)[0], "ok"),
    "tiny_4x4": (lambda: np.zeros((4, 4, 3), np.uint8), "error"),
    "one_row": (lambda: np.zeros((1, 500, 3), np.uint8), "error"),
    "empty": (lambda: np.zeros((0, 0, 3), np.uint8), "error"),
    "five_channels": (lambda: np.zeros((40, 40, 5), np.uint8), "error"),
    "a_video": (lambda: pattern(4, 40, 40), "error"),
    "strings": (lambda: np.full((20, 20), "x"), "error"),
}


@pytest.mark.parametrize("case", list(ARRAYS))
def test_jigsaw_image_arrays(tabs, case):
    make, kind = ARRAYS[case]
    h = tabs("jigsaw")
    if kind == "error":
        expect_error(lambda: run_tab("jigsaw", h, make()))
    else:
        run_tab("jigsaw", h, make())


# --------------------------------------------------------------------- sound tab: the sound track

@pytest.mark.parametrize("case", ["silent_audio", "mono_8k", "stereo_48k"])
def test_sound_tab_odd_sound_tracks_work(tabs, files, case):
    text = run_tab("sound_localization", tabs("sound_localization"), getattr(files, case))
    assert "p = " in text


def test_sound_tab_video_without_audio(tabs, files):
    tab = importlib.import_module("demos.sound_localization")
    h = tabs("sound_localization")
    expect_error(lambda: run_tab("sound_localization", h, files.no_audio), "no sound track")
    # ... and the same frames with silence or another clip's sound work
    assert "silence" in run_tab("sound_localization", h, files.no_audio, sound=tab.SILENCE)


@pytest.mark.parametrize("case,channels,rate", [("mono_8k", 1, 8000), ("stereo_48k", 2, 48000),
                                                ("stereo_8k", 2, 8000), ("mono_48k", 1, 48000)])
def test_media_reads_sound_tracks_at_any_rate_and_layout(files, case, channels, rate):
    v = media.load_video(getattr(files, case))
    assert v.sample_rate == media.SAMPLE_RATE and v.audio.ndim == 1 and v.audio.dtype == np.float32
    assert abs(v.audio.size / v.sample_rate - 2.0) < 0.15
    spec = np.abs(np.fft.rfft(v.audio))
    assert abs(np.fft.rfftfreq(v.audio.size, 1 / v.sample_rate)[spec.argmax()] - 440) < 10   # the pitch survived


@pytest.mark.parametrize("channels,rate", [(1, 8000), (2, 8000), (1, 48000), (2, 48000), (1, 16000)])
def test_media_reads_wav_files(tmp_path, channels, rate):
    audio, sr, notes = media.load_audio(write_wav(tmp_path / "a.wav", tone(1.0, rate, channels), rate))
    assert sr == media.SAMPLE_RATE and audio.ndim == 1 and abs(audio.size - sr) < 200 and notes == []


def test_media_silent_empty_and_fake_sound_files(tmp_path):
    audio, _, _ = media.load_audio(write_wav(tmp_path / "silent.wav", np.zeros((8000, 1)), 8000))
    assert np.abs(audio).max() == 0.0
    with pytest.raises(media.MediaError, match="holds no sound.*Please provide"):
        media.load_audio(write_wav(tmp_path / "none.wav", np.zeros((0, 1)), 8000))
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(media.MediaError, match="empty.*Please provide"):
        media.load_audio(tmp_path / "empty.wav")
    (tmp_path / "text.wav").write_text("la la la")
    with pytest.raises(media.MediaError, match="Please provide"):
        media.load_audio(tmp_path / "text.wav")


def test_sound_tab_silence_and_silent_track_give_low_scores(tabs, files):
    """Silence is a valid input, not an error: the network should say no sound belongs to the frame."""
    tab = importlib.import_module("demos.sound_localization")
    h = tabs("sound_localization")
    text = run_tab("sound_localization", h, files.silent_audio)
    assert "p = " in text
    text = run_tab("sound_localization", h, files.mono_8k, sound=tab.SILENCE)
    assert "nothing sounds" in text


# --------------------------------------------------------------------- TCC: two videos of very different lengths

def test_tcc_videos_of_very_different_lengths(tabs, files):
    h = tabs("tcc")
    short, long_ = files.two_frames, files.many_frames
    for a, b in ((short, long_), (long_, short)):
        text = run_tab("tcc", h, a, other=b)
        assert "Kendall's tau" in text
        assert "trimmed" in text or "kept the first" in text      # the long one was cut down, and says so
    out = h["tcc_align"](short, long_, "", None)
    session = out[4]
    assert len(session["frames_a"]) == 2 and len(session["frames_b"]) <= 150


def test_tcc_bad_second_video_is_named(tabs, files):
    h = tabs("tcc")
    msg = expect_error(lambda: run_tab("tcc", h, good_input("tcc"), other=files.text), "as a video")
    assert "text.mp4" in msg
    expect_error(lambda: run_tab("tcc", h, good_input("tcc"), other=files.one_frame), "video 2")


# --------------------------------------------------------------------- colorization: its first-frame mask is an image

def _mask(kind):
    m = np.zeros((40, 60), np.uint8)
    m[12:28, 20:40] = 1
    rgb = C.PALETTE[m]
    return {"grey": (m * 200).astype(np.uint8),
            "rgba": np.concatenate([rgb, np.full((40, 60, 1), 255, np.uint8)], -1),
            "uint16": rgb.astype(np.uint16) * 257,
            "float": rgb.astype(np.float32) / 255,
            "tiny_2x2": C.PALETTE[np.array([[0, 0], [0, 1]])],
            "odd_17x33": C.PALETTE[np.pad(np.ones((11, 5), int), ((11, 11), (6, 6)))],
            "black": np.zeros((40, 60, 3), np.uint8),
            "strings": np.full((40, 60), "red"),
            "a_video": np.stack([rgb] * 3)}[kind]


@pytest.mark.parametrize("kind", ["grey", "rgba", "uint16", "float", "tiny_2x2", "odd_17x33", "black", "strings",
                                  "a_video"])
def test_colorization_first_frame_mask_variants(tabs, files, kind):
    fn = tabs("colorization")["colorization_track"]
    call = lambda: fn(files.no_audio, _mask(kind), None, "", 8, None)  # noqa: E731
    if kind in ("black", "strings", "a_video", "tiny_2x2"):
        expect_error(call, *{"black": ("empty",), "tiny_2x2": ("at least 8x8",)}.get(kind, ()))
    else:
        out = call()
        assert "Tracking** 1 object" in out[0]


# --------------------------------------------------------------------- controls: an emptied number field, NaN, text

def _sound():
    return importlib.import_module("demos.sound_localization")


CONTROLS = {   # (tab, label): call(h, good) -> the handler with one odd control value
    ("jigsaw", "k empty"): lambda h, g: h["jigsaw_solve"](g, None, False, None),
    ("jigsaw", "k nan"): lambda h, g: h["jigsaw_solve"](g, float("nan"), False, None),
    ("jigsaw", "k out of range"): lambda h, g: h["jigsaw_solve"](g, 10**9, False, None),
    ("sequence_sort", "seed empty"): lambda h, g: h["sequence_sort_sort"](g, "auto", "random", None, None),
    ("sequence_sort", "seed negative"): lambda h, g: h["sequence_sort_sort"](g, "auto", "random", -1, None),
    ("sequence_sort", "stride text"): lambda h, g: h["sequence_sort_sort"](g, "x", "random", 0, None),
    ("sequence_sort", "reshuffle empty"): lambda h, g: h["sequence_sort_reshuffle"](None),
    ("sequence_sort", "verify seed empty"): lambda h, g: h["sequence_sort_verify"](g, "in order", None, None),
    ("colorization", "frames empty"): lambda h, g: h["colorization_track"](g, first_mask(), None, "", None, None),
    ("colorization", "frames nan"): lambda h, g: h["colorization_track"](g, first_mask(), None, "", float("nan"),
                                                                         None),
    ("sound_localization", "t nan"): lambda h, g: h["sound_localization_localize"](
        g, _sound().OWN, None, float("nan"), _sound().SHIPPED, None),
    ("sound_localization", "unknown sound"): lambda h, g: h["sound_localization_localize"](
        g, "louder", None, 0.5, _sound().SHIPPED, None),
    ("videomae", "ratio empty"): lambda h, g: h["videomae_reconstruct"](g, None, "tube", 0, None),
    ("videomae", "ratio 1"): lambda h, g: h["videomae_reconstruct"](g, 1.0, "tube", 0, None),
    ("videomae", "seed empty"): lambda h, g: h["videomae_reconstruct"](g, 0.9, "tube", None, None),
    ("videomae", "seed negative"): lambda h, g: h["videomae_reconstruct"](g, 0.9, "tube", -1, None),
    ("videomae", "unknown masking"): lambda h, g: h["videomae_reconstruct"](g, 0.9, "diagonal", 0, None),
}


@pytest.mark.parametrize("key,label", list(CONTROLS), ids=[f"{k}-{v}" for k, v in CONTROLS])
def test_odd_control_values_get_a_clear_error(tabs, key, label):
    """What an API client, or a visitor who empties a number field, can send: never a TypeError or
    Python's "cannot convert float NaN to integer"."""
    h = tabs(key)
    msg = expect_error(lambda: CONTROLS[key, label](h, good_input(key)))
    assert "convert" not in msg and "int()" not in msg and "expected non-negative" not in msg, msg


# --------------------------------------------------------------------- and the app keeps serving

@pytest.mark.parametrize("key", TAB_KEYS)
def test_tab_still_serves_its_example_after_bad_inputs(tabs, files, key):
    h = tabs(key)
    for bad in (files.empty, files.text, files.truncated, files.tiny_video):   # once more, right before
        try:
            run_tab(key, h, bad)
        except gr.Error:
            pass
    text = run_tab(key, h, good_input(key))
    assert text and "Something went wrong" not in text
