"""Training data for the colourizer: tuples of frames, their grey input and true colours, and `train`.

A tuple is n_refs + 1 frames of one video, a few frames apart, in time order
(either way round). Most come from procedural sprite videos (textured sprites,
often alike in grey, passing in front of each other under changing light), the
rest from the bundled train clips (core.sources), or from the user's own clip.
"""
from __future__ import annotations

import dataclasses
from functools import lru_cache, partial

import numpy as np
import torch

from core import common, sources, synthetic
from core import train as loop

from .color import frames_to_lab_cells, kmeans, luma, quantize
from .model import Config, ColorizationNet, build_model, tuple_loss

TRAIN_SEED_RANGE = (0, 800_000)        # sprite videos for training come from here (held-out seeds lie above)


@lru_cache(maxsize=2)
def _train_clips(real: bool = False) -> tuple[np.ndarray, ...]:
    """The bundled training clips (never the held-out ones), and with `real` the REAL_CLIPS train clips in
    colour, kept in memory: (T, H, W, 3) uint8 each."""
    clips = sources.training_clips()
    if real:
        clips.update(sources.colour_clips("train"))
    return tuple(clips.values())


def _sprite_tuple(rng: np.random.Generator, config: Config, n: int, gap: int) -> np.ndarray:
    """n frames, `gap` apart, of a new sprite video, cropped to (n, size, size, 3) uint8."""
    gen = int(rng.choice(config.gen_sizes))     # crop inside a larger canvas: sprites at the test scale
    video, _ = synthetic.sprites_video(
        int(rng.integers(*TRAIN_SEED_RANGE)), frames=1 + (n - 1) * gap, size=gen,
        n_sprites=int(rng.integers(2, 5)), lighting=True, lookalike=bool(rng.random() < config.lookalike_frac),
        background=str(rng.choice(["textured", "textured", "blurred", "flat"])))
    y, x = rng.integers(0, gen - config.size + 1, 2)
    return video[::gap][:n, y:y + config.size, x:x + config.size]


