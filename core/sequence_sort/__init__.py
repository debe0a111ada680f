"""Sequence sorting: learn from video by putting shuffled frames back in order.

Lee, Huang, Singh and Yang, *Unsupervised Representation Learning by Sorting
Sequences*, ICCV 2017 (the Order Prediction Network, OPN), with Misra, Zitnick
and Hebert, *Shuffle and Learn: Unsupervised Learning using Temporal Order
Verification*, ECCV 2016, as its binary ancestor.

The pretext task: take four frames of a clip, shuffle them, and ask the
network which of the 12 orders it is looking at. Twelve, not 24, because a
sequence played backwards is often as plausible as forwards (a door opens and
closes, a hand rises and falls): a permutation and its reverse share one class
(`ORDERS`). Nobody labels anything; the clip's own time is the label. To sort
frames the network has to find what moved and where to, so its frame trunk
learns about objects and motion.

What the paper gets right, and this module keeps:
- **Motion-aware sampling.** A talking head or a still scene holds no order to
  find. Candidate windows are ranked by frame-difference energy (the paper uses
  optical-flow magnitude) and tuples come from the high-motion ones; windows
  across a scene cut (a spike in the energy) are skipped.
- **Against shortcuts.** Channel splitting: each frame keeps one random colour
  channel, copied to all three, so chromatic aberration and colour drift cannot
  date a frame. Per-frame spatial jitter: each frame is cropped at its own small
  random offset, so absolute pixel positions cannot be compared; only what moved
  relative to the scene can. The whole tuple is mirrored at random.
- **Pairwise features.** One trunk, shared by the four frames; a shared pair
  module looks at each of the 6 frame pairs (1,2)(2,3)(3,4)(1,3)(2,4)(1,4); the
  classifier reads the six pair features concatenated. Pairs are what make
  order learnable: each says "from this frame to that one, things moved so".
- **Shuffle & Learn's verification** as a second head on the same trunk and
  pair module: is this triplet in temporal order (either direction) or not?
  Positives (b, c, d) from frames a < b < c < d; negatives put a frame that is
  not between the other two in the middle.

A property of the 12 classes worth knowing (and shown in the tab): OPN merges a shuffle with its
mirror image, the same frames read right to left (the official data layer feeds ORDERS[k] or
ORDERS[k] reversed under label k), not with the shuffle of the clip played backwards. For motion
that looks the same both ways (a camera pan, a drifting sprite), a shuffle of the clip and the
same shuffle of the reversed clip are the same pictures with different classes in 16 of the 24
cases, so a sorter blind to the arrow of time tops out at 2/3 (`DIRECTION_BLIND_CEILING`);
beyond that it must know which way time runs. Evaluation also reports accuracy "either
direction", which counts the backwards clip's class as right.

What this small version simplifies, to train on a shared CPU in an hour:
- 64x64 frames and a 5-layer trunk (70k parameters, 0.3M in all) instead of
  CaffeNet at 80x80; batch norm, which makes training from scratch start fast.
- Every tuple is shown in all 24 orders at once: the trunk runs once per
  frame and the pair module once per ordered pair, and each order gathers its
  six pair features from those (the paper draws one order per tuple). Same
  loss, many more labels per second of CPU: the task leaves chance within a
  few hundred steps instead of sitting there for thousands.
- The pair module compares the two frames' 8x8 feature *maps* (concatenated
  channel-wise, one strided conv, then fc7) instead of two fc6 vectors: a local
  comparison that sees displacement directly, which a small net learns far
  sooner than a global one.
- Frame-difference energy instead of optical flow for motion-aware sampling.
- Training data: procedural sprite videos (core.synthetic, blurred backgrounds),
  virtual camera moves (pans, zooms, turns) over still photographs, and real
  clips (the bundled training clips; with `long_sources`, also the longer
  videos in data/sources/ they were cut from, which the shipped recipe leaves
  out: see Config.steps). The held-out clips (bikes, city) are never trained on.
- At test time frames are shown in grey (luma copied to three channels); in
  training each frame shows one of R, G, B, as in the paper's channel splitting.
"""
from __future__ import annotations

import copy
import dataclasses
import itertools
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from core import common

PAPER = ("Lee, Huang, Singh & Yang, Unsupervised Representation Learning by Sorting Sequences, ICCV 2017; "
         "Misra, Zitnick & Hebert, Shuffle and Learn, ECCV 2016")
