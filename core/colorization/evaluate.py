"""Held-out evaluation of the colourizer: tracking J on sprite videos, colour accuracy on real clips.

Held-out tracking is measured on sprite videos that are hard for raw pixels in
the way the paper's are: sprites alike in grey AND sharing the same two
colours (ALIKE_VIDEO), so only texture, shape and motion tell them apart. The
same videos with each sprite in its own colours (HARD_VIDEO) are reported too:
there the raw Lab baseline tells sprites apart by colour, a cue the grey-input
model never receives, and beats it.
"""
from __future__ import annotations

import time

import numpy as np

from core import sources, synthetic

from .data import TRAIN_SEED_RANGE
from .infer import colour_clusters, predict_clusters, propagate
from .model import ColorizationNet, Config

HELD_OUT_SEEDS = tuple(range(900_000, 900_016))   # hard synthetic videos, never trained on
HARD_VIDEO = dict(frames=32, size=128, n_sprites=3, lookalike=True, lighting=True, background="textured")
# The tracking target's held-out set: the same videos with every sprite painted in the same two colours,
# so that sprites look alike in grey *and* in colour (on HARD_VIDEO the raw-Lab baseline reads colour,
# which the grey-input model never sees, so there it measures the colour cue, not tracking).
ALIKE_VIDEO = dict(HARD_VIDEO, same_colours=True)
COLOUR_GAP = 4                         # held-out colourization: target a few frames after the reference

TARGETS = {
    "track_J": (">=", 0.6),
    "track_J_margin": (">=", 0.05),
    "colour_acc": (">=", "colour_acc_raw_pixels"),
}


def jaccard_per_frame(pred: np.ndarray, truth: np.ndarray, objects=None) -> np.ndarray:
    """Region similarity J per frame: mean over objects of IoU(pred == k, truth == k).

    pred, truth (T, H, W) int. objects: the labels to score (default: those
    in truth[0] other than 0). A frame where an object is absent from both
    counts as 1 for it (DAVIS convention). Returns (T,) float.
    """
    pred, truth = np.asarray(pred), np.asarray(truth)
    if pred.shape != truth.shape or pred.ndim != 3:
        raise ValueError(f"pred and truth must both be (T, H, W), got {pred.shape} and {truth.shape}")
    objects = [k for k in np.unique(truth[0]) if k != 0] if objects is None else list(objects)
    if not objects:
        return np.ones(len(pred))
    js = []
    for k in objects:
        p, g = pred == k, truth == k
        inter = (p & g).sum((1, 2))
        union = (p | g).sum((1, 2))
        js.append(np.where(union > 0, inter / np.maximum(union, 1), 1.0))
    return np.mean(js, axis=0)


def hard_video(seed: int, **overrides) -> tuple[np.ndarray, np.ndarray]:
    """A hard held-out sprite video (textured, alike in grey, occluding, changing light) and its labels."""
    return synthetic.sprites_video(seed, **{**HARD_VIDEO, **overrides})


def tracking_scores(model, seeds=HELD_OUT_SEEDS, features=("learned", "raw_lab", "raw_grey"),
                    video: dict | None = None) -> dict:
    """Mean J (frames 1..T-1) over held-out sprite videos of `seeds` (`video`: sprites_video options,
    default ALIKE_VIDEO), per feature kind."""
    out = {f: [] for f in features}
    for seed in seeds:
        video_, labels = synthetic.sprites_video(seed, **(ALIKE_VIDEO if video is None else video))
        for f in features:
            pred = propagate(model, video_, labels[0], features=f)
            out[f].append(float(jaccard_per_frame(pred, labels)[1:].mean()))
    return {f: float(np.mean(v)) for f, v in out.items()}


def shot_cuts(clip: np.ndarray, threshold: float = 40.0) -> np.ndarray:
    """(T,) bool: True at frames that start a new shot (mean absolute change from the previous > threshold)."""
    d = np.abs(np.diff(clip.astype(np.int16), axis=0)).mean(axis=(1, 2, 3))
    return np.concatenate([[False], d > threshold])


