"""VideoMAE: masking, tubelets, the loss, the encoder's blindness to hidden tokens, the contract, the tab."""
from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import common
from core import videomae as vm

torch.set_num_threads(1)

TINY = vm.Config(image_size=32, patch_size=8, tubelet_size=2, num_frames=8, encoder_dim=32, encoder_depth=1,
                 encoder_heads=2, decoder_dim=32, decoder_depth=1, decoder_heads=2, batch_size=4, lr=2e-3,
                 warmup=5, synthetic_fraction=0.0, use_sources=False)
HYPO = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return vm.build_model(TINY).eval()


@pytest.fixture(scope="module")
def shipped():
    return vm.load_pretrained()


def _clip(seed=0, T=12, H=40, W=56):
    return np.random.default_rng(seed).integers(0, 256, (T, H, W, 3), dtype=np.uint8)


# --------------------------------------------------------------------- masking

@pytest.mark.parametrize("ratio", [0.0, 0.5, 0.75, 0.9, 0.95])
@pytest.mark.parametrize("grid", [(8, 8, 8), (3, 5, 7), (1, 2, 2)])
def test_tube_mask_exact_ratio_identical_over_time(ratio, grid):
    t, h, w = grid
    mask = vm.TubeMasking(grid, ratio)(np.random.default_rng(1)).reshape(grid)
    assert mask.dtype == bool
    expected = min(h * w - 1, round(ratio * h * w))
    assert all(int(mask[i].sum()) == expected for i in range(t))          # exact count in every step
    assert (mask == mask[:1]).all()                                       # the same spatial mask over time


def test_tube_mask_90_percent_of_the_papers_grid():
    mask = vm.TubeMasking((8, 8, 8), 0.9)(np.random.default_rng(0))
    assert mask.sum() == 8 * 58 and mask.size == 512


def test_random_and_frame_masks():
    rng = np.random.default_rng(0)
    r = vm.RandomMasking((8, 8, 8), 0.9)(rng).reshape(8, 8, 8)
    assert r.sum() == round(0.9 * 512)
    assert not (r == r[:1]).all()                                          # not a tube
    f = vm.FrameMasking((8, 8, 8), 0.5)(rng).reshape(8, 64)
    assert set(f.all(1) | ~f.any(1)) == {True}                            # whole steps hidden or shown
    assert f.all(1).sum() == 4


def test_masking_rejects_bad_ratios_and_names():
    for bad in (1.0, -0.1, float("nan"), 2):
        with pytest.raises(ValueError, match="mask_ratio"):
            vm.TubeMasking((2, 2, 2), bad)
    with pytest.raises(ValueError, match="tube"):
        vm.make_masking("checkerboard", (2, 2, 2), 0.5)


@HYPO
@given(st.sampled_from(list(vm.MASKINGS)), st.integers(1, 6), st.integers(1, 6), st.integers(1, 6),
       st.floats(-0.5, 1.5, allow_nan=False))
def test_masking_any_grid(name, t, h, w, ratio):
    try:
        mask = vm.make_masking(name, (t, h, w), ratio)(np.random.default_rng(0))
    except ValueError as err:
        assert not 0 <= ratio < 1 and "mask_ratio" in str(err)
        return
    assert mask.shape == (t * h * w,) and mask.dtype == bool and (~mask).any()


# --------------------------------------------------------------------- tubelets

def test_patchify_round_trip_and_layout():
    x = torch.rand(2, 8, 3, 16, 24)
    p, ts = 8, 2
    patches = vm.patchify(x, p, ts)
    assert patches.shape == (2, 4 * 2 * 3, ts * p * p * 3)
    assert torch.equal(vm.unpatchify(patches, (4, 2, 3), p, ts), x)
    # token (t, i, j) value (a, y, x, c) is x[b, t*ts + a, c, i*p + y, j*p + x]: the paper's layout
    b, t, i, j, a, y, xx, c = 1, 3, 1, 2, 1, 5, 6, 2
    token = (t * 2 + i) * 3 + j
    value = ((a * p + y) * p + xx) * 3 + c
    assert patches[b, token, value] == x[b, t * ts + a, c, i * p + y, j * p + xx]


