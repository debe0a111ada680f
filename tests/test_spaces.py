"""Hugging Face Spaces: ZeroGPU wrapping (with a stub `spaces`), threads, LFS rules, the publish script."""
from __future__ import annotations

import functools
import inspect
import os
import pickle
import subprocess
import sys
import types

import gradio as gr
import pytest

import app
import spaces_gpu
from scripts import publish_space
from tests.conftest import ROOT, free_port, start_app, wait_http
from tests.conftest import run_coroutine

# The handlers that must borrow the GPU on ZeroGPU: every click that runs a model, and live training.
WRAPPED = {
    "jigsaw_solve", "jigsaw_train",
    "sequence_sort_sort", "sequence_sort_sort_again", "sequence_sort_verify", "sequence_sort_train",
    "colorization_track", "colorization_pointer", "colorization_train",
    "tcc_align", "tcc_cycle", "tcc_phases", "tcc_train",
    "sound_localization_localize", "sound_localization_train",
    "videomae_reconstruct", "videomae_curve", "videomae_leak", "videomae_train",
    "contrastive_batch", "contrastive_retrieve", "contrastive_retrieve_submit", "contrastive_train",
}
# Each tab's main click on its default example (the component's value, else the first bundled example).
MAIN_CLICKS = ["jigsaw_solve", "sequence_sort_sort", "colorization_track", "tcc_align",
               "sound_localization_localize", "videomae_reconstruct", "contrastive_retrieve"]


class StubSpaces(types.ModuleType):
    """A stand-in for `spaces` on ZeroGPU: records what is wrapped and, like the forked GPU
    worker, pickles the arguments on the way in and the results on the way out."""

    def __init__(self):
        super().__init__("spaces")
        self.wrapped: list[tuple] = []         # (function, duration)
        self.calls: list[tuple] = []           # (function name, seconds asked for)
        self.auto_wrap = True

    def disable_gradio_auto_wrap(self):
        self.auto_wrap = False

    def GPU(self, task=None, *, duration=None, size=None):
        if task is None:
            return functools.partial(self.GPU, duration=duration, size=size)
        assert not inspect.iscoroutinefunction(task), "ZeroGPU does not run async functions"
        self.wrapped.append((task, duration))
        stub = self

        def ask(args, kwargs):
            seconds = duration(*args, **kwargs) if callable(duration) else duration
            stub.calls.append((task.__name__, seconds))
            return pickle.loads(pickle.dumps((args, kwargs)))

        if inspect.isgeneratorfunction(task):
            @functools.wraps(task)
            def handler(*args, **kwargs):
                args, kwargs = ask(args, kwargs)
                for out in task(*args, **kwargs):
                    yield pickle.loads(pickle.dumps(out))
        else:
            @functools.wraps(task)
            def handler(*args, **kwargs):
                args, kwargs = ask(args, kwargs)
                return pickle.loads(pickle.dumps(task(*args, **kwargs)))
        handler.zerogpu = None                 # as the real decorator marks its functions
        handler.duration = duration
        return handler


@pytest.fixture
def stub(monkeypatch):
    fake = StubSpaces()
    monkeypatch.setitem(sys.modules, "spaces", fake)
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.setattr(spaces_gpu, "_spaces", None)
    yield fake
    spaces_gpu._spaces = None


@pytest.fixture(scope="module")
def plain_demo():
    assert not spaces_gpu.on_zero_gpu()
    return app.build_app("cpu")


@pytest.fixture(scope="module")
def zero_demo():
    """The app built as on a ZeroGPU Space, with the stub (the wrapped handlers keep it after the build)."""
    fake = StubSpaces()
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "spaces", fake)
        mp.setenv("SPACES_ZERO_GPU", "true")
        mp.setattr(spaces_gpu, "_spaces", None)
        demo = app.build_app("cpu")
    spaces_gpu._spaces = None
    fake.calls.clear()
    return demo, fake


def params(f) -> list:
    return [(p.name, p.kind, type(p.default)) for p in inspect.signature(f).parameters.values()]


def by_name(demo) -> dict:
    return {fn.api_name: fn for fn in demo.fns.values() if fn.api_name}


# --------------------------------------------------------------------- ZeroGPU

