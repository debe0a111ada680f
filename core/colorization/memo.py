"""What colourizing and tracking a clip remember: per model object and its weights, per exact clip, the
embeddings, Lab cells, colourings and propagation plans, so a repeated click or a new mask only carries labels."""
from __future__ import annotations

import hashlib
import threading
import weakref

import numpy as np
import torch

from core import common

_CACHE: list = []             # [(weakref to owner, key, value)], newest first
_CACHE_LOCK = threading.Lock()
_MAKING: dict = {}            # (owner id, key) -> the lock of the one call making that value now
_CACHE_SIZE = 16              # a clip's embeddings, Lab cells, colourings and propagation plans: two clips' worth
_CACHE_MB = 256               # and never more than this many megabytes of tensors and arrays


def _clip_key(rgb: torch.Tensor) -> tuple:
    return tuple(rgb.shape), hashlib.blake2b(rgb.detach().cpu().numpy().tobytes(), digest_size=16).digest()


def _frames_key(a: np.ndarray) -> tuple:
    """What a clip of uint8 frames is known by: its shape and a digest of its bytes (4x fewer than the floats')."""
    return a.shape, hashlib.blake2b(np.ascontiguousarray(a).tobytes(), digest_size=16).digest()


def _model_state(owner) -> tuple:
    """The in-place edit counters of a model's weights and buffers: training or load_state_dict on the same
    object changes them, so nothing remembered from the old weights is served for the new ones."""
    if not isinstance(owner, torch.nn.Module):
        return ()
    # a model made under inference_mode holds inference tensors, which keep no counter (nor train in place)
    return tuple(-1 if t.is_inference() else t._version for t in (*owner.parameters(), *owner.buffers()))


def _lookup(owner, key):
    with _CACHE_LOCK:
        for n, (ref, k, value) in enumerate(_CACHE):
            if ref() is owner and k == key:
                _CACHE.insert(0, _CACHE.pop(n))            # most recently used first
                return True, value
    return False, None


def _remember(owner, key, value) -> None:
    with _CACHE_LOCK:
        _CACHE[:] = [e for e in _CACHE if not (e[0]() is owner and e[1] == key) and e[0]() is not None]
        _CACHE.insert(0, (weakref.ref(owner), key, value))
        total = 0
        for n, (_, _, v) in enumerate(_CACHE):
            total += common.nbytes(v)
            if n >= _CACHE_SIZE or (n > 0 and total > _CACHE_MB * 2**20):     # the newest always stays
                del _CACHE[n:]
                break


def _remembered(owner, kind, rgb, make, key=None):
    """make(), remembered for the last few (owner object and its weights, kind, exact input): colourizing,
    tracking and their baselines on one clip compute its embeddings, Lab cells, pointer plans once.
    key: what the input is known by (default: the digest of the tensor `rgb`)."""
    full = (kind, _model_state(owner), _clip_key(rgb) if key is None else key)
    found, value = _lookup(owner, full)
    if found:
        return value
    # a click on the clip the tab's opening answer is still computing waits for it instead of computing it
    # again beside it (two copies of the same work on two cores take as long as one after the other)
    with _CACHE_LOCK:
        making = _MAKING.setdefault((id(owner), full), threading.Lock())
    try:
        with making:
            found, value = _lookup(owner, full)
            if not found:
                value = make()
                _remember(owner, full, value)
    finally:
        with _CACHE_LOCK:
            _MAKING.pop((id(owner), full), None)
    return value


def clear_cache() -> None:
    """Forget every remembered embedding, colouring and plan (tests; a caller that measures a cold click)."""
    with _CACHE_LOCK:
        _CACHE.clear()