def test_normalized_targets_against_a_naive_loop():
    x = torch.rand(1, 4, 3, 16, 16)
    patches = vm.patchify(x, 8, 2)
    norm = vm.normalize_patches(patches, 2, 8)
    for n in range(patches.shape[1]):
        for ch in range(3):
            v = patches[0, n].reshape(-1, 3)[:, ch].double()
            want = (v - v.mean()) / (v.std(unbiased=True) + 1e-6)
            assert torch.allclose(norm[0, n].reshape(-1, 3)[:, ch].double(), want, atol=1e-4)


def test_loss_counts_masked_tokens_only():
    torch.manual_seed(0)
    B, N, P = 3, 10, 5
    target = torch.randn(B, N, P)
    mask = torch.zeros(B, N, dtype=torch.bool)
    for b in range(B):
        mask[b, torch.randperm(N)[:6]] = True
    pred = torch.randn(B, 6, P)
    total, count = 0.0, 0
    for b in range(B):                                   # naive: walk the tokens, skip the visible ones
        k = 0
        for n in range(N):
            if mask[b, n]:
                total += float(((pred[b, k] - target[b, n]) ** 2).sum())
                count += P
                k += 1
    assert abs(float(vm.masked_mse(pred, target, mask)) - total / count) < 1e-5
    target2 = target.clone()
    target2[~mask] = 1e6                                 # visible targets: anything at all
    assert float(vm.masked_mse(pred, target2, mask)) == pytest.approx(total / count, rel=1e-5)


def test_visible_frame_mean_against_a_naive_loop():
    torch.manual_seed(1)
    x = torch.rand(2, 4, 3, 16, 16)
    grid, ts = (2, 2, 2), 2
    patches = vm.patchify(x, 8, ts)
    mask = torch.tensor([[1, 0, 1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 1, 1, 1, 1]], dtype=torch.bool)  # step 1 all hidden
    got = vm.visible_frame_mean(patches, mask, grid, ts)
    coords = [(t, i, j) for t in range(2) for i in range(2) for j in range(2)]
    for b in range(2):
        k = 0
        for n, (t, i, j) in enumerate(coords):
            if not mask[b, n]:
                continue
            for a in range(ts):                      # each frame of the hidden tubelet
                frame = t * ts + a
                vis = [(ii, jj) for tt, ii, jj in coords if tt == t and not mask[b, coords.index((tt, ii, jj))]]
                if vis:
                    want = torch.stack([x[b, frame, :, ii * 8:ii * 8 + 8, jj * 8:jj * 8 + 8].mean((1, 2))
                                        for ii, jj in vis]).mean(0)
                else:                               # no visible patch in this frame: the clip's visible mean
                    allv = [(tt, ii, jj) for tt, ii, jj in coords if not mask[b, coords.index((tt, ii, jj))]]
                    want = torch.stack([x[b, tt * ts + aa, :, ii * 8:ii * 8 + 8, jj * 8:jj * 8 + 8].mean((1, 2))
                                        for tt, ii, jj in allv for aa in range(ts)]).mean(0)
                block = got[b, k].reshape(ts, 64, 3)[a]
                assert torch.allclose(block, want.expand(64, 3), atol=1e-5)
            k += 1


def test_visible_smooth_fill_against_a_naive_loop():
    """(That it reads nothing hidden: tests/test_bench.py, the smooth baseline.)"""
    torch.manual_seed(2)
    x = torch.rand(2, 4, 3, 16, 16)
    grid, ts, width = (2, 2, 2), 2, 1.5
    patches = vm.patchify(x, 8, ts)
    mask = torch.tensor([[1, 0, 1, 1, 0, 1, 1, 1], [1, 1, 1, 0, 1, 1, 0, 1]], dtype=torch.bool)
    got = vm.visible_smooth_fill(patches, mask, grid, ts, width)
    coords = [(t, i, j) for t in range(2) for i in range(2) for j in range(2)]
    for b in range(2):
        vis = [n for n in range(8) if not mask[b, n]]
        for k, n in enumerate([n for n in range(8) if mask[b, n]]):
            d2 = torch.tensor([sum((p - q) ** 2 for p, q in zip(coords[n], coords[v])) for v in vis], dtype=torch.float)
            w = torch.softmax(-d2 / (2 * width ** 2), 0)
            for a in range(ts):
                cols = torch.stack([x[b, coords[v][0] * ts + a, :, coords[v][1] * 8:coords[v][1] * 8 + 8,
                                      coords[v][2] * 8:coords[v][2] * 8 + 8].mean((1, 2)) for v in vis])
                want = (w[:, None] * cols).sum(0)
                assert torch.allclose(got[b, k].reshape(ts, 64, 3)[a], want.expand(64, 3), atol=1e-5)


