"""Tests for src/data/keypoints.py: schema checks, the flip order and flipped points against hand-computed cases,
and the shipped schemas against what their names say."""
import numpy as np
import pytest

from src.data.keypoints import COCO_PERSON, FACE_LANDMARKS, NO_KEYPOINTS, KeypointSchema


@pytest.mark.parametrize("kwargs, message", [
    ({"names": ("a", "a")}, "unique"),
    ({"names": ("a", "")}, "unique"),
    ({"names": ("a", "b"), "flip_pairs": ((0, 0),)}, "flip pair"),
    ({"names": ("a", "b"), "flip_pairs": ((0, 2),)}, "flip pair"),
    ({"names": ("a", "b", "c"), "flip_pairs": ((0, 1), (1, 2))}, "flip pair"),  # index 1 in two pairs
    ({"names": ("a", "b"), "flip_pairs": ((0, 1, 1),)}, "flip pair"),
    ({"names": ("a", "b"), "edges": ((0, 2),)}, "edge"),
    ({"names": ("a", "b"), "edges": ((-1, 0),)}, "edge"),
    ({"names": ("a", "b"), "colors": ((0, 0, 0),)}, "colours"),
])
def test_inconsistent_schemas_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        KeypointSchema(**kwargs)


def test_flip_order_swaps_each_pair_and_keeps_the_rest():
    schema = KeypointSchema(("l", "m", "r", "x", "y"), flip_pairs=((0, 2), (4, 3)))
    assert schema.flip_order == (2, 1, 0, 4, 3)
    assert FACE_LANDMARKS.flip_order == (1, 0, 2, 4, 3)
    assert NO_KEYPOINTS.num_points == 0 and NO_KEYPOINTS.flip_order == ()


def test_flip_points_by_hand():
    schema = KeypointSchema(("left", "centre", "right"), flip_pairs=((0, 2),))
    # a mirrored image of width 10: its left point at x=3 is the original's right point at x=7
    mirrored = np.array([[[3.0, 1.0], [5.0, 2.0], [8.0, 4.0]]])
    np.testing.assert_array_equal(schema.flip_points(mirrored, 10), [[[2.0, 4.0], [5.0, 2.0], [7.0, 1.0]]])
    assert mirrored[0, 0, 0] == 3.0  # the input is not changed


def test_flipping_twice_gives_the_points_back():
    points = np.random.default_rng(0).uniform(0, 50, (4, COCO_PERSON.num_points, 2))
    np.testing.assert_allclose(COCO_PERSON.flip_points(COCO_PERSON.flip_points(points, 50), 50), points, rtol=0,
                               atol=1e-12)


@pytest.mark.parametrize("schema", [COCO_PERSON, FACE_LANDMARKS], ids=["coco", "face"])
def test_shipped_pairs_are_the_left_right_names(schema):
    """Every pair is a left_X / right_X pair of names and every left_X has its pair (derived from the names)."""
    index = {name: i for i, name in enumerate(schema.names)}
    from_names = {tuple(sorted((i, index["right" + name[4:]]))) for name, i in index.items() if name.startswith("left")}
    assert {tuple(sorted(pair)) for pair in schema.flip_pairs} == from_names
    assert len(schema.colors) == schema.num_points


def test_coco_person_is_cocos_17_keypoints_and_skeleton():
    assert COCO_PERSON.num_points == 17 and COCO_PERSON.names[0] == "nose" and COCO_PERSON.names[-1] == "right_ankle"
    # the skeleton is connected: every joint reachable from the nose
    reached, frontier = {0}, [0]
    while frontier:
        a = frontier.pop()
        for edge in COCO_PERSON.edges:
            for x, y in (edge, edge[::-1]):
                if x == a and y not in reached:
                    reached.add(y)
                    frontier.append(y)
    assert reached == set(range(17))
