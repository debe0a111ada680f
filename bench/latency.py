"""Seconds between a click and the answer, for every tab, on this machine.

    python -m bench.latency [--device cpu|cuda] [--runs 5] [--tabs jigsaw tcc ...] [--json PATH] [--no-app]
                            [--before REV]

For each tab, on its default example:
  * core: the core contract call alone (the model already loaded, warm), median and p90 of --runs;
  * click: the full click through the running app with gradio_client (upload, queue, the handler,
    plots, video encoding, download), the first click on that input and then median and p90 of
    --runs warm repeats. Some tabs cache work on a bundled input (see the notes column), so the
    first click is the figure to compare with an upload;
  * stages: where each click's time went, from the server's own record of the event (core.stages,
    written by the app under SSL_LAB_STAGE_LOG): gradio_in (uploads read into the handler's
    arguments), decode, core, baselines, figures, encoding, other (the handler's unnamed rest),
    gradio_out (images and plots encoded, files cached), and transfer = the click as the client
    timed it minus the server's whole event (upload, queue, download);
  * with --before REV: the same clicks on the app as it was at git revision REV (exported to a
    temporary folder and started beside this one), first clicks and then warm clicks taking turns
    between the two, so that both see the same load; and its cold start.
and for the app: its import time, its cold start (from `python app.py` to the first HTTP 200),
and the server's peak resident memory (with its ffmpeg helpers, sampled every 50 ms) over all clicks.

Budgets on 2 CPU cores at default settings (issue 22, tightening DESIGN.md's): core within 1 s, a
warm click's median within 1 s and a first click within 2 s, cold start within 6 s, peak memory
within 2 GB; on a GPU every core call within 100 ms. Other work on the machine inflates every
timing: the run records the load average, and --before compares under the same load.
`--device cuda` runs the core calls and the app on the GPU and adds a parity check: each
contract function on the same input on CPU and on CUDA, compared (bench/parity.py).
Prints a table and writes JSON (bench/results/latency.json).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from core import sources, media  # noqa: E402
from core import device as devices  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# issue 22: a warm click's median within 1 s, a first click within 2 s, cold start within 6 s (2 CPU cores)
BUDGET_CPU = {"core_s": 1.0, "click_s": 1.0, "first_click_s": 2.0, "cold_start_s": 6.0, "peak_rss_mb": 2048}
BUDGET_GPU_CORE_S = 0.1
TABS = ("jigsaw", "sequence_sort", "colorization", "tcc", "sound_localization", "videomae", "contrastive")
FLOOR_API = "/colorization_forget"        # no inputs, no work: what any click costs before it computes
NEW_CLIP = "colorization_new_clip"        # a click on a clip the tab has never seen: nothing of it remembered


# --------------------------------------------------------------------- each tab's default example

def _example(rel: str) -> str:
    return os.path.join(sources.EXAMPLES, rel)


def _tab_inputs() -> dict:
    """Per tab: its default example as the tab offers it, the core call on it, and the click's API call."""
    from demos import colorization as d_col
    from demos import sequence_sort as d_seq
    from demos import sound_localization as d_snd
    from demos import tcc as d_tcc
    from demos import videomae as d_vm
    photos = sorted(os.listdir(_example("photos")))
    photo = _example(os.path.join("photos", photos[0]))
    seq_clip = d_seq.examples()[0][0]
    col = d_col._examples()[0]
    tcc_a, tcc_b = d_tcc.example_pairs()[0]
    snd_clips = d_snd.example_clips()
    snd_names = list(snd_clips)
    snd_other = next((n for n in snd_names if "(real)" in n), snd_names[-1])
    vm_clip = d_vm.vm_examples()[0][0]
    from demos import contrastive as d_con
    con_args = [d_con.LEVEL_NAMES[-1], list(d_con.LOSS_NAMES)[0], 0.1, 7, 0]     # the tab's opening batch
    return {
        "jigsaw": dict(file=photo, api="/jigsaw_solve", args=lambda h: [h(photo), 7, False]),
        "sequence_sort": dict(file=seq_clip, api="/sequence_sort_sort",
                              args=lambda h: [h(seq_clip), "auto", "random", 0]),
        "colorization": dict(file=_example(col["video"]), mask=_example(col["mask"]), name=col["name"],
                             api="/colorization_track",
                             args=lambda h: [h(_example(col["video"])), h(_example(col["mask"])), None,
                                             col["name"], 32]),
        "tcc": dict(file=tcc_a, file_b=tcc_b, api="/tcc_align",
                    args=lambda h: [h(tcc_a), h(tcc_b), ""]),
        "sound_localization": dict(file=snd_clips[snd_names[0]], api="/sound_localization_localize",
                                   args=lambda h: [h(snd_clips[snd_names[0]]), d_snd.OWN, snd_other, d_snd.DEFAULT_T,
                                                   d_snd.SHIPPED]),
        "videomae": dict(file=vm_clip, api="/videomae_reconstruct",
                         args=lambda h: [h(vm_clip), 0.9, "tube", 0]),
        "contrastive": dict(level=con_args[0], api="/contrastive_batch", args=lambda h: list(con_args)),
    }


