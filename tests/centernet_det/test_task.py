"""Tests for src/centernet_det/task.py: the heads computed from the config and its contradictions refused in one line
when the task is built, the arch's network (src/models/centernet_arch.py), the backbone prefixes, predict.py's record,
labelled drawings, and the training source from COCO json and MindRecord: every target decodes back to its box in
the original image (an independent geometric property), the peak sits in the box's class channel, and both routes
give the same arrays."""
import cv2
import numpy as np
import pytest

from src.inference.detections import Detections
from src.model_utils.config import ConfigError, parse_config
from src.tasks import get_task
from tests.coco_instances_mini import write_instances_set
from tests.conftest import ROOT

DET = ["--config_path", str(ROOT / "configs" / "centernet_det.yaml")]
THREE = ["--num_classes", "3", "--category_ids", "1,5,9", "--class_names", "ring,cross,star"]


def task_of(*args):
    return get_task(parse_config([*DET, *args]))


@pytest.mark.parametrize("args, fragment", [
    (["--num_classes", "3"], "--category_ids: 80 entries for num_classes 3"),
    (THREE[:2] + ["--category_ids", "1,5", "--class_names", "a,b,c"], "--category_ids: 2 entries for num_classes 3"),
    (THREE[:4] + ["--class_names", "a,b"], "--class_names: 2 entries for num_classes 3"),
    (THREE[:2] + ["--category_ids", "1,5,5", "--class_names", "a,b,c"], "ids must be distinct"),
    (["--head_conv", "0"], "--head_conv 0: expected a positive width"),
    (["--aug_color_jitter", "0.0"], "--aug_color_jitter 0.0 with --aug_lighting_std 0.1"),
])
def test_config_contradictions_are_one_line_when_the_task_is_built(args, fragment):
    cfg = parse_config([*DET, *args])
    with pytest.raises(ConfigError) as error:
        get_task(cfg)
    assert "\n" not in str(error.value) and fragment in str(error.value)


def test_heads_head_conv_and_backbone_of_each_arch():
    """The heads follow from num_classes, cat_spec_wh and reg_offset; head_conv -1 is the arch's default."""
    task = task_of()
    assert task.heads == (("hm", 80), ("wh", 2), ("reg", 2)) and task.head_names == ("hm", "wh", "reg")
    assert task.output_names == task.head_names and task.input_name == "input"
    assert (task.arch, task.head_conv, task.backbone_prefix) == ("dla_34", 256, ("base.",))
    resnet = task_of("--arch", "resdcn_18")
    assert (resnet.head_conv, resnet.backbone_prefix[:2]) == (64, ("conv1.", "bn1."))
    assert task_of("--head_conv", "128").head_conv == 128
    assert task_of(*THREE, "--cat_spec_wh", "True").heads == (("hm", 3), ("wh", 6), ("reg", 2))
    assert task_of(*THREE, "--reg_offset", "False").heads == (("hm", 3), ("wh", 2))


@pytest.mark.parametrize("arch, depth", [("dla_34", None), ("resdcn_18", 18)])
def test_the_network_is_the_arch_factorys(arch, depth):
    """build_network = src/models/centernet_arch.py's network of the arch with the task's heads and head width."""
    from src.models.dla_seg import DLASeg
    from src.models.resnet_dcn import ResNetDCN

    task = task_of("--arch", arch, "--enable_dcn", "False", *THREE)
    network = task.build_network()
    assert isinstance(network, DLASeg if depth is None else ResNetDCN)
    shapes = {name: tuple(p.shape) for name, p in network.parameters_and_names()}
    assert shapes["hm.2.weight"] == (3, task.head_conv, 1, 1) and shapes["reg.2.weight"] == (2, task.head_conv, 1, 1)
    assert not any("conv_offset_mask" in name for name in shapes)  # enable_dcn False
    assert any(name.startswith(task.backbone_prefix) for name in shapes)


def test_predict_record_names_the_coco_category():
    task = task_of()
    dets = Detections([[1.5, 2, 30, 40.25], [5, 5, 9, 9]], [0.9, 0.4], np.zeros((2, 0, 2)), labels=[11, 79])
    assert task.to_json(dets, "a.jpg") == {"image": "a.jpg", "detections": [
        {"bbox": [1.5, 2.0, 30.0, 40.25], "score": pytest.approx(0.9), "category_id": 13, "label": "stop sign"},
        {"bbox": [5.0, 5.0, 9.0, 9.0], "score": pytest.approx(0.4), "category_id": 90, "label": "toothbrush"}]}


