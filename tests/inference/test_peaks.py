"""Tests for src/inference/peaks.py against brute-force definitions (plateaus and ties included)."""
import numpy as np

from src.inference.peaks import max_pool_3x3, top_k_peaks, top_peaks


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


def _brute_force_suppressed(heat):
    """The original's _nms on a (C, h, w) map: a cell keeps its value if it is its 3x3 neighbourhood's maximum."""
    out = np.zeros_like(heat)
    channels, height, width = heat.shape
    for c in range(channels):
        for r in range(height):
            for col in range(width):
                if heat[c, r, col] == heat[c, max(r - 1, 0):r + 2, max(col - 1, 0):col + 2].max():
                    out[c, r, col] = heat[c, r, col]
    return out


def test_max_pool_of_several_channels_is_channel_by_channel():
    heat = np.random.default_rng(1).random((3, 6, 7)).astype(np.float32)
    np.testing.assert_array_equal(max_pool_3x3(heat), np.stack([max_pool_3x3(h) for h in heat]))


def test_top_k_peaks_is_the_original_per_class_top_k_then_top_k():
    """The original takes the K best of each class's suppressed map, then the K best of those C*K; without ties that
    is the K best peaks over all classes."""
    rng = np.random.default_rng(2)
    heat = rng.random((4, 9, 11)).astype(np.float32)
    k = 12
    suppressed = _brute_force_suppressed(heat)
    per_class = [(-suppressed[c].ravel()).argsort(kind="stable")[:k] for c in range(4)]
    candidates = [(suppressed[c].ravel()[i], c, i) for c in range(4) for i in per_class[c]]
    expected = sorted(candidates, key=lambda t: -t[0])[:k]
    channels, index, scores = top_k_peaks(heat, k)
    assert list(zip(channels.tolist(), index.tolist())) == [(c, i) for _, c, i in expected]
    np.testing.assert_array_equal(scores, [s for s, _, _ in expected])


def test_top_k_peaks_fills_with_zero_score_cells_and_caps_k():
    heat = np.zeros((2, 4, 5), np.float32)
    heat[1, 2, 3], heat[0, 0, 0] = 0.9, 0.4
    channels, index, scores = top_k_peaks(heat, 5)
    assert channels[:2].tolist() == [1, 0] and index[:2].tolist() == [2 * 5 + 3, 0]
    np.testing.assert_array_equal(scores, np.float32([0.9, 0.4, 0, 0, 0]))  # always K entries, as the original
    assert len(top_k_peaks(heat, 1000)[0]) == 40
