"""Contrastive (InfoNCE, MIL-NCE): losses against naive loops and hand-worked cases, the data's misalignment,
the contract, a short run that beats chance, the tab."""
from __future__ import annotations

import dataclasses
import math
import os

import numpy as np
import pytest
import torch

from core import contrastive as C

torch.set_num_threads(1)

TINY = C.Config(width=8, dim=16, word_dim=16, batch=8, pool=8, segments=6, warmup=5)


# --------------------------------------------------------------------- losses against naive loops

def _naive_info_nce(sim: torch.Tensor, tau: float) -> float:
    B = len(sim)
    rows = sum(-math.log(math.exp(sim[i, i] / tau) / sum(math.exp(sim[i, j] / tau) for j in range(B)))
               for i in range(B))
    cols = sum(-math.log(math.exp(sim[i, i] / tau) / sum(math.exp(sim[j, i] / tau) for j in range(B)))
               for i in range(B))
    return 0.5 * (rows + cols) / B


def _naive_mil_nce(sim: torch.Tensor, pos: torch.Tensor, tau: float) -> float:
    """Miech et al. eq. 1 with the official code's denominator: clip i's row, plus every clip with i's bag."""
    B, M = sim.shape
    total = 0.0
    for i in range(B):
        bag = [j for j in range(M) if pos[i, j]]
        num = sum(math.exp(sim[i, j] / tau) for j in bag)
        den = sum(math.exp(sim[i, j] / tau) for j in range(M)) + sum(
            math.exp(sim[k, j] / tau) for k in range(B) for j in bag)
        total += -math.log(num / den)
    return total / B


def test_info_nce_matches_naive_loop_and_chance():
    g = torch.Generator().manual_seed(0)
    sim = torch.randn(5, 5, generator=g, dtype=torch.float64).tanh()
    assert float(C.info_nce(sim, 0.3)) == pytest.approx(_naive_info_nce(sim, 0.3), rel=1e-10)
    assert float(C.info_nce(torch.zeros(7, 7), 0.1)) == pytest.approx(math.log(7), rel=1e-6)   # chance: log B
    with pytest.raises(ValueError, match="square"):
        C.info_nce(torch.zeros(3, 4), 0.1)


def test_mil_nce_matches_naive_loop_and_hand_worked_case():
    g = torch.Generator().manual_seed(1)
    sim = torch.randn(3, 6, generator=g, dtype=torch.float64).tanh()
    pos = C.bag_positives(3, 2)
    assert pos.tolist() == [[1, 1, 0, 0, 0, 0], [0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1]]
    assert float(C.mil_nce(sim, pos, 0.2)) == pytest.approx(_naive_mil_nce(sim, pos, 0.2), rel=1e-10)
    ragged = torch.tensor([[1, 0, 1, 0, 0, 0], [0, 1, 0, 0, 0, 0], [0, 0, 0, 1, 1, 1]], dtype=torch.bool)
    assert float(C.mil_nce(sim, ragged, 0.5)) == pytest.approx(_naive_mil_nce(sim, ragged, 0.5), rel=1e-10)
    # hand-worked: two clips, bags of one, all similarities 0: -log(1 / (2 + 2)) = log 4 per clip
    assert float(C.mil_nce(torch.zeros(2, 2), torch.eye(2, dtype=torch.bool), 1.0)) == pytest.approx(math.log(4))
    # a bag of two with one right narration (sim 1) and one wrong (sim -1), tau 1, one other clip at 0
    s = torch.tensor([[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]])
    p = torch.tensor([[True, True, False], [False, False, True]])
    e = math.e
    clip0 = -math.log((e + 1 / e) / ((e + 1 / e + 1) + (e + 1 / e + 1 + 1)))
    clip1 = -math.log(1 / (3 + 2))
    assert float(C.mil_nce(s, p, 1.0)) == pytest.approx((clip0 + clip1) / 2, rel=1e-6)
    with pytest.raises(ValueError, match="at least one positive"):
        C.mil_nce(sim, torch.zeros(3, 6, dtype=torch.bool), 0.1)


def test_mil_nce_is_content_with_one_right_narration_where_info_nce_is_not():
    """The bag's point: a clip whose nearest narration is wrong but whose bag holds the right one."""
    clip = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    right, wrong = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 0.0])
    bags = torch.stack([torch.stack([wrong, right]), torch.stack([clip[1], -clip[1]])])   # (B, K, D)
    sim = clip @ bags.flatten(0, 1).T
    mil = float(C.mil_nce(sim, C.bag_positives(2, 2), 0.1))
    nce = float(C.info_nce(clip @ bags[:, 0].T, 0.1))
    assert mil < 1.0 < nce


