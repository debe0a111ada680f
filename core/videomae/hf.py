"""VideoMAE and Hugging Face's `VideoMAEForPreTraining`: the same network under other names, and the
authors' own pretrained checkpoint behind this project's contract.

Our model keeps the token order, patch layout and parameter shapes of the paper's code
(MCG-NJU/VideoMAE `modeling_pretrain.py`) and of Hugging Face's class, so `hf_config(config)` gives a
`transformers.VideoMAEConfig` and `hf_state_dict(model)` our weights under its names: the two forward
passes can then be compared (bench/videomae_vs_hf.py, tests/test_bench.py).

`load_hf(name_or_path)` goes the other way: it wraps an official checkpoint (`MCG-NJU/videomae-base`,
ViT-B pretrained on Kinetics-400 for 1600 epochs, weights CC-BY-NC-4.0) so that `reconstruct`,
`reconstruct_compare` and the baselines take it as they take ours. It reads the local Hugging Face
cache or a folder only, never the network (scripts/fetch_models.py fills the cache). Its head predicts
each hidden tubelet normalized by that tubelet's own mean and std; `OfficialVideoMAE.forward` turns
that into pixels with a mean and std estimated from the *visible* tubelets (`visible_smooth_stats`),
where the public visualisation uses the hidden tubelet's true ones (`leaking_predictor` shows that).
"""
from __future__ import annotations

import os

import torch
import torch.nn as nn

from core.videomae.model import Config, VideoMAE, patchify
from core.videomae.pixels import (denormalize_tubelets, normalize_input, normalize_patch_pixels,
                                  visible_smooth_stats)

OFFICIAL = "MCG-NJU/videomae-base"
OFFICIAL_FILES = ("config.json", "model.safetensors")   # what the loader reads (the .bin twin is not needed)
# Gaussian width (tokens) of the visible statistics on the 14x14 grid: as a smooth fill, widths 1-3 scored within
# 0.6 dB of each other on 16-frame crops of the held-out clips, bikes best narrow and city wide
OFFICIAL_STATS_WIDTH = 1.5


class NotInCacheError(FileNotFoundError):
    """An official checkpoint that is not on this machine; the message says how to get it."""


def hf_config(config: Config) -> dict:
    """Keyword arguments for `transformers.VideoMAEConfig` describing the same network.

    Load our weights into Hugging Face's `VideoMAEForPreTraining` with `hf_state_dict` and feed it
    `pixels.normalize_input(x)`; its logits then match our `head` output (our `pixel_head` has no
    counterpart there). Hugging Face always builds the paper's 1-D position table; for a model with
    position_embedding="3d" assign ours first: `hf.videomae.embeddings.position_embeddings =
    model.encoder_pos` and `hf.position_embeddings = model.decoder_pos`.
    """
    return dict(image_size=config.image_size, patch_size=config.patch_size, num_channels=3,
                num_frames=config.num_frames, tubelet_size=config.tubelet_size,
                hidden_size=config.encoder_dim, num_hidden_layers=config.encoder_depth,
                num_attention_heads=config.encoder_heads,
                intermediate_size=int(config.encoder_dim * config.mlp_ratio),
                decoder_hidden_size=config.decoder_dim, decoder_num_hidden_layers=config.decoder_depth,
                decoder_num_attention_heads=config.decoder_heads,
                decoder_intermediate_size=int(config.decoder_dim * config.mlp_ratio),
                hidden_act="gelu", qkv_bias=True, use_mean_pooling=False, norm_pix_loss=True,
                layer_norm_eps=config.layer_norm_eps, hidden_dropout_prob=0.0,
                attention_probs_dropout_prob=0.0)


