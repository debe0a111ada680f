"""AVOL-Net: the config, the two trunks, the per-location correspondence map and its loss. Read this first.

    v_xy = VisionNet(frame)[:, y, x]        a D-dim embedding per place, L2-normalised
    a    = AudioNet(log_spectrogram(wave))  one D-dim embedding, L2-normalised
    s_xy = alpha * <v_xy, a> + beta         calibration, alpha = exp(log_alpha) > 0
    p    = max_xy sigmoid(s_xy)             max-pool: multiple-instance learning
    L    = BCE(p, y), positives and negatives weighed 50/50

Shapes: B frames, A sounds, N audio samples, F frequency bins, T spectrogram
frames, D embedding, (h, w) the map (a quarter of the frame's side).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from core import common

SAMPLE_RATE = 16000          # = core.media.SAMPLE_RATE: every waveform is resampled to this rate
SECONDS = 1.0                # the audio window the network hears (as in L3-Net)
N_SAMPLES = int(SAMPLE_RATE * SECONDS)
N_FFT = 512                  # 32 ms window at 16 kHz -> 257 bins of 31.25 Hz
HOP = 256                    # 16 ms hop (half overlap, as the paper's 10 ms window with 5 ms hop)
N_BINS = N_FFT // 2 + 1
N_FRAMES = N_SAMPLES // HOP + 1          # 63 (centred frames)
DB_FLOOR = -100.0            # log of silence is clamped here
LEVEL_TARGET = 0.1           # level_norm brings each window to this RMS (-20 dB re full scale)
LEVEL_FLOOR = 10 ** (-50 / 20)   # windows quieter than -50 dB RMS get the gain of one at -50 dB: silence stays quiet


# --------------------------------------------------------------------- config

@dataclass
class Config:
    steps: int = 5000            # from scratch, real and generated scenes: ~55 min on a shared CPU thread (the card)
    seed: int = 0
    size: int = 64               # frame side the vision trunk sees: objects are 17-26 px, enough to tell apart
    dim: int = common.arch(32)   # D: six sound classes need few dimensions; small keeps the dot product cheap
    width: int = common.arch(32)  # base channels of both trunks (~0.28M parameters in all)
    batch: int = 24              # scenes per step; every frame meets every sound: 24 positives, ~280 negatives
    lr: float = 3e-3             # BatchNorm makes this high rate safe
    weight_decay: float = 1e-4   # on every parameter (BatchNorm and calibration included)
    optimizer: str = "adamw"     # decoupled weight decay
    betas: tuple = (0.9, 0.999)  # AdamW's defaults
    warmup: int = 100            # steps of linear warm-up: the max-pool picks noisy peaks at first
    warmup_div: int = 10         # this method's own cap (the loop's default is 5): warm-up <= steps // 10
    clip_grad: float = 0.0       # 0 = no clipping, as the shipped weights were trained
    silent_frac: float = 0.1     # near-silent sounds per step, as a share of the batch ("nothing sounds" is no match)
    photo_frac: float = 0.5      # share of scenes on real-photo backgrounds (the rest: dead leaves)
    max_objects: int = 3         # 1..max_objects objects per scene; two or more make localization a choice
    init_scale: float = 5.0      # alpha at start: cosine in [-1, 1] -> logits in [-5, 5], sigmoid not saturated
    level_norm: bool = True      # real recordings differ by 30 dB and more; holds no weights: a run may switch it on
    real_frac: float = 0.5       # share of each batch from real pictures, sounds and videos (the rest: generated)
    augment: bool = True         # level, band limit, reverb and background noise on the sounds of real items
    balance_real_negatives: bool = False  # real-vs-real negatives weigh as much as all others (see the loss)
    augment_generated: float = 0.0  # share of generated sounds augmented as real ones: no 'clean = generated' cue

    @classmethod
    def quick(cls) -> "Config":
        """The `--quick` preset: within 10 minutes on a 2-core CPU, evaluation included."""
        return cls(steps=1500, batch=16)


# --------------------------------------------------------------------- the audio front end

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


# --------------------------------------------------------------------- the network

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

    def __init__(self, width: int, dim: int, level_norm: bool = False):
        super().__init__()
        w = width
        self.level_norm = level_norm
        self.trunk = nn.Sequential(_conv(1, w // 2, 2), _conv(w // 2, w, 2), _conv(w, 2 * w, 2),
                                   _conv(2 * w, 2 * w, 2))
        f = N_BINS
        for _ in range(4):
            f = (f - 1) // 2 + 1                         # 257 -> 129 -> 65 -> 33 -> 17
        self.head = nn.Sequential(nn.Linear(2 * w * f, 2 * w), nn.ReLU(inplace=True), nn.Linear(2 * w, dim))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        if self.level_norm:
            wave = normalize_level(wave)
        spec = log_spectrogram(wave)[:, None]             # (B, 1, F, T) dB
        h = self.trunk((spec + 50.0) / 25.0)              # (B, C, F', T'): dB scaled to about [-2, 2]
        h = h.amax(dim=3).flatten(1)                      # (B, C * F')
        return self.head(h)                               # (B, D)


def normalize_level(wave: torch.Tensor) -> torch.Tensor:
    """Each window (B, N) scaled to RMS LEVEL_TARGET, with the gain capped at LEVEL_TARGET / LEVEL_FLOOR.

    A quiet webcam and a studio microphone then read alike, while near-silence
    (quieter than LEVEL_FLOOR) is raised by the cap only and stays well below a sound.
    """
    rms = wave.pow(2).mean(dim=-1, keepdim=True).sqrt()
    return wave * (LEVEL_TARGET / rms.clamp_min(LEVEL_FLOOR))


class AVOLNet(nn.Module):
    """AVOL-Net: per-location cosine between the vision map and the audio embedding, calibrated,
    sigmoid, global max-pool to the correspondence score."""

    def __init__(self, config: Config):
        super().__init__()
        self.config = config
        self.vision = VisionNet(config.width, config.dim)
        self.audio = AudioNet(config.width, config.dim, config.level_norm)
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
        """s_xy = alpha * sim + beta: monotone, so the map's peak stays where the max-pool found it."""
        return self.log_alpha.exp() * sim + self.beta

    def forward(self, frames: torch.Tensor, wave: torch.Tensor, labels: torch.Tensor | None = None,
                real_pairs: torch.Tensor | None = None):
        """frames (B, 3, H, W) in [0, 1], wave (B, N) -> dict(sim, logits, heat (B, h, w), score_logit (B,),
        score (B,)). With labels (B, A) (see data.pair_labels), wave is (A, N), every frame meets every
        sound, the maps are (B, A, h, w), the scores (B, A), and the loss is added (real_pairs: see
        correspondence_loss)."""
        sim = self.similarity(frames, wave, all_pairs=labels is not None)   # (B, h, w) or (B, A, h, w)
        logits = self.calibrate(sim)
        score_logit = logits.flatten(-2).amax(dim=-1)        # max-pool over places = multiple-instance learning
        out = dict(sim=sim, logits=logits, heat=torch.sigmoid(logits), score_logit=score_logit,
                   score=torch.sigmoid(score_logit))
        if labels is not None:
            out["loss"] = correspondence_loss(score_logit, labels, real_pairs)
        return out


