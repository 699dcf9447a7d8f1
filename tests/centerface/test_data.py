"""Tests for src/centerface/data.py (COCO face json reading, the face source) and, through it, the shared
pipeline of src/data/dataset.py: per-(seed, epoch, index) randomness, clear errors, skipped unreadable
images, the batched, sharded MindSpore pipeline (tiny images, 64x64 input, to stay quick)."""
import json

import cv2
import numpy as np
import pytest

from src.centerface.augment import TrainAugment
from src.centerface.data import COLUMN_NAMES, FaceDetectionSource, load_face_annotations
from src.centerface.targets import CenterFaceTargets
from src.data.dataset import create_dataset

INPUT = 64
MAX_OBJS = 8


def write_faces_json(folder, num_images=3, sizes=None):
    """Tiny images (random blocks) with 1..3 faces each, COCO face format; returns the json path."""
    rng = np.random.default_rng(0)
    images, annotations = [], []
    for i in range(num_images):
        width, height = sizes[i] if sizes else (int(rng.integers(60, 120)), int(rng.integers(60, 120)))
        pixels = cv2.resize(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), (width, height))
        cv2.imwrite(str(folder / f"img{i}.jpg"), pixels)
        images.append({"id": 10 + i, "file_name": f"img{i}.jpg", "width": width, "height": height})
        for k in range(i % 3 + 1):
            x, y, w, h = 5.0 + 15 * k, 8.0 + 10 * k, 20.0, 24.0
            keypoints = []
            for j, (fx, fy) in enumerate([(0.3, 0.4), (0.7, 0.4), (0.5, 0.6), (0.35, 0.8), (0.65, 0.8)]):
                keypoints += [x + fx * w, y + fy * h, 0 if (j == 2 and k == 1) else 2]
            annotations.append({"id": len(annotations) + 1, "image_id": 10 + i, "category_id": 1,
                                "bbox": [x, y, w, h], "keypoints": keypoints, "iscrowd": 0, "area": w * h})
    annotations.append({"id": 99, "image_id": 10, "category_id": 1, "bbox": [1, 1, 5, 5], "iscrowd": 1,
                        "keypoints": [], "area": 25})
    path = folder / "faces.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": [{"id": 1, "name": "face"}]}))
    return path


def make_source(folder, **kwargs):
    return FaceDetectionSource(folder / "faces.json", folder, TrainAugment(input_size=INPUT),
                               CenterFaceTargets(input_size=INPUT, max_objs=MAX_OBJS), seed=7, **kwargs)


EXPECTED = {"image": ((3, INPUT, INPUT), np.float32), "heatmap": ((1, 16, 16), np.float32),
            "ind": ((MAX_OBJS,), np.int32), "mask": ((MAX_OBJS,), np.float32),
            "scale": ((MAX_OBJS, 2), np.float32), "offset": ((MAX_OBJS, 2), np.float32),
            "landmarks": ((MAX_OBJS, 10), np.float32), "landmark_mask": ((MAX_OBJS, 10), np.float32),
            "size_weight": ((MAX_OBJS,), np.float32)}


def test_load_face_annotations(tmp_path):
    records = load_face_annotations(write_faces_json(tmp_path))
    assert [r["file_name"] for r in records] == ["img0.jpg", "img1.jpg", "img2.jpg"]
    assert [len(r["boxes"]) for r in records] == [1, 2, 3]  # the crowd box is skipped
    np.testing.assert_allclose(records[1]["boxes"][1], [20, 18, 40, 42])  # xywh -> xyxy
    np.testing.assert_allclose(records[1]["landmarks"][1, 0], [20 + 0.3 * 20, 18 + 0.4 * 24])
    assert records[1]["landmark_valid"][1].tolist() == [True, True, False, True, True]


def test_source_items_and_randomness(tmp_path):
    write_faces_json(tmp_path)
    source = make_source(tmp_path)
    assert len(source) == 3
    item = source[2]
    assert len(item) == len(COLUMN_NAMES)
    for name, value in zip(COLUMN_NAMES, item):
        assert (value.shape, value.dtype) == EXPECTED[name], name
    # the image column is the augmentation output in CHW order, drawn with rng_for(index, epoch)
    record = source.records[2]
    expected = source.augment(source.read_image(2), record["boxes"], record["landmarks"],
                              record["landmark_valid"], source.rng_for(2, 0))[0]
    np.testing.assert_array_equal(item[0], expected.transpose(2, 0, 1))
    again = make_source(tmp_path)[2]
    for a, b in zip(item, again):
        np.testing.assert_array_equal(a, b)  # same seed, epoch, index -> identical
    assert not np.array_equal(source[1][0], source[2][0])
    source.set_epoch(1)
    epoch1 = source[2]
    assert not np.array_equal(epoch1[0], item[0])  # every epoch differs
    # the sampler's encoding (epoch + 1) * len + i gives the same sample as set_epoch
    np.testing.assert_array_equal(source[2 * 3 + 2][0], epoch1[0])
    np.testing.assert_array_equal(source[1 * 3 + 2][0], item[0])


