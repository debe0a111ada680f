"""Colour for the colourizer: sRGB <-> CIE Lab, grey levels, and the k-means colour clusters of Lab ab.

The pretext task colours in Lab: the network sees only lightness (grey), and
the colour it must copy is the ab pair, quantized into K clusters (the paper:
16, fitted by k-means on training frames).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .model import STRIDE

_M_RGB2XYZ = torch.tensor([[0.4124564, 0.3575761, 0.1804375],
                           [0.2126729, 0.7151522, 0.0721750],
                           [0.0193339, 0.1191920, 0.9503041]], dtype=torch.float32)
_WHITE = torch.tensor([0.95047, 1.0, 1.08883], dtype=torch.float32)    # D65
_EPS = (6 / 29) ** 3


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1], channels last (..., 3) -> CIE Lab (..., 3): L in [0, 100], a, b about [-110, 110]."""
    rgb = rgb.clamp(0, 1)
    lin = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = lin @ _M_RGB2XYZ.to(rgb.device).T / _WHITE.to(rgb.device)
    f = torch.where(xyz > _EPS, xyz.clamp_min(_EPS) ** (1 / 3), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    L = 116 * f[..., 1] - 16
    a = 500 * (f[..., 0] - f[..., 1])
    b = 200 * (f[..., 1] - f[..., 2])
    return torch.stack([L, a, b], dim=-1)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """CIE Lab (..., 3) -> sRGB in [0, 1] (..., 3); colours outside the gamut are clipped."""
    fy = (lab[..., 0] + 16) / 116
    fx = fy + lab[..., 1] / 500
    fz = fy - lab[..., 2] / 200
    f = torch.stack([fx, fy, fz], dim=-1)
    xyz = torch.where(f > 6 / 29, f ** 3, 3 * (6 / 29) ** 2 * (f - 4 / 29)) * _WHITE.to(lab.device)
    lin = xyz @ torch.linalg.inv(_M_RGB2XYZ).to(lab.device).T
    lin = lin.clamp(0, 1)
    return torch.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin.clamp_min(1e-12) ** (1 / 2.4) - 0.055).clamp(0, 1)


def grey_to_L(grey: torch.Tensor) -> torch.Tensor:
    """A grey level in [0, 1] (as shown, i.e. gamma-encoded) -> the Lab lightness of that grey."""
    g = grey.clamp(0, 1)
    lin = torch.where(g <= 0.04045, g / 12.92, ((g + 0.055) / 1.055) ** 2.4)
    f = torch.where(lin > _EPS, lin.clamp_min(_EPS) ** (1 / 3), lin / (3 * (6 / 29) ** 2) + 4 / 29)
    return 116 * f - 16


def luma(rgb: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) RGB in [0, 1] -> (..., 1, H, W) grey (BT.601, as common.grey)."""
    w = torch.tensor([0.299, 0.587, 0.114], device=rgb.device).view(3, 1, 1)
    return (rgb * w).sum(dim=-3, keepdim=True)


def frames_to_lab_cells(rgb: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> (B, 3, H/4, W/4) Lab averaged over each feature cell."""
    lab = rgb_to_lab(rgb.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    return F.avg_pool2d(lab, STRIDE)


def kmeans(points: torch.Tensor, k: int, iters: int = 30, seed: int = 0) -> torch.Tensor:
    """Lloyd's k-means with k-means++ seeding. points (N, C) -> centres (k, C), sorted by first coordinate.

    Sorting makes the cluster numbering a function of the data alone (the
    same points give the same labels whatever the seed's draw order).
    """
    points = points.float()
    n = points.shape[0]
    if n < k:
        raise ValueError(f"k-means needs at least k={k} points, got {n}")
    g = torch.Generator(device="cpu").manual_seed(seed)
    centres = [points[torch.randint(n, (1,), generator=g)].squeeze(0)]
    d2 = ((points - centres[0]) ** 2).sum(1)
    for _ in range(1, k):                         # k-means++: far points are likelier seeds
        probs = d2 / d2.sum() if d2.sum() > 0 else torch.full_like(d2, 1 / n)
        c = points[torch.multinomial(probs, 1, generator=g)].squeeze(0)
        centres.append(c)
        d2 = torch.minimum(d2, ((points - c) ** 2).sum(1))
    centres = torch.stack(centres)
    for _ in range(iters):
        assign = torch.cdist(points, centres).argmin(1)
        new = torch.zeros_like(centres).index_add_(0, assign, points)
        counts = torch.bincount(assign, minlength=k).float().unsqueeze(1)
        empty = counts[:, 0] == 0
        new = new / counts.clamp_min(1)
        new[empty] = centres[empty]               # an empty cluster keeps its centre
        if torch.allclose(new, centres, atol=1e-4):
            centres = new
            break
        centres = new
    order = torch.argsort(centres[:, 0] * 1000 + centres[:, 1])
    return centres[order]


def quantize(ab: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """ab (..., 2) -> index of the nearest centre (...) long."""
    d = ((ab.unsqueeze(-2) - centres) ** 2).sum(-1)     # (..., K)
    return d.argmin(-1)
