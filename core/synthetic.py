"""Procedural data with ground truth: images, sprite videos, an action, audio-visual scenes.

Every generator is a pure function of its seed (any seed gives a new sample)
and returns numpy arrays plus the ground truth a benchmark needs: masks for
tracking, phase for alignment, the sounding object for localization. They are
fast enough to feed training on a CPU (a 64-frame 128x128 sprite clip takes a
few tens of milliseconds).

- `dead_leaves`: occluding discs and boxes with power-law sizes, the classic
  model of natural-image statistics, each leaf flat, striped or noisy.
- `sprites_video`: textured sprites that move, turn, occlude each other and
  share a changing light, over a textured background; a label map per frame.
- `action_video`: one action (a stick figure winds up and throws a ball) at a
  varied pace, start, appearance and viewpoint, with its phase per frame.
- `av_scene`: objects of distinct classes on a textured background, each
  class with its own sound; one of them sounds, and its mask is known.
"""
from __future__ import annotations

import functools
import math
import os
import wave

import numpy as np

ASSETS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets")
SAMPLE_RATE = 16000

SHAPES = ("disc", "square", "triangle", "star", "ellipse", "cross")


# --------------------------------------------------------------------- helpers

def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Value noise in [0, 1]: a coarse random grid, bilinearly upsampled to (h, w)."""
    gh, gw = max(2, cells), max(2, int(round(cells * w / max(h, 1))))
    grid = rng.random((gh + 1, gw + 1))
    ys = np.linspace(0, gh, h, endpoint=False)
    xs = np.linspace(0, gw, w, endpoint=False)
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    fy, fx = fy * fy * (3 - 2 * fy), fx * fx * (3 - 2 * fx)   # smoothstep: no grid creases
    a = grid[y0][:, x0]
    b = grid[y0][:, x0 + 1]
    c = grid[y0 + 1][:, x0]
    d = grid[y0 + 1][:, x0 + 1]
    return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy


def texture(rng: np.random.Generator, h: int, w: int, kind: str | None = None,
            colors: np.ndarray | None = None) -> np.ndarray:
    """A (h, w, 3) float texture in [0, 1]: flat, stripes, checks, noise or blobs between two colours."""
    kind = kind or rng.choice(["flat", "stripes", "checks", "noise", "blobs"], p=[0.2, 0.25, 0.15, 0.2, 0.2])
    if colors is None:
        colors = rng.random((2, 3))
    c0, c1 = colors[0], colors[1]
    if kind == "flat":
        t = np.full((h, w), 0.5) + 0.08 * (_smooth_noise(rng, h, w, 3) - 0.5)
    elif kind == "stripes":
        ang, period = rng.uniform(0, math.pi), rng.uniform(4, 14)
        yy, xx = np.mgrid[0:h, 0:w]
        t = 0.5 + 0.5 * np.sin(2 * math.pi * (xx * math.cos(ang) + yy * math.sin(ang)) / period)
    elif kind == "checks":
        cell = int(rng.integers(3, 10))
        yy, xx = np.mgrid[0:h, 0:w]
        t = ((yy // cell + xx // cell) % 2).astype(np.float64)
    elif kind == "noise":
        t = _smooth_noise(rng, h, w, int(rng.integers(max(2, h // 8), max(3, h // 3) + 1)))
    elif kind == "blobs":
        t = (_smooth_noise(rng, h, w, int(rng.integers(2, 6))) > 0.5).astype(np.float64)
        t = 0.15 + 0.7 * t + 0.15 * _smooth_noise(rng, h, w, max(2, h // 6))
    else:
        raise ValueError(f"unknown texture kind {kind!r}")
    return c0 * (1 - t[..., None]) + c1 * t[..., None]


def shape_mask(shape: str, s: int, angle: float = 0.0, aspect: float = 1.0) -> np.ndarray:
    """A (s, s) bool mask of a shape centred in its box, turned by `angle` radians."""
    r = (np.arange(s) - (s - 1) / 2) / (s / 2)           # [-1, 1] across the box
    yy, xx = np.meshgrid(r, r, indexing="ij")
    ca, sa = math.cos(angle), math.sin(angle)
    x = xx * ca + yy * sa
    y = -xx * sa + yy * ca
    if shape == "disc":
        return x * x + y * y <= 0.92
    if shape == "ellipse":
        return (x / 0.95) ** 2 + (y / (0.95 * min(aspect, 1 / aspect) * 0.8 + 0.2)) ** 2 <= 1
    if shape == "square":
        return (np.abs(x) <= 0.68) & (np.abs(y) <= 0.68)
    if shape == "triangle":
        return (y <= 0.62) & (y >= -0.85 + 1.6 * np.abs(x) * 1.05) & (np.abs(x) <= 0.95)
    if shape == "star":
        rad = np.sqrt(x * x + y * y)
        th = np.arctan2(y, x)
        return rad <= 0.5 + 0.42 * (0.5 + 0.5 * np.cos(5 * th))
    if shape == "cross":
        return ((np.abs(x) <= 0.3) & (np.abs(y) <= 0.9)) | ((np.abs(y) <= 0.3) & (np.abs(x) <= 0.9))
    raise ValueError(f"unknown shape {shape!r}; choose one of {SHAPES}")


def _paste(canvas: np.ndarray, patch: np.ndarray, mask: np.ndarray, top: int, left: int,
           labels: np.ndarray | None = None, label: int = 0) -> None:
    """Paint patch (h, w, 3) where mask is set, clipped to the canvas, in place."""
    H, W = canvas.shape[:2]
    h, w = mask.shape
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + h, H), min(left + w, W)
    if y0 >= y1 or x0 >= x1:
        return
    m = mask[y0 - top:y1 - top, x0 - left:x1 - left]
    canvas[y0:y1, x0:x1][m] = patch[y0 - top:y1 - top, x0 - left:x1 - left][m]
    if labels is not None:
        labels[y0:y1, x0:x1][m] = label


def _blur(img: np.ndarray, k: int) -> np.ndarray:
    """Separable box blur of an (H, W, C) float image, k pixels wide (odd), edges clamped."""
    if k <= 1:
        return img
    pad = k // 2
    out = img
    for axis in (0, 1):
        p = [(0, 0)] * out.ndim
        p[axis] = (pad, pad)
        q = np.pad(out, p, mode="edge")
        c = np.cumsum(q, axis=axis, dtype=np.float64)
        c = np.concatenate([np.zeros_like(np.take(c, [0], axis=axis)), c], axis=axis)
        n = out.shape[axis]
        out = (np.take(c, np.arange(k, k + n), axis=axis) - np.take(c, np.arange(0, n), axis=axis)) / k
    return out


def _to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------- dead leaves

def dead_leaves(seed: int, size: int = 128, n_leaves: int | None = None) -> np.ndarray:
    """A dead-leaves image (size, size, 3) uint8: occluding textured discs and boxes.

    Leaf radii follow a power law (many small, few large), which gives the
    scale-invariant statistics of natural images.
    """
    rng = np.random.default_rng(seed)
    img = texture(rng, size, size, "noise")
    n = n_leaves or size
    rmin, rmax = max(2.0, size / 32), size / 2.5
    u = rng.random(n)
    radii = (rmin ** -2 + u * (rmax ** -2 - rmin ** -2)) ** -0.5    # pdf ~ r^-3
    for r in radii:
        s = max(3, int(2 * r))
        top, left = rng.integers(-s // 2, size - s // 2, 2)
        shape = rng.choice(["disc", "disc", "square", "ellipse"])
        mask = shape_mask(shape, s, rng.uniform(0, math.pi), rng.uniform(0.4, 1))
        kind = rng.choice(["flat", "flat", "stripes", "noise"]) if s > 8 else "flat"
        _paste(img, texture(rng, s, s, kind), mask, top, left)
    return _to_uint8(img)


# --------------------------------------------------------------------- sprites

def sprites_video(seed: int, frames: int = 32, size: int = 128, n_sprites: int | None = None,
                  background: str = "textured", lighting: bool = True,
                  lookalike: bool = False, same_colours: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Textured sprites moving over a background, with a label map per frame.

    Sprites move with momentum, bounce off the borders, turn, and pass in front
    of each other (a fixed depth order), so masks shrink and grow under
    occlusion. `lighting` ramps the global brightness over the clip;
    `lookalike` gives all sprites the same grey level so that only texture and
    shape tell them apart in a grey frame; `same_colours` paints every sprite
    with the first sprite's two colours, so that not even colour tells them
    apart (only texture pattern, shape and motion); `background` is "textured" (dead
    leaves, panning slowly), "blurred" (the same, low-pass) or "flat".

    Returns frames (T, H, W, 3) uint8 and labels (T, H, W) int64, 0 = background,
    k = the k-th sprite (1-based) where it is visible.
    """
    rng = np.random.default_rng(seed)
    T, S = frames, size
    k = n_sprites if n_sprites is not None else int(rng.integers(2, 4))
    pad = S // 4
    if background == "flat":
        bg = np.broadcast_to(rng.random(3), (S + 2 * pad, S + 2 * pad, 3)).copy()
    else:
        bg = dead_leaves(int(rng.integers(2**31)), S + 2 * pad).astype(np.float64) / 255.0
        bg = 0.35 + 0.3 * bg        # lower contrast than the sprites: the sprites are the figure
        if background == "blurred":
            bg = _blur(bg, max(3, S // 16) | 1)
    pan = rng.uniform(-0.4, 0.4, 2) * pad / max(T, 1)            # px per frame
    sprites = []
    base_grey = rng.uniform(0.2, 0.8)
    for i in range(k):
        s = int(rng.uniform(0.2, 0.36) * S)
        colors = rng.random((2, 3))
        if lookalike:   # equal mean grey: only texture and shape differ
            colors = colors - colors.mean(axis=1, keepdims=True) + base_grey
            colors = np.clip(colors + rng.uniform(-0.15, 0.15, (2, 1)) * np.array([[1], [-1]]), 0, 1)
        else:           # push the two sprite colours apart from the background's grey
            colors = np.clip(colors * 1.2 - 0.1, 0, 1)
        if same_colours:    # after the draws above, so the other options' videos stay the same
            colors = sprites[0]["colors"] if sprites else colors
        sprites.append(dict(colors=colors,
            shape=str(rng.choice(SHAPES)), s=s, aspect=rng.uniform(0.5, 1.0),
            tex=texture(rng, s, s, str(rng.choice(["stripes", "checks", "noise", "blobs"])), colors),
            pos=rng.uniform(0, S - s, 2), vel=rng.uniform(-1, 1, 2) * rng.uniform(0.8, 2.5) * S / 64,
            angle=rng.uniform(0, 2 * math.pi), spin=rng.uniform(-0.06, 0.06),
        ))
    light = np.linspace(1.0, 1.0 + rng.uniform(-0.35, 0.35), T) if lighting else np.ones(T)
    video = np.empty((T, S, S, 3), np.uint8)
    labels = np.zeros((T, S, S), np.int64)
    off = np.array([pad, pad], float)
    for t in range(T):
        oy, ox = np.clip(np.round(off), 0, 2 * pad).astype(int)
        canvas = bg[oy:oy + S, ox:ox + S].copy()
        for j, sp in enumerate(sprites):
            s = sp["s"]
            mask = shape_mask(sp["shape"], s, sp["angle"], sp["aspect"])
            tex = np.rot90(sp["tex"], k=int(sp["angle"] // (math.pi / 2)) % 4)
            top, left = np.round(sp["pos"]).astype(int)
            _paste(canvas, tex, mask, top, left, labels[t], j + 1)
            sp["pos"] += sp["vel"]
            sp["vel"] += rng.normal(0, 0.04, 2) * S / 64
            for d in range(2):           # bounce, keeping at least half the sprite in view
                lo, hi = -s * 0.3, S - s * 0.7
                if sp["pos"][d] < lo or sp["pos"][d] > hi:
                    sp["vel"][d] = -sp["vel"][d]
                    sp["pos"][d] = np.clip(sp["pos"][d], lo, hi)
            sp["angle"] += sp["spin"]
        off += pan
        video[t] = _to_uint8(canvas * light[t])
    return video, labels


# --------------------------------------------------------------------- action

# The throw, as key poses over phase in [0, 1]. Angles in degrees, 0 = pointing
# down, positive = towards the throw (the figure faces +x). Columns: phase,
# back upper arm, back forearm, front upper arm, front forearm, back thigh,
# back shin, front thigh, front shin, torso lean, hip height (fraction of leg).
_THROW_KEYS = np.array([
    # ph    bua   bfa   fua   ffa   bth   bsh   fth   fsh  lean  hip
    [0.00,   5,    5,   -5,   -5,   -4,   -4,    4,    4,    0,  1.00],   # stand
    [0.25, -100, -150,   40,   60,  -12,   -8,   22,   10,  -12,  0.96],   # wind-up: arm back, lean back
    [0.45, -160, -200,   60,   70,  -20,  -10,   35,    0,   -8,  0.92],   # cocked, step forward
    [0.60,  160,  120,   20,   10,  -30,  -30,   30,    0,   14,  0.93],   # whip over the top: release
    [0.75,   90,   70,  -10,  -20,  -35,  -60,   20,   10,   25,  0.90],   # arm forward
    [1.00,   20,   10,  -15,  -10,  -10,  -70,   12,    8,   18,  0.95],   # follow-through
], dtype=np.float64)
RELEASE_PHASE = 0.6
PHASE_NAMES = ("stand", "wind-up", "throw", "follow-through")
PHASE_BOUNDS = (0.2, 0.45, 0.7)          # stand < 0.2 <= wind-up < 0.45 <= throw < 0.7 <= follow-through


def phase_label(phase: np.ndarray) -> np.ndarray:
    """Discrete phase classes (0..3, see PHASE_NAMES) from the continuous phase in [0, 1]."""
    return np.searchsorted(np.asarray(PHASE_BOUNDS), np.asarray(phase), side="right")


def _pose(phase: float) -> np.ndarray:
    """Joint angles and hip height at `phase`, cosine-interpolated between key poses."""
    keys = _THROW_KEYS
    i = int(np.clip(np.searchsorted(keys[:, 0], phase, side="right") - 1, 0, len(keys) - 2))
    a, b = keys[i], keys[i + 1]
    u = (phase - a[0]) / (b[0] - a[0])
    u = 0.5 - 0.5 * math.cos(math.pi * float(np.clip(u, 0, 1)))
    return a[1:] * (1 - u) + b[1:] * u


def _time_warp(rng: np.random.Generator, n: int, pace: float, start: float, end: float) -> np.ndarray:
    """A monotone map from frame index to phase: start..end, lingering where the seed says.

    `pace` > 1 lingers over the beginning and hurries through the end; < 1 the
    reverse. A random smooth speed profile and sometimes a short pause make
    two videos of the same action disagree in timing, as people do.
    """
    speed = 0.4 + _smooth_noise(rng, 1, 4 * n, 3)[0] * 1.2                 # (4n,) in [0.4, 1.6]
    if rng.random() < 0.5:                                                  # a pause somewhere
        c = rng.integers(0, 4 * n)
        speed[max(0, c - n // 3):c + n // 3] *= 0.15
    u = np.cumsum(speed)
    u = (u - u[0]) / (u[-1] - u[0])
    u = np.interp(np.linspace(0, 1, n), np.linspace(0, 1, 4 * n), u) ** pace
    return start + (end - start) * u


def action_video(seed: int, frames: int = 48, size: int = 128, pace: float = 1.0,
                 start: float | None = None, end: float | None = None,
                 warp: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """One throw by a stick figure, rendered with a seeded look, viewpoint and timing.

    Varied per seed: start and end of the action within [0, 1] (unless given),
    the time warp (`pace`, see `_time_warp`; `warp=False` gives uniform timing),
    colours and limb widths, background, figure size, position, facing
    direction (mirror) and camera yaw (horizontal squash) and roll.

    Returns frames (T, H, W, 3) uint8 and phase (T,) float in [0, 1], monotone.
    """
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    start = float(rng.uniform(0.0, 0.08)) if start is None else float(start)
    end = float(rng.uniform(0.92, 1.0)) if end is None else float(end)
    if warp:
        phase = _time_warp(rng, frames, pace, start, end)
    else:
        phase = start + (end - start) * np.linspace(0, 1, frames) ** pace
    sc = 2                                                  # draw at 2x, then downsample: antialiasing
    S = size * sc
    bg = texture(rng, S // 4, S // 4, str(rng.choice(["flat", "noise", "stripes"])),
                 rng.uniform(0.3, 0.95, (2, 3)))
    bg = np.asarray(Image.fromarray(_to_uint8(_blur(bg, 3))).resize((S, S), Image.BILINEAR))
    ground = int(S * rng.uniform(0.78, 0.9))
    bg = bg.copy()
    bg[ground:] = (bg[ground:] * rng.uniform(0.55, 0.8)).astype(np.uint8)
    body_col = tuple(int(c) for c in rng.integers(0, 120, 3))
    limb_cols = [tuple(int(c) for c in rng.integers(0, 255, 3)) for _ in range(2)]
    ball_col = tuple(int(c) for c in rng.integers(150, 256, 3))
    height = S * rng.uniform(0.55, 0.7)                    # standing height in pixels
    seg = height / 4.2                                       # unit segment length
    width = max(2, int(seg * rng.uniform(0.16, 0.28)))
    x0 = S * rng.uniform(0.3, 0.45)
    mirror = rng.random() < 0.5
    yaw = rng.uniform(0.65, 1.0)                             # squash in x: the camera turned
    roll = rng.uniform(-6, 6)

    def point(origin, angle_deg, length):
        a = math.radians(angle_deg)
        return origin[0] + math.sin(a) * length * yaw, origin[1] + math.cos(a) * length

    out = np.empty((frames, size, size, 3), np.uint8)
    ball_pos = None
    for t, ph in enumerate(phase):
        bua, bfa, fua, ffa, bth, bsh, fth, fsh, lean, hip_h = _pose(float(ph))
        hip = (x0 + (ph * seg * 0.8) * yaw, ground - hip_h * 2 * seg)
        lean_r = math.radians(lean)
        neck = (hip[0] + math.sin(lean_r) * 1.6 * seg * yaw, hip[1] - math.cos(lean_r) * 1.6 * seg)
        head = (neck[0] + math.sin(lean_r) * 0.45 * seg * yaw, neck[1] - 0.5 * seg)
        b_knee = point(hip, bth, seg)
        b_foot = point(b_knee, bth + bsh, seg)
        f_knee = point(hip, fth, seg)
        f_foot = point(f_knee, fth + fsh, seg)
        b_elb = point(neck, bua + lean, seg * 0.85)
        b_hand = point(b_elb, bua + bfa + lean, seg * 0.8)
        f_elb = point(neck, fua + lean, seg * 0.85)
        f_hand = point(f_elb, fua + ffa + lean, seg * 0.8)
        if ph < RELEASE_PHASE:
            ball = b_hand
            ball_pos = None
        else:                                                # ballistic flight after release
            if ball_pos is None:
                ball_pos = b_hand
            dt = (ph - RELEASE_PHASE) / (1 - RELEASE_PHASE)
            ball = (ball_pos[0] + dt * S * 0.9 * yaw, ball_pos[1] - dt * S * 0.5 + dt * dt * S * 0.45)
        img = Image.fromarray(bg)
        d = ImageDraw.Draw(img)
        for a, b, c in ((hip, b_knee, limb_cols[1]), (b_knee, b_foot, limb_cols[1]),
                        (neck, b_elb, limb_cols[0]), (b_elb, b_hand, limb_cols[0])):
            d.line([a, b], fill=tuple(int(x * 0.7) for x in c), width=width)
        d.line([hip, neck], fill=body_col, width=int(width * 1.6))
        hr = seg * 0.42
        d.ellipse([head[0] - hr * yaw, head[1] - hr, head[0] + hr * yaw, head[1] + hr], fill=body_col)
        for a, b, c in ((hip, f_knee, limb_cols[1]), (f_knee, f_foot, limb_cols[1]),
                        (neck, f_elb, limb_cols[0]), (f_elb, f_hand, limb_cols[0])):
            d.line([a, b], fill=c, width=width)
        br = seg * 0.3
        d.ellipse([ball[0] - br, ball[1] - br, ball[0] + br, ball[1] + br], fill=ball_col)
        if roll:
            img = img.rotate(roll, resample=Image.BILINEAR, fillcolor=tuple(int(c) for c in bg[0, 0]))
        if mirror:
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
        out[t] = np.asarray(img.resize((size, size), Image.BILINEAR))
    return out, phase.astype(np.float64)


# --------------------------------------------------------------------- audio-visual

# Each object class: a look (shape and two colours) and a sound. The sounds are
# CC0 recordings from Debian's sonic-pi-samples (assets/sounds, see
# assets/examples/LICENSES.md); where a file is missing the class falls back to
# a synthesized sound of the same character.
AV_CLASSES = (
    dict(name="drum", shape="disc", colors=((0.75, 0.1, 0.1), (0.95, 0.85, 0.8)), sounds=("drum_tom_lo_hard", "drum_bass_hard")),
    dict(name="bell", shape="triangle", colors=((0.95, 0.8, 0.1), (0.6, 0.45, 0.05)), sounds=("perc_bell", "elec_bell")),
    dict(name="bird", shape="star", colors=((0.15, 0.35, 0.95), (0.7, 0.9, 1.0)), sounds=("misc_crow", "elec_twip")),
    dict(name="guitar", shape="ellipse", colors=((0.55, 0.3, 0.1), (0.9, 0.7, 0.45)), sounds=("guit_harmonics", "guit_e_fifths")),
    dict(name="cymbal", shape="cross", colors=((0.2, 0.7, 0.3), (0.85, 1.0, 0.8)), sounds=("drum_cymbal_open", "drum_splash_hard")),
    dict(name="engine", shape="square", colors=((0.35, 0.35, 0.4), (0.8, 0.2, 0.8)), sounds=("loop_industrial", "glitch_robot1")),
)


def _read_wav(path: str) -> np.ndarray:
    with wave.open(path, "rb") as f:
        n, ch, width = f.getnframes(), f.getnchannels(), f.getsampwidth()
        raw = f.readframes(n)
    a = np.frombuffer(raw, dtype={1: np.uint8, 2: "<i2", 4: "<i4"}[width]).astype(np.float32)
    a = (a - 128) / 128 if width == 1 else a / float(2 ** (8 * width - 1))
    return a.reshape(-1, ch).mean(axis=1)


def _synth_sound(cls: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """A stand-in sound with the character of class `cls` (when its recording is absent)."""
    t = np.arange(n) / SAMPLE_RATE
    if cls == 0:
        return np.sin(2 * math.pi * 90 * t) * np.exp(-((t * 4) % 1) * 8)
    if cls == 1:
        return sum(np.sin(2 * math.pi * f * t) for f in (880, 1320, 2210)) / 3 * np.exp(-t * 3)
    if cls == 2:
        return np.sin(2 * math.pi * (2500 + 800 * np.sin(2 * math.pi * 12 * t)) * t) * (np.sin(2 * math.pi * 3 * t) > 0)
    if cls == 3:
        return sum(np.sin(2 * math.pi * 196 * k * t) / k for k in range(1, 6)) * np.exp(-t * 2)
    if cls == 4:
        return rng.normal(0, 0.5, n) * np.exp(-((t * 2) % 1) * 4)
    return np.sign(np.sin(2 * math.pi * 55 * t)) * 0.5 + rng.normal(0, 0.1, n)


@functools.lru_cache(maxsize=None)
def class_sounds(cls: int) -> tuple[np.ndarray, ...]:
    """The recordings of class `cls` at SAMPLE_RATE, each normalized to peak 1 (cached)."""
    out = []
    for name in AV_CLASSES[cls]["sounds"]:
        path = os.path.join(ASSETS, "examples", "sounds", name + ".wav")
        if os.path.isfile(path):
            a = _read_wav(path)
            out.append(a / max(1e-6, float(np.abs(a).max())))
    if not out:
        a = _synth_sound(cls, SAMPLE_RATE * 2, np.random.default_rng(cls))
        out.append((a / np.abs(a).max()).astype(np.float32))
    return tuple(out)


def class_sound(cls: int, rng: np.random.Generator, seconds: float) -> np.ndarray:
    """A varied take of class `cls`'s sound, `seconds` long: random recording, offset, pitch, gain."""
    n = int(round(seconds * SAMPLE_RATE))
    sounds = class_sounds(cls)
    src = sounds[int(rng.integers(len(sounds)))]
    pitch = rng.uniform(0.85, 1.18)                          # resample = pitch and speed shift
    idx = np.arange(0, src.size - 1, pitch)
    src = np.interp(idx, np.arange(src.size), src)
    if src.size < n:                                         # loop short sounds (a drum hit repeats)
        gap = np.zeros(int(rng.integers(0, SAMPLE_RATE // 4)))
        src = np.tile(np.concatenate([src, gap]), n // (src.size + gap.size) + 1)
    start = int(rng.integers(0, max(1, src.size - n)))
    out = src[start:start + n]
    return (out * rng.uniform(0.5, 1.0)).astype(np.float32)


def av_scene(seed: int, size: int = 128, seconds: float = 1.0, n_objects: int | None = None,
             silent: bool = False, background: np.ndarray | None = None,
             return_meta: bool = False):
    """An audio-visual scene: objects of distinct classes, one of which makes the sound.

    Objects are drawn from AV_CLASSES (each class has its own shape, colours
    and sound), without repeats, at random sizes and places (they may touch but
    the sounding one stays mostly visible). The audio is the sounding object's
    class sound plus a little noise; `silent=True` gives near-silence and an
    empty mask. `background` (H, W, 3) uint8 replaces the procedural one.

    Returns frame (H, W, 3) uint8, audio (N,) float32, sample_rate, and
    sounding (H, W) bool; with `return_meta`, also a dict with the classes,
    boxes and the sounding object's index.
    """
    rng = np.random.default_rng(seed)
    S = size
    k = n_objects if n_objects is not None else int(rng.integers(1, 4))
    k = max(1, min(k, len(AV_CLASSES)))
    if background is not None:
        from core.media import resize_image
        canvas = resize_image(np.asarray(background, np.uint8), (S, S)).astype(np.float64) / 255.0
    else:
        canvas = _blur(dead_leaves(int(rng.integers(2**31)), S).astype(np.float64) / 255.0, 3)
        canvas = 0.3 + 0.45 * canvas
    classes = rng.choice(len(AV_CLASSES), size=k, replace=False)
    labels = np.zeros((S, S), np.int64)
    boxes = []
    for j, c in enumerate(classes):
        spec = AV_CLASSES[int(c)]
        s = int(rng.uniform(0.26, 0.4) * S)
        for _ in range(20):                                  # keep objects apart where we can
            top, left = (int(v) for v in rng.integers(0, S - s, 2))
            if all(abs(top - b[0]) > s * 0.8 or abs(left - b[1]) > s * 0.8 for b in boxes):
                break
        boxes.append((top, left, s))
        cols = np.clip(np.array(spec["colors"]) + rng.uniform(-0.08, 0.08, (2, 3)), 0, 1)
        tex = texture(rng, s, s, str(rng.choice(["flat", "stripes", "noise"])), cols)
        mask = shape_mask(spec["shape"], s, rng.uniform(-0.3, 0.3), rng.uniform(0.55, 0.8))
        _paste(canvas, tex, mask, top, left, labels, j + 1)
    n = int(round(seconds * SAMPLE_RATE))
    noise = rng.normal(0, 0.01, n).astype(np.float32)
    sounding_idx = -1 if silent else int(rng.integers(k))
    if silent:
        audio = noise * 0.1
    else:
        audio = class_sound(int(classes[sounding_idx]), rng, seconds) + noise
    sounding = labels == (sounding_idx + 1) if not silent else np.zeros((S, S), bool)
    frame = _to_uint8(canvas)
    if return_meta:
        meta = dict(classes=[int(c) for c in classes], names=[AV_CLASSES[int(c)]["name"] for c in classes],
                    boxes=boxes, sounding=sounding_idx, labels=labels)
        return frame, audio.astype(np.float32), SAMPLE_RATE, sounding, meta
    return frame, audio.astype(np.float32), SAMPLE_RATE, sounding
