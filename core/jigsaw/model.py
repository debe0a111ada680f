"""The jigsaw network and its loss: read this file first.

- `Config`: the shipped recipe, one line of why per field.
- The permutation set (the paper's Algorithm 1): the classes the network chooses among.
- `ContextFreeNetwork`: one trunk shared by the nine tiles, a per-tile embedding (fc6),
  concatenation in puzzle order, fc7 and a classifier over the set (fc8).
- `jigsaw_loss`: cross-entropy over the permutation set; `puzzle_loss` applies it to
  several puzzles per image that share the image's tile embeddings.

Shapes: B images, K puzzles per image, P permutations in the set, D embedding,
t tile side in pixels; tiles are indexed 0..8 row by row.
"""
from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from core import common

GRID = 3
N_CELLS = GRID * GRID


# --------------------------------------------------------------------- config

@dataclass
class Config:
    steps: int = 4500               # the shipped recipe; quick() is the short CPU preset
    seed: int = 0                   # initial weights and the data drawn (each torchrun rank offsets its data)
    n_perms: int = common.arch(100)     # the paper's small set; 1000 possible
    perm_seed: int = common.arch(0)     # seeds Algorithm 1's first pick and its ties: fixes the classes
    cell: int = 19                  # grid cell in pixels: crops are 3 * cell = 57 px
    tile: int = common.arch(16)     # tile cropped inside each cell: 16/19 ~ the paper's 64/75 gap
    widths: tuple = common.arch((32, 64, 128, 128))     # trunk conv channels; small enough for a shared CPU
    embed: int = common.arch(128)   # fc6: per-tile embedding
    hidden: int = common.arch(512)  # fc7: after concatenating the nine embeddings
    dropout: float = 0.3            # on fc7, as the paper's fc layers: ~185 scenes overfit easily
    batch: int = 32                 # images per step
    perms_per_image: int = 8        # puzzles per image sharing its tile embeddings (8x the labels per trunk pass)
    lr: float = 2e-3                # AdamW peak; batch norm makes it stable
    weight_decay: float = 0.05      # on weights only: biases and batch-norm scales get none
    optimizer: str = "adamw"        # decoupled weight decay: the recipe was tuned with it
    betas: tuple = (0.9, 0.999)     # torch's defaults
    warmup: int = 500               # the task sits at chance for a while; warm-up avoids an early collapse
    warmup_div: int = 4             # this method's own cap: warm-up at most steps // 4 (the loop's default is 5)
    clip_grad: float = 0.0          # 0 = none: the shipped recipe trained without clipping
    min_scale: float = 0.3          # smallest crop side, as a fraction of the image's short side
    p_grey: float = 0.3             # random greyscale: no chromatic-aberration shortcut
    p_stamp: float = 0.3            # paste a photographed cut-out: more objects and parts per scene
    colour_jitter: float = 0.15     # per-tile channel gains +-15%: colour alone must not match tiles
    std_floor: float = 0.05         # per-tile std is clamped from below: flat sky stays flat, not amplified noise
    log_every: int = 50             # the history holds the mean of each window of this many steps
    eval_every: int = 500           # held-out photo top-1 this often (0: never): the curve to watch, not training acc

    @classmethod
    def quick(cls) -> "Config":
        return cls(steps=3000, warmup=300)      # the short CPU preset (about 10 minutes of one core)


# --------------------------------------------------------------------- the permutation set (Algorithm 1)

