"""Procedural synthetic object-detection data set in the COCO instances layout, for CenterNet object detection
(ctdet): shapes of several classes that a detector must tell apart by their form and texture, never by colour.

    python -m src.data.synthetic_objects --output_path DIR --num_train 500 --num_val 100 --seed 0 [--image_size 512]
        [--max_objects 10] [--object_size LOW,HIGH] [--classes NAME,...] [--no_clutter] [--overwrite]

Layout (what the detection training/evaluation scripts read with `--data_dir DIR`, as COCO 2017; written by
src/data/synthetic_coco.py, whose docstring has the id and output-folder rules):
    DIR/train2017/000000000001.jpg ...      DIR/annotations/instances_train2017.json
    DIR/val2017/000100000001.jpg ...        DIR/annotations/instances_val2017.json

Classes (COCO category id, name; supercategory "shape"), each drawn in random colours from one distribution:
  1 ring            an elliptic annulus, hole 0.35..0.6 of the outer radius (thicker than any outline of the
                    background clutter)
  2 cross           a plus sign, arms 0.36..0.6 of the length wide
  3 star            a five-pointed star, inner radius 0.38..0.5 of the outer
  4 striped_box     a rectangle of 2..6 bands in two contrasting colours
  5 checkerboard    a rectangle of 2..5 x 2..5 cells in two contrasting colours (bands and cells >= ~4 px)
  6 triangle_frame  a triangle with a triangular hole 0.35..0.55 of its size (the background has only filled
                    triangles)
`--classes` keeps a subset (uniformly drawn); the json then lists only those categories, with the ids above
(non-contiguous ids, as COCO's).

Objects. Each object's size (the longer side of its shape before rotation) is log-uniform in LOW..HIGH x the
image's short side, at least MIN_OBJECT_SIZE = 10 px (default: 0.03 .. min(0.6, max(0.2, 1 / sqrt(n))) for n
objects in the image, so that crowded images have smaller objects); the shorter side is `aspect` (class
dependent, 0.4..1) of it; rotation uniform in 0..360 degrees; class uniform. An object's colour is drawn until it
differs by >= 64 levels in some channel from the mean of the image under it (up to 5 draws; a detector must
see it); the second colour of the textured classes is shifted from it by 96..160 levels in every channel (mod
256), drawn likewise (with that constraint ~2 % of them stay closer than 64 levels to the background).
Placement: up to 20 tries each for at most 30 % of the smaller box shared with any object placed before (see
synthetic_scene.first_fit), 10 % of the objects crossing the image border; objects are drawn in placement
order, so later ones may cover parts of earlier ones.

Scenes (shared pieces in src/data/synthetic_scene.py): a cluttered background (gradient, random polygons,
filled ellipses, lines), 0-4 distractors that belong to no class (filled discs, bars, plain rectangles, irregular
blobs: near misses of ring, cross, striped_box, star), 1..max_objects objects, in 10 % of the images a crowd,
foreground occluders over some objects (30 % of the images, 1-2), then blur / darkening / sensor noise. Image
sizes: long side image_size x U(0.625, 1.25), short side 0.6..1 of it, 65 % landscape. `--no_clutter`: a plain
gradient background, no distractors, crowds, border cuts, occluders, blur or darkening (an easier set for quick
learning checks).

Crowds (iscrowd 1), as COCO has them: a region of 0.2..0.4 x the short side packed with 6..14 small objects of
one class (0.12..0.25 of the region) that overlap each other; it has ONE annotation with iscrowd 1 whose
segmentation is the run-length encoded mask of the members' visible pixels (COCO's form for crowds), and the
members have no annotation of their own. COCO's evaluation ignores detections on a crowd region; CenterNet's
training draws the crowd box like any other (as the original does with COCO).

Labels: pixel (col, row) has its centre at (col, row), as in CenterNet's pipeline (flip x -> W - 1 - x). Box =
the tight box of the object's VISIBLE pixels (not covered by later objects or occluders, inside the image):
[min col, min row, max col - min col, max row - min row] (COCO xywh), mirrored exactly by W - 1 - x; area = the
number of visible pixels (COCO's area is that of the visible segmentation); segmentation = the outer polygons of
the visible mask. An object of which less than 2 x 2 pixels' span stays visible is not labelled (no box to
localise). Image i of a split depends only on (seed, split, i); the same seed gives byte-identical files.
"""
import math
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .raster import Painter, draw_ellipse, draw_line, ellipse_polygon, fill_polygon
from .synthetic_coco import layout_parser, one_line_errors, write_dataset
from .synthetic_scene import (draw_background, draw_occluder, first_fit, mask_polygons, mask_rle, position_box,
                              random_polygon, sample_finish, tight_box)

