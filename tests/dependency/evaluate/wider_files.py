"""Writers for tiny WIDER FACE ground-truth .mat files and prediction folders (tests only).

The .mat files reproduce the structure of the real ones in tests/data/widerface_gt/ (checked by
test_ground_truth.py): (E, 1) cells event_list / file_list / face_bbx_list, and gt_list of 1-based
kept indices in the per-setting files.
"""
import numpy as np
import scipy.io

SETTINGS = ("easy", "medium", "hard")


def _cell_column(items):
    cell = np.empty((len(items), 1), dtype=object)
    for i, item in enumerate(items):
        cell[i, 0] = item
    return cell


def write_wider_gt(gt_dir, events):
    """events: [(event_name, [(stem, boxes (k, 4) xywh, {setting: 1-based kept indices}), ...]), ...].
    A setting missing from an image's dict keeps all its faces."""
    gt_dir.mkdir(parents=True, exist_ok=True)
    event_list = _cell_column([np.array([name]) for name, _ in events])
    file_list = _cell_column([_cell_column([np.array([stem]) for stem, _, _ in images]) for _, images in events])
    face_bbx_list = _cell_column([
        _cell_column([np.asarray(boxes, dtype=np.int32).reshape(-1, 4) for _, boxes, _ in images])
        for _, images in events])
    common = {"event_list": event_list, "file_list": file_list, "face_bbx_list": face_bbx_list}
    scipy.io.savemat(str(gt_dir / "wider_face_val.mat"), common)
    for setting in SETTINGS:
        gt_list = _cell_column([
            _cell_column([np.asarray(kept.get(setting, np.arange(1, len(boxes) + 1)), dtype=np.uint16).reshape(-1, 1)
                          for _, boxes, kept in images])
            for _, images in events])
        scipy.io.savemat(str(gt_dir / f"wider_{setting}_val.mat"), {**common, "gt_list": gt_list})
    return gt_dir


def write_predictions(pred_dir, per_image, rng=None):
    """per_image: {(event, stem): array (n, 5) x y w h score}; rng shuffles the lines when given."""
    pred_dir.mkdir(parents=True, exist_ok=True)
    for (event, stem), rows in per_image.items():
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
        if rng is not None:
            rows = rows[rng.permutation(len(rows))]
        (pred_dir / event).mkdir(parents=True, exist_ok=True)
        lines = [stem, str(len(rows))] + [" ".join(repr(float(v)) for v in row) for row in rows]
        (pred_dir / event / f"{stem}.txt").write_text("\n".join(lines) + "\n")
    return pred_dir
