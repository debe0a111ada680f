"""A toy method that follows the core module contract: it exercises core.train and bench.quality.

Task: classify which of two Gaussian blobs a point came from; a 2-layer MLP.
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from core import common

PAPER = "A toy, for the harness tests"
TARGETS = {"acc": (">=", 0.9)}


@dataclasses.dataclass
class Config:
    steps: int = 30
    seed: int = 0
    hidden: int = common.arch(16)
    batch: int = 32
    lr: float = 0.05
    warmup: int = 0
    weight_decay: float = 0.0

    @classmethod
    def quick(cls):
        return cls(steps=10)


def build_model(config):
    model = nn.Sequential(nn.Linear(2, config.hidden), nn.ReLU(), nn.Linear(config.hidden, 2))
    model.config = config
    return model


def sample(rng, n):
    y = rng.integers(0, 2, n)
    x = rng.normal(0, 0.5, (n, 2)) + np.where(y[:, None] == 1, 1.5, -1.5)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)


def blob_loss(model, x, y):
    logits = model(x)
    return F.cross_entropy(logits, y), {"acc": (logits.argmax(1) == y).float().mean()}


def train(config, steps, device, progress=None, model=None):
    from core import train as loop
    model, config = loop.start(build_model, config, model, device)
    rng = np.random.default_rng(common.data_seed(config.seed))

    def batches(step):
        x, y = sample(rng, config.batch)
        return x.to(device), y.to(device)

    history = loop.fit(model, config, steps, batches, blob_loss, progress, log_every=1)
    return model, history


def evaluate(model, device):
    x, y = sample(np.random.default_rng(123), 500)
    with torch.inference_mode():
        acc = (model(x.to(device)).argmax(1).cpu() == y).float().mean().item()
    return {"acc": acc, "acc_chance": 0.5}


def data_card(config):
    return {"train": "two Gaussian blobs", "held_out": "seed 123"}


def load_pretrained(device="cpu", path=None):
    return common.load_model("toy", Config, build_model, device, path=path)


def ddp_worker(rank, world, port, out_dir, queue):
    """One torchrun-like rank: set the env torchrun would, train, report the weights' digest."""
    import sys
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    sys.modules["core.toy"] = sys.modules[__name__]
    from core import train as core_train
    res = core_train.run("toy", steps=5, device="cpu", out=os.path.join(out_dir, "toy.pt"))
    queue.put((rank, res["weights_sha256"], "metrics" in res))
    import torch.distributed as dist
    dist.destroy_process_group()
