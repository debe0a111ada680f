"""What every tab shares: error handling, reading inputs, model-card tables, progress, running alone.

No torch math here: tabs call the core modules and turn their numpy outputs
into pictures, plots and words.
"""
from __future__ import annotations

import collections
import functools
import hashlib
import inspect
import logging
import os
import tempfile
import threading
import traceback
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("MPLBACKEND", "Agg")

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
from gradio import processing_utils as pu  # noqa: E402

from core import common as core_common  # noqa: E402
from core import sources, media  # noqa: E402

log = logging.getLogger("ssl_lab")


# --------------------------------------------------------------------- gradio's image cache, made atomic

# Works around gradio 6.31's save_pil_to_cache rewriting a served file in place (see gradio-app/gradio#8878).
_gradio_save_pil_to_cache = pu.save_pil_to_cache              # kept: tests/test_demos.py shows it still truncates


def _encode(img, format: str) -> bytes:
    """gradio's encode_pil_to_bytes; a PNG at zlib level 1, a third of level 6's time for about the same size
    on these pictures (flat areas and text)."""
    if format.lower() != "png":
        return pu.encode_pil_to_bytes(img, format)
    import io
    with io.BytesIO() as out:
        img.save(out, "png", compress_level=1, pnginfo=pu.get_pil_metadata(img))
        return out.getvalue()


def _save_pil_to_cache_atomic(img, cache_dir: str, name: str = "image", format: str = "webp") -> str:
    """gradio's save_pil_to_cache, but the file appears whole or not at all (as gradio's save_file_to_cache does).

    The file is named by the hash of its bytes, so two visitors who get the same picture share it: the
    bytes go to a private temporary name and are renamed into place, and an existing file is left alone.
    """
    data = _encode(img, format)
    folder = Path(cache_dir) / pu.hash_bytes(data)
    folder.mkdir(exist_ok=True, parents=True)
    path = (folder / f"{name}.{format}").resolve()
    if path.exists():
        try:
            os.utime(path)          # delete_cache ages files by ctime: a file handed out again is young again
        except OSError:
            pass
        return str(path)
    fd, staging = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return str(path)


pu.save_pil_to_cache = _save_pil_to_cache_atomic

STATE_TTL_S = 3600          # a visitor's trained model is dropped an hour after their last visit


# --------------------------------------------------------------------- errors

def _to_gr_error(err: Exception) -> gr.Error:
    if isinstance(err, gr.Error):
        return err
    if isinstance(err, (media.MediaError, ValueError)):
        return gr.Error(str(err))
    if isinstance(err, MemoryError):
        return gr.Error("The input is too large to process here. Please try a shorter or smaller one.")
    log.error("unexpected error\n%s", traceback.format_exc())
    return gr.Error(f"Something went wrong ({type(err).__name__}). The app is still running: "
                    "please try another input or a bundled example.")


def friendly(fn):
    """Run a handler so that any failure reaches the user as a gr.Error with a readable message.

    Keeps the handler's signature (gradio reads it for gr.Progress) and works for
    plain functions and generators alike.
    """
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen_wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as err:  # noqa: BLE001  (every failure becomes a message, the server lives on)
                raise _to_gr_error(err) from None
        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as err:  # noqa: BLE001
            raise _to_gr_error(err) from None
    return wrapper


def require(value, what: str):
    """Raise a gr.Error asking for `what` when an input is missing."""
    if value is None or (isinstance(value, (str, list, tuple)) and len(value) == 0):
        raise gr.Error(f"Please provide {what} (or pick a bundled example).")
    return value


