"""Tests for src/data/dataset.py's TrainingSource with a numpy-only source: the (epoch, index) encoding of the
sampler, per-sample generators, skipping unreadable images, and the errors (the MindSpore pipeline itself is
tested through the face source in tests/centerface/test_data.py)."""
import numpy as np
import pytest

from src.data.dataset import TrainingSource, UnreadableImageError, unreadable_images_seen


class NumberSource(TrainingSource):
    """Sample = (index, one uniform draw); indices in `broken` cannot be read."""

    column_names = ("index", "draw")

    def __init__(self, num, broken=(), **kwargs):
        super().__init__(list(range(num)), name="numbers", **kwargs)
        self.broken = set(broken)

    def sample(self, index, rng):
        if index in self.broken:
            raise UnreadableImageError(f"cannot read image {index}.jpg")
        return np.int64(index), rng.random()


def test_epoch_encoding_and_generators():
    source = NumberSource(5, seed=3)
    plain = source[2]
    assert plain[0] == 2 and plain[1] == np.random.default_rng([1, 3, 0, 2]).random()
    # the sampler's encoding (epoch + 1) * len + i is sample i of that epoch
    assert source[(4 + 1) * 5 + 2][1] == np.random.default_rng([1, 3, 4, 2]).random()
    source.set_epoch(4)
    assert source[2] == source[(4 + 1) * 5 + 2]
    with pytest.raises(IndexError):
        source[-1]


def test_unreadable_samples_are_replaced_by_the_next_readable_one():
    source = NumberSource(4, broken={1, 2}, seed=0)
    assert source[1][0] == 3 and source[2][0] == 3 and source[3][0] == 3
    assert source.skipped_images == 3  # 1 and 2 for index 1, then 2 for index 2
    with pytest.raises(ValueError, match="numbers: none of its 4 images can be read"):
        NumberSource(4, broken={0, 1, 2, 3})[0]


def test_empty_source_is_an_error():
    with pytest.raises(ValueError, match="numbers: no images"):
        NumberSource(0)


def test_missing_files_are_left_out_at_start_and_every_unreadable_image_is_counted_across_forks(tmp_path):
    """The count train.py takes its exit code from covers files missing at start and images skipped when read,
    in this process and in dataset workers forked from it (MindSpore's default start method)."""
    import multiprocessing

    (tmp_path / "0.jpg").write_bytes(b"x")
    (tmp_path / "2.jpg").write_bytes(b"x")
    before = unreadable_images_seen()
    source = NumberSource(3, broken={1}, image_path=lambda i: str(tmp_path / f"{i}.jpg"))  # position 1: 2.jpg
    assert [int(r) for r in source.records] == [0, 2] and source.skipped_images == 1
    assert unreadable_images_seen() == before + 1
    worker = multiprocessing.get_context("fork").Process(target=source.__getitem__, args=(1,))
    worker.start()
    worker.join(timeout=60)
    assert worker.exitcode == 0 and unreadable_images_seen() == before + 2
    none = NumberSource(1, image_path=lambda i: None)  # images held in memory: nothing to check
    assert len(none) == 1 and unreadable_images_seen() == before + 2
    with pytest.raises(FileNotFoundError, match=r"numbers: none of its 2 images found \(e\.g\. .*/5\.jpg\)"):
        TrainingSource([5, 6], name="numbers", image_path=lambda i: str(tmp_path / f"{i}.jpg"))
