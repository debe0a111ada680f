"""Colorization tracking: colour maths, k-means, the pointer, the loss, propagation, the contract, the tab."""
from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from core import colorization as C
from core.colorization import infer, memo
from core import common, synthetic

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model():
    """The shipped model when there is one, else a small untrained one with fitted clusters."""
    try:
        return C.load_pretrained("cpu")
    except FileNotFoundError:
        cfg = C.Config(width=16, dim=16)
        m = C.build_model(cfg)
        m.centres.copy_(C.kmeans(torch.randn(500, 2) * 40, cfg.n_colors))
        return m.eval()


# --------------------------------------------------------------------- colour

def test_lab_known_values_and_round_trip():
    lab = C.rgb_to_lab(torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))
    np.testing.assert_allclose(lab[0].numpy(), [100, 0, 0], atol=1e-3)
    np.testing.assert_allclose(lab[1].numpy(), [53.24, 80.09, 67.20], atol=0.02)   # sRGB red, D65
    np.testing.assert_allclose(lab[2].numpy(), [0, 0, 0], atol=1e-3)
    x = torch.rand(2000, 3)
    assert (C.lab_to_rgb(C.rgb_to_lab(x)) - x).abs().max() < 1e-4
    g = torch.rand(50)
    np.testing.assert_allclose(C.grey_to_L(g).numpy(), C.rgb_to_lab(g[:, None].repeat(1, 3))[:, 0].numpy(),
                               atol=1e-3)


def test_kmeans_recovers_separated_clusters_and_quantize_matches_a_loop():
    rng = np.random.default_rng(0)
    true = np.array([[-60, 40], [0, 0], [50, -50], [70, 60]], np.float32)
    pts = torch.from_numpy(np.concatenate([c + rng.normal(0, 2, (200, 2)) for c in true]).astype(np.float32))
    centres = C.kmeans(pts, 4, seed=3)
    found = sorted(map(tuple, np.round(centres.numpy() / 10) * 10))
    assert found == sorted(map(tuple, np.round(true / 10) * 10))
    ab = torch.randn(37, 2) * 50
    q = C.quantize(ab, centres)
    naive = [int(np.argmin([float(((a - c) ** 2).sum()) for c in centres])) for a in ab]
    assert q.tolist() == naive
    # the round trip: each centre is its own cluster
    assert C.quantize(centres, centres).tolist() == list(range(4))


# --------------------------------------------------------------------- pointer and loss

def test_pointer_rows_sum_to_one_and_match_a_naive_softmax():
    ft, fr = torch.randn(2, 5, 7), torch.randn(2, 5, 11)
    A = C.pointer(ft, fr, temperature=0.5)
    assert A.shape == (2, 7, 11)
    torch.testing.assert_close(A.sum(-1), torch.ones(2, 7))
    b, j = 1, 3
    s = torch.tensor([float(ft[b, :, j] @ fr[b, :, i]) / 0.5 for i in range(11)])
    torch.testing.assert_close(A[b, j], torch.exp(s) / torch.exp(s).sum(), atol=1e-6, rtol=1e-5)


