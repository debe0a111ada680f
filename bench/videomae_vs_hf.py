"""Our VideoMAE beside the library a user would pick: Hugging Face transformers' VideoMAEForPreTraining.

    python -m bench.videomae_vs_hf [--device cpu|cuda] [--batch 8] [--runs 20] [--threads N]

Both are built with the shipped configuration (image size, patch, tubelet,
frames, encoder and decoder widths, depths, heads, MLP ratio; random weights:
this is about speed, not quality) and run on the same clips with the same tube
mask, in one process, alternating, under torch.inference_mode(). Transformers'
pre-training forward always computes its loss (normalized-pixel MSE on the masked
tubelets), so ours is timed as forward plus the same loss (`videomae_loss`, which
also runs our pixel head); our forward alone is printed too. Prints medians and
the ratio ours/theirs (target: at most 1.0). transformers is pinned in
requirements.txt: the VideoMAE tab loads the official checkpoint with it (core.videomae.load_hf).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch

from core import device as devices
from core import videomae

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def hf_model(c: videomae.Config):
    from transformers import VideoMAEConfig, VideoMAEForPreTraining
    cfg = VideoMAEConfig(
        image_size=c.image_size, patch_size=c.patch_size, num_channels=3, num_frames=c.num_frames,
        tubelet_size=c.tubelet_size, hidden_size=c.encoder_dim, num_hidden_layers=c.encoder_depth,
        num_attention_heads=c.encoder_heads, intermediate_size=int(c.encoder_dim * c.mlp_ratio),
        decoder_hidden_size=c.decoder_dim, decoder_num_hidden_layers=c.decoder_depth,
        decoder_num_attention_heads=c.decoder_heads, decoder_intermediate_size=int(c.decoder_dim * c.mlp_ratio),
        layer_norm_eps=c.layer_norm_eps, qkv_bias=True, use_mean_pooling=False, norm_pix_loss=True,
        attn_implementation="sdpa")
    return VideoMAEForPreTraining(cfg).eval()


def _median_time(fn, runs: int, device) -> float:
    xs = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        xs.append(time.perf_counter() - t0)
    return statistics.median(xs)


def run(device="cpu", batch: int = 8, runs: int = 20, seed: int = 0) -> dict:
    device = devices.choose(str(device))
    c = videomae.load_pretrained("cpu").config
    torch.manual_seed(seed)
    ours = videomae.build_model(c).to(device).eval()
    theirs = hf_model(c).to(device)
    rng = np.random.default_rng(seed)
    x = torch.rand(batch, c.num_frames, 3, c.image_size, c.image_size, device=device)   # (B, T, 3, H, W)
    mask = videomae.batch_masks(videomae.make_masking("tube", c.grid, 0.9), batch, rng, device)  # (B, N)
    p = lambda m: sum(t.numel() for t in m.parameters())  # noqa: E731
    calls = {
        "ours_forward": lambda: ours(x, mask),
        "ours_forward_and_loss": lambda: videomae.videomae_loss(ours, x, mask, c.pixel_loss_weight),
        "transformers_forward_with_loss": lambda: theirs(pixel_values=x, bool_masked_pos=mask),
    }
    times = {k: [] for k in calls}
    with torch.inference_mode():
        for fn in calls.values():                     # warm-up
            fn()
        for _ in range(3):                            # alternate so load changes hit both alike
            for k, fn in calls.items():
                times[k].append(_median_time(fn, max(1, runs // 3), device))
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    return {"device": devices.describe(device), "batch": batch, "tokens": int(np.prod(c.grid)),
            "visible_tokens": int((~mask[0]).sum()),
            "parameters": {"ours": p(ours), "transformers": p(theirs)},
            "median_ms": {k: round(v, 2) for k, v in med.items()},
            "ratio_ours_over_theirs": round(med["ours_forward_and_loss"] / med["transformers_forward_with_loss"], 3),
            "ratio_forward_only": round(med["ours_forward"] / med["transformers_forward_with_loss"], 3)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.videomae_vs_hf", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--json", default=os.path.join(ROOT, "bench", "results", "videomae_vs_hf.json"))
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    res = run(args.device, args.batch, args.runs)
    print(json.dumps(res, indent=1))
    print(f"ours/theirs (forward + loss): {res['ratio_ours_over_theirs']:.3f}  (target <= 1.0)")
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