def colour_scores(model, clip_names=None, gap: int = COLOUR_GAP, every: int = 8, clips=None) -> dict:
    """Accuracy of the pointed colour cluster on held-out real clips, target `gap` frames after the reference.

    Also the same pointer on raw grey values, and copying the reference's
    cluster at the same place (what a static camera gives for free). Pairs
    across a shot cut (the bundled clips are edited) are skipped.
    """
    names = sources.clip_names("held_out") if clip_names is None else clip_names
    clips = clips if clips is not None else {n: sources.load_clip(n)[0] for n in names}
    hits = {"learned": 0, "raw_grey": 0, "copy": 0}
    total = 0
    for clip in clips.values():
        cut = shot_cuts(clip)
        for t in range(0, len(clip) - gap, every):
            if cut[t + 1:t + gap + 1].any():      # a different shot: nothing to point at
                continue
            ref, tgt = clip[t], clip[t + gap]
            truth = colour_clusters(model, tgt)
            for f in ("learned", "raw_grey"):
                hits[f] += int((predict_clusters(model, tgt, ref, f)[0] == truth).sum())
            hits["copy"] += int((colour_clusters(model, ref) == truth).sum())
            total += truth.size
    return {k: v / max(total, 1) for k, v in hits.items()}


def real_footage_scores(model) -> dict:
    """Colour-cluster accuracy on the REAL_CLIPS held out in colour (whole packages no training read), with
    the raw-grey and copy baselines; {} when they were not fetched."""
    clips = sources.colour_clips("held_out")
    if not clips:
        return {}
    real = colour_scores(model, clips=clips, every=16)
    return {"heldout_real_colour_acc": real["learned"], "heldout_real_colour_acc_raw_pixels": real["raw_grey"],
            "heldout_real_colour_acc_copy_same_place": real["copy"]}


def evaluate(model: ColorizationNet, device="cpu") -> dict:
    """Held-out tracking J (sprite videos alike in grey and colour; and alike in grey only) and colour
    accuracy (held-out real clips), model and baselines."""
    model = model.to(device).eval()
    t0 = time.time()
    tr = tracking_scores(model, video=ALIKE_VIDEO)
    tc = tracking_scores(model, video=HARD_VIDEO)
    co = colour_scores(model)
    return {
        "track_J": tr["learned"],
        "track_J_raw_lab": tr["raw_lab"],
        "track_J_raw_grey": tr["raw_grey"],
        "track_J_raw_pixels": max(tr["raw_lab"], tr["raw_grey"]),
        "track_J_margin": tr["learned"] - max(tr["raw_lab"], tr["raw_grey"]),
        "track_J_distinct_colours": tc["learned"],
        "track_J_distinct_colours_raw_lab": tc["raw_lab"],
        "track_J_distinct_colours_raw_grey": tc["raw_grey"],
        "colour_acc": co["learned"],
        "colour_acc_raw_pixels": co["raw_grey"],
        "colour_acc_copy_same_place": co["copy"],
        **real_footage_scores(model),
        "eval_seconds": round(time.time() - t0, 1),
    }


def data_card(config: Config) -> dict:
    """What trained the model and what measured it, for the model card."""
    clips = [dict(name=n, licence=sources.clip_info(n)["licence"]) for n in sources.clip_names("train")]
    return {
        "train": {
            "synthetic": (f"core.synthetic.sprites_video, seeds drawn from {TRAIN_SEED_RANGE}, "
                          f"{config.gen_sizes} px canvases cropped to {config.size} px, 2-4 sprites, "
                          f"lighting ramps, {config.lookalike_frac:.0%} alike in grey; "
                          f"{config.synthetic_frac:.0%} of tuples"),
            "clips": clips,
            "more_real_clips": (sources.card_entries(sorted(sources.colour_clips("train"))) if config.real_clips
                                else []),
            "colour_clusters": f"k-means (k={config.n_colors}) on Lab ab of {config.kmeans_frames} training frames",
        },
        "held_out": {
            "tracking": (f"core.synthetic.sprites_video seeds {HELD_OUT_SEEDS[0]}..{HELD_OUT_SEEDS[-1]} "
                         f"with {ALIKE_VIDEO}; J over frames 2..32 of the 3 sprites"),
            "tracking_distinct_colours": (f"the same seeds with {HARD_VIDEO} (sprites alike in grey, "
                                          f"distinct in colour)"),
            "colourization": (f"bundled clips {sources.clip_names('held_out')}: reference frame t, target "
                              f"t+{COLOUR_GAP}, every 8th t, pairs across shot cuts skipped"),
            **({"colourization_real": "the REAL_CLIPS held out in colour (every 16th t): " + "; ".join(
                sources.card_entries(sorted(real)))} if (real := sources.colour_clips("held_out")) else {}),
        },
    }
