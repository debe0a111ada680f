"""What every method package shares: seeding, checkpoints, model cards, schedules, frame tensors.

A method package (core/jigsaw/ and its siblings) offers the contract in
DESIGN.md plus three things `core.train` and `bench.quality` rely on:

- `Config`: a dataclass whose defaults are the shipped recipe, with a
  `steps` field and a `quick()` classmethod (the 10-minute CPU preset);
- `train(config, steps, device, progress=None, model=None, ...)` ->
  (model, history): its batches and its loss through `core.train.fit`, where
  `history` is a dict of lists (`step`, `loss`, `acc`, `lr`, ...) and
  `progress(step, total, record)` is called as it goes;
- `evaluate(model, device)` -> a flat dict of metrics on held-out data
  (the model and its baselines), which lands in the model card.

Weights are saved as {"config": dict, "state_dict": tensors}: plain data, so
`torch.load(..., weights_only=True)` reads them and nothing is unpickled.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import subprocess
import time
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS_DIR = os.path.join(ROOT, "assets", "models")

Progress = Callable[[int, int, dict], None]


# --------------------------------------------------------------------- reproducibility

def nbytes(value) -> int:
    """Bytes held by the tensors and arrays in `value` (nested tuples, lists and dicts; anything else 0)."""
    if isinstance(value, torch.Tensor):
        return value.element_size() * value.nelement()
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, dict):
        return sum(nbytes(v) for v in value.values())
    if isinstance(value, (tuple, list)):
        return sum(nbytes(v) for v in value)
    return 0


def set_seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5)
        sha = out.stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return (sha + ("+dirty" if dirty else "")) if sha else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


# --------------------------------------------------------------------- checkpoints and cards

def weights_path(method: str) -> str:
    return os.path.join(MODELS_DIR, f"{method}.pt")


def card_path(method: str) -> str:
    return os.path.join(MODELS_DIR, f"{method}.json")


def save_checkpoint(model: torch.nn.Module, config, path: str) -> None:
    """Save {"config": dict, "state_dict": CPU tensors} (half-size float16 where lossless enough is not tried)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    cfg = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    torch.save({"config": cfg, "state_dict": state}, path)


def load_checkpoint(path: str, device: torch.device | str = "cpu") -> tuple[dict, dict]:
    """Read a checkpoint written by save_checkpoint; never unpickles code (weights_only=True)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no weights at {path}: train them with `python -m core.train "
                                f"{os.path.splitext(os.path.basename(path))[0]}`")
    blob = torch.load(path, map_location=device, weights_only=True)
    return blob["config"], blob["state_dict"]


def arch(default, **kw):
    """A Config field that fixes the network's shape: a model continued elsewhere keeps its own value."""
    return dataclasses.field(default=default, metadata={"arch": True}, **kw)


def config_from_dict(config_cls, values: dict):
    """Build a Config dataclass from a saved dict, ignoring keys the class no longer has."""
    names = {f.name for f in dataclasses.fields(config_cls)}
    return config_cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in values.items() if k in names})


def load_model(method: str, config_cls, build: Callable, device: torch.device | str = "cpu",
               path: str | None = None) -> torch.nn.Module:
    """The shipped model of `method`: config from the checkpoint, `build(config)`, weights, eval mode."""
    values, state = load_checkpoint(path or weights_path(method), device)
    model = build(config_from_dict(config_cls, values))
    model.load_state_dict(state)
    return model.to(device).eval()


