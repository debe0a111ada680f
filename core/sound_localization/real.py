"""Real pictures, recordings and videos for sound localization: the pools, composite scenes, sound augmentation.

The real videos whose sound source is visible are few (core.sources.AV_VIDEOS), so
most real training pairs are a real picture with a real or spoken sound of what it
shows: a face with speech, a photographed animal, instrument or tool with its own
recording. Composite scenes put one to four such pictures side by side (1x1, 1x2
or 2x2 panels) with one of them sounding, so the max-pool has to choose. Each
split reads only its own sources (core.sources names a split per source), so the
held-out scenes show faces, voices, animals and videos no training step met.
"""
from __future__ import annotations

import numpy as np

from core.sound_localization.model import N_SAMPLES, SAMPLE_RATE, SECONDS

LAYOUTS = ((1, 1), (1, 2), (2, 2))     # rows x columns of panels; 1x1 is a plain frame (correspondence alone)


# --------------------------------------------------------------------- sound

def window(sound: np.ndarray, rng: np.random.Generator, n: int = N_SAMPLES, tries: int = 4) -> np.ndarray:
    """A random n-sample window of a sound, the loudest of a few draws (a window of a pause says nothing);
    shorter sounds are placed at a random offset in silence."""
    s = np.asarray(sound, np.float32)
    if s.size <= n:
        out = np.zeros(n, np.float32)
        o = int(rng.integers(0, n - s.size + 1))
        out[o:o + s.size] = s
        return out
    starts = rng.integers(0, s.size - n + 1, tries)
    best = max(starts, key=lambda a: float(np.square(s[a:a + n]).mean()))
    return s[best:best + n].copy()


def noise(rng: np.random.Generator, n: int = N_SAMPLES) -> np.ndarray:
    """Unit-RMS background noise of a random colour (white, pink or brown): room tone, wind, hum-free hiss."""
    spec = np.fft.rfft(rng.normal(0, 1, n))
    f = np.maximum(np.arange(spec.size), 1)
    spec = spec / f ** (rng.choice([0.0, 0.5, 1.0]))
    x = np.fft.irfft(spec, n)
    return (x / (x.std() + 1e-12)).astype(np.float32)


