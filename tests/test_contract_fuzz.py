"""Hypothesis on core/media.py and on every core contract function (issue 9).

Random shapes, dtypes and value ranges: each call either returns a correct
result (shape, dtype and range per DESIGN.md's contract, at the input's size) or
raises a ValueError (MediaError is one) with a message; a valid input must never
be refused, and nothing else may escape. Arrays are drawn as (shape, dtype, kind
of values, seed) and filled by numpy, which keeps the examples fast. The shipped
models are loaded once per module.
"""
from __future__ import annotations

import functools
import importlib
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

from core import common, media

FUZZ = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                derandomize=True)           # the same examples on every run: CI never flakes on a new draw
DTYPES = [np.uint8, np.uint16, np.int16, np.int32, np.int64, np.float16, np.float32, np.float64, bool]
MIN_PIXELS = 8                              # common.check_frames: frames smaller than 8x8 are refused


@functools.lru_cache(maxsize=None)
def shipped(method: str):
    """The shipped model of `method`, loaded once (skips when its weights are not in assets/models)."""
    if not os.path.isfile(common.weights_path(method)):
        pytest.skip(f"no shipped weights for {method}")
    import torch
    torch.set_num_threads(1)
    return importlib.import_module(f"core.{method}").load_pretrained("cpu")


