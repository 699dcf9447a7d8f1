"""COCO person keypoints or instances -> MindRecord shards (the old zoo's CenterNet training-set format), and back.

    python -m src.convert_dataset_to_mindrecord --coco_dir COCO --mindrecord_dir OUT
        [--config_path configs/centernet_pose.yaml] [--mindrecord_prefix coco_hp.train.mind] [--shards 8]
        [--split train2017] [--overwrite] [--skip_crowd]
(the command line; this module is the library it uses)

The model's config says which annotations a set holds (its task's COCO annotation prefix) and its default prefix:
configs/centernet_pose.yaml (the default) reads COCO/annotations/person_keypoints_{split}.json (prefix
coco_hp.train.mind); configs/centernet_det.yaml reads COCO/annotations/instances_{split}.json (prefix
coco_det.train.mind, every image, the schema below without keypoints). For the pose set: it reads
COCO/annotations/person_keypoints_{split}.json and the images in COCO/{split}/ and writes
OUT/<prefix>0 .. OUT/<prefix>7, each with its index file <name>.db (FileWriter names the shards <prefix> plus
the shard number, zero-padded to the width of shards - 1: <prefix>00 .. <prefix>11 for 12 shards; a single
shard is <prefix> itself). ``read_mindrecord_records(OUT, prefix)`` gives the records back in the structure of
``load_person_keypoints`` (src/data/coco_keypoints.py) with ``image_bytes`` in place of ``image_path``
(decoded on use by ``load_record_image``), so training can read either source.

Schema. The old MindSpore zoo's fields (research/cv/centernet/src/dataset.py, transfer_coco_to_mindrecord), with
their names, types and meanings, so that a reader of those columns keeps working:
    image        bytes             the image file as stored (not re-encoded)
    num_objects  int32             persons in the image
    keypoints    int32 [-1, 51]    COCO x, y, v per joint
    bbox         float32 [-1, 4]   COCO x, y, w, h
    category_id  int32 [-1]        the json's person category id (1 in COCO)
plus what a record needs and the zoo did not store: file_name string, image_id int64, width int32,
height int32, record_index int64 (position in the converted image order: FileReader returns rows in no fixed
order). The summary of the conversion (LoadSummary) is kept as JSON in the schema description.
Content differs from the zoo's: the zoo stored every annotation of an image (empty boxes too); here only the
persons load_person_keypoints keeps (policy in its module docstring: crowd regions are persons without joints,
as the original, unless --skip_crowd), so num_objects >= 1.

Detection sets (kind "instances"): the same fields without keypoints; category_id holds each object's COCO
category id, every image of the json is kept (the original ctdet trains on images without objects too), and the
description keeps the json's category table. The reader maps category ids to the model's classes
(`category_ids` of its config) and refuses a set of the other kind, naming it.

int32 keypoints: COCO joint coordinates are integer pixel positions (all 14 x 17 joints of the mini test set
are); the converter refuses (one line) a json with a non-integer coordinate rather than truncate it, so a
MindRecord set always reads back exactly what load_person_keypoints returns.

Images are decoded once during the conversion, so training never meets a broken image from a converted set: an
image that is missing, cannot be decoded (truncated, zero bytes, another format) or differs in size from the json
is named in a warning and left out, as on every route (README "Exit codes and outputs"); the command then exits 1.
The output folder is marked with a `.run.json` naming the converter (one run per folder).

Interruptions: the shards are written into a temporary folder inside the output folder under their final
names (each shard's header lists the other shards by name, without folder), committed, then moved into place
(os.replace, same file system), index files first; the temporary folder is removed on failure. An interrupted
conversion therefore leaves no shard under the final names, or (if stopped during the final moves) an
incomplete set that the reader rejects naming the missing shard and that the next conversion only replaces
with overwrite.
"""
import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import replace

import numpy as np
from tqdm import tqdm

