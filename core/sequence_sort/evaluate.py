"""Held-out evaluation: 12-way sorting and verification on real and synthetic clips, linear probes on
the frozen trunk, the baselines (chance, a random-init network, a pixel-path sorter), TARGETS, data_card."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from core import sources, synthetic
from core.sequence_sort.data import LONG_SOURCES, SYNTH_KW, _small_grey, motion_windows, pick_window
from core.sequence_sort.infer import frame_features
from core.sequence_sort.model import (ALL_PERMS, ORDERS, TRIPLET_LABELS, Config, OrderNet, build_model,
                                      order_class, time_reversed_class)

CHANCE = 1.0 / len(ORDERS)
# The best 12-way accuracy of a sorter that cannot tell the arrow of time: 8 of the 24 shuffles are
# their own time-reversal's class (time_reversed_class), the other 16 are a coin toss between two.
DIRECTION_BLIND_CEILING = (8 + 16 * 0.5) / 24

TARGETS = {
    "real_top1": (">=", 0.40),
    "synthetic_top1": (">=", 0.80),
    "real_top1_random_init": ("<", "real_top1"),
    "probe_direction_margin": (">=", 0.10),
}
EVAL_SYNTH_SEEDS = range(900_000, 900_120)     # held-out sprite clips (training seeds start at 10**7)
PROBE_TRAIN_SEEDS = range(800_000, 801_200)
PROBE_TEST_SEEDS = range(810_000, 810_400)
EVAL_STRIDE = 2                               # real held-out tuples: frames 2/15 s apart
EVAL_SYNTH_STRIDE = 3


@torch.inference_mode()
def _sort_accuracy(model: OrderNet, windows: list[np.ndarray]) -> dict[str, float]:
    """Sorting and verification on held-out windows (4 frames in time order each).

    top1: 12-way accuracy over every shown order of each window (24: each class both ways).
    top1_either_direction: also counting the class of the clip played backwards as right
    (time_reversed_class): what a sorter that cannot see the arrow of time can reach.
    verify: Shuffle & Learn on every 3 of the frames in all 6 orders, balanced accuracy (8 of
    those 24 questions are in order: the mean of the accuracies on the two sides).
    """
    if not windows:
        return {"top1": float("nan"), "top1_either_direction": float("nan"), "verify": float("nan")}
    labels = torch.tensor([order_class(p) for p in ALL_PERMS])
    back = torch.tensor([time_reversed_class(p) for p in ALL_PERMS])
    tlabels = torch.tensor(TRIPLET_LABELS)
    hit, either, vhit = 0, 0, np.zeros(2)
    for n in range(0, len(windows), 64):
        f = torch.stack([frame_features(model, w) for w in windows[n:n + 64]])   # (B, 4, C, h, w)
        pred = model.all_order_logits(f).argmax(-1).cpu()                    # (B, 24)
        hit += int((pred == labels).sum())
        either += int(((pred == labels) | (pred == back)).sum())
        v = model.all_triplet_logits(f).argmax(-1).cpu() == tlabels
        vhit += [int(v[:, tlabels == 0].sum()), int(v[:, tlabels == 1].sum())]
    n = len(windows)
    return {"top1": hit / (24 * n), "top1_either_direction": either / (24 * n),
            "verify": float(np.mean(vhit / (n * np.array([16, 8]))))}


def _pixel_path_accuracy(windows: list[np.ndarray]) -> float:
    """A no-learning baseline: the class whose reading of the shown frames has the shortest path in pixels
    (the sum of mean absolute grey differences between frames taken to be successive)."""
    readings = [(k, np.argsort(o)) for k, p in enumerate(ORDERS) for o in (p, p[::-1])]
    hit, n = 0, 0
    for w in windows:
        g = _small_grey(w)
        d = np.abs(g[:, None] - g[None]).mean(axis=(2, 3))                  # (4, 4) between original frames
        for p in ALL_PERMS:
            cost = [sum(d[p[a[j]], p[a[j + 1]]] for j in range(3)) for _, a in readings]
            hit += int(readings[int(np.argmin(cost))][0] == order_class(p))
            n += 1
    return hit / max(n, 1)


def real_eval_windows(stride: int = EVAL_STRIDE, names=None, clips=None) -> dict[str, list[np.ndarray]]:
    """Held-out real tuples: windows with clear motion (top half of each clip's energy, no cut).

    names: bundled held-out clips (default all); clips: name -> frames instead (the REAL_CLIPS held out)."""
    out = {}
    clips = clips if clips is not None else {n: sources.load_clip(n)[0]
                                             for n in names or sources.clip_names("held_out")}
    for name, f in clips.items():
        cands = motion_windows(f, (stride,), keep_top=0.5)
        cands.sort(key=lambda c: c[0])
        out[name] = [f[t:t + 3 * s + 1:s] for t, s, _ in cands]
    return out


def synthetic_eval_windows(seeds=EVAL_SYNTH_SEEDS, size: int = 64) -> list[np.ndarray]:
    """Held-out sprite clips (seeds never trained on): the best motion window of each."""
    out = []
    for seed in seeds:
        v, _ = synthetic.sprites_video(seed, frames=20, size=size, **SYNTH_KW)
        t, s = pick_window(v, EVAL_SYNTH_STRIDE)
        out.append(v[t:t + 3 * s + 1:s])
    return out


def probe_data(seeds, size: int = 64, gap: int = 4):
    """Single-sprite clips for the linear probes: two frames `gap` apart, the sprite's motion
    direction (0 right, 1 down, 2 left, 3 up) and shape class (core.synthetic.SHAPES)."""
    frames, direction, shape = [], [], []
    for seed in seeds:
        v, lab = synthetic.sprites_video(seed, frames=2 + gap, size=size, n_sprites=1, **SYNTH_KW)
        a, b = 1, 1 + gap
        ca, cb = [np.argwhere(lab[t] == 1).mean(0) if (lab[t] == 1).any() else np.array([np.nan] * 2) for t in (a, b)]
        d = cb - ca                                                          # (dy, dx)
        if not np.isfinite(d).all() or np.hypot(*d) < 1.5:
            continue
        ang = math.atan2(d[0], d[1])                                         # 0 = right, pi/2 = down
        direction.append(int(round(ang / (math.pi / 2))) % 4)
        frames.append(v[[a, b]])
        shape.append(_sprite_shape(seed))
    return np.stack(frames), np.array(direction), np.array(shape)


def _sprite_shape(seed: int) -> int:
    """Shape class of the one sprite of sprites_video(seed, n_sprites=1, background='blurred'),
    replaying the generator's random draws up to the sprite's shape."""
    rng = np.random.default_rng(seed)
    rng.integers(2**31)                          # background seed
    rng.uniform(-0.4, 0.4, 2)                    # pan
    rng.uniform(0.2, 0.8)                        # base grey
    rng.uniform(0.2, 0.36)                       # size
    rng.random((2, 3))                           # colours
    return synthetic.SHAPES.index(str(rng.choice(synthetic.SHAPES)))


@torch.inference_mode()
def _probe_features(model: OrderNet, frames: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Frame-trunk features for the probes, from (N, 2, H, W, 3) frame pairs.

    motion: the change of the trunk's 8x8 maps between the two frames, f(b) - f(a), flattened
    (N, C*h*w): a linear read-out of it can follow where a feature went.
    appearance: the first frame's maps averaged over space (N, C): what is there, not where.
    """
    N = len(frames)
    f = frame_features(model, frames.reshape(-1, *frames.shape[2:])).cpu()
    f = f.view(N, 2, *f.shape[1:])
    return (f[:, 1] - f[:, 0]).flatten(1), f[:, 0].mean(dim=(-2, -1))


def _fit_logistic(x: torch.Tensor, y: torch.Tensor, n_cls: int, weight_decay: float, iters: int) -> nn.Linear:
    """Multinomial logistic regression, full-batch L-BFGS, L2 on the weights; deterministic."""
    lin = nn.Linear(x.shape[1], n_cls)
    with torch.no_grad():
        lin.weight.zero_()
        lin.bias.zero_()
    opt = torch.optim.LBFGS(lin.parameters(), lr=1, max_iter=iters, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(lin(x), y) + weight_decay * lin.weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return lin


def linear_probe(train_x: torch.Tensor, train_y: np.ndarray, test_x: torch.Tensor, test_y: np.ndarray,
                 weight_decays=(1e-4, 1e-3, 1e-2, 1e-1), iters: int = 100) -> float:
    """Test accuracy of a linear classifier on standardized features.

    The L2 strength is chosen on the last quarter of the training set (never on the test set),
    then the classifier is refit on all of the training set.
    """
    mu, sd = train_x.mean(0), train_x.std(0) + 1e-6
    xtr, xte = (train_x - mu) / sd, (test_x - mu) / sd
    ytr = torch.as_tensor(np.asarray(train_y)).long()
    n_cls = int(max(np.max(train_y), np.max(test_y))) + 1
    cut = (3 * len(xtr)) // 4

    def acc(lin, x, y):
        with torch.no_grad():
            return float((lin(x).argmax(1) == torch.as_tensor(np.asarray(y)).long()).float().mean())

    scores = [acc(_fit_logistic(xtr[:cut], ytr[:cut], n_cls, wd, iters), xtr[cut:], ytr[cut:]) for wd in weight_decays]
    best = weight_decays[int(np.argmax(scores))]
    return acc(_fit_logistic(xtr, ytr, n_cls, best, iters), xte, test_y)


def probe_scores(model: OrderNet, train=None, test=None) -> dict[str, float]:
    """Linear probes on the frozen frame trunk: motion direction (4 ways, from two frames) and
    sprite shape (6 ways, from one frame), trained on PROBE_TRAIN_SEEDS, tested on PROBE_TEST_SEEDS."""
    train = train or probe_data(PROBE_TRAIN_SEEDS, model.config.size)
    test = test or probe_data(PROBE_TEST_SEEDS, model.config.size)
    (mtr, atr), (mte, ate) = _probe_features(model, train[0]), _probe_features(model, test[0])
    return {"direction": linear_probe(mtr, train[1], mte, test[1]),
            "shape": linear_probe(atr, train[2], ate, test[2])}


def evaluate(model: OrderNet, device="cpu") -> dict[str, float]:
    """Held-out metrics: 12-way sorting on real and synthetic clips, verification, probes; with baselines."""
    model = model.to(device).eval()
    g = torch.random.get_rng_state()
    torch.manual_seed(12345)
    random_model = build_model(model.config).to(device).eval()
    torch.random.set_rng_state(g)
    real = real_eval_windows()
    real_all = [w for ws in real.values() for w in ws]
    synth = synthetic_eval_windows(size=model.config.size)
    m: dict[str, float] = {"chance": CHANCE, "direction_blind_ceiling": DIRECTION_BLIND_CEILING}
    for tag, mdl in (("", model), ("_random_init", random_model)):
        r, sy = _sort_accuracy(mdl, real_all), _sort_accuracy(mdl, synth)
        m["real_top1" + tag], m["synthetic_top1" + tag] = r["top1"], sy["top1"]
        m["real_top1_either_direction" + tag] = r["top1_either_direction"]
        m["synthetic_top1_either_direction" + tag] = sy["top1_either_direction"]
        m["real_verify_acc" + tag], m["synthetic_verify_acc" + tag] = r["verify"], sy["verify"]
        for name, ws in real.items():
            m[f"real_top1_{name}" + tag] = _sort_accuracy(mdl, ws)["top1"]
    m["real_top1_pixel_path"] = _pixel_path_accuracy(real_all)
    m["synthetic_top1_pixel_path"] = _pixel_path_accuracy(synth)
    m["real_tuples"] = float(24 * len(real_all))
    m["synthetic_tuples"] = float(24 * len(synth))
    m.update(real_footage_scores(model, random_model))
    train = probe_data(PROBE_TRAIN_SEEDS, model.config.size)
    test = probe_data(PROBE_TEST_SEEDS, model.config.size)
    p, pr = probe_scores(model, train, test), probe_scores(random_model, train, test)
    m["probe_direction"], m["probe_direction_random_init"] = p["direction"], pr["direction"]
    m["probe_direction_margin"] = p["direction"] - pr["direction"]
    m["probe_shape"], m["probe_shape_random_init"] = p["shape"], pr["shape"]
    return m


def real_footage_scores(model: OrderNet, random_model: OrderNet | None = None) -> dict[str, float]:
    """12-way sorting on the REAL_CLIPS held out (whole packages no training read); {} when not fetched."""
    windows = real_eval_windows(clips=sources.real_clips("held_out"))
    pooled = [w for ws in windows.values() for w in ws]
    if not pooled:
        return {}
    m = {"heldout_real_top1": _sort_accuracy(model, pooled)["top1"],
         "heldout_real_top1_pixel_path": _pixel_path_accuracy(pooled),
         "heldout_real_tuples": float(24 * len(pooled)), "heldout_real_clips": float(len(windows))}
    if random_model is not None:
        m["heldout_real_top1_random_init"] = _sort_accuracy(random_model, pooled)["top1"]
    return m


def data_card(config: Config) -> dict:
    """What a model trained with `config` learned from, and what it is evaluated on (for the model card)."""
    clips = [c for c in sources.manifest()["clips"] if c["split"] == "train"]
    long = [(n, *sources.SOURCE_VIDEOS[n]) for n in LONG_SOURCES] if config.long_sources else []
    return {
        "synthetic": f"core.synthetic.sprites_video({SYNTH_KW}), 20 frames at {config.size + 2 * config.jitter} px, "
                     f"seeds from 10**7 (held-out evaluation seeds {EVAL_SYNTH_SEEDS.start}..{EVAL_SYNTH_SEEDS.stop - 1})",
        "real_clips": [f"{c['name']} ({c['package']}: {c['licence']})" for c in clips],
        "long_sources": [f"{name}: {package}/{path} ({licence}), whole, in place of the bundled cut"
                         for name, package, path, licence in long],
        "photos": (f"{config.photos} stills from core.sources.training_photos() (jigsaw's collections; licences "
                   "GPL / CC-BY(-SA) / CC0 / MIT, see core/sources.py PHOTO_SOURCES) for virtual camera moves"
                   if config.photos else "frames of the training clips only"),
        "mix": {"synthetic": config.p_synthetic, "photo_camera_moves": config.p_photo, "real": config.p_real},
        "more_real_clips": sources.card_entries(sources.split_names("train")) if config.real_clips else [],
        "held_out": sources.clip_names("held_out") + ["sprite clips with seeds " f"{EVAL_SYNTH_SEEDS.start}+"],
        "held_out_real_clips": sources.card_entries(sources.split_names("held_out")),
    }