def number(value, what: str, lo: float | None = None, hi: float | None = None, integer: bool = False):
    """A control's value (slider, number field, dropdown text) as a float, or an int when `integer`.

    An emptied field (None), text that is no number, NaN, infinity or a value outside [lo, hi]
    raise a gr.Error naming the control and the values it accepts, instead of Python's own
    "cannot convert float NaN to integer" or a TypeError.
    """
    kind = "a whole number" if integer else "a number"
    bounds = (f" from {lo:g} to {hi:g}" if lo is not None and hi is not None else
              f" of at least {lo:g}" if lo is not None else f" of at most {hi:g}" if hi is not None else "")
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = float("nan")
    if not np.isfinite(x) or (lo is not None and x < lo) or (hi is not None and x > hi):
        got = "an empty field" if value is None or str(value).strip() == "" else repr(value)
        raise gr.Error(f"{what} must be {kind}{bounds}; got {got}.")
    return int(round(x)) if integer else x


def load_video_input(path, **limits) -> media.Video:
    """Read an uploaded or example video for a tab; MediaError reaches the user as gr.Error."""
    require(path, media.ACCEPTED_VIDEO)
    return media.load_video(path, **limits)


_DIGESTS: dict = {}                     # (path, size, mtime_ns) -> the file's content digest
_DIGESTS_LOCK = threading.Lock()


def file_key(path) -> tuple:
    """What a file's content is known by: (size, blake2b of its bytes), hashed once per (path, size, mtime).

    Content, not path and time: gradio writes a re-uploaded file to the same path with a new time, and
    the same bytes under another name decode alike. OSError when the file cannot be read.
    """
    path = os.path.realpath(os.fspath(path))
    st = os.stat(path)
    stamp = (path, st.st_size, st.st_mtime_ns)
    with _DIGESTS_LOCK:
        digest = _DIGESTS.get(stamp)
    if digest is None:
        h = hashlib.blake2b(digest_size=16)
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        digest = h.hexdigest()
        with _DIGESTS_LOCK:
            if len(_DIGESTS) > 256:         # uploads come and go: forget the oldest half
                for k in list(_DIGESTS)[:128]:
                    del _DIGESTS[k]
            _DIGESTS[stamp] = digest
    return st.st_size, digest


class Memo:
    """A small least-recently-used cache shared by all visitors: key -> value, made once under a lock.

    For results that depend on the input's content and the settings alone (never on a visitor's
    own model): decoded clips, baselines, figures of an input. Values are shared, never mutated.
    `max_items` bounds the count; `max_mb` (optional) the total size of the numpy arrays held.
    """

    def __init__(self, max_items: int = 16, max_mb: float | None = None):
        self.max_items, self.max_bytes = max_items, (max_mb * 2**20 if max_mb else None)
        self._items: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()
        self._making: dict = {}                  # key -> lock: two visitors asking at once make it once
        self.hits = self.misses = 0

    def get(self, key, make):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            making = self._making.setdefault(key, threading.Lock())
        with making:
            with self._lock:
                if key in self._items:
                    self.hits += 1
                    return self._items[key]
            value = make()
            with self._lock:
                self.misses += 1
                self._making.pop(key, None)
                self._items[key] = value
                while len(self._items) > self.max_items or (
                        self.max_bytes and len(self._items) > 1 and self._size() > self.max_bytes):
                    self._items.popitem(last=False)
            return value

    def _size(self) -> int:
        return sum(core_common.nbytes(v) for v in self._items.values())

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def drop(self, key) -> None:
        """Forget one key (its value is stale: a file it names has gone)."""
        with self._lock:
            self._items.pop(key, None)


def kept_file(memo: Memo, key, make) -> str:
    """make() -> the path of a file it wrote (a video under core.media's output folder), once per key while
    the file is there: the same answer again is served without drawing or encoding it again. Each reuse
    renews its folder's age, so the sweep of old outputs (core.media) leaves it alone."""
    path = memo.get(key, make)
    try:
        os.utime(os.path.dirname(path))
        if os.path.isfile(path):
            return path
    except OSError:
        pass
    memo.drop(key)                           # swept: make it again
    return memo.get(key, make)