from .coco_instances import CocoCategories, CocoRecords, InstanceSummary, load_coco_instances
from .coco_instances import make_record as make_object_record
from .coco_keypoints import (
    NUM_JOINTS,
    LoadSummary,
    PersonRecords,
    load_person_keypoints,
    make_record,
)
from .image_io import decode_image
from dependency.atomic import make_folder
from src.io_utils import OutputFolderError, run_manifest_owner, write_run_manifest

logger = logging.getLogger(__name__)
RUN_SCRIPT = "convert_dataset_to_mindrecord"  # the name in the output folder's .run.json

DEFAULT_PREFIX = "coco_hp.train.mind"
DEFAULT_SHARDS = 8
DEFAULT_SPLIT = "train2017"
MAX_SHARDS = 1000  # mindspore.mindrecord's limit
SCHEMA = {
    "image": {"type": "bytes"},
    "num_objects": {"type": "int32"},
    "keypoints": {"type": "int32", "shape": [-1, 3 * NUM_JOINTS]},
    "bbox": {"type": "float32", "shape": [-1, 4]},
    "category_id": {"type": "int32", "shape": [-1]},
    "file_name": {"type": "string"},
    "image_id": {"type": "int64"},
    "width": {"type": "int32"},
    "height": {"type": "int32"},
    "record_index": {"type": "int64"},
}
OBJECT_SCHEMA = {key: value for key, value in SCHEMA.items() if key != "keypoints"}  # kind "instances"
KINDS = ("person_keypoints", "instances")  # COCO annotation prefixes: what a set holds
SCHEMA_NAME = "centernet_pose_coco_person_keypoints"
WRITE_BATCH = 64  # rows per FileWriter.write_raw_data call
_HEADER_LIMIT = 1 << 27  # FileWriter.set_header_size allows at most 128 MB (default 16 MB)



def _check_prefix(prefix):
    if not isinstance(prefix, str) or not prefix or os.sep in prefix or prefix.startswith("."):
        raise ValueError(f"mindrecord prefix {prefix!r}: expected a file name (no folder, not starting with '.')")


def _set_files(mindrecord_dir, prefix):
    """Names in mindrecord_dir of a shard set <prefix>[digits] and their .db index files, sorted."""
    if not os.path.isdir(mindrecord_dir):
        return []
    pattern = re.compile(re.escape(prefix) + r"\d*(\.db)?")
    return sorted(name for name in os.listdir(mindrecord_dir) if pattern.fullmatch(name))


def read_shard_header(path):
    """The JSON header of a MindRecord shard (8-byte little-endian length, then the JSON text): its
    'shard_addresses' list the names of all shards of the set, 'schema' the fields and description."""
    try:
        with open(path, "rb") as f:
            size = int.from_bytes(f.read(8), "little")
            if not 0 < size <= _HEADER_LIMIT:
                raise ValueError(f"header length {size}")
            header = json.loads(f.read(size).decode("utf-8"))
        if not isinstance(header.get("shard_addresses"), list) or not isinstance(header.get("schema"), list):
            raise ValueError("no shard_addresses/schema")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable MindRecord shard ({exc})") from None
    return header


def mindrecord_shards(mindrecord_dir, prefix=DEFAULT_PREFIX):
    """Paths of all shards of the set <prefix> in mindrecord_dir, in shard order, after checking that every
    shard the set's header names, and its .db index file, is present (FileNotFoundError naming the first
    missing one)."""
    _check_prefix(prefix)
    mindrecord_dir = str(mindrecord_dir)
    if not os.path.isdir(mindrecord_dir):
        raise FileNotFoundError(f"MindRecord folder {mindrecord_dir}: no such folder")
    present = [name for name in _set_files(mindrecord_dir, prefix) if not name.endswith(".db")]
    if not present:
        raise FileNotFoundError(f"{mindrecord_dir}: no MindRecord shards named {prefix}* "
                                f"(convert with scripts/convert_dataset_to_mindrecord.sh)")
    header = read_shard_header(os.path.join(mindrecord_dir, present[0]))
    names = header["shard_addresses"]
    if any(not isinstance(n, str) or os.path.basename(n) != n or not n.startswith(prefix) for n in names):
        raise ValueError(f"{os.path.join(mindrecord_dir, present[0])}: its header lists shards {names}, not "
                         f"{prefix}* files of one folder")
    for name in names:
        for required in (name, name + ".db"):
            if not os.path.isfile(os.path.join(mindrecord_dir, required)):
                raise FileNotFoundError(f"MindRecord set {os.path.join(mindrecord_dir, prefix)}: "
                                        f"{required} missing ({len(names)} shards expected)")
    return [os.path.join(mindrecord_dir, name) for name in names]