ANNOTATION_KIND = "instances"
CLASSES = ("ring", "cross", "star", "striped_box", "checkerboard", "triangle_frame")
CATEGORY_ID = {name: index + 1 for index, name in enumerate(CLASSES)}
# shorter / longer side of the shape before rotation
ASPECT_RANGE = {"ring": (0.6, 1.0), "cross": (0.6, 1.0), "star": (0.7, 1.0), "striped_box": (0.4, 1.0),
                "checkerboard": (0.7, 1.0), "triangle_frame": (0.7, 1.0)}

MIN_OBJECT_SIZE = 10            # pixels: longer side of the shape
MAX_BOX_SHARE = 0.3             # intersection / smaller box area allowed between two placed objects
BORDER_CUT_PROBABILITY = 0.1
OCCLUDER_PROBABILITY = 0.3      # per image: 1-2 foreground shapes over objects
CROWD_PROBABILITY = 0.1         # per image: one crowd region
MIN_CONTRAST = 64.0             # colour levels between an object and the mean of the image under it
COLOUR_DRAWS = 5


def categories(classes: Sequence[str] = CLASSES) -> List[dict]:
    """COCO `categories` of `classes` (ids of CLASSES order)."""
    return [{"supercategory": "shape", "id": CATEGORY_ID[name], "name": name} for name in classes]


# ----------------------------------------------------------------------------------------------- shapes
@dataclass
class Shape:
    """One drawn object: its class, centre (x, y), size (longer side before rotation, pixels), aspect (shorter /
    longer side), rotation (degrees, clockwise on screen), `detail` (ring/triangle hole ratio, cross arm
    half-width, star inner radius: fractions of the half size; stripes/cells: count) and two RGB colours."""
    category: str
    centre: Tuple[float, float]
    size: float
    aspect: float
    angle_deg: float
    detail: float
    detail2: float = 0.0        # checkerboard: cells along the shorter side
    colours: Tuple[Tuple[float, ...], Tuple[float, ...]] = ((0.0, 0.0, 0.0), (255.0, 255.0, 255.0))

    def _to_image(self, local: np.ndarray) -> np.ndarray:
        """(n, 2) points of the unit frame (u along the longer side, v along the shorter, both -1..1) -> image."""
        half = 0.5 * self.size
        c, s = math.cos(math.radians(self.angle_deg)), math.sin(math.radians(self.angle_deg))
        u, v = local[:, 0] * half, local[:, 1] * half * self.aspect
        return np.stack([self.centre[0] + c * u - s * v, self.centre[1] + s * u + c * v], axis=1)

    def layers(self) -> List[Tuple[List[np.ndarray], int]]:
        """[(polygons in image coordinates, colour index)] in drawing order; the polygons of a layer are filled
        together (one inside another makes a hole)."""
        name, detail = self.category, self.detail
        if name == "ring":
            corners = int(min(max(self.size / 2, 24), 128))
            outer = ellipse_polygon((0.0, 0.0), 1.0, 1.0, 0.0, corners)
            return [([self._to_image(outer), self._to_image(outer * detail)], 0)]
        if name == "cross":
            w = detail
            arms = np.array([[-w, -1], [w, -1], [w, -w], [1, -w], [1, w], [w, w], [w, 1], [-w, 1], [-w, w], [-1, w],
                             [-1, -w], [-w, -w]], np.float64)
            return [([self._to_image(arms)], 0)]
        if name == "star":
            t = -math.pi / 2 + np.arange(10) * math.pi / 5
            radius = np.where(np.arange(10) % 2 == 0, 1.0, detail)
            return [([self._to_image(np.stack([radius * np.cos(t), radius * np.sin(t)], axis=1))], 0)]
        if name == "triangle_frame":     # equilateral, side 2, pointing to -v; the hole about its centroid
            h = math.sqrt(3.0) / 2
            outer = np.array([[0.0, -h], [1.0, h], [-1.0, h]])
            centroid = np.array([0.0, h / 3])
            return [([self._to_image(outer), self._to_image((outer - centroid) * detail + centroid)], 0)]
        box = self.box_polygon()
        bands = int(detail)
        if name == "striped_box":
            edges = np.linspace(-1.0, 1.0, bands + 1)
            stripes = [self._to_image(np.array([[a, -1], [b, -1], [b, 1], [a, 1]], np.float64))
                       for a, b in zip(edges[1::2], edges[2::2])]
            return [([box], 0), (stripes, 1)]
        if name == "checkerboard":
            us, vs = np.linspace(-1.0, 1.0, bands + 1), np.linspace(-1.0, 1.0, int(self.detail2) + 1)
            cells = [self._to_image(np.array([[us[i], vs[j]], [us[i + 1], vs[j]], [us[i + 1], vs[j + 1]],
                                              [us[i], vs[j + 1]]], np.float64))
                     for i in range(bands) for j in range(int(self.detail2)) if (i + j) % 2 == 1]
            return [([box], 0), (cells, 1)]
        raise ValueError(f"object class {name!r}: expected one of {list(CLASSES)}")

    def box_polygon(self) -> np.ndarray:
        """The rotated rectangle of the unit frame (size x aspect * size) in image coordinates."""
        return self._to_image(np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64))

    def extent(self) -> np.ndarray:
        """[x1, y1, x2, y2] of the shape's outline (its first layer's polygons)."""
        points = np.concatenate(self.layers()[0][0])
        return np.concatenate([points.min(0), points.max(0)])


