"""The contract functions (predict, verify, load_pretrained) and the helpers the tab reads answers with."""
from __future__ import annotations

import numpy as np
import torch

from core import common
from core.sequence_sort.data import to_grey3
from core.sequence_sort.model import ORDERS, Config, OrderNet, build_model

METHOD = "sequence_sort"


def sorted_positions(k: int, flipped: bool = False) -> list[int]:
    """Positions of the shown frames in time order, if the frames shown are original[ORDERS[k]]
    (flipped: that sequence reversed, the other member of class k)."""
    order = ORDERS[k][::-1] if flipped else ORDERS[k]
    return [int(i) for i in np.argsort(order)]


def order_name(perm) -> str:
    """An order as the tab writes it: (2, 0, 3, 1) -> "3142"."""
    return "".join(str(int(i) + 1) for i in perm)


def prepare(frames: np.ndarray, size: int) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (T, 3, size, size) grey-as-RGB float: the whole frame, squashed to a square."""
    return to_grey3(common.frames_to_tensor(frames, size))


@torch.inference_mode()
def frame_features(model: OrderNet, frames: np.ndarray, device=None) -> torch.Tensor:
    """Trunk maps of each frame: (T, H, W, 3) uint8 -> (T, C, h, w) on `device` (default: the model's)."""
    dev = device or next(model.parameters()).device
    x = prepare(frames, model.config.size).to(dev)
    model.eval()
    return torch.cat([model.trunk(x[i:i + 256]) for i in range(0, len(x), 256)])


@torch.inference_mode()
def predict(model: OrderNet, frames) -> np.ndarray:
    """Probabilities of the 12 orders for 4 frames in the order shown: (4, H, W, 3) -> (12,).

    Class k means the frames shown are original[ORDERS[k]] or its reverse.
    """
    f = common.check_frames(frames, "frames")
    if len(f) != 4:
        raise ValueError(f"predict sorts exactly 4 frames (4, H, W, 3); got {len(f)}")
    feats = frame_features(model, f)[None]
    return torch.softmax(model.order_logits(feats)[0].float(), 0).cpu().numpy()


@torch.inference_mode()
def verify(model: OrderNet, frames) -> float:
    """Shuffle & Learn: the probability that 3 frames (3, H, W, 3), as shown, are in temporal order."""
    f = common.check_frames(frames, "frames")
    if len(f) != 3:
        raise ValueError(f"verify takes exactly 3 frames (3, H, W, 3); got {len(f)}")
    feats = frame_features(model, f)[None]
    logits = model.verify_logits(feats, torch.tensor([[0, 1, 2]]))
    return float(torch.softmax(logits[0].float(), 0)[1])


def load_pretrained(device="cpu") -> OrderNet:
    """The shipped model (assets/models/sequence_sort.pt) on `device`, in eval mode."""
    return common.load_model(METHOD, Config, build_model, device)

