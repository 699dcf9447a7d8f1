"""Tests of src/data/synthetic_coco.py: the COCO 2017 layout writer shared by the person and object generators
(ids, file names, json, random-number seeding per image), the output-folder rule and the one-line errors with
their exit statuses."""
import json
import os
from collections import Counter

import cv2
import numpy as np
import pytest

from src.data.synthetic_coco import (EXIT_INTERRUPTED, EXIT_OS, EXIT_USAGE, ID_BASE, image_draws, one_line_errors,
                                     prepare_output_folder, write_dataset)


def flat_render(rng, height, width):
    """A flat image of a colour drawn from `rng` with one 'label' per 100 pixels of width."""
    colour = rng.integers(0, 256, 3)
    image = np.empty((height, width, 3), np.uint8)
    image[:] = colour
    labels = [{"colour": colour.tolist(), "k": k} for k in range(width // 100)]
    return image, labels, Counter(labels=len(labels))


def annotate(ann_id, image_id, label):
    return {"image_id": image_id, "id": ann_id, **label}


def write(out, sizes=(3, 2), seed=5, overwrite=False):
    return write_dataset(str(out), "instances", sizes, seed, 256, flat_render, annotate,
                         lambda split: f"test {split}", [{"id": 1, "name": "thing"}], overwrite, False, "test")


def test_layout_ids_and_documents(tmp_path):
    result = write(tmp_path / "data")
    out = tmp_path / "data"
    assert sorted(os.listdir(out)) == ["annotations", "train2017", "val2017"]
    assert result["train_json"] == str(out / "annotations" / "instances_train2017.json")
    assert result["val_images"] == str(out / "val2017")
    ann_ids = []
    for split, count in (("train2017", 3), ("val2017", 2)):
        document = json.loads((out / "annotations" / f"instances_{split}.json").read_text())
        assert list(document) == ["info", "licenses", "images", "annotations", "categories"]
        assert document["info"]["description"] == f"test {split}" and "date" not in json.dumps(document["info"])
        assert document["categories"] == [{"id": 1, "name": "thing"}]
        ids = [image["id"] for image in document["images"]]
        assert ids == [ID_BASE[split] + i + 1 for i in range(count)]
        for image in document["images"]:
            assert image["file_name"] == f"{image['id']:012d}.jpg"
            decoded = cv2.imread(str(out / split / image["file_name"]))
            assert decoded.shape == (image["height"], image["width"], 3)
            labels = [a for a in document["annotations"] if a["image_id"] == image["id"]]
            assert len(labels) == image["width"] // 100
            # the label's colour was drawn from the same generator as the image: they agree (JPEG within 3)
            if labels:
                assert np.abs(decoded[5, 5][::-1].astype(int) - labels[0]["colour"]).max() <= 3
        # the images are those image_draws describes (what tests render without writing)
        assert [(image["height"], image["width"]) for image in document["images"]] == \
            [(height, width) for _, height, width in image_draws(5, split, count, 256)]
        ann_ids += [a["id"] for a in document["annotations"]]
        assert result["counts"][split]["images"] == count
        assert result["counts"][split]["labels"] == len(document["annotations"])
    assert len(set(ann_ids)) == len(ann_ids)
    assert not [name for folder in ("train2017", "val2017") for name in os.listdir(out / folder)
                if not name.endswith(".jpg")]


def test_image_i_depends_only_on_seed_split_and_index(tmp_path):
    write(tmp_path / "a", sizes=(4, 0))
    write(tmp_path / "b", sizes=(2, 1))
    assert not (tmp_path / "a" / "val2017").exists()
    for name in sorted(os.listdir(tmp_path / "b" / "train2017")):
        assert (tmp_path / "a" / "train2017" / name).read_bytes() == (tmp_path / "b" / "train2017" / name).read_bytes()
    write(tmp_path / "c", sizes=(2, 0), seed=6)
    assert (tmp_path / "c" / "train2017" / "000000000001.jpg").read_bytes() != \
        (tmp_path / "a" / "train2017" / "000000000001.jpg").read_bytes()


def test_output_folder_rule(tmp_path):
    out = tmp_path / "data"
    write(out)
    (out / "notes.txt").write_text("keep")
    (out / "annotations" / "other.json").write_text("{}")
    with pytest.raises(FileExistsError, match="exists and is not empty; pass overwrite=True") as error:
        write(out)
    assert str(out) in str(error.value) and "\n" not in str(error.value)
    write(out, sizes=(1, 0), overwrite=True)
    assert sorted(os.listdir(out)) == ["annotations", "notes.txt", "train2017"]
    assert sorted(os.listdir(out / "annotations")) == ["instances_train2017.json", "other.json"]
    assert os.listdir(out / "train2017") == ["000000000001.jpg"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="exists and is not a folder"):
        prepare_output_folder(str(tmp_path / "file"), overwrite=True)
    prepare_output_folder(str(tmp_path / "empty"), overwrite=False)
    prepare_output_folder(str(tmp_path / "empty"), overwrite=False)            # empty: nothing to refuse
    (tmp_path / "whole" / "sub").mkdir(parents=True)
    (tmp_path / "whole" / "a.txt").write_text("x")
    prepare_output_folder(str(tmp_path / "whole"), overwrite=True)               # owned=None: everything in it
    assert os.listdir(tmp_path / "whole") == []


@pytest.mark.parametrize("error, status, needle", [
    (ValueError("seed must be >= 0, got -1"), EXIT_USAGE, "seed must be >= 0"),
    (FileExistsError("/x exists and is not empty"), EXIT_USAGE, "/x exists"),
    (PermissionError(13, "Permission denied", "/ro/a.jpg"), EXIT_OS, "/ro/a.jpg: Permission denied"),
    (NotADirectoryError("/f exists and is not a folder"), EXIT_OS, "/f exists and is not a folder"),
    (KeyboardInterrupt(), EXIT_INTERRUPTED, "interrupted"),
])
def test_one_line_errors_name_the_program_and_exit_with_the_readme_status(capsys, error, status, needle):
    with pytest.raises(SystemExit) as caught:
        with one_line_errors("gen"):
            raise error
    assert caught.value.code == status
    line = capsys.readouterr().err
    assert line == str(caught.value) + "\n" and line.startswith("gen: error: ") and needle in line
    assert line.count("\n") == 1
