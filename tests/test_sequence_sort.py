"""Sequence sort: orders, motion-aware sampling, shortcuts, the network, a short run, the contract, the tab."""
from __future__ import annotations

import itertools
import os

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from core import common, synthetic
from core import sequence_sort as ss
from core.sequence_sort.evaluate import _pixel_path_accuracy, _sort_accuracy, _sprite_shape

torch.set_num_threads(1)
TINY = ss.Config(steps=60, width=8, pair_dim=32, batch=16, warmup=10, synth_pool=12, photos=0,
                 long_sources=False, p_real=0.0, p_photo=0.0, jitter=2, jitter_warmup=0.5, lr=3e-3)


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return ss.build_model(TINY).eval()


def moving_square_clip(T=30, still=(0, 10), moving=(10, 20), size=48, seed=0) -> np.ndarray:
    """A textured background with a bright square that moves only during frames `moving`."""
    rng = np.random.default_rng(seed)
    bg = (rng.random((size, size, 3)) * 60 + 60).astype(np.uint8)
    out = np.repeat(bg[None], T, axis=0).copy()
    x = 4
    for t in range(T):
        if moving[0] <= t < moving[1]:
            x += 2
        out[t, 10:22, x:x + 12] = 250
    return out


# --------------------------------------------------------------------- orders

def test_orders_are_12_classes_covering_all_24_permutations_with_reverses_merged():
    assert len(ss.ORDERS) == 12
    seen = {}
    for k, p in enumerate(ss.ORDERS):
        for q in (p, p[::-1]):
            assert q not in seen
            seen[q] = k
    assert set(seen) == set(itertools.permutations(range(4)))
    for p in itertools.permutations(range(4)):
        assert ss.order_class(p) == ss.order_class(p[::-1]) == seen[p]
    with pytest.raises(ValueError):
        ss.order_class((0, 0, 1, 2))


def test_sorted_positions_undo_the_shuffle():
    for p in itertools.permutations(range(4)):
        k = ss.order_class(p)
        readings = [[p[j] for j in ss.sorted_positions(k, flipped)] for flipped in (False, True)]
        assert [0, 1, 2, 3] in readings
        assert ss.time_reversed_class(p) == ss.order_class([3 - i for i in p])


def test_a_sorter_blind_to_the_arrow_of_time_tops_out_at_two_thirds():
    same = [p for p in itertools.permutations(range(4)) if ss.time_reversed_class(p) == ss.order_class(p)]
    assert len(same) == 8 and ss.DIRECTION_BLIND_CEILING == pytest.approx(2 / 3)
    # chaining the most similar frames sorts a steadily moving square perfectly, up to direction
    clip = moving_square_clip(T=4, moving=(0, 4), size=48)
    assert _pixel_path_accuracy([clip]) == pytest.approx(2 / 3)
    assert _pixel_path_accuracy([clip[::-1]]) == pytest.approx(2 / 3)


# --------------------------------------------------------------------- motion-aware sampling

def test_motion_aware_sampling_picks_the_moving_window():
    clip = moving_square_clip(T=40, moving=(20, 32))       # frames 19..31 differ from their neighbours
    start, stride = ss.pick_window(clip, 2)
    assert stride == 2
    assert 19 <= start and start + 3 * stride <= 31
    cands = ss.motion_windows(clip, (1, 2, 3), keep_top=1.0)
    assert cands
    for t, s, e in cands:                                   # every gap of every candidate holds motion
        assert e > 0
        for k in range(3):
            assert t + (k + 1) * s > 19 and t + k * s < 31


def test_windows_across_a_scene_cut_are_skipped():
    a = moving_square_clip(T=20, moving=(0, 20), seed=1)
    b = 255 - moving_square_clip(T=20, moving=(0, 20), seed=2)
    clip = np.concatenate([a, b])
    cuts = ss.scene_cuts(ss.motion_energy(clip))
    assert np.flatnonzero(cuts).tolist() == [19]
    for t, s, _ in ss.motion_windows(clip, (1, 2), keep_top=1.0):
        assert t + 3 * s <= 19 or t >= 20


def test_motion_energy_against_a_loop():
    clip = moving_square_clip(T=6, size=32)
    e = ss.motion_energy(clip, side=32)
    g = common.grey(clip)
    naive = [float(np.abs(g[t + 1] - g[t]).mean()) for t in range(5)]
    np.testing.assert_allclose(e, naive, atol=1e-5)


