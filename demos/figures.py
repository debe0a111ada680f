"""Drawing shared by the tabs: matplotlib plots, captions on frames, strips of frames, heat overlays.

Pictures are numpy uint8 RGB arrays, (H, W, 3) for an image and (T, H, W, 3) for a clip;
nothing here computes what is drawn, the core modules do.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from core import media

if TYPE_CHECKING:
    from matplotlib.figure import Figure

WHITE = (255, 255, 255)
GAP = 6                     # white pixels between frames laid side by side
STRIP_H = 180               # frame strips: at least 160 px tall on a projector at 1280x720
PHONE_PLOT = 360            # plots side by side in a row wrap below this width each: one per line on a phone

# --------------------------------------------------------------------- one visual language, every tab
# The Overview states it once (LEGEND): the same meaning for the same colour in every plot and picture.
TRUTH = "#1f77b4"           # blue: the true answer (what the data says)
ANSWER = "#ff7f0e"          # orange: the model's answer, or its curve, when there is no right or wrong to show
RIGHT = "#2ca02c"           # green: the model's answer, and it is right
WRONG = "#d62728"           # red: the model's answer, and it is wrong
NEAR = "#e6a100"            # amber: wrong only in a forgivable way (sequence sort: the order read backwards)
BASELINE = "#7f7f7f"        # grey, dashed in plots: the baseline, always after the model
OTHER = "#c7c7c7"           # light grey: the answers nobody chose
# the same colours as text on a dark caption box (brighter, to read on black)
ON_DARK = {TRUTH: (110, 180, 255), ANSWER: (255, 170, 70), RIGHT: (90, 230, 90), WRONG: (255, 95, 95),
           NEAR: (255, 210, 60), BASELINE: (200, 200, 200)}
LEGEND = ("**blue**: the truth · **green**: the model's answer, right · **red**: the model's answer, wrong · "
          "**amber**: wrong only about the direction of time · **orange**: the model (a curve, a pointer) · "
          "**grey, dashed**: the baseline, always listed after the model")

SMALL = 10                  # the smallest font in a plot, in points (at 100 dpi: 14 px, 12 px shown at 86%)


@functools.cache
def _figure_class():
    """matplotlib's Figure (no pyplot: no global figure state shared by users), imported on the first plot.

    Importing matplotlib takes ~0.4 s, which the server's start need not wait for: no plot is drawn
    before the page is served (Tab.later).
    """
    import matplotlib
    from matplotlib.figure import Figure
    matplotlib.rcParams.update({"font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11,
                                "xtick.labelsize": SMALL, "ytick.labelsize": SMALL, "legend.fontsize": SMALL,
                                "figure.titlesize": 12})
    return Figure


def verdict_colour(right: bool | None, near: bool = False) -> str:
    """RIGHT, WRONG or NEAR for an answer; ANSWER when there is nothing to judge it against."""
    return ANSWER if right is None else RIGHT if right else NEAR if near else WRONG


def on_dark(colour: str) -> tuple[int, int, int]:
    """A colour of the visual language as an RGB triple that reads on a dark caption box."""
    return ON_DARK.get(colour, WHITE)


# --------------------------------------------------------------------- plots

def _digest(value, h) -> None:
    """Feed a figure function's argument into the hash h: arrays by dtype, shape and bytes; containers in order."""
    if isinstance(value, np.ndarray):
        h.update(f"nd{value.dtype}{value.shape}".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, dict):
        h.update(b"{")
        for k in sorted(value, key=str):
            _digest(k, h)
            _digest(value[k], h)
        h.update(b"}")
    elif isinstance(value, (list, tuple)):
        h.update(b"[" if isinstance(value, list) else b"(")
        for v in value:
            _digest(v, h)
        h.update(b"]")
    elif value is None or isinstance(value, (str, bytes, bool, int, float, np.generic)):
        h.update(f"{type(value).__name__}:{value!r};".encode())
    else:
        raise TypeError(f"cannot key a plot on a {type(value).__name__}")


def render(fig: Figure):
    """A matplotlib figure as gradio's Plot value (a PNG, as gr.Plot would make it), the figure closed."""
    import base64
    import io

    from gradio.components.plot import PlotData
    with io.BytesIO() as buf:
        fig.savefig(buf, format="png")
        data = base64.b64encode(buf.getvalue()).decode()
    fig.clear()
    return PlotData(type="matplotlib", plot=f"data:image/png;base64,{data}")


_PLOTS = None


