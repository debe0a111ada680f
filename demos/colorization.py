"""The Colorization tracking tab: colour a grey clip by pointing into its first frame, then track a mask.

The core call is core.colorization (propagate, colorize_video, pointer_map,
train); this module only turns its numpy outputs into videos, pictures,
plots and words.
"""
from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import gradio as gr
import numpy as np

from core import stages
from core import colorization as C
from core import common as core_common
from core import media
from demos import common, figures
from demos.tab import Tab

METHOD = "colorization"
EXAMPLES_DIR = os.path.join(core_common.ROOT, "assets", "examples", "colorization")
MAX_FRAMES = 48            # longer clips are cut: the click must stay within a few seconds on a CPU
POINTER_VIEW = 300         # pictures a visitor clicks on are enlarged (whole pixels) to about this many pixels
DEFAULT_FRAMES = 32

SUMMARY = r"""
### Colorization tracking: colour a grey frame by pointing into a coloured one
The network colours grey frames by **pointing** at the pixels of a coloured first frame that look the same;
trained only for colour, the pointer has become a **tracker**: it carries a first-frame mask through the clip
(Vondrick et al., *Tracking Emerges by Colorizing Videos*, ECCV 2018).
"""

IDEA = r"""
*Tracking Emerges by Colorizing Videos* (Vondrick et al., ECCV 2018).

Colour stays with the surface it belongs to. So show a network a **grey** frame and a **coloured**
reference frame, and ask it to colour the grey one by *pointing*: every grey position $j$ chooses,
by similarity of learned features $f$, which reference positions $i$ to copy colour from,

$$A_{ij} = \frac{\exp(f_i^\top f_j / \tau)}{\sum_k \exp(f_k^\top f_j / \tau)}, \qquad y_j = \sum_i A_{ij}\, c_i ,$$

trained with cross-entropy between $y_j$ and the true colour (Lab *ab*, quantized into 16 clusters).
No label says where anything moves, yet to copy the right colour the pointer must find the same point
again: it has become a **tracker**. At test time the same $A$ copies a first-frame *mask* instead of colours.
"""

def _note(config) -> str:
    return (f"""<span class="ssl-note">Tracking: each frame points into the first frame (its given mask, searched
everywhere) and the {config.n_recent} previous frames (their predicted masks, searched within
{config.radius * C.STRIDE} px); each position keeps its {config.topk} best matches
({'cosine' if config.test_normalize else 'inner-product'} pointer, temperature {config.test_temperature:g}).
The raw-pixel baseline runs exactly the same propagation on the frames' own Lab colour values instead of learned
features (the colourization baseline uses grey values: the target has no colour). The learned model only ever
sees grey.</span>""")


CARD_ROWS = [
    ("tracking J, held-out sprite videos whose sprites look alike (same grey level, same two colours): learned",
     "track_J", "{:.3f}"),
    ("tracking J, sprites alike: raw pixels, Lab colour", "track_J_raw_lab", "{:.3f}"),
    ("tracking J, sprites alike: raw pixels, grey", "track_J_raw_grey", "{:.3f}"),
    ("tracking J, the same videos with each sprite in its own colours: learned (sees grey only)",
     "track_J_distinct_colours", "{:.3f}"),
    ("tracking J, own colours: raw pixels, Lab colour (colour alone tells the sprites apart)",
     "track_J_distinct_colours_raw_lab", "{:.3f}"),
    ("colour-cluster accuracy, held-out real clips, 4 frames ahead: learned", "colour_acc", "{:.3f}"),
    ("colour-cluster accuracy: raw grey pixels", "colour_acc_raw_pixels", "{:.3f}"),
    ("colour-cluster accuracy: copy the same place (a still camera's free lunch)",
     "colour_acc_copy_same_place", "{:.3f}"),
    ("colour-cluster accuracy, 17 real colour clips from 5 packages no training read: learned",
     "heldout_real_colour_acc", "{:.3f}"),
    ("... raw grey pixels", "heldout_real_colour_acc_raw_pixels", "{:.3f}"),
    ("... copy the same place", "heldout_real_colour_acc_copy_same_place", "{:.3f}"),
]


# --------------------------------------------------------------------- examples

def _examples() -> list[dict]:
    path = os.path.join(EXAMPLES_DIR, "examples.json")
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        return json.loads(f.read())      # (not json.load: tests/test_app.py reads .load(x) as an event)


