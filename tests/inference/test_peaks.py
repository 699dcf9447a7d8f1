"""Tests for src/inference/peaks.py against brute-force definitions (plateaus and ties included)."""
import numpy as np

from src.inference.peaks import max_pool_3x3, top_peaks


def test_max_pool_matches_brute_force():
    heat = np.random.default_rng(0).random((7, 9)).astype(np.float32)
    heat[2, 3] = heat[2, 4] = 2.0  # a plateau
    expected = np.empty_like(heat)
    for r in range(7):
        for c in range(9):
            expected[r, c] = heat[max(r - 1, 0):r + 2, max(c - 1, 0):c + 2].max()
    np.testing.assert_array_equal(max_pool_3x3(heat), expected)


def test_top_peaks_matches_brute_force_definition():
    rng = np.random.default_rng(5)
    heat = np.round(rng.random((9, 11)), 1).astype(np.float32)  # rounding makes plateaus and ties
    expected = []
    for r in range(9):
        for c in range(11):
            window = heat[max(r - 1, 0):r + 2, max(c - 1, 0):c + 2]
            if heat[r, c] == window.max() and heat[r, c] > 0.3:
                expected.append((-heat[r, c], r * 11 + c))
    expected = [index for _, index in sorted(expected)][:7]
    flat_index, scores = top_peaks(heat, 0.3, 7)
    assert flat_index.tolist() == expected
    np.testing.assert_array_equal(scores, heat.reshape(-1)[expected])
