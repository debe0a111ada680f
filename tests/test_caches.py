"""The caches that make repeated clicks cheap: keyed by what the result depends on, so a change misses."""
import os
import threading
import time

import numpy as np
import pytest


def test_file_key_follows_the_content_not_the_name_or_the_time(tmp_path):
    from demos import common
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"same bytes")
    b.write_bytes(b"same bytes")
    key = common.file_key(a)
    assert common.file_key(b) == key                         # another name, same content
    time.sleep(0.01)
    a.write_bytes(b"same bytes")                             # rewritten (a re-upload): new time, same key
    os.utime(a, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert common.file_key(a) == key
    a.write_bytes(b"other byte")                             # same size, other content: another key
    assert common.file_key(a) != key
    with pytest.raises(OSError):
        common.file_key(tmp_path / "missing")


def test_memo_makes_once_evicts_the_oldest_and_bounds_memory():
    from demos import common
    memo = common.Memo(max_items=2)
    calls = []
    make = lambda k: (lambda: calls.append(k) or k * 10)  # noqa: E731
    assert memo.get(1, make(1)) == 10 and memo.get(1, make(1)) == 10
    assert calls == [1] and (memo.hits, memo.misses) == (1, 1)
    memo.get(2, make(2))
    memo.get(1, make(1))                                     # 1 is now the newest
    memo.get(3, make(3))                                     # evicts 2
    memo.get(2, make(2))
    assert calls == [1, 2, 3, 2]
    big = common.Memo(max_items=10, max_mb=1)
    for k in range(4):
        big.get(k, lambda: np.zeros(2**20 // 2, np.uint8))   # 0.5 MB each: at most two fit
    assert len(big._items) == 2


def test_memo_makes_a_value_once_when_two_ask_at_once():
    from demos import common
    memo, calls = common.Memo(), []

    def slow():
        calls.append(1)
        time.sleep(0.1)
        return "v"
    out = []
    threads = [threading.Thread(target=lambda: out.append(memo.get("k", slow))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == ["v"] * 3 and calls == [1]


def test_cached_video_input_decodes_once_per_content(tmp_path):
    import shutil

    from core import sources
    from demos import common
    clip = os.path.join(sources.EXAMPLES, "sequence_sort", "sprites.mp4")
    copy = tmp_path / "copy.mp4"
    shutil.copy(clip, copy)
    v1 = common.cached_video_input(clip, max_side=64)
    assert common.cached_video_input(str(copy), max_side=64) is v1          # same bytes: decoded once
    assert common.cached_video_input(clip, max_side=48) is not v1          # other limits: decoded again
    other = tmp_path / "other.mp4"
    shutil.copy(os.path.join(sources.EXAMPLES, "clips", "bunny.mp4"), other)
    assert common.cached_video_input(str(other), max_side=64).frames.shape != v1.frames.shape or \
        not np.array_equal(common.cached_video_input(str(other), max_side=64).frames[:1], v1.frames[:1])


def test_cached_plot_draws_once_per_distinct_data():
    from demos import figures
    drawn = []

    @figures.cached_plot
    def fig_of(values, title=""):
        drawn.append(title)
        fig = figures.new_figure(2, 2)
        fig.add_subplot().plot(values)
        return fig
    a = fig_of(np.arange(5.0), title="x")
    assert a.plot.startswith("data:image/png;base64,")
    assert fig_of(np.arange(5.0), title="x") is a and drawn == ["x"]       # same data: not drawn again
    assert fig_of(np.arange(5.0) + 1, title="x") is not a                  # other data: drawn
    assert fig_of(np.arange(5.0), title="y") is not a                      # other words in it: drawn
    assert drawn == ["x", "x", "y"]


def test_tab_cached_keys_results_by_name_and_key():
    from demos.tab import Tab
    tab = Tab("toy", load=lambda device: object())
    calls = []
    f = lambda v: (lambda: calls.append(v) or v)  # noqa: E731
    assert tab.cached("baseline", ("clip", 1), f("a")) == "a"
    assert tab.cached("baseline", ("clip", 1), f("b")) == "a"              # the same input: kept
    assert tab.cached("baseline", ("clip", 2), f("c")) == "c"              # a setting changed
    assert tab.cached("other", ("clip", 1), f("d")) == "d"                 # another result of the same input
    assert calls == ["a", "c", "d"]