def cached_plot(fn):
    """A figure function that returns the rendered plot, drawn once per distinct arguments.

    Same data, same picture: a second click on the same input, or one that changes only the
    words or another output, gets the PNG back without matplotlib. Shared by all visitors
    (a plot shows data, never who asked); keyed by a hash of every argument.
    """
    import hashlib

    @functools.wraps(fn)
    def inner(*args, **kwargs):
        global _PLOTS
        if _PLOTS is None:
            from demos.common import Memo
            _PLOTS = Memo(max_items=64)
        h = hashlib.blake2b(fn.__qualname__.encode(), digest_size=16)
        _digest((args, kwargs), h)
        from core import stages
        with stages.stage("figures"):
            return _PLOTS.get((fn.__module__, h.hexdigest()), lambda: render(fn(*args, **kwargs)))
    inner.uncached = fn
    return inner



def new_figure(w: float = 5.0, h: float = 3.0) -> Figure:
    return _figure_class()(figsize=(w, h), dpi=100, layout="constrained")


def curve_figure(history: dict, keys=("loss", "acc"), title: str = "training", chance: float | None = None) -> Figure:
    """Loss (left axis, dark) and the other metrics (right axis, the model's orange first) against step.

    Every logged step is a point: a run of a few steps still draws a line, with its markers.
    """
    fig = new_figure(5.5, 3.2)
    ax = fig.add_subplot()
    steps = history.get("step", [])
    ax.set_xlabel("step")
    ax.set_title(title)
    if not steps:
        ax.text(0.5, 0.5, "no steps yet", ha="center", va="center", transform=ax.transAxes)
        return fig
    first, *rest = [k for k in keys if k in history]
    marker = "o" if len(steps) <= 60 else None
    ax.plot(steps, history[first], color="#333333", marker=marker, ms=3, label=first)
    ax.set_ylabel(first)
    if len(steps) == 1:
        ax.set_xlim(steps[0] - 1, steps[0] + 1)
    if rest:
        ax2 = ax.twinx()
        for k, c in zip(rest, (ANSWER, "#9467bd", "#8c564b")):
            ax2.plot(steps, history[k], color=c, marker=marker, ms=3, label=k)
        ax2.set_ylabel(" / ".join(rest), color=ANSWER)
        if chance is not None:
            ax2.axhline(chance, color=BASELINE, ls=":", lw=1, label="chance")
        handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
        ax2.legend(handles=handles, loc="center right")
    return fig


def change_sentence(history: dict, keys=("loss", "acc"), formats: dict | None = None) -> str:
    """What a training run changed, in words: each metric from its first logged step to its last, or that
    nothing moved; and how many points the curve has."""
    steps = history.get("step", [])
    if not steps:
        return "No step ran, so nothing changed."
    fmt = {"acc": "{:.0%}", "verify_acc": "{:.0%}", **(formats or {})}
    moved, still = [], []
    for k in keys:
        if k not in history or not len(history[k]):
            continue
        a, b = float(history[k][0]), float(history[k][-1])
        f = fmt.get(k, "{:.3g}")
        if f.format(a) == f.format(b):
            still.append(f"{k} stayed at {f.format(a)}")
        else:
            moved.append(f"{k} {f.format(a)} -> {f.format(b)}")
    said = "; ".join(moved) if moved else "nothing moved beyond rounding"
    if still and moved:
        said += "; " + ", ".join(still)
    elif still:
        said += " (" + ", ".join(still) + ")"
    return (f"From step {steps[0]} to step {steps[-1]}: {said}. The curve has {len(steps)} points, one per step "
            + ("logged." if len(steps) < steps[-1] else "."))


@cached_plot
def bar_figure(labels, values, highlight: int | None = None, title: str = "", xlabel: str = "probability",
               good: bool | None = None, *, answer: int | None = None, truth: int | None = None,
               near: bool = False) -> Figure:
    """Horizontal bars, top entry first, in the one visual language.

    answer: the model's bar, green when it is the truth, amber when `near`, red otherwise; truth: the true
    bar, blue when the model chose another. (highlight, good): an older form, the highlighted bar green
    when good, red when not.
    """
    fig = new_figure(5.2, 0.42 * len(labels) + 1.3)
    ax = fig.add_subplot()
    y = np.arange(len(labels))[::-1]
    colors = [OTHER] * len(labels)
    if highlight is not None and 0 <= highlight < len(labels):
        colors[highlight] = RIGHT if good in (None, True) else WRONG
    if truth is not None and 0 <= truth < len(labels):
        colors[truth] = TRUTH
    if answer is not None and 0 <= answer < len(labels):
        colors[answer] = verdict_colour(None if truth is None else answer == truth, near)
    ax.barh(y, values, color=colors)
    ax.set_yticks(y, [str(v) for v in labels])
    ax.set_xlabel(xlabel)
    ax.set_xlim(0, max(1e-9, max(values)) * 1.25 if len(values) else 1)
    for yi, v in zip(y, values):
        ax.text(v, yi, f" {v:.2f}", va="center", fontsize=SMALL)
    ax.set_title(title)
    return fig


