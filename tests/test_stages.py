"""The stage timer (core.stages) and the app's record of each event (demos.stages)."""
import contextvars
import json
import threading
import time


from core import stages
from tests.conftest import run_coroutine


class Clock:
    """A perf_counter that moves only when told: exact sums whatever the machine's load."""

    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t

    def sleep(self, s):
        self.t += s


def test_stages_nest_exclusively_and_now_switches(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(stages.time, "perf_counter", clock)
    with stages.record() as rec:
        with stages.stage("other"):
            clock.sleep(2)
            with stages.stage("decode"):
                clock.sleep(4)
            stages.now("core")
            clock.sleep(3)
            with stages.stage("encoding"):           # inside a `now` stage: core's clock stops meanwhile
                clock.sleep(2)
            clock.sleep(1)                           # back in core
            stages.now("figures")
            clock.sleep(5)
        clock.sleep(7)                               # in the record but in no stage: not counted
        with stages.stage("gradio_out"):
            clock.sleep(1)
    assert stages.summary(rec) == {"decode": 4, "core": 4, "figures": 5, "encoding": 2, "other": 2,
                                   "gradio_out": 1}    # known stages in their order, each second once
    assert rec["_stack"] == []                       # the `now` stages closed with their block


def test_without_a_record_nothing_is_kept():
    with stages.stage("core"):
        stages.now("figures")
    assert stages.current() is None

    @stages.timed("decode")
    def f(x):
        return x + 1
    assert f(1) == 2


def test_each_thread_keeps_its_own_record_and_a_copied_context_shares_it():
    out = {}

    def click(name, secs):
        with stages.record() as rec:
            with stages.stage(name):
                time.sleep(secs)
        out[name] = stages.summary(rec)

    threads = [threading.Thread(target=click, args=(n, s)) for n, s in (("core", 0.05), ("figures", 0.02))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert list(out["core"]) == ["core"] and list(out["figures"]) == ["figures"]
    assert out["core"]["core"] > out["figures"]["figures"]

    with stages.record() as rec:                  # gradio runs a handler in a thread with the event's context
        worker = threading.Thread(target=contextvars.copy_context().run, args=(_timed_core,))
        worker.start()
        worker.join()
    assert rec["stages"]["core"] >= 0.009


def _timed_core():
    with stages.stage("core"):
        time.sleep(0.01)


def test_stage_log_reads_whole_lines_only(tmp_path):
    from demos import stages as app_stages
    path = tmp_path / "log.jsonl"
    path.write_text(json.dumps({"api_name": "a", "server_s": 1.0, "stages": {}}) + "\n" + '{"api_na')
    recs, offset = app_stages.read(str(path), 0)
    assert [r["api_name"] for r in recs] == ["a"]
    with open(path, "a") as f:
        f.write('me": "b", "server_s": 2.0, "stages": {}}\n')
    recs, offset2 = app_stages.read(str(path), offset)
    assert [r["api_name"] for r in recs] == ["b"] and offset2 == path.stat().st_size
    assert app_stages.read(str(tmp_path / "none"), 0) == ([], 0)


def test_the_app_records_every_event_with_its_stages(tmp_path):
    """install() on a Blocks: one JSON line per event, with gradio's pre/postprocessing and the handler's stages."""
    import gradio as gr

    from demos import stages as app_stages

    def handler(x):
        with stages.stage("decode"):
            time.sleep(0.02)
        stages.now("core")
        time.sleep(0.03)
        return x * 2

    with gr.Blocks() as demo:
        a, b = gr.Number(), gr.Number()
        gr.Button().click(handler, a, b, api_name="double")
    log = tmp_path / "stages.jsonl"
    assert app_stages.install(demo, str(log))
    out = run_coroutine(demo.process_api(demo.fns[0], [3], state=None))
    assert out["data"][0] == 6
    (rec,), _ = app_stages.read(str(log))
    assert rec["api_name"] == "double"
    st = rec["stages"]
    assert {"gradio_in", "decode", "core", "gradio_out"} <= set(st)
    assert st["decode"] >= 0.019 and st["core"] >= 0.029              # at least what they slept
    assert sum(st.values()) <= rec["server_s"] + 1e-3            # each second counted once


def test_without_the_variable_nothing_is_installed(monkeypatch):
    import gradio as gr

    from demos import stages as app_stages
    monkeypatch.delenv(app_stages.ENV, raising=False)
    with gr.Blocks() as demo:
        gr.Number()
    before = demo.process_api
    assert not app_stages.install(demo)
    assert demo.process_api == before