def test_errors_name_the_file(tmp_path, caplog):
    write_faces_json(tmp_path)
    (tmp_path / "img1.jpg").unlink()
    with caplog.at_level("WARNING"):  # README: a missing image is named and left out, training goes on
        source = make_source(tmp_path)
    assert len(source) == 2 and source.skipped_images == 1
    assert [m for m in caplog.messages if "img1.jpg" in m] == [
        f"{tmp_path / 'img1.jpg'}: no such image file (listed in {tmp_path / 'faces.json'}); skipped"]
    for name in ("img0.jpg", "img2.jpg"):
        (tmp_path / name).unlink()
    with pytest.raises(FileNotFoundError, match=r"faces.json: none of its 3 images found \(e\.g\. .*img0.jpg\)"):
        make_source(tmp_path)
    write_faces_json(tmp_path)
    (tmp_path / "img1.jpg").write_bytes(b"not a jpeg")
    source = make_source(tmp_path)
    with pytest.raises(ValueError, match=r"cannot read image .*img1\.jpg"):
        source.read_image(1)
    write_faces_json(tmp_path)
    data = json.loads((tmp_path / "faces.json").read_text())
    data["images"][0]["width"] += 1
    (tmp_path / "faces.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"img0\.jpg is .* but .*faces\.json says"):
        make_source(tmp_path).read_image(0)
    (tmp_path / "bad.json").write_text(json.dumps({"images": []}))
    with pytest.raises(ValueError, match="'annotations'"):
        load_face_annotations(tmp_path / "bad.json")
    data["annotations"][0]["bbox"] = [1, 2, 3]
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"annotations\[0\]: 'bbox'"):
        load_face_annotations(tmp_path / "bad.json")


def test_dataset_batches_shapes_and_epochs(tmp_path):
    write_faces_json(tmp_path)
    source = make_source(tmp_path)
    dataset = create_dataset(source, batch_size=2, num_workers=2)  # 3 images, drop_remainder
    assert dataset.get_dataset_size() == 1
    assert dataset.get_col_names() == list(COLUMN_NAMES)
    iterator = dataset.create_tuple_iterator(num_epochs=3, output_numpy=True)
    epochs = []
    for _ in range(3):
        source.set_epoch(0)  # a per-epoch set_epoch call must not rewind a running iterator
        epochs.append(list(iterator))
    assert [len(e) for e in epochs] == [1, 1, 1]
    for name, value in zip(COLUMN_NAMES, epochs[0][0]):
        shape, dtype = EXPECTED[name]
        assert (value.shape, value.dtype) == ((2,) + shape, dtype), name
    images = [e[0][0] for e in epochs]
    # A new iterator starts where set_epoch says (how the trainer and resume use it). Without that call it
    # would continue after the last epoch produced, but the set_epoch(0) calls above race with the
    # pipeline's prefetching of later passes, so the counter is set explicitly here.
    source.set_epoch(3)
    images.append(next(iter(dataset.create_tuple_iterator(num_epochs=1, output_numpy=True)))[0])
    assert not any(np.array_equal(images[i], images[j]) for i in range(4) for j in range(i))


def test_set_epoch_starts_the_next_iterator_there(tmp_path):
    write_faces_json(tmp_path)
    source = make_source(tmp_path)
    dataset = create_dataset(source, batch_size=2, num_workers=1, shuffle=False)
    source.set_epoch(5)
    batch = next(iter(dataset.create_tuple_iterator(num_epochs=1, output_numpy=True)))
    np.testing.assert_array_equal(batch[0], np.stack([source[0][0], source[1][0]]))  # epoch 5, order 0, 1


def test_two_shards_cover_disjoint_samples(tmp_path):
    write_faces_json(tmp_path, num_images=4)
    source = make_source(tmp_path)
    reference = [source[(0 + 1) * 4 + i][0] for i in range(4)]  # epoch-0 samples

    def shard_images(shard_id):
        dataset = create_dataset(make_source(tmp_path), batch_size=1, num_shards=2, shard_id=shard_id,
                                 num_workers=1)
        found = []
        for (image, *_rest) in dataset.create_tuple_iterator(num_epochs=1, output_numpy=True):
            matches = [i for i, ref in enumerate(reference) if np.array_equal(image[0], ref)]
            assert len(matches) == 1
            found += matches
        return found

    first, second = shard_images(0), shard_images(1)
    assert len(first) == len(second) == 2
    assert set(first).isdisjoint(second) and set(first) | set(second) == {0, 1, 2, 3}


def test_create_dataset_argument_errors(tmp_path):
    write_faces_json(tmp_path)
    source = make_source(tmp_path)
    with pytest.raises(ValueError, match="num_shards and shard_id"):
        create_dataset(source, batch_size=2, num_shards=2)
    with pytest.raises(ValueError, match="shard_id must be in"):
        create_dataset(source, batch_size=2, num_shards=2, shard_id=2)


@pytest.mark.parametrize("damage", ["garbage", "empty", "truncated"])
def test_unreadable_image_is_skipped_named_and_counted(tmp_path, caplog, damage):
    """Training goes on: the broken image's slot is filled by the next image, a warning names the file once,
    and skipped_images counts every time it was met."""
    write_faces_json(tmp_path)
    path = tmp_path / "img1.jpg"
    data = path.read_bytes()
    path.write_bytes({"garbage": b"not a jpeg", "empty": b"", "truncated": data[:len(data) // 2]}[damage])
    source = make_source(tmp_path)
    with caplog.at_level("WARNING"):
        first, again = source[1], source[1]
    np.testing.assert_array_equal(first[0], source.sample(2, source.rng_for(2, 0))[0])  # image 2 took the slot
    np.testing.assert_array_equal(again[0], first[0])
    assert source.skipped_images == 2
    assert [r.message for r in caplog.records].count(
        f"cannot read image {path}: missing, truncated, empty or not an image file; skipped (the next image takes "
        "its place)") == 1


def test_annotations_without_faces_are_refused(tmp_path):
    write_faces_json(tmp_path)
    data = json.loads((tmp_path / "faces.json").read_text())
    for ann in data["annotations"]:
        ann["category_id"] = 2
    (tmp_path / "faces.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="no usable face boxes .*category_id"):
        make_source(tmp_path)
