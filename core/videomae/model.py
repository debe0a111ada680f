"""VideoMAE's network and loss: the file to read first (the paper in a paragraph: core/videomae/__init__.py).

`Config` holds the recipe; `VideoMAE` is the asymmetric encoder-decoder (`forward_encoder` on the
visible tubelets, `forward_decoder` with mask tokens, `forward` adding the pixel head's base);
`videomae_loss` is the paper's `masked_mse` on per-patch normalized targets plus the pixel head's MSE.
Shapes: B batch, T frames, N tokens in (t h w) order, P = tubelet_size * patch_size**2 * 3 values per
tubelet, D width; masks are (B, N) bool, True = removed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from core import common
from core.videomae.pixels import (denormalize_patches, normalize_input, normalize_patch_pixels,
                                  visible_frame_mean, visible_smooth_fill)


# ===================================================================== config

@dataclass
class Config:
    # --- the video a model sees (Hugging Face names: image_size, patch_size, tubelet_size, num_frames)
    image_size: int = common.arch(64)     # square frames: 64 px keeps 512 tokens per clip, CPU-sized
    patch_size: int = common.arch(8)      # 8x8 patches: at 90% masking ~6 of 64 per frame stay visible
    tubelet_size: int = common.arch(2)    # the paper's tubelet: 2 frames x p x p
    num_frames: int = common.arch(16)     # the paper's clip length
    # --- encoder (hidden_size, num_hidden_layers, num_attention_heads; intermediate = mlp_ratio * dim)
    encoder_dim: int = common.arch(128)   # a ViT of ~0.8M parameters: fits the weight budget (a few MB)
    encoder_depth: int = common.arch(4)   # a quarter of ViT-B's 12 blocks: minutes of CPU, not days of GPU
    encoder_heads: int = common.arch(4)   # head width 32
    # --- decoder (decoder_hidden_size, decoder_num_hidden_layers, decoder_num_attention_heads)
    decoder_dim: int = common.arch(96)    # lightweight, as in the paper: it runs on all 512 tokens
    decoder_depth: int = common.arch(2)   # the paper uses 4; 2 halves the cost of the widest part
    decoder_heads: int = common.arch(3)   # head width 32
    mlp_ratio: float = common.arch(4.0)   # standard ViT
    layer_norm_eps: float = common.arch(1e-6)  # the paper's code (timm); Hugging Face's default is 1e-12
    position_embedding: str = common.arch("3d")  # separable t/h/w sin-cos: a small, briefly trained model learns
                                                 # locality from it far sooner than from the paper's "1d" table
    # --- the pretext task
    masking: str = "tube"         # the paper's masking; "random" and "frame" exist for comparison
    mask_ratio: float = 0.9       # the paper's ratio for Kinetics and Something-Something
    pixel_loss_weight: float = 4.0  # the pixels are what is shown and measured: a small decoder spends more
                                    # of itself on them
    pixel_base: str = common.arch("smooth")  # what the pixel head adds to, from visible tubelets only: "frame_mean"
                                             # (visible_frame_mean) or "smooth" (visible_smooth_fill); the weights
                                             # learned a residual over it, so a continued model keeps its own
    base_width: float = common.arch(1.5)     # the smooth base's Gaussian width, in tokens (kept, as pixel_base)
    # --- optimization (core.train's one loop: warm-up, then cosine decay)
    steps: int = 6000             # the shipped recipe
    batch_size: int = 8           # clips per step
    lr: float = 5e-4              # higher than the paper's (1.5e-4 * batch/256): tiny batch, short run
    warmup: int = 200             # linear warm-up steps, at most steps // warmup_div
    warmup_div: int = 5           # a short run (the tab's live training) warms up for a fifth of it at most
    weight_decay: float = 0.05    # the paper's; none on biases, norms and the mask token (no_weight_decay)
    optimizer: str = "adamw"      # the paper's
    betas: tuple[float, float] = (0.9, 0.95)  # the paper's (MAE's): steadier ViT pre-training than 0.999
    clip_grad: float = 1.0        # max gradient norm (0 = none): a guard for a high lr on 8-clip batches
    # --- data
    synthetic_fraction: float = 0.15  # share of clips drawn from core.synthetic (sprites, a throw)
    use_sources: bool = True      # also train on the full-length source videos of the bundled train clips
    real_clips: bool = False      # also the REAL_CLIPS train clips (core/real_clips.py) where fetched
    photo_fraction: float = 0.35  # share of clips that are camera pans/zooms over photographs (data/sources):
                                  # hundreds of scenes where seven videos alone invite memorizing them
    max_stride: int = 2           # frames are taken every 1..max_stride frames (15 fps clips)
    seed: int = 0

    @classmethod
    def quick(cls) -> "Config":
        """The 10-minute preset on 2 CPU cores: 1200 steps, on the bundled clips rather than their full source
        videos (and photo pans when data/sources has them). Timings and scores: docs/experiments/videomae.md."""
        return cls(steps=1200, warmup=100, use_sources=False)

    @property
    def grid(self) -> tuple[int, int, int]:
        """Token grid (t, h, w): time steps of tubelets, patch rows, patch columns."""
        g = self.image_size // self.patch_size
        return self.num_frames // self.tubelet_size, g, g

    @property
    def patch_dim(self) -> int:
        """Values per tubelet: tubelet_size * patch_size**2 * 3."""
        return self.tubelet_size * self.patch_size ** 2 * 3


# ===================================================================== helpers: tubelets

def patchify(x: torch.Tensor, patch_size: int, tubelet_size: int) -> torch.Tensor:
    """(B, T, C, H, W) -> (B, N, ts*p*p*C): tubelets in (t h w) order, values in (ts p p C) order.

    The layout of the paper's code and Hugging Face's labels, so head outputs are comparable.
    """
    B, T, C, H, W = x.shape
    p, ts = patch_size, tubelet_size
    x = x.reshape(B, T // ts, ts, C, H // p, p, W // p, p)
    x = x.permute(0, 1, 4, 6, 2, 5, 7, 3)                                     # (B, t, h, w, ts, p, p, C)
    return x.reshape(B, (T // ts) * (H // p) * (W // p), ts * p * p * C)


def unpatchify(patches: torch.Tensor, grid: tuple[int, int, int], patch_size: int,
               tubelet_size: int) -> torch.Tensor:
    """(B, N, ts*p*p*C) -> (B, T, C, H, W), the inverse of `patchify` for a token grid (t, h, w)."""
    B = patches.shape[0]
    t, h, w = grid
    p, ts = patch_size, tubelet_size
    C = patches.shape[-1] // (ts * p * p)
    x = patches.reshape(B, t, h, w, ts, p, p, C)
    x = x.permute(0, 1, 4, 7, 2, 5, 3, 6)                                     # (B, t, ts, C, h, p, w, p)
    return x.reshape(B, t * ts, C, h * p, w * p)


def normalize_patches(patches: torch.Tensor, tubelet_size: int, patch_size: int,
                      eps: float = 1e-6) -> torch.Tensor:
    """The paper's targets: each tubelet and channel to mean 0, divided by its unbiased std + eps.

    patches (B, N, ts*p*p*C) from `patchify` -> same shape.
    """
    B, N, P = patches.shape
    x = patches.reshape(B, N, tubelet_size * patch_size ** 2, -1)            # (B, N, ts*p*p, C)
    d = x - x.mean(dim=-2, keepdim=True)
    var = d.square().sum(dim=-2, keepdim=True) / (x.shape[-2] - 1)           # unbiased; 3x faster than .var
    return (d / (var.sqrt() + eps)).reshape(B, N, P)                         # on CPU for these small groups


# ===================================================================== positions

def sinusoid_table_3d(grid: tuple[int, int, int], dim: int) -> torch.Tensor:
    """Fixed separable sin-cos positions: (1, N, D), tokens in (t h w) order.

    A quarter of the channels encode the time step, the rest are shared equally by the row and the
    column (MAE's 2-D sin-cos for images, with time added), each block [sin(pos * w_i), cos(pos * w_i)]
    with w_i = 10000^(-2i/d). Neighbours in space and time then have similar codes whatever the
    grid's width, which a small model trained briefly needs (see Config.position_embedding).
    """
    def block(pos: np.ndarray, d: int) -> np.ndarray:
        omega = 1.0 / np.power(10000.0, np.arange(d // 2) / max(d // 2, 1))
        ang = pos[:, None] * omega[None]
        return np.concatenate([np.sin(ang), np.cos(ang)], axis=1)

    d_hw = (dim - dim // 4) // 4 * 2                                        # even, for h and for w
    d_t = dim - 2 * d_hw
    t, h, w = np.meshgrid(*[np.arange(g, dtype=np.float64) for g in grid], indexing="ij")
    table = np.concatenate([block(t.ravel(), d_t), block(h.ravel(), d_hw), block(w.ravel(), d_hw)], axis=1)
    return torch.from_numpy(table[:, :dim]).float()[None]


def sinusoid_table(n_position: int, dim: int) -> torch.Tensor:
    """Fixed 1-D sin-cos positions over the flattened (t h w) token index: (1, N, D).

    The paper's table (from "Attention is all you need"): angle = pos / 10000^(2*(j//2)/D),
    sin on even dimensions, cos on odd ones.
    """
    pos = np.arange(n_position, dtype=np.float64)[:, None]
    j = np.arange(dim)[None, :]
    angle = pos / np.power(10000.0, 2 * (j // 2) / dim)
    table = np.where(j % 2 == 0, np.sin(angle), np.cos(angle))
    return torch.from_numpy(table).float()[None]


# ===================================================================== model

class Attention(nn.Module):
    """Multi-head self-attention through F.scaled_dot_product_attention.

    One qkv projection without bias plus separate query and value biases (the paper's code; a key
    bias would add the same number to every logit of a query and cancel in the softmax).
    """

    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim))
        self.v_bias = nn.Parameter(torch.zeros(dim))
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, D = x.shape
        bias = torch.cat([self.q_bias, torch.zeros_like(self.q_bias), self.v_bias])
        qkv = F.linear(x, self.qkv.weight, bias).reshape(B, N, 3, self.heads, D // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)                                 # each (B, heads, N, D/heads)
        y = F.scaled_dot_product_attention(q, k, v)                          # (B, heads, N, D/heads)
        return self.proj(y.transpose(1, 2).reshape(B, N, D))


class Block(nn.Module):
    """A pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x)), GELU MLP."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, eps: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VideoMAE(nn.Module):
    """Tubelet embedding + ViT encoder on visible tokens + lightweight decoder with mask tokens.

    Input: x (B, T, 3, H, W) pixels in [0, 1] with H = W = image_size and T a multiple of
    tubelet_size, at most num_frames (fewer frames use the first positions of the table);
    mask (B, N) bool, True = removed, the same count in every row.
    """

    def __init__(self, config: Config):
        super().__init__()
        c = self.config = config
        if c.image_size % c.patch_size or c.num_frames % c.tubelet_size:
            raise ValueError("image_size must be a multiple of patch_size and num_frames of tubelet_size")
        if c.pixel_base not in ("frame_mean", "smooth"):
            raise ValueError(f"pixel_base must be 'frame_mean' or 'smooth', not {c.pixel_base!r}")
        ts, p = c.tubelet_size, c.patch_size
        self.patch_embed = nn.Conv3d(3, c.encoder_dim, kernel_size=(ts, p, p), stride=(ts, p, p))
        self.register_buffer("encoder_pos", self._positions(c.encoder_dim), persistent=False)
        self.encoder = nn.ModuleList(Block(c.encoder_dim, c.encoder_heads, c.mlp_ratio, c.layer_norm_eps)
                                     for _ in range(c.encoder_depth))
        self.encoder_norm = nn.LayerNorm(c.encoder_dim, eps=c.layer_norm_eps)
        self.encoder_to_decoder = nn.Linear(c.encoder_dim, c.decoder_dim, bias=False)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, c.decoder_dim))
        self.register_buffer("decoder_pos", self._positions(c.decoder_dim), persistent=False)
        self.decoder = nn.ModuleList(Block(c.decoder_dim, c.decoder_heads, c.mlp_ratio, c.layer_norm_eps)
                                     for _ in range(c.decoder_depth))
        self.decoder_norm = nn.LayerNorm(c.decoder_dim)        # default eps, as Hugging Face's decoder norm
        self.head = nn.Linear(c.decoder_dim, c.patch_dim)       # the paper's: normalized tubelets
        self.pixel_head = nn.Linear(c.decoder_dim, c.patch_dim)  # ours: the tubelets' pixels (honest picture)
        self._init_weights()

    def _positions(self, dim: int) -> torch.Tensor:
        c = self.config
        if c.position_embedding == "1d":
            return sinusoid_table(int(np.prod(c.grid)), dim)
        if c.position_embedding == "3d":
            return sinusoid_table_3d(c.grid, dim)
        raise ValueError(f"position_embedding must be '1d' or '3d', got {c.position_embedding!r}")

    def _init_weights(self) -> None:
        # The paper's code: xavier-uniform linear layers, zero biases, a small normal mask token;
        # the tubelet embedding initialised like a linear layer on the flattened tubelet.
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        w = self.patch_embed.weight
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.zeros_(self.patch_embed.bias)
        nn.init.trunc_normal_(self.mask_token, std=0.02)

    def _check(self, x: torch.Tensor, mask: torch.Tensor) -> int:
        c = self.config
        B, T, C, H, W = x.shape
        if C != 3 or H != c.image_size or W != c.image_size or T % c.tubelet_size or T > c.num_frames:
            raise ValueError(f"expected (B, T<= {c.num_frames}, 3, {c.image_size}, {c.image_size}) "
                             f"with T a multiple of {c.tubelet_size}, got {tuple(x.shape)}")
        n = (T // c.tubelet_size) * (H // c.patch_size) * (W // c.patch_size)
        if tuple(mask.shape) != (B, n):
            raise ValueError(f"mask must be (B, N) = ({B}, {n}), got {tuple(mask.shape)}")
        return n

    def forward_encoder(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Encode the visible tubelets only: x (B, T, 3, H, W), mask (B, N) -> (B, N_visible, D)."""
        n = self._check(x, mask)
        B = x.shape[0]
        tokens = self.patch_embed(normalize_input(x).transpose(1, 2))       # (B, D, t, h, w)
        tokens = tokens.flatten(2).transpose(1, 2) + self.encoder_pos[:, :n]  # (B, N, D)
        z = tokens[~mask].reshape(B, -1, tokens.shape[-1])                 # (B, N_visible, D)
        for block in self.encoder:
            z = block(z)
        return self.encoder_norm(z)

    def forward_decoder(self, z: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Visible codes (B, N_visible, D) + mask tokens -> predictions for the masked tokens.

        Returns (normalized tubelets, pixel residuals), each (B, N_masked, ts*p*p*3), masked tokens in
        (t h w) order; the residuals are in the input normalization, and `forward` adds them to its base.
        """
        B, n = mask.shape
        z = self.encoder_to_decoder(z)                                      # (B, N_visible, Dd)
        pos = self.decoder_pos[:, :n].expand(B, -1, -1)
        n_masked = int(mask[0].sum()) if B else 0
        x = torch.cat([z + pos[~mask].reshape(B, -1, z.shape[-1]),
                       self.mask_token + pos[mask].reshape(B, n_masked, z.shape[-1])], dim=1)  # (B, N, Dd)
        for block in self.decoder:
            x = block(x)
        h = self.decoder_norm(x[:, x.shape[1] - n_masked:])                # (B, N_masked, Dd)
        return self.head(h), self.pixel_head(h)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, 3, H, W) in [0, 1], mask (B, N) -> (normalized, pixel) predictions (B, N_masked, P).

        The pixel prediction is the pixel head's output added to a guess made from the visible
        tubelets alone (`Config.pixel_base`): the mean colour of the visible tubelets of each frame
        (`visible_frame_mean`) or a smooth fill of their colours (`visible_smooth_fill`), in the input
        normalization. The network only has to learn what differs from that guess, and still sees
        nothing hidden.
        """
        c = self.config
        norm, residual = self.forward_decoder(self.forward_encoder(x, mask), mask)
        grid = (x.shape[1] // c.tubelet_size, c.image_size // c.patch_size, c.image_size // c.patch_size)
        # The base in pixels, then normalized: the same numbers (the normalization is affine per
        # channel) for a fraction of the work, as only the masked tokens' bases are normalized.
        patches = patchify(x, c.patch_size, c.tubelet_size)
        if c.pixel_base == "smooth":
            base = visible_smooth_fill(patches, mask, grid, c.tubelet_size, c.base_width)
        else:
            base = visible_frame_mean(patches, mask, grid, c.tubelet_size)
        base = normalize_patch_pixels(base)
        return norm, base + residual


def build_model(config: Config) -> VideoMAE:
    return VideoMAE(config)


def no_weight_decay(name: str, param: torch.Tensor) -> bool:
    """Biases, norms and the mask token train without weight decay (the paper's code, timm's convention)."""
    return param.ndim < 2 or "mask_token" in name


# ===================================================================== loss

def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the masked tokens only.

    Args: pred (B, N_masked, P), the predictions for the masked tokens in (t h w) order;
    target (B, N, P) for all tokens; mask (B, N) bool, True = removed.
    Returns a scalar: the mean over masked tokens and their P values (visible tokens count nothing).
    """
    B, N, P = target.shape
    return F.mse_loss(pred, target[mask].reshape(B, -1, P))


def videomae_loss(model: VideoMAE, x: torch.Tensor, mask: torch.Tensor,
                  pixel_loss_weight: float = 1.0) -> tuple[torch.Tensor, dict]:
    """The paper's loss (`masked_mse` on per-patch normalized tubelets) plus the pixel head's MSE.

    x (B, T, 3, H, W) in [0, 1], mask (B, N). Returns (loss_norm + pixel_loss_weight * loss_pixel,
    {"loss_norm", "loss_pixel", "psnr"} as floats), where psnr (dB) is that of the pixel head on the
    masked tubelets, in [0, 1] pixel units.
    """
    c = model.config
    pred_norm, pred_pix = model(x, mask)                                   # each (B, N_masked, P)
    with torch.no_grad():                   # targets: per-tubelet maps of the input, no gradient
        patches = patchify(x, c.patch_size, c.tubelet_size)                # (B, N, P) in [0, 1]
        B, N, P = patches.shape
        hidden = patches[mask].reshape(B, -1, P)                           # (B, N_masked, P)
        target_norm = normalize_patches(patches, c.tubelet_size, c.patch_size)   # (B, N, P)
        target_pix = normalize_patch_pixels(hidden)
    loss_norm = masked_mse(pred_norm, target_norm, mask)
    loss_pix = F.mse_loss(pred_pix, target_pix)
    with torch.no_grad():
        err = (denormalize_patches(pred_pix).clamp(0, 1) - hidden).pow(2).mean()
        psnr = -10 * torch.log10(err.clamp_min(1e-10))
    loss = loss_norm + pixel_loss_weight * loss_pix
    return loss, {"loss_norm": loss_norm.item(), "loss_pixel": loss_pix.item(), "psnr": psnr.item()}