def sample_shape(rng: np.random.Generator, category: str, size: float) -> Shape:
    """A shape of `category` and `size` at (0, 0) with random aspect, rotation and detail (colours come later:
    sample_colours)."""
    aspect = rng.uniform(*ASPECT_RANGE[category])
    angle = rng.uniform(0.0, 360.0)
    detail, detail2 = 0.0, 0.0
    if category == "ring":
        detail = rng.uniform(0.35, 0.6)
    elif category == "cross":
        detail = rng.uniform(0.18, 0.3)
    elif category == "star":
        detail = rng.uniform(0.38, 0.5)
    elif category == "triangle_frame":
        detail = rng.uniform(0.35, 0.55)
    elif category == "striped_box":           # bands at least ~4 px wide
        detail = float(min(int(rng.integers(3, 7)), max(2, int(size / 4))))
    elif category == "checkerboard":          # cells at least ~4 px
        detail = float(min(int(rng.integers(3, 6)), max(2, int(size / 4))))
        detail2 = float(min(int(rng.integers(2, 5)), max(2, int(size * aspect / 4))))
    else:
        raise ValueError(f"object class {category!r}: expected one of {list(CLASSES)}")
    return Shape(category, (0.0, 0.0), size, aspect, angle, detail, detail2)


def _contrasting(draw, under: np.ndarray) -> np.ndarray:
    """The first of COLOUR_DRAWS colours draw() whose largest channel difference from `under` is >= MIN_CONTRAST
    (else the most different one)."""
    best, best_contrast = None, -1.0
    for _ in range(COLOUR_DRAWS):
        colour = draw()
        contrast = float(np.abs(colour - under).max())
        if contrast > best_contrast:
            best, best_contrast = colour, contrast
        if contrast >= MIN_CONTRAST:
            break
    return best


def sample_colours(rng: np.random.Generator, image: np.ndarray, extent) -> Tuple[Tuple[float, ...], ...]:
    """Two colours that differ by >= MIN_CONTRAST in some channel from the mean of `image` under the box `extent`
    (see _contrasting): the main one uniform, the second one (textures) shifted from it by 96..160 levels in
    every channel (mod 256)."""
    height, width = image.shape[:2]
    x0, y0 = max(int(math.floor(extent[0])), 0), max(int(math.floor(extent[1])), 0)
    x1, y1 = min(int(math.ceil(extent[2])) + 1, width), min(int(math.ceil(extent[3])) + 1, height)
    under = image[y0:y1, x0:x1].mean(axis=(0, 1), dtype=np.float64) if x1 > x0 and y1 > y0 else np.full(3, 128.0)
    main = _contrasting(lambda: rng.uniform(0, 255, 3), under)
    second = _contrasting(lambda: np.mod(main + rng.uniform(96, 160, 3), 256.0), under)
    return tuple(float(v) for v in main), tuple(float(v) for v in second)


