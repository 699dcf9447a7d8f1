"""Tests for src/inference/head_maps.py against numpy written here: the sigmoid (no overflow), one pass's maps, and
the flip merge as the original's detectors compute it (torch's flip_tensor = a flip of the width axis)."""
import numpy as np

from src.inference.head_maps import flip_merge_maps, sigmoid, single_pass_maps


def test_sigmoid_is_finite_and_exact_enough_at_extremes():
    x = np.array([-1000.0, -20.0, -1.0, 0.0, 1.0, 20.0, 1000.0])
    np.testing.assert_allclose(sigmoid(x), 1 / (1 + np.exp(-np.clip(x, -500, 500))), rtol=1e-6, atol=1e-30)
    assert sigmoid(x).dtype == np.float32 and np.isfinite(sigmoid(x)).all()


def test_single_pass_applies_the_sigmoid_to_heatmaps_only():
    rng = np.random.default_rng(0)
    outputs = {"hm": rng.normal(size=(1, 3, 4, 5)), "wh": rng.normal(size=(1, 2, 4, 5))}
    maps = single_pass_maps(outputs, ["hm"])
    np.testing.assert_allclose(maps["hm"], 1 / (1 + np.exp(-outputs["hm"][0])), rtol=1e-6)
    np.testing.assert_array_equal(maps["wh"], outputs["wh"][0].astype(np.float32))


def test_flip_merge_as_ctdet_and_with_a_remap():
    rng = np.random.default_rng(1)
    outputs = {"hm": rng.normal(size=(2, 3, 4, 6)).astype(np.float32),
               "wh": rng.normal(size=(2, 2, 4, 6)).astype(np.float32),
               "reg": rng.normal(size=(2, 2, 4, 6)).astype(np.float32)}
    maps = flip_merge_maps(outputs, ["hm"], unflipped=["reg"])
    assert list(maps) == ["hm", "wh", "reg"]
    prob = 1 / (1 + np.exp(-outputs["hm"].astype(np.float64)))
    np.testing.assert_allclose(maps["hm"], (prob[0] + prob[1][:, :, ::-1]) / 2, rtol=1e-6)
    np.testing.assert_allclose(maps["wh"], (outputs["wh"][0] + outputs["wh"][1][:, :, ::-1]) / 2, rtol=1e-6)
    np.testing.assert_array_equal(maps["reg"], outputs["reg"][0])
    # a head with sides: the remap sees the map already mirrored back, e.g. swapping two channels
    swapped = flip_merge_maps({"wh": outputs["wh"]}, [], remaps={"wh": lambda m: m[::-1]})
    np.testing.assert_allclose(swapped["wh"], (outputs["wh"][0] + outputs["wh"][1][::-1, :, ::-1]) / 2, rtol=1e-6)
    assert all(m.flags.c_contiguous and m.dtype == np.float32 for m in maps.values())
