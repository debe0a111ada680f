"""The Sequence sort tab: shuffle four frames of a clip and watch the network put them back in order.

The handlers read the clip, ask core.sequence_sort for the motion-aware window
and the order probabilities, and turn the numpy results into strips of
frames, plots and words. No torch here.
"""
from __future__ import annotations

import itertools
import os

import gradio as gr
import numpy as np

from core import stages
from core import sequence_sort as ss
from demos import common, figures
from demos.tab import Tab

METHOD = "sequence_sort"
LETTERS = "ABCD"
ALL_ORDERS = [" ".join(str(i + 1) for i in p) for p in itertools.permutations(range(4))]
RANDOM = "random"
LIVE_STEPS_MAX = 400

SUMMARY = r"""
### Sequence sort: put four shuffled frames of a clip back in order
Four frames from a moment where something moves are shuffled; the network names their order (an order and
its reverse count as one: 12 classes). Nobody labels anything: the clip's own time is the answer
(Lee et al., ICCV 2017; Misra et al., ECCV 2016).
"""

IDEA = r"""
Take four frames from a moment of a clip where something moves, shuffle them, and ask the
network which order it is looking at. Nobody labels anything: the clip's own time is the
answer. A clip played backwards is often as plausible as forwards, so an order and its
reverse count as one answer: **12 classes** for the 24 ways to shuffle four frames.
To sort frames the network has to find *what* moved and *where to*; those features then serve
downstream tasks (here: telling which way an object moves, or its shape, with a linear probe).

$$p(k \mid x_{\pi}) = \mathrm{softmax}_k\Big(W\,\big[\,g(f(x_{\pi_i}), f(x_{\pi_j}))\,\big]_{(i,j) \in \{12,23,34,13,24,14\}}\Big),
\qquad \mathcal{L} = -\log p\big(k(\pi) \mid x_\pi\big),\quad k(\pi) = k(\pi^{\mathrm{rev}})$$

$f$ is one frame trunk shared by the four frames, $g$ the pairwise module applied to each of
the 6 frame pairs, $W$ the 12-way classifier. The slide's key aspects, all in this model:
**motion-aware sampling** (tuples come from windows with high frame-difference energy, never
across a scene cut), **channel splitting** (in training each frame keeps one random colour
channel, so colour drift cannot date a frame) with **per-frame spatial jitter** (so absolute
pixel positions cannot be compared), and **pairwise features**.
Shuffle & Learn's binary question (*is this triplet in order?*) is a second head on the same
features.

*Lee, Huang, Singh & Yang, Unsupervised Representation Learning by Sorting Sequences, ICCV 2017
(OPN); Misra, Zitnick & Hebert, Shuffle and Learn, ECCV 2016.*
"""

CARD_ROWS = [
    ("12-way sorting, held-out real clips (bikes, city): learned", "real_top1", "{:.1%}"),
    ("... counting the backwards clip's class as right too", "real_top1_either_direction", "{:.1%}"),
    ("... random-init network", "real_top1_random_init", "{:.1%}"),
    ("... no learning: chain the most similar frames", "real_top1_pixel_path", "{:.1%}"),
    ("12-way sorting, 18 real clips from 5 packages no training read (physics films, faces, a dog, a diver, "
     "a Lego machine): learned", "heldout_real_top1", "{:.1%}"),
    ("... random-init network", "heldout_real_top1_random_init", "{:.1%}"),
    ("... no learning: chain the most similar frames", "heldout_real_top1_pixel_path", "{:.1%}"),
    ("12-way sorting, held-out sprite clips: learned", "synthetic_top1", "{:.1%}"),
    ("... counting the backwards clip's class as right too", "synthetic_top1_either_direction", "{:.1%}"),
    ("... random-init network", "synthetic_top1_random_init", "{:.1%}"),
    ("... no learning: chain the most similar frames", "synthetic_top1_pixel_path", "{:.1%}"),
    ("best possible without knowing the arrow of time", "direction_blind_ceiling", "{:.1%}"),
    ("chance", "chance", "{:.1%}"),
    ("Shuffle & Learn verification, real (balanced accuracy; chance 50%)", "real_verify_acc", "{:.1%}"),
    ("Shuffle & Learn verification, sprites", "synthetic_verify_acc", "{:.1%}"),
    ("**linear probe on the frozen frame trunk: which way a sprite moves (4 ways, chance 25%): learned**",
     "probe_direction", "{:.1%}"),
    ("... same probe on a random-init trunk", "probe_direction_random_init", "{:.1%}"),
    ("linear probe: sprite shape (6 ways, chance 17%): learned", "probe_shape", "{:.1%}"),
    ("... random-init trunk", "probe_shape_random_init", "{:.1%}"),
]

