"""The TCC tab: align two videos of one action, play them in sync, watch a cycle go there and back.

Everything here is presentation: the embeddings, alignment, cycles and
training come from core.tcc; this module turns them into a synced video,
plots and words.
"""
from __future__ import annotations

import json
import os

import gradio as gr
import numpy as np

from core import stages
from core import media, tcc
from demos import common, figures
from demos.tab import Tab

METHOD = "tcc"
EXAMPLES_DIR = "tcc"
MAX_FRAMES = 150                     # frames per video kept for the alignment (10 s at 15 fps)
LIVE_STEPS = (10, 150, 60)           # min, max, default steps of live training
PLAY_SIDE = 160                      # height of each half of the synced playback

SUMMARY = r"""
### TCC: align two videos of one action, with no labels
Every frame is embedded on its own; training makes a **cycle** come back: from a frame of video 1 to its
nearest neighbour in video 2 and back again. Then the same moment of the action sits at the same place,
whatever the look or the pace, and alignment is a nearest-neighbour lookup (Dwibedi et al., CVPR 2019).
"""

IDEA = r"""
Two people throw a ball: different clothes, background, camera, pace. TCC embeds **every frame on
its own** (the network never sees a frame's time) and trains so that a *cycle* comes back: from frame
$i$ of video $U$ go to its **soft nearest neighbour** in video $V$, then back to $U$; you should land on $i$.
The only way to make every cycle return for every pair of videos is to put the same *moment* of the
action at the same place in embedding space, whatever the look or the pace.

$$\alpha_j = \frac{e^{-\|u_i - v_j\|^2}}{\sum_k e^{-\|u_i - v_k\|^2}}, \qquad
\tilde v = \sum_j \alpha_j v_j, \qquad \beta_k = \operatorname{softmax}_k\!\left(-\|\tilde v - u_k\|^2\right)$$

**Cycle-back regression** asks the return point $\mu = \sum_k \beta_k k$ to be $i$, weighted by how sure it is:

$$L = \frac{|i - \mu|^2}{\sigma^2} + \lambda \log \sigma, \qquad \sigma^2 = \sum_k \beta_k (k - \mu)^2$$

(the official code uses $\lambda \log \sigma^2$ with $\lambda = 0.001$). This model drops the variance
weighting and regresses $|i - \mu|^2$ alone (the official code's `regression_mse` option): trained
from scratch, the weighted loss stayed flat for a thousand steps or more before alignment took off,
the plain one leaves its start within a few hundred. Distances are divided by $D$, with a temperature of 0.1, as in the official code.
Alignment is then just the nearest neighbour in embedding space.
This small model, trained here from scratch on a rendered throw, sees each frame with the frame two steps
before it (never a time stamp), embeds a frame and its mirror image alike, and centres each video's
embeddings; the numbers below say how far it gets.

*Dwibedi, Aytar, Tompson, Sermanet, Zisserman, **Temporal Cycle-Consistency Learning**, CVPR 2019.*
"""

CARD_ROWS = [
    ("Kendall's tau, TCC (target >= 0.85)", "tau", "{:.3f}"),
    ("Kendall's tau, same encoder at random init", "tau_random_init", "{:.3f}"),
    ("Kendall's tau, raw pixels", "tau_pixels", "{:.3f}"),
    ("real footage: Kendall's tau between two films of one cyclist passing a goal (pymecavideo, held out), TCC",
     "heldout_real_tau", "{:.3f}"),
    ("... same encoder at random init", "heldout_real_tau_random_init", "{:.3f}"),
    ("... raw pixels", "heldout_real_tau_pixels", "{:.3f}"),
    ("phase accuracy from one labelled video, TCC (target >= 0.85)", "phase_acc", "{:.3f}"),
    ("phase accuracy, random init", "phase_acc_random_init", "{:.3f}"),
    ("phase accuracy, raw pixels", "phase_acc_pixels", "{:.3f}"),
    ("cycles back within 1 frame, TCC", "cycle_rate", "{:.3f}"),
    ("cycles back within 1 frame, random init", "cycle_rate_random_init", "{:.3f}"),
    ("re-timed copy: mean frame error of align, TCC", "retimed_frame_error", "{:.2f}"),
    ("re-timed copy: mean frame error, random init", "retimed_frame_error_random_init", "{:.2f}"),
    ("re-timed copy: mean frame error, raw pixels", "retimed_frame_error_pixels", "{:.2f}"),
]

