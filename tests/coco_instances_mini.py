"""A small COCO instances set for the object-detection tests, made from the 4 real COCO val images of
tests/data/coco_person_kpt_mini: their 14 person boxes, some relabelled as other COCO categories (so that several
classes, non-contiguous ids included, have boxes), one crowd box, an image without annotations, and COCO's full
80-category table (shuffled, as a json may list it)."""
import json
import shutil

import yaml

from tests.conftest import ROOT

# category id -> name of COCO's 80 classes, from the detection config (the original's _valid_ids and names)
_DET_CONFIG = yaml.safe_load((ROOT / "configs" / "centernet_det.yaml").read_text().split("\n---")[0])
COCO_IDS = _DET_CONFIG["category_ids"]
COCO_NAMES = _DET_CONFIG["class_names"]
RELABEL = {1: 3, 2: 90, 5: 13}  # annotation index -> category id (car, toothbrush, stop sign)
CROWD = 4  # annotation index made a crowd region
EMPTY_IMAGE = {"id": 999, "file_name": "empty.jpg", "width": 640, "height": 425}


def instances_json(mini_dir):
    data = json.loads((mini_dir / "test_coco.json").read_text())
    annotations = []
    for index, ann in enumerate(data["annotations"]):
        ann = {key: ann[key] for key in ("id", "image_id", "bbox", "area", "iscrowd", "category_id")}
        ann["category_id"] = RELABEL.get(index, 1)
        ann["iscrowd"] = int(index == CROWD)
        annotations.append(ann)
    categories = [{"id": i, "name": n, "supercategory": "thing"} for i, n in zip(COCO_IDS, COCO_NAMES)]
    categories = categories[40:] + categories[:40]  # not in id order: the class order is the sorted ids
    images = [{key: image[key] for key in ("id", "file_name", "width", "height")} for image in data["images"]]
    return {"images": images + [EMPTY_IMAGE], "annotations": annotations, "categories": categories}


def write_instances_set(root, mini_dir, split="val2017", copies=1):
    """root/annotations/instances_{split}.json and root/{split}/ with the 4 images and empty.jpg (a copy of the
    first image: an image without annotations); with `copies` > 1 the 5 images and their annotations are repeated
    under new ids and file names (c1_..., c2_...), for runs that need more images. Returns root."""
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / split).mkdir(exist_ok=True)
    for image in mini_dir.glob("*.jpg"):
        shutil.copy(image, root / split / image.name)
    shutil.copy(mini_dir / "000000000785.jpg", root / split / EMPTY_IMAGE["file_name"])
    data = instances_json(mini_dir)
    images, annotations = list(data["images"]), list(data["annotations"])
    for copy in range(1, copies):
        for image in data["images"]:
            name = f"c{copy}_{image['file_name']}"
            shutil.copy(root / split / image["file_name"], root / split / name)
            images.append({**image, "id": image["id"] + 10 ** 7 * copy, "file_name": name})
        annotations += [{**ann, "id": ann["id"] + 10 ** 7 * copy, "image_id": ann["image_id"] + 10 ** 7 * copy}
                        for ann in data["annotations"]]
    data.update(images=images, annotations=annotations)
    (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(data))
    return root