LESSON = """
**Reading these numbers.** On windows with clear motion, simply chaining the most similar frames
(no learning at all) already sorts almost every tuple up to the direction of time: the pretext task
is easy *in pixels*, which is why OPN fights low-level shortcuts with channel splitting and jitter. A
high pretext score is not the goal; the point is what the trunk learns on the way, measured by the
probe. And 2/3 is a ceiling for any sorter that cannot tell forwards from backwards: OPN's 12
classes merge a shuffle with its mirror image (A B C D read right to left), not with the same shuffle
of the clip played backwards; the two look identical when motion is reversible, yet differ in class
for 16 of the 24 shuffles.
"""


# --------------------------------------------------------------------- pictures

@figures.cached_plot
def energy_figure(energy: np.ndarray, start: int, stride: int, cuts: np.ndarray, fps: float):
    fig = figures.new_figure(5.6, 3.0)
    ax = fig.add_subplot()
    t = (np.arange(len(energy)) + 0.5) / fps
    ax.plot(t, energy * 100, color="#333333", lw=1.2, label="frame difference")
    for c in np.flatnonzero(cuts):
        ax.axvline(t[c], color="tab:red", ls=":", lw=1)
    ax.axvspan(start / fps, (start + 3 * stride) / fps, color="tab:orange", alpha=0.3, label="sampled window")
    for k in range(4):
        ax.axvline((start + k * stride) / fps, color="tab:orange", lw=1)
    ax.set_xlabel("time (s)" + ("   red dotted: scene cut, skipped" if cuts.any() else ""))
    ax.set_ylabel("motion energy (%)")
    ax.legend(loc="upper right")
    ax.set_title("motion-aware sampling: where does something move?")
    return fig


# --------------------------------------------------------------------- logic

def read_clip(path):
    """The clip, decoded once per file (every click on an example re-reads it)."""
    v = common.cached_video_input(path, max_side=240)
    if len(v.frames) < 4:
        raise gr.Error(f"This clip has {len(v.frames)} frames; sorting needs at least 4. "
                       f"Please provide {common.media.ACCEPTED_VIDEO}.")
    return v


def parse_order(choice: str | None, seed: int) -> tuple[int, ...]:
    """The shown order: original frame index at each position. "random" draws one (never the identity)."""
    if not choice or choice == RANDOM:
        rng = np.random.default_rng(common.number(seed, "The shuffle seed", 0, integer=True))
        perms = [p for p in itertools.permutations(range(4)) if p not in ((0, 1, 2, 3), (3, 2, 1, 0))]
        return perms[int(rng.integers(len(perms)))]
    try:
        perm = tuple(int(c) - 1 for c in choice.split())
        ss.order_class(perm)
    except ValueError:
        raise gr.Error(f"An order is four distinct numbers 1-4, like '3 1 4 2'; got {choice!r}.") from None
    return perm


