"""The contrastive model at inference: embed clips and narrations into one space, retrieve, and what the tab draws.

embed_clips(model, clips) -> (N, D) and embed_texts(model, texts) -> (M, D)
are the contract (DESIGN.md): unit-length float32 rows, so that the similarity
of clip n and narration m is the dot product of their rows.
"""
from __future__ import annotations

import numpy as np
import torch

from core import common
from core.contrastive.model import (Config, ContrastiveModel, VOCAB, bag_positives, build_model, info_nce, mil_nce,
                                    tokenize, tokens_tensor)


def load_pretrained(device="cpu") -> ContrastiveModel:
    """The shipped model (assets/models/contrastive.pt) in eval mode."""
    return common.load_model("contrastive", Config, build_model, device)


def clip_tensor(clip, frames: int, size: int, device="cpu") -> torch.Tensor:
    """One clip of any length and size -> (T, 3, S, S) float in [0, 1]: `frames` frames evenly spaced, squashed
    to S x S (a clip shorter than `frames` repeats frames)."""
    a = common.check_frames(clip, "clip")
    idx = np.linspace(0, len(a) - 1, frames).round().astype(int)
    return common.frames_to_tensor(a[idx], size, device)


def embed_clips(model: ContrastiveModel, clips, batch: int = 64) -> np.ndarray:
    """Embed clips: a list (or an (N, T, H, W, 3) array) of (T, H, W, 3) uint8 clips of any size -> (N, D) float32,
    unit-length rows."""
    if isinstance(clips, np.ndarray) and clips.ndim == 4:
        raise ValueError("clips must be a list of (T, H, W, 3) clips (or an (N, T, H, W, 3) array), "
                         f"got one array of shape {clips.shape}: wrap a single clip in a list")
    clips = list(clips)
    if not clips:
        raise ValueError("clips is empty: give at least one (T, H, W, 3) clip")
    device = next(model.parameters()).device
    c = model.config
    out = []
    with torch.inference_mode():
        for k in range(0, len(clips), batch):
            x = torch.stack([clip_tensor(v, c.frames, c.size, device) for v in clips[k:k + batch]])  # (n, T, 3, S, S)
            out.append(model.clip(x).float().cpu())
    return torch.cat(out).numpy().astype(np.float32)


def embed_texts(model: ContrastiveModel, texts) -> np.ndarray:
    """Embed narrations: a list of strings (or one string) -> (M, D) float32, unit-length rows."""
    if isinstance(texts, str):
        texts = [texts]
    texts = [str(t) for t in texts]
    if not texts:
        raise ValueError("texts is empty: give at least one narration")
    device = next(model.parameters()).device
    with torch.inference_mode():
        e = model.text(tokens_tensor(texts, model.config.max_words, device))
    return e.float().cpu().numpy().astype(np.float32)


def known_words(text: str, max_words: int = 12) -> tuple[list[str], list[str]]:
    """The words of a narration the model knows, and those it reads as <unk> (in order)."""
    import re
    words = re.findall(r"[a-z]+", str(text).lower())[:max_words]
    known = set(VOCAB[2:])
    return [w for w in words if w in known], [w for w in words if w not in known]


