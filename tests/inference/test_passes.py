"""Tests for src/inference/passes.py: option checks, canvases, the pass plan (flip as passes or in the batch)."""
import pytest

from src.inference.passes import InferenceOptions, InferencePass, plan_passes


def test_options_validation_names_the_key():
    with pytest.raises(ValueError, match="input_size"):
        InferenceOptions(input_size=(830, 832))
    with pytest.raises(ValueError, match="test_scales"):
        InferenceOptions(scales=(1.0, 0.0))
    with pytest.raises(ValueError, match="nms"):
        InferenceOptions(nms="soft")
    with pytest.raises(ValueError, match="test_scale"):
        InferenceOptions(fit_scale=1.5)
    with pytest.raises(ValueError, match="top_k"):
        InferenceOptions(top_k=0)


def test_canvases_round_up_to_multiples_of_32():
    options = InferenceOptions(input_size=(832, 832), scales=(0.5, 0.75, 1.0, 1.25))
    assert [options.canvas(s) for s in options.scales] == [(416, 416), (640, 640), (832, 832), (1056, 1056)]
    assert options.shapes_vary
    assert not InferenceOptions(input_size=(832, 832)).shapes_vary
    assert InferenceOptions(input_size=None).shapes_vary


def test_plan_passes_scales_then_flip():
    canvas = plan_passes(InferenceOptions(input_size=(256, 256), fit_scale=0.999, scales=(0.5, 1.0), flip=True))
    assert canvas == [InferencePass((128, 128), 0.999, False), InferencePass((128, 128), 0.999, True),
                      InferencePass((256, 256), 0.999, False), InferencePass((256, 256), 0.999, True)]
    original = plan_passes(InferenceOptions(input_size=None, scales=(0.5, 2.0)))
    assert original == [InferencePass(None, 0.5, False), InferencePass(None, 2.0, False)]


def test_flip_in_batch_marks_each_scale_once():
    options = InferenceOptions(input_size=(512, 512), fit_scale=1.0, scales=(1.0, 1.5), flip=True)
    assert plan_passes(options, flip_in_batch=True) == [InferencePass((512, 512), 1.0, True),
                                                        InferencePass((768, 768), 1.0, True)]
    no_flip = InferenceOptions(input_size=None, fit_scale=1.0)
    assert plan_passes(no_flip, flip_in_batch=True) == [InferencePass(None, 1.0, False)]


def test_max_input_side_is_a_multiple_of_32_or_none():
    assert InferenceOptions(max_input_side=None).max_input_side is None
    assert InferenceOptions(max_input_side=4096).max_input_side == 4096
    for bad in (100, 16, 0):
        with pytest.raises(ValueError, match="max_input_side"):
            InferenceOptions(max_input_side=bad)
