"""Pixel space: the input normalization, and the guesses from visible tubelets that the pixel head adds to.

The paper's head predicts per-patch normalized tubelets, which say nothing of a patch's brightness
and colour. Our pixel head predicts the pixels themselves, as a residual over a guess made from the
*visible* tubelets only (`Config.pixel_base`): each frame's mean colour (`visible_frame_mean`) or a
Gaussian-weighted fill (`visible_smooth_fill`). Both read no hidden value, and both serve as
baselines in evaluate.py. Shapes: patches (B, N, P) from `model.patchify`, P = ts*p*p*C with the
channel last; mask (B, N) bool, True = removed.
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
    coords = torch.stack(torch.meshgrid(*[torch.arange(g, device=patches.device) for g in grid],
                                        indexing="ij"), -1).reshape(-1, 3).to(patches.dtype)
    d2 = torch.cdist(coords, coords).pow(2)                                            # (N, N)
    logits = (-d2 / (2 * width ** 2)).expand(B, N, N).masked_fill(mask[:, None, :], float("-inf"))
    w = torch.softmax(logits[mask].reshape(B, -1, N), dim=-1)                          # (B, N_masked, N)
    fill = torch.einsum("bmn,bntc->bmtc", w, colour.masked_fill(mask[..., None, None], 0.0))
    return fill[:, :, :, None, :].expand(-1, -1, -1, pp, -1).reshape(B, -1, P)
