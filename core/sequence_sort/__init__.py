"""Sequence sorting: learn from video by putting shuffled frames back in order.

Lee, Huang, Singh and Yang, *Unsupervised Representation Learning by Sorting
Sequences*, ICCV 2017 (the Order Prediction Network, OPN), with Misra, Zitnick
and Hebert, *Shuffle and Learn: Unsupervised Learning using Temporal Order
Verification*, ECCV 2016, as its binary ancestor.

The pretext task: take four frames of a clip, shuffle them, and ask the
network which of the 12 orders it is looking at. Twelve, not 24, because a
sequence played backwards is often as plausible as forwards (a door opens and
closes, a hand rises and falls): a permutation and its reverse share one class
(`ORDERS`). Nobody labels anything; the clip's own time is the label. To sort
frames the network has to find what moved and where to, so its frame trunk
learns about objects and motion.

What the paper gets right, and this package keeps:
- **Motion-aware sampling.** A talking head or a still scene holds no order to
  find. Candidate windows are ranked by frame-difference energy (the paper uses
  optical-flow magnitude) and tuples come from the high-motion ones; windows
  across a scene cut (a spike in the energy) are skipped.
- **Against shortcuts.** Channel splitting: each frame keeps one random colour
  channel, copied to all three, so chromatic aberration and colour drift cannot
  date a frame. Per-frame spatial jitter: each frame is cropped at its own small
  random offset, so absolute pixel positions cannot be compared; only what moved
  relative to the scene can. The whole tuple is mirrored at random.
- **Pairwise features.** One trunk, shared by the four frames; a shared pair
  module looks at each of the 6 frame pairs (1,2)(2,3)(3,4)(1,3)(2,4)(1,4); the
  classifier reads the six pair features concatenated. Pairs are what make
  order learnable: each says "from this frame to that one, things moved so".
- **Shuffle & Learn's verification** as a second head on the same trunk and
  pair module: is this triplet in temporal order (either direction) or not?
  Positives (b, c, d) from frames a < b < c < d; negatives put a frame that is
  not between the other two in the middle.

A property of the 12 classes worth knowing (and shown in the tab): OPN merges a shuffle with its
mirror image, the same frames read right to left (the official data layer feeds ORDERS[k] or
ORDERS[k] reversed under label k), not with the shuffle of the clip played backwards. For motion
that looks the same both ways (a camera pan, a drifting sprite), a shuffle of the clip and the
same shuffle of the reversed clip are the same pictures with different classes in 16 of the 24
cases, so a sorter blind to the arrow of time tops out at 2/3 (`DIRECTION_BLIND_CEILING`);
beyond that it must know which way time runs. Evaluation also reports accuracy "either
direction", which counts the backwards clip's class as right.

What this small version simplifies, to train on a shared CPU in an hour:
- 64x64 frames and a 5-layer trunk (70k parameters, 0.3M in all) instead of
  CaffeNet at 80x80; batch norm, which makes training from scratch start fast.
- Every tuple is shown in all 24 orders at once: the trunk runs once per
  frame and the pair module once per ordered pair, and each order gathers its
  six pair features from those (the paper draws one order per tuple). Same
  loss, many more labels per second of CPU: the task leaves chance within a
  few hundred steps instead of sitting there for thousands.
- The pair module compares the two frames' 8x8 feature *maps* (concatenated
  channel-wise, one strided conv, then fc7) instead of two fc6 vectors: a local
  comparison that sees displacement directly, which a small net learns far
  sooner than a global one.
- Frame-difference energy instead of optical flow for motion-aware sampling.
- Training data: procedural sprite videos (core.synthetic, blurred backgrounds),
  virtual camera moves (pans, zooms, turns) over still photographs, and real
  clips (the bundled training clips; with `long_sources`, four of them whole
  from the source videos they were cut from, which the shipped recipe leaves
  out). The held-out clips (bikes, city) are never trained on.
- At test time frames are shown in grey (luma copied to three channels); in
  training each frame shows one of R, G, B, as in the paper's channel splitting.

Where to read: `model.py` (the config, the network, the losses), `data.py` (motion-aware
sampling, the augmentations, the tuple sampler, `train` through core.train's one loop),
`infer.py` (the contract), `evaluate.py` (held-out metrics and baselines). What was tried
and measured: docs/experiments/sequence_sort.md.
"""
from core.sequence_sort.model import (ALL_PERMS, ALL_TRIPLETS, ORDERED_PAIRS, ORDERS, PAIRS, TRIPLET_LABELS,
                                      TRIPLET_PAIRS, Config, OrderNet, build_model, order_class, order_loss,
                                      sort_and_verify_loss, time_reversed_class, verify_loss)
from core.sequence_sort.data import (LONG_SOURCES, SYNTH_KW, TupleSampler, camera_photos, channel_split,
                                     jitter_crop, make_batch, motion_energy, motion_windows, pick_window,
                                     scene_cuts, to_grey3, train, training_sampler, triplet_question,
                                     window_energies)
from core.sequence_sort.infer import (METHOD, frame_features, load_pretrained, order_name, predict, prepare,
                                      sorted_positions, verify)
from core.sequence_sort.evaluate import (CHANCE, DIRECTION_BLIND_CEILING, EVAL_STRIDE, EVAL_SYNTH_SEEDS,
                                         EVAL_SYNTH_STRIDE, PROBE_TEST_SEEDS, PROBE_TRAIN_SEEDS, TARGETS,
                                         data_card, evaluate, linear_probe, probe_data, probe_scores,
                                         real_eval_windows, synthetic_eval_windows)

PAPER = ("Lee, Huang, Singh & Yang, Unsupervised Representation Learning by Sorting Sequences, ICCV 2017; "
         "Misra, Zitnick & Hebert, Shuffle and Learn, ECCV 2016")
