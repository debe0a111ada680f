"""Training data: motion-aware sampling, the augmentations against shortcuts, the tuple sampler, and `train`.

A training tuple is 4 frames in time order with motion in every gap. It comes
from a sprite video, a virtual camera move over a still photo, or a real clip
(a high-motion window, `motion_windows`). Each frame is then cropped at its own
small offset (`jitter_crop`) and keeps one colour channel (`channel_split`);
the loss shows the network all 24 orders of it.
"""
from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import torch
import torch.nn.functional as F

from core import common, sources, synthetic, train as loop
from core.sequence_sort.model import Config, OrderNet, build_model, sort_and_verify_loss

SYNTH_KW = dict(background="blurred", lighting=False)   # sprites that stand out; no global light ramp
                                                         # (a monotone brightness change would date frames)
LONG_SOURCES = ("pedestrians", "tree", "earth", "traffic")   # the train clips read whole with long_sources


# --------------------------------------------------------------------- motion-aware sampling

def motion_energy(frames: np.ndarray, side: int = 32) -> np.ndarray:
    """Mean absolute grey difference between consecutive frames, in [0, 1]: (T,H,W,3) -> (T-1,).

    Computed on frames shrunk to about `side` pixels, which averages away
    sensor noise and compression blocks and costs next to nothing.
    """
    g = _small_grey(frames, side)
    if len(g) < 2:
        return np.zeros(0, np.float32)
    return np.abs(np.diff(g, axis=0)).mean(axis=(1, 2)).astype(np.float32)


