"""The colourizer: its Config, the network that embeds grey frames, the pointer A_ij and the colorization loss.

Read this file first. A tuple of grey frames goes through `ColorizationNet`
(one feature vector per 4x4 cell); each frame's cells point into the other
frames' cells with `pointer`, copy their colour clusters, and
`colorization_loss` scores the copied colours against the true ones.
`tuple_loss` puts the three together for one training batch.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from core import common

STRIDE = 4                             # the trunk's output stride: features at 1/4 of the input


@dataclass
class Config:
    steps: int = 3500                 # the shipped recipe; Config.quick() is the 10-minute one
    seed: int = 0                     # seeds the weights, the colour clusters and the data
    size: int = 64                    # training crop side: cheap on a CPU, still holds 2-3 sprites
    batch: int = 8                    # tuples per step (each 3 references + 1 target = 32 frames)
    n_refs: int = 3                   # reference frames per tuple, as in the paper
    max_gap: int = 3                  # frames between consecutive tuple frames, drawn from 1..max_gap
    width: int = common.arch(64)      # channels of the trunk at stride 4
    dim: int = common.arch(64)        # embedding size D of the pointer's features (paper: 64)
    dilations: tuple = common.arch((1, 2, 4))   # one residual block each: a receptive field of ~120 px,
                                      # enough context to tell apart sprites alike in grey, cheap at stride 4
    n_colors: int = common.arch(16)   # k-means clusters of Lab ab (paper: 16); their centres are a buffer
    kmeans_frames: int = common.arch(400)   # training frames whose ab pixels fitted the stored centres
    optimizer: str = "adam"           # Adam with L2 weight decay (not AdamW's decoupled decay)
    betas: tuple = (0.9, 0.999)       # Adam's usual defaults
    lr: float = 2e-3                  # batch norm keeps Adam stable at this rate
    weight_decay: float = 1e-4        # on every parameter (no exceptions)
    warmup: int = 200                 # steps of linear warm-up before the cosine decay
    warmup_div: int = 5               # warm-up is at most steps // 5, so short runs still decay
    clip_grad: float = 5.0            # max gradient norm (0 = none): a guard against a rare huge step
    synthetic_frac: float = 0.85      # share of tuples from sprite videos; the rest come from the bundled
                                      # train clips, mostly still scenes: too easy on their own
    real_clips: bool = False          # also the REAL_CLIPS train clips in colour (core/real_clips.py)
    gen_sizes: tuple = (96, 128)      # sprite canvases cropped to `size`: sprites at and below the test scale
    lookalike_frac: float = 0.7       # share of sprite videos whose sprites share one grey level: they
                                      # force the features to tell sprites apart by texture and shape
    gain_jitter: float = 0.25         # per-frame brightness jitter of the grey input: lighting changes
    train_temperature: float = 1.0    # the paper trains the pointer at temperature 1
    all_targets: bool = True          # colour each tuple frame from the other 3 in turn: 4x the supervision
                                      # per feature computation, which is what costs on a CPU
    # inference (tracking and colourization)
    infer_side: int = 160             # larger frames are shrunk so their longer side is this (cost)
    test_normalize: bool = True       # unit-length features at test: a cosine pointer (the paper: raw dots
                                      # at 0.5), chosen on training-side videos, never the held-out ones
    test_temperature: float = 0.05    # the pointer is sharpened at test; 0.05 suits unit-length features
    topk: int = 10                    # reference positions each target position keeps
    n_recent: int = 3                 # recent frames (with predicted labels) in the reference
    radius: int = 4                   # local search window around each position, in feature cells (16 px;
                                      # sprites move at most 5 px a frame)
    raw_temperature: float = 0.01     # for the raw-pixel baseline's -|x_i - x_j|^2 (Lab / 100 units)

    @classmethod
    def quick(cls) -> "Config":
        """The preset that trains within 10 minutes on a 2-core CPU."""
        return cls(steps=700, warmup=100)


# ===================================================================== the network

def _conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, dilation * (k // 2), dilation=dilation, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ResBlock(nn.Module):
    """Two dilated 3x3 convs with a skip: more context at the same resolution."""

    def __init__(self, c: int, dilation: int):
        super().__init__()
        self.a = _conv_bn(c, c, dilation=dilation)
        self.b = nn.Sequential(nn.Conv2d(c, c, 3, 1, dilation, dilation=dilation, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        return F.relu(x + self.b(self.a(x)))


class ColorizationNet(nn.Module):
    """Grey frame (B, 1, H, W) -> features (B, D, H/4, W/4); holds the colour clusters (K, 2) as a buffer."""

    def __init__(self, config: Config):
        super().__init__()
        self.config = config
        w = config.width
        self.stem = nn.Sequential(_conv_bn(1, 32, 5, stride=2), _conv_bn(32, 32), _conv_bn(32, w, stride=2))
        self.blocks = nn.Sequential(*[ResBlock(w, d) for d in config.dilations])
        self.head = nn.Conv2d(w, config.dim, 1)
        self.register_buffer("centres", torch.zeros(config.n_colors, 2))   # Lab ab, fitted by k-means

    def forward(self, grey: torch.Tensor) -> torch.Tensor:
        x = (grey - 0.5) * 4.0                    # roughly zero-mean, unit-scale input
        return self.head(self.blocks(self.stem(x)))           # (B, D, H/4, W/4)


def build_model(config: Config) -> ColorizationNet:
    """A fresh network; its colour centres are zeros until `train` fits them."""
    return ColorizationNet(config)


# ===================================================================== the pointer and the loss

def pointer(f_target: torch.Tensor, f_ref: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """The paper's A: softmax over reference positions of inner products.

    f_target (B, D, N), f_ref (B, D, M) -> A (B, N, M); row j (a target
    position) sums to one over the M reference positions i:
    A_ij = exp(f_i . f_j / tau) / sum_k exp(f_k . f_j / tau).
    """
    logits = torch.einsum("bdn,bdm->bnm", f_target, f_ref) / temperature
    return logits.softmax(dim=-1)


def colorization_loss(A: torch.Tensor, ref_colors: torch.Tensor, target_colors: torch.Tensor,
                      n_colors: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of the pointed colours y_j = sum_i A_ij c_i against the target's true clusters.

    Args:
        A: (B, N, M) pointer, rows sum to one.
        ref_colors: (B, M) long, cluster of each reference position.
        target_colors: (B, N) long, true cluster of each target position.
        n_colors: K, the number of colour clusters.
    Returns:
        (loss, accuracy): mean -log y_j[true], and how often argmax y_j is the true cluster.
    """
    onehot = F.one_hot(ref_colors, n_colors).to(A.dtype)                 # (B, M, K)
    y = A @ onehot                                                        # (B, N, K)
    # a colour absent from the references has y = 0: clamp so its loss is large but finite
    loss = -torch.log(y.gather(-1, target_colors.unsqueeze(-1)).clamp_min(1e-6)).mean()
    acc = (y.argmax(-1) == target_colors).float().mean()
    return loss, acc


