"""Tests for src/data/mindrecord.py: the 4-image mini COCO set converted to MindRecord and read back equal, field
by field, to load_person_keypoints; the old zoo's columns read through MindSpore's own readers; shard naming;
missing shards and a damaged one named; overwrite refusal; unreadable images named and skipped; no partial set after
a failed or interrupted conversion; the CLI."""
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from src.data.coco_keypoints import load_person_keypoints, load_record_image
from src.data.image_io import read_image
from src.convert_dataset_to_mindrecord import main
from src.data.mindrecord import (DEFAULT_PREFIX, SCHEMA, convert_coco_to_mindrecord, mindrecord_shards,
                                 read_mindrecord_records, read_shard_header)
from src.io_utils import OutputFolderError

JSON_NAME = "person_keypoints_train2017.json"
ROOT = Path(__file__).resolve().parents[2]


def make_coco_dir(root, mini_dir):
    """root/coco with train2017/ (the 4 mini images) and annotations/person_keypoints_train2017.json."""
    coco = root / "coco"
    (coco / "train2017").mkdir(parents=True)
    (coco / "annotations").mkdir()
    for path in mini_dir.glob("*.jpg"):
        shutil.copy(path, coco / "train2017" / path.name)
    shutil.copy(mini_dir / "test_coco.json", coco / "annotations" / JSON_NAME)
    return coco


@pytest.fixture(scope="module")
def converted(tmp_path_factory, coco_mini_dir):
    """(coco dir, MindRecord dir) after one conversion with the defaults (prefix coco_hp.train.mind, 8 shards)."""
    root = tmp_path_factory.mktemp("mindrecord")
    coco = make_coco_dir(root, coco_mini_dir)
    convert_coco_to_mindrecord(coco, root / "out", progress=False)
    return coco, root / "out"


@pytest.fixture()
def coco(tmp_path, coco_mini_dir):
    return make_coco_dir(tmp_path, coco_mini_dir)


def expected_records(coco):
    return load_person_keypoints(coco / "annotations" / JSON_NAME, coco / "train2017")


def set_names(prefix, count, width=1):
    shards = [f"{prefix}{i:0{width}d}" for i in range(count)]
    return sorted(shards + [name + ".db" for name in shards])


def test_round_trip_equals_load_person_keypoints(converted):
    coco, out = converted
    assert sorted(os.listdir(out)) == [".run.json"] + set_names(DEFAULT_PREFIX, 8)  # and no temporary folder left
    assert json.loads((out / ".run.json").read_text())["script"] == "convert_dataset_to_mindrecord"
    expected, records = expected_records(coco), read_mindrecord_records(out)
    assert len(records) == len(expected) == 4
    for got, want in zip(records, expected):
        assert set(got) == set(want) - {"image_path"} | {"image_bytes"}
        for key in ("file_name", "image_id", "width", "height"):
            assert got[key] == want[key] and type(got[key]) is type(want[key]), key
        for key in ("boxes", "boxes_xywh", "keypoints", "num_keypoints"):
            assert got[key].dtype == want[key].dtype, key
            np.testing.assert_array_equal(got[key], want[key], err_msg=key)  # exact: nothing lost in int32/float32
        assert got["image_bytes"] == open(want["image_path"], "rb").read()  # the file as stored
        np.testing.assert_array_equal(load_record_image(got),
                                      read_image(want["image_path"], "BGR", ignore_orientation=True))
    assert records.summary == expected.summary and records.category_id == 1