def test_smooth_pixel_base_fills_from_nearby_tubelets():
    """With pixel_base="smooth" an untrained pixel head (zero residual) gives the smooth fill: on a clip
    whose left half is dark and right half light, hidden tubelets take the colour of their side, which
    the frame mean cannot."""
    c = vm.Config(image_size=32, patch_size=8, num_frames=4, encoder_dim=32, encoder_depth=1, encoder_heads=2,
                  decoder_dim=32, decoder_depth=1, decoder_heads=2, pixel_base="smooth", base_width=1.0)
    x = torch.zeros(1, 4, 3, 32, 32)
    x[..., 16:] = 1.0
    model = vm.build_model(c).eval()
    with torch.no_grad():
        model.pixel_head.weight.zero_()
        model.pixel_head.bias.zero_()
    mask = torch.ones(1, 32, dtype=torch.bool)
    mask[0, [0, 3, 16 + 12, 16 + 15]] = False                     # a tubelet at each edge, both time steps
    with torch.no_grad():
        _, pix = model(x, mask)
    pred = vm.denormalize_patches(pix).reshape(-1, 2, 64, 3).mean((1, 2, 3))     # one grey per hidden tubelet
    cols = [n % 4 for n in range(32) if mask[0, n]]
    left = pred[[k for k, col in enumerate(cols) if col == 0]]
    right = pred[[k for k, col in enumerate(cols) if col == 3]]
    assert float(left.max()) < 0.2 and float(right.min()) > 0.8
    with pytest.raises(ValueError, match="pixel_base"):
        vm.build_model(dataclasses.replace(c, pixel_base="blur"))

def test_position_tables():
    one = vm.sinusoid_table(512, 96)[0]
    assert one.shape == (512, 96)
    assert float(one[3, 4]) == pytest.approx(np.sin(3 / 10000 ** (4 / 96)), abs=1e-6)   # the paper's formula
    assert float(one[3, 5]) == pytest.approx(np.cos(3 / 10000 ** (4 / 96)), abs=1e-6)
    three = vm.sinusoid_table_3d((8, 8, 8), 96)[0].reshape(8, 8, 8, 96)
    # neighbours in space are closer than far tokens
    d = lambda a, b: float((a - b).norm())
    assert d(three[0, 2, 2], three[0, 2, 3]) < d(three[0, 2, 2], three[0, 2, 7])
    assert d(three[0, 2, 2], three[0, 3, 2]) < d(three[0, 2, 2], three[0, 7, 2])
    m = vm.build_model(dataclasses.replace(TINY, position_embedding="1d"))
    assert m.encoder_pos.shape == (1, 64, 32)
    with pytest.raises(ValueError, match="position_embedding"):
        vm.build_model(dataclasses.replace(TINY, position_embedding="2d"))


# --------------------------------------------------------------------- the model

def test_model_shapes(tiny):
    x = torch.rand(2, 8, 3, 32, 32)
    mask = vm.batch_masks(vm.TubeMasking(TINY.grid, 0.75), 2, np.random.default_rng(0), "cpu")
    n_masked = int(mask[0].sum())
    z = tiny.forward_encoder(x, mask)
    assert z.shape == (2, 64 - n_masked, 32)
    norm, pix = tiny(x, mask)
    assert norm.shape == pix.shape == (2, n_masked, TINY.patch_dim)
    short = torch.rand(1, 4, 3, 32, 32)                  # fewer frames: the first positions
    m = torch.from_numpy(vm.TubeMasking((2, 4, 4), 0.75)(np.random.default_rng(0)))[None]
    assert tiny(short, m)[0].shape == (1, int(m.sum()), TINY.patch_dim)
    with pytest.raises(ValueError):
        tiny(torch.rand(1, 8, 3, 40, 40), mask[:1])


