"""Read and write video, images and audio, within limits, with errors a person understands.

Every file a user brings passes through here. Frames come back as uint8 RGB
arrays (T, H, W, 3), audio as float32 mono (N,) at a known sample rate. When a
file is larger or longer than the limits it is downscaled or trimmed, and the
`notes` say so; when it cannot be used at all, `MediaError` says why and what
is accepted. Outputs are written into a fresh temporary folder per call, so two
visitors never overwrite each other's files.

moviepy and Pillow are imported inside the functions that need them, so the
method modules (which only need numpy helpers from here) import on a machine
that has torch and numpy alone.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from typing import NamedTuple

import numpy as np

from core import stages

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mov", ".avi", ".mkv", ".mpg", ".mpeg", ".m4v", ".ogv", ".gif")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
AUDIO_EXTENSIONS = (".wav", ".mp3", ".flac", ".ogg", ".m4a", ".aac", ".opus")

MAX_FILE_MB = 100          # an upload larger than this is refused before decoding
MAX_SECONDS = 10.0         # longer clips are trimmed to their first MAX_SECONDS
MAX_SIDE = 320             # frames are downscaled so that their longer side fits
MAX_FPS = 15.0             # the demos need motion, not smoothness: fewer frames, faster clicks
MIN_SIDE = 16              # anything smaller holds no picture to learn from
SAMPLE_RATE = 16000        # every waveform in the lab is resampled to this rate
TEMP_ROOT = os.path.join(tempfile.gettempdir(), "ssl-video-lab")
TEMP_MAX_AGE_S = 3600      # output folders older than this are removed on the next save

ACCEPTED_VIDEO = "a video file (mp4, webm, mov, avi, mkv, mpg) of at most " \
                 f"{MAX_FILE_MB} MB; longer than {MAX_SECONDS:g} s is trimmed"
ACCEPTED_IMAGE = f"an image file (png, jpg, webp, bmp, gif, tiff) of at least {MIN_SIDE}x{MIN_SIDE} pixels"
ACCEPTED_AUDIO = "a sound file (wav, mp3, flac, ogg, m4a) or a video with a sound track"


class MediaError(ValueError):
    """A file or array the lab cannot use; the message is meant for the person who gave it."""


class Video(NamedTuple):
    frames: np.ndarray          # (T, H, W, 3) uint8
    fps: float
    audio: np.ndarray | None    # (N,) float32 mono, nominally in [-1, 1] (lossy codecs and resampling can
                                # overshoot a full-scale sound a little: not clipped), or None without sound
    sample_rate: int | None
    notes: list[str]            # what was adapted (trimmed, downscaled, resampled)


def _check_file(path, accepted: str) -> str:
    if path is None:
        raise MediaError(f"No file was given. Please provide {accepted}.")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MediaError(f"The file {os.path.basename(path)!r} does not exist. Please provide {accepted}.")
    size = os.path.getsize(path)
    if size == 0:
        raise MediaError(f"The file {os.path.basename(path)!r} is empty. Please provide {accepted}.")
    if size > MAX_FILE_MB * 1024 * 1024:
        raise MediaError(f"The file is {size / 2**20:.0f} MB, over the {MAX_FILE_MB} MB limit. "
                         f"Please provide {accepted}.")
    return path


def _fit_size(h: int, w: int, max_side: int | None, min_side: int = 1) -> tuple[int, int]:
    """(h, w) scaled so that the longer side is at most max_side, both sides kept >= 1.

    The shorter side is never scaled below min_side (when it was at least that): a
    very thin strip keeps a usable height and its longer side stays above max_side.
    """
    if not max_side or max(h, w) <= max_side:
        return h, w
    s = max_side / max(h, w)
    if min(h, w) * s < min_side:
        s = min(1.0, min_side / min(h, w))
    return max(1, round(h * s)), max(1, round(w * s))


# --------------------------------------------------------------------- arrays

def to_rgb_uint8(array) -> np.ndarray:
    """Any image array (grey, grey+alpha, RGB, RGBA; uint8/uint16/float/bool) -> (H, W, 3) uint8.

    Alpha is composited over white; 16-bit and float images are scaled by their
    dtype's range (floats are taken as [0, 1] when they fit, else min-max).
    """
    a = np.asarray(array)
    if a.size == 0 or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool) \
            or np.issubdtype(a.dtype, np.complexfloating):
        raise MediaError(f"This is not an image. Please provide {ACCEPTED_IMAGE}.")
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (2, 3, 4)):
        raise MediaError(f"An image array of shape {a.shape} is not a picture (expected H x W, H x W x 3 "
                         f"or H x W x 4). Please provide {ACCEPTED_IMAGE}.")
    if a.dtype == bool:
        a = a.astype(np.float32)
    if np.issubdtype(a.dtype, np.floating):
        a = np.nan_to_num(a.astype(np.float32))
        lo, hi = float(a.min()), float(a.max())
        if lo < 0.0 or hi > 1.0:
            a = (a - lo) / max(hi - lo, 1e-8)
        a = a * 255.0
    elif a.dtype != np.uint8:
        info = np.iinfo(a.dtype)
        a = a.astype(np.float64)
        if info.min < 0:
            a = a - info.min
        a = a * (255.0 / (info.max - info.min))
    a = np.clip(np.round(a), 0, 255).astype(np.uint8) if a.dtype != np.uint8 else a
    if a.ndim == 2:
        return np.repeat(a[..., None], 3, axis=-1)
    if a.shape[-1] == 2:                      # grey + alpha
        a = np.concatenate([np.repeat(a[..., :1], 3, axis=-1), a[..., 1:]], axis=-1)
    if a.shape[-1] == 4:
        alpha = a[..., 3:].astype(np.float32) / 255.0
        a = np.round(a[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(a)


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a (H, W, C) or (H, W) uint8 image to (h, w) = size with antialiasing."""
    from PIL import Image

    h, w = size
    if image.shape[:2] == (h, w):
        return image
    pil = Image.fromarray(image)
    return np.asarray(pil.resize((w, h), Image.BILINEAR if image.ndim == 3 else Image.NEAREST))


