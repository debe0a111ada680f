"""VideoMAE's data: the masking strategies, the training views of real, procedural and photographed video,
the batches, and `train`, which hands them with the loss to core.train's one loop.

A masking strategy is one small callable (MCG-NJU/VideoMAE's masking_generator.py): built for a token
grid (t, h, w) and a ratio, called with a numpy Generator, it returns mask (N,) bool over tokens in
(t h w) order, True = removed. A batch is (x (B, T, 3, S, S) in [0, 1], mask (B, N)).
"""
from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

from core import common, sources
from core import train as loop
from core.videomae.model import Config, build_model, no_weight_decay, videomae_loss


# ===================================================================== masking (the method's own sampling)

def num_masked(n: int, ratio: float) -> int:
    """How many of n positions a ratio hides: round(ratio * n), keeping at least one visible."""
    return int(min(n - 1, max(0, round(ratio * n))))


def _check_ratio(ratio: float) -> float:
    ratio = float(ratio)
    if not (0.0 <= ratio < 1.0) or not math.isfinite(ratio):
        raise ValueError(f"mask_ratio must be in [0, 1) (some tokens must stay visible), got {ratio}")
    return ratio


class TubeMasking:
    """Tube masking, the paper's: one spatial mask of the (h, w) patch grid, repeated at every time step.

    Exactly `num_masked(h * w, ratio)` patches are hidden in each time step, the same ones in all.
    Call with a numpy Generator; returns mask (N,) bool over tokens in (t h w) order,
    True = removed (masked), False = visible.
    """
    name = "tube"

    def __init__(self, grid: tuple[int, int, int], ratio: float):
        self.grid, self.ratio = tuple(int(g) for g in grid), _check_ratio(ratio)

    def __call__(self, rng: np.random.Generator) -> np.ndarray:
        t, h, w = self.grid
        spatial = np.zeros(h * w, bool)
        spatial[rng.permutation(h * w)[:num_masked(h * w, self.ratio)]] = True
        return np.tile(spatial, t)                                            # (t*h*w,)


class RandomMasking:
    """Random masking per token (tubelet): `num_masked(t * h * w, ratio)` tokens anywhere in the clip.

    A hidden patch is then usually visible one time step earlier or later: the leak tube masking closes.
    Returns mask (N,) bool in (t h w) order, True = removed.
    """
    name = "random"

    def __init__(self, grid: tuple[int, int, int], ratio: float):
        self.grid, self.ratio = tuple(int(g) for g in grid), _check_ratio(ratio)

    def __call__(self, rng: np.random.Generator) -> np.ndarray:
        n = int(np.prod(self.grid))
        mask = np.zeros(n, bool)
        mask[rng.permutation(n)[:num_masked(n, self.ratio)]] = True
        return mask


class FrameMasking:
    """Frame masking: whole time steps (tubelet-deep frames) hidden, `num_masked(t, ratio)` of the t steps.

    Only motion can be predicted, from the visible steps before and after. Returns mask (N,) bool in
    (t h w) order, True = removed.
    """
    name = "frame"

    def __init__(self, grid: tuple[int, int, int], ratio: float):
        self.grid, self.ratio = tuple(int(g) for g in grid), _check_ratio(ratio)

    def __call__(self, rng: np.random.Generator) -> np.ndarray:
        t, h, w = self.grid
        steps = np.zeros(t, bool)
        steps[rng.permutation(t)[:num_masked(t, self.ratio)]] = True
        return np.repeat(steps, h * w)


MASKINGS = {"tube": TubeMasking, "random": RandomMasking, "frame": FrameMasking}


def make_masking(name: str, grid: tuple[int, int, int], ratio: float):
    """The masking strategy `name` ("tube", "random" or "frame") for a token grid (t, h, w) and a ratio."""
    if name not in MASKINGS:
        raise ValueError(f"unknown masking strategy {name!r}: choose one of {', '.join(MASKINGS)}")
    return MASKINGS[name](grid, ratio)