def _truth_for(name: str | None, n_frames: int, hw: tuple[int, int]) -> np.ndarray | None:
    """Ground-truth masks of a bundled example (None for clips without, or for the user's own)."""
    for ex in _examples():
        if ex["name"] == name and ex.get("truth"):
            truth = np.load(file=common.example_file(ex["truth"]))["labels"].astype(np.int64)
            if truth.shape[1:] == tuple(hw) and len(truth) >= n_frames:
                return truth[:n_frames]
    return None


# --------------------------------------------------------------------- pictures (numpy only)

def _side_by_side(panels: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """[(caption, (T, H, W, 3))...] -> one clip, each panel captioned on a bar below its frames."""
    return figures.side_by_side([np.stack([figures.caption(f, text, below=True) for f in clip])
                                 for text, clip in panels], gap=4)


def _overlay(frames: np.ndarray, labels: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Frames with each labelled object tinted in its palette colour and outlined."""
    colour = C.labels_to_rgb(labels).astype(np.float32)
    out = frames.astype(np.float32)
    obj = labels > 0
    out[obj] = (1 - alpha) * out[obj] + alpha * colour[obj]
    edge = np.zeros_like(obj)
    edge[:, 1:, :] |= labels[:, 1:, :] != labels[:, :-1, :]
    edge[:, :, 1:] |= labels[:, :, 1:] != labels[:, :, :-1]
    edge &= obj
    out[edge] = colour[edge]
    return out.clip(0, 255).astype(np.uint8)


def _grey_rgb(frames: np.ndarray) -> np.ndarray:
    g = (core_common.grey(frames) * 255).round().astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=-1)


def _heat_overlay(frame: np.ndarray, heat: np.ndarray, decades: float = 3.0) -> np.ndarray:
    """A reference frame, dimmed, with the pointer's weights on top (log scale over `decades` below the
    peak, so that a sharp pointer's runners-up still show); the peak marked."""
    heat = np.clip(1 + np.log10(np.maximum(heat, 1e-12)) / decades, 0, 1)
    y, x = np.unravel_index(np.argmax(heat), heat.shape)
    return _mark(figures.heat_overlay(frame, heat, dim=0.35), (int(y), int(x)), (0, 255, 0))


def _zoom_factor(shape) -> int:
    """The whole-pixel enlargement that shows a frame of this (H, W, ...) shape at about POINTER_VIEW pixels."""
    return max(1, int(round(POINTER_VIEW / max(shape[0], shape[1]))))


def _zoom(image: np.ndarray, factor: int) -> np.ndarray:
    """Each pixel as a factor x factor block: big enough to click, and a click maps back exactly."""
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def _mark(image: np.ndarray, point: tuple[int, int], colour=(0, 255, 255)) -> np.ndarray:
    """A small cross at point (y, x)."""
    out = image.copy()
    y, x = point
    H, W = out.shape[:2]
    r = max(3, min(H, W) // 25)
    out[max(0, y - r):y + r + 1, max(0, x - 1):x + 2] = colour
    out[max(0, y - 1):y + 2, max(0, x - r):x + r + 1] = colour
    return out


@figures.cached_plot
def _scores_figure(acc: dict, j: dict | None):
    fig = figures.new_figure(6.0, 2.8 if j is None else 4.6)
    ax = fig.add_subplot(2 if j is not None else 1, 1, 1)
    for key, style, colour in (("learned", "-", figures.ANSWER), ("raw pixels (grey)", "--", figures.BASELINE)):
        ax.plot(np.arange(2, len(acc[key]) + 2), acc[key], style, color=colour, label=key)
    ax.set_ylabel("colour accuracy")
    ax.set_ylim(0, 1.02)
    ax.set_title("pretext: colour frame t from frame 1 (share right)")
    ax.legend()
    if j is not None:
        ax2 = fig.add_subplot(2, 1, 2)
        for key, style, colour in (("learned", "-", figures.ANSWER), ("raw pixels (Lab)", "--", figures.BASELINE)):
            ax2.plot(np.arange(2, len(j[key]) + 2), j[key], style, color=colour, label=key)
        ax2.set_ylabel("J (IoU)")
        ax2.set_ylim(0, 1.02)
        ax2.set_xlabel("frame")
        ax2.set_title("tracking: J per frame against the true masks")
        ax2.legend()
    else:
        ax.set_xlabel("frame")
    return fig


# --------------------------------------------------------------------- inputs

def _mask_from_editor(editor) -> np.ndarray | None:
    """Labels from the brush strokes on the first frame (None when nothing was drawn)."""
    if not isinstance(editor, dict):
        return None
    layers = [np.asarray(layer) for layer in (editor.get("layers") or []) if layer is not None]
    drawn = None
    for layer in layers:
        if layer.ndim != 3 or layer.shape[-1] != 4 or not (layer[..., 3] > 0).any():
            continue
        rgb = np.where(layer[..., 3:] > 0, layer[..., :3], 0).astype(np.uint8)
        rgb[(layer[..., 3] > 0) & (rgb.max(-1) < 40)] = C.PALETTE[1]       # a dark brush still marks an object
        lab = C.rgb_to_labels(rgb)
        drawn = lab if drawn is None else np.where(lab > 0, lab, drawn)
    return drawn


def _first_labels(mask_image, editor, hw: tuple[int, int]) -> tuple[np.ndarray, str]:
    drawn = _mask_from_editor(editor)
    if drawn is not None:
        lab, source = drawn, "your drawing"
    elif mask_image is not None:
        lab, source = C.rgb_to_labels(media.to_rgb_uint8(mask_image)), "the example's mask"
    else:
        raise gr.Error("Please draw the object to track on the first frame (the brush below the video), "
                       "or pick a bundled example with a ready mask.")
    if lab.shape != tuple(hw):
        lab = core_common.resize_map(lab, hw, mode="nearest").astype(np.int64)
    if not (lab > 0).any():
        raise gr.Error("The mask is empty: paint over the object to track on the first frame.")
    return lab, source


# --------------------------------------------------------------------- handlers

_VIDEOS = common.Memo(max_items=16)          # paths of drawn and encoded videos, by their content
# the raw-pixel baselines need nothing from the learned features: they run beside the core call, on the
# second core when it is free (one per click that can run at once: app.CONCURRENCY)
_BESIDE = ThreadPoolExecutor(max_workers=2, thread_name_prefix="colorization-baselines")



def _first_frame(path) -> dict | None:
    """The draw editor's canvas: the clip's first frame (None when there is no clip or it cannot be read)."""
    if not path:
        return None
    try:
        frame = common.cached_video_input(path).frames[0]
    except Exception:  # noqa: BLE001  (an empty canvas; the button says what is wrong with the file)
        return None
    return {"background": frame, "layers": [], "composite": frame}


def on_upload(tab: Tab, path):
    v = common.load_video_input(path, max_side=media.MAX_SIDE)
    return (gr.update(value={"background": v.frames[0], "layers": [], "composite": v.frames[0]}),
            None, "")


def on_run(tab: Tab, path, mask, drawn, name, n, mine):
    t0 = time.perf_counter()
    v = common.cached_video_input(path)
    frames = v.frames[:common.number(n, "The number of frames to process", 2, integer=True)]
    if len(frames) < 2:
        raise gr.Error("The clip needs at least 2 frames.")
    T, H, W = frames.shape[:3]
    first, source = _first_labels(mask, drawn, (H, W))
    model, who = tab.model(mine)
    # raw pixels: the same per clip, mask and settings, whoever asks
    key = (common.file_key(path), len(frames), repr(model.config), common.digest(model.centres.cpu().numpy()),
           common.digest(first))
    raw = _BESIDE.submit(lambda: (
        tab.cached("raw colour", key[:4], lambda: C.colorize_video(model, frames, "raw_grey")),
        tab.cached("raw tracks", key[:3] + key[4:], lambda: C.propagate(model, frames, first, "raw_lab"))))
    stages.now("core")
    coloured, acc, conf, pred = C.colorize_and_propagate(model, frames, first)
    stages.now("baselines")                     # what is left of them once the learned model has answered
    (coloured_raw, acc_raw, _), pred_raw = raw.result()
    stages.now("figures")
    truth = _truth_for(name, T, (H, W)) if source == "the example's mask" else None
    j = None
    if truth is not None:
        j = {"learned": C.jaccard_per_frame(pred, truth)[1:],
             "raw pixels (Lab)": C.jaccard_per_frame(pred_raw, truth)[1:]}
    fps = min(v.fps, 10.0)
    frames_id = common.digest(frames)

    def colour_video():
        clip = _side_by_side([("grey input", _grey_rgb(frames)), ("learned", coloured),
                              ("raw grey pixels", coloured_raw), ("truth", frames)])
        return media.save_video(clip, fps, name="colourized.mp4")

    def track_video():
        panels = [("learned features", _overlay(frames, pred)), ("raw pixels (Lab)", _overlay(frames, pred_raw))]
        if truth is not None:
            panels.append(("true masks", _overlay(frames, truth)))
        return media.save_video(_side_by_side(panels), fps, name="tracked.mp4")
    # each video is drawn and encoded once per exact content: the colouring does not depend on the mask,
    # and the same click again (or the tab's opening answer) finds both ready
    colour_path = common.kept_file(_VIDEOS, ("colour", frames_id, common.digest(coloured, coloured_raw), fps),
                                   colour_video)
    track_path = common.kept_file(_VIDEOS, ("track", frames_id, common.digest(pred, pred_raw),
                                            None if truth is None else common.digest(truth), fps), track_video)
    fig = _scores_figure({"learned": acc[1:], "raw pixels (grey)": acc_raw[1:]}, j)
    stages.now("other")
    lines = [f"**Asked:** colour frames 2..{T} (seen in grey) by pointing into frame 1 (in colour). "
             f"**Answered** by {who}: the right colour cluster at **{acc[1:].mean():.0%}** of positions "
             f"(mean confidence {conf[1:].mean():.0%}); raw grey pixels: {acc_raw[1:].mean():.0%}.",
             f"**Tracking** {len(np.unique(first[first > 0]))} object(s) from {source} through {T} frames."]
    if j is not None:
        lines.append(f"Mean J against the true masks: learned **{j['learned'].mean():.2f}**, raw Lab pixels "
                     f"{j['raw pixels (Lab)'].mean():.2f}.")
    else:
        lines.append("No true masks for this clip after frame 1, so no J: judge the overlay by eye.")
    lines.append(f"<span class='ssl-note'>{common.notes_text(v.notes)} {time.perf_counter() - t0:.1f} s."
                 "</span>")
    state = {"frames": frames, "pred": pred}
    t_show = min(8, T - 1)
    z = _zoom_factor(frames.shape[1:])
    return ("\n\n".join(lines), colour_path, track_path, fig, state,
            gr.update(maximum=T, value=t_show + 1), _zoom(_grey_rgb(frames[t_show:t_show + 1])[0], z),
            _zoom(frames[0], z), _zoom(frames[0], z), "Click a point on the target frame.")


def on_target(tab: Tab, state, t):
    if not state:
        return None
    frames = state["frames"]
    t = int(min(max(1, int(t) - 1), len(frames) - 1))          # the slider counts frames from 1
    return _zoom(_grey_rgb(frames[t:t + 1])[0], _zoom_factor(frames.shape[1:]))


def on_point(tab: Tab, state, t, mine, evt: gr.SelectData):
    if not state:
        raise gr.Error("Run an example or your clip first, then click a point on its target frame.")
    z = _zoom_factor(state["frames"].shape[1:])              # the picture clicked on is enlarged z times
    return _pointer(tab, state, t, (int(evt.index[1]) // z, int(evt.index[0]) // z), mine)


def _pointer(tab: Tab, state, t, point: tuple[int, int], mine):
    """The pointer's weights on frame 1 for the point (y, x) of target frame t (counted from 1)."""
    frames = state["frames"]
    t = int(min(max(1, int(t) - 1), len(frames) - 1))          # the slider counts frames from 1
    H, W = frames.shape[1:3]
    y, x = min(max(0, point[0]), H - 1), min(max(0, point[1]), W - 1)
    model, who = tab.model(mine)
    heat = C.pointer_map(model, frames[t], frames[0], (y, x), "learned")
    heat_r = C.pointer_map(model, frames[t], frames[0], (y, x), "raw_grey")
    spread = float((heat > 0.5).mean())
    spread_r = float((heat_r > 0.5).mean())
    text = (f"The pointer of {who} from ({x}, {y}) in frame {t + 1} (cyan cross): bright reference "
            f"positions get the weight, shown on a log scale over three decades (the peak is marked green). "
            f"Share of frame 1 above half the peak weight: learned {spread:.1%}, raw grey pixels "
            f"{spread_r:.1%}: raw grey values match every spot of a similar grey.")
    z = _zoom_factor(frames.shape[1:])
    return (_zoom(_mark(_grey_rgb(frames[t:t + 1])[0], (y, x)), z), _zoom(_heat_overlay(frames[0], heat), z),
            _zoom(_heat_overlay(frames[0], heat_r), z), text)


def first_look(tab: Tab, path, mask, name, n):
    """The tab's opening: the default clip coloured and tracked, and the pointer of one point on the first
    tracked object in the target frame (where the learned model carried it; the frame centre if it lost it)."""
    if isinstance(mask, str):                       # a file, as gr.Image(type="numpy") would have read it
        from PIL import Image
        with Image.open(mask) as im:
            mask = np.asarray(im.convert("RGB"))
    out = on_run(tab, path, mask, None, name, n, None)
    state, t = out[4], out[5]["value"]
    pred = state["pred"][t - 1]
    ys, xs = np.nonzero(pred == pred[pred > 0].min()) if (pred > 0).any() else ([pred.shape[0] // 2],
                                                                              [pred.shape[1] // 2])
    point = (int(np.median(ys)), int(np.median(xs)))
    return out[:6] + _pointer(tab, state, t, point, None)


def on_train(tab: Tab, n_steps, start_from, source, state, mine, progress=gr.Progress()):
    clip = None
    if source == "the loaded clip":
        if not state:
            raise gr.Error("Load a clip first (run an example or your upload), or train on the bundled data.")
        clip = state["frames"]
        if len(clip) < 8:
            raise gr.Error("Training on a clip needs at least 8 frames.")
    base = None if start_from == "from scratch" else tab.model(mine)[0]        # yours when you have one
    config = base.config if base is not None else C.Config()
    t0 = time.perf_counter()
    model, hist = C.train(config, int(n_steps), tab.device, progress=common.progress_callback(progress, "training"),
                          model=base, frames=clip, log_every=1)
    seconds = time.perf_counter() - t0
    note = (f"{int(n_steps)} steps {'from scratch' if base is None else 'on top of the shipped model'} on "
            f"{'your clip' if clip is not None else 'the bundled data'}")
    text = (f"Trained {note} in {seconds:.0f} s. {figures.change_sentence(hist, ('loss', 'acc'))} "
            "(acc: the share of right colour clusters.) The buttons above now use **your model**; run them again.")
    return Tab.yours(model, note), figures.curve_figure(hist, ("loss", "acc"), "your training run"), text


def on_example(tab: Tab, name):
    return None if name else gr.update()          # a picked example's mask replaces any old drawing


# --------------------------------------------------------------------- layout

# one line on what the shipped model learned from (its card's data section, in words)
SEEN = ('generated sprite videos (85% of tuples) and the 7 bundled train clips (15%); measured on held-out '
        'sprite videos, bikes, city and 17 real colour clips of 5 packages it never read.')


def build(device) -> None:
    tab = Tab(METHOD, device)
    if not tab.header(SUMMARY, IDEA, seen=SEEN):
        return
    examples = _examples()
    first = examples[0] if examples else None
    default_video = common.example_file(first["video"]) if first else None
    default_mask = common.example_file(first["mask"]) if first else None
    mine = tab.state()
    clip_state = common.user_state()            # this visitor's last clip and results, for the pointer view

    with gr.Row():
        with gr.Column(scale=1):
            video = gr.Video(value=default_video, label="clip (yours, or pick an example below)", sources=["upload"],
                             elem_id="colorization-video", elem_classes="ssl-input")
            mask_image = gr.Image(value=default_mask, label="first-frame mask (from the example)", format="png",
                                  type="numpy",
                                  image_mode="RGB", height=160, interactive=False, elem_id="colorization-mask")
            gr.Markdown("**Or draw** the object(s) on the first frame, one brush colour per object:",
                        elem_classes="ssl-note")
            editor = gr.ImageEditor(value=_first_frame(default_video), label="draw on the first frame",
                                    show_label=False,
                                    type="numpy", image_mode="RGBA", sources=[], height=300,
                                    brush=gr.Brush(colors=["#ff4040", "#40a0ff", "#ffd200"], color_mode="fixed",
                                                   default_size=12),
                                    layers=False, transforms=(), elem_id="colorization-editor")
            example_name = gr.Textbox(value=first["name"] if first else None, visible=False)
            n_frames = gr.Slider(8, MAX_FRAMES, value=DEFAULT_FRAMES, step=1, label="frames to process")
            run_btn = gr.Button("Colourize and track", variant="primary", elem_id="colorization-run")
        with gr.Column(scale=2):
            summary = gr.Markdown(elem_id="colorization-summary")
            colour_video = gr.Video(label="pretext task: grey frames coloured from frame 1", autoplay=True,
                                    loop=True, elem_id="colorization-colour")
            track_video = gr.Video(label="the mask carried through the clip", autoplay=True, loop=True,
                                   elem_id="colorization-track")
            scores = gr.Plot(label="per frame", elem_id="colorization-plot", elem_classes="ssl-plot")
            gr.Markdown(_note(tab.shipped().config))
    if examples:
        gr.Examples(
            examples=[[common.example_file(e["video"]), common.example_file(e["mask"]), e["name"]] for e in examples],
            inputs=[video, mask_image, example_name], example_labels=[e["description"] for e in examples],
            label="bundled clips with a ready first-frame mask", api_name="colorization_example")

    gr.Markdown("### Where does the pointer look? Click a point on the target frame")
    with gr.Row():
        target_idx = gr.Slider(2, MAX_FRAMES, value=9, step=1, label="target frame (frame 1 is the reference)")
    with gr.Row():                   # three across on a projector, one per line on a phone: big enough to click
        target_img = gr.Image(label="target frame (seen in grey; click a point)", format="png",
                              height=POINTER_VIEW + 20, interactive=False, elem_id="colorization-target",
                              min_width=figures.PHONE_PLOT)
        heat_learned = gr.Image(label="learned features: the row of A on frame 1 (log scale)", format="png",
                                height=POINTER_VIEW + 20, interactive=False, elem_id="colorization-heat",
                                min_width=figures.PHONE_PLOT)
        heat_raw = gr.Image(label="raw grey pixels: the row of A on frame 1 (log scale)", format="png",
                            height=POINTER_VIEW + 20, interactive=False, elem_id="colorization-heat-raw",
                            min_width=figures.PHONE_PLOT)
    pointer_text = gr.Markdown(elem_id="colorization-pointer-text")

    gr.Markdown("### What it is for: tracking with no labels, measured on held-out data")
    gr.Markdown(common.card_markdown(METHOD, CARD_ROWS))

    gr.Markdown("### Train it live (your own model, kept for this visit only)")
    with gr.Row():
        steps = gr.Slider(10, 100, value=30, step=10, label="training steps", elem_id="colorization-steps")
        start = gr.Radio(["continue from the shipped model", "from scratch"],
                         value="continue from the shipped model", label="start")
        data_src = gr.Radio(["the loaded clip", "bundled clips and sprite videos"], value="the loaded clip",
                            label="train on")
    with gr.Row():
        train_btn = gr.Button("Train", elem_id="colorization-train")
        forget_btn = gr.Button("Use the shipped model again")
    train_status = gr.Markdown(elem_id="colorization-train-msg")
    curve = gr.Plot(label="training curve", elem_id="colorization-curve", elem_classes="ssl-plot")

    example_name.change(tab.handler(on_example), [example_name], [editor], api_name="colorization_example_mask",
                        api_visibility="private")
    video.upload(tab.handler(on_upload), [video], [editor, mask_image, example_name], api_name="colorization_first_frame")
    run_btn.click(tab.handler(on_run), [video, mask_image, editor, example_name, n_frames, mine],
                  [summary, colour_video, track_video, scores, clip_state, target_idx, target_img, heat_learned,
                   heat_raw, pointer_text], api_name="colorization_track")
    target_idx.release(tab.handler(on_target), [clip_state, target_idx], [target_img], api_name="colorization_target")
    target_img.select(tab.handler(on_point), [clip_state, target_idx, mine], [target_img, heat_learned, heat_raw, pointer_text],
                      api_name="colorization_pointer")
    train_btn.click(tab.handler(on_train), [steps, start, data_src, clip_state, mine], [mine, curve, train_status],
                    api_name="colorization_train")
    forget_btn.click(tab.forget, None, [mine, train_status], api_name="colorization_forget")
    results = [summary, colour_video, track_video, scores, clip_state, target_idx, target_img, heat_learned,
               heat_raw, pointer_text]
    if first:
        tab.arrive(first_look, (default_video, default_mask, first["name"], DEFAULT_FRAMES), results)
    tab.clears([video], [colour_video, track_video, scores, clip_state, target_img, heat_learned, heat_raw],
               summary, "A new clip: draw or pick its first-frame mask, then press **Colourize and track**.")
    tab.playable(video)


if __name__ == "__main__":
    common.launch_alone(build, "Colorization tracking")
