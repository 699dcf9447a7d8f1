"""COCO person keypoints or instances -> MindRecord shards for the model of a config (the command line of
src/data/mindrecord.py, whose docstring describes the sets; scripts/convert_dataset_to_mindrecord.sh runs it).

    python -m src.convert_dataset_to_mindrecord --coco_dir COCO --mindrecord_dir OUT
        [--config_path configs/centernet_pose.yaml] [--mindrecord_prefix coco_hp.train.mind] [--shards 8]
        [--split train2017] [--overwrite] [--skip_crowd]

The config's model (its task's COCO annotation prefix) says which annotations the set holds: this needs the task
registry, which the data layer must not import (docs/structure.md), hence a tool module here.
"""
import argparse
import os
from typing import Optional, Sequence

from src.data.mindrecord import (DEFAULT_PREFIX, DEFAULT_SHARDS, DEFAULT_SPLIT, KINDS,
                                 convert_coco_to_mindrecord)


def config_kind(config_path):
    """(kind, default prefix) of a model config: its task's COCO annotation prefix and its mindrecord_prefix
    (ValueError naming the file for a config of a model that does not train from COCO MindRecord sets)."""
    from src.model_utils.config import ConfigError, parse_config
    from src.tasks import get_task

    try:
        cfg = parse_config(["--config_path", str(config_path)])
        kind = getattr(get_task(cfg), "annotation_prefix", "")
    except ConfigError as err:
        raise ValueError(f"--config_path {config_path}: {err}") from None
    if kind not in KINDS or not getattr(cfg, "mindrecord_prefix", ""):
        raise ValueError(f"--config_path {config_path}: its model ({cfg.task}) does not train from COCO MindRecord "
                         f"sets; expected a CenterNet config (configs/centernet_pose.yaml, configs/centernet_det.yaml)")
    return kind, cfg.mindrecord_prefix


class _Parser(argparse.ArgumentParser):
    """Bad flags are one `error:` line with exit 2, like every script (src/model_utils/cli.py)."""

    def error(self, message):
        from src.model_utils.config import ConfigError

        raise ConfigError(message)


def main(argv: Optional[Sequence[str]] = None):
    """Command line: convert a COCO split to MindRecord for the model of --config_path (see the module docstring).
    Returns the exit code: 0, or 1 when some images could not be read (each named in a warning)."""
    parser = _Parser(prog="python -m src.convert_dataset_to_mindrecord", description=__doc__.split("\n\n")[0])
    parser.add_argument("--coco_dir", required=True, help="COCO folder with annotations/ and the split's images")
    parser.add_argument("--mindrecord_dir", required=True, help="output folder of the shards")
    parser.add_argument("--config_path", default=None,
                        help="the model's config: configs/centernet_pose.yaml (the default: person keypoints) or "
                             "configs/centernet_det.yaml (instances of every category)")
    parser.add_argument("--mindrecord_prefix", default=None,
                        help="shard file name prefix (default: the config's, coco_hp.train.mind for pose)")
    parser.add_argument("--shards", type=int, default=DEFAULT_SHARDS, help="number of shard files")
    parser.add_argument("--split", default=DEFAULT_SPLIT, help="COCO split: annotations/<kind>_{split}.json and "
                                                               "images in {split}/")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing set of the same prefix")
    parser.add_argument("--skip_crowd", action="store_true",
                        help="leave crowd annotations out (default: kept as objects, persons without joints, as the "
                             "original)")
    args = parser.parse_args(argv)
    kind, prefix = ("person_keypoints", DEFAULT_PREFIX) if args.config_path is None else config_kind(args.config_path)
    prefix = args.mindrecord_prefix or prefix
    paths, summary = convert_coco_to_mindrecord(args.coco_dir, args.mindrecord_dir, prefix, args.shards, args.split,
                                                args.overwrite, crowd_as_persons=not args.skip_crowd, kind=kind)
    count = f"{summary.persons} persons" if kind == "person_keypoints" else f"{summary.objects} objects"
    print(f"convert_dataset_to_mindrecord: wrote {summary.images_kept} images, {count} to "
          f"{len(paths)} shards {os.path.join(args.mindrecord_dir, prefix)}*: {summary}")
    return 1 if summary.images_unreadable else 0


if __name__ == "__main__":
    from src.model_utils.cli import run

    run(main)