# --------------------------------------------------------------------- shortcuts

def test_channel_split_keeps_one_channel_per_frame():
    x = torch.rand(2, 4, 3, 5, 6)
    ch = torch.tensor([[0, 1, 2, 1], [2, 2, 0, 1]])
    y = ss.channel_split(x, ch)
    assert y.shape == x.shape
    for b in range(2):
        for t in range(4):
            for c in range(3):
                assert torch.equal(y[b, t, c], x[b, t, ch[b, t]])


def test_jitter_crop_against_slicing():
    x = torch.rand(2, 4, 3, 10, 10)
    off = torch.randint(0, 5, (2, 4, 2))
    y = ss.jitter_crop(x, off, 6)
    for b, t in itertools.product(range(2), range(4)):
        dy, dx = off[b, t].tolist()
        assert torch.equal(y[b, t], x[b, t, :, dy:dy + 6, dx:dx + 6])


def test_triplet_questions_are_balanced_and_correct():
    rng = np.random.default_rng(0)
    labels = []
    for _ in range(200):
        trip, label = ss.triplet_question(rng)
        assert len(set(trip)) == 3
        assert label == int(min(trip[0], trip[2]) < trip[1] < max(trip[0], trip[2]))
        labels.append(label)
    assert 0.35 < np.mean(labels) < 0.65
    assert ss.triplet_question(rng, True)[1] == 1 and ss.triplet_question(rng, False)[1] == 0
    assert sum(ss.TRIPLET_LABELS) == 8 and len(ss.ALL_TRIPLETS) == 24


def test_make_batch_is_channel_split_and_jittered():
    sampler = ss.TupleSampler(TINY, 0)
    x = ss.make_batch(sampler, 8, 2, np.random.default_rng(0), TINY.size)
    assert x.shape == (8, 4, 3, TINY.size, TINY.size)
    assert torch.equal(x[:, :, 0], x[:, :, 1]) and torch.equal(x[:, :, 1], x[:, :, 2])
    assert 0 <= float(x.min()) and float(x.max()) <= 1


# --------------------------------------------------------------------- the network

def test_model_shapes(tiny_model):
    x = torch.rand(3, 4, 3, TINY.size, TINY.size)
    f = tiny_model.features(x)
    assert f.shape == (3, 4, 4 * TINY.width, TINY.size // 8, TINY.size // 8)
    assert tiny_model(x).shape == (3, 12)
    assert tiny_model.pair_features(f, ss.PAIRS).shape == (3, 6, TINY.pair_dim)
    assert tiny_model.verify_logits(f, torch.tensor([[0, 1, 2]] * 3)).shape == (3, 2)


def test_pair_features_see_each_pair_in_its_order(tiny_model):
    f = torch.rand(1, 4, 4 * TINY.width, 8, 8)
    a = tiny_model.pair_features(f, [(0, 1)])
    b = tiny_model.pair_features(f[:, [1, 0]], [(1, 0)])
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, tiny_model.pair_features(f, [(1, 0)]))


def test_all_orders_at_once_equal_each_order_alone(tiny_model):
    f = torch.rand(2, 4, 4 * TINY.width, 8, 8)
    with torch.inference_mode():
        every = tiny_model.all_order_logits(f)
        trips = tiny_model.all_triplet_logits(f)
        for n, p in enumerate(ss.ALL_PERMS):
            torch.testing.assert_close(every[:, n], tiny_model.order_logits(f[:, list(p)]))
        for n, t in enumerate(ss.ALL_TRIPLETS):
            torch.testing.assert_close(trips[:, n], tiny_model.verify_logits(f, torch.tensor([t, t])))


def test_order_loss_by_hand():
    logits = torch.tensor([[2.0] + [0.0] * 11, [0.0] * 12])
    labels = torch.tensor([0, 5])
    naive = (-(2 - np.log(np.exp(2) + 11)) - np.log(1 / 12)) / 2
    assert abs(float(ss.order_loss(logits, labels)) - naive) < 1e-5