def core_calls(device) -> dict:
    """Per tab: a no-argument function making the tab's core contract call(s) on its default example."""
    from core import colorization, jigsaw, sequence_sort, sound_localization, tcc, videomae
    from demos import colorization as d_col
    from demos import videomae as d_vm
    ins = _tab_inputs()
    calls = {}

    m = jigsaw.load_pretrained(device)
    img, _ = media.load_image(ins["jigsaw"]["file"])
    perm = jigsaw.permutations(m)[7]
    calls["jigsaw"] = lambda m=m: jigsaw.predict(m, jigsaw.shuffle(img, perm))

    m = sequence_sort.load_pretrained(device)
    v = media.load_video(ins["sequence_sort"]["file"], with_audio=False).frames
    mid = len(v) // 2
    four = v[[mid - 3, mid - 1, mid + 1, mid + 3]][[2, 0, 3, 1]]
    calls["sequence_sort"] = lambda m=m: sequence_sort.predict(m, four)

    m = colorization.load_pretrained(device)
    v = media.load_video(ins["colorization"]["file"], with_audio=False).frames[:32]
    mask, _ = media.load_image(ins["colorization"]["mask"])
    first, _ = d_col._first_labels(mask, None, v.shape[1:3])
    from core.colorization import infer as col_infer
    # a new clip's cost: the tab remembers each clip's embeddings and propagation plan, so a repeated call
    # would time a lookup; the cache is emptied first
    calls["colorization"] = lambda m=m: (col_infer.clear_cache(), colorization.propagate(m, v, first))[1]

    m = tcc.load_pretrained(device)
    a = media.load_video(ins["tcc"]["file"], with_audio=False).frames
    b = media.load_video(ins["tcc"]["file_b"], with_audio=False).frames
    calls["tcc"] = lambda m=m: tcc.align(tcc.embed(m, a), tcc.embed(m, b))

    m = sound_localization.load_pretrained(device)
    clip = media.load_video(ins["sound_localization"]["file"])
    fr = clip.frames[min(len(clip.frames) - 1, int(0.5 * clip.fps))]
    calls["sound_localization"] = lambda m=m: (
        sound_localization.localize(m, fr, clip.audio, clip.sample_rate),
        sound_localization.correspondence(m, fr, clip.audio, clip.sample_rate))

    m = videomae.load_pretrained(device)
    frames, _, _ = d_vm._load(ins["videomae"]["file"])
    calls["videomae"] = lambda m=m: videomae.reconstruct(m, frames, mask_ratio=0.9, seed=0)

    from core import contrastive
    from demos import contrastive as d_con
    m = contrastive.load_pretrained(device)
    shift, unrelated = contrastive.LEVELS[d_con.LEVEL_NAMES.index(ins["contrastive"]["level"])]

    def con(m=m):                   # show_batch's core: the batch drawn and embedded, its loss curves and losses
        s = contrastive.infer.sample_batch(m, shift, unrelated, batch=8, seed=0)
        temps = [0.1] + sorted({*d_con.CURVE_TEMPERATURES, 0.1})
        contrastive.infer.loss_curves(s["clip_emb"], s["bag_emb"], temps, range(1, 8))
        return contrastive.batch_losses(s["clip_emb"], s["bag_emb"], 0.1)
    calls["contrastive"] = con
    return calls


# --------------------------------------------------------------------- measuring

def _sync(device) -> None:
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def time_calls(fn, runs: int, device="cpu") -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        out.append(time.perf_counter() - t0)
    return out