def test_every_compute_handler_is_wrapped_on_zero_gpu(zero_demo):
    demo, stub = zero_demo
    assert stub.auto_wrap is False, "gradio's own auto-wrap stays off: the app picks handlers and durations"
    wrapped = {fn.api_name for fn in demo.fns.values() if hasattr(fn.fn, "zerogpu")}
    assert wrapped == WRAPPED
    arrivals = [name for name, _ in demo.ssl_arrivals]          # each tab's default, computed through `gpu`
    assert {f"{key}_arrival" for key, _, _ in app.TABS} <= set(arrivals)
    plots = {"jigsaw_hamming_arrival", "jigsaw_filters_arrival", "contrastive_sweep_arrival", "videomae_ratio_arrival"}
    assert plots <= set(arrivals)                                # Tab.later's figures: numbers, no GPU to borrow
    assert len(stub.wrapped) == len(WRAPPED) + len(arrivals) - len(plots)
    for fn in demo.fns.values():        # the rule behind the list: queued, not a light handler
        assert hasattr(fn.fn, "zerogpu") == spaces_gpu.computes(fn), fn.api_name


def test_a_default_example_borrows_the_gpu_once_then_every_visitor_gets_it_from_memory(zero_demo):
    demo, stub = zero_demo
    name, value = next((n, v) for n, v in demo.ssl_arrivals if n == "jigsaw_arrival")
    stub.calls.clear()
    first = value()
    assert value() is first
    assert stub.calls == [("<lambda>", spaces_gpu.CLICK_S)]
    assert by_name(demo)[name].fn is not None and not hasattr(by_name(demo)[name].fn, "zerogpu")


def test_wrapping_keeps_each_handler_kind_and_signature(plain_demo, zero_demo):
    demo, _ = zero_demo
    plain = by_name(plain_demo)
    for name, fn in by_name(demo).items():
        if name not in WRAPPED:
            continue
        assert inspect.isgeneratorfunction(fn.fn) == fn.types_generator, name
        assert params(fn.fn) == params(plain[name].fn), name               # gr.Progress is still found


def test_training_asks_for_gpu_time_by_its_steps_and_clicks_for_a_fixed_time(zero_demo):
    demo, _ = zero_demo
    for name, fn in by_name(demo).items():
        if name not in WRAPPED:
            continue
        if not name.endswith("_train"):
            assert fn.fn.duration == spaces_gpu.CLICK_S, name
            continue
        index, slider = spaces_gpu.steps_input(fn)
        assert index is not None, f"{name}: no steps slider"
        args = [None] * len(fn.inputs)
        seconds = []
        for steps in (slider.minimum, slider.value, slider.maximum):
            args[index] = steps
            seconds.append(fn.fn.duration(*args))
            assert seconds[-1] == spaces_gpu.train_duration(steps), name
        assert seconds == sorted(seconds) and seconds[0] < seconds[-1] <= spaces_gpu.TRAIN_MAX_S, (name, seconds)


def test_train_duration():
    assert spaces_gpu.train_duration(0) == spaces_gpu.TRAIN_START_S
    assert spaces_gpu.train_duration(100) == int(spaces_gpu.TRAIN_START_S + 100 * spaces_gpu.TRAIN_STEP_S)
    assert spaces_gpu.train_duration(10 ** 6) == spaces_gpu.TRAIN_MAX_S
    assert spaces_gpu.train_duration("not a number") == spaces_gpu.TRAIN_MAX_S


def test_nothing_is_wrapped_off_zero_gpu(plain_demo, monkeypatch):
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    assert spaces_gpu.wrap(plain_demo, "cpu") == {}
    assert not any(hasattr(fn.fn, "zerogpu") for fn in plain_demo.fns.values())
    assert spaces_gpu.on_zero_gpu({"SPACES_ZERO_GPU": "True"}) and not spaces_gpu.on_zero_gpu({"SPACES_ZERO_GPU": "0"})


def test_zero_gpu_without_spaces_installed_runs_unwrapped(monkeypatch):
    monkeypatch.setitem(sys.modules, "spaces", None)          # `import spaces` raises ImportError
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.setattr(spaces_gpu, "_spaces", None)
    with pytest.warns(RuntimeWarning, match="not installed"):
        assert spaces_gpu.load_spaces() is None


def test_models_in_results_come_back_on_the_cpu_and_arguments_go_to_the_device():
    import torch
    net = torch.nn.Linear(2, 2)
    seen = {}

    def handler(state, x):
        seen["device"] = next(state["model"].parameters()).device
        return {"model": state["model"], "steps": 3}, [torch.ones(2)], x

    def stream(state):
        yield {"model": state["model"]}

    wrapped = spaces_gpu.on_device(handler, "cpu")
    out = wrapped({"model": net}, 5)
    assert seen["device"].type == "cpu" and out[0]["steps"] == 3 and out[2] == 5
    assert next(out[0]["model"].parameters()).device.type == "cpu" and out[1][0].device.type == "cpu"
    assert inspect.signature(wrapped) == inspect.signature(handler)
    gen = spaces_gpu.on_device(stream, "cpu")
    assert inspect.isgeneratorfunction(gen) and isinstance(next(gen({"model": net}))["model"], torch.nn.Module)