def hf_state_dict(model: VideoMAE) -> dict:
    """Our weights under Hugging Face `VideoMAEForPreTraining` names (see `hf_config`)."""
    sd = model.state_dict()
    out = {"videomae.embeddings.patch_embeddings.projection.weight": sd["patch_embed.weight"],
           "videomae.embeddings.patch_embeddings.projection.bias": sd["patch_embed.bias"],
           "videomae.layernorm.weight": sd["encoder_norm.weight"],
           "videomae.layernorm.bias": sd["encoder_norm.bias"],
           "encoder_to_decoder.weight": sd["encoder_to_decoder.weight"],
           "mask_token": sd["mask_token"],
           "decoder.norm.weight": sd["decoder_norm.weight"], "decoder.norm.bias": sd["decoder_norm.bias"],
           "decoder.head.weight": sd["head.weight"], "decoder.head.bias": sd["head.bias"]}
    for ours, theirs, depth in (("encoder", "videomae.encoder.layer", model.config.encoder_depth),
                                ("decoder", "decoder.decoder_layers", model.config.decoder_depth)):
        for i in range(depth):
            a, b = f"{ours}.{i}.", f"{theirs}.{i}."
            q, k, v = sd[a + "attn.qkv.weight"].chunk(3)
            out.update({
                b + "layernorm_before.weight": sd[a + "norm1.weight"], b + "layernorm_before.bias": sd[a + "norm1.bias"],
                b + "attention.attention.query.weight": q, b + "attention.attention.key.weight": k,
                b + "attention.attention.value.weight": v,
                b + "attention.attention.q_bias": sd[a + "attn.q_bias"],
                b + "attention.attention.v_bias": sd[a + "attn.v_bias"],
                b + "attention.output.dense.weight": sd[a + "attn.proj.weight"],
                b + "attention.output.dense.bias": sd[a + "attn.proj.bias"],
                b + "layernorm_after.weight": sd[a + "norm2.weight"], b + "layernorm_after.bias": sd[a + "norm2.bias"],
                b + "intermediate.dense.weight": sd[a + "mlp.0.weight"], b + "intermediate.dense.bias": sd[a + "mlp.0.bias"],
                b + "output.dense.weight": sd[a + "mlp.2.weight"], b + "output.dense.bias": sd[a + "mlp.2.bias"],
            })
    return out


# ===================================================================== official checkpoints

def how_to_get(name: str = OFFICIAL) -> str:
    """One sentence for a person: how a checkpoint gets into the local cache (never during a click)."""
    return (f"`{name}` is not in the local Hugging Face cache. Where a network is allowed, run "
            f"`python scripts/fetch_models.py` once (it downloads {', '.join(OFFICIAL_FILES)}, about 380 MB, "
            f"into the cache); on a Hugging Face Space, `preload_from_hub` in README.md's front matter does it "
            f"at build time.")


def in_cache(name_or_path: str = OFFICIAL, cache_dir: str | None = None) -> bool:
    """Whether `load_hf(name_or_path)` would find its files here, without loading them.

    cache_dir: the Hugging Face hub cache (None: the default, HF_HUB_CACHE or ~/.cache/huggingface/hub).
    """
    if os.path.isdir(name_or_path):
        return os.path.isfile(os.path.join(name_or_path, "config.json"))
    from huggingface_hub import try_to_load_from_cache
    found = lambda f: isinstance(try_to_load_from_cache(name_or_path, f, cache_dir=cache_dir), str)  # noqa: E731
    return found("config.json") and (found("model.safetensors") or found("pytorch_model.bin"))


def official_config(hf, width: float = OFFICIAL_STATS_WIDTH) -> Config:
    """Our Config describing a `transformers.VideoMAEConfig` (what `reconstruct` reads: sizes, frames)."""
    return Config(image_size=hf.image_size, patch_size=hf.patch_size, tubelet_size=hf.tubelet_size,
                  num_frames=hf.num_frames, encoder_dim=hf.hidden_size, encoder_depth=hf.num_hidden_layers,
                  encoder_heads=hf.num_attention_heads, decoder_dim=hf.decoder_hidden_size,
                  decoder_depth=hf.decoder_num_hidden_layers, decoder_heads=hf.decoder_num_attention_heads,
                  mlp_ratio=hf.intermediate_size / hf.hidden_size, layer_norm_eps=hf.layer_norm_eps,
                  position_embedding="1d", pixel_base="smooth", base_width=width)