def test_contrastive_loss_picks_the_loss_and_counts_accuracy():
    g = torch.Generator().manual_seed(2)
    clip = torch.nn.functional.normalize(torch.randn(4, 8, generator=g), dim=-1)
    bags = torch.nn.functional.normalize(torch.randn(4, 3, 8, generator=g), dim=-1)
    bags[:, 0] = clip                                           # each nearest narration is its clip exactly
    for loss in C.LOSSES:
        value, stats = C.contrastive_loss(clip, bags, dataclasses.replace(TINY, loss=loss))
        assert torch.isfinite(value) and stats["acc"] == 1.0 and stats["pos_sim"] == pytest.approx(1.0)
    v_nce, _ = C.contrastive_loss(clip, bags, dataclasses.replace(TINY, loss="infonce"))
    assert float(v_nce) == pytest.approx(float(C.info_nce(clip @ clip.T, TINY.temperature)))
    with pytest.raises(ValueError, match="unknown loss"):
        C.contrastive_loss(clip, bags, dataclasses.replace(TINY, loss="triplet"))


# --------------------------------------------------------------------- words and the data

def test_every_narration_word_is_in_the_vocabulary():
    texts = [t for e in C.EVENTS for t in C.narrations(e)] + list(C.FILLERS)
    for t in texts:
        assert C.UNK not in C.tokenize(t, 20), t
    assert C.tokenize("The RED disc, moves... zigzag", 12) == [
        C.VOCAB.index("the"), C.VOCAB.index("red"), C.VOCAB.index("disc"), C.VOCAB.index("moves"), C.UNK]
    tok = C.tokens_tensor(["red disc", ""], 4)
    assert tok.tolist() == [[C.VOCAB.index("red"), C.VOCAB.index("disc"), 0, 0], [0, 0, 0, 0]]
    assert C.known_words("a purple disc") == (["a", "disc"], ["purple"])


def test_narration_timing_and_unrelated_share_follow_the_knobs():
    rng = np.random.default_rng(0)
    events = C.sample_events(rng, 400)
    texts, times, about = C.narrate(rng, events, 0.0, 0.0)
    np.testing.assert_array_equal(times, np.arange(400))
    np.testing.assert_array_equal(about, events)
    assert all(t in C.narrations(C.EVENTS[e]) for t, e in zip(texts, events))
    texts, times, about = C.narrate(rng, events, 2.0, 0.5)
    off = times - np.arange(400)
    assert off.min() >= -2 and off.max() <= 2 and off.std() > 0.9          # uniform(-2, 2): std 1.15
    assert 0.4 < (about != events).mean() < 0.6
    filler = about == -1
    assert 0.15 < filler.mean() < 0.35 and all(texts[i] in C.FILLERS for i in np.flatnonzero(filler))


def test_cut_takes_the_clip_at_the_narrations_time_and_the_nearest_bag():
    video = {"times": np.array([0.2, 2.6, 1.9, 3.0, 6.0])}
    m, order = C.cut(video, 1, 3)
    assert m == 3 and order.tolist() == [1, 3, 2]                           # round(2.6) = 3; nearest 3.0, then 1.9
    m, order = C.cut(video, 0, 1)
    assert m == 0 and order.tolist() == [0]


def test_label_quality_falls_with_misalignment_and_the_bag_recovers_it():
    aligned = C.label_quality(0.0, 0.0, 5, n_videos=20)
    assert aligned == {"nearest_right": 1.0, "bag_right": 1.0}
    shifted = C.label_quality(3.0, 0.3, 5, n_videos=60)
    assert shifted["nearest_right"] < 0.3 and shifted["bag_right"] > 2 * shifted["nearest_right"]


def test_rendered_sprite_moves_the_way_its_narration_says():
    rng = np.random.default_rng(3)
    bg = np.full((48, 48, 3), 0.5)
    for d, (dy, dx) in C.DIRECTIONS.items():
        clip = C.data.render_sprite(rng, bg, "red", "square", d, 8, 32)
        assert clip.shape == (8, 32, 32, 3) and clip.dtype == np.uint8
        red = (clip[..., 0].astype(int) - clip[..., 1].astype(int)) > 60         # (T, S, S)
        ys, xs = zip(*[np.argwhere(f).mean(0) for f in red])
        move = np.array([ys[-1] - ys[0], xs[-1] - xs[0]])
        assert move @ np.array([dy, dx]) > 3, (d, move)