def draw_shape(image: np.ndarray, shape: Shape) -> Tuple[np.ndarray, Tuple[int, int]]:
    """Draw `shape` on the float RGB image; returns (mask of its pixels inside the image, (x0, y0) of the mask in
    the image): exactly the pixels the shape covers (8-connected rasterisation of the same polygons; the
    anti-aliased image may show it up to one pixel beyond)."""
    height, width = image.shape[:2]
    extent = shape.extent()
    x0, y0 = max(int(math.floor(extent[0])) - 2, 0), max(int(math.floor(extent[1])) - 2, 0)
    x1, y1 = min(int(math.ceil(extent[2])) + 3, width), min(int(math.ceil(extent[3])) + 3, height)
    canvas = np.zeros((max(y1 - y0, 0), max(x1 - x0, 0)), np.uint8)
    if canvas.size:
        painter = Painter(image, canvas, (x0, y0))
        for polygons, colour in shape.layers():
            painter.polygons(polygons, shape.colours[colour], 1)
    return canvas > 0, (x0, y0)


def draw_distractors(image: np.ndarray, rng: np.random.Generator, low: float, high: float) -> int:
    """0-4 shapes of no class, near misses of the classes: filled discs (ring), bars (cross), plain rectangles
    (striped_box, checkerboard), irregular blobs (star); returns how many."""
    height, width = image.shape[:2]
    count = int(rng.integers(0, 5))
    for _ in range(count):
        size = math.exp(rng.uniform(math.log(low), math.log(high)))
        cx, cy, angle = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(0, 360)
        colour = rng.uniform(0, 255, 3)
        kind = int(rng.integers(4))
        if kind == 0:
            draw_ellipse(image, (cx, cy), size / 2, size / 2 * rng.uniform(0.6, 1.0), angle, colour)
        elif kind == 1:
            c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
            draw_line(image, (cx - c * size / 2, cy - s * size / 2), (cx + c * size / 2, cy + s * size / 2), colour,
                      size * rng.uniform(0.12, 0.3))
        elif kind == 2:
            plain = Shape("striped_box", (cx, cy), size, rng.uniform(0.4, 1.0), angle, 1.0)
            fill_polygon(image, plain.box_polygon(), colour)
        else:
            fill_polygon(image, random_polygon(rng, cx, cy, size / 2, int(rng.integers(5, 9))), colour)
    return count


# ----------------------------------------------------------------------------------------------- scenes
@dataclass
class Instance:
    """What one annotation describes: a single shape, or a crowd of shapes of one class (iscrowd)."""
    category: str
    shapes: List[Shape]
    crowd: bool
    border_cut: bool = False


@dataclass
class ObjectLabel:
    """One annotation: category_id; box [x, y, w, h] (pixel-centre span of the visible pixels, see the module
    docstring); area: visible pixels; segmentation: COCO polygons, or the RLE dict of a crowd; iscrowd;
    number: the instance's code in Scene.owner; drawn_area: its pixels when drawn (before later objects and
    occluders); border_cut: part of it lies outside the image."""
    category_id: int
    box: np.ndarray
    area: int
    segmentation: Union[List[List[float]], dict]
    iscrowd: bool
    number: int
    drawn_area: int
    border_cut: bool


@dataclass
class Scene:
    """A rendered image (uint8 RGB) and its labels. owner (H, W) int32: what each pixel shows: the instance
    number (1-based, drawing order), synthetic_scene.OCCLUDER_CODE for foreground occluders, 0 for the
    background (distractors included). background: when asked for, the image before any object, finished (blur,
    darkening, noise) exactly as the image. counts: distractors, crowds, occluders, blurred, darkened,
    unlabelled (objects hidden but for a sliver)."""
    image: np.ndarray
    objects: List[ObjectLabel]
    owner: np.ndarray
    background: Optional[np.ndarray] = None
    counts: Counter = field(default_factory=Counter)


