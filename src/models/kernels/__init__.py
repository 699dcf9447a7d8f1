"""The project's compiled CPU kernels for MindSpore, and the one call that puts them into a network.

Kernels for the layers that dominated the CPU time under MindSpore 2.10 (measured in docs/performance.md
"Compiled CPU kernels"):
* `depthwise`: depthwise 3x3 convs (forward, both gradients; bias+ReLU fused for folded inference);
* `batchnorm`: training-mode BatchNorm2d, with the following ReLU fused in `ConvBNAct`;
* `bias_relu`: the bias+ReLU epilogue of the other BN-folded convs (inference) in one pass;
* `dcn`: CenterNet's modulated deformable convs (DCNv2), forward and backward;
* `winograd`: dense 3x3 stride-1 convs by Winograd F(2x2, 3x3), forward and backward;
* `maxpool`: the ResNet stem's 3x3 / stride-2 max-pool, forward and backward.
The loss's kernel, `focal` (CenterNet's heat-map focal loss on logits), is given to the loss Cell by
`src.models.kernels.focal.enable_fast_focal_loss`.
`library` builds and caches the shared library they live in (see there for the CPU-only and static-shape
rules).

    from src.models.kernels import enable_cpu_kernels
    counts = enable_cpu_kernels(network)
    # training network: {"depthwise": 17, "bias_relu": 0, "batchnorm": 59}
    # after fold_batchnorm: {"depthwise": 17, "bias_relu": 22, "batchnorm": 0}; zeros if unavailable
"""
from src.models.kernels.library import DEFAULT_CACHE_DIR, kernel_library_or_none

__all__ = ["enable_cpu_kernels"]


def enable_cpu_kernels(network, library=None, num_threads=None, fuse_relu=True, cache_dir=DEFAULT_CACHE_DIR):
    """All swaps (`enable_fast_depthwise`, `enable_fused_bias_relu`, `enable_fast_batchnorm`, `enable_fast_dcn`,
    `enable_winograd_conv`, `enable_fast_maxpool`) in place.

    Returns their counts {"depthwise", "bias_relu", "batchnorm", "dcn", "winograd", "maxpool"}, all 0 when not on
    CPU or the library cannot be built (warned once). Call after `fold_batchnorm` when folding (it rebuilds the convs
    it folds). fuse_relu=False keeps every ReLU a separate MindSpore op (and skips `enable_fused_bias_relu`).
    """
    from src.models.kernels.batchnorm import enable_fast_batchnorm
    from src.models.kernels.bias_relu import enable_fused_bias_relu
    from src.models.kernels.dcn import enable_fast_dcn
    from src.models.kernels.depthwise import enable_fast_depthwise
    from src.models.kernels.maxpool import enable_fast_maxpool
    from src.models.kernels.winograd import enable_winograd_conv

    library = kernel_library_or_none(library, num_threads, cache_dir)
    if library is None:
        return {"depthwise": 0, "bias_relu": 0, "batchnorm": 0, "dcn": 0, "winograd": 0, "maxpool": 0}
    return {"depthwise": enable_fast_depthwise(network, library, fuse_bias_relu=fuse_relu),
            "bias_relu": enable_fused_bias_relu(network, library) if fuse_relu else 0,
            "batchnorm": enable_fast_batchnorm(network, library, fuse_relu=fuse_relu),
            "dcn": enable_fast_dcn(network, library),
            "winograd": enable_winograd_conv(network, library),
            "maxpool": enable_fast_maxpool(network, library)}
