"""Sound localization evaluation: held-out scenes, the model against its baselines, targets, the data card.

Held-out scenes use seeds from EVAL_SEED on (training draws below 1e9); half
sit on av_scene's procedural backgrounds, half on crops of the bundled photos
(assets/examples/photos), which no training set uses. The baselines are the
same network at its random initialisation and a centre prior.
"""
from __future__ import annotations

import numpy as np

from core import common, synthetic
from core.sound_localization.data import photo_crops, silence, train_photo_files
from core.sound_localization.infer import random_init, run
from core.sound_localization.model import HOP, N_BINS, N_FFT, N_FRAMES, SAMPLE_RATE, SECONDS, AVOLNet, Config

EVAL_SEED = 2_000_000_000    # held-out scenes use seeds from here on; training draws below 1e9
N_CORR = 400                 # held-out scenes for correspondence (each: one positive, one negative)
N_LOC = 300                  # held-out scenes with 2-3 objects for localization

N_REAL = 300                 # held-out real scenes for each real measure

TARGETS = {
    "real_corr_acc": (">=", 0.85),
    "real_corr_acc_silence": (">=", 0.85),
    "real_pointing": (">=", 0.80),
    "corr_acc": (">=", 0.85),
    "pointing": (">=", 0.80),
    "iou": (">=", "iou_centre_prior"),
    "iou_photo_bg": (">=", "iou_random_init"),
    "peak_drop_mismatched": (">", 0.0),
    "peak_drop_silent": (">", 0.0),
}


# --------------------------------------------------------------------- held-out scenes

def heldout_photo_backgrounds(size: int, n: int, seed: int = EVAL_SEED) -> list[np.ndarray]:
    """Crops of the bundled photos (held out from every training set) as scene backgrounds."""
    from core import sources

    files = [sources.example_path(p["file"]) for p in sources.manifest()["photos"]]
    return photo_crops(files, n, size, np.random.default_rng(seed))


def _heldout_scenes(n: int, size: int, seed0: int, n_objects=None):
    """Held-out scenes as (frame, audio, classes, sounding class, mask): the first half on av_scene's own
    procedural backgrounds (new seeds), the second on crops of the bundled photos."""
    photos = heldout_photo_backgrounds(size, n - n // 2, seed0)
    out = []
    for i in range(n):
        k = n_objects[i % len(n_objects)] if n_objects else None
        bg = None if i < n // 2 else photos[i - n // 2]
        f, a, _, m, meta = synthetic.av_scene(seed0 + i, size, SECONDS, n_objects=k, background=bg,
                                              return_meta=True)
        out.append((f, a, meta["classes"], meta["classes"][meta["sounding"]], m))
    return out


def _mismatched(scenes, i: int) -> np.ndarray:
    """The audio of the next held-out scene whose sounding class is not in scene i's frame."""
    for d in range(1, len(scenes)):
        j = (i + d) % len(scenes)
        if scenes[j][3] not in scenes[i][2]:
            return scenes[j][1]
    raise RuntimeError("no mismatched scene")


def _batched(model, frames, waves, bs: int = 100) -> dict:
    """infer.run over frames (B, H, W, 3) and waves (B, N) in chunks of bs: dict(heat, score)."""
    outs = [run(model, frames[i:i + bs], waves[i:i + bs]) for i in range(0, len(frames), bs)]
    return {k: np.concatenate([o[k] for o in outs]) for k in ("heat", "score")}


def _centre_prior(size: int) -> np.ndarray:
    """The baseline that always points at the middle: a Gaussian of sigma a quarter of the side, (size, size)."""
    r = (np.arange(size) - (size - 1) / 2) / size
    return np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * 0.25 ** 2)).astype(np.float32)


# --------------------------------------------------------------------- metrics

