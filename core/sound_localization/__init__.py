"""Sound localization: audio-visual correspondence, and the objects that make the sound.

Arandjelović & Zisserman, "Look, Listen and Learn" (L3-Net, ICCV 2017) and
"Objects that Sound" (AVE-Net / AVOL-Net, ECCV 2018).

The pretext task in one sentence: *does this sound belong to this frame?*

Video comes with its sound for free, and the two agree: a drum is seen where a
drum is heard. Positives are a frame and the second of audio around it;
negatives pair the frame with audio from another scene, half and half, under
binary cross-entropy. No labels are used, yet to answer, the network has to
recognise what sounds (from the spectrogram) and what could make it (in the
picture).

AVOL-Net makes the answer point. The vision trunk keeps a spatial map of
D-dimensional embeddings v_xy, the audio trunk gives one embedding a, and the
network compares a with every location:

    s_xy = alpha * <v_xy, a> + beta                       (a learned calibration, alpha > 0)
    p    = max_xy sigmoid(s_xy)                           (global max-pool: multiple-instance learning)
    L    = BCE(p, y),  y = 1 for the frame's own audio, 0 for another scene's

The max-pool is multiple-instance learning: the frame is a bag of locations, and
the bag is positive when *some* location matches the sound, so only the best
match gets the gradient. The map sigmoid(s_xy) is the localization, learned
without ever seeing where the sound came from.

What this small version simplifies:
- Audio is 1 s at 16 kHz (core.media.SAMPLE_RATE; the paper used 48 kHz). The
  log-power spectrogram uses a 512-sample (32 ms) periodic Hann window, hop 256
  (16 ms) and a 512-point FFT: 257 frequency bins of 31.25 Hz by 63 frames, in
  dB relative to a full-scale sine (the paper: 480-sample window, 257 x 200).
- Frames are 64 px (the paper: 224) and the map is 16 x 16 (the paper: 14 x 14);
  the trunks are small conv nets of ~0.28M parameters, not VGG.
- Embeddings are L2-normalised, so <v_xy, a> is a cosine and the calibration
  alpha = exp(log_alpha) stays positive: a monotone calibration keeps the peak
  of the evidence map where the max-pool found it.
- The data are synthetic audio-visual scenes (core.synthetic.av_scene): one to
  three objects of six classes, each class with its own look and its own real
  CC0 recordings; one object sounds. Half the scenes sit on crops of real
  photographs. Negatives take the audio of another scene whose sounding class
  is not in the frame, because a visible-but-silent drum makes a drum sound a
  true match as far as any picture can tell (such pairs are left out).
- Every frame of a batch meets every sound of the batch: one positive per
  frame and all its valid negatives, and the loss weighs positives and
  negatives 50/50, which is the paper's objective (half positives, half
  negatives) estimated with many negatives per step instead of one, for the
  same cost in the trunks. A few near-silent sounds join each batch as
  negatives, so that "nothing sounds" also means "no match"; the other
  negatives are real sounds at the same loudness as the positives, so loudness
  alone tells nothing.

The files: model.py (Config, AVOL-Net, the loss: read it first), data.py (audio
input, scenes, the all-pairs batch, train), infer.py (the contract), evaluate.py
(held-out metrics against baselines, TARGETS, the data card).
"""
from core.sound_localization.data import (SceneSampler, audio_windows, pair_batch, pair_labels, prepare_audio,
                                          scene_clip, silence, train, train_photo_files)
from core.sound_localization.evaluate import (EVAL_SEED, TARGETS, data_card, evaluate, localization_metrics,
                                              quick_check)
from core.sound_localization.infer import (correspondence, load_pretrained, load_weights, localize, localize_clip,
                                           random_init, spectrogram)
from core.sound_localization.model import (DB_FLOOR, HOP, N_BINS, N_FFT, N_FRAMES, N_SAMPLES, SAMPLE_RATE, SECONDS,
                                           AudioNet, AVOLNet, Config, VisionNet, avc_loss, balanced_accuracy,
                                           build_model, correspondence_loss, log_spectrogram)

PAPER = ("Arandjelović & Zisserman, Look, Listen and Learn, ICCV 2017; "
         "Arandjelović & Zisserman, Objects that Sound, ECCV 2018")

__all__ = [
    "PAPER", "Config", "build_model", "AVOLNet", "VisionNet", "AudioNet", "correspondence_loss", "avc_loss",
    "balanced_accuracy", "log_spectrogram", "SAMPLE_RATE", "SECONDS", "N_SAMPLES", "N_FFT", "HOP", "N_BINS",
    "N_FRAMES", "DB_FLOOR",
    "prepare_audio", "audio_windows", "silence", "SceneSampler", "pair_labels", "pair_batch", "scene_clip",
    "train_photo_files", "train",
    "localize", "correspondence", "localize_clip", "spectrogram", "load_pretrained", "load_weights", "random_init",
    "evaluate", "quick_check", "localization_metrics", "TARGETS", "EVAL_SEED", "data_card",
]
