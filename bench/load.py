"""Many users at once: every answer under load equals the answer the same input gets alone.

    python -m bench.load [--clients 16] [--requests 10] [--rounds 2] [--trainers 1] [--quick] [--json PATH]

Starts the app on loopback in a subprocess (its own GRADIO_TEMP_DIR and TMPDIR, one
thread per torch op), then:

1. alone: every distinct input (bundled examples of each tab, and a few generated
   uploads that are not bundled) is sent by one client, one at a time, twice; the
   second answer must equal the first (a handler that differs here is not
   deterministic for the same input, which is reported, not hidden);
2. under load, for each round: `--clients` gradio_client.Client objects (each its own
   session and download folder) spread over every tab, each sending `--requests`
   requests back to back, all starting together; every answer is compared with the
   alone answer. The same clients (sessions) go on from round to round, so memory
   that grows across rounds is not the gr.State of new visitors (--fresh-sessions
   makes new ones). Meanwhile `--trainers` more visitors (default 1) keep running
   live training (a few steps from the shipped model, in their own gr.State):
   nobody else's answer may change because of it.

Answers are compared output by output: text and numbers exactly (the one timing the
colorization summary prints is masked); images and plots by their decoded pixels;
videos by the bytes of the file (H.264 here is deterministic), falling back to the
decoded frames if the bytes differ.

Queue wait is read from the job status updates: the time from submit to the server's
`process_starts` message (it includes the upload on loopback, a few ms). Latency is
submit to the answer in hand (downloads included). Peak memory: the RSS of the server
process and its children (ffmpeg), sampled every 0.1 s, per phase; "settled" is the
RSS a few seconds after the round ends.

Prints a table and writes JSON (default bench/results/load.json).
"""
from __future__ import annotations

import argparse
import base64
import dataclasses
import hashlib
import io
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

EXAMPLES = os.path.join(ROOT, "assets", "examples")
TAB_ORDER = ["jigsaw", "sequence_sort", "colorization", "tcc", "sound_localization", "videomae", "contrastive"]
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


# --------------------------------------------------------------------- the server

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the app exited with code {proc.returncode} before serving")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return time.monotonic() - t0
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def server_env(workdir: str, threads: int = 1, extra: dict | None = None) -> dict:
    """Environment of a private app: its own temp folders, `threads` threads per torch op, offline."""
    env = dict(os.environ)
    for k in THREAD_ENV:
        env[k] = str(threads)
    gtmp, tmp = os.path.join(workdir, "gradio"), os.path.join(workdir, "tmp")
    os.makedirs(gtmp, exist_ok=True)
    os.makedirs(tmp, exist_ok=True)
    env.update(GRADIO_TEMP_DIR=gtmp, TMPDIR=tmp, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1",
               MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
    env.update(extra or {})
    return env


def start_server(port: int, env: dict, log_path: str) -> subprocess.Popen:
    log = open(log_path, "w")
    return subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port),
                             "--device", "cpu"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


class RssSampler(threading.Thread):
    """Samples the RSS of a process and of it with its children; keeps the peaks per phase."""

    def __init__(self, pid: int, every: float = 0.1):
        super().__init__(daemon=True)
        import psutil
        self.proc = psutil.Process(pid)
        self.every = every
        self.phase = "start"
        self.peaks: dict[str, tuple[int, int]] = {}     # phase -> (server, server + children)
        self._stop = threading.Event()

    def rss(self) -> tuple[int, int]:
        """(RSS of the server process, RSS of it and its children such as ffmpeg)."""
        import psutil
        try:
            main = self.proc.memory_info().rss
            children = self.proc.children(recursive=True)
        except psutil.Error:
            return 0, 0
        total = main
        for p in children:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return main, total

    def run(self) -> None:
        while not self._stop.is_set():
            main, tree = self.rss()
            old = self.peaks.get(self.phase, (0, 0))
            self.peaks[self.phase] = (max(old[0], main), max(old[1], tree))
            time.sleep(self.every)

    def stop(self) -> None:
        self._stop.set()


# --------------------------------------------------------------------- the inputs

@dataclasses.dataclass
class Case:
    name: str          # unique: tab/what
    tab: str
    api: str
    args: list         # plain values, and file paths marked by File(...)


@dataclasses.dataclass
class File:
    path: str


