"""Choose the compute device once, at start-up, and hand it to everyone.

`auto` prefers CUDA, then Apple's MPS, then the CPU. The app calls `choose()`
once with its `--device` flag; models and tensors then follow that device (or
`x.device` inside a module).
"""
from __future__ import annotations

import torch

CHOICES = ("auto", "cpu", "cuda", "mps")

_chosen: torch.device | None = None


def resolve(preference: str | torch.device | None = "auto") -> torch.device:
    """Map a preference to an available device; ask for an absent one and get a ValueError."""
    if isinstance(preference, torch.device):
        preference = str(preference)
    preference = (preference or "auto").lower()
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = preference.split(":")[0]
    if kind not in CHOICES:
        raise ValueError(f"unknown device {preference!r}: use one of {', '.join(CHOICES)}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but this machine has no CUDA GPU")
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("--device mps was asked for, but this machine has no Apple GPU")
    return torch.device(preference)


def choose(preference: str | None = "auto") -> torch.device:
    """Resolve the preference and remember it for `current()`."""
    global _chosen
    _chosen = resolve(preference)
    return _chosen


def current() -> torch.device:
    """The device chosen at start-up (auto-chosen on first use if nobody chose)."""
    return _chosen if _chosen is not None else choose("auto")


def describe(device: torch.device | None = None) -> str:
    """A line for the overview tab: which device, and which GPU or how many CPU threads."""
    device = device or current()
    if device.type == "cuda":
        return f"CUDA GPU: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU ({torch.get_num_threads()} threads)"