class OfficialVideoMAE(nn.Module):
    """A Hugging Face `VideoMAEForPreTraining` behind our `VideoMAE`'s interface.

    forward(x (B, T, 3, S, S) pixels in [0, 1], mask (B, N) True = removed) -> (normalized, pixels),
    each (B, N_masked, P) for the masked tokens in (t h w) order, pixels in the input normalization,
    like ours. T may be below num_frames (a short clip): the last tubelet and its mask row are
    repeated up to the checkpoint's fixed length and the extra predictions dropped. The ImageNet
    normalization is applied here. `config` is our Config for the checkpoint's sizes.
    """

    def __init__(self, net: nn.Module, name: str, width: float = OFFICIAL_STATS_WIDTH):
        super().__init__()
        self.net = net
        self.name = name
        self.config = official_config(net.config, width)
        self.normalized_targets = bool(getattr(net.config, "norm_pix_loss", True))

    def forward_normalized(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The checkpoint's head on the visible tubelets: (B, N_masked, P), per-tubelet normalized targets."""
        c = self.config
        B, T = x.shape[:2]
        t, hw = T // c.tubelet_size, (c.image_size // c.patch_size) ** 2
        n_masked = int(mask[0].sum()) if B else 0     # the same count in every row
        if T < c.num_frames:                          # the checkpoint's position table is for num_frames
            extra = (c.num_frames - T) // c.tubelet_size
            x = torch.cat([x, x[:, -c.tubelet_size:].repeat(1, extra, 1, 1, 1)], dim=1)
            m = mask.reshape(B, t, hw)
            mask = torch.cat([m, m[:, -1:].expand(B, extra, hw)], dim=1).reshape(B, -1)
        logits = self.net(pixel_values=normalize_input(x), bool_masked_pos=mask).logits
        return logits[:, :n_masked]                   # the padded tubelets come last in (t h w) order

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.config
        norm = self.forward_normalized(x, mask)
        if not self.normalized_targets:               # a checkpoint trained on raw pixels predicts them
            return norm, normalize_patch_pixels(norm)
        grid = (x.shape[1] // c.tubelet_size, c.image_size // c.patch_size, c.image_size // c.patch_size)
        mean, std = visible_smooth_stats(patchify(x, c.patch_size, c.tubelet_size), mask, grid, c.base_width)
        return norm, normalize_patch_pixels(denormalize_tubelets(norm, mean, std))


def load_hf(name_or_path: str = OFFICIAL, device="cpu", cache_dir: str | None = None) -> OfficialVideoMAE:
    """An official `VideoMAEForPreTraining` checkpoint, a hub name or a folder, in eval mode.

    Reads the local Hugging Face cache (or the folder) only: `local_files_only=True`, so nothing is
    downloaded, with or without HF_HUB_OFFLINE. Raises NotInCacheError (its message: how to get it)
    when the files are not here. The result goes wherever our model goes: `reconstruct(model, clip,
    mask_ratio, seed)` returns the reconstruction at the input's size. cache_dir as in `in_cache`.
    """
    from transformers import VideoMAEForPreTraining
    if not os.path.isdir(name_or_path) and not in_cache(name_or_path, cache_dir):
        raise NotInCacheError(how_to_get(name_or_path))
    try:
        net = VideoMAEForPreTraining.from_pretrained(name_or_path, local_files_only=True, cache_dir=cache_dir)
    except OSError as e:                              # e.g. a half-filled cache
        raise NotInCacheError(how_to_get(name_or_path) + f" ({e})") from e
    return OfficialVideoMAE(net, name_or_path).to(torch.device(device)).eval()
