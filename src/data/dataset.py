"""Training data for every model: a random-access source of augmented samples, and the batched, sharded
MindSpore pipeline over it.

``TrainingSource`` is the base of each model's source (CenterFace's faces, CenterNet's people): random
access (``source[i]``, ``len(source)``) usable directly or through ``mindspore.dataset.GeneratorDataset``;
a subclass says which arrays a sample has (``column_names``) and how one is made (``sample(index, rng)``).
``create_dataset`` builds the batched MindSpore pipeline with sharding and worker processes.

Randomness: sample i of epoch e is augmented with ``numpy.random.default_rng([1, seed, e, i])``, so
every image gets different augmentation in every epoch, and a run is reproducible whatever the worker
count or order. The epoch reaches worker processes inside the index itself: the sampler built by
``create_dataset`` yields ``(e + 1) * len(source) + i``; plain indices ``i < len(source)`` use
``source.epoch`` (``set_epoch``).

OpenCV threading is left alone: calling cv2.setNumThreads inside a forked MindSpore worker deadlocked
(3 of 4 runs) once the parent process had used OpenCV's thread pool.

Unreadable images, the policy of every route (README "Exit codes and outputs"): an image file missing when a source
is built (``image_path`` given) is named in a warning and left out; one that cannot be decoded when read (corrupt,
truncated, zero bytes, or of another size than its annotation says) is skipped: a warning names it, and the next
image of the set takes its place in the batch, so training goes on with the rest (never silently). Both are counted
in ``skipped_images`` (this process) and in ``unreadable_images_seen()``, a counter this process shares with the
dataset workers it forks, from which train.py takes its exit code 1. None found at all is an error (a wrong folder).
"""
import copy
import functools
import logging
import math
import os

import cv2
import numpy as np

_AUGMENT_STREAM, _SHUFFLE_STREAM = 1, 2  # first SeedSequence word: keeps the two streams apart

logger = logging.getLogger(__name__)


def hwc_to_chw(image):
    """HxWxC float32 -> contiguous CxHxW float32. cv2.split writing into the planes of the result is
    ~2x faster than numpy's transposed copy (0.38 vs 0.74 ms at 512x512x3)."""
    image = np.ascontiguousarray(image, dtype=np.float32)
    chw = np.empty((image.shape[2],) + image.shape[:2], np.float32)
    cv2.split(image, list(chw))
    return chw


class UnreadableImageError(ValueError):
    """A training image cannot be decoded (the message names the file)."""


_UNREADABLE = None  # multiprocessing.RawValue: unreadable images met by this process and its forked workers


def _unreadable_counter():
    """The shared counter, created on first use: before create_dataset forks its workers, which inherit it."""
    global _UNREADABLE
    if _UNREADABLE is None:
        import multiprocessing

        _UNREADABLE = multiprocessing.RawValue("q", 0)
    return _UNREADABLE


def unreadable_images_seen():
    """How many times an image was found unreadable (left out at start or skipped when read) by any source of this
    process or of the dataset workers it forked (a file skipped in several epochs counts each time)."""
    return int(_unreadable_counter().value)


def present_records(records, image_path, name):
    """`records` without those whose `image_path(record)` file does not exist (None: nothing to check), each of
    them named in a warning and counted; FileNotFoundError when none exists (a wrong image folder)."""
    present, missing = [], []
    for record in records:
        path = image_path(record)
        (missing if path is not None and not os.path.isfile(path) else present).append(record)
    if missing and not present:
        raise FileNotFoundError(f"{name}: none of its {len(missing)} images found (e.g. {image_path(missing[0])})")
    for record in missing:
        logger.warning("%s: no such image file (listed in %s); skipped", image_path(record), name)
    _unreadable_counter().value += len(missing)
    return present, len(missing)


