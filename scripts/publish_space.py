"""Publish the lab to a Hugging Face Space: the current tree, not the history, in one commit.

    python scripts/publish_space.py OWNER/NAME --dry-run     # what would go; touches no network
    python scripts/publish_space.py OWNER/NAME [--private] [--hardware zero-a10g]

The files are the ones git tracks, as they are in the working tree now (untracked outputs,
data/, caches and test results never go), less IGNORE. They are sent with huggingface_hub's
API (create_repo, then one create_commit), which stores every binary with LFS/Xet; files the
Space holds that the tree no longer has are deleted in the same commit. A git push would send
the history too, whose binaries are plain git blobs, and the Hub refuses those.

Before anything is sent, and in --dry-run, the script checks: every binary file matches an LFS
rule of .gitattributes, no file exceeds 10 MB, and README.md's front matter is one a Space (on
ZeroGPU or on CPU hardware) accepts: sdk, app_file, python_version, suggested_hardware, and the
gradio / torch / torchvision pins of requirements.txt. A failed check stops it (exit 1).

Authentication is huggingface_hub's: HF_TOKEN, or `hf auth login` beforehand.
"""
from __future__ import annotations

import argparse
import fnmatch
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MAX_FILE_MB = 10
IGNORE = ["data/*", ".git/*", "*/__pycache__/*", "__pycache__/*", "*.pyc", ".pytest_cache/*", ".hypothesis/*",
          ".gradio/*", "flagged/*", "runs/*", ".whl/*", ".gl/*", "*.egg-info/*",
          "tests/browser/screenshots/*"]

# What the Hub documents today (docs/hub/spaces-zerogpu.md, spaces-config-reference.md): check before changing pins.
ZEROGPU_PYTHON = ("3.10", "3.12")
ZEROGPU_TORCH = {"2.8.0": "0.23.0", "2.9.1": "0.24.1", "2.10.0": "0.25.0", "2.11.0": "0.26.0"}   # torch: torchvision
HARDWARE = ("cpu-basic", "cpu-upgrade", "t4-small", "t4-medium", "l4x1", "l4x4", "l40sx1", "l40sx4", "l40sx8",
            "a10g-small", "a10g-large", "a10g-largex2", "a10g-largex4", "a100-large", "a100x4", "a100x8")
BINARY_EXT = {".pt", ".pth", ".bin", ".safetensors", ".onnx", ".ckpt", ".npz", ".npy", ".pkl", ".pickle", ".h5",
              ".mp4", ".webm", ".avi", ".mov", ".mkv", ".mpg", ".mpeg", ".ogv", ".gif", ".wav", ".mp3", ".ogg",
              ".flac", ".m4a", ".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".zip", ".gz", ".tar",
              ".7z", ".xz", ".zst"}


# --------------------------------------------------------------------- the files

