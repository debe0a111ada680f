"""Tracking Emerges by Colorizing Videos (Vondrick, Shrivastava, Fathi, Guadarrama & Murphy, ECCV 2018).

The pretext task in one sentence: colour a grey target frame by *pointing* into
coloured reference frames of the same video, and copying the colour found there.

Colour is temporally coherent: the red shirt in frame t is still red in frame
t+4. A network embeds every grey frame into a feature map f; for each target
position j the pointer is a softmax over all reference positions i,

    A_ij = exp(f_i . f_j) / sum_k exp(f_k . f_j),     y_j = sum_i A_ij c_i,

where c_i is the (quantized) colour at reference position i and y_j the
predicted colour distribution at j, trained with cross-entropy against the
target's true colour. Nothing tells the network where things move; to copy the
right colour it has to find the same surface point again, so the pointer
becomes a tracker. At test time the same A copies a first-frame label map (a
mask) instead of colours, frame after frame.

What this small version keeps from the paper: grey input; Lab colour, the ab
channels quantized into 16 k-means clusters fitted on training frames (the
centres live in the model as a buffer); tuples of 4 frames, each coloured from
3 references; the inner-product pointer at temperature 1 in training and a
sharper one at test; cross-entropy on the clusters; label propagation from the
first frame.

What it simplifies:
- a ~0.25M-parameter conv net (stride 4, dilated residual blocks) instead of a
  ResNet-18 with a 3D-conv head, so each frame is embedded alone (no temporal
  context in the features); 64x64 training crops instead of 256x256;
- every frame of a tuple is coloured from the other three in turn (the paper
  colours only the last): 4x the supervision for the same feature maps, which
  is what costs on a CPU;
- training data are procedural sprite videos (textured sprites, some alike in
  grey, passing in front of each other under changing light) and a handful of
  short bundled real clips instead of Kinetics;
- for propagation the reference is the first frame (with its given labels)
  plus the 3 most recent frames (with their predicted soft labels); each target
  position keeps its top-10 reference positions; the recent frames are searched
  only within +-4 feature cells (16 px; frames are processed at their own size
  up to 160 px), the first frame everywhere (objects can be anywhere by then);
- at test the features are scaled to unit length: a cosine pointer at
  temperature 0.05 (the paper keeps raw inner products at temperature 0.5).
The baseline runs the identical propagation on raw pixels: each cell's own Lab
values (grey values for colourization), compared by negative squared distance.

Where to read: model.py (Config, the network, the pointer and the loss),
color.py (Lab and the colour clusters), data.py (tuples and `train`),
infer.py (colorize, propagate and the tab's helpers), evaluate.py (held-out
tracking and colour accuracy).
"""
from .color import frames_to_lab_cells, grey_to_L, kmeans, lab_to_rgb, luma, quantize, rgb_to_lab
from .data import TRAIN_SEED_RANGE, fit_colour_clusters, grey_and_colours, sample_batch, train
from .evaluate import (ALIKE_VIDEO, COLOUR_GAP, HARD_VIDEO, HELD_OUT_SEEDS, TARGETS, colour_scores, data_card,
                       evaluate, hard_video, jaccard_per_frame, shot_cuts, tracking_scores)
from .infer import (PALETTE, cluster_palette, colorize, colorize_and_propagate, colorize_video, colour_clusters,
                    colour_pointer, embed, labels_to_rgb, load_pretrained, pointer_map, predict_clusters, propagate, propagate_cells,
                    raw_features, rgb_to_labels)
from .model import (STRIDE, ColorizationNet, Config, build_model, colorization_loss, pointer, tuple_loss)

PAPER = ("Vondrick, Shrivastava, Fathi, Guadarrama & Murphy, "
         "Tracking Emerges by Colorizing Videos, ECCV 2018")
