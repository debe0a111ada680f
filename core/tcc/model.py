"""TCC's model: the Config, the per-frame encoder, and the cycle-back losses of the paper.

Read this file first. The encoder turns each frame (with one context frame a
little before it, never a time stamp) into a D-vector; the losses ask the soft
cycle U -> V -> U to come back to the frame it started from.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from core import common

LOSSES = ("regression_var", "regression", "classification")
HEADS = ("keypoints", "avgmax", "flatten")
NORMS = ("video", "none")


# --------------------------------------------------------------------- config

@dataclass
class Config:
    steps: int = 4000                 # the shipped recipe (docs/experiments/tcc.md)
    seed: int = 0                     # the initial weights and the data draws follow it
    # the network (a continued model keeps its own values of these)
    size: int = common.arch(64)       # input side in px: the stick figure's limbs stay 1-2 px wide
    width: int = common.arch(16)      # channels of the first conv; doubled twice (16-32-64)
    dim: int = common.arch(64)        # embedding D (paper 128): 4 phases need far fewer
    head: str = common.arch("keypoints")  # one of HEADS: how the conv map becomes a vector
    norm: str = common.arch("video")  # one of NORMS, the embedding's last step: see video_norm
    mirror: bool = common.arch(True)  # embed a frame and its mirror image alike: see FrameEncoder.forward
    context: int = common.arch(2)     # also show the frame this many frames earlier (0: the frame alone)
    # the data (core/tcc/data.py)
    videos_per_batch: int = 4         # B: B(B-1) = 12 ordered pairs per step, more cycles per frame
    frames_per_video: int = 20        # T frames sampled per video (official: 20)
    render_frames: tuple = (32, 64)   # rendered video length range: sampled frames are unevenly spaced
    pace: tuple = (0.6, 1.7)          # pace range (log-uniform) of the rendered throw
    pool: int = 160                   # rendered videos kept in memory (rendering is slower than a step)
    refresh_every: int = 2            # replace one pool video every this many steps: fresh seeds all along
    takes: float = 0.0                # share of batches made of two takes (paces) of each scene: see ClipPool
    crop: float = 0.8                 # random crop keeps at least this fraction of each side
    real_pairs: float = 0.0           # share of batches made of two views (own span, crop, colour) of each of
                                      # two real train clips (core.sources.training_clips with REAL_CLIPS)
    # the loss
    loss: str = "regression"          # one of LOSSES; plain regression takes off from scratch, the
                                      # variance-weighted "regression_var" (official default) stays flat long
    temperature: float = 0.1          # softmax temperature on distance / D (official)
    variance_lambda: float = 0.001    # weight of log variance, only for loss="regression_var" (official)
    label_smoothing: float = 0.1      # only for loss="classification" (official)
    # the optimizer (core.train.fit)
    lr: float = 1e-3                  # official 1e-4 with a pretrained ResNet; ours starts cold
    weight_decay: float = 1e-5        # light: the training throws are fresh renders
    warmup: int = 200                 # steps of linear warm-up before the cosine decay
    warmup_div: int = 5               # warm-up is at most steps // warmup_div
    optimizer: str = "adamw"          # or "adam" (core.train.make_optimizer)
    betas: tuple = (0.9, 0.999)       # Adam's usual betas
    clip_grad: float = 5.0            # max gradient norm (0: none)
    val_every: int = 250              # Kendall's tau on 4 validation throws every this many steps (0: never)

    @classmethod
    def quick(cls) -> "Config":
        # the 10-minute CPU preset: two takes of a scene in half the batches help a cold start
        return cls(steps=1000, pool=96, takes=0.5)


# --------------------------------------------------------------------- the network

def _block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
                         nn.GroupNorm(min(8, cout // 4), cout), nn.ReLU(inplace=True))


def context_indices(idx: np.ndarray, stride: int) -> np.ndarray:
    """The context frame of each frame: `stride` frames earlier, clamped at the first frame: (T,) -> (T,).

    As the official code's context frames: the encoder sees a frame and one
    a little before it (so motion, and what is static background), never
    where in the video they are.
    """
    return np.maximum(np.asarray(idx) - stride, 0)


class FrameEncoder(nn.Module):
    """Per-frame encoder: (N, C, H, W) in [0, 1] -> (N, D), C = 3, or 6 with a context frame.

    Sees one frame (and its context frame), never its time.
    """

    def __init__(self, config: Config):
        super().__init__()
        w = config.width
        self.trunk = nn.Sequential(
            _block(6 if config.context else 3, w, 2), _block(w, w, 1),   # (N, w, H/2, W/2)
            _block(w, 2 * w, 2), _block(2 * w, 2 * w, 1),   # (N, 2w, H/4, W/4)
            _block(2 * w, 4 * w, 2), _block(4 * w, 4 * w, 1),  # (N, 4w, H/8, W/8)
        )
        c = 4 * w
        if config.head == "avgmax":
            # the mean says what is there, the max how strongly a part lights up
            feat = 2 * c
        elif config.head == "keypoints":
            # spatial soft-argmax (one expected (x, y) per channel) plus the mean:
            # a pose is WHERE the parts are, which global pooling throws away
            feat = 3 * c
        elif config.head == "flatten":
            feat = 16 * (config.size // 8) ** 2
            self.reduce = nn.Conv2d(c, 16, 1)
        else:
            raise ValueError(f"unknown head {config.head!r}; choose one of {HEADS}")
        self.kind, self.norm, self.mirror = config.head, config.norm, config.mirror
        if config.norm not in NORMS:
            raise ValueError(f"unknown norm {config.norm!r}; choose one of {NORMS}")
        self.head = nn.Sequential(nn.Linear(feat, 128), nn.ReLU(inplace=True), nn.Linear(128, config.dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, D). With config.mirror, h(x) + h(flip x): a mirror-invariant embedding.

        Why: a thrower facing left runs the action right to left. An encoder
        that reads where things are (the ball's x) can then align a mirrored
        video in REVERSE, and the cycles still come back (any one-to-one
        matching is cycle-consistent). Summing over the mirror removes that
        reading of x.
        """
        if not self.mirror:
            return self.embed_one(x)
        N = x.shape[0]
        e = self.embed_one(torch.cat([x, x.flip(-1)]))              # (2N, D)
        return e[:N] + e[N:]

    def embed_one(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, D), this frame as it is (no mirror)."""
        f = self.trunk(x - 0.5)                                     # (N, C', h, w)
        if self.kind == "avgmax":
            f = torch.cat([f.mean(dim=(2, 3)), f.amax(dim=(2, 3))], 1)   # (N, 2C')
        elif self.kind == "keypoints":
            N, C, h, w = f.shape
            attn = torch.softmax(f.flatten(2), -1).view(N, C, h, w)      # (N, C', h, w)
            ys = torch.linspace(-1, 1, h, device=f.device, dtype=f.dtype)
            xs = torch.linspace(-1, 1, w, device=f.device, dtype=f.dtype)
            ky = (attn.sum(3) * ys).sum(-1)                            # (N, C')
            kx = (attn.sum(2) * xs).sum(-1)                            # (N, C')
            f = torch.cat([f.mean(dim=(2, 3)), kx, ky], 1)            # (N, 3C')
        else:
            f = self.reduce(f).flatten(1)                             # (N, 16 h w)
        return self.head(f)                                          # (N, D)


def video_norm(e: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Centre each video's embeddings on their mean and scale them to unit RMS: (..., T, D) -> (..., T, D).

    Why: from scratch, what differs most between two videos is their look
    (background, colours), and that offset swamps the small differences
    between frames of one video: every frame of U then finds the same extreme
    frame of V, every softmax is flat, and the cycle loss sits at its trivial
    value. Removing each video's mean removes the offset; the unit scale gives
    the softmax a usable range from the first step. The mean over frames says
    nothing about which frame is which, so no time position leaks in.
    """
    e = e - e.mean(dim=-2, keepdim=True)
    return e / e.pow(2).mean(dim=(-2, -1), keepdim=True).add(eps).sqrt()


