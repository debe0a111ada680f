"""VideoMAE: masked autoencoders for video (Tong, Song, Wang & Wang, NeurIPS 2022).

*VideoMAE: Masked Autoencoders are Data-Efficient Learners for Self-Supervised Video Pre-Training.*
The pretext task: cut a clip into tubelets (2 frames x p x p pixels), hide 90% of them and
reconstruct the hidden ones from the rest. Images can be masked at 75% (He et al., MAE, CVPR 2022);
video can be masked harder because neighbouring frames repeat each other (temporal redundancy). That
redundancy is also a shortcut: with a random mask per token, a hidden patch is usually visible a
frame earlier or later, and copying it teaches nothing. VideoMAE's answer is **tube masking**: one
spatial mask, repeated at every time step, so that what is hidden stays hidden through the clip and
the network must reason about appearance and motion instead.

The architecture is an asymmetric encoder-decoder: a standard ViT (pre-norm blocks, MLP ratio 4,
fixed sinusoidal positions) runs on the *visible* tokens only, which is what makes a 90% ratio cheap;
a lightweight decoder receives the encoded visible tokens plus a shared learnable mask token at every
hidden position, and predicts the hidden tubelets. The loss is the mean squared error on the masked
tokens only, against per-patch normalized targets: each tubelet and colour channel is shifted to mean
0 and divided by its (unbiased) standard deviation (eps 1e-6), as in the paper's code.

What this small version simplifies or changes, so that it trains on a CPU:
- 16 frames of 64x64 pixels, patches of 8 (the paper: 16 frames of 224x224, patches of 16), 512
  tokens; a 4-block encoder of width 128 and a 2-block decoder of width 96 (the paper: ViT-B, a
  4-block decoder of width 384);
- fixed sin-cos positions that are *separable* in time, row and column (as MAE does for images in
  2-D) instead of the paper's 1-D table over the flattened token index (`position_embedding="1d"`
  restores it): a small model trained for minutes learns from them that neighbouring tokens matter;
- a few thousand steps (batches of 8 clips) instead of 800-2400 epochs of Kinetics or
  Something-Something, on the bundled real footage, slow camera pans over a few hundred photographs
  (seven videos alone invite memorizing their scenes), and procedural video.

An honest picture. Per-patch normalized targets throw away each patch's brightness and contrast, and
the public visualizations put them back with the true mean and standard deviation of the *hidden*
patches, which leaks the answer (MCG-NJU/VideoMAE issues #25 and #120). Here a second linear head,
trained alongside the paper's head on the same decoder features, predicts the hidden pixels
themselves (in the encoder's input normalization), as a correction to a guess made from the
*visible* tubelets only (pixels.py; those guesses are also the baselines: what the network adds is
what it learned). `reconstruct` shows that pixel prediction, so a reconstructed pixel depends on the
visible pixels only; `tests/test_videomae.py` changes hidden pixels and checks that nothing in the
output moves. The loss is the paper's plus the pixel head's MSE.

The files: model.py (Config, the network, the loss: read it first), pixels.py (input normalization,
visible-only guesses), data.py (masking, training views, batches, `train`), infer.py
(`reconstruct`), evaluate.py (baselines, held-out PSNR, TARGETS), hf.py (Hugging Face names, and
`load_hf`: the authors' pretrained VideoMAE-Base from the local cache, honest pixels from visible
statistics, beside the leaking version for comparison).
What was tried and measured: docs/experiments/videomae.md.
"""
from core.videomae.data import (MASKINGS, FrameMasking, RandomMasking, TubeMasking, batch_masks, make_masking,
                                num_masked, photo_pan_clip, sample_window, synthetic_clip, train)
from core.videomae.evaluate import (EVAL_RATIOS, EVAL_SEED, EVAL_STRATEGIES, TARGETS, _db, baseline_predictor,
                                    clip_windows, data_card, evaluate, heldout_windows, masked_errors,
                                    predictor_errors, psnr, ratio_curve, reconstruct_baseline, reconstruct_compare,
                                    synthetic_windows)
from core.videomae.hf import (OFFICIAL, NotInCacheError, OfficialVideoMAE, hf_config, hf_state_dict, how_to_get,
                              in_cache, load_hf)
from core.videomae.infer import load_pretrained, one_window, reconstruct, with_leaking_predictor
from core.videomae.model import (Config, VideoMAE, build_model, masked_mse, normalize_patches, patchify,
                                 sinusoid_table, sinusoid_table_3d, unpatchify, videomae_loss)
from core.videomae.pixels import (denormalize_patches, denormalize_tubelets, normalize_input, normalize_patch_pixels,
                                  own_stats, visible_frame_mean, visible_smooth_fill, visible_smooth_stats)

PAPER = ("Tong, Song, Wang & Wang, VideoMAE: Masked Autoencoders are Data-Efficient Learners "
         "for Self-Supervised Video Pre-Training, NeurIPS 2022")
