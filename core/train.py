"""The one training loop, and the command that trains a method and ships it (weights and card in assets/models/).

    python -m core.train METHOD [--quick] [--steps N] [--device D] [--out PATH] [--seed S]
    torchrun --nproc_per_node=N -m core.train METHOD ...     # data-parallel, N processes

METHOD is one of the core modules that exist (see `--help`). `--quick` uses the
module's 10-minute CPU preset; the default is the shipped recipe. After
training, the module's `evaluate` measures the model and its baselines on
held-out data; the numbers go into the model card (METHOD.json beside the
weights) together with the config, data, steps, seconds, device, seed and git
commit, so `bench.quality` and the app's tabs quote the same figures.

Under torchrun every process trains a DistributedDataParallel copy on its own
shard of the generated data (gloo on CPU, nccl on CUDA); only rank 0
evaluates and writes the weights and the card.

Every method trains through `fit`: the method supplies its batches and its loss,
`fit` owns the optimizer, the warm-up and cosine schedule, gradient clipping,
DDP, the running averages, the history and the progress callback. `start` gives
the model to train: a fresh one, or a copy of one to continue from.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import importlib
import importlib.util
import os
import platform
import sys
import time
from typing import Callable

import numpy as np
import torch

from core import common, device as devices

METHODS = ("jigsaw", "sequence_sort", "colorization", "tcc", "sound_localization", "videomae", "contrastive")


# --------------------------------------------------------------------- the one training loop

def start(build_model: Callable, config, model: torch.nn.Module | None = None, device="cpu"):
    """The model a run trains and the config it trains with: (model, config).

    model=None builds a fresh model from `config` (seeded by config.seed, so every
    rank of a torchrun starts equal). Otherwise a deep copy of `model` continues:
    its architecture fields (those marked `common.arch`) come from the model's own
    config, every other field from `config`; the model passed in is never changed.
    """
    common.set_seed(config.seed)
    if model is None:
        model = build_model(config)
    else:
        model = copy.deepcopy(common.unwrap(model))
        own = model.config
        config = dataclasses.replace(config, **{f.name: getattr(own, f.name) for f in dataclasses.fields(config)
                                                if f.metadata.get("arch") and hasattr(own, f.name)})
        model.config = config
    return model.to(device), config


def make_optimizer(model: torch.nn.Module, config, no_decay: Callable | None = None) -> torch.optim.Optimizer:
    """AdamW (or Adam, config.optimizer) at config.lr; parameters for which no_decay(name, p) holds get none."""
    betas = tuple(getattr(config, "betas", (0.9, 0.999)))
    kind = getattr(config, "optimizer", "adamw")
    if kind not in ("adamw", "adam"):
        raise ValueError(f"config.optimizer must be 'adamw' or 'adam', got {kind!r}")
    if no_decay is None:
        params = [{"params": list(model.parameters()), "weight_decay": config.weight_decay}]
    else:
        named = list(model.named_parameters())
        params = [{"params": [p for n, p in named if not no_decay(n, p)], "weight_decay": config.weight_decay},
                  {"params": [p for n, p in named if no_decay(n, p)], "weight_decay": 0.0}]
    cls = torch.optim.AdamW if kind == "adamw" else torch.optim.Adam
    return cls(params, lr=config.lr, betas=betas)


def fit(model: torch.nn.Module, config, steps: int, batches: Callable, loss: Callable,
        progress: common.Progress | None = None, log_every: int = 10, no_decay: Callable | None = None,
        on_log: Callable | None = None) -> dict:
    """Train `model` in place for `steps` steps; returns the history.

    batches(step) -> tuple: the inputs of step `step` (1-based), already on the model's device.
    loss(model, *batch) -> (loss tensor, {name: float or 0-d tensor}): the method's objective; it runs
        through DDP's forward under torchrun so the gradients are averaged.
    config: lr, warmup, weight_decay; optional warmup_div (warm-up at most steps // warmup_div,
        default 5), clip_grad (max gradient norm, 0 = none), optimizer ("adamw" or "adam"), betas.
    log_every: the history gets the mean of each window of this many steps (1 logs every step).
    on_log(step, model) -> dict: extra numbers for the logged record (e.g. a held-out score), or {}.
    progress(step, total, record) is called with the step's own numbers as training goes.
    """
    steps = int(steps)
    warmup = min(int(config.warmup), steps // int(getattr(config, "warmup_div", 5)))
    clip = float(getattr(config, "clip_grad", 0.0))
    run = common.loss_runner(model)                 # DDP under torchrun, the loss itself otherwise
    optimizer = make_optimizer(model, config, no_decay)
    history = common.new_history()
    tick = common.Ticker(progress, steps)
    window: dict[str, list[float]] = {}
    for step in range(1, steps + 1):
        lr = common.cosine_lr(step - 1, steps, config.lr, warmup)
        common.set_lr(optimizer, lr)
        model.train()
        value, parts = run(loss, *batches(step))
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        now = {k: float(v.detach()) if torch.is_tensor(v) else float(v) for k, v in {"loss": value, **parts}.items()}
        for k, v in now.items():
            window.setdefault(k, []).append(v)
        if step % log_every == 0 or step == steps:
            record = {k: float(np.mean(v)) for k, v in window.items()}
            record["lr"] = lr
            if on_log is not None:
                record.update(on_log(step, model))
                model.train()
            common.log(history, step, record)
            window = {}
        tick(step, now)
    model.eval()
    return history


# --------------------------------------------------------------------- the command

def available() -> list[str]:
    """The methods whose core module exists in this checkout."""
    return [m for m in METHODS if importlib.util.find_spec(f"core.{m}") is not None]


def printer(every_s: float = 10.0):
    """A progress callback for the terminal: one line every `every_s` seconds."""
    state = {"t0": time.monotonic(), "last": 0.0}

    def progress(step: int, total: int, record: dict) -> None:
        now = time.monotonic()
        if now - state["last"] < every_s and step < total:
            return
        state["last"] = now
        rate = step / max(now - state["t0"], 1e-9)
        vals = "  ".join(f"{k} {v:.4g}" for k, v in (record or {}).items())
        print(f"step {step:6d}/{total}  {rate:6.1f} steps/s  {vals}", flush=True)

    return progress


def init_distributed(device: str) -> torch.device | None:
    """Join the process group torchrun set up; returns this rank's device, or None when alone."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    import torch.distributed as dist
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device in ("auto", "cuda") and torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return torch.device("cuda", local) if use_cuda else torch.device("cpu")