def test_colorization_loss_matches_hand_computation():
    A = torch.tensor([[[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]])       # (1, N=2, M=3)
    ref = torch.tensor([[0, 1, 1]])
    tgt = torch.tensor([[1, 0]])
    loss, acc = C.colorization_loss(A, ref, tgt, n_colors=3)
    # y_0 = [0.5, 0.5, 0], true 1 -> -log 0.5; y_1 = [0.1, 0.9, 0], true 0 -> -log 0.1
    assert abs(float(loss) - (-np.log(0.5) - np.log(0.1)) / 2) < 1e-6
    assert float(acc) == 0.0        # argmax of y_0 is 0 (tie broken low), of y_1 is 1: both wrong


def test_tuple_loss_is_the_mean_over_targets_of_each_frame_coloured_from_the_others():
    m = C.build_model(C.Config(width=8, dim=8)).eval()
    m.centres.copy_(C.kmeans(torch.randn(300, 2) * 40, 16))
    rgb = torch.rand(2, 4, 3, 16, 16)
    grey, colours = C.grey_and_colours(rgb, m.centres)
    assert grey.shape == (2, 4, 1, 16, 16) and colours.shape == (2, 4, 4, 4)
    with torch.no_grad():
        loss, parts = C.tuple_loss(m, grey, colours, temperature=1.0, all_targets=True)
        last, _ = C.tuple_loss(m, grey, colours, temperature=1.0, all_targets=False)
        feats = m(grey.flatten(0, 1)).view(2, 4, 8, 16)                  # (B, F, D, N)
        naive = []
        for t in range(4):
            refs = [r for r in range(4) if r != t]
            A = C.pointer(feats[:, t], torch.cat([feats[:, r] for r in refs], dim=-1))
            c_ref = torch.cat([colours[:, r].reshape(2, -1) for r in refs], dim=-1)
            naive.append(C.colorization_loss(A, c_ref, colours[:, t].reshape(2, -1), 16)[0])
    assert abs(float(loss) - float(torch.stack(naive).mean())) < 1e-5
    assert abs(float(last) - float(naive[-1])) < 1e-5              # the paper's: only the last frame
    assert 0 <= float(parts["acc"]) <= 1


def test_gain_jitter_scales_each_frames_grey_by_one_factor_and_leaves_the_colours():
    rgb = torch.rand(2, 4, 3, 16, 16) * 0.5
    centres = C.kmeans(torch.randn(300, 2) * 40, 16)
    plain, c0 = C.grey_and_colours(rgb, centres)
    jittered, c1 = C.grey_and_colours(rgb, centres, 0.25, torch.Generator().manual_seed(0))
    ratio = (jittered / plain).flatten(2)                                 # (B, F, S*S)
    assert torch.allclose(ratio, ratio[..., :1].expand_as(ratio), atol=1e-5)
    assert ((ratio - 1).abs() <= 0.25 + 1e-6).all() and not torch.allclose(ratio, torch.ones_like(ratio))
    assert torch.equal(c0, c1)


def test_propagation_with_identical_frames_and_one_hot_features_copies_labels():
    h, w, T = 6, 5, 4
    N = h * w
    feats = torch.eye(N).reshape(N, h, w)[None].repeat(T, 1, 1, 1)       # (T, D=N, h, w): cell i is e_i
    labels = torch.randint(0, 3, (h, w))
    p0 = torch.nn.functional.one_hot(labels, 3).permute(2, 0, 1).float()
    for metric in ("dot", "l2"):
        P = C.propagate_cells(feats, p0, metric, temperature=0.05, topk=5, n_recent=2, radius=2)
        assert P.shape == (T, 3, h, w)
        for t in range(T):
            assert torch.equal(P[t].argmax(0), labels)


# --------------------------------------------------------------------- model

@pytest.mark.parametrize("hw", [(64, 64), (36, 52)])
def test_model_shapes(hw):
    m = C.build_model(C.Config(width=16, dim=8)).eval()
    with torch.no_grad():
        f = m(torch.rand(3, 1, *hw))
    assert f.shape == (3, 8, (hw[0] + 3) // 4, (hw[1] + 3) // 4)
    assert m.centres.shape == (16, 2)


def test_short_training_lowers_loss_and_beats_raw_pixels_on_a_synthetic_clip():
    cfg = C.Config(batch=4, width=24, dim=24, steps=40, warmup=5, synthetic_frac=1.0, lookalike_frac=1.0,
                   kmeans_frames=40, lr=3e-3)
    model, hist = C.train(cfg, cfg.steps, "cpu", frames=None)
    assert np.mean(hist["loss"][-2:]) < np.mean(hist["loss"][:2])
    video, _ = synthetic.sprites_video(123_456, frames=12, size=96, lookalike=True, n_sprites=3)
    acc = {}
    for f in ("learned", "raw_grey"):
        hits = total = 0
        for t in range(0, 8, 2):
            truth = C.colour_clusters(model, video[t + 3])
            hits += (C.predict_clusters(model, video[t + 3], video[t], f)[0] == truth).sum()
            total += truth.size
        acc[f] = hits / total
    assert acc["learned"] > acc["raw_grey"], acc


def test_continuing_keeps_the_models_clusters_and_architecture(model):
    before = common.state_digest(model)
    cfg = C.Config(width=8, dim=8, batch=1)                # architecture fields come from the model instead
    video, _ = synthetic.sprites_video(3, frames=8, size=64)
    mine, hist = C.train(cfg, 2, "cpu", model=model, frames=video)
    assert mine is not model and (mine.config.width, mine.config.dim) == (model.config.width, model.config.dim)
    assert torch.equal(mine.centres, model.centres) and hist["step"] == [2]
    assert common.state_digest(model) == before


# --------------------------------------------------------------------- the contract

def test_propagate_and_colorize_contract(model):
    video, labels = synthetic.sprites_video(7, frames=6, size=60, n_sprites=2)
    out = C.propagate(model, video, labels[0])
    assert out.shape == (6, 60, 60) and out.dtype == np.int64
    assert np.array_equal(out[0], labels[0])
    assert set(np.unique(out)) <= set(np.unique(labels[0]))
    grey = (video[3] @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
    col = C.colorize(model, grey, video[0])
    assert col.shape == (60, 60, 3) and col.dtype == np.uint8
    raw = C.propagate(model, video, labels[0], features="raw_lab")
    assert raw.shape == out.shape
    heat = C.pointer_map(model, video[3], video[0], (30, 30))
    assert heat.shape == (60, 60) and 0 <= heat.min() and abs(heat.max() - 1) < 1e-5


def test_contract_rejects_bad_inputs(model):
    video, labels = synthetic.sprites_video(1, frames=3, size=32)
    with pytest.raises(ValueError, match="first_labels"):
        C.propagate(model, video, labels[0][:10])
    with pytest.raises(ValueError, match="frames"):
        C.propagate(model, video[0], labels[0])
    with pytest.raises(ValueError, match="0..255"):
        C.propagate(model, video, labels[0] - 5)
    with pytest.raises(ValueError, match="gray_target"):
        C.colorize(model, video[0], video[0])
    with pytest.raises(ValueError, match="features"):
        C.propagate(model, video, labels[0], features="sift")
    with pytest.raises(ValueError, match="outside"):
        C.pointer_map(model, video[0], video[1], (99, 0))


@settings(max_examples=15, deadline=None)
@given(t=st.integers(1, 4), h=st.integers(1, 70), w=st.integers(1, 70), n=st.integers(0, 4),
       dtype=st.sampled_from(["uint8", "float32", "int64"]))
def test_propagate_random_inputs(model, t, h, w, n, dtype):
    rng = np.random.default_rng(h * 100 + w)
    frames = (rng.random((t, h, w, 3)) * (1 if dtype == "float32" else 255)).astype(dtype)
    labels = rng.integers(0, n + 1, (h, w))
    try:
        out = C.propagate(model, frames, labels)
    except ValueError as err:
        assert min(h, w) < 8 and "pixels" in str(err)
        return
    assert out.shape == (t, h, w)
    assert np.array_equal(out[0], labels)


@settings(max_examples=15, deadline=None)
@given(h=st.integers(1, 90), w=st.integers(1, 90), rh=st.integers(8, 90), rw=st.integers(8, 90),
       ndim=st.sampled_from([2, 3]))
def test_colorize_random_inputs(model, h, w, rh, rw, ndim):
    rng = np.random.default_rng(h + w)
    grey = rng.integers(0, 256, (h, w) if ndim == 2 else (h, w, 3)).astype(np.uint8)
    ref = rng.integers(0, 256, (rh, rw, 3)).astype(np.uint8)
    try:
        out = C.colorize(model, grey, ref)
    except ValueError as err:
        assert ndim == 3 or min(h, w) < 8, err
        return
    assert out.shape == (h, w, 3) and out.dtype == np.uint8


def test_jaccard_per_frame_hand_case():
    truth = np.zeros((2, 4, 4), int)
    truth[:, :2, :2] = 1
    pred = truth.copy()
    pred[1, :2, :1] = 0                          # half of object 1 lost in frame 1
    j = C.jaccard_per_frame(pred, truth)
    np.testing.assert_allclose(j, [1.0, 0.5])


def test_config_quick_is_smaller():
    assert C.Config.quick().steps < C.Config().steps
    assert dataclasses.asdict(C.Config.quick())["size"] == C.Config().size


# --------------------------------------------------------------------- the tab

@pytest.fixture(scope="module")
def tab():
    import gradio as gr
    from demos import colorization as D

    with gr.Blocks() as demo:
        D.build("cpu")
    return {d.api_name: d.fn for d in demo.fns.values() if d.api_name}, D


def _example(D, name):
    from PIL import Image
    ex = next(e for e in D._examples() if e["name"] == name)
    mask = np.asarray(Image.open(D.common.example_file(ex["mask"])).convert("RGB"))
    return D.common.example_file(ex["video"]), mask


def test_tab_handlers_on_a_bundled_example(tab):
    import gradio as gr
    fns, D = tab
    video, mask = _example(D, "sprites_a")
    out = fns["colorization_track"](video, mask, None, "sprites_a", 10, None)
    summary, colour, track, fig, state, slider, target, ref, ref2, note = out
    assert "Answered" in summary and "Mean J" in summary
    assert os.path.isfile(colour) and os.path.isfile(track) and fig is not None
    assert state["frames"].shape[0] == 10 and target.ndim == 3
    assert fns["colorization_target"](state, 5).shape == target.shape
    evt = gr.SelectData(None, {"index": [64, 40], "value": None})
    marked, heat, heat_raw, text = fns["colorization_pointer"](state, 5, None, evt)
    z = D._zoom_factor(state["frames"].shape[1:])            # shown enlarged, big enough to click on
    H, W = state["frames"].shape[1:3]
    assert z >= 2 and heat.shape == (H * z, W * z, 3) and marked.shape == heat.shape and "pointer" in text
    assert f"from ({64 // z}, {40 // z})" in text              # the click maps back to the frame's own pixel
    # a drawn mask (one red stroke on an RGBA layer) is used instead of the example's
    layer = np.zeros((128, 128, 4), np.uint8)
    layer[20:40, 20:40] = [255, 64, 64, 255]
    out = fns["colorization_track"](video, mask, {"background": None, "layers": [layer], "composite": None},
                                    "", 6, None)
    assert "your drawing" in out[0] and "No true masks" in out[0]


def test_the_raw_pixel_baselines_run_beside_the_learned_model(tab, monkeypatch):
    """On a clip not seen before the baselines are computed in another thread while the core call runs,
    and the click's answer is the one computed in line (the same numbers in the summary)."""
    import threading
    fns, D = tab
    video, mask = _example(D, "sprites_b")
    where, plain = [], D.C.colorize_video

    def colorize_video(*args, **kwargs):
        where.append(threading.current_thread().name)
        return plain(*args, **kwargs)
    monkeypatch.setattr(D.C, "colorize_video", colorize_video)
    infer.clear_cache()
    out = fns["colorization_track"](video, mask, None, "sprites_b", 9, None)
    assert where and where[0].startswith("colorization-baselines")
    m = D.C.load_pretrained("cpu")
    frames = D.common.cached_video_input(video).frames[:9]
    raw_acc = plain(m, frames, "raw_grey")[1][1:].mean()
    assert f"raw grey pixels: {raw_acc:.0%}" in out[0]


def test_tab_train_live_then_uses_the_users_model(tab):
    fns, D = tab
    video, mask = _example(D, "pedestrians")
    state = fns["colorization_track"](video, mask, None, "pedestrians", 8, None)[4]
    mine, fig, text = fns["colorization_train"](10, "continue from the shipped model", "the loaded clip", state, None)
    assert mine["model"] is not None and fig is not None and "Trained" in text
    summary = fns["colorization_track"](video, mask, None, "pedestrians", 8, mine)[0]
    assert "your model" in summary


def test_tab_bad_inputs_raise_gr_error(tab, tmp_path):
    import gradio as gr
    fns, D = tab
    video, mask = _example(D, "city")
    with pytest.raises(gr.Error):
        fns["colorization_track"](None, mask, None, "", 8, None)
    with pytest.raises(gr.Error, match="draw"):
        fns["colorization_track"](video, None, None, "", 8, None)
    with pytest.raises(gr.Error, match="empty"):
        fns["colorization_track"](video, np.zeros((90, 160, 3), np.uint8), None, "", 8, None)
    bad = tmp_path / "notavideo.mp4"
    bad.write_text("hello")
    with pytest.raises(gr.Error, match="video"):
        fns["colorization_track"](str(bad), mask, None, "", 8, None)
    with pytest.raises(gr.Error, match="Run"):
        fns["colorization_pointer"](None, 3, None, gr.SelectData(None, {"index": [1, 1], "value": None}))
    with pytest.raises(gr.Error, match="Load a clip"):
        fns["colorization_train"](10, "from scratch", "the loaded clip", None, None)


def test_colorize_and_propagate_equals_the_two_calls_it_replaces():
    """One pass over the shared pointer into frame 1 gives what colorize_video and propagate give apart."""
    torch.manual_seed(0)
    m = C.build_model(C.Config(width=8, dim=8)).eval()
    m.centres.copy_(C.kmeans(torch.randn(300, 2) * 40, 16))
    rng = np.random.default_rng(0)
    frames = (rng.random((6, 32, 40, 3)) * 255).astype(np.uint8)
    first = np.zeros((32, 40), np.int64)
    first[8:20, 10:24] = 1
    first[22:30, 2:12] = 3
    coloured, acc, conf = C.colorize_video(m, frames, "learned")
    labels = C.propagate(m, frames, first, "learned")
    infer.clear_cache()                                               # the shared pass itself, not a lookup
    c2, a2, f2, l2 = C.colorize_and_propagate(m, frames, first)
    assert np.abs(c2.astype(int) - coloured.astype(int)).max() <= 1
    assert np.allclose(a2, acc, atol=1e-6) and np.allclose(f2, conf, atol=1e-5)
    assert np.array_equal(l2, labels)
    frames2 = frames.copy()
    frames2[3:] = 255 - frames2[3:]                                   # a different clip: a different answer
    assert not np.array_equal(C.colorize_and_propagate(m, frames2, first)[0], c2)


# --------------------------------------------------------------------- remembered plans and colourings

def _small_model(seed=0):
    torch.manual_seed(seed)
    m = C.build_model(C.Config(width=8, dim=8)).eval()
    m.centres.copy_(C.kmeans(torch.randn(300, 2) * 40, 16))
    return m


def _clip(seed=0, t=6):
    rng = np.random.default_rng(seed)
    frames = (rng.random((t, 32, 40, 3)) * 255).astype(np.uint8)
    first = np.zeros((32, 40), np.int64)
    first[8:20, 10:24] = 1
    first[22:30, 2:12] = 3
    return frames, first


def _same(a, b) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_a_remembered_click_gives_what_a_fresh_one_gives():
    """The second click on a clip is served from the remembered colouring and plan: same answer, bit for bit;
    a new mask on that clip (the plan reused) gives what a fresh propagation gives."""
    m = _small_model()
    frames, first = _clip()
    infer.clear_cache()
    fresh = C.colorize_and_propagate(m, frames, first)
    again = C.colorize_and_propagate(m, frames, first)
    assert _same(fresh, again)
    other = np.zeros_like(first)
    other[2:12, 25:38] = 2
    reused = C.propagate(m, frames, other)                            # the plan of the click above
    infer.clear_cache()
    assert np.array_equal(reused, C.propagate(m, frames, other))
    for features in ("raw_lab", "raw_grey"):
        once = C.propagate(m, frames, first, features)
        assert np.array_equal(once, C.propagate(m, frames, first, features))
    again[0][:] = 0                                                   # a caller writing into its answer ...
    assert _same(fresh, C.colorize_and_propagate(m, frames, first))   # ... leaves the remembered one alone


def test_the_plan_is_the_labels_independent_half_of_propagate_cells():
    torch.manual_seed(1)
    feats = torch.randn(5, 4, 6, 7)
    p0 = torch.rand(3, 6, 7).softmax(0)
    plan = infer.propagation_plan(feats, "dot", 0.5, 4, 2, 2)
    assert plan["weights"].shape == (5, 42, 4) and plan["grid"] == (6, 7)
    assert torch.allclose(plan["weights"][1:].sum(-1), torch.ones(4, 42))
    assert (plan["source"][1:] < torch.arange(1, 5)[:, None, None] * 42).all()   # only earlier frames
    assert torch.equal(infer.carry_labels(plan, p0), C.propagate_cells(feats, p0, "dot", 0.5, 4, 2, 2))
    assert torch.equal(infer.carry_labels(plan, p0)[0], p0)


@pytest.mark.parametrize("metric", ["dot", "l2"])
def test_the_windowed_search_keeps_the_best_cells_of_each_window(metric):
    """Recent frames are searched by products inside each cell's window only: the same best cells and
    weights as scoring every cell and keeping the window's, written out here by brute force."""
    torch.manual_seed(2)
    T, D, h, w, k, radius = 4, 6, 7, 9, 5, 2
    feats = torch.randn(T, D, h, w)
    plan = infer.propagation_plan(feats, metric, 0.5, k, 2, radius)
    f = feats.reshape(T, D, -1)
    N = h * w
    ys, xs = torch.div(torch.arange(N), w, rounding_mode="floor"), torch.arange(N) % w
    inside = ((ys[:, None] - ys[None]).abs() <= radius) & ((xs[:, None] - xs[None]).abs() <= radius)
    score = (lambda q, r: q.T @ r) if metric == "dot" else (lambda q, r: 2 * q.T @ r - (r * r).sum(0))
    for t in range(1, T):
        cands = [score(f[t], f[0])] + [score(f[t], f[r]).masked_fill(~inside, float("-inf"))
                                       for r in range(max(1, t - 2), t)]
        val, idx = torch.cat(cands, 1).topk(k, dim=1)
        firsts = torch.cat([torch.arange(N)] + [torch.arange(N) + r * N for r in range(max(1, t - 2), t)])
        assert torch.equal(plan["source"][t], firsts[idx])
        assert torch.allclose(plan["weights"][t], (val / 0.5).softmax(1), atol=1e-5)


def test_the_cache_key_follows_the_clip_the_weights_and_the_settings():
    m = _small_model()
    frames, first = _clip()
    infer.clear_cache()
    base = C.colorize_and_propagate(m, frames, first)
    changed = frames.copy()
    changed[2, 5, 5] ^= 1                                             # one value of one pixel
    assert infer._frames_key(changed) != infer._frames_key(frames)
    assert infer._frames_key(frames[:5]) != infer._frames_key(frames)
    infer.clear_cache()
    assert _same(C.colorize_and_propagate(m, changed, first), C.colorize_and_propagate(m, changed, first))
    # the same model object with new weights (trained or loaded in place) is not served the old answer
    state = infer._model_state(m)
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(-1.5)
    assert infer._model_state(m) != state
    after = C.colorize_and_propagate(m, frames, first)
    infer.clear_cache()
    assert _same(after, C.colorize_and_propagate(m, frames, first))
    assert not np.array_equal(after[0], base[0])
    # other settings on a copy of the model: another key
    m2 = _small_model()
    m2.config = dataclasses.replace(m2.config, topk=3)
    assert infer._plan_key(m2, "learned", frames) != infer._plan_key(_small_model(), "learned", frames)


def test_the_cache_stays_within_its_bounds(monkeypatch):
    m = _small_model()
    infer.clear_cache()
    for seed in range(memo._CACHE_SIZE + 4):
        frames, first = _clip(seed, t=3)
        C.propagate(m, frames, first)
    assert len(memo._CACHE) == memo._CACHE_SIZE
    monkeypatch.setattr(memo, "_CACHE_MB", 0.01)                     # smaller than one clip's plan
    C.propagate(m, *_clip(99, t=3))
    assert len(memo._CACHE) == 1                                     # the newest alone
    with pytest.raises(ValueError, match="reference_index"):
        C.colorize_video(m, _clip(0, t=3)[0], "learned", reference_index=3)


def test_tab_serves_a_repeated_click_from_its_remembered_videos(tab):
    """The same clip and mask again: the same video files, not drawn and encoded again; a swept file is made
    again; a different mask on the same clip keeps the colour video and makes a new tracking video."""
    fns, D = tab
    video, mask = _example(D, "sprites_b")
    first = fns["colorization_track"](video, mask, None, "sprites_b", 8, None)
    again = fns["colorization_track"](video, mask, None, "sprites_b", 8, None)
    assert again[1] == first[1] and again[2] == first[2] and again[0].split("<span")[0] == first[0].split("<span")[0]
    os.remove(first[2])                                           # swept by core.media's cleanup
    remade = fns["colorization_track"](video, mask, None, "sprites_b", 8, None)
    assert os.path.isfile(remade[2]) and remade[2] != first[2] and remade[1] == first[1]
    other = mask.copy()
    other[:, : other.shape[1] // 2] = 0                           # only the objects of the right half
    moved = fns["colorization_track"](video, other, None, "sprites_b", 8, None)
    assert moved[1] == first[1] and moved[2] != remade[2]
    assert not np.array_equal(moved[4]["pred"], first[4]["pred"])


def test_two_callers_of_one_clip_at_once_compute_it_once():
    """A click that arrives while the tab's opening answer computes the same clip waits for that answer."""
    import threading
    import time
    infer.clear_cache()
    owner, calls, out = infer._Colour(), [], []

    def make():
        calls.append(1)
        time.sleep(0.3)
        return np.arange(3)
    threads = [threading.Thread(target=lambda: out.append(memo._remembered(owner, "t", None, make, key="k")))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(out) == 3 and all(o is out[0] for o in out)
    assert not memo._MAKING