def resample(audio: np.ndarray, rate_in: int, rate_out: int = SAMPLE_RATE) -> np.ndarray:
    """Resample mono audio by band-limited FFT interpolation (no extra dependencies)."""
    audio = np.asarray(audio, dtype=np.float32)
    if rate_in == rate_out or audio.size == 0:
        return audio
    n_out = max(1, int(round(audio.size * rate_out / rate_in)))
    spec = np.fft.rfft(audio.astype(np.float64))
    keep = n_out // 2 + 1
    if keep <= spec.size:
        spec = spec[:keep]
    else:
        spec = np.concatenate([spec, np.zeros(keep - spec.size, dtype=spec.dtype)])
    out = np.fft.irfft(spec, n=n_out) * (n_out / audio.size)
    return out.astype(np.float32)


def to_mono(audio: np.ndarray) -> np.ndarray:
    """(N,), (N, C) or (C, N) with C <= 8 -> (N,) float32 by averaging the channels."""
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 1:
        return a
    if a.ndim == 2:
        axis = 1 if a.shape[1] <= 8 and a.shape[1] < a.shape[0] else 0
        return a.mean(axis=axis).astype(np.float32)
    raise MediaError(f"Audio of shape {a.shape} is not a waveform. Please provide {ACCEPTED_AUDIO}.")


# --------------------------------------------------------------------- reading

def _decode_sound(path: str, sample_rate: int, max_seconds: float | None) -> np.ndarray:
    """A file's first sound track -> (N,) float32 mono at sample_rate, decoded by ffmpeg.

    Uses the ffmpeg binary of the imageio-ffmpeg wheel (the one moviepy runs),
    directly: moviepy 2.2.1's audio reader returns silence when asked for a rate
    other than its own and fails near the end of short files.
    """
    import imageio_ffmpeg

    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-i", path, "-vn",
           "-ac", "1", "-ar", str(int(sample_rate)), "-f", "f32le"]
    if max_seconds:
        cmd += ["-t", str(max_seconds)]
    out = subprocess.run(cmd + ["-"], capture_output=True, timeout=120)
    if out.returncode != 0:
        raise OSError(out.stderr.decode(errors="replace")[-300:])
    return np.frombuffer(out.stdout, dtype="<f4").astype(np.float32)