def _small_grey(frames: np.ndarray, side: int = 32) -> np.ndarray:
    """(T,H,W,3) uint8 -> (T,h,w) float32 grey, box-averaged so the longer side is about `side`."""
    f = np.asarray(frames)
    T, H, W = f.shape[:3]
    k = max(1, max(H, W) // side)
    h, w = H // k, W // k
    g = common.grey(f[:, :h * k, :w * k])
    return g.reshape(T, h, k, w, k).mean(axis=(2, 4))


def scene_cuts(energy: np.ndarray, ratio: float = 3.0, floor: float = 0.08) -> np.ndarray:
    """Which consecutive-frame differences are scene cuts: (T-1,) bool.

    A cut is a spike: far above the median of its neighbours (+-4 frames) and
    above an absolute floor (8% mean grey change). A fast pan raises the
    energy for many frames in a row, so it is not mistaken for a cut.
    """
    e = np.asarray(energy, np.float32)
    cut = np.zeros(e.shape, bool)
    for t in range(len(e)):
        nb = np.concatenate([e[max(0, t - 4):t], e[t + 1:t + 5]])
        ref = float(np.median(nb)) if nb.size else 0.0
        cut[t] = e[t] > floor and e[t] > ratio * ref
    return cut


def window_energies(frames: np.ndarray, stride: int, energy: np.ndarray | None = None,
                    small: np.ndarray | None = None, n: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Motion energy of every n-frame window at one stride, and whether it crosses a cut.

    A window starting at t holds frames t, t+s, ..., t+(n-1)s. Its energy is
    the *smallest* difference between successive sampled frames: every gap must
    show motion, else two frames could be swapped unseen (repeated frames, a
    pause). Returns (energies (W,), crosses_cut (W,) bool), W = T - (n-1)s.
    """
    small = _small_grey(frames) if small is None else small
    energy = motion_energy(frames) if energy is None else energy
    T = len(small)
    W = T - (n - 1) * stride
    if W <= 0:
        return np.zeros(0, np.float32), np.zeros(0, bool)
    gaps = np.abs(small[stride:] - small[:-stride]).mean(axis=(1, 2))      # (T - s,)
    e = np.stack([gaps[k * stride:k * stride + W] for k in range(n - 1)]).min(axis=0)
    cuts = scene_cuts(energy)
    c = np.concatenate([[0], np.cumsum(cuts)])
    crosses = (c[np.arange(W) + (n - 1) * stride] - c[np.arange(W)]) > 0
    return e.astype(np.float32), crosses


def motion_windows(frames: np.ndarray, strides=(1, 2, 3, 4), keep_top: float = 0.5,
                   min_energy: float = 0.004, n: int = 4) -> list[tuple[int, int, float]]:
    """Motion-aware candidates: (start, stride, energy) of the windows worth sorting, best first.

    Windows across a cut or with a still gap (energy below `min_energy`, i.e.
    under 0.4% grey change) are dropped; of the rest, the `keep_top` fraction
    with the highest energy is kept.
    """
    small, energy = _small_grey(frames), motion_energy(frames)
    cands = []
    for s in strides:
        e, crosses = window_energies(frames, s, energy, small, n)
        cands += [(int(t), int(s), float(e[t])) for t in range(len(e)) if not crosses[t] and e[t] >= min_energy]
    cands.sort(key=lambda c: -c[2])
    return cands[:max(1, int(math.ceil(len(cands) * keep_top)))] if cands else []


def pick_window(frames: np.ndarray, stride: int | None = None, n: int = 4) -> tuple[int, int]:
    """The single best window (start, stride) of a clip for the tab: highest motion, no cut.

    With `stride=None` the largest stride of 3, 2, 1 that has a moving window
    wins; falls back to evenly spread frames for clips too short or still.
    """
    T = len(frames)
    strides = [stride] if stride else [s for s in (3, 2, 1) if (n - 1) * s < T]
    for s in strides:
        c = motion_windows(frames, (s,), keep_top=1.0, n=n)
        if c:
            return c[0][0], c[0][1]
    s = max(1, (T - 1) // (n - 1))
    return 0, s


# --------------------------------------------------------------------- augmentation (against shortcuts)

def channel_split(x: torch.Tensor, channels: torch.Tensor) -> torch.Tensor:
    """Keep one colour channel per frame, copied to all three (OPN's channel splitting).

    x: (B, T, 3, H, W); channels: (B, T) int in {0, 1, 2}. Returns (B, T, 3, H, W).
    """
    idx = channels.long().to(x.device)[:, :, None, None, None].expand(-1, -1, 1, *x.shape[-2:])
    return torch.gather(x, 2, idx).expand(-1, -1, 3, -1, -1).contiguous()


def to_grey3(x: torch.Tensor) -> torch.Tensor:
    """Test-time stand-in for channel splitting: luma copied to three channels. (..., 3, H, W)."""
    w = torch.tensor([0.299, 0.587, 0.114], device=x.device, dtype=x.dtype).view(3, 1, 1)
    return (x * w).sum(dim=-3, keepdim=True).expand_as(x).contiguous()


def jitter_crop(x: torch.Tensor, offsets: torch.Tensor, size: int) -> torch.Tensor:
    """Crop each frame at its own offset: x (B, T, C, S, S), offsets (B, T, 2) int (dy, dx) -> (B, T, C, size, size)."""
    B, T = x.shape[:2]
    out = x.new_empty(B, T, x.shape[2], size, size)
    for b in range(B):
        for t in range(T):
            dy, dx = int(offsets[b, t, 0]), int(offsets[b, t, 1])
            out[b, t] = x[b, t, :, dy:dy + size, dx:dx + size]
    return out


def triplet_question(rng: np.random.Generator, in_order: bool | None = None) -> tuple[tuple[int, int, int], int]:
    """A Shuffle & Learn question about 4 frames in time order: which 3 to show, and the answer.

    Picks 3 of the 4 frames a < b < c; in order (label 1): (a, b, c) or its
    reverse; out of order (label 0): an order whose middle frame is not b, as
    Misra et al.'s (b, a, d) and (b, e, d). `in_order=None` tosses a coin.
    """
    a, b, c = sorted(rng.choice(4, size=3, replace=False).tolist())
    if in_order is None:
        in_order = bool(rng.random() < 0.5)
    if in_order:
        return ((a, b, c) if rng.random() < 0.5 else (c, b, a)), 1
    bad = [p for p in itertools.permutations((a, b, c)) if p[1] != b]
    return bad[int(rng.integers(len(bad)))], 0


# --------------------------------------------------------------------- the tuple sampler

def _resize_tensor(x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(hw):
        return x
    return F.interpolate(x, size=tuple(hw), mode="bilinear", align_corners=False, antialias=True)


def camera_photos(n: int) -> list[np.ndarray]:
    """n of the training photographs (a fixed random pick), short side 224 px, flat graphics left out:
    the stills for virtual camera moves. Empty when none were fetched."""
    if n <= 0:
        return []
    photos = sources.training_photos(224, min_std=20)
    pick = np.random.default_rng(1).permutation(len(photos))[:n]
    return [photos[i] for i in sorted(pick)]


class TupleSampler:
    """Draws training tuples, 4 frames in time order (4, 3, S+2J, S+2J), from a mix of sources.

    Every tuple has motion between each pair of successive frames; jitter and
    channel splitting happen in `make_batch`, shuffling in the loss. Sources:
    sprite clips (a pool, refreshed a clip at a time), virtual camera moves
    over photos, and real clips (motion-aware windows, `motion_windows`).
    """

    def __init__(self, config: Config, seed: int, clips: dict | None = None, photos: list | None = None,
                 synthetic: bool = True):
        self.c = config
        self.min_gap = 0.004
        self.rng = np.random.default_rng(seed)
        self.full = config.size + 2 * config.jitter
        self.next_seed = 10**7 + seed * 10**6
        self.pool: list[np.ndarray] = []
        self.synthetic = synthetic and config.p_synthetic > 0
        if self.synthetic:
            for _ in range(config.synth_pool):
                self.pool.append(self._sprite_clip())
        self.clips, self.windows = {}, {}
        for name, f in (clips or {}).items():
            f = self._shrink(f)
            w = motion_windows(f, config.strides, config.keep_top)
            if w:
                self.clips[name], self.windows[name] = f, w
        # stills for camera moves: the photos, and a few frames of each training clip
        stills = list(photos or [])
        for f in self.clips.values():
            stills += [f[i] for i in self.rng.choice(len(f), size=min(4, len(f)), replace=False)]
        self.photos = [torch.from_numpy(self._shrink(p[None])[0]).permute(2, 0, 1).float().div(255) for p in stills]
        p = np.array([config.p_synthetic if self.synthetic else 0.0,
                      config.p_photo if self.photos else 0.0, config.p_real if self.clips else 0.0])
        if p.sum() <= 0:
            raise ValueError("no training data: give frames, photos or enable synthetic clips")
        self.p = p / p.sum()

    def _shrink(self, f: np.ndarray) -> np.ndarray:
        """Frames stored with their shorter side at 2x the crop size: enough for zoomed crops."""
        f = np.asarray(f)
        H, W = f.shape[1:3]
        s = 2 * self.full / min(H, W)
        if s >= 1:
            return f
        x = _resize_tensor(torch.from_numpy(np.array(f)).permute(0, 3, 1, 2).float(), (round(H * s), round(W * s)))
        return x.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()

    def _sprite_clip(self) -> np.ndarray:
        v, _ = synthetic.sprites_video(self.next_seed, frames=20, size=self.full, **SYNTH_KW)
        self.next_seed += 1
        return v

    def refresh(self) -> None:
        """Replace one sprite clip of the pool (about 0.1 s: call it every few steps)."""
        if self.synthetic:
            self.pool[int(self.rng.integers(len(self.pool)))] = self._sprite_clip()

    def _from_sprites(self) -> torch.Tensor:
        v = self.pool[int(self.rng.integers(len(self.pool)))]
        s = int(self.rng.integers(2, 5))
        t = int(self.rng.integers(0, len(v) - 3 * s))
        x = torch.from_numpy(v[t:t + 3 * s + 1:s]).permute(0, 3, 1, 2).float().div(255)
        return x

    def _from_clip(self) -> torch.Tensor:
        name = list(self.clips)[int(self.rng.integers(len(self.clips)))]
        f, w = self.clips[name], self.windows[name]
        t, s, _ = w[int(self.rng.integers(len(w)))]
        x = torch.from_numpy(f[t:t + 3 * s + 1:s]).permute(0, 3, 1, 2).float().div(255)
        H, W = x.shape[-2:]
        scale = self.rng.uniform(0.6, 1.0)                  # random crop, same for the 4 frames
        h, w_ = max(8, int(H * scale)), max(8, int(W * scale * self.rng.uniform(0.8, 1.25)))
        w_ = min(w_, W)
        y0, x0 = int(self.rng.integers(0, H - h + 1)), int(self.rng.integers(0, W - w_ + 1))
        return _resize_tensor(x[:, :, y0:y0 + h, x0:x0 + w_], (self.full, self.full))

    def _from_photo(self) -> torch.Tensor:
        """A virtual camera: pan, zoom and turn over a still, 4 frames at equal time steps."""
        img = self.photos[int(self.rng.integers(len(self.photos)))]
        rng = self.rng
        kind = rng.choice(["pan", "zoom", "turn", "mix"], p=[0.5, 0.15, 0.1, 0.25])
        speed = rng.uniform(2.5, 8.0) * 2 / self.full               # normalized units per step (grid is [-1, 1])
        ang = rng.uniform(0, 2 * math.pi)
        v = np.array([math.cos(ang), math.sin(ang)]) * speed if kind in ("pan", "mix") else np.zeros(2)
        acc = rng.normal(0, 0.15, 2) * speed
        g = rng.uniform(0.04, 0.12) * rng.choice([-1, 1]) if kind in ("zoom", "mix") else 0.0
        w = math.radians(rng.uniform(2, 6)) * rng.choice([-1, 1]) if kind in ("turn", "mix") else 0.0
        z0 = rng.uniform(0.35, 0.6)                                 # view covers this fraction of the photo
        H, W = img.shape[-2:]
        ar = W / H
        mats = []
        for k in range(4):
            z = z0 * math.exp(g * k)
            r = w * k
            c = v * k + 0.5 * acc * k * k
            sx, sy = z / ar if ar > 1 else z, z * ar if ar < 1 else z
            mats.append([[sx * math.cos(r), -sx * math.sin(r), c[0]], [sy * math.sin(r), sy * math.cos(r), c[1]]])
        theta = torch.tensor(mats, dtype=torch.float32)
        # centre the path so the whole trajectory stays inside the photo
        theta[:, :, 2] -= theta[:, :, 2].mean(dim=0, keepdim=True)
        span = (1 - max(abs(theta[:, 0, :2]).sum(1).max().item(), abs(theta[:, 1, :2]).sum(1).max().item()))
        theta[:, :, 2] += torch.tensor(rng.uniform(-1, 1, 2) * max(0.0, span - theta[:, :, 2].abs().max().item()),
                                       dtype=torch.float32)
        grid = F.affine_grid(theta, (4, 3, self.full, self.full), align_corners=False)
        src = img[None].expand(4, -1, -1, -1)
        return F.grid_sample(src, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    def sample(self) -> torch.Tensor:
        """One tuple in time order: (4, 3, S+2J, S+2J) float in [0, 1], with motion in every gap.

        A tuple whose successive frames barely differ (a sprite behind another,
        a camera move over a blank sky) holds no order to learn: draw again.
        """
        for _ in range(8):
            src = self.rng.choice(3, p=self.p)
            x = (self._from_sprites, self._from_photo, self._from_clip)[src]()
            g = x.mean(1)
            if float((g[1:] - g[:-1]).abs().mean(dim=(1, 2)).min()) >= self.min_gap:
                break
        if self.rng.random() < 0.5:                                  # mirror the whole tuple
            x = x.flip(-1)
        return x


def make_batch(sampler: TupleSampler, batch: int, jitter: int, rng: np.random.Generator, size: int) -> torch.Tensor:
    """A batch of tuples in time order, each frame jittered and channel-split on its own.

    Returns (B, 4, 3, size, size). The shuffling happens in the loss, which
    shows the network every order of each tuple (`sort_and_verify_loss`).
    """
    tuples = torch.stack([sampler.sample() for _ in range(batch)])           # (B, 4, 3, S+2J, S+2J)
    J = (tuples.shape[-1] - size) // 2
    off = J + torch.from_numpy(rng.integers(-jitter, jitter + 1, size=(batch, 4, 2))) if jitter else \
        torch.full((batch, 4, 2), J)
    x = jitter_crop(tuples, off, size)
    return channel_split(x, torch.from_numpy(rng.integers(0, 3, size=(batch, 4))))


# --------------------------------------------------------------------- training through core.train

def training_sampler(config: Config, frames: np.ndarray | None = None) -> TupleSampler:
    """The tuples a run learns from: the shipped mix, or a user's own clip (T, H, W, 3) uint8.

    A user's clip gives real tuples (70%) and virtual camera moves over its frames (30%); it needs
    at least one 4-frame window with motion in every gap, else ValueError.
    """
    if frames is None:
        clips = {}
        if config.p_real > 0 or config.p_photo > 0:
            clips = sources.training_clips(sources=LONG_SOURCES if config.long_sources else (), real=config.real_clips)
        photos = camera_photos(config.photos) if config.p_photo > 0 else []
        return TupleSampler(config, common.data_seed(config.seed), clips=clips, photos=photos)
    f = common.check_frames(frames, "frames", min_frames=4)
    if not motion_windows(f, config.strides, config.keep_top):
        raise ValueError("this clip has no window of 4 frames with motion in every gap to learn from; "
                         "try a clip where something moves")
    mix = dataclasses.replace(config, p_synthetic=0.0, p_photo=0.3, p_real=0.7)
    return TupleSampler(mix, common.data_seed(config.seed), clips={"yours": f}, synthetic=False)


def train(config: Config, steps: int | None = None, device="cpu", progress=None, model: OrderNet | None = None,
          frames: np.ndarray | None = None, log_every: int = 25):
    """Train from scratch, or continue a deep copy of `model`, for `steps` steps; returns (model, history).

    frames: optionally a user's own clip (T, H, W, 3) uint8; then tuples come from it alone (plus
    virtual camera moves over its frames): no labels needed. history logs the mean of each window
    of log_every steps: loss, order_loss, acc, verify_loss, verify_acc, lr.
    """
    steps = int(steps or config.steps)
    model, config = loop.start(build_model, config, model, device)
    sampler = training_sampler(config, frames)
    rng = np.random.default_rng(common.data_seed(config.seed) + 1)      # each rank its own data shard

    def batches(step):
        ramp = min(1.0, step / max(1.0, config.jitter_warmup * steps))
        x = make_batch(sampler, config.batch, int(round(config.jitter * ramp)), rng, config.size)
        if step % 3 == 0:
            sampler.refresh()
        return (x.to(device),)

    def loss(model, x):
        return sort_and_verify_loss(model, x, config.verify_weight)

    history = loop.fit(model, config, steps, batches, loss, progress, log_every=log_every)
    return model, history
