"""The skeleton every method tab stands on: its models, the visitor's own model, its header, its handlers.

A tab module keeps its layout, its words and its drawing. Its handlers are module
functions whose first argument is the tab, `def solve(tab, image, k, mine)`, wired with
`button.click(tab.handler(solve), inputs, outputs, api_name=...)`; a test calls
`solve(Tab(...), ...)` directly. `mine` is the visitor's own model: None, or the dict that
`Tab.yours` makes after a live training run, kept in that visitor's gr.State only.

A tab arrives drawn: `tab.arrive(solve, defaults, outputs)` shows the main handler's answer on the
default example the moment the page opens. It is computed once per server, in the background after
launch (app.py calls `warm`) or by the first visitor, and then served to every visitor from memory.
`tab.clears(inputs, outputs)` empties the results when their input changes, so that nothing on screen
belongs to an earlier input.
"""
from __future__ import annotations

import functools
import inspect
import logging
import os
import threading
from typing import Callable

import gradio as gr
from gradio.context import Context

import spaces_gpu
from core import common as core_common
from core import media
from demos import common

log = logging.getLogger("ssl_lab")
_ARRIVING = threading.Lock()        # one default example computes at a time: the cores stay with the clicks

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
        self._lock = threading.Lock()                   # guards _made and _locks only
        self._locks: dict[str, threading.RLock] = {}    # one per name: a slow default never holds up the model
        self._results = common.Memo(max_items=16, max_mb=150)
        self.available = load is not None or os.path.isfile(core_common.weights_path(method))

    # ----------------------------------------------------------------- models

    def once(self, name: str, make: Callable):
        """make(), run on first use only (two first visitors at once build it once), then shared; never mutated."""
        with self._lock:
            if name in self._made:
                return self._made[name]
            lock = self._locks.setdefault(name, threading.RLock())
        with lock:                                      # re-entrant: a `make` may ask for another name, or itself
            with self._lock:
                if name in self._made:
                    return self._made[name]
            made = make()
            with self._lock:
                self._made[name] = made
            return made

    def drop(self, name: str) -> None:
        """Forget what once(name, ...) made, so that the next use makes it again."""
        with self._lock:
            self._made.pop(name, None)

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

    def header(self, markdown: str, details: str | None = None, seen: str | None = None) -> bool:
        """The tab's title and idea in a sentence or two; the formula and the longer story (`details`) in a
        closed accordion below, so that the first screen holds the input and the result. `seen`: one line on
        what the shipped model learned from. When the model is missing, the one note saying so. True when
        the tab can go on."""
        gr.Markdown(markdown, latex_delimiters=LATEX, elem_classes="ssl-idea")
        if seen and self.available:
            gr.Markdown(f"**What its model has seen:** {seen}", elem_id=f"{self.method}-seen",
                        elem_classes="ssl-seen")
        if details:
            with gr.Accordion("The idea in full, with the formula and the paper", open=False,
                              elem_id=f"{self.method}-details"):
                gr.Markdown(details, latex_delimiters=LATEX, elem_classes="ssl-formula")
        if not self.available:
            gr.Markdown(f"_{common.missing_model(self.method)}_")
        return self.available

    # ----------------------------------------------------------------- arrival and state

    def arrive(self, fn: Callable, args: tuple, outputs: list, pick: Callable | None = None,
               name: str = "arrival", gpu: bool = True) -> Callable | None:
        """Show fn(self, *args), the main handler on the default inputs, in `outputs` when the page opens.

        pick: turns fn's result into the values for `outputs` (default: the result itself). The result is
        computed once per server (app.py's `warm`, in the background after launch, or the first visitor)
        and shared; it is made again when a file it names has gone (core.media sweeps old outputs). A
        failure leaves the panels as they are and is logged: opening a tab never shows an error.
        Returns the function that gives the value (None outside a Blocks). gpu=False: the work never touches a model on the GPU (a plot of numbers), so ZeroGPU lends none.
        """
        root = Context.root_block
        if root is None:
            return
        pick = pick or (lambda out: out)
        # on ZeroGPU the first visitor's arrival borrows the GPU like a click; the result is kept here
        call = lambda: pick(fn(self, *args))  # noqa: E731
        run = spaces_gpu.gpu(call, self.device) if gpu else call

        def compute():
            with _ARRIVING:
                return run()

        def value():
            got = self.once(name, compute)
            if not _files_there(got):
                self.drop(name)
                got = self.once(name, compute)
            return got

        def show():
            try:
                return value()
            except Exception:  # noqa: BLE001  (the panels stay as they are; the log says why)
                log.exception("%s: the default example could not be shown", self.method)
                return gr.update() if len(outputs) == 1 else tuple(gr.update() for _ in outputs)

        root.load(show, None, outputs, api_name=f"{self.method}_{name}", show_progress="minimal")
        if not hasattr(root, "ssl_arrivals"):
            root.ssl_arrivals = []
        root.ssl_arrivals.append((f"{self.method}_{name}", value))
        return value

    def later(self, plot: gr.Plot, draw: Callable[[], object], name: str) -> gr.Plot:
        """Fill `plot` with draw()'s figure when the page opens, drawn once after launch instead of at build.

        For a figure that needs no visitor input (a permutation set, a model's filters, a card's sweep):
        matplotlib is neither imported nor run before the server answers (bench.latency's cold start).
        """
        from demos import figures
        value = self.arrive(lambda _tab: figures.render(draw()), (), [plot], name=name, gpu=False)
        if value is not None:
            value.later = True                  # warm draws it after every tab's answer
        return plot

    def clears(self, inputs: list, outputs: list, say=None, message: str = "") -> None:
        """When any of `inputs` changes, empty `outputs` (the old input's results), and put `message` in `say`."""
        targets = list(outputs) + ([say] if say is not None else [])

        def clear(*_):
            out = [None] * len(outputs) + ([message] if say is not None else [])
            return out[0] if len(out) == 1 else tuple(out)

        for i, inp in enumerate(inputs):
            inp.change(clear, None, targets, api_name=f"{self.method}_clear{i or ''}", show_progress="hidden",
                       api_visibility="private", queue=False)

    def playable(self, *videos: gr.Video) -> None:
        """An upload the browser cannot play (old MPEG-4 Part 2, odd pixel formats) comes back as H.264,
        so the preview shows it; when that fails, a warning says why the preview is blank."""
        for i, video in enumerate(videos):
            video.upload(common.playable_preview, [video], [video], api_name=f"{self.method}_preview{i or ''}",
                         api_visibility="private", show_progress="minimal")

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


def _files_there(result) -> bool:
    """False when a file this app wrote (under core.media's folder) and `result` names has been swept."""
    items = result if isinstance(result, (tuple, list)) else [result]
    for v in items:
        if isinstance(v, str) and v.startswith(media.TEMP_ROOT) and not os.path.exists(v):
            return False
    return True


def warm(demo: gr.Blocks) -> threading.Thread:
    """Compute every tab's default example in a background thread (app.py starts it after launch): the
    answers first, then the figures of Tab.later, which sit further down their tabs."""
    def run():
        arrivals = getattr(demo, "ssl_arrivals", [])
        for name, value in sorted(arrivals, key=lambda a: getattr(a[1], "later", False)):     # stable
            try:
                value()
            except Exception:  # noqa: BLE001
                log.exception("%s: could not compute the default example", name)

    thread = threading.Thread(target=run, name="arrivals", daemon=True)
    thread.start()
    return thread


def _core_loader(method: str) -> Callable:
    import importlib
    return importlib.import_module(f"core.{method}").load_pretrained
