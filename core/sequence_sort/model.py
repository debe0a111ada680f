"""The Order Prediction Network: the config, the 12 order classes, the network and its losses.

Read this file first. A tuple of 4 frames goes through one shared frame trunk;
a shared pair module compares each of the 6 frame pairs; a classifier reads the
6 pair features and names one of 12 orders (OPN's order prediction). A second
head on the same pair module answers Shuffle & Learn's question: are these 3
frames in temporal order?
"""
from __future__ import annotations

import dataclasses
import itertools

import torch
import torch.nn as nn
import torch.nn.functional as F

from core import common


@dataclasses.dataclass
class Config:
    steps: int = 4000             # the shipped recipe (docs/experiments/sequence_sort.md: how it was chosen)
    seed: int = 0
    size: int = common.arch(64)   # frame side the trunk sees: motion of a few pixels is still visible
    jitter: int = 3               # per-frame crop offset, +-px (OPN: +-5 at 80 px): the frames' own positions
                                  # cannot be compared, only what moved relative to the scene
    jitter_warmup: float = 0.25   # this method's own schedule: jitter ramps up from 0 over this fraction of
                                  # training, since the order task takes off sooner on clean tuples
    width: int = common.arch(16)  # trunk channels 16-32-32-64-64: fast enough for a third of a core
    pair_dim: int = common.arch(128)  # fc7 per frame pair
    batch: int = 32               # tuples per step, each shown in all 24 orders
    lr: float = 2e-3              # peak of the warm-up then cosine schedule
    warmup: int = 150             # warm-up steps, at most steps // warmup_div
    warmup_div: int = 5           # short runs (the tab's live training) warm up for a fifth of their steps
    weight_decay: float = 1e-4    # on every parameter (no exemptions)
    optimizer: str = "adamw"      # AdamW with torch's default betas
    betas: tuple = (0.9, 0.999)
    clip_grad: float = 0.0        # no gradient clipping: batch norm keeps the steps tame
    verify_weight: float = 0.5    # the Shuffle & Learn head's share of the loss
    p_synthetic: float = 0.25     # where tuples come from: sprite videos (learned first, and fast) ...
    p_photo: float = 0.35         # ... virtual camera moves over still photos (pans, zooms, turns: the
                                  # motion of most real footage, the held-out clips included) ...
    p_real: float = 0.4           # ... and real training clips, motion-aware sampled
    synth_pool: int = 128         # sprite clips kept in memory; one is replaced every 3 steps
    strides: tuple = (1, 2, 3, 4)  # frame gaps tried for real clips (15 fps); motion-aware ranking picks
    keep_top: float = 0.5         # keep the windows whose motion energy is in the top half of their clip
    long_sources: bool = False    # read 4 training clips whole from their source videos (data/sources/)
    real_clips: bool = False      # also the REAL_CLIPS train clips (core/real_clips.py) where fetched
    photos: int = 60              # still photos for virtual camera moves (0: frames of training clips only)

    @classmethod
    def quick(cls) -> "Config":
        """The --quick preset: 1500 steps, about 8 minutes on 2 idle CPU cores; it already beats the
        baselines clearly, since the task leaves chance within a few hundred steps."""
        return cls(steps=1500)


# --------------------------------------------------------------------- the 12 order classes

# ORDERS[k]: class k means the frames shown are original[ORDERS[k]] or its reverse.
# One representative per {p, reversed p}: the one whose first index is below its last.
ORDERS: list[tuple[int, int, int, int]] = [p for p in itertools.permutations(range(4)) if p[0] < p[3]]
PAIRS: tuple[tuple[int, int], ...] = ((0, 1), (1, 2), (2, 3), (0, 2), (1, 3), (0, 3))
TRIPLET_PAIRS: tuple[tuple[int, int], ...] = ((0, 1), (1, 2), (0, 2))
_CLASS_OF = {**{p: k for k, p in enumerate(ORDERS)}, **{p[::-1]: k for k, p in enumerate(ORDERS)}}

