"""core.media: round trips, limits, and a clear MediaError for every kind of bad file."""
from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from core import media


def moving_square(t=20, h=48, w=64, seed=0):
    """Frames of a bright square moving right over a gradient: easy to check after lossy coding."""
    rng = np.random.default_rng(seed)
    base = np.linspace(40, 120, w, dtype=np.float32)[None, :, None] * np.ones((h, 1, 3), np.float32)
    frames = np.repeat(base[None], t, axis=0).copy()
    for i in range(t):
        x = 4 + i * 2
        frames[i, 10:26, x:x + 16] = (230, 60, 60)
    return np.clip(frames + rng.normal(0, 1, frames.shape), 0, 255).astype(np.uint8)


def tone(freq, seconds, rate):
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(audio, rate):
    spec = np.abs(np.fft.rfft(audio))
    return np.fft.rfftfreq(audio.size, 1 / rate)[spec.argmax()]


# --------------------------------------------------------------------- video round trips

def test_video_round_trip_without_audio():
    frames = moving_square()
    path = media.save_video(frames, fps=10)
    v = media.load_video(path)
    assert v.frames.shape == frames.shape and v.frames.dtype == np.uint8
    assert v.fps == pytest.approx(10)
    assert v.audio is None and v.sample_rate is None
    assert np.abs(v.frames.astype(int) - frames.astype(int)).mean() < 6     # lossy, but close
    # the square moved right: its column of maximum redness grows over time
    red = (v.frames[..., 0].astype(int) - v.frames[..., 1]).mean(axis=1)   # (T, W)
    assert red[-1].argmax() > red[0].argmax() + 20


def test_video_round_trip_with_audio_keeps_the_pitch():
    frames = moving_square(t=15)
    audio = tone(440, 1.5, 16000)
    path = media.save_video(frames, fps=10, audio=audio, sample_rate=16000)
    v = media.load_video(path)
    assert v.audio is not None and v.sample_rate == media.SAMPLE_RATE
    assert abs(v.audio.size / v.sample_rate - 1.5) < 0.1
    assert abs(peak_hz(v.audio, v.sample_rate) - 440) < 5


def test_odd_sizes_are_padded_to_even_and_read_back():
    frames = moving_square(t=6, h=17, w=33)
    v = media.load_video(media.save_video(frames, fps=5))
    assert v.frames.shape[1:3] == (18, 34)
    assert v.frames.shape[0] == 6


def test_limits_trim_downscale_and_sample_down_with_notes():
    frames = moving_square(t=60, h=120, w=200)        # 3 s at 20 fps
    path = media.save_video(frames, fps=20)
    v = media.load_video(path, max_seconds=1.0, max_side=100, max_fps=10)
    assert max(v.frames.shape[1:3]) == 100
    assert v.fps == 10 and len(v.frames) == 10
    text = " ".join(v.notes)
    assert "trimmed" in text and "downscaled" in text and "sampled" in text


def test_one_frame_video_is_read():
    v = media.load_video(media.save_video(moving_square(t=1), fps=1))
    assert len(v.frames) >= 1


def test_outputs_of_concurrent_calls_never_collide():
    paths = []

    def work(i):
        paths.append(media.save_video(moving_square(t=4, seed=i), fps=4))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(paths)) == 4 and len({os.path.dirname(p) for p in paths}) == 4
    assert all(os.path.getsize(p) > 0 for p in paths)


def test_old_output_folders_are_swept():
    path = media.save_video(moving_square(t=2), fps=2)
    folder = os.path.dirname(path)
    old = time.time() - 2 * media.TEMP_MAX_AGE_S
    os.utime(folder, (old, old))
    assert media.cleanup_temp() >= 1
    assert not os.path.exists(folder)


# --------------------------------------------------------------------- bad video files

def test_empty_file(tmp_path):
    p = tmp_path / "empty.mp4"
    p.write_bytes(b"")
    with pytest.raises(media.MediaError, match="empty"):
        media.load_video(p)


def test_text_file_named_mp4(tmp_path):
    p = tmp_path / "notes.mp4"
    p.write_text("this is not a video\n" * 50)
    with pytest.raises(media.MediaError, match="Could not read .* as a video.*Please provide"):
        media.load_video(p)