def build_model(config: Config) -> AVOLNet:
    return AVOLNet(config)


# --------------------------------------------------------------------- the loss

def correspondence_loss(score_logit: torch.Tensor, labels: torch.Tensor,
                        real_pairs: torch.Tensor | None = None) -> torch.Tensor:
    """The audio-visual correspondence loss: BCE of the max-pooled score, positives and negatives 50/50.

    Args: score_logit (...,) = max_xy of the calibrated map (before the sigmoid);
    labels (...,) of the same shape: 1 = the frame's own audio, 0 = another
    scene's, -1 = ignored. Returns (mean BCE over positives + mean BCE over
    negatives) / 2: the paper's objective with half positives and half
    negatives, estimated from every pair in the batch rather than one sampled
    negative per frame (same expectation, less variance). Computed on logits.
    real_pairs (...,) bool, optional (Config.balance_real_negatives): pairs of a
    real frame and a real sound. The negative half is then (mean over those
    negatives + mean over all other negatives) / 2, so a batch's few real-vs-real
    negatives weigh as much as the many a domain cue alone rejects.
    """
    labels = labels.float()
    bce = F.binary_cross_entropy_with_logits(score_logit, labels.clamp(0, 1), reduction="none")
    pos, neg = labels == 1, labels == 0
    zero = score_logit.sum() * 0                        # keeps the graph when a batch lacks one kind
    loss_pos = bce[pos].mean() if pos.any() else zero
    loss_neg = bce[neg].mean() if neg.any() else zero
    if real_pairs is not None:
        hard, rest = neg & real_pairs.bool(), neg & ~real_pairs.bool()
        if hard.any() and rest.any():                   # one group missing: the plain mean above
            loss_neg = (bce[hard].mean() + bce[rest].mean()) / 2
    return (loss_pos + loss_neg) / 2


def balanced_accuracy(score_logit: torch.Tensor, labels: torch.Tensor) -> float:
    """(accuracy on positives + accuracy on negatives) / 2 at p = 0.5; ignored pairs (-1) left out."""
    pred = score_logit > 0
    accs = [(pred[labels == v] == bool(v)).float().mean() for v in (1, 0) if (labels == v).any()]
    return float(sum(accs) / len(accs)) if accs else float("nan")


def avc_loss(model: AVOLNet, frames: torch.Tensor, wave: torch.Tensor, labels: torch.Tensor,
             real_pairs: torch.Tensor | None = None):
    """One training step's objective for core.train.fit: every frame against every sound.

    frames (B, 3, H, W) in [0, 1], wave (A, N), labels (B, A) in {1, 0, -1}, real_pairs (B, A) bool or None
    (see correspondence_loss). Returns (correspondence_loss, {"acc": balanced accuracy of the pairs}, and
    with real_pairs "real_rejected": the share of real-vs-real negatives scored below 0.5).
    """
    out = model(frames, wave, labels, real_pairs)
    logit = out["score_logit"].detach()
    parts = {"acc": balanced_accuracy(logit, labels)}
    if real_pairs is not None and ((labels == 0) & real_pairs.bool()).any():   # the pairs the held-out test is made of
        parts["real_rejected"] = float((logit[(labels == 0) & real_pairs.bool()] < 0).float().mean())
    return out["loss"], parts