# Training shows every tuple in all 24 orders at once: the trunk runs once per frame, the pair
# module once per ordered pair (12), and each shown order gathers its 6 pair features from those.
ALL_PERMS: list[tuple[int, ...]] = list(itertools.permutations(range(4)))
ORDERED_PAIRS: list[tuple[int, int]] = [(i, j) for i in range(4) for j in range(4) if i != j]
_PAIR_INDEX = {p: n for n, p in enumerate(ORDERED_PAIRS)}
# Shuffle & Learn questions from one tuple: each 3 of the 4 frames, in each of their 6 orders;
# in order (label 1) when the middle frame lies between the other two in time.
ALL_TRIPLETS: list[tuple[int, int, int]] = [tuple(sub[i] for i in o) for sub in itertools.combinations(range(4), 3)
                                            for o in itertools.permutations(range(3))]
TRIPLET_LABELS: list[int] = [int(min(t[0], t[2]) < t[1] < max(t[0], t[2])) for t in ALL_TRIPLETS]


def order_class(perm) -> int:
    """The class of a shown order: perm[j] = which original frame is shown at position j."""
    key = tuple(int(i) for i in perm)
    if key not in _CLASS_OF:
        raise ValueError(f"an order of 4 frames is a permutation of 0..3, got {perm}")
    return _CLASS_OF[key]


def time_reversed_class(perm) -> int:
    """The class of the same shuffle of the clip played backwards: original[p] of the reversed
    clip is original[3 - p]. When motion looks the same both ways (a pan, a sprite drifting),
    no network can tell this class from order_class(perm)."""
    return order_class([3 - int(i) for i in perm])


# --------------------------------------------------------------------- the network