def test_drawing_colours_boxes_by_class_and_keeps_small_images_readable():
    task = task_of()
    image = np.zeros((400, 600, 3), np.uint8)
    dets = Detections([[50, 100, 200, 300], [300, 100, 450, 300]], [0.9, 0.8], np.zeros((2, 0, 2)), labels=[0, 2])
    drawn = task.draw(image, dets)
    assert drawn.shape == image.shape  # large enough: drawn at its size
    assert tuple(drawn[200, 50]) != tuple(drawn[200, 300])  # left edges of two classes: two colours
    labelled = (drawn[:100] != 0).any(axis=2)
    assert labelled[80:100, 50:120].any() and not labelled[:70].any()  # "person 0.90" just above the first box
    # a 64 x 48 image is drawn 8x enlarged (nearest: each pixel an 8x8 block), where "motorcycle 0.90" fits
    # above its box and covers a small part of the picture
    small = np.zeros((48, 64, 3), np.uint8)
    small[0, 0] = 200
    drawn = task.draw(small, Detections([[10, 20, 30, 40]], [0.9], np.zeros((1, 0, 2)), labels=[3]))
    assert drawn.shape == (384, 512, 3) and (drawn[:8, :8] == 200).all()
    text = (drawn[:160] != 0).any(axis=2)
    text[:8, :8] = False
    assert text[120:160, 80:].any()  # the label band above the box (top edge at y = 160)
    assert text.sum() < 0.05 * 384 * 512


@pytest.fixture(scope="module")
def coco(coco_mini_dir, tmp_path_factory):
    return write_instances_set(tmp_path_factory.mktemp("det"), coco_mini_dir, "train2017")


def test_training_targets_decode_back_to_the_annotated_boxes(coco):
    """Through the source's own augmentation (random crop, flip, colour): each object slot with reg_mask has its
    centre (ind cell + reg, x4, inverse input affine) at the annotated box centre of the original image, its size
    (wh x4 / scale) the box size, and a peak of 1 in its class channel; objects cut by the crop are clipped, so the
    check takes boxes that stay inside the window."""
    task = task_of("--data_dir", str(coco), "--train_size", "256,256")
    source = task.training_source(_Logger())
    assert source.column_names == ("image", "hm", "wh", "reg", "ind", "reg_mask") and len(source) == 5
    checked = 0
    for index, record in enumerate(source.records):
        image = cv2.imread(record["image_path"])
        for epoch in range(3):
            rng = source.rng_for(index, epoch)
            chw, boxes, _, transforms = source.augment(image, record["boxes"], None, rng)
            sample = source.targets(boxes, record["labels"])
            source.set_epoch(epoch)
            np.testing.assert_array_equal(source[index][1], sample["hm"])  # the source composes these two
            inverse = cv2.invertAffineTransform(transforms.output_affine)
            for k in np.flatnonzero(sample["reg_mask"]):
                if not (boxes[k, :2] >= 0).all() or not (boxes[k, 2:] <= 63).all():
                    continue  # clipped by the crop: its target describes the visible part
                row, col = divmod(int(sample["ind"][k]), 64)
                centre = inverse[:, :2] @ (np.array([col, row]) + sample["reg"][k]) + inverse[:, 2]
                box = record["boxes"][k]
                np.testing.assert_allclose(centre, (box[:2] + box[2:]) / 2, atol=2e-2)
                size = sample["wh"][k] / abs(transforms.output_affine[0, 0])
                np.testing.assert_allclose(size, box[2:] - box[:2], rtol=1e-4, atol=2e-2)
                assert sample["hm"][record["labels"][k], row, col] == 1.0
                checked += 1
    assert checked >= 10


def test_mindrecord_route_gives_the_json_route_samples(coco, tmp_path):
    from src.data.mindrecord import convert_coco_to_mindrecord

    convert_coco_to_mindrecord(coco, tmp_path / "mr", prefix="coco_det.train.mind", shards=2, progress=False,
                               kind="instances")
    from_json = task_of("--data_dir", str(coco), "--train_size", "128,128")
    from_mindrecord = task_of("--mindrecord_dir", str(tmp_path / "mr"), "--train_size", "128,128")
    a = from_json.training_source(_Logger())
    b = from_mindrecord.training_source(_Logger())
    assert len(a) == len(b) == 5 and a.num_objects == b.num_objects == 14
    for index in range(5):
        for x, y in zip(a[index], b[index]):
            np.testing.assert_array_equal(x, y)


def test_a_training_json_of_other_categories_is_a_config_error(coco):
    task = task_of("--data_dir", str(coco), *THREE)
    with pytest.raises(ConfigError, match="differ from the 3 expected by the config: set --num_classes, --category_ids"):
        task.training_source(_Logger())


class _Logger:
    def info(self, *args):
        self.last = args[0] % args[1:]


def test_training_memory_lines_of_each_arch():
    """train.py's memory check has a measured line for DLA-34 and ResNet-18, with and without DCN (named after the
    benchmark run that fitted it); DCN and the larger network need more at any size; other depths are not
    estimated."""
    lines = {(arch, dcn): task_of("--arch", arch, "--enable_dcn", str(dcn)).training_memory()
             for arch in ("dla_34", "resdcn_18") for dcn in (True, False)}
    assert lines[("dla_34", True)].source.endswith("--model ctdet")
    assert lines[("resdcn_18", False)].source.endswith("--model ctdet_resdcn18_nodcn")
    need = {key: line.need_gb(8, 512, 512) for key, line in lines.items()}
    assert need[("dla_34", True)] > need[("dla_34", False)] > need[("resdcn_18", True)] > need[("resdcn_18", False)]
    assert 1.0 < lines[("resdcn_18", False)].need_gb(1, 128, 128) < need[("dla_34", True)] < 24.0
    assert task_of("--arch", "resdcn_101").training_memory() is None