def test_encoder_never_sees_masked_tokens(tiny):
    x = torch.rand(1, 8, 3, 32, 32)
    mask = vm.batch_masks(vm.RandomMasking(TINY.grid, 0.6), 1, np.random.default_rng(3), "cpu")
    pixel_mask = vm.unpatchify(mask[..., None].float().expand(-1, -1, TINY.patch_dim), TINY.grid, 8, 2) > 0
    x2 = torch.where(pixel_mask, torch.rand_like(x), x)  # new content in every hidden tubelet
    assert not torch.equal(x, x2)
    with torch.no_grad():
        assert torch.equal(tiny.forward_encoder(x, mask), tiny.forward_encoder(x2, mask))
        assert torch.equal(tiny(x, mask)[1], tiny(x2, mask)[1])


def test_hf_names_cover_every_paper_weight(tiny):
    names = vm.hf_state_dict(tiny)
    ours = sum(v.numel() for k, v in tiny.state_dict().items() if not k.startswith("pixel_head"))
    # our separate key bias does not exist; everything else maps one to one
    assert sum(v.numel() for v in names.values()) == ours
    cfg = vm.hf_config(TINY)
    assert cfg["num_frames"] == 8 and cfg["intermediate_size"] == 128 and cfg["norm_pix_loss"]


def test_loss_is_masked_mse_on_normalized_targets_plus_the_pixel_term(tiny):
    x = torch.rand(2, 8, 3, 32, 32)
    mask = vm.batch_masks(vm.TubeMasking(TINY.grid, 0.75), 2, np.random.default_rng(5), "cpu")
    with torch.no_grad():
        loss, parts = vm.videomae_loss(tiny, x, mask, pixel_loss_weight=3.0)
        norm, pix = tiny(x, mask)
    target = vm.normalize_patches(vm.patchify(x, 8, 2), 2, 8)                 # every token; masked_mse picks
    assert parts["loss_norm"] == pytest.approx(float(vm.masked_mse(norm, target, mask)), rel=1e-6)
    assert float(loss) == pytest.approx(parts["loss_norm"] + 3.0 * parts["loss_pixel"], rel=1e-5)


def test_no_weight_decay_on_biases_norms_and_the_mask_token(tiny):
    from core.videomae.model import no_weight_decay
    free = {n for n, p in tiny.named_parameters() if no_weight_decay(n, p)}
    assert "mask_token" in free and "head.bias" in free and "encoder.0.norm1.weight" in free
    assert "head.weight" not in free and "patch_embed.weight" not in free


def test_batches_follow_the_config():
    from core.videomae import data
    clips = [vm.synthetic_clip(np.random.default_rng(i), 32, 16) for i in range(2)]
    batches = data.clip_batches(TINY, np.random.default_rng(0), 10, "cpu", *data.training_data(TINY, clips))
    x, mask = batches(1)
    assert x.shape == (TINY.batch_size, TINY.num_frames, 3, 32, 32) and 0 <= float(x.min()) <= float(x.max()) <= 1
    assert mask.shape == (TINY.batch_size, 64) and (mask.sum(1) == 14 * 4).all()    # tube 90% of 16, 4 steps


def test_continuing_keeps_the_models_architecture():
    clips = [vm.synthetic_clip(np.random.default_rng(i), 32, 16) for i in range(2)]
    base, _ = vm.train(TINY, 2, "cpu", clips=clips)
    other = dataclasses.replace(TINY, encoder_dim=64, pixel_base="frame_mean", lr=1e-4, seed=3)
    model, history = vm.train(other, 2, "cpu", model=base, clips=clips, log_every=1)
    assert model.config.encoder_dim == 32 and model.config.pixel_base == "smooth"   # the model's own
    assert model.config.lr == 1e-4 and model.config.seed == 3                       # the new run's
    assert history["step"] == [1, 2] and model is not base


