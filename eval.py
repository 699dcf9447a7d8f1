"""WIDER FACE validation AP from prediction files: a thin wrapper around dependency/evaluate/eval.py.

    python eval.py --pred PRED_DIR --gt GT_DIR [--iou 0.5] [--json OUT.json] [--plot OUT.png]
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dependency.evaluate.eval import main  # noqa: E402

if __name__ == "__main__":
    main()
