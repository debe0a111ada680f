"""The tab skeleton and the shared drawing: loading once, the model choice, handlers, strips, overlays.

And why demos.common still patches gradio's image cache: gradio's own function is shown
truncating a cached file that another request is reading.
"""
from __future__ import annotations

import inspect
import os
import pathlib
import threading
import time

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from demos import common, figures
from demos.tab import MINE, SHIPPED, Tab


# --------------------------------------------------------------------- gradio's image cache

def _spy_on_writes(monkeypatch, path: str, reader) -> list[int]:
    """Whenever `path` is opened for writing, what a reader that opened it earlier can read at that moment."""
    seen = []
    real_open = pathlib.Path.open

    def spying_open(self, mode="r", *args, **kwargs):
        f = real_open(self, mode, *args, **kwargs)
        if "w" in mode and os.path.abspath(self) == path:
            reader.seek(0)
            seen.append(len(reader.read()))
        return f

    monkeypatch.setattr(pathlib.Path, "open", spying_open)
    return seen


def test_gradios_own_image_cache_truncates_a_file_being_served(tmp_path, monkeypatch):
    """Why the patch is still needed: when this fails, gradio writes atomically and the patch can go."""
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    path = common._gradio_save_pil_to_cache(img, str(tmp_path), format="png")     # the first visitor's picture
    size = os.path.getsize(path)                                                   # a server's Content-Length
    with open(path, "rb") as served:
        seen = _spy_on_writes(monkeypatch, path, served)
        common._gradio_save_pil_to_cache(img, str(tmp_path), format="png")        # a second visitor, same picture
    assert seen == [0] and size > 0, "gradio no longer truncates the cached file in place"
    assert os.path.getsize(path) == size


def test_the_patched_image_cache_never_truncates_it(tmp_path, monkeypatch):
    from gradio import processing_utils as pu
    assert pu.save_pil_to_cache is common._save_pil_to_cache_atomic               # installed at import
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    path = pu.save_pil_to_cache(img, str(tmp_path), format="png")
    size = os.path.getsize(path)
    with open(path, "rb") as served:
        seen = _spy_on_writes(monkeypatch, path, served)
        assert pu.save_pil_to_cache(img, str(tmp_path), format="png") == path
        served.seek(0)
        assert seen == [] and len(served.read()) == size
    assert [p.name for p in pathlib.Path(path).parent.iterdir()] == [os.path.basename(path)]   # no staging left


# --------------------------------------------------------------------- the skeleton

class _Model:
    config = "tiny"


