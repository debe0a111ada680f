"""Pixel space: the input normalization, and the guesses from visible tubelets that the pixel head adds to.

The paper's head predicts per-patch normalized tubelets, which say nothing of a patch's brightness
and colour. Our pixel head predicts the pixels themselves, as a residual over a guess made from the
*visible* tubelets only (`Config.pixel_base`): each frame's mean colour (`visible_frame_mean`) or a
Gaussian-weighted fill (`visible_smooth_fill`). Both read no hidden value, and both serve as
baselines in evaluate.py. `visible_smooth_stats` gives the paper's head (normalized tubelets) a mean
and std from visible tubelets only; `own_stats` is the public visualisation's leak, kept to show it.
Shapes: patches (B, N, P) from `model.patchify`, P = ts*p*p*C with the channel last; mask (B, N) bool,
True = removed.
"""
from __future__ import annotations

import torch

# ImageNet statistics: the paper's (and Hugging Face's) input normalization. The model takes
# pixels in [0, 1] and normalizes them itself; Hugging Face's model takes normalized pixels.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalize_input(x: torch.Tensor) -> torch.Tensor:
    """Pixels in [0, 1], (..., C, H, W) -> ImageNet-normalized (what Hugging Face's model takes)."""
    mean = x.new_tensor(IMAGENET_MEAN)[:, None, None]
    std = x.new_tensor(IMAGENET_STD)[:, None, None]
    return (x - mean) / std


def normalize_patch_pixels(patches: torch.Tensor) -> torch.Tensor:
    """Pixels in [0, 1] as tubelets (..., ts*p*p*C) -> input normalization, the inverse of `denormalize_patches`."""
    shape = patches.shape
    x = patches.reshape(*shape[:-1], -1, 3)
    x = (x - x.new_tensor(IMAGENET_MEAN)) / x.new_tensor(IMAGENET_STD)
    return x.reshape(shape)


def denormalize_patches(patches: torch.Tensor) -> torch.Tensor:
    """Pixel-head output (..., ts*p*p*C) in input normalization -> pixels in [0, 1] (channel is last)."""
    shape = patches.shape
    x = patches.reshape(*shape[:-1], -1, 3)
    x = x * x.new_tensor(IMAGENET_STD) + x.new_tensor(IMAGENET_MEAN)
    return x.reshape(shape)


def visible_frame_mean(patches: torch.Tensor, mask: torch.Tensor, grid: tuple[int, int, int],
                       tubelet_size: int) -> torch.Tensor:
    """Each hidden tubelet filled with the mean colour of the visible tubelets of its frames.

    patches (B, N, ts*p*p*C) from `patchify`, mask (B, N) True = removed, grid (t, h, w).
    Returns (B, N_masked, ts*p*p*C): per frame and channel, the mean over that frame's visible
    patches (over the whole clip's visible patches when a frame has none). Hidden values are
    multiplied by zero, never read: the "frame mean" baseline, and the base the pixel head adds to.
    """
    B, N, P = patches.shape
    t, hw = grid[0], grid[1] * grid[2]
    C = 3
    pp = P // (tubelet_size * C)
    px = patches.reshape(B, t, hw, tubelet_size, pp, C)
    vis = (~mask).reshape(B, t, hw).to(patches.dtype)[..., None, None, None]          # (B, t, hw, 1, 1, 1)
    frame_sum = (px * vis).sum(dim=(2, 4))                                              # (B, t, ts, C)
    frame_cnt = vis.sum(dim=2)[..., 0] * pp                                             # (B, t, 1, 1)
    clip_cnt = (frame_cnt.sum(dim=(1, 2, 3)) * tubelet_size).clamp_min(1)               # (B,)
    clip_mean = frame_sum.sum(dim=(1, 2)) / clip_cnt[:, None]                           # (B, C)
    mean = torch.where(frame_cnt > 0, frame_sum / frame_cnt.clamp_min(1), clip_mean[:, None, None])  # (B, t, ts, C)
    tok = mean[:, :, None].expand(B, t, hw, tubelet_size, C).reshape(B, N, tubelet_size, C)   # (B, N, ts, C)
    hid = tok[mask].reshape(B, -1, tubelet_size, 1, C)                                  # the masked tokens only
    return hid.expand(-1, -1, -1, pp, -1).reshape(B, -1, P)                             # (B, N_masked, P)


