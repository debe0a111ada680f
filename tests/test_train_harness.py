"""core.train and bench.quality on a toy method that follows the contract."""
from __future__ import annotations

import json
import os
import sys

import pytest
import torch

from bench import quality
from core import common
from core import train as core_train
from tests import toy_method
from tests.conftest import free_port


@pytest.fixture(autouse=True)
def toy_registered(monkeypatch):
    monkeypatch.setitem(sys.modules, "core.toy", toy_method)


def test_run_writes_weights_and_a_full_model_card(tmp_path):
    out = str(tmp_path / "toy.pt")
    card = core_train.run("toy", steps=20, device="cpu", out=out, seed=3)
    assert os.path.isfile(out)
    with open(tmp_path / "toy.json") as f:
        saved = json.load(f)
    assert saved == json.loads(json.dumps(card))
    for key in ("config", "data", "steps", "seconds", "device", "seed", "git_commit", "metrics", "history",
                "parameters", "weights_sha256", "command"):
        assert key in saved, key
    assert saved["steps"] == 20 and saved["seed"] == 3 and saved["config"]["seed"] == 3
    assert saved["metrics"]["acc"] > 0.9
    assert len(saved["history"]["step"]) == 20
    model = toy_method.load_pretrained(path=out)
    assert common.state_digest(model) == saved["weights_sha256"]


def test_checkpoints_hold_only_plain_data(tmp_path):
    out = str(tmp_path / "toy.pt")
    core_train.run("toy", steps=2, device="cpu", out=out, evaluate=False)
    blob = torch.load(out, weights_only=True)          # refuses anything that is not plain data
    assert set(blob) == {"config", "state_dict"}


def test_quick_preset_and_history_thinning(tmp_path):
    card = core_train.run("toy", quick=True, device="cpu", out=str(tmp_path / "toy.pt"))
    assert card["steps"] == toy_method.Config.quick().steps and card["preset"] == "quick"
    h = {"step": list(range(1000)), "loss": [float(i) for i in range(1000)]}
    thin = common.thin_history(h, 50)
    assert len(thin["step"]) == 50 and thin["step"][0] == 0 and thin["step"][-1] == 999


def test_quality_targets_compare_numbers_and_other_metrics():
    rows = quality.check_targets({"a": 0.5, "b": 0.4}, {"a": (">=", 0.6), "b": ("<=", "a"), "c": (">=", 1)})
    assert [r["met"] for r in rows] == [False, True, None]


def test_two_gloo_processes_end_with_identical_weights(tmp_path):
    """torchrun-style data parallel: each rank draws its own data, DDP keeps the weights equal."""
    import torch.multiprocessing as mp
    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    port = free_port()
    procs = [ctx.Process(target=toy_method.ddp_worker, args=(r, 2, port, str(tmp_path), queue)) for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=180)
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    results = sorted(queue.get() for _ in range(2))
    (r0, sha0, wrote0), (r1, sha1, wrote1) = results
    assert sha0 == sha1                     # identical weights on both ranks
    assert wrote0 and not wrote1            # only rank 0 evaluated and wrote the card
    assert os.path.isfile(tmp_path / "toy.pt") and os.path.isfile(tmp_path / "toy.json")