METHOD = "sequence_sort"


# --------------------------------------------------------------------- config

@dataclasses.dataclass
class Config:
    steps: int = 4000             # 40 min on one thread beside another training (2026-12-04); the recipe
                                  # before (6000 steps, long sources, 160 photos, pool 256) scored 30.1% on
                                  # held-out real clips against 35.7% now, 70.6% on synthetic for both
    seed: int = 0
    size: int = 64                # frame side the trunk sees: motion of a few pixels is still visible
    jitter: int = 3               # per-frame crop offset, +-px (OPN: +-5 at 80 px): the frames' own positions
                                  # cannot be compared, only what moved relative to the scene
    jitter_warmup: float = 0.25   # fraction of training over which jitter ramps up from 0: the order task
                                  # takes off sooner on clean tuples, then learns to ignore the shake
    width: int = 16               # trunk channels 16-32-32-64-64: fast enough for a third of a core
    pair_dim: int = 128           # fc7 per frame pair
    batch: int = 32               # tuples per step, each shown in all 24 orders
    lr: float = 2e-3              # AdamW; warm-up then cosine
    warmup: int = 150
    weight_decay: float = 1e-4
    verify_weight: float = 0.5    # the Shuffle & Learn head's share of the loss
    p_synthetic: float = 0.25     # where tuples come from: sprite videos (learned first, and fast) ...
    p_photo: float = 0.35         # ... virtual camera moves over still photos (pans, zooms, turns: the
                                  # motion of most real footage, the held-out clips included) ...
    p_real: float = 0.4           # ... and real training clips, motion-aware sampled
    synth_pool: int = 128         # sprite clips kept in memory; one is replaced every 3 steps
    strides: tuple = (1, 2, 3, 4)  # frame gaps tried for real clips (15 fps); motion-aware ranking picks
    keep_top: float = 0.5         # keep the windows whose motion energy is in the top half of their clip
    long_sources: bool = False    # also read the longer source videos in data/sources/ when present
    photos: int = 60              # still photos for virtual camera moves (0: frames of training clips only)

    @classmethod
    def quick(cls) -> "Config":
        """The --quick preset: 1500 steps, about 8 minutes on 2 idle CPU cores.

        Estimated from CPU time, not wall time (this machine is shared): a step costs about 0.32
        CPU-seconds on one thread, so 1500 steps are 8 single-thread minutes, plus about a minute
        for start-up and evaluation; a second thread only shortens that. The task leaves chance
        within a few hundred steps, so 1500 already beats the baselines clearly.

        Run to the end on 2026-12-04 (`python -m core.train sequence_sort --quick --threads 1`, with
        data/sources fetched, one thread beside another training on a day this machine ran about half
        as fast): 875 s of training, 886 s of user CPU in all. Held-out 12-way top-1: real clips 35.7%
        (bikes 42.6%, city 29.4%), synthetic 64.3% (chance and random init 8.3%); verification 82.3% /
        98.3% (random init 50%); direction probe 64.6% vs 34.6% at random init.
        Re-timed as the README runs it (`python -m core.train sequence_sort --quick`, 2 threads, the
        machine otherwise idle, 2026-12-04): 479 s of training, 9:11 wall with start-up and evaluation,
        the same held-out numbers.
        """
        return cls(steps=1500)


# ORDERS[k]: class k means the frames shown are original[ORDERS[k]] or its reverse.
# One representative per {p, reversed p}: the one whose first index is below its last.
ORDERS: list[tuple[int, int, int, int]] = [p for p in itertools.permutations(range(4)) if p[0] < p[3]]
PAIRS: tuple[tuple[int, int], ...] = ((0, 1), (1, 2), (2, 3), (0, 2), (1, 3), (0, 3))
TRIPLET_PAIRS: tuple[tuple[int, int], ...] = ((0, 1), (1, 2), (0, 2))
_CLASS_OF = {**{p: k for k, p in enumerate(ORDERS)}, **{p[::-1]: k for k, p in enumerate(ORDERS)}}
CHANCE = 1.0 / len(ORDERS)
# The best 12-way accuracy of a sorter that cannot tell the arrow of time: 8 of the 24 shuffles are
# their own time-reversal's class (time_reversed_class), the other 16 are a coin toss between two.
DIRECTION_BLIND_CEILING = (8 + 16 * 0.5) / 24

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

