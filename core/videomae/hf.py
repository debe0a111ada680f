"""VideoMAE and Hugging Face's `VideoMAEForPreTraining`: the same network under other names.

Our model keeps the token order, patch layout and parameter shapes of the paper's code
(MCG-NJU/VideoMAE `modeling_pretrain.py`) and of Hugging Face's class, so `hf_config(config)` gives a
`transformers.VideoMAEConfig` and `hf_state_dict(model)` our weights under its names: the two forward
passes can then be compared (bench/videomae_vs_hf.py, tests/test_bench.py).
"""
from __future__ import annotations

from core.videomae.model import Config, VideoMAE


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
