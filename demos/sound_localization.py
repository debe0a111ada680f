"""The Sound localization tab: does this sound belong to this frame, and where does it come from?

Runs AVOL-Net (core.sound_localization) over a clip with sound: the heatmap of
the learned model over time (the clip keeps the sound it heard), the spectrogram
of the second the network hears, correspondence over time, the same frame under
a random-init network, "swap the sound" (another clip's audio or silence) and
live training in the visitor's own state. No torch math here.
"""
from __future__ import annotations

import hashlib
import json
import os

import gradio as gr
import numpy as np

from core import stages
from core import sources, media
from core import sound_localization as sl
from demos import common, figures
from demos.tab import MINE, SHIPPED, Tab  # the model choice's words, which tests and bench use from here

METHOD = "sound_localization"
OWN, OTHER, SILENCE = "its own sound", "another clip's sound", "silence"
DEFAULT_T = 1.5             # the still the tab opens on (seconds): mid-clip, away from the stream's first second

SUMMARY = r"""
### Sound localization: does this sound belong to this frame, and where does it come from?
The network is only asked whether a second of sound and a frame belong together; because it compares the
sound with every place in the frame, its comparison map shows **where the sound comes from**, learned
without a single box (Arandjelović & Zisserman, ICCV 2017 / ECCV 2018).
"""

INTRO = r"""
*Objects that Sound*.

Video comes with its sound for free, and the two agree: a drum is seen where a drum is heard. The
network is asked one question, **does this sound belong to this frame?** Positives are a frame and
the second of audio around it; negatives pair the frame with the sound of another scene, half and
half. No one labels anything, yet to answer, the network has to learn what sounds (from the
spectrogram) and what could make it (in the picture), and because it compares the sound with
*every place* in the frame, the comparison map shows where the sound comes from.

**AVOL-Net, in words.** A vision trunk turns the frame into a 16 x 16 map of 32-d embeddings
$v_{xy}$; an audio trunk turns the log-spectrogram of one second (16 kHz, 32 ms window, 16 ms hop)
into one embedding $a$. Each place is compared with the sound, calibrated, squashed, and the best
place decides:

$$s_{xy} = \alpha\,\langle \hat v_{xy}, \hat a\rangle + \beta, \qquad
p = \max_{x,y}\ \sigma(s_{xy}), \qquad
\mathcal{L} = -\,y\log p - (1-y)\log(1-p)$$

The **max-pool is multiple-instance learning**: the frame is a bag of places, the bag is positive
when *some* place matches the sound, so only the best-matching place is pushed up. The map
$\sigma(s_{xy})$ is the localization: learned without ever being told where the sound came from.

Arandjelović & Zisserman, *Look, Listen and Learn*, ICCV 2017; *Objects that Sound*, ECCV 2018.
This small version (0.28M parameters, 64 px frames) was trained here on synthetic scenes whose six
object classes each have their own look and their own real CC0 recordings.
"""

CONTROL = """
**The control.** A heatmap that lights up whatever is salient, sound or no sound, is not localizing
(users of the original models report faces lighting up when nobody speaks). Swap the sound for
another clip's or for silence: the learned map should fade (its peak is the correspondence score),
and on the generated scenes it should jump to the object that now sounds.
"""


# --------------------------------------------------------------------- examples and inputs

def _generated_examples() -> list[dict]:
    path = sources.example_path(os.path.join(METHOD, "examples.json"))
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        return json.load(f)


def example_clips() -> dict[str, str]:
    """Name -> path of the bundled clips with sound: generated AV scenes first, then real clips."""
    out = {_generated_name(e): sources.example_path(e["file"]) for e in _generated_examples()}
    for c in sources.manifest()["clips"]:
        if c.get("has_audio"):
            out[f"{c['name']} (real)"] = sources.example_path(c["file"])
    for c in _real_examples():                  # real videos whose sound source is visible
        split = "trained on" if c["split"] == "train" else "held out"
        out[f"{c['name'].replace('_', ' ')} (real, {split})"] = sources.example_path(c["file"])
    return out


def _real_examples() -> list[dict]:
    path = sources.example_path("sound_localization/real/examples.json")
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        return json.load(f)


def read_clip(path) -> media.Video:
    """Decode a clip once per file (examples are read on every click)."""
    return common.cached_video_input(path, f"a video with a sound track ({media.ACCEPTED_VIDEO})")


