"""Tests for src/data/image_io.py: real JPEGs decode like cv2.imread, truncated JPEG/PNG files are refused,
padding after the JPEG end marker is allowed, EXIF orientation on request, image listing."""
import shutil

import cv2
import numpy as np
import pytest

from src.data.image_io import decode_image, is_complete_image_file, list_images, read_image


def decode_image_bgr(data):
    return decode_image(data, "BGR", ignore_orientation=True)


def read_image_bgr(path):
    return read_image(path, "BGR", ignore_orientation=True)


@pytest.fixture()
def jpeg(coco_mini_dir, tmp_path):
    """A copy of a real COCO image (tmp_path/full.jpg) and its bytes."""
    path = tmp_path / "full.jpg"
    shutil.copy(coco_mini_dir / "000000040083.jpg", path)
    return path, path.read_bytes()


def test_read_image_bgr_reads_a_real_jpeg_like_cv2(jpeg):
    path, _ = jpeg
    image = read_image_bgr(path)
    assert image.shape == (333, 500, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(image, cv2.imread(str(path), cv2.IMREAD_COLOR))


def test_truncated_jpeg_is_unreadable_although_cv2_decodes_it(jpeg, tmp_path):
    _, data = jpeg
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(data[:len(data) * 2 // 3])
    partial = cv2.imread(str(truncated), cv2.IMREAD_COLOR)
    assert partial is not None and partial.shape == (333, 500, 3)  # the failure mode: a silent partial decode
    assert read_image_bgr(truncated) is None
    # Cut anywhere, even right before the marker, the file is incomplete.
    for cut in (100, len(data) // 2, len(data) - 2, len(data) - 1):
        assert not is_complete_image_file(data[:cut]) and decode_image_bgr(data[:cut]) is None, cut


def test_padding_after_the_jpeg_end_marker_is_allowed(jpeg):
    _, data = jpeg
    assert data.endswith(b"\xff\xd9")
    full = decode_image_bgr(data)
    for padding in (b"\x00" * 100, b"\xff\xff", b"\x00\xff\x00"):
        np.testing.assert_array_equal(decode_image_bgr(data + padding), full)
    assert decode_image_bgr(data + b"trailing text") is None  # not padding: treated as damaged


def test_missing_empty_and_non_image_files(tmp_path):
    assert read_image_bgr(tmp_path / "none.jpg") is None
    (tmp_path / "empty.jpg").write_bytes(b"")
    assert read_image_bgr(tmp_path / "empty.jpg") is None
    (tmp_path / "text.jpg").write_bytes(b"not an image at all")
    assert read_image_bgr(tmp_path / "text.jpg") is None
    assert read_image_bgr(tmp_path) is None  # a folder


def test_png_complete_and_truncated(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    ok, encoded = cv2.imencode(".png", pixels)
    data = encoded.tobytes()
    np.testing.assert_array_equal(decode_image_bgr(data), pixels)
    assert decode_image_bgr(data[:-12]) is None  # without its IEND chunk


def test_exif_orientation_applied_unless_ignored(tmp_path):
    from PIL import Image

    pixels = np.random.default_rng(0).integers(0, 256, (40, 60, 3), np.uint8)
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[274] = 6  # "rotate 90 CW to display"
    image.save(tmp_path / "exif.jpg", exif=exif.tobytes(), quality=95)
    assert read_image(tmp_path / "exif.jpg").shape == (60, 40, 3)  # as cv2.imread and a viewer show it
    assert read_image(tmp_path / "exif.jpg", "BGR", ignore_orientation=True).shape == (40, 60, 3)  # stored pixels
    rgb, bgr = read_image(tmp_path / "exif.jpg"), read_image(tmp_path / "exif.jpg", "BGR")
    np.testing.assert_array_equal(rgb, bgr[..., ::-1])


def test_list_images_walks_folders_and_leaves_out_the_output_folder(tmp_path):
    for rel in ("a/x.jpg", "a/y.PNG", "b/z.jpeg", "notes.txt", "out/old.jpg"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path, exclude=tmp_path / "out")]
    assert found == ["a/x.jpg", "a/y.PNG", "b/z.jpeg"]
    assert list_images(tmp_path / "a" / "x.jpg") == [tmp_path / "a" / "x.jpg"]
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        list_images(tmp_path / "none")
    with pytest.raises(FileNotFoundError, match="holds no images"):
        list_images(tmp_path / "out", exclude=tmp_path / "out")
