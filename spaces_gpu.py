"""ZeroGPU: the one place where the app borrows a GPU for its handlers on a Hugging Face Space.

A ZeroGPU Space (the platform sets SPACES_ZERO_GPU=true) has no GPU in its main process: a
GPU is lent per call to each function decorated with `spaces.GPU(duration=...)`, which runs
in a forked worker (its arguments and results are pickled across; whatever it changes in
place stays in the worker). The models load once at start and are put on `cuda` there (the
`spaces` package emulates CUDA in the main process and moves them on the lent GPU).

`wrap(demo, device)` applies `spaces.GPU` to every handler that computes, after app.py has
built the Blocks: each tab's clicks for CLICK_S seconds, live training for a duration worked
out from its steps slider (train_duration). gradio reads `BlockFunction.fn` at every call
(its kind, generator or not, and its signature through `__wrapped__`, where gr.Progress is
found), so replacing it before launch is the same as decorating it where it is defined.
Handlers that only move values about (LIGHT: forgetting a visitor's model, a new shuffle
seed, a picked example's mask, a first frame to draw on, a grey target frame) stay in the
main process and cost no GPU quota; gr.Examples' loaders are not queued and are not wrapped.

Inside the worker, a visitor's model that arrives in gr.State is put on the device, and every
torch module or tensor in what a handler returns comes back as a CPU copy (a live-trained model
goes back to the visitor's session as CPU state, picklable anywhere).

Off ZeroGPU nothing is wrapped and `spaces` is never imported: it need not be installed.
"""
from __future__ import annotations

import copy
import functools
import importlib
import inspect
import os
import warnings

ENV = "SPACES_ZERO_GPU"

CLICK_S = 20              # seconds asked for one click: the core call is well under 1 s; the first
                          # call on a worker also moves the models onto the lent GPU
TRAIN_START_S = 20        # training: worker start, models onto the GPU, the first batches
TRAIN_STEP_S = 0.25       # training: seconds per step asked for (CPU: 0.1-0.5 s; not yet measured on ZeroGPU)
TRAIN_MAX_S = 120         # the most one training run asks for (a free visitor has 5 min of GPU a day)

# an arrival serves a default kept in memory (computed through `gpu`); a preview re-encodes an upload with ffmpeg
LIGHT_SUFFIXES = ("_forget", "_arrival", "_preview", "_preview1")
LIGHT = frozenset({"sequence_sort_reshuffle", "colorization_example_mask", "colorization_first_frame",
                   "colorization_target", "sound_localization_clip_length"})

_spaces = None


def on_zero_gpu(environ=None) -> bool:
    """True on a ZeroGPU Space (the same test as the `spaces` package: 1, t or true)."""
    value = (os.environ if environ is None else environ).get(ENV)
    return value is not None and value.lower() in ("1", "t", "true")


def load_spaces():
    """The `spaces` module on ZeroGPU (imported once, before anything touches CUDA), else None.

    gradio's own auto-wrapping (every event on the GPU with the default 60 s) is turned off:
    `wrap` chooses the handlers and their durations.
    """
    global _spaces
    if not on_zero_gpu():
        return None
    if _spaces is None:
        try:
            _spaces = importlib.import_module("spaces")
        except ImportError:
            warnings.warn(f"{ENV} is set but the `spaces` package is not installed: the handlers run "
                          "unwrapped, on the CPU (pip install spaces)", RuntimeWarning, stacklevel=2)
            return None
        if hasattr(_spaces, "disable_gradio_auto_wrap"):
            _spaces.disable_gradio_auto_wrap()
    return _spaces


def is_training(fn) -> bool:
    return str(fn.api_name or "").endswith("_train")


def computes(fn) -> bool:
    """Whether a BlockFunction runs a model (and so needs the GPU on ZeroGPU)."""
    if fn.fn is None or not fn.queue:
        return False
    name = str(fn.api_name or "")
    return not (name.endswith(LIGHT_SUFFIXES) or name in LIGHT)


def steps_input(fn):
    """(index, slider) of a training handler's steps slider among its inputs, or (None, None)."""
    import gradio as gr
    for i, block in enumerate(fn.inputs):
        if isinstance(block, gr.Slider) and "step" in str(block.label or "").lower():
            return i, block
    return None, None


def train_duration(steps) -> int:
    """Seconds of GPU asked for a training run of `steps` steps."""
    try:
        steps = max(0.0, float(steps))
    except (TypeError, ValueError):
        return TRAIN_MAX_S
    return int(min(TRAIN_MAX_S, TRAIN_START_S + TRAIN_STEP_S * steps))


def duration_for(fn):
    """CLICK_S for a click; for training, a function of the handler's arguments (its steps)."""
    if not is_training(fn):
        return CLICK_S
    index, slider = steps_input(fn)
    if index is None:
        return TRAIN_MAX_S
    fallback = slider.maximum

    def duration(*args, **kwargs):
        steps = args[index] if index < len(args) else fallback
        return train_duration(fallback if steps is None else steps)

    duration.steps_input = index
    return duration


def _move(obj, device, copy_modules: bool):
    """Torch modules and tensors in obj (through dicts, lists and tuples) on `device`."""
    import torch
    if isinstance(obj, torch.nn.Module):
        where = next((p.device for p in obj.parameters()), None) or next((b.device for b in obj.buffers()), None)
        if where is None or where == device:
            return obj
        return (copy.deepcopy(obj) if copy_modules else obj).to(device)
    if isinstance(obj, torch.Tensor):
        return obj if obj.device == device else obj.to(device)
    if type(obj) is dict:
        return {k: _move(v, device, copy_modules) for k, v in obj.items()}
    if type(obj) in (list, tuple):
        return type(obj)(_move(v, device, copy_modules) for v in obj)
    return obj


def on_device(fn, device):
    """fn with torch state in its arguments on `device` and in its results on the CPU (same kind, same signature)."""
    import torch
    device, cpu = torch.device(device), torch.device("cpu")

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator(*args, **kwargs):
            args, kwargs = _move(args, device, False), _move(kwargs, device, False)
            for out in fn(*args, **kwargs):
                yield _move(out, cpu, True)
        return generator

    @functools.wraps(fn)
    def call(*args, **kwargs):
        args, kwargs = _move(args, device, False), _move(kwargs, device, False)
        return _move(fn(*args, **kwargs), cpu, True)
    return call


def gpu(fn, device, duration: int = CLICK_S, spaces=None):
    """fn (no arguments) on the lent GPU on ZeroGPU, for work done outside a wrapped handler (a tab's
    default example, computed once for every visitor); fn itself elsewhere."""
    spaces = spaces or load_spaces()
    if spaces is None:
        return fn
    return spaces.GPU(on_device(fn, device), duration=duration)


def wrap(demo, device, spaces=None) -> dict:
    """On ZeroGPU, put every computing handler of the built Blocks on the GPU; {api_name: duration}.

    Off ZeroGPU (or without `spaces`) nothing changes and {} comes back. Call it before launch.
    """
    spaces = spaces or load_spaces()
    if spaces is None:
        return {}
    done = {}
    for fn in demo.fns.values():
        if not computes(fn) or hasattr(fn.fn, "zerogpu"):
            continue
        if inspect.iscoroutinefunction(fn.fn) or inspect.isasyncgenfunction(fn.fn):
            raise TypeError(f"{fn.api_name}: ZeroGPU cannot run async handlers; make it a plain function")
        duration = duration_for(fn)
        fn.fn = spaces.GPU(on_device(fn.fn, device), duration=duration)
        done[fn.api_name] = duration
    return done