@stages.timed("decode")
def load_image(source, max_side: int | None = MAX_SIDE) -> tuple[np.ndarray, list[str]]:
    """A path or an array -> ((H, W, 3) uint8 RGB, notes). EXIF rotation applied, alpha over white."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    notes: list[str] = []
    if isinstance(source, np.ndarray):
        image = to_rgb_uint8(source)
    else:
        path = _check_file(source, ACCEPTED_IMAGE)
        try:
            with Image.open(path) as pil:
                pil = ImageOps.exif_transpose(pil)
                if pil.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                    image = to_rgb_uint8(np.asarray(pil))
                elif pil.mode in ("RGBA", "LA", "P", "PA"):
                    image = to_rgb_uint8(np.asarray(pil.convert("RGBA")))
                else:
                    image = np.asarray(pil.convert("RGB"))
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
            raise MediaError(f"Could not read {os.path.basename(path)!r} as an image ({type(err).__name__}). "
                             f"Please provide {ACCEPTED_IMAGE}.") from None
    h, w = image.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise MediaError(f"The image is only {w}x{h} pixels. Please provide {ACCEPTED_IMAGE}.")
    nh, nw = _fit_size(h, w, max_side, MIN_SIDE)
    if (nh, nw) != (h, w):
        image = resize_image(image, (nh, nw))
        notes.append(f"downscaled from {w}x{h} to {nw}x{nh}")
    return np.ascontiguousarray(image), notes


@stages.timed("decode")
def load_video(path, max_seconds: float | None = MAX_SECONDS, max_side: int | None = MAX_SIDE,
               max_fps: float | None = MAX_FPS, sample_rate: int = SAMPLE_RATE,
               with_audio: bool = True) -> Video:
    """Read a video file within the limits.

    Returns Video(frames (T,H,W,3) uint8, fps, audio (N,) float32 mono or None,
    sample_rate or None, notes). Longer clips keep their first `max_seconds`;
    larger frames are downscaled so the longer side is `max_side`; frame rates
    above `max_fps` are sampled down. Raises MediaError for anything unusable.
    """
    from moviepy import VideoFileClip

    path = _check_file(path, ACCEPTED_VIDEO)
    name = os.path.basename(path)
    notes: list[str] = []
    try:
        clip = _upright(VideoFileClip(path, audio=False), path)      # sound is decoded by _decode_sound
    except Exception as err:  # moviepy raises OSError, KeyError, IndexError... for non-videos
        raise MediaError(f"Could not read {name!r} as a video ({type(err).__name__}). "
                         f"Please provide {ACCEPTED_VIDEO}.") from None
    try:
        w, h = clip.size
        src_fps = float(clip.fps or 0.0)
        duration = float(clip.duration or 0.0)
        if not w or not h or src_fps <= 0:
            raise MediaError(f"{name!r} has no readable video stream. Please provide {ACCEPTED_VIDEO}.")
        if min(w, h) < MIN_SIDE:
            raise MediaError(f"The video is only {w}x{h} pixels. Please provide {ACCEPTED_VIDEO}, "
                             f"at least {MIN_SIDE}x{MIN_SIDE} pixels.")
        if max_seconds and duration > max_seconds:
            clip = clip.subclipped(0, max_seconds)
            notes.append(f"trimmed from {duration:.1f} s to the first {max_seconds:g} s")
            duration = max_seconds
        nh, nw = _fit_size(h, w, max_side, MIN_SIDE)
        if (nh, nw) != (h, w):
            clip = clip.resized((nw, nh))
            notes.append(f"downscaled from {w}x{h} to {nw}x{nh}")
        fps = src_fps
        if max_fps and src_fps > max_fps + 1e-6:
            fps = float(max_fps)
            notes.append(f"sampled at {fps:g} of its {src_fps:g} frames per second")
        stale = _watch_stale_reads(clip)
        frames, first_stale = [], None
        try:
            for f in clip.iter_frames(fps=fps, dtype="uint8"):
                if stale and first_stale is None:
                    first_stale = len(frames)
                frames.append(np.asarray(f, dtype=np.uint8)[..., :3])
        except Exception as err:
            raise MediaError(f"{name!r} could not be decoded ({type(err).__name__}); it may be truncated "
                             f"or corrupt. Please provide {ACCEPTED_VIDEO}.") from None
        # moviepy pads a stream that ends early by repeating its last good frame (with a warning only).
        # One such frame at the very end is its usual rounding of the duration; more means the file
        # was cut short: keep only the frames really decoded, and say so.
        if first_stale is not None and len(frames) - first_stale >= 2:
            notes.append(f"the file seems truncated: only the first {first_stale} of {len(frames)} frames "
                         "could be decoded")
            frames = frames[:first_stale]
        if not frames:
            # moviepy rounds the duration to 10 ms and counts int(duration * fps) frames, so a clip shorter
            # than one sampled frame (one frame at 30 fps, three at 60) iterates to nothing: take its first.
            try:
                frames = [np.asarray(clip.get_frame(0), dtype=np.uint8)[..., :3]]
            except Exception:  # noqa: BLE001  (nothing decodable: the message below says so)
                frames = []
        if not frames:
            raise MediaError(f"{name!r} holds no frames. Please provide {ACCEPTED_VIDEO}.")
        shapes = {f.shape for f in frames}
        if len(shapes) > 1:  # a stream that changes size midway: keep the first size
            frames = [resize_image(f, frames[0].shape[:2]) for f in frames]
        frames = np.stack(frames)
        audio, rate = None, None
        if with_audio and clip.reader.infos.get("audio_found"):
            try:
                audio = _decode_sound(path, sample_rate, max_seconds)
                rate = sample_rate
            except (OSError, subprocess.SubprocessError):
                notes.append("its sound track could not be decoded and was left out")
        return Video(frames, fps, audio, rate, notes)
    finally:
        clip.close()


def _display_rotation(clip) -> int:
    """The turn (0, 90, 180, 270 degrees) in the video stream's display matrix, as ffmpeg reports it."""
    import re

    for inp in (clip.reader.infos.get("inputs") or [])[:1]:
        for stream in inp.get("streams") or []:
            if stream.get("stream_type") != "video":
                continue
            meta = stream.get("metadata") or {}
            for key in ("Display Matrix", "displaymatrix", "rotate"):
                found = re.search(r"[-+]?\d+(\.\d+)?", str(meta.get(key, "")))
                if found:
                    return int(round(float(found.group()))) % 360
            return 0
    return 0