def leave_distributed() -> None:
    """Every rank waits for the others, then the process group is taken down: left to interpreter exit,
    gloo's threads were sometimes torn down live and a rank aborted (SIGABRT) after training correctly."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def run(method: str, quick: bool = False, steps: int | None = None, device: str = "auto",
        out: str | None = None, seed: int | None = None, evaluate: bool = True,
        progress=None, overrides: dict | None = None, command: str | None = None, init: str | None = None) -> dict:
    """Train `method`, save weights and card; returns the card. init: a checkpoint of the method to continue
    from (its architecture fields kept, every other field from the preset) instead of a fresh model."""
    module = importlib.import_module(f"core.{method}")
    config = module.Config.quick() if quick else module.Config()
    changes = dict(overrides or {})
    if seed is not None:
        changes["seed"] = seed
    if changes:
        config = dataclasses.replace(config, **changes)
    steps = int(steps or config.steps)
    config = dataclasses.replace(config, steps=steps)     # the card's config says what ran
    dev = init_distributed(device) or devices.choose(device)
    common.set_seed(config.seed)            # the same initial weights on every rank
    out = out or common.weights_path(method)
    t0 = time.time()
    start_from = {}
    if init:                                # the method's own loader where it has one (old checkpoints differ)
        loader = getattr(module, "load_weights", None)
        start_from["model"] = loader(init) if loader else common.load_model(method, module.Config,
                                                                             module.build_model, path=init)
    model, history = module.train(config, steps, dev, progress=progress or printer(), **start_from)
    model = common.unwrap(model)
    common.broadcast_buffers(model)         # under torchrun: every rank holds the model rank 0 writes
    seconds = time.time() - t0
    digest = common.state_digest(model)
    if common.rank() != 0:                  # rank 0 alone evaluates and writes
        return {"rank": common.rank(), "steps": steps, "seconds": round(seconds, 1), "weights_sha256": digest}
    metrics = module.evaluate(model, dev) if evaluate else {}
    common.save_checkpoint(model, config, out)
    card = {
        "method": method,
        "paper": getattr(module, "PAPER", ""),
        "command": command or f"python -m core.train {method}" + (" --quick" if quick else ""),
        "preset": "quick" if quick else "default",
        "config": dataclasses.asdict(config),
        "data": module.data_card(config) if hasattr(module, "data_card") else {},
        "steps": steps,
        "seconds": round(seconds, 1),
        "device": devices.describe(dev) + (f" x {common.world_size()} processes" if common.world_size() > 1 else ""),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "seed": config.seed,
        **({"init": init, "init_weights_sha256": common.state_digest(start_from["model"])} if init else {}),
        "parameters": common.count_params(model),
        "git_commit": common.git_commit(),
        "weights_sha256": digest,
        "metrics": metrics,
        "history": common.thin_history(history),
    }
    common.write_card(os.path.splitext(out)[0] + ".json", card)
    return card


def parse_overrides(method: str, pairs) -> dict:
    """--set FIELD=VALUE pairs as Config changes, each value parsed as its field's default type."""
    defaults = dataclasses.asdict(importlib.import_module(f"core.{method}").Config())
    out = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or name not in defaults:
            raise SystemExit(f"--set {pair}: expected FIELD=VALUE with FIELD one of {', '.join(sorted(defaults))}")
        kind = type(defaults[name])
        if kind is bool:
            value = text.strip().lower() in ("1", "true", "yes", "on")
        elif kind in (int, float, str):
            value = kind(text)
        else:                               # tuples and the like: a Python literal
            import ast
            value = ast.literal_eval(text)
        out[name] = value
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m core.train", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("method", choices=available())
    ap.add_argument("--quick", action="store_true", help="the 10-minute CPU preset")
    ap.add_argument("--steps", type=int, help="override the preset's number of steps")
    ap.add_argument("--device", default="auto", choices=devices.CHOICES)
    ap.add_argument("--out", help="weights path (default assets/models/METHOD.pt; the card goes beside it)")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--no-eval", action="store_true", help="skip the held-out evaluation")
    ap.add_argument("--init", help="continue from these weights (a checkpoint of METHOD) instead of a fresh model")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="change one Config field of the preset (repeatable), e.g. --set real_clips=true")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    card = run(args.method, quick=args.quick, steps=args.steps, device=args.device, out=args.out,
               seed=args.seed, evaluate=not args.no_eval, init=args.init,
               overrides=parse_overrides(args.method, args.set),
               command="python -m core.train " + " ".join(sys.argv[1:] if argv is None else argv),
               progress=printer() if os.environ.get("RANK", "0") == "0" else (lambda *a: None))
    if common.world_size() > 1:         # under torchrun: every rank says where its weights ended
        print(f"rank {common.rank()} of {common.world_size()}: weights_sha256 {card['weights_sha256']}", flush=True)
        leave_distributed()
    if "metrics" not in card:           # a rank other than 0 under torchrun
        return 0
    print(f"trained {args.method}: {card['steps']} steps in {card['seconds']:.0f} s on {card['device']}")
    for k, v in card["metrics"].items():
        print(f"  {k:40s} {v:.4g}" if isinstance(v, float) else f"  {k:40s} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
