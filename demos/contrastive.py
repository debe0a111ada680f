"""The Contrastive tab: InfoNCE and MIL-NCE on clips whose narration is out of step.

No torch math here: core.contrastive renders the narrated videos, embeds,
scores, retrieves and trains; this module draws the batch, the similarity
matrix, the retrieved clips and the plots around its numpy outputs.
"""
from __future__ import annotations

import numpy as np
import gradio as gr
from PIL import Image, ImageDraw

from core import common as core_common
from core import stages
from core import contrastive as C
from demos import common, figures
from demos.tab import Tab

METHOD = "contrastive"
SHOW = 64                     # px of one shown frame (the clips are 32 px)
LIVE_STEPS = (10, 400, 150)
CURVE_TEMPERATURES = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0)   # the loss-against-temperature curve, plus the slider's
MAX_QUERY = 200               # the narration encoder reads a few words; a page of text is a mistake   # min, max, default steps of live training (~4 steps/s on one CPU thread)
RIGHT, WRONG, TRUTH = "#2ca02c", "#d62728", "#1f77b4"   # the lab's colours: right, wrong, the truth

LEVEL_NAMES = [f"shift {s:g}, {u:.0%} unrelated" for s, u in C.LEVELS]
LEVEL_NAMES[0] = "aligned (shift 0, 0% unrelated)"
LOSS_NAMES = {"MIL-NCE (bag of 5)": "milnce", "InfoNCE (one positive)": "infonce"}

INTRO = r"""
### Contrastive learning from narrated video: InfoNCE and MIL-NCE
Pull a clip and what is said over it together, push the other narrations of the batch away. With
unit-length embeddings $f(x)$ of a clip and $g(y)$ of a narration and a temperature $\tau$,
**InfoNCE** (van den Oord et al., 2018) takes one positive per clip:

$$\mathcal{L}_{\text{InfoNCE}} = -\log \frac{e^{f(x)^\top g(y)/\tau}}{\sum_{j=1}^{B} e^{f(x)^\top g(y_j)/\tau}}$$

In instructional video the positive is often wrong: people say what they do before or after doing it,
talk about other things, and speech recognition errs. **MIL-NCE** (Miech et al., *End-to-End Learning of
Visual Representations from Uncurated Instructional Videos*, CVPR 2020) takes the narrations nearest in
time as a *bag* $\mathcal{P}$ of candidates and is content when **any** of them matches:

$$\mathcal{L}_{\text{MIL-NCE}} = -\log \frac{\sum_{y \in \mathcal{P}} e^{f(x)^\top g(y)/\tau}}
{\sum_{y \in \mathcal{P}} e^{f(x)^\top g(y)/\tau} + \sum_{(x', y') \in \mathcal{N}} e^{f(x')^\top g(y')/\tau}}$$

Here the videos are rendered, so the misalignment is known: each narration is said up to *shift*
actions away from what it describes, and a share is *unrelated* (chit-chat, or an action not in the video).
The shipped model trained with MIL-NCE at the strongest setting (shift 3, 30% unrelated) from scratch.
"""


# --------------------------------------------------------------------- pictures (drawing only)

def clip_strip(clip: np.ndarray, n: int = 4, side: int = SHOW) -> np.ndarray:
    """n frames of a (T, S, S, 3) clip, enlarged (nearest) and side by side: how it moves."""
    idx = np.linspace(0, len(clip) - 1, n).round().astype(int)
    frames = [np.asarray(Image.fromarray(clip[i]).resize((side, side), Image.NEAREST)) for i in idx]
    return figures.side_by_side(frames, gap=2)


