"""Put the official VideoMAE-Base checkpoint into the local Hugging Face cache, then check it.

The VideoMAE tab can show the authors' own model (MCG-NJU/videomae-base: ViT-B pretrained on
Kinetics-400 for 1600 epochs, weights CC-BY-NC-4.0) beside the one trained here. The app never
downloads anything: `core.videomae.load_hf` reads the cache with local_files_only. This script is
the one step that uses the network, where a network is allowed:

    python scripts/fetch_models.py            # download config.json + model.safetensors (~380 MB), then check
    python scripts/fetch_models.py --check    # only check what the cache holds (no network)

The check loads the checkpoint as the tab does, confirms the attention's query/value biases
arrived (transformers before 5.23 left them at zero), and reconstructs 16 frames of the held-out
bikes clip at 90% tube masking, printing PSNR on the hidden pixels for the honest picture, the
leaking one and the baselines. On a Space, `preload_from_hub` in README.md's front matter fetches
the same files at build time.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from core import videomae as vm  # noqa: E402


def fetch(name: str = vm.OFFICIAL) -> None:
    """Download the files `load_hf` reads into the default Hugging Face cache."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        sys.exit("HF_HUB_OFFLINE is set: unset it to download (or run with --check).")
    from huggingface_hub import hf_hub_download
    for f in vm.hf.OFFICIAL_FILES:
        path = hf_hub_download(name, f)
        print(f"{f}: {os.path.getsize(path) / 1e6:.1f} MB at {path}")


def check(name: str = vm.OFFICIAL, frames: int = 16, seed: int = 0) -> dict:
    """Load from the cache alone, as a click does, and measure one reconstruction. Returns the numbers."""
    import numpy as np
    import torch

    from core import sources
    t0 = time.perf_counter()
    model = vm.load_hf(name)
    load_s = time.perf_counter() - t0
    n_params = sum(p.numel() for p in model.parameters())
    biases = {k: float(v.abs().mean()) for k, v in model.net.state_dict().items()
              if k.endswith(("attention.attention.query.bias", "attention.attention.value.bias"))}
    zero = [k for k, v in biases.items() if v == 0.0]
    print(f"{name}: loaded from the cache in {load_s:.1f} s, {n_params / 1e6:.1f} M parameters; "
          f"{len(biases)} query/value biases, {len(zero)} of them all zero")
    clip = sources.load_clip("bikes")[0][:frames]
    t0 = time.perf_counter()
    with torch.inference_mode():
        outs, mask = vm.reconstruct_compare(model, clip, 0.9, seed, "tube", baselines=("mean", "smooth", "nearest"),
                                            leaking=True)
    run_s = time.perf_counter() - t0
    scores = {k: vm.psnr(v, clip, mask) for k, v in outs.items()}
    print(f"bikes, {len(clip)} frames {clip.shape[1]}x{clip.shape[2]}, 90% tube masking, seed {seed} "
          f"({run_s:.1f} s on {torch.get_num_threads()} threads): PSNR on hidden pixels (dB)")
    for k in ("model", "leaking", "smooth", "mean", "nearest"):
        label = {"model": "official, honest (visible statistics)", "leaking": "official, LEAKING (true statistics)",
                 "smooth": "smooth fill of visible colours", "mean": "frame mean of visible patches",
                 "nearest": "copy nearest visible tubelet"}[k]
        print(f"  {label:40s} {scores[k]:6.2f}")
    return dict(load_s=load_s, run_s=run_s, params=n_params, zero_biases=len(zero), psnr=scores,
                honest_psnr_gain_over_smooth=scores["model"] - scores["smooth"],
                mask_fraction=float(np.mean(mask)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="do not download; only check the cache")
    ap.add_argument("--name", default=vm.OFFICIAL, help="a VideoMAEForPreTraining checkpoint on the Hub")
    args = ap.parse_args(argv)
    if not args.check:
        fetch(args.name)
    if not vm.in_cache(args.name):
        print(vm.how_to_get(args.name))
        return 1
    result = check(args.name)
    return 1 if result["zero_biases"] else 0


if __name__ == "__main__":
    sys.exit(main())
