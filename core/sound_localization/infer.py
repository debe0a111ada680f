"""Sound localization inference: the contract (localize, correspondence) and what the tab draws.

Inputs are plain numpy: frames uint8 RGB of any size, audio mono (or
multi-channel) at any rate from 1 to 192 kHz. Outputs come back at the
frame's size.
"""
from __future__ import annotations

import numpy as np
import torch

from core import common
from core.sound_localization.data import audio_windows, prepare_audio, silence
from core.sound_localization.model import AVOLNet, Config, build_model, log_spectrogram


def input_size(h: int, w: int, size: int) -> tuple[int, int]:
    """The network's input size for an (h, w) frame: shorter side `size`, aspect kept up to 2:1, /4."""
    ar = min(max(w / h, 0.5), 2.0)
    hh, ww = (size, size * ar) if ar >= 1 else (size / ar, size)
    return int(round(hh / 4)) * 4, int(round(ww / 4)) * 4


@torch.inference_mode()
def run(model: AVOLNet, frames: np.ndarray, waves: np.ndarray) -> dict:
    """frames (B, H, W, 3) uint8 (one size), waves (B, N_SAMPLES) -> numpy dict of the model's outputs
    (heat (B, h, w), score (B,), ...) at map size, frame i with sound i."""
    dev = next(model.parameters()).device
    h, w = frames.shape[1:3]
    x = common.frames_to_tensor(frames, input_size(h, w, model.config.size), dev)
    a = torch.from_numpy(np.ascontiguousarray(waves, np.float32)).to(dev)
    out = model.eval()(x, a)
    return {k: v.float().cpu().numpy() for k, v in out.items()}


def localize(model: AVOLNet, frame: np.ndarray, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Where in the frame the sound comes from: (H, W) float32 in [0, 1] at the frame's size.

    frame: (H, W, 3) uint8 RGB of any size; audio: (N,) mono (or (N, C)) at any
    rate; its middle second is used. The map is sigmoid(alpha <v_xy, a> + beta),
    upsampled bilinearly; its maximum is the correspondence score.
    """
    frame = common.check_image(frame, "frame")
    wave = prepare_audio(audio, sample_rate)
    heat = run(model, frame[None], wave[None])["heat"]                       # (1, h, w)
    out = common.resize_map(heat[0], frame.shape[:2])
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def correspondence(model: AVOLNet, frame: np.ndarray, audio: np.ndarray, sample_rate: int) -> float:
    """Probability that the sound belongs to the frame: the max-pooled map, a float in [0, 1]."""
    frame = common.check_image(frame, "frame")
    wave = prepare_audio(audio, sample_rate)
    return float(run(model, frame[None], wave[None])["score"][0])


def localize_clip(model: AVOLNet, frames: np.ndarray, fps: float, audio: np.ndarray | None,
                  sample_rate: int | None, max_points: int = 24) -> dict:
    """Heatmaps and correspondence over a clip, at up to max_points evenly spaced times.

    frames (T, H, W, 3) uint8; audio (N,) at sample_rate, or None for silence.
    Each time t hears the second of audio centred at t. Returns dict(times (P,) s,
    index (P,) frame indices, heat (P, H, W) float32 in [0, 1], score (P,),
    heat_all (T, H, W): the maps linearly interpolated to every frame).
    """
    frames = common.check_frames(frames)
    if not fps or fps <= 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    T = len(frames)
    index = np.unique(np.linspace(0, T - 1, min(T, max_points)).round().astype(int))
    times = index / float(fps)
    if audio is None:
        waves = np.stack([silence(np.random.default_rng(int(i))) for i in index])
    else:
        waves = audio_windows(audio, sample_rate, times)
    out = run(model, frames[index], waves)
    heat = np.clip(common.resize_map(out["heat"], frames.shape[1:3]), 0, 1).astype(np.float32)   # (P, H, W)
    pos = np.interp(np.arange(T), index, np.arange(len(index)))    # each frame's place between the points
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(index) - 1)
    u = (pos - lo)[:, None, None].astype(np.float32)
    heat_all = heat[lo] * (1 - u) + heat[hi] * u
    return dict(times=times, index=index, heat=heat, score=out["score"].astype(np.float64), heat_all=heat_all)


def spectrogram(audio: np.ndarray, sample_rate: int, seconds: float | None = None) -> np.ndarray:
    """The network's log-spectrogram of a waveform, in dB: (N_BINS, frames) float32.

    seconds=None keeps the whole sound, else its middle `seconds`; either way the
    length is held to 0.05-10 s (padded with silence or cut to the middle).
    """
    n = len(np.asarray(audio)) / float(sample_rate) if seconds is None else seconds
    wave = prepare_audio(audio, sample_rate, seconds=min(max(n, 0.05), 10.0))
    with torch.inference_mode():
        return log_spectrogram(torch.from_numpy(wave)[None])[0].numpy().astype(np.float32)


def load_pretrained(device="cpu") -> AVOLNet:
    """The shipped model (assets/models/sound_localization.pt) in eval mode."""
    return load_weights(common.weights_path("sound_localization"), device)


def load_weights(path: str, device="cpu") -> AVOLNet:
    """A saved checkpoint in eval mode; one saved before level_norm existed hears levels as it was trained."""
    values, state = common.load_checkpoint(path, device)
    values.setdefault("level_norm", False)
    model = build_model(common.config_from_dict(Config, values))
    model.load_state_dict(state)
    return model.to(device).eval()


def random_init(config: Config | None = None, device="cpu", seed: int = 1234) -> AVOLNet:
    """The baseline: the same network with its initial (untrained) weights, seeded; torch's global RNG is left
    as it was."""
    torch_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    model = build_model(config or Config())
    torch.random.set_rng_state(torch_state)
    return model.to(device).eval()