def make_uploads(folder: str) -> dict[str, str]:
    """Inputs that are not bundled, as a visitor's own files: a generated photo and a generated clip."""
    import numpy as np
    from PIL import Image

    from core import media, synthetic

    os.makedirs(folder, exist_ok=True)
    out = {}
    img = synthetic.dead_leaves(seed=4242, size=200)
    out["photo"] = os.path.join(folder, "my_photo.png")
    Image.fromarray(img).save(out["photo"])
    frames, _ = synthetic.action_video(seed=777, frames=24, size=96)
    src = media.save_video(np.asarray(frames), 12.0, name="my_clip.mp4")
    out["clip"] = os.path.join(folder, "my_clip.mp4")
    shutil.copyfile(src, out["clip"])
    shutil.rmtree(os.path.dirname(src), ignore_errors=True)
    return out


def cases(uploads: dict[str, str]) -> list[Case]:
    """The distinct inputs, a few per tab: bundled examples and the generated uploads."""
    E = lambda rel: File(os.path.join(EXAMPLES, rel))  # noqa: E731
    col = lambda name: [E(f"colorization/{name}.mp4"), E(f"colorization/{name}_mask.png"), None, name, 16]  # noqa
    return [
        Case("jigsaw/astronaut k7", "jigsaw", "/jigsaw_solve", [E("photos/astronaut.jpg"), 7, False]),
        Case("jigsaw/cat k42", "jigsaw", "/jigsaw_solve", [E("photos/cat.jpg"), 42, False]),
        Case("jigsaw/coffee k0", "jigsaw", "/jigsaw_solve", [E("photos/coffee.jpg"), 0, False]),
        Case("jigsaw/upload k13", "jigsaw", "/jigsaw_solve", [File(uploads["photo"]), 13, False]),
        Case("sequence_sort/bikes s0", "sequence_sort", "/sequence_sort_sort", [E("clips/bikes.mp4"), "auto", "random", 0]),
        Case("sequence_sort/city s3", "sequence_sort", "/sequence_sort_sort", [E("clips/city.mp4"), "auto", "random", 3]),
        Case("sequence_sort/upload 3142", "sequence_sort", "/sequence_sort_sort",
             [File(uploads["clip"]), "auto", "3 1 4 2", 1]),
        Case("colorization/sprites_a", "colorization", "/colorization_track", col("sprites_a")),
        Case("colorization/pedestrians", "colorization", "/colorization_track", col("pedestrians")),
        Case("colorization/city", "colorization", "/colorization_track", col("city")),
        Case("tcc/throw a-b", "tcc", "/tcc_align", [E("tcc/throw_a.mp4"), E("tcc/throw_b.mp4"), ""]),
        Case("tcc/throw c-d", "tcc", "/tcc_align", [E("tcc/throw_c.mp4"), E("tcc/throw_d.mp4"), ""]),
        Case("tcc/retimed", "tcc", "/tcc_align", [E("tcc/retimed_1.mp4"), E("tcc/retimed_2.mp4"), ""]),
        Case("sound_localization/three own", "sound_localization", "/sound_localization_localize",
             [E("sound_localization/three_objects.mp4"), "its own sound", "bunny (real)", 0.5, "shipped model"]),
        Case("sound_localization/switching other", "sound_localization", "/sound_localization_localize",
             [E("sound_localization/switching_sounds.mp4"), "another clip's sound", "three objects (generated)",
              1.5, "shipped model"]),
        Case("sound_localization/photo silence", "sound_localization", "/sound_localization_localize",
             [E("sound_localization/photo_background.mp4"), "silence", "bunny (real)", 2.0, "shipped model"]),
        Case("videomae/bikes tube s0", "videomae", "/videomae_reconstruct", [E("clips/bikes.mp4"), 0.9, "tube", 0]),
        Case("videomae/city random s1", "videomae", "/videomae_reconstruct", [E("clips/city.mp4"), 0.75, "random", 1]),
        Case("videomae/upload tube s2", "videomae", "/videomae_reconstruct", [File(uploads["clip"]), 0.9, "tube", 2]),
        Case("contrastive/batch default", "contrastive", "/contrastive_batch",
             ["shift 3, 30% unrelated", "MIL-NCE (bag of 5)", 0.1, 7, 0]),
        Case("contrastive/batch aligned infonce", "contrastive", "/contrastive_batch",
             ["aligned (shift 0, 0% unrelated)", "InfoNCE (one positive)", 0.05, 15, 3]),
        Case("contrastive/retrieve", "contrastive", "/contrastive_retrieve", ["the red disc moves left"]),
    ]