def test_the_shipped_model_loads_once_even_for_visitors_arriving_together():
    calls = []

    def load(device):
        calls.append(device)
        time.sleep(0.05)
        return _Model()

    tab = Tab("jigsaw", "cpu", load=load)
    got = []
    threads = [threading.Thread(target=lambda: got.append(tab.shipped())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == ["cpu"] and len({id(m) for m in got}) == 1
    baseline = tab.once("random init", lambda: (tab.shipped(), object()))          # may ask for the model inside
    assert tab.once("random init", lambda: None) is baseline


def test_a_missing_model_is_one_clear_message():
    def load(device):
        raise FileNotFoundError("no weights")

    tab = Tab("videomae", "cpu", load=load)
    with pytest.raises(gr.Error, match=r"not been trained yet: run `python -m core.train videomae`"):
        tab.model(None)
    assert common.card_markdown("no_such_method") == f"_{common.missing_model('no_such_method')}_"   # same words


def test_the_model_choice():
    shipped, own = _Model(), _Model()
    tab = Tab("sound_localization", "cpu", load=lambda device: shipped)
    mine = Tab.yours(own, "5 live steps")
    assert tab.model(None) == (shipped, "the shipped model")
    assert tab.model(mine) == (own, "your model (5 live steps)")
    assert tab.model(mine, SHIPPED)[0] is shipped and tab.model(mine, MINE)[0] is own
    with pytest.raises(gr.Error, match="not trained a model"):
        tab.model(None, MINE)
    with pytest.raises(gr.Error, match="Unknown model choice"):
        tab.model(mine, "a model from the hub")
    assert tab.forget(mine) == (None, "Back to the shipped model.")


def test_a_handler_is_bound_to_its_tab_and_keeps_what_gradio_reads():
    from gradio import utils

    from demos import colorization

    tab = Tab("colorization", "cpu", load=lambda device: _Model())
    point = tab.handler(colorization.on_point)
    assert list(inspect.signature(point).parameters) == ["state", "t", "mine", "evt"]
    assert utils.get_type_hints(point)["evt"] is gr.SelectData                    # gradio passes the click
    train = tab.handler(colorization.on_train)
    assert isinstance(inspect.signature(train).parameters["progress"].default, gr.Progress)

    def shout(tab, text):
        if not text:
            raise ValueError("Say something.")
        return f"{tab.method}: {text}"

    assert tab.handler(shout)("hi") == "colorization: hi"
    with pytest.raises(gr.Error, match="Say something"):
        tab.handler(shout)("")


# --------------------------------------------------------------------- drawing

def test_caption_inside_keeps_the_size_and_below_adds_a_bar():
    frame = np.full((40, 80, 3), 128, np.uint8)
    inside = figures.caption(frame, "frame 3")
    assert inside.shape == frame.shape and (inside[-5, 2] == 0).all() and (inside[0] == 128).all()
    below = figures.caption(frame, "frame 3", below=True)
    assert below.shape[1:] == (80, 3) and below.shape[0] > 40 + 14 and (below[:40] == frame).all()
    # letters readable on a projector: 14 px at least, a tenth of a tall picture
    assert figures.caption_size(40) == 14 and figures.caption_size(300) == 30


def test_training_sentence_says_what_changed_or_that_nothing_did():
    moved = figures.change_sentence({"step": list(range(1, 11)), "loss": [2.0] * 9 + [1.5], "acc": [0.1] * 10})
    assert "loss 2 -> 1.5" in moved and "acc stayed at 10%" in moved and "has 10 points" in moved
    still = figures.change_sentence({"step": [1, 2], "loss": [0.17, 0.17]})
    assert "nothing moved" in still and "has 2 points" in still


def test_bars_colour_the_answer_by_right_or_wrong_and_the_truth_blue():
    from matplotlib.colors import to_hex
    def colours(**kw):
        fig = figures.bar_figure.uncached(["a", "b", "c"], [0.5, 0.3, 0.2], **kw)   # the figure, before rendering
        return [to_hex(p.get_facecolor()) for p in fig.axes[0].patches]
    assert colours(answer=0, truth=0)[0] == figures.RIGHT
    wrong = colours(answer=0, truth=2)
    assert wrong[0] == figures.WRONG and wrong[2] == figures.TRUTH and wrong[1] == figures.OTHER
    assert colours(answer=1, truth=2, near=True)[1] == figures.NEAR


def test_strip_fits_frames_of_any_size_to_one_height():
    a, b = np.zeros((30, 60, 3), np.uint8), np.zeros((60, 60, 3), np.uint8)
    s = figures.strip([a, b], ["a", "b"], height=30)
    assert s.shape == (30, 60 + figures.GAP + 30, 3)
    assert (s[:, 60:60 + figures.GAP] == 255).all()


def test_side_by_side_lays_clips_out_frame_by_frame():
    clips = [np.zeros((5, 8, 10, 3), np.uint8), np.ones((5, 8, 4, 3), np.uint8)]
    out = figures.side_by_side(clips, gap=2)
    assert out.shape == (5, 8, 16, 3) and (out[:, :, 10:12] == 255).all() and (out[:, :, 12:] == 1).all()


def test_heat_overlay_is_matplotlibs_inferno_where_the_weight_is_one():
    from matplotlib import colormaps

    image = np.full((2, 3, 3), 200, np.uint8)
    heat = np.array([[0.0, 0.3, 1.0], [0.5, 0.999, 0.01]])
    full = figures.heat_overlay(image, heat, weight=np.ones_like(heat))
    expected = (colormaps["inferno"](heat)[..., :3] * 255).astype(np.uint8)
    assert np.abs(full.astype(int) - expected).max() <= 1
    none = figures.heat_overlay(image, heat, weight=np.zeros_like(heat), dim=0.5)
    assert (none == 100).all()


def test_adapted_input_notes_are_said_once():
    from demos import common
    assert common.notes_text(["video 1: trimmed.", "video 1: trimmed", "video 2: downscaled"]) == \
        "Adapted input: video 1: trimmed; video 2: downscaled."
    assert common.notes_text([]) == ""
