"""The benchmarks' own plumbing: cheap checks that their comparisons compare like with like."""
import numpy as np
import pytest
import torch


def test_transformers_videomae_has_our_configuration():
    """Same widths, depths, heads, patch, tubelet, frames: the parameter counts differ by our pixel head alone."""
    pytest.importorskip("transformers")
    from bench import videomae_vs_hf
    from core import videomae
    c = videomae.load_pretrained("cpu").config
    ours, theirs = videomae.build_model(c), videomae_vs_hf.hf_model(c)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(ours) - count(ours.pixel_head) == count(theirs)
    x = torch.rand(2, c.num_frames, 3, c.image_size, c.image_size)
    mask = videomae.batch_masks(videomae.make_masking("tube", c.grid, 0.9), 2, np.random.default_rng(0), "cpu")
    with torch.inference_mode():
        out = theirs(pixel_values=x, bool_masked_pos=mask)
        norm, pix = ours(x, mask)
    assert out.logits.shape == norm.shape == pix.shape               # (B, N_masked, ts*p*p*3) both


def test_parity_compare_flags_a_difference():
    from bench import parity
    a = {"jigsaw.predict": np.array([0.1, 0.9], np.float32), "tcc.align": np.arange(10),
         "videomae.reconstruct": np.zeros((2, 4, 4, 3), np.uint8)}
    same = parity.compare(a, {k: v.copy() for k, v in a.items()})
    assert all(r["ok"] for r in same.values())
    b = {"jigsaw.predict": np.array([0.9, 0.1], np.float32), "tcc.align": np.arange(10)[::-1].copy(),
         "videomae.reconstruct": np.full((2, 4, 4, 3), 50, np.uint8)}
    diff = parity.compare(a, b)
    assert not any(r["ok"] for r in diff.values())


def test_latency_summary_and_budget_table():
    from bench import latency
    s = latency.summary([0.5, 0.1, 0.2, 0.3, 0.4])
    assert s["median"] == 0.3 and s["p90"] == 0.5 and s["runs"] == 5
    res = {"machine": "m", "device": "CPU", "torch": "t", "tabs": ["a", "b"], "budget": latency.BUDGET_CPU,
           "core": {"a": latency.summary([0.2]), "b": latency.summary([1.5])},
           "click": {"a": {"first": 1.0, **latency.summary([0.9])}, "b": {"first": 4.0, **latency.summary([2.0])}}}
    rows = latency.table(res).splitlines()
    assert rows[4].startswith("| a |") and rows[4].endswith("| yes |")
    assert rows[5].startswith("| b |") and rows[5].endswith("| **no** |")


def test_latency_new_clips_are_clips_the_app_has_not_seen():
    """The colorization click on a new clip gets a clip whose decoded frames differ from the example's and
    from each other's (the app remembers clips by their frames), and it has its own row in the table."""
    from bench import latency
    from core import media
    src = latency._tab_inputs()["colorization"]["file"]
    paths = latency.new_clips(src, 4)
    clips = [media.load_video(p, with_audio=False).frames for p in [src, *paths]]
    keys = {c.tobytes() for c in clips}
    assert len(paths) == 4 and len(keys) == 5 and all(c.shape == clips[0].shape for c in clips)
    res = {"tabs": ["colorization"], "click": {"colorization": {}, latency.NEW_CLIP: {}}}
    assert latency._rows(res) == ["colorization", latency.NEW_CLIP]


def test_app_gives_each_handler_its_share_of_the_cores(monkeypatch):
    import app
    monkeypatch.delenv("SSL_LAB_THREADS", raising=False)
    assert app.cpu_threads(2, 2) == 1 and app.cpu_threads(16, 2) == 8 and app.cpu_threads(1, 2) == 1
    monkeypatch.setenv("SSL_LAB_THREADS", "3")
    assert app.cpu_threads(2, 2) == 3


def test_quality_update_card_keeps_the_training_metrics_and_says_when(tmp_path, monkeypatch):
    import json

    from bench import quality
    from core import common
    monkeypatch.setattr(common, "MODELS_DIR", str(tmp_path))
    (tmp_path / "toy.json").write_text(json.dumps({"method": "toy", "metrics": {"acc": 0.5}}))
    res = {"method": "toy", "metrics": {"acc": 0.7, "new": 1.0}, "data": {"held_out": "new set"}}
    quality.update_card(res, "CPU")
    card = json.loads((tmp_path / "toy.json").read_text())
    assert card["metrics"] == {"acc": 0.7, "new": 1.0} and card["metrics_at_training"] == {"acc": 0.5}
    assert card["data"] == {"held_out": "new set"}
    assert card["metrics_remeasured"]["command"] == "python -m bench.quality --methods toy --update-cards"
    quality.update_card({"method": "toy", "metrics": {"acc": 0.9}}, "CPU")     # a second time: training's stay
    assert json.loads((tmp_path / "toy.json").read_text())["metrics_at_training"] == {"acc": 0.5}
    with pytest.raises(FileNotFoundError):
        quality.update_card({"method": "missing", "metrics": {}}, "CPU")


def test_videomae_smooth_baseline_reads_only_visible_tubelets_and_follows_the_layout():
    """The smooth fill bench.videomae_headroom measures (and the pixel head's smooth base)."""
    import dataclasses
    from core import videomae as V
    c = V.Config()
    torch.manual_seed(0)
    x = torch.rand(1, c.num_frames, 3, c.image_size, c.image_size)
    x[..., :, : c.image_size // 2] *= 0.2                                   # a dark left half
    mask = V.batch_masks(V.make_masking("tube", c.grid, 0.75), 1, np.random.default_rng(1), "cpu")
    fill = V.baseline_predictor("smooth", dataclasses.replace(c, base_width=1.0))
    a = fill(x, mask)
    hidden = V.unpatchify(mask[..., None].float().expand(-1, -1, c.patch_dim), (c.num_frames // c.tubelet_size,) +
                          c.grid[1:], c.patch_size, c.tubelet_size).bool()
    y = x.clone()
    y[hidden] = 1.0 - y[hidden]                                             # change every hidden pixel
    assert torch.equal(a, fill(y, mask))
    # the fill knows where the dark half is; the frame mean does not
    target = V.patchify(x, c.patch_size, c.tubelet_size)[mask].reshape(a.shape)
    mean = V.baseline_predictor("mean", c)(x, mask)
    assert (a - target).pow(2).mean() < 0.8 * (mean - target).pow(2).mean()