def _clip_tuple(rng: np.random.Generator, config: Config, clips, n: int, gap: int) -> torch.Tensor:
    """n frames, `gap` apart, of a random clip, a random crop at a random scale -> (n, 3, size, size)."""
    clip = clips[int(rng.integers(len(clips)))]
    T, H, W = clip.shape[:3]
    gap = max(1, min(gap, (T - 1) // max(1, n - 1)))
    t0 = int(rng.integers(0, T - (n - 1) * gap))
    side = int(min(H, W, round(config.size / rng.uniform(0.5, 1.0))))
    y, x = int(rng.integers(0, H - side + 1)), int(rng.integers(0, W - side + 1))
    crop = clip[t0:t0 + (n - 1) * gap + 1:gap, y:y + side, x:x + side]
    return common.frames_to_tensor(crop, config.size)


def sample_batch(rng: np.random.Generator, config: Config, clips=None) -> torch.Tensor:
    """A batch of tuples (B, F, 3, S, S) RGB in [0, 1]: F = n_refs + 1 frames in time order.

    clips: sequences of frames to draw from (default: the bundled training
    clips); with clips=() every tuple comes from sprite videos.
    """
    clips = _train_clips(config.real_clips) if clips is None else clips
    n = config.n_refs + 1
    out = []
    for _ in range(config.batch):
        gap = int(rng.integers(1, config.max_gap + 1))
        if not clips or rng.random() < config.synthetic_frac:
            x = common.frames_to_tensor(_sprite_tuple(rng, config, n, gap))
        else:
            x = _clip_tuple(rng, config, clips, n, gap)
        if rng.random() < 0.5:                   # mirror the whole tuple
            x = x.flip(-1)
        if rng.random() < 0.5:                   # time runs both ways for colour
            x = x.flip(0)
        out.append(x)
    return torch.stack(out)


def grey_and_colours(rgb: torch.Tensor, centres: torch.Tensor, gain_jitter: float = 0.0,
                     generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """What the network sees and what it must copy: (grey (B, F, 1, S, S), colours (B, F, S/4, S/4) long).

    rgb (B, F, 3, S, S) in [0, 1]. grey is each frame's luma, scaled by a
    random gain in 1 +- gain_jitter per frame (the light changes, the colour
    does not); colours are the frames' Lab ab per feature cell, quantized to
    the nearest of `centres` (K, 2).
    """
    B, Fn = rgb.shape[:2]
    flat = rgb.flatten(0, 1)                                              # (B*F, 3, S, S)
    grey = luma(flat)                                                     # (B*F, 1, S, S)
    if gain_jitter:
        gain = 1 + gain_jitter * (2 * torch.rand(B * Fn, 1, 1, 1, generator=generator) - 1)
        grey = (grey * gain.to(grey.device)).clamp(0, 1)
    with torch.no_grad():
        ab = frames_to_lab_cells(flat)[:, 1:]                             # (B*F, 2, h, w)
        colours = quantize(ab.permute(0, 2, 3, 1), centres)               # (B*F, h, w)
    return grey.unflatten(0, (B, Fn)), colours.unflatten(0, (B, Fn))


def fit_colour_clusters(config: Config, clips=None, seed: int = 0) -> torch.Tensor:
    """k-means centres (n_colors, 2) of Lab ab, fitted on cells of training frames (same sampler)."""
    rng = np.random.default_rng(seed + 12345)
    cfg = dataclasses.replace(config, batch=max(1, config.kmeans_frames // (config.n_refs + 1)))
    rgb = sample_batch(rng, cfg, clips).flatten(0, 1)                 # (B*F, 3, S, S)
    ab = frames_to_lab_cells(rgb)[:, 1:].permute(0, 2, 3, 1).reshape(-1, 2)
    return kmeans(ab, config.n_colors, seed=seed)


def _as_clips(frames) -> tuple[np.ndarray, ...]:
    """User frames for training: one (T, H, W, 3) clip or a list of them, each validated."""
    if isinstance(frames, np.ndarray) and frames.ndim == 4:
        frames = [frames]
    clips = tuple(common.check_frames(f, "frames", min_frames=4) for f in frames)
    if not clips:
        raise ValueError("frames: give at least one clip of 4 or more frames")
    return clips


def train(config: Config, steps: int | None = None, device="cpu", progress=None, model=None,
          frames=None, log_every: int = 10) -> tuple[ColorizationNet, dict]:
    """Train the colourizer through core.train's loop; returns (model, history of loss, acc and lr).

    model=None starts from scratch (fitting the colour clusters first);
    otherwise a copy of `model` continues, keeping its clusters.
    frames: optional user clip(s) (T, H, W, 3) uint8 to train on instead of
    the bundled clips and sprite videos (colour needs no labels).
    log_every: the history holds the mean of each window of this many steps (1: every step, as live runs draw).
    """
    steps = int(config.steps if steps is None else steps)
    clips = None
    if frames is not None:
        clips = _as_clips(frames)
        config = dataclasses.replace(config, synthetic_frac=0.0)
    fresh = model is None
    model, config = loop.start(build_model, config, model, device)
    if fresh:
        model.centres.copy_(fit_colour_clusters(config, clips, seed=config.seed))
    rng = np.random.default_rng(common.data_seed(config.seed))        # each rank its own data shard
    gen = torch.Generator().manual_seed(common.data_seed(config.seed))   # the gain jitter's draws

    def batches(step: int):
        rgb = sample_batch(rng, config, clips).to(device)
        return grey_and_colours(rgb, model.centres, config.gain_jitter, gen)

    loss = partial(tuple_loss, temperature=config.train_temperature, all_targets=config.all_targets)
    history = loop.fit(model, config, steps, batches, loss, progress, log_every=log_every)
    return model, history