# --------------------------------------------------------------------- words on pictures

@functools.lru_cache(maxsize=8)         # Pillow decodes its built-in font from base64 on every load
def font(size: int = 10):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:                       # Pillow < 10.1 has one bitmap size
        return ImageFont.load_default()


def caption_size(height: int) -> int:
    """Caption letters for a picture `height` rows tall: a tenth of it, and never under 14 px."""
    return max(14, round(height / 10))


def caption(image: np.ndarray, text: str, colour=WHITE, below: bool = False, size: int | None = None) -> np.ndarray:
    """`text` on a dark box in the bottom-left corner of an (H, W, 3) uint8 image, or on a dark bar added below it.

    The bottom, so that a title above the picture never hides it. colour: an RGB triple, or a colour of the
    visual language (its on-dark version is used).
    """
    if isinstance(colour, str):
        colour = on_dark(colour)
    size = size or caption_size(image.shape[0])
    if below:
        return np.concatenate([image, _caption_bar(text, image.shape[1], tuple(colour), size)], axis=0)
    f = font(size)
    width = f.getbbox(text)[2]
    height = f.getbbox("Ag")[3]                 # one line's height whatever the letters: captions line up
    im = Image.fromarray(image)
    d = ImageDraw.Draw(im)
    h = im.size[1]
    d.rectangle([0, h - height - 6, width + 8, h], fill=(0, 0, 0))
    d.text((4, h - height - 3), text, fill=colour, font=f)
    return np.asarray(im)


@functools.lru_cache(maxsize=64)         # a clip's every frame carries the same bar: draw it once
def _caption_bar(text: str, width: int, colour: tuple, size: int) -> np.ndarray:
    f = font(size)
    bar = Image.new("RGB", (width, f.getbbox("Ag")[3] + 2), (0, 0, 0))
    ImageDraw.Draw(bar).text((3, 1), text, fill=colour, font=f)
    out = np.asarray(bar)
    out.flags.writeable = False             # shared between calls: read only
    return out


# --------------------------------------------------------------------- frames side by side

def fit_height(frames, height: int) -> list[np.ndarray]:
    """Each frame resized to `height` rows, its aspect kept (frames may differ in size)."""
    return [media.resize_image(f, (height, max(1, round(f.shape[1] * height / f.shape[0])))) for f in frames]


def side_by_side(panels, gap: int = GAP) -> np.ndarray:
    """Images (H, W, 3) or clips (T, H, W, 3) of one height, left to right with white gaps between them."""
    sep = np.full(panels[0].shape[:-2] + (gap, 3), 255, np.uint8)
    parts = []
    for p in panels:
        parts += [p, sep]
    return np.concatenate(parts[:-1], axis=-2)


def strip(frames, captions: list[str], height: int = STRIP_H, colours: dict | None = None, gap: int = GAP) -> np.ndarray:
    """Frames at one height, each captioned (in colours[i] when given, else white), side by side."""
    return side_by_side([caption(f, text, (colours or {}).get(i, WHITE))
                         for i, (f, text) in enumerate(zip(fit_height(frames, height), captions))], gap)


# --------------------------------------------------------------------- heat maps

@functools.lru_cache(maxsize=1)
def _inferno() -> np.ndarray:
    from matplotlib import colormaps
    return (colormaps["inferno"](np.arange(256))[:, :3] * 255).astype(np.float32)


def heat_overlay(image: np.ndarray, heat: np.ndarray, weight: np.ndarray | None = None,
                 dim: float = 1.0) -> np.ndarray:
    """Heat (..., H, W) in [0, 1], coloured with inferno over image (..., H, W, 3) uint8.

    weight (shaped as heat; default the heat itself) is how much colour each pixel takes;
    dim darkens the image beneath, so that the colour stands out.
    """
    h = np.clip(heat, 0, 1)
    colour = _inferno()[np.minimum((h * 256).astype(np.int64), 255)]       # matplotlib's own binning
    w = (h if weight is None else np.asarray(weight, np.float32))[..., None]
    out = image.astype(np.float32) * dim * (1 - w) + colour * w
    return np.clip(out, 0, 255).astype(np.uint8)
