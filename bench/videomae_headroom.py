"""How much better than the frame mean can ANY smooth fill of a 90% tube-masked clip be?

    python -m bench.videomae_headroom [--patches 8 4] [--widths 1.5 2.5 4] [--json PATH]

VideoMAE's quality target asks for 1 dB over the better of two baselines (the
mean colour of each frame's visible patches; a copy of the nearest visible
tubelet) on the hidden pixels of the held-out real clips. This measures a third,
stronger non-learned fill on exactly the same windows and masks
(`videomae.predictor_errors`, as the card's evaluation): every hidden tubelet takes a Gaussian-weighted
average of the visible tubelets' mean colours, weighted by distance in the token
grid (space and time). It knows where the colour is, nothing of texture: it is
about what a reconstruction trained with a squared error learns first, the
low-frequency layout. Its gain over the frame mean bounds what a model gains
from layout alone; the rest of a 1 dB gain must come from predicting texture
in hidden patches.

It also shows the effect of the patch grid: at 90% tube masking an 8x8 grid of
8-px patches leaves about 6 visible patches per frame, a 16x16 grid of 4-px
patches about 26 (the paper's 224-px frames with 16-px patches: 14x14, about 20).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

import numpy as np
import torch

from core import videomae as V


def measure(patch: int, widths, ratio: float = 0.9, seed: int = V.EVAL_SEED) -> dict:
    """PSNR (dB) on hidden pixels of the held-out real clips, per clip then averaged, as `videomae.evaluate`."""
    c = dataclasses.replace(V.Config(), patch_size=patch)
    real = V.heldout_windows(c)
    preds = {"mean": V.baseline_predictor("mean", c), "nearest": V.baseline_predictor("nearest", c),
             **{f"smooth_w{w:g}": V.baseline_predictor("smooth", dataclasses.replace(c, base_width=w))
                for w in widths}}
    per_clip = [{k: V._db(v) for k, v in V.predictor_errors(preds, w, "tube", ratio, c, seed).items()}
                for w in real.values()]
    psnr = {k: round(float(np.mean([d[k] for d in per_clip])), 3) for k in preds}
    best_smooth = max(v for k, v in psnr.items() if k.startswith("smooth"))
    return dict(patch=patch, grid=list(c.grid), visible_per_frame=round((1 - ratio) * c.grid[1] * c.grid[2], 1),
                psnr=psnr, smooth_gain_over_mean_db=round(best_smooth - psnr["mean"], 3))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patches", type=int, nargs="*", default=[8, 4])
    ap.add_argument("--widths", type=float, nargs="*", default=[1.5, 2.5, 4.0], help="Gaussian widths, token units")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    results = []
    for p in args.patches:
        r = measure(p, args.widths)
        results.append(r)
        print(f"patch {p} px, grid {r['grid']}, ~{r['visible_per_frame']} visible per frame: "
              + ", ".join(f"{k} {v:.2f}" for k, v in r["psnr"].items())
              + f" dB; best smooth fill - frame mean = {r['smooth_gain_over_mean_db']:+.2f} dB")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