def test_gradio_runs_replaced_plain_and_generator_handlers(stub):
    """BlockFunction.fn replaced after the Blocks are built: gradio calls the new one, generator or not."""
    from gradio_client import Client

    def square(x, progress=gr.Progress()):
        progress(0.5)
        return x * x

    def count(n):
        for i in range(int(n)):
            yield i + 1

    with gr.Blocks() as demo:
        a, b, c = gr.Number(3), gr.Number(), gr.Number()
        gr.Button("sq").click(square, a, b, api_name="toy_square")
        gr.Button("count").click(count, a, c, api_name="toy_train")
    done = spaces_gpu.wrap(demo, "cpu")
    assert set(done) == {"toy_square", "toy_train"} and len(stub.wrapped) == 2
    assert by_name(demo)["toy_square"].tracks_progress
    demo.queue().launch(server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        client = Client(demo.local_url, verbose=False)
        assert client.predict(4, api_name="/toy_square") == 16
        assert client.predict(3, api_name="/toy_train") == 3
    finally:
        demo.close()
    assert [name for name, _ in stub.calls] == ["square", "count"]
    assert stub.calls[1][1] == spaces_gpu.TRAIN_MAX_S        # no steps slider: the most a run asks for


def _answers(demo, names: list[str]) -> dict:
    """Each named click on its tab's default example, through gradio's own processing, as comparable digests."""
    from gradio.state_holder import SessionState
    from bench.load import digest

    async def run():
        example = {}
        for fn in demo.fns.values():      # gr.Examples' loaders: the first bundled example's values
            if fn.fn is not None and not fn.queue and any(isinstance(b, gr.Dataset) for b in fn.inputs):
                out = await demo.process_api(block_fn=fn, inputs=[0], state=SessionState(demo))
                for block, update in zip(fn.outputs, out["data"]):
                    if isinstance(update, dict) and "value" in update:
                        example.setdefault(block._id, update["value"])
        answers = {}
        fns = by_name(demo)
        for name in names:
            fn = fns[name]
            inputs = [b.value if getattr(b, "value", None) is not None else example.get(b._id) for b in fn.inputs]
            out = await demo.process_api(block_fn=fn, inputs=inputs, state=SessionState(demo))
            answers[name] = [digest(_paths(v)) for v in out["data"]]
        return answers

    return run_coroutine(run())


def _paths(value):
    """A served file's dict reduced to its file (its url and name depend on the server's cache folder)."""
    if isinstance(value, dict) and isinstance(value.get("path"), str) and os.path.isfile(value["path"]):
        return value["path"]
    if isinstance(value, dict):
        return {k: _paths(v) for k, v in value.items() if k not in ("url", "orig_name")}
    if isinstance(value, list):
        return [_paths(v) for v in value]
    return value


@pytest.mark.slow
def test_each_tab_answers_its_default_example_the_same_with_the_stub(plain_demo, zero_demo):
    demo, stub = zero_demo
    stub.calls.clear()
    expected = _answers(plain_demo, MAIN_CLICKS)
    got = _answers(demo, MAIN_CLICKS)
    for name in MAIN_CLICKS:
        assert got[name] == expected[name], name
    assert len(stub.calls) == len(MAIN_CLICKS)          # each went through the GPU wrapper
    assert {seconds for _, seconds in stub.calls} == {spaces_gpu.CLICK_S}


@pytest.mark.slow
def test_app_starts_and_answers_without_spaces_installed(tmp_path):
    """`python app.py` with `import spaces` failing (as off Spaces): it starts and a click answers."""
    from gradio_client import Client, handle_file
    (tmp_path / "spaces.py").write_text("raise ImportError('spaces is not installed here')\n")
    photos = sorted(os.listdir(os.path.join(ROOT, "assets", "examples", "photos")))
    port = free_port()
    env = {"PYTHONPATH": str(tmp_path), "SPACES_ZERO_GPU": "", "SSL_LAB_THREADS": "1"}
    proc = start_app(port, "--device", "cpu", env=env)
    try:
        wait_http(f"http://127.0.0.1:{port}/", timeout=180, proc=proc)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        out = client.predict(handle_file(os.path.join(ROOT, "assets", "examples", "photos", photos[0])), 7, False,
                             api_name="/jigsaw_solve")
        assert isinstance(out, (list, tuple)) and len(out) >= 5
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


# --------------------------------------------------------------------- threads

def test_threads_follow_cpu_cores(monkeypatch):
    monkeypatch.delenv("SSL_LAB_THREADS", raising=False)
    monkeypatch.setenv("CPU_CORES", "8")
    assert app.available_cores() == 8 and app.cpu_threads() == 8 // app.CONCURRENCY
    monkeypatch.setenv("CPU_CORES", "2")
    assert app.cpu_threads() == 1
    monkeypatch.setenv("SSL_LAB_THREADS", "3")
    assert app.cpu_threads() == 3


def test_threads_follow_affinity_and_cgroup_quota(monkeypatch, tmp_path):
    monkeypatch.delenv("CPU_CORES", raising=False)
    monkeypatch.delenv("SSL_LAB_THREADS", raising=False)
    monkeypatch.setattr(app, "CGROUP_ROOT", str(tmp_path))             # no cgroup files: affinity alone
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5}, raising=False)
    assert app.available_cores() == 6
    (tmp_path / "cpu.max").write_text("200000 100000\n")               # cgroup v2: 2 cores of quota
    assert app.available_cores() == 2 and app.cpu_threads() == 1
    (tmp_path / "cpu.max").write_text("max 100000\n")                  # no quota
    assert app.available_cores() == 6
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()                                         # cgroup v1
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("400000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert app.available_cores() == 4
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert app.available_cores() == 6


def test_threads_fall_back_to_cpu_count(monkeypatch, tmp_path):
    monkeypatch.delenv("CPU_CORES", raising=False)
    monkeypatch.delenv("SSL_LAB_THREADS", raising=False)
    monkeypatch.setattr(app, "CGROUP_ROOT", str(tmp_path))
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 12)
    assert app.available_cores() == 12 and app.cpu_threads() == 6


