"""Tests of src/data/synthetic_scene.py, the scene pieces the face, person and object generators share:
placement rules as properties over many draws, the finish (rounding, noise, random-number use), and the
tight box / polygons / run-length encoding of masks against pycocotools."""
import math

import numpy as np
import pytest

from src.data.synthetic_scene import (OCCLUDER_CODE, Finish, box_share, draw_background, draw_occluder, first_fit,
                                      jitter_colour, mask_polygons, mask_rle, position_box, random_polygon,
                                      sample_finish, sample_image_size, tight_box)
from tests.requirements import require


def test_box_share_hand_cases():
    assert box_share((0, 0, 10, 10), (5, 5, 15, 15)) == pytest.approx(25 / 100)
    assert box_share((0, 0, 10, 10), (2, 2, 4, 4)) == pytest.approx(1.0)          # inside: all of the smaller
    assert box_share((0, 0, 10, 10), (0, 10, 10, 20)) == 0.0                      # touching edges
    assert box_share((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert box_share((0, 0, 4, 10), (2, 0, 22, 10)) == pytest.approx(20 / 40)


def test_first_fit_takes_the_first_proposal_that_fits_and_gives_up_after_the_attempts():
    placed = [(0, 0, 10, 10)]
    proposals = iter([(5, 5, 15, 15), (8, 8, 18, 18), (30, 30, 40, 40)])
    calls = []

    def propose():
        box = next(proposals)
        calls.append(box)
        return box, box[:2]

    assert first_fit(propose, placed, max_share=0.1) == (8, 8)        # 4 / 100 of the smaller box shared
    assert calls == [(5, 5, 15, 15), (8, 8, 18, 18)]
    calls.clear()
    assert first_fit(lambda: (calls.append(1) or (0, 0, 10, 10), None), placed, 0.5, attempts=7) is None
    assert len(calls) == 7


def test_position_box_is_inside_or_crosses_exactly_one_border_by_the_stated_share():
    rng = np.random.default_rng(0)
    width, height = 200, 120
    for _ in range(2000):
        box_w, box_h = rng.uniform(5, 150), rng.uniform(5, 100)
        x, y = position_box(rng, box_w, box_h, width, height, border_cut=False)
        assert 0 <= x <= width - box_w + 1e-9 and 0 <= y <= height - box_h + 1e-9
        x, y = position_box(rng, box_w, box_h, width, height, border_cut=True)
        inside_x = (min(x + box_w, width) - max(x, 0)) / box_w
        inside_y = (min(y + box_h, height) - max(y, 0)) / box_h
        crossing = [x < 0, x + box_w > width, y < 0, y + box_h > height]
        assert sum(crossing) == 1
        share = inside_x if crossing[0] or crossing[1] else inside_y
        assert 0.35 - 1e-9 <= share <= 0.8 + 1e-9


def test_image_sizes_jitter_and_random_helpers_stay_in_their_ranges():
    rng = np.random.default_rng(1)
    sizes = np.array([sample_image_size(rng, 512) for _ in range(500)])
    long_side, short_side = sizes.max(1), sizes.min(1)
    assert long_side.min() >= 0.625 * 512 - 1 and long_side.max() <= 1.25 * 512 + 1
    assert np.all(short_side >= np.floor(0.6 * long_side)) and 0.55 < np.mean(sizes[:, 1] >= sizes[:, 0]) < 0.75
    colours = np.array([jitter_colour(rng, [250.0, 5.0, 128.0], 20) for _ in range(500)])
    assert colours.min() >= 0 and colours.max() <= 255
    assert np.all(np.abs(colours[:, 2] - 128) <= 20) and colours[:, 0].max() == 255 and colours[:, 1].min() == 0
    polygon = random_polygon(rng, 50.0, 40.0, 10.0, 7)
    radii = np.hypot(polygon[:, 0] - 50, polygon[:, 1] - 40)
    angles = np.arctan2(polygon[:, 1] - 40, polygon[:, 0] - 50) % (2 * math.pi)
    assert polygon.shape == (7, 2) and np.all((radii >= 5 - 1e-9) & (radii <= 10 + 1e-9))
    assert np.all(np.diff(angles) > 0)                             # corners in order around the centre


def test_background_without_shapes_is_a_smooth_gradient_and_outlines_change_no_random_draw():
    rng = np.random.default_rng(2)
    plain = draw_background(rng, 90, 130, shapes=False)
    assert plain.dtype == np.float32 and plain.shape == (90, 130, 3)
    assert np.abs(np.diff(plain, axis=0)).max() < 4 and np.abs(np.diff(plain, axis=1)).max() < 4
    for seed in range(5):
        with_outlines, filled = np.random.default_rng(seed), np.random.default_rng(seed)
        draw_background(with_outlines, 100, 100)
        draw_background(filled, 100, 100, outlines=False)
        assert with_outlines.random() == filled.random()        # same numbers drawn: the rest of a scene is equal


def test_occluder_covers_part_of_the_lower_box_and_marks_the_owner_map():
    rng = np.random.default_rng(3)
    for _ in range(50):
        image = np.zeros((200, 200, 3), np.float32)
        owner = np.zeros((200, 200), np.int32)
        box = (60.0, 40.0, 140.0, 160.0)
        draw_occluder(image, owner, box, rng)
        covered = owner == OCCLUDER_CODE
        assert covered.any() and np.mean(image[covered].max(axis=1) > 0) > 0.99     # drawn where it is marked
        rows, cols = np.nonzero(covered)
        # centre in the box's lower 70 %, size 0.2..0.45 of its height: reach at most 1.2 x 0.45 x 120 = 65 px
        assert rows.mean() > 40 + 0.3 * 120 - 65 and rows.max() < 160 + 65 and 60 - 65 < cols.mean() < 140 + 65
        assert np.count_nonzero(covered) < (2 * 65) ** 2


def test_finish_rounds_like_opencv_and_effects_come_at_the_stated_rates():
    image = np.array([[[0.4, 0.6, 254.7], [-3.0, 300.0, 2.5]]], np.float32)
    no_noise = Finish(0.0, 1.0, np.zeros((1, 2, 3), np.float32))
    np.testing.assert_array_equal(no_noise.apply(image), [[[0, 1, 255], [0, 255, 2]]])    # 2.5: half to even
    darker = Finish(0.0, 0.5, np.zeros((1, 2, 3), np.float32))
    np.testing.assert_array_equal(darker.apply(image), [[[0, 0, 127], [0, 150, 1]]])
    for seed in range(20):
        finish = sample_finish(np.random.default_rng(seed), 30, 40)
        assert finish.noise.shape == (30, 40, 3) and np.all(finish.noise[..., 0] == finish.noise[..., 2])
        # uniform noise of std s <= 6: |values| <= s * sqrt(3) <= 10.4
        assert np.abs(finish.noise).max() <= 6 * math.sqrt(3) + 1e-4
    finishes = [sample_finish(np.random.default_rng(seed), 4, 4) for seed in range(2000)]
    # 10 % each: 200 of 2000 expected, binomial std 13.4; bounds at 4.5 std
    assert 140 < sum(f.blur_sigma > 0 for f in finishes) < 260 and 140 < sum(f.darken < 1 for f in finishes) < 260
    plain = [sample_finish(np.random.default_rng(seed), 4, 4, effects=False) for seed in range(200)]
    assert all(f.blur_sigma == 0 and f.darken == 1 for f in plain)


def test_tight_box_is_the_span_of_pixel_centres():
    mask = np.zeros((10, 12), bool)
    assert tight_box(mask) is None
    mask[3, 4] = True
    np.testing.assert_array_equal(tight_box(mask, (100, 200)), [104, 203, 104, 203])   # one pixel: w = h = 0
    mask[7, 9] = True
    np.testing.assert_array_equal(tight_box(mask), [4, 3, 9, 7])


def random_masks(count, seed=4):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        height, width = int(rng.integers(1, 40)), int(rng.integers(1, 40))
        yield rng.random((height, width)) < rng.uniform(0.0, 1.0)


def test_mask_rle_decodes_to_the_mask_with_pycocotools():
    mask_utils = require("pycocotools.mask")
    for mask in list(random_masks(200)) + [np.ones((3, 4), bool), np.zeros((3, 4), bool)]:
        rle = mask_rle(mask)
        assert rle["size"] == list(mask.shape) and sum(rle["counts"]) == mask.size
        assert all(isinstance(v, int) for v in rle["counts"])
        compressed = mask_utils.frPyObjects(rle, *rle["size"])
        np.testing.assert_array_equal(mask_utils.decode(compressed), mask)
        assert mask_utils.area(compressed) == np.count_nonzero(mask)


def test_mask_polygons_trace_the_mask_placed_at_its_origin():
    mask_utils = require("pycocotools.mask")
    mask = np.zeros((30, 40), bool)
    mask[5:20, 10:25] = True
    mask[22:28, 30:38] = True
    polygons = mask_polygons(mask, (7, 3))
    assert len(polygons) == 2 and all(len(p) % 2 == 0 and len(p) >= 6 for p in polygons)
    points = np.concatenate([np.reshape(p, (-1, 2)) for p in polygons])
    assert points[:, 0].min() == 17 and points[:, 0].max() == 44 and points[:, 1].min() == 8 and \
        points[:, 1].max() == 30
    drawn = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polygons, 40, 60)))
    # the contour runs through the outer pixel centres: its area is ~ one pixel less per edge pixel
    assert 0.8 * mask.sum() < drawn.sum() <= mask.sum()