def train_cases() -> list[Case]:
    """Live training events (few steps, from the shipped model): a trainer visitor runs them during the load,
    so that the answers the others get are checked while somebody trains in their own session."""
    E = lambda rel: File(os.path.join(EXAMPLES, rel))  # noqa: E731
    return [
        Case("train/jigsaw 10", "jigsaw", "/jigsaw_train", [E("photos/cat.jpg"), 10, "from the shipped model"]),
        Case("train/videomae 5", "videomae", "/videomae_train", [E("clips/city.mp4"), 5, "the shipped model", "this clip"]),
        Case("train/sequence_sort 10", "sequence_sort", "/sequence_sort_train",
             [E("clips/bikes.mp4"), False, "the shipped model", 10]),
        Case("train/sound_localization 5", "sound_localization", "/sound_localization_train",
             [5, "continue from the shipped model", False, E("sound_localization/three_objects.mp4")]),
    ]


def call_args(case: Case) -> list:
    from gradio_client import handle_file
    return [handle_file(a.path) if isinstance(a, File) else a for a in case.args]


# --------------------------------------------------------------------- comparing answers

IMAGE_EXT = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp")
VIDEO_EXT = (".mp4", ".webm", ".mov", ".avi")
# Text that legitimately changes from call to call: masked before comparing (and listed in the JSON).
VOLATILE = [
    ("colorization_track: elapsed seconds", re.compile(r"\d+(?:\.\d+)? s\.(?=</span>)"), "<elapsed> s."),
]


def _pixels_digest(data: bytes | str) -> str:
    import numpy as np
    from PIL import Image
    im = Image.open(io.BytesIO(data) if isinstance(data, bytes) else data)
    im.load()
    a = np.asarray(im)
    return f"pixels:{a.shape}:{hashlib.sha256(a.tobytes()).hexdigest()[:16]}"


def digest(value):
    """A comparable form of one output: text as is, pictures as pixel hashes, videos as byte hashes."""
    if isinstance(value, str):
        if os.path.isfile(value):
            ext = os.path.splitext(value)[1].lower()
            if ext in IMAGE_EXT:
                try:
                    return _pixels_digest(value)
                except Exception:  # noqa: BLE001  (an empty or cut image: a mismatch, not a crash)
                    return f"undecodable image ({os.path.getsize(value)} bytes)"
            with open(value, "rb") as f:
                return f"{'video' if ext in VIDEO_EXT else 'file'}:{hashlib.sha256(f.read()).hexdigest()[:16]}"
        for _, rx, sub in VOLATILE:
            value = rx.sub(sub, value)
        return value
    if isinstance(value, dict):
        if isinstance(value.get("plot"), str) and value["plot"].startswith("data:image"):
            return f"plot:{_pixels_digest(base64.b64decode(value['plot'].split(',', 1)[1]))}"
        return json.dumps({k: digest(v) for k, v in sorted(value.items())}, sort_keys=True, default=str)
    if isinstance(value, (list, tuple)):
        return [digest(v) for v in value]
    if isinstance(value, float):
        return round(value, 6)
    return value


def video_frames_equal(a: str, b: str) -> bool:
    """Decoded frames equal (for two mp4 files whose bytes differ)."""
    import numpy as np

    from core import media
    try:
        va = media.load_video(a, max_seconds=None, max_side=None)
        vb = media.load_video(b, max_seconds=None, max_side=None)
    except Exception:  # noqa: BLE001
        return False
    return va.frames.shape == vb.frames.shape and bool(np.array_equal(va.frames, vb.frames))


def compare(expected_raw, expected, got_raw, got) -> list[int]:
    """Indices of the outputs that differ (videos whose bytes differ are compared frame by frame)."""
    bad = []
    exp_raw = expected_raw if isinstance(expected_raw, tuple) else (expected_raw,)
    got_raw_t = got_raw if isinstance(got_raw, tuple) else (got_raw,)
    exp = expected if isinstance(expected, list) and isinstance(expected_raw, tuple) else [expected]
    gd = got if isinstance(got, list) and isinstance(got_raw, tuple) else [got]
    if len(exp) != len(gd):
        return [-1]
    for i, (e, g) in enumerate(zip(exp, gd)):
        if e == g:
            continue
        if isinstance(e, str) and e.startswith("video:") and isinstance(g, str) and g.startswith("video:") \
                and video_frames_equal(exp_raw[i], got_raw_t[i]):
            continue
        bad.append(i)
    return bad


