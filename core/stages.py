"""Where a click's time goes: a light stage timer, one record per call, safe across threads.

    with stages.record() as rec:          # the app opens one per event (demos/stages.py)
        with stages.stage("decode"):
            ...
        with stages.stage("core"):
            ...
    rec["stages"] == {"decode": 0.12, "core": 0.30}

or, in a handler's straight-line code, `stages.now("figures")` sends the time from there on to
"figures" until the next `now` or the end of the enclosing stage.

Stages nest exclusively: while an inner stage runs, the outer one's clock stops, so the
stages of a record add up to the time spent inside them, each second counted once. With
no record open (tests, scripts, the benchmark's core calls) `stage` costs one context
variable lookup and records nothing. The current record lives in a context variable:
each thread and each asyncio task sees its own, and a worker thread started with a
copied context (as gradio runs a handler) adds to the record of the event that started it.
Pure Python: core modules may time themselves (core.media times decoding and encoding).
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import threading
import time

_CURRENT: contextvars.ContextVar[dict | None] = contextvars.ContextVar("ssl_lab_stage_record", default=None)

# the stages a click is split into, in the order a table shows them (others are kept too)
ORDER = ("gradio_in", "decode", "core", "baselines", "figures", "encoding", "other", "gradio_out")


def new_record() -> dict:
    return {"stages": {}, "_stack": [], "_lock": threading.Lock()}


@contextlib.contextmanager
def record(rec: dict | None = None):
    """Open a record for this context (a fresh one unless given); yields it. Records nest: the inner one
    is current until it closes, then the outer one again."""
    rec = new_record() if rec is None else rec
    token = _CURRENT.set(rec)
    try:
        yield rec
    finally:
        _CURRENT.reset(token)


def current() -> dict | None:
    return _CURRENT.get()


def _charge(rec: dict, now: float) -> None:
    """Add the time since the innermost open stage last (re)started to that stage."""
    if rec["_stack"]:
        name, since, switched = rec["_stack"][-1]
        rec["stages"][name] = rec["stages"].get(name, 0.0) + (now - since)
        rec["_stack"][-1] = (name, now, switched)


@contextlib.contextmanager
def stage(name: str):
    """Time the block as stage `name` of the current record (nothing when none is open)."""
    rec = _CURRENT.get()
    if rec is None:
        yield
        return
    with rec["_lock"]:
        now = time.perf_counter()
        _charge(rec, now)                   # the outer stage's clock stops here
        rec["_stack"].append((name, now, False))
        depth = len(rec["_stack"])
    try:
        yield
    finally:
        with rec["_lock"]:
            now = time.perf_counter()
            _charge(rec, now)
            del rec["_stack"][depth - 1:]   # with any `now` stages opened inside this block
            if rec["_stack"]:               # the outer stage's clock starts again
                rec["_stack"][-1] = rec["_stack"][-1][:1] + (now, rec["_stack"][-1][2])


def now(name: str) -> None:
    """From here to the next `now` or the end of the enclosing stage, time goes to stage `name`.

    For a handler's straight-line code: one line per step instead of a `with` block each.
    """
    rec = _CURRENT.get()
    if rec is None:
        return
    with rec["_lock"]:
        t = time.perf_counter()
        _charge(rec, t)
        if rec["_stack"] and rec["_stack"][-1][2]:
            rec["_stack"][-1] = (name, t, True)
        else:
            rec["_stack"].append((name, t, True))


def timed(name: str):
    """Decorator: every call of the function is stage `name`."""
    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            with stage(name):
                return fn(*args, **kwargs)
        return inner
    return wrap


def summary(rec: dict, digits: int = 4) -> dict:
    """The record's stages in seconds, rounded, known stages first: plain data for JSON."""
    st = rec["stages"]
    names = [n for n in ORDER if n in st] + sorted(n for n in st if n not in ORDER)
    return {n: round(st[n], digits) for n in names}
