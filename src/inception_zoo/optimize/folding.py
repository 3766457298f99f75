"""Folding per-channel affines into convs: eval-mode BatchNorm, layer scales, Inception-ResNet residual scales.

An affine that directly follows a conv becomes part of that conv (BatchNorm through torch's
``fuse_conv_bn_weights``); a BatchNorm that follows no conv (InceptionNeXt's, after a
concatenation) joins the unpadded conv after it instead. Exact up to float rounding.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_weights

from ..errors import ArgumentError
from ..layers import InceptionResidual, LayerScale
from ._walk import first_conv, last_conv_slot

__all__ = ["fold_affine_into_convs"]


@torch.no_grad()
def _scale_conv_output(conv: nn.Conv2d, scale: torch.Tensor) -> None:
    """conv(x) * scale, as one conv (per output channel)."""
    conv.weight.mul_(scale.view(-1, 1, 1, 1))
    if conv.bias is not None:
        conv.bias.mul_(scale)


def _fold_batch_norm_after(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> None:
    conv.weight, conv.bias = fuse_conv_bn_weights(
        conv.weight, conv.bias, norm.running_mean, norm.running_var, norm.eps, norm.weight, norm.bias
    )


@torch.no_grad()
def _fold_batch_norm_before(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> None:
    """conv(norm(x)) as one conv: exact only without padding (a padded border would see norm(0) != 0)."""
    inv_std = torch.rsqrt(norm.running_var + norm.eps)
    scale = inv_std if norm.weight is None else norm.weight * inv_std
    shift = -norm.running_mean * scale if norm.bias is None else norm.bias - norm.running_mean * scale
    bias = conv.bias if conv.bias is not None else conv.weight.new_zeros(conv.out_channels)
    bias = bias + (conv.weight * shift.view(1, -1, 1, 1)).sum(dim=(1, 2, 3))
    conv.weight.mul_(scale.view(1, -1, 1, 1))
    conv.bias = nn.Parameter(bias)


def fold_affine_into_convs(model: nn.Module) -> nn.Module:
    """Fold eval-mode BatchNorm, layer scales and residual scales into the convs before them (in place);
    a BatchNorm with no conv before it folds into an unpadded conv after it."""
    if model.training:
        raise ArgumentError(
            "fold BatchNorm only in eval mode (call model.eval() first): training uses batch statistics"
        )
    for module in list(model.modules()):
        if isinstance(module, InceptionResidual) and module.scale != 1.0:
            _scale_conv_output(module.project, torch.full_like(module.project.bias, module.scale))
            module.scale = 1.0
        if not isinstance(module, nn.Sequential):
            continue
        names = list(module._modules)
        for i, name in enumerate(names):
            layer = module._modules[name]
            slot = last_conv_slot(module, names[i - 1]) if i > 0 else None
            before = slot[0]._modules[slot[1]] if slot else None
            after = first_conv(module._modules[names[i + 1]]) if i + 1 < len(names) else None
            if isinstance(layer, nn.BatchNorm2d) and layer.track_running_stats:
                if before is not None:
                    _fold_batch_norm_after(before, layer)
                elif after is not None and after.groups == 1 and after.padding in (0, (0, 0)):
                    _fold_batch_norm_before(after, layer)
                else:
                    continue
            elif isinstance(layer, LayerScale) and before is not None:
                _scale_conv_output(before, layer.gamma.detach())
            else:
                continue
            module._modules[name] = nn.Identity()
    return model