def _integer_keypoints(record, json_path):
    """keypoints (N, 17, 3) float32 as int32 (N, 51); ValueError if a value is not an integer."""
    keypoints = record["keypoints"]
    rounded = np.round(keypoints)
    if not np.array_equal(rounded, keypoints) or np.abs(keypoints).max(initial=0) >= 2 ** 31:
        bad = keypoints[rounded != keypoints]
        raise ValueError(f"{json_path}: image {record['file_name']} (id {record['image_id']}): keypoint value "
                         f"{bad[0] if bad.size else keypoints.max()} does not fit the int32 'keypoints' field of "
                         f"the zoo schema (integers expected)")
    return rounded.astype(np.int32).reshape(-1, 3 * NUM_JOINTS)


def _unreadable(record, json_path):
    """(the image file's bytes, None), or (None, why it cannot be used) when it is missing, cannot be decoded or
    is not of the json's size."""
    path = record["image_path"]
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        return None, f"{path}: cannot be read ({exc.strerror})"
    image = decode_image(data, "BGR", ignore_orientation=True)
    if image is None:
        return None, f"{path}: cannot be read as an image (truncated, zero bytes or another format)"
    if image.shape[:2] != (record["height"], record["width"]):
        return None, (f"{path}: the image is {image.shape[1]}x{image.shape[0]} but {json_path} says "
                      f"{record['width']}x{record['height']}")
    return data, None


def _row(record, data, index, category_ids, json_path):
    """One MindRecord row of a record and its image bytes; category_ids: the COCO id of each class (the person id
    for pose)."""
    row = {"image": data, "num_objects": len(record["boxes_xywh"]), "bbox": record["boxes_xywh"],
           "category_id": np.asarray(category_ids, np.int32)[record["labels"]].reshape(-1),
           "file_name": record["file_name"], "image_id": record["image_id"], "width": record["width"],
           "height": record["height"], "record_index": index}
    if "keypoints" in record:
        row["keypoints"] = _integer_keypoints(record, json_path)
    return row


