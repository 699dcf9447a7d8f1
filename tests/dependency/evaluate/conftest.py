"""Fixtures writing tiny WIDER FACE ground truth and prediction folders into tmp_path."""
import pytest

from tests.dependency.evaluate.wider_files import write_predictions, write_wider_gt


@pytest.fixture
def make_gt(tmp_path):
    return lambda events, name="gt": write_wider_gt(tmp_path / name, events)


@pytest.fixture
def make_preds(tmp_path):
    return lambda per_image, name="pred", rng=None: write_predictions(tmp_path / name, per_image, rng)
