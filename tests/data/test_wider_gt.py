"""Tests of src/data/wider_gt.py against the official WIDER FACE ground truth files in tests/data/widerface_gt."""
import numpy as np
import pytest
import scipy.io

from src.data.wider_gt import SETTINGS, write_wider_gt

FILES = ["wider_face_val", "wider_easy_val", "wider_medium_val", "wider_hard_val"]


def leaf_signature(key, leaf):
    """Structural fingerprint of one leaf: dtype, and its shape with face counts replaced by 'n'."""
    if key in ("event_list", "file_list"):
        return leaf.dtype.kind, leaf.shape
    if leaf.size == 0:
        return leaf.dtype.str, leaf.shape
    return leaf.dtype.str, ("n", leaf.shape[1])


def signatures(mat):
    """Per variable: outer cell (dtype, ndim, columns), inner cell layout and the set of leaf signatures."""
    result = {}
    for key, value in mat.items():
        if key.startswith("__"):
            continue
        outer = (value.dtype.kind, value.ndim, value.shape[1])
        if key == "event_list":
            inner, leaves = None, {leaf_signature(key, leaf) for leaf in value[:, 0]}
        else:
            inner = {(cell.dtype.kind, cell.ndim, cell.shape[1]) for cell in value[:, 0]}
            leaves = {leaf_signature(key, leaf) for cell in value[:, 0] for leaf in cell[:, 0]}
        result[key] = (outer, inner, leaves)
    return result


def tiny_events():
    rng = np.random.default_rng(0)
    many = rng.integers(1, 400, size=(300, 4))
    kept_many = np.zeros((300, 3), bool)
    kept_many[:, 2] = True            # hard keeps all 300 -> indices up to 300 need uint16
    kept_many[:10, :2] = True
    return {
        "0--Synthetic_Street": [
            ("img_a", [[10, 20, 30, 40]], [[False, False, False]]),                  # one box, none kept
            ("img_b", [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]],
             [[False, False, True], [True, True, True], [False, True, True]],
             {"occlusion": [0, 1, 2], "blur": [2, 0, 1]}),
        ],
        "1--Synthetic_Crowd": [
            ("img_c", many, kept_many),
            ("img_empty", np.zeros((0, 4), int), np.zeros((0, 3), bool)),           # no faces
        ],
    }


def test_written_files_have_the_structure_of_the_official_ones(tmp_path, widerface_gt_dir):
    write_wider_gt(str(tmp_path), tiny_events())
    for name in FILES:
        real_path, ours_path = widerface_gt_dir / f"{name}.mat", tmp_path / f"{name}.mat"
        assert scipy.io.whosmat(str(ours_path)) == [(k, (2, 1), "cell") for k, _, _ in
                                                   scipy.io.whosmat(str(real_path))]
        real, ours = signatures(scipy.io.loadmat(str(real_path))), signatures(scipy.io.loadmat(str(ours_path)))
        assert list(ours) == list(real)
        for key in real:
            assert ours[key][:2] == real[key][:2], key
            # every leaf layout we write also occurs in the official file
            assert ours[key][2] <= real[key][2], (key, ours[key][2] - real[key][2])
        raw = ours_path.read_bytes()
        assert raw[:10] == b"MATLAB 5.0" and raw[124:128] == b"\x00\x01IM"
        assert int.from_bytes(raw[128:132], "little") == 15     # miCOMPRESSED, as the official files


def test_gt_list_dtype_and_empty_shapes_follow_matlab_find(tmp_path):
    write_wider_gt(str(tmp_path), tiny_events())
    easy = scipy.io.loadmat(str(tmp_path / "wider_easy_val.mat"))["gt_list"]
    hard = scipy.io.loadmat(str(tmp_path / "wider_hard_val.mat"))["gt_list"]
    assert easy[0, 0][0, 0].shape == (0, 0) and easy[0, 0][0, 0].dtype == np.uint8   # single box, not kept
    np.testing.assert_array_equal(easy[0, 0][1, 0], [[2]])
    np.testing.assert_array_equal(hard[0, 0][1, 0], [[1], [2], [3]])
    assert hard[0, 0][1, 0].dtype == np.uint8
    assert hard[1, 0][0, 0].dtype == np.uint16                      # index 300 > 255
    np.testing.assert_array_equal(hard[1, 0][0, 0][:, 0], np.arange(1, 301))
    np.testing.assert_array_equal(easy[1, 0][0, 0][:, 0], np.arange(1, 11))
    assert easy[1, 0][0, 0].dtype == np.uint8
    assert hard[1, 0][1, 0].shape == (0, 0)                         # no faces: placeholder box, none kept
    boxes = scipy.io.loadmat(str(tmp_path / "wider_face_val.mat"))["face_bbx_list"]
    np.testing.assert_array_equal(boxes[1, 0][1, 0], np.zeros((1, 4)))


