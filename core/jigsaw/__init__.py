"""Jigsaw puzzles as a pretext task: Noroozi & Favaro, "Unsupervised Learning of Visual
Representations by Solving Jigsaw Puzzles", ECCV 2016.

The pretext task in one sentence: cut an image into a 3x3 grid of tiles, shuffle
them by one permutation out of a fixed set, and ask the network which
permutation was applied. No label is needed: the image itself is the answer.
To solve it, a network must know what goes above what (sky over ground, a head
over shoulders, the parts of an object and how they sit together), which is
what makes its features useful later.

What the paper gets right, and this package keeps:
- The permutation set (Algorithm 1): greedily add the permutation with the
  largest *mean* Hamming distance to those already chosen, so that classes
  differ in many tile positions and the task is neither ambiguous nor trivial.
  Seeded, stored in the model (`perms` buffer), returned by `permutations`.
- Tiles are random crops *inside* their grid cells (a gap), so that edges do
  not line up across tiles; each tile is normalized on its own (mean per
  channel, one std) and colours are jittered or dropped (random greyscale), so
  that low-level shortcuts (matching edges, brightness, chromatic aberration)
  do not solve the puzzle.
- The context-free network: one trunk shared by the nine tiles, a per-tile
  embedding (fc6), concatenation in puzzle order, then fc7 and a classifier
  over the permutation set. Tiles never see each other before fc7.

What this small version simplifies, so that it trains on a CPU:
- 57-pixel crops, 19-pixel cells and 16-pixel tiles instead of 225/75/64; a
  four-layer conv trunk with batch norm (bbrattoli's PyTorch port needed batch
  norm to train at all) instead of AlexNet; ~0.95M parameters.
- 100 permutations by default (the paper's best transfer used 1000; 1000 are
  possible here with `n_perms=1000`).
- Each image's nine tile embeddings are computed once and reused for several
  permutations (`perms_per_image`): since the trunk sees one tile at a time,
  permuting embeddings is exactly permuting tiles, and the trunk's cost is
  shared by several puzzles.
- The data: ~185 real photographs from offline packages plus frames of the
  training clips, with photographed cut-outs pasted on some crops
  (photos.py). Scene count, not compute, limits what generalizes.

Where things are: model.py (Config, the network, the loss: read it first), data.py
(crops, tiles, augmentation, `train`), photos.py (the training pictures' cache),
infer.py (the contract: `permutations`, `shuffle`, `predict`), evaluate.py
(held-out metrics, baselines, TARGETS, the model card's data). Run histories are in
docs/experiments/jigsaw.md.
"""
from core.jigsaw.data import PhotoSampler, augment_tiles, fallback_images, make_batch, random_tiles, train
from core.jigsaw.evaluate import (OBJECT_CLASSES, PROBE_SHAPES, TARGETS, data_card, edge_baseline, edge_baseline_all,
                                  edge_scores, eval_crops, evaluate, evaluate_images, evaluate_photos, linear_probe,
                                  object_probe, object_probe_dataset, probe, probe_dataset, probe_features,
                                  random_set)
from core.jigsaw.infer import (cell_tensor, cells_of, centre_tiles, first_layer_filters, from_cells, load_pretrained,
                               permutations, predict, predict_all, puzzle_tiles, shuffle, square_crop, tile_margin,
                               unshuffle)
from core.jigsaw.model import (GRID, N_CELLS, Config, ContextFreeNetwork, all_permutations, build_model,
                               build_model_like, hamming, jigsaw_loss, max_hamming_set, normalize_tiles,
                               permute_tiles, puzzle_loss)

PAPER = ("Noroozi & Favaro, Unsupervised Learning of Visual Representations by Solving Jigsaw Puzzles, "
         "ECCV 2016")
