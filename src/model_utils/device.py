"""Device set-up in one place: target, device id, execution mode, data-parallel init.

Call `prepare_environment(target)` before `import mindspore` anywhere in the process (root scripts parse
their config first, which imports no MindSpore), then `init_device(cfg)`.
"""
import logging
import os
import sys
from dataclasses import dataclass

LOG = logging.getLogger(__name__)
TARGETS = ("CPU", "GPU", "Ascend")


@dataclass
class DeviceInfo:
    target: str
    device_id: int
    rank: int = 0
    group_size: int = 1

    @property
    def is_main(self):
        return self.rank == 0


def prepare_environment(device_target, log=LOG.info):
    """Cap oneDNN at AVX2 on CPU unless the user chose an ISA (docs/design.md "Platform facts").

    On AVX-512 machines oneDNN falls back to a reference NCHW convolution (259 ms for a 64->64 3x3 conv at
    56x56); capped at AVX2 it takes a jit gemm path (5.6 ms). The variable is read when MindSpore loads, so
    this must run before `import mindspore`.
    """
    if device_target not in TARGETS:
        raise ValueError(f"device_target: expected one of {TARGETS}, got {device_target!r}")
    if device_target != "CPU":
        return
    if "ONEDNN_MAX_CPU_ISA" in os.environ:
        log(f"ONEDNN_MAX_CPU_ISA={os.environ['ONEDNN_MAX_CPU_ISA']} (set by the user)")
        return
    os.environ["ONEDNN_MAX_CPU_ISA"] = "AVX2"
    if "mindspore" in sys.modules:
        log("ONEDNN_MAX_CPU_ISA=AVX2 set after mindspore was imported: it may not take effect; "
            "export it in the shell for full CPU speed")
    else:
        log("ONEDNN_MAX_CPU_ISA=AVX2 set for the CPU target (oneDNN's AVX-512 path picks a slow reference "
            "convolution here; export ONEDNN_MAX_CPU_ISA to override)")


def _check_available(device_target):
    from mindspore import device_context

    module = {"CPU": device_context.cpu, "GPU": device_context.gpu, "Ascend": device_context.ascend}[device_target]
    if not module.is_available():
        hint = {"GPU": "a CUDA 11 GPU and the MindSpore GPU plugin",
                "Ascend": "an Ascend NPU with CANN and the MindSpore Ascend plugin"}.get(device_target, "")
        raise RuntimeError(f"device_target={device_target} is not available on this machine (needs {hint}); "
                           f"use --device_target CPU")


def init_device(device_target="CPU", device_id=0, mode="GRAPH", distributed=False, seed=None, log=LOG.info):
    """Set the MindSpore context; with `distributed`, initialise communication and data parallelism."""
    prepare_environment(device_target, log)
    import mindspore as ms

    _check_available(device_target)
    if mode not in ("GRAPH", "PYNATIVE"):
        raise ValueError(f"mode: expected GRAPH or PYNATIVE, got {mode!r}")
    ms.set_context(mode=ms.GRAPH_MODE if mode == "GRAPH" else ms.PYNATIVE_MODE)
    if seed is not None:
        # Same seed on every rank: identical initial weights, so data-parallel replicas stay in sync.
        ms.set_seed(seed)
    rank, group_size = 0, 1
    if distributed:
        from mindspore.communication import get_group_size, get_rank, init

        ms.set_device(device_target)  # msrun negotiates the device id per worker
        init()
        rank, group_size = get_rank(), get_group_size()
        ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True,
                                     device_num=group_size)
        device_id = int(os.environ.get("DEVICE_ID", rank if device_target != "CPU" else 0))
    else:
        ms.set_device(device_target, device_id)
    log(f"device: {device_target}:{device_id}, mode {mode}, rank {rank}/{group_size}")
    return DeviceInfo(device_target, device_id, rank, group_size)