def summary(xs: list[float]) -> dict:
    xs = sorted(xs)
    p90 = xs[min(len(xs) - 1, int(np.ceil(0.9 * len(xs))) - 1)]
    return {"median": round(statistics.median(xs), 3), "p90": round(p90, 3), "runs": len(xs),
            "all": [round(x, 3) for x in xs]}


class RssSampler:
    """Peak resident memory of a process and its children, sampled in a thread."""

    def __init__(self, pid: int, every: float = 0.05):
        import psutil
        self.proc, self.every, self.peak, self.overall = psutil.Process(pid), every, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _rss(self) -> int:
        """The server's RSS plus its helper processes' (ffmpeg). A child still named like the server is
        a fork caught before its exec: its pages are the server's own, shared, so it is not added."""
        import psutil
        total = self.proc.memory_info().rss
        name = self.proc.name()
        for p in self.proc.children(recursive=True):
            try:
                if p.name() != name:
                    total += p.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self):
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self._rss())
            except Exception:  # noqa: BLE001  (the process ended)
                return
            time.sleep(self.every)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join(timeout=2)
        return round(max(self.peak, self.overall) / 2**20, 1)


def load_text() -> str:
    """The machine's load averages over 1, 5 and 15 minutes (other work inflates every timing here)."""
    try:
        return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "load average unknown"


def import_time() -> float:
    """Seconds to `import app` in a fresh interpreter (median of 3)."""
    code = "import time; t = time.perf_counter(); import app; print(time.perf_counter() - t)"
    xs = [float(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                               check=True).stdout.strip().splitlines()[-1]) for _ in range(3)]
    return round(statistics.median(xs), 2)


def start_app(port: int, device: str, root: str = ROOT, env: dict | None = None,
              log: str | None = None) -> tuple[subprocess.Popen, float]:
    """`python app.py` (of the tree at `root`) on loopback; returns the process and the seconds until
    the first HTTP 200. Its output goes to `log` (default: nowhere), never into an unread pipe."""
    from tests.conftest import wait_http
    out = open(log, "w") if log else subprocess.DEVNULL
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port),
                             "--device", device], cwd=root, stdout=out, stderr=subprocess.STDOUT,
                            env={**os.environ, **(env or {})})
    wait_http(f"http://127.0.0.1:{port}/", timeout=300, proc=proc)
    return proc, round(time.monotonic() - t0, 2)


