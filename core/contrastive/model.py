"""The contrastive model: the Config, a clip encoder, a narration encoder, and the two losses of the lecture.

Read this file first. Both encoders end on a unit-length D-vector, so the
similarity of a clip and a narration is their dot product. `info_nce` asks
each clip to pick its own narration out of the batch (one positive);
`mil_nce` asks it to pick any of a bag of narrations spoken near it in time
(several candidate positives, of which at least one should be right).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from core import common

LOSSES = ("infonce", "milnce")

# The narrations' words (data.py's templates use exactly these); anything else a user types is <unk>.
VOCAB = ("<pad>", "<unk>",
         "the", "a", "now", "see", "and", "to", "of", "in", "at", "on", "along", "across",
         "red", "green", "blue", "yellow",
         "disc", "square", "triangle", "cross",
         "moves", "goes", "slides", "heads", "left", "right", "up", "down",
         "person", "figure", "winds", "gets", "ready", "throw", "throws", "ball",
         "people", "walk", "tree", "sways", "wind", "man", "talks", "car", "turns", "cartwheel", "park",
         "cars", "drive", "road",
         "okay", "so", "let", "us", "get", "started", "thanks", "for", "watching", "do", "not", "forget",
         "subscribe", "this", "one", "is", "my", "favourite", "part", "hmm", "me", "think", "i", "bought",
         "it", "last", "week", "what", "nice", "day")
PAD, UNK = 0, 1
_INDEX = {w: i for i, w in enumerate(VOCAB)}


# --------------------------------------------------------------------- config

@dataclass
class Config:
    steps: int = 2000                 # the shipped recipe (docs/experiments/contrastive.md)
    seed: int = 0                     # the initial weights and the data draws follow it
    # the network (a continued model keeps its own values of these)
    size: int = common.arch(32)       # clip side in px: a sprite is 10-14 px, its shape still readable
    frames: int = common.arch(8)      # frames per clip: enough to see which way a sprite moves
    width: int = common.arch(16)      # channels of the first 3D conv; doubled twice (16-32-64)
    dim: int = common.arch(64)        # the joint embedding D (the paper: 512)
    word_dim: int = common.arch(64)   # word embedding size (the paper: 300-d word2vec)
    max_words: int = common.arch(12)  # narrations are cut to this many words
    # the data (core/contrastive/data.py)
    loss: str = "milnce"              # one of LOSSES: what trains the shipped model
    batch: int = 32                   # B clips per step; the other B-1 clips' narrations are the negatives
    bag: int = 5                      # MIL-NCE: the narrations nearest in time to a clip (the paper's ablation
                                      # peaks at a handful); InfoNCE uses only the nearest one
    segments: int = 12                # actions per training video, one after the other
    shift: float = 3.0                # narration time = action time + uniform(-shift, shift) segments: the
                                      # sweep's strongest level, where the bag of 5 still holds the truth 2/3 of the time
    unrelated: float = 0.3            # share of narrations that say nothing about the video
    pool: int = 192                   # rendered videos kept in memory (rendering is slower than a step)
    refresh_every: int = 1            # replace one pool video every this many steps: fresh seeds all along
    # the loss
    temperature: float = 0.1          # softmax temperature on the cosine similarity (unit-norm embeddings)
    # the optimizer (core.train.fit)
    lr: float = 2e-3                  # small nets from scratch take a large step
    weight_decay: float = 1e-4        # light: the training videos are fresh renders
    warmup: int = 100                 # steps of linear warm-up before the cosine decay
    warmup_div: int = 5               # warm-up is at most steps // warmup_div
    optimizer: str = "adamw"
    betas: tuple = (0.9, 0.999)
    clip_grad: float = 5.0            # max gradient norm (0: none)
    # the misalignment sweep that evaluate() trains (core/contrastive/evaluate.py)
    sweep_steps: int = 400            # per run: 3 seeds x 4 levels x 2 losses must fit in minutes on one thread
    sweep_levels: int = 4             # how many of evaluate.LEVELS, always with the strongest

    @classmethod
    def quick(cls) -> "Config":
        # the 5-minute CPU preset: fewer steps, a smaller pool, a sweep of the aligned and the strongest level
        return cls(steps=600, pool=96, sweep_steps=250, sweep_levels=2)


# --------------------------------------------------------------------- words

def tokenize(text: str, max_words: int) -> list[int]:
    """A narration as word ids: lower-case words of letters, unknown words <unk>, cut to max_words."""
    words = re.findall(r"[a-z]+", str(text).lower())[:max_words]
    return [_INDEX.get(w, UNK) for w in words]


def tokens_tensor(texts: list[str], max_words: int, device="cpu") -> torch.Tensor:
    """Narrations as a padded id tensor (M, L) long, L = max_words, PAD = 0 after the words."""
    out = torch.full((len(texts), max_words), PAD, dtype=torch.long)
    for i, t in enumerate(texts):
        ids = tokenize(t, max_words)
        if ids:
            out[i, :len(ids)] = torch.tensor(ids)
    return out.to(device)


# --------------------------------------------------------------------- the network

def _block3d(cin: int, cout: int, stride: tuple) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(cin, cout, 3, stride, 1, bias=False),
                         nn.GroupNorm(min(8, cout // 4), cout), nn.ReLU(inplace=True))


class ClipEncoder(nn.Module):
    """A small 3D conv net (the paper: S3D): clips (B, T, C, H, W) in [0, 1] -> (B, D) unit length.

    3D convolutions see a few frames at once, which is what tells "moves left"
    from "moves right"; the mean and max over space and time say what is there
    and how strongly.
    """

    def __init__(self, config: Config):
        super().__init__()
        w = config.width
        self.trunk = nn.Sequential(
            _block3d(3, w, (1, 2, 2)),                  # (B, w, T, H/2, W/2)
            _block3d(w, 2 * w, (2, 2, 2)),              # (B, 2w, T/2, H/4, W/4)
            _block3d(2 * w, 4 * w, (2, 2, 2)),          # (B, 4w, T/4, H/8, W/8)
            _block3d(4 * w, 4 * w, (1, 1, 1)),
        )
        self.head = nn.Sequential(nn.Linear(8 * w, 128), nn.ReLU(inplace=True), nn.Linear(128, config.dim))

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        x = clips.permute(0, 2, 1, 3, 4) - 0.5                          # (B, C, T, H, W)
        f = self.trunk(x)                                               # (B, 4w, t, h, w)
        f = torch.cat([f.mean(dim=(2, 3, 4)), f.amax(dim=(2, 3, 4))], 1)   # (B, 8w)
        return F.normalize(self.head(f), dim=-1)                        # (B, D)


class NarrationEncoder(nn.Module):
    """The paper's sentence encoder: word embeddings, a linear layer with ReLU, max over words, a linear layer.

    tokens (M, L) long, PAD = 0 -> (M, D) unit length. The max over words
    ignores padding; a narration with no words embeds as the linear layer's bias.
    """

    def __init__(self, config: Config):
        super().__init__()
        self.words = nn.Embedding(len(VOCAB), config.word_dim, padding_idx=PAD)
        self.fc1 = nn.Linear(config.word_dim, 256)
        self.fc2 = nn.Linear(256, config.dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.fc1(self.words(tokens)))                        # (M, L, 256)
        h = h.masked_fill((tokens == PAD)[..., None], 0.0)              # after ReLU: 0 never wins the max
        return F.normalize(self.fc2(h.amax(dim=1)), dim=-1)             # (M, D)


class ContrastiveModel(nn.Module):
    """A clip encoder and a narration encoder into one D-dimensional space; similarity = dot product."""

    def __init__(self, config: Config):
        super().__init__()
        self.config = config
        self.clip = ClipEncoder(config)
        self.text = NarrationEncoder(config)

    def forward(self, clips: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """clips (B, T, C, H, W), tokens (M, L) -> clip embeddings (B, D), narration embeddings (M, D)."""
        return self.clip(clips), self.text(tokens)


def build_model(config: Config) -> ContrastiveModel:
    return ContrastiveModel(config)


# --------------------------------------------------------------------- the losses

def info_nce(sim: torch.Tensor, temperature: float) -> torch.Tensor:
    """InfoNCE (van den Oord et al. 2018), both ways: each clip picks its narration, each narration its clip.

    L = -1/2B sum_i [ log softmax_j(s_ij / tau)_i + log softmax_j(s_ji / tau)_i ]

    Args:
        sim: (B, B) dot products of unit vectors, clip i (row) with narration j (column); the
            positive pairs are on the diagonal, every other entry of a row or column is a negative.
        temperature: tau; a small tau sharpens the softmax onto the hardest negatives.
    Returns:
        the scalar loss; log B at chance (every similarity equal).
    """
    if sim.ndim != 2 or sim.shape[0] != sim.shape[1]:
        raise ValueError(f"info_nce needs a square (B, B) similarity matrix, got {tuple(sim.shape)}")
    logits = sim / temperature
    target = torch.arange(len(sim), device=sim.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def mil_nce(sim: torch.Tensor, positives: torch.Tensor, temperature: float) -> torch.Tensor:
    """MIL-NCE (Miech et al., CVPR 2020, eq. 1): a bag of candidate positives per clip.

    L = -1/B sum_i log [ sum_{j in P_i} e^{s_ij/tau} / ( sum_{j in P_i} e^{s_ij/tau} + sum_{(k,j) in N_i} e^{s_kj/tau} ) ]

    As the official code (MILNCELoss), the denominator of clip i sums over its whole row
    (clip i with every narration) and over the columns of its bag (every clip with each
    narration of P_i): the positives appear in both, negatives are every other pair.
    The bag's members are summed, not each required: one right narration in the bag is enough.

    Args:
        sim: (B, M) dot products, clip i (row) with narration j (column).
        positives: (B, M) bool, P_i: the narrations in clip i's bag; at least one per row.
        temperature: tau.
    Returns:
        the scalar loss.
    """
    if sim.shape != positives.shape or sim.ndim != 2:
        raise ValueError(f"sim and positives must both be (B, M), got {tuple(sim.shape)} and {tuple(positives.shape)}")
    positives = positives.bool()
    if not bool(positives.any(1).all()):
        raise ValueError("every clip needs at least one positive narration in its bag")
    logits = sim / temperature
    neg_inf = torch.finfo(logits.dtype).min
    num = logits.masked_fill(~positives, neg_inf).logsumexp(1)                     # (B,)
    cols = logits[None].expand(len(sim), -1, -1).masked_fill(~positives[:, None, :], neg_inf)  # (B, B, M)
    den = torch.cat([logits, cols.flatten(1)], 1).logsumexp(1)                    # (B,)
    return (den - num).mean()


def bag_positives(batch: int, bag: int, device="cpu") -> torch.Tensor:
    """The positives of a batch whose narrations are laid out bag by bag: (B, B * bag) bool, block-diagonal.

    Narration j belongs to clip j // bag.
    """
    return torch.eye(batch, dtype=torch.bool, device=device).repeat_interleave(bag, 1)


def contrastive_loss(clip_emb: torch.Tensor, text_emb: torch.Tensor, config: Config
                     ) -> tuple[torch.Tensor, dict]:
    """The loss config.loss names, on one batch, and the share of clips whose own narration ranks first.

    Args:
        clip_emb: (B, D) unit-length clip embeddings.
        text_emb: (B, K, D) each clip's bag of K narrations, nearest in time first.
    Returns:
        loss and {"acc": share of clips whose nearest-in-time narration is the most similar of the B
        nearest-in-time narrations, "pos_sim", "neg_sim": mean similarity of those pairs and of the others}.
    """
    B, K, _ = text_emb.shape
    if config.loss == "infonce":
        sim = clip_emb @ text_emb[:, 0].T                                # (B, B): only the nearest narration
        loss = info_nce(sim, config.temperature)
    elif config.loss == "milnce":
        sim_all = clip_emb @ text_emb.flatten(0, 1).T                    # (B, B K)
        loss = mil_nce(sim_all, bag_positives(B, K, clip_emb.device), config.temperature)
        sim = sim_all[:, ::K]                                            # (B, B): nearest narrations
    else:
        raise ValueError(f"unknown loss {config.loss!r}; choose one of {LOSSES}")
    with torch.no_grad():
        eye = torch.eye(B, dtype=torch.bool, device=sim.device)
        stats = {"acc": float((sim.argmax(1) == torch.arange(B, device=sim.device)).float().mean()),
                 "pos_sim": float(sim[eye].mean()), "neg_sim": float(sim[~eye].mean()) if B > 1 else 0.0}
    return loss, stats