def test_pool_batches_have_the_configured_shapes():
    pool = C.VideoPool(TINY, np.random.default_rng(0))
    clips, tokens = pool.batch("cpu")
    assert clips.shape == (8, TINY.frames, 3, TINY.size, TINY.size) and 0 <= clips.min() and clips.max() <= 1
    assert tokens.shape == (8, TINY.bag, TINY.max_words) and tokens.dtype == torch.long
    s = pool.sample(4, bag=2)
    assert s["about"].shape == (4, 2) and len(s["texts"]) == 4 and len(s["texts"][0]) == 2


# --------------------------------------------------------------------- model and contract

def test_model_shapes_and_unit_norm():
    model = C.build_model(TINY).eval()
    clip_emb, text_emb = model(torch.rand(3, TINY.frames, 3, 32, 32), C.tokens_tensor(["red disc", "a", ""], 12))
    assert clip_emb.shape == (3, TINY.dim) and text_emb.shape == (3, TINY.dim)
    torch.testing.assert_close(clip_emb.norm(dim=1), torch.ones(3))
    torch.testing.assert_close(text_emb.norm(dim=1), torch.ones(3))
    from core import common
    assert 100_000 < common.count_params(C.build_model(C.Config())) < 400_000


def test_padding_does_not_change_a_narrations_embedding():
    model = C.build_model(TINY).eval()
    short = model.text(C.tokens_tensor(["the red disc"], 3))
    long = model.text(C.tokens_tensor(["the red disc"], 12))
    torch.testing.assert_close(short, long)


def test_embed_contract_any_size_and_unit_rows():
    model = C.build_model(TINY).eval()
    rng = np.random.default_rng(0)
    clips = [rng.integers(0, 256, (t, h, w, 3), dtype=np.uint8) for t, h, w in ((3, 20, 30), (20, 64, 48), (8, 32, 32))]
    e = C.embed_clips(model, clips)
    assert e.shape == (3, TINY.dim) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, rtol=1e-5)
    t = C.embed_texts(model, ["the blue cross moves up", "zzz", ""])
    assert t.shape == (3, TINY.dim) and t.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(t, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(C.embed_texts(model, "the blue cross moves up"), t[:1], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="list"):
        C.embed_clips(model, clips[2])
    with pytest.raises(ValueError, match="empty"):
        C.embed_clips(model, [])
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        C.embed_clips(model, [np.zeros((4, 4, 3), np.uint8)])


def test_retrieve_and_recall_hand_worked():
    clips = np.eye(3, dtype=np.float32)
    texts = np.array([[0, 1, 0], [0.9, 0.1, 0], [0, 0.2, 0.8]], np.float32)
    idx, sim = C.retrieve(texts, clips, k=2)
    assert idx.tolist() == [[1, 0], [0, 1], [2, 1]]
    assert C.recall_at(texts, clips, np.array([1, 0, 1]), ks=(1, 2)) == {"r1": pytest.approx(2 / 3), "r2": 1.0}


def test_batch_losses_at_chance_and_fewer_negatives():
    D = 4
    clip = np.tile(np.eye(D)[:1], (6, 1))
    out = C.batch_losses(clip, np.tile(clip[:, None], (1, 3, 1)), 0.1)
    assert out["infonce"] == pytest.approx(out["infonce_chance"]) and out["batch"] == 6
    assert out["milnce"] == pytest.approx(out["milnce_chance"])
    assert C.batch_losses(clip, np.tile(clip[:, None], (1, 3, 1)), 0.1, negatives=2)["batch"] == 3
    with pytest.raises(ValueError, match="negative"):
        C.batch_losses(clip, clip[:, None], 0.1, negatives=0)


def test_held_out_gallery_has_one_clip_per_action():
    g = C.held_out_gallery(seed=C.HELD_OUT_SEED + 5)
    assert g["clips"].shape == (len(C.EVENTS), 8, 32, 32, 3)
    assert len(set(g["queries"])) == len(C.EVENTS)
    assert all(q in C.narrations(C.EVENTS[e]) for q, e in zip(g["queries"], g["events"]))


# --------------------------------------------------------------------- a short training run

def test_short_run_beats_chance_on_held_out_clips():
    """200 steps of MIL-NCE on misaligned narration, narration -> clip R@5 on a held-out gallery above chance."""
    cfg = dataclasses.replace(C.Config(), steps=200, pool=48, batch=24, loss="milnce", shift=1.0, unrelated=0.1)
    model, history = C.train(cfg, 200, "cpu")
    assert np.isfinite(history["loss"]).all() and history["loss"][-1] < history["loss"][0]
    r = C.retrieval(model, [C.held_out_gallery()])
    chance5 = 5 / len(C.EVENTS)
    assert r["r5"] > 3 * chance5, r


def test_same_seed_same_batches_for_both_losses_and_continuing_keeps_the_architecture():
    a, ha = C.train(dataclasses.replace(TINY, loss="infonce"), 3, "cpu")
    b, hb = C.train(dataclasses.replace(TINY, loss="milnce"), 3, "cpu")
    assert ha["step"] == hb["step"] == [1, 2, 3] and not np.allclose(ha["loss"], hb["loss"])
    pa = C.VideoPool(TINY, np.random.default_rng(4)).sample(3)
    pb = C.VideoPool(dataclasses.replace(TINY, loss="infonce"), np.random.default_rng(4)).sample(3)
    np.testing.assert_array_equal(pa["clips"], pb["clips"])
    again, _ = C.train(dataclasses.replace(TINY, width=4, dim=8, lr=5e-4), 2, "cpu", model=a)
    assert (again.config.width, again.config.dim, again.config.lr) == (8, 16, 5e-4)
    assert again is not a


# --------------------------------------------------------------------- shipped model

needs_weights = pytest.mark.skipif(not os.path.isfile(os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "assets", "models", "contrastive.pt")), reason="no shipped weights yet")


