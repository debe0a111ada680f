"""Temporal Cycle-Consistency learning (TCC): align two videos of one action without labels.

Dwibedi, Aytar, Tompson, Sermanet and Zisserman, *Temporal Cycle-Consistency
Learning*, CVPR 2019.

Pretext task in one sentence: embed every frame so that, going from frame i
of video U to its *soft nearest neighbour* in video V and back again, one
lands on frame i.

Take two videos of the same action, U = (u_1..u_N) and V = (v_1..v_M) in
embedding space. The soft nearest neighbour of u_i in V is

    alpha_j = softmax_j(-||u_i - v_j||^2),      v~ = sum_j alpha_j v_j,

and cycling back from v~ to U gives beta_k = softmax_k(-||v~ - u_k||^2).
*Cycle-back classification* asks beta to put its mass on k = i
(cross-entropy); *cycle-back regression* asks the mean of beta over time,
mu = sum_k beta_k k, to be i. The paper weights that error by how sure the
cycle is:

    L = |i - mu|^2 / sigma^2 + lambda log sigma,   sigma^2 = sum_k beta_k (k - mu)^2.

Nothing in the loss says what a phase of the action looks like; the only way
to make every cycle return for every pair of videos is to put frames at the
same moment of the action (the arm cocked, the ball released) at the same
place in embedding space, whatever the look, the pace or the viewpoint. The
encoder never sees a frame's position in time: given one, it could learn to
count and align by timestamp instead of by content (the official README's
warning), which fails as soon as two videos move at different paces.

This small version, sized for a CPU:
- the encoder is a six-layer conv trunk on 64x64 frames with a spatial
  soft-argmax head (where the parts are), to a 64-d embedding (the paper:
  ResNet-50 features, a 3D conv over context frames, 128-d). Like the
  official code it sees each frame with one context frame a little before it
  (2 frames here), never a time stamp;
- it trains from scratch on the procedural throw of core/synthetic.py (a stick
  figure at a varied pace, start, look, viewpoint) instead of Penn Action or
  Pouring; the held-out videos are other seeds; phase labels only evaluate;
- two changes the from-scratch setting needed: each video's embeddings are
  centred and scaled to unit RMS (`video_norm`; without it the look of a
  video swamps its frames and the loss sits at its trivial value), and a
  frame and its mirror image embed alike (a thrower facing left would
  otherwise be aligned in reverse, with cycles that still come back);
- the loss follows the official code: squared distances divided by the
  embedding size and a temperature of 0.1, frame indices normalised by the
  video's length, all B(B-1) ordered pairs of a batch. Three variants
  (Config.loss): "regression", the default and what trained the shipped
  model, is the plain |i - mu|^2 without the variance weighting (the
  official code's regression_mse), because from scratch the weighted loss
  stays flat for a long, seed-dependent start; "regression_var" is the
  official default, the paper's weighted form written with the log of the
  VARIANCE and lambda 0.001 (log sigma^2 = 2 log sigma, so lambda doubled;
  `cycle_back_regression(..., log="sigma")` gives the paper's form);
  "classification" is cycle-back classification;
- alignment is the plain nearest neighbour in embedding space, as in the
  paper's evaluation (Kendall's tau) and its synced-playback figures.

model.py holds the Config, the encoder and the losses; data.py the batches;
infer.py the contract (`embed`, `align`) and what the tab draws; evaluate.py
the held-out numbers. Training is the project's one loop (core.train.fit) with
the batches of data.py's ClipPool and `batch_loss` below.
"""
from __future__ import annotations

import numpy as np
import torch

from core import common, train as loop
from core.tcc.data import TRAIN_SEEDS, ClipPool, augment, render_clip, sample_indices
from core.tcc.evaluate import (HELD_OUT_SEED, TARGETS, VAL_SEED, data_card, evaluate, held_out_videos,
                               phase_accuracy, pixel_features, retimed_pair, validation_tau)
from core.tcc.infer import (align, alignment_tau, cycle, cycle_consistency_rate, embed, kendalls_tau,
                            load_pretrained, match_distance, pca_2d, similarity, sq_distances, transfer_labels)
from core.tcc.model import (HEADS, LOSSES, NORMS, Config, FrameEncoder, TCCModel, all_pairs_logits,
                            build_model, context_indices, cycle_back_classification, cycle_back_logits,
                            cycle_back_regression, scaled_similarity, soft_nearest_neighbour, tcc_loss,
                            video_norm)

PAPER = ("Dwibedi, Aytar, Tompson, Sermanet, Zisserman, Temporal Cycle-Consistency Learning, "
         "CVPR 2019")


def batch_loss(model: TCCModel, clips: torch.Tensor, times: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """One training batch's objective: clips (B, T, C, H, W), times (B, T) -> (loss, {"acc", "tau"}).

    acc: the share of cycles that come back (tcc_loss); tau: Kendall's tau of
    the nearest-neighbour alignment of video 0 to video 1, a glance at alignment.
    """
    emb = model(clips)                                               # (B, T, D)
    value, stats = tcc_loss(emb, times, model.config)
    with torch.no_grad():
        nn_idx = scaled_similarity(emb[0], emb[1], 1.0).argmax(-1).cpu().numpy()   # (T,) video 0 -> 1
    tau = kendalls_tau(np.arange(len(nn_idx)), nn_idx) if nn_idx.std() > 0 else 0.0
    return value, {**stats, "tau": tau}


def train(config: Config, steps: int | None = None, device="cpu", progress=None, model: TCCModel | None = None,
          videos: list | None = None, log_every: int | None = None) -> tuple[TCCModel, dict]:
    """Train TCC through core.train's one loop; returns (model, history).

    `videos`: optional list of the user's own clips ((T, H, W, 3) uint8, at
    least two) to learn to align instead of the rendered throws: TCC needs no
    labels. `model`: continue from it (a deep copy; the shared one is left
    alone). history holds window means of loss, acc and tau, and, with
    config.val_every, val_step / val_tau: validation tau at the first logged
    step at or after each multiple of val_every, and at the end. log_every: the window of each history
    entry (default: about 20 entries a run; 1 logs every step, as live runs draw).
    """
    steps = int(config.steps if steps is None else steps)
    if videos is not None and len(videos) < 2:
        raise ValueError("TCC trains on at least two videos of the same action")
    model, config = loop.start(build_model, config, model, device)
    rng = np.random.default_rng(common.data_seed(config.seed))       # each rank its own data shard
    pool = ClipPool(config, rng, videos)

    def batches(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        batch = pool.batch(device)
        if step % config.refresh_every == 0:
            pool.refresh()
        return batch

    val = {"val_step": [], "val_tau": []}

    def on_log(step: int, model: TCCModel) -> dict:
        last = val["val_step"][-1] if val["val_step"] else 0
        if config.val_every and (step // config.val_every > last // config.val_every or step == steps):
            val["val_step"].append(step)
            val["val_tau"].append(validation_tau(model, device))
        return {}

    history = loop.fit(model, config, steps, batches, batch_loss, progress,
                       log_every=log_every or max(1, min(25, steps // 20)), on_log=on_log)
    if config.val_every:
        history.update(val)
    return model, history