def test_verify_loss_weighs_both_sides_equally():
    logits = torch.tensor([[0.0, 3.0], [0.0, 3.0], [0.0, 3.0], [1.0, 0.0]])
    labels = torch.tensor([0, 0, 0, 1])
    nll = -torch.log_softmax(logits, 1)[torch.arange(4), labels]
    naive = 0.5 * nll[:3].mean() + 0.5 * nll[3]
    torch.testing.assert_close(ss.verify_loss(logits, labels), naive)


def test_sort_and_verify_loss_against_each_order_shown_alone(tiny_model):
    """The training objective equals OPN's loss over the 24 orders shown one by one plus the weighted
    Shuffle & Learn loss over the 24 triplet questions asked one by one."""
    x = torch.rand(2, 4, 3, TINY.size, TINY.size)
    with torch.inference_mode():
        loss, parts = ss.sort_and_verify_loss(tiny_model, x, 0.5)
        f = tiny_model.features(x)
        order = torch.stack([tiny_model.order_logits(f[:, list(p)]) for p in ss.ALL_PERMS], 1)      # (B, 24, 12)
        labels = torch.tensor([ss.order_class(p) for p in ss.ALL_PERMS]).expand(2, -1)
        trips = torch.stack([tiny_model.verify_logits(f, torch.tensor([t, t])) for t in ss.ALL_TRIPLETS], 1)
        tlabels = torch.tensor(ss.TRIPLET_LABELS).expand(2, -1)
        naive = ss.order_loss(order, labels) + 0.5 * ss.verify_loss(trips, tlabels)
    torch.testing.assert_close(loss, naive)
    torch.testing.assert_close(parts["order_loss"], ss.order_loss(order, labels))
    assert float(parts["acc"]) == pytest.approx(float((order.argmax(-1) == labels).float().mean()))


def test_short_cpu_run_beats_chance():
    model, history = ss.train(TINY, 120, "cpu")
    assert history["step"][-1] == 120
    windows = ss.synthetic_eval_windows(seeds=range(700_000, 700_030), size=TINY.size)
    r = _sort_accuracy(model, windows)
    assert r["top1"] > 2 * ss.CHANCE, r
    assert r["verify"] > 0.6, r


def test_train_continues_a_copy_and_learns_from_a_users_clip(tiny_model):
    before = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    clip = moving_square_clip(T=24, moving=(0, 24))
    model, history = ss.train(TINY, 3, "cpu", model=tiny_model, frames=clip)
    assert model is not tiny_model and len(history["loss"]) == 1
    for k, v in tiny_model.state_dict().items():
        assert torch.equal(v, before[k])
    with pytest.raises(ValueError, match="motion"):
        ss.train(TINY, 3, "cpu", frames=np.zeros((10, 32, 32, 3), np.uint8))


# --------------------------------------------------------------------- the contract

@settings(max_examples=15, deadline=None)
@given(t=st.integers(1, 6), h=st.integers(1, 90), w=st.integers(1, 90),
       dtype=st.sampled_from(["uint8", "float32", "float64", "int64"]), channels=st.sampled_from([1, 3, 4]))
def test_predict_contract(tiny_model, t, h, w, dtype, channels):
    rng = np.random.default_rng(t * 1000 + h * 10 + w)
    a = rng.random((t, h, w, channels))
    a = (a * 255).astype(dtype) if dtype in ("uint8", "int64") else a.astype(dtype)
    try:
        p = ss.predict(tiny_model, a)
    except ValueError as err:
        assert str(err)
        assert t != 4 or channels != 3 or min(h, w) < 8
        return
    assert t == 4 and channels == 3 and min(h, w) >= 8
    assert p.shape == (12,) and p.dtype == np.float32
    assert abs(float(p.sum()) - 1) < 1e-4 and (p >= 0).all()


@settings(max_examples=10, deadline=None)
@given(t=st.integers(1, 5), side=st.integers(4, 70))
def test_verify_contract(tiny_model, t, side):
    a = np.random.default_rng(side).integers(0, 256, (t, side, side, 3), dtype=np.uint8)
    try:
        p = ss.verify(tiny_model, a)
    except ValueError as err:
        assert str(err) and (t != 3 or side < 8)
        return
    assert t == 3 and side >= 8 and 0.0 <= p <= 1.0


