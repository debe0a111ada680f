"""Contrastive learning from narrated video: InfoNCE and MIL-NCE.

van den Oord, Li and Vinyals, *Representation Learning with Contrastive
Predictive Coding*, arXiv 2018 (InfoNCE); Miech, Alayrac, Smaira, Laptev, Sivic
and Zisserman, *End-to-End Learning of Visual Representations from Uncurated
Instructional Videos*, CVPR 2020 (MIL-NCE).

Pretext task in one sentence: embed a clip and what is said over it so that
the pair is more alike than the clip with any other narration of the batch.

InfoNCE scores the positive pair against the negatives with a softmax,

    L = -log  e^{f(x).g(y)/tau} / sum_j e^{f(x).g(y_j)/tau},

and needs the positive to be right. In instructional video it often is not:
people say what they do before or after doing it, talk about other things,
and speech recognition errs. MIL-NCE (multiple-instance learning + NCE) keeps
the narrations nearest in time as a *bag* of candidate positives and sums
them in the numerator,

    L = -log  sum_{y in P} e^{f(x).g(y)} / ( sum_{y in P} e^{f(x).g(y)} + sum_{(x',y') in N} e^{f(x').g(y')} ),

so the loss is low when ANY narration of the bag matches; the wrong ones are
not pushed to match, and the right one is no longer pushed away as a
negative of the clip it belongs to.

This small version, sized for a CPU:
- the clips are 8 frames of 32x32 px: coloured shapes moving one way over
  dead-leaves backgrounds, a stick figure winding up or throwing
  (core/synthetic.py), and a second cut from the bundled real clips; the
  narrations come from an 80-word vocabulary (the paper: HowTo100M, 1.2M
  videos with their speech-recognized narration, S3D on 32 frames at 200 px);
- the misalignment is generated, so it is known and controllable: each
  narration is said `shift` segments away from its action at most, and a
  share `unrelated` says nothing about the video (data.py);
- the clip encoder is a four-layer 3D conv net, the narration encoder the
  paper's (word embeddings, linear + ReLU, max over words, linear), both to a
  64-d unit vector with a temperature (the paper: unnormalized dot products);
  about 230k parameters in all;
- the bag is the 5 narrations nearest in time to where the clip was cut
  (the paper's candidates are the narrations adjacent in time);
- InfoNCE is written both ways (clip to narration and back, averaged), MIL-NCE
  as the official MILNCELoss; both train on the same batches: InfoNCE reads
  the first narration of each bag only.

model.py holds the Config, the encoders and the losses; data.py the narrated
videos; infer.py the contract (`embed_clips`, `embed_texts`) and what the tab
draws; evaluate.py the held-out retrieval and the misalignment sweep. Training
is the project's one loop (core.train.fit).
"""
from __future__ import annotations

import numpy as np
import torch

from core import common, train as loop
from core.contrastive.data import (COLOURS, DIRECTIONS, EVENTS, FILLERS, REAL_NARRATIONS, SHAPES, TRAIN_SEEDS,
                                   VideoPool, clips_tensor, cut, describe, label_quality, narrate, narrations,
                                   render_event, render_video, sample_events)
from core.contrastive.evaluate import (HELD_OUT_SEED, LEVELS, SWEEP_SEEDS, TARGETS, data_card, evaluate,
                                       galleries, held_out_gallery, retrieval, sweep, sweep_levels,
                                       sweep_metrics)
from core.contrastive.infer import (batch_losses, clip_tensor, embed_clips, embed_texts, known_words, load_pretrained,
                                    recall_at, retrieve)
from core.contrastive.model import (LOSSES, PAD, UNK, VOCAB, ClipEncoder, Config, ContrastiveModel, NarrationEncoder,
                                    bag_positives, build_model, contrastive_loss, info_nce, mil_nce, tokenize,
                                    tokens_tensor)

PAPER = ("Miech, Alayrac, Smaira, Laptev, Sivic, Zisserman, End-to-End Learning of Visual Representations from "
         "Uncurated Instructional Videos, CVPR 2020 (MIL-NCE); van den Oord, Li, Vinyals, Representation "
         "Learning with Contrastive Predictive Coding, arXiv 2018 (InfoNCE)")


def batch_loss(model: ContrastiveModel, clips: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """One training batch's objective: clips (B, T, C, H, W), tokens (B, K, L) -> (loss, {"acc", ...}).

    With config.loss == "infonce" only each bag's first narration is encoded.
    """
    c = model.config
    if c.loss == "infonce":
        tokens = tokens[:, :1]
    B, K, L = tokens.shape
    clip_emb, text_emb = model(clips, tokens.reshape(B * K, L))       # (B, D), (B K, D)
    return contrastive_loss(clip_emb, text_emb.view(B, K, -1), c)


def train(config: Config, steps: int | None = None, device="cpu", progress=None,
          model: ContrastiveModel | None = None, log_every: int | None = None) -> tuple[ContrastiveModel, dict]:
    """Train through core.train's one loop with config.loss; returns (model, history).

    The data depend on config.seed only (not on the loss), so an InfoNCE and a
    MIL-NCE run with the same seed see the same batches from the same initial
    weights. `model`: continue from it (a deep copy).
    """
    steps = int(config.steps if steps is None else steps)
    model, config = loop.start(build_model, config, model, device)
    rng = np.random.default_rng(common.data_seed(config.seed))       # each rank its own data shard
    pool = VideoPool(config, rng)

    def batches(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        batch = pool.batch(device)
        if config.refresh_every and step % config.refresh_every == 0:
            pool.refresh()
        return batch

    every = log_every or max(1, min(25, steps // 20))          # a live run in the tab logs every step
    history = loop.fit(model, config, steps, batches, batch_loss, progress, log_every=every)
    return model, history
