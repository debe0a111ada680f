"""The running app's side of core.stages: one stage record per event, written where bench.latency reads it.

`python app.py` with SSL_LAB_STAGE_LOG=PATH appends one JSON line per finished event:

    {"api_name": "tcc_align", "server_s": 0.91, "stages": {"gradio_in": 0.01, "decode": 0.2, "core": 0.3, ...}}

gradio_in is gradio's preprocessing (reading uploads into the handler's arguments), gradio_out
its postprocessing (images encoded, plots rendered, files copied into its cache); the handler's
time outside any stage its code names is "other". server_s is the whole event on the server, so
a client's click time minus server_s is transfer: upload, queue, the answer's download. Without
the variable nothing is installed and no handler pays for a record.
"""
from __future__ import annotations

import json
import os
import threading
import time

from core import stages

ENV = "SSL_LAB_STAGE_LOG"
_WRITE = threading.Lock()


def install(demo, path: str | None = None) -> bool:
    """Time every event of `demo` into the log at `path` (default: $SSL_LAB_STAGE_LOG). False when neither."""
    path = path or os.environ.get(ENV)
    if not path:
        return False
    process_api, pre, call, post = demo.process_api, demo.preprocess_data, demo.call_function, demo.postprocess_data

    async def timed_process_api(block_fn, *args, **kwargs):
        fn = demo.fns[block_fn] if isinstance(block_fn, int) else block_fn
        t0 = time.perf_counter()
        with stages.record() as rec:
            try:
                return await process_api(block_fn, *args, **kwargs)
            finally:
                line = {"api_name": getattr(fn, "api_name", None), "server_s": round(time.perf_counter() - t0, 4),
                        "stages": stages.summary(rec)}
                with _WRITE, open(path, "a") as f:
                    f.write(json.dumps(line) + "\n")

    def timed(method, name):
        async def inner(*args, **kwargs):
            with stages.stage(name):
                return await method(*args, **kwargs)
        return inner

    demo.process_api = timed_process_api
    demo.preprocess_data = timed(pre, "gradio_in")
    demo.call_function = timed(call, "other")             # the handler; its named stages are carved out of it
    demo.postprocess_data = timed(post, "gradio_out")
    return True


def read(path: str, start: int = 0) -> tuple[list[dict], int]:
    """The records written to `path` from byte `start` on, and the offset to read from next time."""
    if not os.path.isfile(path):
        return [], start
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read()
    data = data[: data.rfind(b"\n") + 1]               # a line still being written: next time
    return [json.loads(line) for line in data.decode().splitlines() if line.strip()], start + len(data)