def test_write_read_round_trip(tmp_path, read_wider_gt):
    events = tiny_events()
    write_wider_gt(str(tmp_path), events)
    back = read_wider_gt(str(tmp_path))
    assert list(back) == list(events)
    for event, images in events.items():
        assert [img.stem for img in back[event]] == [item[0] for item in images]
        for item, img in zip(images, back[event]):
            boxes, kept = np.asarray(item[1]), np.asarray(item[2])
            if len(boxes) == 0:
                boxes, kept = np.zeros((1, 4)), np.zeros((1, 3), bool)
            np.testing.assert_array_equal(img.boxes_xywh, boxes)
            assert img.boxes_xywh.dtype == np.int32
            np.testing.assert_array_equal(img.kept, kept)
            given = item[3] if len(item) == 4 else {}
            for name, values in img.attributes.items():
                np.testing.assert_array_equal(values, given.get(name, np.zeros(len(boxes))))


def test_output_is_byte_identical_for_the_same_input(tmp_path):
    write_wider_gt(str(tmp_path / "a"), tiny_events())
    write_wider_gt(str(tmp_path / "b"), tiny_events())
    for name in FILES:
        assert (tmp_path / "a" / f"{name}.mat").read_bytes() == (tmp_path / "b" / f"{name}.mat").read_bytes()


def test_official_ground_truth_reads_and_rewrites_identically(tmp_path, widerface_gt_dir, read_wider_gt):
    gt = read_wider_gt(str(widerface_gt_dir))
    # totals of the official val ground truth (tests/data/README.md)
    assert len(gt) == 61
    assert sum(len(images) for images in gt.values()) == 3226
    assert sum(len(img.boxes_xywh) for images in gt.values() for img in images) == 39708
    kept = sum(img.kept.sum(axis=0) for images in gt.values() for img in images)
    assert dict(zip(SETTINGS, kept.tolist())) == {"easy": 7211, "medium": 13319, "hard": 31958}
    write_wider_gt(str(tmp_path), gt)
    for name in FILES:
        real = scipy.io.loadmat(str(widerface_gt_dir / f"{name}.mat"))
        ours = scipy.io.loadmat(str(tmp_path / f"{name}.mat"))
        for key in real:
            if key.startswith("__"):
                continue
            for real_cell, our_cell in zip(real[key][:, 0], ours[key][:, 0]):
                pairs = [(real_cell, our_cell)] if key == "event_list" else zip(real_cell[:, 0], our_cell[:, 0])
                for a, b in pairs:
                    assert (a.dtype, a.shape) == (b.dtype, b.shape) and np.array_equal(a, b), key


@pytest.mark.parametrize("item, message", [
    (("x", [[1, 2, 3]], [[True, True, True]]), "boxes_xywh must have shape (n, 4)"),
    (("x", [[1, 2, 3, 4.5]], [[True, True, True]]), "whole pixels"),
    (("x", [[1, 2, 3, 4]], [[1, 1, 1]]), "kept must be a bool array of shape (1, 3)"),
    (("x.jpg", [[1, 2, 3, 4]], [[True, True, True]]), "image stem"),
    (("x", [[1, 2, 3, 4]], [[True, True, True]], {"colour": [1]}), "unknown attribute 'colour'"),
])
def test_bad_input_is_reported_with_event_and_image(tmp_path, item, message):
    with pytest.raises(ValueError) as error:
        write_wider_gt(str(tmp_path), {"3--Ev": [item]})
    assert message in str(error.value) and "'3--Ev'" in str(error.value)


def test_missing_file_is_named(tmp_path, read_wider_gt):
    with pytest.raises(FileNotFoundError, match="wider_face_val.mat"):
        read_wider_gt(str(tmp_path))