PHASE_COLORS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"]


# --------------------------------------------------------------------- bundled examples

def _meta() -> dict:
    path = common.example_file(os.path.join(EXAMPLES_DIR, "phases.json"))
    if not os.path.isfile(path):
        return {"pairs": [], "phases": {}, "phase_names": []}
    with open(path) as f:
        return json.load(f)


def _example_name(path) -> str | None:
    """The bundled example a (possibly copied) path refers to, by file name."""
    if not path:
        return None
    name = os.path.splitext(os.path.basename(str(path)))[0]
    return name if name in _meta()["phases"] else None


def _true_labels(path, n: int) -> np.ndarray | None:
    """Ground-truth phase labels of a bundled example (None for an upload or a length mismatch)."""
    name = _example_name(path)
    if name is None:
        return None
    meta = _meta()
    ph = np.asarray(meta["phases"][name])
    if len(ph) != n:
        return None
    return np.searchsorted(np.asarray(meta["phase_bounds"]), ph, side="right")


def _boundaries_of(labels: np.ndarray) -> str:
    return ", ".join(str(int(k)) for k in np.flatnonzero(np.diff(labels)) + 1)


def example_pairs() -> list[list[str]]:
    folder = common.example_file(EXAMPLES_DIR)
    return [[os.path.join(folder, f"{a}.mp4"), os.path.join(folder, f"{b}.mp4")] for a, b in _meta()["pairs"]]


# --------------------------------------------------------------------- pictures