def augment(wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What real recordings vary in: band limit (a cheap microphone, a phone), reverb (a room), background
    noise (5-30 dB below the sound) and level (-45 to 0 dB re the peak at full scale)."""
    x = np.asarray(wave, np.float64)
    n = x.size
    if rng.random() < 0.5:                                   # band limit
        spec = np.fft.rfft(x)
        hz = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
        lo, hi = rng.uniform(0, 500), rng.uniform(2500, SAMPLE_RATE / 2)
        spec[(hz < lo) | (hz > hi)] *= 0.03
        x = np.fft.irfft(spec, n)
    if rng.random() < 0.4:                                   # reverb: exponentially decaying noise
        rt = rng.uniform(0.1, 0.6)
        m = int(rt * SAMPLE_RATE)
        ir = rng.normal(0, 1, m) * np.exp(-6.9 * np.arange(m) / m)
        ir[0] = 1.0 / rng.uniform(0.2, 1.0)
        wet = np.fft.irfft(np.fft.rfft(x, n + m) * np.fft.rfft(ir, n + m), n + m)[:n]
        x = wet * (np.abs(x).max() / (np.abs(wet).max() + 1e-12))
    if rng.random() < 0.5:                                   # background noise
        rms = np.sqrt(np.mean(x ** 2)) + 1e-9
        x = x + noise(rng, n) * rms * 10 ** (-rng.uniform(5, 30) / 20)
    peak = np.abs(x).max() + 1e-9
    x = x / peak * 10 ** (rng.uniform(-45, 0) / 20)
    return x.astype(np.float32)


def room_tone(rng: np.random.Generator) -> np.ndarray:
    """A negative that is no source at all: background noise alone at -70 to -35 dB RMS."""
    return noise(rng) * np.float32(10 ** (rng.uniform(-70, -35) / 20))


# --------------------------------------------------------------------- pictures

def _crop(img: np.ndarray, rng: np.random.Generator, aspect: float, lo: float = 0.7) -> np.ndarray:
    """A random crop of img with width/height `aspect`, covering lo-100% of what fits."""
    h, w = img.shape[:2]
    ch = min(h, w / aspect) * rng.uniform(lo, 1.0)
    cw = ch * aspect
    y = int(rng.uniform(0, h - ch + 1e-9))
    x = int(rng.uniform(0, w - cw + 1e-9))
    return img[y:y + max(1, int(ch)), x:x + max(1, int(cw))]


def _resize(img: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    from PIL import Image
    return np.asarray(Image.fromarray(np.ascontiguousarray(img)).resize((hw[1], hw[0]), Image.BILINEAR))


def paste(rgba: np.ndarray, background: np.ndarray, rng: np.random.Generator, fill: tuple = (0.6, 0.95)) -> np.ndarray:
    """A cut-out (h, w, 4) over a background (H, W, 3), scaled to fill 60-95% of its shorter fit, at random."""
    H, W = background.shape[:2]
    h, w = rgba.shape[:2]
    s = min(H / h, W / w) * rng.uniform(*fill)
    nh, nw = max(1, int(h * s)), max(1, int(w * s))
    obj = _resize(rgba, (nh, nw)).astype(np.float32)
    y, x = int(rng.integers(0, H - nh + 1)), int(rng.integers(0, W - nw + 1))
    out = background.astype(np.float32).copy()
    a = obj[..., 3:] / 255.0
    out[y:y + nh, x:x + nw] = a * obj[..., :3] + (1 - a) * out[y:y + nh, x:x + nw]
    return out.astype(np.uint8)


# --------------------------------------------------------------------- the pool

class RealPool:
    """The real material of one split, and composite scenes made of it.

    Items are ("face", picture, None), ("object", RGBA cut-out or photo, index) and ("video", index, None);
    each has a class (what sounds: "speech", "dog", ...). backgrounds: RGB photos the cut-outs are pasted on
    and that fill silent panels (training photos for "train", the bundled held-out photos for "held_out").
    """

    def __init__(self, split: str, backgrounds: list[np.ndarray], extra_videos=(), speech_max: int = 900):
        from core import sources

        self.split = split
        self.speech = [w for ws in sources.speech_sounds(split, max_files=speech_max).values() for w in ws]
        self.objects = sources.sounding_objects(split)
        groups = []                                         # a video is one person: one group; a photo its own
        for name, fs in sources.face_pictures(split).items():
            groups += [fs] if sources.FACES[name][4] in ("video", "clip") else [[f] for f in fs]
        self.faces = [f for fs in groups for f in fs]
        self.face_group = np.concatenate([[g] * len(fs) for g, fs in enumerate(groups)]) if groups else np.zeros(0)
        self.videos = []                                    # (name, class, frames, fps, audio at 16 kHz)
        for name, (_, _, _, cls, split_) in sources.AV_VIDEOS.items():
            v = sources.av_video(name) if split_ == split else None
            if v is not None:
                self.videos.append((name, cls) + v)
        self.videos += list(extra_videos)
        self.backgrounds = backgrounds
        if not self.speech:
            self.faces = []

    def __len__(self) -> int:
        return len(self.faces) + len(self.objects) + len(self.videos)

    def counts(self) -> dict:
        return {"faces": len(self.faces), "speech": len(self.speech), "objects": len(self.objects),
                "object_classes": len({o["cls"] for o in self.objects}), "videos": len(self.videos)}

    # one panel ---------------------------------------------------------

    def _background(self, rng, hw):
        if self.backgrounds and rng.random() < 0.8:
            bg = self.backgrounds[int(rng.integers(len(self.backgrounds)))]
            return _resize(_crop(bg, rng, hw[1] / hw[0], 0.3), hw)
        grey = rng.uniform(60, 230, 3)
        return np.broadcast_to(grey, hw + (3,)).astype(np.uint8).copy()

    def _kinds(self):
        return [k for k, n in (("face", len(self.faces)), ("object", len(self.objects)),
                               ("video", len(self.videos))) if n]

    def draw(self, rng, kind: str | None = None, avoid: set = frozenset()):
        """A random item (kind, index, class) whose class is not in `avoid`."""
        kinds = self._kinds()
        for _ in range(50):
            k = kind or kinds[int(rng.choice(len(kinds), p=self._kind_p(kinds)))]
            if k == "face":                                 # each group alike: one long video is one person
                g = int(rng.integers(self.face_group.max() + 1))
                i, cls = int(rng.choice(np.flatnonzero(self.face_group == g))), "speech"
            elif k == "object":
                i = int(rng.integers(len(self.objects)))
                cls = self.objects[i]["cls"]
            else:
                i = int(rng.integers(len(self.videos)))
                cls = self.videos[i][1]
            if cls not in avoid:
                return k, i, cls
        return None

    @staticmethod
    def _kind_p(kinds):
        w = {"face": 0.4, "object": 0.45, "video": 0.15}
        p = np.array([w[k] for k in kinds])
        return p / p.sum()

    def panel(self, item, rng, hw, t: int | None = None) -> tuple[np.ndarray, int | None]:
        """The picture of an item at panel size hw; for a video, frame t (random when None). Returns
        (RGB, t)."""
        k, i, _ = item
        aspect = hw[1] / hw[0]
        if k == "face":
            return _resize(_crop(self.faces[i], rng, aspect, 0.6), hw), None
        if k == "object":
            pic = self.objects[i]["picture"]
            if pic.shape[2] == 4 and pic[..., 3].min() < 250:
                return paste(pic, self._background(rng, hw), rng), None
            return _resize(_crop(pic[..., :3], rng, aspect, 0.7), hw), None
        frames = self.videos[i][2]
        t = int(rng.integers(len(frames))) if t is None else t
        return _resize(_crop(frames[t], rng, aspect, 0.6), hw), t

    def sound(self, item, rng, t: int | None = None) -> np.ndarray:
        """One second of what the item sounds like (a video: the second centred at frame t)."""
        k, i, _ = item
        if k == "face":
            return window(self.speech[int(rng.integers(len(self.speech)))], rng)
        if k == "object":
            snds = self.objects[i]["sounds"]
            return window(snds[int(rng.integers(len(snds)))], rng)
        _, _, frames, fps, audio = self.videos[i]
        c = int(round(t / fps * SAMPLE_RATE))
        a = np.pad(audio, (N_SAMPLES, N_SAMPLES))[c + N_SAMPLES // 2:c + N_SAMPLES // 2 + N_SAMPLES]
        return a.astype(np.float32)

    # a scene -----------------------------------------------------------

    def scene(self, rng, size: int, layout: tuple[int, int] | None = None, kind: str | None = None,
              augment_sound: bool = False):
        """A composite scene: (frame (size, size, 3) uint8, sound (N,), visible classes, sounding class, mask
        (size, size) bool: the sounding panel). The other panels show things of other classes (real pictures
        of the pool or plain photos) and are silent."""
        rows, cols = layout or LAYOUTS[int(rng.choice(len(LAYOUTS), p=[0.3, 0.4, 0.3]))]
        ph, pw = size // rows, size // cols
        n = rows * cols
        sounding = self.draw(rng, kind)
        k_s = int(rng.integers(n))
        frame = np.zeros((size, size, 3), np.uint8)
        mask = np.zeros((size, size), bool)
        visible = [sounding[2]]
        for p in range(n):
            r, c = divmod(p, cols)
            sl = (slice(r * ph, (r + 1) * ph), slice(c * pw, (c + 1) * pw))
            if p == k_s:
                pic, t = self.panel(sounding, rng, (ph, pw))
                snd = self.sound(sounding, rng, t)
                mask[sl] = True
            elif self.backgrounds and rng.random() < 0.35:
                pic = self._background(rng, (ph, pw))            # a plain photo: nothing that sounds
            else:
                other = self.draw(rng, avoid=set(visible) | {sounding[2]})
                if other is None:
                    pic = self._background(rng, (ph, pw))
                else:
                    pic, _ = self.panel(other, rng, (ph, pw))
                    visible.append(other[2])
            frame[sl] = pic
        if augment_sound:
            snd = augment(snd, rng)
        return frame, snd.astype(np.float32), visible, sounding[2], mask
