"""CPU stand-in for ascend310_infer/: runs an exported MindIR on input .bin files, writes output .bin files.

    python -m src.infer_mindir_cpu --mindir_path centerface.mindir --input_path DIR/input --output_path RESULT
        [--device_target CPU] [--input_shape 1,3,832,832]

Same contract as the C++ runner (see src/evaluation/offline_io.py): every ``<name>.bin`` in input_path
(raw float32, the MindIR's input shape) gives ``<name>_0.bin`` .. ``<name>_3.bin`` in output_path. The
model runs through ``mindspore.load`` + ``nn.GraphCell``, which reproduces the exported Cell bit for bit on
CPU (docs/design.md "Export"), so preprocess.py -> this -> postprocess.py checks the whole offline chain without an
Ascend device. A file of the wrong size is reported, skipped and counted; the exit code is 1 if any was.
"""
import argparse
import logging
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `src` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from src.model_utils.cli import run  # noqa: E402

LOG = logging.getLogger(__name__)


def mindir_input_shape(mindir_path):
    """The (fixed) input shape recorded in a MindIR file, read from its protobuf."""
    from mindspore.train import mind_ir_pb2

    model = mind_ir_pb2.ModelProto()
    model.ParseFromString(Path(mindir_path).read_bytes())
    inputs = [t for value in model.graph.input for t in value.tensor]
    if len(inputs) != 1 or not list(inputs[0].dims) or min(inputs[0].dims) < 1:
        raise ValueError(f"{mindir_path}: expected one input of a fixed shape, found "
                         f"{[list(t.dims) for t in inputs]}; pass --input_shape N,C,H,W")
    return tuple(int(d) for d in inputs[0].dims)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mindir_path", required=True, help="exported model (export.py --file_format MINDIR)")
    parser.add_argument("--input_path", required=True, help="folder of input .bin files (preprocess.py: <path>/input)")
    parser.add_argument("--output_path", required=True, help="folder for <name>_<k>.bin outputs")
    parser.add_argument("--device_target", default="CPU", choices=["CPU", "GPU"], help="where to run the MindIR")
    parser.add_argument("--device_id", type=int, default=0)
    parser.add_argument("--input_shape", default="", help="N,C,H,W; default: the shape stored in the MindIR")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    mindir = Path(args.mindir_path)
    if not mindir.is_file():
        raise FileNotFoundError(f"--mindir_path {mindir}: no such file")
    inputs = sorted(Path(args.input_path).glob("*.bin")) if Path(args.input_path).is_dir() else []
    if not inputs:
        raise FileNotFoundError(f"--input_path {args.input_path}: no .bin files (run preprocess.py first)")

    from src.model_utils.device import init_device

    init_device(args.device_target, args.device_id, "GRAPH")
    import mindspore as ms
    from tqdm import tqdm

    from src.evaluation.offline_io import write_outputs

    if args.input_shape:
        shape = tuple(int(v) for v in args.input_shape.split(","))
    else:
        shape = mindir_input_shape(mindir)
    network = ms.nn.GraphCell(ms.load(str(mindir)))
    expected = int(np.prod(shape))
    failed, start = [], time.perf_counter()
    for path in tqdm(inputs, desc="mindir", unit="file"):
        values = np.fromfile(path, dtype="<f4")
        if values.size != expected:
            LOG.error("%s: %d float32 values; expected %d for the model input %s; skipped", path, values.size,
                      expected, list(shape))
            failed.append(path)
            continue
        outputs = network(ms.Tensor(values.reshape(shape)))
        write_outputs(args.output_path, path.stem, [o.asnumpy() for o in outputs])
    seconds = time.perf_counter() - start
    done = len(inputs) - len(failed)
    print(f"infer_mindir_cpu: {done}/{len(inputs)} inputs through {mindir.name} (input {list(shape)}) in "
          f"{seconds:.1f} s -> {args.output_path}" + (f"; {len(failed)} skipped" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    run(main)