# --------------------------------------------------------------------- running requests

def recording_jobs() -> None:
    """Make every gradio_client job keep its status history with monotonic times (for the queue wait)."""
    from gradio_client import client as gc_client
    from gradio_client.utils import JobStatus

    if getattr(gc_client.JobStatus, "_records", False):
        return

    class RecordingJobStatus(JobStatus):
        _records = True

        def __setattr__(self, name, value):
            if name == "latest_status":
                hist = self.__dict__.setdefault("history", [])
                hist.append((getattr(value.code, "value", str(value.code)), time.monotonic()))
            super().__setattr__(name, value)

    gc_client.JobStatus = RecordingJobStatus


def run_one(client, case: Case) -> dict:
    """Send one request; returns timings, the raw answer and any error."""
    t0 = time.monotonic()
    rec = {"case": case.name, "tab": case.tab, "t_submit": t0}
    try:
        job = client.submit(*call_args(case), api_name=case.api)
        out = job.result(timeout=600)
        t1 = time.monotonic()
        hist = getattr(job.communicator.job, "history", []) if job.communicator else []
        starts = [t for code, t in hist if code == "PROCESSING"]
        rec.update(ok=True, out=out, latency=t1 - t0, t_done=t1,
                   queue_wait=(starts[0] - t0) if starts else None)
    except Exception as err:  # noqa: BLE001
        rec.update(ok=False, error=f"{type(err).__name__}: {err}", latency=time.monotonic() - t0)
    return rec


def make_client(url: str, folder: str):
    from gradio_client import Client
    os.makedirs(folder, exist_ok=True)
    return Client(url, verbose=False, download_files=folder)


def alone(url: str, all_cases: list[Case], folder: str, repeats: int = 2, log=print) -> dict:
    """Each distinct input by itself, `repeats` times in a row; the first answer is the reference."""
    client = make_client(url, folder)
    ref = {}
    for case in all_cases:
        runs = []
        for _ in range(repeats):
            r = run_one(client, case)
            if not r["ok"]:
                raise RuntimeError(f"{case.name} failed alone: {r['error']}")
            r["digest"] = digest(r["out"])
            runs.append(r)
        first = runs[0]
        differs = [compare(first["out"], first["digest"], r["out"], r["digest"]) for r in runs[1:]]
        ref[case.name] = {"out": first["out"], "digest": first["digest"],
                          "latency": min(r["latency"] for r in runs),
                          "deterministic": not any(differs),
                          "differing_outputs": sorted({i for d in differs for i in d})}
        log(f"  alone {case.name:38s} {ref[case.name]['latency']:6.2f} s"
            + ("" if ref[case.name]["deterministic"] else f"   NOT deterministic: outputs {differs}"))
    return ref