def labelled_rows(rows: list[np.ndarray], lines: list[list[str]], colours: list | None = None,
                  text_width: int = 460) -> np.ndarray:
    """Strips stacked top to bottom, each with its lines of text beside it on a dark panel (line 2 coloured)."""
    f = figures.font(15)
    out = []
    for i, (r, text) in enumerate(zip(rows, lines)):
        panel = Image.new("RGB", (text_width, r.shape[0]), (30, 30, 30))
        d = ImageDraw.Draw(panel)
        for k, line in enumerate(text):
            col = _rgb(colours[i]) if (colours and k == len(text) - 1) else figures.WHITE
            d.text((8, 6 + 22 * k), _fit(d, line, f, text_width - 12), fill=col, font=f)
        out.append(figures.side_by_side([r, np.asarray(panel)], gap=4))
        out.append(np.full((4, out[-1].shape[1], 3), 255, np.uint8))
    return np.concatenate(out[:-1], 0)


def _fit(draw, text: str, font, width: int) -> str:
    """text cut with an ellipsis to fit `width` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "..."


def _rgb(hex_colour: str) -> tuple:
    h = hex_colour.lstrip("#")
    return tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))


@figures.cached_plot
def matrix_figure(s: dict, loss: str):
    """The batch's clip x narration similarity, the loss's positives outlined, the true pairs marked.
    s: the batch's "about", "events", "sim" and "sim_bag" (what the picture shows, the key of its cache)."""
    B, K = s["about"].shape
    milnce = loss == "milnce"
    sim = s["sim_bag"] if milnce else s["sim"]
    fig = figures.new_figure(7.2 if milnce else 5.4, 4.4)
    ax = fig.add_subplot()
    im = ax.imshow(sim, cmap="viridis", vmin=-1, vmax=1, aspect="auto")
    fig.colorbar(im, ax=ax, shrink=0.8, label="cosine similarity")
    for i in range(B):
        cols = range(i * K, (i + 1) * K) if milnce else [i]
        c0 = min(cols)
        ax.add_patch(_rect(c0 - 0.5, i - 0.5, len(cols), 1, "white"))
        about = s["about"][:, :].reshape(-1) if milnce else s["about"][:, 0]
        for j in range(sim.shape[1]):
            if about[j] == s["events"][i]:
                ax.plot(j, i, marker="o", ms=7, mfc="none", mec=RIGHT, mew=2)
    ax.set_xlabel("narrations" + (f" (the {K} nearest in time to each clip, bag by bag)" if milnce
                                  else " (the one nearest in time to each clip)"))
    ax.set_ylabel("clips")
    ax.set_yticks(range(B), [f"clip {i + 1}" for i in range(B)], fontsize=8)
    if milnce:
        ax.set_xticks([i * K + (K - 1) / 2 for i in range(B)], [f"bag {i + 1}" for i in range(B)], fontsize=7)
    else:
        ax.set_xticks(range(B), [f"n{i + 1}" for i in range(B)], fontsize=8)
    ax.set_title(f"{'MIL-NCE' if milnce else 'InfoNCE'} positives (white boxes); true pairs (green rings)",
                 fontsize=10, loc="right")
    return fig


def _rect(x, y, w, h, colour):
    from matplotlib.patches import Rectangle
    return Rectangle((x, y), w, h, fill=False, ec=colour, lw=2)


@figures.cached_plot
def curves_figure(curves: dict, temperature: float, negatives: int):
    fig = figures.new_figure(8.0, 3.0)
    for k, (key, xlabel, mark) in enumerate((("temperature", "temperature tau (all negatives)", temperature),
                                             ("negatives", f"negatives per clip (tau {temperature:g})",
                                              negatives))):
        ax = fig.add_subplot(1, 2, k + 1)
        c = curves[key]
        ax.plot(c["x"], c["infonce"], "o-", color="tab:orange", label="InfoNCE")
        ax.plot(c["x"], c["milnce"], "s-", color="tab:blue", label="MIL-NCE")
        ax.plot(c["x"], c["infonce_chance"], ":", color="tab:orange", label="InfoNCE at chance")
        ax.plot(c["x"], c["milnce_chance"], ":", color="tab:blue", label="MIL-NCE at chance")
        ax.axvline(mark, color="grey", lw=1)
        if key == "temperature":
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("loss on this batch")
        if k == 0:
            ax.legend(fontsize=7)
    return fig