def test_zoo_columns_read_with_mindspore_dataset(converted):
    """The old zoo trained from ds.MindDataset(columns_list=[image, num_objects, keypoints, bbox, category_id]):
    those columns keep their names, dtypes and meanings (bbox = COCO x, y, w, h as in the json)."""
    import mindspore.dataset as ds

    coco, out = converted
    data = json.loads((coco / "annotations" / JSON_NAME).read_text())
    by_name = {i["file_name"]: i["id"] for i in data["images"]}
    files = mindrecord_shards(out)
    dataset = ds.MindDataset(files, columns_list=["image", "num_objects", "keypoints", "bbox", "category_id",
                                                  "file_name"], shuffle=False)
    seen = set()
    for row in dataset.create_dict_iterator(output_numpy=True, num_epochs=1):
        anns = [a for a in data["annotations"] if a["image_id"] == by_name[str(row["file_name"])]]
        assert row["num_objects"] == len(anns) and row["num_objects"].dtype == np.int32
        assert row["keypoints"].dtype == np.int32 and row["bbox"].dtype == np.float32
        np.testing.assert_array_equal(row["keypoints"], [a["keypoints"] for a in anns])
        np.testing.assert_allclose(row["bbox"], [a["bbox"] for a in anns], atol=1e-4)  # float32 of 2 decimals
        np.testing.assert_array_equal(row["category_id"], [1] * len(anns))
        assert row["image"].tobytes() == (coco / "train2017" / str(row["file_name"])).read_bytes()
        seen.add(str(row["file_name"]))
    assert seen == set(by_name)


def test_rows_come_back_in_conversion_order(coco, tmp_path, monkeypatch):
    """FileReader returns the rows of a multi-shard set in storage order, which is not the written order once
    rows are written in several calls (40 rows in calls of 5 over 4 shards came back as 0, 5, 10, 15, 20, 21,
    ...); the reader restores the json's image order."""
    import src.data.mindrecord as module

    monkeypatch.setattr(module, "WRITE_BATCH", 5)
    path = coco / "annotations" / JSON_NAME
    data = json.loads(path.read_text())
    images, annotations = [], []
    for copy in range(10):  # 40 images: 10 copies of the 4, with new ids and names
        for info in data["images"]:
            name = f"{copy}_{info['file_name']}"
            os.link(coco / "train2017" / info["file_name"], coco / "train2017" / name)
            images.append({**info, "id": copy * 10 ** 7 + info["id"], "file_name": name})
            annotations += [{**a, "image_id": images[-1]["id"]} for a in data["annotations"]
                            if a["image_id"] == info["id"]]
    images = images[::-1]  # neither id nor name order
    path.write_text(json.dumps({**data, "images": images, "annotations": annotations}))
    convert_coco_to_mindrecord(coco, tmp_path / "out", shards=4, progress=False)
    records = read_mindrecord_records(tmp_path / "out")
    assert [r["file_name"] for r in records] == [i["file_name"] for i in images]
    assert records.summary.persons == 140


@pytest.mark.parametrize("shards, names", [(1, [DEFAULT_PREFIX, DEFAULT_PREFIX + ".db"]),
                                           (3, set_names(DEFAULT_PREFIX, 3)),
                                           (12, set_names(DEFAULT_PREFIX, 12, width=2))])
def test_shard_names_follow_the_shard_count(coco, tmp_path, shards, names):
    paths, summary = convert_coco_to_mindrecord(coco, tmp_path / "out", shards=shards, progress=False)
    assert sorted(os.listdir(tmp_path / "out")) == [".run.json"] + names
    assert [os.path.basename(p) for p in paths] == [n for n in names if not n.endswith(".db")]
    assert [r["file_name"] for r in read_mindrecord_records(tmp_path / "out")] == \
        [r["file_name"] for r in expected_records(coco)]
    assert summary.images_kept == 4


def test_custom_prefix_and_split(coco, tmp_path):
    (coco / "annotations" / JSON_NAME).rename(coco / "annotations" / "person_keypoints_val2017.json")
    (coco / "train2017").rename(coco / "val2017")
    convert_coco_to_mindrecord(coco, tmp_path / "out", prefix="pose.val", shards=2, split="val2017", progress=False)
    assert sorted(os.listdir(tmp_path / "out")) == [".run.json"] + set_names("pose.val", 2)
    assert len(read_mindrecord_records(tmp_path / "out", "pose.val")) == 4
    with pytest.raises(FileNotFoundError, match="no MindRecord shards named coco_hp.train.mind"):
        read_mindrecord_records(tmp_path / "out")