def _size_range(short: int, count: int, object_size: Optional[Tuple[float, float]]) -> Tuple[float, float]:
    if object_size is None:
        object_size = (0.03, min(0.6, max(0.2, 1.0 / math.sqrt(count))))
    low, high = (max(fraction * short, MIN_OBJECT_SIZE) for fraction in object_size)
    return low, max(high, low)


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def _sample_crowd(rng: np.random.Generator, category: str, height: int, width: int) -> Tuple[Instance, tuple]:
    """A crowd of 6..14 shapes of `category` packed in a region of 0.2..0.4 x the short side (inside the image);
    returns (instance, region box)."""
    short = min(height, width)
    region_w, region_h = short * rng.uniform(0.2, 0.4), short * rng.uniform(0.2, 0.4)
    x, y = position_box(rng, region_w, region_h, width - 1, height - 1, border_cut=False)
    shapes = []
    for _ in range(int(rng.integers(6, 15))):
        size = max(min(region_w, region_h) * rng.uniform(0.12, 0.25), MIN_OBJECT_SIZE)
        shape = sample_shape(rng, category, size)
        shapes.append(replace(shape, centre=(x + rng.uniform(0.1, 0.9) * region_w,
                                             y + rng.uniform(0.1, 0.9) * region_h)))
    return Instance(category, shapes, crowd=True), (x, y, x + region_w, y + region_h)


def _place_objects(rng, height, width, count, classes, object_size, clutter, placed_boxes) -> List[Instance]:
    """`count` tries to place a single-shape instance (see the module docstring)."""
    low, high = _size_range(min(height, width), count, object_size)
    instances = []
    for _ in range(count):
        category = classes[int(rng.integers(len(classes)))]
        shape = sample_shape(rng, category, _log_uniform(rng, low, high))
        x1, y1, x2, y2 = shape.extent()
        border_cut = rng.random() < BORDER_CUT_PROBABILITY and clutter

        def propose():          # pixel centres span 0..width - 1: an extent beyond is cut by the border
            x, y = position_box(rng, x2 - x1, y2 - y1, width - 1, height - 1, border_cut)
            return (x, y, x + x2 - x1, y + y2 - y1), (x, y)

        corner = first_fit(propose, placed_boxes, MAX_BOX_SHARE)
        if corner is None:
            continue
        placed_boxes.append((corner[0], corner[1], corner[0] + x2 - x1, corner[1] + y2 - y1))
        shape = replace(shape, centre=(corner[0] - x1, corner[1] - y1))
        instances.append(Instance(category, [shape], crowd=False))
    return instances


def _label(number: int, instance: Instance, owner: np.ndarray, region: Tuple[int, int, int, int],
           drawn_area: int) -> Optional[ObjectLabel]:
    """The annotation of instance `number` from the final owner map (None: less than a 2 x 2 pixels' span of it
    is visible); region (x0, y0, x1, y1): where it was drawn."""
    x0, y0, x1, y1 = region
    visible = owner[y0:y1, x0:x1] == number
    xyxy = tight_box(visible, (x0, y0))
    if xyxy is None or xyxy[2] <= xyxy[0] or xyxy[3] <= xyxy[1]:
        return None
    if instance.crowd:
        full = np.zeros(owner.shape, bool)
        full[y0:y1, x0:x1] = visible
        segmentation = mask_rle(full)
    else:
        segmentation = mask_polygons(visible, (x0, y0))
        if not segmentation:            # a mask too thin for a polygon: its box outline
            segmentation = [[xyxy[0], xyxy[1], xyxy[2], xyxy[1], xyxy[2], xyxy[3], xyxy[0], xyxy[3]]]
    return ObjectLabel(category_id=CATEGORY_ID[instance.category],
                       box=np.array([xyxy[0], xyxy[1], xyxy[2] - xyxy[0], xyxy[3] - xyxy[1]]),
                       area=int(np.count_nonzero(visible)), segmentation=segmentation, iscrowd=instance.crowd,
                       number=number, drawn_area=drawn_area, border_cut=instance.border_cut)