TARGETS = {
    "real_top1": (">=", 0.40),
    "synthetic_top1": (">=", 0.80),
    "real_top1_random_init": ("<", "real_top1"),
    "probe_direction_margin": (">=", 0.10),
}

SYNTH_KW = dict(background="blurred", lighting=False)   # sprites that stand out; no global light ramp
                                                         # (a monotone brightness change would date frames)
EVAL_SYNTH_SEEDS = range(900_000, 900_120)     # held-out sprite clips (training seeds start at 10**7)
PROBE_TRAIN_SEEDS = range(800_000, 801_200)
PROBE_TEST_SEEDS = range(810_000, 810_400)
EVAL_STRIDE = 2                               # real held-out tuples: frames 2/15 s apart
EVAL_SYNTH_STRIDE = 3
LONG_SOURCES = {   # longer source videos of the bundled training clips (data/sources/, not committed)
    "vtest": ("opencv-doc", "usr/share/doc/opencv-doc/examples/data/vtest.avi", "BSD-3-Clause (OpenCV sample data)"),
    "tree_full": ("opencv-doc", "usr/share/doc/opencv-doc/examples/data/tree.avi", "BSD-3-Clause (OpenCV sample data)"),
    "earth_full": ("arcade", "arcade/resources/assets/video/earth.mp4", "Public domain (NASA SVS)"),
    "traffic_full": ("mvtb-data", "mvtbdata/images/traffic_sequence.mp4", "MIT (mvtb-data)"),
}
REPLACES = {"vtest": "pedestrians", "tree_full": "tree", "earth_full": "earth", "traffic_full": "traffic"}


# --------------------------------------------------------------------- helpers: orders

def order_class(perm) -> int:
    """The class of a shown order: perm[j] = which original frame is shown at position j."""
    key = tuple(int(i) for i in perm)
    if key not in _CLASS_OF:
        raise ValueError(f"an order of 4 frames is a permutation of 0..3, got {perm}")
    return _CLASS_OF[key]


def sorted_positions(k: int, flipped: bool = False) -> list[int]:
    """Positions of the shown frames in time order, if the frames shown are original[ORDERS[k]]
    (flipped: that sequence reversed, the other member of class k)."""
    order = ORDERS[k][::-1] if flipped else ORDERS[k]
    return [int(i) for i in np.argsort(order)]


def time_reversed_class(perm) -> int:
    """The class of the same shuffle of the clip played backwards: original[p] of the reversed
    clip is original[3 - p]. When motion looks the same both ways (a pan, a sprite drifting),
    no network can tell this class from order_class(perm)."""
    return order_class([3 - int(i) for i in perm])


def order_name(perm) -> str:
    return "".join(str(int(i) + 1) for i in perm)


# --------------------------------------------------------------------- helpers: motion-aware sampling

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


# --------------------------------------------------------------------- helpers: augmentation

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


# --------------------------------------------------------------------- helpers: training data