@pytest.mark.parametrize("removed", ["coco_hp.train.mind0", "coco_hp.train.mind5", "coco_hp.train.mind7",
                                     "coco_hp.train.mind2.db"])
def test_missing_shard_is_named(converted, tmp_path, removed):
    _, out = converted
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in os.listdir(out):
        if name != removed:
            os.link(out / name, copy / name)  # hard links: the shards are sparse 50 MB files
    with pytest.raises(FileNotFoundError) as error:
        read_mindrecord_records(copy)
    message = str(error.value)
    assert "\n" not in message and f"{removed} missing (8 shards expected)" in message


def test_header_names_every_shard(converted):
    _, out = converted
    header = read_shard_header(out / "coco_hp.train.mind3")
    assert header["shard_addresses"] == [f"{DEFAULT_PREFIX}{i}" for i in range(8)]
    assert json.loads(header["schema"][0]["desc"])["summary"]["persons"] == 14
    with pytest.raises(ValueError, match="not a readable MindRecord shard"):
        read_shard_header(out / "coco_hp.train.mind3.db")


def test_existing_set_is_not_overwritten_unless_asked(coco, tmp_path):
    out = tmp_path / "out"
    convert_coco_to_mindrecord(coco, out, progress=False)
    before = {name: (out / name).stat().st_mtime_ns for name in os.listdir(out)}
    with pytest.raises(OutputFolderError) as error:  # bad input (exit 2), not an operating-system error
        convert_coco_to_mindrecord(coco, out, progress=False)
    assert "\n" not in str(error.value) and "pass overwrite=True (--overwrite)" in str(error.value)
    assert {name: (out / name).stat().st_mtime_ns for name in os.listdir(out)} == before
    (out / "other.mind0").write_bytes(b"another set")  # not of this prefix: left alone
    convert_coco_to_mindrecord(coco, out, shards=3, overwrite=True, progress=False)
    assert sorted(os.listdir(out)) == sorted(set_names(DEFAULT_PREFIX, 3) + [".run.json", "other.mind0"])  # no 3..7
    assert len(read_mindrecord_records(out)) == 4


def test_unreadable_images_are_named_skipped_and_counted(coco, tmp_path, caplog):
    """README's policy on every route: a truncated, an empty, a missing image and one of another size than the json
    says are each named in a warning and left out; the set holds the others and the summary counts them."""
    names = sorted(p.name for p in (coco / "train2017").glob("*.jpg"))
    truncated, empty, missing = (coco / "train2017" / name for name in names[:3])
    truncated.write_bytes(truncated.read_bytes()[:20000])
    empty.write_bytes(b"")
    missing.unlink()
    with caplog.at_level("WARNING"):
        paths, summary = convert_coco_to_mindrecord(coco, tmp_path / "out", shards=2, progress=False)
    for path in (truncated, empty, missing):
        assert sum(str(path) in message for message in caplog.messages) == 1, caplog.messages
    records = read_mindrecord_records(tmp_path / "out")
    assert [r["file_name"] for r in records] == [names[3]]
    assert (summary.images_kept, summary.images_unreadable) == (1, 3)
    assert (records.summary.images_kept, records.summary.images_unreadable) == (1, 3)
    assert records.summary.persons == summary.persons == len(records[0]["boxes"])
    assert "3 unreadable" in str(summary)


def test_no_readable_image_is_an_error_and_leaves_no_shard(coco, tmp_path):
    for path in (coco / "train2017").glob("*.jpg"):
        path.write_bytes(path.read_bytes()[:20000])
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"none of its 4 images with persons can be read \(e\.g\. .*truncated"):
        convert_coco_to_mindrecord(coco, out, progress=False)
    assert os.listdir(out) == [".run.json"]  # neither shards nor the temporary folder


def test_a_truncated_shard_is_named(converted, tmp_path):
    """MindSpore's reader says "Failed to read file" for the set; the error names the damaged shard."""
    _, out = converted
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    shard = copy / "coco_hp.train.mind3"
    data = shard.read_bytes()
    shard.write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError) as error:
        read_mindrecord_records(copy)
    assert str(error.value).startswith(f"cannot read MindRecord shard {shard} (truncated or damaged; 8 shards")