def sort_clip(tab: Tab, path, stride_choice, order_choice, seed, mine):
    v = read_clip(path)
    frames = v.frames
    stride = None if stride_choice in (None, "auto") else common.number(stride_choice, "The frame gap (stride)", 1,
                                                                     integer=True)
    if stride and 3 * stride >= len(frames):
        raise gr.Error(f"A stride of {stride} needs at least {3 * stride + 1} frames; this clip has {len(frames)}.")
    stages.now("core")                  # the window with the most motion, then the network's answer
    start, stride = ss.pick_window(frames, stride)
    window = frames[start:start + 3 * stride + 1:stride]
    perm = parse_order(order_choice, seed)
    shown = window[list(perm)]
    model, who = tab.model(mine)
    probs = ss.predict(model, shown)
    truth, backwards = ss.order_class(perm), ss.time_reversed_class(perm)
    k = int(np.argmax(probs))
    right = k == truth
    stages.now("figures")
    energy = ss.motion_energy(frames)
    fig_e = energy_figure(energy, start, stride, ss.scene_cuts(energy), v.fps)
    sampled = figures.strip(window, [f"{i + 1}  t={(start + i * stride) / v.fps:.2f}s" for i in range(4)])
    shuffled = figures.strip(shown, [LETTERS[j] for j in range(4)])
    # Class k means: the strip shows frames ORDERS[k], or ORDERS[k] reversed. Lay the frames out as
    # the reading of k that best matches the truth, so a right answer reads 1 2 3 4 (or 4 3 2 1).
    readings = [ss.sorted_positions(k, flipped) for flipped in (False, True)]
    times = [[perm[j] for j in r] for r in readings]
    best = next((i for i, t in enumerate(times) if t in ([0, 1, 2, 3], [3, 2, 1, 0])), 0)
    order = readings[best]
    good = {i: figures.verdict_colour(right, k == backwards) for i in range(4)}
    answer = figures.strip(shown[order], [f"{LETTERS[j]} (frame {perm[j] + 1})" for j in order], colours=good)
    labels = [f"{ss.order_name(o)} or {ss.order_name(o[::-1])}" for o in ss.ORDERS]
    fig_p = figures.bar_figure(labels, probs.tolist(), answer=k, truth=truth, near=k == backwards,
                               title="which frames does A B C D show? (12 classes)", xlabel="probability")
    stages.now("other")
    shown_name = ss.order_name(perm)
    if right:
        head = "**Right.**"
    elif k == backwards:
        head = ("**Wrong, but only about the arrow of time.** The network put the frames in a consistent "
                "order, the one the clip would have if played backwards. The 12 classes merge a shuffle with "
                "its mirror image (A B C D read right to left), not with the backwards clip, so for motion that "
                "looks the same both ways (a pan, a drifting sprite) no sorter can tell these two apart.")
    else:
        head = "**Wrong.**"
    verdict = (f"{head} A B C D show frames **{shown_name}**, class *{labels[truth]}* "
               f"(probability {probs[truth]:.0%}). {who.capitalize()} answers *{labels[k]}* with "
               f"{probs[k]:.0%} confidence (chance {ss.CHANCE:.0%}). "
               f"Window: frames {start + 1}-{start + 3 * stride + 1}, every {stride} "
               f"({stride / v.fps:.2f} s apart), chosen for its motion energy. "
               + held_out_rate())
    notes = common.notes_text(v.notes)
    return fig_e, sampled, shuffled, answer, fig_p, verdict + ("\n\n" + notes if notes else "")


def verify_triplet(tab: Tab, path, which, seed, mine):
    v = read_clip(path)
    start, stride = ss.pick_window(v.frames, None)
    window = v.frames[start:start + 3 * stride + 1:stride]
    trip, label = ss.triplet_question(np.random.default_rng(common.number(seed, "The triplet seed", 0, integer=True)),
                                      which == "in order")
    truth = bool(label)
    model, who = tab.model(mine)
    p = ss.verify(model, window[list(trip)])
    says = p >= 0.5
    right = says == truth
    img = figures.strip(window[list(trip)], [f"frame {i + 1}" for i in trip],
                        colours={i: figures.verdict_colour(right) for i in range(3)})
    text = (f"**{'Right' if right else 'Wrong'}.** Shown: frames {trip[0] + 1}, {trip[1] + 1}, {trip[2] + 1} "
            f"({'in order' if truth else 'out of order'}). {who.capitalize()} says "
            f"**{'in order' if says else 'out of order'}** (P(in order) = {p:.0%}). "
            "Shuffle & Learn counts a triplet as in order when its middle frame lies between the other two, "
            "forwards or backwards.")
    return img, text