def digest(*arrays) -> str:
    """What arrays' contents are known by: a digest of their shapes, types and bytes (a cache key)."""
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(repr((a.shape, a.dtype.str)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


_CLIPS = Memo(max_items=8, max_mb=300)    # decoded clips: ~35 MB for 10 s at 320x240, 15 fps


def cached_video_input(path, what: str = media.ACCEPTED_VIDEO, **limits) -> media.Video:
    """load_video_input, decoded once per file content and limits, then shared between visitors.

    For the clips every click re-reads (a bundled example, or the same upload clicked again);
    the frames are shared: a tab copies before it draws on them.
    """
    require(path, what)
    path = os.fspath(path)
    try:
        key = (file_key(path), tuple(sorted(limits.items())))
    except OSError:                 # no such file: load_video says so clearly
        return load_video_input(path, **limits)
    return _CLIPS.get(key, lambda: media.load_video(path, **limits))


def playable_preview(path):
    """Handler of a video input's upload: an H.264 copy when the browser cannot play the file, else no change."""
    if not path:
        return gr.update()
    try:
        out, note = media.browser_playable(path)
    except Exception as err:  # noqa: BLE001  (the preview only: the buttons still try the file itself)
        gr.Warning(f"The preview stays blank: {err}")
        return gr.update()
    if note is None:
        return gr.update()
    gr.Info(note)
    return out


def load_image_input(value, **limits) -> tuple[np.ndarray, list[str]]:
    require(value if not isinstance(value, np.ndarray) else value.size, media.ACCEPTED_IMAGE)
    return media.load_image(value, **limits)


def notes_text(notes: list[str]) -> str:
    """One sentence for what was adapted, each note once, whatever the notes' own full stops."""
    notes = list(dict.fromkeys(n.strip().rstrip(".") for n in notes if n and n.strip()))
    return ("Adapted input: " + "; ".join(notes) + ".") if notes else ""


# --------------------------------------------------------------------- model cards

def missing_model(method: str) -> str:
    """What a tab says when its model has not been trained: one wording, with the command that trains it."""
    return f"This tab's model has not been trained yet: run `python -m core.train {method}`."


def card_markdown(method: str, rows: list[tuple[str, str, str]] | None = None) -> str:
    """The model card as a short Markdown block: how it was trained and its measured numbers.

    rows: optional (label, metric key, format) triples to show; default shows every metric.
    """
    card = core_common.read_card(method)
    if card is None:
        return f"_{missing_model(method)}_"
    m = card.get("metrics", {})
    head = (f"Trained here by `{card.get('command', 'python -m core.train ' + method)}`: "
            f"{card.get('steps')} steps in {card.get('seconds', 0) / 60:.1f} min on {card.get('device')}, "
            f"{card.get('parameters', 0) / 1e6:.2f}M parameters, seed {card.get('seed')}.")
    if rows is None:
        rows = [(k, k, "{:.3f}") for k, v in m.items() if isinstance(v, (int, float))]
    lines = [head, "", "| measured on held-out data | value |", "|---|---|"]
    for label, key, fmt in rows:
        if key in m:
            lines.append(f"| {label} | {fmt.format(m[key])} |")
    return "\n".join(lines)


# --------------------------------------------------------------------- training progress

def progress_callback(progress: gr.Progress | None, label: str = "training"):
    """Adapt gr.Progress to the core's progress(step, total, record) protocol."""
    if progress is None:
        return None

    def cb(step: int, total: int, record: dict) -> None:
        vals = ", ".join(f"{k} {v:.3g}" for k, v in (record or {}).items())
        progress(step / max(total, 1), desc=f"{label}: step {step}/{total} {vals}")

    return cb


def user_state() -> gr.State:
    """A per-visitor slot (never shared between users), dropped an hour after the last visit."""
    return gr.State(None, time_to_live=STATE_TTL_S)


def example_file(rel: str) -> str:
    return sources.example_path(rel)


# --------------------------------------------------------------------- running a tab alone

def launch_alone(build, title: str) -> None:
    """`python -m demos.METHOD` runs that tab by itself (CPU or the auto-chosen device)."""
    from core import device as devices
    dev = devices.choose(os.environ.get("SSL_LAB_DEVICE", "auto"))
    with gr.Blocks(title=title) as demo:
        build(dev)
    demo.queue(max_size=16).launch(theme=gr.themes.Soft())
