"""The same answers on a GPU as on the CPU: each core contract function, same input, both devices.

    python -m bench.parity [--device cuda]

Runs every contract function on each tab's default example with the shipped
model on the CPU and on `--device`, and compares: probabilities and embeddings
by their largest absolute difference, labels and alignments by the fraction that
agree, images by their mean absolute difference in grey levels. cuDNN's TF32
convolutions make float results differ in the third decimal; the tolerances
below allow that and nothing more. Exit code 1 when a comparison fails.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch

from core import device as devices
from core import media

TOL = {"max_abs": 2e-2, "agree": 0.98, "mean_abs_grey": 2.0}


def _inputs() -> dict:
    from bench.latency import _tab_inputs
    from demos import colorization as d_col
    from demos import videomae as d_vm
    ins = _tab_inputs()
    img, _ = media.load_image(ins["jigsaw"]["file"])
    seq = media.load_video(ins["sequence_sort"]["file"], with_audio=False).frames
    mid = len(seq) // 2
    col = media.load_video(ins["colorization"]["file"], with_audio=False).frames[:16]
    mask, _ = media.load_image(ins["colorization"]["mask"])
    first, _ = d_col._first_labels(mask, None, col.shape[1:3])
    snd = media.load_video(ins["sound_localization"]["file"])
    vm, _, _ = d_vm._load(ins["videomae"]["file"])
    return {"image": img, "four": seq[[mid - 3, mid - 1, mid + 1, mid + 3]][[2, 0, 3, 1]],
            "col": col, "first": first,
            "tcc_a": media.load_video(ins["tcc"]["file"], with_audio=False).frames,
            "tcc_b": media.load_video(ins["tcc"]["file_b"], with_audio=False).frames,
            "frame": snd.frames[min(len(snd.frames) - 1, int(0.5 * snd.fps))], "audio": snd.audio,
            "sr": snd.sample_rate, "vm": vm[:16], "texts": ["the red disc moves left", "the person throws the ball"]}


def outputs(device, x: dict) -> dict:
    """Every contract function's output on `device`, as numpy."""
    from core import colorization, jigsaw, sequence_sort, sound_localization, tcc, videomae
    out = {}
    with torch.inference_mode():
        m = jigsaw.load_pretrained(device)
        out["jigsaw.predict"] = jigsaw.predict(m, jigsaw.shuffle(x["image"], jigsaw.permutations(m)[7]))
        m = sequence_sort.load_pretrained(device)
        out["sequence_sort.predict"] = sequence_sort.predict(m, x["four"])
        m = colorization.load_pretrained(device)
        out["colorization.colorize"] = colorization.colorize(m, x["col"][4].mean(-1).astype(np.uint8), x["col"][0])
        out["colorization.propagate"] = colorization.propagate(m, x["col"], x["first"])
        m = tcc.load_pretrained(device)
        ea, eb = tcc.embed(m, x["tcc_a"]), tcc.embed(m, x["tcc_b"])
        out["tcc.embed"] = ea
        out["tcc.align"] = tcc.align(ea, eb)
        m = sound_localization.load_pretrained(device)
        out["sound_localization.localize"] = sound_localization.localize(m, x["frame"], x["audio"], x["sr"])
        out["sound_localization.correspondence"] = np.float32(
            sound_localization.correspondence(m, x["frame"], x["audio"], x["sr"]))
        m = videomae.load_pretrained(device)
        recon, mask = videomae.reconstruct(m, x["vm"], mask_ratio=0.9, seed=0)
        out["videomae.reconstruct"] = recon
        out["videomae.mask"] = mask
        from core import contrastive
        m = contrastive.load_pretrained(device)
        g = contrastive.held_out_gallery()                 # one held-out clip of every action, rendered alike
        out["contrastive.embed_clips"] = contrastive.embed_clips(m, list(g["clips"]))
        out["contrastive.embed_texts"] = contrastive.embed_texts(m, x["texts"])
    return out


def compare(a: dict, b: dict) -> dict:
    rows = {}
    for key in a:
        u, v = np.asarray(a[key]), np.asarray(b[key])
        if u.shape != v.shape:
            rows[key] = {"ok": False, "why": f"shapes {u.shape} vs {v.shape}"}
        elif u.dtype == np.uint8:
            d = float(np.abs(u.astype(np.int16) - v.astype(np.int16)).mean())
            rows[key] = {"mean_abs_grey": round(d, 4), "ok": d <= TOL["mean_abs_grey"]}
        elif u.dtype.kind in "biu":
            agree = float((u == v).mean())
            rows[key] = {"agree": round(agree, 4), "ok": agree >= TOL["agree"]}
        else:
            d = float(np.abs(u.astype(np.float64) - v.astype(np.float64)).max())
            rows[key] = {"max_abs": float(f"{d:.3g}"), "ok": d <= TOL["max_abs"]}
    for key in ("jigsaw.predict", "sequence_sort.predict"):
        if key in rows:
            rows[key]["same_argmax"] = bool(np.argmax(a[key]) == np.argmax(b[key]))
            rows[key]["ok"] = rows[key]["ok"] and rows[key]["same_argmax"]
    return rows


def run(device) -> dict:
    x = _inputs()
    rows = compare(outputs("cpu", x), outputs(device, x))
    return {"device": devices.describe(device), "all_ok": all(r["ok"] for r in rows.values()), "checks": rows}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.parity", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto", choices=devices.CHOICES)
    args = ap.parse_args(argv)
    res = run(devices.choose(args.device))
    print(json.dumps(res, indent=1))
    return 0 if res["all_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