def train_live(tab: Tab, path, use_clip, start_from, steps, mine, progress=gr.Progress()):
    steps = int(steps)
    if not 10 <= steps <= LIVE_STEPS_MAX:
        raise gr.Error(f"Choose between 10 and {LIVE_STEPS_MAX} steps.")
    config = ss.Config(steps=steps, warmup=min(100, steps // 5), synth_pool=24, photos=0, long_sources=False,
                       p_real=0.0, p_photo=0.0, jitter_warmup=0.5)
    frames = None
    if use_clip:
        frames = read_clip(path).frames
    base = tab.shipped() if start_from == "the shipped model" else None
    model, history = ss.train(config, steps, tab.device, progress=common.progress_callback(progress, "training"),
                              model=base, frames=frames, log_every=1)
    fig = figures.curve_figure(history, keys=("loss", "acc", "verify_acc"), title="your training run",
                               chance=ss.CHANCE)
    src = "your clip" if frames is not None else "fresh sprite videos"
    msg = (f"Trained {steps} steps on {src}, starting from {start_from}. "
           f"{figures.change_sentence(history, ('loss', 'acc', 'verify_acc'))} (acc: 12-way, on training tuples; "
           f"chance {ss.CHANCE:.0%}.) The sort and verify buttons "
           "now use your model; *Forget my model* returns to the shipped one.")
    return Tab.yours(model, f"{steps} live steps from {start_from} on {src}"), fig, msg


def held_out_rate() -> str:
    """The model card's held-out sorting rate, to read one example's right or wrong against."""
    m = (common.core_common.read_card(METHOD) or {}).get("metrics", {})
    if "real_top1" not in m:
        return ""
    return (f"One tuple is right or wrong by luck: on held-out real clips this model sorts "
            f"**{m['real_top1']:.0%}** of tuples (chance {ss.CHANCE:.0%}).")


def reshuffle(tab: Tab, seed):
    return common.number(seed, "The shuffle seed", 0, integer=True) + 1


# --------------------------------------------------------------------- layout

def examples() -> list[list[str]]:
    """The bundled clips, the default first: one person walking across a still scene (clear motion of one
    object; a training clip, which the verdict says beside the held-out rate), then the held-out ones."""
    from core import sources
    rows = [[sources.example_path(sources.clip_info("cartwheel")["file"])]]
    rows += [[sources.example_path(sources.clip_info(n)["file"])] for n in ("bikes", "city")]      # held out
    gen = os.path.join(sources.EXAMPLES, METHOD, "sprites.mp4")
    if os.path.isfile(gen):
        rows.append([gen])
    rows += [[sources.example_path(sources.clip_info("pedestrians")["file"])]]
    return rows


# one line on what the shipped model learned from (its card's data section, in words)
SEEN = ('generated sprite clips (25% of tuples), virtual camera moves over 60 real photographs (35%) and the '
        '7 bundled train clips (40%); measured on bikes, city and 18 real clips of 5 packages it never read.')


def build(device) -> None:
    tab = Tab(METHOD, device)
    if not tab.header(SUMMARY, IDEA, seen=SEEN):
        return
    mine = tab.state()
    ex = examples()

    with gr.Row():
        with gr.Column(scale=2, min_width=240):
            video = gr.Video(label="your clip", value=ex[0][0], sources=["upload"],
                             elem_id="sequence_sort-video", elem_classes="ssl-input")
        with gr.Column(scale=3, min_width=300):
            with gr.Row():
                sort_btn = gr.Button("Shuffle and sort", variant="primary", elem_id="sequence_sort-sort")
                again_btn = gr.Button("Shuffle again", elem_id="sequence_sort-again")
            verdict = gr.Markdown(elem_id="sequence_sort-verdict")
    # the main result first: the frames in the order the network gave them
    answer = gr.Image(label="3. the network's order (green: right; amber: right but backwards; red: wrong)",
                      format="png", interactive=False, elem_id="sequence_sort-answer")
    shuffled = gr.Image(label="2. shuffled: what the network gets (it sees them in grey; in training, one colour "
                        "channel each)", format="png", interactive=False, elem_id="sequence_sort-shuffled")
    with gr.Row():
        probs = gr.Plot(label="4. the 12 order probabilities", elem_id="sequence_sort-probs", elem_classes="ssl-plot",
                        min_width=figures.PHONE_PLOT)
        energy_plot = gr.Plot(label="motion energy over the clip", elem_id="sequence_sort-energy",
                              elem_classes="ssl-plot", min_width=figures.PHONE_PLOT)
    sampled = gr.Image(label="1. the four frames as sampled, in time order", format="png", interactive=False,
                       elem_id="sequence_sort-sampled")
    gr.Examples(ex, inputs=[video], label="bundled clips (the first, a walk, was trained on; bikes, city "
                "and the sprites are held out: never trained on)")
    with gr.Accordion("Shuffle it yourself: the frame gap, the order, the seed", open=False):
        with gr.Row():
            stride = gr.Dropdown(["auto", "1", "2", "3"], value="auto", label="frame gap (stride)",
                                 elem_id="sequence_sort-stride")
            order = gr.Dropdown([RANDOM] + ALL_ORDERS, value=RANDOM, label="which frame goes to A B C D",
                                elem_id="sequence_sort-order")
            seed = gr.Number(value=0, precision=0, label="shuffle seed", minimum=0)

    with gr.Accordion("Shuffle & Learn: is this triplet in order?", open=True):
        with gr.Row():
            which = gr.Radio(["in order", "out of order"], value="out of order", label="show a triplet that is")
            vseed = gr.Number(value=0, precision=0, label="triplet seed", minimum=0)
            verify_btn = gr.Button("Ask", elem_id="sequence_sort-verify")
        triplet = gr.Image(label="the triplet", format="png", interactive=False, elem_id="sequence_sort-triplet")
        vtext = gr.Markdown(elem_id="sequence_sort-vtext")

    with gr.Accordion("What it learned, and what it is for", open=True):
        gr.Markdown("A linear classifier on the frozen frame trunk, trained with a few labels, tells which "
                    "way a sprite moves (from two frames) and which shape it is; the same probe on a "
                    "random-init trunk is the baseline. Sorting accuracy is measured on tuples from clips "
                    "that training never saw, over every shuffle of each window.")
        gr.Markdown(common.card_markdown(METHOD, CARD_ROWS), elem_id="sequence_sort-card")
        gr.Markdown(LESSON)

    with gr.Accordion("Train it live", open=False):
        with gr.Row():
            use_clip = gr.Checkbox(value=False, label="train on the clip above (else on fresh sprite videos)")
            start_from = gr.Radio(["scratch", "the shipped model"], value="scratch", label="start from")
            steps = gr.Slider(10, LIVE_STEPS_MAX, value=150, step=10, label="steps (batch of 32 tuples each)",
                              elem_id="sequence_sort-steps")
        with gr.Row():
            train_btn = gr.Button("Train", elem_id="sequence_sort-train")
            forget_btn = gr.Button("Forget my model")
        curve = gr.Plot(label="training curve", elem_id="sequence_sort-curve", elem_classes="ssl-plot")
        tmsg = gr.Markdown(elem_id="sequence_sort-train-msg")

    outs = [energy_plot, sampled, shuffled, answer, probs, verdict]
    sort_btn.click(tab.handler(sort_clip), [video, stride, order, seed, mine], outs, api_name="sequence_sort_sort")
    again_btn.click(tab.handler(reshuffle), [seed], [seed], api_name="sequence_sort_reshuffle").then(
        tab.handler(sort_clip), [video, stride, order, seed, mine], outs, api_name="sequence_sort_sort_again")
    verify_btn.click(tab.handler(verify_triplet), [video, which, vseed, mine], [triplet, vtext],
                     api_name="sequence_sort_verify")
    train_btn.click(tab.handler(train_live), [video, use_clip, start_from, steps, mine], [mine, curve, tmsg],
                    api_name="sequence_sort_train")
    forget_btn.click(tab.forget, [], [mine, tmsg], api_name="sequence_sort_forget")
    tab.arrive(sort_clip, (ex[0][0], "auto", RANDOM, 0, None), outs)
    tab.arrive(verify_triplet, (ex[0][0], "out of order", 0, None), [triplet, vtext], name="verify_arrival")
    tab.clears([video], outs[:-1] + [triplet, vtext], verdict,
               "A new clip: press **Shuffle and sort** (and **Ask** below for the triplet).")
    tab.playable(video)


if __name__ == "__main__":
    common.launch_alone(build, "Sequence sort")