def _upright(clip, path: str):
    """The clip with its frames at the size ffmpeg decodes them, for phone videos stored sideways.

    A phone's upright video is stored landscape with a 90-degree display matrix; ffmpeg turns the
    frames upright when decoding. moviepy swaps width and height for that, but only when it finds
    the matrix, and its parser misses the "Display Matrix: rotation of -90.00 degrees" line of
    recent ffmpeg builds (the imageio-ffmpeg wheel's): it then squashes the upright frames back
    into the landscape size. Reopen with the upright size when that happened.
    """
    from moviepy import VideoFileClip

    if _display_rotation(clip) in (90, 270) and getattr(clip.reader, "rotation", 0) not in (90, 270):
        w, h = clip.size
        clip.close()
        clip = VideoFileClip(path, audio=False, target_resolution=(h, w))
    return clip


def _watch_stale_reads(clip) -> list:
    """A list that grows each time the clip's reader hands back its last frame again (stream ended early).

    moviepy's FFMPEG_VideoReader.read_frame returns the very same `last_read` array when ffmpeg
    delivers fewer bytes than a frame; a good read always makes a new array. The reader is
    private to this call, so the patch on the instance touches nobody else.
    """
    stale: list = []
    reader = getattr(clip, "reader", None)
    read = getattr(reader, "read_frame", None)
    if read is None:
        return stale

    def read_frame():
        before = getattr(reader, "last_read", None)
        out = read()
        if before is not None and out is before:
            stale.append(reader.pos)
        return out

    reader.read_frame = read_frame
    return stale


