"""VideoMAE at inference: `reconstruct`, the contract, on a clip of any size and length.

A clip is scaled so its shorter side is the model's image_size (sides rounded to whole patches),
one mask covers the whole clip, and the model fills the hidden tubelets window by window (windows of
num_frames frames and image_size pixels). Visible pixels are the input's own; hidden ones come from
the pixel head, which sees only visible tubelets, so changing a hidden pixel of the input never
changes the output. The same machinery (`reconstruct_with`) runs the baselines in evaluate.py.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from core import common
from core.videomae.data import _check_ratio, make_masking
from core.videomae.model import Config, VideoMAE, build_model, patchify, unpatchify
from core.videomae.pixels import denormalize_patches, denormalize_tubelets, own_stats


def working_size(h: int, w: int, config: Config) -> tuple[int, int]:
    """The working size of a (h, w) frame: shorter side = image_size, both sides multiples of the patch."""
    s, p = config.image_size, config.patch_size
    scale = s / min(h, w)
    return max(s, int(round(h * scale / p)) * p), max(s, int(round(w * scale / p)) * p)


def _starts(length: int, window: int) -> list[int]:
    """Window starts covering [0, length): non-overlapping, the last one flush with the end."""
    starts = list(range(0, max(1, length - window + 1), window))
    if starts[-1] + window < length:
        starts.append(length - window)
    return starts


def _token_mask(grid: tuple[int, int, int], masking: str, ratio: float, seed: int) -> np.ndarray:
    """One mask over a whole clip's token grid (t, h, w): (t, h, w) bool, True = removed."""
    return make_masking(masking, grid, ratio)(np.random.default_rng(seed)).reshape(grid)