def synced_frames(frames_a: np.ndarray, frames_b: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Video 1 as it is beside video 2 re-timed to it (frame idx[t] of 2 under frame t of 1)."""
    a = figures.fit_height(frames_a, PLAY_SIDE)
    b = figures.fit_height(frames_b, PLAY_SIDE)
    return np.stack([figures.side_by_side([figures.caption(a[t], f"video 1: {t}"),
                                           figures.caption(b[j], f"video 2: {j}")], gap=4)
                     for t, j in enumerate(idx)])


@figures.cached_plot
def similarity_figure(sim: np.ndarray, idx: np.ndarray, truth: np.ndarray | None = None):
    fig = figures.new_figure(4.6, 3.8)
    ax = fig.add_subplot()
    im = ax.imshow(sim, cmap="Greys_r", aspect="auto", origin="upper")
    ax.plot(idx, np.arange(len(idx)), "o-", color=figures.ANSWER, ms=3, lw=1, label="its alignment (nearest)")
    if truth is not None:
        ax.plot(truth, np.arange(len(truth)), "--", color=figures.TRUTH, lw=2, label="the truth (same phase)")
    ax.set_xlabel("video 2 frame")
    ax.set_ylabel("video 1 frame")
    ax.set_title("similarity  $-\\|u_i - v_j\\|^2 / D$")
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.legend(loc="lower left")
    return fig


@figures.cached_plot
def trajectory_figure(pa: np.ndarray, pb: np.ndarray):
    fig = figures.new_figure(4.6, 3.8)
    ax = fig.add_subplot()
    for p, marker, name in ((pa, "o", "video 1"), (pb, "^", "video 2")):
        ax.plot(p[:, 0], p[:, 1], "-", color="lightgrey", lw=1, zorder=1)
        sc = ax.scatter(p[:, 0], p[:, 1], c=np.linspace(0, 1, len(p)), cmap="viridis", marker=marker, s=28,
                        edgecolors="black", linewidths=0.3, label=name, zorder=2)
    fig.colorbar(sc, ax=ax, shrink=0.8, label="time (start -> end of each video)")
    ax.set_title("both videos' embeddings (2-D PCA)")
    ax.legend()
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


@figures.cached_plot
def cycle_figure(c: dict, i: int):
    fig = figures.new_figure(6.0, 4.4)
    ax1, ax2 = fig.subplots(2, 1)
    a, b = c["alpha"], c["beta"]
    ax1.bar(np.arange(len(a)), a, color=[figures.ANSWER if j == c["j"] else figures.OTHER for j in range(len(a))])
    ax1.set_title(f"alpha: where frame {i} of video 1 lands in video 2")       # longer, it ran off the figure
    ax1.set_xlabel("video 2 frame")
    colors = [figures.OTHER] * len(b)
    colors[c["back"]] = figures.verdict_colour(bool(c["consistent"]))
    ax2.bar(np.arange(len(b)), b, color=colors)
    ax2.axvline(i, color=figures.TRUTH, ls="--", lw=1.5, label=f"start {i} (where it should return)")
    ax2.axvline(c["mu"], color=figures.ANSWER, ls=":", lw=1.5, label=f"mu = {c['mu']:.1f}")
    ax2.set_title("beta: where the cycle comes back in video 1")
    ax2.set_xlabel("video 1 frame")
    ax2.legend(loc="upper right")
    return fig


@figures.cached_plot
def application_figure(carried: np.ndarray | None, given: np.ndarray | None, truth: np.ndarray | None,
                       dist: np.ndarray, names: list[str]):
    fig = figures.new_figure(6.0, 3.4)
    rows = [(r, lab) for r, lab in ((given, "video 1 (labelled)"), (carried, "video 2 (carried)"),
                                    (truth, "video 2 (truth)")) if r is not None]
    if rows:
        ax0, ax1 = fig.subplots(2, 1, height_ratios=[len(rows), 2])
        from matplotlib.colors import ListedColormap
        n = max(int(max(r.max() for r, _ in rows)) + 1, 1)
        cmap = ListedColormap(PHASE_COLORS[:max(n, 2)])
        for k, (r, lab) in enumerate(rows):
            x = np.linspace(0, 1, len(r) + 1)
            ax0.pcolormesh(x, [k, k + 0.8], r[None].astype(float), cmap=cmap, vmin=-0.5, vmax=max(n, 2) - 0.5)
        ax0.set_yticks([k + 0.4 for k in range(len(rows))], [lab for _, lab in rows])
        ax0.set_xticks([])
        ax0.invert_yaxis()
        handles = [__import__("matplotlib.patches", fromlist=["Patch"]).Patch(color=PHASE_COLORS[k],
                   label=names[k] if k < len(names) else f"phase {k}") for k in range(n)]
        ax0.legend(handles=handles, ncol=min(n, 4), loc="upper center", bbox_to_anchor=(0.5, 1.45))
        ax0.set_xlabel("time (fraction of each video)")
    else:
        ax1 = fig.add_subplot()
    ax1.plot(np.arange(len(dist)), dist, color="tab:purple")
    thr = float(np.median(dist) + 3 * np.median(np.abs(dist - np.median(dist))) + 1e-6)
    ax1.axhline(thr, color="grey", ls=":", lw=1)
    odd = np.flatnonzero(dist > thr)
    ax1.plot(odd, dist[odd], "x", color=figures.WRONG)
    ax1.set_xlabel("video 2 frame")
    ax1.set_ylabel("distance to best\nmatch in video 1")
    return fig


def cycle_strip(frames_a, frames_b, i: int, c: dict) -> np.ndarray:
    """Three thumbnails: the start frame, its nearest neighbour in video 2, where the cycle came back."""
    return figures.strip([frames_a[i], frames_b[c["j"]], frames_a[c["back"]]],
                         [f"1: frame {i}", f"2: frame {c['j']}", f"back: {c['back']}"],
                         colours={1: figures.ANSWER, 2: figures.verdict_colour(bool(c["consistent"]))})


# --------------------------------------------------------------------- handlers

def _load(path, which: str):
    common.require(path, f"video {which}: {media.ACCEPTED_VIDEO}")
    v = common.cached_video_input(path, with_audio=False)
    frames, notes = v.frames, list(v.notes)
    if len(frames) < 2:
        raise gr.Error(f"Video {which} has only {len(frames)} frame; at least 2 are needed to align.")
    if len(frames) > MAX_FRAMES:
        frames = frames[:MAX_FRAMES]
        notes.append(f"kept the first {MAX_FRAMES} frames")
    return frames, v.fps, notes


def parse_boundaries(text: str, n: int) -> np.ndarray | None:
    """'10, 20, 30' -> per-frame phase labels (n,) (0 before 10, 1 from 10...); None when empty."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        cuts = sorted({int(float(t)) for t in text.replace(";", ",").replace(" ", ",").split(",") if t})
    except ValueError:
        raise gr.Error("Phase boundaries must be frame numbers of video 1 separated by commas, e.g. 10, 22, 31.")
    if any(c <= 0 or c >= n for c in cuts):
        raise gr.Error(f"Phase boundaries must lie between 1 and {n - 1} (video 1 has {n} frames).")
    return np.searchsorted(np.asarray(cuts), np.arange(n), side="right")


def align_videos(tab: Tab, path_a, path_b, boundaries, mine):
    frames_a, fps_a, notes_a = _load(path_a, "1")
    frames_b, _, notes_b = _load(path_b, "2")
    model, who = tab.model(mine)
    stages.now("core")
    emb_a, emb_b = tcc.embed(model, frames_a), tcc.embed(model, frames_b)
    idx = tcc.align(emb_a, emb_b)
    tau = tcc.alignment_tau(emb_a, emb_b)
    rate = tcc.cycle_consistency_rate(emb_a, emb_b, tolerance=1)
    stages.now("figures")
    video = media.save_video(synced_frames(frames_a, frames_b, idx), fps_a, name="tcc_synced.mp4")
    truth_a, truth_b = _true_labels(path_a, len(frames_a)), _true_labels(path_b, len(frames_b))
    truth_match = None
    if truth_a is not None and truth_b is not None:
        pa = np.asarray(_meta()["phases"][_example_name(path_a)])
        pb = np.asarray(_meta()["phases"][_example_name(path_b)])
        truth_match = np.abs(pa[:, None] - pb[None, :]).argmin(1)
    sim_fig = similarity_figure(tcc.similarity(emb_a, emb_b), idx, truth_match)
    pa2, pb2 = tcc.pca_2d(emb_a, emb_b)
    traj = trajectory_figure(pa2, pb2)
    if truth_a is not None:          # a bundled video 1 comes with its phases
        boundaries = _boundaries_of(truth_a)
    else:
        try:
            parse_boundaries(boundaries, len(frames_a))
        except gr.Error:             # typed for another video: start afresh
            boundaries = ""
    tau_txt = "undefined (all frames matched one frame)" if np.isnan(tau) else f"{tau:.3f}"
    summary = (f"**Kendall's tau of the alignment: {tau_txt}** (1 = video 2 visited in order; "
               f"0 = no order). {rate:.0%} of video 1's frames cycle back within one frame. "
               f"Video 1: {len(frames_a)} frames, video 2: {len(frames_b)} frames. Answered by {who}.")
    if truth_match is not None:
        err = np.abs(idx - truth_match).mean()
        summary += f" Against the true phases: mean error {err:.1f} frames of video 2."
    notes = common.notes_text([f"video 1: {n}" for n in notes_a] + [f"video 2: {n}" for n in notes_b])
    if notes:
        summary += f"\n\n_{notes}_"
    session = dict(frames_a=frames_a, frames_b=frames_b, emb_a=emb_a, emb_b=emb_b, truth_b=truth_b,
                   who=who)
    i = len(frames_a) // 2
    cyc_fig, cyc_img, cyc_txt = _cycle_outputs(session, i)
    app_fig, app_txt = _application_outputs(session, boundaries)
    stages.now("other")
    slider = gr.Slider(minimum=0, maximum=len(frames_a) - 1, value=i, step=1)
    return (video, sim_fig, traj, summary, session, slider, cyc_fig, cyc_img, cyc_txt, boundaries,
            app_fig, app_txt)


def show_cycle(tab: Tab, i, session):
    if session is None:
        raise gr.Error("Align two videos first (press Align), then pick a frame.")
    return _cycle_outputs(session, int(i))


def carry_phases(tab: Tab, boundaries, session):
    if session is None:
        raise gr.Error("Align two videos first (press Align), then carry labels.")
    return _application_outputs(session, boundaries)


def train_live(tab: Tab, path_a, path_b, start_from, steps, mine, progress=gr.Progress()):
    frames_a, _, _ = _load(path_a, "1")
    frames_b, _, _ = _load(path_b, "2")
    steps = int(np.clip(int(steps or LIVE_STEPS[2]), LIVE_STEPS[0], LIVE_STEPS[1]))
    config = tcc.Config(steps=steps, warmup=5, lr=5e-4 if start_from != "from scratch" else 2e-3,
                        videos_per_batch=2, frames_per_video=16, val_every=0)
    if start_from == "from scratch":
        base = None
    elif start_from == "my trained model" and mine is not None:
        base = mine["model"]
    else:
        base = tab.shipped()
    before = _tau(base, frames_a, frames_b) if base is not None else None
    model, history = tcc.train(config, steps, tab.device, progress=common.progress_callback(progress, "TCC"),
                               model=base, videos=[frames_a, frames_b], log_every=1)
    model = model.cpu().eval() if tab.device != "cpu" else model
    after = _tau(model, frames_a, frames_b)
    fig = figures.curve_figure(history, keys=("loss", "acc"), title="live TCC training on your two videos",
                               chance=1 / config.frames_per_video)
    msg = (f"Trained {steps} steps on these two videos ({start_from}). {figures.change_sentence(history)} "
           f"'acc' is the share of cycles "
           f"in a batch that come back exactly (chance {1 / config.frames_per_video:.2f}). "
           f"Kendall's tau on this pair: "
           + (f"{before:.3f} before, " if before is not None else "")
           + f"{after:.3f} after. Press **Align** to see everything with your model.")
    begun = start_from if start_from == "from scratch" else f"from {start_from}"
    return Tab.yours(model, f"{steps} live steps {begun}"), fig, msg


def _tau(model, a, b) -> float:
    t = tcc.alignment_tau(tcc.embed(model, a), tcc.embed(model, b))
    return 0.0 if np.isnan(t) else t


def _cycle_outputs(session: dict, i: int):
    fa, fb = session["frames_a"], session["frames_b"]
    i = int(np.clip(i, 0, len(fa) - 1))
    c = tcc.cycle(session["emb_a"], session["emb_b"], i)
    verdict = ("**cycle-consistent**: it came back to where it started" if c["consistent"] else
               f"**not cycle-consistent**: it came back to frame {c['back']}, {abs(c['back'] - i)} frames away")
    txt = (f"Frame {i} of video 1 -> nearest frame {c['j']} of video 2 (alpha {c['alpha'][c['j']]:.2f}) -> "
           f"back to frame {c['back']} of video 1 (beta {c['beta'][c['back']]:.2f}; mu = {c['mu']:.1f}, "
           f"sigma = {c['sigma']:.1f}): {verdict}.")
    return cycle_figure(c, i), cycle_strip(fa, fb, i, c), txt


def _application_outputs(session: dict, boundaries: str):
    fa = session["frames_a"]
    names = list(_meta().get("phase_names") or [])
    given = parse_boundaries(boundaries, len(fa))
    carried = tcc.transfer_labels(session["emb_b"], session["emb_a"], given) if given is not None else None
    truth = session.get("truth_b") if given is not None else None
    dist = tcc.match_distance(session["emb_b"], session["emb_a"])
    fig = application_figure(carried, given, truth, dist, names if given is not None and given.max() < len(names)
                             else [])
    txt = []
    if carried is not None:
        txt.append("Phase labels of video 1 carried to every frame of video 2 by its nearest neighbour.")
        if truth is not None and len(truth) == len(carried) and (given.max() == truth.max()):
            txt.append(f"Agreement with video 2's true phases: **{(carried == truth).mean():.0%}**.")
    else:
        txt.append("Type phase boundaries (frame numbers of video 1) to carry labels to video 2.")
    txt.append("Below: how far each frame of video 2 is from its best match in video 1; red crosses (above the "
               "dotted line, median + 3 MAD) are frames with no good match: an anomaly detector for free.")
    return fig, " ".join(txt)


# --------------------------------------------------------------------- layout

# one line on what the shipped model learned from (its card's data section, in words)
SEEN = ('only generated stick-figure throws, never a real video; measured on held-out throws and on two real '
        'films of one cyclist.')


def build(device) -> None:
    tab = Tab(METHOD, device)
    if not tab.header(SUMMARY, IDEA, seen=SEEN):
        return
    mine = tab.state()
    session = common.user_state()               # this visitor's last alignment, for the cycle and the labels

    pairs = example_pairs()
    first = pairs[0] if pairs else [None, None]
    with gr.Row():
        with gr.Column(scale=1, min_width=200):
            video_a = gr.Video(value=first[0], label="video 1 (the reference)", elem_id="tcc-video-a",
                               elem_classes="ssl-input")
        with gr.Column(scale=1, min_width=200):
            video_b = gr.Video(value=first[1], label="video 2 (re-timed to video 1)", elem_id="tcc-video-b",
                               elem_classes="ssl-input")
        with gr.Column(scale=2, min_width=300):
            align_btn = gr.Button("Align", variant="primary", elem_id="tcc-align")
            summary = gr.Markdown(elem_id="tcc-summary")
            synced = gr.Video(label="played in sync: video 2 re-timed to video 1 by the alignment",
                              elem_id="tcc-synced", autoplay=True, loop=True, elem_classes="ssl-input")
    if pairs:
        gr.Examples(pairs, inputs=[video_a, video_b], elem_id="tcc-examples", label="bundled pairs: one throw, different throwers, paces "
                    "and lengths (the last pair: the same throw re-timed)")
    with gr.Row():
        # side by side on a projector, one under the other on a phone (each at least PHONE_PLOT px wide)
        sim_plot = gr.Plot(label="similarity matrix and nearest-neighbour path", elem_id="tcc-similarity",
                           elem_classes="ssl-plot", min_width=figures.PHONE_PLOT)
        traj_plot = gr.Plot(label="embedding trajectories", elem_id="tcc-trajectories", elem_classes="ssl-plot",
                            min_width=figures.PHONE_PLOT)

    gr.Markdown("### The cycle, made visible\nPick a frame of video 1: where does it land in video 2 (alpha), "
                "and where does it come back (beta)?")
    frame_i = gr.Slider(0, 47, value=24, step=1, label="frame of video 1", elem_id="tcc-frame")
    cycle_txt = gr.Markdown(elem_id="tcc-cycle-text")
    with gr.Row():
        cycle_plot = gr.Plot(label="alpha and beta", elem_id="tcc-cycle", elem_classes="ssl-plot",
                             min_width=figures.PHONE_PLOT)
        cycle_img = gr.Image(label="start -> nearest neighbour -> back", format="png", elem_id="tcc-cycle-frames",
                             interactive=False, min_width=figures.PHONE_PLOT)

    gr.Markdown("### What it is for: carry labels from one labelled video, spot frames with no match")
    with gr.Row():
        boundaries = gr.Textbox(label="phase boundaries in video 1 (frame numbers, comma separated)",
                                placeholder="e.g. 9, 20, 31", elem_id="tcc-boundaries", scale=3)
        carry_btn = gr.Button("Carry labels", scale=1)
    app_plot = gr.Plot(label="labels carried to video 2, and match distance", elem_id="tcc-application",
                       elem_classes="ssl-plot")
    app_txt = gr.Markdown(elem_id="tcc-application-text")

    gr.Markdown("### Measured on held-out throws (the model card)")
    gr.Markdown(common.card_markdown(METHOD, CARD_ROWS))

    gr.Markdown("### Train it live on the two videos in view\nTCC needs no labels: it can learn to align *your* "
                "pair. Short runs on a CPU; the result stays in your session only.")
    with gr.Row():
        start_from = gr.Radio(["the shipped model", "from scratch", "my trained model"], value="the shipped model",
                              label="start from")
        steps = gr.Slider(LIVE_STEPS[0], LIVE_STEPS[1], value=LIVE_STEPS[2], step=10, label="steps",
                          elem_id="tcc-steps")
    with gr.Row():
        train_btn = gr.Button("Train on these two videos", elem_id="tcc-train")
        forget_btn = gr.Button("Forget my model")
    train_plot = gr.Plot(label="training curve", elem_id="tcc-curve", elem_classes="ssl-plot")
    train_txt = gr.Markdown(elem_id="tcc-train-msg")

    outputs = [synced, sim_plot, traj_plot, summary, session, frame_i, cycle_plot, cycle_img, cycle_txt,
               boundaries, app_plot, app_txt]
    align_btn.click(tab.handler(align_videos), [video_a, video_b, boundaries, mine], outputs, api_name="tcc_align")
    frame_i.release(tab.handler(show_cycle), [frame_i, session], [cycle_plot, cycle_img, cycle_txt],
                    api_name="tcc_cycle")
    carry_btn.click(tab.handler(carry_phases), [boundaries, session], [app_plot, app_txt], api_name="tcc_phases")
    train_btn.click(tab.handler(train_live), [video_a, video_b, start_from, steps, mine],
                    [mine, train_plot, train_txt], api_name="tcc_train")
    forget_btn.click(tab.forget, [mine], [mine, train_txt], api_name="tcc_forget")
    if pairs:
        tab.arrive(align_videos, (first[0], first[1], "", None), outputs)
    tab.clears([video_a, video_b], [synced, sim_plot, traj_plot, session, cycle_plot, cycle_img, cycle_txt,
                                    app_plot, app_txt],
               summary, "New videos: press **Align**.")
    tab.playable(video_a, video_b)


if __name__ == "__main__":
    common.launch_alone(build, "TCC alignment")
