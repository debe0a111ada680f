"""core.jigsaw and its tab: permutation set, tiles, model, loss, contract, a short training run, handlers."""
from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from core import common, sources, jigsaw
from core.jigsaw import model as jigsaw_model

torch.set_num_threads(1)


def _image(seed=0, size=96):
    """A smooth picture with structure: gradients and a few discs (each 3x3 arrangement is distinct)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = np.stack([yy, xx, 0.5 + 0.5 * np.sin(6 * xx * yy + rng.uniform(0, 6))], -1)
    for _ in range(4):
        cy, cx, r = rng.uniform(0, 1, 2).tolist() + [rng.uniform(0.1, 0.3)]
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.uniform(0, 1, 3)
    return (img * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def small():
    cfg = jigsaw.Config(n_perms=10, widths=(8, 16, 16, 16), embed=16, hidden=32, batch=8, perms_per_image=4,
                        eval_every=0, warmup=10, log_every=10, dropout=0.0)
    torch.manual_seed(0)
    return jigsaw.build_model(cfg).eval()


# --------------------------------------------------------------------- permutation set

def test_permutation_set_unique_deterministic_and_spread():
    a = jigsaw.max_hamming_set(100, seed=0)
    assert a.shape == (100, 9) and np.array_equal(a, jigsaw.max_hamming_set(100, seed=0))
    assert np.array_equal(a[:20], jigsaw_model._greedy_set(20, seed=0))        # recomputed: same seed, same picks
    assert len({tuple(p) for p in a}) == 100
    assert all(sorted(p) == list(range(9)) for p in a.tolist())
    assert not np.array_equal(a[:20], jigsaw_model._greedy_set(20, seed=1))
    off = ~np.eye(100, dtype=bool)
    d, r = jigsaw.hamming(a, a)[off], jigsaw.hamming(*(2 * [jigsaw.random_set(100, seed=0)]))[off]
    assert d.min() > r.min() and d.mean() > r.mean()


def test_greedy_step_maximizes_mean_distance_naively():
    """Each pick of Algorithm 1 has the largest mean distance to the earlier picks, over all 9! candidates."""
    s = jigsaw.max_hamming_set(12, seed=3)
    pool = jigsaw.all_permutations().astype(np.int64)
    for i in range(1, len(s)):
        chosen = s[:i]
        mean = (pool[:, None, :] != chosen[None]).sum(-1).mean(1)
        taken = (pool[:, None, :] == chosen[None]).all(-1).any(1)
        assert np.isclose(mean[~taken].max(), (s[i] != chosen).sum(-1).mean())


def test_hamming_hand_worked():
    ident = np.arange(9)[None]
    swap = np.array([[1, 0, 2, 3, 4, 5, 6, 7, 8]])
    assert jigsaw.hamming(ident, swap)[0, 0] == 2
    assert jigsaw.hamming(ident, ident)[0, 0] == 0


def test_permutations_stored_in_model(small, tmp_path):
    path = str(tmp_path / "j.pt")
    common.save_checkpoint(small, small.config, path)
    loaded = jigsaw.load_pretrained("cpu", path)
    assert "perms" in small.state_dict()
    assert np.array_equal(jigsaw.permutations(loaded), jigsaw.permutations(small))
    assert np.array_equal(jigsaw.permutations(small), jigsaw.max_hamming_set(10, 0))


# --------------------------------------------------------------------- tiles

def test_shuffle_moves_cells_as_documented():
    img = np.zeros((30, 33, 3), np.uint8)
    sq = img[0:30, 1:31]                                          # centre square, side 30
    for j in range(9):
        r, q = divmod(j, 3)
        sq[r * 10:(r + 1) * 10, q * 10:(q + 1) * 10] = j * 20
    perm = np.array([4, 0, 8, 1, 2, 3, 5, 7, 6])
    pz = jigsaw.shuffle(img, perm)
    assert pz.shape == (30, 30, 3)
    for j in range(9):                                            # cell j of the puzzle shows cell perm[j]
        r, q = divmod(j, 3)
        assert (pz[r * 10:(r + 1) * 10, q * 10:(q + 1) * 10] == perm[j] * 20).all()
    assert np.array_equal(jigsaw.unshuffle(pz, perm), sq)


def test_random_tiles_stay_inside_their_cells_with_a_gap():
    B, c, t = 5, 19, 16
    cells = torch.zeros(B, 9, 3, c, c)
    for j in range(9):
        cells[:, j] = j
        cells[:, j, :, 0, :] = -1                                 # mark each cell's border rows/cols
        cells[:, j, :, :, 0] = -1
    g = torch.Generator().manual_seed(0)
    tiles = jigsaw.random_tiles(cells, t, g)
    assert tiles.shape == (B, 9, 3, t, t)
    for j in range(9):
        v = tiles[:, j]
        assert ((v == j) | (v == -1)).all()                       # never a pixel of another cell
    centre = jigsaw.centre_tiles(cells, t)
    assert centre.shape == (B, 9, 3, t, t) and (centre != -1).all()   # the test-time tile leaves a gap


def test_random_tiles_match_a_naive_loop():
    cells = torch.rand(2, 9, 3, 19, 19)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    got = jigsaw.random_tiles(cells, 16, g1)
    oy, ox = torch.randint(0, 4, (2, 9), generator=g2), torch.randint(0, 4, (2, 9), generator=g2)
    for b in range(2):
        for j in range(9):
            want = cells[b, j, :, oy[b, j]:oy[b, j] + 16, ox[b, j]:ox[b, j] + 16]
            assert torch.equal(got[b, j], want)


def test_normalize_tiles_each_alone():
    x = torch.rand(2, 9, 3, 16, 16) * 0.5 + torch.arange(9).view(1, 9, 1, 1, 1) * 0.05
    y = jigsaw.normalize_tiles(x, 0.0)
    assert torch.allclose(y.mean((-2, -1)), torch.zeros(2, 9, 3), atol=1e-5)
    assert torch.allclose(y.pow(2).mean((-3, -2, -1)), torch.ones(2, 9), atol=1e-4)
    flat = jigsaw.normalize_tiles(torch.full((1, 9, 3, 16, 16), 0.3) + 1e-3 * torch.rand(1, 9, 3, 16, 16), 0.05)
    assert flat.abs().max() < 0.1                                 # a flat tile is not blown up into noise


def test_permute_tiles_matches_naive():
    x = torch.rand(3, 9, 5)
    perms = torch.as_tensor(jigsaw.max_hamming_set(10, 0))
    idx = torch.tensor([[0, 3], [9, 1], [4, 4]])
    out = jigsaw.permute_tiles(x, idx, perms)
    for b in range(3):
        for k in range(2):
            for j in range(9):
                assert torch.equal(out[b, k, j], x[b, perms[idx[b, k], j]])


# --------------------------------------------------------------------- model and loss

def test_model_shapes(small):
    cfg = small.config
    tiles = torch.randn(4, 9, 3, cfg.tile, cfg.tile)
    assert small.embed_tiles(tiles).shape == (4, 9, cfg.embed)
    assert small(tiles).shape == (4, cfg.n_perms)
    assert small.features(torch.randn(2, 3, 32, 32)).shape == (2, cfg.widths[-1] * 4)
    full = jigsaw.build_model(jigsaw.Config())
    assert common.count_params(full) < 2_000_000


def test_context_free_trunk_sees_one_tile_at_a_time(small):
    tiles = torch.randn(1, 9, 3, 16, 16)
    e1 = small.embed_tiles(tiles)
    tiles2 = tiles.clone()
    tiles2[0, 4] = torch.randn(3, 16, 16)
    e2 = small.embed_tiles(tiles2)
    changed = (e1 - e2).abs().sum(-1)[0]
    assert changed[4] > 0 and torch.all(changed[[0, 1, 2, 3, 5, 6, 7, 8]] == 0)


def test_loss_matches_naive():
    logits = torch.randn(6, 10)
    y = torch.tensor([0, 3, 9, 2, 2, 5])
    loss, acc = jigsaw.jigsaw_loss(logits, y)
    naive = -np.mean([logits[i, y[i]].item() - np.log(np.exp(logits[i].numpy()).sum()) for i in range(6)])
    assert np.isclose(loss.item(), naive, atol=1e-5)
    assert np.isclose(acc.item(), np.mean([logits[i].argmax().item() == y[i].item() for i in range(6)]))


def test_puzzle_loss_matches_one_puzzle_at_a_time(small):
    """Permuting each image's embeddings once equals building every puzzle from its tiles and classifying it."""
    tiles = torch.randn(3, 9, 3, 16, 16)
    idx = torch.tensor([[0, 7], [3, 3], [9, 1]])
    loss, parts = jigsaw.puzzle_loss(small, tiles, idx)
    perms = small.perms
    puzzles = torch.stack([tiles[b, perms[idx[b, k]]] for b in range(3) for k in range(2)])    # (6, 9, 3, t, t)
    want, acc = jigsaw.jigsaw_loss(small(puzzles), idx.reshape(-1))
    assert torch.allclose(loss, want, atol=1e-5) and torch.isclose(parts["acc"], acc)


