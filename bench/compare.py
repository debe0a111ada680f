"""Old against new: a method's full held-out evaluation for several weights files, side by side.

    python -m bench.compare sequence_sort assets/models/sequence_sort.pt runs/sequence_sort_real.pt
                            [--json bench/results/compare_sequence_sort.json]

Each file is loaded with the method's loader and measured by the same `evaluate` that `core.train`
and `bench.quality` use (real held-out clips, synthetic held-out data, baselines), so a retrained model
is shipped only when its held-out real figure improves and nothing else drops by more than 2 points.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time

from core import common


def measure(method: str, path: str, device: str = "cpu") -> dict:
    """The method's evaluate() on the weights at `path`."""
    module = importlib.import_module(f"core.{method}")
    loader = getattr(module, "load_weights", None)
    model = loader(path) if loader else common.load_model(method, module.Config, module.build_model, path=path)
    return module.evaluate(model.to(device), device)


def table(results: dict[str, dict]) -> str:
    """Rows of metrics, one column per weights file, plus the change of the last against the first."""
    names = list(results)
    keys = [k for k in results[names[0]] if all(isinstance(r.get(k), (int, float)) for r in results.values())]
    width = max(len(k) for k in keys)
    lines = [" " * width + "".join(f"  {os.path.basename(n)[:14]:>14}" for n in names) + "          change"]
    for k in keys:
        vals = [float(results[n][k]) for n in names]
        lines.append(f"{k:{width}}" + "".join(f"  {v:14.4f}" for v in vals) + f"  {vals[-1] - vals[0]:+14.4f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("method")
    ap.add_argument("weights", nargs="+", help="weights files of the method, the baseline first")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", help="also write the metrics here")
    args = ap.parse_args(argv)
    results = {}
    for path in args.weights:
        t0 = time.time()
        results[path] = measure(args.method, path, args.device)
        print(f"{path}: measured in {time.time() - t0:.0f} s", flush=True)
    print(table(results))
    if args.json:
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