def read_card(method: str) -> dict | None:
    """The model card of `method` as a dict, or None when no model has been trained."""
    path = card_path(method)
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def write_card(path: str, card: dict) -> None:
    with open(path, "w") as f:
        json.dump(card, f, indent=2, sort_keys=False, default=_json_default)
        f.write("\n")


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, torch.device):
        return str(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def thin_history(history: dict, max_points: int = 200) -> dict:
    """Keep at most max_points evenly spaced entries of each list (for the model card)."""
    n = len(history.get("step", []))
    if n <= max_points:
        return history
    idx = np.unique(np.linspace(0, n - 1, max_points).round().astype(int))
    return {k: [v[i] for i in idx] if isinstance(v, list) and len(v) == n else v for k, v in history.items()}


# --------------------------------------------------------------------- training helpers

def new_history(*keys: str) -> dict:
    return {"step": [], **{k: [] for k in keys}}


def log(history: dict, step: int, record: dict) -> None:
    history["step"].append(int(step))
    for k, v in record.items():
        history.setdefault(k, []).append(float(v))


def cosine_lr(step: int, total: int, base: float, warmup: int = 0, floor: float = 0.02) -> float:
    """Linear warm-up to `base`, then cosine decay to floor * base at `total`."""
    if warmup and step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def state_digest(model: torch.nn.Module) -> str:
    """sha256 of the model's state (names and exact tensor bytes): equal digests, equal weights."""
    import hashlib
    h = hashlib.sha256()
    for name, tensor in sorted(unwrap(model).state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().to("cpu").contiguous().numpy().tobytes())
    return h.hexdigest()


def count_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class Ticker:
    """Calls progress(step, total, record) at most every `every_s` seconds and at the end."""

    def __init__(self, progress: Progress | None, total: int, every_s: float = 0.5):
        self.progress, self.total, self.every_s = progress, total, every_s
        self.last = 0.0

    def __call__(self, step: int, record: dict) -> None:
        if self.progress is None:
            return
        now = time.monotonic()
        if now - self.last >= self.every_s or step >= self.total:
            self.last = now
            self.progress(step, self.total, record)


# --------------------------------------------------------------------- several processes (torchrun)

def rank() -> int:
    """This process's rank under torch.distributed (0 when not distributed)."""
    import torch.distributed as dist
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    import torch.distributed as dist
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def data_seed(seed: int) -> int:
    """The seed for this rank's data: each rank draws its own shard of the generated data."""
    return seed + 1_000_003 * rank()


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return getattr(model, "module", model)


def broadcast_buffers(model: torch.nn.Module) -> None:
    """Give every rank rank 0's buffers (e.g. BatchNorm running statistics).

    DDP averages gradients, so the parameters agree on every rank, and it sends
    rank 0's buffers at the start of each forward; the last step's statistics,
    though, are each rank's own. Rank 0's model is the one written.
    """
    if world_size() == 1:
        return
    import torch.distributed as dist
    for b in model.buffers():
        dist.broadcast(b.data, src=0)


class _LossOf(torch.nn.Module):
    """Holds a model so that DDP can run any loss function of it as this module's forward."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, fn: Callable, *args, **kwargs):
        return fn(self.model, *args, **kwargs)


def loss_runner(model: torch.nn.Module) -> Callable:
    """`run(fn, *args)` computes `fn(model, *args)`: directly when alone, through DistributedDataParallel
    under torchrun.

    The training steps call their models' parts (an encoder here, a head there), not one forward, and
    DDP only averages gradients for work that went through its forward; routing the loss function
    itself through the wrapper's forward keeps each method's step as it reads. Build it after the
    model is on its device and before the optimizer: DDP broadcasts rank 0's weights and buffers so
    every rank starts equal, and averages the gradients in backward so every rank stays equal.
    """
    if world_size() == 1:
        return lambda fn, *args, **kwargs: fn(model, *args, **kwargs)
    from torch.nn.parallel import DistributedDataParallel
    dev = next(model.parameters()).device
    return DistributedDataParallel(_LossOf(model), device_ids=[dev.index] if dev.type == "cuda" else None)


# --------------------------------------------------------------------- frames as tensors

def frames_to_tensor(frames: np.ndarray, size: int | tuple[int, int] | None = None,
                     device: torch.device | str = "cpu") -> torch.Tensor:
    """(T, H, W, 3) or (H, W, 3) uint8 -> (T, 3, h, w) float in [0, 1] on `device`, resized if asked."""
    a = np.asarray(frames)
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.shape[-1] != 3:
        raise ValueError(f"expected frames of shape (T, H, W, 3), got {a.shape}")
    x = torch.from_numpy(np.ascontiguousarray(a)).to(device).permute(0, 3, 1, 2).float().div_(255.0)
    if size is not None:
        hw = (size, size) if isinstance(size, int) else tuple(size)
        if tuple(x.shape[-2:]) != hw:
            x = F.interpolate(x, size=hw, mode="bilinear", align_corners=False, antialias=True)
    return x


def tensor_to_frames(x: torch.Tensor, size: tuple[int, int] | None = None) -> np.ndarray:
    """(T, 3, h, w) float in [0, 1] -> (T, H, W, 3) uint8, resized to size=(H, W) if given."""
    if size is not None and tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)
    return (x.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def resize_map(m: np.ndarray | torch.Tensor, size: tuple[int, int], mode: str = "bilinear") -> np.ndarray:
    """A (h, w) or (T, h, w) map resized to (H, W): bilinear for scores, nearest for labels."""
    t = torch.as_tensor(np.asarray(m) if not isinstance(m, torch.Tensor) else m)
    squeeze = t.ndim == 2
    t = t[None] if squeeze else t
    dtype = t.dtype
    t = t[:, None].float()
    if tuple(t.shape[-2:]) != tuple(size):
        kw = {} if mode == "nearest" else {"align_corners": False}
        t = F.interpolate(t, size=tuple(size), mode=mode, **kw)
    t = t[:, 0]
    out = t.round().to(dtype) if not dtype.is_floating_point else t
    out = out.cpu().numpy()
    return out[0] if squeeze else out


def grey(frames: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 RGB -> (...) float32 luma in [0, 1] (ITU-R BT.601 weights)."""
    return (np.asarray(frames, np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)) / 255.0


def check_frames(frames, name: str = "frames", min_frames: int = 1) -> np.ndarray:
    """Validate a (T, H, W, 3) uint8-like array for a contract function; ValueError with the reason."""
    a = np.asarray(frames)
    if a.ndim != 4 or a.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (T, H, W, 3), got {a.shape}")
    if a.shape[0] < min_frames:
        raise ValueError(f"{name} needs at least {min_frames} frames, got {a.shape[0]}")
    if min(a.shape[1:3]) < 8:
        raise ValueError(f"{name} are {a.shape[2]}x{a.shape[1]} pixels; at least 8x8 are needed")
    if a.dtype != np.uint8:
        if np.issubdtype(a.dtype, np.floating) and np.isfinite(a).all() and a.min() >= 0 and a.max() <= 1:
            a = a * 255.0
        a = np.clip(np.nan_to_num(a.astype(np.float64)), 0, 255).round().astype(np.uint8)
    return a


def check_image(image, name: str = "image") -> np.ndarray:
    """Validate an (H, W, 3) image for a contract function; returns uint8."""
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (H, W, 3), got {a.shape}")
    return check_frames(a[None], name)[0]