def fill(shape, dtype, kind: str, seed: int) -> np.ndarray:
    """An array of `shape` and `dtype` whose values follow `kind` (uniform, constant, extreme, special)."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype == bool:
        return rng.random(shape) < 0.5
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        lo, hi = (0, 255) if kind == "uniform" else (int(info.min), int(info.max))
        a = rng.integers(lo, hi, size=shape, endpoint=True, dtype=np.int64 if dtype != np.uint64 else np.uint64)
        return (np.full(shape, hi) if kind == "constant" else a).astype(dtype)
    if kind == "uniform":
        a = rng.random(shape)
    elif kind == "constant":
        a = np.full(shape, rng.choice([0.0, 0.5, 1.0, 255.0, -3.0]))
    elif kind == "extreme":
        a = rng.normal(0, 1e4, shape)
    else:                                   # special: a sprinkle of NaN and infinities in [0, 255] values
        a = rng.random(shape) * 255
        a.flat[rng.integers(0, max(a.size, 1), size=min(a.size, 3))] = rng.choice([np.nan, np.inf, -np.inf])
    with np.errstate(over="ignore", invalid="ignore"):
        return a.astype(dtype)


@st.composite
def arrays(draw, shapes, dtypes=DTYPES):
    shape = draw(shapes)
    dtype = draw(st.sampled_from(dtypes))
    kind = draw(st.sampled_from(["uniform", "constant", "extreme", "special"]))
    return fill(shape, dtype, kind, draw(st.integers(0, 2**31)))


def either(only_valid: bool, valid, other):
    """`valid` alone, or any of valid and `other`: each contract test runs twice, once on the contract's
    own inputs only (every example must work) and once on anything (work, or ValueError)."""
    return valid if only_valid else st.one_of(valid, other)


def frames_shapes(only_valid: bool, t=st.integers(1, 5), side=st.integers(MIN_PIXELS, 40), max_side=40):
    anything = st.tuples(st.integers(0, 5), st.integers(1, max_side), st.integers(1, max_side),
                         st.sampled_from([3, 1, 4]))
    return either(only_valid, st.tuples(t, side, side, st.just(3)), anything)


def image_shapes(only_valid: bool, side=st.integers(9, 48)):
    any_side = st.integers(1, 48)
    return either(only_valid, st.tuples(side, side, st.just(3)),
                  st.one_of(st.tuples(any_side, any_side, st.sampled_from([3, 1, 4])), st.tuples(any_side, any_side),
                            st.tuples(st.just(1), any_side, any_side, st.just(3))))


MODES = pytest.mark.parametrize("only_valid", [True, False], ids=["valid", "any"])


def valid_frames(a: np.ndarray, min_frames: int = 1) -> bool:
    return a.ndim == 4 and a.shape[-1] == 3 and a.shape[0] >= min_frames and min(a.shape[1:3]) >= MIN_PIXELS


def valid_image(a: np.ndarray, min_side: int = MIN_PIXELS) -> bool:
    return a.ndim == 3 and a.shape[-1] == 3 and min(a.shape[:2]) >= min_side


def call(fn, *args, valid: bool, **kwargs):
    """fn(*args): a valid input must work (returns its result); an invalid one must raise ValueError."""
    event("valid input" if valid else "invalid input")          # shown by --hypothesis-show-statistics
    try:
        out = fn(*args, **kwargs)
    except ValueError as err:
        assert str(err).strip(), "a ValueError without a message"
        assert not valid, f"a valid input was refused: {err}"
        return None
    assert valid, "an invalid input was accepted silently"
    return out


# ===================================================================== core.media

@FUZZ
@given(h=st.integers(1, 5000), w=st.integers(1, 5000), max_side=st.sampled_from([None, 64, 160, 320]))
def test_fit_size_caps_the_long_side_and_keeps_the_short_one_usable(h, w, max_side):
    nh, nw = media._fit_size(h, w, max_side, media.MIN_SIDE)
    assert nh >= 1 and nw >= 1 and nh <= h and nw <= w
    if not max_side or max(h, w) <= max_side:
        assert (nh, nw) == (h, w)
        return
    assert min(nh, nw) >= min(media.MIN_SIDE, min(h, w)) - 1          # rounding
    if min(h, w) * max_side / max(h, w) >= media.MIN_SIDE:
        assert max(nh, nw) <= max_side
    assert abs(nh / nw - h / w) <= 0.5 * (h / w) + 1.0 / min(nw, nh)   # the aspect is kept


@FUZZ
@given(a=arrays(image_shapes(False, side=st.integers(1, 70))), max_side=st.sampled_from([None, 24, 50]))
def test_load_image_from_any_array(a, max_side):
    try:
        out, notes = media.load_image(a, max_side=max_side)
    except media.MediaError as err:
        assert "Please provide" in str(err)
        ok_shape = (a.ndim == 2 or (a.ndim == 3 and a.shape[-1] in (1, 2, 3, 4)))
        assert not (ok_shape and a.dtype != object and min(a.shape[:2]) >= media.MIN_SIDE), str(err)
        return
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[-1] == 3 and out.flags.c_contiguous
    h, w = a.shape[:2]
    assert min(out.shape[:2]) >= media.MIN_SIDE
    assert bool(notes) == (out.shape[:2] != (h, w))
    if max_side and max(h, w) > max_side and min(h, w) * max_side / max(h, w) >= media.MIN_SIDE:
        assert max(out.shape[:2]) <= max_side


@FUZZ
@given(n=st.integers(0, 3000), rate_in=st.sampled_from([8000, 11025, 16000, 22050, 44100, 48000]),
       rate_out=st.sampled_from([8000, 16000, 48000]), seed=st.integers(0, 100))
def test_resample_length_and_finiteness(n, rate_in, rate_out, seed):
    a = np.random.default_rng(seed).uniform(-1, 1, n).astype(np.float32)
    out = media.resample(a, rate_in, rate_out)
    assert out.dtype == np.float32 and out.ndim == 1 and np.isfinite(out).all()
    if n == 0 or rate_in == rate_out:
        assert out.size == n
    else:
        assert out.size == max(1, int(round(n * rate_out / rate_in)))
        assert np.abs(out).max() <= 4 * max(np.abs(a).max(), 1e-6)  # band-limited: no blow-up


@FUZZ
@given(a=arrays(st.one_of(st.tuples(st.integers(0, 500)), st.tuples(st.integers(1, 500), st.integers(1, 8)),
                          st.tuples(st.integers(1, 8), st.integers(1, 500)),
                          st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3))),
                dtypes=[np.float32, np.float64, np.int16, np.int32, np.uint8]))
def test_to_mono_any_layout(a):
    try:
        out = media.to_mono(a)
    except media.MediaError as err:
        assert a.ndim > 2 and "Please provide" in str(err)
        return
    assert out.ndim == 1 and out.dtype == np.float32
    assert out.size in ((a.size,) if a.ndim == 1 else a.shape)
    if a.ndim == 2:
        assert out.size == max(a.shape) or a.shape[0] == a.shape[1] or min(a.shape) > 8


@settings(max_examples=6, deadline=None, derandomize=True)
@given(t=st.integers(1, 4), h=st.integers(16, 41), w=st.integers(16, 41), fps=st.sampled_from([1, 5, 12.5, 30]),
       seed=st.integers(0, 100), float_frames=st.booleans())
def test_save_and_load_video_round_trip(t, h, w, fps, seed, float_frames):
    frames = np.random.default_rng(seed).integers(0, 256, (t, h, w, 3)).astype(np.uint8)
    path = media.save_video(frames.astype(np.float32) if float_frames else frames, fps)
    v = media.load_video(path)
    # even sides (H.264 4:2:0), at most MAX_FPS, every frame there when the rate is not sampled down
    assert v.frames.dtype == np.uint8 and v.frames.shape[1:] == (h + h % 2, w + w % 2, 3)
    assert v.fps == pytest.approx(min(fps, media.MAX_FPS))
    if fps <= media.MAX_FPS:
        assert len(v.frames) == t
    assert v.audio is None


@settings(max_examples=6, deadline=None, derandomize=True)
@given(rate=st.sampled_from([8000, 16000, 22050, 44100, 48000]), seconds=st.floats(0.05, 1.5),
       amp=st.sampled_from([0.0, 0.1, 1.0, 3.0]), seed=st.integers(0, 100))
def test_save_and_load_audio_round_trip(rate, seconds, amp, seed):
    a = (amp * np.random.default_rng(seed).uniform(-1, 1, int(seconds * rate))).astype(np.float32)
    audio, sr, notes = media.load_audio(media.save_audio(a, rate))
    assert sr == media.SAMPLE_RATE and audio.dtype == np.float32 and audio.ndim == 1 and not notes
    assert abs(audio.size - seconds * sr) <= 0.01 * sr + 2
    # in [-1, 1] up to the resampler's overshoot of full-scale noise (not clipped: media.Video says so)
    assert np.isfinite(audio).all() and np.abs(audio).max() <= 1.01 + 1.5 * amp


# ===================================================================== jigsaw

@MODES
@FUZZ
@given(data=st.data())
def test_jigsaw_shuffle(only_valid, data):
    from core import jigsaw
    a = data.draw(arrays(image_shapes(only_valid)), "image")
    bad_perm = data.draw(either(only_valid, st.none(), st.sampled_from(["repeat", "short", "float", "big"])), "perm")
    perm = np.random.default_rng(data.draw(st.integers(0, 1000))).permutation(9)
    if bad_perm == "repeat":
        perm[0] = perm[1]
    elif bad_perm == "short":
        perm = perm[:8]
    elif bad_perm == "float":
        perm = perm.astype(np.float64) + 0.5
    elif bad_perm == "big":
        perm = perm + 1
    out = call(jigsaw.shuffle, a, perm, valid=valid_image(a, 9) and bad_perm is None)
    if out is not None:
        s = min(a.shape[:2]) // 3 * 3
        assert out.shape == (s, s, 3) and out.dtype == np.uint8
        square = jigsaw.square_crop(common.check_image(a))
        np.testing.assert_array_equal(jigsaw.unshuffle(out, perm), square)


@MODES
@FUZZ
@given(data=st.data())
def test_jigsaw_predict(only_valid, data):
    from core import jigsaw
    model = shipped("jigsaw")
    a = data.draw(arrays(image_shapes(only_valid)), "puzzle")
    p = call(jigsaw.predict, model, a, valid=valid_image(a, 9))
    if p is not None:
        assert p.shape == (len(jigsaw.permutations(model)),) and p.dtype == np.float32
        assert np.isfinite(p).all() and (p >= 0).all() and abs(p.sum() - 1) < 1e-4


# ===================================================================== sequence sort

@MODES
@FUZZ
@given(data=st.data())
def test_sequence_sort_predict(only_valid, data):
    from core import sequence_sort as ss
    a = data.draw(arrays(frames_shapes(only_valid, t=st.just(4))), "frames")
    p = call(ss.predict, shipped("sequence_sort"), a, valid=valid_frames(a) and len(a) == 4)
    if p is not None:
        assert p.shape == (12,) and np.isfinite(p).all() and (p >= 0).all() and abs(p.sum() - 1) < 1e-4


# ===================================================================== colorization

@MODES
@FUZZ
@given(data=st.data())
def test_colorization_colorize(only_valid, data):
    from core import colorization as C
    g = data.draw(arrays(either(only_valid, st.tuples(st.integers(8, 40), st.integers(8, 40)),
                                st.one_of(st.tuples(st.integers(1, 40), st.integers(1, 40)),
                                          st.tuples(st.integers(8, 40), st.integers(8, 40),
                                                    st.sampled_from([1, 3]))))), "gray_target")
    ref = data.draw(arrays(image_shapes(only_valid)), "color_reference")
    g_ok = (g.ndim == 2 or (g.ndim == 3 and g.shape[-1] == 1)) and min(g.shape[:2]) >= MIN_PIXELS
    out = call(C.colorize, shipped("colorization"), g, ref, valid=g_ok and valid_image(ref))
    if out is not None:
        assert out.shape == (*g.shape[:2], 3) and out.dtype == np.uint8


@MODES
@FUZZ
@given(data=st.data())
def test_colorization_propagate(only_valid, data):
    from core import colorization as C
    a = data.draw(arrays(frames_shapes(only_valid, t=st.integers(1, 4), side=st.integers(8, 32), max_side=32)),
                  "frames")
    n_labels = data.draw(st.integers(0, 4), "n_labels")
    label_dtype = data.draw(st.sampled_from([np.int64, np.uint8, np.int32, bool, np.float32]), "label dtype")
    wrong = data.draw(either(only_valid, st.none(), st.sampled_from(["shape", "negative", "fraction"])), "wrong")
    rng = np.random.default_rng(data.draw(st.integers(0, 100)))
    hw = a.shape[1:3] if a.ndim == 4 else (8, 8)
    lab = rng.integers(0, n_labels + 1, hw)
    if wrong == "shape":
        lab = lab[:-1]
    elif wrong == "negative":
        lab = lab - 3
    lab = lab.astype(label_dtype)
    if wrong == "fraction":
        lab = lab.astype(np.float32) + 0.5
    ok = valid_frames(a) and (wrong is None or (wrong == "negative" and lab.min() >= 0))
    out = call(C.propagate, shipped("colorization"), a, lab, valid=ok)
    if out is not None:
        T, H, W = a.shape[:3]
        assert out.shape == (T, H, W) and out.dtype == np.int64
        lab64 = lab.astype(np.int64)
        np.testing.assert_array_equal(out[0], lab64)
        assert set(np.unique(out)) <= set(np.unique(lab64))        # only labels present at t=0


# ===================================================================== TCC

@MODES
@FUZZ
@given(data=st.data())
def test_tcc_embed(only_valid, data):
    from core import tcc
    a = data.draw(arrays(frames_shapes(only_valid, t=st.integers(1, 6))), "frames")
    e = call(tcc.embed, shipped("tcc"), a, valid=valid_frames(a))
    if e is not None:
        assert e.ndim == 2 and e.shape[0] == len(a) and e.dtype == np.float32 and np.isfinite(e).all()


@MODES
@FUZZ
@given(data=st.data())
def test_tcc_align(only_valid, data):
    from core import tcc
    emb_dtypes = [np.float32, np.float64, np.float16, np.int32, np.uint8, bool]
    ea = data.draw(arrays(either(only_valid, st.tuples(st.integers(1, 30), st.integers(1, 6)),
                                 st.one_of(st.tuples(st.integers(0, 30), st.integers(0, 6)),
                                           st.tuples(st.integers(1, 5)),
                                           st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)))),
                          dtypes=emb_dtypes if not only_valid else [np.float32, np.float64, np.int32]), "emb_a")
    tb = data.draw(either(only_valid, st.integers(1, 30), st.just(0)), "Tb")
    same_d = data.draw(either(only_valid, st.just(True), st.just(False)), "same D")
    d = ea.shape[1] if ea.ndim == 2 and same_d else 3
    eb = np.random.default_rng(data.draw(st.integers(0, 100))).normal(size=(tb, d)).astype(np.float32)
    finite = np.isfinite(ea.astype(np.float64)).all() if ea.size else True
    if only_valid:
        ea = np.nan_to_num(ea.astype(np.float64), posinf=1e6, neginf=-1e6) if not finite else ea
        finite = True
    ok = ea.ndim == 2 and min(ea.shape) >= 1 and tb >= 1 and ea.shape[1] == d and finite and ea.dtype != bool
    idx = call(tcc.align, ea, eb, valid=ok)
    if idx is not None:
        assert idx.shape == (len(ea),) and np.issubdtype(idx.dtype, np.integer)
        assert (idx >= 0).all() and (idx < tb).all()


# ===================================================================== sound localization

def audio_shapes(only_valid: bool):
    return either(only_valid, st.one_of(st.tuples(st.integers(1, 40000)),
                                        st.tuples(st.integers(1, 20000), st.integers(1, 2)),
                                        st.tuples(st.integers(1, 2), st.integers(1, 20000))),
                  st.one_of(st.tuples(st.just(0)), st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3))))


def rates(only_valid: bool):
    return either(only_valid, st.sampled_from([16000, 8000, 48000, 44100, 22050, 16000.0]),
                  st.sampled_from([0, -16000, 500, 300000, 44100.5, None, "16k"]))


def valid_audio(a, rate) -> bool:
    if a.ndim not in (1, 2) or a.size == 0:
        return False
    if not np.isfinite(a.astype(np.float64)).all():
        return False
    try:
        return int(rate) == rate and 1000 <= int(rate) <= 192000
    except (TypeError, ValueError):
        return False


@MODES
@FUZZ
@given(data=st.data())
def test_sound_localize_and_correspondence(only_valid, data):
    from core import sound_localization as sl
    model = shipped("sound_localization")
    frame = data.draw(arrays(image_shapes(only_valid)), "frame")
    audio = data.draw(arrays(audio_shapes(only_valid), dtypes=[np.float32, np.float64, np.int16, np.int32,
                                                                 np.uint8, bool]), "audio")
    rate = data.draw(rates(only_valid), "sample_rate")
    if only_valid and not np.isfinite(audio.astype(np.float64)).all():
        audio = np.nan_to_num(audio.astype(np.float64), posinf=1.0, neginf=-1.0)
    ok = valid_image(frame) and valid_audio(audio, rate)
    heat = call(sl.localize, model, frame, audio, rate, valid=ok)
    if heat is not None:
        assert heat.shape == frame.shape[:2] and heat.dtype == np.float32
        assert np.isfinite(heat).all() and heat.min() >= 0 and heat.max() <= 1
    p = call(sl.correspondence, model, frame, audio, rate, valid=ok)
    if p is not None:
        assert isinstance(p, float) and 0.0 <= p <= 1.0


# ===================================================================== VideoMAE

@MODES
@FUZZ
@given(data=st.data())
def test_videomae_reconstruct(only_valid, data):
    from core import videomae as vm
    a = data.draw(arrays(frames_shapes(only_valid, t=st.integers(1, 5), side=st.integers(8, 36), max_side=36)),
                  "clip")
    ratio = data.draw(either(only_valid, st.sampled_from([0.9, 0.0, 0.5, 0.95]),
                             st.sampled_from([1.0, -0.1, float("nan"), 1.5])), "mask_ratio")
    masking = data.draw(either(only_valid, st.sampled_from(["tube", "random", "frame"]), st.just("diagonal")),
                        "masking")
    seed = data.draw(st.integers(0, 10**6), "seed")
    ok = valid_frames(a) and 0.0 <= ratio < 1.0 and masking in vm.MASKINGS
    out = call(vm.reconstruct, shipped("videomae"), a, ratio, seed, masking=masking, valid=ok)
    if out is not None:
        recon, mask = out
        T, H, W = a.shape[:3]
        assert recon.shape == (T, H, W, 3) and recon.dtype == np.uint8
        assert mask.shape == (T, H, W) and mask.dtype == bool
        x = common.check_frames(a)
        np.testing.assert_array_equal(recon[~mask], x[~mask])          # visible pixels are the input's own
        if ratio == 0.0:
            assert not mask.any()