def test_continuing_keeps_the_models_architecture():
    """Architecture fields (shapes, the permutation set) come from the model; training fields from the config."""
    base = jigsaw.build_model(jigsaw.Config(n_perms=10, widths=(8, 16, 16, 16), embed=16, hidden=32))
    cfg = jigsaw.Config(batch=4, perms_per_image=2, lr=1e-4, eval_every=0, log_every=1)
    model, history = jigsaw.train(cfg, 2, "cpu", model=base, images=[_image(0, 60)])
    assert (model.config.n_perms, model.config.widths, model.config.embed) == (10, (8, 16, 16, 16), 16)
    assert model.config.lr == 1e-4 and model.config.batch == 4
    assert np.array_equal(jigsaw.permutations(model), jigsaw.permutations(base))
    assert history["step"] == [1, 2]


# --------------------------------------------------------------------- contract

def test_predict_contract_and_fast_path_agree(small):
    img = _image(1, 90)
    perms = jigsaw.permutations(small)
    all_probs = jigsaw.predict_all(small, img)
    assert all_probs.shape == (10, 10)
    for k in (0, 3, 9):
        p = jigsaw.predict(small, jigsaw.shuffle(img, perms[k]))
        assert p.shape == (10,) and p.dtype == np.float32
        assert np.isclose(p.sum(), 1, atol=1e-5) and (p >= 0).all()
        assert np.allclose(p, all_probs[k], atol=1e-5)


