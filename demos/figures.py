"""Drawing shared by the tabs: matplotlib plots, captions on frames, strips of frames, heat overlays.

Pictures are numpy uint8 RGB arrays, (H, W, 3) for an image and (T, H, W, 3) for a clip;
nothing here computes what is drawn, the core modules do.
"""
from __future__ import annotations

import functools

import numpy as np
from matplotlib.figure import Figure  # no pyplot: no global figure state shared by users
from PIL import Image, ImageDraw, ImageFont

from core import media

WHITE = (255, 255, 255)
GAP = 6                     # white pixels between frames laid side by side


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
    return Figure(figsize=(w, h), dpi=100, layout="constrained")


def curve_figure(history: dict, keys=("loss", "acc"), title: str = "training", chance: float | None = None) -> Figure:
    """Loss (left axis) and a second metric (right axis) against step."""
    fig = new_figure(5.5, 3.0)
    ax = fig.add_subplot()
    steps = history.get("step", [])
    ax.set_xlabel("step")
    ax.set_title(title)
    if not steps:
        ax.text(0.5, 0.5, "no steps yet", ha="center", va="center", transform=ax.transAxes)
        return fig
    first, *rest = [k for k in keys if k in history]
    ax.plot(steps, history[first], color="tab:blue", label=first)
    ax.set_ylabel(first, color="tab:blue")
    if rest:
        ax2 = ax.twinx()
        for k, c in zip(rest, ("tab:orange", "tab:green", "tab:red")):
            ax2.plot(steps, history[k], color=c, label=k)
        ax2.set_ylabel(" / ".join(rest), color="tab:orange")
        if chance is not None:
            ax2.axhline(chance, color="grey", ls=":", lw=1, label="chance")
        ax2.legend(loc="center right", fontsize=8)
    return fig


@cached_plot
def bar_figure(labels, values, highlight: int | None = None, title: str = "", xlabel: str = "probability",
               good: bool | None = None) -> Figure:
    """Horizontal bars, top entry first; the `highlight` bar green when `good`, red when not."""
    fig = new_figure(5.0, 0.35 * len(labels) + 1.0)
    ax = fig.add_subplot()
    y = np.arange(len(labels))[::-1]
    colors = ["tab:gray"] * len(labels)
    if highlight is not None and 0 <= highlight < len(labels):
        colors[highlight] = "tab:green" if good in (None, True) else "tab:red"
    ax.barh(y, values, color=colors)
    ax.set_yticks(y, [str(v) for v in labels], fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_xlim(0, max(1e-9, max(values)) * 1.15 if len(values) else 1)
    for yi, v in zip(y, values):
        ax.text(v, yi, f" {v:.2f}", va="center", fontsize=8)
    ax.set_title(title)
    return fig


# --------------------------------------------------------------------- words on pictures

@functools.lru_cache(maxsize=8)         # Pillow decodes its built-in font from base64 on every load
def font(size: int = 10):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:                       # Pillow < 10.1 has one bitmap size
        return ImageFont.load_default()


def caption(image: np.ndarray, text: str, colour=WHITE, below: bool = False) -> np.ndarray:
    """`text` on a dark box in the bottom-left corner of an (H, W, 3) uint8 image, or on a dark bar added below it.

    The bottom, because gradio draws a component's own label over the top-left corner.
    """
    f = font()
    width = f.getbbox(text)[2]
    height = f.getbbox("Ag")[3]                 # one line's height whatever the letters: captions line up
    if below:
        bar = Image.new("RGB", (image.shape[1], height + 2), (0, 0, 0))
        ImageDraw.Draw(bar).text((3, 1), text, fill=colour, font=f)
        return np.concatenate([image, np.asarray(bar)], axis=0)
    im = Image.fromarray(image)
    d = ImageDraw.Draw(im)
    h = im.size[1]
    d.rectangle([0, h - height - 6, width + 8, h], fill=(0, 0, 0))
    d.text((4, h - height - 3), text, fill=colour, font=f)
    return np.asarray(im)


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


def strip(frames, captions: list[str], height: int = 150, colours: dict | None = None, gap: int = GAP) -> np.ndarray:
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