def test_predict_reads_only_the_pixels(tiny_model):
    """The order shown changes the answer only through the frames: permuting the frames
    permutes the trunk features, and predict equals the head on the permuted features."""
    clip = moving_square_clip(T=4, moving=(0, 4), size=64)
    feats = ss.frame_features(tiny_model, clip)
    for perm in [(0, 1, 2, 3), (2, 0, 3, 1)]:
        p = ss.predict(tiny_model, clip[list(perm)])
        with torch.inference_mode():
            q = torch.softmax(tiny_model.order_logits(feats[list(perm)][None])[0], 0).numpy()
        np.testing.assert_allclose(p, q, atol=1e-5)


def test_probe_labels_match_the_generator(monkeypatch):
    """The probe's shape class replays the generator's draws; check it against the shape actually drawn."""
    drawn = []
    real = synthetic.shape_mask

    def spy(shape, *a, **k):
        drawn.append(shape)
        return real(shape, *a, **k)

    monkeypatch.setattr(synthetic, "shape_mask", spy)
    for seed in (3, 17, 4242):
        drawn.clear()
        synthetic.sprites_video(seed, frames=2, size=64, n_sprites=1, **ss.SYNTH_KW)
        assert synthetic.SHAPES[_sprite_shape(seed)] == drawn[-1]      # the last: background leaves come first


def test_shipped_model_loads_and_beats_chance_on_a_held_out_window():
    if not os.path.isfile(common.weights_path("sequence_sort")):
        pytest.skip("no shipped weights yet")
    model = ss.load_pretrained()
    card = common.read_card("sequence_sort")
    assert card["metrics"]["real_top1"] > card["metrics"]["real_top1_random_init"]
    assert common.count_params(model) == card["parameters"]


# --------------------------------------------------------------------- the tab

@pytest.fixture(scope="module")
def tab():
    gr = pytest.importorskip("gradio")
    from demos import sequence_sort as demo
    return gr, demo


def _no_weights(device):
    raise FileNotFoundError("no shipped model")


@pytest.fixture(scope="module")
def untrained():
    """The tab as it is before `python -m core.train sequence_sort`: no shipped model."""
    from demos.tab import Tab
    return Tab("sequence_sort", "cpu", load=_no_weights)


@pytest.fixture(scope="module")
def mine(tiny_model):
    """A visitor's own model, as a live training run leaves it in their state."""
    from demos.tab import Tab
    return Tab.yours(tiny_model, "a tiny test model")


def test_tab_builds(tab):
    gr, demo = tab
    with gr.Blocks():
        demo.build("cpu")


def test_sort_handler_on_a_bundled_example(tab, untrained, mine):
    gr, demo = tab
    path = demo.examples()[0][0]
    out = demo.sort_clip(untrained, path, "auto", "random", 0, mine)
    fig_e, sampled, shuffled, answer, fig_p, verdict = out
    assert sampled.ndim == 3 and shuffled.shape == sampled.shape and answer.shape == sampled.shape
    assert fig_e is not None and fig_p is not None
    assert "Right" in verdict or "Wrong" in verdict
    out = demo.sort_clip(untrained, path, "2", "3 1 4 2", 0, mine)
    assert "your model (" in out[-1].lower()
    img, text = demo.verify_triplet(untrained, path, "in order", 0, mine)
    assert img.ndim == 3 and "P(in order)" in text


def test_handlers_refuse_bad_input(tab, untrained, mine, tmp_path):
    gr, demo = tab
    from demos.common import friendly
    sort = friendly(demo.sort_clip)
    with pytest.raises(gr.Error):
        sort(untrained, None, "auto", "random", 0, mine)
    bad = tmp_path / "not_a_video.mp4"
    bad.write_text("hello")
    with pytest.raises(gr.Error):
        sort(untrained, str(bad), "auto", "random", 0, mine)
    path = demo.examples()[0][0]
    with pytest.raises(gr.Error, match="distinct"):
        sort(untrained, path, "auto", "1 1 2 3", 0, mine)
    with pytest.raises(gr.Error):
        friendly(demo.train_live)(untrained, path, False, "scratch", 5, None)
    with pytest.raises(gr.Error, match="not been trained"):
        sort(untrained, path, "auto", "random", 0, None)


def test_live_training_handler(tab, untrained):
    gr, demo = tab
    model, fig, msg = demo.train_live(untrained, None, False, "scratch", 10, None, progress=None)
    assert model is not None and fig is not None and "10 steps" in msg