class TCCModel(nn.Module):
    """Embeds each frame of a batch of clips: (B, T, C, H, W) -> (B, T, D), C = 3, or 6 with a context frame."""

    def __init__(self, config: Config):
        super().__init__()
        self.config = config
        self.encoder = FrameEncoder(config)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        B, T = clips.shape[:2]
        e = self.encoder(clips.flatten(0, 1)).view(B, T, -1)        # (B, T, D)
        return video_norm(e) if self.config.norm == "video" else e


def build_model(config: Config) -> TCCModel:
    return TCCModel(config)


# --------------------------------------------------------------------- the loss

def scaled_similarity(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """-||a_n - b_m||^2 / D / temperature for every pair: a (..., N, D), b (..., M, D) -> (..., N, M).

    Dividing by D keeps the logits' scale independent of the embedding size
    (official code); the difference is taken directly rather than through
    |a|^2 + |b|^2 - 2ab, which can go slightly negative in float32.
    """
    d = (a.unsqueeze(-2) - b.unsqueeze(-3)).pow(2).sum(-1)           # (..., N, M)
    return -d / a.shape[-1] / temperature


def soft_nearest_neighbour(u: torch.Tensor, v: torch.Tensor, temperature: float
                           ) -> tuple[torch.Tensor, torch.Tensor]:
    """The soft nearest neighbour in V of each frame of U.

    Args:
        u: (..., N, D) embeddings of video U.
        v: (..., M, D) embeddings of video V.
    Returns:
        v_tilde (..., N, D) = sum_j alpha_j v_j, and alpha (..., N, M) = softmax_j(similarity(u_i, v_j)).
    """
    alpha = torch.softmax(scaled_similarity(u, v, temperature), dim=-1)  # (..., N, M)
    return alpha @ v, alpha


def cycle_back_logits(u: torch.Tensor, v: torch.Tensor, temperature: float) -> torch.Tensor:
    """Logits of the cycle U -> V -> U: (..., N, D), (..., M, D) -> (..., N, N); row i started at u_i."""
    v_tilde, _ = soft_nearest_neighbour(u, v, temperature)
    return scaled_similarity(v_tilde, u, temperature)


def all_pairs_logits(emb: torch.Tensor, temperature: float) -> torch.Tensor:
    """Cycle-back logits for every ordered pair (i, j), i != j, of a batch: (B, T, D) -> (B(B-1), T, T).

    Pair p = (i, j) cycles from video i through video j and back; pairs in the
    order i = 0..B-1, then j = 0..B-1 skipping j = i (as the official code).
    """
    B = emb.shape[0]
    i, j = zip(*[(i, j) for i in range(B) for j in range(B) if i != j])
    return cycle_back_logits(emb[list(i)], emb[list(j)], temperature)


def cycle_back_classification(logits: torch.Tensor, target: torch.Tensor, label_smoothing: float = 0.1
                              ) -> torch.Tensor:
    """Cycle-back classification: cross-entropy of returning to the start frame.

    logits (R, K), target (R,) int -> scalar, the mean over rows.
    """
    return F.cross_entropy(logits, target, label_smoothing=label_smoothing)


def cycle_back_regression(logits: torch.Tensor, target: torch.Tensor, times: torch.Tensor,
                          variance_lambda: float = 0.001, variance: bool = True, log: str = "variance"
                          ) -> torch.Tensor:
    """Cycle-back regression: regress the time the cycle comes back to onto the start frame's time.

    beta = softmax(logits), mu = sum_k beta_k t_k, sigma^2 = sum_k beta_k (t_k - mu)^2.
    With `variance`, the paper's variance-weighted form: L = |t_i - mu|^2 / sigma^2 + lambda * log(sigma^2)
    (log="variance", as the official code) or + lambda * log(sigma) (log="sigma", as the paper
    writes it); without, the official code's regression_mse: L = |t_i - mu|^2. The mean over rows.

    Args:
        logits: (R, K) scores of the cycle coming back to each of K frames.
        target: (R,) int, the frame each cycle started from.
        times: (R, K) float, the time of each of the K frames (normalised by length).
    """
    if log not in ("variance", "sigma"):
        raise ValueError(f"log must be 'variance' or 'sigma', got {log!r}")
    beta = torch.softmax(logits, dim=-1)                             # (R, K)
    mu = (beta * times).sum(-1)                                      # (R,)
    true = times.gather(-1, target[:, None])[:, 0]                   # (R,)
    err = (true - mu).pow(2)
    if not variance:
        return err.mean()
    var = (beta * (times - mu[:, None]).pow(2)).sum(-1)              # (R,)
    # a floor on the variance: a fully peaked beta would give 0/0 and log 0
    log_var = torch.log(var.clamp_min(1e-12))
    reg = log_var if log == "variance" else 0.5 * log_var
    return (torch.exp(-log_var) * err + variance_lambda * reg).mean()


def tcc_loss(emb: torch.Tensor, times: torch.Tensor, config: Config) -> tuple[torch.Tensor, dict]:
    """The TCC loss over all B(B-1) ordered pairs of a batch, and the share of cycles that come back.

    config.loss picks the variant: "regression" (the default: |t_i - mu|^2, the official
    code's regression_mse), "regression_var" (divided by the cycle's variance, plus
    lambda log variance: the official default) or "classification" (cross-entropy).

    Args:
        emb: (B, T, D) frame embeddings of B videos.
        times: (B, T) normalised time of each sampled frame.
    Returns:
        loss (scalar) and {"acc": fraction of cycles whose argmax returns to the start frame}.
    """
    B, T, _ = emb.shape
    if B < 2:
        raise ValueError("TCC needs at least two videos per batch")
    logits = all_pairs_logits(emb, config.temperature)               # (P, T, T)
    P = logits.shape[0]
    logits = logits.reshape(P * T, T)                                 # (R, T), R = P T
    target = torch.arange(T, device=emb.device).repeat(P)            # (R,)
    starts = [i for i in range(B) for j in range(B) if i != j]
    row_times = times[starts].unsqueeze(1).expand(P, T, T).reshape(P * T, T)   # (R, T): the start video's
    if config.loss == "classification":
        loss = cycle_back_classification(logits, target, config.label_smoothing)
    elif config.loss in ("regression_var", "regression"):
        loss = cycle_back_regression(logits, target, row_times, config.variance_lambda,
                                     variance=config.loss == "regression_var")
    else:
        raise ValueError(f"unknown loss {config.loss!r}; choose one of {LOSSES}")
    with torch.no_grad():
        acc = float((logits.argmax(-1) == target).float().mean())
    return loss, {"acc": acc}