def no_sound_error(name: str) -> gr.Error:
    return gr.Error(f"The clip {name!r} has no sound track, so there is nothing to localize. Please provide "
                    f"{media.ACCEPTED_VIDEO}, with sound, or pick a bundled clip; to see these frames "
                    f"with another sound, choose \"{OTHER}\" or \"{SILENCE}\".")


def pick_sound(video: media.Video, path, choice: str, other_name: str | None):
    """The audio the network hears and a phrase naming it: (audio or None for silence, rate, label, truth)."""
    if choice == OWN:
        if video.audio is None or video.audio.size == 0:
            raise no_sound_error(os.path.basename(os.fspath(path)))
        return video.audio, video.sample_rate, "its own sound", True
    if choice == SILENCE:
        return None, None, "silence", False
    if choice != OTHER:
        raise gr.Error(f"Unknown sound choice {choice!r}: choose {OWN!r}, {OTHER!r} or {SILENCE!r}.")
    clips = example_clips()
    if other_name not in clips:
        raise gr.Error(f"Pick the other clip from the list ({', '.join(clips)}).")
    other = read_clip(clips[other_name])
    if other.audio is None:
        raise no_sound_error(other_name)
    return other.audio, other.sample_rate, f"the sound of {other_name}", _name_of(path) == other_name


def _sounding(name: str) -> list[str]:
    """Per second, the class that sounds in the bundled generated clip `name` ('' in its silent second);
    [] for any other clip (its sound track says nothing about which object is heard)."""
    return next((e.get("sounding_per_second") or [] for e in _generated_examples() if _generated_name(e) == name),
                [])


def _generated_name(e: dict) -> str:
    return f"{e['name'].replace('_', ' ')} (generated)"


def truth_at(path, choice: str, other_name: str | None, label: str, t: float, same: bool) -> tuple[bool, str]:
    """Whether the sound heard at t belongs to the frame, and why. Exact for the generated scenes, whose
    examples.json says which object sounds each second: their silent second has nothing that sounds, and
    another generated scene's sound belongs when it is a class this scene shows (every scene draws its
    objects from the same six classes and recordings). same: the other clip is this one."""
    def at(per_second: list[str]) -> str | None:
        return per_second[min(int(t), len(per_second) - 1)] if per_second else None

    here = _sounding(_name_of(path))
    if choice == OWN or (choice == OTHER and same):
        if at(here) == "":
            return False, "no: this second of the clip is silent"
        return True, "yes: the frame with its own sound"
    if choice == OTHER:
        heard, shown = at(_sounding(other_name or "")), {c for c in here if c}
        if heard == "":
            return False, f"no: {label} is silent at {t:.1f} s"
        if heard and shown:
            if heard in shown:
                return True, f"yes: at {t:.1f} s {label} is a {heard}, and this scene shows a {heard}"
            return False, f"no: at {t:.1f} s {label} is a {heard}, and this scene shows none"
        return False, f"no: {label} was not made by this frame"
    return False, "no: nothing sounds"


# --------------------------------------------------------------------- pictures

def overlay(frames: np.ndarray, heat: np.ndarray, alpha: float = 0.65) -> np.ndarray:
    """Frames (T,H,W,3) uint8 with heat (T,H,W) in [0,1] coloured over them; weak heat stays transparent."""
    # sqrt: a weak map still shows faintly, a silent one hardly
    return figures.heat_overlay(frames, heat, weight=alpha * np.sqrt(np.clip(heat, 0, 1)))


def still_image(frame: np.ndarray, heat_learned: np.ndarray, heat_random: np.ndarray) -> np.ndarray:
    """The frame, the learned map over it and the random-init map over it, side by side."""
    return figures.side_by_side([frame, overlay(frame, heat_learned), overlay(frame, heat_random)])