def sweep_figure(metrics: dict | None):
    """R@1 and R@5 against misalignment from the model card, with each seed and the spread."""
    fig = figures.new_figure(9.0, 3.6)
    if not metrics or "infonce_r1_level0" not in metrics:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no sweep in the model card yet:\npython -m core.train contrastive", ha="center",
                va="center", transform=ax.transAxes)
        ax.axis("off")
        return fig
    levels = []
    while f"infonce_r1_level{len(levels)}" in metrics:
        levels.append(len(levels))
    names = _level_labels(metrics, levels)
    for k, r in enumerate(("r1", "r5")):
        ax = fig.add_subplot(1, 2, k + 1)
        for loss, colour, label, dx in (("infonce", "tab:orange", "InfoNCE", -0.06), ("milnce", "tab:blue",
                                                                                    "MIL-NCE", 0.06)):
            mean = [metrics[f"{loss}_{r}_level{i}"] for i in levels]
            std = [metrics[f"{loss}_{r}_level{i}_std"] for i in levels]
            x = np.arange(len(levels)) + dx
            ax.errorbar(x, mean, yerr=std, fmt="o-", color=colour, capsize=3, label=f"{label} (mean, std)")
            for i in levels:
                seeds = [v for key, v in metrics.items() if key.startswith(f"{loss}_{r}_level{i}_seed")]
                ax.plot([x[i]] * len(seeds), seeds, ".", color=colour, alpha=0.5)
        ax.axhline(metrics.get(f"chance_{r}", 0), color="grey", ls=":", label="chance")
        ax.set_xticks(range(len(levels)), names, fontsize=8)
        ax.set_ylim(0, 1.02)
        ax.set_ylabel(f"held-out R@{r[1:]}, narration -> clip")
        ax.set_xlabel("training narration: shift, unrelated\n(nearest right / bag right)", fontsize=8)
        if k == 0:
            ax.legend(fontsize=7, loc="lower left")
    return fig


def _level_labels(metrics: dict, levels: list[int]) -> list[str]:
    out = []
    for i in levels:
        right = metrics.get(f"nearest_right_level{i}")
        bag = metrics.get(f"bag_right_level{i}")
        shift, unrel = _level_of(metrics, i, len(levels))
        extra = f"\n{right:.0%} / {bag:.0%}" if right is not None else ""
        out.append(f"{shift:g}, {unrel:.0%}{extra}")
    return out


def _level_of(metrics: dict, i: int, n: int) -> tuple[float, float]:
    return C.sweep_levels(n)[i] if 2 <= n <= len(C.LEVELS) else C.LEVELS[i]


# --------------------------------------------------------------------- handlers

def _level(name: str) -> tuple[float, float]:
    if name not in LEVEL_NAMES:
        raise gr.Error(f"Unknown misalignment {name!r}: choose one of {', '.join(LEVEL_NAMES)}.")
    return C.LEVELS[LEVEL_NAMES.index(name)]