def test_truncated_video_is_read_in_part_or_refused(tmp_path):
    good = media.save_video(moving_square(t=30), fps=10)
    blob = open(good, "rb").read()
    p = tmp_path / "cut.mp4"
    p.write_bytes(blob[: len(blob) // 2])
    try:
        v = media.load_video(p)
    except media.MediaError as err:
        assert "Please provide" in str(err)
    else:
        assert v.frames.ndim == 4 and len(v.frames) >= 1


def test_missing_and_oversized_files(tmp_path, monkeypatch):
    with pytest.raises(media.MediaError, match="does not exist"):
        media.load_video(tmp_path / "nope.mp4")
    with pytest.raises(media.MediaError, match="No file"):
        media.load_video(None)
    path = media.save_video(moving_square(t=10), fps=10)
    monkeypatch.setattr(media, "MAX_FILE_MB", 0.001)
    with pytest.raises(media.MediaError, match="over the"):
        media.load_video(path)


# --------------------------------------------------------------------- images

@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "I;16", "LA", "CMYK"])
def test_image_modes_become_rgb_uint8(tmp_path, mode):
    rgb = Image.fromarray(moving_square(t=1, h=40, w=50)[0])
    if mode == "I;16":
        img = Image.fromarray((np.asarray(rgb.convert("L")).astype(np.uint16) * 257))
    else:
        img = rgb.convert(mode)
    path = tmp_path / ("x.tiff" if mode in ("I;16", "CMYK") else "x.png")
    img.save(path)
    out, notes = media.load_image(path)
    assert out.shape == (40, 50, 3) and out.dtype == np.uint8 and notes == []


def test_rgba_is_composited_over_white():
    a = np.zeros((20, 20, 4), np.uint8)          # fully transparent black
    out, _ = media.load_image(a)
    assert (out == 255).all()


def test_sixteen_bit_is_scaled_not_clipped():
    a = np.full((20, 20), 65535, np.uint16)
    out, _ = media.load_image(a)
    assert (out == 255).all()
    out, _ = media.load_image(a // 2)
    assert abs(int(out[0, 0, 0]) - 127) <= 1


def test_tiny_and_huge_images(tmp_path):
    with pytest.raises(media.MediaError, match="only 5x4 pixels"):
        media.load_image(np.zeros((4, 5, 3), np.uint8))
    big = np.zeros((1000, 3000, 3), np.uint8)
    out, notes = media.load_image(big, max_side=300)
    assert out.shape == (100, 300, 3) and "downscaled" in notes[0]


def test_corrupt_image(tmp_path):
    p = tmp_path / "broken.png"
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(media.MediaError, match="as an image"):
        media.load_image(p)


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(dtype=st.sampled_from([np.uint8, np.uint16, np.float32, np.float64, np.int32, bool]),
                  shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=24),
                  elements=None))
def test_to_rgb_uint8_gives_an_image_or_a_media_error(a):
    try:
        out = media.to_rgb_uint8(a)
    except media.MediaError as err:
        assert "Please provide" in str(err)
    else:
        assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[-1] == 3
        assert out.shape[:2] == a.shape[:2]


# --------------------------------------------------------------------- audio

@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_resample_keeps_the_pitch(rate):
    out = media.resample(tone(1000, 1.0, rate), rate, 16000)
    assert out.size == 16000
    assert abs(peak_hz(out, 16000) - 1000) < 2


def test_stereo_to_mono_and_wav_round_trip():
    left, right = tone(300, 0.5, 16000), tone(300, 0.5, 16000)
    mono = media.to_mono(np.stack([left, right], axis=1))
    assert mono.shape == left.shape
    audio, rate, notes = media.load_audio(media.save_audio(mono, 16000))
    assert rate == 16000 and abs(audio.size - mono.size) < 50
    assert abs(peak_hz(audio, rate) - 300) < 3


def test_audio_from_a_text_file(tmp_path):
    p = tmp_path / "x.wav"
    p.write_text("no sound here")
    with pytest.raises(media.MediaError, match="as sound"):
        media.load_audio(p)


def test_a_video_browsers_cannot_play_gets_an_h264_copy_with_its_sound(tmp_path):
    """Old MPEG-4 Part 2 decodes here but previews blank in a browser: the preview is an H.264 copy."""
    import subprocess
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets", "examples", "clips",
                       "bunny.mp4")
    old = str(tmp_path / "old.mp4")
    subprocess.run([media._ffmpeg(), "-y", "-loglevel", "error", "-i", src, "-t", "1", "-c:v", "mpeg4",
                    "-c:a", "aac", old], check=True)
    assert media.probe_video(old)["codec"] == "mpeg4"
    path, note = media.browser_playable(old)
    assert note and "mpeg4" in note and path != old
    info = media.probe_video(path)
    assert info["codec"] == "h264" and info["pixels"] == "yuv420p" and info["audio"]
    assert media.browser_playable(path) == (path, None)          # a playable file is left as it is
