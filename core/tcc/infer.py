"""TCC at inference: embed a video's frames, align two videos, and what the tab shows of a cycle.

embed(model, frames) -> (T, D) float32 and align(emb_a, emb_b) -> (Ta,) int are
the contract (DESIGN.md); the rest are the views the tab draws from two
embedded videos. Alignment is the plain nearest neighbour in embedding space,
as in the paper's evaluation and its synced-playback figures.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from core import common
from core.tcc.model import Config, TCCModel, build_model, context_indices, scaled_similarity, \
    soft_nearest_neighbour, video_norm


def load_pretrained(device="cpu") -> TCCModel:
    """The shipped model (assets/models/tcc.pt) in eval mode."""
    return common.load_model("tcc", Config, build_model, device)


def embed(model: TCCModel, frames, batch: int = 64) -> np.ndarray:
    """Embed each frame of a video: (T, H, W, 3) uint8, any size -> (T, D) float32.

    Frames are resized (squashed, not cropped) to the model's square input.
    With config.norm == "video" the embeddings are centred and scaled over
    the whole video (`video_norm`), as in training.
    """
    frames = common.check_frames(frames)
    device = next(model.parameters()).device
    stride = model.config.context
    out = []
    with torch.inference_mode():
        for k in range(0, len(frames), batch):
            idx = np.arange(k, min(k + batch, len(frames)))
            x = common.frames_to_tensor(frames[idx], model.config.size, device)
            if stride:
                ctx = common.frames_to_tensor(frames[context_indices(idx, stride)], model.config.size, device)
                x = torch.cat([x, ctx], 1)                           # (n, 6, S, S)
            out.append(model.encoder(x).float().cpu())
        e = torch.cat(out)                                           # (T, D)
        if model.config.norm == "video":
            e = video_norm(e)
    return e.numpy().astype(np.float32)


def _check_emb(e, name: str) -> np.ndarray:
    a = np.asarray(e)
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"{name} must be embeddings of shape (T, D) with T, D >= 1, got {a.shape}")
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise ValueError(f"{name} must be numbers (float embeddings), got dtype {a.dtype}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return a


def _check_pair(emb_a, emb_b) -> tuple[np.ndarray, np.ndarray]:
    a, b = _check_emb(emb_a, "emb_a"), _check_emb(emb_b, "emb_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"emb_a and emb_b must have the same D, got {a.shape[1]} and {b.shape[1]}")
    return a, b


def sq_distances(emb_a, emb_b) -> np.ndarray:
    """Squared Euclidean distances divided by D: (Ta, D), (Tb, D) -> (Ta, Tb) float64."""
    a, b = _check_pair(emb_a, emb_b)
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0) / a.shape[1]


def align(emb_a, emb_b) -> np.ndarray:
    """For each frame of video a, the index of its nearest neighbour in video b: (Ta, D), (Tb, D) -> (Ta,) int."""
    return sq_distances(emb_a, emb_b).argmin(1).astype(np.int64)


def similarity(emb_a, emb_b) -> np.ndarray:
    """-||a_i - b_j||^2 / D as a (Ta, Tb) float32 matrix (higher = more alike)."""
    return (-sq_distances(emb_a, emb_b)).astype(np.float32)


def cycle(emb_a, emb_b, i: int, temperature: float = 0.1) -> dict:
    """The soft cycle from frame i of a through b and back, as in training.

    Returns alpha (Tb,) (soft nearest neighbour of a_i in b), beta (Ta,) (where
    the cycle comes back), j = argmax alpha, back = argmax beta, mu (the
    expected return frame), sigma, and consistent = (back == i).
    """
    a, b = _check_pair(emb_a, emb_b)
    if not 0 <= int(i) < len(a):
        raise ValueError(f"frame {i} is outside video a (0..{len(a) - 1})")
    with torch.inference_mode():
        u, v = torch.as_tensor(a), torch.as_tensor(b)
        v_tilde, alpha = soft_nearest_neighbour(u[int(i)][None], v, temperature)   # (1, D), (1, Tb)
        beta = torch.softmax(scaled_similarity(v_tilde, u, temperature), -1)[0]     # (Ta,)
        alpha = alpha[0]
    k = torch.arange(len(a), dtype=beta.dtype)
    mu = float((beta * k).sum())
    sigma = float(((beta * (k - mu) ** 2).sum()).sqrt())
    back = int(beta.argmax())
    return dict(alpha=alpha.numpy().astype(np.float32), beta=beta.numpy().astype(np.float32),
                j=int(alpha.argmax()), back=back, mu=mu, sigma=sigma, consistent=back == int(i))


def kendalls_tau(x, y) -> float:
    """Kendall's tau-b between two sequences of equal length (ties counted as in scipy): -1..1.

    tau_b = (C - D) / sqrt((n0 - n1)(n0 - n2)): C, D concordant and discordant
    pairs, n0 all pairs, n1 and n2 pairs tied in x and in y. NaN when x or y is
    constant (no order to compare), as scipy.
    """
    x, y = np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {x.size} and {y.size}")
    if x.size < 2:
        raise ValueError("Kendall's tau needs at least two points")
    iu = np.triu_indices(x.size, 1)
    dx = np.sign(x[:, None] - x[None, :])[iu]
    dy = np.sign(y[:, None] - y[None, :])[iu]
    s = float((dx * dy).sum())
    denom = math.sqrt(float((dx != 0).sum()) * float((dy != 0).sum()))
    return s / denom if denom > 0 else float("nan")


def alignment_tau(emb_a, emb_b, stride: int = 1) -> float:
    """Kendall's tau of the nearest-neighbour alignment a -> b against time (1 = perfectly in order)."""
    nn_idx = align(np.asarray(emb_a)[::stride], np.asarray(emb_b)[::stride])
    return kendalls_tau(np.arange(len(nn_idx)), nn_idx)


def transfer_labels(emb_query, emb_labelled, labels) -> np.ndarray:
    """Carry per-frame labels (Tl,) of a labelled video to a query video by nearest neighbour: -> (Tq,)."""
    labels = np.asarray(labels)
    if labels.shape != (np.asarray(emb_labelled).shape[0],):
        raise ValueError(f"labels must have one entry per labelled frame, got {labels.shape}")
    return labels[align(emb_query, emb_labelled)]


def cycle_consistency_rate(emb_a, emb_b, tolerance: int = 0) -> float:
    """Share of frames of a whose hard cycle a -> b -> a returns within `tolerance` frames of itself."""
    ab = align(emb_a, emb_b)
    back = align(emb_b, emb_a)[ab]
    return float((np.abs(back - np.arange(len(ab))) <= tolerance).mean())


def match_distance(emb_query, emb_reference) -> np.ndarray:
    """Each query frame's distance to its nearest reference frame (Tq,): large = no good match (an anomaly)."""
    return np.sqrt(sq_distances(emb_query, emb_reference).min(1)).astype(np.float32)


def pca_2d(*embs) -> list[np.ndarray]:
    """Project embeddings of several videos onto the first two principal axes of them all: [(T_k, 2)]."""
    arrs = [_check_emb(e, "embedding") for e in embs]
    if len({a.shape[1] for a in arrs}) > 1:
        raise ValueError("all embeddings must have the same D")
    x = np.concatenate(arrs)
    x = x - x.mean(0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    axes = vt[:2].T if vt.shape[0] >= 2 else np.pad(vt.T, ((0, 0), (0, 1)))
    mean = np.concatenate(arrs).mean(0)
    return [((a - mean) @ axes).astype(np.float32) for a in arrs]