def show_batch(tab: Tab, level, loss_name, temperature, negatives, seed, mine):
    """A batch as the loss sees it: its clips and narrations, the similarity matrix, the losses."""
    shift, unrelated = _level(level)
    if loss_name not in LOSS_NAMES:
        raise gr.Error(f"Unknown loss {loss_name!r}: choose one of {', '.join(LOSS_NAMES)}.")
    loss = LOSS_NAMES[loss_name]
    temperature = common.number(temperature, "The temperature", 0.01, 2.0)
    negatives = common.number(negatives, "The number of negatives", 1, 15, integer=True)
    seed = common.number(seed, "The batch seed", 0, 10**6, integer=True)
    model, who = tab.model(mine)
    stages.now("core")                  # the batch drawn and embedded, its losses at every temperature
    s = C.infer.sample_batch(model, shift, unrelated, batch=negatives + 1, seed=seed)
    B, K = s["about"].shape
    temps = sorted({*CURVE_TEMPERATURES, temperature})
    curves = C.infer.loss_curves(s["clip_emb"], s["bag_emb"], [temperature] + temps, range(1, B))
    curves["temperature"] = {k: v[1:] for k, v in curves["temperature"].items()}
    losses = C.batch_losses(s["clip_emb"], s["bag_emb"], temperature)
    stages.now("figures")
    rows, labels, colours = [], [], []
    for i in range(B):
        rows.append(clip_strip(s["clips"][i]))
        right = s["about"][i, 0] == s["events"][i]
        in_bag = bool((s["about"][i] == s["events"][i]).any())
        labels.append([f"clip {i + 1} shows: {C.describe(int(s['events'][i]))}",
                       f"n{i + 1}, said nearest: \"{s['texts'][i][0]}\""])
        colours.append(RIGHT if right else (TRUTH if in_bag else WRONG))
    picture = labelled_rows(rows, labels, colours)
    fig = matrix_figure({k: s[k] for k in ("about", "events", "sim", "sim_bag")}, loss)
    curves_plot = curves_figure(curves, temperature, B - 1)
    stages.now("other")
    right = int((s["about"][:, 0] == s["events"]).sum())
    bag_right = int(sum((s["about"][i] == s["events"][i]).any() for i in range(B)))
    p = losses["softmax_row0"]
    text = (f"**{B} clips, {B - 1} negatives each**, scored by {who}. Of the {B} narrations nearest in time, "
            f"**{right}** truly describe their clip (captions in green): InfoNCE's positive is wrong for the "
            f"other {B - right}. **{bag_right}** of the {B} bags of {K} hold one that does (green or blue): "
            f"MIL-NCE can still learn from those.\n\n"
            f"At $\\tau$ = {temperature:g}: InfoNCE **{losses['infonce']:.3f}** (chance {losses['infonce_chance']:.3f}), "
            f"MIL-NCE **{losses['milnce']:.3f}** (chance {losses['milnce_chance']:.3f}). Clip 1's softmax over the "
            f"{B} narrations gives its own {p[0]:.0%} (uniform: {1 / B:.0%}): a small $\\tau$ sharpens it onto "
            "the most similar narrations, which makes the hardest negatives count most; more negatives make "
            "the task harder and the loss's floor higher (log B at chance).")
    return picture, fig, curves_plot, text


def _gallery(tab: Tab) -> dict:
    return tab.once("gallery", lambda: C.held_out_gallery(C.HELD_OUT_SEED + 1000 * 9))


def _gallery_emb(tab: Tab, model, mine) -> np.ndarray:
    g = _gallery(tab)
    if mine is None:
        return tab.once("gallery_emb", lambda: C.embed_clips(tab.shipped(), list(g["clips"])))
    return C.embed_clips(model, list(g["clips"]))


def retrieve(tab: Tab, text, mine):
    """Narration -> clip: the five held-out clips most similar to the narration typed or picked."""
    text = str(common.require(text, "a narration (type one or pick one)")).strip()
    if not text:
        raise gr.Error("Please type a narration, e.g. \"the red disc moves left\".")
    if len(text) > MAX_QUERY:
        raise gr.Error(f"A narration is a short sentence: at most {MAX_QUERY} characters (this one has {len(text)}).")
    model, who = tab.model(mine)
    g = _gallery(tab)
    clip_emb = _gallery_emb(tab, model, mine)
    idx, sims = C.retrieve(C.embed_texts(model, [text]), clip_emb, k=5)
    known, unknown = C.known_words(text, model.config.max_words)
    meant = [e for e in range(len(C.EVENTS)) if text.lower() in [t.lower() for t in C.narrations(C.EVENTS[e])]]
    rows, labels, colours = [], [], []
    for rank, (i, v) in enumerate(zip(idx[0], sims[0])):
        rows.append(clip_strip(g["clips"][i]))
        hit = bool(meant) and int(g["events"][i]) in meant
        labels.append([f"#{rank + 1}, similarity {v:.2f}", f"shows: {C.describe(int(g['events'][i]))}"])
        colours.append(RIGHT if hit else (WRONG if meant else "#ffffff"))
    picture = labelled_rows(rows, labels, colours)
    lines = [f"**Query:** \"{text}\", answered by {who} among {len(g['events'])} held-out clips "
             "(one of every action, never trained on)."]
    if meant:
        where = [int(np.flatnonzero(np.argsort(-(C.embed_texts(model, [text]) @ clip_emb.T)[0]) == e)[0]) + 1
                 for e in meant]
        lines.append(f"The clip it describes ranks **#{min(where)}** (green when in the top 5, red: wrong clips).")
    else:
        lines.append("A narration of your own: no clip is marked right or wrong; the top 5 show what it means "
                     "to the model.")
    if unknown:
        lines.append(f"Words the model never heard (read as unknown): {', '.join(unknown)}.")
    return picture, "\n\n".join(lines)