# --------------------------------------------------------------------- LFS and publishing

def test_every_tracked_binary_goes_by_lfs_and_no_file_is_over_10_mb():
    rules = publish_space.read_rules(ROOT)
    assert rules, ".gitattributes has no LFS rule"
    files = publish_space.tracked_files(ROOT)
    binaries = [p for p in files if publish_space.is_binary(os.path.join(ROOT, p))]
    assert len(binaries) >= 50                                      # models, clips, sounds, pictures, arrays
    assert [p for p in binaries if not publish_space.goes_by_lfs(p, rules)] == []
    assert [p for p in files if os.path.getsize(os.path.join(ROOT, p)) > 10 * 1024 * 1024] == []
    assert not publish_space.goes_by_lfs("app.py", rules) and not publish_space.goes_by_lfs("README.md", rules)


def test_lfs_rules_read_as_git_does():
    rules = publish_space.lfs_rules("# c\n*.pt filter=lfs diff=lfs merge=lfs -text\n"
                                    "docs/*.png filter=lfs -text\nassets/keep.pt -filter\n")
    assert publish_space.goes_by_lfs("assets/models/a.pt", rules)
    assert not publish_space.goes_by_lfs("assets/keep.pt", rules)                  # the last match decides
    assert publish_space.goes_by_lfs("docs/x.png", rules) and not publish_space.goes_by_lfs("x.png", rules)


def test_publish_dry_run_lists_the_tree_and_checks_the_front_matter(tmp_path):
    netlog = tmp_path / "net.log"
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "tests", "netguard"), "SSL_LAB_NETLOG": str(netlog)}
    env.pop("HF_TOKEN", None)
    out = subprocess.run([sys.executable, "scripts/publish_space.py", "someone/ssl-lab", "--dry-run"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert "nothing is sent" in text and "all checks pass" in text
    assert "LFS      assets/models/jigsaw.pt" in text and "regular  app.py" in text
    assert "FAIL" not in text
    listed = [line.split()[-1] for line in text.splitlines() if line.strip().endswith((".py", ".pt", ".mp4", ".md"))]
    assert not any(p.startswith(("data/", ".git/")) or "__pycache__" in p for p in listed)
    assert not netlog.exists() or netlog.read_text() == "", netlog.read_text()


def test_front_matter_check_catches_what_a_space_refuses(tmp_path):
    (tmp_path / "app.py").write_text("")
    (tmp_path / "README.md").write_text('---\nsdk: gradio\nsdk_version: 6.31.0\napp_file: app.py\n'
                                        'python_version: "3.11"\n---\n# x\n')
    (tmp_path / "requirements.txt").write_text("torch==2.14.1\ntorchvision==0.29.1\ngradio==6.31.0\n")
    failed = [what for ok, what in publish_space.check_config(str(tmp_path)) if not ok]
    assert any(w.startswith("python_version: 3.11") for w in failed)
    assert any(w.startswith("suggested_hardware: missing") for w in failed)
    assert any(w.startswith("torch==2.14.1") for w in failed) and any("spaces" in w for w in failed)
    assert all(ok for ok, _ in publish_space.check_config(ROOT))
