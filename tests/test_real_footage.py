"""Held-out real-footage figures: measured on whatever REAL_CLIPS were fetched, absent when none were."""
from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest
import torch

from core import colorization, sequence_sort, sources, tcc, videomae

# the packages re-export their evaluate() function under the module's name: reach the modules themselves
seqsort_eval, videomae_eval, tcc_eval, colorization_eval = (
    importlib.import_module(f"core.{m}.evaluate") for m in ("sequence_sort", "videomae", "tcc", "colorization"))
REAL = sys.modules["core.real_clips"]


def _clip(frames=24, seed=0):
    """A textured square sliding right over noise: motion in every gap, colour in every frame."""
    rng = np.random.default_rng(seed)
    v = np.repeat(rng.integers(0, 120, (1, 72, 96, 3), dtype=np.uint8), frames, axis=0)
    for t in range(frames):
        v[t, 20:44, 4 + 3 * t:28 + 3 * t] = (220, 60, 40)
    return v


def _scores(method, model):
    if method == "sequence_sort":
        return seqsort_eval.real_footage_scores(model, model)
    if method == "videomae":
        return videomae_eval.real_footage_scores(model)
    if method == "tcc":
        return tcc_eval.real_footage_scores({"": lambda v: tcc.embed(model, v)})
    return colorization_eval.real_footage_scores(model)


MODELS = {
    "sequence_sort": lambda: sequence_sort.build_model(sequence_sort.Config()),
    "videomae": lambda: videomae.build_model(videomae.Config()),
    "tcc": lambda: tcc.build_model(tcc.Config(width=8, dim=16, size=32)),
    "colorization": lambda: colorization.build_model(colorization.Config(width=16, dim=16)),
}


@pytest.mark.parametrize("method", list(MODELS))
def test_no_fetched_clips_no_real_figures(method, monkeypatch):
    monkeypatch.setattr(REAL, "real_clips", lambda split="train": {})
    monkeypatch.setattr(sources, "real_clips", lambda split="train": {})
    torch.manual_seed(0)
    assert _scores(method, MODELS[method]().eval()) == {}


@pytest.mark.parametrize("method", list(MODELS))
def test_fetched_clips_are_measured(method, monkeypatch):
    clips = {"cyclist_1": _clip(seed=1), "cyclist_2": _clip(seed=2)}
    monkeypatch.setattr(REAL, "real_clips", lambda split="train": clips)
    monkeypatch.setattr(sources, "real_clips", lambda split="train": clips)
    torch.manual_seed(0)
    got = _scores(method, MODELS[method]().eval())
    assert got and all(np.isfinite(v) for v in got.values())
    if method == "sequence_sort":
        assert 0 <= got["heldout_real_top1"] <= 1 and got["heldout_real_clips"] == 2
    if method == "videomae":
        assert got["heldout_real_clips"] == 2 and got["heldout_real_psnr_tube_r90_mean"] > 5
    if method == "tcc":
        assert -1 <= got["heldout_real_tau"] <= 1
    if method == "colorization":
        assert 0 < got["heldout_real_colour_acc_copy_same_place"] <= 1