def test_interrupted_conversion_leaves_no_shard(coco, tmp_path, monkeypatch):
    import src.data.mindrecord as module

    calls = []

    def interrupted(data, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(data, *args, **kwargs)

    real = module.decode_image
    monkeypatch.setattr(module, "decode_image", interrupted)
    with pytest.raises(KeyboardInterrupt):
        convert_coco_to_mindrecord(coco, tmp_path / "out", progress=False)
    assert os.listdir(tmp_path / "out") == [".run.json"]


def test_an_image_of_another_size_is_skipped_and_non_integer_keypoints_are_refused(coco, tmp_path, caplog):
    path = coco / "annotations" / JSON_NAME
    data = json.loads(path.read_text())
    data["images"][1]["width"] = 501
    path.write_text(json.dumps(data))
    _, summary = convert_coco_to_mindrecord(coco, tmp_path / "a", progress=False)
    assert summary.images_unreadable == 1
    assert any("000000040083.jpg: the image is 500x333 but" in m and "says 501x333" in m for m in caplog.messages)
    data["images"][1]["width"] = 500
    data["annotations"][2]["keypoints"][0] = 343.5
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError) as error:
        convert_coco_to_mindrecord(coco, tmp_path / "b", progress=False)
    assert "image 000000040083.jpg (id 40083): keypoint value 343.5 does not fit the int32" in str(error.value)
    assert not (tmp_path / "b").exists() or os.listdir(tmp_path / "b") == [".run.json"]


def test_bad_arguments(coco, tmp_path):
    with pytest.raises(ValueError, match=r"shards 0: expected an integer in \[1, 1000\]"):
        convert_coco_to_mindrecord(coco, tmp_path, shards=0)
    with pytest.raises(ValueError, match="mindrecord prefix 'a/b': expected a file name"):
        convert_coco_to_mindrecord(coco, tmp_path, prefix="a/b")
    with pytest.raises(FileNotFoundError, match=r"image folder .*val2017: no such folder"):
        convert_coco_to_mindrecord(coco, tmp_path, split="val2017")
    with pytest.raises(FileNotFoundError, match="MindRecord folder .*none: no such folder"):
        read_mindrecord_records(tmp_path / "none")


def test_zoo_made_set_is_rejected_with_a_hint(tmp_path):
    """A set written with only the zoo's five fields cannot give records (no file name, size or order)."""
    from mindspore.mindrecord import FileWriter

    zoo_schema = {key: SCHEMA[key] for key in ("image", "num_objects", "keypoints", "bbox", "category_id")}
    writer = FileWriter(str(tmp_path / DEFAULT_PREFIX), shard_num=2)
    writer.add_schema(zoo_schema, "centernet_json")
    writer.write_raw_data([{"image": b"x", "num_objects": 1, "keypoints": np.zeros((1, 51), np.int32),
                            "bbox": np.ones((1, 4), np.float32), "category_id": np.ones(1, np.int32)}])
    writer.commit()
    with pytest.raises(ValueError) as error:
        read_mindrecord_records(tmp_path)
    message = str(error.value)
    assert "\n" not in message
    assert "fields ['file_name', 'height', 'image_id', 'record_index', 'width'] missing" in message


def test_cli(coco, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["--coco_dir", str(coco), "--mindrecord_dir", str(out), "--shards", "2",
                 "--mindrecord_prefix", "p.mind"]) == 0
    assert [os.path.basename(p) for p in mindrecord_shards(out, "p.mind")] == ["p.mind0", "p.mind1"]
    assert "wrote 4 images, 14 persons to 2 shards" in capsys.readouterr().out
    with pytest.raises(OutputFolderError, match="already holds"):
        main(["--coco_dir", str(coco), "--mindrecord_dir", str(out), "--shards", "2", "--mindrecord_prefix", "p.mind"])
    (coco / "train2017" / "000000000785.jpg").write_bytes(b"")
    assert main(["--coco_dir", str(coco), "--mindrecord_dir", str(out), "--mindrecord_prefix", "p.mind",
                 "--overwrite"]) == 1  # done, one image unreadable
    assert len(mindrecord_shards(out, "p.mind")) == 8