def render_scene(rng: np.random.Generator, height: int, width: int, max_objects: int = 10,
                 keep_background: bool = False, object_size: Optional[Tuple[float, float]] = None,
                 classes: Sequence[str] = CLASSES, clutter: bool = True) -> Scene:
    """One synthetic image (uint8 RGB, height x width) with up to max_objects labelled objects (and maybe a
    crowd), see Scene and the module docstring. keep_background costs a copy of the image and draws nothing
    more from `rng`: the scene is the same. object_size (low, high): fractions of the short side instead of
    the default range; classes: the classes drawn (uniformly); clutter False: a plain scene (gradient background;
    no distractors, crowds, border cuts, occluders, blur or darkening)."""
    short = min(height, width)
    image = draw_background(rng, height, width, shapes=clutter, outlines=False)
    counts = Counter()
    count = int(rng.integers(1, max_objects + 1))
    if clutter:
        low, high = _size_range(short, count, object_size)
        counts["distractors"] = draw_distractors(image, rng, low, high)
    background = image.copy() if keep_background else None
    instances, placed_boxes = [], []
    if rng.random() < CROWD_PROBABILITY and clutter:
        crowd, region = _sample_crowd(rng, classes[int(rng.integers(len(classes)))], height, width)
        instances.append(crowd)
        placed_boxes.append(region)
        counts["crowds"] += 1
    instances += _place_objects(rng, height, width, count, classes, object_size, clutter, placed_boxes)
    owner = np.zeros((height, width), np.int32)
    drawn = []
    for number, instance in enumerate(instances, start=1):
        region = [width, height, 0, 0]
        for shape in instance.shapes:
            shape.colours = sample_colours(rng, image, shape.extent())
            mask, (x0, y0) = draw_shape(image, shape)
            owner[y0:y0 + mask.shape[0], x0:x0 + mask.shape[1]][mask] = number
            region = [min(region[0], x0), min(region[1], y0), max(region[2], x0 + mask.shape[1]),
                      max(region[3], y0 + mask.shape[0])]
            extent = shape.extent()
            instance.border_cut |= bool(extent[0] < 0 or extent[1] < 0 or extent[2] > width - 1 or
                                        extent[3] > height - 1)
        area = int(np.count_nonzero(owner[region[1]:region[3], region[0]:region[2]] == number))
        if area:
            drawn.append((number, instance, tuple(region), area))
    if drawn and rng.random() < OCCLUDER_PROBABILITY and clutter:
        singles = [item for item in drawn if not item[1].crowd] or drawn
        for _ in range(int(rng.integers(1, 3))):
            number, _, (x0, y0, x1, y1), _ = singles[int(rng.integers(len(singles)))]
            box = tight_box(owner[y0:y1, x0:x1] == number, (x0, y0))
            if box is not None:
                draw_occluder(image, owner, box, rng)
                counts["occluders"] += 1
    objects = []
    for number, instance, region, area in drawn:
        label = _label(number, instance, owner, region, area)
        if label is None:
            counts["unlabelled"] += 1
        else:
            objects.append(label)
    finish = sample_finish(rng, height, width, effects=clutter)
    counts.update(blurred=int(finish.blur_sigma > 0), darkened=int(finish.darken < 1))
    return Scene(finish.apply(image), objects, owner, None if background is None else finish.apply(background),
                 counts)


# ----------------------------------------------------------------------------------------------- data set
def coco_annotation(ann_id: int, image_id: int, label: ObjectLabel) -> dict:
    """COCO instances annotation of `label` (keys in the order of the real COCO files)."""
    return {"segmentation": label.segmentation, "area": float(label.area), "iscrowd": int(label.iscrowd),
            "image_id": image_id, "bbox": [float(v) for v in label.box], "category_id": label.category_id,
            "id": ann_id}


def _object_counts(scene: Scene) -> Counter:
    counts = Counter(scene.counts)
    for label in scene.objects:
        if label.iscrowd:
            continue
        counts.update({"objects": 1, CLASSES[label.category_id - 1]: 1, "occluded": int(label.area < label.drawn_area),
                       "border_cut": int(label.border_cut)})
    return counts