@stages.timed("decode")
def load_audio(path, max_seconds: float | None = MAX_SECONDS,
               sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, int, list[str]]:
    """A sound file (or a video's sound track) -> ((N,) float32 mono, sample_rate, notes)."""
    path = _check_file(path, ACCEPTED_AUDIO)
    name = os.path.basename(path)
    notes: list[str] = []
    try:
        audio = _decode_sound(path, sample_rate, max_seconds + 1 if max_seconds else None)
    except (OSError, subprocess.SubprocessError) as err:
        raise MediaError(f"Could not read {name!r} as sound ({type(err).__name__}). "
                         f"Please provide {ACCEPTED_AUDIO}.") from None
    if max_seconds and audio.size > max_seconds * sample_rate:
        notes.append(f"trimmed from {audio.size / sample_rate:.1f} s to the first {max_seconds:g} s")
        audio = audio[: int(max_seconds * sample_rate)]
    if audio.size == 0:
        raise MediaError(f"{name!r} holds no sound. Please provide {ACCEPTED_AUDIO}.")
    return audio, sample_rate, notes


# --------------------------------------------------------------------- writing

_MADE_HERE: set[str] = set()       # output folders this process made, removed at shutdown
_MADE_LOCK = threading.Lock()


def fresh_dir() -> str:
    """A new private folder for one call's outputs; old ones are swept on the way."""
    os.makedirs(TEMP_ROOT, exist_ok=True)
    cleanup_temp()
    path = tempfile.mkdtemp(prefix="out-", dir=TEMP_ROOT)
    with _MADE_LOCK:
        _MADE_HERE.add(path)
    return path


def remove_own_temp() -> int:
    """Remove every output folder this process made (the app calls it at shutdown); returns how many."""
    with _MADE_LOCK:
        paths = list(_MADE_HERE)
        _MADE_HERE.clear()
    removed = 0
    for path in paths:
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
            removed += not os.path.isdir(path)
    return removed


def cleanup_temp(max_age_s: float = TEMP_MAX_AGE_S) -> int:
    """Remove output folders older than max_age_s; returns how many went."""
    if not os.path.isdir(TEMP_ROOT):
        return 0
    now, removed = time.time(), 0
    for entry in os.scandir(TEMP_ROOT):
        try:
            if entry.is_dir() and now - entry.stat().st_mtime > max_age_s:
                shutil.rmtree(entry.path, ignore_errors=True)
                removed += 1
                with _MADE_LOCK:
                    _MADE_HERE.discard(entry.path)
        except FileNotFoundError:
            pass
    return removed


def _even(frames: np.ndarray) -> np.ndarray:
    """H.264 in yuv420p needs even sides: pad the last row/column by repetition."""
    t, h, w = frames.shape[:3]
    ph, pw = h % 2, w % 2
    if ph or pw:
        frames = np.pad(frames, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="edge")
    return frames


# H.264 the way every browser plays it (yuv420p, the index first so playback starts at once), at
# ffmpeg's cheapest preset: a click's clips are a few seconds of small frames, seen once
H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-crf", "23",
        "-pix_fmt", "yuv420p", "-movflags", "+faststart"]


@stages.timed("encoding")
def save_video(frames: np.ndarray, fps: float, audio: np.ndarray | None = None,
               sample_rate: int | None = None, name: str = "clip.mp4") -> str:
    """Write (T,H,W,3) uint8 frames (and optional mono audio) as H.264/AAC mp4 in a fresh folder.

    Returns the file's path. The folder is private to this call, so concurrent
    users never collide. One ffmpeg process (the imageio-ffmpeg wheel's binary)
    reads the frames from a pipe and the sound from a wav file beside the output.
    """
    import imageio_ffmpeg

    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = np.repeat(frames[..., None], 3, axis=-1)
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise ValueError(f"save_video needs (T, H, W, 3) frames, got shape {frames.shape}")
    if frames.dtype != np.uint8:
        frames = np.clip(frames, 0, 255).astype(np.uint8)
    frames = np.ascontiguousarray(_even(frames))
    t, h, w = frames.shape[:3]
    folder = fresh_dir()
    path = os.path.join(folder, name)
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-y",
           "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", f"{float(fps):.6g}", "-i", "pipe:0"]
    if audio is not None and sample_rate:
        n = int(round(t / float(fps) * sample_rate))
        mono = to_mono(audio)
        wav = _write_wav(os.path.join(folder, "sound.wav"), np.pad(mono, (0, max(0, n - mono.size)))[:n],
                         sample_rate)
        cmd += ["-i", wav, "-map", "0:v", "-map", "1:a", "-c:a", "aac", "-b:a", "96k", "-ar", "44100", "-ac", "2"]
    cmd += [*H264, path]
    proc = subprocess.run(cmd, input=frames.tobytes(), capture_output=True)
    if len(cmd) > 20 and os.path.isfile(os.path.join(folder, "sound.wav")):
        os.remove(os.path.join(folder, "sound.wav"))              # the folder serves the video alone
    if proc.returncode != 0 or not os.path.isfile(path):
        raise OSError(f"ffmpeg could not write the video: {proc.stderr.decode(errors='replace')[-500:]}")
    return path


