"""The self-supervised video learning lab: one Gradio app, an overview and one tab per method.

    python app.py [--host 127.0.0.1] [--port 7860] [--share] [--device auto|cpu|cuda]

Each tab lives in demos/METHOD.py and exposes build(device), which loads its
model once and lays out its controls inside the current gr.Tab. Adding a
method's tab is one line in TABS.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


TRIM_EVERY_S = float(os.environ.get("SSL_LAB_TRIM_S", 5))


def tune_malloc(arenas: int = 2, trim_every_s: float = TRIM_EVERY_S) -> dict:
    """Keep the server's memory flat under load: glibc's malloc, set from inside the process.

    - At most `arenas` malloc arenas (MALLOC_ARENA_MAX): glibc gives threads their own
      pools; with gradio's worker threads memory crept up by ~50 MB per round of 16
      clients and settled ~300 MB higher than with two (bench.load).
    - Every `trim_every_s` seconds a daemon thread hands the heap's free pages back to
      the system (malloc_trim). glibc keeps freed memory for reuse, and as its mmap
      threshold climbs the frames, tensors and plots of every click land in the heap:
      over 5 rounds of bench.load the peak rose 1712 -> 1986 MB; trimming, 1632-1670 MB
      over 4. A fixed 512 KB mmap threshold kept it at 1346-1423 MB but a colorization
      click alone took 3.1-4.2 s instead of 1.6-2.1 s (every large array mapped and
      zero-filled afresh); trimming leaves allocation alone.

    MALLOC_ARENA_MAX, if set in the environment, is left to glibc (bench.load compares).
    Linux only; elsewhere a no-op. Returns what was set.
    """
    done = {"arenas": False, "trim": False}
    if not sys.platform.startswith("linux"):
        return done
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return done
    if "MALLOC_ARENA_MAX" not in os.environ:
        done["arenas"] = bool(libc.mallopt(-8, arenas))                    # -8: M_ARENA_MAX
    if trim_every_s > 0 and hasattr(libc, "malloc_trim"):
        import threading
        import time

        def trim():
            while True:
                time.sleep(trim_every_s)
                libc.malloc_trim(0)

        threading.Thread(target=trim, name="malloc-trim", daemon=True).start()
        done["trim"] = True
    return done


if __name__ == "__main__":
    tune_malloc()       # before torch and gradio start their threads (and their arenas)

import spaces_gpu  # noqa: E402

spaces_gpu.load_spaces()   # on a ZeroGPU Space only: `import spaces` before torch or gradio touch CUDA

import gradio as gr  # noqa: E402

from core import device as devices  # noqa: E402
from demos import overview  # noqa: E402

# (core method, tab title, demos module): one line per method tab.
TABS: list[tuple[str, str, str]] = [
    ("jigsaw", "Jigsaw", "demos.jigsaw"),
    ("sequence_sort", "Sequence sort", "demos.sequence_sort"),
    ("colorization", "Colorization tracking", "demos.colorization"),
    ("tcc", "TCC alignment", "demos.tcc"),
    ("sound_localization", "Sound localization", "demos.sound_localization"),
    ("videomae", "VideoMAE", "demos.videomae"),
    ("contrastive", "Contrastive", "demos.contrastive"),
]

MAX_FILE_SIZE = "100mb"        # matches core.media.MAX_FILE_MB: larger uploads are refused by the server
QUEUE_SIZE = int(os.environ.get("SSL_LAB_QUEUE_SIZE", 32))   # visitors beyond this are told the queue is full
CONCURRENCY = 2                # events that run at once per handler (CPU Basic, a Space's smallest hardware, has 2 vCPU)
# every 10 min, delete cached files older than an hour; SSL_LAB_CACHE_SWEEP="FREQ,AGE" (seconds) overrides
# (the load tests use a sweep of a few seconds to check that served files really go)
CACHE_SWEEP = tuple(int(v) for v in os.environ.get("SSL_LAB_CACHE_SWEEP", "600,3600").split(","))



CGROUP_ROOT = "/sys/fs/cgroup"      # where this process's cgroup limits are read (tests point it elsewhere)


def _cgroup_cpus(root: str | None = None) -> float | None:
    """The CPU quota of this process's cgroup in cores (cgroup v2 cpu.max, else v1 cfs), or None if unlimited."""
    root = root or CGROUP_ROOT
    try:
        with open(os.path.join(root, "cpu.max")) as f:
            quota, period = (f.read().split() + ["100000"])[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        with open(os.path.join(root, "cpu", "cpu.cfs_quota_us")) as f:
            quota = int(f.read())
        with open(os.path.join(root, "cpu", "cpu.cfs_period_us")) as f:
            period = int(f.read())
        return None if quota <= 0 or period <= 0 else quota / period
    except (OSError, ValueError):
        return None


def available_cores() -> int:
    """The CPU cores this process may use.

    CPU_CORES when set (a Space sets it to its hardware's vCPU); else the fewer of the cores
    the scheduler lets this process run on (sched_getaffinity) and its cgroup's CPU quota
    (a container's limit, which os.cpu_count() does not see: it counts the host's cores);
    else os.cpu_count().
    """
    env = os.environ.get("CPU_CORES", "").strip()
    if env:
        try:
            return max(1, int(float(env)))
        except ValueError:
            pass
    limits = []
    if hasattr(os, "sched_getaffinity"):
        try:
            limits.append(len(os.sched_getaffinity(0)))
        except OSError:
            pass
    quota = _cgroup_cpus()
    if quota is not None:
        limits.append(max(1, int(quota)))          # 1.5 cores of quota: one busy thread, not two
    if limits:
        return max(1, min(limits))
    return os.cpu_count() or 1


def cpu_threads(cores: int | None = None, concurrency: int = CONCURRENCY) -> int:
    """Torch threads per handler: the cores shared by the events that run at once.

    On a 2-core Space two events run at once; with torch's default of one thread
    per core each, four busy threads fight over two cores and a 0.1 s call takes
    over a second (measured: TCC's core call 0.09 s alone at 1 thread, 1.8 s at 2
    threads on a loaded machine). The cores are available_cores() unless given.
    SSL_LAB_THREADS overrides.
    """
    if os.environ.get("SSL_LAB_THREADS"):
        return max(1, int(os.environ["SSL_LAB_THREADS"]))
    return max(1, (cores or available_cores()) // concurrency)


CSS = """
.ssl-note {font-size: 0.9em; opacity: 0.85}
footer {visibility: hidden}
/* a block's label sits above what it labels: never over a figure's title or a frame's caption */
.gradio-container label.float[data-testid="block-label"], .gradio-container .block > label.float {
  position: static !important; margin: 0 0 var(--size-1) 0;}
/* ...and its block grows to hold both (gradio sizes the block for the picture alone); players stay short */
.gradio-container .block:has(> label.float[data-testid="block-label"]:not(.hide)) {height: auto !important;}
.gradio-container .video-container video {max-height: 280px; object-fit: contain}
.gradio-container .ssl-input video {max-height: 180px}
/* formulas scroll sideways on a phone instead of running off the page */
.katex-display, .ssl-formula, .ssl-idea {overflow-x: auto; overflow-y: hidden; max-width: 100%}
.ssl-seen {font-size: 0.92em; opacity: 0.85}
/* a plot keeps its own size, up to its column: its letters stay as large as they were drawn */
.ssl-plot img {max-width: 100%; height: auto}
/* an examples table wraps its words instead of cutting them */
.gradio-container table td, .gradio-container table th {white-space: normal; overflow-wrap: anywhere}
/* ...but a card's table (markdown) breaks only a word too long for the page: its numbers stay whole on a phone */
.gradio-container .prose table td, .gradio-container .prose table th {overflow-wrap: break-word; word-break: normal}
"""


def build_app(device: str = "auto") -> gr.Blocks:
    """Build the whole app on `device` ("auto", "cpu", "cuda", "mps")."""
    dev = devices.choose(device)
    present = {key for key, _, _ in TABS}
    with gr.Blocks(title="Self-supervised video learning lab", delete_cache=CACHE_SWEEP) as demo:
        with gr.Tab("Overview", id="overview"):
            overview.build(dev, present)
        for key, title, module in TABS:
            with gr.Tab(title, id=key):
                importlib.import_module(module).build(dev)
    share_the_cores(demo)
    spaces_gpu.wrap(demo, dev)          # on a ZeroGPU Space: the computing handlers borrow the GPU
    return demo


def share_the_cores(demo: gr.Blocks, concurrency: int = CONCURRENCY) -> None:
    """Every tab's events draw on one pool of `concurrency` slots; live training has one slot of its own.

    Left per event, each of the ~30 events could run `concurrency` at once: under 16
    visitors a dozen handlers shared 2 cores and each click took several times its
    alone time (bench.load). One shared group keeps at most `concurrency` clicks
    computing (one torch thread each, see cpu_threads) and the rest waiting in the
    queue, which gradio shows them; a training run never holds up a click.
    """
    for fn in demo.fns.values():
        if fn.concurrency_limit != "default":
            continue
        if str(fn.api_name or "").endswith("_arrival"):     # serves a kept result: no slot needed to wait in
            fn.concurrency_id, fn.concurrency_limit = "arrival", None
            continue
        training = bool(fn.api_name) and str(fn.api_name).endswith("_train")
        fn.concurrency_id = "train" if training else "compute"
        fn.concurrency_limit = 1 if training else concurrency


def clean_up_at_shutdown(demo: gr.Blocks) -> None:
    """Leave no visitor's files behind when the server stops, on Ctrl-C and on SIGTERM alike.

    A Space or a process manager stops the app with SIGTERM, which by default ends
    Python at once: bench.load found 87 cached files and 290 output files left.
    SIGTERM is turned into the KeyboardInterrupt that gradio handles as Ctrl-C, and
    at exit the served files and the output folders this process made (core.media)
    go. gradio deletes its files itself only at a clean server shutdown, which never
    comes while a visitor's page is still connected (uvicorn waits for the open
    connections, gradio gives it 5 s), so its own deleter is called here too; the
    bundled examples it copied in at start (keep_in_cache) stay.
    """
    import atexit
    import signal

    from gradio.route_utils import delete_files_created_by_app

    from core import media

    atexit.register(media.remove_own_temp)
    atexit.register(delete_files_created_by_app, demo, None)

    def _interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, _interrupt)
    except ValueError:          # not the main thread (embedded): atexit still runs
        pass


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="Self-supervised video learning lab (Gradio app)")
    ap.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                    help="address to listen on (0.0.0.0 to serve a network; default %(default)s)")
    ap.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)),
                    help="port (default %(default)s)")
    ap.add_argument("--share", action="store_true", help="also open a public gradio.live link (off by default)")
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"),
                    help="where the models run (default: CUDA, then MPS, then CPU)")
    return ap.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch
    torch.set_num_threads(cpu_threads())
    try:
        demo = build_app(args.device)
    except ValueError as err:          # e.g. --device cuda on a machine without a GPU
        print(f"error: {err}", file=sys.stderr)
        return 2
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=CONCURRENCY)
    clean_up_at_shutdown(demo)
    from demos import stages
    stages.install(demo)                # only with SSL_LAB_STAGE_LOG set: bench.latency's stage breakdown
    demo.launch(server_name=args.host, server_port=args.port, share=args.share,
                max_file_size=MAX_FILE_SIZE, theme=gr.themes.Soft(), css=CSS, show_error=True,
                prevent_thread_lock=True)
    if not spaces_gpu.on_zero_gpu():        # on ZeroGPU the first visitor's arrival borrows the GPU instead
        from demos import tab
        tab.warm(demo)                      # every tab's default example, after the server already answers
    demo.block_thread()
    return 0


if __name__ == "__main__":
    sys.exit(main())