# ---------------------------------------------------------------- object-detection sets (kind "instances")

@pytest.fixture()
def instances_coco(tmp_path, coco_mini_dir):
    from tests.coco_instances_mini import write_instances_set

    return write_instances_set(tmp_path / "det", coco_mini_dir, "train2017")


def test_detection_round_trip_equals_load_coco_instances(instances_coco, tmp_path):
    """Every image (the one without objects too), boxes, classes and the summary come back exactly; the class
    table is kept in the set and checked against the model's."""
    from src.data.coco_instances import load_coco_instances
    from tests.coco_instances_mini import COCO_IDS

    out = tmp_path / "out"
    paths, summary = convert_coco_to_mindrecord(instances_coco, out, prefix="coco_det.train.mind", shards=2,
                                                progress=False, kind="instances")
    assert len(paths) == 2 and summary.images_kept == 5 and summary.objects == 14
    expected = load_coco_instances(instances_coco / "annotations" / "instances_train2017.json",
                                   instances_coco / "train2017")
    records = read_mindrecord_records(out, "coco_det.train.mind", kind="instances", category_ids=COCO_IDS)
    assert len(records) == 5 and records.summary == expected.summary
    assert records.categories.ids == tuple(COCO_IDS) and records.categories.names == expected.categories.names
    for got, want in zip(records, expected):
        assert set(got) == set(want) - {"image_path"} | {"image_bytes"}
        for key in ("file_name", "image_id", "width", "height"):
            assert got[key] == want[key], key
        for key in ("boxes", "boxes_xywh", "labels"):
            assert got[key].dtype == want[key].dtype, key
            np.testing.assert_array_equal(got[key], want[key], err_msg=key)
    assert [len(r["boxes"]) for r in records][-1] == 0  # the image without objects
    with pytest.raises(ValueError, match=r"categories \[1, 2, 3, .*differ from the 2 expected"):
        read_mindrecord_records(out, "coco_det.train.mind", kind="instances", category_ids=[1, 2])


def test_a_set_of_the_other_kind_is_refused_naming_it(converted, instances_coco, tmp_path):
    _, pose_set = converted
    with pytest.raises(ValueError) as error:
        read_mindrecord_records(pose_set, kind="instances")
    assert "\n" not in str(error.value) and "holds person_keypoints records, this model trains on instances" in \
        str(error.value) and "--config_path" in str(error.value)
    convert_coco_to_mindrecord(instances_coco, tmp_path / "det", progress=False, kind="instances")
    with pytest.raises(ValueError, match="holds instances records, this model trains on person_keypoints"):
        read_mindrecord_records(tmp_path / "det")


def test_cli_learns_the_kind_and_prefix_from_the_config(instances_coco, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["--coco_dir", str(instances_coco), "--mindrecord_dir", str(out), "--shards", "1",
                 "--config_path", str(ROOT / "configs" / "centernet_det.yaml")]) == 0
    assert sorted(p.name for p in out.iterdir()) == [".run.json", "coco_det.train.mind", "coco_det.train.mind.db"]
    assert "wrote 5 images, 14 objects to 1 shards" in capsys.readouterr().out
    main(["--coco_dir", str(instances_coco), "--mindrecord_dir", str(out), "--shards", "1", "--skip_crowd",
          "--config_path", str(ROOT / "configs" / "centernet_det.yaml"), "--mindrecord_prefix", "nocrowd.mind"])
    assert "wrote 5 images, 13 objects" in capsys.readouterr().out
    with pytest.raises(ValueError, match="does not train from COCO MindRecord sets"):
        main(["--coco_dir", str(instances_coco), "--mindrecord_dir", str(out), "--config_path",
              str(ROOT / "default_config.yaml")])
