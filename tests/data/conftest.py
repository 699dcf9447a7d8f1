"""Fixtures of the data tests."""
import numpy as np
import pytest


@pytest.fixture(scope="session")
def read_wider_gt():
    """A function reading the four WIDER .mat files of a folder back into what `write_wider_gt` takes: event ->
    list of WiderImageGT (boxes int32 (n, 4), kept bool (n, 3) easy/medium/hard, attributes name -> uint8 (n,)),
    in stored order, through the evaluator's reader (placeholder boxes of images without faces as stored)."""
    from dependency.evaluate.ground_truth import SETTINGS, load_ground_truth
    from src.data.wider_gt import ATTRIBUTES, WiderImageGT

    def read(gt_dir):
        gt = load_ground_truth(gt_dir, SETTINGS, ATTRIBUTES)
        events = {}
        for i, (event, stem) in enumerate(zip(gt.events, gt.stems)):
            faces = slice(gt.image_start[i], gt.image_start[i + 1])
            kept = np.stack([gt.kept[setting][faces] for setting in SETTINGS], axis=1)
            attributes = {name: gt.attributes[name][faces] for name in ATTRIBUTES}
            events.setdefault(event, []).append(WiderImageGT(stem, gt.boxes[faces].astype(np.int32), kept,
                                                             attributes))
        return events
    return read