def tuple_loss(model: ColorizationNet, grey: torch.Tensor, colors: torch.Tensor, temperature: float = 1.0,
               all_targets: bool = False) -> tuple[torch.Tensor, dict]:
    """The training objective on a batch of tuples: colour a frame of each tuple from the others.

    Args:
        grey: (B, F, 1, S, S) grey frames in [0, 1], the network's only input.
        colors: (B, F, S/4, S/4) long, the true colour cluster of each feature cell.
        temperature: the pointer's during training (the paper: 1).
        all_targets: colour every frame of the tuple from the other F-1 in turn
            (F times the supervision for the same feature maps); False colours
            only the last, as the paper does.
    Returns:
        (mean colorization loss over the targets, {"acc": mean colour accuracy}).
    """
    B, Fn = grey.shape[:2]
    feats = model(grey.flatten(0, 1))                                     # (B*F, D, h, w)
    D, h, w = feats.shape[1:]
    feats = feats.view(B, Fn, D, h * w)
    colors = colors.reshape(B, Fn, h * w)
    losses, accs = [], []
    for tgt in (range(Fn) if all_targets else [Fn - 1]):
        refs = [r for r in range(Fn) if r != tgt]
        f_ref = feats[:, refs].permute(0, 2, 1, 3).reshape(B, D, (Fn - 1) * h * w)   # (B, D, M)
        A = pointer(feats[:, tgt], f_ref, temperature)                              # (B, N, M)
        loss, acc = colorization_loss(A, colors[:, refs].reshape(B, -1), colors[:, tgt], model.config.n_colors)
        losses.append(loss)
        accs.append(acc)
    return torch.stack(losses).mean(), {"acc": torch.stack(accs).mean()}