def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distances between permutations a (M, 9) and b (N, 9) -> (M, N) int."""
    return (np.asarray(a)[:, None, :] != np.asarray(b)[None, :, :]).sum(-1)


def all_permutations(n: int = N_CELLS) -> np.ndarray:
    """All n! permutations of range(n) in lexicographic order, (n!, n) int8."""
    return np.array(list(itertools.permutations(range(n))), dtype=np.int8)


def max_hamming_set(n_perms: int = 100, seed: int = 0) -> np.ndarray:
    """Algorithm 1 (see _greedy_set), memoized: (n_perms, 9) int64."""
    if not 1 <= n_perms <= 1000:
        raise ValueError(f"n_perms must be between 1 and 1000, got {n_perms}")
    return _max_hamming_set(int(n_perms), int(seed)).copy()


@functools.lru_cache(maxsize=4)
def _max_hamming_set(n_perms: int, seed: int) -> np.ndarray:
    return _greedy_set(n_perms, seed)


def _greedy_set(n_perms: int = 100, seed: int = 0) -> np.ndarray:
    """Algorithm 1 of the paper: a set of n_perms permutations with maximal mean Hamming distance.

    Start from one permutation drawn at random; then repeatedly add the
    permutation whose *mean* Hamming distance to the chosen set is largest.
    Distances are integers, so many candidates tie; the paper's code takes the
    first in lexicographic order. Here ties go to the candidate farthest from
    its *nearest* chosen permutation (which raises the set's minimum distance
    without changing the criterion), then at random by the seeded generator.
    Returns (n_perms, 9) int64.
    """
    if not 1 <= n_perms <= 1000:
        raise ValueError(f"n_perms must be between 1 and 1000, got {n_perms}")
    rng = np.random.default_rng(seed)
    pool = all_permutations()                                   # (9!, 9)
    total = np.zeros(len(pool), np.int64)                       # sum of distances to the chosen set
    nearest = np.full(len(pool), N_CELLS + 1, np.int64)         # distance to the nearest chosen one
    free = np.ones(len(pool), bool)
    j = int(rng.integers(len(pool)))
    chosen = []
    for _ in range(n_perms):
        chosen.append(j)
        free[j] = False
        d = (pool != pool[j]).sum(1)
        total += d
        np.minimum(nearest, d, out=nearest)
        score = np.where(free, total * (N_CELLS + 2) + nearest, -1)     # mean first, then nearest
        best = np.flatnonzero(score == score.max())
        j = int(best[rng.integers(len(best))])
    return pool[chosen].astype(np.int64)


# --------------------------------------------------------------------- tiles as the network sees them

def normalize_tiles(tiles: torch.Tensor, std_floor: float = 0.05) -> torch.Tensor:
    """Each tile on its own: minus its per-channel mean, over its std (one per tile, floored). Shape kept.

    tiles (..., 3, t, t). Normalizing each tile alone hides brightness and contrast, low-level cues that
    would match neighbouring tiles without understanding what they show.
    """
    mean = tiles.mean(dim=(-2, -1), keepdim=True)
    x = tiles - mean
    std = x.pow(2).mean(dim=(-3, -2, -1), keepdim=True).sqrt().clamp_min(std_floor)
    return x / std


def permute_tiles(x: torch.Tensor, perm_idx: torch.Tensor, perms: torch.Tensor) -> torch.Tensor:
    """Put tiles (or their embeddings) into puzzle order: out[b, k, j] = x[b, perms[perm_idx[b, k], j]].

    x: (B, 9, ...) per image; perm_idx: (B, K) class indices; perms (P, 9) -> (B, K, 9, ...).
    Cell j of a puzzle made with permutation p shows cell p[j] of the image.
    """
    B, K = perm_idx.shape
    order = perms[perm_idx]                                                # (B, K, 9)
    rest = x.shape[2:]
    idx = order.reshape(B, K, N_CELLS, *([1] * len(rest))).expand(B, K, N_CELLS, *rest)
    return torch.gather(x[:, None].expand(B, K, *x.shape[1:]), 2, idx)


# --------------------------------------------------------------------- the context-free network

class ContextFreeNetwork(nn.Module):
    """One conv trunk per tile (shared), fc6 per tile, concatenation, fc7, classifier over the set.

    forward(tiles (B, 9, 3, t, t) normalized, in puzzle order) -> logits (B, P).
    compute_perms=False leaves a placeholder set, for a model whose `perms` buffer is loaded next.
    """

    def __init__(self, config: Config, compute_perms: bool = True):
        super().__init__()
        self.config = config
        c1, c2, c3, c4 = config.widths
        t = config.tile

        def block(cin, cout, k=3):
            return [nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        self.trunk = nn.Sequential(
            *block(3, c1, 5), nn.MaxPool2d(2),                  # (t/2)
            *block(c1, c2), nn.MaxPool2d(2),                    # (t/4)
            *block(c2, c3),
            *block(c3, c4), nn.MaxPool2d(2),                    # (t/8)
        )
        side = t // 8
        self.fc6 = nn.Sequential(nn.Flatten(), nn.Linear(c4 * side * side, config.embed),
                                 nn.BatchNorm1d(config.embed), nn.ReLU(inplace=True))
        self.fc7 = nn.Sequential(nn.Linear(N_CELLS * config.embed, config.hidden), nn.ReLU(inplace=True),
                                 nn.Dropout(config.dropout))
        self.fc8 = nn.Linear(config.hidden, config.n_perms)
        # the set is a buffer: saved in the state dict, so a loaded model carries its own classes
        perms = max_hamming_set(config.n_perms, config.perm_seed) if compute_perms else \
            np.tile(np.arange(N_CELLS), (config.n_perms, 1))
        self.register_buffer("perms", torch.as_tensor(perms, dtype=torch.long))

    def embed_tiles(self, tiles: torch.Tensor) -> torch.Tensor:
        """(B, 9, 3, t, t) -> (B, 9, D): each tile alone through trunk and fc6 (context-free)."""
        B = tiles.shape[0]
        x = tiles.reshape(B * N_CELLS, *tiles.shape[2:])                 # (B*9, 3, t, t)
        return self.fc6(self.trunk(x)).view(B, N_CELLS, -1)

    def classify(self, emb: torch.Tensor) -> torch.Tensor:
        """(B, 9, D) embeddings in puzzle order -> (B, P) logits."""
        return self.fc8(self.fc7(emb.flatten(1)))                        # (B, 9*D) -> (B, P)

    def forward(self, tiles: torch.Tensor) -> torch.Tensor:
        return self.classify(self.embed_tiles(tiles))

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Trunk features for a linear probe: (B, 3, H, W) normalized -> (B, c4 * 4), pooled to 2x2."""
        return F.adaptive_avg_pool2d(self.trunk(images), 2).flatten(1)


