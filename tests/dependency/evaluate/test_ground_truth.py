"""Loading the official WIDER FACE .mat ground truth (real files and tiny written ones)."""
import numpy as np
import pytest
import scipy.io

from dependency.evaluate.ground_truth import load_ground_truth


@pytest.fixture(scope="module")
def real_gt(widerface_gt_dir):
    return load_ground_truth(widerface_gt_dir)


def test_real_ground_truth_counts(real_gt, widerface_gt_dir):
    # Counts published with the data (tests/data/README.md, DESIGN.md section 4).
    assert real_gt.num_images == 3226
    assert len(real_gt.boxes) == 39708 and real_gt.image_start[-1] == 39708
    assert {s: real_gt.num_faces(s) for s in real_gt.kept} == {"easy": 7211, "medium": 13319, "hard": 31958}
    assert len(set(real_gt.events)) == 61
    assert (real_gt.events[0], real_gt.stems[0]) == ("0--Parade", "0_Parade_marchingband_1_465")
    # Independent spot check: the last image's boxes straight from the .mat file.
    mat = scipy.io.loadmat(str(widerface_gt_dir / "wider_face_val.mat"))
    last = mat["face_bbx_list"][-1, 0][-1, 0]
    np.testing.assert_array_equal(real_gt.boxes[real_gt.image_start[-2]:], last)


def test_written_mat_has_the_real_structure(real_gt, widerface_gt_dir, make_gt):
    gt_dir = make_gt([("0--A", [("a_1", [[1, 2, 3, 4], [5, 6, 7, 8]], {"easy": [2]})])])
    for name in ("wider_face_val.mat", "wider_easy_val.mat"):
        real = scipy.io.loadmat(str(widerface_gt_dir / name))
        tiny = scipy.io.loadmat(str(gt_dir / name))
        for key in ("event_list", "file_list", "face_bbx_list") + (("gt_list",) if "easy" in name else ()):
            assert tiny[key].dtype == real[key].dtype == object and tiny[key].shape[1] == real[key].shape[1] == 1
            assert type(tiny[key][0, 0]) is type(real[key][0, 0])
            tiny_leaf, real_leaf = tiny[key][0, 0], real[key][0, 0]
            while tiny_leaf.dtype == object:  # nested cells: compare down to the leaves
                assert real_leaf.dtype == object and tiny_leaf.ndim == real_leaf.ndim
                tiny_leaf, real_leaf = tiny_leaf.flat[0], real_leaf.flat[0]
            assert tiny_leaf.dtype.kind == real_leaf.dtype.kind and tiny_leaf.ndim == real_leaf.ndim
    gt = load_ground_truth(gt_dir)
    assert gt.events == ["0--A"] and gt.stems == ["a_1"]
    np.testing.assert_array_equal(gt.boxes, [[1, 2, 3, 4], [5, 6, 7, 8]])
    np.testing.assert_array_equal(gt.kept["easy"], [False, True])
    np.testing.assert_array_equal(gt.kept["hard"], [True, True])


def test_image_without_boxes(make_gt):
    gt = load_ground_truth(make_gt([("0--A", [("a_1", np.zeros((0, 4)), {}), ("a_2", [[0, 0, 5, 5]], {})])]))
    np.testing.assert_array_equal(gt.image_start, [0, 0, 1])


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="wider_face_val.mat: no such file"):
        load_ground_truth(tmp_path)


def test_out_of_range_kept_index(make_gt):
    gt_dir = make_gt([("0--A", [("a_1", [[0, 0, 5, 5]], {"medium": [2]})])])
    with pytest.raises(ValueError, match=r"wider_medium_val.mat: gt_list\{1\}\{1\} has index 2..2"):
        load_ground_truth(gt_dir)


def test_setting_file_of_other_images(make_gt, tmp_path):
    gt_dir = make_gt([("0--A", [("a_1", [[0, 0, 5, 5]], {})])])
    other = make_gt([("0--A", [("b_1", [[0, 0, 5, 5]], {})])], name="other")
    (other / "wider_hard_val.mat").replace(gt_dir / "wider_hard_val.mat")
    with pytest.raises(ValueError, match="wider_hard_val.mat: .* does not line up"):
        load_ground_truth(gt_dir)