@figures.cached_plot
def spectrogram_figure(audio, rate, t: float, label: str):
    fig = figures.new_figure(6.0, 3.2)
    ax = fig.add_subplot()
    if audio is None:
        ax.text(0.5, 0.5, "silence: nothing to show", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    window = sl.audio_windows(audio, rate, np.array([t]))[0]
    spec = sl.spectrogram(window, sl.SAMPLE_RATE)
    im = ax.imshow(spec, origin="lower", aspect="auto", cmap="magma", vmin=-90, vmax=0,
                   extent=(t - sl.SECONDS / 2, t + sl.SECONDS / 2, 0, sl.SAMPLE_RATE / 2000))
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (kHz)")
    ax.set_title(f"what the network hears at t = {t:.1f} s ({label})")
    fig.colorbar(im, ax=ax, label="dB")
    return fig


@figures.cached_plot
def score_figure(res: dict, res_random: dict, t: float, title: str):
    fig = figures.new_figure(6.0, 3.2)
    ax = fig.add_subplot()
    ax.plot(res["times"], res["score"], color=figures.ANSWER, marker=".", label="learned")
    ax.plot(res_random["times"], res_random["score"], color=figures.BASELINE, ls="--", label="random init")
    ax.axhline(0.5, color="grey", ls=":", lw=1)
    ax.axvline(t, color="#333333", lw=1, label="the still")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("correspondence p")
    ax.set_title(title)
    ax.legend(loc="lower right")
    return fig


# --------------------------------------------------------------------- handlers

def random_init(tab: Tab):
    """The baseline: the shipped network's shape at random init, built once."""
    return tab.once("random init", lambda: sl.random_init(tab.shipped().config, tab.device))


def localize(tab: Tab, path, choice, other_name, t, which, mine):
    """Heatmap over the clip with the chosen sound; the still at time t, learned beside random init."""
    video = read_clip(path)
    audio, rate, label, truth = pick_sound(video, path, choice, other_name)
    model, who = tab.model(mine, which)
    stages.now("core")
    res = sl.localize_clip(model, video.frames, video.fps, audio, rate)
    duration = len(video.frames) / video.fps
    asked = common.number(0.0 if t is None else t, "The time of the still (seconds)")
    t = float(np.clip(asked, 0.0, max(0.0, duration - 1.0 / video.fps)))
    moved = (f"  \n_The clip is {duration:.1f} s long: the still is at {t:.1f} s, not {asked:.1f} s._"
             if abs(t - asked) > 0.05 else "")
    i = min(len(video.frames) - 1, int(round(t * video.fps)))
    stages.now("baselines")
    baseline = random_init(tab)
    sound = None if audio is None else hashlib.blake2b(np.ascontiguousarray(audio).tobytes()).hexdigest()
    res_random, heat_random = tab.cached("random init", (common.file_key(path), sound, rate, i, t), lambda: (
        sl.localize_clip(baseline, video.frames, video.fps, audio, rate, max_points=12),
        sl.localize(baseline, video.frames[i], *_window(audio, rate, t))))
    heat_now = res["heat_all"][i]
    p = float(np.interp(t, res["times"], res["score"]))
    p_random = float(np.interp(t, res_random["times"], res_random["score"]))
    stages.now("figures")
    out_audio = audio if audio is not None else np.zeros(int(duration * sl.SAMPLE_RATE), np.float32)
    out_rate = rate or sl.SAMPLE_RATE
    path_out = media.save_video(overlay(video.frames, res["heat_all"]), video.fps, out_audio, out_rate,
                                name="localized.mp4")
    said = "yes" if p >= 0.5 else "no"
    truth, truth_txt = truth_at(path, choice, other_name, label, t, truth)
    right = (p >= 0.5) == truth
    verdict = (
        f"**Asked:** does {label} belong to this frame at t = {t:.1f} s?  \n"
        f"**Answered ({who}):** {said}, p = {p:.2f} (confidence {max(p, 1 - p):.0%}), "
        f"{'right' if right else 'wrong'}; the truth by construction is {truth_txt}.  \n"
        f"**Random init on the same input:** p = {p_random:.2f}.  \n"
        f"Heatmap peak at the still: learned {heat_now.max():.2f}, random init {heat_random.max():.2f}. "
        f"Mean correspondence over the clip: {np.mean(res['score']):.2f}."
        + moved
        + ("  \n" + common.notes_text(video.notes) if video.notes else "")
        + ("  \n_Note: on real footage the shipped model finds its own sound against silence 91% of the time "
           "but tells it from another real sound only 59% of the time (held-out real material, model card)._"
           if "(real" in _name_of(path) else ""))
    still = still_image(video.frames[i], heat_now, heat_random)
    spec = spectrogram_figure(audio, rate, t, label)
    curve = score_figure(res, res_random, t, f"correspondence over time ({label})")
    stages.now("other")
    return path_out, verdict, still, spec, curve


def train_live(tab: Tab, steps, start, use_clip, path, mine, progress=gr.Progress()):
    """Train for a bounded number of steps; returns (the visitor's model for their state, curve, summary)."""
    steps = int(steps)
    if not 5 <= steps <= 300:
        raise gr.Error("Choose between 5 and 300 steps.")
    base = None
    if start == "continue from the shipped model":
        base = tab.shipped()
    elif start == "continue from my model":
        base, _ = tab.model(mine, MINE)
    clips = None
    if use_clip:
        video = read_clip(path)
        if video.audio is None:
            raise no_sound_error(os.path.basename(os.fspath(path)))
        clips = [(video.frames, video.fps, video.audio, video.sample_rate)]
        for other_path in example_clips().values():     # the other bundled clips give the negatives
            if os.path.abspath(other_path) != os.path.abspath(os.fspath(path)):
                v = read_clip(other_path)
                clips.append((v.frames, v.fps, v.audio, v.sample_rate))
    config = sl.Config(batch=16) if base is None else base.config
    model, history = sl.train(config, steps, tab.device, progress=common.progress_callback(progress, "training"),
                              model=base, clips=clips, photos=False, log_every=1)
    check = sl.quick_check(model, tab.device)
    fig = figures.curve_figure(history, keys=("loss", "acc"), title="your training run", chance=0.5)
    how = f"{'from scratch' if base is None else start.replace('continue ', '')}{', with this clip' if clips else ''}"
    text = (f"Trained {steps} steps ({how}). {figures.change_sentence(history)} "
            f"On {check['n']} held-out scenes: correspondence "
            f"accuracy {check['corr_acc']:.0%}, pointing game {check['pointing']:.0%}. "
            f"Choose \"{MINE}\" above to localize with it.")
    return Tab.yours(model, f"{steps} live steps {how}"), fig, text


def clip_length(tab: Tab, path):
    """The time slider for a new clip: it runs to the clip's last frame."""
    if not path:
        return gr.update()
    try:
        video = read_clip(path)
    except Exception:  # noqa: BLE001  (the button says what is wrong with the file)
        return gr.update()
    end = max(0.1, round(len(video.frames) / video.fps - 1.0 / video.fps, 1))
    return gr.update(maximum=end, value=min(DEFAULT_T, end))


def _window(audio, rate, t):
    """The (audio, rate) the network hears at time t: the second centred at t (silence when None)."""
    if audio is None:
        return sl.silence(np.random.default_rng(0)), sl.SAMPLE_RATE
    return sl.audio_windows(audio, rate, np.array([t]))[0], sl.SAMPLE_RATE


def _name_of(path) -> str:
    """The bundled clip's name, by content: in the app a picked example reaches the handler as gradio's
    cached copy, under another path."""
    if not path:
        return ""
    try:
        key = common.file_key(path)
        for name, p in example_clips().items():
            if os.path.isfile(p) and os.path.getsize(p) == key[0] and common.file_key(p) == key:
                return name
    except OSError:
        pass
    return ""


CARD_ROWS = [
    ("real: own sound vs silence (held-out videos and pictures)", "real_corr_acc_silence", "{:.3f}"),
    ("real: own sound vs another real sound", "real_corr_acc", "{:.3f}"),
    ("real: pointing game on side-by-side real scenes", "real_pointing", "{:.3f}"),
    ("... random init", "real_pointing_random_init", "{:.3f}"),
    ("... centre prior", "real_pointing_centre_prior", "{:.3f}"),
    ("correspondence accuracy (chance 0.50)", "corr_acc", "{:.3f}"),
    ("... random init", "corr_acc_random_init", "{:.3f}"),
    ("... negatives from any other scene", "corr_acc_any_negative", "{:.3f}"),
    ("pointing game, 2-3 objects", "pointing", "{:.3f}"),
    ("... random init", "pointing_random_init", "{:.3f}"),
    ("... centre prior", "pointing_centre_prior", "{:.3f}"),
    ("IoU of the thresholded map", "iou", "{:.3f}"),
    ("... random init", "iou_random_init", "{:.3f}"),
    ("... centre prior", "iou_centre_prior", "{:.3f}"),
    ("peak of the map, own sound", "peak_own_audio", "{:.3f}"),
    ("peak, mismatched sound", "peak_mismatched_audio", "{:.3f}"),
    ("peak, silence", "peak_silent_audio", "{:.3f}"),
    ("silence scored 'no match'", "silent_rejected", "{:.3f}"),
]


# --------------------------------------------------------------------- layout

# one line on what the shipped model learned from (its card's data section, in words)
SEEN = ('generated scenes (half of each batch) and real composites: faces with recorded and spoken speech, '
        'photographed animals and instruments with their recordings, 2 real videos with their sound; measured '
        'on other people, voices, animals and videos.')


def build(device) -> None:
    """Lay out the tab inside the current gr.Tab (the model loads on first use)."""
    tab = Tab(METHOD, device)
    if not tab.header(SUMMARY, INTRO, seen=SEEN):
        return
    clips = example_clips()
    names = list(clips)
    default = clips[names[0]] if names else None
    other_default = next((n for n in names if "(real)" in n), names[-1] if names else None)
    with gr.Row():
        with gr.Column(scale=1):
            video_in = gr.Video(value=default, label="a clip with sound (upload or pick below)",
                                sources=["upload"], elem_id=f"{METHOD}-video", elem_classes="ssl-input")
            sound = gr.Radio([OWN, OTHER, SILENCE], value=OWN, label="swap the sound",
                             elem_id=f"{METHOD}-sound")
            other = gr.Dropdown(names, value=other_default, label=f"the other clip (for \"{OTHER}\")",
                                elem_id=f"{METHOD}-other")
            length = clip_length(tab, default) if default else {}
            t = gr.Slider(0, length.get("maximum", 10), value=DEFAULT_T, step=0.1,
                          label="time of the still and of the spectrogram (s)", elem_id=f"{METHOD}-time")
            which = tab.choice()
            run = gr.Button("Localize the sound", variant="primary", elem_id=f"{METHOD}-run")
        with gr.Column(scale=2):
            verdict = gr.Markdown(elem_id=f"{METHOD}-verdict")
            still = gr.Image(label="the still at time t: frame | learned map | random-init map", format="png",
                             height=240, elem_id=f"{METHOD}-still")
            video_out = gr.Video(label="the heatmap over time, with the sound the network heard",
                                 height=300, elem_id=f"{METHOD}-overlay", autoplay=False)
    with gr.Row():
        spec = gr.Plot(label="spectrogram of the window in use", elem_id=f"{METHOD}-spectrogram",
                       elem_classes="ssl-plot", min_width=figures.PHONE_PLOT)
        curve = gr.Plot(label="correspondence over time", elem_id=f"{METHOD}-curve", elem_classes="ssl-plot",
                        min_width=figures.PHONE_PLOT)
    gr.Examples([[clips[n], OWN, other_default] for n in names]
                + ([[default, OTHER, other_default], [default, SILENCE, other_default]] if default else []),
                inputs=[video_in, sound, other], label="bundled clips with sound (generated scenes, real clips)")
    gr.Markdown(CONTROL)
    mine = tab.state()
    with gr.Accordion("What it is for, and the measured numbers", open=True):
        gr.Markdown(
            "Localization for free: the map finds the sounding object among several without a single box or "
            "mask in training. Measured on held-out synthetic scenes (new seeds; half on photos no training set "
            "used), against the same network at random init and a centre prior:\n\n"
            + common.card_markdown(METHOD, CARD_ROWS), elem_id=f"{METHOD}-card")
    with gr.Accordion("Train it live", open=False):
        gr.Markdown("The pretext task needs no labels: the model learns from synthetic scenes and, if you tick "
                    "the box, from this clip's own sound (its negatives are the other bundled clips' sounds). "
                    "Your model stays in your session only.")
        with gr.Row():
            steps = gr.Slider(5, 300, value=80, step=5, label="steps (about 0.2-0.5 s each on a CPU)",
                              elem_id=f"{METHOD}-steps")
            start = gr.Radio(["from scratch", "continue from the shipped model", "continue from my model"],
                             value="from scratch", label="start", elem_id=f"{METHOD}-start")
            use_clip = gr.Checkbox(value=False, label="also learn from this clip's sound", elem_id=f"{METHOD}-useclip")
        train_btn = gr.Button("Train", elem_id=f"{METHOD}-train")
        train_curve = gr.Plot(label="loss and accuracy, every step", elem_id=f"{METHOD}-train-curve",
                              elem_classes="ssl-plot")
        train_text = gr.Markdown(elem_id=f"{METHOD}-train-text")

    run.click(tab.handler(localize), [video_in, sound, other, t, which, mine],
              [video_out, verdict, still, spec, curve], api_name="sound_localization_localize")
    if default:
        tab.arrive(localize, (default, OWN, other_default, DEFAULT_T, SHIPPED, None),
                   [video_out, verdict, still, spec, curve])
    tab.clears([video_in, sound], [video_out, still, spec, curve], verdict,
               "A new clip or sound: press **Localize the sound**.")
    video_in.change(tab.handler(clip_length), [video_in], [t], api_name="sound_localization_clip_length",
                    show_progress="hidden")
    tab.playable(video_in)
    train_btn.click(tab.handler(train_live), [steps, start, use_clip, video_in, mine],
                    [mine, train_curve, train_text], api_name="sound_localization_train")


if __name__ == "__main__":
    common.launch_alone(build, "Sound localization")