def test_short_cpu_run_lowers_the_loss():
    clips = [vm.synthetic_clip(np.random.default_rng(i), 32, 16) for i in range(4)]
    model, history = vm.train(TINY, 60, "cpu", clips=clips, log_every=10)
    assert history["loss"][-1] < history["loss"][0] * 0.9      # the untrained pixel head adds noise to the
    assert history["psnr"][-1] > history["psnr"][0] + 1.0      # frame mean; a few steps learn to stop that


# --------------------------------------------------------------------- the contract

def test_reconstruct_contract(tiny):
    clip = _clip(T=11, H=37, W=61)
    recon, mask = vm.reconstruct(tiny, clip, 0.9, seed=4)
    assert recon.shape == clip.shape and recon.dtype == np.uint8
    assert mask.shape == clip.shape[:3] and mask.dtype == bool
    assert 0.8 < mask.mean() < 0.97
    assert (mask == mask[:1]).all()                                       # tube: same pixels in every frame
    assert np.array_equal(recon[~mask], clip[~mask])                      # visible pixels are the input's
    again, mask2 = vm.reconstruct(tiny, clip, 0.9, seed=4)
    assert np.array_equal(recon, again) and np.array_equal(mask, mask2)   # deterministic
    assert not np.array_equal(mask, vm.reconstruct(tiny, clip, 0.9, seed=5)[1])


@pytest.mark.parametrize("masking", list(vm.MASKINGS))
def test_reconstruct_does_not_depend_on_masked_pixels(shipped, masking):
    from core import sources
    clip = sources.load_clip("city")[0][:20]
    recon, mask = vm.reconstruct(shipped, clip, 0.9, seed=1, masking=masking)
    changed = clip.copy()
    changed[mask] = np.random.default_rng(0).integers(0, 256, (int(mask.sum()), 3))
    recon2, mask2 = vm.reconstruct(shipped, changed, 0.9, seed=1, masking=masking)
    assert np.array_equal(mask, mask2)
    assert np.array_equal(recon, recon2)                                  # not a single pixel moves


def test_shipped_model_beats_the_baselines_on_a_held_out_clip(shipped):
    from core import sources
    clip = sources.load_clip("bikes")[0][:32]
    recons, mask = vm.reconstruct_compare(shipped, clip, 0.9, seed=0)
    scores = {k: vm.psnr(v, clip, mask) for k, v in recons.items()}
    assert scores["model"] > max(scores["mean"], scores["nearest"])


@HYPO
@given(st.integers(0, 20), st.integers(1, 70), st.integers(1, 70), st.sampled_from(["uint8", "float32", "int64"]),
       st.floats(-0.2, 1.2, allow_nan=False), st.sampled_from(list(vm.MASKINGS)))
def test_reconstruct_any_input(tiny, T, H, W, dtype, ratio, masking):
    rng = np.random.default_rng(T * 1000 + H * 10 + W)
    clip = (rng.random((T, H, W, 3)) * (1 if dtype == "float32" else 255)).astype(dtype)
    try:
        recon, mask = vm.reconstruct(tiny, clip, ratio, seed=0, masking=masking)
    except ValueError as err:
        assert str(err)
        assert T == 0 or min(H, W) < 8 or not 0 <= ratio < 1
        return
    assert recon.shape == (T, H, W, 3) and recon.dtype == np.uint8 and mask.shape == (T, H, W)
    assert (~mask).any()


@HYPO
@given(st.sampled_from([(5, 20, 30, 3), (5, 20, 30), (0, 8, 8, 3), (4, 8, 8, 4)]), st.sampled_from(["mean", "nearest"]))
def test_baselines_any_shape(shape, kind):
    clip = np.zeros(shape, np.uint8)
    try:
        recon, mask = vm.reconstruct_baseline(kind, clip, 0.9, config=TINY)
    except ValueError as err:
        assert "clip" in str(err)
        return
    assert recon.shape == shape