def _resize_tensor(x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(hw):
        return x
    return F.interpolate(x, size=tuple(hw), mode="bilinear", align_corners=False, antialias=True)


def _decode_cached(name: str, path: str, max_side: int = 160, max_fps: float = 15.0) -> np.ndarray | None:
    """A long source video decoded once and cached in data/cache/ (None when the file is absent)."""
    from core import sources
    if not os.path.isfile(path):
        return None
    os.makedirs(sources.CACHE, exist_ok=True)
    cache = os.path.join(sources.CACHE, f"seqsort_{name}_{max_side}_{max_fps:g}.npz")
    if os.path.isfile(cache):
        return np.load(cache)["frames"]
    from core import media
    frames = media.load_video(path, max_seconds=None, max_side=max_side, max_fps=max_fps, with_audio=False).frames
    tmp = cache + ".tmp.npz"
    np.savez(tmp, frames=frames)
    os.replace(tmp, cache)
    return frames


def training_clips(long_sources: bool = True) -> dict[str, np.ndarray]:
    """The real clips tuples may come from: bundled training clips, or their longer sources when present.

    Never the held-out clips (core.sources' split).
    """
    from core import sources
    clips = {}
    if long_sources:
        for name, (package, rel, _) in LONG_SOURCES.items():
            f = _decode_cached(name, os.path.join(sources.SOURCES, package, rel))
            if f is not None:
                clips[name] = f
    for name in sources.clip_names("train"):
        if any(REPLACES.get(k) == name for k in clips):
            continue
        clips[name] = sources.load_clip(name)[0]
    return clips


def training_photos(n: int, side: int = 224) -> list[np.ndarray]:
    """Up to n still photos from data/sources/ (the jigsaw collections), for virtual camera moves."""
    if n <= 0:
        return []
    from core import sources
    files = [f for fs in sources.photo_files().values() for f in fs]
    if not files:
        return []
    os.makedirs(sources.CACHE, exist_ok=True)
    cache = os.path.join(sources.CACHE, f"seqsort_photos_{len(files)}_{side}.npz")
    if os.path.isfile(cache):
        z = np.load(cache)
        photos = [z[k] for k in sorted(z.files, key=lambda s: int(s[1:]))]
    else:
        from PIL import Image
        photos = []
        for f in files:
            try:
                with Image.open(f) as im:
                    im.draft("RGB", (side * 2, side * 2))
                    im = im.convert("RGB")
                    im.thumbnail((side * 2, side * 2), Image.BILINEAR)
                    s = side / min(im.size)
                    im = im.resize((max(side, round(im.size[0] * s)), max(side, round(im.size[1] * s))), Image.BILINEAR)
                    a = np.asarray(im)
                    if a.std() > 20:            # skip flat graphics: nothing to see move
                        photos.append(a)
            except OSError:
                continue
        tmp = cache + ".tmp.npz"
        np.savez(tmp, **{f"p{i}": p for i, p in enumerate(photos)})
        os.replace(tmp, cache)
    idx = np.random.default_rng(1).permutation(len(photos))[:n]
    return [photos[i] for i in sorted(idx)]


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
        from core import synthetic
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
    shows the network every order of each tuple (`OrderNet.all_order_logits`).
    """
    tuples = torch.stack([sampler.sample() for _ in range(batch)])           # (B, 4, 3, S+2J, S+2J)
    J = (tuples.shape[-1] - size) // 2
    off = J + torch.from_numpy(rng.integers(-jitter, jitter + 1, size=(batch, 4, 2))) if jitter else \
        torch.full((batch, 4, 2), J)
    x = jitter_crop(tuples, off, size)
    return channel_split(x, torch.from_numpy(rng.integers(0, 3, size=(batch, 4))))


# --------------------------------------------------------------------- model

def _cbr(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class OrderNet(nn.Module):
    """Shared frame trunk -> pairwise features over frame pairs -> 12-way order classifier (+ S&L head).

    trunk: (N, 3, S, S) -> (N, 4w, S/8, S/8); pair: two maps -> (D,) fc7;
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
        f = self.trunk(x.flatten(0, 1))
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
        pf = self.pair_features(f, ORDERED_PAIRS)
        idx = torch.tensor([[_PAIR_INDEX[(t[a], t[b])] for a, b in TRIPLET_PAIRS] for t in ALL_TRIPLETS],
                           device=f.device)
        return self.verify_head(pf[:, idx].flatten(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 4, 3, S, S) frames in the order shown -> (B, 12) order logits."""
        return self.order_logits(self.features(x))


def build_model(config: Config) -> OrderNet:
    return OrderNet(config)


# --------------------------------------------------------------------- loss

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


# --------------------------------------------------------------------- training step

def _all_orders_logits(model: OrderNet, x: torch.Tensor):
    f = model.features(x)
    return model.all_order_logits(f), model.all_triplet_logits(f)


def train_step(model: OrderNet, optimizer: torch.optim.Optimizer, x: torch.Tensor, verify_weight: float,
               run=None) -> dict:
    """One optimisation step on tuples x (B, 4, 3, S, S) in time order, shown in all 24 orders.

    run: common.loss_runner(model) under torchrun (DDP averages the gradients); None runs alone.
    """
    dev = next(model.parameters()).device
    x = x.to(dev)
    B = x.shape[0]
    labels = torch.tensor([order_class(p) for p in ALL_PERMS], device=dev).expand(B, -1)          # (B, 24)
    tlabels = torch.tensor(TRIPLET_LABELS, device=dev).expand(B, -1)                             # (B, 24)
    model.train()
    logits, vlogits = (run or common.loss_runner(model))(_all_orders_logits, x)
    lo, lv = order_loss(logits, labels), verify_loss(vlogits, tlabels)
    loss = lo + verify_weight * lv
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    vhit = (vlogits.argmax(-1) == tlabels).float()
    return {"loss": lo.item(), "acc": (logits.argmax(-1) == labels).float().mean().item(),
            "verify_loss": lv.item(),
            "verify_acc": 0.5 * (vhit[tlabels == 1].mean() + vhit[tlabels == 0].mean()).item()}


def train(config: Config, steps: int | None = None, device="cpu", progress=None, model: OrderNet | None = None,
          frames: np.ndarray | None = None, log_every: int = 25):
    """Train (or continue training a deep copy of `model`) for `steps`; returns (model, history).

    frames: optionally a user's own clip (T, H, W, 3) uint8; then tuples come
    from it alone (plus virtual camera moves over its frames): no labels needed.
    """
    steps = int(steps or config.steps)
    common.set_seed(config.seed)
    if model is None:
        model = build_model(config)
    else:                       # continue from a model others may share: never mutate it
        arch = ("size", "width", "pair_dim")
        if any(getattr(model.config, a) != getattr(config, a) for a in arch):
            raise ValueError(f"config {[getattr(config, a) for a in arch]} does not fit the model's "
                             f"{[getattr(model.config, a) for a in arch]} ({', '.join(arch)})")
        model = copy.deepcopy(model)
        model.config = config
    device = device or next(model.parameters()).device
    model = model.to(device)
    if frames is not None:
        f = common.check_frames(frames, "frames", min_frames=4)
        if not motion_windows(f, config.strides, config.keep_top):
            raise ValueError("this clip has no window of 4 frames with motion in every gap to learn from; "
                             "try a clip where something moves")
        mix = dataclasses.replace(config, p_synthetic=0.0, p_photo=0.3, p_real=0.7)
        sampler = TupleSampler(mix, common.data_seed(config.seed), clips={"yours": f}, synthetic=False)
    else:
        clips = training_clips(config.long_sources) if config.p_real > 0 or config.p_photo > 0 else {}
        photos = training_photos(config.photos) if config.p_photo > 0 else []
        sampler = TupleSampler(config, common.data_seed(config.seed), clips=clips, photos=photos)
    rng = np.random.default_rng(common.data_seed(config.seed) + 1)      # each rank its own data shard
    ddp = common.loss_runner(model)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    history = common.new_history("loss", "acc", "verify_acc")
    tick = common.Ticker(progress, steps)
    run = {}
    for step in range(1, steps + 1):
        common.set_lr(opt, common.cosine_lr(step - 1, steps, config.lr, min(config.warmup, steps // 5)))
        ramp = min(1.0, step / max(1.0, config.jitter_warmup * steps))
        jitter = int(round(config.jitter * ramp))
        rec = train_step(model, opt, make_batch(sampler, config.batch, jitter, rng, config.size),
                         config.verify_weight, ddp)
        if step % 3 == 0:
            sampler.refresh()
        for k, v in rec.items():
            run[k] = run.get(k, 0.0) * 0.9 + v * 0.1 if k in run else v
        if step % log_every == 0 or step == steps:
            common.log(history, step, {k: run[k] for k in ("loss", "acc", "verify_acc")})
        tick(step, {k: run[k] for k in ("loss", "acc")})
    model.eval()
    return model, history


# --------------------------------------------------------------------- inference

def prepare(frames: np.ndarray, size: int) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (T, 3, size, size) grey-as-RGB float: the whole frame, squashed to a square."""
    return to_grey3(common.frames_to_tensor(frames, size))


@torch.inference_mode()
def frame_features(model: OrderNet, frames: np.ndarray, device=None) -> torch.Tensor:
    """Trunk maps of each frame: (T, H, W, 3) uint8 -> (T, C, h, w) on the model's device."""
    dev = device or next(model.parameters()).device
    x = prepare(frames, model.config.size).to(dev)
    model.eval()
    return torch.cat([model.trunk(x[i:i + 256]) for i in range(0, len(x), 256)])


@torch.inference_mode()
def predict(model: OrderNet, frames) -> np.ndarray:
    """Probabilities of the 12 orders for 4 frames in the order shown: (4, H, W, 3) -> (12,).

    Class k means the frames shown are original[ORDERS[k]] or its reverse.
    """
    f = common.check_frames(frames, "frames")
    if len(f) != 4:
        raise ValueError(f"predict sorts exactly 4 frames (4, H, W, 3); got {len(f)}")
    feats = frame_features(model, f)[None]
    return torch.softmax(model.order_logits(feats)[0].float(), 0).cpu().numpy()


@torch.inference_mode()
def verify(model: OrderNet, frames) -> float:
    """Shuffle & Learn: the probability that 3 frames (3, H, W, 3), as shown, are in temporal order."""
    f = common.check_frames(frames, "frames")
    if len(f) != 3:
        raise ValueError(f"verify takes exactly 3 frames (3, H, W, 3); got {len(f)}")
    feats = frame_features(model, f)[None]
    logits = model.verify_logits(feats, torch.tensor([[0, 1, 2]]))
    return float(torch.softmax(logits[0].float(), 0)[1])


def load_pretrained(device="cpu") -> OrderNet:
    return common.load_model(METHOD, Config, build_model, device)


# --------------------------------------------------------------------- evaluation

@torch.inference_mode()
def _sort_accuracy(model: OrderNet, windows: list[np.ndarray]) -> dict[str, float]:
    """Sorting and verification on held-out windows (4 frames in time order each).

    top1: 12-way accuracy over every shown order of each window (24: each class both ways).
    top1_either_direction: also counting the class of the clip played backwards as right
    (time_reversed_class): what a sorter that cannot see the arrow of time can reach.
    verify: Shuffle & Learn on every 3 of the frames in all 6 orders, balanced accuracy (8 of
    those 24 questions are in order: the mean of the accuracies on the two sides).
    """
    if not windows:
        return {"top1": float("nan"), "top1_either_direction": float("nan"), "verify": float("nan")}
    labels = torch.tensor([order_class(p) for p in ALL_PERMS])
    back = torch.tensor([time_reversed_class(p) for p in ALL_PERMS])
    tlabels = torch.tensor(TRIPLET_LABELS)
    hit, either, vhit = 0, 0, np.zeros(2)
    for n in range(0, len(windows), 64):
        f = torch.stack([frame_features(model, w) for w in windows[n:n + 64]])   # (B, 4, C, h, w)
        pred = model.all_order_logits(f).argmax(-1).cpu()                    # (B, 24)
        hit += int((pred == labels).sum())
        either += int(((pred == labels) | (pred == back)).sum())
        v = model.all_triplet_logits(f).argmax(-1).cpu() == tlabels
        vhit += [int(v[:, tlabels == 0].sum()), int(v[:, tlabels == 1].sum())]
    n = len(windows)
    return {"top1": hit / (24 * n), "top1_either_direction": either / (24 * n),
            "verify": float(np.mean(vhit / (n * np.array([16, 8]))))}


def _pixel_path_accuracy(windows: list[np.ndarray]) -> float:
    """A no-learning baseline: the class whose reading of the shown frames has the shortest path in pixels
    (the sum of mean absolute grey differences between frames taken to be successive)."""
    readings = [(k, np.argsort(o)) for k, p in enumerate(ORDERS) for o in (p, p[::-1])]
    hit, n = 0, 0
    for w in windows:
        g = _small_grey(w)
        d = np.abs(g[:, None] - g[None]).mean(axis=(2, 3))                  # (4, 4) between original frames
        for p in ALL_PERMS:
            cost = [sum(d[p[a[j]], p[a[j + 1]]] for j in range(3)) for _, a in readings]
            hit += int(readings[int(np.argmin(cost))][0] == order_class(p))
            n += 1
    return hit / max(n, 1)


def real_eval_windows(stride: int = EVAL_STRIDE, names=None) -> dict[str, list[np.ndarray]]:
    """Held-out real tuples: windows with clear motion (top half of each clip's energy, no cut)."""
    from core import sources
    out = {}
    for name in names or sources.clip_names("held_out"):
        f = sources.load_clip(name)[0]
        cands = motion_windows(f, (stride,), keep_top=0.5)
        cands.sort(key=lambda c: c[0])
        out[name] = [f[t:t + 3 * s + 1:s] for t, s, _ in cands]
    return out


def synthetic_eval_windows(seeds=EVAL_SYNTH_SEEDS, size: int = 64) -> list[np.ndarray]:
    """Held-out sprite clips (seeds never trained on): the best motion window of each."""
    from core import synthetic
    out = []
    for seed in seeds:
        v, _ = synthetic.sprites_video(seed, frames=20, size=size, **SYNTH_KW)
        t, s = pick_window(v, EVAL_SYNTH_STRIDE)
        out.append(v[t:t + 3 * s + 1:s])
    return out


def probe_data(seeds, size: int = 64, gap: int = 4):
    """Single-sprite clips for the linear probes: two frames `gap` apart, the sprite's motion
    direction (0 right, 1 down, 2 left, 3 up) and shape class (core.synthetic.SHAPES)."""
    from core import synthetic
    frames, direction, shape = [], [], []
    for seed in seeds:
        v, lab = synthetic.sprites_video(seed, frames=2 + gap, size=size, n_sprites=1, **SYNTH_KW)
        a, b = 1, 1 + gap
        ca, cb = [np.argwhere(lab[t] == 1).mean(0) if (lab[t] == 1).any() else np.array([np.nan] * 2) for t in (a, b)]
        d = cb - ca                                                          # (dy, dx)
        if not np.isfinite(d).all() or np.hypot(*d) < 1.5:
            continue
        ang = math.atan2(d[0], d[1])                                         # 0 = right, pi/2 = down
        direction.append(int(round(ang / (math.pi / 2))) % 4)
        frames.append(v[[a, b]])
        shape.append(_sprite_shape(seed))
    return np.stack(frames), np.array(direction), np.array(shape)


def _sprite_shape(seed: int) -> int:
    """Shape class of the one sprite of sprites_video(seed, n_sprites=1, background='blurred'),
    replaying the generator's random draws up to the sprite's shape."""
    from core import synthetic
    rng = np.random.default_rng(seed)
    rng.integers(2**31)                          # background seed
    rng.uniform(-0.4, 0.4, 2)                    # pan
    rng.uniform(0.2, 0.8)                        # base grey
    rng.uniform(0.2, 0.36)                       # size
    rng.random((2, 3))                           # colours
    return synthetic.SHAPES.index(str(rng.choice(synthetic.SHAPES)))


@torch.inference_mode()
def _probe_features(model: OrderNet, frames: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Frame-trunk features for the probes, from (N, 2, H, W, 3) frame pairs.

    motion: the change of the trunk's 8x8 maps between the two frames, f(b) - f(a), flattened
    (N, C*h*w): a linear read-out of it can follow where a feature went.
    appearance: the first frame's maps averaged over space (N, C): what is there, not where.
    """
    N = len(frames)
    f = frame_features(model, frames.reshape(-1, *frames.shape[2:])).cpu()
    f = f.view(N, 2, *f.shape[1:])
    return (f[:, 1] - f[:, 0]).flatten(1), f[:, 0].mean(dim=(-2, -1))


def _fit_logistic(x: torch.Tensor, y: torch.Tensor, n_cls: int, weight_decay: float, iters: int) -> nn.Linear:
    """Multinomial logistic regression, full-batch L-BFGS, L2 on the weights; deterministic."""
    lin = nn.Linear(x.shape[1], n_cls)
    with torch.no_grad():
        lin.weight.zero_()
        lin.bias.zero_()
    opt = torch.optim.LBFGS(lin.parameters(), lr=1, max_iter=iters, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(lin(x), y) + weight_decay * lin.weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return lin


def linear_probe(train_x: torch.Tensor, train_y: np.ndarray, test_x: torch.Tensor, test_y: np.ndarray,
                 weight_decays=(1e-4, 1e-3, 1e-2, 1e-1), iters: int = 100) -> float:
    """Test accuracy of a linear classifier on standardized features.

    The L2 strength is chosen on the last quarter of the training set (never on the test set),
    then the classifier is refit on all of the training set.
    """
    mu, sd = train_x.mean(0), train_x.std(0) + 1e-6
    xtr, xte = (train_x - mu) / sd, (test_x - mu) / sd
    ytr = torch.as_tensor(np.asarray(train_y)).long()
    n_cls = int(max(np.max(train_y), np.max(test_y))) + 1
    cut = (3 * len(xtr)) // 4

    def acc(lin, x, y):
        with torch.no_grad():
            return float((lin(x).argmax(1) == torch.as_tensor(np.asarray(y)).long()).float().mean())

    scores = [acc(_fit_logistic(xtr[:cut], ytr[:cut], n_cls, wd, iters), xtr[cut:], ytr[cut:]) for wd in weight_decays]
    best = weight_decays[int(np.argmax(scores))]
    return acc(_fit_logistic(xtr, ytr, n_cls, best, iters), xte, test_y)


def probe_scores(model: OrderNet, train=None, test=None) -> dict[str, float]:
    """Linear probes on the frozen frame trunk: motion direction (4 ways, from two frames) and
    sprite shape (6 ways, from one frame), trained on PROBE_TRAIN_SEEDS, tested on PROBE_TEST_SEEDS."""
    train = train or probe_data(PROBE_TRAIN_SEEDS, model.config.size)
    test = test or probe_data(PROBE_TEST_SEEDS, model.config.size)
    (mtr, atr), (mte, ate) = _probe_features(model, train[0]), _probe_features(model, test[0])
    return {"direction": linear_probe(mtr, train[1], mte, test[1]),
            "shape": linear_probe(atr, train[2], ate, test[2])}


def evaluate(model: OrderNet, device="cpu") -> dict[str, float]:
    """Held-out metrics: 12-way sorting on real and synthetic clips, verification, probes; with baselines."""
    model = model.to(device).eval()
    g = torch.random.get_rng_state()
    torch.manual_seed(12345)
    random_model = build_model(model.config).to(device).eval()
    torch.random.set_rng_state(g)
    real = real_eval_windows()
    real_all = [w for ws in real.values() for w in ws]
    synth = synthetic_eval_windows(size=model.config.size)
    m: dict[str, float] = {"chance": CHANCE, "direction_blind_ceiling": DIRECTION_BLIND_CEILING}
    for tag, mdl in (("", model), ("_random_init", random_model)):
        r, sy = _sort_accuracy(mdl, real_all), _sort_accuracy(mdl, synth)
        m["real_top1" + tag], m["synthetic_top1" + tag] = r["top1"], sy["top1"]
        m["real_top1_either_direction" + tag] = r["top1_either_direction"]
        m["synthetic_top1_either_direction" + tag] = sy["top1_either_direction"]
        m["real_verify_acc" + tag], m["synthetic_verify_acc" + tag] = r["verify"], sy["verify"]
        for name, ws in real.items():
            m[f"real_top1_{name}" + tag] = _sort_accuracy(mdl, ws)["top1"]
    m["real_top1_pixel_path"] = _pixel_path_accuracy(real_all)
    m["synthetic_top1_pixel_path"] = _pixel_path_accuracy(synth)
    m["real_tuples"] = float(24 * len(real_all))
    m["synthetic_tuples"] = float(24 * len(synth))
    train = probe_data(PROBE_TRAIN_SEEDS, model.config.size)
    test = probe_data(PROBE_TEST_SEEDS, model.config.size)
    p, pr = probe_scores(model, train, test), probe_scores(random_model, train, test)
    m["probe_direction"], m["probe_direction_random_init"] = p["direction"], pr["direction"]
    m["probe_direction_margin"] = p["direction"] - pr["direction"]
    m["probe_shape"], m["probe_shape_random_init"] = p["shape"], pr["shape"]
    return m


def data_card(config: Config) -> dict:
    from core import sources
    clips = [c for c in sources.manifest()["clips"] if c["split"] == "train"]
    return {
        "synthetic": f"core.synthetic.sprites_video({SYNTH_KW}), 20 frames at {config.size + 2 * config.jitter} px, "
                     f"seeds from 10**7 (held-out evaluation seeds {EVAL_SYNTH_SEEDS.start}..{EVAL_SYNTH_SEEDS.stop - 1})",
        "real_clips": [f"{c['name']} ({c['package']}: {c['licence']})" for c in clips],
        "long_sources": ([f"{k}: {v[0]}/{v[1]} ({v[2]}), replaces the bundled '{REPLACES[k]}'"
                          for k, v in LONG_SOURCES.items()] if config.long_sources else []),
        "photos": (f"{config.photos} stills from core.sources.photo_files() (jigsaw's collections; licences "
                   "GPL / CC-BY(-SA) / CC0 / MIT, see core/sources.py PHOTO_SOURCES) for virtual camera moves"
                   if config.photos else "frames of the training clips only"),
        "mix": {"synthetic": config.p_synthetic, "photo_camera_moves": config.p_photo, "real": config.p_real},
        "held_out": sources.clip_names("held_out") + ["sprite clips with seeds " f"{EVAL_SYNTH_SEEDS.start}+"],
    }
