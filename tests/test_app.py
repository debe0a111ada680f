"""The app shell: it builds, its CLI works, the layout rules hold."""
from __future__ import annotations

import ast
import glob
import importlib
import json
import os
import subprocess
import sys

import gradio as gr
import pytest
import torch

import app
from core import device as devices
from tests.conftest import ROOT


def test_app_builds_with_overview_and_every_listed_tab():
    demo = app.build_app("cpu")
    assert isinstance(demo, gr.Blocks)
    tabs = [b for b in demo.blocks.values() if isinstance(b, gr.Tab)]
    labels = [t.label for t in tabs]
    assert labels[0] == "Overview"
    assert labels[1:] == [title for _, title, _ in app.TABS]
    # each tab says in one line what its shipped model learned from, and where it was measured
    seen = {b.elem_id: b.value for b in demo.blocks.values() if (b.elem_id or "").endswith("-seen")}
    assert sorted(seen) == sorted(f"{m}-seen" for m, _, _ in app.TABS)
    for text in seen.values():
        assert text.startswith("**What its model has seen:**") and "measured on" in text


EVENTS = {"click", "change", "submit", "upload", "select", "input", "release", "load", "play", "pause",
          "stop", "end", "clear", "edit", "apply", "tick", "then", "success", "focus", "blur", "like"}


NOT_COMPONENTS = {"np", "torch", "json", "pickle", "Image", "os", "re", "str",
                  "_BESIDE"}   # e.g. np.load(...) is no event, nor a thread pool's submit(...)


def test_every_event_has_an_api_name():
    """Every `.click(...)`, `.change(...)`, ... wired in demos/ names its API endpoint."""
    missing = []
    for path in glob.glob(os.path.join(ROOT, "demos", "*.py")) + [os.path.join(ROOT, "app.py")]:
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in EVENTS \
                    and node.args and not any(k.arg == "api_name" for k in node.keywords) \
                    and not (isinstance(node.func.value, ast.Name) and node.func.value.id in NOT_COMPONENTS):
                missing.append(f"{os.path.basename(path)}:{node.lineno} .{node.func.attr}(...)")
    assert not missing, f"events without an api_name: {missing}"


def test_tab_modules_exist_and_run_alone():
    for key, _, module in app.TABS:
        mod = importlib.import_module(module)
        assert callable(getattr(mod, "build", None))
        assert os.path.isfile(os.path.join(ROOT, "core", key, "model.py"))      # one package per method
        src = open(mod.__file__).read()
        assert '__name__ == "__main__"' in src


def test_help_lists_the_flags():
    out = subprocess.run([sys.executable, "app.py", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0
    for flag in ("--host", "--port", "--share", "--device"):
        assert flag in out.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_asking_for_a_missing_gpu_is_a_clear_error():
    out = subprocess.run([sys.executable, "app.py", "--device", "cuda", "--port", "0"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "no CUDA GPU" in out.stderr


def test_share_is_off_by_default():
    assert app.parse_args([]).share is False


def test_device_choice():
    assert devices.resolve("cpu") == torch.device("cpu")
    assert devices.resolve("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(ValueError, match="unknown device"):
        devices.resolve("tpu")
    assert "CPU" in devices.describe(torch.device("cpu"))


def test_core_never_imports_gradio():
    paths = glob.glob(os.path.join(ROOT, "core", "**", "*.py"), recursive=True)
    assert any(os.sep + os.path.join("tcc", "model.py") in p for p in paths)       # the packages are read too
    for path in paths:
        tree = ast.parse(open(path).read())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.split(".")[0] == "gradio" for n in names), f"{path} imports gradio"


def test_train_cli_lists_the_methods_present():
    out = subprocess.run([sys.executable, "-m", "core.train", "--help"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and "core.train" in out.stdout


def test_events_share_the_cores():
    """Clicks of every tab draw on one pool of slots; live training has its own single slot."""
    import app
    demo = app.build_app("cpu")
    groups = {(fn.concurrency_id, fn.concurrency_limit) for fn in demo.fns.values() if fn.queue}
    assert groups == {("compute", app.CONCURRENCY), ("train", 1), ("arrival", None)}
    arrivals = {fn.api_name for fn in demo.fns.values() if fn.concurrency_id == "arrival"}
    assert {f"{key}_arrival" for key, _, _ in app.TABS} <= arrivals      # serving a kept result holds no slot
    train = {fn.api_name for fn in demo.fns.values() if fn.concurrency_id == "train"}
    assert train == {f"{key}_train" for key, _, _ in app.TABS}


def test_no_plot_is_drawn_before_the_server_answers():
    """Figures that need no input arrive after launch: building the app imports no matplotlib (cold start)."""
    code = ("import sys, app; demo = app.build_app('cpu'); "
            "print('matplotlib' in sys.modules, sorted(n for n, _ in demo.ssl_arrivals))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         check=True).stdout.strip().splitlines()[-1]
    assert out.startswith("False"), out
    for name in ("jigsaw_hamming_arrival", "jigsaw_filters_arrival", "contrastive_sweep_arrival",
                 "videomae_ratio_arrival"):
        assert name in out


def test_a_later_plot_arrives_rendered():
    """Tab.later's figure is drawn once, as a PNG gr.Plot shows, and the same value serves every visitor."""
    from gradio.components.plot import PlotData

    demo = app.build_app("cpu")
    value = dict(demo.ssl_arrivals)["contrastive_sweep_arrival"]
    first = value()
    assert isinstance(first, PlotData) and first.plot.startswith("data:image/png;base64,")
    assert value() is first


def test_warm_computes_every_answer_before_the_later_plots():
    """After launch the tabs' answers come first: a plot further down a tab never holds up a panel on top."""
    from demos import tab as tab_mod

    demo = app.build_app("cpu")
    done = []
    with gr.Blocks() as probe:
        pass
    probe.ssl_arrivals = []
    for name, value in demo.ssl_arrivals:
        def record(name=name, value=value):
            done.append(name)
        record.later = getattr(value, "later", False)
        probe.ssl_arrivals.append((name, record))
    tab_mod.warm(probe).join(timeout=60)
    later = {"jigsaw_hamming_arrival", "jigsaw_filters_arrival", "contrastive_sweep_arrival", "videomae_ratio_arrival"}
    assert sorted(done) == sorted(n for n, _ in demo.ssl_arrivals)
    assert set(done[-len(later):]) == later, done


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux only")
def test_malloc_is_tuned_unless_the_environment_says_otherwise():
    """The app caps malloc arenas and trims the heap now and then (bench.load: flat memory over rounds)."""
    code = "import app, json; print(json.dumps(app.tune_malloc()))"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "SSL_LAB_TRIM_S"}
    run = lambda extra: json.loads(subprocess.run(  # noqa: E731
        [sys.executable, "-c", code], cwd=ROOT, env={**env, **extra}, capture_output=True, text=True,
        check=True).stdout.strip().splitlines()[-1])
    assert run({}) == {"arenas": True, "trim": True}
    assert run({"MALLOC_ARENA_MAX": "4", "SSL_LAB_TRIM_S": "0"}) == {"arenas": False, "trim": False}