def test_baselines_see_only_visible_tubelets():
    clip = _clip(T=8, H=32, W=32)
    for kind in ("mean", "nearest"):
        recon, mask = vm.reconstruct_baseline(kind, clip, 0.75, seed=2, config=TINY)
        changed = clip.copy()
        changed[mask] = 0
        assert np.array_equal(recon, vm.reconstruct_baseline(kind, changed, 0.75, seed=2, config=TINY)[0])
    with pytest.raises(ValueError, match="baseline"):
        vm.reconstruct_baseline("median", clip, config=TINY)


def test_frame_masking_a_long_clip_leaves_whole_windows_hidden(tiny):
    """Frame masking at 90% on a clip of several windows hides some windows entirely: they take the visible
    mean colour of the clip instead of failing, and still read nothing hidden."""
    clip = _clip(T=64, H=32, W=32)
    outs, mask = vm.reconstruct_compare(tiny, clip, 0.9, seed=0, masking="frame",
                                        baselines=("mean", "smooth", "nearest"))
    steps = mask[::2, 0, 0]                                               # one entry per tubelet step
    assert any(steps[i:i + 4].all() for i in range(0, 32, 4))             # a window with nothing visible
    changed = clip.copy()
    changed[mask] = 255 - changed[mask]
    outs2, _ = vm.reconstruct_compare(tiny, changed, 0.9, seed=0, masking="frame",
                                      baselines=("mean", "smooth", "nearest"))
    for k in outs:
        assert outs[k].shape == clip.shape and np.array_equal(outs[k], outs2[k]), k

def test_psnr():
    a = np.zeros((2, 4, 4, 3), np.uint8)
    b = a.copy()
    b[0] = 255
    mask = np.zeros((2, 4, 4), bool)
    mask[1] = True
    assert vm.psnr(a, b, mask) == 100.0                                  # identical where it counts
    assert vm.psnr(a, b) == pytest.approx(10 * np.log10(2), abs=1e-6)
    with pytest.raises(ValueError):
        vm.psnr(a, b[:1])


def test_evaluate_reports_every_target(tiny):
    metrics = vm.evaluate(tiny, "cpu")
    for key, (_, bound) in vm.TARGETS.items():
        assert key in metrics and (not isinstance(bound, str) or bound in metrics)
    assert metrics["psnr_random_r90_nearest"] > metrics["psnr_tube_r90_nearest"]   # the leak, in the baseline


def test_ratio_curve(tiny):
    curves = vm.ratio_curve(tiny, _clip(T=16, H=32, W=48), ratios=(0.5, 0.9))
    assert set(curves) == {"tube", "random"} and len(curves["tube"]["model"]) == 2


def test_card_and_weights_are_small():
    card = common.read_card("videomae")
    assert card is not None and card["method"] == "videomae"
    assert os.path.getsize(common.weights_path("videomae")) < 10e6
    assert "psnr_tube_r90_gain_db" in card["metrics"]


# --------------------------------------------------------------------- the tab

@pytest.fixture(scope="module")
def handlers(shipped):
    import functools

    from demos import videomae as tab
    from demos.tab import Tab
    t = Tab("videomae", "cpu", load=lambda device: shipped)
    return {"run": functools.partial(tab.reconstruct, t), "curve": functools.partial(tab.measure_curve, t),
            "train_live": functools.partial(tab.train_live, t), "forget": t.forget}


def test_tab_handler_on_a_bundled_example(handlers):
    from demos import videomae as tab
    example = tab.vm_examples()[0][0]
    video, strip, report = handlers["run"](example, 0.9, "tube", 0, None)
    assert os.path.getsize(video) > 1000
    assert strip.ndim == 3 and strip.shape[2] == 3
    assert "PSNR" in report and "shipped model" in report
    fig = handlers["curve"](example, None)
    assert fig.axes


def test_tab_live_training_and_user_model(handlers):
    from demos import videomae as tab
    example = tab.vm_examples()[0][0]
    state, fig, msg = handlers["train_live"](example, 5, "the shipped model", "this clip", None, progress=None)
    assert state["model"] is not None and "5 steps" in msg
    _, _, report = handlers["run"](example, 0.75, "random", 1, state)
    assert "your model" in report
    assert handlers["forget"](state)[0] is None


