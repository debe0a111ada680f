"""Training data for jigsaw: random crops of real pictures, tiles with a gap, colour augmentation; and train().

A training batch is B crops of 3c x 3c pixels (c = config.cell), each cut into a 3x3 grid;
inside each cell a random t x t tile (t = config.tile < c, the gap: edges of neighbouring
tiles do not line up), its colours jittered or dropped, normalized on its own. The labels
are K permutation indices per image, drawn uniformly from the set.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from core import common, sources, synthetic
from core import train as loop
from core.jigsaw import photos
from core.jigsaw.evaluate import evaluate_photos
from core.jigsaw.model import GRID, N_CELLS, Config, build_model, normalize_tiles, puzzle_loss


# --------------------------------------------------------------------- tiles and augmentation

def random_tiles(cells: torch.Tensor, tile: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, 9, 3, cell, cell) -> (B, 9, 3, tile, tile): a random crop inside each cell (the gap)."""
    B, N, C, S, _ = cells.shape
    span = S - tile + 1
    oy = torch.randint(0, span, (B, N), generator=generator).to(cells.device)
    ox = torch.randint(0, span, (B, N), generator=generator).to(cells.device)
    ar = torch.arange(tile, device=cells.device)
    rows = (oy[..., None] + ar)[:, :, None, :, None].expand(B, N, C, tile, S)     # (B, 9, C, t, S)
    x = torch.gather(cells, 3, rows)
    cols = (ox[..., None] + ar)[:, :, None, None, :].expand(B, N, C, tile, tile)  # (B, 9, C, t, t)
    return torch.gather(x, 4, cols)


def augment_tiles(tiles: torch.Tensor, config: Config, generator: torch.Generator | None = None) -> torch.Tensor:
    """Colour augmentation on (B, 9, 3, t, t) tiles in [0, 1]: random greyscale per image, channel gains per tile."""
    B = tiles.shape[0]
    dev = tiles.device
    gains = 1 + config.colour_jitter * (2 * torch.rand(B, N_CELLS, 3, 1, 1, generator=generator) - 1)
    x = tiles * gains.to(dev)
    grey = (torch.rand(B, generator=generator) < config.p_grey).to(dev)
    luma = (x * torch.tensor([0.299, 0.587, 0.114], device=dev).view(1, 1, 3, 1, 1)).sum(2, keepdim=True)
    return torch.where(grey.view(B, 1, 1, 1, 1), luma.expand_as(x), x)


def make_batch(crops: np.ndarray, config: Config, generator: torch.Generator | None = None,
               device="cpu") -> torch.Tensor:
    """(B, 3c, 3c, 3) uint8 crops -> (B, 9, 3, t, t) augmented, normalized tiles in image order."""
    B = crops.shape[0]
    c = config.cell
    x = common.frames_to_tensor(crops, device=device)                              # (B, 3, 3c, 3c)
    cells = x.reshape(B, 3, GRID, c, GRID, c).permute(0, 2, 4, 1, 3, 5).reshape(B, N_CELLS, 3, c, c)
    tiles = augment_tiles(random_tiles(cells, config.tile, generator), config, generator)
    return normalize_tiles(tiles, config.std_floor)


# --------------------------------------------------------------------- crops of real pictures

def fallback_images(seed: int = 0, every: int = 6, n_dead_leaves: int = 64) -> list[np.ndarray]:
    """Training pictures from what a fresh checkout ships: frames of the bundled train clips (never
    the held-out ones) and dead-leaves images. Far less than the fetched photos (the shipped model
    did not use this); it keeps `python -m core.train jigsaw` and its tests working without data/."""
    images = [f for frames in sources.training_clips().values() for f in frames[::every]]
    images += [synthetic.dead_leaves(seed * 1000 + i, size=160) for i in range(n_dead_leaves)]
    return images


class PhotoSampler:
    """Random training crops (B, 3c, 3c, 3) uint8 from cached photos, clip frames and cut-outs.

    Each crop: an image drawn by its weight, a square of log-uniform size between
    min_scale and 1 of its short side at a random place, resized to 3c, mirrored
    half the time (a mirrored photo is still a photo; an upside-down one is not),
    sometimes with a photographed cut-out pasted on.
    images=None reads the photo cache (core/jigsaw/photos.py), or the fallback pictures without it.
    """

    def __init__(self, config: Config, images: list[np.ndarray] | None = None,
                 weights: np.ndarray | None = None, stamps: list[np.ndarray] | None = None, seed: int = 0):
        if images is None:
            try:
                cache = photos.load_cache()
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
        """Alpha-blend an RGBA cut-out onto the crop: 30-80% of its side, mirrored half the time, may overhang."""
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


# --------------------------------------------------------------------- training

def train(config: Config, steps: int | None = None, device="cpu", progress=None, model=None,
          images: list[np.ndarray] | None = None):
    """Train from scratch (model=None) or continue a copy of `model` through core.train's loop;
    returns (model, history).

    images: optional list of (H, W, 3) uint8 pictures to train on instead of the
    cached photo collection (the tab passes the user's own).
    config.eval_every > 0 (and images=None) measures top-1 on the held-out bundled photos (8 crops each)
    at the logged steps that fall on a multiple of it and at the last: history["heldout_top1"], to watch
    (nothing is tuned on it).
    """
    steps = int(steps if steps is not None else config.steps)
    device = torch.device(device)
    if images is not None:
        images = [common.check_image(im, "training image") for im in images]
        if any(min(im.shape[:2]) < GRID * 4 for im in images):
            raise ValueError(f"training images must be at least {GRID * 4}x{GRID * 4} pixels")
    model, config = loop.start(build_model, config, model, device)
    seed = common.data_seed(config.seed)                                   # each rank its own data shard
    sampler = PhotoSampler(config, images=images, stamps=[] if images is not None else None, seed=seed)
    gen = torch.Generator().manual_seed(seed)

    def batches(step):
        tiles = make_batch(sampler.sample(config.batch), config, gen, device)           # (B, 9, 3, t, t)
        perm_idx = torch.randint(0, config.n_perms, (config.batch, config.perms_per_image), generator=gen)
        return tiles, perm_idx.to(device)                                                # (B, K) labels

    def on_log(step, model):
        if not config.eval_every or images is not None or (step % config.eval_every and step != steps):
            return {}
        return {"heldout_top1": evaluate_photos(model, which="bundled", crops_per_photo=8)["top1"]}

    history = loop.fit(model, config, steps, batches, puzzle_loss, progress, log_every=config.log_every,
                       no_decay=lambda name, p: p.ndim <= 1, on_log=on_log)
    return model, history
