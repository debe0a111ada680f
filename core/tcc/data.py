"""TCC's training data: rendered throws (or the user's own clips), sampled frames, one augmentation per clip.

A batch is B videos of one action, T frames sampled from each at uneven
spacing, each video with its own crop and colours: the only thing the videos
share is the action, so the only way for every cycle to come back is to embed
the moment of the action.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from core import common
from core.tcc.model import Config, context_indices

TRAIN_SEEDS = 1_000_000          # training videos use seeds below this


def sample_indices(rng: np.random.Generator, n: int, t: int) -> np.ndarray:
    """t sorted frame indices out of n (without repeats when n >= t); (t,) int."""
    if n >= t:
        return np.sort(rng.choice(n, size=t, replace=False))
    return np.sort(rng.integers(0, n, size=t))


def augment(clip: torch.Tensor, rng: np.random.Generator, size: int, crop: float) -> torch.Tensor:
    """One random crop, colour jitter and flip for a whole clip: (T, 3, H, W) -> (T, 3, size, size).

    The same transform for every frame of a clip, so the clip stays one
    continuous action; different clips get different ones, so cycles cannot
    return by matching colour or framing.
    """
    T, _, H, W = clip.shape
    ch, cw = int(H * rng.uniform(crop, 1.0)), int(W * rng.uniform(crop, 1.0))
    y0, x0 = int(rng.integers(0, H - ch + 1)), int(rng.integers(0, W - cw + 1))
    x = clip[:, :, y0:y0 + ch, x0:x0 + cw]
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    if rng.random() < 0.5:
        x = x.flip(-1)
    if rng.random() < 0.3:
        x = x[:, torch.as_tensor(rng.permutation(3), device=x.device)]
    gain = torch.as_tensor(rng.uniform(0.7, 1.3, 3), dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    contrast = float(rng.uniform(0.7, 1.3))
    x = (x - mean) * contrast + mean * gain + float(rng.uniform(-0.1, 0.1))
    return x.clamp(0, 1)


def _render_side(config: Config) -> int:
    """The side clips are kept at: a little larger than the input, room for the random crop."""
    return int(round(config.size / math.sqrt(config.crop * 0.5 + 0.5)))


def render_clip(seed: int, config: Config, take: int = 0) -> np.ndarray:
    """One training throw (T, S, S, 3) uint8, rendered a little larger than the input (room to crop).

    take > 0: the same scene and thrower (same seed, same length) at another pace: a second take.
    """
    from core import synthetic

    rng = np.random.default_rng(seed + 7)
    frames = int(rng.integers(config.render_frames[0], config.render_frames[1] + 1))
    for _ in range(take + 1):
        pace = float(np.exp(rng.uniform(math.log(config.pace[0]), math.log(config.pace[1]))))
    video, _ = synthetic.action_video(seed, frames=frames, size=_render_side(config), pace=pace)
    return video


class ClipPool:
    """Videos to sample training batches from: rendered throws (refreshed) or the user's own clips."""

    def __init__(self, config: Config, rng: np.random.Generator, videos: list | None = None):
        self.config, self.rng = config, rng
        if videos:
            side = _render_side(config)
            self.clips = [common.frames_to_tensor(common.check_frames(v, "video", 2), side) for v in videos]
            self.fresh = False
        else:
            # with config.takes, clips 2k and 2k+1 are two takes of one scene
            n = config.pool // 2 * 2 if config.takes else config.pool
            self.clips = [None] * n
            for k in range(0, n, 2 if config.takes else 1):
                self._render(k)
            self.fresh = True
        self.real = []
        if self.fresh and config.real_pairs > 0:
            from core import sources
            side = _render_side(config)
            self.real = [common.frames_to_tensor(f, side) for f in sources.training_clips(real=True).values()
                         if len(f) >= config.frames_per_video]

    def _render(self, k: int) -> None:
        seed = int(self.rng.integers(0, TRAIN_SEEDS))
        if self.config.takes:
            k = k // 2 * 2
            self.clips[k + 1] = common.frames_to_tensor(render_clip(seed, self.config, take=1))
        self.clips[k] = common.frames_to_tensor(render_clip(seed, self.config))

    def refresh(self) -> None:
        """Replace one rendered video (or two takes of one scene) by a new seed; the user's clips stay."""
        if self.fresh:
            self._render(int(self.rng.integers(len(self.clips))))

    def _pick(self, n: int) -> np.ndarray:
        if self.fresh and self.config.takes and n % 2 == 0 and self.rng.random() < self.config.takes:
            scenes = self.rng.choice(len(self.clips) // 2, size=n // 2, replace=False)
            return np.stack([2 * scenes, 2 * scenes + 1], 1).ravel()
        return self.rng.choice(len(self.clips), size=n, replace=len(self.clips) < n)

    def _real_views(self, n: int) -> list[torch.Tensor]:
        """n // 2 real clips, each as two views over their own spans (start in the first fifth, end in the
        last): the same events at other times, so that cycles must match what happens, not the frame index."""
        out = []
        for k in self.rng.choice(len(self.real), size=n // 2, replace=len(self.real) < n // 2):
            clip = self.real[int(k)]
            t = len(clip)
            for _ in range(2):
                a, b = int(self.rng.integers(0, t // 5 + 1)), t - int(self.rng.integers(0, t // 5 + 1))
                out.append(clip[a:b])
        return out

    def batch(self, device) -> tuple[torch.Tensor, torch.Tensor]:
        """frames (B, T, C, H, W) in [0, 1] and times (B, T) in [0, 1): frame index / video length.

        C = 3, or 6 with a context frame (see context_indices) stacked after each frame.
        With the user's own clips, B is at most the number of clips.
        """
        c = self.config
        n = min(c.videos_per_batch, len(self.clips)) if not self.fresh else c.videos_per_batch
        if self.real and n % 2 == 0 and self.rng.random() < c.real_pairs:
            clips = self._real_views(n)
        else:
            clips = [self.clips[int(k)] for k in self._pick(n)]
        xs, ts = [], []
        for clip in clips:
            idx = sample_indices(self.rng, len(clip), c.frames_per_video)
            both = np.concatenate([idx, context_indices(idx, c.context)])   # frames, then their context
            x = augment(clip[torch.as_tensor(both)], self.rng, c.size, c.crop)  # one transform for all
            xs.append(torch.cat([x[:len(idx)], x[len(idx):]], 1) if c.context else x)
            ts.append(torch.as_tensor(idx / len(clip), dtype=torch.float32))
        return torch.stack(xs).to(device), torch.stack(ts).to(device)