def test_tab_bad_inputs_raise_gr_error(handlers, tmp_path):
    import gradio as gr

    from demos import common as dc
    run = dc.friendly(handlers["run"])
    with pytest.raises(gr.Error):
        run(None, 0.9, "tube", 0, None)
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    with pytest.raises(gr.Error):
        run(str(bad), 0.9, "tube", 0, None)
    from demos import videomae as tab
    example = tab.vm_examples()[0][0]
    with pytest.raises(gr.Error, match="mask_ratio"):
        run(example, 1.0, "tube", 0, None)
    with pytest.raises(gr.Error, match="masking"):
        run(example, 0.9, "zigzag", 0, None)
    with pytest.raises(gr.Error, match="Steps"):
        dc.friendly(handlers["train_live"])(example, 10_000, "scratch", "this clip", None, progress=None)


def test_tab_honest_beside_leaking_with_the_model_trained_here(handlers, shipped):
    import functools

    from demos import videomae as tab
    from demos.tab import Tab
    leak = functools.partial(tab.compare_leak, Tab("videomae", "cpu", load=lambda device: shipped))
    example = tab.vm_examples()[0][0]
    picture, report = leak(example, 0.9, "tube", 0, tab.TRAINED, None)
    assert picture.ndim == 3 and picture.shape[2] == 3 and picture.shape[0] > 4 * tab.LEAK_ROW_HEIGHT
    for name in ("honest", "leaking", "smooth fill", "frame mean", "nearest"):
        assert name in report
    assert "The leak is worth" in report and "**yes**" in report


def test_tab_official_choice(shipped, monkeypatch):
    """Absent from the cache: the choice says how to get it and a click says it again; present: it answers."""
    import functools

    import gradio as gr

    from demos import videomae as tab
    from demos.tab import Tab
    t = Tab("videomae", "cpu", load=lambda device: shipped)
    example = tab.vm_examples()[0][0]
    monkeypatch.setattr(vm, "in_cache", lambda *a, **k: False)
    monkeypatch.setattr(vm, "load_hf", lambda *a, **k: (_ for _ in ()).throw(vm.NotInCacheError(vm.how_to_get())))
    with gr.Blocks():
        radio = tab.model_choice()
    assert [c[0] for c in radio.choices] == [tab.TRAINED] and "scripts/fetch_models.py" in radio.info
    with pytest.raises(gr.Error, match="fetch_models.py"):
        t.handler(tab.compare_leak)(example, 0.9, "tube", 0, tab.OFFICIAL, None)
    transformers = pytest.importorskip("transformers")
    cfg = transformers.VideoMAEConfig(image_size=32, patch_size=8, num_frames=8, tubelet_size=2, hidden_size=32,
                                      num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                                      decoder_hidden_size=32, decoder_num_hidden_layers=1,
                                      decoder_num_attention_heads=2, decoder_intermediate_size=64)
    torch.manual_seed(0)
    official = vm.OfficialVideoMAE(transformers.VideoMAEForPreTraining(cfg).eval(), vm.OFFICIAL)
    monkeypatch.setattr(vm, "in_cache", lambda *a, **k: True)
    monkeypatch.setattr(vm, "load_hf", lambda *a, **k: official)
    with gr.Blocks():
        assert [c[0] for c in tab.model_choice().choices] == [tab.TRAINED, tab.OFFICIAL]
    picture, report = functools.partial(tab.compare_leak, t)(example, 0.9, "tube", 0, tab.OFFICIAL, None)
    assert "VideoMAE-Base" in report and "8 frames" in report and picture.ndim == 3
    with pytest.raises(gr.Error, match="Unknown model choice"):
        t.handler(tab.compare_leak)(example, 0.9, "tube", 0, "somebody else's", None)


def test_tab_builds():
    import gradio as gr

    from demos import videomae as tab
    with gr.Blocks():
        tab.build("cpu")