def test_edge_baseline_solves_a_smooth_picture(small):
    img = _image(2, 120)
    scores = jigsaw.edge_baseline_all(img, jigsaw.permutations(small), small.config.cell, small.config.tile)
    assert (scores.argmax(1) == np.arange(10)).mean() >= 0.8
    k = 4
    assert np.allclose(jigsaw.edge_baseline(small, jigsaw.shuffle(img, jigsaw.permutations(small)[k])),
                       scores[k], atol=1e-3)


@settings(max_examples=15, deadline=None)
@given(h=st.integers(1, 70), w=st.integers(1, 70), c=st.sampled_from([1, 3, 4]),
       dtype=st.sampled_from(["uint8", "float32", "int64", "float64"]), scale=st.sampled_from([1.0, 255.0, -3.0]))
def test_shuffle_and_predict_random_inputs(small, h, w, c, dtype, scale):
    rng = np.random.default_rng(h * 100 + w)
    arr = (rng.random((h, w, c)) * scale).astype(dtype)
    perm = jigsaw.permutations(small)[1]
    try:
        pz = jigsaw.shuffle(arr, perm)
    except ValueError as err:
        assert "must" in str(err) or "need" in str(err)
        return
    assert c == 3 and min(h, w) >= 9
    assert pz.dtype == np.uint8 and pz.shape == (min(h, w) // 3 * 3,) * 2 + (3,)
    p = jigsaw.predict(small, pz)
    assert p.shape == (10,) and np.isfinite(p).all()


@pytest.mark.parametrize("perm", [[0] * 9, list(range(8)), [0, 1, 2, 3, 4, 5, 6, 7, 9], [0.5] * 9])
def test_bad_permutation_raises(perm):
    with pytest.raises(ValueError, match="permutation of 0..8"):
        jigsaw.shuffle(_image(), np.array(perm))


def test_bad_puzzle_raises(small):
    for bad in (np.zeros((5, 5, 3), np.uint8), np.zeros((20, 20), np.uint8), np.zeros((2, 20, 20, 3), np.uint8)):
        with pytest.raises(ValueError):
            jigsaw.predict(small, bad)


# --------------------------------------------------------------------- training

def test_short_training_run_beats_chance(small):
    """Tiny network, 10 classes, a few pictures: training accuracy far above chance (10%) in seconds."""
    pictures = [_image(s, 96) for s in range(4)]
    model, history = jigsaw.train(small.config, 150, "cpu", images=pictures)
    assert history["step"][-1] == 150 and len(history["loss"]) == len(history["acc"])
    assert history["loss"][-1] < history["loss"][0]
    probs = np.concatenate([jigsaw.predict_all(model, p) for p in pictures])
    acc = (probs.argmax(1) == np.tile(np.arange(10), 4)).mean()
    assert acc >= 0.5, acc


def test_train_continues_a_copy(small):
    before = {k: v.clone() for k, v in small.state_dict().items()}
    model, _ = jigsaw.train(small.config, 3, "cpu", model=small, images=[_image(0, 60)])
    assert model is not small
    assert all(torch.equal(before[k], v) for k, v in small.state_dict().items())


def test_train_uses_its_own_warmup_cap(small):
    """Warm-up is at most steps // 4 (Config.warmup_div), then cosine: 8 steps warm up over 2."""
    cfg = dataclasses.replace(small.config, warmup=100, log_every=1, lr=1e-3)
    _, history = jigsaw.train(cfg, 8, "cpu", images=[_image(0, 60)])
    assert history["lr"][:2] == pytest.approx([5e-4, 1e-3]) and history["lr"][-1] < 1e-3


def test_train_rejects_tiny_images(small):
    with pytest.raises(ValueError):
        jigsaw.train(small.config, 2, "cpu", images=[np.zeros((8, 8, 3), np.uint8)])


def test_probe_dataset_and_linear_probe():
    X, y = jigsaw.probe_dataset(60, seed=0)
    assert X.shape == (60, 32, 32, 3) and X.dtype == np.uint8 and set(y) <= set(range(6))
    f = torch.as_tensor(np.eye(6)[y] + 0.01 * np.random.default_rng(0).standard_normal((60, 6)), dtype=torch.float32)
    assert jigsaw.linear_probe(f[:40], y[:40], f[40:], y[40:]) == 1.0       # separable features: perfect


def test_quick_preset_is_smaller():
    assert jigsaw.Config.quick().steps < jigsaw.Config().steps


# --------------------------------------------------------------------- shipped model and tab

needs_weights = pytest.mark.skipif(not os.path.isfile(common.weights_path("jigsaw")), reason="no shipped weights")


@needs_weights
def test_shipped_model_loads_and_predicts():
    model = jigsaw.load_pretrained("cpu")
    assert jigsaw.permutations(model).shape == (100, 9)
    p = jigsaw.predict(model, jigsaw.shuffle(sources.load_photo("astronaut"), jigsaw.permutations(model)[7]))
    assert p.shape == (100,)


@pytest.fixture(scope="module")
def tab():
    gr = pytest.importorskip("gradio")
    if not os.path.isfile(common.weights_path("jigsaw")):
        pytest.skip("no shipped weights")
    from demos import jigsaw as tab_module
    with gr.Blocks() as demo:
        tab_module.build("cpu")
    fns = demo.fns.values() if hasattr(demo.fns, "values") else demo.fns
    return {f.api_name: f.fn for f in fns}


def test_tab_solve_returns_every_output(tab):
    out = tab["jigsaw_solve"](sources.example_path("photos/cat.jpg"), 7, False, None)
    tiles, puzzle, back, fig, verdict, k = out
    assert tiles.shape == puzzle.shape == back.shape and tiles.shape[-1] == 3
    assert fig is not None and "Answered" in verdict and k == 7
    assert tab["jigsaw_solve"](sources.load_photo("coffee"), 0, True, None)[5] in range(100)


def test_tab_bad_inputs_raise_gr_error(tab, tmp_path):
    import gradio as gr
    bad = tmp_path / "not_an_image.png"
    bad.write_text("hello")
    for value in (None, str(bad), np.zeros((4, 4, 3), np.uint8)):
        with pytest.raises(gr.Error):
            tab["jigsaw_solve"](value, 3, False, None)
    with pytest.raises(gr.Error):
        tab["jigsaw_train"](None, 10, "from scratch", None)


def test_tab_train_live_then_solve_uses_user_model(tab):
    user, fig, msg = tab["jigsaw_train"](sources.example_path("photos/rocket.jpg"), 10, "from the shipped model", None)
    assert user["note"].startswith("10 live steps") and fig is not None and "Trained 10 steps" in msg
    verdict = tab["jigsaw_solve"](sources.example_path("photos/rocket.jpg"), 3, False, user)[4]
    assert "your model" in verdict


@pytest.mark.skipif(not os.path.isfile(os.path.join(sources.CACHE, "jigsaw_images_v1.npz")), reason="no photo cache")
def test_object_probe_splits_by_stamp():
    Xa, ya, Xb, yb = jigsaw.object_probe_dataset(size=32, views=1)
    assert Xa.shape[1:] == (32, 32, 3) and set(ya) == set(yb) == set(range(len(jigsaw.OBJECT_CLASSES)))
    assert abs(len(Xa) - len(Xb)) <= len(jigsaw.OBJECT_CLASSES)             # even/odd stamps of each class