def _smooth_weights(mask: torch.Tensor, grid: tuple[int, int, int], width: float, dtype) -> torch.Tensor:
    """Gaussian weights of each hidden token over the visible ones: (B, N_masked, N), rows sum to 1.

    mask (B, N) True = removed (the same count per row), width in token units (space and time alike);
    hidden tokens get weight 0, so nothing multiplied by these weights reads a hidden value.
    """
    B, N = mask.shape
    coords = torch.stack(torch.meshgrid(*[torch.arange(g, device=mask.device) for g in grid],
                                        indexing="ij"), -1).reshape(-1, 3).to(dtype)
    d2 = torch.cdist(coords, coords).pow(2)                                            # (N, N)
    logits = (-d2 / (2 * width ** 2)).expand(B, N, N).masked_fill(mask[:, None, :], float("-inf"))
    return torch.softmax(logits[mask].reshape(B, -1, N), dim=-1)                       # (B, N_masked, N)


def visible_smooth_fill(patches: torch.Tensor, mask: torch.Tensor, grid: tuple[int, int, int],
                        tubelet_size: int, width: float) -> torch.Tensor:
    """Each hidden tubelet filled with a Gaussian-weighted mean of the visible tubelets' colours.

    patches (B, N, ts*p*p*C) from `patchify`, mask (B, N) True = removed (the same number of hidden
    tokens in every row), grid (t, h, w), width: the Gaussian's standard deviation in token units
    (space and time alike). Each visible tubelet counts with its mean colour per frame; hidden values
    are never read. Returns (B, N_masked, ts*p*p*C), flat inside each tubelet: where the colour is,
    nothing of texture. The "smooth fill" of bench.videomae_headroom, and the base the pixel head adds
    to with `Config.pixel_base = "smooth"`.
    """
    B, N, P = patches.shape
    C = 3
    pp = P // (tubelet_size * C)
    colour = patches.reshape(B, N, tubelet_size, pp, C).mean(3)                       # (B, N, ts, C)
    w = _smooth_weights(mask, grid, width, patches.dtype)                              # (B, N_masked, N)
    fill = torch.einsum("bmn,bntc->bmtc", w, colour.masked_fill(mask[..., None, None], 0.0))
    return fill[:, :, :, None, :].expand(-1, -1, -1, pp, -1).reshape(B, -1, P)


def visible_smooth_stats(patches: torch.Tensor, mask: torch.Tensor, grid: tuple[int, int, int],
                         width: float, eps: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor]:
    """A mean and a standard deviation for each hidden tubelet, from the visible tubelets only.

    What the paper's head needs to become pixels: it predicts each hidden tubelet normalized by its
    own mean and (unbiased) std per channel, which a honest picture must not read. Here each visible
    tubelet contributes its own per-channel mean and std, and a hidden one takes their
    Gaussian-weighted average (`visible_smooth_fill`'s weights, width in tokens).
    patches (B, N, P) from `patchify` (channel last), mask (B, N) True = removed.
    Returns (mean, std), each (B, N_masked, C), std with the paper's + eps, as `normalize_patches`.
    """
    B, N, P = patches.shape
    C = 3
    x = patches.reshape(B, N, P // C, C)                                              # (B, N, ts*p*p, C)
    mean = x.mean(dim=2)                                                               # (B, N, C)
    std = x.var(dim=2, unbiased=True).sqrt() + eps                                     # (B, N, C)
    w = _smooth_weights(mask, grid, width, patches.dtype)                              # (B, N_masked, N)
    hide = mask[..., None]
    return (torch.einsum("bmn,bnc->bmc", w, mean.masked_fill(hide, 0.0)),
            torch.einsum("bmn,bnc->bmc", w, std.masked_fill(hide, 0.0)))


def own_stats(patches: torch.Tensor, mask: torch.Tensor, eps: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor]:
    """THE LEAK: each hidden tubelet's own per-channel mean and (unbiased) std + eps, (B, N_masked, C) each.

    What the public visualisation (the official run_videomae_vis.py) multiplies the paper's head by:
    it reads the very pixels the network was asked to guess. Used only to show that pitfall beside the
    honest picture, never in `reconstruct`.
    """
    B, N, P = patches.shape
    x = patches[mask].reshape(B, -1, P // 3, 3)                                        # (B, N_masked, ts*p*p, C)
    return x.mean(dim=2), x.var(dim=2, unbiased=True).sqrt() + eps


def denormalize_tubelets(norm: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Per-patch normalized tubelets (B, M, ts*p*p*C) * std + mean, each (B, M, C) -> pixels (B, M, P)."""
    B, M, P = norm.shape
    return (norm.reshape(B, M, P // 3, 3) * std[:, :, None] + mean[:, :, None]).reshape(B, M, P)
