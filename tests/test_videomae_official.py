"""The official VideoMAE checkpoint behind our contract (core.videomae.load_hf), offline.

The real MCG-NJU/videomae-base cannot be fetched here: tiny random checkpoints written with
`save_pretrained` (and one with the legacy q_bias/v_bias names of the official files) stand in.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from core import videomae as vm

transformers = pytest.importorskip("transformers")
torch.set_num_threads(1)

TINY_HF = dict(image_size=32, patch_size=8, num_frames=8, tubelet_size=2, hidden_size=32, num_hidden_layers=2,
               num_attention_heads=2, intermediate_size=64, decoder_hidden_size=32, decoder_num_hidden_layers=1,
               decoder_num_attention_heads=2, decoder_intermediate_size=64, norm_pix_loss=True,
               use_mean_pooling=False)


def _tiny_net(seed: int = 0):
    """A random tiny VideoMAEForPreTraining whose query/value biases are not zero (a zero bias would hide a
    loader that drops them)."""
    torch.manual_seed(seed)
    net = transformers.VideoMAEForPreTraining(transformers.VideoMAEConfig(**TINY_HF)).eval()
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith(("query.bias", "value.bias")):
                p.normal_()
    return net


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """(folder written by save_pretrained, the network that wrote it)."""
    net = _tiny_net()
    folder = str(tmp_path_factory.mktemp("tiny_videomae"))
    net.save_pretrained(folder)
    return folder, net


@pytest.fixture(scope="module")
def official(saved):
    return vm.load_hf(saved[0])


def _clip(T=12, H=40, W=56, seed=0):
    """A smooth moving pattern plus noise: hidden tubelets have something to be guessed from."""
    rng = np.random.default_rng(seed)
    t, y, x = np.meshgrid(np.arange(T), np.arange(H), np.arange(W), indexing="ij")
    base = np.stack([np.sin((x + 2 * t) / 7.0), np.cos((y - t) / 9.0), np.sin((x + y) / 11.0)], -1)
    return np.clip(127 + 90 * base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)


def test_load_hf_reads_a_save_pretrained_folder(saved, official):
    folder, net = saved
    assert isinstance(official, vm.OfficialVideoMAE) and not official.training
    ours, theirs = official.net.state_dict(), net.state_dict()
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    c = official.config
    assert (c.image_size, c.patch_size, c.tubelet_size, c.num_frames) == (32, 8, 2, 8)
    assert (c.encoder_dim, c.encoder_depth, c.decoder_dim, c.decoder_depth) == (32, 2, 32, 1)
    assert vm.in_cache(folder)


def test_forward_is_the_checkpoints_head_on_imagenet_normalized_pixels(official, saved):
    net = saved[1]
    c = official.config
    x = torch.rand(2, c.num_frames, 3, c.image_size, c.image_size)
    mask = vm.batch_masks(vm.make_masking("tube", c.grid, 0.75), 2, np.random.default_rng(0), "cpu")
    with torch.inference_mode():
        want = net(pixel_values=vm.normalize_input(x), bool_masked_pos=mask).logits
        norm, pix = official(x, mask)
        short = official(x[:, :4], mask.reshape(2, 4, -1)[:, :2].reshape(2, -1))   # fewer frames: padded inside
    assert torch.allclose(norm, want, atol=1e-6)
    assert pix.shape == norm.shape == want.shape
    assert short[0].shape == (2, int(mask.reshape(2, 4, -1)[0, :2].sum()), norm.shape[-1])


def test_legacy_q_bias_v_bias_names_arrive_with_their_values(tmp_path):
    """The official files name the attention biases q_bias/v_bias; transformers 5.x before 5.23 loaded them as
    zeros (PR #48675). Written under the legacy names, they must come back as written."""
    from safetensors.torch import save_file
    net = _tiny_net(seed=1)
    net.config.save_pretrained(tmp_path)
    legacy = {}
    for k, v in net.state_dict().items():
        k = k.replace("attention.attention.query.bias", "attention.attention.q_bias")
        k = k.replace("attention.attention.value.bias", "attention.attention.v_bias")
        legacy[k] = v.contiguous()
    assert sum(".q_bias" in k for k in legacy) == 2 + 1                 # every encoder and decoder block
    save_file(legacy, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    loaded = vm.load_hf(str(tmp_path)).net.state_dict()
    for k, v in net.state_dict().items():
        if k.endswith(("query.bias", "value.bias")):
            assert v.abs().sum() > 0 and torch.equal(loaded[k], v), k


def test_legacy_names_from_our_own_hf_state_dict(tmp_path):
    """Our hf_state_dict writes the legacy names too: a model of ours saved that way loads into transformers."""
    from safetensors.torch import save_file
    c = vm.Config(image_size=32, patch_size=8, num_frames=8, encoder_dim=32, encoder_depth=1, encoder_heads=2,
                  decoder_dim=32, decoder_depth=1, decoder_heads=2, position_embedding="1d")
    torch.manual_seed(0)
    ours = vm.build_model(c).eval()
    with torch.no_grad():
        for name, p in ours.named_parameters():
            if name.endswith(("q_bias", "v_bias")):
                p.normal_()
    transformers.VideoMAEConfig(**vm.hf_config(c)).save_pretrained(tmp_path)
    save_file({k: v.contiguous() for k, v in vm.hf_state_dict(ours).items()}, str(tmp_path / "model.safetensors"),
              metadata={"format": "pt"})
    theirs = vm.load_hf(str(tmp_path))
    x = torch.rand(1, 8, 3, 32, 32)
    mask = vm.batch_masks(vm.make_masking("tube", c.grid, 0.75), 1, np.random.default_rng(1), "cpu")
    with torch.inference_mode():
        assert torch.allclose(theirs(x, mask)[0], ours(x, mask)[0], atol=1e-5)   # the paper's head, same numbers


@pytest.mark.parametrize("shape", [(16, 32, 32), (5, 40, 56), (23, 70, 33), (2, 9, 9)])
def test_reconstruct_contract_on_the_official_path(official, shape):
    clip = _clip(*shape)
    recon, mask = vm.reconstruct(official, clip, 0.9, seed=3)
    assert recon.shape == clip.shape and recon.dtype == np.uint8 and mask.shape == clip.shape[:3]
    assert np.array_equal(recon[~mask], clip[~mask])                  # visible pixels are the input's
    assert (mask == mask[:1]).all() and mask.any()


@pytest.mark.parametrize("masking", list(vm.MASKINGS))
def test_official_reconstruction_does_not_depend_on_masked_pixels(official, masking):
    """The leak test on this path: new hidden pixels, the honest picture unchanged; the leaking one moves."""
    clip = _clip(T=19, H=40, W=72)
    outs, mask = vm.reconstruct_compare(official, clip, 0.9, seed=1, masking=masking, leaking=True,
                                        baselines=("mean", "smooth", "nearest"))
    changed = clip.copy()
    changed[mask] = np.random.default_rng(0).integers(0, 256, (int(mask.sum()), 3))
    outs2, mask2 = vm.reconstruct_compare(official, changed, 0.9, seed=1, masking=masking, leaking=True,
                                          baselines=("mean", "smooth", "nearest"))
    assert np.array_equal(mask, mask2)
    for k in ("model", "mean", "smooth", "nearest"):
        assert np.array_equal(outs[k], outs2[k]), k                   # not a single pixel moves
    assert not np.array_equal(outs["leaking"], outs2["leaking"])      # the public visualisation reads them
    assert np.array_equal(outs["model"], vm.reconstruct(official, clip, 0.9, seed=1, masking=masking)[0])


def test_visible_statistics_read_only_visible_tubelets_and_match_a_naive_loop():
    rng = np.random.default_rng(0)
    grid, ts, p = (2, 3, 3), 2, 2
    patches = torch.rand(1, 18, ts * p * p * 3)
    mask = torch.zeros(1, 18, dtype=torch.bool)
    mask[0, rng.permutation(18)[:12]] = True
    mean, std = vm.visible_smooth_stats(patches, mask, grid, width=1.5)
    coords = np.stack(np.meshgrid(*[np.arange(g) for g in grid], indexing="ij"), -1).reshape(-1, 3)
    x = patches[0].reshape(18, -1, 3).double()
    vis = np.flatnonzero(~mask[0].numpy())
    for j, i in enumerate(np.flatnonzero(mask[0].numpy())):
        w = np.exp(-((coords[vis] - coords[i]) ** 2).sum(1) / (2 * 1.5 ** 2))
        w /= w.sum()
        want_mean = sum(w[a] * x[v].mean(0) for a, v in enumerate(vis))
        want_std = sum(w[a] * (x[v].std(0, unbiased=True) + 1e-6) for a, v in enumerate(vis))
        assert torch.allclose(mean[0, j].double(), want_mean, atol=1e-5)
        assert torch.allclose(std[0, j].double(), want_std, atol=1e-5)
    changed = patches.clone()
    changed[mask] = torch.rand(int(mask.sum()), patches.shape[-1])
    again = vm.visible_smooth_stats(changed, mask, grid, width=1.5)
    assert torch.equal(again[0], mean) and torch.equal(again[1], std)


def test_own_stats_undo_the_papers_normalization_exactly():
    """Why the public picture looks so good: with each hidden tubelet's own statistics, even the paper's targets
    themselves (a perfect prediction) come back as the exact pixels, whatever the network knew."""
    patches = torch.rand(2, 12, 2 * 4 * 4 * 3)
    mask = torch.zeros(2, 12, dtype=torch.bool)
    mask[:, [1, 4, 5, 9]] = True
    target = vm.normalize_patches(patches, 2, 4)[mask].reshape(2, 4, -1)
    back = vm.denormalize_tubelets(target, *vm.own_stats(patches, mask))
    assert torch.allclose(back, patches[mask].reshape(2, 4, -1), atol=1e-5)


def test_not_in_the_cache_says_how_to_get_it(tmp_path):
    empty = str(tmp_path / "hub")
    os.makedirs(empty)
    assert not vm.in_cache(vm.OFFICIAL, cache_dir=empty)
    with pytest.raises(vm.NotInCacheError) as err:
        vm.load_hf(vm.OFFICIAL, cache_dir=empty)
    msg = str(err.value)
    assert vm.OFFICIAL in msg and "python scripts/fetch_models.py" in msg and "preload_from_hub" in msg
    assert isinstance(err.value, FileNotFoundError)


def test_a_hub_name_loads_from_the_cache_alone(saved, tmp_path, monkeypatch):
    """The layout hf_hub_download leaves (refs/main -> snapshots/REV/...), read with the network off."""
    folder, net = saved
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    repo = tmp_path / "hub" / "models--someone--tiny-videomae"
    snap = repo / "snapshots" / ("0" * 40)
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    for f in vm.hf.OFFICIAL_FILES:
        os.symlink(os.path.join(folder, f), snap / f)
    cache = str(tmp_path / "hub")
    assert vm.in_cache("someone/tiny-videomae", cache_dir=cache)
    model = vm.load_hf("someone/tiny-videomae", cache_dir=cache)
    assert torch.equal(model.net.decoder.head.weight, net.decoder.head.weight)
    assert model.name == "someone/tiny-videomae"


def test_transformers_pin_loads_legacy_biases():
    """requirements.txt pins a transformers that renames q_bias/v_bias on load (5.23.0 or later)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    pins = [ln.strip() for ln in open(os.path.join(root, "requirements.txt")) if ln.startswith("transformers")]
    assert len(pins) == 1 and pins[0].startswith("transformers==")
    major, minor = (int(v) for v in pins[0].split("==")[1].split(".")[:2])
    assert (major, minor) >= (5, 23)


def test_space_front_matter_preloads_the_files_load_hf_reads():
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, os.path.join(root, "scripts"))
    from publish_space import front_matter
    entries = front_matter(open(os.path.join(root, "README.md")).read()).get("preload_from_hub", [])
    assert f"{vm.OFFICIAL} {','.join(vm.hf.OFFICIAL_FILES)}" in entries


def test_one_window_is_what_one_forward_covers(official):
    clip = _clip(T=30, H=40, W=70)
    view = vm.one_window(clip, official.config)
    assert view.shape == (8, 40, 40, 3) and np.array_equal(view, clip[:8, :, 15:55])
    calls = []
    net_forward = official.net.forward
    official.net.forward = lambda *a, **k: calls.append(1) or net_forward(*a, **k)
    try:
        vm.reconstruct_compare(official, view, 0.9, 0, leaking=True, baselines=("mean", "smooth", "nearest"))
    finally:
        del official.net.forward
    assert len(calls) == 1                                            # honest and leaking share one pass
