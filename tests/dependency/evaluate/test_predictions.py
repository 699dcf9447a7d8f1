"""Reading prediction files: values, missing files, one-line errors for malformed files."""
import numpy as np
import pytest

from dependency.evaluate.ground_truth import load_ground_truth
from dependency.evaluate.predictions import predictions_from_arrays, read_predictions


@pytest.fixture
def tiny_gt(make_gt):
    return load_ground_truth(make_gt([("0--A", [("a_1", [[0, 0, 9, 9]], {}), ("a_2", [[0, 0, 9, 9]], {})]),
                                      ("1--B", [("b_1", [[0, 0, 9, 9]], {})])]))


def _write(pred_dir, event, stem, text):
    (pred_dir / event).mkdir(parents=True, exist_ok=True)
    path = pred_dir / event / f"{stem}.txt"
    path.write_text(text)
    return path


def test_values_and_image_offsets(tiny_gt, tmp_path):
    _write(tmp_path, "0--A", "a_1", "a_1\n2\n1 2 3 4 0.5\n5.5 6 7 8 1e-3\n\n")
    _write(tmp_path, "0--A", "a_2", "a_2\n0\n")
    _write(tmp_path, "1--B", "b_1", "b_1\n1\n 10\t20 30 40 0.25 \n")
    preds = read_predictions(tmp_path, tiny_gt)
    np.testing.assert_array_equal(preds.image_start, [0, 2, 2, 3])
    np.testing.assert_array_equal(preds.boxes, [[1, 2, 3, 4], [5.5, 6, 7, 8], [10, 20, 30, 40]])
    np.testing.assert_array_equal(preds.scores, [0.5, 1e-3, 0.25])
    assert preds.missing_files == []


def test_missing_files_are_counted_and_warned_once(tiny_gt, tmp_path):
    _write(tmp_path, "0--A", "a_2", "a_2\n1\n1 2 3 4 0.5\n")
    with pytest.warns(UserWarning, match="2 of 3 prediction files missing") as record:
        preds = read_predictions(tmp_path, tiny_gt)
    assert len(record) == 1
    assert len(preds.missing_files) == 2
    np.testing.assert_array_equal(preds.image_start, [0, 0, 1, 1])


@pytest.mark.parametrize("text, message", [
    ("a_1\n", r"a_1.txt: line 2: missing count line"),
    ("a_1\nthree\n", r"a_1.txt: line 2: bad count line 'three'"),
    ("a_1\n-1\n", r"a_1.txt: line 2: bad count line '-1'"),
    ("a_1\n2\n1 2 3 4 0.5\n1 2 3 4\n", r"a_1.txt: line 4: 4 columns; expected 5"),
    ("a_1\n1\n1 2 3 4 0.5 9\n", r"a_1.txt: line 3: 6 columns; expected 5"),
    ("a_1\n3\n1 2 3 4 0.5\n1 2 3 4 0.5\n", r"a_1.txt: line 5: count line says 3 boxes but only 2"),
    ("a_1\n1\n1 2 3 4 0.5\n1 2 3 4 0.5\n", r"a_1.txt: line 4: more box lines than the count 1"),
    ("a_1\n2\n1 2 3 4 0.5\n1 2 x 4 0.5\n", r"a_1.txt: line 4: '1 2 x 4 0.5' is not 5 finite numbers"),
    ("a_1\n1\n1 2 3 4 nan\n", r"a_1.txt: line 3: '1 2 3 4 nan' is not 5 finite numbers"),
])
def test_malformed_file_is_a_one_line_error(tiny_gt, tmp_path, text, message):
    for event, stem in [("0--A", "a_2"), ("1--B", "b_1")]:
        _write(tmp_path, event, stem, f"{stem}\n1\n0 0 9 9 0.5\n")
    _write(tmp_path, "0--A", "a_1", text)
    with pytest.raises(ValueError, match=message) as error:
        read_predictions(tmp_path, tiny_gt)
    assert "\n" not in str(error.value)


def test_error_in_a_later_file_names_that_file(tiny_gt, tmp_path):
    _write(tmp_path, "0--A", "a_1", "a_1\n1\n0 0 9 9 0.5\n")
    _write(tmp_path, "0--A", "a_2", "a_2\n1\n0 0 9 9 0.5\n")
    _write(tmp_path, "1--B", "b_1", "b_1\n2\n0 0 9 9 0.5\n0 0 9 9 inf\n")
    with pytest.raises(ValueError, match=r"1--B/b_1.txt: line 4"):
        read_predictions(tmp_path, tiny_gt)


def test_missing_folder(tiny_gt, tmp_path):
    with pytest.raises(FileNotFoundError, match="prediction folder not found"):
        read_predictions(tmp_path / "nope", tiny_gt)


def test_predictions_from_arrays(tiny_gt):
    preds = predictions_from_arrays(tiny_gt, {("1--B", "b_1"): [[1, 2, 3, 4, 0.5]]})
    np.testing.assert_array_equal(preds.image_start, [0, 0, 0, 1])
    with pytest.raises(ValueError, match="0--A/a_1 have shape"):
        predictions_from_arrays(tiny_gt, {("0--A", "a_1"): [[1, 2, 3, 4]]})
