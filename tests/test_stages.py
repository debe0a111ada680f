"""The stage timer (core.stages) and the app's record of each event (demos.stages)."""
import asyncio
import contextvars
import json
import threading
import time

import pytest

from core import stages


def test_stages_nest_exclusively_and_now_switches():
    with stages.record() as rec:
        with stages.stage("other"):
            time.sleep(0.02)
            with stages.stage("decode"):
                time.sleep(0.04)
            stages.now("core")
            time.sleep(0.03)
            with stages.stage("encoding"):           # inside a `now` stage: core's clock stops meanwhile
                time.sleep(0.02)
            stages.now("figures")
            time.sleep(0.02)
        with stages.stage("gradio_out"):
            time.sleep(0.01)
    st = stages.summary(rec)
    assert list(st) == ["decode", "core", "figures", "encoding", "other", "gradio_out"]   # known order
    assert st["decode"] == pytest.approx(0.04, abs=0.015)
    assert st["core"] == pytest.approx(0.03, abs=0.015)          # not the 0.05 it would be with encoding inside
    assert st["encoding"] == pytest.approx(0.02, abs=0.015)
    assert st["other"] == pytest.approx(0.02, abs=0.015)         # its own time only
    assert rec["_stack"] == []                                   # the `now` stages closed with their block


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
    assert rec["stages"]["core"] >= 0.01


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
    out = asyncio.run(demo.process_api(demo.fns[0], [3], state=None))
    assert out["data"][0] == 6
    (rec,), _ = app_stages.read(str(log))
    assert rec["api_name"] == "double"
    st = rec["stages"]
    assert {"gradio_in", "decode", "core", "gradio_out"} <= set(st)
    assert st["decode"] >= 0.015 and st["core"] >= 0.025
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
