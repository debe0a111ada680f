"""core.synthetic: seeded, and the ground truth agrees with the pixels."""
from __future__ import annotations

import numpy as np
import pytest

from core import synthetic as syn


def test_generators_are_deterministic_per_seed_and_differ_across_seeds():
    for make in (lambda s: syn.dead_leaves(s, 64), lambda s: syn.sprites_video(s, 8, 64)[0],
                 lambda s: syn.action_video(s, 8, 64)[0], lambda s: syn.av_scene(s, 64)[0]):
        a, b, c = make(3), make(3), make(4)
        assert a.dtype == np.uint8
        assert np.array_equal(a, b)
        assert not np.array_equal(a, c)


def test_dead_leaves_shape_and_spread():
    img = syn.dead_leaves(0, 96)
    assert img.shape == (96, 96, 3)
    assert img.std() > 20            # leaves of many colours, not a flat field


def test_sprite_masks_cover_exactly_the_sprite_pixels():
    """Over a flat background without lighting change, label 0 is background colour everywhere,
    and almost no sprite pixel has the background colour: the masks are the sprites."""
    frames, labels = syn.sprites_video(7, frames=12, size=64, n_sprites=3, background="flat", lighting=False)
    assert frames.shape == (12, 64, 64, 3) and labels.shape == (12, 64, 64)
    bg = frames[labels == 0]
    assert (bg == bg[0]).all()
    fg = frames[labels > 0]
    assert (fg == bg[0]).all(axis=-1).mean() < 0.01
    assert set(np.unique(labels)) <= {0, 1, 2, 3} and (labels > 0).any()


def test_sprites_move_and_occlude():
    frames, labels = syn.sprites_video(1, frames=32, size=64, n_sprites=3)
    centres = []
    for t in (0, 31):
        ys, xs = np.nonzero(labels[t] == 1)
        centres.append((ys.mean(), xs.mean()))
    assert np.hypot(*np.subtract(*centres)) > 2          # sprite 1 moved
    areas = (labels == 1).sum(axis=(1, 2))
    assert areas.min() < areas.max()                      # its visible area changes (turning, occlusion, border)


def test_same_colours_repaints_the_sprites_and_changes_nothing_else():
    """same_colours paints every sprite in the first sprite's two colours: the same motion, masks and
    background as without it, and the sprites' colour histograms become alike."""
    kw = dict(frames=6, size=64, n_sprites=3, lookalike=True, background="flat", lighting=False)
    a, la = syn.sprites_video(11, **kw)
    b, lb = syn.sprites_video(11, same_colours=True, **kw)
    assert np.array_equal(la, lb)
    assert np.array_equal(a[la == 0], b[lb == 0])

    def off_line(frames, labels, k):
        """Mean distance of sprite k's pixels from the colour segment sprite 1's texture blends along."""
        ref = frames[labels == 1].reshape(-1, 3).astype(np.float64)
        centre = ref.mean(0)
        axis = np.linalg.svd(ref - centre, full_matrices=False)[2][0]
        d = frames[labels == k].reshape(-1, 3).astype(np.float64) - centre
        return float(np.linalg.norm(d - np.outer(d @ axis, axis), axis=1).mean())

    assert max(off_line(b, lb, k) for k in (2, 3)) < 2.0          # one palette (up to rounding)
    assert min(off_line(a, la, k) for k in (2, 3)) > 10.0         # each sprite its own


def test_action_phase_is_monotone_and_drives_the_pixels():
    frames, phase = syn.action_video(2, frames=40, size=64)
    assert frames.shape == (40, 64, 64, 3) and phase.shape == (40,)
    assert np.all(np.diff(phase) >= 0) and 0 <= phase[0] and phase[-1] <= 1
    # where the phase moves more, the picture changes more
    dphase = np.diff(phase)
    dpix = np.abs(np.diff(frames.astype(np.float32), axis=0)).mean(axis=(1, 2, 3))
    assert np.corrcoef(dphase, dpix)[0, 1] > 0.3
    # a frozen phase is a frozen picture
    still, ph = syn.action_video(2, frames=5, size=64, start=0.5, end=0.5)
    assert np.allclose(ph, 0.5) and all(np.array_equal(still[0], f) for f in still)


def test_phase_labels():
    assert list(syn.phase_label(np.array([0.0, 0.19, 0.2, 0.5, 0.99]))) == [0, 0, 1, 2, 3]
    assert len(syn.PHASE_NAMES) == 4


def test_av_scene_sounding_mask_and_sound():
    frame, audio, rate, sounding, meta = syn.av_scene(5, size=96, n_objects=3, return_meta=True)
    assert frame.shape == (96, 96, 3) and sounding.shape == (96, 96) and sounding.dtype == bool
    assert rate == syn.SAMPLE_RATE and audio.shape == (rate,) and audio.dtype == np.float32
    k = meta["sounding"]
    assert np.array_equal(sounding, meta["labels"] == k + 1) and sounding.sum() > 50
    # the sounding object is painted in its class colours
    spec = syn.AV_CLASSES[meta["classes"][k]]
    mean = frame[sounding].mean(axis=0) / 255.0
    lo, hi = np.min(spec["colors"], axis=0) - 0.15, np.max(spec["colors"], axis=0) + 0.15
    assert np.all((mean >= lo) & (mean <= hi))
    assert np.sqrt((audio ** 2).mean()) > 0.02


def test_av_scene_silent_has_no_sounding_object():
    frame, audio, rate, sounding = syn.av_scene(5, size=64, silent=True)
    assert not sounding.any()
    assert np.sqrt((audio ** 2).mean()) < 0.005


@pytest.mark.parametrize("cls", range(len(syn.AV_CLASSES)))
def test_each_class_has_its_recorded_sound(cls):
    sounds = syn.class_sounds(cls)
    assert len(sounds) == len(syn.AV_CLASSES[cls]["sounds"])      # the recordings were found
    take = syn.class_sound(cls, np.random.default_rng(0), 1.0)
    assert take.shape == (syn.SAMPLE_RATE,) and np.abs(take).max() > 0.05