@needs_weights
def test_shipped_model_retrieves_held_out_clips_and_card_states_the_sweep():
    from core import common
    model = C.load_pretrained("cpu")
    r = C.retrieval(model, [C.held_out_gallery(C.HELD_OUT_SEED + 7)])
    assert r["r1"] > 10 / len(C.EVENTS), r
    m = common.read_card("contrastive")["metrics"]
    for k in ("infonce_r1", "milnce_r1", "infonce_r1_std", "milnce_r1_std", "milnce_minus_infonce_r1",
              "milnce_minus_infonce_r1_std", "chance_r1"):
        assert k in m, k
    assert m["milnce_r1"] > m["infonce_r1"] > m["chance_r1"]


# --------------------------------------------------------------------- the tab

@pytest.fixture(scope="module")
def tab():
    pytest.importorskip("gradio")
    from demos import contrastive as tab_module
    from demos.tab import Tab

    model = C.build_model(TINY).eval()             # the tab's logic does not depend on the shipped weights
    return tab_module, Tab("contrastive", "cpu", load=lambda device: model)


def test_tab_batch_marks_positives_and_answers_the_controls(tab):
    m, t = tab
    pic, matrix, curves, text = m.show_batch(t, m.LEVEL_NAMES[-1], "MIL-NCE (bag of 5)", 0.1, 5, 3, None)
    assert pic.ndim == 3 and pic.shape[2] == 3 and pic.shape[0] > 6 * 20
    assert matrix is not None and curves is not None and "6 clips, 5 negatives each" in text
    _, _, _, sharper = m.show_batch(t, m.LEVEL_NAMES[0], "InfoNCE (one positive)", 0.02, 5, 3, None)
    assert "nearest in time, **6** truly" in sharper    # aligned: every nearest narration describes its clip
    import gradio as gr
    with pytest.raises(gr.Error):
        t.handler(m.show_batch)("no such level", "InfoNCE (one positive)", 0.1, 5, 0, None)
    with pytest.raises(gr.Error):
        t.handler(m.show_batch)(m.LEVEL_NAMES[0], "InfoNCE (one positive)", float("nan"), 5, 0, None)


def test_tab_retrieve_marks_the_right_clip_and_unknown_words(tab):
    m, t = tab
    pic, text = m.retrieve(t, "the red disc moves left", None)
    assert pic.ndim == 3 and "ranks **#" in text
    _, text = m.retrieve(t, "a purple elephant", None)
    assert "purple, elephant" in text and "no clip is marked" in text
    import gradio as gr
    with pytest.raises(gr.Error):
        t.handler(m.retrieve)("   ", None)


def test_tab_trains_live_and_then_answers_with_the_visitors_model(tab):
    m, t = tab
    mine, fig, msg = m.train_live(t, "InfoNCE (one positive)", m.LEVEL_NAMES[1], 50, 0.1, 7, None, progress=None)
    assert mine["model"] is not t.shipped() and "R@1" in msg and fig is not None
    _, text = m.retrieve(t, "the blue cross moves up", mine)
    assert "your model" in text
    fig = m.sweep_figure({})                         # no card yet: a figure that says so
    assert fig is not None


def test_the_tab_refuses_an_empty_or_huge_narration_and_keeps_answering():
    import gradio as gr

    from demos import contrastive as tab_module
    from demos.tab import Tab

    tab = Tab("contrastive", "cpu")
    for bad, words in (("", "narration"), ("   ", "narration"), ("x" * 5000, "at most")):
        with pytest.raises(gr.Error, match=words):
            tab_module.retrieve(tab, bad, None)
    found, text = tab_module.retrieve(tab, tab_module.EXAMPLE_QUERIES[0], None)
    assert found is not None and "Query" in text
