"""The contrastive model's data: "instructional videos" of short actions, narrated out of step.

A training video is `segments` actions one after the other, each a short clip
with ground truth: a coloured shape moving one way (drawn with
core.synthetic's shapes, textures and dead-leaves backgrounds), a stick figure
winding up or throwing (core.synthetic.action_video), or a second of real
footage (core.sources' bundled train clips, their first three quarters only).
Each action has a narration from a small vocabulary that says what happens.

As in uncurated video, the narration is not where its action is: action i is
spoken about at time i + uniform(-shift, shift) (in segments), and a share
`unrelated` of the narrations says nothing about the video (chit-chat, or an
action that is not there, as a speech recognizer's error would). Training
follows HowTo100M: pick a narration, cut the clip at its time; InfoNCE takes
that narration as the clip's one positive, MIL-NCE takes the `bag`
narrations nearest in time as candidates.
"""
from __future__ import annotations

import functools
import math

import numpy as np
import torch

from core import common
from core.contrastive.model import Config, tokens_tensor

TRAIN_SEEDS = 1_000_000           # training videos use seeds below this
REAL_TRAIN_SHARE = 0.75           # real clips: the first 3/4 of each is for training, the rest held out

COLOURS = {"red": ((0.85, 0.12, 0.1), (0.6, 0.05, 0.05)), "green": ((0.15, 0.75, 0.2), (0.05, 0.45, 0.1)),
           "blue": ((0.2, 0.35, 0.95), (0.1, 0.15, 0.6)), "yellow": ((0.98, 0.88, 0.15), (0.75, 0.6, 0.05))}
SHAPES = ("disc", "square", "triangle", "cross")
DIRECTIONS = {"left": (0.0, -1.0), "right": (0.0, 1.0), "up": (-1.0, 0.0), "down": (1.0, 0.0)}
SPRITE_TEMPLATES = ("the {c} {s} moves {d}", "now the {c} {s} goes {d}", "see the {c} {s} slides {d}",
                    "a {c} {s} heads {d}")
THROW_NARRATIONS = {
    "windup": ("the person winds up", "now the figure gets ready to throw", "the figure winds up to throw"),
    "throw": ("the person throws the ball", "and now the figure throws the ball", "the figure throws a ball"),
}
# bundled train clip -> what a narrator says about it (clips that are renderings or cartoons are left out)
REAL_NARRATIONS = {
    "pedestrians": ("people walk along the road", "now people walk along the road"),
    "tree": ("the tree sways in the wind", "a tree sways in the wind"),
    "carphone": ("a man talks in the car", "the man talks in a car"),
    "cartwheel": ("a person turns a cartwheel in the park", "now a person turns a cartwheel"),
    "traffic": ("cars drive along the road", "the cars drive along the road"),
}
FILLERS = ("okay so let us get started", "thanks for watching", "do not forget to subscribe",
           "this one is my favourite part", "hmm let me think", "i bought it last week", "what a nice day")

# every action a clip can show: ("sprite", colour, shape, direction), ("throw", phase), ("real", clip name)
EVENTS: tuple = (tuple(("sprite", c, s, d) for c in COLOURS for s in SHAPES for d in DIRECTIONS)
                 + (("throw", "windup"), ("throw", "throw"))
                 + tuple(("real", name) for name in REAL_NARRATIONS))
KIND_SHARE = {"sprite": 0.8, "throw": 0.1, "real": 0.1}     # how often a training segment is of each kind


def narrations(event: tuple) -> tuple[str, ...]:
    """The ways a narrator says that `event` happens."""
    if event[0] == "sprite":
        _, c, s, d = event
        return tuple(t.format(c=c, s=s, d=d) for t in SPRITE_TEMPLATES)
    if event[0] == "throw":
        return THROW_NARRATIONS[event[1]]
    return REAL_NARRATIONS[event[1]]


def describe(event: int | tuple) -> str:
    """The plain narration of an event (its first template): what the tab writes under a clip."""
    return narrations(EVENTS[event] if isinstance(event, (int, np.integer)) else event)[0]