def train_live(tab: Tab, loss_name, level, steps, temperature, negatives, mine, progress=gr.Progress()):
    """Train either loss from scratch, briefly, in this visitor's session; held-out R@1/R@5 after."""
    if loss_name not in LOSS_NAMES:
        raise gr.Error(f"Unknown loss {loss_name!r}: choose one of {', '.join(LOSS_NAMES)}.")
    shift, unrelated = _level(level)
    steps = common.number(steps, "The number of steps", LIVE_STEPS[0], LIVE_STEPS[1], integer=True)
    temperature = common.number(temperature, "The temperature", 0.01, 2.0)
    negatives = common.number(negatives, "The number of negatives", 1, 63, integer=True)
    cfg = C.Config(loss=LOSS_NAMES[loss_name], shift=shift, unrelated=unrelated, steps=steps,
                   temperature=temperature, batch=negatives + 1, pool=48, warmup=min(100, steps // 5))
    model, history = C.train(cfg, steps, tab.device, progress=common.progress_callback(progress, "contrastive"),
                             log_every=1)
    r = C.retrieval(model, [_gallery(tab)])
    chance = 1 / len(C.EVENTS)
    fig = figures.curve_figure(history, keys=("loss", "acc"), title="live training (acc: nearest narration ranked "
                               "first in the batch)", chance=1 / (negatives + 1))
    msg = (f"Trained {loss_name} from scratch for {steps} steps at {level}, $\\tau$ = {temperature:g}, "
           f"{negatives} negatives per clip. On the held-out clips: **R@1 {r['r1']:.0%}, R@5 {r['r5']:.0%}** "
           f"(chance {chance:.1%} / {5 * chance:.0%}). {figures.change_sentence(history)} The retrieval and the batch above now use your model. "
           "Train the other loss with the same settings to compare: the same seed gives the same batches.")
    return Tab.yours(model, f"{loss_name}, {steps} live steps at {level}"), fig, msg


# --------------------------------------------------------------------- layout

EXAMPLE_QUERIES = ["the red disc moves left", "the blue triangle moves up", "the yellow cross moves down",
                   "the person throws the ball", "the person winds up", "cars drive along the road",
                   "the tree sways in the wind", "a man talks in the car", "a green square"]

CARD_ROWS = [
    ("shipped model (MIL-NCE, shift 3, 30% unrelated): R@1", "r1", "{:.1%}"),
    ("shipped model: R@5", "r5", "{:.1%}"),
    ("same network at random init: R@1", "r1_random_init", "{:.1%}"),
    ("chance: R@1 / R@5", "chance_r1", "{:.1%}"),
    ("sweep, strongest misalignment: InfoNCE R@1 (mean over seeds)", "infonce_r1", "{:.1%}"),
    ("  spread (std over seeds)", "infonce_r1_std", "{:.1%}"),
    ("sweep, strongest misalignment: MIL-NCE R@1", "milnce_r1", "{:.1%}"),
    ("  spread", "milnce_r1_std", "{:.1%}"),
    ("MIL-NCE minus InfoNCE, R@1 (paired by seed)", "milnce_minus_infonce_r1", "{:+.1%}"),
    ("  spread", "milnce_minus_infonce_r1_std", "{:.1%}"),
    ("sweep, aligned narration: InfoNCE R@1", "infonce_r1_level0", "{:.1%}"),
    ("sweep, aligned narration: MIL-NCE R@1", "milnce_r1_level0", "{:.1%}"),
]


# one line on what the shipped model learned from (its card's data section, in words)
SEEN = ("generated narrated videos (shapes crossing a background, a stick figure's throw) and about a second "
        'of 5 bundled train clips, narrated from a small vocabulary; measured on held-out galleries of such '
        'clips.')


def build(device="cpu") -> None:
    tab = Tab(METHOD, device)
    if not tab.header(INTRO, seen=SEEN):
        return
    mine = tab.state()
    card = core_common.read_card(METHOD) or {}
    metrics = card.get("metrics", {})

    gr.Markdown("#### 1. A batch, as the loss sees it")
    with gr.Row():
        with gr.Column(scale=1):
            level = gr.Dropdown(LEVEL_NAMES, value=LEVEL_NAMES[-1], label="misalignment of the narration",
                                elem_id="contrastive-level")
            loss = gr.Radio(list(LOSS_NAMES), value=list(LOSS_NAMES)[0], label="loss", elem_id="contrastive-loss")
            temperature = gr.Slider(0.02, 1.0, value=0.1, step=0.01, label="temperature tau",
                                    elem_id="contrastive-temperature")
            negatives = gr.Slider(1, 15, value=7, step=1, label="negatives per clip (batch size - 1)",
                                  elem_id="contrastive-negatives")
            seed = gr.Number(value=0, precision=0, minimum=0, label="batch seed", elem_id="contrastive-seed")
            go = gr.Button("Draw a batch and score it", variant="primary", elem_id="contrastive-batch")
        with gr.Column(scale=2):
            batch_pic = gr.Image(label="the batch: each clip (4 of its 8 frames) and the narration "
                                 "nearest in time", format="png", interactive=False, elem_id="contrastive-clips")
            batch_txt = gr.Markdown(latex_delimiters=common_latex(), elem_id="contrastive-batch-text")
    with gr.Row():
        # side by side on a projector, one under the other on a phone
        matrix = gr.Plot(label="similarity matrix", elem_id="contrastive-matrix", min_width=figures.PHONE_PLOT)
        curves = gr.Plot(label="the controls' effect on this batch", elem_id="contrastive-curves",
                         min_width=figures.PHONE_PLOT)
    gr.Markdown("Caption colours: green, the nearest narration describes the clip; blue, it does not but "
                "another narration of the bag does; red, none of the bag does.", elem_classes="ssl-note")
    go.click(tab.handler(show_batch), [level, loss, temperature, negatives, seed, mine],
             [batch_pic, matrix, curves, batch_txt], api_name="contrastive_batch")
    tab.arrive(show_batch, (LEVEL_NAMES[-1], list(LOSS_NAMES)[0], 0.1, 7, 0, None), [batch_pic, matrix, curves, batch_txt])

    gr.Markdown("#### 2. Narration to clip: retrieval on held-out clips")
    with gr.Row():
        with gr.Column(scale=1):
            query = gr.Textbox(value=EXAMPLE_QUERIES[0], label="a narration (type one, or pick below)",
                               elem_id="contrastive-query")
            gr.Examples([[q] for q in EXAMPLE_QUERIES], inputs=[query], label="narrations")
            find = gr.Button("Find the clips", variant="primary", elem_id="contrastive-find")
        with gr.Column(scale=2):
            found = gr.Image(label="the 5 most similar held-out clips", format="png", interactive=False,
                             elem_id="contrastive-found")
            found_txt = gr.Markdown(elem_id="contrastive-found-text")
    find.click(tab.handler(retrieve), [query, mine], [found, found_txt], api_name="contrastive_retrieve")
    query.submit(tab.handler(retrieve), [query, mine], [found, found_txt], api_name="contrastive_retrieve_submit")
    tab.arrive(retrieve, (EXAMPLE_QUERIES[0], None), [found, found_txt], name="found_arrival")

    gr.Markdown("#### 3. The lecture's point, measured: retrieval as the narration drifts out of step")
    tab.later(gr.Plot(label="held-out R@1 and R@5 against misalignment", elem_id="contrastive-sweep"),
              lambda: sweep_figure(metrics), "sweep_arrival")
    gr.Markdown(_sweep_words(metrics))
    with gr.Accordion("The model card", open=False):
        gr.Markdown(common.card_markdown(METHOD, rows=CARD_ROWS))

    with gr.Accordion("Train it live", open=False):
        gr.Markdown(f"Train either loss from scratch on freshly rendered narrated videos, {LIVE_STEPS[0]}-"
                    f"{LIVE_STEPS[1]} steps (about 4 steps a second on one CPU thread), in your session only; "
                    "then sections 1 and 2 use your model. The same settings give both losses the same batches.")
        with gr.Row():
            t_loss = gr.Radio(list(LOSS_NAMES), value=list(LOSS_NAMES)[0], label="loss", elem_id="contrastive-t-loss")
            t_level = gr.Dropdown(LEVEL_NAMES, value=LEVEL_NAMES[-1], label="misalignment",
                                  elem_id="contrastive-t-level")
        with gr.Row():
            steps = gr.Slider(LIVE_STEPS[0], LIVE_STEPS[1], value=LIVE_STEPS[2], step=10, label="steps",
                              elem_id="contrastive-steps")
            t_temp = gr.Slider(0.02, 1.0, value=0.1, step=0.01, label="temperature tau", elem_id="contrastive-t-temp")
            t_neg = gr.Slider(1, 63, value=31, step=1, label="negatives per clip", elem_id="contrastive-t-neg")
        with gr.Row():
            train_btn = gr.Button("Train", variant="primary", elem_id="contrastive-train")
            forget_btn = gr.Button("Use the shipped model again", elem_id="contrastive-forget")
        curve = gr.Plot(label="loss and batch accuracy", elem_id="contrastive-curve")
        train_msg = gr.Markdown(elem_id="contrastive-train-msg", latex_delimiters=common_latex())
    train_btn.click(tab.handler(train_live), [t_loss, t_level, steps, t_temp, t_neg, mine], [mine, curve, train_msg],
                    api_name="contrastive_train")
    forget_btn.click(tab.forget, [mine], [mine, train_msg], api_name="contrastive_forget")


def common_latex():
    from demos.tab import LATEX
    return LATEX


def _sweep_words(m: dict) -> str:
    if "milnce_minus_infonce_r1" not in m:
        return "_The sweep appears here once `python -m core.train contrastive` has written the model card._"
    return (f"At the strongest misalignment (shift {m['strongest_level_shift']:g}, "
            f"{m['strongest_level_unrelated']:.0%} unrelated) MIL-NCE retrieves the right held-out clip first "
            f"**{m['milnce_r1']:.0%}** of the time (std {m['milnce_r1_std']:.0%} over {m['sweep_seeds']} seeds), "
            f"InfoNCE **{m['infonce_r1']:.0%}** (std {m['infonce_r1_std']:.0%}): MIL-NCE ahead by "
            f"**{m['milnce_minus_infonce_r1']:+.0%}** (std {m['milnce_minus_infonce_r1_std']:.0%}, smallest "
            f"{m['milnce_minus_infonce_r1_min']:+.0%}); chance {m['chance_r1']:.1%}. "
            + (f"With aligned narration the order flips (InfoNCE {m['infonce_r1_level0']:.0%}, MIL-NCE "
               f"{m['milnce_r1_level0']:.0%}): a bag of 5 then holds 4 wrong positives, which cost more than they "
               "save. " if m["infonce_r1_level0"] > m["milnce_r1_level0"] else "")
            + f"Each loss trained {m['sweep_steps']} steps from each of {m['sweep_seeds']} seeds on the same "
            "batches (dots: single seeds; bars: std). Under each level: how often the narration nearest in time "
            "describes the clip, and how often the bag of 5 holds one that does.")


if __name__ == "__main__":
    common.launch_alone(build, "Contrastive")