def stop_app(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def export_revision(rev: str, dest: str) -> str:
    """The tree of git revision `rev` written into `dest` (git archive): the app as it was, to compare with."""
    os.makedirs(dest, exist_ok=True)
    data = subprocess.run(["git", "archive", "--format=tar", rev], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", dest], input=data, check=True)
    return dest


class StageLog:
    """The app's stage records (demos/stages.py), read as they are written."""

    def __init__(self, path: str):
        self.path, self.offset = path, 0

    def take(self, api: str) -> dict | None:
        """The last record of endpoint `api` written since the previous take, or None."""
        from demos import stages
        recs, self.offset = stages.read(self.path, self.offset)
        mine = [r for r in recs if r.get("api_name") == api.lstrip("/")]
        return mine[-1] if mine else None


def one_click(client, spec: dict, log: StageLog | None) -> dict:
    """One click through the app: its time as the client sees it, and (with a log) its stages on the server."""
    from gradio_client import handle_file
    t0 = time.perf_counter()
    client.predict(*spec["args"](handle_file), api_name=spec["api"])
    out = {"click": time.perf_counter() - t0}
    rec = log.take(spec["api"]) if log is not None else None
    if rec is not None:
        out["stages"] = {**rec["stages"], "transfer": max(0.0, out["click"] - rec["server_s"])}
    return out


def new_clips(path: str, n: int) -> list[str]:
    """n copies of a clip, each with its colours shifted a little differently: as many uploads the app has
    not seen (it remembers clips by their decoded frames), written before any click is timed."""
    frames = media.load_video(path, with_audio=False).frames
    out = []
    for i in range(n):
        shifted = frames.astype(np.int16)
        shifted[..., i % 3] += 1 + i // 3
        out.append(media.save_video(np.clip(shifted, 0, 255).astype(np.uint8), 10.0, name=f"new{i}.mp4"))
    return out


def stage_medians(clicks: list[dict]) -> dict:
    """Per stage, the median seconds over the clicks that have a record (a stage a click skipped counts 0)."""
    recs = [c["stages"] for c in clicks if "stages" in c]
    if not recs:
        return {}
    names = [n for n in (*stages_order(), "transfer") if any(n in r for r in recs)]
    names += sorted({n for r in recs for n in r} - set(names))
    return {n: round(statistics.median(r.get(n, 0.0) for r in recs), 3) for n in names}


def stages_order() -> tuple:
    from core import stages
    return stages.ORDER


def click_times(url: str | dict, tabs: list[str], runs: int, rss: RssSampler | None = None,
                logs: dict | None = None) -> dict:
    """Clicks on each tab's default example. url: one app, or {label: url} of several (the first is the
    app under test, the one `rss` samples); their first clicks, then warm clicks taking turns.
    Returns {tab: {...}} for one app, {label: {tab: {...}}} for several."""
    from gradio_client import Client
    urls = url if isinstance(url, dict) else {"app": url}
    logs = logs or {}
    ins = _tab_inputs()
    clients = {k: Client(u, verbose=False) for k, u in urls.items()}
    out = {k: {} for k in urls}
    floor = {k: [] for k in clients}             # a click that computes nothing: the queue's and client's own cost
    for _ in range(max(3, runs)):
        for k, c in clients.items():
            t0 = time.perf_counter()
            c.predict(api_name=FLOOR_API)
            floor[k].append(time.perf_counter() - t0)
    for k in clients:
        out[k]["_floor"] = summary(floor[k])
    specs, written = [(tab, ins[tab]) for tab in tabs], []
    if "colorization" in tabs:
        written = new_clips(ins["colorization"]["file"], (runs + 1) * len(clients))
        fresh = list(written)
        mask = ins["colorization"]["mask"]
        specs.append((NEW_CLIP, dict(ins["colorization"], args=lambda h: [h(fresh.pop()), h(mask), None, "", 32])))
    for tab, spec in specs:
        first = {k: one_click(c, spec, logs.get(k)) for k, c in clients.items()}
        warm = {k: [] for k in clients}
        for _ in range(runs):
            for k, c in clients.items():
                warm[k].append(one_click(c, spec, logs.get(k)))
        for k in clients:
            res = {"first": round(first[k]["click"], 3), **summary([w["click"] for w in warm[k]])}
            if "stages" in first[k]:
                res["stages_first"] = {n: round(v, 3) for n, v in first[k]["stages"].items()}
            st = stage_medians(warm[k])
            if st:
                res["stages"] = st
            out[k][tab] = res
        if rss is not None:                       # the peak during this tab's clicks, then start afresh
            out[next(iter(urls))][tab]["peak_rss_mb"] = round(rss.peak / 2**20, 1)
            rss.overall = max(rss.overall, rss.peak)
            rss.peak = 0
    for path in written:                          # each in a folder of its own (media.save_video)
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)
    return out if isinstance(url, dict) else out["app"]


# --------------------------------------------------------------------- the table

NOTES = {
    "jigsaw": "3 pictures and 1 plot; the plot is drawn once per distinct answer",
    "sequence_sort": "whole clip decoded (once per content); motion energy; 4 frames",
    "colorization": "32 frames: colour and mask in one pass over the learned pointer, remembered per clip (a "
                    "click carries the mask through the remembered plan); core timed on a new clip (embed, plan, "
                    "carry); raw-pixel baselines cached per clip, mask and settings; 2 videos, each encoded once "
                    "per content",
    "tcc": "both clips embedded; 1 synced video encoded; 4 plots, each drawn once per distinct data",
    "sound_localization": "click maps every frame of the clip; the random-init baseline is cached per clip and sound",
    "videomae": "whole clip reconstructed + 2 baselines (its core stage includes them); 1 video encoded",
    NEW_CLIP: "the default example's 32 frames with their colours shifted a little, a new clip at every click: "
              "embeddings, plan and baselines all computed (the baselines beside the core call)",
    "contrastive": "a batch of 8 narrated clips rendered and embedded, its losses at 7 temperatures; 1 picture, "
                   "2 plots",
}


def stage_table(clicks: dict, tabs: list[str]) -> str:
    """Warm-click medians per stage, in seconds, one row per tab (the stages do not add up to the click
    median exactly: each column is its own median)."""
    seen = {n for tab in tabs for n in (clicks.get(tab, {}).get("stages") or {})}
    names = [n for n in (*stages_order(), "transfer") if n in seen] + sorted(seen - {*stages_order(), "transfer"})
    if not names:
        return ""
    lines = ["| tab | click median | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for tab in tabs:
        k = clicks.get(tab)
        if not k or not k.get("stages"):
            continue
        st = k["stages"]
        lines.append(f"| {tab} | {k['median']:.2f} | " + " | ".join(f"{st.get(n, 0.0):.2f}" for n in names) + " |")
    return "\n".join(lines)


def _rows(result: dict) -> list[str]:
    """The table's rows: each tab, and the colorization click on a new clip when it was measured."""
    return list(result["tabs"]) + ([NEW_CLIP] if NEW_CLIP in result.get("click", {}) else [])


def table(result: dict) -> str:
    budget = result["budget"]
    lines = [f"Machine: {result['machine']}; device {result['device']}; torch {result['torch']}.", "",
             "| tab | core call, median (p90) | click, first | click, warm median (p90) | within budget |",
             "|---|---|---|---|---|"]
    for tab in _rows(result):
        c = result["core"].get(tab)
        k = result.get("click", {}).get(tab)
        core_txt = f"{c['median']:.3f} s ({c['p90']:.3f})" if c else "-"
        first_txt = f"{k['first']:.2f} s" if k else "-"
        click_txt = f"{k['median']:.2f} s ({k['p90']:.2f})" if k else "-"
        first_s = budget.get("first_click_s", budget["click_s"])
        warm_s = first_s if tab == NEW_CLIP else budget["click_s"]      # a new clip at every click: all are first
        ok = (c is None or c["p90"] <= budget["core_s"]) and (k is None or (
            k["median"] <= warm_s and k["first"] <= first_s))
        lines.append(f"| {tab} | {core_txt} | {first_txt} | {click_txt} | {'yes' if ok else '**no**'} |")
    if NEW_CLIP in _rows(result):
        lines += ["", f"{NEW_CLIP}: a clip the app has not seen at every click, so every click is a first one and "
                      f"is held to the first-click budget ({budget.get('first_click_s', budget['click_s']):.0f} s)."]
    app = result.get("app")
    if app:
        lines += ["", f"App: import {app['import_s']:.2f} s; cold start to first HTTP 200 {app['cold_start_s']:.2f} s "
                      f"(budget {budget['cold_start_s']:.0f} s); server memory {app.get('idle_rss_mb', 0):.0f} MB idle, "
                      f"peak {app['peak_rss_mb']:.0f} MB over all clicks (budget {budget['peak_rss_mb']} MB)."]
    floor = result.get("click", {}).get("_floor")
    if floor:
        lines += ["", f"A click that computes nothing ({FLOOR_API}): median {floor['median']:.2f} s "
                      f"(p90 {floor['p90']:.2f}), the queue's and the client's own share of every click."]
    st = stage_table(result.get("click", {}), _rows(result))
    if st:
        lines += ["", "Where a warm click's time goes (medians, seconds):", "", st]
    before = result.get("before")
    if before:
        lines += ["", f"Before and after, in this one run: the app at {before['rev']} and this tree, clicks taking "
                      "turns (load: " + result.get("load", "?") + ").", "",
                  "| tab | first click, before | first click, after | warm median, before | warm median, after |",
                  "|---|---|---|---|---|"]
        for tab in _rows(result):
            b, a = before["click"].get(tab), result.get("click", {}).get(tab)
            if b and a:
                lines.append(f"| {tab} | {b['first']:.2f} s | {a['first']:.2f} s | {b['median']:.2f} s | "
                             f"{a['median']:.2f} s |")
        lines += ["", f"Cold start to first HTTP 200: before {before['cold_start_s']:.2f} s, after "
                      f"{result['app']['cold_start_s']:.2f} s"
                      + (f" (medians of {len(before['cold_start_all_s'])} starts each, taking turns)."
                         if before.get("cold_start_all_s") else ".")]
    return "\n".join(lines)


def main(argv=None) -> int:
    from core.train import available
    ap = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tabs", nargs="*", default=None)
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads for the core calls (default: what app.py gives each handler)")
    ap.add_argument("--no-app", action="store_true", help="core calls only")
    ap.add_argument("--before", default=None, metavar="REV",
                    help="also click the app as it was at git revision REV, taking turns with this one")
    ap.add_argument("--cold-runs", type=int, default=1, metavar="N",
                    help="after the clicks, start each app N more times alone (taking turns with --before) and "
                         "report the median cold start: the first start of this tree shares the cores with the "
                         "other app's arrival work")
    ap.add_argument("--json", default=os.path.join(ROOT, "bench", "results", "latency.json"))
    args = ap.parse_args(argv)
    from app import cpu_threads
    torch.set_num_threads(args.threads or cpu_threads())
    dev = devices.choose(args.device)
    tabs = [t for t in (args.tabs or list(TABS)) if t in available()]
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.processor() or platform.system()}",
              "device": devices.describe(dev), "threads": torch.get_num_threads(), "torch": torch.__version__, "tabs": tabs,
              "budget": {**BUDGET_CPU, **({"core_s": BUDGET_GPU_CORE_S} if dev.type == "cuda" else {})},
              "notes": {t: NOTES.get(t, "") for t in tabs + ([NEW_CLIP] if "colorization" in tabs else [])},
              "core": {}}

    with torch.inference_mode():
        calls = core_calls(dev)
        for tab in tabs:
            calls[tab]()                                    # warm-up: first-touch allocations, kernels
            result["core"][tab] = summary(time_calls(calls[tab], args.runs, dev))
            print(f"core  {tab:20s} median {result['core'][tab]['median']:.3f} s  p90 {result['core'][tab]['p90']:.3f} s",
                  flush=True)
    del calls

    if dev.type == "cuda":
        from bench import parity
        result["parity"] = parity.run(dev)
        print("parity:", json.dumps(result["parity"], indent=1))

    if not args.no_app:
        import tempfile

        from tests.conftest import free_port
        result["load"] = load_text()
        work = tempfile.mkdtemp(prefix="ssl-lab-latency-")
        log = os.path.join(work, "stages.jsonl")
        result_app = {"import_s": import_time()}
        procs = []
        try:
            try:
                urls = {}
                if args.before:
                    old = export_revision(args.before, os.path.join(work, "before"))
                    port_b = free_port()
                    proc_b, cold_b = start_app(port_b, args.device, root=old, log=os.path.join(work, "before.log"))
                    procs.append(proc_b)
                    result["before"] = {"rev": args.before, "cold_start_s": cold_b}
                port = free_port()
                proc, cold = start_app(port, args.device, env={"SSL_LAB_STAGE_LOG": log},
                                       log=os.path.join(work, "app.log"))
                procs.append(proc)
                result_app["cold_start_s"] = cold
                urls["after"] = f"http://127.0.0.1:{port}/"
                if args.before:
                    urls["before"] = f"http://127.0.0.1:{port_b}/"
                rss = RssSampler(proc.pid)
                try:
                    result_app["idle_rss_mb"] = round(rss._rss() / 2**20, 1)
                    clicks = click_times(urls, tabs, args.runs, rss, logs={"after": StageLog(log)})
                finally:
                    result_app["peak_rss_mb"] = rss.stop()
            finally:
                for p in procs:
                    stop_app(p)
            if args.cold_runs > 1:
                roots = {"after": ROOT, **({"before": old} if args.before else {})}
                colds = {k: [] for k in roots}
                for i in range(args.cold_runs):
                    for k in (list(roots) if i % 2 == 0 else list(roots)[::-1]):     # neither always first
                        p, c = start_app(free_port(), args.device, root=roots[k])
                        stop_app(p)
                        colds[k].append(c)
                for res, k in ((result_app, "after"), (result.get("before"), "before")):
                    if res is not None and k in colds:
                        res["cold_start_first_s"] = res["cold_start_s"]
                        res["cold_start_all_s"] = colds[k]
                        res["cold_start_s"] = round(statistics.median(colds[k]), 2)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        result["click"] = clicks["after"]
        if args.before:
            result["before"]["click"] = clicks["before"]
        result["app"] = result_app
        result["load_after"] = load_text()
        for tab in _rows(result):
            k = result["click"][tab]
            print(f"click {tab:20s} first {k['first']:.2f} s  median {k['median']:.2f} s  p90 {k['p90']:.2f} s  "
                  f"peak {k.get('peak_rss_mb', 0):.0f} MB  stages {k.get('stages')}", flush=True)
            if args.before:
                b = result["before"]["click"][tab]
                print(f"      before: first {b['first']:.2f} s  median {b['median']:.2f} s", flush=True)

    text = table(result)
    result["table"] = text
    print()
    print(text)
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(result, f, indent=1)
    print(f"\nwrote {os.path.relpath(args.json, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