def _cbr(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class OrderNet(nn.Module):
    """Shared frame trunk -> pairwise features over frame pairs -> 12-way order classifier (+ S&L head).

    trunk: (N, 3, S, S) -> (N, C, S/8, S/8) with C = 4 * width; pair: two maps -> (D,) fc7;
    order head: 6 pair features -> 12 logits; verify head: 3 pair features -> 2 logits.
    """

    def __init__(self, config: Config):
        super().__init__()
        self.config = config
        w, s = config.width, config.size // 16
        self.trunk = nn.Sequential(_cbr(3, w, 2), _cbr(w, 2 * w, 2), _cbr(2 * w, 2 * w, 1),
                                   _cbr(2 * w, 4 * w, 2), _cbr(4 * w, 4 * w, 1))
        self.pair = nn.Sequential(_cbr(8 * w, 4 * w, 2), nn.Flatten(),
                                  nn.Linear(4 * w * s * s, config.pair_dim), nn.ReLU(inplace=True))
        self.order_head = nn.Sequential(nn.Dropout(0.3), nn.Linear(len(PAIRS) * config.pair_dim, len(ORDERS)))
        self.verify_head = nn.Sequential(nn.Linear(len(TRIPLET_PAIRS) * config.pair_dim, 64), nn.ReLU(inplace=True),
                                         nn.Linear(64, 2))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Frame trunk: (B, T, 3, S, S) -> (B, T, C, S/8, S/8)."""
        B, T = x.shape[:2]
        f = self.trunk(x.flatten(0, 1))                                      # (B*T, C, S/8, S/8)
        return f.view(B, T, *f.shape[1:])

    def pair_features(self, f: torch.Tensor, pairs) -> torch.Tensor:
        """fc7 of each pair (i, j): f (B, T, C, h, w) -> (B, P, D), one pass for all pairs."""
        i = torch.tensor([p[0] for p in pairs], device=f.device)
        j = torch.tensor([p[1] for p in pairs], device=f.device)
        B, P = f.shape[0], len(pairs)
        both = torch.cat([f[:, i], f[:, j]], dim=2)                          # (B, P, 2C, h, w)
        return self.pair(both.flatten(0, 1)).view(B, P, -1)

    def order_logits(self, f: torch.Tensor) -> torch.Tensor:
        """(B, 4, C, h, w) trunk maps in the order shown -> (B, 12)."""
        return self.order_head(self.pair_features(f, PAIRS).flatten(1))

    def verify_logits(self, f: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Is the triplet f[positions] in order? f (B, T, C, h, w), positions (B, 3) -> (B, 2)."""
        idx = positions.to(f.device)[:, :, None, None, None].expand(-1, -1, *f.shape[2:])
        trip = torch.gather(f, 1, idx)                                       # (B, 3, C, h, w)
        return self.verify_head(self.pair_features(trip, TRIPLET_PAIRS).flatten(1))

    def all_order_logits(self, f: torch.Tensor) -> torch.Tensor:
        """Order logits for every way to show a tuple: f (B, 4, C, h, w) in time order -> (B, 24, 12).

        Row n is the tuple shown as f[ALL_PERMS[n]]; equal to order_logits(f[:, ALL_PERMS[n]])
        but with the pair module run once per ordered pair.
        """
        pf = self.pair_features(f, ORDERED_PAIRS)                            # (B, 12, D)
        idx = torch.tensor([[_PAIR_INDEX[(p[a], p[b])] for a, b in PAIRS] for p in ALL_PERMS], device=f.device)
        return self.order_head(pf[:, idx].flatten(2))                        # (B, 24, 6*D) -> (B, 24, 12)

    def all_triplet_logits(self, f: torch.Tensor) -> torch.Tensor:
        """Verification logits for every triplet question (ALL_TRIPLETS): f (B, 4, C, h, w) -> (B, 24, 2)."""
        pf = self.pair_features(f, ORDERED_PAIRS)                            # (B, 12, D)
        idx = torch.tensor([[_PAIR_INDEX[(t[a], t[b])] for a, b in TRIPLET_PAIRS] for t in ALL_TRIPLETS],
                           device=f.device)
        return self.verify_head(pf[:, idx].flatten(2))                       # (B, 24, 3*D) -> (B, 24, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 4, 3, S, S) frames in the order shown -> (B, 12) order logits."""
        return self.order_logits(self.features(x))


def build_model(config: Config) -> OrderNet:
    return OrderNet(config)


# --------------------------------------------------------------------- the losses

def order_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """OPN's objective: cross-entropy over the 12 order classes. logits (..., 12), labels (...)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))


def verify_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Shuffle & Learn's objective: in order or not, as a 2-way cross-entropy, the two sides weighted
    equally (of the 24 questions per tuple only 8 are in order). logits (..., 2), labels (...)."""
    y = labels.reshape(-1)
    pos = y.float().mean().clamp(1e-3, 1 - 1e-3)
    weight = torch.stack([0.5 / (1 - pos), 0.5 / pos]).to(logits.dtype)
    return F.cross_entropy(logits.reshape(-1, 2), y, weight=weight)


def sort_and_verify_loss(model: OrderNet, x: torch.Tensor, verify_weight: float):
    """The training objective on tuples x (B, 4, 3, S, S) in time order, each shown in all 24 orders:
    order_loss + verify_weight * verify_loss.

    Returns (loss, parts): parts holds order_loss, acc (12-way, over the 24 shown orders),
    verify_loss and verify_acc (balanced: the mean of the accuracies on the two sides).
    """
    B = x.shape[0]
    labels = torch.tensor([order_class(p) for p in ALL_PERMS], device=x.device).expand(B, -1)     # (B, 24)
    tlabels = torch.tensor(TRIPLET_LABELS, device=x.device).expand(B, -1)                        # (B, 24)
    f = model.features(x)                                                    # (B, 4, C, h, w)
    logits, vlogits = model.all_order_logits(f), model.all_triplet_logits(f)  # (B, 24, 12), (B, 24, 2)
    lo, lv = order_loss(logits, labels), verify_loss(vlogits, tlabels)
    vhit = (vlogits.argmax(-1) == tlabels).float()
    return lo + verify_weight * lv, {
        "order_loss": lo.detach(), "acc": (logits.argmax(-1) == labels).float().mean(),
        "verify_loss": lv.detach(), "verify_acc": 0.5 * (vhit[tlabels == 1].mean() + vhit[tlabels == 0].mean())}