def _pixel_mask(tmask: np.ndarray, T: int, H: int, W: int, tubelet: int) -> np.ndarray:
    """Token mask (t, gh, gw) -> pixel mask (T, H, W): pixel (y, x) of frame f belongs to token
    (f // tubelet, floor(y * gh / H), floor(x * gw / W))."""
    t, gh, gw = tmask.shape
    rows = np.minimum(gh - 1, np.arange(H) * gh // H)
    cols = np.minimum(gw - 1, np.arange(W) * gw // W)
    return tmask[np.arange(T) // tubelet][:, rows][:, :, cols]


def _visible_resize(x: torch.Tensor, visible: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize (T, 3, H, W) frames using visible pixels only: R(x * v) / R(v) (normalized convolution).

    A working-size pixel is a weighted mean of the visible input pixels under its (antialiased
    bilinear) kernel, so hidden input pixels never reach the model; pixels with no visible input
    under the kernel are 0 (they lie inside hidden patches, which the encoder never reads).
    """
    v = visible[:, None].float()                                             # (T, 1, H, W)
    if tuple(x.shape[-2:]) == tuple(size):
        return x * v
    num = F.interpolate(x * v, size=size, mode="bilinear", align_corners=False, antialias=True)
    den = F.interpolate(v, size=size, mode="bilinear", align_corners=False, antialias=True)
    return torch.where(den > 1e-6, num / den.clamp_min(1e-6), torch.zeros_like(num))


def window_origins(T2: int, h: int, w: int, config: Config):
    """(t0, y0, x0) token-grid origins of the model-sized windows that tile a (T2, h, w) token grid."""
    t_win, g = config.num_frames // config.tubelet_size, config.image_size // config.patch_size
    return [(t0, y0, x0) for t0 in _starts(T2, t_win) for y0 in _starts(h, g) for x0 in _starts(w, g)]


def model_predictor(model: VideoMAE):
    """A predictor for `_fill`: model-sized window (1, T, 3, S, S) + mask (1, N) -> pixel tubelets."""
    def predict(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        _, pix = model(x, mask)
        return denormalize_patches(pix).clamp(0, 1)                         # (1, N_masked, P)
    return predict


def with_leaking_predictor(model: VideoMAE):
    """The honest prediction and, beside it, the public visualisation's leaking one, from one forward.

    A predictor that reads the true window (`reads_truth`): predict(x, mask, truth) -> {"model": the
    honest pixels (from x and mask only, as `model_predictor`), "leaking": the paper's head times each
    hidden tubelet's own true mean and std (`own_stats`), as the official run_videomae_vis.py does}.
    The "leaking" picture reads the very pixels it claims to guess; it exists to show that pitfall.
    """
    c = model.config

    def predict(x: torch.Tensor, mask: torch.Tensor, truth: torch.Tensor) -> dict[str, torch.Tensor]:
        norm, pix = model(x, mask)                                           # each (1, N_masked, P)
        mean, std = own_stats(patchify(truth, c.patch_size, c.tubelet_size), mask)  # THE LEAK: hidden stats
        return {"model": denormalize_patches(pix).clamp(0, 1),
                "leaking": denormalize_tubelets(norm, mean, std).clamp(0, 1)}
    predict.reads_truth = True
    predict.outputs = ("model", "leaking")
    return predict


def _visible_mean(work: torch.Tensor, tmask: np.ndarray, config: Config) -> torch.Tensor:
    """The mean colour of a working clip's visible tubelets, as one flat tubelet (1, 1, P)."""
    patches = patchify(work[None], config.patch_size, config.tubelet_size)  # (1, N, P)
    vis = patches[0][torch.from_numpy(~tmask.reshape(-1)).to(work.device)]  # (N_visible, P)
    colour = vis.reshape(-1, 3).mean(0) if len(vis) else work.new_full((3,), 0.5)
    return colour.repeat(patches.shape[-1] // 3)[None, None]


@torch.inference_mode()
def _fill(predictors: dict, work: torch.Tensor, tmask: np.ndarray, config: Config,
          truth: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Fill the hidden tubelets of a working-size clip window by window, for each predictor.

    work (T2*ts, 3, H2, W2) holds the visible content (hidden tubelets are ignored); tmask (t, h, w).
    predictors: name -> predict(window (1, T, 3, S, S), mask (1, N)) -> (1, N_masked, P) pixels in
    [0, 1], or a dict of such outputs under the names in its `outputs` attribute; a predictor marked
    `reads_truth` gets the same window of `truth` (the clip with its hidden pixels) as a third argument.
    Returns {name: (T2*ts, 3, H2, W2)}: visible tubelets as given, hidden ones predicted. Each
    predictor sees one window of at most num_frames frames and image_size pixels at a time; a window
    with no visible tubelet (frame masking on a long clip) takes the clip's visible mean colour.
    """
    c = config
    ts, p, g = c.tubelet_size, c.patch_size, c.image_size // c.patch_size
    t, h, w = tmask.shape
    outs = {k: work.clone() for name, f in predictors.items() for k in getattr(f, "outputs", (name,))}
    done = np.zeros_like(tmask)
    for t0, y0, x0 in window_origins(t, h, w, c):
        tw = min(t, c.num_frames // ts)
        sub = tmask[t0:t0 + tw, y0:y0 + g, x0:x0 + g]                        # (tw, g, g)
        todo = sub & ~done[t0:t0 + tw, y0:y0 + g, x0:x0 + g]
        if not todo.any():
            continue
        window = (slice(t0 * ts, (t0 + tw) * ts), slice(None), slice(y0 * p, (y0 + g) * p),
                  slice(x0 * p, (x0 + g) * p))
        x = work[window][None]                                               # (1, T, 3, S, S)
        m = torch.from_numpy(sub.reshape(1, -1)).to(work.device)
        preds = {}
        if sub.all():               # nothing visible in this window (e.g. frame masking): the clip's visible mean
            flat = _visible_mean(work, tmask, config).expand(1, int(sub.sum()), -1)
            preds = dict.fromkeys(outs, flat)
        for name, predict in ({} if preds else predictors).items():
            got = predict(x, m, truth[window][None]) if getattr(predict, "reads_truth", False) else predict(x, m)
            preds.update(got if isinstance(got, dict) else {name: got})      # each (1, N_masked, P)
        keep = torch.from_numpy(_pixel_mask(todo, tw * ts, g * p, g * p, ts)).to(work.device)
        for name, pred in preds.items():
            patches = patchify(x, p, ts)                                     # (1, N, P)
            patches[m] = pred.reshape(-1, patches.shape[-1]).to(patches.dtype)
            filled = unpatchify(patches, sub.shape, p, ts)[0]                # (T, 3, S, S)
            region = outs[name][window]
            region.copy_(torch.where(keep[:, None], filled, region))
        done[t0:t0 + tw, y0:y0 + g, x0:x0 + g] |= sub
    return outs


@torch.inference_mode()
def reconstruct_with(predictors: dict, clip: np.ndarray, mask_ratio: float, seed: int, masking: str,
                     config: Config, device) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Shared by the model and the baselines: mask, resize visibly, fill, resize back, paste visible.

    predictors: name -> predict(window, mask) (see `_fill`); returns ({name: recon (T, H, W, 3) uint8},
    mask), one recon per output name.
    """
    frames = common.check_frames(clip, "clip")
    mask_ratio = _check_ratio(mask_ratio)
    T, H, W, _ = frames.shape
    ts, p = config.tubelet_size, config.patch_size
    H2, W2 = working_size(H, W, config)
    T2 = -(-T // ts)                                                          # tubelet steps (last may be half)
    tmask = _token_mask((T2, H2 // p, W2 // p), masking, mask_ratio, int(seed))
    pmask = _pixel_mask(tmask, T, H, W, ts)                                  # (T, H, W) at input size
    dev = torch.device(device)
    x = common.frames_to_tensor(frames, None, dev)                          # (T, 3, H, W)
    visible = torch.from_numpy(~pmask).to(dev)
    work = _visible_resize(x, visible, (H2, W2))                             # (T, 3, H2, W2)
    truth = None
    if any(getattr(f, "reads_truth", False) for f in predictors.values()):   # only the leaking picture
        truth = x if (H2, W2) == (H, W) else F.interpolate(x, size=(H2, W2), mode="bilinear",
                                                           align_corners=False, antialias=True)
    if T2 * ts > T:                                                          # a half tubelet: repeat its frame
        work = torch.cat([work, work[-1:].expand(T2 * ts - T, -1, -1, -1)])
        truth = None if truth is None else torch.cat([truth, truth[-1:].expand(T2 * ts - T, -1, -1, -1)])
    out = {}
    for name, filled in _fill(predictors, work, tmask, config, truth).items():
        filled = filled[:T]
        if (H2, W2) != (H, W):
            filled = F.interpolate(filled, size=(H, W), mode="bilinear", align_corners=False)
        out[name] = common.tensor_to_frames(torch.where(visible[:, None], x, filled))  # visible: the input's own
    return out, pmask


def one_window(clip, config: Config) -> np.ndarray:
    """The part of a clip that one forward pass covers: its first num_frames frames, the centre square of each.

    For a model too big to run window after window within a click (the official ViT-B: one pass of
    16 frames at 224 px is about 2 s on one CPU thread); (T', S, S, 3) with S the shorter side.
    """
    frames = common.check_frames(clip, "clip")
    T, H, W, _ = frames.shape
    s = min(H, W)
    y0, x0 = (H - s) // 2, (W - s) // 2
    return frames[:config.num_frames, y0:y0 + s, x0:x0 + s]


def reconstruct(model: VideoMAE, clip, mask_ratio: float = 0.9, seed: int = 0,
                masking: str = "tube") -> tuple[np.ndarray, np.ndarray]:
    """Hide tubelets of a clip and reconstruct them in pixel space from the visible ones.

    clip: (T, H, W, 3) uint8 of any size and length. The clip is scaled so that its shorter side is
    the model's image_size (sides rounded to whole patches) and tiled into windows of num_frames
    frames and image_size pixels; one mask (`masking`: "tube", "random" or "frame"; seeded by
    `seed`) covers the whole clip. Hidden pixels come from the model's pixel head (never from the
    statistics of the hidden patches), visible pixels are the input's own.

    Returns (recon (T, H, W, 3) uint8, mask (T, H, W) bool, True = hidden), at the input's size.
    Changing hidden pixels of the input never changes the output.
    """
    device = next(model.parameters()).device
    recon, mask = reconstruct_with({"model": model_predictor(model)}, clip, mask_ratio, seed, masking,
                                   model.config, device)
    return recon["model"], mask


def load_pretrained(device="cpu") -> VideoMAE:
    """The shipped model (assets/models/videomae.pt) in eval mode."""
    return common.load_model("videomae", Config, build_model, device)
