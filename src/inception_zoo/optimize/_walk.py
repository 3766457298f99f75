"""Finding the convs at the ends of a module: what folding and fusing both need, written once."""

from __future__ import annotations

from torch import nn

from ..layers import ConvMlp

__all__ = ["first_conv", "last_conv_slot", "plain_conv"]


def plain_conv(module: nn.Module) -> bool:
    """A plain ``nn.Conv2d`` with zero padding given as numbers (what the rewrites know how to change)."""
    return type(module) is nn.Conv2d and module.padding_mode == "zeros" and not isinstance(module.padding, str)


def last_conv_slot(container: nn.Module, key: str) -> tuple[nn.Module, str] | None:
    """Where the conv sits whose output is ``container[key]``'s output: the module itself, or (past
    trailing Identities) the last child of a Sequential (SeparableConv2d is one) or of a ConvMlp."""
    module = container._modules[key]
    if plain_conv(module):
        return container, key
    if isinstance(module, ConvMlp):
        return last_conv_slot(module, "fc2")
    if isinstance(module, nn.Sequential):
        keys = [k for k, child in module._modules.items() if not isinstance(child, nn.Identity)]
        return last_conv_slot(module, keys[-1]) if keys else None
    return None


def first_conv(module: nn.Module) -> nn.Conv2d | None:
    """The conv that first sees ``module``'s input: the module itself, or the first child of a
    Sequential or a ConvMlp."""
    if isinstance(module, nn.Conv2d):
        return module
    if isinstance(module, ConvMlp):
        return module.fc1
    if isinstance(module, nn.Sequential):
        return first_conv(module[0]) if len(module) else None
    return None