def convert_coco_to_mindrecord(coco_dir, mindrecord_dir, prefix=DEFAULT_PREFIX, shards=DEFAULT_SHARDS,
                               split=DEFAULT_SPLIT, overwrite=False, progress=True, crowd_as_persons=True,
                               kind="person_keypoints"):
    """Write the persons of coco_dir/annotations/person_keypoints_{split}.json (kind "person_keypoints"), or every
    image and object of coco_dir/annotations/instances_{split}.json (kind "instances"), images in
    coco_dir/{split}/, as a MindRecord set <prefix>* of ``shards`` shards in mindrecord_dir (schema and
    guarantees: module docstring). Refuses (OutputFolderError) to replace an existing set of the same prefix unless
    overwrite. crowd_as_persons: the loaders' crowd policy (the original's: crowd regions are objects; persons
    without joints). Returns (shard paths, LoadSummary or InstanceSummary), unreadable images left out and counted
    in the summary's ``images_unreadable``."""
    _check_prefix(prefix)
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r}: expected one of {', '.join(KINDS)}")
    if type(shards) is not int or not 1 <= shards <= MAX_SHARDS:
        raise ValueError(f"shards {shards!r}: expected an integer in [1, {MAX_SHARDS}]")
    coco_dir, mindrecord_dir = str(coco_dir), str(mindrecord_dir)
    json_path = os.path.join(coco_dir, "annotations", f"{kind}_{split}.json")
    image_dir = os.path.join(coco_dir, split)
    if not os.path.isdir(image_dir):
        raise FileNotFoundError(f"image folder {image_dir}: no such folder (COCO_DIR/{split}/ expected)")
    existing = _set_files(mindrecord_dir, prefix)
    if existing and not overwrite:
        raise OutputFolderError(f"{mindrecord_dir} already holds the MindRecord set {prefix} ({len(existing)} files, "
                                f"e.g. {existing[0]}): pass overwrite=True (--overwrite) to replace it")
    owner = run_manifest_owner(mindrecord_dir)
    if owner not in (None, RUN_SCRIPT):
        raise OutputFolderError(f"{mindrecord_dir} holds a {owner} run (its .run.json): choose another folder")
    if kind == "person_keypoints":
        records = load_person_keypoints(json_path, image_dir, drop_empty=True, crowd_as_persons=crowd_as_persons,
                                        check_images=False)
        if not records:
            raise ValueError(f"{json_path}: no image with a usable person ({records.summary})")
        category_ids, schema, extra = [records.category_id], SCHEMA, {}
    else:
        records = load_coco_instances(json_path, image_dir, crowd_as_objects=crowd_as_persons, check_images=False)
        if not records.summary.objects:
            raise ValueError(f"{json_path}: no usable object ({records.summary})")
        category_ids, schema = records.categories.ids, OBJECT_SCHEMA
        extra = {"kind": kind, "categories": records.categories.as_dict()}

    from mindspore.mindrecord import (
        FileWriter,  # lazily: the rest of the module needs no MindSpore
    )

    make_folder(mindrecord_dir)
    write_run_manifest(mindrecord_dir, RUN_SCRIPT)
    temporary = tempfile.mkdtemp(prefix=f".{prefix}.partial-", dir=mindrecord_dir)
    try:
        writer = FileWriter(os.path.join(temporary, prefix), shard_num=shards)
        description = {"source": os.path.basename(json_path), "summary": records.summary.as_dict(), **extra}
        writer.add_schema(schema, json.dumps(description))
        batch, written, unreadable = [], 0, []
        for record in tqdm(records, desc=f"MindRecord {prefix}", unit="img", disable=not progress):
            data, why = _unreadable(record, json_path)
            if data is None:
                logger.warning("%s; skipped", why)
                unreadable.append((record, why))
                continue
            batch.append(_row(record, data, written, category_ids, json_path))
            written += 1
            if len(batch) == WRITE_BATCH:
                writer.write_raw_data(batch)
                batch = []
        if not written:
            raise ValueError(f"{json_path}: none of its {len(records)} images with {_what(kind)} can be read "
                             f"(e.g. {unreadable[0][1]})")
        if batch:
            writer.write_raw_data(batch)
        writer.commit()
        written = sorted(os.listdir(temporary), key=lambda name: (not name.endswith(".db"), name))
        for name in _set_files(mindrecord_dir, prefix):  # overwrite: no shard of the old set may survive
            os.remove(os.path.join(mindrecord_dir, name))
        for name in written:  # index files first: a set interrupted here has no shard or names its missing one
            os.replace(os.path.join(temporary, name), os.path.join(mindrecord_dir, name))
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return mindrecord_shards(mindrecord_dir, prefix), _summary_of(records, [r for r, _ in unreadable],
                                                                   records.summary)


def _what(kind):
    return "persons" if kind == "person_keypoints" else "objects"


def _summary_of(records, dropped, summary):
    """`summary` (LoadSummary or InstanceSummary) of `records` after leaving out the records `dropped` (their
    images could not be read): the kept images and their objects counted again, the dropped ones as
    ``images_unreadable``."""
    dropped_ids = {id(r) for r in dropped}
    kept = [r for r in records if id(r) not in dropped_ids]
    counts = {"images_kept": len(kept), "images_unreadable": summary.images_unreadable + len(dropped)}
    if isinstance(summary, LoadSummary):
        counts.update(persons=sum(len(r["boxes"]) for r in kept),
                      persons_without_joints=sum(int((r["num_keypoints"] == 0).sum()) for r in kept))
    else:
        counts["objects"] = sum(len(r["boxes"]) for r in kept)
    return replace(summary, **counts)