def batch_masks(masking, batch: int, rng: np.random.Generator, device) -> torch.Tensor:
    """B masks from one strategy as a (B, N) bool tensor (equal counts per row, as the model needs)."""
    return torch.from_numpy(np.stack([masking(rng) for _ in range(batch)])).to(device)


# ===================================================================== training views

def sample_window(frames: np.ndarray, rng: np.random.Generator, size: int, num_frames: int,
                  max_stride: int = 2, device="cpu") -> torch.Tensor:
    """A random training view of a clip: (num_frames, 3, size, size) float in [0, 1].

    Frames every 1..max_stride frames (looped when the clip is short), a square crop of 55-100%
    of the shorter side resized to `size`, a random horizontal flip.
    """
    T, H, W, _ = frames.shape
    stride = int(rng.integers(1, max_stride + 1)) if T >= num_frames * 2 else 1
    span = (num_frames - 1) * stride + 1
    start = int(rng.integers(0, max(1, T - span + 1)))
    idx = (start + stride * np.arange(num_frames)) % T
    side = int(round(min(H, W) * rng.uniform(0.55, 1.0)))
    y, x = int(rng.integers(0, H - side + 1)), int(rng.integers(0, W - side + 1))
    window = frames[idx, y:y + side, x:x + side]
    if rng.random() < 0.5:
        window = window[:, :, ::-1]
    return common.frames_to_tensor(window, size, device)


def synthetic_clip(rng: np.random.Generator, size: int, num_frames: int) -> np.ndarray:
    """A fresh procedural clip (moving sprites, or a stick figure throwing): (T, size, size, 3) uint8."""
    from core import synthetic
    seed = int(rng.integers(2**31))
    if rng.random() < 0.75:
        return synthetic.sprites_video(seed, frames=num_frames, size=size)[0]
    return synthetic.action_video(seed, frames=num_frames, size=size)[0]


PHOTO_SIDE = 192                 # photos are kept with this shorter side: pans crop 35-75% of it


def photo_pan_clip(photo: np.ndarray, rng: np.random.Generator, size: int, num_frames: int,
                   device="cpu") -> torch.Tensor:
    """A camera moving over a still photograph: (T, 3, size, size) float in [0, 1].

    A square window of 35-75% of the shorter side drifts in a straight line (about a quarter of its
    side over the clip, at random) and zooms by up to 20%, sampled bilinearly in one grid_sample
    call: global motion like a panning camera, in any scene.
    """
    H, W, _ = photo.shape
    side0 = min(H, W) * rng.uniform(0.35, 0.75)
    sides = np.minimum(np.linspace(side0, side0 * rng.uniform(0.83, 1.2), num_frames), min(H, W))
    shift = rng.normal(0, 0.25, 2) * side0
    c0 = np.array([rng.uniform(side0 / 2, H - side0 / 2), rng.uniform(side0 / 2, W - side0 / 2)])
    a = np.linspace(0, 1, num_frames)
    cy = np.clip(c0[0] + a * shift[0], sides / 2, H - sides / 2)
    cx = np.clip(c0[1] + a * shift[1], sides / 2, W - sides / 2)
    base = (np.arange(size) + 0.5) / size                                   # pixel centres in (0, 1)
    ys = (cy - sides / 2)[:, None] + sides[:, None] * base[None]            # (T, S) in photo pixels
    xs = (cx - sides / 2)[:, None] + sides[:, None] * base[None]
    gy = torch.from_numpy(2 * ys / H - 1).float()
    gx = torch.from_numpy(2 * xs / W - 1).float()
    grid = torch.stack(torch.broadcast_tensors(gx[:, None, :], gy[:, :, None]), dim=-1).to(device)  # (T, S, S, 2)
    img = common.frames_to_tensor(photo, None, device).expand(num_frames, -1, -1, -1)               # (T, 3, H, W)
    return F.grid_sample(img, grid, mode="bilinear", align_corners=False)


# ===================================================================== batches and training