def plan(n_clients: int, n_requests: int, all_cases: list[Case]) -> list[list[Case]]:
    """Client i works on tab i mod 6 (every tab gets clients), cycling through that tab's inputs."""
    by_tab = {t: [c for c in all_cases if c.tab == t] for t in TAB_ORDER}
    tabs = [t for t in TAB_ORDER if by_tab[t]]
    out = []
    for i in range(n_clients):
        mine = by_tab[tabs[i % len(tabs)]]
        out.append([mine[(i // len(tabs) + j) % len(mine)] for j in range(n_requests)])
    return out


def load_round(clients: list, work: list[list[Case]], trainers: list | None = None) -> list[dict]:
    """All clients start together; each sends its requests back to back. Each trainer client, if any,
    runs live-training events in its own session until the others are done (results marked train=True)."""
    trainers = trainers or []
    barrier = threading.Barrier(len(work) + len(trainers))
    results: list[list[dict]] = [[] for _ in work]
    trained: list[list[dict]] = [[] for _ in trainers]
    done = threading.Event()

    def worker(i):
        barrier.wait()
        for case in work[i]:
            r = run_one(clients[i], case)
            r["client"] = i
            results[i].append(r)

    def trainer(k):
        barrier.wait()
        todo = train_cases()
        j = k
        while not done.is_set():
            r = run_one(trainers[k], todo[j % len(todo)])
            r.update(client=f"trainer{k}", train=True)
            trained[k].append(r)
            j += 1

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(len(work))]
    extra = [threading.Thread(target=trainer, args=(k,), daemon=True) for k in range(len(trainers))]
    for t in threads + extra:
        t.start()
    for t in threads:
        t.join()
    done.set()
    for t in extra:
        t.join()
    return [r for rs in results for r in rs] + [r for rs in trained for r in rs]


def close_all(clients: list) -> None:
    for c in clients:
        try:
            c.close()
        except Exception:  # noqa: BLE001
            pass


def percentiles(values: list[float]) -> dict:
    import numpy as np
    v = [x for x in values if x is not None]
    if not v:
        return {"n": 0}
    a = np.asarray(v)
    return {"n": len(v), "p50": float(np.percentile(a, 50)), "p90": float(np.percentile(a, 90)),
            "p99": float(np.percentile(a, 99)), "max": float(a.max()), "mean": float(a.mean())}


def folder_stats(path: str) -> dict:
    files, size = 0, 0
    for dirpath, _, names in os.walk(path):
        for n in names:
            try:
                size += os.path.getsize(os.path.join(dirpath, n))
                files += 1
            except OSError:
                pass
    return {"files": files, "mb": round(size / 2**20, 2)}


# --------------------------------------------------------------------- main

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, help="concurrent clients (default 16; --quick 6)")
    ap.add_argument("--requests", type=int, help="requests per client per round (default 10; --quick 3)")
    ap.add_argument("--rounds", type=int, help="load rounds, memory growth is judged across them (default 2)")
    ap.add_argument("--alone-repeats", type=int,
                    help="alone runs per input; 2 or more checks determinism (default 2; --quick 1)")
    ap.add_argument("--fresh-sessions", action="store_true",
                    help="new clients (sessions) every round; by default the same visitors keep clicking, so "
                         "memory growth across rounds means a leak, not the gr.State each new visitor keeps")
    ap.add_argument("--trainers", type=int, default=1,
                    help="extra visitors that run live training (few steps) in their own session during each "
                         "round; their runs must not fail, and must not change anybody else's answers")
    ap.add_argument("--malloc-arena-max", type=int,
                    help="start the server with MALLOC_ARENA_MAX=N (glibc): without it, RSS creeps up across "
                         "rounds from per-thread malloc arenas; with 2 it levels off")
    ap.add_argument("--threads", type=int, default=1, help="torch/BLAS threads per op in the server")
    ap.add_argument("--quick", action="store_true", help="6 clients x 3 requests, 2 rounds, one alone run each")
    ap.add_argument("--json", default=os.path.join(ROOT, "bench", "results", "load.json"))
    ap.add_argument("--keep", action="store_true", help="keep the work folder (server log, downloads)")
    args = ap.parse_args(argv)
    for name, full, quick in (("clients", 16, 6), ("requests", 10, 3), ("rounds", 2, 2), ("alone_repeats", 2, 1)):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    return args


def fmt(p: dict) -> str:
    return f"{p['p50']:6.2f} {p['p90']:6.2f} {p['p99']:6.2f}" if p.get("n") else "     -      -      -"


def main(argv=None) -> int:
    args = parse_args(argv)
    recording_jobs()
    work_dir = tempfile.mkdtemp(prefix="ssl-lab-load-")
    t_start = time.monotonic()
    port = free_port()
    env = server_env(os.path.join(work_dir, "server"), args.threads,
                     {"MALLOC_ARENA_MAX": str(args.malloc_arena_max)} if args.malloc_arena_max else None)
    log_path = os.path.join(work_dir, "server.log")
    os.environ["TMPDIR"] = os.path.join(work_dir, "bench-tmp")   # the generated uploads' scratch
    os.makedirs(os.environ["TMPDIR"], exist_ok=True)
    tempfile.tempdir = None
    proc = start_server(port, env, log_path)
    url = f"http://127.0.0.1:{port}/"
    sampler = None
    report: dict = {"config": {"clients": args.clients, "requests": args.requests, "rounds": args.rounds,
                               "alone_repeats": args.alone_repeats, "server_threads_per_op": args.threads,
                               "fresh_sessions_each_round": args.fresh_sessions, "trainers": args.trainers,
                               "malloc_arena_max": args.malloc_arena_max,
                               "cpus": os.cpu_count(), "machine": platform.platform(),
                               "python": platform.python_version()}}
    try:
        startup = wait_http(url, timeout=300, proc=proc)
        sampler = RssSampler(proc.pid)
        sampler.start()
        print(f"app up on {url} in {startup:.1f} s; server RSS {sampler.rss()[0] / 2**20:.0f} MB")
        uploads = make_uploads(os.path.join(work_dir, "uploads"))
        all_cases = cases(uploads)
        print(f"alone: {len(all_cases)} distinct inputs over {len({c.tab for c in all_cases})} tabs, "
              f"{args.alone_repeats} run(s) each")
        sampler.phase = "alone"
        ref = alone(url, all_cases, os.path.join(work_dir, "alone"), args.alone_repeats)
        report["startup_s"] = startup
        report["alone"] = {k: {"latency_s": v["latency"], "deterministic": v["deterministic"],
                               "differing_outputs": v["differing_outputs"]} for k, v in ref.items()}
        report["volatile_text_masked"] = [name for name, _, _ in VOLATILE]
        work = plan(args.clients, args.requests, all_cases)
        rounds, clients, trainers = [], [], []
        for rnd in range(args.rounds):
            sampler.phase = f"round{rnd + 1}"
            if rnd == 0 or args.fresh_sessions:
                close_all(clients + trainers)
                clients = [make_client(url, os.path.join(work_dir, f"round{rnd + 1}", f"client{i:02d}"))
                           for i in range(len(work))]
                trainers = [make_client(url, os.path.join(work_dir, f"round{rnd + 1}", f"trainer{k}"))
                            for k in range(args.trainers)]
            t0 = time.monotonic()
            res = load_round(clients, work, trainers)
            n_train = sum(1 for r in res if r.get("train"))
            wall = time.monotonic() - t0
            sampler.phase = f"round{rnd + 1}-settle"
            time.sleep(3)
            settled = sampler.rss()[0]
            fails, mism = [], []
            for r in res:
                if not r["ok"]:
                    fails.append({"client": r["client"], "case": r["case"], "error": r["error"]})
                    continue
                if r.get("train"):
                    continue
                r["digest"] = digest(r["out"])
                e = ref[r["case"]]
                bad = compare(e["out"], e["digest"], r["out"], r["digest"])
                if bad:
                    mism.append({"client": r["client"], "case": r["case"], "outputs": bad,
                                 "alone_deterministic": e["deterministic"]})
                r["over_alone"] = r["latency"] - e["latency"]
            ok = [r for r in res if r["ok"] and not r.get("train")]
            per_tab = {t: percentiles([r["latency"] for r in ok if r["tab"] == t]) for t in TAB_ORDER}
            rounds.append({
                "round": rnd + 1, "requests": len(res) - n_train, "train_requests": n_train,
                "failures": len(fails), "mismatches": len(mism),
                "wall_s": wall, "throughput_rps": len(res) / wall,
                "latency_s": percentiles([r["latency"] for r in ok]),
                "queue_wait_s": percentiles([r["queue_wait"] for r in ok]),
                "queue_wait_from_status_updates": sum(r["queue_wait"] is not None for r in ok),
                "latency_over_alone_s": percentiles([r["over_alone"] for r in ok]),
                "latency_per_tab_s": per_tab,
                "peak_rss_mb": sampler.peaks.get(f"round{rnd + 1}", (0, 0))[0] / 2**20,
                "peak_rss_with_children_mb": sampler.peaks.get(f"round{rnd + 1}", (0, 0))[1] / 2**20,
                "settled_rss_mb": settled / 2**20,
                "failure_list": fails[:20], "mismatch_list": mism[:20]})
            rr = rounds[-1]
            print(f"round {rnd + 1}: {rr['requests']} requests (+{n_train} live-training runs) in {wall:.0f} s, "
                  f"failures {rr['failures']}, "
                  f"mismatches {rr['mismatches']}, peak RSS {rr['peak_rss_mb']:.0f} MB, "
                  f"settled {rr['settled_rss_mb']:.0f} MB")
            for f in fails[:5]:
                print("   failure:", f)
            for m in mism[:5]:
                print("   mismatch:", m)
        report["rounds"] = rounds
        close_all(clients + trainers)
        report["peak_rss_mb"] = {k: {"server": v[0] / 2**20, "with_children": v[1] / 2**20}
                                 for k, v in sampler.peaks.items()}
        peaks = [r["peak_rss_mb"] for r in rounds]
        settled = [r["settled_rss_mb"] for r in rounds]
        tol = max(64.0, 0.05 * peaks[0])
        # round 1 also fills each session's gr.State and the caches: with 3+ rounds judge from round 2 on
        base = 1 if len(rounds) >= 3 else 0
        growth = {"peak_first_to_last_mb": peaks[-1] - peaks[0], "settled_first_to_last_mb": settled[-1] - settled[0],
                  "judged_from_round": base + 1, "tolerance_mb": tol,
                  "grows": len(rounds) > 1 and (peaks[-1] - peaks[base] > tol and settled[-1] - settled[base] > tol)}
        report["memory_growth"] = growth
        report["temp_before_shutdown"] = {"gradio_cache": folder_stats(env["GRADIO_TEMP_DIR"]),
                                          "app_outputs": folder_stats(os.path.join(env["TMPDIR"], "ssl-video-lab"))}
    except Exception:
        traceback.print_exc()
        print("server log tail:\n" + open(log_path).read()[-3000:])
        return 1
    finally:
        if sampler is not None:
            sampler.stop()
        stop_server(proc)
    report["temp_after_run"] = {"gradio_cache": folder_stats(env["GRADIO_TEMP_DIR"]),
                                "app_outputs": folder_stats(os.path.join(env["TMPDIR"], "ssl-video-lab"))}
    report["total_s"] = time.monotonic() - t_start
    report["failures"] = sum(r["failures"] for r in rounds)
    report["mismatches"] = sum(r["mismatches"] for r in rounds)
    report["nondeterministic_alone"] = [k for k, v in ref.items() if not v["deterministic"]]

    print()
    print(f"{'':10s} {'reqs':>5s} {'fail':>5s} {'mism':>5s} {'wall s':>7s} | {'latency s p50    p90    p99':>27s} | "
          f"{'queue wait s p50 p90    p99':>27s} | {'peak RSS MB':>11s} {'settled':>8s}")
    for r in rounds:
        print(f"round {r['round']:<4d} {r['requests']:5d} {r['failures']:5d} {r['mismatches']:5d} {r['wall_s']:7.0f} | "
              f"{fmt(r['latency_s']):>27s} | {fmt(r['queue_wait_s']):>27s} | {r['peak_rss_mb']:11.0f} "
              f"{r['settled_rss_mb']:8.0f}")
    print(f"\nlatency per tab over all rounds (s, p50 p90 p99) and alone (min of {args.alone_repeats}):")
    for t in TAB_ORDER:
        alone_t = [v["latency"] for k, v in ref.items() if k.startswith(t + "/")]
        per_round = " | ".join(fmt(r["latency_per_tab_s"][t]) for r in rounds)
        print(f"  {t:20s} {per_round}   alone {min(alone_t):.2f}-{max(alone_t):.2f}")
    g = report["memory_growth"]
    print(f"\npeak server RSS: alone {report['peak_rss_mb'].get('alone', {}).get('server', 0):.0f} MB; rounds "
          + ", ".join(f"{p:.0f}" for p in peaks) + " MB (with ffmpeg children: "
          + ", ".join(f"{r['peak_rss_with_children_mb']:.0f}" for r in rounds) + f" MB); growth first->last {g['peak_first_to_last_mb']:+.0f} MB "
          f"(settled {g['settled_first_to_last_mb']:+.0f} MB, tolerance {g['tolerance_mb']:.0f}): "
          + ("GROWS" if g["grows"] else "bounded"))
    print(f"queue wait: from job status updates (submit -> process_starts), "
          f"{sum(r['queue_wait_from_status_updates'] for r in rounds)}/{sum(r['requests'] for r in rounds)} requests")
    print(f"not deterministic alone: {report['nondeterministic_alone'] or 'none'}; text masked before comparing: "
          + "; ".join(report["volatile_text_masked"]))
    print(f"temp files before shutdown: {report['temp_before_shutdown']}; "
          f"after: {report['temp_after_run']}")
    print(f"TOTAL failures {report['failures']}, mismatches {report['mismatches']}, "
          f"run {report['total_s']:.0f} s")
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(report, f, indent=1, default=str)
    print(f"wrote {args.json}")
    if args.keep:
        print(f"work folder kept: {work_dir}")
    else:
        shutil.rmtree(work_dir, ignore_errors=True)
    return 0 if report["failures"] == 0 and report["mismatches"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