def localization_metrics(heat: np.ndarray, masks: np.ndarray) -> dict:
    """Pointing game and IoU for maps (B, H, W) against masks (B, H, W) bool.

    Pointing: the map's peak lies inside the mask. IoU: the map min-max scaled
    to [0, 1] and thresholded at 0.5, against the mask. Returns means.
    """
    B = len(heat)
    flat = heat.reshape(B, -1)
    peak = flat.argmax(1)
    hit = masks.reshape(B, -1)[np.arange(B), peak]
    lo, hi = flat.min(1, keepdims=True), flat.max(1, keepdims=True)
    on = ((flat - lo) / np.maximum(hi - lo, 1e-8)) >= 0.5
    m = masks.reshape(B, -1)
    iou = (on & m).sum(1) / np.maximum((on | m).sum(1), 1)
    return {"pointing": float(hit.mean()), "iou": float(iou.mean())}


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Area under the ROC curve: the chance that a positive outscores a negative (ties count half)."""
    pos, neg = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(((pos > neg).mean() + 0.5 * (pos == neg).mean()))


def evaluate(model: AVOLNet, device="cpu") -> dict:
    """Held-out metrics of the model and its baselines (random init, centre prior); deterministic.

    - corr_acc: correspondence accuracy at 0.5 over N_CORR held-out scenes, each
      as a positive (own audio) and a negative (another held-out scene's audio
      whose class is not in the frame); chance 0.5. corr_acc_any_negative: the
      negative is any other scene with another sounding class, even one whose
      object is visible (silent) in the frame, so some negatives are true
      look-alikes. corr_auc: the ROC area of positives against negatives.
      silent_rejected: share of frames + near-silence scored < 0.5.
    - pointing / iou on N_LOC held-out scenes with 2 or 3 objects (half on
      procedural backgrounds, half on the bundled held-out photos), also split
      by background; the same for the random-init network and a centre prior.
    - peak_*: the heatmap's mean peak with the own, a mismatched and silent
      audio; peak_drop_* = own - other (the control), peak_falls_*: share of
      scenes whose peak fell. mask_area: the sounding object's mean share of the frame.
    - real_* (when data/sources holds the held-out real sources): on real_scenes of
      the held-out pool (faces of other people with recorded speech of other
      voices, photographed farm animals with their recordings, frames of real
      videos with their own second). real_corr_acc: own sound vs a sound of
      another held-out item of another class; real_corr_acc_silence: own sound vs
      near-silence; by kind (_face, _object, _video). real_pointing: the map's
      peak in the sounding panel of 1x2 and 2x2 scenes, against the random-init
      network and the centre prior.
    """
    model = model.to(device).eval()
    size = model.config.size
    base = random_init(model.config, device)
    metrics: dict[str, float] = {}

    corr = _heldout_scenes(N_CORR, size, EVAL_SEED)
    frames = np.stack([s[0] for s in corr])
    own = np.stack([s[1] for s in corr])
    mism = np.stack([_mismatched(corr, i) for i in range(len(corr))])
    anyneg = np.stack([next(corr[(i + d) % len(corr)][1] for d in range(1, len(corr))
                            if corr[(i + d) % len(corr)][3] != corr[i][3]) for i in range(len(corr))])
    quiet = np.stack([silence(np.random.default_rng(EVAL_SEED + i)) for i in range(len(corr))])
    for name, m in (("", model), ("_random_init", base)):
        p = _batched(m, frames, own)["score"]
        n = _batched(m, frames, mism)["score"]
        na = _batched(m, frames, anyneg)["score"]
        q = _batched(m, frames, quiet)["score"]
        metrics["corr_acc" + name] = float(((p >= 0.5).mean() + (n < 0.5).mean()) / 2)
        metrics["corr_acc_any_negative" + name] = float(((p >= 0.5).mean() + (na < 0.5).mean()) / 2)
        metrics["corr_auc" + name] = _auc(p, n)
        metrics["silent_rejected" + name] = float((q < 0.5).mean())

    loc = _heldout_scenes(N_LOC, size, EVAL_SEED + 10**6, n_objects=(2, 3))
    frames = np.stack([s[0] for s in loc])
    masks = np.stack([s[4] for s in loc])
    own = np.stack([s[1] for s in loc])
    mism = np.stack([_mismatched(loc, i) for i in range(len(loc))])
    quiet = np.stack([silence(np.random.default_rng(EVAL_SEED + 10**6 + i)) for i in range(len(loc))])
    half = len(loc) // 2
    for name, m in (("", model), ("_random_init", base)):
        r = _batched(m, frames, own)
        heat = np.clip(common.resize_map(r["heat"], (size, size)), 0, 1)
        lm = localization_metrics(heat, masks)
        metrics["pointing" + name], metrics["iou" + name] = lm["pointing"], lm["iou"]
        if not name:
            a = localization_metrics(heat[:half], masks[:half])
            b = localization_metrics(heat[half:], masks[half:])
            metrics["pointing_procedural_bg"], metrics["pointing_photo_bg"] = a["pointing"], b["pointing"]
            metrics["iou_procedural_bg"], metrics["iou_photo_bg"] = a["iou"], b["iou"]
            peak = r["heat"].reshape(len(loc), -1).max(1)
            peak_m = _batched(m, frames, mism)["heat"].reshape(len(loc), -1).max(1)
            peak_q = _batched(m, frames, quiet)["heat"].reshape(len(loc), -1).max(1)
            metrics["peak_own_audio"] = float(peak.mean())
            metrics["peak_mismatched_audio"] = float(peak_m.mean())
            metrics["peak_silent_audio"] = float(peak_q.mean())
            metrics["peak_drop_mismatched"] = float((peak - peak_m).mean())
            metrics["peak_drop_silent"] = float((peak - peak_q).mean())
            metrics["peak_falls_mismatched"] = float((peak_m < peak).mean())
            metrics["peak_falls_silent"] = float((peak_q < peak).mean())
    prior = np.broadcast_to(_centre_prior(size), masks.shape)
    lm = localization_metrics(np.ascontiguousarray(prior), masks)
    metrics["pointing_centre_prior"], metrics["iou_centre_prior"] = lm["pointing"], lm["iou"]
    metrics["mask_area"] = float(masks.mean())
    metrics.update(real_metrics(model, device))
    return metrics


# --------------------------------------------------------------------- held-out real material

HELD_OUT_BACKGROUNDS = ("china", "coffee", "flower", "rocket", "cameraman")   # bundled photos with no face or animal


def real_heldout_pool():
    """The held-out real pool (core.sources' held_out split: other packages than any training one), or None
    when data/sources lacks it."""
    from core import sources
    from core.sound_localization.real import RealPool

    pool = RealPool("held_out", [sources.load_photo(n) for n in HELD_OUT_BACKGROUNDS])
    return pool if pool.faces and pool.objects and pool.videos else None


def real_scenes(pool, n: int, size: int, seed: int, layouts):
    """n held-out real scenes, deterministic: the sounding item cycles faces, pictures with their own
    recording and real videos; each with a sound of another class (the negative) drawn from the pool."""
    rng = np.random.default_rng(seed)
    kinds = ("face", "object", "video")
    out = []
    for i in range(n):
        frame, own, visible, cls, mask = pool.scene(rng, size, layouts[i % len(layouts)], kinds[i % 3])
        other = pool.draw(rng, kinds[(i + 1) % 3], avoid=set(visible)) or pool.draw(rng, avoid=set(visible))
        t = int(rng.integers(len(pool.videos[other[1]][2]))) if other[0] == "video" else None
        neg = pool.sound(other, rng, t)
        out.append((frame, own, neg, mask, kinds[i % 3]))
    return out


def real_metrics(model: AVOLNet, device="cpu", n: int = N_REAL) -> dict:
    """Held-out real measures (empty without data/sources): see evaluate()."""
    pool = real_heldout_pool()
    if pool is None:
        return {}
    size = model.config.size
    base = random_init(model.config, device)
    metrics: dict[str, float] = {}
    corr = real_scenes(pool, n, size, EVAL_SEED + 7 * 10**6, [(1, 1)])
    frames = np.stack([c[0] for c in corr])
    own, neg = np.stack([c[1] for c in corr]), np.stack([c[2] for c in corr])
    quiet = np.stack([silence(np.random.default_rng(EVAL_SEED + i)) for i in range(n)])
    kind = np.array([c[4] for c in corr])
    for name, m in (("", model), ("_random_init", base)):
        p = _batched(m, frames, own)["score"]
        q = _batched(m, frames, neg)["score"]
        z = _batched(m, frames, quiet)["score"]
        metrics["real_corr_acc" + name] = float(((p >= 0.5).mean() + (q < 0.5).mean()) / 2)
        metrics["real_corr_acc_silence" + name] = float(((p >= 0.5).mean() + (z < 0.5).mean()) / 2)
        metrics["real_corr_auc" + name] = _auc(p, q)
        if not name:
            for k in ("face", "object", "video"):
                s = kind == k
                metrics[f"real_corr_acc_{k}"] = float(((p[s] >= 0.5).mean() + (q[s] < 0.5).mean()) / 2)
            metrics["real_own_accepted"] = float((p >= 0.5).mean())
            metrics["real_other_rejected"] = float((q < 0.5).mean())
            metrics["real_silent_rejected"] = float((z < 0.5).mean())
    loc = real_scenes(pool, n, size, EVAL_SEED + 8 * 10**6, [(1, 2), (2, 2)])
    frames = np.stack([c[0] for c in loc])
    masks = np.stack([c[3] for c in loc])
    own = np.stack([c[1] for c in loc])
    kind = np.array([c[4] for c in loc])
    for name, m in (("", model), ("_random_init", base)):
        heat = np.clip(common.resize_map(_batched(m, frames, own)["heat"], (size, size)), 0, 1)
        metrics["real_pointing" + name] = localization_metrics(heat, masks)["pointing"]
        if not name:
            for k in ("face", "object", "video"):
                s = kind == k
                metrics[f"real_pointing_{k}"] = localization_metrics(heat[s], masks[s])["pointing"]
    prior = np.ascontiguousarray(np.broadcast_to(_centre_prior(size), masks.shape))
    metrics["real_pointing_centre_prior"] = localization_metrics(prior, masks)["pointing"]
    return metrics


def real_card() -> dict:
    """The held-out real material, for the card."""
    pool = real_heldout_pool()
    from core import sources
    return {
        "sources": {**{f"video {k}": f"{v[0]}: {v[1]} ({v[3]}; {v[2]})" for k, v in sources.AV_VIDEOS.items()
                       if v[4] == "held_out"},
                    **{f"faces {k}": f"{v[0]}: {v[1]} ({v[2]})" for k, v in sources.FACES.items()
                       if v[3] == "held_out"},
                    **{f"speech {k}": v[1] for k, v in sources.SPEECH.items() if v[2] == "held_out"},
                    **{f"pictures with sounds {k}": f"{sorted(v[0])} ({v[1]})" for k, v in sources.SOUNDING.items()
                       if v[2] == "held_out"},
                    "silent panels": f"bundled photos {list(HELD_OUT_BACKGROUNDS)}"},
        "counts": pool.counts() if pool is not None else "data/sources not fetched",
        "scenes": (f"{N_REAL} single pictures for correspondence (own sound vs a sound of another held-out item "
                   f"of another class, and vs near-silence), {N_REAL} side-by-side scenes (1x2 and 2x2 panels, "
                   "one sounding) for the pointing game; the sounding item cycles faces with speech, pictures "
                   "with their own recording, frames of real videos with their own second"),
    }


def quick_check(model: AVOLNet, device="cpu", n: int = 48) -> dict:
    """A fast held-out check (about a second): correspondence accuracy and AUC, and the pointing game, on n
    scenes with 2-3 objects on procedural backgrounds (seeds apart from evaluate's). Returns dict(n,
    corr_acc, corr_auc, pointing)."""
    size = model.config.size
    scenes = []
    for i in range(n):
        f, a, _, m, meta = synthetic.av_scene(EVAL_SEED + 3 * 10**6 + i, size, SECONDS, n_objects=2 + i % 2,
                                              return_meta=True)
        scenes.append((f, a, meta["classes"], meta["classes"][meta["sounding"]], m))
    frames = np.stack([s[0] for s in scenes])
    own = _batched(model.to(device), frames, np.stack([s[1] for s in scenes]))
    neg = _batched(model, frames, np.stack([_mismatched(scenes, i) for i in range(n)]))
    heat = np.clip(common.resize_map(own["heat"], (size, size)), 0, 1)
    lm = localization_metrics(heat, np.stack([s[4] for s in scenes]))
    return {"n": n, "corr_acc": float(((own["score"] >= 0.5).mean() + (neg["score"] < 0.5).mean()) / 2),
            "corr_auc": _auc(own["score"], neg["score"]), "pointing": lm["pointing"]}


# --------------------------------------------------------------------- the model card

def data_card(config: Config) -> dict:
    """What trained the shipped weights, and what they were measured on."""
    from core import sources
    from core.sources import PHOTO_SOURCES

    photos = train_photo_files() if config.photo_frac > 0 else {}
    real_frac = getattr(config, "real_frac", 0.0)
    card = {
        "train": (f"{1 - real_frac:.0%} of each batch: synthetic audio-visual scenes (core.synthetic.av_scene, "
                  f"{config.size} px, 1-{config.max_objects} objects, one sounding), fresh seeds below 1e9 every "
                  f"step; {1 - config.photo_frac:.0%} on dead-leaves backgrounds, {config.photo_frac:.0%} on random "
                  f"crops of real photos. {real_frac:.0%}: real composite scenes (1x1, 1x2 or 2x2 panels, one "
                  "sounding; core.sound_localization.real) from the train split of core.sources"),
        "sounds": "CC0 Sonic Pi samples (Debian sonic-pi-samples), two per class, random take/pitch/gain "
                  "(assets/examples/sounds, see LICENSES.md)",
        "photo_backgrounds": {k: {"files": len(v), "licence": PHOTO_SOURCES[k][1]} for k, v in photos.items()},
        "negatives": ("every frame of a batch against every sound of the batch: its own sound is the positive, "
                      "the sounds of other scenes whose sounding class is not in the frame are negatives "
                      "(look-alikes, a visible but silent object of the sounding class, are left out), plus "
                      f"{max(1, round(config.batch * config.silent_frac))} near-silent sounds and as many room "
                      "tones (background noise alone) per step; BCE weighs positives and negatives 50/50"),
        "held_out": (f"{N_CORR} + {N_LOC} scenes with seeds from {EVAL_SEED} (never drawn in training): half on "
                     "av_scene's procedural backgrounds, half on crops of the bundled photos "
                     "(assets/examples/photos, held out from every training set)"),
        "audio": f"{SAMPLE_RATE} Hz, {SECONDS:g} s, log-power spectrogram: {N_FFT}-sample Hann window, hop {HOP}, "
                 f"{N_BINS} bins x {N_FRAMES} frames, dB"
                 + ("; each window brought to -20 dB RMS first (gain capped at +30 dB: near-silence stays quiet)"
                    if getattr(config, "level_norm", False) else ""),
    }
    if real_frac > 0:
        card["real_train"] = {
            "videos with their own sound": {k: f"{v[0]}: {v[1]} ({v[3]}; {v[2]})" for k, v in
                                            sources.AV_VIDEOS.items() if v[4] == "train"}
            | {"bunny": "bundled clips/bunny.mp4 with its sound (CC-BY-3.0, Blender Foundation)"},
            "faces (heard with any speech)": {k: f"{v[0]}: {v[1]} ({v[2]})" for k, v in sources.FACES.items()
                                              if v[3] == "train"},
            "speech": {k: f"{v[1]}" for k, v in sources.SPEECH.items() if v[2] == "train"},
            "pictures with their own recordings": {k: f"{len(v[0])} classes ({v[1]})" for k, v in
                                                   sources.SOUNDING.items() if v[2] == "train"},
            "more recordings of those classes": {k: v[1] for k, v in sources.EXTRA_SOUNDS.items() if v[2] == "train"},
            "augmentation": ("on every real sound: band limit (p 0.5), reverb (p 0.4, RT 0.1-0.6 s), background "
                             "noise 5-30 dB below (p 0.5), peak level -45 to 0 dB") if config.augment else "none",
        }
        card["real_held_out"] = real_card()
    return card