def training_data(config: Config, clips: list[np.ndarray] | None = None, synthetic: bool | None = None):
    """What a run draws its clips from: (real videos, photos, synthetic share, photo share).

    clips=None: the bundled train footage (whole source videos where fetched and config.use_sources),
    photo pans when data/sources has photographs, procedural clips unless synthetic=False. Your own
    clips (T, H, W, 3) instead: only them, plus procedural clips if synthetic=True.
    """
    photos: list[np.ndarray] = []
    if clips is not None:
        real = [common.check_frames(f, "clip") for f in clips]
        synth_share = config.synthetic_fraction if synthetic else 0.0
    else:
        real = list(sources.training_clips(sources=True if config.use_sources else (),
                                           real=config.real_clips).values())
        synth_share = config.synthetic_fraction if synthetic is None or synthetic else 0.0
        photos = sources.training_photos(PHOTO_SIDE) if config.photo_fraction > 0 else []
    photo_share = config.photo_fraction if photos else 0.0
    return real, photos, synth_share, photo_share


def clip_batches(config: Config, rng: np.random.Generator, steps: int, device, real: list[np.ndarray],
                 photos: list[np.ndarray], synth_share: float, photo_share: float):
    """batches(step) -> (x (B, T, 3, S, S) in [0, 1], mask (B, N)): each clip a photo pan, a procedural
    clip or a window of a real video (in those shares), each mask drawn from config.masking."""
    c = config
    masking = make_masking(c.masking, c.grid, c.mask_ratio)
    weights = np.sqrt([len(f) for f in real])       # longer videos more often, but not 13x (vtest)
    weights /= weights.sum()
    # Procedural clips cost ~50 ms each: keep a pool of them and renew one every other step.
    pool = [synthetic_clip(rng, c.image_size, 2 * c.num_frames)
            for _ in range(min(64, steps // 4 + 1) if synth_share > 0 else 0)]

    def batches(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        views = []
        for _ in range(c.batch_size):
            u = rng.random()
            if u < photo_share:
                pan = photo_pan_clip(photos[rng.integers(len(photos))], rng, c.image_size, c.num_frames, device)
                views.append(pan.flip(-1) if rng.random() < 0.5 else pan)
                continue
            frames = pool[rng.integers(len(pool))] if u < photo_share + synth_share else \
                real[rng.choice(len(real), p=weights)]
            views.append(sample_window(frames, rng, c.image_size, c.num_frames, c.max_stride, device))
        if pool and rng.random() < 0.5:
            pool[rng.integers(len(pool))] = synthetic_clip(rng, c.image_size, 2 * c.num_frames)
        x = torch.stack(views)                                               # (B, T, 3, S, S)
        return x, batch_masks(masking, c.batch_size, rng, device)            # mask (B, N)

    return batches


def train(config: Config, steps: int | None = None, device="cpu", progress=None, model=None,
          clips: list[np.ndarray] | None = None, synthetic: bool | None = None, log_every: int = 10):
    """Train VideoMAE with core.train's loop; returns (model, history).

    model=None trains from scratch, otherwise a copy of `model` continues (with its own architecture
    fields). clips: your own videos (T, H, W, 3) uint8 to train on instead of the bundled footage (the
    pretext task needs no labels); see `training_data`. history: {"step", "loss", "loss_norm",
    "loss_pixel", "psnr", "lr"}, each loss the mean over `log_every` steps.
    """
    steps = int(config.steps if steps is None else steps)
    device = torch.device(device)
    model, config = loop.start(build_model, config, model, device)
    rng = np.random.default_rng(common.data_seed(config.seed))       # each rank its own data shard
    batches = clip_batches(config, rng, steps, device, *training_data(config, clips, synthetic))
    loss = functools.partial(videomae_loss, pixel_loss_weight=config.pixel_loss_weight)
    history = loop.fit(model, config, steps, batches, loss, progress, log_every, no_decay=no_weight_decay)
    return model, history
