"""Loading the official WIDER FACE .mat ground truth (real files and tiny written ones)."""
import numpy as np
import pytest
import scipy.io

from dependency.evaluate.ground_truth import load_ground_truth


@pytest.fixture(scope="module")
def real_gt(widerface_gt_dir):
    return load_ground_truth(widerface_gt_dir)


def test_real_ground_truth_counts(real_gt, widerface_gt_dir):
    # Counts published with the data (tests/data/README.md, docs/design.md "WIDER FACE evaluation").
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


def _damaged(make_gt, content):
    gt_dir = make_gt([("0--A", [("a_1", [[0, 0, 5, 5]], {})])])
    data = (gt_dir / "wider_face_val.mat").read_bytes()
    (gt_dir / "wider_face_val.mat").write_bytes(content(data))
    return gt_dir


@pytest.mark.parametrize("content, reason", [
    (lambda data: data[:len(data) // 2], ""),  # truncated inside a variable (scipy: OSError "could not read bytes")
    (lambda data: data[:10], ""),  # truncated inside the header
    (lambda data: np.random.default_rng(0).integers(0, 256, 4000).astype(np.uint8).tobytes(), "Unknown mat file"),
    (lambda data: b"", "empty"),
])
def test_damaged_val_file_is_one_value_error_naming_it(make_gt, content, reason):
    """scipy's own errors (OSError, IndexError, ValueError ...) name no file."""
    gt_dir = _damaged(make_gt, content)
    pattern = (rf"^{gt_dir / 'wider_face_val.mat'}: cannot be read as a MATLAB .mat file \(\w+: [^\n]*{reason}"
               r"[^\n]*\); expected the official WIDER FACE")
    with pytest.raises(ValueError, match=pattern) as info:
        load_ground_truth(gt_dir)
    assert "\n" not in str(info.value)


def test_missing_variables_are_a_value_error_naming_file_and_variable(make_gt):
    gt_dir = make_gt([("0--A", [("a_1", [[0, 0, 5, 5]], {})])])
    mat = scipy.io.loadmat(str(gt_dir / "wider_face_val.mat"))
    scipy.io.savemat(str(gt_dir / "wider_face_val.mat"), {"event_list": mat["event_list"],
                                                          "file_list": mat["file_list"]})
    with pytest.raises(ValueError, match=r"wider_face_val.mat: missing variable\(s\) face_bbx_list"):
        load_ground_truth(gt_dir)
    mat = scipy.io.loadmat(str(gt_dir / "wider_hard_val.mat"))
    del mat["gt_list"]
    scipy.io.savemat(str(gt_dir / "wider_hard_val.mat"), {k: v for k, v in mat.items() if not k.startswith("__")})
    with pytest.raises(ValueError, match="missing variable"):
        load_ground_truth(gt_dir)


def test_face_labels_of_the_real_ground_truth(widerface_gt_dir, real_gt):
    gt = load_ground_truth(widerface_gt_dir, attributes=("blur", "invalid"))
    assert set(gt.attributes) == {"blur", "invalid"} and real_gt.attributes == {}
    assert all(values.shape == (39708,) and values.dtype == np.uint8 for values in gt.attributes.values())
    # Independent spot check: the last image's labels straight from the .mat file.
    mat = scipy.io.loadmat(str(widerface_gt_dir / "wider_face_val.mat"))
    last = mat["blur_label_list"][-1, 0][-1, 0].ravel()
    np.testing.assert_array_equal(gt.attributes["blur"][gt.image_start[-2]:], last)
    assert set(np.unique(gt.attributes["blur"])) <= {0, 1, 2}


def test_face_labels_of_another_length_are_a_value_error_naming_the_image(tmp_path):
    from src.data.wider_gt import write_wider_gt

    kept = np.ones((1, 3), bool)
    write_wider_gt(str(tmp_path), {"0--A": [("a_1", [[0, 0, 5, 5], [9, 9, 5, 5]], np.ones((2, 3), bool)),
                                            ("a_2", [[0, 0, 5, 5]], kept)]})
    gt_dir = tmp_path
    mat = scipy.io.loadmat(str(gt_dir / "wider_face_val.mat"))
    mat["blur_label_list"][0, 0][1, 0] = np.zeros((2, 1), np.uint8)
    scipy.io.savemat(str(gt_dir / "wider_face_val.mat"), {k: v for k, v in mat.items() if not k.startswith("__")})
    with pytest.raises(ValueError, match=r"wider_face_val.mat: 'blur_label_list' of image 2 has 2 labels; "
                                         r"expected one per box \(1\)"):
        load_ground_truth(gt_dir, attributes=("blur",))
