"""VideoMAE measured: the pixel baselines, PSNR on the hidden pixels of held-out clips, the targets.

Every baseline sees the same visible tubelets as the model and nothing hidden: "mean" (each frame's
mean visible colour), "nearest" (a copy of the nearest visible tubelet) and "smooth" (the smooth fill
the pixel head adds to). `evaluate` is what core.train writes into the model card and bench.quality
prints; `reconstruct_compare` and `ratio_curve` are what the tab shows.
"""
from __future__ import annotations

import numpy as np
import torch

from core import common, sources, synthetic
from core.videomae.data import batch_masks, make_masking
from core.videomae.infer import (model_predictor, reconstruct_with, window_origins, with_leaking_predictor,
                                 working_size)
from core.videomae.model import Config, VideoMAE, patchify
from core.videomae.pixels import visible_frame_mean, visible_smooth_fill


# ===================================================================== baselines

def baseline_predictor(kind: str, config: Config):
    """A predictor for the pixel baselines that see the same visible patches as the model.

    They work on the same model-sized windows as the model (image_size pixels, num_frames frames):
    "mean": the mean colour of the visible patches of each frame of the window (of the whole
    window when a frame is entirely hidden); "nearest": copy the nearest visible tubelet in space
    and time (distance in token units, ties to the same time step, then the first in (t h w) order);
    "smooth": `visible_smooth_fill` at `config.base_width` (the pixel head's base with
    pixel_base="smooth", so the model's gain over it is what the network learned).
    """
    ts, p = config.tubelet_size, config.patch_size

    def predict(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, T, C, S, _ = x.shape
        grid = (T // ts, S // p, S // p)
        patches = patchify(x, p, ts)                                         # (B, N, P)
        if kind == "smooth":
            return visible_smooth_fill(patches, mask, grid, ts, config.base_width)
        P = patches.shape[-1]
        out = []
        for b in range(B):
            m = mask[b]
            vis = patches[b][~m]                                             # (N_visible, P)
            if kind == "mean":
                out.append(visible_frame_mean(patches[b:b + 1], m[None], grid, ts)[0])
            elif kind == "nearest":
                coords = torch.stack(torch.meshgrid(*[torch.arange(g, device=x.device) for g in grid],
                                                    indexing="ij"), -1).reshape(-1, 3).float()  # (N, 3)
                d = torch.cdist(coords[m], coords[~m]) ** 2                  # (N_masked, N_visible)
                dt = (coords[m][:, None, 0] - coords[~m][None, :, 0]).abs()
                out.append(vis[(d + 1e-3 * dt).argmin(dim=1)])
            else:
                raise ValueError(f"unknown baseline {kind!r}: choose 'mean', 'nearest' or 'smooth'")
        return torch.stack(out)                                              # (B, N_masked, P)
    return predict


def reconstruct_compare(model: VideoMAE, clip, mask_ratio: float = 0.9, seed: int = 0, masking: str = "tube",
                        baselines=("mean", "nearest"), leaking: bool = False) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """`reconstruct` and the pixel baselines on the same mask: ({"model": recon, "mean": ..., ...}, mask).

    leaking=True adds "leaking": the paper's head with each hidden tubelet's own true mean and std, as
    the public visualisation shows it (it reads the hidden pixels; shown only to expose that). The
    "model" picture is the same either way, and one forward pass serves both.
    """
    device = next(model.parameters()).device
    net = with_leaking_predictor(model) if leaking else model_predictor(model)
    predictors = {"model": net, **{k: baseline_predictor(k, model.config) for k in baselines}}
    return reconstruct_with(predictors, clip, mask_ratio, seed, masking, model.config, device)


def reconstruct_baseline(kind: str, clip, mask_ratio: float = 0.9, seed: int = 0, masking: str = "tube",
                         config: Config | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Like `reconstruct` (same mask for the same seed), with a pixel baseline: "mean", "nearest" or "smooth"."""
    config = config or Config()
    recon, mask = reconstruct_with({kind: baseline_predictor(kind, config)}, clip, mask_ratio, seed, masking,
                                   config, "cpu")
    return recon[kind], mask


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR in dB between two videos of the same shape, over the pixels where mask is True.

    uint8 inputs are on a 0..255 scale, float inputs on 0..1. mask (T, H, W) or the full shape.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    scale = 255.0 if a.dtype == np.uint8 or b.dtype == np.uint8 else 1.0
    err = (a.astype(np.float64) - b.astype(np.float64)) ** 2
    if mask is not None:
        err = err[np.asarray(mask, bool)]
    mse = float(err.mean()) / scale ** 2 if err.size else 0.0
    return float(10 * np.log10(1.0 / max(mse, 1e-10)))


# ===================================================================== held-out metrics

EVAL_RATIOS = (0.5, 0.75, 0.9, 0.95)
EVAL_STRATEGIES = ("tube", "random")
EVAL_SEED = 1234

TARGETS = {
    # the issue: at 90% tube masking, at least 1 dB above the better of the two pixel baselines
    "psnr_tube_r90_gain_db": (">=", 1.0),
    # the slide's reason for tube masking: random masking is easier (neighbouring frames leak)
    "psnr_random_r90": (">=", "psnr_tube_r90"),
    "psnr_random_r90_nearest": (">=", "psnr_tube_r90_nearest"),
}


def clip_windows(frames: np.ndarray, config: Config) -> torch.Tensor:
    """A clip as model-sized windows (K, num_frames, 3, S, S) in [0, 1], as `reconstruct` tiles it.

    The clip is scaled so its shorter side is image_size and tiled by windows of num_frames frames
    and image_size pixels (the last ones flush with the end); clips shorter than num_frames give
    windows of their whole (even) length.
    """
    frames = common.check_frames(frames, "clip", min_frames=config.tubelet_size)
    ts, p, S = config.tubelet_size, config.patch_size, config.image_size
    H2, W2 = working_size(frames.shape[1], frames.shape[2], config)
    x = common.frames_to_tensor(frames, (H2, W2))                            # (T, 3, H2, W2)
    t = len(frames) // ts
    tw = min(t, config.num_frames // ts) * ts
    return torch.stack([x[t0 * ts:t0 * ts + tw, :, y0 * p:y0 * p + S, x0 * p:x0 * p + S]
                        for t0, y0, x0 in window_origins(t, H2 // p, W2 // p, config)])


def heldout_windows(config: Config) -> dict[str, torch.Tensor]:
    """Held-out real clips (bikes, city) as model-sized windows: name -> (K, T, 3, S, S)."""
    return {name: clip_windows(sources.load_clip(name)[0], config) for name in sources.clip_names("held_out")}


def synthetic_windows(config: Config, n: int = 24) -> torch.Tensor:
    """Held-out procedural clips (seeds no training run draws in practice): (n, T, 3, S, S)."""
    clips = []
    for i in range(n):
        make = synthetic.sprites_video if i % 3 else synthetic.action_video
        clips.append(common.frames_to_tensor(make(10**9 + i, frames=config.num_frames,
                                                  size=config.image_size)[0]))
    return torch.stack(clips)


@torch.inference_mode()
def masked_errors(model: VideoMAE, windows: torch.Tensor, masking: str, ratio: float,
                  seed: int = EVAL_SEED, batch: int = 16, baselines=("mean", "nearest")) -> dict[str, float]:
    """Mean squared error on the hidden tubelets ([0, 1] pixels) of the model and baselines.

    windows (K, T, 3, S, S); one mask per window from `masking` at `ratio`, seeded.
    Returns {"model": mse, "mean": mse, "nearest": mse} (one entry per name in `baselines`, see
    `baseline_predictor`), pooled over all hidden values.
    """
    c = model.config
    predictors = {"model": model_predictor(model), **{k: baseline_predictor(k, c) for k in baselines}}
    return predictor_errors(predictors, windows, masking, ratio, c, seed, batch,
                            next(model.parameters()).device)


@torch.inference_mode()
def predictor_errors(predictors: dict, windows: torch.Tensor, masking: str, ratio: float, c: Config,
                     seed: int = EVAL_SEED, batch: int = 16, device="cpu") -> dict[str, float]:
    """`masked_errors` for any predictors {name: predict(x, mask) -> (B, N_masked, P)}, same masks."""
    rng = np.random.default_rng(seed)
    grid = (windows.shape[1] // c.tubelet_size,) + c.grid[1:]
    strategy = make_masking(masking, grid, ratio)
    sums = dict.fromkeys(predictors, 0.0)
    count = 0
    for i in range(0, len(windows), batch):
        x = windows[i:i + batch].to(device)
        mask = batch_masks(strategy, len(x), rng, device)
        target = patchify(x, c.patch_size, c.tubelet_size)[mask]             # (B*N_masked, P)
        for k, predict in predictors.items():
            pred = predict(x, mask).reshape(target.shape)
            sums[k] += float((pred - target).pow(2).sum())
        count += target.numel()
    return {k: v / max(count, 1) for k, v in sums.items()}


def _db(mse: float) -> float:
    return float(10 * np.log10(1.0 / max(mse, 1e-10)))


def evaluate(model: VideoMAE, device="cpu") -> dict[str, float]:
    """PSNR (dB) on the hidden pixels of held-out real clips (bikes, city) against two baselines.

    For each strategy (tube, random) and ratio in EVAL_RATIOS: the model's pixel head, the mean of
    the visible patches of each frame ("_mean"), and a copy of the nearest visible tubelet in space
    and time ("_nearest"), all seeing the same visible tubelets; at tube 90% also the smooth fill
    of the visible colours ("_smooth", see baseline_predictor). PSNR per clip from the MSE pooled
    over its windows, then averaged over the clips. Also tube 90% on held-out procedural clips.
    """
    model = model.to(device).eval()
    c = model.config
    real = heldout_windows(c)
    metrics: dict[str, float] = {}
    for masking in EVAL_STRATEGIES:
        for ratio in EVAL_RATIOS:
            # at tube 90% also a stronger non-learned reference, not one of the two baselines
            names = ("mean", "nearest") + (("smooth",) if (masking, ratio) == ("tube", 0.9) else ())
            per_clip = [masked_errors(model, w, masking, ratio, baselines=names) for w in real.values()]
            key = f"psnr_{masking}_r{round(ratio * 100)}"
            for k in ("model",) + names:
                metrics[key + ("" if k == "model" else "_" + k)] = float(np.mean([_db(e[k]) for e in per_clip]))
    metrics["psnr_tube_r90_gain_db"] = metrics["psnr_tube_r90"] - max(metrics["psnr_tube_r90_mean"],
                                                                       metrics["psnr_tube_r90_nearest"])
    metrics.update(real_footage_scores(model))
    syn = masked_errors(model, synthetic_windows(c), "tube", 0.9)
    for k, suffix in (("model", ""), ("mean", "_mean"), ("nearest", "_nearest")):
        metrics["psnr_synthetic_tube_r90" + suffix] = _db(syn[k])
    return {k: round(v, 3) for k, v in metrics.items()}


def real_footage_scores(model: VideoMAE) -> dict[str, float]:
    """Tube 90% PSNR (dB) on the REAL_CLIPS held out (whole packages no training read), model and both
    baselines, averaged over clips; {} when they were not fetched."""
    clips = sources.real_clips("held_out")
    if not clips:
        return {}
    per_clip = [masked_errors(model, clip_windows(f, model.config), "tube", 0.9) for f in clips.values()]
    out = {"heldout_real_clips": float(len(per_clip))}
    for k, suffix in (("model", ""), ("mean", "_mean"), ("nearest", "_nearest")):
        out["heldout_real_psnr_tube_r90" + suffix] = float(np.mean([_db(e[k]) for e in per_clip]))
    out["heldout_real_psnr_gain_db"] = out["heldout_real_psnr_tube_r90"] - max(
        out["heldout_real_psnr_tube_r90_mean"], out["heldout_real_psnr_tube_r90_nearest"])
    return out


def ratio_curve(model: VideoMAE, clip, ratios=EVAL_RATIOS, strategies=EVAL_STRATEGIES,
                seed: int = EVAL_SEED, max_frames: int = 64) -> dict[str, dict[str, list[float]]]:
    """PSNR (dB) on hidden pixels against the mask ratio, on one clip (its first max_frames frames).

    Returns {strategy: {"model": [...], "mean": [...], "nearest": [...]}}, one value per ratio,
    measured as in `evaluate` (model-sized windows, the same masks for the model and baselines).
    """
    frames = common.check_frames(clip, "clip", min_frames=model.config.tubelet_size)[:max_frames]
    windows = clip_windows(frames, model.config)
    out = {}
    for masking in strategies:
        errs = [masked_errors(model, windows, masking, float(r), seed) for r in ratios]
        out[masking] = {k: [_db(e[k]) for e in errs] for k in ("model", "mean", "nearest")}
    return out


def data_card(config: Config) -> dict:
    """What trained a model with this config, for the model card: real clips, procedural and photo shares, views."""
    real = []
    for name in sources.clip_names("train"):
        info = sources.clip_info(name)
        src = sources.SOURCE_VIDEOS.get(name) if config.use_sources else None
        real.append(dict(name=name, package=info["package"], licence=info["licence"],
                         file=(src[1] + " (whole source video)") if src else info["file"]))
    return dict(
        real_train=real,
        synthetic=f"core.synthetic sprites_video / action_video, {config.synthetic_fraction:.0%} of clips",
        photos=(f"camera pans over the photographs of {', '.join(f'{k} ({v[1]})' for k, v in sources.TRAIN_PHOTOS.items())}"
                f" under data/sources, {config.photo_fraction:.0%} of clips") if config.photo_fraction else "none",
        real_clips=sources.card_entries(sources.split_names("train")) if config.real_clips else [],
        held_out=[dict(name=n, licence=sources.clip_info(n)["licence"]) for n in sources.clip_names("held_out")],
        held_out_real_clips=sources.card_entries(sources.split_names("held_out")),
        views=(f"{config.num_frames} frames every 1..{config.max_stride} frames, square crops of 55-100% "
               f"of the shorter side resized to {config.image_size} px, random flips"),
        masking=f"{config.masking} at {config.mask_ratio:.0%}",
        picture=("reconstruct() shows a pixel head trained alongside the paper's normalized-target head "
                 "(loss weight {:g}); no statistic of a hidden patch is used".format(config.pixel_loss_weight)),
    )