def _write_wav(path: str, audio: np.ndarray, sample_rate: int) -> str:
    import wave

    pcm = (np.clip(to_mono(audio), -1, 1) * 32767).astype("<i2")
    with wave.open(path, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(int(sample_rate))
        f.writeframes(pcm.tobytes())
    return path


BROWSER_CODECS = ("h264", "vp8", "vp9", "av1")     # what Chromium, Firefox and Safari all play in mp4/webm
BROWSER_PIXELS = ("yuv420p", "yuvj420p")


def _ffmpeg() -> str:
    import imageio_ffmpeg              # moviepy's own ffmpeg binary: nothing else to install
    return imageio_ffmpeg.get_ffmpeg_exe()


def probe_video(path) -> dict:
    """{"codec", "pixels", "audio"} of a video's first video stream, read from ffmpeg's description
    (codec and pixel format None when it names none)."""
    import re
    out = subprocess.run([_ffmpeg(), "-hide_banner", "-i", os.fspath(path)], capture_output=True, text=True,
                         timeout=60).stderr
    m = re.search(r"Stream #\S+.*?: Video: (\w+)[^,\n]*(?:, (\w+))?", out)
    return {"codec": m.group(1) if m else None, "pixels": (m.group(2) if m else None),
            "audio": bool(re.search(r"Stream #\S+.*?: Audio:", out))}


def browser_playable(path, max_seconds: float = 60.0) -> tuple[str, str | None]:
    """(path, None) when browsers play the video as it is; else (an H.264/AAC copy, a note saying why).

    Old MPEG-4 Part 2 (an .mp4 from an old camera), MJPEG or 4:4:4 pixels decode fine here but show a
    blank preview in a browser. The copy keeps the sound and the first `max_seconds`.
    """
    info = probe_video(path)
    if info["codec"] in BROWSER_CODECS and (info["pixels"] or "yuv420p") in BROWSER_PIXELS:
        return os.fspath(path), None
    folder = fresh_dir()
    out = os.path.join(folder, os.path.splitext(os.path.basename(os.fspath(path)))[0] + "_h264.mp4")
    cmd = [_ffmpeg(), "-y", "-loglevel", "error", "-i", os.fspath(path), "-t", f"{max_seconds:g}",
           "-map", "0:v:0", "-map", "0:a:0?", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", "-c:a", "aac",
           "-movflags", "+faststart", out]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0 or not os.path.isfile(out):
        raise MediaError(f"This video ({info['codec'] or 'an unknown codec'}) cannot be shown in a browser and "
                         f"could not be converted ({done.stderr.strip()[-200:] or 'ffmpeg failed'}). It may still "
                         "be usable: press the button to try.")
    what = f"{info['codec']}, {info['pixels']}" if info["pixels"] else str(info["codec"])
    return out, f"Your video ({what}) does not play in a browser: the preview is an H.264 copy."


@stages.timed("encoding")
def save_image(image: np.ndarray, name: str = "image.png") -> str:
    """Write an image losslessly into a fresh folder and return its path."""
    from PIL import Image

    path = os.path.join(fresh_dir(), name)
    Image.fromarray(to_rgb_uint8(image)).save(path)
    return path


@stages.timed("encoding")
def save_audio(audio: np.ndarray, sample_rate: int, name: str = "sound.wav") -> str:
    """Write mono float audio as 16-bit PCM wav into a fresh folder and return its path."""
    return _write_wav(os.path.join(fresh_dir(), name), audio, sample_rate)