class TrainingSource:
    """Random-access training samples; subclasses set ``column_names`` and implement ``sample``.

    Args:
        records: one entry per image (whatever ``sample`` needs).
        seed: base seed of the per-sample generators. epoch: initial epoch (see set_epoch).
        name: what the source reads, for messages (e.g. the annotation file).
        image_path: record -> its image file (None: held in memory), to leave out missing files at once.

    ``source[i]`` returns ``sample(i, rng_for(i, epoch))``: a tuple of arrays in ``column_names`` order. When
    ``sample`` raises UnreadableImageError the image is skipped (warned once per file, counted in
    ``skipped_images``) and the next image takes its place.
    """

    column_names = ()

    def __init__(self, records, seed=0, epoch=0, name="", image_path=None):
        self.name = str(name)
        self.skipped_images = 0
        if image_path is not None:
            records, self.skipped_images = present_records(records, image_path, self.name)
        self.records = list(records)
        if not self.records:
            raise ValueError(f"{self.name or 'training source'}: no images")
        self.seed = int(seed)
        self.epoch = int(epoch)
        self._epoch_counter = _EpochCounter(self.epoch)
        self._warned = set()

    def __len__(self):
        return len(self.records)

    def set_epoch(self, epoch):
        """Epoch for plain indices, and the epoch the next iterator of a create_dataset pipeline starts
        at (use it when resuming; a running multi-epoch iterator advances by itself)."""
        self.epoch = int(epoch)
        self._epoch_counter.next_epoch = self.epoch

    def rng_for(self, index, epoch):
        """The generator that augments sample ``index`` in ``epoch``."""
        return np.random.default_rng([_AUGMENT_STREAM, self.seed, int(epoch), int(index)])

    def sample(self, index, rng):
        """The arrays of record ``index`` augmented with ``rng`` (tuple in ``column_names`` order)."""
        raise NotImplementedError

    def __getitem__(self, index):
        index = int(index)
        num = len(self.records)
        if index < 0:
            raise IndexError(f"index {index} out of range for {num} images")
        epoch, index = (self.epoch, index) if index < num else (index // num - 1, index % num)
        for attempt in range(num):
            current = (index + attempt) % num
            try:
                return self.sample(current, self.rng_for(current, epoch))
            except UnreadableImageError as err:
                self.skipped_images += 1
                _unreadable_counter().value += 1
                if str(err) not in self._warned:
                    self._warned.add(str(err))
                    logger.warning("%s; skipped (the next image takes its place)", err)
        raise ValueError(f"{self.name or 'training source'}: none of its {num} images can be read")


class _EpochCounter:
    """Epoch the next iterator starts at; shared by a source and every copy MindSpore makes of its
    sampler (MindSpore deep-copies the sampler for each iterator and for get_dataset_size)."""

    def __init__(self, next_epoch=0):
        self.next_epoch = int(next_epoch)


@functools.lru_cache(maxsize=None)
def _make_sampler_class():
    import mindspore.dataset as ds  # imported lazily: plain source use needs no MindSpore

    class EpochShardSampler(ds.Sampler):
        """Per-epoch shuffled, sharded indices, encoded as (epoch + 1) * num_items + i.

        All shards draw the same permutation (``default_rng([2, seed, epoch])``), pad it by wrapping
        to a multiple of num_shards (as MindSpore's/PyTorch's DistributedSampler do, so every rank runs
        the same number of steps) and take every num_shards-th item from shard_id.

        Epochs: an iterator's sampler copy reads the shared counter on its first pass and counts
        passes from there (a multi-epoch iterator runs start, start+1, ...; set_epoch calls made while
        it runs do not disturb it), and moves the counter past every epoch it produced, so the next
        iterator continues (one iterator per epoch works too). ``source.set_epoch(e)`` before creating
        an iterator makes it start at e (resuming). ``skip`` leaves out the first samples of this
        shard's epochs (a one-epoch dataset for the rest of an epoch: resuming inside it)."""

        def __init__(self, num_items, num_shards, shard_id, shuffle, seed, counter, skip=0):
            self.num_items, self.num_shards, self.shard_id = num_items, num_shards, shard_id
            self.shuffle, self.seed, self.counter, self.skip = shuffle, seed, counter, skip
            self._start_epoch, self._passes = None, 0
            super().__init__(num_samples=len(self))

        def __len__(self):
            return math.ceil(self.num_items / self.num_shards) - self.skip

        def __deepcopy__(self, memo):
            clone = copy.copy(self)  # shallow: the copies share the counter
            clone.batch_sizes = []
            clone._start_epoch, clone._passes = None, 0
            return clone

        def epoch_indices(self, epoch):
            """Plain image indices this shard visits in ``epoch``."""
            order = np.arange(self.num_items)
            if self.shuffle:
                order = np.random.default_rng([_SHUFFLE_STREAM, self.seed, epoch]).permutation(order)
            total = math.ceil(self.num_items / self.num_shards) * self.num_shards
            order = np.resize(order, total)  # wraps around to pad
            return order[self.shard_id::self.num_shards]

        def __iter__(self):
            if self._start_epoch is None:
                self._start_epoch = self.counter.next_epoch
            epoch = self._start_epoch + self._passes
            self._passes += 1
            self.counter.next_epoch = max(self.counter.next_epoch, epoch + 1)
            for i in self.epoch_indices(epoch)[self.skip:]:
                yield int((epoch + 1) * self.num_items + i)

    return EpochShardSampler


def default_num_workers(num_shards=None):
    """CPU cores per shard, at least 1 and at most 8."""
    return max(1, min(8, (os.cpu_count() or 1) // max(1, num_shards or 1)))


def create_dataset(source, batch_size, num_shards=None, shard_id=None, num_workers=None, shuffle=True,
                   drop_remainder=True, skip_batches=0):
    """Batched ``mindspore.dataset.GeneratorDataset`` over ``source`` with its ``column_names``.

    num_shards/shard_id: data-parallel sharding (both or neither). num_workers: worker processes
    (python_multiprocessing when > 1), default ``default_num_workers(num_shards)``. Epochs advance by
    themselves across the passes of one iterator and across iterators; ``source.set_epoch(e)`` before
    creating an iterator starts it at epoch e (see EpochShardSampler). ``skip_batches``: leave out the
    first batches of every epoch, without reading their images (use the dataset for one epoch: the rest
    of an epoch a resumed run had started; MindSpore needs the sample count fixed when it is built)."""
    import mindspore.dataset as ds

    if (num_shards is None) != (shard_id is None):
        raise ValueError(f"num_shards and shard_id go together, got num_shards={num_shards}, "
                         f"shard_id={shard_id}")
    num_shards = 1 if num_shards is None else int(num_shards)
    shard_id = 0 if shard_id is None else int(shard_id)
    if not 0 <= shard_id < num_shards:
        raise ValueError(f"shard_id must be in [0, {num_shards}), got {shard_id}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    num_workers = default_num_workers(num_shards) if num_workers is None else int(num_workers)
    _unreadable_counter()  # before the workers fork, so that they count into the parent's counter
    per_shard = math.ceil(len(source) / num_shards)
    if not 0 <= skip_batches * batch_size < per_shard:
        raise ValueError(f"skip_batches must leave samples of the {per_shard} per shard, got {skip_batches} "
                         f"batches of {batch_size}")
    sampler = _make_sampler_class()(len(source), num_shards, shard_id, shuffle, source.seed,
                                    source._epoch_counter, skip=skip_batches * batch_size)
    dataset = ds.GeneratorDataset(source, column_names=list(source.column_names), sampler=sampler,
                                  num_parallel_workers=num_workers,
                                  python_multiprocessing=num_workers > 1)
    return dataset.batch(batch_size, drop_remainder=drop_remainder)
