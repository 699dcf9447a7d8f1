"""The PyTorch transcriptions of the ORIGINAL CenterNet networks for the parity tests: the networks themselves live
in benchmarks/torch_centernet.py (shared with the speed benchmarks, see its docstring for how they were written and
how their DCN reproduces DCNv2); this module re-exports them and adds the helpers that give a network random but
well-conditioned values for parity tests.
"""
import math

import torch
from torch import nn

from benchmarks.torch_centernet import (  # noqa: F401  (re-exported for the tests)
    BN_MOMENTUM,
    CTDET_HEADS,
    POSE_HEADS,
    TorchBasicBlock,
    TorchDCN,
    TorchDeformConv,
    TorchDLA34,
    TorchDLASeg,
    TorchDLAUp,
    TorchIDAUp,
    TorchResNet,
    TorchResNetDCN,
    TorchRoot,
    TorchTree,
    fill_up_weights_reference,
)

# ---------------------------------------------------------------- helpers for parity tests

def randomize_(model, seed, offset_px=3.0, offset_jitter_px=0.5):
    """Random weights everywhere (seeded), the DCN offset convs included.

    Conv weights N(0, sqrt(2 / fan_in)) and BN gamma/beta random keep activations O(1). Offset convs: the bias
    of the 18 offset channels is U(-offset_px, offset_px) (a different fractional shift per kernel point and
    direction, so x/y or kernel-order mix-ups show), the weights add a spatially varying part of about
    `offset_jitter_px` (std offset_jitter_px / sqrt(0.5 fan_in): their BN+ReLU inputs have a second moment of
    ~0.5), mask logits get bias N(0, 1). Offsets driven mostly by weights make the random network chaotic:
    with ~2 px from the weights alone, float32 and float64 PyTorch runs of the same network differ by ~10% at
    the heads, so no parity tolerance could be stated; with the jitter at 0.5 px they agree to ~1e-4.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, (nn.Conv2d, TorchDCN)):
                weight = module.weight
                fan_in = weight.shape[1] * weight.shape[2] * weight.shape[3]
                if name.endswith("conv_offset_mask"):
                    weight.copy_(torch.randn(weight.shape, generator=gen) * offset_jitter_px / math.sqrt(0.5 * fan_in))
                    module.bias[:18].copy_(torch.empty(18).uniform_(-offset_px, offset_px, generator=gen))
                    module.bias[18:].copy_(torch.randn(9, generator=gen))
                    continue
                weight.copy_(torch.randn(weight.shape, generator=gen) * math.sqrt(2.0 / fan_in))
                if module.bias is not None:
                    module.bias.copy_(torch.randn(module.bias.shape, generator=gen) * 0.1)
            elif isinstance(module, nn.ConvTranspose2d):
                # Keep the bilinear structure but perturb it, so a wrong kernel orientation would show.
                module.weight.mul_(1 + 0.3 * torch.randn(module.weight.shape, generator=gen))
            elif isinstance(module, nn.BatchNorm2d):
                module.weight.copy_(torch.empty(module.weight.shape).uniform_(0.6, 1.4, generator=gen))
                module.bias.copy_(0.2 * torch.randn(module.bias.shape, generator=gen))
    return model


def calibrate_and_perturb_bn_(model, x, seed):
    """Running statistics measured on one batch, then perturbed per channel.

    Measuring keeps activations O(1) through ~60 layers in eval mode (random statistics alone compound into
    activations, and hence offsets, tens of times too large); the perturbation (mean +- 0.05 sd, var x 0.85..1.2)
    makes eval-mode BN differ from batch normalisation, so swapped or misnamed statistics would show.
    """
    gen = torch.Generator().manual_seed(seed)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = 1.0
    model.train()
    with torch.no_grad():
        model(x)
        for bn in bns:
            bn.momentum = BN_MOMENTUM
            shape = bn.running_mean.shape
            bn.running_mean.add_(0.05 * torch.randn(shape, generator=gen) * bn.running_var.sqrt())
            bn.running_var.mul_(torch.empty(shape).uniform_(0.85, 1.2, generator=gen))
            bn.num_batches_tracked.fill_(1234)
    model.eval()
    return model


def build_random_reference(seed=0, enable_dcn=True, calibration_input=None, offset_px=3.0, offset_jitter_px=0.5,
                           arch="dla_34", heads=POSE_HEADS, head_conv=None):
    """A twin of `arch` (dla_34: TorchDLASeg with the ImageNet classifier the original checkpoints carry;
    resdcn_N: TorchResNetDCN) with random weights and BN statistics, ready for a parity comparison (eval mode).
    head_conv None: the original's default for the arch (256 / 64)."""
    torch.manual_seed(seed)
    family, _, depth = arch.partition("_")
    if family == "dla":
        model = TorchDLASeg(heads, 256 if head_conv is None else head_conv, enable_dcn=enable_dcn, with_fc=True)
    else:
        model = TorchResNetDCN(heads, int(depth), 64 if head_conv is None else head_conv, enable_dcn=enable_dcn)
    randomize_(model, seed, offset_px, offset_jitter_px)
    if calibration_input is not None:
        calibrate_and_perturb_bn_(model, calibration_input, seed + 1)
    model.eval()
    return model


def dcn_offsets_seen(model, x):
    """{module name: |offset| in pixels of every DCN layer} for input x (via forward hooks on conv_offset_mask)."""
    seen, hooks = {}, []
    for name, module in model.named_modules():
        if isinstance(module, TorchDCN):
            def hook(_mod, _inp, out, key=name):
                seen[key] = out[:, :18].abs().detach().numpy()
            hooks.append(module.conv_offset_mask.register_forward_hook(hook))
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return seen