def retrieve(text_emb: np.ndarray, clip_emb: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """The k clips most similar to each narration: (M, D), (N, D) -> indices (M, k) int, similarities (M, k)."""
    sim = np.asarray(text_emb, np.float32) @ np.asarray(clip_emb, np.float32).T      # (M, N)
    k = min(int(k), sim.shape[1])
    idx = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(sim, idx, 1)


def recall_at(text_emb: np.ndarray, clip_emb: np.ndarray, truth: np.ndarray, ks=(1, 5)) -> dict:
    """Narration -> clip retrieval: the share of narrations whose true clip (truth[m]) is among the top k."""
    sim = np.asarray(text_emb) @ np.asarray(clip_emb).T                           # (M, N)
    true = sim[np.arange(len(sim)), np.asarray(truth)]
    rank = (sim > true[:, None]).sum(1)                                           # 0 = ranked first
    return {f"r{k}": float((rank < k).mean()) for k in ks}


def batch_losses(clip_emb: np.ndarray, bag_emb: np.ndarray, temperature: float, negatives: int | None = None
                 ) -> dict:
    """InfoNCE and MIL-NCE on one embedded batch, with a given temperature and number of negatives.

    clip_emb (B, D), bag_emb (B, K, D) (nearest-in-time narration first); `negatives`
    keeps the first negatives + 1 items of the batch. Returns both losses, their
    values at chance (all similarities equal), and the softmax over narrations of
    clip 0 for each loss's positives.
    """
    B = len(clip_emb) if negatives is None else min(len(clip_emb), int(negatives) + 1)
    if B < 2:
        raise ValueError("a contrastive batch needs at least one negative (two items)")
    c = torch.as_tensor(np.asarray(clip_emb[:B], np.float64))
    t = torch.as_tensor(np.asarray(bag_emb[:B], np.float64))
    K = t.shape[1]
    sim1 = c @ t[:, 0].T                                                      # (B, B)
    simk = c @ t.flatten(0, 1).T                                              # (B, B K)
    pos = bag_positives(B, K)
    out = {"infonce": float(info_nce(sim1, temperature)), "milnce": float(mil_nce(simk, pos, temperature)),
           "infonce_chance": float(np.log(B)),
           "milnce_chance": float(np.log(B * K + B * K) - np.log(K)),
           "softmax_row0": torch.softmax(sim1[0] / temperature, 0).numpy().astype(np.float32),
           "batch": B}
    return out


def sample_batch(model: ContrastiveModel, shift: float, unrelated: float, batch: int = 8, seed: int = 0,
                 bag: int | None = None) -> dict:
    """A training batch as the loss sees it, embedded, with the truth the loss never sees.

    `batch` narrated videos rendered from `seed` (training-range seeds, at this misalignment),
    one item cut from each. Returns clips (B, T, S, S, 3) uint8, texts [[str] * K] * B (nearest in
    time first), events (B,) shown, about (B, K) described (-1: chit-chat), clip_emb (B, D),
    bag_emb (B, K, D), sim (B, B) clip x nearest narration, sim_bag (B, B K).
    """
    from core.contrastive.data import VideoPool

    c = model.config
    cfg = Config(**{**{f: getattr(c, f) for f in ("size", "frames", "max_words", "segments")},
                    "shift": float(shift), "unrelated": float(unrelated), "pool": int(batch),
                    "bag": int(bag or c.bag)})
    pool = VideoPool(cfg, np.random.default_rng(int(seed)))
    s = pool.sample(int(batch))
    s["clip_emb"] = embed_clips(model, list(s["clips"]))
    B, K = s["about"].shape
    s["bag_emb"] = embed_texts(model, [t for bag_texts in s["texts"] for t in bag_texts]).reshape(B, K, -1)
    s["sim"] = s["clip_emb"] @ s["bag_emb"][:, 0].T
    s["sim_bag"] = s["clip_emb"] @ s["bag_emb"].reshape(B * K, -1).T
    return s


def loss_curves(clip_emb: np.ndarray, bag_emb: np.ndarray, temperatures, negatives) -> dict:
    """Both losses on one embedded batch across temperatures (all negatives) and across numbers of negatives
    (at temperatures[0]'s default, given as the first value): {"temperature": {...}, "negatives": {...}}."""
    temps = [float(t) for t in temperatures]
    negs = [int(n) for n in negatives]
    by_t = [batch_losses(clip_emb, bag_emb, t) for t in temps]
    by_n = [batch_losses(clip_emb, bag_emb, temps[0], n) for n in negs]
    keys = ("infonce", "milnce", "infonce_chance", "milnce_chance")
    return {"temperature": {"x": temps, **{k: [r[k] for r in by_t] for k in keys}},
            "negatives": {"x": negs, **{k: [r[k] for r in by_n] for k in keys}}}