def generate(out_dir: str, num_train: int, num_val: int, seed: int, image_size: int = 512, max_objects: int = 10,
             overwrite: bool = False, progress: bool = True, object_size: Optional[Tuple[float, float]] = None,
             classes: Optional[Sequence[str]] = None, clutter: bool = True) -> Dict[str, object]:
    """Write the synthetic object data set (layout in the module docstring). Returns name -> path of what was
    written (train_images, train_json, val_images, val_json; splits with 0 images are left out) and "counts":
    split -> Counter(images, objects, one count per class, crowds, occluded, border_cut, distractors,
    occluders, unlabelled, blurred, darkened). object_size, classes, clutter: see render_scene."""
    if num_train < 0 or num_val < 0:
        raise ValueError(f"num_train and num_val must be >= 0, got {num_train} and {num_val}")
    if image_size < 64:
        raise ValueError(f"image_size must be >= 64 pixels, got {image_size}")
    if not 1 <= max_objects <= 100:
        raise ValueError(f"max_objects must be 1..100 (COCO's evaluation keeps 100 detections per image), got "
                         f"{max_objects}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if object_size is not None and not (len(object_size) == 2 and 0 < object_size[0] <= object_size[1] <= 1):
        raise ValueError(f"object_size must be two fractions of the image's short side, 0 < low <= high <= 1, got "
                         f"{object_size}")
    classes = tuple(CLASSES if classes is None else classes)
    if not classes or set(classes) - set(CLASSES) or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be distinct names of {list(CLASSES)}, got {list(classes)}")
    start = time.time()

    def render(rng, height, width):
        scene = render_scene(rng, height, width, max_objects, object_size=object_size, classes=classes,
                             clutter=clutter)
        return scene.image, scene.objects, _object_counts(scene)

    def describe(split):
        return f"Synthetic COCO objects ({split}, seed {seed}), generated by src/data/synthetic_objects.py"

    result = write_dataset(out_dir, ANNOTATION_KIND, (num_train, num_val), seed, image_size, render,
                           coco_annotation, describe, categories(sorted(classes, key=CATEGORY_ID.get)), overwrite,
                           progress, "synthetic objects")
    total = sum(result["counts"].values(), Counter())
    elapsed = time.time() - start
    if progress:
        per_class = ", ".join(f"{name} {total[name]}" for name in CLASSES if name in classes)
        print(f"synthetic objects: {total['images']} images, {total['objects']} objects ({per_class}), "
              f"{total['crowds']} crowd regions, {total['occluded']} partly covered, {total['border_cut']} cut by "
              f"the border; {elapsed:.1f} s ({total['images'] / max(elapsed, 1e-9):.0f} images/s) -> {out_dir}")
    return result


def _fractions(text: str) -> Tuple[float, ...]:
    return tuple(float(v) for v in text.split(","))


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, object]:
    parser = layout_parser("python -m src.data.synthetic_objects", "Generate the synthetic COCO object-detection "
                                                                     "data set (see the module docstring).")
    parser.add_argument("--max_objects", type=int, default=10, help="most objects per image (1..100)")
    parser.add_argument("--object_size", type=_fractions,
                        help="LOW,HIGH: object sizes log-uniform in this range of fractions of the image's short "
                             f"side (at least {MIN_OBJECT_SIZE} px; default: 0.03 up to 0.2..0.6 by the number of "
                             "objects)")
    parser.add_argument("--classes", type=lambda text: text.split(","),
                        help=f"NAME,...: only these classes (of {','.join(CLASSES)}; default: all)")
    parser.add_argument("--no_clutter", action="store_true", help="plain scenes: a gradient background, no "
                        "distractors, crowds, border cuts, occluders, blur or darkening")
    parser.add_argument("--overwrite", action="store_true", help="replace the data set in a non-empty --output_path")
    args = parser.parse_args(argv)
    with one_line_errors("synthetic_objects"):
        return generate(args.output_path, args.num_train, args.num_val, args.seed, args.image_size, args.max_objects,
                        overwrite=args.overwrite, object_size=args.object_size, classes=args.classes,
                        clutter=not args.no_clutter)


if __name__ == "__main__":
    main()
