"""Each conv as one direct oneDNN call on the CPU (fp32): its weights reordered into oneDNN's layout
once rather than at every call, and the ReLU or GELU right after it applied as it writes its
output (one pass over memory instead of two). The ops are torch's private ``torch.ops.mkldnn``
ones; ``onednn_available`` is the one probe for them.
"""

from __future__ import annotations

import torch
from torch import nn

from ..layers import ConvMlp
from ._walk import last_conv_slot, plain_conv
from .merging import MergedBranches

__all__ = ["OneDnnConv", "onednn_available", "onednn_convs"]


class OneDnnConv(nn.Module):
    """A conv, and the ReLU or GELU after it if any, as one oneDNN call on the CPU (fp32).

    The activation is applied as the conv writes its output instead of in a second pass over
    memory, and the weights are reordered into oneDNN's blocked layout once (at the first call)
    instead of at every call: at batch 1 the repeated reorder made convs with large weights 1.1-2.2x
    slower (InceptionNeXt's and Inception-ResNet's late 1x1 convs). Anywhere else (a GPU, another
    dtype, autograd) it runs the conv and the activation as before.
    """

    def __init__(self, conv: nn.Conv2d, act: nn.ReLU | nn.GELU | None = None):
        super().__init__()
        self.conv, self.act = conv, act or nn.Identity()
        if act is None:
            self.post_op = ("none", "")
        else:
            self.post_op = ("relu", "") if isinstance(act, nn.ReLU) else ("gelu", act.approximate)
        self._packed: tuple[tuple[int, int], torch.Tensor] | None = None  # ((weight address, version), packed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv, weight = self.conv, self.conv.weight
        if x.device.type != "cpu" or x.dtype != torch.float32 or (torch.is_grad_enabled() and weight.requires_grad):
            return self.act(conv(x))
        key = (weight.data_ptr(), weight._version)  # repack after .to(), load_state_dict, in-place edits
        if self._packed is None or self._packed[0] != key:
            packed = torch.ops.mkldnn._reorder_convolution_weight(
                weight, conv.padding, conv.stride, conv.dilation, conv.groups, list(x.shape)
            )
            self._packed = (key, packed)
        return torch.ops.mkldnn._convolution_pointwise(
            x, self._packed[1], conv.bias, conv.padding, conv.stride, conv.dilation, conv.groups,
            self.post_op[0], [], self.post_op[1],
        )  # fmt: skip

    def __getstate__(self) -> dict:  # the packed copy is opaque to copy and pickle; it is rebuilt on use
        return {**self.__dict__, "_packed": None}


def _fusable_activation(module: nn.Module) -> bool:
    return type(module) is nn.ReLU or (type(module) is nn.GELU and module.approximate in ("none", "tanh"))


def onednn_convs(model: nn.Module) -> nn.Module:
    """Every conv becomes a ``OneDnnConv`` (in place), taking in the ReLU or GELU that directly
    follows it: in a Sequential (past Identities left by folding), between an MLP's convs, or after
    a merged 1x1 conv with no pool branch."""
    for parent in list(model.modules()):
        if isinstance(parent, ConvMlp) and _fusable_activation(parent.act):
            parent.fc1, parent.act = OneDnnConv(parent.fc1, parent.act), nn.Identity()
        if isinstance(parent, MergedBranches) and not parent.pooled_sizes:  # else the act covers only part
            parent.conv, parent.act = OneDnnConv(parent.conv, parent.act), nn.Identity()
        if not isinstance(parent, nn.Sequential):
            continue
        keys = list(parent._modules)
        for i, key in enumerate(keys):
            if not _fusable_activation(parent._modules[key]):
                continue
            before = [k for k in keys[:i] if not isinstance(parent._modules[k], nn.Identity)]
            slot = last_conv_slot(parent, before[-1]) if before else None
            if slot is not None:
                owner, name = slot
                owner._modules[name] = OneDnnConv(owner._modules[name], parent._modules[key])
                parent._modules[key] = nn.Identity()
    for parent in list(model.modules()):
        if not isinstance(parent, OneDnnConv):
            for name, child in parent.named_children():
                if plain_conv(child):
                    parent._modules[name] = OneDnnConv(child)
    return model


def onednn_available() -> bool:
    """Whether this torch has the (private) oneDNN ops ``OneDnnConv`` calls: the one capability probe."""
    ops = ("_convolution_pointwise", "_reorder_convolution_weight")
    return torch.backends.mkldnn.is_available() and all(hasattr(torch.ops.mkldnn, op) for op in ops)