def build_model(config: Config) -> ContextFreeNetwork:
    return ContextFreeNetwork(config)


def build_model_like(model: ContextFreeNetwork, seed: int = 0) -> ContextFreeNetwork:
    """A random-init network with the same config and permutation set: the baseline."""
    with torch.random.fork_rng(devices=[]):       # CPU only: touching CUDA here breaks ZeroGPU
        torch.manual_seed(seed)
        fresh = ContextFreeNetwork(model.config, compute_perms=False)
    fresh.perms.copy_(model.perms)
    return fresh.to(model.perms.device).eval()


# --------------------------------------------------------------------- the loss

def jigsaw_loss(logits: torch.Tensor, perm_idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The paper's objective: cross-entropy over the permutation set (which permutation made this
    puzzle?), and the top-1 accuracy.

    logits (N, P), perm_idx (N,) the permutation that made each puzzle -> (loss, acc), 0-d tensors.
    """
    loss = F.cross_entropy(logits, perm_idx)
    acc = (logits.argmax(1) == perm_idx).float().mean()
    return loss, acc


def puzzle_loss(model: ContextFreeNetwork, tiles: torch.Tensor, perm_idx: torch.Tensor):
    """The training loss: jigsaw_loss over K puzzles per image that share the image's tile embeddings.

    tiles (B, 9, 3, t, t) normalized, in image order; perm_idx (B, K) -> (loss, {"acc": acc}).
    The trunk sees one tile at a time, so permuting embeddings is exactly permuting tiles: one trunk
    pass serves K puzzles.
    """
    B, K = perm_idx.shape
    emb = model.embed_tiles(tiles)                                                  # (B, 9, D)
    puzzles = permute_tiles(emb, perm_idx, model.perms)                            # (B, K, 9, D)
    logits = model.classify(puzzles.reshape(B * K, N_CELLS, -1))                   # (B*K, P)
    loss, acc = jigsaw_loss(logits, perm_idx.reshape(-1))
    return loss, {"acc": acc}