def tracked_files(root: str = ROOT) -> list[str]:
    """Paths (relative, '/'-separated) that git tracks and that exist now; outside a checkout, every file."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
        paths = [p for p in out.decode().split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        paths = [os.path.relpath(os.path.join(d, f), root).replace(os.sep, "/")
                 for d, _, files in os.walk(root) for f in files]
    return sorted(p for p in paths if os.path.isfile(os.path.join(root, p)))


def ignored(path: str) -> bool:
    return any(fnmatch.fnmatch(path, pattern) for pattern in IGNORE)


def files_to_send(root: str = ROOT) -> list[str]:
    return [p for p in tracked_files(root) if not ignored(p)]


def is_binary(path: str) -> bool:
    """A binary by its extension, or by a NUL byte in its first 8000 bytes (git's own test)."""
    if os.path.splitext(path)[1].lower() in BINARY_EXT:
        return True
    with open(path, "rb") as f:
        return b"\0" in f.read(8000)


def lfs_rules(text: str) -> list[tuple[str, bool]]:
    """(pattern, goes by LFS) for each .gitattributes line that sets or unsets the filter attribute."""
    rules = []
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        for attr in parts[1:]:
            if attr == "filter=lfs":
                rules.append((parts[0], True))
            elif attr in ("-filter", "!filter") or (attr.startswith("filter=") and attr != "filter=lfs"):
                rules.append((parts[0], False))
    return rules


def _matches(pattern: str, path: str) -> bool:
    if "/" in pattern.rstrip("/"):                 # anchored at the root, as git reads it
        return fnmatch.fnmatch(path, pattern.lstrip("/").replace("**/", "*"))
    return fnmatch.fnmatch(path.rsplit("/", 1)[-1], pattern)


def goes_by_lfs(path: str, rules: list[tuple[str, bool]]) -> bool:
    """Whether .gitattributes sends `path` to LFS (the last matching line decides, as in git)."""
    verdict = False
    for pattern, lfs in rules:
        if _matches(pattern, path):
            verdict = lfs
    return verdict


def read_rules(root: str = ROOT) -> list[tuple[str, bool]]:
    path = os.path.join(root, ".gitattributes")
    return lfs_rules(open(path).read()) if os.path.isfile(path) else []


# --------------------------------------------------------------------- the front matter

def front_matter(readme: str) -> dict:
    import yaml
    m = re.match(r"---\s*\n(.*?)\n---\s*\n", readme, re.S)
    return (yaml.safe_load(m.group(1)) or {}) if m else {}


def pins(requirements: str) -> dict:
    found = {}
    for line in requirements.splitlines():
        m = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(==\s*([^\s;#]+))?", line)
        if m and not line.lstrip().startswith(("#", "-")):
            found[m.group(1).lower()] = m.group(3) or ""
    return found


def check_config(root: str = ROOT) -> list[tuple[bool, str]]:
    """(ok, what) for each thing a Space needs from README.md's front matter and requirements.txt."""
    readme = os.path.join(root, "README.md")
    meta = front_matter(open(readme).read()) if os.path.isfile(readme) else {}
    req_path = os.path.join(root, "requirements.txt")
    req = pins(open(req_path).read()) if os.path.isfile(req_path) else {}
    out = []
    sdk = meta.get("sdk")
    out.append((sdk == "gradio", f"sdk: {sdk} (ZeroGPU runs only gradio Spaces)"))
    app_file = meta.get("app_file")
    out.append((bool(app_file) and os.path.isfile(os.path.join(root, str(app_file))), f"app_file: {app_file}"))
    py = str(meta.get("python_version", ""))
    out.append((any(py == v or py.startswith(v + ".") for v in ZEROGPU_PYTHON),
                f"python_version: {py or 'missing'} (ZeroGPU runs {' or '.join(ZEROGPU_PYTHON)})"))
    hw = meta.get("suggested_hardware")
    out.append((hw in HARDWARE, f"suggested_hardware: {hw or 'missing'}"))
    sdk_version, gradio_pin = str(meta.get("sdk_version", "")), req.get("gradio")
    out.append((bool(sdk_version) and sdk_version == gradio_pin,
                f"sdk_version: {sdk_version or 'missing'}, requirements.txt gradio=={gradio_pin}"))
    torch_pin, tv_pin = req.get("torch"), req.get("torchvision")
    out.append((torch_pin in ZEROGPU_TORCH, f"torch=={torch_pin} (ZeroGPU lists {', '.join(ZEROGPU_TORCH)})"))
    out.append((tv_pin == ZEROGPU_TORCH.get(torch_pin), f"torchvision=={tv_pin} (goes with torch {torch_pin})"))
    out.append(("spaces" in req, "spaces in requirements.txt (ZeroGPU's decorator)"))
    return out


# --------------------------------------------------------------------- the plan

def plan(root: str = ROOT) -> dict:
    rules = read_rules(root)
    rows, problems = [], []
    for path in files_to_send(root):
        full = os.path.join(root, path)
        size = os.path.getsize(full)
        binary = is_binary(full)
        lfs = goes_by_lfs(path, rules)
        rows.append({"path": path, "size": size, "binary": binary, "lfs": lfs})
        if binary and not lfs:
            problems.append(f"{path}: a binary that no LFS rule of .gitattributes covers")
        if size > MAX_FILE_MB * 1024 * 1024:
            problems.append(f"{path}: {size / 1e6:.1f} MB, over {MAX_FILE_MB} MB")
    config = check_config(root)
    problems += [f"front matter / requirements: {what}" for ok, what in config if not ok]
    return {"files": rows, "config": config, "problems": problems}


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


def report(repo_id: str, p: dict, dry_run: bool) -> str:
    rows = p["files"]
    lfs = [r for r in rows if r["lfs"]]
    lines = [f"Space {repo_id}: {len(rows)} files from the current tree"
             + (" (--dry-run: nothing is sent)" if dry_run else ""),
             f"{'size':>10}  {'storage':<7}  path"]
    for r in rows:
        lines.append(f"{_mb(r['size']):>10}  {'LFS' if r['lfs'] else 'regular':<7}  {r['path']}")
    lines.append("front matter and pins:")
    lines += [f"  {'ok  ' if ok else 'FAIL'} {what}" for ok, what in p["config"]]
    total = sum(r["size"] for r in rows)
    lines.append(f"summary: {len(rows)} files, {_mb(total)}; LFS {len(lfs)} files, {_mb(sum(r['size'] for r in lfs))}; "
                 f"regular {len(rows) - len(lfs)} files, {_mb(total - sum(r['size'] for r in lfs))}; "
                 f"largest {max((r['size'] for r in rows), default=0) / 1e6:.2f} MB; "
                 + ("all checks pass" if not p["problems"] else f"{len(p['problems'])} problem(s):"))
    lines += [f"  - {x}" for x in p["problems"]]
    return "\n".join(lines)


# --------------------------------------------------------------------- sending

def publish(repo_id: str, p: dict, private: bool, hardware: str | None, root: str = ROOT) -> str:
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise SystemExit("HF_HUB_OFFLINE is set: unset it to publish")
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

    api = HfApi()
    api.create_repo(repo_id, repo_type="space", space_sdk="gradio", exist_ok=True, private=private,
                    space_hardware=hardware)
    here = {r["path"] for r in p["files"]}
    there = set(api.list_repo_files(repo_id, repo_type="space"))
    ops = [CommitOperationAdd(path_in_repo=path, path_or_fileobj=os.path.join(root, path)) for path in sorted(here)]
    ops += [CommitOperationDelete(path_in_repo=path) for path in sorted(there - here)]
    info = api.create_commit(repo_id, ops, repo_type="space", commit_message="Publish the lab's current tree")
    return str(getattr(info, "commit_url", info))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Upload the current tree to a Hugging Face Space (not the history).")
    ap.add_argument("repo_id", metavar="OWNER/NAME", help="the Space, e.g. my-name/ssl-video-lab")
    ap.add_argument("--dry-run", action="store_true", help="list what would go, with sizes and LFS, and check; send nothing")
    ap.add_argument("--private", action="store_true", help="create the Space private (if it does not exist yet)")
    ap.add_argument("--hardware", default=None,
                    help="hardware for a new Space, e.g. zero-a10g (ZeroGPU: what a free account may create) or "
                         "cpu-upgrade; default: the Hub's default (CPU Basic, which needs a paid plan to create)")
    args = ap.parse_args(argv)
    if not re.fullmatch(r"[\w.\-]+/[\w.\-]+", args.repo_id):
        ap.error(f"{args.repo_id!r} is not OWNER/NAME")
    p = plan()
    print(report(args.repo_id, p, args.dry_run))
    if p["problems"]:
        return 1
    if args.dry_run:
        return 0
    print("sent:", publish(args.repo_id, p, args.private, args.hardware))
    return 0


if __name__ == "__main__":
    sys.exit(main())