def _description(header):
    """The JSON description the converter kept with the schema ({} for a set made elsewhere, e.g. the zoo's)."""
    try:
        description = json.loads(header["schema"][0]["desc"])
    except (KeyError, IndexError, TypeError, ValueError):
        return {}
    return description if isinstance(description, dict) else {}


def _stored_summary(description, summary_class=LoadSummary):
    """The summary the converter kept in the schema description, or None (e.g. a zoo-made set)."""
    try:
        return summary_class(**description["summary"])
    except (KeyError, TypeError, ValueError):
        return None


def _read_summary(records, stored, summary_class):
    """The summary of records read back: the conversion's (`stored`), whose counts are the json's, written before
    unreadable images were left out, so they are counted again when the set holds fewer images; for a set without
    one (made elsewhere), counted from the records."""
    if stored is None:
        return _summary_of(records, [], summary_class(images=len(records)))
    if stored.images_kept == len(records):
        return stored
    summary = _summary_of(records, [], stored)
    return replace(summary, images_unreadable=stored.images_kept - len(records))


def _error_line(exc):
    lines = [line for line in str(exc).splitlines() if "[ERROR]" in line] or [str(exc).splitlines()[0]]
    return lines[0].strip()


def _broken_shard_error(paths, exc):
    """ValueError naming the shard of `paths` that MindSpore cannot read (each is opened alone: FileReader's error
    for the set names none), with MindSpore's reason."""
    from mindspore.mindrecord import FileReader

    for path in paths:
        try:
            reader = FileReader([path], num_consumer=1)
            try:
                for _ in reader.get_next():
                    pass
            finally:
                reader.close()
        except RuntimeError as shard_exc:
            return ValueError(f"cannot read MindRecord shard {path} (truncated or damaged; {len(paths)} shards in the "
                              f"set): {_error_line(shard_exc)}; convert the COCO json again")
    return ValueError(f"cannot read the MindRecord set of {len(paths)} shards {paths[0]} ...: {_error_line(exc)}")


def _read_rows(paths, fields):
    """Every row of the set, in conversion order (FileReader returns them in no fixed order), after checking that
    the set has `fields`."""
    from mindspore.mindrecord import FileReader

    try:
        reader = FileReader(paths, num_consumer=max(1, min(4, os.cpu_count() or 1)))
    except RuntimeError as exc:
        raise _broken_shard_error(paths, exc) from None
    try:
        missing = sorted(set(fields) - set(reader.schema()))
        if missing:
            raise ValueError(f"MindRecord set {paths[0]}: fields {missing} missing: not written by "
                             f"src.convert_dataset_to_mindrecord (the old zoo's sets lack them); convert the COCO "
                             f"json again")
        try:
            rows = list(reader.get_next())
        except RuntimeError as exc:
            raise _broken_shard_error(paths, exc) from None
    finally:
        reader.close()
    rows.sort(key=lambda row: int(row["record_index"]))
    if [int(row["record_index"]) for row in rows] != list(range(len(rows))):
        raise ValueError(f"MindRecord set {paths[0]}: record_index is not 0..{len(rows) - 1} (rows missing or "
                         f"duplicated)")
    return rows


def set_kind(header):
    """What a set holds: "person_keypoints" or "instances" (the converter's description, else its fields)."""
    kind = _description(header).get("kind")
    if kind in KINDS:
        return kind
    fields = {field for entry in header["schema"] for field in entry.get("schema", {})}
    return "instances" if fields and "keypoints" not in fields else "person_keypoints"


