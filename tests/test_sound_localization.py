"""Sound localization (AVOL-Net): spectrogram, model, loss, sampler, contract, a short training run, the tab."""
from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from core import synthetic
from core import sound_localization as sl

torch.set_num_threads(1)
HAVE_WEIGHTS = os.path.isfile(os.path.join(os.path.dirname(os.path.dirname(__file__)), "assets", "models",
                                           "sound_localization.pt"))


@pytest.fixture(scope="module")
def model():
    return sl.random_init(sl.Config(), "cpu", seed=0)


def tone(freq: float, seconds: float = 1.0, rate: int = sl.SAMPLE_RATE, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


# --------------------------------------------------------------------- spectrogram

def test_spectrogram_of_a_pure_tone_peaks_in_its_bin_at_its_level():
    k = 32                                               # 32 * 16000 / 512 = 1000 Hz
    freq = k * sl.SAMPLE_RATE / sl.N_FFT
    spec = sl.log_spectrogram(torch.from_numpy(tone(freq, amp=0.5))[None])[0].numpy()
    assert spec.shape == (sl.N_BINS, sl.N_FRAMES) == (257, 63)
    inner = spec[:, 2:-2]                                # frames whose window lies inside the signal
    assert (inner.argmax(0) == k).all()
    # a sine of amplitude A centred on a bin reads 20 log10(A) dB
    assert np.allclose(inner[k], 20 * math.log10(0.5), atol=0.05)
    # the Hann window's side lobes fall fast: two bins away is far below the peak
    assert (inner[k + 3] < inner[k] - 30).all()
    assert spec.min() >= sl.DB_FLOOR


def test_spectrogram_of_silence_is_at_the_floor_and_tone_resampled_from_48k_keeps_its_bin():
    assert (sl.log_spectrogram(torch.zeros(1, sl.N_SAMPLES)) == sl.DB_FLOOR).all()
    spec = sl.spectrogram(tone(2000.0, rate=48000), 48000)
    assert spec.shape == (257, 63)
    assert (spec[:, 2:-2].argmax(0) == 64).all()         # 2000 Hz / 31.25 Hz


# --------------------------------------------------------------------- model

def test_model_shapes(model):
    x = torch.rand(3, 3, 64, 64)
    a = torch.randn(5, sl.N_SAMPLES) * 0.1
    assert model.vision(x).shape == (3, 32, 16, 16)
    assert model.audio(a).shape == (5, 32)
    out = model(x, a[:3])                                      # frame i with sound i
    assert out["heat"].shape == out["sim"].shape == (3, 16, 16) and out["score"].shape == (3,)
    labels = torch.tensor([[1, 0, 0, -1, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, -1]])
    out = model(x, a, labels)                                  # every frame with every sound
    assert out["heat"].shape == (3, 5, 16, 16) and out["score"].shape == (3, 5) and out["loss"].ndim == 0
    assert torch.allclose(out["sim"][[0, 1, 2], [0, 1, 2]], model(x, a[:3])["sim"], atol=1e-5)
    # non-square frames keep their aspect: the map follows
    assert model.vision(torch.rand(1, 3, 64, 112)).shape == (1, 32, 16, 28)


def test_max_pool_score_is_the_heatmap_max_before_calibration(model):
    torch.manual_seed(0)
    with torch.no_grad():
        model.log_alpha.fill_(math.log(3.0))
        model.beta.fill_(-0.7)
        out = model(torch.rand(4, 3, 64, 64), torch.randn(4, sl.N_SAMPLES) * 0.1)
    sim = out["sim"].flatten(1)
    # max-pool of the raw similarity, then the calibration, is the score ...
    assert torch.allclose(out["score_logit"], 3.0 * sim.max(1).values - 0.7, atol=1e-5)
    # ... and, the calibration being monotone, the heatmap's maximum and its place
    assert torch.allclose(out["score"], out["heat"].flatten(1).max(1).values, atol=1e-6)
    assert (sim.argmax(1) == out["heat"].flatten(1).argmax(1)).all()
    # a naive loop over places agrees with the einsum
    v = torch.nn.functional.normalize(model.vision(torch.rand(1, 3, 64, 64)), dim=1)[0]
    a = torch.nn.functional.normalize(model.audio(torch.randn(1, sl.N_SAMPLES) * 0.1), dim=1)[0]
    naive = torch.stack([torch.stack([torch.dot(v[:, y, x], a) for x in range(16)]) for y in range(16)])
    assert naive.abs().max() <= 1 + 1e-5


def test_correspondence_loss_is_balanced_bce_ignoring_unknown_pairs():
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]])
    labels = torch.tensor([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    p = torch.sigmoid(logits)
    pos = [-math.log(p[0, 0]), -math.log(p[1, 1])]
    neg = [-math.log(1 - p[0, 1]), -math.log(1 - p[1, 0]), -math.log(1 - p[1, 2])]
    naive = (sum(pos) / len(pos) + sum(neg) / len(neg)) / 2
    assert abs(float(sl.correspondence_loss(logits, labels)) - float(naive)) < 1e-6
    # one positive and one negative: plain BCE
    assert abs(float(sl.correspondence_loss(torch.tensor([0.0, 0.0]), torch.tensor([1.0, 0.0]))) - math.log(2)) < 1e-6
    assert sl.balanced_accuracy(logits, labels) == 1.0
    assert sl.balanced_accuracy(torch.tensor([1.0, -1.0, 1.0, 1.0]), torch.tensor([1, 1, 0, 0])) == 0.25


def test_balanced_real_negatives_weigh_as_much_as_all_other_negatives():
    # frame 0 generated, frame 1 real; sound 0 generated, sounds 1 and 2 real (frame 1's own is sound 1)
    logits = torch.tensor([[2.0, -3.0, -4.0], [-2.0, 1.0, 0.5]])
    labels = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    real = torch.tensor([[False, False, False], [False, True, True]])
    p = torch.sigmoid(logits)
    pos = (-math.log(p[0, 0]) - math.log(p[1, 1])) / 2
    easy = [-math.log(1 - p[0, 1]), -math.log(1 - p[0, 2]), -math.log(1 - p[1, 0])]
    hard = -math.log(1 - p[1, 2])                          # the one real frame against another real sound
    plain = (pos + (sum(easy) + hard) / 4) / 2
    balanced = (pos + (sum(easy) / 3 + hard) / 2) / 2
    assert abs(float(sl.correspondence_loss(logits, labels)) - float(plain)) < 1e-6
    got = float(sl.correspondence_loss(logits, labels, real))
    assert abs(got - float(balanced)) < 1e-6 and abs(got - float(plain)) > 0.05
    # real pairs that are positives only: the plain loss
    only_pos = torch.tensor([[False, False, False], [False, True, False]])
    assert abs(float(sl.correspondence_loss(logits, labels, only_pos)) - float(plain)) < 1e-6


def test_real_batch_marks_real_frame_real_sound_pairs():
    from core.sound_localization import data

    rng = np.random.default_rng(0)
    gen = [(np.zeros((8, 8, 3), np.uint8), np.zeros(sl.N_SAMPLES, np.float32), [c], c) for c in (0, 1)]
    real = [(np.zeros((8, 8, 3), np.uint8), np.zeros(sl.N_SAMPLES, np.float32), [c], c) for c in ("dog", "speech")]
    frames, audio, labels, real_pairs = data.real_batch(gen, real, rng, n_silent=1, n_tone=1)
    assert frames.shape[0] == 4 and audio.shape[0] == 6 and real_pairs.shape == labels.shape == (4, 6)
    assert real_pairs.tolist() == [[False] * 6, [False] * 6, [False, False, True, True, False, False],
                                   [False, False, True, True, False, False]]
    assert labels[2, 3] == 0 and labels[3, 2] == 0 and labels[2, 2] == 1 and (labels[2:, 4:] == 0).all()


# --------------------------------------------------------------------- data

def test_pair_batch_labels_own_sound_positive_and_absent_classes_negative():
    rng = np.random.default_rng(0)
    scenes = []
    for seed in range(12):
        f, a, _, _, meta = synthetic.av_scene(seed, 64, return_meta=True)
        scenes.append((f, a, meta["classes"], meta["classes"][meta["sounding"]]))
    frames, audio, labels = sl.pair_batch(scenes, rng, n_silent=2)
    assert frames.shape == (12, 64, 64, 3) and audio.shape == (14, sl.N_SAMPLES) and labels.shape == (12, 14)
    assert (np.diag(labels[:, :12]) == 1).all() and (labels == 1).sum() == 12
    assert (labels[:, 12:] == 0).all() and np.abs(audio[12:]).max() < 0.01       # silence: never a match
    for i in range(12):
        for j in range(12):
            if i != j:   # another scene's sound: negative unless its class is visible (silent) in frame i
                assert labels[i, j] == (-1 if scenes[j][3] in scenes[i][2] else 0)
    # real clips: own second positive, same clip elsewhere ignored, other clips and scenes negative
    y = sl.pair_labels([[0], []], [0, ("clip", 0, 5)], [0, None, None, None],
                       [0, ("clip", 0, 5), ("clip", 0, 40), ("clip", 1, 5)])
    assert y.tolist() == [[1, 0, 0, 0], [0, 1, -1, 0]]


def test_prepare_audio_resamples_pads_and_cuts():
    a = sl.prepare_audio(tone(440.0, 2.0, 44100), 44100)
    assert a.shape == (sl.N_SAMPLES,) and a.dtype == np.float32
    short = sl.prepare_audio(np.ones(100, np.float32) * 0.5, 16000)
    assert short.shape == (sl.N_SAMPLES,) and short.sum() == pytest.approx(50, abs=1e-3)
    stereo = sl.prepare_audio(np.stack([tone(440.0), tone(440.0)], 1), 16000)
    assert np.allclose(stereo, tone(440.0), atol=1e-6)
    pcm = sl.prepare_audio((tone(440.0) * 60000).astype(np.int32), 16000)     # integer PCM is scaled
    assert np.abs(pcm).max() <= 1.0
    w = sl.audio_windows(tone(440.0, 3.0), 16000, np.array([0.0, 1.5, 3.0]))
    assert w.shape == (3, sl.N_SAMPLES)
    assert np.abs(w[0, :7000]).max() == 0 and np.abs(w[2, -7000:]).max() == 0   # silence beyond the ends


# --------------------------------------------------------------------- contract

def test_localize_and_correspondence_contract(model):
    frame, audio, rate, mask = synthetic.av_scene(7, 96)
    heat = sl.localize(model, frame, audio, rate)
    assert heat.shape == (96, 96) and heat.dtype == np.float32
    assert 0 <= heat.min() <= heat.max() <= 1
    p = sl.correspondence(model, frame, audio, rate)
    assert isinstance(p, float) and 0 <= p <= 1
    assert heat.max() <= p + 1e-4             # the map's peak is the score (upsampling only smooths it)
    wide = np.zeros((50, 130, 3), np.uint8)
    assert sl.localize(model, wide, audio, rate).shape == (50, 130)
    out = sl.localize_clip(model, np.repeat(frame[None], 20, 0), 10.0, np.tile(audio, 2), rate, max_points=6)
    assert out["heat_all"].shape == (20, 96, 96) and out["heat"].shape == (6, 96, 96)
    assert np.allclose(out["heat_all"][out["index"]], out["heat"], atol=1e-6)
    silent = sl.localize_clip(model, np.repeat(frame[None], 4, 0), 10.0, None, None)
    assert silent["score"].shape == (4,)


@settings(max_examples=15, deadline=None)
@given(h=st.integers(1, 90), w=st.integers(1, 90), dtype=st.sampled_from(["uint8", "float32", "float64", "int64"]),
       n=st.integers(0, 30000), rate=st.sampled_from([0, 500, 8000, 16000, 22050, 44100, 48000]),
       channels=st.sampled_from([0, 1, 2, 3]), bad=st.sampled_from(["", "nan", "gray"]))
def test_contract_on_random_inputs(model, h, w, dtype, n, rate, channels, bad):
    rng = np.random.default_rng(h * 1000 + w)
    frame = rng.random((h, w, 3)) if bad != "gray" else rng.random((h, w))
    frame = (frame * 255).astype(dtype) if dtype in ("uint8", "int64") else frame.astype(dtype)
    audio = rng.normal(0, 0.3, (n, channels) if channels else n).astype(np.float32)
    if bad == "nan" and audio.size:
        audio.flat[0] = np.nan
    valid = (bad == "" and min(h, w) >= 8 and n > 0 and 1000 <= rate <= 192000)
    if not valid:
        with pytest.raises(ValueError):
            sl.localize(model, frame, audio, rate)
        return
    heat = sl.localize(model, frame, audio, rate)
    assert heat.shape == (h, w) and heat.dtype == np.float32 and np.isfinite(heat).all()
    assert 0 <= heat.min() and heat.max() <= 1
    assert 0 <= sl.correspondence(model, frame, audio, rate) <= 1


@settings(max_examples=15, deadline=None)
@given(n=st.integers(0, 50000), rate=st.sampled_from([-1, 8000, 16000, 44100]), scale=st.sampled_from([0.0, 0.5, 3e4]),
       t=st.integers(1, 6), fps=st.sampled_from([0.0, 5.0, 30.0]), silent=st.booleans())
def test_spectrogram_and_localize_clip_on_random_inputs(model, n, rate, scale, t, fps, silent):
    audio = (np.random.default_rng(n).normal(0, 1, n) * scale).astype(np.float32)
    if n == 0 or rate <= 0:
        with pytest.raises(ValueError):
            sl.spectrogram(audio, rate)
        return
    spec = sl.spectrogram(audio, rate)
    assert spec.shape[0] == sl.N_BINS and spec.dtype == np.float32
    assert sl.DB_FLOOR <= spec.min() and spec.max() <= 10.0          # at most a little above full scale
    frames = np.random.default_rng(t).integers(0, 255, (t, 24, 40, 3), dtype=np.uint8)
    if fps <= 0:
        with pytest.raises(ValueError, match="fps"):
            sl.localize_clip(model, frames, fps, audio, rate)
        return
    out = sl.localize_clip(model, frames, fps, None if silent else audio, rate, max_points=4)
    assert out["heat_all"].shape == (t, 24, 40) and 0 <= out["heat_all"].min() <= out["heat_all"].max() <= 1
    assert len(out["score"]) == len(out["times"]) == min(t, 4)


def test_contract_rejects_bad_inputs_with_messages(model):
    frame = np.zeros((32, 32, 3), np.uint8)
    for f, a, r, words in [
        (np.zeros((32, 32, 4), np.uint8), np.zeros(100), 16000, "shape"),
        (frame, np.zeros((2, 3, 4)), 16000, "mono"),
        (frame, np.array([]), 16000, "empty"),
        (frame, np.array(["a", "b"]), 16000, "numeric"),
        (frame, np.zeros(100), 16000.5, "sample_rate"),
        (frame, np.zeros(100), "fast", "sample_rate"),
    ]:
        with pytest.raises(ValueError, match=words):
            sl.localize(model, f, a, r)


# --------------------------------------------------------------------- training

def test_short_cpu_training_beats_chance():
    config = sl.Config(width=16, batch=16, lr=5e-3, warmup=5, size=32)      # tiny: 32 px scenes
    model, history = sl.train(config, 120, "cpu", photos=False)
    assert set(history) >= {"step", "loss", "acc"} and history["step"][-1] == 120
    check = sl.quick_check(model, "cpu", n=80)              # held-out scenes; chance is 0.5 for both
    assert check["corr_auc"] > 0.58 and check["corr_acc"] > 0.55, check


def test_train_continues_from_a_copy_and_takes_user_clips():
    base = sl.random_init(sl.Config(width=8, batch=4), "cpu")
    before = {k: v.clone() for k, v in base.state_dict().items()}
    frames = np.random.default_rng(0).integers(0, 255, (30, 40, 48, 3), dtype=np.uint8)
    clips = [(frames, 10.0, tone(300.0, 3.0), 16000), (frames[::-1].copy(), 10.0, tone(900.0, 3.0), 16000)]
    model, history = sl.train(base.config, 3, "cpu", model=base, clips=clips, photos=False)
    assert model is not base and len(history["loss"]) == 3
    assert all(torch.equal(v, base.state_dict()[k]) for k, v in before.items())   # the shared model is untouched


def test_continuing_keeps_the_models_width_and_takes_the_new_training_fields():
    base = sl.random_init(sl.Config(width=8, dim=16, batch=4), "cpu")
    model, _ = sl.train(sl.Config(width=32, dim=32, batch=3, lr=1e-3, size=32), 2, "cpu", model=base, photos=False)
    assert (model.config.width, model.config.dim) == (8, 16)                 # architecture: the model's own
    assert (model.config.batch, model.config.lr, model.config.size) == (3, 1e-3, 32)   # training: the new config
    assert model.state_dict().keys() == base.state_dict().keys()


def test_training_batch_through_the_loss_matches_the_models_own_loss():
    from core.sound_localization import data

    config = sl.Config(width=8, batch=5, size=32)
    sampler = data.SceneSampler(config, seed=0, n_backgrounds=8, photos=False)
    rng = np.random.default_rng(0)
    x, a, y = data.to_tensors(*data.pair_batch(sampler.scenes(5), rng, n_silent=1), config.size, "cpu")
    assert x.shape == (5, 3, 32, 32) and a.shape == (6, sl.N_SAMPLES) and y.shape == (5, 6)
    model = sl.random_init(config, "cpu", seed=0)
    loss, parts = sl.avc_loss(model, x, a, y)
    out = model(x, a[:5])                                                    # frame i with sound i only
    assert torch.allclose(model(x, a, y)["loss"], loss)
    assert torch.allclose(torch.diagonal(model(x, a, y)["score_logit"]), out["score_logit"], atol=1e-5)
    assert 0.0 <= parts["acc"] <= 1.0


# --------------------------------------------------------------------- the shipped model and the tab

@pytest.mark.skipif(not HAVE_WEIGHTS, reason="no shipped weights yet: python -m core.train sound_localization")
def test_shipped_model_localizes_the_generated_example():
    import json
    from core import sources, media

    model = sl.load_pretrained("cpu")
    meta = json.load(open(sources.example_path("sound_localization/examples.json")))[0]
    frames, fps, audio, masks, names = sl.scene_clip(meta["seed"], meta["seconds"], meta["size"],
                                                     silent_seconds=tuple(meta["silent_seconds"]))
    video = media.load_video(sources.example_path(meta["file"]))
    assert video.audio is not None and video.frames.shape[1:3] == frames.shape[1:3]
    hits, peaks_sound, peaks_silent = 0, [], []
    for j in range(meta["seconds"]):
        i = int((j + 0.5) * fps)
        heat = sl.localize(model, video.frames[i], sl.audio_windows(video.audio, video.sample_rate,
                                                                    np.array([j + 0.5]))[0], sl.SAMPLE_RATE)
        if names[j]:
            hits += masks[j].flat[heat.argmax()]
            peaks_sound.append(heat.max())
        else:
            peaks_silent.append(heat.max())
    assert hits >= len(peaks_sound) - 1                       # the peak sits on the object that sounds
    assert max(peaks_silent) < min(peaks_sound)               # and falls in the silent second


@pytest.fixture(scope="module")
def handlers():
    import functools

    from demos import sound_localization as demo
    from demos.tab import Tab
    t = Tab("sound_localization", "cpu")
    return demo, {"localize": functools.partial(demo.localize, t), "train": functools.partial(demo.train_live, t),
                  "shipped": t.shipped() if HAVE_WEIGHTS else None}


@pytest.mark.skipif(not HAVE_WEIGHTS, reason="no shipped weights yet")
def test_tab_handler_on_the_default_example_returns_every_output(handlers):
    demo, h = handlers
    clips = demo.example_clips()
    path = next(iter(clips.values()))
    other = next(n for n in clips if "(real)" in n)
    for choice in (demo.OWN, demo.OTHER, demo.SILENCE):
        video, verdict, still, spec, curve = h["localize"](path, choice, other, 1.5, demo.SHIPPED, None)
        assert os.path.getsize(video) > 1000
        assert "Asked" in verdict and "Answered" in verdict
        assert still.ndim == 3 and still.shape[1] > 3 * still.shape[0] - 20
        assert spec is not None and curve is not None


@pytest.mark.skipif(not HAVE_WEIGHTS, reason="no shipped weights yet")
def test_the_tab_opens_on_a_right_answer_and_its_controls_answer_right_too(handlers):
    """What a class sees first: the default clip at the default time, with its own sound, another clip's
    and silence, each answered right by the shipped model (the arrival shows the first)."""
    demo, h = handlers
    clips = demo.example_clips()
    names = list(clips)
    other = next(n for n in names if "(real)" in n)
    for choice in (demo.OWN, demo.OTHER, demo.SILENCE):
        verdict = h["localize"](clips[names[0]], choice, other, demo.DEFAULT_T, demo.SHIPPED, None)[1]
        assert ", right;" in verdict, (choice, verdict)


def test_the_truth_follows_what_sounds_in_a_generated_scene(tmp_path):
    """examples.json says which object sounds each second: the silent second is a "no" with its own sound,
    and another generated scene's sound belongs when this scene shows its class. The clip is known by its
    content, as in the app, where a picked example arrives as gradio's copy under another path."""
    import shutil

    from demos import sound_localization as demo
    meta = {e["name"]: e for e in demo._generated_examples()}
    clips = demo.example_clips()
    three = tmp_path / "copy.mp4"
    shutil.copyfile(clips["three objects (generated)"], three)
    assert demo._name_of(three) == "three objects (generated)" and demo._name_of(None) == ""
    said = meta["three_objects"]["sounding_per_second"]
    silent = said.index("")
    assert demo.truth_at(three, demo.OWN, None, "its own sound", silent + 0.5, False)[0] is False
    assert demo.truth_at(three, demo.OWN, None, "its own sound", 0.5, False)[0] is True
    shown = {c for c in said if c}
    for j, heard in enumerate(meta["photo_background"]["sounding_per_second"]):
        got, why = demo.truth_at(three, demo.OTHER, "photo background (generated)", "that sound", j + 0.5, False)
        assert got == (heard in shown), (j, heard, why)
    real = next(n for n in clips if "(real" in n)
    assert demo.truth_at(three, demo.OTHER, real, "that sound", 1.5, False) == (
        False, "no: that sound was not made by this frame")
    assert demo.truth_at(three, demo.OTHER, "three objects (generated)", "x", 0.5, True)[0] is True
    assert demo.truth_at(three, demo.SILENCE, None, "silence", 0.5, False)[0] is False


@pytest.mark.skipif(not HAVE_WEIGHTS, reason="no shipped weights yet")
def test_tab_errors_are_clear(handlers):
    import gradio as gr
    from core import sources

    demo, h = handlers
    silent_clip = sources.example_path(sources.clip_info("bikes")["file"])      # a bundled clip without sound
    fn = demo.common.friendly(h["localize"])
    with pytest.raises(gr.Error, match="no sound track"):
        fn(silent_clip, demo.OWN, None, 0.0, demo.SHIPPED, None)
    with pytest.raises(gr.Error, match="Please provide a video with a sound track"):
        fn(None, demo.OWN, None, 0.0, demo.SHIPPED, None)
    with pytest.raises(gr.Error, match="not trained a model"):
        fn(next(iter(demo.example_clips().values())), demo.OWN, None, 0.0, demo.MINE, None)
    with pytest.raises(gr.Error, match="Could not read"):
        fn(__file__, demo.OWN, None, 0.0, demo.SHIPPED, None)
    with pytest.raises(gr.Error, match="Unknown model choice"):
        fn(next(iter(demo.example_clips().values())), demo.OWN, None, 0.0, "a model from the hub", None)


@pytest.mark.skipif(not HAVE_WEIGHTS, reason="no shipped weights yet")
def test_tab_trains_live_and_uses_the_users_model(handlers):
    demo, h = handlers
    path = next(iter(demo.example_clips().values()))
    mine, fig, text = h["train"](5, "continue from the shipped model", True, path, None, progress=None)
    assert mine["model"] is not h["shipped"] and "held-out" in text
    video, verdict, *_ = h["localize"](path, demo.OWN, None, 0.5, demo.MINE, mine)
    assert "your model (" in verdict


def test_tab_builds():
    import gradio as gr
    from demos import sound_localization as demo

    with gr.Blocks() as app:
        demo.build("cpu")
    assert app is not None


# --------------------------------------------------------------------- real recordings and real scenes

def test_level_norm_makes_the_embedding_level_invariant_and_keeps_silence_quiet():
    from core.sound_localization.model import LEVEL_FLOOR, LEVEL_TARGET, normalize_level

    rng = np.random.default_rng(0)
    sound = (rng.normal(0, 1, sl.N_SAMPLES) * np.sin(np.linspace(0, 30, sl.N_SAMPLES)) ** 2).astype(np.float32)
    sound /= np.abs(sound).max()
    waves = torch.from_numpy(np.stack([sound, sound * 10 ** (-20 / 20), sound * 10 ** (-32 / 20)]))
    rms = normalize_level(waves).pow(2).mean(1).sqrt()
    assert torch.allclose(rms, torch.full_like(rms, LEVEL_TARGET), rtol=1e-4)          # 32 dB apart, now alike
    quiet = normalize_level(torch.from_numpy(sl.silence(rng))[None]).pow(2).mean().sqrt()
    assert quiet < LEVEL_TARGET * 10 ** (-9 / 20) and LEVEL_FLOOR > 0.001            # near-silence stays 10 dB down
    net = sl.random_init(sl.Config(level_norm=True), "cpu", seed=0).audio
    emb = net(waves)
    assert torch.allclose(emb[0], emb[1], atol=1e-3) and torch.allclose(emb[0], emb[2], atol=1e-3)


def test_a_checkpoint_from_before_level_norm_loads_as_it_was_trained(tmp_path):
    from core import common
    from core.sound_localization.infer import load_weights

    config = sl.Config(width=8, dim=8)
    model = sl.random_init(config, "cpu", seed=0)
    path = str(tmp_path / "old.pt")
    common.save_checkpoint(model, config, path)
    assert load_weights(path).config.level_norm is True                 # saved with the field: kept
    values, state = common.load_checkpoint(path)
    del values["level_norm"]
    torch.save({"config": values, "state_dict": state}, path)
    assert load_weights(path).config.level_norm is False and config.level_norm


def test_sound_augmentation_keeps_shape_and_spans_levels():
    from core.sound_localization.real import augment, noise, room_tone, window

    rng = np.random.default_rng(0)
    long = np.concatenate([np.zeros(20000), 0.5 * np.ones(8000), np.zeros(20000)]).astype(np.float32)
    assert np.abs(window(long, rng, tries=16)).max() > 0                # the loud part, not the pause
    short = window(np.ones(4000, np.float32), rng)
    assert short.shape == (sl.N_SAMPLES,) and short.sum() == 4000
    x = np.sin(np.linspace(0, 2000, sl.N_SAMPLES)).astype(np.float32)
    peaks = [np.abs(augment(x, rng)).max() for _ in range(60)]
    assert min(peaks) < 0.03 and max(peaks) > 0.3 and max(peaks) <= 1.0 + 1e-6
    assert abs(noise(rng).std() - 1) < 1e-3 and np.sqrt(np.mean(room_tone(rng) ** 2)) < 0.02


def test_paste_puts_a_cut_out_on_its_background():
    from core.sound_localization.real import paste

    rgba = np.zeros((20, 10, 4), np.uint8)
    rgba[..., 0], rgba[5:15, 2:8, 3] = 255, 255
    out = paste(rgba, np.zeros((32, 16, 3), np.uint8), np.random.default_rng(0))
    assert out.shape == (32, 16, 3) and out[..., 0].max() == 255 and (out[..., 0] == 0).mean() > 0.3


REAL_HELD_OUT = None


def _held_out_pool():
    global REAL_HELD_OUT
    if REAL_HELD_OUT is None:
        import importlib
        REAL_HELD_OUT = importlib.import_module("core.sound_localization.evaluate").real_heldout_pool() or False
    return REAL_HELD_OUT


def test_real_scenes_mark_the_sounding_panel_and_keep_its_class_alone():
    pool = _held_out_pool()
    if not pool:
        pytest.skip("held-out real sources not fetched: python scripts/fetch_media.py")
    rng = np.random.default_rng(0)
    for layout, share in (((1, 2), 0.5), ((2, 2), 0.25), ((1, 1), 1.0)):
        frame, sound, visible, cls, mask = pool.scene(rng, 64, layout)
        assert frame.shape == (64, 64, 3) and sound.shape == (sl.N_SAMPLES,) and mask.mean() == share
        assert visible[0] == cls and visible.count(cls) == 1


def _bunny_scores(model, audio_of):
    from core import media, sources

    clip = media.load_video(sources.example_path("clips/bunny.mp4"))
    audio, rate = audio_of(clip)
    res = sl.localize_clip(model, clip.frames, clip.fps, audio, rate)
    return float(np.interp(1.5, res["times"], res["score"])), float(np.mean(res["score"]))


@pytest.mark.skipif(not HAVE_WEIGHTS, reason="no shipped weights yet")
def test_shipped_model_says_yes_to_the_bunny_with_its_own_sound_and_no_otherwise():
    from core import media, sources

    model = sl.load_pretrained("cpu")
    other = media.load_video(sources.example_path("sound_localization/three_objects.mp4"))
    own = _bunny_scores(model, lambda c: (c.audio, c.sample_rate))
    swapped = _bunny_scores(model, lambda c: (other.audio, other.sample_rate))
    quiet = _bunny_scores(model, lambda c: (None, None))
    assert min(own) >= 0.5, own                     # the tab's default time (1.5 s) and the clip's mean
    assert max(swapped) < 0.5 and max(quiet) < 0.5, (swapped, quiet)
