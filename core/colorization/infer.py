"""Inference with the colourization pointer: colour a grey frame from a reference, and track masks.

The contract functions are `colorize` and `propagate` (core/colorization/__init__.py
re-exports them); the rest serve the tab: a whole clip coloured from one frame,
the pretext answer on a pair, where one pixel's pointer looks, masks as pictures.

Every function takes the model's own test settings from `model.config`: frames
are shrunk to `infer_side`, the learned features are scaled to unit length when
`test_normalize` (a cosine pointer) and compared at `test_temperature`, and propagation keeps each target cell's
`topk` best reference cells in the first frame and the `n_recent` previous ones.
The raw-pixel baseline (features "raw_lab" or "raw_grey") runs the identical
pointer on each cell's own Lab or grey values, compared by negative squared
distance at `raw_temperature`.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from core import common

from .color import frames_to_lab_cells, grey_to_L, lab_to_rgb, luma, quantize
from .memo import _frames_key, _model_state, _remember, _remembered, clear_cache  # noqa: F401  (clear_cache: callers)
from .model import STRIDE, ColorizationNet, Config, build_model


def load_pretrained(device="cpu") -> ColorizationNet:
    """The shipped model (assets/models/colorization.pt), in eval mode on `device`."""
    return common.load_model("colorization", Config, build_model, device)


# ===================================================================== helpers

def _work_size(h: int, w: int, side: int) -> tuple[int, int]:
    """The working size: (h, w) shrunk so the longer side is at most `side` (never enlarged: the
    features were learned at the pixels' own scale), each a multiple of the stride, at least 2 cells."""
    s = min(1.0, side / max(h, w))
    return (max(2 * STRIDE, int(round(h * s / STRIDE)) * STRIDE),
            max(2 * STRIDE, int(round(w * s / STRIDE)) * STRIDE))


@torch.inference_mode()
def embed(model: ColorizationNet, rgb: torch.Tensor, chunk: int = 16) -> torch.Tensor:
    """(T, 3, h, w) RGB in [0, 1] -> learned features (T, D, h/4, w/4), in chunks.

    The last few results are remembered (per model object and exact input),
    so colourizing and tracking the same clip embed it once.
    """
    def run():
        dev = next(model.parameters()).device
        model.eval()
        return torch.cat([model(luma(rgb[i:i + chunk].to(dev))) for i in range(0, len(rgb), chunk)])
    return _remembered(model, "embed", rgb, run)


class _Colour:
    """Owner of the remembered Lab cells (they depend on the pixels alone, not on a model)."""


_LAB_OWNER = _Colour()


def _lab_cells(rgb: torch.Tensor) -> torch.Tensor:
    """frames_to_lab_cells, remembered per exact input (the colour targets and the raw-Lab baseline share it)."""
    return _remembered(_LAB_OWNER, "lab", rgb, lambda: frames_to_lab_cells(rgb))


def raw_features(rgb: torch.Tensor, kind: str = "lab") -> torch.Tensor:
    """The raw-pixel baseline's features: (T, 3, h, w) -> (T, C, h/4, w/4), per cell: Lab / 100 (C = 3), or
    the Lab lightness of the cell's mean grey / 100 (C = 1)."""
    if kind == "lab":
        return _lab_cells(rgb) / 100.0
    if kind == "grey":
        return grey_to_L(F.avg_pool2d(luma(rgb), STRIDE)) / 100.0
    raise ValueError(f"unknown raw feature kind {kind!r}; choose 'lab' or 'grey'")


def _features(model, rgb: torch.Tensor, features: str) -> tuple[torch.Tensor, str]:
    """Features of frames for the pointer and the similarity they use ("dot" or "l2")."""
    if features == "learned":
        f = embed(model, rgb)
        return (F.normalize(f, dim=1) if model.config.test_normalize else f), "dot"
    if features in ("raw_lab", "raw_grey"):
        dev = next(model.parameters()).device if model is not None else torch.device("cpu")
        return raw_features(rgb.to(dev), features[4:]), "l2"
    raise ValueError(f"features must be 'learned', 'raw_lab' or 'raw_grey', got {features!r}")


def _logits(f_t: torch.Tensor, f_r: torch.Tensor, metric: str, temperature: float) -> torch.Tensor:
    """f_t (D, N), f_r (D, M) -> (N, M) pointer logits: the inner product ("dot"), or -|x-y|^2 up to a
    constant per row, which the softmax over M ignores ("l2", raw pixels)."""
    dot = f_t.T.contiguous() @ f_r
    if metric == "l2":            # -|a-b|^2 = 2a.b - |a|^2 - |b|^2; the |a|^2 term cancels in the softmax
        dot = 2 * dot - (f_r * f_r).sum(0, keepdim=True)
    return dot / temperature


def _temperature(model, features: str) -> float:
    cfg = model.config if model is not None else Config()
    return cfg.test_temperature if features == "learned" else cfg.raw_temperature


def _check_model(model) -> None:
    if not isinstance(model, ColorizationNet):
        raise ValueError("model must be a ColorizationNet (from load_pretrained or train)")


def _check_grey(gray, name: str = "gray_target") -> np.ndarray:
    a = np.asarray(gray)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim != 2:
        raise ValueError(f"{name} must be a grey image of shape (H, W), got {a.shape}")
    return common.check_frames(np.repeat(a[None, ..., None], 3, -1), name)[0, ..., 0]


# ===================================================================== inference: colourization

@torch.inference_mode()
def colour_pointer(model: ColorizationNet, target_rgb: torch.Tensor, ref_rgb: torch.Tensor,
                   features: str = "learned") -> tuple[torch.Tensor, tuple[int, int]]:
    """The test-time pointer from one target frame into one reference frame.

    target_rgb, ref_rgb: (3, h, w) RGB in [0, 1] at the working size (only
    the target's grey is used for learned and raw-grey features).
    Returns A (N, M) on the cell grid and the grid size (h/4, w/4).
    """
    f, metric = _features(model, torch.stack([target_rgb, ref_rgb]), features)
    D, h, w = f.shape[1:]
    A = _logits(f[0].reshape(D, -1), f[1].reshape(D, -1), metric, _temperature(model, features)).softmax(-1)
    return A, (h, w)


def _prepare_pair(gray_target, color_reference, side: int) -> tuple[torch.Tensor, torch.Tensor, tuple]:
    g = _check_grey(gray_target)
    ref = common.check_image(color_reference, "color_reference")
    H, W = g.shape
    hw = _work_size(H, W, side)
    tgt = common.frames_to_tensor(np.repeat(g[..., None], 3, -1), hw)[0]
    ref = common.frames_to_tensor(ref, hw)[0]
    return tgt, ref, (H, W)


@torch.inference_mode()
def colorize(model: ColorizationNet, gray_target, color_reference, features: str = "learned") -> np.ndarray:
    """Colour a grey frame by pointing into a coloured reference frame.

    gray_target (H, W) uint8; color_reference (H', W', 3) uint8 RGB (resized
    to the target's size). Returns (H, W, 3) uint8: the target's own
    lightness with the ab colour copied through the pointer,
    ab_j = sum_i A_ij ab_i. features: "learned" (the model) or "raw_grey"
    (the baseline: grey values compared by distance).
    """
    _check_model(model)
    if features not in ("learned", "raw_grey"):
        raise ValueError("colorize features must be 'learned' or 'raw_grey' (the target has no colour)")
    tgt, ref, (H, W) = _prepare_pair(gray_target, color_reference, model.config.infer_side)
    A, (h, w) = colour_pointer(model, tgt, ref, features)
    ab_ref = frames_to_lab_cells(ref[None])[0, 1:].reshape(2, -1)          # (2, M)
    ab = (A @ ab_ref.T.to(A.device)).T.reshape(1, 2, h, w).cpu()           # (1, 2, h, w)
    ab = F.interpolate(ab, size=(H, W), mode="bilinear", align_corners=False)[0]
    g = torch.from_numpy(_check_grey(gray_target)).float() / 255.0
    lab = torch.stack([grey_to_L(g), ab[0], ab[1]], dim=-1)
    return (lab_to_rgb(lab) * 255).round().byte().numpy()


@torch.inference_mode()
def colorize_video(model: ColorizationNet, frames, features: str = "learned",
                   reference_index: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Colour every frame of a clip from one reference frame (the pretext task, frame by frame).

    frames (T, H, W, 3) uint8 RGB; only the reference's colour is used, the
    other frames are seen in grey. Returns (coloured (T, H, W, 3) uint8,
    accuracy (T,): share of cells whose pointed colour cluster is the true
    one, confidence (T,): mean probability of the chosen cluster).
    """
    a = _check_colour(model, frames, features, reference_index)

    def run():
        job = _ColourJob(model, a, features, reference_index)
        for t in range(job.T):
            job.add(t, _logits(job.f[t].reshape(job.D, -1), job.f_ref, job.metric, 1.0))
        return job.finish()
    return _copies(_remembered(model, "colour", None, run, _colour_key(model, features, reference_index, a)))


def _colour_key(model, features: str, reference_index: int, a: np.ndarray) -> tuple:
    cfg = model.config
    return ("colour", features, int(reference_index) % max(1, len(a)), cfg.infer_side, cfg.test_normalize,
            _temperature(model, features), _frames_key(a))


def _copies(result: tuple) -> tuple:
    """A remembered answer handed out as copies: a caller may write into its arrays."""
    return tuple(x.copy() if isinstance(x, np.ndarray) else x for x in result)


def _check_colour(model, frames, features: str, reference_index: int) -> np.ndarray:
    """The checked frames of a colouring, before its cache key is made: a clear error for a wrong argument."""
    _check_model(model)
    a = common.check_frames(frames, "frames")
    if features not in ("learned", "raw_grey"):
        raise ValueError("colorize features must be 'learned' or 'raw_grey' (the targets have no colour)")
    if not -len(a) <= reference_index < len(a):
        raise ValueError(f"reference_index {reference_index} is outside the clip's {len(a)} frames")
    return a


class _ColourJob:
    """colorize_video in steps: set up once, add each frame's raw pointer logits (N, M), finish.
    frames: checked by _check_colour."""

    def __init__(self, model, a: np.ndarray, features: str, reference_index: int):
        T, H, W = a.shape[:3]
        self.a, self.T, self.H, self.W, self.reference_index = a, T, H, W, reference_index
        hw = _work_size(H, W, model.config.infer_side)
        self.rgb = common.frames_to_tensor(a, hw)
        f, self.metric = _features(model, self.rgb, features)
        self.f_dev, self.f = f, f.cpu()
        self.D, self.h, self.w = self.f.shape[1:]
        ab = _lab_cells(self.rgb)[:, 1:]                                        # (T, 2, h, w)
        self.clusters = quantize(ab.permute(0, 2, 3, 1), model.centres.cpu()).reshape(T, -1)   # (T, N)
        # what the pointer copies: the reference's ab (2 columns) and its cluster one-hot (K), in one product
        self.copied = torch.cat([ab[reference_index].reshape(2, -1).T,
                                 F.one_hot(self.clusters[reference_index], model.config.n_colors).float()], 1)
        self.f_ref = self.f[reference_index].reshape(self.D, -1)
        self.temp = _temperature(model, features)
        self.out_ab, self.acc, self.conf = [None] * T, [0.0] * T, [0.0] * T

    def add(self, t: int, logits: torch.Tensor) -> None:
        """Frame t's pointer logits into the reference, before the temperature: (N, M)."""
        A = (logits / self.temp).softmax(-1)                                    # (N, M)
        y = A @ self.copied                                                     # (N, 2 + K)
        self.out_ab[t] = y[:, :2].T.reshape(2, self.h, self.w)
        p, k = y[:, 2:].max(-1)
        self.acc[t] = float((k == self.clusters[t]).float().mean())
        self.conf[t] = float(p.mean())

    def finish(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ab_full = F.interpolate(torch.stack(self.out_ab), size=(self.H, self.W), mode="bilinear",
                                align_corners=False)
        L = grey_to_L(torch.from_numpy(common.grey(self.a)))                    # (T, H, W)
        lab = torch.cat([L[:, None], ab_full], dim=1).permute(0, 2, 3, 1)
        coloured = (lab_to_rgb(lab) * 255).round().byte().numpy()
        coloured[self.reference_index] = self.a[self.reference_index]
        return coloured, np.array(self.acc), np.array(self.conf)


@torch.inference_mode()
def colorize_and_propagate(model: ColorizationNet, frames, first_labels) -> tuple:
    """colorize_video(model, frames, "learned") and propagate(model, frames, first_labels, "learned") at once.

    One set of learned features, and each frame's pointer into frame 1 computed once: the colour
    copies through its softmax, the mask through its best `topk` entries. Returns
    (coloured, accuracy, confidence, labels), equal to the two calls' outputs.
    """
    a = _check_colour(model, frames, "learned", 0)
    _check_labels(first_labels, a.shape[1:3])

    def run():
        job = _ColourJob(model, a, "learned", 0)
        cfg = model.config
        job.add(0, _logits(job.f[0].reshape(job.D, -1), job.f_ref, "dot", 1.0))
        plan = propagation_plan(job.f_dev, job.metric, job.temp, cfg.topk, cfg.n_recent, cfg.radius,
                                visit=lambda t, s0: job.add(t, s0.cpu()))
        _remember(model, ("plan", _model_state(model), _plan_key(model, "learned", a)), plan)
        return job.finish()
    # the colouring and the plan depend on the clip and the model alone: a new mask only carries its labels
    coloured, acc, conf = _copies(_remembered(model, "colour", None, run, _colour_key(model, "learned", 0, a)))
    return coloured, acc, conf, propagate(model, a, first_labels, "learned")


@torch.inference_mode()
def colour_clusters(model: ColorizationNet, frame_rgb) -> np.ndarray:
    """The true colour cluster of each feature cell of a frame: (h, w) int, at the working size."""
    a = common.check_image(frame_rgb, "frame")
    x = common.frames_to_tensor(a, _work_size(*a.shape[:2], model.config.infer_side))
    ab = frames_to_lab_cells(x)[0, 1:].permute(1, 2, 0)
    return quantize(ab, model.centres.cpu()).numpy()


def cluster_palette(model: ColorizationNet, lightness: float = 65.0) -> np.ndarray:
    """(K, 3) uint8 RGB: each colour cluster's centre shown at a fixed lightness."""
    c = model.centres.detach().cpu()
    lab = torch.cat([torch.full((len(c), 1), lightness), c], dim=1)
    return (lab_to_rgb(lab) * 255).round().byte().numpy()


@torch.inference_mode()
def predict_clusters(model: ColorizationNet, target_rgb, reference_rgb,
                     features: str = "learned") -> tuple[np.ndarray, np.ndarray]:
    """Pretext answer on one pair: (predicted cluster (h, w) int, its probability (h, w) float).

    The target's colour is never used (only its grey); the reference's
    cluster map is what the pointer copies.
    """
    _check_model(model)
    t = common.check_image(target_rgb, "target")
    r = common.check_image(reference_rgb, "reference")
    hw = _work_size(*t.shape[:2], model.config.infer_side)
    tgt, ref = common.frames_to_tensor(t, hw)[0], common.frames_to_tensor(r, hw)[0]
    if features == "raw_lab":
        raise ValueError("the pretext task colours a grey target: use 'learned' or 'raw_grey'")
    A, (h, w) = colour_pointer(model, tgt, ref, features)
    ab_ref = frames_to_lab_cells(ref[None])[0, 1:].permute(1, 2, 0).reshape(-1, 2)
    c_ref = quantize(ab_ref, model.centres.cpu())
    y = A.cpu() @ F.one_hot(c_ref, model.config.n_colors).float()          # (N, K)
    p, k = y.max(-1)
    return k.reshape(h, w).numpy(), p.reshape(h, w).numpy()


@torch.inference_mode()
def pointer_map(model: ColorizationNet, target_rgb, reference_rgb, point: tuple[int, int],
                features: str = "learned") -> np.ndarray:
    """Where one target pixel's pointer looks: its row of A as a (H', W') map on the reference, max 1.

    point = (y, x) in target pixel coordinates.
    """
    _check_model(model)
    t = common.check_image(target_rgb, "target")
    r = common.check_image(reference_rgb, "reference")
    H, W = t.shape[:2]
    y, x = int(point[0]), int(point[1])
    if not (0 <= y < H and 0 <= x < W):
        raise ValueError(f"point (y={y}, x={x}) is outside the {W}x{H} target frame")
    hw = _work_size(H, W, model.config.infer_side)
    tgt, ref = common.frames_to_tensor(t, hw)[0], common.frames_to_tensor(r, hw)[0]
    A, (h, w) = colour_pointer(model, tgt, ref, features)
    j = min(h - 1, int(y * h / H)) * w + min(w - 1, int(x * w / W))
    heat = common.resize_map(A[j].reshape(h, w).cpu().float(), r.shape[:2])
    return (heat / max(float(heat.max()), 1e-12)).astype(np.float32)


# ===================================================================== inference: propagation

def _check_labels(first_labels, hw: tuple[int, int]) -> np.ndarray:
    a = np.asarray(first_labels)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.shape != tuple(hw):
        raise ValueError(f"first_labels must be an (H, W) label map matching the frames' {hw[0]}x{hw[1]}, "
                         f"got shape {a.shape}")
    if a.dtype == bool:
        a = a.astype(np.int64)
    if not (np.issubdtype(a.dtype, np.integer) or
            (np.issubdtype(a.dtype, np.floating) and np.isfinite(a).all() and (a == np.round(a)).all())):
        raise ValueError(f"first_labels must hold integer labels (0 = background), got dtype {a.dtype}")
    a = a.astype(np.int64)
    if a.size and (a.min() < 0 or a.max() > 255):
        raise ValueError("first_labels must be in 0..255 (0 = background, 1.. = objects)")
    return a


def _window_index(h: int, w: int, radius: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """For each cell of an h x w grid, the cells within `radius` (Chebyshev): (N, K2) index, (N, K2) valid."""
    d = torch.arange(-radius, radius + 1, device=device)
    dy, dx = torch.meshgrid(d, d, indexing="ij")
    yy, xx = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
    ny = yy.reshape(-1, 1) + dy.reshape(1, -1)                              # (N, K2)
    nx = xx.reshape(-1, 1) + dx.reshape(1, -1)
    ok = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
    return (ny.clamp(0, h - 1) * w + nx.clamp(0, w - 1)), ok


@torch.inference_mode()
def propagation_plan(feats: torch.Tensor, metric: str = "dot", temperature: float = 0.5, topk: int = 10,
                     n_recent: int = 3, radius: int | None = 6, visit=None) -> dict:
    """The half of label propagation that does not depend on the labels: whom each cell copies from.

    feats (T, D, h, w) features of every frame. Frame t points into frame 0
    (searched everywhere) and frames t-n_recent..t-1 (searched within
    `radius` cells; None = everywhere) and keeps, per target cell, its `topk`
    best reference cells i with weights softmax_i(s_ij / tau), s_ij = f_i . f_j
    (metric "dot") or -|f_i - f_j|^2 ("l2"). Which cells and how much depend on
    the features alone, so one plan carries any first-frame labels (carry_labels).
    Returns {"weights": (T, N, k) float, "source": (T, N, k) int64 index into the
    clip's T*N cells (frame r, cell i -> r*N + i), "grid": (h, w)}; row 0 is unused.
    visit(t, s): called with each frame's (N, N) similarities to frame 0 (read
    only), for a caller that needs that pointer too (colorize_and_propagate).
    """
    if metric not in ("dot", "l2"):
        raise ValueError(f"metric must be 'dot' or 'l2', got {metric!r}")
    T, D, h, w = feats.shape
    N = h * w
    dev = feats.device
    keys = feats.reshape(T, D, N).float()                                   # (T, D, N)
    queries = keys.permute(0, 2, 1).contiguous()                            # (T, N, D): contiguous for BLAS
    l2 = metric == "l2"
    sq = (keys * keys).sum(1)                                               # (T, N), |f_i|^2

    def sim(t: int, r: int) -> torch.Tensor:
        """(N, N) similarities of frame t's cells to frame r's: f_i.f_j, or 2 f_i.f_j - |f_i|^2."""
        s_ = queries[t] @ keys[r]
        return s_.mul_(2).sub_(sq[r]) if l2 else s_

    k = min(topk, N)
    weights = torch.zeros(T, N, k, device=dev)
    source = torch.zeros(T, N, k, dtype=torch.long, device=dev)
    if radius is not None:
        win, ok = _window_index(h, w, radius, dev)                          # (N, K2)
    for t in range(1, T):
        # frame 0 is searched everywhere; its labels are given, so its best k are all that can matter
        s0 = sim(t, 0)
        if visit is not None:
            visit(t, s0)
        v0, i0 = s0.topk(k, dim=1)                                          # (N, k)
        vals, cells = [v0], [i0]
        for r in range(max(1, t - n_recent), t):
            s_ = sim(t, r)
            if radius is None:
                v, i = s_.topk(k, dim=1)
            else:
                v, j = s_.gather(1, win).masked_fill_(~ok, float("-inf")).topk(min(k, win.shape[1]), dim=1)
                i = win.gather(1, j)                                        # (N, k) cells of frame r
            vals.append(v)
            cells.append(i + r * N)
        val, idx = torch.cat(vals, dim=1).topk(k, dim=1)     # frame 0 alone offers k, so k are always there
        weights[t] = (val / temperature).softmax(dim=1)
        source[t] = torch.cat(cells, dim=1).gather(1, idx)
    return {"weights": weights, "source": source, "grid": (h, w)}


def carry_labels(plan: dict, p0: torch.Tensor) -> torch.Tensor:
    """First-frame label probabilities p0 (C, h, w) carried through the clip by a propagation plan, frame
    after frame (each frame copies from the soft labels just carried into the frames before it): (T, C, h, w)."""
    wts, src = plan["weights"], plan["source"]
    T, N, _ = wts.shape
    h, w = plan["grid"]
    C = p0.shape[0]
    probs = torch.empty(T * N, C, device=wts.device)
    probs[:N] = p0.reshape(C, N).T.float()
    for t in range(1, T):
        probs[t * N:(t + 1) * N] = (wts[t].unsqueeze(-1) * probs[src[t]]).sum(1)
    return probs.reshape(T, N, C).permute(0, 2, 1).reshape(T, C, h, w)


@torch.inference_mode()
def propagate_cells(feats: torch.Tensor, p0: torch.Tensor, metric: str = "dot", temperature: float = 0.5,
                    topk: int = 10, n_recent: int = 3, radius: int | None = 6, visit=None) -> torch.Tensor:
    """Label propagation on the feature grid: the pointer carries soft labels from frame to frame.

    feats (T, D, h, w) features of every frame; p0 (C, h, w) the first
    frame's label probabilities. Frame t points into frame 0 (searched
    everywhere) and frames t-n_recent..t-1 (searched within `radius` cells;
    None = everywhere) and keeps, per target cell, its `topk` best
    reference cells: p_t(j) = sum_{i in topk(j)} softmax_i(s_ij / tau) p_ref(i),
    with s_ij = f_i . f_j (metric "dot") or -|f_i - f_j|^2 ("l2").
    Returns (T, C, h, w); entry 0 is p0. visit: see propagation_plan.
    """
    plan = propagation_plan(feats, metric, temperature, topk, n_recent, radius, visit)
    return carry_labels(plan, p0.to(feats.device))


def _plan_key(model, features: str, a: np.ndarray) -> tuple:
    cfg = model.config
    return ("plan", features, cfg.infer_side, cfg.topk, cfg.n_recent, cfg.radius, cfg.test_normalize,
            _temperature(model, features), _frames_key(a))


@torch.inference_mode()
def propagate(model: ColorizationNet, frames, first_labels, features: str = "learned",
              return_probs: bool = False, visit=None):
    """Carry a first-frame label map through a video with the colourization pointer.

    frames (T, H, W, 3) uint8 RGB; first_labels (H, W) int, 0 = background.
    Returns (T, H, W) int64 labels, frame 0 = first_labels (with
    return_probs, also (T, C, H, W) probabilities of the C labels present in
    first_labels, in sorted order). features:
    "learned" (the model), "raw_lab" or "raw_grey" (the raw-pixel baseline,
    same propagation). Each frame points into the first frame (its given
    labels, searched everywhere) and the `n_recent` previous frames (their
    predicted soft labels, searched within `radius` cells); each target cell
    keeps its `topk` best reference cells. visit: see propagate_cells.
    """
    _check_model(model)
    a = common.check_frames(frames, "frames")
    lab0 = _check_labels(first_labels, a.shape[1:3])
    cfg = model.config
    T, H, W = a.shape[:3]
    ids = np.unique(lab0)                       # labels present at t=0: only these can appear later
    compact = np.searchsorted(ids, lab0)
    n_cls = len(ids)
    hw = _work_size(H, W, cfg.infer_side)
    if features not in ("learned", "raw_lab", "raw_grey"):
        raise ValueError(f"features must be 'learned', 'raw_lab' or 'raw_grey', got {features!r}")

    def plan():
        feats, metric = _features(model, common.frames_to_tensor(a, hw), features)      # (T, D, h, w)
        return propagation_plan(feats, metric, _temperature(model, features), cfg.topk, cfg.n_recent,
                                cfg.radius, visit)
    # whom each cell copies from depends on the clip and the model, not on the mask: a new mask, or the
    # same click again, only carries its labels (a visit needs the similarities, so it plans afresh)
    got = plan() if visit is not None else _remembered(model, "plan", None, plan, _plan_key(model, features, a))
    h, w = got["grid"]
    onehot = F.one_hot(torch.from_numpy(compact), n_cls).permute(2, 0, 1).float()[None]   # (1, C, H, W)
    p0 = F.adaptive_avg_pool2d(F.interpolate(onehot, size=hw, mode="area"), (h, w))[0]  # (C, h, w)
    probs = carry_labels(got, p0.to(got["weights"].device))                           # (T, C, h, w)
    P = probs.cpu()
    P = F.interpolate(P, size=(H, W), mode="bilinear", align_corners=False)    # (T, C, H, W)
    out = ids[P.argmax(1).numpy()].astype(np.int64)
    out[0] = lab0
    return (out, P.numpy()) if return_probs else out


# ===================================================================== label maps as pictures

PALETTE = np.array([[0, 0, 0], [255, 64, 64], [64, 160, 255], [255, 210, 0], [80, 220, 100],
                    [220, 90, 255], [255, 140, 30], [0, 230, 230], [255, 255, 255]], np.uint8)


def labels_to_rgb(labels) -> np.ndarray:
    """(..., H, W) int labels -> (..., H, W, 3) uint8: 0 black, k the k-th PALETTE colour (cycling)."""
    lab = np.asarray(labels).astype(np.int64)
    idx = np.where(lab > 0, (lab - 1) % (len(PALETTE) - 1) + 1, 0)
    return PALETTE[idx]


def rgb_to_labels(image, dark: int = 40) -> np.ndarray:
    """A colour-coded mask picture (H, W, 3) -> (H, W) int labels.

    Near-black pixels (every channel below `dark`) are background; any other
    pixel takes the label of the nearest PALETTE colour, so masks drawn in
    other colours still work (each distinct palette-nearest colour = one
    object).
    """
    a = common.check_image(image, "mask").astype(np.int32)
    d = ((a[..., None, :] - PALETTE[1:].astype(np.int32)) ** 2).sum(-1)     # (H, W, P-1)
    lab = d.argmin(-1) + 1
    lab[(a < dark).all(-1)] = 0
    return lab.astype(np.int64)
