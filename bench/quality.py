"""Quality of every shipped model on held-out data, against its baselines, in one table.

    python -m bench.quality [--methods jigsaw tcc ...] [--device cpu] [--json bench/results/quality.json]
                            [--update-cards]

For each method present in core/, loads the shipped weights, calls the
module's `evaluate(model, device)` (the same function `core.train` uses for
the model card), prints every metric, and checks the module's TARGETS:
a dict metric -> (">=" or "<=", threshold, or the name of another metric).
Writes the table as JSON. `--update-cards` also writes the new metrics into the
shipped model cards (when a module's evaluation changed after its model was
trained), keeping the card's earlier metrics under "metrics_at_training" and
noting when, where and at which commit they were measured again.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time

from core import common
from core import device as devices
from core.train import available

OPS = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, "<": lambda a, b: a < b}


def check_targets(metrics: dict, targets: dict) -> list[dict]:
    """Each target as a row: metric, value, op, threshold (a number or another metric's value), met."""
    rows = []
    for key, (op, threshold) in targets.items():
        value = metrics.get(key)
        bound = metrics.get(threshold) if isinstance(threshold, str) else threshold
        met = None if value is None or bound is None else bool(OPS[op](value, bound))
        rows.append(dict(metric=key, value=value, op=op, threshold=threshold, bound=bound, met=met))
    return rows


def evaluate_method(method: str, device) -> dict:
    module = importlib.import_module(f"core.{method}")
    model = module.load_pretrained(device=device)
    t0 = time.time()
    metrics = module.evaluate(model, device)
    res = dict(method=method, seconds=round(time.time() - t0, 1), metrics=metrics,
               targets=check_targets(metrics, getattr(module, "TARGETS", {})))
    if hasattr(module, "data_card"):        # what the held-out data now are (for --update-cards)
        res["data"] = module.data_card(model.config)
    return res


def update_card(res: dict, device_name: str) -> str:
    """Write a result's metrics into its method's model card; returns the card's path."""
    path = common.card_path(res["method"])
    card = common.read_card(res["method"])
    if card is None:
        raise FileNotFoundError(f"no model card for {res['method']}: train it first")
    card.setdefault("metrics_at_training", card.get("metrics", {}))
    card["metrics"] = res["metrics"]
    if "data" in res:
        card["data"] = res["data"]
    card["metrics_remeasured"] = dict(command=f"python -m bench.quality --methods {res['method']} --update-cards",
                                      date=time.strftime("%Y-%m-%d"), device=device_name,
                                      git_commit=common.git_commit())
    common.write_card(path, card)
    return path


def print_result(res: dict) -> None:
    print(f"\n## {res['method']}  ({res['seconds']} s)")
    width = max([len(k) for k in res["metrics"]] + [10])
    for k, v in res["metrics"].items():
        print(f"  {k:<{width}}  {v:.4f}" if isinstance(v, float) else f"  {k:<{width}}  {v}")
    for t in res["targets"]:
        mark = {True: "PASS", False: "MISS", None: "n/a "}[t["met"]]
        thr = t["threshold"] if not isinstance(t["threshold"], str) else f"{t['threshold']} ({t['bound']:.4f})" \
            if t["bound"] is not None else t["threshold"]
        val = f"{t['value']:.4f}" if isinstance(t["value"], float) else t["value"]
        print(f"  [{mark}] {t['metric']} = {val} {t['op']} {thr}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", nargs="*", default=None, help="default: every method present")
    ap.add_argument("--device", default="cpu", choices=devices.CHOICES)
    ap.add_argument("--json", default=os.path.join("bench", "results", "quality.json"))
    ap.add_argument("--update-cards", action="store_true",
                    help="write the new metrics into the shipped model cards (after an evaluation changed)")
    args = ap.parse_args(argv)
    dev = devices.choose(args.device)
    methods = args.methods or available()
    results = []
    for method in methods:
        res = evaluate_method(method, dev)
        print_result(res)
        results.append(res)
        if args.update_cards:
            print(f"  updated {update_card(res, devices.describe(dev))}")
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(dict(device=devices.describe(dev), results=results), f, indent=1)
    missed = [f"{r['method']}.{t['metric']}" for r in results for t in r["targets"] if t["met"] is False]
    print(f"\n{sum(len(r['targets']) for r in results) - len(missed)} targets met, {len(missed)} missed"
          + (f": {', '.join(missed)}" if missed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
