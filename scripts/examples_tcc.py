"""Write the TCC tab's bundled examples: pairs of one throw at different paces and looks.

    python scripts/examples_tcc.py

Deterministic (fixed held-out seeds that training never draws). Writes
assets/examples/tcc/*.mp4 and phases.json (the true phase of every frame, used
only to show how well labels carry over, and the re-timed pair's known mapping).
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from core import media, synthetic  # noqa: E402
from core.tcc import HELD_OUT_SEED  # noqa: E402

OUT = os.path.join(ROOT, "assets", "examples", "tcc")
FPS = 12
SIZE = 128

# name: (seed, frames, pace, warp): two different throwers per pair (different look and timing)
CLIPS = {
    "throw_a": (HELD_OUT_SEED + 2001, 48, 1.0, True),
    "throw_b": (HELD_OUT_SEED + 2002, 32, 1.5, True),
    "throw_c": (HELD_OUT_SEED + 2003, 40, 0.7, True),
    "throw_d": (HELD_OUT_SEED + 2004, 60, 1.2, True),
}
RETIMED = HELD_OUT_SEED + 2005            # one throw, uniform timing, then re-timed (same look)
PAIRS = [("throw_a", "throw_b"), ("throw_c", "throw_d"), ("retimed_1", "retimed_2")]


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    phases = {}
    for name, (seed, frames, pace, warp) in CLIPS.items():
        video, phase = synthetic.action_video(seed, frames=frames, size=SIZE, pace=pace, warp=warp)
        _write(name, video)
        phases[name] = np.round(phase, 4).tolist()
    for name, frames, pace in (("retimed_1", 48, 1.0), ("retimed_2", 30, 2.0)):
        video, phase = synthetic.action_video(RETIMED, frames=frames, size=SIZE, pace=pace, start=0.0, end=1.0,
                                              warp=False)
        _write(name, video)
        phases[name] = np.round(phase, 4).tolist()
    meta = {"fps": FPS, "phase_names": list(synthetic.PHASE_NAMES), "phase_bounds": list(synthetic.PHASE_BOUNDS),
            "pairs": [list(p) for p in PAIRS], "phases": phases}
    with open(os.path.join(OUT, "phases.json"), "w") as f:
        json.dump(meta, f)
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total / 1e6:.2f} MB in {OUT}")


def _write(name: str, video: np.ndarray) -> None:
    path = media.save_video(video, FPS, name=f"{name}.mp4")
    os.replace(path, os.path.join(OUT, f"{name}.mp4"))


if __name__ == "__main__":
    main()
