"""The skeleton every method tab stands on: its models, the visitor's own model, its header, its handlers.

A tab module keeps its layout, its words and its drawing. Its handlers are module
functions whose first argument is the tab, `def solve(tab, image, k, mine)`, wired with
`button.click(tab.handler(solve), inputs, outputs, api_name=...)`; a test calls
`solve(Tab(...), ...)` directly. `mine` is the visitor's own model: None, or the dict that
`Tab.yours` makes after a live training run, kept in that visitor's gr.State only.
"""
from __future__ import annotations

import functools
import inspect
import os
import threading
from typing import Callable

import gradio as gr

from core import common as core_common
from demos import common

# $$...$$ on a line of its own, $...$ inline: the delimiters of every formula in the tabs
LATEX = [{"left": "$$", "right": "$$", "display": True}, {"left": "$", "right": "$", "display": False}]

SHIPPED, MINE = "shipped model", "my trained model"        # the choice of a tab that lets the visitor pick
FORGOTTEN = "Back to the shipped model."


class Tab:
    """One method tab's shared parts: the shipped model, loaded once on first use, and the choice of model.

    method: the core module's name ("jigsaw", ...); device: where the shipped model runs;
    load: `load(device) -> model` (the core module's load_pretrained; tests pass a small stand-in).
    """

    def __init__(self, method: str, device="cpu", load: Callable | None = None):
        self.method, self.device = method, device
        self._load = load
        self._made: dict = {}
        self._lock = threading.RLock()                  # re-entrant: a `make` may itself ask for the shipped model
        self._results = common.Memo(max_items=16, max_mb=150)
        self.available = load is not None or os.path.isfile(core_common.weights_path(method))

    # ----------------------------------------------------------------- models

    def once(self, name: str, make: Callable):
        """make(), run on first use only (two first visitors at once build it once), then shared; never mutated."""
        with self._lock:
            if name not in self._made:
                self._made[name] = make()
            return self._made[name]

    def cached(self, name: str, key, make: Callable):
        """make(), once per (name, key) among this tab's last results, shared by every visitor.

        For what depends on the input and the settings alone, never on whose model answers: the
        baselines of a bundled example are computed on its first click only. `key` must name all
        of it: the input's content (common.file_key) and every setting that changes the result.
        """
        return self._results.get((name, key), make)

    def shipped(self):
        """The shipped model; a gr.Error saying how to train it when there is none."""
        def load():
            try:
                return (self._load or _core_loader(self.method))(self.device)
            except FileNotFoundError:
                raise gr.Error(common.missing_model(self.method)) from None
        return self.once("shipped", load)

    def model(self, mine, which: str | None = None):
        """(model, who answers): the visitor's own model when they have one, else the shipped one.

        which: SHIPPED or MINE where the tab lets the visitor choose; asking for MINE with none is an error.
        """
        if which not in (None, SHIPPED, MINE):
            raise gr.Error(f"Unknown model choice {which!r}: choose {SHIPPED!r} or {MINE!r}.")
        if which == MINE and mine is None:
            raise gr.Error("You have not trained a model yet: use \"Train it live\" below, "
                           "or choose the shipped model.")
        if mine is not None and which != SHIPPED:
            return mine["model"], f"your model ({mine['note']})"
        return self.shipped(), "the shipped model"

    @staticmethod
    def yours(model, note: str) -> dict:
        """What a live training run leaves in the visitor's state; `note` says how it was trained."""
        return {"model": model, "note": note}

    # ----------------------------------------------------------------- layout

    def header(self, markdown: str) -> bool:
        """The tab's idea and formula; when its model is missing, the one note saying so. True when it can go on."""
        gr.Markdown(markdown, latex_delimiters=LATEX)
        if not self.available:
            gr.Markdown(f"_{common.missing_model(self.method)}_")
        return self.available

    def state(self) -> gr.State:
        """The visitor's own model (None until they train one)."""
        return common.user_state()

    def choice(self) -> gr.Radio:
        """Which model answers, for a tab that lets the visitor pick."""
        return gr.Radio([SHIPPED, MINE], value=SHIPPED, label="which model answers", elem_id=f"{self.method}-which")

    # ----------------------------------------------------------------- handlers

    def handler(self, fn: Callable) -> Callable:
        """fn(tab, *inputs) as a gradio handler: this tab bound first, any failure a readable gr.Error.

        gradio reads the handler's signature (gr.Progress defaults, gr.SelectData hints), so the
        bound function shows fn's own parameters less the tab, and fn's annotations.
        """
        sig = inspect.signature(fn)

        @functools.wraps(fn)
        def bound(*args, **kwargs):
            return fn(self, *args, **kwargs)

        bound.__signature__ = sig.replace(parameters=list(sig.parameters.values())[1:])
        return common.friendly(bound)

    def forget(self, *_inputs):
        """Handler of a "use the shipped model again" button: (the emptied state, a message)."""
        return None, FORGOTTEN


def _core_loader(method: str) -> Callable:
    import importlib
    return importlib.import_module(f"core.{method}").load_pretrained