def read_mindrecord_records(mindrecord_dir, prefix=DEFAULT_PREFIX, kind="person_keypoints", category_ids=None):
    """All images of the MindRecord set <prefix> in mindrecord_dir, in the order of the conversion, each record as
    the json loaders make it but with ``image_bytes`` (the image file's bytes, decoded on use by
    load_record_image) instead of ``image_path``. ``.summary`` is the conversion's (images it left out as
    unreadable counted in ``images_unreadable``).

    kind "person_keypoints": a PersonRecords list (load_person_keypoints' records). kind "instances": a
    CocoRecords list (load_coco_instances' records) whose labels are the classes of `category_ids` (the model's
    class table; None: the set's own categories). A set of the other kind is a one-line ValueError naming it.
    Every image's bytes are held in memory (COCO train2017's 64k person images: about 10 GB).
    FileNotFoundError naming a missing shard; ValueError for a set not written by this module (the old zoo's
    sets lack file_name/image_id/width/height/record_index: convert again)."""
    paths = mindrecord_shards(mindrecord_dir, prefix)
    header = read_shard_header(paths[0])
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r}: expected one of {', '.join(KINDS)}")
    found = set_kind(header)
    if found != kind:
        raise ValueError(f"MindRecord set {paths[0]} holds {found} records, this model trains on {kind}: convert "
                         f"the COCO json with the model's config (scripts/convert_dataset_to_mindrecord.sh "
                         f"COCO_DIR MINDRECORD_DIR --config_path CONFIG)")
    if kind == "instances":
        return _object_records(paths, header, category_ids)
    rows = _read_rows(paths, SCHEMA)
    category_ids = {int(v) for row in rows for v in row["category_id"]}
    if len(category_ids) > 1:
        raise ValueError(f"MindRecord set {paths[0]}: several category ids {sorted(category_ids)}, expected "
                         f"the person category only")
    records = PersonRecords(category_id=min(category_ids, default=None))
    for row in rows:
        count = int(row["num_objects"])
        if row["bbox"].shape != (count, 4) or row["keypoints"].shape != (count, 3 * NUM_JOINTS):
            raise ValueError(f"MindRecord set {paths[0]}: row {row['record_index']} ({row['file_name']}) has "
                             f"num_objects {count} but bbox {row['bbox'].shape}, keypoints {row['keypoints'].shape}")
        record = make_record(row["file_name"], row["image_id"], row["width"], row["height"], row["bbox"],
                             row["keypoints"].reshape(count, NUM_JOINTS, 3))
        record["image_bytes"] = row["image"]
        records.append(record)
    records.summary = _read_summary(records, _stored_summary(_description(header)), LoadSummary)
    return records


def _object_records(paths, header, category_ids):
    """The records of a detection set (kind "instances"); see read_mindrecord_records."""
    description = _description(header)
    stored = description.get("categories") or {}
    table = CocoCategories(tuple(stored.get("ids", ())), tuple(stored.get("names", ())))
    if category_ids is not None:
        if table.ids and tuple(category_ids) != table.ids:
            raise ValueError(f"MindRecord set {paths[0]}: categories {list(table.ids)[:10]} ({len(table)}) differ "
                             f"from the {len(category_ids)} expected by the config (category_ids)")
        table = CocoCategories(tuple(int(i) for i in category_ids), table.names or tuple(map(str, category_ids)))
    class_of = table.class_of
    records = CocoRecords(categories=table)
    for row in _read_rows(paths, OBJECT_SCHEMA):
        count = int(row["num_objects"])
        ids = row["category_id"].reshape(-1)
        if row["bbox"].reshape(-1, 4).shape != (count, 4) or ids.shape != (count,):
            raise ValueError(f"MindRecord set {paths[0]}: row {row['record_index']} ({row['file_name']}) has "
                             f"num_objects {count} but bbox {row['bbox'].shape}, category_id {ids.shape}")
        unknown = sorted({int(i) for i in ids} - set(class_of))
        if unknown:
            raise ValueError(f"MindRecord set {paths[0]}: row {row['record_index']} ({row['file_name']}) has "
                             f"category ids {unknown} outside the {len(table)} classes")
        record = make_object_record(row["file_name"], row["image_id"], row["width"], row["height"],
                                    row["bbox"].reshape(count, 4), labels=[class_of[int(i)] for i in ids])
        record["image_bytes"] = row["image"]
        records.append(record)
    records.summary = _read_summary(records, _stored_summary(description, InstanceSummary), InstanceSummary)
    return records