# --------------------------------------------------------------------- rendering one action

def _background(seed: int, side: int) -> np.ndarray:
    """A low-contrast dead-leaves scene (side, side, 3) float in [0, 1]: the sprites are the figure."""
    from core import synthetic
    return 0.3 + 0.4 * synthetic.dead_leaves(seed, side, n_leaves=side // 2).astype(np.float64) / 255.0


def _shape_mask(shape: str, s: int, angle: float) -> np.ndarray:
    from core import synthetic
    return synthetic.shape_mask(shape, s, angle)


def render_sprite(rng: np.random.Generator, background: np.ndarray, colour: str, shape: str, direction: str,
                  frames: int, size: int) -> np.ndarray:
    """A coloured shape crossing part of a background window one way: (T, S, S, 3) uint8.

    The window (where the camera looks) and the shape's texture, size, speed and
    start are random; colour, shape and direction are the event's.
    """
    from core import synthetic

    S, T = size, frames
    H = background.shape[0]
    oy, ox = (int(v) for v in rng.integers(0, H - S + 1, 2))
    window = background[oy:oy + S, ox:ox + S]
    s = max(6, int(round(rng.uniform(0.32, 0.42) * S)))
    light, dark = (np.clip(np.array(c) + rng.uniform(-0.06, 0.06, 3), 0, 1) for c in COLOURS[colour])
    tex = synthetic.texture(rng, s, s, str(rng.choice(["flat", "stripes", "noise"])), np.stack([light, dark]))
    mask = _shape_mask(shape, s, float(rng.uniform(-0.25, 0.25)))
    dy, dx = DIRECTIONS[direction]
    speed = rng.uniform(0.9, 1.6) * S / 32                             # px per frame
    travel = speed * (T - 1)
    lo, hi = -0.15 * s, S - 0.85 * s                                   # keep most of the shape in view
    start = np.empty(2)
    for axis, d in enumerate((dy, dx)):
        if d > 0:
            start[axis] = rng.uniform(lo, max(lo, hi - travel))
        elif d < 0:
            start[axis] = rng.uniform(min(hi, lo + travel), hi)
        else:
            start[axis] = rng.uniform(lo, hi)
    wobble = rng.normal(0, 0.3, (T, 2)).cumsum(0) * S / 64            # a hand-held path, not a rail
    out = np.empty((T, S, S, 3), np.float64)
    for t in range(T):
        canvas = window.copy()
        top, left = np.round(start + np.array([dy, dx]) * speed * t + wobble[t]).astype(int)
        y0, x0, y1, x1 = max(top, 0), max(left, 0), min(top + s, S), min(left + s, S)
        if y0 < y1 and x0 < x1:
            m = mask[y0 - top:y1 - top, x0 - left:x1 - left]
            canvas[y0:y1, x0:x1][m] = tex[y0 - top:y1 - top, x0 - left:x1 - left][m]
        out[t] = canvas
    return np.clip(np.round(out * 255), 0, 255).astype(np.uint8)


def render_throw(seed: int, phase: str, frames: int, size: int) -> np.ndarray:
    """The wind-up (phase < 0.45) or the throw (phase >= 0.5) of a rendered throw: (T, S, S, 3) uint8."""
    from core import synthetic

    video, ph = synthetic.action_video(seed, frames=3 * frames, size=size)
    keep = np.flatnonzero(ph < 0.45) if phase == "windup" else np.flatnonzero(ph >= 0.5)
    if len(keep) == 0:
        keep = np.arange(len(ph) // 2) if phase == "windup" else np.arange(len(ph) // 2, len(ph))
    return video[keep[np.linspace(0, len(keep) - 1, frames).round().astype(int)]]


@functools.lru_cache(maxsize=None)
def real_frames(name: str, held_out: bool, side: int = 48) -> np.ndarray:
    """A bundled train clip's training part (first 3/4) or held-out part (last 1/4), short side `side`."""
    from core import sources

    frames = sources.load_clip(name)[0]
    cut = int(len(frames) * REAL_TRAIN_SHARE)
    part = frames[cut:] if held_out else frames[:cut]
    H, W = part.shape[1:3]
    h, w = (side, max(side, round(W * side / H))) if H <= W else (max(side, round(H * side / W)), side)
    x = common.frames_to_tensor(part, (h, w))
    return common.tensor_to_frames(x)


def render_real(rng: np.random.Generator, name: str, frames: int, size: int, held_out: bool = False) -> np.ndarray:
    """About a second of a real clip (every 2nd frame at 15 fps), a random square crop: (T, S, S, 3) uint8."""
    video = real_frames(name, held_out)
    T, H, W = video.shape[:3]
    step = 2 if T >= 2 * frames else 1
    t0 = int(rng.integers(0, max(1, T - step * (frames - 1))))
    idx = np.minimum(t0 + step * np.arange(frames), T - 1)
    c = int(min(H, W) * rng.uniform(0.75, 1.0))
    y0, x0 = int(rng.integers(0, H - c + 1)), int(rng.integers(0, W - c + 1))
    x = common.frames_to_tensor(video[idx, y0:y0 + c, x0:x0 + c], size)
    return common.tensor_to_frames(x)


def render_event(rng: np.random.Generator, event: int, background: np.ndarray, frames: int, size: int,
                 held_out: bool = False) -> np.ndarray:
    """One clip (T, S, S, 3) uint8 showing EVENTS[event]."""
    e = EVENTS[event]
    if e[0] == "sprite":
        return render_sprite(rng, background, e[1], e[2], e[3], frames, size)
    if e[0] == "throw":
        return render_throw(int(rng.integers(0, 2**31)), e[1], frames, size)
    return render_real(rng, e[1], frames, size, held_out)


# --------------------------------------------------------------------- a narrated video

def kind_of(event: int) -> str:
    return EVENTS[event][0]


def sample_events(rng: np.random.Generator, n: int) -> np.ndarray:
    """n actions for a video, each kind at its KIND_SHARE, uniform within a kind: (n,) int into EVENTS."""
    kinds = list(KIND_SHARE)
    by_kind = {k: [i for i, e in enumerate(EVENTS) if e[0] == k] for k in kinds}
    pick = rng.choice(len(kinds), size=n, p=[KIND_SHARE[k] for k in kinds])
    return np.array([rng.choice(by_kind[kinds[p]]) for p in pick], np.int64)


def narrate(rng: np.random.Generator, events: np.ndarray, shift: float, unrelated: float
            ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """What a narrator says over a video of these actions, and when.

    Narration i is about action i, said at time i + uniform(-shift, shift); with
    probability `unrelated` it is replaced by chit-chat or by an action not in the
    video (half each). Returns the texts (K,), their times (K,) float in segments,
    and `about` (K,) int: the event each narration describes, -1 for chit-chat.
    """
    K = len(events)
    texts, about = [], np.empty(K, np.int64)
    absent = [j for j in range(len(EVENTS)) if j not in set(np.asarray(events).tolist())]
    for i, e in enumerate(events):
        if rng.random() < unrelated:
            if rng.random() < 0.5:
                texts.append(str(rng.choice(FILLERS)))
                about[i] = -1
            else:
                other = int(rng.choice(absent or [j for j in range(len(EVENTS)) if j != e]))
                texts.append(str(rng.choice(narrations(EVENTS[other]))))
                about[i] = other
        else:
            texts.append(str(rng.choice(narrations(EVENTS[int(e)]))))
            about[i] = int(e)
    times = np.arange(K) + rng.uniform(-shift, shift, K)
    return texts, times, about


def render_video(seed: int, config: Config, shift: float | None = None, unrelated: float | None = None) -> dict:
    """One narrated training video: clips (K, T, S, S, 3) uint8, events (K,), texts, times (K,), about (K,),
    tokens (K, L) long."""
    rng = np.random.default_rng(seed)
    K = config.segments
    events = sample_events(rng, K)
    background = _background(int(rng.integers(0, 2**31)), config.size + config.size // 2)
    clips = np.stack([render_event(rng, int(e), background, config.frames, config.size) for e in events])
    texts, times, about = narrate(rng, events, config.shift if shift is None else shift,
                                  config.unrelated if unrelated is None else unrelated)
    return dict(clips=clips, events=events, texts=texts, times=times, about=about,
                tokens=tokens_tensor(texts, config.max_words))


def cut(video: dict, k: int, bag: int) -> tuple[int, np.ndarray]:
    """The clip cut at narration k's time, and the `bag` narrations nearest that time (k first): (m, (bag,) int)."""
    times = video["times"]
    m = int(np.clip(np.round(times[k]), 0, len(times) - 1))
    order = np.argsort(np.abs(times - times[k]), kind="stable")
    order = np.concatenate([[k], order[order != k]])[:bag]
    return m, order


class VideoPool:
    """Narrated videos to sample batches from, one replaced by a fresh seed every refresh()."""

    def __init__(self, config: Config, rng: np.random.Generator):
        self.config, self.rng = config, rng
        self.videos = [render_video(int(rng.integers(0, TRAIN_SEEDS)), config) for _ in range(config.pool)]

    def refresh(self) -> None:
        self.videos[int(self.rng.integers(len(self.videos)))] = render_video(
            int(self.rng.integers(0, TRAIN_SEEDS)), self.config)

    def sample(self, n: int, bag: int | None = None) -> dict:
        """n items from n different videos: clips (n, T, S, S, 3) uint8, tokens (n, bag, L), and the truth:
        events (n,) shown, about (n, bag) described by each bag narration, texts [[str] * bag] * n."""
        bag = self.config.bag if bag is None else bag
        pick = self.rng.choice(len(self.videos), size=n, replace=len(self.videos) < n)
        clips, tokens, events, about, texts = [], [], [], [], []
        for v in pick:
            video = self.videos[int(v)]
            k = int(self.rng.integers(len(video["times"])))
            m, order = cut(video, k, bag)
            clips.append(video["clips"][m])
            tokens.append(video["tokens"][torch.as_tensor(order)])
            events.append(int(video["events"][m]))
            about.append(video["about"][order])
            texts.append([video["texts"][j] for j in order])
        return dict(clips=np.stack(clips), tokens=torch.stack(tokens), events=np.array(events),
                    about=np.stack(about), texts=texts)

    def batch(self, device) -> tuple[torch.Tensor, torch.Tensor]:
        """clips (B, T, C, H, W) in [0, 1] and tokens (B, bag, L): a training step's inputs."""
        s = self.sample(self.config.batch)
        return clips_tensor(s["clips"], device), s["tokens"].to(device)


def clips_tensor(clips: np.ndarray, device="cpu") -> torch.Tensor:
    """(B, T, H, W, 3) uint8 -> (B, T, 3, H, W) float in [0, 1] on `device`."""
    x = torch.from_numpy(np.ascontiguousarray(clips)).to(device)
    return x.permute(0, 1, 4, 2, 3).float().div_(255.0)


def label_quality(video_shift: float, unrelated: float, bag: int, n_videos: int = 200, segments: int = 12,
                  seed: int = 0) -> dict:
    """How often the narration nearest in time is about the clip cut there (InfoNCE's positive is right),
    and how often the bag holds at least one that is (MIL-NCE's), measured on the narration model alone."""
    rng = np.random.default_rng(seed)
    right, in_bag = [], []
    for _ in range(n_videos):
        events = sample_events(rng, segments)
        texts, times, about = narrate(rng, events, video_shift, unrelated)
        v = {"times": times}
        for k in range(segments):
            m, order = cut(v, k, bag)
            right.append(about[k] == events[m])
            in_bag.append(bool((about[order] == events[m]).any()))
    return {"nearest_right": float(np.mean(right)), "bag_right": float(np.mean(in_bag))}
