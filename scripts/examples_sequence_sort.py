"""Write the Sequence sort tab's generated example: a held-out sprite clip (assets/examples/sequence_sort/).

    python scripts/examples_sequence_sort.py

Deterministic: the seed is one of core.sequence_sort's held-out evaluation seeds,
rendered larger and longer than in evaluation (sprite speed scales with the frame).
"""
from __future__ import annotations

import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from core import media, synthetic  # noqa: E402
from core import sequence_sort as ss  # noqa: E402

OUT = os.path.join(ROOT, "assets", "examples", "sequence_sort")


def main() -> int:
    os.makedirs(OUT, exist_ok=True)
    frames, _ = synthetic.sprites_video(ss.EVAL_SYNTH_SEEDS.start + 7, frames=45, size=160, **ss.SYNTH_KW)
    path = media.save_video(frames, fps=15)
    dst = os.path.join(OUT, "sprites.mp4")
    shutil.copyfile(path, dst)
    print(f"wrote {dst} ({os.path.getsize(dst) / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
